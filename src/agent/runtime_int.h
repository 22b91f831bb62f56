/* Internal to the process runtime (runtime_process.c, runtime_process_setup.c): the
 * operating-system helpers it needs — spawning detached processes, finding and killing a
 * pod's processes through /proc, probing ports and waiting for the sshd banner
 * (runtime_sys.c), and the pods' cgroup directories (runtime_cgroup.c). Not for other
 * modules. */
#ifndef GPF_AGENT_RUNTIME_INT_H
#define GPF_AGENT_RUNTIME_INT_H

#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "agent/runtime.h"
#include "util/error.h"

#define GPF_RTCG_MAX 3         /* cgroup directories of one pod: one on v2; memory, cpu, cpuset on v1 */
#define GPF_RTCG_DIRS_MAX 1600 /* a pod's cgroup directories joined with ':' */

/* What /proc/PID/stat says about a process. */
typedef struct gpf_rtsys_proc {
    pid_t ppid;
    char state;                   /* 'R' 'S' 'Z' … */
    unsigned long long start;     /* start time in clock ticks after boot */
    char comm[16];                /* its command name ("sshd"), truncated by the kernel */
} gpf_rtsys_proc;

/* Reads a small file (/proc, cgroupfs) into buf, NUL-terminated; bytes read, or -1. */
ssize_t gpf_rtsys_read_small(const char *path, char *buf, size_t size);

/* What a pod can write, parsed as hostile input (tests/fuzz/fuzz_proc.c):
 * the text of a /proc/PID/stat (NUL-terminated) into p: 0, or -1 when malformed; */
int gpf_rtsys_stat_parse(const char *text, gpf_rtsys_proc *p);
/* the GPUFLEET_POD_ID of an environ read from fd in chunks of buf (size bytes) into out
 * ("" when none, or longer than osize - 1); */
void gpf_rtsys_environ_pod_fd(int fd, char *out, size_t osize, char *buf, size_t size);
/* 1 when a /proc/PID/cmdline's n bytes (NULs become spaces, in place) title an
 * authenticated sshd session ("sshd: user@pts/0"), else 0. */
int gpf_rtsys_cmdline_session(char *buf, ssize_t n);

/* 0 and fills p, or -1 when the process does not exist. */
int gpf_rtsys_proc_read(pid_t pid, gpf_rtsys_proc *p);
/* 1 when pid exists, is not a zombie and started at start (guards against pid reuse). */
int gpf_rtsys_alive(pid_t pid, unsigned long long start);

/* What the new process does to itself before exec, so that everything it ever starts
 * inherits it, and how that went. */
typedef struct gpf_rtsys_spawn_opts {
    const cpu_set_t *cpus;        /* sched_setaffinity to these; NULL = inherit the caller's */
    int mem_node;                 /* set_mempolicy(MPOL_PREFERRED) on this NUMA node; -1 none */
    int cgroup_fds[GPF_RTCG_MAX]; /* open <cgroup>/cgroup.procs it joins by writing "0" */
    int ncgroup_fds;
    int pass_fd;                  /* handed to the new process as descriptor GPF_RTSYS_PASS_FD; -1 none */
    int pass_fd_at;               /* 3: hand it over as descriptor 3 instead (0: GPF_RTSYS_PASS_FD) */
    int exec_fd;                  /* > 0: execute this descriptor's file (execveat) rather than argv[0],
                                   * which then only names it; 0: argv[0] */
    int cpus_errno;               /* out: 0 when applied, else why not (the process runs anyway) */
    int mem_errno;                /* out: likewise */
    int cgroup_errno;             /* out: likewise */
} gpf_rtsys_spawn_opts;

#define GPF_RTSYS_PASS_FD 4

/* Starts argv[0] (absolute path) with envp in a new session, detached from the caller
 * (double fork: it is not the caller's child, so it outlives the caller and never
 * becomes its zombie). stdin is /dev/null; stdout and stderr go to out_fd. Every other
 * descriptor is closed in the child, and signal dispositions and mask are reset.
 * opts (may be NULL) pins it and puts it into a cgroup before exec. *pid: the new
 * process (its own session and process group leader). */
int gpf_rtsys_spawn_detached(char *const argv[], char *const envp[], int out_fd, gpf_rtsys_spawn_opts *opts,
                             pid_t *pid, gpf_error *err);

