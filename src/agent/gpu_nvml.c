/* The NVML GPU backend: what the NVIDIA driver reports about this host's GPUs, read through
 * libnvidia-ml.so.1 loaded with dlopen (so the binary runs where there is no driver).
 *
 * Read-only: only the getters declared in nvml_abi.h are resolved, never a setter. Required
 * symbols (init, count, handle, name, UUID, PCI info, memory, driver version) missing make
 * open fail with GPF_ENOTSUP naming the symbol; any other symbol missing, or a getter that
 * fails, leaves its fact unknown (-1, or "" for strings). A required getter that fails
 * during discovery fails the discovery with NVML's text and code. docs/hardware.md has the
 * details. */
#include <dlfcn.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/gpu_backend.h"
#include "agent/nvml_abi.h"
#include "util/alloc.h"

#define DEFAULT_LIB "libnvidia-ml.so.1"
#define MIB (1024ull * 1024ull)
#define MAX_PROFILE_INDEX 64     /* GPU-instance profile enum indices probed at most */
#define MAX_GI_PER_PROFILE 32    /* GPU instances of one profile we can take in */
#define MAX_PROCS_FETCH 65536    /* processes we accept to list on one GPU */
#define PROC_TRIES 4             /* process list calls while the list keeps growing */

typedef struct nvml_fns {
#define NVML_FIELD(kind, ret, name, params) name##_fn name;
    NVML_ABI_FUNCTIONS(NVML_FIELD)
#undef NVML_FIELD
} nvml_fns;

typedef struct nvml_sym {
    const char *name;
    size_t offset;
    int required;
} nvml_sym;

static const nvml_sym SYMS[] = {
#define NVML_SYM(kind, ret, name, params) {#name, offsetof(nvml_fns, name), NVML_##kind},
    NVML_ABI_FUNCTIONS(NVML_SYM)
#undef NVML_SYM
};

_Static_assert(sizeof(void *) == sizeof(nvmlInit_v2_fn), "dlsym results must fit function pointers");

/* A catalog model by one of its PCI device ids (copied at open: the catalog may go away). */
typedef struct pci_model {
    uint32_t pci_device_id;
    char key[GPF_ID_MAX];
} pci_model;

typedef struct nvml_priv {
    void *lib;
    nvml_fns fn;
    int nmodels;
    pci_model *models;
    gpf_host_facts facts;    /* the last discovery; device_id answers from it */
    int have_facts;
} nvml_priv;

typedef nvmlReturn_t (*uint_getter)(nvmlDevice_t, unsigned int *);

/* ---- errors --------------------------------------------------------------------------- */

static int code_of(nvmlReturn_t r)
{
    switch (r) {
    case NVML_ERROR_NO_PERMISSION: return GPF_EFORBIDDEN;
    case NVML_ERROR_NOT_SUPPORTED: return GPF_ENOTSUP;
    case NVML_ERROR_TIMEOUT: return GPF_ETIMEOUT;
    case NVML_ERROR_UNINITIALIZED:
    case NVML_ERROR_DRIVER_NOT_LOADED:
    case NVML_ERROR_LIBRARY_NOT_FOUND:
    case NVML_ERROR_GPU_IS_LOST:
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return GPF_EUNAVAIL;
    default: return GPF_EIO;
    }
}

/* "Driver Not Loaded (NVML error 9)", or "NVML error 9" without nvmlErrorString. */
static void describe(const nvml_priv *p, nvmlReturn_t r, char *out, size_t size)
{
    const char *text = p->fn.nvmlErrorString ? p->fn.nvmlErrorString(r) : NULL;
    if (text && text[0])
        snprintf(out, size, "%.120s (NVML error %d)", text, (int)r);
    else
        snprintf(out, size, "NVML error %d", (int)r);
}

