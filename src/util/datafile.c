/* Data files from a directory or built in: see datafile.h. */
#include "util/datafile.h"

#include <stdio.h>

#include "util/alloc.h"
#include "util/embedded.h"
#include "util/fileio.h"

char *gpf_data_file_text(const gpf_data_dir *d, const char *name, gpf_error *err)
{
    char path[600];
    if (d->dir && d->dir[0]) {
        char *text = NULL;
        snprintf(path, sizeof path, "%s/%s", d->dir, name);
        return gpf_read_file(path, 64u << 20, &text, err) == 0 ? text : NULL;
    }
    snprintf(path, sizeof path, "%s/%s", d->builtin ? d->builtin : "", name);
    const gpf_embedded_file *f = gpf_embedded_find(path);
    if (!f) {
        gpf_error_set(err, GPF_ENOTFOUND, "catalog file %s is not built in", path); /* the wording users know */
        return NULL;
    }
    return gpf_strdup(f->data);
}

char *gpf_data_file_reader(const void *arg, const char *name, gpf_error *err)
{
    return gpf_data_file_text(arg, name, err);
}
