/* gpf_httpc against a small fake HTTP server running in a thread on 127.0.0.1:0. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/httpc.h"
#include "util/timeutil.h"

#include "helpers/fake_http.h"

/* ---- tests ---- */

struct ctx {
    gpf_test_http *f;
    gpf_httpc *c;
    char url[64];
    void *owned; /* freed after the server thread is gone */
};

/* A route that answers every request for method + path (body_len 0: strlen(body)). */
static void route(struct ctx *x, const char *method, const char *path, int status,
                  const char *body, size_t body_len, int delay_ms)
{
    gpf_test_http_route(x->f, (gpf_test_route){.method = method, .path = path, .status = status,
                                               .body = body, .body_len = body_len,
                                               .delay_ms = delay_ms});
}

static int setup(void **state)
{
    struct ctx *x = calloc(1, sizeof *x);
    x->f = gpf_test_http_start();
    snprintf(x->url, sizeof x->url, "http://127.0.0.1:%d/", gpf_test_http_port(x->f));
    assert_int_equal(gpf_httpc_new(x->url, "tok-1", &x->c, NULL), 0);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *x = *state;
    gpf_httpc_free(x->c);
    gpf_test_http_stop(x->f);
    free(x->owned);
    free(x);
    return 0;
}

static void test_get_json(void **state)
{
    struct ctx *x = *state;
    json_t *resp = NULL;
    int status = 0;
    gpf_error err = {0};

    route(x, "GET", "/v1/skus", 200, "{\"skus\":[{\"name\":\"small\"}]}", 0, 0);
    assert_int_equal(gpf_httpc_request(x->c, "GET", "/v1/skus", NULL, &status, &resp, &err), 0);
    assert_int_equal(status, 200);
    assert_non_null(resp);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(resp, "skus"), 0), "name")), "small");
    json_decref(resp);
    /* the same handle is reused for a second request */
    assert_int_equal(gpf_httpc_request(x->c, "GET", "/v1/skus", NULL, &status, &resp, &err), 0);
    json_decref(resp);
    assert_int_equal(gpf_test_http_nreqs(x->f), 2);
    assert_string_equal(gpf_test_http_req(x->f, 0)->method, "GET");
    assert_string_equal(gpf_test_http_req(x->f, 0)->path, "/v1/skus"); /* base URL's trailing '/' dropped */
    assert_string_equal(gpf_test_http_req(x->f, 0)->auth, "Bearer tok-1");
    assert_string_equal(gpf_test_http_req(x->f, 0)->body, "");
}

static void test_post_body_and_methods(void **state)
{
    struct ctx *x = *state;
    json_t *resp = NULL, *body = json_pack("{s:s,s:i}", "sku", "small", "n", 2);
    int status = 0;

    route(x, "POST", "/v1/pods", 201, "{\"id\":\"p-1\"}", 0, 0);
    route(x, "DELETE", "/v1/skus/a", 204, NULL, 0, 0);
    route(x, "PATCH", "/v1/users/a", 200, "  \n", 0, 0);
    route(x, "POST", "/v1/pods/p-1/stop", 202, "{}", 0, 0);
    assert_int_equal(gpf_httpc_request(x->c, "POST", "/v1/pods", body, &status, &resp, NULL), 0);
    assert_int_equal(status, 201);
    assert_string_equal(json_string_value(json_object_get(resp, "id")), "p-1");
    json_decref(resp);
    assert_string_equal(gpf_test_http_req(x->f, 0)->body, "{\"sku\":\"small\",\"n\":2}");
    assert_string_equal(gpf_test_http_req(x->f, 0)->ctype, "application/json");

    assert_int_equal(gpf_httpc_request(x->c, "DELETE", "/v1/skus/a", NULL, &status, &resp, NULL), 0);
    assert_int_equal(status, 204);
    assert_null(resp);
    assert_string_equal(gpf_test_http_req(x->f, 1)->method, "DELETE");

    assert_int_equal(gpf_httpc_request(x->c, "PATCH", "/v1/users/a", body, &status, &resp, NULL), 0);
    assert_null(resp); /* blank body */
    assert_string_equal(gpf_test_http_req(x->f, 2)->method, "PATCH");
    assert_string_equal(gpf_test_http_req(x->f, 2)->body, "{\"sku\":\"small\",\"n\":2}");

    /* POST without a body sends an empty one */
    assert_int_equal(gpf_httpc_request(x->c, "POST", "/v1/pods/p-1/stop", NULL, &status, &resp, NULL), 0);
    assert_int_equal(status, 202);
    assert_string_equal(gpf_test_http_req(x->f, 3)->method, "POST");
    assert_string_equal(gpf_test_http_req(x->f, 3)->ctype, "");
    json_decref(resp);
    json_decref(body);
}

