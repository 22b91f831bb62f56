/* Per-GPU geometry: whole GPUs, MIG slot bitmaps with the booked instances (bare MIG slices
 * or MIG-backed vGPUs), shares and time-sliced vGPUs. Says what fits on one GPU and books
 * it; knows nothing about hosts or policy. */
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
    return !g->whole_taken && g->mig_instances == 0 && g->shares == 0 && g->vgpus == 0;
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
    if (g->vgpus > 0)
        return "it runs vGPUs";
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

/* What a MIG instance of p at (start, size) needs of g's MIG geometry alone: MIG mode, the
 * model's profile, a valid placement on free slots, and the instance and compute limits. */
static const char *mig_geometry_conflict(const gpf_sched_gpu *g, const gpf_mig_profile *p, int start, int size)
{
    const gpf_gpu_model *m = g->model;
    if (!m)
        return "its model is not in the catalog";
    if (!g->mig_enabled)
        return "it is not in MIG mode";
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

const char *sched_mig_conflict(const gpf_sched_gpu *g, const gpf_mig_profile *p, int start, int size)
{
    if (!g->model)
        return "its model is not in the catalog";
    if (!g->mig_enabled)
        return "it is not in MIG mode";
    if (g->whole_taken || g->shares > 0 || g->vgpus > 0)
        return "it holds a whole-GPU, share or vGPU slice";
    if (g->mig_vgpus > 0)
        return "it serves MIG-backed vGPUs (vGPU host driver), which take no bare MIG slice beside them";
    return mig_geometry_conflict(g, p, start, size);
}

const gpf_mig_profile *sched_vgpu_profile(const gpf_catalog *cat, const gpf_gpu_model *m, const gpf_vgpu_type *t)
{
    if (!m || !t || !t->mig_backed || !m->mig_key[0] || !gpf_catalog_model_matches(m, t->gpu_model))
        return NULL;
    return gpf_catalog_mig_by_name(cat, m->mig_key, t->mig_profile);
}

int sched_mig_vgpus_of(const gpf_sched_gpu *g, const gpf_vgpu_type *t)
{
    int n = 0;
    for (int i = 0; i < g->mig_instances; i++)
        n += g->mig[i].vgpu == t;
    return n;
}

const char *sched_mig_vgpu_conflict(const gpf_sched_gpu *g, const gpf_vgpu_type *t, const gpf_mig_profile *p,
                                    int start, int size)
{
    if (!g->model)
        return "its model is not in the catalog";
    if (!gpf_catalog_model_matches(g->model, t->gpu_model))
        return "the vGPU type belongs to another GPU model";
    if (!t->mig_backed)
        return "the vGPU type is time-sliced, not MIG-backed";
    if (!g->mig_enabled)
        return "it is not in MIG mode";
    if (g->whole_taken || g->shares > 0 || g->vgpus > 0)
        return "it holds a whole-GPU, share or time-sliced vGPU slice";
    if (g->mig_instances > g->mig_vgpus)
        return "it holds bare MIG slices, which take no MIG-backed vGPU beside them";
    if (sched_mig_vgpus_of(g, t) >= t->max_per_gpu)
        return "it runs the most vGPUs of this type it can (max_per_gpu)";
    return mig_geometry_conflict(g, p, start, size);
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
    if (g->vgpus > 0)
        return "it runs vGPUs";
    if (milli <= 0 || g->share_milli_used + milli > 1000)
        return "not enough of its compute is left";
    if (memory_mib < 0 || g->share_memory_used_mib + memory_mib > sched_gpu_memory_mib(g))
        return "not enough of its memory is left";
    return NULL;
}

static gpf_sched_vgpu *vgpu_slot(gpf_sched_gpu *g, const gpf_vgpu_type *t)
{
    for (int i = 0; i < g->nvgpu_types; i++)
        if (g->vgpu[i].type == t)
            return &g->vgpu[i];
    return NULL;
}

/* Frame buffer the GPU offers its vGPUs: a type's size times its per-GPU maximum is the
 * whole board (48 GB on an L40S whether as 1 × 48C or 4 × 12C). */
static int64_t vgpu_board_mib(const gpf_sched_gpu *g, const gpf_vgpu_type *t)
{
    int64_t board = t->framebuffer_mib * t->max_per_gpu;
    for (int i = 0; i < g->nvgpu_types; i++) {
        int64_t b = g->vgpu[i].type->framebuffer_mib * g->vgpu[i].type->max_per_gpu;
        if (b > board)
            board = b;
    }
    return board;
}

const char *sched_vgpu_conflict(const gpf_sched_gpu *g, const gpf_vgpu_type *t)
{
    if (!g->model)
        return "its model is not in the catalog";
    if (!gpf_catalog_model_matches(g->model, t->gpu_model))
        return "the vGPU type belongs to another GPU model";
    if (t->mig_backed)
        return "the vGPU type is MIG-backed: it needs a MIG placement";
    if (g->mig_enabled)
        return "it is in MIG mode";
    if (g->whole_taken || g->shares > 0 || g->mig_instances > 0)
        return "it holds a whole-GPU, share or MIG slice";
    const gpf_sched_vgpu *same = vgpu_slot((gpf_sched_gpu *)g, t);
    int n = same ? same->n : 0;
    if (!g->vgpu_mixed) {
        if (g->vgpus > 0 && !same)
            return "it runs another vGPU type (equal-size mode: one type per GPU)";
        if (n >= t->max_per_gpu)
            return "it runs the most vGPUs of this type it can";
        return NULL;
    }
    int max = t->max_per_gpu_mixed > 0 ? t->max_per_gpu_mixed : t->max_per_gpu;
    if (n >= max)
        return "it runs the most vGPUs of this type mixed-size mode allows";
    if (!same && g->nvgpu_types >= GPF_VGPU_TYPES_PER_GPU)
        return "it runs too many vGPU types";
    int64_t used = 0;
    for (int i = 0; i < g->nvgpu_types; i++)
        used += g->vgpu[i].type->framebuffer_mib * g->vgpu[i].n;
    if (used + t->framebuffer_mib > vgpu_board_mib(g, t))
        return "not enough of its frame buffer is left";
    return NULL;
}

void sched_vgpu_book(gpf_sched_gpu *g, const gpf_vgpu_type *t)
{
    gpf_sched_vgpu *s = vgpu_slot(g, t);
    if (!s) {
        s = &g->vgpu[g->nvgpu_types++];
        s->type = t;
        s->n = 0;
    }
    s->n++;
    g->vgpus++;
}

int sched_vgpu_unbook(gpf_sched_gpu *g, const gpf_vgpu_type *t)
{
    gpf_sched_vgpu *s = vgpu_slot(g, t);
    if (!s || s->n <= 0)
        return -1;
    s->n--;
    g->vgpus--;
    if (s->n == 0) { /* keep the list dense, in first-use order */
        int i = (int)(s - g->vgpu);
        memmove(&g->vgpu[i], &g->vgpu[i + 1], (size_t)(g->nvgpu_types - 1 - i) * sizeof g->vgpu[0]);
        g->nvgpu_types--;
        memset(&g->vgpu[g->nvgpu_types], 0, sizeof g->vgpu[0]);
    }
    return 0;
}

void sched_whole_book(gpf_sched_gpu *g)
{
    g->whole_taken = 1;
}

void sched_whole_unbook(gpf_sched_gpu *g)
{
    g->whole_taken = 0;
}

/* Books a MIG instance of p at start serving vGPU type t (NULL: a bare MIG slice). */
static void mig_book(gpf_sched_gpu *g, const gpf_mig_profile *p, int start, const gpf_vgpu_type *t)
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
    g->mig[i].vgpu = t;
    g->mig_instances = n + 1;
    g->mig_vgpus += t != NULL;
    g->mig_slots_used |= sched_slot_mask(start, p->memory_slices);
}

