/* The FGD paper's simpler baselines, scored as its simulator scores them (docs/placement.md):
 * best-fit, dot-product, packing and clustering, over a host_view of the host's record.
 * first-fit and random score nothing (policies.c's loop handles them). */
#include "sched/policies_int.h"

/* ---- the paper's other baselines ------------------------------------------ */

void sched_view(const gpf_sched_fleet *f, const host_rec *r, host_view *v)
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

int64_t sched_score_best_fit(const host_view *v, int64_t cpu, int64_t req)
{
    double raw = 100.0 * (1.0 - (0.5 * (double)(v->cpu_left - cpu) / 128000.0 + 0.5 * (double)(v->gpu_left - req) / 8000.0));
    return (int64_t)raw;
}

int64_t sched_score_dot(const host_view *v, int64_t cpu, int64_t req)
{
    double d = ((double)v->cpu_left / 128000.0) * ((double)cpu / 128000.0) +
               ((double)v->gpu_left / 8000.0) * ((double)req / 8000.0);
    return (int64_t)(100.0 * (1.0 - d / 2.0));
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

int64_t sched_score_packing(const host_view *v, const gpf_sched_request *req, const sched_cand *c)
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

int64_t sched_score_clustering(const gpf_sched_host *h, const host_view *v, const gpf_sched_request *req)
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
