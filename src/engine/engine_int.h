/* Engine internals shared by engine*.c. Not for other modules. */
#ifndef GPF_ENGINE_INT_H
#define GPF_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine/engine.h"
#include "gov/gov.h"
#include "sched/sched.h"

#define MAX_ORPHANS 64

typedef struct host_entry {
    gpf_host_rec rec;
    int64_t seq;                 /* command sequence: bumped when a command is added */
    int64_t last_seen_ms;        /* for loss detection (reset to "now" at start-up) */
    int64_t last_report_ms;      /* when the last heartbeat (the agent's report) arrived */
    int norphans;                /* pods the agent runs that we do not want: stop them */
    char orphans[MAX_ORPHANS][GPF_ID_MAX];
    int ndrift;                  /* open drift between the ledger and the last report */
    gpf_drift drift[GPF_MAX_HOST_DRIFT];
    int gpus_missing;            /* registered GPUs the agent no longer sees */
} host_entry;

/* A growable array of fixed-size elements. */
typedef struct vec {
    void *items;
    size_t n;
    size_t cap;
} vec;

/* The engine's transaction (engine_tx.c): open scopes, whether the store transaction has
 * begun, the first failure, the journal of memory changes (to undo them when it does not
 * commit), the events it wrote and the counters as they were when it opened. */
typedef struct eng_tx {
    int depth;
    int store_open;
    int rc;
    gpf_error err;
    vec undo;                    /* engine_tx.c's eng_undo */
    vec events;                  /* gpf_event */
    uint64_t pods_started_total;
    uint64_t pods_failed_total;
    uint64_t agent_registrations_total;
} eng_tx;

struct gpf_engine {
    pthread_mutex_t mu;
    pthread_cond_t cond;         /* broadcast on any pod change or new command */
    gpf_store *store;
    const gpf_catalog *cat;
    gpf_clock_fn clock;
    void *clock_ctx;
    int heartbeat_ms;
    int lost_after_beats;
    int64_t host_grace_ms;
    int start_timeout_ms;
    int64_t seq_next;            /* next command sequence number */
    int closing;

    gpf_sched_fleet fleet;       /* the ledger */
    gpf_sched_policy *policy;    /* places whole-GPU and share pods (MIG and vGPU: geometry ranking) */
    int launches_since_tasks;    /* launches since the policy's task distribution was last set */
    vec hosts;                   /* host_entry */
    vec skus;                    /* gpf_sku */
    vec users;                   /* gpf_user */
    vec tokens;                  /* gpf_token */
    vec join_tokens;             /* gpf_join_token (engine_join.c) */
    vec pods;                    /* gpf_pod: live pods only (final ones are swept out, eng_unlock) */
    vec usage;                   /* gpf_usage: open records only (closed ones are swept out) */
    int sweep_pending;           /* a pod may have become final, a record closed: eng_unlock sweeps */
    int64_t final_pods[GPF_POD_LOST + 1]; /* pods by final state that live only in the store */
    int64_t usage_closed;        /* closed usage records (only in the store) */
    gpf_store *readers[GPF_ENGINE_READERS]; /* read-only handles for reads outside mu: [0, nreaders) */
    int nreaders;
    pthread_mutex_t read_mu[GPF_ENGINE_READERS]; /* one read at a time on each; never taken while holding mu */
    atomic_uint read_next;       /* where a read waits when every reader is busy */
    vec images;                  /* gpf_image */

    /* image imports: one at a time (import_mu, taken before mu), outside the engine's lock */
    pthread_mutex_t import_mu;
    atomic_int cancel_imports;   /* set at shutdown: a running skopeo is killed */
    char images_dir[1024];
    char skopeo[256];
    int import_timeout_ms;

