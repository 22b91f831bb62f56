/* gpufleet host ls | show | override, gpu ls, events: the fleet as the control plane sees it. */
#include "cli/cli_int.h"

#include <string.h>

const char gpf_cli_help_host[] =
    "usage: gpufleet host ls [--json]\n"
    "       gpufleet host show HOST [--json]\n"
    "       gpufleet host override HOST --reason TEXT | --clear\n"
    "       gpufleet host rekey HOST\n"
    "\nls lists the GPU hosts: address, deployment mode, state, whether new pods may be placed\n"
    "there, the strongest isolation its pod runtime gives (SKUs may require more), GPUs,\n"
    "CPUs and memory in use, open drift and the last heartbeat.\n"
    "\nshow adds the agent's preflight (verdict, each finding with its fix), any operator\n"
    "override, why the host takes no pods, and the open drift between the ledger and the\n"
    "hardware.\n"
    "\noverride lets a host whose preflight failed take pods anyway (admin or operator; the\n"
    "reason is kept with the host and in the events). It lasts until --clear.\n"
    "\nrekey (admin or operator) revokes the host's agent tokens at once and lets the next\n"
    "registration of its id with a join token replace the host, once: for a reinstalled\n"
    "machine or an agent that lost its state directory (else a join token cannot take over a\n"
    "registered host; its own agent re-registers with the token it keeps).\n";

const char gpf_cli_help_events[] =
    "usage: gpufleet events [--host HOST] [--pod ID] [--kind KIND] [--limit N] [--after ID] [--json]\n"
    "\nThe fleet's event log, oldest first (the newest --limit, default 100): preflight\n"
    "verdicts, overrides, hosts lost and back, pods that died or were lost, and drift between\n"
    "the ledger and the hardware (gpu_missing, mig_unowned, mig_missing, foreign_process,\n"
    "pod_idle) as it appears and clears. Members see the events of their own pods.\n"
    "--after ID lists only newer events (for polling).\n";

const char gpf_cli_help_gpu[] =
    "usage: gpufleet gpu ls [--json]\n"
    "\nLists every GPU of the fleet with its host, model, memory, MIG mode and how much of\n"
    "it is allocated (in GPU-equivalents).\n";

static int is_ls(const char *verb)
{
    return verb && (strcmp(verb, "ls") == 0 || strcmp(verb, "list") == 0);
}

static int need_ls(gpf_cli *c, const char *noun, const char *what)
{
    const char *verb = gpf_cli_pos(c, 1);
    if (!verb)
        return gpf_cli_usage(c, "'%s' needs a verb: ls", noun);
    if (!is_ls(verb))
        return gpf_cli_usage(c, "unknown verb '%s %s'", noun, verb);
    return gpf_cli_expect(c, what, 2, 0, 0, "limit");
}

static void host_row(gpf_table *t, const json_t *h, void *arg)
{
    char gpus[16], cpus[48], used[32], total[32], mem[80], beat[32], drift[16];
    (void)arg;
    snprintf(gpus, sizeof gpus, "%zu", json_array_size(json_object_get(h, "gpus")));
    snprintf(cpus, sizeof cpus, "%lld/%lld", gpf_cli_int(h, "cpus_used"), gpf_cli_int(h, "cpus"));
    gpf_cli_memory(gpf_cli_int(h, "memory_mib_used"), used, sizeof used);
    gpf_cli_memory(gpf_cli_int(h, "memory_mib"), total, sizeof total);
    snprintf(mem, sizeof mem, "%s/%s", used, total);
    gpf_cli_time(json_object_get(h, "last_heartbeat_at"), beat, sizeof beat);
    snprintf(drift, sizeof drift, "%zu", json_array_size(json_object_get(h, "drift")));
    const json_t *pf = json_object_get(h, "preflight");
    const char *row[] = {gpf_cli_str(h, "id"), gpf_cli_str(h, "address"), gpf_cli_str(h, "deploy_mode"),
                         gpf_cli_str(h, "state"), json_is_true(json_object_get(h, "schedulable")) ? "yes" : "no",
                         pf ? gpf_cli_str(pf, "verdict") : "-", gpf_cli_str(h, "isolation_max"), gpus, cpus, mem,
                         drift, beat};
    gpf_table_add(t, row);
}

