/* Engine: tokens (made at bootstrap and on request), authentication, and the permission
 * check the other engine files share (the rules are gov's). */
#include <string.h>

#include "engine/engine_int.h"
#include "util/alloc.h"
#include "util/secret.h"

/* ---- tokens and bootstrap ---------------------------------------------- */

/* Caller holds the lock. */
int eng_make_token(gpf_engine *e, const char *prefix, const char *user, const char *host_id, char *secret,
                   size_t ssz, gpf_token *out, gpf_error *err)
{
    gpf_token t;
    memset(&t, 0, sizeof t);
    if (gpf_random_id(prefix, 40, secret, ssz) != 0)
        return gpf_error_set(err, GPF_EINTERNAL, "token buffer too small");
    gpf_random_id("tok-", 8, t.id, sizeof t.id);
    gpf_strlcpy(t.user, user ? user : "", sizeof t.user);
    gpf_strlcpy(t.host_id, host_id ? host_id : "", sizeof t.host_id);
    gpf_sha256_hex(secret, t.hash);
    t.created_ms = eng_now(e);
    int rc = eng_tx_write(e, err);
    if (rc == 0)
        rc = gpf_store_token_put(e->store, &t, err);
    if (rc != 0)
        return rc;
    eng_tx_save_len(e, &e->tokens);
    *(gpf_token *)vec_push(&e->tokens, sizeof t) = t;
    if (out)
        *out = t;
    return 0;
}

int gpf_engine_bootstrap(gpf_engine *e, const char *join_token_in, char *admin_token, size_t asz,
                         char *join_token, size_t jsz, gpf_error *err)
{
    int rc = 0;
    char hash[65], existing[80];
    admin_token[0] = '\0';
    join_token[0] = '\0';
    pthread_mutex_lock(&e->mu);
    /* one transaction: the admin, its token and the join token, all or none */
    eng_tx_begin(e);
    if (e->users.n == 0) {
        gpf_user u;
        memset(&u, 0, sizeof u);
        gpf_strlcpy(u.name, "admin", sizeof u.name);
        u.role = GPF_ROLE_ADMIN;
        u.created_ms = eng_now(e);
        if ((rc = eng_tx_write(e, err)) == 0)
            rc = gpf_store_user_put(e->store, &u, err);
        if (rc == 0) {
            eng_tx_save_len(e, &e->users);
            *(gpf_user *)vec_push(&e->users, sizeof u) = u;
            rc = eng_make_token(e, "gpf_", "admin", NULL, admin_token, asz, NULL, err);
        }
    }
    int put_join = 0;
    if (rc != 0) {
        /* nothing more */
    } else if (join_token_in && join_token_in[0]) {
        /* A configured join token always wins (and replaces a generated one). */
        gpf_sha256_hex(join_token_in, hash);
        put_join = 1;
    } else if (gpf_store_setting_get(e->store, "join_token_hash", existing, sizeof existing, NULL) != 0) {
        gpf_random_id("gpfjoin_", 40, join_token, jsz);
        gpf_sha256_hex(join_token, hash);
        put_join = 1;
    }
    if (put_join && (rc = eng_tx_write(e, err)) == 0)
        rc = gpf_store_setting_put(e->store, "join_token_hash", hash, err);
    if ((rc = eng_tx_end(e, rc, err)) != 0) {
        admin_token[0] = '\0';
        join_token[0] = '\0';
    }
    pthread_mutex_unlock(&e->mu);
    return rc;
}

int gpf_engine_authenticate(gpf_engine *e, const char *token, gpf_principal *out, gpf_error *err)
{
    char hash[65];
    int rc = GPF_EUNAUTH;
    memset(out, 0, sizeof *out);
    if (!token || !token[0] || strlen(token) > 128)
        return gpf_error_set(err, GPF_EUNAUTH, "missing or malformed bearer token");
    gpf_sha256_hex(token, hash);
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < e->tokens.n; i++) {
        gpf_token *t = VEC_AT(&e->tokens, gpf_token, i);
        if (!gpf_secret_equal(t->hash, hash))
            continue;
        if (t->host_id[0]) {
            out->is_agent = 1;
            gpf_strlcpy(out->host_id, t->host_id, sizeof out->host_id);
            rc = 0;
        } else {
            gpf_user *u = eng_user(e, t->user);
            if (u) {
                gpf_strlcpy(out->user, u->name, sizeof out->user);
                out->role = u->role;
                rc = 0;
            }
        }
        break;
    }
    pthread_mutex_unlock(&e->mu);
    if (rc != 0)
        gpf_error_set(err, GPF_EUNAUTH, "unknown token");
    return rc;
}

int gpf_engine_token_create(gpf_engine *e, const gpf_principal *who, const char *user, char *secret,
                            size_t ssz, gpf_token *out, gpf_error *err)
{
    int rc = eng_can(who, GPF_ACT_TOKEN_CREATE, &(gpf_gov_object){.id = user}, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    if (!eng_user(e, user))
        rc = gpf_error_set(err, GPF_ENOTFOUND, "no user '%s'", user);
    else
        rc = eng_make_token(e, "gpf_", user, NULL, secret, ssz, out, err);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

/* ---- permissions ------------------------------------------------------- */

int eng_can(const gpf_principal *who, gpf_action action, const gpf_gov_object *obj, gpf_error *err)
{
    char why[sizeof err->msg];
    int rc = gpf_gov_can(who, action, obj, why, sizeof why);
    if (rc != 0)
        return gpf_error_set(err, rc, "%s", why);
    return 0;
}
