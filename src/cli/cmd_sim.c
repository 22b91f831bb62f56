/* gpufleet sim: replays a node list and a pod list through the placement engine with the
 * FGD benchmark's method (src/sched/sim.h, docs/placement.md). Needs no server. */
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sched/sched.h"
#include "sched/sim.h"
#include "util/alloc.h"
#include "util/timeutil.h"

const char gpf_cli_help_sim[] =
    "usage: gpufleet sim --nodes NODES.csv --pods PODS.csv [--policy NAME|all] [--seeds 42..51]\n"
    "                    [--tune 1.3] [--csv CURVE.csv] [--json] [--quiet] [--detail]\n"
    "\n"
    "Replays the pods against the nodes with the FGD benchmark's method: per seed the pods\n"
    "arrive in a shuffled order, inflated with random copies until the arrived GPU request is\n"
    "--tune x capacity; pods never leave; a pod that does not fit is dropped. Prints the\n"
    "unallocated GPU %% when the arrived request reaches 100 %% of capacity (median, mean and\n"
    "sd over the seeds) and the floor no policy can go below for those arrival orders (the\n"
    "bin-packing bound on what any placement of the arrived pods can hold; docs/placement.md).\n"
    "--csv writes the whole curve (policy,seed,x,alloc_pct,unalloc_pct). --detail adds what\n"
    "was dropped by x = 100 and where the free capacity sits then.\n"
    "Policies: gpufleet (default), first-fit, best-fit, dot-product, packing, clustering,\n"
    "fgd, random, or all.\n"
    "Node list columns: sn,cpu_milli,memory_mib,gpu,model. Pod list columns:\n"
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec] (the Alibaba openb format).\n";

typedef struct sim_opts {
    const char *nodes, *pods, *policy, *csv;
    int seed_lo, seed_hi, json, quiet, detail;
    double tune;
} sim_opts;

static int parse_seeds(const char *s, int *lo, int *hi)
{
    char *end = NULL;
    long a = strtol(s, &end, 10), b = a;
    if (end == s || a < 0)
        return -1;
    if (strncmp(end, "..", 2) == 0) {
        const char *q = end + 2;
        b = strtol(q, &end, 10);
        if (end == q)
            return -1;
    }
    if (*end || b < a || b - a > 999)
        return -1;
    *lo = (int)a;
    *hi = (int)b;
    return 0;
}

static int parse_opts(int argc, char **argv, sim_opts *o)
{
    memset(o, 0, sizeof *o);
    o->policy = "gpufleet";
    o->seed_lo = 42;
    o->seed_hi = 51;
    o->tune = 1.3;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) {
            o->json = 1;
            continue;
        }
        if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
            continue;
        }
        if (!strcmp(a, "--detail")) {
            o->detail = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return 1;
        if (!v)
            return gpf_cli_fail(GPF_EINVAL, "sim: %s needs a value (see `gpufleet sim --help`)", a);
        i++;
        if (!strcmp(a, "--nodes"))
            o->nodes = v;
        else if (!strcmp(a, "--pods"))
            o->pods = v;
        else if (!strcmp(a, "--policy"))
            o->policy = v;
        else if (!strcmp(a, "--csv"))
            o->csv = v;
        else if (!strcmp(a, "--seeds")) {
            if (parse_seeds(v, &o->seed_lo, &o->seed_hi) != 0)
                return gpf_cli_fail(GPF_EINVAL, "sim: --seeds takes N or A..B, not '%s'", v);
        } else if (!strcmp(a, "--tune")) {
            char *end = NULL;
            o->tune = strtod(v, &end);
            if (!end || *end || o->tune <= 0 || o->tune > 10)
                return gpf_cli_fail(GPF_EINVAL, "sim: --tune takes a ratio in (0, 10], not '%s'", v);
        } else {
            return gpf_cli_fail(GPF_EINVAL, "sim: unknown option %s (see `gpufleet sim --help`)", a);
        }
    }
    if (!o->nodes || !o->pods)
        return gpf_cli_fail(GPF_EINVAL, "sim: --nodes and --pods are required (see `gpufleet sim --help`)");
    return 0;
}

static int load(gpf_sim_trace *t, const sim_opts *o)
{
    char *text = NULL;
    gpf_error err = {0};
    int rc = gpf_read_file(o->nodes, 64u << 20, &text, &err);
    if (rc == 0)
        rc = gpf_sim_parse_nodes(t, o->nodes, text, &err);
    gpf_free(text);
    text = NULL;
    if (rc == 0)
        rc = gpf_read_file(o->pods, 256u << 20, &text, &err);
    if (rc == 0)
        rc = gpf_sim_parse_pods(t, o->pods, text, &err);
    gpf_free(text);
    if (rc == 0 && (t->total_gpus == 0 || t->npods == 0))
        rc = gpf_error_set(&err, GPF_EINVAL, "the node list has no GPUs or the pod list no pods");
    return rc ? gpf_cli_fail_err(&err) : 0;
}

typedef struct prog {
    const char *policy;
    int seed, k, n, tty;
} prog;

static void on_progress(void *arg, int done, int total)
{
    const prog *p = arg;
    if (p->tty)
        fprintf(stderr, "\rsim: %s seed %d (%d/%d): %d/%d pods ", p->policy, p->seed, p->k, p->n, done, total);
}

