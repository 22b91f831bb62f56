/* Host preflight: every finding on hand-built discovery and sysfs facts (a healthy two-socket
 * H100 host, then one fault at a time), the verdict and its exit level, the fixes, and the
 * input errors. The same checks on a sysfs fixture tree are in test_sysfs.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "agent/preflight.h"
#include "helpers/catalog_fixture.h"
#include "util/alloc.h"

static gpf_catalog *cat;
static gpf_host_facts fx;
static gpf_sysfs_host sys;
static gpf_chk_report rep;

static int setup(void **state)
{
    (void)state;
    gpf_error err = {0};
    cat = gpf_test_catalog_load(&err);
    return cat ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    gpf_catalog_free(cat);
    return 0;
}

/* 8 x H100 SXM5 at Gen5 x16, four per socket, idle and cool, driver 550; sysfs agrees. */
static void healthy(void)
{
    memset(&fx, 0, sizeof fx);
    memset(&sys, 0, sizeof sys);
    gpf_strlcpy(fx.host.id, "h100-a", sizeof fx.host.id);
    gpf_strlcpy(fx.host.backend, "nvml", sizeof fx.host.backend);
    gpf_strlcpy(fx.driver_version, "550.54.15", sizeof fx.driver_version);
    fx.host.ngpus = 8;
    sys.ncpus = 128;
    sys.numa_nodes = 2;
    sys.numa_cpus[0] = sys.numa_cpus[1] = 64;
    assert_int_equal(gpf_sysfs_cpulist_mask("0-31,64-95", sys.numa_mask[0], GPF_SYSFS_MAX_CPUS), 64);
    assert_int_equal(gpf_sysfs_cpulist_mask("32-63,96-127", sys.numa_mask[1], GPF_SYSFS_MAX_CPUS), 64);
    sys.iommu_enabled = 1;
    sys.ngpus = 8;
    for (int g = 0; g < 8; g++) {
        gpf_gpu_rec *r = &fx.host.gpus[g];
        r->index = g;
        gpf_strlcpy(r->model, "H100-80GB-SXM5", sizeof r->model);
        gpf_strlcpy(r->name, "NVIDIA H100 80GB HBM3", sizeof r->name);
        snprintf(r->pci_bus_id, sizeof r->pci_bus_id, "00000000:%02X:00.0", 0x18 + 0x10 * g);
        r->numa_node = g / 4;
        gpf_gpu_live *l = &fx.live[g];
        gpf_gpu_live_unknown(l);
        l->pci_device_id = 0x233010DE;
        l->pcie_gen = l->pcie_gen_max = 5;
        l->pcie_width = l->pcie_width_max = 16;
        l->util_gpu_pct = 0;
        l->temp_c = 35;
        l->temp_slowdown_c = 87;
        l->power_mw = 70000;
        l->power_limit_mw = 700000;
        gpf_sysfs_gpu *s = &sys.gpus[g];
        snprintf(s->bdf, sizeof s->bdf, "0000:%02x:00.0", 0x18 + 0x10 * g);
        s->vendor = 0x10de;
        s->device = 0x2330;
        s->numa_node = g / 4;
        s->link_gen_cur = s->link_gen_max = 5;
        s->link_width_cur = s->link_width_max = 16;
        s->iommu_group = 40 + g;
    }
}

static gpf_chk_input input(void)
{
    gpf_chk_input in;
    memset(&in, 0, sizeof in);
    in.facts = &fx;
    in.sys = &sys;
    in.cat = cat;
    in.driver_minimums = gpf_test_catalog_text("driver_minimums.csv");
    return in;
}

static void run(const gpf_chk_input *in)
{
    gpf_error err = {0};
    assert_int_equal(gpf_preflight_run(in, &rep, &err), 0);
}

/* The finding of check for GPU gpu (-1 = host); fails the test when absent. */
static const gpf_chk_finding *find(const char *check, int gpu)
{
    for (int i = 0; i < rep.n; i++)
        if (!strcmp(rep.f[i].check, check) && rep.f[i].gpu == gpu)
            return &rep.f[i];
    fail_msg("no %s finding for GPU %d", check, gpu);
    return NULL;
}

