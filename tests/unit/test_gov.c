/* Permissions (gov/gov.h) as a table: every principal (the five roles and an agent token) ×
 * every action × the caller's own object, another's object and no object yet → allowed,
 * forbidden or not found; and the refusal texts the API shows, word for word. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "gov/gov.h"
#include "util/error.h"

/* The principals, in the order of the table's columns. */
enum { P_ADMIN, P_OPERATOR, P_MEMBER, P_FINANCE, P_VIEWER, P_AGENT, P_N };

static gpf_principal principal(int p)
{
    static const char *const users[P_N] = {"alice", "oscar", "mia", "finn", "vic", ""};
    static const gpf_role roles[P_N] = {GPF_ROLE_ADMIN, GPF_ROLE_OPERATOR, GPF_ROLE_MEMBER, GPF_ROLE_FINANCE,
                                        GPF_ROLE_VIEWER, GPF_ROLE_ADMIN};
    gpf_principal w;
    memset(&w, 0, sizeof w);
    snprintf(w.user, sizeof w.user, "%s", users[p]);
    w.role = roles[p]; /* an agent's principal has role 0 (admin): only is_agent may count */
    if (p == P_AGENT) {
        w.is_agent = 1;
        snprintf(w.host_id, sizeof w.host_id, "gpu-a");
    }
    return w;
}

/* One row per action; each string has one letter per principal (admin operator member
 * finance viewer agent): A allowed, F GPF_EFORBIDDEN, N GPF_ENOTFOUND.
 *   own    the object is the caller's: its name is the id, it owns it, it sits on the
 *          caller's host (for an agent: owner and name "", its own host)
 *   other  someone else's: id and owner "zed", host "gpu-z"
 *   none   NULL: asked before the object is looked up */
static const struct row {
    gpf_action action;
    const char *own, *other, *none;
} table[] = {
    /*                         own       other     none */
    {GPF_ACT_HOST_READ,        "AAAAAA", "AAAAAA", "AAAAAA"},
    {GPF_ACT_SKU_READ,         "AAAAAA", "AAAAAA", "AAAAAA"},
    {GPF_ACT_IMAGE_READ,       "AAAAAA", "AAAAAA", "AAAAAA"},
    {GPF_ACT_METRICS_READ,     "AAAAAA", "AAAAAA", "AAAAAA"},
    {GPF_ACT_USER_CREATE,      "AFFFFF", "AFFFFF", "AFFFFF"},
    {GPF_ACT_USER_LIST,        "AFFFFF", "AFFFFF", "AFFFFF"},
    {GPF_ACT_USER_READ,        "AAAAAF", "AFFFFF", "AAAAAF"},
    {GPF_ACT_USER_UPDATE,      "AAAAAF", "AFFFFF", "AAAAAF"},
    {GPF_ACT_USER_SET_ROLE,    "AFFFFF", "AFFFFF", "AFFFFF"},
    {GPF_ACT_TOKEN_CREATE,     "AAAAAF", "AFFFFF", "AAAAAF"},
    {GPF_ACT_TOKEN_LIST,       "AAAAAF", "AFFFFF", "AAAAAF"},
    {GPF_ACT_TOKEN_REVOKE,     "AAAAAF", "AFFFFF", "AAAAAF"},
    {GPF_ACT_USER_DISABLE,     "AFFFFF", "AFFFFF", "AFFFFF"},
    {GPF_ACT_USER_DELETE,      "AFFFFF", "AFFFFF", "AFFFFF"},
    {GPF_ACT_SKU_WRITE,        "AAFFFF", "AAFFFF", "AAFFFF"},
    {GPF_ACT_IMAGE_WRITE,      "AAFFFF", "AAFFFF", "AAFFFF"},
    {GPF_ACT_HOST_OVERRIDE,    "AAFFFF", "AAFFFF", "AAFFFF"},
    {GPF_ACT_HOST_REKEY,       "AAFFFF", "AAFFFF", "AAFFFF"},
    {GPF_ACT_JOIN_TOKEN_WRITE, "AAFFFF", "AAFFFF", "AAFFFF"},
    {GPF_ACT_JOIN_TOKEN_LIST,  "AAFFFF", "AAFFFF", "AAFFFF"},
    {GPF_ACT_POD_LAUNCH,       "AAAFFF", "AAAFFF", "AAAFFF"},
    {GPF_ACT_POD_LIST,         "AAAAAF", "AAAAAF", "AAAAAF"},
    {GPF_ACT_POD_READ,         "AAAAAF", "AAFFFF", "AAAAAF"},
    {GPF_ACT_POD_STOP,         "AAAAAF", "AAFFFF", "AAAAAF"},
    {GPF_ACT_USAGE_LIST,       "AAAAAF", "AAAAAF", "AAAAAF"},
    {GPF_ACT_USAGE_READ_ALL,   "AAFAFF", "AAFAFF", "AAFAFF"},
    {GPF_ACT_USAGE_READ,       "AAAAAF", "AAFAFF", "AAAAAF"},
    {GPF_ACT_EVENT_LIST,       "AAAAAF", "AAAAAF", "AAAAAF"},
    {GPF_ACT_EVENT_READ,       "AAAAAF", "AAFFAF", "AAAAAF"},
    {GPF_ACT_AGENT_REPORT,     "FFFFFA", "FFFFFA", "FFFFFA"},
    {GPF_ACT_AGENT_POD_STATUS, "FFFFFA", "FFFFFN", "FFFFFA"},
    {GPF_ACT_IMAGE_BLOB_READ,  "FFFFFA", "FFFFFA", "FFFFFA"},
};

