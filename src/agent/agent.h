/* `gpufleet agent`: registers the host with the control plane, heartbeats, takes
 * commands by long poll, runs pods through a runtime, and reports their state. */
#ifndef GPF_AGENT_AGENT_H
#define GPF_AGENT_AGENT_H

#include <signal.h>

#include "util/config.h"
#include "util/error.h"

typedef struct gpf_agent_config {
    char server[256];
    char join_token[128];
    char join_token_file[512];  /* the join token from a file (mode 0600); "" = --join-token */
    char ca_file[512];          /* CA of an https server's certificate; "" = the system's store */
    char pin[256];              /* sha256//… the server's public key must match; "" = none */
    char state_dir[512];
    char backend[16];
    char nvml_lib[256];
    char fake_fleet[512];
    char host_id[64];
    char address[128];
    char runtime[16];
    char runc[256];
    char cdi_spec_dirs[512];
    char slirp4netns[256];
    long long pod_uid_base;
    long long max_pods;
    long long image_gc_free_gb;
    long long pod_pids_max;
    int pod_no_new_privs;
    long long ssh_port_min;
    long long ssh_port_max;
    char bwrap[256];
    char sshd[256];
    char log_level[16];
    char sysfs_root[256];
    char catalog_dir[512];
    char pod_cpus[256];
    char cgroup_root[256];
    char dev_root[256];
    long long vm_mmio_gb;
    long long vm_gpus;
} gpf_agent_config;

extern const gpf_cfg_opt gpf_agent_options[];

/* Runs until *stop becomes non-zero. Returns 0, or an error that prevents starting
 * (bad fixture, runtime cannot open). Network failures are retried, never fatal. */
int gpf_agent_run(const gpf_agent_config *cfg, volatile sig_atomic_t *stop, gpf_error *err);

#endif
