/* The agent's image cache (agent/image_cache.h): verified blobs, an OCI layout over them,
 * `umoci unpack` into a temporary bundle and one rename into rootfs/<hex>.
 *
 * Locks: ensure holds <dir>/.lock shared and locks/<hex> exclusively for its whole run
 * (fetch, unpack); read-modify-write of layout/index.json holds locks/index; gc takes
 * <dir>/.lock exclusively without waiting, so it never removes a blob an ensure is using. */
#include "agent/image_cache.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/runtime_int.h"
#include "util/alloc.h"
#include "util/fileio.h"
#include "util/subproc.h"
#include "util/oci.h"
#include "util/buf.h"

#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MT_LAYER_GZ "application/vnd.oci.image.layer.v1.tar+gzip"
#define REF_NAME "org.opencontainers.image.ref.name"
#define UMOCI_TIMEOUT_MS (15 * 60 * 1000)
#define HEX_LEN 64
#define DIR_MAX 3072 /* the cache directory's length, so that every path below it fits PATH_MAX */

struct gpf_image_cache {
    char dir[DIR_MAX];
    int rootless; /* not root: umoci unpack --rootless */
};

/* ---- manifest ------------------------------------------------------------------------ */

int gpf_image_digest_valid(const char *s)
{
    return gpf_oci_digest_valid(s); /* the control plane's rule, one definition */
}

/* One descriptor {mediaType, digest, size} at `where` into d; sizes 1..max. */
static int parse_desc(json_t *o, const char *where, int64_t max, gpf_image_desc *d, gpf_error *err)
{
    if (!json_is_object(o))
        return gpf_error_set(err, GPF_EMALFORMED, "manifest: %s: not an object", where);
    json_t *mt = json_object_get(o, "mediaType"), *dg = json_object_get(o, "digest"),
           *sz = json_object_get(o, "size");
    if (!json_is_string(mt) || json_string_length(mt) >= sizeof d->media_type)
        return gpf_error_set(err, GPF_EMALFORMED, "manifest: %s.mediaType: missing or too long", where);
    if (!json_is_string(dg) || !gpf_image_digest_valid(json_string_value(dg)))
        return gpf_error_set(err, GPF_EMALFORMED, "manifest: %s.digest: not sha256:<64 lowercase hex>", where);
    if (!json_is_integer(sz) || json_integer_value(sz) < 1 || json_integer_value(sz) > max)
        return gpf_error_set(err, GPF_EMALFORMED, "manifest: %s.size: not an integer from 1 to %lld", where,
                             (long long)max);
    gpf_strlcpy(d->media_type, json_string_value(mt), sizeof d->media_type);
    gpf_strlcpy(d->digest, json_string_value(dg), sizeof d->digest);
    d->size = (int64_t)json_integer_value(sz);
    return 0;
}

