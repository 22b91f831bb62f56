/* Engine: many threads at once, as the API's handler threads call it. Two users launch,
 * wait for and stop pods (the launch long poll, gpf_engine_pod_wait) while an agent thread
 * long-polls its commands (gpf_engine_agent_commands with wait_ms), reports pod statuses and
 * heartbeats, and an observer reads hosts, pods, usage, events and metrics and runs the tick.
 * Asserts that the agent saw every launched pod's start command, that nothing deadlocks
 * (a watchdog gives the threads 60 s — a bound for "stuck", never a timing figure), and that
 * the state at the end, and after a restart, is consistent: every pod stopped, every usage
 * record closed, the ledger empty, no command outstanding. Run under ThreadSanitizer by
 * `make tsan`. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/metrics.h"
#include "engine/engine_int.h" /* white box: gives the engine read-only store handles */
#include "util/alloc.h"
#include "util/buf.h"

#include "helpers/engine_fixture.h"

#define ROUNDS 20            /* launch-wait-stop rounds per user */
#define PODS_PER_ROUND 3     /* per user; with both users: 1 whole + 5 MIG pods live at most */
#define MAX_PODS (2 * ROUNDS * PODS_PER_ROUND)
#define WATCHDOG_S 60        /* no progress in this long = a deadlock (not a timing assertion) */

typedef struct shared {
    ef_fixture *f;
    atomic_int users_left;       /* user threads still launching */
    atomic_int agent_done;
    atomic_int failed;           /* set by the first thread that sees something wrong */
    pthread_mutex_t mu;          /* guards the lists and the message below */
    int nlaunched;
    char launched[MAX_PODS][GPF_ID_MAX];
    int nstarts;                 /* distinct pods the agent got a start command for */
    char starts[MAX_PODS][GPF_ID_MAX];
    int polls;                   /* agent long polls made */
    char why[512];
} shared;

typedef struct user_arg {
    shared *s;
    const gpf_principal *who;
    const char *skus[PODS_PER_ROUND];
} user_arg;

/* cmocka's asserts must stay on the test's own thread: other threads record the first
 * failure here and stop; the test asserts on it after joining them. */
static void fail_with(shared *s, const char *what, const gpf_error *err)
{
    pthread_mutex_lock(&s->mu);
    if (!atomic_load(&s->failed))
        snprintf(s->why, sizeof s->why, "%s: %s", what, err ? gpf_error_msg(err) : "");
    atomic_store(&s->failed, 1);
    pthread_mutex_unlock(&s->mu);
}

static int list_has(char (*list)[GPF_ID_MAX], int n, const char *id)
{
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], id) == 0)
            return 1;
    return 0;
}

/* ---- the agent ---------------------------------------------------------------- */

static int agent_status(shared *s, const char *pod, gpf_pod_state st)
{
    gpf_error err = {0};
    if (ef_agent_status(s->f, pod, st, &err) != 0) {
        fail_with(s, "agent pod status", &err);
        return -1;
    }
    return 0;
}

/* Polls commands until the users are done: runs each start (reports running), ends each
 * stop (reports stopped), and heartbeats the pods it runs after every poll. */