static int count(const char *check)
{
    int n = 0;
    for (int i = 0; i < rep.n; i++)
        n += !strcmp(rep.f[i].check, check);
    return n;
}

static void expect(const char *check, int gpu, gpf_chk_level lvl, const char *detail_part, const char *fix_part)
{
    const gpf_chk_finding *f = find(check, gpu);
    if (f->level != lvl)
        fail_msg("%s GPU %d: %s, expected %s (%s)", check, gpu, gpf_chk_level_name(f->level), gpf_chk_level_name(lvl),
                 f->detail);
    if (detail_part && !strstr(f->detail, detail_part))
        fail_msg("%s GPU %d detail '%s' lacks '%s'", check, gpu, f->detail, detail_part);
    if (fix_part && !strstr(f->fix, fix_part))
        fail_msg("%s GPU %d fix '%s' lacks '%s'", check, gpu, f->fix, fix_part);
    if (lvl == GPF_CHK_PASS || lvl == GPF_CHK_SKIP)
        assert_string_equal(f->fix, "");
    else
        assert_true(f->fix[0] != '\0'); /* every problem says what to do */
}

static void test_healthy_host_passes(void **state)
{
    (void)state;
    healthy();
    gpf_chk_input in = input();
    run(&in);
    assert_int_equal(rep.verdict, GPF_CHK_PASS);
    for (int i = 0; i < rep.n; i++)
        assert_int_equal(rep.f[i].level, GPF_CHK_PASS);
    expect("discovery", -1, GPF_CHK_PASS, "8 GPUs (backend nvml, driver 550.54.15)", NULL);
    expect("iommu", -1, GPF_CHK_PASS, "not needed for baremetal", NULL);
    expect("pcie-link", 3, GPF_CHK_PASS, "Gen5 x16, its maximum", NULL);
    expect("numa", 5, GPF_CHK_PASS, "node 1, 64 local CPUs", NULL);
    expect("driver", 0, GPF_CHK_PASS, "no minimum for H100-80GB-SXM5", NULL);
    expect("thermal", 7, GPF_CHK_PASS, "35 C, 52 C below its slowdown threshold (87 C)", NULL);
    expect("power", 2, GPF_CHK_PASS, "drawing 70 W of its 700 W limit", NULL);
    expect("model", 4, GPF_CHK_PASS, "H100-80GB-SXM5", NULL);
    /* checks that only apply to VM modes or vGPU are absent on bare metal */
    assert_int_equal(count("mmio"), 0);
    assert_int_equal(count("vgpu"), 0);
    assert_int_equal(rep.n, 2 + 8 * 6);
}

static void test_pcie_link(void **state)
{
    (void)state;
    healthy();
    fx.live[3].pcie_width = 8;
    fx.live[4].pcie_gen = 1; /* idle: GPUs lower the link speed */
    fx.live[5].pcie_gen = 3;
    fx.live[5].util_gpu_pct = 40;
    gpf_chk_input in = input();
    run(&in);
    expect("pcie-link", 3, GPF_CHK_FAIL, "link is x8 of x16", "reseat");
    expect("pcie-link", 4, GPF_CHK_PASS, "Gen1 of Gen5 while idle", NULL);
    expect("pcie-link", 5, GPF_CHK_WARN, "Gen3 of Gen5", "BIOS");
    assert_int_equal(rep.verdict, GPF_CHK_FAIL);

    /* without NVML's link facts the sysfs ones are used */
    healthy();
    for (int g = 0; g < 8; g++)
        fx.live[g].pcie_gen = fx.live[g].pcie_gen_max = fx.live[g].pcie_width = fx.live[g].pcie_width_max = -1;
    sys.gpus[6].link_width_cur = 4;
    run(&in);
    expect("pcie-link", 6, GPF_CHK_FAIL, "x4 of x16", NULL);
    in.sys = NULL;
    run(&in);
    expect("pcie-link", 6, GPF_CHK_SKIP, "not reported", NULL);
    assert_int_equal(rep.verdict, GPF_CHK_PASS); /* a skipped check never fails a host */
}

