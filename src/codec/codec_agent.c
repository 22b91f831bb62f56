/* Decoders for the agent protocol (register, heartbeat, pod status) and for our own
 * pod documents read back by agents and clients (lenient about unknown fields). */
#include "codec/codec.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "codec/codec_int.h"
#include "util/alloc.h"

static int address_valid(const char *s)
{
    return codec_token_valid(s, "[", ".:%_[]-", GPF_TEXT_MAX - 1);
}

static int uuid_valid(const char *s)
{
    return codec_token_valid(s, "-", "-", GPF_UUID_MAX - 1);
}

/* ---- agent reports ---- */

/* An agent's free-text "message" often carries a tool's output: control characters
 * (newlines, tabs) become spaces rather than losing the report; too long is an error. */
static int get_message_key(codec_ctx *c, const json_t *obj, const char *key, char *dst, size_t dstsz)
{
    const json_t *v = json_object_get(obj, key);
    size_t n = 0;

    if (!v)
        return 0;
    if (!json_is_string(v))
        return codec_bad(c, "%s%s must be a string", c->pfx, key);
    n = json_string_length(v);
    if (n >= dstsz)
        return codec_bad(c, "%s%s is too long (at most %zu bytes)", c->pfx, key, dstsz - 1);
    memcpy(dst, json_string_value(v), n);
    dst[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f)
            dst[i] = ' ';
    return 0;
}

static int get_message(codec_ctx *c, const json_t *obj, char *dst, size_t dstsz)
{
    return get_message_key(c, obj, "message", dst, dstsz);
}

/* index defaults to the GPU's position in the list. */
static int decode_gpu(codec_ctx *c, const json_t *v, gpf_gpu_rec *g, int pos)
{
    static const char *const keys[] = {"uuid",       "index",       "model",
                                       "name",       "pci_bus_id",  "numa_node",
                                       "memory_mib", "mig_enabled", NULL};
    int rc = 0;

    memset(g, 0, sizeof *g);
    g->index = pos;
    g->numa_node = -1;
    if ((rc = codec_check_keys(c, v, keys)) ||
        (rc = codec_get_str(c, v, "uuid", 1, g->uuid, sizeof g->uuid)) ||
        (rc = codec_get_int32(c, v, "index", 0, 0, GPF_MAX_HOST_GPUS - 1, &g->index)) ||
        (rc = codec_get_str(c, v, "model", 0, g->model, sizeof g->model)) ||
        (rc = codec_get_str(c, v, "name", 0, g->name, sizeof g->name)) ||
        (rc = codec_get_str(c, v, "pci_bus_id", 0, g->pci_bus_id, sizeof g->pci_bus_id)) ||
        (rc = codec_get_int32(c, v, "numa_node", 0, -1, 63, &g->numa_node)) ||
        (rc = codec_get_int(c, v, "memory_mib", 1, 1, CODEC_MEM_MIB_MAX, &g->memory_mib)) ||
        (rc = codec_get_bool(c, v, "mig_enabled", &g->mig_enabled)))
        return rc;
    if (!uuid_valid(g->uuid))
        return codec_bad(c, "%suuid must be letters, digits and '-'", c->pfx);
    if (g->model[0] && !codec_model_key_valid(g->model, GPF_ID_MAX - 1))
        return codec_bad(c, "%smodel is not a valid model key", c->pfx);
    if (g->pci_bus_id[0] && !codec_token_valid(g->pci_bus_id, "", ":.", sizeof g->pci_bus_id - 1))
        return codec_bad(c, "%spci_bus_id must look like 00000000:17:00.0", c->pfx);
    return 0;
}

