/* Agents' pod status reports in batches (issue 16, item 12): the engine applies a batch in
 * one transaction under one lock hold, each report by the single report's rules; the codec
 * decodes POST /v1/agent/pods/status strictly; the API answers per report. Engine on a
 * real store (a fault store where a write must fail) with a fake clock. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "codec/codec.h"
#include "model/metrics.h"
#include "store/store_fault.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/httpc.h"

#include "helpers/engine_fixture.h"

/* An item: the pod and a state (running ones with an SSH port). */
static gpf_agent_status_item item(const char *pod_id, gpf_pod_state st)
{
    gpf_agent_status_item it;
    memset(&it, 0, sizeof it);
    snprintf(it.pod_id, sizeof it.pod_id, "%s", pod_id);
    it.st.state = st;
    if (st == GPF_POD_RUNNING)
        it.st.ssh_port = 22001;
    return it;
}

static gpf_metrics metrics(ef_fixture *f)
{
    gpf_metrics m;
    gpf_engine_metrics(f->e, &m);
    gpf_metrics m2 = m;
    m2.hosts = NULL;
    m2.nhosts = 0;
    gpf_metrics_clear(&m);
    return m2;
}

/* ---- engine ---------------------------------------------------------------------------- */

/* A report about a pod that is not on the agent's host is refused and counted; the other
 * reports of the batch are applied all the same. */
static void test_batch_foreign_pod(void **state)
{
    ef_fixture *f = *state;
    gpf_pod p1, p2;
    gpf_error err = {0}, res[3];
    ef_launch(f, &f->alice, "whole", &p1, 0);
    ef_launch(f, &f->bob, "mig1g", &p2, 0);
    uint64_t bad = metrics(f).bad_agent_reports_total;
    gpf_agent_status_item it[3] = {item(p1.id, GPF_POD_RUNNING), item("pod-not-here", GPF_POD_RUNNING),
                                   item(p2.id, GPF_POD_RUNNING)};
    assert_int_equal(gpf_engine_agent_pod_status_batch(f->e, &f->agent, it, 3, res, &err), 0);
    assert_int_equal(res[0].code, 0);
    assert_int_equal(res[1].code, GPF_ENOTFOUND);
    assert_non_null(strstr(res[1].msg, "pod-not-here"));
    assert_int_equal(res[2].code, 0);
    assert_int_equal(ef_pod(f, p1.id).state, GPF_POD_RUNNING);
    assert_int_equal(ef_pod(f, p2.id).state, GPF_POD_RUNNING);
    gpf_metrics m = metrics(f);
    assert_int_equal(m.bad_agent_reports_total, bad + 1);
    assert_int_equal(m.agent_status_requests[1], 1);
    assert_int_equal(m.agent_status_reports_total, 3);

    /* another host's agent: p1 is not on its host, refused and unchanged */
    gpf_host_rec h2 = ef_host_h100();
    gpf_principal agent2;
    snprintf(h2.id, sizeof h2.id, "h2");
    for (int i = 0; i < h2.ngpus; i++)
        h2.gpus[i].uuid[4] = 'Z';
    ef_register(f, &h2, &agent2);
    gpf_agent_status_item stop = item(p1.id, GPF_POD_STOPPED);
    assert_int_equal(gpf_engine_agent_pod_status_batch(f->e, &agent2, &stop, 1, res, &err), 0);
    assert_int_equal(res[0].code, GPF_ENOTFOUND);
    assert_int_equal(ef_pod(f, p1.id).state, GPF_POD_RUNNING);
    assert_int_equal(metrics(f).bad_agent_reports_total, bad + 2);
}

/* Two pods of h1 starting, and the batch that says both run. */
static ef_fixture *two_starting(gpf_pod *p1, gpf_pod *p2, gpf_agent_status_item *it)
{
    ef_fixture *f = ef_new(EF_FAULT);
    ef_launch(f, &f->alice, "whole", p1, 0);
    ef_launch(f, &f->bob, "mig1g", p2, 0);
    it[0] = item(p1->id, GPF_POD_RUNNING);
    it[1] = item(p2->id, GPF_POD_RUNNING);
    gpf_store_fault_reset(f->store);
    return f;
}

/* A store write that fails in the middle of a batch (the last before the commit: p2's,
 * after p1's were made): nothing of the batch is applied, p1's report neither, and the same
 * batch is taken once the store is healthy. */
