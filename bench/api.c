/* bench/api: the control plane's HTTP API under a real load generator (wrk, Debian's
 * package), with a store that holds a large history (default 1,000,000 stopped pods).
 *
 * Seeds the history once into a cached database (DIR/history-<N>-s<schema>.db; the first
 * run prints how long that took), copies it into a fresh state directory, starts
 * `gpufleet serve` on it (plain HTTP on 127.0.0.1 by default: the figures are the control
 * plane's, not TLS's; --tls serves HTTPS with a CA the bench makes) and three
 * `gpufleet agent --runtime fake` agents for the hosts of the built-in demo fleet, creates
 * a tiny share SKU, then drives:
 *   reads        wrk with bench/api_reads.lua: a mix of GET /v1/pods (live), a page of
 *                GET /v1/pods?all=1 (history), GET /v1/pods/{historical id}, GET /v1/hosts
 *                and /healthz (--per-endpoint: each alone as well);
 *   launch/stop  wrk with bench/api_launch.lua: every connection launches a pod and stops
 *                it, over and over; launches and stops are timed apart;
 *   soak         (--soak S) both at once for S seconds while the control plane's RSS and
 *                open descriptors are sampled from /proc; a table of the samples.
 * Prints requests/s and p50/p99 with the targets beside them. Never fails on a time: the
 * exit status is non-zero only when the bench could not run (no wrk, no control plane).
 *
 *   build/bench/api [--gpufleet build/gpufleet] [--history 1000000] [--duration 10]
 *                   [--connections 32] [--threads 2] [--live 10] [--soak 0]
 *                   [--soak-every 0] [--db-cache /var/tmp/gpufleet-bench] [--tls]
 *                   [--per-endpoint] [--keep]
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <libgen.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_seed.h"
#include "util/alloc.h"
#include "util/fileio.h"
#include "util/httpc.h"
#include "util/secret.h"
#include "util/sshkey.h"
#include "util/subproc.h"
#include "util/timeutil.h"
#include "util/tls.h"

/* Targets of issue 16 (on its 2-core machine), printed beside the figures. */
#define TARGET_READS_PER_S 20000
#define TARGET_READ_P99_MS 10
#define TARGET_LAUNCHES_PER_S 2000

static const char *const HOSTS[] = {"gpu-h100-a", "gpu-a100-b", "gpu-l40s-c"}; /* the built-in demo fleet */
#define NHOSTS 3
#define SKU "bench-api"

typedef struct opts {
    const char *bin, *cache;
    long history;
    int duration, conns, threads, live, soak, soak_every, tls, per_endpoint, keep;
} opts;

/* The control plane the bench runs. */
typedef struct plane {
    char state[512], url[256], token[160], ca[700], token_file[600], scripts[4096], wrk[4096];
    pid_t serve, agents[NHOSTS];
    gpf_httpc *c;
} plane;

/* What one wrk run printed (the GPF_ lines of bench/api_*.lua). */
typedef struct wrk_run {
    char out[65536];
    int exit_code;
    int ok;           /* wrk ran and printed GPF_RESULT */
} wrk_run;

static volatile sig_atomic_t g_stop; /* SIGINT: no further phases (a running wrk ends on its own) */

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* ---- small helpers ------------------------------------------------------------------ */

/* n with thousands separators ("1,234,567"), in buf. */
static const char *grouped(long long n, char *buf, size_t size)
{
    char raw[32];
    int len = snprintf(raw, sizeof raw, "%lld", n < 0 ? -n : n), o = 0;
    if (n < 0 && (size_t)o + 1 < size)
        buf[o++] = '-';
    for (int i = 0; i < len && (size_t)o + 1 < size; i++) {
        buf[o++] = raw[i];
        if ((len - i - 1) % 3 == 0 && i < len - 1 && (size_t)o + 1 < size)
            buf[o++] = ',';
    }
    buf[o] = '\0';
    return buf;
}

/* The value of " key=" in a GPF_ line of text (the first line starting with tag); -1 when absent. */
static long long field(const char *text, const char *tag, const char *key)
{
    const char *line = strstr(text, tag);
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    if (!line)
        return -1;
    const char *end = strchr(line, '\n');
    const char *v = strstr(line, pat);
    if (!v || (end && v > end))
        return -1;
    return atoll(v + strlen(pat));
}

/* Size of path in bytes; -1 when it cannot be stat'ed. */
static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Copies src to dst (created 0600, must not exist): copy_file_range, else read/write. */
static int copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC), out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = in >= 0 && out >= 0 ? 0 : -1;
    char buf[1 << 16];
    while (rc == 0) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)1 << 30, 0);
        if (n == 0)
            break;
        if (n > 0)
            continue;
        if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP) {
            rc = -1;
            break;
        }
        while ((n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n) {
                rc = -1;
                break;
            }
        if (n < 0)
            rc = -1;
        break;
    }
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0)
        rc = -1;
    return rc;
}

/* Writes text to path with mode (replacing it). */
static int write_text(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    size_t n = strlen(text);
    int rc = write(fd, text, n) == (ssize_t)n ? 0 : -1;
    return close(fd) == 0 ? rc : -1;
}

/* ---- the cached history --------------------------------------------------------------- */

/* The schema version this build's store migrates to (it keys the cache). */
static int schema_version(void)
{
    gpf_store *s = NULL;
    gpf_error err = {0};
    int v = gpf_store_open(":memory:", &s, &err) == 0 ? gpf_store_schema_version(s) : -1;
    gpf_store_close(s);
    return v;
}

