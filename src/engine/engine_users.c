/* Engine: users (create, get, list, update, disable, delete). A deleted user's record
 * stays (in memory and in the store) so that its name is never given to someone else, who
 * would inherit its pods and usage; every lookup but that one skips it (eng_live_user). */
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"
#include "util/alloc.h"

gpf_user *eng_live_user(gpf_engine *e, const char *name)
{
    gpf_user *u = eng_user(e, name);
    return u && !u->deleted_ms ? u : NULL;
}

/* An admin that can act: enabled and not deleted. */
static int active_admin(const gpf_user *u)
{
    return u->role == GPF_ROLE_ADMIN && !u->disabled && !u->deleted_ms;
}

/* GPF_ESTATE when changing cur into next (NULL: deleting it) would leave no active admin
 * (what = "disable", "delete", "demote"). Caller holds the lock. */
static int keep_an_admin(gpf_engine *e, const gpf_user *cur, const gpf_user *next, const char *what,
                         gpf_error *err)
{
    if (!active_admin(cur) || (next && active_admin(next)))
        return 0;
    for (size_t i = 0; i < e->users.n; i++) {
        const gpf_user *o = VEC_AT(&e->users, gpf_user, i);
        if (o != cur && active_admin(o))
            return 0;
    }
    return gpf_error_set(err, GPF_ESTATE, "cannot %s '%s': it is the last enabled admin (make another user admin first)",
                         what, cur->name);
}

/* Writes u over *cur (journaled) in the caller's transaction. */
static int put_user(gpf_engine *e, gpf_user *cur, const gpf_user *u, gpf_error *err)
{
    int rc = eng_tx_write(e, err);
    if (rc == 0)
        rc = gpf_store_user_put(e->store, u, err);
    if (rc != 0)
        return rc;
    eng_tx_save(e, &e->users, sizeof(gpf_user), cur);
    *cur = *u;
    return 0;
}

/* Asks every live pod of user to stop (its agent ends it, its usage closes as on any stop),
 * reason saying why, in the caller's transaction; *n: how many. The ids are taken first: a
 * stop may move pods in memory. Caller holds the lock. */
static int stop_pods_of(gpf_engine *e, const char *user, const char *reason, int *n, gpf_error *err)
{
    size_t cnt = 0;
    int rc = 0;
    char(*ids)[GPF_ID_MAX] = e->pods.n ? gpf_calloc(e->pods.n, GPF_ID_MAX) : NULL;
    for (size_t i = 0; i < e->pods.n; i++) {
        const gpf_pod *p = VEC_AT(&e->pods, gpf_pod, i);
        if (strcmp(p->owner, user) == 0 && !gpf_pod_state_is_final(p->state) && p->state != GPF_POD_STOPPING)
            gpf_strlcpy(ids[cnt++], p->id, GPF_ID_MAX);
    }
    *n = 0;
    for (size_t i = 0; i < cnt && rc == 0; i++) {
        gpf_pod *p = eng_pod(e, ids[i]);
        if (p && (rc = eng_pod_request_stop(e, p, reason, err)) == 0)
            (*n)++;
    }
    gpf_free(ids);
    return rc;
}

