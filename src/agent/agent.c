#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "agent/gpu_open.h"
#include "agent/preflight.h"
#include "agent/report.h"
#include "agent/agent_cdi.h"
#include "agent/image_cache.h"
#include "agent/image_fetch.h"
#include "agent/runtime.h"
#include "codec/codec.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/datafile.h"
#include "util/httpc.h"
#include "util/log.h"
#include "util/secret.h"
#include "util/timeutil.h"

#define OPT(...) GPF_CFG_OPT(gpf_agent_config, __VA_ARGS__)
const gpf_cfg_opt gpf_agent_options[] = {
    OPT("server", GPF_CFG_STR, "http://127.0.0.1:8470", 0, 0, server, "control plane URL"),
    OPT("join-token", GPF_CFG_STR, "", 0, 0, join_token,
        "join token printed by 'gpufleet serve' on first start (better: --join-token-file or GPUFLEET_JOIN_TOKEN, "
        "which ps does not show)"),
    OPT("join-token-file", GPF_CFG_STR, "", 0, 0, join_token_file,
        "file holding the join token (refused when others may read it)"),
    OPT("ca-file", GPF_CFG_STR, "", 0, 0, ca_file,
        "CA that signed an https server's certificate (\"\" = the system's store)"),
    OPT("pin", GPF_CFG_STR, "", 0, 0, pin,
        "the server's public key must also match this sha256//BASE64 pin (\"\" = none)"),
    OPT("state-dir", GPF_CFG_STR, "/var/lib/gpufleet-agent", 0, 0, state_dir, "where pods' files live"),
    OPT("backend", GPF_CFG_STR, "fake", 0, 0, backend, "GPU backend: nvml (libnvidia-ml.so.1) or fake"),
    OPT("nvml-lib", GPF_CFG_STR, "", 0, 0, nvml_lib, "NVML library to load (\"\" = libnvidia-ml.so.1)"),
    OPT("fake-fleet", GPF_CFG_STR, "", 0, 0, fake_fleet, "fleet fixture for the fake backend (\"\" = built-in demo fleet)"),
    OPT("host-id", GPF_CFG_STR, "", 0, 0, host_id, "host id (fake: the fixture host, required; nvml: default hostname)"),
    OPT("address", GPF_CFG_STR, "127.0.0.1", 0, 0, address, "address pods' sshd listen on and users connect to"),
    OPT("runtime", GPF_CFG_STR, "oci", 0, 0, runtime,
        "pod runtime: oci (each pod an OCI container run by runc: the sandbox), process (plain processes, "
        "no security boundary: isolation soft) or fake"),
    OPT("runc", GPF_CFG_STR, "/usr/sbin/runc", 0, 0, runc, "oci: the OCI runtime binary"),
    OPT("cdi-spec-dirs", GPF_CFG_STR, "/etc/cdi:/var/run/cdi", 0, 0, cdi_spec_dirs,
        "oci: where the host's CDI specs are (nvidia-ctk cdi generate), ':'-separated; a pod's GPUs are "
        "injected per CDI when a spec names them (the fake backend brings its own spec)"),
    OPT("slirp4netns", GPF_CFG_STR, "/usr/bin/slirp4netns", 0, 0, slirp4netns,
        "oci: gives pods outbound network (\"\" = pods without network)"),
    OPT("pod-uid-base", GPF_CFG_INT, "1073741824", 65536, 4000000000LL, pod_uid_base,
        "oci: host uid of the first pod's root; pod k gets base + k*65536"),
    OPT("max-pods", GPF_CFG_INT, "1024", 1, 16384, max_pods, "oci: pods on this host at once (one uid range each)"),
    OPT("image-gc-free-gb", GPF_CFG_INT, "20", 0, 1LL << 30, image_gc_free_gb,
        "oci: when the state directory's filesystem has less free than this (GB) after a pod stops, "
        "images no pod here uses are removed (0 = never)"),
    OPT("pod-pids-max", GPF_CFG_INT, "4096", 16, 1 << 22, pod_pids_max, "oci: processes per pod"),
    OPT("pod-no-new-privs", GPF_CFG_BOOL, "false", 0, 0, pod_no_new_privs,
        "oci: set no_new_privs in pods (sudo inside then cannot work)"),
    OPT("ssh-port-min", GPF_CFG_INT, "22000", 1024, 65535, ssh_port_min, "lowest port for pods' sshd"),
    OPT("ssh-port-max", GPF_CFG_INT, "22999", 1024, 65535, ssh_port_max, "highest port for pods' sshd"),
    OPT("bwrap", GPF_CFG_STR, "/usr/bin/bwrap", 0, 0, bwrap, "bubblewrap binary (\"\" = run pods as plain processes)"),
    OPT("sshd", GPF_CFG_STR, "/usr/sbin/sshd", 0, 0, sshd, "OpenSSH server binary"),
    OPT("log-level", GPF_CFG_STR, "info", 0, 0, log_level, "debug, info, warn or error"),
    OPT("sysfs-root", GPF_CFG_STR, "/", 0, 0, sysfs_root, "where /sys is read from for the preflight"),
    OPT("catalog-dir", GPF_CFG_STR, "", 0, 0, catalog_dir, "GPU catalog directory (\"\" = built in)"),
    OPT("pod-cpus", GPF_CFG_STR, "", 0, 0, pod_cpus, "CPUs pods may use, as a cpulist (\"\" = all)"),
    OPT("cgroup-root", GPF_CFG_STR, "/sys/fs/cgroup", 0, 0, cgroup_root,
        "cgroup root for pods' CPU and memory limits: a cgroup v2 mount, or a directory of v1 "
        "hierarchies (memory/, cpu/) (\"\" = no cgroups)"),
    OPT("dev-root", GPF_CFG_STR, "/", 0, 0, dev_root, "where /dev and /proc/driver/nvidia are read from for pods' device nodes"),
    OPT("vm-mmio-gb", GPF_CFG_INT, "0", 0, 1 << 20, vm_mmio_gb, "VM modes: MMIO space each VM gets (0 = not stated)"),
    OPT("vm-gpus", GPF_CFG_INT, "1", 1, 64, vm_gpus, "passthrough: GPUs per VM"),
    GPF_CFG_END,
};

