/* Encoders: domain records -> JSON documents (shapes in docs/api.md). */
#include "codec/codec.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "billing/billing.h"
#include "util/alloc.h"
#include "util/timeutil.h"

/* A JSON string from a fixed-size field: bounded by the field size (records are
 * NUL-terminated, but a bad one must not make us read past the buffer), and any
 * invalid UTF-8 byte replaced by '?' so the key never goes missing. */
static json_t *str_n(const char *s, size_t size)
{
    json_t *j = NULL;
    char *copy = NULL;
    size_t n = 0;

    if (!s)
        return json_string("");
    n = strnlen(s, size);
    j = json_stringn(s, n);
    if (j)
        return j;
    copy = gpf_strndup(s, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)copy[i];
        if (ch >= 0x80 || ch == 0)
            copy[i] = '?';
    }
    j = json_stringn(copy, n);
    gpf_free(copy);
    return j;
}

#define JSTR(field) str_n((field), sizeof(field))

static void set(json_t *o, const char *key, json_t *v)
{
    json_object_set_new(o, key, v ? v : json_null());
}

static void set_int(json_t *o, const char *key, int64_t v)
{
    set(o, key, json_integer((json_int_t)v));
}

static int clamp_count(int n, int max)
{
    return n < 0 ? 0 : (n > max ? max : n);
}

json_t *gpf_json_time(int64_t ms)
{
    char buf[40];

    if (ms <= 0)
        return json_null();
    gpf_time_format(ms, buf, sizeof buf);
    return json_string(buf);
}

static json_t *gpu_base(const gpf_gpu_rec *g)
{
    json_t *o = json_object();

    set(o, "uuid", JSTR(g->uuid));
    set_int(o, "index", g->index);
    set(o, "model", JSTR(g->model));
    set(o, "name", JSTR(g->name));
    set(o, "pci_bus_id", JSTR(g->pci_bus_id));
    set_int(o, "numa_node", g->numa_node);
    set_int(o, "memory_mib", g->memory_mib);
    set(o, "mig_enabled", json_boolean(g->mig_enabled));
    return o;
}

json_t *gpf_json_gpu(const gpf_gpu_rec *g, int allocated_milli, int mig_used_slots)
{
    json_t *o = NULL;

    if (!g)
        return json_null();
    o = gpu_base(g);
    set_int(o, "allocated_milli", allocated_milli);
    set_int(o, "mig_used_slots", mig_used_slots);
    return o;
}

/* {"verdict","findings":[…]}: what the agent's preflight said. */
static json_t *preflight_base(const gpf_host_rec *h)
{
    json_t *o = json_object(), *arr = json_array();
    int n = clamp_count(h->nfindings, GPF_MAX_HOST_FINDINGS);
    set(o, "verdict", json_string(gpf_preflight_name(h->preflight)));
    for (int i = 0; i < n; i++) {
        const gpf_host_finding *f = &h->findings[i];
        json_t *jf = json_object();
        set(jf, "check", JSTR(f->check));
        set(jf, "level", json_string(gpf_preflight_name(f->level)));
        set_int(jf, "gpu", f->gpu);
        set(jf, "detail", JSTR(f->detail));
        set(jf, "fix", JSTR(f->fix));
        json_array_append_new(arr, jf);
    }
    set(o, "findings", arr);
    return o;
}

static json_t *drift_json(const gpf_host_usage *u)
{
    json_t *arr = json_array();
    int n = u ? clamp_count(u->ndrift, GPF_MAX_HOST_DRIFT) : 0;
    for (int i = 0; i < n; i++) {
        json_t *d = json_object();
        set(d, "kind", JSTR(u->drift[i].kind));
        set(d, "subject", JSTR(u->drift[i].subject));
        set(d, "detail", JSTR(u->drift[i].detail));
        set(d, "since", gpf_json_time(u->drift[i].since_ms));
        json_array_append_new(arr, d);
    }
    return arr;
}

json_t *gpf_json_event(const gpf_event *ev)
{
    json_t *o = json_object();
    set_int(o, "id", ev->id);
    set(o, "at", gpf_json_time(ev->at_ms));
    set(o, "kind", JSTR(ev->kind));
    set(o, "severity", JSTR(ev->severity));
    set(o, "host_id", ev->host_id[0] ? JSTR(ev->host_id) : json_null());
    set(o, "pod_id", ev->pod_id[0] ? JSTR(ev->pod_id) : json_null());
    set(o, "subject", ev->subject[0] ? JSTR(ev->subject) : json_null());
    set(o, "detail", JSTR(ev->detail));
    return o;
}

