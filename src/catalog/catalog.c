/* The GPU catalog: parses gpus.csv, mig_profiles.csv and vgpu_profiles.csv (columns found
 * by header name; see data/catalog/README.md), validates every row, derives each model's
 * MIG key and full compute-slice count, and answers lookups. Pure: no I/O. */
#include "catalog/catalog.h"

#include <stdlib.h>
#include <string.h>

#include "catalog/csv.h"
#include "util/alloc.h"

struct gpf_catalog {
    int nmodels, capmodels;
    gpf_gpu_model *models;
    int *model_lines;            /* gpus.csv line of each model, for cross-file messages */
    int nmig, capmig;
    gpf_mig_profile *mig;
    int nvgpu, capvgpu;
    gpf_vgpu_type *vgpu;
};

static const char *const GPUS_REQUIRED[] = {"gpu_model", "pci_device_ids", "memory_gb", "mig_capable", NULL};
static const char *const MIG_REQUIRED[] = {"gpu_model",  "profile",       "gi_profile_id", "compute_slices",
                                           "memory_slices", "grid_units", "max_instances", "placements", NULL};
static const char *const VGPU_REQUIRED[] = {"gpu_model", "vgpu_type", "mode", "framebuffer_mb", "max_per_gpu", NULL};

/* ---- gpus.csv ----------------------------------------------------------- */

