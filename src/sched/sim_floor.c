/* The floor of a replay: an upper bound on the GPU thousandths any placement can hold at
 * once for a given set of arrived pods (sim.h, gpf_sim_fill), from the linear programme of
 * bin packing by patterns (Gilmore and Gomory's cutting-stock formulation):
 *
 *   maximise  Σ_p fill(p)·x_p + Σ_t v_t·w_t
 *   subject to  Σ_p a_cp·x_p <= n_c       (shares of class c arrived)
 *               Σ_p x_p + Σ_t w_t <= G    (GPUs)
 *               w_t <= W_t                (GPUs that whole-GPU pods holding v_t each could take)
 *
 * where a pattern p is any set of shares one GPU can hold (Σ a_cp·s_c <= 1000) and fill(p)
 * their sum. Every placement is a feasible point, so its optimum bounds every policy, online
 * or offline, placing or refusing pods; it leaves out CPUs, memory, models and which host a
 * multi-GPU pod's GPUs sit on, which only makes the bound weaker, never wrong.
 *
 * The programme is solved by column generation: a revised simplex over the columns found so
 * far (dense basis inverse, one row per share class plus one per GPU kind), a knapsack over
 * the share classes pricing the best new pattern. The bound itself comes from the dual
 * values, made feasible for the counts asked about (gpf_sim_fill_bound): any feasible dual
 * solution bounds the maximum (weak duality), so the figure is valid even where the simplex
 * stopped early or rounding crept in; the simplex only makes it tight. Pure: no I/O. */
#include <string.h>

#include "sched/sim.h"
#include "util/alloc.h"

#define MAX_ROWS 160     /* share classes + whole kinds + 1 */
#define MAX_CLASSES 128  /* more distinct share sizes are merged into classes of 8 */
#define MAX_KINDS 31     /* more distinct whole-GPU fills are merged likewise */
#define MAX_ITER 20000
#define EPS 1e-9

/* What the programme is over: share classes (pack weight <= every size in it, value >=
 * every size in it, so merged classes only loosen the bound) and whole-GPU kinds. */
typedef struct lp_in {
    int nc, nk;
    int weight[MAX_CLASSES], value[MAX_CLASSES];
    int64_t count[MAX_CLASSES];
    int kvalue[MAX_KINDS];
    int64_t kgpus[MAX_KINDS];
    int64_t gpus;
} lp_in;

/* Groups f's counts: exact sizes when there are few enough, else ranges of `width`. */
static void group(const gpf_sim_fill *f, lp_in *in)
{
    memset(in, 0, sizeof *in);
    in->gpus = f->gpus;
    int distinct = 0, width = 1;
    for (int s = 1; s < 1000; s++)
        distinct += f->share[s] > 0;
    while (distinct > MAX_CLASSES) { /* ranges of 2, 4, 8 ... until they fit */
        width *= 2;
        distinct = 0;
        for (int lo = 0; lo < 1000; lo += width) {
            int any = 0;
            for (int s = lo > 0 ? lo : 1; s < lo + width && s < 1000; s++)
                any |= f->share[s] > 0;
            distinct += any;
        }
    }
    for (int lo = 0; lo < 1000; lo += width) {
        int c = -1;
        for (int s = lo > 0 ? lo : 1; s < lo + width && s < 1000; s++) {
            if (f->share[s] <= 0)
                continue;
            if (c < 0) {
                c = in->nc++;
                in->weight[c] = s;
            }
            in->value[c] = s;
            in->count[c] += f->share[s];
        }
    }
    width = 1;
    for (;;) {
        int n = 0;
        for (int lo = 0; lo <= 1000; lo += width) {
            int any = 0;
            for (int v = lo > 0 ? lo : 1; v < lo + width && v <= 1000; v++)
                any |= f->whole[v] > 0;
            n += any;
        }
        if (n <= MAX_KINDS)
            break;
        width *= 2;
    }
    for (int lo = 0; lo <= 1000; lo += width) {
        int k = -1;
        for (int v = lo > 0 ? lo : 1; v < lo + width && v <= 1000; v++) {
            if (f->whole[v] <= 0)
                continue;
            if (k < 0)
                k = in->nk++;
            in->kvalue[k] = v; /* the largest fill of the range */
            in->kgpus[k] += f->whole[v];
        }
    }
}

static int gcd(int a, int b)
{
    while (b) {
        int r = a % b;
        a = b;
        b = r;
    }
    return a;
}

/* The knapsack that prices patterns: the most Σ a_c·val[c] one GPU can hold, with
 * 0 <= a_c <= count[c] (a pattern never holds more shares of a class than arrived); a
 * gets the pattern (may be NULL). Items of value <= 0 never help and are left out. */
