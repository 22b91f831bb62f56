/* The OCI runtime configuration (config.json of an OCI bundle, runtime-spec 1.0) of a pod,
 * built as data from what the runtime decided: which host uid range the pod's user
 * namespace maps, its limits, device nodes, bind mounts and environment. Pure: no I/O.
 *
 * What every pod gets (docs/security.md says why, layer by layer):
 *  - namespaces: user (uid/gid 0..65535 inside -> host base..base+65535), network (empty
 *    but for lo; outbound is slirp4netns's job), pid, ipc, uts, mount, cgroup;
 *  - capabilities: a default set like Docker's minus NET_RAW and MKNOD (CHOWN,
 *    DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID, SETPCAP, NET_BIND_SERVICE,
 *    SYS_CHROOT, AUDIT_WRITE, SETFCAP), all of them only in the pod's user namespace;
 *  - a seccomp filter (oci_seccomp.c): an allowlist, EPERM for the rest, ENOSYS for
 *    clone3, clone refused with namespace flags;
 *  - /proc with the usual masked and read-only paths, /sys read-only, /sys/fs/cgroup
 *    read-only, a private /dev (tmpfs) with the standard nodes and only the pod's GPU nodes;
 *  - cgroup limits: memory, CPU quota, cpuset, pids; device cgroup allowing only the
 *    standard nodes and the pod's GPU nodes. */
#ifndef GPF_AGENT_OCI_SPEC_H
#define GPF_AGENT_OCI_SPEC_H

#include <jansson.h>
#include <stdint.h>

#include "util/error.h"

#define GPF_OCI_MAX_MOUNTS 96
#define GPF_OCI_MAX_DEVICES 32
#define GPF_OCI_MAX_ENV 64
#define GPF_OCI_UID_RANGE 65536
#define GPF_OCI_MAX_HOOKS 16

/* An OCI hook (from the host's CDI spec): runc runs it on the host at its stage. */
typedef struct gpf_oci_hook {
    const char *stage;       /* prestart createRuntime createContainer startContainer poststart poststop */
    const char *path;
    const char *const *args; /* NULL-terminated, may be NULL */
    const char *const *env;  /* NULL-terminated, may be NULL */
    int timeout;             /* seconds, 0 none */
} gpf_oci_hook;

typedef struct gpf_oci_mount {
    const char *source;      /* host path */
    const char *destination; /* absolute path in the pod */
    int readonly;
    int device;              /* a device node: bound without nodev (and noexec) */
} gpf_oci_mount;

/* A device node the pod may use: the device cgroup allows exactly major:minor. The node
 * itself is bound from the host (a mount with device set): in a user namespace nodes cannot
 * be made, and binding from the node's own host path keeps a device root other than "/"
 * (the fake backend's tree) working. */
typedef struct gpf_oci_device {
    const char *path;        /* in the pod: "/dev/nvidia0" */
    char type;               /* 'c' or 'b' */
    int64_t major, minor;
    unsigned file_mode;      /* 0666 */
} gpf_oci_device;

typedef struct gpf_oci_input {
    const char *hostname;
    const char *const *args;   /* the pod's root process, NULL-terminated */
    const char *const *env;    /* "K=V", NULL-terminated (may be NULL) */
    uint32_t uid_base;         /* host uid (and gid) that uid 0 inside maps to */
    const char *cgroups_path;  /* "/gpufleet/pod-<id>" ("" = none: no limits) */
    int cpus;                  /* CPU quota in CPUs, 0 = none */
    int64_t memory_mib;        /* 0 = none */
    const char *cpuset;        /* "0-15" or NULL/"" */
    const char *mems;          /* NUMA nodes "0" or NULL/"" */
    int64_t pids_max;          /* 0 = none */
    int no_new_privs;
    int seccomp;               /* 1: the default profile */
    int ndevices;
    gpf_oci_device devices[GPF_OCI_MAX_DEVICES];
    int nmounts;
    gpf_oci_mount mounts[GPF_OCI_MAX_MOUNTS];
    int nhooks;
    gpf_oci_hook hooks[GPF_OCI_MAX_HOOKS];
} gpf_oci_input;

/* The config.json document for in (new reference, the caller json_decref's it), or NULL
 * with err set (GPF_EINVAL: a path not absolute, too many entries, a bad device). */
json_t *gpf_oci_config(const gpf_oci_input *in, gpf_error *err);

/* The seccomp section (oci_seccomp.c): new reference, never NULL. */
json_t *gpf_oci_seccomp(void);
/* How many syscalls the profile allows by name (for the docs and tests). */
int gpf_oci_seccomp_allowed(void);

#endif