static void host_fields(const gpf_cli *c, const json_t *h, gpf_table *t)
{
    const json_t *pf = json_object_get(h, "preflight"), *ov = json_object_get(pf, "override");
    gpf_buf b = {0};
    size_t i;
    const json_t *v;
    (void)c;
    gpf_cli_kv_json(t, "id", h, "id");
    gpf_cli_kv_json(t, "address", h, "address");
    gpf_cli_kv_json(t, "mode", h, "deploy_mode");
    gpf_cli_kv_json(t, "backend", h, "backend");
    gpf_cli_kv_json(t, "runtime", h, "runtime");
    gpf_cli_kv_json(t, "isolation", h, "isolation_max");
    gpf_cli_kv_json(t, "agent", h, "agent_version");
    gpf_cli_kv_json(t, "state", h, "state");
    gpf_cli_kv(t, "schedulable", json_is_true(json_object_get(h, "schedulable")) ? "yes" : "no");
    if (!json_is_true(json_object_get(h, "schedulable")))
        gpf_cli_kv_json(t, "why not", h, "unschedulable_reason");
    gpf_cli_kv_json(t, "preflight", pf, "verdict");
    gpf_cli_kv_time(t, "checked", pf, "checked_at");
    json_array_foreach(json_object_get(pf, "findings"), i, v)
    {
        gpf_buf_clear(&b);
        long long g = gpf_cli_int(v, "gpu");
        gpf_buf_printf(&b, "%s %s", gpf_cli_str(v, "level"), gpf_cli_str(v, "check"));
        if (g >= 0)
            gpf_buf_printf(&b, " (GPU %lld)", g);
        gpf_buf_printf(&b, ": %s", gpf_cli_str(v, "detail"));
        if (gpf_cli_str(v, "fix")[0])
            gpf_buf_printf(&b, " -> fix: %s", gpf_cli_str(v, "fix"));
        gpf_cli_kv(t, "  finding", gpf_buf_cstr(&b));
    }
    if (json_is_object(ov)) {
        gpf_buf_clear(&b);
        gpf_buf_printf(&b, "by %s: %s", gpf_cli_str(ov, "by"), gpf_cli_str(ov, "reason"));
        gpf_cli_kv(t, "override", gpf_buf_cstr(&b));
        gpf_cli_kv_time(t, "overridden", ov, "at");
    }
    const json_t *rk = json_object_get(h, "rekey");
    if (json_is_object(rk)) {
        gpf_buf_clear(&b);
        gpf_buf_printf(&b, "pending (by %s): the next join-token registration replaces the host", gpf_cli_str(rk, "by"));
        gpf_cli_kv(t, "rekey", gpf_buf_cstr(&b));
    }
    json_array_foreach(json_object_get(h, "drift"), i, v)
    {
        gpf_buf_clear(&b);
        gpf_buf_printf(&b, "%s %s: %s", gpf_cli_str(v, "kind"), gpf_cli_str(v, "subject"), gpf_cli_str(v, "detail"));
        gpf_cli_kv(t, "drift", gpf_buf_cstr(&b));
    }
    gpf_buf_clear(&b);
    gpf_buf_printf(&b, "%zu", json_array_size(json_object_get(h, "gpus")));
    gpf_cli_kv(t, "gpus", gpf_buf_cstr(&b));
    gpf_cli_kv_time(t, "registered", h, "registered_at");
    gpf_cli_kv_time(t, "heartbeat", h, "last_heartbeat_at");
    gpf_buf_clear(&b);
}

static void host_path(gpf_buf *b, const char *id, const char *suffix)
{
    gpf_buf_puts(b, "/v1/hosts/");
    gpf_cli_escape(b, id);
    gpf_buf_puts(b, suffix);
}

static int host_override(gpf_cli *c)
{
    int rc = gpf_cli_expect(c, "host override", 2, 1, 1, "reason clear");
    if (rc != 0)
        return rc;
    const char *reason = gpf_cli_opt(c, "reason"), *id = gpf_cli_pos(c, 2);
    int clear = gpf_cli_has(c, "clear");
    if (clear == (reason != NULL))
        return gpf_cli_usage(c, "give either --reason TEXT (override) or --clear");
    gpf_buf path = {0};
    host_path(&path, id, "/override");
    if (clear)
        rc = gpf_cli_send(c, "DELETE", gpf_buf_cstr(&path), NULL, "override of %s cleared", id);
    else {
        json_t *body = json_pack("{s:s}", "reason", reason);
        rc = gpf_cli_send(c, "POST", gpf_buf_cstr(&path), body,
                          "%s overridden: it takes pods despite its preflight until `gpufleet host override %s --clear`",
                          id, id);
        json_decref(body);
    }
    gpf_buf_clear(&path);
    return rc;
}

static int host_rekey(gpf_cli *c)
{
    int rc = gpf_cli_expect(c, "host rekey", 2, 1, 1, "");
    if (rc != 0)
        return rc;
    const char *id = gpf_cli_pos(c, 2);
    gpf_buf path = {0};
    host_path(&path, id, "/rekey");
    rc = gpf_cli_send(c, "POST", gpf_buf_cstr(&path), NULL,
                      "%s re-keyed: its agent tokens are revoked; the next registration of %s with a join token "
                      "replaces it",
                      id, id);
    gpf_buf_clear(&path);
    return rc;
}

