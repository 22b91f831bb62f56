/* libFuzzer target: the fake GPU backend's fleet fixture (JSON) and discovery. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/gpu_backend.h"
#include "util/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = gpf_strndup((const char *)data, size);
    char **ids = NULL;
    int n = 0;
    gpf_error err = {0};
    if (gpf_gpu_fake_host_ids(text, &ids, &n, &err) == 0) {
        for (int i = 0; i < n; i++) {
            gpf_gpu_backend *b = NULL;
            if (gpf_gpu_fake_open_text(text, ids[i], &b, &err) == 0) {
                static gpf_host_facts facts;
                b->ops->discover(b, &facts, &err);
                gpf_gpu_backend_close(b);
            }
            gpf_free(ids[i]);
        }
        gpf_free(ids);
    }
    gpf_free(text);
    return 0;
}
