/* Engine: the agent side — registration, heartbeats, command long-poll, pod status. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "engine/engine_int.h"
#include "util/alloc.h"
#include "util/log.h"

static int require_agent(const gpf_principal *who, host_entry **h, gpf_engine *e, gpf_error *err)
{
    int rc = eng_can(who, GPF_ACT_AGENT_REPORT, NULL, err);
    if (rc != 0)
        return rc;
    *h = eng_host(e, who->host_id);
    if (!*h)
        return gpf_error_set(err, GPF_ENOTFOUND, "host '%s' is not registered", who->host_id);
    return 0;
}

/* The agent of h is heard from: h is seen now, and an unreachable or lost host is back,
 * written with its "host_back" event (an unreachable one's pods are reachable again, as
 * they were: the report that comes with or after this says which still run); in the
 * caller's scope (which undoes it all when it fails). */
static int mark_seen(gpf_engine *e, host_entry *h, gpf_error *err)
{
    int64_t now = eng_now(e);
    int rc = 0;
    eng_tx_save_host(e, h);
    if (h->rec.state == GPF_HOST_LOST || h->rec.state == GPF_HOST_UNREACHABLE) {
        gpf_host_rec nr = h->rec;
        nr.state = GPF_HOST_READY;
        nr.last_heartbeat_ms = now;
        if ((rc = eng_tx_write(e, err)) == 0)
            rc = gpf_store_host_put(e->store, &nr, err);
        if (rc == 0)
            rc = eng_event(e, err, "host_back", "info", h->rec.id, NULL, NULL,
                           "the agent is heard from again after %lld ms (host was %s)",
                           (long long)(now - h->last_seen_ms), gpf_host_state_name(h->rec.state));
        if (rc != 0)
            return rc;
        h->rec = nr;
        eng_sync_schedulable(e, h);
        eng_host_pods_reachable(e, h, 0);
    }
    h->last_seen_ms = now;
    h->rec.last_heartbeat_ms = now;
    return 0;
}

/* mark_seen as a transaction of its own. */
static int seen(gpf_engine *e, host_entry *h, gpf_error *err)
{
    eng_tx_begin(e);
    return eng_tx_end(e, mark_seen(e, h, err), err);
}

/* The registration's event: a new host, a re-keyed one replaced, or its own agent back. */
static int register_event(gpf_engine *e, int existed, int old_ngpus, const gpf_host_rec *rec, int own,
                          const gpf_join_token *jt, gpf_error *err)
{
    if (own)
        return eng_event(e, err, "host_reregistered", "info", rec->id, NULL, NULL,
                         "its agent re-registered with its own token: gpus=%d (were %d) cpus=%d runtime=%s "
                         "preflight=%s; its older agent tokens are revoked",
                         rec->ngpus, old_ngpus, rec->cpus, rec->runtime, gpf_preflight_name(rec->preflight));
    return eng_event(e, err, "host_registered", existed ? "warn" : "info", rec->id, NULL, jt->id,
                     "%s with join token %s ('%s'): gpus=%d cpus=%d runtime=%s preflight=%s",
                     existed ? "replaces the re-keyed host" : "new host", jt->id, jt->name, rec->ngpus, rec->cpus,
                     rec->runtime, gpf_preflight_name(rec->preflight));
}