static void *agent_main(void *arg)
{
    shared *s = arg;
    gpf_agent_pod_report running[MAX_PODS]; /* what this agent runs */
    int nrunning = 0;
    int64_t seq = 0;
    while (!atomic_load(&s->failed)) {
        int last = atomic_load(&s->users_left) == 0; /* every pod is final: one more poll */
        gpf_agent_cmd *cmds = NULL;
        size_t n = 0;
        gpf_error err = {0};
        if (gpf_engine_agent_commands(s->f->e, &s->f->agent, seq, last ? 0 : 200, &cmds, &n, &seq, &err) != 0) {
            fail_with(s, "agent commands", &err);
            break;
        }
        pthread_mutex_lock(&s->mu);
        s->polls++;
        pthread_mutex_unlock(&s->mu);
        for (size_t i = 0; i < n && !atomic_load(&s->failed); i++) {
            const char *id = cmds[i].pod.id;
            int idx = -1;
            for (int r = 0; r < nrunning; r++)
                if (strcmp(running[r].id, id) == 0)
                    idx = r;
            if (cmds[i].type == GPF_CMD_START_POD) {
                pthread_mutex_lock(&s->mu);
                if (!list_has(s->starts, s->nstarts, id) && s->nstarts < MAX_PODS)
                    gpf_strlcpy(s->starts[s->nstarts++], id, GPF_ID_MAX);
                pthread_mutex_unlock(&s->mu);
                if (idx < 0 && nrunning < MAX_PODS) {
                    memset(&running[nrunning], 0, sizeof running[nrunning]);
                    gpf_strlcpy(running[nrunning].id, id, GPF_ID_MAX);
                    running[nrunning].state = GPF_POD_RUNNING;
                    running[nrunning].idle_s = -1;
                    nrunning++;
                }
                agent_status(s, id, GPF_POD_RUNNING);
            } else {
                if (idx >= 0)
                    running[idx] = running[--nrunning];
                agent_status(s, id, GPF_POD_STOPPED);
            }
        }
        gpf_free(cmds);
        gpf_agent_report rep;
        memset(&rep, 0, sizeof rep);
        rep.npods = nrunning;
        rep.pods = running;
        if (!atomic_load(&s->failed) && gpf_engine_agent_heartbeat(s->f->e, &s->f->agent, &rep, &err) != 0)
            fail_with(s, "agent heartbeat", &err);
        if (last)
            break;
    }
    atomic_store(&s->agent_done, 1);
    return NULL;
}

/* ---- the users ---------------------------------------------------------------- */

/* Waits (the launch long poll) until pod id is running (want_final 0) or final (1). */
static int user_wait(shared *s, const gpf_principal *who, const char *id, int want_final, gpf_pod *p)
{
    gpf_error err = {0};
    while (!atomic_load(&s->failed)) {
        if (gpf_engine_pod_wait(s->f->e, who, id, 500, p, &err) != 0) {
            fail_with(s, "pod wait", &err);
            return -1;
        }
        if (gpf_pod_state_is_final(p->state)) {
            if (want_final)
                return 0;
            fail_with(s, "a pod ended before it ran", NULL);
            return -1;
        }
        if (!want_final && p->state == GPF_POD_RUNNING)
            return 0;
    }
    return -1;
}

static void *user_main(void *arg)
{
    user_arg *u = arg;
    shared *s = u->s;
    for (int r = 0; r < ROUNDS && !atomic_load(&s->failed); r++) {
        gpf_pod pods[PODS_PER_ROUND];
        int npods = 0;
        for (int i = 0; i < PODS_PER_ROUND && !atomic_load(&s->failed); i++) {
            gpf_launch_req req;
            memset(&req, 0, sizeof req);
            snprintf(req.sku, sizeof req.sku, "%s", u->skus[i]);
            gpf_error err = {0};
            if (gpf_engine_pod_launch(s->f->e, u->who, &req, &pods[npods], &err) != 0) {
                fail_with(s, "launch", &err);
                break;
            }
            pthread_mutex_lock(&s->mu);
            gpf_strlcpy(s->launched[s->nlaunched++], pods[npods].id, GPF_ID_MAX);
            pthread_mutex_unlock(&s->mu);
            npods++;
        }
        for (int i = 0; i < npods; i++)
            if (user_wait(s, u->who, pods[i].id, 0, &pods[i]) != 0)
                break;
        for (int i = 0; i < npods && !atomic_load(&s->failed); i++) {
            gpf_error err = {0};
            gpf_pod q;
            if (gpf_engine_pod_stop(s->f->e, u->who, pods[i].id, &q, &err) != 0)
                fail_with(s, "stop", &err);
        }
        for (int i = 0; i < npods; i++) {
            if (user_wait(s, u->who, pods[i].id, 1, &pods[i]) != 0)
                break;
            if (pods[i].state != GPF_POD_STOPPED)
                fail_with(s, "a stopped pod did not end as stopped", NULL);
        }
    }
    atomic_fetch_sub(&s->users_left, 1);
    return NULL;
}

