/* Engine: keeping the ledger equal to the hardware.
 *
 *  - the preflight gate: a host whose agent's preflight failed takes no new pods until it
 *    passes or an operator overrides it;
 *  - reconciliation: each heartbeat is compared with the ledger; a pod the agent saw die
 *    is failed at that moment (its slice freed, its usage closed), and differences that
 *    are not the engine's to fix (a GPU gone, a MIG device nobody holds, a process outside
 *    any pod, an idle pod) are kept as open drift and logged as events when they appear
 *    and when they clear;
 *  - host outage: a host silent for lost_after_beats heartbeats is unreachable: it takes no
 *    new pods, its pods keep their state (reachability "unknown") and stay metered; heard
 *    from again, it is ready (engine_agent.c). Silent for host_grace_ms more, it is lost,
 *    and so are its pods (usage closed at the last report that saw them);
 *  - the event log (store table "events"). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"
#include "util/alloc.h"
#include "util/log.h"

/* ---- schedulability ------------------------------------------------------ */

static const gpf_host_finding *first_failure(const gpf_host_rec *r)
{
    for (int i = 0; i < r->nfindings; i++)
        if (r->findings[i].level == GPF_PREFLIGHT_FAIL)
            return &r->findings[i];
    return NULL;
}

int eng_host_schedulable(const host_entry *h, char *why, size_t n)
{
    const gpf_host_rec *r = &h->rec;
    if (why && n)
        why[0] = '\0';
    if (r->state == GPF_HOST_LOST) {
        if (why)
            snprintf(why, n, "lost: no heartbeat from its agent");
        return 0;
    }
    if (r->state == GPF_HOST_UNREACHABLE) {
        if (why)
            snprintf(why, n, "unreachable: its agent is silent (its pods are kept until the host grace ends)");
        return 0;
    }
    if (r->state == GPF_HOST_DRAINING) {
        if (why)
            snprintf(why, n, "draining");
        return 0;
    }
    if (r->preflight == GPF_PREFLIGHT_FAIL && !r->override) {
        const gpf_host_finding *f = first_failure(r);
        if (why)
            snprintf(why, n, "preflight failed (%s%s%.*s); fix it and restart the agent, or `gpufleet host override %s`",
                     f ? f->check : "see findings", f ? ": " : "", f ? 120 : 0, f ? f->detail : "", r->id);
        return 0;
    }
    if (h->gpus_missing > 0) {
        if (why)
            snprintf(why, n, "%d registered GPU%s no longer seen by the agent (see drift)", h->gpus_missing,
                     h->gpus_missing == 1 ? "" : "s");
        return 0;
    }
    return 1;
}

void eng_sync_schedulable(gpf_engine *e, host_entry *h)
{
    int idx = gpf_sched_fleet_find_host(&e->fleet, h->rec.id);
    if (idx >= 0) {
        eng_tx_save_fleet_host(e, idx);
        e->fleet.hosts[idx].schedulable = eng_host_schedulable(h, NULL, 0);
    }
}

/* ---- events ---------------------------------------------------------------- */

int eng_preflight_event(gpf_engine *e, const gpf_host_rec *r, gpf_error *err)
{
    if (r->preflight != GPF_PREFLIGHT_WARN && r->preflight != GPF_PREFLIGHT_FAIL)
        return 0;
    int fails = 0, warns = 0;
    for (int i = 0; i < r->nfindings; i++)
        fails += r->findings[i].level == GPF_PREFLIGHT_FAIL, warns += r->findings[i].level == GPF_PREFLIGHT_WARN;
    const gpf_host_finding *f = r->nfindings ? &r->findings[0] : NULL;
    return eng_event(e, err, "preflight", r->preflight == GPF_PREFLIGHT_FAIL ? "error" : "warn", r->id, NULL, NULL,
                     "preflight %s: %d failing, %d warning%s%s%s%s%s", gpf_preflight_name(r->preflight), fails, warns,
                     f ? "; " : "", f ? f->check : "", f ? ": " : "", f ? f->detail : "",
                     r->preflight == GPF_PREFLIGHT_FAIL && r->override ? " (overridden: host stays schedulable)" : "");
}

/* ---- drift ----------------------------------------------------------------- */

