/* Hosts (with their GPUs) and SKUs (with their models). */
#include "store/store_int.h"

#include <stddef.h>

/* ---- hosts and GPUs --------------------------------------------------------- */

static void bind_host(store_binder *b, const void *rec)
{
    const gpf_host_rec *h = rec;
    BIND_STR(b, h, id);
    BIND_STR(b, h, address);
    BIND_STR(b, h, deploy_mode);
    BIND_STR(b, h, backend);
    BIND_STR(b, h, runtime);
    BIND_STR(b, h, agent_version);
    store_bind_int(b, h->cpus);
    store_bind_int(b, h->memory_mib);
    store_bind_int(b, h->numa_nodes);
    store_bind_name(b, "state", gpf_host_state_name(h->state));
    store_bind_int(b, h->registered_ms);
    store_bind_int(b, h->last_heartbeat_ms);
    store_bind_name(b, "preflight", gpf_preflight_name(h->preflight));
    store_bind_int(b, h->preflight_ms);
    store_bind_int(b, h->override);
    BIND_STR(b, h, override_by);
    BIND_STR(b, h, override_reason);
    store_bind_int(b, h->override_ms);
    store_bind_name(b, "isolation_max", gpf_isolation_name(h->isolation_max));
    store_bind_int(b, h->max_pods);
    store_bind_int(b, h->rekey_ms);
    BIND_STR(b, h, rekey_by);
}

static void read_host(store_reader *r, void *rec)
{
    gpf_host_rec *h = rec;
    READ_STR(r, h, id);
    READ_STR(r, h, address);
    READ_STR(r, h, deploy_mode);
    READ_STR(r, h, backend);
    READ_STR(r, h, runtime);
    READ_STR(r, h, agent_version);
    h->cpus = store_read_int(r, "cpus");
    h->memory_mib = store_read_i64(r);
    h->numa_nodes = store_read_int(r, "numa_nodes");
    h->state = (gpf_host_state)store_read_enum(r, "state", gpf_host_state_parse);
    h->registered_ms = store_read_i64(r);
    h->last_heartbeat_ms = store_read_i64(r);
    h->preflight = (gpf_preflight_verdict)store_read_enum(r, "preflight", gpf_preflight_parse);
    h->preflight_ms = store_read_i64(r);
    h->override = store_read_int(r, "override");
    READ_STR(r, h, override_by);
    READ_STR(r, h, override_reason);
    h->override_ms = store_read_i64(r);
    h->isolation_max = (gpf_isolation)store_read_enum(r, "isolation_max", gpf_isolation_parse);
    h->max_pods = store_read_int(r, "max_pods");
    h->rekey_ms = store_read_i64(r);
    READ_STR(r, h, rekey_by);
}

static void bind_gpu(store_binder *b, const void *parent, int pos)
{
    const gpf_gpu_rec *g = &((const gpf_host_rec *)parent)->gpus[pos];
    BIND_STR(b, g, uuid);
    store_bind_int(b, g->index);
    BIND_STR(b, g, model);
    BIND_STR(b, g, name);
    BIND_STR(b, g, pci_bus_id);
    store_bind_int(b, g->numa_node);
    store_bind_int(b, g->memory_mib);
    store_bind_int(b, g->mig_enabled);
}

static int read_gpu(store_reader *r, void *parent, gpf_error *err)
{
    gpf_host_rec *h = parent;
    if (h->ngpus >= GPF_MAX_HOST_GPUS)
        return gpf_error_set(err, GPF_ESTORE, "store: host %s has more than %d GPUs", h->id, GPF_MAX_HOST_GPUS);
    gpf_gpu_rec *g = &h->gpus[h->ngpus++];
    READ_STR(r, g, uuid);
    g->index = store_read_int(r, "gpu_index");
    READ_STR(r, g, model);
    READ_STR(r, g, name);
    READ_STR(r, g, pci_bus_id);
    g->numa_node = store_read_int(r, "numa_node");
    g->memory_mib = store_read_i64(r);
    g->mig_enabled = store_read_int(r, "mig_enabled");
    return 0;
}

