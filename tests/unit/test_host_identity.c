/* Host identity (issue 16, item 2): a join token admits only a host id that does not exist
 * yet, or one an operator re-keyed (once); an existing host re-registers with its own agent
 * token, which revokes its older ones; join tokens are records with an expiry, a use count
 * and revocation, listed without their secrets; refusals are counted by reason. Engine on a
 * real store with a fake clock (the fixture registers h1 with the join token it bootstraps). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "codec/codec.h"
#include "engine/engine.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/secret.h"

#include "helpers/engine_fixture.h"

#define assert_contains(s, sub)                                                                \
    do {                                                                                       \
        if (!strstr((s), (sub)))                                                               \
            fail_msg("'%s' does not contain '%s'", (s), (sub));                                \
    } while (0)

/* Registers h with credential; the new agent token (when it succeeded) in tok (96 bytes). */
static int reg(ef_fixture *f, const char *credential, const gpf_host_rec *h, char *tok, gpf_error *err)
{
    int hb = 0;
    gpf_error_clear(err);
    return gpf_engine_agent_register(f->e, credential, h, tok, 96, &hb, err);
}

/* A host like h1 whose agent says it lives elsewhere and has no GPUs (the attack of the issue). */
static gpf_host_rec hijacked(void)
{
    gpf_host_rec h = ef_host_h100();
    snprintf(h.address, sizeof h.address, "127.0.0.66");
    h.ngpus = 0;
    return h;
}

static uint64_t refused(ef_fixture *f, gpf_reg_refusal why)
{
    gpf_metrics m;
    gpf_engine_metrics(f->e, &m);
    uint64_t n = m.registrations_refused[why];
    gpf_metrics_clear(&m);
    return n;
}

/* The number of events of kind about host h1. */
static size_t events_of(ef_fixture *f, const char *kind)
{
    gpf_event_filter flt;
    gpf_event *ev = NULL;
    size_t n = 0;
    gpf_error err = {0};
    memset(&flt, 0, sizeof flt);
    flt.kind = kind;
    flt.limit = 1000;
    assert_int_equal(gpf_engine_events_list(f->e, &f->admin, &flt, &ev, &n, &err), 0);
    gpf_free(ev);
    return n;
}

static void assert_h1_intact(ef_fixture *f)
{
    gpf_host_rec h;
    gpf_error err = {0};
    assert_int_equal(gpf_engine_host_get(f->e, "h1", &h, NULL, &err), 0);
    assert_string_equal(h.address, "10.0.0.1");
    assert_int_equal(h.ngpus, 2);
}

/* The join token cannot replace a registered host: 409 with what to do, the host unchanged,
 * its running pod untouched, the refusal counted. */
static void test_join_token_cannot_replace_host(void **state)
{
    ef_fixture *f = *state;
    gpf_error err = {0};
    gpf_pod p;
    char tok[96];
    ef_launch(f, &f->alice, "whole", &p, 0);
    ef_agent_says(f, p.id, GPF_POD_RUNNING, 0);
    gpf_host_rec h = hijacked();
    assert_int_equal(reg(f, f->join, &h, tok, &err), GPF_EEXIST);
    assert_contains(err.msg, "already registered");
    assert_contains(err.msg, "gpufleet host rekey h1");
    assert_h1_intact(f);
    assert_int_equal(ef_pod(f, p.id).state, GPF_POD_RUNNING);
    assert_int_equal(refused(f, GPF_REG_REFUSED_HOST_EXISTS), 1);
    /* the agent's own token still works: it was not revoked by the attempt */
    assert_int_equal(gpf_engine_agent_heartbeat(f->e, &f->agent, NULL, &err), 0);
}

/* A re-key lets the next join-token registration replace the host, once, and revokes the
 * host's agent tokens at once. */
