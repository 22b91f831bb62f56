/* The fake pod runtime: no processes, just the set of pods it was asked to run. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/runtime.h"
#include "util/alloc.h"

static gpf_pod_spec spec(const char *id)
{
    gpf_pod_spec s;
    memset(&s, 0, sizeof s);
    gpf_strlcpy(s.id, id, sizeof s.id);
    gpf_strlcpy(s.device_ids, "GPU-x", sizeof s.device_ids);
    return s;
}

static void test_fake_lifecycle(void **state)
{
    (void)state;
    gpf_runtime *rt = NULL;
    gpf_error err = {0};
    assert_int_equal(gpf_runtime_fake_open(&rt, &err), 0);
    assert_string_equal(rt->ops->name, "fake");
    char ids[4][GPF_ID_MAX];
    assert_int_equal(rt->ops->list(rt, ids, 4), 0);
    assert_int_equal(rt->ops->status(rt, "pod-1", NULL), 0);

    gpf_pod_spec s1 = spec("pod-1"), s2 = spec("pod-2"), s3 = spec("pod-3");
    gpf_pod_status st;
    memset(&st, 0x5a, sizeof st);
    assert_int_equal(gpf_runtime_start(rt, &s1, &st, &err), 0);
    assert_int_equal(st.running, 1);
    assert_int_equal(st.ssh_port, 0);
    assert_int_equal(st.isolation, GPF_ISO_SOFT);
    assert_string_equal(st.message, "fake runtime: no processes");
    assert_int_equal(gpf_runtime_start(rt, &s1, &st, &err), 0); /* idempotent */
    assert_int_equal(gpf_runtime_start(rt, &s2, NULL, &err), 0);
    assert_int_equal(gpf_runtime_start(rt, &s3, NULL, &err), 0);
    assert_int_equal(rt->ops->list(rt, ids, 4), 3);
    assert_int_equal(rt->ops->list(rt, ids, 2), 2); /* never more than max */

    memset(&st, 0, sizeof st);
    assert_int_equal(rt->ops->status(rt, "pod-2", &st), 1);
    assert_int_equal(st.running, 1);
    assert_int_equal(rt->ops->stop(rt, "pod-2", &err), 0);
    assert_int_equal(rt->ops->status(rt, "pod-2", &st), 0);
    assert_int_equal(rt->ops->stop(rt, "pod-2", &err), 0); /* unknown: fine */
    assert_int_equal(rt->ops->stop(rt, "never", &err), 0);
    int n = rt->ops->list(rt, ids, 4);
    assert_int_equal(n, 2);
    int seen1 = 0, seen3 = 0;
    for (int i = 0; i < n; i++) {
        seen1 |= !strcmp(ids[i], "pod-1");
        seen3 |= !strcmp(ids[i], "pod-3");
    }
    assert_true(seen1 && seen3);

    gpf_pod_spec bad = spec("");
    assert_int_equal(gpf_runtime_start(rt, &bad, &st, &err), GPF_EINVAL);
    gpf_runtime_close(rt);
    gpf_runtime_close(NULL);
}

static void test_fake_many(void **state)
{
    (void)state;
    gpf_runtime *rt = NULL;
    assert_int_equal(gpf_runtime_fake_open(&rt, NULL), 0);
    char id[GPF_ID_MAX];
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "pod-%04d", i);
        gpf_pod_spec s = spec(id);
        assert_int_equal(gpf_runtime_start(rt, &s, NULL, NULL), 0);
    }
    for (int i = 0; i < 1000; i += 2) {
        snprintf(id, sizeof id, "pod-%04d", i);
        assert_int_equal(rt->ops->stop(rt, id, NULL), 0);
    }
    char(*ids)[GPF_ID_MAX] = gpf_calloc(1024, GPF_ID_MAX);
    assert_int_equal(rt->ops->list(rt, ids, 1024), 500);
    for (int i = 0; i < 500; i++) {
        int num = atoi(ids[i] + 4);
        assert_int_equal(num % 2, 1);
    }
    gpf_free(ids);
    gpf_runtime_close(rt);
}

/* Idle detection: no process and no session, unless the test hook says otherwise. */
static void test_fake_activity(void **state)
{
    (void)state;
    gpf_runtime *rt = NULL;
    assert_int_equal(gpf_runtime_fake_open(&rt, NULL), 0);
    gpf_pod_activity act;
    assert_int_equal(rt->ops->activity(rt, "pod-1", &act), GPF_ENOTFOUND);
    assert_int_equal(gpf_runtime_fake_set_sessions(rt, "pod-1", 1), GPF_ENOTFOUND);
    gpf_pod_spec s = spec("pod-1");
    assert_int_equal(gpf_runtime_start(rt, &s, NULL, NULL), 0);
    memset(&act, 0x5a, sizeof act);
    assert_int_equal(rt->ops->activity(rt, "pod-1", &act), 0);
    assert_int_equal(act.ssh_sessions, 0);
    assert_int_equal(act.npids, 0);
    assert_int_equal(gpf_runtime_fake_set_sessions(rt, "pod-1", 2), 0);
    assert_int_equal(rt->ops->activity(rt, "pod-1", &act), 0);
    assert_int_equal(act.ssh_sessions, 2);
    assert_int_equal(rt->ops->stop(rt, "pod-1", NULL), 0);
    assert_int_equal(rt->ops->activity(rt, "pod-1", &act), GPF_ENOTFOUND);
    assert_int_equal(gpf_runtime_fake_set_sessions(NULL, "pod-1", 1), GPF_ENOTFOUND);
    gpf_runtime_close(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fake_lifecycle),
        cmocka_unit_test(test_fake_many),
        cmocka_unit_test(test_fake_activity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
