/* A small reader for the catalog CSVs: header row, ',' separators, no quoting (fields never
 * contain commas or quotes), columns found by header name. Used by src/catalog and by the
 * simulator's trace parser (src/sched/sim.c), which sits above catalog in the layering. */
#ifndef GPF_CATALOG_CSV_H
#define GPF_CATALOG_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define GPF_CSV_MAX_FIELDS 64

typedef struct gpf_csv {
    const char *file;             /* name used in messages, e.g. "gpus.csv" */
    const char *p;                /* cursor into the text; NULL = no more rows */
    int line;                     /* 1-based line of the current row */
    char *header;                 /* owned copy of the header line, split in place */
    int ncols;
    char *cols[GPF_CSV_MAX_FIELDS];
    char *row;                    /* owned copy of the current row, split in place */
    int nfields;
    char *fields[GPF_CSV_MAX_FIELDS];
} gpf_csv;

/* Reads the header of text (NULL or "" = a file without rows) and checks that every name in
 * required (NULL-terminated) is a column. On failure returns GPF_EINVAL; r is still safe to
 * close. */
int gpf_csv_open(gpf_csv *r, const char *file, const char *text, const char *const *required, gpf_error *err);
/* Advances to the next non-blank row: 1 = a row, 0 = end, GPF_EINVAL = malformed row. */
int gpf_csv_next(gpf_csv *r, gpf_error *err);
void gpf_csv_close(gpf_csv *r);
int gpf_csv_line(const gpf_csv *r);

/* The current row's field in column col, trimmed; "" when empty or the column is absent. */
const char *gpf_csv_get(const gpf_csv *r, const char *col);
/* Flags for gpf_csv_get_str. */
#define GPF_CSV_OPTIONAL 0
#define GPF_CSV_REQUIRED 1  /* an empty field is an error */
#define GPF_CSV_TRUNCATE 2  /* descriptive text: cut to fit instead of failing */
/* Copies the field into dst; GPF_EINVAL when required and empty or when it does not fit. */
int gpf_csv_get_str(const gpf_csv *r, const char *col, int flags, char *dst, size_t dstsz, gpf_error *err);
/* Parses a decimal integer in [min, max]; an empty optional field gives 0. */
int gpf_csv_get_int(const gpf_csv *r, const char *col, int required, int64_t min, int64_t max, int64_t *out,
                    gpf_error *err);
/* GPF_EINVAL unless s is a usable key: [A-Za-z0-9._+-]+. */
int gpf_csv_check_key(const gpf_csv *r, const char *col, const char *s, gpf_error *err);
/* Sets err to "<file> line <n>: <message>" and returns GPF_EINVAL. */
int gpf_csv_error(const gpf_csv *r, gpf_error *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