/* Seeds n stopped pods (ids seed-00000000 ..) into a new database at path, with progress. */
static int seed(const char *path, long n)
{
    gpf_store *s = NULL;
    gpf_error err = {0};
    int rc = gpf_store_open(path, &s, &err);
    const long chunk = 100000;
    int64_t t0 = gpf_mono_ms();
    for (long first = 0; rc == 0 && first < n; first += chunk) {
        gpf_store_seed spec = {0};
        spec.pods = (size_t)(n - first < chunk ? n - first : chunk);
        spec.first = (size_t)first;
        spec.start_ms = 1767225600000LL; /* 2026-01-01T00:00:00Z, one pod a second */
        rc = gpf_store_seed_history(s, &spec, &err);
        if (rc == 0 && n > chunk)
            fprintf(stderr, "  seeded %ld of %ld pods (%.0f s)\n", first + (long)spec.pods, n,
                    (double)(gpf_mono_ms() - t0) / 1000.0);
    }
    gpf_store_close(s); /* checkpoints the WAL: the file alone is the database */
    if (rc != 0)
        fprintf(stderr, "bench/api: seeding %s: %s\n", path, gpf_error_msg(&err));
    return rc;
}

/* Fills db with the cached history database of o->history pods, seeding it when missing. */
static int history_db(const opts *o, char *db, size_t size)
{
    int v = schema_version();
    if (v < 0 || (mkdir(o->cache, 0700) != 0 && errno != EEXIST)) {
        fprintf(stderr, "bench/api: cannot use the cache directory %s: %s\n", o->cache, strerror(errno));
        return -1;
    }
    snprintf(db, size, "%s/history-%ld-s%d.db", o->cache, o->history, v);
    char mb[32];
    if (file_size(db) > 0) {
        printf("history: %ld stopped pods, cached in %s (%s MB)\n", o->history, db,
               grouped(file_size(db) >> 20, mb, sizeof mb));
        return 0;
    }
    char tmp[720];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", db, (int)getpid());
    printf("history: seeding %ld stopped pods (with their closed usage) into %s, once ...\n", o->history, db);
    fflush(stdout);
    int64_t t0 = gpf_mono_ms();
    if (seed(tmp, o->history) != 0 || rename(tmp, db) != 0) {
        unlink(tmp);
        return -1;
    }
    double secs = (double)(gpf_mono_ms() - t0) / 1000.0;
    printf("history: seeded in %.1f s (%.0f pods/s), %s MB; later runs reuse it\n", secs,
           secs > 0 ? (double)o->history / secs : 0.0, grouped(file_size(db) >> 20, mb, sizeof mb));
    return 0;
}

/* ---- the control plane and its agents -------------------------------------------------- */

/* Forks and execs argv with stdout and stderr to log (appended); env: extra NAME=VALUE or NULL. */
static pid_t spawn(char *const argv[], const char *log, const char *env)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    int devnull = open("/dev/null", O_RDONLY);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
    }
    if (devnull >= 0)
        dup2(devnull, 0);
    if (env)
        putenv((char *)env);
    execv(argv[0], argv);
    _exit(127);
}

/* The admin token `serve` printed on its first start (its stdout in log); 0 when found. */
static int read_admin_token(const char *log, char *token, size_t size)
{
    char *text = NULL;
    int rc = -1;
    if (gpf_read_file(log, 1 << 20, &text, NULL) != 0)
        return -1;
    const char *p = strstr(text, "\nadmin token");
    if (!p)
        p = strncmp(text, "admin token", 11) == 0 ? text : NULL;
    if (p && (p = strstr(p, ": ")) != NULL) {
        p += 2;
        size_t n = strcspn(p, "\r\n");
        if (n > 0 && n < size) {
            memcpy(token, p, n);
            token[n] = '\0';
            rc = 0;
        }
    }
    gpf_free(text);
    return rc;
}

