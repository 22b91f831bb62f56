/* NVML backend against the fake libnvidia-ml.so.1 (tests/fakes/fake_nvml.c, built by the
 * Makefile next to this binary: $(BUILD)/tests/test_nvml -> $(BUILD)/fakes/...): discovery
 * values, catalog models, MIG devices and device ids, processes, every error path, the
 * minimal and required-symbol-less variants, init/shutdown balance, and `gpufleet discover`. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/gpu_backend.h"
#include "agent/nvml_abi.h"
#include "helpers/catalog_fixture.h"
#include "cli/cli.h"
#include "util/alloc.h"
#include "util/fileio.h"

#define GPU0_UUID "GPU-0f5b3c9e-7a21-4d8e-9b6c-1d2e3f405a60"
#define GPU1_UUID "GPU-7c1e2d3f-4a5b-4c6d-8e7f-90a1b2c3d4e5"
#define MIG_1G_UUID "MIG-a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a5b"
#define MIG_3G_UUID "MIG-b2c3d4e5-0002-4f60-9bac-1d2e3f4a5b6c"
#define PROCS_FN "nvmlDeviceGetComputeRunningProcesses_v3"

/* One build of the fake library, loaded by the test to drive it. */
typedef struct fake_lib {
    char path[4096];
    void *handle;
    int (*scenario)(const char *name);
    void (*fail_with)(const char *symbol, int nvml_return);
    int (*calls)(const char *symbol);
    void (*counts)(int *inits, int *shutdowns);
} fake_lib;

typedef struct suite {
    gpf_catalog *cat;
    fake_lib full, minimal, nopci;
} suite;

static suite S;

/* ---- helpers --------------------------------------------------------------------------- */

static void resolve(void *h, const char *name, void *fnptr, size_t size)
{
    void *sym = dlsym(h, name);
    if (!sym)
        fail_msg("fake library lacks %s", name);
    memcpy(fnptr, &sym, size);
}

static int fake_load(fake_lib *f, const char *variant)
{
    char exe[4096];
    if (!gpf_self_exe(exe, sizeof exe, NULL))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/../fakes/%s%slibnvidia-ml.so.1", dirname(exe), variant,
             variant[0] ? "/" : "");
    f->handle = dlopen(f->path, RTLD_NOW | RTLD_LOCAL);
    if (!f->handle) {
        fprintf(stderr, "cannot load %s: %s\n", f->path, dlerror());
        return -1;
    }
    resolve(f->handle, "fakenvml_scenario", &f->scenario, sizeof f->scenario);
    resolve(f->handle, "fakenvml_fail", &f->fail_with, sizeof f->fail_with);
    resolve(f->handle, "fakenvml_calls", &f->calls, sizeof f->calls);
    resolve(f->handle, "fakenvml_counts", &f->counts, sizeof f->counts);
    return 0;
}

static int suite_setup(void **state)
{
    gpf_error err = {0};
    (void)state;
    S.cat = gpf_test_catalog_load(&err);
    if (!S.cat) {
        fprintf(stderr, "catalog: %s\n", gpf_error_msg(&err));
        return -1;
    }
    return fake_load(&S.full, "") || fake_load(&S.minimal, "minimal") || fake_load(&S.nopci, "nopci") ? -1 : 0;
}

static int suite_teardown(void **state)
{
    (void)state;
    fake_lib *libs[3] = {&S.full, &S.minimal, &S.nopci};
    for (int i = 0; i < 3; i++)
        if (libs[i]->handle)
            dlclose(libs[i]->handle);
    gpf_catalog_free(S.cat);
    return 0;
}

static void scenario(const fake_lib *f, const char *name)
{
    assert_int_equal(f->scenario(name), 0);
}

static gpf_gpu_backend *open_ok(const fake_lib *f, const gpf_catalog *cat)
{
    gpf_gpu_backend *b = NULL;
    gpf_error err = {0};
    if (gpf_gpu_nvml_open(f->path, cat, &b, &err) != 0)
        fail_msg("open %s: %s", f->path, gpf_error_msg(&err));
    assert_non_null(b);
    assert_string_equal(b->ops->name, "nvml");
    return b;
}

/* Discovery that must succeed; the facts are heap (free with gpf_free). */
static gpf_host_facts *discover_ok(gpf_gpu_backend *b)
{
    gpf_host_facts *f = GPF_NEW(gpf_host_facts);
    gpf_error err = {0};
    if (b->ops->discover(b, f, &err) != 0)
        fail_msg("discover: %s", gpf_error_msg(&err));
    return f;
}

