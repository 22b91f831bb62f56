/* Our own declarations of the small part of NVML's C interface that gpufleet uses, so the
 * agent can load libnvidia-ml.so.1 with dlopen and build without any NVIDIA header.
 *
 * Where the facts come from:
 *  - NVML header version 13.3.29 (NVML_API_VERSION 13), as summarised in the project's
 *    reference notes (shared/reference/nvml-api.md): return codes, buffer sizes, the MIG
 *    constants, every prototype below except the temperature and process ones, and the
 *    layouts of nvmlPciInfo_t, nvmlMemory_t, nvmlMemory_v2_t, nvmlUtilization_t,
 *    nvmlGpuInstancePlacement_t, nvmlGpuInstanceProfileInfo_t and nvmlGpuInstanceInfo_t
 *    (sizes and offsets checked there with gcc on x86_64 LP64).
 *  - Not in those notes, taken from the NVML API reference (docs.nvidia.com/deploy/nvml-api)
 *    and the nvml.h of the 12.x series (go-nvml gen/nvml/nvml.h, NVML 12.2.140):
 *      nvmlTemperatureSensors_t (NVML_TEMPERATURE_GPU = 0),
 *      nvmlTemperatureThresholds_t (SHUTDOWN = 0, SLOWDOWN = 1),
 *      nvmlDeviceGetTemperature (deprecated since CUDA 13.0, to be removed in 14.0, where it
 *        answers NVML_ERROR_DEPRECATED) and its successor nvmlDeviceGetTemperatureV with
 *        nvmlTemperature_v1_t {version, sensorType, temperature},
 *      nvmlDeviceGetTemperatureThreshold,
 *      nvmlProcessInfo_t (= nvmlProcessInfo_v2_t: pid, usedGpuMemory, gpuInstanceId,
 *        computeInstanceId; the ids are 0xFFFFFFFF when the process is not in a MIG device)
 *      and nvmlDeviceGetComputeRunningProcesses_v3 (two-phase: *infoCount = 0 answers
 *        NVML_ERROR_INSUFFICIENT_SIZE with the count, or NVML_SUCCESS when none run),
 *      nvmlDeviceGetMinorNumber (the N of the GPU's device node /dev/nvidiaN; unversioned,
 *        the same signature in every NVML that gpufleet supports).
 *
 * Every name NVML versions is used by its versioned symbol (nvmlInit_v2, ...), because
 * dlsym sees the symbols, not the header's macros. Only getters are listed: gpufleet never
 * changes a GPU (no setter, create, destroy or reset entry point is declared here).
 *
 * Define NVML_ABI_PROTOTYPES before including this file to also get plain prototypes (the
 * fake library in tests/fakes uses them, so the compiler checks its definitions against
 * the same signatures the backend calls through). */
#ifndef GPF_AGENT_NVML_ABI_H
#define GPF_AGENT_NVML_ABI_H

#include <stddef.h>

/* ---- return codes (nvmlReturn_t is an int-sized enum) -------------------------------- */

typedef enum nvmlReturn_enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NO_PERMISSION = 4,
    NVML_ERROR_ALREADY_INITIALIZED = 5,
    NVML_ERROR_NOT_FOUND = 6,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_INSUFFICIENT_POWER = 8,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_TIMEOUT = 10,
    NVML_ERROR_IRQ_ISSUE = 11,
    NVML_ERROR_LIBRARY_NOT_FOUND = 12,
    NVML_ERROR_FUNCTION_NOT_FOUND = 13,
    NVML_ERROR_CORRUPTED_INFOROM = 14,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_RESET_REQUIRED = 16,
    NVML_ERROR_OPERATING_SYSTEM = 17,
    NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18,
    NVML_ERROR_IN_USE = 19,
    NVML_ERROR_MEMORY = 20,
    NVML_ERROR_NO_DATA = 21,
    NVML_ERROR_VGPU_ECC_NOT_SUPPORTED = 22,
    NVML_ERROR_INSUFFICIENT_RESOURCES = 23,
    NVML_ERROR_FREQ_NOT_SUPPORTED = 24,
    NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
    NVML_ERROR_DEPRECATED = 26,
    NVML_ERROR_NOT_READY = 27,
    NVML_ERROR_GPU_NOT_FOUND = 28,
    NVML_ERROR_INVALID_STATE = 29,
    NVML_ERROR_RESET_TYPE_NOT_SUPPORTED = 30,
    NVML_ERROR_UNKNOWN = 999
} nvmlReturn_t;