int gpf_image_manifest_parse(const char *json, size_t len, gpf_image_manifest *out, gpf_error *err)
{
    int rc = 0;
    json_t *root = NULL;
    json_error_t jerr;
    if (len > GPF_IMAGE_JSON_MAX) {
        rc = gpf_error_set(err, GPF_ETOOLARGE, "manifest: %zu bytes, more than %d", len, GPF_IMAGE_JSON_MAX);
        goto out;
    }
    memset(out, 0, sizeof *out);
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        rc = gpf_error_set(err, GPF_EMALFORMED, "manifest: not JSON: %s (line %d)", jerr.text, jerr.line);
        goto out;
    }
    json_t *sv = json_object_get(root, "schemaVersion"), *mt = json_object_get(root, "mediaType");
    json_t *layers = json_object_get(root, "layers");
    if (!json_is_object(root) || !json_is_integer(sv) || json_integer_value(sv) != 2) {
        rc = gpf_error_set(err, GPF_EMALFORMED, "manifest: not an object with schemaVersion 2");
        goto out;
    }
    if (!json_is_string(mt) || strcmp(json_string_value(mt), MT_MANIFEST) != 0) {
        rc = gpf_error_set(err, GPF_EMALFORMED, "manifest: mediaType is not %s", MT_MANIFEST);
        goto out;
    }
    if ((rc = parse_desc(json_object_get(root, "config"), "config", GPF_IMAGE_JSON_MAX, &out->config, err)) != 0)
        goto out;
    if (strcmp(out->config.media_type, MT_CONFIG) != 0) {
        rc = gpf_error_set(err, GPF_EMALFORMED, "manifest: config.mediaType is not %s", MT_CONFIG);
        goto out;
    }
    out->total = out->config.size;
    if (!json_is_array(layers) || json_array_size(layers) < 1 || json_array_size(layers) > GPF_IMAGE_LAYERS_MAX) {
        rc = gpf_error_set(err, GPF_EMALFORMED, "manifest: layers: not an array of 1 to %d descriptors",
                           GPF_IMAGE_LAYERS_MAX);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(layers); i++) {
        char where[32];
        gpf_image_desc *d = &out->layers[i];
        snprintf(where, sizeof where, "layers[%zu]", i);
        if ((rc = parse_desc(json_array_get(layers, i), where, GPF_IMAGE_BLOB_MAX, d, err)) != 0)
            goto out;
        if (strcmp(d->media_type, MT_LAYER) != 0 && strcmp(d->media_type, MT_LAYER_GZ) != 0) {
            rc = gpf_error_set(err, GPF_EMALFORMED, "manifest: %s.mediaType %.80s: not a tar or tar+gzip layer",
                               where, d->media_type);
            goto out;
        }
        out->total += d->size; /* at most 128 * 64 GiB: no overflow */
        out->nlayers++;
    }
out:
    json_decref(root);
    return rc;
}

/* ---- files --------------------------------------------------------------------------- */

/* snprintf into out, GPF_EINVAL when it does not fit. */
static int path_fmt(char *out, size_t size, gpf_error *err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int path_fmt(char *out, size_t size, gpf_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size)
        return gpf_error_set(err, GPF_EINVAL, "path too long");
    return 0;
}

static int io_err(gpf_error *err, const char *what, const char *path)
{
    char ebuf[128];
    return gpf_error_set(err, GPF_EIO, "%s %s: %s", what, path, strerror_r(errno, ebuf, sizeof ebuf));
}

static int is_dir(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int mkdir_mode(const char *path, mode_t mode, gpf_error *err)
{
    if (mkdir(path, mode) != 0 && errno != EEXIST)
        return io_err(err, "cannot create", path);
    if (!is_dir(path))
        return gpf_error_set(err, GPF_EIO, "%s: not a directory", path);
    return 0;
}

/* fsync of a directory (after a rename into it); errors ignored: the data is there. */
static void sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Opens (creating) a lock file and flocks it with op; the descriptor, or -1 (errno set). */
static int lock_take(const char *path, int op)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int r;
    while ((r = flock(fd, op)) != 0 && errno == EINTR) {
    }
    if (r != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void lock_drop(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

/* SHA-256 of a file as 64 lowercase hex into hex (65 bytes) and its size; reads at most
 * max + 1 bytes (*size > max then). 0, or GPF_EIO. */
static int hash_file(const char *path, int64_t max, char *hex, int64_t *size, gpf_error *err)
{
    int rc = 0, fd = -1;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *buf = gpf_malloc(1 << 20), sum[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    *size = 0;
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        rc = gpf_error_set(err, GPF_EINTERNAL, "sha256: cannot initialise");
        goto out;
    }
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
        rc = io_err(err, "cannot open", path);
        goto out;
    }
    while (*size <= max) {
        ssize_t r = read(fd, buf, 1 << 20);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = io_err(err, "cannot read", path);
            goto out;
        }
        if (r == 0)
            break;
        EVP_DigestUpdate(md, buf, (size_t)r);
        *size += r;
    }
    EVP_DigestFinal_ex(md, sum, &len);
    for (unsigned i = 0; i < len && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", sum[i]);
out:
    if (fd >= 0)
        close(fd);
    EVP_MD_CTX_free(md);
    gpf_free(buf);
    return rc;
}

/* Writes data to path through path.tmp, fsync and rename. */
static int write_atomic(const char *path, const char *data, size_t len, gpf_error *err)
{
    int rc = 0, fd = -1;
    char tmp[PATH_MAX];
    if ((rc = path_fmt(tmp, sizeof tmp, err, "%s.tmp", path)) != 0)
        goto out;
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
        rc = io_err(err, "cannot create", tmp);
        goto out;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = io_err(err, "cannot write", tmp);
            goto out;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || rename(tmp, path) != 0)
        rc = io_err(err, "cannot write", path);
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0 && tmp[0])
        unlink(tmp);
    return rc;
}

