/* JSON in and out with exact 64-bit integers.
 *
 * jansson rejects integer literals above INT64_MAX and fails the whole
 * document; real RPC responses carry them ("rentEpoch":
 * 18446744073709551615). jsonx_loads() first rewrites every integer literal
 * that does not fit json_int_t into a JSON string of the same digits (only
 * outside strings), then parses. jsonx_get_u64() and friends read a u64
 * from either a JSON integer or such a digit string, exactly: no double. */
#ifndef CBI_JSONX_H
#define CBI_JSONX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parses len bytes of JSON text. On failure returns NULL and writes
 * "line L column C: message" into err. Nesting is bounded by jansson
 * (2048 levels); documents over 256 MiB are refused. */
json_t *jsonx_loads(const char *text, size_t len, char *err, size_t errsz);

/* The one u64 rule for text: p[0..n) is a JSON integer literal >= 0, that
 * is 1..20 decimal digits without a sign, without leading zeros ("0" is
 * fine, "007" is not: JSON forbids them) and <= UINT64_MAX. Returns 0 with
 * *out set, or -1 (*out untouched). Used for raw JSON text and for the
 * digit strings jsonx_loads() makes of big integers alike. */
int jsonx_u64_text(const char *p, size_t n, uint64_t *out);

/* Reads an unsigned 64-bit value from a JSON integer >= 0 or a string that
 * jsonx_u64_text() accepts. Returns 0, or -1 (NULL, wrong type, negative,
 * overflow, not digits, leading zeros). jsonx_i64 reads an optional '-'
 * then the same digits. */
int jsonx_u64(const json_t *v, uint64_t *out);
int jsonx_i64(const json_t *v, int64_t *out);

/* Object member helpers: 0 on success, -1 if missing or wrong type. */
int jsonx_get_u64(const json_t *obj, const char *key, uint64_t *out);
int jsonx_get_i64(const json_t *obj, const char *key, int64_t *out);
const char *jsonx_get_str(const json_t *obj, const char *key); /* borrowed or NULL */

/* Exact decimal strings for 128-bit values (decode output). buf >= 41. */
char *jsonx_u128_str(unsigned __int128 v, char *buf, size_t bufsz);
char *jsonx_i128_str(__int128 v, char *buf, size_t bufsz);

#endif
