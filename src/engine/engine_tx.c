/* Engine transactions: every change of engine state is written to the store in one store
 * transaction, and memory keeps the change only when that transaction commits.
 *
 * A scope (eng_tx_begin .. eng_tx_end) opens the engine's transaction or joins the one
 * already open, so a helper that writes (eng_pod_finish, eng_event) is one transaction on
 * its own and a part of its caller's when it has one. The store transaction begins at the
 * scope's first write (eng_tx_write), so a scope that writes nothing costs nothing. Inside
 * it, memory is changed as the writes go, each change journaled first (eng_tx_save*):
 * when any scope fails or the commit does, the store is rolled back and the journal
 * restores memory byte for byte, newest change first. Events written in it are logged
 * and counted (events_total) only when it commits.
 *
 * Every scope ends before the engine's lock is released (never across a condition wait). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"
#include "util/alloc.h"
#include "util/log.h"

/* One journaled change: element i of v (elem bytes, old copy) or, with elem 0, v's
 * length (i); with v NULL, fleet host i (old copy). */
typedef struct eng_undo {
    vec *v;
    size_t elem;
    size_t i;
    void *old;
} eng_undo;

void eng_tx_begin(gpf_engine *e)
{
    eng_tx *t = &e->tx;
    if (t->depth++ > 0)
        return;
    t->store_open = 0;
    t->rc = 0;
    gpf_error_clear(&t->err);
    t->pods_started_total = e->pods_started_total;
    t->pods_failed_total = e->pods_failed_total;
    t->agent_registrations_total = e->agent_registrations_total;
}

int eng_tx_write(gpf_engine *e, gpf_error *err)
{
    eng_tx *t = &e->tx;
    if (t->depth == 0)
        return 0; /* a single write: the store makes it durable on its own */
    if (t->rc != 0)
        return gpf_error_set(err, t->rc, "%s", gpf_error_msg(&t->err));
    if (t->store_open)
        return 0;
    int rc = gpf_store_begin(e->store, err);
    if (rc == 0)
        t->store_open = 1;
    return rc;
}

/* Restores what the journal holds, newest first, and empties it. */
static void undo_all(gpf_engine *e)
{
    eng_tx *t = &e->tx;
    for (size_t k = t->undo.n; k-- > 0;) {
        eng_undo *u = VEC_AT(&t->undo, eng_undo, k);
        if (!u->v)
            memcpy(&e->fleet.hosts[u->i], u->old, sizeof(gpf_sched_host));
        else if (u->elem)
            memcpy((char *)u->v->items + u->i * u->elem, u->old, u->elem);
        else
            u->v->n = u->i;
        gpf_free(u->old);
    }
    t->undo.n = 0;
    e->pods_started_total = t->pods_started_total;
    e->pods_failed_total = t->pods_failed_total;
    e->agent_registrations_total = t->agent_registrations_total;
}

/* Forgets the journal (the transaction committed). */
static void undo_drop(eng_tx *t)
{
    for (size_t k = 0; k < t->undo.n; k++)
        gpf_free(VEC_AT(&t->undo, eng_undo, k)->old);
    t->undo.n = 0;
}

/* The events the transaction wrote: logged and counted once it committed. */
static void events_commit(gpf_engine *e)
{
    for (size_t k = 0; k < e->tx.events.n; k++) {
        const gpf_event *ev = VEC_AT(&e->tx.events, gpf_event, k);
        gpf_log(strcmp(ev->severity, "info") == 0 ? GPF_LOG_INFO : GPF_LOG_WARN, "engine",
                "event=%s severity=%s host=%s pod=%s subject=%s detail=\"%s\"", ev->kind, ev->severity, ev->host_id,
                ev->pod_id, ev->subject, ev->detail);
        e->events_total++;
    }
    e->tx.events.n = 0;
}

/* Records the scope's failure rc (the transaction's first one wins). */
static void fail(eng_tx *t, int rc, const gpf_error *err)
{
    if (rc == 0 || t->rc != 0)
        return;
    t->rc = rc;
    if (err && err->code == rc)
        t->err = *err;
    else
        gpf_error_set(&t->err, rc, "engine: a write of this transaction failed");
}

