/* Encoders: domain records -> JSON documents (shapes in docs/api.md). */
#include "codec/codec.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "billing/billing.h"
#include "util/alloc.h"
#include "util/jsonw.h"
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

/* The writer's (gpf_jsonw) str_n: a fixed-size field written as a string (under key, when
 * not NULL), bounded by the field size, with every byte >= 0x80 made '?' when the text is
 * not valid UTF-8 (jansson's test, as str_n), so the text matches str_n's tree. */
static void wstr_n(gpf_buf *b, const char *key, const char *s, size_t size)
{
    size_t n = s ? strnlen(s, size) : 0;
    int ascii = 1;
    for (size_t i = 0; i < n && ascii; i++)
        ascii = (unsigned char)s[i] < 0x80;
    json_t *check = ascii ? NULL : json_stringn(s, n);
    if (key)
        gpf_jsonw_key(b, key);
    if (ascii || check) {
        gpf_jsonw_str(b, s ? s : "", n);
    } else {
        char *copy = gpf_strndup(s, n);
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)copy[i] >= 0x80)
                copy[i] = '?';
        gpf_jsonw_str(b, copy, n);
        gpf_free(copy);
    }
    json_decref(check);
}

#define WSTR(b, key, field) wstr_n((b), (key), (field), sizeof(field))

/* A name the code owns (ASCII; NULL writes null), under key when not NULL. */
static void wname(gpf_buf *b, const char *key, const char *name)
{
    if (key)
        gpf_jsonw_key(b, key);
    if (name)
        gpf_jsonw_str(b, name, strlen(name));
    else
        gpf_jsonw_lit(b, "null");
}

static void wint(gpf_buf *b, const char *key, int64_t v)
{
    gpf_jsonw_key(b, key);
    gpf_jsonw_int(b, v);
}

static void wbool(gpf_buf *b, const char *key, int v)
{
    gpf_jsonw_key(b, key);
    gpf_jsonw_lit(b, v ? "true" : "false");
}

/* gpf_json_time's value under key. */
static void wtime(gpf_buf *b, const char *key, int64_t ms)
{
    char buf[40];
    gpf_jsonw_key(b, key);
    if (ms <= 0) {
        gpf_jsonw_lit(b, "null");
        return;
    }
    gpf_time_format(ms, buf, sizeof buf);
    gpf_jsonw_str(b, buf, strlen(buf));
}

static void set(json_t *o, const char *key, json_t *v)
{
    json_object_set_new(o, key, v ? v : json_null());
}

static void set_int(json_t *o, const char *key, int64_t v)
{
    set(o, key, json_integer((json_int_t)v));
}

/* The JSON value of text (b, consumed) as a jansson tree: the tree form of a document that is
 * written as text (gpf_jsonw_*), so that both forms come from one encoder. */
