/* Internals of the placement policies (policies.c and policies_*.c): the policy object and
 * the caches it keeps (per-shape tables, host records and states, the F(n) memo), small
 * helpers, and the functions one policy file calls in another. The shared functions are
 * documented at their definitions. Not for use outside src/sched. */
#ifndef GPF_SCHED_POLICIES_INT_H
#define GPF_SCHED_POLICIES_INT_H

#include <stddef.h>
#include <string.h>

#include "sched/sched_int.h"
#include "util/alloc.h"

typedef enum {
    POL_GPUFLEET = 0,
    POL_FIRST_FIT,
    POL_BEST_FIT,
    POL_DOT_PRODUCT,
    POL_PACKING,
    POL_CLUSTERING,
    POL_FGD,
    POL_RANDOM,
    POL_N
} pol_kind;

/* What a host's filter and score came to for one kind of request (a "shape": everything
 * in the request but its host memory, which is checked live). A host's answer depends only
 * on its state (its version, unique across fleets) and the shape, so each shape keeps a
 * table over the hosts and a decision re-scores only the hosts that changed since that
 * shape was last placed: after the first decisions, usually the one the last pod went to. */
typedef struct req_key {
    int kind, milli, count, cpus, nmodels, pad;
    int64_t mem_cap;
    uint64_t models_hash;
} req_key;

#ifndef MAX_SHAPES
#define MAX_SHAPES 128
#endif /* tables kept; the least recently used goes when a new shape comes */

typedef struct shape_tab {
    req_key key;
    uint64_t used;                /* the policy's decision clock at its last use */
    uint64_t *ver;                /* per host: the version scored, 0 = never */
    double *score;                /* valid where why is REJ_NONE */
    int16_t *room;                /* shares: the room of the GPU chosen there, where why is REJ_NONE */
    signed char *why;             /* REJ_* from the GPU filter and the CPU check */
} shape_tab;

/* The tables' arrays are slices of blocks that hold SHAPE_CHUNK shapes each, allocated
 * with their pages touched when the first of those shapes comes: a page first touched in
 * the middle of a decision costs ~1.3 µs on a VM, five of them per new shape, and new
 * shapes are the decisions that set the p99. A shape that takes an evicted one's place
 * reuses its slices. */
#define SHAPE_CHUNK 8

/* A compact copy of what the policies read of a host, made from its GPU records once per
 * host version (shared by every shape) so that scoring a host from scratch reads two cache
 * lines of a dense array instead of the host's GPU records (~0.5 KB each, far apart). Its
 * summary (any_model .. max_share) refuses most hosts that cannot take a request at once. */
enum {
    GF_MODELED = 1, /* the catalog knows the GPU's model */
    GF_OTHER = 2,   /* its model is not the host's first known model (umodel) */
    GF_MIG = 4,     /* in MIG mode */
    GF_WHOLE = 8,   /* a whole-GPU slice fits (sched_whole_conflict is NULL) */
    GF_EMPTY = 16,  /* nothing booked (sched_gpu_empty) */
};

typedef struct host_rec {
    /* not part of the state */
    uint64_t ver;                 /* the host version it describes; 0 = none */
    double before;                /* F(n) as it stands, when has_before */
    int32_t sid;                  /* the state's id among the policy's states; -1 = none yet */
    uint16_t share_pods;          /* share slices booked (clustering) */
    unsigned char has_before, pad0;
    /* The state: everything a verdict and a score (but clustering's) read of the host, so
     * hosts whose states are equal byte for byte get the same answers. Unused GPU slots and
     * padding are zero. A host refused on the summary costs only the first cache line. */
    const gpf_gpu_model *umodel;  /* the first GPU model the catalog knows (GPU 0's when it has one) */
    int64_t cpu_left;             /* cpus - cpus_used, in the fleet's unit */
    unsigned char n, other;       /* other: some GPU has GF_OTHER */
    /* over the GPUs, for requests that accept any model: is one known, is one of those
     * not in MIG mode, how many take a whole-GPU slice, the largest share_max */
    unsigned char any_model, any_mode, nwhole, pad1;
    int16_t max_share;
    unsigned char flag[GPF_MAX_HOST_GPUS];    /* GF_* */
    int16_t left[GPF_MAX_HOST_GPUS];          /* sched_gpu_left_milli, in [-31000, 1000] */
    /* the largest share (1..1000, no memory cap given) the GPU could take: share_conflict is
     * NULL exactly for the shares up to it; 0 = none (also MIG mode, whole, MIG or vGPU slices) */
    int16_t share_max[GPF_MAX_HOST_GPUS];
} host_rec;

#define REC_STATE_AT offsetof(host_rec, umodel)
#define REC_STATE_LEN (sizeof(host_rec) - REC_STATE_AT)
#define REC_STATE(r) ((const unsigned char *)(r) + REC_STATE_AT)
_Static_assert(REC_STATE_AT % 8 == 0 && REC_STATE_LEN % 8 == 0 &&
                   offsetof(host_rec, flag) == offsetof(host_rec, max_share) + sizeof(int16_t),
               "the state has no padding the compiler fills in");