typedef struct agent {
    const gpf_agent_config *cfg;
    gpf_gpu_backend *backend;
    gpf_runtime *rt;
    gpf_host_facts facts;
    gpf_sysfs_host *sys;          /* host facts from sysfs; NULL when unreadable */
    gpf_httpc *http;
    gpf_image_cache *images;      /* oci: images unpacked on this host; NULL otherwise */
    gpf_image_fetch *fetch;       /* the image being brought here, NULL none */
    gpf_cdi *cdi;                 /* oci: the host's CDI specs; NULL otherwise */
    long long cdi_stamp;          /* of the spec directories when they were loaded */
    char token[256];              /* this agent's token (for the fetch's own connection) */
    char join[128];               /* the join token (--join-token or --join-token-file) */
    char saved[256];              /* the agent token kept in <state-dir>/agent-token; "" none */
    int64_t exists_logged_ms;     /* last "host exists" warning (once a minute) */
    json_t *deferred;             /* commands from a stop on, waiting for the pods on their way */
    json_t *reports;              /* pod status reports waiting for flush_reports, oldest first */
    int single_reports;           /* the control plane has no batch endpoint: one report a request */
    int64_t reports_retry_ms;     /* monotonic: a flush that failed is not tried again before */
    int registered;
    int heartbeat_ms;
    int64_t seq;
    int64_t last_beat;
    struct pod_track *tracks;     /* the pods this agent knows it runs */
    int ntracks, tcap;
} agent;

/* A pod the agent runs: when it was last active, and whether it was seen dead. */
typedef struct pod_track {
    char id[GPF_ID_MAX];
    int64_t last_active_ms;       /* monotonic: an SSH session or a GPU process seen */
    int dead;                     /* its processes are gone: reported as failed until acknowledged */
    int64_t died_at_ms;           /* UTC ms when this agent saw it dead */
} pod_track;

static pod_track *track_find(agent *a, const char *id)
{
    for (int i = 0; i < a->ntracks; i++)
        if (strcmp(a->tracks[i].id, id) == 0)
            return &a->tracks[i];
    return NULL;
}

/* Starts tracking a pod the runtime runs (no-op when already tracked or not running), so
 * that a pod that dies before the next heartbeat is still reported as seen dying. */
static void track_running(agent *a, const char *id)
{
    if (!id || track_find(a, id) || !a->rt->ops->status(a->rt, id, NULL))
        return;
    if (a->ntracks == a->tcap) {
        a->tcap = a->tcap ? a->tcap * 2 : 16;
        a->tracks = gpf_reallocarray(a->tracks, (size_t)a->tcap, sizeof *a->tracks);
    }
    pod_track *t = &a->tracks[a->ntracks++];
    memset(t, 0, sizeof *t);
    gpf_strlcpy(t->id, id, sizeof t->id);
    t->last_active_ms = gpf_mono_ms();
}

static void untrack(agent *a, const char *id)
{
    pod_track *t = track_find(a, id);
    if (t)
        *t = a->tracks[--a->ntracks];
}

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
    gpf_chk_report *rep = GPF_NEW(gpf_chk_report);
    gpf_error err = {0};
    gpf_data_dir src = {a->cfg->catalog_dir, GPF_CATALOG_BUILTIN};
    char *minimums = gpf_data_file_text(&src, "driver_minimums.csv", NULL);
    a->sys = GPF_NEW(gpf_sysfs_host);
    if (gpf_sysfs_read(a->cfg->sysfs_root, a->sys, &err) != 0) {
        GPF_WARN("agent", "event=sysfs_unreadable msg=\"%s\"", gpf_error_msg(&err));
        gpf_free(a->sys);
        a->sys = NULL;
    }
    gpf_chk_input in = {0};
    in.facts = &a->facts;
    in.sys = a->sys;
    in.cat = cat;
    in.driver_minimums = minimums;
    in.deploy_mode = a->facts.host.deploy_mode;
    in.vm_mmio_gb = (int)a->cfg->vm_mmio_gb;
    in.vm_gpus = (int)a->cfg->vm_gpus;
    in.pod_cpus = a->cfg->pod_cpus;
    err = (gpf_error){0};
    if (gpf_preflight_run(&in, rep, &err) == 0) {
        log_preflight(&a->facts.host, rep);
    } else {
        /* a host that cannot check itself is not one to place on: say so as a failure */
        GPF_WARN("agent", "event=preflight_error msg=\"%s\"", gpf_error_msg(&err));
        memset(rep, 0, sizeof *rep);
        rep->verdict = GPF_CHK_FAIL;
        rep->n = 1;
        gpf_strlcpy(rep->f[0].check, "preflight", sizeof rep->f[0].check);
        rep->f[0].level = GPF_CHK_FAIL;
        rep->f[0].gpu = -1;
        snprintf(rep->f[0].detail, sizeof rep->f[0].detail, "the preflight could not run: %.200s", gpf_error_msg(&err));
        gpf_strlcpy(rep->f[0].fix, "correct the agent's options (see the message), then restart it",
                    sizeof rep->f[0].fix);
    }
    gpf_report_preflight(rep, &a->facts.host); /* registration sends it */
    gpf_free(minimums);
    gpf_free(rep);
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
    gpf_data_dir src = {a->cfg->catalog_dir, GPF_CATALOG_BUILTIN};
    int rc = gpf_catalog_load(gpf_data_file_reader, &src, &cat, err);
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
    if (strcmp(a->cfg->runtime, "process") != 0 && strcmp(a->cfg->runtime, "oci") != 0)
        return gpf_error_set(err, GPF_EINVAL, "unknown runtime '%s' (oci, process or fake)", a->cfg->runtime);
    gpf_runtime_config rc = {0};
    if (!strcmp(a->cfg->runtime, "oci")) {
        char dir[sizeof a->cfg->state_dir + 16];
        snprintf(dir, sizeof dir, "%s/images", a->cfg->state_dir);
        int e = gpf_image_cache_open(dir, &a->images, err);
        if (e != 0)
            return e;
        rc.state_dir = a->cfg->state_dir;
        rc.listen_address = a->cfg->address;
        rc.port_min = (int)a->cfg->ssh_port_min;
        rc.port_max = (int)a->cfg->ssh_port_max;
        rc.cgroup_root = a->cfg->cgroup_root;
        rc.runc_path = a->cfg->runc;
        rc.slirp_path = a->cfg->slirp4netns;
        rc.uid_base = a->cfg->pod_uid_base;
        rc.max_pods = (int)a->cfg->max_pods;
        rc.pids_max = a->cfg->pod_pids_max;
        rc.no_new_privs = a->cfg->pod_no_new_privs != 0;
        a->cdi_stamp = gpf_agent_cdi_stamp(a->cfg->cdi_spec_dirs);
        if ((e = gpf_agent_cdi_open(a->cfg->cdi_spec_dirs, &a->facts, !strcmp(a->backend->ops->name, "fake"),
                                    a->cfg->dev_root, a->cfg->state_dir, &a->cdi, err)) != 0)
            return e;
        return gpf_runtime_oci_open(&rc, &a->rt, err);
    }
    rc.state_dir = a->cfg->state_dir;
    rc.listen_address = a->cfg->address;
    rc.port_min = (int)a->cfg->ssh_port_min;
    rc.port_max = (int)a->cfg->ssh_port_max;
    rc.sshd_path = a->cfg->sshd;
    rc.bwrap_path = a->cfg->bwrap;
    rc.start_timeout_ms = 5000;
    rc.cgroup_root = a->cfg->cgroup_root;
    return gpf_runtime_process_open(&rc, &a->rt, err);
}

