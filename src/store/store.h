/* Persistent store. The ONLY module that includes sqlite3.h; nothing SQLite-specific
 * leaks through this interface (a PostgreSQL store must fit it later).
 *
 * Durability: every successful write call has been committed to disk (WAL,
 * synchronous=FULL) before it returns, so an acknowledged change survives kill -9.
 * Thread safety: one gpf_store is used by one thread at a time (the engine lock
 * serialises access). All functions return 0 or a negative GPF_E* code and fill err. */
#ifndef GPF_STORE_STORE_H
#define GPF_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/model.h"
#include "util/error.h"

typedef struct gpf_store gpf_store;

/* Opens (creating if needed) the database at path (":memory:" for tests), enables WAL,
 * applies pending numbered migrations in one transaction each. *out owned by caller. */
int gpf_store_open(const char *path, gpf_store **out, gpf_error *err);
void gpf_store_close(gpf_store *s); /* accepts NULL */
int gpf_store_schema_version(gpf_store *s); /* highest applied migration, <0 on error */

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

/* Transactions group several writes into one durable commit (nesting not supported). */
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
int gpf_store_pods_load(gpf_store *s, gpf_pod **out, size_t *n, gpf_error *err);
int gpf_store_usage_load(gpf_store *s, gpf_usage **out, size_t *n, gpf_error *err);

#endif
