/* Engine: pod lifecycle (launch, stop, wait, list) and usage records. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "engine/engine_int.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/secret.h"

/* Launches between refreshes of the policy's task distribution from the live pods. */
#define TASKS_EVERY 32

void eng_policy_tasks(gpf_engine *e)
{
    gpf_sched_task_type *t = e->skus.n ? gpf_calloc(e->skus.n, sizeof *t) : NULL;
    int n = 0;
    double total = 0;
    for (size_t i = 0; i < e->skus.n; i++) {
        const gpf_sku *k = VEC_AT(&e->skus, gpf_sku, i);
        if (k->slice.kind != GPF_SLICE_WHOLE && k->slice.kind != GPF_SLICE_SHARE)
            continue; /* MIG and vGPU are placed by their geometry */
        gpf_sched_task_type *x = &t[n++];
        x->cpus = k->cpus;
        x->num_gpu = k->slice.kind == GPF_SLICE_WHOLE ? k->slice.gpu_count : 1;
        x->gpu_milli = k->slice.kind == GPF_SLICE_WHOLE ? 1000 : k->slice.share_milli;
        x->nmodels = k->nmodels;
        for (int m = 0; m < k->nmodels; m++)
            gpf_strlcpy(x->models[m], k->models[m], sizeof x->models[m]);
        x->weight = 1;
        for (size_t j = 0; j < e->pods.n; j++) {
            const gpf_pod *p = VEC_AT(&e->pods, gpf_pod, j);
            x->weight += !gpf_pod_state_is_final(p->state) && strcmp(p->sku, k->name) == 0;
        }
        total += x->weight;
    }
    for (int i = 0; i < n; i++)
        t[i].weight /= total;
    gpf_sched_policy_set_tasks(e->policy, t, n);
    e->launches_since_tasks = 0;
    gpf_free(t);
}

/* May who do action (GPF_ACT_POD_READ or _STOP) to pod p? 1 or 0. */
static int pod_allowed(const gpf_principal *who, gpf_action action, const gpf_pod *p)
{
    return gpf_gov_can(who, action, &(gpf_gov_object){.id = p->id, .owner = p->owner}, NULL, 0) == 0;
}

/* The pod id that who may do action to, in *out: the live one in memory, or a final one
 * read from the store into *buf. An agent token is refused before the lookup; a pod the
 * caller may not see is answered as an unknown one, word for word, so that its existence
 * does not leak. Caller holds the lock. */
static int find_visible(gpf_engine *e, const gpf_principal *who, gpf_action action, const char *id, gpf_pod **out,
                        gpf_pod *buf, gpf_error *err)
{
    int rc = eng_can(who, action, NULL, err);
    if (rc != 0)
        return rc;
    gpf_pod *p = eng_pod_any(e, id, buf, &rc, err);
    if (rc != 0)
        return rc;
    if (!p || !pod_allowed(who, action, p))
        return gpf_error_set(err, GPF_ENOTFOUND, "no pod '%s'", id);
    *out = p;
    return 0;
}