/* <state-dir>/agent-token: where this host's agent token is kept across restarts. */
static void token_path(const agent *a, char *buf, size_t size)
{
    snprintf(buf, size, "%s/agent-token", a->cfg->state_dir);
}

/* Keeps tok in <state-dir>/agent-token (mode 0600, written whole and renamed into place), so
 * that the agent re-registers with it when it restarts. */
static int save_token(const agent *a, const char *tok, gpf_error *err)
{
    char path[600], tmp[640];
    token_path(a, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    size_t n = strlen(tok);
    int ok = fd >= 0 && fchmod(fd, 0600) == 0 && write(fd, tok, n) == (ssize_t)n && write(fd, "\n", 1) == 1 &&
             fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return gpf_error_set(err, GPF_EIO, "%s: %s", path, strerror(e));
    }
    return 0;
}

/* The join token (--join-token, GPUFLEET_JOIN_TOKEN or --join-token-file) into a->join and
 * the agent token a previous run kept into a->saved. */
static int load_credentials(agent *a, gpf_error *err)
{
    char path[600];
    int rc = gpf_secret_option("join-token", a->cfg->join_token, a->cfg->join_token_file, a->join, sizeof a->join,
                               err);
    if (rc != 0)
        return rc;
    token_path(a, path, sizeof path);
    rc = gpf_secret_file_read(path, a->saved, sizeof a->saved, NULL, err);
    return rc == GPF_ENOTFOUND ? 0 : rc;
}

/* POST /v1/agent/register with cred as the bearer. */
static int post_register(agent *a, json_t *body, const char *cred, json_t **resp, gpf_error *err)
{
    int status = 0;
    gpf_httpc_set_token(a->http, cred);
    return gpf_httpc_request(a->http, "POST", "/v1/agent/register", body, &status, resp, err);
}

/* Registers with the agent token kept from before (a restart: the host stays what it is)
 * or, without one or when the control plane no longer knows it, with the join token; keeps
 * the new agent token for the next restart. */
static int do_register(agent *a, gpf_error *err)
{
    gpf_host_rec *h = &a->facts.host;
    gpf_strlcpy(h->address, a->cfg->address, sizeof h->address);
    gpf_strlcpy(h->runtime, a->rt->ops->name, sizeof h->runtime);
    gpf_strlcpy(h->backend, a->backend->ops->name, sizeof h->backend);
    gpf_strlcpy(h->agent_version, GPF_VERSION, sizeof h->agent_version);
    /* The most pods it runs: its runtime's limit, and never more than it lists and reports. */
    h->max_pods = a->rt->max_pods > 0 && a->rt->max_pods < GPF_AGENT_MAX_PODS ? a->rt->max_pods : GPF_AGENT_MAX_PODS;
    json_t *body = gpf_json_agent_host(h), *resp = NULL;
    /* The most a pod here can be isolated: the process runtime is no security boundary. */
    json_object_set_new(body, "isolation_max", json_string(strcmp(a->rt->ops->name, "process") ? "hardware" : "soft"));
    int rc = post_register(a, body, a->saved[0] ? a->saved : a->join, &resp, err);
    if (rc == GPF_EUNAUTH && a->saved[0]) {
        GPF_WARN("agent", "event=agent_token_refused msg=\"%s\" next=join_token", gpf_error_msg(err));
        explicit_bzero(a->saved, sizeof a->saved);
        gpf_error_clear(err);
        rc = post_register(a, body, a->join, &resp, err);
    }
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
    gpf_strlcpy(a->token, tok, sizeof a->token);
    gpf_strlcpy(a->saved, tok, sizeof a->saved);
    gpf_error serr = {0};
    if (save_token(a, tok, &serr) != 0)
        GPF_WARN("agent", "event=token_not_kept msg=\"%s\" (a restart will need a re-key)", gpf_error_msg(&serr));
    a->heartbeat_ms = hb > 100 ? (int)hb : 2000;
    a->registered = 1;
    a->seq = 0;
    json_decref(resp);
    GPF_INFO("agent", "event=registered host=%s gpus=%d server=%s", h->id, h->ngpus, a->cfg->server);
    return 0;
}

#define REPORTS_QUEUED_MAX 4096 /* reports waiting for the control plane; beyond, the oldest go */
#define REPORT_RETRY_MS 500     /* reports still queued: the next long poll waits at most this */

