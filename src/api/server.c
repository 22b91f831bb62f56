/* HTTP server glue: libmicrohttpd set-up, request hygiene (the raw request target, framing
 * headers, the body limit decided before "100 Continue"), body collection with a size
 * limit, routing (HEAD wherever GET), authentication, and JSON responses. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api_int.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/jsonw.h"
#include "util/log.h"
#include "util/timeutil.h"

/* Connections a client address holds (loopback's 127.0.0.1 and ::1 not counted). */
typedef struct client_count {
    unsigned char addr[16];
    int family;
    int count;
} client_count;

struct gpf_api {
    struct MHD_Daemon *mhd;
    gpf_engine *engine;
    int port;
    char version[32];
    int per_client;              /* most connections one address may hold; 0 = unlimited */
    unsigned timeout_s;
    pthread_mutex_t lock;        /* guards clients */
    client_count *clients;
    size_t nclients, capclients;
    atomic_ullong rejected_per_client;
    atomic_ullong rejected_global;
    atomic_ullong timed_out;
    atomic_ullong incomplete;
    atomic_ullong tls_failed;
    char *tls_cert;              /* copies MHD reads from (HTTPS); NULL = plain HTTP */
    char *tls_key;               /* wiped when freed */
};

enum auth { AUTH_NONE, AUTH_ANY, AUTH_JOIN };

typedef struct route {
    const char *method;
    const char *pattern;         /* segments; "{}" matches one segment */
    api_handler fn;
    enum auth auth;
} route;

static const route routes[] = {
    {"GET", "/healthz", h_healthz, AUTH_NONE},
    {"GET", "/", h_portal, AUTH_NONE},
    {"GET", "/index.html", h_portal, AUTH_NONE},
    {"GET", "/metrics", h_metrics, AUTH_ANY},
    {"GET", "/v1/whoami", h_whoami, AUTH_ANY},
    {"GET", "/v1/hosts", h_hosts, AUTH_ANY},
    {"GET", "/v1/hosts/{}", h_host, AUTH_ANY},
    {"POST", "/v1/hosts/{}/override", h_host_override, AUTH_ANY},
    {"DELETE", "/v1/hosts/{}/override", h_host_override, AUTH_ANY},
    {"POST", "/v1/hosts/{}/rekey", h_host_rekey, AUTH_ANY},
    {"GET", "/v1/join-tokens", h_join_tokens, AUTH_ANY},
    {"POST", "/v1/join-tokens", h_join_token_create, AUTH_ANY},
    {"DELETE", "/v1/join-tokens/{}", h_join_token_revoke, AUTH_ANY},
    {"GET", "/v1/events", h_events, AUTH_ANY},
    {"GET", "/v1/gpus", h_gpus, AUTH_ANY},
    {"GET", "/v1/skus", h_skus, AUTH_ANY},
    {"POST", "/v1/skus", h_sku_create, AUTH_ANY},
    {"GET", "/v1/skus/{}", h_sku, AUTH_ANY},
    {"PATCH", "/v1/skus/{}", h_sku_patch, AUTH_ANY},
    {"DELETE", "/v1/skus/{}", h_sku_delete, AUTH_ANY},
    {"GET", "/v1/pods", h_pods, AUTH_ANY},
    {"POST", "/v1/pods", h_pod_launch, AUTH_ANY},
    {"GET", "/v1/pods/{}", h_pod, AUTH_ANY},
    {"POST", "/v1/pods/{}/stop", h_pod_stop, AUTH_ANY},
    {"GET", "/v1/usage", h_usage, AUTH_ANY},
    {"GET", "/v1/users", h_users, AUTH_ANY},
    {"POST", "/v1/users", h_user_create, AUTH_ANY},
    {"GET", "/v1/users/{}", h_user, AUTH_ANY},
    {"PATCH", "/v1/users/{}", h_user_patch, AUTH_ANY},
    {"DELETE", "/v1/users/{}", h_user_delete, AUTH_ANY},
    {"POST", "/v1/users/{}/tokens", h_token_create, AUTH_ANY},
    {"GET", "/v1/tokens", h_tokens, AUTH_ANY},
    {"DELETE", "/v1/tokens/{}", h_token_revoke, AUTH_ANY},
    {"GET", "/v1/images", h_images, AUTH_ANY},
    {"POST", "/v1/images", h_image_import, AUTH_ANY},
    {"GET", "/v1/images/{}", h_image, AUTH_ANY},
    {"DELETE", "/v1/images/{}", h_image_delete, AUTH_ANY},
    {"POST", "/v1/agent/register", h_agent_register, AUTH_JOIN},
    {"POST", "/v1/agent/heartbeat", h_agent_heartbeat, AUTH_ANY},
    {"GET", "/v1/agent/commands", h_agent_commands, AUTH_ANY},
    {"POST", "/v1/agent/pods/{}/status", h_agent_pod_status, AUTH_ANY},
    {"POST", "/v1/agent/pods/status", h_agent_pod_status_batch, AUTH_ANY},
    {"GET", "/v1/agent/blobs/{}", h_agent_blob, AUTH_ANY},
};

