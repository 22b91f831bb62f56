/* libFuzzer target: the image cache's OCI manifest parser (a manifest comes from whatever
 * serves the agent its blobs). Every accepted manifest must satisfy the parser's promises. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/image_cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gpf_image_manifest m;
    gpf_error err = {0};
    if (gpf_image_manifest_parse((const char *)data, size, &m, &err) != 0)
        return 0;
    if (m.nlayers < 1 || m.nlayers > GPF_IMAGE_LAYERS_MAX || !gpf_image_digest_valid(m.config.digest) ||
        m.config.size < 1 || m.config.size > GPF_IMAGE_JSON_MAX)
        abort();
    int64_t total = m.config.size;
    for (int i = 0; i < m.nlayers; i++) {
        if (!gpf_image_digest_valid(m.layers[i].digest) || m.layers[i].size < 1 ||
            m.layers[i].size > GPF_IMAGE_BLOB_MAX || strncmp(m.layers[i].media_type, "application/vnd.oci.", 20) != 0)
            abort();
        total += m.layers[i].size;
    }
    if (total != m.total)
        abort();
    return 0;
}
