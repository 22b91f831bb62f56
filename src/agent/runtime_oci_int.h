/* Internal to the OCI runtime (runtime_oci.c: the lifecycle; runtime_oci_setup.c: what a
 * pod is given before runc starts it, and the checks of what is in force once it runs).
 * Not for other modules. */
#ifndef GPF_AGENT_RUNTIME_OCI_INT_H
#define GPF_AGENT_RUNTIME_OCI_INT_H

#include <limits.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "agent/runtime.h"
#include "agent/runtime_int.h"

#define OCI_LOGIN_MAX 72

/* A pod the runtime knows: started by it, or adopted from its state file. */
typedef struct opod {
    gpf_rtpod b;                   /* id, root process (the container's, host pid), status,
                                    * cgroup (where its processes are listed), starting */
    int slot;                      /* its uid range: base + slot * 65536; -1 none */
    pid_t runc;                    /* `runc run` while starting */
    unsigned long long runc_start;
    pid_t slirp;                   /* slirp4netns; 0 none */
    unsigned long long slirp_start;
    int slice_kind;                /* gpf_slice_kind of its spec (isolation level) */
    char devnote[200];             /* its devices, for the message: "dev nvidia0,nvidiactl" or per CDI */
    char image[80];                /* its image's manifest digest ("" unknown) */
    off_t log_from;
    int64_t deadline;
    int64_t next_check;            /* monotonic ms: when its processes are next read while starting */
} opod;

typedef struct oci_rt {
    char *pods_dir;                /* state_dir/pods (0711) */
    char *runc_root;               /* runc's own state: /run/gpufleet-runc */
    char *runc;
    int runc_fd;                   /* > 0: a sealed copy of runc, what each pod starts with */
    gpf_rtsys_file_id runc_id;     /* the file it was copied from */
    char *slirp;                   /* NULL: no outbound network */
    char *init;                    /* the static pod-init */
    char *cg_root;                 /* NULL: no cgroups */
    int cg_version;
    uint32_t uid_base;
    int max_pods;
    long long pids_max;
    int no_new_privs;
    int port_min, port_max, next_port, timeout_ms;
    char listen[128];
    struct sockaddr_storage bind_addr, conn_addr;
    socklen_t addr_len;
    char boot_id[64];
    gpf_rtsys_snap *snap;
    int64_t snap_ms;
    gpf_rtpods pods;               /* of opod */
} oci_rt;

/* ---- runtime_oci_setup.c -------------------------------------------------------------- */

/* Prepares pod p's bundle under dir (its layers mounted, the login user, host key, sshd
 * config, files, config.json). p->slot is set; fills p->st.ssh_user, p->st.host_key and
 * p->cgroup. 0, or an error (the caller removes what was made). */
int gpf_rtoci_prepare(oci_rt *r, opod *p, const gpf_pod_spec *spec, const char *dir, int port, gpf_error *err);

/* What is in force for the running pod (from /proc/<pid>: namespaces against the agent's
 * own, Seccomp, NoNewPrivs, the bounding set, its cgroup) into p->st.layers and
 * p->st.isolation / message. Reads only what the kernel writes. */
void gpf_rtoci_verify(const oci_rt *r, opod *p);

/* Runs `runc <args…>` (NULL-terminated, without the global options) to completion; 0, or
 * GPF_EIO with runc's words. */
int gpf_rtoci_runc(const oci_rt *r, char *const *args, int timeout_ms, gpf_error *err);

#endif