/* Per-request state across MHD's access-handler calls: made by on_target (MHD's URI log
 * callback, once per request, before the headers are read), freed by on_completed. */
typedef struct conn_ctx {
    gpf_buf body;
    int started;                 /* the access handler has seen this request */
    int answered;                /* answered from the request line and headers: the body is discarded */
    int too_large;
    const char *target_problem;  /* static text: why the raw request target is refused; NULL = fine */
} conn_ctx;

/* ---- helpers for handlers ----------------------------------------------- */

void api_json(api_resp *r, int status, json_t *j)
{
    if (r->json)
        json_decref(r->json);
    r->status = status;
    r->json = j;
}

void api_json_text(api_resp *r, int status, gpf_buf *b)
{
    api_json(r, status, NULL);
    gpf_free(r->text);
    gpf_buf_putc(b, '\n');
    r->text = gpf_buf_steal(b);
    r->content_type = NULL; /* application/json */
}

int api_error(api_resp *r, int code, const char *msg)
{
    api_json(r, gpf_err_http(code), gpf_json_error(code, msg && msg[0] ? msg : gpf_err_text(code)));
    return code;
}

int api_error_from(api_resp *r, const gpf_error *err)
{
    return api_error(r, err->code ? err->code : GPF_EINTERNAL, gpf_error_msg(err));
}

const char *api_query(api_req *q, const char *key)
{
    return MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, key);
}

int api_query_int(api_req *q, api_resp *r, const char *key, long long min, long long max, long long def,
                  long long *out)
{
    const char *v = api_query(q, key);
    *out = def;
    if (!v)
        return 0;
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || !end || *end || end == v || x < min || x > max) {
        char msg[160];
        snprintf(msg, sizeof msg, "query parameter %s must be an integer in %lld..%lld", key, min, max);
        api_error(r, GPF_EINVAL, msg);
        return -1;
    }
    *out = x;
    return 0;
}

/* ---- request hygiene ------------------------------------------------------- */

static unsigned hex_value(char c)
{
    return isdigit((unsigned char)c) ? (unsigned)(c - '0') : (unsigned)(tolower((unsigned char)c) - 'a' + 10);
}

const char *api_target_problem(const char *target)
{
    int in_query = 0;
    for (const char *s = target; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            return "the request target holds a control character";
        if (c == '?')
            in_query = 1;
        if (c != '%' || !isxdigit((unsigned char)s[1]) || !isxdigit((unsigned char)s[2]))
            continue;
        unsigned v = hex_value(s[1]) * 16 + hex_value(s[2]);
        if (v == 0)
            return "the request target holds an encoded NUL (%00)";
        if (v < 0x20 || v == 0x7f)
            return "the request target holds an encoded control character";
        if (v == '/' && !in_query)
            return "a path segment holds an encoded '/' (%2F)";
        s += 2;
    }
    return NULL;
}

/* MHD's URI log callback: called once per request with the raw request target (before MHD
 * decodes it, which would cut "h100%00x" to "h100"); what it returns is the request's
 * *con_cls. */