static double best_pattern(const lp_in *in, const double *val, int *a)
{
    int g = 1000, cap, npiece = 0;
    for (int c = 0; c < in->nc; c++)
        if (val[c] > 0)
            g = gcd(g, in->weight[c]);
    cap = 1000 / g;
    /* bounded counts as 0/1 pieces of 1, 2, 4 ... copies */
    int *pc = gpf_calloc((size_t)in->nc * 12 + 1, sizeof *pc), *pn = gpf_calloc((size_t)in->nc * 12 + 1, sizeof *pn);
    for (int c = 0; c < in->nc; c++) {
        if (val[c] <= 0)
            continue;
        int64_t left = in->count[c], most = cap / (in->weight[c] / g);
        if (left > most)
            left = most;
        for (int64_t k = 1; left > 0; k *= 2) {
            int take = (int)(k < left ? k : left);
            pc[npiece] = c;
            pn[npiece++] = take;
            left -= take;
        }
    }
    double *best = gpf_calloc((size_t)cap + 1, sizeof *best);
    unsigned char *took = gpf_calloc((size_t)npiece * (size_t)(cap + 1) + 1, 1);
    for (int p = 0; p < npiece; p++) {
        int w = pn[p] * (in->weight[pc[p]] / g);
        double v = pn[p] * val[pc[p]];
        for (int x = cap; x >= w; x--)
            if (best[x - w] + v > best[x]) {
                best[x] = best[x - w] + v;
                took[(size_t)p * (size_t)(cap + 1) + (size_t)x] = 1;
            }
    }
    double out = best[cap];
    if (a) {
        memset(a, 0, (size_t)in->nc * sizeof *a);
        for (int p = npiece - 1, x = cap; p >= 0; p--)
            if (took[(size_t)p * (size_t)(cap + 1) + (size_t)x]) {
                a[pc[p]] += pn[p];
                x -= pn[p] * (in->weight[pc[p]] / g);
            }
    }
    gpf_free(pc);
    gpf_free(pn);
    gpf_free(best);
    gpf_free(took);
    return out;
}

/* Rows: share classes 0..nc-1, the GPU row nc, the whole kinds nc+1.. . A column's entries
 * and its objective coefficient. */
typedef struct col {
    double cost;
    double *a;
} col;

/* Solves the programme for in and leaves its dual values in y (rows as above); returns the
 * simplex's objective. */
static double solve(const lp_in *in, double *y)
{
    int nr = in->nc + 1 + in->nk, ncol = 0, capcol = 64;
    double *binv = gpf_calloc((size_t)nr * (size_t)nr, sizeof *binv), *xb = gpf_calloc((size_t)nr, sizeof *xb),
           *cb = gpf_calloc((size_t)nr, sizeof *cb), *d = gpf_calloc((size_t)nr, sizeof *d),
           *val = gpf_calloc((size_t)in->nc + 1, sizeof *val);
    int *basis = gpf_calloc((size_t)nr, sizeof *basis), *pat = gpf_calloc((size_t)in->nc + 1, sizeof *pat);
    col *cols = gpf_calloc((size_t)capcol, sizeof *cols);
    for (int r = 0; r < nr; r++) { /* the slacks' basis: B = I */
        binv[(size_t)r * (size_t)nr + (size_t)r] = 1;
        basis[r] = -1 - r;
        xb[r] = r < in->nc ? (double)in->count[r] : r == in->nc ? (double)in->gpus : (double)in->kgpus[r - in->nc - 1];
    }
    for (int k = 0; k < in->nk; k++) { /* whole-GPU columns: a GPU and one of the kind's */
        cols[ncol].cost = in->kvalue[k];
        cols[ncol].a = gpf_calloc((size_t)nr, sizeof(double));
        cols[ncol].a[in->nc] = 1;
        cols[ncol].a[in->nc + 1 + k] = 1;
        ncol++;
    }
    for (int it = 0; it < MAX_ITER; it++) {
        for (int r = 0; r < nr; r++) { /* y = c_B B^-1 */
            double s = 0;
            for (int k = 0; k < nr; k++)
                s += cb[k] * binv[(size_t)k * (size_t)nr + (size_t)r];
            y[r] = s;
        }
        int enter = 0; /* -1-r: slack r; j >= 0: column j; 0 with best <= EPS: optimal */
        double best = EPS * 1000;
        for (int r = 0; r < nr; r++)
            if (-y[r] > best) {
                best = -y[r];
                enter = -1 - r;
            }
        for (int j = 0; j < ncol; j++) {
            double rc = cols[j].cost;
            for (int r = 0; r < nr; r++)
                rc -= y[r] * cols[j].a[r];
            if (rc > best) {
                best = rc;
                enter = j;
            }
        }
        for (int c = 0; c < in->nc; c++)
            val[c] = in->value[c] - y[c];
        double rc = best_pattern(in, val, pat) - y[in->nc];
        if (rc > best) {
            if (ncol == capcol) {
                capcol *= 2;
                cols = gpf_reallocarray(cols, (size_t)capcol, sizeof *cols);
            }
            cols[ncol].a = gpf_calloc((size_t)nr, sizeof(double));
            cols[ncol].cost = 0;
            for (int c = 0; c < in->nc; c++) {
                cols[ncol].a[c] = pat[c];
                cols[ncol].cost += (double)pat[c] * in->value[c];
            }
            cols[ncol].a[in->nc] = 1;
            enter = ncol++;
            best = rc;
        }
        if (best <= EPS * 1000)
            break;
        /* d = B^-1 A_enter, then the ratio test (ties to the lowest row) */
        for (int k = 0; k < nr; k++) {
            double s = 0;
            if (enter < 0)
                s = binv[(size_t)k * (size_t)nr + (size_t)(-1 - enter)];
            else
                for (int r = 0; r < nr; r++)
                    s += binv[(size_t)k * (size_t)nr + (size_t)r] * cols[enter].a[r];
            d[k] = s;
        }
        int leave = -1;
        double theta = 0;
        for (int k = 0; k < nr; k++)
            if (d[k] > EPS && (leave < 0 || xb[k] / d[k] < theta - EPS)) {
                theta = xb[k] / d[k];
                leave = k;
            }
        if (leave < 0)
            break; /* unbounded: cannot happen (every column uses a GPU or a share) */
        for (int k = 0; k < nr; k++)
            xb[k] = k == leave ? theta : xb[k] - theta * d[k];
        double *pl = &binv[(size_t)leave * (size_t)nr], piv = d[leave];
        for (int r = 0; r < nr; r++)
            pl[r] /= piv;
        for (int k = 0; k < nr; k++) {
            if (k == leave || d[k] == 0)
                continue;
            double *row = &binv[(size_t)k * (size_t)nr];
            for (int r = 0; r < nr; r++)
                row[r] -= d[k] * pl[r];
        }
        basis[leave] = enter;
        cb[leave] = enter < 0 ? 0 : cols[enter].cost;
    }
    double obj = 0;
    for (int k = 0; k < nr; k++)
        obj += cb[k] * xb[k];
    for (int j = 0; j < ncol; j++)
        gpf_free(cols[j].a);
    gpf_free(cols);
    gpf_free(binv);
    gpf_free(xb);
    gpf_free(cb);
    gpf_free(d);
    gpf_free(val);
    gpf_free(basis);
    gpf_free(pat);
    return obj;
}

