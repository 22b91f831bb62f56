/* The agent's pod status reports (issue 16, item 12): a real agent loop (fake GPU backend,
 * fake runtime) against a canned control plane (helpers/fake_http). Two pods to start come
 * in one command answer; the agent sends their running reports as batches to POST
 * /v1/agent/pods/status, never one request per report; a batch the control plane does not
 * take (503) is sent again, in order, and every report arrives exactly once. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "codec/codec.h"
#include "util/alloc.h"
#include "util/config.h"

#include "helpers/fake_http.h"

typedef struct run {
    gpf_agent_config cfg;
    volatile sig_atomic_t stop; /* never set: the agent ends when its registration is refused */
    int rc;
} run;

static void *agent_main(void *arg)
{
    run *r = arg;
    gpf_error err = {0};
    r->rc = gpf_agent_run(&r->cfg, &r->stop, &err);
    return NULL;
}

/* A start_pod command for pod id: a 1/100 share of GPU 0 of the demo host gpu-h100-a. */
static json_t *start_cmd(const char *id)
{
    gpf_pod p;
    memset(&p, 0, sizeof p);
    snprintf(p.id, sizeof p.id, "%s", id);
    snprintf(p.owner, sizeof p.owner, "alice");
    p.state = GPF_POD_STARTING;
    p.slice.kind = GPF_SLICE_SHARE;
    p.slice.share_milli = 10;
    p.placed = 1;
    snprintf(p.placement.host_id, sizeof p.placement.host_id, "gpu-h100-a");
    p.placement.ngpus = 1;
    p.placement.gpu_index[0] = 0;
    p.placement.share_milli = 10;
    p.placement.mig_profile_id = -1;
    p.placement.numa_node = -1;
    return json_pack("{s:i, s:s, s:o}", "seq", 1, "type", "start_pod", "pod", gpf_json_agent_pod(&p, "", ""));
}

/* The pod ids of a recorded batch body, in order, joined by ' ' into out. */
static void batch_ids(const char *body, char *out, size_t size)
{
    json_t *j = json_loads(body, 0, NULL);
    size_t i = 0;
    json_t *r = NULL;
    out[0] = '\0';
    assert_non_null(j);
    json_array_foreach(json_object_get(j, "reports"), i, r)
    {
        assert_string_equal(json_string_value(json_object_get(r, "state")), "running");
        size_t n = strlen(out);
        snprintf(out + n, size - n, "%s%s", n ? " " : "", json_string_value(json_object_get(r, "pod_id")));
    }
    json_decref(j);
}

static void test_reports_batched_and_retried(void **state)
{
    (void)state;
    gpf_test_http *srv = gpf_test_http_start();
    char url[64], dir[] = "/tmp/gpf-agent-reports.XXXXXX";
    assert_non_null(mkdtemp(dir));
    snprintf(url, sizeof url, "http://127.0.0.1:%d", gpf_test_http_port(srv));

    json_t *cmds = json_pack("{s:i, s:[o,o]}", "seq", 1, "commands", start_cmd("pod-a"), start_cmd("pod-b"));
    char *cmds_body = json_dumps(cmds, JSON_COMPACT);
    json_decref(cmds);
    static const char reg[] = "{\"host_id\":\"gpu-h100-a\",\"agent_token\":\"gpfagent_test\",\"heartbeat_ms\":5000}";
    static const char busy[] = "{\"error\":{\"code\":\"unavailable\",\"message\":\"the store is busy\"}}";
    static const char taken[] = "{\"results\":[],\"taken\":0,\"refused\":0}";
    static const char none[] = "{\"seq\":1,\"commands\":[]}";
    static const char gone[] = "{\"error\":{\"code\":\"unauthenticated\",\"message\":\"unknown token\"}}";
    gpf_test_http_route(srv, (gpf_test_route){"POST", "/v1/agent/register", 200, reg, 0, 0, 1});
    gpf_test_http_route(srv, (gpf_test_route){"POST", "/v1/agent/heartbeat", 200, "{\"ok\":true}", 0, 0, 0});
    gpf_test_http_route(srv, (gpf_test_route){"GET", "/v1/agent/commands?after=0*", 200, cmds_body, 0, 0, 1});
    /* then ten empty polls of at least 100 ms each (the retry is due after 500 ms), then the
     * agent's token and a new registration are refused: the agent ends (no flag shared
     * with this thread) */
    gpf_test_http_route(srv, (gpf_test_route){"GET", "/v1/agent/commands*", 200, none, 0, 100, 10});
    gpf_test_http_route(srv, (gpf_test_route){"GET", "/v1/agent/commands*", 401, gone, 0, 0, 0});
    gpf_test_http_route(srv, (gpf_test_route){"POST", "/v1/agent/register", 401, gone, 0, 0, 0});
    gpf_test_http_route(srv, (gpf_test_route){"POST", "/v1/agent/pods/status", 503, busy, 0, 0, 1});
    gpf_test_http_route(srv, (gpf_test_route){"POST", "/v1/agent/pods/status", 200, taken, 0, 0, 0});

    run *r = GPF_NEW(run);
    gpf_error err = {0};
    int dump = 0, help = 0;
    char *argv[] = {"--server", url, "--join-token", "gpfjoin_test", "--host-id", "gpu-h100-a", "--state-dir", dir,
                    "--runtime", "fake", "--backend", "fake", "--log-level", "error", NULL};
    assert_int_equal(gpf_config_load(gpf_agent_options, &r->cfg, 14, argv, &dump, &help, &err), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, agent_main, r), 0);
    pthread_join(th, NULL);
    assert_int_equal(r->rc, GPF_EUNAUTH);

    char first[256] = "", all[512] = "", ids[256];
    int nbatch = 0;
    for (int i = 0; i < gpf_test_http_nreqs(srv); i++) {
        const gpf_test_req *q = gpf_test_http_req(srv, i);
        if (strstr(q->path, "/v1/agent/pods/") && strcmp(q->path, "/v1/agent/pods/status") != 0)
            fail_msg("a report went alone: %s %s", q->method, q->path);
        if (strcmp(q->path, "/v1/agent/pods/status") != 0)
            continue;
        assert_string_equal(q->method, "POST");
        assert_string_equal(q->auth, "Bearer gpfagent_test");
        batch_ids(q->body, ids, sizeof ids);
        if (nbatch++ == 0) {
            snprintf(first, sizeof first, "%s", ids); /* refused (503): sent again */
            continue;
        }
        size_t n = strlen(all);
        snprintf(all + n, sizeof all - n, "%s%s", n ? " " : "", ids);
    }
    assert_true(nbatch >= 2);
    /* the refused batch came again first, whole and in order, and each report once */
    assert_true(first[0] != '\0');
    assert_memory_equal(all, first, strlen(first));
    assert_string_equal(all, "pod-a pod-b");

    gpf_test_http_stop(srv);
    free(cmds_body);
    gpf_free(r);
    char rm[128];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    assert_int_equal(system(rm), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reports_batched_and_retried),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