    /* counters (Prometheus) */
    uint64_t launches_total;
    uint64_t launch_rejected_total;
    uint64_t pods_started_total;
    uint64_t pods_failed_total;
    uint64_t agent_registrations_total;
    uint64_t bad_agent_reports_total;
    uint64_t agent_status_requests[2]; /* pod status requests taken: [0] one report each, [1] batches */
    uint64_t agent_status_reports_total; /* the reports they carried */
    uint64_t registrations_refused[GPF_REG_REFUSED_COUNT]; /* by reason (engine_join.c) */
    int64_t refused_logged_ms[GPF_REG_REFUSED_COUNT];      /* last log line per reason */
    uint64_t events_total;       /* events committed */
    uint64_t tick_failures_total; /* housekeeping transactions that failed (retried next tick) */
    int64_t token_use_flushed_ms; /* when tokens' last use was last written (engine_tokens.c) */

    eng_tx tx;                   /* the open transaction, if any */
};

void *vec_push(vec *v, size_t elem);      /* zeroed new element */
void vec_remove(vec *v, size_t elem, size_t i);
void vec_free(vec *v);
/* Gives back most of v's room when it holds under a quarter of it. */
void vec_shrink(vec *v, size_t elem);
/* Copies a vec into a fresh heap array for a caller (NULL when empty; *n = its length). */
void *vec_copy(const vec *v, size_t elem, size_t *n);
#define VEC_AT(v, type, i) (&((type *)(v)->items)[i])

int64_t eng_now(gpf_engine *e);
/* Releases the engine's lock, first (outside any transaction) moving the pods that became
 * final and the usage records that closed out of memory: they live on in the store only.
 * Every function that can finish a pod unlocks with this; any other unlock just sweeps later. */
void eng_unlock(gpf_engine *e);
/* eng_unlock for a call that may have written: then waits, outside the lock, until every
 * commit made so far is durable (gpf_store_sync_to: group commit), so that the caller's
 * answer acknowledges only durable changes. Returns rc, or, when rc is 0 and the barrier
 * failed, its code (err set, logged): the change must not be acknowledged. */
int eng_unlock_sync(gpf_engine *e, int rc, gpf_error *err);
/* A store read outside the engine's lock where that is safe: on a free reader handle (under
 * its read_mu; when all are busy, waiting for one) when the engine has some, else on the
 * engine's store under the engine's lock. Returns the store to read and in *slot what
 * eng_read_end(e, slot) releases. */
gpf_store *eng_read_begin(gpf_engine *e, int *slot);
void eng_read_end(gpf_engine *e, int slot);
/* Paged store reads. The owner filter of a caller: asked (NULL/"" any) when the caller may
 * read everyone's (may_all), else their own name; 0 when they asked for another user's
 * (nothing visible), else 1. page_more: a page read with limit + 1 (limit 0: all) is cut to
 * limit; 1 when that cut something (more follows). */
int eng_page_owner(const gpf_principal *who, int may_all, const char *asked, const char **owner);
int eng_page_more(size_t *n, size_t limit);
/* The pod of that id: the live one in memory, else a final one read from the store into
 * *buf (caller holds the lock). NULL when there is none; *rc gets 0, or the store's error
 * code (err set) when the store could not say. */
gpf_pod *eng_pod_any(gpf_engine *e, const char *id, gpf_pod *buf, int *rc, gpf_error *err);
host_entry *eng_host(gpf_engine *e, const char *id);
gpf_user *eng_user(gpf_engine *e, const char *name);
/* The user of that name unless it was deleted (engine_users.c); NULL otherwise. */
gpf_user *eng_live_user(gpf_engine *e, const char *name);
gpf_sku *eng_sku(gpf_engine *e, const char *name);
gpf_pod *eng_pod(gpf_engine *e, const char *id);
gpf_image *eng_image(gpf_engine *e, const char *name);
/* The image a SKU's pods run: its image, else "default". */
const char *eng_sku_image_name(const gpf_sku *k);
gpf_usage *eng_open_usage(gpf_engine *e, const char *pod_id);
/* Rebuilds the ledger entry of one host from its record and the live pods on it; a pod
 * whose placement no longer fits is failed (eng_pod_finish: in the caller's transaction). */