static void test_numa(void **state)
{
    (void)state;
    healthy();
    gpf_chk_input in = input();
    in.pod_cpus = "0-31,64-95"; /* pods may only run on node 0 */
    run(&in);
    expect("numa", 0, GPF_CHK_PASS, "node 0, 64 local CPUs", NULL);
    expect("numa", 4, GPF_CHK_FAIL, "the GPU is on node 1", "--pod-cpus");
    assert_int_equal(rep.verdict, GPF_CHK_FAIL);

    in.pod_cpus = "0-7,32-39";
    run(&in);
    expect("numa", 7, GPF_CHK_PASS, "node 1, 8 local CPUs", NULL);

    in.pod_cpus = NULL;
    fx.host.gpus[2].numa_node = -1;
    sys.gpus[2].numa_node = -1;
    fx.host.gpus[1].numa_node = -1; /* NVML silent, sysfs knows */
    run(&in);
    expect("numa", 2, GPF_CHK_WARN, "NUMA node is unknown on a 2-node host", "SRAT");
    expect("numa", 1, GPF_CHK_PASS, "node 0", NULL);

    fx.host.gpus[2].numa_node = 1;
    sys.numa_cpus[1] = 0; /* a node without CPUs */
    run(&in);
    expect("numa", 2, GPF_CHK_WARN, "node 1, which has no CPUs", NULL);

    healthy();
    sys.numa_nodes = 1;
    run(&in);
    expect("numa", 6, GPF_CHK_PASS, "one NUMA node", NULL);
}

static void test_iommu(void **state)
{
    (void)state;
    healthy();
    sys.iommu_enabled = 0;
    gpf_chk_input in = input();
    run(&in);
    expect("iommu", -1, GPF_CHK_PASS, "IOMMU off; not needed for baremetal pods", NULL);
    in.deploy_mode = "passthrough";
    in.vm_mmio_gb = 256;
    run(&in);
    expect("iommu", -1, GPF_CHK_FAIL, "IOMMU is off, but passthrough needs it", "intel_iommu=on");
    in.deploy_mode = "vgpu";
    run(&in);
    expect("iommu", -1, GPF_CHK_FAIL, "vgpu needs it", NULL);

    sys.iommu_enabled = 1;
    sys.gpus[1].iommu_group = sys.gpus[0].iommu_group;
    in.deploy_mode = "passthrough";
    run(&in);
    expect("iommu", -1, GPF_CHK_FAIL, "share IOMMU group 40", "ACS");
    sys.gpus[1].iommu_group = 41;
    run(&in);
    expect("iommu", -1, GPF_CHK_PASS, "one GPU per group", NULL);
    assert_int_equal(rep.verdict, GPF_CHK_PASS);
}

static void a100(int mig)
{
    healthy();
    fx.host.ngpus = 1;
    sys.ngpus = 1;
    gpf_strlcpy(fx.host.gpus[0].model, "A100-80GB-SXM4", sizeof fx.host.gpus[0].model);
    fx.host.gpus[0].mig_enabled = mig;
    fx.live[0].power_limit_mw = 400000;
}

static void test_driver_minimum(void **state)
{
    (void)state;
    gpf_chk_input in = input();
    a100(1);
    gpf_strlcpy(fx.driver_version, "520.61.05", sizeof fx.driver_version);
    run(&in);
    expect("driver", 0, GPF_CHK_FAIL, "older than 525.53, the minimum for MIG on A100-80GB-SXM4 (and the GPU is in MIG mode)",
           "525.53 or newer");
    a100(0);
    gpf_strlcpy(fx.driver_version, "520.61.05", sizeof fx.driver_version);
    run(&in);
    expect("driver", 0, GPF_CHK_WARN, "MIG slices cannot be offered", NULL);
    assert_int_equal(rep.verdict, GPF_CHK_WARN);
    a100(1);
    gpf_strlcpy(fx.driver_version, "525.53", sizeof fx.driver_version);
    run(&in);
    expect("driver", 0, GPF_CHK_PASS, "525.53 >= 525.53", NULL);
    fx.driver_version[0] = '\0';
    run(&in);
    expect("driver", 0, GPF_CHK_SKIP, "not reported", NULL);
}

