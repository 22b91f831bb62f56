/* The credential lifecycle (issue 16, item 4): token expiry, names, last use, listing and
 * revocation; disabling and deleting users (their tokens refused at once, their live pods
 * stopped, their history kept, their name reserved); the last enabled admin protected; an
 * event for every change. Engine-level on the engine fixture (fake clock, real store file so
 * that a restart reopens it), then the same rules over HTTP on a real server. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "codec/codec.h"
#include "store/store_fault.h"
#include "util/alloc.h"
#include "util/httpc.h"

#include "helpers/engine_fixture.h"

#define assert_contains(s, sub)                                                                \
    do {                                                                                       \
        if (!strstr((s), (sub)))                                                               \
            fail_msg("'%s' does not contain '%s'", (s), (sub));                                \
    } while (0)

/* ---- helpers ------------------------------------------------------------------------ */

/* A new token for user made by who (name and lifetime per spec); its secret in secret
 * (96 bytes) and its id in id (GPF_ID_MAX). */
static void new_token(ef_fixture *f, const gpf_principal *who, const char *user, const char *name, int64_t life_s,
                      char *secret, char *id)
{
    gpf_token t;
    gpf_error err = {0};
    gpf_token_spec spec = {name, life_s};
    assert_int_equal(gpf_engine_token_create(f->e, who, user, &spec, secret, 96, &t, &err), 0);
    snprintf(id, GPF_ID_MAX, "%s", t.id);
}

/* Authenticates secret: the result code; err gets the message. */
static int auth(ef_fixture *f, const char *secret, gpf_principal *who, gpf_error *err)
{
    gpf_principal tmp;
    return gpf_engine_authenticate(f->e, secret, who ? who : &tmp, err);
}

static int set_disabled(ef_fixture *f, const gpf_principal *who, const char *name, int disabled, gpf_error *err)
{
    gpf_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.name, sizeof u.name, "%s", name);
    u.disabled = disabled;
    return gpf_engine_user_update(f->e, who, &u, GPF_USER_DISABLED, NULL, err);
}

/* How many events of kind the log holds (admin's view) with subject (NULL: any). */
static int events_of(ef_fixture *f, const char *kind, const char *subject)
{
    gpf_event *ev = NULL;
    size_t n = 0;
    gpf_error err = {0};
    gpf_event_filter flt;
    memset(&flt, 0, sizeof flt);
    flt.kind = kind;
    flt.limit = 1000;
    assert_int_equal(gpf_engine_events_list(f->e, &f->admin, &flt, &ev, &n, &err), 0);
    int k = 0;
    for (size_t i = 0; i < n; i++)
        k += !subject || strcmp(ev[i].subject, subject) == 0;
    gpf_free(ev);
    return k;
}

/* The token record id as the store has it (revoked ones too); asserts it is there. */
static gpf_token stored_token(ef_fixture *f, const char *id)
{
    gpf_token *all = NULL, t;
    size_t n = 0;
    gpf_error err = {0};
    memset(&t, 0, sizeof t);
    assert_int_equal(gpf_store_tokens_load(f->store, &all, &n, &err), 0);
    size_t i = 0;
    while (i < n && strcmp(all[i].id, id) != 0)
        i++;
    assert_true(i < n);
    t = all[i];
    gpf_free(all);
    return t;
}

/* The tokens list of who (user, all as the engine takes them): its length; ids into ids
 * (up to 8) when non-NULL. Every record's hash is empty. */
static size_t list_tokens(ef_fixture *f, const gpf_principal *who, const char *user, int all, int expect,
                          char ids[][GPF_ID_MAX])
{
    gpf_token *t = NULL;
    size_t n = 0;
    gpf_error err = {0};
    assert_int_equal(gpf_engine_token_list(f->e, who, user, all, &t, &n, &err), expect);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(t[i].hash, "");
        assert_string_equal(t[i].host_id, "");
        if (ids && i < 8)
            snprintf(ids[i], GPF_ID_MAX, "%s", t[i].id);
    }
    gpf_free(t);
    return n;
}

