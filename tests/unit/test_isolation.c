/* Pod isolation: the plan (device nodes, MIG capability files, CPU pinning) on fixture
 * /dev and /proc trees, and the cgroup v2 file logic of the process runtime on a fake
 * cgroup root made of plain files. The real sandbox, pinning and cgroup are tested with
 * real pods in test_runtime. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/gpu_backend.h"
#include "agent/isolation.h"
#include "agent/runtime_int.h"
#include "helpers/tree_fixture.h"
#include "util/alloc.h"

static char root[PATH_MAX];       /* the fixture host: dev/, proc/driver/nvidia/ */
static gpf_host_facts *facts;
static gpf_sysfs_host *sys;

static const char CAP_FILE[] = "DeviceFileMinor: %d\nDeviceFileMode: 292\nDeviceFileModify: 1\n";

static void put_cap(const char *rel, int minor)
{
    char text[128];
    snprintf(text, sizeof text, CAP_FILE, minor);
    gpf_test_tree_put(root, rel, text);
}

static void add_gpu(int g, const char *uuid, const char *bus, int minor, int numa)
{
    gpf_gpu_rec *r = &facts->host.gpus[g];
    r->index = g;
    gpf_strlcpy(r->uuid, uuid, sizeof r->uuid);
    gpf_strlcpy(r->pci_bus_id, bus, sizeof r->pci_bus_id);
    r->numa_node = numa;
    facts->live[g].minor = minor;
    facts->host.ngpus = g + 1;
}

static void add_mig(int g, const char *uuid, int gi, int ci, int profile, int start, int size)
{
    gpf_gpu_mig_dev *m = &facts->live[g].mig[facts->live[g].nmig++];
    gpf_strlcpy(m->uuid, uuid, sizeof m->uuid);
    m->gi_id = gi;
    m->ci_id = ci;
    m->gi_profile_id = profile;
    m->start = start;
    m->size = size;
    facts->host.gpus[g].mig_enabled = 1;
}

/* A two-socket host: GPU 0 is /dev/nvidia1, GPU 1 (MIG) /dev/nvidia0 with a 3g.40gb
 * (gi 2, ci 0) and a 1g.10gb (gi 9, ci 0), GPU 2 does not tell its minor (the driver's
 * /proc file does: 5). No nvidia-uvm-tools; no capability file for gi 9. */
static int setup(void **state)
{
    (void)state;
    gpf_test_tree_new("gpf-iso", root, sizeof root);
    facts = GPF_NEW(gpf_host_facts);
    for (int g = 0; g < GPF_MAX_HOST_GPUS; g++)
        gpf_gpu_live_unknown(&facts->live[g]);
    add_gpu(0, "GPU-aaaa", "00000000:18:00.0", 1, 0);
    add_gpu(1, "GPU-bbbb", "00000000:9A:00.0", 0, 1);
    add_gpu(2, "GPU-cccc", "00000000:3B:00.0", -1, 0);
    add_mig(1, "MIG-large", 2, 0, 9, 4, 4);
    add_mig(1, "MIG-small", 9, 0, 19, 0, 1);
    for (const char *const *n = (const char *const[]){"nvidia0", "nvidia1", "nvidia5", "nvidiactl", "nvidia-uvm",
                                                       "nvidia-caps/nvidia-cap21", "nvidia-caps/nvidia-cap22", NULL};
         *n; n++) {
        char rel[64];
        snprintf(rel, sizeof rel, "dev/%s", *n);
        gpf_test_tree_put(root, rel, "");
    }
    put_cap("proc/driver/nvidia/capabilities/gpu0/mig/gi2/access", 21);
    put_cap("proc/driver/nvidia/capabilities/gpu0/mig/gi2/ci0/access", 22);
    gpf_test_tree_put(root, "proc/driver/nvidia/gpus/0000:3b:00.0/information",
                      "Model: \t\t NVIDIA H100 80GB HBM3\nIRQ:   \t\t 42\nDevice Minor: \t 5\n");
    sys = GPF_NEW(gpf_sysfs_host);
    sys->ncpus = 16;
    sys->numa_nodes = 2;
    assert_int_equal(gpf_sysfs_cpulist_mask("0-7", sys->numa_mask[0], GPF_SYSFS_MAX_CPUS), 8);
    assert_int_equal(gpf_sysfs_cpulist_mask("8-15", sys->numa_mask[1], GPF_SYSFS_MAX_CPUS), 8);
    sys->numa_cpus[0] = sys->numa_cpus[1] = 8;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gpf_test_tree_rm(root);
    gpf_free(facts);
    gpf_free(sys);
    return 0;
}

static gpf_placement placement(int ngpus, const int *idx, int numa)
{
    gpf_placement pl;
    memset(&pl, 0, sizeof pl);
    pl.ngpus = ngpus;
    for (int i = 0; i < ngpus; i++)
        pl.gpu_index[i] = idx[i];
    pl.mig_profile_id = -1;
    pl.numa_node = numa;
    return pl;
}

