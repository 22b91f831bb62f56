/* Engine: pod lifecycle against the agent protocol, permissions, usage records,
 * recovery after a restart (the store on a file), and ledger consistency. Uses the
 * real store, the embedded catalog and a fake clock. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "engine/engine.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/embedded.h"

typedef struct fixture {
    char dir[64];
    char db[128];
    int64_t now;
    gpf_catalog *cat;
    gpf_store *store;
    gpf_engine *e;
    char admin_tok[96];
    char join[96];
    gpf_principal admin, alice, bob, agent;
} fixture;

static int64_t fake_clock(void *ctx)
{
    return ((fixture *)ctx)->now;
}

static const char *KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOv3b1m8Qdx9xJtq0wzS2dGm1Gm0r2JtB8m1m0Q3aaaa alice";

static void open_engine(fixture *f)
{
    gpf_error err = {0};
    assert_int_equal(gpf_store_open(f->db, &f->store, &err), 0);
    gpf_engine_config c = {0};
    c.store = f->store;
    c.catalog = f->cat;
    c.clock = fake_clock;
    c.clock_ctx = f;
    assert_int_equal(gpf_engine_open(&c, &f->e, &err), 0);
}

static void close_engine(fixture *f)
{
    gpf_engine_free(f->e);
    gpf_store_close(f->store);
    f->e = NULL;
    f->store = NULL;
}

static gpf_host_rec host_h100(void)
{
    gpf_host_rec h;
    memset(&h, 0, sizeof h);
    snprintf(h.id, sizeof h.id, "h1");
    snprintf(h.address, sizeof h.address, "10.0.0.1");
    snprintf(h.deploy_mode, sizeof h.deploy_mode, "baremetal");
    h.cpus = 32;
    h.memory_mib = 262144;
    h.numa_nodes = 2;
    h.ngpus = 2;
    for (int i = 0; i < 2; i++) {
        snprintf(h.gpus[i].uuid, sizeof h.gpus[i].uuid, "GPU-0000000%d", i);
        h.gpus[i].index = i;
        snprintf(h.gpus[i].model, sizeof h.gpus[i].model, "H100-80GB-SXM5");
        h.gpus[i].memory_mib = 81559;
        h.gpus[i].mig_enabled = i == 1;
    }
    return h;
}

static void make_sku(fixture *f, const char *name, gpf_slice_kind kind, const char *mig, int count)
{
    gpf_sku k;
    memset(&k, 0, sizeof k);
    snprintf(k.name, sizeof k.name, "%s", name);
    k.slice.kind = kind;
    k.slice.gpu_count = count;
    snprintf(k.slice.mig_profile, sizeof k.slice.mig_profile, "%s", mig);
    k.nmodels = 1;
    snprintf(k.models[0], sizeof k.models[0], "%s", kind == GPF_SLICE_MIG ? "H100-80GB" : "H100-80GB-SXM5");
    k.cpus = 2;
    k.memory_mib = 1024;
    k.price_micro_per_hour = 3600000; /* 1000 micro per second */
    gpf_error err = {0};
    assert_int_equal(gpf_engine_sku_create(f->e, &f->admin, &k, NULL, &err), 0);
}