int gpf_cli_cmd_host(gpf_cli *c)
{
    static const char *const hdr[] = {"ID",   "ADDRESS", "MODE",   "STATE", "SCHED",    "PREFLIGHT", "ISOLATION",
                                      "GPUS", "CPUS",    "MEMORY", "DRIFT", "HEARTBEAT"};
    const char *verb = gpf_cli_pos(c, 1);
    int rc = 0;
    if (verb && strcmp(verb, "show") == 0) {
        if ((rc = gpf_cli_expect(c, "host show", 2, 1, 1, "")) != 0)
            return rc;
        gpf_buf path = {0};
        host_path(&path, gpf_cli_pos(c, 2), "");
        rc = gpf_cli_show(c, gpf_buf_cstr(&path), host_fields);
        gpf_buf_clear(&path);
        return rc;
    }
    if (verb && strcmp(verb, "override") == 0)
        return host_override(c);
    if (verb && strcmp(verb, "rekey") == 0)
        return host_rekey(c);
    if (verb && !is_ls(verb))
        return gpf_cli_usage(c, "unknown verb 'host %s' (ls, show, override, rekey)", verb);
    rc = need_ls(c, "host", "host ls");
    return rc ? rc : gpf_cli_list(c, "/v1/hosts", "hosts", 12, hdr, host_row, NULL);
}

static void event_row(gpf_table *t, const json_t *e, void *arg)
{
    char id[24], at[32], about[160];
    (void)arg;
    snprintf(id, sizeof id, "%lld", gpf_cli_int(e, "id"));
    gpf_cli_time(json_object_get(e, "at"), at, sizeof at);
    const char *pod = gpf_cli_str(e, "pod_id"), *subject = gpf_cli_str(e, "subject");
    snprintf(about, sizeof about, "%s%s%s", pod, pod[0] && subject[0] && strcmp(pod, subject) ? " " : "",
             strcmp(pod, subject) ? subject : "");
    const char *row[] = {id, at, gpf_cli_str(e, "severity"), gpf_cli_str(e, "kind"), gpf_cli_str(e, "host_id"),
                         about[0] ? about : "-", gpf_cli_str(e, "detail")};
    gpf_table_add(t, row);
}

int gpf_cli_cmd_events(gpf_cli *c)
{
    static const char *const hdr[] = {"ID", "AT", "SEVERITY", "KIND", "HOST", "ABOUT", "DETAIL"};
    static const char *const filters[][2] = {{"host", "host"}, {"pod", "pod"}, {"kind", "kind"},
                                             {"limit", "limit"}, {"after", "after"}};
    int rc = gpf_cli_expect(c, "events", 1, 0, 0, "host pod kind limit after");
    if (rc != 0)
        return rc;
    gpf_buf path = {0};
    gpf_buf_puts(&path, "/v1/events");
    char sep = '?';
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        const char *v = gpf_cli_opt(c, filters[i][0]);
        if (!v)
            continue;
        gpf_buf_printf(&path, "%c%s=", sep, filters[i][1]);
        gpf_cli_escape(&path, v);
        sep = '&';
    }
    if (!gpf_cli_opt(c, "limit")) /* the newest 100: events are not walked to the beginning */
        gpf_buf_printf(&path, "%climit=100", sep);
    rc = gpf_cli_list(c, gpf_buf_cstr(&path), "events", 7, hdr, event_row, NULL);
    gpf_buf_clear(&path);
    return rc;
}

static void gpu_row(gpf_table *t, const json_t *g, void *arg)
{
    char idx[16], mem[32], mig[48], alloc[32];
    long long milli = gpf_cli_int(g, "allocated_milli");
    (void)arg;
    snprintf(idx, sizeof idx, "%lld", gpf_cli_int(g, "index"));
    gpf_cli_memory(gpf_cli_int(g, "memory_mib"), mem, sizeof mem);
    if (json_is_true(json_object_get(g, "mig_enabled")))
        snprintf(mig, sizeof mig, "on (%lld slots used)", gpf_cli_int(g, "mig_used_slots"));
    else
        snprintf(mig, sizeof mig, "off");
    snprintf(alloc, sizeof alloc, "%lld.%03lld", milli / 1000, milli % 1000);
    const char *row[] = {gpf_cli_str(g, "host_id"), idx, gpf_cli_str(g, "model"), mem, mig,
                         alloc, gpf_cli_str(g, "pci_bus_id"), gpf_cli_str(g, "uuid")};
    gpf_table_add(t, row);
}

int gpf_cli_cmd_gpu(gpf_cli *c)
{
    static const char *const hdr[] = {"HOST", "INDEX", "MODEL", "MEMORY", "MIG", "ALLOCATED",
                                      "PCI", "UUID"};
    int rc = need_ls(c, "gpu", "gpu ls");
    return rc ? rc : gpf_cli_list(c, "/v1/gpus", "gpus", 8, hdr, gpu_row, NULL);
}
