/* CLI helpers: money, tables, JSON cells, times, files, and the common command shapes
 * (list / show / send). No I/O except the print_* functions and the shapes (stdout, and
 * the server through gpf_cli_call). */
#include "cli/cli_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"

#define MICRO 1000000LL

/* ---- money ---- */

int gpf_cli_parse_money(const char *s, int64_t *micro, gpf_error *err)
{
    const int64_t limit = INT64_MAX / MICRO;
    const char *p = s;
    int64_t whole = 0, frac = 0;
    int nfrac = 0;

    if (!p || !isdigit((unsigned char)*p))
        goto bad;
    for (; isdigit((unsigned char)*p); p++) {
        int d = *p - '0';
        if (whole > (limit - d) / 10)
            return gpf_error_set(err, GPF_EINVAL, "amount '%s' is too large", s);
        whole = whole * 10 + d;
    }
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            goto bad;
        for (; isdigit((unsigned char)*p); p++) {
            if (++nfrac > 6)
                return gpf_error_set(err, GPF_EINVAL,
                                     "amount '%s' has more than 6 decimals", s);
            frac = frac * 10 + (*p - '0');
        }
    }
    if (*p)
        goto bad;
    for (int i = nfrac; i < 6; i++)
        frac *= 10;
    if (whole == limit && frac > INT64_MAX % MICRO)
        return gpf_error_set(err, GPF_EINVAL, "amount '%s' is too large", s);
    *micro = whole * MICRO + frac;
    return 0;
bad:
    return gpf_error_set(err, GPF_EINVAL,
                         "amount '%s' is not a non-negative decimal like 2.50", s ? s : "");
}

void gpf_cli_format_money(int64_t micro, char *out, size_t size)
{
    uint64_t a = micro < 0 ? (uint64_t)0 - (uint64_t)micro : (uint64_t)micro;
    char frac[8];
    int n = 6;

    snprintf(frac, sizeof frac, "%06llu", (unsigned long long)(a % MICRO));
    while (n > 2 && frac[n - 1] == '0')
        frac[--n] = '\0';
    snprintf(out, size, "%s%llu.%s", micro < 0 ? "-" : "", (unsigned long long)(a / MICRO), frac);
}

/* ---- tables ---- */

static char *cell_copy(const char *s)
{
    char *c = gpf_strdup(s ? s : "-");
    for (char *p = c; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return c;
}

static size_t display_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

void gpf_table_init(gpf_table *t, int ncols, const char *const *headers)
{
    t->ncols = ncols;
    t->nrows = 0;
    t->cells = NULL;
    gpf_table_add(t, headers);
}

void gpf_table_add(gpf_table *t, const char *const *cells)
{
    t->cells = gpf_reallocarray(t->cells, (size_t)(t->nrows + 1) * (size_t)t->ncols, sizeof *t->cells);
    for (int i = 0; i < t->ncols; i++)
        t->cells[t->nrows * t->ncols + i] = cell_copy(cells[i]);
    t->nrows++;
}

void gpf_table_render(const gpf_table *t, gpf_buf *out)
{
    size_t *w;
    if (!t || t->ncols <= 0 || t->nrows <= 0)
        return;
    w = gpf_calloc((size_t)t->ncols, sizeof *w);
    for (int r = 0; r < t->nrows; r++)
        for (int col = 0; col < t->ncols; col++) {
            size_t n = display_width(t->cells[r * t->ncols + col]);
            if (n > w[col])
                w[col] = n;
        }
    for (int r = 0; r < t->nrows; r++) {
        size_t start = out->len;
        for (int col = 0; col < t->ncols; col++) {
            const char *s = t->cells[r * t->ncols + col];
            gpf_buf_puts(out, s);
            if (col + 1 < t->ncols)
                for (size_t k = display_width(s); k < w[col] + 2; k++)
                    gpf_buf_putc(out, ' ');
        }
        while (out->len > start && out->data[out->len - 1] == ' ')
            out->len--;
        gpf_buf_putc(out, '\n');
    }
    gpf_free(w);
}

void gpf_table_clear(gpf_table *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->nrows * t->ncols; i++)
        gpf_free(t->cells[i]);
    gpf_free(t->cells);
    t->cells = NULL;
    t->nrows = 0;
}

void gpf_cli_kv(gpf_table *t, const char *key, const char *value)
{
    const char *pair[2] = {key, value};
    if (t->ncols == 0)
        gpf_table_init(t, 2, pair);
    else
        gpf_table_add(t, pair);
}

void gpf_cli_kv_json(gpf_table *t, const char *key, const json_t *o, const char *field)
{
    char v[1024];
    gpf_cli_scalar(json_object_get(o, field), v, sizeof v);
    gpf_cli_kv(t, key, v);
}

void gpf_cli_kv_time(gpf_table *t, const char *key, const json_t *o, const char *field)
{
    char v[32];
    gpf_cli_time(json_object_get(o, field), v, sizeof v);
    gpf_cli_kv(t, key, v);
}

/* ---- JSON cells ---- */

