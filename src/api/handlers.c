/* User-facing API handlers: each decodes, calls the engine, encodes. */
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "api/metrics.h"
#include "api/page.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/embedded.h"

int api_need_body(api_req *q, api_resp *r)
{
    if (!q->body) {
        api_error(r, GPF_EMALFORMED, "this request needs a JSON object body");
        return -1;
    }
    return 0;
}

int api_name_param(api_req *q, api_resp *r, const char *what)
{
    if (!gpf_name_valid(q->params[0])) {
        char msg[160];
        snprintf(msg, sizeof msg, "no %s '%.64s'", what, q->params[0]);
        api_error(r, GPF_ENOTFOUND, msg);
        return -1;
    }
    return 0;
}

void h_healthz(api_req *q, api_resp *r)
{
    api_json(r, 200, json_pack("{s:s, s:s}", "status", "ok", "version", q->version));
}

void h_portal(api_req *q, api_resp *r)
{
    (void)q;
    const gpf_embedded_file *f = gpf_embedded_find("web/index.html");
    if (!f) {
        api_error(r, GPF_ENOTFOUND, "portal not built into this binary");
        return;
    }
    r->status = 200;
    r->text = gpf_strndup(f->data, f->size);
    r->content_type = "text/html; charset=utf-8";
}

void h_metrics(api_req *q, api_resp *r)
{
    gpf_metrics m;
    gpf_buf b = {0};
    gpf_engine_metrics(q->engine, &m); /* copied under the engine's lock; rendered after it */
    gpf_metrics_render(&m, &b);
    gpf_metrics_clear(&m);
    api_conn_metrics_render(q->api, &b);
    r->status = 200;
    r->text = gpf_buf_steal(&b);
    r->content_type = "text/plain; version=0.0.4";
}

void h_whoami(api_req *q, api_resp *r)
{
    if (q->who.is_agent)
        api_json(r, 200, json_pack("{s:s, s:s}", "agent", q->who.host_id, "role", "agent"));
    else
        api_json(r, 200, json_pack("{s:s, s:s}", "user", q->who.user, "role", gpf_role_name(q->who.role)));
}

/* ---- hosts and GPUs ---- */


/* The hosts list with the engine's view of each (h_hosts, h_gpus). */
typedef struct host_list {
    gpf_host_rec *hosts;
    gpf_host_usage *usage;
} host_list;

static const char *host_key(const void *ctx, size_t i)
{
    return ((const host_list *)ctx)->hosts[i].id;
}

static void host_write(gpf_buf *b, const void *ctx, size_t i)
{
    const host_list *l = ctx;
    gpf_jsonw_host(b, &l->hosts[i], &l->usage[i]);
}

