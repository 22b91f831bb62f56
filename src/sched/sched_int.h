/* Internals of src/sched: per-GPU geometry (geometry.c), the placement policy (policy.c)
 * and the candidate record the two share. Not for use outside src/sched. */
#ifndef GPF_SCHED_SCHED_INT_H
#define GPF_SCHED_SCHED_INT_H

#include "sched/sched.h"

/* ---- geometry: what fits on one GPU (geometry.c) --------------------- */

/* Bits [start, start+size) of a MIG slot bitmap (0 when out of range). */
uint32_t sched_slot_mask(int start, int size);
/* The GPU's memory for share caps: the reported figure, else the catalog's. */
int64_t sched_gpu_memory_mib(const gpf_sched_gpu *g);
/* 1 when nothing at all is booked on g. */
int sched_gpu_empty(const gpf_sched_gpu *g);
/* GPUs with a known model and nothing booked on host h. */
int sched_host_empty_gpus(const gpf_sched_host *h);

/* Each *_conflict returns NULL when the slice fits on g, else why not (static text). */
const char *sched_whole_conflict(const gpf_sched_gpu *g);
const char *sched_mig_conflict(const gpf_sched_gpu *g, const gpf_mig_profile *p, int start, int size);
const char *sched_share_conflict(const gpf_sched_gpu *g, int milli, int64_t memory_mib);
/* Time-sliced vGPU: the type's model, not MIG mode, nothing else on the GPU; in equal-size
 * mode one type per GPU and at most its max_per_gpu; in mixed-size mode at most
 * max_per_gpu_mixed of each type and the frame buffers within the board's. */
const char *sched_vgpu_conflict(const gpf_sched_gpu *g, const gpf_vgpu_type *t);
/* MIG-backed vGPU of type t: a MIG instance of its GI profile p (the caller resolved it on
 * g's model) at (start, size) with the MIG geometry of sched_mig_conflict, on a GPU of the
 * type's model that holds no bare MIG slice, and at most t->max_per_gpu of t there. Types
 * may differ on one GPU. sched_mig_conflict in turn refuses bare MIG slices on a GPU that
 * serves MIG-backed vGPUs. */
/* The GI profile a MIG-backed vGPU type t is on model m: the catalog's profile of m named
 * t->mig_profile (requests name profiles, the ledger keeps ids, as for MIG slices); NULL
 * when t is time-sliced, m does not run t, or m has no such profile. */
const gpf_mig_profile *sched_vgpu_profile(const gpf_catalog *cat, const gpf_gpu_model *m, const gpf_vgpu_type *t);
/* MIG-backed vGPUs of type t on the GPU. */
int sched_mig_vgpus_of(const gpf_sched_gpu *g, const gpf_vgpu_type *t);
const char *sched_mig_vgpu_conflict(const gpf_sched_gpu *g, const gpf_vgpu_type *t, const gpf_mig_profile *p,
                                    int start, int size);

/* Bookkeeping; the caller has checked the matching *_conflict. */
void sched_whole_book(gpf_sched_gpu *g);
void sched_whole_unbook(gpf_sched_gpu *g);
void sched_mig_book(gpf_sched_gpu *g, const gpf_mig_profile *p, int start);
/* Removes the bare MIG instance (profile_id, start, size); -1 when it is not booked. */
int sched_mig_unbook(gpf_sched_gpu *g, int profile_id, int start, int size);
/* The index in g->mig of the instance (profile_id, start, size) serving vGPU type t (NULL:
 * a bare MIG slice), or -1. */
int sched_mig_find(const gpf_sched_gpu *g, const gpf_vgpu_type *t, int profile_id, int start, int size);
void sched_mig_vgpu_book(gpf_sched_gpu *g, const gpf_vgpu_type *t, const gpf_mig_profile *p, int start);
/* Removes the MIG-backed vGPU of type t at (profile_id, start, size); -1 when not booked. */
int sched_mig_vgpu_unbook(gpf_sched_gpu *g, const gpf_vgpu_type *t, int profile_id, int start, int size);
void sched_share_book(gpf_sched_gpu *g, int milli, int64_t memory_mib);
void sched_share_unbook(gpf_sched_gpu *g, int milli, int64_t memory_mib);
void sched_vgpu_book(gpf_sched_gpu *g, const gpf_vgpu_type *t);
/* -1 when no vGPU of type t is booked on g. */
int sched_vgpu_unbook(gpf_sched_gpu *g, const gpf_vgpu_type *t);

/* The MIG profiles of a model, resolved once per placement decision. */
typedef struct sched_mig_set {
    const gpf_gpu_model *model;
    int n;
    const gpf_mig_profile *p[32];
} sched_mig_set;
void sched_mig_set_load(sched_mig_set *s, const gpf_catalog *cat, const gpf_gpu_model *m);
/* Number of (profile, placement) pairs of the set whose MIG geometry still fits on g
 * (whether as bare MIG slices or as MIG-backed vGPUs, whichever g serves). */
int sched_mig_options(const sched_mig_set *s, const gpf_sched_gpu *g);

