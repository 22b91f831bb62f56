/* A fake libnvidia-ml.so.1 for the tests: exports the NVML entry points the NVML backend
 * resolves (declared in src/agent/nvml_abi.h, so the compiler checks every definition here
 * against the signatures the backend calls through) and answers from a scenario.
 *
 * The test dlopens the same file as the backend (same path, same loaded object, shared
 * state) to reach the controls below. Scenarios (fakenvml_scenario):
 *   h100x2             two H100 80GB SXM5 (0x233010DE) on NUMA nodes 0 and 1; GPU 0 whole
 *                      with one process, GPU 1 in MIG mode with 1g.10gb (GI profile 19) at
 *                      start 0 and 3g.40gb (GI profile 9) at start 4, two processes in them.
 *                      Device minors swapped against the indices (GPU 0 is /dev/nvidia1).
 *                      The default when the library is loaded.
 *   unknown-pci        one GPU whose PCI device id no catalog knows, not MIG-capable
 *   driver-not-loaded  nvmlInit_v2 answers NVML_ERROR_DRIVER_NOT_LOADED (9)
 *   many-procs         h100x2 with 70 processes on GPU 0
 *   procs-race         h100x2 where GPU 0 gains a process after the sizing call
 *   no-gpus            a driver without GPUs
 *   gpus17             17 GPUs (more than a gpufleet host holds)
 * Every process list starts with a sizing call answered NVML_ERROR_INSUFFICIENT_SIZE.
 *
 * Built three ways (Makefile): full; -DFAKE_NVML_MINIMAL, without any optional entry point;
 * -DFAKE_NVML_NO_PCI, without the required nvmlDeviceGetPciInfo_v3. No sanitizer flags:
 * it is dlopened by the ASan and TSan test binaries alike. */
#define NVML_ABI_PROTOTYPES
#include "agent/nvml_abi.h"

#include <stdio.h>
#include <string.h>

/* ---- the controls (exported) ----------------------------------------------------------- */

/* Loads a scenario and resets failures, counters and the init reference count.
 * 0, or -1 for an unknown name. */
int fakenvml_scenario(const char *name);
/* Makes every later call of symbol answer nvml_return (0 = behave again). */
void fakenvml_fail(const char *symbol, int nvml_return);
/* Calls of symbol since the scenario was loaded. */
int fakenvml_calls(const char *symbol);
/* Successful nvmlInit_v2 and nvmlShutdown calls since the scenario was loaded. */
void fakenvml_counts(int *inits, int *shutdowns);

/* ---- state ----------------------------------------------------------------------------- */

#define MAX_GPUS 20
#define MAX_MIG 8
#define MAX_PROCS 80
#define MAX_SYMS 64
#define MIB (1024ull * 1024ull)

typedef struct fake_mig {
    unsigned int slot;            /* its MIG device index on the GPU */
    unsigned int gi_id, ci_id, profile_id, start, size;
    unsigned long long mem_mib;
    char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
} fake_mig;

typedef struct fake_proc {
    unsigned int pid, gi, ci;
    unsigned long long bytes;
} fake_proc;

typedef struct fake_gpu {
    char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE], uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
    char bus[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
    unsigned int pci_id, numa, minor;
    unsigned long long total_mib, used_mib, reserved_mib;
    unsigned int util_gpu, util_mem, power_mw, limit_mw, temp, slowdown, shutdown;
    unsigned int gen, gen_max, width, width_max;
    int mig_capable;
    unsigned int mig_cur, mig_pending;
    int nmig;
    fake_mig mig[MAX_MIG];
    int nprocs;
    fake_proc procs[MAX_PROCS];
} fake_gpu;

/* Handles point into these tables. */
struct nvmlDevice_st {
    int gpu, mig;                 /* mig -1: the GPU itself */
};
struct nvmlGpuInstance_st {
    int gpu, mig;
};

typedef struct sym_slot {
    char name[64];
    int ret, calls;
} sym_slot;

