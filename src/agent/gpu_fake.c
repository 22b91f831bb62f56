/* The fake GPU backend: a host described by a fleet fixture (data/demo-fleet.json).
 *
 * Fixture format:
 *   {"hosts": [{"id": "gpu-h100-a", "cpus": 64, "memory_mib": 524288, "numa_nodes": 2,
 *               "deploy_mode": "baremetal",
 *               "gpus": [{"model": "H100-80GB-SXM5", "name": "NVIDIA H100 80GB HBM3",
 *                         "uuid": "GPU-…", "pci_bus_id": "00000000:18:00.0",
 *                         "numa_node": 0, "memory_mib": 81559, "mig_enabled": false}]}]}
 *
 * The whole fixture is validated strictly (every host, not only the one asked for):
 * unknown or missing fields, wrong types, out-of-range numbers, duplicate ids and more
 * than GPF_MAX_HOST_GPUS GPUs per host are rejected with GPF_EINVAL naming the host and
 * the field. Fixtures larger than 1 MiB are refused. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/gpu_backend.h"
#include "util/alloc.h"
#include "util/secret.h"

#define FIXTURE_MAX_BYTES (1024 * 1024)
#define FIXTURE_MAX_HOSTS 1024

typedef struct fake_priv {
    gpf_host_rec host;
} fake_priv;

/* ---- validation helpers --------------------------------------------- */

static int chars_ok(const char *s, const char *extra)
{
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr(extra, c)))
            return 0;
    }
    return 1;
}

static int printable_ok(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

static int check_keys(json_t *obj, const char *const *allowed, const char *where, gpf_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        int found = 0;
        for (int i = 0; allowed[i] && !found; i++)
            found = !strcmp(key, allowed[i]);
        if (!found)
            return gpf_error_set(err, GPF_EINVAL, "fleet fixture: %s: unknown field '%.40s'", where, key);
    }
    return 0;
}

static int get_str(json_t *obj, const char *field, const char *where, char *out, size_t size, gpf_error *err)
{
    json_t *v = json_object_get(obj, field);
    if (!v)
        return gpf_error_set(err, GPF_EINVAL, "fleet fixture: %s: field '%s' is missing", where, field);
    if (!json_is_string(v))
        return gpf_error_set(err, GPF_EINVAL, "fleet fixture: %s: field '%s' must be a string", where, field);
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v) || !printable_ok(s))
        return gpf_error_set(err, GPF_EINVAL, "fleet fixture: %s: field '%s' has control characters", where, field);
    if (!s[0] || strlen(s) >= size)
        return gpf_error_set(err, GPF_EINVAL, "fleet fixture: %s: field '%s' must have 1..%zu characters", where,
                             field, size - 1);
    gpf_strlcpy(out, s, size);
    return 0;
}

static int get_int(json_t *obj, const char *field, const char *where, int64_t lo, int64_t hi, int64_t *out,
                   gpf_error *err)
{
    json_t *v = json_object_get(obj, field);
    if (!v)
        return gpf_error_set(err, GPF_EINVAL, "fleet fixture: %s: field '%s' is missing", where, field);
    if (!json_is_integer(v))
        return gpf_error_set(err, GPF_EINVAL, "fleet fixture: %s: field '%s' must be an integer", where, field);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return gpf_error_set(err, GPF_EINVAL, "fleet fixture: %s: field '%s' must be in %lld..%lld", where, field,
                             (long long)lo, (long long)hi);
    *out = (int64_t)x;
    return 0;
}

static int get_bool(json_t *obj, const char *field, const char *where, int *out, gpf_error *err)
{
    json_t *v = json_object_get(obj, field);
    if (!v)
        return gpf_error_set(err, GPF_EINVAL, "fleet fixture: %s: field '%s' is missing", where, field);
    if (!json_is_boolean(v))
        return gpf_error_set(err, GPF_EINVAL, "fleet fixture: %s: field '%s' must be true or false", where, field);
    *out = json_is_true(v);
    return 0;
}

/* ---- parsing -------------------------------------------------------- */

static const char *const HOST_KEYS[] = {"id", "cpus", "memory_mib", "numa_nodes", "deploy_mode", "gpus", NULL};
static const char *const GPU_KEYS[] = {"model",      "name",      "uuid",        "pci_bus_id",
                                       "numa_node", "memory_mib", "mig_enabled", NULL};

