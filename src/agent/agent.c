#include "agent/agent.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/gpu_open.h"
#include "agent/preflight.h"
#include "agent/runtime.h"
#include "api/codec.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/httpc.h"
#include "util/log.h"
#include "util/timeutil.h"

#define OPT(...) GPF_CFG_OPT(gpf_agent_config, __VA_ARGS__)
const gpf_cfg_opt gpf_agent_options[] = {
    OPT("server", GPF_CFG_STR, "http://127.0.0.1:8470", 0, 0, server, "control plane URL"),
    OPT("join-token", GPF_CFG_STR, "", 0, 0, join_token, "join token printed by 'gpufleet serve' on first start"),
    OPT("state-dir", GPF_CFG_STR, "/var/lib/gpufleet-agent", 0, 0, state_dir, "where pods' files live"),
    OPT("backend", GPF_CFG_STR, "fake", 0, 0, backend, "GPU backend: nvml (libnvidia-ml.so.1) or fake"),
    OPT("nvml-lib", GPF_CFG_STR, "", 0, 0, nvml_lib, "NVML library to load (\"\" = libnvidia-ml.so.1)"),
    OPT("fake-fleet", GPF_CFG_STR, "", 0, 0, fake_fleet, "fleet fixture for the fake backend (\"\" = built-in demo fleet)"),
    OPT("host-id", GPF_CFG_STR, "", 0, 0, host_id, "host id (fake: the fixture host, required; nvml: default hostname)"),
    OPT("address", GPF_CFG_STR, "127.0.0.1", 0, 0, address, "address pods' sshd listen on and users connect to"),
    OPT("runtime", GPF_CFG_STR, "process", 0, 0, runtime, "pod runtime: process (sandbox + sshd) or fake"),
    OPT("ssh-port-min", GPF_CFG_INT, "22000", 1024, 65535, ssh_port_min, "lowest port for pods' sshd"),
    OPT("ssh-port-max", GPF_CFG_INT, "22999", 1024, 65535, ssh_port_max, "highest port for pods' sshd"),
    OPT("bwrap", GPF_CFG_STR, "/usr/bin/bwrap", 0, 0, bwrap, "bubblewrap binary (\"\" = run pods as plain processes)"),
    OPT("sshd", GPF_CFG_STR, "/usr/sbin/sshd", 0, 0, sshd, "OpenSSH server binary"),
    OPT("log-level", GPF_CFG_STR, "info", 0, 0, log_level, "debug, info, warn or error"),
    OPT("sysfs-root", GPF_CFG_STR, "/", 0, 0, sysfs_root, "where /sys is read from for the preflight"),
    OPT("catalog-dir", GPF_CFG_STR, "", 0, 0, catalog_dir, "GPU catalog directory (\"\" = built in)"),
    OPT("pod-cpus", GPF_CFG_STR, "", 0, 0, pod_cpus, "CPUs pods may use, as a cpulist (\"\" = all)"),
    OPT("vm-mmio-gb", GPF_CFG_INT, "0", 0, 1 << 20, vm_mmio_gb, "VM modes: MMIO space each VM gets (0 = not stated)"),
    OPT("vm-gpus", GPF_CFG_INT, "1", 1, 64, vm_gpus, "passthrough: GPUs per VM"),
    GPF_CFG_END,
};

typedef struct agent {
    const gpf_agent_config *cfg;
    gpf_gpu_backend *backend;
    gpf_runtime *rt;
    gpf_host_facts facts;
    gpf_httpc *http;
    int registered;
    int heartbeat_ms;
    int64_t seq;
    int64_t last_beat;
} agent;

/* Logs the preflight's warnings and failures; the verdict goes to the log at start. */
static void log_preflight(const gpf_host_rec *h, const gpf_chk_report *r)
{
    for (int i = 0; i < r->n; i++) {
        const gpf_chk_finding *f = &r->f[i];
        if (f->level == GPF_CHK_WARN || f->level == GPF_CHK_FAIL)
            GPF_WARN("agent", "event=preflight_%s host=%s check=%s gpu=%d detail=\"%s\" fix=\"%s\"",
                     gpf_chk_level_name(f->level), h->id, f->check, f->gpu, f->detail, f->fix);
    }
    GPF_INFO("agent", "event=preflight host=%s verdict=%s findings=%d", h->id, gpf_chk_level_name(r->verdict), r->n);
}

