/* The "fault" store (store_fault.h): counts write calls, fails the armed ones before they
 * reach the inner store, and passes everything else through. */
#include "store/store_fault.h"

#include <limits.h>
#include <stdatomic.h>

#include "util/alloc.h"

typedef struct fault_priv {
    gpf_store pub;   /* what wrap hands out; pub.priv points back here */
    gpf_store *inner;
    long writes;     /* write calls seen */
    long failures;   /* of those, failed here */
    long fail_at;    /* the ordinal (writes after counting) that fails; 0 = disarmed */
    int persistent;  /* every ordinal from fail_at on fails */
    int code;
    atomic_int sync_fail; /* sync_to fails (any thread may call it) */
} fault_priv;

static const gpf_store_ops fault_ops;

static fault_priv *priv_of(gpf_store *s)
{
    return s && s->ops == &fault_ops ? s->priv : NULL;
}

static gpf_store *inner_of(gpf_store *s)
{
    return ((fault_priv *)s->priv)->inner;
}

/* Counts one write call to op: 0 lets it through, else it fails here (err set). */
static int inject(gpf_store *s, const char *op, gpf_error *err)
{
    fault_priv *f = s->priv;
    long n = ++f->writes;
    if (f->fail_at == 0 || n < f->fail_at || (n > f->fail_at && !f->persistent))
        return 0;
    f->failures++;
    return gpf_error_set(err, f->code, "store: injected fault at write %ld (%s)", n, op);
}

/* The code of the failure inject has just reported. */
static int err_code(gpf_store *s)
{
    return ((fault_priv *)s->priv)->code;
}

/* Defines fault_<op>(params), a write op: counted, then failed here when armed for it (err
 * set), else passed to the inner store with the arguments after params. */