static void test_mmio_and_vgpu(void **state)
{
    (void)state;
    healthy();
    gpf_chk_input in = input();
    in.deploy_mode = "passthrough";
    run(&in);
    assert_int_equal(count("mmio"), 1); /* once per model */
    expect("mmio", 0, GPF_CHK_WARN, "needs 256 GB of MMIO per VM (1 GPU); the VMs' MMIO size was not given",
           "pciPassthru.64bitMMIOSizeGB");
    in.vm_mmio_gb = 128;
    run(&in);
    expect("mmio", 0, GPF_CHK_FAIL, "VMs get 128 GB of MMIO; H100-80GB-SXM5 needs 256 GB", "at least 256 GB");
    in.vm_mmio_gb = 512;
    in.vm_gpus = 2;
    run(&in);
    expect("mmio", 0, GPF_CHK_PASS, "needs 512 GB", NULL);
    in.vm_gpus = 4;
    run(&in);
    expect("mmio", 0, GPF_CHK_FAIL, "needs 1024 GB per VM (4 GPUs)", NULL);
    assert_int_equal(count("vgpu"), 0);

    in.deploy_mode = "vgpu";
    in.vm_mmio_gb = 256;
    in.vm_gpus = 0;
    run(&in);
    expect("vgpu", 0, GPF_CHK_PASS, "supports vGPU", NULL);
    expect("mmio", 0, GPF_CHK_PASS, NULL, NULL);

    /* GB200 is bare-metal only: no vGPU; its MMIO is not in the catalog */
    for (int g = 0; g < 8; g++)
        gpf_strlcpy(fx.host.gpus[g].model, "GB200-186GB", sizeof fx.host.gpus[g].model);
    run(&in);
    expect("vgpu", 0, GPF_CHK_FAIL, "no vGPU (C-series) support for GB200-186GB", "bare metal");
    expect("mmio", 0, GPF_CHK_SKIP, "no MMIO figure", NULL);
    in.deploy_mode = NULL;
    in.vgpu_planned = 1; /* vGPU slices on a bare-metal host are checked too */
    run(&in);
    expect("vgpu", 0, GPF_CHK_FAIL, NULL, NULL);
}

static void test_thermal_and_power(void **state)
{
    (void)state;
    healthy();
    fx.live[0].temp_c = 84;
    fx.live[1].temp_c = 75;
    fx.live[2].temp_slowdown_c = -1;
    fx.live[2].temp_c = 88;
    fx.live[3].temp_c = -1;
    fx.live[4].power_limit_mw = 500000;
    fx.live[5].power_mw = 690000;
    fx.live[6].power_limit_mw = -1;
    gpf_chk_input in = input();
    run(&in);
    expect("thermal", 0, GPF_CHK_FAIL, "84 C, 3 C below", "airflow");
    expect("thermal", 1, GPF_CHK_WARN, "75 C, 12 C below", NULL);
    expect("thermal", 2, GPF_CHK_WARN, "88 C (no slowdown threshold reported)", NULL);
    expect("thermal", 3, GPF_CHK_SKIP, NULL, NULL);
    expect("power", 4, GPF_CHK_WARN, "power limit 500 W is below the H100-80GB-SXM5 TDP of 700 W", "power limit");
    expect("power", 5, GPF_CHK_WARN, "drawing 690 W of its 700 W limit", "processes");
    expect("power", 6, GPF_CHK_SKIP, NULL, NULL);
    assert_int_equal(rep.verdict, GPF_CHK_FAIL);
}

