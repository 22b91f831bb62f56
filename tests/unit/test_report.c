/* The agent's heartbeat report: registered GPUs as discovery sees them (gone ones left
 * out, unregistered ones never sent, MIG devices and processes with their pods), and the
 * preflight's verdict and findings as registration sends them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "agent/preflight.h"
#include "agent/report.h"
#include "util/alloc.h"

static void add_gpu(gpf_host_facts *fx, const char *uuid, int mig)
{
    int g = fx->host.ngpus++;
    snprintf(fx->host.gpus[g].uuid, sizeof fx->host.gpus[g].uuid, "%s", uuid);
    fx->host.gpus[g].index = g;
    fx->host.gpus[g].mig_enabled = mig;
    gpf_gpu_live_unknown(&fx->live[g]);
}

static int pod_of(void *ctx, unsigned pid, char *id, size_t size)
{
    (void)ctx;
    if (pid != 4242)
        return 0;
    snprintf(id, size, "pod-abc");
    return 1;
}

static void test_gpus(void **state)
{
    (void)state;
    gpf_host_facts *reg = GPF_NEW(gpf_host_facts), *now = GPF_NEW(gpf_host_facts);
    gpf_hw_gpu *out = gpf_calloc(GPF_MAX_HOST_GPUS, sizeof *out);
    add_gpu(reg, "GPU-a", 0);
    add_gpu(reg, "GPU-b", 1);
    add_gpu(reg, "GPU-c", 0);
    /* now: GPU-b first, GPU-c gone, an unregistered GPU-x */
    add_gpu(now, "GPU-b", 1);
    add_gpu(now, "GPU-x", 0);
    add_gpu(now, "GPU-a", 0);
    gpf_gpu_live *b = &now->live[0];
    b->nmig = 1;
    snprintf(b->mig[0].uuid, sizeof b->mig[0].uuid, "MIG-1");
    b->mig[0].gi_id = 3;
    b->mig[0].ci_id = 0;
    b->mig[0].gi_profile_id = 19;
    b->mig[0].start = 4;
    b->mig[0].size = 1;
    b->nprocs = 2;
    b->procs[0] = (gpf_gpu_proc){.pid = 4242, .used_mib = 900, .gi_id = 3, .ci_id = 0};
    b->procs[1] = (gpf_gpu_proc){.pid = 7, .used_mib = -1, .gi_id = -1, .ci_id = -1};

    int n = gpf_report_gpus(now, &reg->host, 1, pod_of, NULL, out);
    assert_int_equal(n, 2); /* a and b; c is gone, x was never registered */
    assert_string_equal(out[0].uuid, "GPU-a");
    assert_string_equal(out[1].uuid, "GPU-b");
    assert_true(out[1].has_hw);
    assert_true(out[1].mig_enabled);
    assert_int_equal(out[1].nmig, 1);
    assert_int_equal(out[1].mig[0].profile_id, 19);
    assert_int_equal(out[1].mig[0].start, 4);
    assert_int_equal(out[1].nprocs, 2);
    assert_string_equal(out[1].procs[0].pod_id, "pod-abc");
    assert_int_equal(out[1].procs[0].used_mib, 900);
    assert_string_equal(out[1].procs[1].pod_id, "");
    assert_true(gpf_report_pod_on_gpu(out, n, "pod-abc"));
    assert_false(gpf_report_pod_on_gpu(out, n, "pod-zzz"));

    /* without live facts: UUIDs only */
    n = gpf_report_gpus(now, &reg->host, 0, NULL, NULL, out);
    assert_int_equal(n, 2);
    assert_false(out[1].has_hw);
    assert_int_equal(out[1].nprocs, 0);
    gpf_free(reg);
    gpf_free(now);
    gpf_free(out);
}

static void add_finding(gpf_chk_report *r, const char *check, gpf_chk_level lvl, int gpu)
{
    gpf_chk_finding *f = &r->f[r->n++];
    memset(f, 0, sizeof *f);
    snprintf(f->check, sizeof f->check, "%s", check);
    f->level = lvl;
    f->gpu = gpu;
    snprintf(f->detail, sizeof f->detail, "%s detail", check);
    snprintf(f->fix, sizeof f->fix, "%s fix", check);
}

static void test_preflight(void **state)
{
    (void)state;
    gpf_chk_report *r = GPF_NEW(gpf_chk_report);
    gpf_host_rec *h = GPF_NEW(gpf_host_rec);
    add_finding(r, "model", GPF_CHK_PASS, 0);
    add_finding(r, "thermal", GPF_CHK_WARN, 1);
    add_finding(r, "numa", GPF_CHK_SKIP, -1);
    add_finding(r, "pcie-link", GPF_CHK_FAIL, 0);
    r->verdict = GPF_CHK_FAIL;
    gpf_report_preflight(r, h);
    assert_int_equal(h->preflight, GPF_PREFLIGHT_FAIL);
    assert_int_equal(h->nfindings, 2); /* passes and skips are not sent */
    assert_string_equal(h->findings[0].check, "pcie-link"); /* worst first */
    assert_int_equal(h->findings[0].level, GPF_PREFLIGHT_FAIL);
    assert_string_equal(h->findings[0].fix, "pcie-link fix");
    assert_string_equal(h->findings[1].check, "thermal");
    assert_int_equal(h->findings[1].gpu, 1);

    /* more findings than a registration carries: the last kept one says how many more */
    memset(r, 0, sizeof *r);
    for (int i = 0; i < GPF_MAX_HOST_FINDINGS + 5; i++)
        add_finding(r, "power", GPF_CHK_WARN, i % 8);
    r->verdict = GPF_CHK_WARN;
    gpf_report_preflight(r, h);
    assert_int_equal(h->preflight, GPF_PREFLIGHT_WARN);
    assert_int_equal(h->nfindings, GPF_MAX_HOST_FINDINGS);
    assert_non_null(strstr(h->findings[GPF_MAX_HOST_FINDINGS - 1].detail, "(+5 more: run gpufleet check)"));

    memset(r, 0, sizeof *r);
    r->verdict = GPF_CHK_PASS;
    gpf_report_preflight(r, h);
    assert_int_equal(h->preflight, GPF_PREFLIGHT_PASS);
    assert_int_equal(h->nfindings, 0);
    gpf_free(r);
    gpf_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpus),
        cmocka_unit_test(test_preflight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
