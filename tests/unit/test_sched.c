/* Placement: whole GPUs, MIG geometry, shares, model lists, host CPU/memory, refusals that
 * say why, apply/release bookkeeping, and a property test over random sequences. Uses
 * small hand-built fleets and the embedded catalog. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "helpers/catalog_fixture.h"
#include "sched/sched.h"
#include "sched/sched_int.h"
#include "util/alloc.h"

#define GIB INT64_C(1024)

static const gpf_catalog *cat;

static int setup(void **state)
{
    (void)state;
    gpf_error err = {0};
    cat = gpf_test_catalog_load(&err);
    if (!cat)
        print_error("catalog: %s\n", err.msg);
    return cat ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    gpf_catalog_free((gpf_catalog *)cat);
    cat = NULL;
    return 0;
}

/* Hosts are equal as ledgers: everything but the version the fleet stamps on each change. */
static void ledgers_equal(const gpf_sched_host *a, const gpf_sched_host *b, size_t sz)
{
    size_t n = sz / sizeof *a;
    gpf_sched_host *x = gpf_calloc(n, sizeof *x), *y = gpf_calloc(n, sizeof *y);
    memcpy(x, a, sz);
    memcpy(y, b, sz);
    for (size_t i = 0; i < n; i++)
        x[i].version = y[i].version = 0;
    assert_memory_equal(x, y, sz);
    gpf_free(x);
    gpf_free(y);
}

/* ---- fleet building --------------------------------------------------------- */

static void add_host(gpf_sched_fleet *f, const char *id, const char *model, int ngpus, int nmig, int cpus,
                     int64_t memory_mib)
{
    gpf_sched_host h;
    memset(&h, 0, sizeof h);
    gpf_strlcpy(h.id, id, sizeof h.id);
    h.schedulable = 1;
    h.cpus = cpus;
    h.memory_mib = memory_mib;
    h.ngpus = ngpus;
    const gpf_gpu_model *m = gpf_catalog_model(cat, model);
    assert_non_null(m);
    for (int i = 0; i < ngpus; i++) {
        gpf_sched_gpu *g = &h.gpus[i];
        snprintf(g->uuid, sizeof g->uuid, "GPU-%s-%d", id, i);
        g->index = i;
        g->model = m;
        g->mig_enabled = i < nmig;
        g->numa_node = i / 4;
        g->memory_mib = (int64_t)m->memory_gb * 1024;
    }
    assert_true(gpf_sched_fleet_add_host(f, &h) >= 0);
}

static gpf_sched_host *host(gpf_sched_fleet *f, const char *id)
{
    int i = gpf_sched_fleet_find_host(f, id);
    assert_true(i >= 0);
    return &f->hosts[i];
}

static gpf_sched_request whole(int n)
{
    gpf_sched_request r;
    memset(&r, 0, sizeof r);
    r.slice.kind = GPF_SLICE_WHOLE;
    r.slice.gpu_count = n;
    return r;
}

static gpf_sched_request mig(const char *profile)
{
    gpf_sched_request r;
    memset(&r, 0, sizeof r);
    r.slice.kind = GPF_SLICE_MIG;
    r.slice.gpu_count = 1;
    gpf_strlcpy(r.slice.mig_profile, profile, sizeof r.slice.mig_profile);
    return r;
}

static gpf_sched_request share(int milli, int64_t memory_mib)
{
    gpf_sched_request r;
    memset(&r, 0, sizeof r);
    r.slice.kind = GPF_SLICE_SHARE;
    r.slice.gpu_count = 1;
    r.slice.share_milli = milli;
    r.slice.share_memory_mib = memory_mib;
    return r;
}

static gpf_sched_request vgpu(const char *type)
{
    gpf_sched_request r;
    memset(&r, 0, sizeof r);
    r.slice.kind = GPF_SLICE_VGPU;
    gpf_strlcpy(r.slice.vgpu_type, type, sizeof r.slice.vgpu_type);
    return r;
}

/* Places and applies; returns the place result (apply must then succeed). */
static int take(gpf_sched_fleet *f, const gpf_sched_request *r, gpf_placement *p, gpf_error *err)
{
    int rc = gpf_sched_place(f, cat, r, p, err);
    if (rc == 0) {
        gpf_error aerr = {0};
        if (gpf_sched_apply(f, cat, p, &aerr) != 0)
            fail_msg("apply of a fresh placement failed: %s", aerr.msg);
    }
    return rc;
}

static int gpu_pos(const gpf_sched_host *h, const char *uuid)
{
    for (int i = 0; i < h->ngpus; i++)
        if (strcmp(h->gpus[i].uuid, uuid) == 0)
            return i;
    return -1;
}

static void assert_msg_has(const gpf_error *err, const char *what)
{
    if (!strstr(err->msg, what))
        fail_msg("message '%s' lacks '%s'", err->msg, what);
}

/* host "mixed": 8 x H100-80GB-SXM5, GPUs 0 and 1 in MIG mode; host "l40s": 2 x L40S */
static void std_fleet(gpf_sched_fleet *f)
{
    gpf_sched_fleet_init(f);
    add_host(f, "mixed", "H100-80GB-SXM5", 8, 2, 128, 1024 * GIB);
    add_host(f, "l40s", "L40S", 2, 0, 32, 256 * GIB);
}

/* ---- whole GPUs ---------------------------------------------------------------- */