/* A sealed in-memory copy of the executable at path (memfd, close-on-exec, sealed against
 * any write, growth, shrinking or further seals), to start with opts.exec_fd: every start
 * then runs exactly these bytes, which no process can change. runc takes such a copy as
 * already cloned and skips copying itself into memory on every container start. *id gets
 * what identifies the file it came from (see gpf_rtsys_sealed_stale). The descriptor, or
 * -1 and err. */
typedef struct gpf_rtsys_file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} gpf_rtsys_file_id;
int gpf_rtsys_sealed_copy(const char *path, gpf_rtsys_file_id *id, gpf_error *err);
/* 1 when the file at path is no longer the one id describes (replaced, e.g. upgraded). */
int gpf_rtsys_sealed_stale(const char *path, const gpf_rtsys_file_id *id);


/* Where a pod's processes are: its root process (when still the process that started at
 * root_start), every process whose environment holds GPUFLEET_POD_ID=<pod_id>, every
 * member of its cgroup (cgroup_dir; NULL or "" for none), and all their descendants. */
typedef struct gpf_rtsys_pod_ref {
    pid_t root;
    unsigned long long root_start;
    const char *pod_id;
    const char *cgroup_dir;
} gpf_rtsys_pod_ref;

/* SIGKILLs every process of a pod; repeats until none remains or timeout_ms passes
 * (GPF_EIO naming the survivors). Never kills the caller or pid 1. */
int gpf_rtsys_kill_pod(const gpf_rtsys_pod_ref *pod, int timeout_ms, gpf_error *err);

/* The process table at one moment (pids, parents, names, the GPUFLEET_POD_ID each
 * carries): one walk of /proc serves questions about many pods. */
typedef struct gpf_rtsys_snap gpf_rtsys_snap;
gpf_rtsys_snap *gpf_rtsys_snap_take(void);
void gpf_rtsys_snap_free(gpf_rtsys_snap *s); /* accepts NULL */

/* From snap: the live processes of a pod into pids (up to max; *npids: how many were stored) and its
 * SSH sessions: the sshd processes below the pod's sshd listener that carry an
 * authenticated session (OpenSSH titles them "sshd: user@pts/0" or "sshd: user@notty";
 * a connection still authenticating is "[accepted]", "user [priv]" or "user [net]" and
 * does not count). */
void gpf_rtsys_pod_activity(const gpf_rtsys_snap *snap, const gpf_rtsys_pod_ref *pod, unsigned *pids, int max,
                            int *npids, int *sessions);
/* Number of live (non-zombie) processes whose environment holds GPUFLEET_POD_ID=<pod_id>. */
int gpf_rtsys_count_pod(const char *pod_id);

/* Removes path and everything below it without following symlinks or crossing mounts. */
int gpf_rtsys_rm_rf(const char *path, gpf_error *err);

/* A close-on-exec TCP socket bound to addr (with port replaced) and listening, or -1
 * (errno set; EADDRINUSE when something else has the port). */
int gpf_rtsys_listen(const struct sockaddr_storage *addr, socklen_t len, int port);
/* 1 when a TCP connection to addr:port receives an "SSH-2.0-" banner within timeout_ms. */
int gpf_rtsys_ssh_banner(const struct sockaddr_storage *addr, socklen_t len, int port, int timeout_ms);

/* 1 when the 8 KiB of a text file from offset `from` on hold needle, else 0 (also when
 * unreadable). */
int gpf_rtsys_file_has(const char *path, off_t from, const char *needle);
/* The last `lines` lines of a text file, joined with " | ", into out ("" if unreadable). */
void gpf_rtsys_log_tail(const char *path, int lines, char *out, size_t size);

/* ---- a runtime's pod table (runtime_pods.c) --------------------------------------------- */

/* What every process-backed runtime (process, oci) knows of a pod: the first member of its
 * own pod record. */
typedef struct gpf_rtpod {
    char id[GPF_ID_MAX];
    pid_t pid;                       /* the pod's root process; 0 when unknown */
    unsigned long long start;        /* its start time (pid reuse guard) */
    gpf_pod_status st;               /* port, user, isolation, message (…) */
    char cgroup[GPF_RTCG_DIRS_MAX];  /* where its processes are listed, ':'-joined; "" none */
    int starting;                    /* 1 until it accepts connections */
} gpf_rtpod;

/* A runtime's pods: records of `size` bytes (set before the first add), each starting with a
 * gpf_rtpod; the table owns them. */
typedef struct gpf_rtpods {
    void *v;
    int n, cap;
    size_t size;
} gpf_rtpods;

#define GPF_RTPOD(t, i) ((gpf_rtpod *)(void *)((char *)(t)->v + (size_t)(i) * (t)->size))

