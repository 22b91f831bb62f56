/* Internals of the "sqlite" store backend, shared by store*.c and migrations.c (not
 * store_ops.c or store_fault.c, which know only store.h). Not for other modules: this is
 * the one header that brings sqlite3.h in. */
#ifndef GPF_STORE_INT_H
#define GPF_STORE_INT_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Cached prepared statements, one slot per SQL text (prepared on first use). */
enum store_slot {
    SLOT_SETTING_GET,
    SLOT_SETTING_PUT,
    SLOT_HOST_PUT,
    SLOT_GPUS_DELETE,
    SLOT_GPU_INSERT,
    SLOT_HOSTS_LOAD,
    SLOT_GPUS_LOAD,
    SLOT_FINDINGS_DELETE,
    SLOT_FINDING_INSERT,
    SLOT_FINDINGS_LOAD,
    SLOT_EVENT_INSERT,
    SLOT_EVENTS_LIST,
    SLOT_SKU_PUT,
    SLOT_SKU_MODELS_DELETE,
    SLOT_SKU_MODEL_INSERT,
    SLOT_SKU_DELETE,
    SLOT_SKUS_LOAD,
    SLOT_SKU_MODELS_LOAD,
    SLOT_USER_PUT,
    SLOT_USERS_LOAD,
    SLOT_TOKEN_PUT,
    SLOT_TOKENS_LOAD,
    SLOT_POD_PUT,
    SLOT_POD_GPUS_DELETE,
    SLOT_POD_GPU_INSERT,
    SLOT_PODS_LOAD,
    SLOT_POD_GPUS_LOAD,
    SLOT_USAGE_INSERT,
    SLOT_USAGE_UPDATE,
    SLOT_USAGE_LOAD,
    SLOT_IMAGE_PUT,
    SLOT_IMAGE_DELETE,
    SLOT_IMAGES_LOAD,
    SLOT_POD_GET,
    SLOT_POD_GPUS_OF,
    SLOT_POD_GPUS_OF_MANY,
    SLOT_SCOPE_BEGIN,
    SLOT_SCOPE_RELEASE,
    SLOT_TOKENS_DELETE_FOR_HOST,
    SLOT_JOIN_TOKEN_PUT,
    SLOT_JOIN_TOKENS_LOAD,
    SLOT_COUNT
};

/* The group-commit state of a read-write store (store_sync.c). */
typedef struct store_barrier store_barrier;

/* The sqlite backend's store: pub is what gpf_store_open hands out (pub.priv points back
 * here); one allocation, freed by close. */
typedef struct store_sqlite {
    gpf_store pub;
    sqlite3 *db;
    sqlite3_stmt *stmts[SLOT_COUNT];
    sqlite3_stmt *pods_query[32]; /* pods_query's statements, by which of its 5 filters are set */
    int scope_owns_tx; /* the open scope started the transaction (scopes do not nest) */
    store_barrier *barrier; /* NULL for a reader (gpf_store_open_reader) */
} store_sqlite;

/* Gives the read-write store s (its db open) its barrier, in FULL mode, and counts its
 * commits from now on (in_memory: a private database, nothing to sync). */
void store_barrier_init(store_sqlite *s, int in_memory);
/* Frees a barrier; accepts NULL. */
void store_barrier_free(store_barrier *b);

/* The backend's ops (store.c puts them in its table), one per file that owns the records;
 * each has the contract of the gpf_store_* function of the same name (store.h) and is
 * only called through it, so store is never NULL. */