/* A JSON file of at most GPF_IMAGE_JSON_MAX bytes; NULL when absent or not JSON. */
static json_t *load_json(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > GPF_IMAGE_JSON_MAX)
        return NULL;
    return json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
}

/* ---- open, present ----------------------------------------------------------------- */

int gpf_image_cache_open(const char *dir, gpf_image_cache **out, gpf_error *err)
{
    int rc = 0;
    char path[PATH_MAX], real[PATH_MAX];
    gpf_image_cache *c = NULL;
    *out = NULL;
    if (!dir || !dir[0] || strlen(dir) >= DIR_MAX) {
        rc = gpf_error_set(err, GPF_EINVAL, "image cache: directory missing or too long");
        goto out;
    }
    /* The directory and its missing parents, 0711: pods' user namespaces search through it. */
    gpf_strlcpy(path, dir, sizeof path);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0711) != 0 && errno != EEXIST) {
            rc = io_err(err, "cannot create", path);
            goto out;
        }
        *p = '/';
    }
    if ((rc = mkdir_mode(dir, 0711, err)) != 0)
        goto out;
    if (!realpath(dir, real) || strlen(real) >= DIR_MAX) {
        rc = io_err(err, "cannot resolve", dir);
        goto out;
    }
    c = GPF_NEW(gpf_image_cache);
    gpf_strlcpy(c->dir, real, sizeof c->dir);
    c->rootless = geteuid() != 0;
    static const struct {
        const char *rel;
        mode_t mode;
    } subs[] = {{"blobs", 0700}, {"blobs/sha256", 0700}, {"layout", 0700}, {"locks", 0700}, {"rootfs", 0711}};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", c->dir, subs[i].rel);
        if ((rc = mkdir_mode(path, subs[i].mode, err)) != 0)
            goto out;
    }
    *out = c;
    c = NULL;
out:
    gpf_free(c);
    return rc;
}

void gpf_image_cache_close(gpf_image_cache *c)
{
    gpf_free(c);
}

int gpf_image_present(gpf_image_cache *c, const char *digest, char *rootfs, size_t size)
{
    char path[PATH_MAX];
    if (!c || !gpf_image_digest_valid(digest))
        return 0;
    snprintf(path, sizeof path, "%s/rootfs/%s", c->dir, digest + 7);
    if (!is_dir(path))
        return 0;
    if (rootfs && size > strlen(path))
        gpf_strlcpy(rootfs, path, size);
    else if (rootfs && size)
        rootfs[0] = '\0';
    return 1;
}

/* ---- blobs ------------------------------------------------------------------------- */

/* blobs/sha256/<hex of digest> into out. */
static void blob_path(const gpf_image_cache *c, const char *digest, char *out, size_t size)
{
    snprintf(out, size, "%s/blobs/sha256/%.64s", c->dir, digest + 7);
}

/* 1 when the blob is stored with the expected size (size < 0: any size), 0 when it is not
 * stored, -1 when it is stored with another size (then the descriptor is wrong: a blob is
 * stored only after its digest was checked, and synced before it got its name). */
static int blob_have(const gpf_image_cache *c, const char *digest, int64_t size)
{
    char path[PATH_MAX];
    struct stat st;
    blob_path(c, digest, path, sizeof path);
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    return size < 0 || st.st_size == size ? 1 : -1;
}

