/* What the engine and the API exchange that is neither a stored record nor an agent
 * message: a pod launch request, and the figures the engine adds to a host record (its
 * ledger use and open drift). Not stored; the codec decodes the one and encodes the other. */
#ifndef GPF_MODEL_VIEWS_H
#define GPF_MODEL_VIEWS_H

#include <stdint.h>

#include "model/ids.h"

/* A pod launch request (POST /v1/pods). */
typedef struct gpf_launch_req {
    char sku[GPF_ID_MAX];
    char project[GPF_ID_MAX];         /* "" when absent */
    char ssh_pubkey[GPF_PUBKEY_MAX];  /* "" when absent */
} gpf_launch_req;

#define GPF_MAX_HOST_DRIFT 32

/* A difference between the ledger and what the agent last reported, open while it lasts. */
typedef struct gpf_drift {
    char kind[24];              /* gpu_missing, mig_unowned, mig_missing, foreign_process, pod_idle */
    char subject[GPF_UUID_MAX]; /* what it is about: a GPU/MIG UUID, "GPU-…/pid 123", a pod id */
    char detail[GPF_TEXT_MAX];
    int64_t since_ms;
} gpf_drift;

/* Extra figures the engine knows about a host's ledger, shown next to the record. */
typedef struct gpf_host_usage {
    int cpus_used;
    int64_t memory_used_mib;
    int gpu_allocated_milli[GPF_MAX_HOST_GPUS]; /* per GPU, 0..1000 */
    int gpu_mig_used_slots[GPF_MAX_HOST_GPUS];  /* per GPU, number of used memory slots */
    int schedulable;            /* 1 when new pods may be placed on the host */
    char unschedulable_reason[GPF_TEXT_MAX]; /* why not, "" when schedulable */
    int ndrift;                 /* open drift, at most GPF_MAX_HOST_DRIFT */
    gpf_drift drift[GPF_MAX_HOST_DRIFT];
} gpf_host_usage;

#endif
