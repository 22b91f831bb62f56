/* bench/launch: launch-to-first-SSH-command latency on the demo fleet.
 *
 * Starts `gpufleet serve --demo` (real control plane, three real agents, by default with
 * the oci runtime: every pod an OCI container from the default image, in its own user and
 * network namespaces, with its own SSH host key) in a temporary state directory, then
 * measures, per pod, the time from POST /v1/pods until `ssh … true` inside the pod has
 * returned, with the ssh command line `gpufleet ssh` runs (its ssh-proxy and its strict
 * check of the pod's host key included). Also prints the two parts: launch until the API
 * reports running, and the ssh command. First a warm-up pod on each demo host, which
 * brings the image to that host (fetch and unpack, once per host and image): its time is
 * printed apart, and every measured launch then finds the image cache warm. Runs N
 * sequential launches (concurrency 1) and R rounds of C concurrent launches (default 20).
 * Prints p50/p90/p99/max. Never fails on a time: the targets (p50 < 150 ms one at a time,
 * p99 < 1 s for 20 concurrent) are printed next to the figures.
 *
 *   build/bench/launch [--keep] [--gpufleet build/gpufleet] [--runtime oci|process]
 *                      [--sku h100-1g10] [--seq 20] [--concurrent 20] [--rounds 3]
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/fileio.h"
#include "util/httpc.h"
#include "util/timeutil.h"
#include "cli/cli.h" /* gpf_cli_ssh_argv: the bench connects the way `gpufleet ssh` does */

static char g_url[256], g_token[128], g_key[512], g_sku[64] = "bench-share", g_self[4096], g_proxy[4096];
static char g_ca[600]; /* the demo's CA (it serves HTTPS) */

/* A client of the demo control plane, verifying it with the demo's CA. */
static int bench_client(gpf_httpc **c, gpf_error *err)
{
    gpf_httpc_tls tls = {g_ca, NULL};
    int rc = gpf_httpc_new(g_url, g_token, c, err);
    if (rc == 0 && (rc = gpf_httpc_set_tls(*c, &tls, err)) != 0) {
        gpf_httpc_free(*c);
        *c = NULL;
    }
    return rc;
}
static char g_known[600], g_runtime[16] = "oci";

typedef struct job {
    double ms;     /* POST /v1/pods until `ssh … true` has returned */
    double run_ms; /* POST until the control plane reports the pod running */
    int ok;
    char pod[64];
    char err[256];
    char sku[64];  /* "" = g_sku */
} job;

/* Runs `true` in the pod over ssh with exactly the argv `gpufleet ssh` would exec. */
static int run_ssh(const json_t *pod)
{
    char **argv = NULL;
    char *cmd[] = {"true"};
    gpf_error err = {0};
    json_t *ssh = json_object_get(pod, "ssh");
    const char *key = json_string_value(json_object_get(ssh, "host_key"));
    int known = key && gpf_cli_known_hosts_put(g_known, json_string_value(json_object_get(ssh, "host")),
                                               (int)json_integer_value(json_object_get(ssh, "port")), key, &err) == 0;
    if (gpf_cli_ssh_argv(pod, "ssh", g_key, known ? g_known : NULL, g_proxy, 1, cmd, &argv, &err) != 0)
        return 254;
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execvp("ssh", argv);
        _exit(127);
    }
    gpf_cli_argv_free(argv);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

static void *launch_one(void *arg)
{
    job *j = arg;
    gpf_httpc *c = NULL;
    gpf_error err = {0};
    json_t *resp = NULL, *body = json_pack("{s:s}", "sku", j->sku[0] ? j->sku : g_sku);
    int status = 0;
    int64_t t0 = gpf_mono_us();
    if (bench_client(&c, &err) == 0)
        gpf_httpc_set_timeout_ms(c, 130000); /* a warm-up waits for the image */
    if (!c || gpf_httpc_request(c, "POST", "/v1/pods", body, &status, &resp, &err) != 0) {
        snprintf(j->err, sizeof j->err, "launch: %s", gpf_error_msg(&err));
        goto out;
    }
    snprintf(j->pod, sizeof j->pod, "%s", json_string_value(json_object_get(resp, "id")));
    json_decref(resp);
    resp = NULL;
    char path[160];
    snprintf(path, sizeof path, "/v1/pods/%s?wait=running&timeout_ms=30000", j->pod);
    for (int tries = 0; tries < 5; tries++) { /* a warm-up may wait for its image for a while */
        json_decref(resp);
        resp = NULL;
        if (gpf_httpc_request(c, "GET", path, NULL, &status, &resp, &err) != 0) {
            snprintf(j->err, sizeof j->err, "wait: %s", gpf_error_msg(&err));
            goto out;
        }
        const char *state = json_string_value(json_object_get(resp, "state"));
        if (!state || (strcmp(state, "pending") && strcmp(state, "starting")))
            break;
    }
    j->run_ms = (double)(gpf_mono_us() - t0) / 1000.0;
    json_t *ssh = json_object_get(resp, "ssh");
    if (!json_is_object(ssh)) {
        snprintf(j->err, sizeof j->err, "pod %s is %s: %s", j->pod, json_string_value(json_object_get(resp, "state")),
                 json_string_value(json_object_get(resp, "reason")));
        goto out;
    }
    int rc = run_ssh(resp);
    if (rc != 0) {
        snprintf(j->err, sizeof j->err, "ssh exited %d", rc);
        goto out;
    }
    j->ms = (double)(gpf_mono_us() - t0) / 1000.0;
    j->ok = 1;
out:
    json_decref(body);
    json_decref(resp);
    gpf_httpc_free(c);
    return NULL;
}

