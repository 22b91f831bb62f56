/* The "sqlite" store backend: opening (and its ops table), migrations hook, transactions,
 * statement cache, the binder/reader helpers, the generic table put/load the record files
 * use, and settings. */
#include "store/store_int.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"

#define BUSY_TIMEOUT_MS 5000

/* ---- errors and statements ------------------------------------------------ */

int store_fail(store_sqlite *s, gpf_error *err, const char *what)
{
    const char *msg = s && s->db ? sqlite3_errmsg(s->db) : "no database";
    return gpf_error_set(err, GPF_ESTORE, "%s: %s", what, msg);
}

int store_stmt(store_sqlite *s, enum store_slot slot, const char *sql, sqlite3_stmt **out, gpf_error *err)
{
    int rc = 0;
    *out = NULL;
    if (!s->stmts[slot]) {
        if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmts[slot], NULL) !=
            SQLITE_OK) {
            rc = store_fail(s, err, "store: preparing statement");
            s->stmts[slot] = NULL;
            goto out;
        }
    }
    *out = s->stmts[slot];
out:
    return rc;
}

void store_done(sqlite3_stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

int store_exec(store_sqlite *s, const char *sql, const char *what, gpf_error *err)
{
    int rc = 0;
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        rc = gpf_error_set(err, GPF_ESTORE, "%s: %s", what, msg ? msg : sqlite3_errmsg(s->db));
        goto out;
    }
out:
    sqlite3_free(msg);
    return rc;
}

int store_step_done(store_sqlite *s, sqlite3_stmt *st, const char *what, gpf_error *err)
{
    int rc = 0;
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = store_fail(s, err, what);
    return rc;
}

/* ---- write scopes and transactions ----------------------------------------- */

/* Runs sql (no rows), a statement kept in slot: a scope is opened and closed for every read
 * of a page or pod, and parsing its text each time cost as much as the read. */
static int exec_kept(store_sqlite *s, enum store_slot slot, const char *sql, const char *what, gpf_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = store_stmt(s, slot, sql, &st, err);
    if (rc == 0 && sqlite3_step(st) != SQLITE_DONE)
        rc = store_fail(s, err, what);
    if (st)
        sqlite3_reset(st);
    return rc;
}

int store_scope_begin(store_sqlite *s, gpf_error *err)
{
    /* Outside a caller's transaction the savepoint opens (and RELEASE commits) one. */
    s->scope_owns_tx = sqlite3_get_autocommit(s->db) != 0;
    return exec_kept(s, SLOT_SCOPE_BEGIN, "SAVEPOINT gpf_scope", "store: starting write", err);
}