static int parse_pci_ids(gpf_csv *r, gpf_gpu_model *m, gpf_error *err)
{
    const char *s = gpf_csv_get(r, "pci_device_ids");
    char item[32];
    m->npci_ids = 0;
    while (*s) {
        const char *end = strchr(s, ';');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        if (n == 0 || n >= sizeof item)
            return gpf_csv_error(r, err, "pci_device_ids: bad entry in '%s'", gpf_csv_get(r, "pci_device_ids"));
        memcpy(item, s, n);
        item[n] = '\0';
        const char *hex = item;
        if (hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X'))
            hex += 2;
        size_t hl = strlen(hex);
        if (hl == 0 || hl > 8 || strspn(hex, "0123456789abcdefABCDEF") != hl)
            return gpf_csv_error(r, err, "pci_device_ids: '%s' is not a hexadecimal PCI id", item);
        if (m->npci_ids >= (int)(sizeof m->pci_device_ids / sizeof m->pci_device_ids[0]))
            return gpf_csv_error(r, err, "pci_device_ids: more than %d ids",
                                 (int)(sizeof m->pci_device_ids / sizeof m->pci_device_ids[0]));
        m->pci_device_ids[m->npci_ids++] = (uint32_t)strtoul(hex, NULL, 16);
        s += n;
        if (*s == ';')
            s++;
    }
    return 0;
}

/* "yes" / "no" (or empty = unknown = no). */
static int get_yes_no(gpf_csv *r, const char *col, int *out, gpf_error *err)
{
    const char *v = gpf_csv_get(r, col);
    if (!v[0] || strcmp(v, "no") == 0 || strcmp(v, "0") == 0) {
        *out = 0;
        return 0;
    }
    if (strcmp(v, "yes") == 0 || strcmp(v, "1") == 0) {
        *out = 1;
        return 0;
    }
    return gpf_csv_error(r, err, "%s: expected yes or no, got '%s'", col, v);
}

static int parse_gpu_row(gpf_csv *r, gpf_gpu_model *m, gpf_error *err)
{
    int rc = 0;
    int64_t v = 0;
    memset(m, 0, sizeof *m);
    if ((rc = gpf_csv_get_str(r, "gpu_model", GPF_CSV_REQUIRED, m->key, sizeof m->key, err)) != 0 ||
        (rc = gpf_csv_get_str(r, "nvml_name_example", GPF_CSV_TRUNCATE, m->nvml_name, sizeof m->nvml_name, err)) != 0 ||
        (rc = gpf_csv_get_str(r, "architecture", GPF_CSV_TRUNCATE, m->architecture, sizeof m->architecture, err)) != 0)
        goto out;
    if ((rc = gpf_csv_check_key(r, "gpu_model", m->key, err)) != 0)
        goto out;
    if ((rc = parse_pci_ids(r, m, err)) != 0)
        goto out;
    if ((rc = gpf_csv_get_int(r, "memory_gb", 0, 0, 1 << 20, &v, err)) != 0)
        goto out;
    m->memory_gb = (int)v;
    if ((rc = gpf_csv_get_int(r, "tdp_w", 0, 0, 100000, &v, err)) != 0)
        goto out;
    m->tdp_w = (int)v;
    if ((rc = get_yes_no(r, "mig_capable", &m->mig_capable, err)) != 0)
        goto out;
    if ((rc = gpf_csv_get_int(r, "mig_max_instances", 0, 0, 64, &v, err)) != 0)
        goto out;
    m->mig_max_instances = (int)v;
    if ((rc = gpf_csv_get_int(r, "mig_grid_units", 0, 0, 32, &v, err)) != 0)
        goto out;
    m->mig_grid_units = (int)v;
    if ((rc = gpf_csv_get_int(r, "mmio_required_gb", 0, 0, 1 << 20, &v, err)) != 0)
        goto out;
    m->mmio_required_gb = (int)v;
    /* Free text such as "yes (H100XM-* types)", "likely (...)", "unknown": only "yes" counts. */
    m->vgpu_compute_supported = strncmp(gpf_csv_get(r, "vgpu_compute_supported"), "yes", 3) == 0;
    if (!m->mig_capable) {
        m->mig_max_instances = 0;
        m->mig_grid_units = 0;
    } else if (m->mig_max_instances == 0) {
        rc = gpf_csv_error(r, err, "mig_capable is yes but mig_max_instances is empty or 0");
        goto out;
    }
out:
    return rc;
}

/* ---- mig_profiles.csv -------------------------------------------------- */

static int parse_placements(gpf_csv *r, gpf_mig_profile *p, gpf_error *err)
{
    const char *all = gpf_csv_get(r, "placements");
    const char *s = all;
    p->nplacements = 0;
    while (*s) {
        char *end = NULL;
        if (*s < '0' || *s > '9')
            goto bad;
        long start = strtol(s, &end, 10);
        if (*end != ':' || end[1] < '0' || end[1] > '9')
            goto bad;
        s = end + 1;
        long size = strtol(s, &end, 10);
        if (*end != ';' && *end != '\0')
            goto bad;
        s = *end ? end + 1 : end;
        if (start > 32 || size > 32)
            goto bad;
        if (size != p->memory_slices)
            return gpf_csv_error(r, err, "placements: size %ld differs from memory_slices %d", size, p->memory_slices);
        if (start < 0 || start + size > p->grid_units)
            return gpf_csv_error(r, err, "placements: %ld:%ld lies outside the %d-slot grid", start, size,
                                 p->grid_units);
        for (int i = 0; i < p->nplacements; i++)
            if (p->placements[i].start == (int)start)
                return gpf_csv_error(r, err, "placements: start %ld listed twice", start);
        if (p->nplacements >= GPF_MIG_MAX_PLACEMENTS)
            return gpf_csv_error(r, err, "placements: more than %d", GPF_MIG_MAX_PLACEMENTS);
        p->placements[p->nplacements].start = (int)start;
        p->placements[p->nplacements].size = (int)size;
        p->nplacements++;
    }
    if (p->nplacements == 0)
        return gpf_csv_error(r, err, "placements: empty");
    return 0;
bad:
    return gpf_csv_error(r, err, "placements: '%s' is not a ';'-list of start:size", all);
}

static int parse_mig_row(gpf_csv *r, gpf_mig_profile *p, gpf_error *err)
{
    int rc = 0;
    int64_t v = 0;
    memset(p, 0, sizeof *p);
    if ((rc = gpf_csv_get_str(r, "gpu_model", GPF_CSV_REQUIRED, p->mig_key, sizeof p->mig_key, err)) != 0 ||
        (rc = gpf_csv_check_key(r, "gpu_model", p->mig_key, err)) != 0 ||
        (rc = gpf_csv_get_str(r, "profile", GPF_CSV_REQUIRED, p->name, sizeof p->name, err)) != 0)
        goto out;
    if ((rc = gpf_csv_get_int(r, "gi_profile_id", 1, 0, 1000000, &v, err)) != 0)
        goto out;
    p->gi_profile_id = (int)v;
    if ((rc = gpf_csv_get_int(r, "grid_units", 1, 1, 32, &v, err)) != 0)
        goto out;
    p->grid_units = (int)v;
    if ((rc = gpf_csv_get_int(r, "compute_slices", 1, 1, 32, &v, err)) != 0)
        goto out;
    p->compute_slices = (int)v;
    if ((rc = gpf_csv_get_int(r, "memory_slices", 1, 1, p->grid_units, &v, err)) != 0)
        goto out;
    p->memory_slices = (int)v;
    if ((rc = gpf_csv_get_int(r, "max_instances", 1, 1, 64, &v, err)) != 0)
        goto out;
    p->max_instances = (int)v;
    if ((rc = gpf_csv_get_int(r, "sm_count", 0, 0, 100000, &v, err)) != 0)
        goto out;
    p->sm_count = (int)v;
    if ((rc = gpf_csv_get_int(r, "memory_mib", 0, 0, INT64_C(1) << 40, &p->memory_mib, err)) != 0)
        goto out;
    rc = parse_placements(r, p, err);
out:
    return rc;
}

/* ---- vgpu_profiles.csv ------------------------------------------------- */

static int parse_vgpu_row(gpf_csv *r, gpf_vgpu_type *t, gpf_error *err)
{
    int rc = 0;
    int64_t v = 0;
    memset(t, 0, sizeof *t);
    if ((rc = gpf_csv_get_str(r, "gpu_model", GPF_CSV_REQUIRED, t->gpu_model, sizeof t->gpu_model, err)) != 0 ||
        (rc = gpf_csv_get_str(r, "board", GPF_CSV_TRUNCATE, t->board, sizeof t->board, err)) != 0 ||
        (rc = gpf_csv_get_str(r, "vgpu_type", GPF_CSV_REQUIRED, t->name, sizeof t->name, err)) != 0)
        goto out;
    const char *mode = gpf_csv_get(r, "mode");
    if (strcmp(mode, "time-sliced") == 0) {
        t->mig_backed = 0;
    } else if (strcmp(mode, "mig-backed") == 0) {
        t->mig_backed = 1;
    } else {
        rc = gpf_csv_error(r, err, "mode: expected time-sliced or mig-backed, got '%s'", mode);
        goto out;
    }
    if ((rc = gpf_csv_get_int(r, "framebuffer_mb", 1, 1, INT64_C(1) << 40, &t->framebuffer_mib, err)) != 0)
        goto out;
    if ((rc = gpf_csv_get_int(r, "max_per_gpu", 1, 1, 1024, &v, err)) != 0)
        goto out;
    t->max_per_gpu = (int)v;
    if ((rc = gpf_csv_get_int(r, "max_per_gpu_mixed_size", 0, 0, 1024, &v, err)) != 0)
        goto out;
    t->max_per_gpu_mixed = (int)v;
    if ((rc = gpf_csv_get_str(r, "mig_gi_profile", t->mig_backed ? GPF_CSV_REQUIRED : GPF_CSV_OPTIONAL, t->mig_profile, sizeof t->mig_profile, err)) != 0)
        goto out;
    if ((rc = gpf_csv_get_int(r, "mig_compute_slices", t->mig_backed, t->mig_backed, 32, &v, err)) != 0)
        goto out;
    t->mig_compute_slices = (int)v;
out:
    return rc;
}

/* ---- the three files --------------------------------------------------- */

static int parse_gpus(gpf_catalog *c, const char *text, gpf_error *err)
{
    gpf_csv r;
    int rc = gpf_csv_open(&r, "gpus.csv", text, GPUS_REQUIRED, err);
    while (rc == 0 && (rc = gpf_csv_next(&r, err)) == 1) {
        gpf_gpu_model m;
        rc = parse_gpu_row(&r, &m, err);
        if (rc != 0)
            break;
        if (gpf_catalog_model(c, m.key)) {
            rc = gpf_csv_error(&r, err, "gpu_model '%s' listed twice", m.key);
            break;
        }
        for (int i = 0; i < m.npci_ids; i++) {
            const gpf_gpu_model *o = gpf_catalog_model_by_pci(c, m.pci_device_ids[i]);
            if (o) {
                rc = gpf_csv_error(&r, err, "pci id 0x%08X already belongs to %s", (unsigned)m.pci_device_ids[i],
                                   o->key);
                break;
            }
        }
        if (rc != 0)
            break;
        if (c->nmodels == c->capmodels) {
            c->capmodels = c->capmodels ? 2 * c->capmodels : 32;
            c->models = gpf_reallocarray(c->models, (size_t)c->capmodels, sizeof *c->models);
            c->model_lines = gpf_reallocarray(c->model_lines, (size_t)c->capmodels, sizeof *c->model_lines);
        }
        c->model_lines[c->nmodels] = gpf_csv_line(&r);
        c->models[c->nmodels++] = m;
    }
    gpf_csv_close(&r);
    return rc < 0 ? rc : 0;
}

static int parse_mig(gpf_catalog *c, const char *text, gpf_error *err)
{
    gpf_csv r;
    int rc = gpf_csv_open(&r, "mig_profiles.csv", text, MIG_REQUIRED, err);
    while (rc == 0 && (rc = gpf_csv_next(&r, err)) == 1) {
        gpf_mig_profile p;
        rc = parse_mig_row(&r, &p, err);
        if (rc != 0)
            break;
        for (int i = 0; i < c->nmig && rc == 0; i++) {
            const gpf_mig_profile *o = &c->mig[i];
            if (strcmp(o->mig_key, p.mig_key) != 0)
                continue;
            if (o->gi_profile_id == p.gi_profile_id)
                rc = gpf_csv_error(&r, err, "gi_profile_id %d listed twice for %s", p.gi_profile_id, p.mig_key);
            else if (strcmp(o->name, p.name) == 0)
                rc = gpf_csv_error(&r, err, "profile %s listed twice for %s", p.name, p.mig_key);
            else if (o->grid_units != p.grid_units)
                rc = gpf_csv_error(&r, err, "grid_units %d differs from %d in earlier %s rows", p.grid_units,
                                   o->grid_units, p.mig_key);
        }
        if (rc != 0)
            break;
        if (c->nmig == c->capmig) {
            c->capmig = c->capmig ? 2 * c->capmig : 64;
            c->mig = gpf_reallocarray(c->mig, (size_t)c->capmig, sizeof *c->mig);
        }
        c->mig[c->nmig++] = p;
    }
    gpf_csv_close(&r);
    return rc < 0 ? rc : 0;
}

static int parse_vgpu(gpf_catalog *c, const char *text, gpf_error *err)
{
    gpf_csv r;
    int rc = gpf_csv_open(&r, "vgpu_profiles.csv", text, VGPU_REQUIRED, err);
    while (rc == 0 && (rc = gpf_csv_next(&r, err)) == 1) {
        gpf_vgpu_type t;
        rc = parse_vgpu_row(&r, &t, err);
        if (rc != 0)
            break;
        if (gpf_catalog_vgpu(c, t.name)) {
            rc = gpf_csv_error(&r, err, "vgpu_type '%s' listed twice", t.name);
            break;
        }
        if (c->nvgpu == c->capvgpu) {
            c->capvgpu = c->capvgpu ? 2 * c->capvgpu : 64;
            c->vgpu = gpf_reallocarray(c->vgpu, (size_t)c->capvgpu, sizeof *c->vgpu);
        }
        c->vgpu[c->nvgpu++] = t;
    }
    gpf_csv_close(&r);
    return rc < 0 ? rc : 0;
}

/* The mig_profiles.csv key of a gpus.csv model: the longest MIG key that equals the model key
 * or is a prefix of it followed by '-' ("H100-80GB" for "H100-80GB-SXM5"). */
static const char *find_mig_key(const gpf_catalog *c, const char *key)
{
    const char *best = NULL;
    size_t bestlen = 0;
    for (int i = 0; i < c->nmig; i++) {
        const char *k = c->mig[i].mig_key;
        size_t n = strlen(k);
        if (n <= bestlen || strncmp(key, k, n) != 0 || (key[n] != '\0' && key[n] != '-'))
            continue;
        best = k;
        bestlen = n;
    }
    return best;
}

static int derive_mig(gpf_catalog *c, gpf_error *err)
{
    for (int i = 0; i < c->nmodels; i++) {
        gpf_gpu_model *m = &c->models[i];
        if (!m->mig_capable)
            continue;
        const char *k = find_mig_key(c, m->key);
        if (!k)
            continue; /* MIG-capable but no profiles catalogued: never offered MIG slices */
        gpf_strlcpy(m->mig_key, k, sizeof m->mig_key);
        int grid = 0;
        for (int j = 0; j < c->nmig; j++) {
            const gpf_mig_profile *p = &c->mig[j];
            if (strcmp(p->mig_key, k) != 0)
                continue;
            grid = p->grid_units;
            if (p->compute_slices > m->mig_compute_slices)
                m->mig_compute_slices = p->compute_slices;
        }
        if (m->mig_grid_units == 0)
            m->mig_grid_units = grid;
        else if (m->mig_grid_units != grid)
            return gpf_error_set(err, GPF_EINVAL,
                                 "gpus.csv line %d: mig_grid_units %d but mig_profiles.csv gives %s a %d-slot grid",
                                 c->model_lines[i], m->mig_grid_units, k, grid);
    }
    return 0;
}

int gpf_catalog_parse(const char *gpus_csv, const char *mig_csv, const char *vgpu_csv, gpf_catalog **out,
                      gpf_error *err)
{
    int rc = 0;
    gpf_catalog *c = GPF_NEW(gpf_catalog);
    if (!out) {
        rc = gpf_error_set(err, GPF_EINVAL, "catalog: no output pointer");
        goto out;
    }
    *out = NULL;
    if ((rc = parse_gpus(c, gpus_csv, err)) != 0 || (rc = parse_mig(c, mig_csv, err)) != 0 ||
        (rc = parse_vgpu(c, vgpu_csv, err)) != 0 || (rc = derive_mig(c, err)) != 0)
        goto out;
    *out = c;
    c = NULL;
out:
    gpf_catalog_free(c);
    return rc;
}

void gpf_catalog_free(gpf_catalog *c)
{
    if (!c)
        return;
    gpf_free(c->models);
    gpf_free(c->model_lines);
    gpf_free(c->mig);
    gpf_free(c->vgpu);
    gpf_free(c);
}

/* ---- models ----------------------------------------------------------- */

int gpf_catalog_model_count(const gpf_catalog *c)
{
    return c ? c->nmodels : 0;
}

const gpf_gpu_model *gpf_catalog_model_at(const gpf_catalog *c, int i)
{
    return c && i >= 0 && i < c->nmodels ? &c->models[i] : NULL;
}

const gpf_gpu_model *gpf_catalog_model(const gpf_catalog *c, const char *key)
{
    if (!c || !key)
        return NULL;
    for (int i = 0; i < c->nmodels; i++)
        if (strcmp(c->models[i].key, key) == 0)
            return &c->models[i];
    return NULL;
}

const gpf_gpu_model *gpf_catalog_model_by_pci(const gpf_catalog *c, uint32_t pci_device_id)
{
    if (!c)
        return NULL;
    for (int i = 0; i < c->nmodels; i++)
        for (int j = 0; j < c->models[i].npci_ids; j++)
            if (c->models[i].pci_device_ids[j] == pci_device_id)
                return &c->models[i];
    return NULL;
}

int gpf_catalog_model_matches(const gpf_gpu_model *m, const char *allowed)
{
    if (!m || !allowed || !allowed[0])
        return 0;
    return strcmp(m->key, allowed) == 0 || (m->mig_key[0] && strcmp(m->mig_key, allowed) == 0);
}

/* ---- MIG profiles ----------------------------------------------------- */

int gpf_catalog_mig_count(const gpf_catalog *c, const char *mig_key)
{
    int n = 0;
    if (!c || !mig_key || !mig_key[0])
        return 0;
    for (int i = 0; i < c->nmig; i++)
        n += strcmp(c->mig[i].mig_key, mig_key) == 0;
    return n;
}

const gpf_mig_profile *gpf_catalog_mig_at(const gpf_catalog *c, const char *mig_key, int i)
{
    if (!c || !mig_key || !mig_key[0] || i < 0)
        return NULL;
    for (int j = 0; j < c->nmig; j++)
        if (strcmp(c->mig[j].mig_key, mig_key) == 0 && i-- == 0)
            return &c->mig[j];
    return NULL;
}

const gpf_mig_profile *gpf_catalog_mig_by_id(const gpf_catalog *c, const char *mig_key, int gi_profile_id)
{
    if (!c || !mig_key || !mig_key[0])
        return NULL;
    for (int j = 0; j < c->nmig; j++)
        if (c->mig[j].gi_profile_id == gi_profile_id && strcmp(c->mig[j].mig_key, mig_key) == 0)
            return &c->mig[j];
    return NULL;
}

const gpf_mig_profile *gpf_catalog_mig_by_name(const gpf_catalog *c, const char *mig_key, const char *name)
{
    if (!c || !mig_key || !mig_key[0] || !name)
        return NULL;
    for (int j = 0; j < c->nmig; j++)
        if (strcmp(c->mig[j].name, name) == 0 && strcmp(c->mig[j].mig_key, mig_key) == 0)
            return &c->mig[j];
    return NULL;
}

const gpf_mig_profile *gpf_catalog_mig_match(const gpf_catalog *c, const char *mig_key, int gi_profile_id,
                                             int compute_slices, int memory_slices)
{
    const gpf_mig_profile *p = gpf_catalog_mig_by_id(c, mig_key, gi_profile_id);
    if (!p || p->compute_slices != compute_slices || p->memory_slices != memory_slices)
        return NULL;
    return p;
}

/* ---- vGPU types ------------------------------------------------------- */

int gpf_catalog_vgpu_count(const gpf_catalog *c)
{
    return c ? c->nvgpu : 0;
}

const gpf_vgpu_type *gpf_catalog_vgpu_at(const gpf_catalog *c, int i)
{
    return c && i >= 0 && i < c->nvgpu ? &c->vgpu[i] : NULL;
}

const gpf_vgpu_type *gpf_catalog_vgpu(const gpf_catalog *c, const char *name)
{
    if (!c || !name)
        return NULL;
    for (int i = 0; i < c->nvgpu; i++)
        if (strcmp(c->vgpu[i].name, name) == 0)
            return &c->vgpu[i];
    return NULL;
}
