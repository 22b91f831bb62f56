/* What issue 16 (items 6 and 9) adds: an agent states the most pods it runs and placement
 * never books a host past it; a SKU's env is checked by one rule (model/fleet.h) that the
 * API and the agent both keep, so whatever the API accepts an agent can run. Model, codec,
 * engine, store and the agent's sshd_config writer. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "agent/runtime_process_int.h"
#include "codec/codec.h"
#include "engine/engine.h"
#include "model/fleet.h"
#include "util/buf.h"

#include "helpers/engine_fixture.h"

#define assert_contains(s, sub)                                                                \
    do {                                                                                       \
        if (!strstr((s), (sub)))                                                               \
            fail_msg("'%s' does not contain '%s'", (s), (sub));                                \
    } while (0)

#define LIMIT_MSG "1 at their agent's pod limit (host h1 runs at most 3 pods)"

/* ---- agent capacity ------------------------------------------------------ */

static void test_pods_max_rule(void **state)
{
    (void)state;
    gpf_host_rec h;
    memset(&h, 0, sizeof h);
    assert_int_equal(gpf_host_pods_max(&h), GPF_AGENT_MAX_PODS); /* not stated: the protocol's limit */
    h.max_pods = 3;
    assert_int_equal(gpf_host_pods_max(&h), 3);
    h.max_pods = 16384; /* more than one heartbeat carries */
    assert_int_equal(gpf_host_pods_max(&h), GPF_AGENT_MAX_PODS);
    assert_int_equal(gpf_host_pods_max(NULL), GPF_AGENT_MAX_PODS);
}

static void test_register_codec(void **state)
{
    (void)state;
    gpf_error err = {0};
    gpf_host_rec h;
    json_error_t jerr;
    json_t *j = json_loads("{\"host\":{\"id\":\"a\",\"cpus\":1,\"memory_mib\":1,\"max_pods\":3}}", 0, &jerr);
    assert_int_equal(gpf_decode_agent_host(j, &h, &err), 0);
    json_decref(j);
    assert_int_equal(h.max_pods, 3);
    j = gpf_json_agent_host(&h); /* what the agent sends */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "host"), "max_pods")), 3);
    json_decref(j);
    j = gpf_json_host(&h, NULL); /* host show / ls --json */
    assert_int_equal(json_integer_value(json_object_get(j, "max_pods")), 3);
    json_decref(j);

    /* an older agent says nothing: 0 stored, the protocol's limit shown */
    j = json_loads("{\"host\":{\"id\":\"a\",\"cpus\":1,\"memory_mib\":1}}", 0, &jerr);
    assert_int_equal(gpf_decode_agent_host(j, &h, &err), 0);
    json_decref(j);
    assert_int_equal(h.max_pods, 0);
    j = gpf_json_agent_host(&h);
    assert_null(json_object_get(json_object_get(j, "host"), "max_pods"));
    json_decref(j);
    j = gpf_json_host(&h, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "max_pods")), GPF_AGENT_MAX_PODS);
    json_decref(j);

    const char *bad[] = {"0", "-1", "\"3\"", "1048577"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[160];
        snprintf(body, sizeof body, "{\"host\":{\"id\":\"a\",\"cpus\":1,\"memory_mib\":1,\"max_pods\":%s}}", bad[i]);
        j = json_loads(body, 0, &jerr);
        assert_non_null(j);
        assert_int_equal(gpf_decode_agent_host(j, &h, &err), GPF_EINVAL);
        assert_contains(err.msg, "max_pods");
        json_decref(j);
    }
}

static void make_share_sku(ef_fixture *f, const char *name)
{
    gpf_sku k;
    gpf_error err = {0};
    memset(&k, 0, sizeof k);
    snprintf(k.name, sizeof k.name, "%s", name);
    k.slice.kind = GPF_SLICE_SHARE;
    k.slice.gpu_count = 1;
    k.slice.share_milli = 10;
    k.cpus = 0;
    k.memory_mib = 16;
    k.min_isolation = GPF_ISO_DEVICE;
    assert_int_equal(gpf_engine_sku_create(f->e, &f->admin, &k, NULL, &err), 0);
}

/* The fixture's host h1 (two H100s, GPU 1 in MIG mode) stating that its agent runs at most
 * max pods; h2 a copy of it, stating nothing. */
static void register_h1(ef_fixture *f, int max)
{
    gpf_host_rec h = ef_host_h100();
    h.max_pods = max;
    ef_register(f, &h, &f->agent);
}

