/* Engine core: the containers and lookups every engine file uses, the ledger, open (recovery
 * from the store) and free. The rest is split by concern: engine_auth.c (tokens, bootstrap,
 * authentication, role checks), engine_users.c, engine_skus.c, engine_images.c,
 * engine_hosts.c, engine_pods.c, engine_usage.c, engine_agent.c (the agent protocol),
 * engine_reconcile.c (heartbeats against the ledger), engine_tick.c (housekeeping, metrics). */
#include "engine/engine_int.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/log.h"
#include "util/timeutil.h"

/* ---- small containers ------------------------------------------------ */

void *vec_push(vec *v, size_t elem)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 16;
        v->items = gpf_reallocarray(v->items, v->cap, elem);
    }
    void *p = (char *)v->items + v->n * elem;
    memset(p, 0, elem);
    v->n++;
    return p;
}

void vec_remove(vec *v, size_t elem, size_t i)
{
    if (i >= v->n)
        return;
    char *base = v->items;
    memmove(base + i * elem, base + (i + 1) * elem, (v->n - i - 1) * elem);
    v->n--;
}

void vec_shrink(vec *v, size_t elem)
{
    if (v->cap <= 64 || v->n > v->cap / 4)
        return;
    v->cap = v->n > 32 ? v->n * 2 : 64;
    v->items = gpf_reallocarray(v->items, v->cap, elem);
}

void vec_free(vec *v)
{
    gpf_free(v->items);
    v->items = NULL;
    v->n = v->cap = 0;
}

void *vec_copy(const vec *v, size_t elem, size_t *n)
{
    *n = v->n;
    if (!v->n)
        return NULL;
    void *p = gpf_reallocarray(NULL, v->n, elem);
    memcpy(p, v->items, v->n * elem);
    return p;
}

/* ---- lookups ----------------------------------------------------------- */

int64_t eng_now(gpf_engine *e)
{
    return e->clock ? e->clock(e->clock_ctx) : gpf_now_ms();
}

int64_t gpf_engine_now(gpf_engine *e)
{
    return eng_now(e);
}

/* Finds the element of v whose NUL-terminated key at key_off equals key. */
static void *vec_find(const vec *v, size_t elem, size_t key_off, const char *key)
{
    for (size_t i = 0; i < v->n; i++) {
        char *item = (char *)v->items + i * elem;
        if (strcmp(item + key_off, key) == 0)
            return item;
    }
    return NULL;
}

host_entry *eng_host(gpf_engine *e, const char *id)
{
    return vec_find(&e->hosts, sizeof(host_entry), offsetof(host_entry, rec.id), id);
}

gpf_user *eng_user(gpf_engine *e, const char *name)
{
    return vec_find(&e->users, sizeof(gpf_user), offsetof(gpf_user, name), name);
}

gpf_sku *eng_sku(gpf_engine *e, const char *name)
{
    return vec_find(&e->skus, sizeof(gpf_sku), offsetof(gpf_sku, name), name);
}

gpf_pod *eng_pod(gpf_engine *e, const char *id)
{
    return vec_find(&e->pods, sizeof(gpf_pod), offsetof(gpf_pod, id), id);
}

gpf_image *eng_image(gpf_engine *e, const char *name)
{
    return vec_find(&e->images, sizeof(gpf_image), offsetof(gpf_image, name), name);
}

const char *eng_sku_image_name(const gpf_sku *k)
{
    return k->image[0] ? k->image : "default";
}

gpf_pod *eng_pod_any(gpf_engine *e, const char *id, gpf_pod *buf, int *rc, gpf_error *err)
{
    gpf_pod *p = eng_pod(e, id);
    *rc = 0;
    if (p)
        return p;
    gpf_error lerr = {0};
    int lrc = gpf_store_pod_get(e->store, id, buf, &lerr);
    if (lrc == 0)
        return buf;
    if (lrc != GPF_ENOTFOUND) {
        *rc = lrc;
        if (err)
            *err = lerr;
    }
    return NULL;
}

int eng_page_owner(const gpf_principal *who, int may_all, const char *asked, const char **owner)
{
    *owner = asked;
    if (may_all)
        return 1;
    if (asked && asked[0] && strcmp(asked, who->user) != 0)
        return 0;
    *owner = who->user;
    return 1;
}

int eng_page_more(size_t *n, size_t limit)
{
    if (!limit || *n <= limit)
        return 0;
    *n = limit;
    return 1;
}

/* ---- memory holds live pods and open usage ------------------------------------ */

/* Moves final pods and closed usage records out of memory (the store has them), counting
 * them for /metrics, and gives back the room when the vectors shrank a lot. */