static int parse_gpu(json_t *jg, const gpf_host_rec *h, int idx, gpf_gpu_rec *g, gpf_error *err)
{
    char where[GPF_ID_MAX + 32];
    int64_t x = 0;
    int rc;
    snprintf(where, sizeof where, "host '%s' gpu %d", h->id, idx);
    if (!json_is_object(jg))
        return gpf_error_set(err, GPF_EINVAL, "fleet fixture: %s must be an object", where);
    if ((rc = check_keys(jg, GPU_KEYS, where, err)) != 0)
        return rc;
    memset(g, 0, sizeof *g);
    g->index = idx;
    if ((rc = get_str(jg, "model", where, g->model, sizeof g->model, err)) != 0 ||
        (rc = get_str(jg, "name", where, g->name, sizeof g->name, err)) != 0 ||
        (rc = get_str(jg, "uuid", where, g->uuid, sizeof g->uuid, err)) != 0 ||
        (rc = get_str(jg, "pci_bus_id", where, g->pci_bus_id, sizeof g->pci_bus_id, err)) != 0)
        return rc;
    if (!chars_ok(g->model, "._-"))
        return gpf_error_set(err, GPF_EINVAL, "fleet fixture: %s: field 'model' has invalid characters", where);
    if (strncmp(g->uuid, "GPU-", 4) != 0 || !g->uuid[4] || !chars_ok(g->uuid, "-"))
        return gpf_error_set(err, GPF_EINVAL, "fleet fixture: %s: field 'uuid' must look like GPU-<hex>", where);
    if (!chars_ok(g->pci_bus_id, ":."))
        return gpf_error_set(err, GPF_EINVAL, "fleet fixture: %s: field 'pci_bus_id' must look like 00000000:18:00.0",
                             where);
    if ((rc = get_int(jg, "numa_node", where, -1, h->numa_nodes - 1, &x, err)) != 0)
        return rc;
    g->numa_node = (int)x;
    if ((rc = get_int(jg, "memory_mib", where, 1, (int64_t)1 << 40, &x, err)) != 0)
        return rc;
    g->memory_mib = x;
    return get_bool(jg, "mig_enabled", where, &g->mig_enabled, err);
}

static int parse_host(json_t *jh, int pos, gpf_host_rec *h, gpf_error *err)
{
    char where[GPF_ID_MAX + 16];
    int64_t x = 0;
    int rc;
    memset(h, 0, sizeof *h);
    snprintf(where, sizeof where, "host #%d", pos);
    if (!json_is_object(jh))
        return gpf_error_set(err, GPF_EINVAL, "fleet fixture: %s must be an object", where);
    if ((rc = get_str(jh, "id", where, h->id, sizeof h->id, err)) != 0)
        return rc;
    if (!gpf_name_valid(h->id))
        return gpf_error_set(err, GPF_EINVAL,
                             "fleet fixture: %s: field 'id' must be lowercase letters, digits, '.', '_' or '-'", where);
    snprintf(where, sizeof where, "host '%s'", h->id);
    if ((rc = check_keys(jh, HOST_KEYS, where, err)) != 0)
        return rc;
    if ((rc = get_int(jh, "cpus", where, 1, 1 << 20, &x, err)) != 0)
        return rc;
    h->cpus = (int)x;
    if ((rc = get_int(jh, "memory_mib", where, 1, (int64_t)1 << 40, &x, err)) != 0)
        return rc;
    h->memory_mib = x;
    if ((rc = get_int(jh, "numa_nodes", where, 1, 1024, &x, err)) != 0)
        return rc;
    h->numa_nodes = (int)x;
    if ((rc = get_str(jh, "deploy_mode", where, h->deploy_mode, sizeof h->deploy_mode, err)) != 0)
        return rc;
    if (strcmp(h->deploy_mode, "baremetal") && strcmp(h->deploy_mode, "passthrough") &&
        strcmp(h->deploy_mode, "vgpu") && strcmp(h->deploy_mode, "cloud"))
        return gpf_error_set(err, GPF_EINVAL,
                             "fleet fixture: %s: field 'deploy_mode' must be baremetal, passthrough, vgpu or cloud",
                             where);
    json_t *gpus = json_object_get(jh, "gpus");
    if (!gpus)
        return gpf_error_set(err, GPF_EINVAL, "fleet fixture: %s: field 'gpus' is missing", where);
    if (!json_is_array(gpus))
        return gpf_error_set(err, GPF_EINVAL, "fleet fixture: %s: field 'gpus' must be an array", where);
    if (json_array_size(gpus) > GPF_MAX_HOST_GPUS)
        return gpf_error_set(err, GPF_EINVAL, "fleet fixture: %s: field 'gpus' has %zu GPUs (at most %d)", where,
                             json_array_size(gpus), GPF_MAX_HOST_GPUS);
    size_t i;
    json_t *jg;
    json_array_foreach(gpus, i, jg)
    {
        gpf_gpu_rec *g = &h->gpus[i];
        if ((rc = parse_gpu(jg, h, (int)i, g, err)) != 0)
            return rc;
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(h->gpus[j].uuid, g->uuid))
                return gpf_error_set(err, GPF_EINVAL, "fleet fixture: %s: gpus %zu and %zu have the same uuid", where,
                                     j, i);
            if (!strcmp(h->gpus[j].pci_bus_id, g->pci_bus_id))
                return gpf_error_set(err, GPF_EINVAL, "fleet fixture: %s: gpus %zu and %zu have the same pci_bus_id",
                                     where, j, i);
        }
        h->ngpus = (int)i + 1;
    }
    gpf_strlcpy(h->backend, "fake", sizeof h->backend);
    return 0;
}

