/* Persistent store: every operation the engine needs, behind an ops table (struct
 * gpf_store below), so that backends can be slid in: "sqlite" (store*.c, migrations.c: the
 * default, and the ONLY code that includes sqlite3.h), "fault" (store_fault.h: a wrapper
 * that fails chosen writes, for tests), PostgreSQL later. Nothing backend-specific leaks
 * through this interface.
 *
 * The public gpf_store_* functions keep one contract whatever the backend, and dispatch
 * to s->ops; a NULL store gives GPF_EINVAL (close: a no-op).
 * Durability: every successful write call has been committed before it returns, so it
 * survives kill -9 (sqlite: WAL; in the page cache at least). Whether it also survives power
 * loss at once depends on the sync mode (gpf_store_set_sync): FULL fsyncs at every commit;
 * GROUP does not, and a change is durable against power loss once gpf_store_sync_to has
 * returned 0 for a sequence at or after its commit (gpf_store_committed): many commits then
 * share one fsync (group commit). A caller acknowledges a change only after that.
 * Thread safety: one gpf_store is used by one thread at a time (the engine lock
 * serialises access), except gpf_store_sync_to, which any number of threads may call at
 * once, also while another thread uses the store.
 * All functions return 0 or a negative GPF_E* code and fill err. */
#ifndef GPF_STORE_STORE_H
#define GPF_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "model/fleet.h"
#include "model/tenancy.h"
#include "model/usage.h"
#include "util/error.h"

typedef struct gpf_store gpf_store;

/* A page of pods (pods_query): those matching every filter set, ordered by (created_ms, id),
 * starting after the key (after_created_ms, after_id) when after_id is non-empty, at most
 * limit of them (0 = no limit). */
typedef struct gpf_pod_query {
    int live;                   /* 1: only pods in a non-final state (gpf_pod_state_is_final) */
    int has_state;              /* 1: only pods in state */
    gpf_pod_state state;
    const char *owner;          /* NULL or "": any owner */
    int64_t after_created_ms;
    const char *after_id;       /* NULL or "": from the first pod */
    size_t limit;
} gpf_pod_query;

/* A page of usage records (usage_query), ordered by id, after after_id, at most limit
 * (0 = no limit). */
typedef struct gpf_usage_query {
    int open;                   /* 1: only open records (end_ms 0) */
    const char *owner;          /* NULL or "": any */
    const char *pod_id;         /* NULL or "": any */
    int64_t after_id;
    size_t limit;
} gpf_usage_query;

/* What the store holds beyond the engine's memory, counted once at start-up. */
typedef struct gpf_store_counts {
    int64_t pods[GPF_POD_LOST + 1]; /* pods by state */
    int64_t usage_records;          /* every usage record, open and closed */
    int64_t usage_closed;           /* of those, closed (end_ms set) */
} gpf_store_counts;

/* ---- the ops table: one entry per operation below, with its contract; each is called
 * only by the gpf_store_* function of its name, so s is never NULL ------------------ */

typedef struct gpf_store_ops {
    const char *name; /* "sqlite", "fault" */
    int (*begin)(gpf_store *s, gpf_error *err);
    int (*commit)(gpf_store *s, gpf_error *err);
    int (*rollback)(gpf_store *s);
    int (*setting_get)(gpf_store *s, const char *key, char *val, size_t size, gpf_error *err);
    int (*setting_put)(gpf_store *s, const char *key, const char *val, gpf_error *err);
    int (*host_put)(gpf_store *s, const gpf_host_rec *h, gpf_error *err);
    int (*sku_put)(gpf_store *s, const gpf_sku *k, gpf_error *err);
    int (*sku_delete)(gpf_store *s, const char *name, gpf_error *err);
    int (*image_put)(gpf_store *s, const gpf_image *im, gpf_error *err);
    int (*image_delete)(gpf_store *s, const char *name, gpf_error *err);
    int (*user_put)(gpf_store *s, const gpf_user *u, gpf_error *err);
    int (*token_put)(gpf_store *s, const gpf_token *t, gpf_error *err);
    int (*tokens_delete_for_host)(gpf_store *s, const char *host_id, gpf_error *err);
    int (*join_token_put)(gpf_store *s, const gpf_join_token *t, gpf_error *err);
    int (*pod_put)(gpf_store *s, const gpf_pod *p, gpf_error *err);
    int (*usage_insert)(gpf_store *s, gpf_usage *u, gpf_error *err);
    int (*usage_update)(gpf_store *s, const gpf_usage *u, gpf_error *err);
    int (*event_insert)(gpf_store *s, gpf_event *ev, gpf_error *err);
    int (*events_list)(gpf_store *s, const gpf_event_filter *f, gpf_event **out, size_t *n, gpf_error *err);
    int (*hosts_load)(gpf_store *s, gpf_host_rec **out, size_t *n, gpf_error *err);
    int (*skus_load)(gpf_store *s, gpf_sku **out, size_t *n, gpf_error *err);
    int (*images_load)(gpf_store *s, gpf_image **out, size_t *n, gpf_error *err);
    int (*users_load)(gpf_store *s, gpf_user **out, size_t *n, gpf_error *err);
    int (*tokens_load)(gpf_store *s, gpf_token **out, size_t *n, gpf_error *err);
    int (*join_tokens_load)(gpf_store *s, gpf_join_token **out, size_t *n, gpf_error *err);
    int (*pods_load)(gpf_store *s, gpf_pod **out, size_t *n, gpf_error *err);
    int (*usage_load)(gpf_store *s, gpf_usage **out, size_t *n, gpf_error *err);
    int (*pod_get)(gpf_store *s, const char *id, gpf_pod *out, gpf_error *err);
    int (*pods_query)(gpf_store *s, const gpf_pod_query *q, gpf_pod **out, size_t *n, gpf_error *err);
    int (*usage_query)(gpf_store *s, const gpf_usage_query *q, gpf_usage **out, size_t *n, gpf_error *err);
    int (*history_counts)(gpf_store *s, gpf_store_counts *out, gpf_error *err);
    int (*schema_version)(gpf_store *s);
    uint64_t (*committed)(gpf_store *s);
    int (*sync_to)(gpf_store *s, uint64_t seq, gpf_error *err);
    /* Frees everything of s, s itself included. */
    void (*close)(gpf_store *s);
} gpf_store_ops;

