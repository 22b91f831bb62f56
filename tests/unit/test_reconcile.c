/* Keeping the ledger equal to the hardware: the preflight gate and its override, pods the
 * agent saw die or no longer runs, drift (GPU gone, MIG device nobody holds, MIG slice
 * with no device, processes outside any pod, idle pods) with its events, host loss, and
 * re-adoption after an agent restart. Engine on a real store with a fake clock. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "engine/engine.h"
#include "util/alloc.h"

#include "helpers/engine_fixture.h"

/* ---- building heartbeats ---- */

typedef struct beat {
    gpf_agent_report r;
    gpf_agent_pod_report pods[8];
    gpf_hw_gpu gpus[GPF_MAX_HOST_GPUS];
} beat;

static beat *beat_new(void)
{
    beat *b = GPF_NEW(beat);
    b->r.pods = b->pods;
    b->r.gpus = b->gpus;
    return b;
}

static void beat_pod(beat *b, const char *id, gpf_pod_state st, int64_t at_ms, int64_t idle_s)
{
    gpf_agent_pod_report *p = &b->pods[b->r.npods++];
    snprintf(p->id, sizeof p->id, "%s", id);
    p->state = st;
    p->at_ms = at_ms;
    p->idle_s = idle_s;
    if (st == GPF_POD_FAILED)
        snprintf(p->message, sizeof p->message, "sshd exited with status 137");
}

static gpf_hw_gpu *beat_gpu(beat *b, const char *uuid, int with_hw)
{
    b->r.has_gpus = 1;
    gpf_hw_gpu *g = &b->gpus[b->r.ngpus++];
    snprintf(g->uuid, sizeof g->uuid, "%s", uuid);
    g->has_hw = with_hw;
    return g;
}

static void gpu_mig(gpf_hw_gpu *g, const char *uuid, int gi, int profile, int start, int size)
{
    gpf_hw_mig *m = &g->mig[g->nmig++];
    snprintf(m->uuid, sizeof m->uuid, "%s", uuid);
    m->gi_id = gi;
    m->ci_id = 0;
    m->profile_id = profile;
    m->start = start;
    m->size = size;
}

static void gpu_proc(gpf_hw_gpu *g, unsigned pid, int64_t mib, const char *pod)
{
    gpf_hw_proc *p = &g->procs[g->nprocs++];
    p->pid = pid;
    p->used_mib = mib;
    p->gi_id = p->ci_id = -1;
    snprintf(p->pod_id, sizeof p->pod_id, "%s", pod ? pod : "");
}

static void send_beat(ef_fixture *f, beat *b, int expect)
{
    gpf_error err = {0};
    assert_int_equal(gpf_engine_agent_heartbeat(f->e, &f->agent, b ? &b->r : NULL, &err), expect);
    gpf_free(b);
}

/* ---- reading the results ---- */

typedef struct host_view {
    gpf_host_rec rec;
    gpf_host_usage u;
} host_view;

static host_view *host_get(ef_fixture *f)
{
    host_view *v = GPF_NEW(host_view);
    gpf_error err = {0};
    assert_int_equal(gpf_engine_host_get(f->e, "h1", &v->rec, &v->u, &err), 0);
    return v;
}

static int drift_has(ef_fixture *f, const char *kind, const char *subject)
{
    host_view *v = host_get(f);
    int found = 0;
    for (int i = 0; i < v->u.ndrift; i++)
        found += strcmp(v->u.drift[i].kind, kind) == 0 && (!subject || strcmp(v->u.drift[i].subject, subject) == 0);
    gpf_free(v);
    return found;
}

static int ndrift(ef_fixture *f)
{
    host_view *v = host_get(f);
    int n = v->u.ndrift;
    gpf_free(v);
    return n;
}

static int schedulable(ef_fixture *f, char *why, size_t n)
{
    host_view *v = host_get(f);
    int s = v->u.schedulable;
    snprintf(why, n, "%s", v->u.unschedulable_reason);
    gpf_free(v);
    return s;
}

/* How many events of kind (about pod, when given) the admin sees. */
static int events(ef_fixture *f, const gpf_principal *who, const char *kind, const char *pod)
{
    gpf_event *ev = NULL;
    size_t n = 0;
    gpf_error err = {0};
    gpf_event_filter flt = {.kind = kind, .pod_id = pod};
    assert_int_equal(gpf_engine_events_list(f->e, who, &flt, &ev, &n, &err), 0);
    for (size_t i = 1; i < n; i++)
        assert_true(ev[i].id > ev[i - 1].id); /* oldest first */
    gpf_free(ev);
    return (int)n;
}

