/* Operating-system helpers of the process runtime: detached spawning, /proc walking,
 * finding and killing a pod's processes, ports and the sshd banner. See runtime_int.h. */
#include "agent/runtime_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "model/ids.h"
#include "util/alloc.h"
#include "util/timeutil.h"

#define FD_FLOOR 10 /* descriptors handed to a child are first moved at or above this */

/* ---- /proc ---------------------------------------------------------- */

ssize_t gpf_rtsys_read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    while (len + 1 < size) {
        ssize_t r = read(fd, buf + len, size - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
}

int gpf_rtsys_stat_parse(const char *buf, gpf_rtsys_proc *p)
{
    /* "pid (comm) S ppid …": comm may hold spaces and parentheses; fields resume after the last ')'. */
    const char *rp = strrchr(buf, ')'), *lp = strchr(buf, '(');
    if (!rp || !lp || lp > rp)
        return -1;
    size_t clen = (size_t)(rp - lp - 1);
    if (clen >= sizeof p->comm)
        clen = sizeof p->comm - 1;
    memcpy(p->comm, lp + 1, clen);
    p->comm[clen] = '\0';
    int ppid = 0;
    char state = 0;
    unsigned long long start = 0;
    if (sscanf(rp + 1, " %c %d %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu", &state,
               &ppid, &start) != 3)
        return -1;
    p->ppid = (pid_t)ppid;
    p->state = state;
    p->start = start;
    return 0;
}

int gpf_rtsys_proc_read(pid_t pid, gpf_rtsys_proc *p)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (pid <= 0 || gpf_rtsys_read_small(path, buf, sizeof buf) <= 0)
        return -1;
    return gpf_rtsys_stat_parse(buf, p);
}

int gpf_rtsys_alive(pid_t pid, unsigned long long start)
{
    gpf_rtsys_proc p;
    if (pid <= 0 || gpf_rtsys_proc_read(pid, &p) != 0)
        return 0;
    return p.state != 'Z' && p.state != 'X' && p.start == start;
}

#define POD_KEY "GPUFLEET_POD_ID="

void gpf_rtsys_environ_pod_fd(int fd, char *out, size_t osize, char *buf, size_t size)
{
    const size_t klen = sizeof POD_KEY - 1;
    out[0] = '\0';
    size_t len = 0;
    int found = 0, skip = 0, eof = 0;
    while (!found && !eof) {
        ssize_t r = read(fd, buf + len, size - len);
        if (r < 0 && errno == EINTR)
            continue;
        eof = r <= 0;
        len += r > 0 ? (size_t)r : 0;
        /* Every complete entry in the buffer (at the end, the last one even without its
         * terminator); the incomplete tail is kept for the next read. */
        size_t off = 0;
        while (!found && off < len) {
            char *nul = memchr(buf + off, '\0', len - off);
            if (!nul && !eof)
                break;
            size_t elen = nul ? (size_t)(nul - (buf + off)) : len - off;
            if (!skip && elen >= klen && !memcmp(buf + off, POD_KEY, klen)) {
                size_t vlen = elen - klen;
                if (vlen < osize) { /* a longer one is no pod id */
                    memcpy(out, buf + off + klen, vlen);
                    out[vlen] = '\0';
                }
                found = 1;
            }
            skip = 0;
            off += elen + 1;
        }
        if (off == 0 && len == size) { /* an entry longer than the buffer: drop it */
            len = 0;
            skip = 1;
        } else if (off < len) {
            memmove(buf, buf + off, len - off);
            len -= off;
        } else {
            len = 0;
        }
    }
}

/* The value of /proc/PID/environ's GPUFLEET_POD_ID into out ("" when it has none). */
static void environ_pod(pid_t pid, char *out, size_t osize, char *buf, size_t size)
{
    char path[64];
    out[0] = '\0';
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    gpf_rtsys_environ_pod_fd(fd, out, osize, buf, size);
    close(fd);
}

typedef struct pent {
    pid_t pid, ppid;
    char state;
    unsigned long long start;
    char comm[16];
    char pod[GPF_ID_MAX];         /* its GPUFLEET_POD_ID, "" none */
    int mark;
} pent;

struct gpf_rtsys_snap {
    pent *v;
    int n;
};

