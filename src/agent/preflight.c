/* Host preflight checks (see preflight.h). Each check adds one finding per GPU or per GPU
 * model (or one for the host), so a report always shows what was checked, not only what
 * went wrong. */
#include "agent/preflight.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/csv.h"
#include "util/alloc.h"

typedef enum { MODE_BAREMETAL, MODE_PASSTHROUGH, MODE_VGPU, MODE_CLOUD } deploy_mode;

typedef struct ctx {
    const gpf_chk_input *in;
    const gpf_host_facts *fx;
    deploy_mode mode;
    int vgpu;                     /* vGPU planned */
    int have_pod_mask;
    uint64_t pod_mask[GPF_SYSFS_MASK_WORDS];
    int nmin;                     /* MIG driver minimums, read once from driver_minimums */
    struct {
        char prefix[48], version[32];
    } min[32];
    gpf_chk_report *r;
} ctx;

const char *gpf_chk_level_name(gpf_chk_level l)
{
    static const char *const n[] = {"pass", "warn", "fail", "skip"};
    return l >= GPF_CHK_PASS && l <= GPF_CHK_SKIP ? n[l] : "?";
}

__attribute__((format(printf, 6, 7))) static void add(ctx *c, const char *check, gpf_chk_level lvl, int gpu,
                                                      const char *fix, const char *fmt, ...)
{
    gpf_chk_report *r = c->r;
    if (lvl != GPF_CHK_SKIP && lvl > r->verdict)
        r->verdict = lvl;
    if (r->n == GPF_CHK_MAX) {
        r->dropped++;
        return;
    }
    gpf_chk_finding *f = &r->f[r->n++];
    memset(f, 0, sizeof *f);
    gpf_strlcpy(f->check, check, sizeof f->check);
    f->level = lvl;
    f->gpu = gpu;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->detail, sizeof f->detail, fmt, ap);
    va_end(ap);
    if (fix && (lvl == GPF_CHK_WARN || lvl == GPF_CHK_FAIL))
        gpf_strlcpy(f->fix, fix, sizeof f->fix);
}

/* ---- small helpers ------------------------------------------------------------ */

int gpf_driver_version_cmp(const char *a, const char *b)
{
    while ((a && *a) || (b && *b)) {
        char *ea = NULL, *eb = NULL;
        long x = a && *a ? strtol(a, &ea, 10) : 0, y = b && *b ? strtol(b, &eb, 10) : 0;
        if (x != y)
            return x < y ? -1 : 1;
        a = ea && *ea == '.' ? ea + 1 : ea && *ea ? "" : NULL;
        b = eb && *eb == '.' ? eb + 1 : eb && *eb ? "" : NULL;
    }
    return 0;
}

