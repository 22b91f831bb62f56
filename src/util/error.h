/* Error object: a code from include/gpufleet/error.h plus a human message.
 * Library code fills a caller-owned gpf_error (may be NULL) and returns the code. */
#ifndef GPF_UTIL_ERROR_H
#define GPF_UTIL_ERROR_H

#include "gpufleet/error.h"

typedef struct gpf_error {
    int code;          /* 0 or a GPF_E* code */
    char msg[256];     /* human message, NUL-terminated, may be empty */
} gpf_error;

/* Sets err (when non-NULL) and returns code, so callers can `return gpf_error_set(...)`. */
int gpf_error_set(gpf_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void gpf_error_clear(gpf_error *err);
/* The message if set, else the code's default text. Never NULL. */
const char *gpf_error_msg(const gpf_error *err);

#endif
