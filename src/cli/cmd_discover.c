/* gpufleet discover: what a GPU backend sees on this host (the GPUs, their live readings,
 * MIG devices and processes). Read-only and local: needs no server. docs/hardware.md. */
#include "cli/cli_int.h"

#include <stdio.h>
#include <string.h>

#include "agent/gpu_open.h"
#include "catalog/catalog.h"
#include "util/alloc.h"
#include "util/datafile.h"

static const char HELP[] =
    "usage: gpufleet discover [--backend nvml|fake] [--nvml-lib PATH]\n"
    "                         [--fake-fleet FILE] [--host-id ID] [--catalog-dir DIR] [--json]\n"
    "\n"
    "Shows what the GPU backend sees on this host: each GPU with its catalog model, UUID, PCI\n"
    "bus id, NUMA node, memory, MIG mode, utilisation, memory in use, power and limit,\n"
    "temperature, PCIe link (current/max) and compute processes; then the MIG devices and the\n"
    "processes. Read-only; needs no server.\n"
    "--backend nvml (default) loads the NVIDIA driver's libnvidia-ml.so.1, or --nvml-lib PATH.\n"
    "--backend fake reads host --host-id from a fleet fixture (--fake-fleet, default the\n"
    "built-in demo fleet). Models come from the catalog built in, or --catalog-dir DIR.\n"
    "--json prints one JSON object; unknown readings are null.\n"
    "Exit status: 0 success, 1 the backend failed, 2 bad usage.\n";

typedef struct discover_opts {
    gpf_gpu_open_opts open;
    const char *catalog_dir;
    int json;
} discover_opts;

/* 0, 1 for --help, or an exit code (message printed). */
static int parse_opts(int argc, char **argv, discover_opts *o)
{
    memset(o, 0, sizeof *o);
    o->open.backend = "nvml";
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) {
            o->json = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return 1;
        const char **dst = !strcmp(a, "--backend")       ? &o->open.backend
                           : !strcmp(a, "--nvml-lib")    ? &o->open.nvml_lib
                           : !strcmp(a, "--fake-fleet")  ? &o->open.fake_fleet
                           : !strcmp(a, "--host-id")     ? &o->open.host_id
                           : !strcmp(a, "--catalog-dir") ? &o->catalog_dir
                                                         : NULL;
        if (!dst)
            return gpf_cli_fail(GPF_EINVAL, "discover: unknown option %s (see `gpufleet discover --help`)", a);
        if (!v)
            return gpf_cli_fail(GPF_EINVAL, "discover: %s needs a value", a);
        *dst = v;
        i++;
    }
    if (strcmp(o->open.backend, "nvml") != 0 && strcmp(o->open.backend, "fake") != 0)
        return gpf_cli_fail(GPF_EINVAL, "discover: --backend is nvml or fake, not '%s'", o->open.backend);
    if (!strcmp(o->open.backend, "fake") && !o->open.host_id)
        return gpf_cli_fail(GPF_EINVAL, "discover: --backend fake needs --host-id (a host of the fleet fixture)");
    return 0;
}

/* The catalog's name of a GPU-instance profile on this GPU's model ("3g.40gb"), or "". */
static const char *profile_name(const gpf_catalog *cat, const gpf_gpu_rec *g, int gi_profile_id)
{
    const gpf_gpu_model *m = gpf_catalog_model(cat, g->model);
    const gpf_mig_profile *mp = m && m->mig_key[0] ? gpf_catalog_mig_by_id(cat, m->mig_key, gi_profile_id) : NULL;
    return mp ? mp->name : "";
}

/* ---- JSON ------------------------------------------------------------------------------ */

static json_t *jint(long long v)
{
    return v < 0 ? json_null() : json_integer(v);
}

static json_t *jstr(const char *s)
{
    return s[0] ? json_string(s) : json_null();
}

static json_t *mig_json(const gpf_catalog *cat, const gpf_gpu_rec *g, const gpf_gpu_mig_dev *m)
{
    return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "uuid", m->uuid, "gi_id", jint(m->gi_id), "ci_id",
                     jint(m->ci_id), "gi_profile_id", jint(m->gi_profile_id), "profile",
                     jstr(profile_name(cat, g, m->gi_profile_id)), "start", jint(m->start), "size", jint(m->size),
                     "memory_mib", jint(m->memory_mib));
}

