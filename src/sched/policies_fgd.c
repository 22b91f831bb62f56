/* FGD's fragmentation measure (Weng et al., USENIX ATC'23; docs/placement.md): F(n), the
 * free GPU capacity of a host that the typical tasks cannot use, weighted by their
 * popularity; which tasks a GPU model can run; the memo of F(n) values by their inputs; and
 * FGD's quantised score of a change in F. Used by the fgd and gpufleet policies
 * (policies_gpufleet.c scores a placement with it). */
#include <math.h>
#include <string.h>

#include "sched/policies_int.h"

/* ---- FGD: fragmentation against the typical tasks ------------------------ */

int sched_task_model_ok(const gpf_sched_task_type *t, const gpf_gpu_model *m)
{
    if (t->nmodels == 0)
        return 1;
    for (int i = 0; i < t->nmodels; i++)
        if (gpf_catalog_model_matches(m, t->models[i]))
            return 1;
    return 0;
}

/* Per task group and CPU class: the weight of the group's tasks a model can run (ok) whose
 * CPU request is among the first cls distinct ones, summed in task order; NULL when the
 * table would pass 64 K entries. */
static double *group_weights(const gpf_sched_policy *pol, const unsigned char *ok)
{
    size_t ncls = (size_t)pol->ncpu_steps + 1, size = (size_t)pol->ngroups * ncls;
    if (size == 0 || size > 65536)
        return NULL;
    double *w = gpf_calloc(size, sizeof *w);
    for (int k = 0; k < pol->ntasks; k++) {
        const gpf_sched_task_type *t = &pol->tasks[k];
        int g = 0, rank = 0;
        if (t->num_gpu <= 0 || !ok[k])
            continue;
        while (g < pol->ngroups && (pol->group[g].num_gpu != t->num_gpu || pol->group[g].gpu_milli != t->gpu_milli))
            g++;
        while (pol->cpu_steps[rank] < t->cpus)
            rank++;
        w[(size_t)g * ncls + (size_t)rank + 1] += t->weight; /* counts from class rank + 1 on */
    }
    for (int g = 0; g < pol->ngroups; g++)
        for (size_t c = 1; c < ncls; c++)
            w[(size_t)g * ncls + c] += w[(size_t)g * ncls + c - 1];
    return w;
}

/* Which of the policy's tasks a GPU model can run (one flag per task), worked out once
 * per model, and its index among the policy's tables; NULL past the table's size (the
 * caller then asks sched_task_model_ok). */
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
        ok[k] = (unsigned char)sched_task_model_ok(&pol->tasks[k], m);
    pol->ok_model[pol->nok] = m;
    pol->ok[pol->nok] = ok;
    pol->ok_w[pol->nok] = group_weights(pol, ok);
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
 * capacity on GPUs big enough a prefix sum. Tasks asking the same (GPUs, thousandths) are
 * summed as one group, whose weight for the model and the free CPUs is a look-up
 * (group_weights); task by task where there is no such table. Either way the same inputs
 * give the same sums in the same order, so a value taken from the memo is the one
 * computing it again would give, to the bit. */
double sched_frag(gpf_sched_policy *pol, const gpf_gpu_model *m, int n, const int16_t *left, int64_t cpu_left,
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
    const double *w = ok ? pol->ok_w[okidx] : NULL;
    if (w) {
        /* F = Σ w·total - Σ over the tasks that fit of w·(the capacity on GPUs big enough):
         * per group, the GPUs with at least its thousandths (j, growing as they shrink), and
         * the weight of its tasks this model runs and these CPUs fit, looked up */
        size_t ncls = (size_t)pol->ncpu_steps + 1, cls = (size_t)cpu_class(pol, cpu_left, unit);
        double fit = 0;
        for (int gi = 0, j = 0; gi < pol->ngroups; gi++) {
            while (j < n && L[j] >= pol->group[gi].gpu_milli)
                j++;
            if (pol->group[gi].num_gpu <= j)
                fit += w[(size_t)gi * ncls + cls] * P[j];
        }
        F = pol->w_all * total - fit;
    }
    for (int k = 0; !w && k < pol->ntasks; k++) {
        const struct task_hot *t = &pol->hot[k];
        int f = total, need = t->num_gpu;
        if (need > 0 && need <= n && L[need - 1] >= t->gpu_milli && cpu_left >= t->cpus * unit &&
            (ok ? ok[k] : sched_task_model_ok(&pol->tasks[k], m))) {
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
const gpf_gpu_model *sched_rec_model0(const host_rec *r)
{
    return r->n > 0 && (r->flag[0] & GF_MODELED) ? r->umodel : NULL;
}

/* FGD's score: int(100 · sigmoid(ΔF / 1000)), coarse on purpose (ties fall to host order). */
double sched_fgd_score(double before, double after)
{
    double x = (before - after) / 1000.0;
    return (double)(int64_t)(100.0 / (1.0 + exp(-x)));
}