static gpf_usage usage_of(ef_fixture *f, const char *pod)
{
    gpf_usage *u = NULL, out;
    size_t n = 0;
    gpf_error err = {0};
    assert_int_equal(gpf_engine_usage_list(f->e, &f->admin, pod, &u, &n, &err), 0);
    assert_int_equal(n, 1);
    out = u[0];
    gpf_free(u);
    return out;
}

static void running_pod(ef_fixture *f, const char *sku, gpf_pod *p)
{
    ef_launch(f, &f->alice, sku, p, 0);
    ef_agent_says(f, p->id, GPF_POD_RUNNING, 0);
    *p = ef_pod(f, p->id);
    assert_int_equal(p->state, GPF_POD_RUNNING);
}

/* ---- the preflight gate ---- */

static void test_preflight_fail_blocks_until_override(void **state)
{
    ef_fixture *f = *state;
    gpf_error err = {0};
    gpf_pod p;
    char why[GPF_TEXT_MAX];
    gpf_host_rec h = ef_host_failing();
    ef_register(f, &h, &f->agent);
    assert_false(schedulable(f, why, sizeof why));
    assert_non_null(strstr(why, "preflight failed (pcie-link: link x8"));
    assert_non_null(strstr(why, "gpufleet host override h1"));
    ef_launch(f, &f->alice, "whole", &p, GPF_ENOCAPACITY);
    assert_int_equal(events(f, &f->admin, "preflight", NULL), 1);

    /* only staff may override, and only with a reason */
    assert_int_equal(gpf_engine_host_override(f->e, &f->alice, "h1", 1, "trust me", NULL, &err), GPF_EFORBIDDEN);
    assert_int_equal(gpf_engine_host_override(f->e, &f->agent, "h1", 1, "trust me", NULL, &err), GPF_EFORBIDDEN);
    assert_int_equal(gpf_engine_host_override(f->e, &f->admin, "h1", 1, "", NULL, &err), GPF_EINVAL);
    assert_int_equal(gpf_engine_host_override(f->e, &f->admin, "nope", 1, "x", NULL, &err), GPF_ENOTFOUND);
    gpf_host_rec *out = GPF_NEW(gpf_host_rec);
    assert_int_equal(gpf_engine_host_override(f->e, &f->admin, "h1", 1, "x8 is enough for inference", out, &err), 0);
    assert_true(out->override);
    assert_string_equal(out->override_by, "admin");
    assert_int_equal(out->override_ms, f->now);
    assert_true(schedulable(f, why, sizeof why));
    ef_launch(f, &f->alice, "whole", &p, 0);
    assert_int_equal(events(f, &f->admin, "override_set", NULL), 1);

    /* an agent restart with the same failure keeps the operator's override */
    ef_register(f, &h, &f->agent);
    assert_true(schedulable(f, why, sizeof why));

    /* everything survives a control-plane restart */
    ef_close(f);
    ef_open(f);
    host_view *v = host_get(f);
    assert_int_equal(v->rec.preflight, GPF_PREFLIGHT_FAIL);
    assert_int_equal(v->rec.nfindings, 2);
    assert_string_equal(v->rec.findings[0].check, "pcie-link");
    assert_string_equal(v->rec.findings[0].fix, "reseat the GPU");
    assert_int_equal(v->rec.findings[1].level, GPF_PREFLIGHT_WARN);
    assert_int_equal(v->rec.findings[1].gpu, 1);
    assert_true(v->rec.override);
    assert_string_equal(v->rec.override_reason, "x8 is enough for inference");
    assert_true(v->u.schedulable);
    gpf_free(v);

    /* cleared: the failing host takes no new pods again; the running one stays */
    assert_int_equal(gpf_engine_host_override(f->e, &f->admin, "h1", 0, NULL, out, &err), 0);
    assert_false(out->override);
    assert_false(schedulable(f, why, sizeof why));
    assert_int_equal(ef_pod(f, p.id).state, GPF_POD_STARTING);
    assert_int_equal(events(f, &f->admin, "override_cleared", NULL), 1);

    /* the agent comes back passing: schedulable without any override */
    h.preflight = GPF_PREFLIGHT_PASS;
    h.nfindings = 0;
    ef_register(f, &h, &f->agent);
    assert_true(schedulable(f, why, sizeof why));
    gpf_free(out);
}