static void stop_pods(job *jobs, int n)
{
    gpf_httpc *c = NULL;
    gpf_error err = {0};
    if (bench_client(&c, &err) != 0)
        return;
    for (int i = 0; i < n; i++) {
        if (!jobs[i].pod[0])
            continue;
        char path[160];
        json_t *resp = NULL;
        int status;
        snprintf(path, sizeof path, "/v1/pods/%s/stop", jobs[i].pod);
        gpf_httpc_request(c, "POST", path, NULL, &status, &resp, &err);
        json_decref(resp);
    }
    /* wait until the ledger is empty again */
    for (int tries = 0; tries < 200; tries++) {
        json_t *resp = NULL;
        int status;
        if (gpf_httpc_request(c, "GET", "/v1/pods", NULL, &status, &resp, &err) != 0)
            break;
        size_t live = json_array_size(json_object_get(resp, "pods"));
        json_decref(resp);
        if (live == 0)
            break;
        gpf_sleep_ms(50);
    }
    gpf_httpc_free(c);
}

/* CPU time the whole host spent busy so far (every CPU, from /proc/stat), in ms; -1 unknown. */
static long long cpu_busy_ms(void)
{
    char buf[512];
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    char *line = fgets(buf, sizeof buf, f);
    fclose(f);
    unsigned long long v[10] = {0};
    if (!line || sscanf(line, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                        &v[6], &v[7]) < 8)
        return -1;
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6]; /* user, nice, system, irq, softirq */
    return (long long)(busy * 1000ULL / (unsigned long long)sysconf(_SC_CLK_TCK));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, int n, double p)
{
    if (n == 0)
        return 0;
    int idx = (int)(p / 100.0 * (n - 1) + 0.5);
    return v[idx];
}

static void report(const char *label, job *jobs, int n)
{
    double *v = gpf_calloc((size_t)n, sizeof *v), *run = gpf_calloc((size_t)n, sizeof *run),
           *ssh = gpf_calloc((size_t)n, sizeof *ssh);
    int ok = 0;
    for (int i = 0; i < n; i++) {
        if (jobs[i].ok) {
            run[ok] = jobs[i].run_ms;
            ssh[ok] = jobs[i].ms - jobs[i].run_ms;
            v[ok++] = jobs[i].ms;
        } else {
            fprintf(stderr, "  failed: %s\n", jobs[i].err);
        }
    }
    qsort(v, (size_t)ok, sizeof *v, cmp_double);
    qsort(run, (size_t)ok, sizeof *run, cmp_double);
    qsort(ssh, (size_t)ok, sizeof *ssh, cmp_double);
    printf("%-26s n=%-3d failed=%-2d p50=%7.1f ms  p90=%7.1f ms  p99=%7.1f ms  max=%7.1f ms\n", label, ok, n - ok,
           pct(v, ok, 50), pct(v, ok, 90), pct(v, ok, 99), ok ? v[ok - 1] : 0.0);
    printf("%-26s   launch->running p50=%7.1f ms p99=%7.1f ms | ssh command p50=%7.1f ms p99=%7.1f ms\n", "", pct(run, ok, 50),
           pct(run, ok, 99), pct(ssh, ok, 50), pct(ssh, ok, 99));
    gpf_free(v);
    gpf_free(run);
    gpf_free(ssh);
}

static int g_keep; /* --keep: info-level logs, state directory left for inspection */