static struct {
    int ngpus;
    fake_gpu gpus[MAX_GPUS];
    struct nvmlDevice_st dev[MAX_GPUS], migdev[MAX_GPUS][MAX_MIG];
    struct nvmlGpuInstance_st gi[MAX_GPUS][MAX_MIG];
    int refs, inits, shutdowns;
    int grow_procs;               /* procs-race: processes GPU 0 gains after a sizing call */
    int nsyms;
    sym_slot syms[MAX_SYMS];
} S;

static sym_slot *slot(const char *name)
{
    for (int i = 0; i < S.nsyms; i++)
        if (!strcmp(S.syms[i].name, name))
            return &S.syms[i];
    if (S.nsyms == MAX_SYMS)
        return &S.syms[MAX_SYMS - 1];
    sym_slot *s = &S.syms[S.nsyms++];
    snprintf(s->name, sizeof s->name, "%s", name);
    return s;
}

/* Counts the call; the failure set for it, or UNINITIALIZED before nvmlInit_v2. */
static nvmlReturn_t enter(const char *fn)
{
    sym_slot *s = slot(fn);
    s->calls++;
    if (s->ret)
        return (nvmlReturn_t)s->ret;
    return S.refs > 0 ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
}

/* A GPU or MIG device handle: *g and *m (NULL for a GPU); out is the caller's result
 * pointer (NULL is an invalid argument). */
static nvmlReturn_t enter_any(const char *fn, nvmlDevice_t d, const void *out, fake_gpu **g, fake_mig **m)
{
    nvmlReturn_t r = enter(fn);
    if (r != NVML_SUCCESS)
        return r;
    if (!out)
        return NVML_ERROR_INVALID_ARGUMENT;
    for (int i = 0; i < S.ngpus; i++) {
        *g = &S.gpus[i];
        *m = NULL;
        if (d == &S.dev[i])
            return NVML_SUCCESS;
        for (int k = 0; k < S.gpus[i].nmig; k++) {
            *m = &S.gpus[i].mig[k];
            if (d == &S.migdev[i][k])
                return NVML_SUCCESS;
        }
    }
    return NVML_ERROR_INVALID_ARGUMENT;
}

/* A GPU handle only. */
static nvmlReturn_t enter_gpu(const char *fn, nvmlDevice_t d, const void *out, fake_gpu **g)
{
    fake_mig *m = NULL;
    nvmlReturn_t r = enter_any(fn, d, out, g, &m);
    return r == NVML_SUCCESS && m ? NVML_ERROR_INVALID_ARGUMENT : r;
}

static nvmlReturn_t put_str(char *out, unsigned int len, const char *s)
{
    if (!out)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(s) >= len)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    snprintf(out, len, "%s", s);
    return NVML_SUCCESS;
}

static nvmlReturn_t put_uint(unsigned int *out, unsigned int v)
{
    if (!out)
        return NVML_ERROR_INVALID_ARGUMENT;
    *out = v;
    return NVML_SUCCESS;
}

/* ---- scenarios ------------------------------------------------------------------------- */

/* An idle-ish H100 80GB SXM5, MIG-capable with MIG off. */
static const fake_gpu H100 = {
    .name = "NVIDIA H100 80GB HBM3",
    .pci_id = 0x233010DEu,
    .total_mib = 81559, .used_mib = 1250, .reserved_mib = 568,
    .util_gpu = 37, .util_mem = 12,
    .power_mw = 312500, .limit_mw = 700000,
    .temp = 41, .slowdown = 87, .shutdown = 92,
    .gen = 5, .gen_max = 5, .width = 16, .width_max = 16,
    .mig_capable = 1,
};

