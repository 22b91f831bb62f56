/* The cost rule (billing/billing.h): floor per record from the exact product, figures worked
 * out by hand, the same results as the codec's former arithmetic over the prices the API
 * admits, saturation on overflow, and overflow-checked totals. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "billing/billing.h"

#define PRICE_MAX 1000000000000LL /* the API's bound on price_micro_per_hour (codec) */

static int64_t cost(int64_t price, int64_t ms)
{
    int64_t out = -42;
    assert_int_equal(gpf_billing_cost_micro(price, ms, &out), 0);
    return out;
}

static int64_t gms(int64_t milli, int64_t ms)
{
    int64_t out = -42;
    assert_int_equal(gpf_billing_gpu_milli_seconds(milli, ms, &out), 0);
    return out;
}

/* Worked by hand: price × ms / 3,600,000 and milli × ms / 1,000, rounded down. */
static void test_by_hand(void **state)
{
    (void)state;
    assert_int_equal(cost(2500000, 3600000), 2500000);       /* $2.50/h for one hour */
    assert_int_equal(cost(400000, 90000), 10000);            /* 1.5 min of $0.40/h = 1 cent */
    assert_int_equal(cost(300000, 1234), 102);               /* 102.83… */
    assert_int_equal(cost(1000000, 1), 0);                   /* 0.277…: a millisecond is free */
    assert_int_equal(cost(1000000, 3599), 999);              /* 999.72… */
    assert_int_equal(cost(1000000, 3600), 1000);             /* exact */
    assert_int_equal(cost(PRICE_MAX, 86400000), 24000000000000LL); /* a day at the highest price */
    assert_int_equal(cost(0, 3600000), 0);
    assert_int_equal(cost(2500000, 0), 0);
    assert_int_equal(gms(250, 61001), 15250);                /* 15,250.25 */
    assert_int_equal(gms(1000, 999), 999);
    assert_int_equal(gms(8000, 3600000), 28800000);          /* 8 GPUs for an hour */
    assert_int_equal(gms(0, 1000), 0);
}

/* Floor per record: records are rounded one by one, so two halves can cost less than the
 * whole (the total is the sum of what each record shows). */
static void test_per_record(void **state)
{
    (void)state;
    int64_t total = 0;
    assert_int_equal(gpf_billing_sum_add(&total, cost(1000000, 1800)), 0); /* 500 */
    assert_int_equal(gpf_billing_sum_add(&total, cost(1000000, 1799)), 0); /* 499.72 -> 499 */
    assert_int_equal(total, 999);
    assert_int_equal(cost(1000000, 3599), 999);
    total = 0;
    for (int i = 0; i < 3600; i++) /* 3,600 one-millisecond records cost nothing ... */
        assert_int_equal(gpf_billing_sum_add(&total, cost(1000000, 1)), 0);
    assert_int_equal(total, 0);
    assert_int_equal(cost(1000000, 3600), 1000); /* ... one of 3.6 s costs 1,000 */
}

/* The codec's arithmetic before the rule moved here (a*q + a*r/d with checked steps):
 * the results must be the same for everything the control plane can hold. */
static int64_t old_mul_div(int64_t a, int64_t b, int64_t d)
{
    int64_t q = b / d, r = b % d, hi = 0, lo = 0, sum = 0;

    if (__builtin_mul_overflow(a, q, &hi))
        return (a < 0) != (q < 0) ? INT64_MIN : INT64_MAX;
    if (__builtin_mul_overflow(a, r, &lo))
        return (a < 0) != (r < 0) ? INT64_MIN : INT64_MAX;
    if (__builtin_add_overflow(hi, lo / d, &sum))
        return hi < 0 ? INT64_MIN : INT64_MAX;
    return sum;
}

