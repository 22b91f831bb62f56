/* Opening a GPU backend by name (see gpu_open.h). */
#include "agent/gpu_open.h"

#include <string.h>

#include "util/embedded.h"

int gpf_gpu_backend_open(const gpf_gpu_open_opts *o, gpf_gpu_backend **out, gpf_error *err)
{
    *out = NULL;
    const char *name = o->backend && o->backend[0] ? o->backend : "nvml";
    if (!strcmp(name, "nvml"))
        return gpf_gpu_nvml_open(o->nvml_lib && o->nvml_lib[0] ? o->nvml_lib : NULL, o->cat, out, err);
    if (strcmp(name, "fake") != 0)
        return gpf_error_set(err, GPF_EINVAL, "unknown GPU backend '%s' (nvml or fake)", name);
    if (!o->host_id || !o->host_id[0])
        return gpf_error_set(err, GPF_EINVAL, "--host-id is required with the fake backend");
    if (o->fake_fleet && o->fake_fleet[0])
        return gpf_gpu_fake_open(o->fake_fleet, o->host_id, out, err);
    const gpf_embedded_file *f = gpf_embedded_find("data/demo-fleet.json");
    if (!f)
        return gpf_error_set(err, GPF_ENOTFOUND, "no built-in demo fleet in this binary");
    return gpf_gpu_fake_open_text(f->data, o->host_id, out, err);
}
