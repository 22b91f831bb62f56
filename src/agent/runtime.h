/* Pod runtimes behind one ops table:
 *  - "oci": every pod an OCI container from an image, run by runc (runtime_oci.c) — the
 *    sandbox a stranger can be given; the default;
 *  - "process": a real sandbox — bubblewrap where the kernel allows it, else a plain
 *    process (and the pod's reason says so) — with a per-pod home directory, a private
 *    /dev holding only the slice's device nodes (the spec's isolation plan), the pod
 *    pinned to the plan's CPUs, CPU and memory limits in a cgroup v2 where there is one,
 *    the slice exported as CUDA_VISIBLE_DEVICES / NVIDIA_VISIBLE_DEVICES, and OpenSSH's
 *    sshd on the pod's own port accepting only the pod's public key (the pod's root process
 *    is `gpufleet pod-init`, which runs `sshd -i` per connection; agent/podinit.h);
 *  - "fake": no processes at all (load tests, large simulated fleets).
 * A runtime is used by one thread (the agent's loop), which may have many pods starting
 * at once (start_begin, then start_poll). */
#ifndef GPF_AGENT_RUNTIME_H
#define GPF_AGENT_RUNTIME_H

#include <sys/types.h>

#include "agent/isolation.h"
#include "model/slice.h"
#include "util/error.h"

typedef struct gpf_pod_spec {
    char id[GPF_ID_MAX];
    char owner[GPF_ID_MAX];
    char ssh_pubkey[GPF_PUBKEY_MAX];  /* the only key sshd accepts */
    char device_ids[GPF_TEXT_MAX];    /* "GPU-…,GPU-…" or "MIG-…", "" for none */
    char env[GPF_TEXT_MAX];           /* extra "K=V;K2=V2" from the SKU */
    int cpus;                         /* cgroup v2 cpu.max: cpus * 100 ms per 100 ms; 0 = no limit */
    int64_t memory_mib;               /* cgroup v2 memory.max; 0 = no limit */
    gpf_iso_plan iso;                 /* device nodes to bind, CPUs to pin to, slice kind
                                       * (zeroed: no GPU node, no pinning, kind whole) */
    char image_digest[80];            /* oci: the image's manifest digest ("sha256:…"), "" none */
    char image_rootfs[1024];          /* oci: its unpacked root filesystem (the agent's image
                                       * cache, agent/image_cache.h); "" = no image */
    const struct gpf_cdi_edits *cdi;  /* oci: the pod's GPUs as the host's CDI spec injects them
                                       * (device nodes, driver mounts, environment, hooks),
                                       * replacing iso's nodes; NULL = none (iso's nodes).
                                       * Owned by the caller, valid during start_begin. */
} gpf_pod_spec;

typedef struct gpf_pod_status {
    int running;                      /* 1 when sshd accepts connections (or fake) */
    int ssh_port;                     /* 0 for fake */
    char ssh_user[GPF_ID_MAX];        /* Unix user the pod's sshd logs in */
    gpf_isolation isolation;          /* what was actually enforced: "hardware" (whole, mig)
                                       * or "device" (share, vgpu) in the sandbox with a
                                       * private /dev; "soft" for a plain process */
    char message[GPF_TEXT_MAX];       /* what was done, e.g. "bwrap sandbox; dev nvidia0,nvidiactl,
                                       * nvidia-uvm; cpus 0-15 (numa 0); cgroup v2 cpu 4 mem 16384M" */
    char host_key[GPF_PUBKEY_MAX];    /* the pod's own SSH host public key line, "" when it has none
                                       * of its own (process runtime: one key per host; fake) */
    char layers[256];                 /* isolation layers in force, space-separated, from the
                                       * vocabulary of the API's isolation_layers ("userns netns …") */
} gpf_pod_status;

#define GPF_POD_MAX_PIDS 256

/* What a running pod is doing now (idle detection). */
typedef struct gpf_pod_activity {
    int ssh_sessions;                 /* open (authenticated) SSH sessions into the pod, -1 unknown */
    int npids;                        /* processes of the pod (host pid namespace), up to GPF_POD_MAX_PIDS */
    unsigned pids[GPF_POD_MAX_PIDS];
} gpf_pod_activity;

typedef struct gpf_runtime gpf_runtime;

