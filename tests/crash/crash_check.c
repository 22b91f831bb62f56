/* crash_check: the checker of the crash test (tests/integration/test_crash_load.sh).
 *
 * Reads a control plane's database read-only, in one read transaction (one consistent
 * snapshot, taken after the files below were read), and prints every violation of what a
 * SIGKILL must never break:
 *   - PRAGMA integrity_check is "ok" and foreign keys hold;
 *   - every pod is in a known state and placed exactly when live (starting, running,
 *     stopping: the states the engine books capacity for; pending is never written);
 *   - no capacity is booked twice across live pods: a whole GPU holds nothing else, MIG
 *     slot ranges on a GPU do not overlap, one slice kind per GPU, share thousandths
 *     at most 1000 and share memory at most the GPU's, vGPUs of a type at most its
 *     max_per_gpu (data/catalog/vgpu_profiles.csv), one time-sliced type per GPU
 *     (equal-size mode: the engine never sets mixed-size mode), CPUs, memory and pods at
 *     most the host's;
 *   - usage: at most one record per pod, of a known pod; a record exactly for the pods
 *     that reached running (started_ms > 0), open exactly while the pod is running or
 *     stopping; closed records never change between checks (--prev, --save);
 *   - every acknowledged launch is in the database (and in the API's list), no
 *     acknowledged stop is undone (the pod is stopping or final), and the API agrees
 *     with the database on every final pod.
 *
 * Usage: crash_check --db FILE [--catalog DIR] [--acked-launches FILE] [--acked-stops FILE]
 *          [--api-pods FILE] [--prev FILE] [--save FILE] [--ops FILE]... [--cycle N]
 *        crash_check --ledger --db FILE [--catalog DIR]
 * Files are lines of whitespace-separated fields: acked launches and stops "POD_ID";
 * --api-pods "POD_ID STATE" (GET /v1/pods?all=1, fetched before this runs); --ops
 * "OP HTTP_STATUS" with OP L (launch), S (stop) or Q (a read); --prev/--save the usage
 * snapshot "ID POD_ID START_MS END_MS GPU_MILLI PRICE". --ledger prints, per GPU, what the
 * API's GET /v1/gpus must show: "UUID mig USED_SLOTS" for a MIG GPU, else "UUID milli
 * ALLOCATED_MILLI" (1000 when taken whole, else the shares' thousandths plus 1000 / max_per_gpu
 * for each time-sliced vGPU).
 * Exit: 0 no violation, 1 violations (each on its own "VIOLATION check: detail" line),
 * 2 usage error. It links only libsqlite3: tests/ sits outside src/'s layering. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#define MAX_OPS_FILES 64

typedef struct {
    const char *db, *catalog, *acked_launches, *acked_stops, *api_pods, *prev, *save;
    const char *ops[MAX_OPS_FILES];
    int nops, cycle, ledger;
} options;

typedef struct {
    const char *name;
    const char *sql; /* rows: one text column, each a violation */
} check;

/* The live pods' GPUs: one row per (pod, GPU) of a pod that holds capacity. */
#define LIVE                                                                                      \
    "WITH live AS (SELECT p.id, p.slice_kind AS kind, p.place_host_id AS host, g.uuid,"          \
    " p.place_mig_start AS ms, p.place_mig_size AS mz, p.place_share_milli AS sm,"              \
    " p.place_share_memory_mib AS smem, p.place_vgpu_type AS vt"                                \
    " FROM pods p JOIN pod_gpus g ON g.pod_id = p.id"                                           \
    " WHERE p.placed = 1 AND p.state IN ('starting','running','stopping')) "
#define LIVE_STATES "('starting','running','stopping')"
#define FINAL_STATES "('stopped','failed','preempted','expired','lost')"

