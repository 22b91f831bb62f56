/* Placement policies on small hand-checked clusters, a property test for every policy, and
 * the trace-replay simulator (parsing, a hand-computed replay, the floor). Fleets here use
 * the simulator's units (cpu_unit_milli = 1) and two made-up models, like a trace. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched.h"
#include "sched/sched_int.h"
#include "sched/sim.h"
#include "util/alloc.h"

static gpf_gpu_model model_a = {.key = "GA"}, model_b = {.key = "GB"};

static void add(gpf_sched_fleet *f, const char *id, const gpf_gpu_model *m, int ngpus, int cpu_milli)
{
    gpf_sched_host h;
    memset(&h, 0, sizeof h);
    gpf_strlcpy(h.id, id, sizeof h.id);
    h.schedulable = 1;
    h.cpus = cpu_milli;
    h.memory_mib = 1 << 20;
    h.ngpus = ngpus;
    for (int i = 0; i < ngpus; i++) {
        snprintf(h.gpus[i].uuid, sizeof h.gpus[i].uuid, "%s-%d", id, i);
        h.gpus[i].index = i;
        h.gpus[i].model = m;
        h.gpus[i].memory_mib = 1000;
    }
    assert_true(gpf_sched_fleet_add_host(f, &h) >= 0);
}

static gpf_sched_request share(int milli, int cpu)
{
    gpf_sched_request r;
    memset(&r, 0, sizeof r);
    r.slice.kind = GPF_SLICE_SHARE;
    r.slice.share_milli = milli;
    r.cpus = cpu;
    return r;
}

static gpf_sched_request whole(int n, int cpu)
{
    gpf_sched_request r;
    memset(&r, 0, sizeof r);
    r.slice.kind = GPF_SLICE_WHOLE;
    r.slice.gpu_count = n;
    r.cpus = cpu;
    return r;
}

static gpf_sched_policy *policy(const char *name)
{
    gpf_sched_policy *p = NULL;
    gpf_error err = {0};
    assert_int_equal(gpf_sched_policy_new(name, 7, &p, &err), 0);
    return p;
}

/* Places with pol and books it; returns the host index, -1 when nothing fits. */
static int put(gpf_sched_fleet *f, gpf_sched_policy *pol, const gpf_sched_request *r, gpf_placement *pl)
{
    gpf_placement tmp;
    gpf_error err = {0};
    if (!pl)
        pl = &tmp;
    if (gpf_sched_place_with(f, NULL, pol, r, pl, &err) != 0)
        return -1;
    assert_int_equal(gpf_sched_apply(f, NULL, pl, &err), 0);
    return gpf_sched_fleet_find_host(f, pl->host_id);
}

/* An empty fleet in milli-CPUs, of an epoch of its own when one policy sees several. */
static void fleet_epoch(gpf_sched_fleet *f, uint32_t epoch)
{
    gpf_sched_fleet_init_epoch(f, epoch);
    f->cpu_unit_milli = 1;
}

static void fleet(gpf_sched_fleet *f)
{
    fleet_epoch(f, 1);
}

/* ---- names ------------------------------------------------------------------------- */

static void test_names(void **state)
{
    (void)state;
    const char *const *n = gpf_sched_policy_names();
    int count = 0;
    for (; n[count]; count++) {
        gpf_sched_policy *p = policy(n[count]);
        assert_string_equal(gpf_sched_policy_name(p), n[count]);
        gpf_sched_policy_free(p);
    }
    assert_int_equal(count, 8);
    assert_string_equal(n[0], "gpufleet");
    gpf_sched_policy *p = NULL;
    gpf_error err = {0};
    assert_int_equal(gpf_sched_policy_new("tetris", 1, &p, &err), GPF_EINVAL);
    assert_null(p);
    assert_non_null(strstr(err.msg, "unknown placement policy 'tetris'"));
}

/* ---- each baseline on a two-host cluster ---------------------------------------------- */

/* h0: 8 GPUs, 96 CPUs, empty. h1: 8 GPUs, 96 CPUs, 6 GPUs and 60 CPUs taken (whole). */
static void two_hosts(gpf_sched_fleet *f)
{
    fleet(f);
    add(f, "h0", &model_a, 8, 96000);
    add(f, "h1", &model_a, 8, 96000);
    gpf_placement pl;
    memset(&pl, 0, sizeof pl);
    gpf_strlcpy(pl.host_id, "h1", sizeof pl.host_id);
    pl.ngpus = 6;
    for (int i = 0; i < 6; i++)
        snprintf(pl.gpu_uuids[i], sizeof pl.gpu_uuids[i], "h1-%d", i);
    pl.cpus = 60000;
    pl.mig_profile_id = -1;
    gpf_error err = {0};
    assert_int_equal(gpf_sched_apply(f, NULL, &pl, &err), 0);
}

static void test_best_fit_and_dot_product_prefer_fuller(void **state)
{
    (void)state;
    /* (clustering would take h0: an empty host earns +25, more than h1's fuller base) */
    const char *names[] = {"best-fit", "dot-product", "packing"};
    for (size_t i = 0; i < 3; i++) {
        gpf_sched_fleet f;
        two_hosts(&f);
        gpf_sched_policy *p = policy(names[i]);
        gpf_sched_request r = whole(1, 4000);
        gpf_placement pl;
        /* best-fit: h1 raw = int(100(1 - (.5·32/128 + .5·1/8))) = 81 > h0's int(100(1 - (.5·92/128 + .5·7/8))) = 20 */
        assert_int_equal(put(&f, p, &r, &pl), 1);
        assert_int_equal(pl.ngpus, 1);
        assert_string_equal(pl.gpu_uuids[0], "h1-6"); /* the lowest-index free GPU */
        gpf_sched_policy_free(p);
        gpf_sched_fleet_clear(&f);
    }
}

