/* The store's ops table and the fault store: every public function reaches its own op of
 * the backend (a recording stub) and refuses a NULL store; every op works through the fault
 * wrapper against ":memory:" SQLite; the wrapper fails exactly the armed write, transiently
 * or persistently, with the chosen code, before it reaches the database; a failed commit
 * leaves nothing of its transaction; reads, rollback and close pass through; counts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "store/store_fault.h"
#include "util/alloc.h"

/* ---- a recording stub backend ------------------------------------------------------------ */

#define STUB_RC 7 /* what every stub op returns, so a dispatched call is told from a refused one */

typedef struct stub_priv {
    const char *op;  /* the last op called */
    const void *arg; /* its first argument after the store */
    gpf_error *err;  /* its error object (NULL for rollback, schema_version) */
    int closed;
} stub_priv;

static int seen(gpf_store *s, const char *op, const void *arg, gpf_error *err)
{
    stub_priv *p = s->priv;
    p->op = op;
    p->arg = arg;
    p->err = err;
    return STUB_RC;
}

/* A stub op whose first argument after the store is a, of type T, and whose last is err. */
#define STUB1(op, T)                                                                                          \
    static int stub_##op(gpf_store *s, T a, gpf_error *err)                                                   \
    {                                                                                                         \
        return seen(s, #op, a, err);                                                                          \
    }
#define STUB_LOAD(op, T)                                                                                      \
    static int stub_##op(gpf_store *s, T **out, size_t *n, gpf_error *err)                                    \
    {                                                                                                         \
        (void)n;                                                                                              \
        return seen(s, #op, out, err);                                                                        \
    }

static int stub_begin(gpf_store *s, gpf_error *err)
{
    return seen(s, "begin", NULL, err);
}

static int stub_commit(gpf_store *s, gpf_error *err)
{
    return seen(s, "commit", NULL, err);
}

static int stub_rollback(gpf_store *s)
{
    return seen(s, "rollback", NULL, NULL);
}

static int stub_schema_version(gpf_store *s)
{
    return seen(s, "schema_version", NULL, NULL);
}

static int stub_setting_get(gpf_store *s, const char *key, char *val, size_t size, gpf_error *err)
{
    (void)val;
    (void)size;
    return seen(s, "setting_get", key, err);
}

static int stub_setting_put(gpf_store *s, const char *key, const char *val, gpf_error *err)
{
    (void)val;
    return seen(s, "setting_put", key, err);
}

static int stub_events_list(gpf_store *s, const gpf_event_filter *f, gpf_event **out, size_t *n, gpf_error *err)
{
    (void)out;
    (void)n;
    return seen(s, "events_list", f, err);
}

static void stub_close(gpf_store *s)
{
    ((stub_priv *)s->priv)->closed = 1;
}

STUB1(host_put, const gpf_host_rec *)
STUB1(sku_put, const gpf_sku *)
STUB1(sku_delete, const char *)
STUB1(image_put, const gpf_image *)
STUB1(image_delete, const char *)
STUB1(user_put, const gpf_user *)
STUB1(token_put, const gpf_token *)
STUB1(pod_put, const gpf_pod *)
STUB1(usage_insert, gpf_usage *)
STUB1(usage_update, const gpf_usage *)
STUB1(event_insert, gpf_event *)
STUB_LOAD(hosts_load, gpf_host_rec)
STUB_LOAD(skus_load, gpf_sku)
STUB_LOAD(images_load, gpf_image)
STUB_LOAD(users_load, gpf_user)
STUB_LOAD(tokens_load, gpf_token)
STUB_LOAD(pods_load, gpf_pod)
STUB_LOAD(usage_load, gpf_usage)

static const gpf_store_ops stub_ops = {
    .name = "stub",
    .begin = stub_begin,
    .commit = stub_commit,
    .rollback = stub_rollback,
    .setting_get = stub_setting_get,
    .setting_put = stub_setting_put,
    .host_put = stub_host_put,
    .sku_put = stub_sku_put,
    .sku_delete = stub_sku_delete,
    .image_put = stub_image_put,
    .image_delete = stub_image_delete,
    .user_put = stub_user_put,
    .token_put = stub_token_put,
    .pod_put = stub_pod_put,
    .usage_insert = stub_usage_insert,
    .usage_update = stub_usage_update,
    .event_insert = stub_event_insert,
    .events_list = stub_events_list,
    .hosts_load = stub_hosts_load,
    .skus_load = stub_skus_load,
    .images_load = stub_images_load,
    .users_load = stub_users_load,
    .tokens_load = stub_tokens_load,
    .pods_load = stub_pods_load,
    .usage_load = stub_usage_load,
    .schema_version = stub_schema_version,
    .close = stub_close,
};

/* call went to the stub's op with arg and the caller's error object e. */
#define EXPECT_OP(p, call, opname, argp, e)                                                                  \
    do {                                                                                                      \
        (p)->op = NULL;                                                                                       \
        assert_int_equal((call), STUB_RC);                                                                    \
        assert_non_null((p)->op);                                                                             \
        assert_string_equal((p)->op, (opname));                                                               \
        assert_ptr_equal((p)->arg, (argp));                                                                   \
        assert_ptr_equal((p)->err, (e));                                                                      \
    } while (0)

static void test_every_op_dispatches_to_its_own(void **state)
{
    (void)state;
    stub_priv p = {0};
    gpf_store stub = {.ops = &stub_ops, .priv = &p};
    gpf_store *s = &stub;
    gpf_error err = {0};
    gpf_host_rec h;
    gpf_sku k;
    gpf_image im;
    gpf_user u;
    gpf_token t;
    gpf_pod pod;
    gpf_usage us;
    gpf_event ev;
    gpf_event_filter f = {0};
    gpf_event *evs = NULL;
    char val[8];
    size_t n = 0;
    void *out = NULL;

    EXPECT_OP(&p, gpf_store_begin(s, &err), "begin", NULL, &err);
    EXPECT_OP(&p, gpf_store_commit(s, &err), "commit", NULL, &err);
    EXPECT_OP(&p, gpf_store_rollback(s), "rollback", NULL, NULL);
    EXPECT_OP(&p, gpf_store_schema_version(s), "schema_version", NULL, NULL);
    EXPECT_OP(&p, gpf_store_setting_get(s, "key", val, sizeof val, &err), "setting_get", "key", &err);
    EXPECT_OP(&p, gpf_store_setting_put(s, "key", "v", &err), "setting_put", "key", &err);
    EXPECT_OP(&p, gpf_store_host_put(s, &h, &err), "host_put", &h, &err);
    EXPECT_OP(&p, gpf_store_sku_put(s, &k, &err), "sku_put", &k, &err);
    EXPECT_OP(&p, gpf_store_sku_delete(s, "sku", &err), "sku_delete", "sku", &err);
    EXPECT_OP(&p, gpf_store_image_put(s, &im, &err), "image_put", &im, &err);
    EXPECT_OP(&p, gpf_store_image_delete(s, "img", &err), "image_delete", "img", &err);
    EXPECT_OP(&p, gpf_store_user_put(s, &u, &err), "user_put", &u, &err);
    EXPECT_OP(&p, gpf_store_token_put(s, &t, &err), "token_put", &t, &err);
    EXPECT_OP(&p, gpf_store_pod_put(s, &pod, &err), "pod_put", &pod, &err);
    EXPECT_OP(&p, gpf_store_usage_insert(s, &us, &err), "usage_insert", &us, &err);
    EXPECT_OP(&p, gpf_store_usage_update(s, &us, &err), "usage_update", &us, &err);
    EXPECT_OP(&p, gpf_store_event_insert(s, &ev, &err), "event_insert", &ev, &err);
    EXPECT_OP(&p, gpf_store_events_list(s, &f, &evs, &n, &err), "events_list", &f, &err);
    EXPECT_OP(&p, gpf_store_hosts_load(s, (gpf_host_rec **)&out, &n, &err), "hosts_load", &out, &err);
    EXPECT_OP(&p, gpf_store_skus_load(s, (gpf_sku **)&out, &n, &err), "skus_load", &out, &err);
    EXPECT_OP(&p, gpf_store_images_load(s, (gpf_image **)&out, &n, &err), "images_load", &out, &err);
    EXPECT_OP(&p, gpf_store_users_load(s, (gpf_user **)&out, &n, &err), "users_load", &out, &err);
    EXPECT_OP(&p, gpf_store_tokens_load(s, (gpf_token **)&out, &n, &err), "tokens_load", &out, &err);
    EXPECT_OP(&p, gpf_store_pods_load(s, (gpf_pod **)&out, &n, &err), "pods_load", &out, &err);
    EXPECT_OP(&p, gpf_store_usage_load(s, (gpf_usage **)&out, &n, &err), "usage_load", &out, &err);
    assert_int_equal(p.closed, 0);
    gpf_store_close(s);
    assert_int_equal(p.closed, 1);
}

/* Without a store every function refuses (GPF_EINVAL, with a message) and close does nothing. */
static void test_null_store_refused(void **state)
{
    (void)state;
    gpf_error err = {0};
    gpf_host_rec h;
    gpf_usage us;
    gpf_event ev;
    gpf_event_filter f = {0};
    gpf_event *evs = NULL;
    gpf_pod *pods = NULL;
    size_t n = 0;
    char val[8];
    assert_int_equal(gpf_store_begin(NULL, &err), GPF_EINVAL);
    assert_string_equal(err.msg, "store: no store");
    assert_int_equal(gpf_store_commit(NULL, &err), GPF_EINVAL);
    assert_int_equal(gpf_store_rollback(NULL), GPF_EINVAL);
    assert_int_equal(gpf_store_schema_version(NULL), GPF_EINVAL);
    assert_int_equal(gpf_store_setting_get(NULL, "k", val, sizeof val, &err), GPF_EINVAL);
    assert_int_equal(gpf_store_setting_put(NULL, "k", "v", &err), GPF_EINVAL);
    assert_int_equal(gpf_store_host_put(NULL, &h, &err), GPF_EINVAL);
    assert_int_equal(gpf_store_sku_delete(NULL, "x", &err), GPF_EINVAL);
    assert_int_equal(gpf_store_usage_insert(NULL, &us, &err), GPF_EINVAL);
    assert_int_equal(gpf_store_event_insert(NULL, &ev, &err), GPF_EINVAL);
    assert_int_equal(gpf_store_events_list(NULL, &f, &evs, &n, &err), GPF_EINVAL);
    assert_int_equal(gpf_store_pods_load(NULL, &pods, &n, &err), GPF_EINVAL);
    gpf_store_close(NULL);
}

/* ---- records and the database's content ------------------------------------------------- */

#define SET(field, ...) snprintf((field), sizeof(field), __VA_ARGS__)

static void fill_host(gpf_host_rec *h, const char *id)
{
    memset(h, 0, sizeof *h);
    SET(h->id, "%s", id);
    SET(h->address, "10.0.0.1");
    h->cpus = 32;
    h->memory_mib = 262144;
    h->ngpus = 1;
    SET(h->gpus[0].uuid, "GPU-%s-0", id);
    SET(h->gpus[0].model, "H100-80GB-SXM5");
}

static void fill_sku(gpf_sku *k, const char *name)
{
    memset(k, 0, sizeof *k);
    SET(k->name, "%s", name);
    k->slice.kind = GPF_SLICE_WHOLE;
    k->slice.gpu_count = 1;
    k->nmodels = 1;
    SET(k->models[0], "H100-80GB-SXM5");
    k->price_micro_per_hour = 4000000;
}

static void fill_image(gpf_image *im, const char *name)
{
    memset(im, 0, sizeof *im);
    SET(im->name, "%s", name);
    SET(im->digest, "sha256:%064d", 7);
    im->size_bytes = 1 << 20;
}

static void fill_user(gpf_user *u, const char *name)
{
    memset(u, 0, sizeof *u);
    SET(u->name, "%s", name);
    u->role = GPF_ROLE_MEMBER;
}

static void fill_token(gpf_token *t, const char *id)
{
    memset(t, 0, sizeof *t);
    SET(t->id, "%s", id);
    SET(t->user, "alice");
    memset(t->hash, 'a', 64);
}

static void fill_pod(gpf_pod *p, const char *id)
{
    memset(p, 0, sizeof *p);
    SET(p->id, "%s", id);
    SET(p->owner, "alice");
    SET(p->sku, "h100");
    p->state = GPF_POD_RUNNING;
    p->placed = 1;
    SET(p->placement.host_id, "node-1");
    p->placement.ngpus = 1;
    SET(p->placement.gpu_uuids[0], "GPU-node-1-0");
    p->created_ms = 1000;
}

static void fill_usage(gpf_usage *u, const char *pod_id)
{
    memset(u, 0, sizeof *u);
    SET(u->pod_id, "%s", pod_id);
    SET(u->owner, "alice");
    u->gpu_milli = 1000;
    u->price_micro_per_hour = 4000000;
    u->start_ms = 1000;
}

static void fill_event(gpf_event *ev, const char *kind)
{
    memset(ev, 0, sizeof *ev);
    ev->at_ms = 2000;
    SET(ev->kind, "%s", kind);
    SET(ev->severity, "info");
}

/* One record of every kind, and a value for setting "k". */
typedef struct recs {
    gpf_host_rec h;
    gpf_sku k;
    gpf_image im;
    gpf_user u;
    gpf_token t;
    gpf_pod p;
    gpf_usage us;
    gpf_event ev;
    char val[8];
} recs;

/* Record i of every kind: node-i, sku-i, img-i, user-i, tok-i, pod-i (its usage too), kind-i, "vi". */
static void fill_all(recs *r, int i)
{
    char name[16];
#define FILL(fill, rec, fmt)                                                                                  \
    do {                                                                                                      \
        SET(name, fmt, i);                                                                                    \
        fill((rec), name);                                                                                    \
    } while (0)
    FILL(fill_host, &r->h, "node-%d");
    FILL(fill_sku, &r->k, "sku-%d");
    FILL(fill_image, &r->im, "img-%d");
    FILL(fill_user, &r->u, "user-%d");
    FILL(fill_token, &r->t, "tok-%d");
    FILL(fill_pod, &r->p, "pod-%d");
    FILL(fill_usage, &r->us, "pod-%d");
    FILL(fill_event, &r->ev, "kind-%d");
#undef FILL
    SET(r->val, "v%d", i);
}

/* Writes every record of r, and setting "k": 9 write calls. */
static void put_all(gpf_store *s, recs *r)
{
    gpf_error err = {0};
    assert_int_equal(gpf_store_setting_put(s, "k", r->val, &err), 0);
    assert_int_equal(gpf_store_host_put(s, &r->h, &err), 0);
    assert_int_equal(gpf_store_sku_put(s, &r->k, &err), 0);
    assert_int_equal(gpf_store_image_put(s, &r->im, &err), 0);
    assert_int_equal(gpf_store_user_put(s, &r->u, &err), 0);
    assert_int_equal(gpf_store_token_put(s, &r->t, &err), 0);
    assert_int_equal(gpf_store_pod_put(s, &r->p, &err), 0);
    assert_int_equal(gpf_store_usage_insert(s, &r->us, &err), 0);
    assert_int_equal(gpf_store_event_insert(s, &r->ev, &err), 0);
}

/* FNV-1a over bytes, continuing from h. */
static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *b = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

/* Adds a loaded table (count and bytes; records are zeroed before they are read) and frees it. */
static uint64_t add_table(uint64_t h, void *arr, size_t n, size_t elem)
{
    h = fnv(h, &n, sizeof n);
    h = fnv(h, arr, n * elem);
    gpf_free(arr);
    return h;
}

/* A digest of everything s holds, read through s: every table, the events, setting "k". */
static uint64_t digest(gpf_store *s)
{
    gpf_error err = {0};
    uint64_t h = 14695981039346656037ULL;
    void *arr = NULL;
    size_t n = 0;
    char val[32] = "";
    gpf_event_filter f = {0};
#define TABLE(load, T)                                                                                        \
    do {                                                                                                      \
        assert_int_equal(load(s, (T **)&arr, &n, &err), 0);                                                   \
        h = add_table(h, arr, n, sizeof(T));                                                                  \
    } while (0)
    TABLE(gpf_store_hosts_load, gpf_host_rec);
    TABLE(gpf_store_skus_load, gpf_sku);
    TABLE(gpf_store_images_load, gpf_image);
    TABLE(gpf_store_users_load, gpf_user);
    TABLE(gpf_store_tokens_load, gpf_token);
    TABLE(gpf_store_pods_load, gpf_pod);
    TABLE(gpf_store_usage_load, gpf_usage);
#undef TABLE
    assert_int_equal(gpf_store_events_list(s, &f, (gpf_event **)&arr, &n, &err), 0);
    h = add_table(h, arr, n, sizeof(gpf_event));
    int rc = gpf_store_setting_get(s, "k", val, sizeof val, &err);
    assert_true(rc == 0 || rc == GPF_ENOTFOUND);
    return fnv(h, val, sizeof val);
}

/* A ":memory:" database holding records 1 (fill_all) behind a fault wrapper, its counters at 0. */
static gpf_store *open_wrapped(void)
{
    gpf_store *inner = NULL, *s = NULL;
    gpf_error err = {0};
    if (gpf_store_open(":memory:", &inner, &err) != 0)
        fail_msg("open: %s", err.msg);
    recs r;
    fill_all(&r, 1);
    put_all(inner, &r);
    assert_int_equal(gpf_store_fault_wrap(inner, &s, &err), 0);
    assert_ptr_equal(gpf_store_fault_inner(s), inner);
    return s;
}

/* What the tests of one wrapper share: the wrapper, its inner store, records 5 (not stored)
 * and the digest of what the database held when the test began. */
typedef struct fixture {
    gpf_store *s;
    gpf_store *inner;
    recs r;
    uint64_t before;
} fixture;

static int setup(void **state)
{
    fixture *fx = GPF_NEW(fixture);
    fx->s = open_wrapped();
    fx->inner = gpf_store_fault_inner(fx->s);
    fill_all(&fx->r, 5);
    fx->before = digest(fx->inner);
    *state = fx;
    return 0;
}

/* Closes the wrapper, and with it the inner store (ASan would see a leak otherwise). */
static int teardown(void **state)
{
    fixture *fx = *state;
    gpf_store_close(fx->s);
    gpf_free(fx);
    return 0;
}

/* ---- every op through the wrapper, disarmed --------------------------------------------- */

static void test_every_op_through_wrapper(void **state)
{
    fixture *fx = *state;
    gpf_store *s = fx->s;
    gpf_error err = {0};
    assert_string_equal(s->ops->name, "fault");
    assert_string_equal(fx->inner->ops->name, "sqlite");
    assert_int_equal(gpf_store_schema_version(s), gpf_store_schema_version(fx->inner));
    assert_true(gpf_store_schema_version(s) > 0);

    recs r;
    fill_all(&r, 2);
    assert_int_equal(gpf_store_begin(s, &err), 0);
    put_all(s, &r);
    assert_true(r.us.id > 1); /* the ids came back through the wrapper */
    assert_true(r.ev.id > 1);
    r.us.end_ms = 5000;
    assert_int_equal(gpf_store_usage_update(s, &r.us, &err), 0);
    assert_int_equal(gpf_store_commit(s, &err), 0);
    assert_int_equal(gpf_store_sku_delete(s, "sku-1", &err), 0);
    assert_int_equal(gpf_store_image_delete(s, "img-1", &err), 0);
    assert_int_equal(gpf_store_image_delete(s, "img-1", &err), GPF_ENOTFOUND); /* the inner store's answer */
    assert_int_equal(gpf_store_fault_writes(s), 15);
    assert_int_equal(gpf_store_fault_failures(s), 0);

    /* What the wrapper reads is what the database holds, and reads are not writes. */
    assert_true(digest(s) == digest(fx->inner));
    char val[8];
    assert_int_equal(gpf_store_setting_get(s, "k", val, sizeof val, &err), 0);
    assert_string_equal(val, "v2");
    gpf_host_rec *hosts = NULL;
    gpf_sku *skus = NULL;
    gpf_image *images = NULL;
    gpf_usage *usage = NULL;
    gpf_event *evs = NULL;
    size_t n = 0;
    gpf_event_filter f = {.kind = "kind-2"};
    assert_int_equal(gpf_store_hosts_load(s, &hosts, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(&hosts[1], &r.h, sizeof r.h);
    assert_int_equal(gpf_store_skus_load(s, &skus, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(skus[0].name, "sku-2");
    assert_int_equal(gpf_store_images_load(s, &images, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(images[0].name, "img-2");
    assert_int_equal(gpf_store_usage_load(s, &usage, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(&usage[1], &r.us, sizeof r.us);
    assert_int_equal(gpf_store_events_list(s, &f, &evs, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(&evs[0], &r.ev, sizeof r.ev);
    gpf_free(hosts);
    gpf_free(skus);
    gpf_free(images);
    gpf_free(usage);
    gpf_free(evs);

    /* rollback passes through and is not a write */
    assert_int_equal(gpf_store_begin(s, &err), 0);
    assert_int_equal(gpf_store_setting_put(s, "k", "v3", &err), 0);
    assert_int_equal(gpf_store_rollback(s), 0);
    assert_int_equal(gpf_store_setting_get(s, "k", val, sizeof val, &err), 0);
    assert_string_equal(val, "v2");
    assert_int_equal(gpf_store_fault_writes(s), 17);
}

/* ---- failing the Nth write ---------------------------------------------------------------- */

static void test_fails_exactly_the_nth_write_transiently(void **state)
{
    fixture *fx = *state;
    gpf_store *s = fx->s;
    gpf_error err = {0};
    char key[8], val[8];
    assert_int_equal(gpf_store_setting_put(s, "fx->before", "x", &err), 0); /* counted fx->before arming */
    assert_int_equal(gpf_store_fault_arm(s, 3, GPF_STORE_FAULT_TRANSIENT, 0), 0);
    for (int i = 1; i <= 5; i++) {
        SET(key, "k%d", i);
        gpf_error_clear(&err);
        int rc = gpf_store_setting_put(s, key, "x", &err);
        if (i == 3) {
            assert_int_equal(rc, GPF_ESTORE); /* code 0: the default */
            assert_int_equal(err.code, GPF_ESTORE);
            assert_string_equal(err.msg, "store: injected fault at write 4 (setting_put)");
        } else {
            assert_int_equal(rc, 0);
        }
    }
    for (int i = 1; i <= 5; i++) {
        SET(key, "k%d", i);
        int rc = gpf_store_setting_get(gpf_store_fault_inner(s), key, val, sizeof val, &err);
        assert_int_equal(rc, i == 3 ? GPF_ENOTFOUND : 0);
    }
    assert_int_equal(gpf_store_fault_writes(s), 6);
    assert_int_equal(gpf_store_fault_failures(s), 1);

    /* reset: counters from 0, disarmed */
    gpf_store_fault_reset(s);
    assert_int_equal(gpf_store_fault_writes(s), 0);
    assert_int_equal(gpf_store_fault_failures(s), 0);
    assert_int_equal(gpf_store_setting_put(s, "k3", "x", &err), 0);
    assert_int_equal(gpf_store_fault_writes(s), 1);
}

static void test_persistent_fails_every_later_write(void **state)
{
    fixture *fx = *state;
    gpf_store *s = fx->s;
    gpf_error err = {0};
    gpf_user a, b, c;
    fill_user(&a, "a");
    fill_user(&b, "b");
    fill_user(&c, "c");
    assert_int_equal(gpf_store_fault_arm(s, 2, GPF_STORE_FAULT_PERSISTENT, GPF_EIO), 0);
    assert_int_equal(gpf_store_user_put(s, &a, &err), 0);
    fx->before = digest(fx->inner); /* with user a */
    assert_int_equal(gpf_store_user_put(s, &b, &err), GPF_EIO);
    assert_string_equal(err.msg, "store: injected fault at write 2 (user_put)");
    assert_int_equal(gpf_store_user_put(s, &c, &err), GPF_EIO);
    assert_int_equal(gpf_store_begin(s, &err), GPF_EIO);
    assert_int_equal(gpf_store_sku_delete(s, "sku-1", &err), GPF_EIO);
    assert_int_equal(gpf_store_commit(s, &err), GPF_EIO);
    /* reads, rollback and the schema version still work; nothing reached the database */
    assert_int_equal(gpf_store_rollback(s), 0);
    assert_true(gpf_store_schema_version(s) > 0);
    assert_true(digest(s) == fx->before);
    assert_int_equal(gpf_store_fault_writes(s), 6);
    assert_int_equal(gpf_store_fault_failures(s), 5);

    /* n = 0 disarms: writes pass again, counters keep running */
    assert_int_equal(gpf_store_fault_arm(s, 0, GPF_STORE_FAULT_PERSISTENT, 0), 0);
    assert_int_equal(gpf_store_user_put(s, &c, &err), 0);
    assert_int_equal(gpf_store_fault_writes(s), 7);
    assert_int_equal(gpf_store_fault_failures(s), 5);
    gpf_user *users = NULL;
    size_t n = 0;
    assert_int_equal(gpf_store_users_load(fx->inner, &users, &n, &err), 0);
    assert_int_equal(n, 3); /* by name: a, c, user-1 (seeded) */
    assert_string_equal(users[0].name, "a");
    assert_string_equal(users[1].name, "c");
    assert_string_equal(users[2].name, "user-1");
    gpf_free(users);
}

/* Re-arming replaces the earlier choice and counts from the call that arms. */
static void test_rearm_counts_from_now(void **state)
{
    fixture *fx = *state;
    gpf_store *s = fx->s;
    gpf_error err = {0};
    assert_int_equal(gpf_store_fault_arm(s, 1, GPF_STORE_FAULT_PERSISTENT, 0), 0);
    assert_int_equal(gpf_store_fault_arm(s, 2, GPF_STORE_FAULT_TRANSIENT, GPF_EUNAVAIL), 0);
    assert_int_equal(gpf_store_setting_put(s, "k", "1", &err), 0);
    assert_int_equal(gpf_store_setting_put(s, "k", "2", &err), GPF_EUNAVAIL);
    assert_int_equal(gpf_store_setting_put(s, "k", "3", &err), 0);
    assert_int_equal(gpf_store_fault_arm(s, 1, GPF_STORE_FAULT_TRANSIENT, 0), 0);
    assert_int_equal(gpf_store_setting_put(s, "k", "4", &err), GPF_ESTORE);
    assert_string_equal(err.msg, "store: injected fault at write 4 (setting_put)");
    char val[8];
    assert_int_equal(gpf_store_setting_get(s, "k", val, sizeof val, &err), 0);
    assert_string_equal(val, "3");
}

/* ---- commit and begin ---------------------------------------------------------------------- */

/* What a pod's start writes: in one transaction its record, its usage record and an event
 * (begin and 3 writes), then the commit's code. */
static int pod_tx(gpf_store *s, recs *r, gpf_error *err)
{
    assert_int_equal(gpf_store_begin(s, err), 0);
    assert_int_equal(gpf_store_pod_put(s, &r->p, err), 0);
    assert_int_equal(gpf_store_usage_insert(s, &r->us, err), 0);
    assert_int_equal(gpf_store_event_insert(s, &r->ev, err), 0);
    return gpf_store_commit(s, err);
}

static void test_failed_commit_leaves_nothing(void **state)
{
    fixture *fx = *state;
    gpf_store *s = fx->s;
    gpf_error err = {0};
    assert_int_equal(gpf_store_fault_arm(s, 5, GPF_STORE_FAULT_TRANSIENT, 0), 0);
    assert_int_equal(pod_tx(s, &fx->r, &err), GPF_ESTORE);
    assert_string_equal(err.msg, "store: injected fault at write 5 (commit)");
    /* nothing of the transaction landed, and none is left open */
    assert_true(digest(fx->inner) == fx->before);
    assert_int_equal(gpf_store_commit(fx->inner, &err), GPF_ESTATE);
    assert_int_equal(gpf_store_rollback(s), 0); /* what the caller does next: nothing left to undo */

    /* the same transaction, unarmed, commits */
    assert_int_equal(pod_tx(s, &fx->r, &err), 0);
    assert_true(digest(fx->inner) != fx->before);
    gpf_pod *pods = NULL;
    size_t n = 0;
    assert_int_equal(gpf_store_pods_load(fx->inner, &pods, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(&pods[1], &fx->r.p, sizeof fx->r.p);
    gpf_free(pods);
    assert_int_equal(gpf_store_fault_writes(s), 10);
    assert_int_equal(gpf_store_fault_failures(s), 1);
}

/* A failed write inside a transaction leaves it open for the caller to roll back; a failed
 * begin opens none, so the writes after it land on their own. */
static void test_failed_write_in_transaction_and_failed_begin(void **state)
{
    fixture *fx = *state;
    gpf_store *s = fx->s;
    gpf_error err = {0};
    assert_int_equal(gpf_store_fault_arm(s, 3, GPF_STORE_FAULT_TRANSIENT, 0), 0);
    assert_int_equal(gpf_store_begin(s, &err), 0);
    assert_int_equal(gpf_store_pod_put(s, &fx->r.p, &err), 0);
    assert_int_equal(gpf_store_usage_insert(s, &fx->r.us, &err), GPF_ESTORE);
    assert_int_equal(fx->r.us.id, 0); /* never reached the database */
    assert_int_equal(gpf_store_rollback(s), 0);
    assert_true(digest(fx->inner) == fx->before);

    assert_int_equal(gpf_store_fault_arm(s, 1, GPF_STORE_FAULT_TRANSIENT, 0), 0);
    assert_int_equal(gpf_store_begin(s, &err), GPF_ESTORE);
    assert_string_equal(err.msg, "store: injected fault at write 4 (begin)");
    assert_int_equal(gpf_store_pod_put(s, &fx->r.p, &err), 0);
    assert_int_equal(gpf_store_commit(s, &err), GPF_ESTATE); /* no transaction was open */
    assert_true(digest(fx->inner) != fx->before);
}

/* ---- every write op counts one and can be failed ----------------------------------------- */

typedef struct write_case {
    const char *name;
    int (*run)(gpf_store *s, gpf_error *err);
} write_case;

static int run_begin(gpf_store *s, gpf_error *err)
{
    return gpf_store_begin(s, err);
}

/* commit of a transaction holding one setting (begin is not counted: the wrapper is reset). */
static int run_commit(gpf_store *s, gpf_error *err)
{
    return gpf_store_commit(s, err);
}

static int run_setting_put(gpf_store *s, gpf_error *err)
{
    return gpf_store_setting_put(s, "k", "new", err);
}

#define RUN_REC(op, T, fill, key)                                                                             \
    static int run_##op(gpf_store *s, gpf_error *err)                                                         \
    {                                                                                                         \
        T rec;                                                                                                \
        fill(&rec, key);                                                                                      \
        return gpf_store_##op(s, &rec, err);                                                                  \
    }

RUN_REC(host_put, gpf_host_rec, fill_host, "node-9")
RUN_REC(sku_put, gpf_sku, fill_sku, "sku-9")
RUN_REC(image_put, gpf_image, fill_image, "img-9")
RUN_REC(user_put, gpf_user, fill_user, "user-9")
RUN_REC(token_put, gpf_token, fill_token, "tok-9")
RUN_REC(pod_put, gpf_pod, fill_pod, "pod-9")
RUN_REC(usage_insert, gpf_usage, fill_usage, "pod-9")
RUN_REC(event_insert, gpf_event, fill_event, "kind-9")

static int run_sku_delete(gpf_store *s, gpf_error *err)
{
    return gpf_store_sku_delete(s, "sku-1", err);
}

static int run_image_delete(gpf_store *s, gpf_error *err)
{
    return gpf_store_image_delete(s, "img-1", err);
}

/* Rewrites the seeded usage record (id 1). */
static int run_usage_update(gpf_store *s, gpf_error *err)
{
    gpf_usage u;
    fill_usage(&u, "pod-1");
    u.id = 1;
    u.end_ms = 9000;
    return gpf_store_usage_update(s, &u, err);
}

static const write_case write_cases[] = {
    {"begin", run_begin},
    {"commit", run_commit},
    {"setting_put", run_setting_put},
    {"host_put", run_host_put},
    {"sku_put", run_sku_put},
    {"sku_delete", run_sku_delete},
    {"image_put", run_image_put},
    {"image_delete", run_image_delete},
    {"user_put", run_user_put},
    {"token_put", run_token_put},
    {"pod_put", run_pod_put},
    {"usage_insert", run_usage_insert},
    {"usage_update", run_usage_update},
    {"event_insert", run_event_insert},
};

/* Opens commit's transaction (with a change in it) before the wrapper is reset. */
static void prepare(gpf_store *s, const write_case *c)
{
    gpf_error err = {0};
    if (c->run != run_commit)
        return;
    assert_int_equal(gpf_store_begin(s, &err), 0);
    assert_int_equal(gpf_store_setting_put(s, "k", "in-tx", &err), 0);
}

/* For each write op: armed for the next write, it fails with the chosen code before the
 * database changes; reads in between count nothing; the same call then passes and changes it. */
static void test_every_write_op_counts_and_fails(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof write_cases / sizeof write_cases[0]; i++) {
        const write_case *c = &write_cases[i];
        gpf_store *s = open_wrapped();
        gpf_store *inner = gpf_store_fault_inner(s);
        gpf_error err = {0};
        char msg[96];
        uint64_t before = digest(inner);
        int code = i % 2 ? GPF_EIO : GPF_ESTORE;

        prepare(s, c);
        gpf_store_fault_reset(s);
        assert_int_equal(gpf_store_fault_arm(s, 1, GPF_STORE_FAULT_TRANSIENT, code), 0);
        (void)digest(s); /* reads: not counted, not failed */
        assert_int_equal(gpf_store_fault_writes(s), 0);
        if (c->run(s, &err) != code)
            fail_msg("%s: not failed with %d (%s)", c->name, code, err.msg);
        SET(msg, "store: injected fault at write 1 (%s)", c->name);
        assert_string_equal(err.msg, msg);
        assert_int_equal(gpf_store_rollback(s), 0);
        if (digest(inner) != before)
            fail_msg("%s: the failed write changed the database", c->name);
        assert_int_equal(gpf_store_fault_writes(s), 1);
        assert_int_equal(gpf_store_fault_failures(s), 1);

        prepare(s, c);
        if (c->run(s, &err) != 0)
            fail_msg("%s: failed once disarmed: %s", c->name, err.msg);
        assert_int_equal(gpf_store_fault_failures(s), 1);
        assert_int_equal(gpf_store_rollback(s), 0); /* begin's transaction; a no-op otherwise */
        if (c->run != run_begin && digest(inner) == before)
            fail_msg("%s: the passed write changed nothing", c->name);
        gpf_store_close(s);
    }
}

/* ---- the controls' arguments -------------------------------------------------------------- */

static void test_controls_refuse_other_stores(void **state)
{
    (void)state;
    gpf_store *inner = NULL, *s = NULL;
    gpf_error err = {0};
    assert_int_equal(gpf_store_open(":memory:", &inner, &err), 0);
    assert_int_equal(gpf_store_fault_arm(inner, 1, GPF_STORE_FAULT_TRANSIENT, 0), GPF_EINVAL);
    assert_int_equal(gpf_store_fault_arm(NULL, 1, GPF_STORE_FAULT_TRANSIENT, 0), GPF_EINVAL);
    assert_int_equal(gpf_store_fault_writes(inner), -1);
    assert_int_equal(gpf_store_fault_failures(NULL), -1);
    assert_null(gpf_store_fault_inner(inner));
    gpf_store_fault_reset(inner);
    gpf_store_fault_reset(NULL);
    assert_int_equal(gpf_store_fault_wrap(NULL, &s, &err), GPF_EINVAL);
    assert_int_equal(gpf_store_fault_wrap(inner, NULL, &err), GPF_EINVAL); /* closes inner */

    assert_int_equal(gpf_store_open(":memory:", &inner, &err), 0);
    assert_int_equal(gpf_store_fault_wrap(inner, &s, &err), 0);
    assert_int_equal(gpf_store_fault_arm(s, -1, GPF_STORE_FAULT_TRANSIENT, 0), GPF_EINVAL);
    assert_int_equal(gpf_store_fault_arm(s, 1, GPF_STORE_FAULT_TRANSIENT, 5), GPF_EINVAL);
    assert_int_equal(gpf_store_fault_arm(s, 1, (gpf_store_fault_mode)9, 0), GPF_EINVAL);
    assert_int_equal(gpf_store_setting_put(s, "k", "v", &err), 0); /* nothing was armed */
    /* a wrapper around a wrapper: each counts; the inner one's fault comes back through the outer */
    gpf_store *outer = NULL;
    assert_int_equal(gpf_store_fault_wrap(s, &outer, &err), 0);
    assert_int_equal(gpf_store_fault_arm(s, 1, GPF_STORE_FAULT_TRANSIENT, GPF_EIO), 0);
    assert_int_equal(gpf_store_setting_put(outer, "k", "w", &err), GPF_EIO);
    assert_int_equal(gpf_store_fault_writes(outer), 1);
    assert_int_equal(gpf_store_fault_writes(s), 2);
    gpf_store_close(outer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_op_dispatches_to_its_own),
        cmocka_unit_test(test_null_store_refused),
        cmocka_unit_test_setup_teardown(test_every_op_through_wrapper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fails_exactly_the_nth_write_transiently, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persistent_fails_every_later_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rearm_counts_from_now, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_commit_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_in_transaction_and_failed_begin, setup, teardown),
        cmocka_unit_test(test_every_write_op_counts_and_fails),
        cmocka_unit_test(test_controls_refuse_other_stores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
