#!/usr/bin/env bash
# The hostile-pod attack battery. Copied into a pod (with its helper binary) and run there,
# as the pod's login user and again as pod root (sudo -n); or run directly on the host as
# root to prove that every attack works against an unsandboxed process (calibration).
#
#   bash attacks.sh [ENV_FILE]            run the battery (ENV_FILE is sourced first)
#   bash attacks.sh --build-helper OUT    compile the static helper (C source below) to OUT
#   bash attacks.sh --list                the attack names, one a line
#
# For every attack it prints exactly one line
#   ATTACK <name> blocked
#   ATTACK <name> SUCCEEDED <detail>
#   ATTACK <name> untested <why>          (no helper binary: the caller must count it as bad)
# and, between them, lines starting with "  #" saying what was tried (for the log only).
#
# Parameters (environment or ENV_FILE; every one optional: what is empty is not tried):
#   ATTACK_HELPER        the static helper binary (default: gpf-attack beside this script)
#   ATTACK_TAG           a random word: names every marker this run leaves (default: pid)
#   ATTACK_RUN           a label for this run (user, root, host): part of marker names
#   CP_PORT              the control plane's port on the host's 127.0.0.1
#   OTHER_SSH_PORT       another pod's sshd port on the host
#   HOST_ADDRS           the host's other addresses (space-separated)
#   HOST_MARKER          a host file holding a secret; HOST_MARKER_SHA: sha256 of its content
#   HOST_SHADOW_SHA      sha256 of the host's /etc/shadow
#   STATE_DIR_HINTS      host paths of the control plane's and agents' state dirs
#   AGENT_STATE          host path of this pod's agent state file
#   OTHER_DEV            device nodes of GPUs outside this pod's slice (paths, space-separated)
#   HOST_PIDS            "pid:arg ..." host processes not of this pod, each with an exact
#                        argument of its command line that identifies it (pid numbers alone
#                        could name one of the pod's own processes in its pid namespace)
#   HOST_ENV_TAG         a VAR=value those processes carry in their environment
#   HOST_PROC_ARGS       exact command-line arguments of host processes (space-separated)
#   OTHER_HOST_KEY_SHAS  sha256s of other pods' private host keys
#   OTHER_POD_FILES      paths of a file in another pod's home; OTHER_POD_FILE_SHA its sha256
#   ABSTRACT_NAME        an abstract unix socket a host process listens on
#   SNIFF_NEEDLES        strings in other parties' traffic during the run (bearer tokens...)
#   SNIFF_MS             how long to capture (default 1200)
#   CONNECT_MS           connect timeout per address (default 500)
#
# Never harmful when an attack works: files it makes are markers (removed by the caller),
# limits and sysctls are written with the value they already hold (domainname excepted:
# set to a marker and back at once), sysrq-trigger, core_pattern and friends are only
# opened for writing and never written, the kernel-module attempt passes a garbage image,
# mounts are made on the run's own directories and undone at once, a ptrace attach is a
# PTRACE_SEIZE of the caller's own sleep process, and nothing is killed (kill -0 only).
set -u

ATTACKS="read_host_file write_host_fs read_shadow state_dirs forge_agent_state host_key other_pod_files
host_procs ptrace setns_host reach_cp reach_other_pod abstract_socket raw_socket sniff mount cgroup_escape
mknod host_devices other_gpu_dev kmod sysctl sysrq sysfs_write cgroup_write userns keyctl bpf perf_events
kernel_log open_by_handle compat_abi"

helper_source() {
cat <<'EOF_HELPER_C'
/* gpf-attack: the system-call half of tests/integration/attacks.sh, built static so it
 * runs in any pod image. Each verb tries one thing, prints what happened on stdout, and
 * exits 0 when the attack worked, 1 when it was refused, 2 on bad usage. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/perf_event.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *en(int e)
{
    const char *s = strerrorname_np(e);
    return s ? s : "E?";
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int say(int ok, const char *what, int e)
{
    printf("%s: %s\n", what, ok ? "ok" : en(e));
    return ok ? 0 : 1;
}

static int addr_of(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((unsigned short)port);
        *len = sizeof *in;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((unsigned short)port);
        *len = sizeof *in6;
        return 0;
    }
    return -1;
}

/* Connects to host:port, sends send (may be empty) and reads until expect shows up:
 * 0 only when it does, so that a proxy that accepts every connection is not the target. */
static int probe(const char *host, int port, int ms, const char *expect, const char *send_)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char what[160];
    snprintf(what, sizeof what, "connect %s port %d", host, port);
    if (addr_of(host, port, &ss, &len) != 0)
        return say(0, what, EINVAL);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return say(0, what, errno);
    long long end = now_ms() + ms;
    int r = connect(fd, (struct sockaddr *)&ss, len), e = errno;
    if (r < 0 && e == EINPROGRESS) {
        struct pollfd p = {fd, POLLOUT, 0};
        r = poll(&p, 1, ms);
        if (r == 1) {
            int se = 0;
            socklen_t sl = sizeof se;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &se, &sl);
            r = se ? -1 : 0;
            e = se;
        } else {
            e = r == 0 ? ETIMEDOUT : errno;
            r = -1;
        }
    }
    if (r != 0) {
        close(fd);
        return say(0, what, e);
    }
    if (send_[0] && write(fd, send_, strlen(send_)) < 0) {
        close(fd);
        printf("%s: connected, send %s\n", what, en(errno));
        return 1;
    }
    static char buf[8192];
    size_t got = 0;
    while (got + 1 < sizeof buf && now_ms() < end) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)(end - now_ms())) != 1)
            break;
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = '\0';
        if (strstr(buf, expect)) {
            close(fd);
            printf("%s: connected, answered '%s'\n", what, expect);
            return 0;
        }
    }
    close(fd);
    printf("%s: connected, but not the target (%zu bytes, no '%s')\n", what, got, expect);
    return 1;
}

