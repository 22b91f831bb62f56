/* Bounded memory and paged lists (issue 16, item 5): the engine holds live pods and open
 * usage only; final pods and closed usage live in the store and are still read, counted,
 * reconciled and listed; every list pages with a limit and an opaque cursor.
 *
 * Engine level on the fixture (a real database file, fake clock); the API level through a
 * real server on a loopback port. Where a read can go through a second read-only store
 * handle (the engine's reader), both ways are run. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/page.h"
#include "engine/engine_int.h" /* white box: the vectors memory holds, the reader */
#include "store/store_seed.h"
#include "util/alloc.h"
#include "util/httpc.h"

#include "helpers/engine_fixture.h"

/* ---- helpers ------------------------------------------------------------------------- */

/* Gives the fixture's engine a read-only second handle on its database (the way `serve`
 * runs it); returned for ef_reader_close. */
static gpf_store *ef_reader(ef_fixture *f)
{
    gpf_store *r = NULL;
    gpf_error err = {0};
    assert_int_equal(gpf_store_open_reader(f->db, &r, &err), 0);
    f->e->readers[0] = r;
    f->e->nreaders = 1;
    return r;
}

static void ef_reader_close(ef_fixture *f, gpf_store *r)
{
    if (f->e) {
        f->e->readers[0] = NULL;
        f->e->nreaders = 0;
    }
    gpf_store_close(r);
}

static void metrics(ef_fixture *f, gpf_metrics *m)
{
    gpf_engine_metrics(f->e, m);
    gpf_free(m->hosts); /* the numbers stay */
    m->hosts = NULL;
}

/* Seeds n stopped pods of owner (numbers from first on), created from start_ms a second apart. */
static void seed(ef_fixture *f, size_t n, size_t first, const char *owner, int64_t start_ms)
{
    gpf_store_seed spec = {0};
    gpf_error err = {0};
    spec.pods = n;
    spec.first = first;
    spec.owner = owner;
    spec.host_id = "h1";
    spec.sku = "whole";
    spec.start_ms = start_ms;
    spec.batch = 97; /* several transactions */
    assert_int_equal(gpf_store_seed_history(f->store, &spec, &err), 0);
}

/* Runs a pod to running for a minute, then stops it as its agent would: stop asked, agent
 * says stopped. */
static void run_and_stop(ef_fixture *f, const gpf_principal *who, const char *sku, gpf_pod *p)
{
    gpf_error err = {0};
    ef_launch(f, who, sku, p, 0);
    ef_agent_says(f, p->id, GPF_POD_RUNNING, 0);
    f->now += 60000; /* it runs a minute */
    assert_int_equal(gpf_engine_pod_stop(f->e, who, p->id, NULL, &err), 0);
    ef_agent_says(f, p->id, GPF_POD_STOPPED, 0);
}

/* ---- final pods leave memory --------------------------------------------------------- */

