/* The slice vocabulary the scheduler, the engine's records and the agent share: what a SKU
 * asks for (a slice), where one landed (a placement), and the isolation a slice gets. The
 * scheduler (src/sched) includes this and nothing else of the model; model/fleet.h includes
 * it, so the records use the same types. The name/parse functions at the end are in
 * model/slice.c. */
#ifndef GPF_MODEL_SLICE_H
#define GPF_MODEL_SLICE_H

#include <stdint.h>

#include "model/ids.h" /* GPF_ID_MAX, GPF_UUID_MAX, GPF_MAX_*_GPUS, GPF_MAX_SKU_MODELS, gpf_name_valid */

/* ---- slices ---------------------------------------------------------- */

typedef enum {
    GPF_SLICE_WHOLE = 0, /* one or more whole GPUs on one host */
    GPF_SLICE_MIG,       /* a MIG GPU instance: profile at a placement */
    GPF_SLICE_VGPU,      /* a vGPU type: time-sliced, or MIG-backed (a MIG instance of its GI profile) */
    GPF_SLICE_SHARE,     /* fraction of a GPU in thousandths, with a memory cap */
} gpf_slice_kind;

typedef enum {
    GPF_ISO_HARDWARE = 0, /* whole, MIG, vGPU */
    GPF_ISO_DEVICE,       /* only its device nodes are bound */
    GPF_ISO_SOFT,         /* environment variables only */
} gpf_isolation;

/* What a SKU asks for. */
typedef struct gpf_slice_spec {
    gpf_slice_kind kind;
    int gpu_count;              /* whole: 1..8; otherwise 1 */
    char mig_profile[32];       /* mig: profile name ("1g.10gb") as in the catalog */
    char vgpu_type[32];         /* vgpu: type name ("L40S-12C") */
    int share_milli;            /* share: 1..1000 thousandths of the GPU's compute */
    int64_t share_memory_mib;   /* share: memory cap (0 = proportional to share_milli) */
} gpf_slice_spec;

/* Where a slice landed. gpu_uuids are the physical GPUs; device_uuids what the pod
 * sees (GPU UUIDs, or the MIG device UUID once the agent reports it). */
typedef struct gpf_placement {
    char host_id[GPF_ID_MAX];
    int ngpus;
    char gpu_uuids[GPF_MAX_POD_GPUS][GPF_UUID_MAX];
    int gpu_index[GPF_MAX_POD_GPUS];
    int mig_profile_id;         /* mig and MIG-backed vgpu: gi_profile_id, -1 otherwise */
    int mig_start;              /* mig and MIG-backed vgpu: placement start in memory slots */
    int mig_size;               /* mig and MIG-backed vgpu: placement size in memory slots (0 otherwise) */
    int share_milli;            /* share: thousandths granted */
    int64_t share_memory_mib;   /* share: memory cap granted */
    char vgpu_type[32];         /* vgpu: the type booked ("L40S-12C", "A100D-3-40C"), "" otherwise */
    int numa_node;              /* the NUMA node the CPUs are booked on; -1 = not tied to one */
    char note[128];             /* placement's remark, e.g. why CPUs are not on the GPU's node (not stored) */
    int cpus;                   /* CPUs reserved on the host */
    int64_t memory_mib;         /* host memory reserved */
    int gpu_milli;              /* GPU-equivalents in thousandths (whole GPU = 1000) */
} gpf_placement;

const char *gpf_slice_kind_name(gpf_slice_kind k);   /* "whole" "mig" "vgpu" "share" */
int gpf_slice_kind_parse(const char *s);             /* -1 when unknown */
const char *gpf_isolation_name(gpf_isolation i);     /* "hardware" "device" "soft" */
int gpf_isolation_parse(const char *s);
/* The isolation a pod of slice kind k gets on a host whose runtime enforces at most
 * host_max: the weaker of host_max and the slice's own (hardware for whole, mig and vgpu;
 * device for share). Levels order strongest first: a larger value is weaker. */
gpf_isolation gpf_isolation_expected(gpf_isolation host_max, gpf_slice_kind k);

#endif
