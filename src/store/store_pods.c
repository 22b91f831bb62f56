/* Pods (with their placement's GPUs) and usage records. */
#include "store/store_int.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"

/* ---- pods ----------------------------------------------------------------- */

/* The columns read_pod decodes, in its order. */
#define POD_COLS                                                                                   \
    "id, owner, project, sku, slice_kind, slice_gpu_count, slice_mig_profile,"                     \
    " slice_vgpu_type, slice_share_milli, slice_share_memory_mib, isolation, state, reason,"      \
    " placed, place_host_id, place_mig_profile_id, place_mig_start, place_mig_size,"              \
    " place_share_milli, place_share_memory_mib, place_cpus, place_memory_mib,"                   \
    " place_gpu_milli, device_ids, ssh_host, ssh_port, ssh_user, price_micro_per_hour,"           \
    " created_ms, started_ms, stopped_ms, ssh_pubkey, place_vgpu_type, place_numa_node, image,"   \
    " image_digest, ssh_host_key, isolation_layers"

/* The condition of a live pod: the exact text of the pods_live index's WHERE (migration 9). */
#define POD_LIVE_SQL "state NOT IN ('stopped', 'failed', 'preempted', 'expired', 'lost')"

static void bind_pod(store_binder *b, const void *rec)
{
    const gpf_pod *p = rec;
    const gpf_placement *pl = &p->placement;
    BIND_STR(b, p, id);
    BIND_STR(b, p, owner);
    BIND_STR(b, p, project);
    BIND_STR(b, p, sku);
    store_bind_name(b, "slice.kind", gpf_slice_kind_name(p->slice.kind));
    store_bind_int(b, p->slice.gpu_count);
    BIND_STR(b, p, slice.mig_profile);
    BIND_STR(b, p, slice.vgpu_type);
    store_bind_int(b, p->slice.share_milli);
    store_bind_int(b, p->slice.share_memory_mib);
    store_bind_name(b, "isolation", gpf_isolation_name(p->isolation));
    store_bind_name(b, "state", gpf_pod_state_name(p->state));
    BIND_STR(b, p, reason);
    store_bind_int(b, p->placed);
    BIND_STR(b, pl, host_id);
    store_bind_int(b, pl->mig_profile_id);
    store_bind_int(b, pl->mig_start);
    store_bind_int(b, pl->mig_size);
    store_bind_int(b, pl->share_milli);
    store_bind_int(b, pl->share_memory_mib);
    store_bind_int(b, pl->cpus);
    store_bind_int(b, pl->memory_mib);
    store_bind_int(b, pl->gpu_milli);
    BIND_STR(b, p, device_ids);
    BIND_STR(b, p, ssh_host);
    store_bind_int(b, p->ssh_port);
    BIND_STR(b, p, ssh_user);
    store_bind_int(b, p->price_micro_per_hour);
    store_bind_int(b, p->created_ms);
    store_bind_int(b, p->started_ms);
    store_bind_int(b, p->stopped_ms);
    BIND_STR(b, p, ssh_pubkey);
    BIND_STR(b, pl, vgpu_type);
    store_bind_int(b, pl->numa_node);
    BIND_STR(b, p, image);
    BIND_STR(b, p, image_digest);
    BIND_STR(b, p, ssh_host_key);
    char layers[256];
    gpf_isolation_layers_format(p->isolation_layers, layers, sizeof layers);
    store_bind_copy(b, "isolation_layers", layers);
}

