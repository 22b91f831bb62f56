/* Backend-independent helpers for the GPU backend ops table. */
#include "agent/gpu_backend.h"

#include <stddef.h>
#include <string.h>

void gpf_gpu_live_unknown(gpf_gpu_live *l)
{
    memset(l, 0, sizeof *l);
    l->util_gpu_pct = l->util_mem_pct = -1;
    l->memory_used_mib = -1;
    l->power_mw = l->power_limit_mw = -1;
    l->temp_c = l->temp_slowdown_c = l->temp_shutdown_c = -1;
    l->pcie_gen = l->pcie_gen_max = l->pcie_width = l->pcie_width_max = -1;
    l->mig_pending = -1;
    l->minor = -1;
}

void gpf_gpu_backend_close(gpf_gpu_backend *b)
{
    if (!b)
        return;
    if (b->ops && b->ops->close)
        b->ops->close(b);
}
