/* The gpufleet CLI: pure helpers (money, tables, ssh argv, exit codes) and whole commands
 * run through gpf_cli_main against a small fake HTTP server in a thread on 127.0.0.1:0,
 * with stdout/stderr captured into files. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/alloc.h"

#include "helpers/cli_fixture.h"
#include "helpers/fake_http.h"


/* ---- pure helpers ---- */

static void test_parse_money(void **state)
{
    (void)state;
    int64_t v = -1;
    gpf_error err = {0};
    assert_int_equal(gpf_cli_parse_money("2.50", &v, &err), 0);
    assert_int_equal(v, 2500000);
    assert_int_equal(gpf_cli_parse_money("3", &v, &err), 0);
    assert_int_equal(v, 3000000);
    assert_int_equal(gpf_cli_parse_money("0.000001", &v, &err), 0);
    assert_int_equal(v, 1);
    assert_int_equal(gpf_cli_parse_money("0.1", &v, &err), 0);
    assert_int_equal(v, 100000); /* exact: no binary fraction drift */
    assert_int_equal(gpf_cli_parse_money("1234.567891", &v, &err), 0);
    assert_int_equal(v, 1234567891);
    assert_int_equal(gpf_cli_parse_money("9223372036854.775807", &v, &err), 0);
    assert_true(v == INT64_MAX);
    v = 42;
    static const char *const bad[] = {"1.2345678", "abc", "-1", "-0.5", "", ".5", "1.", "1e3",
                                      " 1", "1 ", "+1", "1,5", "9223372036854.775808",
                                      "99999999999999", "0x10", "1..2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(gpf_cli_parse_money(bad[i], &v, &err), GPF_EINVAL);
        assert_int_equal(v, 42);
    }
    assert_int_equal(gpf_cli_parse_money(NULL, &v, NULL), GPF_EINVAL);
    assert_int_equal(gpf_cli_parse_money("1.2345678", &v, &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "6 decimals"));
}

