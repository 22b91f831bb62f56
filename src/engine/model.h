/* gpufleet domain records: what the engine owns, the store persists and the API
 * serialises. Plain structs with fixed-size strings (all NUL-terminated) so they
 * copy by value; variable lists are small fixed arrays. Times are UTC ms
 * (int64, 0 = unset); money is int64 micro-units of the currency.
 * Names follow ../DESIGN.md §2. */
#ifndef GPF_ENGINE_MODEL_H
#define GPF_ENGINE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "sched/slice.h" /* slices, placements, GPF_ID_MAX, GPF_UUID_MAX, GPF_MAX_*_GPUS, GPF_MAX_SKU_MODELS */

#define GPF_TEXT_MAX 256
#define GPF_PUBKEY_MAX 2048  /* one OpenSSH public key line */
#define GPF_DIGEST_MAX 72    /* "sha256:" + 64 lowercase hex digits + NUL */
#define GPF_SOURCE_MAX 1024  /* where an image was imported from (a path or docker:// reference) */

/* ---- isolation ----------------------------------------------------------
 * gpf_isolation (sched/slice.h) orders levels from strongest (hardware = 0) to weakest
 * (soft): "at least L" means a value <= L. A zeroed record therefore says "hardware".
 * gpf_isolation_expected (sched/slice.h): what a pod of a slice kind gets on a host. */

/* The isolation a host's runtime enforces at most when its agent does not say: "hardware"
 * for the runtimes "fake" and "oci", "soft" for "process" and any other. */
gpf_isolation gpf_host_isolation_default(const char *runtime);

/* The mechanisms an agent reports a pod's sandbox to have ("isolation_layers"), a fixed
 * vocabulary kept as a bit set (bit i = layer i, in this order). */
typedef enum {
    GPF_LAYER_USERNS = 0, GPF_LAYER_NETNS, GPF_LAYER_PIDNS, GPF_LAYER_IPCNS, GPF_LAYER_UTSNS,
    GPF_LAYER_MOUNTNS, GPF_LAYER_CGROUPNS, GPF_LAYER_SECCOMP, GPF_LAYER_NO_NEW_PRIVS,
    GPF_LAYER_CAPS_DROPPED, GPF_LAYER_DEVICES, GPF_LAYER_CGROUPS, GPF_LAYER_SYS_RO,
    GPF_LAYER_PROC_MASKED, GPF_LAYER_COUNT
} gpf_isolation_layer;
#define GPF_MAX_ISOLATION_LAYERS 16 /* entries an agent may report */
/* "userns" "netns" "pidns" "ipcns" "utsns" "mountns" "cgroupns" "seccomp" "no_new_privs"
 * "caps_dropped" "devices" "cgroups" "sys_ro" "proc_masked"; "?" out of range. */
const char *gpf_isolation_layer_name(gpf_isolation_layer l);
int gpf_isolation_layer_parse(const char *s); /* -1 when unknown */
/* The set as names joined by ',' in vocabulary order ("" for none) into out (size >= 160);
 * and back: 0, or -1 when a name is unknown or repeated (out untouched). */
void gpf_isolation_layers_format(unsigned set, char *out, size_t size);
int gpf_isolation_layers_parse(const char *s, unsigned *out);

/* ---- hosts and GPUs --------------------------------------------------- */

typedef struct gpf_gpu_rec {
    char uuid[GPF_UUID_MAX];
    int index;                  /* index on its host */
    char model[GPF_ID_MAX];     /* catalog gpus.csv key, e.g. "H100-80GB-SXM5" */
    char name[GPF_TEXT_MAX];    /* as NVML names it, e.g. "NVIDIA H100 80GB HBM3" */
    char pci_bus_id[32];
    int numa_node;              /* -1 unknown */
    int64_t memory_mib;
    int mig_enabled;            /* 1 when the GPU is in MIG mode */
} gpf_gpu_rec;

typedef enum { GPF_HOST_READY = 0, GPF_HOST_LOST, GPF_HOST_DRAINING } gpf_host_state;
const char *gpf_host_state_name(gpf_host_state s);
int gpf_host_state_parse(const char *s);