int eng_ledger_rebuild_host(gpf_engine *e, host_entry *h, gpf_error *err);
void eng_bump(gpf_engine *e, host_entry *h);
/* Gives the policy the task distribution it packs against: one task per whole-GPU or share
 * SKU, weighted by its live pods (plus one, so a new SKU counts). */
void eng_policy_tasks(gpf_engine *e);

/* ---- engine_tx.c: transactions (see there) ---- */
/* Opens a scope: the engine's transaction, or a part of the one already open. */
void eng_tx_begin(gpf_engine *e);
/* Before each store write: inside a scope, begins the store transaction at the first one
 * and refuses (the failure's code) once a scope of the transaction has failed; outside
 * any, 0 (the write is a transaction of its own). */
int eng_tx_write(gpf_engine *e, gpf_error *err);
/* Closes a scope that ends with rc (0: its part succeeded). The outermost one commits when
 * every scope succeeded, else (or when the commit fails) rolls the store back and restores
 * the journaled memory. Returns rc, or when rc is 0 the transaction's failure (err set). */
int eng_tx_end(gpf_engine *e, int rc, gpf_error *err);
/* Journal entries, taken before the change (no-ops outside a scope): element item of v
 * (its first save in a transaction is kept), v's length (before a push; removals are never
 * journaled: make them outside scopes, after the write), host idx of the ledger (adding a
 * host to the ledger is never journaled: only open, which discards the engine when it
 * fails, adds one inside a scope). */
void eng_tx_save(gpf_engine *e, vec *v, size_t elem, const void *item);
void eng_tx_save_len(gpf_engine *e, vec *v);
void eng_tx_save_fleet_host(gpf_engine *e, int idx);
#define eng_tx_save_host(e, h) eng_tx_save((e), &(e)->hosts, sizeof(host_entry), (h))
#define eng_tx_save_pod(e, p) eng_tx_save((e), &(e)->pods, sizeof(gpf_pod), (p))
#define eng_tx_save_usage(e, u) eng_tx_save((e), &(e)->usage, sizeof(gpf_usage), (u))
void eng_tx_free(gpf_engine *e);
/* Appends an event to the log in the caller's transaction (or its own); logged and counted
 * when that commits. */
int eng_event(gpf_engine *e, gpf_error *err, const char *kind, const char *severity, const char *host_id,
              const char *pod_id, const char *subject, const char *fmt, ...) __attribute__((format(printf, 8, 9)));

/* ---- engine_auth.c ---- */
/* May who do action to obj (gpf_gov_can, gov.h)? 0, or the refusal's code with err set to
 * its reason. obj may be NULL (the rules that need no object). */
int eng_can(const gpf_principal *who, gpf_action action, const gpf_gov_object *obj, gpf_error *err);
/* Makes a token (secret: prefix + 40 random characters, size ssz >= 64) for user or, for an
 * agent, host_id, writes it (in the caller's scope, if any) and adds it. out may be NULL. */
int eng_make_token(gpf_engine *e, const char *prefix, const char *user, const char *host_id, char *secret,
                   size_t ssz, gpf_token *out, gpf_error *err);
/* eng_make_token for a token the caller has filled (user or host_id, name, expires_ms): sets
 * its id, hash and created_ms, writes it and adds it. */
int eng_put_token(gpf_engine *e, const char *prefix, gpf_token *t, char *secret, size_t ssz, gpf_error *err);

/* ---- engine_tokens.c ---- */
/* Revokes every live token of user (its user tokens), each with a token_revoked event
 * naming by, in the caller's transaction; the memory change is journaled. *n: how many. */
int eng_tokens_revoke_user(gpf_engine *e, const char *user, const char *by, int *n, gpf_error *err);
/* Forgets revoked tokens (after the transaction that revoked them committed, and at open). */
void eng_tokens_drop_revoked(gpf_engine *e);

/* ---- engine_pods.c ---- */
/* Asks for a live pod to stop as gpf_engine_pod_stop does (stopping, its agent told; with
 * no host to tell, stopped at once, usage closed), reason saying why, in the caller's
 * transaction (or its own). A final pod: GPF_ESTATE. */
