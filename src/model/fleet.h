/* The fleet's records: hosts and their GPUs, preflight findings, the isolation layers a pod's
 * sandbox has, SKUs, images and pods. What the engine owns, the store persists and the API
 * serialises. Plain structs with fixed-size strings (all NUL-terminated) so they copy by
 * value; variable lists are small fixed arrays. Times are UTC ms (int64, 0 = unset); money
 * is int64 micro-units of the currency. Names follow ../DESIGN.md §2. The name/parse
 * functions are in model/fleet.c. */
#ifndef GPF_MODEL_FLEET_H
#define GPF_MODEL_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "model/ids.h"
#include "model/slice.h" /* slices, placements, isolation levels */

/* ---- isolation ----------------------------------------------------------
 * gpf_isolation (model/slice.h) orders levels from strongest (hardware = 0) to weakest
 * (soft): "at least L" means a value <= L. A zeroed record therefore says "hardware".
 * gpf_isolation_expected (model/slice.h): what a pod of a slice kind gets on a host. */

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

/* READY: heard from within the heartbeat limit. UNREACHABLE: its agent is silent past the
 * limit; its pods are kept (still metered) but take no new ones, for the control plane's
 * host grace. LOST: silent past the grace too; its pods are lost. A host that is heard from
 * again is READY. (Values are kept: UNREACHABLE came last; the store keeps names.) */
typedef enum { GPF_HOST_READY = 0, GPF_HOST_LOST, GPF_HOST_DRAINING, GPF_HOST_UNREACHABLE } gpf_host_state;
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
    /* The most pods the agent runs at once ("max_pods" in the register body: its runtime's
     * limit); 0 = not stated (an older agent). Placement uses gpf_host_pods_max. */
    int max_pods;
    /* An operator's re-key (set by the control plane, never by an agent): the host's agent
     * tokens were revoked and the next join-token registration of this id may replace it,
     * once. 0 = none pending. */
    int64_t rekey_ms;
    char rekey_by[GPF_ID_MAX];
} gpf_host_rec;

/* The most pods one agent lists and one heartbeat carries (the protocol's limit): no host
 * can hold more, whatever its agent states. */
#define GPF_AGENT_MAX_PODS 1024
/* The most live (placed, not final) pods placement books on h: its agent's max_pods, capped
 * at GPF_AGENT_MAX_PODS; GPF_AGENT_MAX_PODS when the agent did not state it (every agent
 * version lists at most that many, so an older agent is held to it too). */
int gpf_host_pods_max(const gpf_host_rec *h);

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

/* The one rule for a SKU's env, kept by the API (SKU create/update) and by the agent before
 * it writes a pod's environment (sshd_config SetEnv, OCI process env), so that whatever the
 * API accepts an agent can run. env is "K=V;K2=V2": shorter than GPF_TEXT_MAX; entries
 * separated by single ';' (none empty, no trailing ';'; "" is no entries); each K is
 * [A-Za-z_][A-Za-z0-9_]* and not a name the runtime sets (gpf_sku_env_reserved); each V
 * has no control character, '"', '\\' or '%' (it sits in a double-quoted sshd_config
 * token). 1 valid; 0 invalid with why (when non-NULL, n > 0) saying which entry and why. */
int gpf_sku_env_valid(const char *env, char *why, size_t n);
/* 1 when name is set by the pod runtime itself (CUDA_VISIBLE_DEVICES, HOME, PATH…). */
int gpf_sku_env_reserved(const char *name);

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
    /* Its host is unreachable: whether the pod still runs is unknown (API "reachability":
     * "unknown"). Kept by the engine in memory from its host's state; not stored. */
    int host_unreachable;
} gpf_pod;

#endif
