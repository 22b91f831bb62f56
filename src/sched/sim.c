/* Trace replay (see sim.h and docs/placement.md for the method). */
#include "sched/sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/csv.h"
#include "sched/sched_int.h"
#include "util/alloc.h"

/* ---- parsing ---------------------------------------------------------------- */

int gpf_sim_parse_nodes(gpf_sim_trace *t, const char *file, const char *text, gpf_error *err)
{
    static const char *const req[] = {"sn", "cpu_milli", "memory_mib", "gpu", "model", NULL};
    gpf_csv r;
    int rc = gpf_csv_open(&r, file, text, req, err), cap = 0;
    while (rc == 0 && (rc = gpf_csv_next(&r, err)) == 1) {
        gpf_sim_node n;
        int64_t gpus = 0;
        memset(&n, 0, sizeof n);
        rc = gpf_csv_get_str(&r, "sn", GPF_CSV_REQUIRED, n.name, sizeof n.name, err);
        if (rc == 0)
            rc = gpf_csv_get_int(&r, "cpu_milli", 1, 0, INT32_MAX, &n.cpu_milli, err);
        if (rc == 0)
            rc = gpf_csv_get_int(&r, "memory_mib", 1, 0, INT64_MAX / 4, &n.memory_mib, err);
        if (rc == 0)
            rc = gpf_csv_get_int(&r, "gpu", 1, 0, GPF_MAX_HOST_GPUS, &gpus, err);
        if (rc == 0)
            rc = gpf_csv_get_str(&r, "model", GPF_CSV_OPTIONAL, n.model, sizeof n.model, err);
        if (rc == 0 && gpus > 0 && !n.model[0])
            rc = gpf_csv_error(&r, err, "node %s has GPUs but no model", n.name);
        if (rc != 0)
            break;
        n.gpus = (int)gpus;
        if (t->nnodes == cap) {
            cap = cap ? 2 * cap : 256;
            t->nodes = gpf_reallocarray(t->nodes, (size_t)cap, sizeof *t->nodes);
        }
        t->nodes[t->nnodes++] = n;
        t->total_gpus += n.gpus;
    }
    gpf_csv_close(&r);
    return rc < 0 || rc > 1 ? rc : 0;
}

int gpf_sim_parse_pods(gpf_sim_trace *t, const char *file, const char *text, gpf_error *err)
{
    static const char *const req[] = {"name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli", NULL};
    gpf_csv r;
    int rc = gpf_csv_open(&r, file, text, req, err), cap = 0;
    while (rc == 0 && (rc = gpf_csv_next(&r, err)) == 1) {
        gpf_sim_pod p;
        int64_t num = 0, milli = 0;
        memset(&p, 0, sizeof p);
        rc = gpf_csv_get_str(&r, "name", GPF_CSV_REQUIRED, p.name, sizeof p.name, err);
        if (rc == 0)
            rc = gpf_csv_get_int(&r, "cpu_milli", 1, 0, INT32_MAX, &p.cpu_milli, err);
        if (rc == 0)
            rc = gpf_csv_get_int(&r, "memory_mib", 0, 0, INT64_MAX / 4, &p.memory_mib, err);
        if (rc == 0)
            rc = gpf_csv_get_int(&r, "num_gpu", 1, 0, GPF_MAX_POD_GPUS, &num, err);
        if (rc == 0)
            rc = gpf_csv_get_int(&r, "gpu_milli", 0, 0, INT32_MAX, &milli, err);
        if (rc == 0)
            rc = gpf_csv_get_str(&r, "gpu_spec", GPF_CSV_OPTIONAL, p.spec, sizeof p.spec, err);
        if (rc == 0 && num > 0 && milli <= 0)
            rc = gpf_csv_error(&r, err, "pod %s asks for %lld GPUs with gpu_milli 0", p.name, (long long)num);
        if (rc != 0)
            break;
        p.num_gpu = (int)num;
        p.gpu_milli = num == 0 ? 0 : milli > 1000 ? 1000 : (int)milli;
        if (t->npods == cap) {
            cap = cap ? 2 * cap : 1024;
            t->pods = gpf_reallocarray(t->pods, (size_t)cap, sizeof *t->pods);
        }
        t->pods[t->npods++] = p;
    }
    gpf_csv_close(&r);
    return rc < 0 || rc > 1 ? rc : 0;
}

void gpf_sim_trace_free(gpf_sim_trace *t)
{
    if (!t)
        return;
    gpf_free(t->nodes);
    gpf_free(t->pods);
    memset(t, 0, sizeof *t);
}