static void test_first_fit_and_ties_go_to_fleet_order(void **state)
{
    (void)state;
    gpf_sched_fleet f;
    fleet(&f);
    add(&f, "a", &model_a, 2, 8000);
    add(&f, "b", &model_a, 2, 8000);
    gpf_sched_policy *p = policy("first-fit");
    gpf_sched_request r = share(300, 1000);
    gpf_placement pl;
    assert_int_equal(put(&f, p, &r, &pl), 0);
    assert_string_equal(pl.gpu_uuids[0], "a-0");
    assert_int_equal(put(&f, p, &r, &pl), 0);
    assert_string_equal(pl.gpu_uuids[0], "a-0"); /* lowest index that fits: 300+300 */
    r = share(500, 1000);
    assert_int_equal(put(&f, p, &r, &pl), 0);
    assert_string_equal(pl.gpu_uuids[0], "a-1");
    /* CPU runs out on a: the next goes to b */
    r = whole(0, 6000);
    assert_int_equal(put(&f, p, &r, &pl), 1);
    assert_int_equal(pl.ngpus, 0);
    gpf_sched_policy_free(p);
    gpf_sched_fleet_clear(&f);
}

static void test_tight_gpu_choice_for_shares(void **state)
{
    (void)state;
    gpf_sched_fleet f;
    fleet(&f);
    add(&f, "a", &model_a, 3, 64000);
    gpf_sched_policy *p = policy("best-fit");
    gpf_placement pl;
    gpf_sched_request r = share(600, 1000);
    assert_int_equal(put(&f, p, &r, &pl), 0); /* a-0: 400 left */
    r = share(300, 1000);
    assert_int_equal(put(&f, p, &r, &pl), 0);
    assert_string_equal(pl.gpu_uuids[0], "a-0"); /* tightest: 400 left beats 1000 */
    r = share(200, 1000);
    assert_int_equal(put(&f, p, &r, &pl), 0);
    assert_string_equal(pl.gpu_uuids[0], "a-1"); /* a-0 has 100 left: the next tightest is a fresh GPU */
    gpf_sched_policy_free(p);
    gpf_sched_fleet_clear(&f);
}

static void test_packing_tiers(void **state)
{
    (void)state;
    gpf_sched_fleet f;
    fleet(&f);
    add(&f, "small", &model_a, 2, 64000);  /* fully free, 2 GPUs: max(33-2, 2) = 31 */
    add(&f, "big", &model_a, 8, 64000);    /* fully free, 8 GPUs: max(33-8, 8) = 25 */
    add(&f, "used", &model_a, 4, 64000);
    gpf_sched_policy *p = policy("packing");
    gpf_placement pl;
    gpf_sched_request r = share(500, 1000);
    /* first share: all hosts are empty; the 2-GPU host scores highest */
    assert_int_equal(put(&f, p, &r, &pl), 0);
    /* now "small" holds a share on a-0: a share that fits there scores max(100 - 500·100/1000/10, 50) = 95 */
    r = share(400, 1000);
    assert_int_equal(put(&f, p, &r, &pl), 0);
    assert_string_equal(pl.gpu_uuids[0], "small-0");
    /* a whole GPU on a partly used host (tier max(50 - 1, 33) = 49) beats empty hosts */
    r = whole(1, 1000);
    assert_int_equal(put(&f, p, &r, &pl), 0);
    assert_string_equal(pl.gpu_uuids[0], "small-1");
    /* "small" is full: 2 GPUs on an empty host; "used" (4 GPUs, 29) beats "big" (25) */
    r = whole(2, 1000);
    assert_int_equal(put(&f, p, &r, &pl), 2);
    gpf_sched_policy_free(p);
    gpf_sched_fleet_clear(&f);
}

static void test_clustering_groups_tags(void **state)
{
    (void)state;
    gpf_sched_fleet f;
    fleet(&f);
    add(&f, "x", &model_a, 4, 64000);
    add(&f, "y", &model_a, 4, 64000);
    add(&f, "z", &model_a, 4, 64000);
    gpf_sched_policy *p = policy("clustering");
    gpf_placement pl;
    gpf_sched_request s = share(300, 1000), w = whole(1, 1000);
    assert_int_equal(put(&f, p, &s, &pl), 0); /* all empty: +25 each, first wins */
    /* a 1-GPU pod: x hosts another tag (+0, base 25·(8000-3700)/8000 = 13); y and z are empty
     * (+25, base 12): y */
    assert_int_equal(put(&f, p, &w, &pl), 1);
    /* another share: x hosts only shares (+75) */
    assert_int_equal(put(&f, p, &s, &pl), 0);
    /* another 1-GPU: y hosts only 1-GPU pods (+75) */
    assert_int_equal(put(&f, p, &w, &pl), 1);
    /* CPU-only requests score 0 everywhere: the first host with room */
    gpf_sched_request c = whole(0, 1000);
    assert_int_equal(put(&f, p, &c, &pl), 0);
    gpf_sched_policy_free(p);
    gpf_sched_fleet_clear(&f);
}

/* FGD against one typical task of 600 thousandths (hand-computed):
 * host A GPUs [500 left, 1000]: F = 500 (GPU 0 is too small for the task).
 *   share 500 on A-0 -> [0, 1000]: F = 0, ΔF = 500 -> int(100·sigmoid(0.5)) = 62
 *   share 500 on A-1 -> [500, 500]: the task fits nowhere, F = 1000, ΔF = -500 -> 37
 * host B [1000, 1000]: F = 0; share 500 -> [500, 1000]: F = 500, ΔF = -500 -> 37.
 * FGD takes A-0. */
static void test_fgd_hand_computed(void **state)
{
    (void)state;
    gpf_sched_task_type t;
    memset(&t, 0, sizeof t);
    t.cpus = 1000;
    t.gpu_milli = 600;
    t.num_gpu = 1;
    t.weight = 1.0;
    const char *names[] = {"fgd", "gpufleet"};
    for (int k = 0; k < 2; k++) {
        gpf_sched_fleet f;
        fleet(&f);
        add(&f, "B", &model_a, 2, 64000);
        add(&f, "A", &model_a, 2, 64000);
        gpf_placement pl;
        memset(&pl, 0, sizeof pl);
        gpf_strlcpy(pl.host_id, "A", sizeof pl.host_id);
        gpf_strlcpy(pl.gpu_uuids[0], "A-0", sizeof pl.gpu_uuids[0]);
        pl.ngpus = 1;
        pl.share_milli = 500;
        pl.mig_profile_id = -1;
        gpf_error err = {0};
        assert_int_equal(gpf_sched_apply(&f, NULL, &pl, &err), 0);
        gpf_sched_policy *p = policy(names[k]);
        gpf_sched_policy_set_tasks(p, &t, 1);
        gpf_sched_request r = share(500, 1000);
        assert_int_equal(put(&f, p, &r, &pl), 1);
        assert_string_equal(pl.gpu_uuids[0], "A-0");
        /* a whole GPU: A -> [0,0] F = 1000 (ΔF = -500: 37); B -> [0,1000] F = 0 (ΔF 0: 50): B */
        r = whole(1, 1000);
        assert_int_equal(put(&f, p, &r, &pl), 0);
        gpf_sched_policy_free(p);
        gpf_sched_fleet_clear(&f);
    }
}

