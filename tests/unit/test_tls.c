/* TLS: the demo's certificate authority and server certificate (a valid chain for
 * localhost/127.0.0.1/::1, key modes, kept across starts, made again when expiring or not
 * the CA's), pins and key-file checks; and the HTTPS API against gpf_httpc: the right CA
 * (and pin) works, a wrong CA, the system store, a wrong pin and plain HTTP do not, and
 * connections that never finish a handshake neither lock out a client nor stay open. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "api/api.h"
#include "util/alloc.h"
#include "util/fileio.h"
#include "util/httpc.h"
#include "util/timeutil.h"
#include "util/tls.h"

#include "helpers/engine_fixture.h"

#define DAY 86400LL

static int64_t now_s(void)
{
    return gpf_now_ms() / 1000;
}

static void temp_dir(char *out, size_t size)
{
    snprintf(out, size, "/tmp/gpf-tls-XXXXXX");
    assert_non_null(mkdtemp(out));
}

static void rm_dir(const char *dir)
{
    static const char *const names[] = {"ca.pem", "ca-key.pem", "server.pem", "server-key.pem"};
    char p[700];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

static X509 *load(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(x);
    return x;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 0777;
}

/* 1 when server verifies against ca for the host name or IP address (name NULL: either). */
static int verifies(X509 *ca, X509 *server, const char *host, const char *ip)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_STORE_add_cert(store, ca);
    X509_STORE_CTX_init(ctx, store, server, NULL);
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
    if (host)
        X509_VERIFY_PARAM_set1_host(param, host, 0);
    if (ip)
        X509_VERIFY_PARAM_set1_ip_asc(param, ip);
    int ok = X509_verify_cert(ctx) == 1;
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return ok;
}

static char *slurp(const char *path)
{
    char *t = NULL;
    assert_int_equal(gpf_read_file(path, 1 << 20, &t, NULL), 0);
    return t;
}

/* ---- the demo's CA and certificate ------------------------------------------------ */

static void test_demo_chain_san_and_modes(void **state)
{
    (void)state;
    char dir[64];
    gpf_tls_files f;
    int made = 0;
    gpf_error err = {0};
    temp_dir(dir, sizeof dir);
    assert_int_equal(gpf_tls_demo_ensure(dir, now_s(), &f, &made, &err), 0);
    assert_int_equal(made, GPF_TLS_MADE_CA | GPF_TLS_MADE_SERVER);
    assert_int_equal(mode_of(f.ca_key), 0600);
    assert_int_equal(mode_of(f.server_key), 0600);
    assert_int_equal(mode_of(f.ca_cert), 0644);
    assert_int_equal(mode_of(f.server_cert), 0644);
    X509 *ca = load(f.ca_cert), *srv = load(f.server_cert);
    assert_true(X509_check_ca(ca) >= 1);
    assert_int_equal(X509_check_ca(srv), 0);
    assert_true(verifies(ca, srv, "localhost", NULL));
    assert_true(verifies(ca, srv, NULL, "127.0.0.1"));
    assert_true(verifies(ca, srv, NULL, "::1"));
    assert_false(verifies(ca, srv, "example.com", NULL));
    assert_false(verifies(ca, srv, NULL, "10.1.2.3"));
    assert_false(verifies(srv, srv, "localhost", NULL)); /* the server's own certificate is no CA */
    X509_free(ca);
    X509_free(srv);
    rm_dir(dir);
}

static void test_demo_kept_and_keys_tightened(void **state)
{
    (void)state;
    char dir[64];
    gpf_tls_files f;
    int made = -1;
    temp_dir(dir, sizeof dir);
    assert_int_equal(gpf_tls_demo_ensure(dir, now_s(), &f, NULL, NULL), 0);
    char *ca1 = slurp(f.ca_cert), *srv1 = slurp(f.server_cert);
    assert_int_equal(chmod(f.server_key, 0644), 0);
    assert_int_equal(chmod(f.ca_key, 0640), 0);
    assert_int_equal(gpf_tls_demo_ensure(dir, now_s() + 5 * DAY, &f, &made, NULL), 0);
    assert_int_equal(made, 0);
    char *ca2 = slurp(f.ca_cert), *srv2 = slurp(f.server_cert);
    assert_string_equal(ca1, ca2);
    assert_string_equal(srv1, srv2);
    assert_int_equal(mode_of(f.server_key), 0600);
    assert_int_equal(mode_of(f.ca_key), 0600);
    gpf_free(ca1);
    gpf_free(ca2);
    gpf_free(srv1);
    gpf_free(srv2);
    rm_dir(dir);
}