typedef struct drift_set {
    int n;
    int dropped;
    gpf_drift d[GPF_MAX_HOST_DRIFT];
} drift_set;

static void drift_add(drift_set *s, const char *kind, const char *subject, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void drift_add(drift_set *s, const char *kind, const char *subject, const char *fmt, ...)
{
    if (s->n == GPF_MAX_HOST_DRIFT) {
        s->dropped++;
        return;
    }
    gpf_drift *d = &s->d[s->n++];
    memset(d, 0, sizeof *d);
    gpf_strlcpy(d->kind, kind, sizeof d->kind);
    gpf_strlcpy(d->subject, subject, sizeof d->subject);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->detail, sizeof d->detail, fmt, ap);
    va_end(ap);
}

static const gpf_drift *drift_find(const gpf_drift *d, int n, const gpf_drift *x)
{
    for (int i = 0; i < n; i++)
        if (strcmp(d[i].kind, x->kind) == 0 && strcmp(d[i].subject, x->subject) == 0)
            return &d[i];
    return NULL;
}

/* The kinds of drift: how bad, whether the subject is a pod id, whether it keeps the host
 * out of placement while open, and whether the report's GPU part finds it (else its pods). */
static const struct drift_kind {
    const char *name;
    const char *severity;
    int about_pod;
    int blocks;
    int from_gpus;
} drift_kinds[] = {
    {"gpu_missing", "error", 0, 1, 1}, {"mig_missing", "error", 1, 0, 1}, {"foreign_process", "warn", 0, 0, 1},
    {"mig_unowned", "info", 0, 0, 1},  {"pod_idle", "info", 1, 0, 0},
};

static const struct drift_kind *drift_kind(const char *name)
{
    for (size_t i = 0; i < sizeof drift_kinds / sizeof drift_kinds[0]; i++)
        if (strcmp(drift_kinds[i].name, name) == 0)
            return &drift_kinds[i];
    return &drift_kinds[3]; /* not reached: every drift_add names one of the above */
}

/* The pod an event about d names (its subject), or NULL. */
static const char *drift_pod(const gpf_drift *d)
{
    return drift_kind(d->kind)->about_pod ? d->subject : NULL;
}

/* Replaces h's open drift with s: what cleared and what appeared become events (in that
 * order), in the caller's transaction or one of their own; h changes when they are written. */
static int drift_commit(gpf_engine *e, host_entry *h, drift_set *s, gpf_error *err)
{
    int64_t now = eng_now(e);
    int rc = 0;
    eng_tx_begin(e);
    for (int i = 0; i < h->ndrift && rc == 0; i++)
        if (!drift_find(s->d, s->n, &h->drift[i]))
            rc = eng_event(e, err, "drift_cleared", "info", h->rec.id, drift_pod(&h->drift[i]), h->drift[i].subject,
                           "%s cleared (open since %lld ms)", h->drift[i].kind, (long long)h->drift[i].since_ms);
    for (int i = 0; i < s->n && rc == 0; i++) {
        const gpf_drift *old = drift_find(h->drift, h->ndrift, &s->d[i]);
        if (old) {
            s->d[i].since_ms = old->since_ms;
            continue;
        }
        s->d[i].since_ms = now;
        rc = eng_event(e, err, s->d[i].kind, drift_kind(s->d[i].kind)->severity, h->rec.id, drift_pod(&s->d[i]),
                       s->d[i].subject, "%s", s->d[i].detail);
    }
    if (rc != 0)
        return eng_tx_end(e, rc, err);
    if (s->dropped)
        GPF_WARN("engine", "event=drift_truncated host=%s dropped=%d", h->rec.id, s->dropped);
    eng_tx_save_host(e, h);
    h->ndrift = s->n;
    memcpy(h->drift, s->d, sizeof(gpf_drift) * (size_t)s->n);
    int missing = 0;
    for (int i = 0; i < s->n; i++)
        missing += drift_kind(s->d[i].kind)->blocks;
    if (missing != h->gpus_missing) {
        h->gpus_missing = missing;
        eng_sync_schedulable(e, h);
    }
    return eng_tx_end(e, 0, err);
}

/* ---- reconciliation ------------------------------------------------------ */

static int live_on(const gpf_pod *p, const host_entry *h)
{
    return p->placed && !gpf_pod_state_is_final(p->state) && strcmp(p->placement.host_id, h->rec.id) == 0;
}

