/* Host preflight: the checklist a GPU host must pass before anything is placed on it.
 * Pure: works on what discovery (gpu_backend.h) and sysfs (sysfs.h) reported and on the
 * catalog; reads nothing itself. Each finding has a level, what was seen and, unless it
 * passed, the fix. `gpufleet check` prints them; the agent runs them at start, logs them
 * and sends the verdict with its registration (report.h), and the control plane keeps a
 * failing host out of placement until it passes or an operator overrides it. */
#ifndef GPF_AGENT_PREFLIGHT_H
#define GPF_AGENT_PREFLIGHT_H

#include "agent/gpu_backend.h"
#include "agent/sysfs.h"
#include "catalog/catalog.h"
#include "util/error.h"

/* Worst first is FAIL; SKIP (the facts a check needs were not reported) never changes the
 * verdict. The verdict's exit code is the level: 0 pass, 1 warn, 2 fail. */
typedef enum { GPF_CHK_PASS = 0, GPF_CHK_WARN = 1, GPF_CHK_FAIL = 2, GPF_CHK_SKIP = 3 } gpf_chk_level;

typedef struct gpf_chk_finding {
    char check[24];               /* "pcie-link", "numa", "iommu", "driver", "mmio", "vgpu",
                                   * "power", "thermal", "model", "discovery" */
    gpf_chk_level level;
    int gpu;                      /* host GPU index; -1 = the host as a whole */
    char detail[240];             /* what was seen */
    char fix[240];                /* what to do; "" when it passed or was skipped */
} gpf_chk_finding;

#define GPF_CHK_MAX 160

typedef struct gpf_chk_report {
    gpf_chk_level verdict;        /* the worst of PASS/WARN/FAIL */
    int n;
    int dropped;                  /* findings past GPF_CHK_MAX (not expected) */
    gpf_chk_finding f[GPF_CHK_MAX];
} gpf_chk_report;

typedef struct gpf_chk_input {
    const gpf_host_facts *facts;  /* required: what the GPU backend discovered */
    const char *discovery_error;  /* why discovery failed (facts then hold no GPUs); NULL = it worked */
    const gpf_sysfs_host *sys;    /* NULL = not read: link, NUMA and IOMMU fall back or skip */
    const gpf_catalog *cat;       /* NULL = model, MMIO, vGPU and power-vs-TDP checks skip */
    const char *driver_minimums;  /* CSV text (data/catalog/driver_minimums.csv); NULL = none */
    const char *deploy_mode;      /* "baremetal" (NULL/""), "passthrough", "vgpu", "cloud" */
    int vgpu_planned;             /* vGPU slices will be offered (implied by deploy_mode vgpu) */
    int vm_mmio_gb;               /* VM modes: MMIO space each VM is given; 0 = not stated */
    int vm_gpus;                  /* passthrough: GPUs per VM (0 = 1) */
    const char *pod_cpus;         /* cpulist pods may use; NULL/"" = every online CPU */
} gpf_chk_input;

/* Runs every check. GPF_EINVAL for a missing facts pointer, an unknown deploy mode, a
 * malformed pod_cpus or driver_minimums text; otherwise 0 with the findings in out. */
int gpf_preflight_run(const gpf_chk_input *in, gpf_chk_report *out, gpf_error *err);

const char *gpf_chk_level_name(gpf_chk_level l); /* "pass" "warn" "fail" "skip" */

/* Compares dotted driver versions numerically ("535.183.01" vs "525.53"): <0, 0, >0.
 * Missing parts count as 0. */
int gpf_driver_version_cmp(const char *a, const char *b);

/* Normalises a PCI address ("00000000:18:00.0", "0000:18:00.0", upper or lower case) to
 * "dddd:bb:dd.f"; 0, or -1 when it is not one. */
int gpf_pci_addr_norm(const char *in, char *out, size_t size);

#endif