int gpf_engine_agent_register(gpf_engine *e, const char *credential, const gpf_host_rec *in, char *agent_token,
                              size_t tsz, int *heartbeat_ms, gpf_error *err)
{
    int rc = 0, own = 0;
    gpf_join_token *jt = NULL;
    gpf_token tok;
    pthread_mutex_lock(&e->mu);
    if ((rc = eng_join_admit(e, credential, in, &own, &jt, err)) != 0)
        goto out;
    for (int i = 0; i < in->ngpus; i++) {
        if (!gpf_catalog_model(e->cat, in->gpus[i].model)) {
            e->bad_agent_reports_total++;
            rc = gpf_error_set(err, GPF_EINVAL, "host.gpus[%d].model: unknown GPU model '%s' (not in the catalog)", i,
                               in->gpus[i].model);
            goto out;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(in->gpus[i].uuid, in->gpus[j].uuid) == 0) {
                rc = gpf_error_set(err, GPF_EINVAL, "host.gpus[%d].uuid: duplicate GPU %s", i, in->gpus[i].uuid);
                goto out;
            }
    }
    if (in->nfindings < 0 || in->nfindings > GPF_MAX_HOST_FINDINGS) {
        rc = gpf_error_set(err, GPF_EINVAL, "host.preflight: at most %d findings", GPF_MAX_HOST_FINDINGS);
        goto out;
    }
    host_entry *h = eng_host(e, in->id);
    gpf_host_rec *rec = GPF_NEW(gpf_host_rec);
    *rec = *in;
    rec->state = GPF_HOST_READY;
    rec->last_heartbeat_ms = eng_now(e);
    rec->registered_ms = h ? h->rec.registered_ms : rec->last_heartbeat_ms;
    rec->preflight_ms = rec->preflight != GPF_PREFLIGHT_UNKNOWN ? rec->last_heartbeat_ms : 0;
    /* the override is the operator's, never the agent's: it survives re-registration */
    rec->override = h ? h->rec.override : 0;
    gpf_strlcpy(rec->override_by, h ? h->rec.override_by : "", sizeof rec->override_by);
    gpf_strlcpy(rec->override_reason, h ? h->rec.override_reason : "", sizeof rec->override_reason);
    rec->override_ms = h ? h->rec.override_ms : 0;
    rec->rekey_ms = 0; /* a pending re-key is used up */
    rec->rekey_by[0] = '\0';
    /* One transaction: the host, the pods its new record no longer fits (failed), what its
     * preflight said, the join token's use, the agent's new token (its older ones revoked)
     * and the event. A new host joins the ledger once that committed (no pod can be placed on
     * it before). */
    int old_ngpus = h ? h->rec.ngpus : 0;
    eng_tx_begin(e);
    if ((rc = eng_tx_write(e, err)) == 0)
        rc = gpf_store_host_put(e->store, rec, err);
    if (rc == 0 && h) {
        if (memcmp(h->rec.gpus, rec->gpus, sizeof rec->gpus) != 0 || h->rec.ngpus != rec->ngpus)
            GPF_WARN("engine", "event=host_gpus_changed host=%s before=%d after=%d", rec->id, h->rec.ngpus,
                     rec->ngpus);
        eng_tx_save_host(e, h);
        h->rec = *rec;
        h->last_seen_ms = h->last_report_ms = rec->last_heartbeat_ms;
        rc = eng_ledger_rebuild_host(e, h, err);
    }
    if (rc == 0)
        rc = eng_preflight_event(e, rec, err);
    if (rc == 0)
        rc = register_event(e, h != NULL, old_ngpus, rec, own, jt, err);
    if (rc == 0 && jt)
        rc = eng_join_use(e, jt, err);
    if (rc == 0 && h)
        rc = eng_host_tokens_revoke(e, rec->id, err);
    if (rc == 0)
        rc = eng_make_token(e, "gpfagent_", NULL, rec->id, agent_token, tsz, &tok, err);
    if (rc == 0)
        e->agent_registrations_total++;
    rc = eng_tx_end(e, rc, err);
    if (rc == 0 && h)
        eng_host_tokens_forget(e, rec->id, tok.id);
    if (rc == 0 && !h) {
        h = vec_push(&e->hosts, sizeof(host_entry));
        h->rec = *rec;
        h->last_seen_ms = h->last_report_ms = rec->last_heartbeat_ms;
        rc = eng_ledger_rebuild_host(e, h, err); /* no pods on it: nothing to write */
    }
    gpf_free(rec);
    if (rc != 0)
        goto out;
    eng_bump(e, h);
    *heartbeat_ms = e->heartbeat_ms;
out:
    if ((rc = eng_unlock_sync(e, rc, err)) != 0 && agent_token && tsz) /* not durable: not handed out */
        agent_token[0] = '\0';
    return rc;
}

