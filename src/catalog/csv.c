/* Catalog CSV reader: see csv.h. */
#include "catalog/csv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

int gpf_csv_error(const gpf_csv *r, gpf_error *err, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return gpf_error_set(err, GPF_EINVAL, "%s line %d: %s", r->file, r->line, msg);
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* Copies the next non-blank line into *copy (caller frees) and advances r->p and r->line.
 * Returns 1, or 0 at the end of the text. */
static int take_line(gpf_csv *r, char **copy)
{
    while (r->p && *r->p) {
        const char *nl = strchr(r->p, '\n');
        size_t n = nl ? (size_t)(nl - r->p) : strlen(r->p);
        const char *s = r->p;
        r->line++;
        r->p = nl ? nl + 1 : NULL;
        if (is_blank(s, n))
            continue;
        *copy = gpf_strndup(s, n);
        return 1;
    }
    r->p = NULL;
    return 0;
}

/* Splits line in place at ','; fills out[] with trimmed fields. */
static int split(gpf_csv *r, char *line, char **out, int *n, gpf_error *err)
{
    *n = 0;
    if (strchr(line, '"'))
        return gpf_csv_error(r, err, "quoted fields are not supported");
    char *s = line;
    for (;;) {
        char *comma = strchr(s, ',');
        if (comma)
            *comma = '\0';
        if (*n >= GPF_CSV_MAX_FIELDS)
            return gpf_csv_error(r, err, "more than %d fields", GPF_CSV_MAX_FIELDS);
        out[(*n)++] = trim(s);
        if (!comma)
            break;
        s = comma + 1;
    }
    return 0;
}

int gpf_csv_open(gpf_csv *r, const char *file, const char *text, const char *const *required, gpf_error *err)
{
    int rc = 0;
    memset(r, 0, sizeof *r);
    r->file = file;
    r->p = text;
    if (!take_line(r, &r->header))
        goto out; /* no header, no rows */
    if ((rc = split(r, r->header, r->cols, &r->ncols, err)) != 0)
        goto out;
    for (int i = 0; i < r->ncols; i++) {
        if (!r->cols[i][0]) {
            rc = gpf_csv_error(r, err, "header column %d has no name", i + 1);
            goto out;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(r->cols[i], r->cols[j]) == 0) {
                rc = gpf_csv_error(r, err, "header names column '%s' twice", r->cols[i]);
                goto out;
            }
    }
    for (int k = 0; required && required[k]; k++) {
        int found = 0;
        for (int i = 0; i < r->ncols && !found; i++)
            found = strcmp(r->cols[i], required[k]) == 0;
        if (!found) {
            rc = gpf_csv_error(r, err, "header lacks the column '%s'", required[k]);
            goto out;
        }
    }
out:
    if (rc != 0)
        r->p = NULL;
    return rc;
}

int gpf_csv_next(gpf_csv *r, gpf_error *err)
{
    gpf_free(r->row);
    r->row = NULL;
    r->nfields = 0;
    if (!r->header || !take_line(r, &r->row))
        return 0;
    int rc = split(r, r->row, r->fields, &r->nfields, err);
    if (rc == 0 && r->nfields != r->ncols)
        rc = gpf_csv_error(r, err, "%d fields, but the header has %d columns", r->nfields, r->ncols);
    if (rc != 0) {
        r->nfields = 0;
        r->p = NULL;
        return rc;
    }
    return 1;
}

void gpf_csv_close(gpf_csv *r)
{
    if (!r)
        return;
    gpf_free(r->header);
    gpf_free(r->row);
    r->header = NULL;
    r->row = NULL;
    r->p = NULL;
    r->ncols = 0;
    r->nfields = 0;
}

int gpf_csv_line(const gpf_csv *r)
{
    return r->line;
}

const char *gpf_csv_get(const gpf_csv *r, const char *col)
{
    for (int i = 0; i < r->ncols && i < r->nfields; i++)
        if (strcmp(r->cols[i], col) == 0)
            return r->fields[i];
    return "";
}

int gpf_csv_get_str(const gpf_csv *r, const char *col, int flags, char *dst, size_t dstsz, gpf_error *err)
{
    const char *v = gpf_csv_get(r, col);
    if ((flags & GPF_CSV_REQUIRED) && !v[0])
        return gpf_csv_error(r, err, "%s is empty", col);
    if (gpf_strlcpy(dst, v, dstsz) >= dstsz && !(flags & GPF_CSV_TRUNCATE))
        return gpf_csv_error(r, err, "%s is longer than %zu characters", col, dstsz - 1);
    return 0;
}

int gpf_csv_get_int(const gpf_csv *r, const char *col, int required, int64_t min, int64_t max, int64_t *out,
                    gpf_error *err)
{
    const char *v = gpf_csv_get(r, col);
    *out = 0;
    if (!v[0]) {
        if (required)
            return gpf_csv_error(r, err, "%s is empty", col);
        return 0;
    }
    const char *d = v[0] == '-' ? v + 1 : v;
    if (*d < '0' || *d > '9' || strspn(d, "0123456789") != strlen(d))
        return gpf_csv_error(r, err, "%s: '%s' is not an integer", col, v);
    errno = 0;
    long long x = strtoll(v, NULL, 10);
    if (errno == ERANGE || x < min || x > max)
        return gpf_csv_error(r, err, "%s: %s is outside %lld..%lld", col, v, (long long)min, (long long)max);
    *out = (int64_t)x;
    return 0;
}

int gpf_csv_check_key(const gpf_csv *r, const char *col, const char *s, gpf_error *err)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-";
    if (!s[0] || strspn(s, ok) != strlen(s))
        return gpf_csv_error(r, err, "%s: '%s' is not a valid key", col, s);
    return 0;
}
