/* Placement policies by name, and the scored placement loop the paper's baselines use.
 *
 * A scored policy looks at every host that can take the request (filter), gives it an
 * integer score (higher wins; ties go to the host that comes first in fleet order) and
 * picks the GPU on the chosen host by its own rule. The formulas follow the FGD paper's
 * simulator as written down in docs/placement.md; "gpufleet" is FGD's measure with terms of
 * its own (CPU shortfall, model pressure, near-exact fills) once it has a task distribution,
 * and the default ranking of policy.c and place.c before. A policy's state is its random
 * stream and what it remembers to decide fast (docs/placement.md, "Decision speed"):
 * per-shape score tables over the hosts, a compact record of each host per version, F(n)
 * values by their inputs, each keyed by everything its value depends on, so decisions are
 * those of a fresh policy; and gpufleet's model pressures, worked out from the fleet's GPUs
 * by model when the tasks are set and again when the fleet's host count changes.
 *
 * This file holds the policy object (names, lifecycle, task distribution, random stream),
 * the scored placement loop with its per-shape tables, and the test hook that checks the
 * caches. The rest: policies_hosts.c (host records and the GPU filter), policies_fgd.c
 * (FGD's F(n) and score), policies_gpufleet.c (gpufleet's terms and model pressures),
 * policies_baselines.c (the other baselines' scores); policies_int.h, what they share. */
#include <string.h>

#include "sched/policies_int.h"
#include "util/alloc.h"

static const char *const names[POL_N + 1] = {"gpufleet", "first-fit",  "best-fit", "dot-product", "packing",
                                             "clustering", "fgd",      "random",   NULL};

static void drop_arrays(gpf_sched_policy *p)
{
    for (size_t i = 0; i < sizeof p->chunk / sizeof p->chunk[0]; i++) {
        gpf_free(p->chunk[i]);
        p->chunk[i] = NULL;
    }
    gpf_free(p->rec_mem);
    gpf_free(p->st);
    gpf_free(p->st_index);
    gpf_free(p->answer);
    gpf_free(p->gap_ver);
    gpf_free(p->gap_lv);
    p->gap_ver = NULL;
    p->gap_lv = NULL;
    memset(p->gap_n, 0, sizeof p->gap_n);
    p->gap_total = p->gap_hosts = 0;
    p->rec = NULL;
    p->rec_mem = NULL;
    p->st = NULL;
    p->st_index = NULL;
    p->answer = NULL;
    p->nst = p->st_cap = p->st_icap = 0;
    memset(p->shapes, 0, sizeof p->shapes);
    p->nshapes = p->ncap = 0;
}

static void drop_tables(gpf_sched_policy *p)
{
    drop_arrays(p);
    for (int i = 0; i < p->nok; i++) {
        gpf_free(p->ok[i]);
        gpf_free(p->ok_w[i]);
        p->ok_w[i] = NULL;
    }
    gpf_free(p->memo); /* keyed by ok-table index and the task list */
    p->memo = NULL;
    p->nok = 0;
}

const char *const *gpf_sched_policy_names(void)
{
    return names;
}

int gpf_sched_policy_new(const char *name, uint64_t seed, gpf_sched_policy **out, gpf_error *err)
{
    *out = NULL;
    for (int k = 0; k < POL_N; k++) {
        if (name && strcmp(name, names[k]) == 0) {
            gpf_sched_policy *p = GPF_NEW(gpf_sched_policy);
            p->kind = (pol_kind)k;
            p->rng = seed ^ 0x9e3779b97f4a7c15ULL;
            for (int r = 0; r <= 1000; r++)
                p->room[r].host = -1; /* no host offered at this room this decision */
            *out = p;
            return 0;
        }
    }
    return gpf_error_set(err, GPF_EINVAL,
                         "unknown placement policy '%s' (gpufleet, first-fit, best-fit, dot-product, packing, "
                         "clustering, fgd, random)",
                         name ? name : "");
}

