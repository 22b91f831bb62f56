/* Users and API tokens. */
#include "store/store_int.h"

static void bind_user(store_binder *b, const void *rec)
{
    const gpf_user *u = rec;
    BIND_STR(b, u, name);
    store_bind_name(b, "role", gpf_role_name(u->role));
    BIND_STR(b, u, team);
    BIND_STR(b, u, ssh_pubkey);
    store_bind_int(b, u->created_ms);
    store_bind_int(b, u->disabled != 0);
    store_bind_int(b, u->deleted_ms);
}

static void read_user(store_reader *r, void *rec)
{
    gpf_user *u = rec;
    READ_STR(r, u, name);
    u->role = (gpf_role)store_read_enum(r, "role", gpf_role_parse);
    READ_STR(r, u, team);
    READ_STR(r, u, ssh_pubkey);
    u->created_ms = store_read_i64(r);
    u->disabled = store_read_i64(r) != 0;
    u->deleted_ms = store_read_i64(r);
}

static const store_table users_table = {
    .name = "users",
    .elem = sizeof(gpf_user),
    .put_what = "store: user_put",
    .put_slot = SLOT_USER_PUT,
    .put_sql = "INSERT INTO users (name, role, team, ssh_pubkey, created_ms, disabled, deleted_ms)"
               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
               " ON CONFLICT (name) DO UPDATE SET role = excluded.role, team = excluded.team,"
               " ssh_pubkey = excluded.ssh_pubkey, created_ms = excluded.created_ms,"
               " disabled = excluded.disabled, deleted_ms = excluded.deleted_ms",
    .bind = bind_user,
    .load_slot = SLOT_USERS_LOAD,
    .load_sql = "SELECT name, role, team, ssh_pubkey, created_ms, disabled, deleted_ms FROM users ORDER BY name",
    .read = read_user,
};

int sq_user_put(gpf_store *store, const gpf_user *u, gpf_error *err)
{
    store_sqlite *s = store->priv;
    if (!u)
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to user_put");
    return store_put(s, &users_table, u, NULL, err);
}

int sq_users_load(gpf_store *store, gpf_user **out, size_t *n, gpf_error *err)
{
    store_sqlite *s = store->priv;
    void *arr = NULL;
    if (!out || !n)
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to users_load");
    int rc = store_load(s, &users_table, NULL, &arr, n, err);
    *out = arr;
    return rc;
}

static void bind_token(store_binder *b, const void *rec)
{
    const gpf_token *t = rec;
    BIND_STR(b, t, id);
    BIND_STR(b, t, user);
    BIND_STR(b, t, host_id);
    BIND_STR(b, t, hash);
    store_bind_int(b, t->created_ms);
    BIND_STR(b, t, name);
    store_bind_int(b, t->expires_ms);
    store_bind_int(b, t->last_used_ms);
    store_bind_int(b, t->revoked_ms);
}

static void read_token(store_reader *r, void *rec)
{
    gpf_token *t = rec;
    READ_STR(r, t, id);
    READ_STR(r, t, user);
    READ_STR(r, t, host_id);
    READ_STR(r, t, hash);
    t->created_ms = store_read_i64(r);
    READ_STR(r, t, name);
    t->expires_ms = store_read_i64(r);
    t->last_used_ms = store_read_i64(r);
    t->revoked_ms = store_read_i64(r);
}

static const store_table tokens_table = {
    .name = "tokens",
    .elem = sizeof(gpf_token),
    .put_what = "store: token_put",
    .put_slot = SLOT_TOKEN_PUT,
    .put_sql = "INSERT INTO tokens (id, user_name, host_id, hash, created_ms, name, expires_ms, last_used_ms,"
               " revoked_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
               " ON CONFLICT (id) DO UPDATE SET user_name = excluded.user_name,"
               " host_id = excluded.host_id, hash = excluded.hash, created_ms = excluded.created_ms,"
               " name = excluded.name, expires_ms = excluded.expires_ms, last_used_ms = excluded.last_used_ms,"
               " revoked_ms = excluded.revoked_ms",
    .bind = bind_token,
    .load_slot = SLOT_TOKENS_LOAD,
    .load_sql = "SELECT id, user_name, host_id, hash, created_ms, name, expires_ms, last_used_ms, revoked_ms"
                " FROM tokens ORDER BY id",
    .read = read_token,
};

int sq_token_put(gpf_store *store, const gpf_token *t, gpf_error *err)
{
    store_sqlite *s = store->priv;
    if (!t)
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to token_put");
    return store_put(s, &tokens_table, t, NULL, err);
}

int sq_tokens_load(gpf_store *store, gpf_token **out, size_t *n, gpf_error *err)
{
    store_sqlite *s = store->priv;
    void *arr = NULL;
    if (!out || !n)
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to tokens_load");
    int rc = store_load(s, &tokens_table, NULL, &arr, n, err);
    *out = arr;
    return rc;
}
