/* The ledger: hosts and their GPUs, and booking / returning placements. Apply works from
 * the placement alone (it is also how placements are restored at start-up) and re-checks
 * everything, so the same capacity is never handed out twice. */
#include <string.h>

#include "sched/sched_int.h"
#include "util/alloc.h"

void gpf_sched_fleet_init_epoch(gpf_sched_fleet *f, uint32_t epoch)
{
    if (!f)
        return;
    memset(f, 0, sizeof *f);
    f->generation = (uint64_t)epoch << 32;
}

void gpf_sched_fleet_init(gpf_sched_fleet *f)
{
    gpf_sched_fleet_init_epoch(f, 1);
}

void gpf_sched_fleet_clear(gpf_sched_fleet *f)
{
    if (!f)
        return;
    gpf_free(f->hosts);
    gpf_free(f->by_id);
    memset(f, 0, sizeof *f);
}

void sched_host_summarize(gpf_sched_fleet *f, gpf_sched_host *h)
{
    h->modeled_gpus = h->nonmig_gpus = h->free_whole = h->share_room = 0;
    for (int g = 0; g < h->ngpus; g++) {
        const gpf_sched_gpu *gp = &h->gpus[g];
        if (!gp->model)
            continue;
        h->modeled_gpus++;
        if (gp->mig_enabled)
            continue;
        h->nonmig_gpus++;
        h->free_whole += sched_gpu_empty(gp);
        int room = gp->whole_taken || gp->mig_instances || gp->vgpus ? 0 : 1000 - gp->share_milli_used;
        if (room > h->share_room)
            h->share_room = room;
    }
    h->summary_valid = 1;
    /* versions only grow within a fleet, and fleets of different epochs (the top 32 bits,
     * set by gpf_sched_fleet_init_epoch) never share one (below 2^32 changes each), so a
     * policy's per-host tables never mistake one host state for another */
    h->version = ++f->generation;
}

static unsigned id_hash(const char *id)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h;
}

/* The slot of id in the index: where it is, or the empty slot where it would go. */
static int id_slot(const gpf_sched_fleet *f, const char *id)
{
    unsigned mask = (unsigned)f->by_id_cap - 1, s = id_hash(id) & mask;
    while (f->by_id[s] && strcmp(f->hosts[f->by_id[s] - 1].id, id) != 0)
        s = (s + 1) & mask;
    return (int)s;
}

static void index_rebuild(gpf_sched_fleet *f, int cap)
{
    gpf_free(f->by_id);
    f->by_id_cap = cap;
    f->by_id = gpf_calloc((size_t)cap, sizeof *f->by_id);
    for (int i = 0; i < f->nhosts; i++)
        f->by_id[id_slot(f, f->hosts[i].id)] = i + 1;
}

int gpf_sched_fleet_add_host(gpf_sched_fleet *f, const gpf_sched_host *h)
{
    if (!f || !h || h->ngpus < 0 || h->ngpus > GPF_MAX_HOST_GPUS)
        return GPF_EINVAL;
    if (gpf_sched_fleet_find_host(f, h->id) >= 0)
        return GPF_EEXIST;
    if (f->nhosts == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 8;
        f->hosts = gpf_reallocarray(f->hosts, (size_t)f->cap, sizeof *f->hosts);
    }
    f->hosts[f->nhosts] = *h;
    sched_host_summarize(f, &f->hosts[f->nhosts]);
    f->nhosts++;
    if (2 * f->nhosts > f->by_id_cap)
        index_rebuild(f, f->by_id_cap ? 2 * f->by_id_cap : 16);
    else
        f->by_id[id_slot(f, h->id)] = f->nhosts;
    return f->nhosts - 1;
}

int gpf_sched_fleet_find_host(const gpf_sched_fleet *f, const char *id)
{
    if (!f || !id || f->by_id_cap == 0)
        return -1;
    return f->by_id[id_slot(f, id)] - 1;
}

/* The NUMA node a placement's CPUs are booked on, or -1 (not tracked or not tied). */
static int numa_of(const gpf_sched_host *h, const gpf_placement *p)
{
    return h->numa_nodes > 0 && p->numa_node >= 0 && p->numa_node < h->numa_nodes ? p->numa_node : -1;
}

/* ---- resolving a placement against the ledger -------------------------- */