static const store_table hosts_table = {
    .name = "hosts",
    .elem = sizeof(gpf_host_rec),
    .put_what = "store: host_put",
    .put_slot = SLOT_HOST_PUT,
    .put_sql = "INSERT INTO hosts (id, address, deploy_mode, backend, runtime, agent_version, cpus,"
               " memory_mib, numa_nodes, state, registered_ms, last_heartbeat_ms, preflight, preflight_ms,"
               " override, override_by, override_reason, override_ms, isolation_max, max_pods, rekey_ms, rekey_by)"
               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,"
               " ?21, ?22)"
               " ON CONFLICT (id) DO UPDATE SET address = excluded.address,"
               " deploy_mode = excluded.deploy_mode, backend = excluded.backend,"
               " runtime = excluded.runtime, agent_version = excluded.agent_version,"
               " cpus = excluded.cpus, memory_mib = excluded.memory_mib,"
               " numa_nodes = excluded.numa_nodes, state = excluded.state,"
               " registered_ms = excluded.registered_ms,"
               " last_heartbeat_ms = excluded.last_heartbeat_ms, preflight = excluded.preflight,"
               " preflight_ms = excluded.preflight_ms, override = excluded.override,"
               " override_by = excluded.override_by, override_reason = excluded.override_reason,"
               " override_ms = excluded.override_ms, isolation_max = excluded.isolation_max,"
               " max_pods = excluded.max_pods, rekey_ms = excluded.rekey_ms, rekey_by = excluded.rekey_by",
    .bind = bind_host,
    .load_slot = SLOT_HOSTS_LOAD,
    .load_sql = "SELECT id, address, deploy_mode, backend, runtime, agent_version, cpus, memory_mib,"
                " numa_nodes, state, registered_ms, last_heartbeat_ms, preflight, preflight_ms, override,"
                " override_by, override_reason, override_ms, isolation_max, max_pods, rekey_ms, rekey_by FROM hosts"
                " ORDER BY id",
    .read = read_host,
};

static void bind_finding(store_binder *b, const void *parent, int pos)
{
    const gpf_host_finding *f = &((const gpf_host_rec *)parent)->findings[pos];
    store_bind_text(b, "check", f->check, sizeof f->check);
    store_bind_name(b, "level", gpf_preflight_name(f->level));
    store_bind_int(b, f->gpu);
    BIND_STR(b, f, detail);
    BIND_STR(b, f, fix);
}

static int read_finding(store_reader *r, void *parent, gpf_error *err)
{
    gpf_host_rec *h = parent;
    if (h->nfindings >= GPF_MAX_HOST_FINDINGS)
        return gpf_error_set(err, GPF_ESTORE, "store: host %s has more than %d findings", h->id,
                             GPF_MAX_HOST_FINDINGS);
    gpf_host_finding *f = &h->findings[h->nfindings++];
    store_read_text(r, "check", f->check, sizeof f->check);
    f->level = (gpf_preflight_verdict)store_read_enum(r, "level", gpf_preflight_parse);
    f->gpu = store_read_int(r, "gpu");
    READ_STR(r, f, detail);
    READ_STR(r, f, fix);
    return 0;
}

static const store_child_table findings_table = {
    .name = "host_findings",
    .key_col = "host_findings.host_id",
    .key_off = offsetof(gpf_host_rec, id),
    .delete_slot = SLOT_FINDINGS_DELETE,
    .delete_sql = "DELETE FROM host_findings WHERE host_id = ?1",
    .insert_slot = SLOT_FINDING_INSERT,
    .insert_sql = "INSERT INTO host_findings (host_id, idx, check_name, level, gpu, detail, fix)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    .bind = bind_finding,
    .load_slot = SLOT_FINDINGS_LOAD,
    .load_sql = "SELECT host_id, check_name, level, gpu, detail, fix FROM host_findings ORDER BY host_id, idx",
    .read = read_finding,
    .count_off = offsetof(gpf_host_rec, nfindings),
};