/* Queues the agent's word on a pod (body stolen) for the next flush_reports, after what
 * is queued already: the reports about one pod reach the control plane in order. */
static void report(agent *a, const char *pod_id, json_t *body)
{
    if (!a->reports)
        a->reports = json_array();
    if (json_array_size(a->reports) >= REPORTS_QUEUED_MAX) {
        json_t *old = json_array_get(a->reports, 0);
        GPF_WARN("agent", "event=report_dropped pod=%s msg=\"%d reports wait for the control plane\"",
                 json_string_value(json_object_get(old, "pod_id")), REPORTS_QUEUED_MAX);
        json_array_remove(a->reports, 0);
    }
    json_object_set_new(body, "pod_id", json_string(pod_id));
    json_array_append_new(a->reports, body);
}

/* How many of the queued reports (from the head) go in one batch: at most
 * GPF_AGENT_STATUS_BATCH_MAX and GPF_AGENT_STATUS_BATCH_BYTES of JSON (at least one). */
static size_t batch_len(json_t *q)
{
    size_t n = 0, bytes = 16;
    for (; n < json_array_size(q) && n < GPF_AGENT_STATUS_BATCH_MAX; n++) {
        bytes += json_dumpb(json_array_get(q, n), NULL, 0, JSON_COMPACT) + 1;
        if (n > 0 && bytes > GPF_AGENT_STATUS_BATCH_BYTES)
            break;
    }
    return n;
}

/* Sends the head report alone the old way (a control plane without the batch endpoint);
 * 0 when it was answered (taken or refused), else the transport's or server's error. */
static int send_single(agent *a, gpf_error *err)
{
    char path[160];
    int status = 0;
    json_t *resp = NULL, *body = json_deep_copy(json_array_get(a->reports, 0));
    const char *id = json_string_value(json_object_get(body, "pod_id"));
    snprintf(path, sizeof path, "/v1/agent/pods/%s/status", id ? id : "");
    json_object_del(body, "pod_id");
    int rc = gpf_httpc_request(a->http, "POST", path, body, &status, &resp, err);
    json_decref(resp);
    json_decref(body);
    return rc == GPF_ENOTFOUND || rc == GPF_EINVAL ? 0 : rc; /* refused: retrying changes nothing */
}

/* Sends the head batch; 0 when the control plane took it (each report's refusal logged),
 * else its error (nothing of the batch applied). *n: how many reports it held. */
static int send_batch(agent *a, size_t *n, gpf_error *err)
{
    int status = 0;
    json_t *resp = NULL, *batch = json_array();
    *n = batch_len(a->reports);
    for (size_t i = 0; i < *n; i++)
        json_array_append(batch, json_array_get(a->reports, i));
    json_t *body = json_pack("{s:o}", "reports", batch);
    int rc = gpf_httpc_request(a->http, "POST", "/v1/agent/pods/status", body, &status, &resp, err);
    size_t i = 0;
    json_t *res = NULL;
    json_array_foreach(json_object_get(resp, "results"), i, res)
    {
        const char *pod = json_string_value(json_object_get(res, "pod_id"));
        const char *msg = json_string_value(json_object_get(json_object_get(res, "error"), "message"));
        if (!json_is_true(json_object_get(res, "ok")))
            GPF_WARN("agent", "event=report_refused pod=%s msg=\"%s\"", pod ? pod : "?", msg ? msg : "");
    }
    json_decref(resp);
    json_decref(body);
    return rc;
}

/* Sends the queued reports as batches, in order. A batch the control plane did not take
 * (unreachable, its store failing, the agent not registered) stays queued, with what
 * follows it, for a flush REPORT_RETRY_MS later at the earliest (or after the agent
 * registered again); one it refuses as malformed is dropped (logged). */
static void flush_reports(agent *a)
{
    if (!a->registered || gpf_mono_ms() < a->reports_retry_ms)
        return;
    while (json_array_size(a->reports) > 0) {
        gpf_error err = {0};
        size_t n = 1;
        int rc = a->single_reports ? send_single(a, &err) : send_batch(a, &n, &err);
        if (rc == GPF_ENOTFOUND && !a->single_reports && strncmp(err.msg, "no such endpoint", 16) == 0) {
            GPF_WARN("agent", "event=report_batch_unsupported msg=\"the control plane is older: one report a request\"");
            a->single_reports = 1;
            continue;
        }
        if (rc == GPF_EUNAUTH || rc == GPF_ENOTFOUND)
            a->registered = 0; /* as a poll does: the agent registers again, then flushes */
        if (rc != 0)
            GPF_WARN("agent", "event=report_failed reports=%zu msg=\"%s\"", n, gpf_error_msg(&err));
        if (rc != 0 && rc != GPF_EINVAL && rc != GPF_EMALFORMED && rc != GPF_ETOOLARGE) {
            a->reports_retry_ms = gpf_mono_ms() + REPORT_RETRY_MS; /* kept: a later flush tries again */
            return;
        }
        while (n-- > 0)
            json_array_remove(a->reports, 0);
    }
}

/* The pod's own host key and the isolation layers in force, when its runtime has them. */
static void add_sandbox_facts(json_t *body, const gpf_pod_status *st)
{
    if (st->host_key[0])
        json_object_set_new(body, "ssh_host_key", json_string(st->host_key));
    if (!st->layers[0])
        return;
    json_t *layers = json_array();
    char copy[sizeof st->layers];
    gpf_strlcpy(copy, st->layers, sizeof copy);
    for (char *rest = copy, *t; (t = strsep(&rest, " "));)
        if (t[0])
            json_array_append_new(layers, json_string(t));
    json_object_set_new(body, "isolation_layers", layers);
}

/* The image of a start_pod command (oci runtime): spec->image_digest, and
 * spec->image_rootfs when it is unpacked on this host already (else "": it must be
 * fetched first). 0, or the error to report (the pod fails). */