static int decode_host_gpus(codec_ctx *c, const json_t *v, gpf_host_rec *h)
{
    size_t n = 0;
    char pfx[48];
    int rc = 0;

    if (!json_is_array(v))
        return codec_bad(c, "host.gpus must be an array");
    n = json_array_size(v);
    if (n > GPF_MAX_HOST_GPUS)
        return codec_bad(c, "host.gpus has more than %d entries", GPF_MAX_HOST_GPUS);
    for (size_t i = 0; i < n; i++) {
        const json_t *g = json_array_get(v, i);
        snprintf(pfx, sizeof pfx, "host.gpus[%zu].", i);
        if (!json_is_object(g))
            return codec_bad(c, "host.gpus[%zu] must be an object", i);
        c->pfx = pfx;
        rc = decode_gpu(c, g, &h->gpus[i], (int)i);
        c->pfx = "host.";
        if (rc)
            return rc;
        for (size_t j = 0; j < i; j++) {
            if (h->gpus[j].index == h->gpus[i].index)
                return codec_bad(c, "host.gpus[%zu].index %d is used twice", i, h->gpus[i].index);
            if (strcmp(h->gpus[j].uuid, h->gpus[i].uuid) == 0)
                return codec_bad(c, "host.gpus[%zu].uuid is used twice", i);
        }
    }
    h->ngpus = (int)n;
    return 0;
}

static int decode_finding(codec_ctx *c, const json_t *v, gpf_host_finding *f)
{
    static const char *const keys[] = {"check", "level", "gpu", "detail", "fix", NULL};
    int rc = 0, lvl = 0;
    memset(f, 0, sizeof *f);
    f->gpu = -1;
    if (!json_is_object(v))
        return codec_bad(c, "%sfindings entries must be objects", c->pfx);
    if ((rc = codec_check_keys(c, v, keys)) || (rc = codec_get_str(c, v, "check", 1, f->check, sizeof f->check)) ||
        (rc = codec_get_enum(c, v, "level", 1, gpf_preflight_parse, "warn|fail", &lvl)) ||
        (rc = codec_get_int32(c, v, "gpu", 0, -1, GPF_MAX_HOST_GPUS - 1, &f->gpu)) ||
        (rc = get_message_key(c, v, "detail", f->detail, sizeof f->detail)) ||
        (rc = get_message_key(c, v, "fix", f->fix, sizeof f->fix)))
        return rc;
    if (lvl != GPF_PREFLIGHT_WARN && lvl != GPF_PREFLIGHT_FAIL)
        return codec_bad(c, "%sfindings[].level must be warn or fail", c->pfx);
    if (!codec_token_valid(f->check, "", "-_", sizeof f->check - 1))
        return codec_bad(c, "%sfindings[].check must be a check name such as pcie-link", c->pfx);
    f->level = (gpf_preflight_verdict)lvl;
    return 0;
}

/* "preflight": {"verdict":"pass|warn|fail","findings":[…]} (warn and fail findings only). */
static int decode_preflight(codec_ctx *c, const json_t *v, gpf_host_rec *h)
{
    static const char *const keys[] = {"verdict", "findings", NULL};
    int rc = 0, verdict = 0;
    if (!json_is_object(v))
        return codec_bad(c, "host.preflight must be an object");
    c->pfx = "host.preflight.";
    if ((rc = codec_check_keys(c, v, keys)) ||
        (rc = codec_get_enum(c, v, "verdict", 1, gpf_preflight_parse, "pass|warn|fail", &verdict)))
        return rc;
    if (verdict == GPF_PREFLIGHT_UNKNOWN)
        return codec_bad(c, "host.preflight.verdict must be pass, warn or fail");
    h->preflight = (gpf_preflight_verdict)verdict;
    const json_t *fs = json_object_get(v, "findings");
    if (fs && (!json_is_array(fs) || json_array_size(fs) > GPF_MAX_HOST_FINDINGS))
        return codec_bad(c, "host.preflight.findings must be an array of at most %d findings", GPF_MAX_HOST_FINDINGS);
    size_t i;
    const json_t *f;
    json_array_foreach(fs, i, f)
    {
        if ((rc = decode_finding(c, f, &h->findings[i])))
            return rc;
        h->nfindings = (int)i + 1;
    }
    return 0;
}

