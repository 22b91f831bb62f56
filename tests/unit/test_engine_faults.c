/* Store faults against every engine mutation (issue 15, item 3).
 *
 * rows[] below is the table of mutations: each names the engine.h function it drives, sets
 * up its precondition (prep) and runs it once (run). For each row the test
 *   - runs it on a healthy store and counts its writes, N (gpf_store_fault_writes), which
 *     must be the row's documented count;
 *   - then, for every write i in 1..N, failed once (transient: GPF_EUNAVAIL) and for good
 *     (persistent: GPF_EIO), rebuilds the precondition on a fresh engine, runs the mutation
 *     with write i failing and checks that
 *       (a) the caller got the injected code, or for housekeeping (no caller) that the
 *           tick's failure counter rose by one;
 *       (b) the engine's memory is as it was: a dump of what it exposes (hosts with their
 *           ledger use and drift, pods, usage, users, SKUs, images, the counters that are
 *           state) and of its internals (tokens, each host's bookkeeping, the raw bytes of
 *           every record and of every ledger host), byte for byte; a row that restarts the
 *           engine instead checks that the engine did not open;
 *       (c) the database is as it was: every table read back through the fault store's
 *           inner store (gpf_store_fault_inner), the events and the join token included;
 *       (d) with the store healthy again, the same mutation (for housekeeping: the next
 *           tick) succeeds, makes the same N writes and changes the database;
 *   - and runs it once with the durability barrier failing (gpf_store_fault_fail_sync: an
 *     fsync failed): a caller must get GPF_ESTORE, never an acknowledgement.
 *
 * Coverage: test_table_covers_engine_h reads src/engine/engine.h, collects every function
 * it declares, and fails unless each one is classified in kinds[] (mutating, or not with
 * the reason), and unless every mutating one is driven by at least one row. A function
 * added to engine.h thus fails this test until it is classified and, when it changes
 * state, given a row. Engine on a fault-wrapped in-memory store with a fake clock. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "engine/engine_int.h" /* white box: tokens, host bookkeeping, the transaction */
#include "store/store_fault.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/secret.h"

#include "helpers/engine_fixture.h"
#include "helpers/oci_fixture.h"

#define TRANSIENT_CODE GPF_EUNAVAIL
#define PERSISTENT_CODE GPF_EIO

/* ---- what a precondition leaves for its mutation ------------------------------------ */

typedef struct ctx {
    gpf_pod pod;        /* the pod the mutation is about */
    gpf_pod pod2;       /* a second one, where a mutation is about two */
    char src[256];      /* an image layout prep made */
    char join_id[64];   /* a join token prep made */
} ctx;

enum {
    ROW_BARE = 1,       /* the engine only (nothing bootstrapped) */
    ROW_TICK = 2,       /* housekeeping: no caller, failures counted by the tick */
    ROW_OPEN = 4,       /* the mutation is a restart (gpf_engine_open's recovery) */
    ROW_SKOPEO = 8,     /* imports an image: needs skopeo */
};

typedef struct row {
    const char *name;
    const char *fn;     /* the engine.h function it drives */
    int flags;          /* ROW_* */
    long writes;        /* N: the writes it makes on a healthy store */
    void (*prep)(ef_fixture *f, ctx *c);
    int (*run)(ef_fixture *f, ctx *c, gpf_error *err);
} row;

/* ---- preconditions ------------------------------------------------------------------- */

static void prep_none(ef_fixture *f, ctx *c)
{
    (void)f;
    (void)c;
}

static void prep_starting(ef_fixture *f, ctx *c)
{
    ef_launch(f, &f->alice, "whole", &c->pod, 0);
}

static void prep_running(ef_fixture *f, ctx *c)
{
    prep_starting(f, c);
    ef_agent_says(f, c->pod.id, GPF_POD_RUNNING, 0);
}

static void prep_stopping(ef_fixture *f, ctx *c)
{
    prep_running(f, c);
    gpf_error err = {0};
    assert_int_equal(gpf_engine_pod_stop(f->e, &f->alice, c->pod.id, NULL, &err), 0);
}

static void host_is(ef_fixture *f, gpf_host_state st)
{
    gpf_host_rec h;
    gpf_error err = {0};
    assert_int_equal(gpf_engine_host_get(f->e, "h1", &h, NULL, &err), 0);
    assert_int_equal(h.state, st);
}

/* Time passes beyond the heartbeat limit and the tick makes h1 unreachable. */
static void silence_host(ef_fixture *f)
{
    f->now += 11000;
    gpf_engine_tick(f->e);
    host_is(f, GPF_HOST_UNREACHABLE);
}

/* ... and beyond the host grace: the tick loses h1 (its pods with it). */
static void lose_host(ef_fixture *f)
{
    silence_host(f);
    f->now += 600000;
    gpf_engine_tick(f->e);
    host_is(f, GPF_HOST_LOST);
}

static void prep_lost(ef_fixture *f, ctx *c)
{
    (void)c;
    lose_host(f);
}

static void prep_running_lost(ef_fixture *f, ctx *c)
{
    prep_running(f, c);
    lose_host(f);
}

static void prep_running_unreachable(ef_fixture *f, ctx *c)
{
    prep_running(f, c);
    silence_host(f);
}

/* h's agent (re)starts: its own token when it has one (ef_credential), else the join token. */
static int do_register(ef_fixture *f, const gpf_host_rec *h, gpf_error *err)
{
    char tok[96];
    int hb = 0;
    int rc = gpf_engine_agent_register(f->e, ef_credential(f, h->id), h, tok, sizeof tok, &hb, err);
    if (rc == 0)
        ef_keep_token(f, h->id, tok);
    return rc;
}

/* A join token made by the admin (no expiry, unlimited). */
static void prep_join_token(ef_fixture *f, ctx *c)
{
    gpf_join_token t;
    gpf_error err = {0};
    char secret[96];
    assert_int_equal(gpf_engine_join_token_create(f->e, &f->admin, "rack-2", 0, -1, secret, sizeof secret, &t, &err),
                     0);
    snprintf(c->join_id, sizeof c->join_id, "%s", t.id);
}

