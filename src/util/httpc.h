/* Small HTTP/JSON client over libcurl, used by the CLI and the agent.
 * A gpf_httpc is used by one thread at a time. */
#ifndef GPF_UTIL_HTTPC_H
#define GPF_UTIL_HTTPC_H

#include <jansson.h>

#include "util/error.h"

typedef struct gpf_httpc gpf_httpc;

/* base_url like "http://127.0.0.1:8470"; token may be NULL. *out owned by caller. */
int gpf_httpc_new(const char *base_url, const char *token, gpf_httpc **out, gpf_error *err);
void gpf_httpc_free(gpf_httpc *c);
void gpf_httpc_set_token(gpf_httpc *c, const char *token);
void gpf_httpc_set_timeout_ms(gpf_httpc *c, long ms); /* whole-request timeout; default 30000 */

/* How a client checks the server behind an https:// URL. The certificate is always
 * verified (chain and host name); these only say against what. */
typedef struct gpf_httpc_tls {
    const char *ca_file;  /* PEM file of the CA(s) to trust; NULL or "" = the system's store */
    const char *pin;      /* "sha256//BASE64[;sha256//BASE64...]": the server's public key must be
                           * one of these as well (curl's pinned public key); NULL or "" = none */
} gpf_httpc_tls;

/* Sets (copies) how c verifies its https server. GPF_EINVAL when a CA file or pin is given
 * for an http:// URL (nothing to verify: refused rather than ignored) or a pin is not
 * sha256//…; GPF_ENOTFOUND when ca_file cannot be read. tls may be NULL (the defaults). */
int gpf_httpc_set_tls(gpf_httpc *c, const gpf_httpc_tls *tls, gpf_error *err);

/* Sends method path (e.g. "/v1/pods") with body (may be NULL; not stolen).
 * On a 2xx answer returns 0, *status the HTTP status and *resp the parsed JSON body
 * (NULL for an empty body; caller json_decref's). On an error answer returns the
 * GPF_E* code from the body's error.code with err->msg = the server's message.
 * On transport failure returns GPF_EUNAVAIL ("cannot reach http://...: ..."), also when
 * the server's certificate fails verification or its pin (the message says which). */
int gpf_httpc_request(gpf_httpc *c, const char *method, const char *path, json_t *body,
                      int *status, json_t **resp, gpf_error *err);
/* Raw GET returning the body as text (for /metrics). *text owned by caller. */
int gpf_httpc_get_text(gpf_httpc *c, const char *path, char **text, int *status, gpf_error *err);

/* GET path with the body written to fd (not buffered: blobs of any size), at most
 * max_bytes (else GPF_ETOOLARGE), within timeout_ms (0: the client's). 0 on a 2xx answer
 * (*bytes, may be NULL: how many were written); an error answer's status maps to its
 * GPF_E* code (GPF_ENOTFOUND for 404), transport failure GPF_EUNAVAIL. */
int gpf_httpc_download(gpf_httpc *c, const char *path, int fd, long long max_bytes, long timeout_ms,
                       long long *bytes, gpf_error *err);

#endif
