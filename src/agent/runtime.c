/* Backend-independent helpers for the pod runtime ops table. */
#include "agent/runtime.h"

#include <stddef.h>

void gpf_runtime_close(gpf_runtime *rt)
{
    if (!rt)
        return;
    if (rt->ops && rt->ops->close)
        rt->ops->close(rt);
}
