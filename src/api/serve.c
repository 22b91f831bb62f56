#include "api/serve.h"

#include <arpa/inet.h>
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
#include "util/tls.h"

#define OPT(...) GPF_CFG_OPT(gpf_serve_config, __VA_ARGS__)
const gpf_cfg_opt gpf_serve_options[] = {
    OPT("listen", GPF_CFG_STR, "127.0.0.1:8470", 0, 0, listen, "address:port of the HTTP API (port 0 = any free port)"),
    OPT("http-max-connections", GPF_CFG_INT, "4096", 16, 1000000, http_max_connections,
        "connections of all clients together (the file-descriptor limit is raised for them)"),
    OPT("http-max-per-client", GPF_CFG_INT, "64", 0, 1000000, http_max_per_client,
        "connections one client address may hold (0 = unlimited; 127.0.0.1 and ::1 are exempt)"),
    OPT("http-timeout-s", GPF_CFG_INT, "10", 1, 3600, http_timeout_s,
        "a connection idle this long while sending a request (or between requests) is closed"),
    OPT("tls-cert", GPF_CFG_STR, "", 0, 0, tls_cert,
        "PEM certificate (chain) the API serves HTTPS with (\"\" = plain HTTP)"),
    OPT("tls-key", GPF_CFG_STR, "", 0, 0, tls_key, "PEM private key of --tls-cert (refused when others may read it)"),
    OPT("insecure-http", GPF_CFG_BOOL, "false", 0, 0, insecure_http,
        "allow plain HTTP on an address that is not loopback (behind a TLS-terminating proxy)"),
    OPT("state-dir", GPF_CFG_STR, "/var/lib/gpufleet", 0, 0, state_dir, "database and runtime files"),
    OPT("demo", GPF_CFG_BOOL, "false", 0, 0, demo, "start local agents on the built-in demo fleet and demo SKUs"),
    OPT("demo-tls", GPF_CFG_BOOL, "true", 0, 0, demo_tls,
        "--demo without --tls-cert: serve HTTPS with a CA and certificate made in STATE_DIR/tls on first start"),
    OPT("demo-runtime", GPF_CFG_STR, "oci", 0, 0, demo_runtime,
        "pod runtime of the demo agents: oci (the sandbox; needs root, else process is used), process or fake"),
    OPT("demo-ssh-port-base", GPF_CFG_INT, "22000", 1024, 64000, demo_ssh_port_base, "first sshd port of demo pods"),
    OPT("join-token", GPF_CFG_STR, "", 0, 0, join_token,
        "agents' join token, the one named \"initial\" (\"\" = generate once, print once; better: "
        "--join-token-file or GPUFLEET_JOIN_TOKEN, which ps does not show)"),
    OPT("join-token-file", GPF_CFG_STR, "", 0, 0, join_token_file,
        "file holding the agents' join token (refused when others may read it)"),
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
    OPT("store-sync", GPF_CFG_STR, "group", 0, 0, store_sync,
        "how a change is made durable before it is answered: group (commits share fsyncs: group commit) or "
        "full (one fsync per commit); both survive kill -9 and power loss (docs/architecture.md)"),
    OPT("default-image", GPF_CFG_STR, "", 0, 0, default_image,
        "OCI image layout directory imported as image \"default\" at start when its digest changed "
        "(\"\" = none; --demo: the one `make image` builds)"),
    GPF_CFG_END,
};

#define MAX_DEMO_AGENTS 8

/* --store-sync: "group" or "full". */
static int store_sync_mode(const char *name, gpf_store_sync *out, gpf_error *err)
{
    if (strcmp(name, "group") == 0)
        *out = GPF_STORE_SYNC_GROUP;
    else if (strcmp(name, "full") == 0)
        *out = GPF_STORE_SYNC_FULL;
    else
        return gpf_error_set(err, GPF_EINVAL, "store-sync must be group or full (got '%s')", name);
    return 0;
}

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

/* ---- transport: HTTPS, or plain HTTP on loopback ------------------------------ */