static socklen_t abstract_addr(const char *name, struct sockaddr_un *un)
{
    memset(un, 0, sizeof *un);
    un->sun_family = AF_UNIX;
    size_t n = strnlen(name, sizeof un->sun_path - 2);
    memcpy(un->sun_path + 1, name, n);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

static int connect_abstract(const char *name)
{
    struct sockaddr_un un;
    socklen_t len = abstract_addr(name, &un);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&un, len) == 0;
    int e = errno;
    if (fd >= 0)
        close(fd);
    return say(ok, "connect abstract unix socket", e);
}

static int listen_abstract(const char *name, int seconds)
{
    struct sockaddr_un un;
    socklen_t len = abstract_addr(name, &un);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&un, len) != 0 || listen(fd, 16) != 0)
        return say(0, "listen abstract", errno);
    printf("listening\n");
    fflush(stdout);
    long long end = now_ms() + seconds * 1000LL;
    while (now_ms() < end) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 200) == 1) {
            int c = accept(fd, NULL, NULL);
            if (c >= 0)
                close(c);
        }
    }
    return 0;
}

static int rawsock(void)
{
    static const struct { int fam, type, proto; const char *what; } t[] = {
        {AF_PACKET, SOCK_RAW, 0x0300 /* htons(ETH_P_ALL) */, "socket(AF_PACKET, SOCK_RAW)"},
        {AF_INET, SOCK_RAW, IPPROTO_ICMP, "socket(AF_INET, SOCK_RAW, ICMP)"},
        {AF_INET, SOCK_RAW, IPPROTO_RAW, "socket(AF_INET, SOCK_RAW, RAW)"},
        {AF_INET6, SOCK_RAW, IPPROTO_ICMPV6, "socket(AF_INET6, SOCK_RAW, ICMPV6)"},
    };
    int any = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int fd = socket(t[i].fam, t[i].type, t[i].proto);
        if (say(fd >= 0, t[i].what, errno) == 0) {
            any = 1;
            close(fd);
        }
    }
    return any ? 0 : 1;
}

static int sniff(int ms, int n, char **needles)
{
    int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    if (fd < 0)
        return say(0, "socket(AF_PACKET)", errno);
    struct timeval tv = {0, 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    static char buf[65536];
    long long end = now_ms() + ms;
    long packets = 0;
    while (now_ms() < end) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0)
            continue;
        packets++;
        for (int i = 0; i < n; i++)
            if (needles[i][0] && memmem(buf, (size_t)r, needles[i], strlen(needles[i]))) {
                printf("captured '%.24s...' after %ld packets\n", needles[i], packets);
                close(fd);
                return 0;
            }
    }
    close(fd);
    printf("sniffed %ld packets, no needle\n", packets);
    return 1;
}

static int do_mount(const char *kind, const char *dir, const char *arg)
{
    int r;
    char what[64];
    snprintf(what, sizeof what, "mount %s", kind);
    if (!strcmp(kind, "tmpfs"))
        r = mount("gpfattack", dir, "tmpfs", 0, "size=1m");
    else if (!strcmp(kind, "bind"))
        r = mount(arg, dir, NULL, MS_BIND, NULL);
    else if (!strcmp(kind, "cgroup2"))
        r = mount("gpfattack", dir, "cgroup2", 0, NULL);
    else if (!strcmp(kind, "cgroup"))
        r = mount("gpfattack", dir, "cgroup", 0, arg);
    else
        return 2;
    int e = errno;
    if (r == 0)
        umount2(dir, MNT_DETACH);
    return say(r == 0, what, e);
}

static int do_mknod(const char *path, const char *type, int maj, int min)
{
    mode_t m = (type[0] == 'b' ? S_IFBLK : S_IFCHR) | 0600;
    char what[160];
    snprintf(what, sizeof what, "mknod %s %d:%d", type, maj, min);
    if (mknod(path, m, makedev(maj, min)) != 0)
        return say(0, what, errno);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC), e = errno;
    char b[512];
    ssize_t n = fd >= 0 ? read(fd, b, sizeof b) : -1;
    if (fd >= 0)
        close(fd);
    unlink(path);
    printf("%s: made; open %s%s\n", what, fd >= 0 ? "ok" : en(e), fd >= 0 && n > 0 ? ", read data" : "");
    return fd >= 0 ? 0 : 1;
}