/* Starts `gpufleet serve` on the state directory; fills url, token and the client. */
static int start_serve(const opts *o, plane *pl)
{
    char join[128], path[700], log[700], cert[700], key[700], dir[600];
    gpf_error err = {0};
    gpf_random_id("gpfjoin_", 40, join, sizeof join);
    snprintf(path, sizeof path, "%s/join-token", pl->state);
    snprintf(log, sizeof log, "%s/serve.log", pl->state);
    if (write_text(path, join, 0600) != 0)
        return -1;
    char *argv[20] = {(char *)o->bin, "serve", "--listen", "127.0.0.1:0", "--state-dir", pl->state,
                      "--join-token-file", path, "--log-level", "warn"};
    int argc = 10;
    if (o->tls) {
        gpf_tls_files f;
        snprintf(dir, sizeof dir, "%s/tls", pl->state);
        if (gpf_tls_demo_ensure(dir, gpf_now_ms() / 1000, &f, NULL, &err) != 0) {
            fprintf(stderr, "bench/api: making a CA: %s\n", gpf_error_msg(&err));
            return -1;
        }
        gpf_strlcpy(cert, f.server_cert, sizeof cert);
        gpf_strlcpy(key, f.server_key, sizeof key);
        gpf_strlcpy(pl->ca, f.ca_cert, sizeof pl->ca);
        argv[argc++] = "--tls-cert";
        argv[argc++] = cert;
        argv[argc++] = "--tls-key";
        argv[argc++] = key;
    }
    int64_t t0 = gpf_mono_ms();
    pl->serve = spawn(argv, log, NULL);
    snprintf(path, sizeof path, "%s/serve.url", pl->state);
    char *url = NULL;
    for (int i = 0; i < 2400 && !url; i++) { /* 120 s: opening a large store takes a while */
        if (gpf_read_file(path, 4096, &url, NULL) != 0 || read_admin_token(log, pl->token, sizeof pl->token) != 0) {
            gpf_free(url);
            url = NULL;
            if (waitpid(pl->serve, NULL, WNOHANG) == pl->serve) {
                pl->serve = 0;
                break;
            }
            gpf_sleep_ms(50);
        }
    }
    if (!url) {
        fprintf(stderr, "bench/api: the control plane did not start (see %s)\n", log);
        return -1;
    }
    gpf_strlcpy(pl->url, url, sizeof pl->url);
    pl->url[strcspn(pl->url, "\r\n")] = '\0';
    gpf_free(url);
    gpf_httpc_tls tls = {pl->ca, NULL};
    if (gpf_httpc_new(pl->url, pl->token, &pl->c, &err) != 0 || (o->tls && gpf_httpc_set_tls(pl->c, &tls, &err) != 0)) {
        fprintf(stderr, "bench/api: %s\n", gpf_error_msg(&err));
        return -1;
    }
    printf("control plane: %s up in %.1f s (its log: %s)\n", pl->url, (double)(gpf_mono_ms() - t0) / 1000.0, log);
    snprintf(pl->token_file, sizeof pl->token_file, "%s/admin-token", pl->state);
    return write_text(pl->token_file, pl->token, 0600);
}

/* How many hosts GET /v1/hosts lists; -1 on error. */
static int host_count(plane *pl)
{
    json_t *resp = NULL;
    int status = 0, n = -1;
    gpf_error err = {0};
    if (gpf_httpc_request(pl->c, "GET", "/v1/hosts", NULL, &status, &resp, &err) == 0)
        n = (int)json_array_size(json_object_get(resp, "hosts"));
    json_decref(resp);
    return n;
}

/* Starts one fake-runtime agent per host of the demo fleet and waits until all registered. */
static int start_agents(const opts *o, plane *pl)
{
    static char env[200]; /* putenv keeps the pointer (in the child) */
    char join[128] = "", path[700], *text = NULL;
    snprintf(path, sizeof path, "%s/join-token", pl->state);
    if (gpf_read_file(path, 4096, &text, NULL) == 0)
        gpf_strlcpy(join, text, sizeof join);
    gpf_free(text);
    snprintf(env, sizeof env, "GPUFLEET_JOIN_TOKEN=%s", join); /* not on the command line */
    for (int i = 0; i < NHOSTS; i++) {
        char dir[700], log[700];
        snprintf(dir, sizeof dir, "%s/agent-%s", pl->state, HOSTS[i]);
        snprintf(log, sizeof log, "%s/agent-%s.log", pl->state, HOSTS[i]);
        char *argv[20] = {(char *)o->bin, "agent", "--server", pl->url, "--host-id", (char *)HOSTS[i], "--state-dir",
                          dir, "--runtime", "fake", "--log-level", "warn"};
        if (o->tls) {
            argv[12] = "--ca-file";
            argv[13] = pl->ca;
        }
        pl->agents[i] = spawn(argv, log, env);
    }
    for (int i = 0; i < 600 && !g_stop; i++) {
        if (host_count(pl) >= NHOSTS)
            return 0;
        gpf_sleep_ms(50);
    }
    fprintf(stderr, "bench/api: the agents did not register (see %s/agent-*.log)\n", pl->state);
    return -1;
}

/* The admin's SSH key (a launch needs one; the fake runtime never uses it) and the
 * bench's SKU: 1/1000 of a GPU, no CPU or memory booked, so each agent's most pods
 * (GPF_AGENT_MAX_PODS) bound the fleet, not the GPUs. */
static int make_sku(plane *pl)
{
    json_t *resp = NULL;
    int status = 0, rc;
    gpf_error err = {0};
    gpf_buf priv, pub;
    gpf_buf_init(&priv);
    gpf_buf_init(&pub);
    if ((rc = gpf_sshkey_ed25519("bench-api", &priv, &pub, &err)) == 0) {
        char *line = gpf_buf_steal(&pub);
        line[strcspn(line, "\n")] = '\0';
        json_t *k = json_pack("{s:s}", "ssh_pubkey", line);
        rc = gpf_httpc_request(pl->c, "PATCH", "/v1/users/admin", k, &status, &resp, &err);
        json_decref(k);
        json_decref(resp);
        resp = NULL;
        gpf_free(line);
    }
    gpf_buf_clear(&priv);
    json_t *b = json_pack("{s:s, s:{s:s, s:i}, s:i, s:i, s:s}", "name", SKU, "slice", "kind", "share", "share_milli", 1,
                          "cpus", 0, "memory_mib", 0, "min_isolation", "soft");
    if (rc == 0)
        rc = gpf_httpc_request(pl->c, "POST", "/v1/skus", b, &status, &resp, &err);
    json_decref(b);
    json_decref(resp);
    if (rc != 0)
        fprintf(stderr, "bench/api: setting up the admin's key and SKU %s: %s\n", SKU, gpf_error_msg(&err));
    return rc;
}