static json_t *proc_json(const gpf_gpu_proc *p)
{
    return json_pack("{s:I, s:o, s:o, s:o}", "pid", (json_int_t)p->pid, "used_mib", jint(p->used_mib), "gi_id",
                     jint(p->gi_id), "ci_id", jint(p->ci_id));
}

static json_t *gpu_json(const gpf_catalog *cat, const gpf_gpu_rec *g, const gpf_gpu_live *l)
{
    char pci[16] = "";
    json_t *migs = json_array(), *procs = json_array();
    if (l->pci_device_id)
        snprintf(pci, sizeof pci, "0x%08X", (unsigned)l->pci_device_id);
    for (int k = 0; k < l->nmig; k++)
        json_array_append_new(migs, mig_json(cat, g, &l->mig[k]));
    for (int k = 0; k < l->nprocs; k++)
        json_array_append_new(procs, proc_json(&l->procs[k]));
    json_t *j = json_pack("{s:i, s:o, s:s, s:s, s:s, s:o, s:o, s:I, s:b, s:o}", "index", g->index, "model",
                          jstr(g->model), "name", g->name, "uuid", g->uuid, "pci_bus_id", g->pci_bus_id,
                          "pci_device_id", jstr(pci), "numa_node", jint(g->numa_node), "memory_mib",
                          (json_int_t)g->memory_mib, "mig_enabled", g->mig_enabled, "mig_pending",
                          l->mig_pending < 0 ? json_null() : json_boolean(l->mig_pending));
    json_t *live = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "utilization_gpu_pct",
                             jint(l->util_gpu_pct), "utilization_memory_pct", jint(l->util_mem_pct), "memory_used_mib",
                             jint(l->memory_used_mib), "power_mw", jint(l->power_mw), "power_limit_mw",
                             jint(l->power_limit_mw), "temperature_c", jint(l->temp_c), "temperature_slowdown_c",
                             jint(l->temp_slowdown_c), "temperature_shutdown_c", jint(l->temp_shutdown_c), "pcie_gen",
                             jint(l->pcie_gen), "pcie_gen_max", jint(l->pcie_gen_max), "pcie_width",
                             jint(l->pcie_width), "pcie_width_max", jint(l->pcie_width_max));
    json_object_update(j, live);
    json_decref(live);
    json_object_set_new(j, "mig_devices", migs);
    json_object_set_new(j, "processes", procs);
    json_object_set_new(j, "processes_truncated", json_boolean(l->procs_truncated));
    return j;
}

static void print_json(const char *backend, const gpf_catalog *cat, const gpf_host_facts *f)
{
    const gpf_host_rec *h = &f->host;
    json_t *gpus = json_array();
    for (int i = 0; i < h->ngpus; i++)
        json_array_append_new(gpus, gpu_json(cat, &h->gpus[i], &f->live[i]));
    json_t *j = json_pack("{s:s, s:{s:s, s:i, s:I, s:i}, s:o, s:o, s:o, s:o}", "backend", backend, "host", "id", h->id,
                          "cpus", h->cpus, "memory_mib", (json_int_t)h->memory_mib, "numa_nodes", h->numa_nodes,
                          "driver_version", jstr(f->driver_version), "cuda_version", jstr(f->cuda_version),
                          "nvml_version", jstr(f->nvml_version), "gpus", gpus);
    gpf_cli_print_json(j);
    json_decref(j);
}

/* ---- tables ---------------------------------------------------------------------------- */

static void fmt_int(char *out, size_t size, long long v, const char *unit)
{
    if (v < 0)
        snprintf(out, size, "-");
    else
        snprintf(out, size, "%lld%s", v, unit);
}

static void fmt_mib(char *out, size_t size, long long mib)
{
    if (mib < 0)
        snprintf(out, size, "-");
    else
        gpf_cli_memory(mib, out, size);
}