static const gpf_agent_pod_report *reported(const gpf_agent_report *r, const char *id)
{
    for (int i = 0; i < r->npods; i++)
        if (strcmp(r->pods[i].id, id) == 0)
            return &r->pods[i];
    return NULL;
}

static int pod_uses_gpu(const gpf_pod *p, const char *uuid)
{
    for (int i = 0; i < p->placement.ngpus; i++)
        if (strcmp(p->placement.gpu_uuids[i], uuid) == 0)
            return 1;
    return 0;
}

/* Pods the agent saw die, and pods it no longer runs: failed, slice freed, usage closed. */
static int reconcile_pods(gpf_engine *e, host_entry *h, const gpf_agent_report *r, drift_set *ds, gpf_error *err)
{
    int64_t now = eng_now(e);
    int rc = 0;
    for (size_t i = 0; i < e->pods.n && rc == 0; i++) {
        gpf_pod *p = VEC_AT(&e->pods, gpf_pod, i);
        if (!live_on(p, h))
            continue;
        const gpf_agent_pod_report *rp = reported(r, p->id);
        char reason[GPF_TEXT_MAX];
        int64_t at;
        if (rp && rp->state == GPF_POD_FAILED) {
            at = rp->at_ms > 0 && rp->at_ms < now ? rp->at_ms : now;
            snprintf(reason, sizeof reason, "the agent saw the pod die: %.200s", rp->message[0] ? rp->message : "exited");
        } else if (!rp && p->state == GPF_POD_RUNNING && p->started_ms <= h->last_report_ms) {
            /* running since before the previous report, and now the agent does not list it */
            at = h->last_report_ms;
            snprintf(reason, sizeof reason, "the agent on %s no longer runs the pod", h->rec.id);
        } else {
            if (rp && rp->state == GPF_POD_RUNNING && p->state == GPF_POD_RUNNING && rp->idle_s >= 0) {
                const gpf_sku *k = eng_sku(e, p->sku);
                if (k && k->idle_timeout_s > 0 && rp->idle_s >= k->idle_timeout_s)
                    drift_add(ds, "pod_idle", p->id, "no SSH session and no GPU work for %lld s (SKU %s idle timeout %lld s)",
                              (long long)rp->idle_s, k->name, (long long)k->idle_timeout_s);
            }
            continue;
        }
        if (at < p->started_ms)
            at = p->started_ms;
        gpf_pod_state fin = p->state == GPF_POD_STOPPING ? GPF_POD_STOPPED : GPF_POD_FAILED;
        rc = eng_pod_finish(e, p, fin, at, reason, err);
        if (rc == 0)
            rc = eng_event(e, err, "pod_dead", "warn", h->rec.id, p->id, NULL, "%s; usage closed at %lld", reason,
                           (long long)at);
    }
    return rc;
}

static const gpf_hw_gpu *reported_gpu(const gpf_agent_report *r, const char *uuid)
{
    for (int g = 0; g < r->ngpus; g++)
        if (strcmp(r->gpus[g].uuid, uuid) == 0)
            return &r->gpus[g];
    return NULL;
}

/* The pods live on one host, gathered once per report (the engine keeps every pod ever run). */
typedef struct host_pods {
    size_t n;
    const gpf_pod **p;
} host_pods;

static void host_pods_collect(gpf_engine *e, const host_entry *h, host_pods *hp)
{
    hp->n = 0;
    hp->p = e->pods.n ? gpf_calloc(e->pods.n, sizeof *hp->p) : NULL;
    for (size_t i = 0; i < e->pods.n; i++)
        if (live_on(VEC_AT(&e->pods, gpf_pod, i), h))
            hp->p[hp->n++] = VEC_AT(&e->pods, gpf_pod, i);
}

static const gpf_pod *host_pod(const host_pods *hp, const char *id)
{
    for (size_t i = 0; i < hp->n; i++)
        if (strcmp(hp->p[i]->id, id) == 0)
            return hp->p[i];
    return NULL;
}

/* 1 when the pod holds a MIG instance: a MIG slice, or a MIG-backed vGPU (its placement
 * carries the instance as a MIG slice's does). */
