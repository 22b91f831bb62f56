/* The CLI's side of issue 14: `image import|ls|show|rm`, `sku create --image
 * --min-isolation`, the isolation column of `host ls`, and pods' SSH host keys: the
 * known_hosts file beside the config (ssh's options when a key is known: test_cli.c), and
 * `pod show` writing the key so that the ssh line it prints works as pasted. Commands run through
 * gpf_cli_main against the fake HTTP server (helpers/cli_fixture.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/alloc.h"

#include "helpers/cli_fixture.h"

#define assert_contains(s, sub)                                                                \
    do {                                                                                       \
        if (!strstr((s), (sub)))                                                               \
            fail_msg("'%s' does not contain '%s'", (s), (sub));                                \
    } while (0)

static const char *const KEY1 =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICjfWZ3RJ6YtHerOPV1g1fvB5jmD93MJSqBDcPVubXAs root@pod";
static const char *const KEY1_BARE = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICjfWZ3RJ6YtHerOPV1g1fvB5jmD93MJSqBDcPVubXAs";
static const char *const KEY2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGHXu3IWxH6K3iri/6oe/CHL4Mznqp505ka5RCvX27Yb";

/* ---- image ------------------------------------------------------------------------- */

static const char IMAGE_JSON[] =
    "{\"name\":\"cuda\",\"digest\":\"sha256:1111111111111111111111111111111111111111111111111111111111111111\","
    "\"size_bytes\":123456789,\"source\":\"/srv/images/cuda\",\"created_at\":\"2026-01-02T03:04:05.000Z\"";

static void test_image_import(void **state)
{
    (void)state;
    char created[512], replaced[600], cwd[1024], want[1400];
    snprintf(created, sizeof created, "%s,\"replaced\":false,\"previous_digest\":null}", IMAGE_JSON);
    snprintf(replaced, sizeof replaced,
             "%s,\"replaced\":true,\"previous_digest\":\"sha256:2222222222222222222222222222222222222222222222222222222222222222\"}",
             IMAGE_JSON);
    cf_write_config("t", "");
    gpf_test_http_route(cf_srv, (gpf_test_route){.method = "POST", .path = "/v1/images", .status = 201,
                                                 .body = created, .uses = 1});
    CF_ROUTE("POST", "/v1/images", 200, replaced);

    /* a relative path is made absolute: the control plane reads it, not this shell */
    struct cf_run r = cf_run_cli("image", "import", "./layouts/cuda:12", "--name", "cuda", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "imported image cuda: sha256:1111111111111111111111111111111111111111111111111111111111111111, 117.7MiB\n");
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(want, sizeof want, "{\"name\":\"cuda\",\"source\":\"%s/layouts/cuda:12\"}", cwd);
    assert_string_equal(gpf_test_http_req(cf_srv, 0)->body, want);
    cf_run_free(&r);

    /* absolute paths and registry references go as they are; a replacement says so */
    r = cf_run_cli("image", "import", "docker://nvcr.io/nvidia/cuda:12.4.1", "--name", "cuda", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "replaced image cuda: sha256:1111");
    assert_contains(r.out, "(was sha256:2222");
    assert_string_equal(gpf_test_http_req(cf_srv, 1)->body,
                        "{\"name\":\"cuda\",\"source\":\"docker://nvcr.io/nvidia/cuda:12.4.1\"}");
    cf_run_free(&r);
    r = cf_run_cli("image", "import", "/srv/x.tar", "--name", "x", "--json", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "\"replaced\": true");
    cf_run_free(&r);

    r = cf_run_cli("image", "import", "/srv/x", NULL);
    assert_int_equal(r.rc, GPF_EXIT_USAGE);
    assert_contains(r.err, "needs --name NAME");
    cf_run_free(&r);
    r = cf_run_cli("image", "import", "--name", "x", NULL);
    assert_int_equal(r.rc, GPF_EXIT_USAGE);
    cf_run_free(&r);
}