/* ---- the observer ------------------------------------------------------------- */

/* Reads everything a dashboard would, and runs the tick, until the agent is done. */
static void *observer_main(void *arg)
{
    shared *s = arg;
    ef_fixture *f = s->f;
    gpf_buf b;
    gpf_buf_init(&b);
    while (!atomic_load(&s->agent_done) && !atomic_load(&s->failed)) {
        gpf_error err = {0};
        gpf_host_rec *hosts = NULL;
        gpf_host_usage *usage = NULL;
        size_t n = 0;
        if (gpf_engine_host_list(f->e, &hosts, &usage, &n, &err) != 0 || n != 1)
            fail_with(s, "host list", &err);
        else if (usage[0].cpus_used < 0 || usage[0].cpus_used > hosts[0].cpus)
            fail_with(s, "the ledger books more CPUs than the host has", NULL);
        gpf_free(hosts);
        gpf_free(usage);
        gpf_pod *pods = NULL;
        if (gpf_engine_pod_list(f->e, &f->admin, 0, NULL, &pods, &n, &err) != 0)
            fail_with(s, "pod list", &err);
        else if (n > 2 * PODS_PER_ROUND)
            fail_with(s, "more live pods than the users launched", NULL);
        gpf_free(pods);
        /* final pods are read from the store, through the engine's readers */
        if (gpf_engine_pod_list(f->e, &f->admin, 1, NULL, &pods, &n, &err) != 0)
            fail_with(s, "pod list (all)", &err);
        gpf_pod one;
        if (n > 0 && gpf_engine_pod_get(f->e, &f->admin, pods[0].id, &one, &err) != 0)
            fail_with(s, "pod get", &err);
        gpf_free(pods);
        gpf_usage *recs = NULL;
        if (gpf_engine_usage_list(f->e, &f->admin, NULL, &recs, &n, &err) != 0)
            fail_with(s, "usage list", &err);
        gpf_free(recs);
        gpf_event *evs = NULL;
        gpf_event_filter flt = {0};
        if (gpf_engine_events_list(f->e, &f->admin, &flt, &evs, &n, &err) != 0)
            fail_with(s, "events list", &err);
        gpf_free(evs);
        gpf_metrics m;
        gpf_buf_reset(&b);
        gpf_engine_metrics(f->e, &m); /* as /metrics does: fill, render after the lock */
        gpf_metrics_render(&m, &b);
        if (m.nhosts != 1 || !strstr(gpf_buf_cstr(&b), "gpufleet_pods{state=\"running\"}"))
            fail_with(s, "metrics without the host or the pods gauge", NULL);
        gpf_metrics_clear(&m);
        gpf_engine_tick(f->e);
    }
    gpf_buf_clear(&b);
    return NULL;
}

/* ---- the test ----------------------------------------------------------------- */

/* Joins t, or aborts the program when it has not finished by the deadline: a thread stuck
 * in the engine cannot be cleaned up after, and the failure must not hang the suite. */
static void join_or_abort(pthread_t t, const struct timespec *deadline, const char *name)
{
    int rc = pthread_timedjoin_np(t, NULL, deadline);
    if (rc == ETIMEDOUT) {
        fprintf(stderr, "test_engine_threads: the %s thread did not finish within %d s: deadlock\n", name,
                WATCHDOG_S);
        abort();
    }
    assert_int_equal(rc, 0);
}

/* The state after the run (and after a restart): every pod launched is stopped, every usage
 * record closed, nothing booked, no command outstanding. */
