/* libFuzzer target: the Alibaba GPU trace reader of `gpufleet sim` (sched/sim.c): a node
 * list CSV, a NUL byte, a pod list CSV. What parses must hold what the simulator relies on
 * (names fit, GPUs per node and per pod within bounds, gpu_milli 1..1000 for a GPU pod,
 * total_gpus the sum); a small enough trace is then replayed by one policy, which must
 * end (a replay that cannot reach its target request stops) and place at most what
 * arrived. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "model/ids.h"
#include "sched/sched.h"
#include "sched/sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const gpf_sim_trace *t)
{
    int64_t gpus = 0;
    for (int i = 0; i < t->nnodes; i++) {
        const gpf_sim_node *n = &t->nodes[i];
        if (!n->name[0] || n->gpus < 0 || n->gpus > GPF_MAX_HOST_GPUS || n->cpu_milli < 0 || n->memory_mib < 0 ||
            (n->gpus > 0 && !n->model[0]))
            abort();
        gpus += n->gpus;
    }
    if (gpus != t->total_gpus)
        abort();
    for (int i = 0; i < t->npods; i++) {
        const gpf_sim_pod *p = &t->pods[i];
        if (!p->name[0] || p->num_gpu < 0 || p->num_gpu > GPF_MAX_POD_GPUS || p->cpu_milli < 0 || p->memory_mib < 0)
            abort();
        if (p->num_gpu == 0 ? p->gpu_milli != 0 : p->gpu_milli < 1 || p->gpu_milli > 1000)
            abort();
    }
}

/* Replays small traces only: the tuning adds copies until 1.3 x capacity has arrived. */
static int small(const gpf_sim_trace *t)
{
    int64_t least = 0, gpu_pods = 0;
    if (t->nnodes > 8 || t->npods > 64 || t->total_gpus > 32)
        return 0;
    for (int i = 0; i < t->npods; i++) {
        int64_t ask = (int64_t)t->pods[i].num_gpu * t->pods[i].gpu_milli;
        if (ask > 0 && (!least || ask < least))
            least = ask;
        gpu_pods += ask > 0;
    }
    /* about (target / smallest request) copies, one draw in npods/gpu_pods a GPU pod */
    return !gpu_pods || t->total_gpus * 1300 / least * t->npods / gpu_pods <= 4000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_parts in;
    gpf_sim_trace t;
    gpf_error err = {0};
    memset(&t, 0, sizeof t);
    fz_split(data, size, 2, &in);
    int rc = gpf_sim_parse_nodes(&t, "nodes.csv", in.part[0], &err);
    if (rc == 0)
        rc = gpf_sim_parse_pods(&t, "pods.csv", in.part[1], &err);
    if (rc == 0) {
        check(&t);
        if (t.nnodes && t.npods && small(&t)) {
            gpf_sim_result res;
            gpf_error_clear(&err);
            if (gpf_sim_run(&t, "gpufleet", 1, 0, &res, NULL, NULL, &err) == 0) {
                if (res.placed < 0 || res.placed > res.pods || res.placed + res.dropped > res.pods ||
                    res.used_milli > res.arrived_milli || res.used_milli > t.total_gpus * 1000)
                    abort();
            }
        }
    } else if (rc >= 0 || !gpf_error_msg(&err)[0]) {
        abort();
    }
    gpf_error_clear(&err);
    gpf_sim_trace_free(&t);
    fz_parts_free(&in);
    return 0;
}
