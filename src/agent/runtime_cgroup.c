/* The cgroups of the process runtime's pods (see runtime_int.h). On cgroup v2 a pod gets
 * <root>/gpufleet/pod-<id>, the cpu, memory and cpuset controllers enabled from the root
 * down to gpufleet/ where the hierarchy offers them. On cgroup v1 (a host whose <root> holds
 * one hierarchy per controller, as a hybrid host's /sys/fs/cgroup does) it gets
 * <root>/memory/gpufleet/pod-<id>, <root>/cpu/gpufleet/pod-<id> and, when it is pinned,
 * <root>/cpuset/gpufleet/pod-<id>. Either way the pod's
 * root process joins every one of them before it execs (gpf_rtsys_spawn_detached), so
 * everything the pod starts is in them, and they go once the pod's processes are gone. A
 * pod's cgroups travel as one string, their directories joined with ':'. Only files under
 * root are read and written, so the tests run it against a plain directory tree. */
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

/* The cgroup v1 hierarchies a pod joins, with the file that shows the controller is there. */
enum { V1_MEMORY, V1_CPU, V1_CPUSET };
static const struct {
    const char *ctl, *file;
} V1[GPF_RTCG_MAX] = {{"memory", "memory.limit_in_bytes"}, {"cpu", "cpu.cfs_quota_us"}, {"cpuset", "cpuset.cpus"}};

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

/* The next directory of a ':'-joined list into out; 0 at the end of the list. */
static int next_dir(const char **list, char *out, size_t size)
{
    const char *p = *list;
    while (*p == ':')
        p++;
    size_t len = strcspn(p, ":");
    if (len == 0)
        return 0;
    snprintf(out, size, "%.*s", (int)(len < size ? len : size - 1), p);
    *list = p + len;
    return 1;
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

/* 1 when root/<ctl> is a cgroup v1 hierarchy of that controller this process may write. */
static int v1_usable(const char *root, int k)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s/%s", root, V1[k].ctl, V1[k].file) >= (int)sizeof path ||
        access(path, F_OK) != 0)
        return 0;
    snprintf(path, sizeof path, "%s/%s", root, V1[k].ctl);
    return access(path, W_OK) == 0;
}

int gpf_rtcg_probe(const char *root, int *version, gpf_error *err)
{
    char path[PATH_MAX], ebuf[128];
    if (version)
        *version = 0;
    if (!root || !root[0])
        return gpf_error_set(err, GPF_EUNAVAIL, "no cgroup root configured");
    if (strchr(root, ':'))
        return gpf_error_set(err, GPF_EUNAVAIL, "cgroup root %.120s has a ':'", root);
    if (snprintf(path, sizeof path, "%s/cgroup.controllers", root) >= (int)sizeof path)
        return gpf_error_set(err, GPF_EUNAVAIL, "cgroup root path too long");
    if (access(path, R_OK) == 0) {
        if (access(root, W_OK) != 0)
            return gpf_error_set(err, GPF_EUNAVAIL, "cgroup v2 at %.120s is not writable: %s", root,
                                 strerror_r(errno, ebuf, sizeof ebuf));
        if (version)
            *version = 2;
        return 0;
    }
    if (v1_usable(root, V1_MEMORY) || v1_usable(root, V1_CPU)) {
        if (version)
            *version = 1;
        return 0;
    }
    return gpf_error_set(err, GPF_EUNAVAIL,
                         "no cgroup at %.120s (no cgroup v2 cgroup.controllers, no writable v1 memory or cpu hierarchy)",
                         root);
}

/* Appends one directory to a ':'-joined list; -1 when it does not fit. */
static int join_dir(char *dirs, size_t dsize, const char *root, const char *ctl, const char *pod_id)
{
    size_t used = strlen(dirs);
    int n = snprintf(dirs + used, dsize - used, "%s%s%s%s/gpufleet/pod-%s", used ? ":" : "", root, ctl ? "/" : "",
                     ctl ? ctl : "", pod_id);
    return n < 0 || (size_t)n >= dsize - used ? -1 : 0;
}

int gpf_rtcg_path(const char *root, int version, const char *pod_id, char *dirs, size_t dsize)
{
    if (dsize == 0)
        return -1;
    dirs[0] = '\0';
    if (version != 1)
        return join_dir(dirs, dsize, root, NULL, pod_id);
    for (int k = 0; k < GPF_RTCG_MAX; k++)
        if (join_dir(dirs, dsize, root, V1[k].ctl, pod_id) != 0)
            return -1;
    return 0;
}

/* Makes base/gpufleet and base/gpufleet/pod-<id> (dir); 0 or errno. */
static int make_dirs(const char *base, const char *dir)
{
    char top[PATH_MAX];
    if (snprintf(top, sizeof top, "%s/gpufleet", base) >= (int)sizeof top)
        return ENAMETOOLONG;
    if (mkdir(top, 0755) != 0 && errno != EEXIST)
        return errno;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return errno;
    return 0;
}

