/* cgroup v2 directories of the process runtime's pods (see runtime_int.h). A pod gets
 * <root>/gpufleet/pod-<id>: the cpu and memory controllers are enabled from the root down
 * to gpufleet/ where the hierarchy offers them, the pod's root process joins the cgroup
 * before it execs (gpf_rtsys_spawn_detached), so everything the pod starts is in it, and
 * the directory goes once the pod's processes are gone. Only files under root are read
 * and written, so the tests run it against a plain directory tree. */
#include "agent/runtime_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/timeutil.h"

/* 1 when the white-space separated list holds word. */
static int has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; *p;) {
        p += strspn(p, " \t\n");
        size_t len = strcspn(p, " \t\n");
        if (len == n && !strncmp(p, word, n))
            return 1;
        p += len;
    }
    return 0;
}

/* Writes s to an existing file (a cgroup interface file, which takes O_TRUNC as the
 * shell's "echo >" does); 0 or errno. */
static int write_str(const char *dir, const char *file, const char *s)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
        return ENAMETOOLONG;
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno;
    size_t len = strlen(s);
    ssize_t w;
    do
        w = write(fd, s, len);
    while (w < 0 && errno == EINTR);
    int e = w < 0 ? errno : (size_t)w != len ? EIO : 0;
    close(fd);
    return e;
}

static void read_in(const char *dir, const char *file, char *buf, size_t size)
{
    char path[PATH_MAX];
    buf[0] = '\0';
    if (snprintf(path, sizeof path, "%s/%s", dir, file) < (int)sizeof path && gpf_rtsys_read_small(path, buf, size) < 0)
        buf[0] = '\0';
}

/* Makes controller ctl available to dir's children: 1 when it is (already or now). */
static int enable(const char *dir, const char *ctl)
{
    char buf[512], cmd[32];
    read_in(dir, "cgroup.subtree_control", buf, sizeof buf);
    if (has_word(buf, ctl))
        return 1;
    snprintf(cmd, sizeof cmd, "+%s", ctl);
    return write_str(dir, "cgroup.subtree_control", cmd) == 0;
}

int gpf_rtcg_probe(const char *root, gpf_error *err)
{
    char path[PATH_MAX], ebuf[128];
    if (!root || !root[0])
        return gpf_error_set(err, GPF_EUNAVAIL, "no cgroup root configured");
    if (snprintf(path, sizeof path, "%s/cgroup.controllers", root) >= (int)sizeof path || access(path, R_OK) != 0)
        return gpf_error_set(err, GPF_EUNAVAIL, "no cgroup v2 at %.120s (no cgroup.controllers)", root);
    if (access(root, W_OK) != 0)
        return gpf_error_set(err, GPF_EUNAVAIL, "cgroup v2 at %.120s is not writable: %s", root,
                             strerror_r(errno, ebuf, sizeof ebuf));
    return 0;
}

int gpf_rtcg_path(const char *root, const char *pod_id, char *dir, size_t dsize)
{
    int n = snprintf(dir, dsize, "%s/gpufleet/pod-%s", root, pod_id);
    return n < 0 || (size_t)n >= dsize ? -1 : 0;
}

int gpf_rtcg_create(const char *root, const char *pod_id, int cpus, int64_t memory_mib, char *dir, size_t dsize,
                    char *note, size_t nsize, gpf_error *err)
{
    char top[PATH_MAX], avail[512], val[64], ebuf[128];
    gpf_buf b = {0};
    int n = snprintf(top, sizeof top, "%s/gpufleet", root);
    if (n < 0 || (size_t)n >= sizeof top || gpf_rtcg_path(root, pod_id, dir, dsize) != 0)
        return gpf_error_set(err, GPF_EINVAL, "cgroup path under %.120s is too long", root);
    read_in(root, "cgroup.controllers", avail, sizeof avail);
    int cpu = has_word(avail, "cpu") && enable(root, "cpu");
    int mem = has_word(avail, "memory") && enable(root, "memory");
    if (mkdir(top, 0755) != 0 && errno != EEXIST)
        return gpf_error_set(err, GPF_EIO, "cannot create cgroup %s: %s", top, strerror_r(errno, ebuf, sizeof ebuf));
    cpu = cpu && enable(top, "cpu");
    mem = mem && enable(top, "memory");
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return gpf_error_set(err, GPF_EIO, "cannot create cgroup %s: %s", dir, strerror_r(errno, ebuf, sizeof ebuf));
    if (cpu) {
        if (cpus > 0)
            snprintf(val, sizeof val, "%lld 100000", (long long)cpus * 100000);
        cpu = write_str(dir, "cpu.max", cpus > 0 ? val : "max 100000") == 0;
    }
    if (mem) {
        if (memory_mib > 0)
            snprintf(val, sizeof val, "%lld", (long long)memory_mib * 1024 * 1024);
        mem = write_str(dir, "memory.max", memory_mib > 0 ? val : "max") == 0;
    }
    gpf_buf_puts(&b, "cgroup v2");
    if (cpu && cpus > 0)
        gpf_buf_printf(&b, " cpu %d", cpus);
    if (mem && memory_mib > 0)
        gpf_buf_printf(&b, " mem %lldM", (long long)memory_mib);
    if (!cpu || !mem)
        gpf_buf_printf(&b, " (no %s%s%s limit)", cpu ? "" : "cpu", !cpu && !mem ? "," : "", mem ? "" : "memory");
    gpf_strlcpy(note, gpf_buf_cstr(&b), nsize);
    gpf_buf_clear(&b);
    return 0;
}

int gpf_rtcg_open_procs(const char *dir)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/cgroup.procs", dir) >= (int)sizeof path)
        return -1;
    return open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
}

int gpf_rtcg_pids(const char *dir, pid_t *pids, int max)
{
    size_t size = 65536;
    char *buf = gpf_malloc(size);
    int n = 0;
    read_in(dir, "cgroup.procs", buf, size);
    for (char *p = buf, *end = NULL; *p && n < max; p = end) {
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        if (v > 0 && v <= INT_MAX)
            pids[n++] = (pid_t)v;
    }
    gpf_free(buf);
    return n;
}

int gpf_rtcg_remove(const char *dir, int timeout_ms, gpf_error *err)
{
    char ebuf[128];
    int64_t deadline = gpf_mono_ms() + timeout_ms;
    /* A cgroup stays busy for a moment after its last member exits. */
    while (rmdir(dir) != 0) {
        if (errno == ENOENT)
            return 0;
        if (errno != EBUSY || gpf_mono_ms() >= deadline)
            return gpf_error_set(err, GPF_EIO, "cannot remove cgroup %s: %s", dir, strerror_r(errno, ebuf, sizeof ebuf));
        gpf_sleep_ms(2);
    }
    return 0;
}