/* ---- tokens ----------------------------------------------------------------------------- */

static void test_expired_token_refused(void **state)
{
    ef_fixture *f = *state;
    char secret[96], id[GPF_ID_MAX];
    gpf_error err = {0};
    gpf_principal who;
    new_token(f, &f->alice, "alice", "laptop", 60, secret, id);
    assert_int_equal(auth(f, secret, &who, &err), 0);
    assert_string_equal(who.user, "alice");
    f->now += 59999;
    assert_int_equal(auth(f, secret, NULL, &err), 0);
    f->now += 1;
    assert_int_equal(auth(f, secret, &who, &err), GPF_EUNAUTH);
    assert_string_equal(err.msg, "token expired");
    assert_string_equal(who.user, ""); /* no principal for a refused token */
    /* a bad expiry is refused, the record is not made */
    gpf_token_spec bad = {"x", -5};
    assert_int_equal(gpf_engine_token_create(f->e, &f->alice, "alice", &bad, secret, sizeof secret, NULL, &err),
                     GPF_EINVAL);
    gpf_token_spec badname = {"Not A Name", 0};
    assert_int_equal(
        gpf_engine_token_create(f->e, &f->alice, "alice", &badname, secret, sizeof secret, NULL, &err), GPF_EINVAL);
    assert_int_equal(list_tokens(f, &f->alice, NULL, 0, 0, NULL), 2); /* the fixture's and laptop */
}

static void test_revoked_token_refused_at_once_and_after_restart(void **state)
{
    ef_fixture *f = *state;
    char s1[96], id1[GPF_ID_MAX], s2[96], id2[GPF_ID_MAX];
    gpf_error err = {0};
    new_token(f, &f->alice, "alice", "ci", 0, s1, id1);
    new_token(f, &f->alice, "alice", "laptop", 0, s2, id2);
    assert_int_equal(auth(f, s1, NULL, &err), 0);
    assert_int_equal(gpf_engine_token_revoke(f->e, &f->alice, id1, &err), 0);
    assert_int_equal(auth(f, s1, NULL, &err), GPF_EUNAUTH); /* at once */
    assert_int_equal(auth(f, s2, NULL, &err), 0);            /* only that one */
    assert_int_equal(gpf_engine_token_revoke(f->e, &f->alice, id1, &err), GPF_ENOTFOUND); /* gone */
    gpf_token st = stored_token(f, id1);
    assert_true(st.revoked_ms == f->now);
    assert_int_equal(events_of(f, "token_revoked", id1), 1);

    ef_close(f); /* restart on the same database */
    ef_open(f);
    assert_int_equal(auth(f, s1, NULL, &err), GPF_EUNAUTH);
    assert_int_equal(auth(f, s2, NULL, &err), 0);
    char ids[8][GPF_ID_MAX];
    size_t n = list_tokens(f, &f->admin, NULL, 1, 0, ids);
    for (size_t i = 0; i < n; i++)
        assert_string_not_equal(ids[i], id1);
}

static void test_other_users_token_is_not_found(void **state)
{
    ef_fixture *f = *state;
    char s[96], id[GPF_ID_MAX];
    gpf_error err = {0}, unknown = {0};
    new_token(f, &f->alice, "alice", "laptop", 0, s, id);
    assert_int_equal(gpf_engine_token_revoke(f->e, &f->bob, id, &err), GPF_ENOTFOUND);
    assert_int_equal(gpf_engine_token_revoke(f->e, &f->bob, "tok-00000000", &unknown), GPF_ENOTFOUND);
    char expect[128];
    snprintf(expect, sizeof expect, "no token '%s'", id);
    assert_string_equal(err.msg, expect); /* word for word what an unknown id gets */
    assert_string_equal(unknown.msg, "no token 'tok-00000000'");
    assert_int_equal(auth(f, s, NULL, &err), 0); /* still works */
    assert_int_equal(gpf_engine_token_revoke(f->e, &f->agent, id, &err), GPF_EFORBIDDEN);
    /* bob cannot list alice's tokens; an admin can, and revoke them */
    assert_int_equal(list_tokens(f, &f->bob, "alice", 0, GPF_EFORBIDDEN, NULL), 0);
    assert_int_equal(list_tokens(f, &f->bob, NULL, 1, GPF_EFORBIDDEN, NULL), 0);
    assert_int_equal(list_tokens(f, &f->admin, "alice", 0, 0, NULL), 2);
    assert_int_equal(gpf_engine_token_revoke(f->e, &f->admin, id, &err), 0);
    assert_int_equal(auth(f, s, NULL, &err), GPF_EUNAUTH);
}

