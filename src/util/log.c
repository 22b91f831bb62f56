#include "util/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"

static _Atomic int current = GPF_LOG_INFO;
static const char *names[] = {"debug", "info", "warn", "error", "off"};

void gpf_log_set_level(gpf_log_level lvl)
{
    atomic_store(&current, (int)lvl);
}

gpf_log_level gpf_log_get_level(void)
{
    return (gpf_log_level)atomic_load(&current);
}

int gpf_log_parse_level(const char *s)
{
    for (int i = 0; i <= GPF_LOG_OFF; i++)
        if (s && strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

void gpf_log(gpf_log_level lvl, const char *component, const char *fmt, ...)
{
    if ((int)lvl < atomic_load(&current) || lvl >= GPF_LOG_OFF)
        return;
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    gpf_buf b = {0};
    gpf_buf_printf(&b, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s comp=%s ", tm.tm_year + 1900,
                   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
                   names[lvl], component ? component : "-");
    va_list ap;
    va_start(ap, fmt);
    gpf_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    gpf_buf_putc(&b, '\n');
    fwrite(b.data, 1, b.len, stderr); /* one write per line keeps lines whole */
    gpf_buf_clear(&b);
}