int gpf_engine_pod_launch(gpf_engine *e, const gpf_principal *who, const gpf_launch_req *req, gpf_pod *out,
                          gpf_error *err)
{
    int rc = eng_can(who, GPF_ACT_POD_LAUNCH, NULL, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    e->launches_total++;
    gpf_sku *k = eng_sku(e, req->sku);
    if (!k) {
        rc = gpf_error_set(err, GPF_ENOTFOUND, "no SKU '%s' (gpufleet sku ls lists them)", req->sku);
        goto out;
    }
    gpf_user *u = eng_user(e, who->user);
    if (u && (u->disabled || u->deleted_ms)) { /* authenticated before it was disabled or deleted */
        rc = gpf_error_set(err, GPF_EUNAUTH, "user '%s' is %s", u->name, u->deleted_ms ? "deleted" : "disabled");
        goto out;
    }
    const char *key = req->ssh_pubkey[0] ? req->ssh_pubkey : (u ? u->ssh_pubkey : "");
    if (!key[0]) {
        rc = gpf_error_set(err, GPF_EINVAL,
                           "user '%s' has no SSH public key: run 'gpufleet login' or pass ssh_pubkey", who->user);
        goto out;
    }

    /* the image, fixed in the pod: the SKU's, else "default" when there is one; with
     * neither the digest stays "" and the agent decides */
    const gpf_image *img = eng_image(e, eng_sku_image_name(k));
    if (!img && k->image[0]) {
        rc = gpf_error_set(err, GPF_EINVAL, "no image named %s: import one with gpufleet image import", k->image);
        goto out;
    }

    gpf_sched_request sr;
    memset(&sr, 0, sizeof sr);
    sr.slice = k->slice;
    sr.nmodels = k->nmodels;
    for (int i = 0; i < k->nmodels; i++)
        sr.models[i] = k->models[i];
    sr.cpus = k->cpus;
    sr.memory_mib = k->memory_mib;
    sr.has_min_isolation = 1;
    sr.min_isolation = k->min_isolation;

    gpf_pod p;
    memset(&p, 0, sizeof p);
    if (++e->launches_since_tasks >= TASKS_EVERY)
        eng_policy_tasks(e); /* follow what people launch */
    rc = gpf_sched_place_with(&e->fleet, e->cat, e->policy, &sr, &p.placement, err);
    if (rc != 0) {
        e->launch_rejected_total++;
        goto out;
    }
    /* one scope from the booking on: it is undone when the write fails */
    eng_tx_begin(e);
    eng_tx_save_fleet_host(e, gpf_sched_fleet_find_host(&e->fleet, p.placement.host_id));
    rc = gpf_sched_apply(&e->fleet, e->cat, &p.placement, err);
    if (rc != 0) {
        e->launch_rejected_total++;
        eng_tx_end(e, rc, err);
        goto out;
    }
    /* unique among live pods (memory) and final ones (the store) */
    gpf_pod *seen = GPF_NEW(gpf_pod);
    do
        gpf_random_id("pod-", 8, p.id, sizeof p.id);
    while (eng_pod_any(e, p.id, seen, &rc, err) && rc == 0);
    gpf_free(seen);
    if (rc != 0) {
        eng_tx_end(e, rc, err);
        goto out;
    }
    gpf_strlcpy(p.owner, who->user, sizeof p.owner);
    gpf_strlcpy(p.project, req->project[0] ? req->project : "default", sizeof p.project);
    gpf_strlcpy(p.sku, k->name, sizeof p.sku);
    p.slice = k->slice;
    host_entry *ph = eng_host(e, p.placement.host_id);
    /* what the host's runtime and the slice give; the agent reports what it enforced */
    p.isolation = gpf_isolation_expected(ph ? ph->rec.isolation_max : GPF_ISO_SOFT, k->slice.kind);
    gpf_strlcpy(p.image, eng_sku_image_name(k), sizeof p.image);
    gpf_strlcpy(p.image_digest, img ? img->digest : "", sizeof p.image_digest);
    p.state = GPF_POD_STARTING;
    p.placed = 1;
    p.price_micro_per_hour = k->price_micro_per_hour;
    p.created_ms = eng_now(e);
    gpf_strlcpy(p.ssh_pubkey, key, sizeof p.ssh_pubkey);
    snprintf(p.reason, sizeof p.reason, "placed on %s%s%s; waiting for its agent", p.placement.host_id,
             p.placement.note[0] ? "; " : "", p.placement.note);
    if ((rc = eng_tx_write(e, err)) == 0)
        rc = gpf_store_pod_put(e->store, &p, err);
    if (rc == 0) {
        eng_tx_save_len(e, &e->pods);
        *(gpf_pod *)vec_push(&e->pods, sizeof p) = p;
        if (ph) {
            eng_tx_save_host(e, ph);
            eng_bump(e, ph);
        }
    }
    if ((rc = eng_tx_end(e, rc, err)) != 0)
        goto out;
    GPF_INFO("engine", "event=pod_launch pod=%s owner=%s sku=%s host=%s gpu_milli=%d", p.id, p.owner, p.sku,
             p.placement.host_id, p.placement.gpu_milli);
    if (out)
        *out = p;
out:
    return eng_unlock_sync(e, rc, err);
}

int gpf_engine_pod_get(gpf_engine *e, const gpf_principal *who, const char *id, gpf_pod *out, gpf_error *err)
{
    int rc = eng_can(who, GPF_ACT_POD_READ, NULL, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    gpf_pod *p = eng_pod(e, id);
    if (p)
        *out = *p;
    pthread_mutex_unlock(&e->mu);
    if (!p) {
        /* not live: a final pod is read from the store (outside the lock when it can be);
         * one that finished since is there too, as the store has it before memory drops it */
        int slot = -1;
        gpf_store *s = eng_read_begin(e, &slot);
        rc = gpf_store_pod_get(s, id, out, err);
        eng_read_end(e, slot);
        if (rc != 0 && rc != GPF_ENOTFOUND)
            return rc;
    }
    if (rc != 0 || !pod_allowed(who, GPF_ACT_POD_READ, out)) {
        memset(out, 0, sizeof *out);
        return gpf_error_set(err, GPF_ENOTFOUND, "no pod '%s'", id);
    }
    return 0;
}

static void deadline_after(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int gpf_engine_pod_wait(gpf_engine *e, const gpf_principal *who, const char *id, int timeout_ms, gpf_pod *out,
                        gpf_error *err)
{
    struct timespec dl;
    deadline_after(&dl, timeout_ms < 0 ? 0 : timeout_ms);
    gpf_pod *p = NULL;
    gpf_pod *buf = GPF_NEW(gpf_pod); /* a pod that finished (and left memory) while we waited */
    pthread_mutex_lock(&e->mu);
    int rc;
    for (;;) {
        rc = find_visible(e, who, GPF_ACT_POD_READ, id, &p, buf, err);
        if (rc != 0 || p->state == GPF_POD_RUNNING || gpf_pod_state_is_final(p->state) || e->closing)
            break;
        if (pthread_cond_timedwait(&e->cond, &e->mu, &dl) == ETIMEDOUT) {
            rc = find_visible(e, who, GPF_ACT_POD_READ, id, &p, buf, err);
            break;
        }
    }
    if (rc == 0)
        *out = *p;
    eng_unlock(e);
    gpf_free(buf);
    return rc;
}

/* Orders pod pointers by (created_ms, id): the order of every pod list. */
static int pod_order(const void *a, const void *b)
{
    const gpf_pod *x = *(const gpf_pod *const *)a, *y = *(const gpf_pod *const *)b;
    if (x->created_ms != y->created_ms)
        return x->created_ms < y->created_ms ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* 1 when the live pod p matches q's filters and comes after its cursor. */
static int pod_matches(const gpf_pod *p, const gpf_pod_query *q)
{
    if (gpf_pod_state_is_final(p->state) || (q->has_state && p->state != q->state))
        return 0;
    if (q->owner && q->owner[0] && strcmp(p->owner, q->owner) != 0)
        return 0;
    if (!q->after_id || !q->after_id[0])
        return 1;
    return p->created_ms > q->after_created_ms ||
           (p->created_ms == q->after_created_ms && strcmp(p->id, q->after_id) > 0);
}

/* A page of live pods from memory: filtered and ordered through pointers, and only the page
 * copied. Caller holds the lock. */
static void page_live(gpf_engine *e, const gpf_principal *who, const gpf_pod_query *q, gpf_pod **out, size_t *n,
                      int *more)
{
    const gpf_pod **c = e->pods.n ? gpf_calloc(e->pods.n, sizeof *c) : NULL;
    size_t k = 0;
    for (size_t i = 0; i < e->pods.n; i++) {
        const gpf_pod *p = VEC_AT(&e->pods, gpf_pod, i);
        if (pod_matches(p, q) && pod_allowed(who, GPF_ACT_POD_READ, p))
            c[k++] = p;
    }
    if (k > 1)
        qsort(c, k, sizeof *c, pod_order);
    *n = q->limit && k > q->limit ? q->limit : k;
    *more = k > *n;
    *out = *n ? gpf_reallocarray(NULL, *n, sizeof **out) : NULL;
    for (size_t i = 0; i < *n; i++)
        (*out)[i] = *c[i];
    gpf_free(c);
}

/* A page from the store (final pods live only there): read outside the engine's lock where
 * it can be, then the memory-only mark of pods on unreachable hosts is put on. A caller who
 * may not read every pod reads only their own. */
static int page_stored(gpf_engine *e, const gpf_principal *who, const gpf_pod_query *q, gpf_pod **out, size_t *n,
                       int *more, gpf_error *err)
{
    gpf_pod_query sq = *q;
    int may_all = gpf_gov_can(who, GPF_ACT_POD_READ, &(gpf_gov_object){.id = "", .owner = ""}, NULL, 0) == 0;
    if (!eng_page_owner(who, may_all, q->owner, &sq.owner))
        return 0; /* another user's pods: none visible */
    if (sq.limit)
        sq.limit++; /* one more says whether there is a next page */
    int slot = -1;
    gpf_store *s = eng_read_begin(e, &slot);
    int rc = gpf_store_pods_query(s, &sq, out, n, err);
    eng_read_end(e, slot);
    if (rc != 0)
        return rc;
    *more = eng_page_more(n, q->limit);
    size_t k = 0;
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < *n; i++) {
        gpf_pod *p = &(*out)[i];
        if (!pod_allowed(who, GPF_ACT_POD_READ, p))
            continue;
        host_entry *h = p->placed && !gpf_pod_state_is_final(p->state) ? eng_host(e, p->placement.host_id) : NULL;
        p->host_unreachable = h && h->rec.state == GPF_HOST_UNREACHABLE;
        if (p != &(*out)[k]) /* a pod is 6.5 KB: no copy onto itself */
            (*out)[k] = *p;
        k++;
    }
    eng_unlock(e);
    *n = k;
    return 0;
}

int gpf_engine_pod_page(gpf_engine *e, const gpf_principal *who, const gpf_pod_query *q, gpf_pod **out, size_t *n,
                        int *more, gpf_error *err)
{
    *out = NULL;
    *n = 0;
    *more = 0;
    int rc = eng_can(who, GPF_ACT_POD_LIST, NULL, err);
    if (rc != 0)
        return rc;
    if (!q->live)
        return page_stored(e, who, q, out, n, more, err);
    pthread_mutex_lock(&e->mu);
    page_live(e, who, q, out, n, more);
    eng_unlock(e);
    return 0;
}

int gpf_engine_pod_list(gpf_engine *e, const gpf_principal *who, int include_final, const char *owner,
                        gpf_pod **out, size_t *n, gpf_error *err)
{
    int more = 0;
    gpf_pod_query q = {.live = !include_final, .owner = owner};
    return gpf_engine_pod_page(e, who, &q, out, n, &more, err);
}

/* Caller holds the lock. */
int eng_pod_finish(gpf_engine *e, gpf_pod *p, gpf_pod_state state, int64_t at_ms, const char *reason,
                   gpf_error *err)
{
    gpf_pod np = *p;
    np.state = state;
    np.stopped_ms = at_ms;
    np.placed = 0;
    np.ssh_port = 0;
    if (reason)
        gpf_strlcpy(np.reason, reason, sizeof np.reason);
    gpf_usage *u = eng_open_usage(e, p->id);
    gpf_usage nu;
    if (u) {
        nu = *u;
        nu.end_ms = at_ms > nu.start_ms ? at_ms : nu.start_ms;
    }
    eng_tx_begin(e);
    int rc = eng_store_pod_usage(e, &np, u ? &nu : NULL, 0, err);
    if (rc != 0)
        return eng_tx_end(e, rc, err);
    if (p->placed) {
        eng_tx_save_fleet_host(e, gpf_sched_fleet_find_host(&e->fleet, p->placement.host_id));
        if (gpf_sched_release(&e->fleet, e->cat, &p->placement, NULL) != 0)
            GPF_ERROR("engine", "event=release_failed pod=%s", p->id);
    }
    np.placement = p->placement; /* keep where it ran, for the record */
    eng_tx_save_pod(e, p);
    *p = np;
    if (u) {
        eng_tx_save_usage(e, u);
        *u = nu;
    }
    if (state == GPF_POD_FAILED)
        e->pods_failed_total++;
    e->sweep_pending = 1; /* it leaves memory at the next eng_unlock */
    if ((rc = eng_tx_end(e, 0, err)) != 0)
        return rc;
    pthread_cond_broadcast(&e->cond);
    GPF_INFO("engine", "event=pod_final pod=%s state=%s reason=\"%s\"", p->id, gpf_pod_state_name(state), p->reason);
    return 0;
}

/* Caller holds the lock. */
int eng_pod_request_stop(gpf_engine *e, gpf_pod *p, const char *reason, gpf_error *err)
{
    if (gpf_pod_state_is_final(p->state))
        return gpf_error_set(err, GPF_ESTATE, "pod '%s' is already %s", p->id, gpf_pod_state_name(p->state));
    host_entry *h = p->placed ? eng_host(e, p->placement.host_id) : NULL;
    if (!h || h->rec.state == GPF_HOST_LOST) {
        /* Nobody can stop it for us: it is stopped as far as the ledger goes. */
        return eng_pod_finish(e, p, GPF_POD_STOPPED, eng_now(e), "stopped (host unreachable)", err);
    }
    if (p->state == GPF_POD_STOPPING)
        return 0;
    gpf_pod np = *p;
    np.state = GPF_POD_STOPPING;
    gpf_strlcpy(np.reason, reason, sizeof np.reason);
    int rc = eng_tx_write(e, err);
    if (rc == 0)
        rc = gpf_store_pod_put(e->store, &np, err);
    if (rc != 0)
        return rc;
    eng_tx_save_pod(e, p);
    *p = np;
    eng_tx_save_host(e, h);
    eng_bump(e, h);
    return 0;
}

int gpf_engine_pod_stop(gpf_engine *e, const gpf_principal *who, const char *id, gpf_pod *out, gpf_error *err)
{
    gpf_pod *p = NULL;
    char reason[GPF_TEXT_MAX];
    gpf_pod *buf = GPF_NEW(gpf_pod); /* a final pod, from the store: stopping it is refused */
    pthread_mutex_lock(&e->mu);
    int rc = find_visible(e, who, GPF_ACT_POD_STOP, id, &p, buf, err);
    if (rc != 0)
        goto out;
    snprintf(reason, sizeof reason, "stop requested by %s", who->user);
    rc = eng_pod_request_stop(e, p, reason, err);
    if (rc == 0 && out)
        *out = *p;
out:
    rc = eng_unlock_sync(e, rc, err);
    gpf_free(buf);
    return rc;
}