static void test_format_money(void **state)
{
    (void)state;
    char b[40];
    static const struct {
        int64_t v;
        const char *s;
    } cases[] = {{2500000, "2.50"}, {0, "0.00"}, {1, "0.000001"}, {1234567, "1.234567"},
                 {1230000, "1.23"}, {1200, "0.0012"}, {-10000, "-0.01"}, {100000000, "100.00"},
                 {INT64_MAX, "9223372036854.775807"}, {INT64_MIN, "-9223372036854.775808"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gpf_cli_format_money(cases[i].v, b, sizeof b);
        assert_string_equal(b, cases[i].s);
    }
    /* round trip through the parser */
    for (int64_t v = 0; v < 3000000; v += 99991) {
        int64_t back = -1;
        gpf_cli_format_money(v, b, sizeof b);
        assert_int_equal(gpf_cli_parse_money(b, &back, NULL), 0);
        assert_int_equal(back, v);
    }
}

static void test_exit_codes(void **state)
{
    (void)state;
    assert_int_equal(gpf_cli_exit_code(GPF_OK), 0);
    assert_int_equal(gpf_cli_exit_code(GPF_EINTERNAL), 1);
    assert_int_equal(gpf_cli_exit_code(GPF_EIO), 1);
    assert_int_equal(gpf_cli_exit_code(GPF_ETIMEOUT), 1);
    assert_int_equal(gpf_cli_exit_code(GPF_EINVAL), 2);
    assert_int_equal(gpf_cli_exit_code(GPF_EMALFORMED), 2);
    assert_int_equal(gpf_cli_exit_code(GPF_ENOTFOUND), 3);
    assert_int_equal(gpf_cli_exit_code(GPF_EUNAUTH), 4);
    assert_int_equal(gpf_cli_exit_code(GPF_EFORBIDDEN), 4);
    assert_int_equal(gpf_cli_exit_code(GPF_ENOCAPACITY), 5);
    assert_int_equal(gpf_cli_exit_code(GPF_EEXIST), 5);
    assert_int_equal(gpf_cli_exit_code(GPF_ESTATE), 5);
    assert_int_equal(gpf_cli_exit_code(GPF_EUNAVAIL), 6);
    assert_int_equal(gpf_cli_exit_code(-999), 1);
    assert_true(gpf_cli_is_command("pod"));
    assert_true(gpf_cli_is_command("help"));
    assert_false(gpf_cli_is_command("serve"));
    assert_false(gpf_cli_is_command(NULL));
}

static void test_ssh_argv(void **state)
{
    (void)state;
    char **argv = NULL;
    gpf_error err = {0};
    char *cmd[] = {"nvidia-smi", "-L"};
    json_t *pod = json_loads("{\"id\":\"p-1\",\"state\":\"running\",\"ssh\":{\"host\":\"10.0.0.5\","
                             "\"port\":2201,\"user\":\"alice\",\"command\":\"ssh -p 2201 alice@10.0.0.5\"}}",
                             0, NULL);
    static const char *const want[] = {"/usr/bin/ssh", "-i", "/k/id", "-p", "2201", "-o",
                                       "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                                       "-o", "LogLevel=ERROR", "-o", ("KexAlgorithms=" GPF_SSH_KEX),
                                       "alice@10.0.0.5", "nvidia-smi", "-L"};
    assert_int_equal(gpf_cli_ssh_argv(pod, "/usr/bin/ssh", "/k/id", NULL, NULL, 2, cmd, &argv, &err), 0);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_string_equal(argv[i], want[i]);
    assert_null(argv[sizeof want / sizeof want[0]]);
    gpf_cli_argv_free(argv);

    /* no identity: no -i; no command */
    assert_int_equal(gpf_cli_ssh_argv(pod, "ssh", NULL, NULL, NULL, 0, NULL, &argv, &err), 0);
    assert_string_equal(argv[1], "-p");
    assert_string_equal(argv[11], "alice@10.0.0.5");
    assert_null(argv[12]);
    gpf_cli_argv_free(argv);

    /* a port given as a string is accepted */
    json_object_set_new(json_object_get(pod, "ssh"), "port", json_string("2202"));
    assert_int_equal(gpf_cli_ssh_argv(pod, "ssh", "", NULL, NULL, 0, NULL, &argv, &err), 0);
    assert_string_equal(argv[2], "2202");
    gpf_cli_argv_free(argv);

    /* a host that ssh would read as an option is refused */
    json_object_set_new(json_object_get(pod, "ssh"), "host", json_string("-oProxyCommand=x"));
    assert_int_equal(gpf_cli_ssh_argv(pod, "ssh", NULL, NULL, NULL, 0, NULL, &argv, &err), GPF_EINVAL);
    assert_null(argv);

    /* not running */
    json_object_set_new(pod, "state", json_string("pending"));
    assert_int_equal(gpf_cli_ssh_argv(pod, "ssh", NULL, NULL, NULL, 0, NULL, &argv, &err), GPF_ESTATE);
    assert_string_equal(err.msg, "pod p-1 is pending, not running");
    json_object_set_new(pod, "state", json_string("running"));
    json_object_set_new(pod, "ssh", json_null());
    assert_int_equal(gpf_cli_ssh_argv(pod, "ssh", NULL, NULL, NULL, 0, NULL, &argv, &err), GPF_EINVAL);
    json_decref(pod);
    gpf_cli_argv_free(NULL);
}

static void test_ssh_argv_proxy(void **state)
{
    (void)state;
    char **argv = NULL;
    gpf_error err = {0};
    json_t *pod = json_loads("{\"id\":\"p-1\",\"state\":\"running\",\"ssh\":{\"host\":\"10.0.0.5\","
                             "\"port\":2201,\"user\":\"alice\"}}",
                             0, NULL);
    assert_int_equal(gpf_cli_ssh_argv(pod, "ssh", NULL, NULL, "/opt/gpu fleet/100%/gpufleet", 0, NULL, &argv, &err), 0);
    static const char *const want[] = {"ssh", "-p", "2201", "-o", "StrictHostKeyChecking=no", "-o",
                                       "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o",
                                       ("KexAlgorithms=" GPF_SSH_KEX), "-o", "ProxyUseFdpass=yes", "-o",
                                       "ProxyCommand='/opt/gpu fleet/100%%/gpufleet' ssh-proxy 10.0.0.5 2201",
                                       "alice@10.0.0.5"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_string_equal(argv[i], want[i]);
    assert_null(argv[sizeof want / sizeof want[0]]);
    gpf_cli_argv_free(argv);

    /* a known host key: checked strictly against gpufleet's known_hosts file; ssh expands
     * %-tokens in the file name and splits it on blanks */
    assert_int_equal(gpf_cli_ssh_argv(pod, "ssh", NULL, "/home/a/.config/gpufleet/known_hosts", NULL, 0, NULL, &argv,
                                      &err),
                     0);
    assert_string_equal(argv[4], "StrictHostKeyChecking=yes");
    assert_string_equal(argv[6], "UserKnownHostsFile=/home/a/.config/gpufleet/known_hosts");
    gpf_cli_argv_free(argv);
    assert_int_equal(gpf_cli_ssh_argv(pod, "ssh", NULL, "/tmp/a b/100%/known_hosts", NULL, 0, NULL, &argv, &err), 0);
    assert_string_equal(argv[6], "UserKnownHostsFile=\"/tmp/a b/100%%/known_hosts\"");
    gpf_cli_argv_free(argv);

    /* a host with shell metacharacters is never put into the proxy command: plain ssh */
    json_object_set_new(json_object_get(pod, "ssh"), "host", json_string("h;rm"));
    assert_int_equal(gpf_cli_ssh_argv(pod, "ssh", NULL, NULL, "/usr/bin/gpufleet", 0, NULL, &argv, &err), 0);
    for (char **a = argv; *a; a++)
        assert_null(strstr(*a, "Proxy"));
    gpf_cli_argv_free(argv);
    json_decref(pod);
}

/* ssh-proxy connects, turns Nagle off and hands the socket over a unix socket. */
static void test_ssh_proxy_passes_socket(void **state)
{
    (void)state;
    gpf_error err = {0};
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), sp[2];
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    assert_true(lfd >= 0);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(lfd, 4), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
    char port[16];
    snprintf(port, sizeof port, "%d", ntohs(sa.sin_port));
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);

    assert_int_equal(gpf_cli_ssh_proxy("127.0.0.1", port, sp[0], 2000, &err), 0);
    char byte, ctl[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
    assert_int_equal(recvmsg(sp[1], &msg, 0), 1);
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    assert_non_null(cm);
    assert_int_equal(cm->cmsg_type, SCM_RIGHTS);
    int fd;
    memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    int nodelay = 0;
    socklen_t ol = sizeof nodelay;
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &ol), 0);
    assert_int_equal(nodelay, 1);
    /* it is the connection the listener sees */
    int afd = accept(lfd, NULL, NULL);
    assert_true(afd >= 0);
    assert_int_equal(write(fd, "hi", 2), 2);
    char got[3] = {0};
    assert_int_equal(read(afd, got, 2), 2);
    assert_string_equal(got, "hi");
    close(afd);
    close(fd);

    /* nobody listening: a clear error, nothing sent */
    close(lfd);
    assert_int_equal(gpf_cli_ssh_proxy("127.0.0.1", port, sp[0], 2000, &err), GPF_EUNAVAIL);
    assert_non_null(strstr(err.msg, "cannot connect to 127.0.0.1 port"));
    assert_int_equal(gpf_cli_ssh_proxy("no-such-host.invalid", "22", sp[0], 2000, &err), GPF_EUNAVAIL);
    assert_non_null(strstr(err.msg, "cannot resolve no-such-host.invalid"));
    /* stdout that is not a unix socket */
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sa.sin_port = 0;
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(lfd, 4), 0);
    sl = sizeof sa;
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
    snprintf(port, sizeof port, "%d", ntohs(sa.sin_port));
    assert_int_equal(gpf_cli_ssh_proxy("127.0.0.1", port, pfd[1], 2000, &err), GPF_EIO);
    assert_non_null(strstr(err.msg, "cannot pass the connection to ssh"));
    close(pfd[0]);
    close(pfd[1]);
    close(lfd);
    close(sp[0]);
    close(sp[1]);
}

