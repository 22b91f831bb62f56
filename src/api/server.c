/* HTTP server glue: libmicrohttpd set-up, body collection with a size limit,
 * routing, authentication, and JSON responses. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api_int.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/timeutil.h"

struct gpf_api {
    struct MHD_Daemon *mhd;
    gpf_engine *engine;
    int port;
    char version[32];
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
    {"POST", "/v1/users/{}/tokens", h_token_create, AUTH_ANY},
    {"GET", "/v1/images", h_images, AUTH_ANY},
    {"POST", "/v1/images", h_image_import, AUTH_ANY},
    {"GET", "/v1/images/{}", h_image, AUTH_ANY},
    {"DELETE", "/v1/images/{}", h_image_delete, AUTH_ANY},
    {"POST", "/v1/agent/register", h_agent_register, AUTH_JOIN},
    {"POST", "/v1/agent/heartbeat", h_agent_heartbeat, AUTH_ANY},
    {"GET", "/v1/agent/commands", h_agent_commands, AUTH_ANY},
    {"POST", "/v1/agent/pods/{}/status", h_agent_pod_status, AUTH_ANY},
    {"GET", "/v1/agent/blobs/{}", h_agent_blob, AUTH_ANY},
};

/* Per-request state across MHD's access-handler calls. */
typedef struct conn_ctx {
    gpf_buf body;
    int too_large;
} conn_ctx;

/* ---- helpers for handlers ----------------------------------------------- */

void api_json(api_resp *r, int status, json_t *j)
{
    if (r->json)
        json_decref(r->json);
    r->status = status;
    r->json = j;
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
    q.method = method;
    q.path = url;
    q.version = api->version;
    const route *rt = NULL;
    int path_known = 0;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const char *params[4] = {0};
        if (!match(routes[i].pattern, url, params, scratch, sizeof scratch))
            continue;
        path_known = 1;
        if (strcmp(routes[i].method, method) != 0)
            continue;
        rt = &routes[i];
        memcpy(q.params, params, sizeof params);
        break;
    }
    if (!rt) {
        if (path_known)
            api_error(r, GPF_EMETHOD, "method not allowed on this path");
        else
            api_error(r, GPF_ENOTFOUND, "no such endpoint (see docs/api.md)");
        return;
    }
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

static enum MHD_Result send_resp(struct MHD_Connection *conn, api_resp *r)
{
    if (r->has_file && !r->json && !r->text)
        return send_file(conn, r);
    char *text = NULL;
    size_t len = 0;
    const char *ctype = r->content_type ? r->content_type : "application/json";
    if (r->json) {
        text = json_dumps(r->json, JSON_COMPACT);
        if (!text)
            text = gpf_strdup("{}");
        len = strlen(text);
        gpf_buf b = {0};
        gpf_buf_append(&b, text, len);
        gpf_buf_putc(&b, '\n');
        free(text);
        len = b.len;
        text = gpf_buf_steal(&b);
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
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    gpf_api *api = cls;
    conn_ctx *ctx = *con_cls;
    if (!ctx) {
        ctx = GPF_NEW(conn_ctx);
        *con_cls = ctx;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > GPF_API_MAX_BODY)
            ctx->too_large = 1;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!ctx->too_large && ctx->body.len + *upload_data_size <= GPF_API_MAX_BODY)
            gpf_buf_append(&ctx->body, upload_data, *upload_data_size);
        else
            ctx->too_large = 1;
        *upload_data_size = 0;
        return MHD_YES;
    }
    int64_t t0 = gpf_mono_us();
    api_resp r = {0};
    r.status = 500;
    dispatch(api, conn, method, url, ctx, &r);
    if (!r.json && !r.text && !r.has_file && r.status != 204)
        api_error(&r, GPF_EINTERNAL, "handler produced no response");
    int status = r.status;
    enum MHD_Result ret = send_resp(conn, &r);
    if (r.has_file) /* an error answer replaced the file */
        close(r.file_fd);
    json_decref(r.json);
    gpf_free(r.text);
    GPF_DEBUG("api", "method=%s path=%s status=%d us=%lld", method, url, status, (long long)(gpf_mono_us() - t0));
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    conn_ctx *ctx = *con_cls;
    if (ctx) {
        gpf_buf_clear(&ctx->body);
        gpf_free(ctx);
        *con_cls = NULL;
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    gpf_buf b = {0};
    gpf_buf_vprintf(&b, fmt, ap);
    while (b.len && (b.data[b.len - 1] == '\n'))
        b.data[--b.len] = '\0';
    GPF_WARN("http", "msg=\"%s\"", gpf_buf_cstr(&b));
    gpf_buf_clear(&b);
}

int gpf_api_start(const gpf_api_config *cfg, gpf_api **out, gpf_error *err)
{
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
    api->mhd = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_request, api, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                                MHD_OPTION_SOCK_ADDR,
                                (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                                MHD_OPTION_CONNECTION_LIMIT,
                                (unsigned)(cfg->max_connections > 0 ? cfg->max_connections : 512),
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
    if (!api->mhd) {
        gpf_free(api);
        return gpf_error_set(err, GPF_EIO, "cannot listen on %s:%d (port in use, or no permission)", addr, cfg->port);
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
    gpf_free(api);
}