/* 0 when the file at path hashes to digest with the expected size (size < 0: any size up
 * to max), else GPF_EMALFORMED (or GPF_EIO). */
static int blob_check(const char *path, const char *digest, int64_t size, int64_t max, gpf_error *err)
{
    char hex[HEX_LEN + 1] = "";
    int64_t got = 0;
    int rc = hash_file(path, size >= 0 ? size : max, hex, &got, err);
    if (rc != 0)
        return rc;
    if ((size >= 0 && got != size) || got > max)
        return gpf_error_set(err, GPF_EMALFORMED, "blob %.19s…: %lld bytes, expected %lld", digest, (long long)got,
                             (long long)(size >= 0 ? size : max));
    if (strcmp(hex, digest + 7) != 0)
        return gpf_error_set(err, GPF_EMALFORMED, "blob %.19s…: content has digest sha256:%.12s…", digest, hex);
    return 0;
}

/* Fetches one blob into a fresh temporary file beside its place, verifies it and renames
 * it into place; on any failure the temporary file is deleted. */
static int blob_fetch(gpf_image_cache *c, const char *digest, int64_t size, int64_t max, gpf_blob_fetch_fn fetch,
                      void *ctx, gpf_error *err)
{
    int rc = 0, fd = -1;
    char tmp[PATH_MAX] = "", final[PATH_MAX], dir[DIR_MAX + 20];
    if (!fetch) {
        rc = gpf_error_set(err, GPF_ENOTFOUND, "blob %s is not in the cache and there is no fetch function", digest);
        goto out;
    }
    snprintf(dir, sizeof dir, "%s/blobs/sha256", c->dir);
    blob_path(c, digest, final, sizeof final);
    snprintf(tmp, sizeof tmp, "%s/.fetch-%.16s-XXXXXX", dir, digest + 7);
    if ((fd = mkstemp(tmp)) < 0) {
        rc = io_err(err, "cannot create", tmp);
        tmp[0] = '\0';
        goto out;
    }
    close(fd);
    fd = -1;
    gpf_error ferr = {0};
    if ((rc = fetch(ctx, digest, tmp, &ferr)) != 0) {
        if (rc > 0)
            rc = GPF_EIO;
        rc = gpf_error_set(err, rc, "fetching %.19s…: %s", digest, gpf_error_msg(&ferr));
        goto out;
    }
    if ((rc = blob_check(tmp, digest, size, max, err)) != 0)
        goto out;
    if ((fd = open(tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 || fsync(fd) != 0 || rename(tmp, final) != 0) {
        rc = io_err(err, "cannot store", final);
        goto out;
    }
    tmp[0] = '\0';
    sync_dir(dir);
out:
    if (fd >= 0)
        close(fd);
    if (tmp[0])
        unlink(tmp);
    return rc;
}

/* ---- sets of hex digests (gc) --------------------------------------------------------- */

typedef struct hexset {
    char (*v)[HEX_LEN + 1];
    int n, cap;
} hexset;

static int hexset_has(const hexset *s, const char *hex)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], hex))
            return 1;
    return 0;
}

static void hexset_add(hexset *s, const char *hex)
{
    if (strlen(hex) != HEX_LEN || hexset_has(s, hex))
        return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = gpf_reallocarray(s->v, (size_t)s->cap, sizeof *s->v);
    }
    memcpy(s->v[s->n++], hex, HEX_LEN + 1);
}

/* 1 when name is 64 lowercase hex digits. */
static int is_hex_name(const char *name)
{
    char d[80];
    snprintf(d, sizeof d, "sha256:%.70s", name);
    return gpf_image_digest_valid(d);
}

/* ---- layout -------------------------------------------------------------------------- */

