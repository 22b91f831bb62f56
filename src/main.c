/* The one main(): dispatches `serve`, `agent` and the CLI verbs. Only main() exits. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/gpu_backend.h"
#include "agent/podinit.h"
#include "api/serve.h"
#include "cli/cli.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/embedded.h"
#include "util/fileio.h"
#include "util/log.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* `gpufleet serve`'s banner, once the control plane listens; arg is this binary's path. */
static void print_banner(const gpf_serve_ready *r, void *arg)
{
    const char *self = arg;
    printf("\ngpufleet control plane listening on %s\n", r->url);
    if (r->tls_pin[0])
        printf("TLS certificate pin (for --pin): %s\n", r->tls_pin);
    if (r->ca_file[0])
        printf("clients verify it with the CA in %s (--ca-file)\n", r->ca_file);
    if (r->admin_token[0] && r->demo)
        printf("admin token (demo: also kept in %s/demo-admin-token): %s\n", r->state_dir, r->admin_token);
    else if (r->admin_token[0])
        printf("admin token (shown once; only its hash is stored): %s\n", r->admin_token);
    if (r->join_token[0] && !r->demo)
        printf("agent join token (shown once): %s\n", r->join_token);
    if (r->demo) {
        printf("\nDemo fleet: gpu-h100-a (8x H100 80GB, GPUs 6-7 in MIG mode), gpu-a100-b (4x A100 80GB), "
               "gpu-l40s-c (2x L40S)\nDemo SKUs: h100-whole, h100-1g10 (MIG 1g.10gb), l40s-quarter (250/1000 of an L40S)\n");
        printf("\nTry it (in another terminal):\n\n");
        printf("  %s login --server %s%s%s --token %s\n", self, r->url, r->ca_file[0] ? " --ca-file " : "", r->ca_file,
               r->admin_token[0] ? r->admin_token : "<admin token>");
        printf("  %s sku ls\n", self);
        printf("  POD=$(%s pod launch h100-1g10 --quiet)\n", self);
        printf("  %s ssh $POD -- 'echo hello from $GPUFLEET_POD_ID on $CUDA_VISIBLE_DEVICES'\n", self);
        printf("  %s usage\n", self);
        printf("  %s pod stop $POD\n", self);
        printf("\nPress Ctrl-C to stop the control plane (running pods keep running; stop them first).\n\n");
    }
    fflush(stdout);
}

/* Loads a daemon's configuration; returns -1 to go on, or an exit code. */
static int load_config(const char *verb, const gpf_cfg_opt *opts, void *cfg, int argc, char **argv,
                       const char *log_level)
{
    int dump = 0, help = 0;
    gpf_error err = {0};
    if (gpf_config_load(opts, cfg, argc, argv, &dump, &help, &err) != 0) {
        fprintf(stderr, "gpufleet %s: %s\n", verb, gpf_error_msg(&err));
        return 2;
    }
    gpf_buf b = {0};
    if (help) {
        gpf_buf_printf(&b, "usage: gpufleet %s [options]\n\noptions (also GPUFLEET_<NAME> environment variables):\n", verb);
        gpf_config_usage(opts, &b);
    } else if (dump) {
        gpf_config_dump(opts, cfg, &b);
    }
    if (help || dump) {
        fputs(gpf_buf_cstr(&b), stdout);
        gpf_buf_clear(&b);
        return 0;
    }
    int lvl = gpf_log_parse_level(log_level);
    if (lvl < 0) {
        fprintf(stderr, "gpufleet %s: log-level must be debug, info, warn or error\n", verb);
        return 2;
    }
    gpf_log_set_level((gpf_log_level)lvl);
    return -1;
}

int main(int argc, char **argv)
{
    char self[4096];
    gpf_error err = {0};
    if (argc >= 2 && !strcmp(argv[1], "serve")) {
        gpf_serve_config cfg;
        memset(&cfg, 0, sizeof cfg);
        /* cfg.log_level is read after the table filled it */
        int rc = load_config("serve", gpf_serve_options, &cfg, argc - 2, argv + 2, cfg.log_level);
        if (rc >= 0)
            return rc;
        install_signals();
        char **hosts = NULL;
        int nhosts = 0;
        if (cfg.demo) { /* one local agent per host of the built-in demo fleet */
            const gpf_embedded_file *f = gpf_embedded_find("data/demo-fleet.json");
            if (!f || gpf_gpu_fake_host_ids(f->data, &hosts, &nhosts, &err) != 0) {
                fprintf(stderr, "gpufleet serve: the built-in demo fleet: %s\n",
                        f ? gpf_error_msg(&err) : "not in this binary");
                return 1;
            }
            hosts = gpf_realloc(hosts, ((size_t)nhosts + 1) * sizeof *hosts);
            hosts[nhosts] = NULL;
        }
        const char *exe = gpf_self_exe(self, sizeof self, argv[0]);
        rc = gpf_serve_run(&cfg, (const char *const *)hosts, &stop_flag, exe, print_banner, (void *)exe, &err);
        for (int i = 0; i < nhosts; i++)
            gpf_free(hosts[i]);
        gpf_free(hosts);
        if (rc != 0) {
            fprintf(stderr, "gpufleet serve: %s\n", gpf_error_msg(&err));
            return 1;
        }
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "pod-init")) /* a pod's root process (agent/podinit.h) */
        return gpf_pod_init_main(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "agent")) {
        gpf_agent_config cfg;
        memset(&cfg, 0, sizeof cfg);
        /* cfg.log_level is read after the table filled it */
        int rc = load_config("agent", gpf_agent_options, &cfg, argc - 2, argv + 2, cfg.log_level);
        if (rc >= 0)
            return rc;
        install_signals();
        if (gpf_agent_run(&cfg, &stop_flag, &err) != 0) {
            fprintf(stderr, "gpufleet agent: %s\n", gpf_error_msg(&err));
            return 1;
        }
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "sim"))
        return gpf_cli_sim_main(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "check"))
        return gpf_cli_check_main(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "discover"))
        return gpf_cli_discover_main(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "ssh-proxy"))
        return gpf_cli_ssh_proxy_main(argc - 2, argv + 2);
    if (argc >= 2 && (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version"))) {
        printf("gpufleet %s\n", GPF_VERSION);
        return 0;
    }
    return gpf_cli_main(argc, argv);
}