/* Plans with the fixture host; fails the test on an error. */
static gpf_iso_plan *plan(const gpf_placement *pl, gpf_slice_kind kind, const char *pod_cpus, const char *ids)
{
    gpf_iso_plan *p = GPF_NEW(gpf_iso_plan);
    gpf_iso_input in = {facts, sys, pod_cpus, pl, kind, ids, root};
    gpf_error err = {0};
    if (gpf_iso_plan_make(&in, p, &err) != 0)
        fail_msg("plan: %s", gpf_error_msg(&err));
    return p;
}

static void assert_summary(const gpf_iso_plan *p, const char *want)
{
    char got[GPF_TEXT_MAX];
    gpf_iso_dev_summary(p, got, sizeof got);
    assert_string_equal(got, want);
}

static void test_whole_gpu(void **state)
{
    (void)state;
    gpf_placement pl = placement(1, (const int[]){0}, 0);
    gpf_strlcpy(pl.gpu_uuids[0], "GPU-aaaa", sizeof pl.gpu_uuids[0]);
    gpf_iso_plan *p = plan(&pl, GPF_SLICE_WHOLE, NULL, "GPU-aaaa");
    assert_int_equal(p->kind, GPF_SLICE_WHOLE);
    assert_int_equal(p->ngpus, 1);
    assert_int_equal(p->nnodes, 3);
    assert_string_equal(p->nodes[0].name, "nvidia1"); /* its minor, not its index */
    char want[PATH_MAX + 32];
    snprintf(want, sizeof want, "%s/dev/nvidia1", root);
    assert_string_equal(p->nodes[0].host_path, want);
    assert_string_equal(p->nodes[1].name, "nvidiactl");
    assert_string_equal(p->nodes[2].name, "nvidia-uvm");
    assert_int_equal(p->nmissing, 1);
    assert_string_equal(p->missing[0], "nvidia-uvm-tools");
    assert_summary(p, "dev nvidia1,nvidiactl,nvidia-uvm; missing nvidia-uvm-tools");
    assert_int_equal(p->pin, 1);
    assert_int_equal(p->numa_node, 0);
    assert_int_equal(p->cpu_mask[0], 0xffULL);
    assert_string_equal(p->cpu_note, "cpus 0-7 (numa 0)");
    gpf_free(p);
}

static void test_two_gpus(void **state)
{
    (void)state;
    gpf_placement pl = placement(2, (const int[]){0, 1}, 1); /* by index: no UUIDs */
    gpf_iso_plan *p = plan(&pl, GPF_SLICE_WHOLE, "", "");
    assert_summary(p, "dev nvidia1,nvidia0,nvidiactl,nvidia-uvm; missing nvidia-uvm-tools");
    assert_string_equal(p->cpu_note, "cpus 8-15 (numa 1)");
    assert_int_equal(p->cpu_mask[0], 0xff00ULL);
    gpf_free(p);
}

static void test_mig_slice(void **state)
{
    (void)state;
    gpf_placement pl = placement(1, (const int[]){1}, 1);
    pl.mig_profile_id = 9;
    pl.mig_start = 4;
    pl.mig_size = 4;
    /* Found by placement: /dev/nvidia0 and the capabilities of gi 2 and gi 2/ci 0. */
    gpf_iso_plan *p = plan(&pl, GPF_SLICE_MIG, NULL, NULL);
    assert_int_equal(p->mig_unknown, 0);
    assert_summary(p, "dev nvidia0,nvidia-cap21,nvidia-cap22,nvidiactl,nvidia-uvm; missing nvidia-uvm-tools");
    assert_string_equal(p->nodes[1].name, "nvidia-caps/nvidia-cap21");
    char want[PATH_MAX + 32];
    snprintf(want, sizeof want, "%s/dev/nvidia-caps/nvidia-cap22", root);
    assert_string_equal(p->nodes[2].host_path, want);
    gpf_free(p);
    /* Found by the id the pod sees; its capability files are not there. */
    p = plan(&pl, GPF_SLICE_MIG, NULL, "MIG-small");
    assert_int_equal(p->mig_unknown, 0);
    assert_summary(p, "dev nvidia0,nvidiactl,nvidia-uvm; missing nvidia-cap(gi9),nvidia-cap(gi9/ci0),nvidia-uvm-tools");
    gpf_free(p);
    /* A MIG device the facts do not hold (made since the last discovery). */
    pl.mig_start = 2;
    pl.mig_size = 2;
    p = plan(&pl, GPF_SLICE_MIG, NULL, "MIG-unknown");
    assert_int_equal(p->mig_unknown, 1);
    assert_summary(p, "dev nvidia0,nvidiactl,nvidia-uvm; missing nvidia-cap(mig@2),nvidia-uvm-tools");
    gpf_free(p);
}

/* A MIG-backed vGPU (H100XM-3-40C: a 3g.40gb instance) gets the same nodes as a MIG slice of
 * that profile at that placement, and plans as MIG (isolation "hardware"); a time-sliced
 * vGPU on the same GPU gets only the GPU node and plans as vGPU ("device"). */