static int holds_mig(const gpf_pod *p)
{
    return p->slice.kind == GPF_SLICE_MIG || (p->slice.kind == GPF_SLICE_VGPU && p->placement.mig_size > 0);
}

/* MIG devices against the MIG instances of the live pods on one GPU. */
static void reconcile_mig(const host_pods *hp, const gpf_gpu_rec *g, const gpf_hw_gpu *hw, drift_set *ds)
{
    for (int m = 0; m < hw->nmig; m++) {
        const gpf_hw_mig *d = &hw->mig[m];
        int owned = 0;
        for (size_t i = 0; i < hp->n && !owned; i++) {
            const gpf_pod *p = hp->p[i];
            owned = holds_mig(p) && pod_uses_gpu(p, g->uuid) && p->placement.mig_start == d->start &&
                    p->placement.mig_size == d->size;
        }
        if (!owned)
            drift_add(ds, "mig_unowned", d->uuid[0] ? d->uuid : g->uuid,
                      "MIG device (GPU instance %d, profile %d, slots %d+%d) on GPU %d: no pod holds it", d->gi_id,
                      d->profile_id, d->start, d->size, g->index);
    }
    for (size_t i = 0; i < hp->n; i++) {
        const gpf_pod *p = hp->p[i];
        if (!holds_mig(p) || !pod_uses_gpu(p, g->uuid))
            continue;
        int found = 0;
        for (int m = 0; m < hw->nmig && !found; m++)
            found = hw->mig[m].start == p->placement.mig_start && hw->mig[m].size == p->placement.mig_size;
        if (!found)
            drift_add(ds, "mig_missing", p->id, "pod %s holds MIG slots %d+%d on GPU %d, but the GPU has no MIG device there",
                      p->id, p->placement.mig_start, p->placement.mig_size, g->index);
    }
}

/* Processes on one GPU that belong to no pod holding it. */
static void reconcile_procs(const host_pods *hp, const gpf_gpu_rec *g, const gpf_hw_gpu *hw, drift_set *ds)
{
    for (int k = 0; k < hw->nprocs; k++) {
        const gpf_hw_proc *pr = &hw->procs[k];
        char subject[GPF_UUID_MAX], mem[32];
        const gpf_pod *p = pr->pod_id[0] ? host_pod(hp, pr->pod_id) : NULL;
        if (p && pod_uses_gpu(p, g->uuid))
            continue;
        snprintf(subject, sizeof subject, "%.60s/pid %u", g->uuid, pr->pid);
        if (pr->used_mib >= 0)
            snprintf(mem, sizeof mem, "%lld MiB", (long long)pr->used_mib);
        else
            snprintf(mem, sizeof mem, "memory (amount unknown)");
        if (pr->pod_id[0])
            drift_add(ds, "foreign_process", subject, "pid %u of pod %s uses %s on GPU %d, which is not in the pod's slice",
                      pr->pid, pr->pod_id, mem, g->index);
        else
            drift_add(ds, "foreign_process", subject, "pid %u uses %s on GPU %d outside any pod", pr->pid, mem, g->index);
    }
}

int eng_reconcile(gpf_engine *e, host_entry *h, const gpf_agent_report *r, gpf_error *err)
{
    drift_set *ds = GPF_NEW(drift_set);
    host_pods hp = {0};
    eng_tx_begin(e);
    int rc = reconcile_pods(e, h, r, ds, err);
    if (rc != 0)
        goto out;
    host_pods_collect(e, h, &hp); /* what is still live after the dead ones were failed */
    if (!r->has_gpus) {
        /* no GPU report this time: what was open about the GPUs stays open */
        for (int i = 0; i < h->ndrift; i++)
            if (drift_kind(h->drift[i].kind)->from_gpus && ds->n < GPF_MAX_HOST_DRIFT)
                ds->d[ds->n++] = h->drift[i];
    } else {
        for (int g = 0; g < h->rec.ngpus; g++) {
            const gpf_gpu_rec *gr = &h->rec.gpus[g];
            const gpf_hw_gpu *hw = reported_gpu(r, gr->uuid);
            if (!hw) {
                drift_add(ds, "gpu_missing", gr->uuid, "GPU %d (%s, %s) is registered but the agent no longer sees it",
                          gr->index, gr->model, gr->pci_bus_id[0] ? gr->pci_bus_id : "bus id unknown");
                continue;
            }
            if (!hw->has_hw)
                continue;
            reconcile_mig(&hp, gr, hw, ds);
            reconcile_procs(&hp, gr, hw, ds);
        }
    }
    rc = drift_commit(e, h, ds, err);
out:
    gpf_free(hp.p);
    gpf_free(ds);
    return eng_tx_end(e, rc, err);
}

