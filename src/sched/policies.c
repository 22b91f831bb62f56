/* Placement policies by name, and the scored placement loop the paper's baselines use.
 *
 * A scored policy looks at every host that can take the request (filter), gives it an
 * integer score (higher wins; ties go to the host that comes first in fleet order) and
 * picks the GPU on the chosen host by its own rule. The formulas follow the FGD paper's
 * simulator as written down in docs/placement.md; "gpufleet" is the default ranking of
 * policy.c and place.c. Pure: the only state is the policy's own random stream. */
#include <math.h>
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
    /* per-shape tables over hosts [0, ncap) */
    int ncap, nshapes;
    uint64_t clock;
    shape_tab shapes[MAX_SHAPES];
    /* per host: F(n) before placing, at version before_ver (FGD and gpufleet) */
    double *before;
    uint64_t *before_ver;
    /* per GPU model seen: which tasks it can run (FGD and gpufleet) */
    int nok;
    const gpf_gpu_model *ok_model[16];
    unsigned char *ok[16];
};

static void drop_shape(shape_tab *t)
{
    gpf_free(t->ver);
    gpf_free(t->score);
    gpf_free(t->why);
    memset(t, 0, sizeof *t);
}

static void drop_tables(gpf_sched_policy *p)
{
    for (int i = 0; i < p->nshapes; i++)
        drop_shape(&p->shapes[i]);
    for (int i = 0; i < p->nok; i++)
        gpf_free(p->ok[i]);
    gpf_free(p->before);
    gpf_free(p->before_ver);
    p->before = NULL;
    p->before_ver = NULL;
    p->nshapes = p->nok = p->ncap = 0;
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
    gpf_free(p);
}

const char *gpf_sched_policy_name(const gpf_sched_policy *p)
{
    return names[p ? p->kind : POL_GPUFLEET];
}

