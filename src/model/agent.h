/* What an agent reports to the control plane: the pods it runs and the GPUs it sees (a
 * heartbeat), and one pod's status. Messages, not stored: the agent fills them, the codec
 * carries them, the engine reconciles its records with them. */
#ifndef GPF_MODEL_AGENT_H
#define GPF_MODEL_AGENT_H

#include <stdint.h>

#include "model/fleet.h" /* gpf_pod_state, gpf_isolation, the size limits */

/* One pod in an agent heartbeat: running, or failed when the agent saw it die. */
typedef struct gpf_agent_pod_report {
    char id[GPF_ID_MAX];
    gpf_pod_state state;
    int64_t at_ms;              /* failed: when the agent saw it dead (UTC ms; 0 = now) */
    char message[GPF_TEXT_MAX]; /* failed: what the agent saw */
    int64_t idle_s;             /* running: seconds without an SSH session or GPU work; -1 unknown */
} gpf_agent_pod_report;

#define GPF_HW_MAX_MIG 8
#define GPF_HW_MAX_PROCS 64

/* A MIG device the agent sees on a GPU. */
typedef struct gpf_hw_mig {
    char uuid[GPF_UUID_MAX];
    int gi_id, ci_id, profile_id; /* -1 unknown */
    int start, size;            /* placement in memory slots, -1 unknown */
} gpf_hw_mig;

/* A process the agent sees on a GPU, with the pod it belongs to ("" = none). */
typedef struct gpf_hw_proc {
    unsigned pid;
    int64_t used_mib;           /* -1 unknown */
    int gi_id, ci_id;           /* its MIG device, -1 when not on one */
    char pod_id[GPF_ID_MAX];
} gpf_hw_proc;

/* A GPU in an agent heartbeat: its UUID, and with a hardware report its MIG devices and
 * processes. */
typedef struct gpf_hw_gpu {
    char uuid[GPF_UUID_MAX];
    int has_hw;                 /* mig[] and procs[] were reported */
    int mig_enabled;
    int nmig;
    gpf_hw_mig mig[GPF_HW_MAX_MIG];
    int nprocs;
    gpf_hw_proc procs[GPF_HW_MAX_PROCS];
} gpf_hw_gpu;

/* An agent heartbeat: the pods it runs and, when has_gpus, the GPUs it sees. */
typedef struct gpf_agent_report {
    int npods;
    gpf_agent_pod_report *pods;
    int has_gpus;               /* gpus[] is the complete list of what the agent sees */
    int ngpus;
    gpf_hw_gpu *gpus;
} gpf_agent_report;

/* An agent's report on one pod. */
typedef struct gpf_agent_pod_status {
    gpf_pod_state state;
    char message[GPF_TEXT_MAX];
    int ssh_port;
    char ssh_user[GPF_ID_MAX];
    char device_ids[GPF_TEXT_MAX];
    gpf_isolation isolation;
    int has_isolation;
    char ssh_host_key[GPF_PUBKEY_MAX]; /* "" when not reported */
    unsigned isolation_layers;  /* bit set of gpf_isolation_layer */
    int has_isolation_layers;
} gpf_agent_pod_status;

/* One report of a batch (POST /v1/agent/pods/status): the pod and what the agent says. */
typedef struct gpf_agent_status_item {
    char pod_id[GPF_ID_MAX];
    gpf_agent_pod_status st;
} gpf_agent_status_item;

#define GPF_AGENT_STATUS_BATCH_MAX 256          /* reports in one batch request */
#define GPF_AGENT_STATUS_BATCH_BYTES (48 * 1024) /* what an agent puts in one (the API takes 64 KiB) */

#endif