typedef struct resolved {
    gpf_slice_kind kind;
    gpf_sched_host *host;
    int gpus[GPF_MAX_POD_GPUS];     /* indices into host->gpus */
    const gpf_mig_profile *prof;    /* mig */
    const gpf_vgpu_type *vtype;     /* vgpu */
} resolved;

static int find_gpu(const gpf_sched_host *h, const gpf_placement *p, int i)
{
    for (int g = 0; g < h->ngpus; g++) {
        if (p->gpu_uuids[i][0] ? strcmp(h->gpus[g].uuid, p->gpu_uuids[i]) == 0 : h->gpus[g].index == p->gpu_index[i])
            return g;
    }
    return -1;
}

/* Checks the placement's shape and finds its host, GPUs and MIG profile. */
static int resolve(gpf_sched_fleet *f, const gpf_catalog *cat, const gpf_placement *p, resolved *r,
                   gpf_error *err)
{
    memset(r, 0, sizeof *r);
    if (!f || !p)
        return gpf_error_set(err, GPF_EINVAL, "no fleet or placement");
    r->kind = p->vgpu_type[0]       ? GPF_SLICE_VGPU /* MIG-backed ones carry mig_* too */
              : p->mig_size > 0     ? GPF_SLICE_MIG
              : p->share_milli > 0  ? GPF_SLICE_SHARE
                                    : GPF_SLICE_WHOLE;
    int idx = gpf_sched_fleet_find_host(f, p->host_id);
    if (idx < 0)
        return gpf_error_set(err, GPF_ENOTFOUND, "host '%s' is not in the ledger", p->host_id);
    r->host = &f->hosts[idx];
    int maxg = r->kind == GPF_SLICE_WHOLE ? GPF_MAX_POD_GPUS : 1, ming = r->kind == GPF_SLICE_WHOLE ? 0 : 1;
    if (p->ngpus < ming || p->ngpus > maxg) /* whole with 0 GPUs: CPU and memory only */
        return gpf_error_set(err, GPF_EINVAL, "a %s placement needs %d..%d GPUs, not %d", gpf_slice_kind_name(r->kind),
                             ming, maxg, p->ngpus);
    if (p->cpus < 0 || p->memory_mib < 0)
        return gpf_error_set(err, GPF_EINVAL, "placement reserves negative CPUs or memory");
    if (r->kind == GPF_SLICE_SHARE && (p->share_milli > 1000 || p->share_memory_mib < 0))
        return gpf_error_set(err, GPF_EINVAL, "share of %d/1000 with %lld MiB is out of range", p->share_milli,
                             (long long)p->share_memory_mib);
    for (int i = 0; i < p->ngpus; i++) {
        r->gpus[i] = find_gpu(r->host, p, i);
        if (r->gpus[i] < 0)
            return gpf_error_set(err, GPF_ENOTFOUND, "host '%s' has no GPU %s", p->host_id,
                                 p->gpu_uuids[i][0] ? p->gpu_uuids[i] : "with that index");
        for (int j = 0; j < i; j++)
            if (r->gpus[j] == r->gpus[i])
                return gpf_error_set(err, GPF_EINVAL, "placement names GPU %s twice", r->host->gpus[r->gpus[i]].uuid);
    }
    if (r->kind == GPF_SLICE_VGPU) {
        r->vtype = gpf_catalog_vgpu(cat, p->vgpu_type);
        if (!r->vtype)
            return gpf_error_set(err, GPF_EINVAL, "the catalog has no vGPU type '%s'", p->vgpu_type);
        if (r->vtype->mig_backed && p->mig_size <= 0)
            return gpf_error_set(err, GPF_EINVAL, "MIG-backed vGPU type '%s' needs a MIG placement", p->vgpu_type);
        if (!r->vtype->mig_backed && p->mig_size > 0)
            return gpf_error_set(err, GPF_EINVAL, "time-sliced vGPU type '%s' takes no MIG placement", p->vgpu_type);
    }
    if (p->mig_size > 0) {
        const gpf_sched_gpu *g = &r->host->gpus[r->gpus[0]];
        r->prof = g->model ? gpf_catalog_mig_by_id(cat, g->model->mig_key, p->mig_profile_id) : NULL;
        if (!r->prof)
            return gpf_error_set(err, GPF_EINVAL, "GPU %s (%s) has no MIG profile with id %d", g->uuid,
                                 g->model ? g->model->key : "unknown model", p->mig_profile_id);
        /* a MIG-backed vGPU's instance is of its type's GI profile on this model (a GPU of
         * another model is refused by the geometry, as for time-sliced types) */
        int runs = r->vtype && gpf_catalog_model_matches(g->model, r->vtype->gpu_model);
        if (runs && sched_vgpu_profile(cat, g->model, r->vtype) != r->prof)
            return gpf_error_set(err, GPF_EINVAL, "vGPU type '%s' needs MIG profile %s on GPU %s (%s), not profile id %d",
                                 r->vtype->name, r->vtype->mig_profile, g->uuid, g->model->key, p->mig_profile_id);
    }
    return 0;
}

