/* Placement: pure functions over a snapshot of the fleet (the ledger).
 * No I/O, no clock, no printing. The engine owns one gpf_sched_fleet as its ledger,
 * asks gpf_sched_place for a decision and applies it with gpf_sched_apply; on stop it
 * calls gpf_sched_release. The simulator (placement issue) drives the same functions.
 * The same GPU capacity is never handed out twice: apply refuses (GPF_ENOCAPACITY)
 * anything that does not fit, so a bad caller cannot over-allocate either. */
#ifndef GPF_SCHED_SCHED_H
#define GPF_SCHED_SCHED_H

#include <stdint.h>

#include "catalog/catalog.h"
#include "model/slice.h"
#include "util/error.h"

#define GPF_VGPU_TYPES_PER_GPU 8 /* distinct vGPU types one GPU can run at once (mixed-size mode) */

/* vGPU instances of one type booked on a GPU. */
typedef struct gpf_sched_vgpu {
    const gpf_vgpu_type *type;
    int n;
} gpf_sched_vgpu;

/* One MIG GPU instance booked on a GPU: a bare MIG slice, or a MIG-backed vGPU (vgpu set). */
typedef struct gpf_sched_mig {
    int profile_id;               /* gi_profile_id */
    int start;                    /* placement start in memory slots */
    int size;                     /* placement size in memory slots */
    int compute_slices;           /* of the profile, so the ledger needs no catalog lookup */
    const gpf_vgpu_type *vgpu;    /* the MIG-backed vGPU type it serves; NULL = a bare MIG slice */
} gpf_sched_mig;

typedef struct gpf_sched_gpu {
    /* what placement reads on every decision comes first: one cache line */
    const gpf_gpu_model *model;   /* NULL when the catalog does not know it (never placed on) */
    int index;
    int mig_enabled;
    int numa_node;
    /* ledger */
    int whole_taken;              /* 1 when a whole-GPU slice holds it */
    int share_milli_used;         /* sum of shares, <= 1000 */
    int shares;                   /* number of share slices */
    int64_t memory_mib;
    int64_t share_memory_used_mib;
    uint32_t mig_slots_used;      /* bitmap of occupied memory slots */
    int mig_instances;            /* MIG instances placed (== number of entries in mig[]) */
    int mig_vgpus;                /* of those, MIG-backed vGPUs: 0 or all of them (a GPU under the
                                   * vGPU host driver serves no bare MIG slice) */
    int vgpus;                    /* time-sliced vGPU instances booked (MIG-backed ones: mig_vgpus) */
    int vgpu_mixed;               /* the GPU runs vGPU in mixed-size mode (types may differ) */
    int nvgpu_types;
    gpf_sched_vgpu vgpu[GPF_VGPU_TYPES_PER_GPU]; /* time-sliced, by type, in booking order of first use */
    char uuid[GPF_UUID_MAX];
    gpf_sched_mig mig[GPF_MIG_MAX_PLACEMENTS]; /* booked instances, sorted by start; unused entries zero */
} gpf_sched_gpu;

#define GPF_SCHED_MAX_NUMA 8

