/* Allocation wrappers: check overflow, abort on out-of-memory (never return NULL). */
#ifndef GPF_UTIL_ALLOC_H
#define GPF_UTIL_ALLOC_H

#include <stddef.h>

void *gpf_malloc(size_t n);
void *gpf_calloc(size_t count, size_t size);
void *gpf_realloc(void *p, size_t n);
/* realloc to count*size elements, aborting on multiplication overflow. */
void *gpf_reallocarray(void *p, size_t count, size_t size);
/* Heap copy of s (NULL stays NULL). Caller frees. */
char *gpf_strdup(const char *s);
char *gpf_strndup(const char *s, size_t n);
void gpf_free(void *p);

#define GPF_NEW(type) ((type *)gpf_calloc(1, sizeof(type)))

/* Bounded copy that always NUL-terminates; returns strlen(src) like strlcpy. */
size_t gpf_strlcpy(char *dst, const char *src, size_t size);

#endif