static void test_error_bodies(void **state)
{
    struct ctx *x = *state;
    json_t *resp = NULL;
    int status = 0;
    gpf_error err = {0};

    route(x, "GET", "/v1/pods/p-9", 404,
          "{\"error\":{\"code\":\"not_found\",\"message\":\"no pod p-9\"}}", 0, 0);
    route(x, "POST", "/v1/pods", 409,
          "{\"error\":{\"code\":\"no_capacity\",\"message\":\"no H100 free\"}}", 0, 0);
    route(x, "GET", "/v1/users", 403, NULL, 0, 0);
    route(x, "GET", "/v1/boom", 500, "<html>oops</html>", 0, 0);
    route(x, "GET", "/v1/odd", 400, "{\"error\":{\"code\":\"wat\",\"message\":\"\"}}", 0, 0);

    assert_int_equal(gpf_httpc_request(x->c, "GET", "/v1/pods/p-9", NULL, &status, &resp, &err), GPF_ENOTFOUND);
    assert_int_equal(status, 404);
    assert_null(resp);
    assert_int_equal(err.code, GPF_ENOTFOUND);
    assert_string_equal(err.msg, "no pod p-9");

    assert_int_equal(gpf_httpc_request(x->c, "POST", "/v1/pods", NULL, &status, &resp, &err), GPF_ENOCAPACITY);
    assert_int_equal(status, 409);
    assert_string_equal(err.msg, "no H100 free");

    assert_int_equal(gpf_httpc_request(x->c, "GET", "/v1/users", NULL, &status, &resp, &err), GPF_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "HTTP 403"));

    assert_int_equal(gpf_httpc_request(x->c, "GET", "/v1/boom", NULL, &status, &resp, &err), GPF_EINTERNAL);
    assert_int_equal(status, 500);
    assert_non_null(strstr(err.msg, "HTTP 500"));

    /* an unknown error name keeps the code from the table (internal) with its default text */
    assert_int_equal(gpf_httpc_request(x->c, "GET", "/v1/odd", NULL, &status, &resp, &err), GPF_EINTERNAL);
    assert_string_equal(err.msg, gpf_err_text(GPF_EINTERNAL));
}

static void test_bad_json(void **state)
{
    struct ctx *x = *state;
    json_t *resp = NULL;
    gpf_error err = {0};
    route(x, "GET", "/v1/x", 200, "{\"a\":", 0, 0);
    assert_int_equal(gpf_httpc_request(x->c, "GET", "/v1/x", NULL, NULL, &resp, &err), GPF_EMALFORMED);
    assert_null(resp);
    assert_non_null(strstr(err.msg, "invalid JSON"));
}

static void test_unreachable(void **state)
{
    (void)state;
    int port = 0, fd = gpf_test_bind_local(&port, 0);
    char url[64];
    gpf_httpc *c = NULL;
    gpf_error err = {0};
    json_t *resp = NULL;

    close(fd); /* nothing listens there now */
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    assert_int_equal(gpf_httpc_new(url, NULL, &c, &err), 0);
    assert_int_equal(gpf_httpc_request(c, "GET", "/v1/whoami", NULL, NULL, &resp, &err), GPF_EUNAVAIL);
    assert_int_equal(err.code, GPF_EUNAVAIL);
    char prefix[96];
    snprintf(prefix, sizeof prefix, "cannot reach %s: ", url);
    assert_memory_equal(err.msg, prefix, strlen(prefix));
    assert_true(strlen(err.msg) > strlen(prefix));
    gpf_httpc_free(c);
}

