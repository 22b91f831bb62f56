/* gpf_sched_place: checks the request, enumerates what fits on every host (geometry.c),
 * lets the policy (policy.c) rank the candidates, and explains a refusal host by host. */
#include <stdarg.h>
#include <string.h>

#include "sched/sched_int.h"
#include "util/alloc.h"
#include "util/buf.h"


int sched_model_allowed(const gpf_sched_request *req, const gpf_gpu_model *m)
{
    if (!m)
        return 0;
    if (req->nmodels == 0)
        return 1;
    for (int i = 0; i < req->nmodels; i++)
        if (gpf_catalog_model_matches(m, req->models[i]))
            return 1;
    return 0;
}

static void models_text(const gpf_sched_request *req, gpf_buf *b)
{
    for (int i = 0; i < req->nmodels; i++)
        gpf_buf_printf(b, "%s%s", i ? ", " : "", req->models[i]);
}

int sched_validate(const gpf_sched_fleet *f, const gpf_catalog *cat, const gpf_sched_request *req, gpf_error *err)
{
    const gpf_slice_spec *s = &req->slice;
    int rc = 0;
    gpf_buf mb;
    gpf_buf_init(&mb);
    if (!f) {
        rc = gpf_error_set(err, GPF_EINVAL, "no fleet");
        goto out;
    }
    if (req->cpus < 0 || req->memory_mib < 0) {
        rc = gpf_error_set(err, GPF_EINVAL, "a request cannot ask for negative CPUs or memory");
        goto out;
    }
    if (req->nmodels < 0 || req->nmodels > GPF_MAX_SKU_MODELS) {
        rc = gpf_error_set(err, GPF_EINVAL, "a request may name 0..%d GPU models, not %d", GPF_MAX_SKU_MODELS,
                           req->nmodels);
        goto out;
    }
    for (int i = 0; i < req->nmodels; i++)
        if (!req->models[i] || !req->models[i][0]) {
            rc = gpf_error_set(err, GPF_EINVAL, "allowed GPU model %d is empty", i + 1);
            goto out;
        }
    models_text(req, &mb);
    switch (s->kind) {
    case GPF_SLICE_WHOLE:
        if (s->gpu_count < 0 || s->gpu_count > GPF_MAX_POD_GPUS)
            rc = gpf_error_set(err, GPF_EINVAL, "a pod gets 0..%d whole GPUs on one host, not %d", GPF_MAX_POD_GPUS,
                               s->gpu_count);
        break;
    case GPF_SLICE_SHARE:
        if (s->share_milli < 1 || s->share_milli > 1000)
            rc = gpf_error_set(err, GPF_EINVAL, "a GPU share is 1..1000 thousandths, not %d", s->share_milli);
        else if (s->share_memory_mib < 0)
            rc = gpf_error_set(err, GPF_EINVAL, "a share's memory cap cannot be negative");
        break;
    case GPF_SLICE_MIG: {
        int offered = 0;
        for (int i = 0; i < gpf_catalog_model_count(cat) && !offered; i++) {
            const gpf_gpu_model *m = gpf_catalog_model_at(cat, i);
            offered = sched_model_allowed(req, m) && gpf_catalog_mig_by_name(cat, m->mig_key, s->mig_profile);
        }
        if (!offered)
            rc = gpf_error_set(err, GPF_EINVAL, "no %sGPU model%s%s%s offers the MIG profile '%s'",
                               req->nmodels ? "allowed " : "", req->nmodels ? " (" : "", gpf_buf_cstr(&mb),
                               req->nmodels ? ")" : "", s->mig_profile);
        break;
    }
    case GPF_SLICE_VGPU: {
        const gpf_vgpu_type *t = gpf_catalog_vgpu(cat, s->vgpu_type);
        int offered = 0, has_profile = 0;
        for (int i = 0; t && i < gpf_catalog_model_count(cat); i++) {
            const gpf_gpu_model *m = gpf_catalog_model_at(cat, i);
            if (!sched_model_allowed(req, m) || !gpf_catalog_model_matches(m, t->gpu_model))
                continue;
            offered = 1;
            has_profile |= sched_vgpu_profile(cat, m, t) != NULL;
        }
        if (!t)
            rc = gpf_error_set(err, GPF_EINVAL, "the catalog has no vGPU type '%s'", s->vgpu_type);
        else if (!offered)
            rc = gpf_error_set(err, GPF_EINVAL, "vGPU type '%s' runs on %s, which the request does not allow",
                               s->vgpu_type, t->gpu_model);
        else if (t->mig_backed && !has_profile)
            rc = gpf_error_set(err, GPF_EINVAL,
                               "MIG-backed vGPU type '%s' is MIG profile '%s', which the catalog lacks for %s",
                               s->vgpu_type, t->mig_profile, t->gpu_model);
        break;
    }
    default:
        rc = gpf_error_set(err, GPF_EINVAL, "unknown slice kind %d", (int)s->kind);
        break;
    }
    if (rc == 0 && req->nmodels > 0 && cat && !(s->kind == GPF_SLICE_WHOLE && s->gpu_count == 0)) {
        int known = 0;
        for (int i = 0; i < gpf_catalog_model_count(cat) && !known; i++)
            known = sched_model_allowed(req, gpf_catalog_model_at(cat, i));
        if (!known)
            rc = gpf_error_set(err, GPF_EINVAL, "none of the allowed GPU models (%s) is in the catalog",
                               gpf_buf_cstr(&mb));
    }
out:
    gpf_buf_clear(&mb);
    return rc;
}