/* A required call failed: for the host (gpu < 0) or for one GPU. */
static int nvml_fail(const nvml_priv *p, nvmlReturn_t r, const char *call, int gpu, gpf_error *err)
{
    char why[160];
    describe(p, r, why, sizeof why);
    if (gpu < 0)
        return gpf_error_set(err, code_of(r), "%s failed: %s", call, why);
    return gpf_error_set(err, code_of(r), "%s failed for GPU %d: %s", call, gpu, why);
}

/* ---- small readers -------------------------------------------------------------------- */

/* Copies a buffer NVML filled, even one it left unterminated. */
static void take(char *dst, size_t dsize, char *src, size_t ssize)
{
    src[ssize - 1] = '\0';
    gpf_strlcpy(dst, src, dsize);
}

/* An unsigned fact, or -1 when the symbol is missing or the call fails. */
static int get_uint(uint_getter fn, nvmlDevice_t d)
{
    unsigned int v = 0;
    if (!fn || fn(d, &v) != NVML_SUCCESS || v > INT_MAX)
        return -1;
    return (int)v;
}

static int get_threshold(const nvml_priv *p, nvmlDevice_t d, nvmlTemperatureThresholds_t which)
{
    unsigned int v = 0;
    nvmlDeviceGetTemperatureThreshold_fn fn = p->fn.nvmlDeviceGetTemperatureThreshold;
    if (!fn || fn(d, which, &v) != NVML_SUCCESS || v > INT_MAX)
        return -1;
    return (int)v;
}

/* nvmlDeviceGetTemperatureV where the driver has it, else the deprecated call. */
static int get_temperature(const nvml_priv *p, nvmlDevice_t d)
{
    nvmlTemperature_v1_t t;
    unsigned int c = 0;
    memset(&t, 0, sizeof t);
    t.version = NVML_TEMPERATURE_V1_VERSION;
    t.sensorType = NVML_TEMPERATURE_GPU;
    if (p->fn.nvmlDeviceGetTemperatureV && p->fn.nvmlDeviceGetTemperatureV(d, &t) == NVML_SUCCESS && t.temperature >= 0)
        return t.temperature;
    if (p->fn.nvmlDeviceGetTemperature && p->fn.nvmlDeviceGetTemperature(d, NVML_TEMPERATURE_GPU, &c) == NVML_SUCCESS &&
        c <= INT_MAX)
        return (int)c;
    return -1;
}

/* A GPU/compute instance id as NVML gives it; -1 for "none" (0xFFFFFFFF). */
static int instance_id(unsigned int v)
{
    return v == NVML_INSTANCE_ID_NONE || v > INT_MAX ? -1 : (int)v;
}

/* ---- host ------------------------------------------------------------------------------ */

/* The host id: this machine's name, lowercased, with characters ids do not allow as '-'. */
static void host_id(char *out, size_t size)
{
    char name[256] = "";
    if (gethostname(name, sizeof name - 1) != 0 || !name[0])
        gpf_strlcpy(name, "localhost", sizeof name);
    name[sizeof name - 1] = '\0';
    gpf_strlcpy(out, name, size);
    for (char *c = out; *c; c++) {
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
        else if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-'))
            *c = '-';
    }
}

static void read_host_basics(gpf_host_rec *h)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    host_id(h->id, sizeof h->id);
    h->cpus = cpus > 0 && cpus <= INT_MAX ? (int)cpus : 0;
    h->memory_mib = pages > 0 && page > 0 ? (int64_t)((unsigned long long)pages * (unsigned long long)page / MIB) : 0;
    gpf_strlcpy(h->backend, "nvml", sizeof h->backend);
}