static void test_demo_made_again(void **state)
{
    (void)state;
    char dir[64], other[64], cmd[2700];
    gpf_tls_files f, g;
    int made = 0;
    temp_dir(dir, sizeof dir);
    temp_dir(other, sizeof other);
    /* made 400 days ago: the server certificate (397 days) has expired, the CA has not */
    assert_int_equal(gpf_tls_demo_ensure(dir, now_s() - 400 * DAY, &f, NULL, NULL), 0);
    char *ca1 = slurp(f.ca_cert), *srv1 = slurp(f.server_cert);
    assert_int_equal(gpf_tls_demo_ensure(dir, now_s(), &f, &made, NULL), 0);
    assert_int_equal(made, GPF_TLS_MADE_SERVER);
    char *ca2 = slurp(f.ca_cert), *srv2 = slurp(f.server_cert);
    assert_string_equal(ca1, ca2); /* clients that trust the CA keep trusting the server */
    assert_string_not_equal(srv1, srv2);
    X509 *ca = load(f.ca_cert), *srv = load(f.server_cert);
    assert_true(verifies(ca, srv, "localhost", NULL));
    X509_free(srv);
    /* a server certificate of another CA is replaced by one of this CA */
    assert_int_equal(gpf_tls_demo_ensure(other, now_s(), &g, NULL, NULL), 0);
    snprintf(cmd, sizeof cmd, "cp -p %s %s && cp -p %s %s", g.server_cert, f.server_cert, g.server_key, f.server_key);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(gpf_tls_demo_ensure(dir, now_s(), &f, &made, NULL), 0);
    assert_int_equal(made, GPF_TLS_MADE_SERVER);
    srv = load(f.server_cert);
    assert_true(verifies(ca, srv, "localhost", NULL));
    X509_free(srv);
    X509_free(ca);
    /* an expired CA: both made again */
    assert_int_equal(gpf_tls_demo_ensure(other, now_s() - 3700 * DAY, &g, NULL, NULL), 0);
    assert_int_equal(gpf_tls_demo_ensure(other, now_s(), &g, &made, NULL), 0);
    assert_int_equal(made, GPF_TLS_MADE_CA | GPF_TLS_MADE_SERVER);
    gpf_free(ca1);
    gpf_free(ca2);
    gpf_free(srv1);
    gpf_free(srv2);
    rm_dir(dir);
    rm_dir(other);
}

static void test_pin_pair_and_key_modes(void **state)
{
    (void)state;
    char dir[64], other[64], pin[64], pin2[64];
    gpf_tls_files f, g;
    gpf_error err = {0};
    int group = -1;
    int64_t end = 0;
    temp_dir(dir, sizeof dir);
    temp_dir(other, sizeof other);
    assert_int_equal(gpf_tls_demo_ensure(dir, now_s(), &f, NULL, NULL), 0);
    assert_int_equal(gpf_tls_demo_ensure(other, now_s(), &g, NULL, NULL), 0);
    assert_int_equal(gpf_tls_pin(f.server_cert, pin, sizeof pin, &err), 0);
    assert_int_equal(strlen(pin), 52);
    assert_int_equal(strncmp(pin, "sha256//", 8), 0);
    char *cert = slurp(f.server_cert), *key = slurp(f.server_key), *other_key = slurp(g.server_key);
    assert_int_equal(gpf_tls_check_pair(cert, key, &end, pin2, sizeof pin2, &err), 0);
    assert_string_equal(pin, pin2);
    assert_true(end > now_s() + 300 * DAY && end < now_s() + 400 * DAY);
    assert_int_equal(gpf_tls_check_pair(cert, other_key, NULL, NULL, 0, &err), GPF_EINVAL);
    assert_int_equal(gpf_tls_check_pair(key, cert, NULL, NULL, 0, &err), GPF_EINVAL);
    assert_int_equal(gpf_tls_pin(f.server_key, pin2, sizeof pin2, &err), GPF_EINVAL);
    assert_int_equal(gpf_tls_pin("/nonexistent/x.pem", pin2, sizeof pin2, &err), GPF_ENOTFOUND);
    /* key files: owner only is fine, group-readable a warning, anything for others refused */
    assert_int_equal(gpf_tls_key_mode_check(f.server_key, &group, &err), 0);
    assert_int_equal(group, 0);
    assert_int_equal(chmod(f.server_key, 0640), 0);
    assert_int_equal(gpf_tls_key_mode_check(f.server_key, &group, &err), 0);
    assert_int_equal(group, 1);
    assert_int_equal(chmod(f.server_key, 0644), 0);
    assert_int_equal(gpf_tls_key_mode_check(f.server_key, &group, &err), GPF_EFORBIDDEN);
    assert_non_null(strstr(gpf_error_msg(&err), "chmod 600"));
    assert_int_equal(chmod(f.server_key, 0620), 0);
    assert_int_equal(gpf_tls_key_mode_check(f.server_key, &group, &err), GPF_EFORBIDDEN);
    assert_int_equal(gpf_tls_key_mode_check("/nonexistent/k.pem", &group, &err), GPF_ENOTFOUND);
    gpf_free(cert);
    gpf_free(key);
    gpf_free(other_key);
    rm_dir(dir);
    rm_dir(other);
}

