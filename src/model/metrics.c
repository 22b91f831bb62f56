/* The /metrics snapshot (model/metrics.h). */
#include "model/metrics.h"

#include <string.h>

#include "util/alloc.h"

void gpf_metrics_clear(gpf_metrics *m)
{
    if (!m)
        return;
    gpf_free(m->hosts);
    memset(m, 0, sizeof *m);
}