int gpf_decode_agent_host(const json_t *body, gpf_host_rec *out, gpf_error *err)
{
    static const char *const top[] = {"host", "isolation_max", NULL};
    static const char *const keys[] = {"id",         "address",       "deploy_mode", "backend",
                                       "runtime",    "agent_version", "cpus",        "memory_mib",
                                       "numa_nodes", "gpus",          "preflight",   "max_pods",
                                       NULL};
    static const char *const modes[] = {"baremetal", "passthrough", "vgpu", "cloud"};
    codec_ctx c = {err, 0, ""};
    gpf_host_rec *h = GPF_NEW(gpf_host_rec);
    const json_t *v = NULL;
    int rc = 0, mode_ok = 0, iso = -1;

    if (!json_is_object(body)) {
        rc = codec_not_object(&c, "body");
        goto out;
    }
    if ((rc = codec_check_keys(&c, body, top)))
        goto out;
    v = json_object_get(body, "host");
    if (!v) {
        rc = codec_bad(&c, "host is required");
        goto out;
    }
    if (!json_is_object(v)) {
        rc = codec_bad(&c, "host must be an object");
        goto out;
    }
    c.pfx = "host.";
    gpf_strlcpy(h->deploy_mode, "baremetal", sizeof h->deploy_mode);
    h->numa_nodes = 1;
    if ((rc = codec_check_keys(&c, v, keys)) || (rc = codec_get_name(&c, v, "id", 1, 0, h->id)) ||
        (rc = codec_get_str(&c, v, "address", 0, h->address, sizeof h->address)) ||
        (rc = codec_get_str(&c, v, "deploy_mode", 0, h->deploy_mode, sizeof h->deploy_mode)) ||
        (rc = codec_get_name(&c, v, "backend", 0, 1, h->backend)) ||
        (rc = codec_get_name(&c, v, "runtime", 0, 1, h->runtime)) ||
        (rc =
             codec_get_str(&c, v, "agent_version", 0, h->agent_version, sizeof h->agent_version)) ||
        (rc = codec_get_int32(&c, v, "cpus", 1, 1, 1 << 20, &h->cpus)) ||
        (rc = codec_get_int(&c, v, "memory_mib", 1, 1, CODEC_HOST_MEM_MIB_MAX, &h->memory_mib)) ||
        (rc = codec_get_int32(&c, v, "numa_nodes", 0, 1, 64, &h->numa_nodes)) ||
        (rc = codec_get_int32(&c, v, "max_pods", 0, 1, 1 << 20, &h->max_pods)))
        goto out;
    c.pfx = "";
    if ((rc = codec_get_enum(&c, body, "isolation_max", 0, gpf_isolation_parse, "hardware|device|soft", &iso)))
        goto out;
    c.pfx = "host.";
    h->isolation_max_given = iso >= 0;
    h->isolation_max = iso >= 0 ? (gpf_isolation)iso : gpf_host_isolation_default(h->runtime);
    if (h->address[0] && !address_valid(h->address)) {
        rc = codec_bad(&c, "host.address must be a host name or IP address");
        goto out;
    }
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (strcmp(modes[i], h->deploy_mode) == 0)
            mode_ok = 1;
    if (!mode_ok) {
        rc = codec_bad(&c, "host.deploy_mode must be one of baremetal|passthrough|vgpu|cloud");
        goto out;
    }
    if (h->agent_version[0] &&
        !codec_model_key_valid(h->agent_version, sizeof h->agent_version - 1)) {
        rc = codec_bad(&c, "host.agent_version must look like 1.2.3");
        goto out;
    }
    const json_t *pf = json_object_get(v, "preflight");
    v = json_object_get(v, "gpus");
    if (v && (rc = decode_host_gpus(&c, v, h)))
        goto out;
    if (pf && (rc = decode_preflight(&c, pf, h)))
        goto out;
    *out = *h;
out:
    gpf_free(h);
    return rc;
}

static int decode_hb_pod(codec_ctx *c, const json_t *p, gpf_agent_pod_report *r)
{
    static const char *const keys[] = {"id", "state", "at_ms", "message", "idle_s", NULL};
    int rc = 0, st = 0;
    memset(r, 0, sizeof *r);
    r->idle_s = -1;
    if ((rc = codec_check_keys(c, p, keys)) || (rc = codec_get_name(c, p, "id", 1, 0, r->id)) ||
        (rc = codec_get_enum(c, p, "state", 1, gpf_pod_state_parse, "running|failed", &st)) ||
        (rc = codec_get_int(c, p, "at_ms", 0, 0, INT64_MAX, &r->at_ms)) ||
        (rc = get_message(c, p, r->message, sizeof r->message)) ||
        (rc = codec_get_int(c, p, "idle_s", 0, -1, CODEC_SECONDS_MAX * 100, &r->idle_s)))
        return rc;
    if (st != GPF_POD_RUNNING && st != GPF_POD_FAILED)
        return codec_bad(c, "%sstate must be running or failed", c->pfx);
    r->state = (gpf_pod_state)st;
    return 0;
}

