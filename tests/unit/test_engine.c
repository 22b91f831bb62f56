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

#include "helpers/engine_fixture.h"

static void test_lifecycle_and_usage(void **state)
{
    ef_fixture *f = *state;
    gpf_pod p, q;
    gpf_error err = {0};
    ef_launch(f, &f->alice, "mig1g", &p, 0);
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
    assert_string_equal(cmds[0].ssh_pubkey, EF_KEY);
    gpf_free(cmds);
    /* Nothing new: the poll times out empty. */
    assert_int_equal(gpf_engine_agent_commands(f->e, &f->agent, seq, 10, &cmds, &n, &seq, &err), 0);
    assert_int_equal(n, 0);
    gpf_free(cmds);

    f->now += 1000;
    ef_agent_says(f, p.id, GPF_POD_RUNNING, 0);
    assert_int_equal(gpf_engine_pod_wait(f->e, &f->alice, p.id, 0, &q, &err), 0);
    assert_int_equal(q.state, GPF_POD_RUNNING);
    assert_int_equal(q.ssh_port, 22001);
    assert_string_equal(q.ssh_host, "10.0.0.1");

    /* bob may neither see, wait for nor stop it; admin may. To bob it is an unknown pod,
     * answered word for word as one (its existence does not leak). */
    char unknown[GPF_ID_MAX + 16];
    snprintf(unknown, sizeof unknown, "no pod '%s'", p.id);
    assert_int_equal(gpf_engine_pod_get(f->e, &f->bob, "pod-00000000", &q, &err), GPF_ENOTFOUND);
    assert_string_equal(err.msg, "no pod 'pod-00000000'");
    assert_int_equal(gpf_engine_pod_get(f->e, &f->bob, p.id, &q, &err), GPF_ENOTFOUND);
    assert_string_equal(err.msg, unknown);
    assert_int_equal(gpf_engine_pod_wait(f->e, &f->bob, p.id, 0, &q, &err), GPF_ENOTFOUND);
    assert_string_equal(err.msg, unknown);
    assert_int_equal(gpf_engine_pod_stop(f->e, &f->bob, p.id, &q, &err), GPF_ENOTFOUND);
    assert_string_equal(err.msg, unknown);
    assert_int_equal(gpf_engine_pod_get(f->e, &f->admin, p.id, &q, &err), 0);
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
    ef_agent_says(f, p.id, GPF_POD_STOPPED, 0);
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
    ef_fixture *f = *state;
    gpf_pod p, q;
    ef_launch(f, &f->alice, "whole", &p, 0);
    /* Only one non-MIG GPU: the second whole launch has no capacity, with a reason. */
    ef_launch(f, &f->bob, "whole", &q, GPF_ENOCAPACITY);
    /* The agent fails to start it: the slice is free again. */
    ef_agent_says(f, p.id, GPF_POD_FAILED, 0);
    ef_launch(f, &f->bob, "whole", &q, 0);
    /* Seven 1g.10gb fit on the MIG GPU, the eighth does not. */
    gpf_pod m;
    for (int i = 0; i < 7; i++)
        ef_launch(f, &f->alice, "mig1g", &m, 0);
    ef_launch(f, &f->alice, "mig1g", &m, GPF_ENOCAPACITY);
    ef_launch(f, &f->alice, "nope", &m, GPF_ENOTFOUND);
}