/* ---- constants ----------------------------------------------------------------------- */

#define NVML_DEVICE_UUID_V2_BUFFER_SIZE 96        /* for nvmlDeviceGetUUID */
#define NVML_DEVICE_NAME_V2_BUFFER_SIZE 96        /* for nvmlDeviceGetName */
#define NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE 80
#define NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE 80
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE 32
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE 16

#define NVML_DEVICE_MIG_DISABLE 0x0
#define NVML_DEVICE_MIG_ENABLE 0x1

/* Enum indices for nvmlDeviceGetGpuInstanceProfileInfo (not the profile ids it returns). */
#define NVML_GPU_INSTANCE_PROFILE_1_SLICE 0x0
#define NVML_GPU_INSTANCE_PROFILE_2_SLICE 0x1
#define NVML_GPU_INSTANCE_PROFILE_3_SLICE 0x2
#define NVML_GPU_INSTANCE_PROFILE_4_SLICE 0x3
#define NVML_GPU_INSTANCE_PROFILE_7_SLICE 0x4
#define NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1 0x7
#define NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV2 0x9
#define NVML_GPU_INSTANCE_PROFILE_COUNT 0x12      /* of header 13.3.29; newer may have more */

/* gpuInstanceId / computeInstanceId of a process that is not in a MIG device. */
#define NVML_INSTANCE_ID_NONE 0xFFFFFFFFu
/* usedGpuMemory when the driver cannot tell (NVML_VALUE_NOT_AVAILABLE as unsigned). */
#define NVML_MEMORY_NOT_AVAILABLE 0xFFFFFFFFFFFFFFFFull

typedef enum nvmlTemperatureSensors_enum {
    NVML_TEMPERATURE_GPU = 0
} nvmlTemperatureSensors_t;

typedef enum nvmlTemperatureThresholds_enum {
    NVML_TEMPERATURE_THRESHOLD_SHUTDOWN = 0,
    NVML_TEMPERATURE_THRESHOLD_SLOWDOWN = 1
} nvmlTemperatureThresholds_t;

/* ---- handles and structs ------------------------------------------------------------- */

typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct nvmlGpuInstance_st *nvmlGpuInstance_t;

typedef struct nvmlPciInfo_st {
    char busIdLegacy[NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE];
    unsigned int domain;
    unsigned int bus;
    unsigned int device;
    unsigned int pciDeviceId;                     /* (device id << 16) | 0x10DE */
    unsigned int pciSubSystemId;
    char busId[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE]; /* "00000000:18:00.0" */
} nvmlPciInfo_t;