static void test_table(void **state)
{
    (void)state;
    gpf_table t;
    gpf_buf b = {0};
    static const char *const hdr[] = {"ID", "NAME", "NOTE"};
    static const char *const r1[] = {"p-1", "alpha", "x"};
    static const char *const r2[] = {"p-1234", "b", ""};
    static const char *const r3[] = {"\xc3\xa9t\xc3\xa9", NULL, "bell\a"};

    gpf_table_init(&t, 3, hdr);
    gpf_table_add(&t, r1);
    gpf_table_add(&t, r2);
    gpf_table_add(&t, r3);
    gpf_table_render(&t, &b);
    assert_string_equal(gpf_buf_cstr(&b),
                        "ID      NAME   NOTE\n"
                        "p-1     alpha  x\n"
                        "p-1234  b\n"            /* empty last cell: no trailing spaces */
                        "\xc3\xa9t\xc3\xa9     -      bell?\n"); /* UTF-8 counted per code point */
    gpf_table_clear(&t);
    gpf_table_clear(NULL);
    gpf_buf_clear(&b);
}

/* ---- whole commands ---- */

static void test_help_and_usage(void **state)
{
    (void)state;
    struct cf_run r = cf_run_cli("help", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "usage: gpufleet"));
    cf_run_free(&r);
    r = cf_run_cli(NULL); /* bare: usage on stderr, exit 2 */
    assert_int_equal(r.rc, 2);
    assert_string_equal(r.out, "");
    assert_non_null(strstr(r.err, "usage: gpufleet"));
    cf_run_free(&r);
    r = cf_run_cli("pod", "--help", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "gpufleet pod launch SKU"));
    cf_run_free(&r);
    r = cf_run_cli("bogus", NULL);
    assert_int_equal(r.rc, 2);
    assert_true(cf_one_line(r.err));
    assert_non_null(strstr(r.err, "unknown command 'bogus'"));
    cf_run_free(&r);
    r = cf_run_cli("pod", "launch", "--server", cf_url, "--token", "t", NULL);
    assert_int_equal(r.rc, 2);
    assert_true(cf_one_line(r.err));
    cf_run_free(&r);
    r = cf_run_cli("pod", "ls", "--bogus", NULL);
    assert_int_equal(r.rc, 2);
    assert_true(cf_one_line(r.err));
    cf_run_free(&r);
    r = cf_run_cli("pod", "ls", "--project", "x", "--server", cf_url, "--token", "t", NULL);
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "'--project' does not apply to 'pod ls'"));
    cf_run_free(&r);
    r = cf_run_cli("sku", "create", "--name", "x", "--price-per-hour", "1.2345678", "--server", cf_url,
                "--token", "t", NULL);
    assert_int_equal(r.rc, 2);
    assert_true(cf_one_line(r.err));
    cf_run_free(&r);
    r = cf_run_cli("sku", "ls", NULL); /* nothing configured */
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "no server configured"));
    cf_run_free(&r);
    assert_int_equal(gpf_test_http_nreqs(cf_srv), 0); /* none of these reached the server */
}

