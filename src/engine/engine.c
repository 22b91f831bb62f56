/* Engine core: open/recover, lock, bootstrap, authentication, users, SKUs, hosts,
 * usage, metrics. Pods and the agent protocol live in engine_pods.c / engine_agent.c. */
#include "engine/engine_int.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/log.h"
#include "util/secret.h"
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

void vec_free(vec *v)
{
    gpf_free(v->items);
    v->items = NULL;
    v->n = v->cap = 0;
}

/* Copies a vec into a fresh heap array for a caller. */
static void *vec_copy(const vec *v, size_t elem, size_t *n)
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

gpf_usage *eng_open_usage(gpf_engine *e, const char *pod_id)
{
    for (size_t i = e->usage.n; i-- > 0;) {
        gpf_usage *u = VEC_AT(&e->usage, gpf_usage, i);
        if (u->end_ms == 0 && strcmp(u->pod_id, pod_id) == 0)
            return u;
    }
    return NULL;
}

int eng_is_staff(const gpf_principal *who)
{
    return !who->is_agent && (who->role == GPF_ROLE_ADMIN || who->role == GPF_ROLE_OPERATOR);
}

void eng_bump(gpf_engine *e, host_entry *h)
{
    h->seq = e->seq_next++;
    pthread_cond_broadcast(&e->cond);
}

int eng_store_pod_usage(gpf_engine *e, const gpf_pod *p, gpf_usage *u, int insert, gpf_error *err)
{
    int rc = gpf_store_begin(e->store, err);
    if (rc != 0)
        return rc;
    if (u)
        rc = insert ? gpf_store_usage_insert(e->store, u, err) : gpf_store_usage_update(e->store, u, err);
    if (rc == 0)
        rc = gpf_store_pod_put(e->store, p, err);
    if (rc == 0)
        rc = gpf_store_commit(e->store, err);
    if (rc != 0)
        gpf_store_rollback(e->store);
    return rc;
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
    if (idx < 0)
        idx = gpf_sched_fleet_add_host(&e->fleet, &sh);
    else
        e->fleet.hosts[idx] = sh;
    eng_sync_schedulable(e, h);
    int rc = 0;
    for (size_t i = 0; i < e->pods.n; i++) {
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
            p->placed = 0; /* nothing of it is booked: nothing to release */
            int frc = eng_pod_finish(e, p, GPF_POD_FAILED, eng_now(e), reason, err);
            if (rc == 0)
                rc = frc;
        }
    }
    return rc;
}

/* ---- open / free ------------------------------------------------------- */

#define LOAD(fn, vecp, type)                                                  \
    do {                                                                      \
        type *arr = NULL;                                                     \
        size_t cnt = 0;                                                       \
        rc = fn(e->store, &arr, &cnt, err);                                   \
        if (rc != 0)                                                          \
            goto out;                                                         \
        for (size_t i_ = 0; i_ < cnt; i_++)                                   \
            *(type *)vec_push(vecp, sizeof(type)) = arr[i_];                  \
        gpf_free(arr);                                                        \
    } while (0)

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
    e->cat = cfg->catalog;
    e->clock = cfg->clock;
    e->clock_ctx = cfg->clock_ctx;
    e->heartbeat_ms = cfg->heartbeat_ms > 0 ? cfg->heartbeat_ms : 2000;
    e->lost_after_beats = cfg->lost_after_beats > 0 ? cfg->lost_after_beats : 5;
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
    LOAD(gpf_store_pods_load, &e->pods, gpf_pod);
    LOAD(gpf_store_usage_load, &e->usage, gpf_usage);

    for (size_t i = 0; i < e->hosts.n; i++) {
        rc = eng_ledger_rebuild_host(e, VEC_AT(&e->hosts, host_entry, i), err);
        if (rc != 0)
            goto out;
    }
    eng_policy_tasks(e);
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
    vec_free(&e->pods);
    vec_free(&e->usage);
    vec_free(&e->images);
    pthread_mutex_destroy(&e->import_mu);
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