/* Launches n pods of the SKU that stay live while the reads run (GET /v1/pods lists them). */
static int launch_live(plane *pl, int n)
{
    json_t *b = json_pack("{s:s}", "sku", SKU);
    int ok = 0;
    gpf_error err = {0};
    for (int i = 0; i < n; i++) {
        json_t *resp = NULL;
        int status = 0;
        if (gpf_httpc_request(pl->c, "POST", "/v1/pods", b, &status, &resp, &err) == 0)
            ok++;
        else if (i == 0)
            fprintf(stderr, "bench/api: launching a pod: %s\n", gpf_error_msg(&err));
        json_decref(resp);
    }
    json_decref(b);
    return ok;
}

/* Percent-encodes s (a cursor) for a query string. */
static void url_encode(const char *s, char *out, size_t size)
{
    size_t o = 0;
    for (; *s && o + 4 < size; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || strchr("-._~", ch))
            out[o++] = (char)ch;
        else
            o += (size_t)snprintf(out + o, size - o, "%%%02X", ch);
    }
    out[o] = '\0';
}

/* Walks the first pages of GET /v1/pods?all=1&limit=100 and writes their cursors, one a
 * line, to path, for the read mix's history pages. Returns how many. */
static int write_cursors(plane *pl, const char *path, int pages)
{
    FILE *f = fopen(path, "w");
    char q[1200], enc[900];
    const char *cur = NULL;
    json_t *resp = NULL;
    int n = 0;
    gpf_error err = {0};
    for (int i = 0; f && i < pages; i++) {
        int status = 0;
        json_t *next = NULL;
        if (cur)
            url_encode(cur, enc, sizeof enc);
        snprintf(q, sizeof q, "/v1/pods?all=1&limit=100%s%s", cur ? "&cursor=" : "", cur ? enc : "");
        if (gpf_httpc_request(pl->c, "GET", q, NULL, &status, &next, &err) != 0)
            break;
        json_decref(resp);
        resp = next;
        cur = json_string_value(json_object_get(resp, "next_cursor"));
        if (!cur || !cur[0])
            break;
        url_encode(cur, enc, sizeof enc);
        fprintf(f, "%s\n", enc);
        n++;
    }
    json_decref(resp);
    if (f)
        fclose(f);
    return n;
}

/* One GET of each read of the mix, before the load: its status and size, so that a
 * misconfigured endpoint shows here rather than as a fast stream of errors. */
static void probe_reads(plane *pl, long history)
{
    char pod[64];
    snprintf(pod, sizeof pod, "/v1/pods/seed-%08ld", history > 0 ? history / 2 : 0);
    const char *paths[] = {"/v1/pods", "/v1/pods?all=1&limit=100", history > 0 ? pod : "/v1/pods", "/v1/hosts",
                           "/healthz"};
    printf("probe:");
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        char *text = NULL;
        int status = 0;
        gpf_error err = {0};
        gpf_httpc_get_text(pl->c, paths[i], &text, &status, &err);
        printf("%s GET %s %d (%zu bytes)", i ? "," : "", paths[i], status, text ? strlen(text) : 0);
        gpf_free(text);
    }
    printf("\n");
}

/* 1 while the control plane runs; once it has exited, says how (once) and returns 0. */
static int serve_alive(plane *pl)
{
    int st = 0;
    if (pl->serve <= 0)
        return 0;
    if (waitpid(pl->serve, &st, WNOHANG) != pl->serve)
        return 1;
    pl->serve = 0;
    if (WIFSIGNALED(st))
        fprintf(stderr, "bench/api: the control plane died of signal %d (%s); its log: %s/serve.log\n", WTERMSIG(st),
                strsignal(WTERMSIG(st)), pl->state);
    else
        fprintf(stderr, "bench/api: the control plane exited with status %d; its log: %s/serve.log\n",
                WEXITSTATUS(st), pl->state);
    return 0;
}

/* Pods by state from /metrics: *in_flight = pending + starting + stopping (what waits for an
 * agent), *live = those and running. -1 each when /metrics cannot be read. */
static void pod_counts(plane *pl, long *in_flight, long *live)
{
    static const char *const wait[] = {"pending", "starting", "stopping"};
    char *text = NULL, key[64];
    int status = 0;
    gpf_error err = {0};
    *in_flight = *live = -1;
    if (gpf_httpc_get_text(pl->c, "/metrics", &text, &status, &err) != 0 || status != 200) {
        gpf_free(text);
        return;
    }
    *in_flight = *live = 0;
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof key, "gpufleet_pods{state=\"%s\"} ", i < 3 ? wait[i] : "running");
        const char *v = strstr(text, key);
        long n = v ? atol(v + strlen(key)) : 0;
        *live += n;
        if (i < 3)
            *in_flight += n;
    }
    gpf_free(text);
}

/* After a launch/stop load: the pods still waiting for an agent (starting or stopping), and
 * how long the agents took to catch up (at most 120 s). */
static void drain(plane *pl)
{
    long in_flight, live;
    int64_t t0 = gpf_mono_ms();
    if (!serve_alive(pl))
        return;
    pod_counts(pl, &in_flight, &live);
    printf("  right after the load: %ld live pods, %ld of them pending, starting or stopping (waiting for an agent)",
           live, in_flight);
    while (in_flight > 0 && gpf_mono_ms() - t0 < 120000 && !g_stop) {
        gpf_sleep_ms(250);
        pod_counts(pl, &in_flight, &live);
    }
    if (in_flight == 0)
        printf("; the agents caught up in %.1f s\n", (double)(gpf_mono_ms() - t0) / 1000.0);
    else
        printf("; %ld still waiting after %.0f s\n", in_flight, (double)(gpf_mono_ms() - t0) / 1000.0);
}