/* layout/oci-layout and the layout/blobs symlink, when missing. */
static int layout_prepare(gpf_image_cache *c, gpf_error *err)
{
    int rc = 0;
    char path[PATH_MAX];
    static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
    snprintf(path, sizeof path, "%s/layout/oci-layout", c->dir);
    if (access(path, F_OK) != 0 && (rc = write_atomic(path, layout, sizeof layout - 1, err)) != 0)
        return rc;
    snprintf(path, sizeof path, "%s/layout/blobs", c->dir);
    if (symlink("../blobs", path) != 0 && errno != EEXIST)
        return io_err(err, "cannot link", path);
    return 0;
}

/* Rewrites layout/index.json (under locks/index, which also covers layout_prepare) with the
 * manifest `add` (size bytes) added (NULL: none) and every manifest whose hex is not in
 * keep dropped (keep NULL: drop none) and added to dropped. */
static int index_update(gpf_image_cache *c, const char *add, int64_t size, const hexset *keep, hexset *dropped,
                        gpf_error *err)
{
    int rc = 0, lfd = -1;
    char path[PATH_MAX];
    json_t *root = NULL, *list = json_array();
    char *text = NULL;
    snprintf(path, sizeof path, "%s/locks/index", c->dir);
    if ((lfd = lock_take(path, LOCK_EX)) < 0) {
        rc = io_err(err, "cannot lock", path);
        goto out;
    }
    if ((rc = layout_prepare(c, err)) != 0)
        goto out;
    snprintf(path, sizeof path, "%s/layout/index.json", c->dir);
    root = load_json(path); /* our own file; unreadable: start again (ensure re-adds what it needs) */
    json_t *old = json_object_get(root, "manifests");
    for (size_t i = 0; json_is_array(old) && i < json_array_size(old); i++) {
        json_t *e = json_array_get(old, i);
        const char *d = json_string_value(json_object_get(e, "digest"));
        if (!gpf_image_digest_valid(d) || (add && !strcmp(d, add)))
            continue;
        if (keep && !hexset_has(keep, d + 7)) {
            hexset_add(dropped, d + 7);
            continue;
        }
        json_array_append(list, e);
    }
    if (add)
        json_array_append_new(list, json_pack("{s:s, s:s, s:I, s:{s:s}}", "mediaType", MT_MANIFEST, "digest", add,
                                              "size", (json_int_t)size, "annotations", REF_NAME, add + 7));
    json_decref(root);
    root = json_pack("{s:i, s:s, s:O}", "schemaVersion", 2, "mediaType", MT_INDEX, "manifests", list);
    text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text) {
        rc = gpf_error_set(err, GPF_EINTERNAL, "cannot encode index.json");
        goto out;
    }
    rc = write_atomic(path, text, strlen(text), err);
out:
    lock_drop(lfd);
    free(text);
    json_decref(root);
    json_decref(list);
    return rc;
}

/* ---- ensure ------------------------------------------------------------------------ */