typedef struct gpf_sched_host {
    /* The fields a placement scan reads for every host come first, in one cache line. */
    int schedulable;              /* 0 = lost/draining: never chosen */
    /* Summary the ledger functions keep (add_host, apply, release) so a policy can skip a
     * host without reading its GPUs. summary_valid = 0 (e.g. after a caller rewrote the
     * host) means "scan the GPUs". */
    int summary_valid;
    uint64_t version;             /* the fleet's generation when it last changed (unique across fleets of different epochs): a policy's cache key */
    int64_t memory_mib;
    int64_t memory_used_mib;
    int cpus;                     /* in the fleet's CPU unit (gpf_sched_fleet.cpu_unit_milli) */
    int cpus_used;
    int modeled_gpus;             /* GPUs whose model the catalog knows */
    int nonmig_gpus;              /* of those, not in MIG mode */
    int free_whole;               /* of those, with nothing booked */
    int share_room;               /* most thousandths a share could still get on one of them */
    int ngpus;
    gpf_isolation isolation_max;  /* the strongest isolation its runtime enforces (0 = hardware) */
    /* Pods: placements booked (gpf_sched_apply counts, gpf_sched_release uncounts), and the
     * most its agent runs (0 = no limit). A host with pods >= pods_max takes no new one
     * (REJ_PODS); booking past it (a ledger rebuild) is never refused. */
    int pods, pods_max;
    char id[GPF_ID_MAX];          /* never changed in place: the fleet's index by id relies on it */
    int whole_pods[GPF_MAX_POD_GPUS + 1]; /* whole-GPU placements booked, by GPU count (0 = CPU only) */
    /* NUMA: 0 nodes = not tracked. CPUs booked on a node (placement.numa_node >= 0) count in
     * numa_used; CPUs not tied to a node only in cpus_used, so a booking fits when its node
     * and the host both have room. */
    int numa_nodes;
    int numa_cpus[GPF_SCHED_MAX_NUMA];
    int numa_used[GPF_SCHED_MAX_NUMA];
    gpf_sched_gpu gpus[GPF_MAX_HOST_GPUS];
} gpf_sched_host;

typedef struct gpf_sched_fleet {
    int nhosts;
    int cap;
    gpf_sched_host *hosts;        /* owned */
    /* Milli-CPUs per CPU unit of hosts and requests: 0 or 1000 = whole CPUs (the control
     * plane), 1 = milli-CPUs (the simulator replays traces with fractional CPUs). */
    int cpu_unit_milli;
    uint64_t generation;          /* epoch << 32, bumped by every change the ledger functions make */
    int *by_id;                   /* owned: open-addressing index, host index + 1 per slot, 0 = empty */
    int by_id_cap;                /* slots, a power of two, at least twice nhosts */
} gpf_sched_fleet;

typedef struct gpf_sched_request {
    gpf_slice_spec slice;         /* whole with gpu_count 0: a CPU-only request (simulator) */
    int nmodels;                  /* 0 = any model */
    const char *models[GPF_MAX_SKU_MODELS];
    int cpus;
    int64_t memory_mib;
    /* With has_min_isolation, only hosts where a pod of this slice gets at least
     * min_isolation (gpf_isolation_expected of the host's isolation_max) are candidates;
     * a refusal names the hosts that were too weak. */
    int has_min_isolation;
    gpf_isolation min_isolation;
} gpf_sched_request;

/* An empty fleet of epoch 1 (gpf_sched_fleet_init_epoch). */
void gpf_sched_fleet_init(gpf_sched_fleet *f);
/* An empty fleet whose hosts' versions are epoch << 32 plus a count of the fleet's changes.
 * A policy keys what it keeps per host on (host index, version), so a caller that uses one
 * policy with several fleets, or with a fleet cleared and built again, gives each fleet its
 * own epoch (a counter the caller owns); one policy per fleet (the engine, each simulation)
 * needs nothing more than gpf_sched_fleet_init. A zeroed or cleared fleet is of epoch 0. */
void gpf_sched_fleet_init_epoch(gpf_sched_fleet *f, uint32_t epoch);
void gpf_sched_fleet_clear(gpf_sched_fleet *f);
/* Adds a host (copied); returns its index. Its GPUs' ledgers must be zero. */
int gpf_sched_fleet_add_host(gpf_sched_fleet *f, const gpf_sched_host *h);
int gpf_sched_fleet_find_host(const gpf_sched_fleet *f, const char *id); /* -1 when absent */

