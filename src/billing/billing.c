/* The cost rule (billing.h): exact products in 128 bits, rounded toward zero once per
 * record, saturated when the result does not fit in int64. */
#include "billing/billing.h"

/* a × b / d rounded toward zero (C division), d > 0; saturates and returns GPF_EINVAL when
 * the quotient does not fit. */
static int mul_div(int64_t a, int64_t b, int64_t d, int64_t *out)
{
    __int128 q = (__int128)a * b / d; /* |a × b| < 2^126: no overflow in 128 bits */
    if (q > INT64_MAX) {
        *out = INT64_MAX;
        return GPF_EINVAL;
    }
    if (q < INT64_MIN) {
        *out = INT64_MIN;
        return GPF_EINVAL;
    }
    *out = (int64_t)q;
    return 0;
}

int gpf_billing_cost_micro(int64_t price_micro_per_hour, int64_t duration_ms, int64_t *out)
{
    return mul_div(price_micro_per_hour, duration_ms, GPF_BILLING_MS_PER_HOUR, out);
}

int gpf_billing_gpu_milli_seconds(int64_t gpu_milli, int64_t duration_ms, int64_t *out)
{
    return mul_div(gpu_milli, duration_ms, 1000, out);
}

int gpf_billing_sum_add(int64_t *total, int64_t v)
{
    int64_t sum = 0;
    if (__builtin_add_overflow(*total, v, &sum)) {
        *total = v < 0 ? INT64_MIN : INT64_MAX;
        return GPF_EINVAL;
    }
    *total = sum;
    return 0;
}
