/* HTTP hygiene of the API server, spoken over raw loopback sockets (a client library would
 * normalise what is under test): percent-encoded NUL, control characters and '/' in the
 * request target; HEAD wherever GET is served; duplicate Content-Length; 413 decided before
 * "100 Continue"; and the modes `serve` gives its state directory and database files. */
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
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "api/serve.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"

#include "helpers/engine_fixture.h"

#define assert_contains(s, sub)                                                                \
    do {                                                                                       \
        if (!strstr((s), (sub)))                                                               \
            fail_msg("'%s' does not contain '%s'", (s), (sub));                                \
    } while (0)

/* The engine fixture (users, SKUs "whole" and "mig1g") behind a real server on a free port. */
typedef struct srv {
    ef_fixture *f;
    gpf_api *api;
    int port;
} srv;

static int srv_setup(void **state)
{
    srv *s = GPF_NEW(srv);
    s->f = ef_new(0);
    s->api = ef_api_start(s->f, &s->port);
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

/* ---- a raw HTTP client ----------------------------------------------------------- */

static int raw_connect(int port)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    return fd;
}

static void raw_send(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        data += n;
        len -= (size_t)n;
    }
}

/* Appends what arrives to out until the server closes, or until idle_ms pass without a byte,
 * or (until non-NULL) once out holds until. */
static void raw_read(int fd, int idle_ms, const char *until, gpf_buf *out)
{
    char chunk[4096];
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, idle_ms) <= 0)
            break;
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0)
            break;
        gpf_buf_append(out, chunk, (size_t)n);
        if (until && strstr(gpf_buf_cstr(out), until))
            break;
    }
    gpf_buf_cstr(out);
}

/* Sends the request (len bytes: it may hold a NUL) on a fresh connection and reads the answer
 * until the server closes (requests say "Connection: close") or 2 s of silence. */
static void raw_exchange(const srv *s, const char *req, size_t len, gpf_buf *out)
{
    int fd = raw_connect(s->port);
    gpf_buf_reset(out);
    raw_send(fd, req, len);
    raw_read(fd, 2000, NULL, out);
    close(fd);
}

/* The status of the first response in text (-1 when there is none). */
static int status_of(const char *text)
{
    int code = -1;
    if (sscanf(text, "HTTP/1.%*d %d", &code) != 1)
        return -1;
    return code;
}

/* The value of header name in the first response of text, copied to out ("" when absent). */
static void header_of(const char *text, const char *name, char *out, size_t size)
{
    size_t nlen = strlen(name);
    const char *end = strstr(text, "\r\n\r\n");
    out[0] = '\0';
    for (const char *line = strstr(text, "\r\n"); line && (!end || line < end); line = strstr(line + 2, "\r\n")) {
        const char *h = line + 2;
        if (strncasecmp(h, name, nlen) == 0 && h[nlen] == ':') {
            h += nlen + 1;
            h += strspn(h, " ");
            size_t vlen = strcspn(h, "\r\n");
            snprintf(out, size, "%.*s", (int)(vlen < size ? vlen : size - 1), h);
            return;
        }
    }
}

/* The body of the first response in text ("" when there is none). */
static const char *body_of(const char *text)
{
    const char *end = strstr(text, "\r\n\r\n");
    return end ? end + 4 : "";
}

/* METHOD target with the admin's token, no body: the answer in out, the status returned. */
static int raw_call(const srv *s, const char *method, const char *target, const char *token, gpf_buf *out)
{
    gpf_buf req = {0};
    gpf_buf_printf(&req, "%s %s HTTP/1.1\r\nHost: localhost\r\n", method, target);
    if (token)
        gpf_buf_printf(&req, "Authorization: Bearer %s\r\n", token);
    gpf_buf_printf(&req, "Connection: close\r\n\r\n");
    raw_exchange(s, req.data, req.len, out);
    gpf_buf_clear(&req);
    return status_of(out->data);
}

