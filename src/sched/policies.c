/* Placement policies by name, and the scored placement loop the paper's baselines use.
 *
 * A scored policy looks at every host that can take the request (filter), gives it an
 * integer score (higher wins; ties go to the host that comes first in fleet order) and
 * picks the GPU on the chosen host by its own rule. The formulas follow the FGD paper's
 * simulator as written down in docs/placement.md; "gpufleet" is FGD's measure with terms of
 * its own (CPU shortfall, model pressure, near-exact fills) once it has a task distribution,
 * and the default ranking of policy.c and place.c before. A policy's state is its random
 * stream and what it remembers to decide fast (docs/placement.md, "Decision speed"):
 * per-shape score tables over the hosts, a compact record of each host per version, F(n)
 * values by their inputs, each keyed by everything its value depends on, so decisions are
 * those of a fresh policy; and gpufleet's model pressures, worked out from the fleet's GPUs
 * by model when the tasks are set and again when the fleet's host count changes. */
#include <math.h>
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

static const char *const names[POL_N + 1] = {"gpufleet", "first-fit",  "best-fit", "dot-product", "packing",
                                             "clustering", "fgd",      "random",   NULL};

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
    int why, pad;
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

#ifndef MEMO_BITS
#define MEMO_BITS 14 /* 16384 entries (768 KB), two per bucket, most recent first */
#endif