static int read_versions(const nvml_priv *p, gpf_host_facts *f, gpf_error *err)
{
    char buf[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE] = "";
    int cuda = 0;
    nvmlReturn_t r = p->fn.nvmlSystemGetDriverVersion(buf, sizeof buf);
    if (r != NVML_SUCCESS)
        return nvml_fail(p, r, "nvmlSystemGetDriverVersion", -1, err);
    take(f->driver_version, sizeof f->driver_version, buf, sizeof buf);
    if (p->fn.nvmlSystemGetNVMLVersion && p->fn.nvmlSystemGetNVMLVersion(buf, sizeof buf) == NVML_SUCCESS)
        take(f->nvml_version, sizeof f->nvml_version, buf, sizeof buf);
    /* 12040 is CUDA 12.4 */
    if (p->fn.nvmlSystemGetCudaDriverVersion_v2 && p->fn.nvmlSystemGetCudaDriverVersion_v2(&cuda) == NVML_SUCCESS &&
        cuda > 0)
        snprintf(f->cuda_version, sizeof f->cuda_version, "%d.%d", cuda / 1000, cuda % 1000 / 10);
    return 0;
}

/* ---- one GPU: identity and live readings ------------------------------------------------ */

/* The facts a GPU cannot go without; any failure here fails the discovery. */
static int read_identity(const nvml_priv *p, int idx, nvmlDevice_t *d, gpf_gpu_rec *g, gpf_gpu_live *l,
                         gpf_error *err)
{
    char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE] = "", uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE] = "";
    nvmlPciInfo_t pci;
    nvmlMemory_t mem;
    const char *call = NULL;
    nvmlReturn_t r;
    memset(&pci, 0, sizeof pci);
    memset(&mem, 0, sizeof mem);
    if ((r = p->fn.nvmlDeviceGetHandleByIndex_v2((unsigned int)idx, d)) != NVML_SUCCESS)
        call = "nvmlDeviceGetHandleByIndex_v2";
    else if ((r = p->fn.nvmlDeviceGetName(*d, name, sizeof name)) != NVML_SUCCESS)
        call = "nvmlDeviceGetName";
    else if ((r = p->fn.nvmlDeviceGetUUID(*d, uuid, sizeof uuid)) != NVML_SUCCESS)
        call = "nvmlDeviceGetUUID";
    else if ((r = p->fn.nvmlDeviceGetPciInfo_v3(*d, &pci)) != NVML_SUCCESS)
        call = "nvmlDeviceGetPciInfo_v3";
    else if ((r = p->fn.nvmlDeviceGetMemoryInfo(*d, &mem)) != NVML_SUCCESS)
        call = "nvmlDeviceGetMemoryInfo";
    if (call)
        return nvml_fail(p, r, call, idx, err);
    g->index = idx;
    take(g->name, sizeof g->name, name, sizeof name);
    take(g->uuid, sizeof g->uuid, uuid, sizeof uuid);
    pci.busId[sizeof pci.busId - 1] = pci.busIdLegacy[sizeof pci.busIdLegacy - 1] = '\0';
    gpf_strlcpy(g->pci_bus_id, pci.busId[0] ? pci.busId : pci.busIdLegacy, sizeof g->pci_bus_id);
    g->memory_mib = (int64_t)(mem.total / MIB);
    g->numa_node = get_uint(p->fn.nvmlDeviceGetNumaNodeId, *d);
    for (int i = 0; i < p->nmodels && !g->model[0]; i++)
        if (p->models[i].pci_device_id == pci.pciDeviceId)
            gpf_strlcpy(g->model, p->models[i].key, sizeof g->model);
    l->pci_device_id = pci.pciDeviceId;
    l->memory_used_mib = (int64_t)(mem.used / MIB);
    return 0;
}

