#include "api/serve.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/api.h"
#include "catalog/catalog.h"
#include "engine/engine.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/datafile.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/secret.h"
#include "util/subproc.h"
#include "util/timeutil.h"

#define OPT(...) GPF_CFG_OPT(gpf_serve_config, __VA_ARGS__)
const gpf_cfg_opt gpf_serve_options[] = {
    OPT("listen", GPF_CFG_STR, "127.0.0.1:8470", 0, 0, listen, "address:port of the HTTP API (port 0 = any free port)"),
    OPT("http-max-connections", GPF_CFG_INT, "4096", 16, 1000000, http_max_connections,
        "connections of all clients together (the file-descriptor limit is raised for them)"),
    OPT("http-max-per-client", GPF_CFG_INT, "64", 0, 1000000, http_max_per_client,
        "connections one client address may hold (0 = unlimited; 127.0.0.1 and ::1 are exempt)"),
    OPT("http-timeout-s", GPF_CFG_INT, "10", 1, 3600, http_timeout_s,
        "a connection idle this long while sending a request (or between requests) is closed"),
    OPT("state-dir", GPF_CFG_STR, "/var/lib/gpufleet", 0, 0, state_dir, "database and runtime files"),
    OPT("demo", GPF_CFG_BOOL, "false", 0, 0, demo, "start local agents on the built-in demo fleet and demo SKUs"),
    OPT("demo-runtime", GPF_CFG_STR, "oci", 0, 0, demo_runtime,
        "pod runtime of the demo agents: oci (the sandbox; needs root, else process is used), process or fake"),
    OPT("demo-ssh-port-base", GPF_CFG_INT, "22000", 1024, 64000, demo_ssh_port_base, "first sshd port of demo pods"),
    OPT("join-token", GPF_CFG_STR, "", 0, 0, join_token, "agents' join token (\"\" = generate once, print once)"),
    OPT("heartbeat-ms", GPF_CFG_INT, "2000", 100, 600000, heartbeat_ms, "agent heartbeat interval"),
    OPT("lost-after-beats", GPF_CFG_INT, "5", 1, 1000, lost_after_beats, "missed heartbeats before unreachable"),
    OPT("host-grace-s", GPF_CFG_INT, "600", 1, 604800, host_grace_s,
        "how long an unreachable host keeps its pods (still metered) before it and they are lost"),
    OPT("pod-start-timeout-ms", GPF_CFG_INT, "120000", 1000, 86400000, pod_start_timeout_ms,
        "a pod its agent has not started by then fails and frees its slice"),
    OPT("catalog-dir", GPF_CFG_STR, "", 0, 0, catalog_dir, "directory with gpus.csv, mig_profiles.csv, vgpu_profiles.csv (\"\" = built in)"),
    OPT("log-level", GPF_CFG_STR, "info", 0, 0, log_level, "debug, info, warn or error"),
    OPT("placement-policy", GPF_CFG_STR, "gpufleet", 0, 0, placement_policy,
        "how whole-GPU and share pods are placed: gpufleet, fgd, best-fit, first-fit, ... (docs/placement.md)"),
    OPT("default-image", GPF_CFG_STR, "", 0, 0, default_image,
        "OCI image layout directory imported as image \"default\" at start when its digest changed "
        "(\"\" = none; --demo: the one `make image` builds)"),
    GPF_CFG_END,
};

#define MAX_DEMO_AGENTS 8

static int split_listen(const char *listen, char *addr, size_t asz, int *port, gpf_error *err)
{
    const char *colon = strrchr(listen, ':');
    if (!colon)
        return gpf_error_set(err, GPF_EINVAL, "listen must be ADDRESS:PORT (got '%s')", listen);
    size_t n = (size_t)(colon - listen);
    if (n >= asz)
        return gpf_error_set(err, GPF_EINVAL, "listen address too long");
    if (n >= 2 && listen[0] == '[' && listen[n - 1] == ']') {
        memcpy(addr, listen + 1, n - 2);
        addr[n - 2] = '\0';
    } else {
        memcpy(addr, listen, n);
        addr[n] = '\0';
    }
    char *end = NULL;
    long p = strtol(colon + 1, &end, 10);
    if (!end || *end || p < 0 || p > 65535)
        return gpf_error_set(err, GPF_EINVAL, "listen port must be 0..65535 (got '%s')", colon + 1);
    *port = (int)p;
    return 0;
}

static void write_small_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return;
    ssize_t w = write(fd, text, strlen(text));
    (void)w;
    close(fd);
}

