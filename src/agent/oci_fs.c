/* A pod's root filesystem and the files the agent writes into it (see oci_fs.h). */
#include "agent/oci_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/buf.h"

#define ETC_FILE_MAX (4 << 20) /* passwd, group, shadow: a larger one is refused */
#define UID_FIRST 1000
#define UID_LAST 59999

/* ---- idmapped overlay ------------------------------------------------- */

/* A user namespace mapping 0..65535 to base..: made by a child that unshares and waits
 * while the parent writes its maps, then opened by the parent. The fd, or -1 with errno. */
static int userns_fd(uint32_t base)
{
    int p[2], fd = -1, saved = 0;
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    /* A child born in the new user namespace (clone, not fork + unshare: unshare of a user
     * namespace fails in a process with threads, as a sanitizer's runtime makes the child).
     * The child only writes, waits and exits. */
    pid_t c = (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), NULL, NULL, NULL, NULL);
    if (c < 0) {
        saved = errno;
        close(p[0]);
        close(p[1]);
        errno = saved;
        return -1;
    }
    if (c == 0) {
        char b = 'k';
        if (write(p[1], &b, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    close(p[1]);
    char b = 0, path[64], map[64];
    if (read(p[0], &b, 1) == 1 && b == 'k') {
        snprintf(map, sizeof map, "0 %u 65536\n", base);
        int ok = 1;
        static const char *const files[] = {"uid_map", "gid_map"};
        for (int i = 0; i < 2 && ok; i++) {
            snprintf(path, sizeof path, "/proc/%d/%s", (int)c, files[i]);
            int f = open(path, O_WRONLY | O_CLOEXEC);
            ok = f >= 0 && write(f, map, strlen(map)) == (ssize_t)strlen(map);
            if (!ok)
                saved = errno;
            if (f >= 0)
                close(f);
        }
        snprintf(path, sizeof path, "/proc/%d/ns/user", (int)c);
        if (ok && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            saved = errno;
    } else {
        saved = EPERM;
    }
    close(p[0]);
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
    if (fd < 0)
        errno = saved ? saved : EPERM;
    return fd;
}

/* src mounted idmapped (and read-only) at dst. 0, or -1 with errno and what in *what. */
static int idmap_mount(const char *src, const char *dst, uint32_t base, const char **what)
{
    int ns = userns_fd(base), t = -1, rc = -1, saved = 0;
    if (ns < 0) {
        *what = "user namespace";
        return -1;
    }
    t = (int)syscall(SYS_open_tree, AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (t < 0) {
        *what = "open_tree";
        goto out;
    }
    struct mount_attr a;
    memset(&a, 0, sizeof a);
    a.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV;
    a.userns_fd = (uint64_t)ns;
    if (syscall(SYS_mount_setattr, t, "", AT_EMPTY_PATH, &a, sizeof a) != 0) {
        *what = "idmapped mount (mount_setattr)";
        goto out;
    }
    if (syscall(SYS_move_mount, t, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) != 0) {
        *what = "move_mount";
        goto out;
    }
    rc = 0;
out:
    saved = errno;
    if (t >= 0)
        close(t);
    close(ns);
    errno = saved;
    return rc;
}

static int join(char *out, size_t size, const char *a, const char *b)
{
    int n = snprintf(out, size, "%s/%s", a, b);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Makes dir (mode) owned by uid:gid unless it exists (then only its owner is set). */
static int own_dir(const char *dir, mode_t mode, uid_t uid, gid_t gid)
{
    if (mkdir(dir, mode) != 0 && errno != EEXIST)
        return -1;
    struct stat st;
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return lchown(dir, uid, gid);
}

void gpf_ocifs_umount(const char *pod_dir)
{
    char p[4096];
    static const char *const order[] = {"rootfs", "lower", "log.d"};
    for (int i = 0; i < 3; i++)
        if (join(p, sizeof p, pod_dir, order[i]) == 0)
            while (umount2(p, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
                ; /* a mount stacked by an earlier run: all of them */
}

int gpf_ocifs_mount(const char *image_rootfs, const char *pod_dir, uint32_t base, gpf_error *err)
{
    char lower[4096], upper[4096], work[4096], root[4096], ebuf[128];
    gpf_buf opts = {0};
    const char *what = "";
    int rc = 0;
    if (join(lower, sizeof lower, pod_dir, "lower") || join(upper, sizeof upper, pod_dir, "upper") ||
        join(work, sizeof work, pod_dir, "work") || join(root, sizeof root, pod_dir, "rootfs"))
        return gpf_error_set(err, GPF_EINVAL, "pod directory path too long");
    if (strchr(image_rootfs, ',') || strchr(image_rootfs, ':') || strchr(pod_dir, ',') || strchr(pod_dir, ':'))
        return gpf_error_set(err, GPF_EINVAL, "paths with ',' or ':' cannot be overlay layers");
    gpf_ocifs_umount(pod_dir);
    if (own_dir(lower, 0700, 0, 0) != 0 || own_dir(root, 0755, base, base) != 0 ||
        own_dir(upper, 0755, base, base) != 0 || own_dir(work, 0700, 0, 0) != 0)
        return gpf_error_set(err, GPF_EIO, "cannot prepare the layers under %s: %s", pod_dir,
                             strerror_r(errno, ebuf, sizeof ebuf));
    if (idmap_mount(image_rootfs, lower, base, &what) != 0) {
        int e = errno;
        return gpf_error_set(err, e == EINVAL || e == ENOSYS || e == EPERM ? GPF_EUNAVAIL : GPF_EIO,
                             "cannot map the image's owners to the pod's uid range (%s: %s)", what,
                             strerror_r(e, ebuf, sizeof ebuf));
    }
    gpf_buf_printf(&opts, "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
    if (mount("overlay", root, "overlay", MS_NODEV, gpf_buf_cstr(&opts)) != 0) {
        rc = gpf_error_set(err, GPF_EIO, "cannot mount the pod's overlay at %s: %s", root,
                           strerror_r(errno, ebuf, sizeof ebuf));
        gpf_ocifs_umount(pod_dir);
    }
    gpf_buf_clear(&opts);
    return rc;
}

int gpf_ocifs_log_mount(const char *pod_dir, gpf_error *err)
{
    char d[4096], ebuf[128];
    if (join(d, sizeof d, pod_dir, "log.d") != 0)
        return gpf_error_set(err, GPF_EINVAL, "pod directory path too long");
    while (umount2(d, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
        ;
    if (own_dir(d, 0700, 0, 0) != 0 ||
        mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=" GPF_OCIFS_LOG_SIZE ",mode=0700") != 0)
        return gpf_error_set(err, GPF_EIO, "cannot mount the pod's log space at %s: %s", d,
                             strerror_r(errno, ebuf, sizeof ebuf));
    return 0;
}

int gpf_ocifs_probe(const char *dir, gpf_error *err)
{
    char mnt[4096], ebuf[128];
    const char *what = "";
    int n = snprintf(mnt, sizeof mnt, "%s/.idmap-probe.%d", dir, (int)getpid());
    if (n < 0 || (size_t)n >= sizeof mnt)
        return gpf_error_set(err, GPF_EINVAL, "path too long");
    if (mkdir(mnt, 0700) != 0 && errno != EEXIST)
        return gpf_error_set(err, GPF_EIO, "cannot create %s: %s", mnt, strerror_r(errno, ebuf, sizeof ebuf));
    int rc = 0;
    if (idmap_mount(dir, mnt, 100000, &what) != 0)
        rc = gpf_error_set(err, GPF_EUNAVAIL, "idmapped mounts unavailable under %s (%s: %s); needs Linux >= 5.19 "
                           "and ext4, xfs, btrfs or tmpfs", dir, what, strerror_r(errno, ebuf, sizeof ebuf));
    else
        umount2(mnt, MNT_DETACH);
    rmdir(mnt);
    return rc;
}

/* ---- files inside the pod's root -------------------------------------- */

static int open_in(int rootfd, const char *rel, int flags, mode_t mode)
{
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW);
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    return (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof how);
}

/* The whole file at rel into *out (NUL-terminated; "" when it does not exist). 0 or -1. */
static int slurp(int rootfd, const char *rel, char **out, size_t *len)
{
    gpf_buf b = {0};
    *out = NULL;
    *len = 0;
    int fd = open_in(rootfd, rel, O_RDONLY, 0);
    if (fd < 0) {
        if (errno != ENOENT)
            return -1;
        *out = gpf_strdup("");
        return 0;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > ETC_FILE_MAX) {
        close(fd);
        errno = EFBIG;
        return -1;
    }
    char chunk[8192];
    ssize_t r;
    while ((r = read(fd, chunk, sizeof chunk)) > 0 && b.len + (size_t)r <= ETC_FILE_MAX)
        gpf_buf_append(&b, chunk, (size_t)r);
    close(fd);
    if (r != 0) {
        gpf_buf_clear(&b);
        errno = r < 0 ? errno : EFBIG;
        return -1;
    }
    *len = b.len;
    *out = b.data ? gpf_buf_steal(&b) : gpf_strdup("");
    return 0;
}

/* Replaces <dir>/<name> (dir relative to the root) with data, atomically. */
static int replace(int rootfd, const char *dir, const char *name, const char *data, size_t len, mode_t mode,
                   uid_t uid, gid_t gid)
{
    char tmp[96];
    int dfd = open_in(rootfd, dir, O_PATH | O_DIRECTORY, 0), fd = -1, rc = -1;
    if (dfd < 0)
        return -1;
    snprintf(tmp, sizeof tmp, ".%.40s.gpufleet.%d", name, (int)getpid());
    unlinkat(dfd, tmp, 0);
    fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        goto out;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w <= 0)
            goto out;
        off += (size_t)w;
    }
    if (fchown(fd, uid, gid) != 0 || fchmod(fd, mode) != 0 || renameat(dfd, tmp, dfd, name) != 0)
        goto out;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0) {
        int e = errno;
        unlinkat(dfd, tmp, 0);
        errno = e;
    }
    close(dfd);
    return rc;
}

/* The value of field `field` (0-based, ':'-separated) of the line whose first field is name. */
static long field_of(const char *text, size_t len, const char *name, int field)
{
    size_t nl = strlen(name);
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > nl && !memcmp(p, name, nl) && p[nl] == ':') {
            const char *f = p;
            for (int k = 0; k < field && f; k++) {
                f = memchr(f, ':', (size_t)(eol - f));
                if (f)
                    f++;
            }
            if (!f || f >= eol || *f < '0' || *f > '9')
                return -1;
            long v = 0;
            for (; f < eol && *f >= '0' && *f <= '9' && v < 100000000; f++)
                v = v * 10 + (*f - '0');
            return v;
        }
        p = eol + 1;
    }
    return -1;
}

/* 1 when a line starts with "name:". */
static int has_entry(const char *text, size_t len, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = text, *end = text + len; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > nl && !memcmp(p, name, nl) && p[nl] == ':')
            return 1;
        p = eol + 1;
    }
    return 0;
}

long gpf_ocifs_passwd_uid(const char *passwd, size_t len, const char *name)
{
    return field_of(passwd, len, name, 2);
}

/* 1 when some line's field `field` is v. */
static int id_used(const char *text, size_t len, int field, long v)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        const char *f = p;
        for (int k = 0; k < field && f; k++) {
            f = memchr(f, ':', (size_t)(eol - f));
            if (f)
                f++;
        }
        if (f && f < eol && *f >= '0' && *f <= '9') {
            long x = 0;
            for (; f < eol && *f >= '0' && *f <= '9' && x < 100000000; f++)
                x = x * 10 + (*f - '0');
            if (x == v)
                return 1;
        }
        p = eol + 1;
    }
    return 0;
}

long gpf_ocifs_passwd_free_uid(const char *passwd, size_t len)
{
    for (long u = UID_FIRST; u <= UID_LAST; u++)
        if (!id_used(passwd, len, 2, u))
            return u;
    return -1;
}

/* text with "line\n" appended (a missing final newline added first). */
static char *with_line(const char *text, size_t len, const char *line, size_t *out_len)
{
    gpf_buf b = {0};
    gpf_buf_append(&b, text, len);
    if (len && text[len - 1] != '\n')
        gpf_buf_putc(&b, '\n');
    gpf_buf_puts(&b, line);
    *out_len = b.len;
    return gpf_buf_steal(&b);
}

int gpf_ocifs_write(const char *rootfs, const char *rel, const char *data, mode_t mode, uint32_t base, uint32_t uid,
                    gpf_error *err)
{
    char dir[4096], ebuf[128];
    const char *slash = strrchr(rel, '/');
    if (rel[0] != '/' || !slash || !slash[1] || (size_t)(slash - rel) >= sizeof dir)
        return gpf_error_set(err, GPF_EINVAL, "bad path %.80s", rel);
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - rel), rel);
    int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return gpf_error_set(err, GPF_EIO, "cannot open %s: %s", rootfs, strerror_r(errno, ebuf, sizeof ebuf));
    int rc = 0;
    if (replace(rootfd, dir[0] ? dir : "/", slash + 1, data, strlen(data), mode, base + uid, base + uid) != 0)
        rc = gpf_error_set(err, GPF_EIO, "cannot write %s in the pod: %s", rel, strerror_r(errno, ebuf, sizeof ebuf));
    close(rootfd);
    return rc;
}