static void read_pod(store_reader *r, void *rec)
{
    gpf_pod *p = rec;
    gpf_placement *pl = &p->placement;
    READ_STR(r, p, id);
    READ_STR(r, p, owner);
    READ_STR(r, p, project);
    READ_STR(r, p, sku);
    p->slice.kind = (gpf_slice_kind)store_read_enum(r, "slice_kind", gpf_slice_kind_parse);
    p->slice.gpu_count = store_read_int(r, "slice_gpu_count");
    READ_STR(r, p, slice.mig_profile);
    READ_STR(r, p, slice.vgpu_type);
    p->slice.share_milli = store_read_int(r, "slice_share_milli");
    p->slice.share_memory_mib = store_read_i64(r);
    p->isolation = (gpf_isolation)store_read_enum(r, "isolation", gpf_isolation_parse);
    p->state = (gpf_pod_state)store_read_enum(r, "state", gpf_pod_state_parse);
    READ_STR(r, p, reason);
    p->placed = store_read_int(r, "placed");
    READ_STR(r, pl, host_id);
    pl->mig_profile_id = store_read_int(r, "place_mig_profile_id");
    pl->mig_start = store_read_int(r, "place_mig_start");
    pl->mig_size = store_read_int(r, "place_mig_size");
    pl->share_milli = store_read_int(r, "place_share_milli");
    pl->share_memory_mib = store_read_i64(r);
    pl->cpus = store_read_int(r, "place_cpus");
    pl->memory_mib = store_read_i64(r);
    pl->gpu_milli = store_read_int(r, "place_gpu_milli");
    READ_STR(r, p, device_ids);
    READ_STR(r, p, ssh_host);
    p->ssh_port = store_read_int(r, "ssh_port");
    READ_STR(r, p, ssh_user);
    p->price_micro_per_hour = store_read_i64(r);
    p->created_ms = store_read_i64(r);
    p->started_ms = store_read_i64(r);
    p->stopped_ms = store_read_i64(r);
    READ_STR(r, p, ssh_pubkey);
    READ_STR(r, pl, vgpu_type);
    pl->numa_node = store_read_int(r, "place_numa_node");
    READ_STR(r, p, image);
    READ_STR(r, p, image_digest);
    READ_STR(r, p, ssh_host_key);
    store_read_bits(r, "isolation_layers", gpf_isolation_layers_parse, &p->isolation_layers);
}

static void bind_pod_gpu(store_binder *b, const void *parent, int pos)
{
    const gpf_placement *pl = &((const gpf_pod *)parent)->placement;
    store_bind_text(b, "placement.gpu_uuids", pl->gpu_uuids[pos], sizeof pl->gpu_uuids[pos]);
    store_bind_int(b, pl->gpu_index[pos]);
}

static int read_pod_gpu(store_reader *r, void *parent, gpf_error *err)
{
    gpf_pod *p = parent;
    gpf_placement *pl = &p->placement;
    if (pl->ngpus >= GPF_MAX_POD_GPUS)
        return gpf_error_set(err, GPF_ESTORE, "store: pod %s has more than %d placed GPUs", p->id,
                             GPF_MAX_POD_GPUS);
    store_read_text(r, "uuid", pl->gpu_uuids[pl->ngpus], sizeof pl->gpu_uuids[pl->ngpus]);
    pl->gpu_index[pl->ngpus] = store_read_int(r, "gpu_index");
    pl->ngpus++;
    return 0;
}

static const store_table pods_table = {
    .name = "pods",
    .elem = sizeof(gpf_pod),
    .put_what = "store: pod_put",
    .put_slot = SLOT_POD_PUT,
    .put_sql = "INSERT INTO pods (id, owner, project, sku, slice_kind, slice_gpu_count,"
               " slice_mig_profile, slice_vgpu_type, slice_share_milli, slice_share_memory_mib,"
               " isolation, state, reason, placed, place_host_id, place_mig_profile_id,"
               " place_mig_start, place_mig_size, place_share_milli, place_share_memory_mib,"
               " place_cpus, place_memory_mib, place_gpu_milli, device_ids, ssh_host, ssh_port,"
               " ssh_user, price_micro_per_hour, created_ms, started_ms, stopped_ms, ssh_pubkey,"
               " place_vgpu_type, place_numa_node, image, image_digest, ssh_host_key, isolation_layers)"
               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
               " ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34,"
               " ?35, ?36, ?37, ?38)"
               " ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, project = excluded.project,"
               " sku = excluded.sku, slice_kind = excluded.slice_kind,"
               " slice_gpu_count = excluded.slice_gpu_count,"
               " slice_mig_profile = excluded.slice_mig_profile,"
               " slice_vgpu_type = excluded.slice_vgpu_type,"
               " slice_share_milli = excluded.slice_share_milli,"
               " slice_share_memory_mib = excluded.slice_share_memory_mib,"
               " isolation = excluded.isolation, state = excluded.state, reason = excluded.reason,"
               " placed = excluded.placed, place_host_id = excluded.place_host_id,"
               " place_mig_profile_id = excluded.place_mig_profile_id,"
               " place_mig_start = excluded.place_mig_start, place_mig_size = excluded.place_mig_size,"
               " place_share_milli = excluded.place_share_milli,"
               " place_share_memory_mib = excluded.place_share_memory_mib,"
               " place_cpus = excluded.place_cpus, place_memory_mib = excluded.place_memory_mib,"
               " place_gpu_milli = excluded.place_gpu_milli, device_ids = excluded.device_ids,"
               " ssh_host = excluded.ssh_host, ssh_port = excluded.ssh_port,"
               " ssh_user = excluded.ssh_user, price_micro_per_hour = excluded.price_micro_per_hour,"
               " created_ms = excluded.created_ms, started_ms = excluded.started_ms,"
               " stopped_ms = excluded.stopped_ms, ssh_pubkey = excluded.ssh_pubkey,"
               " place_vgpu_type = excluded.place_vgpu_type, place_numa_node = excluded.place_numa_node,"
               " image = excluded.image, image_digest = excluded.image_digest,"
               " ssh_host_key = excluded.ssh_host_key, isolation_layers = excluded.isolation_layers",
    .bind = bind_pod,
    .load_slot = SLOT_PODS_LOAD,
    .load_sql = "SELECT " POD_COLS " FROM pods ORDER BY created_ms, id",
    .read = read_pod,
};