/* ---- pods the agent saw die ---- */

static void test_dead_pod_fails_at_the_moment_seen(void **state)
{
    ef_fixture *f = *state;
    gpf_pod p, q;
    running_pod(f, "whole", &p);
    int64_t t0 = f->now;
    f->now += 10000;
    beat *b = beat_new();
    beat_pod(b, p.id, GPF_POD_FAILED, t0 + 4000, -1);
    send_beat(f, b, 0);
    q = ef_pod(f, p.id);
    assert_int_equal(q.state, GPF_POD_FAILED);
    assert_non_null(strstr(q.reason, "the agent saw the pod die: sshd exited with status 137"));
    gpf_usage u = usage_of(f, p.id);
    assert_int_equal(u.end_ms - u.start_ms, 4000); /* billing stopped when the agent saw it die */
    assert_int_equal(events(f, &f->admin, "pod_dead", p.id), 1);
    /* its GPU is free again */
    ef_launch(f, &f->bob, "whole", &q, 0);
    /* a time from the future, or before the pod started, is clamped */
    ef_agent_says(f, q.id, GPF_POD_RUNNING, 0);
    int64_t t1 = f->now;
    f->now += 1000;
    b = beat_new();
    beat_pod(b, q.id, GPF_POD_FAILED, t1 + 999999, -1);
    send_beat(f, b, 0);
    u = usage_of(f, q.id);
    assert_int_equal(u.end_ms, f->now);
}

static void test_pod_the_agent_no_longer_runs(void **state)
{
    ef_fixture *f = *state;
    gpf_pod p, late;
    running_pod(f, "whole", &p);
    f->now += 2000;
    beat *b = beat_new();
    beat_pod(b, p.id, GPF_POD_RUNNING, 0, -1);
    send_beat(f, b, 0); /* listed: all well */
    int64_t listed = f->now;
    assert_int_equal(ef_pod(f, p.id).state, GPF_POD_RUNNING);

    /* a pod that became running after the previous report gets one report of grace */
    f->now += 100;
    running_pod(f, "mig1g", &late);
    f->now += 2000;
    send_beat(f, beat_new(), 0); /* neither is listed */
    assert_int_equal(ef_pod(f, p.id).state, GPF_POD_FAILED);
    assert_non_null(strstr(ef_pod(f, p.id).reason, "no longer runs the pod"));
    assert_int_equal(usage_of(f, p.id).end_ms, listed); /* the last report that listed it */
    assert_int_equal(ef_pod(f, late.id).state, GPF_POD_RUNNING);
    f->now += 2000;
    send_beat(f, beat_new(), 0);
    assert_int_equal(ef_pod(f, late.id).state, GPF_POD_FAILED);

    /* a bare sign of life (no report) changes nothing */
    gpf_pod r;
    running_pod(f, "whole", &r);
    f->now += 5000;
    send_beat(f, NULL, 0);
    f->now += 5000;
    send_beat(f, NULL, 0);
    assert_int_equal(ef_pod(f, r.id).state, GPF_POD_RUNNING);
}

/* ---- drift ---- */

static void test_gpu_missing_blocks_and_clears(void **state)
{
    ef_fixture *f = *state;
    char why[GPF_TEXT_MAX];
    gpf_pod p;
    beat *b = beat_new();
    beat_gpu(b, "GPU-00000000", 0);
    send_beat(f, b, 0);
    assert_int_equal(drift_has(f, "gpu_missing", "GPU-00000001"), 1);
    assert_false(schedulable(f, why, sizeof why));
    assert_non_null(strstr(why, "1 registered GPU no longer seen"));
    ef_launch(f, &f->alice, "whole", &p, GPF_ENOCAPACITY);
    /* repeated reports do not repeat the event */
    for (int i = 0; i < 3; i++) {
        b = beat_new();
        beat_gpu(b, "GPU-00000000", 0);
        send_beat(f, b, 0);
    }
    assert_int_equal(events(f, &f->admin, "gpu_missing", NULL), 1);
    /* a report without a GPU list keeps what is open */
    send_beat(f, beat_new(), 0);
    assert_int_equal(drift_has(f, "gpu_missing", NULL), 1);
    /* back */
    b = beat_new();
    beat_gpu(b, "GPU-00000000", 0);
    beat_gpu(b, "GPU-00000001", 0);
    send_beat(f, b, 0);
    assert_int_equal(ndrift(f), 0);
    assert_true(schedulable(f, why, sizeof why));
    assert_int_equal(events(f, &f->admin, "drift_cleared", NULL), 1);
    ef_launch(f, &f->alice, "whole", &p, 0);
    /* an empty list means the agent sees no GPU at all */
    b = beat_new();
    b->r.has_gpus = 1;
    send_beat(f, b, 0);
    assert_int_equal(drift_has(f, "gpu_missing", NULL), 2);
}

