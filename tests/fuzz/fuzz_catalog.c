/* libFuzzer target: catalog CSV parsing. The input is split into the three files at
 * the first two NUL bytes (gpus.csv, mig_profiles.csv, vgpu_profiles.csv). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "catalog/catalog.h"
#include "util/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = gpf_malloc(size + 3);
    memcpy(text, data, size);
    text[size] = text[size + 1] = text[size + 2] = '\0';
    char *parts[3] = {text, NULL, NULL};
    for (int i = 1; i < 3; i++) {
        size_t off = strlen(parts[i - 1]);
        char *next = parts[i - 1] + off + 1;
        parts[i] = next <= text + size ? next : NULL;
        if (!parts[i])
            break;
    }
    gpf_catalog *c = NULL;
    gpf_error err = {0};
    if (gpf_catalog_parse(parts[0], parts[1], parts[2], &c, &err) == 0) {
        for (int i = 0; i < gpf_catalog_model_count(c); i++) {
            const gpf_gpu_model *m = gpf_catalog_model_at(c, i);
            for (int p = 0; p < gpf_catalog_mig_count(c, m->mig_key); p++)
                (void)gpf_catalog_mig_at(c, m->mig_key, p);
        }
        gpf_catalog_free(c);
    }
    gpf_free(text);
    return 0;
}
