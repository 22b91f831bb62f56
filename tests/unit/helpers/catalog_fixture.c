/* Test helper: loads the embedded catalog. */
#include "catalog_fixture.h"

#include "util/embedded.h"

const char *gpf_test_catalog_text(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "data/catalog/%s", name);
    const gpf_embedded_file *f = gpf_embedded_find(path);
    return f ? f->data : NULL;
}

gpf_catalog *gpf_test_catalog_load(gpf_error *err)
{
    gpf_catalog *c = NULL;
    const char *g = gpf_test_catalog_text("gpus.csv");
    const char *m = gpf_test_catalog_text("mig_profiles.csv");
    const char *v = gpf_test_catalog_text("vgpu_profiles.csv");
    if (!g || !m || !v) {
        gpf_error_set(err, GPF_ENOTFOUND, "catalog CSVs are not embedded");
        return NULL;
    }
    if (gpf_catalog_parse(g, m, v, &c, err) != 0)
        return NULL;
    return c;
}