int store_scope_end(store_sqlite *s, int rc, gpf_error *err)
{
    if (rc == 0) {
        rc = exec_kept(s, SLOT_SCOPE_RELEASE, "RELEASE gpf_scope", "store: committing write", err);
        if (rc == 0)
            goto out;
    }
    /* Undo the partial write, keeping the caller's transaction (if any) open. */
    sqlite3_exec(s->db, "ROLLBACK TO gpf_scope; RELEASE gpf_scope", NULL, NULL, NULL);
    /* A transaction this scope opened must never linger uncommitted. */
    if (s->scope_owns_tx && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
out:
    s->scope_owns_tx = 0;
    return rc;
}

int sq_begin(gpf_store *store, gpf_error *err)
{
    store_sqlite *s = store->priv;
    if (!sqlite3_get_autocommit(s->db))
        return gpf_error_set(err, GPF_ESTATE, "store: a transaction is already open");
    return store_exec(s, "BEGIN IMMEDIATE", "store: begin", err);
}

int sq_commit(gpf_store *store, gpf_error *err)
{
    store_sqlite *s = store->priv;
    if (sqlite3_get_autocommit(s->db))
        return gpf_error_set(err, GPF_ESTATE, "store: commit without a transaction");
    /* On failure the transaction stays open: the caller rolls back. */
    return store_exec(s, "COMMIT", "store: commit", err);
}

int sq_rollback(gpf_store *store)
{
    store_sqlite *s = store->priv;
    if (sqlite3_get_autocommit(s->db))
        return 0; /* nothing open (sqlite may already have rolled back on an error) */
    return store_exec(s, "ROLLBACK", "store: rollback", NULL);
}

/* ---- binder --------------------------------------------------------------- */

static int bind_check(store_binder *b, int src, const char *field)
{
    if (src != SQLITE_OK && b->rc == 0) {
        b->rc = GPF_ESTORE;
        snprintf(b->msg, sizeof b->msg, "binding %s: %s", field, sqlite3_errstr(src));
    }
    b->i++;
    return b->rc;
}

void store_bind_init(store_binder *b, sqlite3_stmt *st)
{
    memset(b, 0, sizeof *b);
    b->st = st;
    b->i = 1;
}

void store_bind_text(store_binder *b, const char *field, const char *v, size_t cap)
{
    size_t len = strnlen(v, cap);
    if (len == cap) {
        if (b->rc == 0) {
            b->rc = GPF_EINVAL;
            snprintf(b->msg, sizeof b->msg, "%s is not NUL-terminated", field);
        }
        b->i++;
        return;
    }
    bind_check(b, sqlite3_bind_text(b->st, b->i, v, (int)len, SQLITE_STATIC), field);
}

void store_bind_copy(store_binder *b, const char *field, const char *v)
{
    bind_check(b, sqlite3_bind_text(b->st, b->i, v, -1, SQLITE_TRANSIENT), field);
}

void store_bind_name(store_binder *b, const char *field, const char *name)
{
    if (strcmp(name, "?") == 0) {
        if (b->rc == 0) {
            b->rc = GPF_EINVAL;
            snprintf(b->msg, sizeof b->msg, "%s holds an unknown value", field);
        }
        b->i++;
        return;
    }
    bind_check(b, sqlite3_bind_text(b->st, b->i, name, -1, SQLITE_STATIC), field);
}

void store_bind_int(store_binder *b, int64_t v)
{
    bind_check(b, sqlite3_bind_int64(b->st, b->i, v), "integer");
}

int store_bind_finish(store_binder *b, gpf_error *err)
{
    if (b->rc)
        gpf_error_set(err, b->rc, "store: %s", b->msg);
    return b->rc;
}

/* ---- reader --------------------------------------------------------------- */

static void read_bad(store_reader *r, const char *field, const char *why)
{
    if (r->rc == 0) {
        r->rc = GPF_ESTORE;
        snprintf(r->msg, sizeof r->msg, "corrupt row: column %s %s", field, why);
    }
}

void store_read_init(store_reader *r, sqlite3_stmt *st)
{
    memset(r, 0, sizeof *r);
    r->st = st;
}

void store_read_text(store_reader *r, const char *field, char *dst, size_t cap)
{
    int col = r->i++;
    const unsigned char *v = sqlite3_column_text(r->st, col);
    size_t len = (size_t)sqlite3_column_bytes(r->st, col);
    dst[0] = '\0';
    if (!v) {
        read_bad(r, field, "is NULL");
        return;
    }
    if (len >= cap || strlen((const char *)v) != len) {
        read_bad(r, field, "does not fit its field");
        return;
    }
    memcpy(dst, v, len + 1);
}

int64_t store_read_i64(store_reader *r)
{
    return sqlite3_column_int64(r->st, r->i++);
}

int store_read_int(store_reader *r, const char *field)
{
    int64_t v = sqlite3_column_int64(r->st, r->i++);
    if (v < INT_MIN || v > INT_MAX) {
        read_bad(r, field, "is out of range");
        return 0;
    }
    return (int)v;
}

int store_read_enum(store_reader *r, const char *field, int (*parse)(const char *))
{
    char name[GPF_ID_MAX];
    store_read_text(r, field, name, sizeof name);
    if (r->rc)
        return 0;
    int v = parse(name);
    if (v < 0) {
        read_bad(r, field, "holds an unknown name");
        return 0;
    }
    return v;
}

void store_read_bits(store_reader *r, const char *field, int (*parse)(const char *, unsigned *), unsigned *out)
{
    char text[256];
    *out = 0;
    store_read_text(r, field, text, sizeof text);
    if (r->rc == 0 && parse(text, out) != 0)
        read_bad(r, field, "holds an unknown or repeated name");
}

int store_read_finish(store_reader *r, gpf_error *err)
{
    if (r->rc)
        gpf_error_set(err, r->rc, "store: %s", r->msg);
    return r->rc;
}

/* ---- single-row writes, whole-table loads, child lists ----------------------------- */

int store_delete_key(store_sqlite *s, enum store_slot slot, const char *sql, const char *noun, const char *key,
                     gpf_error *err)
{
    int rc = 0;
    sqlite3_stmt *st = NULL;
    char what[64];
    snprintf(what, sizeof what, "store: %s_delete", noun);
    if (!key) {
        rc = gpf_error_set(err, GPF_EINVAL, "store: bad arguments to %s_delete", noun);
        goto out;
    }
    if ((rc = store_stmt(s, slot, sql, &st, err)) != 0)
        goto out;
    if (sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK) {
        rc = store_fail(s, err, what);
        goto out;
    }
    if ((rc = store_step_done(s, st, what, err)) != 0)
        goto out;
    if (sqlite3_changes(s->db) == 0)
        rc = gpf_error_set(err, GPF_ENOTFOUND, "store: %s %s not found", noun, key);
out:
    store_done(st);
    return rc;
}

int store_write(store_sqlite *s, enum store_slot slot, const char *sql, store_bind_fn bind, const void *rec,
                const char *what, gpf_error *err)
{
    int rc = 0;
    sqlite3_stmt *st = NULL;
    store_binder b;
    if ((rc = store_stmt(s, slot, sql, &st, err)) != 0)
        goto out;
    store_bind_init(&b, st);
    bind(&b, rec);
    if ((rc = store_bind_finish(&b, err)) != 0)
        goto out;
    rc = store_step_done(s, st, what, err);
out:
    store_done(st);
    return rc;
}

/* store_fail with "store: <verb> <table>" as what. */
static int table_fail(store_sqlite *s, gpf_error *err, const char *verb, const char *table)
{
    char what[96];
    snprintf(what, sizeof what, "store: %s %s", verb, table);
    return store_fail(s, err, what);
}

/* Reads the rows of t into a growing heap array: *arr, *cnt (start from NULL, 0). */
static int load_rows(store_sqlite *s, const store_table *t, void **arr, size_t *cnt, gpf_error *err)
{
    int rc = 0;
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int src;
    if ((rc = store_stmt(s, t->load_slot, t->load_sql, &st, err)) != 0)
        goto out;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (*cnt == cap) {
            cap = cap ? cap * 2 : 16;
            *arr = gpf_reallocarray(*arr, cap, t->elem);
        }
        char *rec = (char *)*arr + *cnt * t->elem;
        memset(rec, 0, t->elem);
        store_reader r;
        store_read_init(&r, st);
        t->read(&r, rec);
        if ((rc = store_read_finish(&r, err)) != 0)
            goto out;
        (*cnt)++;
    }
    if (src != SQLITE_DONE)
        rc = table_fail(s, err, "loading", t->name);
out:
    store_done(st);
    return rc;
}