/* Parses and validates the whole fixture; *hosts is a heap array of *n records. */
static int parse_fleet(const char *text, gpf_host_rec **hosts, int *n, gpf_error *err)
{
    json_t *root = NULL;
    gpf_host_rec *arr = NULL;
    int rc = 0, count = 0;
    *hosts = NULL;
    *n = 0;
    if (!text) {
        rc = gpf_error_set(err, GPF_EINVAL, "fleet fixture: no text");
        goto out;
    }
    size_t len = strnlen(text, FIXTURE_MAX_BYTES + 1);
    if (len > FIXTURE_MAX_BYTES) {
        rc = gpf_error_set(err, GPF_ETOOLARGE, "fleet fixture: larger than %d bytes", FIXTURE_MAX_BYTES);
        goto out;
    }
    json_error_t jerr;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        rc = gpf_error_set(err, GPF_EMALFORMED, "fleet fixture: invalid JSON at line %d column %d: %.120s", jerr.line,
                           jerr.column, jerr.text);
        goto out;
    }
    static const char *const TOP_KEYS[] = {"hosts", "description", NULL};
    if (!json_is_object(root)) {
        rc = gpf_error_set(err, GPF_EINVAL, "fleet fixture: top level must be an object with 'hosts'");
        goto out;
    }
    if ((rc = check_keys(root, TOP_KEYS, "top level", err)) != 0)
        goto out;
    json_t *jhosts = json_object_get(root, "hosts");
    if (!json_is_array(jhosts)) {
        rc = gpf_error_set(err, GPF_EINVAL, "fleet fixture: field 'hosts' must be an array");
        goto out;
    }
    size_t nh = json_array_size(jhosts);
    if (nh > FIXTURE_MAX_HOSTS) {
        rc = gpf_error_set(err, GPF_EINVAL, "fleet fixture: %zu hosts (at most %d)", nh, FIXTURE_MAX_HOSTS);
        goto out;
    }
    arr = gpf_calloc(nh ? nh : 1, sizeof *arr);
    for (size_t i = 0; i < nh; i++) {
        if ((rc = parse_host(json_array_get(jhosts, i), (int)i, &arr[i], err)) != 0)
            goto out;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(arr[j].id, arr[i].id)) {
                rc = gpf_error_set(err, GPF_EINVAL, "fleet fixture: host '%s' appears twice", arr[i].id);
                goto out;
            }
        count++;
    }
    *hosts = arr;
    *n = count;
    arr = NULL;
out:
    gpf_free(arr);
    json_decref(root);
    return rc;
}

