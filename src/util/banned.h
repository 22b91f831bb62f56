/* Included by every translation unit (via -include in the Makefile): forbids the
 * unbounded string functions, strtok's hidden or delimiter-collapsing state, the time
 * functions that return a static buffer (not thread-safe: use gmtime_r / localtime_r and
 * gpf_time_format) and mktemp's race (use mkstemp / mkdtemp). Git's list. Use gpf_buf /
 * gpf_strlcpy / snprintf / strsep instead. The headers that declare them come first, so
 * their declarations are not rewritten. */
#ifndef GPF_UTIL_BANNED_H
#define GPF_UTIL_BANNED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GPF_BANNED(f) sorry_##f##_is_banned_in_gpufleet

#undef strcpy
#define strcpy(a, b) GPF_BANNED(strcpy)
#undef strcat
#define strcat(a, b) GPF_BANNED(strcat)
#undef strncpy
#define strncpy(a, b, n) GPF_BANNED(strncpy)
#undef strncat
#define strncat(a, b, n) GPF_BANNED(strncat)
#undef sprintf
#define sprintf(...) GPF_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) GPF_BANNED(vsprintf)
#undef strtok
#define strtok(a, b) GPF_BANNED(strtok)
#undef strtok_r
#define strtok_r(a, b, c) GPF_BANNED(strtok_r)
#undef gets
#define gets(a) GPF_BANNED(gets)

#undef gmtime
#define gmtime(t) GPF_BANNED(gmtime)
#undef localtime
#define localtime(t) GPF_BANNED(localtime)
#undef ctime
#define ctime(t) GPF_BANNED(ctime)
#undef ctime_r
#define ctime_r(t, buf) GPF_BANNED(ctime_r)
#undef asctime
#define asctime(t) GPF_BANNED(asctime)
#undef asctime_r
#define asctime_r(t, buf) GPF_BANNED(asctime_r)
#undef mktemp
#define mktemp(t) GPF_BANNED(mktemp)

#endif