static void test_mig_backed_vgpu(void **state)
{
    (void)state;
    gpf_placement pl = placement(1, (const int[]){1}, 1);
    pl.mig_profile_id = 9;
    pl.mig_start = 4;
    pl.mig_size = 4;
    gpf_iso_plan *mig = plan(&pl, GPF_SLICE_MIG, NULL, NULL);
    gpf_strlcpy(pl.vgpu_type, "H100XM-3-40C", sizeof pl.vgpu_type);
    gpf_iso_plan *p = plan(&pl, GPF_SLICE_VGPU, NULL, NULL);
    assert_int_equal(p->kind, GPF_SLICE_MIG);
    assert_int_equal(p->mig_unknown, 0);
    assert_summary(p, "dev nvidia0,nvidia-cap21,nvidia-cap22,nvidiactl,nvidia-uvm; missing nvidia-uvm-tools");
    assert_int_equal(p->nnodes, mig->nnodes);
    for (int i = 0; i < p->nnodes; i++) {
        assert_string_equal(p->nodes[i].name, mig->nodes[i].name);
        assert_string_equal(p->nodes[i].host_path, mig->nodes[i].host_path);
    }
    gpf_free(p);
    /* by the MIG device id the pod sees, as for a MIG slice */
    p = plan(&pl, GPF_SLICE_VGPU, NULL, "MIG-large");
    assert_int_equal(p->kind, GPF_SLICE_MIG);
    assert_summary(p, "dev nvidia0,nvidia-cap21,nvidia-cap22,nvidiactl,nvidia-uvm; missing nvidia-uvm-tools");
    gpf_free(p);
    /* its MIG device not in the facts yet: the agent is told to discover again */
    pl.mig_start = 0;
    pl.mig_size = 4;
    p = plan(&pl, GPF_SLICE_VGPU, NULL, NULL);
    assert_int_equal(p->mig_unknown, 1);
    assert_summary(p, "dev nvidia0,nvidiactl,nvidia-uvm; missing nvidia-cap(mig@0),nvidia-uvm-tools");
    gpf_free(p);
    /* time-sliced: the whole GPU's node only */
    gpf_placement ts = placement(1, (const int[]){0}, 0);
    gpf_strlcpy(ts.vgpu_type, "L40S-12C", sizeof ts.vgpu_type);
    p = plan(&ts, GPF_SLICE_VGPU, NULL, NULL);
    assert_int_equal(p->kind, GPF_SLICE_VGPU);
    assert_int_equal(p->mig_unknown, 0);
    assert_summary(p, "dev nvidia1,nvidiactl,nvidia-uvm; missing nvidia-uvm-tools");
    gpf_free(p);
    gpf_free(mig);
}

static void test_share(void **state)
{
    (void)state;
    /* GPU 2: NVML did not tell its minor, the driver's /proc file does. */
    gpf_placement pl = placement(1, (const int[]){2}, 0);
    pl.share_milli = 250;
    gpf_iso_plan *p = plan(&pl, GPF_SLICE_SHARE, NULL, NULL);
    assert_int_equal(p->kind, GPF_SLICE_SHARE);
    assert_summary(p, "dev nvidia5,nvidiactl,nvidia-uvm; missing nvidia-uvm-tools");
    gpf_free(p);
}

static void test_missing_nodes(void **state)
{
    (void)state;
    char empty[PATH_MAX];
    gpf_test_tree_new("gpf-iso-empty", empty, sizeof empty);
    gpf_placement pl = placement(2, (const int[]){0, 7}, 0); /* GPU 7: not on this host */
    gpf_iso_plan *p = GPF_NEW(gpf_iso_plan);
    gpf_iso_input in = {facts, sys, NULL, &pl, GPF_SLICE_WHOLE, NULL, empty};
    assert_int_equal(gpf_iso_plan_make(&in, p, NULL), 0);
    assert_int_equal(p->nnodes, 0);
    assert_summary(p, "dev none; missing nvidia1,nvidia(gpu7),nvidiactl,nvidia-uvm,nvidia-uvm-tools");
    /* A pod without a GPU gets no node and misses none. */
    gpf_placement none = placement(0, NULL, -1);
    in.placement = &none;
    assert_int_equal(gpf_iso_plan_make(&in, p, NULL), 0);
    assert_int_equal(p->nnodes + p->nmissing, 0);
    assert_summary(p, "dev none");
    /* No facts at all: the GPU is unknown. */
    in.placement = &pl;
    in.facts = NULL;
    in.root = NULL; /* "/" */
    assert_int_equal(gpf_iso_plan_make(&in, p, NULL), 0);
    assert_string_equal(p->missing[0], "nvidia(gpu0)");
    /* Bad input. */
    gpf_error err = {0};
    in.placement = NULL;
    assert_int_equal(gpf_iso_plan_make(&in, p, &err), GPF_EINVAL);
    pl.ngpus = GPF_MAX_POD_GPUS + 1;
    in.placement = &pl;
    assert_int_equal(gpf_iso_plan_make(&in, p, &err), GPF_EINVAL);
    gpf_free(p);
    gpf_test_tree_rm(empty);
}

