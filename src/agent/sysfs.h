/* Host facts from sysfs: CPUs and NUMA nodes, the NVIDIA GPUs on the PCI bus with their NUMA
 * node, PCIe link (generation and width, current and maximum) and IOMMU group, and whether
 * the IOMMU is on. The root directory is a parameter ("/" on a host; a fixture tree in
 * tests), so everything here is read from files under root and nothing else. */
#ifndef GPF_AGENT_SYSFS_H
#define GPF_AGENT_SYSFS_H

#include <stdint.h>

#include "util/error.h"

#define GPF_SYSFS_MAX_NUMA 64
#define GPF_SYSFS_MAX_GPUS 32
#define GPF_SYSFS_MAX_CPUS 1024       /* CPU numbers a node mask can hold */
#define GPF_SYSFS_MASK_WORDS (GPF_SYSFS_MAX_CPUS / 64)

typedef struct gpf_sysfs_gpu {
    char bdf[16];                 /* PCI address, "0000:18:00.0" */
    uint16_t vendor, device;      /* 0x10de, e.g. 0x2330 */
    uint32_t class_code;          /* 0x030200 (3D controller) or 0x030000 (VGA) */
    int numa_node;                /* -1 when the platform does not say */
    int link_gen_cur, link_gen_max;     /* PCIe generation 1..6, 0 unknown */
    int link_width_cur, link_width_max; /* lanes, 0 unknown */
    int iommu_group;              /* -1 when none */
} gpf_sysfs_gpu;

typedef struct gpf_sysfs_host {
    int ncpus;                    /* online CPUs */
    int numa_nodes;               /* nodes with CPUs; 0 when sysfs has no node directory */
    int numa_cpus[GPF_SYSFS_MAX_NUMA]; /* online CPUs per node */
    uint64_t numa_mask[GPF_SYSFS_MAX_NUMA][GPF_SYSFS_MASK_WORDS]; /* which CPUs, by node */
    int iommu_enabled;            /* IOMMU groups exist */
    int ngpus;
    gpf_sysfs_gpu gpus[GPF_SYSFS_MAX_GPUS]; /* NVIDIA display-class PCI functions, by address */
} gpf_sysfs_host;

/* Reads the facts under root (e.g. "/" or "tests/fixtures/sysfs/h100"). GPF_EIO when
 * root/sys/devices/system/cpu/online cannot be read; missing optional files leave their
 * facts unknown. */
int gpf_sysfs_read(const char *root, gpf_sysfs_host *out, gpf_error *err);

/* Number of CPUs in a cpulist ("0-31,64-95" -> 64); -1 when malformed. */
int gpf_sysfs_cpulist_count(const char *s);
/* The same, also setting the bits of the CPUs below nbits in mask ((nbits + 63) / 64 words,
 * cleared first; NULL = count only). */
int gpf_sysfs_cpulist_mask(const char *s, uint64_t *mask, int nbits);
/* PCIe generation for a link speed ("16.0 GT/s PCIe" -> 4); 0 when unknown. */
int gpf_sysfs_link_gen(const char *speed);

#endif