static void fmt_mig(char *out, size_t size, const gpf_gpu_rec *g, const gpf_gpu_live *l)
{
    const char *now = g->mig_enabled ? "on" : "off";
    if (l->mig_pending >= 0 && l->mig_pending != g->mig_enabled)
        snprintf(out, size, "%s (%s after reset)", now, l->mig_pending ? "on" : "off");
    else
        snprintf(out, size, "%s", now);
}

static void fmt_power(char *out, size_t size, const gpf_gpu_live *l)
{
    char now[16], cap[16];
    fmt_int(now, sizeof now, l->power_mw < 0 ? -1 : l->power_mw / 1000, "");
    fmt_int(cap, sizeof cap, l->power_limit_mw < 0 ? -1 : l->power_limit_mw / 1000, "W");
    if (l->power_mw < 0 && l->power_limit_mw < 0)
        snprintf(out, size, "-");
    else
        snprintf(out, size, "%s/%s", now, cap);
}

/* "gen5 x16"; "?" for a part the backend could not tell, "-" when it told neither */
static void fmt_pcie(char *out, size_t size, int gen, int width)
{
    char g[12], w[12];
    fmt_int(g, sizeof g, gen, "");
    fmt_int(w, sizeof w, width, "");
    if (gen < 0 && width < 0)
        snprintf(out, size, "-");
    else
        snprintf(out, size, "gen%s x%s", gen < 0 ? "?" : g, width < 0 ? "?" : w);
}

static void gpu_row(gpf_table *t, const gpf_gpu_rec *g, const gpf_gpu_live *l)
{
    char idx[12], numa[12], mem[24], mig[32], util[12], used[24], power[40], temp[12], cur[32], max[32], pcie[72],
        procs[16];
    snprintf(idx, sizeof idx, "%d", g->index);
    fmt_int(numa, sizeof numa, g->numa_node, "");
    fmt_mib(mem, sizeof mem, g->memory_mib);
    fmt_mig(mig, sizeof mig, g, l);
    fmt_int(util, sizeof util, l->util_gpu_pct, "%");
    fmt_mib(used, sizeof used, l->memory_used_mib);
    fmt_power(power, sizeof power, l);
    fmt_int(temp, sizeof temp, l->temp_c, "C");
    fmt_pcie(cur, sizeof cur, l->pcie_gen, l->pcie_width);
    fmt_pcie(max, sizeof max, l->pcie_gen_max, l->pcie_width_max);
    snprintf(pcie, sizeof pcie, "%s / %s", cur, max);
    snprintf(procs, sizeof procs, "%d%s", l->nprocs, l->procs_truncated ? "+" : "");
    const char *cells[] = {idx,   g->model[0] ? g->model : "-", g->name, g->uuid, g->pci_bus_id, numa, mem, mig,
                           util,  used, power, temp, pcie, procs};
    gpf_table_add(t, cells);
}

static void mig_row(gpf_table *t, const gpf_catalog *cat, const gpf_gpu_rec *g, const gpf_gpu_mig_dev *m)
{
    char gpu[12], prof[48], place[24], gi[12], ci[12], mem[24];
    const char *name = profile_name(cat, g, m->gi_profile_id);
    snprintf(gpu, sizeof gpu, "%d", g->index);
    if (m->gi_profile_id < 0)
        snprintf(prof, sizeof prof, "-");
    else
        snprintf(prof, sizeof prof, "%s%sid %d%s", name, name[0] ? " (" : "", m->gi_profile_id, name[0] ? ")" : "");
    if (m->start < 0)
        snprintf(place, sizeof place, "-");
    else
        snprintf(place, sizeof place, "%d:%d", m->start, m->size);
    fmt_int(gi, sizeof gi, m->gi_id, "");
    fmt_int(ci, sizeof ci, m->ci_id, "");
    fmt_mib(mem, sizeof mem, m->memory_mib);
    const char *cells[] = {gpu, m->uuid, prof, place, gi, ci, mem};
    gpf_table_add(t, cells);
}