void gpf_sched_policy_set_tasks(gpf_sched_policy *p, const gpf_sched_task_type *t, int n)
{
    drop_tables(p); /* scores were against the old distribution */
    gpf_free(p->tasks);
    gpf_free(p->hot);
    p->tasks = NULL;
    p->hot = NULL;
    p->ntasks = 0;
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

typedef struct host_view {
    int64_t cpu_left;   /* milli-CPUs */
    int gpu_left;       /* Σ thousandths free over the host's GPUs */
    int free_gpus;      /* GPUs with nothing booked */
    int left[GPF_MAX_HOST_GPUS];
} host_view;

static void view(const gpf_sched_fleet *f, const gpf_sched_host *h, host_view *v)
{
    v->cpu_left = (int64_t)(h->cpus - h->cpus_used) * unit_milli(f);
    v->gpu_left = 0;
    v->free_gpus = 0;
    for (int g = 0; g < h->ngpus; g++) {
        v->left[g] = sched_gpu_left_milli(&h->gpus[g]);
        v->gpu_left += v->left[g];
        v->free_gpus += sched_gpu_empty(&h->gpus[g]);
    }
}

/* GPUs a share request may use on h: allowed model, not in MIG mode, room for it. */
static int share_fits(const gpf_sched_gpu *g, const gpf_sched_request *req, int64_t *cap)
{
    const gpf_slice_spec *s = &req->slice;
    if (!sched_model_allowed(req, g->model) || g->mig_enabled)
        return 0;
    *cap = s->share_memory_mib > 0 ? s->share_memory_mib : sched_gpu_memory_mib(g) * s->share_milli / 1000;
    return sched_share_conflict(g, s->share_milli, *cap) == NULL;
}

/* The GPU part of the filter: can h's GPUs take req? Fills c with the GPUs a whole request
 * takes (the lowest-index free ones of an allowed model) and marks a share request
 * feasible. score_host checks CPU, place_scored memory. */
static int filter(const gpf_sched_fleet *f, const gpf_sched_host *h, const gpf_sched_request *req, sched_cand *c)
{
    const gpf_slice_spec *s = &req->slice;
    memset(c, 0, sizeof *c);
    if (!h->schedulable)
        return REJ_NOT_READY;
    int gpu_req = !(s->kind == GPF_SLICE_WHOLE && s->gpu_count == 0);
    if (gpu_req && h->summary_valid && req->nmodels == 0) {
        /* the summary decides without reading the GPUs when they cannot take it */
        if (h->modeled_gpus == 0)
            return REJ_MODEL;
        if (h->nonmig_gpus == 0)
            return REJ_MODE;
        if (s->kind == GPF_SLICE_WHOLE ? h->free_whole < s->gpu_count : h->share_room < s->share_milli)
            return REJ_GPU;
    }
    if (gpu_req) {
        sched_gate gt = {0, 0};
        int n = 0;
        for (int g = 0; g < h->ngpus; g++) {
            const gpf_sched_gpu *gp = &h->gpus[g];
            if (!sched_gate_pass(&gt, sched_model_allowed(req, gp->model), gp, 0))
                continue;
            int64_t cap;
            if (s->kind == GPF_SLICE_WHOLE && n < s->gpu_count && !sched_whole_conflict(gp))
                c->gpus[n++] = g;
            else if (s->kind == GPF_SLICE_SHARE && n == 0 && share_fits(gp, req, &cap))
                n = 1;
        }
        if (sched_gate_why(&gt) != REJ_NONE)
            return sched_gate_why(&gt);
        if ((s->kind == GPF_SLICE_WHOLE && n < s->gpu_count) || (s->kind == GPF_SLICE_SHARE && n == 0))
            return REJ_GPU;
        c->ngpus = s->kind == GPF_SLICE_WHOLE ? s->gpu_count : 1;
    }
    (void)f;
    c->valid = 1;
    return REJ_NONE;
}

/* Share request: the GPU left with the least room that still fits (first on ties), or the
 * lowest index when lowest is set. */
static void pick_share_tight(const gpf_sched_host *h, const gpf_sched_request *req, int lowest, sched_cand *c)
{
    int best = -1, best_left = 0;
    int64_t best_cap = 0;
    for (int g = 0; g < h->ngpus; g++) {
        int64_t cap;
        if (!share_fits(&h->gpus[g], req, &cap))
            continue;
        int left = sched_gpu_left_milli(&h->gpus[g]);
        if (best < 0 || (!lowest && left < best_left)) {
            best = g;
            best_left = left;
            best_cap = cap;
        }
    }
    c->gpus[0] = best;
    c->share_memory_mib = best_cap;
}

static void pick_share_random(gpf_sched_policy *pol, const gpf_sched_host *h, const gpf_sched_request *req,
                              sched_cand *c)
{
    int idx[GPF_MAX_HOST_GPUS], n = 0;
    int64_t caps[GPF_MAX_HOST_GPUS];
    for (int g = 0; g < h->ngpus; g++)
        if (share_fits(&h->gpus[g], req, &caps[n]))
            idx[n++] = g;
    int k = sched_rng_below(&pol->rng, n);
    c->gpus[0] = idx[k];
    c->share_memory_mib = caps[k];
}

static int64_t req_gpu_milli(const gpf_sched_request *req)
{
    const gpf_slice_spec *s = &req->slice;
    return s->kind == GPF_SLICE_SHARE ? s->share_milli : (int64_t)1000 * s->gpu_count;
}

static int is_share(const gpf_sched_request *req)
{
    return req->slice.kind == GPF_SLICE_SHARE;
}

static int is_cpu_only(const gpf_sched_request *req)
{
    return req->slice.kind == GPF_SLICE_WHOLE && req->slice.gpu_count == 0;
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
 * per model; NULL past the table's size (the caller then asks task_model_ok). */
static const unsigned char *tasks_ok_for(gpf_sched_policy *pol, const gpf_gpu_model *m)
{
    for (int i = 0; i < pol->nok; i++)
        if (pol->ok_model[i] == m)
            return pol->ok[i];
    if (pol->nok == (int)(sizeof pol->ok / sizeof pol->ok[0]))
        return NULL;
    unsigned char *ok = gpf_calloc((size_t)pol->ntasks, 1);
    for (int k = 0; k < pol->ntasks; k++)
        ok[k] = (unsigned char)task_model_ok(&pol->tasks[k], m);
    pol->ok_model[pol->nok] = m;
    pol->ok[pol->nok++] = ok;
    return ok;
}

/* F(n) in milli-GPUs for a host whose GPUs have left[] free and cpu_left milli-CPUs: per
 * task, the free GPU capacity it cannot use (all of it when the host cannot run the task,
 * else the GPUs too small for it), weighted by the task's popularity. With the free
 * amounts sorted, "k GPUs with at least m free" is one comparison and the capacity on
 * GPUs big enough a prefix sum. */
static double frag(gpf_sched_policy *pol, const gpf_sched_host *h, const int *left, int64_t cpu_left,
                   int64_t unit)
{
    int n = h->ngpus, L[GPF_MAX_HOST_GPUS], P[GPF_MAX_HOST_GPUS + 1], total = 0;
    for (int g = 0; g < n; g++) { /* insertion sort, largest first */
        int j = g, v = left[g];
        for (; j > 0 && L[j - 1] < v; j--)
            L[j] = L[j - 1];
        L[j] = v;
        total += v;
    }
    P[0] = 0;
    for (int g = 0; g < n; g++)
        P[g + 1] = P[g] + L[g];
    const unsigned char *ok = n > 0 ? tasks_ok_for(pol, h->gpus[0].model) : NULL;
    double F = 0;
    for (int k = 0; k < pol->ntasks; k++) {
        const struct task_hot *t = &pol->hot[k];
        int f = total, need = t->num_gpu;
        if (need > 0 && need <= n && L[need - 1] >= t->gpu_milli && cpu_left >= t->cpus * unit &&
            (ok ? ok[k] : task_model_ok(&pol->tasks[k], h->gpus[0].model))) {
            int j = need;
            while (j < n && L[j] >= t->gpu_milli)
                j++;
            f = total - P[j];
        }
        F += t->weight * f;
    }
    return F;
}

/* F(n) of host i as it stands, remembered until the host changes. */
static double frag_now(gpf_sched_policy *pol, const gpf_sched_fleet *f, int i, const int *left, int64_t cpu_left)
{
    const gpf_sched_host *h = &f->hosts[i];
    int cached = h->summary_valid && h->version != 0 && i < pol->ncap;
    if (cached && pol->before_ver[i] == h->version)
        return pol->before[i];
    double F = frag(pol, h, left, cpu_left, unit_milli(f));
    if (cached) {
        pol->before_ver[i] = h->version;
        pol->before[i] = F;
    }
    return F;
}

/* FGD's score: int(100 · sigmoid(ΔF / 1000)), coarse on purpose (ties fall to host order). */
static double fgd_score(double before, double after)
{
    double x = (before - after) / 1000.0;
    return (double)(int64_t)(100.0 / (1.0 + exp(-x)));
}

/* FGD's score for placing on h (best GPU for a share request, first on ties): how much
 * fragmentation the placement removes, quantised as FGD does. consolidate (the gpufleet
 * policy) ranks a share request's GPUs differently: a partly used GPU that fits beats any
 * fresh one, the tightest fit first, FGD's score only breaking ties; so shares fill the
 * GPUs they have opened before they open another (cluster-wide, since the best GPU of each
 * host is its score). */
static double score_frag(const gpf_sched_fleet *f, gpf_sched_policy *pol, int i, const gpf_sched_request *req,
                         sched_cand *c, int consolidate)
{
    const gpf_sched_host *h = &f->hosts[i];
    host_view v;
    view(f, h, &v);
    int64_t unit = unit_milli(f), cpu_after = v.cpu_left - (int64_t)req->cpus * unit;
    double before = frag_now(pol, f, i, v.left, v.cpu_left);
    int after[GPF_MAX_HOST_GPUS];
    memcpy(after, v.left, sizeof after);
    if (!is_share(req)) {
        for (int k = 0; k < c->ngpus; k++)
            after[c->gpus[k]] = 0;
        return fgd_score(before, frag(pol, h, after, cpu_after, unit));
    }
    double best = -1e300;
    for (int g = 0; g < h->ngpus; g++) {
        int64_t cap;
        if (!share_fits(&h->gpus[g], req, &cap))
            continue;
        /* GPUs with the same room give the same score; the first of them wins ties */
        int seen = 0;
        for (int j = 0; j < g && !seen; j++) {
            int64_t cj;
            seen = v.left[j] == v.left[g] && share_fits(&h->gpus[j], req, &cj);
        }
        if (seen)
            continue;
        after[g] = v.left[g] - req->slice.share_milli;
        double sc = fgd_score(before, frag(pol, h, after, cpu_after, unit));
        if (consolidate && v.left[g] < 1000)
            sc = 1000.0 + (1000 - after[g]) + sc / 1000.0;
        after[g] = v.left[g];
        if (sc > best) {
            best = sc;
            c->gpus[0] = g;
            c->share_memory_mib = cap;
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

static int64_t score_packing(const gpf_sched_host *h, const host_view *v, const gpf_sched_request *req,
                             const sched_cand *c)
{
    if (is_cpu_only(req))
        return 0;
    if (v->free_gpus == h->ngpus)
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
    int share_pods = 0, mine = 0, others = 0;
    for (int g = 0; g < h->ngpus; g++)
        share_pods += h->gpus[g].shares;
    for (int k = 0; k <= GPF_MAX_POD_GPUS; k++) {
        int n = k == 0 ? share_pods : h->whole_pods[k];
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
    for (int i = 0; i < pol->nshapes; i++)
        drop_shape(&pol->shapes[i]);
    pol->nshapes = 0;
    gpf_free(pol->before);
    gpf_free(pol->before_ver);
    pol->ncap = n > 2 * pol->ncap ? n : 2 * pol->ncap;
    pol->before = gpf_calloc((size_t)pol->ncap, sizeof *pol->before);
    pol->before_ver = gpf_calloc((size_t)pol->ncap, sizeof *pol->before_ver);
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
            t = &pol->shapes[pol->nshapes++];
        } else {
            t = &pol->shapes[0];
            for (int i = 1; i < pol->nshapes; i++)
                if (pol->shapes[i].used < t->used)
                    t = &pol->shapes[i];
            drop_shape(t);
        }
        t->key = *key;
        t->ver = gpf_calloc((size_t)pol->ncap, sizeof *t->ver);
        t->score = gpf_calloc((size_t)pol->ncap, sizeof *t->score);
        t->why = gpf_calloc((size_t)pol->ncap, sizeof *t->why);
    }
    t->used = pol->clock;
    return t;
}

/* Host i from scratch: the GPU filter, the CPU check and the policy's score (set when the
 * verdict is REJ_NONE); c gets the GPUs the policy would use there. */
static int score_host(const gpf_sched_fleet *f, gpf_sched_policy *pol, int i, const gpf_sched_request *req,
                      sched_cand *c, double *score)
{
    const gpf_sched_host *h = &f->hosts[i];
    int why = filter(f, h, req, c);
    *score = 0;
    if (why == REJ_NONE && h->cpus_used + (int64_t)req->cpus > h->cpus)
        why = REJ_CPU;
    if (why != REJ_NONE)
        return why;
    int64_t unit = unit_milli(f), cpu = (int64_t)req->cpus * unit, rmilli = req_gpu_milli(req);
    if (pol->kind == POL_RANDOM) {
        /* chosen at the end */
    } else if (pol->kind == POL_FIRST_FIT) {
        if (is_share(req))
            pick_share_tight(h, req, 1, c);
    } else if (pol->kind == POL_FGD || pol->kind == POL_GPUFLEET) {
        *score = score_frag(f, pol, i, req, c, pol->kind == POL_GPUFLEET);
    } else {
        host_view v;
        view(f, h, &v);
        if (is_share(req))
            pick_share_tight(h, req, 0, c);
        if (pol->kind == POL_BEST_FIT)
            *score = score_best_fit(&v, cpu, rmilli);
        else if (pol->kind == POL_DOT_PRODUCT)
            *score = score_dot(&v, cpu, rmilli);
        else if (pol->kind == POL_PACKING)
            *score = score_packing(h, &v, req, c);
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
    req_key key;
    if ((rc = sched_validate(f, cat, req, err)) != 0)
        return rc;
    make_key(req, &key);
    shape_tab *t = shape_for(pol, f, &key);
    for (int i = 0; i < f->nhosts; i++) {
        const gpf_sched_host *h = &f->hosts[i];
        int why;
        /* hosts are large and far apart: fetch the first line of one a few ahead, and the
         * GPUs of the next one to score, so their waits overlap this host's work */
        if (i + 4 < f->nhosts)
            __builtin_prefetch(&f->hosts[i + 4]);
        if (i + 2 < f->nhosts && t->ver[i + 2] != f->hosts[i + 2].version)
            for (int g = 0; g < f->hosts[i + 2].ngpus; g++)
                __builtin_prefetch(&f->hosts[i + 2].gpus[g]);
        if (!h->schedulable) {
            why = REJ_NOT_READY;
        } else if (h->summary_valid && h->version != 0 && t->ver[i] == h->version) {
            why = t->why[i];
            score = t->score[i];
        } else {
            why = score_host(f, pol, i, req, &c, &score);
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
    score_host(f, pol, best, req, &c, &score); /* the winner's GPUs */
    c.host = best;
    if (pol->kind == POL_RANDOM && is_share(req))
        pick_share_random(pol, &f->hosts[best], req, &c);
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
