/* Billing, part one: the cost rule of a usage record, and totals. Rate cards, plans,
 * invoices and TCO models join this module in their own issues.
 *
 * Pure: no I/O, no clock, no globals. Money is int64 micro-units of the currency; time is
 * int64 milliseconds. No floating point.
 *
 * The rounding rule: a record's figures are rounded toward zero, once per record, from the
 * exact product (a 128-bit intermediate, never a rounded rate):
 *   cost_micro        = price_micro_per_hour × duration_ms / 3,600,000
 *   gpu_milli_seconds = gpu_milli × duration_ms / 1,000
 * Every price (0 .. 10^12 micro per hour) and duration (>= 0) the control plane admits is
 * non-negative, so this is floor per record: a record of 1 ms at 1,000,000 micro per hour
 * costs 0 (277.7… rounds down), and a total is the sum of the rounded records, never a
 * rounding of the summed durations.
 *
 * Overflow: every function computes the exact result and, when it does not fit in int64,
 * SATURATES (stores INT64_MAX, or INT64_MIN for a negative result) and returns GPF_EINVAL,
 * so a caller that must show a figure (the API encoder) shows the saturated one and a
 * caller that can refuse (an invoice) refuses. They return 0 otherwise. out is never NULL. */
#ifndef GPF_BILLING_BILLING_H
#define GPF_BILLING_BILLING_H

#include <stdint.h>

#include "util/error.h" /* GPF_EINVAL */

#define GPF_BILLING_MS_PER_HOUR 3600000

/* The cost of using a slice at price_micro_per_hour for duration_ms. */
int gpf_billing_cost_micro(int64_t price_micro_per_hour, int64_t duration_ms, int64_t *out);

/* The GPU-time of a slice of gpu_milli thousandths of a GPU for duration_ms, in
 * thousandth-GPU seconds. */
int gpf_billing_gpu_milli_seconds(int64_t gpu_milli, int64_t duration_ms, int64_t *out);

/* Adds v to *total (a sum of records' costs, for a total line or an invoice). On overflow
 * *total saturates (INT64_MAX, or INT64_MIN) and GPF_EINVAL is returned; a total saturated
 * at INT64_MAX stays there while the figures added are non-negative (as costs are). */
int gpf_billing_sum_add(int64_t *total, int64_t v);

#endif