static void test_list_shows_own_and_no_secrets(void **state)
{
    ef_fixture *f = *state;
    char s[96], id[GPF_ID_MAX], ids[8][GPF_ID_MAX];
    new_token(f, &f->admin, "alice", "laptop", 3600, s, id);
    assert_int_equal(list_tokens(f, &f->alice, NULL, 0, 0, ids), 2);
    assert_int_equal(list_tokens(f, &f->bob, NULL, 0, 0, NULL), 1);
    /* admin: everyone's user tokens (admin, alice x2, bob), never the agent's */
    assert_int_equal(list_tokens(f, &f->admin, NULL, 1, 0, NULL), 4);
    gpf_token *t = NULL;
    size_t n = 0;
    gpf_error err = {0};
    assert_int_equal(gpf_engine_token_list(f->e, &f->alice, NULL, 0, &t, &n, &err), 0);
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *j = gpf_json_token(&t[i], f->now);
        char *txt = json_dumps(j, JSON_COMPACT);
        assert_null(strstr(txt, s));
        assert_null(json_object_get(j, "hash"));
        assert_null(json_object_get(j, "token"));
        if (strcmp(t[i].id, id) == 0) {
            seen = 1;
            assert_string_equal(t[i].name, "laptop");
            assert_true(t[i].expires_ms == f->now + 3600000);
            assert_true(t[i].created_ms == f->now);
        }
        free(txt);
        json_decref(j);
    }
    assert_true(seen);
    gpf_free(t);
    assert_int_equal(events_of(f, "token_created", id), 1);
    assert_int_equal(list_tokens(f, &f->agent, NULL, 0, GPF_EFORBIDDEN, NULL), 0);
}

/* Last use is kept in memory: authentications write nothing; the flush writes each used
 * token at most once a minute. */
static void test_last_used_coalesced(void **state)
{
    (void)state;
    ef_fixture *f = ef_new(EF_FAULT);
    char s[96], id[GPF_ID_MAX];
    gpf_error err = {0};
    gpf_principal who;
    new_token(f, &f->alice, "alice", "laptop", 0, s, id);
    f->now += 1000;
    int64_t t0 = f->now;
    gpf_store_fault_reset(f->store);
    for (int i = 0; i < 100; i++)
        assert_int_equal(gpf_engine_authenticate(f->e, s, &who, &err), 0);
    assert_int_equal(gpf_store_fault_writes(f->store), 0); /* 100 authentications, no write */
    gpf_token *t = NULL;
    size_t n = 0;
    assert_int_equal(gpf_engine_token_list(f->e, &f->alice, NULL, 0, &t, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].id, id) == 0)
            assert_true(t[i].last_used_ms == t0); /* the list shows it at once */
    gpf_free(t);
    assert_true(stored_token(f, id).last_used_ms == 0);

    f->now += 30000; /* less than a minute since open: not due */
    gpf_engine_token_use_flush(f->e, 0);
    assert_int_equal(gpf_store_fault_writes(f->store), 0);
    f->now += GPF_TOKEN_USE_FLUSH_MS;
    gpf_engine_token_use_flush(f->e, 0);
    assert_true(stored_token(f, id).last_used_ms == t0);
    long w = gpf_store_fault_writes(f->store);
    assert_true(w > 0);
    gpf_engine_token_use_flush(f->e, 0); /* again at once: nothing is due */
    assert_int_equal(gpf_store_fault_writes(f->store), w);
    /* used again, flushed a minute later; a token unused since is not written again */
    assert_int_equal(gpf_engine_authenticate(f->e, s, &who, &err), 0);
    int64_t t1 = f->now;
    f->now += GPF_TOKEN_USE_FLUSH_MS;
    gpf_store_fault_reset(f->store);
    gpf_engine_token_use_flush(f->e, 0);
    assert_int_equal(gpf_store_fault_writes(f->store), 3); /* begin, this token, commit */
    assert_true(stored_token(f, id).last_used_ms == t1);
    /* shutdown writes what is pending whatever the time */
    f->now += 5;
    int64_t t2 = f->now;
    assert_int_equal(gpf_engine_authenticate(f->e, s, &who, &err), 0);
    gpf_engine_token_use_flush(f->e, 1);
    assert_true(stored_token(f, id).last_used_ms == t2);
    ef_free(f);
}