/* A store: a backend's ops and its private state. Every entry of ops is set; the backend
 * allocates the struct when it opens and frees it in close. */
struct gpf_store {
    const gpf_store_ops *ops;
    void *priv;
};

/* ---- the sqlite backend ----------------------------------------------------------- */

/* Opens (creating if needed) the SQLite database at path (":memory:" for tests), enables
 * WAL, applies pending numbered migrations in one transaction each. *out owned by caller
 * (gpf_store_close). */
int gpf_store_open(const char *path, gpf_store **out, gpf_error *err);

/* Schema migrations: numbered (strictly ascending, > 0), each applied once, in its own
 * transaction, and recorded in the schema_migrations table. Opening a database whose
 * version is higher than the last one in the list fails with GPF_ESTORE. */
typedef struct gpf_store_migration {
    int version;
    const char *name;  /* short description, recorded with the version */
    const char *sql;   /* one or more statements */
} gpf_store_migration;

/* The built-in list that gpf_store_open applies (static storage); *n gets its length. */
const gpf_store_migration *gpf_store_migrations(size_t *n);
/* gpf_store_open with another list (tests, tools); list is only read during the call. */
int gpf_store_open_with(const char *path, const gpf_store_migration *list, size_t n, gpf_store **out,
                        gpf_error *err);

/* ---- operations (any backend) ----------------------------------------------------- */

void gpf_store_close(gpf_store *s); /* accepts NULL */
int gpf_store_schema_version(gpf_store *s); /* highest applied migration, <0 on error */

/* Transactions group several writes into one durable commit (nesting not supported:
 * begin inside one is GPF_ESTATE, and so is commit outside one). When commit fails the
 * caller rolls back; rollback undoes everything since begin and returns 0 also when no
 * transaction is open any more (a backend may already have rolled back). */
int gpf_store_begin(gpf_store *s, gpf_error *err);
int gpf_store_commit(gpf_store *s, gpf_error *err);
int gpf_store_rollback(gpf_store *s);

/* Key/value settings (e.g. "join_token_hash"). get: GPF_ENOTFOUND when absent. */
int gpf_store_setting_get(gpf_store *s, const char *key, char *val, size_t size, gpf_error *err);
int gpf_store_setting_put(gpf_store *s, const char *key, const char *val, gpf_error *err);

/* Upsert by primary key (host id, sku name, image name, user name, token id, pod id). */
int gpf_store_host_put(gpf_store *s, const gpf_host_rec *h, gpf_error *err);
int gpf_store_sku_put(gpf_store *s, const gpf_sku *k, gpf_error *err);
int gpf_store_sku_delete(gpf_store *s, const char *name, gpf_error *err); /* ENOTFOUND */
int gpf_store_image_put(gpf_store *s, const gpf_image *im, gpf_error *err);
int gpf_store_image_delete(gpf_store *s, const char *name, gpf_error *err); /* ENOTFOUND */
int gpf_store_user_put(gpf_store *s, const gpf_user *u, gpf_error *err);
int gpf_store_token_put(gpf_store *s, const gpf_token *t, gpf_error *err);
/* Deletes every agent token of host_id (none is fine: 0). */
int gpf_store_tokens_delete_for_host(gpf_store *s, const char *host_id, gpf_error *err);
/* Upsert of a join token by id. */
int gpf_store_join_token_put(gpf_store *s, const gpf_join_token *t, gpf_error *err);
int gpf_store_pod_put(gpf_store *s, const gpf_pod *p, gpf_error *err);

/* Usage records: insert assigns u->id; update rewrites by id (ENOTFOUND if absent). */
int gpf_store_usage_insert(gpf_store *s, gpf_usage *u, gpf_error *err);
int gpf_store_usage_update(gpf_store *s, const gpf_usage *u, gpf_error *err);

/* The event log: insert assigns ev->id. list returns the newest f->limit events that
 * match f (heap array, oldest first; gpf_free). */
