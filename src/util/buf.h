/* Growable string builder. A zeroed gpf_buf is a valid empty buffer.
 * data is always NUL-terminated once anything was appended (or after gpf_buf_cstr). */
#ifndef GPF_UTIL_BUF_H
#define GPF_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct gpf_buf {
    char *data;
    size_t len;
    size_t cap;
} gpf_buf;

void gpf_buf_init(gpf_buf *b);
void gpf_buf_clear(gpf_buf *b);  /* frees memory; b is empty and reusable */
void gpf_buf_reset(gpf_buf *b);  /* keeps memory, length 0 */
void gpf_buf_append(gpf_buf *b, const void *data, size_t n);
void gpf_buf_puts(gpf_buf *b, const char *s);
void gpf_buf_putc(gpf_buf *b, char c);
void gpf_buf_printf(gpf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gpf_buf_vprintf(gpf_buf *b, const char *fmt, va_list ap);
/* Always-valid C string ("" when empty). Pointer owned by b. */
const char *gpf_buf_cstr(gpf_buf *b);
/* Hands the heap string to the caller (caller frees with gpf_free); b becomes empty. */
char *gpf_buf_steal(gpf_buf *b);

#endif