int gpf_ocifs_setup_user(const char *rootfs, const char *owner, uint32_t base, char *login, size_t lsize,
                         uint32_t *uid, gpf_error *err)
{
    char ebuf[128], line[512], name[72];
    char *passwd = NULL, *group = NULL, *shadow = NULL, *np = NULL, *ng = NULL, *ns = NULL;
    size_t plen = 0, glen = 0, slen = 0, n = 0;
    int rc = 0, rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return gpf_error_set(err, GPF_EIO, "cannot open %s: %s", rootfs, strerror_r(errno, ebuf, sizeof ebuf));
    if (slurp(rootfd, "/etc/passwd", &passwd, &plen) || slurp(rootfd, "/etc/group", &group, &glen) ||
        slurp(rootfd, "/etc/shadow", &shadow, &slen)) {
        rc = gpf_error_set(err, GPF_EIO, "the image's /etc/passwd, group or shadow is unreadable or too large: %s",
                           strerror_r(errno, ebuf, sizeof ebuf));
        goto out;
    }
    snprintf(name, sizeof name, "%s", owner);
    long u = gpf_ocifs_passwd_uid(passwd, plen, name);
    if (u >= 0 && u < UID_FIRST) { /* a system account of the image */
        snprintf(name, sizeof name, "u-%.60s", owner);
        u = gpf_ocifs_passwd_uid(passwd, plen, name);
    }
    struct stat st;
    int has_bash = 0, bfd = open_in(rootfd, "/bin/bash", O_PATH, 0);
    if (bfd >= 0) {
        has_bash = fstat(bfd, &st) == 0 && S_ISREG(st.st_mode);
        close(bfd);
    }
    if (u < 0) {
        if ((u = gpf_ocifs_passwd_free_uid(passwd, plen)) < 0) {
            rc = gpf_error_set(err, GPF_EINVAL, "the image's /etc/passwd has no free uid in %d-%d", UID_FIRST, UID_LAST);
            goto out;
        }
        snprintf(line, sizeof line, "%s:x:%ld:%ld:%s:/home/%s:%s\n", name, u, u, owner, name,
                 has_bash ? "/bin/bash" : "/bin/sh");
        np = with_line(passwd, plen, line, &n);
        if (replace(rootfd, "/etc", "passwd", np, n, 0644, base, base) != 0)
            goto io;
    } else if (u > UID_LAST) {
        rc = gpf_error_set(err, GPF_EINVAL, "user %s has uid %ld in the image, outside the pod's range", name, u);
        goto out;
    }
    if (!has_entry(group, glen, name) && !id_used(group, glen, 2, u)) {
        snprintf(line, sizeof line, "%s:x:%ld:\n", name, u);
        ng = with_line(group, glen, line, &n);
        if (replace(rootfd, "/etc", "group", ng, n, 0644, base, base) != 0)
            goto io;
    }
    if (!has_entry(shadow, slen, name)) {
        long shadow_gid = field_of(group, glen, "shadow", 2);
        snprintf(line, sizeof line, "%s:*:19000:0:99999:7:::\n", name);
        ns = with_line(shadow, slen, line, &n);
        if (replace(rootfd, "/etc", "shadow", ns, n, 0640, base, base + (uint32_t)(shadow_gid > 0 ? shadow_gid : 0)) !=
            0)
            goto io;
    }
    int sd = open_in(rootfd, "/etc/sudoers.d", O_PATH | O_DIRECTORY, 0);
    if (sd >= 0) {
        close(sd);
        snprintf(line, sizeof line, "# written by gpufleet: the pod's owner has root inside the pod\n%s ALL=(ALL:ALL) NOPASSWD: ALL\n",
                 name);
        if (replace(rootfd, "/etc/sudoers.d", "gpufleet", line, strlen(line), 0440, base, base) != 0)
            goto io;
    }
    gpf_strlcpy(login, name, lsize);
    *uid = (uint32_t)u;
    goto out;
io:
    rc = gpf_error_set(err, GPF_EIO, "cannot write the pod user's entry into the image's /etc: %s",
                       strerror_r(errno, ebuf, sizeof ebuf));
out:
    close(rootfd);
    gpf_free(passwd);
    gpf_free(group);
    gpf_free(shadow);
    gpf_free(np);
    gpf_free(ng);
    gpf_free(ns);
    return rc;
}