static void say(void (*progress)(void *, const char *), void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(void (*progress)(void *, const char *), void *ctx, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    if (!progress)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    progress(ctx, msg);
}

/* The manifest blob (fetched when missing, checked against digest either way) into a heap
 * string *text of *len bytes. */
static int manifest_load(gpf_image_cache *c, const char *digest, gpf_blob_fetch_fn fetch, void *ctx, char **text,
                         size_t *len, gpf_error *err)
{
    int rc = 0;
    char path[PATH_MAX];
    blob_path(c, digest, path, sizeof path);
    if (blob_have(c, digest, -1) == 1 && blob_check(path, digest, -1, GPF_IMAGE_JSON_MAX, NULL) != 0)
        unlink(path); /* stored but not what it should be: fetch it again */
    if (blob_have(c, digest, -1) != 1 && (rc = blob_fetch(c, digest, -1, GPF_IMAGE_JSON_MAX, fetch, ctx, err)) != 0)
        return rc;
    return gpf_read_file_raw(path, GPF_IMAGE_JSON_MAX, text, len, err);
}

/* The config blob: a JSON object whose rootfs.diff_ids has one entry per layer. */
static int config_check(gpf_image_cache *c, const gpf_image_manifest *m, gpf_error *err)
{
    int rc = 0;
    char path[PATH_MAX];
    blob_path(c, m->config.digest, path, sizeof path);
    json_t *cfg = load_json(path);
    json_t *ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
    if (!json_is_object(cfg) || !json_is_array(ids) || json_array_size(ids) != (size_t)m->nlayers)
        rc = gpf_error_set(err, GPF_EMALFORMED, "image config %.19s…: not an object with one rootfs.diff_ids entry "
                           "per layer (%d)", m->config.digest, m->nlayers);
    json_decref(cfg);
    return rc;
}

/* After umoci failed: re-hashes the layers and deletes those that do not match, so the
 * next ensure fetches them again. How many were bad. */
static int layers_recheck(gpf_image_cache *c, const gpf_image_manifest *m)
{
    int bad = 0;
    char path[PATH_MAX];
    for (int i = 0; i < m->nlayers; i++) {
        blob_path(c, m->layers[i].digest, path, sizeof path);
        if (access(path, F_OK) == 0 && blob_check(path, m->layers[i].digest, m->layers[i].size, GPF_IMAGE_BLOB_MAX,
                                                  NULL) != 0) {
            unlink(path);
            bad++;
        }
    }
    return bad;
}

/* Runs umoci unpack into tmp and renames tmp/rootfs to final (synced first: after a crash
 * final holds all of it or does not exist). */
static int unpack(gpf_image_cache *c, const char *hex, const char *tmp, const char *final, gpf_error *err)
{
    int rc = 0, code = 0, fd = -1;
    char image[PATH_MAX], from[PATH_MAX], out[2048];
    snprintf(image, sizeof image, "%s/layout:%s", c->dir, hex);
    char *argv[] = {"umoci", "unpack", "--image", image, (char *)tmp, NULL, NULL};
    if (c->rootless) {
        argv[2] = "--rootless";
        argv[3] = "--image";
        argv[4] = image;
        argv[5] = (char *)tmp;
    }
    if ((rc = gpf_subproc_run(argv, UMOCI_TIMEOUT_MS, NULL, NULL, out, sizeof out, &code, err)) != 0)
        goto out;
    if (code != 0) {
        size_t n = strlen(out);
        while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
            out[--n] = '\0';
        rc = gpf_error_set(err, GPF_EIO, "umoci unpack failed: %.200s", out);
        goto out;
    }
    if ((rc = path_fmt(from, sizeof from, err, "%s/rootfs", tmp)) != 0)
        goto out;
    if ((fd = open(from, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || syncfs(fd) != 0) {
        rc = io_err(err, "cannot sync", from);
        goto out;
    }
    if (rename(from, final) != 0) {
        rc = io_err(err, "cannot rename into", final);
        goto out;
    }
    snprintf(from, sizeof from, "%s/rootfs", c->dir);
    sync_dir(from);
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

int gpf_image_ensure(gpf_image_cache *c, const char *digest, gpf_blob_fetch_fn fetch, void *ctx,
                     void (*progress)(void *ctx, const char *msg), char *rootfs, size_t size, gpf_error *err)
{
    int rc = 0, gfd = -1, ifd = -1;
    char final[PATH_MAX], tmp[PATH_MAX] = "", path[PATH_MAX];
    char *text = NULL;
    size_t len = 0;
    gpf_image_manifest *m = NULL;
    if (!c || !gpf_image_digest_valid(digest)) {
        rc = gpf_error_set(err, GPF_EINVAL, "image digest %.80s: not sha256:<64 lowercase hex>", digest ? digest : "");
        goto out;
    }
    const char *hex = digest + 7;
    snprintf(final, sizeof final, "%s/rootfs/%s", c->dir, hex);
    if (!rootfs || size <= strlen(final)) {
        rc = gpf_error_set(err, GPF_EINVAL, "image rootfs buffer too small");
        goto out;
    }
    snprintf(path, sizeof path, "%s/.lock", c->dir);
    if ((gfd = lock_take(path, LOCK_SH)) < 0) {
        rc = io_err(err, "cannot lock", path);
        goto out;
    }
    if (is_dir(final))
        goto out;
    snprintf(path, sizeof path, "%s/locks/%s", c->dir, hex);
    if ((ifd = lock_take(path, LOCK_EX)) < 0) {
        rc = io_err(err, "cannot lock", path);
        goto out;
    }
    if (is_dir(final)) /* another thread unpacked it while we waited */
        goto out;
    snprintf(tmp, sizeof tmp, "%s/unpack.%s.tmp", c->dir, hex);
    if ((rc = gpf_rtsys_rm_rf(tmp, err)) != 0) /* left by a crash */
        goto out;

    m = GPF_NEW(gpf_image_manifest);
    if ((rc = manifest_load(c, digest, fetch, ctx, &text, &len, err)) != 0 ||
        (rc = gpf_image_manifest_parse(text, len, m, err)) != 0)
        goto out;
    int missing = 0;
    int64_t bytes = 0;
    for (int i = -1; i < m->nlayers; i++) {
        const gpf_image_desc *d = i < 0 ? &m->config : &m->layers[i];
        int dup = 0;
        for (int j = 0; j < i && !dup; j++)
            dup = !strcmp(m->layers[j].digest, d->digest);
        int have = blob_have(c, d->digest, d->size);
        if (have < 0) {
            rc = gpf_error_set(err, GPF_EMALFORMED, "manifest: %.19s… is stored with another size than %lld",
                               d->digest, (long long)d->size);
            goto out;
        }
        if (!dup && !have) {
            missing++;
            bytes += d->size;
        }
    }
    if (missing)
        say(progress, ctx, "fetching %d blob%s, %lld %s", missing, missing == 1 ? "" : "s",
            (long long)(bytes < 1000000 ? (bytes + 999) / 1000 : (bytes + 500000) / 1000000),
            bytes < 1000000 ? "kB" : "MB");
    for (int i = -1; i < m->nlayers; i++) {
        const gpf_image_desc *d = i < 0 ? &m->config : &m->layers[i];
        if (blob_have(c, d->digest, d->size) != 1 &&
            (rc = blob_fetch(c, d->digest, d->size, d->size, fetch, ctx, err)) != 0)
            goto out;
    }
    if ((rc = config_check(c, m, err)) != 0 || (rc = index_update(c, digest, (int64_t)len, NULL, NULL, err)) != 0)
        goto out;
    say(progress, ctx, "unpacking");
    if ((rc = unpack(c, hex, tmp, final, err)) != 0) {
        int bad = layers_recheck(c, m);
        if (bad && err)
            gpf_error_set(err, rc, "%.180s (%d stored layer%s did not match %s digest: deleted)", gpf_error_msg(err),
                          bad, bad == 1 ? "" : "s", bad == 1 ? "its" : "their");
        goto out;
    }
out:
    if (tmp[0])
        gpf_rtsys_rm_rf(tmp, NULL);
    if (rc == 0)
        gpf_strlcpy(rootfs, final, size);
    lock_drop(ifd);
    lock_drop(gfd);
    gpf_free(text);
    gpf_free(m);
    return rc;
}

/* ---- gc ---------------------------------------------------------------------------- */

/* Removes path (a file or a tree); 0, or GPF_EIO. */
static int remove_any(const char *path, gpf_error *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (S_ISDIR(st.st_mode))
        return gpf_rtsys_rm_rf(path, err);
    if (unlink(path) != 0 && errno != ENOENT)
        return io_err(err, "cannot remove", path);
    return 0;
}

/* Every entry of dir/sub for which drop(name, arg) says 1 is renamed to dir/trash.<name>
 * when rename is set, then removed; with gone non-NULL, each removed name is added. */
static int sweep(gpf_image_cache *c, const char *sub, int (*drop)(const char *name, const void *arg),
                 const void *arg, int rename_first, hexset *gone, gpf_error *err)
{
    int rc = 0;
    char dir[DIR_MAX + 40], path[PATH_MAX], trash[PATH_MAX];
    snprintf(dir, sizeof dir, "%s%s%.32s", c->dir, sub[0] ? "/" : "", sub);
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : io_err(err, "cannot read", dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !drop(de->d_name, arg))
            continue;
        if (path_fmt(path, sizeof path, NULL, "%s/%s", dir, de->d_name) != 0)
            continue;
        const char *victim = path;
        if (rename_first) {
            /* Away from its name first: a crash mid-removal leaves no half image there. */
            if (path_fmt(trash, sizeof trash, NULL, "%s/trash.%s", c->dir, de->d_name) != 0)
                continue;
            if (rename(path, trash) != 0) {
                if (!rc)
                    rc = io_err(err, "cannot move away", path);
                continue;
            }
            victim = trash;
        }
        int r = remove_any(victim, rc ? NULL : err);
        if (r != 0 && !rc)
            rc = r;
        if (r == 0 && gone)
            hexset_add(gone, de->d_name);
    }
    closedir(d);
    return rc;
}

static int drop_image(const char *name, const void *keep)
{
    return is_hex_name(name) && !hexset_has(keep, name);
}

static int drop_blob(const char *name, const void *keep)
{
    return !hexset_has(keep, name); /* also a fetch's leftover .fetch-<hex>-XXXXXX */
}

static int drop_leftover(const char *name, const void *unused)
{
    size_t n = strlen(name);
    (void)unused;
    return !strncmp(name, "trash.", 6) || (!strncmp(name, "unpack.", 7) && n > 4 && !strcmp(name + n - 4, ".tmp"));
}

int gpf_image_gc(gpf_image_cache *c, const char *const *keep, int n, gpf_error *err)
{
    int rc = 0, gfd = -1;
    char path[PATH_MAX];
    hexset images = {0}, blobs = {0}, gone = {0};
    gpf_image_manifest *m = GPF_NEW(gpf_image_manifest);
    if (!c || n < 0 || (n > 0 && !keep)) {
        rc = gpf_error_set(err, GPF_EINVAL, "image gc: no cache or keep list");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        if (!gpf_image_digest_valid(keep[i])) {
            rc = gpf_error_set(err, GPF_EINVAL, "image gc: keep[%d] %.80s: not sha256:<64 lowercase hex>", i,
                               keep[i] ? keep[i] : "(null)");
            goto out;
        }
    }
    snprintf(path, sizeof path, "%s/.lock", c->dir);
    if ((gfd = lock_take(path, LOCK_EX | LOCK_NB)) < 0) {
        rc = errno == EWOULDBLOCK ? 0 : io_err(err, "cannot lock", path); /* busy: an ensure runs */
        goto out;
    }
    /* What stays: the kept manifests and the blobs they name. */
    for (int i = 0; i < n; i++) {
        char *text = NULL;
        size_t len = 0;
        hexset_add(&images, keep[i] + 7);
        hexset_add(&blobs, keep[i] + 7);
        blob_path(c, keep[i], path, sizeof path);
        if (gpf_read_file_raw(path, GPF_IMAGE_JSON_MAX, &text, &len, NULL) == 0 &&
            gpf_image_manifest_parse(text, len, m, NULL) == 0) {
            hexset_add(&blobs, m->config.digest + 7);
            for (int l = 0; l < m->nlayers; l++)
                hexset_add(&blobs, m->layers[l].digest + 7);
        }
        gpf_free(text);
    }
    if ((rc = sweep(c, "rootfs", drop_image, &images, 1, &gone, err)) != 0 ||
        (rc = index_update(c, NULL, 0, &images, &gone, err)) != 0 ||
        (rc = sweep(c, "blobs/sha256", drop_blob, &blobs, 0, NULL, err)) != 0 ||
        (rc = sweep(c, "", drop_leftover, NULL, 0, NULL, err)) != 0 ||
        (rc = sweep(c, "locks", drop_image, &images, 0, NULL, err)) != 0)
        goto out;
    rc = gone.n;
out:
    lock_drop(gfd);
    gpf_free(images.v);
    gpf_free(blobs.v);
    gpf_free(gone.v);
    gpf_free(m);
    return rc;
}