/* GET /v1/hosts?limit=&cursor=: by id. */
void h_hosts(api_req *q, api_resp *r)
{
    host_list l = {0};
    size_t n = 0;
    gpf_error err = {0};
    api_page pg;
    if (api_page_parse(q, r, "hosts", 0, &pg) != 0)
        return;
    if (gpf_engine_host_list(q->engine, &l.hosts, &l.usage, &n, &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    api_page_write(r, &pg, "hosts", n, host_key, host_write, &l);
    gpf_free(l.hosts);
    gpf_free(l.usage);
}

/* Answers the host h (u: the engine's view of it). */
static void reply_host_doc(api_resp *r, const gpf_host_rec *h, const gpf_host_usage *u)
{
    gpf_buf b = {0};
    gpf_jsonw_host(&b, h, u);
    api_json_text(r, 200, &b);
}

/* Answers with the host named by the path (its record and the engine's view of it). */
static void reply_host(api_req *q, api_resp *r)
{
    gpf_host_rec *h = GPF_NEW(gpf_host_rec);
    gpf_host_usage *u = GPF_NEW(gpf_host_usage);
    gpf_error err = {0};
    if (gpf_engine_host_get(q->engine, q->params[0], h, u, &err) != 0)
        api_error_from(r, &err);
    else
        reply_host_doc(r, h, u);
    gpf_free(h);
    gpf_free(u);
}

void h_host(api_req *q, api_resp *r)
{
    if (api_name_param(q, r, "host") == 0)
        reply_host(q, r);
}

/* POST /v1/hosts/{id}/override {"reason"}; DELETE clears it. Answers with the host. */
void h_host_override(api_req *q, api_resp *r)
{
    gpf_error err = {0};
    char reason[GPF_TEXT_MAX] = "";
    int on = strcmp(q->method, "DELETE") != 0;
    if (api_name_param(q, r, "host") != 0)
        return;
    if (on && !q->body) {
        api_error(r, GPF_EMALFORMED, "this request needs a JSON object body: {\"reason\": \"…\"}");
        return;
    }
    if ((on && gpf_decode_override(q->body, reason, sizeof reason, &err) != 0) ||
        gpf_engine_host_override(q->engine, &q->who, q->params[0], on, reason, NULL, &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    reply_host(q, r);
}

/* GET /v1/events?host=&pod=&kind=&after=&limit=&cursor=: the newest `limit` events (after
 * the id `after`), oldest first; next_cursor pages on to older ones. */
void h_events(api_req *q, api_resp *r)
{
    long long after = 0;
    int64_t before = 0, next = 0;
    gpf_event *evs = NULL;
    size_t n = 0;
    gpf_error err = {0};
    api_page pg;
    if (api_query_int(q, r, "after", 0, INT64_MAX, 0, &after) != 0 || api_page_parse(q, r, "events", 10000, &pg) != 0 ||
        (pg.has_cursor && api_page_key_int(r, &pg, &before) != 0))
        return;
    if (pg.has_cursor && before <= after) {
        api_page_reply(r, "events", json_array(), 0, "events", NULL); /* walked down to `after` */
        return;
    }
    gpf_event_filter f = {api_query(q, "host"), api_query(q, "pod"), api_query(q, "kind"), after, (int)pg.limit, before};
    if (gpf_engine_events_page(q->engine, &q->who, &f, &evs, &n, &next, &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, gpf_json_event(&evs[i]));
    char key[32];
    snprintf(key, sizeof key, "%lld", (long long)next);
    api_page_reply(r, "events", arr, next > after + 1, "events", key);
    gpf_free(evs);
}

/* One GPU of the list: its host's index and its own, and its sort key "<host id> <index>"
 * (zero-padded: a space sorts before every character of a name, so keys order by host,
 * then index). */
typedef struct gpu_ref {
    size_t host;
    int gpu;
    char key[GPF_ID_MAX + 16];
} gpu_ref;

static const char *gpu_key(const void *ctx, size_t i)
{
    return ((const gpu_ref *)ctx)[i].key;
}

/* GET /v1/gpus?limit=&cursor=: by host id, then GPU index. */
void h_gpus(api_req *q, api_resp *r)
{
    gpf_host_rec *hosts = NULL;
    gpf_host_usage *usage = NULL;
    size_t n = 0, ng = 0, k = 0;
    int more = 0;
    gpf_error err = {0};
    api_page pg;
    if (api_page_parse(q, r, "gpus", 0, &pg) != 0)
        return;
    if (gpf_engine_host_list(q->engine, &hosts, &usage, &n, &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    for (size_t i = 0; i < n; i++)
        ng += (size_t)hosts[i].ngpus;
    gpu_ref *refs = ng ? gpf_calloc(ng, sizeof *refs) : NULL;
    ng = 0;
    for (size_t i = 0; i < n; i++)
        for (int g = 0; g < hosts[i].ngpus; g++, ng++) {
            refs[ng].host = i;
            refs[ng].gpu = g;
            snprintf(refs[ng].key, sizeof refs[ng].key, "%s %05d", hosts[i].id, hosts[i].gpus[g].index);
        }
    size_t *idx = api_page_pick(ng, gpu_key, refs, &pg, &k, &more);
    json_t *arr = json_array();
    for (size_t j = 0; j < k; j++) {
        size_t i = refs[idx[j]].host;
        int g = refs[idx[j]].gpu;
        json_t *o = gpf_json_gpu(&hosts[i].gpus[g], usage[i].gpu_allocated_milli[g], usage[i].gpu_mig_used_slots[g]);
        json_object_set_new(o, "host_id", json_string(hosts[i].id));
        json_array_append_new(arr, o);
    }
    api_page_reply(r, "gpus", arr, more, "gpus", k ? refs[idx[k - 1]].key : NULL);
    gpf_free(idx);
    gpf_free(refs);
    gpf_free(hosts);
    gpf_free(usage);
}

/* ---- SKUs ---- */

static const char *sku_key(const void *ctx, size_t i)
{
    return ((const gpf_sku *)ctx)[i].name;
}

static json_t *sku_json(const void *ctx, size_t i)
{
    return gpf_json_sku(&((const gpf_sku *)ctx)[i]);
}

/* GET /v1/skus?limit=&cursor=: by name. */
void h_skus(api_req *q, api_resp *r)
{
    gpf_sku *skus = NULL;
    size_t n = 0;
    gpf_error err = {0};
    api_page pg;
    if (api_page_parse(q, r, "skus", 0, &pg) != 0)
        return;
    if (gpf_engine_sku_list(q->engine, &skus, &n, &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    api_page_answer(r, &pg, "skus", n, sku_key, sku_json, skus);
    gpf_free(skus);
}

void h_sku_create(api_req *q, api_resp *r)
{
    gpf_sku k, out;
    gpf_error err = {0};
    if (api_need_body(q, r) != 0)
        return;
    if (gpf_decode_sku_create(q->body, &k, &err) != 0 || gpf_engine_sku_create(q->engine, &q->who, &k, &out, &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    api_json(r, 201, gpf_json_sku(&out));
}

void h_sku(api_req *q, api_resp *r)
{
    gpf_sku k;
    gpf_error err = {0};
    if (api_name_param(q, r, "SKU") != 0)
        return;
    if (gpf_engine_sku_get(q->engine, q->params[0], &k, &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    api_json(r, 200, gpf_json_sku(&k));
}

void h_sku_patch(api_req *q, api_resp *r)
{
    gpf_sku k, out;
    gpf_error err = {0};
    if (api_name_param(q, r, "SKU") != 0 || api_need_body(q, r) != 0)
        return;
    if (gpf_engine_sku_get(q->engine, q->params[0], &k, &err) != 0 || gpf_decode_sku_patch(q->body, &k, &err) != 0 ||
        gpf_engine_sku_update(q->engine, &q->who, &k, &out, &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    api_json(r, 200, gpf_json_sku(&out));
}

void h_sku_delete(api_req *q, api_resp *r)
{
    gpf_error err = {0};
    if (api_name_param(q, r, "SKU") != 0)
        return;
    if (gpf_engine_sku_delete(q->engine, &q->who, q->params[0], &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    r->status = 204;
}

/* ---- pods ---- */

/* GET /v1/pods?all=&state=&owner=&limit=&cursor=: by (created_ms, id). Live pods come from
 * memory; with all=1 or a final state, every match comes from the store. */
void h_pods(api_req *q, api_resp *r)
{
    gpf_pod *pods = NULL;
    size_t n = 0;
    int more = 0;
    gpf_error err = {0};
    long long all = 0;
    api_page pg;
    char after_id[GPF_ID_MAX] = "";
    gpf_pod_query pq = {.owner = api_query(q, "owner")};
    const char *state = api_query(q, "state");
    if (api_query_int(q, r, "all", 0, 1, 0, &all) != 0 || api_page_parse(q, r, "pods", 0, &pg) != 0 ||
        (pg.has_cursor && api_page_key_int_id(r, &pg, &pq.after_created_ms, after_id, sizeof after_id) != 0))
        return;
    if (state && gpf_pod_state_parse(state) < 0) {
        api_error(r, GPF_EINVAL, "query parameter state must be a pod state (pending, starting, running, ...)");
        return;
    }
    pq.has_state = state != NULL;
    pq.state = state ? (gpf_pod_state)gpf_pod_state_parse(state) : GPF_POD_PENDING;
    pq.live = !all && !(state && gpf_pod_state_is_final(pq.state));
    pq.after_id = after_id;
    pq.limit = pg.limit;
    if (gpf_engine_pod_page(q->engine, &q->who, &pq, &pods, &n, &more, &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    gpf_buf b = {0};
    api_page_open(&b, "pods");
    for (size_t i = 0; i < n; i++)
        gpf_jsonw_pod(&b, &pods[i]);
    char key[GPF_ID_MAX + 32] = "";
    if (n)
        snprintf(key, sizeof key, "%lld:%s", (long long)pods[n - 1].created_ms, pods[n - 1].id);
    api_page_close(r, &b, more, "pods", key);
    gpf_free(pods);
}

/* Answers the pod p with status. */
static void reply_pod(api_resp *r, int status, const gpf_pod *p)
{
    gpf_buf b = {0};
    gpf_jsonw_pod(&b, p);
    api_json_text(r, status, &b);
}

void h_pod_launch(api_req *q, api_resp *r)
{
    gpf_launch_req req;
    gpf_pod *p = GPF_NEW(gpf_pod);
    gpf_error err = {0};
    if (api_need_body(q, r) != 0)
        goto out;
    if (gpf_decode_launch(q->body, &req, &err) != 0 || gpf_engine_pod_launch(q->engine, &q->who, &req, p, &err) != 0) {
        api_error_from(r, &err);
        goto out;
    }
    reply_pod(r, 201, p);
out:
    gpf_free(p);
}

void h_pod(api_req *q, api_resp *r)
{
    gpf_pod *p = GPF_NEW(gpf_pod);
    gpf_error err = {0};
    long long timeout = 0;
    const char *wait = api_query(q, "wait");
    if (api_name_param(q, r, "pod") != 0 || api_query_int(q, r, "timeout_ms", 0, 30000, 10000, &timeout) != 0)
        goto out;
    if (wait && strcmp(wait, "running") != 0) {
        api_error(r, GPF_EINVAL, "query parameter wait must be 'running'");
        goto out;
    }
    int rc = wait ? gpf_engine_pod_wait(q->engine, &q->who, q->params[0], (int)timeout, p, &err)
                  : gpf_engine_pod_get(q->engine, &q->who, q->params[0], p, &err);
    if (rc != 0) {
        api_error_from(r, &err);
        goto out;
    }
    reply_pod(r, 200, p);
out:
    gpf_free(p);
}

void h_pod_stop(api_req *q, api_resp *r)
{
    gpf_pod *p = GPF_NEW(gpf_pod);
    gpf_error err = {0};
    if (api_name_param(q, r, "pod") != 0)
        goto out;
    if (gpf_engine_pod_stop(q->engine, &q->who, q->params[0], p, &err) != 0) {
        api_error_from(r, &err);
        goto out;
    }
    reply_pod(r, 202, p);
out:
    gpf_free(p);
}

/* ---- usage ---- */

/* GET /v1/usage?pod=&owner=&limit=&cursor=: by id, open and closed records alike. */
void h_usage(api_req *q, api_resp *r)
{
    gpf_usage *u = NULL;
    size_t n = 0;
    int more = 0;
    gpf_error err = {0};
    api_page pg;
    gpf_usage_query uq = {.pod_id = api_query(q, "pod"), .owner = api_query(q, "owner")};
    if (api_page_parse(q, r, "usage", 0, &pg) != 0 || (pg.has_cursor && api_page_key_int(r, &pg, &uq.after_id) != 0))
        return;
    uq.limit = pg.limit;
    if (gpf_engine_usage_page(q->engine, &q->who, &uq, &u, &n, &more, &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    int64_t now = gpf_engine_now(q->engine);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, gpf_json_usage(&u[i], now));
    char key[32] = "";
    if (n)
        snprintf(key, sizeof key, "%lld", (long long)u[n - 1].id);
    api_page_reply(r, "usage", arr, more, "usage", key);
    gpf_free(u);
}

/* ---- users and tokens ---- */

static const char *user_key(const void *ctx, size_t i)
{
    return ((const gpf_user *)ctx)[i].name;
}

static json_t *user_json(const void *ctx, size_t i)
{
    return gpf_json_user(&((const gpf_user *)ctx)[i]);
}

/* GET /v1/users?limit=&cursor=: by name. */
void h_users(api_req *q, api_resp *r)
{
    gpf_user *users = NULL;
    size_t n = 0;
    gpf_error err = {0};
    api_page pg;
    if (api_page_parse(q, r, "users", 0, &pg) != 0)
        return;
    if (gpf_engine_user_list(q->engine, &q->who, &users, &n, &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    api_page_answer(r, &pg, "users", n, user_key, user_json, users);
    gpf_free(users);
}

void h_user_create(api_req *q, api_resp *r)
{
    gpf_user *u = GPF_NEW(gpf_user), *out = GPF_NEW(gpf_user);
    gpf_error err = {0};
    if (api_need_body(q, r) != 0)
        goto done;
    if (gpf_decode_user_create(q->body, u, &err) != 0 || gpf_engine_user_create(q->engine, &q->who, u, out, &err) != 0) {
        api_error_from(r, &err);
        goto done;
    }
    api_json(r, 201, gpf_json_user(out));
done:
    gpf_free(u);
    gpf_free(out);
}

void h_user(api_req *q, api_resp *r)
{
    gpf_user *u = GPF_NEW(gpf_user);
    gpf_error err = {0};
    if (api_name_param(q, r, "user") != 0)
        goto done;
    if (gpf_engine_user_get(q->engine, &q->who, q->params[0], u, &err) != 0) {
        api_error_from(r, &err);
        goto done;
    }
    api_json(r, 200, gpf_json_user(u));
done:
    gpf_free(u);
}

void h_user_patch(api_req *q, api_resp *r)
{
    gpf_user *u = GPF_NEW(gpf_user), *out = GPF_NEW(gpf_user);
    gpf_error err = {0};
    unsigned changed = 0;
    if (api_name_param(q, r, "user") != 0 || api_need_body(q, r) != 0)
        goto done;
    gpf_strlcpy(u->name, q->params[0], sizeof u->name);
    if (gpf_decode_user_patch(q->body, u, &changed, &err) != 0 ||
        gpf_engine_user_update(q->engine, &q->who, u, changed, out, &err) != 0) {
        api_error_from(r, &err);
        goto done;
    }
    api_json(r, 200, gpf_json_user(out));
done:
    gpf_free(u);
    gpf_free(out);
}

/* POST /v1/users/{name}/tokens {"name"?, "expires_in_s"?}: the record and, this once, the secret. */
void h_token_create(api_req *q, api_resp *r)
{
    char secret[96], name[GPF_ID_MAX];
    gpf_token t;
    gpf_token_spec spec = {name, 0};
    gpf_error err = {0};
    if (api_name_param(q, r, "user") != 0)
        return;
    if (gpf_decode_token_create(q->body, name, &spec.expires_in_s, &err) != 0 ||
        gpf_engine_token_create(q->engine, &q->who, q->params[0], &spec, secret, sizeof secret, &t, &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    json_t *j = gpf_json_token(&t, gpf_engine_now(q->engine));
    json_object_set_new(j, "token", json_string(secret));
    api_json(r, 201, j);
    explicit_bzero(secret, sizeof secret);
}