int eng_pod_request_stop(gpf_engine *e, gpf_pod *p, const char *reason, gpf_error *err);

/* ---- engine_join.c ---- */
/* Bootstrap's part: with configured (non-empty), the join token "initial" gets its hash
 * (a new record when the hash changed; unchanged, a revoked one stays revoked); without, a
 * fresh one is made when there is no "initial" yet and its secret written to out (size osz;
 * else out is ""). In the caller's transaction, with its join_token_created event. */
int eng_join_initial(gpf_engine *e, const char *configured, char *out, size_t osz, gpf_error *err);
/* Who may register h (the lock held): credential is the host's own agent token (*own = 1)
 * or a valid join token that admits h's id (*jt: the join token, to be counted as used;
 * own 0). Refusals: GPF_EUNAUTH (unknown, expired, used-up or revoked token), GPF_EFORBIDDEN
 * (another host's agent token), GPF_EEXIST (h exists and was not re-keyed); each counted
 * by reason and logged at most once a minute per reason. */
int eng_join_admit(gpf_engine *e, const char *credential, const gpf_host_rec *h, int *own, gpf_join_token **jt,
                   gpf_error *err);
/* Counts one use of jt (written in the caller's transaction, journaled). */
int eng_join_use(gpf_engine *e, gpf_join_token *jt, gpf_error *err);
/* Deletes every agent token of host_id but keep_id (NULL: all) in the store, in the caller's
 * transaction; eng_host_tokens_forget drops them from memory once that committed. */
int eng_host_tokens_revoke(gpf_engine *e, const char *host_id, gpf_error *err);
void eng_host_tokens_forget(gpf_engine *e, const char *host_id, const char *keep_id);

/* ---- engine_hosts.c ---- */
/* The ledger figures and open drift of h. */
void eng_host_usage(gpf_engine *e, const host_entry *h, gpf_host_usage *u);

/* ---- engine_reconcile.c ---- */
/* 1 when new pods may be placed on h; else 0 with why (size n) saying what stops it. */
int eng_host_schedulable(const host_entry *h, char *why, size_t n);
/* Copies eng_host_schedulable into the ledger's host. */
void eng_sync_schedulable(gpf_engine *e, host_entry *h);
/* Compares a heartbeat with the ledger: finishes dead pods, records drift as events; in
 * the caller's transaction (or its own). */
int eng_reconcile(gpf_engine *e, host_entry *h, const gpf_agent_report *r, gpf_error *err);
/* The host's agent is silent past the heartbeat limit: it is unreachable (no new pods), its
 * live pods are marked host_unreachable and stay as they are, metered; with its event, one
 * transaction (or a part of the caller's). */
int eng_host_unreachable(gpf_engine *e, host_entry *h, int64_t now, gpf_error *err);
/* The host stayed unreachable past the host grace: it is lost, and so are its pods (usage
 * closed at the last report that saw them), with their events; one transaction (or a part
 * of the caller's). */
int eng_host_lost(gpf_engine *e, host_entry *h, int64_t now, gpf_error *err);
/* Sets host_unreachable of h's live pods (memory only, journaled in the caller's scope). */
void eng_host_pods_reachable(gpf_engine *e, const host_entry *h, int unreachable);
/* Registration: what the preflight of r said, as an event (none when it passed). */
int eng_preflight_event(gpf_engine *e, const gpf_host_rec *r, gpf_error *err);
/* Writes a pod and (when u is non-NULL) its usage record in the caller's transaction (or
 * its own): inserts u (assigning u->id) when insert is 1, else updates it. Memory is the
 * caller's to change. */
int eng_store_pod_usage(gpf_engine *e, const gpf_pod *p, gpf_usage *u, int insert, gpf_error *err);
/* Moves a pod to a final state: frees its slice, closes its usage record, durably, in the
 * caller's transaction (or its own). */
int eng_pod_finish(gpf_engine *e, gpf_pod *p, gpf_pod_state state, int64_t at_ms, const char *reason,
                   gpf_error *err);

#endif
