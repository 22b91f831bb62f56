/* Numbered schema migrations and the runner that applies them at open.
 *
 * Rules: never edit a migration that has shipped; add a new one with the next version.
 * Enums are stored by name (gpf_*_name) so the database reads well in the sqlite3 shell.
 * Lists live in child tables keyed by (parent, pos) so order and content round-trip. */
#include "store/store_int.h"

#include "util/timeutil.h"

static const char v1_sql[] =
    "CREATE TABLE settings (\n"
    "  key   TEXT PRIMARY KEY,\n"
    "  value TEXT NOT NULL\n"
    ") STRICT;\n"

    "CREATE TABLE hosts (\n"
    "  id                TEXT PRIMARY KEY,\n"
    "  address           TEXT NOT NULL,\n"
    "  deploy_mode       TEXT NOT NULL,\n"
    "  backend           TEXT NOT NULL,\n"
    "  runtime           TEXT NOT NULL,\n"
    "  agent_version     TEXT NOT NULL,\n"
    "  cpus              INTEGER NOT NULL,\n"
    "  memory_mib        INTEGER NOT NULL,\n"
    "  numa_nodes        INTEGER NOT NULL,\n"
    "  state             TEXT NOT NULL,\n"
    "  registered_ms     INTEGER NOT NULL,\n"
    "  last_heartbeat_ms INTEGER NOT NULL\n"
    ") STRICT;\n"

    /* idx: position in the host's list; gpu_index: the GPU's index on its host. */
    "CREATE TABLE gpus (\n"
    "  host_id     TEXT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,\n"
    "  idx         INTEGER NOT NULL,\n"
    "  uuid        TEXT NOT NULL,\n"
    "  gpu_index   INTEGER NOT NULL,\n"
    "  model       TEXT NOT NULL,\n"
    "  name        TEXT NOT NULL,\n"
    "  pci_bus_id  TEXT NOT NULL,\n"
    "  numa_node   INTEGER NOT NULL,\n"
    "  memory_mib  INTEGER NOT NULL,\n"
    "  mig_enabled INTEGER NOT NULL,\n"
    "  PRIMARY KEY (host_id, idx)\n"
    ") STRICT;\n"

    "CREATE TABLE skus (\n"
    "  name                   TEXT PRIMARY KEY,\n"
    "  description            TEXT NOT NULL,\n"
    "  slice_kind             TEXT NOT NULL,\n"
    "  slice_gpu_count        INTEGER NOT NULL,\n"
    "  slice_mig_profile      TEXT NOT NULL,\n"
    "  slice_vgpu_type        TEXT NOT NULL,\n"
    "  slice_share_milli      INTEGER NOT NULL,\n"
    "  slice_share_memory_mib INTEGER NOT NULL,\n"
    "  cpus                   INTEGER NOT NULL,\n"
    "  memory_mib             INTEGER NOT NULL,\n"
    "  ttl_s                  INTEGER NOT NULL,\n"
    "  idle_timeout_s         INTEGER NOT NULL,\n"
    "  price_micro_per_hour   INTEGER NOT NULL,\n"
    "  license_feature        TEXT NOT NULL,\n"
    "  env                    TEXT NOT NULL,\n"
    "  created_ms             INTEGER NOT NULL,\n"
    "  updated_ms             INTEGER NOT NULL\n"
    ") STRICT;\n"

    "CREATE TABLE sku_models (\n"
    "  sku   TEXT NOT NULL REFERENCES skus (name) ON DELETE CASCADE,\n"
    "  pos   INTEGER NOT NULL,\n"
    "  model TEXT NOT NULL,\n"
    "  PRIMARY KEY (sku, pos)\n"
    ") STRICT;\n"

    "CREATE TABLE users (\n"
    "  name       TEXT PRIMARY KEY,\n"
    "  role       TEXT NOT NULL,\n"
    "  team       TEXT NOT NULL,\n"
    "  ssh_pubkey TEXT NOT NULL,\n"
    "  created_ms INTEGER NOT NULL\n"
    ") STRICT;\n"

    "CREATE TABLE tokens (\n"
    "  id         TEXT PRIMARY KEY,\n"
    "  user_name  TEXT NOT NULL,\n"
    "  host_id    TEXT NOT NULL,\n"
    "  hash       TEXT NOT NULL,\n"
    "  created_ms INTEGER NOT NULL\n"
    ") STRICT;\n"

    "CREATE TABLE pods (\n"
    "  id                     TEXT PRIMARY KEY,\n"
    "  owner                  TEXT NOT NULL,\n"
    "  project                TEXT NOT NULL,\n"
    "  sku                    TEXT NOT NULL,\n"
    "  slice_kind             TEXT NOT NULL,\n"
    "  slice_gpu_count        INTEGER NOT NULL,\n"
    "  slice_mig_profile      TEXT NOT NULL,\n"
    "  slice_vgpu_type        TEXT NOT NULL,\n"
    "  slice_share_milli      INTEGER NOT NULL,\n"
    "  slice_share_memory_mib INTEGER NOT NULL,\n"
    "  isolation              TEXT NOT NULL,\n"
    "  state                  TEXT NOT NULL,\n"
    "  reason                 TEXT NOT NULL,\n"
    "  placed                 INTEGER NOT NULL,\n"
    "  place_host_id          TEXT NOT NULL,\n"
    "  place_mig_profile_id   INTEGER NOT NULL,\n"
    "  place_mig_start        INTEGER NOT NULL,\n"
    "  place_mig_size         INTEGER NOT NULL,\n"
    "  place_share_milli      INTEGER NOT NULL,\n"
    "  place_share_memory_mib INTEGER NOT NULL,\n"
    "  place_cpus             INTEGER NOT NULL,\n"
    "  place_memory_mib       INTEGER NOT NULL,\n"
    "  place_gpu_milli        INTEGER NOT NULL,\n"
    "  device_ids             TEXT NOT NULL,\n"
    "  ssh_host               TEXT NOT NULL,\n"
    "  ssh_port               INTEGER NOT NULL,\n"
    "  ssh_user               TEXT NOT NULL,\n"
    "  price_micro_per_hour   INTEGER NOT NULL,\n"
    "  created_ms             INTEGER NOT NULL,\n"
    "  started_ms             INTEGER NOT NULL,\n"
    "  stopped_ms             INTEGER NOT NULL,\n"
    "  ssh_pubkey             TEXT NOT NULL\n"
    ") STRICT;\n"
    "CREATE INDEX pods_by_created ON pods (created_ms, id);\n"

    /* The placement's GPUs, in order: pos 0 .. placement.ngpus-1. */
    "CREATE TABLE pod_gpus (\n"
    "  pod_id    TEXT NOT NULL REFERENCES pods (id) ON DELETE CASCADE,\n"
    "  pos       INTEGER NOT NULL,\n"
    "  uuid      TEXT NOT NULL,\n"
    "  gpu_index INTEGER NOT NULL,\n"
    "  PRIMARY KEY (pod_id, pos)\n"
    ") STRICT;\n"

    /* AUTOINCREMENT: ids only ever grow, never reused. */
    "CREATE TABLE usage (\n"
    "  id                   INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  pod_id               TEXT NOT NULL,\n"
    "  owner                TEXT NOT NULL,\n"
    "  project              TEXT NOT NULL,\n"
    "  sku                  TEXT NOT NULL,\n"
    "  host_id              TEXT NOT NULL,\n"
    "  slice_kind           TEXT NOT NULL,\n"
    "  isolation            TEXT NOT NULL,\n"
    "  gpu_milli            INTEGER NOT NULL,\n"
    "  price_micro_per_hour INTEGER NOT NULL,\n"
    "  start_ms             INTEGER NOT NULL,\n"
    "  end_ms               INTEGER NOT NULL\n"
    ") STRICT;\n"
    "CREATE INDEX usage_by_pod ON usage (pod_id);\n";