void gpf_sched_policy_free(gpf_sched_policy *p)
{
    if (!p)
        return;
    drop_tables(p);
    gpf_free(p->tasks);
    gpf_free(p->hot);
    gpf_free(p->cpu_steps);
    gpf_free(p->group);
    gpf_free(p);
}

const char *gpf_sched_policy_name(const gpf_sched_policy *p)
{
    return names[p ? p->kind : POL_GPUFLEET];
}

void gpf_sched_policy_set_tasks(gpf_sched_policy *p, const gpf_sched_task_type *t, int n)
{
    drop_tables(p); /* scores were against the old distribution */
    p->npress = 0;
    p->press_nhosts = -1;
    p->press_fleet = NULL;
    p->cpu_per_milli = 0;
    gpf_free(p->tasks);
    gpf_free(p->hot);
    gpf_free(p->cpu_steps);
    gpf_free(p->group);
    p->tasks = NULL;
    p->hot = NULL;
    p->cpu_steps = NULL;
    p->group = NULL;
    p->ntasks = p->ncpu_steps = p->ngroups = 0;
    p->w_all = 0;
    if (n <= 0)
        return;
    p->tasks = gpf_calloc((size_t)n, sizeof *t);
    memcpy(p->tasks, t, (size_t)n * sizeof *t);
    p->hot = gpf_calloc((size_t)n, sizeof *p->hot);
    for (int k = 0; k < n; k++) {
        p->hot[k].num_gpu = t[k].num_gpu;
        p->hot[k].gpu_milli = t[k].gpu_milli;
        p->hot[k].cpus = t[k].cpus;
        p->hot[k].weight = t[k].weight;
    }
    p->ntasks = n;
    double cpus = 0, milli = 0;
    for (int k = 0; k < n; k++) {
        if (t[k].num_gpu <= 0)
            continue;
        cpus += t[k].weight * (double)t[k].cpus;
        milli += t[k].weight * t[k].num_gpu * t[k].gpu_milli;
    }
    p->cpu_per_milli = milli > 0 ? cpus / milli : 0;
    p->cpu_steps = gpf_calloc((size_t)n, sizeof *p->cpu_steps);
    for (int k = 0; k < n; k++) { /* insertion into the sorted distinct list */
        int j = 0;
        while (j < p->ncpu_steps && p->cpu_steps[j] < t[k].cpus)
            j++;
        if (j < p->ncpu_steps && p->cpu_steps[j] == t[k].cpus)
            continue;
        memmove(&p->cpu_steps[j + 1], &p->cpu_steps[j], (size_t)(p->ncpu_steps - j) * sizeof *p->cpu_steps);
        p->cpu_steps[j] = t[k].cpus;
        p->ncpu_steps++;
    }
    p->group = gpf_calloc((size_t)n, sizeof *p->group);
    for (int k = 0; k < n; k++) { /* distinct (GPUs, thousandths), thousandths descending */
        p->w_all += t[k].weight;
        if (t[k].num_gpu <= 0)
            continue;
        int j = 0;
        while (j < p->ngroups && (p->group[j].gpu_milli > t[k].gpu_milli ||
                                  (p->group[j].gpu_milli == t[k].gpu_milli && p->group[j].num_gpu < t[k].num_gpu)))
            j++;
        if (j < p->ngroups && p->group[j].gpu_milli == t[k].gpu_milli && p->group[j].num_gpu == t[k].num_gpu)
            continue;
        memmove(&p->group[j + 1], &p->group[j], (size_t)(p->ngroups - j) * sizeof *p->group);
        p->group[j].num_gpu = t[k].num_gpu;
        p->group[j].gpu_milli = t[k].gpu_milli;
        p->ngroups++;
    }
}