static void read_live(const nvml_priv *p, nvmlDevice_t d, gpf_gpu_live *l)
{
    nvmlUtilization_t u = {0, 0};
    nvmlMemory_v2_t m2;
    memset(&m2, 0, sizeof m2);
    m2.version = NVML_MEMORY_V2_VERSION;
    if (p->fn.nvmlDeviceGetUtilizationRates && p->fn.nvmlDeviceGetUtilizationRates(d, &u) == NVML_SUCCESS &&
        u.gpu <= 100 && u.memory <= 100) {
        l->util_gpu_pct = (int)u.gpu;
        l->util_mem_pct = (int)u.memory;
    }
    /* v2 leaves the driver's reserved memory out of "used"; v1 (already read) counts it */
    if (p->fn.nvmlDeviceGetMemoryInfo_v2 && p->fn.nvmlDeviceGetMemoryInfo_v2(d, &m2) == NVML_SUCCESS)
        l->memory_used_mib = (int64_t)(m2.used / MIB);
    l->power_mw = get_uint(p->fn.nvmlDeviceGetPowerUsage, d);
    l->power_limit_mw = get_uint(p->fn.nvmlDeviceGetEnforcedPowerLimit, d);
    l->temp_c = get_temperature(p, d);
    l->temp_slowdown_c = get_threshold(p, d, NVML_TEMPERATURE_THRESHOLD_SLOWDOWN);
    l->temp_shutdown_c = get_threshold(p, d, NVML_TEMPERATURE_THRESHOLD_SHUTDOWN);
    l->pcie_gen = get_uint(p->fn.nvmlDeviceGetCurrPcieLinkGeneration, d);
    l->pcie_gen_max = get_uint(p->fn.nvmlDeviceGetMaxPcieLinkGeneration, d);
    l->pcie_width = get_uint(p->fn.nvmlDeviceGetCurrPcieLinkWidth, d);
    l->pcie_width_max = get_uint(p->fn.nvmlDeviceGetMaxPcieLinkWidth, d);
    l->minor = get_uint(p->fn.nvmlDeviceGetMinorNumber, d);
}

/* ---- MIG ------------------------------------------------------------------------------- */

/* One MIG device handle: 0, or -1 when it has no UUID (then it is left out). */
static int read_mig_device(const nvml_priv *p, nvmlDevice_t m, gpf_gpu_mig_dev *md)
{
    char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE] = "";
    nvmlMemory_t mem;
    memset(md, 0, sizeof *md);
    memset(&mem, 0, sizeof mem);
    md->gi_profile_id = md->start = md->size = -1;
    md->memory_mib = -1;
    if (p->fn.nvmlDeviceGetUUID(m, uuid, sizeof uuid) != NVML_SUCCESS)
        return -1;
    take(md->uuid, sizeof md->uuid, uuid, sizeof uuid);
    md->gi_id = get_uint(p->fn.nvmlDeviceGetGpuInstanceId, m);
    md->ci_id = get_uint(p->fn.nvmlDeviceGetComputeInstanceId, m);
    if (p->fn.nvmlDeviceGetMemoryInfo(m, &mem) == NVML_SUCCESS)
        md->memory_mib = (int64_t)(mem.total / MIB);
    return 0;
}

static void read_mig_devices(const nvml_priv *p, nvmlDevice_t d, gpf_gpu_live *l)
{
    unsigned int max = 0;
    if (!p->fn.nvmlDeviceGetMaxMigDeviceCount || !p->fn.nvmlDeviceGetMigDeviceHandleByIndex ||
        p->fn.nvmlDeviceGetMaxMigDeviceCount(d, &max) != NVML_SUCCESS)
        return;
    for (unsigned int i = 0; i < max && l->nmig < GPF_MIG_MAX_PLACEMENTS; i++) {
        nvmlDevice_t m = NULL;
        /* NVML_ERROR_NOT_FOUND: no MIG device at this index */
        if (p->fn.nvmlDeviceGetMigDeviceHandleByIndex(d, i, &m) != NVML_SUCCESS)
            continue;
        if (read_mig_device(p, m, &l->mig[l->nmig]) == 0)
            l->nmig++;
    }
}