/* The placement's GPUs; loaded in the pods' own order (created_ms, id). */
static const store_child_table pod_gpus_table = {
    .name = "pod_gpus",
    .key_col = "pod_gpus.pod_id",
    .key_off = offsetof(gpf_pod, id),
    .delete_slot = SLOT_POD_GPUS_DELETE,
    .delete_sql = "DELETE FROM pod_gpus WHERE pod_id = ?1",
    .insert_slot = SLOT_POD_GPU_INSERT,
    .insert_sql = "INSERT INTO pod_gpus (pod_id, pos, uuid, gpu_index) VALUES (?1, ?2, ?3, ?4)",
    .bind = bind_pod_gpu,
    .load_slot = SLOT_POD_GPUS_LOAD,
    .load_sql = "SELECT g.pod_id, g.uuid, g.gpu_index FROM pod_gpus g JOIN pods p ON p.id = g.pod_id"
                " ORDER BY p.created_ms, p.id, g.pos",
    .read = read_pod_gpu,
    .count_off = offsetof(gpf_pod, placement.ngpus),
};

int sq_pod_put(gpf_store *store, const gpf_pod *p, gpf_error *err)
{
    store_sqlite *s = store->priv;
    if (!p)
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to pod_put");
    if (p->placement.ngpus < 0 || p->placement.ngpus > GPF_MAX_POD_GPUS)
        return gpf_error_set(err, GPF_EINVAL, "store: pod %.64s has %d placed GPUs (at most %d)", p->id,
                             p->placement.ngpus, GPF_MAX_POD_GPUS);
    return store_put(s, &pods_table, p, &pod_gpus_table, err);
}

int sq_pods_load(gpf_store *store, gpf_pod **out, size_t *n, gpf_error *err)
{
    store_sqlite *s = store->priv;
    void *arr = NULL;
    if (!out || !n)
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to pods_load");
    int rc = store_load(s, &pods_table, &pod_gpus_table, &arr, n, err);
    *out = arr;
    return rc;
}

/* ---- pods read by key and by page (final pods live only in the store) ----------- */

/* Prepares sql (built for this call: its variants are many, and reads are not hot enough
 * for each to need a cached statement). */
static int prepare(store_sqlite *s, const char *sql, sqlite3_stmt **st, const char *what, gpf_error *err)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) {
        sqlite3_finalize(*st);
        *st = NULL;
        return store_fail(s, err, what);
    }
    return 0;
}

/* The array a read of at most limit rows (0: no limit) starts with: room for them all when
 * that is a page's worth, so a page is read without growing (and copying) its array. */
static size_t first_cap(size_t limit)
{
    return limit && limit <= 1024 ? limit : 16;
}

/* Steps st into a heap array of elem-sized records, read(r, rec) decoding each row: *out
 * (grown from NULL, first with room for cap0) and *n. The records read before a failure
 * stay for the caller to free. */
