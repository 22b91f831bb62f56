/* Usage records and the event log: what was used, by whom, for how long and at which
 * price, and what the control plane noticed about the fleet. Both are written by the engine
 * and kept by the store; same conventions as model/fleet.h. */
#ifndef GPF_MODEL_USAGE_H
#define GPF_MODEL_USAGE_H

#include <stdint.h>

#include "model/ids.h"
#include "model/slice.h" /* gpf_slice_kind, gpf_isolation */

/* ---- usage ------------------------------------------------------------ */

typedef struct gpf_usage {
    int64_t id;                 /* store-assigned, > 0 */
    char pod_id[GPF_ID_MAX];
    char owner[GPF_ID_MAX];
    char project[GPF_ID_MAX];
    char sku[GPF_ID_MAX];
    char host_id[GPF_ID_MAX];
    gpf_slice_kind slice_kind;
    gpf_isolation isolation;
    int gpu_milli;              /* GPU-equivalents in thousandths */
    int64_t price_micro_per_hour;
    int64_t start_ms;
    int64_t end_ms;             /* 0 while open */
} gpf_usage;

/* ---- events ----------------------------------------------------------- */

/* Something the control plane noticed about the fleet: drift between the ledger and the
 * hardware, a dead or lost pod, a lost host, an override. Append-only. */
typedef struct gpf_event {
    int64_t id;                 /* store-assigned, > 0, increasing */
    int64_t at_ms;
    char kind[24];              /* see docs/api.md "Events" */
    char severity[8];           /* "info" "warn" "error" */
    char host_id[GPF_ID_MAX];   /* "" when not about a host */
    char pod_id[GPF_ID_MAX];    /* "" when not about a pod */
    char subject[GPF_UUID_MAX]; /* a GPU/MIG UUID or "GPU-…/pid N"; "" when none */
    char detail[GPF_TEXT_MAX];
} gpf_event;

typedef struct gpf_event_filter {
    const char *host_id;        /* NULL or "" = any */
    const char *pod_id;
    const char *kind;
    int64_t after_id;           /* only events with a larger id */
    int limit;                  /* at most this many, the newest (0 = 100) */
    int64_t before_id;          /* 0, or only events with a smaller id (paging to older ones) */
} gpf_event_filter;

#endif