/* The host checklist of `gpufleet check`, on what the backend discovered. */
static void run_preflight(agent *a, const gpf_catalog *cat)
{
    gpf_sysfs_host *sys = GPF_NEW(gpf_sysfs_host);
    gpf_chk_report *rep = GPF_NEW(gpf_chk_report);
    gpf_error err = {0};
    char *minimums = gpf_catalog_file_text(a->cfg->catalog_dir, "driver_minimums.csv", NULL);
    int have_sys = gpf_sysfs_read(a->cfg->sysfs_root, sys, &err) == 0;
    if (!have_sys)
        GPF_WARN("agent", "event=sysfs_unreadable msg=\"%s\"", gpf_error_msg(&err));
    gpf_chk_input in = {0};
    in.facts = &a->facts;
    in.sys = have_sys ? sys : NULL;
    in.cat = cat;
    in.driver_minimums = minimums;
    in.deploy_mode = a->facts.host.deploy_mode;
    in.vm_mmio_gb = (int)a->cfg->vm_mmio_gb;
    in.vm_gpus = (int)a->cfg->vm_gpus;
    in.pod_cpus = a->cfg->pod_cpus;
    err = (gpf_error){0};
    if (gpf_preflight_run(&in, rep, &err) == 0)
        log_preflight(&a->facts.host, rep);
    else
        GPF_WARN("agent", "event=preflight_error msg=\"%s\"", gpf_error_msg(&err));
    gpf_free(minimums);
    gpf_free(rep);
    gpf_free(sys);
}

/* GPUs the catalog does not know cannot be placed on: they stay out of the registration
 * (the preflight has said so). */
static void drop_unmodeled(gpf_host_facts *fx)
{
    int n = 0;
    for (int g = 0; g < fx->host.ngpus; g++) {
        if (!fx->host.gpus[g].model[0]) {
            GPF_WARN("agent", "event=gpu_unmodeled uuid=%s name=\"%s\"", fx->host.gpus[g].uuid, fx->host.gpus[g].name);
            continue;
        }
        fx->host.gpus[n] = fx->host.gpus[g];
        fx->live[n++] = fx->live[g];
    }
    fx->host.ngpus = n;
}

static int open_backend(agent *a, gpf_error *err)
{
    gpf_catalog *cat = NULL;
    int rc = gpf_catalog_load(a->cfg->catalog_dir, &cat, err);
    if (rc == 0) {
        gpf_gpu_open_opts o = {.backend = a->cfg->backend,
                               .nvml_lib = a->cfg->nvml_lib,
                               .fake_fleet = a->cfg->fake_fleet,
                               .host_id = a->cfg->host_id,
                               .cat = cat};
        rc = gpf_gpu_backend_open(&o, &a->backend, err);
    }
    if (rc == 0)
        rc = a->backend->ops->discover(a->backend, &a->facts, err);
    if (rc == 0) {
        if (a->cfg->host_id[0]) /* the name to register under (nvml names the host after its hostname) */
            gpf_strlcpy(a->facts.host.id, a->cfg->host_id, sizeof a->facts.host.id);
        if (!a->facts.host.deploy_mode[0])
            gpf_strlcpy(a->facts.host.deploy_mode, "baremetal", sizeof a->facts.host.deploy_mode);
        run_preflight(a, cat);
        drop_unmodeled(&a->facts);
    }
    gpf_catalog_free(cat);
    return rc;
}

static int open_runtime(agent *a, gpf_error *err)
{
    if (!strcmp(a->cfg->runtime, "fake"))
        return gpf_runtime_fake_open(&a->rt, err);
    if (strcmp(a->cfg->runtime, "process") != 0)
        return gpf_error_set(err, GPF_EINVAL, "unknown runtime '%s' (process or fake)", a->cfg->runtime);
    gpf_runtime_config rc = {0};
    rc.state_dir = a->cfg->state_dir;
    rc.listen_address = a->cfg->address;
    rc.port_min = (int)a->cfg->ssh_port_min;
    rc.port_max = (int)a->cfg->ssh_port_max;
    rc.sshd_path = a->cfg->sshd;
    rc.bwrap_path = a->cfg->bwrap;
    rc.start_timeout_ms = 5000;
    return gpf_runtime_process_open(&rc, &a->rt, err);
}

static int do_register(agent *a, gpf_error *err)
{
    gpf_host_rec *h = &a->facts.host;
    gpf_strlcpy(h->address, a->cfg->address, sizeof h->address);
    gpf_strlcpy(h->runtime, a->rt->ops->name, sizeof h->runtime);
    gpf_strlcpy(h->backend, a->backend->ops->name, sizeof h->backend);
    gpf_strlcpy(h->agent_version, GPF_VERSION, sizeof h->agent_version);
    json_t *body = gpf_json_agent_host(h), *resp = NULL;
    int status = 0;
    gpf_httpc_set_token(a->http, a->cfg->join_token);
    int rc = gpf_httpc_request(a->http, "POST", "/v1/agent/register", body, &status, &resp, err);
    json_decref(body);
    if (rc != 0)
        return rc;
    const char *tok = json_string_value(json_object_get(resp, "agent_token"));
    json_int_t hb = json_integer_value(json_object_get(resp, "heartbeat_ms"));
    if (!tok) {
        json_decref(resp);
        return gpf_error_set(err, GPF_EMALFORMED, "register answer has no agent_token");
    }
    gpf_httpc_set_token(a->http, tok);
    a->heartbeat_ms = hb > 100 ? (int)hb : 2000;
    a->registered = 1;
    a->seq = 0;
    json_decref(resp);
    GPF_INFO("agent", "event=registered host=%s gpus=%d server=%s", h->id, h->ngpus, a->cfg->server);
    return 0;
}

