/* /metrics: the exact text rendered for a fixed snapshot (api/metrics.h), and the snapshot
 * the engine fills (gpf_engine_metrics) for a fleet with pods in several states and a
 * failed housekeeping transaction, field by field and as rendered. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "api/metrics.h"
#include "helpers/engine_fixture.h"
#include "store/store_fault.h"
#include "util/alloc.h"

static const char fixed_text[] =
    "# HELP gpufleet_pods Pods by state.\n# TYPE gpufleet_pods gauge\n"
    "gpufleet_pods{state=\"pending\"} 0\n"
    "gpufleet_pods{state=\"starting\"} 1\n"
    "gpufleet_pods{state=\"running\"} 3\n"
    "gpufleet_pods{state=\"stopping\"} 0\n"
    "gpufleet_pods{state=\"stopped\"} 7\n"
    "gpufleet_pods{state=\"failed\"} 2\n"
    "gpufleet_pods{state=\"preempted\"} 0\n"
    "gpufleet_pods{state=\"expired\"} 0\n"
    "gpufleet_pods{state=\"lost\"} 1\n"
    "# HELP gpufleet_hosts Registered hosts by state.\n# TYPE gpufleet_hosts gauge\n"
    "gpufleet_hosts{state=\"ready\"} 1\n"
    "gpufleet_hosts{state=\"lost\"} 1\n"
    "gpufleet_hosts{state=\"draining\"} 0\n"
    "gpufleet_hosts{state=\"unreachable\"} 0\n"
    "# HELP gpufleet_gpus Registered GPUs.\n# TYPE gpufleet_gpus gauge\ngpufleet_gpus 3\n"
    "# HELP gpufleet_host_schedulable 1 when new pods may be placed on the host.\n"
    "# TYPE gpufleet_host_schedulable gauge\n"
    "gpufleet_host_schedulable{host=\"gpu-a\",preflight=\"pass\"} 1\n"
    "gpufleet_host_schedulable{host=\"gpu-b\",preflight=\"fail\"} 0\n"
    "gpufleet_host_schedulable{host=\"odd\",preflight=\"unknown\"} 0\n"
    "# HELP gpufleet_host_drift Open differences between the ledger and the host's last report.\n"
    "# TYPE gpufleet_host_drift gauge\n"
    "gpufleet_host_drift{host=\"gpu-a\"} 0\n"
    "gpufleet_host_drift{host=\"gpu-b\"} 2\n"
    "gpufleet_host_drift{host=\"odd\"} 0\n"
    "# HELP gpufleet_gpu_allocated_milli GPU-equivalents allocated, in thousandths.\n"
    "# TYPE gpufleet_gpu_allocated_milli gauge\n"
    "gpufleet_gpu_allocated_milli{host=\"gpu-a\",gpu=\"0\",model=\"H100-80GB-SXM5\"} 1000\n"
    "gpufleet_gpu_allocated_milli{host=\"gpu-a\",gpu=\"1\",model=\"H100-80GB-SXM5\"} 250\n"
    "gpufleet_gpu_allocated_milli{host=\"gpu-b\",gpu=\"0\",model=\"L40S\"} 0\n"
    "# TYPE gpufleet_pod_launches_total counter\ngpufleet_pod_launches_total 17\n"
    "# TYPE gpufleet_pod_launch_rejected_total counter\ngpufleet_pod_launch_rejected_total 3\n"
    "# TYPE gpufleet_pods_started_total counter\ngpufleet_pods_started_total 12\n"
    "# TYPE gpufleet_pods_failed_total counter\ngpufleet_pods_failed_total 2\n"
    "# TYPE gpufleet_agent_registrations_total counter\ngpufleet_agent_registrations_total 4\n"
    "# TYPE gpufleet_agent_bad_reports_total counter\ngpufleet_agent_bad_reports_total 1\n"
    "# TYPE gpufleet_usage_records gauge\ngpufleet_usage_records 14\n"
    "# TYPE gpufleet_engine_pods_in_memory gauge\ngpufleet_engine_pods_in_memory 4\n"
    "# TYPE gpufleet_engine_usage_in_memory gauge\ngpufleet_engine_usage_in_memory 3\n"
    "# TYPE gpufleet_events_total counter\ngpufleet_events_total 18446744073709551615\n"
    "# TYPE gpufleet_tick_failures_total counter\ngpufleet_tick_failures_total 5\n"
    "# HELP gpufleet_agent_registrations_refused_total Agent registrations refused, by reason.\n"
    "# TYPE gpufleet_agent_registrations_refused_total counter\n"
    "gpufleet_agent_registrations_refused_total{reason=\"unknown_token\"} 1\n"
    "gpufleet_agent_registrations_refused_total{reason=\"expired\"} 2\n"
    "gpufleet_agent_registrations_refused_total{reason=\"used_up\"} 3\n"
    "gpufleet_agent_registrations_refused_total{reason=\"revoked\"} 4\n"
    "gpufleet_agent_registrations_refused_total{reason=\"host_exists\"} 5\n"
    "gpufleet_agent_registrations_refused_total{reason=\"wrong_host\"} 6\n"
    "# HELP gpufleet_agent_status_requests_total Pod status requests of agents, by endpoint.\n"
    "# TYPE gpufleet_agent_status_requests_total counter\n"
    "gpufleet_agent_status_requests_total{endpoint=\"single\"} 6\n"
    "gpufleet_agent_status_requests_total{endpoint=\"batch\"} 7\n"
    "# HELP gpufleet_agent_status_reports_total Pod status reports those requests carried.\n"
    "# TYPE gpufleet_agent_status_reports_total counter\n"
    "gpufleet_agent_status_reports_total 21\n";

static void set_host(gpf_metrics_host *h, const char *id, gpf_host_state st, gpf_preflight_verdict pf,
                     int schedulable, int drift, int ngpus)
{
    snprintf(h->id, sizeof h->id, "%s", id);
    h->state = st;
    h->preflight = pf;
    h->schedulable = schedulable;
    h->drift = drift;
    h->ngpus = ngpus;
}

static void set_gpu(gpf_metrics_host *h, int g, const char *model, int milli)
{
    h->gpus[g].index = g;
    snprintf(h->gpus[g].model, sizeof h->gpus[g].model, "%s", model);
    h->gpus[g].allocated_milli = milli;
}

/* A fixed snapshot: two hosts and a third whose state is out of range (not counted by
 * state) and whose GPU count is negative (no GPUs). */