_Static_assert(sizeof(host_rec) == 128, "a record is two cache lines");

/* The host states the policy has seen, each once, so that a decision scores hosts in equal
 * states once: a record gets its state's id when it is made (one hash and compare per host
 * version), and a decision's answer for a state sits at that id. When the list is full it
 * starts over and records get their ids again as they are read. */
typedef struct host_state {
    unsigned char b[REC_STATE_LEN];
    uint32_t hash;
} host_state;

typedef struct state_answer {     /* a decision's verdict and score for one state */
    uint64_t stamp;               /* the decision (policy clock) it belongs to */
    double score;
    int16_t why, room;            /* room: as shape_tab's */
    int pad;
} state_answer;

/* One remembered F(n). F is a pure function of the free amounts as a multiset (sorted,
 * largest first), the GPU count, which tasks the host's model can run (ok) and which tasks'
 * CPU requests fit (cls: how many of the distinct CPU requests, ascending, fit); so hosts
 * that look alike to the tasks, and the same "after" state reached from different hosts or
 * shapes, share one computation. */
typedef struct frag_memo {
    int16_t L[GPF_MAX_HOST_GPUS]; /* sorted largest first, zero past n */
    uint8_t n, ok;                /* ok: index into the policy's ok tables + 1; 0 = empty slot */
    uint16_t cls;
    uint32_t pad;
    double F;
} frag_memo;

/* gpufleet's gap balance counts share-capable GPUs by room in steps of GAP_STEP
 * thousandths; a GPU with less than one step left counts as full (a share that leaves it so
 * is a near-exact fill), an empty one not at all */
#define GAP_STEP 100
#define GAP_LEVELS (1000 / GAP_STEP)

#ifndef MEMO_BITS
#define MEMO_BITS 14 /* 16384 entries (768 KB), two per bucket, most recent first */
#endif

struct gpf_sched_policy {
    pol_kind kind;
    uint64_t rng;
    int ntasks;
    gpf_sched_task_type *tasks;
    struct task_hot {             /* what sched_frag reads of each task, packed, in task order */
        int num_gpu, gpu_milli;
        int64_t cpus;
        double weight;
    } *hot;
    /* the tasks' distinct CPU requests, ascending: F(n) depends on a host's free CPUs only
     * through how many of them fit (frag_memo) */
    int ncpu_steps;
    int64_t *cpu_steps;
    /* per-shape tables over hosts [0, ncap) */
    int ncap, nshapes;
    uint64_t clock;
    shape_tab shapes[MAX_SHAPES];
    char *chunk[(MAX_SHAPES + SHAPE_CHUNK - 1) / SHAPE_CHUNK];
    /* per host: what scoring reads of it, at the host's version (rec_mem, aligned to a
     * cache line) */
    host_rec *rec;
    void *rec_mem;
    /* F(n) by the inputs it depends on, computed when first asked (FGD and gpufleet) */
    frag_memo *memo;
    /* host states seen (st, with an open-addressing index of id + 1, 0 = empty slot) and
     * this decision's answer for each */
    host_state *st;
    int *st_index;
    state_answer *answer;
    int nst, st_cap, st_icap;
    int memo_off;                 /* sched_frag computes afresh (sched_policy_check_caches) */
    /* per GPU model seen: which tasks it can run (FGD and gpufleet) */
    int nok;
    const gpf_gpu_model *ok_model[16];
    unsigned char *ok[16];
    /* F(n) by groups of tasks instead of task by task: the GPU tasks grouped by (GPUs,
     * thousandths), largest thousandths first (group, ngroups); per ok table, the weight of
     * each group's tasks that model can run and whose CPU request is among the first cls
     * distinct ones (ok_w[i][group · (ncpu_steps + 1) + cls]; NULL when the table would be
     * too large, and F goes task by task); all tasks' weights (w_all) */
    int ngroups;
    struct task_group {
        int num_gpu, gpu_milli;
    } *group;
    double *ok_w[16], w_all;
    /* this decision's answers to "does the request allow model m" */
    int nallow;
    const gpf_gpu_model *allow_model[8];
    unsigned char allow_ok[8];
    /* gpufleet's additions to F (docs/placement.md, "gpufleet"): the CPUs the distribution's
     * GPU tasks ask per thousandth of GPU (set with the tasks), and per GPU model its
     * pressure, the share of its capacity that tasks naming models will claim (worked out
     * from the fleet's GPUs by model at the first decision after set_tasks, and again when
     * the fleet changes its host count), with this decision's floor: the least pressure
     * among the models the request allows */
    double cpu_per_milli;
    int npress, press_nhosts;
    const gpf_sched_fleet *press_fleet;
    const gpf_gpu_model *press_model[16];
    double press[16], press_floor;
    /* gpufleet's gap balance (docs/placement.md, "gpufleet"): how many share-capable GPUs
     * have each room, in steps of GAP_STEP thousandths (gap_n, gap_total), kept from each
     * host's GPUs as counted at a version (gap_ver, 0 = never or not versioned; gap_lv per
     * GPU, 0 = not counted), hosts [0, gap_hosts) counted; and this decision's best host per
     * exact room a share's chosen GPU has (host -1 = none; the rooms offered, in room_list,
     * go back to -1 when the decision has weighed them) */
    uint64_t *gap_ver;
    uint8_t (*gap_lv)[GPF_MAX_HOST_GPUS];
    int gap_n[GAP_LEVELS], gap_total, gap_hosts;
    struct room_best {
        double score;
        int host, pad;
    } room[1001];
    int16_t room_list[1001];
    int nroom;
};