static void test_numa_pod_cpus(void **state)
{
    (void)state;
    gpf_placement pl = placement(1, (const int[]){0}, 0);
    gpf_iso_plan *p = plan(&pl, GPF_SLICE_WHOLE, "4-11", NULL);
    assert_string_equal(p->cpu_note, "cpus 4-7 (numa 0)");
    assert_int_equal(p->cpu_mask[0], 0xf0ULL);
    gpf_free(p);
    pl.numa_node = 1;
    p = plan(&pl, GPF_SLICE_WHOLE, "4-11", NULL);
    assert_string_equal(p->cpu_note, "cpus 8-11 (numa 1)");
    gpf_free(p);
    /* The node has none of the pod CPUs: the pod CPUs, and the note says why. */
    pl.numa_node = 0;
    p = plan(&pl, GPF_SLICE_WHOLE, "12-15", NULL);
    assert_int_equal(p->pin, 1);
    assert_int_equal(p->numa_node, -1);
    assert_string_equal(p->cpu_note, "cpus 12-15 (pod-cpus; numa 0 outside pod-cpus)");
    gpf_free(p);
    gpf_iso_plan bad;
    gpf_error err = {0};
    gpf_iso_input in = {facts, sys, "0-x", &pl, GPF_SLICE_WHOLE, NULL, root};
    assert_int_equal(gpf_iso_plan_make(&in, &bad, &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "not a CPU list"));
}

static void test_numa_unknown(void **state)
{
    (void)state;
    gpf_placement pl = placement(1, (const int[]){0}, -1);
    gpf_iso_plan *p = plan(&pl, GPF_SLICE_WHOLE, NULL, NULL);
    assert_int_equal(p->pin, 0);
    assert_int_equal(p->numa_node, -1);
    assert_string_equal(p->cpu_note, "cpus not pinned (numa unknown)");
    gpf_free(p);
    p = plan(&pl, GPF_SLICE_WHOLE, "0-3", NULL);
    assert_int_equal(p->pin, 1);
    assert_string_equal(p->cpu_note, "cpus 0-3 (pod-cpus; numa unknown)");
    gpf_free(p);
    pl.numa_node = 5;
    p = plan(&pl, GPF_SLICE_WHOLE, NULL, NULL);
    assert_string_equal(p->cpu_note, "cpus not pinned (numa 5 has no CPUs)");
    gpf_free(p);
    /* No sysfs: nothing known about the nodes. */
    pl.numa_node = 0;
    gpf_iso_input in = {facts, NULL, NULL, &pl, GPF_SLICE_WHOLE, NULL, root};
    p = GPF_NEW(gpf_iso_plan);
    assert_int_equal(gpf_iso_plan_make(&in, p, NULL), 0);
    assert_int_equal(p->pin, 0);
    assert_string_equal(p->cpu_note, "cpus not pinned (numa unknown)");
    gpf_free(p);
}

static void test_cpulist(void **state)
{
    (void)state;
    uint64_t mask[2] = {0x8000000000000027ULL, 0x3ULL};
    char out[64];
    assert_int_equal(gpf_iso_cpulist(mask, 128, out, sizeof out), 7);
    assert_string_equal(out, "0-2,5,63-65");
    assert_int_equal(gpf_iso_cpulist(mask, 128, out, 6), 7); /* truncated at a whole entry */
    assert_string_equal(out, "0-2,5");
    uint64_t none[1] = {0};
    assert_int_equal(gpf_iso_cpulist(none, 64, out, sizeof out), 0);
    assert_string_equal(out, "");
}

/* ---- cgroup v2 file logic on a fake root ---------------------------------------------- */

/* A fake cgroup v2 root; pod: pre-create the files the kernel would make in the pod's cgroup. */
static void fake_cgroup(char *cg, size_t size, const char *controllers, const char *subtree, const char *pod)
{
    char rel[128];
    gpf_test_tree_new("gpf-cg", cg, size);
    gpf_test_tree_put(cg, "cgroup.controllers", controllers);
    gpf_test_tree_put(cg, "cgroup.subtree_control", subtree);
    gpf_test_tree_put(cg, "gpufleet/cgroup.subtree_control", "");
    for (const char *const *f = (const char *const[]){"cpu.max", "memory.max", "cgroup.procs", NULL}; pod && *f;
         f++) {
        snprintf(rel, sizeof rel, "gpufleet/pod-%s/%s", pod, *f);
        gpf_test_tree_put(cg, rel, "");
    }
}

/* cg probes as the given cgroup version, and pod's cgroups are made with want_note. */
static void create_ok(const char *cg, int version, const char *pod, int cpus, int64_t mib, char *dirs, size_t dsize,
                      const char *want_note)
{
    char note[GPF_TEXT_MAX];
    gpf_error err = {0};
    int got = 0;
    assert_int_equal(gpf_rtcg_probe(cg, &got, &err), 0);
    assert_int_equal(got, version);
    assert_int_equal(gpf_rtcg_create(cg, version, pod, cpus, mib, NULL, dirs, dsize, note, sizeof note, &err), 0);
    assert_string_equal(note, want_note);
}

