/* Engine: hosts as the API shows them, with their ledger use and open drift. */
#include <string.h>

#include "engine/engine_int.h"
#include "util/alloc.h"

void eng_host_usage(gpf_engine *e, const host_entry *h, gpf_host_usage *u)
{
    memset(u, 0, sizeof *u);
    u->schedulable = eng_host_schedulable(h, u->unschedulable_reason, sizeof u->unschedulable_reason);
    u->ndrift = h->ndrift;
    memcpy(u->drift, h->drift, sizeof(gpf_drift) * (size_t)h->ndrift);
    int idx = gpf_sched_fleet_find_host(&e->fleet, h->rec.id);
    if (idx < 0)
        return;
    const gpf_sched_host *sh = &e->fleet.hosts[idx];
    u->cpus_used = sh->cpus_used;
    u->memory_used_mib = sh->memory_used_mib;
    for (int g = 0; g < sh->ngpus && g < GPF_MAX_HOST_GPUS; g++) {
        const gpf_sched_gpu *gg = &sh->gpus[g];
        int milli = gg->whole_taken ? 1000 : gg->share_milli_used;
        for (int t = 0; t < gg->nvgpu_types; t++) /* time-sliced vGPUs: 1/max_per_gpu each */
            if (gg->vgpu[t].type && gg->vgpu[t].type->max_per_gpu > 0)
                milli += gg->vgpu[t].n * (1000 / gg->vgpu[t].type->max_per_gpu);
        if (gg->mig_slots_used && gg->model && gg->model->mig_grid_units > 0) {
            int used = __builtin_popcount(gg->mig_slots_used);
            milli = 1000 * used / gg->model->mig_grid_units;
        }
        u->gpu_allocated_milli[g] = milli;
        u->gpu_mig_used_slots[g] = __builtin_popcount(gg->mig_slots_used);
    }
}

int gpf_engine_host_list(gpf_engine *e, gpf_host_rec **hosts, gpf_host_usage **usage, size_t *n,
                         gpf_error *err)
{
    (void)err;
    pthread_mutex_lock(&e->mu);
    *n = e->hosts.n;
    *hosts = e->hosts.n ? gpf_reallocarray(NULL, e->hosts.n, sizeof(gpf_host_rec)) : NULL;
    *usage = e->hosts.n ? gpf_reallocarray(NULL, e->hosts.n, sizeof(gpf_host_usage)) : NULL;
    for (size_t i = 0; i < e->hosts.n; i++) {
        host_entry *h = VEC_AT(&e->hosts, host_entry, i);
        (*hosts)[i] = h->rec;
        eng_host_usage(e, h, &(*usage)[i]);
    }
    pthread_mutex_unlock(&e->mu);
    return 0;
}

int gpf_engine_host_get(gpf_engine *e, const char *id, gpf_host_rec *out, gpf_host_usage *usage,
                        gpf_error *err)
{
    int rc = 0;
    pthread_mutex_lock(&e->mu);
    host_entry *h = eng_host(e, id);
    if (h) {
        *out = h->rec;
        if (usage)
            eng_host_usage(e, h, usage);
    } else {
        rc = gpf_error_set(err, GPF_ENOTFOUND, "no host '%s'", id);
    }
    pthread_mutex_unlock(&e->mu);
    return rc;
}