static void test_whole_counts(void **state)
{
    (void)state;
    for (int n = 1; n <= 8; n++) {
        gpf_sched_fleet f;
        std_fleet(&f);
        add_host(&f, "full", "H100-80GB-PCIe", 8, 0, 128, 1024 * GIB);
        gpf_sched_request r = whole(n);
        gpf_placement p;
        gpf_error err = {0};
        assert_int_equal(take(&f, &r, &p, &err), 0);
        assert_int_equal(p.ngpus, n);
        assert_int_equal(p.gpu_milli, 1000 * n);
        assert_int_equal(p.mig_profile_id, -1);
        /* best fit: the host with the fewest free GPUs that still holds n */
        const char *want = n <= 2 ? "l40s" : n <= 6 ? "mixed" : "full";
        assert_string_equal(p.host_id, want);
        gpf_sched_host *h = host(&f, p.host_id);
        for (int i = 0; i < n; i++) {
            int g = gpu_pos(h, p.gpu_uuids[i]);
            assert_true(g >= 0);
            assert_int_equal(h->gpus[g].index, p.gpu_index[i]);
            assert_true(h->gpus[g].whole_taken);
            assert_false(h->gpus[g].mig_enabled);
            for (int j = 0; j < i; j++)
                assert_string_not_equal(p.gpu_uuids[i], p.gpu_uuids[j]);
        }
        gpf_sched_fleet_clear(&f);
    }
    gpf_sched_fleet f;
    std_fleet(&f);
    gpf_sched_request r = whole(9);
    gpf_placement p;
    gpf_error err = {0};
    assert_int_equal(gpf_sched_place(&f, cat, &r, &p, &err), GPF_EINVAL);
    assert_msg_has(&err, "0..8");
    /* 0 GPUs: a CPU-only request (the simulator's CPU pods) books CPU and memory only */
    r = whole(0);
    r.cpus = 3;
    assert_int_equal(take(&f, &r, &p, &err), 0);
    assert_int_equal(p.ngpus, 0);
    assert_int_equal(p.gpu_milli, 0);
    gpf_sched_host *ch = &f.hosts[gpf_sched_fleet_find_host(&f, p.host_id)];
    assert_int_equal(ch->cpus_used, 3);
    assert_int_equal(ch->whole_pods[0], 1);
    assert_int_equal(gpf_sched_release(&f, cat, &p, &err), 0);
    assert_int_equal(ch->cpus_used, 0);
    assert_int_equal(ch->whole_pods[0], 0);
    assert_int_equal(gpf_sched_release(&f, cat, &p, &err), GPF_EINVAL);
    /* the MIG-mode GPUs are never handed out whole: only 6 of the 8 H100 */
    r = whole(7);
    assert_int_equal(gpf_sched_place(&f, cat, &r, &p, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "2 without 7 free matching GPUs");
    gpf_sched_fleet_clear(&f);
}

static void test_whole_one_host(void **state)
{
    (void)state;
    gpf_sched_fleet f;
    gpf_sched_fleet_init(&f);
    add_host(&f, "a", "L40S", 2, 0, 32, 256 * GIB);
    add_host(&f, "b", "L40S", 2, 0, 32, 256 * GIB);
    gpf_placement p, q;
    gpf_error err = {0};
    gpf_sched_request r = whole(3); /* four free in the fleet, but never three on one host */
    assert_int_equal(gpf_sched_place(&f, cat, &r, &p, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "no capacity for 3 whole GPUs: of 2 hosts, 2 without 3 free matching GPUs");
    r = whole(2);
    assert_int_equal(take(&f, &r, &p, &err), 0);
    assert_int_equal(take(&f, &r, &q, &err), 0);
    assert_string_not_equal(p.host_id, q.host_id);
    r = whole(1);
    assert_int_equal(take(&f, &r, &q, &err), GPF_ENOCAPACITY);
    gpf_sched_fleet_clear(&f);

    /* a pod's GPUs are one model, and a NUMA node is preferred */
    gpf_sched_fleet_init(&f);
    add_host(&f, "c", "H100-80GB-SXM5", 8, 0, 128, 1024 * GIB);
    r = whole(1);
    assert_int_equal(take(&f, &r, &p, &err), 0); /* GPU 0: node 0 now has 3 free */
    assert_int_equal(p.gpu_index[0], 0);
    r = whole(3);
    assert_int_equal(take(&f, &r, &p, &err), 0);
    for (int i = 0; i < 3; i++)
        assert_true(p.gpu_index[i] >= 1 && p.gpu_index[i] <= 3); /* all on NUMA node 0 */
    r = whole(4);
    assert_int_equal(take(&f, &r, &p, &err), 0);
    for (int i = 0; i < 4; i++)
        assert_true(p.gpu_index[i] >= 4);
    gpf_sched_fleet_clear(&f);
}

/* ---- MIG ----------------------------------------------------------------------- */

static void test_mig_seven_1g(void **state)
{
    (void)state;
    gpf_sched_fleet f;
    std_fleet(&f);
    gpf_sched_host *h = host(&f, "mixed");
    gpf_sched_request r = mig("1g.10gb");
    gpf_placement p;
    gpf_error err = {0};
    char first_gpu[GPF_UUID_MAX] = "";
    uint32_t starts = 0;
    for (int i = 0; i < 7; i++) {
        assert_int_equal(take(&f, &r, &p, &err), 0);
        assert_string_equal(p.host_id, "mixed");
        assert_int_equal(p.ngpus, 1);
        assert_int_equal(p.mig_profile_id, 19);
        assert_int_equal(p.mig_size, 1);
        assert_int_equal(p.gpu_milli, 142);
        if (i == 0)
            gpf_strlcpy(first_gpu, p.gpu_uuids[0], sizeof first_gpu);
        assert_string_equal(p.gpu_uuids[0], first_gpu); /* packed onto one GPU */
        assert_false(starts & (1u << p.mig_start));
        starts |= 1u << p.mig_start;
    }
    assert_int_equal(starts, 0x7Fu);
    int g0 = gpu_pos(h, first_gpu);
    assert_int_equal(h->gpus[g0].mig_instances, 7);
    assert_int_equal(h->gpus[g0].mig_slots_used, 0x7Fu);
    /* the eighth goes to the other MIG GPU */
    assert_int_equal(take(&f, &r, &p, &err), 0);
    assert_string_not_equal(p.gpu_uuids[0], first_gpu);
    assert_true(h->gpus[gpu_pos(h, p.gpu_uuids[0])].mig_enabled);
    for (int i = 0; i < 6; i++)
        assert_int_equal(take(&f, &r, &p, &err), 0);
    assert_int_equal(gpf_sched_place(&f, cat, &r, &p, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "without a free MIG placement for 1g.10gb");
    assert_msg_has(&err, "1 without a matching GPU model"); /* the L40S host */
    gpf_sched_fleet_clear(&f);
}

static void test_mig_4g_3g(void **state)
{
    (void)state;
    gpf_sched_fleet f;
    std_fleet(&f);
    gpf_sched_host *h = host(&f, "mixed");
    gpf_placement p4, p3, p;
    gpf_error err = {0};
    gpf_sched_request r4 = mig("4g.40gb"), r3 = mig("3g.40gb");
    assert_int_equal(take(&f, &r4, &p4, &err), 0);
    assert_int_equal(p4.mig_start, 0);
    assert_int_equal(p4.mig_size, 4);
    assert_int_equal(p4.mig_profile_id, 5);
    assert_int_equal(p4.gpu_milli, 571);
    assert_int_equal(take(&f, &r3, &p3, &err), 0);
    assert_string_equal(p3.gpu_uuids[0], p4.gpu_uuids[0]); /* beside the 4g */
    assert_int_equal(p3.mig_start, 4);
    assert_int_equal(p3.gpu_milli, 428);
    int g = gpu_pos(h, p4.gpu_uuids[0]);
    assert_int_equal(h->gpus[g].mig_slots_used, 0xFFu);

    /* nothing else fits on that GPU: a direct apply of another 3g at 0 is refused */
    gpf_sched_host snap = *h;
    p = p3;
    p.mig_start = 0;
    assert_int_equal(gpf_sched_apply(&f, cat, &p, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "taken");
    ledgers_equal(h, &snap, sizeof snap);

    /* a second 4g goes to the other MIG GPU; a third has no room */
    assert_int_equal(take(&f, &r4, &p, &err), 0);
    assert_string_not_equal(p.gpu_uuids[0], p4.gpu_uuids[0]);
    assert_int_equal(gpf_sched_place(&f, cat, &r4, &p, &err), GPF_ENOCAPACITY);

    /* releasing the 3g lets a 3g (only) come back at 4 */
    assert_int_equal(gpf_sched_release(&f, cat, &p3, &err), 0);
    assert_int_equal(h->gpus[g].mig_slots_used, 0x0Fu);
    assert_int_equal(take(&f, &r3, &p, &err), 0);
    assert_int_equal(p.mig_start, 4);
    gpf_sched_fleet_clear(&f);

    /* one GPU: two 3g at 0 and 4, never a third; only one 4g */
    gpf_sched_fleet_init(&f);
    add_host(&f, "one", "H100-80GB-PCIe", 1, 1, 16, 64 * GIB);
    assert_int_equal(take(&f, &r3, &p, &err), 0);
    int s1 = p.mig_start;
    assert_int_equal(take(&f, &r3, &p, &err), 0);
    assert_int_equal(s1 + p.mig_start, 4);
    assert_int_equal(gpf_sched_place(&f, cat, &r3, &p, &err), GPF_ENOCAPACITY);
    gpf_sched_fleet_clear(&f);

    gpf_sched_fleet_init(&f);
    add_host(&f, "one", "H100-80GB-PCIe", 1, 1, 16, 64 * GIB);
    assert_int_equal(take(&f, &r4, &p, &err), 0);
    assert_int_equal(gpf_sched_place(&f, cat, &r4, &p, &err), GPF_ENOCAPACITY);
    gpf_sched_fleet_clear(&f);
}

static void test_mig_limits(void **state)
{
    (void)state;
    gpf_sched_fleet f;
    gpf_placement p;
    gpf_error err = {0};
    /* +me: one per GPU though slots are free */
    gpf_sched_fleet_init(&f);
    add_host(&f, "one", "H100-80GB-SXM5", 1, 1, 16, 64 * GIB);
    gpf_sched_request me = mig("1g.10gb+me");
    assert_int_equal(take(&f, &me, &p, &err), 0);
    assert_int_equal(p.mig_profile_id, 20);
    assert_int_equal(gpf_sched_place(&f, cat, &me, &p, &err), GPF_ENOCAPACITY);
    gpf_sched_request one = mig("1g.10gb");
    for (int i = 0; i < 6; i++)
        assert_int_equal(take(&f, &one, &p, &err), 0);
    assert_int_equal(gpf_sched_place(&f, cat, &one, &p, &err), GPF_ENOCAPACITY);
    gpf_sched_fleet_clear(&f);

    /* A30: a 4-slot grid, 1g.6gb four times, gpu_milli 250 */
    gpf_sched_fleet_init(&f);
    add_host(&f, "a30", "A30-24GB", 1, 1, 16, 64 * GIB);
    gpf_sched_request a = mig("1g.6gb");
    for (int i = 0; i < 4; i++) {
        assert_int_equal(take(&f, &a, &p, &err), 0);
        assert_int_equal(p.gpu_milli, 250);
    }
    assert_int_equal(gpf_sched_place(&f, cat, &a, &p, &err), GPF_ENOCAPACITY);
    gpf_sched_fleet_clear(&f);

    /* RTX PRO 6000: a 12-slot grid, 1g at 0,3,6,9 */
    gpf_sched_fleet_init(&f);
    add_host(&f, "rtx", "RTX-PRO-6000-BSE", 1, 1, 16, 64 * GIB);
    gpf_sched_request x = mig("1g.24gb");
    uint32_t starts = 0;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(take(&f, &x, &p, &err), 0);
        assert_int_equal(p.mig_size, 3);
        assert_int_equal(p.mig_start % 3, 0);
        starts |= 1u << p.mig_start;
        assert_int_equal(p.gpu_milli, 250);
    }
    assert_int_equal(starts, (1u << 0) | (1u << 3) | (1u << 6) | (1u << 9));
    assert_int_equal(f.hosts[0].gpus[0].mig_slots_used, 0xFFFu);
    assert_int_equal(gpf_sched_place(&f, cat, &x, &p, &err), GPF_ENOCAPACITY);
    gpf_sched_fleet_clear(&f);
}

static void test_mig_mode_and_errors(void **state)
{
    (void)state;
    gpf_sched_fleet f;
    gpf_placement p;
    gpf_error err = {0};
    gpf_sched_fleet_init(&f);
    add_host(&f, "plain", "H100-80GB-SXM5", 4, 0, 64, 512 * GIB);
    add_host(&f, "l40s", "L40S", 2, 0, 32, 256 * GIB);
    gpf_sched_request r = mig("1g.10gb");
    assert_int_equal(gpf_sched_place(&f, cat, &r, &p, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "1 without a matching GPU in MIG mode");
    assert_msg_has(&err, "1 without a matching GPU model");
    /* a profile no model offers, or none of the allowed ones */
    r = mig("9g.999gb");
    assert_int_equal(gpf_sched_place(&f, cat, &r, &p, &err), GPF_EINVAL);
    assert_msg_has(&err, "9g.999gb");
    r = mig("1g.10gb");
    r.nmodels = 1;
    r.models[0] = "L40S";
    assert_int_equal(gpf_sched_place(&f, cat, &r, &p, &err), GPF_EINVAL);
    assert_msg_has(&err, "no allowed GPU model (L40S) offers the MIG profile '1g.10gb'");
    /* unknown vGPU types, and types of models the request does not allow, are refused up front */
    gpf_sched_request v = vgpu("L40S-99C");
    assert_int_equal(gpf_sched_place(&f, cat, &v, &p, &err), GPF_EINVAL);
    assert_msg_has(&err, "no vGPU type 'L40S-99C'");
    v = vgpu("L40S-12C");
    v.nmodels = 1;
    v.models[0] = "H100-80GB";
    assert_int_equal(gpf_sched_place(&f, cat, &v, &p, &err), GPF_EINVAL);
    assert_msg_has(&err, "runs on L40S, which the request does not allow");
    gpf_sched_fleet_clear(&f);
    /* an empty fleet says so */
    gpf_sched_fleet_init(&f);
    r = whole(1);
    assert_int_equal(gpf_sched_place(&f, cat, &r, &p, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "no hosts are registered");
    gpf_sched_fleet_clear(&f);
}

/* ---- shares ---------------------------------------------------------------------- */

/* Time-sliced vGPU on 2 x L40S (48 GB boards): equal-size mode runs one type per GPU and at
 * most its max_per_gpu (12C: 4, 24C: 2); the engine fills a GPU before starting the next;
 * mixed-size mode takes different types while the frame buffers fit (and each type's
 * max_per_gpu_mixed); release restores the ledger. */
static void test_vgpu(void **state)
{
    (void)state;
    gpf_sched_fleet f;
    gpf_placement p, held[8];
    gpf_error err = {0};
    gpf_sched_fleet_init(&f);
    add_host(&f, "l40s", "L40S", 2, 0, 64, 512 * GIB);
    size_t sz = sizeof(gpf_sched_host) * (size_t)f.nhosts;
    gpf_sched_host *initial = gpf_malloc(sz);
    memcpy(initial, f.hosts, sz);
    gpf_sched_request r12 = vgpu("L40S-12C"), r24 = vgpu("L40S-24C");
    for (int i = 0; i < 4; i++) {
        assert_int_equal(take(&f, &r12, &held[i], &err), 0);
        assert_string_equal(held[i].gpu_uuids[0], "GPU-l40s-0"); /* fill one GPU first */
        assert_string_equal(held[i].vgpu_type, "L40S-12C");
        assert_int_equal(held[i].gpu_milli, 250);
    }
    assert_int_equal(f.hosts[0].gpus[0].vgpus, 4);
    /* GPU 0 is full; a 24C cannot join 12Cs (equal-size mode): it starts GPU 1 */
    assert_int_equal(take(&f, &r24, &held[4], &err), 0);
    assert_string_equal(held[4].gpu_uuids[0], "GPU-l40s-1");
    assert_int_equal(held[4].gpu_milli, 500);
    assert_int_equal(take(&f, &r24, &held[5], &err), 0);
    assert_string_equal(held[5].gpu_uuids[0], "GPU-l40s-1");
    /* both GPUs are at their type's maximum */
    assert_int_equal(gpf_sched_place(&f, cat, &r12, &p, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "no capacity for vGPU L40S-12C");
    assert_msg_has(&err, "without room for another L40S-12C");
    /* a direct apply of a 12C onto the 24C GPU is refused and changes nothing */
    p = held[0];
    gpf_strlcpy(p.gpu_uuids[0], "GPU-l40s-1", sizeof p.gpu_uuids[0]);
    assert_int_equal(gpf_sched_apply(&f, cat, &p, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "another vGPU type");
    /* nothing else fits on a vGPU GPU */
    gpf_sched_request w = whole(1), sh = share(100, 0);
    assert_int_equal(gpf_sched_place(&f, cat, &w, &p, &err), GPF_ENOCAPACITY);
    assert_int_equal(gpf_sched_place(&f, cat, &sh, &p, &err), GPF_ENOCAPACITY);
    /* release everything, in another order: the ledger is as before */
    int order[] = {4, 1, 5, 0, 3, 2};
    for (int i = 0; i < 6; i++)
        assert_int_equal(gpf_sched_release(&f, cat, &held[order[i]], &err), 0);
    assert_int_equal(gpf_sched_release(&f, cat, &held[0], &err), GPF_EINVAL);
    ledgers_equal(f.hosts, initial, sz);

    /* mixed-size mode: 24C + 12C + 12C = 48 GB on one GPU; a fourth would not fit */
    f.hosts[0].gpus[0].vgpu_mixed = 1;
    f.hosts[0].gpus[1].vgpu_mixed = 1;
    assert_int_equal(take(&f, &r24, &held[0], &err), 0);
    assert_int_equal(take(&f, &r12, &held[1], &err), 0);
    assert_int_equal(take(&f, &r12, &held[2], &err), 0);
    assert_string_equal(held[1].gpu_uuids[0], held[0].gpu_uuids[0]);
    assert_string_equal(held[2].gpu_uuids[0], held[0].gpu_uuids[0]);
    assert_int_equal(take(&f, &r12, &held[3], &err), 0);
    assert_string_not_equal(held[3].gpu_uuids[0], held[0].gpu_uuids[0]); /* frame buffer full */
    p = held[3];
    gpf_strlcpy(p.gpu_uuids[0], held[0].gpu_uuids[0], sizeof p.gpu_uuids[0]);
    assert_int_equal(gpf_sched_apply(&f, cat, &p, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "frame buffer");
    gpf_free(initial);
    gpf_sched_fleet_clear(&f);
}

/* ---- MIG-backed vGPU -------------------------------------------------------------- */

/* Every MIG-backed type of the catalog on every GPU model that runs it (8-slot A100, H100,
 * H200, H20 grids; the 4-slot A30): a GPU in MIG mode takes exactly max_per_gpu of it, each
 * a MIG instance of the type's profile at one of the profile's valid starts, recorded in the
 * placement as a MIG slice's; the refusal says why; releasing restores the ledger. */
static void test_mig_vgpu_every_type(void **state)
{
    (void)state;
    int types = 0, combos = 0;
    uint32_t grids = 0;
    for (int i = 0; i < gpf_catalog_vgpu_count(cat); i++) {
        const gpf_vgpu_type *t = gpf_catalog_vgpu_at(cat, i);
        if (!t->mig_backed)
            continue;
        types++;
        int models = 0;
        for (int mi = 0; mi < gpf_catalog_model_count(cat); mi++) {
            const gpf_gpu_model *m = gpf_catalog_model_at(cat, mi);
            if (!gpf_catalog_model_matches(m, t->gpu_model))
                continue;
            const gpf_mig_profile *prof = gpf_catalog_mig_by_name(cat, m->mig_key, t->mig_profile);
            if (!prof)
                fail_msg("%s: %s has no MIG profile %s", t->name, m->key, t->mig_profile);
            models++;
            combos++;
            grids |= 1u << m->mig_grid_units;
            gpf_sched_fleet f;
            gpf_sched_fleet_init(&f);
            add_host(&f, "one", m->key, 1, 1, 64, 512 * GIB);
            size_t sz = sizeof(gpf_sched_host);
            gpf_sched_host *initial = gpf_malloc(sz);
            memcpy(initial, f.hosts, sz);
            gpf_sched_request r = vgpu(t->name);
            gpf_slice_spec as_mig = {.kind = GPF_SLICE_MIG};
            gpf_strlcpy(as_mig.mig_profile, t->mig_profile, sizeof as_mig.mig_profile);
            gpf_placement held[8], p;
            gpf_error err = {0};
            int n = 0;
            uint32_t slots = 0;
            while (n < 8 && gpf_sched_place(&f, cat, &r, &p, &err) == 0) {
                assert_int_equal(gpf_sched_apply(&f, cat, &p, &err), 0);
                assert_string_equal(p.vgpu_type, t->name);
                assert_int_equal(p.mig_profile_id, prof->gi_profile_id);
                assert_int_equal(p.mig_size, prof->memory_slices);
                int valid = 0;
                for (int j = 0; j < prof->nplacements; j++)
                    valid |= prof->placements[j].start == p.mig_start && prof->placements[j].size == p.mig_size;
                assert_true(valid);
                uint32_t mask = ((1u << p.mig_size) - 1) << p.mig_start;
                assert_false(slots & mask);
                slots |= mask;
                assert_int_equal(p.share_milli, 0);
                assert_int_equal(p.gpu_milli, 1000 * t->mig_compute_slices / m->mig_compute_slices);
                assert_int_equal(p.gpu_milli, gpf_sched_gpu_milli(cat, m, &as_mig)); /* as the MIG slice */
                held[n++] = p;
            }
            if (n != t->max_per_gpu)
                fail_msg("%s on %s: %d placed, max_per_gpu %d", t->name, m->key, n, t->max_per_gpu);
            const gpf_sched_gpu *g = &f.hosts[0].gpus[0];
            assert_int_equal(g->mig_instances, n);
            assert_int_equal(g->mig_vgpus, n);
            assert_int_equal(g->vgpus, 0);
            assert_int_equal(g->mig_slots_used, slots);
            for (int k = 0; k < n; k++)
                assert_ptr_equal(g->mig[k].vgpu, t);
            assert_int_equal(gpf_sched_place(&f, cat, &r, &p, &err), GPF_ENOCAPACITY);
            char want[256];
            snprintf(want, sizeof want, "no capacity for vGPU %s (MIG-backed, %s): of 1 host, 1 without a free %s placement for another %s",
                     t->name, t->mig_profile, t->mig_profile, t->name);
            assert_msg_has(&err, want);
            snprintf(want, sizeof want, "already at %d %s (its max_per_gpu)", t->max_per_gpu, t->name);
            assert_msg_has(&err, want);
            for (int k = 0; k < n; k++) /* release from the middle out */
                assert_int_equal(gpf_sched_release(&f, cat, &held[(k + n / 2) % n], &err), 0);
            assert_int_equal(gpf_sched_release(&f, cat, &held[0], &err), GPF_EINVAL);
            ledgers_equal(f.hosts, initial, sz);
            gpf_free(initial);
            gpf_sched_fleet_clear(&f);
        }
        if (models == 0)
            fail_msg("no GPU model of the catalog runs %s (%s)", t->name, t->gpu_model);
    }
    assert_true(types >= 60);
    assert_true(combos > types);                               /* SXM and PCIe boards of one MIG key */
    assert_int_equal(grids, (1u << 8) | (1u << 4));            /* both grid sizes that have MIG-backed types */
}

/* A GPU serves bare MIG slices or MIG-backed vGPUs, never both; MIG-backed types of different
 * sizes share a GPU; nothing outside MIG mode (whole, share, time-sliced vGPU) shares one. */
static void test_mig_vgpu_mixing(void **state)
{
    (void)state;
    gpf_sched_fleet f;
    gpf_placement bare1, bare2, v3, v4, p, q;
    gpf_error err = {0};
    gpf_sched_fleet_init(&f);
    add_host(&f, "m", "H100-80GB-SXM5", 3, 2, 64, 512 * GIB); /* GPUs 0, 1 in MIG mode; 2 not */
    size_t sz = sizeof(gpf_sched_host);
    gpf_sched_host *initial = gpf_malloc(sz);
    memcpy(initial, f.hosts, sz);
    gpf_sched_host *h = &f.hosts[0];
    gpf_sched_request r1 = mig("1g.10gb"), rv3 = vgpu("H100XM-3-40C"), rv4 = vgpu("H100XM-4-40C");
    gpf_sched_request rv1 = vgpu("H100XM-1-10C");
    assert_int_equal(take(&f, &r1, &bare1, &err), 0);
    assert_int_equal(bare1.gpu_index[0], 0);
    /* GPU 0 has seven free slots, but holds a bare MIG slice: the vGPU starts GPU 1 */
    assert_int_equal(take(&f, &rv3, &v3, &err), 0);
    assert_int_equal(v3.gpu_index[0], 1);
    assert_int_equal(v3.mig_profile_id, 9);
    assert_int_equal(v3.mig_size, 4);
    assert_int_equal(v3.mig_start, 4); /* keeps the 4g placement at 0 open */
    assert_int_equal(v3.gpu_milli, 428);
    assert_int_equal(h->gpus[1].mig_vgpus, 1);
    assert_int_equal(h->gpus[0].mig_vgpus, 0);
    /* and a bare slice keeps to GPU 0 though GPU 1 has room */
    assert_int_equal(take(&f, &r1, &bare2, &err), 0);
    assert_int_equal(bare2.gpu_index[0], 0);
    /* a different MIG-backed type joins the 3g on GPU 1 */
    assert_int_equal(take(&f, &rv4, &v4, &err), 0);
    assert_int_equal(v4.gpu_index[0], 1);
    assert_int_equal(v4.mig_start, 0);
    assert_string_equal(v4.vgpu_type, "H100XM-4-40C");
    assert_int_equal(h->gpus[1].mig_slots_used, 0xFFu);
    assert_int_equal(h->gpus[1].mig_vgpus, 2);
    /* GPU 1 is full and GPU 0 holds bare slices: why the next vGPU waits */
    assert_int_equal(gpf_sched_place(&f, cat, &rv1, &p, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "no capacity for vGPU H100XM-1-10C (MIG-backed, 1g.10gb): of 1 host, 1 without a free 1g.10gb "
                         "placement for another H100XM-1-10C (1 with MIG GPUs holding bare MIG slices, which take no "
                         "MIG-backed vGPU beside them)");

    gpf_sched_host *snap = gpf_malloc(sz);
    memcpy(snap, f.hosts, sz);
    /* direct applies across the line are refused and change nothing */
    p = bare1; /* a 1g vGPU on a free slot of GPU 0 */
    gpf_strlcpy(p.vgpu_type, "H100XM-1-10C", sizeof p.vgpu_type);
    p.mig_start = 0;
    while (h->gpus[0].mig_slots_used & (1u << p.mig_start))
        p.mig_start++;
    assert_true(p.mig_start < 7);
    assert_int_equal(gpf_sched_apply(&f, cat, &p, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "cannot take this vgpu slice: it holds bare MIG slices");
    q = bare1; /* a bare 1g on GPU 1 */
    gpf_strlcpy(q.gpu_uuids[0], h->gpus[1].uuid, sizeof q.gpu_uuids[0]);
    assert_int_equal(gpf_sched_apply(&f, cat, &q, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "it serves MIG-backed vGPUs");
    /* nothing outside MIG mode shares a GPU with MIG-backed vGPUs */
    gpf_sched_request w = whole(2), sh = share(500, 0);
    assert_int_equal(gpf_sched_place(&f, cat, &w, &p, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "1 without 2 free matching GPUs");
    gpf_placement wp;
    gpf_sched_request w1 = whole(1);
    assert_int_equal(gpf_sched_place(&f, cat, &w1, &wp, &err), 0);
    assert_int_equal(wp.gpu_index[0], 2);
    gpf_strlcpy(wp.gpu_uuids[0], h->gpus[1].uuid, sizeof wp.gpu_uuids[0]);
    assert_int_equal(gpf_sched_apply(&f, cat, &wp, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "MIG mode");
    assert_int_equal(gpf_sched_place(&f, cat, &sh, &p, &err), 0);
    assert_int_equal(p.gpu_index[0], 2);
    gpf_strlcpy(p.gpu_uuids[0], h->gpus[1].uuid, sizeof p.gpu_uuids[0]);
    assert_int_equal(gpf_sched_apply(&f, cat, &p, &err), GPF_ENOCAPACITY);
    ledgers_equal(f.hosts, snap, sz);
    /* the geometry itself refuses a MIG-backed vGPU beside a whole, share or time-sliced
     * slice, whatever the GPU's mode says */
    const gpf_vgpu_type *t3 = gpf_catalog_vgpu(cat, "H100XM-3-40C");
    const gpf_mig_profile *p3 = gpf_catalog_mig_by_name(cat, "H100-80GB", "3g.40gb");
    gpf_sched_gpu g = initial->gpus[0];
    assert_null(sched_mig_vgpu_conflict(&g, t3, p3, 0, 4));
    g.whole_taken = 1;
    assert_non_null(sched_mig_vgpu_conflict(&g, t3, p3, 0, 4));
    g = initial->gpus[0];
    g.shares = 1;
    g.share_milli_used = 100;
    assert_non_null(sched_mig_vgpu_conflict(&g, t3, p3, 0, 4));
    g = initial->gpus[0];
    sched_vgpu_book(&g, gpf_catalog_vgpu(cat, "L40S-12C"));
    assert_string_equal(sched_mig_vgpu_conflict(&g, t3, p3, 0, 4), "it holds a whole-GPU, share or time-sliced vGPU slice");
    g = initial->gpus[2]; /* not in MIG mode */
    assert_string_equal(sched_mig_vgpu_conflict(&g, t3, p3, 0, 4), "it is not in MIG mode");
    /* and a time-sliced type never lands on a MIG-mode GPU */
    assert_non_null(sched_vgpu_conflict(&initial->gpus[0], gpf_catalog_vgpu(cat, "L40S-12C")));
    assert_non_null(sched_vgpu_conflict(&initial->gpus[2], t3)); /* a MIG-backed type is not time-sliced */

    /* the vGPUs gone, GPU 1 is plain MIG again and takes a bare slice */
    assert_int_equal(gpf_sched_release(&f, cat, &v3, &err), 0);
    assert_int_equal(h->gpus[1].mig_vgpus, 1);
    assert_int_equal(gpf_sched_release(&f, cat, &v4, &err), 0);
    assert_int_equal(h->gpus[1].mig_vgpus, 0);
    assert_int_equal(h->gpus[1].mig_instances, 0);
    q = bare2;
    gpf_strlcpy(q.gpu_uuids[0], h->gpus[1].uuid, sizeof q.gpu_uuids[0]);
    q.gpu_index[0] = 1;
    assert_int_equal(gpf_sched_apply(&f, cat, &q, &err), 0);
    /* and a host with only bare MIG GPUs or only GPUs outside MIG mode says so */
    assert_int_equal(gpf_sched_release(&f, cat, &q, &err), 0);
    assert_int_equal(gpf_sched_release(&f, cat, &bare1, &err), 0);
    assert_int_equal(gpf_sched_release(&f, cat, &bare2, &err), 0);
    ledgers_equal(f.hosts, initial, sz);
    gpf_sched_fleet_clear(&f);
    gpf_sched_fleet_init(&f);
    add_host(&f, "plain", "H100-80GB-SXM5", 2, 0, 64, 512 * GIB);
    add_host(&f, "l40s", "L40S", 2, 0, 64, 512 * GIB);
    assert_int_equal(gpf_sched_place(&f, cat, &rv3, &p, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "no capacity for vGPU H100XM-3-40C (MIG-backed, 3g.40gb): of 2 hosts, 1 without a matching GPU "
                         "model; 1 without a matching GPU in MIG mode");
    gpf_sched_fleet_clear(&f);
    gpf_free(snap);
    gpf_free(initial);
}

/* A catalog with two made-up MIG-backed types on H100-80GB: TEST-1-10C (1g.10gb, at most 2
 * per GPU) and TEST-9-99C (a GI profile the catalog does not have). */
static gpf_catalog *test_catalog(void)
{
    static const char extra[] = "H100-80GB,Test board,TEST-1-10C,mig-backed,10240,2,,1g.10gb,1,1,test,\n"
                                "H100-80GB,Test board,TEST-9-99C,mig-backed,10240,1,,9g.99gb,7,7,test,\n";
    const char *v = gpf_test_catalog_text("vgpu_profiles.csv");
    assert_non_null(v);
    size_t n = strlen(v);
    char *text = gpf_malloc(n + sizeof extra + 1);
    memcpy(text, v, n);
    if (n > 0 && text[n - 1] != '\n')
        text[n++] = '\n';
    memcpy(text + n, extra, sizeof extra);
    gpf_catalog *c = NULL;
    gpf_error err = {0};
    if (gpf_catalog_parse(gpf_test_catalog_text("gpus.csv"), gpf_test_catalog_text("mig_profiles.csv"), text, &c,
                          &err) != 0)
        fail_msg("test catalog: %s", err.msg);
    gpf_free(text);
    return c;
}

/* max_per_gpu where the geometry has room for more; types sharing a profile share a GPU;
 * requests that can never fit; apply and release take exactly what was booked. */
static void test_mig_vgpu_limits_and_errors(void **state)
{
    (void)state;
    gpf_catalog *tc = test_catalog();
    gpf_sched_fleet f;
    gpf_placement a, b, c, p;
    gpf_error err = {0};
    gpf_sched_fleet_init(&f);
    add_host(&f, "one", "H100-80GB-PCIe", 1, 1, 64, 512 * GIB);
    add_host(&f, "plain", "H100-80GB-PCIe", 1, 0, 64, 512 * GIB);
    size_t sz = 2 * sizeof(gpf_sched_host);
    gpf_sched_host *initial = gpf_malloc(sz);
    memcpy(initial, f.hosts, sz);
    gpf_sched_request rt = vgpu("TEST-1-10C"), rx = vgpu("H100XM-1-10C");
    assert_int_equal(gpf_sched_place(&f, tc, &rt, &a, &err), 0);
    assert_int_equal(gpf_sched_apply(&f, tc, &a, &err), 0);
    assert_int_equal(gpf_sched_place(&f, tc, &rt, &b, &err), 0);
    assert_int_equal(gpf_sched_apply(&f, tc, &b, &err), 0);
    assert_int_equal(__builtin_popcount(f.hosts[0].gpus[0].mig_slots_used), 2); /* five 1g slots left */
    assert_int_equal(gpf_sched_place(&f, tc, &rt, &p, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "no capacity for vGPU TEST-1-10C (MIG-backed, 1g.10gb): of 2 hosts, 1 without a matching GPU in "
                         "MIG mode; 1 without a free 1g.10gb placement for another TEST-1-10C (1 with GPUs already at 2 "
                         "TEST-1-10C (its max_per_gpu))");
    p = b; /* a direct apply past the limit is refused too */
    p.mig_start = 6;
    assert_int_equal(gpf_sched_apply(&f, tc, &p, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "max_per_gpu");
    /* another type of the same profile still fits beside them */
    assert_int_equal(gpf_sched_place(&f, tc, &rx, &c, &err), 0);
    assert_int_equal(gpf_sched_apply(&f, tc, &c, &err), 0);
    assert_string_equal(c.gpu_uuids[0], a.gpu_uuids[0]);
    assert_int_equal(f.hosts[0].gpus[0].mig_vgpus, 3);

    gpf_sched_host *snap = gpf_malloc(sz);
    memcpy(snap, f.hosts, sz);
    /* release must name what was booked: another type at the same instance, or the
     * instance as a bare MIG slice, is not it */
    p = a;
    gpf_strlcpy(p.vgpu_type, "H100XM-1-10C", sizeof p.vgpu_type);
    assert_int_equal(gpf_sched_release(&f, tc, &p, &err), GPF_EINVAL);
    assert_msg_has(&err, "holds no such vgpu slice");
    p = a;
    p.vgpu_type[0] = '\0';
    assert_int_equal(gpf_sched_release(&f, tc, &p, &err), GPF_EINVAL);
    assert_msg_has(&err, "holds no such mig slice");
    /* a MIG-backed placement must be its type's profile, with a MIG placement */
    p = a;
    p.mig_profile_id = 9; /* 3g.40gb */
    p.mig_size = 4;
    p.mig_start = 4;
    assert_int_equal(gpf_sched_apply(&f, tc, &p, &err), GPF_EINVAL);
    assert_msg_has(&err, "vGPU type 'TEST-1-10C' needs MIG profile 1g.10gb");
    assert_int_equal(gpf_sched_release(&f, tc, &p, &err), GPF_EINVAL);
    p = a;
    p.mig_size = 0;
    p.mig_profile_id = -1;
    assert_int_equal(gpf_sched_apply(&f, tc, &p, &err), GPF_EINVAL);
    assert_msg_has(&err, "needs a MIG placement");
    p = a;
    gpf_strlcpy(p.vgpu_type, "L40S-12C", sizeof p.vgpu_type);
    assert_int_equal(gpf_sched_apply(&f, tc, &p, &err), GPF_EINVAL);
    assert_msg_has(&err, "time-sliced vGPU type 'L40S-12C' takes no MIG placement");
    p = a; /* an A100 type's 1g.10gb on an H100 */
    gpf_strlcpy(p.vgpu_type, "A100D-1-10C", sizeof p.vgpu_type);
    p.mig_start = 6;
    assert_int_equal(gpf_sched_apply(&f, tc, &p, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "the vGPU type belongs to another GPU model");
    p = a; /* the same instance twice */
    assert_int_equal(gpf_sched_apply(&f, tc, &p, &err), GPF_ENOCAPACITY);
    ledgers_equal(f.hosts, snap, sz);

    /* requests that can never fit */
    gpf_sched_request r = vgpu("TEST-9-99C");
    assert_int_equal(gpf_sched_place(&f, tc, &r, &p, &err), GPF_EINVAL);
    assert_msg_has(&err, "MIG-backed vGPU type 'TEST-9-99C' is MIG profile '9g.99gb', which the catalog lacks for H100-80GB");
    r = vgpu("A100D-3-40C");
    r.nmodels = 1;
    r.models[0] = "H100-80GB";
    assert_int_equal(gpf_sched_place(&f, tc, &r, &p, &err), GPF_EINVAL);
    assert_msg_has(&err, "vGPU type 'A100D-3-40C' runs on A100-80GB, which the request does not allow");
    /* an A100 type on a fleet without A100s: a capacity refusal, not a 501 */
    r.nmodels = 0;
    assert_int_equal(gpf_sched_place(&f, tc, &r, &p, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "2 without a matching GPU model");

    assert_int_equal(gpf_sched_release(&f, tc, &b, &err), 0);
    assert_int_equal(gpf_sched_release(&f, tc, &c, &err), 0);
    assert_int_equal(gpf_sched_release(&f, tc, &a, &err), 0);
    assert_int_equal(gpf_sched_release(&f, tc, &a, &err), GPF_EINVAL);
    ledgers_equal(f.hosts, initial, sz);
    gpf_free(snap);
    gpf_free(initial);
    gpf_sched_fleet_clear(&f);
    gpf_catalog_free(tc);
}

/* NUMA: a 2-node host (64 CPUs, 32 a node; GPUs 0-3 on node 0, 4-7 on node 1). A pod's CPUs
 * come from its GPU's node while that node has room; then they are not tied to a node and
 * the placement says why; release returns them to the node they came from. */
static void test_numa(void **state)
{
    (void)state;
    gpf_sched_fleet f;
    gpf_placement p[3], q;
    gpf_error err = {0};
    gpf_sched_fleet_init(&f);
    add_host(&f, "n2", "H100-80GB-SXM5", 8, 0, 64, 1024 * GIB);
    gpf_sched_host *n2 = &f.hosts[0];
    n2->numa_nodes = 2;
    n2->numa_cpus[0] = n2->numa_cpus[1] = 32;
    gpf_sched_request r = whole(4);
    r.cpus = 24;
    assert_int_equal(take(&f, &r, &p[0], &err), 0);
    int node = n2->gpus[p[0].gpu_index[0]].numa_node;
    assert_int_equal(p[0].numa_node, node);
    for (int i = 1; i < 4; i++)
        assert_int_equal(n2->gpus[p[0].gpu_index[i]].numa_node, node); /* one node's four GPUs */
    assert_int_equal(n2->numa_used[node], 24);
    assert_string_equal(p[0].note, "");
    /* the other node's four GPUs, and its CPUs */
    assert_int_equal(take(&f, &r, &p[1], &err), 0);
    assert_int_equal(p[1].numa_node, 1 - node);
    assert_int_equal(n2->numa_used[1 - node], 24);
    gpf_sched_fleet_clear(&f);

    /* GPUs free on node 0 but its CPUs taken: the CPUs are not tied, and it says so */
    gpf_sched_fleet_init(&f);
    add_host(&f, "n2", "H100-80GB-SXM5", 8, 0, 64, 1024 * GIB);
    n2 = &f.hosts[0];
    n2->numa_nodes = 2;
    n2->numa_cpus[0] = n2->numa_cpus[1] = 32;
    gpf_sched_request one = whole(1);
    one.cpus = 20;
    assert_int_equal(take(&f, &one, &p[0], &err), 0);
    node = p[0].numa_node;
    assert_true(node == 0 || node == 1);
    /* whole GPUs keep to the node with the fewest free GPUs: the same node, whose CPUs
     * cannot take 20 more (12 of 32 free) */
    assert_int_equal(take(&f, &one, &p[1], &err), 0);
    assert_int_equal(n2->gpus[p[1].gpu_index[0]].numa_node, node);
    assert_int_equal(p[1].numa_node, -1);
    assert_non_null(strstr(p[1].note, "CPUs not on the GPU's NUMA node"));
    assert_non_null(strstr(p[1].note, "12 of its 32 CPUs are free"));
    assert_int_equal(n2->cpus_used, 40);
    /* a direct apply that ties too many CPUs to a node is refused */
    q = p[0];
    q.cpus = 20;
    gpf_strlcpy(q.gpu_uuids[0], "GPU-n2-7", sizeof q.gpu_uuids[0]);
    q.gpu_index[0] = 7;
    q.numa_node = node;
    if (n2->numa_used[node] + 20 > 32) {
        assert_int_equal(gpf_sched_apply(&f, cat, &q, &err), GPF_ENOCAPACITY);
        assert_msg_has(&err, "NUMA node");
    }
    /* release returns the CPUs to their node */
    for (int i = 1; i >= 0; i--)
        assert_int_equal(gpf_sched_release(&f, cat, &p[i], &err), 0);
    assert_int_equal(n2->numa_used[0] + n2->numa_used[1], 0);
    assert_int_equal(n2->cpus_used, 0);
    /* a host without NUMA facts ties nothing and says nothing */
    n2->numa_nodes = 0;
    assert_int_equal(take(&f, &one, &p[2], &err), 0);
    assert_int_equal(p[2].numa_node, -1);
    assert_string_equal(p[2].note, "");
    gpf_sched_fleet_clear(&f);
}

static void test_shares(void **state)
{
    (void)state;
    gpf_sched_fleet f;
    gpf_placement p;
    gpf_error err = {0};
    gpf_sched_fleet_init(&f);
    add_host(&f, "one", "L40S", 1, 0, 32, 256 * GIB);
    gpf_sched_request r = share(250, 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(take(&f, &r, &p, &err), 0);
        assert_int_equal(p.share_milli, 250);
        assert_int_equal(p.share_memory_mib, 49152 / 4);
        assert_int_equal(p.gpu_milli, 250);
        assert_int_equal(p.mig_profile_id, -1);
    }
    gpf_sched_gpu *g = &f.hosts[0].gpus[0];
    assert_int_equal(g->share_milli_used, 1000);
    assert_int_equal(g->shares, 4);
    assert_int_equal(g->share_memory_used_mib, 49152);
    assert_int_equal(gpf_sched_place(&f, cat, &r, &p, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "1 without a GPU with 250/1000");
    /* a shared GPU is not whole any more */
    gpf_sched_request w = whole(1);
    assert_int_equal(gpf_sched_place(&f, cat, &w, &p, &err), GPF_ENOCAPACITY);
    gpf_sched_fleet_clear(&f);

    /* best fit: the second share joins the first GPU; memory caps are enforced */
    gpf_sched_fleet_init(&f);
    add_host(&f, "two", "L40S", 2, 0, 32, 256 * GIB);
    gpf_placement a, b;
    assert_int_equal(take(&f, &r, &a, &err), 0);
    assert_int_equal(take(&f, &r, &b, &err), 0);
    assert_string_equal(a.gpu_uuids[0], b.gpu_uuids[0]);
    gpf_sched_request big = share(100, 40000); /* 12288*2 + 40000 > 49152: goes elsewhere */
    assert_int_equal(take(&f, &big, &p, &err), 0);
    assert_string_not_equal(p.gpu_uuids[0], a.gpu_uuids[0]);
    assert_int_equal(p.share_memory_mib, 40000);
    gpf_sched_request more = share(100, 10000); /* milli fits both GPUs, memory only the first */
    assert_int_equal(take(&f, &more, &p, &err), 0);
    assert_string_equal(p.gpu_uuids[0], a.gpu_uuids[0]);
    gpf_sched_request huge = share(100, 60000);
    assert_int_equal(gpf_sched_place(&f, cat, &huge, &p, &err), GPF_ENOCAPACITY);
    /* out of range */
    gpf_sched_request bad = share(0, 0);
    assert_int_equal(gpf_sched_place(&f, cat, &bad, &p, &err), GPF_EINVAL);
    bad = share(1001, 0);
    assert_int_equal(gpf_sched_place(&f, cat, &bad, &p, &err), GPF_EINVAL);
    gpf_sched_fleet_clear(&f);

    /* shares never land on MIG GPUs */
    gpf_sched_fleet_init(&f);
    add_host(&f, "m", "H100-80GB-SXM5", 1, 1, 32, 256 * GIB);
    assert_int_equal(gpf_sched_place(&f, cat, &r, &p, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "outside MIG mode");
    gpf_sched_fleet_clear(&f);
}

/* ---- models, CPU, memory, readiness ---------------------------------------------- */

static void test_models(void **state)
{
    (void)state;
    gpf_sched_fleet f;
    gpf_placement p;
    gpf_error err = {0};
    std_fleet(&f);
    gpf_sched_request r = whole(1);
    r.nmodels = 1;
    r.models[0] = "H100-80GB"; /* a MIG key covers the SXM5 board */
    assert_int_equal(take(&f, &r, &p, &err), 0);
    assert_string_equal(p.host_id, "mixed");
    r.models[0] = "H100-80GB-SXM5";
    assert_int_equal(take(&f, &r, &p, &err), 0);
    assert_string_equal(p.host_id, "mixed");
    r.models[0] = "H100-80GB-PCIe";
    assert_int_equal(gpf_sched_place(&f, cat, &r, &p, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "no capacity for 1 whole GPU of H100-80GB-PCIe: of 2 hosts, 2 without a matching GPU model");
    r.nmodels = 2;
    r.models[0] = "A100-80GB-SXM4";
    r.models[1] = "L40S";
    assert_int_equal(take(&f, &r, &p, &err), 0);
    assert_string_equal(p.host_id, "l40s");
    r.nmodels = 1;
    r.models[0] = "NO-SUCH-GPU";
    assert_int_equal(gpf_sched_place(&f, cat, &r, &p, &err), GPF_EINVAL);
    assert_msg_has(&err, "NO-SUCH-GPU");

    gpf_sched_request m = mig("1g.10gb");
    m.nmodels = 1;
    m.models[0] = "H100-80GB-SXM5";
    assert_int_equal(take(&f, &m, &p, &err), 0);
    assert_string_equal(p.host_id, "mixed");
    gpf_sched_fleet_clear(&f);
}

static void test_cpu_memory_ready(void **state)
{
    (void)state;
    gpf_sched_fleet f;
    gpf_placement p, q;
    gpf_error err = {0};
    gpf_sched_fleet_init(&f);
    add_host(&f, "small", "L40S", 4, 0, 16, 64 * GIB);
    gpf_sched_request r = whole(1);
    r.cpus = 12;
    r.memory_mib = 16 * GIB;
    assert_int_equal(take(&f, &r, &p, &err), 0);
    assert_int_equal(p.cpus, 12);
    assert_int_equal(p.memory_mib, 16 * GIB);
    assert_int_equal(f.hosts[0].cpus_used, 12);
    assert_int_equal(gpf_sched_place(&f, cat, &r, &q, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "1 short of CPUs (need 12)");
    r.cpus = 4;
    r.memory_mib = 60 * GIB;
    assert_int_equal(gpf_sched_place(&f, cat, &r, &q, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "1 short of memory (need 61440 MiB)");
    r.memory_mib = 48 * GIB;
    assert_int_equal(take(&f, &r, &q, &err), 0);
    assert_int_equal(f.hosts[0].cpus_used, 16);
    assert_int_equal(f.hosts[0].memory_used_mib, 64 * GIB);
    /* a direct apply beyond the host's CPUs is refused too */
    gpf_placement extra = q;
    gpf_strlcpy(extra.gpu_uuids[0], f.hosts[0].gpus[3].uuid, sizeof extra.gpu_uuids[0]);
    extra.memory_mib = 0;
    assert_int_equal(gpf_sched_apply(&f, cat, &extra, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "CPUs");
    assert_false(f.hosts[0].gpus[3].whole_taken);
    assert_int_equal(gpf_sched_release(&f, cat, &q, &err), 0);
    assert_int_equal(f.hosts[0].cpus_used, 12);

    /* not-ready hosts are skipped and counted */
    add_host(&f, "down", "L40S", 4, 0, 64, 256 * GIB);
    host(&f, "down")->schedulable = 0;
    r.cpus = 8;
    r.memory_mib = 0;
    assert_int_equal(gpf_sched_place(&f, cat, &r, &q, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "of 2 hosts, 1 not ready; 1 short of CPUs (need 8)");
    host(&f, "down")->schedulable = 1;
    assert_int_equal(take(&f, &r, &q, &err), 0);
    assert_string_equal(q.host_id, "down");
    r.cpus = -1;
    assert_int_equal(gpf_sched_place(&f, cat, &r, &q, &err), GPF_EINVAL);
    gpf_sched_fleet_clear(&f);
}

/* ---- apply / release ----------------------------------------------------------------- */

static void test_apply_release(void **state)
{
    (void)state;
    gpf_sched_fleet f;
    gpf_placement p, m, s;
    gpf_error err = {0};
    std_fleet(&f);
    size_t sz = (size_t)f.nhosts * sizeof f.hosts[0];
    gpf_sched_host *initial = gpf_malloc(sz);
    memcpy(initial, f.hosts, sz);

    gpf_sched_request r = whole(2);
    r.cpus = 4;
    r.memory_mib = 8 * GIB;
    r.nmodels = 1;
    r.models[0] = "H100-80GB";
    assert_int_equal(take(&f, &r, &p, &err), 0);
    assert_int_equal(p.gpu_index[0], 2); /* the two whole-free GPUs of NUMA node 0 */
    assert_int_equal(p.gpu_index[1], 3);
    gpf_sched_request rm = mig("2g.20gb");
    rm.cpus = 2;
    assert_int_equal(take(&f, &rm, &m, &err), 0);
    gpf_sched_request rs = share(500, 0);
    assert_int_equal(take(&f, &rs, &s, &err), 0);

    gpf_sched_host *snap = gpf_malloc(sz);
    memcpy(snap, f.hosts, sz);
    /* the same whole or MIG placement twice: refused, nothing changes */
    assert_int_equal(gpf_sched_apply(&f, cat, &p, &err), GPF_ENOCAPACITY);
    ledgers_equal(f.hosts, snap, sz);
    assert_int_equal(gpf_sched_apply(&f, cat, &m, &err), GPF_ENOCAPACITY);
    ledgers_equal(f.hosts, snap, sz);
    /* a MIG placement the profile does not allow (2g at 6) */
    gpf_placement odd = m;
    odd.mig_start = 6;
    assert_int_equal(gpf_sched_apply(&f, cat, &odd, &err), GPF_ENOCAPACITY);
    assert_msg_has(&err, "not one the profile allows");
    /* releasing what is not booked: refused, nothing changes */
    assert_int_equal(gpf_sched_release(&f, cat, &odd, &err), GPF_EINVAL);
    gpf_placement other = p;
    gpf_strlcpy(other.gpu_uuids[1], "GPU-mixed-7", sizeof other.gpu_uuids[1]);
    assert_int_equal(gpf_sched_release(&f, cat, &other, &err), GPF_EINVAL);
    assert_msg_has(&err, "GPU-mixed-7 on mixed holds no such whole slice");
    gpf_placement nohost = p;
    gpf_strlcpy(nohost.host_id, "nowhere", sizeof nohost.host_id);
    assert_int_equal(gpf_sched_release(&f, cat, &nohost, &err), GPF_EINVAL);
    assert_int_equal(gpf_sched_apply(&f, cat, &nohost, &err), GPF_ENOTFOUND);
    gpf_placement dup = p;
    gpf_strlcpy(dup.gpu_uuids[1], dup.gpu_uuids[0], sizeof dup.gpu_uuids[1]);
    assert_int_equal(gpf_sched_apply(&f, cat, &dup, &err), GPF_EINVAL);
    ledgers_equal(f.hosts, snap, sz);

    /* release in another order than apply, then everything is as before */
    assert_int_equal(gpf_sched_release(&f, cat, &m, &err), 0);
    assert_int_equal(gpf_sched_release(&f, cat, &m, &err), GPF_EINVAL);
    assert_int_equal(gpf_sched_release(&f, cat, &p, &err), 0);
    assert_int_equal(gpf_sched_release(&f, cat, &s, &err), 0);
    assert_int_equal(gpf_sched_release(&f, cat, &s, &err), GPF_EINVAL);
    ledgers_equal(f.hosts, initial, sz);

    /* restore at start-up works from the placement alone, by index when no UUID is known */
    gpf_placement byidx = p;
    for (int i = 0; i < byidx.ngpus; i++)
        byidx.gpu_uuids[i][0] = '\0';
    assert_int_equal(gpf_sched_apply(&f, cat, &m, &err), 0);
    assert_int_equal(gpf_sched_apply(&f, cat, &byidx, &err), 0);
    assert_int_equal(gpf_sched_apply(&f, cat, &s, &err), 0);
    ledgers_equal(f.hosts, snap, sz);
    gpf_free(snap);
    gpf_free(initial);
    gpf_sched_fleet_clear(&f);
    gpf_sched_fleet_clear(NULL);
}

static void test_gpu_milli(void **state)
{
    (void)state;
    const gpf_gpu_model *h = gpf_catalog_model(cat, "H100-80GB-SXM5");
    gpf_slice_spec s;
    memset(&s, 0, sizeof s);
    s.kind = GPF_SLICE_MIG;
    gpf_strlcpy(s.mig_profile, "1g.10gb", sizeof s.mig_profile);
    assert_int_equal(gpf_sched_gpu_milli(cat, h, &s), 142);
    gpf_strlcpy(s.mig_profile, "7g.80gb", sizeof s.mig_profile);
    assert_int_equal(gpf_sched_gpu_milli(cat, h, &s), 1000);
    gpf_strlcpy(s.mig_profile, "2g.12gb", sizeof s.mig_profile);
    assert_int_equal(gpf_sched_gpu_milli(cat, gpf_catalog_model(cat, "A30-24GB"), &s), 500);
    assert_int_equal(gpf_sched_gpu_milli(cat, h, &s), GPF_EINVAL);
    s.kind = GPF_SLICE_WHOLE;
    s.gpu_count = 3;
    assert_int_equal(gpf_sched_gpu_milli(cat, NULL, &s), 3000);
    s.kind = GPF_SLICE_SHARE;
    s.share_milli = 333;
    assert_int_equal(gpf_sched_gpu_milli(cat, NULL, &s), 333);
    s.kind = GPF_SLICE_VGPU;
    gpf_strlcpy(s.vgpu_type, "L40S-12C", sizeof s.vgpu_type);
    assert_int_equal(gpf_sched_gpu_milli(cat, gpf_catalog_model(cat, "L40S"), &s), 250);
    gpf_strlcpy(s.vgpu_type, "H100XM-3-40C", sizeof s.vgpu_type);
    assert_int_equal(gpf_sched_gpu_milli(cat, h, &s), 428);
    gpf_strlcpy(s.vgpu_type, "A100D-7-80C", sizeof s.vgpu_type);
    assert_int_equal(gpf_sched_gpu_milli(cat, gpf_catalog_model(cat, "A100-80GB-PCIe"), &s), 1000);
    gpf_strlcpy(s.vgpu_type, "A30-2-12C", sizeof s.vgpu_type);
    assert_int_equal(gpf_sched_gpu_milli(cat, gpf_catalog_model(cat, "A30-24GB"), &s), 500);
}

/* ---- property test --------------------------------------------------------------------- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    /* splitmix64 */
    uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    z ^= z >> 31;
    return (uint32_t)(z % n);
}

static void prop_fleet(gpf_sched_fleet *f)
{
    gpf_sched_fleet_init(f);
    add_host(f, "p-h100", "H100-80GB-SXM5", 8, 3, 96, 1024 * GIB);
    add_host(f, "p-l40s", "L40S", 4, 0, 32, 256 * GIB);
    add_host(f, "p-a30", "A30-24GB", 4, 2, 24, 128 * GIB);
    add_host(f, "p-rtx", "RTX-PRO-6000-BSE", 2, 1, 32, 256 * GIB);
    add_host(f, "p-down", "L40S", 2, 0, 32, 256 * GIB);
    host(f, "p-down")->schedulable = 0;
}

static gpf_sched_request random_request(void)
{
    static const char *const profiles[] = {"1g.10gb", "1g.20gb",  "2g.20gb", "3g.40gb", "4g.40gb",
                                           "7g.80gb", "1g.10gb+me", "1g.6gb", "2g.12gb", "4g.24gb",
                                           "1g.24gb", "2g.48gb",  "4g.96gb", "1g.24gb+me", "2g.12gb+me"};
    static const int millis[] = {100, 125, 250, 333, 500, 750, 1000};
    static const char *const models[] = {"L40S", "H100-80GB", "A30-24GB", "RTX-PRO-6000-BSE"};
    static const char *const vtypes[] = {"H100XM-1-10C", "H100XM-2-20C", "H100XM-3-40C", "H100XM-4-40C",
                                         "H100-7-80C",   "H100XM-1-20C", "H100XM-1-10CME", "A30-1-6C",
                                         "A30-2-12C",    "A30-4-24C",    "A100D-3-40C",  "L40S-12C",
                                         "L40S-24C",     "L40S-48C"};
    gpf_sched_request r;
    uint32_t k = rnd(12);
    if (k < 3) {
        r = whole(rnd(8) == 0 ? 8 : 1 + (int)rnd(3));
    } else if (k < 7) {
        r = mig(profiles[rnd(sizeof profiles / sizeof profiles[0])]);
    } else if (k >= 10) {
        r = vgpu(vtypes[rnd(sizeof vtypes / sizeof vtypes[0])]); /* MIG-backed and time-sliced */
    } else {
        int64_t mem = rnd(3) == 0 ? 1000 + (int64_t)rnd(30000) : 0;
        r = share(millis[rnd(sizeof millis / sizeof millis[0])], mem);
    }
    r.cpus = (int)rnd(9);
    r.memory_mib = rnd(2) ? (int64_t)rnd(64) * GIB : 0;
    if (rnd(5) == 0) {
        r.nmodels = 1;
        r.models[0] = models[rnd(sizeof models / sizeof models[0])];
    }
    return r;
}

/* Every ledger invariant that can be checked from the fleet alone. */
static void check_invariants(const gpf_sched_fleet *f)
{
    for (int i = 0; i < f->nhosts; i++) {
        const gpf_sched_host *h = &f->hosts[i];
        assert_true(h->cpus_used >= 0 && h->cpus_used <= h->cpus);
        assert_true(h->memory_used_mib >= 0 && h->memory_used_mib <= h->memory_mib);
        for (int g = 0; g < h->ngpus; g++) {
            const gpf_sched_gpu *gp = &h->gpus[g];
            if (gp->whole_taken)
                assert_true(!gp->mig_enabled && gp->mig_instances == 0 && gp->shares == 0 && gp->vgpus == 0);
            if (gp->shares)
                assert_true(!gp->mig_enabled && gp->mig_instances == 0 && gp->vgpus == 0);
            /* time-sliced vGPUs: outside MIG mode, nothing else on the GPU */
            int tsn = 0;
            for (int k = 0; k < gp->nvgpu_types; k++) {
                assert_false(gp->vgpu[k].type->mig_backed);
                assert_true(gp->vgpu[k].n > 0 && gp->vgpu[k].n <= gp->vgpu[k].type->max_per_gpu);
                tsn += gp->vgpu[k].n;
            }
            assert_int_equal(tsn, gp->vgpus);
            if (gp->vgpus)
                assert_true(!gp->mig_enabled && gp->mig_instances == 0 && gp->nvgpu_types == 1);
            /* MIG-backed vGPUs: all of a GPU's MIG instances or none, each its type's
             * profile, at most max_per_gpu of a type */
            int mv = 0;
            for (int k = 0; k < gp->mig_instances; k++) {
                const gpf_vgpu_type *t = gp->mig[k].vgpu;
                if (!t)
                    continue;
                mv++;
                assert_true(t->mig_backed);
                assert_true(gpf_catalog_model_matches(gp->model, t->gpu_model));
                const gpf_mig_profile *tp = gpf_catalog_mig_by_name(cat, gp->model->mig_key, t->mig_profile);
                assert_non_null(tp);
                assert_int_equal(gp->mig[k].profile_id, tp->gi_profile_id);
                int same = 0;
                for (int j = 0; j < gp->mig_instances; j++)
                    same += gp->mig[j].vgpu == t;
                assert_true(same <= t->max_per_gpu);
            }
            assert_int_equal(mv, gp->mig_vgpus);
            assert_true(mv == 0 || mv == gp->mig_instances);
            assert_true(gp->share_milli_used >= 0 && gp->share_milli_used <= 1000);
            assert_true(gp->share_memory_used_mib >= 0 && gp->share_memory_used_mib <= gp->memory_mib);
            assert_int_equal(gp->shares == 0, gp->share_milli_used == 0);
            uint32_t slots = 0;
            int compute = 0;
            for (int k = 0; k < gp->mig_instances; k++) {
                const gpf_sched_mig *e = &gp->mig[k];
                const gpf_mig_profile *pr = gpf_catalog_mig_by_id(cat, gp->model->mig_key, e->profile_id);
                assert_non_null(pr);
                assert_int_equal(e->size, pr->memory_slices);
                assert_true(e->start + e->size <= gp->model->mig_grid_units);
                uint32_t mask = ((1u << e->size) - 1) << e->start;
                assert_false(slots & mask); /* no two instances share a slot */
                slots |= mask;
                compute += e->compute_slices;
                if (k > 0)
                    assert_true(gp->mig[k - 1].start < e->start);
                int same = 0;
                for (int j = 0; j < gp->mig_instances; j++)
                    same += gp->mig[j].profile_id == e->profile_id;
                assert_true(same <= pr->max_instances);
            }
            assert_int_equal(slots, gp->mig_slots_used);
            assert_true(compute <= gp->model->mig_compute_slices || gp->mig_instances == 0);
            for (int k = gp->mig_instances; k < GPF_MIG_MAX_PLACEMENTS; k++)
                assert_int_equal(gp->mig[k].size, 0);
        }
    }
}

static void test_property(void **state)
{
    (void)state;
    rng_state = 20240601;
    gpf_sched_fleet f, fresh;
    prop_fleet(&f);
    size_t sz = (size_t)f.nhosts * sizeof f.hosts[0];
    gpf_sched_host *initial = gpf_malloc(sz);
    memcpy(initial, f.hosts, sz);
    gpf_placement *booked = gpf_calloc(4096, sizeof *booked);
    int nbooked = 0, placed = 0, refused = 0, released = 0, impossible = 0, mig_vgpus = 0, ts_vgpus = 0;
    gpf_error err = {0};

    for (int step = 0; step < 4000; step++) {
        uint32_t op = rnd(10);
        if (op < 6 || nbooked == 0) {
            gpf_sched_request r = random_request();
            gpf_placement p;
            int rc = gpf_sched_place(&f, cat, &r, &p, &err);
            if (rc == GPF_EINVAL) {
                impossible++; /* e.g. 1g.6gb restricted to L40S */
                continue;
            }
            if (rc == GPF_ENOCAPACITY) {
                assert_true(strstr(err.msg, "no capacity for ") == err.msg);
                refused++;
                continue;
            }
            assert_int_equal(rc, 0);
            assert_int_equal(gpf_sched_apply(&f, cat, &p, &err), 0);
            assert_true(nbooked < 4096);
            booked[nbooked++] = p;
            placed++;
            mig_vgpus += p.vgpu_type[0] && p.mig_size > 0;
            ts_vgpus += p.vgpu_type[0] && p.mig_size == 0;
        } else if (op < 9) {
            int i = (int)rnd((uint32_t)nbooked);
            assert_int_equal(gpf_sched_release(&f, cat, &booked[i], &err), 0);
            booked[i] = booked[--nbooked];
            released++;
        } else {
            /* a bad caller: booking a whole or MIG placement twice, or releasing a MIG
             * instance that is not there, is refused and changes nothing */
            gpf_sched_host *snap = gpf_malloc(sz);
            memcpy(snap, f.hosts, sz);
            const gpf_placement *b = &booked[rnd((uint32_t)nbooked)];
            if (b->share_milli == 0 && !(b->vgpu_type[0] && b->mig_size == 0)) /* time-sliced vGPUs stack */
                assert_int_equal(gpf_sched_apply(&f, cat, b, &err), GPF_ENOCAPACITY);
            if (b->mig_size > 0) {
                gpf_placement ghost = *b;
                ghost.mig_size = b->mig_size + 1; /* never the size of that profile */
                assert_int_equal(gpf_sched_release(&f, cat, &ghost, &err), GPF_EINVAL);
                ghost = *b; /* a MIG-backed vGPU released as a bare slice, or the other way round */
                if (b->vgpu_type[0])
                    ghost.vgpu_type[0] = '\0';
                else
                    gpf_strlcpy(ghost.vgpu_type, "H100XM-1-10C", sizeof ghost.vgpu_type);
                assert_int_equal(gpf_sched_release(&f, cat, &ghost, &err), GPF_EINVAL);
            }
            ledgers_equal(f.hosts, snap, sz);
            gpf_free(snap);
        }
        check_invariants(&f);
        /* the ledger is exactly the sum of what is booked: rebuilding it from the
         * placements alone (as at start-up) gives the same bytes */
        if (step % 10 == 0) {
            gpf_sched_fleet_init(&fresh);
            for (int i = 0; i < f.nhosts; i++)
                gpf_sched_fleet_add_host(&fresh, &initial[i]);
            for (int i = nbooked - 1; i >= 0; i--)
                assert_int_equal(gpf_sched_apply(&fresh, cat, &booked[i], &err), 0);
            ledgers_equal(fresh.hosts, f.hosts, sz);
            gpf_sched_fleet_clear(&fresh);
        }
    }
    /* nothing was ever placed on the host that is not ready */
    for (int g = 0; g < host(&f, "p-down")->ngpus; g++) {
        const gpf_sched_gpu *gp = &host(&f, "p-down")->gpus[g];
        assert_true(!gp->whole_taken && gp->mig_instances == 0 && gp->shares == 0 && gp->vgpus == 0);
    }
    while (nbooked > 0) {
        int i = (int)rnd((uint32_t)nbooked);
        assert_int_equal(gpf_sched_release(&f, cat, &booked[i], &err), 0);
        booked[i] = booked[--nbooked];
    }
    ledgers_equal(f.hosts, initial, sz);
    /* the run exercised all outcomes */
    assert_true(placed > 500);
    assert_true(refused > 100);
    assert_true(released > 500);
    assert_true(impossible > 0);
    assert_true(mig_vgpus > 50);
    assert_true(ts_vgpus > 20);
    gpf_free(booked);
    gpf_free(initial);
    gpf_sched_fleet_clear(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_counts),
        cmocka_unit_test(test_whole_one_host),
        cmocka_unit_test(test_mig_seven_1g),
        cmocka_unit_test(test_mig_4g_3g),
        cmocka_unit_test(test_mig_limits),
        cmocka_unit_test(test_mig_mode_and_errors),
        cmocka_unit_test(test_shares),
        cmocka_unit_test(test_vgpu),
        cmocka_unit_test(test_mig_vgpu_every_type),
        cmocka_unit_test(test_mig_vgpu_mixing),
        cmocka_unit_test(test_mig_vgpu_limits_and_errors),
        cmocka_unit_test(test_numa),
        cmocka_unit_test(test_models),
        cmocka_unit_test(test_cpu_memory_ready),
        cmocka_unit_test(test_apply_release),
        cmocka_unit_test(test_gpu_milli),
        cmocka_unit_test(test_property),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