/* ---- the best candidate on one host, per slice kind --------------------- */

static int host_whole(const gpf_sched_host *h, const gpf_sched_request *req, sched_cand *c)
{
    sched_gate gt = {0, 0};
    int n = 0, idx[GPF_MAX_HOST_GPUS];
    int need = req->slice.gpu_count;
    if (need == 0) { /* CPU and memory only */
        memset(c, 0, sizeof *c);
        c->valid = 1;
        c->host_empty_after = sched_host_empty_gpus(h);
        return REJ_NONE;
    }
    for (int g = 0; g < h->ngpus; g++) {
        const gpf_sched_gpu *gp = &h->gpus[g];
        if (sched_gate_pass(&gt, sched_model_allowed(req, gp->model), gp, 0) && !sched_whole_conflict(gp))
            idx[n++] = g;
    }
    if (sched_gate_why(&gt) != REJ_NONE)
        return sched_gate_why(&gt);
    /* All GPUs of one pod are one model: take the model group with the fewest free GPUs
     * that still holds enough (best fit). */
    int best_n = 0, grp[GPF_MAX_HOST_GPUS], best[GPF_MAX_HOST_GPUS];
    for (int i = 0; i < n; i++) {
        const gpf_gpu_model *m = h->gpus[idx[i]].model;
        int first = 1, k = 0;
        for (int j = 0; j < i && first; j++)
            first = h->gpus[idx[j]].model != m;
        if (!first)
            continue;
        for (int j = i; j < n; j++)
            if (h->gpus[idx[j]].model == m)
                grp[k++] = idx[j];
        if (k >= need && (best_n == 0 || k < best_n)) {
            best_n = k;
            memcpy(best, grp, (size_t)k * sizeof best[0]);
        }
    }
    if (best_n == 0)
        return REJ_GPU;
    memset(c, 0, sizeof *c);
    c->valid = 1;
    c->ngpus = need;
    sched_policy_pick_whole(h, best, best_n, need, c->gpus);
    int free_whole = 0;
    for (int g = 0; g < h->ngpus; g++)
        free_whole += sched_whole_conflict(&h->gpus[g]) == NULL;
    c->host_empty_after = free_whole - need; /* whole-free GPUs of any model left */
    return REJ_NONE;
}

/* 1 when an earlier GPU of h has the same model and exactly the same MIG ledger as GPU g. */
/* A candidate on GPU g alone, leaving host_empty_after GPUs of the host with nothing booked. */
static sched_cand one_gpu_cand(int g, int host_empty_after)
{
    sched_cand c;
    memset(&c, 0, sizeof c);
    c.valid = 1;
    c.ngpus = 1;
    c.gpus[0] = g;
    c.host_empty_after = host_empty_after;
    return c;
}