static void test_sku_ls_json(void **state)
{
    (void)state;
    CF_ROUTE("GET", "/v1/skus", 200, "{\"skus\":[{\"name\":\"small\",\"zeta\":1,\"alpha\":true}]}");
    struct cf_run r = cf_run_cli("sku", "ls", "--json", "--server", cf_url, "--token", "t0k", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "{\n  \"skus\": [\n    {\n      \"name\": \"small\",\n"
                               "      \"zeta\": 1,\n      \"alpha\": true\n    }\n  ]\n}\n");
    assert_string_equal(r.err, "");
    assert_string_equal(gpf_test_http_req(cf_srv, 0)->auth, "Bearer t0k");
    cf_run_free(&r);
}

static void test_sku_ls_table(void **state)
{
    (void)state;
    CF_ROUTE("GET", "/v1/skus", 200,
          "{\"skus\":[{\"name\":\"h100-full\",\"description\":\"one H100\",\"slice\":{\"kind\":\"whole\","
          "\"gpu_count\":1},\"gpu_models\":[\"H100-80GB-SXM5\"],\"cpus\":16,\"memory_mib\":131072,"
          "\"ttl_s\":28800,\"price_micro_per_hour\":2500000},"
          "{\"name\":\"mig-small\",\"description\":\"\",\"slice\":{\"kind\":\"mig\",\"mig_profile\":"
          "\"1g.10gb\"},\"gpu_models\":[],\"cpus\":4,\"memory_mib\":16384,\"ttl_s\":0,"
          "\"price_micro_per_hour\":350000}]}");
    struct cf_run r = cf_run_cli("sku", "ls", "--server", cf_url, "--token", "t", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out,
        "NAME       SLICE        MODELS          CPUS  MEMORY  PRICE/H  TTL       DESCRIPTION\n"
        "h100-full  whole        H100-80GB-SXM5  16    128GiB  2.50     8h00m00s  one H100\n"
        "mig-small  mig 1g.10gb  any             4     16GiB   0.35     -\n");
    cf_run_free(&r);
}