typedef struct gpf_runtime_ops {
    const char *name;
    /* Sets the pod on its way without waiting for it: 0, then start_poll says when it is
     * ready; or an error, and nothing of the pod is left. Idempotent: beginning a pod that
     * runs or is on its way changes nothing. Several pods may be on their way at once. */
    int (*start_begin)(gpf_runtime *rt, const gpf_pod_spec *spec, gpf_error *err);
    /* Where a begun start stands, without blocking (beyond, rarely, a 250 ms readiness
     * probe): 1 ready (st filled when non-NULL), 0 still on its way, or an error after
     * which nothing of the pod is left (GPF_ENOTFOUND: never begun, or stopped). Until it
     * is ready a pod is not running for status, list and activity. */
    int (*start_poll)(gpf_runtime *rt, const char *pod_id, gpf_pod_status *st, gpf_error *err);
    /* Kills everything in the pod and removes its runtime files (keeps nothing running).
     * Stopping an unknown pod succeeds. */
    int (*stop)(gpf_runtime *rt, const char *pod_id, gpf_error *err);
    /* 1 running, 0 not running (died or unknown). Fills st when non-NULL and running. */
    int (*status)(gpf_runtime *rt, const char *pod_id, gpf_pod_status *st);
    /* Lists ids of pods it runs: writes up to max ids, returns the count. */
    int (*list)(gpf_runtime *rt, char (*ids)[GPF_ID_MAX], int max);
    /* What a running pod is doing now. 0, or GPF_ENOTFOUND when the pod is not running.
     * The process runtime answers from a walk of /proc at most 100 ms old, so that asking
     * about every pod in turn costs one walk. */
    int (*activity)(gpf_runtime *rt, const char *pod_id, gpf_pod_activity *out);
    /* The image digests ("sha256:…") of the pods it knows (running, starting, or stopped but
     * not removed): up to max into digests, each once; the count. NULL for runtimes without
     * images. */
    int (*images)(gpf_runtime *rt, char (*digests)[80], int max);
    void (*close)(gpf_runtime *rt);   /* stops nothing: pods outlive an agent restart */
} gpf_runtime_ops;

struct gpf_runtime {
    const gpf_runtime_ops *ops;
    void *priv;
    /* The most pods it runs at once, set by its open: oci its uid ranges (max_pods), process
     * its sshd ports; 0 = no limit of its own (fake). The agent reports it at registration,
     * capped at what one heartbeat carries (GPF_AGENT_MAX_PODS). */
    int max_pods;
};

typedef struct gpf_runtime_config {
    const char *state_dir;            /* per-pod dirs live under state_dir/pods/<id>/ */
    const char *listen_address;       /* sshd ListenAddress, e.g. "127.0.0.1" */
    int port_min, port_max;           /* sshd port range */
    const char *sshd_path;            /* default "/usr/sbin/sshd" */
    const char *init_path;            /* the program whose `pod-init` is each pod's root process;
                                       * NULL = gpufleet-ssh-helper beside this program, else this
                                       * program (/proc/self/exe) */
    const char *bwrap_path;           /* default "/usr/bin/bwrap"; "" disables bubblewrap */
    int start_timeout_ms;             /* readiness wait, default 5000 */
    const char *cgroup_root;          /* cgroup v2 mount, NULL = "/sys/fs/cgroup"; "" = no cgroups.
                                       * Pods get <root>/gpufleet/pod-<id>. */
    /* oci only */
    const char *runc_path;            /* default "/usr/sbin/runc" */
    const char *slirp_path;           /* outbound network: default "/usr/bin/slirp4netns"; "" = none */
    const char *pod_init_path;        /* the static pod-init put into every pod; NULL = gpufleet-pod-init
                                       * beside this program */
    long long uid_base;               /* host uid of the first pod's uid 0; pod k gets base + k * 65536 */
    int max_pods;                     /* uid ranges available: pods on the host at once (default 1024) */
    long long pids_max;               /* processes per pod (default 4096) */
    int no_new_privs;                 /* 1: set no_new_privs (then sudo inside cannot work) */
} gpf_runtime_config;

/* Begins the pod and waits until it is ready (sshd accepts connections) or failed. */
int gpf_runtime_start(gpf_runtime *rt, const gpf_pod_spec *spec, gpf_pod_status *st, gpf_error *err);

int gpf_runtime_process_open(const gpf_runtime_config *cfg, gpf_runtime **out, gpf_error *err);
/* The OCI runtime (runtime_oci.c): each pod an OCI container run by runc from its image,
 * with its own user namespace and uid range, network namespace, seccomp, cgroups and SSH
 * host key (docs/security.md). GPF_EUNAVAIL saying what is missing (root, runc, idmapped
 * mounts) when this host cannot run it. */
int gpf_runtime_oci_open(const gpf_runtime_config *cfg, gpf_runtime **out, gpf_error *err);
int gpf_runtime_fake_open(gpf_runtime **out, gpf_error *err);
/* Test hook of the fake runtime: the SSH sessions its activity op reports for a running
 * pod (0 until set). 0, or GPF_ENOTFOUND when the pod does not run. */
int gpf_runtime_fake_set_sessions(gpf_runtime *rt, const char *pod_id, int sessions);
void gpf_runtime_close(gpf_runtime *rt); /* accepts NULL */

#endif