static void proc_row(gpf_table *t, const gpf_gpu_rec *g, const gpf_gpu_proc *p)
{
    char gpu[12], pid[16], mig[32], mem[24];
    snprintf(gpu, sizeof gpu, "%d", g->index);
    snprintf(pid, sizeof pid, "%u", p->pid);
    if (p->gi_id < 0)
        snprintf(mig, sizeof mig, "-");
    else
        snprintf(mig, sizeof mig, "gi %d ci %d", p->gi_id, p->ci_id);
    fmt_mib(mem, sizeof mem, p->used_mib);
    const char *cells[] = {gpu, pid, mig, mem};
    gpf_table_add(t, cells);
}

static void print_section(const char *title, const gpf_table *t)
{
    if (t->nrows < 2)
        return;
    printf("\n%s\n", title);
    gpf_cli_print_table(t);
}

static void print_tables(const char *backend, const gpf_catalog *cat, const gpf_host_facts *f)
{
    static const char *const GPU_H[] = {"IDX", "MODEL", "NAME", "UUID", "BUS ID", "NUMA", "MEMORY",
                                        "MIG", "UTIL", "MEM USED", "POWER", "TEMP", "PCIE CUR / MAX", "PROCS"};
    static const char *const MIG_H[] = {"GPU", "UUID", "PROFILE", "PLACEMENT", "GI", "CI", "MEMORY"};
    static const char *const PROC_H[] = {"GPU", "PID", "MIG", "MEMORY"};
    const gpf_host_rec *h = &f->host;
    gpf_table gpus = {0}, migs = {0}, procs = {0};
    gpf_table_init(&gpus, 14, GPU_H);
    gpf_table_init(&migs, 7, MIG_H);
    gpf_table_init(&procs, 4, PROC_H);
    for (int i = 0; i < h->ngpus; i++) {
        gpu_row(&gpus, &h->gpus[i], &f->live[i]);
        for (int k = 0; k < f->live[i].nmig; k++)
            mig_row(&migs, cat, &h->gpus[i], &f->live[i].mig[k]);
        for (int k = 0; k < f->live[i].nprocs; k++)
            proc_row(&procs, &h->gpus[i], &f->live[i].procs[k]);
    }
    printf("host %s: %d GPU%s (backend %s, driver %s, CUDA %s, NVML %s)\n", h->id, h->ngpus, h->ngpus == 1 ? "" : "s",
           backend, f->driver_version[0] ? f->driver_version : "-", f->cuda_version[0] ? f->cuda_version : "-",
           f->nvml_version[0] ? f->nvml_version : "-");
    print_section("GPUs", &gpus);
    print_section("MIG devices", &migs);
    print_section("Processes", &procs);
    gpf_table_clear(&gpus);
    gpf_table_clear(&migs);
    gpf_table_clear(&procs);
}

/* ---- the command ----------------------------------------------------------------------- */

int gpf_cli_discover_main(int argc, char **argv)
{
    discover_opts o;
    gpf_catalog *cat = NULL;
    gpf_gpu_backend *b = NULL;
    gpf_host_facts *f = NULL;
    gpf_error err = {0};
    int rc = parse_opts(argc, argv, &o);
    if (rc == 1) {
        fputs(HELP, stdout);
        return GPF_EXIT_OK;
    }
    if (rc != 0)
        return rc;
    f = GPF_NEW(gpf_host_facts);
    gpf_data_dir src = {o.catalog_dir, GPF_CATALOG_BUILTIN};
    if (gpf_catalog_load(gpf_data_file_reader, &src, &cat, &err) == 0)
        o.open.cat = cat;
    if (err.code != 0 || gpf_gpu_backend_open(&o.open, &b, &err) != 0 || b->ops->discover(b, f, &err) != 0) {
        gpf_cli_fail(err.code, "discover: %s%s", gpf_error_msg(&err),
                     err.code == GPF_EUNAVAIL ? "; use --backend fake for a demo" : "");
        rc = GPF_EXIT_ERROR;
        goto out;
    }
    if (o.json)
        print_json(b->ops->name, cat, f);
    else
        print_tables(b->ops->name, cat, f);
out:
    gpf_gpu_backend_close(b);
    gpf_catalog_free(cat);
    gpf_free(f);
    return rc;
}