/* Gives the MIG devices on the GPU instances of one profile their profile and placement. */
static void match_instances(const nvml_priv *p, nvmlDevice_t d, const nvmlGpuInstanceProfileInfo_t *info,
                            gpf_gpu_live *l)
{
    nvmlGpuInstance_t gis[MAX_GI_PER_PROFILE];
    unsigned int n = MAX_GI_PER_PROFILE;
    if (info->instanceCount > MAX_GI_PER_PROFILE)
        return;
    memset(gis, 0, sizeof gis);
    if (p->fn.nvmlDeviceGetGpuInstances(d, info->id, gis, &n) != NVML_SUCCESS)
        return;
    for (unsigned int i = 0; i < n && i < MAX_GI_PER_PROFILE; i++) {
        nvmlGpuInstanceInfo_t gi;
        memset(&gi, 0, sizeof gi);
        if (p->fn.nvmlGpuInstanceGetInfo(gis[i], &gi) != NVML_SUCCESS || gi.profileId > INT_MAX ||
            gi.placement.start > INT_MAX || gi.placement.size > INT_MAX)
            continue;
        for (int k = 0; k < l->nmig; k++) {
            gpf_gpu_mig_dev *md = &l->mig[k];
            if (md->gi_id < 0 || (unsigned int)md->gi_id != gi.id)
                continue;
            md->gi_profile_id = (int)gi.profileId;
            md->start = (int)gi.placement.start;
            md->size = (int)gi.placement.size;
        }
    }
}

/* Walks the GPU-instance profiles (by enum index; their ids come from the driver) and the
 * instances of each. NVML_ERROR_NO_PERMISSION leaves profiles and placements unknown. */
static void read_gpu_instances(const nvml_priv *p, nvmlDevice_t d, gpf_gpu_live *l)
{
    unsigned int seen[MAX_PROFILE_INDEX];
    int nseen = 0;
    if (!p->fn.nvmlDeviceGetGpuInstanceProfileInfo || !p->fn.nvmlDeviceGetGpuInstances || !p->fn.nvmlGpuInstanceGetInfo)
        return;
    for (unsigned int idx = 0; idx < MAX_PROFILE_INDEX; idx++) {
        nvmlGpuInstanceProfileInfo_t info;
        int dup = 0;
        memset(&info, 0, sizeof info);
        nvmlReturn_t r = p->fn.nvmlDeviceGetGpuInstanceProfileInfo(d, idx, &info);
        if (r == NVML_ERROR_NO_PERMISSION ||
            (r == NVML_ERROR_INVALID_ARGUMENT && idx >= NVML_GPU_INSTANCE_PROFILE_COUNT))
            break;
        if (r != NVML_SUCCESS)
            continue; /* this profile does not exist on this GPU */
        for (int s = 0; s < nseen && !dup; s++)
            dup = seen[s] == info.id;
        if (dup)
            continue;
        seen[nseen++] = info.id;
        match_instances(p, d, &info, l);
    }
}

static void read_mig(const nvml_priv *p, nvmlDevice_t d, gpf_gpu_rec *g, gpf_gpu_live *l)
{
    unsigned int cur = 0, pending = 0;
    /* NVML_ERROR_NOT_SUPPORTED: the GPU is not MIG-capable */
    if (!p->fn.nvmlDeviceGetMigMode || p->fn.nvmlDeviceGetMigMode(d, &cur, &pending) != NVML_SUCCESS)
        return;
    g->mig_enabled = cur == NVML_DEVICE_MIG_ENABLE;
    l->mig_pending = pending == NVML_DEVICE_MIG_ENABLE;
    if (!g->mig_enabled)
        return;
    read_mig_devices(p, d, l);
    read_gpu_instances(p, d, l);
}

/* ---- processes ------------------------------------------------------------------------ */

static void keep_procs(const nvmlProcessInfo_t *infos, unsigned int n, gpf_gpu_live *l)
{
    for (unsigned int i = 0; i < n; i++) {
        if (l->nprocs == GPF_GPU_MAX_PROCS) {
            l->procs_truncated = 1;
            return;
        }
        gpf_gpu_proc *pr = &l->procs[l->nprocs++];
        unsigned long long used = infos[i].usedGpuMemory;
        pr->pid = infos[i].pid;
        pr->used_mib = used == NVML_MEMORY_NOT_AVAILABLE ? -1 : (int64_t)(used / MIB);
        pr->gi_id = instance_id(infos[i].gpuInstanceId);
        pr->ci_id = instance_id(infos[i].computeInstanceId);
    }
}