/* idx: the position in the host's list. */
static const store_child_table gpus_table = {
    .name = "gpus",
    .key_col = "gpus.host_id",
    .key_off = offsetof(gpf_host_rec, id),
    .delete_slot = SLOT_GPUS_DELETE,
    .delete_sql = "DELETE FROM gpus WHERE host_id = ?1",
    .insert_slot = SLOT_GPU_INSERT,
    .insert_sql = "INSERT INTO gpus (host_id, idx, uuid, gpu_index, model, name, pci_bus_id,"
                  " numa_node, memory_mib, mig_enabled)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    .bind = bind_gpu,
    .load_slot = SLOT_GPUS_LOAD,
    .load_sql = "SELECT host_id, uuid, gpu_index, model, name, pci_bus_id, numa_node, memory_mib,"
                " mig_enabled FROM gpus ORDER BY host_id, idx",
    .read = read_gpu,
    .count_off = offsetof(gpf_host_rec, ngpus),
    .next = &findings_table,
};

int sq_host_put(gpf_store *store, const gpf_host_rec *h, gpf_error *err)
{
    store_sqlite *s = store->priv;
    if (!h)
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to host_put");
    if (h->ngpus < 0 || h->ngpus > GPF_MAX_HOST_GPUS)
        return gpf_error_set(err, GPF_EINVAL, "store: host %.64s has %d GPUs (at most %d)", h->id, h->ngpus,
                             GPF_MAX_HOST_GPUS);
    if (h->nfindings < 0 || h->nfindings > GPF_MAX_HOST_FINDINGS)
        return gpf_error_set(err, GPF_EINVAL, "store: host %.64s has %d findings (at most %d)", h->id,
                             h->nfindings, GPF_MAX_HOST_FINDINGS);
    return store_put(s, &hosts_table, h, &gpus_table, err);
}

int sq_hosts_load(gpf_store *store, gpf_host_rec **out, size_t *n, gpf_error *err)
{
    store_sqlite *s = store->priv;
    void *arr = NULL;
    if (!out || !n)
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to hosts_load");
    int rc = store_load(s, &hosts_table, &gpus_table, &arr, n, err);
    *out = arr;
    return rc;
}

/* ---- SKUs --------------------------------------------------------------------- */

static void bind_sku(store_binder *b, const void *rec)
{
    const gpf_sku *k = rec;
    BIND_STR(b, k, name);
    BIND_STR(b, k, description);
    store_bind_name(b, "slice.kind", gpf_slice_kind_name(k->slice.kind));
    store_bind_int(b, k->slice.gpu_count);
    BIND_STR(b, k, slice.mig_profile);
    BIND_STR(b, k, slice.vgpu_type);
    store_bind_int(b, k->slice.share_milli);
    store_bind_int(b, k->slice.share_memory_mib);
    store_bind_int(b, k->cpus);
    store_bind_int(b, k->memory_mib);
    store_bind_int(b, k->ttl_s);
    store_bind_int(b, k->idle_timeout_s);
    store_bind_int(b, k->price_micro_per_hour);
    BIND_STR(b, k, license_feature);
    BIND_STR(b, k, env);
    store_bind_int(b, k->created_ms);
    store_bind_int(b, k->updated_ms);
    BIND_STR(b, k, image);
    store_bind_name(b, "min_isolation", gpf_isolation_name(k->min_isolation));
}

static void read_sku(store_reader *r, void *rec)
{
    gpf_sku *k = rec;
    READ_STR(r, k, name);
    READ_STR(r, k, description);
    k->slice.kind = (gpf_slice_kind)store_read_enum(r, "slice_kind", gpf_slice_kind_parse);
    k->slice.gpu_count = store_read_int(r, "slice_gpu_count");
    READ_STR(r, k, slice.mig_profile);
    READ_STR(r, k, slice.vgpu_type);
    k->slice.share_milli = store_read_int(r, "slice_share_milli");
    k->slice.share_memory_mib = store_read_i64(r);
    k->cpus = store_read_int(r, "cpus");
    k->memory_mib = store_read_i64(r);
    k->ttl_s = store_read_i64(r);
    k->idle_timeout_s = store_read_i64(r);
    k->price_micro_per_hour = store_read_i64(r);
    READ_STR(r, k, license_feature);
    READ_STR(r, k, env);
    k->created_ms = store_read_i64(r);
    k->updated_ms = store_read_i64(r);
    READ_STR(r, k, image);
    k->min_isolation = (gpf_isolation)store_read_enum(r, "min_isolation", gpf_isolation_parse);
}