/* Child rows come in their parents' order, so one pass over arr[0..n) places them all. */
static int load_children(store_sqlite *s, const store_child_table *c, char *arr, size_t n, size_t elem,
                         gpf_error *err)
{
    int rc = 0;
    sqlite3_stmt *st = NULL;
    size_t cur = 0;
    int src;
    if ((rc = store_stmt(s, c->load_slot, c->load_sql, &st, err)) != 0)
        goto out;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        char key[GPF_ID_MAX];
        store_reader r;
        store_read_init(&r, st);
        store_read_text(&r, c->key_col, key, sizeof key);
        if ((rc = store_read_finish(&r, err)) != 0)
            goto out;
        while (cur < n && strcmp(arr + cur * elem + c->key_off, key) != 0)
            cur++;
        if (cur == n) {
            rc = gpf_error_set(err, GPF_ESTORE, "store: %s row for unknown or misordered parent %s", c->name,
                               key);
            goto out;
        }
        if ((rc = c->read(&r, arr + cur * elem, err)) != 0 || (rc = store_read_finish(&r, err)) != 0)
            goto out;
    }
    if (src != SQLITE_DONE)
        rc = table_fail(s, err, "loading", c->name);
out:
    store_done(st);
    return rc;
}

int store_load(store_sqlite *s, const store_table *t, const store_child_table *children, void **out, size_t *n,
               gpf_error *err)
{
    int rc = 0;
    int scope = 0;
    void *arr = NULL;
    size_t cnt = 0;
    *out = NULL;
    *n = 0;
    /* Parents and children are read in one scope, so they are consistent. */
    if (children) {
        if ((rc = store_scope_begin(s, err)) != 0)
            goto out;
        scope = 1;
    }
    if ((rc = load_rows(s, t, &arr, &cnt, err)) != 0)
        goto out;
    for (const store_child_table *c = children; c; c = c->next)
        if ((rc = load_children(s, c, arr, cnt, t->elem, err)) != 0)
            goto out;
out:
    if (scope)
        rc = store_scope_end(s, rc, err);
    if (rc == 0 && cnt) {
        *out = arr;
        *n = cnt;
        arr = NULL;
    }
    gpf_free(arr);
    return rc;
}