static void report(agent *a, const char *pod_id, json_t *body)
{
    char path[160];
    gpf_error err = {0};
    int status = 0;
    json_t *resp = NULL;
    snprintf(path, sizeof path, "/v1/agent/pods/%s/status", pod_id);
    if (gpf_httpc_request(a->http, "POST", path, body, &status, &resp, &err) != 0)
        GPF_WARN("agent", "event=report_failed pod=%s msg=\"%s\"", pod_id, gpf_error_msg(&err));
    json_decref(resp);
    json_decref(body);
}

static void start_pod(agent *a, json_t *jpod)
{
    gpf_pod *p = GPF_NEW(gpf_pod);
    gpf_pod_spec *spec = GPF_NEW(gpf_pod_spec);
    gpf_pod_status st;
    gpf_error err = {0};
    memset(&st, 0, sizeof st);
    if (gpf_decode_agent_pod(jpod, p, spec->ssh_pubkey, sizeof spec->ssh_pubkey, spec->env, sizeof spec->env, &err) != 0 ||
        !gpf_name_valid(p->id)) {
        GPF_WARN("agent", "event=bad_command msg=\"%s\"", gpf_error_msg(&err));
        goto out;
    }
    gpf_strlcpy(spec->id, p->id, sizeof spec->id);
    gpf_strlcpy(spec->owner, p->owner, sizeof spec->owner);
    spec->cpus = p->placement.cpus;
    spec->memory_mib = p->placement.memory_mib;
    gpf_buf ids = {0};
    for (int i = 0; i < p->placement.ngpus && err.code == 0; i++) {
        char id[GPF_UUID_MAX];
        if (a->backend->ops->device_id(a->backend, &p->placement, i, id, sizeof id, &err) == 0)
            gpf_buf_printf(&ids, "%s%s", i ? "," : "", id);
    }
    gpf_strlcpy(spec->device_ids, gpf_buf_cstr(&ids), sizeof spec->device_ids);
    gpf_buf_clear(&ids);
    int64_t t0 = gpf_mono_us();
    int rc = err.code ? err.code : a->rt->ops->start(a->rt, spec, &st, &err);
    if (rc != 0) {
        GPF_WARN("agent", "event=pod_start_failed pod=%s msg=\"%s\"", p->id, gpf_error_msg(&err));
        report(a, p->id, json_pack("{s:s, s:s}", "state", "failed", "message", gpf_error_msg(&err)));
        goto out;
    }
    GPF_INFO("agent", "event=pod_running pod=%s port=%d devices=%s start_us=%lld", p->id, st.ssh_port, spec->device_ids,
             (long long)(gpf_mono_us() - t0));
    report(a, p->id,
           json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "state", "running", "message", st.message, "ssh_port", st.ssh_port,
                     "ssh_user", st.ssh_user, "device_ids", spec->device_ids, "isolation",
                     gpf_isolation_name(st.isolation)));
out:
    gpf_free(p);
    gpf_free(spec);
}

static void stop_pod(agent *a, json_t *jpod)
{
    const char *id = json_string_value(json_object_get(jpod, "id"));
    gpf_error err = {0};
    if (!id || !gpf_name_valid(id)) {
        GPF_WARN("agent", "event=bad_command msg=\"stop without a valid pod id\"");
        return;
    }
    if (a->rt->ops->stop(a->rt, id, &err) != 0) {
        GPF_WARN("agent", "event=pod_stop_failed pod=%s msg=\"%s\"", id, gpf_error_msg(&err));
        report(a, id, json_pack("{s:s, s:s}", "state", "failed", "message", gpf_error_msg(&err)));
        return;
    }
    GPF_INFO("agent", "event=pod_stopped pod=%s", id);
    report(a, id, json_pack("{s:s, s:s}", "state", "stopped", "message", "stopped"));
}

