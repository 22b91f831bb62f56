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

/* Why an agent's registration was refused (gpufleet_agent_registrations_refused_total). */
typedef enum {
    GPF_REG_REFUSED_UNKNOWN_TOKEN = 0, /* neither a join token nor an agent token */
    GPF_REG_REFUSED_EXPIRED,           /* a join token past its expiry */
    GPF_REG_REFUSED_USED_UP,           /* a join token with no uses left */
    GPF_REG_REFUSED_REVOKED,           /* a revoked join token */
    GPF_REG_REFUSED_HOST_EXISTS,       /* a join token for a host that exists and was not re-keyed */
    GPF_REG_REFUSED_WRONG_HOST,        /* an agent token of another host */
    GPF_REG_REFUSED_COUNT
} gpf_reg_refusal;
/* "unknown_token", "expired", "used_up", "revoked", "host_exists", "wrong_host"; "?" out of range. */
const char *gpf_reg_refusal_name(gpf_reg_refusal r);
int gpf_reg_refusal_parse(const char *s);

typedef struct gpf_metrics {
    int64_t pods[GPF_POD_LOST + 1]; /* pods by state (final ones counted, not held) */
    size_t pods_in_memory;      /* pods the engine holds: the live ones (final ones are only stored) */
    size_t usage_in_memory;     /* usage records it holds: the open ones */
    size_t nhosts;
    gpf_metrics_host *hosts;    /* owned (gpf_metrics_clear frees it), in the engine's host order */
    uint64_t launches_total;    /* launch requests, refused ones included */
    uint64_t launch_rejected_total;
    uint64_t pods_started_total;
    uint64_t pods_failed_total;
    uint64_t agent_registrations_total;
    uint64_t bad_agent_reports_total;
    uint64_t agent_status_requests[2]; /* pod status requests taken: [0] one report each, [1] batches */
    uint64_t agent_status_reports_total; /* the reports they carried */
    uint64_t registrations_refused[GPF_REG_REFUSED_COUNT]; /* by gpf_reg_refusal */
    uint64_t tick_failures_total;   /* housekeeping transactions that failed (retried next tick) */
    size_t usage_records;       /* usage records, open and closed (closed ones are only stored) */
    uint64_t events_total;
} gpf_metrics;

/* Frees m->hosts and zeroes m; accepts NULL. */
void gpf_metrics_clear(gpf_metrics *m);

#endif