/* Every process now; *n entries in a heap array. */
static pent *proc_scan(int *n)
{
    DIR *d = opendir("/proc");
    pent *v = NULL;
    int cnt = 0, cap = 0;
    char *ebuf = gpf_malloc(8192);
    *n = 0;
    if (!d)
        goto out;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char *end = NULL;
        long pid = strtol(de->d_name, &end, 10);
        if (!end || *end || pid <= 0)
            continue;
        gpf_rtsys_proc p;
        if (gpf_rtsys_proc_read((pid_t)pid, &p) != 0)
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 256;
            v = gpf_reallocarray(v, (size_t)cap, sizeof *v);
        }
        pent *e = &v[cnt++];
        e->pid = (pid_t)pid;
        e->ppid = p.ppid;
        e->state = p.state;
        e->start = p.start;
        memcpy(e->comm, p.comm, sizeof e->comm);
        e->mark = 0;
        e->pod[0] = '\0';
        if (p.state != 'Z')
            environ_pod((pid_t)pid, e->pod, sizeof e->pod, ebuf, 8192);
    }
    closedir(d);
out:
    gpf_free(ebuf);
    *n = cnt;
    return v;
}

gpf_rtsys_snap *gpf_rtsys_snap_take(void)
{
    gpf_rtsys_snap *s = GPF_NEW(gpf_rtsys_snap);
    s->v = proc_scan(&s->n);
    return s;
}

void gpf_rtsys_snap_free(gpf_rtsys_snap *s)
{
    if (!s)
        return;
    gpf_free(s->v);
    gpf_free(s);
}

/* Marks every descendant of a marked process. */
static void mark_descendants(pent *v, int n)
{
    int changed = 1;
    while (changed) {
        changed = 0;
        for (int i = 0; i < n; i++) {
            if (v[i].mark)
                continue;
            for (int j = 0; j < n; j++)
                if (v[j].mark && v[j].pid == v[i].ppid) {
                    v[i].mark = 1;
                    changed = 1;
                    break;
                }
        }
    }
}

#define CG_PIDS_MAX 4096

/* Marks the pod's processes in v (see gpf_rtsys_pod_ref). */
static void mark_pod(pent *v, int n, const gpf_rtsys_pod_ref *pod)
{
    const char *id = pod->pod_id ? pod->pod_id : "";
    pid_t *cg = NULL;
    int ncg = 0;
    if (pod->cgroup_dir && pod->cgroup_dir[0]) {
        cg = gpf_calloc(CG_PIDS_MAX, sizeof *cg);
        ncg = gpf_rtcg_pids(pod->cgroup_dir, cg, CG_PIDS_MAX);
    }
    for (int i = 0; i < n; i++) {
        v[i].mark = (id[0] && v[i].state != 'Z' && !strcmp(v[i].pod, id)) ||
                    (pod->root > 1 && v[i].pid == pod->root && v[i].start == pod->root_start);
        for (int k = 0; k < ncg && !v[i].mark; k++)
            v[i].mark = cg[k] == v[i].pid;
    }
    gpf_free(cg);
    mark_descendants(v, n);
}

int gpf_rtsys_kill_pod(const gpf_rtsys_pod_ref *pod, int timeout_ms, gpf_error *err)
{
    pid_t self = getpid();
    int64_t deadline = gpf_mono_ms() + timeout_ms;
    int rc = 0, nkilled = 0, capkilled = 0;
    pent *killed = NULL; /* everything signalled so far: it counts until it is gone */
    /* Pass 0 freezes the tree with SIGSTOP so nothing forks or gets reparented away
     * while we look; the next pass sees any child forked meanwhile under its stopped
     * parent and SIGKILLs everything at once; later passes catch stragglers. A process
     * that is exiting has already lost its environment (and maybe its parent) while it
     * still holds its sockets, so whatever was signalled is waited for by pid until it
     * is a zombie or gone. */
    for (int pass = 0;; pass++) {
        int n = 0, live = 0;
        pent *v = proc_scan(&n);
        mark_pod(v, n, pod);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < nkilled && !v[i].mark; k++)
                v[i].mark = killed[k].pid == v[i].pid && killed[k].start == v[i].start;
        pid_t first = 0;
        for (int i = 0; i < n; i++) {
            if (!v[i].mark || v[i].pid <= 1 || v[i].pid == self)
                continue;
            waitpid(v[i].pid, NULL, WNOHANG); /* reaps it when it happens to be our child */
            if (v[i].state == 'Z' || v[i].state == 'X')
                continue;
            kill(v[i].pid, pass == 0 ? SIGSTOP : SIGKILL);
            int known = 0;
            for (int k = 0; k < nkilled && !known; k++)
                known = killed[k].pid == v[i].pid && killed[k].start == v[i].start;
            if (!known) {
                if (nkilled == capkilled) {
                    capkilled = capkilled ? 2 * capkilled : 16;
                    killed = gpf_reallocarray(killed, (size_t)capkilled, sizeof *killed);
                }
                killed[nkilled++] = v[i];
            }
            if (!first)
                first = v[i].pid;
            live++;
        }
        gpf_free(v);
        if (live == 0)
            break;
        if (pass == 0)
            continue;
        if (gpf_mono_ms() >= deadline) {
            rc = gpf_error_set(err, GPF_EIO, "%d process(es) of pod %s survive SIGKILL (pid %d)", live,
                               pod->pod_id ? pod->pod_id : "?", (int)first);
            break;
        }
        gpf_sleep_ms(pass < 10 ? 1 : 5);
    }
    gpf_free(killed);
    return rc;
}