/* Stops the agents, then the control plane; removes the state directory unless --keep. */
static void stop_plane(const opts *o, plane *pl)
{
    for (int i = 0; i < NHOSTS; i++)
        if (pl->agents[i] > 0)
            kill(pl->agents[i], SIGTERM);
    for (int i = 0; i < NHOSTS; i++)
        if (pl->agents[i] > 0)
            waitpid(pl->agents[i], NULL, 0);
    if (pl->serve > 0)
        kill(pl->serve, SIGTERM);
    if (pl->serve > 0)
        waitpid(pl->serve, NULL, 0);
    gpf_httpc_free(pl->c);
    pl->c = NULL;
    if (o->keep) {
        printf("state directory kept: %s (serve.log, agent-*.log)\n", pl->state);
        return;
    }
    char *argv[] = {"rm", "-rf", pl->state, NULL};
    int code = 0;
    gpf_subproc_run(argv, 120000, NULL, NULL, NULL, 0, &code, NULL);
}

/* ---- wrk ------------------------------------------------------------------------------- */

typedef struct wrk_job {
    const opts *o;
    const plane *pl;
    const char *script;   /* api_reads.lua or api_launch.lua */
    int threads, conns, secs;
    const char *extra[3]; /* script arguments after the token file */
    wrk_run *run;
} wrk_job;

/* Runs wrk as job says (a thread body: soak runs two at once). */
static void *run_wrk(void *arg)
{
    wrk_job *j = arg;
    char t[16], c[16], d[16], timeout[16], script[4200];
    snprintf(t, sizeof t, "%d", j->threads);
    snprintf(c, sizeof c, "%d", j->conns);
    snprintf(d, sizeof d, "%ds", j->secs);
    snprintf(timeout, sizeof timeout, "%ds", 10);
    snprintf(script, sizeof script, "%s/%s", j->pl->scripts, j->script);
    char *argv[20] = {(char *)j->pl->wrk, "-t", t, "-c", c, "-d", d, "--timeout", timeout, "-s", script,
                      (char *)j->pl->url, "--", (char *)j->pl->token_file};
    int argc = 14;
    for (int i = 0; i < 3 && j->extra[i]; i++)
        argv[argc++] = (char *)j->extra[i];
    gpf_error err = {0};
    j->run->ok = gpf_subproc_run(argv, (j->secs + 60) * 1000, NULL, NULL, j->run->out, sizeof j->run->out,
                                 &j->run->exit_code, &err) == 0 &&
                 j->run->exit_code == 0 && strstr(j->run->out, "GPF_RESULT") != NULL;
    if (!j->run->ok)
        fprintf(stderr, "bench/api: wrk (%s) failed (exit %d): %s\n%s\n", j->script, j->run->exit_code,
                gpf_error_msg(&err), j->run->out);
    return NULL;
}

/* n per second over us microseconds. */
static double per_s(long long n, long long us)
{
    return us > 0 ? (double)n * 1e6 / (double)us : 0.0;
}

/* The line of a read run: requests/s and latency with the targets. */
static void print_reads(const char *label, const wrk_run *r, int targets)
{
    char g[32];
    long long req = field(r->out, "GPF_RESULT", "requests"), us = field(r->out, "GPF_RESULT", "duration_us");
    double rate = per_s(req, us), p99 = (double)field(r->out, "GPF_RESULT", "p99_us") / 1000.0;
    printf("  %-24s %9s requests/s", label, grouped((long long)(rate + 0.5), g, sizeof g));
    if (targets)
        printf(" (target >= %s: %s)", grouped(TARGET_READS_PER_S, g, sizeof g),
               rate >= TARGET_READS_PER_S ? "met" : "NOT met");
    printf("  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms", (double)field(r->out, "GPF_RESULT", "p50_us") / 1000.0,
           (double)field(r->out, "GPF_RESULT", "p90_us") / 1000.0, p99);
    if (targets)
        printf(" (target < %d ms: %s)", TARGET_READ_P99_MS, p99 < TARGET_READ_P99_MS ? "met" : "NOT met");
    printf("  max %.1f ms  non-2xx %lld  socket errors %lld\n", (double)field(r->out, "GPF_RESULT", "max_us") / 1000.0,
           field(r->out, "GPF_RESULT", "non2xx"),
           field(r->out, "GPF_RESULT", "connect") + field(r->out, "GPF_RESULT", "read") +
               field(r->out, "GPF_RESULT", "write") + field(r->out, "GPF_RESULT", "timeout"));
}

