/* Users and API tokens. */
#include "store/store_int.h"

#include "util/alloc.h"

int gpf_store_user_put(gpf_store *s, const gpf_user *u, gpf_error *err)
{
    int rc = 0;
    sqlite3_stmt *st = NULL;
    store_binder b;
    if (!s || !u) {
        rc = gpf_error_set(err, GPF_EINVAL, "store: bad arguments to user_put");
        goto out;
    }
    if ((rc = store_stmt(s, SLOT_USER_PUT,
                         "INSERT INTO users (name, role, team, ssh_pubkey, created_ms)"
                         " VALUES (?1, ?2, ?3, ?4, ?5)"
                         " ON CONFLICT (name) DO UPDATE SET role = excluded.role, team = excluded.team,"
                         " ssh_pubkey = excluded.ssh_pubkey, created_ms = excluded.created_ms",
                         &st, err)) != 0)
        goto out;
    store_bind_init(&b, st);
    BIND_STR(&b, u, name);
    store_bind_name(&b, "role", gpf_role_name(u->role));
    BIND_STR(&b, u, team);
    BIND_STR(&b, u, ssh_pubkey);
    store_bind_int(&b, u->created_ms);
    if ((rc = store_bind_finish(&b, err)) != 0)
        goto out;
    rc = store_step_done(s, st, "store: user_put", err);
out:
    store_done(st);
    return rc;
}

int gpf_store_users_load(gpf_store *s, gpf_user **out, size_t *n, gpf_error *err)
{
    int rc = 0;
    sqlite3_stmt *st = NULL;
    gpf_user *arr = NULL;
    size_t cnt = 0, cap = 0;
    int src;
    if (!s || !out || !n) {
        rc = gpf_error_set(err, GPF_EINVAL, "store: bad arguments to users_load");
        goto out;
    }
    *out = NULL;
    *n = 0;
    if ((rc = store_stmt(s, SLOT_USERS_LOAD,
                         "SELECT name, role, team, ssh_pubkey, created_ms FROM users ORDER BY name", &st,
                         err)) != 0)
        goto out;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        arr = store_grow(arr, &cap, cnt, sizeof *arr);
        gpf_user *u = &arr[cnt];
        store_reader r;
        store_read_init(&r, st);
        READ_STR(&r, u, name);
        u->role = (gpf_role)store_read_enum(&r, "role", gpf_role_parse);
        READ_STR(&r, u, team);
        READ_STR(&r, u, ssh_pubkey);
        u->created_ms = store_read_i64(&r);
        if ((rc = store_read_finish(&r, err)) != 0)
            goto out;
        cnt++;
    }
    if (src != SQLITE_DONE) {
        rc = store_fail(s, err, "store: loading users");
        goto out;
    }
    *out = cnt ? arr : NULL;
    *n = cnt;
    if (cnt)
        arr = NULL;
out:
    store_done(st);
    gpf_free(arr);
    return rc;
}

int gpf_store_token_put(gpf_store *s, const gpf_token *t, gpf_error *err)
{
    int rc = 0;
    sqlite3_stmt *st = NULL;
    store_binder b;
    if (!s || !t) {
        rc = gpf_error_set(err, GPF_EINVAL, "store: bad arguments to token_put");
        goto out;
    }
    if ((rc = store_stmt(s, SLOT_TOKEN_PUT,
                         "INSERT INTO tokens (id, user_name, host_id, hash, created_ms)"
                         " VALUES (?1, ?2, ?3, ?4, ?5)"
                         " ON CONFLICT (id) DO UPDATE SET user_name = excluded.user_name,"
                         " host_id = excluded.host_id, hash = excluded.hash, created_ms = excluded.created_ms",
                         &st, err)) != 0)
        goto out;
    store_bind_init(&b, st);
    BIND_STR(&b, t, id);
    BIND_STR(&b, t, user);
    BIND_STR(&b, t, host_id);
    BIND_STR(&b, t, hash);
    store_bind_int(&b, t->created_ms);
    if ((rc = store_bind_finish(&b, err)) != 0)
        goto out;
    rc = store_step_done(s, st, "store: token_put", err);
out:
    store_done(st);
    return rc;
}

int gpf_store_tokens_load(gpf_store *s, gpf_token **out, size_t *n, gpf_error *err)
{
    int rc = 0;
    sqlite3_stmt *st = NULL;
    gpf_token *arr = NULL;
    size_t cnt = 0, cap = 0;
    int src;
    if (!s || !out || !n) {
        rc = gpf_error_set(err, GPF_EINVAL, "store: bad arguments to tokens_load");
        goto out;
    }
    *out = NULL;
    *n = 0;
    if ((rc = store_stmt(s, SLOT_TOKENS_LOAD,
                         "SELECT id, user_name, host_id, hash, created_ms FROM tokens ORDER BY id", &st, err)) !=
        0)
        goto out;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        arr = store_grow(arr, &cap, cnt, sizeof *arr);
        gpf_token *t = &arr[cnt];
        store_reader r;
        store_read_init(&r, st);
        READ_STR(&r, t, id);
        READ_STR(&r, t, user);
        READ_STR(&r, t, host_id);
        READ_STR(&r, t, hash);
        t->created_ms = store_read_i64(&r);
        if ((rc = store_read_finish(&r, err)) != 0)
            goto out;
        cnt++;
    }
    if (src != SQLITE_DONE) {
        rc = store_fail(s, err, "store: loading tokens");
        goto out;
    }
    *out = cnt ? arr : NULL;
    *n = cnt;
    if (cnt)
        arr = NULL;
out:
    store_done(st);
    gpf_free(arr);
    return rc;
}