static int pod_image(agent *a, json_t *jpod, gpf_pod_spec *spec, gpf_error *err)
{
    char name[GPF_ID_MAX], digest[GPF_DIGEST_MAX];
    int rc;
    if (!a->images)
        return 0;
    if ((rc = gpf_decode_agent_pod_image(jpod, name, sizeof name, digest, sizeof digest, err)) != 0)
        return rc;
    if (!digest[0])
        return gpf_error_set(err, GPF_EINVAL, "no image%s%s on the control plane: import one with `gpufleet image "
                             "import` (make image builds the default)", name[0] ? " named " : "", name);
    gpf_strlcpy(spec->image_digest, digest, sizeof spec->image_digest);
    if (!gpf_image_present(a->images, digest, spec->image_rootfs, sizeof spec->image_rootfs))
        spec->image_rootfs[0] = '\0';
    return 0;
}

/* Loads the host's CDI specs again when their directories changed since (a spec added,
 * removed or replaced); keeps the ones it has when the new load fails. */
static void refresh_cdi(agent *a)
{
    long long stamp = gpf_agent_cdi_stamp(a->cfg->cdi_spec_dirs);
    gpf_cdi *fresh = NULL;
    gpf_error err = {0};
    if (stamp == a->cdi_stamp)
        return;
    if (gpf_agent_cdi_open(a->cfg->cdi_spec_dirs, &a->facts, !strcmp(a->backend->ops->name, "fake"),
                           a->cfg->dev_root, a->cfg->state_dir, &fresh, &err) != 0) {
        GPF_WARN("agent", "event=cdi_reload_failed msg=\"%s\"", gpf_error_msg(&err));
        return;
    }
    gpf_cdi_free(a->cdi);
    a->cdi = fresh;
    a->cdi_stamp = stamp;
}

/* Frees a pod spec and the CDI edits it points to (accepts NULL). */
static void free_spec(gpf_pod_spec *spec)
{
    if (!spec)
        return;
    gpf_free((void *)spec->cdi);
    gpf_free(spec);
}

/* A pod on its way up. */
typedef struct starting {
    gpf_pod_spec *spec;
    int64_t t0;      /* monotonic us at start_begin */
    int need_image;  /* 1: its image is being brought to this host; not begun yet */
} starting;

static void heartbeat(agent *a);

/* Sets a planned pod on its way (its image is here); 0, or the failure was reported. */
static int begin_start(agent *a, starting *s)
{
    gpf_error err = {0};
    s->t0 = gpf_mono_us();
    int rc = a->rt->ops->start_begin(a->rt, s->spec, &err);
    if (rc != 0) {
        GPF_WARN("agent", "event=pod_start_failed pod=%s msg=\"%s\"", s->spec->id, gpf_error_msg(&err));
        report(a, s->spec->id, json_pack("{s:s, s:s}", "state", "failed", "message", gpf_error_msg(&err)));
    }
    return rc;
}

/* Pods waiting for an image: one fetch at a time; when it ends, every pod waiting for that
 * image begins (or fails with the fetch's error). Returns how many pods left the wait by
 * failing. */
static int advance_images(agent *a, starting *s, int n)
{
    int failed = 0;
    if (a->fetch && gpf_image_fetch_done(a->fetch)) {
        char digest[80], rootfs[sizeof s[0].spec->image_rootfs];
        gpf_error err = {0};
        gpf_strlcpy(digest, gpf_image_fetch_digest(a->fetch), sizeof digest);
        int rc = gpf_image_fetch_finish(a->fetch, rootfs, sizeof rootfs, &err);
        a->fetch = NULL;
        for (int i = 0; i < n; i++) {
            if (!s[i].spec || !s[i].need_image || strcmp(s[i].spec->image_digest, digest) != 0)
                continue;
            s[i].need_image = 0;
            if (rc == 0)
                gpf_strlcpy(s[i].spec->image_rootfs, rootfs, sizeof s[i].spec->image_rootfs);
            if (rc != 0) {
                GPF_WARN("agent", "event=pod_start_failed pod=%s msg=\"%s\"", s[i].spec->id, gpf_error_msg(&err));
                report(a, s[i].spec->id, json_pack("{s:s, s:s}", "state", "failed", "message", gpf_error_msg(&err)));
            }
            if (rc != 0 || begin_start(a, &s[i]) != 0) {
                free_spec(s[i].spec);
                s[i].spec = NULL;
                failed++;
            }
        }
    }
    for (int i = 0; i < n && !a->fetch; i++) {
        gpf_error err = {0};
        if (!s[i].spec || !s[i].need_image)
            continue;
        gpf_httpc_tls tls = {a->cfg->ca_file, a->cfg->pin};
        if (gpf_image_fetch_start(a->images, a->cfg->server, a->token, &tls, s[i].spec->image_digest, &a->fetch,
                                  &err) != 0) {
            report(a, s[i].spec->id, json_pack("{s:s, s:s}", "state", "failed", "message", gpf_error_msg(&err)));
            free_spec(s[i].spec);
            s[i].spec = NULL;
            failed++;
        }
    }
    return failed;
}

/* Sets the pod of a start_pod command on its way. 0 and *out filled, or the failure was
 * reported (or the command was malformed) and nothing is on its way. */