static void test_rekey_admits_join_token_once(void **state)
{
    ef_fixture *f = *state;
    gpf_error err = {0};
    gpf_principal who;
    gpf_host_rec h = hijacked(), got;
    char tok[96], tok2[96];
    const char *old = ef_credential(f, "h1");
    assert_int_equal(gpf_engine_authenticate(f->e, old, &who, &err), 0);
    assert_int_equal(gpf_engine_host_rekey(f->e, &f->alice, "h1", NULL, &err), GPF_EFORBIDDEN);
    assert_int_equal(gpf_engine_host_rekey(f->e, &f->admin, "nope", NULL, &err), GPF_ENOTFOUND);
    assert_int_equal(gpf_engine_host_rekey(f->e, &f->admin, "h1", &got, &err), 0);
    assert_true(got.rekey_ms > 0);
    assert_string_equal(got.rekey_by, "admin");
    assert_int_equal(gpf_engine_authenticate(f->e, old, &who, &err), GPF_EUNAUTH); /* revoked at once */
    assert_int_equal(reg(f, old, &h, tok, &err), GPF_EUNAUTH);
    assert_int_equal(events_of(f, "host_rekeyed"), 1);

    assert_int_equal(reg(f, f->join, &h, tok, &err), 0);
    assert_int_equal(gpf_engine_host_get(f->e, "h1", &got, NULL, &err), 0);
    assert_string_equal(got.address, "127.0.0.66"); /* replaced */
    assert_int_equal(got.rekey_ms, 0);             /* the re-key is used up */
    assert_int_equal(gpf_engine_authenticate(f->e, tok, &who, &err), 0);
    assert_true(who.is_agent);
    assert_string_equal(who.host_id, "h1");
    assert_int_equal(reg(f, f->join, &h, tok2, &err), GPF_EEXIST); /* once */
}

/* The host's own agent token re-registers it (a restarting agent) and revokes the old one;
 * another host's agent token registers nothing. */
static void test_own_token_reregisters(void **state)
{
    ef_fixture *f = *state;
    gpf_error err = {0};
    gpf_principal who;
    gpf_host_rec h = ef_host_h100(), got;
    char old[96], tok[96], tok2[96];
    snprintf(old, sizeof old, "%s", ef_credential(f, "h1"));
    snprintf(h.agent_version, sizeof h.agent_version, "9.9");
    assert_int_equal(reg(f, old, &h, tok, &err), 0);
    assert_int_equal(gpf_engine_authenticate(f->e, old, &who, &err), GPF_EUNAUTH);
    assert_int_equal(gpf_engine_authenticate(f->e, tok, &who, &err), 0);
    assert_string_equal(who.host_id, "h1");
    assert_int_equal(gpf_engine_host_get(f->e, "h1", &got, NULL, &err), 0);
    assert_string_equal(got.agent_version, "9.9");
    assert_int_equal(events_of(f, "host_reregistered"), 1);
    /* the revoked token cannot come back */
    assert_int_equal(reg(f, old, &h, tok2, &err), GPF_EUNAUTH);
    /* h1's token names h1 only */
    gpf_host_rec other = ef_host_h100();
    snprintf(other.id, sizeof other.id, "h2");
    assert_int_equal(reg(f, tok, &other, tok2, &err), GPF_EFORBIDDEN);
    assert_int_equal(gpf_engine_host_get(f->e, "h2", &got, NULL, &err), GPF_ENOTFOUND);
    assert_int_equal(refused(f, GPF_REG_REFUSED_WRONG_HOST), 1);
    /* and it survives a restart, the old one still refused */
    ef_close(f);
    ef_open(f);
    assert_int_equal(gpf_engine_authenticate(f->e, tok, &who, &err), 0);
    assert_int_equal(gpf_engine_authenticate(f->e, old, &who, &err), GPF_EUNAUTH);
}

static gpf_host_rec new_host(const char *id)
{
    gpf_host_rec h = ef_host_h100();
    snprintf(h.id, sizeof h.id, "%s", id);
    for (int i = 0; i < h.ngpus; i++)
        snprintf(h.gpus[i].uuid, sizeof h.gpus[i].uuid, "GPU-%s-%d", id, i);
    return h;
}