static int expected_code(char c)
{
    return c == 'A' ? 0 : c == 'N' ? GPF_ENOTFOUND : GPF_EFORBIDDEN;
}

static void check(const gpf_principal *w, gpf_action a, const gpf_gov_object *obj, char want, const char *col,
                  int *checked)
{
    char why[256] = "x";
    int rc = gpf_gov_can(w, a, obj, why, sizeof why);
    if (rc != expected_code(want))
        fail_msg("%s by %s (%s), %s object: got %d (%s), want %c", gpf_action_name(a),
                 w->is_agent ? "agent" : w->user, gpf_role_name(w->role), col, rc, why, want);
    /* a refusal always says why; an allowance says nothing */
    if (rc == 0)
        assert_string_equal(why, "");
    else
        assert_true(why[0] != '\0');
    (*checked)++;
}

static void test_table(void **state)
{
    (void)state;
    int checked = 0, seen[GPF_ACT_COUNT] = {0};
    assert_int_equal(sizeof table / sizeof table[0], GPF_ACT_COUNT);
    for (size_t r = 0; r < sizeof table / sizeof table[0]; r++) {
        const struct row *t = &table[r];
        assert_int_equal(strlen(t->own), P_N);
        assert_int_equal(strlen(t->other), P_N);
        assert_int_equal(strlen(t->none), P_N);
        seen[t->action]++;
        for (int p = 0; p < P_N; p++) {
            gpf_principal w = principal(p);
            gpf_gov_object own = {w.user, w.user, w.host_id};
            gpf_gov_object other = {"zed", "zed", "gpu-z"};
            check(&w, t->action, &own, t->own[p], "own", &checked);
            check(&w, t->action, &other, t->other[p], "other", &checked);
            check(&w, t->action, NULL, t->none[p], "no", &checked);
        }
    }
    for (int a = 0; a < GPF_ACT_COUNT; a++)
        assert_int_equal(seen[a], 1); /* every action has exactly one row */
    assert_int_equal(checked, GPF_ACT_COUNT * P_N * 3);
}

/* The refusals read as the engine's messages did. */
static void expect_why(int p, gpf_action a, const gpf_gov_object *obj, int code, const char *text)
{
    gpf_principal w = principal(p);
    char why[256];
    assert_int_equal(gpf_gov_can(&w, a, obj, why, sizeof why), code);
    assert_string_equal(why, text);
}