static const check checks[] = {
    {"foreign_keys", "SELECT \"table\" || ' row ' || rowid || ' references a missing ' || parent"
                     " FROM pragma_foreign_key_check"},
    {"pod_state", "SELECT id || ': unknown state ' || quote(state) FROM pods WHERE state NOT IN"
                  " ('pending','starting','running','stopping','stopped','failed','preempted','expired','lost')"},
    {"placed_iff_live", "SELECT id || ': state ' || state || ' with placed=' || placed FROM pods"
                        " WHERE (state IN " LIVE_STATES ") != (placed = 1)"},
    {"placed_host", "SELECT id || ': placed on unknown host ' || quote(place_host_id) FROM pods p"
                    " WHERE placed = 1 AND NOT EXISTS (SELECT 1 FROM hosts h WHERE h.id = p.place_host_id)"},
    {"placed_gpus", "SELECT p.id || ': ' || p.slice_kind || ' slice holds ' || count(g.uuid) || ' GPUs'"
                    " FROM pods p LEFT JOIN pod_gpus g ON g.pod_id = p.id WHERE p.placed = 1 GROUP BY p.id"
                    " HAVING count(g.uuid) != CASE p.slice_kind WHEN 'whole' THEN p.slice_gpu_count ELSE 1 END"},
    {"gpu_on_host", LIVE "SELECT l.id || ': GPU ' || l.uuid || ' is not on host ' || l.host FROM live l"
                         " WHERE NOT EXISTS (SELECT 1 FROM gpus g WHERE g.host_id = l.host AND g.uuid = l.uuid)"},
    {"gpu_mode", LIVE "SELECT l.id || ': ' || l.kind || CASE WHEN l.mz > 0 THEN ' MIG instance' ELSE ' slice' END"
                      " || ' on GPU ' || l.uuid || ' with mig_enabled=' || g.mig_enabled FROM live l"
                      " JOIN gpus g ON g.uuid = l.uuid WHERE (l.mz > 0) != (g.mig_enabled = 1)"},
    {"whole_twice", LIVE "SELECT 'GPU ' || uuid || ' taken whole by ' || sum(kind = 'whole') || ' of '"
                         " || count(*) || ' live pods: ' || group_concat(id, ',') FROM live GROUP BY uuid"
                         " HAVING sum(kind = 'whole') > 0 AND count(*) > 1"},
    {"kinds_mixed", LIVE "SELECT 'GPU ' || uuid || ' holds slices of kinds ' || group_concat(DISTINCT kind)"
                         " FROM live GROUP BY uuid HAVING count(DISTINCT kind) > 1"},
    {"mig_overlap", LIVE "SELECT 'GPU ' || a.uuid || ': MIG slots ' || a.ms || '+' || a.mz || ' of ' || a.id"
                         " || ' overlap ' || b.ms || '+' || b.mz || ' of ' || b.id FROM live a JOIN live b"
                         " ON a.uuid = b.uuid AND a.id < b.id WHERE a.mz > 0 AND b.mz > 0"
                         " AND a.ms < b.ms + b.mz AND b.ms < a.ms + a.mz"},
    {"mig_range", LIVE "SELECT l.id || ': MIG slots ' || l.ms || '+' || l.mz || ' outside 0..31' FROM live l"
                       " WHERE l.mz > 0 AND (l.ms < 0 OR l.ms + l.mz > 32)"},
    {"share_over", LIVE "SELECT 'GPU ' || l.uuid || ': shares book ' || sum(l.sm) || ' thousandths and '"
                        " || sum(l.smem) || ' of ' || g.memory_mib || ' MiB: ' || group_concat(l.id, ',')"
                        " FROM live l JOIN gpus g ON g.uuid = l.uuid WHERE l.kind = 'share' GROUP BY l.uuid"
                        " HAVING sum(l.sm) > 1000 OR sum(l.smem) > g.memory_mib OR min(l.sm) <= 0"},
    {"vgpu_types", LIVE "SELECT 'GPU ' || uuid || ' runs time-sliced vGPU types ' || group_concat(DISTINCT vt)"
                        " FROM live WHERE kind = 'vgpu' AND mz = 0 GROUP BY uuid HAVING count(DISTINCT vt) > 1"},
    {"vgpu_max", LIVE "SELECT 'GPU ' || l.uuid || ' runs ' || count(*) || ' vGPUs of ' || l.vt || ' (max '"
                      " || coalesce(t.max_per_gpu, 'unknown: not in the catalog') || ')' FROM live l"
                      " LEFT JOIN vgpu_types t ON t.name = l.vt WHERE l.kind = 'vgpu' GROUP BY l.uuid, l.vt"
                      " HAVING t.max_per_gpu IS NULL OR count(*) > t.max_per_gpu"},
    {"host_capacity", "SELECT 'host ' || h.id || ': ' || count(*) || ' live pods (max '"
                      " || CASE WHEN h.max_pods > 0 THEN min(h.max_pods, 1024) ELSE 1024 END || '), '"
                      " || sum(p.place_cpus) || ' of ' || h.cpus || ' CPUs, ' || sum(p.place_memory_mib)"
                      " || ' of ' || h.memory_mib || ' MiB' FROM pods p JOIN hosts h ON h.id = p.place_host_id"
                      " WHERE p.placed = 1 AND p.state IN " LIVE_STATES " GROUP BY h.id"
                      " HAVING sum(p.place_cpus) > h.cpus OR sum(p.place_memory_mib) > h.memory_mib"
                      " OR count(*) > CASE WHEN h.max_pods > 0 THEN min(h.max_pods, 1024) ELSE 1024 END"
                      " OR min(p.place_cpus) < 0 OR min(p.place_memory_mib) < 0"},
    {"usage_pod", "SELECT 'usage ' || id || ' is of unknown pod ' || pod_id FROM usage u"
                  " WHERE NOT EXISTS (SELECT 1 FROM pods p WHERE p.id = u.pod_id)"},
    {"usage_once", "SELECT pod_id || ' has ' || count(*) || ' usage records: ' || group_concat(id, ',')"
                   " FROM usage GROUP BY pod_id HAVING count(*) > 1"},
    {"usage_open", "SELECT 'usage ' || u.id || ' is open for ' || p.state || ' pod ' || p.id FROM usage u"
                   " JOIN pods p ON p.id = u.pod_id WHERE u.end_ms = 0 AND p.state NOT IN ('running','stopping')"},
    {"usage_missing", "SELECT p.id || ': ' || p.state || ' (started ' || p.started_ms || ') without '"
                      " || CASE WHEN p.state IN ('running','stopping') THEN 'an open' ELSE 'a' END || ' usage record'"
                      " FROM pods p WHERE (p.started_ms > 0 OR p.state = 'running') AND NOT EXISTS (SELECT 1 FROM usage u"
                      " WHERE u.pod_id = p.id AND (u.end_ms = 0) = (p.state IN ('running','stopping')))"},
    {"usage_unstarted", "SELECT 'usage ' || u.id || ' for ' || p.id || ', which never ran' FROM usage u"
                        " JOIN pods p ON p.id = u.pod_id WHERE p.started_ms = 0"},
    {"usage_closed", "SELECT 'usage ' || id || ' ends at ' || end_ms || ' before it starts at ' || start_ms"
                     " FROM usage WHERE end_ms != 0 AND end_ms < start_ms"},
    {"usage_changed", "SELECT 'usage ' || v.id || CASE WHEN u.id IS NULL THEN ' is gone'"
                      " ELSE ' changed: was ' || v.pod_id || ' ' || v.start_ms || '..' || v.end_ms || ' ' || v.gpu_milli"
                      " || ' ' || v.price || ', now ' || u.pod_id || ' ' || u.start_ms || '..' || u.end_ms || ' '"
                      " || u.gpu_milli || ' ' || u.price_micro_per_hour END FROM prev_usage v"
                      " LEFT JOIN usage u ON u.id = v.id WHERE u.id IS NULL OR u.pod_id != v.pod_id"
                      " OR u.start_ms != v.start_ms OR (v.end_ms != 0 AND (u.end_ms != v.end_ms"
                      " OR u.gpu_milli != v.gpu_milli OR u.price_micro_per_hour != v.price))"},
    {"ack_launch", "SELECT 'acknowledged launch ' || a.id || ' is not in the database' FROM acked_launches a"
                   " WHERE NOT EXISTS (SELECT 1 FROM pods p WHERE p.id = a.id)"},
    {"ack_stop", "SELECT 'acknowledged stop of ' || a.id || ' undone: ' || p.state FROM acked_stops a"
                 " JOIN pods p ON p.id = a.id WHERE p.state NOT IN ('stopping','stopped','failed','preempted',"
                 "'expired','lost')"},
    {"api_launch", "SELECT 'acknowledged launch ' || a.id || ' is not in GET /v1/pods?all=1' FROM acked_launches a"
                   " WHERE (SELECT count(*) FROM api_pods) > 0 AND NOT EXISTS (SELECT 1 FROM api_pods x"
                   " WHERE x.id = a.id)"},
    {"api_stop", "SELECT 'acknowledged stop of ' || a.id || ' undone in the API: ' || x.state FROM acked_stops a"
                 " JOIN api_pods x ON x.id = a.id WHERE x.state NOT IN ('stopping','stopped','failed',"
                 "'preempted','expired','lost')"},
    {"api_pods", "SELECT 'API pod ' || x.id || ' (' || x.state || ') is ' || coalesce(p.state || ' in the database',"
                 " 'not in the database') FROM api_pods x LEFT JOIN pods p ON p.id = x.id WHERE p.id IS NULL"
                 " OR (x.state IN " FINAL_STATES " AND x.state != p.state)"},
};