/* splitmix64: a small, well-mixed stream; uniform below n by rejection. */
uint64_t sched_rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int sched_rng_below(uint64_t *s, int n)
{
    uint64_t lim = UINT64_MAX - UINT64_MAX % (uint64_t)n, x;
    do
        x = sched_rng_next(s);
    while (x >= lim);
    return (int)(x % (uint64_t)n);
}

/* ---- the scored placement loop ---------------------------------------------- */

/* Hosts in equal states are scored once per decision, except under clustering (it reads the
 * host's whole-GPU pods), first-fit and random (they score nothing); hosts of mixed models
 * (other) never get a state id. */
static int merges_states(const gpf_sched_policy *pol)
{
    return pol->kind != POL_CLUSTERING && pol->kind != POL_FIRST_FIT && pol->kind != POL_RANDOM;
}

/* The memory cap a share of GPU g gets: the request's, else its part of the GPU's memory. */
static int64_t share_cap(const gpf_sched_gpu *g, const gpf_sched_request *req)
{
    const gpf_slice_spec *s = &req->slice;
    return s->share_memory_mib > 0 ? s->share_memory_mib : sched_gpu_memory_mib(g) * s->share_milli / 1000;
}

/* Share request: the GPU left with the least room that still fits (first on ties), or the
 * lowest index when lowest is set. */
static void pick_share_tight(gpf_sched_policy *pol, const gpf_sched_host *h, const host_rec *r,
                             const gpf_sched_request *req, int lowest, sched_cand *c)
{
    int best = -1, best_left = 0;
    for (int g = 0; g < r->n; g++) {
        if (!sched_share_fits(pol, req, h, r, g))
            continue;
        if (best < 0 || (!lowest && r->left[g] < best_left)) {
            best = g;
            best_left = r->left[g];
            if (lowest)
                break;
        }
    }
    c->gpus[0] = best;
}

static void pick_share_random(gpf_sched_policy *pol, const gpf_sched_host *h, const host_rec *r,
                              const gpf_sched_request *req, sched_cand *c)
{
    int idx[GPF_MAX_HOST_GPUS], n = 0;
    for (int g = 0; g < r->n; g++)
        if (sched_share_fits(pol, req, h, r, g))
            idx[n++] = g;
    c->gpus[0] = idx[sched_rng_below(&pol->rng, n)];
}

static void make_key(const gpf_sched_request *req, req_key *k)
{
    memset(k, 0, sizeof *k);
    k->kind = (int)req->slice.kind;
    k->milli = req->slice.share_milli;
    k->count = req->slice.gpu_count;
    k->cpus = req->cpus;
    k->nmodels = req->nmodels;
    k->mem_cap = req->slice.share_memory_mib;
    uint64_t hsh = 1469598103934665603ULL; /* FNV-1a over the model names, each ended by 0xff */
    for (int i = 0; i < req->nmodels; i++) {
        for (const char *p = req->models[i]; p && *p; p++)
            hsh = (hsh ^ (unsigned char)*p) * 1099511628211ULL;
        hsh = (hsh ^ 0xffu) * 1099511628211ULL;
    }
    k->models_hash = hsh;
}

/* Room for n hosts in every per-host table (they start empty when they grow). */
static void tables_reserve(gpf_sched_policy *pol, int n)
{
    if (n <= pol->ncap)
        return;
    int ncap = n > 2 * pol->ncap ? n : 2 * pol->ncap;
    drop_arrays(pol);
    pol->ncap = ncap;
    pol->rec_mem = zalloc_touched((size_t)ncap + 1, sizeof *pol->rec);
    pol->rec = (host_rec *)(((uintptr_t)pol->rec_mem + 63) & ~(uintptr_t)63);
    if (merges_states(pol)) {
        pol->st_cap = 4 * ncap; /* starting over every few thousand host changes on a 1,213-host fleet */
        for (pol->st_icap = 16; pol->st_icap < 2 * pol->st_cap;)
            pol->st_icap *= 2;
        pol->st = zalloc_touched((size_t)pol->st_cap, sizeof *pol->st);
        pol->st_index = zalloc_touched((size_t)pol->st_icap, sizeof *pol->st_index);
        pol->answer = zalloc_touched((size_t)pol->st_cap, sizeof *pol->answer);
    }
    if (pol->kind == POL_GPUFLEET) {
        pol->gap_ver = gpf_calloc((size_t)ncap, sizeof *pol->gap_ver);
        pol->gap_lv = gpf_calloc((size_t)ncap, sizeof *pol->gap_lv);
    }
    if (!pol->memo && (pol->kind == POL_FGD || pol->kind == POL_GPUFLEET) && pol->ntasks > 0)
        pol->memo = zalloc_touched((size_t)1 << MEMO_BITS, sizeof *pol->memo);
}

