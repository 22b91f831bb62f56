/* The HTTP/JSON API server (libmicrohttpd, one thread per connection so agent and
 * pod long polls can block). Handlers call the engine, which owns all state. */
#ifndef GPF_API_API_H
#define GPF_API_API_H

#include "engine/engine.h"
#include "util/error.h"

typedef struct gpf_api gpf_api;

typedef struct gpf_api_config {
    gpf_engine *engine;          /* borrowed; must outlive the server */
    const char *bind_address;    /* "127.0.0.1", "0.0.0.0", "::1" */
    int port;                    /* 0 = any free port (see gpf_api_port) */
    const char *version;         /* shown by /healthz */
    int max_connections;         /* all clients together; 0 = 4096 (clipped to RLIMIT_NOFILE) */
    int max_per_client;          /* one client address; 0 = 64; -1 = unlimited. 127.0.0.1 and ::1 are exempt */
    int timeout_s;               /* idle limit while reading a request or between requests; 0 = 10 */
    const char *tls_cert_pem;    /* HTTPS: the certificate (chain) in PEM; NULL = plain HTTP. Borrowed */
    const char *tls_key_pem;     /* HTTPS: its private key in PEM (with tls_cert_pem). Borrowed, for the call */
} gpf_api_config;

/* Listens and serves; GPF_ENOTSUP when TLS is asked for and libmicrohttpd was built
 * without it, GPF_EINVAL for a bad address, certificate or key, GPF_EIO when it cannot
 * listen. */
int gpf_api_start(const gpf_api_config *cfg, gpf_api **out, gpf_error *err);
int gpf_api_port(const gpf_api *api);
/* Stops accepting, wakes long polls, joins connection threads. Accepts NULL. */
void gpf_api_stop(gpf_api *api);

#define GPF_API_MAX_BODY (64 * 1024)

#endif