/* What the cgroups enforce into note: "cgroup v2 cpu 4 mem 16384M cpuset" (cpuset: the pod
 * cannot leave the CPUs it is pinned to), "cgroup v1 mem 512M (no cpu limit)". cpuset: the
 * pinned CPUs ("" when not pinned). */
static void describe(int version, int cpu, int cpus, int mem, int64_t memory_mib, int set, const char *cpuset,
                     char *note, size_t nsize)
{
    gpf_buf b = {0};
    const char *miss[3];
    int nmiss = 0;
    gpf_buf_printf(&b, "cgroup v%d", version);
    if (cpu && cpus > 0)
        gpf_buf_printf(&b, " cpu %d", cpus);
    if (mem && memory_mib > 0)
        gpf_buf_printf(&b, " mem %lldM", (long long)memory_mib);
    if (set && cpuset[0])
        gpf_buf_puts(&b, " cpuset");
    if (!cpu)
        miss[nmiss++] = "cpu";
    if (!mem)
        miss[nmiss++] = "memory";
    if (!set && cpuset[0])
        miss[nmiss++] = "cpuset";
    for (int i = 0; i < nmiss; i++)
        gpf_buf_printf(&b, "%s%s", i ? "," : " (no ", miss[i]);
    if (nmiss)
        gpf_buf_puts(&b, " limit)");
    gpf_strlcpy(note, gpf_buf_cstr(&b), nsize);
    gpf_buf_clear(&b);
}

static int create_v2(const char *root, const char *pod_id, int cpus, int64_t memory_mib, const char *cpuset,
                     char *dir, size_t dsize, char *note, size_t nsize, gpf_error *err)
{
    char top[PATH_MAX], avail[512], val[64], ebuf[128];
    int n = snprintf(top, sizeof top, "%s/gpufleet", root);
    if (n < 0 || (size_t)n >= sizeof top || gpf_rtcg_path(root, 2, pod_id, dir, dsize) != 0)
        return gpf_error_set(err, GPF_EINVAL, "cgroup path under %.120s is too long", root);
    read_in(root, "cgroup.controllers", avail, sizeof avail);
    int cpu = has_word(avail, "cpu") && enable(root, "cpu");
    int mem = has_word(avail, "memory") && enable(root, "memory");
    int set = cpuset[0] && has_word(avail, "cpuset") && enable(root, "cpuset");
    if (mkdir(top, 0755) != 0 && errno != EEXIST)
        return gpf_error_set(err, GPF_EIO, "cannot create cgroup %s: %s", top, strerror_r(errno, ebuf, sizeof ebuf));
    cpu = cpu && enable(top, "cpu");
    mem = mem && enable(top, "memory");
    set = set && enable(top, "cpuset");
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
    set = set && write_str(dir, "cpuset.cpus", cpuset) == 0; /* cpuset.mems stays empty: the parent's */
    describe(2, cpu, cpus, mem, memory_mib, set, cpuset, note, nsize);
    return 0;
}

/* A v1 cpuset cgroup takes no process until it has CPUs and memory nodes: gpufleet/ gets
 * its parent's where it has none yet; the pod's cgroup gets cpus and gpufleet/'s nodes.
 * 1 when the pod's cgroup is ready, else 0. */
static int v1_cpuset(const char *base, const char *dir, const char *cpus)
{
    char top[PATH_MAX], have[4096], mems[4096];
    if (snprintf(top, sizeof top, "%s/gpufleet", base) >= (int)sizeof top)
        return 0;
    for (const char *const *f = (const char *const[]){"cpuset.cpus", "cpuset.mems", NULL}; *f; f++) {
        read_in(top, *f, have, sizeof have);
        if (have[strspn(have, " \n")] != '\0')
            continue;
        read_in(base, *f, have, sizeof have);
        if (write_str(top, *f, have) != 0)
            return 0;
    }
    read_in(top, "cpuset.mems", mems, sizeof mems);
    return write_str(dir, "cpuset.mems", mems) == 0 && write_str(dir, "cpuset.cpus", cpus) == 0;
}

/* cgroup v1: a directory in each of the memory and cpu hierarchies there are, and in the
 * cpuset one when the pod is pinned; a fresh v1 memory or cpu cgroup has no limit, so only
 * a limit asked for is written. A cpuset cgroup that cannot take the pod's CPUs goes again
 * (it would refuse the pod's process). */
