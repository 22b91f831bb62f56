/* Hosts (with their GPUs), SKUs (with their models), users and tokens. */
#include "store/store_int.h"

#include <stddef.h>
#include <string.h>

#include "util/alloc.h"

/* ---- hosts and GPUs --------------------------------------------------------- */

static int host_row(gpf_store *s, const gpf_host_rec *h, gpf_error *err)
{
    int rc = 0;
    sqlite3_stmt *st = NULL;
    store_binder b;
    if ((rc = store_stmt(s, SLOT_HOST_PUT,
                         "INSERT INTO hosts (id, address, deploy_mode, backend, runtime, agent_version, cpus,"
                         " memory_mib, numa_nodes, state, registered_ms, last_heartbeat_ms)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
                         " ON CONFLICT (id) DO UPDATE SET address = excluded.address,"
                         " deploy_mode = excluded.deploy_mode, backend = excluded.backend,"
                         " runtime = excluded.runtime, agent_version = excluded.agent_version,"
                         " cpus = excluded.cpus, memory_mib = excluded.memory_mib,"
                         " numa_nodes = excluded.numa_nodes, state = excluded.state,"
                         " registered_ms = excluded.registered_ms,"
                         " last_heartbeat_ms = excluded.last_heartbeat_ms",
                         &st, err)) != 0)
        goto out;
    store_bind_init(&b, st);
    BIND_STR(&b, h, id);
    BIND_STR(&b, h, address);
    BIND_STR(&b, h, deploy_mode);
    BIND_STR(&b, h, backend);
    BIND_STR(&b, h, runtime);
    BIND_STR(&b, h, agent_version);
    store_bind_int(&b, h->cpus);
    store_bind_int(&b, h->memory_mib);
    store_bind_int(&b, h->numa_nodes);
    store_bind_name(&b, "state", gpf_host_state_name(h->state));
    store_bind_int(&b, h->registered_ms);
    store_bind_int(&b, h->last_heartbeat_ms);
    if ((rc = store_bind_finish(&b, err)) != 0)
        goto out;
    rc = store_step_done(s, st, "store: host_put", err);
out:
    store_done(st);
    return rc;
}

static int gpus_delete(gpf_store *s, const char *host_id, gpf_error *err)
{
    int rc = 0;
    sqlite3_stmt *st = NULL;
    if ((rc = store_stmt(s, SLOT_GPUS_DELETE, "DELETE FROM gpus WHERE host_id = ?1", &st, err)) != 0)
        goto out;
    if (sqlite3_bind_text(st, 1, host_id, -1, SQLITE_STATIC) != SQLITE_OK) {
        rc = store_fail(s, err, "store: host_put");
        goto out;
    }
    rc = store_step_done(s, st, "store: host_put gpus", err);
out:
    store_done(st);
    return rc;
}