/* Opens the full fake in scenario name and discovers. */
static gpf_host_facts *discover_scenario(const char *name, gpf_gpu_backend **bp)
{
    scenario(&S.full, name);
    gpf_gpu_backend *b = open_ok(&S.full, S.cat);
    gpf_host_facts *f = discover_ok(b);
    if (bp)
        *bp = b;
    else
        gpf_gpu_backend_close(b);
    return f;
}

/* Discovery that must fail with code; returns the message in msg. */
static void discover_fails(gpf_gpu_backend *b, int code, char *msg, size_t size)
{
    gpf_host_facts *f = GPF_NEW(gpf_host_facts);
    gpf_error err = {0};
    assert_int_equal(b->ops->discover(b, f, &err), code);
    gpf_strlcpy(msg, gpf_error_msg(&err), size);
    gpf_free(f);
}

static void assert_contains(const char *s, const char *part)
{
    if (!strstr(s, part))
        fail_msg("'%s' does not contain '%s'", s, part);
}

static void assert_live_unknown(const gpf_gpu_live *l)
{
    assert_int_equal(l->util_gpu_pct, -1);
    assert_int_equal(l->util_mem_pct, -1);
    assert_int_equal(l->power_mw, -1);
    assert_int_equal(l->power_limit_mw, -1);
    assert_int_equal(l->temp_c, -1);
    assert_int_equal(l->temp_slowdown_c, -1);
    assert_int_equal(l->temp_shutdown_c, -1);
    assert_int_equal(l->pcie_gen, -1);
    assert_int_equal(l->pcie_gen_max, -1);
    assert_int_equal(l->pcie_width, -1);
    assert_int_equal(l->pcie_width_max, -1);
    assert_int_equal(l->mig_pending, -1);
    assert_int_equal(l->minor, -1);
    assert_int_equal(l->nmig, 0);
    assert_int_equal(l->nprocs, 0);
    assert_int_equal(l->procs_truncated, 0);
}

static void assert_proc(const gpf_gpu_proc *p, unsigned pid, int64_t mib, int gi, int ci)
{
    assert_int_equal(p->pid, pid);
    assert_int_equal(p->used_mib, mib);
    assert_int_equal(p->gi_id, gi);
    assert_int_equal(p->ci_id, ci);
}

static void assert_mig(const gpf_gpu_mig_dev *m, const char *uuid, const int ids[5], int64_t mib)
{
    assert_string_equal(m->uuid, uuid);
    assert_int_equal(m->gi_id, ids[0]);
    assert_int_equal(m->ci_id, ids[1]);
    assert_int_equal(m->gi_profile_id, ids[2]);
    assert_int_equal(m->start, ids[3]);
    assert_int_equal(m->size, ids[4]);
    assert_int_equal(m->memory_mib, mib);
}

/* ---- discovery --------------------------------------------------------------------------- */

static void test_host_facts(void **state)
{
    (void)state;
    gpf_host_facts *f = discover_scenario("h100x2", NULL);
    const gpf_host_rec *h = &f->host;
    assert_string_equal(f->driver_version, "550.54.15");
    assert_string_equal(f->cuda_version, "12.4");
    assert_string_equal(f->nvml_version, "12.550.54.15");
    assert_string_equal(h->backend, "nvml");
    assert_true(h->id[0] != '\0');
    for (const char *c = h->id; *c; c++)
        assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz0123456789._-", *c));
    assert_int_equal(h->cpus, sysconf(_SC_NPROCESSORS_ONLN));
    assert_true(h->memory_mib > 0);
    assert_int_equal(h->numa_nodes, 2);
    assert_int_equal(h->ngpus, 2);
    for (int g = 2; g < GPF_MAX_HOST_GPUS; g++)
        assert_live_unknown(&f->live[g]);
    gpf_free(f);
}