static void register_h2(ef_fixture *f)
{
    gpf_principal agent2;
    gpf_host_rec h = ef_host_h100();
    snprintf(h.id, sizeof h.id, "h2");
    for (int i = 0; i < h.ngpus; i++)
        snprintf(h.gpus[i].uuid, sizeof h.gpus[i].uuid, "GPU-1000000%d", i);
    ef_register(f, &h, &agent2);
}

static int launch(ef_fixture *f, const char *sku, gpf_pod *p, gpf_error *err)
{
    gpf_launch_req req;
    memset(&req, 0, sizeof req);
    snprintf(req.sku, sizeof req.sku, "%s", sku);
    return gpf_engine_pod_launch(f->e, &f->alice, &req, p, err);
}

static void test_placement_keeps_pod_limit(void **state)
{
    ef_fixture *f = *state;
    gpf_error err = {0};
    gpf_pod p, first;
    register_h1(f, 3);
    make_share_sku(f, "tiny");

    /* three tiny shares fit (GPU 0 has room for a hundred): the fourth is refused, saying why */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(launch(f, "tiny", &p, &err), 0);
        assert_string_equal(p.placement.host_id, "h1");
        if (i == 0)
            first = p;
    }
    assert_int_equal(launch(f, "tiny", &p, &err), GPF_ENOCAPACITY);
    assert_contains(err.msg, LIMIT_MSG);
    /* whatever the slice and the ranking: a whole GPU (scored policy), a MIG slice (geometry) */
    assert_int_equal(launch(f, "whole", &p, &err), GPF_ENOCAPACITY);
    assert_contains(err.msg, LIMIT_MSG);
    assert_int_equal(launch(f, "mig1g", &p, &err), GPF_ENOCAPACITY);
    assert_contains(err.msg, LIMIT_MSG);

    /* the count is of live pods: stopping one makes room */
    assert_int_equal(gpf_engine_pod_stop(f->e, &f->alice, first.id, NULL, &err), 0);
    ef_agent_says(f, first.id, GPF_POD_STOPPED, 0);
    assert_int_equal(launch(f, "tiny", &p, &err), 0);
    assert_string_equal(p.placement.host_id, "h1");
    assert_int_equal(launch(f, "tiny", &p, &err), GPF_ENOCAPACITY);

    /* kept across a restart: the limit stored with the host, the count rebuilt from the pods */
    ef_close(f);
    ef_open(f);
    gpf_host_rec h;
    assert_int_equal(gpf_engine_host_get(f->e, "h1", &h, NULL, &err), 0);
    assert_int_equal(h.max_pods, 3);
    assert_int_equal(launch(f, "tiny", &p, &err), GPF_ENOCAPACITY);
    assert_contains(err.msg, LIMIT_MSG);

    /* another host takes what h1 cannot */
    register_h2(f);
    assert_int_equal(launch(f, "tiny", &p, &err), 0);
    assert_string_equal(p.placement.host_id, "h2");

    /* an agent that says it runs more now: h1 takes pods again */
    register_h1(f, 4);
    assert_int_equal(gpf_engine_host_get(f->e, "h1", &h, NULL, &err), 0);
    assert_int_equal(h.max_pods, 4);
    int on_h1 = 0;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(launch(f, "tiny", &p, &err), 0);
        on_h1 += strcmp(p.placement.host_id, "h1") == 0;
    }
    assert_int_equal(on_h1, 1);
}

/* ---- one env rule -------------------------------------------------------- */