static void bind_sku_model(store_binder *b, const void *parent, int pos)
{
    const gpf_sku *k = parent;
    store_bind_text(b, "models", k->models[pos], sizeof k->models[pos]);
}

static int read_sku_model(store_reader *r, void *parent, gpf_error *err)
{
    gpf_sku *k = parent;
    if (k->nmodels >= GPF_MAX_SKU_MODELS)
        return gpf_error_set(err, GPF_ESTORE, "store: sku %s has more than %d models", k->name,
                             GPF_MAX_SKU_MODELS);
    store_read_text(r, "model", k->models[k->nmodels], sizeof k->models[k->nmodels]);
    k->nmodels++;
    return 0;
}

static const store_table skus_table = {
    .name = "skus",
    .elem = sizeof(gpf_sku),
    .put_what = "store: sku_put",
    .put_slot = SLOT_SKU_PUT,
    .put_sql = "INSERT INTO skus (name, description, slice_kind, slice_gpu_count, slice_mig_profile,"
               " slice_vgpu_type, slice_share_milli, slice_share_memory_mib, cpus, memory_mib, ttl_s,"
               " idle_timeout_s, price_micro_per_hour, license_feature, env, created_ms, updated_ms, image,"
               " min_isolation)"
               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
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
               " created_ms = excluded.created_ms, updated_ms = excluded.updated_ms,"
               " image = excluded.image, min_isolation = excluded.min_isolation",
    .bind = bind_sku,
    .load_slot = SLOT_SKUS_LOAD,
    .load_sql = "SELECT name, description, slice_kind, slice_gpu_count, slice_mig_profile,"
                " slice_vgpu_type, slice_share_milli, slice_share_memory_mib, cpus, memory_mib, ttl_s,"
                " idle_timeout_s, price_micro_per_hour, license_feature, env, created_ms, updated_ms, image,"
                " min_isolation FROM skus ORDER BY name",
    .read = read_sku,
};

static const store_child_table sku_models_table = {
    .name = "sku_models",
    .key_col = "sku_models.sku",
    .key_off = offsetof(gpf_sku, name),
    .delete_slot = SLOT_SKU_MODELS_DELETE,
    .delete_sql = "DELETE FROM sku_models WHERE sku = ?1",
    .insert_slot = SLOT_SKU_MODEL_INSERT,
    .insert_sql = "INSERT INTO sku_models (sku, pos, model) VALUES (?1, ?2, ?3)",
    .bind = bind_sku_model,
    .load_slot = SLOT_SKU_MODELS_LOAD,
    .load_sql = "SELECT sku, model FROM sku_models ORDER BY sku, pos",
    .read = read_sku_model,
    .count_off = offsetof(gpf_sku, nmodels),
};

int sq_sku_put(gpf_store *store, const gpf_sku *k, gpf_error *err)
{
    store_sqlite *s = store->priv;
    if (!k)
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to sku_put");
    if (k->nmodels < 0 || k->nmodels > GPF_MAX_SKU_MODELS)
        return gpf_error_set(err, GPF_EINVAL, "store: sku %.64s has %d models (at most %d)", k->name,
                             k->nmodels, GPF_MAX_SKU_MODELS);
    return store_put(s, &skus_table, k, &sku_models_table, err);
}

int sq_sku_delete(gpf_store *store, const char *name, gpf_error *err)
{
    store_sqlite *s = store->priv;
    return store_delete_key(s, SLOT_SKU_DELETE, "DELETE FROM skus WHERE name = ?1", "sku", name, err);
}

int sq_skus_load(gpf_store *store, gpf_sku **out, size_t *n, gpf_error *err)
{
    store_sqlite *s = store->priv;
    void *arr = NULL;
    if (!out || !n)
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to skus_load");
    int rc = store_load(s, &skus_table, &sku_models_table, &arr, n, err);
    *out = arr;
    return rc;
}