static fake_gpu *add_h100(const char *uuid, const char *bus, unsigned int numa)
{
    int i = S.ngpus++;
    fake_gpu *g = &S.gpus[i];
    *g = H100;
    S.dev[i].gpu = i;
    S.dev[i].mig = -1;
    snprintf(g->uuid, sizeof g->uuid, "%s", uuid);
    snprintf(g->bus, sizeof g->bus, "%s", bus);
    g->numa = numa;
    g->minor = (unsigned int)i;
    return g;
}

static void add_mig(int gpu, unsigned int slot_idx, const char *uuid, const unsigned int ids[5], unsigned long long mib)
{
    fake_gpu *g = &S.gpus[gpu];
    int k = g->nmig++;
    fake_mig *m = &g->mig[k];
    m->slot = slot_idx;
    m->gi_id = ids[0];
    m->ci_id = ids[1];
    m->profile_id = ids[2];
    m->start = ids[3];
    m->size = ids[4];
    m->mem_mib = mib;
    snprintf(m->uuid, sizeof m->uuid, "%s", uuid);
    S.migdev[gpu][k].gpu = S.gi[gpu][k].gpu = gpu;
    S.migdev[gpu][k].mig = S.gi[gpu][k].mig = k;
}

static void add_proc(fake_gpu *g, unsigned int pid, unsigned long long bytes, unsigned int gi, unsigned int ci)
{
    if (g->nprocs < MAX_PROCS)
        g->procs[g->nprocs++] = (fake_proc){pid, gi, ci, bytes};
}

static void scenario_h100x2(void)
{
    static const unsigned int small[5] = {9, 0, 19, 0, 1}, large[5] = {2, 0, 9, 4, 4};
    fake_gpu *g0 = add_h100("GPU-0f5b3c9e-7a21-4d8e-9b6c-1d2e3f405a60", "00000000:18:00.0", 0);
    add_proc(g0, 4242, 1024 * MIB, NVML_INSTANCE_ID_NONE, NVML_INSTANCE_ID_NONE);
    fake_gpu *g1 = add_h100("GPU-7c1e2d3f-4a5b-4c6d-8e7f-90a1b2c3d4e5", "00000000:9A:00.0", 1);
    g0->minor = 1; /* the driver numbers its device nodes in its own order, not NVML's */
    g1->minor = 0;
    g1->used_mib = 3072;
    g1->power_mw = 145000;
    g1->temp = 35;
    g1->gen = 4;
    g1->mig_cur = g1->mig_pending = NVML_DEVICE_MIG_ENABLE;
    add_mig(1, 0, "MIG-a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a5b", small, 9856);
    add_mig(1, 3, "MIG-b2c3d4e5-0002-4f60-9bac-1d2e3f4a5b6c", large, 40192);
    add_proc(g1, 5151, 2048 * MIB, 2, 0);
    add_proc(g1, 5152, NVML_MEMORY_NOT_AVAILABLE, 9, 0);
}

static void scenario_unknown_pci(void)
{
    fake_gpu *g = add_h100("GPU-3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7", "00000000:3B:00.0", 0);
    snprintf(g->name, sizeof g->name, "NVIDIA Prototype GPU");
    g->pci_id = 0xFFF010DEu;
    g->total_mib = 24576;
    g->mig_capable = 0;
}

static void scenario_gpus17(void)
{
    for (int i = 0; i < 17; i++) {
        char uuid[64], bus[32];
        snprintf(uuid, sizeof uuid, "GPU-00000000-0000-4000-8000-0000000000%02d", i);
        snprintf(bus, sizeof bus, "00000000:%02X:00.0", 0x10 + i);
        add_h100(uuid, bus, 0);
    }
}