static void test_gpu_whole(void **state)
{
    (void)state;
    gpf_host_facts *f = discover_scenario("h100x2", NULL);
    const gpf_gpu_rec *g = &f->host.gpus[0];
    const gpf_gpu_live *l = &f->live[0];
    assert_int_equal(g->index, 0);
    assert_string_equal(g->model, "H100-80GB-SXM5");
    assert_string_equal(g->name, "NVIDIA H100 80GB HBM3");
    assert_string_equal(g->uuid, GPU0_UUID);
    assert_string_equal(g->pci_bus_id, "00000000:18:00.0");
    assert_int_equal(g->numa_node, 0);
    assert_int_equal(g->memory_mib, 81559);
    assert_int_equal(g->mig_enabled, 0);
    assert_int_equal(l->pci_device_id, 0x233010DEu);
    assert_int_equal(l->minor, 1); /* /dev/nvidia1: the driver's order, not NVML's index */
    assert_int_equal(l->util_gpu_pct, 37);
    assert_int_equal(l->util_mem_pct, 12);
    assert_int_equal(l->memory_used_mib, 1250); /* v2: without the 568 MiB reserved */
    assert_int_equal(l->power_mw, 312500);
    assert_int_equal(l->power_limit_mw, 700000);
    assert_int_equal(l->temp_c, 41);
    assert_int_equal(l->temp_slowdown_c, 87);
    assert_int_equal(l->temp_shutdown_c, 92);
    assert_int_equal(l->pcie_gen, 5);
    assert_int_equal(l->pcie_gen_max, 5);
    assert_int_equal(l->pcie_width, 16);
    assert_int_equal(l->pcie_width_max, 16);
    assert_int_equal(l->mig_pending, 0);
    assert_int_equal(l->nmig, 0);
    assert_int_equal(l->nprocs, 1);
    assert_int_equal(l->procs_truncated, 0);
    assert_proc(&l->procs[0], 4242, 1024, -1, -1);
    gpf_free(f);
}

static void test_gpu_mig(void **state)
{
    (void)state;
    static const int small[5] = {9, 0, 19, 0, 1}, large[5] = {2, 0, 9, 4, 4};
    gpf_host_facts *f = discover_scenario("h100x2", NULL);
    const gpf_gpu_rec *g = &f->host.gpus[1];
    const gpf_gpu_live *l = &f->live[1];
    assert_int_equal(g->index, 1);
    assert_string_equal(g->model, "H100-80GB-SXM5");
    assert_string_equal(g->uuid, GPU1_UUID);
    assert_string_equal(g->pci_bus_id, "00000000:9A:00.0");
    assert_int_equal(g->numa_node, 1);
    assert_int_equal(g->memory_mib, 81559);
    assert_int_equal(g->mig_enabled, 1);
    assert_int_equal(l->minor, 0);
    assert_int_equal(l->mig_pending, 1);
    assert_int_equal(l->util_gpu_pct, -1); /* NVML does not tell utilisation in MIG mode */
    assert_int_equal(l->util_mem_pct, -1);
    assert_int_equal(l->memory_used_mib, 3072);
    assert_int_equal(l->power_mw, 145000);
    assert_int_equal(l->temp_c, 35);
    assert_int_equal(l->pcie_gen, 4);
    assert_int_equal(l->pcie_gen_max, 5);
    assert_int_equal(l->nmig, 2);
    assert_mig(&l->mig[0], MIG_1G_UUID, small, 9856);
    assert_mig(&l->mig[1], MIG_3G_UUID, large, 40192);
    /* the profiles and placements are ones the catalog has for this model */
    const gpf_gpu_model *m = gpf_catalog_model(S.cat, g->model);
    assert_non_null(m);
    assert_string_equal(gpf_catalog_mig_by_id(S.cat, m->mig_key, l->mig[0].gi_profile_id)->name, "1g.10gb");
    const gpf_mig_profile *p3 = gpf_catalog_mig_by_id(S.cat, m->mig_key, l->mig[1].gi_profile_id);
    assert_string_equal(p3->name, "3g.40gb");
    assert_int_equal(p3->memory_slices, l->mig[1].size);
    assert_int_equal(l->nprocs, 2);
    assert_proc(&l->procs[0], 5151, 2048, 2, 0);
    assert_proc(&l->procs[1], 5152, -1, 9, 0); /* usedGpuMemory not available */
    gpf_free(f);
}

static void test_catalog_mapping(void **state)
{
    (void)state;
    scenario(&S.full, "h100x2");
    /* no catalog: GPUs are found, models stay unknown */
    gpf_gpu_backend *b = open_ok(&S.full, NULL);
    gpf_host_facts *f = discover_ok(b);
    assert_int_equal(f->host.ngpus, 2);
    assert_string_equal(f->host.gpus[0].model, "");
    assert_int_equal(f->live[0].pci_device_id, 0x233010DEu);
    gpf_free(f);
    gpf_gpu_backend_close(b);
    /* the catalog may be freed once open returns */
    gpf_error err = {0};
    gpf_catalog *cat = gpf_test_catalog_load(&err);
    assert_non_null(cat);
    b = open_ok(&S.full, cat);
    gpf_catalog_free(cat);
    f = discover_ok(b);
    assert_string_equal(f->host.gpus[0].model, "H100-80GB-SXM5");
    assert_string_equal(f->host.gpus[1].model, "H100-80GB-SXM5");
    gpf_free(f);
    gpf_gpu_backend_close(b);
}