static void sweep(gpf_engine *e)
{
    size_t k = 0;
    for (size_t i = 0; i < e->pods.n; i++) {
        gpf_pod *p = VEC_AT(&e->pods, gpf_pod, i);
        if (gpf_pod_state_is_final(p->state))
            e->final_pods[p->state]++;
        else if (k++ != i)
            *VEC_AT(&e->pods, gpf_pod, k - 1) = *p;
    }
    e->pods.n = k;
    k = 0;
    for (size_t i = 0; i < e->usage.n; i++) {
        gpf_usage *u = VEC_AT(&e->usage, gpf_usage, i);
        if (u->end_ms != 0)
            e->usage_closed++;
        else if (k++ != i)
            *VEC_AT(&e->usage, gpf_usage, k - 1) = *u;
    }
    e->usage.n = k;
    vec_shrink(&e->pods, sizeof(gpf_pod));
    vec_shrink(&e->usage, sizeof(gpf_usage));
    e->sweep_pending = 0;
}

void eng_unlock(gpf_engine *e)
{
    if (e->sweep_pending && e->tx.depth == 0)
        sweep(e);
    pthread_mutex_unlock(&e->mu);
}

int eng_unlock_sync(gpf_engine *e, int rc, gpf_error *err)
{
    uint64_t seq = gpf_store_committed(e->store);
    eng_unlock(e);
    gpf_error serr = {0};
    int src = gpf_store_sync_to(e->store, seq, &serr);
    if (src == 0)
        return rc;
    GPF_ERROR("engine", "event=store_sync_failed seq=%llu msg=\"%s\"", (unsigned long long)seq, gpf_error_msg(&serr));
    if (rc != 0)
        return rc;
    if (err)
        *err = serr;
    return src;
}

gpf_store *eng_read_begin(gpf_engine *e, int *slot)
{
    if (e->nreaders == 0) {
        *slot = -1;
        pthread_mutex_lock(&e->mu);
        return e->store;
    }
    for (int i = 0; i < e->nreaders; i++)
        if (pthread_mutex_trylock(&e->read_mu[i]) == 0) {
            *slot = i;
            return e->readers[i];
        }
    *slot = (int)(atomic_fetch_add(&e->read_next, 1) % (unsigned)e->nreaders);
    pthread_mutex_lock(&e->read_mu[*slot]);
    return e->readers[*slot];
}

void eng_read_end(gpf_engine *e, int slot)
{
    if (slot >= 0)
        pthread_mutex_unlock(&e->read_mu[slot]);
    else
        eng_unlock(e);
}

gpf_usage *eng_open_usage(gpf_engine *e, const char *pod_id)
{
    for (size_t i = e->usage.n; i-- > 0;) {
        gpf_usage *u = VEC_AT(&e->usage, gpf_usage, i);
        if (u->end_ms == 0 && strcmp(u->pod_id, pod_id) == 0)
            return u;
    }
    return NULL;
}

void eng_bump(gpf_engine *e, host_entry *h)
{
    h->seq = e->seq_next++;
    pthread_cond_broadcast(&e->cond);
}

int eng_store_pod_usage(gpf_engine *e, const gpf_pod *p, gpf_usage *u, int insert, gpf_error *err)
{
    eng_tx_begin(e);
    int rc = eng_tx_write(e, err);
    if (rc == 0 && u)
        rc = insert ? gpf_store_usage_insert(e->store, u, err) : gpf_store_usage_update(e->store, u, err);
    if (rc == 0)
        rc = gpf_store_pod_put(e->store, p, err);
    return eng_tx_end(e, rc, err);
}

/* ---- ledger ------------------------------------------------------------ */

static void sched_host_from_rec(gpf_engine *e, const gpf_host_rec *r, gpf_sched_host *sh)
{
    memset(sh, 0, sizeof *sh);
    gpf_strlcpy(sh->id, r->id, sizeof sh->id);
    sh->schedulable = 0; /* set from the host entry by eng_sync_schedulable */
    sh->cpus = r->cpus;
    sh->memory_mib = r->memory_mib;
    sh->ngpus = r->ngpus;
    sh->isolation_max = r->isolation_max;
    sh->pods_max = gpf_host_pods_max(r); /* pods is counted by the placements applied */
    /* Until the agent reports per-node CPU counts (sysfs), the CPUs are split evenly. */
    sh->numa_nodes = r->numa_nodes > 0 && r->numa_nodes <= GPF_SCHED_MAX_NUMA ? r->numa_nodes : 0;
    for (int n = 0; n < sh->numa_nodes; n++)
        sh->numa_cpus[n] = r->cpus / sh->numa_nodes + (n < r->cpus % sh->numa_nodes);
    for (int i = 0; i < r->ngpus; i++) {
        gpf_sched_gpu *g = &sh->gpus[i];
        gpf_strlcpy(g->uuid, r->gpus[i].uuid, sizeof g->uuid);
        g->index = r->gpus[i].index;
        g->model = gpf_catalog_model(e->cat, r->gpus[i].model);
        g->mig_enabled = r->gpus[i].mig_enabled;
        g->numa_node = r->gpus[i].numa_node;
        g->memory_mib = r->gpus[i].memory_mib;
    }
}

