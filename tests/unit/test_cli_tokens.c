/* The CLI's side of the credential lifecycle: `token create --name --expires-in | ls |
 * revoke`, `user disable | enable | delete` and the STATE column of `user ls`, run through
 * gpf_cli_main against the fake HTTP server (helpers/cli_fixture.h); and the duration parser
 * behind --expires-in. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"
#include "model/tenancy.h"

#include "helpers/cli_fixture.h"

#define assert_contains(s, sub)                                                                \
    do {                                                                                       \
        if (!strstr((s), (sub)))                                                               \
            fail_msg("'%s' does not contain '%s'", (s), (sub));                                \
    } while (0)

static void test_parse_duration(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t s; /* -1: refused */
    } cases[] = {
        {"45s", 45}, {"90m", 5400}, {"12h", 43200}, {"30d", 2592000}, {"2w", 1209600}, {"600", 600},
        {"3660d", GPF_TOKEN_EXPIRES_MAX_S}, {"3661d", -1}, {"0d", -1}, {"", -1}, {"d", -1}, {"5x", -1},
        {"5dd", -1}, {"-5d", -1}, {"1.5h", -1}, {"99999999999999999999999s", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t s = -7;
        gpf_error err = {0};
        int rc = gpf_cli_parse_duration(cases[i].in, GPF_TOKEN_EXPIRES_MAX_S, &s, &err);
        if (cases[i].s < 0) {
            if (rc != GPF_EINVAL)
                fail_msg("'%s' accepted as %lld", cases[i].in, (long long)s);
            assert_contains(err.msg, "like 30d");
        } else if (rc != 0 || s != cases[i].s) {
            fail_msg("'%s' gave rc %d, %lld", cases[i].in, rc, (long long)s);
        }
    }
}

static void test_token_commands(void **state)
{
    (void)state;
    cf_write_config("t", "");
    CF_ROUTE("GET", "/v1/whoami", 200, "{\"user\":\"alice\",\"role\":\"member\"}");
    CF_ROUTE("POST", "/v1/users/alice/tokens", 201,
             "{\"id\":\"tok-1\",\"name\":\"laptop\",\"token\":\"gpf_s3cret\",\"user\":\"alice\"}");
    CF_ROUTE("GET", "/v1/tokens", 200,
             "{\"tokens\":[{\"id\":\"tok-1\",\"name\":\"laptop\",\"user\":\"alice\","
             "\"created_at\":\"2026-01-02T03:04:05.000Z\",\"last_used_at\":null,"
             "\"expires_at\":\"2026-02-01T03:04:05.000Z\",\"expired\":true},"
             "{\"id\":\"tok-2\",\"name\":\"\",\"user\":\"alice\",\"created_at\":\"2026-01-02T03:04:05.000Z\","
             "\"last_used_at\":\"2026-01-03T00:00:00.000Z\",\"expires_at\":null,\"expired\":false}]}");
    CF_ROUTE("GET", "/v1/tokens?user=bob", 200, "{\"tokens\":[]}");
    CF_ROUTE("DELETE", "/v1/tokens/tok-1", 204, NULL);

    struct cf_run r = cf_run_cli("token", "create", "--name", "laptop", "--expires-in", "30d", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "gpf_s3cret\n");
    assert_string_equal(gpf_test_http_req(cf_srv, 1)->body, "{\"name\":\"laptop\",\"expires_in_s\":2592000}");
    cf_run_free(&r);
    r = cf_run_cli("token", "create", "--expires-in", "soon", NULL);
    assert_int_equal(r.rc, 2); /* usage */
    assert_true(cf_one_line(r.err));
    cf_run_free(&r);

    r = cf_run_cli("token", "ls", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "LAST USED");
    assert_contains(r.out, "laptop");
    assert_contains(r.out, "(expired)");
    assert_contains(r.out, "2026-01-03 00:00:00");
    assert_null(strstr(r.out, "gpf_"));
    cf_run_free(&r);
    r = cf_run_cli("token", "ls", "--user", "bob", NULL);
    assert_int_equal(r.rc, 0);
    cf_run_free(&r);

    r = cf_run_cli("token", "revoke", "tok-1", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "revoked token tok-1\n");
    cf_run_free(&r);
    r = cf_run_cli("token", "revoke", NULL);
    assert_int_equal(r.rc, 2);
    cf_run_free(&r);
}

static void test_user_commands(void **state)
{
    (void)state;
    cf_write_config("t", "");
    CF_ROUTE("PATCH", "/v1/users/bob", 200, "{\"name\":\"bob\",\"role\":\"member\",\"disabled\":true}");
    CF_ROUTE("DELETE", "/v1/users/bob", 204, NULL);
    CF_ROUTE("DELETE", "/v1/users/admin", 409,
             "{\"error\":{\"code\":\"bad_state\",\"message\":\"cannot delete 'admin': it is the last enabled admin "
             "(make another user admin first)\"}}");
    CF_ROUTE("GET", "/v1/users", 200,
             "{\"users\":[{\"name\":\"bob\",\"role\":\"member\",\"ssh_pubkey\":\"\",\"created_at\":null,"
             "\"disabled\":true},{\"name\":\"eve\",\"role\":\"viewer\",\"ssh_pubkey\":\"\",\"created_at\":null,"
             "\"disabled\":false}]}");

    struct cf_run r = cf_run_cli("user", "disable", "bob", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "disabled user bob");
    assert_string_equal(gpf_test_http_req(cf_srv, 0)->body, "{\"disabled\":true}");
    cf_run_free(&r);
    r = cf_run_cli("user", "enable", "bob", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "enabled user bob\n");
    assert_string_equal(gpf_test_http_req(cf_srv, 1)->body, "{\"disabled\":false}");
    cf_run_free(&r);
    r = cf_run_cli("user", "delete", "bob", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "deleted user bob");
    cf_run_free(&r);
    r = cf_run_cli("user", "delete", "admin", NULL);
    assert_int_equal(r.rc, 5); /* conflict */
    assert_contains(r.err, "last enabled admin");
    assert_true(cf_one_line(r.err));
    cf_run_free(&r);
    r = cf_run_cli("user", "ls", NULL);
    assert_int_equal(r.rc, 0);
    assert_contains(r.out, "STATE");
    assert_contains(r.out, "disabled");
    assert_contains(r.out, "active");
    cf_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test_setup_teardown(test_token_commands, cf_setup, cf_teardown),
        cmocka_unit_test_setup_teardown(test_user_commands, cf_setup, cf_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