/* Books a share of milli thousandths on GPU gpu of host id. */
static void book_share(gpf_sched_fleet *f, const char *id, const char *gpu, int milli)
{
    gpf_placement pl;
    memset(&pl, 0, sizeof pl);
    gpf_strlcpy(pl.host_id, id, sizeof pl.host_id);
    gpf_strlcpy(pl.gpu_uuids[0], gpu, sizeof pl.gpu_uuids[0]);
    pl.ngpus = 1;
    pl.share_milli = milli;
    pl.mig_profile_id = -1;
    gpf_error err = {0};
    assert_int_equal(gpf_sched_apply(f, NULL, &pl, &err), 0);
}

/* One-GPU hosts "a", "b", ... with booked[k] thousandths booked on host k's GPU (0: none),
 * and a policy of the name with the tasks set. */
static gpf_sched_policy *one_gpu_hosts(gpf_sched_fleet *f, const int *booked, int n, const char *name,
                                       const gpf_sched_task_type *t)
{
    fleet(f);
    for (int k = 0; k < n; k++) {
        char id[2] = {(char)('a' + k), 0}, gpu[4] = {(char)('a' + k), '-', '0', 0};
        add(f, id, &model_a, 1, 64000);
        if (booked[k])
            book_share(f, id, gpu, booked[k]);
    }
    gpf_sched_policy *p = policy(name);
    gpf_sched_policy_set_tasks(p, t, 1);
    return p;
}

/* gpufleet's four additions to FGD, each on a cluster where FGD decides otherwise (the
 * scores worked by hand; docs/placement.md, "gpufleet"). */
static void test_gpufleet_hand_computed(void **state)
{
    (void)state;
    const char *names[] = {"fgd", "gpufleet"};
    gpf_sched_task_type t[3];
    gpf_placement pl;

    /* Model pressure. a: 1 GA GPU; b: 4 GB GPUs. Tasks, 1 whole GPU each, no CPUs: any
     * model 0.6, GA only 0.2, GB only 0.2. Demand 1000 per pod: the GA-only tasks claim 200
     * of it, 20 % of demand, and GA is 20 % of the GPUs: pressure 1; GB's 200 over 80 %:
     * 0.25. A whole GPU of any model:
     *   a: F = 0.2·1000 (GB only cannot use it) -> 0, ΔF = +200 -> 54
     *   b: F = 0.2·4000 (GA only) -> 0.2·3000, ΔF = +200 -> 54
     * FGD ties and takes a, the first. gpufleet adds to F after on a what the request takes
     * from GA's tasks, 1000 · (1 - 0.25) = 750: ΔF = -550 -> 36, so b (54). A GA-only pod
     * still gets a. */
    memset(t, 0, sizeof t);
    for (int k = 0; k < 3; k++)
        t[k].num_gpu = 1, t[k].gpu_milli = 1000, t[k].weight = k == 0 ? 0.6 : 0.2;
    t[1].nmodels = t[2].nmodels = 1;
    gpf_strlcpy(t[1].models[0], "GA", sizeof t[1].models[0]);
    gpf_strlcpy(t[2].models[0], "GB", sizeof t[2].models[0]);
    for (int k = 0; k < 2; k++) {
        gpf_sched_fleet f;
        fleet(&f);
        add(&f, "a", &model_a, 1, 64000);
        add(&f, "b", &model_b, 4, 64000);
        gpf_sched_policy *p = policy(names[k]);
        gpf_sched_policy_set_tasks(p, t, 3);
        gpf_sched_request r = whole(1, 0);
        assert_int_equal(put(&f, p, &r, &pl), k == 0 ? 0 : 1);
        if (k == 1) {
            r.nmodels = 1;
            r.models[0] = "GA";
            assert_int_equal(put(&f, p, &r, &pl), 0);
        }
        int checked = 0;
        assert_int_equal(sched_policy_check_caches(p, &f, &checked), 0);
        gpf_sched_policy_free(p);
        gpf_sched_fleet_clear(&f);
    }

    /* CPU shortfall. h0 and h1: 2 GPUs each, 16 and 64 CPUs. One task: 1 whole GPU with 8
     * CPUs, so 8 milli-CPUs per thousandth. A CPU-only pod of 8 CPUs leaves every task able
     * to run anywhere: ΔF = 0 on both (50), FGD takes h0. On h0 it leaves 8 CPUs for 2000
     * free thousandths, which need 16: 1000 of them cannot be served, ΔF = -1000 -> 26; h1
     * keeps CPUs to spare (50): gpufleet takes h1. */
    memset(t, 0, sizeof t);
    t[0].num_gpu = 1, t[0].gpu_milli = 1000, t[0].cpus = 8000, t[0].weight = 1;
    for (int k = 0; k < 2; k++) {
        gpf_sched_fleet f;
        fleet(&f);
        add(&f, "h0", &model_a, 2, 16000);
        add(&f, "h1", &model_a, 2, 64000);
        gpf_sched_policy *p = policy(names[k]);
        gpf_sched_policy_set_tasks(p, t, 1);
        gpf_sched_request r = whole(0, 8000);
        assert_int_equal(put(&f, p, &r, &pl), k == 0 ? 0 : 1);
        gpf_sched_policy_free(p);
        gpf_sched_fleet_clear(&f);
    }

    /* Near-exact fill. a: 1 GPU with 470 booked; b: 1 empty GPU. One task: a share of 500.
     * A share of 470: on a it leaves 60, which the task cannot use (F 0 -> 60, ΔF = -60 ->
     * 48); on b it leaves 530, which it can (ΔF = 0 -> 50): FGD takes b. Leaving less than
     * 100 free, a's placement comes first under gpufleet. */
    memset(t, 0, sizeof t);
    t[0].num_gpu = 1, t[0].gpu_milli = 500, t[0].weight = 1;
    for (int k = 0; k < 2; k++) {
        gpf_sched_fleet f;
        gpf_sched_policy *p = one_gpu_hosts(&f, (const int[]){470, 0}, 2, names[k], t);
        gpf_sched_request r = share(470, 0);
        assert_int_equal(put(&f, p, &r, &pl), k == 0 ? 1 : 0);
        gpf_sched_policy_free(p);
        gpf_sched_fleet_clear(&f);
    }

    /* Gap balance. a: 1 GPU with 300 booked (room 700); b, c, d: 1 GPU with 500 booked
     * (room 500). Same task. A share of 200: on a it leaves 500, which the task can use
     * (ΔF = 0 -> 50); on b it leaves 300, which it cannot (ΔF = -300 -> 42): FGD takes a.
     * The rooms counted, by hundreds: N(7) = 1, N(5) = 3, of 4. a: 7 -> 5 changes Σ N² by
     * (1 - 2) + (1 + 6) = +6, cost 3000·6/4 capped at 400: 50 - 400; b: 5 -> 3 by
     * (1 - 6) + (1 + 0) = -4, capped at -400: 42 + 400. gpufleet takes b, and the counts
     * become N(7) = 1, N(5) = 2, N(3) = 1. */
    for (int k = 0; k < 2; k++) {
        gpf_sched_fleet f;
        gpf_sched_policy *p = one_gpu_hosts(&f, (const int[]){300, 500, 500, 500}, 4, names[k], t);
        gpf_sched_request r = share(200, 0);
        assert_int_equal(put(&f, p, &r, &pl), k == 0 ? 0 : 1);
        if (k == 1) {
            /* a second 200: a (7 -> 5) now changes Σ N² by (1 - 2) + (1 + 4) = +4, cost
             * 400: 50 - 400; c (5 -> 3) by (1 - 4) + (1 + 2) = 0: 42; b, at 300 (3 -> 1), by
             * (1 - 2) + (1 + 0) = 0, and F goes 300 -> 100 (ΔF = +200): 54. b again. */
            assert_int_equal(put(&f, p, &r, &pl), 1);
            int checked = 0;
            assert_int_equal(sched_policy_check_caches(p, &f, &checked), 0);
            assert_true(checked > 0);
        }
        gpf_sched_policy_free(p);
        gpf_sched_fleet_clear(&f);
    }
}