static int do_open(const char *path, int flags, const char *what)
{
    int fd = open(path, flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    int e = errno;
    if (fd >= 0)
        close(fd);
    char w[300];
    snprintf(w, sizeof w, "%s %s", what, path);
    return say(fd >= 0, w, e);
}

static int readdev(const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return say(0, path, errno);
    static char b[8192]; /* a /dev/kmsg record must fit */
    ssize_t n = read(fd, b, sizeof b);
    int e = errno;
    close(fd);
    if (n > 0) {
        printf("%s: read %zd bytes\n", path, n);
        return 0;
    }
    printf("%s: opened, read %s\n", path, n == 0 ? "nothing" : en(e));
    return 1;
}

/* Passed the capability check: anything but EPERM/EACCES (refused) and ENOSYS (no such
 * call here, or filtered). The image is garbage: the kernel never loads it. */
static int kmod(void)
{
    static const char junk[64] = "\177ELF gpufleet hostile-pod test: this is not a module";
    int any = 0;
    long r = syscall(SYS_init_module, junk, sizeof junk, "");
    int e = errno;
    int passed = r == 0 || (e != EPERM && e != EACCES && e != ENOSYS);
    printf("init_module(garbage): %s%s\n", r == 0 ? "ok" : en(e), passed ? " (capability check passed)" : "");
    any |= passed;
    int fd = (int)syscall(SYS_memfd_create, "gpfattack", 0);
    if (fd >= 0 && write(fd, junk, sizeof junk) == (ssize_t)sizeof junk) {
        r = syscall(SYS_finit_module, fd, "", 0);
        e = errno;
        passed = r == 0 || (e != EPERM && e != EACCES && e != ENOSYS);
        printf("finit_module(garbage): %s%s\n", r == 0 ? "ok" : en(e), passed ? " (capability check passed)" : "");
        any |= passed;
    } else {
        printf("memfd_create: %s\n", en(errno));
    }
    if (fd >= 0)
        close(fd);
    return any ? 0 : 1;
}

static int keyctl_attack(void)
{
    long id = syscall(SYS_add_key, "user", "gpfattack", "x", 1, -2 /* KEY_SPEC_PROCESS_KEYRING */);
    int e = errno;
    if (id >= 0)
        syscall(SYS_keyctl, 21 /* KEYCTL_INVALIDATE */, id);
    return say(id >= 0, "add_key(user)", e);
}

/* The other system-call entry paths of an x86-64 kernel: the 32-bit one (int 0x80) and
 * x32's numbers; each a way past a filter written for x86-64's numbers alone. getpid
 * through them, checked against getpid(). */
static int compat_attack(void)
{
#if defined(__x86_64__)
    long r32 = -1, rx32 = -1;
    __asm__ volatile("int $0x80" : "=a"(r32) : "a"(20L /* i386 getpid */) : "memory");
    rx32 = syscall(0x40000000L | 39 /* x32 getpid */);
    int e = errno;
    long pid = (long)getpid();
    printf("i386 getpid via int 0x80: %s\n", r32 == pid ? "ok" : en((int)(r32 < 0 ? -r32 : EIO)));
    printf("x32 getpid: %s\n", rx32 == pid ? "ok" : en(e));
    return r32 == pid || rx32 == pid ? 0 : 1;
#else
    printf("no 32-bit entry path on this architecture: not applicable\n");
    return 1;
#endif
}

static int bpf_attack(void)
{
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_type = BPF_MAP_TYPE_ARRAY;
    a.key_size = 4;
    a.value_size = 4;
    a.max_entries = 1;
    int fd = (int)syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof a), e = errno;
    if (fd >= 0)
        close(fd);
    return say(fd >= 0, "bpf(BPF_MAP_CREATE)", e);
}

static int perf_attack(void)
{
    struct perf_event_attr pa;
    memset(&pa, 0, sizeof pa);
    pa.size = sizeof pa;
    pa.type = PERF_TYPE_SOFTWARE;
    pa.config = PERF_COUNT_SW_CPU_CLOCK;
    pa.disabled = 1;
    int fd = (int)syscall(SYS_perf_event_open, &pa, -1, 0, -1, 0), e = errno; /* every task on CPU 0 */
    if (fd >= 0)
        close(fd);
    return say(fd >= 0, "perf_event_open(system-wide, cpu 0)", e);
}

static int syslog_attack(void)
{
    static char buf[4096];
    int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof buf), e = errno;
    return say(n >= 0, "syslog(READ_ALL)", e);
}

static int ptrace_attack(int pid)
{
    long r = ptrace(PTRACE_SEIZE, pid, 0, 0); /* no stop; detached when this process exits */
    return say(r == 0, "ptrace(PTRACE_SEIZE)", errno);
}