static void test_cgroup_files(void **state)
{
    (void)state;
    char cg[PATH_MAX], dir[GPF_ISO_PATH_MAX], buf[256], want[PATH_MAX + 64];
    gpf_error err = {0};
    assert_int_equal(gpf_rtcg_probe(root, NULL, &err), GPF_EUNAVAIL); /* no cgroup.controllers */
    assert_non_null(strstr(err.msg, "no cgroup v2 cgroup.controllers"));
    assert_int_equal(gpf_rtcg_probe("", NULL, &err), GPF_EUNAVAIL);

    fake_cgroup(cg, sizeof cg, "cpuset cpu io memory pids\n", "cpu memory\n", "p1");
    create_ok(cg, 2, "p1", 4, 16384, dir, sizeof dir, "cgroup v2 cpu 4 mem 16384M");
    snprintf(want, sizeof want, "%s/gpufleet/pod-p1", cg);
    assert_string_equal(dir, want);
    assert_string_equal(gpf_test_tree_get(cg, "gpufleet/pod-p1/cpu.max", buf, sizeof buf), "400000 100000");
    assert_string_equal(gpf_test_tree_get(cg, "gpufleet/pod-p1/memory.max", buf, sizeof buf), "17179869184");
    /* Enabled at the root already: left alone; gpufleet/ had none: enabled there. */
    assert_string_equal(gpf_test_tree_get(cg, "cgroup.subtree_control", buf, sizeof buf), "cpu memory\n");
    assert_non_null(strchr(gpf_test_tree_get(cg, "gpufleet/cgroup.subtree_control", buf, sizeof buf), '+'));

    /* The pod's root process joins by writing "0"; members are read back. */
    int fds[GPF_RTCG_MAX];
    assert_int_equal(gpf_rtcg_open_procs(dir, fds), 1);
    assert_int_equal(write(fds[0], "0", 1), 1);
    close(fds[0]);
    assert_string_equal(gpf_test_tree_get(cg, "gpufleet/pod-p1/cgroup.procs", buf, sizeof buf), "0");
    gpf_test_tree_put(cg, "gpufleet/pod-p1/cgroup.procs", "12\n345\n");
    pid_t pids[4];
    assert_int_equal(gpf_rtcg_pids(dir, pids, 4), 2);
    assert_int_equal(pids[0], 12);
    assert_int_equal(pids[1], 345);
    assert_int_equal(gpf_rtcg_pids(dir, pids, 1), 1);

    /* Removal: refused while it holds files (a real cgroup's files go with it), then fine. */
    assert_int_equal(gpf_rtcg_remove(dir, 10, &err), GPF_EIO);
    assert_non_null(strstr(err.msg, "cannot remove cgroup"));
    for (const char *const *f = (const char *const[]){"cpu.max", "memory.max", "cgroup.procs", NULL}; *f; f++) {
        snprintf(want, sizeof want, "%s/%s", dir, *f);
        unlink(want);
    }
    assert_int_equal(gpf_rtcg_remove(dir, 10, &err), 0);
    assert_int_not_equal(access(dir, F_OK), 0);
    assert_int_equal(gpf_rtcg_remove(dir, 10, &err), 0); /* gone already: fine */
    assert_int_equal(gpf_rtcg_pids(dir, pids, 4), 0);
    assert_true(gpf_rtcg_open_procs(dir, fds) < 0);
    gpf_test_tree_rm(cg);
}

static void test_cgroup_partial(void **state)
{
    (void)state;
    char cg[PATH_MAX], dir[GPF_ISO_PATH_MAX], note[GPF_TEXT_MAX], buf[64];
    gpf_error err = {0};
    /* No cpu controller in this hierarchy: memory only, and the note says so. */
    fake_cgroup(cg, sizeof cg, "memory pids\n", "", "p2");
    assert_int_equal(gpf_rtcg_create(cg, 2, "p2", 2, 512, NULL, dir, sizeof dir, note, sizeof note, &err), 0);
    assert_string_equal(note, "cgroup v2 mem 512M (no cpu limit)");
    assert_string_equal(gpf_test_tree_get(cg, "gpufleet/pod-p2/cpu.max", buf, sizeof buf), "");
    assert_string_equal(gpf_test_tree_get(cg, "gpufleet/pod-p2/memory.max", buf, sizeof buf), "536870912");
    assert_string_equal(gpf_test_tree_get(cg, "cgroup.subtree_control", buf, sizeof buf), "+memory");
    /* No limit asked: "max". */
    assert_int_equal(gpf_rtcg_create(cg, 2, "p2", 0, 0, NULL, dir, sizeof dir, note, sizeof note, &err), 0);
    assert_string_equal(gpf_test_tree_get(cg, "gpufleet/pod-p2/memory.max", buf, sizeof buf), "max");
    assert_string_equal(note, "cgroup v2 (no cpu limit)");
    /* The kernel did not make memory.max (here: a plain directory): no limit either. */
    assert_int_equal(gpf_rtcg_create(cg, 2, "p3", 2, 512, NULL, dir, sizeof dir, note, sizeof note, &err), 0);
    assert_string_equal(note, "cgroup v2 (no cpu,memory limit)");
    gpf_test_tree_rm(cg);
    /* A hierarchy without the controllers (a hybrid host's v1 has them): the cgroup, no limit. */
    fake_cgroup(cg, sizeof cg, "hugetlb\n", "", NULL);
    assert_int_equal(gpf_rtcg_create(cg, 2, "p4", 2, 512, NULL, dir, sizeof dir, note, sizeof note, &err), 0);
    assert_string_equal(note, "cgroup v2 (no cpu,memory limit)");
    assert_int_equal(access(dir, F_OK), 0);
    int fds[GPF_RTCG_MAX];
    assert_true(gpf_rtcg_open_procs(dir, fds) < 0); /* a plain directory has no cgroup.procs */
    /* A root it cannot write under. */
    char deep[PATH_MAX + 16];
    snprintf(deep, sizeof deep, "%s/no/such/dir", cg);
    assert_int_equal(gpf_rtcg_create(deep, 2, "p5", 2, 512, NULL, dir, sizeof dir, note, sizeof note, &err), GPF_EIO);
    assert_non_null(strstr(err.msg, "cannot create cgroup"));
    gpf_test_tree_rm(cg);
}