static void test_batch_store_failure(void **state)
{
    (void)state;
    gpf_pod p1, p2;
    gpf_agent_status_item it[2];
    gpf_error err = {0}, res[2];
    ef_fixture *f = two_starting(&p1, &p2, it); /* first on a healthy store: how many writes */
    assert_int_equal(gpf_engine_agent_pod_status_batch(f->e, &f->agent, it, 2, res, &err), 0);
    long writes = gpf_store_fault_writes(f->store);
    assert_true(writes >= 4);
    ef_free(f);

    f = two_starting(&p1, &p2, it);
    uint64_t started = metrics(f).pods_started_total;
    assert_int_equal(gpf_store_fault_arm(f->store, writes - 1, GPF_STORE_FAULT_PERSISTENT, GPF_EIO), 0);
    assert_int_equal(gpf_engine_agent_pod_status_batch(f->e, &f->agent, it, 2, res, &err), GPF_EIO);
    assert_true(gpf_store_fault_failures(f->store) >= 1);
    assert_int_equal(ef_pod(f, p1.id).state, GPF_POD_STARTING);
    assert_int_equal(ef_pod(f, p2.id).state, GPF_POD_STARTING);
    gpf_metrics m = metrics(f);
    assert_int_equal(m.pods_started_total, started);
    assert_int_equal(m.agent_status_requests[1], 0);
    gpf_store_fault_reset(f->store);
    assert_int_equal(gpf_engine_agent_pod_status_batch(f->e, &f->agent, it, 2, res, &err), 0);
    assert_int_equal(ef_pod(f, p1.id).state, GPF_POD_RUNNING);
    assert_int_equal(ef_pod(f, p2.id).state, GPF_POD_RUNNING);
    assert_int_equal(metrics(f).pods_started_total, started + 2);
    ef_free(f);
}

/* Reports are applied in order: running then stopped for one pod in one batch is a pod
 * that ran (usage opened and closed) and stopped; the reverse order is a stopped pod (the
 * late running report changes nothing). */
static void test_batch_order(void **state)
{
    ef_fixture *f = *state;
    gpf_pod p1, p2;
    gpf_error err = {0}, res[2];
    ef_launch(f, &f->alice, "whole", &p1, 0);
    uint64_t started = metrics(f).pods_started_total;
    gpf_agent_status_item it[2] = {item(p1.id, GPF_POD_RUNNING), item(p1.id, GPF_POD_STOPPED)};
    assert_int_equal(gpf_engine_agent_pod_status_batch(f->e, &f->agent, it, 2, res, &err), 0);
    assert_int_equal(res[0].code + res[1].code, 0);
    gpf_pod got = ef_pod(f, p1.id);
    assert_int_equal(got.state, GPF_POD_STOPPED);
    assert_true(got.started_ms > 0);
    assert_int_equal(metrics(f).pods_started_total, started + 1);

    ef_launch(f, &f->alice, "whole", &p2, 0);
    gpf_agent_status_item rev[2] = {item(p2.id, GPF_POD_STOPPED), item(p2.id, GPF_POD_RUNNING)};
    assert_int_equal(gpf_engine_agent_pod_status_batch(f->e, &f->agent, rev, 2, res, &err), 0);
    got = ef_pod(f, p2.id);
    assert_int_equal(got.state, GPF_POD_STOPPED);
    assert_int_equal(got.started_ms, 0);
    assert_int_equal(metrics(f).pods_started_total, started + 1);
}

/* The single report is the batch of one: the same refusals, counted per endpoint. */
static void test_single_report_unchanged(void **state)
{
    ef_fixture *f = *state;
    gpf_pod p1;
    gpf_error err = {0};
    ef_launch(f, &f->alice, "whole", &p1, 0);
    ef_agent_says(f, "pod-not-here", GPF_POD_RUNNING, GPF_ENOTFOUND);
    ef_agent_says(f, p1.id, GPF_POD_RUNNING, 0);
    assert_int_equal(ef_pod(f, p1.id).state, GPF_POD_RUNNING);
    gpf_agent_pod_status st;
    memset(&st, 0, sizeof st);
    st.state = GPF_POD_PENDING;
    assert_int_equal(gpf_engine_agent_pod_status(f->e, &f->agent, p1.id, &st, &err), GPF_EINVAL);
    gpf_metrics m = metrics(f);
    assert_int_equal(m.agent_status_requests[0], 3);
    assert_int_equal(m.agent_status_requests[1], 0);
}