static json_t *tree_of(gpf_buf *b)
{
    json_t *j = json_loadb(b->data ? b->data : "null", b->len ? b->len : 4, JSON_DECODE_ANY, NULL);
    gpf_buf_clear(b);
    return j ? j : json_null();
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

/* A GPU's own fields, its object left open. */
static void gpu_base_w(gpf_buf *b, const gpf_gpu_rec *g)
{
    gpf_jsonw_open(b, '{');
    WSTR(b, "uuid", g->uuid);
    wint(b, "index", g->index);
    WSTR(b, "model", g->model);
    WSTR(b, "name", g->name);
    WSTR(b, "pci_bus_id", g->pci_bus_id);
    wint(b, "numa_node", g->numa_node);
    wint(b, "memory_mib", g->memory_mib);
    wbool(b, "mig_enabled", g->mig_enabled);
}

void gpf_jsonw_gpu(gpf_buf *b, const gpf_gpu_rec *g, int allocated_milli, int mig_used_slots)
{
    if (!g) {
        gpf_jsonw_lit(b, "null");
        return;
    }
    gpu_base_w(b, g);
    wint(b, "allocated_milli", allocated_milli);
    wint(b, "mig_used_slots", mig_used_slots);
    gpf_jsonw_close(b, '}');
}

json_t *gpf_json_gpu(const gpf_gpu_rec *g, int allocated_milli, int mig_used_slots)
{
    gpf_buf b = {0};
    gpf_jsonw_gpu(&b, g, allocated_milli, mig_used_slots);
    return tree_of(&b);
}

/* {"verdict","findings":[…]: what the agent's preflight said, the object left open. */
static void preflight_base_w(gpf_buf *b, const gpf_host_rec *h)
{
    int n = clamp_count(h->nfindings, GPF_MAX_HOST_FINDINGS);
    gpf_jsonw_open(b, '{');
    wname(b, "verdict", gpf_preflight_name(h->preflight));
    gpf_jsonw_key(b, "findings");
    gpf_jsonw_open(b, '[');
    for (int i = 0; i < n; i++) {
        const gpf_host_finding *f = &h->findings[i];
        gpf_jsonw_open(b, '{');
        WSTR(b, "check", f->check);
        wname(b, "level", gpf_preflight_name(f->level));
        wint(b, "gpu", f->gpu);
        WSTR(b, "detail", f->detail);
        WSTR(b, "fix", f->fix);
        gpf_jsonw_close(b, '}');
    }
    gpf_jsonw_close(b, ']');
}

static void drift_w(gpf_buf *b, const gpf_host_usage *u)
{
    int n = u ? clamp_count(u->ndrift, GPF_MAX_HOST_DRIFT) : 0;
    gpf_jsonw_open(b, '[');
    for (int i = 0; i < n; i++) {
        gpf_jsonw_open(b, '{');
        WSTR(b, "kind", u->drift[i].kind);
        WSTR(b, "subject", u->drift[i].subject);
        WSTR(b, "detail", u->drift[i].detail);
        wtime(b, "since", u->drift[i].since_ms);
        gpf_jsonw_close(b, '}');
    }
    gpf_jsonw_close(b, ']');
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

/* "rekey": {"at","by"} or null; null too when by is not valid UTF-8 (as json_pack's "s%"
 * refuses it). */
static void rekey_w(gpf_buf *b, const gpf_host_rec *h)
{
    size_t n = strnlen(h->rekey_by, sizeof h->rekey_by);
    json_t *by = h->rekey_ms ? json_stringn(h->rekey_by, n) : NULL;
    gpf_jsonw_key(b, "rekey");
    if (by) {
        gpf_jsonw_open(b, '{');
        wtime(b, "at", h->rekey_ms);
        gpf_jsonw_key(b, "by");
        gpf_jsonw_str(b, h->rekey_by, n);
        gpf_jsonw_close(b, '}');
    } else {
        gpf_jsonw_lit(b, "null");
    }
    json_decref(by);
}

void gpf_jsonw_host(gpf_buf *b, const gpf_host_rec *h, const gpf_host_usage *u)
{
    if (!h) {
        gpf_jsonw_lit(b, "null");
        return;
    }
    gpf_jsonw_open(b, '{');
    WSTR(b, "id", h->id);
    WSTR(b, "address", h->address);
    WSTR(b, "deploy_mode", h->deploy_mode);
    WSTR(b, "backend", h->backend);
    WSTR(b, "runtime", h->runtime);
    WSTR(b, "agent_version", h->agent_version);
    wname(b, "isolation_max", gpf_isolation_name(h->isolation_max));
    wint(b, "max_pods", gpf_host_pods_max(h)); /* what placement holds it to */
    wint(b, "cpus", h->cpus);
    wint(b, "memory_mib", h->memory_mib);
    wint(b, "numa_nodes", h->numa_nodes);
    wname(b, "state", gpf_host_state_name(h->state));
    wtime(b, "registered_at", h->registered_ms);
    wtime(b, "last_heartbeat_at", h->last_heartbeat_ms);
    int n = clamp_count(h->ngpus, GPF_MAX_HOST_GPUS);
    gpf_jsonw_key(b, "gpus");
    gpf_jsonw_open(b, '[');
    for (int i = 0; i < n; i++)
        gpf_jsonw_gpu(b, &h->gpus[i], u ? u->gpu_allocated_milli[i] : 0, u ? u->gpu_mig_used_slots[i] : 0);
    gpf_jsonw_close(b, ']');
    wint(b, "cpus_used", u ? u->cpus_used : 0);
    wint(b, "memory_mib_used", u ? u->memory_used_mib : 0);
    gpf_jsonw_key(b, "preflight");
    preflight_base_w(b, h);
    wtime(b, "checked_at", h->preflight_ms);
    gpf_jsonw_key(b, "override");
    if (h->override) {
        gpf_jsonw_open(b, '{');
        WSTR(b, "by", h->override_by);
        WSTR(b, "reason", h->override_reason);
        wtime(b, "at", h->override_ms);
        gpf_jsonw_close(b, '}');
    } else {
        gpf_jsonw_lit(b, "null");
    }
    gpf_jsonw_close(b, '}');
    rekey_w(b, h);
    wbool(b, "schedulable", u ? u->schedulable : 0);
    if (u && !u->schedulable)
        WSTR(b, "unschedulable_reason", u->unschedulable_reason);
    else
        wname(b, "unschedulable_reason", NULL);
    gpf_jsonw_key(b, "drift");
    drift_w(b, u);
    gpf_jsonw_close(b, '}');
}

json_t *gpf_json_host(const gpf_host_rec *h, const gpf_host_usage *u)
{
    gpf_buf b = {0};
    gpf_jsonw_host(&b, h, u);
    return tree_of(&b);
}

void gpf_jsonw_slice(gpf_buf *b, const gpf_slice_spec *s)
{
    if (!s) {
        gpf_jsonw_lit(b, "null");
        return;
    }
    gpf_jsonw_open(b, '{');
    wname(b, "kind", gpf_slice_kind_name(s->kind));
    switch (s->kind) {
    case GPF_SLICE_WHOLE:
        wint(b, "gpu_count", s->gpu_count);
        break;
    case GPF_SLICE_MIG:
        WSTR(b, "mig_profile", s->mig_profile);
        break;
    case GPF_SLICE_VGPU:
        WSTR(b, "vgpu_type", s->vgpu_type);
        break;
    case GPF_SLICE_SHARE:
        wint(b, "share_milli", s->share_milli);
        wint(b, "share_memory_mib", s->share_memory_mib);
        break;
    }
    gpf_jsonw_close(b, '}');
}

json_t *gpf_json_slice(const gpf_slice_spec *s)
{
    gpf_buf b = {0};
    gpf_jsonw_slice(&b, s);
    return tree_of(&b);
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

static void placement_w(gpf_buf *b, const gpf_placement *pl)
{
    int n = clamp_count(pl->ngpus, GPF_MAX_POD_GPUS);
    gpf_jsonw_open(b, '{');
    WSTR(b, "host_id", pl->host_id);
    gpf_jsonw_key(b, "gpu_uuids");
    gpf_jsonw_open(b, '[');
    for (int i = 0; i < n; i++)
        wstr_n(b, NULL, pl->gpu_uuids[i], sizeof pl->gpu_uuids[i]);
    gpf_jsonw_close(b, ']');
    gpf_jsonw_key(b, "gpu_indexes");
    gpf_jsonw_open(b, '[');
    for (int i = 0; i < n; i++)
        gpf_jsonw_int(b, pl->gpu_index[i]);
    gpf_jsonw_close(b, ']');
    wint(b, "mig_profile_id", pl->mig_profile_id);
    wint(b, "mig_start", pl->mig_start);
    wint(b, "mig_size", pl->mig_size);
    wint(b, "share_milli", pl->share_milli);
    wint(b, "share_memory_mib", pl->share_memory_mib);
    WSTR(b, "vgpu_type", pl->vgpu_type);
    wint(b, "numa_node", pl->numa_node);
    wint(b, "cpus", pl->cpus);
    wint(b, "memory_mib", pl->memory_mib);
    wint(b, "gpu_milli", pl->gpu_milli);
    gpf_jsonw_close(b, '}');
}

static void ssh_w(gpf_buf *b, const gpf_pod *p)
{
    char host[GPF_TEXT_MAX], user[GPF_ID_MAX], cmd[GPF_TEXT_MAX + GPF_ID_MAX + 32];

    if (p->ssh_port <= 0) {
        gpf_jsonw_lit(b, "null");
        return;
    }
    memcpy(host, p->ssh_host, sizeof host);
    host[sizeof host - 1] = '\0';
    memcpy(user, p->ssh_user, sizeof user);
    user[sizeof user - 1] = '\0';
    if (user[0])
        snprintf(cmd, sizeof cmd, "ssh -p %d %s@%s", p->ssh_port, user, host);
    else
        snprintf(cmd, sizeof cmd, "ssh -p %d %s", p->ssh_port, host);
    gpf_jsonw_open(b, '{');
    WSTR(b, "host", host);
    wint(b, "port", p->ssh_port);
    WSTR(b, "user", user);
    WSTR(b, "command", cmd);
    /* the pod sshd's host key as its agent reported it, and its fingerprint */
    char fp[64];
    int known = gpf_ssh_fingerprint(p->ssh_host_key, fp, sizeof fp) == 0;
    if (known) {
        WSTR(b, "host_key", p->ssh_host_key);
        wname(b, "host_key_fingerprint", fp);
    } else {
        wname(b, "host_key", NULL);
        wname(b, "host_key_fingerprint", NULL);
    }
    gpf_jsonw_close(b, '}');
}

static void layers_w(gpf_buf *b, unsigned set)
{
    gpf_jsonw_open(b, '[');
    for (int i = 0; i < GPF_LAYER_COUNT; i++)
        if (set & (1u << i))
            wname(b, NULL, gpf_isolation_layer_name((gpf_isolation_layer)i));
    gpf_jsonw_close(b, ']');
}

void gpf_jsonw_pod(gpf_buf *b, const gpf_pod *p)
{
    if (!p) {
        gpf_jsonw_lit(b, "null");
        return;
    }
    gpf_jsonw_open(b, '{');
    WSTR(b, "id", p->id);
    WSTR(b, "owner", p->owner);
    WSTR(b, "project", p->project);
    WSTR(b, "sku", p->sku);
    gpf_jsonw_key(b, "slice");
    gpf_jsonw_slice(b, &p->slice);
    wname(b, "isolation", gpf_isolation_name(p->isolation));
    gpf_jsonw_key(b, "isolation_layers");
    layers_w(b, p->isolation_layers);
    gpf_jsonw_key(b, "image");
    if (p->image[0]) {
        gpf_jsonw_open(b, '{');
        WSTR(b, "name", p->image);
        WSTR(b, "digest", p->image_digest);
        gpf_jsonw_close(b, '}');
    } else {
        gpf_jsonw_lit(b, "null");
    }
    wname(b, "state", gpf_pod_state_name(p->state));
    /* "unknown" while its host's agent is silent (host unreachable): the state is the last known */
    wname(b, "reachability", p->host_unreachable && !gpf_pod_state_is_final(p->state) ? "unknown" : "known");
    WSTR(b, "reason", p->reason);
    gpf_jsonw_key(b, "placement");
    if (p->placed)
        placement_w(b, &p->placement);
    else
        gpf_jsonw_lit(b, "null");
    WSTR(b, "device_ids", p->device_ids);
    gpf_jsonw_key(b, "ssh");
    ssh_w(b, p);
    wint(b, "price_micro_per_hour", p->price_micro_per_hour);
    wtime(b, "created_at", p->created_ms);
    wtime(b, "started_at", p->started_ms);
    wtime(b, "stopped_at", p->stopped_ms);
    gpf_jsonw_close(b, '}');
}

json_t *gpf_json_pod(const gpf_pod *p)
{
    gpf_buf b = {0};
    gpf_jsonw_pod(&b, p);
    return tree_of(&b);
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

/* gpu_base_w's and preflight_base_w's objects, closed, as trees (for the agent's register). */
static json_t *gpu_base_tree(const gpf_gpu_rec *g)
{
    gpf_buf b = {0};
    gpu_base_w(&b, g);
    gpf_jsonw_close(&b, '}');
    return tree_of(&b);
}

static json_t *preflight_base_tree(const gpf_host_rec *h)
{
    gpf_buf b = {0};
    preflight_base_w(&b, h);
    gpf_jsonw_close(&b, '}');
    return tree_of(&b);
}

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
        json_array_append_new(gpus, gpu_base_tree(&h->gpus[i]));
    set(host, "gpus", gpus);
    if (h->preflight != GPF_PREFLIGHT_UNKNOWN)
        set(host, "preflight", preflight_base_tree(h));
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