int fakenvml_scenario(const char *name)
{
    memset(&S, 0, sizeof S);
    if (!strcmp(name, "h100x2") || !strcmp(name, "driver-not-loaded") || !strcmp(name, "many-procs") ||
        !strcmp(name, "procs-race"))
        scenario_h100x2();
    else if (!strcmp(name, "unknown-pci"))
        scenario_unknown_pci();
    else if (!strcmp(name, "gpus17"))
        scenario_gpus17();
    else if (strcmp(name, "no-gpus") != 0)
        return -1;
    if (!strcmp(name, "driver-not-loaded"))
        slot("nvmlInit_v2")->ret = NVML_ERROR_DRIVER_NOT_LOADED;
    for (unsigned int pid = 1000; !strcmp(name, "many-procs") && pid < 1070; pid++)
        add_proc(&S.gpus[0], pid, 64 * MIB, NVML_INSTANCE_ID_NONE, NVML_INSTANCE_ID_NONE);
    if (!strcmp(name, "procs-race"))
        S.grow_procs = 1;
    return 0;
}

void fakenvml_fail(const char *symbol, int nvml_return)
{
    slot(symbol)->ret = nvml_return;
}

int fakenvml_calls(const char *symbol)
{
    return slot(symbol)->calls;
}

void fakenvml_counts(int *inits, int *shutdowns)
{
    *inits = S.inits;
    *shutdowns = S.shutdowns;
}

__attribute__((constructor)) static void fake_loaded(void)
{
    fakenvml_scenario("h100x2");
}

/* ---- required entry points ------------------------------------------------------------- */

nvmlReturn_t nvmlInit_v2(void)
{
    sym_slot *s = slot(__func__);
    s->calls++;
    if (s->ret)
        return (nvmlReturn_t)s->ret;
    S.refs++;
    S.inits++;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlShutdown(void)
{
    nvmlReturn_t r = enter(__func__);
    if (r != NVML_SUCCESS)
        return r;
    S.refs--;
    S.shutdowns++;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
    nvmlReturn_t r = enter(__func__);
    return r != NVML_SUCCESS ? r : put_str(version, length, "550.54.15");
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount)
{
    nvmlReturn_t r = enter(__func__);
    return r != NVML_SUCCESS ? r : put_uint(deviceCount, (unsigned int)S.ngpus);
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
    nvmlReturn_t r = enter(__func__);
    if (r != NVML_SUCCESS)
        return r;
    if (!device || index >= (unsigned int)S.ngpus)
        return NVML_ERROR_INVALID_ARGUMENT;
    *device = &S.dev[index];
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
    fake_gpu *g = NULL;
    fake_mig *m = NULL;
    nvmlReturn_t r = enter_any(__func__, device, name, &g, &m);
    return r != NVML_SUCCESS ? r : put_str(name, length, g->name);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
    fake_gpu *g = NULL;
    fake_mig *m = NULL;
    nvmlReturn_t r = enter_any(__func__, device, uuid, &g, &m);
    return r != NVML_SUCCESS ? r : put_str(uuid, length, m ? m->uuid : g->uuid);
}

#ifndef FAKE_NVML_NO_PCI
nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    fake_gpu *g = NULL;
    nvmlReturn_t r = enter_gpu(__func__, device, pci, &g);
    if (r != NVML_SUCCESS)
        return r;
    memset(pci, 0, sizeof *pci);
    snprintf(pci->busId, sizeof pci->busId, "%s", g->bus);
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%s", g->bus + 4);
    pci->pciDeviceId = g->pci_id;
    pci->pciSubSystemId = 0x16C110DEu;
    return NVML_SUCCESS;
}
#endif

/* Bytes of a GPU or MIG device: total, reserved by the driver, used by processes. */
static nvmlReturn_t mem_bytes(const char *fn, nvmlDevice_t device, const void *out, unsigned long long v[3])
{
    fake_gpu *g = NULL;
    fake_mig *m = NULL;
    nvmlReturn_t r = enter_any(fn, device, out, &g, &m);
    if (r != NVML_SUCCESS)
        return r;
    v[0] = (m ? m->mem_mib : g->total_mib) * MIB;
    v[1] = m ? 0 : g->reserved_mib * MIB;
    v[2] = m ? 0 : g->used_mib * MIB;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
    unsigned long long v[3];
    nvmlReturn_t r = mem_bytes(__func__, device, memory, v);
    if (r != NVML_SUCCESS)
        return r;
    memory->total = v[0];
    memory->used = v[1] + v[2]; /* v1 counts the reserved memory as used */
    memory->free = v[0] - v[1] - v[2];
    return NVML_SUCCESS;
}