/* The database the store opens is private: the store creates a new one 0600 and sqlite
 * gives its -wal and -shm files the database's mode when it makes them; files an earlier
 * version left readable are tightened (0600) before the store opens them. */
static void make_private(const char *dbpath)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    char path[640];
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(path, sizeof path, "%s%s", dbpath, suffixes[i]);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) && chmod(path, 0600) != 0)
            GPF_WARN("serve", "event=chmod_failed path=%s msg=\"%s\"", path, strerror(errno));
    }
}

/* ---- the default image ------------------------------------------------------ */

typedef struct default_image_job {
    gpf_engine *engine;
    char dir[512];
} default_image_job;

/* Imports the default image in the background (a copy takes seconds; the API serves
 * meanwhile). Never fatal: what happened is logged. */
static void *default_image_main(void *arg)
{
    default_image_job *job = arg;
    gpf_error err = {0};
    gpf_image im;
    int imported = 0;
    memset(&im, 0, sizeof im);
    int rc = gpf_engine_image_ensure(job->engine, "default", job->dir, &imported, &im, &err);
    if (rc == GPF_ENOTFOUND)
        GPF_WARN("serve", "event=default_image_missing dir=%s msg=\"run `make image` to build the default pod image\"",
                 job->dir);
    else if (rc != 0)
        GPF_WARN("serve", "event=default_image_failed dir=%s msg=\"%s\"", job->dir, gpf_error_msg(&err));
    else
        GPF_INFO("serve", "event=default_image %s=%s digest=%s size_bytes=%lld", imported ? "imported" : "unchanged",
                 job->dir, im.digest, (long long)im.size_bytes);
    return NULL;
}

/* The demo's default image: the layout directory `bash scripts/build-image.sh --print-path`
 * names (the script of the source tree this binary was built in, else of the working
 * directory); "" when there is no such script or it prints nothing. */
static void demo_image_dir(const char *self, char *out, size_t size)
{
    char script[1024] = "", dir[600], text[2048];
    int code = 0;
    out[0] = '\0';
    gpf_strlcpy(dir, self, sizeof dir);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    const char *tries[] = {"%s/../scripts/build-image.sh", "%s/../../scripts/build-image.sh"};
    for (size_t i = 0; i < sizeof tries / sizeof tries[0] && !script[0] && slash; i++) {
        snprintf(script, sizeof script, tries[i], dir);
        if (access(script, R_OK) != 0)
            script[0] = '\0';
    }
    if (!script[0] && access("scripts/build-image.sh", R_OK) == 0)
        gpf_strlcpy(script, "scripts/build-image.sh", sizeof script);
    if (!script[0])
        return;
    char *argv[] = {"bash", script, "--print-path", NULL};
    if (gpf_subproc_run(argv, 10000, NULL, NULL, text, sizeof text, &code, NULL) != 0 || code != 0)
        return;
    /* the path is the last line that is one (the script's notes go to stderr, captured too) */
    for (char *rest = text, *line; (line = strsep(&rest, "\n"));)
        if (line[0] == '/')
            gpf_strlcpy(out, line, size);
}

/* ---- demo ---------------------------------------------------------------- */

static void demo_skus(gpf_engine *e)
{
    gpf_principal admin;
    memset(&admin, 0, sizeof admin);
    gpf_strlcpy(admin.user, "admin", sizeof admin.user);
    admin.role = GPF_ROLE_ADMIN;
    struct {
        const char *name, *desc, *model, *mig;
        gpf_slice_kind kind;
        int share, cpus;
        long long mem, price;
    } demo[] = {
        {"h100-whole", "One whole H100 80GB", "H100-80GB-SXM5", "", GPF_SLICE_WHOLE, 0, 16, 131072, 2500000},
        {"h100-1g10", "H100 MIG 1g.10gb slice (1/7 of the SMs, 10 GB)", "H100-80GB", "1g.10gb", GPF_SLICE_MIG, 0, 2, 16384, 400000},
        {"l40s-quarter", "A quarter of an L40S, time-shared", "L40S", "", GPF_SLICE_SHARE, 250, 4, 16384, 300000},
    };
    for (size_t i = 0; i < sizeof demo / sizeof demo[0]; i++) {
        gpf_sku k, existing;
        if (gpf_engine_sku_get(e, demo[i].name, &existing, NULL) == 0)
            continue;
        memset(&k, 0, sizeof k);
        gpf_strlcpy(k.name, demo[i].name, sizeof k.name);
        gpf_strlcpy(k.description, demo[i].desc, sizeof k.description);
        k.slice.kind = demo[i].kind;
        k.slice.gpu_count = 1;
        gpf_strlcpy(k.slice.mig_profile, demo[i].mig, sizeof k.slice.mig_profile);
        k.slice.share_milli = demo[i].share;
        k.nmodels = 1;
        gpf_strlcpy(k.models[0], demo[i].model, sizeof k.models[0]);
        k.cpus = demo[i].cpus;
        k.memory_mib = demo[i].mem;
        k.price_micro_per_hour = demo[i].price;
        k.min_isolation = GPF_ISO_SOFT; /* runs on every demo runtime (process gives soft); image: "default" */
        gpf_error err = {0};
        if (gpf_engine_sku_create(e, &admin, &k, NULL, &err) != 0)
            GPF_WARN("serve", "event=demo_sku_failed sku=%s msg=\"%s\"", k.name, gpf_error_msg(&err));
    }
}