static int is_sshd(const pent *e)
{
    return !strncmp(e->comm, "sshd", 4); /* "sshd", and "sshd-session" of OpenSSH 9.8+ */
}

/* An sshd process that carries an authenticated session: OpenSSH titles it
 * "sshd: user@pts/0" or "sshd: user@notty" (one per session, whether or not a privileged
 * monitor "sshd: user [priv]" sits above it). Every title before authentication is
 * bracketed: "[accepted]", "user [priv]", "user [net]". */
int gpf_rtsys_cmdline_session(char *buf, ssize_t n)
{
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    return n > 0 && memchr(buf, '@', (size_t)n) && !memchr(buf, '[', (size_t)n);
}

static int sshd_session(pid_t pid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    return gpf_rtsys_cmdline_session(buf, gpf_rtsys_read_small(path, buf, sizeof buf));
}

void gpf_rtsys_pod_activity(const gpf_rtsys_snap *snap, const gpf_rtsys_pod_ref *pod, unsigned *pids, int max,
                            int *npids, int *sessions)
{
    int n = snap->n, stored = 0, open = 0;
    pid_t self = getpid();
    pent *v = gpf_reallocarray(NULL, (size_t)n + 1, sizeof *v);
    if (n)
        memcpy(v, snap->v, (size_t)n * sizeof *v);
    mark_pod(v, n, pod);
    for (int i = 0; i < n; i++) {
        if (!v[i].mark || v[i].pid == self || v[i].state == 'Z' || v[i].state == 'X') {
            v[i].mark = 0;
            continue;
        }
        if (stored < max)
            pids[stored++] = (unsigned)v[i].pid;
    }
    /* One sshd titled with a session per session: below the listener of an sshd -D, or
     * below the pod's init (sshd -i). */
    for (int i = 0; i < n; i++)
        open += v[i].mark && is_sshd(&v[i]) && sshd_session(v[i].pid);
    gpf_free(v);
    *npids = stored;
    *sessions = open;
}

/* ---- spawning ------------------------------------------------------- */

enum { MSG_PID = 1, MSG_FORK_ERR, MSG_EXEC_ERR, MSG_CPUS_ERR, MSG_MEM_ERR, MSG_CGROUP_ERR };

#define MPOL_PREFERRED_MODE 1 /* <linux/mempolicy.h> MPOL_PREFERRED */
typedef struct spawn_msg {
    int kind;
    int val;
} spawn_msg;

/* Moves fd at or above FD_FLOOR with close-on-exec set; returns the new fd or -1. */
static int fd_high(int fd)
{
    if (fd < 0)
        return -1;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, FD_FLOOR);
    close(fd);
    return nfd;
}

static void write_msg(int fd, int kind, int val)
{
    spawn_msg m = {kind, val};
    ssize_t r;
    do
        r = write(fd, &m, sizeof m);
    while (r < 0 && errno == EINTR);
}

/* Runs in the forked grandchild: only async-signal-safe calls from here on. It joins its
 * cgroups, pins itself and sets its memory policy before anything else, so whatever it
 * ever starts inherits all three. */
