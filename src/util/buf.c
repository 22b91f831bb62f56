#include "util/buf.h"

#include <stdio.h>
#include <string.h>

#include "util/alloc.h"

void gpf_buf_init(gpf_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void gpf_buf_clear(gpf_buf *b)
{
    if (!b)
        return;
    gpf_free(b->data);
    gpf_buf_init(b);
}

void gpf_buf_reset(gpf_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static void grow(gpf_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = gpf_realloc(b->data, cap);
    b->cap = cap;
}

void gpf_buf_append(gpf_buf *b, const void *data, size_t n)
{
    grow(b, n);
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void gpf_buf_puts(gpf_buf *b, const char *s)
{
    gpf_buf_append(b, s, strlen(s));
}

void gpf_buf_putc(gpf_buf *b, char c)
{
    gpf_buf_append(b, &c, 1);
}

void gpf_buf_vprintf(gpf_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n <= 0)
        return;
    grow(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void gpf_buf_printf(gpf_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gpf_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

const char *gpf_buf_cstr(gpf_buf *b)
{
    if (!b->data)
        grow(b, 0), b->data[0] = '\0';
    return b->data;
}

char *gpf_buf_steal(gpf_buf *b)
{
    gpf_buf_cstr(b);
    char *p = b->data;
    gpf_buf_init(b);
    return p;
}
