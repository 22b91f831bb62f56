/* Engine: tokens (made at bootstrap and on request), authentication, and the permission
 * check the other engine files share (the rules are gov's). */
#include <string.h>

#include "engine/engine_int.h"
#include "util/alloc.h"
#include "util/secret.h"

/* ---- tokens and bootstrap ---------------------------------------------- */

/* Caller holds the lock. */
int eng_put_token(gpf_engine *e, const char *prefix, gpf_token *t, char *secret, size_t ssz, gpf_error *err)
{
    if (gpf_random_id(prefix, 40, secret, ssz) != 0)
        return gpf_error_set(err, GPF_EINTERNAL, "token buffer too small");
    gpf_random_id("tok-", 8, t->id, sizeof t->id);
    gpf_sha256_hex(secret, t->hash);
    t->created_ms = eng_now(e);
    int rc = eng_tx_write(e, err);
    if (rc == 0)
        rc = gpf_store_token_put(e->store, t, err);
    if (rc != 0)
        return rc;
    eng_tx_save_len(e, &e->tokens);
    *(gpf_token *)vec_push(&e->tokens, sizeof *t) = *t;
    return 0;
}

/* Caller holds the lock. */
int eng_make_token(gpf_engine *e, const char *prefix, const char *user, const char *host_id, char *secret,
                   size_t ssz, gpf_token *out, gpf_error *err)
{
    gpf_token t;
    memset(&t, 0, sizeof t);
    gpf_strlcpy(t.user, user ? user : "", sizeof t.user);
    gpf_strlcpy(t.host_id, host_id ? host_id : "", sizeof t.host_id);
    int rc = eng_put_token(e, prefix, &t, secret, ssz, err);
    if (rc == 0 && out)
        *out = t;
    return rc;
}

int gpf_engine_bootstrap(gpf_engine *e, const char *join_token_in, char *admin_token, size_t asz,
                         char *join_token, size_t jsz, gpf_error *err)
{
    int rc = 0;
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
    if (rc == 0)
        rc = eng_join_initial(e, join_token_in, join_token, jsz, err);
    if ((rc = eng_tx_end(e, rc, err)) != 0) {
        admin_token[0] = '\0';
        join_token[0] = '\0';
    }
    if ((rc = eng_unlock_sync(e, rc, err)) != 0) /* not durable: not handed out */
        admin_token[0] = join_token[0] = '\0';
    return rc;
}

/* The principal a matching token t stands for, at now; GPF_EUNAUTH (err set) when it is
 * revoked or expired or its user is gone or disabled. Its last use is noted (memory only).
 * Caller holds the lock. */
static int token_principal(gpf_engine *e, gpf_token *t, int64_t now, gpf_principal *out, gpf_error *err)
{
    if (t->revoked_ms)
        return gpf_error_set(err, GPF_EUNAUTH, "unknown token");
    if (t->expires_ms && now >= t->expires_ms)
        return gpf_error_set(err, GPF_EUNAUTH, "token expired");
    if (t->host_id[0]) {
        out->is_agent = 1;
        gpf_strlcpy(out->host_id, t->host_id, sizeof out->host_id);
    } else {
        gpf_user *u = eng_live_user(e, t->user);
        if (!u)
            return gpf_error_set(err, GPF_EUNAUTH, "unknown token");
        if (u->disabled)
            return gpf_error_set(err, GPF_EUNAUTH, "user '%s' is disabled", u->name);
        gpf_strlcpy(out->user, u->name, sizeof out->user);
        out->role = u->role;
    }
    t->last_used_ms = now;
    return 0;
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
    gpf_token *t = NULL;
    for (size_t i = 0; i < e->tokens.n && !t; i++)
        if (gpf_secret_equal(VEC_AT(&e->tokens, gpf_token, i)->hash, hash))
            t = VEC_AT(&e->tokens, gpf_token, i);
    if (t)
        rc = token_principal(e, t, eng_now(e), out, err);
    pthread_mutex_unlock(&e->mu);
    if (!t)
        gpf_error_set(err, GPF_EUNAUTH, "unknown token");
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

/* A new token's record from spec (name, expiry from now); GPF_EINVAL for a bad spec. */
static int token_from_spec(gpf_engine *e, const char *user, const gpf_token_spec *spec, gpf_token *t,
                           gpf_error *err)
{
    const char *name = spec && spec->name ? spec->name : "";
    int64_t life_s = spec ? spec->expires_in_s : 0;
    memset(t, 0, sizeof *t);
    if (name[0] && !gpf_name_valid(name))
        return gpf_error_set(err, GPF_EINVAL, "token name must be 1-63 of a-z 0-9 . _ - (starting with a letter or digit)");
    if (life_s < 0 || life_s > GPF_TOKEN_EXPIRES_MAX_S)
        return gpf_error_set(err, GPF_EINVAL, "expires_in_s must be 1..%lld (or 0: never)",
                             (long long)GPF_TOKEN_EXPIRES_MAX_S);
    gpf_strlcpy(t->user, user, sizeof t->user);
    gpf_strlcpy(t->name, name, sizeof t->name);
    t->expires_ms = life_s ? eng_now(e) + life_s * 1000 : 0;
    return 0;
}

int gpf_engine_token_create(gpf_engine *e, const gpf_principal *who, const char *user, const gpf_token_spec *spec,
                            char *secret, size_t ssz, gpf_token *out, gpf_error *err)
{
    gpf_token t;
    int rc = eng_can(who, GPF_ACT_TOKEN_CREATE, &(gpf_gov_object){.id = user}, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    if (!eng_live_user(e, user)) {
        rc = gpf_error_set(err, GPF_ENOTFOUND, "no user '%s'", user);
        goto out;
    }
    if ((rc = token_from_spec(e, user, spec, &t, err)) != 0)
        goto out;
    eng_tx_begin(e);
    rc = eng_put_token(e, "gpf_", &t, secret, ssz, err);
    if (rc == 0)
        rc = eng_event(e, err, "token_created", "info", NULL, NULL, t.id,
                       "token %s of %s created by %s (name '%s', expires_in_s %lld)", t.id, user, who->user, t.name,
                       (long long)(spec ? spec->expires_in_s : 0));
    if ((rc = eng_tx_end(e, rc, err)) != 0)
        secret[0] = '\0';
    else if (out)
        *out = t;
out:
    if ((rc = eng_unlock_sync(e, rc, err)) != 0) /* not durable: not handed out */
        secret[0] = '\0';
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