static void test_fixed(void **state)
{
    (void)state;
    gpf_metrics m;
    memset(&m, 0, sizeof m);
    m.pods[GPF_POD_STARTING] = 1;
    m.pods[GPF_POD_RUNNING] = 3;
    m.pods[GPF_POD_STOPPED] = 7;
    m.pods[GPF_POD_FAILED] = 2;
    m.pods[GPF_POD_LOST] = 1;
    m.nhosts = 3;
    m.hosts = gpf_calloc(3, sizeof *m.hosts);
    gpf_metrics_host *a = &m.hosts[0], *b = &m.hosts[1], *odd = &m.hosts[2];
    set_host(a, "gpu-a", GPF_HOST_READY, GPF_PREFLIGHT_PASS, 1, 0, 2);
    set_gpu(a, 0, "H100-80GB-SXM5", 1000);
    set_gpu(a, 1, "H100-80GB-SXM5", 250);
    set_host(b, "gpu-b", GPF_HOST_LOST, GPF_PREFLIGHT_FAIL, 0, 2, 1);
    set_gpu(b, 0, "L40S", 0);
    set_host(odd, "odd", (gpf_host_state)7, GPF_PREFLIGHT_UNKNOWN, 0, 0, -1);
    m.launches_total = 17;
    m.launch_rejected_total = 3;
    m.pods_started_total = 12;
    m.pods_failed_total = 2;
    m.agent_registrations_total = 4;
    m.bad_agent_reports_total = 1;
    m.agent_status_requests[0] = 6;
    m.agent_status_requests[1] = 7;
    m.agent_status_reports_total = 21;
    m.usage_records = 14;
    m.pods_in_memory = 4;
    m.usage_in_memory = 3;
    m.events_total = UINT64_MAX;
    m.tick_failures_total = 5;
    for (int r = 0; r < GPF_REG_REFUSED_COUNT; r++)
        m.registrations_refused[r] = (uint64_t)r + 1;
    gpf_buf out = {0};
    gpf_metrics_render(&m, &out);
    assert_string_equal(gpf_buf_cstr(&out), fixed_text);
    gpf_buf_clear(&out);
    gpf_metrics_clear(&m);
    assert_null(m.hosts);
    assert_int_equal(m.nhosts, 0);
    gpf_metrics_clear(NULL);
}

/* The snapshot of the fixture's engine (host h1: GPU 0 whole, GPU 1 in MIG mode) after
 * alice runs a 1g MIG pod on GPU 1, bob runs and stops a whole-GPU pod and launches another
 * (still starting, on GPU 0), one launch names no SKU, an admin sets and clears a preflight
 * override (two events), and one housekeeping transaction fails. */