static void child_exec(char *const argv[], char *const envp[], int in_fd, int out_fd, int msg_fd, int max_fd,
                       const gpf_rtsys_spawn_opts *o, const sigset_t *empty, const struct sigaction *dfl)
{
    setsid();
    for (int i = 0; o && i < o->ncgroup_fds && i < GPF_RTCG_MAX; i++) {
        ssize_t w = write(o->cgroup_fds[i], "0", 1); /* "0": the writing process */
        if (w != 1) {
            write_msg(msg_fd, MSG_CGROUP_ERR, w < 0 ? errno : EIO);
            break;
        }
    }
    if (o && o->cpus && sched_setaffinity(0, sizeof *o->cpus, o->cpus) != 0)
        write_msg(msg_fd, MSG_CPUS_ERR, errno);
    if (o && o->mem_node >= 0) {
        /* Preferred, not bound: when the node is full the pod's memory comes from another
         * node rather than the pod being killed. maxnode counts one bit past the mask. */
        unsigned long mask = o->mem_node < (int)(8 * sizeof mask) ? 1UL << o->mem_node : 0;
        if (!mask || syscall(SYS_set_mempolicy, MPOL_PREFERRED_MODE, &mask, 8 * sizeof mask + 1) != 0)
            write_msg(msg_fd, MSG_MEM_ERR, !mask ? EINVAL : errno);
    }
    for (int s = 1; s < NSIG; s++)
        sigaction(s, dfl, NULL);
    sigprocmask(SIG_SETMASK, empty, NULL);
    /* The pass descriptor goes to 4, or to 3 when asked (runc's --preserve-fds counts
     * from 3); the close-on-exec status pipe takes the other. */
    int pass_at = o && o->pass_fd_at == 3 ? 3 : GPF_RTSYS_PASS_FD, msg_at = pass_at == 3 ? 4 : 3;
    if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0 || dup3(msg_fd, msg_at, O_CLOEXEC) < 0)
        goto fail;
    msg_fd = msg_at;
    int keep = o && o->pass_fd >= 0 ? 4 : msg_at, exec_fd = -1;
    if (o && o->pass_fd >= 0) { /* dup2 leaves the copy open across exec */
        if (dup2(o->pass_fd, pass_at) < 0)
            goto fail;
    }
    if (o && o->exec_fd > 0) { /* close-on-exec: the program does not inherit it */
        if (dup3(o->exec_fd, keep + 1, O_CLOEXEC) < 0)
            goto fail;
        exec_fd = ++keep;
    }
    if (close_range((unsigned)keep + 1, ~0U, 0) != 0)
        for (int fd = keep + 1; fd < max_fd; fd++)
            close(fd);
    umask(022);
    if (chdir("/") != 0)
        goto fail;
    if (exec_fd >= 0)
        syscall(SYS_execveat, exec_fd, "", argv, envp, AT_EMPTY_PATH);
    else
        execve(argv[0], argv, envp);
fail:
    write_msg(msg_fd, MSG_EXEC_ERR, errno);
    _exit(127);
}

