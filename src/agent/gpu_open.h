/* Opening a GPU backend by name, the same way for the agent, `gpufleet discover` and
 * `gpufleet check`. */
#ifndef GPF_AGENT_GPU_OPEN_H
#define GPF_AGENT_GPU_OPEN_H

#include "agent/gpu_backend.h"

typedef struct gpf_gpu_open_opts {
    const char *backend;          /* "nvml" or "fake" */
    const char *nvml_lib;         /* NULL/"" = libnvidia-ml.so.1 from the loader's path */
    const char *fake_fleet;       /* fake: fixture file; NULL/"" = the built-in demo fleet */
    const char *host_id;          /* fake: the fixture host to be (required) */
    const gpf_catalog *cat;       /* nvml: maps PCI device ids to catalog models */
} gpf_gpu_open_opts;

/* GPF_EINVAL for an unknown backend or a missing host id; else the backend's own errors. */
int gpf_gpu_backend_open(const gpf_gpu_open_opts *o, gpf_gpu_backend **out, gpf_error *err);

#endif