static const char engine_text[] =
    "# HELP gpufleet_pods Pods by state.\n# TYPE gpufleet_pods gauge\n"
    "gpufleet_pods{state=\"pending\"} 0\n"
    "gpufleet_pods{state=\"starting\"} 1\n"
    "gpufleet_pods{state=\"running\"} 1\n"
    "gpufleet_pods{state=\"stopping\"} 0\n"
    "gpufleet_pods{state=\"stopped\"} 1\n"
    "gpufleet_pods{state=\"failed\"} 0\n"
    "gpufleet_pods{state=\"preempted\"} 0\n"
    "gpufleet_pods{state=\"expired\"} 0\n"
    "gpufleet_pods{state=\"lost\"} 0\n"
    "# HELP gpufleet_hosts Registered hosts by state.\n# TYPE gpufleet_hosts gauge\n"
    "gpufleet_hosts{state=\"ready\"} 1\n"
    "gpufleet_hosts{state=\"lost\"} 0\n"
    "gpufleet_hosts{state=\"draining\"} 0\n"
    "gpufleet_hosts{state=\"unreachable\"} 0\n"
    "# HELP gpufleet_gpus Registered GPUs.\n# TYPE gpufleet_gpus gauge\ngpufleet_gpus 2\n"
    "# HELP gpufleet_host_schedulable 1 when new pods may be placed on the host.\n"
    "# TYPE gpufleet_host_schedulable gauge\n"
    "gpufleet_host_schedulable{host=\"h1\",preflight=\"unknown\"} 1\n"
    "# HELP gpufleet_host_drift Open differences between the ledger and the host's last report.\n"
    "# TYPE gpufleet_host_drift gauge\n"
    "gpufleet_host_drift{host=\"h1\"} 0\n"
    "# HELP gpufleet_gpu_allocated_milli GPU-equivalents allocated, in thousandths.\n"
    "# TYPE gpufleet_gpu_allocated_milli gauge\n"
    "gpufleet_gpu_allocated_milli{host=\"h1\",gpu=\"0\",model=\"H100-80GB-SXM5\"} 1000\n"
    "gpufleet_gpu_allocated_milli{host=\"h1\",gpu=\"1\",model=\"H100-80GB-SXM5\"} 125\n"
    "# TYPE gpufleet_pod_launches_total counter\ngpufleet_pod_launches_total 4\n"
    "# TYPE gpufleet_pod_launch_rejected_total counter\ngpufleet_pod_launch_rejected_total 0\n"
    "# TYPE gpufleet_pods_started_total counter\ngpufleet_pods_started_total 2\n"
    "# TYPE gpufleet_pods_failed_total counter\ngpufleet_pods_failed_total 0\n"
    "# TYPE gpufleet_agent_registrations_total counter\ngpufleet_agent_registrations_total 1\n"
    "# TYPE gpufleet_agent_bad_reports_total counter\ngpufleet_agent_bad_reports_total 0\n"
    "# TYPE gpufleet_usage_records gauge\ngpufleet_usage_records 2\n"
    "# TYPE gpufleet_engine_pods_in_memory gauge\ngpufleet_engine_pods_in_memory 2\n"
    "# TYPE gpufleet_engine_usage_in_memory gauge\ngpufleet_engine_usage_in_memory 1\n"
    "# TYPE gpufleet_events_total counter\ngpufleet_events_total 8\n"
    "# TYPE gpufleet_tick_failures_total counter\ngpufleet_tick_failures_total 1\n"
    "# HELP gpufleet_agent_registrations_refused_total Agent registrations refused, by reason.\n"
    "# TYPE gpufleet_agent_registrations_refused_total counter\n"
    "gpufleet_agent_registrations_refused_total{reason=\"unknown_token\"} 0\n"
    "gpufleet_agent_registrations_refused_total{reason=\"expired\"} 0\n"
    "gpufleet_agent_registrations_refused_total{reason=\"used_up\"} 0\n"
    "gpufleet_agent_registrations_refused_total{reason=\"revoked\"} 0\n"
    "gpufleet_agent_registrations_refused_total{reason=\"host_exists\"} 0\n"
    "gpufleet_agent_registrations_refused_total{reason=\"wrong_host\"} 0\n"
    "# HELP gpufleet_agent_status_requests_total Pod status requests of agents, by endpoint.\n"
    "# TYPE gpufleet_agent_status_requests_total counter\n"
    "gpufleet_agent_status_requests_total{endpoint=\"single\"} 4\n"
    "gpufleet_agent_status_requests_total{endpoint=\"batch\"} 0\n"
    "# HELP gpufleet_agent_status_reports_total Pod status reports those requests carried.\n"
    "# TYPE gpufleet_agent_status_reports_total counter\n"
    "gpufleet_agent_status_reports_total 4\n";