static int decode_hb_mig(codec_ctx *c, const json_t *v, gpf_hw_mig *m)
{
    static const char *const keys[] = {"uuid", "gi_id", "ci_id", "profile_id", "start", "size", NULL};
    int rc = 0;
    memset(m, 0, sizeof *m);
    m->gi_id = m->ci_id = m->profile_id = m->start = m->size = -1;
    if (!json_is_object(v))
        return codec_bad(c, "%s must be an object", c->pfx);
    if ((rc = codec_check_keys(c, v, keys)) || (rc = codec_get_str(c, v, "uuid", 0, m->uuid, sizeof m->uuid)) ||
        (rc = codec_get_int32(c, v, "gi_id", 0, -1, 1 << 20, &m->gi_id)) ||
        (rc = codec_get_int32(c, v, "ci_id", 0, -1, 1 << 20, &m->ci_id)) ||
        (rc = codec_get_int32(c, v, "profile_id", 0, -1, 1 << 20, &m->profile_id)) ||
        (rc = codec_get_int32(c, v, "start", 0, -1, 64, &m->start)) ||
        (rc = codec_get_int32(c, v, "size", 0, -1, 64, &m->size)))
        return rc;
    if (m->uuid[0] && !uuid_valid(m->uuid))
        return codec_bad(c, "%suuid must be letters, digits and '-'", c->pfx);
    return 0;
}

static int decode_hb_proc(codec_ctx *c, const json_t *v, gpf_hw_proc *p)
{
    static const char *const keys[] = {"pid", "used_mib", "gi_id", "ci_id", "pod_id", NULL};
    int rc = 0;
    int64_t pid = 0;
    memset(p, 0, sizeof *p);
    p->used_mib = -1;
    p->gi_id = p->ci_id = -1;
    if (!json_is_object(v))
        return codec_bad(c, "%s must be an object", c->pfx);
    if ((rc = codec_check_keys(c, v, keys)) || (rc = codec_get_int(c, v, "pid", 1, 1, UINT32_MAX, &pid)) ||
        (rc = codec_get_int(c, v, "used_mib", 0, -1, CODEC_MEM_MIB_MAX, &p->used_mib)) ||
        (rc = codec_get_int32(c, v, "gi_id", 0, -1, 1 << 20, &p->gi_id)) ||
        (rc = codec_get_int32(c, v, "ci_id", 0, -1, 1 << 20, &p->ci_id)) ||
        (rc = codec_get_name(c, v, "pod_id", 0, 1, p->pod_id)))
        return rc;
    p->pid = (unsigned)pid;
    return 0;
}

/* A "gpus" entry: a UUID string (the GPU is seen), or an object with its MIG devices and
 * processes too. */