/* The table of the request's shape, made (or taking the least recently used one's place)
 * when it is new. */
static shape_tab *shape_for(gpf_sched_policy *pol, const gpf_sched_fleet *f, const req_key *key)
{
    tables_reserve(pol, f->nhosts);
    pol->clock++;
    shape_tab *t = NULL;
    for (int i = 0; i < pol->nshapes && !t; i++)
        if (memcmp(&pol->shapes[i].key, key, sizeof *key) == 0)
            t = &pol->shapes[i];
    if (!t) {
        if (pol->nshapes < MAX_SHAPES) {
            int k = pol->nshapes % SHAPE_CHUNK;
            size_t n = (size_t)pol->ncap;
            char **ch = &pol->chunk[pol->nshapes / SHAPE_CHUNK];
            size_t at = SHAPE_CHUNK * n; /* ver, score, room, then why, each for SHAPE_CHUNK shapes */
            if (!*ch)
                *ch = zalloc_touched(at, sizeof *t->ver + sizeof *t->score + sizeof *t->room + sizeof *t->why);
            t = &pol->shapes[pol->nshapes++];
            t->ver = (uint64_t *)(void *)*ch + (size_t)k * n;
            t->score = (double *)(void *)(*ch + at * sizeof *t->ver) + (size_t)k * n;
            t->room = (int16_t *)(void *)(*ch + at * (sizeof *t->ver + sizeof *t->score)) + (size_t)k * n;
            t->why = (signed char *)(*ch + at * (sizeof *t->ver + sizeof *t->score + sizeof *t->room)) + (size_t)k * n;
        } else {
            t = &pol->shapes[0];
            for (int i = 1; i < pol->nshapes; i++)
                if (pol->shapes[i].used < t->used)
                    t = &pol->shapes[i];
            memset(t->ver, 0, (size_t)pol->ncap * sizeof *t->ver);
        }
        t->key = *key;
    }
    t->used = pol->clock;
    return t;
}

/* Host i from scratch, from its record r: the GPU filter, the CPU check and the policy's
 * score (set when the verdict is REJ_NONE); c gets the GPUs the policy would use there. */
static int score_host(const gpf_sched_fleet *f, gpf_sched_policy *pol, int i, host_rec *r,
                      const gpf_sched_request *req, sched_cand *c, double *score)
{
    const gpf_sched_host *h = &f->hosts[i];
    int why = sched_filter(pol, h, r, req, c);
    *score = 0;
    if (why == REJ_NONE && (int64_t)req->cpus > r->cpu_left)
        why = REJ_CPU;
    if (why != REJ_NONE)
        return why;
    int64_t unit = unit_milli(f), cpu = (int64_t)req->cpus * unit, rmilli = req_gpu_milli(req);
    if (pol->kind == POL_RANDOM) {
        /* chosen at the end */
    } else if (pol->kind == POL_FIRST_FIT) {
        if (is_share(req))
            pick_share_tight(pol, h, r, req, 1, c);
    } else if (pol->kind == POL_FGD || pol->kind == POL_GPUFLEET) {
        *score = sched_score_frag(f, pol, h, r, req, c, pol->kind == POL_GPUFLEET);
    } else {
        host_view v;
        sched_view(f, r, &v);
        if (is_share(req))
            pick_share_tight(pol, h, r, req, 0, c);
        if (pol->kind == POL_BEST_FIT)
            *score = sched_score_best_fit(&v, cpu, rmilli);
        else if (pol->kind == POL_DOT_PRODUCT)
            *score = sched_score_dot(&v, cpu, rmilli);
        else if (pol->kind == POL_PACKING)
            *score = sched_score_packing(&v, req, c);
        else
            *score = sched_score_clustering(h, &v, req);
    }
    return why;
}

