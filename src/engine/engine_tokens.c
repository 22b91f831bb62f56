/* Engine: the lifecycle of user tokens after they are made (engine_auth.c makes them):
 * listing, revocation (one token, or all of a user's) and the coalesced write of their
 * last use. A revoked token is written with revoked_ms and then forgotten by memory, so the
 * authentication loop never sees it again; the store keeps the row (audit) and open skips
 * it. Agent tokens (host_id set) are the host-identity code's: not listed or revoked here. */
#include <string.h>

#include "engine/engine_int.h"
#include "util/alloc.h"
#include "util/log.h"

/* A user token that still works or may again (not revoked; expired ones are listed). */
static int listable(const gpf_token *t)
{
    return !t->host_id[0] && !t->revoked_ms;
}

int gpf_engine_token_list(gpf_engine *e, const gpf_principal *who, const char *user, int all, gpf_token **out,
                          size_t *n, gpf_error *err)
{
    const char *whose = all ? "" : (user && user[0] ? user : who->user);
    int rc = eng_can(who, GPF_ACT_TOKEN_LIST, &(gpf_gov_object){.id = whose}, err);
    *out = NULL;
    *n = 0;
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    if (e->tokens.n)
        *out = gpf_reallocarray(NULL, e->tokens.n, sizeof(gpf_token));
    for (size_t i = 0; i < e->tokens.n; i++) {
        const gpf_token *t = VEC_AT(&e->tokens, gpf_token, i);
        if (!listable(t) || (whose[0] && strcmp(t->user, whose) != 0))
            continue;
        gpf_token *c = &(*out)[(*n)++];
        *c = *t;
        memset(c->hash, 0, sizeof c->hash); /* never leaves the engine */
    }
    pthread_mutex_unlock(&e->mu);
    return 0;
}

/* Writes t as revoked now (journaled) with its event naming by, in the caller's transaction. */
static int revoke_one(gpf_engine *e, gpf_token *t, const char *by, gpf_error *err)
{
    gpf_token nt = *t;
    nt.revoked_ms = eng_now(e);
    int rc = eng_tx_write(e, err);
    if (rc == 0)
        rc = gpf_store_token_put(e->store, &nt, err);
    if (rc != 0)
        return rc;
    eng_tx_save(e, &e->tokens, sizeof(gpf_token), t);
    *t = nt;
    return eng_event(e, err, "token_revoked", "info", NULL, NULL, nt.id, "token %s of %s revoked by %s", nt.id, nt.user,
                     by);
}

int gpf_engine_token_revoke(gpf_engine *e, const gpf_principal *who, const char *id, gpf_error *err)
{
    int rc = eng_can(who, GPF_ACT_TOKEN_REVOKE, NULL, err); /* an agent token is refused before the lookup */
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    gpf_token *t = NULL;
    for (size_t i = 0; i < e->tokens.n && !t; i++)
        if (strcmp(VEC_AT(&e->tokens, gpf_token, i)->id, id) == 0)
            t = VEC_AT(&e->tokens, gpf_token, i);
    /* another user's token is answered as an unknown one: its existence does not leak */
    if (!t || !listable(t) || eng_can(who, GPF_ACT_TOKEN_REVOKE, &(gpf_gov_object){.id = t->user}, NULL) != 0) {
        rc = gpf_error_set(err, GPF_ENOTFOUND, "no token '%s'", id);
        goto out;
    }
    eng_tx_begin(e);
    rc = revoke_one(e, t, who->user, err);
    if ((rc = eng_tx_end(e, rc, err)) == 0)
        eng_tokens_drop_revoked(e);
out:
    return eng_unlock_sync(e, rc, err);
}

int eng_tokens_revoke_user(gpf_engine *e, const char *user, const char *by, int *n, gpf_error *err)
{
    int rc = 0;
    *n = 0;
    for (size_t i = 0; i < e->tokens.n && rc == 0; i++) {
        gpf_token *t = VEC_AT(&e->tokens, gpf_token, i);
        if (listable(t) && strcmp(t->user, user) == 0 && (rc = revoke_one(e, t, by, err)) == 0)
            (*n)++;
    }
    return rc;
}

void eng_tokens_drop_revoked(gpf_engine *e)
{
    size_t k = 0;
    for (size_t i = 0; i < e->tokens.n; i++) {
        gpf_token *t = VEC_AT(&e->tokens, gpf_token, i);
        if (!t->revoked_ms)
            *VEC_AT(&e->tokens, gpf_token, k++) = *t;
    }
    e->tokens.n = k;
}

void gpf_engine_token_use_flush(gpf_engine *e, int force)
{
    pthread_mutex_lock(&e->mu);
    int64_t now = eng_now(e), since = e->token_use_flushed_ms;
    if (!force && now - since < GPF_TOKEN_USE_FLUSH_MS)
        goto out;
    gpf_error err = {0};
    int rc = 0, n = 0;
    eng_tx_begin(e);
    for (size_t i = 0; i < e->tokens.n && rc == 0; i++) {
        const gpf_token *t = VEC_AT(&e->tokens, gpf_token, i);
        if (t->last_used_ms < since || t->last_used_ms == 0)
            continue;
        if ((rc = eng_tx_write(e, &err)) == 0)
            rc = gpf_store_token_put(e->store, t, &err);
        n++;
    }
    if ((rc = eng_tx_end(e, rc, &err)) != 0) {
        e->tick_failures_total++;
        GPF_ERROR("engine", "event=store_failed op=token_use_flush tokens=%d msg=\"%s\" retry=next_tick", n,
                  gpf_error_msg(&err));
        goto out;
    }
    e->token_use_flushed_ms = now;
out:
    pthread_mutex_unlock(&e->mu);
}
