/* Random identifiers and secrets, and their one-way hashes (tokens are stored hashed). */
#ifndef GPF_UTIL_SECRET_H
#define GPF_UTIL_SECRET_H

#include <stddef.h>

/* Writes prefix + nhex random lowercase hex digits (from getrandom) into out.
 * Returns 0, or GPF_EINVAL when out is too small. */
int gpf_random_id(const char *prefix, int nhex, char *out, size_t size);
/* SHA-256 of s as 64 lowercase hex digits + NUL (out must hold 65 bytes). */
void gpf_sha256_hex(const char *s, char out[65]);
/* The same for n bytes at data. */
void gpf_sha256_hex_buf(const void *data, size_t n, char out[65]);
/* Constant-time comparison of two NUL-terminated strings of equal expected length. */
int gpf_secret_equal(const char *a, const char *b);

#endif