static void test_mig_and_processes(void **state)
{
    ef_fixture *f = *state;
    gpf_pod mig, whole;
    running_pod(f, "mig1g", &mig);
    running_pod(f, "whole", &whole);
    assert_string_equal(mig.placement.gpu_uuids[0], "GPU-00000001");
    int ms = mig.placement.mig_start, sz = mig.placement.mig_size;
    assert_int_equal(sz, 1);

    beat *b = beat_new();
    beat_pod(b, mig.id, GPF_POD_RUNNING, 0, -1);
    beat_pod(b, whole.id, GPF_POD_RUNNING, 0, -1);
    gpf_hw_gpu *g0 = beat_gpu(b, "GPU-00000000", 1);
    gpf_hw_gpu *g1 = beat_gpu(b, "GPU-00000001", 1);
    g1->mig_enabled = 1;
    gpu_mig(g1, "MIG-aaaa", 7, 19, ms, sz);           /* the pod's */
    gpu_mig(g1, "MIG-bbbb", 8, 19, ms == 6 ? 5 : 6, 1); /* nobody's */
    gpu_proc(g1, 100, 1024, mig.id);                  /* in its slice */
    gpu_proc(g0, 101, 2048, whole.id);                /* in its slice */
    gpu_proc(g0, 102, 512, NULL);                     /* outside any pod */
    gpu_proc(g1, 103, 256, whole.id);                 /* a pod's process on a GPU it does not hold */
    send_beat(f, b, 0);
    assert_int_equal(drift_has(f, "mig_unowned", "MIG-bbbb"), 1);
    assert_int_equal(drift_has(f, "mig_unowned", "MIG-aaaa"), 0);
    assert_int_equal(drift_has(f, "foreign_process", "GPU-00000000/pid 102"), 1);
    assert_int_equal(drift_has(f, "foreign_process", "GPU-00000001/pid 103"), 1);
    assert_int_equal(drift_has(f, "foreign_process", NULL), 2);
    assert_int_equal(drift_has(f, "mig_missing", NULL), 0);
    assert_int_equal(ndrift(f), 3);
    char why[GPF_TEXT_MAX];
    assert_true(schedulable(f, why, sizeof why)); /* drift is reported, not a block */

    /* the pod's MIG device is gone */
    b = beat_new();
    beat_pod(b, mig.id, GPF_POD_RUNNING, 0, -1);
    beat_pod(b, whole.id, GPF_POD_RUNNING, 0, -1);
    beat_gpu(b, "GPU-00000000", 1);
    beat_gpu(b, "GPU-00000001", 1)->mig_enabled = 1;
    send_beat(f, b, 0);
    assert_int_equal(drift_has(f, "mig_missing", mig.id), 1);
    assert_int_equal(ndrift(f), 1);
    assert_int_equal(events(f, &f->admin, "drift_cleared", NULL), 3);
    /* alice sees the events of her pod; bob sees none; admin sees all */
    assert_int_equal(events(f, &f->alice, "mig_missing", NULL), 1);
    assert_int_equal(events(f, &f->bob, NULL, NULL), 0);
    assert_true(events(f, &f->admin, NULL, NULL) >= 7);
    gpf_event *ev = NULL;
    size_t n = 0;
    gpf_error err = {0};
    gpf_event_filter flt = {0};
    assert_int_equal(gpf_engine_events_list(f->e, &f->agent, &flt, &ev, &n, &err), GPF_EFORBIDDEN);
    flt.limit = 2;
    assert_int_equal(gpf_engine_events_list(f->e, &f->admin, &flt, &ev, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(ev[1].kind, "mig_missing"); /* the newest last */
    int64_t last = ev[1].id;
    gpf_free(ev);
    flt.after_id = last;
    assert_int_equal(gpf_engine_events_list(f->e, &f->admin, &flt, &ev, &n, &err), 0);
    assert_int_equal(n, 0);
    gpf_free(ev);
}

/* A MIG-backed vGPU pod holds its MIG device as a MIG slice does: the device is not
 * "unowned", and its absence is "missing". */
static void test_mig_backed_vgpu_device(void **state)
{
    ef_fixture *f = *state;
    gpf_error err = {0};
    gpf_pod v;
    assert_int_equal(ef_make_vgpu_sku(f, "vgpu2g", "H100XM-2-20C", "H100-80GB", &err), 0);
    running_pod(f, "vgpu2g", &v);
    assert_string_equal(v.placement.gpu_uuids[0], "GPU-00000001");
    int ms = v.placement.mig_start;
    assert_int_equal(v.placement.mig_size, 2);
    beat *b = beat_new();
    beat_pod(b, v.id, GPF_POD_RUNNING, 0, -1);
    beat_gpu(b, "GPU-00000000", 1);
    gpf_hw_gpu *g1 = beat_gpu(b, "GPU-00000001", 1);
    g1->mig_enabled = 1;
    gpu_mig(g1, "MIG-vvvv", 3, 14, ms, 2);                 /* the vGPU's instance */
    gpu_mig(g1, "MIG-wwww", 4, 14, ms == 0 ? 2 : 0, 2);    /* nobody's */
    gpu_proc(g1, 200, 4096, v.id);
    send_beat(f, b, 0);
    assert_int_equal(drift_has(f, "mig_unowned", "MIG-vvvv"), 0);
    assert_int_equal(drift_has(f, "mig_unowned", "MIG-wwww"), 1);
    assert_int_equal(drift_has(f, "mig_missing", NULL), 0);
    assert_int_equal(drift_has(f, "foreign_process", NULL), 0);
    b = beat_new();
    beat_pod(b, v.id, GPF_POD_RUNNING, 0, -1);
    beat_gpu(b, "GPU-00000000", 1);
    beat_gpu(b, "GPU-00000001", 1)->mig_enabled = 1;
    send_beat(f, b, 0);
    assert_int_equal(drift_has(f, "mig_missing", v.id), 1);
    assert_int_equal(ndrift(f), 1);
}

static void test_idle_pod_is_reported(void **state)
{
    ef_fixture *f = *state;
    gpf_error err = {0};
    gpf_sku k;
    assert_int_equal(gpf_engine_sku_get(f->e, "whole", &k, &err), 0);
    k.idle_timeout_s = 60;
    assert_int_equal(gpf_engine_sku_update(f->e, &f->admin, &k, NULL, &err), 0);
    gpf_pod p;
    running_pod(f, "whole", &p);
    int64_t idle[] = {30, 61, 125, 0};
    int want[] = {0, 1, 1, 0};
    for (int i = 0; i < 4; i++) {
        beat *b = beat_new();
        beat_pod(b, p.id, GPF_POD_RUNNING, 0, idle[i]);
        send_beat(f, b, 0);
        assert_int_equal(drift_has(f, "pod_idle", p.id), want[i]);
    }
    assert_int_equal(events(f, &f->admin, "pod_idle", p.id), 1);
    assert_int_equal(events(f, &f->alice, "drift_cleared", p.id), 1);
    assert_int_equal(ef_pod(f, p.id).state, GPF_POD_RUNNING); /* reported, not stopped */
}

/* ---- host loss and agent restarts ---- */

static gpf_host_state host_state(ef_fixture *f)
{
    host_view *v = host_get(f);
    gpf_host_state st = v->rec.state;
    gpf_free(v);
    return st;
}

static size_t commands(ef_fixture *f, gpf_agent_cmd **cmds)
{
    gpf_error err = {0};
    size_t n = 0;
    int64_t seq = 0;
    assert_int_equal(gpf_engine_agent_commands(f->e, &f->agent, 0, 0, cmds, &n, &seq, &err), 0);
    return n;
}

/* An agent silent past the heartbeat limit (an upgrade, a network blip) makes its host
 * unreachable, not lost: the pods stay running and metered; back within the grace, with
 * the pods in its report, nothing was lost and the usage record never closed. */
static void test_silent_agent_within_grace_loses_nothing(void **state)
{
    ef_fixture *f = *state;
    gpf_pod p, q;
    gpf_agent_cmd *cmds = NULL;
    char why[GPF_TEXT_MAX];
    running_pod(f, "whole", &p);
    int64_t start = usage_of(f, p.id).start_ms;
    f->now += 1000;
    beat *b = beat_new();
    beat_pod(b, p.id, GPF_POD_RUNNING, 0, -1);
    send_beat(f, b, 0);
    f->now += 2000 * 5 + 1; /* past the heartbeat limit */
    gpf_engine_tick(f->e);
    assert_int_equal(host_state(f), GPF_HOST_UNREACHABLE);
    q = ef_pod(f, p.id);
    assert_int_equal(q.state, GPF_POD_RUNNING);
    assert_int_equal(q.host_unreachable, 1);
    assert_int_equal(usage_of(f, p.id).end_ms, 0); /* still metered */
    assert_int_equal(events(f, &f->admin, "host_unreachable", NULL), 1);
    assert_int_equal(events(f, &f->admin, "host_lost", NULL), 0);
    assert_int_equal(events(f, &f->admin, "pod_lost", NULL), 0);
    /* no new pods there meanwhile */
    assert_int_equal(schedulable(f, why, sizeof why), 0);
    assert_non_null(strstr(why, "unreachable"));
    ef_launch(f, &f->bob, "mig1g", &q, GPF_ENOCAPACITY);
    /* the grace (600 s by default) ends exactly now: not yet lost */
    f->now += 600000 - 1;
    gpf_engine_tick(f->e);
    assert_int_equal(host_state(f), GPF_HOST_UNREACHABLE);
    assert_int_equal(ef_pod(f, p.id).state, GPF_POD_RUNNING);
    /* the agent is back and reports the pod */
    f->now += 1;
    b = beat_new();
    beat_pod(b, p.id, GPF_POD_RUNNING, 0, -1);
    send_beat(f, b, 0);
    assert_int_equal(host_state(f), GPF_HOST_READY);
    q = ef_pod(f, p.id);
    assert_int_equal(q.state, GPF_POD_RUNNING);
    assert_int_equal(q.host_unreachable, 0);
    assert_int_equal(events(f, &f->admin, "host_back", NULL), 1);
    assert_int_equal(commands(f, &cmds), 0); /* nothing to stop */
    gpf_free(cmds);
    /* one usage record, open all along: the pod is billed from its start to its stop */
    f->now += 5000;
    ef_agent_says(f, p.id, GPF_POD_STOPPED, 0);
    gpf_usage u = usage_of(f, p.id);
    assert_int_equal(u.start_ms, start);
    assert_int_equal(u.end_ms, f->now);
    assert_int_equal(schedulable(f, why, sizeof why), 1);
    ef_launch(f, &f->bob, "mig1g", &q, 0);
}

/* Silent past the grace too: the host is lost, its pods with it, usage closed at the last
 * report that listed them (not at a later sign of life, not at the loss); an agent that
 * comes back still running one is told to stop it. */
static void test_lost_host_loses_its_pods(void **state)
{
    ef_fixture *f = *state;
    gpf_pod p, starting, q;
    gpf_agent_cmd *cmds = NULL;
    running_pod(f, "whole", &p);
    ef_launch(f, &f->alice, "mig1g", &starting, 0);
    f->now += 1500;
    beat *b = beat_new();
    beat_pod(b, p.id, GPF_POD_RUNNING, 0, -1);
    send_beat(f, b, 0);
    int64_t last = f->now;
    f->now += 1000;
    commands(f, &cmds); /* a sign of life that reports no pods */
    gpf_free(cmds);
    f->now += 2000 * 5; /* exactly the limit: not yet */
    gpf_engine_tick(f->e);
    assert_int_equal(host_state(f), GPF_HOST_READY);
    f->now += 1;
    gpf_engine_tick(f->e);
    assert_int_equal(host_state(f), GPF_HOST_UNREACHABLE);
    assert_int_equal(ef_pod(f, p.id).state, GPF_POD_RUNNING);
    f->now += 600000 - 1; /* exactly the grace: not yet */
    gpf_engine_tick(f->e);
    assert_int_equal(host_state(f), GPF_HOST_UNREACHABLE);
    assert_int_equal(ef_pod(f, p.id).state, GPF_POD_RUNNING);
    /* the pod its agent never started failed meanwhile (start timeout, 120 s) */
    assert_int_equal(ef_pod(f, starting.id).state, GPF_POD_FAILED);
    f->now += 1;
    gpf_engine_tick(f->e);
    assert_int_equal(host_state(f), GPF_HOST_LOST);
    q = ef_pod(f, p.id);
    assert_int_equal(q.state, GPF_POD_LOST);
    assert_int_equal(q.host_unreachable, 0);
    assert_non_null(strstr(q.reason, "host h1 lost"));
    assert_int_equal(usage_of(f, p.id).end_ms, last); /* closed at the last report that saw it */
    assert_int_equal(events(f, &f->admin, "host_unreachable", NULL), 1);
    assert_int_equal(events(f, &f->admin, "host_lost", NULL), 1);
    assert_int_equal(events(f, &f->admin, "pod_lost", NULL), 1);
    assert_int_equal(events(f, &f->alice, "pod_lost", NULL), 1);

    /* the host comes back still running the pod: it is stopped, not revived */
    f->now += 60000;
    b = beat_new();
    beat_pod(b, p.id, GPF_POD_RUNNING, 0, -1);
    send_beat(f, b, 0);
    assert_int_equal(events(f, &f->admin, "host_back", NULL), 1);
    assert_int_equal(host_state(f), GPF_HOST_READY);
    assert_int_equal(ef_pod(f, p.id).state, GPF_POD_LOST);
    assert_int_equal(commands(f, &cmds), 1);
    assert_int_equal(cmds[0].type, GPF_CMD_STOP_POD);
    assert_string_equal(cmds[0].pod.id, p.id);
    gpf_free(cmds);
    /* and its GPUs are free for new pods */
    ef_launch(f, &f->bob, "whole", &q, 0);
}

static void test_agent_restart_readopts_running_pods(void **state)
{
    ef_fixture *f = *state;
    gpf_error err = {0};
    gpf_pod p, m;
    running_pod(f, "whole", &p);
    running_pod(f, "mig1g", &m);
    f->now += 3000;
    /* the agent restarts: a new registration, then its runtime lists the pods it re-adopted */
    gpf_host_rec h = ef_host_h100();
    ef_register(f, &h, &f->agent);
    f->now += 2000;
    beat *b = beat_new();
    beat_pod(b, p.id, GPF_POD_RUNNING, 0, -1);
    beat_pod(b, m.id, GPF_POD_RUNNING, 0, -1);
    send_beat(f, b, 0);
    assert_int_equal(ef_pod(f, p.id).state, GPF_POD_RUNNING);
    assert_int_equal(ef_pod(f, m.id).state, GPF_POD_RUNNING);
    /* no stop command, no second usage record, and the slices are still booked */
    gpf_agent_cmd *cmds = NULL;
    size_t n = 0;
    int64_t seq = 0;
    assert_int_equal(gpf_engine_agent_commands(f->e, &f->agent, 0, 0, &cmds, &n, &seq, &err), 0);
    assert_int_equal(n, 0);
    gpf_free(cmds);
    assert_int_equal(usage_of(f, p.id).end_ms, 0);
    assert_int_equal(usage_of(f, m.id).end_ms, 0);
    gpf_pod q;
    ef_launch(f, &f->bob, "whole", &q, GPF_ENOCAPACITY);
    /* one that did not survive the restart is failed after the next report */
    f->now += 2000;
    b = beat_new();
    beat_pod(b, p.id, GPF_POD_RUNNING, 0, -1);
    send_beat(f, b, 0);
    assert_int_equal(ef_pod(f, p.id).state, GPF_POD_RUNNING);
    assert_int_equal(ef_pod(f, m.id).state, GPF_POD_FAILED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_preflight_fail_blocks_until_override, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_dead_pod_fails_at_the_moment_seen, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_pod_the_agent_no_longer_runs, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_gpu_missing_blocks_and_clears, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_mig_and_processes, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_mig_backed_vgpu_device, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_idle_pod_is_reported, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_silent_agent_within_grace_loses_nothing, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_lost_host_loses_its_pods, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_agent_restart_readopts_running_pods, ef_setup, ef_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