int gpf_engine_user_create(gpf_engine *e, const gpf_principal *who, const gpf_user *u, gpf_user *out,
                           gpf_error *err)
{
    int rc = eng_can(who, GPF_ACT_USER_CREATE, NULL, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    gpf_user *old = eng_user(e, u->name);
    if (old) {
        rc = old->deleted_ms ? gpf_error_set(err, GPF_EEXIST,
                                             "user '%s' was deleted; the name stays reserved for its history",
                                             u->name)
                             : gpf_error_set(err, GPF_EEXIST, "user '%s' already exists", u->name);
        goto out;
    }
    gpf_user nu = *u;
    nu.created_ms = eng_now(e);
    nu.disabled = 0;
    nu.deleted_ms = 0;
    eng_tx_begin(e);
    if ((rc = eng_tx_write(e, err)) == 0)
        rc = gpf_store_user_put(e->store, &nu, err);
    if (rc == 0) {
        eng_tx_save_len(e, &e->users);
        *(gpf_user *)vec_push(&e->users, sizeof nu) = nu;
        rc = eng_event(e, err, "user_created", "info", NULL, NULL, nu.name, "user %s (%s) created by %s", nu.name,
                       gpf_role_name(nu.role), who->user);
    }
    if ((rc = eng_tx_end(e, rc, err)) == 0 && out)
        *out = nu;
out:
    return eng_unlock_sync(e, rc, err);
}

int gpf_engine_user_get(gpf_engine *e, const gpf_principal *who, const char *name, gpf_user *out,
                        gpf_error *err)
{
    int rc = eng_can(who, GPF_ACT_USER_READ, &(gpf_gov_object){.id = name}, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    gpf_user *u = eng_live_user(e, name);
    if (u)
        *out = *u;
    else
        rc = gpf_error_set(err, GPF_ENOTFOUND, "no user '%s'", name);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

int gpf_engine_user_list(gpf_engine *e, const gpf_principal *who, gpf_user **out, size_t *n, gpf_error *err)
{
    int rc = eng_can(who, GPF_ACT_USER_LIST, NULL, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    *out = vec_copy(&e->users, sizeof(gpf_user), n);
    pthread_mutex_unlock(&e->mu);
    size_t k = 0;
    for (size_t i = 0; i < *n; i++)
        if (!(*out)[i].deleted_ms)
            (*out)[k++] = (*out)[i];
    *n = k;
    return 0;
}

/* The events of a change from cur to nu (changed: GPF_USER_* bits) by by, which stopped that
 * many live pods. */
static int update_events(gpf_engine *e, const gpf_user *cur, const gpf_user *nu, unsigned changed, const char *by,
                         int stopped, gpf_error *err)
{
    int rc = 0;
    if ((changed & GPF_USER_ROLE) && cur->role != nu->role)
        rc = eng_event(e, err, "user_updated", "info", NULL, NULL, nu->name, "role of %s changed from %s to %s by %s",
                       nu->name, gpf_role_name(cur->role), gpf_role_name(nu->role), by);
    if (rc == 0 && (changed & GPF_USER_KEY))
        rc = eng_event(e, err, "user_updated", "info", NULL, NULL, nu->name, "ssh key of %s %s by %s", nu->name,
                       nu->ssh_pubkey[0] ? "set" : "cleared", by);
    if (rc == 0 && !cur->disabled && nu->disabled)
        rc = eng_event(e, err, "user_disabled", "warn", NULL, NULL, nu->name,
                       "user %s disabled by %s: its tokens are refused, %d live pods stopped", nu->name, by, stopped);
    if (rc == 0 && cur->disabled && !nu->disabled)
        rc = eng_event(e, err, "user_enabled", "info", NULL, NULL, nu->name, "user %s enabled by %s", nu->name, by);
    return rc;
}

int gpf_engine_user_update(gpf_engine *e, const gpf_principal *who, const gpf_user *u, unsigned changed,
                           gpf_user *out, gpf_error *err)
{
    int rc = eng_can(who, GPF_ACT_USER_UPDATE, &(gpf_gov_object){.id = u->name}, err);
    if (rc != 0)
        return rc;
    if ((changed & GPF_USER_ROLE) && (rc = eng_can(who, GPF_ACT_USER_SET_ROLE, NULL, err)) != 0)
        return rc;
    if ((changed & GPF_USER_DISABLED) && (rc = eng_can(who, GPF_ACT_USER_DISABLE, NULL, err)) != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    gpf_user *cur = eng_live_user(e, u->name);
    if (!cur) {
        rc = gpf_error_set(err, GPF_ENOTFOUND, "no user '%s'", u->name);
        goto out;
    }
    gpf_user nu = *cur;
    if (changed & GPF_USER_ROLE)
        nu.role = u->role;
    if (changed & GPF_USER_KEY)
        gpf_strlcpy(nu.ssh_pubkey, u->ssh_pubkey, sizeof nu.ssh_pubkey);
    if (changed & GPF_USER_DISABLED)
        nu.disabled = u->disabled != 0;
    if ((rc = keep_an_admin(e, cur, &nu, nu.disabled ? "disable" : "demote", err)) != 0)
        goto out;
    if (nu.role == cur->role && nu.disabled == cur->disabled && strcmp(nu.ssh_pubkey, cur->ssh_pubkey) == 0)
        goto done; /* nothing changes: nothing to write */
    eng_tx_begin(e);
    int stopped = 0;
    char reason[GPF_TEXT_MAX];
    snprintf(reason, sizeof reason, "stopped: user %s was disabled by %s", nu.name, who->user);
    gpf_user old = *cur;
    rc = put_user(e, cur, &nu, err);
    if (rc == 0 && nu.disabled && !old.disabled)
        rc = stop_pods_of(e, nu.name, reason, &stopped, err);
    if (rc == 0)
        rc = update_events(e, &old, &nu, changed, who->user, stopped, err);
    if ((rc = eng_tx_end(e, rc, err)) != 0)
        goto out;
done:
    if (out)
        *out = *cur;
out:
    return eng_unlock_sync(e, rc, err);
}

int gpf_engine_user_delete(gpf_engine *e, const gpf_principal *who, const char *name, gpf_error *err)
{
    int rc = eng_can(who, GPF_ACT_USER_DELETE, NULL, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    gpf_user *cur = eng_live_user(e, name);
    if (!cur) {
        rc = gpf_error_set(err, GPF_ENOTFOUND, "no user '%s'", name);
        goto out;
    }
    if ((rc = keep_an_admin(e, cur, NULL, "delete", err)) != 0)
        goto out;
    gpf_user nu = *cur;
    nu.deleted_ms = eng_now(e);
    int tokens = 0, pods = 0;
    char reason[GPF_TEXT_MAX];
    snprintf(reason, sizeof reason, "stopped: user %s was deleted by %s", name, who->user);
    eng_tx_begin(e);
    rc = put_user(e, cur, &nu, err);
    if (rc == 0)
        rc = eng_tokens_revoke_user(e, nu.name, who->user, &tokens, err);
    if (rc == 0)
        rc = stop_pods_of(e, nu.name, reason, &pods, err);
    if (rc == 0)
        rc = eng_event(e, err, "user_deleted", "warn", NULL, NULL, nu.name,
                       "user %s deleted by %s: %d tokens revoked, %d live pods stopped; its records stay", nu.name,
                       who->user, tokens, pods);
    if ((rc = eng_tx_end(e, rc, err)) == 0)
        eng_tokens_drop_revoked(e);
out:
    return eng_unlock_sync(e, rc, err);
}