static void assert_all_stopped(ef_fixture *f, shared *s)
{
    gpf_error err = {0};
    gpf_pod *pods = NULL;
    size_t n = 0;
    assert_int_equal(gpf_engine_pod_list(f->e, &f->admin, 1, NULL, &pods, &n, &err), 0);
    assert_int_equal(n, (size_t)s->nlaunched);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(pods[i].state, GPF_POD_STOPPED);
        assert_true(list_has(s->launched, s->nlaunched, pods[i].id));
    }
    gpf_free(pods);
    assert_int_equal(gpf_engine_pod_list(f->e, &f->admin, 0, NULL, &pods, &n, &err), 0);
    assert_int_equal(n, 0);
    gpf_free(pods);

    gpf_usage *u = NULL;
    assert_int_equal(gpf_engine_usage_list(f->e, &f->admin, NULL, &u, &n, &err), 0);
    assert_int_equal(n, (size_t)s->nlaunched); /* one record per pod: each ran once */
    for (size_t i = 0; i < n; i++)
        assert_true(u[i].end_ms != 0);
    gpf_free(u);

    gpf_host_rec h;
    gpf_host_usage hu;
    assert_int_equal(gpf_engine_host_get(f->e, "h1", &h, &hu, &err), 0);
    assert_int_equal(hu.cpus_used, 0);
    assert_int_equal(hu.memory_used_mib, 0);
    for (int g = 0; g < h.ngpus; g++) {
        assert_int_equal(hu.gpu_allocated_milli[g], 0);
        assert_int_equal(hu.gpu_mig_used_slots[g], 0);
    }

    gpf_agent_cmd *cmds = NULL;
    int64_t seq = 0;
    assert_int_equal(gpf_engine_agent_commands(f->e, &f->agent, 0, 0, &cmds, &n, &seq, &err), 0);
    assert_int_equal(n, 0);
    gpf_free(cmds);
}

static void test_users_agent_observer_at_once(void **state)
{
    ef_fixture *f = *state;
    shared *s = GPF_NEW(shared);
    s->f = f;
    /* reads outside the engine's lock, as serve makes them: two read-only handles */
    gpf_store *readers[2] = {NULL, NULL};
    gpf_error rerr = {0};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(gpf_store_open_reader(f->db, &readers[i], &rerr), 0);
        f->e->readers[i] = readers[i];
    }
    f->e->nreaders = 2;
    pthread_mutex_init(&s->mu, NULL);
    atomic_init(&s->users_left, 2);
    atomic_init(&s->agent_done, 0);
    atomic_init(&s->failed, 0);
    user_arg alice = {s, &f->alice, {"whole", "mig1g", "mig1g"}};
    user_arg bob = {s, &f->bob, {"mig1g", "mig1g", "mig1g"}};

    pthread_t ta, tu1, tu2, to;
    assert_int_equal(pthread_create(&ta, NULL, agent_main, s), 0);
    assert_int_equal(pthread_create(&to, NULL, observer_main, s), 0);
    assert_int_equal(pthread_create(&tu1, NULL, user_main, &alice), 0);
    assert_int_equal(pthread_create(&tu2, NULL, user_main, &bob), 0);

    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline); /* pthread_timedjoin_np's clock */
    deadline.tv_sec += WATCHDOG_S;
    join_or_abort(tu1, &deadline, "first user");
    join_or_abort(tu2, &deadline, "second user");
    join_or_abort(ta, &deadline, "agent");
    join_or_abort(to, &deadline, "observer");

    if (atomic_load(&s->failed))
        fail_msg("%s", s->why);
    print_message("%d pods, %d agent polls\n", s->nlaunched, s->polls);
    assert_int_equal(s->nlaunched, MAX_PODS);
    /* The agent saw every pod's start command, and only launched pods'. */
    assert_int_equal(s->nstarts, s->nlaunched);
    for (int i = 0; i < s->nlaunched; i++)
        assert_true(list_has(s->starts, s->nstarts, s->launched[i]));

    assert_all_stopped(f, s);
    f->e->nreaders = 0;
    for (int i = 0; i < 2; i++)
        gpf_store_close(readers[i]);
    ef_close(f); /* and the same from the store */
    ef_open(f);
    assert_all_stopped(f, s);
    pthread_mutex_destroy(&s->mu);
    gpf_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_users_agent_observer_at_once, ef_setup, ef_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