int eng_ledger_rebuild_host(gpf_engine *e, host_entry *h, gpf_error *err)
{
    gpf_sched_host sh;
    sched_host_from_rec(e, &h->rec, &sh);
    int idx = gpf_sched_fleet_find_host(&e->fleet, h->rec.id);
    if (idx < 0) {
        idx = gpf_sched_fleet_add_host(&e->fleet, &sh);
    } else {
        eng_tx_save_fleet_host(e, idx);
        e->fleet.hosts[idx] = sh;
    }
    eng_sync_schedulable(e, h);
    int rc = 0;
    for (size_t i = 0; i < e->pods.n && rc == 0; i++) {
        gpf_pod *p = VEC_AT(&e->pods, gpf_pod, i);
        if (!p->placed || gpf_pod_state_is_final(p->state) || strcmp(p->placement.host_id, h->rec.id) != 0)
            continue;
        gpf_error aerr = {0};
        if (gpf_sched_apply(&e->fleet, e->cat, &p->placement, &aerr) != 0) {
            /* The hardware no longer has what this pod holds: never double-book it. */
            GPF_ERROR("engine", "event=ledger_conflict pod=%s host=%s msg=\"%s\"", p->id, h->rec.id,
                      gpf_error_msg(&aerr));
            char reason[GPF_TEXT_MAX];
            snprintf(reason, sizeof reason, "placement no longer valid on %s: %s", h->rec.id, gpf_error_msg(&aerr));
            eng_tx_save_pod(e, p);
            p->placed = 0; /* nothing of it is booked: nothing to release */
            rc = eng_pod_finish(e, p, GPF_POD_FAILED, eng_now(e), reason, err);
        }
    }
    return rc;
}

/* ---- open / free ------------------------------------------------------- */

/* Appends to vecp the records call (a store op filling arr and cnt) returns. */
#define LOAD_WITH(vecp, type, call)                                           \
    do {                                                                      \
        type *arr = NULL;                                                     \
        size_t cnt = 0;                                                       \
        rc = (call);                                                          \
        if (rc != 0)                                                          \
            goto out;                                                         \
        for (size_t i_ = 0; i_ < cnt; i_++)                                   \
            *(type *)vec_push(vecp, sizeof(type)) = arr[i_];                  \
        gpf_free(arr);                                                        \
    } while (0)
/* A whole table (a *_load op), or a query q's rows (a *_query op). */
#define LOAD(fn, vecp, type) LOAD_WITH(vecp, type, fn(e->store, &arr, &cnt, err))
#define LOADQ(fn, q, vecp, type) LOAD_WITH(vecp, type, fn(e->store, q, &arr, &cnt, err))