/* The demo agents' runtime: the oci sandbox needs root; without it the demo runs plain
 * processes (isolation soft) and says so once. */
static const char *demo_runtime(const gpf_serve_config *cfg)
{
    static int warned;
    if (strcmp(cfg->demo_runtime, "oci") != 0 || geteuid() == 0)
        return cfg->demo_runtime;
    if (!warned++)
        GPF_WARN("serve", "event=demo_runtime runtime=process msg=\"not root: demo pods run as plain processes "
                          "(no sandbox, isolation soft); run as root for the oci sandbox\"");
    return "process";
}

static pid_t spawn_agent(const gpf_serve_config *cfg, const char *self, const char *url, const char *join,
                         const char *host, int idx)
{
    char sd[600], pmin[24], pmax[24];
    snprintf(sd, sizeof sd, "%s/agents/%s", cfg->state_dir, host);
    snprintf(pmin, sizeof pmin, "%lld", cfg->demo_ssh_port_base + idx * 200);
    snprintf(pmax, sizeof pmax, "%lld", cfg->demo_ssh_port_base + idx * 200 + 199);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    setenv("GPUFLEET_JOIN_TOKEN", join, 1); /* not on the command line, where ps would show it */
    char *argv[] = {(char *)self, "agent", "--server", (char *)url, "--backend", "fake", "--host-id", (char *)host,
                    "--state-dir", sd, "--runtime", (char *)demo_runtime(cfg), "--ssh-port-min", pmin,
                    "--ssh-port-max", pmax, "--log-level", (char *)cfg->log_level, NULL};
    execv(self, argv);
    _exit(127);
}