/* ---- optional entry points ------------------------------------------------------------- */

#ifndef FAKE_NVML_MINIMAL

const char *nvmlErrorString(nvmlReturn_t result)
{
    switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "RM has detected an NVML/RM version mismatch.";
    case NVML_ERROR_DEPRECATED: return "Deprecated";
    default: return "Unknown Error";
    }
}

nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length)
{
    nvmlReturn_t r = enter(__func__);
    return r != NVML_SUCCESS ? r : put_str(version, length, "12.550.54.15");
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *cudaDriverVersion)
{
    nvmlReturn_t r = enter(__func__);
    if (r != NVML_SUCCESS)
        return r;
    if (!cudaDriverVersion)
        return NVML_ERROR_INVALID_ARGUMENT;
    *cudaDriverVersion = 12040;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)
{
    unsigned long long v[3];
    nvmlReturn_t r = mem_bytes(__func__, device, memory, v);
    if (r != NVML_SUCCESS)
        return r;
    if (memory->version != NVML_MEMORY_V2_VERSION)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    memory->total = v[0];
    memory->reserved = v[1];
    memory->used = v[2];
    memory->free = v[0] - v[1] - v[2];
    return NVML_SUCCESS;
}

/* The getters of one unsigned fact of a GPU. */
#define GPU_UINT_GETTER(fn, field)                                   \
    nvmlReturn_t fn(nvmlDevice_t device, unsigned int *out)          \
    {                                                                \
        fake_gpu *g = NULL;                                          \
        nvmlReturn_t r = enter_gpu(__func__, device, out, &g);       \
        return r != NVML_SUCCESS ? r : put_uint(out, g->field);      \
    }

GPU_UINT_GETTER(nvmlDeviceGetNumaNodeId, numa)
GPU_UINT_GETTER(nvmlDeviceGetMinorNumber, minor)
GPU_UINT_GETTER(nvmlDeviceGetPowerUsage, power_mw)
GPU_UINT_GETTER(nvmlDeviceGetEnforcedPowerLimit, limit_mw)
GPU_UINT_GETTER(nvmlDeviceGetCurrPcieLinkGeneration, gen)
GPU_UINT_GETTER(nvmlDeviceGetMaxPcieLinkGeneration, gen_max)
GPU_UINT_GETTER(nvmlDeviceGetCurrPcieLinkWidth, width)
GPU_UINT_GETTER(nvmlDeviceGetMaxPcieLinkWidth, width_max)

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization)
{
    fake_gpu *g = NULL;
    nvmlReturn_t r = enter_gpu(__func__, device, utilization, &g);
    if (r != NVML_SUCCESS)
        return r;
    if (g->mig_cur == NVML_DEVICE_MIG_ENABLE)
        return NVML_ERROR_NOT_SUPPORTED; /* as on real GPUs in MIG mode */
    utilization->gpu = g->util_gpu;
    utilization->memory = g->util_mem;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTemperatureV(nvmlDevice_t device, nvmlTemperature_v1_t *temperature)
{
    fake_gpu *g = NULL;
    nvmlReturn_t r = enter_gpu(__func__, device, temperature, &g);
    if (r != NVML_SUCCESS)
        return r;
    if (temperature->sensorType != NVML_TEMPERATURE_GPU)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (temperature->version != NVML_TEMPERATURE_V1_VERSION)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    temperature->temperature = (int)g->temp;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, nvmlTemperatureSensors_t sensorType, unsigned int *temp)
{
    fake_gpu *g = NULL;
    nvmlReturn_t r = enter_gpu(__func__, device, temp, &g);
    if (r != NVML_SUCCESS)
        return r;
    return sensorType != NVML_TEMPERATURE_GPU ? NVML_ERROR_INVALID_ARGUMENT : put_uint(temp, g->temp);
}

nvmlReturn_t nvmlDeviceGetTemperatureThreshold(nvmlDevice_t device, nvmlTemperatureThresholds_t thresholdType,
                                               unsigned int *temp)
{
    fake_gpu *g = NULL;
    nvmlReturn_t r = enter_gpu(__func__, device, temp, &g);
    if (r != NVML_SUCCESS)
        return r;
    if (thresholdType == NVML_TEMPERATURE_THRESHOLD_SHUTDOWN)
        return put_uint(temp, g->shutdown);
    if (thresholdType == NVML_TEMPERATURE_THRESHOLD_SLOWDOWN)
        return put_uint(temp, g->slowdown);
    return NVML_ERROR_INVALID_ARGUMENT;
}

nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *currentMode, unsigned int *pendingMode)
{
    fake_gpu *g = NULL;
    nvmlReturn_t r = enter_gpu(__func__, device, currentMode, &g);
    if (r != NVML_SUCCESS)
        return r;
    if (!g->mig_capable)
        return NVML_ERROR_NOT_SUPPORTED;
    if (!pendingMode)
        return NVML_ERROR_INVALID_ARGUMENT;
    *currentMode = g->mig_cur;
    *pendingMode = g->mig_pending;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t device, unsigned int *count)
{
    fake_gpu *g = NULL;
    nvmlReturn_t r = enter_gpu(__func__, device, count, &g);
    if (r != NVML_SUCCESS)
        return r;
    return put_uint(count, g->mig_cur == NVML_DEVICE_MIG_ENABLE ? 7 : 0);
}

nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t device, unsigned int index, nvmlDevice_t *migDevice)
{
    fake_gpu *g = NULL;
    nvmlReturn_t r = enter_gpu(__func__, device, migDevice, &g);
    if (r != NVML_SUCCESS)
        return r;
    for (int k = 0; k < g->nmig; k++) {
        if (g->mig[k].slot == index) {
            *migDevice = &S.migdev[device->gpu][k];
            return NVML_SUCCESS;
        }
    }
    return NVML_ERROR_NOT_FOUND;
}

/* The ids of a MIG device handle (INVALID_ARGUMENT on a GPU handle). */
static nvmlReturn_t mig_id(const char *fn, nvmlDevice_t device, int compute, unsigned int *id)
{
    fake_gpu *g = NULL;
    fake_mig *m = NULL;
    nvmlReturn_t r = enter_any(fn, device, id, &g, &m);
    if (r != NVML_SUCCESS)
        return r;
    if (!m)
        return NVML_ERROR_INVALID_ARGUMENT;
    return put_uint(id, compute ? m->ci_id : m->gi_id);
}

nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t device, unsigned int *id)
{
    return mig_id(__func__, device, 0, id);
}

nvmlReturn_t nvmlDeviceGetComputeInstanceId(nvmlDevice_t device, unsigned int *id)
{
    return mig_id(__func__, device, 1, id);
}

/* The H100 80GB GPU-instance profiles: enum index, id, slices, most instances, MiB. */
static const unsigned int PROFILES[][5] = {
    {NVML_GPU_INSTANCE_PROFILE_1_SLICE, 19, 1, 7, 9984},
    {NVML_GPU_INSTANCE_PROFILE_2_SLICE, 14, 2, 3, 20096},
    {NVML_GPU_INSTANCE_PROFILE_3_SLICE, 9, 3, 2, 40448},
    {NVML_GPU_INSTANCE_PROFILE_4_SLICE, 5, 4, 1, 40448},
    {NVML_GPU_INSTANCE_PROFILE_7_SLICE, 0, 7, 1, 81152},
    {NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1, 20, 1, 1, 9984},
    {NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV2, 15, 1, 4, 20096},
};

