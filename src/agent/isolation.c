/* Pod isolation planning (see isolation.h). */
#include "agent/isolation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/gpu_backend.h"
#include "util/alloc.h"
#include "util/fileio.h"

/* root + rel ("/dev/nvidia0") into out; -1 when it does not fit. */
static int under_root(char *out, size_t size, const char *root, const char *rel)
{
    size_t rl = root ? strlen(root) : 0;
    while (rl > 0 && root[rl - 1] == '/')
        rl--;
    int n = snprintf(out, size, "%.*s%s", (int)rl, rl ? root : "", rel);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* The number after "key" in the file at root + rel (a line "Key: 12"), or -1. */
static int read_keyed_int(const char *root, const char *rel, const char *key)
{
    char path[GPF_ISO_PATH_MAX], *text = NULL, *end = NULL;
    long v = -1;
    if (under_root(path, sizeof path, root, rel) != 0 || gpf_read_file(path, 16384, &text, NULL) != 0)
        return -1;
    const char *p = strstr(text, key);
    if (p)
        v = strtol(p + strlen(key), &end, 10);
    int ok = p && end != p + strlen(key) && v >= 0 && v < (1L << 20);
    gpf_free(text);
    return ok ? (int)v : -1;
}

static int listed(char (*names)[GPF_ISO_NAME_MAX], int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return 1;
    return 0;
}

static void add_missing(gpf_iso_plan *p, const char *name)
{
    if (p->nmissing < GPF_ISO_MAX_NODES && !listed(p->missing, p->nmissing, name))
        gpf_strlcpy(p->missing[p->nmissing++], name, GPF_ISO_NAME_MAX);
}

/* The node /dev/<name>: bound when it exists under root, else listed as missing. */
static int want_node(gpf_iso_plan *p, const char *root, const char *name, gpf_error *err)
{
    char rel[GPF_ISO_NAME_MAX + 8], path[GPF_ISO_PATH_MAX];
    struct stat st;
    snprintf(rel, sizeof rel, "/dev/%s", name);
    if (under_root(path, sizeof path, root, rel) != 0)
        return gpf_error_set(err, GPF_EINVAL, "device root '%.80s' is too long", root);
    for (int i = 0; i < p->nnodes; i++)
        if (!strcmp(p->nodes[i].name, name))
            return 0;
    if (stat(path, &st) != 0 || S_ISDIR(st.st_mode) || p->nnodes == GPF_ISO_MAX_NODES) {
        add_missing(p, name);
        return 0;
    }
    gpf_iso_node *n = &p->nodes[p->nnodes++];
    gpf_strlcpy(n->name, name, sizeof n->name);
    gpf_strlcpy(n->host_path, path, sizeof n->host_path);
    return 0;
}

/* Index in facts->host.gpus of placement GPU i (by UUID when the placement has one), or -1. */
static int placement_gpu(const gpf_host_facts *f, const gpf_placement *pl, int i)
{
    for (int g = 0; f && g < f->host.ngpus && g < GPF_MAX_HOST_GPUS; g++)
        if (pl->gpu_uuids[i][0] ? !strcmp(f->host.gpus[g].uuid, pl->gpu_uuids[i])
                                : f->host.gpus[g].index == pl->gpu_index[i])
            return g;
    return -1;
}

/* The GPU's /dev/nvidia<minor> number: from discovery, else from the driver's
 * /proc/driver/nvidia/gpus/<bus id>/information ("Device Minor: N"); -1 unknown. */
static int gpu_minor(const gpf_host_facts *f, int g, const char *root)
{
    if (f->live[g].minor >= 0)
        return f->live[g].minor;
    /* NVML writes the bus id with an 8-digit domain ("00000000:18:00.0"); the driver's
     * directory has 4 digits and lower case ("0000:18:00.0"). */
    const char *bus = f->host.gpus[g].pci_bus_id;
    char rel[128], norm[32];
    const char *colon = strchr(bus, ':');
    if (!colon || colon - bus < 4)
        return -1;
    gpf_strlcpy(norm, colon - 4, sizeof norm);
    for (char *c = norm; *c; c++)
        if (*c >= 'A' && *c <= 'F')
            *c = (char)(*c - 'A' + 'a');
    snprintf(rel, sizeof rel, "/proc/driver/nvidia/gpus/%s/information", norm);
    return read_keyed_int(root, rel, "Device Minor:");
}

/* 1 when the comma-separated list holds id. */
static int ids_have(const char *list, const char *id)
{
    size_t n = strlen(id);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && !strncmp(p, id, n))
            return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

/* The MIG device of the placement on GPU g: by the id the pod sees, else by placement
 * (start and size, and GPU-instance profile where both sides know it). */
static const gpf_gpu_mig_dev *find_mig(const gpf_gpu_live *l, const gpf_placement *pl, const char *device_ids)
{
    for (int k = 0; device_ids && k < l->nmig; k++)
        if (l->mig[k].uuid[0] && ids_have(device_ids, l->mig[k].uuid))
            return &l->mig[k];
    for (int k = 0; k < l->nmig; k++) {
        const gpf_gpu_mig_dev *m = &l->mig[k];
        if (m->start == pl->mig_start && m->size == pl->mig_size &&
            (m->gi_profile_id < 0 || pl->mig_profile_id < 0 || m->gi_profile_id == pl->mig_profile_id))
            return m;
    }
    return NULL;
}

/* The MIG capability nodes of a MIG device: nvidia-caps/nvidia-cap<N> for its GPU
 * instance and its compute instance. */
static int want_mig_caps(gpf_iso_plan *p, const char *root, int minor, const gpf_gpu_mig_dev *m, gpf_error *err)
{
    char rel[160], name[GPF_ISO_NAME_MAX];
    int rc = 0;
    for (int level = 0; level < 2 && rc == 0; level++) {
        if (level == 0)
            snprintf(rel, sizeof rel, "/proc/driver/nvidia/capabilities/gpu%d/mig/gi%d/access", minor, m->gi_id);
        else
            snprintf(rel, sizeof rel, "/proc/driver/nvidia/capabilities/gpu%d/mig/gi%d/ci%d/access", minor, m->gi_id,
                     m->ci_id);
        int cap = m->gi_id < 0 || (level == 1 && m->ci_id < 0) ? -1 : read_keyed_int(root, rel, "DeviceFileMinor:");
        if (cap < 0) {
            if (level == 0)
                snprintf(name, sizeof name, "nvidia-cap(gi%d)", m->gi_id);
            else
                snprintf(name, sizeof name, "nvidia-cap(gi%d/ci%d)", m->gi_id, m->ci_id);
            add_missing(p, name);
            continue;
        }
        snprintf(name, sizeof name, "nvidia-caps/nvidia-cap%d", cap);
        rc = want_node(p, root, name, err);
    }
    return rc;
}

static int plan_devices(const gpf_iso_input *in, gpf_iso_plan *p, gpf_error *err)
{
    const gpf_placement *pl = in->placement;
    char name[GPF_ISO_NAME_MAX];
    int rc = 0;
    for (int i = 0; i < pl->ngpus && rc == 0; i++) {
        int g = placement_gpu(in->facts, pl, i);
        int minor = g >= 0 ? gpu_minor(in->facts, g, in->root) : -1;
        if (minor < 0) {
            snprintf(name, sizeof name, "nvidia(gpu%d)", pl->gpu_index[i]);
            add_missing(p, name);
            p->mig_unknown |= in->kind == GPF_SLICE_MIG;
            continue;
        }
        snprintf(name, sizeof name, "nvidia%d", minor);
        if ((rc = want_node(p, in->root, name, err)) != 0 || in->kind != GPF_SLICE_MIG)
            continue;
        const gpf_gpu_mig_dev *m = find_mig(&in->facts->live[g], pl, in->device_ids);
        if (!m) {
            p->mig_unknown = 1;
            snprintf(name, sizeof name, "nvidia-cap(mig@%d)", pl->mig_start);
            add_missing(p, name);
            continue;
        }
        rc = want_mig_caps(p, in->root, minor, m, err);
    }
    static const char *const control[] = {"nvidiactl", "nvidia-uvm", "nvidia-uvm-tools"};
    for (size_t k = 0; pl->ngpus > 0 && rc == 0 && k < sizeof control / sizeof control[0]; k++)
        rc = want_node(p, in->root, control[k], err);
    return rc;
}

static int plan_cpus(const gpf_iso_input *in, gpf_iso_plan *p, gpf_error *err)
{
    uint64_t pod[GPF_SYSFS_MASK_WORDS];
    char list[96], why[40] = "";
    int have_pod = 0, node = in->placement->numa_node;
    if (in->pod_cpus && in->pod_cpus[0]) {
        if (gpf_sysfs_cpulist_mask(in->pod_cpus, pod, GPF_SYSFS_MAX_CPUS) <= 0)
            return gpf_error_set(err, GPF_EINVAL, "pod CPU set '%.60s' is not a CPU list (e.g. 0-31,64-95)",
                                 in->pod_cpus);
        have_pod = 1;
    }
    if (node < 0 || !in->sys)
        snprintf(why, sizeof why, "numa unknown");
    else if (node >= GPF_SYSFS_MAX_NUMA || in->sys->numa_cpus[node] == 0)
        snprintf(why, sizeof why, "numa %d has no CPUs", node);
    if (!why[0]) {
        int any = 0;
        for (int w = 0; w < GPF_SYSFS_MASK_WORDS; w++) {
            p->cpu_mask[w] = in->sys->numa_mask[node][w] & (have_pod ? pod[w] : ~0ULL);
            any |= p->cpu_mask[w] != 0;
        }
        if (any) {
            p->pin = 1;
            p->numa_node = node;
            gpf_iso_cpulist(p->cpu_mask, GPF_SYSFS_MAX_CPUS, list, sizeof list);
            snprintf(p->cpu_note, sizeof p->cpu_note, "cpus %s (numa %d)", list, node);
            return 0;
        }
        snprintf(why, sizeof why, "numa %d outside pod-cpus", node);
    }
    /* Not on the GPU's node: the agent's pod CPUs when it has some, else anywhere. */
    if (have_pod) {
        memcpy(p->cpu_mask, pod, sizeof pod);
        p->pin = 1;
        gpf_iso_cpulist(p->cpu_mask, GPF_SYSFS_MAX_CPUS, list, sizeof list);
        snprintf(p->cpu_note, sizeof p->cpu_note, "cpus %s (pod-cpus; %s)", list, why);
    } else {
        memset(p->cpu_mask, 0, sizeof p->cpu_mask);
        snprintf(p->cpu_note, sizeof p->cpu_note, "cpus not pinned (%s)", why);
    }
    return 0;
}

int gpf_iso_plan_make(const gpf_iso_input *in, gpf_iso_plan *out, gpf_error *err)
{
    if (!in || !in->placement || !out)
        return gpf_error_set(err, GPF_EINVAL, "isolation plan: no placement");
    memset(out, 0, sizeof *out);
    out->numa_node = -1;
    const gpf_placement *pl = in->placement;
    if (pl->ngpus < 0 || pl->ngpus > GPF_MAX_POD_GPUS)
        return gpf_error_set(err, GPF_EINVAL, "isolation plan: placement has %d GPUs", pl->ngpus);
    out->ngpus = pl->ngpus;
    gpf_iso_input fixed = *in;
    if (!fixed.root || !fixed.root[0])
        fixed.root = "/";
    /* A MIG-backed vGPU is a MIG instance of its type's profile: the pod gets that MIG
     * device's nodes, exactly as a MIG slice would, and its isolation is the hardware's. */
    if (fixed.kind == GPF_SLICE_VGPU && pl->mig_size > 0)
        fixed.kind = GPF_SLICE_MIG;
    out->kind = fixed.kind;
    int rc = plan_devices(&fixed, out, err);
    if (rc == 0)
        rc = plan_cpus(&fixed, out, err);
    return rc;
}

/* ---- text ------------------------------------------------------------------------------ */

int gpf_iso_cpulist(const uint64_t *mask, int nbits, char *out, size_t size)
{
    size_t len = 0;
    int count = 0;
    if (size)
        out[0] = '\0';
    for (int c = 0; c < nbits; c++) {
        if (!(mask[c / 64] >> (c % 64) & 1))
            continue;
        int e = c;
        while (e + 1 < nbits && (mask[(e + 1) / 64] >> ((e + 1) % 64) & 1))
            e++;
        count += e - c + 1;
        char part[32];
        int n = c == e ? snprintf(part, sizeof part, "%s%d", len ? "," : "", c)
                       : snprintf(part, sizeof part, "%s%d-%d", len ? "," : "", c, e);
        if (n > 0 && len + (size_t)n < size) {
            memcpy(out + len, part, (size_t)n + 1);
            len += (size_t)n;
        }
        c = e;
    }
    return count;
}

/* Appends s to out (size bytes, NUL-terminated); silently truncates. */
static void append(char *out, size_t size, const char *s)
{
    size_t len = strnlen(out, size);
    if (len + 1 < size)
        gpf_strlcpy(out + len, s, size - len);
}

void gpf_iso_dev_summary(const gpf_iso_plan *p, char *out, size_t size)
{
    if (!size)
        return;
    out[0] = '\0';
    if (p->ngpus == 0) {
        append(out, size, "dev none");
        return;
    }
    append(out, size, "dev ");
    for (int i = 0; i < p->nnodes; i++) {
        const char *slash = strrchr(p->nodes[i].name, '/');
        if (i)
            append(out, size, ",");
        append(out, size, slash ? slash + 1 : p->nodes[i].name);
    }
    if (p->nnodes == 0)
        append(out, size, "none");
    for (int i = 0; i < p->nmissing; i++) {
        append(out, size, i ? "," : "; missing ");
        append(out, size, p->missing[i]);
    }
}