/* What the API serves with: PEM texts (NULL = plain HTTP) and what clients need to know. */
typedef struct serve_tls {
    char *cert_pem;
    char *key_pem;
    char ca_file[640];           /* demo: the CA it made; "" otherwise */
    char pin[64];                /* "" = plain HTTP */
} serve_tls;

static void serve_tls_clear(serve_tls *t)
{
    if (t->key_pem)
        explicit_bzero(t->key_pem, strlen(t->key_pem));
    gpf_free(t->key_pem);
    gpf_free(t->cert_pem);
    memset(t, 0, sizeof *t);
}

/* 1 for 127.0.0.0/8, ::1 and ::ffff:127.x.y.z (no one but this machine can listen in), 0
 * for another IP address, -1 for what is not one. */
static int is_loopback(const char *addr)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, addr, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return -1;
}

/* Reads and checks the certificate and key: the key's mode (others: refused; its group:
 * a warning), that they parse and belong together, and when the certificate ends. */
static int load_pair(const char *cert, const char *key, serve_tls *t, gpf_error *err)
{
    int group = 0, rc;
    int64_t not_after = 0;
    size_t len = 0;
    if ((rc = gpf_tls_key_mode_check(key, &group, err)) != 0)
        return rc;
    if (group)
        GPF_WARN("serve", "event=tls_key_group_readable path=%s msg=\"the key's group may read it\"", key);
    if ((rc = gpf_read_file_raw(cert, 1 << 20, &t->cert_pem, &len, err)) != 0 ||
        (rc = gpf_read_file_raw(key, 64 * 1024, &t->key_pem, &len, err)) != 0)
        return rc;
    gpf_error why = {0};
    if ((rc = gpf_tls_check_pair(t->cert_pem, t->key_pem, &not_after, t->pin, sizeof t->pin, &why)) != 0)
        return gpf_error_set(err, rc, "%s, %s: %s", cert, key, gpf_error_msg(&why));
    if (not_after * 1000 < gpf_now_ms())
        GPF_WARN("serve", "event=tls_cert_expired path=%s msg=\"clients will refuse it\"", cert);
    return 0;
}

/* Decides the transport: --tls-cert/--tls-key; the demo's own CA and certificate; or plain
 * HTTP, which only a loopback address gets without --insecure-http. */
