/* gpufleet error codes: one table shared by the library, the API and the CLI.
 * Functions return 0 on success or a negative GPF_E* code. Each code maps to an
 * HTTP status and a stable machine-readable name (see gpf_err_name/gpf_err_http). */
#ifndef GPUFLEET_ERROR_H
#define GPUFLEET_ERROR_H

#define GPF_ERRORS(X)                                                          \
    X(GPF_OK,            0, 200, "ok",             "success")               \
    X(GPF_EINVAL,       -1, 422, "invalid",        "invalid argument")      \
    X(GPF_EMALFORMED,   -2, 400, "malformed",      "malformed request")     \
    X(GPF_ENOTFOUND,    -3, 404, "not_found",      "not found")             \
    X(GPF_EEXIST,       -4, 409, "conflict",       "already exists")        \
    X(GPF_ENOCAPACITY,  -5, 409, "no_capacity",    "no capacity")           \
    X(GPF_EUNAUTH,      -6, 401, "unauthenticated","authentication required") \
    X(GPF_EFORBIDDEN,   -7, 403, "forbidden",      "permission denied")     \
    X(GPF_ETOOLARGE,    -8, 413, "too_large",      "request too large")     \
    X(GPF_EIO,          -9, 500, "io",             "input/output error")    \
    X(GPF_ESTORE,      -10, 500, "store",          "storage error")         \
    X(GPF_EINTERNAL,   -11, 500, "internal",       "internal error")        \
    X(GPF_ESTATE,      -12, 409, "bad_state",      "operation not valid in this state") \
    X(GPF_EUNAVAIL,    -13, 503, "unavailable",    "service unavailable")   \
    X(GPF_ETIMEOUT,    -14, 504, "timeout",        "timed out")             \
    X(GPF_ENOTSUP,     -15, 501, "not_supported",  "not supported")         \
    X(GPF_EMETHOD,     -16, 405, "method_not_allowed", "method not allowed")

enum gpf_err {
#define GPF_ERR_ENUM(sym, val, http, name, text) sym = val,
    GPF_ERRORS(GPF_ERR_ENUM)
#undef GPF_ERR_ENUM
};

/* Stable machine-readable name ("not_found"); "internal" for unknown codes. */
const char *gpf_err_name(int code);
/* Default human text for a code. */
const char *gpf_err_text(int code);
/* HTTP status for a code (500 for unknown codes). */
int gpf_err_http(int code);
/* Reverse of gpf_err_name; GPF_EINTERNAL when the name is unknown. */
int gpf_err_from_name(const char *name);

#endif
