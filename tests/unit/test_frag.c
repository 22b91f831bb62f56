/* FGD's F(n) (sched/policies_fgd.c) summed by groups of tasks against the same sum task by
 * task, its definition: random task distributions (shares, whole and multi-GPU tasks,
 * CPU-only ones, model lists) and random host states, with and without the memo. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "sched/policies_int.h"

static gpf_gpu_model model_a = {.key = "GA"}, model_b = {.key = "GB"};

static uint64_t rng = 7;

static int below(int n)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (int)((rng >> 33) % (uint64_t)n);
}

static void random_tasks(gpf_sched_task_type *t, int n)
{
    static const int milli[] = {50, 160, 320, 470, 500, 810, 1000};
    static const int64_t cpus[] = {0, 2000, 4000, 6000, 12000, 32000};
    double sum = 0;
    memset(t, 0, (size_t)n * sizeof *t);
    for (int k = 0; k < n; k++) {
        int kind = below(10);
        t[k].num_gpu = kind == 0 ? 0 : kind <= 6 ? 1 : 1 << below(4);
        t[k].gpu_milli = t[k].num_gpu == 0 ? 0 : t[k].num_gpu > 1 ? 1000 : milli[below(7)];
        t[k].cpus = cpus[below(6)];
        if (below(4) == 0) {
            t[k].nmodels = 1;
            gpf_strlcpy(t[k].models[0], below(2) ? "GA" : "GB", sizeof t[k].models[0]);
        }
        t[k].weight = 1 + below(20);
        sum += t[k].weight;
    }
    for (int k = 0; k < n; k++)
        t[k].weight /= sum;
}

static void test_groups_match_task_by_task(void **state)
{
    (void)state;
    gpf_sched_task_type tasks[40];
    int checked = 0, grouped = 0;
    for (int round = 0; round < 50; round++) {
        gpf_sched_policy *pol = NULL;
        assert_int_equal(gpf_sched_policy_new("fgd", 1, &pol, NULL), 0);
        int nt = 1 + below(40);
        random_tasks(tasks, nt);
        gpf_sched_policy_set_tasks(pol, tasks, nt);
        assert_true(pol->ngroups <= nt);
        for (int g = 1; g < pol->ngroups; g++) /* largest thousandths first */
            assert_true(pol->group[g - 1].gpu_milli >= pol->group[g].gpu_milli);
        for (int h = 0; h < 200; h++) {
            const gpf_gpu_model *m = below(2) ? &model_a : &model_b;
            int n = 1 + below(GPF_MAX_HOST_GPUS);
            int16_t left[GPF_MAX_HOST_GPUS] = {0};
            for (int g = 0; g < n; g++)
                left[g] = (int16_t)(below(3) == 0 ? 1000 : below(1001));
            int64_t cpu = (int64_t)below(40000);
            pol->memo_off = below(2); /* through the memo or not: the same value */
            double f1 = sched_frag(pol, m, n, left, cpu, 1);
            int idx = 0;
            while (idx < pol->nok && pol->ok_model[idx] != m)
                idx++;
            assert_true(idx < pol->nok);
            grouped += pol->ok_w[idx] != NULL;
            double *w = pol->ok_w[idx];
            pol->ok_w[idx] = NULL; /* task by task */
            pol->memo_off = 1;
            double f2 = sched_frag(pol, m, n, left, cpu, 1);
            pol->ok_w[idx] = w;
            assert_true(fabs(f1 - f2) <= 1e-9 * (fabs(f2) + 1));
            /* and against the definition written out here */
            double f3 = 0;
            int total = 0;
            for (int g = 0; g < n; g++)
                total += left[g];
            for (int k = 0; k < nt; k++) {
                int fits = tasks[k].num_gpu > 0 && tasks[k].cpus <= cpu && sched_task_model_ok(&tasks[k], m);
                int big = 0, cap = 0;
                for (int g = 0; g < n; g++)
                    if (left[g] >= tasks[k].gpu_milli) {
                        big++;
                        cap += left[g];
                    }
                f3 += tasks[k].weight * (fits && big >= tasks[k].num_gpu ? total - cap : total);
            }
            assert_true(fabs(f1 - f3) <= 1e-9 * (fabs(f3) + 1));
            checked++;
        }
        pol->memo_off = 0;
        gpf_sched_policy_free(pol);
    }
    print_message("%d host states: grouped and task-by-task F agree (%d through the groups)\n", checked, grouped);
    assert_true(grouped == checked);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups_match_task_by_task),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
