/* Host facts from sysfs on fixture trees the test writes: a healthy two-socket H100 host, a
 * degraded PCIe link, IOMMU off, GPUs whose NUMA node the platform does not report; plus the
 * parsers, and a sanity read of this machine's own /sys. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/preflight.h"
#include "agent/sysfs.h"
#include "util/alloc.h"

static char root[PATH_MAX];

static void mkdirs(const char *path)
{
    char tmp[PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    }
    mkdir(tmp, 0755);
}

static void put(const char *rel, const char *text)
{
    char path[PATH_MAX + 64], dir[PATH_MAX + 64];
    assert_true(snprintf(path, sizeof path, "%s%s", root, rel) < (int)sizeof path);
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    mkdirs(dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void link_group(const char *bdf, int group)
{
    char rel[PATH_MAX + 64], target[128], path[PATH_MAX + 64];
    assert_true(snprintf(rel, sizeof rel, "%s/sys/kernel/iommu_groups/%d/devices", root, group) < (int)sizeof rel);
    mkdirs(rel);
    assert_true(snprintf(path, sizeof path, "%s/sys/bus/pci/devices/%s/iommu_group", root, bdf) < (int)sizeof path);
    snprintf(target, sizeof target, "../../../../kernel/iommu_groups/%d", group);
    assert_int_equal(symlink(target, path), 0);
}

static void gpu(const char *bdf, const char *device, int node, const char *cur, const char *max, int wcur, int wmax)
{
    char rel[256], buf[64];
#define F(name, value)                                                                                                 \
    do {                                                                                                               \
        snprintf(rel, sizeof rel, "/sys/bus/pci/devices/%s/" name, bdf);                                               \
        put(rel, value);                                                                                               \
    } while (0)
    F("vendor", "0x10de\n");
    F("device", device);
    F("class", "0x030200\n");
    snprintf(buf, sizeof buf, "%d\n", node);
    F("numa_node", buf);
    F("current_link_speed", cur);
    F("max_link_speed", max);
    snprintf(buf, sizeof buf, "%d\n", wcur);
    F("current_link_width", buf);
    snprintf(buf, sizeof buf, "%d\n", wmax);
    F("max_link_width", buf);
#undef F
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int fresh_root(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/gpf-sysfs-XXXXXX");
    return mkdtemp(root) ? 0 : -1;
}

static int drop_root(void **state)
{
    (void)state;
    return nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Two sockets, 128 CPUs (SMT siblings interleaved as on real hosts), 8 x H100 SXM at
 * PCIe 5.0 x16, four per node, each in its own IOMMU group; an Intel bridge beside them. */
static void two_socket_h100(void)
{
    put("/sys/devices/system/cpu/online", "0-127\n");
    put("/sys/devices/system/node/node0/cpulist", "0-31,64-95\n");
    put("/sys/devices/system/node/node1/cpulist", "32-63,96-127\n");
    static const char *const bdf[] = {"0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0", "0000:5d:00.0",
                                      "0000:9a:00.0", "0000:ab:00.0", "0000:ba:00.0", "0000:db:00.0"};
    for (int i = 0; i < 8; i++) {
        gpu(bdf[i], "0x2330\n", i / 4, "32.0 GT/s PCIe\n", "32.0 GT/s PCIe\n", 16, 16);
        link_group(bdf[i], 40 + i);
    }
    put("/sys/bus/pci/devices/0000:00:00.0/vendor", "0x8086\n");
    put("/sys/bus/pci/devices/0000:00:00.0/class", "0x060000\n");
}

/* The preflight on what sysfs read, with discovery facts that know only the GPUs' PCI
 * addresses (so link and NUMA facts come from the fixture tree). */
