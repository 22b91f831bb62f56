/* `gpufleet serve`: the control plane process — store, engine, HTTP API — and, with
 * --demo, local agents on the built-in demo fleet plus demo SKUs. */
#ifndef GPF_API_SERVE_H
#define GPF_API_SERVE_H

#include <signal.h>

#include "util/config.h"
#include "util/error.h"

typedef struct gpf_serve_config {
    char listen[128];
    long long http_max_connections;
    long long http_max_per_client; /* 0 = unlimited */
    long long http_timeout_s;
    char tls_cert[512];          /* PEM certificate (chain) of the API; "" = plain HTTP */
    char tls_key[512];           /* its PEM private key: not readable by others */
    int insecure_http;           /* plain HTTP on an address that is not loopback */
    char state_dir[512];
    int demo;
    int demo_tls;                /* --demo: HTTPS with a CA and certificate made in state_dir/tls */
    char demo_runtime[16];
    long long demo_ssh_port_base;
    char join_token[128];
    char join_token_file[512];   /* the join token from a file (mode 0600); "" = join_token */
    long long heartbeat_ms;
    long long lost_after_beats;
    long long host_grace_s;
    long long pod_start_timeout_ms;
    char catalog_dir[512];
    char log_level[16];
    char placement_policy[32];
    char store_sync[8];          /* "group" (group commit) or "full" (one fsync per commit) */
    char default_image[512];     /* an OCI layout directory imported as image "default" at start; "" = none */
} gpf_serve_config;

extern const gpf_cfg_opt gpf_serve_options[];

/* What the control plane tells its operator once it listens and (--demo) its agents are
 * started: the command layer prints it (the library prints nothing). The strings are
 * borrowed for the duration of the callback. */
typedef struct gpf_serve_ready {
    const char *url;            /* the API's base URL, "http://127.0.0.1:8470" */
    const char *admin_token;    /* the admin token made at this start (demo: or kept from the first); "" none */
    const char *join_token;     /* the agents' join token made at this start (demo: the demo agents'); "" none */
    const char *state_dir;
    const char *ca_file;        /* the CA clients verify the API with, when serve knows it (demo); "" none */
    const char *tls_pin;        /* the API certificate's pin (sha256//…); "" = plain HTTP */
    int demo;                   /* cfg->demo */
} gpf_serve_ready;
typedef void (*gpf_serve_ready_fn)(const gpf_serve_ready *facts, void *arg);

/* Runs until *stop; self_exe is this binary (demo agents are started from it). With
 * cfg->demo, demo_hosts (NULL-terminated, may be NULL; borrowed) names the hosts of the
 * built-in demo fleet, one local agent each: the caller reads them from the fake GPU
 * backend's fixture, so that the API needs nothing of the agent's modules. ready (may be
 * NULL) is called once, with ready_arg, when the API listens and the demo agents are
 * started, before the loop that runs until *stop. */
int gpf_serve_run(const gpf_serve_config *cfg, const char *const *demo_hosts, volatile sig_atomic_t *stop,
                  const char *self_exe, gpf_serve_ready_fn ready, void *ready_arg, gpf_error *err);

#endif
