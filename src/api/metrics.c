/* /metrics text from a snapshot (metrics.h). The names, help texts and order are the API's
 * contract with dashboards: unchanged from when the engine wrote this text itself. */
#include "api/metrics.h"

static int host_gpus(const gpf_metrics_host *h)
{
    return h->ngpus < 0 ? 0 : h->ngpus > GPF_MAX_HOST_GPUS ? GPF_MAX_HOST_GPUS : h->ngpus;
}

void gpf_metrics_render(const gpf_metrics *m, gpf_buf *b)
{
    int hs[GPF_HOST_UNREACHABLE + 1] = {0};
    long gpus = 0;
    gpf_buf_puts(b, "# HELP gpufleet_pods Pods by state.\n# TYPE gpufleet_pods gauge\n");
    for (int s = 0; s <= GPF_POD_LOST; s++)
        gpf_buf_printf(b, "gpufleet_pods{state=\"%s\"} %lld\n", gpf_pod_state_name((gpf_pod_state)s),
                       (long long)m->pods[s]);
    gpf_buf_puts(b, "# HELP gpufleet_hosts Registered hosts by state.\n# TYPE gpufleet_hosts gauge\n");
    for (size_t i = 0; i < m->nhosts; i++) {
        const gpf_metrics_host *h = &m->hosts[i];
        if ((int)h->state >= 0 && h->state <= GPF_HOST_UNREACHABLE)
            hs[h->state]++;
        gpus += host_gpus(h);
    }
    for (int s = 0; s <= GPF_HOST_UNREACHABLE; s++)
        gpf_buf_printf(b, "gpufleet_hosts{state=\"%s\"} %d\n", gpf_host_state_name((gpf_host_state)s), hs[s]);
    gpf_buf_printf(b, "# HELP gpufleet_gpus Registered GPUs.\n# TYPE gpufleet_gpus gauge\ngpufleet_gpus %ld\n", gpus);
    gpf_buf_puts(b, "# HELP gpufleet_host_schedulable 1 when new pods may be placed on the host.\n"
                    "# TYPE gpufleet_host_schedulable gauge\n");
    for (size_t i = 0; i < m->nhosts; i++)
        gpf_buf_printf(b, "gpufleet_host_schedulable{host=\"%s\",preflight=\"%s\"} %d\n", m->hosts[i].id,
                       gpf_preflight_name(m->hosts[i].preflight), m->hosts[i].schedulable);
    gpf_buf_puts(b, "# HELP gpufleet_host_drift Open differences between the ledger and the host's last report.\n"
                    "# TYPE gpufleet_host_drift gauge\n");
    for (size_t i = 0; i < m->nhosts; i++)
        gpf_buf_printf(b, "gpufleet_host_drift{host=\"%s\"} %d\n", m->hosts[i].id, m->hosts[i].drift);
    gpf_buf_puts(b, "# HELP gpufleet_gpu_allocated_milli GPU-equivalents allocated, in thousandths.\n"
                    "# TYPE gpufleet_gpu_allocated_milli gauge\n");
    for (size_t i = 0; i < m->nhosts; i++) {
        const gpf_metrics_host *h = &m->hosts[i];
        for (int g = 0; g < host_gpus(h); g++)
            gpf_buf_printf(b, "gpufleet_gpu_allocated_milli{host=\"%s\",gpu=\"%d\",model=\"%s\"} %d\n", h->id,
                           h->gpus[g].index, h->gpus[g].model, h->gpus[g].allocated_milli);
    }
    const struct {
        const char *name, *type;
        unsigned long long value;
    } counters[] = {
        {"gpufleet_pod_launches_total", "counter", m->launches_total},
        {"gpufleet_pod_launch_rejected_total", "counter", m->launch_rejected_total},
        {"gpufleet_pods_started_total", "counter", m->pods_started_total},
        {"gpufleet_pods_failed_total", "counter", m->pods_failed_total},
        {"gpufleet_agent_registrations_total", "counter", m->agent_registrations_total},
        {"gpufleet_agent_bad_reports_total", "counter", m->bad_agent_reports_total},
        {"gpufleet_usage_records", "gauge", m->usage_records},
        {"gpufleet_engine_pods_in_memory", "gauge", m->pods_in_memory},
        {"gpufleet_engine_usage_in_memory", "gauge", m->usage_in_memory},
        {"gpufleet_events_total", "counter", m->events_total},
        {"gpufleet_tick_failures_total", "counter", m->tick_failures_total},
    };
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++)
        gpf_buf_printf(b, "# TYPE %s %s\n%s %llu\n", counters[i].name, counters[i].type, counters[i].name,
                       counters[i].value);
    gpf_buf_puts(b, "# HELP gpufleet_agent_registrations_refused_total Agent registrations refused, by reason.\n"
                    "# TYPE gpufleet_agent_registrations_refused_total counter\n");
    for (int r = 0; r < GPF_REG_REFUSED_COUNT; r++)
        gpf_buf_printf(b, "gpufleet_agent_registrations_refused_total{reason=\"%s\"} %llu\n",
                       gpf_reg_refusal_name((gpf_reg_refusal)r), (unsigned long long)m->registrations_refused[r]);
    gpf_buf_printf(b,
                   "# HELP gpufleet_agent_status_requests_total Pod status requests of agents, by endpoint.\n"
                   "# TYPE gpufleet_agent_status_requests_total counter\n"
                   "gpufleet_agent_status_requests_total{endpoint=\"single\"} %llu\n"
                   "gpufleet_agent_status_requests_total{endpoint=\"batch\"} %llu\n"
                   "# HELP gpufleet_agent_status_reports_total Pod status reports those requests carried.\n"
                   "# TYPE gpufleet_agent_status_reports_total counter\n"
                   "gpufleet_agent_status_reports_total %llu\n",
                   (unsigned long long)m->agent_status_requests[0], (unsigned long long)m->agent_status_requests[1],
                   (unsigned long long)m->agent_status_reports_total);
}