/* h1 re-keyed by the admin; its agent lost its token (a reinstalled machine). */
static void prep_rekeyed(ef_fixture *f, ctx *c)
{
    gpf_error err = {0};
    (void)c;
    assert_int_equal(gpf_engine_host_rekey(f->e, &f->admin, "h1", NULL, &err), 0);
    f->nhost_toks = 0;
}

static int run_join_token_create(ef_fixture *f, ctx *c, gpf_error *err)
{
    char secret[96];
    (void)c;
    return gpf_engine_join_token_create(f->e, &f->admin, "rack-3", 3600000, 2, secret, sizeof secret, NULL, err);
}

static int run_join_token_revoke(ef_fixture *f, ctx *c, gpf_error *err)
{
    return gpf_engine_join_token_revoke(f->e, &f->admin, c->join_id, NULL, err);
}

static int run_host_rekey(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    return gpf_engine_host_rekey(f->e, &f->admin, "h1", NULL, err);
}

/* h1's reinstalled agent registers with the join token (after prep_rekeyed). */
static int run_register_rekeyed(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    gpf_host_rec h = ef_host_h100();
    return do_register(f, &h, err);
}

static void prep_failing(ef_fixture *f, ctx *c)
{
    (void)c;
    gpf_host_rec h = ef_host_failing();
    gpf_error err = {0};
    assert_int_equal(do_register(f, &h, &err), 0);
}

static void prep_overridden(ef_fixture *f, ctx *c)
{
    prep_failing(f, c);
    gpf_error err = {0};
    assert_int_equal(gpf_engine_host_override(f->e, &f->admin, "h1", 1, "known slow link", NULL, &err), 0);
}

/* A running pod whose host the database has as lost (what an old engine that crashed
 * between writing the host and its pods left), after a restart on that database. */
static void prep_unreachable(ef_fixture *f, ctx *c)
{
    gpf_host_rec h;
    gpf_error err = {0};
    prep_running(f, c);
    assert_int_equal(gpf_engine_host_get(f->e, "h1", &h, NULL, &err), 0);
    h.state = GPF_HOST_LOST;
    assert_int_equal(gpf_store_host_put(f->store, &h, &err), 0);
    gpf_engine_free(f->e);
    assert_int_equal(ef_engine_open(f, &err), 0);
}

/* Two live pods booked on the same GPU in the database (the second written behind the
 * engine's back): the restart must fail the second. */
static void prep_conflict(ef_fixture *f, ctx *c)
{
    gpf_error err = {0};
    prep_starting(f, c);
    gpf_pod b = c->pod;
    snprintf(b.id, sizeof b.id, "pod-conflict");
    b.created_ms++;
    assert_int_equal(gpf_store_pod_put(f->store, &b, &err), 0);
}

/* A heartbeat of h1 reporting pods (id, state) and, with ngpus >= 0, that many of its GPUs. */
static int beat(ef_fixture *f, const char *pod, gpf_pod_state st, int ngpus, gpf_error *err)
{
    gpf_agent_pod_report pr;
    gpf_hw_gpu *g = gpf_calloc(GPF_MAX_HOST_GPUS, sizeof *g);
    gpf_agent_report r;
    memset(&r, 0, sizeof r);
    memset(&pr, 0, sizeof pr);
    if (pod) {
        snprintf(pr.id, sizeof pr.id, "%s", pod);
        pr.state = st;
        pr.idle_s = -1;
        r.pods = &pr;
        r.npods = 1;
    }
    if (ngpus >= 0) {
        r.has_gpus = 1;
        r.gpus = g;
        r.ngpus = ngpus;
        for (int i = 0; i < ngpus; i++)
            snprintf(g[i].uuid, sizeof g[i].uuid, "GPU-0000000%d", i);
    }
    int rc = gpf_engine_agent_heartbeat(f->e, &f->agent, &r, err);
    gpf_free(g);
    return rc;
}

static void prep_reported(ef_fixture *f, ctx *c)
{
    gpf_error err = {0};
    prep_running(f, c);
    f->now += 1000;
    assert_int_equal(beat(f, c->pod.id, GPF_POD_RUNNING, -1, &err), 0);
    f->now += 1000;
}

static void prep_gpu_missing(ef_fixture *f, ctx *c)
{
    (void)c;
    gpf_error err = {0};
    assert_int_equal(beat(f, NULL, 0, 1, &err), 0);
}

static void prep_two_pods(ef_fixture *f, ctx *c)
{
    gpf_pod mig;
    prep_running(f, c);
    ef_launch(f, &f->bob, "mig1g", &mig, 0); /* still starting when the host goes silent */
    f->now += 11000;
}

/* Two running pods on h1, then unreachable for the whole host grace (the next tick loses
 * it), one of them asked to stop meanwhile (a pod still starting would have failed after
 * the start timeout, long before the grace ends). */
static void prep_two_pods_grace_over(ef_fixture *f, ctx *c)
{
    gpf_pod mig;
    gpf_error err = {0};
    prep_running(f, c);
    ef_launch(f, &f->bob, "mig1g", &mig, 0);
    ef_agent_says(f, mig.id, GPF_POD_RUNNING, 0);
    silence_host(f);
    assert_int_equal(gpf_engine_pod_stop(f->e, &f->bob, mig.id, NULL, &err), 0);
    f->now += 600000;
}

static void prep_timed_out(ef_fixture *f, ctx *c)
{
    gpf_error err = {0};
    prep_starting(f, c);
    f->now += 121000;
    assert_int_equal(gpf_engine_agent_heartbeat(f->e, &f->agent, NULL, &err), 0); /* the host is alive */
}

static void layout(ef_fixture *f, ctx *c, const char *name, const char *text)
{
    of_image im;
    snprintf(c->src, sizeof c->src, "%s/%s", f->dir, name);
    of_make_layout(c->src, "latest", text, &im);
}

