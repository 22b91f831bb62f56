/* Names of small enums: NAMES(fn_name, fn_parse, type, "a", "b", ...) defines
 *   const char *fn_name(type v)      the name of v, "?" when out of range (static storage)
 *   int fn_parse(const char *s)      the value named s, -1 when none (s may be NULL)
 * in the .c file that owns the enum; its header declares the two functions. */
#ifndef GPF_UTIL_NAMES_H
#define GPF_UTIL_NAMES_H

#include <string.h>

/* The index of s in names[0..n), or -1 (also for NULL). */
static inline int gpf_names_find(const char *const *names, int n, const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

#define GPF_NAMES(fn_name, fn_parse, type, ...)                               \
    static const char *const fn_name##_tab[] = {__VA_ARGS__};                 \
    enum { fn_name##_n = sizeof fn_name##_tab / sizeof fn_name##_tab[0] };    \
    const char *fn_name(type v)                                               \
    {                                                                         \
        return ((int)v >= 0 && (int)v < fn_name##_n) ? fn_name##_tab[v] : "?"; \
    }                                                                         \
    int fn_parse(const char *s) { return gpf_names_find(fn_name##_tab, fn_name##_n, s); }

#endif