int gpf_engine_agent_heartbeat(gpf_engine *e, const gpf_principal *who, const gpf_agent_report *r, gpf_error *err)
{
    static const gpf_agent_report none;
    host_entry *h = NULL;
    int bare = r == NULL; /* a sign of life only: nothing to reconcile */
    if (bare)
        r = &none;
    pthread_mutex_lock(&e->mu);
    int rc = require_agent(who, &h, e, err);
    if (rc != 0)
        goto out;
    for (int i = 0; r->has_gpus && i < r->ngpus; i++) {
        int known = 0;
        for (int g = 0; g < h->rec.ngpus && !known; g++)
            known = strcmp(h->rec.gpus[g].uuid, r->gpus[i].uuid) == 0;
        if (!known) {
            e->bad_agent_reports_total++;
            rc = gpf_error_set(err, GPF_EINVAL, "gpus[%d]: GPU %s is not registered on host %s; re-register the agent",
                               i, r->gpus[i].uuid, h->rec.id);
            goto out;
        }
    }
    /* One transaction: the host back when it was lost, the pods that died, the drift; when
     * it fails the agent gets the error and the engine is as it was (the next report tries
     * again). */
    eng_tx_begin(e);
    if ((rc = mark_seen(e, h, err)) != 0) {
        eng_tx_end(e, rc, err);
        goto out;
    }
    int old_orphans = h->norphans;
    h->norphans = 0;
    for (int i = 0; i < r->npods; i++) {
        gpf_pod *p = eng_pod(e, r->pods[i].id);
        int wanted = p && p->placed && strcmp(p->placement.host_id, h->rec.id) == 0 &&
                     !gpf_pod_state_is_final(p->state);
        if (!wanted && r->pods[i].state == GPF_POD_RUNNING && h->norphans < MAX_ORPHANS) {
            gpf_strlcpy(h->orphans[h->norphans++], r->pods[i].id, GPF_ID_MAX);
            GPF_WARN("engine", "event=orphan_pod host=%s pod=%s action=stop", h->rec.id, r->pods[i].id);
        }
    }
    if (!bare) {
        rc = eng_reconcile(e, h, r, err);
        h->last_report_ms = eng_now(e);
    }
    if (h->norphans > old_orphans)
        eng_bump(e, h);
    rc = eng_tx_end(e, rc, err);
out:
    return eng_unlock_sync(e, rc, err);
}

/* Outstanding commands of a host; caller holds the lock. */
static void collect(gpf_engine *e, host_entry *h, gpf_agent_cmd **out, size_t *n)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < e->pods.n + (size_t)h->norphans; i++) {
        gpf_agent_cmd c;
        memset(&c, 0, sizeof c);
        if (i < e->pods.n) {
            gpf_pod *p = VEC_AT(&e->pods, gpf_pod, i);
            if (!p->placed || strcmp(p->placement.host_id, h->rec.id) != 0)
                continue;
            if (p->state == GPF_POD_STARTING)
                c.type = GPF_CMD_START_POD;
            else if (p->state == GPF_POD_STOPPING)
                c.type = GPF_CMD_STOP_POD;
            else
                continue;
            c.pod = *p;
            gpf_strlcpy(c.ssh_pubkey, p->ssh_pubkey, sizeof c.ssh_pubkey);
            gpf_sku *k = eng_sku(e, p->sku);
            if (k)
                gpf_strlcpy(c.env, k->env, sizeof c.env);
        } else {
            c.type = GPF_CMD_STOP_POD;
            gpf_strlcpy(c.pod.id, h->orphans[i - e->pods.n], sizeof c.pod.id);
            c.pod.state = GPF_POD_STOPPING;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = gpf_reallocarray(*out, cap, sizeof c);
        }
        (*out)[(*n)++] = c;
    }
}

