/* Backend-independent helpers for the GPU backend ops table. */
#include "agent/gpu_backend.h"

#include <stddef.h>

void gpf_gpu_backend_close(gpf_gpu_backend *b)
{
    if (!b)
        return;
    if (b->ops && b->ops->close)
        b->ops->close(b);
}