static void test_sku_create(void **state)
{
    (void)state;
    char path[160];
    CF_ROUTE("POST", "/v1/skus", 201, "{\"name\":\"mig-small\"}");
    struct cf_run r = cf_run_cli("sku", "create", "--name", "mig-small", "--kind", "mig", "--mig-profile",
                           "1g.10gb", "--model", "A100-80GB", "--model", "H100-80GB", "--cpus", "4",
                           "--memory-mib=16384", "--ttl-s", "3600", "--price-per-hour", "0.35",
                           "--env", "A=1;B=2", "--description", "a slice", "--server", cf_url,
                           "--token", "t", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "created sku mig-small\n");
    json_t *got = json_loads(gpf_test_http_req(cf_srv, 0)->body, 0, NULL);
    json_t *want = json_loads(
        "{\"name\":\"mig-small\",\"description\":\"a slice\",\"slice\":{\"kind\":\"mig\","
        "\"mig_profile\":\"1g.10gb\"},\"gpu_models\":[\"A100-80GB\",\"H100-80GB\"],\"cpus\":4,"
        "\"memory_mib\":16384,\"ttl_s\":3600,\"price_micro_per_hour\":350000,\"env\":\"A=1;B=2\"}",
        0, NULL);
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);
    cf_run_free(&r);

    /* a flag of another slice kind is a usage error */
    r = cf_run_cli("sku", "create", "--name", "x", "--kind", "whole", "--mig-profile", "1g.10gb",
                "--server", cf_url, "--token", "t", NULL);
    assert_int_equal(r.rc, 2);
    cf_run_free(&r);

    /* --file sends the body as-is */
    snprintf(path, sizeof path, "%s/sku.json", cf_tmpdir);
    cf_write_file(path, "{\"name\":\"f\",\"slice\":{\"kind\":\"share\",\"share_milli\":250}}\n");
    r = cf_run_cli("sku", "create", "--file", path, "--server", cf_url, "--token", "t", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(gpf_test_http_req(cf_srv, 1)->body,
                        "{\"name\":\"f\",\"slice\":{\"kind\":\"share\",\"share_milli\":250}}");
    cf_run_free(&r);
    assert_int_equal(gpf_test_http_nreqs(cf_srv), 2);
}

static const char pod_pending[] =
    "{\"id\":\"p-1\",\"owner\":\"alice\",\"sku\":\"small\",\"state\":\"pending\",\"reason\":\"queued\","
    "\"ssh\":null}";
static const char pod_running[] =
    "{\"id\":\"p-1\",\"owner\":\"alice\",\"sku\":\"small\",\"state\":\"running\",\"reason\":\"\","
    "\"ssh\":{\"host\":\"10.0.0.5\",\"port\":2201,\"user\":\"alice\",\"command\":\"ssh -p 2201 alice@10.0.0.5\"}}";

static void test_pod_launch_wait(void **state)
{
    (void)state;
    cf_write_config("cfgtok", "/keys/my key");
    CF_ROUTE("POST", "/v1/pods", 201, pod_pending);
    gpf_test_http_route(cf_srv, (gpf_test_route){.method = "GET", .path = "/v1/pods/p-1?wait=running*",
                                              .status = 200, .body = pod_pending, .uses = 1});
    CF_ROUTE("GET", "/v1/pods/p-1?wait=running*", 200, pod_running);
    struct cf_run r = cf_run_cli("pod", "launch", "small", "--project", "ml", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "p-1\nssh -i '/keys/my key' -p 2201 alice@10.0.0.5\n");
    assert_string_equal(r.err, ""); /* no progress line when stderr is not a terminal */
    assert_int_equal(gpf_test_http_nreqs(cf_srv), 3);
    assert_string_equal(gpf_test_http_req(cf_srv, 0)->method, "POST");
    assert_string_equal(gpf_test_http_req(cf_srv, 0)->auth, "Bearer cfgtok");
    json_t *got = json_loads(gpf_test_http_req(cf_srv, 0)->body, 0, NULL);
    json_t *want = json_pack("{s:s,s:s}", "sku", "small", "project", "ml");
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);
    for (int i = 1; i < 3; i++) {
        const char *p = gpf_test_http_req(cf_srv, i)->path;
        assert_memory_equal(p, "/v1/pods/p-1?wait=running&timeout_ms=", 37);
        long ms = strtol(p + 37, NULL, 10);
        assert_true(ms > 0 && ms <= 30000);
    }
    cf_run_free(&r);
}

static void test_pod_launch_fails(void **state)
{
    (void)state;
    cf_write_config("t", "");
    CF_ROUTE("POST", "/v1/pods", 201, pod_pending);
    CF_ROUTE("GET", "/v1/pods/p-1?wait=running*", 200,
          "{\"id\":\"p-1\",\"state\":\"failed\",\"reason\":\"image missing\"}");
    struct cf_run r = cf_run_cli("pod", "launch", "small", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "gpufleet: pod p-1 failed: image missing\n");
    assert_string_equal(r.out, "");
    cf_run_free(&r);

    /* an answer of 409 no_capacity: exit 5 */
    cf_teardown(NULL);
    cf_setup(NULL);
    cf_write_config("t", "");
    CF_ROUTE("POST", "/v1/pods", 409, "{\"error\":{\"code\":\"no_capacity\",\"message\":\"no L40S is free\"}}");
    r = cf_run_cli("pod", "launch", "small", NULL);
    assert_int_equal(r.rc, 5);
    assert_string_equal(r.err, "gpufleet: no L40S is free\n");
    cf_run_free(&r);
}