int gpf_rtsys_spawn_detached(char *const argv[], char *const envp[], int out_fd, gpf_rtsys_spawn_opts *opts,
                             pid_t *pid, gpf_error *err)
{
    int in_fd = -1, o_fd = -1, pfd[2] = {-1, -1}, rc = 0;
    pid_t mid = -1, child = 0;
    char ebuf[128];
    *pid = 0;
    /* The child's view of opts, its passed descriptor out of the way of 0-4. */
    gpf_rtsys_spawn_opts co = {.cpus = NULL, .mem_node = -1, .ncgroup_fds = 0, .pass_fd = -1};
    if (opts) {
        opts->cpus_errno = opts->mem_errno = opts->cgroup_errno = 0;
        co = *opts;
        co.pass_fd = opts->pass_fd >= 0 ? fcntl(opts->pass_fd, F_DUPFD_CLOEXEC, FD_FLOOR) : -1;
        co.exec_fd = opts->exec_fd > 0 ? fcntl(opts->exec_fd, F_DUPFD_CLOEXEC, FD_FLOOR) : 0;
    }
    in_fd = fd_high(open("/dev/null", O_RDWR | O_CLOEXEC));
    o_fd = out_fd >= 0 ? fcntl(out_fd, F_DUPFD_CLOEXEC, FD_FLOOR) : -1;
    if (in_fd < 0 || o_fd < 0 || (opts && opts->pass_fd >= 0 && co.pass_fd < 0) || co.exec_fd < 0 ||
        pipe2(pfd, O_CLOEXEC) != 0) {
        rc = gpf_error_set(err, GPF_EIO, "cannot prepare descriptors to start %s: %s", argv[0],
                           strerror_r(errno, ebuf, sizeof ebuf));
        goto out;
    }
    pfd[0] = fd_high(pfd[0]);
    pfd[1] = fd_high(pfd[1]);
    if (pfd[0] < 0 || pfd[1] < 0) {
        rc = gpf_error_set(err, GPF_EIO, "cannot prepare descriptors to start %s", argv[0]);
        goto out;
    }
    long lim = sysconf(_SC_OPEN_MAX);
    int max_fd = lim < 256 ? 256 : lim > 65536 ? 65536 : (int)lim;
    sigset_t empty;
    sigemptyset(&empty);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);

    mid = fork();
    if (mid < 0) {
        rc = gpf_error_set(err, GPF_EIO, "fork: %s", strerror_r(errno, ebuf, sizeof ebuf));
        goto out;
    }
    if (mid == 0) {
        pid_t c = fork();
        if (c == 0)
            child_exec(argv, envp, in_fd, o_fd, pfd[1], max_fd, &co, &empty, &dfl);
        if (c < 0)
            write_msg(pfd[1], MSG_FORK_ERR, errno);
        else
            write_msg(pfd[1], MSG_PID, (int)c);
        _exit(0);
    }
    close(pfd[1]);
    pfd[1] = -1;
    while (waitpid(mid, NULL, 0) < 0 && errno == EINTR) {
    }
    /* EOF arrives once the intermediate process exited and the grandchild exec'd
     * (close-on-exec) or died. */
    int exec_errno = 0, fork_errno = 0;
    for (;;) {
        spawn_msg m;
        ssize_t r = read(pfd[0], &m, sizeof m);
        if (r < 0 && errno == EINTR)
            continue;
        if (r != (ssize_t)sizeof m)
            break;
        if (m.kind == MSG_PID)
            child = (pid_t)m.val;
        else if (m.kind == MSG_FORK_ERR)
            fork_errno = m.val;
        else if (m.kind == MSG_EXEC_ERR)
            exec_errno = m.val;
        else if (m.kind == MSG_CPUS_ERR && opts)
            opts->cpus_errno = m.val;
        else if (m.kind == MSG_MEM_ERR && opts)
            opts->mem_errno = m.val;
        else if (m.kind == MSG_CGROUP_ERR && opts)
            opts->cgroup_errno = m.val;
    }
    if (fork_errno || child <= 0) {
        rc = gpf_error_set(err, GPF_EIO, "fork: %s", strerror_r(fork_errno, ebuf, sizeof ebuf));
        goto out;
    }
    if (exec_errno) {
        rc = gpf_error_set(err, GPF_EIO, "cannot run %s: %s", argv[0], strerror_r(exec_errno, ebuf, sizeof ebuf));
        goto out;
    }
    *pid = child;
out:
    if (in_fd >= 0)
        close(in_fd);
    if (o_fd >= 0)
        close(o_fd);
    if (co.pass_fd >= 0)
        close(co.pass_fd);
    if (co.exec_fd > 0)
        close(co.exec_fd);
    if (pfd[0] >= 0)
        close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    return rc;
}


/* ---- files ---------------------------------------------------------- */

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    int r = (flag == FTW_DP || flag == FTW_D) ? rmdir(path) : unlink(path);
    return r != 0 && errno != ENOENT ? -1 : 0;
}

int gpf_rtsys_rm_rf(const char *path, gpf_error *err)
{
    char ebuf[128];
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0)
        return gpf_error_set(err, GPF_EIO, "cannot remove %s: %s", path, strerror_r(errno, ebuf, sizeof ebuf));
    return 0;
}