int gpf_engine_agent_commands(gpf_engine *e, const gpf_principal *who, int64_t after, int wait_ms,
                              gpf_agent_cmd **out, size_t *n, int64_t *seq, gpf_error *err)
{
    host_entry *h = NULL;
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += wait_ms / 1000;
    dl.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&e->mu);
    int rc = require_agent(who, &h, e, err);
    if (rc != 0 || (rc = seen(e, h, err)) != 0)
        goto out;
    while (h->seq <= after && !e->closing) {
        if (pthread_cond_timedwait(&e->cond, &e->mu, &dl) == ETIMEDOUT)
            break;
        h = eng_host(e, who->host_id); /* the hosts array may have grown */
        if (!h) {
            rc = gpf_error_set(err, GPF_ENOTFOUND, "host '%s' is not registered", who->host_id);
            goto out;
        }
    }
    if ((rc = seen(e, h, err)) != 0)
        goto out;
    *seq = h->seq;
    if (h->seq > after)
        collect(e, h, out, n);
out:
    return eng_unlock_sync(e, rc, err);
}

/* The agent started p: running, with its usage record opened; in the caller's scope. */
static int pod_running(gpf_engine *e, const host_entry *h, gpf_pod *p, const gpf_agent_pod_status *st, int64_t now,
                       gpf_error *err)
{
    gpf_pod np = *p;
    np.state = GPF_POD_RUNNING;
    np.started_ms = now;
    np.ssh_port = st->ssh_port;
    gpf_strlcpy(np.ssh_user, st->ssh_user, sizeof np.ssh_user);
    gpf_strlcpy(np.ssh_host, h->rec.address[0] ? h->rec.address : "127.0.0.1", sizeof np.ssh_host);
    gpf_strlcpy(np.device_ids, st->device_ids, sizeof np.device_ids);
    if (st->has_isolation)
        np.isolation = st->isolation;
    gpf_strlcpy(np.ssh_host_key, st->ssh_host_key, sizeof np.ssh_host_key);
    if (st->has_isolation_layers)
        np.isolation_layers = st->isolation_layers;
    gpf_strlcpy(np.reason, st->message[0] ? st->message : "running", sizeof np.reason);
    gpf_usage u;
    memset(&u, 0, sizeof u);
    gpf_strlcpy(u.pod_id, np.id, sizeof u.pod_id);
    gpf_strlcpy(u.owner, np.owner, sizeof u.owner);
    gpf_strlcpy(u.project, np.project, sizeof u.project);
    gpf_strlcpy(u.sku, np.sku, sizeof u.sku);
    gpf_strlcpy(u.host_id, h->rec.id, sizeof u.host_id);
    u.slice_kind = np.slice.kind;
    u.isolation = np.isolation;
    u.gpu_milli = np.placement.gpu_milli;
    u.price_micro_per_hour = np.price_micro_per_hour;
    u.start_ms = now;
    int rc = eng_store_pod_usage(e, &np, &u, 1, err);
    if (rc != 0)
        return rc;
    eng_tx_save_pod(e, p);
    *p = np;
    eng_tx_save_len(e, &e->usage);
    *(gpf_usage *)vec_push(&e->usage, sizeof u) = u;
    e->pods_started_total++;
    pthread_cond_broadcast(&e->cond);
    GPF_INFO("engine", "event=pod_running pod=%s host=%s port=%d isolation=%s", p->id, h->rec.id, p->ssh_port,
             gpf_isolation_name(p->isolation));
    return 0;
}

/* One pod status report of h's agent, in the caller's transaction. Returns 0 when it is
 * taken (*rc: the result of its writes; a late report about a final pod writes nothing),
 * else the refusal's code with nothing written: gov's (why says why: a pod not placed on
 * h) or GPF_EINVAL with why "" (a state the engine does not take). */
