/* base58 (Bitcoin alphabet) for 32-byte pubkeys and 64-byte signatures,
 * with fixed-size limb arithmetic (no bignum loop over the output). */
#ifndef CBI_BASE58_H
#define CBI_BASE58_H

#include <stddef.h>
#include <stdint.h>

#define BASE58_ENCODED_32_MAX 44
#define BASE58_ENCODED_64_MAX 88
#define BASE58_ENCODED_32_SZ (BASE58_ENCODED_32_MAX + 1) /* with NUL */
#define BASE58_ENCODED_64_SZ (BASE58_ENCODED_64_MAX + 1)

/* Encodes 32 bytes into out (BASE58_ENCODED_32_SZ bytes), NUL-terminated.
 * Returns the length (32..44; fewer for leading zero bytes: each zero byte
 * is one leading '1'). */
size_t base58_encode_32(const uint8_t in[32], char out[BASE58_ENCODED_32_SZ]);
size_t base58_encode_64(const uint8_t in[64], char out[BASE58_ENCODED_64_SZ]);

/* Decodes exactly 32 (64) bytes from a NUL-terminated string. Returns 0,
 * or -1 on a character outside the alphabet, a value that does not fit,
 * or one that does not decode to exactly that many bytes; out is
 * unspecified on failure. */
int base58_decode_32(const char *in, uint8_t out[32]);
int base58_decode_64(const char *in, uint8_t out[64]);

/* The one base58 text rule for keys on the wire: 1 when s (NUL-terminated,
 * may be NULL) is the base58 text of exactly nbytes bytes (32: a pubkey,
 * 64: a signature), that is base58_decode_32/64 accepts it; else 0 (also
 * for any other nbytes). Every check of a pubkey or signature string uses
 * this, so a string that passes here also decodes later. */
int base58_text_ok(const char *s, size_t nbytes);

/* Plain reference implementations (bignum long division), any length, for
 * tests. encode returns the length written (out must hold 2*n+1 bytes);
 * decode returns the byte count or -1, writing at most outsz bytes. */
size_t base58_encode_ref(const uint8_t *in, size_t n, char *out);
int base58_decode_ref(const char *in, uint8_t *out, size_t outsz);

#endif