static int place_scored(const gpf_sched_fleet *f, const gpf_catalog *cat, gpf_sched_policy *pol,
                        const gpf_sched_request *req, gpf_placement *out, gpf_error *err)
{
    int rej[REJ_N] = {0}, rc, nfeasible = 0, best = -1;
    double best_score = -1e300, score;
    sched_cand c;
    host_rec tmp;
    req_key key;
    if ((rc = sched_validate(f, cat, req, err)) != 0)
        return rc;
    make_key(req, &key);
    shape_tab *t = shape_for(pol, f, &key);
    pol->nallow = 0;
    if (pol->kind == POL_GPUFLEET) {
        sched_press_update(pol, f);
        pol->press_floor = sched_press_floor(pol, req);
    }
    /* hosts in equal states get equal verdicts and scores (merges_states), but for a share
     * with a memory cap of its own: the GPUs' memory is not in the state */
    int dedup = !(is_share(req) && req->slice.share_memory_mib > 0);
    /* gpufleet places a share by its score and the balance of rooms (sched_gap_cost): the
     * rooms are counted as the loop meets the hosts, and the best host per room of the GPU
     * it would use is kept, to be weighed once every host is counted */
    int gap = pol->kind == POL_GPUFLEET && is_share(req);
    if (gap) {
        sched_gap_trim(pol, f->nhosts);
        pol->nroom = 0;
    }
    /* what becomes of a host that can take the request */
    enum { PICK_BEST, PICK_ROOM, PICK_FIRST, PICK_RANDOM } pick = pol->kind == POL_RANDOM      ? PICK_RANDOM
                                                                  : pol->kind == POL_FIRST_FIT ? PICK_FIRST
                                                                  : gap                        ? PICK_ROOM
                                                                                               : PICK_BEST;
    /* the table's columns and the fleet in locals: the loop's stores (rej, the rooms) could
     * otherwise alias them, and every host would load them again */
    uint64_t *const tver = t->ver;
    signed char *const twhy = t->why;
    double *const tscore = t->score;
    int16_t *const troom = t->room;
    const gpf_sched_host *const hosts = f->hosts;
    const int nhosts = f->nhosts;
    const int64_t mem = req->memory_mib;
    for (int i = 0; i < nhosts; i++) {
        const gpf_sched_host *h = &hosts[i];
        int why, room = -1;
        /* hosts are large and far apart (about a page each): fetch the first line of one
         * a few ahead so that its wait overlaps the work on the hosts before it */
        if (i + 8 < nhosts)
            __builtin_prefetch(&hosts[i + 8]);
        /* too weak an isolation: the tables do not know the request's need */
        int weak = sched_isolation_short(h, req), full = sched_pods_full(h);
        if (h->schedulable && !weak && !full && h->summary_valid && h->version != 0 && tver[i] == h->version) {
            /* most hosts: the table's answer for the host's version */
            why = twhy[i];
            if (why != REJ_NONE) {
                rej[why]++;
                continue;
            }
            score = tscore[i];
            room = troom[i];
        } else if (!h->schedulable || weak || full) {
            /* its rooms still count (the count is of the hosts' state, as the tables are) */
            rej[!h->schedulable ? REJ_NOT_READY : weak ? REJ_ISOLATION : REJ_PODS]++;
            if (gap)
                sched_gap_count(pol, i, sched_rec_get(pol, f, i, &tmp));
            continue;
        } else {
            /* from the host's record: refused on its summary, or scored, once per state */
            host_rec *r = sched_rec_get(pol, f, i, &tmp);
            state_answer *a = dedup && r->sid >= 0 ? &pol->answer[r->sid] : NULL;
            if (gap)
                sched_gap_count(pol, i, r);
            why = sched_quick_verdict(r, req);
            score = 0;
            if (why > REJ_NONE) {
                /* refused on the record's summary */
            } else if (a && a->stamp == pol->clock) {
                why = a->why;
                score = a->score;
                room = a->room;
            } else {
                why = score_host(f, pol, i, r, req, &c, &score);
                if (why == REJ_NONE && is_share(req))
                    room = r->left[c.gpus[0]];
                if (a) {
                    a->stamp = pol->clock;
                    a->why = (int16_t)why;
                    a->score = score;
                    a->room = (int16_t)room;
                }
            }
            if (h->summary_valid && h->version != 0) {
                tver[i] = h->version;
                twhy[i] = (signed char)why;
                tscore[i] = score;
                troom[i] = (int16_t)room;
            }
            if (why != REJ_NONE) {
                rej[why]++;
                continue;
            }
        }
        if (h->memory_used_mib + mem > h->memory_mib) {
            rej[REJ_MEMORY]++;
            continue;
        }
        nfeasible++;
        if (pick == PICK_ROOM && room >= 0 && room <= 1000) {
            struct room_best *rb = &pol->room[room];
            if (rb->host < 0 || score > rb->score) {
                if (rb->host < 0)
                    pol->room_list[pol->nroom++] = (int16_t)room;
                rb->score = score;
                rb->host = i;
            }
        } else if (pick == PICK_RANDOM) {
            /* reservoir sampling: each feasible host is kept with probability 1/nfeasible */
            if (sched_rng_below(&pol->rng, nfeasible) == 0)
                best = i;
        } else if (pick == PICK_FIRST) {
            best = i;
            break;
        } else if (score > best_score) {
            best_score = score;
            best = i;
        }
    }
    for (int k = 0; gap && k < pol->nroom; k++) { /* the rooms' best hosts, weighed */
        int room = pol->room_list[k], i = pol->room[room].host;
        double v = pol->room[room].score - sched_gap_cost(pol, room, req->slice.share_milli);
        pol->room[room].host = -1;
        if (v > best_score || (v == best_score && i < best)) {
            best_score = v;
            best = i;
        }
    }
    if (best < 0) {
        sched_refusal(f, req, rej, err);
        return GPF_ENOCAPACITY;
    }
    const gpf_sched_host *bh = &f->hosts[best];
    host_rec *br = sched_rec_get(pol, f, best, &tmp);
    score_host(f, pol, best, br, req, &c, &score); /* the winner's GPUs */
    c.host = best;
    if (pol->kind == POL_RANDOM && is_share(req))
        pick_share_random(pol, bh, br, req, &c);
    if (is_share(req))
        c.share_memory_mib = share_cap(&bh->gpus[c.gpus[0]], req);
    sched_fill(f, cat, req, &c, out);
    return 0;
}