static void test_env_rule(void **state)
{
    (void)state;
    char why[GPF_TEXT_MAX];
    const char *good[] = {"", "A=1", "A=1;B=2", "_X9=a b/c:d,e", "A=", "LANG=C.UTF-8;TZ=UTC"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (!gpf_sku_env_valid(good[i], why, sizeof why))
            fail_msg("'%s' refused: %s", good[i], why);
        assert_string_equal(why, "");
    }
    static const struct {
        const char *env, *why;
    } bad[] = {
        {"A=\"x", "environment value of A has a quote, backslash, '%' or control character"},
        {"A=x\\y", "environment value of A has a quote"},
        {"A=50%", "environment value of A has a quote"},
        {"A=x\ny", "environment value of A has a quote"},
        {"A=1;B", "environment entry 'B' is not KEY=VALUE"},
        {"=2", "environment entry '=2' is not KEY=VALUE"},
        {"A=1;", "environment has an empty entry"},
        {"A=1;;B=2", "environment has an empty entry"},
        {"1A=2", "environment name '1A' is not a valid name"},
        {"A-B=2", "environment name 'A-B' is not a valid name"},
        {"PATH=/x", "environment name PATH is set by the runtime"},
        {"X=1;CUDA_VISIBLE_DEVICES=0", "environment name CUDA_VISIBLE_DEVICES is set by the runtime"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(gpf_sku_env_valid(bad[i].env, why, sizeof why), 0);
        assert_contains(why, bad[i].why);
    }
    char longenv[GPF_TEXT_MAX + 8];
    memset(longenv, 'a', sizeof longenv);
    memcpy(longenv, "A=", 2);
    longenv[GPF_TEXT_MAX] = '\0';
    assert_int_equal(gpf_sku_env_valid(longenv, why, sizeof why), 0);
    assert_contains(why, "longer than the limit");
    assert_int_equal(gpf_sku_env_valid("A=\"", NULL, 0), 0); /* why is optional */
    assert_true(gpf_sku_env_reserved("HOME"));
    assert_false(gpf_sku_env_reserved("HOMEDIR"));
}

/* The API refuses what the agent would refuse: the codec (422 before the engine) and the
 * engine itself (any caller), for a create and an update. */
static void test_sku_env_refused(void **state)
{
    ef_fixture *f = *state;
    gpf_error err = {0};
    gpf_sku k, got;
    json_error_t jerr;
    json_t *j = json_loads("{\"name\":\"q\",\"slice\":{\"kind\":\"whole\"},\"env\":\"A=\\\"x\"}", 0, &jerr);
    assert_non_null(j);
    assert_int_equal(gpf_decode_sku_create(j, &k, &err), GPF_EINVAL);
    assert_contains(err.msg, "environment value of A has a quote");
    json_decref(j);

    memset(&k, 0, sizeof k);
    snprintf(k.name, sizeof k.name, "q");
    k.slice.kind = GPF_SLICE_WHOLE;
    k.slice.gpu_count = 1;
    k.cpus = 1;
    k.memory_mib = 1024;
    snprintf(k.env, sizeof k.env, "A=\"x");
    assert_int_equal(gpf_engine_sku_create(f->e, &f->admin, &k, NULL, &err), GPF_EINVAL);
    assert_string_equal(err.msg, "env: environment value of A has a quote, backslash, '%' or control character");
    assert_int_equal(gpf_engine_sku_get(f->e, "q", &got, &err), GPF_ENOTFOUND);
    snprintf(k.env, sizeof k.env, "HOME=/root");
    assert_int_equal(gpf_engine_sku_create(f->e, &f->admin, &k, NULL, &err), GPF_EINVAL);
    assert_contains(err.msg, "HOME is set by the runtime");

    snprintf(k.env, sizeof k.env, "A=x");
    assert_int_equal(gpf_engine_sku_create(f->e, &f->admin, &k, NULL, &err), 0);
    snprintf(k.env, sizeof k.env, "A=x;B=%%d");
    assert_int_equal(gpf_engine_sku_update(f->e, &f->admin, &k, NULL, &err), GPF_EINVAL);
    assert_contains(err.msg, "environment value of B");
    assert_int_equal(gpf_engine_sku_get(f->e, "q", &got, &err), 0);
    assert_string_equal(got.env, "A=x");
}

/* The agent keeps the same rule before it writes sshd_config's SetEnv. */
static void test_agent_env_refused(void **state)
{
    (void)state;
    gpf_error err = {0};
    gpf_buf b = {0};
    assert_int_equal(gpf_rtproc_append_sku_env(&b, "A=\"x", &err), GPF_EINVAL);
    assert_string_equal(err.msg, "environment value of A has a quote, backslash, '%' or control character");
    assert_int_equal(gpf_rtproc_append_sku_env(&b, "HOME=/x", &err), GPF_EINVAL);
    assert_contains(err.msg, "HOME is set by the runtime");
    assert_string_equal(gpf_buf_cstr(&b), "");
    assert_int_equal(gpf_rtproc_append_sku_env(&b, "A=1;B=two words", &err), 0);
    assert_string_equal(gpf_buf_cstr(&b), " \"A=1\" \"B=two words\"");
    gpf_buf_clear(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pods_max_rule),
        cmocka_unit_test(test_register_codec),
        cmocka_unit_test_setup_teardown(test_placement_keeps_pod_limit, ef_setup, ef_teardown),
        cmocka_unit_test(test_env_rule),
        cmocka_unit_test_setup_teardown(test_sku_env_refused, ef_setup, ef_teardown),
        cmocka_unit_test(test_agent_env_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
