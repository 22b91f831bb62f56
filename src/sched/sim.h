/* The trace-replay simulator: a driver of the placement engine (gpf_sched_place_with and
 * gpf_sched_apply on a gpf_sched_fleet), never a copy of it. It replays a node list and a
 * pod list with the FGD benchmark's method (docs/placement.md): pods in a shuffled order per
 * seed, inflated with random copies until the arrived GPU request is `tune` × capacity, pods
 * never leave, a pod that does not fit is dropped. Pure: parses text it is given, reads no
 * file and no clock, prints nothing. */
#ifndef GPF_SCHED_SIM_H
#define GPF_SCHED_SIM_H

#include <stdint.h>

#include "util/error.h"

#define GPF_SIM_XMAX 130 /* the curve covers arrived request 0..130 % of capacity */
#define GPF_SIM_MAX_GPUS 8

typedef struct gpf_sim_node {
    char name[64];
    int64_t cpu_milli;
    int64_t memory_mib;
    int gpus;
    char model[64];
} gpf_sim_node;

typedef struct gpf_sim_pod {
    char name[64];
    int64_t cpu_milli;
    int64_t memory_mib;
    int num_gpu;                  /* 0 = CPU only */
    int gpu_milli;                /* per GPU, 1..1000 (clipped) */
    char spec[256];               /* allowed models joined by '|', "" = any */
} gpf_sim_pod;

typedef struct gpf_sim_trace {
    int nnodes;
    gpf_sim_node *nodes;
    int npods;
    gpf_sim_pod *pods;
    int64_t total_gpus;
} gpf_sim_trace;

/* Node list CSV: sn, cpu_milli, memory_mib, gpu, model. Pod list CSV: name, cpu_milli,
 * memory_mib, num_gpu, gpu_milli, gpu_spec (gpu_spec optional; other columns ignored).
 * file names the text in messages. GPF_EINVAL with "<file> line N: ..." on bad input. */
int gpf_sim_parse_nodes(gpf_sim_trace *t, const char *file, const char *text, gpf_error *err);
int gpf_sim_parse_pods(gpf_sim_trace *t, const char *file, const char *text, gpf_error *err);
void gpf_sim_trace_free(gpf_sim_trace *t);

typedef struct gpf_sim_result {
    double alloc_pct[GPF_SIM_XMAX + 1]; /* allocated milli-GPU as % of capacity, binned by arrived % */
    double unalloc_at_100;              /* 100 - alloc_pct[100] */
    int pods;                           /* after tuning */
    int placed;
    int dropped;
    int64_t arrived_milli;
    int64_t used_milli;
    /* GPU request dropped while the arrived request was at most 100 % of capacity, in
     * milli-GPUs: [0] sharing pods, [k] pods of k whole GPUs. Their sum is what is left
     * unallocated at x = 100, and shows which requests a policy strands. */
    int64_t dropped_milli_at_100[GPF_SIM_MAX_GPUS + 1];
    /* A floor no policy can go below at x = 100 for this arrival order, in % of capacity:
     * the mean, over the pods whose x rounds to 100 (the bin the headline averages), of
     * 100 % less the most any placement of the pods arrived by then could hold
     * (gpf_sim_fill_max's bound). Policy-independent; the headline, whose y values are
     * rounded to 2 decimals, can sit at most 0.005 below it. 0 when no pod reaches the bin. */
    double floor_at_100;
    /* Where the free capacity sits at the pod that takes the arrived request to 100 %:
     * GPUs by thousandths left, [k] = k*100 .. k*100+99 left (k = 0..9; nothing-left GPUs
     * are not counted), [10] = GPUs with all 1000 left. */
    int gpus_by_left_at_100[11];
} gpf_sim_result;

typedef struct gpf_sim gpf_sim;

/* Prepares one replay: arrival order and node order for seed, the fleet, the policy.
 * tune <= 0 means 1.3. GPF_EINVAL for an unknown policy or an empty trace. */
int gpf_sim_new(const gpf_sim_trace *t, const char *policy, uint64_t seed, double tune, gpf_sim **out,
                gpf_error *err);
/* Pods in this replay's arrival order (after tuning). */
int gpf_sim_pods(const gpf_sim *s);
/* Offers the next pod to the placement engine: 1 placed, 0 dropped, -1 when all were offered. */
int gpf_sim_step(gpf_sim *s);
/* The curve and counters so far (normally called after the last step). */
void gpf_sim_result_get(const gpf_sim *s, gpf_sim_result *out);
void gpf_sim_free(gpf_sim *s);

/* new + every step + result. progress (may be NULL) is called every 1,000 pods. */
int gpf_sim_run(const gpf_sim_trace *t, const char *policy, uint64_t seed, double tune, gpf_sim_result *out,
                void (*progress)(void *arg, int done, int total), void *arg, gpf_error *err);

/* What has arrived, for the floor: a fleet of `gpus` GPUs, share pods by size and the GPUs
 * whole-GPU pods ask for by what each holds (a pod of n GPUs at 1000 adds n to whole[1000]). */
typedef struct gpf_sim_fill {
    int64_t gpus;
    int64_t share[1000];          /* [s]: share pods of s thousandths, 1..999 */
    int64_t whole[1001];          /* [v]: GPUs of whole-GPU pods holding v thousandths each, 1..1000 */
} gpf_sim_fill;

/* Dual values of the floor's linear programme, one per share size (sim_floor.c). */
typedef struct gpf_sim_fill_duals {
    double share[1000];
} gpf_sim_fill_duals;

/* An upper bound on the thousandths any placement of f's pods can hold at once, whatever it
 * places or refuses, from the bin-packing programme over patterns (sim_floor.c): it leaves
 * out CPUs, memory, models and host boundaries, so it never undercuts what is possible.
 * gpf_sim_fill_dual solves the programme for f; gpf_sim_fill_bound turns duals solved for
 * any pods into a valid bound for f's (exact for the pods they were solved for, looser
 * for others); gpf_sim_fill_max is both. Callers keep the structs (large: heap). */
void gpf_sim_fill_dual(const gpf_sim_fill *f, gpf_sim_fill_duals *out);
double gpf_sim_fill_bound(const gpf_sim_fill *f, const gpf_sim_fill_duals *d);
double gpf_sim_fill_max(const gpf_sim_fill *f);

/* Median, mean and sample standard deviation of v[0..n) (v is reordered). */
void gpf_sim_stats(double *v, int n, double *median, double *mean, double *sd);

#endif