static void test_restart_recovers_everything(void **state)
{
    ef_fixture *f = *state;
    gpf_pod p, q, r;
    gpf_error err = {0};
    ef_launch(f, &f->alice, "whole", &p, 0);
    ef_launch(f, &f->alice, "mig1g", &q, 0);
    ef_agent_says(f, p.id, GPF_POD_RUNNING, 0);
    f->now += 5000;
    /* "crash": drop the engine without any shutdown step, reopen from the file */
    ef_close(f);
    ef_open(f);
    assert_int_equal(gpf_engine_authenticate(f->e, f->admin_tok, &f->admin, &err), 0);
    assert_int_equal(gpf_engine_pod_get(f->e, &f->alice, p.id, &r, &err), 0);
    assert_int_equal(r.state, GPF_POD_RUNNING);
    assert_int_equal(gpf_engine_pod_get(f->e, &f->alice, q.id, &r, &err), 0);
    assert_int_equal(r.state, GPF_POD_STARTING);
    /* The ledger was rebuilt: the whole GPU is still taken. */
    ef_launch(f, &f->bob, "whole", &r, GPF_ENOCAPACITY);
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
    ef_fixture *f = *state;
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
    assert_int_equal(gpf_engine_token_create(f->e, &f->alice, "bob", NULL, tok, sizeof tok, NULL, &err), GPF_EFORBIDDEN);
    gpf_host_rec h = ef_host_h100();
    int hb;
    assert_int_equal(gpf_engine_agent_register(f->e, "wrong", &h, tok, sizeof tok, &hb, &err), GPF_EUNAUTH);
    /* An agent report about a GPU the host never registered is refused. */
    gpf_hw_gpu bogus = {.uuid = "GPU-ffff"};
    gpf_agent_report rep = {.has_gpus = 1, .ngpus = 1, .gpus = &bogus};
    assert_int_equal(gpf_engine_agent_heartbeat(f->e, &f->agent, &rep, &err), GPF_EINVAL);
    /* A member cannot use agent endpoints. */
    assert_int_equal(gpf_engine_agent_heartbeat(f->e, &f->alice, NULL, &err), GPF_EFORBIDDEN);
}

static void test_host_lost_after_missed_beats(void **state)
{
    ef_fixture *f = *state;
    gpf_host_rec h;
    gpf_error err = {0};
    gpf_pod p;
    f->now += 2000 * 5 + 1;
    gpf_engine_tick(f->e);
    assert_int_equal(gpf_engine_host_get(f->e, "h1", &h, NULL, &err), 0);
    assert_int_equal(h.state, GPF_HOST_UNREACHABLE); /* first: lost only after the host grace */
    ef_launch(f, &f->alice, "whole", &p, GPF_ENOCAPACITY);
    f->now += 600000;
    gpf_engine_tick(f->e);
    assert_int_equal(gpf_engine_host_get(f->e, "h1", &h, NULL, &err), 0);
    assert_int_equal(h.state, GPF_HOST_LOST);
    ef_launch(f, &f->alice, "whole", &p, GPF_ENOCAPACITY);
    assert_int_equal(gpf_engine_agent_heartbeat(f->e, &f->agent, NULL, &err), 0);
    assert_int_equal(gpf_engine_host_get(f->e, "h1", &h, NULL, &err), 0);
    assert_int_equal(h.state, GPF_HOST_READY);
    ef_launch(f, &f->alice, "whole", &p, 0);
}

static void test_start_timeout_fails_and_frees(void **state)
{
    ef_fixture *f = *state;
    gpf_pod p, q;
    gpf_error err = {0};
    ef_launch(f, &f->alice, "whole", &p, 0);
    f->now += 119000;
    assert_int_equal(gpf_engine_agent_heartbeat(f->e, &f->agent, NULL, &err), 0);
    gpf_engine_tick(f->e);
    assert_int_equal(gpf_engine_pod_get(f->e, &f->alice, p.id, &q, &err), 0);
    assert_int_equal(q.state, GPF_POD_STARTING);
    f->now += 2000;
    gpf_engine_tick(f->e);
    assert_int_equal(gpf_engine_pod_get(f->e, &f->alice, p.id, &q, &err), 0);
    assert_int_equal(q.state, GPF_POD_FAILED);
    assert_non_null(strstr(q.reason, "did not start the pod"));
    /* its GPU is free again, and a late "running" report changes nothing */
    ef_launch(f, &f->bob, "whole", &q, 0);
    ef_agent_says(f, p.id, GPF_POD_RUNNING, 0);
    assert_int_equal(gpf_engine_pod_get(f->e, &f->alice, p.id, &q, &err), 0);
    assert_int_equal(q.state, GPF_POD_FAILED);
}