static int apply_status(gpf_engine *e, const gpf_principal *who, host_entry *h, const gpf_agent_status_item *it,
                        char *why, size_t wsz, int *rc, gpf_error *err)
{
    const gpf_agent_pod_status *st = &it->st;
    gpf_pod stored; /* a final pod is only in the store: its late report changes nothing */
    gpf_pod *p = eng_pod_any(e, it->pod_id, &stored, rc, err);
    int refused = 0;
    why[0] = '\0';
    if (*rc != 0)
        return 0;
    refused = gpf_gov_can(who, GPF_ACT_AGENT_POD_STATUS,
                          &(gpf_gov_object){.id = it->pod_id, .host_id = p ? p->placement.host_id : NULL}, why, wsz);
    if (refused != 0 || gpf_pod_state_is_final(p->state))
        return refused;
    if (st->state == GPF_POD_RUNNING) {
        if (p->state == GPF_POD_STARTING) /* else already running, or a stop is under way */
            *rc = pod_running(e, h, p, st, eng_now(e), err);
        return 0;
    }
    if (st->state == GPF_POD_FAILED || st->state == GPF_POD_STOPPED) {
        *rc = eng_pod_finish(e, p, st->state, eng_now(e), st->message[0] ? st->message : gpf_pod_state_name(st->state),
                             err);
        return 0;
    }
    return GPF_EINVAL;
}

/* The reports of one request (batch: 1 when it came as a batch), in one transaction under
 * one hold of the lock; gpf_engine_agent_pod_status_batch says the rest. */
static int statuses(gpf_engine *e, const gpf_principal *who, const gpf_agent_status_item *items, size_t n,
                    gpf_error *results, int batch, gpf_error *err)
{
    host_entry *h = NULL;
    char why[sizeof err->msg] = "";
    uint64_t bad = 0; /* refusals about pods not on the host: counted once the batch committed */
    pthread_mutex_lock(&e->mu);
    int rc = require_agent(who, &h, e, err);
    if (rc != 0)
        goto out;
    /* One transaction: the host seen (back, when it was lost: also by reports it refuses)
     * and every report's change, in order; a refused report changes nothing. */
    eng_tx_begin(e);
    rc = mark_seen(e, h, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        gpf_error_clear(&results[i]);
        int refused = apply_status(e, who, h, &items[i], why, sizeof why, &rc, err);
        if (refused && why[0]) {
            bad++;
            gpf_error_set(&results[i], refused, "%s", why);
        } else if (refused) {
            gpf_error_set(&results[i], GPF_EINVAL, "state must be running, failed or stopped");
        }
    }
    if ((rc = eng_tx_end(e, rc, err)) != 0)
        goto out;
    e->bad_agent_reports_total += bad;
    e->agent_status_requests[batch]++;
    e->agent_status_reports_total += n;
out:
    return eng_unlock_sync(e, rc, err);
}

int gpf_engine_agent_pod_status_batch(gpf_engine *e, const gpf_principal *who, const gpf_agent_status_item *items,
                                      size_t n, gpf_error *results, gpf_error *err)
{
    return statuses(e, who, items, n, results, 1, err);
}

int gpf_engine_agent_pod_status(gpf_engine *e, const gpf_principal *who, const char *pod_id,
                                const gpf_agent_pod_status *st, gpf_error *err)
{
    gpf_agent_status_item it;
    gpf_error res = {0};
    if (strlen(pod_id) >= sizeof it.pod_id)
        return gpf_error_set(err, GPF_ENOTFOUND, "no pod '%.64s'", pod_id);
    gpf_strlcpy(it.pod_id, pod_id, sizeof it.pod_id);
    it.st = *st;
    int rc = statuses(e, who, &it, 1, &res, 0, err);
    if (rc == 0 && res.code != 0) {
        rc = res.code;
        if (err)
            *err = res;
    }
    return rc;
}