/* ---- the ops table -------------------------------------------------- */

static int fake_discover(gpf_gpu_backend *b, gpf_host_facts *facts, gpf_error *err)
{
    if (!b || !facts)
        return gpf_error_set(err, GPF_EINVAL, "discover: no backend or facts");
    const fake_priv *p = b->priv;
    memset(facts, 0, sizeof *facts);
    facts->host = p->host;
    gpf_strlcpy(facts->host.backend, "fake", sizeof facts->host.backend);
    for (int g = 0; g < GPF_MAX_HOST_GPUS; g++)
        gpf_gpu_live_unknown(&facts->live[g]);
    /* As a driver that numbers its device nodes in GPU order would: /dev/nvidia<index>. */
    for (int g = 0; g < facts->host.ngpus; g++)
        facts->live[g].minor = facts->host.gpus[g].index;
    return 0;
}

static const gpf_gpu_rec *find_gpu(const gpf_host_rec *h, const gpf_placement *pl, int i)
{
    if (pl->gpu_uuids[i][0]) {
        for (int g = 0; g < h->ngpus; g++)
            if (!strcmp(h->gpus[g].uuid, pl->gpu_uuids[i]))
                return &h->gpus[g];
        return NULL;
    }
    int idx = pl->gpu_index[i];
    return idx >= 0 && idx < h->ngpus ? &h->gpus[idx] : NULL;
}

static int fake_device_id(gpf_gpu_backend *b, const gpf_placement *pl, int i, char *out, size_t size, gpf_error *err)
{
    if (!b || !pl || !out || size == 0)
        return gpf_error_set(err, GPF_EINVAL, "device_id: missing argument");
    out[0] = '\0';
    const fake_priv *p = b->priv;
    const gpf_host_rec *h = &p->host;
    if (pl->host_id[0] && strcmp(pl->host_id, h->id) != 0)
        return gpf_error_set(err, GPF_EINVAL, "placement is for host '%s', this is '%s'", pl->host_id, h->id);
    if (pl->ngpus < 1 || pl->ngpus > GPF_MAX_POD_GPUS || i < 0 || i >= pl->ngpus)
        return gpf_error_set(err, GPF_EINVAL, "placement GPU %d out of range (placement has %d)", i, pl->ngpus);
    const gpf_gpu_rec *g = find_gpu(h, pl, i);
    if (!g)
        return gpf_error_set(err, GPF_ENOTFOUND, "host '%s' has no GPU %s (index %d)", h->id,
                             pl->gpu_uuids[i][0] ? pl->gpu_uuids[i] : "-", pl->gpu_index[i]);
    int n;
    if (pl->mig_profile_id >= 0) {
        if (!g->mig_enabled)
            return gpf_error_set(err, GPF_ESTATE, "GPU %s on host '%s' is not in MIG mode", g->uuid, h->id);
        if (pl->mig_start < 0)
            return gpf_error_set(err, GPF_EINVAL, "MIG placement start %d is negative", pl->mig_start);
        /* A stable stand-in for the MIG device UUID NVML would report: the same GPU,
         * profile and start always give the same id. */
        char seed[GPF_UUID_MAX + 64], hex[65];
        snprintf(seed, sizeof seed, "gpufleet-fake-mig|%s|%d|%d", g->uuid, pl->mig_profile_id, pl->mig_start);
        gpf_sha256_hex(seed, hex);
        n = snprintf(out, size, "MIG-%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
    } else {
        n = snprintf(out, size, "%s", g->uuid);
    }
    if (n < 0 || (size_t)n >= size) {
        out[0] = '\0';
        return gpf_error_set(err, GPF_EINVAL, "device id buffer too small (%zu bytes)", size);
    }
    return 0;
}

static void fake_close(gpf_gpu_backend *b)
{
    if (!b)
        return;
    gpf_free(b->priv);
    gpf_free(b);
}

static const gpf_gpu_backend_ops FAKE_OPS = {
    .name = "fake",
    .discover = fake_discover,
    .device_id = fake_device_id,
    .close = fake_close,
};

/* ---- public --------------------------------------------------------- */

int gpf_gpu_fake_open_text(const char *json_text, const char *host_id, gpf_gpu_backend **out, gpf_error *err)
{
    gpf_host_rec *hosts = NULL;
    int n = 0, rc;
    if (!out)
        return gpf_error_set(err, GPF_EINVAL, "gpf_gpu_fake_open_text: out is NULL");
    *out = NULL;
    if (!host_id || !host_id[0])
        return gpf_error_set(err, GPF_EINVAL, "fake GPU backend: no host id given");
    if ((rc = parse_fleet(json_text, &hosts, &n, err)) != 0)
        goto out;
    int found = -1;
    for (int i = 0; i < n && found < 0; i++)
        if (!strcmp(hosts[i].id, host_id))
            found = i;
    if (found < 0) {
        rc = gpf_error_set(err, GPF_ENOTFOUND, "fleet fixture has no host '%.63s'", host_id);
        goto out;
    }
    fake_priv *p = GPF_NEW(fake_priv);
    p->host = hosts[found];
    gpf_gpu_backend *b = GPF_NEW(gpf_gpu_backend);
    b->ops = &FAKE_OPS;
    b->priv = p;
    *out = b;
out:
    gpf_free(hosts);
    return rc;
}

static int read_fixture(const char *path, char **text, gpf_error *err)
{
    int fd = -1, rc = 0;
    char *buf = NULL;
    char ebuf[128];
    struct stat st;
    *text = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        rc = gpf_error_set(err, e == ENOENT ? GPF_ENOTFOUND : GPF_EIO, "cannot open fleet fixture %s: %s", path,
                           strerror_r(e, ebuf, sizeof ebuf));
        goto out;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = gpf_error_set(err, GPF_EINVAL, "fleet fixture %s is not a regular file", path);
        goto out;
    }
    if (st.st_size > FIXTURE_MAX_BYTES) {
        rc = gpf_error_set(err, GPF_ETOOLARGE, "fleet fixture %s is larger than %d bytes", path, FIXTURE_MAX_BYTES);
        goto out;
    }
    size_t cap = FIXTURE_MAX_BYTES + 1, len = 0;
    buf = gpf_malloc(cap + 1);
    for (;;) {
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            rc = gpf_error_set(err, GPF_EIO, "cannot read fleet fixture %s: %s", path, strerror_r(e, ebuf, sizeof ebuf));
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > FIXTURE_MAX_BYTES) {
            rc = gpf_error_set(err, GPF_ETOOLARGE, "fleet fixture %s is larger than %d bytes", path, FIXTURE_MAX_BYTES);
            goto out;
        }
    }
    if (memchr(buf, '\0', len)) {
        rc = gpf_error_set(err, GPF_EMALFORMED, "fleet fixture %s contains NUL bytes", path);
        goto out;
    }
    buf[len] = '\0';
    *text = buf;
    buf = NULL;
