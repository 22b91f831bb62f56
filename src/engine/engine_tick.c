/* Engine: periodic housekeeping (silent hosts: unreachable, then lost; pods that never
 * started) and the metrics snapshot. */
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"
#include "util/alloc.h"
#include "util/log.h"

/* Housekeeping has no caller to tell: a change whose transaction failed is logged and
 * counted, memory stays as it was, and the next tick finds it due again. */
static void tick_failed(gpf_engine *e, const char *op, const char *id, const gpf_error *err)
{
    e->tick_failures_total++;
    GPF_ERROR("engine", "event=store_failed op=%s id=%s msg=\"%s\" retry=next_tick", op, id, gpf_error_msg(err));
}

void gpf_engine_tick(gpf_engine *e)
{
    pthread_mutex_lock(&e->mu);
    int64_t now = eng_now(e);
    int64_t limit = (int64_t)e->heartbeat_ms * e->lost_after_beats;
    for (size_t i = 0; i < e->hosts.n; i++) {
        host_entry *h = VEC_AT(&e->hosts, host_entry, i);
        int64_t silent = now - h->last_seen_ms;
        gpf_error err = {0};
        if (h->rec.state == GPF_HOST_READY && silent > limit) {
            GPF_WARN("engine", "event=host_unreachable host=%s silent_ms=%lld", h->rec.id, (long long)silent);
            if (eng_host_unreachable(e, h, now, &err) != 0) {
                tick_failed(e, "host_unreachable", h->rec.id, &err);
                continue;
            }
        }
        if (h->rec.state == GPF_HOST_UNREACHABLE && silent > limit + e->host_grace_ms) {
            GPF_WARN("engine", "event=host_lost host=%s silent_ms=%lld", h->rec.id, (long long)silent);
            if (eng_host_lost(e, h, now, &err) != 0)
                tick_failed(e, "host_lost", h->rec.id, &err);
        }
    }
    for (size_t i = 0; i < e->pods.n; i++) {
        gpf_pod *p = VEC_AT(&e->pods, gpf_pod, i);
        if (p->state != GPF_POD_STARTING || now - p->created_ms <= e->start_timeout_ms)
            continue;
        char reason[GPF_TEXT_MAX];
        snprintf(reason, sizeof reason, "the agent of %s did not start the pod within %d s", p->placement.host_id,
                 e->start_timeout_ms / 1000);
        gpf_error err = {0};
        if (eng_pod_finish(e, p, GPF_POD_FAILED, now, reason, &err) != 0)
            tick_failed(e, "pod_timeout", p->id, &err);
    }
    (void)eng_unlock_sync(e, 0, NULL); /* no one to answer: durable with the next barrier at worst */
}

uint64_t gpf_engine_tick_failures(gpf_engine *e)
{
    pthread_mutex_lock(&e->mu);
    uint64_t n = e->tick_failures_total;
    pthread_mutex_unlock(&e->mu);
    return n;
}

void gpf_engine_metrics(gpf_engine *e, gpf_metrics *m)
{
    memset(m, 0, sizeof *m);
    gpf_host_usage *u = GPF_NEW(gpf_host_usage);
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < e->pods.n; i++) {
        const gpf_pod *p = VEC_AT(&e->pods, gpf_pod, i);
        if ((int)p->state >= 0 && p->state <= GPF_POD_LOST)
            m->pods[p->state]++;
    }
    for (int s = 0; s <= GPF_POD_LOST; s++)
        m->pods[s] += e->final_pods[s]; /* those only in the store */
    m->pods_in_memory = e->pods.n;
    m->usage_in_memory = e->usage.n;
    m->nhosts = e->hosts.n;
    m->hosts = e->hosts.n ? gpf_calloc(e->hosts.n, sizeof *m->hosts) : NULL;
    for (size_t i = 0; i < e->hosts.n; i++) {
        const host_entry *h = VEC_AT(&e->hosts, host_entry, i);
        gpf_metrics_host *mh = &m->hosts[i];
        eng_host_usage(e, h, u);
        gpf_strlcpy(mh->id, h->rec.id, sizeof mh->id);
        mh->state = h->rec.state;
        mh->preflight = h->rec.preflight;
        mh->schedulable = u->schedulable;
        mh->drift = h->ndrift;
        mh->ngpus = h->rec.ngpus;
        for (int g = 0; g < h->rec.ngpus && g < GPF_MAX_HOST_GPUS; g++) {
            mh->gpus[g].index = h->rec.gpus[g].index;
            gpf_strlcpy(mh->gpus[g].model, h->rec.gpus[g].model, sizeof mh->gpus[g].model);
            mh->gpus[g].allocated_milli = u->gpu_allocated_milli[g];
        }
    }
    m->launches_total = e->launches_total;
    m->launch_rejected_total = e->launch_rejected_total;
    m->pods_started_total = e->pods_started_total;
    m->pods_failed_total = e->pods_failed_total;
    m->agent_registrations_total = e->agent_registrations_total;
    m->bad_agent_reports_total = e->bad_agent_reports_total;
    m->agent_status_requests[0] = e->agent_status_requests[0];
    m->agent_status_requests[1] = e->agent_status_requests[1];
    m->agent_status_reports_total = e->agent_status_reports_total;
    memcpy(m->registrations_refused, e->registrations_refused, sizeof m->registrations_refused);
    m->tick_failures_total = e->tick_failures_total;
    m->usage_records = (size_t)e->usage_closed + e->usage.n;
    m->events_total = e->events_total;
    pthread_mutex_unlock(&e->mu);
    gpf_free(u);
}
