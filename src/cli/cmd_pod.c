/* gpufleet pod launch | ls | show | stop */
#include "cli/cli_int.h"

#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/timeutil.h"

const char gpf_cli_help_pod[] =
    "usage: gpufleet pod launch SKU [--project P] [--no-wait] [--timeout-s N] [--quiet] [--json]\n"
    "       gpufleet pod ls [--all] [--json]\n"
    "       gpufleet pod show ID [--json]\n"
    "       gpufleet pod stop ID [--json]\n"
    "\n"
    "launch creates a pod from SKU and waits (default 300 s) until it runs, then prints\n"
    "its id and the ssh command (--quiet: only the id, for scripts); --no-wait prints the\n"
    "id at once. When no host can take the pod now, launch fails with the reason\n"
    "(exit 5).\n"
    "ls shows live pods; --all includes stopped, failed, preempted and expired ones.\n";

#define MAX_POLL_MS 30000
#define MIN_POLL_GAP_MS 200

static void pod_path(gpf_buf *b, const char *id, const char *suffix)
{
    gpf_buf_puts(b, "/v1/pods/");
    gpf_cli_escape(b, id);
    gpf_buf_puts(b, suffix);
}

static int is_waiting(const char *state)
{
    return strcmp(state, "pending") == 0 || strcmp(state, "starting") == 0;
}

/* Reports a pod that ended before running. */
static int report_final(const json_t *pod)
{
    const char *id = gpf_cli_str(pod, "id"), *state = gpf_cli_str(pod, "state");
    const char *reason = gpf_cli_str(pod, "reason");
    if (!*reason)
        reason = "no reason given";
    if (strcmp(state, "failed") == 0)
        return gpf_cli_fail(GPF_EINTERNAL, "pod %s failed: %s", id, reason);
    return gpf_cli_fail(GPF_EINTERNAL, "pod %s is %s: %s", id, *state ? state : "unknown", reason);
}

/* Polls until the pod runs, ends, or timeout_ms passes. *pod is replaced as it changes. */
static int wait_running(gpf_cli *c, json_t **pod, long long timeout_ms)
{
    int rc = 0, tty = isatty(2);
    int64_t deadline = gpf_mono_ms() + timeout_ms;
    char *id = gpf_strdup(gpf_cli_str(*pod, "id"));
    gpf_buf path = {0};

    for (;;) {
        const char *state = gpf_cli_str(*pod, "state");
        int64_t left = deadline - gpf_mono_ms(), t0;
        long long wait_ms;
        json_t *next = NULL;

        if (strcmp(state, "running") == 0)
            break;
        if (!is_waiting(state)) {
            rc = report_final(*pod);
            break;
        }
        if (tty) {
            const char *reason = gpf_cli_str(*pod, "reason");
            fprintf(stderr, "\r\033[Kwaiting for pod %s: %s%s%s", id, state, *reason ? " - " : "", reason);
            fflush(stderr);
        }
        if (left <= 0) {
            if (tty)
                fputs("\r\033[K", stderr);
            rc = gpf_cli_fail(GPF_ETIMEOUT,
                              "pod %s is still %s after %lld s%s%s; it stays queued (see 'gpufleet "
                              "pod show %s', or 'gpufleet pod stop %s')",
                              id, state, timeout_ms / 1000, *gpf_cli_str(*pod, "reason") ? ": " : "",
                              gpf_cli_str(*pod, "reason"), id, id);
            break;
        }
        wait_ms = left < MAX_POLL_MS ? left : MAX_POLL_MS;
        gpf_buf_reset(&path);
        pod_path(&path, id, "");
        gpf_buf_printf(&path, "?wait=running&timeout_ms=%lld", wait_ms);
        gpf_httpc_set_timeout_ms(c->http, (long)wait_ms + 15000);
        t0 = gpf_mono_ms();
        rc = gpf_cli_call(c, "GET", gpf_buf_cstr(&path), NULL, &next);
        if (rc != 0)
            break;
        json_decref(*pod);
        *pod = next;
        /* a server that answers at once must not make this loop spin */
        if (!json_is_object(*pod) || strcmp(gpf_cli_str(*pod, "state"), "running") != 0) {
            int64_t spent = gpf_mono_ms() - t0;
            if (spent < MIN_POLL_GAP_MS)
                gpf_sleep_ms(MIN_POLL_GAP_MS - spent);
        }
    }
    if (tty && rc == 0)
        fputs("\r\033[K", stderr);
    gpf_httpc_set_timeout_ms(c->http, 30000);
    gpf_free(id);
    gpf_buf_clear(&path);
    return rc;
}

/* Writes a running pod's host key to known_hosts so that the ssh command printed for it
 * works as pasted; known gets the file ("" when the pod has none, or it could not be
 * written: a warning says why). */