static void test_image_ls_show_rm(void **state)
{
    (void)state;
    char list[600], one[600];
    snprintf(list, sizeof list, "{\"images\":[%s}]}", IMAGE_JSON);
    snprintf(one, sizeof one, "%s}", IMAGE_JSON);
    cf_write_config("t", "");
    CF_ROUTE("GET", "/v1/images", 200, list);
    CF_ROUTE("GET", "/v1/images/cuda", 200, one);
    CF_ROUTE("DELETE", "/v1/images/cuda", 409,
             "{\"error\":{\"code\":\"conflict\",\"message\":\"image 'cuda' is used by SKU a100: change or delete it first\"}}");
    CF_ROUTE("DELETE", "/v1/images/old", 204, NULL);

    struct cf_run r = cf_run_cli("image", "ls", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "NAME  DIGEST               SIZE      IMPORTED             SOURCE\n"
                               "cuda  sha256:111111111111  117.7MiB  2026-01-02 03:04:05  /srv/images/cuda\n");
    cf_run_free(&r);
    r = cf_run_cli("image", "ls", "--json", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "\"size_bytes\": 123456789");
    cf_run_free(&r);
    r = cf_run_cli("image", "show", "cuda", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "digest    sha256:1111111111111111111111111111111111111111111111111111111111111111\n");
    assert_contains(r.out, "source    /srv/images/cuda\n");
    cf_run_free(&r);
    r = cf_run_cli("image", "rm", "cuda", NULL);
    assert_int_equal(r.rc, GPF_EXIT_CONFLICT);
    assert_true(cf_one_line(r.err));
    assert_contains(r.err, "used by SKU a100");
    cf_run_free(&r);
    r = cf_run_cli("image", "rm", "old", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "deleted image old\n");
    cf_run_free(&r);
    r = cf_run_cli("image", "frobnicate", NULL);
    assert_int_equal(r.rc, GPF_EXIT_USAGE);
    cf_run_free(&r);
}

