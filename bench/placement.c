/* bench/placement: how fast the placement engine decides, on the 1,213-node Alibaba cluster.
 *
 *   build/bench/placement [--trace-dir ../shared/traces/alibaba-gpu-v2023] [--workload default]
 *                         [--seeds 42..51] [--policies A,B] [--replay-policy gpufleet] [--repeat 3]
 *
 * Per policy: the replay of seed 42, run --repeat times (3), every decision (gpf_sim_step:
 * place + apply) timed on its own; prints p50/p99/max in microseconds, each the median over
 * the runs (a VM's noise moves a single run's p99 by a third), and the range of the p99s.
 * Then the wall time of a full replay of
 * every seed with --replay-policy on this one thread. Targets (printed, never asserted):
 * p99 under 50 µs per decision; a 10-seed default replay under 10 s on one core. Exits 2
 * when the trace is absent (pass --trace-dir). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched.h"
#include "sched/sim.h"
#include "util/alloc.h"
#include "util/fileio.h"
#include "util/timeutil.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* 1 when name is one of the comma-separated names in list. */
static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == 0))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = "../shared/traces/alibaba-gpu-v2023", *workload = "default", *replay = "gpufleet",
               *only = NULL;
    int lo = 42, hi = 51, repeat = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--trace-dir"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--workload"))
            workload = argv[i + 1];
        else if (!strcmp(argv[i], "--replay-policy"))
            replay = argv[i + 1];
        else if (!strcmp(argv[i], "--policies"))
            only = argv[i + 1];
        else if (!strcmp(argv[i], "--repeat") && atoi(argv[i + 1]) >= 1 && atoi(argv[i + 1]) <= 100)
            repeat = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seeds")) {
            int got = sscanf(argv[i + 1], "%d..%d", &lo, &hi);
            if (got == 1 || hi < lo)
                hi = lo;
        } else {
            fprintf(stderr, "usage: placement [--trace-dir DIR] [--workload NAME] [--seeds A..B] [--policies A,B] "
                            "[--replay-policy P] [--repeat N]\n");
            return 2;
        }
    }
    char path[4096];
    gpf_sim_trace t;
    gpf_error err = {0};
    memset(&t, 0, sizeof t);
    char *nodes = NULL, *pods = NULL;
    snprintf(path, sizeof path, "%s/openb_node_list_gpu_node.csv", dir);
    int rc = gpf_read_file(path, 64u << 20, &nodes, &err);
    snprintf(path, sizeof path, "%s/openb_pod_list_%s.csv", dir, workload);
    if (rc == 0)
        rc = gpf_read_file(path, 256u << 20, &pods, &err);
    if (rc != 0) {
        fprintf(stderr,
                "bench/placement: the Alibaba GPU trace is not at %s (%s).\n"
                "It lives in ../shared/traces/alibaba-gpu-v2023 beside a development checkout; pass --trace-dir.\n",
                dir, err.msg);
        return 2;
    }
    if (gpf_sim_parse_nodes(&t, "node list", nodes, &err) != 0 || gpf_sim_parse_pods(&t, path, pods, &err) != 0) {
        fprintf(stderr, "bench/placement: %s\n", err.msg);
        return 1;
    }
    printf("bench/placement: %d nodes, %lld GPUs, workload %s (%d pods before tuning)\n", t.nnodes,
           (long long)t.total_gpus, workload, t.npods);
    printf("per decision (place + book), replay of seed %d, median of %d runs; target p99 < 50 us\n", lo, repeat);
    printf("%-12s %8s %10s %10s %10s   %s\n", "POLICY", "PODS", "P50 us", "P99 us", "MAX us", "P99 RANGE us");
    double *p50 = gpf_calloc((size_t)repeat, sizeof *p50), *p99 = gpf_calloc((size_t)repeat, sizeof *p99),
           *pmax = gpf_calloc((size_t)repeat, sizeof *pmax);
    for (const char *const *p = gpf_sched_policy_names(); *p; p++) {
        if (only && !in_list(only, *p))
            continue;
        int k = 0, failed = 0;
        for (int run = 0; run < repeat && !failed; run++) {
            gpf_sim *s = NULL;
            if (gpf_sim_new(&t, *p, (uint64_t)lo, 1.3, &s, &err) != 0) {
                printf("%-12s failed: %s\n", *p, err.msg);
                failed = 1;
                break;
            }
            double *us = gpf_calloc((size_t)gpf_sim_pods(s), sizeof *us);
            k = 0;
            for (;;) {
                int64_t t0 = gpf_mono_ns();
                int r = gpf_sim_step(s);
                double dt = (double)(gpf_mono_ns() - t0) / 1000.0;
                if (r < 0)
                    break;
                us[k++] = dt;
            }
            qsort(us, (size_t)k, sizeof *us, cmp_double);
            p50[run] = us[k / 2];
            p99[run] = us[(int)(k * 0.99)];
            pmax[run] = us[k - 1];
            gpf_free(us);
            gpf_sim_free(s);
        }
        if (failed)
            continue;
        qsort(p50, (size_t)repeat, sizeof *p50, cmp_double);
        qsort(p99, (size_t)repeat, sizeof *p99, cmp_double);
        qsort(pmax, (size_t)repeat, sizeof *pmax, cmp_double);
        printf("%-12s %8d %10.1f %10.1f %10.1f   %.1f-%.1f\n", *p, k, p50[repeat / 2], p99[repeat / 2],
               pmax[repeat / 2], p99[0], p99[repeat - 1]);
        fflush(stdout);
    }
    gpf_free(p50);
    gpf_free(p99);
    gpf_free(pmax);
    int64_t t0 = gpf_mono_us();
    for (int seed = lo; seed <= hi; seed++) {
        gpf_sim_result r;
        if (gpf_sim_run(&t, replay, (uint64_t)seed, 1.3, &r, NULL, NULL, &err) != 0) {
            fprintf(stderr, "bench/placement: %s\n", err.msg);
            return 1;
        }
    }
    printf("full replay, %d seeds, policy %s, one thread: %.1f s (target < 10 s)\n", hi - lo + 1, replay,
           (double)(gpf_mono_us() - t0) / 1e6);
    gpf_free(nodes);
    gpf_free(pods);
    gpf_sim_trace_free(&t);
    return 0;
}
