#include "util/alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    /* The one place library code may terminate: there is no recovery from OOM. */
    fprintf(stderr, "gpufleet: out of memory allocating %zu bytes\n", n);
    abort();
}

void *gpf_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *gpf_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        oom(SIZE_MAX);
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oom(count * size);
    return p;
}

void *gpf_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

void *gpf_reallocarray(void *p, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        oom(SIZE_MAX);
    return gpf_realloc(p, count * size);
}

char *gpf_strdup(const char *s)
{
    if (!s)
        return NULL;
    return gpf_strndup(s, strlen(s));
}

char *gpf_strndup(const char *s, size_t n)
{
    if (!s)
        return NULL;
    size_t len = strnlen(s, n);
    char *p = gpf_malloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void gpf_free(void *p)
{
    free(p);
}

size_t gpf_strlcpy(char *dst, const char *src, size_t size)
{
    size_t len = strlen(src);
    if (size) {
        size_t n = len < size - 1 ? len : size - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return len;
}