static int begin_pod(agent *a, json_t *jpod, starting *out)
{
    gpf_pod *p = GPF_NEW(gpf_pod);
    gpf_pod_spec *spec = GPF_NEW(gpf_pod_spec);
    gpf_error err = {0};
    int rc = -1;
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
    /* The sandbox's device nodes and the pod's CPUs (docs/hardware.md, "Pod isolation"). */
    gpf_iso_input iso = {&a->facts, a->sys, a->cfg->pod_cpus, &p->placement, p->slice.kind, spec->device_ids,
                         a->cfg->dev_root};
    if (err.code == 0 && gpf_iso_plan_make(&iso, &spec->iso, &err) == 0 && spec->iso.mig_unknown) {
        gpf_host_facts *fresh = GPF_NEW(gpf_host_facts); /* a MIG device made since the last discovery */
        if (a->backend->ops->discover(a->backend, fresh, NULL) == 0) {
            iso.facts = fresh;
            gpf_iso_plan_make(&iso, &spec->iso, &err);
        }
        gpf_free(fresh);
    }
    if (err.code == 0 && a->cdi && p->placement.ngpus > 0)
        refresh_cdi(a);
    if (err.code == 0 && a->cdi && p->placement.ngpus > 0) {
        char note[240];
        int is_mig = p->slice.kind == GPF_SLICE_MIG || p->placement.mig_size > 0;
        spec->cdi = gpf_agent_cdi_edits(a->cdi, spec->device_ids, p->placement.gpu_index, p->placement.ngpus, is_mig,
                                        note, sizeof note);
        if (!spec->cdi && note[0])
            GPF_INFO("agent", "event=cdi_fallback pod=%s msg=\"%s; devices from sysfs\"", p->id, note);
    }
    if (err.code == 0)
        pod_image(a, jpod, spec, &err);
    if (err.code != 0) {
        rc = err.code;
        GPF_WARN("agent", "event=pod_start_failed pod=%s msg=\"%s\"", p->id, gpf_error_msg(&err));
        report(a, p->id, json_pack("{s:s, s:s}", "state", "failed", "message", gpf_error_msg(&err)));
        goto out;
    }
    out->spec = spec;
    out->need_image = a->images && !spec->image_rootfs[0];
    spec = NULL;
    rc = 0;
    if (!out->need_image && (rc = begin_start(a, out)) != 0) {
        free_spec(out->spec);
        out->spec = NULL;
    }
out:
    gpf_free(p);
    free_spec(spec);
    return rc;
}

/* Waits for the pods on their way, reporting each the moment it is ready or has failed.
 * They come up side by side: n pods launched together take about as long as the slowest,
 * not the sum. */
/* The pods on their way: a growable set. */
typedef struct starts {
    starting *v;
    int n, cap;
} starts;

#define FETCH_EVERY_MS 20 /* while pods start, new commands are fetched this often */

static starting *starts_add(starts *ss)
{
    if (ss->n == ss->cap) {
        ss->cap = ss->cap ? 2 * ss->cap : 16;
        ss->v = gpf_reallocarray(ss->v, (size_t)ss->cap, sizeof *ss->v);
    }
    starting *s = &ss->v[ss->n++];
    memset(s, 0, sizeof *s);
    return s;
}

static int starts_has(const starts *ss, const char *pod_id)
{
    for (int i = 0; pod_id && i < ss->n; i++)
        if (ss->v[i].spec && !strcmp(ss->v[i].spec->id, pod_id))
            return 1;
    return 0;
}

static int live_starts(const starts *ss)
{
    int k = 0;
    for (int i = 0; i < ss->n; i++)
        k += ss->v[i].spec != NULL;
    return k;
}

/* Takes the commands of one answer in order: start commands are set on their way into ss;
 * at the first stop command, that command and the rest wait in a->deferred until the pods
 * on their way are up. */
static void take_commands(agent *a, json_t *cmds, size_t from, starts *ss)
{
    for (size_t i = from; i < json_array_size(cmds); i++) {
        json_t *c = json_array_get(cmds, i);
        const char *type = json_string_value(json_object_get(c, "type"));
        if (type && !strcmp(type, "stop_pod")) {
            if (!a->deferred)
                a->deferred = json_array();
            for (size_t k = i; k < json_array_size(cmds); k++)
                json_array_append(a->deferred, json_array_get(cmds, k));
            return;
        }
        if (type && !strcmp(type, "start_pod")) {
            /* Each answer lists every pod still starting: one already on its way here is
             * not begun again. */
            if (starts_has(ss, json_string_value(json_object_get(json_object_get(c, "pod"), "id"))))
                continue;
            starting *s = starts_add(ss);
            if (begin_pod(a, json_object_get(c, "pod"), s) != 0)
                ss->n--;
        }
    }
}

/* New commands, without waiting (while pods start). */
static void fetch_more(agent *a, starts *ss)
{
    char path[128];
    gpf_error err = {0};
    int status = 0;
    json_t *resp = NULL;
    snprintf(path, sizeof path, "/v1/agent/commands?after=%lld&wait_ms=0", (long long)a->seq);
    if (gpf_httpc_request(a->http, "GET", path, NULL, &status, &resp, &err) != 0)
        return; /* the long poll after the starts says what is wrong */
    json_t *seq = json_object_get(resp, "seq");
    if (json_is_integer(seq))
        a->seq = json_integer_value(seq);
    take_commands(a, json_object_get(resp, "commands"), 0, ss);
    json_decref(resp);
}

static void finish_starts(agent *a, starts *ss)
{
    int64_t next_fetch = gpf_mono_ms() + FETCH_EVERY_MS;
    for (int left = live_starts(ss); left > 0; left = live_starts(ss)) {
        starting *s = ss->v;
        int n = ss->n;
        advance_images(a, s, n);
        for (int i = 0; i < n; i++) {
            if (!s[i].spec || s[i].need_image)
                continue;
            const gpf_pod_spec *spec = s[i].spec;
            gpf_pod_status st;
            gpf_error err = {0};
            memset(&st, 0, sizeof st);
            int rc = a->rt->ops->start_poll(a->rt, spec->id, &st, &err);
            if (rc == 0)
                continue;
            if (rc < 0) {
                GPF_WARN("agent", "event=pod_start_failed pod=%s msg=\"%s\"", spec->id, gpf_error_msg(&err));
                report(a, spec->id, json_pack("{s:s, s:s}", "state", "failed", "message", gpf_error_msg(&err)));
            } else {
                GPF_INFO("agent", "event=pod_running pod=%s port=%d devices=%s isolation=%s start_us=%lld", spec->id,
                         st.ssh_port, spec->device_ids, gpf_isolation_name(st.isolation),
                         (long long)(gpf_mono_us() - s[i].t0));
                json_t *body = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "state", "running", "message", st.message,
                                         "ssh_port", st.ssh_port, "ssh_user", st.ssh_user, "device_ids",
                                         spec->device_ids, "isolation", gpf_isolation_name(st.isolation));
                add_sandbox_facts(body, &st);
                report(a, spec->id, body);
                track_running(a, spec->id);
            }
            free_spec(s[i].spec);
            s[i].spec = NULL;
        }
        flush_reports(a); /* this pass's reports: one request */
        /* Start commands that came meanwhile join the pods on their way (a stop, and all
         * after it, waits until they are up: commands take effect in order). */
        if (!a->deferred && gpf_mono_ms() >= next_fetch) {
            fetch_more(a, ss);
            next_fetch = gpf_mono_ms() + FETCH_EVERY_MS;
        }
        if (live_starts(ss) > 0)
            gpf_sleep_ms(n > 4 ? 4 : 2);
        /* A start may take long (an image to fetch): the host must not look lost meanwhile. */
        if (a->registered && gpf_mono_ms() - a->last_beat >= a->heartbeat_ms)
            heartbeat(a);
    }
}