/* A fake cgroup v1 root: one hierarchy per controller listed ("memory", "cpu"), each with
 * the file that marks it; pod: pre-create the files the kernel would make in its cgroups. */
static void fake_cgroup_v1(char *cg, size_t size, int memory, int cpu, const char *pod)
{
    char rel[160];
    gpf_test_tree_new("gpf-cg1", cg, size);
    gpf_test_tree_put(cg, "pids/pids.max", "max\n"); /* a hierarchy gpufleet does not use */
    if (memory)
        gpf_test_tree_put(cg, "memory/memory.limit_in_bytes", "9223372036854771712\n");
    if (cpu)
        gpf_test_tree_put(cg, "cpu/cpu.cfs_quota_us", "-1\n");
    static const char *const files[] = {"memory/%s/memory.limit_in_bytes", "memory/%s/cgroup.procs",
                                        "cpu/%s/cpu.cfs_quota_us", "cpu/%s/cpu.cfs_period_us", "cpu/%s/cgroup.procs"};
    for (int i = 0; pod && i < 5; i++) {
        char sub[96];
        snprintf(sub, sizeof sub, "gpufleet/pod-%s", pod);
        if ((i < 2 && !memory) || (i >= 2 && !cpu))
            continue;
        snprintf(rel, sizeof rel, files[i], sub);
        gpf_test_tree_put(cg, rel, "");
    }
}

/* cgroup v1: a directory per hierarchy, joined with ':'; limits only where asked; the
 * directories join, list and go together. */
static void test_cgroup_v1_files(void **state)
{
    (void)state;
    char cg[PATH_MAX], dirs[GPF_RTCG_DIRS_MAX], note[GPF_TEXT_MAX], buf[256], want[2 * PATH_MAX + 64];
    gpf_error err = {0};
    int fds[GPF_RTCG_MAX];
    fake_cgroup_v1(cg, sizeof cg, 1, 1, "p1");
    create_ok(cg, 1, "p1", 4, 16384, dirs, sizeof dirs, "cgroup v1 cpu 4 mem 16384M");
    snprintf(want, sizeof want, "%s/memory/gpufleet/pod-p1:%s/cpu/gpufleet/pod-p1", cg, cg);
    assert_string_equal(dirs, want);
    assert_string_equal(gpf_test_tree_get(cg, "memory/gpufleet/pod-p1/memory.limit_in_bytes", buf, sizeof buf),
                        "17179869184");
    assert_string_equal(gpf_test_tree_get(cg, "cpu/gpufleet/pod-p1/cpu.cfs_quota_us", buf, sizeof buf), "400000");
    assert_string_equal(gpf_test_tree_get(cg, "cpu/gpufleet/pod-p1/cpu.cfs_period_us", buf, sizeof buf), "100000");
    char path[GPF_RTCG_DIRS_MAX];
    assert_int_equal(gpf_rtcg_path(cg, 1, "p1", path, sizeof path), 0); /* where a pinned pod's would be, too */
    snprintf(want, sizeof want, "%s:%s/cpuset/gpufleet/pod-p1", dirs, cg);
    assert_string_equal(path, want);
    assert_int_equal(gpf_rtcg_path(cg, 1, "p1", path, 40), -1);

    /* The root process joins both. */
    assert_int_equal(gpf_rtcg_open_procs(dirs, fds), 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(write(fds[i], "0", 1), 1);
        close(fds[i]);
    }
    assert_string_equal(gpf_test_tree_get(cg, "memory/gpufleet/pod-p1/cgroup.procs", buf, sizeof buf), "0");
    assert_string_equal(gpf_test_tree_get(cg, "cpu/gpufleet/pod-p1/cgroup.procs", buf, sizeof buf), "0");
    /* Members of either, each once. */
    gpf_test_tree_put(cg, "memory/gpufleet/pod-p1/cgroup.procs", "12\n345\n");
    gpf_test_tree_put(cg, "cpu/gpufleet/pod-p1/cgroup.procs", "345\n678\n");
    pid_t pids[8];
    assert_int_equal(gpf_rtcg_pids(dirs, pids, 8), 3);
    assert_int_equal(pids[0], 12);
    assert_int_equal(pids[1], 345);
    assert_int_equal(pids[2], 678);

    /* No limit asked: nothing written (a fresh v1 cgroup has none). */
    gpf_test_tree_put(cg, "cpu/gpufleet/pod-p2/cpu.cfs_quota_us", "-1");
    gpf_test_tree_put(cg, "cpu/gpufleet/pod-p2/cpu.cfs_period_us", "100000");
    gpf_test_tree_put(cg, "memory/gpufleet/pod-p2/memory.limit_in_bytes", "9223372036854771712");
    assert_int_equal(gpf_rtcg_create(cg, 1, "p2", 0, 0, NULL, dirs, sizeof dirs, note, sizeof note, &err), 0);
    assert_string_equal(note, "cgroup v1");
    assert_string_equal(gpf_test_tree_get(cg, "cpu/gpufleet/pod-p2/cpu.cfs_quota_us", buf, sizeof buf), "-1");

    /* Removal: refused while one of them holds files, the others still go; then all go. */
    assert_int_equal(gpf_rtcg_create(cg, 1, "p1", 4, 16384, NULL, dirs, sizeof dirs, note, sizeof note, &err), 0);
    for (const char *const *f = (const char *const[]){"cpu.cfs_quota_us", "cpu.cfs_period_us", "cgroup.procs", NULL};
         *f; f++) {
        snprintf(want, sizeof want, "%s/cpu/gpufleet/pod-p1/%s", cg, *f);
        unlink(want);
    }
    assert_int_equal(gpf_rtcg_remove(dirs, 10, &err), GPF_EIO);
    assert_non_null(strstr(err.msg, "memory/gpufleet/pod-p1"));
    snprintf(want, sizeof want, "%s/cpu/gpufleet/pod-p1", cg);
    assert_int_not_equal(access(want, F_OK), 0);
    for (const char *const *f = (const char *const[]){"memory.limit_in_bytes", "cgroup.procs", NULL}; *f; f++) {
        snprintf(want, sizeof want, "%s/memory/gpufleet/pod-p1/%s", cg, *f);
        unlink(want);
    }
    assert_int_equal(gpf_rtcg_remove(dirs, 10, &err), 0);
    assert_int_equal(gpf_rtcg_pids(dirs, pids, 8), 0);
    assert_true(gpf_rtcg_open_procs(dirs, fds) < 0);
    gpf_test_tree_rm(cg);
}

