/* Placement policy, first version: tight packing (best fit).
 *   1. the GPU left with the least free capacity after placing (fill partly used GPUs first);
 *   2. the host left with the fewest empty GPUs (keep empty GPUs together on empty hosts);
 *   3. for MIG, the placement that leaves the most placements still bookable on the GPU
 *      (so a 1g lands where it blocks the fewest larger profiles);
 *   4. otherwise the first in fleet order, so decisions are deterministic.
 * Geometry (what fits) lives in geometry.c; this file only ranks feasible candidates. */
#include "sched/sched_int.h"

int sched_policy_better(const sched_cand *a, const sched_cand *b)
{
    if (!a->valid)
        return 0;
    if (!b->valid)
        return 1;
    if (a->gpu_free_after != b->gpu_free_after)
        return a->gpu_free_after < b->gpu_free_after;
    if (a->host_empty_after != b->host_empty_after)
        return a->host_empty_after < b->host_empty_after;
    if (a->options_after != b->options_after)
        return a->options_after > b->options_after;
    return 0;
}

void sched_policy_pick_whole(const gpf_sched_host *h, const int *idx, int n, int count, int *out)
{
    /* Prefer one NUMA node: the node with the fewest free GPUs that still holds count of
     * them; else simply the lowest indices. */
    int found = 0, best_node = 0, best_free = 0;
    for (int i = 0; i < n; i++) {
        int node = h->gpus[idx[i]].numa_node, free_on_node = 0;
        for (int j = 0; j < n; j++)
            free_on_node += h->gpus[idx[j]].numa_node == node;
        if (free_on_node >= count && (!found || free_on_node < best_free)) {
            found = 1;
            best_node = node;
            best_free = free_on_node;
        }
    }
    int k = 0;
    for (int i = 0; i < n && k < count; i++)
        if (!found || h->gpus[idx[i]].numa_node == best_node)
            out[k++] = idx[i];
}