static void test_timeout(void **state)
{
    struct ctx *x = *state;
    gpf_error err = {0};
    /* The server stalls 10 s before it answers; the client gives up after 100 ms. The
     * bound only tells "gave up" from "waited for the answer": it cannot flake on a slow
     * machine (the stall ends when the teardown stops the server). */
    route(x, "GET", "/slow", 200, "{}", 0, 10000);
    gpf_httpc_set_timeout_ms(x->c, 100);
    int64_t t0 = gpf_mono_ms();
    assert_int_equal(gpf_httpc_request(x->c, "GET", "/slow", NULL, NULL, NULL, &err), GPF_EUNAVAIL);
    assert_true(gpf_mono_ms() - t0 < 9000);
    assert_int_equal(err.code, GPF_EUNAVAIL);
    assert_non_null(strstr(err.msg, "cannot reach"));
    assert_true(strstr(err.msg, "timed out") || strstr(err.msg, "Timeout")); /* curl's words for it */
}

static void test_size_limit(void **state)
{
    struct ctx *x = *state;
    size_t big = (size_t)16 * 1024 * 1024 + 4096, ok = 1024 * 1024;
    char *body = x->owned = malloc(big);
    json_t *resp = NULL;
    gpf_error err = {0};

    memset(body, ' ', big);
    body[0] = '[';
    body[ok - 1] = ']';
    body[big - 1] = ']';
    route(x, "GET", "/big", 200, body, big, 0);
    route(x, "GET", "/ok", 200, body, ok, 0);
    assert_int_equal(gpf_httpc_request(x->c, "GET", "/big", NULL, NULL, &resp, &err), GPF_ETOOLARGE);
    assert_null(resp);
    assert_non_null(strstr(err.msg, "16 MiB"));
    /* a 1 MiB body is fine, and the handle still works after the aborted transfer */
    assert_int_equal(gpf_httpc_request(x->c, "GET", "/ok", NULL, NULL, &resp, &err), 0);
    assert_true(json_is_array(resp));
    json_decref(resp);
}

static void test_text_and_token(void **state)
{
    struct ctx *x = *state;
    char *text = NULL;
    int status = 0;
    gpf_error err = {0};

    route(x, "GET", "/metrics", 200, "gpf_pods 3\n", 0, 0);
    assert_int_equal(gpf_httpc_get_text(x->c, "/metrics", &text, &status, &err), 0);
    assert_int_equal(status, 200);
    assert_string_equal(text, "gpf_pods 3\n");
    gpf_free(text);
    assert_int_equal(gpf_httpc_get_text(x->c, "/nope", &text, &status, &err), GPF_ENOTFOUND);
    assert_null(text);
    assert_int_equal(status, 404);

    gpf_httpc_set_token(x->c, "tok-2");
    assert_int_equal(gpf_httpc_get_text(x->c, "/metrics", &text, NULL, NULL), 0);
    gpf_free(text);
    gpf_httpc_set_token(x->c, NULL);
    assert_int_equal(gpf_httpc_get_text(x->c, "/metrics", &text, NULL, NULL), 0);
    gpf_free(text);
    assert_string_equal(gpf_test_http_req(x->f, 2)->auth, "Bearer tok-2");
    assert_string_equal(gpf_test_http_req(x->f, 3)->auth, "");
}

static void test_bad_url(void **state)
{
    (void)state;
    gpf_httpc *c = NULL;
    gpf_error err = {0};
    assert_int_equal(gpf_httpc_new("ftp://x", "t", &c, &err), GPF_EINVAL);
    assert_null(c);
    assert_int_equal(gpf_httpc_new(NULL, "t", &c, &err), GPF_EINVAL);
    gpf_httpc_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_body_and_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_json, setup, teardown),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_and_token, setup, teardown),
        cmocka_unit_test(test_bad_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