json_t *gpf_json_host(const gpf_host_rec *h, const gpf_host_usage *u)
{
    json_t *o = NULL, *gpus = NULL;
    int n = 0;

    if (!h)
        return json_null();
    o = json_object();
    set(o, "id", JSTR(h->id));
    set(o, "address", JSTR(h->address));
    set(o, "deploy_mode", JSTR(h->deploy_mode));
    set(o, "backend", JSTR(h->backend));
    set(o, "runtime", JSTR(h->runtime));
    set(o, "agent_version", JSTR(h->agent_version));
    set(o, "isolation_max", json_string(gpf_isolation_name(h->isolation_max)));
    set_int(o, "max_pods", gpf_host_pods_max(h)); /* what placement holds it to */
    set_int(o, "cpus", h->cpus);
    set_int(o, "memory_mib", h->memory_mib);
    set_int(o, "numa_nodes", h->numa_nodes);
    set(o, "state", json_string(gpf_host_state_name(h->state)));
    set(o, "registered_at", gpf_json_time(h->registered_ms));
    set(o, "last_heartbeat_at", gpf_json_time(h->last_heartbeat_ms));
    gpus = json_array();
    n = clamp_count(h->ngpus, GPF_MAX_HOST_GPUS);
    for (int i = 0; i < n; i++)
        json_array_append_new(gpus, gpf_json_gpu(&h->gpus[i], u ? u->gpu_allocated_milli[i] : 0,
                                                 u ? u->gpu_mig_used_slots[i] : 0));
    set(o, "gpus", gpus);
    set_int(o, "cpus_used", u ? u->cpus_used : 0);
    set_int(o, "memory_mib_used", u ? u->memory_used_mib : 0);
    json_t *pf = preflight_base(h);
    set(pf, "checked_at", gpf_json_time(h->preflight_ms));
    if (h->override) {
        json_t *ov = json_object();
        set(ov, "by", JSTR(h->override_by));
        set(ov, "reason", JSTR(h->override_reason));
        set(ov, "at", gpf_json_time(h->override_ms));
        set(pf, "override", ov);
    } else {
        set(pf, "override", json_null());
    }
    set(o, "preflight", pf);
    set(o, "rekey", h->rekey_ms ? json_pack("{s:o, s:s%}", "at", gpf_json_time(h->rekey_ms), "by", h->rekey_by,
                                            strnlen(h->rekey_by, sizeof h->rekey_by))
                                : json_null());
    set(o, "schedulable", json_boolean(u ? u->schedulable : 0));
    set(o, "unschedulable_reason", u && !u->schedulable ? JSTR(u->unschedulable_reason) : json_null());
    set(o, "drift", drift_json(u));
    return o;
}

json_t *gpf_json_slice(const gpf_slice_spec *s)
{
    json_t *o = NULL;

    if (!s)
        return json_null();
    o = json_object();
    set(o, "kind", json_string(gpf_slice_kind_name(s->kind)));
    switch (s->kind) {
    case GPF_SLICE_WHOLE:
        set_int(o, "gpu_count", s->gpu_count);
        break;
    case GPF_SLICE_MIG:
        set(o, "mig_profile", JSTR(s->mig_profile));
        break;
    case GPF_SLICE_VGPU:
        set(o, "vgpu_type", JSTR(s->vgpu_type));
        break;
    case GPF_SLICE_SHARE:
        set_int(o, "share_milli", s->share_milli);
        set_int(o, "share_memory_mib", s->share_memory_mib);
        break;
    }
    return o;
}

json_t *gpf_json_sku(const gpf_sku *k)
{
    json_t *o = NULL, *models = NULL;
    int n = 0;

    if (!k)
        return json_null();
    o = json_object();
    set(o, "name", JSTR(k->name));
    set(o, "description", JSTR(k->description));
    set(o, "slice", gpf_json_slice(&k->slice));
    models = json_array();
    n = clamp_count(k->nmodels, GPF_MAX_SKU_MODELS);
    for (int i = 0; i < n; i++)
        json_array_append_new(models, JSTR(k->models[i]));
    set(o, "gpu_models", models);
    set_int(o, "cpus", k->cpus);
    set_int(o, "memory_mib", k->memory_mib);
    set_int(o, "ttl_s", k->ttl_s);
    set_int(o, "idle_timeout_s", k->idle_timeout_s);
    set_int(o, "price_micro_per_hour", k->price_micro_per_hour);
    set(o, "license_feature", JSTR(k->license_feature));
    set(o, "env", JSTR(k->env));
    set(o, "image", JSTR(k->image));
    set(o, "min_isolation", json_string(gpf_isolation_name(k->min_isolation)));
    set(o, "created_at", gpf_json_time(k->created_ms));
    set(o, "updated_at", gpf_json_time(k->updated_ms));
    return o;
}