int sched_mig_find(const gpf_sched_gpu *g, const gpf_vgpu_type *t, int profile_id, int start, int size)
{
    for (int i = 0; i < g->mig_instances; i++)
        if (g->mig[i].profile_id == profile_id && g->mig[i].start == start && g->mig[i].size == size &&
            g->mig[i].vgpu == t)
            return i;
    return -1;
}

static int mig_unbook(gpf_sched_gpu *g, const gpf_vgpu_type *t, int profile_id, int start, int size)
{
    int n = g->mig_instances, i = sched_mig_find(g, t, profile_id, start, size);
    if (i < 0)
        return -1;
    memmove(&g->mig[i], &g->mig[i + 1], (size_t)(n - 1 - i) * sizeof g->mig[0]);
    memset(&g->mig[n - 1], 0, sizeof g->mig[0]);
    g->mig_instances = n - 1;
    g->mig_vgpus -= t != NULL;
    g->mig_slots_used &= ~sched_slot_mask(start, size);
    return 0;
}

void sched_mig_book(gpf_sched_gpu *g, const gpf_mig_profile *p, int start)
{
    mig_book(g, p, start, NULL);
}

int sched_mig_unbook(gpf_sched_gpu *g, int profile_id, int start, int size)
{
    return mig_unbook(g, NULL, profile_id, start, size);
}

void sched_mig_vgpu_book(gpf_sched_gpu *g, const gpf_vgpu_type *t, const gpf_mig_profile *p, int start)
{
    mig_book(g, p, start, t);
}

int sched_mig_vgpu_unbook(gpf_sched_gpu *g, const gpf_vgpu_type *t, int profile_id, int start, int size)
{
    return t ? mig_unbook(g, t, profile_id, start, size) : -1;
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
            n += mig_geometry_conflict(g, p, p->placements[j].start, p->placements[j].size) == NULL;
    }
    return n;
}