#define WRITE(op, params, ...) \
    static int fault_##op params \
    { \
        return inject(s, #op, err) ? err_code(s) : gpf_store_##op(inner_of(s), __VA_ARGS__); \
    }

/* Defines fault_<op>(params), passed to the inner store as it is. */
#define PASS(op, params, ...) \
    static int fault_##op params \
    { \
        return gpf_store_##op(inner_of(s), __VA_ARGS__); \
    }

/* A commit that fails undoes the whole transaction in the inner store. */
static int fault_commit(gpf_store *s, gpf_error *err)
{
    int rc = inject(s, "commit", err);
    if (rc != 0) {
        gpf_store_rollback(inner_of(s));
        return rc;
    }
    return gpf_store_commit(inner_of(s), err);
}

WRITE(begin, (gpf_store *s, gpf_error *err), err)
WRITE(setting_put, (gpf_store *s, const char *key, const char *val, gpf_error *err), key, val, err)
WRITE(host_put, (gpf_store *s, const gpf_host_rec *h, gpf_error *err), h, err)
WRITE(sku_put, (gpf_store *s, const gpf_sku *k, gpf_error *err), k, err)
WRITE(sku_delete, (gpf_store *s, const char *name, gpf_error *err), name, err)
WRITE(image_put, (gpf_store *s, const gpf_image *im, gpf_error *err), im, err)
WRITE(image_delete, (gpf_store *s, const char *name, gpf_error *err), name, err)
WRITE(user_put, (gpf_store *s, const gpf_user *u, gpf_error *err), u, err)
WRITE(token_put, (gpf_store *s, const gpf_token *t, gpf_error *err), t, err)
WRITE(tokens_delete_for_host, (gpf_store *s, const char *host_id, gpf_error *err), host_id, err)
WRITE(join_token_put, (gpf_store *s, const gpf_join_token *t, gpf_error *err), t, err)
WRITE(pod_put, (gpf_store *s, const gpf_pod *p, gpf_error *err), p, err)
WRITE(usage_insert, (gpf_store *s, gpf_usage *u, gpf_error *err), u, err)
WRITE(usage_update, (gpf_store *s, const gpf_usage *u, gpf_error *err), u, err)
WRITE(event_insert, (gpf_store *s, gpf_event *ev, gpf_error *err), ev, err)

/* ---- reads, rollback and close pass through ------------------------------------------- */

PASS(setting_get, (gpf_store *s, const char *key, char *val, size_t size, gpf_error *err), key, val, size, err)
PASS(events_list, (gpf_store *s, const gpf_event_filter *f, gpf_event **out, size_t *n, gpf_error *err), f, out, n, err)
PASS(hosts_load, (gpf_store *s, gpf_host_rec **out, size_t *n, gpf_error *err), out, n, err)
PASS(skus_load, (gpf_store *s, gpf_sku **out, size_t *n, gpf_error *err), out, n, err)
PASS(images_load, (gpf_store *s, gpf_image **out, size_t *n, gpf_error *err), out, n, err)
PASS(users_load, (gpf_store *s, gpf_user **out, size_t *n, gpf_error *err), out, n, err)
PASS(tokens_load, (gpf_store *s, gpf_token **out, size_t *n, gpf_error *err), out, n, err)
PASS(join_tokens_load, (gpf_store *s, gpf_join_token **out, size_t *n, gpf_error *err), out, n, err)
PASS(pods_load, (gpf_store *s, gpf_pod **out, size_t *n, gpf_error *err), out, n, err)
PASS(usage_load, (gpf_store *s, gpf_usage **out, size_t *n, gpf_error *err), out, n, err)
PASS(pod_get, (gpf_store *s, const char *id, gpf_pod *out, gpf_error *err), id, out, err)
PASS(pods_query, (gpf_store *s, const gpf_pod_query *q, gpf_pod **out, size_t *n, gpf_error *err), q, out, n, err)
PASS(usage_query, (gpf_store *s, const gpf_usage_query *q, gpf_usage **out, size_t *n, gpf_error *err), q, out, n, err)
PASS(history_counts, (gpf_store *s, gpf_store_counts *out, gpf_error *err), out, err)

static uint64_t fault_committed(gpf_store *s)
{
    return gpf_store_committed(inner_of(s));
}

/* Not a counted write (it runs outside the engine lock, from any thread): failed only when
 * gpf_store_fault_fail_sync armed it. */
static int fault_sync_to(gpf_store *s, uint64_t seq, gpf_error *err)
{
    if (atomic_load(&((fault_priv *)s->priv)->sync_fail))
        return gpf_error_set(err, GPF_ESTORE, "store: injected fsync failure");
    return gpf_store_sync_to(inner_of(s), seq, err);
}

static int fault_rollback(gpf_store *s)
{
    return gpf_store_rollback(inner_of(s));
}

static int fault_schema_version(gpf_store *s)
{
    return gpf_store_schema_version(inner_of(s));
}

static void fault_close(gpf_store *s)
{
    fault_priv *f = s->priv;
    gpf_store_close(f->inner);
    gpf_free(f);
}

static const gpf_store_ops fault_ops = {
    .name = "fault",
    .begin = fault_begin,
    .commit = fault_commit,
    .rollback = fault_rollback,
    .setting_get = fault_setting_get,
    .setting_put = fault_setting_put,
    .host_put = fault_host_put,
    .sku_put = fault_sku_put,
    .sku_delete = fault_sku_delete,
    .image_put = fault_image_put,
    .image_delete = fault_image_delete,
    .user_put = fault_user_put,
    .token_put = fault_token_put,
    .tokens_delete_for_host = fault_tokens_delete_for_host,
    .join_token_put = fault_join_token_put,
    .pod_put = fault_pod_put,
    .usage_insert = fault_usage_insert,
    .usage_update = fault_usage_update,
    .event_insert = fault_event_insert,
    .events_list = fault_events_list,
    .hosts_load = fault_hosts_load,
    .skus_load = fault_skus_load,
    .images_load = fault_images_load,
    .users_load = fault_users_load,
    .tokens_load = fault_tokens_load,
    .join_tokens_load = fault_join_tokens_load,
    .pods_load = fault_pods_load,
    .usage_load = fault_usage_load,
    .pod_get = fault_pod_get,
    .pods_query = fault_pods_query,
    .usage_query = fault_usage_query,
    .history_counts = fault_history_counts,
    .schema_version = fault_schema_version,
    .committed = fault_committed,
    .sync_to = fault_sync_to,
    .close = fault_close,
};

/* ---- the controls ---------------------------------------------------------------------- */

int gpf_store_fault_wrap(gpf_store *inner, gpf_store **out, gpf_error *err)
{
    if (!inner || !out) {
        gpf_store_close(inner);
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to fault_wrap");
    }
    fault_priv *f = GPF_NEW(fault_priv);
    f->pub.ops = &fault_ops;
    f->pub.priv = f;
    f->inner = inner;
    f->code = GPF_ESTORE;
    *out = &f->pub;
    return 0;
}

gpf_store *gpf_store_fault_inner(gpf_store *s)
{
    fault_priv *f = priv_of(s);
    return f ? f->inner : NULL;
}

int gpf_store_fault_arm(gpf_store *s, long n, gpf_store_fault_mode mode, int code)
{
    fault_priv *f = priv_of(s);
    if (!f || n < 0 || n > LONG_MAX - f->writes || code > 0 ||
        (mode != GPF_STORE_FAULT_TRANSIENT && mode != GPF_STORE_FAULT_PERSISTENT))
        return GPF_EINVAL;
    f->fail_at = n ? f->writes + n : 0;
    f->persistent = mode == GPF_STORE_FAULT_PERSISTENT;
    f->code = code ? code : GPF_ESTORE;
    return 0;
}

long gpf_store_fault_writes(gpf_store *s)
{
    fault_priv *f = priv_of(s);
    return f ? f->writes : -1;
}

long gpf_store_fault_failures(gpf_store *s)
{
    fault_priv *f = priv_of(s);
    return f ? f->failures : -1;
}

int gpf_store_fault_fail_sync(gpf_store *s, int on)
{
    fault_priv *f = priv_of(s);
    if (!f)
        return GPF_EINVAL;
    atomic_store(&f->sync_fail, on != 0);
    return 0;
}

void gpf_store_fault_reset(gpf_store *s)
{
    fault_priv *f = priv_of(s);
    if (!f)
        return;
    f->writes = f->failures = f->fail_at = 0;
    f->persistent = 0;
    f->code = GPF_ESTORE;
}
