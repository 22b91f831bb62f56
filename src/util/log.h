/* Levelled, structured (key=value) logging to stderr. Logging is not error reporting. */
#ifndef GPF_UTIL_LOG_H
#define GPF_UTIL_LOG_H

typedef enum { GPF_LOG_DEBUG, GPF_LOG_INFO, GPF_LOG_WARN, GPF_LOG_ERROR, GPF_LOG_OFF } gpf_log_level;

void gpf_log_set_level(gpf_log_level lvl);
gpf_log_level gpf_log_get_level(void);
/* Parses "debug|info|warn|error|off"; returns -1 when unknown. */
int gpf_log_parse_level(const char *s);
/* component: short module name ("engine"); fmt: "event key=value ..." */
void gpf_log(gpf_log_level lvl, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define GPF_DEBUG(c, ...) gpf_log(GPF_LOG_DEBUG, c, __VA_ARGS__)
#define GPF_INFO(c, ...) gpf_log(GPF_LOG_INFO, c, __VA_ARGS__)
#define GPF_WARN(c, ...) gpf_log(GPF_LOG_WARN, c, __VA_ARGS__)
#define GPF_ERROR(c, ...) gpf_log(GPF_LOG_ERROR, c, __VA_ARGS__)

#endif