int gpf_engine_open(const gpf_engine_config *cfg, gpf_engine **out, gpf_error *err)
{
    int rc = 0;
    gpf_engine *e = GPF_NEW(gpf_engine);
    pthread_mutex_init(&e->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->cond, &ca);
    pthread_condattr_destroy(&ca);
    e->store = cfg->store;
    for (int i = 0; i < GPF_ENGINE_READERS; i++) {
        pthread_mutex_init(&e->read_mu[i], NULL);
        if (cfg->readers[i])
            e->readers[e->nreaders++] = cfg->readers[i];
    }
    atomic_init(&e->read_next, 0);
    e->cat = cfg->catalog;
    e->clock = cfg->clock;
    e->clock_ctx = cfg->clock_ctx;
    e->heartbeat_ms = cfg->heartbeat_ms > 0 ? cfg->heartbeat_ms : 2000;
    e->lost_after_beats = cfg->lost_after_beats > 0 ? cfg->lost_after_beats : 5;
    e->host_grace_ms = cfg->host_grace_ms > 0 ? cfg->host_grace_ms : 600000;
    e->start_timeout_ms = cfg->start_timeout_ms > 0 ? cfg->start_timeout_ms : 120000;
    pthread_mutex_init(&e->import_mu, NULL);
    atomic_init(&e->cancel_imports, 0);
    gpf_strlcpy(e->images_dir, cfg->images_dir ? cfg->images_dir : "", sizeof e->images_dir);
    gpf_strlcpy(e->skopeo, cfg->skopeo && cfg->skopeo[0] ? cfg->skopeo : "skopeo", sizeof e->skopeo);
    e->import_timeout_ms = cfg->import_timeout_ms > 0 ? cfg->import_timeout_ms : 600000;
    /* Sequences start from the wall clock so they keep increasing across restarts:
     * an agent polling with an old sequence gets the outstanding commands at once. */
    e->seq_next = gpf_now_ms() * 1024;
    gpf_sched_fleet_init(&e->fleet);
    if ((rc = gpf_sched_policy_new(cfg->policy && cfg->policy[0] ? cfg->policy : "gpufleet", 0, &e->policy, err)) != 0)
        goto out;

    {
        gpf_host_rec *arr = NULL;
        size_t cnt = 0;
        rc = gpf_store_hosts_load(e->store, &arr, &cnt, err);
        if (rc != 0)
            goto out;
        for (size_t i = 0; i < cnt; i++) {
            host_entry *h = vec_push(&e->hosts, sizeof(host_entry));
            h->rec = arr[i];
            h->seq = e->seq_next++;
            h->last_seen_ms = eng_now(e);
        }
        gpf_free(arr);
    }
    LOAD(gpf_store_skus_load, &e->skus, gpf_sku);
    LOAD(gpf_store_images_load, &e->images, gpf_image);
    LOAD(gpf_store_users_load, &e->users, gpf_user);
    LOAD(gpf_store_tokens_load, &e->tokens, gpf_token);
    eng_tokens_drop_revoked(e); /* the store keeps them for the record; memory never needs them */
    e->token_use_flushed_ms = eng_now(e);
    LOAD(gpf_store_join_tokens_load, &e->join_tokens, gpf_join_token);
    /* only live pods and open usage are held; what is final is counted, not loaded */
    {
        gpf_store_counts c;
        if ((rc = gpf_store_history_counts(e->store, &c, err)) != 0)
            goto out;
        for (int s = 0; s <= GPF_POD_LOST; s++)
            e->final_pods[s] = gpf_pod_state_is_final((gpf_pod_state)s) ? c.pods[s] : 0;
        e->usage_closed = c.usage_closed;
    }
    LOADQ(gpf_store_pods_query, (&(gpf_pod_query){.live = 1}), &e->pods, gpf_pod);
    LOADQ(gpf_store_usage_query, (&(gpf_usage_query){.open = 1}), &e->usage, gpf_usage);

    /* Recovery is one transaction: the pods it fails are failed together or not at all
     * (then open fails and the database is as it was). */
    eng_tx_begin(e);
    for (size_t i = 0; i < e->hosts.n && rc == 0; i++)
        rc = eng_ledger_rebuild_host(e, VEC_AT(&e->hosts, host_entry, i), err);
    if ((rc = eng_tx_end(e, rc, err)) != 0)
        goto out;
    /* an unreachable host's pods: reachability unknown (its grace runs again from now) */
    for (size_t i = 0; i < e->hosts.n; i++)
        if (VEC_AT(&e->hosts, host_entry, i)->rec.state == GPF_HOST_UNREACHABLE)
            eng_host_pods_reachable(e, VEC_AT(&e->hosts, host_entry, i), 1);
    eng_policy_tasks(e);
    if (e->sweep_pending)
        sweep(e); /* pods recovery failed */
    GPF_INFO("engine", "event=recovered hosts=%zu skus=%zu images=%zu users=%zu pods=%zu usage=%zu", e->hosts.n,
             e->skus.n, e->images.n, e->users.n, e->pods.n, e->usage.n);
out:
    if (rc != 0) {
        gpf_engine_free(e);
        e = NULL;
    }
    *out = e;
    return rc;
}

void gpf_engine_free(gpf_engine *e)
{
    if (!e)
        return;
    gpf_sched_fleet_clear(&e->fleet);
    gpf_sched_policy_free(e->policy);
    vec_free(&e->hosts);
    vec_free(&e->skus);
    vec_free(&e->users);
    vec_free(&e->tokens);
    vec_free(&e->join_tokens);
    vec_free(&e->pods);
    vec_free(&e->usage);
    vec_free(&e->images);
    eng_tx_free(e);
    pthread_mutex_destroy(&e->import_mu);
    for (int i = 0; i < GPF_ENGINE_READERS; i++)
        pthread_mutex_destroy(&e->read_mu[i]);
    pthread_cond_destroy(&e->cond);
    pthread_mutex_destroy(&e->mu);
    gpf_free(e);
}

void gpf_engine_wake_all(gpf_engine *e)
{
    atomic_store(&e->cancel_imports, 1);
    pthread_mutex_lock(&e->mu);
    e->closing = 1;
    pthread_cond_broadcast(&e->cond);
    pthread_mutex_unlock(&e->mu);
}