static void test_random_is_seeded_and_feasible(void **state)
{
    (void)state;
    int seen[3] = {0};
    for (int round = 0; round < 2; round++) {
        gpf_sched_fleet f;
        fleet(&f);
        add(&f, "a", &model_a, 8, 1 << 30);
        add(&f, "b", &model_b, 8, 1 << 30);
        add(&f, "c", &model_a, 8, 1 << 30);
        gpf_sched_policy *p = policy("random");
        gpf_sched_request r = share(100, 1);
        r.nmodels = 1;
        r.models[0] = "GA";
        int got[40];
        for (int i = 0; i < 40; i++) {
            got[i] = put(&f, p, &r, NULL);
            assert_true(got[i] == 0 || got[i] == 2); /* never the GB host */
            seen[got[i]]++;
        }
        static int first[40];
        if (round == 0)
            memcpy(first, got, sizeof got);
        else
            assert_memory_equal(first, got, sizeof got); /* same seed, same choices */
        gpf_sched_policy_free(p);
        gpf_sched_fleet_clear(&f);
    }
    assert_true(seen[0] > 0 && seen[2] > 0);
}

static void test_model_constraint_and_refusal(void **state)
{
    (void)state;
    gpf_sched_fleet f;
    fleet(&f);
    add(&f, "a", &model_a, 1, 4000);
    add(&f, "b", &model_b, 1, 4000);
    for (const char *const *n = gpf_sched_policy_names(); *n; n++) {
        gpf_sched_policy *p = policy(*n);
        gpf_sched_request r = whole(1, 1000);
        r.nmodels = 1;
        r.models[0] = "GB";
        gpf_placement pl;
        gpf_error err = {0};
        assert_int_equal(gpf_sched_place_with(&f, NULL, p, &r, &pl, &err), 0);
        assert_string_equal(pl.host_id, "b");
        r = whole(2, 1000);
        assert_int_equal(gpf_sched_place_with(&f, NULL, p, &r, &pl, &err), GPF_ENOCAPACITY);
        assert_non_null(strstr(err.msg, "no capacity for 2 whole GPUs"));
        r = whole(0, 5000);
        assert_int_equal(gpf_sched_place_with(&f, NULL, p, &r, &pl, &err), GPF_ENOCAPACITY);
        assert_non_null(strstr(err.msg, "short of CPUs"));
        gpf_sched_policy_free(p);
    }
    gpf_sched_fleet_clear(&f);
}

/* ---- property: every policy, random requests ------------------------------------------- */