int gpf_sched_apply(gpf_sched_fleet *f, const gpf_catalog *cat, const gpf_placement *p, gpf_error *err)
{
    resolved r;
    int rc = resolve(f, cat, p, &r, err);
    if (rc != 0)
        return rc;
    gpf_sched_host *h = r.host;
    const char *why = NULL;
    int bad = 0;
    for (int i = 0; i < p->ngpus && !why; i++) {
        const gpf_sched_gpu *g = &h->gpus[r.gpus[i]];
        bad = i;
        if (r.kind == GPF_SLICE_WHOLE)
            why = sched_whole_conflict(g);
        else if (r.kind == GPF_SLICE_MIG)
            why = sched_mig_conflict(g, r.prof, p->mig_start, p->mig_size);
        else if (r.kind == GPF_SLICE_VGPU && r.prof)
            why = sched_mig_vgpu_conflict(g, r.vtype, r.prof, p->mig_start, p->mig_size);
        else if (r.kind == GPF_SLICE_VGPU)
            why = sched_vgpu_conflict(g, r.vtype);
        else
            why = sched_share_conflict(g, p->share_milli, p->share_memory_mib);
    }
    if (why)
        return gpf_error_set(err, GPF_ENOCAPACITY, "GPU %s on %s cannot take this %s slice: %s",
                             h->gpus[r.gpus[bad]].uuid, h->id, gpf_slice_kind_name(r.kind), why);
    if (h->cpus_used + (int64_t)p->cpus > h->cpus)
        return gpf_error_set(err, GPF_ENOCAPACITY, "host %s has %d of %d CPUs free, the placement needs %d", h->id,
                             h->cpus - h->cpus_used, h->cpus, p->cpus);
    if (h->memory_used_mib + p->memory_mib > h->memory_mib)
        return gpf_error_set(err, GPF_ENOCAPACITY, "host %s has %lld MiB of memory free, the placement needs %lld",
                             h->id, (long long)(h->memory_mib - h->memory_used_mib), (long long)p->memory_mib);
    int numa = numa_of(h, p);
    if (numa >= 0 && h->numa_used[numa] + p->cpus > h->numa_cpus[numa])
        return gpf_error_set(err, GPF_ENOCAPACITY, "NUMA node %d of host %s has %d of %d CPUs free, the placement needs %d",
                             numa, h->id, h->numa_cpus[numa] - h->numa_used[numa], h->numa_cpus[numa], p->cpus);
    for (int i = 0; i < p->ngpus; i++) {
        gpf_sched_gpu *g = &h->gpus[r.gpus[i]];
        if (r.kind == GPF_SLICE_WHOLE)
            sched_whole_book(g);
        else if (r.kind == GPF_SLICE_MIG)
            sched_mig_book(g, r.prof, p->mig_start);
        else if (r.kind == GPF_SLICE_VGPU && r.prof)
            sched_mig_vgpu_book(g, r.vtype, r.prof, p->mig_start);
        else if (r.kind == GPF_SLICE_VGPU)
            sched_vgpu_book(g, r.vtype);
        else
            sched_share_book(g, p->share_milli, p->share_memory_mib);
    }
    h->cpus_used += p->cpus;
    h->memory_used_mib += p->memory_mib;
    if (numa >= 0)
        h->numa_used[numa] += p->cpus;
    if (r.kind == GPF_SLICE_WHOLE)
        h->whole_pods[p->ngpus]++;
    h->pods++;
    sched_host_summarize(f, h);
    return 0;
}