static int decode_hb_gpu(codec_ctx *c, const json_t *v, gpf_hw_gpu *g)
{
    static const char *const keys[] = {"uuid", "mig_enabled", "mig", "processes", NULL};
    int rc = 0;
    memset(g, 0, sizeof *g);
    if (json_is_string(v)) {
        if (json_string_length(v) >= sizeof g->uuid || !uuid_valid(json_string_value(v)))
            return codec_bad(c, "%s must be a GPU UUID", c->pfx);
        gpf_strlcpy(g->uuid, json_string_value(v), sizeof g->uuid);
        return 0;
    }
    if (!json_is_object(v))
        return codec_bad(c, "%s must be a GPU UUID string or an object", c->pfx);
    const char *pfx = c->pfx;
    char sub[48];
    snprintf(sub, sizeof sub, "%s.", pfx);
    c->pfx = sub;
    if ((rc = codec_check_keys(c, v, keys)) || (rc = codec_get_str(c, v, "uuid", 1, g->uuid, sizeof g->uuid)) ||
        (rc = codec_get_bool(c, v, "mig_enabled", &g->mig_enabled)))
        goto out;
    if (!uuid_valid(g->uuid)) {
        rc = codec_bad(c, "%suuid must be letters, digits and '-'", c->pfx);
        goto out;
    }
    const json_t *mig = json_object_get(v, "mig"), *procs = json_object_get(v, "processes");
    if (mig && (!json_is_array(mig) || json_array_size(mig) > GPF_HW_MAX_MIG)) {
        rc = codec_bad(c, "%smig must be an array of at most %d MIG devices", c->pfx, GPF_HW_MAX_MIG);
        goto out;
    }
    if (procs && (!json_is_array(procs) || json_array_size(procs) > GPF_HW_MAX_PROCS)) {
        rc = codec_bad(c, "%sprocesses must be an array of at most %d processes", c->pfx, GPF_HW_MAX_PROCS);
        goto out;
    }
    size_t i;
    const json_t *e;
    char item[96];
    c->pfx = item;
    json_array_foreach(mig, i, e)
    {
        snprintf(item, sizeof item, "%smig[%zu].", sub, i);
        if ((rc = decode_hb_mig(c, e, &g->mig[i])))
            goto out;
        g->nmig = (int)i + 1;
    }
    json_array_foreach(procs, i, e)
    {
        snprintf(item, sizeof item, "%sprocesses[%zu].", sub, i);
        if ((rc = decode_hb_proc(c, e, &g->procs[i])))
            goto out;
        g->nprocs = (int)i + 1;
    }
    g->has_hw = 1;
out:
    c->pfx = pfx;
    return rc;
}

int gpf_decode_heartbeat(const json_t *body, gpf_agent_report *out, int max_pods, gpf_error *err)
{
    static const char *const top[] = {"pods", "gpus", NULL};
    codec_ctx c = {err, 0, ""};
    char pfx[32];
    int rc = 0;

    out->npods = 0;
    out->ngpus = 0;
    out->has_gpus = 0;
    if (!json_is_object(body))
        return codec_not_object(&c, "body");
    if ((rc = codec_check_keys(&c, body, top)))
        return rc;
    const json_t *pods = json_object_get(body, "pods"), *gpus = json_object_get(body, "gpus");
    if (pods && !json_is_array(pods))
        return codec_bad(&c, "pods must be an array");
    if (json_array_size(pods) > (size_t)(max_pods < 0 ? 0 : max_pods))
        return codec_bad(&c, "pods has more than %d entries", max_pods);
    if (gpus && (!json_is_array(gpus) || json_array_size(gpus) > GPF_MAX_HOST_GPUS))
        return codec_bad(&c, "gpus must be an array of at most %d GPUs", GPF_MAX_HOST_GPUS);
    size_t i;
    const json_t *v;
    json_array_foreach(pods, i, v)
    {
        if (!json_is_object(v))
            return codec_bad(&c, "pods[%zu] must be an object", i);
        snprintf(pfx, sizeof pfx, "pods[%zu].", i);
        c.pfx = pfx;
        if ((rc = decode_hb_pod(&c, v, &out->pods[i])))
            return rc;
        out->npods = (int)i + 1;
    }
    json_array_foreach(gpus, i, v)
    {
        snprintf(pfx, sizeof pfx, "gpus[%zu]", i);
        c.pfx = pfx;
        if ((rc = decode_hb_gpu(&c, v, &out->gpus[i])))
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(out->gpus[j].uuid, out->gpus[i].uuid) == 0)
                return codec_bad(&c, "gpus[%zu] repeats GPU %s", i, out->gpus[i].uuid);
        out->ngpus = (int)i + 1;
    }
    out->has_gpus = gpus != NULL;
    return 0;
}