static void prep_layout(ef_fixture *f, ctx *c)
{
    layout(f, c, "src-a", "first");
}

static void prep_imported(ef_fixture *f, ctx *c)
{
    gpf_error err = {0};
    layout(f, c, "src-a", "first");
    assert_int_equal(gpf_engine_image_import(f->e, &f->admin, "base", c->src, NULL, NULL, &err), 0);
    layout(f, c, "src-b", "second");
}

/* ---- mutations ----------------------------------------------------------------------- */

static int run_bootstrap(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    char admin[96], join[96];
    return gpf_engine_bootstrap(f->e, "", admin, sizeof admin, join, sizeof join, err);
}

static int run_bootstrap_join(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    char admin[96], join[96];
    return gpf_engine_bootstrap(f->e, "gpfjoin_configured", admin, sizeof admin, join, sizeof join, err);
}

static int run_token_create(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    char secret[96];
    return gpf_engine_token_create(f->e, &f->admin, "alice", NULL, secret, sizeof secret, NULL, err);
}

static int run_user_create(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    gpf_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.name, sizeof u.name, "carol");
    u.role = GPF_ROLE_FINANCE;
    return gpf_engine_user_create(f->e, &f->admin, &u, NULL, err);
}

static int run_user_key(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    gpf_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.name, sizeof u.name, "alice");
    snprintf(u.ssh_pubkey, sizeof u.ssh_pubkey, "%.60s new", EF_KEY);
    return gpf_engine_user_update(f->e, &f->alice, &u, GPF_USER_KEY, NULL, err);
}

static int run_user_role(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    gpf_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.name, sizeof u.name, "bob");
    u.role = GPF_ROLE_OPERATOR;
    return gpf_engine_user_update(f->e, &f->admin, &u, GPF_USER_ROLE, NULL, err);
}

static int set_disabled(ef_fixture *f, const char *name, int disabled, gpf_error *err)
{
    gpf_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.name, sizeof u.name, "%s", name);
    u.disabled = disabled;
    return gpf_engine_user_update(f->e, &f->admin, &u, GPF_USER_DISABLED, NULL, err);
}

static int run_user_disable(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    return set_disabled(f, "alice", 1, err);
}

static void prep_alice_disabled(ef_fixture *f, ctx *c)
{
    gpf_error err = {0};
    (void)c;
    assert_int_equal(set_disabled(f, "alice", 1, &err), 0);
}

static int run_user_enable(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    return set_disabled(f, "alice", 0, err);
}

static int run_user_delete(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    return gpf_engine_user_delete(f->e, &f->admin, "alice", err);
}

/* alice revokes her own token (the one the fixture made). */
static int run_token_revoke(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    gpf_token *t = NULL;
    size_t n = 0;
    assert_int_equal(gpf_engine_token_list(f->e, &f->alice, NULL, 0, &t, &n, err), 0);
    assert_int_equal(n, 1);
    int rc = gpf_engine_token_revoke(f->e, &f->alice, t[0].id, err);
    gpf_free(t);
    return rc;
}

/* A minute after the fixture's tokens were used: their last use is due to be written. */
static void prep_tokens_used(ef_fixture *f, ctx *c)
{
    (void)c;
    f->now += GPF_TOKEN_USE_FLUSH_MS;
}

static int run_token_use_flush(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    (void)err;
    gpf_engine_token_use_flush(f->e, 0);
    return 0;
}

static int run_sku_create(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    gpf_sku k;
    assert_int_equal(gpf_engine_sku_get(f->e, "whole", &k, NULL), 0);
    snprintf(k.name, sizeof k.name, "whole2");
    k.slice.gpu_count = 2;
    return gpf_engine_sku_create(f->e, &f->admin, &k, NULL, err);
}

static int run_sku_update(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    gpf_sku k;
    assert_int_equal(gpf_engine_sku_get(f->e, "whole", &k, NULL), 0);
    k.cpus = 4;
    return gpf_engine_sku_update(f->e, &f->admin, &k, NULL, err);
}

static int run_sku_delete(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    return gpf_engine_sku_delete(f->e, &f->admin, "mig1g", err);
}

static int run_image_import(ef_fixture *f, ctx *c, gpf_error *err)
{
    return gpf_engine_image_import(f->e, &f->admin, "base", c->src, NULL, NULL, err);
}

static int run_image_ensure(ef_fixture *f, ctx *c, gpf_error *err)
{
    int imported = 0;
    int rc = gpf_engine_image_ensure(f->e, "default", c->src, &imported, NULL, err);
    assert_int_equal(imported, rc == 0);
    return rc;
}

static int run_image_delete(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    return gpf_engine_image_delete(f->e, &f->admin, "base", err);
}

static int run_launch(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    gpf_launch_req req;
    memset(&req, 0, sizeof req);
    snprintf(req.sku, sizeof req.sku, "whole");
    return gpf_engine_pod_launch(f->e, &f->alice, &req, NULL, err);
}

static int run_stop(ef_fixture *f, ctx *c, gpf_error *err)
{
    return gpf_engine_pod_stop(f->e, &f->alice, c->pod.id, NULL, err);
}

static int run_says_running(ef_fixture *f, ctx *c, gpf_error *err)
{
    return ef_agent_status(f, c->pod.id, GPF_POD_RUNNING, err);
}

static int run_says_stopped(ef_fixture *f, ctx *c, gpf_error *err)
{
    return ef_agent_status(f, c->pod.id, GPF_POD_STOPPED, err);
}

static int run_says_failed(ef_fixture *f, ctx *c, gpf_error *err)
{
    return ef_agent_status(f, c->pod.id, GPF_POD_FAILED, err);
}

/* c->pod stopping and c->pod2 (bob's MIG pod) starting on h1. */
static void prep_stopping_and_starting(ef_fixture *f, ctx *c)
{
    prep_stopping(f, c);
    ef_launch(f, &f->bob, "mig1g", &c->pod2, 0);
}