json_t *gpf_json_image(const gpf_image *im)
{
    json_t *o = NULL;

    if (!im)
        return json_null();
    o = json_object();
    set(o, "name", JSTR(im->name));
    set(o, "digest", JSTR(im->digest));
    set_int(o, "size_bytes", im->size_bytes);
    set(o, "source", JSTR(im->source));
    set(o, "created_at", gpf_json_time(im->created_ms));
    return o;
}

static json_t *placement_json(const gpf_placement *pl)
{
    json_t *o = json_object(), *uuids = json_array(), *idx = json_array();
    int n = clamp_count(pl->ngpus, GPF_MAX_POD_GPUS);

    set(o, "host_id", JSTR(pl->host_id));
    for (int i = 0; i < n; i++) {
        json_array_append_new(uuids, JSTR(pl->gpu_uuids[i]));
        json_array_append_new(idx, json_integer(pl->gpu_index[i]));
    }
    set(o, "gpu_uuids", uuids);
    set(o, "gpu_indexes", idx);
    set_int(o, "mig_profile_id", pl->mig_profile_id);
    set_int(o, "mig_start", pl->mig_start);
    set_int(o, "mig_size", pl->mig_size);
    set_int(o, "share_milli", pl->share_milli);
    set_int(o, "share_memory_mib", pl->share_memory_mib);
    set(o, "vgpu_type", JSTR(pl->vgpu_type));
    set_int(o, "numa_node", pl->numa_node);
    set_int(o, "cpus", pl->cpus);
    set_int(o, "memory_mib", pl->memory_mib);
    set_int(o, "gpu_milli", pl->gpu_milli);
    return o;
}

static json_t *ssh_json(const gpf_pod *p)
{
    json_t *o = NULL;
    char host[GPF_TEXT_MAX], user[GPF_ID_MAX], cmd[GPF_TEXT_MAX + GPF_ID_MAX + 32];

    if (p->ssh_port <= 0)
        return json_null();
    memcpy(host, p->ssh_host, sizeof host);
    host[sizeof host - 1] = '\0';
    memcpy(user, p->ssh_user, sizeof user);
    user[sizeof user - 1] = '\0';
    if (user[0])
        snprintf(cmd, sizeof cmd, "ssh -p %d %s@%s", p->ssh_port, user, host);
    else
        snprintf(cmd, sizeof cmd, "ssh -p %d %s", p->ssh_port, host);
    o = json_object();
    set(o, "host", JSTR(host));
    set_int(o, "port", p->ssh_port);
    set(o, "user", JSTR(user));
    set(o, "command", JSTR(cmd));
    /* the pod sshd's host key as its agent reported it, and its fingerprint */
    char fp[64];
    int known = gpf_ssh_fingerprint(p->ssh_host_key, fp, sizeof fp) == 0;
    set(o, "host_key", known ? str_n(p->ssh_host_key, sizeof p->ssh_host_key) : json_null());
    set(o, "host_key_fingerprint", known ? json_string(fp) : json_null());
    return o;
}

static json_t *layers_json(unsigned set)
{
    json_t *a = json_array();
    for (int i = 0; i < GPF_LAYER_COUNT; i++)
        if (set & (1u << i))
            json_array_append_new(a, json_string(gpf_isolation_layer_name((gpf_isolation_layer)i)));
    return a;
}