out:
    if (fd >= 0)
        close(fd);
    gpf_free(buf);
    return rc;
}

int gpf_gpu_fake_open(const char *fixture_path, const char *host_id, gpf_gpu_backend **out, gpf_error *err)
{
    char *text = NULL;
    int rc;
    if (out)
        *out = NULL;
    if (!fixture_path || !fixture_path[0])
        return gpf_error_set(err, GPF_EINVAL, "fake GPU backend: no fixture path given");
    if ((rc = read_fixture(fixture_path, &text, err)) != 0)
        goto out;
    rc = gpf_gpu_fake_open_text(text, host_id, out, err);
out:
    gpf_free(text);
    return rc;
}

int gpf_gpu_fake_host_ids(const char *json_text, char ***ids, int *n, gpf_error *err)
{
    gpf_host_rec *hosts = NULL;
    int count = 0, rc;
    if (!ids || !n)
        return gpf_error_set(err, GPF_EINVAL, "gpf_gpu_fake_host_ids: ids or n is NULL");
    *ids = NULL;
    *n = 0;
    if ((rc = parse_fleet(json_text, &hosts, &count, err)) != 0)
        goto out;
    char **arr = gpf_calloc(count ? (size_t)count : 1, sizeof *arr);
    for (int i = 0; i < count; i++)
        arr[i] = gpf_strdup(hosts[i].id);
    *ids = arr;
    *n = count;
out:
    gpf_free(hosts);
    return rc;
}