static int in_child(int (*fn)(const void *), const void *arg)
{
    pid_t c = fork();
    if (c < 0)
        return errno;
    if (c == 0)
        _exit(fn(arg));
    int st = 0;
    waitpid(c, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : EINTR;
}

static int unshare_fn(const void *arg)
{
    return unshare(*(const int *)arg) == 0 ? 0 : errno;
}

static int unshare_attack(void)
{
    static const struct { int flags; const char *what; } t[] = {
        {CLONE_NEWUSER, "unshare(CLONE_NEWUSER)"},
        {CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS, "unshare(CLONE_NEWUSER|NEWNET|NEWNS)"},
        {CLONE_NEWNS, "unshare(CLONE_NEWNS)"},
        {CLONE_NEWNET, "unshare(CLONE_NEWNET)"},
    };
    int any = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int e = in_child(unshare_fn, &t[i].flags);
        any |= say(e == 0, t[i].what, e) == 0;
    }
    return any ? 0 : 1;
}

static int setns_pid;
static int setns_fn(const void *arg)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/ns/%s", setns_pid, (const char *)arg);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    return setns(fd, 0) == 0 ? 0 : errno;
}

static int setns_attack(int pid)
{
    static const char *const ns[] = {"mnt", "net", "pid", "uts", "ipc"};
    int any = 0;
    setns_pid = pid;
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        char w[64];
        snprintf(w, sizeof w, "setns(%s of pid %d)", ns[i], pid);
        int e = in_child(setns_fn, ns[i]);
        any |= say(e == 0, w, e) == 0;
    }
    return any ? 0 : 1;
}

/* open_by_handle_at needs CAP_DAC_READ_SEARCH (the "shocker" escape): a handle taken
 * from the file itself, and the root inode (2) of an ext4 file system behind it. */
static int handle_attack(void)
{
    static const char *const paths[] = {"/", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf"};
    struct { struct file_handle fh; unsigned char buf[128]; } h;
    int any = 0;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        int mfd = open(paths[i], O_RDONLY | O_CLOEXEC);
        if (mfd < 0)
            continue;
        int mid = 0;
        char w[128];
        h.fh.handle_bytes = sizeof h.buf;
        if (name_to_handle_at(AT_FDCWD, paths[i], &h.fh, &mid, 0) == 0) {
            int fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_CLOEXEC), e = errno;
            snprintf(w, sizeof w, "open_by_handle_at(handle of %s)", paths[i]);
            any |= say(fd >= 0, w, e) == 0;
            if (fd >= 0)
                close(fd);
        }
        unsigned int ino_gen[2] = {2, 0};
        h.fh.handle_bytes = 8;
        h.fh.handle_type = 1; /* FILEID_INO32_GEN */
        memcpy(h.fh.f_handle, ino_gen, sizeof ino_gen);
        int fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_CLOEXEC), e = errno;
        snprintf(w, sizeof w, "open_by_handle_at(inode 2 behind %s)", paths[i]);
        any |= say(fd >= 0, w, e) == 0;
        if (fd >= 0)
            close(fd);
        close(mfd);
    }
    return any ? 0 : 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *v = argc > 1 ? argv[1] : "";
    if (!strcmp(v, "probe") && (argc == 6 || argc == 7))
        return probe(argv[2], atoi(argv[3]), atoi(argv[4]), argv[5], argc == 7 ? argv[6] : "");
    if (!strcmp(v, "connect-abstract") && argc == 3)
        return connect_abstract(argv[2]);
    if (!strcmp(v, "listen-abstract") && argc == 4)
        return listen_abstract(argv[2], atoi(argv[3]));
    if (!strcmp(v, "rawsock"))
        return rawsock();
    if (!strcmp(v, "sniff") && argc >= 4)
        return sniff(atoi(argv[2]), argc - 3, argv + 3);
    if (!strcmp(v, "mount") && argc >= 4)
        return do_mount(argv[2], argv[3], argc > 4 ? argv[4] : "");
    if (!strcmp(v, "mknod") && argc == 6)
        return do_mknod(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]));
    if (!strcmp(v, "openr") && argc == 3)
        return do_open(argv[2], O_RDONLY, "open(O_RDONLY)");
    if (!strcmp(v, "openw") && argc == 3)
        return do_open(argv[2], O_WRONLY, "open(O_WRONLY), nothing written,");
    if (!strcmp(v, "readdev") && argc == 3)
        return readdev(argv[2]);
    if (!strcmp(v, "kmod"))
        return kmod();
    if (!strcmp(v, "keyctl"))
        return keyctl_attack();
    if (!strcmp(v, "bpf"))
        return bpf_attack();
    if (!strcmp(v, "compat"))
        return compat_attack();
    if (!strcmp(v, "perf"))
        return perf_attack();
    if (!strcmp(v, "syslog"))
        return syslog_attack();
    if (!strcmp(v, "ptrace") && argc == 3)
        return ptrace_attack(atoi(argv[2]));
    if (!strcmp(v, "setns") && argc == 3)
        return setns_attack(atoi(argv[2]));
    if (!strcmp(v, "unshare"))
        return unshare_attack();
    if (!strcmp(v, "handle"))
        return handle_attack();
    fprintf(stderr, "gpf-attack: bad usage\n");
    return 2;
}
EOF_HELPER_C
}