/* The fields of one pod status report (obj is an object; keys lists what it may hold). */
static int decode_pod_status(codec_ctx *c, const json_t *obj, const char *const *keys, gpf_agent_pod_status *out)
{
    gpf_agent_pod_status t;
    int rc = 0, st = 0, iso = 0;

    memset(&t, 0, sizeof t);
    if ((rc = codec_check_keys(c, obj, keys)) ||
        (rc = codec_get_enum(c, obj, "state", 1, gpf_pod_state_parse, "running|failed|stopped", &st)))
        return rc;
    if (st != GPF_POD_RUNNING && st != GPF_POD_FAILED && st != GPF_POD_STOPPED)
        return codec_bad(c, "%sstate must be one of running|failed|stopped", c->pfx);
    if ((rc = get_message(c, obj, t.message, sizeof t.message)) ||
        (rc = codec_get_int32(c, obj, "ssh_port", 0, 0, 65535, &t.ssh_port)) ||
        (rc = codec_get_str(c, obj, "ssh_user", 0, t.ssh_user, sizeof t.ssh_user)) ||
        (rc = codec_get_str(c, obj, "device_ids", 0, t.device_ids, sizeof t.device_ids)) ||
        (rc = codec_get_enum(c, obj, "isolation", 0, gpf_isolation_parse, "hardware|device|soft", &iso)))
        return rc;
    if (t.ssh_user[0] && !codec_token_valid(t.ssh_user, "_", "._-", GPF_ID_MAX - 1))
        return codec_bad(c, "%sssh_user must be a user name ([A-Za-z0-9_][A-Za-z0-9._-]*)", c->pfx);
    if ((rc = codec_get_str(c, obj, "ssh_host_key", 0, t.ssh_host_key, sizeof t.ssh_host_key)))
        return rc;
    if (t.ssh_host_key[0] && gpf_ssh_fingerprint(t.ssh_host_key, NULL, 0) != 0)
        return codec_bad(c, "%sssh_host_key is not an OpenSSH public key line (\"ssh-ed25519 AAAA…\")", c->pfx);
    const json_t *layers = json_object_get(obj, "isolation_layers");
    if (layers && (rc = codec_decode_layers(c, layers, &t.isolation_layers)))
        return rc;
    t.has_isolation_layers = layers != NULL;
    t.state = (gpf_pod_state)st;
    t.isolation = (gpf_isolation)iso;
    t.has_isolation = json_object_get(obj, "isolation") != NULL;
    *out = t;
    return 0;
}

#define POD_STATUS_KEYS                                                                                            \
    "state", "message", "ssh_port", "ssh_user", "device_ids", "isolation", "ssh_host_key", "isolation_layers"

int gpf_decode_agent_pod_status(const json_t *body, gpf_agent_pod_status *out, gpf_error *err)
{
    static const char *const keys[] = {POD_STATUS_KEYS, NULL};
    codec_ctx c = {err, 0, ""};

    if (!json_is_object(body))
        return codec_not_object(&c, "body");
    return decode_pod_status(&c, body, keys, out);
}

int gpf_decode_agent_status_batch(const json_t *body, gpf_agent_status_item *out, size_t max, size_t *n,
                                  gpf_error *err)
{
    static const char *const top[] = {"reports", NULL};
    static const char *const keys[] = {"pod_id", POD_STATUS_KEYS, NULL};
    codec_ctx c = {err, 0, ""};
    char pfx[40];
    const json_t *reports = json_object_get(body, "reports");
    const json_t *v = NULL;
    size_t i = 0;
    int rc = 0;

    *n = 0;
    if (!json_is_object(body))
        return codec_not_object(&c, "body");
    if ((rc = codec_check_keys(&c, body, top)))
        return rc;
    if (!json_is_array(reports))
        return codec_bad(&c, "reports must be an array of pod status reports");
    if (json_array_size(reports) > max)
        return gpf_error_set(err, GPF_ETOOLARGE, "reports: at most %zu in one request (got %zu); send the rest in another",
                             max, json_array_size(reports));
    json_array_foreach(reports, i, v)
    {
        snprintf(pfx, sizeof pfx, "reports[%zu].", i);
        c.pfx = pfx;
        if (!json_is_object(v))
            return codec_bad(&c, "reports[%zu] must be an object", i);
        if ((rc = codec_get_name(&c, v, "pod_id", 1, 0, out[i].pod_id)) ||
            (rc = decode_pod_status(&c, v, keys, &out[i].st)))
            return rc;
        *n = i + 1;
    }
    return 0;
}

/* ---- our own pod shapes, read back (lenient) ---- */