/* ---- users -------------------------------------------------------------------------------- */

/* alice gets a new token (secret in s, 96 bytes; id in id) and a running pod p. */
static void alice_running(ef_fixture *f, char *s, char *id, gpf_pod *p)
{
    new_token(f, &f->alice, "alice", "laptop", 0, s, id);
    ef_launch(f, &f->alice, "whole", p, 0);
    ef_agent_says(f, p->id, GPF_POD_RUNNING, 0);
}

static void test_disabled_user_refused_enabled_works(void **state)
{
    ef_fixture *f = *state;
    char s[96], id[GPF_ID_MAX];
    gpf_error err = {0};
    gpf_pod p;
    gpf_user u;
    alice_running(f, s, id, &p);
    /* only an admin disables */
    assert_int_equal(set_disabled(f, &f->alice, "bob", 1, &err), GPF_EFORBIDDEN);
    assert_int_equal(set_disabled(f, &f->alice, "alice", 1, &err), GPF_EFORBIDDEN);
    assert_int_equal(set_disabled(f, &f->admin, "alice", 1, &err), 0);
    assert_int_equal(auth(f, s, NULL, &err), GPF_EUNAUTH);
    assert_string_equal(err.msg, "user 'alice' is disabled");
    /* a request authenticated just before cannot launch after */
    gpf_launch_req req;
    memset(&req, 0, sizeof req);
    snprintf(req.sku, sizeof req.sku, "mig1g");
    assert_int_equal(gpf_engine_pod_launch(f->e, &f->alice, &req, NULL, &err), GPF_EUNAUTH);
    /* her live pod is asked to stop, as a stop would; its usage closes when the agent says so */
    gpf_pod q = ef_pod(f, p.id);
    assert_int_equal(q.state, GPF_POD_STOPPING);
    assert_contains(q.reason, "user alice was disabled by admin");
    ef_agent_says(f, p.id, GPF_POD_STOPPED, 0);
    assert_int_equal(gpf_engine_user_get(f->e, &f->admin, "alice", &u, &err), 0);
    assert_int_equal(u.disabled, 1);
    assert_int_equal(events_of(f, "user_disabled", "alice"), 1);
    /* disabling again changes nothing and says nothing */
    assert_int_equal(set_disabled(f, &f->admin, "alice", 1, &err), 0);
    assert_int_equal(events_of(f, "user_disabled", "alice"), 1);
    /* it survives a restart */
    ef_close(f);
    ef_open(f);
    assert_int_equal(auth(f, s, NULL, &err), GPF_EUNAUTH);
    assert_int_equal(set_disabled(f, &f->admin, "alice", 0, &err), 0);
    gpf_principal who;
    assert_int_equal(auth(f, s, &who, &err), 0);
    assert_string_equal(who.user, "alice");
    assert_int_equal(events_of(f, "user_enabled", "alice"), 1);
}