static int same_as_earlier(const gpf_sched_host *h, int g)
{
    const gpf_sched_gpu *a = &h->gpus[g];
    for (int i = 0; i < g; i++) {
        const gpf_sched_gpu *b = &h->gpus[i];
        if (b->model == a->model && b->mig_enabled == a->mig_enabled && b->whole_taken == a->whole_taken &&
            b->shares == a->shares && b->mig_slots_used == a->mig_slots_used && b->mig_instances == a->mig_instances &&
            memcmp(b->mig, a->mig, sizeof a->mig) == 0)
            return 1;
    }
    return 0;
}

/* Profile sets per GPU model, loaded on first use during one placement decision. */
typedef struct mig_cache {
    int n;
    sched_mig_set sets[24];
    sched_mig_set spare;
} mig_cache;

static const sched_mig_set *mig_set(mig_cache *mc, const gpf_catalog *cat, const gpf_gpu_model *m)
{
    for (int i = 0; i < mc->n; i++)
        if (mc->sets[i].model == m)
            return &mc->sets[i];
    sched_mig_set *s = mc->n < (int)(sizeof mc->sets / sizeof mc->sets[0]) ? &mc->sets[mc->n++] : &mc->spare;
    sched_mig_set_load(s, cat, m);
    return s;
}

/* Why the MIG GPUs of a host that passed the gate could not take the request, beside full
 * geometry (REJ_GPU detail for the refusal message). */
enum { WHY_BARE_MIG = 1, WHY_VGPU_HOST = 2, WHY_VGPU_MAX = 4 };
enum { REJX_BARE_MIG, REJX_VGPU_HOST, REJX_VGPU_MAX, REJX_N };

/* A MIG slice (t NULL) or a MIG-backed vGPU of type t: the placement on a MIG-mode GPU
 * with the same geometry ranking for both. *why collects WHY_* bits. */
static int host_mig(const gpf_sched_host *h, const gpf_catalog *cat, const gpf_sched_request *req,
                    const gpf_vgpu_type *t, mig_cache *mc, sched_cand *best, int *why)
{
    sched_gate gt = {0, 0};
    int empty = sched_host_empty_gpus(h);
    memset(best, 0, sizeof *best);
    for (int g = 0; g < h->ngpus; g++) {
        const gpf_sched_gpu *gp = &h->gpus[g];
        const gpf_mig_profile *p = NULL;
        if (sched_model_allowed(req, gp->model))
            p = t ? sched_vgpu_profile(cat, gp->model, t)
                  : gpf_catalog_mig_by_name(cat, gp->model->mig_key, req->slice.mig_profile);
        if (!sched_gate_pass(&gt, p != NULL, gp, 1))
            continue;
        /* a GPU serves bare MIG slices or MIG-backed vGPUs (vGPU host driver), never both */
        if (!t && gp->mig_vgpus > 0) {
            *why |= WHY_VGPU_HOST;
            continue;
        }
        if (t && gp->mig_instances > gp->mig_vgpus) {
            *why |= WHY_BARE_MIG;
            continue;
        }
        if (t && sched_mig_vgpus_of(gp, t) >= t->max_per_gpu) {
            *why |= WHY_VGPU_MAX;
            continue;
        }
        if (same_as_earlier(h, g))
            continue; /* its candidates equal the earlier twin's, which wins ties */
        int grid = gp->model->mig_grid_units > 0 ? gp->model->mig_grid_units : p->grid_units;
        for (int j = 0; j < p->nplacements; j++) {
            int start = p->placements[j].start, size = p->placements[j].size;
            const char *no = t ? sched_mig_vgpu_conflict(gp, t, p, start, size) : sched_mig_conflict(gp, p, start, size);
            if (no)
                continue;
            gpf_sched_gpu after = *gp;
            if (t)
                sched_mig_vgpu_book(&after, t, p, start);
            else
                sched_mig_book(&after, p, start);
            sched_cand c = one_gpu_cand(g, empty - sched_gpu_empty(gp));
            c.prof = p;
            c.vgpu = t;
            c.mig_start = start;
            c.mig_size = size;
            c.gpu_free_after = (grid - __builtin_popcount(after.mig_slots_used)) * 1000 / grid;
            c.options_after = sched_mig_options(mig_set(mc, cat, gp->model), &after);
            if (sched_policy_better(&c, best))
                *best = c;
        }
    }
    if (sched_gate_why(&gt) != REJ_NONE)
        return sched_gate_why(&gt);
    return best->valid ? REJ_NONE : REJ_GPU;
}