/* Expired, used-up, revoked and unknown join tokens are refused (401), each counted. */
static void test_join_token_limits(void **state)
{
    ef_fixture *f = *state;
    gpf_error err = {0};
    gpf_join_token once, hour, gone;
    char s_once[96], s_hour[96], s_gone[96], tok[96];
    gpf_host_rec h2 = new_host("h2"), h3 = new_host("h3"), h4 = new_host("h4");
    assert_int_equal(gpf_engine_join_token_create(f->e, &f->admin, "once", 0, 1, s_once, sizeof s_once, &once, &err), 0);
    assert_int_equal(
        gpf_engine_join_token_create(f->e, &f->admin, "hour", 3600000, -1, s_hour, sizeof s_hour, &hour, &err), 0);
    assert_int_equal(gpf_engine_join_token_create(f->e, &f->admin, "", 0, -1, s_gone, sizeof s_gone, &gone, &err), 0);
    assert_true(strncmp(s_once, "gpfjoin_", 8) == 0);
    assert_true(strncmp(once.id, "join-", 5) == 0);
    assert_int_equal(once.hash[0], '\0'); /* never handed out */

    assert_int_equal(reg(f, s_once, &h2, tok, &err), 0);
    assert_int_equal(reg(f, s_once, &h3, tok, &err), GPF_EUNAUTH);
    assert_contains(err.msg, "no uses left");
    f->now += 3600000;
    assert_int_equal(reg(f, s_hour, &h3, tok, &err), GPF_EUNAUTH);
    assert_contains(err.msg, "expired");
    assert_int_equal(gpf_engine_join_token_revoke(f->e, &f->admin, gone.id, NULL, &err), 0);
    assert_int_equal(gpf_engine_join_token_revoke(f->e, &f->admin, gone.id, NULL, &err), 0); /* again: no change */
    assert_int_equal(reg(f, s_gone, &h3, tok, &err), GPF_EUNAUTH);
    assert_contains(err.msg, "revoked");
    assert_int_equal(reg(f, "gpfjoin_nosuchtoken", &h4, tok, &err), GPF_EUNAUTH);
    assert_string_equal(err.msg, "unknown join token");
    gpf_host_rec got;
    assert_int_equal(gpf_engine_host_get(f->e, "h3", &got, NULL, &err), GPF_ENOTFOUND);
    assert_int_equal(refused(f, GPF_REG_REFUSED_USED_UP), 1);
    assert_int_equal(refused(f, GPF_REG_REFUSED_EXPIRED), 1);
    assert_int_equal(refused(f, GPF_REG_REFUSED_REVOKED), 1);
    assert_int_equal(refused(f, GPF_REG_REFUSED_UNKNOWN_TOKEN), 1);
    assert_int_equal(events_of(f, "join_token_created"), 4); /* the fixture's initial one, and these */
    assert_int_equal(events_of(f, "join_token_revoked"), 1);

    /* the list: every record, no hash, each in its state; the same after a restart */
    for (int round = 0; round < 2; round++) {
        gpf_join_token *l = NULL;
        size_t n = 0;
        assert_int_equal(gpf_engine_join_token_list(f->e, &f->admin, &l, &n, &err), 0);
        assert_int_equal(n, 4);
        int used_up = 0, expired = 0, revoked = 0;
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(l[i].hash[0], '\0');
            json_t *j = gpf_json_join_token(&l[i], f->now);
            assert_null(json_object_get(j, "hash"));
            const char *st = json_string_value(json_object_get(j, "state"));
            used_up += strcmp(st, "used_up") == 0;
            expired += strcmp(st, "expired") == 0;
            revoked += strcmp(st, "revoked") == 0;
            if (strcmp(l[i].id, once.id) == 0)
                assert_int_equal(l[i].uses, 1);
            json_decref(j);
        }
        assert_int_equal(used_up + expired + revoked, 3);
        gpf_free(l);
        ef_close(f);
        ef_open(f);
    }
}

/* Join tokens and re-keys are staff's: members, finance and agent tokens are refused. */
static void test_permissions(void **state)
{
    ef_fixture *f = *state;
    gpf_error err = {0};
    gpf_join_token *l = NULL;
    size_t n = 0;
    char s[96];
    const gpf_principal *who[] = {&f->alice, &f->agent};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(gpf_engine_join_token_create(f->e, who[i], "x", 0, -1, s, sizeof s, NULL, &err),
                         GPF_EFORBIDDEN);
        assert_int_equal(gpf_engine_join_token_list(f->e, who[i], &l, &n, &err), GPF_EFORBIDDEN);
        assert_int_equal(gpf_engine_join_token_revoke(f->e, who[i], "join-initial", NULL, &err), GPF_EFORBIDDEN);
        assert_int_equal(gpf_engine_host_rekey(f->e, who[i], "h1", NULL, &err), GPF_EFORBIDDEN);
    }
    /* bad arguments */
    assert_int_equal(gpf_engine_join_token_create(f->e, &f->admin, "Bad Name", 0, -1, s, sizeof s, NULL, &err),
                     GPF_EINVAL);
    assert_int_equal(gpf_engine_join_token_create(f->e, &f->admin, "x", 0, 0, s, sizeof s, NULL, &err), GPF_EINVAL);
    assert_int_equal(gpf_engine_join_token_create(f->e, &f->admin, "x", -1, -1, s, sizeof s, NULL, &err), GPF_EINVAL);
    assert_int_equal(gpf_engine_join_token_revoke(f->e, &f->admin, "join-nope", NULL, &err), GPF_ENOTFOUND);
}