static void test_reasons(void **state)
{
    (void)state;
    gpf_gov_object pod = {"pod-0badf00d", "zed", "gpu-z"}, user = {"zed", NULL, NULL};
    expect_why(P_AGENT, GPF_ACT_POD_LIST, NULL, GPF_EFORBIDDEN, "agent tokens cannot do this");
    expect_why(P_AGENT, GPF_ACT_USER_READ, &user, GPF_EFORBIDDEN, "agent tokens cannot do this");
    expect_why(P_MEMBER, GPF_ACT_USER_CREATE, NULL, GPF_EFORBIDDEN, "only an admin can do this");
    expect_why(P_AGENT, GPF_ACT_USER_LIST, NULL, GPF_EFORBIDDEN, "only an admin can do this");
    expect_why(P_OPERATOR, GPF_ACT_USER_UPDATE, &user, GPF_EFORBIDDEN, "only an admin or zed can do this");
    expect_why(P_MEMBER, GPF_ACT_TOKEN_CREATE, &user, GPF_EFORBIDDEN, "only an admin or zed can do this");
    expect_why(P_MEMBER, GPF_ACT_TOKEN_REVOKE, &user, GPF_EFORBIDDEN, "only an admin or zed can do this");
    gpf_gov_object everyone = {"", NULL, NULL};
    expect_why(P_OPERATOR, GPF_ACT_TOKEN_LIST, &everyone, GPF_EFORBIDDEN, "only an admin can do this");
    expect_why(P_MEMBER, GPF_ACT_USER_DISABLE, NULL, GPF_EFORBIDDEN, "only an admin can do this");
    expect_why(P_MEMBER, GPF_ACT_SKU_WRITE, NULL, GPF_EFORBIDDEN, "only an admin or operator can manage SKUs");
    expect_why(P_AGENT, GPF_ACT_SKU_WRITE, NULL, GPF_EFORBIDDEN, "only an admin or operator can manage SKUs");
    expect_why(P_VIEWER, GPF_ACT_IMAGE_WRITE, NULL, GPF_EFORBIDDEN, "only an admin or operator can manage images");
    expect_why(P_FINANCE, GPF_ACT_HOST_OVERRIDE, NULL, GPF_EFORBIDDEN,
               "only an admin or operator can override a host's preflight");
    expect_why(P_VIEWER, GPF_ACT_POD_LAUNCH, NULL, GPF_EFORBIDDEN, "role viewer cannot launch pods");
    expect_why(P_FINANCE, GPF_ACT_POD_LAUNCH, NULL, GPF_EFORBIDDEN, "role finance cannot launch pods");
    /* an agent token's principal carries role 0, and the engine's text named it */
    expect_why(P_AGENT, GPF_ACT_POD_LAUNCH, NULL, GPF_EFORBIDDEN, "role admin cannot launch pods");
    expect_why(P_MEMBER, GPF_ACT_POD_STOP, &pod, GPF_EFORBIDDEN, "pod 'pod-0badf00d' belongs to another user");
    expect_why(P_VIEWER, GPF_ACT_POD_READ, &pod, GPF_EFORBIDDEN, "pod 'pod-0badf00d' belongs to another user");
    expect_why(P_MEMBER, GPF_ACT_AGENT_REPORT, NULL, GPF_EFORBIDDEN, "only an agent token can do this");
    expect_why(P_AGENT, GPF_ACT_AGENT_POD_STATUS, &pod, GPF_ENOTFOUND, "pod 'pod-0badf00d' is not placed on host gpu-a");
    expect_why(P_ADMIN, GPF_ACT_IMAGE_BLOB_READ, NULL, GPF_EFORBIDDEN, "only an agent token can download image blobs");
}

/* Objects at the edges: an event about no pod (or an unknown one) is shown to staff and
 * viewers only; a status report for a pod that is nowhere is "not placed" too; the owner ""
 * is nobody's, not an agent's. */
static void test_edges(void **state)
{
    (void)state;
    gpf_gov_object nopod = {NULL, "", NULL}, nowhere = {"pod-1", NULL, NULL};
    char why[128];
    for (int p = 0; p < P_N; p++) {
        gpf_principal w = principal(p);
        int want = p == P_ADMIN || p == P_OPERATOR || p == P_VIEWER ? 0 : GPF_EFORBIDDEN;
        assert_int_equal(gpf_gov_can(&w, GPF_ACT_EVENT_READ, &nopod, why, sizeof why), want);
        want = p == P_ADMIN || p == P_OPERATOR || p == P_FINANCE ? 0 : GPF_EFORBIDDEN;
        assert_int_equal(gpf_gov_can(&w, GPF_ACT_USAGE_READ, &nopod, why, sizeof why), want);
    }
    gpf_principal agent = principal(P_AGENT);
    assert_int_equal(gpf_gov_can(&agent, GPF_ACT_AGENT_POD_STATUS, &nowhere, why, sizeof why), GPF_ENOTFOUND);
    assert_string_equal(why, "pod 'pod-1' is not placed on host gpu-a");
    assert_int_equal(gpf_gov_can(&agent, GPF_ACT_POD_READ, &nopod, why, sizeof why), GPF_EFORBIDDEN);
}

/* Defaults: no principal and unknown actions are refused; why may be NULL or short. */
static void test_defaults(void **state)
{
    (void)state;
    gpf_principal admin = principal(P_ADMIN), member = principal(P_MEMBER);
    char why[16];
    assert_int_equal(gpf_gov_can(NULL, GPF_ACT_HOST_READ, NULL, why, sizeof why), GPF_EFORBIDDEN);
    assert_int_equal(gpf_gov_can(&admin, GPF_ACT_COUNT, NULL, why, sizeof why), GPF_EFORBIDDEN);
    assert_int_equal(gpf_gov_can(&admin, (gpf_action)-1, NULL, NULL, 0), GPF_EFORBIDDEN);
    assert_int_equal(gpf_gov_can(&member, GPF_ACT_USER_LIST, NULL, NULL, 0), GPF_EFORBIDDEN);
    assert_int_equal(gpf_gov_can(&member, GPF_ACT_USER_LIST, NULL, why, sizeof why), GPF_EFORBIDDEN);
    assert_string_equal(why, "only an admin c"); /* truncated, terminated */
    for (int a = 0; a < GPF_ACT_COUNT; a++)
        assert_int_equal(gpf_action_parse(gpf_action_name((gpf_action)a)), a);
    assert_string_equal(gpf_action_name(GPF_ACT_POD_STOP), "pod_stop");
    assert_string_equal(gpf_action_name(GPF_ACT_COUNT), "?");
    assert_int_equal(gpf_action_parse("pod_destroy"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