static int host_share(const gpf_sched_host *h, const gpf_sched_request *req, sched_cand *best)
{
    const gpf_slice_spec *s = &req->slice;
    sched_gate gt = {0, 0};
    int empty = sched_host_empty_gpus(h);
    memset(best, 0, sizeof *best);
    for (int g = 0; g < h->ngpus; g++) {
        const gpf_sched_gpu *gp = &h->gpus[g];
        if (!sched_gate_pass(&gt, sched_model_allowed(req, gp->model), gp, 0))
            continue;
        int64_t cap = s->share_memory_mib > 0 ? s->share_memory_mib : sched_gpu_memory_mib(gp) * s->share_milli / 1000;
        if (sched_share_conflict(gp, s->share_milli, cap))
            continue;
        sched_cand c = one_gpu_cand(g, empty - sched_gpu_empty(gp));
        c.share_memory_mib = cap;
        c.gpu_free_after = 1000 - gp->share_milli_used - s->share_milli;
        if (sched_policy_better(&c, best))
            *best = c;
    }
    if (sched_gate_why(&gt) != REJ_NONE)
        return sched_gate_why(&gt);
    return best->valid ? REJ_NONE : REJ_GPU;
}

/* Time-sliced vGPU: the GPU left with the fewest free instances after booking (fill GPUs
 * that already run the type before starting another), as shares do. (MIG-backed types go
 * to host_mig.) */
static int host_vgpu(const gpf_sched_host *h, const gpf_vgpu_type *t, const gpf_sched_request *req, sched_cand *best)
{
    sched_gate gt = {0, 0};
    int empty = sched_host_empty_gpus(h);
    memset(best, 0, sizeof *best);
    for (int g = 0; t && g < h->ngpus; g++) {
        const gpf_sched_gpu *gp = &h->gpus[g];
        int model_ok = sched_model_allowed(req, gp->model) && gpf_catalog_model_matches(gp->model, t->gpu_model);
        if (!sched_gate_pass(&gt, model_ok, gp, 0))
            continue;
        if (sched_vgpu_conflict(gp, t))
            continue;
        gpf_sched_gpu after = *gp;
        sched_vgpu_book(&after, t);
        sched_cand c = one_gpu_cand(g, empty - sched_gpu_empty(gp));
        c.vgpu = t;
        c.gpu_free_after = sched_gpu_left_milli(&after);
        if (sched_policy_better(&c, best))
            *best = c;
    }
    if (sched_gate_why(&gt) != REJ_NONE)
        return sched_gate_why(&gt);
    return best->valid ? REJ_NONE : REJ_GPU;
}

/* ---- explaining a refusal ---------------------------------------------- */

