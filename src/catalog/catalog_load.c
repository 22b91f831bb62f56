/* Loading the catalog from a directory or from the copy built into the binary. */
#include "catalog/catalog.h"

#include <stdio.h>

#include "util/alloc.h"
#include "util/embedded.h"
#include "util/fileio.h"

char *gpf_catalog_file_text(const char *dir, const char *name, gpf_error *err)
{
    char path[600];
    if (dir && dir[0]) {
        char *text = NULL;
        snprintf(path, sizeof path, "%s/%s", dir, name);
        return gpf_read_file(path, 64u << 20, &text, err) == 0 ? text : NULL;
    }
    snprintf(path, sizeof path, "data/catalog/%s", name);
    const gpf_embedded_file *f = gpf_embedded_find(path);
    if (!f) {
        gpf_error_set(err, GPF_ENOTFOUND, "catalog file %s is not built in", path);
        return NULL;
    }
    return gpf_strdup(f->data);
}

int gpf_catalog_load(const char *dir, gpf_catalog **out, gpf_error *err)
{
    static const char *const names[3] = {"gpus.csv", "mig_profiles.csv", "vgpu_profiles.csv"};
    char *text[3] = {0};
    int rc = 0;
    *out = NULL;
    for (int i = 0; i < 3 && rc == 0; i++)
        if (!(text[i] = gpf_catalog_file_text(dir, names[i], err)))
            rc = err && err->code ? err->code : GPF_EIO;
    if (rc == 0)
        rc = gpf_catalog_parse(text[0], text[1], text[2], out, err);
    for (int i = 0; i < 3; i++)
        gpf_free(text[i]);
    return rc;
}
