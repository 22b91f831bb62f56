/* Backend-independent helpers for the pod runtime ops table. */
#include "agent/runtime.h"

#include <stddef.h>

#include "util/timeutil.h"

int gpf_runtime_start(gpf_runtime *rt, const gpf_pod_spec *spec, gpf_pod_status *st, gpf_error *err)
{
    if (!rt || !spec)
        return gpf_error_set(err, GPF_EINVAL, "start: no runtime or pod spec");
    int rc = rt->ops->start_begin(rt, spec, err);
    while (rc == 0 && (rc = rt->ops->start_poll(rt, spec->id, st, err)) == 0)
        gpf_sleep_ms(2);
    return rc < 0 ? rc : 0;
}

void gpf_runtime_close(gpf_runtime *rt)
{
    if (!rt)
        return;
    if (rt->ops && rt->ops->close)
        rt->ops->close(rt);
}
