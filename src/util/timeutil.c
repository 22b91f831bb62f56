#include "util/timeutil.h"

#include <stdio.h>
#include <time.h>

int64_t gpf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t gpf_mono_ms(void)
{
    return gpf_mono_us() / 1000;
}

int64_t gpf_mono_us(void)
{
    return gpf_mono_ns() / 1000;
}

int64_t gpf_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void gpf_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Writes v as width digits (zero-padded) at p; returns the end. */
static char *digits(char *p, int v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

void gpf_time_format(int64_t ms, char *out, size_t size)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    if (ms >= 0 && tm.tm_year + 1900 <= 9999 && size >= 25) { /* the usual case, without printf: API answers hold many */
        char *p = digits(out, tm.tm_year + 1900, 4);
        *p++ = '-';
        p = digits(p, tm.tm_mon + 1, 2);
        *p++ = '-';
        p = digits(p, tm.tm_mday, 2);
        *p++ = 'T';
        p = digits(p, tm.tm_hour, 2);
        *p++ = ':';
        p = digits(p, tm.tm_min, 2);
        *p++ = ':';
        p = digits(p, tm.tm_sec, 2);
        *p++ = '.';
        p = digits(p, (int)(ms % 1000), 3);
        *p++ = 'Z';
        *p = '\0';
        return;
    }
    snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}