static void bind_parent_key(store_binder *b, const void *key)
{
    store_bind_text(b, "parent key", key, GPF_ID_MAX);
}

/* Deletes parent's child rows, then inserts its current ones (pos 0 .. count-1). */
static int put_children(store_sqlite *s, const store_child_table *c, const void *parent, gpf_error *err)
{
    int rc = 0, count = 0;
    memcpy(&count, (const char *)parent + c->count_off, sizeof count);
    sqlite3_stmt *st = NULL;
    store_binder b;
    const char *key = (const char *)parent + c->key_off;
    char what[96];
    snprintf(what, sizeof what, "store: writing %s", c->name);
    if ((rc = store_write(s, c->delete_slot, c->delete_sql, bind_parent_key, key, what, err)) != 0 ||
        (rc = store_stmt(s, c->insert_slot, c->insert_sql, &st, err)) != 0)
        goto out;
    for (int pos = 0; pos < count; pos++) {
        store_bind_init(&b, st);
        bind_parent_key(&b, key);
        store_bind_int(&b, pos);
        c->bind(&b, parent, pos);
        if ((rc = store_bind_finish(&b, err)) != 0 || (rc = store_step_done(s, st, what, err)) != 0)
            goto out;
        store_done(st);
    }
out:
    store_done(st);
    return rc;
}

int store_put(store_sqlite *s, const store_table *t, const void *rec, const store_child_table *children,
              gpf_error *err)
{
    int rc = 0;
    if (!children) /* one statement: atomic on its own */
        return store_write(s, t->put_slot, t->put_sql, t->bind, rec, t->put_what, err);
    if ((rc = store_scope_begin(s, err)) != 0)
        return rc;
    rc = store_write(s, t->put_slot, t->put_sql, t->bind, rec, t->put_what, err);
    for (const store_child_table *c = children; c && rc == 0; c = c->next)
        rc = put_children(s, c, rec, err);
    return store_scope_end(s, rc, err);
}