/* ---- typical tasks (FGD's workload distribution) ----------------------------- */

typedef struct task_count {
    const gpf_sim_pod *pod; /* a representative */
    int count;
} task_count;

static int same_task(const gpf_sim_pod *a, const gpf_sim_pod *b)
{
    return a->cpu_milli == b->cpu_milli && a->gpu_milli == b->gpu_milli && a->num_gpu == b->num_gpu &&
           strcmp(a->spec, b->spec) == 0;
}

/* Count descending; on equal counts the key descending (cpu, milli, num, spec). */
static int cmp_task(const void *x, const void *y)
{
    const task_count *a = x, *b = y;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    if (a->pod->cpu_milli != b->pod->cpu_milli)
        return a->pod->cpu_milli > b->pod->cpu_milli ? -1 : 1;
    if (a->pod->gpu_milli != b->pod->gpu_milli)
        return a->pod->gpu_milli > b->pod->gpu_milli ? -1 : 1;
    if (a->pod->num_gpu != b->pod->num_gpu)
        return a->pod->num_gpu > b->pod->num_gpu ? -1 : 1;
    return -strcmp(a->pod->spec, b->pod->spec);
}

static void split_spec(const char *spec, char models[][64], int *n)
{
    *n = 0;
    const char *p = spec;
    while (*p && *n < GPF_MAX_SKU_MODELS) {
        size_t len = strcspn(p, "|");
        if (len > 0 && len < 64) {
            memcpy(models[*n], p, len);
            models[*n][len] = '\0';
            (*n)++;
        }
        p += len;
        if (*p == '|')
            p++;
    }
}

/* The most common task types covering >= 95 % of the pods, weights renormalised. */
static gpf_sched_task_type *typical_tasks(const gpf_sim_trace *t, int *nout)
{
    task_count *tc = gpf_calloc((size_t)t->npods + 1, sizeof *tc);
    int n = 0;
    for (int i = 0; i < t->npods; i++) {
        int k = 0;
        while (k < n && !same_task(tc[k].pod, &t->pods[i]))
            k++;
        if (k == n)
            tc[n++].pod = &t->pods[i];
        tc[k].count++;
    }
    qsort(tc, (size_t)n, sizeof *tc, cmp_task);
    int take = 0;
    long covered = 0;
    while (take < n && covered * 100 < (long)t->npods * 95)
        covered += tc[take++].count;
    gpf_sched_task_type *out = gpf_calloc((size_t)(take ? take : 1), sizeof *out);
    for (int k = 0; k < take; k++) {
        const gpf_sim_pod *p = tc[k].pod;
        out[k].cpus = p->cpu_milli;
        out[k].gpu_milli = p->gpu_milli;
        out[k].num_gpu = p->num_gpu;
        split_spec(p->spec, out[k].models, &out[k].nmodels);
        out[k].weight = (double)tc[k].count / (double)covered;
    }
    gpf_free(tc);
    *nout = take;
    return out;
}

/* ---- one replay -------------------------------------------------------------- */

typedef struct ev {
    int64_t arrived, used;
} ev;

struct gpf_sim {
    const gpf_sim_trace *t;
    gpf_sched_fleet fleet;
    gpf_sched_policy *pol;
    int nmodels;
    gpf_gpu_model *models;        /* one per distinct model name of the node list */
    int npods, next;
    const gpf_sim_pod **order;
    ev *events;
    int placed, dropped;
    int64_t arrived, used;
    int64_t dropped100[GPF_SIM_MAX_GPUS + 1];
    int by_left100[11];
};

static int cmp_pod_name(const void *x, const void *y)
{
    return strcmp((*(const gpf_sim_pod *const *)x)->name, (*(const gpf_sim_pod *const *)y)->name);
}

static int cmp_node_name(const void *x, const void *y)
{
    return strcmp((*(const gpf_sim_node *const *)x)->name, (*(const gpf_sim_node *const *)y)->name);
}

static void shuffle(void **v, int n, uint64_t *rng)
{
    for (int i = n - 1; i > 0; i--) {
        int j = sched_rng_below(rng, i + 1);
        void *tmp = v[i];
        v[i] = v[j];
        v[j] = tmp;
    }
}

static const gpf_gpu_model *model_for(gpf_sim *s, const char *name)
{
    for (int i = 0; i < s->nmodels; i++)
        if (strcmp(s->models[i].key, name) == 0)
            return &s->models[i];
    return NULL;
}

/* The arrival order: shuffled originals, then random copies up to tune × capacity (or
 * random removals down to it), exactly as the benchmark's workload tuning does. */
