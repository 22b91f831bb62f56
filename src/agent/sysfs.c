/* Host facts from sysfs (see sysfs.h). */
#include "agent/sysfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"

/* Reads a small text file, trimmed of trailing white space; -1 when unreadable. */
static int read_text(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n;
    do
        n = read(fd, buf, size - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n < 0)
        return -1;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        n--;
    buf[n] = '\0';
    return 0;
}

static long read_long(const char *path, int base, long fallback)
{
    char buf[64], *end = NULL;
    if (read_text(path, buf, sizeof buf) != 0)
        return fallback;
    long v = strtol(buf, &end, base);
    return end && end != buf && *end == '\0' ? v : fallback;
}

/* read_long within [lo, hi]: an int field never takes a truncated value */
static int read_int(const char *path, int base, int lo, int hi, int fallback)
{
    long v = read_long(path, base, fallback);
    return v >= lo && v <= hi ? (int)v : fallback;
}

/* Far above any kernel's NR_CPUS (8192 today): a larger CPU number is not a CPU list. */
#define CPU_NUMBER_MAX ((1L << 22) - 1)

int gpf_sysfs_cpulist_mask(const char *s, uint64_t *mask, int nbits)
{
    int n = 0;
    if (!s)
        return -1;
    if (mask)
        memset(mask, 0, (size_t)(nbits + 63) / 64 * sizeof *mask);
    while (*s) {
        char *end = NULL;
        long a = strtol(s, &end, 10), b;
        if (end == s || a < 0 || a > CPU_NUMBER_MAX)
            return -1;
        b = a;
        s = end;
        if (*s == '-') {
            s++;
            b = strtol(s, &end, 10);
            if (end == s || b < a || b > CPU_NUMBER_MAX)
                return -1;
            s = end;
        }
        if (b - a + 1 > INT_MAX - n) /* a list that repeats a huge range */
            return -1;
        n += (int)(b - a + 1);
        for (long c = a; mask && c <= b && c < nbits; c++)
            mask[c / 64] |= 1ULL << (c % 64);
        if (*s == ',')
            s++;
        else if (*s)
            return -1;
    }
    return n;
}

int gpf_sysfs_cpulist_count(const char *s)
{
    return gpf_sysfs_cpulist_mask(s, NULL, 0);
}

int gpf_sysfs_link_gen(const char *speed)
{
    char *end = NULL;
    double gts = speed ? strtod(speed, &end) : 0;
    if (!speed || end == speed)
        return 0;
    static const double rate[] = {2.5, 5.0, 8.0, 16.0, 32.0, 64.0};
    for (int i = 0; i < 6; i++)
        if (gts > rate[i] * 0.9 && gts < rate[i] * 1.1)
            return i + 1;
    return 0;
}

static void path_of(char *out, size_t size, const char *root, const char *rel)
{
    size_t rl = strlen(root);
    while (rl > 1 && root[rl - 1] == '/')
        rl--;
    snprintf(out, size, "%.*s%s", (int)rl, strcmp(root, "/") == 0 ? "" : root, rel);
}

static int cmp_gpu(const void *a, const void *b)
{
    return strcmp(((const gpf_sysfs_gpu *)a)->bdf, ((const gpf_sysfs_gpu *)b)->bdf);
}

/* dir/bdf/name into p; "" (which reads as missing) when it does not fit. */
static const char *attr(char *p, size_t size, const char *dir, const char *bdf, const char *name)
{
    int n = snprintf(p, size, "%s/%s/%s", dir, bdf, name);
    if (n < 0 || (size_t)n >= size)
        p[0] = '\0';
    return p;
}

