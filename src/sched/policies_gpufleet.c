/* The gpufleet policy's additions to FGD's F (docs/placement.md, "gpufleet"): the CPU
 * shortfall term, the per-model pressures the policy caches per fleet and the cost a
 * placement pays on a pressed model; and sched_score_frag, the fragmentation score that the
 * fgd policy uses plain and gpufleet with these terms and its near-exact fill for shares. */
#include <string.h>

#include "sched/policies_int.h"

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
int sched_press_compute(const gpf_sched_policy *pol, const gpf_sched_fleet *f, const gpf_gpu_model **model,
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
            if (sched_task_model_ok(tk, model[k]))
                reach += cap[k];
        for (int k = 0; k < n && reach > 0; k++)
            if (sched_task_model_ok(tk, model[k]))
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
void sched_press_update(gpf_sched_policy *pol, const gpf_sched_fleet *f)
{
    if (pol->press_fleet == f && pol->press_nhosts == f->nhosts)
        return;
    const gpf_gpu_model *model[16];
    double press[16];
    int n = sched_press_compute(pol, f, model, press);
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
double sched_press_floor(const gpf_sched_policy *pol, const gpf_sched_request *req)
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
double sched_score_frag(const gpf_sched_fleet *f, gpf_sched_policy *pol, const gpf_sched_host *h, host_rec *r,
                        const gpf_sched_request *req, sched_cand *c, int gpufleet)
{
    int64_t unit = unit_milli(f), cpu_left = r->cpu_left * unit, cpu_after = cpu_left - (int64_t)req->cpus * unit;
    const gpf_gpu_model *m0 = sched_rec_model0(r);
    if (!r->has_before) {
        r->before = sched_frag(pol, m0, r->n, r->left, cpu_left, unit);
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
        double fa = sched_frag(pol, m0, r->n, after, cpu_after, unit);
        if (gpufleet)
            fa += cpu_short(pol, free_milli, r->cpu_left - req->cpus) + taken;
        return sched_fgd_score(before, fa);
    }
    double best = -1e300;
    int tried[GPF_MAX_HOST_GPUS], ntried = 0;
    for (int g = 0; g < r->n; g++) {
        if (!sched_share_fits(pol, req, h, r, g))
            continue;
        /* GPUs with the same room give the same score; the first of them wins ties */
        int seen = 0;
        for (int j = 0; j < ntried && !seen; j++)
            seen = tried[j] == r->left[g];
        if (seen)
            continue;
        tried[ntried++] = r->left[g];
        after[g] = (int16_t)(r->left[g] - req->slice.share_milli);
        double fa = sched_frag(pol, m0, r->n, after, cpu_after, unit);
        if (gpufleet) /* the share fits, so the GPU had room: gL > 0 */
            fa += cpu_short(pol, free_milli - req->slice.share_milli, r->cpu_left - req->cpus) + taken;
        double sc = sched_fgd_score(before, fa);
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

/* ---- gpufleet: gap balance ---------------------------------------------------- */

/* How much the balance of rooms weighs against FGD's score (0..100 per placement) when a
 * share picks its GPU, and the most it may add or take, so that a near-exact fill (worth
 * 1000) still beats every other placement. Tuned on the benchmark's 17 workloads
 * (docs/placement.md, "gpufleet"). */
#define GAP_WEIGHT 3000.0
#define GAP_CAP 400.0

/* The level a GPU's room counts at: 0 (not counted) for GPUs that cannot take a share,
 * empty ones and ones with less than a step left. */
static int gap_level(const host_rec *r, int g)
{
    int left = r->left[g];
    return r->share_max[g] > 0 && left >= GAP_STEP && left < 1000 ? left / GAP_STEP : 0;
}

static void gap_add(gpf_sched_policy *pol, int lv, int d)
{
    if (lv > 0) {
        pol->gap_n[lv] += d;
        pol->gap_total += d;
    }
}

/* Counts host i's GPUs as r describes them (r NULL: the host takes no share, so none of
 * them), in place of what was counted for it before; nothing to do when r is the version
 * already counted. */
void sched_gap_count(gpf_sched_policy *pol, int i, const host_rec *r)
{
    if (r && r->ver != 0 && pol->gap_ver[i] == r->ver)
        return;
    uint8_t *lv = pol->gap_lv[i];
    for (int g = 0; g < GPF_MAX_HOST_GPUS; g++) {
        int now = r && g < r->n ? gap_level(r, g) : 0;
        if (now != lv[g]) {
            gap_add(pol, lv[g], -1);
            gap_add(pol, now, 1);
            lv[g] = (uint8_t)now;
        }
    }
    pol->gap_ver[i] = r ? r->ver : 0;
    if (i >= pol->gap_hosts)
        pol->gap_hosts = i + 1;
}

/* Forgets the hosts from nhosts on (the fleet has fewer hosts than were counted). */
void sched_gap_trim(gpf_sched_policy *pol, int nhosts)
{
    for (int i = nhosts; i < pol->gap_hosts; i++)
        sched_gap_count(pol, i, NULL);
    if (pol->gap_hosts > nhosts)
        pol->gap_hosts = nhosts;
}

/* The Sum-of-Squares rule for online bin packing (Csirik et al., 2006) over the counted
 * rooms: a share that takes a GPU from room a to room b changes Σ N(level)² by
 * 2·(N(b) − N(a)) + 2 (one term each when only one of them counts). Rooms that many GPUs
 * share are consumed and rare ones made, so the rooms on offer stay varied enough for the
 * shares to come to fill them. Scaled by the counted GPUs so that the weight does not grow
 * with the fleet, and capped. Higher costs worse. */
double sched_gap_cost(const gpf_sched_policy *pol, int room, int share)
{
    if (pol->gap_total <= 0 || room < 0 || room > 1000)
        return 0;
    int a = room >= GAP_STEP && room < 1000 ? room / GAP_STEP : 0, after = room - share;
    int b = after >= GAP_STEP && after < 1000 ? after / GAP_STEP : 0;
    if (a == b)
        return 0;
    double d = 0;
    if (a > 0)
        d += 1 - 2.0 * pol->gap_n[a];
    if (b > 0)
        d += 1 + 2.0 * pol->gap_n[b];
    d = GAP_WEIGHT * d / pol->gap_total;
    return d > GAP_CAP ? GAP_CAP : d < -GAP_CAP ? -GAP_CAP : d;
}

/* The test hook's part: every host counted at its current version counted as a fresh
 * record says, and the totals the sum of what is counted. Returns how many are wrong. */
int sched_gap_check(const gpf_sched_policy *pol, const gpf_sched_fleet *f, int *checked)
{
    int bad = 0, n[GAP_LEVELS] = {0}, total = 0;
    host_rec fresh;
    if (!pol->gap_ver)
        return 0;
    for (int i = 0; i < pol->gap_hosts; i++) {
        for (int g = 0; g < GPF_MAX_HOST_GPUS; g++)
            if (pol->gap_lv[i][g]) {
                n[pol->gap_lv[i][g]]++;
                total++;
            }
        if (i >= f->nhosts || pol->gap_ver[i] == 0 || pol->gap_ver[i] != f->hosts[i].version)
            continue;
        sched_rec_build(&f->hosts[i], &fresh);
        (*checked)++;
        for (int g = 0; g < GPF_MAX_HOST_GPUS; g++)
            bad += pol->gap_lv[i][g] != (g < fresh.n ? gap_level(&fresh, g) : 0);
    }
    (*checked)++;
    bad += total != pol->gap_total || memcmp(n, pol->gap_n, sizeof n) != 0;
    return bad;
}