static void arrival_order(gpf_sim *s, uint64_t *rng, double tune)
{
    const gpf_sim_trace *t = s->t;
    const gpf_sim_pod **byname = gpf_calloc((size_t)t->npods, sizeof *byname);
    for (int i = 0; i < t->npods; i++)
        byname[i] = &t->pods[i];
    qsort(byname, (size_t)t->npods, sizeof *byname, cmp_pod_name);
    int cap = t->npods * 2 + 16, n = t->npods;
    const gpf_sim_pod **order = gpf_calloc((size_t)cap, sizeof *order);
    memcpy(order, byname, (size_t)n * sizeof *order);
    shuffle((void **)order, n, rng);
    int64_t total = 0, target = (int64_t)(tune * (double)t->total_gpus * 1000.0);
    for (int i = 0; i < n; i++)
        total += (int64_t)order[i]->num_gpu * order[i]->gpu_milli;
    if (total < target) {
        for (;;) {
            const gpf_sim_pod *p = byname[sched_rng_below(rng, t->npods)];
            if (total + p->gpu_milli > target) /* per-GPU check, as the benchmark does */
                break;
            if (n == cap) {
                cap *= 2;
                order = gpf_reallocarray(order, (size_t)cap, sizeof *order);
            }
            order[n++] = p;
            total += (int64_t)p->num_gpu * p->gpu_milli;
        }
    } else {
        while (total > target && n > 0) {
            int k = sched_rng_below(rng, n);
            total -= (int64_t)order[k]->num_gpu * order[k]->gpu_milli;
            memmove(&order[k], &order[k + 1], (size_t)(n - k - 1) * sizeof *order);
            n--;
        }
    }
    gpf_free(byname);
    s->order = order;
    s->npods = n;
}

int gpf_sim_new(const gpf_sim_trace *t, const char *policy, uint64_t seed, double tune, gpf_sim **out,
                gpf_error *err)
{
    *out = NULL;
    if (!t || t->nnodes == 0 || t->npods == 0 || t->total_gpus == 0)
        return gpf_error_set(err, GPF_EINVAL, "the trace needs nodes with GPUs and pods");
    /* the tuning adds copies until enough GPU request has arrived: none would never end */
    int asks = 0;
    for (int i = 0; i < t->npods && !asks; i++)
        asks = t->pods[i].num_gpu > 0 && t->pods[i].gpu_milli > 0;
    if (!asks)
        return gpf_error_set(err, GPF_EINVAL, "no pod of the trace asks for a GPU");
    gpf_sched_policy *pol = NULL;
    int rc = gpf_sched_policy_new(policy, seed, &pol, err);
    if (rc != 0)
        return rc;
    gpf_sim *s = GPF_NEW(gpf_sim);
    s->t = t;
    s->pol = pol;
    uint64_t rng = seed * 0x2545f4914f6cdd1dULL + 42;
    int ntasks = 0;
    gpf_sched_task_type *tasks = typical_tasks(t, &ntasks);
    gpf_sched_policy_set_tasks(pol, tasks, ntasks);
    gpf_free(tasks);

    /* Models and hosts; the host order is a random permutation of the nodes sorted by name,
     * so ties between hosts go to a fixed random order per seed. */
    s->models = gpf_calloc((size_t)t->nnodes, sizeof *s->models);
    const gpf_sim_node **nodes = gpf_calloc((size_t)t->nnodes, sizeof *nodes);
    for (int i = 0; i < t->nnodes; i++) {
        nodes[i] = &t->nodes[i];
        if (t->nodes[i].model[0] && !model_for(s, t->nodes[i].model))
            gpf_strlcpy(s->models[s->nmodels++].key, t->nodes[i].model, sizeof s->models[0].key);
    }
    qsort(nodes, (size_t)t->nnodes, sizeof *nodes, cmp_node_name);
    shuffle((void **)nodes, t->nnodes, &rng);
    gpf_sched_fleet_init(&s->fleet);
    s->fleet.cpu_unit_milli = 1;
    gpf_sched_host *h = GPF_NEW(gpf_sched_host);
    for (int i = 0; i < t->nnodes; i++) {
        memset(h, 0, sizeof *h);
        gpf_strlcpy(h->id, nodes[i]->name, sizeof h->id);
        h->schedulable = 1;
        h->cpus = (int)nodes[i]->cpu_milli;
        h->memory_mib = nodes[i]->memory_mib;
        h->ngpus = nodes[i]->gpus;
        for (int g = 0; g < h->ngpus; g++) {
            snprintf(h->gpus[g].uuid, sizeof h->gpus[g].uuid, "%d", g);
            h->gpus[g].index = g;
            h->gpus[g].model = model_for(s, nodes[i]->model);
            h->gpus[g].memory_mib = 1000; /* shares are capped by compute alone */
        }
        if (gpf_sched_fleet_add_host(&s->fleet, h) < 0) {
            rc = gpf_error_set(err, GPF_EINVAL, "node %s appears twice in the node list", nodes[i]->name);
            break;
        }
    }
    gpf_free(h);
    gpf_free(nodes);
    if (rc == 0) {
        arrival_order(s, &rng, tune > 0 ? tune : 1.3);
        s->events = gpf_calloc((size_t)s->npods + 1, sizeof *s->events);
        *out = s;
    } else {
        gpf_sim_free(s);
    }
    return rc;
}

