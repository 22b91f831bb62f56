/* libFuzzer target: the host facts an agent reads from sysfs and /proc/driver/nvidia
 * (agent/sysfs.c, agent/isolation.c) and the preflight checks over them (agent/preflight.c).
 * The readers are fused with their file reads, so each input is written as a small tree
 * under a scratch directory (in /dev/shm) that serves as the root. The input is cut at NUL
 * bytes into the contents of (an empty part: the file is absent):
 *    0 sys/devices/system/cpu/online          8 …/0000:18:00.0/max_link_width
 *    1 sys/devices/system/node/node0/cpulist  9 …/0000:18:00.0/iommu_group (a link's target)
 *    2 sys/devices/system/node/node1/cpulist 10 proc/driver/nvidia/gpus/0000:18:00.0/information
 *    3 …/0000:18:00.0/device                 11 …/capabilities/gpu<minor>/mig/gi1/access
 *    4 …/0000:18:00.0/numa_node              12 …/capabilities/gpu<minor>/mig/gi1/ci0/access
 *    5 …/0000:18:00.0/current_link_speed     13 the agent's pod-cpus setting
 *    6 …/0000:18:00.0/max_link_speed         14 …/0000:3b:00.0/vendor
 *    7 …/0000:18:00.0/current_link_width     15 …/0000:3b:00.0/class
 * (…/ = sys/bus/pci/devices/; 0000:18:00.0 is an NVIDIA 3D controller, <minor> is read from
 * part 10 when it parses, else 0). Each part also goes through the pure helpers (cpulist,
 * link speed, PCI address, driver version). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/gpu_backend.h"
#include "agent/isolation.h"
#include "agent/preflight.h"
#include "agent/sysfs.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define GPU "sys/bus/pci/devices/0000:18:00.0/"
#define OTHER "sys/bus/pci/devices/0000:3b:00.0/"
#define CAPS "proc/driver/nvidia/capabilities/gpu"

static const char *const FILES[13] = {
    "sys/devices/system/cpu/online", "sys/devices/system/node/node0/cpulist", "sys/devices/system/node/node1/cpulist",
    GPU "device", GPU "numa_node", GPU "current_link_speed", GPU "max_link_speed", GPU "current_link_width",
    GPU "max_link_width", NULL /* iommu_group: a link */, "proc/driver/nvidia/gpus/0000:18:00.0/information",
    NULL, NULL /* the capability files: under the minor */};

static char root[300];

static void mkdirs(const char *rel)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    for (char *s = p + strlen(root) + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0700);
            *s = '/';
        }
    mkdir(p, 0700);
}

static void put(const char *rel, const fz_parts *in, int i)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    fz_put(p, in->len[i] ? in->part[i] : NULL, in->len[i]);
}

static void setup(void)
{
    char p[600];
    snprintf(root, sizeof root, "%s", fz_scratch("sysfs"));
    mkdirs("sys/devices/system/node/node0");
    mkdirs("sys/devices/system/node/node1");
    mkdirs("sys/devices/system/cpu");
    mkdirs("sys/kernel/iommu_groups/7");
    mkdirs(GPU);
    mkdirs(OTHER);
    mkdirs("proc/driver/nvidia/gpus/0000:18:00.0");
    mkdirs("dev/nvidia-caps");
    snprintf(p, sizeof p, "%s/" GPU "vendor", root);
    fz_put(p, "0x10de\n", 7);
    snprintf(p, sizeof p, "%s/" GPU "class", root);
    fz_put(p, "0x030200\n", 9);
    static const char *const nodes[] = {"nvidia0", "nvidiactl", "nvidia-uvm", "nvidia-caps/nvidia-cap12"};
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
        snprintf(p, sizeof p, "%s/dev/%s", root, nodes[i]);
        fz_put(p, "", 0);
    }
}

static void pure(const fz_parts *in)
{
    uint64_t mask[GPF_SYSFS_MASK_WORDS];
    char norm[32], again[32];
    for (int i = 0; i < in->n; i++) {
        const char *s = in->part[i];
        int n = gpf_sysfs_cpulist_mask(s, mask, GPF_SYSFS_MAX_CPUS);
        int bits = 0;
        for (int w = 0; w < GPF_SYSFS_MASK_WORDS; w++)
            bits += __builtin_popcountll(mask[w]);
        if (n != gpf_sysfs_cpulist_count(s) || (n >= 0 && bits > n))
            abort();
        int gen = gpf_sysfs_link_gen(s);
        if (gen < 0 || gen > 6)
            abort();
        if (gpf_pci_addr_norm(s, norm, sizeof norm) == 0 &&
            (strlen(norm) != 12 || gpf_pci_addr_norm(norm, again, sizeof again) != 0 || strcmp(norm, again) != 0))
            abort();
        const char *t = in->part[(i + 1) % in->n];
        int ab = gpf_driver_version_cmp(s, t), ba = gpf_driver_version_cmp(t, s);
        if (gpf_driver_version_cmp(s, s) != 0 || (ab > 0) != (ba < 0) || (ab < 0) != (ba > 0))
            abort();
    }
}