/* One batch: pod2 running, pod stopped, and a report about a pod h1 does not have (refused,
 * counted, nothing written). */
static int run_says_batch(ef_fixture *f, ctx *c, gpf_error *err)
{
    gpf_agent_status_item it[3];
    gpf_error res[3];
    memset(it, 0, sizeof it);
    snprintf(it[0].pod_id, sizeof it[0].pod_id, "%s", c->pod2.id);
    it[0].st.state = GPF_POD_RUNNING;
    it[0].st.ssh_port = 22002;
    snprintf(it[1].pod_id, sizeof it[1].pod_id, "%s", c->pod.id);
    it[1].st.state = GPF_POD_STOPPED;
    snprintf(it[2].pod_id, sizeof it[2].pod_id, "pod-elsewhere");
    it[2].st.state = GPF_POD_RUNNING;
    return gpf_engine_agent_pod_status_batch(f->e, &f->agent, it, 3, res, err);
}

static int run_register_new(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    gpf_host_rec h = ef_host_h100();
    snprintf(h.id, sizeof h.id, "h2");
    for (int i = 0; i < h.ngpus; i++)
        snprintf(h.gpus[i].uuid, sizeof h.gpus[i].uuid, "GPU-2000000%d", i);
    h.preflight = GPF_PREFLIGHT_WARN;
    h.nfindings = 1;
    snprintf(h.findings[0].check, sizeof h.findings[0].check, "thermal");
    h.findings[0].level = GPF_PREFLIGHT_WARN;
    return do_register(f, &h, err);
}

static int run_register_failing(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    gpf_host_rec h = ef_host_failing();
    return do_register(f, &h, err);
}

/* h1 comes back without GPU 0, where the running pod is booked: the pod fails. */
static int run_register_shrunk(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    gpf_host_rec h = ef_host_h100();
    h.gpus[0] = h.gpus[1];
    h.ngpus = 1;
    return do_register(f, &h, err);
}

static int run_bare_beat(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    return gpf_engine_agent_heartbeat(f->e, &f->agent, NULL, err);
}

static int run_beat_pod_failed(ef_fixture *f, ctx *c, gpf_error *err)
{
    return beat(f, c->pod.id, GPF_POD_FAILED, -1, err);
}

static int run_beat_pod(ef_fixture *f, ctx *c, gpf_error *err)
{
    return beat(f, c->pod.id, GPF_POD_RUNNING, -1, err);
}

static int run_beat_no_pods(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    return beat(f, NULL, 0, -1, err);
}

static int run_beat_one_gpu(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    return beat(f, NULL, 0, 1, err);
}

static int run_beat_two_gpus(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    return beat(f, NULL, 0, 2, err);
}

static int run_commands(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    gpf_agent_cmd *cmds = NULL;
    size_t n = 0;
    int64_t seq = 0;
    int rc = gpf_engine_agent_commands(f->e, &f->agent, 0, 0, &cmds, &n, &seq, err);
    gpf_free(cmds);
    return rc;
}

static int run_override_set(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    return gpf_engine_host_override(f->e, &f->admin, "h1", 1, "known slow link", NULL, err);
}

static int run_override_clear(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    return gpf_engine_host_override(f->e, &f->admin, "h1", 0, NULL, NULL, err);
}

static int run_tick(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    (void)err;
    gpf_engine_tick(f->e);
    return 0;
}

static int run_restart(ef_fixture *f, ctx *c, gpf_error *err)
{
    (void)c;
    gpf_engine_free(f->e);
    f->e = NULL;
    return ef_engine_open(f, err);
}

/* ---- the table ------------------------------------------------------------------------ */