int gpf_sched_release(gpf_sched_fleet *f, const gpf_catalog *cat, const gpf_placement *p, gpf_error *err)
{
    resolved r;
    gpf_error rerr = {0};
    int rc = resolve(f, cat, p, &r, &rerr);
    if (rc != 0) /* releasing what is not booked, wherever it points, is a caller error */
        return gpf_error_set(err, GPF_EINVAL, "%s", rerr.msg);
    gpf_sched_host *h = r.host;
    for (int i = 0; i < p->ngpus; i++) {
        const gpf_sched_gpu *g = &h->gpus[r.gpus[i]];
        int booked = 0;
        if (r.kind == GPF_SLICE_WHOLE) {
            booked = g->whole_taken;
        } else if (r.kind == GPF_SLICE_MIG || r.prof) { /* a bare MIG slice, or a MIG-backed vGPU of its type */
            booked = sched_mig_find(g, r.vtype, p->mig_profile_id, p->mig_start, p->mig_size) >= 0;
        } else if (r.kind == GPF_SLICE_VGPU) {
            for (int k = 0; k < g->nvgpu_types && !booked; k++)
                booked = g->vgpu[k].type == r.vtype && g->vgpu[k].n > 0;
        } else {
            booked = g->shares > 0 && g->share_milli_used >= p->share_milli &&
                     g->share_memory_used_mib >= p->share_memory_mib;
        }
        if (!booked)
            return gpf_error_set(err, GPF_EINVAL, "GPU %s on %s holds no such %s slice", g->uuid, h->id,
                                 gpf_slice_kind_name(r.kind));
    }
    if (h->cpus_used < p->cpus || h->memory_used_mib < p->memory_mib)
        return gpf_error_set(err, GPF_EINVAL, "host %s has fewer CPUs or less memory booked than the placement holds",
                             h->id);
    if (r.kind == GPF_SLICE_WHOLE && h->whole_pods[p->ngpus] <= 0)
        return gpf_error_set(err, GPF_EINVAL, "host %s holds no %d-GPU placement", h->id, p->ngpus);
    int numa = numa_of(h, p);
    if (numa >= 0 && h->numa_used[numa] < p->cpus)
        return gpf_error_set(err, GPF_EINVAL, "NUMA node %d of host %s has fewer CPUs booked than the placement holds",
                             numa, h->id);
    for (int i = 0; i < p->ngpus; i++) {
        gpf_sched_gpu *g = &h->gpus[r.gpus[i]];
        if (r.kind == GPF_SLICE_WHOLE)
            sched_whole_unbook(g);
        else if (r.kind == GPF_SLICE_MIG)
            sched_mig_unbook(g, p->mig_profile_id, p->mig_start, p->mig_size);
        else if (r.kind == GPF_SLICE_VGPU && r.prof)
            sched_mig_vgpu_unbook(g, r.vtype, p->mig_profile_id, p->mig_start, p->mig_size);
        else if (r.kind == GPF_SLICE_VGPU)
            sched_vgpu_unbook(g, r.vtype);
        else
            sched_share_unbook(g, p->share_milli, p->share_memory_mib);
    }
    h->cpus_used -= p->cpus;
    h->memory_used_mib -= p->memory_mib;
    if (numa >= 0)
        h->numa_used[numa] -= p->cpus;
    if (r.kind == GPF_SLICE_WHOLE)
        h->whole_pods[p->ngpus]--;
    if (h->pods > 0)
        h->pods--;
    sched_host_summarize(f, h);
    return 0;
}

int gpf_sched_gpu_milli(const gpf_catalog *cat, const gpf_gpu_model *model, const gpf_slice_spec *s)
{
    if (!s)
        return GPF_EINVAL;
    switch (s->kind) {
    case GPF_SLICE_WHOLE:
        return s->gpu_count >= 1 && s->gpu_count <= GPF_MAX_POD_GPUS ? 1000 * s->gpu_count : GPF_EINVAL;
    case GPF_SLICE_SHARE:
        return s->share_milli >= 1 && s->share_milli <= 1000 ? s->share_milli : GPF_EINVAL;
    case GPF_SLICE_MIG: {
        const gpf_mig_profile *p = model ? gpf_catalog_mig_by_name(cat, model->mig_key, s->mig_profile) : NULL;
        if (!p || model->mig_compute_slices <= 0)
            return GPF_EINVAL;
        return 1000 * p->compute_slices / model->mig_compute_slices;
    }
    case GPF_SLICE_VGPU: {
        const gpf_vgpu_type *t = gpf_catalog_vgpu(cat, s->vgpu_type);
        if (!t)
            return GPF_EINVAL;
        if (t->mig_backed && model && model->mig_compute_slices > 0)
            return 1000 * t->mig_compute_slices / model->mig_compute_slices;
        return 1000 / t->max_per_gpu;
    }
    }
    return GPF_EINVAL;
}
