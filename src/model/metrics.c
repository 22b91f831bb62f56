/* The /metrics snapshot (model/metrics.h). */
#include "model/metrics.h"

#include <string.h>

#include "util/alloc.h"
#include "util/names.h"

void gpf_metrics_clear(gpf_metrics *m)
{
    if (!m)
        return;
    gpf_free(m->hosts);
    memset(m, 0, sizeof *m);
}

GPF_NAMES(gpf_reg_refusal_name, gpf_reg_refusal_parse, gpf_reg_refusal, "unknown_token", "expired", "used_up", "revoked",
          "host_exists", "wrong_host")