static void test_unknown_pci(void **state)
{
    (void)state;
    gpf_host_facts *f = discover_scenario("unknown-pci", NULL);
    assert_int_equal(f->host.ngpus, 1);
    assert_string_equal(f->host.gpus[0].model, "");
    assert_string_equal(f->host.gpus[0].name, "NVIDIA Prototype GPU");
    assert_int_equal(f->host.gpus[0].memory_mib, 24576);
    assert_int_equal(f->live[0].pci_device_id, 0xFFF010DEu);
    assert_int_equal(f->host.gpus[0].mig_enabled, 0);
    assert_int_equal(f->live[0].mig_pending, -1); /* not MIG-capable */
    assert_int_equal(f->live[0].temp_c, 41);
    gpf_free(f);
}

static void test_no_gpus_and_too_many(void **state)
{
    (void)state;
    char msg[256];
    gpf_host_facts *f = discover_scenario("no-gpus", NULL);
    assert_int_equal(f->host.ngpus, 0);
    assert_int_equal(f->host.numa_nodes, 1);
    assert_string_equal(f->driver_version, "550.54.15");
    gpf_free(f);
    scenario(&S.full, "gpus17");
    gpf_gpu_backend *b = open_ok(&S.full, S.cat);
    discover_fails(b, GPF_ETOOLARGE, msg, sizeof msg);
    assert_contains(msg, "17 GPUs");
    gpf_gpu_backend_close(b);
}

/* ---- device ids ------------------------------------------------------------------------ */

static gpf_placement placement(const char *uuid, int index, int profile, int start)
{
    gpf_placement p;
    memset(&p, 0, sizeof p);
    p.ngpus = 1;
    if (uuid)
        gpf_strlcpy(p.gpu_uuids[0], uuid, sizeof p.gpu_uuids[0]);
    p.gpu_index[0] = index;
    p.mig_profile_id = profile;
    p.mig_start = start;
    return p;
}

static int device_id(gpf_gpu_backend *b, gpf_placement p, char *out, size_t size, char *msg)
{
    gpf_error err = {0};
    int rc = b->ops->device_id(b, &p, 0, out, size, &err);
    if (msg)
        gpf_strlcpy(msg, gpf_error_msg(&err), 256);
    return rc;
}

static void test_device_id(void **state)
{
    (void)state;
    char out[GPF_UUID_MAX], msg[256];
    scenario(&S.full, "h100x2");
    gpf_gpu_backend *b = open_ok(&S.full, S.cat); /* no discovery yet: device_id reads on its own */
    assert_int_equal(device_id(b, placement(GPU1_UUID, 0, -1, 0), out, sizeof out, NULL), 0);
    assert_string_equal(out, GPU1_UUID);
    assert_int_equal(device_id(b, placement(NULL, 0, -1, 0), out, sizeof out, NULL), 0);
    assert_string_equal(out, GPU0_UUID);
    gpf_placement share = placement(GPU0_UUID, 0, -1, 0);
    share.share_milli = 250;
    assert_int_equal(device_id(b, share, out, sizeof out, NULL), 0);
    assert_string_equal(out, GPU0_UUID);
    assert_int_equal(device_id(b, placement(GPU1_UUID, 1, 9, 4), out, sizeof out, NULL), 0);
    assert_string_equal(out, MIG_3G_UUID);
    assert_int_equal(device_id(b, placement(NULL, 1, 19, 0), out, sizeof out, NULL), 0);
    assert_string_equal(out, MIG_1G_UUID);
    /* no such MIG device, GPU not in MIG mode, no such GPU, bad index, small buffer */
    assert_int_equal(device_id(b, placement(GPU1_UUID, 1, 19, 1), out, sizeof out, msg), GPF_ENOTFOUND);
    assert_contains(msg, "profile 19 at placement start 1");
    assert_null(strstr(msg, "root"));
    assert_string_equal(out, "");
    assert_int_equal(device_id(b, placement(GPU0_UUID, 0, 19, 0), out, sizeof out, msg), GPF_ESTATE);
    assert_contains(msg, "not in MIG mode");
    assert_int_equal(device_id(b, placement("GPU-nope", 0, -1, 0), out, sizeof out, NULL), GPF_ENOTFOUND);
    assert_int_equal(device_id(b, placement(NULL, 5, -1, 0), out, sizeof out, NULL), GPF_ENOTFOUND);
    gpf_placement two = placement(GPU0_UUID, 0, -1, 0);
    gpf_error err = {0};
    assert_int_equal(b->ops->device_id(b, &two, 1, out, sizeof out, &err), GPF_EINVAL);
    assert_int_equal(device_id(b, placement(GPU0_UUID, 0, -1, 0), out, 8, NULL), GPF_EINVAL);
    assert_string_equal(out, "");
    gpf_gpu_backend_close(b);
}