/* ---- 1: the raw request target ------------------------------------------------------- */

static void test_target_encoded_nul_and_slash(void **state)
{
    srv *s = *state;
    const char *tok = s->f->admin_tok;
    gpf_buf out = {0};
    static const struct {
        const char *method, *target;
        int with_token, status;
        const char *says;        /* in the answer's body; NULL: not checked */
    } cases[] = {
        /* %00 cut the id short: DELETE /v1/skus/whole%00x deleted "whole" */
        {"DELETE", "/v1/skus/whole%00x", 1, 400, "encoded NUL (%00)"},
        {"GET", "/v1/skus/whole", 1, 200, "\"name\":\"whole\""},
        /* an encoded '/' would move a segment boundary; encoded and raw control characters */
        {"GET", "/v1/skus/who%2Fle", 1, 400, "encoded '/' (%2F)"},
        {"GET", "/v1/skus/who%2fle", 1, 400, "encoded '/' (%2F)"},
        {"GET", "/v1/skus/whole%0A", 1, 400, "encoded control character"},
        {"GET", "/v1/skus/whole%7f", 1, 400, "encoded control character"},
        {"GET", "/v1/skus/who\x01le", 1, 400, "holds a control character"},
        /* ... before authentication too, and in the query */
        {"DELETE", "/v1/skus/whole%00x", 0, 400, "\"malformed\""},
        {"GET", "/v1/pods?all=1%00", 1, 400, "encoded NUL (%00)"},
        {"GET", "/v1/skus/whole", 1, 200, NULL},
        /* what is fine stays fine: other escapes decode, and the query may hold an encoded '/' */
        {"GET", "/v1/skus/whol%65", 1, 200, "\"name\":\"whole\""},
        {"GET", "/v1/skus?x=a%2Fb", 1, 200, NULL},
        {"GET", "/v1/skus/nope%41", 1, 404, "no SKU 'nopeA'"},
        {"DELETE", "/v1/skus/whole", 1, 204, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int status = raw_call(s, cases[i].method, cases[i].target, cases[i].with_token ? tok : NULL, &out);
        if (status != cases[i].status || (cases[i].says && !strstr(body_of(out.data), cases[i].says)))
            fail_msg("%s %s: expected %d with '%s', got: %s", cases[i].method, cases[i].target, cases[i].status,
                     cases[i].says ? cases[i].says : "", out.data);
    }
    gpf_buf_clear(&out);
}

/* ---- 2: HEAD -------------------------------------------------------------------------- */

/* HEAD target answers GET's status and headers (Content-Type, Content-Length) without a body. */
static void assert_head_like_get(const srv *s, const char *target, const char *token, int status)
{
    gpf_buf get = {0}, head = {0};
    char glen[32], hlen[32], gtype[64], htype[64];
    assert_int_equal(raw_call(s, "GET", target, token, &get), status);
    assert_int_equal(raw_call(s, "HEAD", target, token, &head), status);
    header_of(get.data, "Content-Length", glen, sizeof glen);
    header_of(head.data, "Content-Length", hlen, sizeof hlen);
    header_of(get.data, "Content-Type", gtype, sizeof gtype);
    header_of(head.data, "Content-Type", htype, sizeof htype);
    assert_true(glen[0] != '\0');
    assert_string_equal(hlen, glen);
    assert_int_equal((size_t)atoi(glen), strlen(body_of(get.data)));
    assert_string_equal(htype, gtype);
    assert_string_equal(body_of(head.data), "");
    gpf_buf_clear(&get);
    gpf_buf_clear(&head);
}

static void test_head_where_get(void **state)
{
    srv *s = *state;
    gpf_buf out = {0};
    char allow[64];
    assert_head_like_get(s, "/healthz", NULL, 200);
    assert_head_like_get(s, "/v1/skus", s->f->admin_tok, 200);
    assert_head_like_get(s, "/v1/skus/whole", s->f->admin_tok, 200);
    assert_head_like_get(s, "/v1/skus/nope", s->f->admin_tok, 404);
    assert_head_like_get(s, "/v1/skus", NULL, 401);
    assert_head_like_get(s, "/no/such/path", NULL, 404);

    /* a path without GET: HEAD is not allowed either, and 405 says what is (Allow) */
    assert_int_equal(raw_call(s, "HEAD", "/v1/pods/x/stop", s->f->admin_tok, &out), 405);
    header_of(out.data, "Allow", allow, sizeof allow);
    assert_string_equal(allow, "POST");
    assert_int_equal(raw_call(s, "POST", "/healthz", NULL, &out), 405);
    header_of(out.data, "Allow", allow, sizeof allow);
    assert_string_equal(allow, "GET, HEAD");
    assert_int_equal(raw_call(s, "PUT", "/v1/skus/whole", s->f->admin_tok, &out), 405);
    header_of(out.data, "Allow", allow, sizeof allow);
    assert_string_equal(allow, "GET, HEAD, PATCH, DELETE");
    gpf_buf_clear(&out);
}

/* ---- 3: framing headers ---------------------------------------------------------------- */

static void test_content_length_conflicts(void **state)
{
    srv *s = *state;
    gpf_buf req = {0}, out = {0};
    const char *sku = "{\"name\":\"smuggled\",\"slice\":{\"kind\":\"whole\"},\"models\":[\"H100-80GB\"]}";
    const char *second[] = {"Content-Length: 2", "Content-Length: 9999", "content-length: 2",
                            "Transfer-Encoding: chunked"};
    for (size_t i = 0; i < sizeof second / sizeof second[0]; i++) {
        gpf_buf_reset(&req);
        gpf_buf_printf(&req,
                       "POST /v1/skus HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
                       "Content-Type: application/json\r\nContent-Length: 2\r\n%s\r\nConnection: close\r\n\r\n{}",
                       s->f->admin_tok, second[i]);
        raw_exchange(s, req.data, req.len, &out);
        if (status_of(out.data) != 400)
            fail_msg("with '%s' as a second framing header: %s", second[i], out.data);
        assert_contains(body_of(out.data), "\"malformed\"");
        assert_contains(body_of(out.data), i < 3 ? "more than one Content-Length" : "Transfer-Encoding");
    }
    /* nothing behind the first length was taken as a request of its own */
    gpf_buf_reset(&req);
    gpf_buf_printf(&req,
                   "POST /v1/skus HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
                   "Content-Length: %zu\r\nContent-Length: %zu\r\n\r\n%s",
                   s->f->admin_tok, strlen(sku), strlen(sku) + 1, sku);
    raw_exchange(s, req.data, req.len, &out);
    assert_int_equal(status_of(out.data), 400);
    assert_null(strstr(body_of(out.data), "HTTP/1.1"));
    assert_int_equal(raw_call(s, "GET", "/v1/skus/smuggled", s->f->admin_tok, &out), 404);
    gpf_buf_clear(&req);
    gpf_buf_clear(&out);
}

/* ---- 4: Expect: 100-continue ------------------------------------------------------------ */

static void test_too_large_before_continue(void **state)
{
    srv *s = *state;
    gpf_buf req = {0}, out = {0};
    gpf_buf_printf(&req,
                   "POST /v1/skus HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n\r\n",
                   s->f->admin_tok);
    raw_exchange(s, req.data, req.len, &out); /* the body is never sent: the client waits */
    assert_int_equal(status_of(out.data), 413);
    assert_null(strstr(out.data, "100 Continue"));
    assert_contains(body_of(out.data), "\"too_large\"");

    /* the same before authentication, and for a path that does not exist */
    gpf_buf_reset(&req);
    gpf_buf_printf(&req, "POST /v1/nothing HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
                         "Content-Length: 65537\r\n\r\n");
    raw_exchange(s, req.data, req.len, &out);
    assert_int_equal(status_of(out.data), 413);
    assert_null(strstr(out.data, "100 Continue"));

    /* within the limit "100 Continue" comes first, then the answer to the body */
    const char *body = "{\"name\":\"\"}";
    int fd = raw_connect(s->port);
    gpf_buf_reset(&req);
    gpf_buf_reset(&out);
    gpf_buf_printf(&req,
                   "POST /v1/skus HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n",
                   s->f->admin_tok, strlen(body));
    raw_send(fd, req.data, req.len);
    raw_read(fd, 2000, "\r\n\r\n", &out);
    assert_int_equal(status_of(out.data), 100);
    gpf_buf_reset(&out);
    raw_send(fd, body, strlen(body));
    raw_read(fd, 2000, NULL, &out);
    close(fd);
    assert_int_equal(status_of(out.data), 422);
    gpf_buf_clear(&req);
    gpf_buf_clear(&out);
}

/* ---- 5: file modes of `serve` ---------------------------------------------------------- */

typedef struct modes_seen {
    volatile sig_atomic_t stop;
    int called;
    mode_t dir, db, wal, shm;
} modes_seen;

static mode_t mode_of(const char *dir, const char *name)
{
    char path[600];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

/* serve's ready callback: the modes while it runs (the -wal and -shm files exist only then). */
static void on_ready(const gpf_serve_ready *facts, void *arg)
{
    modes_seen *m = arg;
    m->called = 1;
    m->dir = mode_of(facts->state_dir, ".");
    m->db = mode_of(facts->state_dir, "gpufleet.db");
    m->wal = mode_of(facts->state_dir, "gpufleet.db-wal");
    m->shm = mode_of(facts->state_dir, "gpufleet.db-shm");
    m->stop = 1;
}

static void serve_once(const char *state_dir, modes_seen *m)
{
    gpf_serve_config cfg;
    gpf_error err = {0};
    int dump = 0, help = 0;
    char *argv[] = {"--state-dir", (char *)state_dir, "--listen", "127.0.0.1:0", "--log-level", "error"};
    memset(&cfg, 0, sizeof cfg);
    memset(m, 0, sizeof *m);
    assert_int_equal(gpf_config_load(gpf_serve_options, &cfg, 6, argv, &dump, &help, &err), 0);
    if (gpf_serve_run(&cfg, NULL, &m->stop, "/nonexistent", on_ready, m, &err) != 0)
        fail_msg("serve: %s", gpf_error_msg(&err));
    assert_true(m->called);
}

static void test_serve_state_is_private(void **state)
{
    (void)state;
    char top[] = "/tmp/gpf-apihttp.XXXXXX", sd[128], db[160];
    modes_seen m;
    mode_t old = umask(022); /* the usual umask: sqlite would make the database 0644 */
    gpf_log_set_level(GPF_LOG_ERROR);
    assert_non_null(mkdtemp(top));

    snprintf(sd, sizeof sd, "%s/new", top);
    serve_once(sd, &m);
    assert_int_equal(m.dir, 0700);
    assert_int_equal(m.db, 0600);
    assert_int_equal(m.wal, 0600);
    assert_int_equal(m.shm, 0600);

    /* a database a former version left 0644: tightened before it is opened */
    snprintf(sd, sizeof sd, "%s/old", top);
    assert_int_equal(mkdir(sd, 0700), 0);
    snprintf(db, sizeof db, "%s/gpufleet.db", sd);
    FILE *fp = fopen(db, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(chmod(db, 0644), 0);
    serve_once(sd, &m);
    assert_int_equal(m.db, 0600);
    assert_int_equal(m.wal, 0600);
    assert_int_equal(m.shm, 0600);

    umask(old);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_target_encoded_nul_and_slash, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_head_where_get, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_content_length_conflicts, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_too_large_before_continue, srv_setup, srv_teardown),
        cmocka_unit_test(test_serve_state_is_private),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