typedef struct host_view {
    int64_t cpu_left;   /* milli-CPUs */
    int gpu_left;       /* Σ thousandths free over the host's GPUs */
    int free_gpus;      /* GPUs with nothing booked */
    int ngpus;
    int share_pods;     /* share slices booked */
    const int16_t *left;
} host_view;

/* Memory that is zero and whose pages are already mapped (calloc maps large blocks lazily). */
static inline void *zalloc_touched(size_t count, size_t size)
{
    void *p = gpf_malloc(count * size);
    memset(p, 0, count * size);
    return p;
}

static inline int64_t unit_milli(const gpf_sched_fleet *f)
{
    return f->cpu_unit_milli > 0 ? f->cpu_unit_milli : 1000;
}

static inline int is_share(const gpf_sched_request *req)
{
    return req->slice.kind == GPF_SLICE_SHARE;
}

static inline int is_cpu_only(const gpf_sched_request *req)
{
    return req->slice.kind == GPF_SLICE_WHOLE && req->slice.gpu_count == 0;
}

static inline int64_t req_gpu_milli(const gpf_sched_request *req)
{
    const gpf_slice_spec *s = &req->slice;
    return s->kind == GPF_SLICE_SHARE ? s->share_milli : (int64_t)1000 * s->gpu_count;
}

/* ---- host records and the GPU filter (policies_hosts.c) ------------------- */

void sched_rec_build(const gpf_sched_host *h, host_rec *r);
host_rec *sched_rec_get(gpf_sched_policy *pol, const gpf_sched_fleet *f, int i, host_rec *tmp);
int sched_share_fits(gpf_sched_policy *pol, const gpf_sched_request *req, const gpf_sched_host *h,
                     const host_rec *r, int g);
int sched_quick_verdict(const host_rec *r, const gpf_sched_request *req);
int sched_filter(gpf_sched_policy *pol, const gpf_sched_host *h, const host_rec *r, const gpf_sched_request *req,
                 sched_cand *c);

/* ---- FGD's fragmentation measure (policies_fgd.c) ------------------------- */

int sched_task_model_ok(const gpf_sched_task_type *t, const gpf_gpu_model *m);
double sched_frag(gpf_sched_policy *pol, const gpf_gpu_model *m, int n, const int16_t *left, int64_t cpu_left,
                  int64_t unit);
const gpf_gpu_model *sched_rec_model0(const host_rec *r);
double sched_fgd_score(double before, double after);

/* ---- gpufleet's terms and model pressures (policies_gpufleet.c) ----------- */

int sched_press_compute(const gpf_sched_policy *pol, const gpf_sched_fleet *f, const gpf_gpu_model **model,
                        double *press);
void sched_press_update(gpf_sched_policy *pol, const gpf_sched_fleet *f);
double sched_press_floor(const gpf_sched_policy *pol, const gpf_sched_request *req);
double sched_score_frag(const gpf_sched_fleet *f, gpf_sched_policy *pol, const gpf_sched_host *h, host_rec *r,
                        const gpf_sched_request *req, sched_cand *c, int gpufleet);
void sched_gap_count(gpf_sched_policy *pol, int i, const host_rec *r);
void sched_gap_trim(gpf_sched_policy *pol, int nhosts);
double sched_gap_cost(const gpf_sched_policy *pol, int room, int share);
int sched_gap_check(const gpf_sched_policy *pol, const gpf_sched_fleet *f, int *checked);

/* ---- the other baselines (policies_baselines.c) ---------------------------- */

void sched_view(const gpf_sched_fleet *f, const host_rec *r, host_view *v);
int64_t sched_score_best_fit(const host_view *v, int64_t cpu, int64_t req);
int64_t sched_score_dot(const host_view *v, int64_t cpu, int64_t req);
int64_t sched_score_packing(const host_view *v, const gpf_sched_request *req, const sched_cand *c);
int64_t sched_score_clustering(const gpf_sched_host *h, const host_view *v, const gpf_sched_request *req);

#endif