/* vGPU placement: the type a pod's placement booked. */
static const char v2_sql[] = "ALTER TABLE pods ADD COLUMN place_vgpu_type TEXT NOT NULL DEFAULT '';\n";

/* NUMA alignment: the node a placement's CPUs are booked on (-1 = not tied to one). */
static const char v3_sql[] = "ALTER TABLE pods ADD COLUMN place_numa_node INTEGER NOT NULL DEFAULT -1;\n";

/* Host preflight (verdict, findings, operator override) and the fleet's event log. */
static const char v4_sql[] =
    "ALTER TABLE hosts ADD COLUMN preflight TEXT NOT NULL DEFAULT 'unknown';\n"
    "ALTER TABLE hosts ADD COLUMN preflight_ms INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE hosts ADD COLUMN override INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE hosts ADD COLUMN override_by TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE hosts ADD COLUMN override_reason TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE hosts ADD COLUMN override_ms INTEGER NOT NULL DEFAULT 0;\n"
    "CREATE TABLE host_findings (\n"
    "  host_id    TEXT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,\n"
    "  idx        INTEGER NOT NULL,\n"
    "  check_name TEXT NOT NULL,\n"
    "  level      TEXT NOT NULL,\n"
    "  gpu        INTEGER NOT NULL,\n"
    "  detail     TEXT NOT NULL,\n"
    "  fix        TEXT NOT NULL,\n"
    "  PRIMARY KEY (host_id, idx)\n"
    ") STRICT;\n"
    "CREATE TABLE events (\n"
    "  id       INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  at_ms    INTEGER NOT NULL,\n"
    "  kind     TEXT NOT NULL,\n"
    "  severity TEXT NOT NULL,\n"
    "  host_id  TEXT NOT NULL,\n"
    "  pod_id   TEXT NOT NULL,\n"
    "  subject  TEXT NOT NULL,\n"
    "  detail   TEXT NOT NULL\n"
    ") STRICT;\n"
    "CREATE INDEX events_by_host ON events (host_id, id);\n"
    "CREATE INDEX events_by_pod ON events (pod_id, id);\n";