/* The lines of a launch/stop run: per kind, then the non-2xx by status. */
static void print_launches(const wrk_run *r)
{
    static const char *const kinds[] = {"launch", "stop"};
    long long us = field(r->out, "GPF_RESULT", "duration_us");
    for (int k = 0; k < 2; k++) {
        char tag[32], g[32], target[64] = "";
        snprintf(tag, sizeof tag, "GPF_KIND kind=%s ", kinds[k]);
        double rate = per_s(field(r->out, tag, "n"), us);
        if (k == 0)
            snprintf(target, sizeof target, "(target >= %s: %s)", grouped(TARGET_LAUNCHES_PER_S, g, sizeof g),
                     rate >= TARGET_LAUNCHES_PER_S ? "met" : "NOT met");
        printf("  %-7s %7s/s %-26s", kinds[k], grouped((long long)(rate + 0.5), g, sizeof g), target);
        printf("  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.1f ms  (%lld done)\n",
               (double)field(r->out, tag, "p50_us") / 1000.0, (double)field(r->out, tag, "p90_us") / 1000.0,
               (double)field(r->out, tag, "p99_us") / 1000.0, (double)field(r->out, tag, "max_us") / 1000.0,
               field(r->out, tag, "n"));
    }
    const char *p = r->out;
    int any = 0;
    while ((p = strstr(p, "GPF_STATUS what=")) != NULL) {
        p += strlen("GPF_STATUS what=");
        printf("%s%.*s", any++ ? ", " : "  not 2xx (request/status count): ", (int)strcspn(p, "\n"), p);
    }
    if (any)
        printf("\n");
    if ((p = strstr(r->out, "GPF_FIRST_ERROR ")) != NULL)
        printf("  first of them: %.*s\n", (int)strcspn(p + 16, "\n"), p + 16);
    long long sock = field(r->out, "GPF_RESULT", "connect") + field(r->out, "GPF_RESULT", "read") +
                     field(r->out, "GPF_RESULT", "write") + field(r->out, "GPF_RESULT", "timeout");
    if (sock > 0)
        printf("  socket errors: %lld\n", sock);
}

/* A wrk job of the read mix (only: one endpoint of it, or NULL) on conns connections. */
static void read_job(const opts *o, const plane *pl, wrk_job *j, wrk_run *r, const char *cursors, const char *only,
                     int conns, int secs)
{
    static char history[32];
    snprintf(history, sizeof history, "%ld", o->history);
    memset(j, 0, sizeof *j);
    *j = (wrk_job){o, pl, "api_reads.lua", o->threads < conns ? o->threads : conns, conns, secs,
                   {history, cursors, only}, r};
}

/* A wrk job of launch/stop: one connection per wrk thread (see bench/api_launch.lua). */
static void launch_job(const opts *o, const plane *pl, wrk_job *j, wrk_run *r, int conns, int secs)
{
    memset(j, 0, sizeof *j);
    *j = (wrk_job){o, pl, "api_launch.lua", conns, conns, secs, {SKU, NULL, NULL}, r};
}

/* ---- soak ------------------------------------------------------------------------------ */

/* The control plane's resident memory (VmRSS, KiB), threads and open descriptors. */
static void sample_proc(pid_t pid, long *rss_kib, long *threads, long *fds)
{
    char path[64], line[256];
    *rss_kib = *threads = *fds = -1;
    if (pid <= 0)
        return;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "VmRSS:", 6))
            *rss_kib = atol(line + 6);
        else if (!strncmp(line, "Threads:", 8))
            *threads = atol(line + 8);
    }
    if (f)
        fclose(f);
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    struct dirent *e;
    long n = 0;
    while (d && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d) {
        closedir(d);
        *fds = n;
    }
}

typedef struct sample {
    int t_s;
    long rss_kib, threads, fds;
    long live, waiting; /* pods live, and of them waiting for an agent (from /metrics) */
} sample;

/* Prints the samples with a bar of RSS each: the curve (the last one is after the load). */
static void print_samples(const sample *s, int n)
{
    long max = 1;
    for (int i = 0; i < n; i++)
        max = s[i].rss_kib > max ? s[i].rss_kib : max;
    printf("  %6s %9s %6s %7s %9s %8s  RSS\n", "t (s)", "RSS MiB", "fds", "threads", "live pods", "waiting");
    for (int i = 0; i < n; i++) {
        char bar[41];
        if (s[i].rss_kib < 0) {
            printf("  %6d  (the control plane is gone)\n", s[i].t_s);
            continue;
        }
        int w = (int)(40 * s[i].rss_kib / max);
        memset(bar, '#', (size_t)w);
        bar[w] = '\0';
        printf("  %6d %9.1f %6ld %7ld %9ld %8ld  %s%s\n", s[i].t_s, (double)s[i].rss_kib / 1024.0, s[i].fds,
               s[i].threads, s[i].live, s[i].waiting, bar, i == n - 1 ? " (after the load)" : "");
    }
}

