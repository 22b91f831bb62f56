/* The pods' default seccomp profile (see oci_spec.h): the calls ordinary Linux programs
 * make are allowed by name; everything else fails with EPERM. Left out on purpose, as the
 * default profiles of container engines leave them out: kernel modules (init_module,
 * finit_module, delete_module), kexec, bpf, perf_event_open, the keyring (add_key, keyctl,
 * request_key), mounting (mount, umount2, pivot_root and the new mount API), namespaces
 * (unshare, setns), open_by_handle_at (a way out of any bind mount), userfaultfd, the
 * clock and time setters, swap, reboot, acct, quotactl, syslog, iopl/ioperm, io_uring and
 * the obsolete calls. clone is allowed only without namespace flags; clone3 answers ENOSYS
 * so that the C library falls back to clone, where the flags can be checked. The list is
 * of names: runc resolves them with libseccomp for the host's architecture and skips a
 * name the architecture lacks. Only the native ABI is listed: a 32-bit call (x86's
 * int 0x80, x32's numbers, arm64's AArch32) matches no architecture of the filter and is
 * refused, which closes that second entry path into the kernel and spares runc compiling
 * the filter three times on every container start. */
#include "agent/oci_spec.h"

#include <errno.h>

static const char *const ALLOW[] = {
    "accept", "accept4", "access", "alarm", "arch_prctl", "bind", "brk", "capget", "capset", "chdir", "chmod",
    "chown", "chown32", "chroot", "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64",
    "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat",
    "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2",
    "epoll_wait", "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2",
    "fadvise64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchownat",
    "fcntl", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat",
    "fstatfs", "fsync", "ftruncate", "futex", "futex_time64", "futex_waitv", "futimesat", "get_mempolicy",
    "get_robust_list", "get_thread_area", "getcpu", "getcwd", "getdents", "getdents64", "getegid", "geteuid",
    "getgid", "getgroups", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
    "getrandom", "getresgid", "getresuid", "getrlimit", "getrusage", "getsid", "getsockname", "getsockopt",
    "gettid", "gettimeofday", "getuid", "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1",
    "inotify_rm_watch", "io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "io_setup", "io_submit",
    "ioctl", "ioprio_get", "ioprio_set", "kill", "landlock_add_rule", "landlock_create_ruleset",
    "landlock_restrict_self", "lchown", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr",
    "lremovexattr", "lseek", "lsetxattr", "lstat", "madvise", "mbind", "membarrier", "memfd_create", "mincore",
    "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mprotect", "mq_getsetattr",
    "mq_notify", "mq_open", "mq_timedreceive", "mq_timedsend", "mq_unlink", "mremap", "msgctl", "msgget",
    "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep",
    "newfstatat", "open", "openat", "openat2", "pause", "pidfd_getfd", "pidfd_open", "pidfd_send_signal", "pipe",
    "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64",
    "preadv", "preadv2", "prlimit64", "process_mrelease", "process_vm_readv", "process_vm_writev", "pselect6",
    "pselect6_time64", "ptrace", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat",
    "readv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename",
    "renameat", "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
    "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
    "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_get_priority_max", "sched_get_priority_min",
    "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_getscheduler", "sched_rr_get_interval",
    "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler",
    "sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send",
    "sendfile", "sendmmsg", "sendmsg", "sendto", "set_mempolicy", "set_robust_list", "set_thread_area",
    "set_tid_address", "setfsgid", "setfsuid", "setgid", "setgroups", "setitimer", "setpgid", "setpriority",
    "setregid", "setresgid", "setresuid", "setreuid", "setrlimit", "setsid", "setsockopt", "setuid", "setxattr",
    "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "socket",
    "socketpair", "splice", "stat", "statfs", "statx", "symlink", "symlinkat", "sync", "sync_file_range",
    "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun",
    "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime",
    "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "umask", "uname",
    "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4",
    "waitid", "write", "writev", NULL};

/* CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET and CLONE_NEWTIME's bit. */
#define CLONE_NS_FLAGS 0x7E020080ULL

int gpf_oci_seccomp_allowed(void)
{
    int n = 0;
    while (ALLOW[n])
        n++;
    return n;
}

json_t *gpf_oci_seccomp(void)
{
    json_t *names = json_array(), *syscalls = json_array();
    for (int i = 0; ALLOW[i]; i++)
        json_array_append_new(names, json_string(ALLOW[i]));
    json_array_append_new(syscalls, json_pack("{s:o, s:s}", "names", names, "action", "SCMP_ACT_ALLOW"));
    /* clone(flags, …): allowed when no namespace flag is set (x86_64's argument order). */
    json_array_append_new(syscalls,
                          json_pack("{s:[s], s:s, s:[{s:i, s:I, s:I, s:s}]}", "names", "clone", "action",
                                    "SCMP_ACT_ALLOW", "args", "index", 0, "value", (json_int_t)CLONE_NS_FLAGS,
                                    "valueTwo", (json_int_t)0, "op", "SCMP_CMP_MASKED_EQ"));
    json_array_append_new(syscalls, json_pack("{s:[s], s:s, s:i}", "names", "clone3", "action", "SCMP_ACT_ERRNO",
                                              "errnoRet", ENOSYS));
    /* personality: the default, and the 32-bit and address-randomisation switches. */
    static const json_int_t PERS[] = {0x0, 0x0008, 0x20000, 0x20008, 0xffffffff};
    for (size_t i = 0; i < sizeof PERS / sizeof PERS[0]; i++)
        json_array_append_new(syscalls, json_pack("{s:[s], s:s, s:[{s:i, s:I, s:s}]}", "names", "personality",
                                                  "action", "SCMP_ACT_ALLOW", "args", "index", 0, "value", PERS[i],
                                                  "op", "SCMP_CMP_EQ"));
#if defined(__aarch64__)
    json_t *arch = json_pack("[s]", "SCMP_ARCH_AARCH64");
#else
    json_t *arch = json_pack("[s]", "SCMP_ARCH_X86_64");
#endif
    return json_pack("{s:s, s:i, s:o, s:o}", "defaultAction", "SCMP_ACT_ERRNO", "defaultErrnoRet", EPERM,
                     "architectures", arch, "syscalls", syscalls);
}