/* Images (issue 14): the image registry; SKUs name an image and the isolation they need
 * (SKUs from before get "soft", which every host gives, so nothing that placed before is
 * refused now); hosts the isolation their runtime gives at most (known hosts: what their
 * runtime gives by default, until they register again); pods their image, the host key of
 * their sshd and the isolation layers their agent reported. */
static const char v5_sql[] =
    "CREATE TABLE images (\n"
    "  name       TEXT PRIMARY KEY,\n"
    "  digest     TEXT NOT NULL,\n"
    "  size_bytes INTEGER NOT NULL,\n"
    "  source     TEXT NOT NULL,\n"
    "  created_ms INTEGER NOT NULL\n"
    ") STRICT;\n"
    "ALTER TABLE skus ADD COLUMN image TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE skus ADD COLUMN min_isolation TEXT NOT NULL DEFAULT 'soft';\n"
    "ALTER TABLE hosts ADD COLUMN isolation_max TEXT NOT NULL DEFAULT 'soft';\n"
    "UPDATE hosts SET isolation_max = 'hardware' WHERE runtime IN ('fake', 'oci');\n"
    "ALTER TABLE pods ADD COLUMN image TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE pods ADD COLUMN image_digest TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE pods ADD COLUMN ssh_host_key TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE pods ADD COLUMN isolation_layers TEXT NOT NULL DEFAULT '';\n";

/* v6: hosts the most pods their agent runs (0 = not stated: gpf_host_pods_max). */
static const char v6_sql[] = "ALTER TABLE hosts ADD COLUMN max_pods INTEGER NOT NULL DEFAULT 0;\n";

/* v7 (issue 16): join tokens as records (the secret's hash, who made it, an optional expiry
 * and use count, revocation); the serve's one join token (the setting join_token_hash) becomes
 * the record "initial"; hosts get an operator's pending re-key, which every host known at the
 * upgrade gets once (by "upgrade"): its agent kept no token of its own before, so its next
 * start registers with the join token. */
static const char v7_sql[] =
    "CREATE TABLE join_tokens (\n"
    "  id           TEXT PRIMARY KEY,\n"
    "  name         TEXT NOT NULL,\n"
    "  hash         TEXT NOT NULL,\n"
    "  created_by   TEXT NOT NULL,\n"
    "  created_ms   INTEGER NOT NULL,\n"
    "  expires_ms   INTEGER NOT NULL,\n"
    "  uses_left    INTEGER NOT NULL,\n"
    "  uses         INTEGER NOT NULL,\n"
    "  last_used_ms INTEGER NOT NULL,\n"
    "  revoked_ms   INTEGER NOT NULL\n"
    ") STRICT;\n"
    "INSERT INTO join_tokens (id, name, hash, created_by, created_ms, expires_ms, uses_left, uses, last_used_ms,"
    " revoked_ms) SELECT 'join-initial', 'initial', value, 'serve', 0, 0, -1, 0, 0, 0 FROM settings"
    " WHERE key = 'join_token_hash';\n"
    "DELETE FROM settings WHERE key = 'join_token_hash';\n"
    "ALTER TABLE hosts ADD COLUMN rekey_ms INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE hosts ADD COLUMN rekey_by TEXT NOT NULL DEFAULT '';\n"
    /* their agents kept no token before: each may come back once with the join token */
    "UPDATE hosts SET rekey_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), rekey_by = 'upgrade';\n";

/* v8 (issue 16): the credential lifecycle: users can be disabled and deleted (the row stays,
 * its name reserved, for the history that names it); tokens get a name, an expiry, the
 * last time they were used (written at most once a minute) and when they were revoked. */
static const char v8_sql[] =
    "ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE users ADD COLUMN deleted_ms INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE tokens ADD COLUMN name TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE tokens ADD COLUMN expires_ms INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE tokens ADD COLUMN last_used_ms INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE tokens ADD COLUMN revoked_ms INTEGER NOT NULL DEFAULT 0;\n";

/* v9 (issue 16): final pods and closed usage live only in the store, so the queries that
 * read them page by key: the live pods (start-up), pods by state and by owner, open usage
 * (start-up) and usage by owner. The live-pod index's WHERE is the exact text the store's
 * queries use (SQLite uses a partial index only when the query repeats its condition). */
