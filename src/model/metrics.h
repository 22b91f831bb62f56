/* The control plane's figures for /metrics, as a snapshot: the engine fills one under its
 * lock (copies only, no formatting), and the API renders the Prometheus text after the lock
 * is released (api/metrics.h). Not stored. Same conventions as model/fleet.h. */
#ifndef GPF_MODEL_METRICS_H
#define GPF_MODEL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "model/fleet.h"

/* One GPU of a host: its index there, catalog model and the thousandths allocated. */
typedef struct gpf_metrics_gpu {
    int index;
    char model[GPF_ID_MAX];
    int allocated_milli;        /* 0..1000 */
} gpf_metrics_gpu;

/* One registered host. */
typedef struct gpf_metrics_host {
    char id[GPF_ID_MAX];
    gpf_host_state state;
    gpf_preflight_verdict preflight;
    int schedulable;            /* 1 when new pods may be placed on it */
    int drift;                  /* open differences between the ledger and its last report */
    int ngpus;                  /* 0..GPF_MAX_HOST_GPUS */
    gpf_metrics_gpu gpus[GPF_MAX_HOST_GPUS];
} gpf_metrics_host;

typedef struct gpf_metrics {
    int pods[GPF_POD_LOST + 1]; /* pods by state */
    size_t nhosts;
    gpf_metrics_host *hosts;    /* owned (gpf_metrics_clear frees it), in the engine's host order */
    uint64_t launches_total;    /* launch requests, refused ones included */
    uint64_t launch_rejected_total;
    uint64_t pods_started_total;
    uint64_t pods_failed_total;
    uint64_t agent_registrations_total;
    uint64_t bad_agent_reports_total;
    uint64_t tick_failures_total;   /* housekeeping transactions that failed (retried next tick) */
    size_t usage_records;       /* usage records held (open and closed) */
    uint64_t events_total;
} gpf_metrics;

/* Frees m->hosts and zeroes m; accepts NULL. */
void gpf_metrics_clear(gpf_metrics *m);

#endif
