/* The placement policies' view of hosts (see policies.c): the compact record of a host each
 * policy keeps per host version (host_rec), the host states records are interned into so
 * that hosts in equal states are scored once per decision, and the GPU filter that says
 * whether a host's GPUs can take a request (which models it allows, whether a share fits). */
#include <string.h>

#include "sched/policies_int.h"

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

/* ---- host records -------------------------------------------------------- */

static uint32_t state_hash(const host_rec *r)
{
    uint64_t w[REC_STATE_LEN / 8], h = 0x9e3779b97f4a7c15ULL;
    memcpy(w, REC_STATE(r), sizeof w);
    for (size_t i = 0; i < REC_STATE_LEN / 8; i++)
        h = (h ^ w[i]) * 0xff51afd7ed558ccdULL;
    return (uint32_t)(h ^ (h >> 29));
}

/* Fills r from h's ledger (r->ver = h's version). */
void sched_rec_build(const gpf_sched_host *h, host_rec *r)
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
host_rec *sched_rec_get(gpf_sched_policy *pol, const gpf_sched_fleet *f, int i, host_rec *tmp)
{
    const gpf_sched_host *h = &f->hosts[i];
    if (h->summary_valid && h->version != 0 && i < pol->ncap) {
        host_rec *r = &pol->rec[i];
        if (r->ver != h->version)
            sched_rec_build(h, r);
        if (r->sid < 0 && pol->st && !r->other)
            state_intern(pol, r);
        return r;
    }
    sched_rec_build(h, tmp);
    tmp->ver = 0;
    return tmp;
}

/* ---- the GPU filter ------------------------------------------------------- */

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
int sched_share_fits(gpf_sched_policy *pol, const gpf_sched_request *req, const gpf_sched_host *h,
                     const host_rec *r, int g)
{
    if (req->slice.share_memory_mib > 0)
        return share_fits_capped(pol, req, h, r, g);
    return r->share_max[g] >= req->slice.share_milli && gpu_allowed(pol, req, h, r, g);
}

/* The verdict of sched_filter and the CPU check from the record's summary alone, for requests
 * that accept any model (and shares without a cap of their own); -1 otherwise. */
int sched_quick_verdict(const host_rec *r, const gpf_sched_request *req)
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

/* The GPU part of the filter: can h's GPUs take req? Fills c with the GPUs a whole request
 * takes (the lowest-index free ones of an allowed model) and marks a share request
 * feasible. score_host checks CPU, place_scored memory. */
int sched_filter(gpf_sched_policy *pol, const gpf_sched_host *h, const host_rec *r, const gpf_sched_request *req,
                 sched_cand *c)
{
    const gpf_slice_spec *s = &req->slice;
    memset(c, 0, sizeof *c);
    if (!h->schedulable)
        return REJ_NOT_READY; /* (isolation is checked by the caller: verdicts here are cached by shape) */
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
            else if (share && n == 0 && sched_share_fits(pol, req, h, r, g))
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