static int violations;

static void violation(const char *name, const char *detail)
{
    violations++;
    printf("VIOLATION %s: %s\n", name, detail ? detail : "(null)");
}

/* Runs one statement that returns no rows; 0 or -1 (said). */
static int exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    fprintf(stderr, "crash_check: %s: %s\n", sql, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -1;
}

/* Splits line into at most max fields, in place: at each sep (',': empty fields count), or at
 * runs of whitespace (sep ' '). The count. */
static int split(char *line, char **f, int max, char sep)
{
    int n = 0;
    char *s = line;
    line[strcspn(line, "\r\n")] = '\0';
    while (*s && n < max) {
        while (sep == ' ' && (*s == ' ' || *s == '\t'))
            s++;
        if (!*s)
            break;
        f[n++] = s;
        while (*s && *s != sep && !(sep == ' ' && *s == '\t'))
            s++;
        if (*s)
            *s++ = '\0';
    }
    return n;
}

/* Loads path's lines into temp table table: fields cols[0..ncols-1] of each (split at sep),
 * a line with fewer fields skipped; a missing file or a NULL path loads nothing. 0 or -1
 * (said). */
static int load(sqlite3 *db, const char *table, const char *path, char sep, const int *cols, int ncols)
{
    char sql[256], line[2048], *f[16];
    sqlite3_stmt *st = NULL;
    int rc = -1, need = 0;
    FILE *in = NULL;
    if (!path)
        return 0;
    if (!(in = fopen(path, "r"))) {
        if (errno == ENOENT)
            return 0; /* nothing acknowledged yet */
        fprintf(stderr, "crash_check: %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (int i = 0; i < ncols; i++)
        need = cols[i] + 1 > need ? cols[i] + 1 : need;
    snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO %s VALUES (?1%s)", table,
             ncols == 1 ? "" : ncols == 2 ? ", ?2" : ", ?2, ?3, ?4, ?5, ?6");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        goto out;
    while (fgets(line, sizeof line, in)) {
        if (split(line, f, 16, sep) < need)
            continue;
        sqlite3_reset(st);
        for (int i = 0; i < ncols; i++)
            sqlite3_bind_text(st, i + 1, f[cols[i]], -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE)
            goto out;
    }
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "crash_check: loading %s: %s\n", path, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    fclose(in);
    return rc;
}

/* Runs one check: every row it returns is a violation; a failing query is one too (a
 * corrupt database answers that way). */
static void run_check(sqlite3 *db, const check *c)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, c->sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            violation(c->name, (const char *)sqlite3_column_text(st, 0));
    if (rc != SQLITE_DONE) {
        char msg[512];
        snprintf(msg, sizeof msg, "the query failed: %s", sqlite3_errmsg(db));
        violation(c->name, msg);
    }
    sqlite3_finalize(st);
}