int gpf_serve_run(const gpf_serve_config *cfg, const char *const *demo_hosts, volatile sig_atomic_t *stop,
                  const char *self_exe, gpf_serve_ready_fn ready, void *ready_arg, gpf_error *err)
{
    int rc = 0;
    gpf_catalog *cat = NULL;
    gpf_store *store = NULL;
    gpf_engine *eng = NULL;
    gpf_api *api = NULL;
    default_image_job img_job;
    pthread_t img_thread;
    int img_started = 0;
    char images_dir[600];
    pid_t agents[MAX_DEMO_AGENTS];
    int nagents = 0;
    char addr[128], url[200], dbpath[600], path[600];
    char admin_token[128] = "", join[128] = "", join_in[128] = "";
    int port = 0;

    if ((rc = split_listen(cfg->listen, addr, sizeof addr, &port, err)) != 0)
        goto out;
    if (mkdir(cfg->state_dir, 0700) != 0 && errno != EEXIST) {
        rc = gpf_error_set(err, GPF_EIO, "cannot create state directory %s: %s", cfg->state_dir, strerror(errno));
        goto out;
    }
    gpf_data_dir catalog_src = {cfg->catalog_dir, GPF_CATALOG_BUILTIN};
    if ((rc = gpf_catalog_load(gpf_data_file_reader, &catalog_src, &cat, err)) != 0)
        goto out;
    snprintf(dbpath, sizeof dbpath, "%s/gpufleet.db", cfg->state_dir);
    make_private(dbpath);
    if ((rc = gpf_store_open(dbpath, &store, err)) != 0)
        goto out;
    gpf_engine_config ec = {0};
    ec.store = store;
    ec.catalog = cat;
    ec.heartbeat_ms = (int)cfg->heartbeat_ms;
    ec.lost_after_beats = (int)cfg->lost_after_beats;
    ec.host_grace_ms = (int64_t)cfg->host_grace_s * 1000;
    ec.start_timeout_ms = (int)cfg->pod_start_timeout_ms;
    ec.policy = cfg->placement_policy;
    snprintf(images_dir, sizeof images_dir, "%s/images", cfg->state_dir);
    ec.images_dir = images_dir;
    if ((rc = gpf_engine_open(&ec, &eng, err)) != 0)
        goto out;
    gpf_strlcpy(join_in, cfg->join_token, sizeof join_in);
    if (cfg->demo && !join_in[0])
        gpf_random_id("gpfjoin_", 40, join_in, sizeof join_in); /* demo agents get it directly */
    if ((rc = gpf_engine_bootstrap(eng, join_in, admin_token, sizeof admin_token, join, sizeof join, err)) != 0)
        goto out;
    if (cfg->demo) {
        gpf_strlcpy(join, join_in, sizeof join);
        /* Demo convenience: keep the admin token so every demo start can print it. */
        snprintf(path, sizeof path, "%s/demo-admin-token", cfg->state_dir);
        if (admin_token[0]) {
            write_small_file(path, admin_token, 0600);
        } else {
            char *t = NULL;
            if (gpf_read_file(path, 4096, &t, NULL) == 0) {
                gpf_strlcpy(admin_token, t, sizeof admin_token);
                admin_token[strcspn(admin_token, "\r\n")] = '\0';
                gpf_free(t);
            }
        }
        demo_skus(eng);
    }
    gpf_api_config ac = {0};
    ac.engine = eng;
    ac.bind_address = addr;
    ac.port = port;
    ac.version = GPF_VERSION;
    ac.max_connections = (int)cfg->http_max_connections;
    ac.max_per_client = cfg->http_max_per_client ? (int)cfg->http_max_per_client : -1;
    ac.timeout_s = (int)cfg->http_timeout_s;
    if ((rc = gpf_api_start(&ac, &api, err)) != 0)
        goto out;
    snprintf(url, sizeof url, strchr(addr, ':') ? "http://[%s]:%d" : "http://%s:%d",
             strcmp(addr, "0.0.0.0") ? addr : "127.0.0.1", gpf_api_port(api));
    snprintf(path, sizeof path, "%s/serve.url", cfg->state_dir);
    write_small_file(path, url, 0644);
    GPF_INFO("serve", "event=listening url=%s state_dir=%s", url, cfg->state_dir);
    memset(&img_job, 0, sizeof img_job);
    img_job.engine = eng;
    gpf_strlcpy(img_job.dir, cfg->default_image, sizeof img_job.dir);
    if (!img_job.dir[0] && cfg->demo)
        demo_image_dir(self_exe, img_job.dir, sizeof img_job.dir);
    if (img_job.dir[0])
        img_started = pthread_create(&img_thread, NULL, default_image_main, &img_job) == 0;
    if (cfg->demo && img_started) { /* the demo is ready to launch pods when its banner shows */
        pthread_join(img_thread, NULL);
        img_started = 0;
    }
    if (cfg->demo) {
        /* The oci runtime's pods (their own unprivileged uids) must be able to walk down to
         * their bundles: the state directory and agents/ are searchable, not listable. */
        snprintf(path, sizeof path, "%s/agents", cfg->state_dir);
        mkdir(path, 0711);
        chmod(path, 0711);
        chmod(cfg->state_dir, 0711);
        for (int i = 0; demo_hosts && demo_hosts[i] && nagents < MAX_DEMO_AGENTS; i++) {
            pid_t pid = spawn_agent(cfg, self_exe, url, join, demo_hosts[i], nagents);
            if (pid > 0)
                agents[nagents++] = pid;
        }
    }
    if (ready) {
        gpf_serve_ready facts = {url, admin_token, join, cfg->state_dir, cfg->demo};
        ready(&facts, ready_arg);
    }
    while (!*stop) {
        gpf_sleep_ms(200);
        gpf_engine_tick(eng);
        for (int i = 0; i < nagents; i++) {
            int st;
            if (agents[i] > 0 && waitpid(agents[i], &st, WNOHANG) == agents[i]) {
                GPF_WARN("serve", "event=demo_agent_exited pid=%d status=%d", (int)agents[i], st);
                agents[i] = -1;
            }
        }
    }
    GPF_INFO("serve", "event=shutdown");
out:
    for (int i = 0; i < nagents; i++)
        if (agents[i] > 0) {
            kill(agents[i], SIGTERM);
            waitpid(agents[i], NULL, 0);
        }
    gpf_api_stop(api); /* also stops a running import */
    if (img_started)
        pthread_join(img_thread, NULL);
    gpf_engine_free(eng);
    gpf_store_close(store);
    gpf_catalog_free(cat);
    return rc;
}