static int decode_placement(codec_ctx *c, const json_t *v, gpf_placement *pl)
{
    const json_t *uu = NULL, *ix = NULL;
    size_t n = 0;
    int rc = 0;

    if (!json_is_object(v))
        return codec_bad(c, "placement must be an object or null");
    c->pfx = "placement.";
    memset(pl, 0, sizeof *pl);
    pl->mig_profile_id = -1;
    pl->numa_node = -1;
    if ((rc = codec_get_name(c, v, "host_id", 1, 0, pl->host_id)) ||
        (rc = codec_get_int32(c, v, "mig_profile_id", 0, -1, INT_MAX, &pl->mig_profile_id)) ||
        (rc = codec_get_int32(c, v, "mig_start", 0, 0, INT_MAX, &pl->mig_start)) ||
        (rc = codec_get_int32(c, v, "mig_size", 0, 0, INT_MAX, &pl->mig_size)) ||
        (rc = codec_get_int32(c, v, "share_milli", 0, 0, 1000, &pl->share_milli)) ||
        (rc = codec_get_int(c, v, "share_memory_mib", 0, 0, CODEC_MEM_MIB_MAX,
                            &pl->share_memory_mib)) ||
        (rc = codec_get_str(c, v, "vgpu_type", 0, pl->vgpu_type, sizeof pl->vgpu_type)) ||
        (rc = codec_get_int32(c, v, "numa_node", 0, -1, 1023, &pl->numa_node)) ||
        (rc = codec_get_int32(c, v, "cpus", 0, 0, INT_MAX, &pl->cpus)) ||
        (rc = codec_get_int(c, v, "memory_mib", 0, 0, CODEC_HOST_MEM_MIB_MAX, &pl->memory_mib)) ||
        (rc = codec_get_int32(c, v, "gpu_milli", 0, 0, INT_MAX, &pl->gpu_milli)))
        goto out;
    uu = json_object_get(v, "gpu_uuids");
    ix = json_object_get(v, "gpu_indexes");
    if (uu && !json_is_array(uu)) {
        rc = codec_bad(c, "placement.gpu_uuids must be an array");
        goto out;
    }
    if (ix && !json_is_array(ix)) {
        rc = codec_bad(c, "placement.gpu_indexes must be an array");
        goto out;
    }
    n = json_array_size(uu);
    if (n > GPF_MAX_POD_GPUS) {
        rc = codec_bad(c, "placement.gpu_uuids has more than %d entries", GPF_MAX_POD_GPUS);
        goto out;
    }
    if (json_array_size(ix) != n) {
        rc = codec_bad(c, "placement.gpu_indexes must have as many entries as gpu_uuids");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char name[40];
        int64_t x = 0;
        snprintf(name, sizeof name, "placement.gpu_uuids[%zu]", i);
        if ((rc = codec_v_str(c, json_array_get(uu, i), name, pl->gpu_uuids[i], GPF_UUID_MAX)))
            goto out;
        snprintf(name, sizeof name, "placement.gpu_indexes[%zu]", i);
        if ((rc = codec_v_int(c, json_array_get(ix, i), name, 0, GPF_MAX_HOST_GPUS - 1, &x)))
            goto out;
        pl->gpu_index[i] = (int)x;
    }
    pl->ngpus = (int)n;
out:
    c->pfx = "";
    return rc;
}

static int decode_ssh(codec_ctx *c, const json_t *v, gpf_pod *p)
{
    int rc = 0;

    if (!json_is_object(v))
        return codec_bad(c, "ssh must be an object or null");
    c->pfx = "ssh.";
    if ((rc = codec_get_str(c, v, "host", 0, p->ssh_host, sizeof p->ssh_host)) ||
        (rc = codec_get_int32(c, v, "port", 0, 0, 65535, &p->ssh_port)) ||
        (rc = codec_get_str(c, v, "user", 0, p->ssh_user, sizeof p->ssh_user)) ||
        (rc = codec_get_str(c, v, "host_key", 0, p->ssh_host_key, sizeof p->ssh_host_key)))
        goto out;
out:
    c->pfx = "";
    return rc;
}