/* Compute processes on the whole GPU. Two-phase: a sizing call answers
 * NVML_ERROR_INSUFFICIENT_SIZE with the count (or NVML_SUCCESS when none run); the list may
 * grow before the second call, so it is asked again a few times. A list that cannot be
 * had is reported as truncated with what was kept (nothing). */
static void read_procs(const nvml_priv *p, nvmlDevice_t d, gpf_gpu_live *l)
{
    nvmlDeviceGetComputeRunningProcesses_v3_fn list = p->fn.nvmlDeviceGetComputeRunningProcesses_v3;
    nvmlProcessInfo_t *infos = NULL;
    unsigned int n = 0;
    if (!list)
        return;
    nvmlReturn_t r = list(d, &n, NULL);
    for (int tries = 0; r == NVML_ERROR_INSUFFICIENT_SIZE && tries < PROC_TRIES; tries++) {
        unsigned int cap = n;
        if (cap == 0 || cap > MAX_PROCS_FETCH)
            break;
        infos = gpf_reallocarray(infos, cap, sizeof *infos);
        memset(infos, 0, cap * sizeof *infos);
        r = list(d, &n, infos);
        if (r == NVML_SUCCESS && n > cap)
            r = NVML_ERROR_INSUFFICIENT_SIZE;
    }
    if (r == NVML_SUCCESS)
        keep_procs(infos, n, l);
    else if (r == NVML_ERROR_INSUFFICIENT_SIZE)
        l->procs_truncated = 1;
    gpf_free(infos);
}

/* ---- discovery ------------------------------------------------------------------------- */

static int read_gpu(const nvml_priv *p, int idx, gpf_gpu_rec *g, gpf_gpu_live *l, gpf_error *err)
{
    nvmlDevice_t d = NULL;
    int rc = read_identity(p, idx, &d, g, l, err);
    if (rc != 0)
        return rc;
    read_live(p, d, l);
    read_mig(p, d, g, l);
    read_procs(p, d, l);
    return 0;
}

static int read_all(const nvml_priv *p, gpf_host_facts *f, gpf_error *err)
{
    unsigned int n = 0;
    nvmlReturn_t r;
    int rc;
    memset(f, 0, sizeof *f);
    for (int g = 0; g < GPF_MAX_HOST_GPUS; g++)
        gpf_gpu_live_unknown(&f->live[g]);
    read_host_basics(&f->host);
    if ((rc = read_versions(p, f, err)) != 0)
        return rc;
    if ((r = p->fn.nvmlDeviceGetCount_v2(&n)) != NVML_SUCCESS)
        return nvml_fail(p, r, "nvmlDeviceGetCount_v2", -1, err);
    if (n > GPF_MAX_HOST_GPUS)
        return gpf_error_set(err, GPF_ETOOLARGE, "NVML reports %u GPUs; gpufleet handles at most %d on one host", n,
                             GPF_MAX_HOST_GPUS);
    f->host.numa_nodes = 1;
    for (int i = 0; i < (int)n; i++) {
        gpf_gpu_rec *g = &f->host.gpus[i];
        if ((rc = read_gpu(p, i, g, &f->live[i], err)) != 0)
            return rc;
        f->host.ngpus = i + 1;
        if (g->numa_node >= f->host.numa_nodes)
            f->host.numa_nodes = g->numa_node + 1;
    }
    return 0;
}

/* Reads everything again into the cache. */
static int refresh(nvml_priv *p, gpf_error *err)
{
    p->have_facts = 0;
    int rc = read_all(p, &p->facts, err);
    p->have_facts = rc == 0;
    return rc;
}

static int nvml_discover(gpf_gpu_backend *b, gpf_host_facts *facts, gpf_error *err)
{
    if (!b || !facts)
        return gpf_error_set(err, GPF_EINVAL, "discover: no backend or facts");
    nvml_priv *p = b->priv;
    int rc = refresh(p, err);
    if (rc == 0)
        *facts = p->facts;
    return rc;
}