static gpf_chk_report *preflight(const gpf_sysfs_host *h, const char *mode, const char *pod_cpus)
{
    static gpf_host_facts fx;
    static gpf_chk_report rep;
    memset(&fx, 0, sizeof fx);
    gpf_strlcpy(fx.host.backend, "nvml", sizeof fx.host.backend);
    fx.host.ngpus = h->ngpus;
    for (int g = 0; g < h->ngpus; g++) {
        gpf_strlcpy(fx.host.gpus[g].pci_bus_id, h->gpus[g].bdf, sizeof fx.host.gpus[g].pci_bus_id);
        fx.host.gpus[g].numa_node = -1;
        gpf_gpu_live_unknown(&fx.live[g]);
    }
    gpf_chk_input in;
    memset(&in, 0, sizeof in);
    in.facts = &fx;
    in.sys = h;
    in.deploy_mode = mode;
    in.pod_cpus = pod_cpus;
    gpf_error err = {0};
    assert_int_equal(gpf_preflight_run(&in, &rep, &err), 0);
    return &rep;
}

static gpf_chk_level level_of(const gpf_chk_report *r, const char *check, int gpu)
{
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->f[i].check, check) && r->f[i].gpu == gpu)
            return r->f[i].level;
    fail_msg("no %s finding for GPU %d", check, gpu);
    return GPF_CHK_SKIP;
}

static void test_healthy_two_socket(void **state)
{
    (void)state;
    two_socket_h100();
    gpf_sysfs_host h;
    gpf_error err = {0};
    assert_int_equal(gpf_sysfs_read(root, &h, &err), 0);
    assert_int_equal(h.ncpus, 128);
    assert_int_equal(h.numa_nodes, 2);
    assert_int_equal(h.numa_cpus[0], 64);
    assert_int_equal(h.numa_cpus[1], 64);
    assert_true(h.iommu_enabled);
    assert_int_equal(h.ngpus, 8); /* the bridge is not a GPU */
    assert_string_equal(h.gpus[0].bdf, "0000:18:00.0");
    assert_string_equal(h.gpus[7].bdf, "0000:db:00.0");
    for (int i = 0; i < 8; i++) {
        assert_int_equal(h.gpus[i].vendor, 0x10de);
        assert_int_equal(h.gpus[i].device, 0x2330);
        assert_int_equal(h.gpus[i].class_code, 0x030200);
        assert_int_equal(h.gpus[i].numa_node, i / 4);
        assert_int_equal(h.gpus[i].link_gen_cur, 5);
        assert_int_equal(h.gpus[i].link_gen_max, 5);
        assert_int_equal(h.gpus[i].link_width_cur, 16);
        assert_int_equal(h.gpus[i].link_width_max, 16);
        assert_int_equal(h.gpus[i].iommu_group, 40 + i);
    }
    assert_true(h.numa_mask[0][0] == 0x00000000ffffffffULL && h.numa_mask[0][1] == 0x00000000ffffffffULL);
    assert_true(h.numa_mask[1][0] == 0xffffffff00000000ULL && h.numa_mask[1][1] == 0xffffffff00000000ULL);
    gpf_chk_report *r = preflight(&h, "passthrough", NULL);
    assert_int_equal(level_of(r, "iommu", -1), GPF_CHK_PASS);
    assert_int_equal(level_of(r, "numa", 5), GPF_CHK_PASS);
    assert_int_equal(level_of(r, "pcie-link", 7), GPF_CHK_PASS);
    assert_int_equal(r->verdict, GPF_CHK_PASS); /* (no catalog here: the MMIO check skips) */
}