/* Checks what the engine says of alice's stopped pod p after it left memory. */
static void check_stopped(ef_fixture *f, const gpf_pod *p)
{
    gpf_error err = {0};
    gpf_pod got;
    /* not in memory ... */
    assert_null(eng_pod(f->e, p->id));
    assert_null(eng_open_usage(f->e, p->id));
    gpf_metrics m;
    metrics(f, &m);
    assert_int_equal(m.pods_in_memory, 0);
    assert_int_equal(m.usage_in_memory, 0);
    /* ... and still counted */
    assert_int_equal(m.pods[GPF_POD_STOPPED], 1);
    assert_int_equal(m.usage_records, 1);
    /* GET works for its owner and staff, as an unknown pod for another member */
    assert_int_equal(gpf_engine_pod_get(f->e, &f->alice, p->id, &got, &err), 0);
    assert_string_equal(got.id, p->id);
    assert_int_equal(got.state, GPF_POD_STOPPED);
    assert_string_equal(got.placement.host_id, "h1");
    assert_int_equal(got.placement.ngpus, p->placement.ngpus);
    assert_int_equal(gpf_engine_pod_get(f->e, &f->admin, p->id, &got, &err), 0);
    assert_int_equal(gpf_engine_pod_get(f->e, &f->bob, p->id, &got, &err), GPF_ENOTFOUND);
    char want[96];
    snprintf(want, sizeof want, "no pod '%s'", p->id);
    assert_string_equal(gpf_error_msg(&err), want);
    /* a wait answers at once (it is final); a stop says it is already stopped */
    assert_int_equal(gpf_engine_pod_wait(f->e, &f->alice, p->id, 5000, &got, &err), 0);
    assert_int_equal(got.state, GPF_POD_STOPPED);
    assert_int_equal(gpf_engine_pod_stop(f->e, &f->alice, p->id, NULL, &err), GPF_ESTATE);
    assert_int_equal(gpf_engine_pod_stop(f->e, &f->bob, p->id, NULL, &err), GPF_ENOTFOUND);
    /* its usage is in the totals: the closed record is listed */
    gpf_usage *u = NULL;
    size_t n = 0;
    assert_int_equal(gpf_engine_usage_list(f->e, &f->alice, p->id, &u, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(u[0].end_ms - u[0].start_ms, 60000);
    gpf_free(u);
    assert_int_equal(gpf_engine_usage_list(f->e, &f->bob, NULL, &u, &n, &err), 0);
    assert_int_equal(n, 0);
    gpf_free(u);
    /* listed with all=1 (from the store), not among the live ones */
    gpf_pod *pods = NULL;
    assert_int_equal(gpf_engine_pod_list(f->e, &f->alice, 1, NULL, &pods, &n, &err), 0);
    assert_int_equal(n, 1);
    gpf_free(pods);
    assert_int_equal(gpf_engine_pod_list(f->e, &f->alice, 0, NULL, &pods, &n, &err), 0);
    assert_int_equal(n, 0);
    gpf_free(pods);
}

static void test_stopped_pod_leaves_memory(void **state)
{
    (void)state;
    ef_fixture *f = ef_new(0);
    gpf_pod p;
    f->now += 1000;
    run_and_stop(f, &f->alice, "whole", &p);
    f->now += 60000;
    check_stopped(f, &p);
    /* the same through the read-only handle */
    gpf_store *r = ef_reader(f);
    check_stopped(f, &p);
    ef_reader_close(f, r);
    /* and after a restart, which loads live pods only */
    ef_close(f);
    ef_open(f);
    check_stopped(f, &p);
    /* the GPU it had is free again: the same whole-GPU SKU launches */
    gpf_pod q;
    ef_launch(f, &f->alice, "whole", &q, 0);
    assert_string_not_equal(q.id, p.id);
    ef_free(f);
}

/* The agent still reports a pod the ledger has as final (and no longer in memory): it is
 * told to stop it; a late status report of it changes nothing and is not an error. */
static void test_agent_reports_a_final_pod(void **state)
{
    (void)state;
    ef_fixture *f = ef_new(0);
    gpf_error err = {0};
    gpf_pod p;
    run_and_stop(f, &f->alice, "whole", &p);
    assert_null(eng_pod(f->e, p.id));
    ef_agent_says(f, p.id, GPF_POD_STOPPED, 0); /* repeated */
    ef_agent_says(f, p.id, GPF_POD_RUNNING, 0); /* late */
    gpf_metrics m;
    metrics(f, &m);
    assert_int_equal(m.bad_agent_reports_total, 0);
    assert_int_equal(ef_pod(f, p.id).state, GPF_POD_STOPPED);

    gpf_agent_pod_report pr;
    memset(&pr, 0, sizeof pr);
    snprintf(pr.id, sizeof pr.id, "%s", p.id);
    pr.state = GPF_POD_RUNNING;
    pr.idle_s = -1;
    gpf_agent_report rep = {.npods = 1, .pods = &pr};
    assert_int_equal(gpf_engine_agent_heartbeat(f->e, &f->agent, &rep, &err), 0);
    gpf_agent_cmd *cmds = NULL;
    size_t n = 0;
    int64_t seq = 0;
    assert_int_equal(gpf_engine_agent_commands(f->e, &f->agent, 0, 0, &cmds, &n, &seq, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(cmds[0].type, GPF_CMD_STOP_POD);
    assert_string_equal(cmds[0].pod.id, p.id);
    gpf_free(cmds);
    ef_free(f);
}

/* A start timeout (housekeeping) and a failed pod leave memory too; the failed counter and
 * the by-state gauges keep them. */
static void test_failed_pods_leave_memory(void **state)
{
    (void)state;
    ef_fixture *f = ef_new(0);
    gpf_pod a, b;
    ef_launch(f, &f->alice, "whole", &a, 0);
    ef_launch(f, &f->bob, "mig1g", &b, 0);
    ef_agent_says(f, b.id, GPF_POD_RUNNING, 0);
    ef_agent_says(f, b.id, GPF_POD_FAILED, 0);
    f->now += 200 * 1000;
    gpf_error err = {0};
    assert_int_equal(gpf_engine_agent_heartbeat(f->e, &f->agent, NULL, &err), 0); /* h1 is alive */
    gpf_engine_tick(f->e); /* a's start timeout */
    gpf_metrics m;
    metrics(f, &m);
    assert_int_equal(m.pods_in_memory, 0);
    assert_int_equal(m.pods[GPF_POD_FAILED], 2);
    assert_int_equal(m.pods_failed_total, 2);
    assert_int_equal(m.usage_records, 1); /* b ran; a never did */
    assert_int_equal(ef_pod(f, a.id).state, GPF_POD_FAILED);
    assert_int_equal(ef_pod(f, b.id).state, GPF_POD_FAILED);
    ef_free(f);
}

/* A restart on a store with many final pods loads only the live ones, and counts the rest. */
static void test_restart_loads_only_live(void **state)
{
    (void)state;
    ef_fixture *f = ef_new(0);
    gpf_error err = {0};
    gpf_pod live;
    seed(f, 3000, 0, "alice", 1000);
    ef_launch(f, &f->alice, "mig1g", &live, 0);
    ef_agent_says(f, live.id, GPF_POD_RUNNING, 0);
    ef_close(f);
    ef_open(f);
    assert_int_equal(f->e->pods.n, 1);
    assert_int_equal(f->e->usage.n, 1);
    gpf_metrics m;
    metrics(f, &m);
    assert_int_equal(m.pods_in_memory, 1);
    assert_int_equal(m.pods[GPF_POD_STOPPED], 3000);
    assert_int_equal(m.pods[GPF_POD_RUNNING], 1);
    assert_int_equal(m.usage_records, 3001);
    /* a seeded pod is there to read; the live one answers from memory */
    gpf_pod got;
    assert_int_equal(gpf_engine_pod_get(f->e, &f->alice, "seed-00001234", &got, &err), 0);
    assert_int_equal(got.state, GPF_POD_STOPPED);
    assert_int_equal(got.created_ms, 1000 + 1234 * 1000);
    assert_int_equal(got.placement.ngpus, 1);
    assert_int_equal(gpf_engine_pod_get(f->e, &f->alice, live.id, &got, &err), 0);
    assert_int_equal(got.state, GPF_POD_RUNNING);
    ef_free(f);
}

/* ---- paging at the engine ------------------------------------------------------------ */

/* 1 when (a.created_ms, a.id) < (b.created_ms, b.id). */
static int before(const gpf_pod *a, const gpf_pod *b)
{
    return a->created_ms < b->created_ms || (a->created_ms == b->created_ms && strcmp(a->id, b->id) < 0);
}

/* A walk: the ids seen, in order. */
typedef struct walk {
    char ids[512][GPF_ID_MAX];
    size_t n;
} walk;

static size_t times_seen(const walk *w, const char *id)
{
    size_t c = 0;
    for (size_t i = 0; i < w->n; i++)
        c += strcmp(w->ids[i], id) == 0;
    return c;
}

/* Walks pods page by page (q's filters, limit) as who, calling between(f, page) after each
 * page; checks the order is strict across pages and no page is over the limit. */
static void walk_pods(ef_fixture *f, const gpf_principal *who, gpf_pod_query q, walk *w,
                      void (*between)(ef_fixture *f, int page))
{
    gpf_error err = {0};
    gpf_pod last;
    char after[GPF_ID_MAX] = "";
    int more = 1, page = 0;
    memset(&last, 0, sizeof last);
    w->n = 0;
    while (more) {
        gpf_pod *pods = NULL;
        size_t n = 0;
        q.after_id = after;
        assert_int_equal(gpf_engine_pod_page(f->e, who, &q, &pods, &n, &more, &err), 0);
        assert_true(n <= q.limit);
        assert_true(!more || n == q.limit);
        for (size_t i = 0; i < n; i++) {
            assert_true(w->n == 0 ? 1 : before(&last, &pods[i]));
            last = pods[i];
            assert_true(w->n < 512);
            snprintf(w->ids[w->n++], GPF_ID_MAX, "%s", pods[i].id);
        }
        if (n) {
            q.after_created_ms = last.created_ms;
            snprintf(after, sizeof after, "%s", last.id);
        }
        gpf_free(pods);
        if (between)
            between(f, page++);
    }
}

static char g_added[16][GPF_ID_MAX];
static int g_nadded;

/* Between pages of the live walk: a launch (same clock: ordered by id) and a stop. */
static void launch_between(ef_fixture *f, int page)
{
    gpf_pod p;
    if (page >= 3)
        return;
    ef_launch(f, &f->alice, "mig1g", &p, 0);
    snprintf(g_added[g_nadded++], GPF_ID_MAX, "%s", p.id);
}

static void test_live_walk_with_changes(void **state)
{
    (void)state;
    ef_fixture *f = ef_new(0);
    gpf_pod p[4];
    for (int i = 0; i < 4; i++)
        ef_launch(f, i % 2 ? &f->bob : &f->alice, "mig1g", &p[i], 0); /* one created_ms: ties by id */
    walk w;
    g_nadded = 0;
    walk_pods(f, &f->admin, (gpf_pod_query){.live = 1, .limit = 2}, &w, launch_between);
    for (int i = 0; i < 4; i++)
        assert_int_equal(times_seen(&w, p[i].id), 1);
    for (int i = 0; i < g_nadded; i++)
        assert_true(times_seen(&w, g_added[i]) <= 1); /* added behind the cursor: not seen */
    /* filters: owner, state; a member sees only their own */
    walk_pods(f, &f->admin, (gpf_pod_query){.live = 1, .limit = 1, .owner = "bob"}, &w, NULL);
    assert_int_equal(w.n, 2);
    walk_pods(f, &f->bob, (gpf_pod_query){.live = 1, .limit = 100}, &w, NULL);
    assert_int_equal(w.n, 2);
    ef_agent_says(f, p[0].id, GPF_POD_RUNNING, 0);
    walk_pods(f, &f->admin, (gpf_pod_query){.live = 1, .limit = 3, .has_state = 1, .state = GPF_POD_RUNNING}, &w,
              NULL);
    assert_int_equal(w.n, 1);
    assert_string_equal(w.ids[0], p[0].id);
    ef_free(f);
}

/* Between pages of the store walk: more history (later), a pod launched and one stopped. */
static void history_between(ef_fixture *f, int page)
{
    gpf_pod p;
    if (page >= 2)
        return;
    seed(f, 5, 1000 + (size_t)page * 5, "alice", 10 * 1000 * 1000);
    run_and_stop(f, &f->alice, "whole", &p);
}

/* all=1 from the store, directly and through the reader: every pod that was there at the
 * start is seen exactly once while pods are added between pages. */
static void test_store_walk_with_changes(void **state)
{
    (void)state;
    for (int via_reader = 0; via_reader < 2; via_reader++) {
        ef_fixture *f = ef_new(0);
        gpf_store *r = via_reader ? ef_reader(f) : NULL;
        seed(f, 120, 0, "alice", 1000);
        seed(f, 30, 500, "bob", 1500);
        f->now = 5 * 1000 * 1000; /* launches come after the seeded history */
        walk w;
        walk_pods(f, &f->admin, (gpf_pod_query){.limit = 7}, &w, history_between);
        for (size_t i = 0; i < 120; i++) {
            char id[GPF_ID_MAX];
            snprintf(id, sizeof id, "seed-%08zu", i);
            assert_int_equal(times_seen(&w, id), 1);
        }
        assert_true(w.n >= 150);
        /* alice sees her own only, and not bob's even when she asks for them */
        walk_pods(f, &f->alice, (gpf_pod_query){.limit = 50}, &w, NULL);
        assert_int_equal(times_seen(&w, "seed-00000500"), 0);
        assert_int_equal(times_seen(&w, "seed-00000007"), 1);
        walk_pods(f, &f->alice, (gpf_pod_query){.limit = 50, .owner = "bob"}, &w, NULL);
        assert_int_equal(w.n, 0);
        walk_pods(f, &f->admin, (gpf_pod_query){.limit = 1000, .owner = "bob"}, &w, NULL);
        assert_int_equal(w.n, 30);
        walk_pods(f, &f->admin, (gpf_pod_query){.limit = 1000, .has_state = 1, .state = GPF_POD_STOPPED}, &w, NULL);
        assert_int_equal(w.n, 150 + 2 * 5 + 2);
        ef_reader_close(f, r);
        ef_free(f);
    }
}

static void test_usage_pages(void **state)
{
    (void)state;
    ef_fixture *f = ef_new(0);
    gpf_error err = {0};
    seed(f, 40, 0, "alice", 1000);
    seed(f, 10, 100, "bob", 1000);
    int64_t after = 0, prev = 0;
    int more = 1;
    size_t total = 0;
    while (more) {
        gpf_usage *u = NULL;
        size_t n = 0;
        gpf_usage_query q = {.after_id = after, .limit = 6};
        assert_int_equal(gpf_engine_usage_page(f->e, &f->alice, &q, &u, &n, &more, &err), 0);
        for (size_t i = 0; i < n; i++) {
            assert_string_equal(u[i].owner, "alice");
            assert_true(u[i].id > prev);
            prev = u[i].id;
        }
        total += n;
        if (n)
            after = u[n - 1].id;
        gpf_free(u);
    }
    assert_int_equal(total, 40);
    gpf_usage *u = NULL;
    size_t n = 0;
    gpf_usage_query q = {.limit = 1000, .owner = "bob"};
    assert_int_equal(gpf_engine_usage_page(f->e, &f->admin, &q, &u, &n, &more, &err), 0);
    assert_int_equal(n, 10);
    gpf_free(u);
    assert_int_equal(gpf_engine_usage_page(f->e, &f->alice, &q, &u, &n, &more, &err), 0);
    assert_int_equal(n, 0);
    gpf_free(u);
    ef_free(f);
}

/* ---- paging through the API ------------------------------------------------------------ */

typedef struct srv {
    ef_fixture *f;
    gpf_api *api;
    gpf_httpc *c;
} srv;

static srv *srv_new(void)
{
    srv *s = GPF_NEW(srv);
    gpf_api_config ac = {0};
    gpf_error err = {0};
    char url[64];
    s->f = ef_new(0);
    ac.engine = s->f->e;
    ac.bind_address = "127.0.0.1";
    assert_int_equal(gpf_api_start(&ac, &s->api, &err), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", gpf_api_port(s->api));
    assert_int_equal(gpf_httpc_new(url, s->f->admin_tok, &s->c, &err), 0);
    return s;
}

static void srv_free(srv *s)
{
    gpf_httpc_free(s->c);
    gpf_api_stop(s->api);
    ef_free(s->f);
    gpf_free(s);
}

/* GET path: the result code; *out the answer (caller decrefs) on success. */
static int get(srv *s, const char *path, json_t **out, gpf_error *err)
{
    int status = 0;
    *out = NULL;
    return gpf_httpc_request(s->c, "GET", path, NULL, &status, out, err);
}

/* Walks list path (with its own query, "?..." or "") in pages of limit, following
 * next_cursor; returns how many items it saw under key. Checks each page's size. */
static size_t walk_api(srv *s, const char *path, const char *key, int limit)
{
    char url[1024];
    char cursor[512] = "";
    size_t total = 0;
    gpf_error err = {0};
    for (int guard = 0; guard < 10000; guard++) {
        snprintf(url, sizeof url, "%s%slimit=%d%s%s", path, strchr(path, '?') ? "&" : "?", limit,
                 cursor[0] ? "&cursor=" : "", cursor);
        json_t *j = NULL;
        assert_int_equal(get(s, url, &j, &err), 0);
        json_t *arr = json_object_get(j, key);
        assert_true(json_is_array(arr));
        assert_true(json_array_size(arr) <= (size_t)limit);
        total += json_array_size(arr);
        json_t *next = json_object_get(j, "next_cursor");
        if (!next) {
            json_decref(j);
            return total;
        }
        assert_true(json_is_string(next));
        snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
        json_decref(j);
    }
    fail_msg("walk of %s did not end", path);
    return 0;
}

static void test_api_lists_page(void **state)
{
    (void)state;
    srv *s = srv_new();
    gpf_pod p;
    seed(s->f, 23, 0, "alice", 1000);
    run_and_stop(s->f, &s->f->alice, "whole", &p);
    ef_launch(s->f, &s->f->bob, "mig1g", &p, 0);
    assert_int_equal(walk_api(s, "/v1/pods?all=1", "pods", 5), 25);
    assert_int_equal(walk_api(s, "/v1/pods?all=1", "pods", 1000), 25);
    assert_int_equal(walk_api(s, "/v1/pods", "pods", 1), 1);
    assert_int_equal(walk_api(s, "/v1/pods?state=stopped", "pods", 4), 24);
    assert_int_equal(walk_api(s, "/v1/pods?all=1&owner=bob", "pods", 4), 1);
    assert_int_equal(walk_api(s, "/v1/usage", "usage", 7), 24);
    assert_int_equal(walk_api(s, "/v1/hosts", "hosts", 1), 1);
    assert_int_equal(walk_api(s, "/v1/gpus", "gpus", 1), 2);
    assert_int_equal(walk_api(s, "/v1/skus", "skus", 1), 2);
    assert_int_equal(walk_api(s, "/v1/users", "users", 2), 3);
    assert_int_equal(walk_api(s, "/v1/images", "images", 2), 0);
    /* events: newest first by pages, each page oldest first; the walk sees them all once */
    json_t *j = NULL;
    gpf_error err = {0};
    assert_int_equal(get(s, "/v1/events?limit=10000", &j, &err), 0);
    size_t nev = json_array_size(json_object_get(j, "events"));
    assert_null(json_object_get(j, "next_cursor"));
    json_decref(j);
    assert_true(nev >= 3);
    assert_int_equal(walk_api(s, "/v1/events", "events", 2), nev);
    /* the first page without a limit is the default size, with a cursor to go on */
    seed(s->f, 150, 100, "alice", 1000);
    assert_int_equal(get(s, "/v1/pods?all=1", &j, &err), 0);
    assert_int_equal(json_array_size(json_object_get(j, "pods")), API_PAGE_DEFAULT);
    assert_non_null(json_object_get(j, "next_cursor"));
    json_decref(j);
    srv_free(s);
}

static void test_api_bad_cursor_and_limit(void **state)
{
    (void)state;
    srv *s = srv_new();
    gpf_error err = {0};
    json_t *j = NULL;
    char path[512], cur[300];
    const char *bad_paths[] = {
        "/v1/pods?limit=0", "/v1/pods?limit=1001", "/v1/pods?limit=-1", "/v1/pods?limit=abc",
        "/v1/usage?limit=0", "/v1/hosts?limit=100000", "/v1/events?limit=10001",
        "/v1/pods?cursor=", "/v1/pods?cursor=!!!!", "/v1/pods?cursor=A", "/v1/pods?all=1&cursor=%27%20OR%201%3D1",
        "/v1/usage?cursor=Zm9v", "/v1/skus?cursor=AAAA", "/v1/pods?state=sleeping",
    };
    for (size_t i = 0; i < sizeof bad_paths / sizeof bad_paths[0]; i++) {
        assert_int_equal(get(s, bad_paths[i], &j, &err), GPF_EINVAL);
        assert_null(j);
    }
    /* well-formed base64url whose key is not of this list, or not a key at all */
    const char *bad_keys[][2] = {
        {"usage", "1:pod-x"},             /* another list's cursor */
        {"pods", "1"},                    /* no id */
        {"pods", "x:pod-1"},              /* not a time */
        {"pods", "1:pod-1' OR '1'='1"},   /* not an id: never reaches SQL */
        {"pods", "99999999999999999999:p"}, /* out of range */
        {"events", "x"},
    };
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        api_cursor_encode(bad_keys[i][0], bad_keys[i][1], cur, sizeof cur);
        assert_true(cur[0]);
        snprintf(path, sizeof path, "/v1/%s?all=1&cursor=%s", strcmp(bad_keys[i][0], "usage") == 0 ? "pods" :
                 strcmp(bad_keys[i][0], "events") == 0 ? "usage" : "pods", cur);
        assert_int_equal(get(s, path, &j, &err), GPF_EINVAL);
        assert_null(j);
    }
    /* a long garbage cursor */
    char longc[4000];
    memset(longc, 'A', sizeof longc - 1);
    longc[sizeof longc - 1] = '\0';
    snprintf(path, sizeof path, "/v1/pods?cursor=%.400s", longc);
    assert_int_equal(get(s, path, &j, &err), GPF_EINVAL);
    /* a good cursor for a pod that no longer exists is still a place in the order */
    api_cursor_encode("pods", "5:pod-gone", cur, sizeof cur);
    snprintf(path, sizeof path, "/v1/pods?all=1&cursor=%s", cur);
    assert_int_equal(get(s, path, &j, &err), 0);
    json_decref(j);
    srv_free(s);
}

/* The cursor text round-trips every length (base64url without padding). */
static void test_cursor_encoding(void **state)
{
    (void)state;
    char cur[400];
    char key[64];
    for (int len = 0; len < 40; len++) {
        memset(key, 'a' + len % 26, (size_t)len);
        key[len] = '\0';
        api_cursor_encode("pods", key, cur, sizeof cur);
        assert_true(cur[0]);
        for (const char *c = cur; *c; c++)
            assert_true((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
                        *c == '-' || *c == '_');
    }
    api_cursor_encode("pods", "1:pod-1", cur, 4); /* does not fit */
    assert_string_equal(cur, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stopped_pod_leaves_memory),
        cmocka_unit_test(test_agent_reports_a_final_pod),
        cmocka_unit_test(test_failed_pods_leave_memory),
        cmocka_unit_test(test_restart_loads_only_live),
        cmocka_unit_test(test_live_walk_with_changes),
        cmocka_unit_test(test_store_walk_with_changes),
        cmocka_unit_test(test_usage_pages),
        cmocka_unit_test(test_api_lists_page),
        cmocka_unit_test(test_api_bad_cursor_and_limit),
        cmocka_unit_test(test_cursor_encoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