/* ---- policy: which feasible candidate wins (policy.c) ---------------- */

typedef struct sched_cand {
    int valid;
    int host;                     /* index into the fleet */
    int ngpus;
    int gpus[GPF_MAX_POD_GPUS];   /* indices into the host's gpus[] */
    const gpf_mig_profile *prof;  /* mig */
    const gpf_vgpu_type *vgpu;    /* vgpu (MIG-backed: prof and mig_* as for mig) */
    int mig_start, mig_size;      /* mig */
    int64_t share_memory_mib;     /* share: the cap granted */
    /* facts the policy weighs */
    int gpu_free_after;           /* thousandths of the chosen GPU left free after placing */
    int host_empty_after;         /* GPUs left with nothing booked on the host after placing */
    int options_after;            /* mig: placements still bookable on the GPU afterwards */
} sched_cand;

/* 1 when a should be preferred over b (b may be invalid); ties keep b. */
int sched_policy_better(const sched_cand *a, const sched_cand *b);
/* Picks count GPUs for a whole-GPU slice out of the n free ones in idx[] (indices into
 * h->gpus, all the same model, n >= count); writes them to out[] in ascending order. */
void sched_policy_pick_whole(const gpf_sched_host *h, const int *idx, int n, int count, int *out);

/* ---- place.c: shared by the default ranking and the scored policies ---- */

/* Why a host could not take the request, in the order the checks run. */
enum { REJ_NONE = 0, REJ_NOT_READY, REJ_ISOLATION, REJ_PODS, REJ_MODEL, REJ_MODE, REJ_GPU, REJ_CPU, REJ_MEMORY, REJ_N };

/* 1 when a pod of req on h would get weaker isolation than req asks for (REJ_ISOLATION). */
static inline int sched_isolation_short(const gpf_sched_host *h, const gpf_sched_request *req)
{
    return req->has_min_isolation && gpf_isolation_expected(h->isolation_max, req->slice.kind) > req->min_isolation;
}

/* 1 when h already holds as many pods as its agent runs (REJ_PODS). */
static inline int sched_pods_full(const gpf_sched_host *h)
{
    return h->pods_max > 0 && h->pods >= h->pods_max;
}

int sched_model_allowed(const gpf_sched_request *req, const gpf_gpu_model *m);

/* The checks every slice kind makes on a host's GPUs before its geometry: is some GPU of an
 * allowed model, and is one of those in the MIG mode the slice needs? A refusal names the
 * first that failed. */
typedef struct sched_gate {
    int any_model, any_mode;
} sched_gate;

/* 1 when g passes (model_ok, and its MIG mode is want_mig); records what it saw. */
static inline int sched_gate_pass(sched_gate *gt, int model_ok, const gpf_sched_gpu *g, int want_mig)
{
    if (!model_ok)
        return 0;
    gt->any_model = 1;
    if (!!g->mig_enabled != want_mig)
        return 0;
    gt->any_mode = 1;
    return 1;
}

/* REJ_MODEL, REJ_MODE, or REJ_NONE when some GPU passed both. */
static inline int sched_gate_why(const sched_gate *gt)
{
    return !gt->any_model ? REJ_MODEL : !gt->any_mode ? REJ_MODE : REJ_NONE;
}
/* GPF_EINVAL for requests that can never fit anywhere. */
int sched_validate(const gpf_sched_fleet *f, const gpf_catalog *cat, const gpf_sched_request *req, gpf_error *err);
/* Sets err to GPF_ENOCAPACITY with the host-by-host reasons in rej[REJ_N]. */
void sched_refusal(const gpf_sched_fleet *f, const gpf_sched_request *req, const int *rej, gpf_error *err);
void sched_fill(const gpf_sched_fleet *f, const gpf_catalog *cat, const gpf_sched_request *req, const sched_cand *c,
                gpf_placement *out);
/* The default ranking (policy.c's comparator) over every host. */
int sched_place_default(const gpf_sched_fleet *f, const gpf_catalog *cat, const gpf_sched_request *req,
                        gpf_placement *out, gpf_error *err);

/* Thousandths of g still free: 0 when a whole slice holds it, the free memory slots when
 * it is in MIG mode, else 1000 minus its shares. */
int sched_gpu_left_milli(const gpf_sched_gpu *g);

/* Recomputes h's summary fields from its GPUs, marks them valid and gives h a new version
 * from f's generation (fleet.c). */
void sched_host_summarize(gpf_sched_fleet *f, gpf_sched_host *h);

/* Test hook (policies.c): compares what pol keeps between decisions on f (its host
 * records, remembered F(n) values and per-shape tables for requests of any model) with a
 * fresh computation; returns how many differ and sets *checked to how many it compared. */
int sched_policy_check_caches(gpf_sched_policy *pol, const gpf_sched_fleet *f, int *checked);

/* splitmix64 stream (policies.c): the next value, and a uniform integer in [0, n), n > 0. */
uint64_t sched_rng_next(uint64_t *s);
int sched_rng_below(uint64_t *s, int n);

#endif