/* Reads and launch/stop at once for o->soak seconds, sampling the control plane. */
static void soak(const opts *o, plane *pl, const char *cursors)
{
    int every = o->soak_every > 0 ? o->soak_every : (o->soak / 30 > 1 ? o->soak / 30 : 1);
    int cap = o->soak / every + 8, n = 0, half = o->conns / 2 > 1 ? o->conns / 2 : 1;
    sample *s = gpf_calloc((size_t)cap, sizeof *s);
    wrk_run *rr = GPF_NEW(wrk_run), *lr = GPF_NEW(wrk_run);
    wrk_job rj, lj;
    read_job(o, pl, &rj, rr, cursors, NULL, half, o->soak);
    launch_job(o, pl, &lj, lr, half, o->soak);
    printf("\nsoak: reads (%d connections) and launch/stop (%d connections) at once for %d s; the control plane "
           "sampled every %d s\n", half, half, o->soak, every);
    fflush(stdout);
    pthread_t th[2];
    int64_t t0 = gpf_mono_ms();
    pthread_create(&th[0], NULL, run_wrk, &rj);
    pthread_create(&th[1], NULL, run_wrk, &lj);
    for (int t = 0; t < o->soak && n < cap - 1; t += every) { /* under load: t = 0, every, ... < soak */
        while (gpf_mono_ms() - t0 < (int64_t)t * 1000)
            gpf_sleep_ms(50);
        s[n].t_s = t;
        serve_alive(pl);
        sample_proc(pl->serve, &s[n].rss_kib, &s[n].threads, &s[n].fds);
        pod_counts(pl, &s[n].waiting, &s[n].live);
        n++;
    }
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    gpf_sleep_ms(2000); /* the load has stopped: what stays */
    s[n].t_s = (int)((gpf_mono_ms() - t0 + 500) / 1000);
    serve_alive(pl);
    sample_proc(pl->serve, &s[n].rss_kib, &s[n].threads, &s[n].fds);
    pod_counts(pl, &s[n].waiting, &s[n].live);
    print_samples(s, n + 1);
    /* flat: the second half of the soak (the first half warms caches and pools up) */
    int mid = (n - 1) / 2, last = n - 1;
    double mins = (double)(s[last].t_s - s[mid].t_s) / 60.0;
    if (s[n].rss_kib >= 0)
        printf("  second half of the soak (t %d -> %d s): RSS %.1f -> %.1f MiB (%+.2f MiB/min), fds %ld -> %ld; "
               "whole soak: RSS %.1f -> %.1f MiB, fds %ld -> %ld; 2 s after the load: RSS %.1f MiB, %ld fds\n",
               s[mid].t_s, s[last].t_s, (double)s[mid].rss_kib / 1024.0, (double)s[last].rss_kib / 1024.0,
               mins > 0 ? (double)(s[last].rss_kib - s[mid].rss_kib) / 1024.0 / mins : 0.0, s[mid].fds, s[last].fds,
               (double)s[0].rss_kib / 1024.0, (double)s[last].rss_kib / 1024.0, s[0].fds, s[last].fds,
               (double)s[n].rss_kib / 1024.0, s[n].fds);
    if (rr->ok)
        print_reads("soak reads (mix)", rr, 0);
    if (lr->ok)
        print_launches(lr);
    drain(pl);
    gpf_free(s);
    gpf_free(rr);
    gpf_free(lr);
}

/* ---- main ------------------------------------------------------------------------------ */

/* Prints the usage; the exit status of a bad command line. */
static int usage(void)
{
    fprintf(stderr, "usage: api [--gpufleet BIN] [--history N] [--duration S] [--connections N] [--threads N]\n"
                    "           [--live N] [--soak S] [--soak-every S] [--db-cache DIR] [--tls] [--per-endpoint] "
                    "[--keep]\n");
    return 2;
}

/* Fills o from the command line (defaults first); -1 on a bad one. */
static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){"build/gpufleet", "/var/tmp/gpufleet-bench", 1000000, 10, 32, 2, 10, 0, 0, 0, 0, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--keep") || !strcmp(a, "--tls") || !strcmp(a, "--per-endpoint")) {
            *(a[2] == 'k' ? &o->keep : a[2] == 't' ? &o->tls : &o->per_endpoint) = 1;
            continue;
        }
        if (!v)
            return -1;
        i++;
        const struct {
            const char *name;
            int *val;
        } ints[] = {{"--duration", &o->duration}, {"--connections", &o->conns}, {"--threads", &o->threads},
                    {"--live", &o->live},         {"--soak", &o->soak},         {"--soak-every", &o->soak_every}};
        size_t k = 0;
        while (k < sizeof ints / sizeof *ints && strcmp(a, ints[k].name))
            k++;
        if (k < sizeof ints / sizeof *ints)
            *ints[k].val = atoi(v);
        else if (!strcmp(a, "--gpufleet"))
            o->bin = v;
        else if (!strcmp(a, "--db-cache"))
            o->cache = v;
        else if (!strcmp(a, "--history"))
            o->history = atol(v);
        else
            return -1;
    }
    if (o->history < 0 || o->history > 99999999 || o->duration < 1 || o->conns < 1 || o->conns > 1000 ||
        o->threads < 1 || o->live < 0 || o->live > 1000 || o->soak < 0 || o->soak_every < 0)
        return -1;
    return 0;
}

/* Where bench/api_*.lua are: the nearest directory above the binary (BUILD/bench/api) with
 * bench/api_reads.lua in it, else ./bench. */
static void find_scripts(const char *self, char *dir, size_t size)
{
    char buf[4096], probe[4200];
    if (realpath(self, buf)) {
        for (int up = 0; up < 5; up++) {
            char *d = dirname(buf); /* in place */
            snprintf(probe, sizeof probe, "%s/bench/api_reads.lua", d);
            if (access(probe, R_OK) == 0) {
                snprintf(dir, size, "%s/bench", d);
                return;
            }
            if (d != buf)
                gpf_strlcpy(buf, d, sizeof buf);
        }
    }
    gpf_strlcpy(dir, realpath("bench", buf) ? buf : "bench", size);
}