int gpf_rtsys_file_has(const char *path, off_t from, const char *needle)
{
    char buf[8192];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = pread(fd, buf, sizeof buf - 1, from);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

void gpf_rtsys_log_tail(const char *path, int lines, char *out, size_t size)
{
    char buf[4096];
    out[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    off_t end = lseek(fd, 0, SEEK_END);
    off_t from = end > (off_t)sizeof buf - 1 ? end - (off_t)sizeof buf + 1 : 0;
    ssize_t r = pread(fd, buf, sizeof buf - 1, from);
    close(fd);
    if (r <= 0)
        return;
    size_t len = (size_t)r;
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    buf[len] = '\0';
    /* Walk back `lines` newlines. */
    size_t start = len;
    int seen = 0;
    while (start > 0 && seen < lines) {
        start--;
        if (buf[start] == '\n' && ++seen == lines) {
            start++;
            break;
        }
    }
    size_t o = 0;
    for (size_t i = start; i < len && o + 1 < size; i++) {
        char c = buf[i];
        if (c == '\r')
            continue;
        if (c == '\n') {
            if (o + 4 >= size)
                break;
            memcpy(out + o, " | ", 3);
            o += 3;
            continue;
        }
        out[o++] = (unsigned char)c < 0x20 ? ' ' : c;
    }
    out[o] = '\0';
}

/* ---- network -------------------------------------------------------- */

static void set_port(struct sockaddr_storage *ss, int port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

int gpf_rtsys_listen(const struct sockaddr_storage *addr, socklen_t len, int port)
{
    struct sockaddr_storage ss = *addr;
    set_port(&ss, port);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1, e;
    /* The options sshd gives its own listeners: a pod restarted on its port finds it free
     * while old connections linger in TIME_WAIT. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 128) != 0) {
        e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int gpf_rtsys_ssh_banner(const struct sockaddr_storage *addr, socklen_t len, int port, int timeout_ms)
{
    struct sockaddr_storage ss = *addr;
    int64_t deadline = gpf_mono_ms() + timeout_ms;
    int ok = 0;
    set_port(&ss, port);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return 0;
    if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
        if (errno != EINPROGRESS)
            goto out;
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int64_t left = deadline - gpf_mono_ms();
        if (left <= 0 || poll(&p, 1, (int)left) != 1)
            goto out;
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0)
            goto out;
    }
    char buf[256];
    size_t got = 0;
    while (got < sizeof buf - 1) {
        int64_t left = deadline - gpf_mono_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) != 1)
            break;
        ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
        buf[got] = '\0';
        if (got >= 8) {
            ok = memmem(buf, got, "SSH-2.0-", 8) != NULL;
            if (ok || memchr(buf, '\n', got))
                break;
        }
    }
out:
    close(fd);
    return ok;
}

static void file_id_of(const struct stat *st, gpf_rtsys_file_id *id)
{
    id->dev = st->st_dev;
    id->ino = st->st_ino;
    id->size = st->st_size;
    id->mtime = st->st_mtim;
}

int gpf_rtsys_sealed_copy(const char *path, gpf_rtsys_file_id *id, gpf_error *err)
{
    char ebuf[128];
    struct stat st;
    int in = open(path, O_RDONLY | O_CLOEXEC), fd = -1;
    if (in < 0 || fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
        gpf_error_set(err, GPF_EIO, "cannot read %s: %s", path, in < 0 ? strerror_r(errno, ebuf, sizeof ebuf)
                                                                      : "not a regular file");
        goto fail;
    }
    const char *base = strrchr(path, '/');
    fd = memfd_create(base ? base + 1 : path, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0 || fchmod(fd, 0555) != 0) {
        gpf_error_set(err, GPF_EIO, "memfd_create: %s", strerror_r(errno, ebuf, sizeof ebuf));
        goto fail;
    }
    for (off_t done = 0; done < st.st_size;) {
        ssize_t n = sendfile(fd, in, NULL, (size_t)(st.st_size - done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            gpf_error_set(err, GPF_EIO, "cannot copy %s: %s", path, n < 0 ? strerror_r(errno, ebuf, sizeof ebuf)
                                                                         : "it shrank while read");
            goto fail;
        }
        done += n;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0) {
        gpf_error_set(err, GPF_EIO, "cannot seal the copy of %s: %s", path, strerror_r(errno, ebuf, sizeof ebuf));
        goto fail;
    }
    file_id_of(&st, id);
    close(in);
    return fd;
fail:
    if (in >= 0)
        close(in);
    if (fd >= 0)
        close(fd);
    return -1;
}

int gpf_rtsys_sealed_stale(const char *path, const gpf_rtsys_file_id *id)
{
    struct stat st;
    gpf_rtsys_file_id now;
    if (stat(path, &st) != 0)
        return 1;
    file_id_of(&st, &now);
    return now.dev != id->dev || now.ino != id->ino || now.size != id->size || now.mtime.tv_sec != id->mtime.tv_sec ||
           now.mtime.tv_nsec != id->mtime.tv_nsec;
}