/* cgroup v1 with one hierarchy missing or unwritable; a root that is neither version. */
static void test_cgroup_v1_partial(void **state)
{
    (void)state;
    char cg[PATH_MAX], dirs[GPF_RTCG_DIRS_MAX], note[GPF_TEXT_MAX], buf[64], want[PATH_MAX + 64];
    gpf_error err = {0};
    int version = 0;
    /* Memory only: one directory, and the note says there is no cpu limit. */
    fake_cgroup_v1(cg, sizeof cg, 1, 0, "p3");
    create_ok(cg, 1, "p3", 2, 512, dirs, sizeof dirs, "cgroup v1 mem 512M (no cpu limit)");
    snprintf(want, sizeof want, "%s/memory/gpufleet/pod-p3", cg);
    assert_string_equal(dirs, want);
    assert_string_equal(gpf_test_tree_get(cg, "memory/gpufleet/pod-p3/memory.limit_in_bytes", buf, sizeof buf),
                        "536870912");
    gpf_test_tree_rm(cg);
    /* The kernel refused the limit (here: the file is not there): the cgroup, no limit. */
    fake_cgroup_v1(cg, sizeof cg, 1, 1, NULL);
    assert_int_equal(gpf_rtcg_create(cg, 1, "p4", 2, 512, NULL, dirs, sizeof dirs, note, sizeof note, &err), 0);
    assert_string_equal(note, "cgroup v1 (no cpu,memory limit)");
    gpf_test_tree_rm(cg);
    /* Neither v2 nor a v1 memory or cpu hierarchy; a ':' in the root. */
    fake_cgroup_v1(cg, sizeof cg, 0, 0, NULL);
    assert_int_equal(gpf_rtcg_probe(cg, &version, &err), GPF_EUNAVAIL);
    assert_int_equal(version, 0);
    assert_non_null(strstr(err.msg, "no writable v1 memory or cpu hierarchy"));
    assert_int_equal(gpf_rtcg_create(cg, 1, "p5", 2, 512, NULL, dirs, sizeof dirs, note, sizeof note, &err), GPF_EIO);
    assert_string_equal(dirs, "");
    assert_int_equal(gpf_rtcg_probe("/sys/fs:cgroup", NULL, &err), GPF_EUNAVAIL);
    assert_non_null(strstr(err.msg, "':'"));
    gpf_test_tree_rm(cg);
}

/* A pinned pod's cpuset: v2 writes cpuset.cpus where the hierarchy has the controller; v1
 * gives gpufleet/ its parent's CPUs and nodes first (a fresh v1 cpuset takes no process) and
 * drops the cpuset cgroup again when it cannot take the pod's CPUs. */