/* Chooses where req fits. On success fills out (host_id, gpu_uuids, gpu_index, mig_*,
 * share_*, vgpu_type, cpus, memory_mib, gpu_milli) and returns 0; a MIG-backed vGPU gets
 * vgpu_type and its MIG instance's mig_* as a MIG slice does. When nothing fits returns
 * GPF_ENOCAPACITY with a message a person understands ("no ready host has a free
 * H100-80GB MIG placement for 3g.40gb; 2 hosts lack CPU"); GPF_EINVAL for requests that
 * can never fit (unknown MIG profile for every allowed model, unknown vGPU type or one
 * whose GI profile no allowed model has, gpu_count > 8...). */
int gpf_sched_place(const gpf_sched_fleet *f, const gpf_catalog *cat, const gpf_sched_request *req,
                    gpf_placement *out, gpf_error *err);
/* ---- placement policies --------------------------------------------------
 * A policy ranks the hosts (and the GPUs on a host) that can take a request. Names:
 *   "gpufleet"   the default: tight packing, see docs/placement.md
 *   "first-fit"  the first host in fleet order, lowest-index GPUs
 *   "best-fit", "dot-product", "packing", "clustering", "fgd", "random": the baselines of
 *   the FGD paper (USENIX ATC'23), scored as its simulator scores them (docs/placement.md).
 * Ties go to the host that comes first in fleet order. A policy holds state (the random
 * stream; FGD's task-type distribution), so one instance serves one fleet at a time. */
typedef struct gpf_sched_policy gpf_sched_policy;

/* A typical task for FGD's fragmentation measure: what it asks for and its share of all tasks. */
typedef struct gpf_sched_task_type {
    int64_t cpus;                 /* fleet CPU units */
    int gpu_milli;                /* per GPU, 0 for CPU-only */
    int num_gpu;
    int nmodels;                  /* 0 = any model */
    char models[GPF_MAX_SKU_MODELS][64];
    double weight;                /* popularity; the weights of a distribution sum to 1 */
} gpf_sched_task_type;

/* The names above, NULL-terminated, default first. */
const char *const *gpf_sched_policy_names(void);
/* GPF_EINVAL for an unknown name. seed drives "random" (and nothing else). */
int gpf_sched_policy_new(const char *name, uint64_t seed, gpf_sched_policy **out, gpf_error *err);
void gpf_sched_policy_free(gpf_sched_policy *p);
const char *gpf_sched_policy_name(const gpf_sched_policy *p);
/* Sets the task-type distribution FGD measures fragmentation against (copied). */
void gpf_sched_policy_set_tasks(gpf_sched_policy *p, const gpf_sched_task_type *t, int n);
/* gpf_sched_place with the given policy (NULL = the default). Whole-GPU, share and
 * CPU-only requests follow the policy; MIG requests always use the default geometry
 * ranking (the baselines have no notion of MIG). */
int gpf_sched_place_with(const gpf_sched_fleet *f, const gpf_catalog *cat, gpf_sched_policy *pol,
                         const gpf_sched_request *req, gpf_placement *out, gpf_error *err);

/* Books a placement into the ledger (also used to restore placements at start-up).
 * Refuses with GPF_ENOCAPACITY, changing nothing, if it overlaps what is booked. */
int gpf_sched_apply(gpf_sched_fleet *f, const gpf_catalog *cat, const gpf_placement *p, gpf_error *err);
/* Returns a booked placement's capacity; releasing exactly restores the prior state.
 * GPF_EINVAL, changing nothing, when the placement is not booked. */
int gpf_sched_release(gpf_sched_fleet *f, const gpf_catalog *cat, const gpf_placement *p, gpf_error *err);

/* GPU-equivalents of a slice in thousandths: whole = 1000*count; MIG = 1000 *
 * compute_slices / the model's full compute slices (1g on H100 = 142); share = share_milli;
 * vGPU = 1000 / max_per_gpu (MIG-backed: as its MIG profile). GPF_EINVAL when the slice is
 * out of range or the catalog does not know its profile for model. */
int gpf_sched_gpu_milli(const gpf_catalog *cat, const gpf_gpu_model *model, const gpf_slice_spec *s);

#endif