static void test_deleted_user_refused_pods_stopped_history_kept(void **state)
{
    ef_fixture *f = *state;
    char s[96], id[GPF_ID_MAX];
    gpf_error err = {0};
    gpf_pod p;
    gpf_user u;
    alice_running(f, s, id, &p);
    f->now += 10000;
    assert_int_equal(gpf_engine_user_delete(f->e, &f->bob, "alice", &err), GPF_EFORBIDDEN);
    assert_int_equal(gpf_engine_user_delete(f->e, &f->admin, "alice", &err), 0);
    assert_int_equal(auth(f, s, NULL, &err), GPF_EUNAUTH);
    gpf_pod q = ef_pod(f, p.id);
    assert_int_equal(q.state, GPF_POD_STOPPING);
    assert_contains(q.reason, "user alice was deleted by admin");
    f->now += 2000;
    ef_agent_says(f, p.id, GPF_POD_STOPPED, 0);
    /* the user is gone from reads, its name reserved, its tokens revoked in the store */
    assert_int_equal(gpf_engine_user_get(f->e, &f->admin, "alice", &u, &err), GPF_ENOTFOUND);
    memset(&u, 0, sizeof u);
    snprintf(u.name, sizeof u.name, "alice");
    u.role = GPF_ROLE_MEMBER;
    assert_int_equal(gpf_engine_user_create(f->e, &f->admin, &u, NULL, &err), GPF_EEXIST);
    assert_contains(err.msg, "reserved");
    assert_int_equal(gpf_engine_token_create(f->e, &f->admin, "alice", NULL, s, sizeof s, NULL, &err), GPF_ENOTFOUND);
    assert_true(stored_token(f, id).revoked_ms > 0);
    assert_int_equal(events_of(f, "user_deleted", "alice"), 1);
    assert_int_equal(events_of(f, "token_revoked", id), 1);
    gpf_user *users = NULL;
    size_t n = 0;
    assert_int_equal(gpf_engine_user_list(f->e, &f->admin, &users, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        assert_string_not_equal(users[i].name, "alice");
    gpf_free(users);
    /* her history stays readable by an admin: the pod (final) and its closed usage */
    q = ef_pod(f, p.id);
    assert_int_equal(q.state, GPF_POD_STOPPED);
    gpf_usage *us = NULL;
    assert_int_equal(gpf_engine_usage_list(f->e, &f->admin, p.id, &us, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(us[0].owner, "alice");
    assert_true(us[0].end_ms > us[0].start_ms);
    gpf_free(us);
    /* after a restart: still refused, still deleted */
    ef_close(f);
    ef_open(f);
    assert_int_equal(auth(f, s, NULL, &err), GPF_EUNAUTH);
    assert_int_equal(gpf_engine_user_get(f->e, &f->admin, "alice", &u, &err), GPF_ENOTFOUND);
    assert_int_equal(gpf_engine_user_delete(f->e, &f->admin, "alice", &err), GPF_ENOTFOUND);
}

static void test_last_admin_protected(void **state)
{
    ef_fixture *f = *state;
    gpf_error err = {0};
    gpf_user u;
    assert_int_equal(set_disabled(f, &f->admin, "admin", 1, &err), GPF_ESTATE);
    assert_contains(err.msg, "last enabled admin");
    assert_int_equal(gpf_engine_user_delete(f->e, &f->admin, "admin", &err), GPF_ESTATE);
    memset(&u, 0, sizeof u);
    snprintf(u.name, sizeof u.name, "admin");
    u.role = GPF_ROLE_MEMBER;
    assert_int_equal(gpf_engine_user_update(f->e, &f->admin, &u, GPF_USER_ROLE, NULL, &err), GPF_ESTATE);
    assert_int_equal(gpf_engine_user_get(f->e, &f->admin, "admin", &u, &err), 0);
    assert_int_equal(u.role, GPF_ROLE_ADMIN);
    assert_int_equal(u.disabled, 0);
    /* with a second admin the first may go; then the second is the last */
    memset(&u, 0, sizeof u);
    snprintf(u.name, sizeof u.name, "root2");
    u.role = GPF_ROLE_ADMIN;
    assert_int_equal(gpf_engine_user_create(f->e, &f->admin, &u, NULL, &err), 0);
    assert_int_equal(events_of(f, "user_created", "root2"), 1);
    assert_int_equal(set_disabled(f, &f->admin, "admin", 1, &err), 0);
    gpf_principal root2;
    memset(&root2, 0, sizeof root2);
    snprintf(root2.user, sizeof root2.user, "root2");
    root2.role = GPF_ROLE_ADMIN;
    assert_int_equal(gpf_engine_user_delete(f->e, &root2, "root2", &err), GPF_ESTATE);
    assert_int_equal(gpf_engine_user_delete(f->e, &root2, "admin", &err), 0);
}

static void test_user_update_events(void **state)
{
    ef_fixture *f = *state;
    gpf_error err = {0};
    gpf_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.name, sizeof u.name, "bob");
    u.role = GPF_ROLE_OPERATOR;
    assert_int_equal(gpf_engine_user_update(f->e, &f->admin, &u, GPF_USER_ROLE, NULL, &err), 0);
    snprintf(u.ssh_pubkey, sizeof u.ssh_pubkey, "%s", "");
    assert_int_equal(gpf_engine_user_update(f->e, &f->bob, &u, GPF_USER_KEY, NULL, &err), 0);
    assert_int_equal(events_of(f, "user_updated", "bob"), 2);
    /* members see none of these (they are about no pod of theirs) */
    gpf_event *ev = NULL;
    size_t n = 0;
    gpf_event_filter flt;
    memset(&flt, 0, sizeof flt);
    flt.kind = "user_updated";
    assert_int_equal(gpf_engine_events_list(f->e, &f->alice, &flt, &ev, &n, &err), 0);
    assert_int_equal(n, 0);
    gpf_free(ev);
}

/* ---- over HTTP -------------------------------------------------------------------------- */

typedef struct srv {
    ef_fixture *f;
    gpf_api *api;
    char url[64];
} srv;

static int srv_setup(void **state)
{
    srv *s = GPF_NEW(srv);
    int port = 0;
    s->f = ef_new(0);
    s->api = ef_api_start(s->f, &port);
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", port);
    *state = s;
    return 0;
}

static int srv_teardown(void **state)
{
    srv *s = *state;
    gpf_api_stop(s->api);
    ef_free(s->f);
    gpf_free(s);
    return 0;
}

/* One request with token; the result code, *status and *resp (may be NULL) as httpc gives. */
static int call(srv *s, const char *token, const char *method, const char *path, const char *body, int *status,
                json_t **resp, gpf_error *err)
{
    gpf_httpc *c = NULL;
    json_t *b = body ? json_loads(body, 0, NULL) : NULL, *r = NULL;
    int st = 0;
    assert_int_equal(gpf_httpc_new(s->url, token, &c, err), 0);
    int rc = gpf_httpc_request(c, method, path, b, &st, &r, err);
    gpf_httpc_free(c);
    json_decref(b);
    if (status)
        *status = st;
    if (resp)
        *resp = r;
    else
        json_decref(r);
    return rc;
}

static void test_http_tokens(void **state)
{
    srv *s = *state;
    gpf_error err = {0};
    json_t *r = NULL;
    int st = 0;
    char alice[96], atok_id[GPF_ID_MAX], bob[96], bid[GPF_ID_MAX];
    new_token(s->f, &s->f->alice, "alice", "first", 0, alice, atok_id);
    new_token(s->f, &s->f->bob, "bob", "first", 0, bob, bid);

    /* create with a name and an expiry: the secret this once, with the record */
    assert_int_equal(call(s, alice, "POST", "/v1/users/alice/tokens", "{\"name\":\"laptop\",\"expires_in_s\":60}",
                          &st, &r, &err),
                     0);
    assert_int_equal(st, 201);
    char secret[96], id[GPF_ID_MAX];
    snprintf(secret, sizeof secret, "%s", json_string_value(json_object_get(r, "token")));
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r, "id")));
    assert_string_equal(json_string_value(json_object_get(r, "name")), "laptop");
    assert_true(json_is_string(json_object_get(r, "expires_at")));
    json_decref(r);
    assert_int_equal(call(s, secret, "GET", "/v1/whoami", NULL, &st, NULL, &err), 0);
    /* a bad body */
    assert_int_equal(call(s, alice, "POST", "/v1/users/alice/tokens", "{\"expires_in_s\":\"1d\"}", &st, NULL, &err),
                     GPF_EINVAL);

    /* the list: alice's own, no secret, no hash */
    assert_int_equal(call(s, alice, "GET", "/v1/tokens", NULL, &st, &r, &err), 0);
    char *txt = json_dumps(r, JSON_COMPACT);
    assert_null(strstr(txt, secret));
    assert_null(strstr(txt, alice));
    assert_null(strstr(txt, "hash"));
    assert_null(strstr(txt, "\"token\""));
    assert_contains(txt, id);
    assert_null(strstr(txt, bid));
    assert_int_equal(json_array_size(json_object_get(r, "tokens")), 3);
    free(txt);
    json_decref(r);
    assert_int_equal(call(s, alice, "GET", "/v1/tokens?user=bob", NULL, &st, NULL, &err), GPF_EFORBIDDEN);
    assert_int_equal(call(s, alice, "GET", "/v1/tokens?all=1", NULL, &st, NULL, &err), GPF_EFORBIDDEN);
    assert_int_equal(call(s, s->f->admin_tok, "GET", "/v1/tokens?user=bob", NULL, &st, &r, &err), 0);
    assert_int_equal(json_array_size(json_object_get(r, "tokens")), 2);
    json_decref(r);
    /* paged one at a time: every user token once (admin 1, alice 3, bob 2), in id order */
    char page[512] = "/v1/tokens?all=1&limit=1", last[GPF_ID_MAX] = "";
    int pages = 0;
    for (;;) {
        assert_int_equal(call(s, s->f->admin_tok, "GET", page, NULL, &st, &r, &err), 0);
        json_t *arr = json_object_get(r, "tokens");
        assert_int_equal(json_array_size(arr), 1);
        const char *tid = json_string_value(json_object_get(json_array_get(arr, 0), "id"));
        assert_true(strcmp(tid, last) > 0);
        snprintf(last, sizeof last, "%s", tid);
        pages++;
        const char *next = json_string_value(json_object_get(r, "next_cursor"));
        if (next)
            snprintf(page, sizeof page, "/v1/tokens?all=1&limit=1&cursor=%s", next);
        json_decref(r);
        if (!next)
            break;
    }
    assert_int_equal(pages, 6);

    /* another user's token id is 404, as an unknown one; the owner revokes it: 204, then 401 */
    assert_int_equal(call(s, bob, "DELETE", "/v1/tokens/tok-00000000", NULL, &st, NULL, &err), GPF_ENOTFOUND);
    char path[128];
    snprintf(path, sizeof path, "/v1/tokens/%s", id);
    assert_int_equal(call(s, bob, "DELETE", path, NULL, &st, NULL, &err), GPF_ENOTFOUND);
    assert_int_equal(call(s, secret, "GET", "/v1/whoami", NULL, &st, NULL, &err), 0);
    assert_int_equal(call(s, alice, "DELETE", path, NULL, &st, NULL, &err), 0);
    assert_int_equal(st, 204);
    assert_int_equal(call(s, secret, "GET", "/v1/whoami", NULL, &st, NULL, &err), GPF_EUNAUTH);

    /* expiry over HTTP */
    new_token(s->f, &s->f->alice, "alice", "short", 10, secret, id);
    assert_int_equal(call(s, secret, "GET", "/v1/pods", NULL, &st, NULL, &err), 0);
    s->f->now += 10000;
    assert_int_equal(call(s, secret, "GET", "/v1/pods", NULL, &st, NULL, &err), GPF_EUNAUTH);
    assert_string_equal(err.msg, "token expired");
}