/* After a pod stops (nothing is starting then): when the state directory's filesystem is
 * short of space, the images no pod of this host uses go (they come back, fetched again,
 * when a pod needs them). */
static void collect_images(agent *a)
{
    struct statvfs vs;
    if (!a->images || !a->rt->ops->images || a->cfg->image_gc_free_gb <= 0 || statvfs(a->cfg->state_dir, &vs) != 0)
        return;
    long long free_gb = (long long)((unsigned long long)vs.f_bavail * vs.f_frsize >> 30);
    if (free_gb >= a->cfg->image_gc_free_gb)
        return;
    char(*in_use)[80] = gpf_calloc(1024, 80);
    const char *keep[1024];
    int n = a->rt->ops->images(a->rt, in_use, 1024);
    for (int i = 0; i < n; i++)
        keep[i] = in_use[i];
    gpf_error err = {0};
    int removed = gpf_image_gc(a->images, keep, n, &err);
    if (removed < 0)
        GPF_WARN("agent", "event=image_gc_failed msg=\"%s\"", gpf_error_msg(&err));
    else
        GPF_INFO("agent", "event=image_gc free_gb=%lld kept=%d removed=%d", free_gb, n, removed);
    gpf_free(in_use);
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
    untrack(a, id);
    GPF_INFO("agent", "event=pod_stopped pod=%s", id);
    collect_images(a);
    report(a, id, json_pack("{s:s, s:s}", "state", "stopped", "message", "stopped"));
}

/* The pod whose processes include pid (from the runtime's view of each running pod). */
typedef struct pid_map {
    int n;
    struct {
        unsigned pid;
        int track;
    } *e;
    agent *a;
} pid_map;

static int pod_of_pid(void *ctx, unsigned pid, char *id, size_t size)
{
    const pid_map *m = ctx;
    for (int i = 0; i < m->n; i++)
        if (m->e[i].pid == pid) {
            gpf_strlcpy(id, m->a->tracks[m->e[i].track].id, size);
            return 1;
        }
    return 0;
}

/* Brings the pod table up to date with what the runtime runs: new pods are tracked, and
 * tracked pods that are no longer running are marked dead (now). */
static void refresh_tracks(agent *a)
{
    char(*ids)[GPF_ID_MAX] = gpf_calloc(GPF_AGENT_MAX_PODS, GPF_ID_MAX);
    int n = a->rt->ops->list(a->rt, ids, GPF_AGENT_MAX_PODS);
    for (int i = 0; i < a->ntracks; i++) {
        int alive = 0;
        for (int k = 0; k < n && !alive; k++)
            alive = strcmp(ids[k], a->tracks[i].id) == 0;
        if (!alive && !a->tracks[i].dead) {
            a->tracks[i].dead = 1;
            a->tracks[i].died_at_ms = gpf_now_ms();
            GPF_WARN("agent", "event=pod_dead pod=%s", a->tracks[i].id);
        }
    }
    for (int k = 0; k < n; k++)
        track_running(a, ids[k]);
    gpf_free(ids);
}

/* Who runs what: each live pod's processes (into pm) and SSH sessions (-1 unknown). */
static void map_pods(agent *a, gpf_pod_activity *act, pid_map *pm, int *sessions)
{
    pm->n = 0;
    pm->a = a;
    for (int i = 0; i < a->ntracks; i++) {
        sessions[i] = -1;
        if (a->tracks[i].dead || !a->rt->ops->activity || a->rt->ops->activity(a->rt, a->tracks[i].id, act) != 0)
            continue;
        sessions[i] = act->ssh_sessions;
        pm->e = gpf_reallocarray(pm->e, (size_t)(pm->n + act->npids + 1), sizeof *pm->e);
        for (int k = 0; k < act->npids; k++) {
            pm->e[pm->n].pid = act->pids[k];
            pm->e[pm->n++].track = i;
        }
    }
}

/* The GPUs as discovery sees them now. A live backend (NVML) reads MIG devices and
 * processes at every discovery; a fixture's facts never change, so it reports UUIDs only. */
static int gpus_now(agent *a, pid_map *pm, gpf_hw_gpu *out)
{
    if (!a->backend->ops->live)
        return gpf_report_gpus(&a->facts, &a->facts.host, 0, NULL, NULL, out);
    gpf_host_facts *fx = GPF_NEW(gpf_host_facts);
    gpf_error err = {0};
    int n = -1;
    if (a->backend->ops->discover(a->backend, fx, &err) == 0)
        n = gpf_report_gpus(fx, &a->facts.host, 1, pod_of_pid, pm, out);
    else
        GPF_WARN("agent", "event=discovery_failed msg=\"%s\" (GPUs left out of this heartbeat)", gpf_error_msg(&err));
    gpf_free(fx);
    return n;
}