static void *on_target(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    conn_ctx *ctx = GPF_NEW(conn_ctx);
    ctx->target_problem = uri ? api_target_problem(uri) : NULL;
    return ctx;
}

typedef struct framing {
    unsigned content_length;     /* Content-Length header lines */
    unsigned transfer_encoding;  /* Transfer-Encoding header lines */
} framing;

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    (void)value;
    framing *n = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        n->content_length++;
    else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
        n->transfer_encoding++;
    return MHD_YES;
}

/* What the request line and headers alone refuse, decided on the access handler's first
 * call, before MHD reads any of the body or sends "100 Continue" (it sends none once a
 * response is queued). Returns 1 with r filled when the request is refused, else 0. */
static int refuse_early(struct MHD_Connection *conn, conn_ctx *ctx, api_resp *r)
{
    framing n = {0, 0};
    if (ctx->target_problem) {
        api_error(r, GPF_EMALFORMED, ctx->target_problem);
        return 1;
    }
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_framing, &n);
    if (n.content_length > 1) {
        api_error(r, GPF_EMALFORMED, "more than one Content-Length header");
        return 1;
    }
    if (n.content_length && n.transfer_encoding) {
        api_error(r, GPF_EMALFORMED, "both Content-Length and Transfer-Encoding");
        return 1;
    }
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > GPF_API_MAX_BODY) {
        api_error(r, GPF_ETOOLARGE, "request body is larger than 64 KiB");
        return 1;
    }
    return 0;
}

/* ---- routing ----------------------------------------------------------- */

/* Matches path against pattern; fills params. Returns 1 on match. */
static int match(const char *pattern, const char *path, const char *params[4], char *scratch, size_t ssz)
{
    int np = 0;
    size_t used = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (p[0] == '{' && p[1] == '}') {
            const char *end = strchr(s, '/');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            if (len == 0 || np >= 4 || used + len + 1 > ssz)
                return 0;
            memcpy(scratch + used, s, len);
            scratch[used + len] = '\0';
            params[np++] = scratch + used;
            used += len + 1;
            s += len;
            p += 2;
        } else {
            if (*p != *s)
                return 0;
            p++;
            s++;
        }
    }
    return *p == '\0' && *s == '\0';
}

static const char *bearer_of(struct MHD_Connection *conn)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncmp(h, "Bearer ", 7) != 0)
        return NULL;
    return h + 7;
}