/* ---- tokens and bootstrap ---------------------------------------------- */

/* Creates and stores a token; secret gets the text. Caller holds the lock. */
static int make_token(gpf_engine *e, const char *user, const char *host_id, char *secret, size_t ssz,
                      gpf_token *out, gpf_error *err)
{
    gpf_token t;
    memset(&t, 0, sizeof t);
    if (gpf_random_id("gpf_", 40, secret, ssz) != 0)
        return gpf_error_set(err, GPF_EINTERNAL, "token buffer too small");
    gpf_random_id("tok-", 8, t.id, sizeof t.id);
    gpf_strlcpy(t.user, user ? user : "", sizeof t.user);
    gpf_strlcpy(t.host_id, host_id ? host_id : "", sizeof t.host_id);
    gpf_sha256_hex(secret, t.hash);
    t.created_ms = eng_now(e);
    int rc = gpf_store_token_put(e->store, &t, err);
    if (rc != 0)
        return rc;
    *(gpf_token *)vec_push(&e->tokens, sizeof t) = t;
    if (out)
        *out = t;
    return 0;
}

int gpf_engine_bootstrap(gpf_engine *e, const char *join_token_in, char *admin_token, size_t asz,
                         char *join_token, size_t jsz, gpf_error *err)
{
    int rc = 0;
    char hash[65], existing[80];
    admin_token[0] = '\0';
    join_token[0] = '\0';
    pthread_mutex_lock(&e->mu);
    if (e->users.n == 0) {
        gpf_user u;
        memset(&u, 0, sizeof u);
        gpf_strlcpy(u.name, "admin", sizeof u.name);
        u.role = GPF_ROLE_ADMIN;
        u.created_ms = eng_now(e);
        rc = gpf_store_user_put(e->store, &u, err);
        if (rc != 0)
            goto out;
        *(gpf_user *)vec_push(&e->users, sizeof u) = u;
        rc = make_token(e, "admin", NULL, admin_token, asz, NULL, err);
        if (rc != 0)
            goto out;
    }
    if (join_token_in && join_token_in[0]) {
        /* A configured join token always wins (and replaces a generated one). */
        gpf_sha256_hex(join_token_in, hash);
        rc = gpf_store_setting_put(e->store, "join_token_hash", hash, err);
    } else if (gpf_store_setting_get(e->store, "join_token_hash", existing, sizeof existing, NULL) != 0) {
        gpf_random_id("gpfjoin_", 40, join_token, jsz);
        gpf_sha256_hex(join_token, hash);
        rc = gpf_store_setting_put(e->store, "join_token_hash", hash, err);
    }
out:
    pthread_mutex_unlock(&e->mu);
    return rc;
}

int gpf_engine_authenticate(gpf_engine *e, const char *token, gpf_principal *out, gpf_error *err)
{
    char hash[65];
    int rc = GPF_EUNAUTH;
    memset(out, 0, sizeof *out);
    if (!token || !token[0] || strlen(token) > 128)
        return gpf_error_set(err, GPF_EUNAUTH, "missing or malformed bearer token");
    gpf_sha256_hex(token, hash);
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < e->tokens.n; i++) {
        gpf_token *t = VEC_AT(&e->tokens, gpf_token, i);
        if (!gpf_secret_equal(t->hash, hash))
            continue;
        if (t->host_id[0]) {
            out->is_agent = 1;
            gpf_strlcpy(out->host_id, t->host_id, sizeof out->host_id);
            rc = 0;
        } else {
            gpf_user *u = eng_user(e, t->user);
            if (u) {
                gpf_strlcpy(out->user, u->name, sizeof out->user);
                out->role = u->role;
                rc = 0;
            }
        }
        break;
    }
    pthread_mutex_unlock(&e->mu);
    if (rc != 0)
        gpf_error_set(err, GPF_EUNAUTH, "unknown token");
    return rc;
}

/* ---- users ------------------------------------------------------------- */

