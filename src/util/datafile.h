/* Data files (the catalog's CSVs, ...) from a directory the configuration names or, by
 * default, from the copies built into the binary (util/embedded.h). The reading half of
 * what pure modules parse: the catalog takes text and leaves the I/O to its caller. */
#ifndef GPF_UTIL_DATAFILE_H
#define GPF_UTIL_DATAFILE_H

#include "util/error.h"

typedef struct gpf_data_dir {
    const char *dir;            /* a directory; NULL or "" = the copies built into the binary */
    const char *builtin;        /* those copies' repository directory, e.g. "data/catalog" */
} gpf_data_dir;

/* The text of file name (at most 64 MiB) from d: a heap string (gpf_free), or NULL with err
 * set: gpf_read_file's codes for a directory (trailing white space trimmed), GPF_ENOTFOUND
 * when no such file is built in. */
char *gpf_data_file_text(const gpf_data_dir *d, const char *name, gpf_error *err);

/* gpf_data_file_text as a reader callback: arg is a const gpf_data_dir * (for
 * gpf_catalog_load in catalog/catalog.h). */
char *gpf_data_file_reader(const void *arg, const char *name, gpf_error *err);

#endif
