/* API internals shared by server.c and the handler files. */
#ifndef GPF_API_INT_H
#define GPF_API_INT_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdint.h>

#include "api/api.h"
#include "codec/codec.h"

typedef struct api_req {
    struct MHD_Connection *conn;
    gpf_engine *engine;
    const char *method;
    const char *path;
    const char *params[4];       /* values of {} segments, in order */
    json_t *body;                /* parsed body (NULL when empty) */
    gpf_principal who;
    const char *bearer;          /* raw bearer token (agent registration uses the join token) */
    const char *version;
    struct gpf_api *api;         /* the server (its connection counters for /metrics) */
} api_req;

typedef struct api_resp {
    int status;
    json_t *json;                /* owned; NULL for no body */
    char *text;                  /* owned; alternative plain-text body */
    const char *content_type;
    int has_file;                /* answer with the file file_fd (owned, streamed; MHD closes it) */
    int file_fd;
    uint64_t file_size;
    char allow[48];              /* 405: the path's methods, sent as the Allow header ("" none) */
} api_resp;

/* Why a raw request target (path and query as the client sent them, before percent-decoding)
 * is refused, as a static message; NULL when it is acceptable. Refused: a control character,
 * raw or percent-encoded (%00 included: a decoded NUL would cut an id short), and an encoded
 * '/' (%2F) in the path, which would move a segment boundary. target must not be NULL. */
const char *api_target_problem(const char *target);

/* Fills resp with an error document; returns code for convenience. */
int api_error(api_resp *r, int code, const char *msg);
int api_error_from(api_resp *r, const gpf_error *err);
void api_json(api_resp *r, int status, json_t *j); /* steals j */
/* Answers the JSON text in b (written with util/jsonw.h; consumed) as api_json answers a tree. */
void api_json_text(api_resp *r, int status, gpf_buf *b);
const char *api_query(api_req *q, const char *key); /* NULL when absent */
/* Parses an integer query parameter within [min,max]; def when absent. -1 + error on bad. */
int api_query_int(api_req *q, api_resp *r, const char *key, long long min, long long max, long long def,
                  long long *out);

/* -1 (answered 400) when the request has no JSON object body. */
int api_need_body(api_req *q, api_resp *r);
/* -1 (answered 404 "no <what> '<name>'") when the path's first {} is not a valid name. */
int api_name_param(api_req *q, api_resp *r, const char *what);

typedef void (*api_handler)(api_req *q, api_resp *r);

/* handlers.c */
void h_healthz(api_req *q, api_resp *r);
void h_metrics(api_req *q, api_resp *r);
/* Appends the server's connection counters (rejected, timed out) in Prometheus text. */
void api_conn_metrics_render(const struct gpf_api *api, gpf_buf *b);
void h_whoami(api_req *q, api_resp *r);
void h_hosts(api_req *q, api_resp *r);
void h_host(api_req *q, api_resp *r);
void h_host_override(api_req *q, api_resp *r);
void h_events(api_req *q, api_resp *r);
void h_gpus(api_req *q, api_resp *r);
void h_skus(api_req *q, api_resp *r);
void h_sku_create(api_req *q, api_resp *r);
void h_sku(api_req *q, api_resp *r);
void h_sku_patch(api_req *q, api_resp *r);
void h_sku_delete(api_req *q, api_resp *r);
void h_pods(api_req *q, api_resp *r);
void h_pod_launch(api_req *q, api_resp *r);
void h_pod(api_req *q, api_resp *r);
void h_pod_stop(api_req *q, api_resp *r);
void h_usage(api_req *q, api_resp *r);
void h_users(api_req *q, api_resp *r);
void h_user_create(api_req *q, api_resp *r);
void h_user(api_req *q, api_resp *r);
void h_user_patch(api_req *q, api_resp *r);
void h_token_create(api_req *q, api_resp *r);
/* handlers_tokens.c */
void h_tokens(api_req *q, api_resp *r);
void h_token_revoke(api_req *q, api_resp *r);
void h_user_delete(api_req *q, api_resp *r);
void h_portal(api_req *q, api_resp *r);
/* handlers_images.c */
void h_images(api_req *q, api_resp *r);
void h_image_import(api_req *q, api_resp *r);
void h_image(api_req *q, api_resp *r);
void h_image_delete(api_req *q, api_resp *r);
void h_agent_blob(api_req *q, api_resp *r);
/* handlers_join.c */
void h_join_token_create(api_req *q, api_resp *r);
void h_join_tokens(api_req *q, api_resp *r);
void h_join_token_revoke(api_req *q, api_resp *r);
void h_host_rekey(api_req *q, api_resp *r);
/* handlers_agent.c */
void h_agent_register(api_req *q, api_resp *r);
void h_agent_heartbeat(api_req *q, api_resp *r);
void h_agent_commands(api_req *q, api_resp *r);
void h_agent_pod_status(api_req *q, api_resp *r);
void h_agent_pod_status_batch(api_req *q, api_resp *r);

#endif