static int create_v1(const char *root, const char *pod_id, int cpus, int64_t memory_mib, const char *cpuset,
                     char *dirs, size_t dsize, char *note, size_t nsize, gpf_error *err)
{
    char base[PATH_MAX], dir[PATH_MAX], val[64], ebuf[128], first[PATH_MAX] = "";
    int ok[GPF_RTCG_MAX] = {0}, first_errno = 0;
    dirs[0] = '\0';
    for (int k = 0; k < GPF_RTCG_MAX; k++) {
        if (!v1_usable(root, k) || (k == V1_CPUSET && !cpuset[0]))
            continue;
        size_t mark = strlen(dirs);
        snprintf(base, sizeof base, "%s/%s", root, V1[k].ctl);
        int n = snprintf(dir, sizeof dir, "%s/gpufleet/pod-%s", base, pod_id), e = 0;
        if (n < 0 || (size_t)n >= sizeof dir || (e = make_dirs(base, dir)) == ENAMETOOLONG ||
            (!e && join_dir(dirs, dsize, root, V1[k].ctl, pod_id) != 0)) {
            if (!e)
                rmdir(dir);
            gpf_rtcg_remove(dirs, 0, NULL);
            dirs[0] = '\0';
            return gpf_error_set(err, GPF_EINVAL, "cgroup path under %.120s is too long", root);
        }
        if (e) {
            if (!first_errno) {
                first_errno = e;
                gpf_strlcpy(first, dir, sizeof first);
            }
            continue;
        }
        if (k == V1_CPUSET) {
            if (!(ok[k] = v1_cpuset(base, dir, cpuset))) {
                rmdir(dir);
                dirs[mark] = '\0'; /* not one of the pod's after all */
            }
            continue;
        }
        int want = k == V1_MEMORY ? memory_mib > 0 : cpus > 0;
        if (k == V1_MEMORY && want)
            snprintf(val, sizeof val, "%lld", (long long)memory_mib * 1024 * 1024);
        else if (want)
            snprintf(val, sizeof val, "%lld", (long long)cpus * 100000);
        ok[k] = !want || (k == V1_MEMORY ? write_str(dir, "memory.limit_in_bytes", val) == 0
                                         : write_str(dir, "cpu.cfs_period_us", "100000") == 0 &&
                                               write_str(dir, "cpu.cfs_quota_us", val) == 0);
    }
    if (!dirs[0])
        return gpf_error_set(err, GPF_EIO, "cannot create cgroup %s: %s", first[0] ? first : root,
                             first_errno ? strerror_r(first_errno, ebuf, sizeof ebuf) : "no usable hierarchy");
    describe(1, ok[V1_CPU], cpus, ok[V1_MEMORY], memory_mib, ok[V1_CPUSET], cpuset, note, nsize);
    return 0;
}

int gpf_rtcg_create(const char *root, int version, const char *pod_id, int cpus, int64_t memory_mib,
                    const char *cpuset, char *dirs, size_t dsize, char *note, size_t nsize, gpf_error *err)
{
    cpuset = cpuset ? cpuset : "";
    if (dsize == 0)
        return gpf_error_set(err, GPF_EINVAL, "no room for the cgroup path");
    dirs[0] = '\0';
    int rc = version == 1 ? create_v1(root, pod_id, cpus, memory_mib, cpuset, dirs, dsize, note, nsize, err)
                          : create_v2(root, pod_id, cpus, memory_mib, cpuset, dirs, dsize, note, nsize, err);
    if (rc != 0)
        dirs[0] = '\0';
    return rc;
}

int gpf_rtcg_open_procs(const char *dirs, int fds[GPF_RTCG_MAX])
{
    char dir[PATH_MAX], path[PATH_MAX + 16];
    int n = 0;
    for (const char *p = dirs; n < GPF_RTCG_MAX && next_dir(&p, dir, sizeof dir);) {
        snprintf(path, sizeof path, "%s/cgroup.procs", dir);
        if ((fds[n] = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
            int e = errno;
            while (n > 0)
                close(fds[--n]);
            errno = e;
            return -1;
        }
        n++;
    }
    if (n == 0)
        errno = ENOENT;
    return n > 0 ? n : -1;
}

int gpf_rtcg_pids(const char *dirs, pid_t *pids, int max)
{
    size_t size = 65536;
    char *buf = gpf_malloc(size), dir[PATH_MAX];
    int n = 0;
    for (const char *d = dirs; n < max && next_dir(&d, dir, sizeof dir);) {
        read_in(dir, "cgroup.procs", buf, size);
        for (char *p = buf, *end = NULL; *p && n < max; p = end) {
            long v = strtol(p, &end, 10);
            if (end == p)
                break;
            int seen = 0;
            for (int i = 0; i < n && !seen; i++)
                seen = pids[i] == (pid_t)v;
            if (v > 0 && v <= INT_MAX && !seen)
                pids[n++] = (pid_t)v;
        }
    }
    gpf_free(buf);
    return n;
}

int gpf_rtcg_remove(const char *dirs, int timeout_ms, gpf_error *err)
{
    char ebuf[128], dir[PATH_MAX];
    int64_t deadline = gpf_mono_ms() + timeout_ms;
    int rc = 0;
    for (const char *p = dirs; next_dir(&p, dir, sizeof dir);) {
        /* A cgroup stays busy for a moment after its last member exits. */
        while (rmdir(dir) != 0 && errno != ENOENT) {
            if (errno != EBUSY || gpf_mono_ms() >= deadline) {
                if (rc == 0)
                    rc = gpf_error_set(err, GPF_EIO, "cannot remove cgroup %s: %s", dir,
                                       strerror_r(errno, ebuf, sizeof ebuf));
                break;
            }
            gpf_sleep_ms(2);
        }
    }
    return rc;
}