json_t *gpf_json_pod(const gpf_pod *p)
{
    json_t *o = NULL;

    if (!p)
        return json_null();
    o = json_object();
    set(o, "id", JSTR(p->id));
    set(o, "owner", JSTR(p->owner));
    set(o, "project", JSTR(p->project));
    set(o, "sku", JSTR(p->sku));
    set(o, "slice", gpf_json_slice(&p->slice));
    set(o, "isolation", json_string(gpf_isolation_name(p->isolation)));
    set(o, "isolation_layers", layers_json(p->isolation_layers));
    if (p->image[0]) {
        json_t *im = json_object();
        set(im, "name", JSTR(p->image));
        set(im, "digest", JSTR(p->image_digest));
        set(o, "image", im);
    } else {
        set(o, "image", json_null());
    }
    set(o, "state", json_string(gpf_pod_state_name(p->state)));
    /* "unknown" while its host's agent is silent (host unreachable): the state is the last known */
    set(o, "reachability", json_string(p->host_unreachable && !gpf_pod_state_is_final(p->state) ? "unknown" : "known"));
    set(o, "reason", JSTR(p->reason));
    set(o, "placement", p->placed ? placement_json(&p->placement) : json_null());
    set(o, "device_ids", JSTR(p->device_ids));
    set(o, "ssh", ssh_json(p));
    set_int(o, "price_micro_per_hour", p->price_micro_per_hour);
    set(o, "created_at", gpf_json_time(p->created_ms));
    set(o, "started_at", gpf_json_time(p->started_ms));
    set(o, "stopped_at", gpf_json_time(p->stopped_ms));
    return o;
}

json_t *gpf_json_usage(const gpf_usage *u, int64_t now_ms)
{
    json_t *o = NULL;
    int64_t end = 0, dur = 0, gms = 0, cost = 0;

    if (!u)
        return json_null();
    end = u->end_ms ? u->end_ms : now_ms;
    if (u->start_ms <= 0 || end <= u->start_ms || __builtin_sub_overflow(end, u->start_ms, &dur))
        dur = 0;
    o = json_object();
    set_int(o, "id", u->id);
    set(o, "pod_id", JSTR(u->pod_id));
    set(o, "owner", JSTR(u->owner));
    set(o, "project", JSTR(u->project));
    set(o, "sku", JSTR(u->sku));
    set(o, "host_id", JSTR(u->host_id));
    set(o, "slice_kind", json_string(gpf_slice_kind_name(u->slice_kind)));
    set(o, "isolation", json_string(gpf_isolation_name(u->isolation)));
    set_int(o, "gpu_milli", u->gpu_milli);
    set_int(o, "price_micro_per_hour", u->price_micro_per_hour);
    set(o, "start_at", gpf_json_time(u->start_ms));
    set(o, "end_at", gpf_json_time(u->end_ms));
    set_int(o, "duration_ms", dur);
    /* the billing rule (billing/billing.h); a figure too large to count shows saturated */
    (void)gpf_billing_gpu_milli_seconds(u->gpu_milli, dur, &gms);
    (void)gpf_billing_cost_micro(u->price_micro_per_hour, dur, &cost);
    set_int(o, "gpu_milli_seconds", gms);
    set_int(o, "cost_micro", cost);
    return o;
}

json_t *gpf_json_user(const gpf_user *u)
{
    json_t *o = NULL;

    if (!u)
        return json_null();
    o = json_object();
    set(o, "name", JSTR(u->name));
    set(o, "role", json_string(gpf_role_name(u->role)));
    set(o, "ssh_pubkey", JSTR(u->ssh_pubkey));
    set(o, "created_at", gpf_json_time(u->created_ms));
    set(o, "disabled", json_boolean(u->disabled));
    return o;
}

json_t *gpf_json_token(const gpf_token *t, int64_t now_ms)
{
    json_t *o = NULL;

    if (!t)
        return json_null();
    o = json_object();
    set(o, "id", JSTR(t->id));
    set(o, "name", JSTR(t->name));
    set(o, "user", JSTR(t->user));
    set(o, "created_at", gpf_json_time(t->created_ms));
    set(o, "last_used_at", gpf_json_time(t->last_used_ms));
    set(o, "expires_at", gpf_json_time(t->expires_ms));
    set(o, "expired", json_boolean(t->expires_ms && now_ms >= t->expires_ms));
    return o;
}

json_t *gpf_json_error(int code, const char *message)
{
    json_t *o = json_object(), *e = json_object();

    set(e, "code", json_string(gpf_err_name(code)));
    set(e, "message", str_n(message && message[0] ? message : gpf_err_text(code), 4096));
    set(o, "error", e);
    return o;
}

/* ---- agent side ---- */

