/* The GPU catalog: GPU models, MIG GPU-instance profiles with their valid placements,
 * and vGPU (C-series) types, parsed from the CSVs in data/catalog/ (copied from the
 * project's shared catalog; see data/catalog/README.md for sources and attribution).
 *
 * Pure: parsing takes the CSV text as strings (the caller reads files or the copies
 * embedded in the binary); no I/O, no clock, no printing.
 * Lifetime: every pointer returned by a lookup is owned by the gpf_catalog and valid
 * until gpf_catalog_free. */
#ifndef GPF_CATALOG_CATALOG_H
#define GPF_CATALOG_CATALOG_H

#include <stdint.h>

#include "util/error.h"

#define GPF_MIG_MAX_PLACEMENTS 16

typedef struct gpf_gpu_model {
    char key[64];            /* gpus.csv gpu_model, e.g. "H100-80GB-SXM5" */
    char mig_key[64];        /* key used by mig_profiles.csv, e.g. "H100-80GB" ("" if not MIG-capable) */
    char nvml_name[128];
    uint32_t pci_device_ids[4]; /* (device<<16)|0x10DE */
    int npci_ids;
    char architecture[64];
    int memory_gb;           /* marketing GB */
    int tdp_w;
    int mig_capable;
    int mig_max_instances;
    int mig_grid_units;      /* memory slots: 8, 4 or 12; 0 when not MIG-capable */
    int mig_compute_slices;  /* compute slices of the full GPU (7 on A100/H100, 4 on A30 ...) */
    int vgpu_compute_supported;
    int mmio_required_gb;    /* 0 unknown */
} gpf_gpu_model;

typedef struct gpf_mig_placement {
    int start;               /* in memory slots */
    int size;
} gpf_mig_placement;

typedef struct gpf_mig_profile {
    char mig_key[64];        /* "H100-80GB" */
    char name[32];           /* "1g.10gb": driver-dependent, match by gi_profile_id */
    int gi_profile_id;
    int compute_slices;
    int memory_slices;       /* placement size */
    int grid_units;
    int max_instances;
    int sm_count;
    int64_t memory_mib;
    int nplacements;
    gpf_mig_placement placements[GPF_MIG_MAX_PLACEMENTS];
} gpf_mig_profile;

typedef struct gpf_vgpu_type {
    char gpu_model[64];
    char board[64];
    char name[32];           /* "L40S-12C" */
    int mig_backed;          /* 0 time-sliced, 1 MIG-backed */
    int64_t framebuffer_mib;
    int max_per_gpu;
    int max_per_gpu_mixed;   /* 0 unknown / n.a. */
    char mig_profile[32];    /* mig-backed: the GI profile name ("3g.40gb"); "" otherwise */
    int mig_compute_slices;  /* mig-backed: its compute slices; 0 otherwise */
} gpf_vgpu_type;

typedef struct gpf_catalog gpf_catalog;

/* Parses the three CSV texts (any may be NULL = no rows). Rejects malformed rows with
 * GPF_EINVAL naming file and line. *out owned by caller. */
int gpf_catalog_parse(const char *gpus_csv, const char *mig_csv, const char *vgpu_csv,
                      gpf_catalog **out, gpf_error *err);
void gpf_catalog_free(gpf_catalog *c);
/* Where the catalog's files are built into the binary (util/embedded.h), for a reader that
 * falls back on them (util/datafile.h: gpf_data_dir {dir, GPF_CATALOG_BUILTIN}). */
#define GPF_CATALOG_BUILTIN "data/catalog"
/* Reads one catalog file by name ("gpus.csv"): a heap string (gpf_free), or NULL with err
 * set. The I/O the catalog leaves to its caller; util/datafile.h's gpf_data_file_reader
 * reads a directory or the built-in copies. */
typedef char *(*gpf_catalog_reader)(const void *arg, const char *name, gpf_error *err);
/* The catalog from the files gpus.csv, mig_profiles.csv and vgpu_profiles.csv that read
 * (called with arg) returns, parsed by gpf_catalog_parse. A reader's failure is returned
 * with its err (GPF_EIO when it set none). *out owned by caller. */
int gpf_catalog_load(gpf_catalog_reader read, const void *arg, gpf_catalog **out, gpf_error *err);

int gpf_catalog_model_count(const gpf_catalog *c);
const gpf_gpu_model *gpf_catalog_model_at(const gpf_catalog *c, int i);
/* By gpus.csv key ("H100-80GB-SXM5"); NULL when unknown. */
const gpf_gpu_model *gpf_catalog_model(const gpf_catalog *c, const char *key);
/* By PCI device id as NVML reports it ((device<<16)|0x10DE); NULL when unknown. */
const gpf_gpu_model *gpf_catalog_model_by_pci(const gpf_catalog *c, uint32_t pci_device_id);
/* 1 when a SKU's allowed-model entry (a gpus.csv key or a MIG key) covers this model. */
int gpf_catalog_model_matches(const gpf_gpu_model *m, const char *allowed);

/* MIG profiles of a model (by its mig_key). */
int gpf_catalog_mig_count(const gpf_catalog *c, const char *mig_key);
const gpf_mig_profile *gpf_catalog_mig_at(const gpf_catalog *c, const char *mig_key, int i);
const gpf_mig_profile *gpf_catalog_mig_by_id(const gpf_catalog *c, const char *mig_key, int gi_profile_id);
const gpf_mig_profile *gpf_catalog_mig_by_name(const gpf_catalog *c, const char *mig_key, const char *name);
/* Matching what hardware reports: by gi_profile_id AND compute/memory slice counts. */
const gpf_mig_profile *gpf_catalog_mig_match(const gpf_catalog *c, const char *mig_key, int gi_profile_id,
                                             int compute_slices, int memory_slices);

/* vGPU types. */
int gpf_catalog_vgpu_count(const gpf_catalog *c);
const gpf_vgpu_type *gpf_catalog_vgpu_at(const gpf_catalog *c, int i);
const gpf_vgpu_type *gpf_catalog_vgpu(const gpf_catalog *c, const char *name);

#endif