static void test_pod_launch_timeout_and_no_wait(void **state)
{
    (void)state;
    cf_write_config("t", "");
    CF_ROUTE("POST", "/v1/pods", 201, pod_pending);
    struct cf_run r = cf_run_cli("pod", "launch", "small", "--timeout-s", "0", NULL);
    assert_int_equal(r.rc, 1);
    assert_true(cf_one_line(r.err));
    assert_non_null(strstr(r.err, "pod p-1 is still pending after 0 s: queued"));
    cf_run_free(&r);
    r = cf_run_cli("pod", "launch", "small", "--no-wait", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "p-1\n");
    cf_run_free(&r);
    assert_int_equal(gpf_test_http_nreqs(cf_srv), 2); /* two POSTs, no polling */
}

static void test_pod_stop_show_ls(void **state)
{
    (void)state;
    cf_write_config("t", "");
    CF_ROUTE("POST", "/v1/pods/p-1/stop", 202, "{\"id\":\"p-1\",\"state\":\"stopping\"}");
    CF_ROUTE("GET", "/v1/pods/p-9", 404, "{\"error\":{\"code\":\"not_found\",\"message\":\"no pod p-9\"}}");
    CF_ROUTE("GET", "/v1/pods?all=1", 200, "{\"pods\":[{\"id\":\"p-1\",\"owner\":\"alice\",\"project\":\"ml\","
          "\"sku\":\"small\",\"slice\":{\"kind\":\"share\",\"share_milli\":125},\"state\":\"pending\","
          "\"placement\":null,\"created_at\":\"2026-11-21T16:49:00.000Z\",\"reason\":\"no GPU free\"},"
          "{\"id\":\"p-2\",\"owner\":\"alice\",\"project\":\"ml\",\"sku\":\"small\","
          "\"slice\":{\"kind\":\"share\",\"share_milli\":125},\"state\":\"running\",\"reachability\":\"unknown\","
          "\"placement\":null,\"created_at\":\"2026-11-21T16:50:00.000Z\",\"reason\":\"\"}]}");
    struct cf_run r = cf_run_cli("pod", "stop", "p-1", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "stopping pod p-1\n");
    assert_string_equal(gpf_test_http_req(cf_srv, 0)->method, "POST");
    assert_string_equal(gpf_test_http_req(cf_srv, 0)->path, "/v1/pods/p-1/stop");
    cf_run_free(&r);

    r = cf_run_cli("pod", "show", "p-9", NULL);
    assert_int_equal(r.rc, 3);
    assert_string_equal(r.err, "gpufleet: no pod p-9\n");
    assert_string_equal(r.out, "");
    cf_run_free(&r);

    CF_ROUTE("GET", "/v1/pods/p-2", 200, "{\"id\":\"p-2\",\"owner\":\"alice\",\"state\":\"running\","
          "\"reachability\":\"unknown\",\"placement\":null}");
    r = cf_run_cli("pod", "show", "p-2", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "reachability  unknown: its host's agent is silent"));
    cf_run_free(&r);

    r = cf_run_cli("pod", "ls", "--all", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out,
        "ID   OWNER  PROJECT  SKU    SLICE        STATE    HOST  CREATED              REASON\n"
        "p-1  alice  ml       small  share 12.5%  pending  -     2026-11-21 16:49:00  no GPU free\n"
        "p-2  alice  ml       small  share 12.5%  running  -     2026-11-21 16:50:00  host unreachable: state as last reported\n");
    cf_run_free(&r);
}

/* A list follows next_cursor to the end (later pages asked in the largest size) and prints
 * one table, or one JSON object without the cursor; --limit N asks one page of N. */
static void test_list_follows_cursor(void **state)
{
    (void)state;
    cf_write_config("t", "");
    CF_ROUTE("GET", "/v1/users", 200, "{\"users\":[{\"name\":\"alice\",\"role\":\"member\"}],\"next_cursor\":\"dXNlcnM6YWxpY2U\"}");
    CF_ROUTE("GET", "/v1/users?limit=1000&cursor=dXNlcnM6YWxpY2U", 200,
             "{\"users\":[{\"name\":\"bob\",\"role\":\"viewer\"}]}");
    CF_ROUTE("GET", "/v1/users?limit=1", 200, "{\"users\":[{\"name\":\"alice\",\"role\":\"member\"}],\"next_cursor\":\"dXNlcnM6YWxpY2U\"}");
    struct cf_run r = cf_run_cli("user", "ls", "--json", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "{\n  \"users\": [\n    {\n      \"name\": \"alice\",\n      \"role\": \"member\"\n    },\n"
                               "    {\n      \"name\": \"bob\",\n      \"role\": \"viewer\"\n    }\n  ]\n}\n");
    assert_int_equal(gpf_test_http_nreqs(cf_srv), 2);
    assert_string_equal(gpf_test_http_req(cf_srv, 1)->path, "/v1/users?limit=1000&cursor=dXNlcnM6YWxpY2U");
    cf_run_free(&r);
    r = cf_run_cli("user", "ls", "--limit", "1", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "alice"));
    assert_null(strstr(r.out, "bob"));
    assert_int_equal(gpf_test_http_nreqs(cf_srv), 3);
    assert_string_equal(gpf_test_http_req(cf_srv, 2)->path, "/v1/users?limit=1");
    cf_run_free(&r);
    r = cf_run_cli("user", "ls", "--limit", "0", NULL);
    assert_int_equal(r.rc, 2);
    cf_run_free(&r);
}