int gpf_store_event_insert(gpf_store *s, gpf_event *ev, gpf_error *err);
int gpf_store_events_list(gpf_store *s, const gpf_event_filter *f, gpf_event **out, size_t *n, gpf_error *err);

/* Loading everything at start-up. Each returns a heap array (caller frees with
 * gpf_free) in *out and its length in *n; an empty table gives *out=NULL, *n=0.
 * Order: hosts/skus/images/users/tokens by id/name, pods by created_ms then id, usage by id. */
int gpf_store_hosts_load(gpf_store *s, gpf_host_rec **out, size_t *n, gpf_error *err);
int gpf_store_skus_load(gpf_store *s, gpf_sku **out, size_t *n, gpf_error *err);
int gpf_store_images_load(gpf_store *s, gpf_image **out, size_t *n, gpf_error *err);
int gpf_store_users_load(gpf_store *s, gpf_user **out, size_t *n, gpf_error *err);
int gpf_store_tokens_load(gpf_store *s, gpf_token **out, size_t *n, gpf_error *err);
int gpf_store_join_tokens_load(gpf_store *s, gpf_join_token **out, size_t *n, gpf_error *err); /* by id */
int gpf_store_pods_load(gpf_store *s, gpf_pod **out, size_t *n, gpf_error *err);
int gpf_store_usage_load(gpf_store *s, gpf_usage **out, size_t *n, gpf_error *err);

/* Reads that do not load a whole table (final pods and closed usage live only in the
 * store). pod_get: the pod of that id (with its placement's GPUs), GPF_ENOTFOUND when
 * there is none. pods_query / usage_query: one page as q asks (heap array, gpf_free; NULL
 * and 0 when empty), pods with their placement's GPUs. history_counts: pods by state and
 * usage records, for /metrics (one scan of an index each). */
int gpf_store_pod_get(gpf_store *s, const char *id, gpf_pod *out, gpf_error *err);
int gpf_store_pods_query(gpf_store *s, const gpf_pod_query *q, gpf_pod **out, size_t *n, gpf_error *err);
int gpf_store_usage_query(gpf_store *s, const gpf_usage_query *q, gpf_usage **out, size_t *n, gpf_error *err);
int gpf_store_history_counts(gpf_store *s, gpf_store_counts *out, gpf_error *err);

/* A second, read-only handle on the database at path (already opened, and migrated, by
 * gpf_store_open), for reads made outside the engine's lock: its own connection, so SQLite
 * WAL lets it read committed data while the writer writes. Only the reads above and the
 * *_load and events_list ops are meant for it; a write fails. ":memory:" and "" have no
 * second handle: GPF_ENOTSUP. One thread at a time may use it (the caller serialises: the
 * connection takes no lock of its own, which every column read of a page paid for).
 * *out owned by caller (gpf_store_close). */
int gpf_store_open_reader(const char *path, gpf_store **out, gpf_error *err);

/* ---- group commit (durability barrier) -------------------------------------------- */

/* How a store makes commits durable against power loss. */
typedef enum gpf_store_sync {
    GPF_STORE_SYNC_FULL,  /* one fsync in every commit (sqlite synchronous=FULL): the default */
    GPF_STORE_SYNC_GROUP, /* commits reach the OS (survive kill -9); gpf_store_sync_to fsyncs */
} gpf_store_sync;

/* Sets the sqlite store s's sync mode (outside a transaction, before concurrent use).
 * GPF_EINVAL when s is not a sqlite store (a fault store: pass its inner one). */
int gpf_store_set_sync(gpf_store *s, gpf_store_sync mode, gpf_error *err);

/* The sequence number of the last commit on s (every transaction and every single write
 * outside one counts): called by the thread using s, after the write returned. Commits
 * numbered up to it are durable once gpf_store_sync_to(s, it) returns 0. 0 for NULL. */
uint64_t gpf_store_committed(gpf_store *s);

/* The durability barrier: returns once every commit numbered <= seq survives power loss
 * (GROUP: a WAL fsync that began after that commit; one thread fsyncs at a time and the
 * others wait for it or for the next one, which then covers them all; FULL: at once).
 * Safe from any thread, outside the lock that serialises the store. When an fsync fails,
 * GPF_ESTORE (err set), and the store stays failed: every later sync_to fails and every
 * later commit is refused (after a failed fsync the kernel may have dropped the dirty
 * pages, so nothing written since can be trusted to be on disk) until the store is opened
 * again. GPF_EINVAL for NULL s. */
int gpf_store_sync_to(gpf_store *s, uint64_t seq, gpf_error *err);

/* A test's view of the sqlite store's fsyncs (GROUP): hook(arg, target) is called by the
 * thread about to fsync, target being the last commit the fsync covers; a non-zero return
 * stands for a failed fsync (the store then fails as above). NULL hook: none. Set before
 * concurrent use. GPF_EINVAL when s is not a sqlite store. */
typedef int (*gpf_store_sync_hook)(void *arg, uint64_t target);
int gpf_store_set_sync_hook(gpf_store *s, gpf_store_sync_hook hook, void *arg);

#endif
