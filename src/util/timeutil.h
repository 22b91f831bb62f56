/* Clocks. Billing time is UTC int64 milliseconds; timers use the monotonic clock.
 * Pure modules never call these: they take times as arguments. */
#ifndef GPF_UTIL_TIME_H
#define GPF_UTIL_TIME_H

#include <stddef.h>
#include <stdint.h>

int64_t gpf_now_ms(void);   /* wall clock, UTC ms since the epoch */
int64_t gpf_mono_ms(void);  /* monotonic ms */
int64_t gpf_mono_us(void);  /* monotonic µs */
int64_t gpf_mono_ns(void);  /* monotonic ns (benchmarks) */
void gpf_sleep_ms(int64_t ms);
/* Formats UTC ms as RFC 3339 "2026-11-21T16:49:00.000Z" into out (>= 25 bytes). */
void gpf_time_format(int64_t ms, char *out, size_t size);

#endif