static void dispatch(gpf_api *api, struct MHD_Connection *conn, const char *method, const char *url,
                     conn_ctx *ctx, api_resp *r)
{
    char scratch[512];
    api_req q;
    memset(&q, 0, sizeof q);
    q.conn = conn;
    q.engine = api->engine;
    q.api = api;
    /* HEAD is GET whose body MHD leaves out (same status and headers) */
    q.method = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0 ? MHD_HTTP_METHOD_GET : method;
    q.path = url;
    q.version = api->version;
    const route *rt = NULL;
    gpf_buf allow = {0};
    for (size_t i = 0; i < sizeof routes / sizeof routes[0] && !rt; i++) {
        const char *params[4] = {0};
        if (!match(routes[i].pattern, url, params, scratch, sizeof scratch))
            continue;
        if (strcmp(routes[i].method, q.method) == 0) {
            rt = &routes[i];
            memcpy(q.params, params, sizeof params);
        } else {
            gpf_buf_printf(&allow, "%s%s%s", allow.len ? ", " : "", routes[i].method,
                           strcmp(routes[i].method, MHD_HTTP_METHOD_GET) == 0 ? ", HEAD" : "");
        }
    }
    if (!rt && allow.len) {
        api_error(r, GPF_EMETHOD, "method not allowed on this path");
        gpf_strlcpy(r->allow, gpf_buf_cstr(&allow), sizeof r->allow);
    } else if (!rt) {
        api_error(r, GPF_ENOTFOUND, "no such endpoint (see docs/api.md)");
    }
    gpf_buf_clear(&allow);
    if (!rt)
        return;
    if (ctx->too_large) {
        api_error(r, GPF_ETOOLARGE, "request body is larger than 64 KiB");
        return;
    }
    q.bearer = bearer_of(conn);
    if (rt->auth == AUTH_ANY) {
        gpf_error err = {0};
        if (gpf_engine_authenticate(api->engine, q.bearer, &q.who, &err) != 0) {
            api_error_from(r, &err);
            return;
        }
    }
    if (ctx->body.len > 0) {
        json_error_t jerr;
        q.body = json_loadb(ctx->body.data, ctx->body.len, JSON_REJECT_DUPLICATES, &jerr);
        if (!q.body) {
            char msg[256];
            snprintf(msg, sizeof msg, "body is not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                     jerr.column);
            api_error(r, GPF_EMALFORMED, msg);
            return;
        }
        if (!json_is_object(q.body)) {
            json_decref(q.body);
            api_error(r, GPF_EMALFORMED, "body must be a JSON object");
            return;
        }
    }
    rt->fn(&q, r);
    json_decref(q.body);
}

/* A file answer, streamed from its descriptor (never read into memory). */
static enum MHD_Result send_file(struct MHD_Connection *conn, api_resp *r)
{
    struct MHD_Response *resp = MHD_create_response_from_fd64(r->file_size, r->file_fd);
    r->has_file = 0; /* MHD owns the descriptor now, or it is closed below */
    if (!resp) {
        close(r->file_fd);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type ? r->content_type : "application/octet-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* The answer's text: j in compact JSON and a newline, written in one buffer (jansson's
 * json_dumps only for a document jsonw leaves to it); its length in *len. */
static char *json_text(const json_t *j, size_t *len)
{
    gpf_buf b = {0};
    if (gpf_jsonw_tree(&b, j) != 0) {
        char *text = json_dumps(j, JSON_COMPACT);
        gpf_buf_reset(&b);
        gpf_buf_puts(&b, text ? text : "{}");
        free(text);
    }
    gpf_buf_putc(&b, '\n');
    *len = b.len;
    return gpf_buf_steal(&b);
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, api_resp *r)
{
    if (r->has_file && !r->json && !r->text)
        return send_file(conn, r);
    char *text = NULL;
    size_t len = 0;
    const char *ctype = r->content_type ? r->content_type : "application/json";
    if (r->json) {
        text = json_text(r->json, &len);
    } else if (r->text) {
        text = r->text;
        r->text = NULL;
        len = strlen(text);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, text ? text : (char *)"", text ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        gpf_free(text);
        return MHD_NO;
    }
    if (len || r->status != 204)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (r->allow[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Queues r (consumed) as the answer to the request, and logs it. */
static enum MHD_Result answer(struct MHD_Connection *conn, const char *method, const char *url, api_resp *r,
                              int64_t t0)
{
    if (!r->json && !r->text && !r->has_file && r->status != 204)
        api_error(r, GPF_EINTERNAL, "handler produced no response");
    int status = r->status;
    enum MHD_Result ret = send_resp(conn, r);
    if (r->has_file) /* an error answer replaced the file */
        close(r->file_fd);
    json_decref(r->json);
    gpf_free(r->text);
    GPF_DEBUG("api", "method=%s path=%s status=%d us=%lld", method, url, status, (long long)(gpf_mono_us() - t0));
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    gpf_api *api = cls;
    conn_ctx *ctx = *con_cls; /* made by on_target */
    int64_t t0 = gpf_mono_us();
    api_resp r = {0};
    r.status = 500;
    if (!ctx)
        return MHD_NO;
    if (ctx->answered) { /* the rest of a body MHD still reads after an early answer */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!ctx->started) {
        ctx->started = 1;
        if (!refuse_early(conn, ctx, &r))
            return MHD_YES;
        ctx->answered = 1;
        return answer(conn, method, url, &r, t0);
    }
    if (*upload_data_size) {
        if (!ctx->too_large && ctx->body.len + *upload_data_size <= GPF_API_MAX_BODY)
            gpf_buf_append(&ctx->body, upload_data, *upload_data_size);
        else
            ctx->too_large = 1;
        *upload_data_size = 0;
        return MHD_YES;
    }
    dispatch(api, conn, method, url, ctx, &r);
    /* a long poll's wait inside the handler is not the client's idleness: restart the clock
     * (MHD restarts it when the timeout goes from 0 to a value) */
    MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, api->timeout_s);
    return answer(conn, method, url, &r, t0);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    gpf_api *api = cls;
    (void)conn;
    if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED)
        atomic_fetch_add(&api->timed_out, 1);
    conn_ctx *ctx = *con_cls;
    if (ctx) {
        gpf_buf_clear(&ctx->body);
        gpf_free(ctx);
        *con_cls = NULL;
    }
}

/* ---- connection limits ------------------------------------------------------- */

/* The address as a key; 0 for loopback's 127.0.0.1 and ::1 (the demo's agents and the
 * local CLI share it), which no per-client limit applies to. */
static int client_key(const struct sockaddr *sa, unsigned char key[16], int *family)
{
    static const unsigned char v6_loop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const unsigned char v4_loop[4] = {127, 0, 0, 1};
    memset(key, 0, 16);
    if (!sa)
        return 0;
    if (sa->sa_family == AF_INET) {
        memcpy(key, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        *family = AF_INET;
        return memcmp(key, v4_loop, 4) != 0;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        *family = AF_INET6;
        if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)key)) { /* ::ffff:a.b.c.d is a.b.c.d */
            memmove(key, key + 12, 4);
            memset(key + 4, 0, 12);
            *family = AF_INET;
            return memcmp(key, v4_loop, 4) != 0;
        }
        return memcmp(key, v6_loop, 16) != 0;
    }
    return 0;
}

static client_count *client_find(gpf_api *api, const unsigned char key[16], int family)
{
    for (size_t i = 0; i < api->nclients; i++)
        if (api->clients[i].family == family && memcmp(api->clients[i].addr, key, 16) == 0)
            return &api->clients[i];
    return NULL;
}

/* MHD's accept policy: refuses a client address that already holds per_client connections.
 * Runs on the listening thread, like the STARTED notification that counts the connection. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    gpf_api *api = cls;
    unsigned char key[16];
    int family = 0;
    (void)addrlen;
    if (api->per_client <= 0 || !client_key(addr, key, &family))
        return MHD_YES;
    pthread_mutex_lock(&api->lock);
    client_count *c = client_find(api, key, family);
    int full = c && c->count >= api->per_client;
    pthread_mutex_unlock(&api->lock);
    if (full)
        atomic_fetch_add(&api->rejected_per_client, 1);
    return full ? MHD_NO : MHD_YES;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    gpf_api *api = cls;
    unsigned char key[16];
    int family = 0;
    (void)socket_context;
    if (api->per_client <= 0)
        return;
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!info || !client_key(info->client_addr, key, &family))
        return;
    pthread_mutex_lock(&api->lock);
    client_count *c = client_find(api, key, family);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        if (!c) {
            if (api->nclients == api->capclients) {
                api->capclients = api->capclients ? api->capclients * 2 : 64;
                api->clients = gpf_reallocarray(api->clients, api->capclients, sizeof *api->clients);
            }
            c = &api->clients[api->nclients++];
            memcpy(c->addr, key, 16);
            c->family = family;
            c->count = 0;
        }
        c->count++;
    } else if (c && --c->count <= 0) {
        *c = api->clients[--api->nclients];
    }
    pthread_mutex_unlock(&api->lock);
}

void api_conn_metrics_render(const struct gpf_api *api, gpf_buf *b)
{
    if (!api)
        return;
    gpf_buf_printf(b,
                   "# HELP gpufleet_http_connections_rejected_total Connections refused before a request was read.\n"
                   "# TYPE gpufleet_http_connections_rejected_total counter\n"
                   "gpufleet_http_connections_rejected_total{reason=\"per_client_limit\"} %llu\n"
                   "gpufleet_http_connections_rejected_total{reason=\"global_limit\"} %llu\n"
                   "# HELP gpufleet_http_connections_timed_out_total Connections closed for idling mid-request.\n"
                   "# TYPE gpufleet_http_connections_timed_out_total counter\n"
                   "gpufleet_http_connections_timed_out_total %llu\n"
                   "# HELP gpufleet_http_connections_incomplete_total Connections the client closed mid-request.\n"
                   "# TYPE gpufleet_http_connections_incomplete_total counter\n"
                   "gpufleet_http_connections_incomplete_total %llu\n"
                   "# HELP gpufleet_http_tls_handshakes_failed_total TLS handshakes that failed "
                   "(plain HTTP, an untrusting client).\n"
                   "# TYPE gpufleet_http_tls_handshakes_failed_total counter\n"
                   "gpufleet_http_tls_handshakes_failed_total %llu\n",
                   (unsigned long long)atomic_load(&((gpf_api *)api)->rejected_per_client),
                   (unsigned long long)atomic_load(&((gpf_api *)api)->rejected_global),
                   (unsigned long long)atomic_load(&((gpf_api *)api)->timed_out),
                   (unsigned long long)atomic_load(&((gpf_api *)api)->incomplete),
                   (unsigned long long)atomic_load(&((gpf_api *)api)->tls_failed));
}

/* MHD's own messages. A connection refused at the global limit, closed by its client
 * mid-request, or failing its TLS handshake (MHD's one message for every way a handshake
 * fails) is noise an attacker makes at will: counted (in /metrics), logged at debug level
 * only. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    gpf_api *api = cls;
    gpf_buf b = {0};
    gpf_buf_vprintf(&b, fmt, ap);
    while (b.len && (b.data[b.len - 1] == '\n'))
        b.data[--b.len] = '\0';
    if (strstr(gpf_buf_cstr(&b), "reached connection limit")) {
        atomic_fetch_add(&api->rejected_global, 1);
        GPF_DEBUG("http", "msg=\"%s\"", gpf_buf_cstr(&b));
    } else if (strstr(gpf_buf_cstr(&b), "closed by remote side with incomplete request") ||
               strstr(gpf_buf_cstr(&b), "closed when reading request due to the error")) { /* a reset, a bad TLS record */
        atomic_fetch_add(&api->incomplete, 1);
        GPF_DEBUG("http", "msg=\"%s\"", gpf_buf_cstr(&b));
    } else if (strstr(gpf_buf_cstr(&b), "handshake message out of context")) {
        atomic_fetch_add(&api->tls_failed, 1);
        GPF_DEBUG("http", "msg=\"%s\"", gpf_buf_cstr(&b));
    } else {
        GPF_WARN("http", "msg=\"%s\"", gpf_buf_cstr(&b));
    }
    gpf_buf_clear(&b);
}