static void test_property_every_policy(void **state)
{
    (void)state;
    uint64_t rng = 12345;
    for (const char *const *n = gpf_sched_policy_names(); *n; n++) {
        gpf_sched_fleet f;
        fleet(&f);
        add(&f, "p", &model_a, 8, 96000);
        add(&f, "q", &model_b, 2, 32000);
        add(&f, "r", &model_a, 4, 48000);
        add(&f, "s", &model_b, 1, 8000);
        gpf_sched_fleet before;
        fleet_epoch(&before, 2);
        uint64_t v0[4];
        for (int i = 0; i < f.nhosts; i++) {
            gpf_sched_fleet_add_host(&before, &f.hosts[i]);
            v0[i] = f.hosts[i].version;
            /* fleets of different epochs never share a version: a policy's tables never
             * confuse the two */
            assert_true(before.hosts[i].version != v0[i]);
            assert_true(v0[i] >> 32 == 1 && before.hosts[i].version >> 32 == 2);
        }
        gpf_sched_policy *p = policy(*n);
        gpf_sched_task_type tt[2];
        memset(tt, 0, sizeof tt);
        tt[0].gpu_milli = 500, tt[0].num_gpu = 1, tt[0].cpus = 2000, tt[0].weight = 0.7;
        tt[1].gpu_milli = 1000, tt[1].num_gpu = 2, tt[1].cpus = 8000, tt[1].weight = 0.3;
        gpf_sched_policy_set_tasks(p, tt, 2);
        gpf_placement *booked = gpf_calloc(600, sizeof *booked);
        int nb = 0;
        for (int i = 0; i < 600; i++) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            unsigned x = (unsigned)(rng >> 33);
            gpf_sched_request r = x % 3 == 0 ? share((int)(x % 999) + 1, (int)(x % 4000))
                                  : x % 3 == 1 ? whole((int)(x % 5), (int)(x % 9000))
                                               : whole(0, (int)(x % 3000));
            if (put(&f, p, &r, &booked[nb]) >= 0)
                nb++;
            for (int h = 0; h < f.nhosts; h++) {
                const gpf_sched_host *hh = &f.hosts[h];
                assert_true(hh->cpus_used <= hh->cpus);
                for (int g = 0; g < hh->ngpus; g++)
                    assert_true(hh->gpus[g].share_milli_used <= 1000 &&
                                !(hh->gpus[g].whole_taken && hh->gpus[g].shares));
            }
        }
        assert_true(nb > 10);
        /* releasing everything, last first, restores exactly the empty ledger */
        gpf_error err = {0};
        for (int i = nb - 1; i >= 0; i--)
            assert_int_equal(gpf_sched_release(&f, NULL, &booked[i], &err), 0);
        for (int h = 0; h < f.nhosts; h++)
        {
            gpf_sched_host a = f.hosts[h], b = before.hosts[h];
            assert_true(a.version > v0[h]); /* every change stamped a newer version */
            a.version = b.version = 0;
            assert_memory_equal(&a, &b, sizeof a);
        }
        gpf_free(booked);
        gpf_sched_policy_free(p);
        gpf_sched_fleet_clear(&f);
        gpf_sched_fleet_clear(&before);
    }
}

/* The per-shape score tables are exact: at every step a long-lived policy decides what a
 * policy with empty tables decides, through bookings, releases, a drained host, a fleet
 * cleared and built again (of a new epoch: new versions) and more request shapes than the
 * tables hold. Random is left out: a fresh one would be at another point of its stream. */
static void build_mixed(gpf_sched_fleet *f, uint32_t epoch)
{
    fleet_epoch(f, epoch);
    add(f, "p", &model_a, 8, 96000);
    add(f, "q", &model_b, 2, 32000);
    add(f, "r", &model_a, 4, 48000);
    add(f, "s", &model_b, 1, 8000);
    add(f, "t", &model_a, 8, 64000);
}

static void test_tables_match_fresh_policy(void **state)
{
    (void)state;
    gpf_sched_task_type tt[2];
    memset(tt, 0, sizeof tt);
    tt[0].gpu_milli = 500, tt[0].num_gpu = 1, tt[0].cpus = 2000, tt[0].weight = 0.7;
    tt[1].gpu_milli = 1000, tt[1].num_gpu = 2, tt[1].cpus = 8000, tt[1].weight = 0.3;
    for (const char *const *n = gpf_sched_policy_names(); *n; n++) {
        if (!strcmp(*n, "random"))
            continue;
        gpf_sched_fleet f;
        build_mixed(&f, 1);
        gpf_sched_policy *p = policy(*n);
        gpf_sched_policy_set_tasks(p, tt, 2);
        gpf_placement *booked = gpf_calloc(400, sizeof *booked);
        int nb = 0, decided = 0;
        uint64_t rng = 99;
        for (int i = 0; i < 400; i++) {
            if (i == 150) { /* the same hosts in a fleet built again, of a new epoch */
                gpf_sched_fleet_clear(&f);
                build_mixed(&f, 2);
                nb = 0;
            }
            if (i == 250) /* draining is a direct write: the scan reads it live */
                f.hosts[2].schedulable = 0;
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            unsigned x = (unsigned)(rng >> 33);
            /* 200+ shapes over the run: the tables (128) must give some up */
            gpf_sched_request r = x % 3 == 0 ? share((int)(x % 999) + 1, (int)(x % 4000))
                                  : x % 3 == 1 ? whole((int)(x % 3) + 1, (int)(x % 9000))
                                               : whole(0, (int)(x % 3000));
            gpf_sched_policy *fresh = policy(*n);
            gpf_sched_policy_set_tasks(fresh, tt, 2);
            gpf_placement a, b;
            gpf_error e1 = {0}, e2 = {0};
            int ra = gpf_sched_place_with(&f, NULL, p, &r, &a, &e1);
            int rb = gpf_sched_place_with(&f, NULL, fresh, &r, &b, &e2);
            gpf_sched_policy_free(fresh);
            assert_int_equal(ra, rb);
            if (ra != 0) {
                assert_string_equal(e1.msg, e2.msg);
                continue;
            }
            assert_string_equal(a.host_id, b.host_id);
            assert_int_equal(a.ngpus, b.ngpus);
            for (int g = 0; g < a.ngpus; g++)
                assert_string_equal(a.gpu_uuids[g], b.gpu_uuids[g]);
            decided++;
            gpf_error err = {0};
            assert_int_equal(gpf_sched_apply(&f, NULL, &a, &err), 0);
            booked[nb++] = a;
            if (x % 5 == 0 && nb > 0) { /* release one now and then */
                int k = nb / 2;
                assert_int_equal(gpf_sched_release(&f, NULL, &booked[k], &err), 0);
                booked[k] = booked[nb - 1];
                nb--;
            }
        }
        assert_true(decided > 100);
        gpf_free(booked);
        gpf_sched_policy_free(p);
        gpf_sched_fleet_clear(&f);
    }
}