static void test_unreachable_and_precedence(void **state)
{
    (void)state;
    int port = 0, fd = gpf_test_bind_local(&port, 0);
    char dead[64];
    close(fd); /* nothing listens there now */
    snprintf(dead, sizeof dead, "http://127.0.0.1:%d", port);
    struct cf_run r = cf_run_cli("host", "ls", "--server", dead, "--token", "t", NULL);
    assert_int_equal(r.rc, 6);
    assert_true(cf_one_line(r.err));
    assert_non_null(strstr(r.err, "cannot reach"));
    cf_run_free(&r);

    CF_ROUTE("GET", "/v1/whoami", 200, "{\"user\":\"alice\",\"role\":\"member\"}");
    cf_write_config("cfgtok", "");
    r = cf_run_cli("whoami", NULL);
    assert_int_equal(r.rc, 0);
    cf_run_free(&r);
    setenv("GPUFLEET_TOKEN", "envtok", 1);
    r = cf_run_cli("whoami", "--json", NULL);
    assert_string_equal(r.out, "{\n  \"user\": \"alice\",\n  \"role\": \"member\"\n}\n");
    cf_run_free(&r);
    r = cf_run_cli("whoami", "--token", "flagtok", NULL);
    cf_run_free(&r);
    setenv("GPUFLEET_SERVER", dead, 1); /* the environment beats the config file */
    r = cf_run_cli("whoami", NULL);
    assert_int_equal(r.rc, 6);
    cf_run_free(&r);
    r = cf_run_cli("--server", cf_url, "whoami", NULL); /* a flag before the noun works too */
    assert_int_equal(r.rc, 0);
    cf_run_free(&r);
    unsetenv("GPUFLEET_SERVER");
    unsetenv("GPUFLEET_TOKEN");
    /* the saved token belongs to the saved server: another --server does not get it */
    r = cf_run_cli("whoami", "--server", dead, NULL);
    assert_int_equal(r.rc, 4);
    assert_non_null(strstr(r.err, "not logged in"));
    cf_run_free(&r);
    assert_int_equal(gpf_test_http_nreqs(cf_srv), 4);
    assert_string_equal(gpf_test_http_req(cf_srv, 0)->auth, "Bearer cfgtok");
    assert_string_equal(gpf_test_http_req(cf_srv, 1)->auth, "Bearer envtok");
    assert_string_equal(gpf_test_http_req(cf_srv, 2)->auth, "Bearer flagtok");
    assert_string_equal(gpf_test_http_req(cf_srv, 3)->auth, "Bearer envtok");
}