void gpf_cli_escape(gpf_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            gpf_buf_putc(b, (char)*p);
        } else {
            gpf_buf_putc(b, '%');
            gpf_buf_putc(b, hex[*p >> 4]);
            gpf_buf_putc(b, hex[*p & 15]);
        }
    }
}

void gpf_cli_scalar(const json_t *v, char *out, size_t size)
{
    if (size == 0)
        return;
    out[0] = '\0';
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        snprintf(out, size, "%s", json_string_value(v));
        break;
    case JSON_INTEGER:
        snprintf(out, size, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        snprintf(out, size, "%g", json_real_value(v));
        break;
    case JSON_TRUE:
        snprintf(out, size, "yes");
        break;
    case JSON_FALSE:
        snprintf(out, size, "no");
        break;
    case JSON_ARRAY: {
        size_t i, used = 0;
        json_t *e;
        json_array_foreach(v, i, e) {
            char item[256];
            gpf_cli_scalar(e, item, sizeof item);
            int n = snprintf(out + used, size - used, "%s%s", i ? "," : "", item);
            if (n < 0 || (size_t)n >= size - used)
                break;
            used += (size_t)n;
        }
        if (used == 0)
            snprintf(out, size, "-");
        break;
    }
    case JSON_OBJECT: {
        char *s = json_dumps(v, JSON_COMPACT);
        snprintf(out, size, "%s", s ? s : "{}");
        free(s);
        break;
    }
    default:
        snprintf(out, size, "-");
        break;
    }
}

const char *gpf_cli_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

long long gpf_cli_int(const json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

void gpf_cli_time(const json_t *v, char *out, size_t size)
{
    const char *s = json_string_value(v);
    if (!s || !*s) {
        snprintf(out, size, "-");
        return;
    }
    snprintf(out, size, "%.19s", s);
    if (strlen(out) > 10 && out[10] == 'T')
        out[10] = ' ';
}

void gpf_cli_duration(long long ms, char *out, size_t size)
{
    long long s = ms > 0 ? ms / 1000 : 0;
    long long h = s / 3600, m = s / 60 % 60;
    s %= 60;
    if (h)
        snprintf(out, size, "%lldh%02lldm%02llds", h, m, s);
    else if (m)
        snprintf(out, size, "%lldm%02llds", m, s);
    else
        snprintf(out, size, "%llds", s);
}

int gpf_cli_parse_duration(const char *s, long long max, int64_t *seconds, gpf_error *err)
{
    static const struct {
        char unit;
        long long s;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}};
    long long n = 0, mult = 0;
    const char *p = s ? s : "";
    for (; isdigit((unsigned char)*p) && n <= max; p++)
        n = n * 10 + (*p - '0');
    if (p == s || !s)
        goto bad;
    mult = *p ? 0 : 1;
    for (size_t i = 0; i < sizeof units / sizeof units[0] && *p && !p[1]; i++)
        if (units[i].unit == *p)
            mult = units[i].s;
    if (!mult || n < 1 || n > max / mult)
        goto bad;
    *seconds = n * mult;
    return 0;
bad:
    return gpf_error_set(err, GPF_EINVAL, "duration '%s' is not a number with s, m, h, d or w (like 30d) of at most %llds",
                         s ? s : "", max);
}

json_t *gpf_cli_secret_body(gpf_cli *c, long long max_s, int *rc)
{
    gpf_error err = {0};
    int64_t life = 0;
    const char *name = gpf_cli_opt(c, "name"), *exp = gpf_cli_opt(c, "expires-in");
    if (exp && gpf_cli_parse_duration(exp, max_s, &life, &err) != 0) {
        *rc = gpf_cli_usage(c, "--expires-in: %s", gpf_error_msg(&err));
        return NULL;
    }
    json_t *body = json_object();
    if (name)
        json_object_set_new(body, "name", json_string(name));
    if (life)
        json_object_set_new(body, "expires_in_s", json_integer(life));
    return body;
}

void gpf_cli_print_secret(const gpf_cli *c, const json_t *resp, const char *what)
{
    if (c->json) {
        gpf_cli_print_json(resp);
        return;
    }
    printf("%s\n", gpf_cli_str(resp, "token"));
    if (isatty(2))
        fprintf(stderr, "%s %s; this secret is not shown again\n", what, gpf_cli_str(resp, "id"));
}

void gpf_cli_slice(const json_t *slice, char *out, size_t size)
{
    const char *kind = gpf_cli_str(slice, "kind");
    if (strcmp(kind, "whole") == 0) {
        long long n = gpf_cli_int(slice, "gpu_count");
        if (n > 1)
            snprintf(out, size, "whole x%lld", n);
        else
            snprintf(out, size, "whole");
    } else if (strcmp(kind, "mig") == 0) {
        snprintf(out, size, "mig %s", gpf_cli_str(slice, "mig_profile"));
    } else if (strcmp(kind, "vgpu") == 0) {
        snprintf(out, size, "vgpu %s", gpf_cli_str(slice, "vgpu_type"));
    } else if (strcmp(kind, "share") == 0) {
        long long m = gpf_cli_int(slice, "share_milli");
        long long mem = gpf_cli_int(slice, "share_memory_mib");
        char pct[32];
        if (m % 10)
            snprintf(pct, sizeof pct, "%lld.%lld%%", m / 10, m % 10);
        else
            snprintf(pct, sizeof pct, "%lld%%", m / 10);
        if (mem > 0)
            snprintf(out, size, "share %s %lldMiB", pct, mem);
        else
            snprintf(out, size, "share %s", pct);
    } else {
        snprintf(out, size, "%s", *kind ? kind : "-");
    }
}