/* ---- device ids ------------------------------------------------------------------------ */

/* Index of placement GPU i on this host (by UUID when the placement has one), or -1. */
static int placement_gpu(const gpf_host_rec *h, const gpf_placement *pl, int i)
{
    for (int g = 0; g < h->ngpus; g++) {
        if (pl->gpu_uuids[i][0] ? !strcmp(h->gpus[g].uuid, pl->gpu_uuids[i]) : h->gpus[g].index == pl->gpu_index[i])
            return g;
    }
    return -1;
}

/* The MIG device at this profile and start, or NULL; *unplaced: some device's profile and
 * placement are unknown (NVML did not tell them). */
static const char *mig_uuid(const gpf_gpu_live *l, int profile_id, int start, int *unplaced)
{
    *unplaced = 0;
    for (int k = 0; k < l->nmig; k++) {
        if (l->mig[k].gi_profile_id == profile_id && l->mig[k].start == start)
            return l->mig[k].uuid;
        *unplaced |= l->mig[k].gi_profile_id < 0;
    }
    return NULL;
}

/* The UUID a pod on this placement sees, from the facts of a discovery: 0, GPF_ENOTFOUND
 * (no such GPU or MIG device) or GPF_ESTATE (a MIG placement on a GPU not in MIG mode). */
static int find_device(const gpf_host_facts *f, const gpf_placement *pl, int i, const char **id, gpf_error *err)
{
    const gpf_host_rec *h = &f->host;
    int g = placement_gpu(h, pl, i);
    if (g < 0)
        return gpf_error_set(err, GPF_ENOTFOUND, "host '%s' has no GPU %s (index %d)", h->id,
                             pl->gpu_uuids[i][0] ? pl->gpu_uuids[i] : "-", pl->gpu_index[i]);
    *id = h->gpus[g].uuid;
    if (pl->mig_profile_id < 0)
        return 0;
    if (!h->gpus[g].mig_enabled)
        return gpf_error_set(err, GPF_ESTATE, "GPU %s on host '%s' is not in MIG mode", h->gpus[g].uuid, h->id);
    int unplaced = 0;
    *id = mig_uuid(&f->live[g], pl->mig_profile_id, pl->mig_start, &unplaced);
    if (!*id)
        return gpf_error_set(err, GPF_ENOTFOUND,
                             "GPU %s has no MIG device with GPU-instance profile %d at placement start %d%s",
                             h->gpus[g].uuid, pl->mig_profile_id, pl->mig_start,
                             unplaced ? " (NVML did not tell where its MIG devices are: that needs root)" : "");
    return 0;
}

/* Answers from the last discovery; what it does not know (a MIG device created or a GPU
 * switched to MIG mode since) is looked up again after a fresh discovery. */
static int lookup_device(nvml_priv *p, const gpf_placement *pl, int i, const char **id, gpf_error *err)
{
    int rc = p->have_facts ? find_device(&p->facts, pl, i, id, err) : GPF_ENOTFOUND;
    if (rc != GPF_ENOTFOUND && rc != GPF_ESTATE)
        return rc;
    if ((rc = refresh(p, err)) != 0)
        return rc;
    return find_device(&p->facts, pl, i, id, err);
}

static int nvml_device_id(gpf_gpu_backend *b, const gpf_placement *pl, int i, char *out, size_t size, gpf_error *err)
{
    const char *id = NULL;
    int rc;
    if (!b || !pl || !out || size == 0)
        return gpf_error_set(err, GPF_EINVAL, "device_id: missing argument");
    out[0] = '\0';
    if (pl->ngpus < 1 || pl->ngpus > GPF_MAX_POD_GPUS || i < 0 || i >= pl->ngpus)
        return gpf_error_set(err, GPF_EINVAL, "placement GPU %d out of range (placement has %d)", i, pl->ngpus);
    if ((rc = lookup_device(b->priv, pl, i, &id, err)) != 0)
        return rc;
    if (gpf_strlcpy(out, id, size) >= size) {
        out[0] = '\0';
        return gpf_error_set(err, GPF_EINVAL, "device id buffer too small (%zu bytes)", size);
    }
    return 0;
}