/* The agent's preflight verdict (`gpufleet check`, docs/hardware.md). UNKNOWN: the agent
 * did not report one (an older agent): treated like PASS for placement. */
typedef enum {
    GPF_PREFLIGHT_UNKNOWN = 0, GPF_PREFLIGHT_PASS, GPF_PREFLIGHT_WARN, GPF_PREFLIGHT_FAIL
} gpf_preflight_verdict;
const char *gpf_preflight_name(gpf_preflight_verdict v); /* "unknown" "pass" "warn" "fail" */
int gpf_preflight_parse(const char *s);

#define GPF_MAX_HOST_FINDINGS 16

/* One preflight finding that needs attention (warn or fail; passes are not kept). */
typedef struct gpf_host_finding {
    char check[24];             /* "pcie-link", "numa", "iommu", "driver", … */
    gpf_preflight_verdict level; /* WARN or FAIL */
    int gpu;                    /* host GPU index; -1 = the host as a whole */
    char detail[GPF_TEXT_MAX];
    char fix[GPF_TEXT_MAX];
} gpf_host_finding;

typedef struct gpf_host_rec {
    char id[GPF_ID_MAX];        /* stable: the agent's host name */
    char address[GPF_TEXT_MAX]; /* where pods' sshd listen (IP or DNS name) */
    char deploy_mode[32];       /* "baremetal" "passthrough" "vgpu" "cloud" */
    char backend[32];           /* GPU backend: "fake" "nvml" */
    char runtime[32];           /* pod runtime: "process" "fake" "oci" */
    char agent_version[32];
    int cpus;
    int64_t memory_mib;
    int numa_nodes;
    gpf_host_state state;
    int64_t registered_ms;
    int64_t last_heartbeat_ms;
    int ngpus;
    gpf_gpu_rec gpus[GPF_MAX_HOST_GPUS];
    /* The preflight the agent ran at its start: a FAIL keeps the host out of placement
     * unless an operator overrides it. */
    gpf_preflight_verdict preflight;
    int64_t preflight_ms;       /* when the control plane received it */
    int nfindings;              /* warn and fail findings, worst first, at most GPF_MAX_HOST_FINDINGS */
    gpf_host_finding findings[GPF_MAX_HOST_FINDINGS];
    /* Operator override of a failing preflight (set by the control plane, never by an
     * agent; it lasts until cleared). */
    int override;
    char override_by[GPF_ID_MAX];
    char override_reason[GPF_TEXT_MAX];
    int64_t override_ms;
    /* The strongest isolation the host's runtime enforces ("isolation_max" in the register
     * body; gpf_host_isolation_default(runtime) when absent). Placement refuses the host for
     * SKUs whose min_isolation its pods cannot reach. */
    gpf_isolation isolation_max;
    int isolation_max_given;    /* the agent stated it (encoders send it only then); not stored */
} gpf_host_rec;

/* ---- SKUs ------------------------------------------------------------- */

typedef struct gpf_sku {
    char name[GPF_ID_MAX];      /* the id */
    char description[GPF_TEXT_MAX];
    gpf_slice_spec slice;
    int nmodels;                /* allowed catalog GPU models (gpus.csv keys or MIG keys) */
    char models[GPF_MAX_SKU_MODELS][GPF_ID_MAX];
    int cpus;
    int64_t memory_mib;
    int64_t ttl_s;              /* 0 = none */
    int64_t idle_timeout_s;     /* 0 = none */
    int64_t price_micro_per_hour; /* per pod-hour of this SKU */
    char license_feature[GPF_ID_MAX]; /* "" = none (licences arrive in their own issue) */
    char env[GPF_TEXT_MAX];     /* extra environment, "K=V;K2=V2" */
    int64_t created_ms;
    int64_t updated_ms;
    char image[GPF_ID_MAX];     /* the image its pods run (gpf_image.name); "" = the image named "default" */
    /* The weakest isolation its pods accept (API default "device"; SKUs from before images
     * have "soft"). NB: a zeroed record asks for "hardware". */
    gpf_isolation min_isolation;
} gpf_sku;

/* ---- images ------------------------------------------------------------ */

/* An OCI image the control plane holds in its image layout (<state-dir>/images) and
 * serves to agents blob by blob. */