/* device_id answers from the last discovery, and reads again for a MIG device it could
 * not place. */
static void test_device_id_rereads(void **state)
{
    (void)state;
    char out[GPF_UUID_MAX], msg[256];
    scenario(&S.full, "h100x2");
    S.full.fail_with("nvmlDeviceGetGpuInstances", NVML_ERROR_NO_PERMISSION);
    gpf_gpu_backend *b = open_ok(&S.full, S.cat);
    gpf_host_facts *f = discover_ok(b);
    assert_int_equal(f->live[1].mig[1].start, -1);
    gpf_free(f);
    int reads = S.full.calls("nvmlDeviceGetCount_v2");
    assert_int_equal(device_id(b, placement(GPU1_UUID, 1, 9, 4), out, sizeof out, msg), GPF_ENOTFOUND);
    assert_contains(msg, "that needs root");
    assert_int_equal(S.full.calls("nvmlDeviceGetCount_v2"), reads + 1);
    S.full.fail_with("nvmlDeviceGetGpuInstances", NVML_SUCCESS); /* allowed now */
    assert_int_equal(device_id(b, placement(GPU1_UUID, 1, 9, 4), out, sizeof out, NULL), 0);
    assert_string_equal(out, MIG_3G_UUID);
    reads = S.full.calls("nvmlDeviceGetCount_v2");
    assert_int_equal(device_id(b, placement(NULL, 1, 19, 0), out, sizeof out, NULL), 0);
    assert_string_equal(out, MIG_1G_UUID);
    assert_int_equal(device_id(b, placement(GPU0_UUID, 0, -1, 0), out, sizeof out, NULL), 0);
    assert_int_equal(S.full.calls("nvmlDeviceGetCount_v2"), reads); /* both from the cache */
    gpf_gpu_backend_close(b);
}

/* ---- processes ------------------------------------------------------------------------- */

static void test_procs_truncated(void **state)
{
    (void)state;
    gpf_host_facts *f = discover_scenario("many-procs", NULL);
    const gpf_gpu_live *l = &f->live[0];
    assert_int_equal(l->nprocs, GPF_GPU_MAX_PROCS);
    assert_int_equal(l->procs_truncated, 1);
    assert_proc(&l->procs[0], 4242, 1024, -1, -1);
    assert_proc(&l->procs[1], 1000, 64, -1, -1);
    assert_proc(&l->procs[GPF_GPU_MAX_PROCS - 1], 1000 + GPF_GPU_MAX_PROCS - 2, 64, -1, -1);
    assert_int_equal(f->live[1].procs_truncated, 0);
    /* a sizing call (INSUFFICIENT_SIZE) and a listing call per GPU */
    assert_int_equal(S.full.calls(PROCS_FN), 4);
    gpf_free(f);
}

static void test_procs_race(void **state)
{
    (void)state;
    gpf_host_facts *f = discover_scenario("procs-race", NULL);
    const gpf_gpu_live *l = &f->live[0];
    assert_int_equal(l->nprocs, 2);
    assert_int_equal(l->procs_truncated, 0);
    assert_proc(&l->procs[0], 4242, 1024, -1, -1);
    assert_proc(&l->procs[1], 4243, 512, -1, -1);
    assert_int_equal(S.full.calls(PROCS_FN), 3 + 2); /* GPU 0 asked again after the list grew */
    gpf_free(f);
}

/* ---- errors ----------------------------------------------------------------------------- */

static void test_open_missing_library(void **state)
{
    (void)state;
    gpf_gpu_backend *b = (gpf_gpu_backend *)&b;
    gpf_error err = {0};
    assert_int_equal(gpf_gpu_nvml_open("/nonexistent/libnvidia-ml.so.1", S.cat, &b, &err), GPF_EUNAVAIL);
    assert_null(b);
    assert_contains(err.msg, "no NVIDIA driver library (/nonexistent/libnvidia-ml.so.1) on this host");
    assert_int_equal(gpf_gpu_nvml_open(S.full.path, S.cat, NULL, &err), GPF_EINVAL);
    gpf_gpu_backend_close(NULL);
}

static void assert_open_fails(const fake_lib *lib, int code, const char *part)
{
    gpf_gpu_backend *b = NULL;
    gpf_error err = {0};
    assert_int_equal(gpf_gpu_nvml_open(lib->path, S.cat, &b, &err), code);
    assert_null(b);
    assert_contains(err.msg, part);
}

