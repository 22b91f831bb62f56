/* The event log: append-only, read back filtered and newest last. */
#include "store/store_int.h"

#include <string.h>

#include "util/alloc.h"

#define EVENTS_LIMIT_DEFAULT 100
#define EVENTS_LIMIT_MAX 10000

static void bind_event(store_binder *b, const gpf_event *ev)
{
    store_bind_int(b, ev->at_ms);
    BIND_STR(b, ev, kind);
    BIND_STR(b, ev, severity);
    BIND_STR(b, ev, host_id);
    BIND_STR(b, ev, pod_id);
    BIND_STR(b, ev, subject);
    BIND_STR(b, ev, detail);
}

static void read_event(store_reader *r, gpf_event *ev)
{
    ev->id = store_read_i64(r);
    ev->at_ms = store_read_i64(r);
    READ_STR(r, ev, kind);
    READ_STR(r, ev, severity);
    READ_STR(r, ev, host_id);
    READ_STR(r, ev, pod_id);
    READ_STR(r, ev, subject);
    READ_STR(r, ev, detail);
}

int sq_event_insert(gpf_store *store, gpf_event *ev, gpf_error *err)
{
    store_sqlite *s = store->priv;
    int rc = 0;
    sqlite3_stmt *st = NULL;
    store_binder b;
    if (!ev || !ev->kind[0])
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to event_insert");
    if ((rc = store_stmt(s, SLOT_EVENT_INSERT,
                         "INSERT INTO events (at_ms, kind, severity, host_id, pod_id, subject, detail)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
                         &st, err)) != 0)
        goto out;
    store_bind_init(&b, st);
    bind_event(&b, ev);
    if ((rc = store_bind_finish(&b, err)) != 0)
        goto out;
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = store_fail(s, err, "store: event_insert");
        goto out;
    }
    int64_t id = sqlite3_column_int64(st, 0);
    if ((rc = store_step_done(s, st, "store: event_insert", err)) != 0)
        goto out;
    ev->id = id;
out:
    store_done(st);
    return rc;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

int sq_events_list(gpf_store *store, const gpf_event_filter *f, gpf_event **out, size_t *n, gpf_error *err)
{
    store_sqlite *s = store->priv;
    int rc = 0, src = 0;
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    if (!f || !out || !n)
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to events_list");
    *out = NULL;
    *n = 0;
    int limit = f->limit <= 0 ? EVENTS_LIMIT_DEFAULT : f->limit > EVENTS_LIMIT_MAX ? EVENTS_LIMIT_MAX : f->limit;
    /* the newest `limit` matches, then turned around so the list reads oldest first */
    if ((rc = store_stmt(s, SLOT_EVENTS_LIST,
                         "SELECT id, at_ms, kind, severity, host_id, pod_id, subject, detail FROM events"
                         " WHERE (?1 = '' OR host_id = ?1) AND (?2 = '' OR pod_id = ?2) AND (?3 = '' OR kind = ?3)"
                         " AND id > ?4 AND (?6 = 0 OR id < ?6) ORDER BY id DESC LIMIT ?5",
                         &st, err)) != 0)
        goto out;
    if (sqlite3_bind_text(st, 1, or_empty(f->host_id), -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, or_empty(f->pod_id), -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_text(st, 3, or_empty(f->kind), -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_int64(st, 4, f->after_id) != SQLITE_OK || sqlite3_bind_int(st, 5, limit) != SQLITE_OK ||
        sqlite3_bind_int64(st, 6, f->before_id) != SQLITE_OK) {
        rc = store_fail(s, err, "store: events_list");
        goto out;
    }
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = gpf_reallocarray(*out, cap, sizeof **out);
        }
        gpf_event *ev = &(*out)[(*n)++];
        memset(ev, 0, sizeof *ev);
        store_reader r;
        store_read_init(&r, st);
        read_event(&r, ev);
        if ((rc = store_read_finish(&r, err)) != 0)
            goto out;
    }
    if (src != SQLITE_DONE) {
        rc = store_fail(s, err, "store: events_list");
        goto out;
    }
    for (size_t i = 0; i < *n / 2; i++) {
        gpf_event t = (*out)[i];
        (*out)[i] = (*out)[*n - 1 - i];
        (*out)[*n - 1 - i] = t;
    }
out:
    store_done(st);
    if (rc != 0) {
        gpf_free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}