int gpf_rtpods_find(const gpf_rtpods *t, const char *id);    /* index, or -1 */
void *gpf_rtpods_add(gpf_rtpods *t, const char *id);         /* a zeroed record with id; never NULL */
void gpf_rtpods_drop(gpf_rtpods *t, int i);                  /* the last record takes its place */
void gpf_rtpods_clear(gpf_rtpods *t);                        /* frees the records */
/* 1 when the pod's root process is alive (and is the process that started then). */
int gpf_rtpod_alive(const gpf_rtpod *p);
/* A socket listening on the next port of pmin..pmax (from *next, which moves on) that no
 * starting or live pod of t holds and nothing else has bound: the fd and *port, or -1. */
int gpf_rtpods_listen(const gpf_rtpods *t, const struct sockaddr_storage *addr, socklen_t len, int pmin, int pmax,
                      int *next, int *port);
/* The ops status, list and activity over the table (runtime.h). by_env: also count the
 * processes whose environment names the pod (the process runtime's pods share the host's
 * processes; an oci pod's processes are its cgroup's, and the pod can write its environment). */
int gpf_rtpods_status(const gpf_rtpods *t, const char *id, gpf_pod_status *st);
int gpf_rtpods_list(const gpf_rtpods *t, char (*ids)[GPF_ID_MAX], int max);
int gpf_rtpods_activity(const gpf_rtpods *t, const char *id, int by_env, gpf_rtsys_snap **snap, int64_t *snap_ms,
                        gpf_pod_activity *out);

/* ---- cgroups (runtime_cgroup.c) -------------------------------------------------------- */

/* 0 when root is a cgroup hierarchy this process may write, with *version (may be NULL)
 * 2 (root has cgroup.controllers) or 1 (root holds a writable cgroup v1 memory or cpu
 * hierarchy, as a hybrid host's /sys/fs/cgroup does); else GPF_EUNAVAIL saying why. A
 * root with a ':' is refused (':' joins a pod's directories). */
int gpf_rtcg_probe(const char *root, int *version, gpf_error *err);

/* Where a pod's cgroup directories would be, joined with ':': v2 root/gpufleet/pod-<pod_id>;
 * v1 root/<ctl>/gpufleet/pod-<pod_id> for ctl memory, cpu and cpuset. 0, or -1 when too
 * long. */
int gpf_rtcg_path(const char *root, int version, const char *pod_id, char *dirs, size_t dsize);
/* Creates the pod's cgroups and sets its limits: cpus CPUs (<= 0: none), memory_mib (<= 0:
 * none) and, when cpuset is a CPU list ("0-15"; NULL or "" when the pod is not pinned), the
 * CPUs it may run on. v2: root/gpufleet/pod-<pod_id>, enabling the cpu, memory (and cpuset)
 * controllers on the way down where the hierarchy has them, writing cpu.max ("<cpus *
 * 100000> 100000", or "max 100000"), memory.max (bytes, or "max") and cpuset.cpus. v1: a
 * directory in each of the memory and cpu hierarchies there are, with memory.limit_in_bytes
 * and cpu.cfs_quota_us (over a cfs_period_us of 100000) where a limit is asked, and one in
 * the cpuset hierarchy with cpuset.cpus (and its parent's cpuset.mems) for a pinned pod.
 * dirs: the directories made, joined with ':'. note: what it enforces, "cgroup v2 cpu 4 mem
 * 16384M cpuset", or which limit it could not set ("cgroup v1 mem 512M (no cpu
 * limit)"). 0, or GPF_EIO/GPF_EINVAL when no directory can be made (then nothing is left
 * behind and dirs is ""). */
int gpf_rtcg_create(const char *root, int version, const char *pod_id, int cpus, int64_t memory_mib,
                    const char *cpuset, char *dirs, size_t dsize, char *note, size_t nsize, gpf_error *err);
/* The cgroup.procs of each directory of dirs opened for writing (close-on-exec) into fds:
 * how many (all of them), or -1 with errno set and none left open. */
int gpf_rtcg_open_procs(const char *dirs, int fds[GPF_RTCG_MAX]);
/* The pids in the cgroup.procs of the directories of dirs (up to max, each once); the
 * count, 0 when unreadable. */
int gpf_rtcg_pids(const char *dirs, pid_t *pids, int max);
/* Removes the directories of dirs, waiting up to timeout_ms while one still has members.
 * A directory that is gone already is fine. */
int gpf_rtcg_remove(const char *dirs, int timeout_ms, gpf_error *err);

#endif