/* One policy, two fleets of the same hosts booked differently, each at the same count of
 * changes: fleets of different epochs keep the policy's per-host records apart, and it
 * decides on the second what a fresh policy decides. (B_EPOCH 1, the epoch of the first,
 * makes the records collide: the check below then fails.) */
#ifndef B_EPOCH
#define B_EPOCH 2
#endif
static void test_epochs_keep_fleets_apart(void **state)
{
    (void)state;
    for (const char *const *n = gpf_sched_policy_names(); *n; n++) {
        if (!strcmp(*n, "random"))
            continue;
        gpf_sched_policy *p = policy(*n), *other = policy(*n);
        gpf_sched_fleet a, b;
        gpf_sched_request w = whole(1, 1000), sh = share(250, 500), none = share(800, 500), half = share(500, 500);
        int checked = 0;
        fleet_epoch(&a, 1);
        add(&a, "p", &model_a, 1, 8000);
        add(&a, "q", &model_a, 1, 8000);
        assert_true(put(&a, p, &w, NULL) >= 0);
        assert_true(put(&a, p, &sh, NULL) >= 0);
        assert_true(put(&a, p, &none, NULL) < 0); /* p records both hosts at their versions */
        fleet_epoch(&b, B_EPOCH);
        add(&b, "p", &model_a, 1, 8000);
        add(&b, "q", &model_a, 1, 8000);
        assert_true(put(&b, other, &sh, NULL) >= 0); /* booked in the other order */
        assert_true(put(&b, other, &w, NULL) >= 0);
        assert_int_equal(sched_policy_check_caches(p, &b, &checked), 0);
        gpf_sched_policy *fresh = policy(*n);
        gpf_placement x, y;
        gpf_error e1 = {0}, e2 = {0};
        int rx = gpf_sched_place_with(&b, NULL, p, &half, &x, &e1);
        int ry = gpf_sched_place_with(&b, NULL, fresh, &half, &y, &e2);
        assert_int_equal(rx, ry);
        assert_string_equal(e1.msg, e2.msg);
        assert_int_equal(rx, 0);
        assert_string_equal(x.host_id, y.host_id);
        gpf_sched_policy_free(fresh);
        gpf_sched_policy_free(other);
        gpf_sched_policy_free(p);
        gpf_sched_fleet_clear(&a);
        gpf_sched_fleet_clear(&b);
    }
}

/* The scored policies read a host's GPUs through a compact record: a GPU in MIG mode, a
 * host of two models under a request's model list, and a share's own memory cap. */
static void test_scored_policies_odd_gpus(void **state)
{
    (void)state;
    static const char *const names[] = {"fgd", "gpufleet", "best-fit", "packing", "clustering", "first-fit"};
    for (size_t n = 0; n < sizeof names / sizeof names[0]; n++) {
        gpf_sched_fleet f;
        fleet(&f);
        gpf_sched_host h;
        memset(&h, 0, sizeof h);
        h.schedulable = 1;
        h.cpus = 64000;
        h.memory_mib = 1 << 20;
        h.ngpus = 2;
        for (int i = 0; i < 2; i++) {
            h.gpus[i].index = i;
            h.gpus[i].memory_mib = 1000;
        }
        gpf_strlcpy(h.id, "m", sizeof h.id); /* model_a, GPU 0 in MIG mode */
        h.gpus[0].model = h.gpus[1].model = &model_a;
        h.gpus[0].mig_enabled = 1;
        snprintf(h.gpus[0].uuid, sizeof h.gpus[0].uuid, "m-0");
        snprintf(h.gpus[1].uuid, sizeof h.gpus[1].uuid, "m-1");
        assert_true(gpf_sched_fleet_add_host(&f, &h) >= 0);
        gpf_strlcpy(h.id, "x", sizeof h.id); /* GPU 0 model_b, GPU 1 model_a */
        h.gpus[0].model = &model_b;
        h.gpus[0].mig_enabled = 0;
        snprintf(h.gpus[0].uuid, sizeof h.gpus[0].uuid, "x-0");
        snprintf(h.gpus[1].uuid, sizeof h.gpus[1].uuid, "x-1");
        assert_true(gpf_sched_fleet_add_host(&f, &h) >= 0);
        gpf_sched_policy *p = policy(names[n]);
        gpf_sched_task_type tt;
        memset(&tt, 0, sizeof tt);
        tt.gpu_milli = 500, tt.num_gpu = 1, tt.cpus = 1000, tt.weight = 1;
        gpf_sched_policy_set_tasks(p, &tt, 1);
        gpf_placement pl;
        gpf_error err = {0};
        gpf_sched_request r = whole(1, 1000);
        r.nmodels = 1;
        r.models[0] = "GB";
        assert_int_equal(gpf_sched_place_with(&f, NULL, p, &r, &pl, &err), 0);
        assert_string_equal(pl.host_id, "x");
        assert_int_equal(pl.gpu_index[0], 0);
        r.models[0] = "GA"; /* one GA GPU outside MIG mode on each host */
        assert_int_equal(gpf_sched_place_with(&f, NULL, p, &r, &pl, &err), 0);
        assert_int_equal(pl.gpu_index[0], 1);
        r.slice.gpu_count = 2;
        assert_int_equal(gpf_sched_place_with(&f, NULL, p, &r, &pl, &err), GPF_ENOCAPACITY);
        r.nmodels = 0; /* host x: both GPUs, of two models */
        assert_int_equal(gpf_sched_place_with(&f, NULL, p, &r, &pl, &err), 0);
        assert_string_equal(pl.host_id, "x");
        gpf_sched_request sh = share(300, 1000);
        sh.slice.share_memory_mib = 1500; /* more than a GPU's memory */
        assert_int_equal(gpf_sched_place_with(&f, NULL, p, &sh, &pl, &err), GPF_ENOCAPACITY);
        sh.slice.share_memory_mib = 600;
        sh.nmodels = 1;
        sh.models[0] = "GB";
        assert_int_equal(gpf_sched_place_with(&f, NULL, p, &sh, &pl, &err), 0);
        assert_string_equal(pl.host_id, "x");
        assert_int_equal(pl.gpu_index[0], 0);
        assert_int_equal(pl.share_memory_mib, 600);
        assert_int_equal(gpf_sched_apply(&f, NULL, &pl, &err), 0);
        assert_int_equal(gpf_sched_place_with(&f, NULL, p, &sh, &pl, &err), GPF_ENOCAPACITY); /* 400 MiB left */
        sh.slice.share_memory_mib = 0; /* the default cap, 300 of the GPU's 1000 MiB, fits */
        assert_int_equal(gpf_sched_place_with(&f, NULL, p, &sh, &pl, &err), 0);
        assert_int_equal(pl.share_memory_mib, 300);
        int checked = 0;
        assert_int_equal(sched_policy_check_caches(p, &f, &checked), 0);
        gpf_sched_policy_free(p);
        gpf_sched_fleet_clear(&f);
    }
}

