/* Compact JSON text into a gpf_buf (jsonw.h). */
#include "util/jsonw.h"

#include <string.h>

/* gpf_buf_putc without a call where there is room: a document is mostly single
 * characters. */
static void put(gpf_buf *b, char c)
{
    if (b->len + 1 < b->cap) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
    } else {
        gpf_buf_putc(b, c);
    }
}

/* 1 when byte c goes into a JSON string as it is. */
static int plain(unsigned char c)
{
    return c >= 0x20 && c != '"' && c != '\\';
}

/* Appends the escape of byte c (one that is not plain). */
static void escape(gpf_buf *b, unsigned char c)
{
    static const char hex[] = "0123456789ABCDEF";
    char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
    switch (c) {
    case '"':
    case '\\':
        e[1] = (char)c;
        break;
    case '\b':
        e[1] = 'b';
        break;
    case '\f':
        e[1] = 'f';
        break;
    case '\n':
        e[1] = 'n';
        break;
    case '\r':
        e[1] = 'r';
        break;
    case '\t':
        e[1] = 't';
        break;
    default:
        gpf_buf_append(b, e, sizeof e);
        return;
    }
    gpf_buf_append(b, e, 2);
}

/* The ',' before an item, where one is due. */
static void sep(gpf_buf *b)
{
    char last = b->len ? b->data[b->len - 1] : '{';
    if (last != '{' && last != '[' && last != ':')
        put(b, ',');
}

void gpf_jsonw_open(gpf_buf *b, char bracket)
{
    sep(b);
    put(b, bracket);
}

void gpf_jsonw_close(gpf_buf *b, char bracket)
{
    put(b, bracket);
}

void gpf_jsonw_lit(gpf_buf *b, const char *literal)
{
    sep(b);
    gpf_buf_puts(b, literal);
}

/* s quoted and escaped, with no ',' before it. */
static void quoted(gpf_buf *b, const char *s, size_t n)
{
    size_t i = 0;
    put(b, '"');
    while (i < n) {
        size_t run = i;
        while (run < n && plain((unsigned char)s[run]))
            run++;
        if (run > i)
            gpf_buf_append(b, s + i, run - i);
        if (run < n)
            escape(b, (unsigned char)s[run++]);
        i = run;
    }
    put(b, '"');
}

void gpf_jsonw_str(gpf_buf *b, const char *s, size_t n)
{
    sep(b);
    quoted(b, s, n);
}

void gpf_jsonw_key(gpf_buf *b, const char *key)
{
    sep(b);
    quoted(b, key, strlen(key));
    put(b, ':');
}

void gpf_jsonw_int(gpf_buf *b, int64_t v)
{
    sep(b);
    char d[24];
    size_t at = sizeof d;
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        d[--at] = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    if (v < 0)
        d[--at] = '-';
    gpf_buf_append(b, d + at, sizeof d - at);
}

static int value(gpf_buf *b, const json_t *j);

static int object(gpf_buf *b, const json_t *j)
{
    gpf_jsonw_open(b, '{');
    for (void *it = json_object_iter((json_t *)j); it; it = json_object_iter_next((json_t *)j, it)) {
        sep(b);
        quoted(b, json_object_iter_key(it), json_object_iter_key_len(it));
        put(b, ':');
        if (value(b, json_object_iter_value(it)) != 0)
            return -1;
    }
    gpf_jsonw_close(b, '}');
    return 0;
}

static int array(gpf_buf *b, const json_t *j)
{
    size_t n = json_array_size(j);
    gpf_jsonw_open(b, '[');
    for (size_t i = 0; i < n; i++)
        if (value(b, json_array_get(j, i)) != 0)
            return -1;
    gpf_jsonw_close(b, ']');
    return 0;
}

static int value(gpf_buf *b, const json_t *j)
{
    if (!j)
        return -1;
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return object(b, j);
    case JSON_ARRAY:
        return array(b, j);
    case JSON_STRING:
        gpf_jsonw_str(b, json_string_value(j), json_string_length(j));
        return 0;
    case JSON_INTEGER:
        gpf_jsonw_int(b, (int64_t)json_integer_value(j));
        return 0;
    case JSON_TRUE:
        gpf_jsonw_lit(b, "true");
        return 0;
    case JSON_FALSE:
        gpf_jsonw_lit(b, "false");
        return 0;
    case JSON_NULL:
        gpf_jsonw_lit(b, "null");
        return 0;
    default: /* a real: jansson's own text */
        return -1;
    }
}

int gpf_jsonw_tree(gpf_buf *b, const json_t *j)
{
    if (!j || (!json_is_object(j) && !json_is_array(j)))
        return -1;
    return value(b, j);
}
