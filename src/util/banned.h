/* Included by every translation unit (via -include in the Makefile): forbids the
 * unbounded string functions. Use gpf_buf / gpf_strlcpy / snprintf instead. */
#ifndef GPF_UTIL_BANNED_H
#define GPF_UTIL_BANNED_H

#include <stdio.h>
#include <string.h>

#define GPF_BANNED(f) sorry_##f##_is_banned_in_gpufleet

#undef strcpy
#define strcpy(a, b) GPF_BANNED(strcpy)
#undef strcat
#define strcat(a, b) GPF_BANNED(strcat)
#undef sprintf
#define sprintf(...) GPF_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) GPF_BANNED(vsprintf)
#undef strtok
#define strtok(a, b) GPF_BANNED(strtok)
#undef gets
#define gets(a) GPF_BANNED(gets)

#endif