static int setup(const char *bin, const char *state)
{
    char path[600];
    pid_t pid = fork();
    if (pid == 0) {
        snprintf(path, sizeof path, "%s/serve.log", state);
        FILE *f = freopen(path, "w", stdout);
        (void)f;
        dup2(1, 2);
        execl(bin, bin, "serve", "--demo", "--listen", "127.0.0.1:0", "--state-dir", state, "--log-level", g_keep ? "info" : "warn",
              "--demo-ssh-port-base", "41000", "--demo-runtime", g_runtime, (char *)NULL);
        _exit(127);
    }
    snprintf(g_ca, sizeof g_ca, "%s/tls/ca.pem", state);
    snprintf(path, sizeof path, "%s/serve.url", state);
    for (int i = 0; i < 400; i++) {
        FILE *f = fopen(path, "r");
        if (f) {
            int got = fgets(g_url, sizeof g_url, f) != NULL;
            fclose(f);
            if (got)
                break;
        }
        gpf_sleep_ms(25);
    }
    snprintf(path, sizeof path, "%s/demo-admin-token", state);
    FILE *f = fopen(path, "r");
    if (!g_url[0] || !f || !fgets(g_token, sizeof g_token, f)) {
        if (f)
            fclose(f);
        fprintf(stderr, "bench/launch: the demo control plane did not start (see %s/serve.log)\n", state);
        return -1;
    }
    fclose(f);
    g_token[strcspn(g_token, "\r\n")] = '\0';
    return pid;
}