/* ---- lifecycle ------------------------------------------------------------------------- */

/* started: nvmlInit_v2 succeeded, so nvmlShutdown balances it. */
static void priv_free(nvml_priv *p, int started)
{
    if (!p)
        return;
    if (p->lib) {
        if (started)
            p->fn.nvmlShutdown();
        dlclose(p->lib);
    }
    gpf_free(p->models);
    gpf_free(p);
}

static void nvml_close(gpf_gpu_backend *b)
{
    if (!b)
        return;
    priv_free(b->priv, 1);
    gpf_free(b);
}

static const gpf_gpu_backend_ops NVML_OPS = {
    .name = "nvml",
    .live = 1,
    .discover = nvml_discover,
    .device_id = nvml_device_id,
    .close = nvml_close,
};

static int resolve(nvml_priv *p, const char *path, gpf_error *err)
{
    for (size_t i = 0; i < sizeof SYMS / sizeof SYMS[0]; i++) {
        void *sym = dlsym(p->lib, SYMS[i].name);
        if (!sym && SYMS[i].required)
            return gpf_error_set(err, GPF_ENOTSUP, "%s has no %s: this NVIDIA driver is too old for gpufleet", path,
                                 SYMS[i].name);
        memcpy((char *)&p->fn + SYMS[i].offset, &sym, sizeof sym);
    }
    return 0;
}

/* The PCI device id -> model table of the catalog (as gpf_catalog_model_by_pci reads it). */
static void copy_models(nvml_priv *p, const gpf_catalog *cat)
{
    int n = cat ? gpf_catalog_model_count(cat) : 0;
    p->models = gpf_calloc((size_t)n * 4 + 1, sizeof *p->models);
    for (int i = 0; i < n; i++) {
        const gpf_gpu_model *m = gpf_catalog_model_at(cat, i);
        for (int j = 0; j < m->npci_ids && j < 4; j++) {
            pci_model *pm = &p->models[p->nmodels++];
            pm->pci_device_id = m->pci_device_ids[j];
            gpf_strlcpy(pm->key, m->key, sizeof pm->key);
        }
    }
}

int gpf_gpu_nvml_open(const char *lib_path, const gpf_catalog *cat, gpf_gpu_backend **out, gpf_error *err)
{
    const char *path = lib_path && lib_path[0] ? lib_path : DEFAULT_LIB;
    nvml_priv *p = NULL;
    nvmlReturn_t r = NVML_SUCCESS;
    char why[160];
    int rc = 0;
    if (!out)
        return gpf_error_set(err, GPF_EINVAL, "gpf_gpu_nvml_open: out is NULL");
    *out = NULL;
    p = GPF_NEW(nvml_priv);
    copy_models(p, cat);
    dlerror();
    p->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!p->lib) {
        const char *dl = dlerror();
        rc = gpf_error_set(err, GPF_EUNAVAIL, "no NVIDIA driver library (%s) on this host: %s", path,
                           dl ? dl : "dlopen failed");
        goto out;
    }
    if ((rc = resolve(p, path, err)) != 0)
        goto out;
    if ((r = p->fn.nvmlInit_v2()) != NVML_SUCCESS) {
        describe(p, r, why, sizeof why);
        rc = gpf_error_set(err, GPF_EUNAVAIL, "NVML did not start (nvmlInit_v2): %s", why);
        goto out;
    }
    gpf_gpu_backend *b = GPF_NEW(gpf_gpu_backend);
    b->ops = &NVML_OPS;
    b->priv = p;
    *out = b;
    p = NULL;
out:
    priv_free(p, 0);
    return rc;
}
