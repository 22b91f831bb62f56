/* GPU backends behind one ops table: "fake" (a fleet fixture file; always available)
 * now, "nvml" (dlopen libnvidia-ml.so.1) in the hardware issue. Read-only discovery:
 * a backend never changes MIG layout or GPU settings. */
#ifndef GPF_AGENT_GPU_BACKEND_H
#define GPF_AGENT_GPU_BACKEND_H

#include "engine/model.h"
#include "util/error.h"

/* What discovery reports about the host itself (filled with the GPUs by discover). */
typedef struct gpf_host_facts {
    gpf_host_rec host;            /* id, cpus, memory_mib, numa_nodes, deploy_mode, gpus[] */
    char driver_version[32];      /* "" for fake */
    char cuda_version[32];
} gpf_host_facts;

typedef struct gpf_gpu_backend gpf_gpu_backend;

typedef struct gpf_gpu_backend_ops {
    const char *name;             /* "fake", "nvml" */
    /* Fills facts with what the host has. */
    int (*discover)(gpf_gpu_backend *b, gpf_host_facts *facts, gpf_error *err);
    /* The device id a pod with this placement sees (CUDA_VISIBLE_DEVICES entry): the GPU
     * UUID for whole/share slices, the MIG device UUID for a MIG slice. out: size bytes. */
    int (*device_id)(gpf_gpu_backend *b, const gpf_placement *p, int i, char *out, size_t size,
                     gpf_error *err);
    void (*close)(gpf_gpu_backend *b);
} gpf_gpu_backend_ops;

struct gpf_gpu_backend {
    const gpf_gpu_backend_ops *ops;
    void *priv;
};

/* Fake backend from a fleet fixture (JSON, see data/demo-fleet.json) and the host in it
 * named host_id (the fixture may describe several hosts). *out owned by caller. */
int gpf_gpu_fake_open(const char *fixture_path, const char *host_id, gpf_gpu_backend **out, gpf_error *err);
/* Same, from fixture text already in memory (tests, embedded demo fleet). */
int gpf_gpu_fake_open_text(const char *json_text, const char *host_id, gpf_gpu_backend **out, gpf_error *err);
/* Lists the host ids a fixture describes: heap array of heap strings (free each, then the array). */
int gpf_gpu_fake_host_ids(const char *json_text, char ***ids, int *n, gpf_error *err);
void gpf_gpu_backend_close(gpf_gpu_backend *b); /* accepts NULL */

#endif