int sq_begin(gpf_store *store, gpf_error *err);
int sq_commit(gpf_store *store, gpf_error *err);
int sq_rollback(gpf_store *store);
int sq_setting_get(gpf_store *store, const char *key, char *val, size_t size, gpf_error *err);
int sq_setting_put(gpf_store *store, const char *key, const char *val, gpf_error *err);
int sq_host_put(gpf_store *store, const gpf_host_rec *h, gpf_error *err);
int sq_sku_put(gpf_store *store, const gpf_sku *k, gpf_error *err);
int sq_sku_delete(gpf_store *store, const char *name, gpf_error *err);
int sq_image_put(gpf_store *store, const gpf_image *im, gpf_error *err);
int sq_image_delete(gpf_store *store, const char *name, gpf_error *err);
int sq_user_put(gpf_store *store, const gpf_user *u, gpf_error *err);
int sq_token_put(gpf_store *store, const gpf_token *t, gpf_error *err);
int sq_pod_put(gpf_store *store, const gpf_pod *p, gpf_error *err);
int sq_usage_insert(gpf_store *store, gpf_usage *u, gpf_error *err);
int sq_usage_update(gpf_store *store, const gpf_usage *u, gpf_error *err);
int sq_event_insert(gpf_store *store, gpf_event *ev, gpf_error *err);
int sq_events_list(gpf_store *store, const gpf_event_filter *f, gpf_event **out, size_t *n, gpf_error *err);
int sq_hosts_load(gpf_store *store, gpf_host_rec **out, size_t *n, gpf_error *err);
int sq_skus_load(gpf_store *store, gpf_sku **out, size_t *n, gpf_error *err);
int sq_images_load(gpf_store *store, gpf_image **out, size_t *n, gpf_error *err);
int sq_users_load(gpf_store *store, gpf_user **out, size_t *n, gpf_error *err);
int sq_tokens_load(gpf_store *store, gpf_token **out, size_t *n, gpf_error *err);
int sq_tokens_delete_for_host(gpf_store *store, const char *host_id, gpf_error *err);
int sq_join_token_put(gpf_store *store, const gpf_join_token *t, gpf_error *err);
int sq_join_tokens_load(gpf_store *store, gpf_join_token **out, size_t *n, gpf_error *err);
int sq_pods_load(gpf_store *store, gpf_pod **out, size_t *n, gpf_error *err);
int sq_usage_load(gpf_store *store, gpf_usage **out, size_t *n, gpf_error *err);
int sq_pod_get(gpf_store *store, const char *id, gpf_pod *out, gpf_error *err);
int sq_pods_query(gpf_store *store, const gpf_pod_query *q, gpf_pod **out, size_t *n, gpf_error *err);
int sq_usage_query(gpf_store *store, const gpf_usage_query *q, gpf_usage **out, size_t *n, gpf_error *err);
int sq_history_counts(gpf_store *store, gpf_store_counts *out, gpf_error *err);
int sq_schema_version(gpf_store *store);
uint64_t sq_committed(gpf_store *store);
int sq_sync_to(gpf_store *store, uint64_t seq, gpf_error *err);
void sq_close(gpf_store *store);

/* Sets err to GPF_ESTORE with "what: <sqlite's message>" and returns GPF_ESTORE. */
int store_fail(store_sqlite *s, gpf_error *err, const char *what);

/* The cached statement for slot (preparing sql on first use), reset and unbound. */
int store_stmt(store_sqlite *s, enum store_slot slot, const char *sql, sqlite3_stmt **out, gpf_error *err);
/* Resets a statement after use (clears bindings too); accepts NULL. */
void store_done(sqlite3_stmt *st);
/* Runs parameterless SQL (one or more statements). */
int store_exec(store_sqlite *s, const char *sql, const char *what, gpf_error *err);
/* Steps a write statement to completion (SQLITE_DONE expected). */
int store_step_done(store_sqlite *s, sqlite3_stmt *st, const char *what, gpf_error *err);

/* A multi-statement write (or a consistent multi-query read): atomic on its own, or a
 * part of the caller's transaction. scope_end commits (rc == 0) or undoes (rc != 0)
 * what happened since scope_begin and returns the resulting code. */
int store_scope_begin(store_sqlite *s, gpf_error *err);
int store_scope_end(store_sqlite *s, int rc, gpf_error *err);

/* Binding a record's fields to consecutive parameters (from 1). The first failure is
 * kept in rc (GPF_EINVAL for a bad value, GPF_ESTORE for sqlite) with msg. */
typedef struct store_binder {
    sqlite3_stmt *st;
    int i;
    int rc;
    char msg[160];
} store_binder;

void store_bind_init(store_binder *b, sqlite3_stmt *st);
/* A fixed-size char array field: must be NUL-terminated within cap. */
void store_bind_text(store_binder *b, const char *field, const char *v, size_t cap);
/* A string built for the call (copied by sqlite: it may go out of scope at once). */
void store_bind_copy(store_binder *b, const char *field, const char *v);
/* An enum's name as returned by gpf_*_name ("?" means out of range: rejected). */
void store_bind_name(store_binder *b, const char *field, const char *name);
void store_bind_int(store_binder *b, int64_t v);
/* Returns b->rc, filling err from b->msg. */
int store_bind_finish(store_binder *b, gpf_error *err);

#define BIND_STR(b, rec, f) store_bind_text((b), #f, (rec)->f, sizeof (rec)->f)