static int setup(void **state)
{
    fixture *f = GPF_NEW(fixture);
    snprintf(f->dir, sizeof f->dir, "/tmp/gpf-engine-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/db", f->dir);
    f->now = 1700000000000;
    gpf_error err = {0};
    assert_int_equal(gpf_catalog_parse(gpf_embedded_find("data/catalog/gpus.csv")->data,
                                       gpf_embedded_find("data/catalog/mig_profiles.csv")->data,
                                       gpf_embedded_find("data/catalog/vgpu_profiles.csv")->data, &f->cat, &err),
                     0);
    open_engine(f);
    assert_int_equal(gpf_engine_bootstrap(f->e, "", f->admin_tok, sizeof f->admin_tok, f->join, sizeof f->join, &err), 0);
    assert_true(strncmp(f->admin_tok, "gpf_", 4) == 0);
    assert_int_equal(gpf_engine_authenticate(f->e, f->admin_tok, &f->admin, &err), 0);
    assert_int_equal(f->admin.role, GPF_ROLE_ADMIN);

    gpf_user u;
    memset(&u, 0, sizeof u);
    const char *names[2] = {"alice", "bob"};
    gpf_principal *ps[2] = {&f->alice, &f->bob};
    for (int i = 0; i < 2; i++) {
        snprintf(u.name, sizeof u.name, "%s", names[i]);
        u.role = GPF_ROLE_MEMBER;
        snprintf(u.ssh_pubkey, sizeof u.ssh_pubkey, "%s", KEY_A);
        assert_int_equal(gpf_engine_user_create(f->e, &f->admin, &u, NULL, &err), 0);
        char tok[96];
        assert_int_equal(gpf_engine_token_create(f->e, &f->admin, names[i], tok, sizeof tok, NULL, &err), 0);
        assert_int_equal(gpf_engine_authenticate(f->e, tok, ps[i], &err), 0);
    }
    gpf_host_rec h = host_h100();
    char atok[96];
    int hb = 0;
    assert_int_equal(gpf_engine_agent_register(f->e, f->join, &h, atok, sizeof atok, &hb, &err), 0);
    assert_int_equal(gpf_engine_authenticate(f->e, atok, &f->agent, &err), 0);
    assert_true(f->agent.is_agent);
    make_sku(f, "whole", GPF_SLICE_WHOLE, "", 1);
    make_sku(f, "mig1g", GPF_SLICE_MIG, "1g.10gb", 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    close_engine(f);
    gpf_catalog_free(f->cat);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    gpf_free(f);
    return 0;
}

static void launch(fixture *f, const gpf_principal *who, const char *sku, gpf_pod *out, int expect)
{
    gpf_launch_req req;
    memset(&req, 0, sizeof req);
    snprintf(req.sku, sizeof req.sku, "%s", sku);
    gpf_error err = {0};
    assert_int_equal(gpf_engine_pod_launch(f->e, who, &req, out, &err), expect);
}

static void agent_says(fixture *f, const char *pod, gpf_pod_state st, int expect)
{
    gpf_agent_pod_status s;
    memset(&s, 0, sizeof s);
    s.state = st;
    s.ssh_port = 22001;
    snprintf(s.ssh_user, sizeof s.ssh_user, "dev");
    gpf_error err = {0};
    assert_int_equal(gpf_engine_agent_pod_status(f->e, &f->agent, pod, &s, &err), expect);
}

static void test_lifecycle_and_usage(void **state)
{
    fixture *f = *state;
    gpf_pod p, q;
    gpf_error err = {0};
    launch(f, &f->alice, "mig1g", &p, 0);
    assert_int_equal(p.state, GPF_POD_STARTING);
    assert_string_equal(p.placement.host_id, "h1");
    assert_string_equal(p.placement.gpu_uuids[0], "GPU-00000001"); /* the MIG-enabled GPU */
    assert_int_equal(p.placement.gpu_milli, 142);

    /* The agent's long poll returns the start command at once. */
    gpf_agent_cmd *cmds = NULL;
    size_t n = 0;
    int64_t seq = 0;
    assert_int_equal(gpf_engine_agent_commands(f->e, &f->agent, 0, 0, &cmds, &n, &seq, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(cmds[0].type, GPF_CMD_START_POD);
    assert_string_equal(cmds[0].pod.id, p.id);
    assert_string_equal(cmds[0].ssh_pubkey, KEY_A);
    gpf_free(cmds);
    /* Nothing new: the poll times out empty. */
    assert_int_equal(gpf_engine_agent_commands(f->e, &f->agent, seq, 10, &cmds, &n, &seq, &err), 0);
    assert_int_equal(n, 0);
    gpf_free(cmds);

    f->now += 1000;
    agent_says(f, p.id, GPF_POD_RUNNING, 0);
    assert_int_equal(gpf_engine_pod_wait(f->e, &f->alice, p.id, 0, &q, &err), 0);
    assert_int_equal(q.state, GPF_POD_RUNNING);
    assert_int_equal(q.ssh_port, 22001);
    assert_string_equal(q.ssh_host, "10.0.0.1");

    /* bob may neither see nor stop it; admin may. */
    assert_int_equal(gpf_engine_pod_get(f->e, &f->bob, p.id, &q, &err), GPF_EFORBIDDEN);
    assert_int_equal(gpf_engine_pod_stop(f->e, &f->bob, p.id, &q, &err), GPF_EFORBIDDEN);
    gpf_pod *list = NULL;
    assert_int_equal(gpf_engine_pod_list(f->e, &f->bob, 1, NULL, &list, &n, &err), 0);
    assert_int_equal(n, 0);
    gpf_free(list);

    f->now += 90 * 1000;
    assert_int_equal(gpf_engine_pod_stop(f->e, &f->alice, p.id, &q, &err), 0);
    assert_int_equal(q.state, GPF_POD_STOPPING);
    assert_int_equal(gpf_engine_agent_commands(f->e, &f->agent, seq, 0, &cmds, &n, &seq, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(cmds[0].type, GPF_CMD_STOP_POD);
    gpf_free(cmds);
    f->now += 50;
    agent_says(f, p.id, GPF_POD_STOPPED, 0);
    assert_int_equal(gpf_engine_pod_get(f->e, &f->alice, p.id, &q, &err), 0);
    assert_int_equal(q.state, GPF_POD_STOPPED);
    assert_int_equal(gpf_engine_pod_stop(f->e, &f->alice, p.id, &q, &err), GPF_ESTATE);

    gpf_usage *u = NULL;
    assert_int_equal(gpf_engine_usage_list(f->e, &f->alice, NULL, &u, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(u[0].end_ms - u[0].start_ms, 90050);
    assert_int_equal(u[0].gpu_milli, 142);
    assert_string_equal(u[0].owner, "alice");
    gpf_free(u);
    assert_int_equal(gpf_engine_usage_list(f->e, &f->bob, NULL, &u, &n, &err), 0);
    assert_int_equal(n, 0);
    gpf_free(u);
}

static void test_capacity_and_failure_frees(void **state)
{
    fixture *f = *state;
    gpf_pod p, q;
    launch(f, &f->alice, "whole", &p, 0);
    /* Only one non-MIG GPU: the second whole launch has no capacity, with a reason. */
    launch(f, &f->bob, "whole", &q, GPF_ENOCAPACITY);
    /* The agent fails to start it: the slice is free again. */
    agent_says(f, p.id, GPF_POD_FAILED, 0);
    launch(f, &f->bob, "whole", &q, 0);
    /* Seven 1g.10gb fit on the MIG GPU, the eighth does not. */
    gpf_pod m;
    for (int i = 0; i < 7; i++)
        launch(f, &f->alice, "mig1g", &m, 0);
    launch(f, &f->alice, "mig1g", &m, GPF_ENOCAPACITY);
    launch(f, &f->alice, "nope", &m, GPF_ENOTFOUND);
}

static void test_restart_recovers_everything(void **state)
{
    fixture *f = *state;
    gpf_pod p, q, r;
    gpf_error err = {0};
    launch(f, &f->alice, "whole", &p, 0);
    launch(f, &f->alice, "mig1g", &q, 0);
    agent_says(f, p.id, GPF_POD_RUNNING, 0);
    f->now += 5000;
    /* "crash": drop the engine without any shutdown step, reopen from the file */
    close_engine(f);
    open_engine(f);
    assert_int_equal(gpf_engine_authenticate(f->e, f->admin_tok, &f->admin, &err), 0);
    assert_int_equal(gpf_engine_pod_get(f->e, &f->alice, p.id, &r, &err), 0);
    assert_int_equal(r.state, GPF_POD_RUNNING);
    assert_int_equal(gpf_engine_pod_get(f->e, &f->alice, q.id, &r, &err), 0);
    assert_int_equal(r.state, GPF_POD_STARTING);
    /* The ledger was rebuilt: the whole GPU is still taken. */
    launch(f, &f->bob, "whole", &r, GPF_ENOCAPACITY);
    /* An agent polling with its old sequence gets the outstanding start at once. */
    gpf_agent_cmd *cmds = NULL;
    size_t n = 0;
    int64_t seq = 0;
    assert_int_equal(gpf_engine_agent_commands(f->e, &f->agent, 1, 0, &cmds, &n, &seq, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(cmds[0].pod.id, q.id);
    gpf_free(cmds);
    gpf_usage *u = NULL;
    assert_int_equal(gpf_engine_usage_list(f->e, &f->admin, NULL, &u, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(u[0].end_ms, 0);
    gpf_free(u);
}

static void test_auth_and_roles(void **state)
{
    fixture *f = *state;
    gpf_principal p;
    gpf_error err = {0};
    assert_int_equal(gpf_engine_authenticate(f->e, "gpf_nope", &p, &err), GPF_EUNAUTH);
    assert_int_equal(gpf_engine_authenticate(f->e, "", &p, &err), GPF_EUNAUTH);
    gpf_sku k;
    memset(&k, 0, sizeof k);
    snprintf(k.name, sizeof k.name, "x");
    k.slice.kind = GPF_SLICE_WHOLE;
    k.slice.gpu_count = 1;
    assert_int_equal(gpf_engine_sku_create(f->e, &f->alice, &k, NULL, &err), GPF_EFORBIDDEN);
    assert_int_equal(gpf_engine_sku_create(f->e, &f->agent, &k, NULL, &err), GPF_EFORBIDDEN);
    k.nmodels = 1;
    snprintf(k.models[0], sizeof k.models[0], "NoSuchGPU");
    assert_int_equal(gpf_engine_sku_create(f->e, &f->admin, &k, NULL, &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "NoSuchGPU"));
    gpf_user *users = NULL;
    size_t n = 0;
    assert_int_equal(gpf_engine_user_list(f->e, &f->alice, &users, &n, &err), GPF_EFORBIDDEN);
    char tok[96];
    assert_int_equal(gpf_engine_token_create(f->e, &f->alice, "bob", tok, sizeof tok, NULL, &err), GPF_EFORBIDDEN);
    gpf_host_rec h = host_h100();
    int hb;
    assert_int_equal(gpf_engine_agent_register(f->e, "wrong", &h, tok, sizeof tok, &hb, &err), GPF_EUNAUTH);
    /* An agent report about a GPU the host never registered is refused. */
    char bogus[1][GPF_UUID_MAX] = {"GPU-ffff"};
    assert_int_equal(gpf_engine_agent_heartbeat(f->e, &f->agent, NULL, 0, (const char(*)[GPF_UUID_MAX])bogus, 1, &err),
                     GPF_EINVAL);
    /* A member cannot use agent endpoints. */
    assert_int_equal(gpf_engine_agent_heartbeat(f->e, &f->alice, NULL, 0, NULL, 0, &err), GPF_EFORBIDDEN);
}

static void test_host_lost_after_missed_beats(void **state)
{
    fixture *f = *state;
    gpf_host_rec h;
    gpf_error err = {0};
    f->now += 2000 * 5 + 1;
    gpf_engine_tick(f->e);
    assert_int_equal(gpf_engine_host_get(f->e, "h1", &h, NULL, &err), 0);
    assert_int_equal(h.state, GPF_HOST_LOST);
    gpf_pod p;
    launch(f, &f->alice, "whole", &p, GPF_ENOCAPACITY);
    assert_int_equal(gpf_engine_agent_heartbeat(f->e, &f->agent, NULL, 0, NULL, 0, &err), 0);
    assert_int_equal(gpf_engine_host_get(f->e, "h1", &h, NULL, &err), 0);
    assert_int_equal(h.state, GPF_HOST_READY);
    launch(f, &f->alice, "whole", &p, 0);
}

static void test_start_timeout_fails_and_frees(void **state)
{
    fixture *f = *state;
    gpf_pod p, q;
    gpf_error err = {0};
    launch(f, &f->alice, "whole", &p, 0);
    f->now += 119000;
    assert_int_equal(gpf_engine_agent_heartbeat(f->e, &f->agent, NULL, 0, NULL, 0, &err), 0);
    gpf_engine_tick(f->e);
    assert_int_equal(gpf_engine_pod_get(f->e, &f->alice, p.id, &q, &err), 0);
    assert_int_equal(q.state, GPF_POD_STARTING);
    f->now += 2000;
    gpf_engine_tick(f->e);
    assert_int_equal(gpf_engine_pod_get(f->e, &f->alice, p.id, &q, &err), 0);
    assert_int_equal(q.state, GPF_POD_FAILED);
    assert_non_null(strstr(q.reason, "did not start the pod"));
    /* its GPU is free again, and a late "running" report changes nothing */
    launch(f, &f->bob, "whole", &q, 0);
    agent_says(f, p.id, GPF_POD_RUNNING, 0);
    assert_int_equal(gpf_engine_pod_get(f->e, &f->alice, p.id, &q, &err), 0);
    assert_int_equal(q.state, GPF_POD_FAILED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lifecycle_and_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_capacity_and_failure_frees, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_recovers_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_and_roles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_lost_after_missed_beats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_timeout_fails_and_frees, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