/* What a policy keeps between decisions (a compact record per host version, F(n) values
 * by their inputs, the per-shape tables, gpufleet's model pressures) equals a fresh
 * computation after every booking and release, with hosts in equal states (scored once per
 * decision) among them, and after hosts join (the pressures change: GB's grows, then falls). */
static void test_caches_match_fresh_computation(void **state)
{
    (void)state;
    gpf_sched_task_type tt[3];
    memset(tt, 0, sizeof tt);
    tt[0].gpu_milli = 500, tt[0].num_gpu = 1, tt[0].cpus = 2000, tt[0].weight = 0.5;
    tt[1].gpu_milli = 1000, tt[1].num_gpu = 2, tt[1].cpus = 8000, tt[1].weight = 0.3;
    tt[2].gpu_milli = 250, tt[2].num_gpu = 1, tt[2].cpus = 1000, tt[2].weight = 0.2;
    tt[2].nmodels = 1;
    gpf_strlcpy(tt[2].models[0], "GB", sizeof tt[2].models[0]);
    static const char *const names[] = {"fgd", "gpufleet", "best-fit", "packing", "clustering", "first-fit"};
    for (size_t n = 0; n < sizeof names / sizeof names[0]; n++) {
        gpf_sched_fleet f;
        build_mixed(&f, 1);
        add(&f, "u", &model_a, 8, 96000);
        add(&f, "v", &model_a, 8, 96000);
        add(&f, "w", &model_b, 2, 32000);
        gpf_sched_policy *p = policy(names[n]);
        gpf_sched_policy_set_tasks(p, tt, 3);
        gpf_placement *booked = gpf_calloc(300, sizeof *booked);
        int nb = 0, checked = 0, total = 0;
        uint64_t rng = 4242;
        for (int i = 0; i < 300; i++) {
            if (i == 150) /* the tables grow: they start empty */
                add(&f, "x", &model_a, 8, 96000);
            if (i == 220) /* room to spare: the scores under the old pressures must go */
                add(&f, "y", &model_b, 8, 96000);
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            unsigned x = (unsigned)(rng >> 33);
            gpf_sched_request r = x % 3 == 0 ? share((int)(x % 4) * 250 + 120, (int)(x % 3) * 1000)
                                  : x % 3 == 1 ? whole((int)(x % 3) + 1, (int)(x % 5) * 1000)
                                               : whole(0, (int)(x % 4) * 1000);
            if (x % 7 == 0) {
                r.nmodels = 1;
                r.models[0] = x % 2 ? "GA" : "GB";
            }
            if (put(&f, p, &r, &booked[nb]) >= 0)
                nb++;
            if (x % 4 == 0 && nb > 0) {
                gpf_error err = {0};
                int k = (int)(x % (unsigned)nb);
                assert_int_equal(gpf_sched_release(&f, NULL, &booked[k], &err), 0);
                booked[k] = booked[--nb];
            }
            assert_int_equal(sched_policy_check_caches(p, &f, &checked), 0);
            total += checked;
        }
        assert_true(total > 1000); /* it compared something */
        gpf_free(booked);
        gpf_sched_policy_free(p);
        gpf_sched_fleet_clear(&f);
    }
}

static void test_find_host_index(void **state)
{
    (void)state;
    gpf_sched_fleet f;
    fleet(&f);
    char id[32];
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof id, "node-%03d", i);
        add(&f, id, &model_a, 1, 1000);
    }
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof id, "node-%03d", i);
        assert_int_equal(gpf_sched_fleet_find_host(&f, id), i);
    }
    assert_int_equal(gpf_sched_fleet_find_host(&f, "node-300"), -1);
    assert_int_equal(gpf_sched_fleet_find_host(&f, ""), -1);
    gpf_sched_host dup;
    memset(&dup, 0, sizeof dup);
    gpf_strlcpy(dup.id, "node-007", sizeof dup.id);
    assert_int_equal(gpf_sched_fleet_add_host(&f, &dup), GPF_EEXIST);
    gpf_sched_fleet_clear(&f);
    assert_int_equal(gpf_sched_fleet_find_host(&f, "node-001"), -1);
}

/* ---- the simulator ---------------------------------------------------------------------- */

static const char nodes_csv[] = "sn,cpu_milli,memory_mib,gpu,model\nn1,8000,65536,2,GA\n";

static void test_sim_parse_errors(void **state)
{
    (void)state;
    gpf_sim_trace t;
    gpf_error err = {0};
    memset(&t, 0, sizeof t);
    assert_int_equal(gpf_sim_parse_nodes(&t, "nodes.csv", "sn,cpu_milli,gpu,model\nn1,1,1,GA\n", &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "lacks the column 'memory_mib'"));
    assert_int_equal(gpf_sim_parse_nodes(&t, "nodes.csv", "sn,cpu_milli,memory_mib,gpu,model\nn1,x,1,1,GA\n", &err),
                     GPF_EINVAL);
    assert_non_null(strstr(err.msg, "nodes.csv line 2"));
    assert_int_equal(gpf_sim_parse_nodes(&t, "nodes.csv", "sn,cpu_milli,memory_mib,gpu,model\nn1,1,1,2,\n", &err),
                     GPF_EINVAL);
    assert_non_null(strstr(err.msg, "has GPUs but no model"));
    gpf_sim_trace_free(&t);
    assert_int_equal(gpf_sim_parse_pods(&t, "pods.csv", "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1,1,1,0\n",
                                        &err),
                     GPF_EINVAL);
    assert_non_null(strstr(err.msg, "gpu_milli 0"));
    gpf_sim_trace_free(&t);
    /* an empty trace cannot be replayed */
    gpf_sim *s = NULL;
    assert_int_equal(gpf_sim_new(&t, "fgd", 42, 1.3, &s, &err), GPF_EINVAL);
    assert_int_equal(gpf_sim_parse_nodes(&t, "nodes.csv", nodes_csv, &err), 0);
    assert_int_equal(gpf_sim_parse_pods(&t, "pods.csv", "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1,1,1,2000\n",
                                        &err),
                     0);
    assert_int_equal(t.pods[0].gpu_milli, 1000); /* clipped */
    assert_int_equal(gpf_sim_new(&t, "nope", 42, 1.3, &s, &err), GPF_EINVAL);
    gpf_sim_trace_free(&t);
}