/* ---- open / close ----------------------------------------------------------- */

static int pragmas(store_sqlite *s, int in_memory, gpf_error *err)
{
    int rc = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS) != SQLITE_OK) {
        rc = store_fail(s, err, "store: setting busy timeout");
        goto out;
    }
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = store_fail(s, err, "store: enabling WAL");
        goto out;
    }
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    /* Private databases (":memory:", "" = temporary file) have nothing to make durable. */
    if (!in_memory && (!mode || strcmp(mode, "wal") != 0)) {
        rc = gpf_error_set(err, GPF_ESTORE, "store: could not enable WAL (journal mode is %s)",
                           mode ? mode : "unknown");
        goto out;
    }
    rc = store_exec(s, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", "store: setting pragmas", err);
out:
    sqlite3_finalize(st);
    return rc;
}

/* Frees s and everything it holds; accepts NULL. */
static void close_db(store_sqlite *s)
{
    if (!s)
        return;
    for (int i = 0; i < SLOT_COUNT; i++)
        sqlite3_finalize(s->stmts[i]);
    for (size_t i = 0; i < sizeof s->pods_query / sizeof s->pods_query[0]; i++)
        sqlite3_finalize(s->pods_query[i]);
    /* An open transaction is rolled back by sqlite on close. */
    sqlite3_close(s->db);
    store_barrier_free(s->barrier);
    gpf_free(s);
}

void sq_close(gpf_store *store)
{
    close_db(store->priv);
}

static const gpf_store_ops sqlite_ops = {
    .name = "sqlite",
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .setting_get = sq_setting_get,
    .setting_put = sq_setting_put,
    .host_put = sq_host_put,
    .sku_put = sq_sku_put,
    .sku_delete = sq_sku_delete,
    .image_put = sq_image_put,
    .image_delete = sq_image_delete,
    .user_put = sq_user_put,
    .token_put = sq_token_put,
    .tokens_delete_for_host = sq_tokens_delete_for_host,
    .join_token_put = sq_join_token_put,
    .pod_put = sq_pod_put,
    .usage_insert = sq_usage_insert,
    .usage_update = sq_usage_update,
    .event_insert = sq_event_insert,
    .events_list = sq_events_list,
    .hosts_load = sq_hosts_load,
    .skus_load = sq_skus_load,
    .images_load = sq_images_load,
    .users_load = sq_users_load,
    .tokens_load = sq_tokens_load,
    .join_tokens_load = sq_join_tokens_load,
    .pods_load = sq_pods_load,
    .usage_load = sq_usage_load,
    .pod_get = sq_pod_get,
    .pods_query = sq_pods_query,
    .usage_query = sq_usage_query,
    .history_counts = sq_history_counts,
    .schema_version = sq_schema_version,
    .committed = sq_committed,
    .sync_to = sq_sync_to,
    .close = sq_close,
};

int gpf_store_open_with(const char *path, const gpf_store_migration *list, size_t n, gpf_store **out,
                        gpf_error *err)
{
    int rc = 0;
    store_sqlite *s = NULL;
    if (!out || !path || (n && !list)) {
        rc = gpf_error_set(err, GPF_EINVAL, "store: bad arguments to open");
        goto out;
    }
    *out = NULL;
    s = GPF_NEW(store_sqlite);
    s->pub.ops = &sqlite_ops;
    s->pub.priv = s;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int in_memory = path[0] == '\0' || strcmp(path, ":memory:") == 0;
    /* A database file is private: made here 0600 (sqlite would make it 0644 less the umask),
     * and sqlite gives the -wal and -shm files it makes the database's mode. A failure is
     * left to sqlite3_open_v2 to report. */
    int fd = in_memory ? -1 : open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        rc = gpf_error_set(err, GPF_ESTORE, "store: cannot open %s: %s", path,
                           s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto out;
    }
    sqlite3_extended_result_codes(s->db, 1);
    store_barrier_init(s, in_memory);
    if ((rc = pragmas(s, in_memory, err)) != 0)
        goto out;
    if ((rc = store_migrate(s, list, n, err)) != 0)
        goto out;
    *out = &s->pub;
    s = NULL;
out:
    close_db(s);
    return rc;
}