typedef struct nvmlMemory_st {                    /* bytes; used includes reserved */
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_t;

typedef struct nvmlMemory_v2_st {                 /* bytes; used excludes reserved */
    unsigned int version;                         /* NVML_MEMORY_V2_VERSION */
    unsigned long long total;
    unsigned long long reserved;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_v2_t;

typedef struct nvmlUtilization_st {               /* percent over the last sample period */
    unsigned int gpu;
    unsigned int memory;
} nvmlUtilization_t;

typedef struct nvmlTemperature_v1_st {
    unsigned int version;                         /* NVML_TEMPERATURE_V1_VERSION */
    nvmlTemperatureSensors_t sensorType;
    int temperature;                              /* degrees C */
} nvmlTemperature_v1_t;

typedef struct nvmlGpuInstancePlacement_st {
    unsigned int start;                           /* first memory slice */
    unsigned int size;                            /* memory slices */
} nvmlGpuInstancePlacement_t;

typedef struct nvmlGpuInstanceProfileInfo_st {
    unsigned int id;                              /* the GI profile id (19, 9, ...) */
    unsigned int isP2pSupported;
    unsigned int sliceCount;
    unsigned int instanceCount;                   /* most instances of this profile */
    unsigned int multiprocessorCount;
    unsigned int copyEngineCount;
    unsigned int decoderCount;
    unsigned int encoderCount;
    unsigned int jpegCount;
    unsigned int ofaCount;
    unsigned long long memorySizeMB;              /* MiB */
} nvmlGpuInstanceProfileInfo_t;

typedef struct nvmlGpuInstanceInfo_st {
    nvmlDevice_t device;
    unsigned int id;                              /* GPU instance id */
    unsigned int profileId;
    nvmlGpuInstancePlacement_t placement;
} nvmlGpuInstanceInfo_t;

typedef struct nvmlProcessInfo_st {               /* nvmlProcessInfo_v2_t */
    unsigned int pid;
    unsigned long long usedGpuMemory;             /* bytes, or NVML_MEMORY_NOT_AVAILABLE */
    unsigned int gpuInstanceId;                   /* NVML_INSTANCE_ID_NONE outside MIG */
    unsigned int computeInstanceId;
} nvmlProcessInfo_t;

/* NVML_STRUCT_VERSION(data, ver) = sizeof(struct) | ver << 24 */
#define NVML_MEMORY_V2_VERSION ((unsigned int)(sizeof(nvmlMemory_v2_t) | (2u << 24)))
#define NVML_TEMPERATURE_V1_VERSION ((unsigned int)(sizeof(nvmlTemperature_v1_t) | (1u << 24)))

#if defined(__LP64__)
/* The layouts the reference notes measured (x86_64); a mismatch here is an ABI bug. */
_Static_assert(sizeof(nvmlPciInfo_t) == 68 && offsetof(nvmlPciInfo_t, pciDeviceId) == 28 &&
                   offsetof(nvmlPciInfo_t, busId) == 36,
               "nvmlPciInfo_t layout");
_Static_assert(sizeof(nvmlMemory_t) == 24, "nvmlMemory_t layout");
_Static_assert(sizeof(nvmlMemory_v2_t) == 40 && offsetof(nvmlMemory_v2_t, used) == 32, "nvmlMemory_v2_t layout");
_Static_assert(NVML_MEMORY_V2_VERSION == 0x02000028u, "nvmlMemory_v2 version");
_Static_assert(sizeof(nvmlTemperature_v1_t) == 12, "nvmlTemperature_v1_t layout");
_Static_assert(sizeof(nvmlGpuInstanceProfileInfo_t) == 48 && offsetof(nvmlGpuInstanceProfileInfo_t, memorySizeMB) == 40,
               "nvmlGpuInstanceProfileInfo_t layout");
_Static_assert(sizeof(nvmlGpuInstanceInfo_t) == 24 && offsetof(nvmlGpuInstanceInfo_t, placement) == 16,
               "nvmlGpuInstanceInfo_t layout");
_Static_assert(sizeof(nvmlProcessInfo_t) == 24 && offsetof(nvmlProcessInfo_t, usedGpuMemory) == 8 &&
                   offsetof(nvmlProcessInfo_t, gpuInstanceId) == 16,
               "nvmlProcessInfo_t layout");
#endif

/* ---- the functions ------------------------------------------------------------------- */

/* Whether the backend refuses to run without a symbol (REQ) or leaves its facts unknown. */
#define NVML_REQ 1
#define NVML_OPT 0

/* X(kind, return type, symbol, parameters) for every entry point gpufleet resolves. */
#define NVML_ABI_FUNCTIONS(X)                                                                                   \
    X(REQ, nvmlReturn_t, nvmlInit_v2, (void))                                                                   \
    X(REQ, nvmlReturn_t, nvmlShutdown, (void))                                                                  \
    X(OPT, const char *, nvmlErrorString, (nvmlReturn_t result))                                                \
    X(REQ, nvmlReturn_t, nvmlSystemGetDriverVersion, (char *version, unsigned int length))                      \
    X(OPT, nvmlReturn_t, nvmlSystemGetNVMLVersion, (char *version, unsigned int length))                        \
    X(OPT, nvmlReturn_t, nvmlSystemGetCudaDriverVersion_v2, (int *cudaDriverVersion))                           \
    X(REQ, nvmlReturn_t, nvmlDeviceGetCount_v2, (unsigned int *deviceCount))                                    \
    X(REQ, nvmlReturn_t, nvmlDeviceGetHandleByIndex_v2, (unsigned int index, nvmlDevice_t *device))             \
    X(REQ, nvmlReturn_t, nvmlDeviceGetName, (nvmlDevice_t device, char *name, unsigned int length))             \
    X(REQ, nvmlReturn_t, nvmlDeviceGetUUID, (nvmlDevice_t device, char *uuid, unsigned int length))             \
    X(REQ, nvmlReturn_t, nvmlDeviceGetPciInfo_v3, (nvmlDevice_t device, nvmlPciInfo_t *pci))                    \
    X(REQ, nvmlReturn_t, nvmlDeviceGetMemoryInfo, (nvmlDevice_t device, nvmlMemory_t *memory))                  \
    X(OPT, nvmlReturn_t, nvmlDeviceGetMemoryInfo_v2, (nvmlDevice_t device, nvmlMemory_v2_t *memory))            \
    X(OPT, nvmlReturn_t, nvmlDeviceGetNumaNodeId, (nvmlDevice_t device, unsigned int *node))                    \
    X(OPT, nvmlReturn_t, nvmlDeviceGetMinorNumber, (nvmlDevice_t device, unsigned int *minorNumber))            \
    X(OPT, nvmlReturn_t, nvmlDeviceGetUtilizationRates, (nvmlDevice_t device, nvmlUtilization_t *utilization))  \
    X(OPT, nvmlReturn_t, nvmlDeviceGetPowerUsage, (nvmlDevice_t device, unsigned int *power))                   \
    X(OPT, nvmlReturn_t, nvmlDeviceGetEnforcedPowerLimit, (nvmlDevice_t device, unsigned int *limit))           \
    X(OPT, nvmlReturn_t, nvmlDeviceGetTemperatureV, (nvmlDevice_t device, nvmlTemperature_v1_t *temperature))   \
    X(OPT, nvmlReturn_t, nvmlDeviceGetTemperature,                                                              \
      (nvmlDevice_t device, nvmlTemperatureSensors_t sensorType, unsigned int *temp))                          \
    X(OPT, nvmlReturn_t, nvmlDeviceGetTemperatureThreshold,                                                     \
      (nvmlDevice_t device, nvmlTemperatureThresholds_t thresholdType, unsigned int *temp))                    \
    X(OPT, nvmlReturn_t, nvmlDeviceGetCurrPcieLinkGeneration, (nvmlDevice_t device, unsigned int *currLinkGen)) \
    X(OPT, nvmlReturn_t, nvmlDeviceGetMaxPcieLinkGeneration, (nvmlDevice_t device, unsigned int *maxLinkGen))   \
    X(OPT, nvmlReturn_t, nvmlDeviceGetCurrPcieLinkWidth, (nvmlDevice_t device, unsigned int *currLinkWidth))    \
    X(OPT, nvmlReturn_t, nvmlDeviceGetMaxPcieLinkWidth, (nvmlDevice_t device, unsigned int *maxLinkWidth))      \
    X(OPT, nvmlReturn_t, nvmlDeviceGetMigMode,                                                                  \
      (nvmlDevice_t device, unsigned int *currentMode, unsigned int *pendingMode))                              \
    X(OPT, nvmlReturn_t, nvmlDeviceGetMaxMigDeviceCount, (nvmlDevice_t device, unsigned int *count))            \
    X(OPT, nvmlReturn_t, nvmlDeviceGetMigDeviceHandleByIndex,                                                   \
      (nvmlDevice_t device, unsigned int index, nvmlDevice_t *migDevice))                                       \
    X(OPT, nvmlReturn_t, nvmlDeviceGetGpuInstanceId, (nvmlDevice_t device, unsigned int *id))                   \
    X(OPT, nvmlReturn_t, nvmlDeviceGetComputeInstanceId, (nvmlDevice_t device, unsigned int *id))               \
    X(OPT, nvmlReturn_t, nvmlDeviceGetGpuInstanceProfileInfo,                                                   \
      (nvmlDevice_t device, unsigned int profile, nvmlGpuInstanceProfileInfo_t *info))                          \
    X(OPT, nvmlReturn_t, nvmlDeviceGetGpuInstances,                                                             \
      (nvmlDevice_t device, unsigned int profileId, nvmlGpuInstance_t *gpuInstances, unsigned int *count))      \
    X(OPT, nvmlReturn_t, nvmlGpuInstanceGetInfo, (nvmlGpuInstance_t gpuInstance, nvmlGpuInstanceInfo_t *info))  \
    X(OPT, nvmlReturn_t, nvmlDeviceGetComputeRunningProcesses_v3,                                               \
      (nvmlDevice_t device, unsigned int *infoCount, nvmlProcessInfo_t *infos))

/* A pointer type per entry point: nvmlInit_v2_fn, nvmlDeviceGetUUID_fn, ... */
#define NVML_ABI_TYPEDEF(kind, ret, name, params) typedef ret(*name##_fn) params;
NVML_ABI_FUNCTIONS(NVML_ABI_TYPEDEF)
#undef NVML_ABI_TYPEDEF

#ifdef NVML_ABI_PROTOTYPES
#define NVML_ABI_PROTO(kind, ret, name, params) ret name params;
NVML_ABI_FUNCTIONS(NVML_ABI_PROTO)
#undef NVML_ABI_PROTO
#endif

#endif