static int gpu_row(gpf_store *s, const char *host_id, int idx, const gpf_gpu_rec *g, gpf_error *err)
{
    int rc = 0;
    sqlite3_stmt *st = NULL;
    store_binder b;
    if ((rc = store_stmt(s, SLOT_GPU_INSERT,
                         "INSERT INTO gpus (host_id, idx, uuid, gpu_index, model, name, pci_bus_id,"
                         " numa_node, memory_mib, mig_enabled)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                         &st, err)) != 0)
        goto out;
    store_bind_init(&b, st);
    store_bind_text(&b, "id", host_id, GPF_ID_MAX);
    store_bind_int(&b, idx);
    BIND_STR(&b, g, uuid);
    store_bind_int(&b, g->index);
    BIND_STR(&b, g, model);
    BIND_STR(&b, g, name);
    BIND_STR(&b, g, pci_bus_id);
    store_bind_int(&b, g->numa_node);
    store_bind_int(&b, g->memory_mib);
    store_bind_int(&b, g->mig_enabled);
    if ((rc = store_bind_finish(&b, err)) != 0)
        goto out;
    rc = store_step_done(s, st, "store: host_put gpu", err);
out:
    store_done(st);
    return rc;
}

int gpf_store_host_put(gpf_store *s, const gpf_host_rec *h, gpf_error *err)
{
    int rc = 0;
    int scope = 0;
    if (!s || !h) {
        rc = gpf_error_set(err, GPF_EINVAL, "store: bad arguments to host_put");
        goto out;
    }
    if (h->ngpus < 0 || h->ngpus > GPF_MAX_HOST_GPUS) {
        rc = gpf_error_set(err, GPF_EINVAL, "store: host %.64s has %d GPUs (at most %d)", h->id, h->ngpus,
                           GPF_MAX_HOST_GPUS);
        goto out;
    }
    if ((rc = store_scope_begin(s, err)) != 0)
        goto out;
    scope = 1;
    if ((rc = host_row(s, h, err)) != 0 || (rc = gpus_delete(s, h->id, err)) != 0)
        goto out;
    for (int i = 0; i < h->ngpus && rc == 0; i++)
        rc = gpu_row(s, h->id, i, &h->gpus[i], err);
out:
    if (scope)
        rc = store_scope_end(s, rc, err);
    return rc;
}

static int gpus_load(gpf_store *s, gpf_host_rec *arr, size_t n, gpf_error *err)
{
    int rc = 0;
    sqlite3_stmt *st = NULL;
    size_t cur = 0;
    int src;
    if ((rc = store_stmt(s, SLOT_GPUS_LOAD,
                         "SELECT host_id, uuid, gpu_index, model, name, pci_bus_id, numa_node, memory_mib,"
                         " mig_enabled FROM gpus ORDER BY host_id, idx",
                         &st, err)) != 0)
        goto out;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        char host_id[GPF_ID_MAX];
        store_reader r;
        store_read_init(&r, st);
        store_read_text(&r, "gpus.host_id", host_id, sizeof host_id);
        if ((rc = store_read_finish(&r, err)) != 0 ||
            (rc = store_match_parent(arr, n, sizeof *arr, offsetof(gpf_host_rec, id), host_id, &cur, "gpus",
                                     err)) != 0)
            goto out;
        gpf_host_rec *h = &arr[cur];
        if (h->ngpus >= GPF_MAX_HOST_GPUS) {
            rc = gpf_error_set(err, GPF_ESTORE, "store: host %s has more than %d GPUs", h->id,
                               GPF_MAX_HOST_GPUS);
            goto out;
        }
        gpf_gpu_rec *g = &h->gpus[h->ngpus];
        READ_STR(&r, g, uuid);
        g->index = store_read_int(&r, "gpu_index");
        READ_STR(&r, g, model);
        READ_STR(&r, g, name);
        READ_STR(&r, g, pci_bus_id);
        g->numa_node = store_read_int(&r, "numa_node");
        g->memory_mib = store_read_i64(&r);
        g->mig_enabled = store_read_int(&r, "mig_enabled");
        if ((rc = store_read_finish(&r, err)) != 0)
            goto out;
        h->ngpus++;
    }
    if (src != SQLITE_DONE)
        rc = store_fail(s, err, "store: loading gpus");
out:
    store_done(st);
    return rc;
}

int gpf_store_hosts_load(gpf_store *s, gpf_host_rec **out, size_t *n, gpf_error *err)
{
    int rc = 0;
    int scope = 0;
    sqlite3_stmt *st = NULL;
    gpf_host_rec *arr = NULL;
    size_t cnt = 0, cap = 0;
    int src;
    if (!s || !out || !n) {
        rc = gpf_error_set(err, GPF_EINVAL, "store: bad arguments to hosts_load");
        goto out;
    }
    *out = NULL;
    *n = 0;
    if ((rc = store_scope_begin(s, err)) != 0)
        goto out;
    scope = 1;
    if ((rc = store_stmt(s, SLOT_HOSTS_LOAD,
                         "SELECT id, address, deploy_mode, backend, runtime, agent_version, cpus, memory_mib,"
                         " numa_nodes, state, registered_ms, last_heartbeat_ms FROM hosts ORDER BY id",
                         &st, err)) != 0)
        goto out;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        arr = store_grow(arr, &cap, cnt, sizeof *arr);
        gpf_host_rec *h = &arr[cnt];
        store_reader r;
        store_read_init(&r, st);
        READ_STR(&r, h, id);
        READ_STR(&r, h, address);
        READ_STR(&r, h, deploy_mode);
        READ_STR(&r, h, backend);
        READ_STR(&r, h, runtime);
        READ_STR(&r, h, agent_version);
        h->cpus = store_read_int(&r, "cpus");
        h->memory_mib = store_read_i64(&r);
        h->numa_nodes = store_read_int(&r, "numa_nodes");
        h->state = (gpf_host_state)store_read_enum(&r, "state", gpf_host_state_parse);
        h->registered_ms = store_read_i64(&r);
        h->last_heartbeat_ms = store_read_i64(&r);
        if ((rc = store_read_finish(&r, err)) != 0)
            goto out;
        cnt++;
    }
    if (src != SQLITE_DONE) {
        rc = store_fail(s, err, "store: loading hosts");
        goto out;
    }
    store_done(st);
    st = NULL;
    if ((rc = gpus_load(s, arr, cnt, err)) != 0)
        goto out;
    *out = cnt ? arr : NULL;
    *n = cnt;
    if (cnt)
        arr = NULL;
out:
    store_done(st);
    if (scope)
        rc = store_scope_end(s, rc, err);
    if (rc && scope && *out) {
        gpf_free(*out);
        *out = NULL;
        *n = 0;
    }
    gpf_free(arr);
    return rc;
}

/* ---- SKUs --------------------------------------------------------------------- */

static int sku_row(gpf_store *s, const gpf_sku *k, gpf_error *err)
{
    int rc = 0;
    sqlite3_stmt *st = NULL;
    store_binder b;
    if ((rc = store_stmt(s, SLOT_SKU_PUT,
                         "INSERT INTO skus (name, description, slice_kind, slice_gpu_count, slice_mig_profile,"
                         " slice_vgpu_type, slice_share_milli, slice_share_memory_mib, cpus, memory_mib, ttl_s,"
                         " idle_timeout_s, price_micro_per_hour, license_feature, env, created_ms, updated_ms)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
                         " ON CONFLICT (name) DO UPDATE SET description = excluded.description,"
                         " slice_kind = excluded.slice_kind, slice_gpu_count = excluded.slice_gpu_count,"
                         " slice_mig_profile = excluded.slice_mig_profile,"
                         " slice_vgpu_type = excluded.slice_vgpu_type,"
                         " slice_share_milli = excluded.slice_share_milli,"
                         " slice_share_memory_mib = excluded.slice_share_memory_mib, cpus = excluded.cpus,"
                         " memory_mib = excluded.memory_mib, ttl_s = excluded.ttl_s,"
                         " idle_timeout_s = excluded.idle_timeout_s,"
                         " price_micro_per_hour = excluded.price_micro_per_hour,"
                         " license_feature = excluded.license_feature, env = excluded.env,"
                         " created_ms = excluded.created_ms, updated_ms = excluded.updated_ms",
                         &st, err)) != 0)
        goto out;
    store_bind_init(&b, st);
    BIND_STR(&b, k, name);
    BIND_STR(&b, k, description);
    store_bind_name(&b, "slice.kind", gpf_slice_kind_name(k->slice.kind));
    store_bind_int(&b, k->slice.gpu_count);
    BIND_STR(&b, k, slice.mig_profile);
    BIND_STR(&b, k, slice.vgpu_type);
    store_bind_int(&b, k->slice.share_milli);
    store_bind_int(&b, k->slice.share_memory_mib);
    store_bind_int(&b, k->cpus);
    store_bind_int(&b, k->memory_mib);
    store_bind_int(&b, k->ttl_s);
    store_bind_int(&b, k->idle_timeout_s);
    store_bind_int(&b, k->price_micro_per_hour);
    BIND_STR(&b, k, license_feature);
    BIND_STR(&b, k, env);
    store_bind_int(&b, k->created_ms);
    store_bind_int(&b, k->updated_ms);
    if ((rc = store_bind_finish(&b, err)) != 0)
        goto out;
    rc = store_step_done(s, st, "store: sku_put", err);
out:
    store_done(st);
    return rc;
}

static int sku_models_put(gpf_store *s, const gpf_sku *k, gpf_error *err)
{
    int rc = 0;
    sqlite3_stmt *st = NULL;
    store_binder b;
    if ((rc = store_stmt(s, SLOT_SKU_MODELS_DELETE, "DELETE FROM sku_models WHERE sku = ?1", &st, err)) != 0)
        goto out;
    store_bind_init(&b, st);
    BIND_STR(&b, k, name);
    if ((rc = store_bind_finish(&b, err)) != 0 || (rc = store_step_done(s, st, "store: sku_put", err)) != 0)
        goto out;
    store_done(st);
    if ((rc = store_stmt(s, SLOT_SKU_MODEL_INSERT, "INSERT INTO sku_models (sku, pos, model) VALUES (?1, ?2, ?3)",
                         &st, err)) != 0)
        goto out;
    for (int i = 0; i < k->nmodels; i++) {
        store_bind_init(&b, st);
        BIND_STR(&b, k, name);
        store_bind_int(&b, i);
        store_bind_text(&b, "models", k->models[i], sizeof k->models[i]);
        if ((rc = store_bind_finish(&b, err)) != 0 ||
            (rc = store_step_done(s, st, "store: sku_put model", err)) != 0)
            goto out;
        store_done(st);
    }
out:
    store_done(st);
    return rc;
}

int gpf_store_sku_put(gpf_store *s, const gpf_sku *k, gpf_error *err)
{
    int rc = 0;
    int scope = 0;
    if (!s || !k) {
        rc = gpf_error_set(err, GPF_EINVAL, "store: bad arguments to sku_put");
        goto out;
    }
    if (k->nmodels < 0 || k->nmodels > GPF_MAX_SKU_MODELS) {
        rc = gpf_error_set(err, GPF_EINVAL, "store: sku %.64s has %d models (at most %d)", k->name, k->nmodels,
                           GPF_MAX_SKU_MODELS);
        goto out;
    }
    if ((rc = store_scope_begin(s, err)) != 0)
        goto out;
    scope = 1;
    if ((rc = sku_row(s, k, err)) != 0)
        goto out;
    rc = sku_models_put(s, k, err);
out:
    if (scope)
        rc = store_scope_end(s, rc, err);
    return rc;
}

int gpf_store_sku_delete(gpf_store *s, const char *name, gpf_error *err)
{
    int rc = 0;
    sqlite3_stmt *st = NULL;
    if (!s || !name) {
        rc = gpf_error_set(err, GPF_EINVAL, "store: bad arguments to sku_delete");
        goto out;
    }
    if ((rc = store_stmt(s, SLOT_SKU_DELETE, "DELETE FROM skus WHERE name = ?1", &st, err)) != 0)
        goto out;
    if (sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) != SQLITE_OK) {
        rc = store_fail(s, err, "store: sku_delete");
        goto out;
    }
    if ((rc = store_step_done(s, st, "store: sku_delete", err)) != 0)
        goto out;
    if (sqlite3_changes(s->db) == 0)
        rc = gpf_error_set(err, GPF_ENOTFOUND, "store: sku %s not found", name);
out:
    store_done(st);
    return rc;
}