/* Reading consecutive columns (from 0) of the current row into a record. */
typedef struct store_reader {
    sqlite3_stmt *st;
    int i;
    int rc;
    char msg[160];
} store_reader;

void store_read_init(store_reader *r, sqlite3_stmt *st);
/* Copies a TEXT column into dst; longer than cap-1 bytes is a corrupt row. */
void store_read_text(store_reader *r, const char *field, char *dst, size_t cap);
int64_t store_read_i64(store_reader *r);
/* An INTEGER column that must fit an int. */
int store_read_int(store_reader *r, const char *field);
/* A TEXT column holding an enum name, parsed with parse (-1 = unknown: corrupt row). */
int store_read_enum(store_reader *r, const char *field, int (*parse)(const char *));
/* A record's bit set of names (e.g. isolation layers) as the text format wrote it (at most
 * 255 bytes); a value parse refuses is a corrupt row. */
void store_read_bits(store_reader *r, const char *field, int (*parse)(const char *, unsigned *), unsigned *out);
int store_read_finish(store_reader *r, gpf_error *err);

#define READ_STR(r, rec, f) store_read_text((r), #f, (rec)->f, sizeof (rec)->f)

/* Runs the cached write statement for slot once, bind(b, rec) binding its parameters
 * (from ?1); "what: <sqlite's message>" when the step fails. */
typedef void (*store_bind_fn)(store_binder *b, const void *rec);
int store_write(store_sqlite *s, enum store_slot slot, const char *sql, store_bind_fn bind, const void *rec,
                const char *what, gpf_error *err);

/* A table of records: written one record at a time (an upsert by primary key) and
 * loaded whole at start-up into a heap array. */
typedef struct store_table {
    const char *name;     /* the table ("hosts"), in messages */
    size_t elem;          /* the size of one record */
    const char *put_what; /* "store: host_put": the message when the upsert fails */
    enum store_slot put_slot;
    const char *put_sql;  /* the upsert; bind binds its parameters from ?1 */
    store_bind_fn bind;
    enum store_slot load_slot;
    const char *load_sql; /* SELECT of the columns read decodes, in the load order */
    void (*read)(store_reader *r, void *rec); /* the current row into a zeroed record */
} store_table;

/* A list field of a record kept in a child table keyed by (parent key, pos); the parent's
 * key is a GPF_ID_MAX char array at key_off in the parent record. */
typedef struct store_child_table {
    const char *name;    /* the table, in messages */
    const char *key_col; /* its parent key column, in messages */
    size_t key_off;
    enum store_slot delete_slot;
    const char *delete_sql; /* deletes one parent's rows: ?1 = parent key */
    enum store_slot insert_slot;
    const char *insert_sql; /* ?1 = parent key, ?2 = pos, then what bind binds */
    void (*bind)(store_binder *b, const void *parent, int pos);
    enum store_slot load_slot;
    /* Parent key first, then what read decodes; rows in the parents' load order, then pos. */
    const char *load_sql;
    /* Appends the current row's child to parent; GPF_ESTORE (with err) when the list is full. */
    int (*read)(store_reader *r, void *parent, gpf_error *err);
    size_t count_off;    /* the parent's int holding the list's length */
    const struct store_child_table *next; /* another list of the same parent, or NULL */
} store_child_table;

/* Loads every row of t (and, with children, their child rows too, all in one scope) into
 * a heap array: *out (NULL when empty) and *n; both NULL/0 on failure. children is a
 * chain (through next) of the record's lists. */
int store_load(store_sqlite *s, const store_table *t, const store_child_table *children, void **out, size_t *n,
               gpf_error *err);

/* Upserts rec into t and, with children, replaces the child rows of each list in the chain
 * with its current ones (pos 0 .. count-1), all in one scope. */
int store_put(store_sqlite *s, const store_table *t, const void *rec, const store_child_table *children,
              gpf_error *err);

/* Runs the cached delete statement for slot (sql: "DELETE ... WHERE <key> = ?1") for key;
 * GPF_ENOTFOUND "store: <noun> <key> not found" when no row had it. */
int store_delete_key(store_sqlite *s, enum store_slot slot, const char *sql, const char *noun, const char *key,
                     gpf_error *err);

/* Applies list[0..n) to the open database (migrations.c). */
int store_migrate(store_sqlite *s, const gpf_store_migration *list, size_t n, gpf_error *err);

#endif