static const row rows[] = {
    {"bootstrap", "gpf_engine_bootstrap", ROW_BARE, 6, prep_none, run_bootstrap},
    {"bootstrap_join_token", "gpf_engine_bootstrap", 0, 4, prep_none, run_bootstrap_join},
    {"token_create", "gpf_engine_token_create", 0, 4, prep_none, run_token_create},
    {"token_revoke", "gpf_engine_token_revoke", 0, 4, prep_none, run_token_revoke},
    {"token_use_flush", "gpf_engine_token_use_flush", ROW_TICK, 6, prep_tokens_used, run_token_use_flush},
    {"user_create", "gpf_engine_user_create", 0, 4, prep_none, run_user_create},
    {"user_update_key", "gpf_engine_user_update", 0, 4, prep_none, run_user_key},
    {"user_update_role", "gpf_engine_user_update", 0, 4, prep_none, run_user_role},
    {"user_disable", "gpf_engine_user_update", 0, 5, prep_running, run_user_disable},
    {"user_enable", "gpf_engine_user_update", 0, 4, prep_alice_disabled, run_user_enable},
    {"user_delete", "gpf_engine_user_delete", 0, 7, prep_running, run_user_delete},
    {"sku_create", "gpf_engine_sku_create", 0, 1, prep_none, run_sku_create},
    {"sku_update", "gpf_engine_sku_update", 0, 1, prep_none, run_sku_update},
    {"sku_delete", "gpf_engine_sku_delete", 0, 1, prep_none, run_sku_delete},
    {"image_import", "gpf_engine_image_import", ROW_SKOPEO, 1, prep_layout, run_image_import},
    {"image_import_replace", "gpf_engine_image_import", ROW_SKOPEO, 1, prep_imported, run_image_import},
    {"image_ensure", "gpf_engine_image_ensure", ROW_SKOPEO, 1, prep_layout, run_image_ensure},
    {"image_delete", "gpf_engine_image_delete", ROW_SKOPEO, 1, prep_imported, run_image_delete},
    {"pod_launch", "gpf_engine_pod_launch", 0, 3, prep_none, run_launch},
    {"pod_stop", "gpf_engine_pod_stop", 0, 1, prep_running, run_stop},
    {"pod_stop_host_unreachable", "gpf_engine_pod_stop", 0, 4, prep_unreachable, run_stop},
    {"pod_status_running", "gpf_engine_agent_pod_status", 0, 4, prep_starting, run_says_running},
    {"pod_status_stopped", "gpf_engine_agent_pod_status", 0, 4, prep_stopping, run_says_stopped},
    {"pod_status_failed", "gpf_engine_agent_pod_status", 0, 4, prep_running, run_says_failed},
    {"pod_status_host_back", "gpf_engine_agent_pod_status", 0, 4, prep_running_lost, run_says_running},
    {"pod_status_batch", "gpf_engine_agent_pod_status_batch", 0, 6, prep_stopping_and_starting, run_says_batch},
    {"register_new_host", "gpf_engine_agent_register", 0, 7, prep_none, run_register_new},
    {"register_again_failing", "gpf_engine_agent_register", 0, 7, prep_none, run_register_failing},
    {"register_gpu_gone", "gpf_engine_agent_register", 0, 8, prep_running, run_register_shrunk},
    {"register_rekeyed_host", "gpf_engine_agent_register", 0, 7, prep_rekeyed, run_register_rekeyed},
    {"join_token_create", "gpf_engine_join_token_create", 0, 4, prep_none, run_join_token_create},
    {"join_token_revoke", "gpf_engine_join_token_revoke", 0, 4, prep_join_token, run_join_token_revoke},
    {"host_rekey", "gpf_engine_host_rekey", 0, 5, prep_none, run_host_rekey},
    {"heartbeat_host_back", "gpf_engine_agent_heartbeat", 0, 4, prep_lost, run_bare_beat},
    {"heartbeat_back_from_unreachable", "gpf_engine_agent_heartbeat", 0, 4, prep_running_unreachable, run_beat_pod},
    {"heartbeat_pod_died", "gpf_engine_agent_heartbeat", 0, 5, prep_running, run_beat_pod_failed},
    {"heartbeat_pod_gone", "gpf_engine_agent_heartbeat", 0, 5, prep_reported, run_beat_no_pods},
    {"heartbeat_drift", "gpf_engine_agent_heartbeat", 0, 3, prep_none, run_beat_one_gpu},
    {"heartbeat_drift_cleared", "gpf_engine_agent_heartbeat", 0, 3, prep_gpu_missing, run_beat_two_gpus},
    {"commands_host_back", "gpf_engine_agent_commands", 0, 4, prep_lost, run_commands},
    {"override_set", "gpf_engine_host_override", 0, 4, prep_failing, run_override_set},
    {"override_clear", "gpf_engine_host_override", 0, 4, prep_overridden, run_override_clear},
    {"tick_host_unreachable", "gpf_engine_tick", ROW_TICK, 4, prep_two_pods, run_tick},
    {"tick_host_lost", "gpf_engine_tick", ROW_TICK, 10, prep_two_pods_grace_over, run_tick},
    {"tick_start_timeout", "gpf_engine_tick", ROW_TICK, 3, prep_timed_out, run_tick},
    {"restart_recovery", "gpf_engine_open", ROW_OPEN, 3, prep_conflict, run_restart},
};

#define NROWS (sizeof rows / sizeof rows[0])

/* Every function engine.h declares: whether it changes state (then rows[] must drive it),
 * else why not. */
static const struct {
    const char *fn;
    int mutates;
    const char *why_not;
} kinds[] = {
    {"gpf_engine_open", 1, NULL}, /* recovery fails pods that no longer fit */
    {"gpf_engine_free", 0, "lifecycle: frees memory, writes nothing"},
    {"gpf_engine_bootstrap", 1, NULL},
    {"gpf_engine_authenticate", 0, "read"},
    {"gpf_engine_user_create", 1, NULL},
    {"gpf_engine_user_get", 0, "read"},
    {"gpf_engine_user_list", 0, "read"},
    {"gpf_engine_user_update", 1, NULL},
    {"gpf_engine_user_delete", 1, NULL},
    {"gpf_engine_token_create", 1, NULL},
    {"gpf_engine_token_list", 0, "read"},
    {"gpf_engine_token_revoke", 1, NULL},
    {"gpf_engine_token_use_flush", 1, NULL},
    {"gpf_engine_sku_create", 1, NULL},
    {"gpf_engine_sku_get", 0, "read"},
    {"gpf_engine_sku_list", 0, "read"},
    {"gpf_engine_sku_update", 1, NULL},
    {"gpf_engine_sku_delete", 1, NULL},
    {"gpf_engine_image_import", 1, NULL},
    {"gpf_engine_image_ensure", 1, NULL},
    {"gpf_engine_image_list", 0, "read"},
    {"gpf_engine_image_get", 0, "read"},
    {"gpf_engine_image_delete", 1, NULL},
    {"gpf_engine_image_blob_open", 0, "read (opens a blob file)"},
    {"gpf_engine_host_list", 0, "read"},
    {"gpf_engine_host_get", 0, "read"},
    {"gpf_engine_host_override", 1, NULL},
    {"gpf_engine_join_token_create", 1, NULL},
    {"gpf_engine_join_token_list", 0, "read"},
    {"gpf_engine_join_token_revoke", 1, NULL},
    {"gpf_engine_host_rekey", 1, NULL},
    {"gpf_engine_events_list", 0, "read"},
    {"gpf_engine_events_page", 0, "read"},
    {"gpf_engine_pod_launch", 1, NULL},
    {"gpf_engine_pod_get", 0, "read"},
    {"gpf_engine_pod_wait", 0, "read (waits)"},
    {"gpf_engine_pod_list", 0, "read"},
    {"gpf_engine_pod_page", 0, "read"},
    {"gpf_engine_pod_stop", 1, NULL},
    {"gpf_engine_usage_list", 0, "read"},
    {"gpf_engine_usage_page", 0, "read"},
    {"gpf_engine_now", 0, "read (the clock)"},
    {"gpf_engine_agent_register", 1, NULL},
    {"gpf_engine_agent_heartbeat", 1, NULL},
    {"gpf_engine_agent_commands", 1, NULL}, /* a lost host that polls is back */
    {"gpf_engine_agent_pod_status", 1, NULL},
    {"gpf_engine_agent_pod_status_batch", 1, NULL},
    {"gpf_engine_tick", 1, NULL},
    {"gpf_engine_tick_failures", 0, "read"},
    {"gpf_engine_wake_all", 0, "lifecycle: wakes waiters at shutdown, writes nothing"},
    {"gpf_engine_metrics", 0, "read"},
};

