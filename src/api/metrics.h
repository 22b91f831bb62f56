/* /metrics: the Prometheus text exposition (format 0.0.4) of a snapshot the engine filled
 * (model/metrics.h). Rendering reads only the snapshot, so it runs outside the engine's lock. */
#ifndef GPF_API_METRICS_H
#define GPF_API_METRICS_H

#include "model/metrics.h"
#include "util/buf.h"

/* Appends the text for m to out: pods by state, hosts by state, GPUs, per host whether it is
 * schedulable and its open drift, per GPU the thousandths allocated, then the counters. Host
 * states out of range are left out of the by-state counts (their GPUs still count); a host's
 * ngpus is read as 0..GPF_MAX_HOST_GPUS. */
void gpf_metrics_render(const gpf_metrics *m, gpf_buf *out);

#endif
