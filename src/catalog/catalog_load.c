/* The catalog from its three files, read by the caller's reader (catalog.h): no I/O here. */
#include "catalog/catalog.h"

#include "util/alloc.h"

int gpf_catalog_load(gpf_catalog_reader read, const void *arg, gpf_catalog **out, gpf_error *err)
{
    static const char *const names[3] = {"gpus.csv", "mig_profiles.csv", "vgpu_profiles.csv"};
    char *text[3] = {0};
    int rc = 0;
    *out = NULL;
    for (int i = 0; i < 3 && rc == 0; i++)
        if (!(text[i] = read(arg, names[i], err)))
            rc = err && err->code ? err->code : GPF_EIO;
    if (rc == 0)
        rc = gpf_catalog_parse(text[0], text[1], text[2], out, err);
    for (int i = 0; i < 3; i++)
        gpf_free(text[i]);
    return rc;
}