case "${1:-}" in
  --build-helper)
    out=${2:?usage: attacks.sh --build-helper OUT}
    src=$(mktemp /tmp/gpf-attack.XXXXXX.c) || exit 1
    helper_source >"$src"
    cc -O1 -static -o "$out" "$src"; rc=$?
    rm -f "$src"
    exit $rc ;;
  --list) printf '%s\n' $ATTACKS; exit 0 ;;
esac
if [ $# -ge 1 ] && [ -n "$1" ]; then
  # shellcheck disable=SC1090
  . "$1" || { echo "attacks.sh: cannot read $1" >&2; exit 2; }
fi

HELPER=${ATTACK_HELPER:-$(dirname "$0")/gpf-attack}
[ -x "$HELPER" ] || HELPER=""
TAG=${ATTACK_TAG:-p$$}
RUN=${ATTACK_RUN:-$(id -u)}
MARK="gpf-attack-marker-$TAG-$RUN"
CONNECT_MS=${CONNECT_MS:-500}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpf-attacks.XXXXXX") || { echo "attacks.sh: no work dir" >&2; exit 2; }
BGPIDS=""
trap 'for p in $BGPIDS; do kill "$p" 2>/dev/null; done; rm -rf "$WORK" 2>/dev/null' EXIT

CUR="" HITS="" UNTESTED=""
note() { echo "  # $CUR: $*"; }
hit() { HITS="${HITS:+$HITS; }$*"; }
# h VERB ARGS...: runs the helper (its words go to the log); its status.
h() {
  if [ -z "$HELPER" ]; then UNTESTED="no helper binary (ATTACK_HELPER)"; return 3; fi
  local out rc
  out=$(timeout 15 "$HELPER" "$@" 2>&1); rc=$?
  note "$(printf '%s' "$out" | tr '\n' ';' | cut -c1-400)"
  LAST=$(printf '%s' "$out" | tr '\n' ' ')
  return $rc
}
sha() { timeout 3 sha256sum "$1" 2>/dev/null | cut -d' ' -f1; }
# run NAME: runs attack_NAME and prints its one line.
run() {
  CUR=$1 HITS="" UNTESTED=""
  "attack_$1"
  if [ -n "$HITS" ]; then echo "ATTACK $1 SUCCEEDED $HITS"
  elif [ -n "$UNTESTED" ]; then echo "ATTACK $1 untested $UNTESTED"
  else echo "ATTACK $1 blocked"; fi
}
# Host-only directories: the state dirs and the test's own directory (never in a pod).
host_dirs() {
  local d
  for d in ${STATE_DIR_HINTS:-}; do echo "$d"; done
  [ -n "${HOST_MARKER:-}" ] && dirname "$HOST_MARKER"
}
host_dirs_once() { host_dirs | awk 'NF && !seen[$0]++'; }
# The pids of HOST_PIDS this process can see as the process they are (their exact argument).
visible_host_pids() {
  local e pid arg
  for e in ${HOST_PIDS:-}; do
    pid=${e%%:*} arg=${e#*:}
    [ -r "/proc/$pid/cmdline" ] || continue
    tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$arg" && echo "$pid"
  done
}

attack_read_host_file() {
  [ -n "${HOST_MARKER:-}" ] || return
  local p s pid
  for p in "$HOST_MARKER" "/proc/1/root$HOST_MARKER" "/proc/self/root$HOST_MARKER" \
           $(for pid in $(visible_host_pids); do echo "/proc/$pid/root$HOST_MARKER"; done); do
    s=$(sha "$p")
    if [ -n "$s" ] && { [ -z "${HOST_MARKER_SHA:-}" ] || [ "$s" = "$HOST_MARKER_SHA" ]; }; then hit "read $p"
    else note "cannot read $p"; fi
  done
}

attack_write_host_fs() {
  local d
  for d in $(host_dirs_once); do
    for p in "$d" "/proc/1/root$d"; do
      if [ -d "$p" ] && (printf 'written by attacks.sh run %s\n' "$RUN" >"$p/$MARK") 2>/dev/null; then
        hit "created $p/$MARK"
      else note "cannot create a file in $p"; fi
    done
  done
  # Whether these are the host's is for the caller to see from the host afterwards.
  for d in /tmp /var/tmp /root /dev/shm /proc/1/root/tmp; do
    if [ -d "$d" ] && (printf 'written by attacks.sh run %s\n' "$RUN" >"$d/$MARK") 2>/dev/null; then
      note "created $d/$MARK (host checks whether it is the host's)"
    fi
  done
  # A setuid file where the host might see it as root's (the caller checks its owner there).
  if [ "$(id -u)" = 0 ]; then
    for d in "${HOME:-/root}" /tmp; do
      if cp /bin/true "$d/gpf-attack-suid-$TAG-$RUN" 2>/dev/null && chmod 4755 "$d/gpf-attack-suid-$TAG-$RUN" 2>/dev/null; then
        note "planted setuid $d/gpf-attack-suid-$TAG-$RUN (host checks its owner)"
      fi
    done
  fi
}

attack_read_shadow() {
  [ -n "${HOST_SHADOW_SHA:-}" ] || { note "no HOST_SHADOW_SHA to compare with"; return; }
  local p s pid
  for p in /etc/shadow /proc/1/root/etc/shadow $(for pid in $(visible_host_pids); do echo "/proc/$pid/root/etc/shadow"; done); do
    s=$(sha "$p")
    if [ "$s" = "$HOST_SHADOW_SHA" ]; then hit "read the host's $p"
    elif [ -n "$s" ]; then note "read $p: not the host's"
    else note "cannot read $p"; fi
  done
}

attack_state_dirs() {
  local d p f n
  for d in ${STATE_DIR_HINTS:-}; do
    for p in "$d" "/proc/1/root$d"; do
      n=$(ls -A "$p" 2>/dev/null | wc -l)
      if [ "$n" -gt 0 ]; then hit "listed $p ($n entries)"; else note "cannot list $p"; fi
      for f in "$p"/*.db "$p"/*.sqlite* "$p"/pods/*/state "$p"/*; do
        [ -f "$f" ] || continue
        if head -c 16 "$f" >/dev/null 2>&1; then hit "read $f"; break; fi
      done
    done
  done
}

attack_forge_agent_state() {
  [ -n "${AGENT_STATE:-}" ] || return
  local p
  for p in "$AGENT_STATE" "/proc/1/root$AGENT_STATE"; do
    h openw "$p" && hit "opened $p for writing"
  done
  [ -r "$AGENT_STATE" ] && hit "read $AGENT_STATE"
}

attack_host_key() {
  local roots="" d f s
  for d in $(host_dirs_once); do roots="$roots $d /proc/1/root$d"; done
  roots="$roots /etc/ssh /run /tmp /var/lib /home /root /srv"
  # shellcheck disable=SC2086
  timeout 4 find $roots -maxdepth 6 -name 'ssh_host_*_key' -type f 2>/dev/null | head -200 >"$WORK/keys"
  note "$(wc -l <"$WORK/keys") private host key files found"
  for f in $(cat "$WORK/keys"); do
    s=$(sha "$f")
    [ -n "$s" ] || continue
    if [ -n "${OTHER_HOST_KEY_SHAS:-}" ]; then
      case " $OTHER_HOST_KEY_SHAS " in *" $s "*) hit "read another pod's host key $f" ;; esac
    else
      case "$f" in /etc/ssh/*) ;; *) hit "read host key $f" ;; esac
    fi
  done
}

attack_other_pod_files() {
  local f p s
  for f in ${OTHER_POD_FILES:-}; do
    for p in "$f" "/proc/1/root$f"; do
      s=$(sha "$p")
      if [ -n "$s" ] && { [ -z "${OTHER_POD_FILE_SHA:-}" ] || [ "$s" = "$OTHER_POD_FILE_SHA" ]; }; then hit "read $p"
      else note "cannot read $p"; fi
    done
  done
  [ -d /home ] && note "/home holds: $(ls -A /home 2>/dev/null | tr '\n' ' ')"
}

attack_host_procs() {
  local n pf="$WORK/procargs" m e pid arg
  n=$(ls -d /proc/[0-9]* 2>/dev/null | wc -l)
  note "sees $n processes"
  if [ -n "${HOST_PROC_ARGS:-}" ]; then
    printf '%s\n' ${HOST_PROC_ARGS} >"$pf"
    m=$(grep -lzxF -f "$pf" /proc/[0-9]*/cmdline 2>/dev/null | head -5 | tr '\n' ' ')
    [ -n "$m" ] && hit "sees host processes: $m"
  fi
  for e in ${HOST_PIDS:-}; do
    pid=${e%%:*} arg=${e#*:}
    if [ -r "/proc/$pid/cmdline" ] && tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF -- "$arg"; then
      hit "sees pid $pid ($arg)"
      kill -0 "$pid" 2>/dev/null && hit "may signal pid $pid (kill -0)"
    else note "pid $pid is not the host's $arg here"; fi
  done
}

attack_ptrace() {
  local pid any=0
  for pid in $(visible_host_pids); do
    any=1
    if [ -n "${HOST_ENV_TAG:-}" ] && tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF -- "$HOST_ENV_TAG"; then
      hit "read /proc/$pid/environ"
    fi
    h ptrace "$pid" && hit "ptrace-attached pid $pid"
    if command -v strace >/dev/null 2>&1; then
      timeout 1 strace -qq -e trace=none -p "$pid" >/dev/null 2>"$WORK/strace.err"
      if [ $? = 124 ]; then hit "strace -p $pid attached"; else note "strace: $(head -c 120 "$WORK/strace.err" | tr '\n' ' ')"; fi
    fi
  done
  [ $any = 0 ] && note "no host process visible to attach to"
}

attack_setns_host() {
  local pid any=0
  for pid in $(visible_host_pids); do
    any=1
    h setns "$pid" && hit "joined namespaces of pid $pid"
  done
  [ $any = 0 ] && note "no host process visible"
  if command -v nsenter >/dev/null 2>&1 && timeout 2 nsenter -t 1 -m -u -n -i true 2>/dev/null; then
    note "nsenter -t 1 works (pid 1 may be the pod's own)"
  fi
}

# reach PORT EXPECT [SEND]: connects to PORT on loopback, the host's addresses and slirp's
# gateway, and counts it only when the target answers as itself (EXPECT).
reach() {
  local a port=$1 expect=$2 send=${3:-}
  [ -n "$port" ] || return
  for a in 127.0.0.1 ::1 ${HOST_ADDRS:-} 10.0.2.2; do
    if [ -n "$HELPER" ]; then
      h probe "$a" "$port" "$CONNECT_MS" "$expect" "$send" && hit "reached $a:$port"
    elif timeout 2 bash -c "exec 3<>/dev/tcp/$a/$port; printf '%s' \"\$1\" >&3; timeout 1 cat <&3" _ "$send" 2>/dev/null | grep -qF -- "$expect"; then
      hit "reached $a:$port"
    fi
  done
}
attack_reach_cp() { reach "${CP_PORT:-}" '"version"' $'GET /healthz HTTP/1.0\r\n\r\n'; }
attack_reach_other_pod() { reach "${OTHER_SSH_PORT:-}" 'SSH-2.0-'; }

attack_abstract_socket() {
  [ -n "${ABSTRACT_NAME:-}" ] || return
  h connect-abstract "$ABSTRACT_NAME" && hit "connected to the host's abstract socket @$ABSTRACT_NAME"
}

attack_raw_socket() { h rawsock && hit "$LAST"; }

attack_sniff() {
  [ -n "${SNIFF_NEEDLES:-}" ] || return
  # shellcheck disable=SC2086
  h sniff "${SNIFF_MS:-1200}" $SNIFF_NEEDLES && hit "$LAST"
}

attack_mount() {
  mkdir -p "$WORK/m1" "$WORK/m2" "$WORK/m3" "$WORK/src"
  h mount tmpfs "$WORK/m1" && hit "mounted a tmpfs"
  h mount bind "$WORK/m2" "$WORK/src" && hit "bind-mounted"
  if command -v mount >/dev/null 2>&1 && mount -t tmpfs gpfattack "$WORK/m3" 2>/dev/null; then
    umount -l "$WORK/m3" 2>/dev/null
    hit "mount -t tmpfs"
  fi
}

attack_cgroup_escape() {
  mkdir -p "$WORK/cg2" "$WORK/cg1"
  h mount cgroup2 "$WORK/cg2" && hit "mounted cgroup2"
  h mount cgroup "$WORK/cg1" memory && hit "mounted the cgroup v1 memory hierarchy"
}

# The host's whole disks from /proc/partitions (not namespaced): "major minor name" lines.
disks() {
  awk 'NR > 2 && ($4 ~ /^(sd|vd|xvd|hd)[a-z]+$/ || $4 ~ /^(nvme[0-9]+n[0-9]+|mmcblk[0-9]+)$/) { print $1, $2, $4 }' /proc/partitions 2>/dev/null | head -4
}

attack_mknod() {
  local o disk
  h mknod "$WORK/null" c 1 3 && hit "made and opened c 1:3"
  for o in ${OTHER_DEV:-}; do
    case "$o" in */nvidia[0-9]*) h mknod "$WORK/gpu" c 195 "${o##*/nvidia}" && hit "made and opened nvidia${o##*/nvidia}"; break ;; esac
  done
  disk=$(disks | head -1 | cut -d' ' -f1,2)
  if [ -n "$disk" ]; then
    # shellcheck disable=SC2086
    h mknod "$WORK/disk" b $disk && hit "made and opened the host disk b ${disk/ /:}"
  fi
}

attack_host_devices() {
  local d
  for d in /proc/kcore /dev/mem $(disks | awk '{ print "/dev/" $3 }'); do
    [ -e "$d" ] || { note "no $d"; continue; }
    h readdev "$d" && hit "read $d"
  done
}

attack_other_gpu_dev() {
  local o p
  for o in ${OTHER_DEV:-}; do
    for p in "$o" "/proc/1/root$o"; do
      [ -e "$p" ] || { note "no $p"; continue; }
      if [ -n "$HELPER" ]; then h openr "$p" && hit "opened $p"
      elif (: <"$p") 2>/dev/null; then hit "opened $p"; fi
    done
  done
}

attack_kmod() { h kmod && hit "$LAST"; }

attack_sysctl() {
  local f=/proc/sys/kernel/domainname old new
  if old=$(cat "$f" 2>/dev/null); then
    if (printf '%s' "gpfh-$TAG" >"$f") 2>/dev/null; then
      new=$(cat "$f" 2>/dev/null)
      (printf '%s' "$old" >"$f") 2>/dev/null
      [ "$new" = "gpfh-$TAG" ] && hit "set kernel.domainname (restored to '$old')"
    else note "cannot write $f"; fi
  fi
  f=/proc/sys/net/ipv4/ip_forward
  if old=$(cat "$f" 2>/dev/null) && [ -n "$old" ]; then
    if (printf '%s\n' "$old" >"$f") 2>/dev/null; then hit "wrote net.ipv4.ip_forward (its own value, $old)"
    else note "cannot write $f"; fi
  fi
  for f in /proc/sys/kernel/core_pattern /proc/sys/kernel/modprobe /proc/sys/vm/drop_caches /proc/sys/kernel/panic; do
    [ -e "$f" ] || continue
    h openw "$f" && hit "$f is writable"
  done
}

attack_sysrq() {
  # Never written: only whether it could be.
  [ -e /proc/sysrq-trigger ] || { note "no /proc/sysrq-trigger"; return; }
  test -w /proc/sysrq-trigger && note "test -w /proc/sysrq-trigger: yes"
  h openw /proc/sysrq-trigger && hit "opened /proc/sysrq-trigger for writing"
  h openw /proc/sys/kernel/sysrq && hit "opened /proc/sys/kernel/sysrq for writing"
}

attack_sysfs_write() {
  local f
  for f in /sys/kernel/uevent_helper /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/mm/ksm/run \
           /sys/class/net/lo/mtu /sys/module/printk/parameters/time; do
    [ -e "$f" ] || continue
    h openw "$f" && hit "$f is writable"
  done
}

# The directories of this process's own cgroups, one a line (v1: one per hierarchy).
own_cgroups() {
  local ctl path c
  while IFS=: read -r _ ctl path; do
    [ -n "$path" ] || continue
    path=${path%/}
    if [ -z "$ctl" ]; then
      for c in /sys/fs/cgroup /sys/fs/cgroup/unified; do [ -d "$c$path" ] && [ -e "$c$path/cgroup.procs" ] && echo "$c$path"; done
    else
      c=${ctl#name=}
      [ -d "/sys/fs/cgroup/$c$path" ] && echo "/sys/fs/cgroup/$c$path"
      [ -d "/sys/fs/cgroup/${ctl%%,*}$path" ] && [ "${ctl%%,*}" != "$c" ] && echo "/sys/fs/cgroup/${ctl%%,*}$path"
    fi
  done </proc/self/cgroup 2>/dev/null | awk '!seen[$0]++'
}

# The root of the hierarchy that holds cgroup directory $1.
cg_root() {
  local r first
  case "$1" in
    /sys/fs/cgroup/unified/*) echo /sys/fs/cgroup/unified ;;
    *) r=${1#/sys/fs/cgroup/} first=${r%%/*}
       if [ -f /sys/fs/cgroup/cgroup.procs ]; then echo /sys/fs/cgroup; else echo "/sys/fs/cgroup/$first"; fi ;;
  esac
}

attack_cgroup_write() {
  local d f v target sp
  for d in $(own_cgroups); do
    for f in memory.max memory.high memory.limit_in_bytes cpu.max cpu.cfs_quota_us cpuset.cpus pids.max; do
      [ -f "$d/$f" ] || continue
      v=$(head -1 "$d/$f" 2>/dev/null)
      [ -n "$v" ] || continue
      if (printf '%s\n' "$v" >"$d/$f") 2>/dev/null; then hit "rewrote $d/$f ($v)"; else note "cannot write $d/$f"; fi
    done
    # Moving out: a throwaway sleep into the parent and the root of the hierarchy.
    for target in "$(dirname "$d")" "$(cg_root "$d")"; do
      [ "$target" != "$d" ] && [ -f "$target/cgroup.procs" ] || continue
      sleep 30 & sp=$!
      BGPIDS="$BGPIDS $sp"
      if (echo "$sp" >"$target/cgroup.procs") 2>/dev/null && grep -qx "$sp" "$target/cgroup.procs" 2>/dev/null; then
        hit "moved a process out to $target"
      else note "cannot move a process to $target"; fi
      kill "$sp" 2>/dev/null
    done
  done
}

attack_userns() {
  h unshare && hit "$LAST"
  if command -v unshare >/dev/null 2>&1 && timeout 2 unshare -U -r true 2>/dev/null; then hit "unshare -U -r"; fi
}

attack_keyctl() { h keyctl && hit "$LAST"; }
attack_bpf() { h bpf && hit "$LAST"; }
attack_perf_events() { h perf && hit "$LAST"; }
attack_compat_abi() { h compat && hit "$(printf '%s' "$LAST" | grep ': ok' | head -1)"; }

attack_kernel_log() {
  h syslog && hit "$LAST"
  [ -e /dev/kmsg ] && h readdev /dev/kmsg && hit "read /dev/kmsg"
}

attack_open_by_handle() { h handle && hit "$(printf '%s' "$LAST" | grep -o 'open_by_handle_at([^)]*): ok' | head -1)"; }

echo "  # attacks.sh: run $RUN as $(id -un 2>/dev/null || id -u) (uid $(id -u)), helper ${HELPER:-none}"
for a in $ATTACKS; do run "$a"; done