void gpf_sim_fill_dual(const gpf_sim_fill *f, gpf_sim_fill_duals *out)
{
    lp_in in;
    double y[MAX_ROWS];
    memset(out, 0, sizeof *out);
    memset(y, 0, sizeof y);
    group(f, &in);
    solve(&in, y);
    for (int c = 0; c < in.nc; c++) /* every size of a class gets the class's value */
        for (int s = in.weight[c]; s <= in.value[c]; s++)
            out->share[s] = y[c] > 0 ? y[c] : 0;
}

double gpf_sim_fill_bound(const gpf_sim_fill *f, const gpf_sim_fill_duals *d)
{
    lp_in in;
    double val[MAX_CLASSES];
    group(f, &in);
    /* d's share values (>= 0; a class takes the largest of its sizes'), then GPU and whole
     * values that cover every pattern f's counts allow (a knapsack) and every whole column,
     * chosen for the least objective: a feasible dual solution, whose objective bounds the
     * maximum */
    double bound = 0, most = 0;
    for (int c = 0; c < in.nc; c++) {
        double v = 0;
        for (int s = in.weight[c]; s <= in.value[c]; s++)
            if (f->share[s] > 0 && d->share[s] > v)
                v = d->share[s];
        val[c] = in.value[c] - v;
        bound += (double)in.count[c] * v;
        most += (double)in.count[c] * in.value[c];
    }
    /* the GPU value y must cover every pattern (y >= lo); the whole kinds then take
     * max(v_k - y, 0) each: G·y + Σ W_k·max(v_k - y, 0) is convex in y, least at lo or at
     * one of the v_k above it */
    double lo = best_pattern(&in, val, NULL), least = -1;
    lo = lo * (1 + 1e-12) + 1e-9; /* rounding in the knapsack's sums */
    for (int k = -1; k < in.nk; k++) {
        double y = k < 0 ? lo : in.kvalue[k], h = (double)in.gpus * y;
        if (y < lo)
            continue;
        for (int j = 0; j < in.nk; j++)
            h += (double)in.kgpus[j] * (in.kvalue[j] > y ? in.kvalue[j] - y : 0);
        if (least < 0 || h < least)
            least = h;
    }
    bound += least;
    for (int k = 0; k < in.nk; k++)
        most += (double)in.kgpus[k] * in.kvalue[k];
    /* never above what arrived, nor above full GPUs */
    if (bound > most)
        bound = most;
    if (bound > (double)in.gpus * 1000.0)
        bound = (double)in.gpus * 1000.0;
    return bound;
}

double gpf_sim_fill_max(const gpf_sim_fill *f)
{
    gpf_sim_fill_duals *d = GPF_NEW(gpf_sim_fill_duals);
    gpf_sim_fill_dual(f, d);
    double b = gpf_sim_fill_bound(f, d);
    gpf_free(d);
    return b;
}