json_t *gpf_json_agent_host(const gpf_host_rec *h)
{
    json_t *o = NULL, *host = NULL, *gpus = NULL;
    int n = 0;

    if (!h)
        return json_null();
    host = json_object();
    set(host, "id", JSTR(h->id));
    set(host, "address", JSTR(h->address));
    set(host, "deploy_mode", h->deploy_mode[0] ? JSTR(h->deploy_mode) : json_string("baremetal"));
    set(host, "backend", JSTR(h->backend));
    set(host, "runtime", JSTR(h->runtime));
    set(host, "agent_version", JSTR(h->agent_version));
    set_int(host, "cpus", h->cpus);
    set_int(host, "memory_mib", h->memory_mib);
    set_int(host, "numa_nodes", h->numa_nodes);
    if (h->max_pods > 0)
        set_int(host, "max_pods", h->max_pods);
    gpus = json_array();
    n = clamp_count(h->ngpus, GPF_MAX_HOST_GPUS);
    for (int i = 0; i < n; i++)
        json_array_append_new(gpus, gpu_base(&h->gpus[i]));
    set(host, "gpus", gpus);
    if (h->preflight != GPF_PREFLIGHT_UNKNOWN)
        set(host, "preflight", preflight_base(h));
    o = json_object();
    set(o, "host", host);
    if (h->isolation_max_given)
        set(o, "isolation_max", json_string(gpf_isolation_name(h->isolation_max)));
    return o;
}

json_t *gpf_json_agent_pod(const gpf_pod *p, const char *ssh_pubkey, const char *env)
{
    json_t *o = gpf_json_pod(p);

    if (!json_is_object(o))
        return o;
    set(o, "ssh_pubkey", str_n(ssh_pubkey ? ssh_pubkey : "", GPF_PUBKEY_MAX));
    set(o, "env", str_n(env ? env : "", GPF_TEXT_MAX));
    return o;
}

json_t *gpf_json_heartbeat(const gpf_agent_report *r)
{
    json_t *o = json_object(), *pods = json_array();
    for (int i = 0; r && i < r->npods; i++) {
        const gpf_agent_pod_report *p = &r->pods[i];
        json_t *jp = json_object();
        set(jp, "id", JSTR(p->id));
        set(jp, "state", json_string(gpf_pod_state_name(p->state)));
        if (p->state == GPF_POD_FAILED) {
            set_int(jp, "at_ms", p->at_ms);
            set(jp, "message", JSTR(p->message));
        } else if (p->idle_s >= 0) {
            set_int(jp, "idle_s", p->idle_s);
        }
        json_array_append_new(pods, jp);
    }
    set(o, "pods", pods);
    if (!r || !r->has_gpus)
        return o;
    json_t *gpus = json_array();
    for (int g = 0; g < clamp_count(r->ngpus, GPF_MAX_HOST_GPUS); g++) {
        const gpf_hw_gpu *hw = &r->gpus[g];
        if (!hw->has_hw) {
            json_array_append_new(gpus, JSTR(hw->uuid));
            continue;
        }
        json_t *jg = json_object(), *mig = json_array(), *procs = json_array();
        set(jg, "uuid", JSTR(hw->uuid));
        set(jg, "mig_enabled", json_boolean(hw->mig_enabled));
        for (int m = 0; m < clamp_count(hw->nmig, GPF_HW_MAX_MIG); m++) {
            const gpf_hw_mig *d = &hw->mig[m];
            json_t *jm = json_object();
            set(jm, "uuid", JSTR(d->uuid));
            set_int(jm, "gi_id", d->gi_id);
            set_int(jm, "ci_id", d->ci_id);
            set_int(jm, "profile_id", d->profile_id);
            set_int(jm, "start", d->start);
            set_int(jm, "size", d->size);
            json_array_append_new(mig, jm);
        }
        for (int k = 0; k < clamp_count(hw->nprocs, GPF_HW_MAX_PROCS); k++) {
            const gpf_hw_proc *p = &hw->procs[k];
            json_t *jp = json_object();
            set_int(jp, "pid", p->pid);
            set_int(jp, "used_mib", p->used_mib);
            set_int(jp, "gi_id", p->gi_id);
            set_int(jp, "ci_id", p->ci_id);
            if (p->pod_id[0])
                set(jp, "pod_id", JSTR(p->pod_id));
            json_array_append_new(procs, jp);
        }
        set(jg, "mig", mig);
        set(jg, "processes", procs);
        json_array_append_new(gpus, jg);
    }
    set(o, "gpus", gpus);
    return o;
}