static void test_placement_policy_option(void **state)
{
    ef_fixture *f = *state;
    gpf_error err = {0};
    gpf_engine *e = NULL;
    gpf_engine_config c = {0};
    c.store = f->store;
    c.catalog = f->cat;
    c.policy = "no-such-policy";
    assert_int_equal(gpf_engine_open(&c, &e, &err), GPF_EINVAL);
    assert_null(e);
    assert_non_null(strstr(err.msg, "no-such-policy"));
    /* a baseline policy places as well: first-fit takes the lowest free GPU */
    ef_close(f);
    gpf_store_open(f->db, &f->store, &err);
    c.store = f->store;
    c.policy = "first-fit";
    assert_int_equal(gpf_engine_open(&c, &f->e, &err), 0);
    gpf_pod p;
    ef_launch(f, &f->alice, "whole", &p, 0);
    assert_string_equal(p.placement.gpu_uuids[0], "GPU-00000000");
}

/* MIG-backed vGPU pods (H100XM-3-40C: a 3g.40gb instance, at most 2 per GPU) on the MIG GPU
 * of h1: SKUs are checked against the catalog, the placement carries the type and the MIG
 * instance to the agent, the GPU then takes no bare MIG slice, a restart rebuilds the same
 * ledger, and stopping the pods frees the GPU for MIG slices again. */