/* ---- host outage and loss ---------------------------------------------------- */

/* Marks the live pods of h as on an unreachable host (on 1) or not (0); memory only, in the
 * caller's scope. */
void eng_host_pods_reachable(gpf_engine *e, const host_entry *h, int unreachable)
{
    for (size_t i = 0; i < e->pods.n; i++) {
        gpf_pod *p = VEC_AT(&e->pods, gpf_pod, i);
        if (!live_on(p, h) || p->host_unreachable == unreachable)
            continue;
        eng_tx_save_pod(e, p);
        p->host_unreachable = unreachable;
    }
}

/* The host record of h in state st, written with an event; h and its ledger entry change
 * once both are; in the caller's scope. */
static int host_state_write(gpf_engine *e, host_entry *h, gpf_host_state st, gpf_error *err, const char *kind,
                            const char *severity, const char *detail)
{
    gpf_host_rec nr = h->rec;
    nr.state = st;
    int rc = eng_tx_write(e, err);
    if (rc == 0)
        rc = gpf_store_host_put(e->store, &nr, err);
    if (rc == 0)
        rc = eng_event(e, err, kind, severity, h->rec.id, NULL, NULL, "%s", detail);
    if (rc != 0)
        return rc;
    eng_tx_save_host(e, h);
    h->rec = nr;
    eng_sync_schedulable(e, h);
    return 0;
}

int eng_host_unreachable(gpf_engine *e, host_entry *h, int64_t now, gpf_error *err)
{
    char detail[GPF_TEXT_MAX];
    snprintf(detail, sizeof detail,
             "no heartbeat for %lld ms (limit %d beats of %d ms); its pods are kept, still metered, for %lld s",
             (long long)(now - h->last_seen_ms), e->lost_after_beats, e->heartbeat_ms,
             (long long)(e->host_grace_ms / 1000));
    eng_tx_begin(e);
    int rc = host_state_write(e, h, GPF_HOST_UNREACHABLE, err, "host_unreachable", "warn", detail);
    if (rc == 0)
        eng_host_pods_reachable(e, h, 1);
    return eng_tx_end(e, rc, err);
}

int eng_host_lost(gpf_engine *e, host_entry *h, int64_t now, gpf_error *err)
{
    char detail[GPF_TEXT_MAX];
    /* the last report that saw the pods (reports list every pod the agent runs) */
    int64_t last = h->last_report_ms > 0 ? h->last_report_ms : h->rec.last_heartbeat_ms;
    snprintf(detail, sizeof detail, "no heartbeat for %lld ms (unreachable, then the host grace of %lld s ended)",
             (long long)(now - h->last_seen_ms), (long long)(e->host_grace_ms / 1000));
    eng_tx_begin(e);
    int rc = host_state_write(e, h, GPF_HOST_LOST, err, "host_lost", "error", detail);
    if (rc == 0)
        eng_host_pods_reachable(e, h, 0);
    for (size_t i = 0; i < e->pods.n && rc == 0; i++) {
        gpf_pod *p = VEC_AT(&e->pods, gpf_pod, i);
        if (!live_on(p, h))
            continue;
        char reason[GPF_TEXT_MAX];
        snprintf(reason, sizeof reason, "host %s lost: no report from its agent since %lld", h->rec.id,
                 (long long)last);
        int64_t at = last > p->started_ms ? last : p->started_ms;
        rc = eng_pod_finish(e, p, GPF_POD_LOST, at, reason, err);
        if (rc == 0)
            rc = eng_event(e, err, "pod_lost", "warn", h->rec.id, p->id, NULL, "%s; usage closed at %lld", reason,
                           (long long)at);
    }
    return eng_tx_end(e, rc, err);
}

/* ---- operator override and the event log ---------------------------------- */