static void test_init_fails(void **state)
{
    (void)state;
    int inits = -1, shutdowns = -1;
    scenario(&S.full, "driver-not-loaded");
    assert_open_fails(&S.full, GPF_EUNAVAIL, "nvmlInit_v2): Driver Not Loaded (NVML error 9)");
    S.full.counts(&inits, &shutdowns);
    assert_int_equal(inits, 0);
    assert_int_equal(shutdowns, 0); /* nothing to balance */
    S.full.fail_with("nvmlInit_v2", NVML_ERROR_LIB_RM_VERSION_MISMATCH);
    assert_open_fails(&S.full, GPF_EUNAVAIL, "RM has detected an NVML/RM version mismatch. (NVML error 18)");
    /* without nvmlErrorString the code alone */
    scenario(&S.minimal, "h100x2");
    S.minimal.fail_with("nvmlInit_v2", NVML_ERROR_DRIVER_NOT_LOADED);
    assert_open_fails(&S.minimal, GPF_EUNAVAIL, "NVML did not start (nvmlInit_v2): NVML error 9");
}

static void test_required_call_fails(void **state)
{
    (void)state;
    static const struct {
        const char *symbol;
        int nvml, code;
        const char *message;
    } cases[] = {
        {"nvmlDeviceGetUUID", NVML_ERROR_GPU_IS_LOST, GPF_EUNAVAIL,
         "nvmlDeviceGetUUID failed for GPU 0: GPU is lost (NVML error 15)"},
        {"nvmlDeviceGetPciInfo_v3", NVML_ERROR_UNKNOWN, GPF_EIO, "nvmlDeviceGetPciInfo_v3 failed for GPU 0"},
        {"nvmlDeviceGetMemoryInfo", NVML_ERROR_NO_PERMISSION, GPF_EFORBIDDEN, "Insufficient Permissions"},
        {"nvmlDeviceGetCount_v2", NVML_ERROR_UNKNOWN, GPF_EIO,
         "nvmlDeviceGetCount_v2 failed: Unknown Error (NVML error 999)"},
        {"nvmlSystemGetDriverVersion", NVML_ERROR_NOT_SUPPORTED, GPF_ENOTSUP, "nvmlSystemGetDriverVersion failed"},
    };
    char msg[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        scenario(&S.full, "h100x2");
        gpf_gpu_backend *b = open_ok(&S.full, S.cat);
        S.full.fail_with(cases[i].symbol, cases[i].nvml);
        discover_fails(b, cases[i].code, msg, sizeof msg);
        assert_contains(msg, cases[i].message);
        gpf_gpu_backend_close(b);
    }
}

/* Opens the full fake in h100x2 with symbol failing, and discovers. */
static gpf_host_facts *discover_with_failure(const char *symbol, int nvml)
{
    scenario(&S.full, "h100x2");
    S.full.fail_with(symbol, nvml);
    gpf_gpu_backend *b = open_ok(&S.full, S.cat);
    gpf_host_facts *f = discover_ok(b);
    gpf_gpu_backend_close(b);
    return f;
}