int main(int argc, char **argv)
{
    const char *bin = "build/gpufleet";
    int seq = 20, conc = 20, rounds = 3;
    if (argc > 1 && !strcmp(argv[1], "--keep")) {
        g_keep = 1;
        argc--;
        argv++;
    }
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--gpufleet"))
            bin = argv[i + 1];
        else if (!strcmp(argv[i], "--sku"))
            snprintf(g_sku, sizeof g_sku, "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--seq"))
            seq = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--concurrent"))
            conc = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds"))
            rounds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--runtime"))
            snprintf(g_runtime, sizeof g_runtime, "%s", argv[i + 1]);
    }
    if (seq < 1 || conc < 1 || rounds < 1 || conc > 200) {
        fprintf(stderr, "usage: launch [--keep] [--gpufleet BIN] [--runtime oci|process] [--sku NAME] [--seq N] "
                        "[--concurrent N] [--rounds N]\n");
        return 2;
    }
    char real[4096];
    if (!realpath(bin, real)) {
        fprintf(stderr, "bench/launch: %s: %s (run `make` first)\n", bin, strerror(errno));
        return 1;
    }
    gpf_strlcpy(g_self, real, sizeof g_self);
    char helper[4096]; /* the ssh proxy `gpufleet ssh` would use */
    gpf_strlcpy(g_proxy, gpf_ssh_helper_path(real, helper, sizeof helper), sizeof g_proxy);
    char state[] = "/tmp/gpufleet-bench.XXXXXX";
    if (!mkdtemp(state)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(g_key, sizeof g_key, "%s/id_ed25519", state);
    snprintf(g_known, sizeof g_known, "%s/known_hosts", state);
    chmod(state, 0711); /* oci pods, unprivileged uids of their own, reach their bundles below it */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ssh-keygen -q -t ed25519 -N '' -f %s", g_key);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench/launch: ssh-keygen failed\n");
        return 1;
    }
    int serve = setup(bin, state);
    if (serve < 0)
        return 1;
    /* Admin's key, and a small share SKU that any demo GPU can take many of. */
    gpf_httpc *c = NULL;
    gpf_error err = {0};
    int status;
    json_t *resp = NULL;
    char pub[1024] = "", keypath[600];
    snprintf(keypath, sizeof keypath, "%s.pub", g_key);
    FILE *kf = fopen(keypath, "r");
    if (kf) {
        if (!fgets(pub, sizeof pub, kf))
            pub[0] = '\0';
        fclose(kf);
    }
    pub[strcspn(pub, "\r\n")] = '\0';
    bench_client(&c, &err);
    json_t *b = json_pack("{s:s}", "ssh_pubkey", pub);
    gpf_httpc_request(c, "PATCH", "/v1/users/admin", b, &status, &resp, &err);
    json_decref(b);
    json_decref(resp);
    resp = NULL;
    const char *iso = strcmp(g_runtime, "process") ? "device" : "soft";
    if (!strcmp(g_sku, "bench-share")) {
        b = json_pack("{s:s, s:{s:s, s:i}, s:i, s:i, s:s}", "name", "bench-share", "slice", "kind", "share",
                      "share_milli", 40, "cpus", 1, "memory_mib", 512, "min_isolation", iso);
        gpf_httpc_request(c, "POST", "/v1/skus", b, &status, &resp, &err);
        json_decref(b);
        json_decref(resp);
    }
    /* One warm-up SKU per demo host (each host has its own GPU model). */
    static const char *const WARM_MODELS[] = {"H100-80GB", "A100-80GB", "L40S"};
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "bench-warm-%d", i);
        b = json_pack("{s:s, s:{s:s, s:i}, s:[s], s:i, s:i, s:s}", "name", name, "slice", "kind", "share",
                      "share_milli", 40, "gpu_models", WARM_MODELS[i], "cpus", 1, "memory_mib", 512, "min_isolation",
                      iso);
        resp = NULL;
        gpf_httpc_request(c, "POST", "/v1/skus", b, &status, &resp, &err);
        json_decref(b);
        json_decref(resp);
    }
    gpf_httpc_free(c);

    /* Wait for the three demo agents. */
    for (int i = 0; i < 200; i++) {
        bench_client(&c, &err);
        resp = NULL;
        size_t n = 0;
        if (gpf_httpc_request(c, "GET", "/v1/hosts", NULL, &status, &resp, &err) == 0)
            n = json_array_size(json_object_get(resp, "hosts"));
        json_decref(resp);
        gpf_httpc_free(c);
        if (n >= 3)
            break;
        gpf_sleep_ms(50);
    }

    printf("bench/launch: launch-to-first-SSH-command on the demo fleet (sku %s, %s runtime)\n", g_sku, g_runtime);
    printf("target: 1 at a time p50 < 150 ms; %d concurrent p99 < 1000 ms (commercial self-service platforms "
           "advertise ~30 s)\n", conc);
    job *jobs = gpf_calloc((size_t)(seq > conc * rounds ? seq : conc * rounds) + 3, sizeof *jobs);
    /* Warm-up: a pod on each host brings the image there (cold cache: fetch and unpack). */
    pthread_t wth[3];
    for (int i = 0; i < 3; i++) {
        snprintf(jobs[i].sku, sizeof jobs[i].sku, "bench-warm-%d", i);
        pthread_create(&wth[i], NULL, launch_one, &jobs[i]);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(wth[i], NULL);
    printf("warm-up (image cache cold: each host fetches and unpacks the image once): %.0f / %.0f / %.0f ms%s\n",
           jobs[0].ms, jobs[1].ms, jobs[2].ms, jobs[0].ok && jobs[1].ok && jobs[2].ok ? "" : " (a warm-up failed)");
    for (int i = 0; i < 3; i++)
        if (!jobs[i].ok)
            fprintf(stderr, "  warm-up failed: %s\n", jobs[i].err);
    stop_pods(jobs, 3);
    memset(jobs, 0, sizeof *jobs * 3);
    printf("measured launches: image cache warm on every host\n");
    for (int i = 0; i < seq; i++) {
        launch_one(&jobs[i]);
        stop_pods(&jobs[i], 1);
    }
    report("1 at a time", jobs, seq);
    memset(jobs, 0, sizeof *jobs * (size_t)seq);
    pthread_t *th = gpf_calloc((size_t)conc, sizeof *th);
    long long busy = 0, wall = 0;
    for (int r = 0; r < rounds; r++) {
        job *base = jobs + r * conc;
        long long b0 = cpu_busy_ms(), w0 = gpf_mono_us();
        for (int i = 0; i < conc; i++)
            pthread_create(&th[i], NULL, launch_one, &base[i]);
        for (int i = 0; i < conc; i++)
            pthread_join(th[i], NULL);
        busy += cpu_busy_ms() - b0;
        wall += (gpf_mono_us() - w0) / 1000;
        stop_pods(base, conc);
    }
    char label[64];
    snprintf(label, sizeof label, "%d concurrent (x%d rounds)", conc, rounds);
    report(label, jobs, conc * rounds);
    /* What bounds the concurrent figure on a small machine: the host's CPU time per pod. */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (rounds > 0 && conc > 0 && busy >= 0)
        printf("%-26s   host CPU busy while the rounds ran: %lld ms per pod (all processes: agent, runc, sshd, "
               "ssh, this bench), %.0f%% of %ld CPUs\n",
               "", busy / ((long long)rounds * conc), wall > 0 ? 100.0 * (double)busy / (double)(wall * ncpu) : 0.0,
               ncpu);
    gpf_free(th);
    gpf_free(jobs);
    kill(serve, SIGTERM);
    waitpid(serve, NULL, 0);
    /* "[/]tmp/…" matches the pods' processes but not this shell's own command line,
     * which holds the pattern with its brackets: pkill must not kill its own caller. */
    /* Pods were stopped above; a pod's mounts left by a failure go before the files. */
    snprintf(cmd, sizeof cmd,
             "pkill -9 -f '[%c]%s/' ; grep -o ' %s/[^ ]*' /proc/self/mounts | sort -r | xargs -r -n1 umount -l ; "
             "rm -rf '%s'",
             state[0], state + 1, state, state);
    if (g_keep) {
        snprintf(cmd, sizeof cmd, "pkill -9 -f '[%c]%s/'", state[0], state + 1);
        printf("state directory kept: %s (serve.log has the control plane's and agents' logs)\n", state);
    }
    if (system(cmd) != 0) {
        /* best effort */
    }
    return 0;
}