typedef struct gpf_image {
    char name[GPF_ID_MAX];      /* the id (gpf_name_valid); also the layout's ref name */
    char digest[GPF_DIGEST_MAX];/* of its OCI image manifest: "sha256:<64 hex>" */
    int64_t size_bytes;         /* config + layer blobs */
    char source[GPF_SOURCE_MAX];/* what it was imported from */
    int64_t created_ms;         /* when it was (last) imported */
} gpf_image;

/* ---- users and tokens ------------------------------------------------- */

typedef enum { GPF_ROLE_ADMIN = 0, GPF_ROLE_OPERATOR, GPF_ROLE_MEMBER, GPF_ROLE_FINANCE, GPF_ROLE_VIEWER } gpf_role;
const char *gpf_role_name(gpf_role r);
int gpf_role_parse(const char *s);

typedef struct gpf_user {
    char name[GPF_ID_MAX];
    gpf_role role;
    char team[GPF_ID_MAX];      /* "" until governance lands */
    char ssh_pubkey[GPF_PUBKEY_MAX];
    int64_t created_ms;
} gpf_user;

typedef struct gpf_token {
    char id[GPF_ID_MAX];        /* public id, "tok-…" */
    char user[GPF_ID_MAX];      /* owner; "" for agent tokens */
    char host_id[GPF_ID_MAX];   /* agent tokens: the host; "" for user tokens */
    char hash[65];              /* SHA-256 hex of the secret; the secret is never stored */
    int64_t created_ms;
} gpf_token;

/* ---- pods ------------------------------------------------------------- */

typedef enum {
    GPF_POD_PENDING = 0, GPF_POD_STARTING, GPF_POD_RUNNING, GPF_POD_STOPPING,
    GPF_POD_STOPPED, GPF_POD_FAILED, GPF_POD_PREEMPTED, GPF_POD_EXPIRED, GPF_POD_LOST,
} gpf_pod_state;
const char *gpf_pod_state_name(gpf_pod_state s);
int gpf_pod_state_parse(const char *s);
int gpf_pod_state_is_final(gpf_pod_state s); /* stopped failed preempted expired lost */

typedef struct gpf_pod {
    char id[GPF_ID_MAX];        /* "pod-" + 8 hex */
    char owner[GPF_ID_MAX];
    char project[GPF_ID_MAX];
    char sku[GPF_ID_MAX];
    gpf_slice_spec slice;       /* copied from the SKU at launch */
    gpf_isolation isolation;
    gpf_pod_state state;
    char reason[GPF_TEXT_MAX];  /* why pending/failed, or last transition note */
    int placed;                 /* 1 when placement is valid */
    gpf_placement placement;
    char device_ids[GPF_TEXT_MAX]; /* CUDA_VISIBLE_DEVICES as the agent set it */
    char ssh_host[GPF_TEXT_MAX];
    int ssh_port;
    char ssh_user[GPF_ID_MAX];
    int64_t price_micro_per_hour;
    int64_t created_ms;
    int64_t started_ms;         /* became running */
    int64_t stopped_ms;         /* reached a final state */
    char ssh_pubkey[GPF_PUBKEY_MAX]; /* the key the pod accepts (fixed at launch) */
    /* The image, resolved from the SKU at launch: name ("default" when the SKU names none)
     * and manifest digest ("" when the control plane had no such image: the agent decides). */
    char image[GPF_ID_MAX];
    char image_digest[GPF_DIGEST_MAX];
    char ssh_host_key[GPF_PUBKEY_MAX]; /* the pod's sshd host key as its agent reported it; "" unknown */
    unsigned isolation_layers;  /* bit set of gpf_isolation_layer the agent reported */
} gpf_pod;

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

/* ---- requests and reports shared by the engine and the API ------------- */

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
} gpf_event_filter;

/* A pod launch request (POST /v1/pods). */
typedef struct gpf_launch_req {
    char sku[GPF_ID_MAX];
    char project[GPF_ID_MAX];         /* "" when absent */
    char ssh_pubkey[GPF_PUBKEY_MAX];  /* "" when absent */
} gpf_launch_req;

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

#endif