static void heartbeat(agent *a)
{
    char(*ids)[GPF_ID_MAX] = gpf_calloc(1024, GPF_ID_MAX);
    int n = a->rt->ops->list(a->rt, ids, 1024);
    json_t *pods = json_array(), *gpus = json_array(), *resp = NULL;
    for (int i = 0; i < n && i < 1024; i++)
        json_array_append_new(pods, json_pack("{s:s, s:s}", "id", ids[i], "state", "running"));
    for (int g = 0; g < a->facts.host.ngpus; g++)
        json_array_append_new(gpus, json_string(a->facts.host.gpus[g].uuid));
    json_t *body = json_pack("{s:o, s:o}", "pods", pods, "gpus", gpus);
    gpf_error err = {0};
    int status = 0;
    int rc = gpf_httpc_request(a->http, "POST", "/v1/agent/heartbeat", body, &status, &resp, &err);
    if (rc == GPF_EUNAUTH || rc == GPF_ENOTFOUND)
        a->registered = 0;
    else if (rc != 0)
        GPF_WARN("agent", "event=heartbeat_failed msg=\"%s\"", gpf_error_msg(&err));
    a->last_beat = gpf_mono_ms();
    json_decref(body);
    json_decref(resp);
    gpf_free(ids);
}

static void poll_once(agent *a, int64_t *backoff)
{
    char path[128];
    gpf_error err = {0};
    int status = 0;
    json_t *resp = NULL;
    int wait = a->heartbeat_ms;
    snprintf(path, sizeof path, "/v1/agent/commands?after=%lld&wait_ms=%d", (long long)a->seq, wait);
    gpf_httpc_set_timeout_ms(a->http, wait + 10000);
    int rc = gpf_httpc_request(a->http, "GET", path, NULL, &status, &resp, &err);
    gpf_httpc_set_timeout_ms(a->http, 30000);
    if (rc != 0) {
        if (rc == GPF_EUNAUTH || rc == GPF_ENOTFOUND)
            a->registered = 0;
        GPF_WARN("agent", "event=poll_failed msg=\"%s\" retry_ms=%lld", gpf_error_msg(&err), (long long)*backoff);
        gpf_sleep_ms(*backoff);
        *backoff = *backoff * 2 > 2000 ? 2000 : *backoff * 2;
        return;
    }
    *backoff = 100;
    json_t *cmds = json_object_get(resp, "commands");
    size_t i;
    json_t *c;
    json_array_foreach(cmds, i, c)
    {
        const char *type = json_string_value(json_object_get(c, "type"));
        json_t *pod = json_object_get(c, "pod");
        if (type && !strcmp(type, "start_pod"))
            start_pod(a, pod);
        else if (type && !strcmp(type, "stop_pod"))
            stop_pod(a, pod);
    }
    json_t *seq = json_object_get(resp, "seq");
    if (json_is_integer(seq))
        a->seq = json_integer_value(seq);
    json_decref(resp);
}

int gpf_agent_run(const gpf_agent_config *cfg, volatile sig_atomic_t *stop, gpf_error *err)
{
    agent a;
    memset(&a, 0, sizeof a);
    a.cfg = cfg;
    a.heartbeat_ms = 2000;
    int rc = 0;
    int64_t backoff = 100;
    if (mkdir(cfg->state_dir, 0700) != 0 && access(cfg->state_dir, W_OK) != 0) {
        rc = gpf_error_set(err, GPF_EIO, "cannot use state directory %s", cfg->state_dir);
        goto out;
    }
    if ((rc = open_backend(&a, err)) != 0 || (rc = open_runtime(&a, err)) != 0)
        goto out;
    if ((rc = gpf_httpc_new(cfg->server, NULL, &a.http, err)) != 0)
        goto out;
    GPF_INFO("agent", "event=start host=%s backend=%s runtime=%s gpus=%d", a.facts.host.id, a.backend->ops->name,
             a.rt->ops->name, a.facts.host.ngpus);
    while (!*stop) {
        if (!a.registered) {
            gpf_error rerr = {0};
            if (do_register(&a, &rerr) != 0) {
                GPF_WARN("agent", "event=register_failed msg=\"%s\" retry_ms=%lld", gpf_error_msg(&rerr),
                         (long long)backoff);
                if (rerr.code == GPF_EUNAUTH || rerr.code == GPF_EINVAL) {
                    rc = gpf_error_set(err, rerr.code, "registration refused: %s", gpf_error_msg(&rerr));
                    goto out;
                }
                gpf_sleep_ms(backoff);
                backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
                continue;
            }
            heartbeat(&a);
        }
        poll_once(&a, &backoff);
        if (a.registered && gpf_mono_ms() - a.last_beat >= a.heartbeat_ms)
            heartbeat(&a);
    }
    GPF_INFO("agent", "event=stop host=%s (pods keep running)", a.facts.host.id);
out:
    gpf_httpc_free(a.http);
    gpf_runtime_close(a.rt);
    gpf_gpu_backend_close(a.backend);
    return rc;
}