static void test_degraded_link(void **state)
{
    (void)state;
    put("/sys/devices/system/cpu/online", "0-63\n");
    put("/sys/devices/system/node/node0/cpulist", "0-63\n");
    gpu("0000:41:00.0", "0x2331\n", 0, "16.0 GT/s PCIe\n", "32.0 GT/s PCIe\n", 8, 16);
    gpu("0000:42:00.0", "0x2331\n", 0, "2.5 GT/s PCIe\n", "32.0 GT/s PCIe\n", 16, 16); /* idle link power saving */
    gpf_sysfs_host h;
    gpf_error err = {0};
    assert_int_equal(gpf_sysfs_read(root, &h, &err), 0);
    assert_int_equal(h.ngpus, 2);
    assert_int_equal(h.gpus[0].link_gen_cur, 4);
    assert_int_equal(h.gpus[0].link_gen_max, 5);
    assert_int_equal(h.gpus[0].link_width_cur, 8);
    assert_int_equal(h.gpus[0].link_width_max, 16);
    assert_int_equal(h.gpus[1].link_gen_cur, 1);
    gpf_chk_report *r = preflight(&h, NULL, NULL);
    assert_int_equal(level_of(r, "pcie-link", 0), GPF_CHK_FAIL); /* x8 of x16 */
    assert_int_equal(level_of(r, "pcie-link", 1), GPF_CHK_WARN); /* Gen1, load unknown */
    assert_int_equal(r->verdict, GPF_CHK_FAIL);
}

static void test_iommu_off_and_unknown_numa(void **state)
{
    (void)state;
    put("/sys/devices/system/cpu/online", "0-15\n");
    /* no node directory at all, no IOMMU groups, numa_node -1 (single-socket or hidden) */
    gpu("0000:01:00.0", "0x26b9\n", -1, "16.0 GT/s PCIe\n", "16.0 GT/s PCIe\n", 16, 16);
    put("/sys/bus/pci/devices/0000:01:00.0/class", "0x030000\n"); /* a VGA-class board */
    gpf_sysfs_host h;
    gpf_error err = {0};
    assert_int_equal(gpf_sysfs_read(root, &h, &err), 0);
    assert_int_equal(h.ncpus, 16);
    assert_int_equal(h.numa_nodes, 0);
    assert_false(h.iommu_enabled);
    assert_int_equal(h.ngpus, 1);
    assert_int_equal(h.gpus[0].numa_node, -1);
    assert_int_equal(h.gpus[0].iommu_group, -1);
    assert_int_equal(h.gpus[0].class_code, 0x030000);
    gpf_chk_report *r = preflight(&h, "passthrough", NULL);
    assert_int_equal(level_of(r, "iommu", -1), GPF_CHK_FAIL);
    r = preflight(&h, "baremetal", NULL);
    assert_int_equal(level_of(r, "iommu", -1), GPF_CHK_PASS);
    /* an empty /sys/class/iommu is still off; one entry turns it on */
    put("/sys/class/iommu/dmar0/uevent", "");
    assert_int_equal(gpf_sysfs_read(root, &h, &err), 0);
    assert_true(h.iommu_enabled);
}

static void test_cross_numa_facts(void **state)
{
    (void)state;
    /* All four GPUs hang off socket 1 while socket 0 has the CPUs that are free: the facts a
     * cross-NUMA placement check needs (GPU node vs CPU nodes). */
    put("/sys/devices/system/cpu/online", "0-47\n");
    put("/sys/devices/system/node/node0/cpulist", "0-23\n");
    put("/sys/devices/system/node/node1/cpulist", "24-47\n");
    for (int i = 0; i < 4; i++) {
        char bdf[32];
        snprintf(bdf, sizeof bdf, "0000:c%d:00.0", i);
        gpu(bdf, "0x20b5\n", 1, "16.0 GT/s PCIe\n", "16.0 GT/s PCIe\n", 16, 16);
    }
    gpf_sysfs_host h;
    gpf_error err = {0};
    assert_int_equal(gpf_sysfs_read(root, &h, &err), 0);
    assert_int_equal(h.numa_nodes, 2);
    assert_int_equal(h.numa_cpus[0], 24);
    assert_int_equal(h.numa_cpus[1], 24);
    for (int i = 0; i < 4; i++)
        assert_int_equal(h.gpus[i].numa_node, 1);
    /* pods confined to socket 0: every GPU's pods would run on remote CPUs */
    gpf_chk_report *r = preflight(&h, NULL, "0-23");
    for (int i = 0; i < 4; i++)
        assert_int_equal(level_of(r, "numa", i), GPF_CHK_FAIL);
    assert_int_equal(r->verdict, GPF_CHK_FAIL);
    r = preflight(&h, NULL, "0-23,40-47");
    assert_int_equal(level_of(r, "numa", 2), GPF_CHK_PASS);
    assert_int_equal(r->verdict, GPF_CHK_PASS);
}