/* ---- dumps ---------------------------------------------------------------------------- */

static void put_json(gpf_buf *b, const char *tag, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    gpf_buf_printf(b, "%s %s\n", tag, s);
    free(s);
    json_decref(o);
}

static void put_bytes(gpf_buf *b, const char *tag, const void *data, size_t n)
{
    char hex[65];
    gpf_sha256_hex_buf(data, n, hex);
    gpf_buf_printf(b, "%s bytes=%zu sha256=%s\n", tag, n, hex);
}

static void put_vec(gpf_buf *b, const char *tag, const vec *v, size_t elem)
{
    put_bytes(b, tag, v->items, v->n * elem);
}

static void put_token(gpf_buf *b, const gpf_token *t)
{
    gpf_buf_printf(b, "token id=%s user=%s host=%s hash=%s created=%lld name=%s expires=%lld used=%lld revoked=%lld\n",
                   t->id, t->user, t->host_id, t->hash, (long long)t->created_ms, t->name, (long long)t->expires_ms,
                   (long long)t->last_used_ms, (long long)t->revoked_ms);
}

/* Everything of f's engine that a failed mutation must leave as it was. Not in it: the
 * counters of requests (launches_total, bad_agent_reports_total: a refused request is
 * still one), tick_failures_total (checked on its own) and the command sequence counter. */