int gpf_pci_addr_norm(const char *in, char *out, size_t size)
{
    unsigned dom, bus, dev, fn;
    int used = 0;
    /* hex digits and separators only: sscanf alone would take "0x", signs and spaces */
    if (!in || in[strspn(in, "0123456789abcdefABCDEF:.")] != '\0')
        return -1;
    if (sscanf(in, "%x:%x:%x.%x%n", &dom, &bus, &dev, &fn, &used) != 4 || in[used] != '\0' ||
        bus > 0xff || dev > 0x1f || fn > 7 || dom > 0xffff)
        return -1;
    snprintf(out, size, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
    return 0;
}

/* The sysfs view of host GPU g (matched by PCI address), or NULL. */
static const gpf_sysfs_gpu *sys_gpu(const ctx *c, int g)
{
    const gpf_sysfs_host *sys = c->in->sys;
    char want[16], have[16];
    if (!sys || gpf_pci_addr_norm(c->fx->host.gpus[g].pci_bus_id, want, sizeof want) != 0)
        return NULL;
    for (int i = 0; i < sys->ngpus; i++)
        if (gpf_pci_addr_norm(sys->gpus[i].bdf, have, sizeof have) == 0 && strcmp(have, want) == 0)
            return &sys->gpus[i];
    return NULL;
}

static const gpf_gpu_model *model_of(const ctx *c, int g)
{
    const char *key = c->fx->host.gpus[g].model;
    return c->in->cat && key[0] ? gpf_catalog_model(c->in->cat, key) : NULL;
}

/* 1 when an earlier GPU has the same model key: per-model checks report once. */
static int model_seen(const ctx *c, int g)
{
    for (int j = 0; j < g; j++)
        if (strcmp(c->fx->host.gpus[j].model, c->fx->host.gpus[g].model) == 0)
            return 1;
    return 0;
}

static int vm_mode(const ctx *c)
{
    return c->mode == MODE_PASSTHROUGH || c->mode == MODE_VGPU;
}

static const char *mode_name(deploy_mode m)
{
    static const char *const n[] = {"baremetal", "passthrough", "vgpu", "cloud"};
    return n[m];
}

/* ---- the checks ------------------------------------------------------------------- */

static void check_discovery(ctx *c)
{
    const gpf_host_rec *h = &c->fx->host;
    const gpf_sysfs_host *sys = c->in->sys;
    int fake = strcmp(h->backend, "fake") == 0;
    if (c->in->discovery_error)
        add(c, "discovery", GPF_CHK_FAIL, -1,
            "install or repair the NVIDIA driver (nvidia-smi must work), or use --backend fake for a demo",
            "cannot discover GPUs: %s", c->in->discovery_error);
    else if (h->ngpus == 0)
        add(c, "discovery", GPF_CHK_WARN, -1,
            "check the NVIDIA driver with nvidia-smi; a host without GPUs can still run CPU-only pods",
            "no NVIDIA GPU discovered (backend %s)", h->backend[0] ? h->backend : "?");
    else if (sys && !fake && sys->ngpus > h->ngpus)
        add(c, "discovery", GPF_CHK_FAIL, -1,
            "a GPU is not usable by the driver: look for Xid or 'fallen off the bus' in dmesg and for "
            "the driver binding in lspci -k; reset or reseat it before placing work",
            "the PCI bus has %d NVIDIA GPUs but the driver reports %d", sys->ngpus, h->ngpus);
    else
        add(c, "discovery", GPF_CHK_PASS, -1, NULL, "%d GPU%s (backend %s%s%s)", h->ngpus, h->ngpus == 1 ? "" : "s",
            h->backend, c->fx->driver_version[0] ? ", driver " : "", c->fx->driver_version);
}

static void check_model(ctx *c, int g)
{
    const gpf_gpu_rec *gr = &c->fx->host.gpus[g];
    if (!c->in->cat)
        add(c, "model", GPF_CHK_SKIP, g, NULL, "no catalog loaded");
    else if (!gr->model[0])
        add(c, "model", GPF_CHK_WARN, g,
            "add the model (with its PCI device id) to the catalog's gpus.csv; until then the "
            "scheduler places nothing that needs a known model on it",
            "%s (PCI id 0x%08X) is not in the catalog", gr->name[0] ? gr->name : "GPU",
            (unsigned)c->fx->live[g].pci_device_id);
    else if (!model_of(c, g))
        add(c, "model", GPF_CHK_WARN, g, "use a catalog key from gpus.csv for this GPU",
            "model '%s' is not a catalog key", gr->model);
    else
        add(c, "model", GPF_CHK_PASS, g, NULL, "%s", gr->model);
}

static void check_pcie(ctx *c, int g)
{
    const gpf_gpu_live *l = &c->fx->live[g];
    const gpf_sysfs_gpu *s = sys_gpu(c, g);
    int gen = l->pcie_gen >= 0 ? l->pcie_gen : s ? s->link_gen_cur : 0;
    int gen_max = l->pcie_gen_max >= 0 ? l->pcie_gen_max : s ? s->link_gen_max : 0;
    int w = l->pcie_width >= 0 ? l->pcie_width : s ? s->link_width_cur : 0;
    int w_max = l->pcie_width_max >= 0 ? l->pcie_width_max : s ? s->link_width_max : 0;
    if (gen <= 0 || gen_max <= 0 || w <= 0 || w_max <= 0) {
        add(c, "pcie-link", GPF_CHK_SKIP, g, NULL, "link generation and width not reported");
    } else if (w < w_max) {
        add(c, "pcie-link", GPF_CHK_FAIL, g,
            "reseat the GPU or its riser and check the slot's lane wiring and BIOS bifurcation; a "
            "narrow link cuts host-to-GPU bandwidth for every pod",
            "link is x%d of x%d (Gen%d of Gen%d)", w, w_max, gen, gen_max);
    } else if (gen < gen_max && l->util_gpu_pct == 0) {
        add(c, "pcie-link", GPF_CHK_PASS, g, NULL,
            "x%d, Gen%d of Gen%d while idle (GPUs lower the link speed when idle; re-check under load)", w, gen,
            gen_max);
    } else if (gen < gen_max) {
        add(c, "pcie-link", GPF_CHK_WARN, g,
            "check the BIOS PCIe speed setting, risers and retimers; if the GPU was idle, re-check under load",
            "link runs at Gen%d of Gen%d (x%d)", gen, gen_max, w);
    } else {
        add(c, "pcie-link", GPF_CHK_PASS, g, NULL, "Gen%d x%d, its maximum", gen, w);
    }
}

static int popcount_and(const uint64_t *a, const uint64_t *b)
{
    int n = 0;
    for (int i = 0; i < GPF_SYSFS_MASK_WORDS; i++)
        n += __builtin_popcountll(a[i] & b[i]);
    return n;
}

static void check_numa(ctx *c, int g)
{
    const gpf_sysfs_host *sys = c->in->sys;
    if (!sys) {
        add(c, "numa", GPF_CHK_SKIP, g, NULL, "sysfs not read");
        return;
    }
    if (sys->numa_nodes <= 1) {
        add(c, "numa", GPF_CHK_PASS, g, NULL, "one NUMA node: every CPU is local");
        return;
    }
    const gpf_sysfs_gpu *s = sys_gpu(c, g);
    int node = c->fx->host.gpus[g].numa_node >= 0 ? c->fx->host.gpus[g].numa_node : s ? s->numa_node : -1;
    if (node < 0) {
        add(c, "numa", GPF_CHK_WARN, g,
            "enable NUMA reporting (ACPI SRAT) in the BIOS; /sys/bus/pci/devices/<address>/numa_node "
            "should name the GPU's node",
            "the GPU's NUMA node is unknown on a %d-node host: pods cannot be given local CPUs", sys->numa_nodes);
    } else if (node >= sys->numa_nodes || sys->numa_cpus[node] == 0) {
        add(c, "numa", GPF_CHK_WARN, g,
            "check the BIOS NUMA-per-socket (NPS/SNC) setting: the GPU's node should have CPUs",
            "the GPU sits on NUMA node %d, which has no CPUs", node);
    } else if (c->have_pod_mask && popcount_and(c->pod_mask, sys->numa_mask[node]) == 0) {
        add(c, "numa", GPF_CHK_FAIL, g,
            "add CPUs of the GPU's node to the pod CPU set (--pod-cpus), or move the GPU; remote CPUs "
            "cost every pod memory bandwidth and latency",
            "pods of this GPU may only use CPUs of other nodes: the GPU is on node %d, none of whose %d CPUs are "
            "in the pod CPU set",
            node, sys->numa_cpus[node]);
    } else {
        int local = c->have_pod_mask ? popcount_and(c->pod_mask, sys->numa_mask[node]) : sys->numa_cpus[node];
        add(c, "numa", GPF_CHK_PASS, g, NULL, "node %d, %d local CPU%s for its pods", node, local,
            local == 1 ? "" : "s");
    }
}

static void check_iommu(ctx *c)
{
    const gpf_sysfs_host *sys = c->in->sys;
    if (!sys) {
        add(c, "iommu", GPF_CHK_SKIP, -1, NULL, "sysfs not read");
        return;
    }
    if (!vm_mode(c)) {
        add(c, "iommu", GPF_CHK_PASS, -1, NULL, "IOMMU %s; not needed for %s pods", sys->iommu_enabled ? "on" : "off",
            mode_name(c->mode));
        return;
    }
    if (!sys->iommu_enabled) {
        add(c, "iommu", GPF_CHK_FAIL, -1,
            "enable VT-d (Intel) or AMD-Vi in the BIOS and boot with intel_iommu=on iommu=pt "
            "(AMD: amd_iommu=on iommu=pt)",
            "IOMMU is off, but %s needs it to hand GPUs to VMs", mode_name(c->mode));
        return;
    }
    int shared = 0;
    for (int i = 0; c->mode == MODE_PASSTHROUGH && i < sys->ngpus; i++)
        for (int j = i + 1; j < sys->ngpus; j++)
            if (sys->gpus[i].iommu_group >= 0 && sys->gpus[i].iommu_group == sys->gpus[j].iommu_group) {
                add(c, "iommu", GPF_CHK_FAIL, -1,
                    "GPUs in one IOMMU group can only be passed through together: move one to another slot "
                    "or enable ACS on the PCIe switch",
                    "GPUs %s and %s share IOMMU group %d", sys->gpus[i].bdf, sys->gpus[j].bdf,
                    sys->gpus[i].iommu_group);
                shared = 1;
            }
    if (!shared)
        add(c, "iommu", GPF_CHK_PASS, -1, NULL, "IOMMU on%s", c->mode == MODE_PASSTHROUGH ? ", one GPU per group" : "");
}

/* The rows of driver_minimums.csv for MIG into c->min; GPF_EINVAL when the text is malformed. */
static int read_minimums(ctx *c, const char *csv_text, gpf_error *err)
{
    static const char *const cols[] = {"gpu_model_prefix", "feature", "min_driver", NULL};
    gpf_csv r;
    int rc = gpf_csv_open(&r, "driver_minimums.csv", csv_text, cols, err), row;
    while (rc == 0 && (row = gpf_csv_next(&r, err)) != 0) {
        rc = row < 0 ? row : 0;
        if (rc == 0 && !strcmp(gpf_csv_get(&r, "feature"), "mig") && gpf_csv_get(&r, "gpu_model_prefix")[0] &&
            c->nmin < (int)(sizeof c->min / sizeof c->min[0])) {
            gpf_strlcpy(c->min[c->nmin].prefix, gpf_csv_get(&r, "gpu_model_prefix"), sizeof c->min[0].prefix);
            gpf_strlcpy(c->min[c->nmin++].version, gpf_csv_get(&r, "min_driver"), sizeof c->min[0].version);
        }
    }
    gpf_csv_close(&r);
    return rc;
}

/* The catalog's minimum driver for MIG on model key, or NULL. */
static const char *mig_minimum(const ctx *c, const char *key)
{
    for (int i = 0; i < c->nmin; i++)
        if (strncmp(key, c->min[i].prefix, strlen(c->min[i].prefix)) == 0)
            return c->min[i].version;
    return NULL;
}

static void check_driver(ctx *c, int g)
{
    const char *have = c->fx->driver_version;
    const gpf_gpu_rec *gr = &c->fx->host.gpus[g];
    const char *min = gr->model[0] ? mig_minimum(c, gr->model) : NULL;
    if (!have[0]) {
        add(c, "driver", GPF_CHK_SKIP, g, NULL, "driver version not reported (backend %s)", c->fx->host.backend);
        return;
    }
    if (!min) {
        add(c, "driver", GPF_CHK_PASS, g, NULL, "driver %s; the catalog has no minimum for %s", have,
            gr->model[0] ? gr->model : "this GPU");
        return;
    }
    if (gpf_driver_version_cmp(have, min) >= 0) {
        add(c, "driver", GPF_CHK_PASS, g, NULL, "driver %s >= %s, the MIG minimum for %s", have, min, gr->model);
        return;
    }
    char fix[160];
    snprintf(fix, sizeof fix, "install NVIDIA driver %s or newer", min);
    add(c, "driver", gr->mig_enabled ? GPF_CHK_FAIL : GPF_CHK_WARN, g, fix,
        "driver %s is older than %s, the minimum for MIG on %s%s", have, min, gr->model,
        gr->mig_enabled ? " (and the GPU is in MIG mode)" : ": MIG slices cannot be offered on it");
}

static void check_mmio(ctx *c, int g)
{
    if (!vm_mode(c) || model_seen(c, g))
        return;
    const gpf_gpu_model *m = model_of(c, g);
    if (!m || m->mmio_required_gb <= 0) {
        add(c, "mmio", GPF_CHK_SKIP, g, NULL, "the catalog has no MMIO figure for %s",
            c->fx->host.gpus[g].model[0] ? c->fx->host.gpus[g].model : "this GPU");
        return;
    }
    int per_vm = c->mode == MODE_PASSTHROUGH && c->in->vm_gpus > 1 ? c->in->vm_gpus : 1;
    int need = m->mmio_required_gb * per_vm;
    char fix[200];
    snprintf(fix, sizeof fix,
             "give each VM at least %d GB of 64-bit MMIO space (ESXi: pciPassthru.64bitMMIOSizeGB) and pass "
             "--vm-mmio-gb",
             need);
    if (c->in->vm_mmio_gb <= 0)
        add(c, "mmio", GPF_CHK_WARN, g, fix, "%s needs %d GB of MMIO per VM (%d GPU%s); the VMs' MMIO size was not given",
            m->key, need, per_vm, per_vm == 1 ? "" : "s");
    else if (c->in->vm_mmio_gb < need)
        add(c, "mmio", GPF_CHK_FAIL, g, fix, "VMs get %d GB of MMIO; %s needs %d GB per VM (%d GPU%s)",
            c->in->vm_mmio_gb, m->key, need, per_vm, per_vm == 1 ? "" : "s");
    else
        add(c, "mmio", GPF_CHK_PASS, g, NULL, "VMs get %d GB of MMIO; %s needs %d GB", c->in->vm_mmio_gb, m->key, need);
}

static void check_vgpu(ctx *c, int g)
{
    if (!c->vgpu || model_seen(c, g))
        return;
    const gpf_gpu_model *m = model_of(c, g);
    if (!m)
        add(c, "vgpu", GPF_CHK_SKIP, g, NULL, "model not in the catalog");
    else if (!m->vgpu_compute_supported)
        add(c, "vgpu", GPF_CHK_FAIL, g,
            "offer this host as bare metal (whole GPUs, MIG or shares); boards such as GH200 and GB200 "
            "run bare-metal only",
            "the catalog lists no vGPU (C-series) support for %s", m->key);
    else
        add(c, "vgpu", GPF_CHK_PASS, g, NULL, "%s supports vGPU (C-series)", m->key);
}

static void check_thermal(ctx *c, int g)
{
    const gpf_gpu_live *l = &c->fx->live[g];
    static const char fix[] = "check airflow, fans and inlet temperature before placing work: the GPU will "
                              "throttle its clocks";
    if (l->temp_c < 0) {
        add(c, "thermal", GPF_CHK_SKIP, g, NULL, "temperature not reported");
    } else if (l->temp_slowdown_c > 0) {
        int room = l->temp_slowdown_c - l->temp_c;
        gpf_chk_level lvl = room < 5 ? GPF_CHK_FAIL : room < 15 ? GPF_CHK_WARN : GPF_CHK_PASS;
        add(c, "thermal", lvl, g, fix, "%d C, %d C below its slowdown threshold (%d C)", l->temp_c, room,
            l->temp_slowdown_c);
    } else {
        add(c, "thermal", l->temp_c >= 85 ? GPF_CHK_WARN : GPF_CHK_PASS, g, fix,
            "%d C (no slowdown threshold reported)", l->temp_c);
    }
}

static void check_power(ctx *c, int g)
{
    const gpf_gpu_live *l = &c->fx->live[g];
    const gpf_gpu_model *m = model_of(c, g);
    if (l->power_limit_mw <= 0) {
        add(c, "power", GPF_CHK_SKIP, g, NULL, "power limit not reported");
        return;
    }
    int limit_w = l->power_limit_mw / 1000, draw_w = l->power_mw >= 0 ? l->power_mw / 1000 : -1;
    if (m && m->tdp_w > 0 && l->power_limit_mw < m->tdp_w * 900)
        add(c, "power", GPF_CHK_WARN, g,
            "the GPU will clock lower than its rating: raise the power limit (an operator decision) or "
            "price the SKUs on this host for it",
            "power limit %d W is below the %s TDP of %d W", limit_w, m->key, m->tdp_w);
    else if (draw_w >= 0 && l->power_mw >= (int64_t)l->power_limit_mw * 95 / 100)
        add(c, "power", GPF_CHK_WARN, g,
            "something is already loading the GPU: see its processes (gpufleet discover) before placing pods",
            "drawing %d W of its %d W limit", draw_w, limit_w);
    else if (draw_w >= 0)
        add(c, "power", GPF_CHK_PASS, g, NULL, "drawing %d W of its %d W limit", draw_w, limit_w);
    else
        add(c, "power", GPF_CHK_PASS, g, NULL, "limit %d W", limit_w);
}

/* ---- entry --------------------------------------------------------------------- */

static int parse_mode(const char *s, deploy_mode *m)
{
    if (!s || !*s || !strcmp(s, "baremetal"))
        *m = MODE_BAREMETAL;
    else if (!strcmp(s, "passthrough"))
        *m = MODE_PASSTHROUGH;
    else if (!strcmp(s, "vgpu"))
        *m = MODE_VGPU;
    else if (!strcmp(s, "cloud"))
        *m = MODE_CLOUD;
    else
        return -1;
    return 0;
}

int gpf_preflight_run(const gpf_chk_input *in, gpf_chk_report *out, gpf_error *err)
{
    if (!in || !in->facts || !out)
        return gpf_error_set(err, GPF_EINVAL, "preflight: no discovery facts");
    memset(out, 0, sizeof *out);
    ctx c;
    memset(&c, 0, sizeof c);
    c.in = in;
    c.fx = in->facts;
    c.r = out;
    if (parse_mode(in->deploy_mode, &c.mode) != 0)
        return gpf_error_set(err, GPF_EINVAL, "unknown deploy mode '%s' (baremetal, passthrough, vgpu, cloud)",
                             in->deploy_mode);
    c.vgpu = in->vgpu_planned || c.mode == MODE_VGPU;
    if (in->pod_cpus && in->pod_cpus[0]) {
        if (gpf_sysfs_cpulist_mask(in->pod_cpus, c.pod_mask, GPF_SYSFS_MAX_CPUS) <= 0)
            return gpf_error_set(err, GPF_EINVAL, "pod CPU set '%s' is not a CPU list (e.g. 0-31,64-95)", in->pod_cpus);
        c.have_pod_mask = 1;
    }
    int rc = in->driver_minimums ? read_minimums(&c, in->driver_minimums, err) : 0;
    if (rc != 0)
        return rc;
    check_discovery(&c);
    check_iommu(&c);
    for (int g = 0; g < c.fx->host.ngpus; g++) {
        check_model(&c, g);
        check_pcie(&c, g);
        check_numa(&c, g);
        check_driver(&c, g);
        check_vgpu(&c, g);
        check_mmio(&c, g);
        check_thermal(&c, g);
        check_power(&c, g);
    }
    return 0;
}