/* The serve's join token is the record "initial": the same configured secret keeps it as it
 * is (a revocation holds across restarts), a new one replaces it, none generates one only
 * when there is none. */
static void test_initial_join_token(void **state)
{
    ef_fixture *f = *state;
    gpf_error err = {0};
    gpf_join_token t;
    char admin[96], join[96], tok[96];
    gpf_host_rec h2 = new_host("h2"), h3 = new_host("h3");
    assert_int_equal(gpf_engine_bootstrap(f->e, "", admin, sizeof admin, join, sizeof join, &err), 0);
    assert_string_equal(join, ""); /* generated once, by the fixture */
    assert_int_equal(gpf_engine_bootstrap(f->e, "gpfjoin_configured", admin, sizeof admin, join, sizeof join, &err),
                     0);
    assert_int_equal(reg(f, f->join, &h2, tok, &err), GPF_EUNAUTH); /* replaced */
    assert_int_equal(gpf_engine_join_token_revoke(f->e, &f->admin, "join-initial", &t, &err), 0);
    assert_string_equal(t.name, "initial");
    ef_close(f);
    ef_open(f);
    assert_int_equal(gpf_engine_bootstrap(f->e, "gpfjoin_configured", admin, sizeof admin, join, sizeof join, &err),
                     0);
    assert_int_equal(reg(f, "gpfjoin_configured", &h2, tok, &err), GPF_EUNAUTH); /* still revoked */
    assert_int_equal(gpf_engine_bootstrap(f->e, "gpfjoin_other", admin, sizeof admin, join, sizeof join, &err), 0);
    assert_int_equal(reg(f, "gpfjoin_other", &h3, tok, &err), 0);
}

/* Migration 7: the join_token_hash setting becomes the record "initial"; every host known
 * at the upgrade may come back once with the join token (its agent kept no token before). */
static void test_migration(void **state)
{
    (void)state;
    char dir[] = "/tmp/gpf-ident-XXXXXX", path[64], hash[65];
    gpf_store *s = NULL;
    gpf_error err = {0};
    size_t nmig = 0, n = 0;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/db", dir);
    const gpf_store_migration *all = gpf_store_migrations(&nmig);
    size_t upto6 = 0;
    while (upto6 < nmig && all[upto6].version <= 6)
        upto6++;
    assert_int_equal(gpf_store_open_with(path, all, upto6, &s, &err), 0);
    gpf_sha256_hex("gpfjoin_old", hash);
    assert_int_equal(gpf_store_setting_put(s, "join_token_hash", hash, &err), 0);
    gpf_store_close(s);
    /* a host as version 6 wrote it */
    char cmd[640];
    snprintf(cmd, sizeof cmd,
             "sqlite3 %s \"INSERT INTO hosts (id, address, deploy_mode, backend, runtime, agent_version, cpus, "
             "memory_mib, numa_nodes, state, registered_ms, last_heartbeat_ms) VALUES ('h1','10.0.0.1','baremetal',"
             "'fake','fake','1',1,1,1,'ready',1,1)\" 2>/dev/null",
             path);
    int have_sqlite3 = system(cmd) == 0;
    assert_int_equal(gpf_store_open(path, &s, &err), 0);
    gpf_join_token *jt = NULL;
    assert_int_equal(gpf_store_join_tokens_load(s, &jt, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(jt[0].id, "join-initial");
    assert_string_equal(jt[0].hash, hash);
    assert_int_equal(jt[0].uses_left, -1);
    gpf_free(jt);
    char v[80];
    assert_int_equal(gpf_store_setting_get(s, "join_token_hash", v, sizeof v, &err), GPF_ENOTFOUND);
    if (have_sqlite3) {
        gpf_host_rec *hosts = NULL;
        assert_int_equal(gpf_store_hosts_load(s, &hosts, &n, &err), 0);
        assert_int_equal(n, 1);
        assert_true(hosts[0].rekey_ms > 0);
        assert_string_equal(hosts[0].rekey_by, "upgrade");
        gpf_free(hosts);
    } else {
        print_message("sqlite3 shell not installed: the upgrade re-key of hosts is not checked\n");
    }
    gpf_store_close(s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_join_token_cannot_replace_host, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_rekey_admits_join_token_once, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_own_token_reregisters, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_join_token_limits, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_permissions, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_initial_join_token, ef_setup, ef_teardown),
        cmocka_unit_test(test_migration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