static int sku_models_load(gpf_store *s, gpf_sku *arr, size_t n, gpf_error *err)
{
    int rc = 0;
    sqlite3_stmt *st = NULL;
    size_t cur = 0;
    int src;
    if ((rc = store_stmt(s, SLOT_SKU_MODELS_LOAD, "SELECT sku, model FROM sku_models ORDER BY sku, pos", &st,
                         err)) != 0)
        goto out;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        char name[GPF_ID_MAX];
        store_reader r;
        store_read_init(&r, st);
        store_read_text(&r, "sku_models.sku", name, sizeof name);
        if ((rc = store_read_finish(&r, err)) != 0 ||
            (rc = store_match_parent(arr, n, sizeof *arr, offsetof(gpf_sku, name), name, &cur, "sku_models",
                                     err)) != 0)
            goto out;
        gpf_sku *k = &arr[cur];
        if (k->nmodels >= GPF_MAX_SKU_MODELS) {
            rc = gpf_error_set(err, GPF_ESTORE, "store: sku %s has more than %d models", k->name,
                               GPF_MAX_SKU_MODELS);
            goto out;
        }
        store_read_text(&r, "model", k->models[k->nmodels], sizeof k->models[k->nmodels]);
        if ((rc = store_read_finish(&r, err)) != 0)
            goto out;
        k->nmodels++;
    }
    if (src != SQLITE_DONE)
        rc = store_fail(s, err, "store: loading sku models");