int gpf_sched_place_with(const gpf_sched_fleet *f, const gpf_catalog *cat, gpf_sched_policy *pol,
                         const gpf_sched_request *req, gpf_placement *out, gpf_error *err)
{
    if (!f || !req || !out)
        return gpf_error_set(err, GPF_EINVAL, "no fleet, request or output");
    if (!pol || (pol->kind == POL_GPUFLEET && pol->ntasks == 0) || req->slice.kind == GPF_SLICE_MIG ||
        req->slice.kind == GPF_SLICE_VGPU)
        return sched_place_default(f, cat, req, out, err);
    return place_scored(f, cat, pol, req, out, err);
}

/* ---- the test hook: the caches against fresh computation -------------------- */

int sched_policy_check_caches(gpf_sched_policy *pol, const gpf_sched_fleet *f, int *checked)
{
    int bad = 0, n = 0;
    host_rec fresh;
    sched_cand c;
    pol->memo_off = 1;
    /* host records in use (of the host's current version), with F(n) before placing */
    for (int i = 0; i < f->nhosts && i < pol->ncap; i++) {
        const gpf_sched_host *h = &f->hosts[i];
        const host_rec *r = &pol->rec[i];
        if (!h->summary_valid || h->version == 0 || r->ver != h->version)
            continue; /* made again before it is read */
        sched_rec_build(h, &fresh);
        n++;
        if (r->ver != fresh.ver || memcmp(REC_STATE(r), REC_STATE(&fresh), REC_STATE_LEN) != 0 ||
            r->share_pods != fresh.share_pods ||
            (r->sid >= 0 && (r->sid >= pol->nst || memcmp(pol->st[r->sid].b, REC_STATE(&fresh), REC_STATE_LEN) != 0)))
            bad++;
        else if (r->has_before && r->before != sched_frag(pol, sched_rec_model0(&fresh), fresh.n, fresh.left,
                                                          fresh.cpu_left * unit_milli(f), unit_milli(f)))
            bad++;
    }
    /* remembered F(n) values; the memo's CPU class stands for any CPU amount of that class */
    for (size_t k = 0; pol->memo && k < (size_t)1 << MEMO_BITS; k++) {
        const frag_memo *e = &pol->memo[k];
        if (e->ok == 0)
            continue;
        int64_t cpu = e->cls > 0 ? pol->cpu_steps[e->cls - 1] : pol->ncpu_steps > 0 ? pol->cpu_steps[0] - 1 : 0;
        n++;
        bad += sched_frag(pol, pol->ok_model[e->ok - 1], e->n, e->L, cpu, 1) != e->F;
    }
    /* gpufleet's model pressures, once it has placed on this fleet */
    if (pol->press_fleet == f) {
        const gpf_gpu_model *model[16];
        double press[16];
        int np = sched_press_compute(pol, f, model, press);
        n++;
        bad += np != pol->npress || memcmp(model, pol->press_model, (size_t)np * sizeof *model) != 0 ||
               memcmp(press, pol->press, (size_t)np * sizeof *press) != 0;
    }
    /* table entries in use, for shapes that accept any model */
    for (int s = 0; s < pol->nshapes; s++) {
        const shape_tab *t = &pol->shapes[s];
        gpf_sched_request req;
        if (t->key.nmodels != 0)
            continue;
        memset(&req, 0, sizeof req);
        req.slice.kind = (gpf_slice_kind)t->key.kind;
        req.slice.share_milli = t->key.milli;
        req.slice.gpu_count = t->key.count;
        req.slice.share_memory_mib = t->key.mem_cap;
        req.cpus = t->key.cpus;
        pol->press_floor = sched_press_floor(pol, &req);
        for (int i = 0; i < f->nhosts && i < pol->ncap; i++) {
            const gpf_sched_host *h = &f->hosts[i];
            if (!h->schedulable || !h->summary_valid || h->version == 0 || t->ver[i] != h->version)
                continue;
            double score;
            sched_rec_build(h, &fresh);
            int why = score_host(f, pol, i, &fresh, &req, &c, &score);
            n++;
            bad += why != t->why[i] || (why == REJ_NONE && score != t->score[i]) ||
                   (why == REJ_NONE && is_share(&req) && t->room[i] != fresh.left[c.gpus[0]]);
        }
    }
    bad += sched_gap_check(pol, f, &n);
    pol->memo_off = 0;
    if (checked)
        *checked = n;
    return bad;
}