static int require_user(const gpf_principal *who, gpf_error *err)
{
    if (who->is_agent)
        return gpf_error_set(err, GPF_EFORBIDDEN, "agent tokens cannot do this");
    return 0;
}

static int require_admin(const gpf_principal *who, gpf_error *err)
{
    if (who->is_agent || who->role != GPF_ROLE_ADMIN)
        return gpf_error_set(err, GPF_EFORBIDDEN, "only an admin can do this");
    return 0;
}

static int require_self_or_admin(const gpf_principal *who, const char *name, gpf_error *err)
{
    if (require_user(who, err) != 0)
        return err ? err->code : GPF_EFORBIDDEN;
    if (who->role != GPF_ROLE_ADMIN && strcmp(who->user, name) != 0)
        return gpf_error_set(err, GPF_EFORBIDDEN, "only an admin or %s can do this", name);
    return 0;
}

int gpf_engine_user_create(gpf_engine *e, const gpf_principal *who, const gpf_user *u, gpf_user *out,
                           gpf_error *err)
{
    int rc = require_admin(who, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    if (eng_user(e, u->name)) {
        rc = gpf_error_set(err, GPF_EEXIST, "user '%s' already exists", u->name);
        goto out;
    }
    gpf_user nu = *u;
    nu.created_ms = eng_now(e);
    rc = gpf_store_user_put(e->store, &nu, err);
    if (rc != 0)
        goto out;
    *(gpf_user *)vec_push(&e->users, sizeof nu) = nu;
    if (out)
        *out = nu;
out:
    pthread_mutex_unlock(&e->mu);
    return rc;
}

int gpf_engine_user_get(gpf_engine *e, const gpf_principal *who, const char *name, gpf_user *out,
                        gpf_error *err)
{
    int rc = require_self_or_admin(who, name, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    gpf_user *u = eng_user(e, name);
    if (u)
        *out = *u;
    else
        rc = gpf_error_set(err, GPF_ENOTFOUND, "no user '%s'", name);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

int gpf_engine_user_list(gpf_engine *e, const gpf_principal *who, gpf_user **out, size_t *n, gpf_error *err)
{
    int rc = require_admin(who, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    *out = vec_copy(&e->users, sizeof(gpf_user), n);
    pthread_mutex_unlock(&e->mu);
    return 0;
}

int gpf_engine_user_update(gpf_engine *e, const gpf_principal *who, const gpf_user *u, int role_changed,
                           int key_changed, gpf_user *out, gpf_error *err)
{
    int rc = require_self_or_admin(who, u->name, err);
    if (rc != 0)
        return rc;
    if (role_changed && (rc = require_admin(who, err)) != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    gpf_user *cur = eng_user(e, u->name);
    if (!cur) {
        rc = gpf_error_set(err, GPF_ENOTFOUND, "no user '%s'", u->name);
        goto out;
    }
    gpf_user nu = *cur;
    if (role_changed)
        nu.role = u->role;
    if (key_changed)
        gpf_strlcpy(nu.ssh_pubkey, u->ssh_pubkey, sizeof nu.ssh_pubkey);
    rc = gpf_store_user_put(e->store, &nu, err);
    if (rc != 0)
        goto out;
    *cur = nu;
    if (out)
        *out = nu;
out:
    pthread_mutex_unlock(&e->mu);
    return rc;
}

int gpf_engine_token_create(gpf_engine *e, const gpf_principal *who, const char *user, char *secret,
                            size_t ssz, gpf_token *out, gpf_error *err)
{
    int rc = require_self_or_admin(who, user, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    if (!eng_user(e, user))
        rc = gpf_error_set(err, GPF_ENOTFOUND, "no user '%s'", user);
    else
        rc = make_token(e, user, NULL, secret, ssz, out, err);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

/* ---- SKUs -------------------------------------------------------------- */

static int require_staff(const gpf_principal *who, gpf_error *err)
{
    if (!eng_is_staff(who))
        return gpf_error_set(err, GPF_EFORBIDDEN, "only an admin or operator can manage SKUs");
    return 0;
}

/* A SKU of a MIG-backed vGPU type: some model the SKU allows runs the type and has its GI
 * profile (the scheduler places it as a MIG instance of that profile). */
static int mig_vgpu_check(gpf_engine *e, const gpf_sku *k, const gpf_vgpu_type *t, gpf_error *err)
{
    int runs = 0;
    for (int m = 0; m < gpf_catalog_model_count(e->cat); m++) {
        const gpf_gpu_model *gm = gpf_catalog_model_at(e->cat, m);
        int allowed = k->nmodels == 0;
        for (int i = 0; i < k->nmodels && !allowed; i++)
            allowed = gpf_catalog_model_matches(gm, k->models[i]);
        if (!allowed || !gpf_catalog_model_matches(gm, t->gpu_model))
            continue;
        runs = 1;
        if (gm->mig_key[0] && gpf_catalog_mig_by_name(e->cat, gm->mig_key, t->mig_profile))
            return 0;
    }
    if (!runs)
        return gpf_error_set(err, GPF_EINVAL, "slice.vgpu_type: '%s' runs on %s, which gpu_models does not allow",
                             t->name, t->gpu_model);
    return gpf_error_set(err, GPF_EINVAL, "slice.vgpu_type: MIG-backed type '%s' is MIG profile '%s', which the catalog lacks for %s",
                         t->name, t->mig_profile, t->gpu_model);
}

/* Checks a SKU against the catalog: its models exist and its MIG profile exists on them. */
static int sku_check(gpf_engine *e, const gpf_sku *k, gpf_error *err)
{
    int mig_ok = 0;
    for (int i = 0; i < k->nmodels; i++) {
        int known = 0;
        for (int m = 0; m < gpf_catalog_model_count(e->cat); m++) {
            const gpf_gpu_model *gm = gpf_catalog_model_at(e->cat, m);
            if (!gpf_catalog_model_matches(gm, k->models[i]))
                continue;
            known = 1;
            if (k->slice.kind == GPF_SLICE_MIG && gm->mig_key[0] &&
                gpf_catalog_mig_by_name(e->cat, gm->mig_key, k->slice.mig_profile))
                mig_ok = 1;
        }
        if (!known)
            return gpf_error_set(err, GPF_EINVAL, "gpu_models: unknown GPU model '%s' (see data/catalog/gpus.csv)",
                                 k->models[i]);
    }
    if (k->slice.kind == GPF_SLICE_MIG) {
        if (k->nmodels == 0) {
            for (int m = 0; m < gpf_catalog_model_count(e->cat) && !mig_ok; m++) {
                const gpf_gpu_model *gm = gpf_catalog_model_at(e->cat, m);
                if (gm->mig_key[0] && gpf_catalog_mig_by_name(e->cat, gm->mig_key, k->slice.mig_profile))
                    mig_ok = 1;
            }
        }
        if (!mig_ok)
            return gpf_error_set(err, GPF_EINVAL, "slice.mig_profile: no allowed GPU model has MIG profile '%s'",
                                 k->slice.mig_profile);
    }
    if ((int)k->min_isolation < GPF_ISO_HARDWARE || k->min_isolation > GPF_ISO_SOFT)
        return gpf_error_set(err, GPF_EINVAL, "min_isolation must be hardware, device or soft");
    if (gpf_isolation_expected(GPF_ISO_HARDWARE, k->slice.kind) > k->min_isolation)
        return gpf_error_set(err, GPF_EINVAL, "min_isolation: a %s slice gets at most %s isolation, not %s",
                             gpf_slice_kind_name(k->slice.kind),
                             gpf_isolation_name(gpf_isolation_expected(GPF_ISO_HARDWARE, k->slice.kind)),
                             gpf_isolation_name(k->min_isolation));
    if (k->image[0] && !eng_image(e, k->image)) {
        char names[160] = "";
        size_t used = 0;
        for (size_t i = 0; i < e->images.n && used + 1 < sizeof names; i++) {
            int w = snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                             VEC_AT(&e->images, gpf_image, i)->name);
            used += w > 0 ? (size_t)w : 0;
        }
        if (!e->images.n)
            return gpf_error_set(err, GPF_EINVAL, "image: no image named '%s'; no image is imported yet "
                                 "(gpufleet image import)", k->image);
        return gpf_error_set(err, GPF_EINVAL, "image: no image named '%s'; the images are: %s", k->image, names);
    }
    if (k->slice.kind == GPF_SLICE_VGPU) {
        const gpf_vgpu_type *t = gpf_catalog_vgpu(e->cat, k->slice.vgpu_type);
        if (!t)
            return gpf_error_set(err, GPF_EINVAL, "slice.vgpu_type: unknown vGPU type '%s'", k->slice.vgpu_type);
        if (t->mig_backed)
            return mig_vgpu_check(e, k, t, err);
    }
    return 0;
}

static int sku_write(gpf_engine *e, const gpf_principal *who, const gpf_sku *k, int create, gpf_sku *out,
                     gpf_error *err)
{
    int rc = require_staff(who, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    gpf_sku *cur = eng_sku(e, k->name);
    if (create && cur) {
        rc = gpf_error_set(err, GPF_EEXIST, "SKU '%s' already exists", k->name);
        goto out;
    }
    if (!create && !cur) {
        rc = gpf_error_set(err, GPF_ENOTFOUND, "no SKU '%s'", k->name);
        goto out;
    }
    if ((rc = sku_check(e, k, err)) != 0)
        goto out;
    gpf_sku nk = *k;
    nk.updated_ms = eng_now(e);
    nk.created_ms = cur ? cur->created_ms : nk.updated_ms;
    rc = gpf_store_sku_put(e->store, &nk, err);
    if (rc != 0)
        goto out;
    if (!cur)
        cur = vec_push(&e->skus, sizeof nk);
    *cur = nk;
    eng_policy_tasks(e);
    if (out)
        *out = nk;
out:
    pthread_mutex_unlock(&e->mu);
    return rc;
}

int gpf_engine_sku_create(gpf_engine *e, const gpf_principal *who, const gpf_sku *k, gpf_sku *out,
                          gpf_error *err)
{
    return sku_write(e, who, k, 1, out, err);
}

int gpf_engine_sku_update(gpf_engine *e, const gpf_principal *who, const gpf_sku *k, gpf_sku *out,
                          gpf_error *err)
{
    return sku_write(e, who, k, 0, out, err);
}

int gpf_engine_sku_get(gpf_engine *e, const char *name, gpf_sku *out, gpf_error *err)
{
    int rc = 0;
    pthread_mutex_lock(&e->mu);
    gpf_sku *k = eng_sku(e, name);
    if (k)
        *out = *k;
    else
        rc = gpf_error_set(err, GPF_ENOTFOUND, "no SKU '%s'", name);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

int gpf_engine_sku_list(gpf_engine *e, gpf_sku **out, size_t *n, gpf_error *err)
{
    (void)err;
    pthread_mutex_lock(&e->mu);
    *out = vec_copy(&e->skus, sizeof(gpf_sku), n);
    pthread_mutex_unlock(&e->mu);
    return 0;
}

int gpf_engine_sku_delete(gpf_engine *e, const gpf_principal *who, const char *name, gpf_error *err)
{
    int rc = require_staff(who, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    gpf_sku *k = eng_sku(e, name);
    if (!k) {
        rc = gpf_error_set(err, GPF_ENOTFOUND, "no SKU '%s'", name);
        goto out;
    }
    rc = gpf_store_sku_delete(e->store, name, err);
    if (rc == 0) {
        vec_remove(&e->skus, sizeof(gpf_sku), (size_t)(k - (gpf_sku *)e->skus.items));
        eng_policy_tasks(e);
    }
out:
    pthread_mutex_unlock(&e->mu);
    return rc;
}

/* ---- hosts ------------------------------------------------------------- */

static void host_usage(gpf_engine *e, const host_entry *h, gpf_host_usage *u)
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
        host_usage(e, h, &(*usage)[i]);
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
            host_usage(e, h, usage);
    } else {
        rc = gpf_error_set(err, GPF_ENOTFOUND, "no host '%s'", id);
    }
    pthread_mutex_unlock(&e->mu);
    return rc;
}

/* ---- usage ------------------------------------------------------------- */

int gpf_engine_usage_list(gpf_engine *e, const gpf_principal *who, const char *pod_id, gpf_usage **out,
                          size_t *n, gpf_error *err)
{
    int rc = require_user(who, err);
    if (rc != 0)
        return rc;
    int all = eng_is_staff(who) || who->role == GPF_ROLE_FINANCE;
    pthread_mutex_lock(&e->mu);
    *n = 0;
    *out = e->usage.n ? gpf_reallocarray(NULL, e->usage.n, sizeof(gpf_usage)) : NULL;
    for (size_t i = 0; i < e->usage.n; i++) {
        gpf_usage *u = VEC_AT(&e->usage, gpf_usage, i);
        if (!all && strcmp(u->owner, who->user) != 0)
            continue;
        if (pod_id && strcmp(u->pod_id, pod_id) != 0)
            continue;
        (*out)[(*n)++] = *u;
    }
    pthread_mutex_unlock(&e->mu);
    return 0;
}

/* ---- housekeeping and metrics ------------------------------------------ */

void gpf_engine_tick(gpf_engine *e)
{
    pthread_mutex_lock(&e->mu);
    int64_t now = eng_now(e);
    int64_t limit = (int64_t)e->heartbeat_ms * e->lost_after_beats;
    for (size_t i = 0; i < e->hosts.n; i++) {
        host_entry *h = VEC_AT(&e->hosts, host_entry, i);
        if (h->rec.state != GPF_HOST_READY || now - h->last_seen_ms <= limit)
            continue;
        GPF_WARN("engine", "event=host_lost host=%s silent_ms=%lld", h->rec.id, (long long)(now - h->last_seen_ms));
        eng_host_lost(e, h, now);
    }
    for (size_t i = 0; i < e->pods.n; i++) {
        gpf_pod *p = VEC_AT(&e->pods, gpf_pod, i);
        if (p->state != GPF_POD_STARTING || now - p->created_ms <= e->start_timeout_ms)
            continue;
        char reason[GPF_TEXT_MAX];
        snprintf(reason, sizeof reason, "the agent of %s did not start the pod within %d s", p->placement.host_id,
                 e->start_timeout_ms / 1000);
        if (eng_pod_finish(e, p, GPF_POD_FAILED, now, reason, NULL) != 0)
            GPF_ERROR("engine", "event=store_failed op=pod_timeout pod=%s", p->id);
    }
    pthread_mutex_unlock(&e->mu);
}

void gpf_engine_metrics(gpf_engine *e, gpf_buf *b)
{
    pthread_mutex_lock(&e->mu);
    int states[GPF_POD_LOST + 1] = {0};
    for (size_t i = 0; i < e->pods.n; i++) {
        gpf_pod *p = VEC_AT(&e->pods, gpf_pod, i);
        if ((int)p->state >= 0 && p->state <= GPF_POD_LOST)
            states[p->state]++;
    }
    gpf_buf_puts(b, "# HELP gpufleet_pods Pods by state.\n# TYPE gpufleet_pods gauge\n");
    for (int s = 0; s <= GPF_POD_LOST; s++)
        gpf_buf_printf(b, "gpufleet_pods{state=\"%s\"} %d\n", gpf_pod_state_name((gpf_pod_state)s), states[s]);
    gpf_buf_puts(b, "# HELP gpufleet_hosts Registered hosts by state.\n# TYPE gpufleet_hosts gauge\n");
    int hs[3] = {0};
    long gpus = 0;
    for (size_t i = 0; i < e->hosts.n; i++) {
        host_entry *h = VEC_AT(&e->hosts, host_entry, i);
        if ((int)h->rec.state >= 0 && h->rec.state <= GPF_HOST_DRAINING)
            hs[h->rec.state]++;
        gpus += h->rec.ngpus;
    }
    for (int s = 0; s <= GPF_HOST_DRAINING; s++)
        gpf_buf_printf(b, "gpufleet_hosts{state=\"%s\"} %d\n", gpf_host_state_name((gpf_host_state)s), hs[s]);
    gpf_buf_printf(b, "# HELP gpufleet_gpus Registered GPUs.\n# TYPE gpufleet_gpus gauge\ngpufleet_gpus %ld\n", gpus);
    gpf_buf_puts(b, "# HELP gpufleet_host_schedulable 1 when new pods may be placed on the host.\n"
                    "# TYPE gpufleet_host_schedulable gauge\n");
    for (size_t i = 0; i < e->hosts.n; i++) {
        host_entry *h = VEC_AT(&e->hosts, host_entry, i);
        gpf_buf_printf(b, "gpufleet_host_schedulable{host=\"%s\",preflight=\"%s\"} %d\n", h->rec.id,
                       gpf_preflight_name(h->rec.preflight), eng_host_schedulable(h, NULL, 0));
    }
    gpf_buf_puts(b, "# HELP gpufleet_host_drift Open differences between the ledger and the host's last report.\n"
                    "# TYPE gpufleet_host_drift gauge\n");
    for (size_t i = 0; i < e->hosts.n; i++) {
        host_entry *h = VEC_AT(&e->hosts, host_entry, i);
        gpf_buf_printf(b, "gpufleet_host_drift{host=\"%s\"} %d\n", h->rec.id, h->ndrift);
    }
    gpf_buf_puts(b, "# HELP gpufleet_gpu_allocated_milli GPU-equivalents allocated, in thousandths.\n"
                    "# TYPE gpufleet_gpu_allocated_milli gauge\n");
    for (size_t i = 0; i < e->hosts.n; i++) {
        host_entry *h = VEC_AT(&e->hosts, host_entry, i);
        gpf_host_usage *u = GPF_NEW(gpf_host_usage);
        host_usage(e, h, u);
        for (int g = 0; g < h->rec.ngpus; g++)
            gpf_buf_printf(b, "gpufleet_gpu_allocated_milli{host=\"%s\",gpu=\"%d\",model=\"%s\"} %d\n", h->rec.id,
                           h->rec.gpus[g].index, h->rec.gpus[g].model, u->gpu_allocated_milli[g]);
        gpf_free(u);
    }
    gpf_buf_printf(b,
                   "# TYPE gpufleet_pod_launches_total counter\ngpufleet_pod_launches_total %llu\n"
                   "# TYPE gpufleet_pod_launch_rejected_total counter\ngpufleet_pod_launch_rejected_total %llu\n"
                   "# TYPE gpufleet_pods_started_total counter\ngpufleet_pods_started_total %llu\n"
                   "# TYPE gpufleet_pods_failed_total counter\ngpufleet_pods_failed_total %llu\n"
                   "# TYPE gpufleet_agent_registrations_total counter\ngpufleet_agent_registrations_total %llu\n"
                   "# TYPE gpufleet_agent_bad_reports_total counter\ngpufleet_agent_bad_reports_total %llu\n"
                   "# TYPE gpufleet_usage_records gauge\ngpufleet_usage_records %zu\n"
                   "# TYPE gpufleet_events_total counter\ngpufleet_events_total %llu\n",
                   (unsigned long long)e->launches_total, (unsigned long long)e->launch_rejected_total,
                   (unsigned long long)e->pods_started_total, (unsigned long long)e->pods_failed_total,
                   (unsigned long long)e->agent_registrations_total,
                   (unsigned long long)e->bad_agent_reports_total, e->usage.n,
                   (unsigned long long)e->events_total);
    pthread_mutex_unlock(&e->mu);
}