static void mem_dump(ef_fixture *f, gpf_buf *b)
{
    gpf_engine *e = f->e;
    gpf_principal adm;
    gpf_error err = {0};
    size_t n = 0;
    memset(&adm, 0, sizeof adm);
    adm.role = GPF_ROLE_ADMIN;
    snprintf(adm.user, sizeof adm.user, "admin");
    /* no transaction left open, nothing left in its journal */
    assert_int_equal(e->tx.depth, 0);
    assert_int_equal(e->tx.undo.n, 0);
    assert_int_equal(e->tx.events.n, 0);

    gpf_host_rec *hosts = NULL;
    gpf_host_usage *hu = NULL;
    assert_int_equal(gpf_engine_host_list(e, &hosts, &hu, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        put_json(b, "host", gpf_json_host(&hosts[i], &hu[i]));
    gpf_free(hosts);
    gpf_free(hu);
    for (size_t i = 0; i < e->hosts.n; i++) {
        const host_entry *h = VEC_AT(&e->hosts, host_entry, i);
        gpf_buf_printf(b, "host-entry %s seq=%lld seen=%lld report=%lld gpus_missing=%d orphans=%d", h->rec.id,
                       (long long)h->seq, (long long)h->last_seen_ms, (long long)h->last_report_ms, h->gpus_missing,
                       h->norphans);
        for (int k = 0; k < h->norphans; k++)
            gpf_buf_printf(b, " %s", h->orphans[k]);
        gpf_buf_puts(b, "\n");
    }
    gpf_pod *pods = NULL;
    assert_int_equal(gpf_engine_pod_list(e, &adm, 1, NULL, &pods, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        put_json(b, "pod", gpf_json_pod(&pods[i]));
    gpf_free(pods);
    gpf_usage *usage = NULL;
    assert_int_equal(gpf_engine_usage_list(e, &adm, NULL, &usage, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        put_json(b, "usage", gpf_json_usage(&usage[i], f->now));
    gpf_free(usage);
    gpf_user *users = NULL;
    assert_int_equal(gpf_engine_user_list(e, &adm, &users, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        put_json(b, "user", gpf_json_user(&users[i]));
    gpf_free(users);
    gpf_sku *skus = NULL;
    assert_int_equal(gpf_engine_sku_list(e, &skus, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        put_json(b, "sku", gpf_json_sku(&skus[i]));
    gpf_free(skus);
    gpf_image *images = NULL;
    assert_int_equal(gpf_engine_image_list(e, &images, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        put_json(b, "image", gpf_json_image(&images[i]));
    gpf_free(images);
    for (size_t i = 0; i < e->tokens.n; i++)
        put_token(b, VEC_AT(&e->tokens, gpf_token, i));
    gpf_buf_printf(b, "counters started=%llu failed=%llu registrations=%llu events=%llu rejected=%llu\n",
                   (unsigned long long)e->pods_started_total, (unsigned long long)e->pods_failed_total,
                   (unsigned long long)e->agent_registrations_total, (unsigned long long)e->events_total,
                   (unsigned long long)e->launch_rejected_total);
    put_vec(b, "raw hosts", &e->hosts, sizeof(host_entry));
    put_vec(b, "raw pods", &e->pods, sizeof(gpf_pod));
    put_vec(b, "raw usage", &e->usage, sizeof(gpf_usage));
    put_vec(b, "raw users", &e->users, sizeof(gpf_user));
    put_vec(b, "raw tokens", &e->tokens, sizeof(gpf_token));
    put_vec(b, "raw join tokens", &e->join_tokens, sizeof(gpf_join_token));
    put_vec(b, "raw skus", &e->skus, sizeof(gpf_sku));
    put_vec(b, "raw images", &e->images, sizeof(gpf_image));
    for (int i = 0; i < e->fleet.nhosts; i++)
        put_bytes(b, "raw ledger host", &e->fleet.hosts[i], sizeof(gpf_sched_host));
}

/* Every table of the database, read through the fault store's inner store. */
static void db_dump(ef_fixture *f, gpf_buf *b)
{
    gpf_store *s = gpf_store_fault_inner(f->store);
    gpf_error err = {0};
    size_t n = 0;
    assert_non_null(s);
#define TABLE(load, type, tag, json)                                     \
    do {                                                                 \
        type *arr_ = NULL;                                               \
        assert_int_equal(load(s, &arr_, &n, &err), 0);                   \
        for (size_t i_ = 0; i_ < n; i_++)                                \
            put_json(b, tag, json);                                      \
        put_bytes(b, "raw " tag, arr_, n * sizeof(type));                \
        gpf_free(arr_);                                                  \
    } while (0)
    TABLE(gpf_store_hosts_load, gpf_host_rec, "host", gpf_json_host(&arr_[i_], NULL));
    TABLE(gpf_store_skus_load, gpf_sku, "sku", gpf_json_sku(&arr_[i_]));
    TABLE(gpf_store_images_load, gpf_image, "image", gpf_json_image(&arr_[i_]));
    TABLE(gpf_store_users_load, gpf_user, "user", gpf_json_user(&arr_[i_]));
    TABLE(gpf_store_pods_load, gpf_pod, "pod", gpf_json_pod(&arr_[i_]));
    TABLE(gpf_store_usage_load, gpf_usage, "usage", gpf_json_usage(&arr_[i_], f->now));
#undef TABLE
    gpf_token *tokens = NULL;
    assert_int_equal(gpf_store_tokens_load(s, &tokens, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        put_token(b, &tokens[i]);
    gpf_free(tokens);
    gpf_event_filter flt;
    memset(&flt, 0, sizeof flt);
    flt.limit = 10000;
    gpf_event *ev = NULL;
    assert_int_equal(gpf_store_events_list(s, &flt, &ev, &n, &err), 0);
    for (size_t i = 0; i < n; i++) {
        gpf_buf_printf(b, "event-id %lld\n", (long long)ev[i].id);
        put_json(b, "event", gpf_json_event(&ev[i]));
    }
    gpf_free(ev);
    gpf_join_token *jt = NULL;
    assert_int_equal(gpf_store_join_tokens_load(s, &jt, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        put_json(b, "join token", gpf_json_join_token(&jt[i], f->now));
    put_bytes(b, "raw join tokens", jt, n * sizeof *jt);
    gpf_free(jt);
}

/* Fails naming the first line where two dumps differ, and what it says around the
 * difference in each. */
static void same(const char *what, const char *where, gpf_buf *before, gpf_buf *after)
{
    const char *a0 = gpf_buf_cstr(before), *a = a0, *b = gpf_buf_cstr(after);
    if (strcmp(a, b) == 0)
        return;
    int line = 1;
    while (*a && *a == *b) {
        line += *a == '\n';
        a++, b++;
    }
    const char *start = a;
    while (start > a0 && start[-1] != '\n' && a - start < 40)
        start--;
    size_t back = (size_t)(a - start);
    fail_msg("%s: %s changed at line %d:\n  before: ...%.100s\n  after:  ...%.100s", where, what, line, start,
             b - back);
}

/* ---- driving one row ------------------------------------------------------------------- */

static ef_fixture *fresh(const row *r, ctx *c)
{
    ef_fixture *f = ef_new(EF_FAULT | EF_MEMORY | (r->flags & ROW_BARE ? EF_BARE : 0));
    memset(c, 0, sizeof *c);
    r->prep(f, c);
    gpf_store_fault_reset(f->store);
    return f;
}

/* One faulted run: write i fails (mode), then the same mutation on a healthy store. */
static void faulted(const row *r, long i, gpf_store_fault_mode mode)
{
    ctx c;
    gpf_error err = {0};
    gpf_buf mem0 = {0}, db0 = {0}, mem1 = {0}, db1 = {0};
    char where[160];
    int code = mode == GPF_STORE_FAULT_TRANSIENT ? TRANSIENT_CODE : PERSISTENT_CODE;
    snprintf(where, sizeof where, "%s: write %ld of %ld failing %s", r->name, i, r->writes,
             mode == GPF_STORE_FAULT_TRANSIENT ? "once" : "for good");
    ef_fixture *f = fresh(r, &c);
    mem_dump(f, &mem0);
    db_dump(f, &db0);
    uint64_t tick_failures = gpf_engine_tick_failures(f->e);

    assert_int_equal(gpf_store_fault_arm(f->store, i, mode, code), 0);
    int rc = r->run(f, &c, &err);
    if (gpf_store_fault_failures(f->store) < 1)
        fail_msg("%s: the fault was never reached (%ld writes)", where, gpf_store_fault_writes(f->store));
    /* (a) the caller got the injected code (housekeeping: counted) */
    if (r->flags & ROW_TICK) {
        assert_int_equal(rc, 0);
        if (gpf_engine_tick_failures(f->e) != tick_failures + 1)
            fail_msg("%s: the tick counted %llu failures, not 1", where,
                     (unsigned long long)(gpf_engine_tick_failures(f->e) - tick_failures));
    } else if (rc != code || err.code != code) {
        fail_msg("%s: the caller got %d (err %d \"%s\"), not the injected %d", where, rc, err.code,
                 gpf_error_msg(&err), code);
    }
    /* (b) memory as it was (a restart: no engine) */
    if (r->flags & ROW_OPEN) {
        assert_null(f->e);
    } else {
        mem_dump(f, &mem1);
        same("the engine's memory", where, &mem0, &mem1);
    }
    /* (c) the database as it was */
    db_dump(f, &db1);
    same("the database", where, &db0, &db1);

    /* (d) healthy again: the same mutation succeeds with the same writes */
    gpf_store_fault_reset(f->store);
    gpf_error_clear(&err);
    rc = r->run(f, &c, &err);
    if (rc != 0)
        fail_msg("%s: after the store recovered the mutation failed: %d \"%s\"", where, rc, gpf_error_msg(&err));
    if (r->flags & ROW_TICK)
        assert_int_equal(gpf_engine_tick_failures(f->e), tick_failures + 1);
    if (gpf_store_fault_writes(f->store) != r->writes)
        fail_msg("%s: the retry made %ld writes, not %ld", where, gpf_store_fault_writes(f->store), r->writes);
    gpf_buf_reset(&db1);
    db_dump(f, &db1);
    if (strcmp(gpf_buf_cstr(&db0), gpf_buf_cstr(&db1)) == 0)
        fail_msg("%s: the retry changed nothing in the database", where);
    if (!(r->flags & ROW_OPEN)) {
        gpf_buf_reset(&mem1);
        mem_dump(f, &mem1); /* and left no transaction open */
    }
    ef_free(f);
    gpf_buf_clear(&mem0);
    gpf_buf_clear(&db0);
    gpf_buf_clear(&mem1);
    gpf_buf_clear(&db1);
}

/* The durability barrier of a caller's mutation fails (an fsync failed, store.h): the
 * caller must get GPF_ESTORE, never 0, however many writes it made (group commit: a change
 * is acknowledged only once durable). Housekeeping and a restart have no caller. */
static void unsynced(const row *r)
{
    ctx c;
    gpf_error err = {0};
    if (r->flags & (ROW_TICK | ROW_OPEN))
        return;
    ef_fixture *f = fresh(r, &c);
    assert_int_equal(gpf_store_fault_fail_sync(f->store, 1), 0);
    int rc = r->run(f, &c, &err);
    if (rc != GPF_ESTORE || err.code != GPF_ESTORE)
        fail_msg("%s: with its fsync failing the caller got %d (err %d \"%s\"), not GPF_ESTORE", r->name, rc,
                 err.code, gpf_error_msg(&err));
    assert_int_equal(gpf_store_fault_fail_sync(f->store, 0), 0);
    ef_free(f);
}

static void test_row(void **state)
{
    const row *r = *state;
    ctx c;
    gpf_error err = {0};
    if ((r->flags & ROW_SKOPEO) && !of_have_skopeo()) {
        print_message("skopeo is not installed: skipped\n");
        skip();
    }
    /* the writes of a clean run */
    ef_fixture *f = fresh(r, &c);
    int rc = r->run(f, &c, &err);
    if (rc != 0)
        fail_msg("%s: the mutation failed on a healthy store: %d \"%s\"", r->name, rc, gpf_error_msg(&err));
    long n = gpf_store_fault_writes(f->store);
    if (n != r->writes)
        fail_msg("%s: %ld writes on a healthy store, the table says %ld", r->name, n, r->writes);
    ef_free(f);
    unsynced(r);
    for (long i = 1; i <= n; i++) {
        faulted(r, i, GPF_STORE_FAULT_TRANSIENT);
        faulted(r, i, GPF_STORE_FAULT_PERSISTENT);
    }
    print_message("%s (%s): %ld writes x 2 modes = %ld faulted runs\n", r->name, r->fn, n, 2 * n);
}

/* ---- coverage of engine.h --------------------------------------------------------------- */

/* The functions engine.h declares: a line that starts a declaration (not a comment or a
 * continuation) and names gpf_engine_<name>( . */
static size_t declared(char names[][64], size_t max)
{
    FILE *fp = fopen("src/engine/engine.h", "r");
    if (!fp)
        fail_msg("src/engine/engine.h not found (run the tests from the repository root)");
    char line[512];
    size_t n = 0;
    while (fgets(line, sizeof line, fp)) {
        if (line[0] == ' ' || line[0] == '/' || line[0] == '*' || line[0] == '#' || line[0] == '\n')
            continue;
        const char *p = strstr(line, "gpf_engine_");
        while (p) {
            size_t len = strspn(p, "abcdefghijklmnopqrstuvwxyz_0123456789");
            if (p[len] == '(' && n < max) {
                snprintf(names[n++], 64, "%.*s", (int)len, p);
                break;
            }
            p = strstr(p + len, "gpf_engine_");
        }
    }
    fclose(fp);
    return n;
}

static void test_table_covers_engine_h(void **state)
{
    (void)state;
    char names[128][64];
    size_t n = declared(names, 128);
    assert_true(n >= 30);
    size_t nkinds = sizeof kinds / sizeof kinds[0];
    long points = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < nkinds && strcmp(kinds[k].fn, names[i]) != 0)
            k++;
        if (k == nkinds)
            fail_msg("%s (engine.h) is not classified in kinds[]: does it change state?", names[i]);
    }
    for (size_t k = 0; k < nkinds; k++) {
        size_t i = 0;
        while (i < n && strcmp(names[i], kinds[k].fn) != 0)
            i++;
        if (i == n)
            fail_msg("kinds[] lists %s, which engine.h does not declare", kinds[k].fn);
        if (!kinds[k].mutates)
            continue;
        int driven = 0;
        for (size_t r = 0; r < NROWS; r++)
            driven += strcmp(rows[r].fn, kinds[k].fn) == 0;
        if (!driven)
            fail_msg("%s changes state but no row of rows[] drives it", kinds[k].fn);
    }
    for (size_t r = 0; r < NROWS; r++)
        points += rows[r].writes;
    print_message("%zu functions in engine.h; %zu rows, %ld fault points x 2 modes = %ld faulted runs\n", n, NROWS,
                  points, 2 * points);
}

int main(void)
{
    static struct CMUnitTest tests[NROWS + 1];
    gpf_log_set_level(GPF_LOG_ERROR); /* hundreds of engines come and go: show the tick's failures only */
    tests[0] = (struct CMUnitTest)cmocka_unit_test(test_table_covers_engine_h);
    for (size_t i = 0; i < NROWS; i++) {
        tests[i + 1] = (struct CMUnitTest)cmocka_unit_test_prestate(test_row, (void *)&rows[i]);
        tests[i + 1].name = rows[i].name;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