/* ---- codec ----------------------------------------------------------------------------- */

/* A batch body with one report more than a batch may hold. */
static void too_many(gpf_buf *b)
{
    gpf_buf_puts(b, "{\"reports\":[");
    for (int i = 0; i <= GPF_AGENT_STATUS_BATCH_MAX; i++)
        gpf_buf_printf(b, "%s{\"pod_id\":\"p%d\",\"state\":\"stopped\"}", i ? "," : "", i);
    gpf_buf_puts(b, "]}");
}

static int decode(const char *text, gpf_agent_status_item *out, size_t max, size_t *n, gpf_error *err)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    int rc = gpf_decode_agent_status_batch(j, out, max, n, err);
    json_decref(j);
    return rc;
}

static void test_codec_batch(void **state)
{
    (void)state;
    gpf_agent_status_item *it = gpf_calloc(GPF_AGENT_STATUS_BATCH_MAX, sizeof *it);
    gpf_error err = {0};
    size_t n = 0;
    assert_int_equal(decode("{\"reports\":[{\"pod_id\":\"p-1\",\"state\":\"running\",\"ssh_port\":22001,"
                            "\"ssh_user\":\"dev\",\"isolation\":\"device\",\"isolation_layers\":[\"userns\"]},"
                            "{\"pod_id\":\"p-2\",\"state\":\"stopped\",\"message\":\"bye\"}]}",
                            it, 4, &n, &err),
                     0);
    assert_int_equal(n, 2);
    assert_string_equal(it[0].pod_id, "p-1");
    assert_int_equal(it[0].st.state, GPF_POD_RUNNING);
    assert_int_equal(it[0].st.ssh_port, 22001);
    assert_int_equal(it[0].st.isolation, GPF_ISO_DEVICE);
    assert_true(it[0].st.has_isolation && it[0].st.has_isolation_layers);
    assert_string_equal(it[1].st.message, "bye");
    /* a message's control characters become spaces (as in a single report) */
    assert_int_equal(decode("{\"reports\":[{\"pod_id\":\"a\",\"state\":\"failed\",\"message\":\"x\\u0001y\"}]}", it, 4,
                            &n, &err),
                     0);
    assert_string_equal(it[0].st.message, "x y");
    assert_int_equal(decode("{\"reports\":[]}", it, 4, &n, &err), 0);
    assert_int_equal(n, 0);

    /* hostile or wrong shapes: the whole body is refused, the message names the report */
    static const struct {
        const char *body;
        int code;
        const char *says;
    } bad[] = {
        {"[]", GPF_EMALFORMED, "object"},
        {"{}", GPF_EINVAL, "reports"},
        {"{\"reports\":{}}", GPF_EINVAL, "array"},
        {"{\"reports\":[],\"x\":1}", GPF_EINVAL, "'x'"},
        {"{\"reports\":[1]}", GPF_EINVAL, "reports[0]"},
        {"{\"reports\":[{\"state\":\"running\"}]}", GPF_EINVAL, "reports[0].pod_id"},
        {"{\"reports\":[{\"pod_id\":\"a\",\"state\":\"running\"},{\"pod_id\":\"../x\",\"state\":\"running\"}]}",
         GPF_EINVAL, "reports[1].pod_id"},
        {"{\"reports\":[{\"pod_id\":\"a\",\"state\":\"pending\"}]}", GPF_EINVAL, "reports[0].state"},
        {"{\"reports\":[{\"pod_id\":\"a\",\"state\":\"running\",\"ssh_port\":70000}]}", GPF_EINVAL,
         "reports[0].ssh_port"},
        {"{\"reports\":[{\"pod_id\":\"a\",\"state\":\"running\",\"id\":\"b\"}]}", GPF_EINVAL, "reports[0].id"},
        {"{\"reports\":[{\"pod_id\":\"a\",\"state\":\"running\",\"ssh_host_key\":\"nope\"}]}", GPF_EINVAL,
         "reports[0].ssh_host_key"},
        {"{\"reports\":[{\"pod_id\":\"a\",\"state\":\"failed\",\"message\":5}]}", GPF_EINVAL, "reports[0].message"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gpf_error_clear(&err);
        if (decode(bad[i].body, it, 4, &n, &err) != bad[i].code || !strstr(err.msg, bad[i].says))
            fail_msg("%s: got %d \"%s\", want %d naming %s", bad[i].body, err.code, err.msg, bad[i].code,
                     bad[i].says);
    }
    /* more than max: too large, nothing decoded */
    gpf_buf b = {0};
    too_many(&b);
    assert_int_equal(decode(gpf_buf_cstr(&b), it, GPF_AGENT_STATUS_BATCH_MAX, &n, &err), GPF_ETOOLARGE);
    assert_int_equal(n, 0);
    gpf_buf_clear(&b);
    gpf_free(it);
}

/* ---- API ------------------------------------------------------------------------------- */

static int post(int port, const char *token, const char *path, const char *body, json_t **resp, gpf_error *err)
{
    char url[64];
    gpf_httpc *c = NULL;
    int st = 0;
    json_t *b = json_loads(body, 0, NULL);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    assert_int_equal(gpf_httpc_new(url, token, &c, err), 0);
    int rc = gpf_httpc_request(c, "POST", path, b, &st, resp, err);
    gpf_httpc_free(c);
    json_decref(b);
    return rc;
}

/* POST /v1/agent/pods/status answers per report; a body too large for one batch is 413;
 * the single endpoint still works (old agents). */
static void test_api_batch(void **state)
{
    ef_fixture *f = *state;
    gpf_pod p1, p2;
    gpf_error err = {0};
    json_t *resp = NULL;
    int port = 0;
    ef_launch(f, &f->alice, "whole", &p1, 0);
    ef_launch(f, &f->bob, "mig1g", &p2, 0);
    struct gpf_api *api = ef_api_start(f, &port);
    const char *tok = ef_credential(f, "h1");
    char body[512];
    snprintf(body, sizeof body,
             "{\"reports\":[{\"pod_id\":\"%s\",\"state\":\"running\",\"ssh_port\":22001},"
             "{\"pod_id\":\"pod-not-here\",\"state\":\"running\"}]}",
             p1.id);
    assert_int_equal(post(port, tok, "/v1/agent/pods/status", body, &resp, &err), 0);
    json_t *res = json_object_get(resp, "results");
    assert_int_equal(json_array_size(res), 2);
    assert_true(json_is_true(json_object_get(json_array_get(res, 0), "ok")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(res, 0), "pod_id")), p1.id);
    assert_true(json_is_false(json_object_get(json_array_get(res, 1), "ok")));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(res, 1), "status")), 404);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_array_get(res, 1), "error"), "code")), "not_found");
    assert_int_equal(json_integer_value(json_object_get(resp, "taken")), 1);
    assert_int_equal(json_integer_value(json_object_get(resp, "refused")), 1);
    json_decref(resp);
    resp = NULL;
    assert_int_equal(ef_pod(f, p1.id).state, GPF_POD_RUNNING);

    gpf_buf b = {0};
    too_many(&b);
    assert_int_equal(post(port, tok, "/v1/agent/pods/status", gpf_buf_cstr(&b), &resp, &err), GPF_ETOOLARGE);
    gpf_buf_clear(&b);
    /* a user's token may not report */
    assert_int_equal(post(port, f->admin_tok, "/v1/agent/pods/status", "{\"reports\":[]}", &resp, &err),
                     GPF_EFORBIDDEN);

    char path[128];
    snprintf(path, sizeof path, "/v1/agent/pods/%s/status", p2.id);
    assert_int_equal(post(port, tok, path, "{\"state\":\"running\",\"ssh_port\":22002}", &resp, &err), 0);
    json_decref(resp);
    assert_int_equal(ef_pod(f, p2.id).state, GPF_POD_RUNNING);
    gpf_api_stop(api);
    gpf_metrics m = metrics(f);
    assert_int_equal(m.agent_status_requests[0], 1);
    assert_int_equal(m.agent_status_requests[1], 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batch_foreign_pod, ef_setup, ef_teardown),
        cmocka_unit_test(test_batch_store_failure),
        cmocka_unit_test_setup_teardown(test_batch_order, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_single_report_unchanged, ef_setup, ef_teardown),
        cmocka_unit_test(test_codec_batch),
        cmocka_unit_test_setup_teardown(test_api_batch, ef_setup, ef_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