static int read_rows(store_sqlite *s, sqlite3_stmt *st, size_t elem, void (*read)(store_reader *r, void *rec),
                     size_t cap0, void **out, size_t *n, const char *what, gpf_error *err)
{
    size_t cap = 0;
    int rc = 0, src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : cap0;
            *out = gpf_reallocarray(*out, cap, elem);
        }
        char *rec = (char *)*out + *n * elem;
        memset(rec, 0, elem);
        (*n)++;
        store_reader r;
        store_read_init(&r, st);
        read(&r, rec);
        if ((rc = store_read_finish(&r, err)) != 0)
            return rc;
    }
    return src == SQLITE_DONE ? 0 : store_fail(s, err, what);
}

/* Pods whose GPUs one statement reads (its ?1..?GPUS_CHUNK; those left over bind NULL,
 * which IN never matches). */
#define GPUS_CHUNK 32
#define Q8 "?, ?, ?, ?, ?, ?, ?, ?" /* anonymous parameters number themselves 1, 2, ... */

/* The pod of pods[0..n) with this id, or NULL. */
static gpf_pod *pod_of(gpf_pod *pods, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(pods[i].id, id) == 0)
            return &pods[i];
    return NULL;
}

/* Appends the placement's GPUs of pods[0..n), n <= GPUS_CHUNK (their pod_gpus rows, by
 * pos), in one statement (one of a single pod: IN's list costs more than it saves there). */