/* PRAGMA integrity_check: anything but one row "ok" is a violation. */
static void integrity(sqlite3 *db)
{
    check c = {"integrity", "SELECT integrity_check FROM pragma_integrity_check WHERE integrity_check != 'ok'"};
    run_check(db, &c);
}

/* One integer from sql (0 when it has no row). */
static long long scalar(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Writes the usage snapshot to path (through path.tmp, renamed). 0 or -1 (said). */
static int save_usage(sqlite3 *db, const char *path)
{
    char tmp[1024];
    sqlite3_stmt *st = NULL;
    int rc = -1;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (!out) {
        fprintf(stderr, "crash_check: %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    if (sqlite3_prepare_v2(db, "SELECT id, pod_id, start_ms, end_ms, gpu_milli, price_micro_per_hour FROM usage",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    while (sqlite3_step(st) == SQLITE_ROW)
        fprintf(out, "%lld %s %lld %lld %lld %lld\n", (long long)sqlite3_column_int64(st, 0),
                (const char *)sqlite3_column_text(st, 1), (long long)sqlite3_column_int64(st, 2),
                (long long)sqlite3_column_int64(st, 3), (long long)sqlite3_column_int64(st, 4),
                (long long)sqlite3_column_int64(st, 5));
    rc = 0;
out:
    sqlite3_finalize(st);
    if (fclose(out) != 0 || rc != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "crash_check: writing %s failed\n", path);
        return -1;
    }
    return 0;
}

/* Counts the ops files' lines: sent and acknowledged per op (L 201, S 200/202, Q 200). */
static void count_ops(const options *o, long long sent[3], long long acked[3])
{
    char line[256], *f[2];
    for (int i = 0; i < o->nops; i++) {
        FILE *in = fopen(o->ops[i], "r");
        if (!in)
            continue;
        while (fgets(line, sizeof line, in)) {
            if (split(line, f, 2, ' ') < 2)
                continue;
            int k = f[0][0] == 'L' ? 0 : f[0][0] == 'S' ? 1 : 2;
            int code = atoi(f[1]);
            sent[k]++;
            acked[k] += k == 0 ? code == 201 : k == 1 ? (code == 200 || code == 202) : code == 200;
        }
        fclose(in);
    }
}

/* The one summary line: cycle, what the database holds, operations driven, violations. */
static void summary(sqlite3 *db, const options *o)
{
    long long sent[3] = {0}, acked[3] = {0};
    count_ops(o, sent, acked);
    printf("crash-check cycle %d: pods %lld (live %lld: whole %lld, mig %lld, vgpu %lld, share %lld), usage records "
           "%lld (open %lld); ops: launches %lld acked of %lld, stops %lld acked of %lld, reads %lld acked of %lld; "
           "acked launches %lld, acked stops %lld; violations %d\n",
           o->cycle, scalar(db, "SELECT count(*) FROM pods"),
           scalar(db, "SELECT count(*) FROM pods WHERE state IN " LIVE_STATES),
           scalar(db, "SELECT count(*) FROM pods WHERE state IN " LIVE_STATES " AND slice_kind = 'whole'"),
           scalar(db, "SELECT count(*) FROM pods WHERE state IN " LIVE_STATES " AND slice_kind = 'mig'"),
           scalar(db, "SELECT count(*) FROM pods WHERE state IN " LIVE_STATES " AND slice_kind = 'vgpu'"),
           scalar(db, "SELECT count(*) FROM pods WHERE state IN " LIVE_STATES " AND slice_kind = 'share'"),
           scalar(db, "SELECT count(*) FROM usage"), scalar(db, "SELECT count(*) FROM usage WHERE end_ms = 0"),
           acked[0], sent[0], acked[1], sent[1], acked[2], sent[2], scalar(db, "SELECT count(*) FROM acked_launches"),
           scalar(db, "SELECT count(*) FROM acked_stops"), violations);
}

/* --ledger: per GPU, what GET /v1/gpus must show for the live pods (see the header). */
static int print_ledger(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    const char *sql =
        LIVE "SELECT g.uuid, CASE WHEN g.mig_enabled THEN 'mig' ELSE 'milli' END, CASE WHEN g.mig_enabled"
             " THEN coalesce(sum(l.mz), 0) WHEN sum(l.kind = 'whole') > 0 THEN 1000"
             " ELSE coalesce(sum(CASE WHEN l.kind = 'share' THEN l.sm WHEN l.kind = 'vgpu' THEN 1000 / t.max_per_gpu"
             " END), 0) END FROM gpus g LEFT JOIN live l ON l.uuid = g.uuid LEFT JOIN vgpu_types t ON t.name = l.vt"
             " GROUP BY g.uuid ORDER BY g.uuid";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "crash_check: ledger: %s\n", sqlite3_errmsg(db));
        return 2;
    }
    while (sqlite3_step(st) == SQLITE_ROW)
        printf("%s %s %lld\n", (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
               (long long)sqlite3_column_int64(st, 2));
    sqlite3_finalize(st);
    return 0;
}

/* The field of o that flag (a path option) sets; NULL for another flag. */
static const char **path_option(options *o, const char *flag)
{
    static const struct {
        const char *flag;
        size_t off;
    } paths[] = {
        {"--db", offsetof(options, db)},
        {"--catalog", offsetof(options, catalog)},
        {"--acked-launches", offsetof(options, acked_launches)},
        {"--acked-stops", offsetof(options, acked_stops)},
        {"--api-pods", offsetof(options, api_pods)},
        {"--prev", offsetof(options, prev)},
        {"--save", offsetof(options, save)},
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (strcmp(flag, paths[i].flag) == 0)
            return (const char **)(void *)((char *)o + paths[i].off);
    return NULL;
}

static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--ledger") == 0) {
            o->ledger = 1;
            continue;
        }
        if (!v)
            return -1;
        i++;
        const char **field = path_option(o, a);
        if (field)
            *field = v;
        else if (strcmp(a, "--cycle") == 0)
            o->cycle = atoi(v);
        else if (strcmp(a, "--ops") == 0 && o->nops < MAX_OPS_FILES)
            o->ops[o->nops++] = v;
        else
            return -1;
    }
    return o->db ? 0 : -1;
}