static void test_same_as_before(void **state)
{
    (void)state;
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 200000; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t x = s >> 1;
        int64_t price = (int64_t)(x % (uint64_t)(PRICE_MAX + 1));
        int64_t milli = (int64_t)(x % 16001);
        /* durations over every scale: ms, hours, years, and up to INT64_MAX */
        int shift = (int)((s >> 58) % 63);
        int64_t ms = (int64_t)((x * 2654435761ULL) >> (shift + 1));
        if (i % 7 == 0)
            price = PRICE_MAX - (int64_t)(x % 1000);
        int64_t a = 0, b = 0;
        (void)gpf_billing_cost_micro(price, ms, &a);
        (void)gpf_billing_gpu_milli_seconds(milli, ms, &b);
        if (a != old_mul_div(price, ms, 3600000) || b != old_mul_div(milli, ms, 1000))
            fail_msg("price %lld milli %lld ms %lld: %lld %lld, before %lld %lld", (long long)price,
                     (long long)milli, (long long)ms, (long long)a, (long long)b,
                     (long long)old_mul_div(price, ms, 3600000), (long long)old_mul_div(milli, ms, 1000));
    }
    /* a negative figure (never admitted) rounds toward zero, as before */
    assert_int_equal(cost(-1000000, 3599), -999);
    assert_int_equal(old_mul_div(-1000000, 3599, 3600000), -999);
}

/* Too large to count: saturated and GPF_EINVAL; the last duration that fits does not. */
static void test_overflow(void **state)
{
    (void)state;
    int64_t out = 0;
    assert_int_equal(gpf_billing_cost_micro(PRICE_MAX, 33204139332677LL, &out), 0);
    assert_int_equal(out, 9223372036854722222LL);
    assert_int_equal(gpf_billing_cost_micro(PRICE_MAX, 33204139332678LL, &out), GPF_EINVAL);
    assert_int_equal(out, INT64_MAX);
    assert_int_equal(gpf_billing_cost_micro(PRICE_MAX, INT64_MAX, &out), GPF_EINVAL);
    assert_int_equal(out, INT64_MAX);
    assert_int_equal(gpf_billing_cost_micro(INT64_MAX, INT64_MAX, &out), GPF_EINVAL); /* 2^126: 128 bits hold it */
    assert_int_equal(out, INT64_MAX);
    assert_int_equal(gpf_billing_cost_micro(INT64_MIN, INT64_MAX, &out), GPF_EINVAL);
    assert_int_equal(out, INT64_MIN);
    assert_int_equal(gpf_billing_gpu_milli_seconds(16000, INT64_MAX, &out), GPF_EINVAL);
    assert_int_equal(out, INT64_MAX);
    /* large but fitting: a*b overflows int64, the quotient does not */
    assert_int_equal(gpf_billing_gpu_milli_seconds(1000, INT64_MAX, &out), 0);
    assert_int_equal(out, INT64_MAX);
    assert_int_equal(gpf_billing_cost_micro(3600000, INT64_MAX, &out), 0);
    assert_int_equal(out, INT64_MAX);
}

static void test_sums(void **state)
{
    (void)state;
    int64_t t = 0;
    assert_int_equal(gpf_billing_sum_add(&t, 2500000), 0);
    assert_int_equal(gpf_billing_sum_add(&t, 102), 0);
    assert_int_equal(t, 2500102);
    t = INT64_MAX - 5;
    assert_int_equal(gpf_billing_sum_add(&t, 5), 0);
    assert_int_equal(t, INT64_MAX);
    t = INT64_MAX - 5;
    assert_int_equal(gpf_billing_sum_add(&t, 6), GPF_EINVAL);
    assert_int_equal(t, INT64_MAX);
    assert_int_equal(gpf_billing_sum_add(&t, 1), GPF_EINVAL); /* stays saturated */
    assert_int_equal(gpf_billing_sum_add(&t, 0), 0);
    assert_int_equal(t, INT64_MAX);
    t = INT64_MIN + 1;
    assert_int_equal(gpf_billing_sum_add(&t, -2), GPF_EINVAL);
    assert_int_equal(t, INT64_MIN);
    t = 10;
    assert_int_equal(gpf_billing_sum_add(&t, -3), 0);
    assert_int_equal(t, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_hand),
        cmocka_unit_test(test_per_record),
        cmocka_unit_test(test_same_as_before),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_sums),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
