/* Standard base64 (RFC 4648 alphabet, '=' padding required), as Solana RPC
 * sends account data and transactions. Thin wrappers over libsodium's
 * constant-time codec (sodium_base64_VARIANT_ORIGINAL). */
#ifndef CBI_B64_H
#define CBI_B64_H

#include <stddef.h>
#include <stdint.h>

/* Decodes inlen characters of padded base64. On success returns 0, stores a
 * new malloc'd buffer in *out (caller frees; non-NULL even for empty input,
 * where *outlen is 0) and the byte count in *outlen. Returns -1 on
 * characters outside the alphabet (whitespace included), bad padding or
 * length, non-zero trailing bits, or out of memory; *out is then NULL. */
int b64_decode(const char *in, size_t inlen, uint8_t **out, size_t *outlen);

/* Decodes into a caller buffer of outsz bytes. Returns 0 and the byte count
 * in *outlen, or -1 on invalid input or when outsz is too small (out is
 * clobbered up to outsz bytes). */
int b64_decode_into(const char *in, size_t inlen, uint8_t *out, size_t outsz, size_t *outlen);

/* Bytes b64_decode_into() may need for inlen characters (upper bound). */
size_t b64_decoded_max(size_t inlen);

/* Encodes n bytes. Returns a new malloc'd NUL-terminated string (caller
 * frees), or NULL on out of memory or an absurd n. */
char *b64_encode(const uint8_t *in, size_t n);

#endif