/* The one-node trace (nodes_csv) with the given pod list. */
static void load_trace(gpf_sim_trace *t, const char *pods_csv)
{
    gpf_error err = {0};
    memset(t, 0, sizeof *t);
    assert_int_equal(gpf_sim_parse_nodes(t, "nodes.csv", nodes_csv, &err), 0);
    assert_int_equal(gpf_sim_parse_pods(t, "pods.csv", pods_csv, &err), 0);
}

/* One node with 2 GPUs; pods: a 2-GPU pod and a 500-thousandth share (2,500 in all). With
 * tune 1.25 nothing is cloned. Whatever comes first is placed and the other dropped:
 *   2-GPU first: arrived 100 % with 100 % allocated -> unallocated at x=100 is 0;
 *   share first: arrived 25 % (25 % allocated), then 125 %: the x=100 bin is empty, and so are
 *   99 and 101, so it carries the last value, 25 % -> unallocated 75 %. */
static void test_sim_small_replay(void **state)
{
    (void)state;
    gpf_sim_trace t;
    gpf_error err = {0};
    load_trace(&t, "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n"
                   "big,1000,1024,2,1000,\nsmall,1000,1024,1,500,GA\n");
    int zero = 0, other = 0;
    for (uint64_t seed = 42; seed < 62; seed++) {
        gpf_sim_result r;
        assert_int_equal(gpf_sim_run(&t, "first-fit", seed, 1.25, &r, NULL, NULL, &err), 0);
        assert_int_equal(r.pods, 2);
        assert_int_equal(r.placed, 1);
        assert_int_equal(r.dropped, 1);
        assert_int_equal(r.arrived_milli, 2500);
        if (r.used_milli == 2000) {
            assert_true(fabs(r.unalloc_at_100) < 1e-9);
            assert_int_equal(r.dropped_milli_at_100[0], 0);
            zero++;
        } else {
            assert_int_equal(r.used_milli, 500);
            assert_true(fabs(r.unalloc_at_100 - 75.0) < 1e-9);
            assert_true(fabs(r.alloc_pct[25] - 25.0) < 1e-9);
            other++;
        }
    }
    assert_true(zero > 0 && other > 0); /* both orders occur over 20 seeds */
    gpf_sim_trace_free(&t);
}

/* Two 810 shares and a 380 share on one 2-GPU node (2,000 = capacity, tune 1.0: no copies).
 * When the 380 comes last, the 810s take a GPU each and it fits on neither (190 left):
 * unallocated 380 / 2000 = 19 %. When it comes first, one GPU keeps 620 and the second 810
 * is dropped: 810 / 2000 = 40.5 %. Only the last pod's x rounds to 100, and then the most
 * any placement can hold is the two 810s (no GPU holds 810 + 380): the floor is 19 %, what
 * the better order reaches. */
static void test_sim_floor(void **state)
{
    (void)state;
    gpf_sim_trace t;
    gpf_error err = {0};
    load_trace(&t, "name,cpu_milli,memory_mib,num_gpu,gpu_milli\n"
                   "a,100,1,1,810\nb,100,1,1,810\nc,100,1,1,380\n");
    for (const char *const *n = gpf_sched_policy_names(); *n; n++) {
        gpf_sim_result r;
        assert_int_equal(gpf_sim_run(&t, *n, 42, 1.0, &r, NULL, NULL, &err), 0);
        assert_int_equal(r.pods, 3);
        assert_true(fabs(r.unalloc_at_100 - 19.0) < 1e-9 || fabs(r.unalloc_at_100 - 40.5) < 1e-9);
        assert_true(fabs(r.floor_at_100 - 19.0) < 1e-6);
        assert_true(r.floor_at_100 <= r.unalloc_at_100);
    }
    gpf_sim_trace_free(&t);
}

static void test_sim_stats(void **state)
{
    (void)state;
    double v[] = {3, 1, 2, 4};
    double med, mean, sd;
    gpf_sim_stats(v, 4, &med, &mean, &sd);
    assert_true(fabs(med - 2.5) < 1e-12);
    assert_true(fabs(mean - 2.5) < 1e-12);
    assert_true(fabs(sd - sqrt(5.0 / 3.0)) < 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_best_fit_and_dot_product_prefer_fuller),
        cmocka_unit_test(test_first_fit_and_ties_go_to_fleet_order),
        cmocka_unit_test(test_tight_gpu_choice_for_shares),
        cmocka_unit_test(test_packing_tiers),
        cmocka_unit_test(test_clustering_groups_tags),
        cmocka_unit_test(test_fgd_hand_computed),
        cmocka_unit_test(test_gpufleet_hand_computed),
        cmocka_unit_test(test_random_is_seeded_and_feasible),
        cmocka_unit_test(test_model_constraint_and_refusal),
        cmocka_unit_test(test_property_every_policy),
        cmocka_unit_test(test_tables_match_fresh_policy),
        cmocka_unit_test(test_epochs_keep_fleets_apart),
        cmocka_unit_test(test_scored_policies_odd_gpus),
        cmocka_unit_test(test_caches_match_fresh_computation),
        cmocka_unit_test(test_find_host_index),
        cmocka_unit_test(test_sim_parse_errors),
        cmocka_unit_test(test_sim_small_replay),
        cmocka_unit_test(test_sim_floor),
        cmocka_unit_test(test_sim_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