int gpf_store_open_reader(const char *path, gpf_store **out, gpf_error *err)
{
    int rc = 0;
    store_sqlite *s = NULL;
    if (!out || !path) {
        rc = gpf_error_set(err, GPF_EINVAL, "store: bad arguments to open_reader");
        goto out;
    }
    *out = NULL;
    if (path[0] == '\0' || strcmp(path, ":memory:") == 0) {
        rc = gpf_error_set(err, GPF_ENOTSUP, "store: a private database has no second handle");
        goto out;
    }
    s = GPF_NEW(store_sqlite);
    s->pub.ops = &sqlite_ops;
    s->pub.priv = s;
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        rc = gpf_error_set(err, GPF_ESTORE, "store: cannot open %s to read: %s", path,
                           s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto out;
    }
    sqlite3_extended_result_codes(s->db, 1);
    if (sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS) != SQLITE_OK) {
        rc = store_fail(s, err, "store: setting busy timeout");
        goto out;
    }
    *out = &s->pub;
    s = NULL;
out:
    close_db(s);
    return rc;
}

int gpf_store_open(const char *path, gpf_store **out, gpf_error *err)
{
    size_t n = 0;
    const gpf_store_migration *list = gpf_store_migrations(&n);
    return gpf_store_open_with(path, list, n, out, err);
}

/* ---- settings --------------------------------------------------------------- */

int sq_setting_get(gpf_store *store, const char *key, char *val, size_t size, gpf_error *err)
{
    store_sqlite *s = store->priv;
    int rc = 0;
    sqlite3_stmt *st = NULL;
    if (!key || !val || size == 0) {
        rc = gpf_error_set(err, GPF_EINVAL, "store: bad arguments to setting_get");
        goto out;
    }
    if ((rc = store_stmt(s, SLOT_SETTING_GET, "SELECT value FROM settings WHERE key = ?1", &st, err)) != 0)
        goto out;
    if (sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK) {
        rc = store_fail(s, err, "store: setting_get");
        goto out;
    }
    int src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        rc = gpf_error_set(err, GPF_ENOTFOUND, "store: setting %s not found", key);
        goto out;
    }
    if (src != SQLITE_ROW) {
        rc = store_fail(s, err, "store: setting_get");
        goto out;
    }
    const char *v = (const char *)sqlite3_column_text(st, 0);
    size_t len = (size_t)sqlite3_column_bytes(st, 0);
    if (!v)
        v = "";
    if (len >= size) {
        rc = gpf_error_set(err, GPF_ETOOLARGE, "store: setting %s is %zu bytes, buffer holds %zu", key,
                           len, size - 1);
        goto out;
    }
    memcpy(val, v, len + 1);
out:
    store_done(st);
    return rc;
}

int sq_setting_put(gpf_store *store, const char *key, const char *val, gpf_error *err)
{
    store_sqlite *s = store->priv;
    int rc = 0;
    sqlite3_stmt *st = NULL;
    if (!key || !val) {
        rc = gpf_error_set(err, GPF_EINVAL, "store: bad arguments to setting_put");
        goto out;
    }
    if ((rc = store_stmt(s, SLOT_SETTING_PUT,
                         "INSERT INTO settings (key, value) VALUES (?1, ?2) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                         &st, err)) != 0)
        goto out;
    if (sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, val, -1, SQLITE_STATIC) != SQLITE_OK) {
        rc = store_fail(s, err, "store: setting_put");
        goto out;
    }
    rc = store_step_done(s, st, "store: setting_put", err);
out:
    store_done(st);
    return rc;
}