static void remember_host_key(const json_t *pod, char *known, size_t size)
{
    gpf_error err = {0};
    known[0] = '\0';
    if (strcmp(gpf_cli_str(pod, "state"), "running") == 0 && gpf_cli_pod_known_host(pod, known, size, &err) < 0)
        fprintf(stderr, "gpufleet: warning: cannot record the host key of pod %s: %s\n", gpf_cli_str(pod, "id"),
                gpf_error_msg(&err));
}

/* In --json output, ssh.command is the line that works as pasted on this machine (with the
 * identity and the known_hosts file that now holds the pod's host key) when there is one. */
static void local_ssh_command(const gpf_cli *c, json_t *pod, const char *known)
{
    json_t *ssh = json_object_get(pod, "ssh");
    gpf_buf line = {0};
    if (known[0] && json_is_object(ssh) && gpf_cli_ssh_line(pod, gpf_cli_identity(c), known, &line) == 0)
        json_object_set_new(ssh, "command", json_string(gpf_buf_cstr(&line)));
    gpf_buf_clear(&line);
}

static int pod_launch(gpf_cli *c)
{
    int rc, given = 0;
    long long timeout_s = 300;
    json_t *body = NULL, *pod = NULL;
    const char *project = gpf_cli_opt(c, "project");
    gpf_buf line = {0};

    rc = gpf_cli_expect(c, "pod launch", 2, 1, 1, "project no-wait timeout-s quiet");
    if (rc == 0)
        rc = gpf_cli_int_opt(c, "timeout-s", 0, 7 * 24 * 3600, &timeout_s, &given);
    if (rc != 0)
        goto out;
    body = json_pack("{s:s}", "sku", gpf_cli_pos(c, 2));
    if (project)
        json_object_set_new(body, "project", json_string(project));
    rc = gpf_cli_call(c, "POST", "/v1/pods", body, &pod);
    if (rc != 0)
        goto out;
    if (!json_is_object(pod) || !*gpf_cli_str(pod, "id")) {
        rc = gpf_cli_fail(GPF_EMALFORMED, "the server's answer to the launch has no pod id");
        goto out;
    }
    if (!gpf_cli_has(c, "no-wait")) {
        rc = wait_running(c, &pod, timeout_s * 1000);
        if (rc != 0)
            goto out;
    }
    char known[PATH_MAX];
    remember_host_key(pod, known, sizeof known);
    if (c->json) {
        local_ssh_command(c, pod, known);
        gpf_cli_print_json(pod);
        goto out;
    }
    printf("%s\n", gpf_cli_str(pod, "id"));
    if (!gpf_cli_has(c, "quiet") && strcmp(gpf_cli_str(pod, "state"), "running") == 0 &&
        gpf_cli_ssh_line(pod, gpf_cli_identity(c), known, &line) == 0)
        printf("%s\n", gpf_buf_cstr(&line));
out:
    json_decref(body);
    json_decref(pod);
    gpf_buf_clear(&line);
    return rc;
}

static const char *host_of(const json_t *pod)
{
    const char *h = gpf_cli_str(json_object_get(pod, "placement"), "host_id");
    return *h ? h : "-";
}

/* 1 when the pod's host has gone silent: its state is the last one its agent reported. */
static int pod_unreachable(const json_t *pod)
{
    return strcmp(gpf_cli_str(pod, "reachability"), "unknown") == 0;
}

static void pod_row(gpf_table *t, const json_t *pod, void *arg)
{
    char slice[128], created[32], reason[600];
    (void)arg;
    gpf_cli_slice(json_object_get(pod, "slice"), slice, sizeof slice);
    gpf_cli_time(json_object_get(pod, "created_at"), created, sizeof created);
    const char *why = gpf_cli_str(pod, "reason");
    if (pod_unreachable(pod))
        snprintf(reason, sizeof reason, "host unreachable: state as last reported%s%s", *why ? "; " : "", why);
    else
        snprintf(reason, sizeof reason, "%s", why);
    const char *row[] = {gpf_cli_str(pod, "id"), gpf_cli_str(pod, "owner"),
                         gpf_cli_str(pod, "project"), gpf_cli_str(pod, "sku"), slice,
                         gpf_cli_str(pod, "state"), host_of(pod), created, reason};
    gpf_table_add(t, row);
}

static int pod_ls(gpf_cli *c)
{
    static const char *const hdr[] = {"ID", "OWNER", "PROJECT", "SKU", "SLICE", "STATE",
                                      "HOST", "CREATED", "REASON"};
    int rc = gpf_cli_expect(c, "pod ls", 2, 0, 0, "all limit");
    if (rc != 0)
        return rc;
    return gpf_cli_list(c, gpf_cli_has(c, "all") ? "/v1/pods?all=1" : "/v1/pods", "pods", 9,
                        hdr, pod_row, NULL);
}

