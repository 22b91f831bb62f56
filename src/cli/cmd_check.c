/* `gpufleet check`: the host preflight, run on the GPU host itself (no control plane
 * needed). Discovers the GPUs with a backend, reads sysfs, runs the checklist of
 * agent/preflight.h and prints the findings with their fixes. Exit code: 0 pass, 1 warn,
 * 2 fail, 3 when the checks could not run (catalog), 64 for a usage error. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/gpu_open.h"
#include "agent/preflight.h"
#include "cli/cli.h"
#include "cli/cli_int.h"
#include "util/alloc.h"
#include "util/datafile.h"

static const char usage[] =
    "usage: gpufleet check [--backend nvml|fake] [--nvml-lib PATH] [--fake-fleet FILE] [--host-id ID]\n"
    "                      [--deploy-mode baremetal|passthrough|vgpu|cloud] [--vgpu] [--vm-mmio-gb N]\n"
    "                      [--vm-gpus N] [--pod-cpus LIST] [--sysfs-root DIR] [--catalog-dir DIR]\n"
    "                      [--all] [--json]\n"
    "\n"
    "Checks this host before anything is placed on it: PCIe links below their maximum, GPUs\n"
    "and pod CPUs on different NUMA nodes, IOMMU off where VMs need it, drivers older than\n"
    "the catalog's minimum, VM MMIO space smaller than the GPU needs, vGPU on a model without\n"
    "it, power and thermal headroom. Prints what needs attention with its fix (--all: every\n"
    "check). Exit code 0 pass, 1 warn, 2 fail, 3 could not run.\n";

typedef struct opts {
    gpf_gpu_open_opts open;
    gpf_chk_input in;
    const char *sysfs_root, *catalog_dir;
    int all, json;
} opts;

static int int_arg(const char *flag, const char *v, int *out)
{
    char *end = NULL;
    long n = v ? strtol(v, &end, 10) : -1;
    if (!v || end == v || *end || n < 0 || n > 1 << 20) {
        fprintf(stderr, "gpufleet check: %s needs a whole number\n", flag);
        return -1;
    }
    *out = (int)n;
    return 0;
}

static int parse(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    o->open.backend = "nvml";
    o->sysfs_root = "/";
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1, bad = 0;
        if (!strcmp(a, "--backend"))
            o->open.backend = v;
        else if (!strcmp(a, "--nvml-lib"))
            o->open.nvml_lib = v;
        else if (!strcmp(a, "--fake-fleet"))
            o->open.fake_fleet = v;
        else if (!strcmp(a, "--host-id"))
            o->open.host_id = v;
        else if (!strcmp(a, "--deploy-mode"))
            o->in.deploy_mode = v;
        else if (!strcmp(a, "--pod-cpus"))
            o->in.pod_cpus = v;
        else if (!strcmp(a, "--sysfs-root"))
            o->sysfs_root = v;
        else if (!strcmp(a, "--catalog-dir"))
            o->catalog_dir = v;
        else if (!strcmp(a, "--vm-mmio-gb"))
            bad = int_arg(a, v, &o->in.vm_mmio_gb);
        else if (!strcmp(a, "--vm-gpus"))
            bad = int_arg(a, v, &o->in.vm_gpus);
        else {
            takes = 0;
            if (!strcmp(a, "--vgpu"))
                o->in.vgpu_planned = 1;
            else if (!strcmp(a, "--all"))
                o->all = 1;
            else if (!strcmp(a, "--json"))
                o->json = 1;
            else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
                fputs(usage, stdout);
                return 1;
            } else {
                fprintf(stderr, "gpufleet check: unknown option '%s'\n%s", a, usage);
                return -1;
            }
        }
        if (bad)
            return -1;
        if (takes && !v) {
            fprintf(stderr, "gpufleet check: %s needs a value\n", a);
            return -1;
        }
        i += takes;
    }
    return 0;
}

static void print_table(const gpf_chk_report *r, int all)
{
    static const char *const head[] = {"STATUS", "CHECK", "GPU", "DETAIL"};
    gpf_table t;
    gpf_table_init(&t, 4, head);
    int shown = 0;
    for (int i = 0; i < r->n; i++) {
        const gpf_chk_finding *f = &r->f[i];
        if (!all && f->level != GPF_CHK_WARN && f->level != GPF_CHK_FAIL)
            continue;
        char gpu[16];
        snprintf(gpu, sizeof gpu, "%d", f->gpu);
        const char *row[] = {gpf_chk_level_name(f->level), f->check, f->gpu >= 0 ? gpu : "-", f->detail};
        gpf_table_add(&t, row);
        shown++;
    }
    if (shown)
        gpf_cli_print_table(&t);
    else
        printf("nothing needs attention (--all lists every check)\n");
    gpf_table_clear(&t);
    int fixes = 0;
    for (int i = 0; i < r->n; i++) {
        const gpf_chk_finding *f = &r->f[i];
        if (!f->fix[0])
            continue;
        if (!fixes++)
            printf("\nfixes:\n");
        if (f->gpu >= 0)
            printf("  %s, GPU %d: %s\n", f->check, f->gpu, f->fix);
        else
            printf("  %s: %s\n", f->check, f->fix);
    }
}

static void print_json(const gpf_host_facts *fx, const gpf_chk_report *r, const char *sysfs_error)
{
    json_t *arr = json_array();
    for (int i = 0; i < r->n; i++) {
        const gpf_chk_finding *f = &r->f[i];
        json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "check", f->check, "level", gpf_chk_level_name(f->level),
                              "detail", f->detail, "fix", f->fix);
        json_object_set_new(o, "gpu", f->gpu >= 0 ? json_integer(f->gpu) : json_null());
        json_array_append_new(arr, o);
    }
    json_t *root = json_pack("{s:s, s:s, s:s, s:s, s:i, s:o}", "host", fx->host.id, "backend", fx->host.backend,
                             "driver_version", fx->driver_version, "verdict", gpf_chk_level_name(r->verdict),
                             "exit_code", (int)r->verdict, "findings", arr);
    json_object_set_new(root, "sysfs_error", sysfs_error ? json_string(sysfs_error) : json_null());
    gpf_cli_print_json(root);
    json_decref(root);
}

static void summary(const gpf_chk_report *r)
{
    int n[4] = {0};
    for (int i = 0; i < r->n; i++)
        n[r->f[i].level]++;
    printf("\n%d passed, %d warned, %d failed, %d skipped: %s\n", n[GPF_CHK_PASS], n[GPF_CHK_WARN],
           n[GPF_CHK_FAIL], n[GPF_CHK_SKIP],
           r->verdict == GPF_CHK_FAIL   ? "FAIL"
           : r->verdict == GPF_CHK_WARN ? "WARN"
                                        : "PASS");
}

int gpf_cli_check_main(int argc, char **argv)
{
    opts o;
    int rc = parse(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : 64;
    gpf_error err = {0};
    gpf_catalog *cat = NULL;
    char *minimums = NULL;
    gpf_data_dir src = {o.catalog_dir, GPF_CATALOG_BUILTIN};
    if (gpf_catalog_load(gpf_data_file_reader, &src, &cat, &err) != 0 ||
        !(minimums = gpf_data_file_text(&src, "driver_minimums.csv", &err))) {
        fprintf(stderr, "gpufleet check: catalog: %s\n", gpf_error_msg(&err));
        gpf_catalog_free(cat);
        return 3;
    }
    gpf_host_facts *fx = gpf_calloc(1, sizeof *fx);
    gpf_sysfs_host *sys = gpf_calloc(1, sizeof *sys);
    gpf_chk_report *rep = gpf_calloc(1, sizeof *rep);
    gpf_gpu_backend *b = NULL;
    char disc_err[sizeof err.msg] = "", sys_err[sizeof err.msg] = "";
    o.open.cat = cat;
    err = (gpf_error){0};
    if (gpf_gpu_backend_open(&o.open, &b, &err) != 0 || b->ops->discover(b, fx, &err) != 0) {
        gpf_strlcpy(disc_err, gpf_error_msg(&err), sizeof disc_err);
        gpf_strlcpy(fx->host.backend, o.open.backend ? o.open.backend : "?", sizeof fx->host.backend);
    }
    err = (gpf_error){0};
    if (gpf_sysfs_read(o.sysfs_root, sys, &err) != 0)
        gpf_strlcpy(sys_err, gpf_error_msg(&err), sizeof sys_err);
    o.in.facts = fx;
    o.in.sys = sys_err[0] ? NULL : sys;
    o.in.cat = cat;
    o.in.driver_minimums = minimums;
    o.in.discovery_error = disc_err[0] ? disc_err : NULL;
    err = (gpf_error){0};
    if (gpf_preflight_run(&o.in, rep, &err) != 0) {
        fprintf(stderr, "gpufleet check: %s\n", gpf_error_msg(&err));
        rc = 64;
    } else {
        if (sys_err[0] && !o.json)
            fprintf(stderr, "gpufleet check: sysfs not read (%s): link, NUMA and IOMMU checks skipped\n", sys_err);
        if (o.json) {
            print_json(fx, rep, sys_err[0] ? sys_err : NULL);
        } else {
            printf("host %s, backend %s%s%s, deploy mode %s\n\n", fx->host.id[0] ? fx->host.id : "?", fx->host.backend,
                   fx->driver_version[0] ? ", driver " : "", fx->driver_version,
                   o.in.deploy_mode ? o.in.deploy_mode : "baremetal");
            print_table(rep, o.all);
            summary(rep);
        }
        rc = (int)rep->verdict;
    }
    gpf_gpu_backend_close(b);
    gpf_free(rep);
    gpf_free(sys);
    gpf_free(fx);
    gpf_free(minimums);
    gpf_catalog_free(cat);
    return rc;
}