static void read_gpu(const char *dir, const char *bdf, gpf_sysfs_host *out)
{
    char p[PATH_MAX], buf[128];
    attr(p, sizeof p, dir, bdf, "vendor");
    long vendor = read_long(p, 16, -1);
    attr(p, sizeof p, dir, bdf, "class");
    long cls = read_long(p, 16, -1);
    if (vendor != 0x10de || cls < 0 || (cls >> 16) != 0x03 || out->ngpus >= GPF_SYSFS_MAX_GPUS)
        return;
    gpf_sysfs_gpu *g = &out->gpus[out->ngpus++];
    memset(g, 0, sizeof *g);
    gpf_strlcpy(g->bdf, bdf, sizeof g->bdf);
    g->vendor = (uint16_t)vendor;
    g->class_code = (uint32_t)cls;
    attr(p, sizeof p, dir, bdf, "device");
    g->device = (uint16_t)read_long(p, 16, 0);
    attr(p, sizeof p, dir, bdf, "numa_node");
    g->numa_node = read_int(p, 10, -1, GPF_SYSFS_MAX_NUMA - 1, -1);
    attr(p, sizeof p, dir, bdf, "current_link_speed");
    g->link_gen_cur = read_text(p, buf, sizeof buf) == 0 ? gpf_sysfs_link_gen(buf) : 0;
    attr(p, sizeof p, dir, bdf, "max_link_speed");
    g->link_gen_max = read_text(p, buf, sizeof buf) == 0 ? gpf_sysfs_link_gen(buf) : 0;
    attr(p, sizeof p, dir, bdf, "current_link_width");
    g->link_width_cur = read_int(p, 10, 0, 32, 0); /* PCIe links have at most 32 lanes */
    attr(p, sizeof p, dir, bdf, "max_link_width");
    g->link_width_max = read_int(p, 10, 0, 32, 0);
    attr(p, sizeof p, dir, bdf, "iommu_group");
    ssize_t n = readlink(p, buf, sizeof buf - 1);
    g->iommu_group = -1;
    if (n > 0) {
        buf[n] = '\0';
        const char *base = strrchr(buf, '/');
        char *end = NULL;
        long grp = strtol(base ? base + 1 : buf, &end, 10);
        if (end && *end == '\0' && grp >= 0 && grp <= INT_MAX)
            g->iommu_group = (int)grp;
    }
}

static int dir_has_entries(const char *path)
{
    DIR *d = opendir(path);
    int any = 0;
    if (!d)
        return 0;
    struct dirent *de;
    while (!any && (de = readdir(d)) != NULL)
        any = de->d_name[0] != '.';
    closedir(d);
    return any;
}

int gpf_sysfs_read(const char *root, gpf_sysfs_host *out, gpf_error *err)
{
    char p[PATH_MAX], buf[4096];
    memset(out, 0, sizeof *out);
    if (!root || !*root)
        root = "/";
    path_of(p, sizeof p, root, "/sys/devices/system/cpu/online");
    if (read_text(p, buf, sizeof buf) != 0)
        return gpf_error_set(err, GPF_EIO, "cannot read %s: %s", p, strerror(errno));
    out->ncpus = gpf_sysfs_cpulist_count(buf);
    if (out->ncpus <= 0)
        return gpf_error_set(err, GPF_EIO, "%s holds '%.40s', not a CPU list", p, buf);
    /* NUMA nodes with CPUs, in node order */
    for (int node = 0; node < GPF_SYSFS_MAX_NUMA; node++) {
        char rel[96];
        snprintf(rel, sizeof rel, "/sys/devices/system/node/node%d/cpulist", node);
        path_of(p, sizeof p, root, rel);
        if (read_text(p, buf, sizeof buf) != 0)
            continue;
        int n = buf[0] ? gpf_sysfs_cpulist_mask(buf, out->numa_mask[node], GPF_SYSFS_MAX_CPUS) : 0;
        if (n > 0) {
            out->numa_cpus[node] = n;
            out->numa_nodes = node + 1;
        }
    }
    path_of(p, sizeof p, root, "/sys/kernel/iommu_groups");
    out->iommu_enabled = dir_has_entries(p);
    if (!out->iommu_enabled) {
        path_of(p, sizeof p, root, "/sys/class/iommu");
        out->iommu_enabled = dir_has_entries(p);
    }
    char dir[PATH_MAX];
    path_of(dir, sizeof dir, root, "/sys/bus/pci/devices");
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL)
            if (de->d_name[0] != '.' && strlen(de->d_name) < sizeof out->gpus[0].bdf)
                read_gpu(dir, de->d_name, out);
        closedir(d);
    }
    qsort(out->gpus, (size_t)out->ngpus, sizeof out->gpus[0], cmp_gpu);
    return 0;
}
