/* Host credentials: join tokens (one row per token, gpf_join_token) and the revocation of a
 * host's agent tokens when it gets a new one. */
#include "store/store_int.h"

static void bind_join_token(store_binder *b, const void *rec)
{
    const gpf_join_token *t = rec;
    BIND_STR(b, t, id);
    BIND_STR(b, t, name);
    BIND_STR(b, t, hash);
    BIND_STR(b, t, created_by);
    store_bind_int(b, t->created_ms);
    store_bind_int(b, t->expires_ms);
    store_bind_int(b, t->uses_left);
    store_bind_int(b, t->uses);
    store_bind_int(b, t->last_used_ms);
    store_bind_int(b, t->revoked_ms);
}

static void read_join_token(store_reader *r, void *rec)
{
    gpf_join_token *t = rec;
    READ_STR(r, t, id);
    READ_STR(r, t, name);
    READ_STR(r, t, hash);
    READ_STR(r, t, created_by);
    t->created_ms = store_read_i64(r);
    t->expires_ms = store_read_i64(r);
    t->uses_left = store_read_i64(r);
    t->uses = store_read_i64(r);
    t->last_used_ms = store_read_i64(r);
    t->revoked_ms = store_read_i64(r);
}

static const store_table join_tokens_table = {
    .name = "join_tokens",
    .elem = sizeof(gpf_join_token),
    .put_what = "store: join_token_put",
    .put_slot = SLOT_JOIN_TOKEN_PUT,
    .put_sql = "INSERT INTO join_tokens (id, name, hash, created_by, created_ms, expires_ms, uses_left, uses,"
               " last_used_ms, revoked_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
               " ON CONFLICT (id) DO UPDATE SET name = excluded.name, hash = excluded.hash,"
               " created_by = excluded.created_by, created_ms = excluded.created_ms,"
               " expires_ms = excluded.expires_ms, uses_left = excluded.uses_left, uses = excluded.uses,"
               " last_used_ms = excluded.last_used_ms, revoked_ms = excluded.revoked_ms",
    .bind = bind_join_token,
    .load_slot = SLOT_JOIN_TOKENS_LOAD,
    .load_sql = "SELECT id, name, hash, created_by, created_ms, expires_ms, uses_left, uses, last_used_ms,"
                " revoked_ms FROM join_tokens ORDER BY id",
    .read = read_join_token,
};

int sq_join_token_put(gpf_store *store, const gpf_join_token *t, gpf_error *err)
{
    store_sqlite *s = store->priv;
    if (!t)
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to join_token_put");
    return store_put(s, &join_tokens_table, t, NULL, err);
}

int sq_join_tokens_load(gpf_store *store, gpf_join_token **out, size_t *n, gpf_error *err)
{
    store_sqlite *s = store->priv;
    void *arr = NULL;
    if (!out || !n)
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to join_tokens_load");
    int rc = store_load(s, &join_tokens_table, NULL, &arr, n, err);
    *out = arr;
    return rc;
}

int sq_tokens_delete_for_host(gpf_store *store, const char *host_id, gpf_error *err)
{
    store_sqlite *s = store->priv;
    if (!host_id || !host_id[0])
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to tokens_delete_for_host");
    gpf_error derr = {0};
    int rc = store_delete_key(s, SLOT_TOKENS_DELETE_FOR_HOST, "DELETE FROM tokens WHERE host_id = ?1",
                              "tokens_for_host", host_id, &derr);
    if (rc == GPF_ENOTFOUND)
        return 0; /* the host had none */
    if (rc != 0 && err)
        *err = derr;
    return rc;
}