static void test_mig_backed_vgpu_pods(void **state)
{
    ef_fixture *f = *state;
    gpf_error err = {0};
    gpf_pod v[3], m, q;
    assert_int_equal(ef_make_vgpu_sku(f, "vgpu3g", "H100XM-3-40C", "H100-80GB", &err), 0);
    assert_int_equal(ef_make_vgpu_sku(f, "a100vgpu", "A100D-3-40C", "H100-80GB", &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "slice.vgpu_type: 'A100D-3-40C' runs on A100-80GB, which gpu_models does not allow"));
    assert_int_equal(ef_make_vgpu_sku(f, "nothing", "H100XM-9-99C", "", &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "unknown vGPU type"));
    assert_int_equal(ef_make_vgpu_sku(f, "a100any", "A100D-3-40C", "", &err), 0); /* runs on A100s, none here */

    ef_launch(f, &f->alice, "vgpu3g", &v[0], 0);
    assert_string_equal(v[0].placement.host_id, "h1");
    assert_string_equal(v[0].placement.gpu_uuids[0], "GPU-00000001"); /* the MIG-mode GPU */
    assert_string_equal(v[0].placement.vgpu_type, "H100XM-3-40C");
    assert_int_equal(v[0].placement.mig_profile_id, 9);
    assert_int_equal(v[0].placement.mig_size, 4);
    assert_int_equal(v[0].placement.gpu_milli, 428);
    assert_int_equal(v[0].slice.kind, GPF_SLICE_VGPU);
    /* the agent's start command carries the MIG instance, as for a MIG slice */
    gpf_agent_cmd *cmds = NULL;
    size_t n = 0;
    int64_t seq = 0;
    assert_int_equal(gpf_engine_agent_commands(f->e, &f->agent, 0, 0, &cmds, &n, &seq, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(cmds[0].pod.placement.vgpu_type, "H100XM-3-40C");
    assert_int_equal(cmds[0].pod.placement.mig_profile_id, 9);
    assert_int_equal(cmds[0].pod.placement.mig_start, v[0].placement.mig_start);
    assert_int_equal(cmds[0].pod.placement.mig_size, 4);
    gpf_free(cmds);
    ef_launch(f, &f->bob, "vgpu3g", &v[1], 0);
    assert_int_equal(v[0].placement.mig_start + v[1].placement.mig_start, 4); /* 0 and 4 */

    /* the type's two per GPU are booked; the GPU serves vGPUs: no bare MIG slice either */
    gpf_launch_req req;
    memset(&req, 0, sizeof req);
    snprintf(req.sku, sizeof req.sku, "vgpu3g");
    assert_int_equal(gpf_engine_pod_launch(f->e, &f->alice, &req, &q, &err), GPF_ENOCAPACITY);
    assert_non_null(strstr(err.msg, "no capacity for vGPU H100XM-3-40C (MIG-backed, 3g.40gb) of H100-80GB"));
    snprintf(req.sku, sizeof req.sku, "mig1g");
    assert_int_equal(gpf_engine_pod_launch(f->e, &f->alice, &req, &q, &err), GPF_ENOCAPACITY);
    assert_non_null(strstr(err.msg, "with MIG GPUs serving MIG-backed vGPUs, which take no bare MIG slice beside them"));
    snprintf(req.sku, sizeof req.sku, "a100any");
    assert_int_equal(gpf_engine_pod_launch(f->e, &f->alice, &req, &q, &err), GPF_ENOCAPACITY); /* not 501 */
    assert_non_null(strstr(err.msg, "1 without a matching GPU model"));
    ef_launch(f, &f->alice, "whole", &m, 0); /* GPU 0 is outside MIG mode */

    /* a restart rebuilds the ledger from the stored placements */
    ef_agent_says(f, v[0].id, GPF_POD_RUNNING, 0);
    ef_close(f);
    ef_open(f);
    q = ef_pod(f, v[0].id);
    assert_int_equal(q.state, GPF_POD_RUNNING);
    assert_int_equal(q.placement.mig_profile_id, 9);
    assert_int_equal(q.placement.mig_start, v[0].placement.mig_start);
    assert_int_equal(q.placement.mig_size, 4);
    assert_string_equal(q.placement.vgpu_type, "H100XM-3-40C");
    ef_launch(f, &f->alice, "vgpu3g", &v[2], GPF_ENOCAPACITY);
    ef_launch(f, &f->alice, "mig1g", &m, GPF_ENOCAPACITY);

    /* one stops: its instance is free for the type again, still not for a bare slice */
    f->now += 60 * 1000;
    assert_int_equal(gpf_engine_pod_stop(f->e, &f->alice, v[0].id, &q, &err), 0);
    ef_agent_says(f, v[0].id, GPF_POD_STOPPED, 0);
    ef_launch(f, &f->alice, "mig1g", &m, GPF_ENOCAPACITY);
    ef_launch(f, &f->alice, "vgpu3g", &v[2], 0);
    assert_int_equal(v[2].placement.mig_start, v[0].placement.mig_start);
    /* all gone: the GPU takes MIG slices again */
    ef_agent_says(f, v[1].id, GPF_POD_FAILED, 0);
    ef_agent_says(f, v[2].id, GPF_POD_FAILED, 0);
    ef_launch(f, &f->alice, "mig1g", &m, 0);
    assert_string_equal(m.placement.gpu_uuids[0], "GPU-00000001");
    assert_string_equal(m.placement.vgpu_type, "");

    gpf_usage *u = NULL;
    assert_int_equal(gpf_engine_usage_list(f->e, &f->admin, v[0].id, &u, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(u[0].gpu_milli, 428);
    assert_int_equal(u[0].slice_kind, GPF_SLICE_VGPU);
    gpf_free(u);
}

/* A GPU running time-sliced vGPUs shows them in the host's ledger use (GET /v1/gpus
 * allocated_milli): 1000 / max_per_gpu each, as their pods' gpu_milli. */
static void test_time_sliced_vgpu_in_host_usage(void **state)
{
    ef_fixture *f = *state;
    gpf_error err = {0};
    gpf_pod v[2];
    gpf_host_rec h;
    gpf_host_usage hu;
    assert_int_equal(ef_make_vgpu_sku(f, "ts20", "H100XM-20C", "H100-80GB", &err), 0);
    ef_launch(f, &f->alice, "ts20", &v[0], 0);
    ef_launch(f, &f->bob, "ts20", &v[1], 0);
    assert_string_equal(v[0].placement.gpu_uuids[0], v[1].placement.gpu_uuids[0]); /* packed on one GPU */
    assert_int_equal(v[0].placement.gpu_milli, 250);
    assert_int_equal(gpf_engine_host_get(f->e, "h1", &h, &hu, &err), 0);
    int g = 0;
    while (g < h.ngpus && strcmp(h.gpus[g].uuid, v[0].placement.gpu_uuids[0]) != 0)
        g++;
    assert_true(g < h.ngpus);
    assert_int_equal(hu.gpu_allocated_milli[g], 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lifecycle_and_usage, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_capacity_and_failure_frees, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_restart_recovers_everything, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_auth_and_roles, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_host_lost_after_missed_beats, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_start_timeout_fails_and_frees, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_placement_policy_option, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_mig_backed_vgpu_pods, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_time_sliced_vgpu_in_host_usage, ef_setup, ef_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
