/* The simulator's floor (sched/sim_floor.c): the bound on what any placement of the arrived
 * pods can hold, on hand-computed cases, against exhaustive search on small random ones
 * (never below the best placement; equal to it on one GPU, where the programme has no
 * fractional slack), with duals solved for other pods, and with more share sizes than the
 * programme keeps rows for. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "sched/sim.h"
#include "util/alloc.h"

static gpf_sim_fill *fill_new(int64_t gpus)
{
    gpf_sim_fill *f = GPF_NEW(gpf_sim_fill);
    f->gpus = gpus;
    return f;
}

/* Hand-computed cases: GPUs, shares and whole-GPU pods' GPUs as "size x count" pairs
 * (whole: thousandths each GPU holds), and the most any placement holds. */
static const struct hand {
    int gpus;
    int share[3][2], whole[2][2];
    double most;
    const char *why;
} hands[] = {
    {0, {{0}}, {{0}}, 0, "no GPUs, nothing arrived"},
    {4, {{0}}, {{0}}, 0, "nothing arrived"},
    {2, {{810, 2}, {380, 1}}, {{0}}, 1620, "the 810s; no GPU holds 810 + 380"},
    {1, {{500, 1}, {300, 3}}, {{0}}, 900, "300 + 300 + 300 beats 500 + 300"},
    {2, {{810, 2}}, {{1000, 1}}, 1810, "a whole GPU and an 810"},
    {3, {{0}}, {{1000, 5}}, 3000, "five whole GPUs asked of three"},
    {2, {{470, 4}}, {{0}}, 1880, "two pairs of 470"},
    {10, {{650, 3}, {350, 3}}, {{0}}, 3000, "three exact pairs: all that arrived"},
    {3, {{900, 2}}, {{500, 2}}, 2300, "both 900s and one GPU of a 2-GPU pod of 500 each (taken one by one)"},
};

static void test_hand_cases(void **state)
{
    (void)state;
    gpf_sim_fill *f = fill_new(0);
    for (size_t i = 0; i < sizeof hands / sizeof hands[0]; i++) {
        const struct hand *h = &hands[i];
        memset(f, 0, sizeof *f);
        f->gpus = h->gpus;
        for (int k = 0; k < 3 && h->share[k][0]; k++)
            f->share[h->share[k][0]] = h->share[k][1];
        for (int k = 0; k < 2 && h->whole[k][0]; k++)
            f->whole[h->whole[k][0]] = h->whole[k][1];
        double got = gpf_sim_fill_max(f);
        if (fabs(got - h->most) > 1e-6)
            fail_msg("%s: %.3f, expected %.0f", h->why, got, h->most);
    }
    gpf_free(f);
}

/* ---- exhaustive search on small cases --------------------------------------- */

typedef struct small {
    int gpus, nshare, nwhole;
    int share[8], whole[4];
} small;

static int best;

static void place_shares(const small *c, int i, int *room, int ngpu, int sum)
{
    if (i == c->nshare) {
        if (sum > best)
            best = sum;
        return;
    }
    place_shares(c, i + 1, room, ngpu, sum); /* dropped */
    for (int g = 0; g < ngpu; g++) {
        if (room[g] < c->share[i])
            continue;
        int seen = 0; /* GPUs with equal room are interchangeable */
        for (int h = 0; h < g && !seen; h++)
            seen = room[h] == room[g];
        if (seen)
            continue;
        room[g] -= c->share[i];
        place_shares(c, i + 1, room, ngpu, sum + c->share[i]);
        room[g] += c->share[i];
    }
}

/* The most any placement holds: k whole GPUs (the k best; whole[] is sorted descending),
 * the shares over the other GPUs. */
static int exhaustive(const small *c)
{
    int top = 0;
    for (int k = 0; k <= c->nwhole && k <= c->gpus; k++) {
        int sum = 0, room[8];
        for (int j = 0; j < k; j++)
            sum += c->whole[j];
        for (int g = 0; g < c->gpus - k; g++)
            room[g] = 1000;
        best = 0;
        place_shares(c, 0, room, c->gpus - k, 0);
        if (sum + best > top)
            top = sum + best;
    }
    return top;
}

