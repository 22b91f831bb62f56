/* Random identifiers and secrets, and their one-way hashes (tokens are stored hashed). */
#ifndef GPF_UTIL_SECRET_H
#define GPF_UTIL_SECRET_H

#include <stddef.h>

#include "util/error.h"

/* Writes prefix + nhex random lowercase hex digits (from getrandom) into out.
 * Returns 0, or GPF_EINVAL when out is too small. */
int gpf_random_id(const char *prefix, int nhex, char *out, size_t size);
/* SHA-256 of s as 64 lowercase hex digits + NUL (out must hold 65 bytes). */
void gpf_sha256_hex(const char *s, char out[65]);
/* The same for n bytes at data. */
void gpf_sha256_hex_buf(const void *data, size_t n, char out[65]);
/* Reads a secret (a token) from the file at path into out (size bytes, NUL included),
 * surrounding white space removed. Refused (GPF_EFORBIDDEN, "chmod 600" in the message)
 * when others may read or write it or its group may write it; *group_readable (may be
 * NULL) is set when its group may read it, for the caller to warn. GPF_ENOTFOUND when it
 * does not exist, GPF_EINVAL when it is empty, not a regular file or longer than size-1,
 * GPF_EIO otherwise; messages start with the path. out is "" on failure. */
int gpf_secret_file_read(const char *path, char *out, size_t size, int *group_readable, gpf_error *err);
/* The one rule for files holding secrets (tokens, private keys), given the file's st_mode:
 * GPF_EFORBIDDEN ("<path>: <what> others may read or write (mode …): chmod 600 it") when
 * others may read or write it or its group may write it; else 0, with *group_readable (may
 * be NULL) set when its group may read it (the caller warns: Debian's ssl-cert convention). */
int gpf_secret_mode_check(const char *path, unsigned mode, const char *what, int *group_readable, gpf_error *err);
/* A secret option that has a file form: value (the option --<flag> or its environment
 * variable GPUFLEET_<FLAG>) or the file named by --<flag>-file (gpf_secret_file_read; a
 * group-readable file is logged as a warning), not both (GPF_EINVAL). out gets "" when
 * neither is given. */
int gpf_secret_option(const char *flag, const char *value, const char *file, char *out, size_t size,
                      gpf_error *err);
/* Constant-time comparison of two NUL-terminated strings of equal expected length. */
int gpf_secret_equal(const char *a, const char *b);

#endif