/* The global connection limit, clipped to what the file-descriptor limit allows (raised
 * towards its hard limit when that is needed): each connection is a socket, plus the
 * store, logs and agents' files. */
static unsigned connection_limit(int want)
{
    const rlim_t spare = 128;
    struct rlimit rl;
    rlim_t need = (rlim_t)want + spare;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return (unsigned)want;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        struct rlimit up = rl;
        up.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl = up;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        unsigned got = rl.rlim_cur > 2 * spare ? (unsigned)(rl.rlim_cur - spare) : (unsigned)(rl.rlim_cur / 2);
        GPF_WARN("http", "event=connection_limit_clipped wanted=%d limit=%u nofile=%llu", want, got,
                 (unsigned long long)rl.rlim_cur);
        return got;
    }
    return (unsigned)want;
}

/* GnuTLS's priorities for the API: TLS 1.2 and 1.3 only, its default ciphers. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

static void free_tls(gpf_api *api)
{
    if (api->tls_key)
        explicit_bzero(api->tls_key, strlen(api->tls_key));
    gpf_free(api->tls_key);
    gpf_free(api->tls_cert);
    api->tls_key = api->tls_cert = NULL;
}

/* HTTPS: the options that give MHD the certificate and key (copied into api: MHD keeps
 * pointers), and its flag in *flags; a lone MHD_OPTION_END for plain HTTP. */