int gpf_engine_host_override(gpf_engine *e, const gpf_principal *who, const char *id, int on, const char *reason,
                             gpf_host_rec *out, gpf_error *err)
{
    int rc = eng_can(who, GPF_ACT_HOST_OVERRIDE, NULL, err);
    if (rc != 0)
        return rc;
    if (on && (!reason || !reason[0]))
        return gpf_error_set(err, GPF_EINVAL, "an override needs a reason (it is kept with the host and in the events)");
    if (reason && strlen(reason) >= GPF_TEXT_MAX)
        return gpf_error_set(err, GPF_EINVAL, "reason is too long (at most %d bytes)", GPF_TEXT_MAX - 1);
    pthread_mutex_lock(&e->mu);
    host_entry *h = eng_host(e, id);
    if (!h) {
        rc = gpf_error_set(err, GPF_ENOTFOUND, "no host '%s'", id);
        goto out;
    }
    gpf_host_rec nr = h->rec;
    nr.override = on ? 1 : 0;
    gpf_strlcpy(nr.override_by, on ? who->user : "", sizeof nr.override_by);
    gpf_strlcpy(nr.override_reason, on ? reason : "", sizeof nr.override_reason);
    nr.override_ms = on ? eng_now(e) : 0;
    /* the record and its event in one transaction */
    eng_tx_begin(e);
    rc = eng_tx_write(e, err);
    if (rc == 0)
        rc = gpf_store_host_put(e->store, &nr, err);
    if (rc == 0 && on)
        rc = eng_event(e, err, "override_set", "warn", id, NULL, NULL, "%s overrode the preflight (verdict %s): %s",
                       who->user, gpf_preflight_name(nr.preflight), reason);
    else if (rc == 0 && h->rec.override)
        rc = eng_event(e, err, "override_cleared", "info", id, NULL, NULL, "%s cleared the preflight override",
                       who->user);
    if (rc == 0) {
        eng_tx_save_host(e, h);
        h->rec = nr;
        eng_sync_schedulable(e, h);
    }
    if ((rc = eng_tx_end(e, rc, err)) == 0 && out)
        *out = h->rec;
out:
    return eng_unlock_sync(e, rc, err);
}

int gpf_engine_events_page(gpf_engine *e, const gpf_principal *who, const gpf_event_filter *f, gpf_event **out,
                           size_t *n, int64_t *next_before, gpf_error *err)
{
    *out = NULL;
    *n = 0;
    *next_before = 0;
    int rc = eng_can(who, GPF_ACT_EVENT_LIST, NULL, err);
    if (rc != 0)
        return rc;
    gpf_pod *buf = GPF_NEW(gpf_pod);
    pthread_mutex_lock(&e->mu);
    rc = gpf_store_events_list(e->store, f, out, n, err);
    int limit = f->limit > 0 ? f->limit : 100;
    /* a full page may have older matches: the next one starts below its oldest event */
    if (rc == 0 && *n > 0 && *n >= (size_t)limit)
        *next_before = (*out)[0].id;
    /* who sees every event needs no owner: skip the lookups */
    int see_all = gpf_gov_can(who, GPF_ACT_EVENT_READ, &(gpf_gov_object){.owner = ""}, NULL, 0) == 0;
    if (rc == 0 && !see_all) {
        /* each event as gov allows (members and finance: those of their own pods, live or
         * final: a final pod's owner is read from the store) */
        size_t k = 0;
        for (size_t i = 0; i < *n && rc == 0; i++) {
            const gpf_pod *p = (*out)[i].pod_id[0] ? eng_pod_any(e, (*out)[i].pod_id, buf, &rc, err) : NULL;
            gpf_gov_object obj = {.owner = p ? p->owner : ""};
            if (gpf_gov_can(who, GPF_ACT_EVENT_READ, &obj, NULL, 0) == 0)
                (*out)[k++] = (*out)[i];
        }
        *n = k;
    }
    eng_unlock(e);
    gpf_free(buf);
    if (rc != 0) {
        gpf_free(*out);
        *out = NULL;
        *n = 0;
        *next_before = 0;
    }
    return rc;
}

int gpf_engine_events_list(gpf_engine *e, const gpf_principal *who, const gpf_event_filter *f, gpf_event **out,
                           size_t *n, gpf_error *err)
{
    int64_t next = 0;
    return gpf_engine_events_page(e, who, f, out, n, &next, err);
}