static void test_discovery_and_model(void **state)
{
    (void)state;
    healthy();
    fx.host.ngpus = 7; /* the bus has 8 */
    fx.host.gpus[6].model[0] = '\0';
    fx.live[6].pci_device_id = 0x12345678;
    gpf_chk_input in = input();
    run(&in);
    expect("discovery", -1, GPF_CHK_FAIL, "the PCI bus has 8 NVIDIA GPUs but the driver reports 7", "dmesg");
    expect("model", 6, GPF_CHK_WARN, "(PCI id 0x12345678) is not in the catalog", "gpus.csv");
    expect("driver", 6, GPF_CHK_PASS, "no minimum for this GPU", NULL);
    gpf_strlcpy(fx.host.gpus[6].model, "Z9000", sizeof fx.host.gpus[6].model);
    run(&in);
    expect("model", 6, GPF_CHK_WARN, "'Z9000' is not a catalog key", NULL);
    in.cat = NULL;
    run(&in);
    expect("model", 6, GPF_CHK_SKIP, "no catalog", NULL);

    /* the fake backend's GPUs are not on the bus: no comparison, and most facts unknown */
    healthy();
    gpf_strlcpy(fx.host.backend, "fake", sizeof fx.host.backend);
    fx.driver_version[0] = '\0';
    for (int g = 0; g < 8; g++)
        gpf_gpu_live_unknown(&fx.live[g]);
    sys.ngpus = 0;
    in.cat = cat;
    run(&in);
    expect("discovery", -1, GPF_CHK_PASS, "8 GPUs (backend fake)", NULL);
    expect("thermal", 0, GPF_CHK_SKIP, NULL, NULL);
    expect("pcie-link", 0, GPF_CHK_SKIP, NULL, NULL);
    assert_int_equal(rep.verdict, GPF_CHK_PASS);

    fx.host.ngpus = 0;
    run(&in);
    expect("discovery", -1, GPF_CHK_WARN, "no NVIDIA GPU discovered", "nvidia-smi");
    assert_int_equal(rep.n, 2);
    in.discovery_error = "no NVIDIA driver library (libnvidia-ml.so.1) on this host";
    run(&in);
    expect("discovery", -1, GPF_CHK_FAIL, "cannot discover GPUs: no NVIDIA driver library", "NVIDIA driver");
    assert_int_equal(rep.verdict, GPF_CHK_FAIL);
}

static void test_input_errors(void **state)
{
    (void)state;
    healthy();
    gpf_chk_input in = input();
    gpf_error err = {0};
    in.deploy_mode = "kvm";
    assert_int_equal(gpf_preflight_run(&in, &rep, &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "unknown deploy mode 'kvm'"));
    in.deploy_mode = NULL;
    in.pod_cpus = "0-x";
    assert_int_equal(gpf_preflight_run(&in, &rep, &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "not a CPU list"));
    in.pod_cpus = NULL;
    in.driver_minimums = "gpu_model_prefix,feature\nA100,mig\n";
    assert_int_equal(gpf_preflight_run(&in, &rep, &err), GPF_EINVAL);
    in.facts = NULL;
    in.driver_minimums = NULL;
    assert_int_equal(gpf_preflight_run(&in, &rep, &err), GPF_EINVAL);
}

static void test_helpers(void **state)
{
    (void)state;
    assert_true(gpf_driver_version_cmp("535.183.01", "525.53") > 0);
    assert_true(gpf_driver_version_cmp("525.53", "525.53.0") == 0);
    assert_true(gpf_driver_version_cmp("525.5", "525.53") < 0);
    assert_true(gpf_driver_version_cmp("570.133.20", "570.133.9") > 0);
    assert_true(gpf_driver_version_cmp("", "1") < 0);
    char out[16];
    assert_int_equal(gpf_pci_addr_norm("00000000:18:00.0", out, sizeof out), 0);
    assert_string_equal(out, "0000:18:00.0");
    assert_int_equal(gpf_pci_addr_norm("0000:DB:1F.7", out, sizeof out), 0);
    assert_string_equal(out, "0000:db:1f.7");
    assert_int_equal(gpf_pci_addr_norm("0000:18:00", out, sizeof out), -1);
    assert_int_equal(gpf_pci_addr_norm("0000:18:00.0x", out, sizeof out), -1);
    assert_int_equal(gpf_pci_addr_norm("0000:18:20.0", out, sizeof out), -1);
    assert_string_equal(gpf_chk_level_name(GPF_CHK_WARN), "warn");
    assert_string_equal(gpf_chk_level_name(GPF_CHK_SKIP), "skip");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_healthy_host_passes), cmocka_unit_test(test_pcie_link),
        cmocka_unit_test(test_numa),                cmocka_unit_test(test_iommu),
        cmocka_unit_test(test_driver_minimum),      cmocka_unit_test(test_mmio_and_vgpu),
        cmocka_unit_test(test_thermal_and_power),   cmocka_unit_test(test_discovery_and_model),
        cmocka_unit_test(test_input_errors),        cmocka_unit_test(test_helpers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