static int tls_options(const gpf_api_config *cfg, gpf_api *api, unsigned *flags, struct MHD_OptionItem opts[4],
                       gpf_error *err)
{
    opts[0] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    if (!cfg->tls_cert_pem && !cfg->tls_key_pem)
        return 0;
    if (!cfg->tls_cert_pem || !cfg->tls_key_pem || !strstr(cfg->tls_cert_pem, "-----BEGIN CERTIFICATE") ||
        !strstr(cfg->tls_key_pem, "PRIVATE KEY-----"))
        return gpf_error_set(err, GPF_EINVAL, "HTTPS needs a PEM certificate and its PEM private key");
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return gpf_error_set(err, GPF_ENOTSUP,
                             "this libmicrohttpd was built without TLS (GnuTLS): HTTPS is not available");
    api->tls_cert = gpf_strdup(cfg->tls_cert_pem);
    api->tls_key = gpf_strdup(cfg->tls_key_pem);
    *flags |= MHD_USE_TLS;
    opts[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, api->tls_cert};
    opts[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, api->tls_key};
    opts[2] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES};
    opts[3] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    return 0;
}

int gpf_api_start(const gpf_api_config *cfg, gpf_api **out, gpf_error *err)
{
    struct MHD_OptionItem tls[4];
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    const char *addr = cfg->bind_address && cfg->bind_address[0] ? cfg->bind_address : "127.0.0.1";
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)cfg->port);
    } else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)cfg->port);
        flags |= MHD_USE_IPv6;
    } else {
        return gpf_error_set(err, GPF_EINVAL, "listen address '%s' is not an IP address", addr);
    }
    gpf_api *api = GPF_NEW(gpf_api);
    api->engine = cfg->engine;
    gpf_strlcpy(api->version, cfg->version ? cfg->version : "dev", sizeof api->version);
    api->per_client = cfg->max_per_client == 0 ? 64 : cfg->max_per_client < 0 ? 0 : cfg->max_per_client;
    api->timeout_s = cfg->timeout_s > 0 ? (unsigned)cfg->timeout_s : 10;
    int rc = tls_options(cfg, api, &flags, tls, err);
    if (rc != 0) {
        free_tls(api);
        gpf_free(api);
        return rc;
    }
    pthread_mutex_init(&api->lock, NULL);
    unsigned limit = connection_limit(cfg->max_connections > 0 ? cfg->max_connections : 4096);
    /* One thread per connection (agent and pod long polls block in their handlers); what
     * bounds the threads is the global limit, the per-client limit and the idle timeout. */
    api->mhd = MHD_start_daemon(flags, (uint16_t)cfg->port, on_accept, api, on_request, api,
                                MHD_OPTION_EXTERNAL_LOGGER, mhd_log, api,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                                MHD_OPTION_NOTIFY_COMPLETED, on_completed, api,
                                MHD_OPTION_NOTIFY_CONNECTION, on_connection, api,
                                MHD_OPTION_URI_LOG_CALLBACK, on_target, NULL,
                                MHD_OPTION_CONNECTION_LIMIT, limit,
                                MHD_OPTION_CONNECTION_TIMEOUT, api->timeout_s,
                                MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    if (!api->mhd) {
        pthread_mutex_destroy(&api->lock);
        int had_tls = api->tls_cert != NULL;
        free_tls(api);
        gpf_free(api);
        return gpf_error_set(err, GPF_EIO, "cannot listen on %s:%d (port in use, or no permission%s)", addr, cfg->port,
                             had_tls ? ", or a certificate and key GnuTLS refuses" : "");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(api->mhd, MHD_DAEMON_INFO_BIND_PORT);
    api->port = info ? info->port : cfg->port;
    *out = api;
    return 0;
}

int gpf_api_port(const gpf_api *api)
{
    return api->port;
}

void gpf_api_stop(gpf_api *api)
{
    if (!api)
        return;
    MHD_quiesce_daemon(api->mhd);
    gpf_engine_wake_all(api->engine);
    MHD_stop_daemon(api->mhd);
    pthread_mutex_destroy(&api->lock);
    gpf_free(api->clients);
    free_tls(api);
    gpf_free(api);
}