/* ---- the HTTPS API and its clients ------------------------------------------------- */

typedef struct tls_srv {
    ef_fixture *f;
    gpf_api *api;
    char dir[64], other[64];     /* this server's CA and certificate; another CA's */
    gpf_tls_files files, other_files;
    char url[64];
} tls_srv;

static int tls_srv_setup(void **state)
{
    tls_srv *s = GPF_NEW(tls_srv);
    gpf_api_config ac = {0};
    gpf_error err = {0};
    temp_dir(s->dir, sizeof s->dir);
    temp_dir(s->other, sizeof s->other);
    assert_int_equal(gpf_tls_demo_ensure(s->dir, now_s(), &s->files, NULL, NULL), 0);
    assert_int_equal(gpf_tls_demo_ensure(s->other, now_s(), &s->other_files, NULL, NULL), 0);
    char *cert = slurp(s->files.server_cert), *key = slurp(s->files.server_key);
    s->f = ef_new(0);
    ac.engine = s->f->e;
    ac.bind_address = "127.0.0.1";
    ac.max_per_client = 4;
    ac.timeout_s = 1;
    ac.tls_cert_pem = cert;
    ac.tls_key_pem = key;
    assert_int_equal(gpf_api_start(&ac, &s->api, &err), 0);
    gpf_free(cert);
    gpf_free(key); /* the server keeps copies */
    snprintf(s->url, sizeof s->url, "https://127.0.0.1:%d", gpf_api_port(s->api));
    *state = s;
    return 0;
}

static int tls_srv_teardown(void **state)
{
    tls_srv *s = *state;
    gpf_api_stop(s->api);
    ef_free(s->f);
    rm_dir(s->dir);
    rm_dir(s->other);
    gpf_free(s);
    return 0;
}

/* GET /v1/whoami at url with the admin token, verified with ca_file and pin (NULL: none).
 * The result code; err holds the message. */
static int whoami(const tls_srv *s, const char *url, const char *ca_file, const char *pin, gpf_error *err)
{
    gpf_httpc *c = NULL;
    json_t *resp = NULL;
    gpf_httpc_tls tls = {ca_file, pin};
    int rc = gpf_httpc_new(url, s->f->admin_tok, &c, err);
    if (rc == 0)
        rc = gpf_httpc_set_tls(c, &tls, err);
    if (rc == 0) {
        gpf_httpc_set_timeout_ms(c, 5000);
        rc = gpf_httpc_request(c, "GET", "/v1/whoami", NULL, NULL, &resp, err);
    }
    if (rc == 0)
        assert_string_equal(json_string_value(json_object_get(resp, "user")), "admin");
    json_decref(resp);
    gpf_httpc_free(c);
    return rc;
}

