/* Per-GPU geometry: whole GPUs, MIG slot bitmaps with the booked instances, and shares.
 * Says what fits on one GPU and books it; knows nothing about hosts or policy. */
#include <string.h>

#include "sched/sched_int.h"

uint32_t sched_slot_mask(int start, int size)
{
    if (start < 0 || size <= 0 || start >= 32 || size > 32 - start)
        return 0;
    uint32_t bits = size >= 32 ? UINT32_MAX : ((UINT32_C(1) << size) - 1);
    return bits << start;
}

int64_t sched_gpu_memory_mib(const gpf_sched_gpu *g)
{
    if (g->memory_mib > 0)
        return g->memory_mib;
    return g->model ? (int64_t)g->model->memory_gb * 1024 : 0;
}

int sched_gpu_empty(const gpf_sched_gpu *g)
{
    return !g->whole_taken && g->mig_instances == 0 && g->shares == 0;
}

int sched_host_empty_gpus(const gpf_sched_host *h)
{
    int n = 0;
    for (int i = 0; i < h->ngpus; i++)
        n += h->gpus[i].model && sched_gpu_empty(&h->gpus[i]);
    return n;
}

const char *sched_whole_conflict(const gpf_sched_gpu *g)
{
    if (!g->model)
        return "its model is not in the catalog";
    if (g->mig_enabled)
        return "it is in MIG mode";
    if (g->whole_taken)
        return "it is already taken whole";
    if (g->mig_instances > 0)
        return "it holds MIG instances";
    if (g->shares > 0)
        return "it holds shares";
    return NULL;
}

static int has_placement(const gpf_mig_profile *p, int start, int size)
{
    if (size != p->memory_slices)
        return 0;
    for (int i = 0; i < p->nplacements; i++)
        if (p->placements[i].start == start && p->placements[i].size == size)
            return 1;
    return 0;
}

const char *sched_mig_conflict(const gpf_sched_gpu *g, const gpf_mig_profile *p, int start, int size)
{
    const gpf_gpu_model *m = g->model;
    if (!m)
        return "its model is not in the catalog";
    if (!g->mig_enabled)
        return "it is not in MIG mode";
    if (g->whole_taken || g->shares > 0)
        return "it holds a whole-GPU or share slice";
    if (!m->mig_key[0] || strcmp(p->mig_key, m->mig_key) != 0)
        return "the profile belongs to another GPU model";
    if (!has_placement(p, start, size))
        return "the placement is not one the profile allows";
    uint32_t mask = sched_slot_mask(start, size);
    if (!mask || (m->mig_grid_units > 0 && start + size > m->mig_grid_units))
        return "the placement lies outside the GPU's slot grid";
    if (g->mig_slots_used & mask)
        return "its memory slots are taken";
    if (g->mig_instances >= GPF_MIG_MAX_PLACEMENTS ||
        (m->mig_max_instances > 0 && g->mig_instances >= m->mig_max_instances))
        return "the GPU's MIG instance limit is reached";
    int same = 0, compute = 0;
    for (int i = 0; i < g->mig_instances; i++) {
        same += g->mig[i].profile_id == p->gi_profile_id;
        compute += g->mig[i].compute_slices;
    }
    if (same >= p->max_instances)
        return "the profile's per-GPU instance limit is reached";
    if (m->mig_compute_slices > 0 && compute + p->compute_slices > m->mig_compute_slices)
        return "not enough compute slices are left";
    return NULL;
}

const char *sched_share_conflict(const gpf_sched_gpu *g, int milli, int64_t memory_mib)
{
    if (!g->model)
        return "its model is not in the catalog";
    if (g->mig_enabled)
        return "it is in MIG mode";
    if (g->whole_taken)
        return "it is taken whole";
    if (g->mig_instances > 0)
        return "it holds MIG instances";
    if (milli <= 0 || g->share_milli_used + milli > 1000)
        return "not enough of its compute is left";
    if (memory_mib < 0 || g->share_memory_used_mib + memory_mib > sched_gpu_memory_mib(g))
        return "not enough of its memory is left";
    return NULL;
}

void sched_whole_book(gpf_sched_gpu *g)
{
    g->whole_taken = 1;
}

void sched_whole_unbook(gpf_sched_gpu *g)
{
    g->whole_taken = 0;
}

void sched_mig_book(gpf_sched_gpu *g, const gpf_mig_profile *p, int start)
{
    /* Kept sorted by start (starts never repeat: slots do not overlap), so the ledger is the
     * same whatever order instances were booked or released in. */
    int n = g->mig_instances, i = n;
    while (i > 0 && g->mig[i - 1].start > start)
        i--;
    memmove(&g->mig[i + 1], &g->mig[i], (size_t)(n - i) * sizeof g->mig[0]);
    g->mig[i].profile_id = p->gi_profile_id;
    g->mig[i].start = start;
    g->mig[i].size = p->memory_slices;
    g->mig[i].compute_slices = p->compute_slices;
    g->mig_instances = n + 1;
    g->mig_slots_used |= sched_slot_mask(start, p->memory_slices);
}

int sched_mig_unbook(gpf_sched_gpu *g, int profile_id, int start, int size)
{
    int n = g->mig_instances;
    for (int i = 0; i < n; i++) {
        if (g->mig[i].profile_id != profile_id || g->mig[i].start != start || g->mig[i].size != size)
            continue;
        memmove(&g->mig[i], &g->mig[i + 1], (size_t)(n - 1 - i) * sizeof g->mig[0]);
        memset(&g->mig[n - 1], 0, sizeof g->mig[0]);
        g->mig_instances = n - 1;
        g->mig_slots_used &= ~sched_slot_mask(start, size);
        return 0;
    }
    return -1;
}

void sched_share_book(gpf_sched_gpu *g, int milli, int64_t memory_mib)
{
    g->share_milli_used += milli;
    g->share_memory_used_mib += memory_mib;
    g->shares++;
}

void sched_share_unbook(gpf_sched_gpu *g, int milli, int64_t memory_mib)
{
    g->share_milli_used -= milli;
    g->share_memory_used_mib -= memory_mib;
    g->shares--;
}

void sched_mig_set_load(sched_mig_set *s, const gpf_catalog *cat, const gpf_gpu_model *m)
{
    memset(s, 0, sizeof *s);
    s->model = m;
    if (!m || !m->mig_key[0])
        return;
    int np = gpf_catalog_mig_count(cat, m->mig_key);
    for (int i = 0; i < np && s->n < (int)(sizeof s->p / sizeof s->p[0]); i++)
        s->p[s->n++] = gpf_catalog_mig_at(cat, m->mig_key, i);
}

int sched_mig_options(const sched_mig_set *s, const gpf_sched_gpu *g)
{
    int n = 0;
    for (int i = 0; i < s->n; i++) {
        const gpf_mig_profile *p = s->p[i];
        for (int j = 0; j < p->nplacements; j++)
            n += sched_mig_conflict(g, p, p->placements[j].start, p->placements[j].size) == NULL;
    }
    return n;
}