static void test_sku_create_image_flags(void **state)
{
    (void)state;
    cf_write_config("t", "");
    CF_ROUTE("POST", "/v1/skus", 201, "{\"name\":\"a100\"}");
    struct cf_run r = cf_run_cli("sku", "create", "--name", "a100", "--image", "cuda", "--min-isolation", "hardware",
                                 NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(gpf_test_http_req(cf_srv, 0)->body,
                        "{\"name\":\"a100\",\"slice\":{\"kind\":\"whole\"},\"image\":\"cuda\",\"min_isolation\":\"hardware\"}");
    cf_run_free(&r);
}

static void test_host_ls_isolation(void **state)
{
    (void)state;
    cf_write_config("t", "");
    CF_ROUTE("GET", "/v1/hosts", 200,
             "{\"hosts\":[{\"id\":\"gpu-a\",\"address\":\"10.0.0.1\",\"deploy_mode\":\"baremetal\",\"state\":\"ready\","
             "\"schedulable\":true,\"isolation_max\":\"soft\",\"gpus\":[],\"cpus\":8,\"cpus_used\":0,"
             "\"memory_mib\":1024,\"memory_mib_used\":0,\"drift\":[],\"preflight\":{\"verdict\":\"pass\"}}]}");
    struct cf_run r = cf_run_cli("host", "ls", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "PREFLIGHT  ISOLATION  GPUS");
    assert_contains(r.out, "pass       soft       0");
    cf_run_free(&r);
}

/* ---- known_hosts ------------------------------------------------------------------- */

static void test_known_hosts_file(void **state)
{
    (void)state;
    char path[256], want[1024];
    gpf_error err = {0};
    struct stat st;
    snprintf(path, sizeof path, "%s/newdir/known_hosts", cf_tmpdir);
    assert_int_equal(gpf_cli_known_hosts_put(path, "10.0.0.5", 2201, KEY1, &err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *text = cf_slurp(path);
    snprintf(want, sizeof want, "[10.0.0.5]:2201 %s\n", KEY1_BARE); /* the comment is dropped */
    assert_string_equal(text, want);
    free(text);

    /* another pod, a line of the user's own, then the first pod with a new key */
    assert_int_equal(gpf_cli_known_hosts_put(path, "10.0.0.5", 2202, KEY2, &err), 0);
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputs("# mine\n[10.0.0.5]:22010 ssh-rsa AAAAB3NzaC1yc2E\n", f);
    fclose(f);
    assert_int_equal(gpf_cli_known_hosts_put(path, "10.0.0.5", 2201, KEY2, &err), 0);
    text = cf_slurp(path);
    snprintf(want, sizeof want,
             "[10.0.0.5]:2202 %s\n# mine\n[10.0.0.5]:22010 ssh-rsa AAAAB3NzaC1yc2E\n[10.0.0.5]:2201 %s\n", KEY2, KEY2);
    assert_string_equal(text, want);
    free(text);
    /* the same key again changes nothing */
    assert_int_equal(gpf_cli_known_hosts_put(path, "10.0.0.5", 2201, KEY2, &err), 0);
    text = cf_slurp(path);
    assert_string_equal(text, want);
    free(text);
    /* port 22 is looked up as the bare host */
    assert_int_equal(gpf_cli_known_hosts_put(path, "pod.example.net", 22, KEY1, &err), 0);
    text = cf_slurp(path);
    snprintf(want, sizeof want, "\npod.example.net %s\n", KEY1_BARE);
    assert_contains(text, want);
    free(text);

    assert_int_equal(gpf_cli_known_hosts_put(path, "a b", 22, KEY1, &err), GPF_EINVAL);
    assert_int_equal(gpf_cli_known_hosts_put(path, "-oProxyCommand=x", 22, KEY1, &err), GPF_EINVAL);
    assert_int_equal(gpf_cli_known_hosts_put(path, "h", 0, KEY1, &err), GPF_EINVAL);
    assert_int_equal(gpf_cli_known_hosts_put(path, "h", 22, "ssh-ed25519 AAAA", &err), GPF_EINVAL);

    /* beside the config file */
    assert_int_equal(gpf_cli_known_hosts_path(path, sizeof path, &err), 0);
    snprintf(want, sizeof want, "%s/cfg/known_hosts", cf_tmpdir);
    assert_string_equal(path, want);
}

/* A running pod as the API shows it; key NULL: none reported. */
static char *pod_json(const char *key)
{
    char *s = gpf_calloc(1, 2048);
    snprintf(s, 2048,
             "{\"id\":\"pod-1\",\"owner\":\"alice\",\"state\":\"running\",\"isolation\":\"hardware\","
             "\"isolation_layers\":[\"userns\",\"seccomp\"],\"image\":{\"name\":\"default\",\"digest\":"
             "\"sha256:3333333333333333333333333333333333333333333333333333333333333333\"},"
             "\"ssh\":{\"host\":\"10.0.0.5\",\"port\":2201,\"user\":\"dev\",\"command\":\"ssh -p 2201 dev@10.0.0.5\","
             "\"host_key\":%s%s%s,\"host_key_fingerprint\":%s}}",
             key ? "\"" : "", key ? key : "null", key ? "\"" : "",
             key ? "\"SHA256:vubjgdpGu5DX33whwJQmNH0qGlFeD/tas4uYn0qKBZg\"" : "null");
    return s;
}

static void test_pod_show_writes_known_hosts(void **state)
{
    (void)state;
    char *with = pod_json(KEY1), *without = pod_json(NULL), known[256], want[512];
    struct stat st;
    cf_write_config("t", "/home/alice/.ssh/id_ed25519");
    gpf_test_http_route(cf_srv, (gpf_test_route){.method = "GET", .path = "/v1/pods/pod-1", .status = 200,
                                                 .body = without, .uses = 1});
    CF_ROUTE("GET", "/v1/pods/pod-1", 200, with);
    snprintf(known, sizeof known, "%s/cfg/known_hosts", cf_tmpdir);

    /* no key: today's line, and no file */
    struct cf_run r = cf_run_cli("pod", "show", "pod-1", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "ssh         ssh -i /home/alice/.ssh/id_ed25519 -p 2201 dev@10.0.0.5\n");
    assert_contains(r.out, "layers      userns,seccomp\n");
    assert_contains(r.out, "image       default sha256:333333333333\n");
    assert_int_not_equal(stat(known, &st), 0);
    cf_run_free(&r);

    /* a key: written beside the config, and the printed line uses it */
    r = cf_run_cli("pod", "show", "pod-1", NULL);
    assert_int_equal(r.rc, 0);
    snprintf(want, sizeof want, "ssh -i /home/alice/.ssh/id_ed25519 -o UserKnownHostsFile=%s -p 2201 dev@10.0.0.5\n",
             known);
    assert_contains(r.out, want);
    assert_contains(r.out, "host key    SHA256:vubjgdpGu5DX33whwJQmNH0qGlFeD/tas4uYn0qKBZg\n");
    char *text = cf_slurp(known);
    snprintf(want, sizeof want, "[10.0.0.5]:2201 %s\n", KEY1_BARE);
    assert_string_equal(text, want);
    free(text);
    assert_string_equal(r.err, "");
    cf_run_free(&r);
    gpf_test_http_stop(cf_srv); /* the route bodies are ours */
    cf_srv = gpf_test_http_start();
    gpf_free(with);
    gpf_free(without);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_image_import, cf_setup, cf_teardown),
        cmocka_unit_test_setup_teardown(test_image_ls_show_rm, cf_setup, cf_teardown),
        cmocka_unit_test_setup_teardown(test_sku_create_image_flags, cf_setup, cf_teardown),
        cmocka_unit_test_setup_teardown(test_host_ls_isolation, cf_setup, cf_teardown),
        cmocka_unit_test_setup_teardown(test_known_hosts_file, cf_setup, cf_teardown),
        cmocka_unit_test_setup_teardown(test_pod_show_writes_known_hosts, cf_setup, cf_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