static int setup_transport(const gpf_serve_config *cfg, const char *addr, serve_tls *t, gpf_error *err)
{
    char dir[600];
    gpf_tls_files files;
    int made = 0, rc;
    if (!cfg->tls_cert[0] != !cfg->tls_key[0])
        return gpf_error_set(err, GPF_EINVAL, "--tls-cert and --tls-key go together");
    if (cfg->tls_cert[0])
        return load_pair(cfg->tls_cert, cfg->tls_key, t, err);
    if (cfg->demo && cfg->demo_tls) {
        snprintf(dir, sizeof dir, "%s/tls", cfg->state_dir);
        if ((rc = gpf_tls_demo_ensure(dir, gpf_now_ms() / 1000, &files, &made, err)) != 0)
            return rc;
        if (made)
            GPF_INFO("serve", "event=demo_tls made=%s%s ca=%s", made & GPF_TLS_MADE_CA ? "ca," : "", "server",
                     files.ca_cert);
        gpf_strlcpy(t->ca_file, files.ca_cert, sizeof t->ca_file);
        return load_pair(files.server_cert, files.server_key, t, err);
    }
    int loopback = is_loopback(addr);
    if (loopback < 0)
        return gpf_error_set(err, GPF_EINVAL, "listen address '%s' is not an IP address", addr);
    if (loopback)
        return 0;
    if (!cfg->insecure_http)
        return gpf_error_set(err, GPF_EINVAL,
                             "listening on %s without TLS would carry tokens in the clear: give --tls-cert and "
                             "--tls-key, or --insecure-http (e.g. behind a proxy that terminates TLS)", addr);
    GPF_WARN("serve", "event=insecure_http listen=%s msg=\"plain HTTP on an address that is not loopback: tokens "
                      "cross the network in the clear\"", addr);
    return 0;
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
                         const char *ca_file, const char *host, int idx)
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
    if (ca_file[0])
        setenv("GPUFLEET_CA_FILE", ca_file, 1);
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
    gpf_store *readers[GPF_ENGINE_READERS] = {0}; /* list and get reads outside the engine's lock */
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
    gpf_store_sync sync = GPF_STORE_SYNC_GROUP;
    serve_tls tls;
    memset(&tls, 0, sizeof tls);

    if ((rc = split_listen(cfg->listen, addr, sizeof addr, &port, err)) != 0)
        goto out;
    if (mkdir(cfg->state_dir, 0700) != 0 && errno != EEXIST) {
        rc = gpf_error_set(err, GPF_EIO, "cannot create state directory %s: %s", cfg->state_dir, strerror(errno));
        goto out;
    }
    if ((rc = setup_transport(cfg, addr, &tls, err)) != 0) /* before a first start makes its tokens */
        goto out;
    gpf_data_dir catalog_src = {cfg->catalog_dir, GPF_CATALOG_BUILTIN};
    if ((rc = gpf_catalog_load(gpf_data_file_reader, &catalog_src, &cat, err)) != 0)
        goto out;
    snprintf(dbpath, sizeof dbpath, "%s/gpufleet.db", cfg->state_dir);
    make_private(dbpath);
    if ((rc = gpf_store_open(dbpath, &store, err)) != 0)
        goto out;
    if ((rc = store_sync_mode(cfg->store_sync, &sync, err)) != 0 || (rc = gpf_store_set_sync(store, sync, err)) != 0)
        goto out;
    gpf_engine_config ec = {0};
    for (int i = 0; i < GPF_ENGINE_READERS; i++)
        if ((rc = gpf_store_open_reader(dbpath, &readers[i], err)) != 0)
            goto out;
        else
            ec.readers[i] = readers[i];
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
    /* the configured join token (--join-token, GPUFLEET_JOIN_TOKEN or --join-token-file) */
    if ((rc = gpf_secret_option("join-token", cfg->join_token, cfg->join_token_file, join_in, sizeof join_in, err)) !=
        0)
        goto out;
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
    ac.tls_cert_pem = tls.cert_pem;
    ac.tls_key_pem = tls.key_pem;
    rc = gpf_api_start(&ac, &api, err);
    if (tls.key_pem) /* the server holds its own copy */
        explicit_bzero(tls.key_pem, strlen(tls.key_pem));
    if (rc != 0)
        goto out;
    snprintf(url, sizeof url, strchr(addr, ':') ? "%s://[%s]:%d" : "%s://%s:%d", tls.pin[0] ? "https" : "http",
             strcmp(addr, "0.0.0.0") ? addr : "127.0.0.1", gpf_api_port(api));
    snprintf(path, sizeof path, "%s/serve.url", cfg->state_dir);
    write_small_file(path, url, 0644);
    GPF_INFO("serve", "event=listening url=%s state_dir=%s tls_pin=%s", url, cfg->state_dir,
             tls.pin[0] ? tls.pin : "-");
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
            pid_t pid = spawn_agent(cfg, self_exe, url, join, tls.ca_file, demo_hosts[i], nagents);
            if (pid > 0)
                agents[nagents++] = pid;
        }
    }
    if (ready) {
        gpf_serve_ready facts = {.url = url, .admin_token = admin_token, .join_token = join,
                                 .state_dir = cfg->state_dir, .ca_file = tls.ca_file, .tls_pin = tls.pin,
                                 .demo = cfg->demo};
        ready(&facts, ready_arg);
    }
    while (!*stop) {
        gpf_sleep_ms(200);
        gpf_engine_tick(eng);
        gpf_engine_token_use_flush(eng, 0); /* tokens' last use: at most once a minute */
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
    if (eng)
        gpf_engine_token_use_flush(eng, 1);
    gpf_engine_free(eng);
    for (int i = 0; i < GPF_ENGINE_READERS; i++)
        gpf_store_close(readers[i]);
    gpf_store_close(store);
    gpf_catalog_free(cat);
    serve_tls_clear(&tls);
    return rc;
}