static void heartbeat(agent *a)
{
    gpf_pod_activity *act = GPF_NEW(gpf_pod_activity);
    pid_map pm = {0};
    int *sessions = NULL;
    gpf_agent_report rep = {0};
    refresh_tracks(a);
    sessions = gpf_calloc((size_t)a->ntracks + 1, sizeof *sessions);
    map_pods(a, act, &pm, sessions);
    rep.gpus = gpf_calloc(GPF_MAX_HOST_GPUS, sizeof *rep.gpus);
    int ng = gpus_now(a, &pm, rep.gpus);
    rep.has_gpus = ng >= 0;
    rep.ngpus = ng > 0 ? ng : 0;
    rep.pods = gpf_calloc((size_t)a->ntracks + 1, sizeof *rep.pods);
    int64_t mono = gpf_mono_ms();
    for (int i = 0; i < a->ntracks && rep.npods < GPF_AGENT_MAX_PODS; i++) {
        pod_track *t = &a->tracks[i];
        gpf_agent_pod_report *p = &rep.pods[rep.npods++];
        gpf_strlcpy(p->id, t->id, sizeof p->id);
        p->idle_s = -1;
        if (t->dead) {
            p->state = GPF_POD_FAILED;
            p->at_ms = t->died_at_ms;
            gpf_strlcpy(p->message, "the pod's processes exited", sizeof p->message);
            continue;
        }
        p->state = GPF_POD_RUNNING;
        if (sessions[i] < 0)
            continue; /* the runtime cannot tell: idle unknown */
        if (sessions[i] > 0 || gpf_report_pod_on_gpu(rep.gpus, rep.ngpus, t->id))
            t->last_active_ms = mono;
        p->idle_s = (mono - t->last_active_ms) / 1000;
    }
    json_t *body = gpf_json_heartbeat(&rep), *resp = NULL;
    gpf_error err = {0};
    int status = 0;
    int rc = gpf_httpc_request(a->http, "POST", "/v1/agent/heartbeat", body, &status, &resp, &err);
    if (rc == GPF_EUNAUTH || rc == GPF_ENOTFOUND)
        a->registered = 0;
    else if (rc != 0)
        GPF_WARN("agent", "event=heartbeat_failed msg=\"%s\"", gpf_error_msg(&err));
    for (int i = 0; rc == 0 && i < a->ntracks; i++) {
        if (!a->tracks[i].dead)
            continue;
        /* the control plane knows: clear what is left of the pod and forget it */
        gpf_error serr = {0};
        if (a->rt->ops->stop(a->rt, a->tracks[i].id, &serr) != 0)
            GPF_WARN("agent", "event=pod_cleanup_failed pod=%s msg=\"%s\"", a->tracks[i].id, gpf_error_msg(&serr));
        a->tracks[i--] = a->tracks[--a->ntracks];
    }
    a->last_beat = gpf_mono_ms();
    json_decref(body);
    json_decref(resp);
    gpf_free(rep.pods);
    gpf_free(rep.gpus);
    gpf_free(sessions);
    gpf_free(pm.e);
    gpf_free(act);
}

/* Runs one answer's commands, in order: starts side by side, each stop once the starts
 * before it are up (and so on for what came while they started). */
static void run_commands(agent *a, json_t *cmds)
{
    starts ss = {0};
    json_t *todo = json_incref(cmds);
    while (todo) {
        size_t i = 0;
        for (; i < json_array_size(todo); i++) { /* stops at the head run now: nothing is starting */
            json_t *c = json_array_get(todo, i);
            const char *type = json_string_value(json_object_get(c, "type"));
            if (!type || strcmp(type, "stop_pod") != 0 || live_starts(&ss) > 0)
                break;
            stop_pod(a, json_object_get(c, "pod"));
        }
        flush_reports(a); /* the stops': one request */
        take_commands(a, todo, i, &ss);
        json_decref(todo);
        finish_starts(a, &ss);
        flush_reports(a); /* starts that failed at once, when none was left to finish */
        ss.n = 0;
        todo = a->deferred; /* a stop (and what followed it) that waited for the starts */
        a->deferred = NULL;
    }
    gpf_free(ss.v);
}

static void poll_once(agent *a, int64_t *backoff)
{
    char path[128];
    gpf_error err = {0};
    int status = 0;
    json_t *resp = NULL;
    int wait = a->heartbeat_ms;
    flush_reports(a); /* what an earlier flush could not send */
    if (json_array_size(a->reports) > 0 && wait > REPORT_RETRY_MS)
        wait = REPORT_RETRY_MS; /* still waiting: tried again soon */
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
    json_t *seq = json_object_get(resp, "seq");
    if (json_is_integer(seq))
        a->seq = json_integer_value(seq);
    run_commands(a, json_object_get(resp, "commands"));
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
    if ((rc = load_credentials(&a, err)) != 0 || (rc = open_backend(&a, err)) != 0 ||
        (rc = open_runtime(&a, err)) != 0)
        goto out;
    gpf_httpc_tls tls = {cfg->ca_file, cfg->pin};
    if ((rc = gpf_httpc_new(cfg->server, NULL, &a.http, err)) != 0 || (rc = gpf_httpc_set_tls(a.http, &tls, err)) != 0)
        goto out;
    GPF_INFO("agent", "event=start host=%s backend=%s runtime=%s gpus=%d", a.facts.host.id, a.backend->ops->name,
             a.rt->ops->name, a.facts.host.ngpus);
    while (!*stop) {
        if (!a.registered) {
            gpf_error rerr = {0};
            if (do_register(&a, &rerr) != 0) {
                if (rerr.code == GPF_EEXIST) { /* until an operator re-keys the host: told once a minute */
                    if (a.exists_logged_ms == 0 || gpf_mono_ms() - a.exists_logged_ms >= 60000) {
                        a.exists_logged_ms = gpf_mono_ms();
                        GPF_ERROR("agent", "event=register_refused msg=\"%s\" retry_ms=2000", gpf_error_msg(&rerr));
                    }
                    gpf_sleep_ms(2000);
                    continue;
                }
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
    json_decref(a.reports);
    gpf_free(a.sys);
    gpf_free(a.tracks);
    gpf_runtime_close(a.rt);
    if (a.fetch)
        gpf_image_fetch_finish(a.fetch, NULL, 0, NULL);
    gpf_image_cache_close(a.images);
    gpf_cdi_free(a.cdi);
    explicit_bzero(a.token, sizeof a.token);
    explicit_bzero(a.join, sizeof a.join);
    explicit_bzero(a.saved, sizeof a.saved);
    gpf_gpu_backend_close(a.backend);
    return rc;
}