nvmlReturn_t nvmlDeviceGetGpuInstanceProfileInfo(nvmlDevice_t device, unsigned int profile,
                                                 nvmlGpuInstanceProfileInfo_t *info)
{
    fake_gpu *g = NULL;
    nvmlReturn_t r = enter_gpu(__func__, device, info, &g);
    if (r != NVML_SUCCESS)
        return r;
    if (profile >= NVML_GPU_INSTANCE_PROFILE_COUNT)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!g->mig_capable)
        return NVML_ERROR_NOT_SUPPORTED;
    for (size_t i = 0; i < sizeof PROFILES / sizeof PROFILES[0]; i++) {
        if (PROFILES[i][0] != profile)
            continue;
        memset(info, 0, sizeof *info);
        info->id = PROFILES[i][1];
        info->sliceCount = PROFILES[i][2];
        info->instanceCount = PROFILES[i][3];
        info->memorySizeMB = PROFILES[i][4];
        return NVML_SUCCESS;
    }
    return NVML_ERROR_NOT_SUPPORTED;
}

nvmlReturn_t nvmlDeviceGetGpuInstances(nvmlDevice_t device, unsigned int profileId, nvmlGpuInstance_t *gpuInstances,
                                       unsigned int *count)
{
    fake_gpu *g = NULL;
    nvmlReturn_t r = enter_gpu(__func__, device, gpuInstances, &g);
    if (r != NVML_SUCCESS)
        return r;
    if (!count)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (g->mig_cur != NVML_DEVICE_MIG_ENABLE)
        return NVML_ERROR_INVALID_STATE;
    unsigned int n = 0;
    for (int k = 0; k < g->nmig; k++)
        if (g->mig[k].profile_id == profileId)
            gpuInstances[n++] = &S.gi[device->gpu][k];
    *count = n;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlGpuInstanceGetInfo(nvmlGpuInstance_t gpuInstance, nvmlGpuInstanceInfo_t *info)
{
    nvmlReturn_t r = enter(__func__);
    if (r != NVML_SUCCESS)
        return r;
    for (int i = 0; i < S.ngpus; i++) {
        for (int k = 0; k < S.gpus[i].nmig; k++) {
            const fake_mig *m = &S.gpus[i].mig[k];
            if (gpuInstance != &S.gi[i][k])
                continue;
            if (!info)
                return NVML_ERROR_INVALID_ARGUMENT;
            info->device = &S.dev[i];
            info->id = m->gi_id;
            info->profileId = m->profile_id;
            info->placement.start = m->start;
            info->placement.size = m->size;
            return NVML_SUCCESS;
        }
    }
    return NVML_ERROR_INVALID_ARGUMENT;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
                                                     nvmlProcessInfo_t *infos)
{
    fake_gpu *g = NULL;
    nvmlReturn_t r = enter_gpu(__func__, device, infoCount, &g);
    if (r != NVML_SUCCESS)
        return r;
    if (*infoCount > 0 && !infos)
        return NVML_ERROR_INVALID_ARGUMENT;
    unsigned int have = *infoCount;
    *infoCount = (unsigned int)g->nprocs;
    if (have < (unsigned int)g->nprocs) {
        if (S.grow_procs > 0 && g == &S.gpus[0]) { /* a process starts between the two calls */
            S.grow_procs--;
            add_proc(g, 4243, 512 * MIB, NVML_INSTANCE_ID_NONE, NVML_INSTANCE_ID_NONE);
        }
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    for (int i = 0; i < g->nprocs; i++) {
        infos[i].pid = g->procs[i].pid;
        infos[i].usedGpuMemory = g->procs[i].bytes;
        infos[i].gpuInstanceId = g->procs[i].gi;
        infos[i].computeInstanceId = g->procs[i].ci;
    }
    return NVML_SUCCESS;
}

#endif /* FAKE_NVML_MINIMAL */
