/* Pod isolation planning: which NVIDIA device nodes a pod's sandbox gets and which CPUs
 * the pod is pinned to, from what discovery and sysfs say about the host and where the
 * control plane placed the pod. The plan is data; the pod runtime enforces it (bubblewrap
 * binds the nodes into a private /dev, the pod's root process is pinned before exec).
 *
 * Device nodes (docs/hardware.md, "Pod isolation"):
 *   whole, share, vgpu   /dev/nvidia<minor> of every GPU of the placement (time-sliced vgpu)
 *   mig, MIG-backed vgpu /dev/nvidia<minor> of the parent GPU and the MIG capability files
 *                        of its GPU instance and compute instance: the DeviceFileMinor N of
 *                        /proc/driver/nvidia/capabilities/gpu<minor>/mig/gi<G>[/ci<C>]/access
 *                        is /dev/nvidia-caps/nvidia-cap<N>
 *   plus, for any pod with a GPU, /dev/nvidiactl, /dev/nvidia-uvm, /dev/nvidia-uvm-tools.
 * Only nodes that exist are bound; the others are listed as missing. Files are read under
 * a root directory ("/" on a host, a fixture tree in tests): root/dev/… and
 * root/proc/driver/nvidia/…. Nothing else is read, nothing is written. */
#ifndef GPF_AGENT_ISOLATION_H
#define GPF_AGENT_ISOLATION_H

#include <stdint.h>

#include "agent/sysfs.h"
#include "model/slice.h"
#include "util/error.h"

typedef struct gpf_host_facts gpf_host_facts; /* agent/gpu_backend.h */

#define GPF_ISO_MAX_NODES 24          /* 8 GPUs + 3 control nodes, or MIG: 1 GPU + 2 caps + 3 */
#define GPF_ISO_NAME_MAX 48           /* node name under /dev: "nvidia-caps/nvidia-cap123" */
#define GPF_ISO_PATH_MAX 512

typedef struct gpf_iso_node {
    char name[GPF_ISO_NAME_MAX];      /* under /dev: "nvidia0", "nvidia-caps/nvidia-cap12" */
    char host_path[GPF_ISO_PATH_MAX]; /* where it is on the host: root + "/dev/" + name */
} gpf_iso_node;

typedef struct gpf_iso_plan {
    gpf_slice_kind kind;              /* decides "hardware" (whole, mig) or "device" (share, vgpu);
                                       * a MIG-backed vgpu (placement with mig_size > 0) plans as mig */
    int ngpus;                        /* GPUs of the placement; 0: a pod without GPU, no node */
    int nnodes;
    gpf_iso_node nodes[GPF_ISO_MAX_NODES]; /* exist: bind them */
    int nmissing;
    char missing[GPF_ISO_MAX_NODES][GPF_ISO_NAME_MAX]; /* wanted but absent or unknown */
    int mig_unknown;                  /* a MIG slice whose MIG device the facts do not hold */
    int pin;                          /* 1: pin the pod to cpu_mask */
    uint64_t cpu_mask[GPF_SYSFS_MASK_WORDS];
    int numa_node;                    /* the node the pod is pinned on, -1 none */
    char cpu_note[160];               /* "cpus 0-15 (numa 0)", "cpus not pinned (numa unknown)" */
} gpf_iso_plan;

typedef struct gpf_iso_input {
    const gpf_host_facts *facts;      /* host.gpus[] with live[].minor and live[].mig[] */
    const gpf_sysfs_host *sys;        /* NUMA node CPU masks; NULL when sysfs was unreadable */
    const char *pod_cpus;             /* the agent's pod-cpus cpulist; NULL or "" = every CPU */
    const gpf_placement *placement;   /* gpu_uuids/gpu_index, mig_start/mig_size, numa_node */
    gpf_slice_kind kind;
    const char *device_ids;           /* optional: the ids the pod sees ("MIG-…"), to find a MIG device */
    const char *root;                 /* "/" (NULL or "") on a host; a fixture tree in tests */
} gpf_iso_input;

/* Fills out from in. 0, or GPF_EINVAL (no placement, malformed pod_cpus, a path too long).
 * A zeroed plan (memset 0) means: no GPU, no node, no pinning. */
int gpf_iso_plan_make(const gpf_iso_input *in, gpf_iso_plan *out, gpf_error *err);

/* "dev nvidia0,nvidiactl,nvidia-uvm; missing nvidia-uvm-tools", "dev none" (no GPU), in
 * out (truncated to size). */
void gpf_iso_dev_summary(const gpf_iso_plan *p, char *out, size_t size);

/* Writes mask (nbits CPUs) as a cpulist ("0-15,32-47", "" when empty) into out; the
 * number of CPUs in it. */
int gpf_iso_cpulist(const uint64_t *mask, int nbits, char *out, size_t size);

#endif