static int decode_pod_fields(codec_ctx *c, const json_t *obj, gpf_pod *p)
{
    const json_t *v = NULL;
    int rc = 0, iso = 0, st = 0;

    if ((rc = codec_get_name(c, obj, "id", 1, 0, p->id)) ||
        (rc = codec_get_name(c, obj, "owner", 0, 1, p->owner)) ||
        (rc = codec_get_name(c, obj, "project", 0, 1, p->project)) ||
        (rc = codec_get_name(c, obj, "sku", 0, 1, p->sku)) ||
        (rc = codec_get_enum(c, obj, "isolation", 0, gpf_isolation_parse, "hardware|device|soft",
                             &iso)) ||
        (rc = codec_get_enum(c, obj, "state", 1, gpf_pod_state_parse, CODEC_POD_STATES, &st)) ||
        (rc = codec_get_str(c, obj, "reason", 0, p->reason, sizeof p->reason)) ||
        (rc = codec_get_str(c, obj, "device_ids", 0, p->device_ids, sizeof p->device_ids)) ||
        (rc = codec_get_int(c, obj, "price_micro_per_hour", 0, 0, CODEC_PRICE_MAX,
                            &p->price_micro_per_hour)) ||
        (rc = codec_get_time(c, obj, "created_at", &p->created_ms)) ||
        (rc = codec_get_time(c, obj, "started_at", &p->started_ms)) ||
        (rc = codec_get_time(c, obj, "stopped_at", &p->stopped_ms)))
        return rc;
    p->isolation = (gpf_isolation)iso;
    p->state = (gpf_pod_state)st;
    v = json_object_get(obj, "slice");
    if (v && !json_is_null(v) && (rc = codec_decode_slice(c, v, &p->slice, 0)))
        return rc;
    v = json_object_get(obj, "placement");
    if (v && !json_is_null(v)) {
        if ((rc = decode_placement(c, v, &p->placement)))
            return rc;
        p->placed = 1;
    }
    v = json_object_get(obj, "ssh");
    if (v && !json_is_null(v) && (rc = decode_ssh(c, v, p)))
        return rc;
    v = json_object_get(obj, "image");
    if (v && !json_is_null(v) &&
        (rc = codec_decode_image_ref(c, v, p->image, sizeof p->image, p->image_digest, sizeof p->image_digest)))
        return rc;
    v = json_object_get(obj, "isolation_layers");
    if (v && !json_is_null(v) && (rc = codec_decode_layers(c, v, &p->isolation_layers)))
        return rc;
    return 0;
}

int gpf_decode_pod(const json_t *obj, gpf_pod *out, gpf_error *err)
{
    codec_ctx c = {err, 1, ""};
    gpf_pod *t = GPF_NEW(gpf_pod);
    int rc = 0;

    if (!json_is_object(obj)) {
        rc = codec_not_object(&c, "pod");
        goto out;
    }
    t->slice.gpu_count = 1;
    if ((rc = decode_pod_fields(&c, obj, t)))
        goto out;
    *out = *t;
out:
    gpf_free(t);
    return rc;
}

int gpf_decode_agent_pod(const json_t *obj, gpf_pod *out, char *ssh_pubkey, size_t keysz, char *env,
                         size_t envsz, gpf_error *err)
{
    codec_ctx c = {err, 1, ""};
    gpf_pod *t = GPF_NEW(gpf_pod);
    char *key = gpf_calloc(1, GPF_PUBKEY_MAX), envbuf[GPF_TEXT_MAX] = "";
    int rc = 0;

    if (!json_is_object(obj)) {
        rc = codec_not_object(&c, "pod");
        goto out;
    }
    t->slice.gpu_count = 1;
    if ((rc = decode_pod_fields(&c, obj, t)) ||
        (rc = codec_get_pubkey(&c, obj, key, GPF_PUBKEY_MAX)) ||
        (rc = codec_get_str(&c, obj, "env", 0, envbuf, sizeof envbuf)))
        goto out;
    if (!codec_env_valid(envbuf)) {
        rc = codec_bad(&c, "env must be K=V pairs separated by ';'");
        goto out;
    }
    if ((ssh_pubkey && strlen(key) >= keysz) || (env && strlen(envbuf) >= envsz)) {
        rc = codec_bad(&c, "%s does not fit its buffer",
                       ssh_pubkey && strlen(key) >= keysz ? "ssh_pubkey" : "env");
        goto out;
    }
    memcpy(t->ssh_pubkey, key, GPF_PUBKEY_MAX);
    if (ssh_pubkey && keysz)
        gpf_strlcpy(ssh_pubkey, key, keysz);
    if (env && envsz)
        gpf_strlcpy(env, envbuf, envsz);
    *out = *t;
out:
    gpf_free(key);
    gpf_free(t);
    return rc;
}