struct gpf_sched_policy {
    pol_kind kind;
    uint64_t rng;
    int ntasks;
    gpf_sched_task_type *tasks;
    struct task_hot {             /* what frag reads of each task, packed, in task order */
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
    int memo_off;                 /* frag computes afresh (sched_policy_check_caches) */
    /* per GPU model seen: which tasks it can run (FGD and gpufleet) */
    int nok;
    const gpf_gpu_model *ok_model[16];
    unsigned char *ok[16];
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
};

/* Memory that is zero and whose pages are already mapped (calloc maps large blocks lazily). */
static void *zalloc_touched(size_t count, size_t size)
{
    void *p = gpf_malloc(count * size);
    memset(p, 0, count * size);
    return p;
}

static void drop_arrays(gpf_sched_policy *p)
{
    for (size_t i = 0; i < sizeof p->chunk / sizeof p->chunk[0]; i++) {
        gpf_free(p->chunk[i]);
        p->chunk[i] = NULL;
    }
    gpf_free(p->rec_mem);
    gpf_free(p->st);
    gpf_free(p->st_index);
    gpf_free(p->answer);
    p->rec = NULL;
    p->rec_mem = NULL;
    p->st = NULL;
    p->st_index = NULL;
    p->answer = NULL;
    p->nst = p->st_cap = p->st_icap = 0;
    memset(p->shapes, 0, sizeof p->shapes);
    p->nshapes = p->ncap = 0;
}

static void drop_tables(gpf_sched_policy *p)
{
    drop_arrays(p);
    for (int i = 0; i < p->nok; i++)
        gpf_free(p->ok[i]);
    gpf_free(p->memo); /* keyed by ok-table index and the task list */
    p->memo = NULL;
    p->nok = 0;
}

const char *const *gpf_sched_policy_names(void)
{
    return names;
}

int gpf_sched_policy_new(const char *name, uint64_t seed, gpf_sched_policy **out, gpf_error *err)
{
    *out = NULL;
    for (int k = 0; k < POL_N; k++) {
        if (name && strcmp(name, names[k]) == 0) {
            gpf_sched_policy *p = GPF_NEW(gpf_sched_policy);
            p->kind = (pol_kind)k;
            p->rng = seed ^ 0x9e3779b97f4a7c15ULL;
            *out = p;
            return 0;
        }
    }
    return gpf_error_set(err, GPF_EINVAL,
                         "unknown placement policy '%s' (gpufleet, first-fit, best-fit, dot-product, packing, "
                         "clustering, fgd, random)",
                         name ? name : "");
}

void gpf_sched_policy_free(gpf_sched_policy *p)
{
    if (!p)
        return;
    drop_tables(p);
    gpf_free(p->tasks);
    gpf_free(p->hot);
    gpf_free(p->cpu_steps);
    gpf_free(p);
}

const char *gpf_sched_policy_name(const gpf_sched_policy *p)
{
    return names[p ? p->kind : POL_GPUFLEET];
}

void gpf_sched_policy_set_tasks(gpf_sched_policy *p, const gpf_sched_task_type *t, int n)
{
    drop_tables(p); /* scores were against the old distribution */
    p->npress = 0;
    p->press_nhosts = -1;
    p->press_fleet = NULL;
    p->cpu_per_milli = 0;
    gpf_free(p->tasks);
    gpf_free(p->hot);
    gpf_free(p->cpu_steps);
    p->tasks = NULL;
    p->hot = NULL;
    p->cpu_steps = NULL;
    p->ntasks = p->ncpu_steps = 0;
    if (n <= 0)
        return;
    p->tasks = gpf_calloc((size_t)n, sizeof *t);
    memcpy(p->tasks, t, (size_t)n * sizeof *t);
    p->hot = gpf_calloc((size_t)n, sizeof *p->hot);
    for (int k = 0; k < n; k++) {
        p->hot[k].num_gpu = t[k].num_gpu;
        p->hot[k].gpu_milli = t[k].gpu_milli;
        p->hot[k].cpus = t[k].cpus;
        p->hot[k].weight = t[k].weight;
    }
    p->ntasks = n;
    double cpus = 0, milli = 0;
    for (int k = 0; k < n; k++) {
        if (t[k].num_gpu <= 0)
            continue;
        cpus += t[k].weight * (double)t[k].cpus;
        milli += t[k].weight * t[k].num_gpu * t[k].gpu_milli;
    }
    p->cpu_per_milli = milli > 0 ? cpus / milli : 0;
    p->cpu_steps = gpf_calloc((size_t)n, sizeof *p->cpu_steps);
    for (int k = 0; k < n; k++) { /* insertion into the sorted distinct list */
        int j = 0;
        while (j < p->ncpu_steps && p->cpu_steps[j] < t[k].cpus)
            j++;
        if (j < p->ncpu_steps && p->cpu_steps[j] == t[k].cpus)
            continue;
        memmove(&p->cpu_steps[j + 1], &p->cpu_steps[j], (size_t)(p->ncpu_steps - j) * sizeof *p->cpu_steps);
        p->cpu_steps[j] = t[k].cpus;
        p->ncpu_steps++;
    }
}

/* splitmix64: a small, well-mixed stream; uniform below n by rejection. */
uint64_t sched_rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int sched_rng_below(uint64_t *s, int n)
{
    uint64_t lim = UINT64_MAX - UINT64_MAX % (uint64_t)n, x;
    do
        x = sched_rng_next(s);
    while (x >= lim);
    return (int)(x % (uint64_t)n);
}

/* ---- facts about a host, in milli units ----------------------------------- */

int sched_gpu_left_milli(const gpf_sched_gpu *g)
{
    if (g->whole_taken)
        return 0;
    if (g->mig_enabled) {
        int grid = g->model && g->model->mig_grid_units > 0 ? g->model->mig_grid_units : 8;
        return (grid - __builtin_popcount(g->mig_slots_used)) * 1000 / grid;
    }
    if (g->vgpus > 0) {
        int used = 0;
        for (int i = 0; i < g->nvgpu_types; i++)
            used += g->vgpu[i].n * 1000 / (g->vgpu[i].type->max_per_gpu > 0 ? g->vgpu[i].type->max_per_gpu : 1);
        return used >= 1000 ? 0 : 1000 - used;
    }
    return 1000 - g->share_milli_used;
}

static int64_t unit_milli(const gpf_sched_fleet *f)
{
    return f->cpu_unit_milli > 0 ? f->cpu_unit_milli : 1000;
}

static int is_share(const gpf_sched_request *req)
{
    return req->slice.kind == GPF_SLICE_SHARE;
}

static int is_cpu_only(const gpf_sched_request *req)
{
    return req->slice.kind == GPF_SLICE_WHOLE && req->slice.gpu_count == 0;
}

static int64_t req_gpu_milli(const gpf_sched_request *req)
{
    const gpf_slice_spec *s = &req->slice;
    return s->kind == GPF_SLICE_SHARE ? s->share_milli : (int64_t)1000 * s->gpu_count;
}

/* The memory cap a share of GPU g gets: the request's, else its part of the GPU's memory. */
static int64_t share_cap(const gpf_sched_gpu *g, const gpf_sched_request *req)
{
    const gpf_slice_spec *s = &req->slice;
    return s->share_memory_mib > 0 ? s->share_memory_mib : sched_gpu_memory_mib(g) * s->share_milli / 1000;
}

/* The largest m in 0..1000 for which a share of m thousandths with the default cap fits on
 * g, whose slice kinds already allow shares. The shares that fit are exactly 1..m: the
 * compute check is a bound on m, and the default cap grows with m (a GPU with negative
 * memory fits only while the cap rounds to 0), so a binary search over
 * sched_share_conflict itself finds m. */
static int share_limit(const gpf_sched_gpu *g)
{
    int lo = 0, hi = 1000 - g->share_milli_used;
    int64_t mem = sched_gpu_memory_mib(g);
    if (hi < 0)
        return 0;
    if (hi > 1000)
        hi = 1000;
    if (hi == 0 || sched_share_conflict(g, hi, mem * hi / 1000) == NULL)
        return hi; /* the compute left is the bound (memory does not bind first) */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (sched_share_conflict(g, mid, mem * mid / 1000) == NULL)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

static uint32_t state_hash(const host_rec *r)
{
    uint64_t w[REC_STATE_LEN / 8], h = 0x9e3779b97f4a7c15ULL;
    memcpy(w, REC_STATE(r), sizeof w);
    for (size_t i = 0; i < REC_STATE_LEN / 8; i++)
        h = (h ^ w[i]) * 0xff51afd7ed558ccdULL;
    return (uint32_t)(h ^ (h >> 29));
}

/* Fills r from h's ledger (r->ver = h's version). */
static void rec_build(const gpf_sched_host *h, host_rec *r)
{
    memset(r, 0, sizeof *r);
    r->cpu_left = h->cpus - h->cpus_used;
    r->n = (unsigned char)h->ngpus;
    int share_pods = 0;
    for (int g = 0; g < h->ngpus; g++) {
        const gpf_sched_gpu *gp = &h->gpus[g];
        int fl = 0;
        r->left[g] = (int16_t)sched_gpu_left_milli(gp);
        share_pods += gp->shares;
        if (gp->model) {
            fl |= GF_MODELED;
            if (!r->umodel)
                r->umodel = gp->model;
            else if (gp->model != r->umodel)
                fl |= GF_OTHER;
        }
        if (gp->mig_enabled)
            fl |= GF_MIG;
        if (!sched_whole_conflict(gp))
            fl |= GF_WHOLE;
        if (sched_gpu_empty(gp))
            fl |= GF_EMPTY;
        if (gp->model && !gp->mig_enabled && !gp->whole_taken && gp->mig_instances == 0 && gp->vgpus == 0)
            r->share_max[g] = (int16_t)share_limit(gp);
        r->flag[g] = (unsigned char)fl;
        r->other |= (fl & GF_OTHER) != 0;
        r->any_model |= (fl & GF_MODELED) != 0;
        r->any_mode |= (fl & (GF_MODELED | GF_MIG)) == GF_MODELED;
        r->nwhole += (fl & GF_WHOLE) != 0;
        if (r->share_max[g] > r->max_share)
            r->max_share = r->share_max[g];
    }
    r->share_pods = (uint16_t)(share_pods > UINT16_MAX ? UINT16_MAX : share_pods);
    r->ver = h->version;
    r->sid = -1;
}

/* Hosts in equal states are scored once per decision, except under clustering (it reads the
 * host's whole-GPU pods), first-fit and random (they score nothing); hosts of mixed models
 * (other) never get a state id. */
static int merges_states(const gpf_sched_policy *pol)
{
    return pol->kind != POL_CLUSTERING && pol->kind != POL_FIRST_FIT && pol->kind != POL_RANDOM;
}

/* The state list starts over: no record has an id any more. */
static void states_reset(gpf_sched_policy *pol)
{
    pol->nst = 0;
    memset(pol->st_index, 0, (size_t)pol->st_icap * sizeof *pol->st_index);
    for (int i = 0; i < pol->ncap; i++)
        pol->rec[i].sid = -1;
}

/* Gives r the id of its state, adding the state when it is new. */
static void state_intern(gpf_sched_policy *pol, host_rec *r)
{
    if (pol->nst == pol->st_cap)
        states_reset(pol);
    uint32_t hash = state_hash(r), mask = (uint32_t)pol->st_icap - 1;
    for (uint32_t k = hash & mask;; k = (k + 1) & mask) {
        int v = pol->st_index[k];
        if (v == 0) {
            host_state *s = &pol->st[pol->nst];
            memcpy(s->b, REC_STATE(r), REC_STATE_LEN);
            s->hash = hash;
            pol->answer[pol->nst].stamp = 0;
            pol->st_index[k] = pol->nst + 1;
            r->sid = pol->nst++;
            return;
        }
        const host_state *s = &pol->st[v - 1];
        if (s->hash == hash && memcmp(s->b, REC_STATE(r), REC_STATE_LEN) == 0) {
            r->sid = v - 1;
            return;
        }
    }
}

/* Host i's record: the policy's copy when it is of the host's current version (made now
 * when it is not), or one made in *tmp when the host cannot be cached (no valid summary or
 * version: a caller rewrote it). */
static host_rec *rec_get(gpf_sched_policy *pol, const gpf_sched_fleet *f, int i, host_rec *tmp)
{
    const gpf_sched_host *h = &f->hosts[i];
    if (h->summary_valid && h->version != 0 && i < pol->ncap) {
        host_rec *r = &pol->rec[i];
        if (r->ver != h->version)
            rec_build(h, r);
        if (r->sid < 0 && pol->st && !r->other)
            state_intern(pol, r);
        return r;
    }
    rec_build(h, tmp);
    tmp->ver = 0;
    return tmp;
}

static int gpu_allowed_by_list(gpf_sched_policy *pol, const gpf_sched_request *req, const gpf_sched_host *h,
                               const host_rec *r, int g)
{
    const gpf_gpu_model *m = r->flag[g] & GF_OTHER ? h->gpus[g].model : r->umodel;
    for (int k = 0; k < pol->nallow; k++)
        if (pol->allow_model[k] == m)
            return pol->allow_ok[k];
    int ok = sched_model_allowed(req, m);
    if (pol->nallow < (int)(sizeof pol->allow_model / sizeof pol->allow_model[0])) {
        pol->allow_model[pol->nallow] = m;
        pol->allow_ok[pol->nallow++] = (unsigned char)ok;
    }
    return ok;
}

/* Does the request allow GPU g of the host (its model known, and on the request's list)?
 * Model lists are matched by name once per model and decision. */
static inline int gpu_allowed(gpf_sched_policy *pol, const gpf_sched_request *req, const gpf_sched_host *h,
                              const host_rec *r, int g)
{
    if (!(r->flag[g] & GF_MODELED))
        return 0;
    return req->nmodels == 0 || gpu_allowed_by_list(pol, req, h, r, g);
}

/* A share with a memory cap of its own (never in a replay): the ledger decides. */
static int share_fits_capped(gpf_sched_policy *pol, const gpf_sched_request *req, const gpf_sched_host *h,
                             const host_rec *r, int g)
{
    const gpf_sched_gpu *gp = &h->gpus[g];
    if (!gpu_allowed(pol, req, h, r, g) || gp->mig_enabled)
        return 0;
    return sched_share_conflict(gp, req->slice.share_milli, req->slice.share_memory_mib) == NULL;
}

/* Can GPU g take the share request: allowed model, not in MIG mode, room for it (memory
 * included, with the request's cap or its default one)? */
static inline int share_fits(gpf_sched_policy *pol, const gpf_sched_request *req, const gpf_sched_host *h,
                             const host_rec *r, int g)
{
    if (req->slice.share_memory_mib > 0)
        return share_fits_capped(pol, req, h, r, g);
    return r->share_max[g] >= req->slice.share_milli && gpu_allowed(pol, req, h, r, g);
}

/* The verdict of filter and the CPU check from the record's summary alone, for requests
 * that accept any model (and shares without a cap of their own); -1 otherwise. */
static int quick_verdict(const host_rec *r, const gpf_sched_request *req)
{
    const gpf_slice_spec *s = &req->slice;
    if (req->nmodels != 0 || (s->kind == GPF_SLICE_SHARE && s->share_memory_mib > 0))
        return -1;
    if (!is_cpu_only(req)) {
        if (!r->any_model)
            return REJ_MODEL;
        if (!r->any_mode)
            return REJ_MODE;
        if (s->kind == GPF_SLICE_SHARE ? r->max_share < s->share_milli : r->nwhole < s->gpu_count)
            return REJ_GPU;
    }
    return (int64_t)req->cpus > r->cpu_left ? REJ_CPU : REJ_NONE;
}

typedef struct host_view {
    int64_t cpu_left;   /* milli-CPUs */
    int gpu_left;       /* Σ thousandths free over the host's GPUs */
    int free_gpus;      /* GPUs with nothing booked */
    int ngpus;
    int share_pods;     /* share slices booked */
    const int16_t *left;
} host_view;

static void view(const gpf_sched_fleet *f, const host_rec *r, host_view *v)
{
    v->cpu_left = r->cpu_left * unit_milli(f);
    v->gpu_left = v->free_gpus = 0;
    for (int g = 0; g < r->n; g++) {
        v->gpu_left += r->left[g];
        v->free_gpus += (r->flag[g] & GF_EMPTY) != 0;
    }
    v->ngpus = r->n;
    v->share_pods = r->share_pods;
    v->left = r->left;
}

/* The GPU part of the filter: can h's GPUs take req? Fills c with the GPUs a whole request
 * takes (the lowest-index free ones of an allowed model) and marks a share request
 * feasible. score_host checks CPU, place_scored memory. */
static int filter(gpf_sched_policy *pol, const gpf_sched_host *h, const host_rec *r, const gpf_sched_request *req,
                  sched_cand *c)
{
    const gpf_slice_spec *s = &req->slice;
    memset(c, 0, sizeof *c);
    if (!h->schedulable)
        return REJ_NOT_READY;
    if (!is_cpu_only(req)) {
        int any_model = 0, any_mode = 0, n = 0, share = s->kind == GPF_SLICE_SHARE;
        int want = share ? 1 : s->gpu_count;
        for (int g = 0; g < r->n && !(any_mode && n >= want); g++) {
            if (!gpu_allowed(pol, req, h, r, g))
                continue;
            any_model = 1;
            if (r->flag[g] & GF_MIG)
                continue;
            any_mode = 1;
            if (!share && n < want && (r->flag[g] & GF_WHOLE))
                c->gpus[n++] = g;
            else if (share && n == 0 && share_fits(pol, req, h, r, g))
                n = 1;
        }
        if (!any_model)
            return REJ_MODEL;
        if (!any_mode)
            return REJ_MODE;
        if (n < want)
            return REJ_GPU;
        c->ngpus = want;
    }
    c->valid = 1;
    return REJ_NONE;
}

/* Share request: the GPU left with the least room that still fits (first on ties), or the
 * lowest index when lowest is set. */
static void pick_share_tight(gpf_sched_policy *pol, const gpf_sched_host *h, const host_rec *r,
                             const gpf_sched_request *req, int lowest, sched_cand *c)
{
    int best = -1, best_left = 0;
    for (int g = 0; g < r->n; g++) {
        if (!share_fits(pol, req, h, r, g))
            continue;
        if (best < 0 || (!lowest && r->left[g] < best_left)) {
            best = g;
            best_left = r->left[g];
            if (lowest)
                break;
        }
    }
    c->gpus[0] = best;
}

static void pick_share_random(gpf_sched_policy *pol, const gpf_sched_host *h, const host_rec *r,
                              const gpf_sched_request *req, sched_cand *c)
{
    int idx[GPF_MAX_HOST_GPUS], n = 0;
    for (int g = 0; g < r->n; g++)
        if (share_fits(pol, req, h, r, g))
            idx[n++] = g;
    c->gpus[0] = idx[sched_rng_below(&pol->rng, n)];
}

/* ---- FGD: fragmentation against the typical tasks ------------------------ */

static int task_model_ok(const gpf_sched_task_type *t, const gpf_gpu_model *m)
{
    if (t->nmodels == 0)
        return 1;
    for (int i = 0; i < t->nmodels; i++)
        if (gpf_catalog_model_matches(m, t->models[i]))
            return 1;
    return 0;
}

/* Which of the policy's tasks a GPU model can run (one flag per task), worked out once
 * per model, and its index among the policy's tables; NULL past the table's size (the
 * caller then asks task_model_ok). */
static const unsigned char *tasks_ok_for(gpf_sched_policy *pol, const gpf_gpu_model *m, int *idx)
{
    for (int i = 0; i < pol->nok; i++)
        if (pol->ok_model[i] == m) {
            *idx = i;
            return pol->ok[i];
        }
    if (pol->nok == (int)(sizeof pol->ok / sizeof pol->ok[0]))
        return NULL;
    unsigned char *ok = gpf_calloc((size_t)pol->ntasks, 1);
    for (int k = 0; k < pol->ntasks; k++)
        ok[k] = (unsigned char)task_model_ok(&pol->tasks[k], m);
    pol->ok_model[pol->nok] = m;
    pol->ok[pol->nok] = ok;
    *idx = pol->nok++;
    return ok;
}

/* How many of the tasks' distinct CPU requests fit in cpu_left milli-CPUs. */
static int cpu_class(const gpf_sched_policy *pol, int64_t cpu_left, int64_t unit)
{
    int lo = 0, hi = pol->ncpu_steps;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (pol->cpu_steps[mid] * unit <= cpu_left)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static uint64_t memo_hash(const frag_memo *k)
{
    uint64_t w[5], h = 0x9e3779b97f4a7c15ULL;
    memcpy(w, k, sizeof w); /* L[16], n, ok, cls, pad */
    for (int i = 0; i < 5; i++)
        h = (h ^ w[i]) * 0xff51afd7ed558ccdULL;
    return h ^ (h >> 32);
}

/* F(n) in milli-GPUs for a host with n GPUs of model m, left[] free and cpu_left
 * milli-CPUs: per task, the free GPU capacity it cannot use (all of it when the host cannot
 * run the task, else the GPUs too small for it), weighted by the task's popularity. With
 * the free amounts sorted, "k GPUs with at least m free" is one comparison and the
 * capacity on GPUs big enough a prefix sum. The sum runs in task order, so a value taken
 * from the memo is the one computing it again would give, to the bit. */
static double frag(gpf_sched_policy *pol, const gpf_gpu_model *m, int n, const int16_t *left, int64_t cpu_left,
                   int64_t unit)
{
    int L[GPF_MAX_HOST_GPUS], P[GPF_MAX_HOST_GPUS + 1], total = 0, okidx = 0;
    for (int g = 0; g < n; g++) { /* insertion sort, largest first */
        int j = g, v = left[g];
        for (; j > 0 && L[j - 1] < v; j--)
            L[j] = L[j - 1];
        L[j] = v;
        total += v;
    }
    const unsigned char *ok = n > 0 ? tasks_ok_for(pol, m, &okidx) : NULL;
    frag_memo key, *e = NULL;
    if (ok && pol->ntasks < 65536 && !pol->memo_off) {
        memset(&key, 0, sizeof key);
        for (int g = 0; g < n; g++)
            key.L[g] = (int16_t)L[g];
        key.n = (uint8_t)n;
        key.ok = (uint8_t)(okidx + 1);
        key.cls = (uint16_t)cpu_class(pol, cpu_left, unit);
        if (!pol->memo)
            pol->memo = zalloc_touched((size_t)1 << MEMO_BITS, sizeof *pol->memo);
        e = &pol->memo[(memo_hash(&key) >> (64 - MEMO_BITS)) & ~(uint64_t)1];
        if (memcmp(&e[0], &key, offsetof(frag_memo, F)) == 0)
            return e[0].F;
        if (memcmp(&e[1], &key, offsetof(frag_memo, F)) == 0)
            return e[1].F;
    }
    P[0] = 0;
    for (int g = 0; g < n; g++)
        P[g + 1] = P[g] + L[g];
    double F = 0;
    for (int k = 0; k < pol->ntasks; k++) {
        const struct task_hot *t = &pol->hot[k];
        int f = total, need = t->num_gpu;
        if (need > 0 && need <= n && L[need - 1] >= t->gpu_milli && cpu_left >= t->cpus * unit &&
            (ok ? ok[k] : task_model_ok(&pol->tasks[k], m))) {
            int j = need;
            while (j < n && L[j] >= t->gpu_milli)
                j++;
            f = total - P[j];
        }
        F += t->weight * f;
    }
    if (e) { /* the bucket's newer entry moves over */
        e[1] = e[0];
        key.F = F;
        e[0] = key;
    }
    return F;
}

/* The model FGD's task list is matched against: GPU 0's. */
static const gpf_gpu_model *rec_model0(const host_rec *r)
{
    return r->n > 0 && (r->flag[0] & GF_MODELED) ? r->umodel : NULL;
}

/* FGD's score: int(100 · sigmoid(ΔF / 1000)), coarse on purpose (ties fall to host order). */
static double fgd_score(double before, double after)
{
    double x = (before - after) / 1000.0;
    return (double)(int64_t)(100.0 / (1.0 + exp(-x)));
}

/* ---- gpufleet: FGD's F plus CPU shortfall and model pressure ---------------- */

/* A share that leaves its GPU less than this free fills it almost exactly: gpufleet takes
 * such a placement before any other. */
#define NEAR_FILL 100

/* Of free_milli thousandths free on a host's GPUs, those its cpu_left free CPUs (in the
 * fleet's unit) cannot serve when the GPUs are filled by the distribution's GPU tasks, which
 * ask pol->cpu_per_milli CPUs per thousandth on average; 0 when the CPUs suffice. */
static double cpu_short(const gpf_sched_policy *pol, int free_milli, int64_t cpu_left)
{
    if (pol->cpu_per_milli <= 0)
        return 0;
    double s = free_milli - (double)cpu_left / pol->cpu_per_milli;
    return s > 0 ? s : 0;
}

/* Per GPU model of the fleet (its GPUs with a known model, up to 16 models): the demand of
 * the tasks that name models (weight × GPUs × thousandths) is spread over the models each
 * allows in proportion to their GPUs; a model's pressure is its share of all the tasks'
 * demand over its share of the fleet's GPUs, at most 1: when demand runs at capacity, the
 * part of that model those tasks will need. 0 for every model when no task names one. */
static int press_compute(const gpf_sched_policy *pol, const gpf_sched_fleet *f, const gpf_gpu_model **model,
                         double *press)
{
    double cap[16] = {0}, claim[16] = {0}, demand = 0, total = 0;
    int n = 0;
    for (int i = 0; i < f->nhosts; i++) {
        const gpf_sched_host *h = &f->hosts[i];
        for (int g = 0; g < h->ngpus; g++) {
            const gpf_gpu_model *m = h->gpus[g].model;
            int k = 0;
            if (!m)
                continue;
            while (k < n && model[k] != m)
                k++;
            if (k == 16)
                continue;
            if (k == n)
                model[n++] = m;
            cap[k] += 1000;
            total += 1000;
        }
    }
    for (int t = 0; t < pol->ntasks; t++) {
        const gpf_sched_task_type *tk = &pol->tasks[t];
        double d = tk->weight * tk->num_gpu * tk->gpu_milli, reach = 0;
        demand += d;
        if (tk->nmodels == 0 || d <= 0)
            continue;
        for (int k = 0; k < n; k++)
            if (task_model_ok(tk, model[k]))
                reach += cap[k];
        for (int k = 0; k < n && reach > 0; k++)
            if (task_model_ok(tk, model[k]))
                claim[k] += d * cap[k] / reach;
    }
    for (int k = 0; k < n; k++) {
        double p = demand > 0 && cap[k] > 0 ? (claim[k] / demand) / (cap[k] / total) : 0;
        press[k] = p > 1 ? 1 : p;
    }
    return n;
}

/* The pressures of f, worked out again when the policy has none for f's host count; when
 * they change, every score in the tables is stale. */
static void press_update(gpf_sched_policy *pol, const gpf_sched_fleet *f)
{
    if (pol->press_fleet == f && pol->press_nhosts == f->nhosts)
        return;
    const gpf_gpu_model *model[16];
    double press[16];
    int n = press_compute(pol, f, model, press);
    if (n != pol->npress || memcmp(model, pol->press_model, (size_t)n * sizeof *model) != 0 ||
        memcmp(press, pol->press, (size_t)n * sizeof *press) != 0) {
        for (int i = 0; i < pol->nshapes; i++)
            memset(pol->shapes[i].ver, 0, (size_t)pol->ncap * sizeof *pol->shapes[i].ver);
        pol->npress = n;
        memcpy(pol->press_model, model, (size_t)n * sizeof *model);
        memcpy(pol->press, press, (size_t)n * sizeof *press);
    }
    pol->press_fleet = f;
    pol->press_nhosts = f->nhosts;
}

/* The least pressure among the models the request allows (1 when it allows none). */
static double press_floor(const gpf_sched_policy *pol, const gpf_sched_request *req)
{
    double lo = 1;
    for (int k = 0; k < pol->npress; k++)
        if (pol->press[k] < lo && (req->nmodels == 0 || sched_model_allowed(req, pol->press_model[k])))
            lo = pol->press[k];
    return lo;
}

/* What placing req on a GPU of model m takes from the tasks that need m: its GPU
 * thousandths times how much more pressed m is than the least pressed model the request
 * could use instead (pol->press_floor, set per decision). */
static double press_cost(const gpf_sched_policy *pol, const gpf_sched_request *req, const gpf_gpu_model *m)
{
    for (int k = 0; k < pol->npress; k++)
        if (pol->press_model[k] == m)
            return pol->press[k] > pol->press_floor
                       ? (double)req_gpu_milli(req) * (pol->press[k] - pol->press_floor)
                       : 0;
    return 0;
}

/* FGD's score for placing on h (best GPU for a share request, first on ties): how much
 * fragmentation the placement removes, quantised as FGD does. F(n) before placing is kept in
 * the host's record. gpufleet (docs/placement.md) adds to F, before and after, the free GPU
 * capacity the host's CPUs cannot serve (cpu_short), and after placing the capacity taken
 * from tasks that need a more pressed model (press_cost, 0 for CPU-only requests); and a
 * share that fills its GPU to within NEAR_FILL beats every other placement, FGD's score
 * ranking those, then the tighter fill. */
static double score_frag(const gpf_sched_fleet *f, gpf_sched_policy *pol, const gpf_sched_host *h, host_rec *r,
                         const gpf_sched_request *req, sched_cand *c, int gpufleet)
{
    int64_t unit = unit_milli(f), cpu_left = r->cpu_left * unit, cpu_after = cpu_left - (int64_t)req->cpus * unit;
    const gpf_gpu_model *m0 = rec_model0(r);
    if (!r->has_before) {
        r->before = frag(pol, m0, r->n, r->left, cpu_left, unit);
        r->has_before = 1;
    }
    double before = r->before, taken = 0;
    int free_milli = 0; /* gpufleet: Σ gL, for cpu_short */
    if (gpufleet) {
        for (int g = 0; g < r->n; g++)
            free_milli += r->left[g] > 0 ? r->left[g] : 0;
        before += cpu_short(pol, free_milli, r->cpu_left);
        if (!is_cpu_only(req))
            taken = press_cost(pol, req, m0);
    }
    int16_t after[GPF_MAX_HOST_GPUS];
    memcpy(after, r->left, sizeof after);
    if (!is_share(req)) {
        for (int k = 0; k < c->ngpus; k++) {
            free_milli -= r->left[c->gpus[k]] > 0 ? r->left[c->gpus[k]] : 0;
            after[c->gpus[k]] = 0;
        }
        double fa = frag(pol, m0, r->n, after, cpu_after, unit);
        if (gpufleet)
            fa += cpu_short(pol, free_milli, r->cpu_left - req->cpus) + taken;
        return fgd_score(before, fa);
    }
    double best = -1e300;
    int tried[GPF_MAX_HOST_GPUS], ntried = 0;
    for (int g = 0; g < r->n; g++) {
        if (!share_fits(pol, req, h, r, g))
            continue;
        /* GPUs with the same room give the same score; the first of them wins ties */
        int seen = 0;
        for (int j = 0; j < ntried && !seen; j++)
            seen = tried[j] == r->left[g];
        if (seen)
            continue;
        tried[ntried++] = r->left[g];
        after[g] = (int16_t)(r->left[g] - req->slice.share_milli);
        double fa = frag(pol, m0, r->n, after, cpu_after, unit);
        if (gpufleet) /* the share fits, so the GPU had room: gL > 0 */
            fa += cpu_short(pol, free_milli - req->slice.share_milli, r->cpu_left - req->cpus) + taken;
        double sc = fgd_score(before, fa);
        if (gpufleet && after[g] < NEAR_FILL)
            sc += 1000.0 + (1000 - after[g]) / 1000.0;
        after[g] = r->left[g];
        if (sc > best) {
            best = sc;
            c->gpus[0] = g;
        }
    }
    return best;
}

/* ---- the paper's other baselines ------------------------------------------ */

static int64_t score_best_fit(const host_view *v, int64_t cpu, int64_t req)
{
    double raw = 100.0 * (1.0 - (0.5 * (double)(v->cpu_left - cpu) / 128000.0 + 0.5 * (double)(v->gpu_left - req) / 8000.0));
    return (int64_t)raw;
}

static int64_t score_dot(const host_view *v, int64_t cpu, int64_t req)
{
    double d = ((double)v->cpu_left / 128000.0) * ((double)cpu / 128000.0) +
               ((double)v->gpu_left / 8000.0) * ((double)req / 8000.0);
    return (int64_t)(100.0 * (1.0 - d / 2.0));
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t score_packing(const host_view *v, const gpf_sched_request *req, const sched_cand *c)
{
    if (is_cpu_only(req))
        return 0;
    if (v->free_gpus == v->ngpus)
        return max64(33 - v->free_gpus, v->free_gpus);
    int uses_free = !is_share(req) || v->left[c->gpus[0]] == 1000;
    if (uses_free)
        return max64(50 - c->ngpus, 33);
    int64_t sum = 0;
    for (int i = 0; i < c->ngpus; i++)
        sum += (int64_t)v->left[c->gpus[i]] * 100 / 1000;
    return max64(100 - sum / 10, 50);
}

static int64_t score_clustering(const gpf_sched_host *h, const host_view *v, const gpf_sched_request *req)
{
    if (is_cpu_only(req))
        return 0;
    int64_t base = (int64_t)25 * (8000 - v->gpu_left) / 8000;
    int tag = is_share(req) ? 0 : req->slice.gpu_count; /* 0 = "share-gpu", k = "k-gpu" */
    int mine = 0, others = 0;
    for (int k = 0; k <= GPF_MAX_POD_GPUS; k++) {
        int n = k == 0 ? v->share_pods : h->whole_pods[k];
        if (n > 0 && k == tag)
            mine = 1;
        else if (n > 0)
            others = 1;
    }
    if (mine && !others)
        return base + 75;
    if (mine)
        return base + 50;
    if (!others)
        return base + 25;
    return base;
}

/* ---- the scored placement loop ---------------------------------------------- */

static void make_key(const gpf_sched_request *req, req_key *k)
{
    memset(k, 0, sizeof *k);
    k->kind = (int)req->slice.kind;
    k->milli = req->slice.share_milli;
    k->count = req->slice.gpu_count;
    k->cpus = req->cpus;
    k->nmodels = req->nmodels;
    k->mem_cap = req->slice.share_memory_mib;
    uint64_t hsh = 1469598103934665603ULL; /* FNV-1a over the model names, each ended by 0xff */
    for (int i = 0; i < req->nmodels; i++) {
        for (const char *p = req->models[i]; p && *p; p++)
            hsh = (hsh ^ (unsigned char)*p) * 1099511628211ULL;
        hsh = (hsh ^ 0xffu) * 1099511628211ULL;
    }
    k->models_hash = hsh;
}

/* Room for n hosts in every per-host table (they start empty when they grow). */
static void tables_reserve(gpf_sched_policy *pol, int n)
{
    if (n <= pol->ncap)
        return;
    int ncap = n > 2 * pol->ncap ? n : 2 * pol->ncap;
    drop_arrays(pol);
    pol->ncap = ncap;
    pol->rec_mem = zalloc_touched((size_t)ncap + 1, sizeof *pol->rec);
    pol->rec = (host_rec *)(((uintptr_t)pol->rec_mem + 63) & ~(uintptr_t)63);
    if (merges_states(pol)) {
        pol->st_cap = 4 * ncap; /* starting over every few thousand host changes on a 1,213-host fleet */
        for (pol->st_icap = 16; pol->st_icap < 2 * pol->st_cap;)
            pol->st_icap *= 2;
        pol->st = zalloc_touched((size_t)pol->st_cap, sizeof *pol->st);
        pol->st_index = zalloc_touched((size_t)pol->st_icap, sizeof *pol->st_index);
        pol->answer = zalloc_touched((size_t)pol->st_cap, sizeof *pol->answer);
    }
    if (!pol->memo && (pol->kind == POL_FGD || pol->kind == POL_GPUFLEET) && pol->ntasks > 0)
        pol->memo = zalloc_touched((size_t)1 << MEMO_BITS, sizeof *pol->memo);
}

/* The table of the request's shape, made (or taking the least recently used one's place)
 * when it is new. */
static shape_tab *shape_for(gpf_sched_policy *pol, const gpf_sched_fleet *f, const req_key *key)
{
    tables_reserve(pol, f->nhosts);
    pol->clock++;
    shape_tab *t = NULL;
    for (int i = 0; i < pol->nshapes && !t; i++)
        if (memcmp(&pol->shapes[i].key, key, sizeof *key) == 0)
            t = &pol->shapes[i];
    if (!t) {
        if (pol->nshapes < MAX_SHAPES) {
            int k = pol->nshapes % SHAPE_CHUNK;
            size_t n = (size_t)pol->ncap;
            char **ch = &pol->chunk[pol->nshapes / SHAPE_CHUNK];
            if (!*ch) /* ver, then score, then why, each for SHAPE_CHUNK shapes */
                *ch = zalloc_touched(SHAPE_CHUNK * n, sizeof *t->ver + sizeof *t->score + sizeof *t->why);
            t = &pol->shapes[pol->nshapes++];
            t->ver = (uint64_t *)(void *)*ch + (size_t)k * n;
            t->score = (double *)(void *)(*ch + SHAPE_CHUNK * n * sizeof *t->ver) + (size_t)k * n;
            t->why = (signed char *)(*ch + SHAPE_CHUNK * n * (sizeof *t->ver + sizeof *t->score)) + (size_t)k * n;
        } else {
            t = &pol->shapes[0];
            for (int i = 1; i < pol->nshapes; i++)
                if (pol->shapes[i].used < t->used)
                    t = &pol->shapes[i];
            memset(t->ver, 0, (size_t)pol->ncap * sizeof *t->ver);
        }
        t->key = *key;
    }
    t->used = pol->clock;
    return t;
}

/* Host i from scratch, from its record r: the GPU filter, the CPU check and the policy's
 * score (set when the verdict is REJ_NONE); c gets the GPUs the policy would use there. */
static int score_host(const gpf_sched_fleet *f, gpf_sched_policy *pol, int i, host_rec *r,
                      const gpf_sched_request *req, sched_cand *c, double *score)
{
    const gpf_sched_host *h = &f->hosts[i];
    int why = filter(pol, h, r, req, c);
    *score = 0;
    if (why == REJ_NONE && (int64_t)req->cpus > r->cpu_left)
        why = REJ_CPU;
    if (why != REJ_NONE)
        return why;
    int64_t unit = unit_milli(f), cpu = (int64_t)req->cpus * unit, rmilli = req_gpu_milli(req);
    if (pol->kind == POL_RANDOM) {
        /* chosen at the end */
    } else if (pol->kind == POL_FIRST_FIT) {
        if (is_share(req))
            pick_share_tight(pol, h, r, req, 1, c);
    } else if (pol->kind == POL_FGD || pol->kind == POL_GPUFLEET) {
        *score = score_frag(f, pol, h, r, req, c, pol->kind == POL_GPUFLEET);
    } else {
        host_view v;
        view(f, r, &v);
        if (is_share(req))
            pick_share_tight(pol, h, r, req, 0, c);
        if (pol->kind == POL_BEST_FIT)
            *score = score_best_fit(&v, cpu, rmilli);
        else if (pol->kind == POL_DOT_PRODUCT)
            *score = score_dot(&v, cpu, rmilli);
        else if (pol->kind == POL_PACKING)
            *score = score_packing(&v, req, c);
        else
            *score = score_clustering(h, &v, req);
    }
    return why;
}

static int place_scored(const gpf_sched_fleet *f, const gpf_catalog *cat, gpf_sched_policy *pol,
                        const gpf_sched_request *req, gpf_placement *out, gpf_error *err)
{
    int rej[REJ_N] = {0}, rc, nfeasible = 0, best = -1;
    double best_score = -1e300, score;
    sched_cand c;
    host_rec tmp;
    req_key key;
    if ((rc = sched_validate(f, cat, req, err)) != 0)
        return rc;
    make_key(req, &key);
    shape_tab *t = shape_for(pol, f, &key);
    pol->nallow = 0;
    if (pol->kind == POL_GPUFLEET) {
        press_update(pol, f);
        pol->press_floor = press_floor(pol, req);
    }
    /* hosts in equal states get equal verdicts and scores (merges_states), but for a share
     * with a memory cap of its own: the GPUs' memory is not in the state */
    int dedup = !(is_share(req) && req->slice.share_memory_mib > 0);
    for (int i = 0; i < f->nhosts; i++) {
        const gpf_sched_host *h = &f->hosts[i];
        int why;
        /* hosts are large and far apart (about a page each): fetch the first line of one
         * a few ahead so that its wait overlaps the work on the hosts before it */
        if (i + 8 < f->nhosts)
            __builtin_prefetch(&f->hosts[i + 8]);
        if (!h->schedulable) {
            why = REJ_NOT_READY;
        } else if (h->summary_valid && h->version != 0 && t->ver[i] == h->version) {
            why = t->why[i];
            score = t->score[i];
        } else {
            /* from the host's record: refused on its summary, or scored, once per state */
            host_rec *r = rec_get(pol, f, i, &tmp);
            state_answer *a = dedup && r->sid >= 0 ? &pol->answer[r->sid] : NULL;
            why = quick_verdict(r, req);
            score = 0;
            if (why > REJ_NONE) {
                /* refused on the record's summary */
            } else if (a && a->stamp == pol->clock) {
                why = a->why;
                score = a->score;
            } else {
                why = score_host(f, pol, i, r, req, &c, &score);
                if (a) {
                    a->stamp = pol->clock;
                    a->why = why;
                    a->score = score;
                }
            }
            if (h->summary_valid && h->version != 0) {
                t->ver[i] = h->version;
                t->why[i] = (signed char)why;
                t->score[i] = score;
            }
        }
        if (why == REJ_NONE && h->memory_used_mib + req->memory_mib > h->memory_mib)
            why = REJ_MEMORY;
        if (why != REJ_NONE) {
            rej[why]++;
            continue;
        }
        nfeasible++;
        if (pol->kind == POL_RANDOM) {
            /* reservoir sampling: each feasible host is kept with probability 1/nfeasible */
            if (sched_rng_below(&pol->rng, nfeasible) == 0)
                best = i;
            continue;
        }
        if (pol->kind == POL_FIRST_FIT) {
            best = i;
            break;
        }
        if (score > best_score) {
            best_score = score;
            best = i;
        }
    }
    if (best < 0) {
        sched_refusal(f, req, rej, err);
        return GPF_ENOCAPACITY;
    }
    const gpf_sched_host *bh = &f->hosts[best];
    host_rec *br = rec_get(pol, f, best, &tmp);
    score_host(f, pol, best, br, req, &c, &score); /* the winner's GPUs */
    c.host = best;
    if (pol->kind == POL_RANDOM && is_share(req))
        pick_share_random(pol, bh, br, req, &c);
    if (is_share(req))
        c.share_memory_mib = share_cap(&bh->gpus[c.gpus[0]], req);
    sched_fill(f, cat, req, &c, out);
    return 0;
}

int gpf_sched_place_with(const gpf_sched_fleet *f, const gpf_catalog *cat, gpf_sched_policy *pol,
                         const gpf_sched_request *req, gpf_placement *out, gpf_error *err)
{
    if (!f || !req || !out)
        return gpf_error_set(err, GPF_EINVAL, "no fleet, request or output");
    if (!pol || (pol->kind == POL_GPUFLEET && pol->ntasks == 0) || req->slice.kind == GPF_SLICE_MIG ||
        req->slice.kind == GPF_SLICE_VGPU)
        return sched_place_default(f, cat, req, out, err);
    return place_scored(f, cat, pol, req, out, err);
}

/* ---- the test hook: the caches against fresh computation -------------------- */

int sched_policy_check_caches(gpf_sched_policy *pol, const gpf_sched_fleet *f, int *checked)
{
    int bad = 0, n = 0;
    host_rec fresh;
    sched_cand c;
    pol->memo_off = 1;
    /* host records in use (of the host's current version), with F(n) before placing */
    for (int i = 0; i < f->nhosts && i < pol->ncap; i++) {
        const gpf_sched_host *h = &f->hosts[i];
        const host_rec *r = &pol->rec[i];
        if (!h->summary_valid || h->version == 0 || r->ver != h->version)
            continue; /* made again before it is read */
        rec_build(h, &fresh);
        n++;
        if (r->ver != fresh.ver || memcmp(REC_STATE(r), REC_STATE(&fresh), REC_STATE_LEN) != 0 ||
            r->share_pods != fresh.share_pods ||
            (r->sid >= 0 && (r->sid >= pol->nst || memcmp(pol->st[r->sid].b, REC_STATE(&fresh), REC_STATE_LEN) != 0)))
            bad++;
        else if (r->has_before && r->before != frag(pol, rec_model0(&fresh), fresh.n, fresh.left,
                                                    fresh.cpu_left * unit_milli(f), unit_milli(f)))
            bad++;
    }
    /* remembered F(n) values; the memo's CPU class stands for any CPU amount of that class */
    for (size_t k = 0; pol->memo && k < (size_t)1 << MEMO_BITS; k++) {
        const frag_memo *e = &pol->memo[k];
        if (e->ok == 0)
            continue;
        int64_t cpu = e->cls > 0 ? pol->cpu_steps[e->cls - 1] : pol->ncpu_steps > 0 ? pol->cpu_steps[0] - 1 : 0;
        n++;
        bad += frag(pol, pol->ok_model[e->ok - 1], e->n, e->L, cpu, 1) != e->F;
    }
    /* gpufleet's model pressures, once it has placed on this fleet */
    if (pol->press_fleet == f) {
        const gpf_gpu_model *model[16];
        double press[16];
        int np = press_compute(pol, f, model, press);
        n++;
        bad += np != pol->npress || memcmp(model, pol->press_model, (size_t)np * sizeof *model) != 0 ||
               memcmp(press, pol->press, (size_t)np * sizeof *press) != 0;
    }
    /* table entries in use, for shapes that accept any model */
    for (int s = 0; s < pol->nshapes; s++) {
        const shape_tab *t = &pol->shapes[s];
        gpf_sched_request req;
        if (t->key.nmodels != 0)
            continue;
        memset(&req, 0, sizeof req);
        req.slice.kind = (gpf_slice_kind)t->key.kind;
        req.slice.share_milli = t->key.milli;
        req.slice.gpu_count = t->key.count;
        req.slice.share_memory_mib = t->key.mem_cap;
        req.cpus = t->key.cpus;
        pol->press_floor = press_floor(pol, &req);
        for (int i = 0; i < f->nhosts && i < pol->ncap; i++) {
            const gpf_sched_host *h = &f->hosts[i];
            if (!h->schedulable || !h->summary_valid || h->version == 0 || t->ver[i] != h->version)
                continue;
            double score;
            rec_build(h, &fresh);
            int why = score_host(f, pol, i, &fresh, &req, &c, &score);
            n++;
            bad += why != t->why[i] || (why == REJ_NONE && score != t->score[i]);
        }
    }
    pol->memo_off = 0;
    if (checked)
        *checked = n;
    return bad;
}