int gpf_sim_pods(const gpf_sim *s)
{
    return s->npods;
}

int gpf_sim_step(gpf_sim *s)
{
    if (s->next >= s->npods)
        return -1;
    const gpf_sim_pod *p = s->order[s->next];
    gpf_sched_request req;
    gpf_placement pl;
    gpf_error err = {0};
    memset(&req, 0, sizeof req);
    if (p->num_gpu == 1 && p->gpu_milli < 1000) {
        req.slice.kind = GPF_SLICE_SHARE;
        req.slice.share_milli = p->gpu_milli;
    } else {
        req.slice.kind = GPF_SLICE_WHOLE;
        req.slice.gpu_count = p->num_gpu;
    }
    char models[GPF_MAX_SKU_MODELS][64];
    split_spec(p->spec, models, &req.nmodels);
    for (int i = 0; i < req.nmodels; i++)
        req.models[i] = models[i];
    req.cpus = (int)p->cpu_milli;
    req.memory_mib = p->memory_mib;
    int64_t milli = (int64_t)p->num_gpu * p->gpu_milli;
    s->arrived += milli;
    int ok = gpf_sched_place_with(&s->fleet, NULL, s->pol, &req, &pl, &err) == 0 &&
             gpf_sched_apply(&s->fleet, NULL, &pl, &err) == 0;
    if (ok) {
        s->placed++;
        s->used += milli;
    } else {
        s->dropped++;
        if (s->arrived * 100 <= s->t->total_gpus * 1000 * 100 && p->num_gpu <= GPF_SIM_MAX_GPUS)
            s->dropped100[p->gpu_milli < 1000 ? 0 : p->num_gpu] += milli;
    }
    if (s->arrived * 100 >= s->t->total_gpus * 1000 * 100 && (s->arrived - milli) * 100 < s->t->total_gpus * 1000 * 100) {
        for (int i = 0; i < s->fleet.nhosts; i++)
            for (int g = 0; g < s->fleet.hosts[i].ngpus; g++) {
                int left = sched_gpu_left_milli(&s->fleet.hosts[i].gpus[g]);
                if (left > 0)
                    s->by_left100[left >= 1000 ? 10 : left / 100]++;
            }
    }
    s->events[s->next].arrived = s->arrived;
    s->events[s->next].used = s->used;
    s->next++;
    return ok;
}

/* Adds pod p to what f says has arrived. */
static void fill_add(gpf_sim_fill *f, const gpf_sim_pod *p)
{
    if (p->num_gpu == 1 && p->gpu_milli < 1000)
        f->share[p->gpu_milli]++;
    else if (p->num_gpu > 0)
        f->whole[p->gpu_milli] += p->num_gpu;
}

/* See gpf_sim_result.floor_at_100. The pods of the x = 100 bin are found as
 * gpf_sim_result_get bins them (an empty bin takes its neighbours). The programme is solved
 * at the bin's first, middle and last pod; every pod of the bin gets the tightest of the
 * three bounds their duals give for what had arrived by then. */
