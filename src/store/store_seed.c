/* History for tests and benchmarks (store_seed.h): final pods with closed usage, written
 * through the public store ops. */
#include "store/store_seed.h"

#include <stdio.h>
#include <string.h>

#include "util/alloc.h"

/* Pod number i of spec, stopped, and its closed usage record. */
static void seed_pod(const gpf_store_seed *spec, size_t i, gpf_pod *p, gpf_usage *u)
{
    memset(p, 0, sizeof *p);
    memset(u, 0, sizeof *u);
    snprintf(p->id, sizeof p->id, "%s%08zu", spec->id_prefix ? spec->id_prefix : "seed-", spec->first + i);
    gpf_strlcpy(p->owner, spec->owner ? spec->owner : "seed", sizeof p->owner);
    gpf_strlcpy(p->project, "default", sizeof p->project);
    gpf_strlcpy(p->sku, spec->sku ? spec->sku : "seed-sku", sizeof p->sku);
    p->slice.kind = GPF_SLICE_WHOLE;
    p->slice.gpu_count = 1;
    p->isolation = GPF_ISO_DEVICE;
    p->state = GPF_POD_STOPPED;
    gpf_strlcpy(p->reason, "stop requested by seed", sizeof p->reason);
    gpf_strlcpy(p->placement.host_id, spec->host_id ? spec->host_id : "seed-host", sizeof p->placement.host_id);
    p->placement.cpus = 4;
    p->placement.memory_mib = 16384;
    p->placement.gpu_milli = 1000;
    p->placement.ngpus = 1;
    gpf_strlcpy(p->placement.gpu_uuids[0], "GPU-seed-0", sizeof p->placement.gpu_uuids[0]);
    gpf_strlcpy(p->image, "default", sizeof p->image);
    p->price_micro_per_hour = 1000000;
    p->created_ms = spec->start_ms + (int64_t)(spec->first + i) * 1000;
    p->started_ms = p->created_ms + 100;
    p->stopped_ms = p->started_ms + 600000;
    gpf_strlcpy(u->pod_id, p->id, sizeof u->pod_id);
    gpf_strlcpy(u->owner, p->owner, sizeof u->owner);
    gpf_strlcpy(u->project, p->project, sizeof u->project);
    gpf_strlcpy(u->sku, p->sku, sizeof u->sku);
    gpf_strlcpy(u->host_id, p->placement.host_id, sizeof u->host_id);
    u->slice_kind = p->slice.kind;
    u->isolation = p->isolation;
    u->gpu_milli = 1000;
    u->price_micro_per_hour = p->price_micro_per_hour;
    u->start_ms = p->started_ms;
    u->end_ms = p->stopped_ms;
}

int gpf_store_seed_history(gpf_store *s, const gpf_store_seed *spec, gpf_error *err)
{
    if (!s || !spec)
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to seed_history");
    size_t batch = spec->batch ? spec->batch : 5000;
    gpf_pod *p = GPF_NEW(gpf_pod);
    gpf_usage u;
    int rc = 0;
    for (size_t i = 0; i < spec->pods && rc == 0; i += batch) {
        if ((rc = gpf_store_begin(s, err)) != 0)
            break;
        for (size_t j = i; j < i + batch && j < spec->pods && rc == 0; j++) {
            seed_pod(spec, j, p, &u);
            if ((rc = gpf_store_pod_put(s, p, err)) == 0)
                rc = gpf_store_usage_insert(s, &u, err);
        }
        if (rc == 0)
            rc = gpf_store_commit(s, err);
        if (rc != 0)
            gpf_store_rollback(s);
    }
    gpf_free(p);
    return rc;
}