static void to_fill(const small *c, gpf_sim_fill *f)
{
    memset(f, 0, sizeof *f);
    f->gpus = c->gpus;
    for (int i = 0; i < c->nshare; i++)
        f->share[c->share[i]]++;
    for (int j = 0; j < c->nwhole; j++)
        f->whole[c->whole[j]]++;
}

static uint64_t rng = 12345;

static int below(int n)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (int)((rng >> 33) % (uint64_t)n);
}

static void random_case(small *c)
{
    static const int sizes[] = {110, 160, 230, 320, 400, 470, 500, 600, 810, 950};
    memset(c, 0, sizeof *c);
    c->gpus = 1 + below(3);
    c->nshare = below(8);
    for (int i = 0; i < c->nshare; i++)
        c->share[i] = sizes[below(10)];
    c->nwhole = below(3);
    for (int j = 0; j < c->nwhole; j++)
        c->whole[j] = below(2) ? 1000 : 500;
    if (c->nwhole == 2 && c->whole[0] < c->whole[1]) {
        c->whole[0] = 1000;
        c->whole[1] = 500;
    }
}

static void test_never_below_the_best_placement(void **state)
{
    (void)state;
    gpf_sim_fill *f = fill_new(0), *g = fill_new(0);
    gpf_sim_fill_duals *d = GPF_NEW(gpf_sim_fill_duals);
    int cases = 5000, exact = 0, loose = 0;
    for (int n = 0; n < cases; n++) {
        small c, other;
        random_case(&c);
        to_fill(&c, f);
        int opt = exhaustive(&c);
        double b = gpf_sim_fill_max(f), arrived = 0;
        for (int i = 0; i < c.nshare; i++)
            arrived += c.share[i];
        for (int j = 0; j < c.nwhole; j++)
            arrived += c.whole[j];
        assert_true(b >= opt - 1e-6);
        assert_true(b <= arrived + 1e-6 && b <= c.gpus * 1000.0 + 1e-6);
        if (c.gpus == 1) /* one GPU: the best pattern, no fractional slack */
            assert_true(fabs(b - opt) < 1e-6);
        exact += fabs(b - opt) < 1e-6;
        /* duals solved for other pods still give a valid bound for these */
        random_case(&other);
        other.gpus = c.gpus;
        to_fill(&other, g);
        gpf_sim_fill_dual(g, d);
        double b2 = gpf_sim_fill_bound(f, d);
        assert_true(b2 >= opt - 1e-6);
        loose += b2 > b + 1e-6;
    }
    print_message("%d cases: the bound equals the best placement in %d; other pods' duals looser in %d\n", cases,
                  exact, loose);
    assert_true(exact > cases / 2);
    gpf_free(f);
    gpf_free(g);
    gpf_free(d);
}

/* Every size 1..999 once, 300 GPUs: more sizes than rows, so they are merged into ranges;
 * the bound stays at or above a first-fit-decreasing placement and below what arrived. */
static void test_many_sizes(void **state)
{
    (void)state;
    gpf_sim_fill *f = fill_new(300);
    int room[300];
    double placed = 0, arrived = 0;
    for (int g = 0; g < 300; g++)
        room[g] = 1000;
    for (int s = 999; s >= 1; s--) {
        f->share[s] = 1;
        arrived += s;
        for (int g = 0; g < 300; g++)
            if (room[g] >= s) {
                room[g] -= s;
                placed += s;
                break;
            }
    }
    double b = gpf_sim_fill_max(f);
    assert_true(b >= placed - 1e-6);
    assert_true(b <= arrived + 1e-6 && b <= 300000.0 + 1e-6);
    gpf_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_cases),
        cmocka_unit_test(test_never_below_the_best_placement),
        cmocka_unit_test(test_many_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