static void test_client_verifies_the_server(void **state)
{
    tls_srv *s = *state;
    gpf_error err = {0};
    char pin[64], other_pin[64], wrong_pin[200];
    assert_int_equal(gpf_tls_pin(s->files.server_cert, pin, sizeof pin, NULL), 0);
    assert_int_equal(gpf_tls_pin(s->other_files.server_cert, other_pin, sizeof other_pin, NULL), 0);
    assert_int_equal(whoami(s, s->url, s->files.ca_cert, NULL, &err), 0);
    assert_int_equal(whoami(s, s->url, s->files.ca_cert, pin, &err), 0);
    /* several pins: any one of them */
    snprintf(wrong_pin, sizeof wrong_pin, "%s;%s", other_pin, pin);
    assert_int_equal(whoami(s, s->url, s->files.ca_cert, wrong_pin, &err), 0);
    /* another CA, or the system's store: not trusted */
    assert_int_equal(whoami(s, s->url, s->other_files.ca_cert, NULL, &err), GPF_EUNAVAIL);
    assert_non_null(strstr(gpf_error_msg(&err), "not trusted"));
    assert_int_equal(whoami(s, s->url, NULL, NULL, &err), GPF_EUNAVAIL);
    assert_non_null(strstr(gpf_error_msg(&err), "not trusted"));
    /* the right CA but another key than the pin's */
    assert_int_equal(whoami(s, s->url, s->files.ca_cert, other_pin, &err), GPF_EUNAVAIL);
    assert_non_null(strstr(gpf_error_msg(&err), "does not match the pin"));
}

static void test_client_settings_refused(void **state)
{
    tls_srv *s = *state;
    gpf_error err = {0};
    char http_url[64];
    snprintf(http_url, sizeof http_url, "http://%s", s->url + strlen("https://"));
    /* plain HTTP to the HTTPS port gets no answer */
    assert_int_equal(whoami(s, http_url, NULL, NULL, &err), GPF_EUNAVAIL);
    /* a CA file or pin with an http:// URL would verify nothing: refused, not ignored */
    assert_int_equal(whoami(s, http_url, s->files.ca_cert, NULL, &err), GPF_EINVAL);
    const char *pin = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    assert_int_equal(whoami(s, http_url, NULL, pin, &err), GPF_EINVAL);
    assert_int_equal(whoami(s, s->url, s->files.ca_cert, "md5//abc", &err), GPF_EINVAL);
    assert_int_equal(whoami(s, s->url, "/nonexistent/ca.pem", NULL, &err), GPF_ENOTFOUND);
}

/* A TCP connection from 127.0.0.2 (a client address with a per-client limit, unlike
 * 127.0.0.1) that sends nothing: no ClientHello. */
static int stalled_connection(int port)
{
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000002);
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    dst.sin_port = htons((uint16_t)port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof src), 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&dst, sizeof dst), 0);
    return fd;
}

/* 1 when the server closed fd within about ms (EOF or reset; a TLS alert before is read
 * past). */
static int closed_within(int fd, int ms)
{
    char b[256];
    for (int64_t end = gpf_mono_ms() + ms; gpf_mono_ms() < end;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)(end - gpf_mono_ms())) != 1)
            return 0;
        if (recv(fd, b, sizeof b, MSG_DONTWAIT) <= 0)
            return 1;
    }
    return 0;
}

static void test_handshake_stalls_are_bounded(void **state)
{
    tls_srv *s = *state;
    gpf_error err = {0};
    int port = atoi(strrchr(s->url, ':') + 1), fds[5];
    for (int i = 0; i < 5; i++)
        fds[i] = stalled_connection(port);
    /* the fifth is past the per-client limit (4): refused at once */
    assert_true(closed_within(fds[4], 5000));
    /* another client still gets through, over TLS */
    assert_int_equal(whoami(s, s->url, s->files.ca_cert, NULL, &err), 0);
    /* the four that never said hello are closed at the connection timeout (1 s) */
    for (int i = 0; i < 4; i++)
        assert_true(closed_within(fds[i], 15000));
    for (int i = 0; i < 5; i++)
        close(fds[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_chain_san_and_modes),
        cmocka_unit_test(test_demo_kept_and_keys_tightened),
        cmocka_unit_test(test_demo_made_again),
        cmocka_unit_test(test_pin_pair_and_key_modes),
        cmocka_unit_test_setup_teardown(test_client_verifies_the_server, tls_srv_setup, tls_srv_teardown),
        cmocka_unit_test_setup_teardown(test_client_settings_refused, tls_srv_setup, tls_srv_teardown),
        cmocka_unit_test_setup_teardown(test_handshake_stalls_are_bounded, tls_srv_setup, tls_srv_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