static void test_http_users(void **state)
{
    srv *s = *state;
    gpf_error err = {0};
    json_t *r = NULL;
    int st = 0;
    char alice[96], aid[GPF_ID_MAX], bob[96], bid[GPF_ID_MAX];
    const char *adm = s->f->admin_tok;
    new_token(s->f, &s->f->alice, "alice", "t", 0, alice, aid);
    new_token(s->f, &s->f->bob, "bob", "t", 0, bob, bid);

    assert_int_equal(call(s, alice, "PATCH", "/v1/users/bob", "{\"disabled\":true}", &st, NULL, &err),
                     GPF_EFORBIDDEN);
    assert_int_equal(call(s, adm, "PATCH", "/v1/users/alice", "{\"disabled\":true}", &st, &r, &err), 0);
    assert_true(json_is_true(json_object_get(r, "disabled")));
    json_decref(r);
    assert_int_equal(call(s, alice, "GET", "/v1/pods", NULL, &st, NULL, &err), GPF_EUNAUTH);
    assert_int_equal(st, 401);
    assert_int_equal(call(s, adm, "GET", "/v1/users", NULL, &st, &r, &err), 0);
    size_t i;
    json_t *u;
    int seen = 0;
    json_array_foreach(json_object_get(r, "users"), i, u)
    {
        if (strcmp(json_string_value(json_object_get(u, "name")), "alice") == 0) {
            assert_true(json_is_true(json_object_get(u, "disabled")));
            seen = 1;
        }
    }
    assert_true(seen);
    json_decref(r);
    assert_int_equal(call(s, adm, "PATCH", "/v1/users/alice", "{\"disabled\":false}", &st, NULL, &err), 0);
    assert_int_equal(call(s, alice, "GET", "/v1/pods", NULL, &st, NULL, &err), 0);

    /* the last admin: 409 with the reason */
    assert_int_equal(call(s, adm, "DELETE", "/v1/users/admin", NULL, &st, NULL, &err), GPF_ESTATE);
    assert_contains(err.msg, "last enabled admin");
    assert_int_equal(call(s, adm, "PATCH", "/v1/users/admin", "{\"disabled\":true}", &st, NULL, &err), GPF_ESTATE);

    /* delete: 204, the token 401, the user 404, the name taken */
    assert_int_equal(call(s, alice, "DELETE", "/v1/users/bob", NULL, &st, NULL, &err), GPF_EFORBIDDEN);
    assert_int_equal(call(s, adm, "DELETE", "/v1/users/bob", NULL, &st, NULL, &err), 0);
    assert_int_equal(st, 204);
    assert_int_equal(call(s, bob, "GET", "/v1/whoami", NULL, &st, NULL, &err), GPF_EUNAUTH);
    assert_int_equal(call(s, adm, "GET", "/v1/users/bob", NULL, &st, NULL, &err), GPF_ENOTFOUND);
    assert_int_equal(call(s, adm, "POST", "/v1/users", "{\"name\":\"bob\",\"role\":\"member\"}", &st, NULL, &err),
                     GPF_EEXIST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_expired_token_refused, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_revoked_token_refused_at_once_and_after_restart, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_other_users_token_is_not_found, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_list_shows_own_and_no_secrets, ef_setup, ef_teardown),
        cmocka_unit_test(test_last_used_coalesced),
        cmocka_unit_test_setup_teardown(test_disabled_user_refused_enabled_works, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_deleted_user_refused_pods_stopped_history_kept, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_last_admin_protected, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_user_update_events, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_http_tokens, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_http_users, srv_setup, srv_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