static void pod_fields(const gpf_cli *c, const json_t *pod, gpf_table *t, const char *known)
{
    const json_t *pl = json_object_get(pod, "placement"), *img = json_object_get(pod, "image");
    const json_t *ssh = json_object_get(pod, "ssh");
    gpf_buf line = {0};
    char v[512];

    gpf_cli_kv_json(t, "id", pod, "id");
    gpf_cli_kv_json(t, "owner", pod, "owner");
    gpf_cli_kv_json(t, "project", pod, "project");
    gpf_cli_kv_json(t, "sku", pod, "sku");
    gpf_cli_slice(json_object_get(pod, "slice"), v, sizeof v);
    gpf_cli_kv(t, "slice", v);
    gpf_cli_kv_json(t, "isolation", pod, "isolation");
    gpf_cli_kv_json(t, "layers", pod, "isolation_layers");
    if (json_is_object(img)) {
        const char *d = gpf_cli_str(img, "digest");
        snprintf(v, sizeof v, "%s%s%.19s", gpf_cli_str(img, "name"), *d ? " " : " (no digest: the agent picks)", d);
        gpf_cli_kv(t, "image", v);
    }
    gpf_cli_kv_json(t, "state", pod, "state");
    if (pod_unreachable(pod))
        gpf_cli_kv(t, "reachability", "unknown: its host's agent is silent (the state is the last it reported; "
                                      "the pod is still metered until the host is lost)");
    gpf_cli_kv_json(t, "reason", pod, "reason");
    gpf_cli_kv(t, "host", host_of(pod));
    gpf_cli_kv_json(t, "gpus", pl, "gpu_indexes");
    gpf_cli_format_money(gpf_cli_int(pod, "price_micro_per_hour"), v, sizeof v);
    gpf_cli_kv(t, "price/hour", v);
    gpf_cli_kv_time(t, "created", pod, "created_at");
    gpf_cli_kv_time(t, "started", pod, "started_at");
    gpf_cli_kv_time(t, "stopped", pod, "stopped_at");
    if (gpf_cli_ssh_line(pod, gpf_cli_identity(c), known, &line) == 0)
        gpf_cli_kv(t, "ssh", gpf_buf_cstr(&line));
    if (*gpf_cli_str(ssh, "host_key_fingerprint"))
        gpf_cli_kv_json(t, "host key", ssh, "host_key_fingerprint");
    gpf_buf_clear(&line);
}

/* pod show ID: the pod, after writing its host key to known_hosts (see pod_launch). */
static int pod_show(gpf_cli *c)
{
    gpf_buf path = {0};
    gpf_table t = {0};
    json_t *pod = NULL;
    char known[PATH_MAX];
    int rc = gpf_cli_expect(c, "pod show", 2, 1, 1, "");
    if (rc != 0)
        goto out;
    pod_path(&path, gpf_cli_pos(c, 2), "");
    if ((rc = gpf_cli_call(c, "GET", gpf_buf_cstr(&path), NULL, &pod)) != 0)
        goto out;
    remember_host_key(pod, known, sizeof known);
    if (c->json) {
        local_ssh_command(c, pod, known);
        gpf_cli_print_json(pod);
        goto out;
    }
    pod_fields(c, pod, &t, known);
    gpf_cli_print_table(&t);
out:
    json_decref(pod);
    gpf_table_clear(&t);
    gpf_buf_clear(&path);
    return rc;
}

static int pod_stop(gpf_cli *c)
{
    gpf_buf path = {0};
    int rc = gpf_cli_expect(c, "pod stop", 2, 1, 1, "");
    if (rc == 0) {
        pod_path(&path, gpf_cli_pos(c, 2), "/stop");
        rc = gpf_cli_send(c, "POST", gpf_buf_cstr(&path), NULL, "stopping pod %s",
                          gpf_cli_pos(c, 2));
    }
    gpf_buf_clear(&path);
    return rc;
}

int gpf_cli_cmd_pod(gpf_cli *c)
{
    const char *verb = gpf_cli_pos(c, 1);
    if (!verb)
        return gpf_cli_usage(c, "'pod' needs a verb: launch, ls, show or stop");
    if (strcmp(verb, "launch") == 0)
        return pod_launch(c);
    if (strcmp(verb, "ls") == 0 || strcmp(verb, "list") == 0)
        return pod_ls(c);
    if (strcmp(verb, "show") == 0)
        return pod_show(c);
    if (strcmp(verb, "stop") == 0)
        return pod_stop(c);
    return gpf_cli_usage(c, "unknown verb 'pod %s'", verb);
}