static void test_missing_and_malformed(void **state)
{
    (void)state;
    gpf_sysfs_host h;
    gpf_error err = {0};
    assert_int_equal(gpf_sysfs_read(root, &h, &err), GPF_EIO);
    assert_non_null(strstr(err.msg, "cpu/online"));
    put("/sys/devices/system/cpu/online", "zero\n");
    assert_int_equal(gpf_sysfs_read(root, &h, &err), GPF_EIO);
    assert_non_null(strstr(err.msg, "not a CPU list"));
}

static void test_parsers(void **state)
{
    (void)state;
    assert_int_equal(gpf_sysfs_cpulist_count("0"), 1);
    assert_int_equal(gpf_sysfs_cpulist_count("0-31,64-95"), 64);
    assert_int_equal(gpf_sysfs_cpulist_count("1,3,5-7"), 5);
    assert_int_equal(gpf_sysfs_cpulist_count("5-3"), -1);
    assert_int_equal(gpf_sysfs_cpulist_count("0-"), -1);
    assert_int_equal(gpf_sysfs_cpulist_count("a"), -1);
    /* CPU numbers no kernel has: refused, never an overflowed count */
    assert_int_equal(gpf_sysfs_cpulist_count("0-9223372036854775807"), -1);
    assert_int_equal(gpf_sysfs_cpulist_count("4194304"), -1);
    assert_int_equal(gpf_sysfs_cpulist_count("0-4194303,0-4194303"), 8388608);
    assert_int_equal(gpf_sysfs_link_gen("2.5 GT/s PCIe"), 1);
    assert_int_equal(gpf_sysfs_link_gen("5.0 GT/s PCIe"), 2);
    assert_int_equal(gpf_sysfs_link_gen("8.0 GT/s PCIe"), 3);
    assert_int_equal(gpf_sysfs_link_gen("16.0 GT/s PCIe"), 4);
    assert_int_equal(gpf_sysfs_link_gen("32.0 GT/s PCIe"), 5);
    assert_int_equal(gpf_sysfs_link_gen("64.0 GT/s PCIe"), 6);
    assert_int_equal(gpf_sysfs_link_gen("Unknown"), 0);
    assert_int_equal(gpf_sysfs_link_gen("12.0 GT/s"), 0);
}

/* This machine's own /sys parses, and agrees with the C library on the CPU count. */
static void test_this_machine(void **state)
{
    (void)state;
    gpf_sysfs_host h;
    gpf_error err = {0};
    assert_int_equal(gpf_sysfs_read("/", &h, &err), 0);
    assert_int_equal(h.ncpus, (int)sysconf(_SC_NPROCESSORS_ONLN));
    int sum = 0;
    for (int i = 0; i < h.numa_nodes; i++)
        sum += h.numa_cpus[i];
    if (h.numa_nodes > 0)
        assert_int_equal(sum, h.ncpus);
    printf("# this machine: %d CPUs, %d NUMA nodes, IOMMU %s, %d NVIDIA GPUs\n", h.ncpus, h.numa_nodes,
           h.iommu_enabled ? "on" : "off", h.ngpus);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_healthy_two_socket, fresh_root, drop_root),
        cmocka_unit_test_setup_teardown(test_degraded_link, fresh_root, drop_root),
        cmocka_unit_test_setup_teardown(test_iommu_off_and_unknown_numa, fresh_root, drop_root),
        cmocka_unit_test_setup_teardown(test_cross_numa_facts, fresh_root, drop_root),
        cmocka_unit_test_setup_teardown(test_missing_and_malformed, fresh_root, drop_root),
        cmocka_unit_test(test_parsers),
        cmocka_unit_test(test_this_machine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