static void check_sys(const gpf_sysfs_host *sys)
{
    if (sys->ncpus <= 0 || sys->numa_nodes < 0 || sys->numa_nodes > GPF_SYSFS_MAX_NUMA || sys->ngpus < 0 ||
        sys->ngpus > 2)
        abort();
    for (int i = 0; i < sys->ngpus; i++) {
        const gpf_sysfs_gpu *g = &sys->gpus[i];
        if (g->vendor != 0x10de || (g->class_code >> 16) != 0x03 || g->link_gen_cur < 0 || g->link_gen_cur > 6 ||
            g->link_gen_max < 0 || g->link_gen_max > 6 || g->iommu_group < -1 || g->numa_node < -1 ||
            g->numa_node >= GPF_SYSFS_MAX_NUMA || g->link_width_cur < 0 || g->link_width_cur > 32 ||
            g->link_width_max < 0 || g->link_width_max > 32 ||
            strnlen(g->bdf, sizeof g->bdf) == sizeof g->bdf)
            abort();
        if (i && strcmp(sys->gpus[i - 1].bdf, g->bdf) >= 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_parts in;
    char p[600], rel[200];
    if (!root[0])
        setup();
    if (size > 8192)
        return 0;
    fz_split(data, size, 16, &in);
    pure(&in);
    for (int i = 0; i < 11; i++)
        if (FILES[i])
            put(FILES[i], &in, i);
    snprintf(p, sizeof p, "%s/" GPU "iommu_group", root);
    unlink(p);
    if (in.len[9] && symlink(in.part[9], p) != 0)
        abort();
    put(OTHER "vendor", &in, 14);
    put(OTHER "class", &in, 15);
    /* the capability files sit under the minor the information file gives */
    int minor = 0;
    const char *dm = strstr(in.part[10], "Device Minor:");
    if (dm) {
        long v = strtol(dm + 13, NULL, 10);
        minor = v >= 0 && v < 1000 ? (int)v : 0;
    }
    snprintf(rel, sizeof rel, CAPS "%d/mig/gi1/ci0", minor);
    mkdirs(rel);
    snprintf(rel, sizeof rel, CAPS "%d/mig/gi1/access", minor);
    put(rel, &in, 11);
    snprintf(rel, sizeof rel, CAPS "%d/mig/gi1/ci0/access", minor);
    put(rel, &in, 12);

    static gpf_sysfs_host sys;
    static gpf_host_facts facts;
    static gpf_iso_plan plan;
    static gpf_chk_report rep;
    gpf_error err = {0};
    int have_sys = gpf_sysfs_read(root, &sys, &err) == 0;
    if (have_sys)
        check_sys(&sys);
    gpf_error_clear(&err);

    memset(&facts, 0, sizeof facts);
    facts.host.ngpus = 1;
    facts.host.cpus = 64;
    snprintf(facts.host.gpus[0].pci_bus_id, sizeof facts.host.gpus[0].pci_bus_id, "00000000:18:00.0");
    snprintf(facts.host.gpus[0].uuid, sizeof facts.host.gpus[0].uuid, "GPU-0");
    gpf_gpu_live_unknown(&facts.live[0]);
    facts.live[0].nmig = 1;
    facts.live[0].mig[0] = (gpf_gpu_mig_dev){.uuid = "MIG-0", .gi_id = 1, .ci_id = 0, .gi_profile_id = 9,
                                             .start = 0, .size = 4, .memory_mib = 20096};
    gpf_placement pl;
    memset(&pl, 0, sizeof pl);
    pl.ngpus = 1;
    snprintf(pl.gpu_uuids[0], sizeof pl.gpu_uuids[0], "GPU-0");
    pl.mig_profile_id = 9;
    pl.mig_size = 4;
    pl.numa_node = -1;
    gpf_iso_input iso = {&facts, have_sys ? &sys : NULL, in.part[13], &pl, GPF_SLICE_MIG, "MIG-0", root};
    if (gpf_iso_plan_make(&iso, &plan, &err) == 0) {
        char sum[96];
        if (plan.nnodes < 0 || plan.nnodes > GPF_ISO_MAX_NODES || plan.nmissing < 0 ||
            plan.nmissing > GPF_ISO_MAX_NODES)
            abort();
        for (int i = 0; i < plan.nnodes; i++)
            if (!plan.nodes[i].name[0] || strstr(plan.nodes[i].name, ".."))
                abort();
        gpf_iso_dev_summary(&plan, sum, sizeof sum);
    }
    gpf_error_clear(&err);

    gpf_chk_input chk = {.facts = &facts, .sys = have_sys ? &sys : NULL, .pod_cpus = in.part[13]};
    if (gpf_preflight_run(&chk, &rep, &err) == 0 &&
        (rep.n < 0 || rep.n > GPF_CHK_MAX || rep.verdict < GPF_CHK_PASS || rep.verdict > GPF_CHK_FAIL))
        abort();
    gpf_error_clear(&err);
    fz_parts_free(&in);
    return 0;
}