static void test_engine_snapshot(void **state)
{
    (void)state;
    ef_fixture *f = ef_new(EF_FAULT);
    gpf_pod p1, p2, p3;
    ef_launch(f, &f->alice, "mig1g", &p1, 0);
    ef_agent_says(f, p1.id, GPF_POD_RUNNING, 0);
    ef_launch(f, &f->bob, "whole", &p2, 0);
    ef_agent_says(f, p2.id, GPF_POD_RUNNING, 0);
    ef_agent_says(f, p2.id, GPF_POD_STOPPED, 0);
    ef_launch(f, &f->bob, "whole", &p3, 0); /* starting */
    ef_launch(f, &f->alice, "no-such-sku", NULL, GPF_ENOTFOUND);
    assert_int_equal(gpf_engine_host_override(f->e, &f->admin, "h1", 1, "testing", NULL, NULL), 0);
    assert_int_equal(gpf_engine_host_override(f->e, &f->admin, "h1", 0, NULL, NULL, NULL), 0);
    /* one housekeeping transaction fails: p3's start timeout, whose write the store refuses
     * (h1 was just heard from, so it is not lost); p3 stays starting */
    f->now += 200 * 1000;
    ef_agent_says(f, p1.id, GPF_POD_RUNNING, 0);
    assert_int_equal(gpf_store_fault_arm(f->store, 1, GPF_STORE_FAULT_TRANSIENT, 0), 0);
    gpf_engine_tick(f->e);
    assert_int_equal(gpf_store_fault_failures(f->store), 1);
    assert_int_equal(gpf_engine_tick_failures(f->e), 1);

    gpf_metrics m;
    memset(&m, 0xa5, sizeof m); /* overwritten, not read */
    gpf_engine_metrics(f->e, &m);
    assert_int_equal(m.pods[GPF_POD_PENDING], 0);
    assert_int_equal(m.pods[GPF_POD_STARTING], 1);
    assert_int_equal(m.pods[GPF_POD_RUNNING], 1);
    assert_int_equal(m.pods[GPF_POD_STOPPED], 1);
    assert_int_equal(m.pods[GPF_POD_FAILED], 0);
    assert_int_equal(m.nhosts, 1);
    const gpf_metrics_host *h = &m.hosts[0];
    assert_string_equal(h->id, "h1");
    assert_int_equal(h->state, GPF_HOST_READY);
    assert_int_equal(h->preflight, GPF_PREFLIGHT_UNKNOWN);
    assert_int_equal(h->schedulable, 1);
    assert_int_equal(h->drift, 0);
    assert_int_equal(h->ngpus, 2);
    assert_int_equal(h->gpus[0].index, 0);
    assert_string_equal(h->gpus[0].model, "H100-80GB-SXM5");
    assert_int_equal(h->gpus[0].allocated_milli, 1000); /* p3, whole */
    assert_int_equal(h->gpus[1].index, 1);
    assert_int_equal(h->gpus[1].allocated_milli, 125); /* p1: 1 of the H100's 8 MIG memory slots */
    assert_int_equal(m.launches_total, 4);
    assert_int_equal(m.launch_rejected_total, 0); /* an unknown SKU is not a placement refused */
    assert_int_equal(m.pods_started_total, 2);
    assert_int_equal(m.pods_failed_total, 0);
    assert_int_equal(m.agent_registrations_total, 1);
    assert_int_equal(m.bad_agent_reports_total, 0);
    assert_int_equal(m.tick_failures_total, 1);
    assert_int_equal(m.agent_status_requests[0], 4); /* four single reports, no batch */
    assert_int_equal(m.agent_status_requests[1], 0);
    assert_int_equal(m.agent_status_reports_total, 4);
    assert_int_equal(m.usage_records, 2); /* p1 open, p2 closed */
    /* held in memory: p1 (running) and p3 (starting), p1's open record; p2 and its closed
     * record are only in the store, and still counted above */
    assert_int_equal(m.pods_in_memory, 2);
    assert_int_equal(m.usage_in_memory, 1);
    /* the fixture's (join_token_created, user_created and token_created twice, host_registered),
     * then override set and override cleared */
    assert_int_equal(m.events_total, 8);

    gpf_buf out = {0};
    gpf_metrics_render(&m, &out);
    assert_string_equal(gpf_buf_cstr(&out), engine_text);

    gpf_metrics_clear(&m);
    gpf_buf_clear(&out);
    ef_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_engine_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
