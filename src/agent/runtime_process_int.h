/* Internal to the process runtime: its pod table and runtime state, and the functions
 * runtime_process.c (the runtime's lifecycle: pods, their state files, the ops, opening)
 * calls in runtime_process_setup.c (validation, a pod's files, sandbox and cgroups, the
 * host checks at opening). The shared functions are documented at their definitions.
 * Not for other modules. */
#ifndef GPF_AGENT_RUNTIME_PROCESS_INT_H
#define GPF_AGENT_RUNTIME_PROCESS_INT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "agent/runtime.h"
#include "agent/runtime_int.h"
#include "util/buf.h"
#include "util/error.h"

#define SSH_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* A pod the runtime knows: started by it, or adopted from its state file. */
typedef struct ppod {
    gpf_rtpod b;                  /* id, root process, status, cgroup, starting (first member) */
    off_t log_from;               /* starting: where this start's lines begin in the log */
    int64_t deadline, next_probe; /* starting: monotonic ms */
} ppod;

/* The process runtime (gpf_runtime.priv). */
typedef struct proc_rt {
    char *pods_dir;
    char *host_key;
    char *listen;
    char *sshd;
    char *init;                   /* the gpufleet binary: `pod-init` is every pod's root process */
    char *bwrap;                  /* NULL when pods run as plain processes */
    char *cg_root;                /* writable cgroup root, NULL when there is none */
    int cg_version;               /* of cg_root: 2, or 1 for per-controller v1 hierarchies */
    int port_min, port_max, next_port, timeout_ms;
    struct sockaddr_storage bind_addr, conn_addr;
    socklen_t addr_len;
    int is_root;
    char user[GPF_ID_MAX];
    char home[PATH_MAX];
    char mode_msg[GPF_TEXT_MAX];
    char boot_id[64];
    gpf_rtsys_snap *snap;         /* the process table activity last read, and when */
    int64_t snap_ms;
    gpf_rtpods pods;              /* of ppod */
} proc_rt;

/* Storage for the strings of a sandbox command line. */
typedef struct sandbox_paths {
    char icfg[128], ikeys[128], ihost[128], iinit[128];
    char dev[GPF_ISO_MAX_NODES][GPF_ISO_NAME_MAX + 8];
} sandbox_paths;

/* ---- validation and small file helpers (runtime_process_setup.c) ---------------------- */

int gpf_rtproc_cfg_text_ok(const char *s);
int gpf_rtproc_charset_ok(const char *s, const char *extra);
int gpf_rtproc_pubkey_ok(const char *k);
int gpf_rtproc_append_sku_env(gpf_buf *b, const char *env, gpf_error *err);
int gpf_rtproc_path_join(char *out, size_t size, const char *a, const char *b, const char *c);
int gpf_rtproc_write_file(const char *path, const char *data, mode_t mode, gpf_error *err);
int gpf_rtproc_read_text(const char *path, char *buf, size_t size);
int gpf_rtproc_mkdir_ok(const char *path, mode_t mode);

/* ---- a pod's sshd config, sandbox, cgroups and message (runtime_process_setup.c) ------ */

void gpf_rtproc_write_config(const proc_rt *r, const char *id, int port, const char *keys_path,
                             const char *home_path, const char *setenv, int inside, gpf_buf *b);
int gpf_rtproc_sandbox_argv(const proc_rt *r, const gpf_pod_spec *spec, const char *home, const char *cfg,
                            const char *keys, sandbox_paths *sp, char **argv);
void gpf_rtproc_cgroup_setup(const proc_rt *r, const gpf_pod_spec *spec, char *dirs, size_t dsize,
                             gpf_rtsys_spawn_opts *so, char *note, size_t nsize);
void gpf_rtproc_cpu_describe(const gpf_pod_spec *spec, const gpf_rtsys_spawn_opts *so, char *note, size_t size);
void gpf_rtproc_describe(const proc_rt *r, const gpf_pod_spec *spec, const char *cpus, const char *cgroup,
                         gpf_pod_status *st);

/* ---- host checks at opening (runtime_process_setup.c) --------------------------------- */

int gpf_rtproc_resolve(const char *listen, struct sockaddr_storage *bind, struct sockaddr_storage *conn,
                       socklen_t *len, gpf_error *err);
int gpf_rtproc_login_user(proc_rt *r, gpf_error *err);
int gpf_rtproc_ensure_host_key(proc_rt *r, const char *state_dir, gpf_error *err);
int gpf_rtproc_check_sshd(proc_rt *r, const char *state_dir, gpf_error *err);
void gpf_rtproc_probe_bwrap(proc_rt *r, const char *bwrap);

#endif