int eng_tx_end(gpf_engine *e, int rc, gpf_error *err)
{
    eng_tx *t = &e->tx;
    fail(t, rc, err);
    if (--t->depth > 0)
        return rc;
    if (t->rc == 0 && t->store_open) {
        gpf_error cerr = {0};
        fail(t, gpf_store_commit(e->store, &cerr), &cerr);
    }
    int trc = t->rc;
    if (trc != 0 && rc == 0 && err)
        *err = t->err; /* the commit, or a nested scope whose caller went on, failed: that is the result */
    if (trc != 0) {
        if (t->store_open)
            gpf_store_rollback(e->store);
        undo_all(e);
        t->events.n = 0;
    } else {
        undo_drop(t);
        events_commit(e);
    }
    t->store_open = 0;
    t->rc = 0;
    return rc != 0 ? rc : trc;
}

/* 1 when the journal already holds element i of v (its first copy is the one to keep). */
static int saved(const eng_tx *t, const vec *v, size_t elem, size_t i)
{
    for (size_t k = 0; k < t->undo.n; k++) {
        const eng_undo *u = VEC_AT(&t->undo, eng_undo, k);
        if (u->v == v && u->elem == elem && u->i == i)
            return 1;
    }
    return 0;
}

static void journal(gpf_engine *e, vec *v, size_t elem, size_t i, const void *bytes, size_t n)
{
    eng_undo *u = vec_push(&e->tx.undo, sizeof(eng_undo));
    u->v = v;
    u->elem = elem;
    u->i = i;
    if (bytes) {
        u->old = gpf_malloc(n);
        memcpy(u->old, bytes, n);
    }
}

void eng_tx_save(gpf_engine *e, vec *v, size_t elem, const void *item)
{
    if (e->tx.depth == 0)
        return;
    size_t i = (size_t)((const char *)item - (const char *)v->items) / elem;
    if (!saved(&e->tx, v, elem, i))
        journal(e, v, elem, i, item, elem);
}

void eng_tx_save_len(gpf_engine *e, vec *v)
{
    if (e->tx.depth > 0)
        journal(e, v, 0, v->n, NULL, 0);
}

void eng_tx_save_fleet_host(gpf_engine *e, int idx)
{
    if (e->tx.depth == 0 || idx < 0 || saved(&e->tx, NULL, 0, (size_t)idx))
        return;
    journal(e, NULL, 0, (size_t)idx, &e->fleet.hosts[idx], sizeof(gpf_sched_host));
}

void eng_tx_free(gpf_engine *e)
{
    undo_drop(&e->tx);
    vec_free(&e->tx.undo);
    vec_free(&e->tx.events);
}

/* ---- the event log (store table "events") --------------------------------- */

int eng_event(gpf_engine *e, gpf_error *err, const char *kind, const char *severity, const char *host_id,
              const char *pod_id, const char *subject, const char *fmt, ...)
{
    gpf_event ev;
    memset(&ev, 0, sizeof ev);
    ev.at_ms = eng_now(e);
    gpf_strlcpy(ev.kind, kind, sizeof ev.kind);
    gpf_strlcpy(ev.severity, severity, sizeof ev.severity);
    gpf_strlcpy(ev.host_id, host_id ? host_id : "", sizeof ev.host_id);
    gpf_strlcpy(ev.pod_id, pod_id ? pod_id : "", sizeof ev.pod_id);
    gpf_strlcpy(ev.subject, subject ? subject : "", sizeof ev.subject);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev.detail, sizeof ev.detail, fmt, ap);
    va_end(ap);
    eng_tx_begin(e);
    int rc = eng_tx_write(e, err);
    if (rc == 0)
        rc = gpf_store_event_insert(e->store, &ev, err);
    if (rc == 0)
        *(gpf_event *)vec_push(&e->tx.events, sizeof ev) = ev;
    else
        GPF_ERROR("engine", "event=store_failed op=event_insert kind=%s msg=\"%s\"", kind, gpf_error_msg(err));
    return eng_tx_end(e, rc, err);
}