static int read_gpus_chunk(store_sqlite *s, gpf_pod *pods, size_t n, gpf_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = n == 1 ? store_stmt(s, SLOT_POD_GPUS_OF,
                                 "SELECT pod_id, uuid, gpu_index FROM pod_gpus WHERE pod_id = ?1 ORDER BY pos", &st, err)
                    : store_stmt(s, SLOT_POD_GPUS_OF_MANY,
                                 "SELECT pod_id, uuid, gpu_index FROM pod_gpus WHERE pod_id IN (" Q8 ", " Q8 ", " Q8
                                 ", " Q8 ") ORDER BY pod_id, pos",
                                 &st, err);
    int src = SQLITE_DONE;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (sqlite3_bind_text(st, (int)i + 1, pods[i].id, -1, SQLITE_STATIC) != SQLITE_OK)
            rc = store_fail(s, err, "store: reading pod_gpus");
    while (rc == 0 && (src = sqlite3_step(st)) == SQLITE_ROW) {
        char id[GPF_ID_MAX] = "";
        store_reader r;
        store_read_init(&r, st);
        store_read_text(&r, "pod_gpus.pod_id", id, sizeof id);
        gpf_pod *p = pod_of(pods, n, id);
        if (!p)
            rc = gpf_error_set(err, GPF_ESTORE, "store: pod_gpus: a row of a pod not asked for");
        else if ((rc = read_pod_gpu(&r, p, err)) == 0)
            rc = store_read_finish(&r, err);
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = store_fail(s, err, "store: reading pod_gpus");
    store_done(st);
    return rc;
}

/* Steps st (a SELECT of POD_COLS, at most limit rows; 0: no limit) into a heap array of pods
 * with their GPUs, in one scope so pods and GPUs agree. *out NULL and *n 0 when there are
 * none or on failure. */
static int read_pods(store_sqlite *s, sqlite3_stmt *st, size_t limit, gpf_pod **out, size_t *n, gpf_error *err)
{
    void *arr = NULL;
    *n = 0;
    int rc = store_scope_begin(s, err);
    if (rc != 0) {
        *out = NULL;
        return rc;
    }
    rc = read_rows(s, st, sizeof(gpf_pod), read_pod, first_cap(limit), &arr, n, "store: reading pods", err);
    *out = arr;
    sqlite3_reset(st);
    for (size_t i = 0; i < *n && rc == 0; i += GPUS_CHUNK)
        rc = read_gpus_chunk(s, &(*out)[i], *n - i < GPUS_CHUNK ? *n - i : GPUS_CHUNK, err);
    rc = store_scope_end(s, rc, err);
    if (rc != 0) {
        gpf_free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int sq_pod_get(gpf_store *store, const char *id, gpf_pod *out, gpf_error *err)
{
    store_sqlite *s = store->priv;
    sqlite3_stmt *st = NULL;
    gpf_pod *arr = NULL;
    size_t n = 0;
    if (!id || !out)
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to pod_get");
    int rc = store_stmt(s, SLOT_POD_GET, "SELECT " POD_COLS " FROM pods WHERE id = ?1", &st, err);
    if (rc == 0 && sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT) != SQLITE_OK)
        rc = store_fail(s, err, "store: pod_get");
    if (rc == 0)
        rc = read_pods(s, st, 1, &arr, &n, err);
    if (rc == 0 && n == 0)
        rc = gpf_error_set(err, GPF_ENOTFOUND, "store: pod %.64s not found", id);
    if (rc == 0)
        *out = arr[0];
    store_done(st);
    gpf_free(arr);
    return rc;
}

/* 1 when v is set (not NULL, not ""). */
static int given(const char *v)
{
    return v && v[0];
}

/* The statement of pods_query for q's filters, prepared on first use and kept (one per
 * combination of the five: they are few, and a page is read often). */
static int pods_query_stmt(store_sqlite *s, const gpf_pod_query *q, sqlite3_stmt **st, gpf_error *err)
{
    unsigned v = (q->live ? 1u : 0) | (q->has_state ? 2u : 0) | (given(q->owner) ? 4u : 0) |
                 (given(q->after_id) ? 8u : 0) | (q->limit ? 16u : 0);
    *st = s->pods_query[v];
    if (*st)
        return 0;
    /* the text varies only by which filters are set; every value is a bound parameter */
    gpf_buf sql = {0};
    gpf_buf_puts(&sql, "SELECT " POD_COLS " FROM pods WHERE 1");
    if (q->live)
        gpf_buf_puts(&sql, " AND " POD_LIVE_SQL);
    if (q->has_state)
        gpf_buf_puts(&sql, " AND state = ?1");
    if (given(q->owner))
        gpf_buf_puts(&sql, " AND owner = ?2");
    if (given(q->after_id))
        gpf_buf_puts(&sql, " AND (created_ms, id) > (?3, ?4)");
    gpf_buf_puts(&sql, " ORDER BY created_ms, id");
    if (q->limit)
        gpf_buf_puts(&sql, " LIMIT ?5");
    int rc = 0;
    if (sqlite3_prepare_v3(s->db, gpf_buf_cstr(&sql), -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) {
        sqlite3_finalize(*st);
        *st = NULL;
        rc = store_fail(s, err, "store: pods_query");
    }
    s->pods_query[v] = *st;
    gpf_buf_clear(&sql);
    return rc;
}

int sq_pods_query(gpf_store *store, const gpf_pod_query *q, gpf_pod **out, size_t *n, gpf_error *err)
{
    store_sqlite *s = store->priv;
    sqlite3_stmt *st = NULL;
    if (!q || !out || !n)
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to pods_query");
    *out = NULL;
    *n = 0;
    int rc = pods_query_stmt(s, q, &st, err);
    int brc = SQLITE_OK;
    if (rc == 0 && q->has_state)
        brc |= sqlite3_bind_text(st, 1, gpf_pod_state_name(q->state), -1, SQLITE_STATIC);
    if (rc == 0 && given(q->owner))
        brc |= sqlite3_bind_text(st, 2, q->owner, -1, SQLITE_TRANSIENT);
    if (rc == 0 && given(q->after_id))
        brc |= sqlite3_bind_int64(st, 3, q->after_created_ms) | sqlite3_bind_text(st, 4, q->after_id, -1, SQLITE_TRANSIENT);
    if (rc == 0 && q->limit)
        brc |= sqlite3_bind_int64(st, 5, q->limit > INT64_MAX ? INT64_MAX : (int64_t)q->limit);
    if (rc == 0 && brc != SQLITE_OK)
        rc = store_fail(s, err, "store: pods_query");
    if (rc == 0)
        rc = read_pods(s, st, q->limit, out, n, err);
    store_done(st);
    return rc;
}

/* ---- usage ---------------------------------------------------------------- */

/* Binds every column but id, in table order, from parameter 1. */
static void bind_usage(store_binder *b, const void *rec)
{
    const gpf_usage *u = rec;
    BIND_STR(b, u, pod_id);
    BIND_STR(b, u, owner);
    BIND_STR(b, u, project);
    BIND_STR(b, u, sku);
    BIND_STR(b, u, host_id);
    store_bind_name(b, "slice_kind", gpf_slice_kind_name(u->slice_kind));
    store_bind_name(b, "isolation", gpf_isolation_name(u->isolation));
    store_bind_int(b, u->gpu_milli);
    store_bind_int(b, u->price_micro_per_hour);
    store_bind_int(b, u->start_ms);
    store_bind_int(b, u->end_ms);
}

/* bind_usage, then the id (for WHERE id = ?12). */
static void bind_usage_by_id(store_binder *b, const void *rec)
{
    bind_usage(b, rec);
    store_bind_int(b, ((const gpf_usage *)rec)->id);
}

static void read_usage(store_reader *r, void *rec)
{
    gpf_usage *u = rec;
    u->id = store_read_i64(r);
    READ_STR(r, u, pod_id);
    READ_STR(r, u, owner);
    READ_STR(r, u, project);
    READ_STR(r, u, sku);
    READ_STR(r, u, host_id);
    u->slice_kind = (gpf_slice_kind)store_read_enum(r, "slice_kind", gpf_slice_kind_parse);
    u->isolation = (gpf_isolation)store_read_enum(r, "isolation", gpf_isolation_parse);
    u->gpu_milli = store_read_int(r, "gpu_milli");
    u->price_micro_per_hour = store_read_i64(r);
    u->start_ms = store_read_i64(r);
    u->end_ms = store_read_i64(r);
}

/* The columns read_usage decodes, in its order. */
#define USAGE_COLS                                                                        \
    "id, pod_id, owner, project, sku, host_id, slice_kind, isolation, gpu_milli,"        \
    " price_micro_per_hour, start_ms, end_ms"

/* Usage records are never upserted (see usage_insert and usage_update): no put_*. */
static const store_table usage_table = {
    .name = "usage",
    .elem = sizeof(gpf_usage),
    .load_slot = SLOT_USAGE_LOAD,
    .load_sql = "SELECT " USAGE_COLS " FROM usage ORDER BY id",
    .read = read_usage,
};

int sq_usage_insert(gpf_store *store, gpf_usage *u, gpf_error *err)
{
    store_sqlite *s = store->priv;
    int rc = 0;
    sqlite3_stmt *st = NULL;
    store_binder b;
    if (!u) {
        rc = gpf_error_set(err, GPF_EINVAL, "store: bad arguments to usage_insert");
        goto out;
    }
    if ((rc = store_stmt(s, SLOT_USAGE_INSERT,
                         "INSERT INTO usage (pod_id, owner, project, sku, host_id, slice_kind, isolation,"
                         " gpu_milli, price_micro_per_hour, start_ms, end_ms)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING id",
                         &st, err)) != 0)
        goto out;
    store_bind_init(&b, st);
    bind_usage(&b, u);
    if ((rc = store_bind_finish(&b, err)) != 0)
        goto out;
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = store_fail(s, err, "store: usage_insert");
        goto out;
    }
    int64_t id = sqlite3_column_int64(st, 0);
    /* RETURNING rows are produced before the statement finishes: run it to the end. */
    if ((rc = store_step_done(s, st, "store: usage_insert", err)) != 0)
        goto out;
    u->id = id;
out:
    store_done(st);
    return rc;
}

int sq_usage_update(gpf_store *store, const gpf_usage *u, gpf_error *err)
{
    store_sqlite *s = store->priv;
    int rc = 0;
    if (!u)
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to usage_update");
    rc = store_write(s, SLOT_USAGE_UPDATE,
                     "UPDATE usage SET pod_id = ?1, owner = ?2, project = ?3, sku = ?4, host_id = ?5,"
                     " slice_kind = ?6, isolation = ?7, gpu_milli = ?8, price_micro_per_hour = ?9,"
                     " start_ms = ?10, end_ms = ?11 WHERE id = ?12",
                     bind_usage_by_id, u, "store: usage_update", err);
    if (rc == 0 && sqlite3_changes(s->db) == 0)
        rc = gpf_error_set(err, GPF_ENOTFOUND, "store: usage record %lld not found", (long long)u->id);
    return rc;
}

int sq_usage_load(gpf_store *store, gpf_usage **out, size_t *n, gpf_error *err)
{
    store_sqlite *s = store->priv;
    void *arr = NULL;
    if (!out || !n)
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to usage_load");
    int rc = store_load(s, &usage_table, NULL, &arr, n, err);
    *out = arr;
    return rc;
}

int sq_usage_query(gpf_store *store, const gpf_usage_query *q, gpf_usage **out, size_t *n, gpf_error *err)
{
    store_sqlite *s = store->priv;
    sqlite3_stmt *st = NULL;
    gpf_buf sql = {0};
    void *arr = NULL;
    if (!q || !out || !n)
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to usage_query");
    *out = NULL;
    *n = 0;
    gpf_buf_puts(&sql, "SELECT " USAGE_COLS " FROM usage WHERE id > ?1");
    if (q->open)
        gpf_buf_puts(&sql, " AND end_ms = 0");
    if (given(q->owner))
        gpf_buf_puts(&sql, " AND owner = ?2");
    if (given(q->pod_id))
        gpf_buf_puts(&sql, " AND pod_id = ?3");
    gpf_buf_puts(&sql, " ORDER BY id");
    if (q->limit)
        gpf_buf_puts(&sql, " LIMIT ?4");
    int rc = prepare(s, gpf_buf_cstr(&sql), &st, "store: usage_query", err);
    int brc = SQLITE_OK;
    if (rc == 0)
        brc |= sqlite3_bind_int64(st, 1, q->after_id);
    if (rc == 0 && given(q->owner))
        brc |= sqlite3_bind_text(st, 2, q->owner, -1, SQLITE_TRANSIENT);
    if (rc == 0 && given(q->pod_id))
        brc |= sqlite3_bind_text(st, 3, q->pod_id, -1, SQLITE_TRANSIENT);
    if (rc == 0 && q->limit)
        brc |= sqlite3_bind_int64(st, 4, q->limit > INT64_MAX ? INT64_MAX : (int64_t)q->limit);
    if (rc == 0 && brc != SQLITE_OK)
        rc = store_fail(s, err, "store: usage_query");
    if (rc == 0)
        rc = read_rows(s, st, sizeof(gpf_usage), read_usage, first_cap(q->limit), &arr, n, "store: usage_query", err);
    *out = arr;
    sqlite3_finalize(st);
    gpf_buf_clear(&sql);
    if (rc != 0) {
        gpf_free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* Runs sql (one row of one integer) into *v. */
static int count_one(store_sqlite *s, const char *sql, int64_t *v, gpf_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, sql, &st, "store: history_counts", err);
    if (rc == 0 && sqlite3_step(st) != SQLITE_ROW)
        rc = store_fail(s, err, "store: history_counts");
    if (rc == 0)
        *v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

int sq_history_counts(gpf_store *store, gpf_store_counts *out, gpf_error *err)
{
    store_sqlite *s = store->priv;
    sqlite3_stmt *st = NULL;
    int src = SQLITE_DONE;
    int64_t open = 0;
    if (!out)
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to history_counts");
    memset(out, 0, sizeof *out);
    int rc = store_scope_begin(s, err);
    if (rc != 0)
        return rc;
    if ((rc = prepare(s, "SELECT state, count(*) FROM pods GROUP BY state", &st, "store: history_counts", err)) != 0)
        goto out;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int state = name ? gpf_pod_state_parse(name) : -1;
        if (state < 0 || state > GPF_POD_LOST) {
            rc = gpf_error_set(err, GPF_ESTORE, "store: pods: unknown state in a row");
            goto out;
        }
        out->pods[state] = sqlite3_column_int64(st, 1);
    }
    if (src != SQLITE_DONE) {
        rc = store_fail(s, err, "store: history_counts");
        goto out;
    }
    if ((rc = count_one(s, "SELECT count(*) FROM usage", &out->usage_records, err)) != 0 ||
        (rc = count_one(s, "SELECT count(*) FROM usage WHERE end_ms = 0", &open, err)) != 0)
        goto out;
    out->usage_closed = out->usage_records - open;
out:
    sqlite3_finalize(st);
    return store_scope_end(s, rc, err);
}