out:
    store_done(st);
    return rc;
}

int gpf_store_skus_load(gpf_store *s, gpf_sku **out, size_t *n, gpf_error *err)
{
    int rc = 0;
    int scope = 0;
    sqlite3_stmt *st = NULL;
    gpf_sku *arr = NULL;
    size_t cnt = 0, cap = 0;
    int src;
    if (!s || !out || !n) {
        rc = gpf_error_set(err, GPF_EINVAL, "store: bad arguments to skus_load");
        goto out;
    }
    *out = NULL;
    *n = 0;
    if ((rc = store_scope_begin(s, err)) != 0)
        goto out;
    scope = 1;
    if ((rc = store_stmt(s, SLOT_SKUS_LOAD,
                         "SELECT name, description, slice_kind, slice_gpu_count, slice_mig_profile,"
                         " slice_vgpu_type, slice_share_milli, slice_share_memory_mib, cpus, memory_mib, ttl_s,"
                         " idle_timeout_s, price_micro_per_hour, license_feature, env, created_ms, updated_ms"
                         " FROM skus ORDER BY name",
                         &st, err)) != 0)
        goto out;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        arr = store_grow(arr, &cap, cnt, sizeof *arr);
        gpf_sku *k = &arr[cnt];
        store_reader r;
        store_read_init(&r, st);
        READ_STR(&r, k, name);
        READ_STR(&r, k, description);
        k->slice.kind = (gpf_slice_kind)store_read_enum(&r, "slice_kind", gpf_slice_kind_parse);
        k->slice.gpu_count = store_read_int(&r, "slice_gpu_count");
        READ_STR(&r, k, slice.mig_profile);
        READ_STR(&r, k, slice.vgpu_type);
        k->slice.share_milli = store_read_int(&r, "slice_share_milli");
        k->slice.share_memory_mib = store_read_i64(&r);
        k->cpus = store_read_int(&r, "cpus");
        k->memory_mib = store_read_i64(&r);
        k->ttl_s = store_read_i64(&r);
        k->idle_timeout_s = store_read_i64(&r);
        k->price_micro_per_hour = store_read_i64(&r);
        READ_STR(&r, k, license_feature);
        READ_STR(&r, k, env);
        k->created_ms = store_read_i64(&r);
        k->updated_ms = store_read_i64(&r);
        if ((rc = store_read_finish(&r, err)) != 0)
            goto out;
        cnt++;
    }
    if (src != SQLITE_DONE) {
        rc = store_fail(s, err, "store: loading skus");
        goto out;
    }
    store_done(st);
    st = NULL;
    if ((rc = sku_models_load(s, arr, cnt, err)) != 0)
        goto out;
    *out = cnt ? arr : NULL;
    *n = cnt;
    if (cnt)
        arr = NULL;
out:
    store_done(st);
    if (scope)
        rc = store_scope_end(s, rc, err);
    if (rc && scope && *out) {
        gpf_free(*out);
        *out = NULL;
        *n = 0;
    }
    gpf_free(arr);
    return rc;
}