static double floor_at_100(const gpf_sim *s)
{
    double cap = (double)s->t->total_gpus * 1000.0;
    int lo[2] = {-1, -1}, hi[2] = {-1, -1}; /* [0]: the bin, [1]: its neighbours */
    int64_t arrived = 0;
    for (int i = 0; i < s->npods; i++) {
        const gpf_sim_pod *p = s->order[i];
        arrived += (int64_t)p->num_gpu * p->gpu_milli;
        double x = nearbyint((double)arrived * 100.0 / cap);
        int b = x == 100 ? 0 : x == 99 || x == 101 ? 1 : -1;
        if (b >= 0) {
            if (lo[b] < 0)
                lo[b] = i;
            hi[b] = i;
        }
    }
    int b = lo[0] >= 0 ? 0 : 1;
    if (lo[b] < 0)
        return 0;
    gpf_sim_fill *f = GPF_NEW(gpf_sim_fill);
    gpf_sim_fill_duals *d = gpf_calloc(3, sizeof *d);
    int at[3] = {lo[b], lo[b] + (hi[b] - lo[b]) / 2, hi[b]}, nd = 0;
    f->gpus = s->t->total_gpus;
    for (int i = 0; i <= hi[b]; i++) {
        fill_add(f, s->order[i]);
        while (nd < 3 && i == at[nd]) /* the middle may be the first or the last */
            gpf_sim_fill_dual(f, &d[nd++]);
    }
    memset(f->share, 0, sizeof f->share);
    memset(f->whole, 0, sizeof f->whole);
    double sum = 0;
    int n = 0;
    for (int i = 0; i <= hi[b]; i++) {
        fill_add(f, s->order[i]);
        if (i < lo[b])
            continue;
        double best = cap;
        for (int k = 0; k < 3; k++) {
            double v = gpf_sim_fill_bound(f, &d[k]);
            if (v < best)
                best = v;
        }
        sum += (cap - best) * 100.0 / cap;
        n++;
    }
    gpf_free(f);
    gpf_free(d);
    return n ? sum / n : 0;
}

void gpf_sim_result_get(const gpf_sim *s, gpf_sim_result *out)
{
    memset(out, 0, sizeof *out);
    double cap = (double)s->t->total_gpus * 1000.0;
    double *sum = gpf_calloc(GPF_SIM_XMAX + 2, sizeof *sum);
    int *cnt = gpf_calloc(GPF_SIM_XMAX + 2, sizeof *cnt);
    for (int i = 0; i < s->next; i++) {
        /* integer %, rounded half to even as the benchmark's analysis (Python round) does */
        double x = nearbyint((double)s->events[i].arrived * 100.0 / cap);
        double y = nearbyint((double)s->events[i].used * 100.0 / cap * 100.0) / 100.0;
        if (x < 0 || x > GPF_SIM_XMAX)
            continue;
        sum[(int)x] += y;
        cnt[(int)x]++;
    }
    for (int x = 0; x <= GPF_SIM_XMAX; x++) {
        double a = sum[x];
        int c = cnt[x];
        if (c == 0) { /* an empty bin takes its neighbours */
            for (int d = -1; d <= 1; d += 2)
                if (x + d >= 0 && x + d <= GPF_SIM_XMAX) {
                    a += sum[x + d];
                    c += cnt[x + d];
                }
        }
        out->alloc_pct[x] = c ? a / c : (x > 0 ? out->alloc_pct[x - 1] : 0);
    }
    out->unalloc_at_100 = 100.0 - out->alloc_pct[100];
    out->pods = s->npods;
    out->placed = s->placed;
    out->dropped = s->dropped;
    out->arrived_milli = s->arrived;
    out->used_milli = s->used;
    memcpy(out->dropped_milli_at_100, s->dropped100, sizeof s->dropped100);
    out->floor_at_100 = floor_at_100(s);
    memcpy(out->gpus_by_left_at_100, s->by_left100, sizeof s->by_left100);
    gpf_free(sum);
    gpf_free(cnt);
}

void gpf_sim_free(gpf_sim *s)
{
    if (!s)
        return;
    gpf_sched_fleet_clear(&s->fleet);
    gpf_sched_policy_free(s->pol);
    gpf_free(s->models);
    gpf_free(s->order);
    gpf_free(s->events);
    gpf_free(s);
}

int gpf_sim_run(const gpf_sim_trace *t, const char *policy, uint64_t seed, double tune, gpf_sim_result *out,
                void (*progress)(void *arg, int done, int total), void *arg, gpf_error *err)
{
    gpf_sim *s = NULL;
    int rc = gpf_sim_new(t, policy, seed, tune, &s, err);
    if (rc != 0)
        return rc;
    int done = 0;
    while (gpf_sim_step(s) >= 0)
        if (++done % 1000 == 0 && progress)
            progress(arg, done, s->npods);
    gpf_sim_result_get(s, out);
    gpf_sim_free(s);
    return 0;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

void gpf_sim_stats(double *v, int n, double *median, double *mean, double *sd)
{
    *median = *mean = *sd = 0;
    if (n <= 0)
        return;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    *median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
    double s = 0, ss = 0;
    for (int i = 0; i < n; i++)
        s += v[i];
    *mean = s / n;
    for (int i = 0; i < n; i++)
        ss += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(ss / (n - 1)) : 0;
}