static void part(gpf_buf *b, int *nparts, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void part(gpf_buf *b, int *nparts, const char *fmt, ...)
{
    va_list ap;
    gpf_buf_puts(b, (*nparts)++ ? "; " : ", ");
    va_start(ap, fmt);
    gpf_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

/* "N whose runtime isolation is too weak (host a: runtime gives soft isolation, SKU needs
 * device; ...)", naming at most three of them. */
static void isolation_part(const gpf_sched_fleet *f, const gpf_sched_request *req, int count, gpf_buf *b, int *nparts)
{
    int named = 0;
    part(b, nparts, "%d with too weak an isolation (", count);
    for (int i = 0; i < f->nhosts && named < 3; i++) {
        const gpf_sched_host *h = &f->hosts[i];
        if (!h->schedulable || !sched_isolation_short(h, req))
            continue;
        gpf_isolation got = gpf_isolation_expected(h->isolation_max, req->slice.kind);
        gpf_buf_printf(b, "%shost %s: %s gives %s isolation, SKU needs %s", named++ ? "; " : "", h->id,
                       got == h->isolation_max ? "runtime" : "a share slice", gpf_isolation_name(got),
                       gpf_isolation_name(req->min_isolation));
    }
    if (count > named)
        gpf_buf_printf(b, "; %d more", count - named);
    gpf_buf_putc(b, ')');
}

/* "N at their agent's pod limit (host a: 3 pods; …)": the first three such hosts named. */
static void pods_part(const gpf_sched_fleet *f, const gpf_sched_request *req, int count, gpf_buf *b, int *nparts)
{
    int named = 0;
    part(b, nparts, "%d at their agent's pod limit (", count);
    for (int i = 0; i < f->nhosts && named < 3; i++) {
        const gpf_sched_host *h = &f->hosts[i];
        if (!h->schedulable || sched_isolation_short(h, req) || !sched_pods_full(h))
            continue;
        gpf_buf_printf(b, "%shost %s runs at most %d pods", named++ ? "; " : "", h->id, h->pods_max);
    }
    if (count > named)
        gpf_buf_printf(b, "; %d more", count - named);
    gpf_buf_putc(b, ')');
}

/* The refusal; t is the request's vGPU type (NULL otherwise), rejx[REJX_N] counts the
 * hosts refused for REJ_GPU with each WHY_* detail (NULL: none kept). */
static void refusal(const gpf_sched_fleet *f, const gpf_sched_request *req, const gpf_vgpu_type *t,
                    const int *rej, const int *rejx, gpf_error *err)
{
    const gpf_slice_spec *s = &req->slice;
    int n = 0, mig_backed = s->kind == GPF_SLICE_VGPU && t && t->mig_backed;
    int in_mig = s->kind == GPF_SLICE_MIG || mig_backed;
    gpf_buf b;
    gpf_buf_init(&b);
    gpf_buf_puts(&b, "no capacity for ");
    if (s->kind == GPF_SLICE_WHOLE && s->gpu_count == 0)
        gpf_buf_puts(&b, "a CPU-only request");
    else if (s->kind == GPF_SLICE_WHOLE)
        gpf_buf_printf(&b, "%d whole GPU%s", s->gpu_count, s->gpu_count == 1 ? "" : "s");
    else if (s->kind == GPF_SLICE_MIG)
        gpf_buf_printf(&b, "MIG %s", s->mig_profile);
    else if (mig_backed)
        gpf_buf_printf(&b, "vGPU %s (MIG-backed, %s)", s->vgpu_type, t->mig_profile);
    else if (s->kind == GPF_SLICE_VGPU)
        gpf_buf_printf(&b, "vGPU %s", s->vgpu_type);
    else
        gpf_buf_printf(&b, "a %d/1000 GPU share", s->share_milli);
    if (req->nmodels) {
        gpf_buf_puts(&b, " of ");
        models_text(req, &b);
    }
    if (f->nhosts == 0) {
        gpf_buf_puts(&b, ": no hosts are registered");
        goto out;
    }
    gpf_buf_printf(&b, ": of %d host%s", f->nhosts, f->nhosts == 1 ? "" : "s");
    if (rej[REJ_NOT_READY])
        part(&b, &n, "%d not ready", rej[REJ_NOT_READY]);
    if (rej[REJ_ISOLATION])
        isolation_part(f, req, rej[REJ_ISOLATION], &b, &n);
    if (rej[REJ_PODS])
        pods_part(f, req, rej[REJ_PODS], &b, &n);
    if (rej[REJ_MODEL])
        part(&b, &n, "%d without a matching GPU model", rej[REJ_MODEL]);
    if (rej[REJ_MODE])
        part(&b, &n, "%d without a matching GPU %s MIG mode", rej[REJ_MODE], in_mig ? "in" : "outside");
    if (rej[REJ_GPU] && s->kind == GPF_SLICE_WHOLE)
        part(&b, &n, "%d without %d free matching GPU%s", rej[REJ_GPU], s->gpu_count, s->gpu_count == 1 ? "" : "s");
    else if (rej[REJ_GPU] && s->kind == GPF_SLICE_MIG)
        part(&b, &n, "%d without a free MIG placement for %s", rej[REJ_GPU], s->mig_profile);
    else if (rej[REJ_GPU] && mig_backed)
        part(&b, &n, "%d without a free %s placement for another %s", rej[REJ_GPU], t->mig_profile, s->vgpu_type);
    else if (rej[REJ_GPU] && s->kind == GPF_SLICE_VGPU)
        part(&b, &n, "%d without room for another %s", rej[REJ_GPU], s->vgpu_type);
    else if (rej[REJ_GPU])
        part(&b, &n, "%d without a GPU with %d/1000 and its memory free", rej[REJ_GPU], s->share_milli);
    /* what else stood in the way on those hosts: the MIG GPUs' other use, the type's limit */
    if (rejx && rej[REJ_GPU]) {
        int k = 0;
        if (rejx[REJX_BARE_MIG])
            gpf_buf_printf(&b, "%s%d with MIG GPUs holding bare MIG slices, which take no MIG-backed vGPU beside them",
                           k++ ? "; " : " (", rejx[REJX_BARE_MIG]);
        if (rejx[REJX_VGPU_HOST])
            gpf_buf_printf(&b, "%s%d with MIG GPUs serving MIG-backed vGPUs, which take no bare MIG slice beside them",
                           k++ ? "; " : " (", rejx[REJX_VGPU_HOST]);
        if (rejx[REJX_VGPU_MAX] && mig_backed)
            gpf_buf_printf(&b, "%s%d with GPUs already at %d %s (its max_per_gpu)", k++ ? "; " : " (",
                           rejx[REJX_VGPU_MAX], t->max_per_gpu, s->vgpu_type);
        if (k)
            gpf_buf_puts(&b, ")");
    }
    if (rej[REJ_CPU])
        part(&b, &n, "%d short of CPUs (need %d)", rej[REJ_CPU], req->cpus);
    if (rej[REJ_MEMORY])
        part(&b, &n, "%d short of memory (need %lld MiB)", rej[REJ_MEMORY], (long long)req->memory_mib);
out:
    gpf_error_set(err, GPF_ENOCAPACITY, "%s", gpf_buf_cstr(&b));
    gpf_buf_clear(&b);
}

void sched_refusal(const gpf_sched_fleet *f, const gpf_sched_request *req, const int *rej, gpf_error *err)
{
    refusal(f, req, NULL, rej, NULL, err);
}

/* ---- the entry point ---------------------------------------------------- */

void sched_fill(const gpf_sched_fleet *f, const gpf_catalog *cat, const gpf_sched_request *req,
                 const sched_cand *c, gpf_placement *out)
{
    const gpf_sched_host *h = &f->hosts[c->host];
    const gpf_slice_spec *s = &req->slice;
    memset(out, 0, sizeof *out);
    gpf_strlcpy(out->host_id, h->id, sizeof out->host_id);
    out->ngpus = c->ngpus;
    for (int i = 0; i < c->ngpus; i++) {
        gpf_strlcpy(out->gpu_uuids[i], h->gpus[c->gpus[i]].uuid, sizeof out->gpu_uuids[i]);
        out->gpu_index[i] = h->gpus[c->gpus[i]].index;
    }
    out->mig_profile_id = -1;
    out->cpus = req->cpus;
    out->memory_mib = req->memory_mib;
    if (s->kind == GPF_SLICE_MIG) {
        out->mig_profile_id = c->prof->gi_profile_id;
        out->mig_start = c->mig_start;
        out->mig_size = c->mig_size;
    } else if (s->kind == GPF_SLICE_SHARE) {
        out->share_milli = s->share_milli;
        out->share_memory_mib = c->share_memory_mib;
    } else if (s->kind == GPF_SLICE_VGPU) {
        gpf_strlcpy(out->vgpu_type, s->vgpu_type, sizeof out->vgpu_type);
        if (c->prof) { /* MIG-backed: its MIG instance, recorded as a MIG slice's */
            out->mig_profile_id = c->prof->gi_profile_id;
            out->mig_start = c->mig_start;
            out->mig_size = c->mig_size;
        }
    }
    out->gpu_milli = c->ngpus ? gpf_sched_gpu_milli(cat, h->gpus[c->gpus[0]].model, s) : 0;
    /* CPUs from the NUMA node of the pod's GPUs when that node has room; else not tied to
     * a node, and the placement says why. */
    out->numa_node = -1;
    if (h->numa_nodes > 0 && c->ngpus > 0) {
        int node = h->gpus[c->gpus[0]].numa_node, same = node >= 0 && node < h->numa_nodes;
        for (int i = 1; i < c->ngpus && same; i++)
            same = h->gpus[c->gpus[i]].numa_node == node;
        if (!same)
            snprintf(out->note, sizeof out->note, "its GPUs span NUMA nodes: CPUs are not tied to one");
        else if (h->numa_used[node] + req->cpus <= h->numa_cpus[node])
            out->numa_node = node;
        else
            snprintf(out->note, sizeof out->note, "CPUs not on the GPU's NUMA node %d: %d of its %d CPUs are free", node,
                     h->numa_cpus[node] - h->numa_used[node], h->numa_cpus[node]);
    }
}

int gpf_sched_place(const gpf_sched_fleet *f, const gpf_catalog *cat, const gpf_sched_request *req,
                    gpf_placement *out, gpf_error *err)
{
    return gpf_sched_place_with(f, cat, NULL, req, out, err);
}

int sched_place_default(const gpf_sched_fleet *f, const gpf_catalog *cat, const gpf_sched_request *req,
                        gpf_placement *out, gpf_error *err)
{
    int rc = 0;
    int rej[REJ_N] = {0}, rejx[REJX_N] = {0};
    mig_cache *mc = NULL;
    const gpf_vgpu_type *vt = NULL;
    sched_cand best;
    memset(&best, 0, sizeof best);
    if (!req || !out) {
        rc = gpf_error_set(err, GPF_EINVAL, "no request or output");
        goto out;
    }
    if ((rc = sched_validate(f, cat, req, err)) != 0)
        goto out;
    if (req->slice.kind == GPF_SLICE_VGPU)
        vt = gpf_catalog_vgpu(cat, req->slice.vgpu_type); /* validated: known */
    if (req->slice.kind == GPF_SLICE_MIG || (vt && vt->mig_backed))
        mc = GPF_NEW(mig_cache);
    for (int i = 0; i < f->nhosts; i++) {
        const gpf_sched_host *h = &f->hosts[i];
        sched_cand c;
        int why = REJ_NONE, detail = 0;
        memset(&c, 0, sizeof c);
        if (!h->schedulable)
            why = REJ_NOT_READY;
        else if (sched_isolation_short(h, req))
            why = REJ_ISOLATION;
        else if (sched_pods_full(h))
            why = REJ_PODS;
        else if (req->slice.kind == GPF_SLICE_WHOLE)
            why = host_whole(h, req, &c);
        else if (req->slice.kind == GPF_SLICE_MIG)
            why = host_mig(h, cat, req, NULL, mc, &c, &detail);
        else if (req->slice.kind == GPF_SLICE_VGPU && vt->mig_backed)
            why = host_mig(h, cat, req, vt, mc, &c, &detail);
        else if (req->slice.kind == GPF_SLICE_VGPU)
            why = host_vgpu(h, vt, req, &c);
        else
            why = host_share(h, req, &c);
        if (why == REJ_NONE && h->cpus_used + (int64_t)req->cpus > h->cpus)
            why = REJ_CPU;
        if (why == REJ_NONE && h->memory_used_mib + req->memory_mib > h->memory_mib)
            why = REJ_MEMORY;
        if (why != REJ_NONE) {
            rej[why]++;
            if (why == REJ_GPU) {
                rejx[REJX_BARE_MIG] += !!(detail & WHY_BARE_MIG);
                rejx[REJX_VGPU_HOST] += !!(detail & WHY_VGPU_HOST);
                rejx[REJX_VGPU_MAX] += !!(detail & WHY_VGPU_MAX);
            }
            continue;
        }
        c.host = i;
        if (sched_policy_better(&c, &best))
            best = c;
    }
    if (!best.valid) {
        refusal(f, req, vt, rej, rejx, err);
        rc = GPF_ENOCAPACITY;
        goto out;
    }
    sched_fill(f, cat, req, &best, out);
out:
    gpf_free(mc);
    return rc;
}
