/* Engine: users (create, get, list, update). */
#include <string.h>

#include "engine/engine_int.h"
#include "util/alloc.h"

int gpf_engine_user_create(gpf_engine *e, const gpf_principal *who, const gpf_user *u, gpf_user *out,
                           gpf_error *err)
{
    int rc = eng_can(who, GPF_ACT_USER_CREATE, NULL, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    if (eng_user(e, u->name)) {
        rc = gpf_error_set(err, GPF_EEXIST, "user '%s' already exists", u->name);
        goto out;
    }
    gpf_user nu = *u;
    nu.created_ms = eng_now(e);
    rc = gpf_store_user_put(e->store, &nu, err);
    if (rc != 0)
        goto out;
    *(gpf_user *)vec_push(&e->users, sizeof nu) = nu;
    if (out)
        *out = nu;
out:
    pthread_mutex_unlock(&e->mu);
    return rc;
}

int gpf_engine_user_get(gpf_engine *e, const gpf_principal *who, const char *name, gpf_user *out,
                        gpf_error *err)
{
    int rc = eng_can(who, GPF_ACT_USER_READ, &(gpf_gov_object){.id = name}, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    gpf_user *u = eng_user(e, name);
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
    return 0;
}

int gpf_engine_user_update(gpf_engine *e, const gpf_principal *who, const gpf_user *u, int role_changed,
                           int key_changed, gpf_user *out, gpf_error *err)
{
    int rc = eng_can(who, GPF_ACT_USER_UPDATE, &(gpf_gov_object){.id = u->name}, err);
    if (rc != 0)
        return rc;
    if (role_changed && (rc = eng_can(who, GPF_ACT_USER_SET_ROLE, NULL, err)) != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    gpf_user *cur = eng_user(e, u->name);
    if (!cur) {
        rc = gpf_error_set(err, GPF_ENOTFOUND, "no user '%s'", u->name);
        goto out;
    }
    gpf_user nu = *cur;
    if (role_changed)
        nu.role = u->role;
    if (key_changed)
        gpf_strlcpy(nu.ssh_pubkey, u->ssh_pubkey, sizeof nu.ssh_pubkey);
    rc = gpf_store_user_put(e->store, &nu, err);
    if (rc != 0)
        goto out;
    *cur = nu;
    if (out)
        *out = nu;
out:
    pthread_mutex_unlock(&e->mu);
    return rc;
}