/* The temp tables the checks read, filled from the files (before the snapshot starts). */
static int load_inputs(sqlite3 *db, const options *o)
{
    if (exec(db, "CREATE TEMP TABLE acked_launches (id TEXT PRIMARY KEY);"
                 "CREATE TEMP TABLE acked_stops (id TEXT PRIMARY KEY);"
                 "CREATE TEMP TABLE api_pods (id TEXT PRIMARY KEY, state TEXT);"
                 "CREATE TEMP TABLE vgpu_types (name TEXT PRIMARY KEY, max_per_gpu INTEGER);"
                 "CREATE TEMP TABLE prev_usage (id INTEGER PRIMARY KEY, pod_id TEXT, start_ms INTEGER,"
                 " end_ms INTEGER, gpu_milli INTEGER, price INTEGER)") != 0)
        return -1;
    static const int first[] = {0}, two[] = {0, 1}, six[] = {0, 1, 2, 3, 4, 5};
    /* vgpu_profiles.csv: gpu_model, board, vgpu_type, mode, framebuffer_mb, max_per_gpu, ...
     * (its header loads as a type named "vgpu_type", which no pod has) */
    static const int vgpu[] = {2, 5};
    char csv[1024];
    snprintf(csv, sizeof csv, "%s/vgpu_profiles.csv", o->catalog ? o->catalog : "data/catalog");
    if (load(db, "acked_launches", o->acked_launches, ' ', first, 1) != 0 ||
        load(db, "acked_stops", o->acked_stops, ' ', first, 1) != 0 ||
        load(db, "api_pods", o->api_pods, ' ', two, 2) != 0 || load(db, "prev_usage", o->prev, ' ', six, 6) != 0)
        return -1;
    return load(db, "vgpu_types", csv, ',', vgpu, 2);
}

int main(int argc, char **argv)
{
    options o;
    sqlite3 *db = NULL;
    int rc = 2;
    if (parse_args(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: crash_check --db FILE [--catalog DIR] [--acked-launches FILE] [--acked-stops FILE]\n"
                        "         [--api-pods FILE] [--prev FILE] [--save FILE] [--ops FILE]... [--cycle N]\n"
                        "       crash_check --ledger --db FILE [--catalog DIR]\n");
        return 2;
    }
    if (sqlite3_open_v2(o.db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        violation("open", sqlite3_errmsg(db));
        printf("crash-check cycle %d: violations %d\n", o.cycle, violations);
        sqlite3_close(db);
        return 1;
    }
    sqlite3_busy_timeout(db, 5000);
    if (load_inputs(db, &o) != 0 || exec(db, "BEGIN") != 0)
        goto out;
    if (o.ledger) {
        rc = print_ledger(db);
        goto out;
    }
    integrity(db);
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
        run_check(db, &checks[i]);
    summary(db, &o);
    if (o.save && save_usage(db, o.save) != 0)
        goto out;
    rc = violations ? 1 : 0;
out:
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}