void gpf_cli_memory(long long mib, char *out, size_t size)
{
    if (mib > 0 && mib % 1024 == 0)
        snprintf(out, size, "%lldGiB", mib / 1024);
    else
        snprintf(out, size, "%lldMiB", mib);
}

/* ---- output ---- */

void gpf_cli_print_json(const json_t *j)
{
    char *s;
    if (!j)
        return;
    s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
    }
    free(s);
}

void gpf_cli_print_table(const gpf_table *t)
{
    gpf_buf b = {0};
    gpf_table_render(t, &b);
    fputs(gpf_buf_cstr(&b), stdout);
    gpf_buf_clear(&b);
}

/* ---- command shapes ---- */

/* Pages a list is fetched in when the CLI follows next_cursor (the server's maximum). */
#define CLI_PAGE 1000

/* GETs every page of list path (following next_cursor), or with follow 0 only the first,
 * into one answer {"<key>": [every item]}: *all (caller decrefs). The first page is asked
 * with limit (0: the server's default, so a short list is one plain GET), the next ones
 * with the largest page. */
static int fetch_pages(gpf_cli *c, const char *path, const char *key, int follow, long long limit, json_t **all)
{
    gpf_buf url = {0};
    json_t *items = json_array(), *resp = NULL;
    const char *cursor = NULL;
    int rc = 0;
    *all = NULL;
    do {
        gpf_buf_reset(&url);
        gpf_buf_puts(&url, path);
        if (limit > 0 || cursor)
            gpf_buf_printf(&url, "%climit=%lld", strchr(path, '?') ? '&' : '?', cursor ? CLI_PAGE : limit);
        if (cursor) /* base64url: nothing to escape */
            gpf_buf_printf(&url, "%ccursor=%s", strchr(gpf_buf_cstr(&url), '?') ? '&' : '?', cursor);
        json_t *prev = resp;
        resp = NULL;
        rc = gpf_cli_call(c, "GET", gpf_buf_cstr(&url), NULL, &resp);
        json_decref(prev); /* the cursor pointed into it */
        if (rc != 0)
            break;
        json_array_extend(items, json_object_get(resp, key));
        cursor = follow ? json_string_value(json_object_get(resp, "next_cursor")) : NULL;
    } while (cursor);
    json_decref(resp);
    gpf_buf_clear(&url);
    if (rc == 0)
        *all = json_pack("{s:o}", key, items);
    else
        json_decref(items);
    return rc;
}

int gpf_cli_list(gpf_cli *c, const char *path, const char *key, int ncols,
                 const char *const *headers, gpf_cli_row_fn row, void *arg)
{
    json_t *resp = NULL, *item;
    gpf_table t = {0};
    size_t i;
    long long limit = 0;
    int given = 0;
    /* --limit N: one page of at most N; else every page (a path that sets its own limit:
     * that one page) */
    int rc = gpf_cli_opt(c, "limit") && !strstr(path, "limit=")
                 ? gpf_cli_int_opt(c, "limit", 1, CLI_PAGE, &limit, &given)
                 : 0;
    int follow = !given && !strstr(path, "limit=");
    if (rc == 0)
        rc = fetch_pages(c, path, key, follow, limit, &resp);
    if (rc != 0)
        goto out;
    if (c->json) {
        gpf_cli_print_json(resp);
        goto out;
    }
    gpf_table_init(&t, ncols, headers);
    json_array_foreach(json_object_get(resp, key), i, item)
        row(&t, item, arg);
    gpf_cli_print_table(&t);
out:
    json_decref(resp);
    gpf_table_clear(&t);
    return rc;
}

int gpf_cli_show(gpf_cli *c, const char *path, gpf_cli_fields_fn fields)
{
    json_t *obj = NULL;
    gpf_table t = {0};
    int rc = gpf_cli_call(c, "GET", path, NULL, &obj);

    if (rc != 0)
        goto out;
    if (c->json) {
        gpf_cli_print_json(obj);
        goto out;
    }
    fields(c, obj, &t);
    gpf_cli_print_table(&t);
out:
    json_decref(obj);
    gpf_table_clear(&t);
    return rc;
}

int gpf_cli_send(gpf_cli *c, const char *method, const char *path, json_t *body,
                 const char *fmt, ...)
{
    json_t *resp = NULL;
    va_list ap;
    int rc = gpf_cli_call(c, method, path, body, &resp);

    if (rc != 0)
        goto out;
    if (c->json) {
        gpf_cli_print_json(resp);
        goto out;
    }
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
out:
    json_decref(resp);
    return rc;
}