int gpf_cli_sim_main(int argc, char **argv)
{
    sim_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc == 1) {
        fputs(gpf_cli_help_sim, stdout);
        return 0;
    }
    if (rc != 0)
        return rc;
    const char *const *all = gpf_sched_policy_names();
    const char *one[2] = {o.policy, NULL};
    const char *const *pols = strcmp(o.policy, "all") == 0 ? all : one;
    gpf_sim_trace t;
    memset(&t, 0, sizeof t);
    if ((rc = load(&t, &o)) != 0)
        return rc;
    FILE *csv = NULL;
    if (o.csv && !(csv = fopen(o.csv, "w"))) {
        rc = gpf_cli_fail(GPF_EIO, "sim: cannot write %s", o.csv);
        goto out;
    }
    if (csv)
        fputs("policy,seed,x,alloc_pct,unalloc_pct\n", csv);
    int nseeds = o.seed_hi - o.seed_lo + 1;
    double *un = gpf_calloc((size_t)nseeds, sizeof *un);
    json_t *jarr = json_array();
    if (!o.json)
        printf("%-12s %8s %16s %8s %8s %8s %8s\n", "POLICY", "MEDIAN", "MEAN +- SD", "FLOOR", "PLACED", "DROPPED",
               "SECONDS");
    for (int pi = 0; pols[pi]; pi++) {
        int64_t t0 = gpf_mono_us();
        long placed = 0, dropped = 0;
        int64_t drop100[GPF_SIM_MAX_GPUS + 1] = {0};
        double floor_sum = 0;
        long by_left[11] = {0};
        for (int k = 0; k < nseeds; k++) {
            gpf_sim_result r;
            gpf_error err = {0};
            prog pg = {pols[pi], o.seed_lo + k, k + 1, nseeds, !o.quiet && isatty(2)};
            if (gpf_sim_run(&t, pols[pi], (uint64_t)(o.seed_lo + k), o.tune, &r, on_progress, &pg, &err) != 0) {
                rc = gpf_cli_fail_err(&err);
                goto done;
            }
            un[k] = r.unalloc_at_100;
            placed += r.placed;
            floor_sum += r.floor_at_100;
            for (int b = 0; b < 11; b++)
                by_left[b] += r.gpus_by_left_at_100[b];
            for (int g = 0; g <= GPF_SIM_MAX_GPUS; g++)
                drop100[g] += r.dropped_milli_at_100[g];
            dropped += r.dropped;
            for (int x = 0; csv && x <= GPF_SIM_XMAX; x++)
                fprintf(csv, "%s,%d,%d,%.4f,%.4f\n", pols[pi], o.seed_lo + k, x, r.alloc_pct[x], 100.0 - r.alloc_pct[x]);
        }
        if (!o.quiet && isatty(2))
            fputs("\r\033[K", stderr);
        double med, mean, sd, secs = (double)(gpf_mono_us() - t0) / 1e6;
        gpf_sim_stats(un, nseeds, &med, &mean, &sd);
        if (o.json)
            json_array_append_new(jarr, json_pack("{s:s, s:i, s:f, s:f, s:f, s:f, s:I, s:I, s:f}", "policy", pols[pi],
                                                  "seeds", nseeds, "floor_pct_mean", floor_sum / nseeds, "unalloc_pct_median", med, "unalloc_pct_mean",
                                                  mean, "unalloc_pct_sd", sd, "placed", (json_int_t)placed,
                                                  "dropped", (json_int_t)dropped, "seconds", secs));
        else
            printf("%-12s %7.2f%% %9.2f +- %4.2f %7.2f%% %8ld %8ld %8.1f\n", pols[pi], med, mean, sd,
                   floor_sum / nseeds, placed / nseeds, dropped / nseeds, secs);
        if (o.detail && !o.json) {
            printf("  dropped by x=100 (GPUs, mean per seed): share %.1f", drop100[0] / 1000.0 / nseeds);
            for (int g = 1; g <= GPF_SIM_MAX_GPUS; g++)
                if (drop100[g])
                    printf(", %d-GPU %.1f", g, drop100[g] / 1000.0 / nseeds);
            printf("\n  GPUs with room at x=100 by thousandths left (mean per seed):");
            for (int b = 0; b < 11; b++)
                printf(" %s%d:%.0f", b == 10 ? "" : "<", b == 10 ? 1000 : (b + 1) * 100, by_left[b] / (double)nseeds);
            printf("\n");
        }
        fflush(stdout);
    }
    if (o.json) {
        json_t *root = json_pack("{s:s, s:s, s:I, s:i, s:f, s:i, s:i, s:o}", "nodes", o.nodes, "pods", o.pods,
                                 "gpus", (json_int_t)t.total_gpus, "trace_pods", t.npods, "tune", o.tune, "seed_first",
                                 o.seed_lo, "seed_last", o.seed_hi, "results", jarr);
        jarr = NULL;
        char *s = json_dumps(root, JSON_INDENT(2));
        puts(s);
        free(s);
        json_decref(root);
    }
done:
    json_decref(jarr);
    gpf_free(un);
    if (csv && fclose(csv) != 0 && rc == 0)
        rc = gpf_cli_fail(GPF_EIO, "sim: cannot write %s", o.csv);
out:
    gpf_sim_trace_free(&t);
    return rc;
}