static void test_cgroup_cpuset(void **state)
{
    (void)state;
    char cg[PATH_MAX], dirs[GPF_RTCG_DIRS_MAX], note[GPF_TEXT_MAX], buf[64], want[3 * PATH_MAX + 128];
    gpf_error err = {0};
    fake_cgroup(cg, sizeof cg, "cpuset cpu memory\n", "", "p1");
    gpf_test_tree_put(cg, "gpufleet/pod-p1/cpuset.cpus", "");
    assert_int_equal(gpf_rtcg_create(cg, 2, "p1", 4, 16384, "2-3", dirs, sizeof dirs, note, sizeof note, &err), 0);
    assert_string_equal(note, "cgroup v2 cpu 4 mem 16384M cpuset");
    assert_string_equal(gpf_test_tree_get(cg, "gpufleet/pod-p1/cpuset.cpus", buf, sizeof buf), "2-3");
    /* Not pinned: no cpuset asked, none reported. */
    assert_int_equal(gpf_rtcg_create(cg, 2, "p1", 4, 16384, "", dirs, sizeof dirs, note, sizeof note, &err), 0);
    assert_string_equal(note, "cgroup v2 cpu 4 mem 16384M");
    gpf_test_tree_rm(cg);
    fake_cgroup(cg, sizeof cg, "cpu memory\n", "", "p1"); /* no cpuset controller */
    assert_int_equal(gpf_rtcg_create(cg, 2, "p1", 4, 16384, "2-3", dirs, sizeof dirs, note, sizeof note, &err), 0);
    assert_string_equal(note, "cgroup v2 cpu 4 mem 16384M (no cpuset limit)");
    gpf_test_tree_rm(cg);

    /* v1: the files a kernel makes in fresh cpuset cgroups, empty. */
    fake_cgroup_v1(cg, sizeof cg, 1, 1, "p6");
    gpf_test_tree_put(cg, "cpuset/cpuset.cpus", "0-7\n");
    gpf_test_tree_put(cg, "cpuset/cpuset.mems", "0-1\n");
    for (const char *const *f = (const char *const[]){"gpufleet/cpuset.cpus", "gpufleet/cpuset.mems",
                                                       "gpufleet/pod-p6/cpuset.cpus", "gpufleet/pod-p6/cpuset.mems",
                                                       "gpufleet/pod-p6/cgroup.procs", NULL};
         *f; f++) {
        snprintf(want, sizeof want, "cpuset/%s", *f);
        gpf_test_tree_put(cg, want, "");
    }
    assert_int_equal(gpf_rtcg_create(cg, 1, "p6", 4, 16384, "2-3", dirs, sizeof dirs, note, sizeof note, &err), 0);
    assert_string_equal(note, "cgroup v1 cpu 4 mem 16384M cpuset");
    snprintf(want, sizeof want, "%s/memory/gpufleet/pod-p6:%s/cpu/gpufleet/pod-p6:%s/cpuset/gpufleet/pod-p6", cg, cg,
             cg);
    assert_string_equal(dirs, want);
    assert_string_equal(gpf_test_tree_get(cg, "cpuset/gpufleet/cpuset.cpus", buf, sizeof buf), "0-7\n");
    assert_string_equal(gpf_test_tree_get(cg, "cpuset/gpufleet/cpuset.mems", buf, sizeof buf), "0-1\n");
    assert_string_equal(gpf_test_tree_get(cg, "cpuset/gpufleet/pod-p6/cpuset.mems", buf, sizeof buf), "0-1\n");
    assert_string_equal(gpf_test_tree_get(cg, "cpuset/gpufleet/pod-p6/cpuset.cpus", buf, sizeof buf), "2-3");
    int fds[GPF_RTCG_MAX];
    assert_int_equal(gpf_rtcg_open_procs(dirs, fds), 3);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    /* gpufleet/ already has CPUs: left as it is. */
    gpf_test_tree_put(cg, "cpuset/gpufleet/cpuset.cpus", "4-7\n");
    assert_int_equal(gpf_rtcg_create(cg, 1, "p6", 4, 16384, "5", dirs, sizeof dirs, note, sizeof note, &err), 0);
    assert_string_equal(gpf_test_tree_get(cg, "cpuset/gpufleet/cpuset.cpus", buf, sizeof buf), "4-7\n");
    /* Not pinned: not in the cpuset hierarchy at all. */
    assert_int_equal(gpf_rtcg_create(cg, 1, "p7", 4, 16384, NULL, dirs, sizeof dirs, note, sizeof note, &err), 0);
    assert_null(strstr(dirs, "cpuset"));
    assert_string_equal(note, "cgroup v1 (no cpu,memory limit)"); /* p7's are plain directories here */
    /* A cpuset cgroup that cannot take the CPUs (here: no cpuset.cpus file) goes again. */
    assert_int_equal(gpf_rtcg_create(cg, 1, "p8", 4, 16384, "2-3", dirs, sizeof dirs, note, sizeof note, &err), 0);
    assert_null(strstr(dirs, "cpuset"));
    assert_non_null(strstr(note, "cpuset limit)"));
    snprintf(want, sizeof want, "%s/cpuset/gpufleet/pod-p8", cg);
    assert_int_not_equal(access(want, F_OK), 0);
    gpf_test_tree_rm(cg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_gpu),     cmocka_unit_test(test_two_gpus),
        cmocka_unit_test(test_mig_slice),     cmocka_unit_test(test_mig_backed_vgpu),
        cmocka_unit_test(test_share),
        cmocka_unit_test(test_missing_nodes), cmocka_unit_test(test_numa_pod_cpus),
        cmocka_unit_test(test_numa_unknown),  cmocka_unit_test(test_cpulist),
        cmocka_unit_test(test_cgroup_files),  cmocka_unit_test(test_cgroup_partial),
        cmocka_unit_test(test_cgroup_v1_files), cmocka_unit_test(test_cgroup_v1_partial),
        cmocka_unit_test(test_cgroup_cpuset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
