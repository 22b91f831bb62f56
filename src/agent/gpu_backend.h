/* GPU backends behind one ops table: "fake" (a fleet fixture file; always available) and
 * "nvml" (libnvidia-ml.so.1 through dlopen, gpu_nvml.c). Read-only discovery: a backend
 * never changes MIG layout or GPU settings. */
#ifndef GPF_AGENT_GPU_BACKEND_H
#define GPF_AGENT_GPU_BACKEND_H

#include "catalog/catalog.h"
#include "model/fleet.h"
#include "util/error.h"

#define GPF_GPU_MAX_PROCS 64

/* A MIG device that exists on a GPU: its GPU instance and compute instance. */
typedef struct gpf_gpu_mig_dev {
    char uuid[GPF_UUID_MAX];      /* "MIG-…" */
    int gi_id, ci_id;             /* NVML's instance ids, -1 unknown */
    int gi_profile_id;            /* the GPU-instance profile id (catalog gi_profile_id), -1 unknown */
    int start, size;              /* placement in memory slices, -1 unknown */
    int64_t memory_mib;           /* -1 unknown */
} gpf_gpu_mig_dev;

/* A process using a GPU (compute). */
typedef struct gpf_gpu_proc {
    unsigned pid;                 /* in the host's pid namespace */
    int64_t used_mib;             /* -1 unknown */
    int gi_id, ci_id;             /* the MIG device it runs on, -1 when not on one */
} gpf_gpu_proc;

/* What a GPU is doing now, read at each discovery. -1 = the backend could not tell. */
typedef struct gpf_gpu_live {
    uint32_t pci_device_id;       /* NVML's pciDeviceId: (device << 16) | 0x10DE; 0 unknown */
    int minor;                    /* the N of /dev/nvidiaN, -1 unknown */
    int util_gpu_pct, util_mem_pct;
    int64_t memory_used_mib;
    int power_mw, power_limit_mw;
    int temp_c, temp_slowdown_c, temp_shutdown_c;
    int pcie_gen, pcie_gen_max, pcie_width, pcie_width_max;
    int mig_pending;              /* MIG mode after the next reset */
    int nmig;
    gpf_gpu_mig_dev mig[GPF_MIG_MAX_PLACEMENTS];
    int nprocs;                   /* up to GPF_GPU_MAX_PROCS; procs_truncated when there were more */
    int procs_truncated;
    gpf_gpu_proc procs[GPF_GPU_MAX_PROCS];
} gpf_gpu_live;

/* What discovery reports about the host itself (filled with the GPUs by discover). */
typedef struct gpf_host_facts {
    gpf_host_rec host;            /* id, cpus, memory_mib, numa_nodes, deploy_mode, gpus[] */
    char driver_version[32];      /* "" for fake */
    char cuda_version[32];        /* e.g. "12.4", "" unknown */
    char nvml_version[32];        /* "" for fake */
    gpf_gpu_live live[GPF_MAX_HOST_GPUS]; /* by GPU, as host.gpus[] */
} gpf_host_facts;

/* Sets every "unknown" field of live to -1 and the counts to 0. */
void gpf_gpu_live_unknown(gpf_gpu_live *live);

typedef struct gpf_gpu_backend gpf_gpu_backend;

typedef struct gpf_gpu_backend_ops {
    const char *name;             /* "fake", "nvml" */
    int live;                     /* 1: each discover reads the hardware now (MIG devices, processes);
                                   * 0: the facts are a fixture and never change */
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
/* NVML backend (docs/hardware.md): dlopens lib_path (NULL = "libnvidia-ml.so.1"), resolves
 * its symbols and calls nvmlInit_v2; close calls nvmlShutdown and dlcloses. Read-only: it
 * calls NVML getters only. cat (may be NULL) maps PCI device ids to catalog models; its
 * mapping is copied, so it may be freed once open returns. *out owned by caller. Fails with GPF_EUNAVAIL when
 * the library cannot be loaded or NVML cannot start (the message carries NVML's text and
 * code), GPF_ENOTSUP when a required symbol is missing (the message names it). One thread
 * at a time per backend. */
int gpf_gpu_nvml_open(const char *lib_path, const gpf_catalog *cat, gpf_gpu_backend **out, gpf_error *err);
void gpf_gpu_backend_close(gpf_gpu_backend *b); /* accepts NULL */

#endif