static const char v9_sql[] =
    "CREATE INDEX pods_live ON pods (created_ms, id)"
    " WHERE state NOT IN ('stopped', 'failed', 'preempted', 'expired', 'lost');\n"
    "CREATE INDEX pods_by_state ON pods (state, created_ms, id);\n"
    "CREATE INDEX pods_by_owner ON pods (owner, created_ms, id);\n"
    "CREATE INDEX usage_open ON usage (id) WHERE end_ms = 0;\n"
    "CREATE INDEX usage_by_owner ON usage (owner, id);\n";

static const gpf_store_migration builtin[] = {
    {1, "hosts, gpus, skus, users, tokens, pods, usage, settings", v1_sql},
    {2, "pods.place_vgpu_type", v2_sql},
    {3, "pods.place_numa_node", v3_sql},
    {4, "hosts.preflight and override, host_findings, events", v4_sql},
    {5, "images; skus.image and min_isolation; hosts.isolation_max; pods.image, host key, layers", v5_sql},
    {6, "hosts.max_pods", v6_sql},
    {7, "join_tokens (from the join_token_hash setting); hosts.rekey_ms, rekey_by", v7_sql},
    {8, "users.disabled, deleted_ms; tokens.name, expires_ms, last_used_ms, revoked_ms", v8_sql},
    {9, "indexes for paged pods and usage (live pods, by state, by owner; open usage)", v9_sql},
};

const gpf_store_migration *gpf_store_migrations(size_t *n)
{
    if (n)
        *n = sizeof builtin / sizeof builtin[0];
    return builtin;
}

/* Highest applied version (0 for a fresh database). */
static int applied_version(store_sqlite *s, int *version, gpf_error *err)
{
    int rc = 0;
    sqlite3_stmt *st = NULL;
    *version = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(version), 0) FROM schema_migrations", -1, &st,
                           NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = store_fail(s, err, "store: reading schema version");
        goto out;
    }
    int64_t v = sqlite3_column_int64(st, 0);
    if (v < 0 || v > INT32_MAX) {
        rc = gpf_error_set(err, GPF_ESTORE, "store: bad schema version %lld", (long long)v);
        goto out;
    }
    *version = (int)v;
out:
    sqlite3_finalize(st);
    return rc;
}

static int record(store_sqlite *s, const gpf_store_migration *m, gpf_error *err)
{
    int rc = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?1, ?2, ?3)",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_int(st, 1, m->version) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, m->name ? m->name : "", -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, gpf_now_ms()) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
        rc = store_fail(s, err, "store: recording migration");
    sqlite3_finalize(st);
    return rc;
}

/* Applies one migration in its own transaction, unless another process got there first. */
static int apply(store_sqlite *s, const gpf_store_migration *m, gpf_error *err)
{
    int rc = 0;
    int version = 0;
    char what[96];
    if ((rc = store_exec(s, "BEGIN IMMEDIATE", "store: starting migration", err)) != 0)
        goto out;
    if ((rc = applied_version(s, &version, err)) != 0 || version >= m->version)
        goto out;
    snprintf(what, sizeof what, "store: migration %d (%s)", m->version, m->name ? m->name : "");
    if ((rc = store_exec(s, m->sql, what, err)) != 0)
        goto out;
    if ((rc = record(s, m, err)) != 0)
        goto out;
    rc = store_exec(s, "COMMIT", "store: committing migration", err);
out:
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int store_migrate(store_sqlite *s, const gpf_store_migration *list, size_t n, gpf_error *err)
{
    int rc = 0;
    int current = 0;
    int known = 0;
    for (size_t i = 0; i < n; i++) {
        if (list[i].version <= known || !list[i].sql) {
            rc = gpf_error_set(err, GPF_EINVAL, "store: migration list is not strictly ascending at %zu", i);
            goto out;
        }
        known = list[i].version;
    }
    if ((rc = store_exec(s,
                         "CREATE TABLE IF NOT EXISTS schema_migrations (\n"
                         "  version    INTEGER PRIMARY KEY,\n"
                         "  name       TEXT NOT NULL,\n"
                         "  applied_ms INTEGER NOT NULL\n"
                         ") STRICT",
                         "store: creating schema_migrations", err)) != 0)
        goto out;
    if ((rc = applied_version(s, &current, err)) != 0)
        goto out;
    if (current > known) {
        rc = gpf_error_set(err, GPF_ESTORE,
                           "store: database schema version %d is newer than this gpufleet knows (%d); "
                           "upgrade gpufleet or use a matching database",
                           current, known);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (list[i].version <= current)
            continue;
        if ((rc = apply(s, &list[i], err)) != 0)
            goto out;
    }
out:
    return rc;
}

int sq_schema_version(gpf_store *store)
{
    store_sqlite *s = store->priv;
    int version = 0;
    int rc = applied_version(s, &version, NULL);
    return rc ? rc : version;
}