static void test_login(void **state)
{
    (void)state;
    char pub[160], priv[160], expect[256];
    struct stat st;
    snprintf(priv, sizeof priv, "%s/id_test", cf_tmpdir);
    snprintf(pub, sizeof pub, "%s/id_test.pub", cf_tmpdir);
    cf_write_file(pub, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE alice@laptop\n");
    CF_ROUTE("GET", "/v1/whoami", 200, "{\"user\":\"alice\",\"role\":\"member\"}");
    CF_ROUTE("PATCH", "/v1/users/alice", 200, "{\"name\":\"alice\"}");
    struct cf_run r = cf_run_cli("login", "--server", cf_url, "--token", "sekret", "--ssh-key", pub, NULL);
    assert_int_equal(r.rc, 0);
    snprintf(expect, sizeof expect, "logged in to %s as alice (member)\n", cf_url);
    assert_string_equal(r.out, expect);
    cf_run_free(&r);
    assert_string_equal(gpf_test_http_req(cf_srv, 1)->method, "PATCH");
    assert_string_equal(gpf_test_http_req(cf_srv, 1)->body,
                        "{\"ssh_pubkey\":\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE alice@laptop\"}");
    assert_int_equal(stat(cf_cfgpath, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    json_t *cfg = json_load_file(cf_cfgpath, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(cfg, "server")), cf_url);
    assert_string_equal(json_string_value(json_object_get(cfg, "token")), "sekret");
    assert_string_equal(json_string_value(json_object_get(cfg, "user")), "alice");
    assert_string_equal(json_string_value(json_object_get(cfg, "identity_file")), priv);
    json_decref(cfg);

    /* a bad token: exit 4, nothing written over the config */
    cf_teardown(NULL);
    cf_setup(NULL);
    CF_ROUTE("GET", "/v1/whoami", 401, "{\"error\":{\"code\":\"unauthenticated\",\"message\":\"unknown token\"}}");
    r = cf_run_cli("login", "--server", cf_url, "--token", "bad", NULL);
    assert_int_equal(r.rc, 4);
    assert_string_equal(r.err, "gpufleet: unknown token\n");
    assert_int_equal(stat(cf_cfgpath, &st), -1);
    cf_run_free(&r);
}

static void test_token_user_usage(void **state)
{
    (void)state;
    cf_write_config("t", "");
    CF_ROUTE("GET", "/v1/whoami", 200, "{\"user\":\"alice\",\"role\":\"member\"}");
    CF_ROUTE("POST", "/v1/users/alice/tokens", 201, "{\"id\":\"tk-1\",\"token\":\"gpf_s3cret\",\"user\":\"alice\"}");
    CF_ROUTE("POST", "/v1/users", 201, "{\"name\":\"bob\",\"role\":\"viewer\"}");
    CF_ROUTE("GET", "/v1/usage?pod=p-1", 200,
          "{\"usage\":[{\"pod_id\":\"p-1\",\"owner\":\"alice\",\"sku\":\"small\",\"slice_kind\":\"whole\","
          "\"gpu_milli\":1000,\"price_micro_per_hour\":1500000,\"start_at\":\"2026-01-01T00:00:00Z\","
          "\"end_at\":\"2026-01-01T01:00:00Z\",\"duration_ms\":3600000,\"cost_micro\":1500000},"
          "{\"pod_id\":\"p-1\",\"owner\":\"alice\",\"sku\":\"small\",\"slice_kind\":\"whole\","
          "\"gpu_milli\":250,\"price_micro_per_hour\":1500000,\"start_at\":\"2026-01-01T02:00:00Z\","
          "\"end_at\":null,\"duration_ms\":600000,\"cost_micro\":250000}]}");
    struct cf_run r = cf_run_cli("token", "create", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "gpf_s3cret\n");
    cf_run_free(&r);
    r = cf_run_cli("user", "create", "bob", "--role", "viewer", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "created user bob (viewer)\n");
    assert_string_equal(gpf_test_http_req(cf_srv, 2)->body, "{\"name\":\"bob\",\"role\":\"viewer\"}");
    cf_run_free(&r);
    r = cf_run_cli("usage", "--pod", "p-1", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "1.000"));
    assert_non_null(strstr(r.out, "  open  "));
    assert_non_null(strstr(r.out, "1h00m00s"));
    assert_non_null(strstr(r.out, "\ntotal cost: 1.75 (2 records)\n"));
    cf_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_money),
        cmocka_unit_test(test_format_money),
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_ssh_argv),
        cmocka_unit_test(test_ssh_argv_proxy),
        cmocka_unit_test(test_ssh_proxy_passes_socket),
        cmocka_unit_test(test_table),
        cmocka_unit_test_setup_teardown(test_help_and_usage, cf_setup, cf_teardown),
        cmocka_unit_test_setup_teardown(test_sku_ls_json, cf_setup, cf_teardown),
        cmocka_unit_test_setup_teardown(test_sku_ls_table, cf_setup, cf_teardown),
        cmocka_unit_test_setup_teardown(test_sku_create, cf_setup, cf_teardown),
        cmocka_unit_test_setup_teardown(test_pod_launch_wait, cf_setup, cf_teardown),
        cmocka_unit_test_setup_teardown(test_pod_launch_fails, cf_setup, cf_teardown),
        cmocka_unit_test_setup_teardown(test_pod_launch_timeout_and_no_wait, cf_setup, cf_teardown),
        cmocka_unit_test_setup_teardown(test_pod_stop_show_ls, cf_setup, cf_teardown),
        cmocka_unit_test_setup_teardown(test_list_follows_cursor, cf_setup, cf_teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_and_precedence, cf_setup, cf_teardown),
        cmocka_unit_test_setup_teardown(test_login, cf_setup, cf_teardown),
        cmocka_unit_test_setup_teardown(test_token_user_usage, cf_setup, cf_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