static void test_optional_call_fails(void **state)
{
    (void)state;
    gpf_host_facts *f = discover_with_failure("nvmlDeviceGetPowerUsage", NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(f->live[0].power_mw, -1);
    assert_int_equal(f->live[0].power_limit_mw, 700000);
    assert_int_equal(f->live[0].temp_c, 41);
    gpf_free(f);
    f = discover_with_failure("nvmlDeviceGetMemoryInfo_v2", NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    assert_int_equal(f->live[0].memory_used_mib, 1250 + 568); /* v1 counts the reserved memory */
    gpf_free(f);
    f = discover_with_failure("nvmlDeviceGetTemperatureV", NVML_ERROR_FUNCTION_NOT_FOUND);
    assert_int_equal(f->live[0].temp_c, 41); /* from the deprecated call */
    assert_true(S.full.calls("nvmlDeviceGetTemperature") > 0);
    gpf_free(f);
    f = discover_with_failure("nvmlDeviceGetNumaNodeId", NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(f->host.gpus[1].numa_node, -1);
    assert_int_equal(f->host.numa_nodes, 1);
    gpf_free(f);
    f = discover_with_failure("nvmlDeviceGetMigMode", NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(f->host.gpus[1].mig_enabled, 0);
    assert_int_equal(f->live[1].mig_pending, -1);
    assert_int_equal(f->live[1].nmig, 0);
    gpf_free(f);
    f = discover_with_failure(PROCS_FN, NVML_ERROR_NO_PERMISSION);
    assert_int_equal(f->live[0].nprocs, 0);
    assert_int_equal(f->live[0].procs_truncated, 0);
    gpf_free(f);
}

/* Without the right to see GPU instances, MIG devices keep their UUIDs and ids. */
static void test_mig_without_permission(void **state)
{
    (void)state;
    static const int unplaced_small[5] = {9, 0, -1, -1, -1}, unplaced_large[5] = {2, 0, -1, -1, -1};
    const char *symbols[2] = {"nvmlDeviceGetGpuInstanceProfileInfo", "nvmlDeviceGetGpuInstances"};
    for (int i = 0; i < 2; i++) {
        gpf_host_facts *f = discover_with_failure(symbols[i], NVML_ERROR_NO_PERMISSION);
        assert_int_equal(f->live[1].nmig, 2);
        assert_mig(&f->live[1].mig[0], MIG_1G_UUID, unplaced_small, 9856);
        assert_mig(&f->live[1].mig[1], MIG_3G_UUID, unplaced_large, 40192);
        gpf_free(f);
    }
    assert_int_equal(S.full.calls("nvmlDeviceGetGpuInstanceProfileInfo"), NVML_GPU_INSTANCE_PROFILE_COUNT + 1);
}

static void test_minimal_library(void **state)
{
    (void)state;
    scenario(&S.minimal, "h100x2");
    gpf_gpu_backend *b = open_ok(&S.minimal, S.cat);
    gpf_host_facts *f = discover_ok(b);
    assert_string_equal(f->driver_version, "550.54.15");
    assert_string_equal(f->cuda_version, "");
    assert_string_equal(f->nvml_version, "");
    assert_int_equal(f->host.ngpus, 2);
    assert_int_equal(f->host.numa_nodes, 1);
    for (int g = 0; g < 2; g++) {
        const gpf_gpu_rec *r = &f->host.gpus[g];
        assert_string_equal(r->model, "H100-80GB-SXM5");
        assert_string_equal(r->uuid, g ? GPU1_UUID : GPU0_UUID);
        assert_int_equal(r->memory_mib, 81559);
        assert_int_equal(r->numa_node, -1);
        assert_int_equal(r->mig_enabled, 0);
        assert_live_unknown(&f->live[g]);
    }
    assert_int_equal(f->live[0].memory_used_mib, 1250 + 568);
    gpf_free(f);
    gpf_gpu_backend_close(b);
}

static void test_missing_required_symbol(void **state)
{
    (void)state;
    int inits = -1, shutdowns = -1;
    scenario(&S.nopci, "h100x2");
    assert_open_fails(&S.nopci, GPF_ENOTSUP, "has no nvmlDeviceGetPciInfo_v3");
    assert_int_equal(S.nopci.calls("nvmlInit_v2"), 0); /* refused before starting NVML */
    S.nopci.counts(&inits, &shutdowns);
    assert_int_equal(inits, 0);
    assert_int_equal(shutdowns, 0);
}

static void test_close_reopen(void **state)
{
    (void)state;
    int inits = -1, shutdowns = -1;
    scenario(&S.full, "h100x2");
    for (int i = 0; i < 3; i++) {
        gpf_gpu_backend *b = open_ok(&S.full, S.cat);
        gpf_host_facts *f = discover_ok(b);
        assert_string_equal(f->host.gpus[1].uuid, GPU1_UUID);
        gpf_free(f);
        gpf_gpu_backend_close(b);
        S.full.counts(&inits, &shutdowns);
        assert_int_equal(inits, i + 1);
        assert_int_equal(shutdowns, i + 1);
    }
    /* two at once: NVML counts references */
    gpf_gpu_backend *a = open_ok(&S.full, S.cat), *b = open_ok(&S.full, S.cat);
    S.full.counts(&inits, &shutdowns);
    assert_int_equal(inits - shutdowns, 2);
    gpf_gpu_backend_close(a);
    gpf_host_facts *f = discover_ok(b); /* still started */
    assert_int_equal(f->host.ngpus, 2);
    gpf_free(f);
    gpf_gpu_backend_close(b);
    S.full.counts(&inits, &shutdowns);
    assert_int_equal(inits, 5);
    assert_int_equal(shutdowns, 5);
}

/* ---- gpufleet discover ------------------------------------------------------------------- */

/* Runs the command with stdout and stderr captured (heap strings, gpf_free). */
static int run_discover(int argc, char **argv, char **out, char **errout)
{
    char opath[] = "/tmp/test_nvml_outXXXXXX", epath[] = "/tmp/test_nvml_errXXXXXX";
    int ofd = mkstemp(opath), efd = mkstemp(epath);
    assert_true(ofd >= 0 && efd >= 0);
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(1), saved_err = dup(2);
    dup2(ofd, 1);
    dup2(efd, 2);
    int rc = gpf_cli_discover_main(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    close(ofd);
    close(efd);
    *out = *errout = NULL;
    assert_int_equal(gpf_read_file(opath, 1 << 20, out, NULL), 0);
    assert_int_equal(gpf_read_file(epath, 1 << 20, errout, NULL), 0);
    unlink(opath);
    unlink(epath);
    return rc;
}

static void test_cli_json(void **state)
{
    (void)state;
    char *out = NULL, *errout = NULL;
    char *argv[] = {"--nvml-lib", S.full.path, "--json"};
    scenario(&S.full, "h100x2");
    assert_int_equal(run_discover(3, argv, &out, &errout), 0);
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "backend")), "nvml");
    assert_string_equal(json_string_value(json_object_get(j, "cuda_version")), "12.4");
    json_t *gpus = json_object_get(j, "gpus");
    assert_int_equal(json_array_size(gpus), 2);
    json_t *g0 = json_array_get(gpus, 0), *g1 = json_array_get(gpus, 1);
    assert_string_equal(json_string_value(json_object_get(g0, "model")), "H100-80GB-SXM5");
    assert_string_equal(json_string_value(json_object_get(g0, "pci_device_id")), "0x233010DE");
    assert_int_equal(json_integer_value(json_object_get(g0, "power_mw")), 312500);
    assert_true(json_is_null(json_object_get(g1, "utilization_gpu_pct")));
    assert_true(json_is_true(json_object_get(g1, "mig_enabled")));
    json_t *m1 = json_array_get(json_object_get(g1, "mig_devices"), 1);
    assert_string_equal(json_string_value(json_object_get(m1, "uuid")), MIG_3G_UUID);
    assert_string_equal(json_string_value(json_object_get(m1, "profile")), "3g.40gb");
    assert_int_equal(json_integer_value(json_object_get(m1, "start")), 4);
    json_t *p1 = json_array_get(json_object_get(g1, "processes"), 1);
    assert_true(json_is_null(json_object_get(p1, "used_mib")));
    assert_int_equal(json_integer_value(json_object_get(p1, "gi_id")), 9);
    json_decref(j);
    gpf_free(out);
    gpf_free(errout);
}

static void test_cli_table_and_errors(void **state)
{
    (void)state;
    char *out = NULL, *errout = NULL;
    char *table[] = {"--backend", "nvml", "--nvml-lib", S.full.path};
    scenario(&S.full, "h100x2");
    assert_int_equal(run_discover(4, table, &out, &errout), 0);
    assert_contains(out, "2 GPUs (backend nvml, driver 550.54.15, CUDA 12.4, NVML 12.550.54.15)");
    assert_contains(out, "gen4 x16 / gen5 x16");
    assert_contains(out, "3g.40gb (id 9)");
    assert_contains(out, "gi 2 ci 0");
    gpf_free(out);
    gpf_free(errout);
    char *missing[] = {"--nvml-lib", "/nonexistent/libnvidia-ml.so.1"};
    assert_int_equal(run_discover(2, missing, &out, &errout), GPF_EXIT_ERROR);
    assert_contains(errout, "no NVIDIA driver library (/nonexistent/libnvidia-ml.so.1) on this host");
    assert_contains(errout, "use --backend fake for a demo");
    gpf_free(out);
    gpf_free(errout);
    char *usage[] = {"--backend", "cuda"};
    assert_int_equal(run_discover(2, usage, &out, &errout), GPF_EXIT_USAGE);
    gpf_free(out);
    gpf_free(errout);
    char *fake[] = {"--backend", "fake", "--host-id", "gpu-h100-a", "--json"};
    assert_int_equal(run_discover(5, fake, &out, &errout), 0);
    assert_contains(out, "\"backend\": \"fake\"");
    gpf_free(out);
    gpf_free(errout);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_facts),
        cmocka_unit_test(test_gpu_whole),
        cmocka_unit_test(test_gpu_mig),
        cmocka_unit_test(test_catalog_mapping),
        cmocka_unit_test(test_unknown_pci),
        cmocka_unit_test(test_no_gpus_and_too_many),
        cmocka_unit_test(test_device_id),
        cmocka_unit_test(test_device_id_rereads),
        cmocka_unit_test(test_procs_truncated),
        cmocka_unit_test(test_procs_race),
        cmocka_unit_test(test_open_missing_library),
        cmocka_unit_test(test_init_fails),
        cmocka_unit_test(test_required_call_fails),
        cmocka_unit_test(test_optional_call_fails),
        cmocka_unit_test(test_mig_without_permission),
        cmocka_unit_test(test_minimal_library),
        cmocka_unit_test(test_missing_required_symbol),
        cmocka_unit_test(test_close_reopen),
        cmocka_unit_test(test_cli_json),
        cmocka_unit_test(test_cli_table_and_errors),
    };
    return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