/* The figures: reads (the mix, then each endpoint with --per-endpoint), launch/stop, soak. */
static void drive(const opts *o, plane *pl)
{
    char cursors[700], g[32];
    snprintf(cursors, sizeof cursors, "%s/cursors", pl->state);
    int live = launch_live(pl, o->live), pages = write_cursors(pl, cursors, 20);
    probe_reads(pl, o->history);
    wrk_run *r = GPF_NEW(wrk_run);
    wrk_job j;
    printf("\nreads: %d connections, %d wrk threads, %d s; %d live pods, %s historical; history pages: the first "
           "and %d more (cursors)\n  mix: 30%% GET /v1/pods, 10%% GET /v1/pods?all=1&limit=100, 40%% GET /v1/pods/{historical id}, "
           "10%% GET /v1/hosts, 10%% GET /healthz\n",
           o->conns, o->threads < o->conns ? o->threads : o->conns, o->duration, live, grouped(o->history, g, sizeof g),
           pages);
    fflush(stdout);
    read_job(o, pl, &j, r, cursors, NULL, o->conns, o->duration);
    run_wrk(&j);
    if (r->ok)
        print_reads("mix", r, 1);
    static const char *const only[] = {"live", "history", "pod", "hosts", "healthz"};
    static const char *const label[] = {"GET /v1/pods", "GET /v1/pods?all=1", "GET /v1/pods/{id}", "GET /v1/hosts",
                                        "GET /healthz"};
    for (int i = 0; o->per_endpoint && i < 5 && !g_stop; i++) {
        memset(r, 0, sizeof *r);
        read_job(o, pl, &j, r, cursors, only[i], o->conns, o->duration);
        run_wrk(&j);
        if (r->ok)
            print_reads(label[i], r, 0);
    }
    printf("\nlaunch/stop: sku %s (share 1/1000, fake runtime, %d agents), %d connections, each alternating "
           "POST /v1/pods and POST /v1/pods/{id}/stop of its pod, %d s\n",
           SKU, NHOSTS, o->conns, o->duration);
    fflush(stdout);
    memset(r, 0, sizeof *r);
    launch_job(o, pl, &j, r, o->conns, o->duration);
    run_wrk(&j);
    if (r->ok)
        print_launches(r);
    drain(pl);
    gpf_free(r);
    if (o->soak > 0 && !g_stop)
        soak(o, pl, cursors);
}

int main(int argc, char **argv)
{
    opts o;
    plane pl;
    char db[700], real[4096], dst[700], g[32];
    gpf_error err = {0};
    memset(&pl, 0, sizeof pl);
    if (parse(argc, argv, &o) != 0)
        return usage();
    if (gpf_subproc_which("wrk", pl.wrk, sizeof pl.wrk, &err) != 0) {
        fprintf(stderr, "bench/api: wrk not found in PATH: this bench drives the API with wrk "
                        "(Debian package wrk; scripts/install-deps.sh installs it)\n");
        return 1;
    }
    if (!realpath(o.bin, real)) {
        fprintf(stderr, "bench/api: %s: %s (run `make` first)\n", o.bin, strerror(errno));
        return 1;
    }
    o.bin = real;
    find_scripts(argv[0], pl.scripts, sizeof pl.scripts);
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    double load = 0;
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf", &load) != 1)
            load = 0;
        fclose(la);
    }
    printf("bench/api: gpufleet's HTTP API under wrk, %s historical pods in the store\n",
           grouped(o.history, g, sizeof g));
    printf("machine: %ld CPUs shared by wrk, the control plane and its %d agents; load average %.2f at start\n",
           sysconf(_SC_NPROCESSORS_ONLN), NHOSTS, load);
    printf("transport: %s\n", o.tls ? "HTTPS on 127.0.0.1 (--tls: a CA made by the bench; wrk does not verify)"
                                    : "plain HTTP on 127.0.0.1 (the control plane's cost, not TLS's; --tls for HTTPS)");
    printf("targets (issue 16, on a 2-core machine): reads >= 20,000/s with p99 < %d ms; launches >= 2,000/s, "
           "both with a 1,000,000-pod history; RSS and fds flat in a soak\n", TARGET_READ_P99_MS);
    if (o.history > 0 && history_db(&o, db, sizeof db) != 0)
        return 1;
    snprintf(pl.state, sizeof pl.state, "%s/run.XXXXXX", o.cache);
    if ((mkdir(o.cache, 0700) != 0 && errno != EEXIST) || !mkdtemp(pl.state)) {
        fprintf(stderr, "bench/api: cannot make a state directory under %s: %s\n", o.cache, strerror(errno));
        return 1;
    }
    snprintf(dst, sizeof dst, "%s/gpufleet.db", pl.state);
    int64_t t0 = gpf_mono_ms();
    if (o.history > 0 && copy_file(db, dst) != 0) {
        fprintf(stderr, "bench/api: copying %s: %s\n", db, strerror(errno));
        return 1;
    }
    if (o.history > 0)
        printf("history: copied for this run in %.1f s\n", (double)(gpf_mono_ms() - t0) / 1000.0);
    int rc = 1;
    if (start_serve(&o, &pl) == 0 && start_agents(&o, &pl) == 0 && make_sku(&pl) == 0) {
        long rss, threads, fds;
        sample_proc(pl.serve, &rss, &threads, &fds);
        printf("control plane: RSS %.1f MiB, %ld fds, %ld threads with %d agents registered\n", (double)rss / 1024.0,
               fds, threads, NHOSTS);
        drive(&o, &pl);
        if (serve_alive(&pl)) {
            sample_proc(pl.serve, &rss, &threads, &fds);
            printf("\ncontrol plane at the end: RSS %.1f MiB, %ld fds, %ld threads\n", (double)rss / 1024.0, fds,
                   threads);
            rc = 0;
        } else {
            o.keep = 1; /* what it left is worth a look */
        }
    }
    stop_plane(&o, &pl);
    return rc;
}
