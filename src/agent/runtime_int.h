/* Internal to the process runtime (runtime_process.c): the operating-system helpers it
 * needs — spawning detached processes, finding and killing a pod's processes through
 * /proc, probing ports and waiting for the sshd banner. Not for other modules. */
#ifndef GPF_AGENT_RUNTIME_INT_H
#define GPF_AGENT_RUNTIME_INT_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "util/error.h"

/* What /proc/PID/stat says about a process. */
typedef struct gpf_rtsys_proc {
    pid_t ppid;
    char state;                   /* 'R' 'S' 'Z' … */
    unsigned long long start;     /* start time in clock ticks after boot */
} gpf_rtsys_proc;

/* 0 and fills p, or -1 when the process does not exist. */
int gpf_rtsys_proc_read(pid_t pid, gpf_rtsys_proc *p);
/* 1 when pid exists, is not a zombie and started at start (guards against pid reuse). */
int gpf_rtsys_alive(pid_t pid, unsigned long long start);

/* Starts argv[0] (absolute path) with envp in a new session, detached from the caller
 * (double fork: it is not the caller's child, so it outlives the caller and never
 * becomes its zombie). stdin is /dev/null; stdout and stderr go to out_fd. Every other
 * descriptor is closed in the child, and signal dispositions and mask are reset.
 * *pid: the new process (its own session and process group leader). */
int gpf_rtsys_spawn_detached(char *const argv[], char *const envp[], int out_fd, pid_t *pid, gpf_error *err);

/* Runs argv (argv[0] searched in PATH) to completion with stdin /dev/null, capturing
 * stdout and stderr into out (NUL-terminated, truncated to size). Kills it after
 * timeout_ms. Returns 0 and sets *exit_status (the wait status), or GPF_EIO when it
 * could not be run / GPF_ETIMEOUT. */
int gpf_rtsys_run(char *const argv[], char *const envp[], int timeout_ms, char *out, size_t size, int *exit_status,
                  gpf_error *err);

/* SIGKILLs every process of a pod: root (when still the process that started at
 * root_start) and all its descendants, and every process whose environment holds
 * GPUFLEET_POD_ID=<pod_id> and their descendants; repeats until none remains or
 * timeout_ms passes (GPF_EIO naming the survivors). Never kills the caller or pid 1. */
int gpf_rtsys_kill_pod(pid_t root, unsigned long long root_start, const char *pod_id, int timeout_ms,
                       gpf_error *err);
/* Number of live (non-zombie) processes whose environment holds GPUFLEET_POD_ID=<pod_id>. */
int gpf_rtsys_count_pod(const char *pod_id);

/* Removes path and everything below it without following symlinks or crossing mounts. */
int gpf_rtsys_rm_rf(const char *path, gpf_error *err);

/* 1 when a listening socket could be bound on addr (with port replaced), else 0. */
int gpf_rtsys_port_free(const struct sockaddr_storage *addr, socklen_t len, int port);
/* 1 when a TCP connection to addr:port receives an "SSH-2.0-" banner within timeout_ms. */
int gpf_rtsys_ssh_banner(const struct sockaddr_storage *addr, socklen_t len, int port, int timeout_ms);

/* 1 when the 8 KiB of a text file from offset `from` on hold needle, else 0 (also when
 * unreadable). */
int gpf_rtsys_file_has(const char *path, off_t from, const char *needle);
/* The last `lines` lines of a text file, joined with " | ", into out ("" if unreadable). */
void gpf_rtsys_log_tail(const char *path, int lines, char *out, size_t size);

#endif
