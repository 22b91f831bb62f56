/* The agent's image cache: a tiny OCI image built here (a tar+gzip layer holding a root-owned
 * file, a file of uid 1234 and a symlink; a plain tar layer; config; manifest) is fetched
 * blob by blob and unpacked with the real umoci. Checked: one unpack per image (a second
 * ensure does not fetch), a tampered or oversized blob refused and deleted, a manifest
 * with a malformed digest refused, a crashed unpack's leftover removed, gc keeping what
 * it is told to keep, and the manifest parser's limits. Tests that unpack skip (cmocka
 * skip, printed) only where umoci is not installed.
 *
 * With GPF_TEST_IMAGE=<an OCI layout naming "default"> (scripts/build-image.sh
 * --print-path), one more test unpacks that image and prints how long it took. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/image_cache.h"
#include "helpers/tree_fixture.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/timeutil.h"

#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"

static int have_umoci;

/* ---- fixture: an OCI image made by hand ------------------------------------------------ */

typedef struct image {
    char manifest[80], config[80], layer_gz[80], layer_tar[80];
} image;

typedef struct fixture {
    char src[512];        /* where fetch copies from: src/<hex> */
    char cache[512];      /* the cache's directory */
    gpf_image_cache *c;
    image a, b;           /* b shares a's gzip layer and has its own config and plain layer */
} fixture;

typedef struct fetch_ctx {
    const char *src;
    int calls;
    char tamper[80];      /* this digest is served with one byte changed */
    char grow[80];        /* this digest is served with a byte appended */
    char msgs[512];       /* progress messages, joined with '|' */
} fetch_ctx;

static void sha256_hex(const void *data, size_t len, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Stores data as a blob under src; its digest into digest ("sha256:<hex>"). */
static void put_blob(const char *src, const void *data, size_t len, char *digest)
{
    char hex[65], path[PATH_MAX];
    sha256_hex(data, len, hex);
    snprintf(digest, 80, "sha256:%s", hex);
    snprintf(path, sizeof path, "%s/%s", src, hex);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = gpf_malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* One ustar entry (type '0' file, '2' symlink, '5' directory) appended to tar. */
static void tar_entry(FILE *tar, const char *name, char type, int mode, int uid, const char *body)
{
    unsigned char h[512] = {0};
    size_t len = type == '0' ? strlen(body) : 0;
    snprintf((char *)h, 100, "%s", name);
    snprintf((char *)h + 100, 8, "%07o", mode);
    snprintf((char *)h + 108, 8, "%07o", uid);
    snprintf((char *)h + 116, 8, "%07o", uid);
    snprintf((char *)h + 124, 12, "%011o", (unsigned)len);
    snprintf((char *)h + 136, 12, "%011o", 1735689600u);
    memset(h + 148, ' ', 8);
    h[156] = (unsigned char)type;
    if (type == '2')
        snprintf((char *)h + 157, 100, "%s", body);
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    fwrite(h, 1, 512, tar);
    if (len) {
        static const char zero[512];
        fwrite(body, 1, len, tar);
        fwrite(zero, 1, (512 - len % 512) % 512, tar);
    }
}

static void tar_end(FILE *tar)
{
    static const char zero[1024];
    fwrite(zero, 1, sizeof zero, tar);
    fclose(tar);
}

/* A layer: its tar at work/name (gzip -n'd when gz), stored as a blob; digest and the
 * uncompressed tar's digest (diff_id). */
static void make_layer(const char *src, const char *work, const char *name, int gz, int variant, char *digest,
                       char *diff_id)
{
    char path[PATH_MAX], cmd[PATH_MAX * 2], hex[65];
    snprintf(path, sizeof path, "%s/%s", work, name);
    FILE *tar = fopen(path, "wb");
    assert_non_null(tar);
    if (variant == 0) {
        tar_entry(tar, "etc/", '5', 0755, 0, "");
        tar_entry(tar, "hello.txt", '0', 0644, 0, "hello\n");
        tar_entry(tar, "etc/owned", '0', 0600, 1234, "mine\n");
        tar_entry(tar, "link", '2', 0777, 0, "hello.txt");
    } else {
        tar_entry(tar, "two.txt", '0', 0644, 0, "layer two\n");
    }
    tar_end(tar);
    size_t len = 0;
    char *data = slurp(path, &len);
    sha256_hex(data, len, hex);
    snprintf(diff_id, 80, "sha256:%s", hex);
    gpf_free(data);
    if (gz) {
        snprintf(cmd, sizeof cmd, "gzip -n -f '%s'", path);
        assert_int_equal(system(cmd), 0);
        snprintf(path, sizeof path, "%s/%s.gz", work, name);
    }
    data = slurp(path, &len);
    put_blob(src, data, len, digest);
    gpf_free(data);
}

/* Stores a manifest naming config and layers (media types of the given layers: gz or not)
 * and returns its digest in out. */
static void make_manifest(const char *src, const char *config, const char *const *layers, const int *gz, int n,
                          char *out)
{
    json_t *arr = json_array();
    char *text = NULL;
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", src, layers[i] + 7);
        long long size = stat(path, &st) == 0 ? (long long)st.st_size : 1;
        json_array_append_new(arr, json_pack("{s:s, s:s, s:I}", "mediaType",
                                             gz[i] ? "application/vnd.oci.image.layer.v1.tar+gzip"
                                                   : "application/vnd.oci.image.layer.v1.tar",
                                             "digest", layers[i], "size", (json_int_t)size));
    }
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", src, config + 7);
    assert_int_equal(stat(path, &st), 0);
    json_t *m = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType", MT_MANIFEST,
                          "config", "mediaType", "application/vnd.oci.image.config.v1+json", "digest", config,
                          "size", (json_int_t)st.st_size, "layers", arr);
    text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
    put_blob(src, text, strlen(text), out);
    free(text);
    json_decref(m);
}

static void make_config(const char *src, const char *const *diff_ids, int n, char *out)
{
    json_t *ids = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(ids, json_string(diff_ids[i]));
    json_t *cfg = json_pack("{s:s, s:s, s:{s:[s]}, s:{s:s, s:o}}", "architecture", "amd64", "os", "linux", "config",
                            "Env", "PATH=/usr/bin:/bin", "rootfs", "type", "layers", "diff_ids", ids);
    char *text = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
    put_blob(src, text, strlen(text), out);
    free(text);
    json_decref(cfg);
}

static int setup(void **state)
{
    fixture *f = GPF_NEW(fixture);
    char work[512], diff_gz[80], diff_tar[80], diff_b[80], layer_b[80];
    gpf_error err = {0};
    gpf_test_tree_new("gpf-img-src", f->src, sizeof f->src);
    gpf_test_tree_new("gpf-img-work", work, sizeof work);
    gpf_test_tree_new("gpf-img-cache", f->cache, sizeof f->cache);
    make_layer(f->src, work, "one.tar", 1, 0, f->a.layer_gz, diff_gz);
    make_layer(f->src, work, "two.tar", 0, 1, f->a.layer_tar, diff_tar);
    const char *ids[] = {diff_gz, diff_tar};
    make_config(f->src, ids, 2, f->a.config);
    const char *layers[] = {f->a.layer_gz, f->a.layer_tar};
    const int gz[] = {1, 0};
    make_manifest(f->src, f->a.config, layers, gz, 2, f->a.manifest);
    /* b: a's gzip layer and a plain layer of its own. */
    char bwork[600];
    snprintf(bwork, sizeof bwork, "%s/b", work);
    assert_int_equal(mkdir(bwork, 0700), 0);
    FILE *tar = NULL;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/three.tar", bwork);
    tar = fopen(path, "wb");
    assert_non_null(tar);
    tar_entry(tar, "three.txt", '0', 0644, 0, "image b\n");
    tar_end(tar);
    size_t len = 0;
    char *data = slurp(path, &len), hex[65];
    sha256_hex(data, len, hex);
    snprintf(diff_b, sizeof diff_b, "sha256:%s", hex);
    put_blob(f->src, data, len, layer_b);
    gpf_free(data);
    const char *bids[] = {diff_gz, diff_b};
    make_config(f->src, bids, 2, f->b.config);
    const char *blayers[] = {f->a.layer_gz, layer_b};
    make_manifest(f->src, f->b.config, blayers, gz, 2, f->b.manifest);
    memcpy(f->b.layer_gz, f->a.layer_gz, sizeof f->b.layer_gz);
    memcpy(f->b.layer_tar, layer_b, sizeof f->b.layer_tar);
    gpf_test_tree_rm(work);
    assert_int_equal(gpf_image_cache_open(f->cache, &f->c, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    gpf_image_cache_close(f->c);
    gpf_test_tree_rm(f->src);
    gpf_test_tree_rm(f->cache);
    gpf_free(f);
    return 0;
}

/* The fetch function: copies src/<hex> to path (tampered or grown when asked). */
static int fetch_copy(void *vctx, const char *digest, const char *path, gpf_error *err)
{
    fetch_ctx *x = vctx;
    char from[PATH_MAX];
    size_t len = 0;
    x->calls++;
    snprintf(from, sizeof from, "%s/%s", x->src, digest + 7);
    if (access(from, R_OK) != 0)
        return gpf_error_set(err, GPF_ENOTFOUND, "no blob %s", digest);
    char *data = slurp(from, &len);
    if (!strcmp(x->tamper, digest) && len > 0)
        data[len / 2] ^= 0x20;
    FILE *out = fopen(path, "wb");
    assert_non_null(out);
    fwrite(data, 1, len, out);
    if (!strcmp(x->grow, digest))
        fputc('!', out);
    fclose(out);
    gpf_free(data);
    return 0;
}

static void progress(void *vctx, const char *msg)
{
    fetch_ctx *x = vctx;
    size_t n = strlen(x->msgs);
    snprintf(x->msgs + n, sizeof x->msgs - n, "%s%s", n ? "|" : "", msg);
}

static int blob_stored(const fixture *f, const char *digest)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", f->cache, digest + 7);
    return access(path, F_OK) == 0;
}

/* Entries of dir whose name starts with prefix. */
static int count_prefix(const char *dir, const char *prefix)
{
    char cmd[PATH_MAX * 2], buf[64];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -c '^%s' || true", dir, prefix);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    int n = fgets(buf, sizeof buf, p) ? atoi(buf) : -1;
    pclose(p);
    return n;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_unpack_once(void **state)
{
    fixture *f = *state;
    if (!have_umoci)
        skip();
    fetch_ctx x = {.src = f->src};
    gpf_error err = {0};
    char rootfs[PATH_MAX], again[PATH_MAX], path[PATH_MAX + 32], buf[64], want[PATH_MAX];
    assert_int_equal(gpf_image_present(f->c, f->a.manifest, NULL, 0), 0);
    int rc = gpf_image_ensure(f->c, f->a.manifest, fetch_copy, &x, progress, rootfs, sizeof rootfs, &err);
    assert_int_equal(rc, 0);
    assert_int_equal(x.calls, 4); /* manifest, config, two layers */
    assert_non_null(strstr(x.msgs, "fetching 3 blobs, "));
    assert_non_null(strstr(x.msgs, "unpacking"));
    snprintf(want, sizeof want, "%s/rootfs/%s", f->cache, f->a.manifest + 7);
    assert_string_equal(rootfs, want);
    assert_string_equal(gpf_test_tree_get(rootfs, "hello.txt", buf, sizeof buf), "hello\n");
    assert_string_equal(gpf_test_tree_get(rootfs, "two.txt", buf, sizeof buf), "layer two\n");
    struct stat st;
    snprintf(path, sizeof path, "%s/etc/owned", rootfs);
    assert_int_equal(lstat(path, &st), 0);
    if (geteuid() == 0) { /* as root umoci keeps the layer's owners */
        assert_int_equal(st.st_uid, 1234);
        snprintf(path, sizeof path, "%s/hello.txt", rootfs);
        assert_int_equal(lstat(path, &st), 0);
        assert_int_equal(st.st_uid, 0);
    }
    snprintf(path, sizeof path, "%s/link", rootfs);
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, "hello.txt");

    /* Once per image: the second call neither fetches nor unpacks. */
    x.msgs[0] = '\0';
    int64_t t0 = gpf_mono_us();
    assert_int_equal(gpf_image_ensure(f->c, f->a.manifest, fetch_copy, &x, progress, again, sizeof again, &err), 0);
    print_message("second ensure: %lld us\n", (long long)(gpf_mono_us() - t0));
    assert_int_equal(x.calls, 4);
    assert_string_equal(x.msgs, "");
    assert_string_equal(again, rootfs);
    assert_int_equal(gpf_image_present(f->c, f->a.manifest, again, sizeof again), 1);
    assert_string_equal(again, rootfs);
    assert_int_equal(gpf_image_present(f->c, f->b.manifest, NULL, 0), 0);
    /* No leftovers: no bundle, no partial download; the layout names the manifest. */
    assert_int_equal(count_prefix(f->cache, "unpack\\."), 0);
    snprintf(path, sizeof path, "%s/blobs/sha256", f->cache);
    assert_int_equal(count_prefix(path, "\\.fetch-"), 0);
    snprintf(path, sizeof path, "%s/layout/index.json", f->cache);
    json_t *idx = json_load_file(path, 0, NULL);
    assert_non_null(idx);
    json_t *e = json_array_get(json_object_get(idx, "manifests"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "digest")), f->a.manifest);
    assert_string_equal(json_string_value(json_object_get(json_object_get(e, "annotations"),
                                                          "org.opencontainers.image.ref.name")),
                        f->a.manifest + 7);
    json_decref(idx);

    /* An image whose blobs are all here already (b shares a's gzip layer): only what is missing. */
    x.calls = 0;
    x.msgs[0] = '\0';
    assert_int_equal(gpf_image_ensure(f->c, f->b.manifest, fetch_copy, &x, progress, again, sizeof again, &err), 0);
    assert_int_equal(x.calls, 3); /* manifest, config, its own layer */
    assert_non_null(strstr(x.msgs, "fetching 2 blobs, "));
    assert_string_equal(gpf_test_tree_get(again, "three.txt", buf, sizeof buf), "image b\n");
}

static void test_tampered_blob(void **state)
{
    fixture *f = *state;
    if (!have_umoci)
        skip();
    fetch_ctx x = {.src = f->src};
    gpf_error err = {0};
    char rootfs[PATH_MAX];
    /* A layer whose bytes are changed: refused, not kept. */
    snprintf(x.tamper, sizeof x.tamper, "%s", f->a.layer_gz);
    int rc = gpf_image_ensure(f->c, f->a.manifest, fetch_copy, &x, NULL, rootfs, sizeof rootfs, &err);
    assert_int_equal(rc, GPF_EMALFORMED);
    assert_non_null(strstr(err.msg, "digest"));
    assert_false(blob_stored(f, f->a.layer_gz));
    assert_int_equal(gpf_image_present(f->c, f->a.manifest, NULL, 0), 0);
    char dir[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/blobs/sha256", f->cache);
    assert_int_equal(count_prefix(dir, "\\.fetch-"), 0);
    /* One byte more than the descriptor says: refused too. */
    x.tamper[0] = '\0';
    snprintf(x.grow, sizeof x.grow, "%s", f->a.layer_tar);
    gpf_error_clear(&err);
    rc = gpf_image_ensure(f->c, f->a.manifest, fetch_copy, &x, NULL, rootfs, sizeof rootfs, &err);
    assert_int_equal(rc, GPF_EMALFORMED);
    assert_non_null(strstr(err.msg, "bytes"));
    assert_false(blob_stored(f, f->a.layer_tar));
    /* A manifest that is not the one named. */
    x.grow[0] = '\0';
    snprintf(x.tamper, sizeof x.tamper, "%s", f->b.manifest);
    gpf_error_clear(&err);
    rc = gpf_image_ensure(f->c, f->b.manifest, fetch_copy, &x, NULL, rootfs, sizeof rootfs, &err);
    assert_int_equal(rc, GPF_EMALFORMED);
    assert_false(blob_stored(f, f->b.manifest));
    /* Served honestly, the same image unpacks. */
    x.tamper[0] = '\0';
    assert_int_equal(gpf_image_ensure(f->c, f->a.manifest, fetch_copy, &x, NULL, rootfs, sizeof rootfs, &err), 0);
    assert_int_equal(gpf_image_present(f->c, f->a.manifest, NULL, 0), 1);
}

static void test_malformed_manifest(void **state)
{
    fixture *f = *state;
    fetch_ctx x = {.src = f->src};
    gpf_error err = {0};
    char rootfs[PATH_MAX], bad[80], text[1024];
    /* A malformed digest as the argument: refused before anything is fetched. */
    assert_int_equal(gpf_image_ensure(f->c, "sha256:ABC", fetch_copy, &x, NULL, rootfs, sizeof rootfs, &err),
                     GPF_EINVAL);
    assert_int_equal(gpf_image_ensure(f->c, "sha256:../../etc", fetch_copy, &x, NULL, rootfs, sizeof rootfs, &err),
                     GPF_EINVAL);
    assert_int_equal(x.calls, 0);
    /* A manifest naming a layer by a malformed digest: fetched, parsed, refused. */
    snprintf(text, sizeof text,
             "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":"
             "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":10},\"layers\":[{\"mediaType\":"
             "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:%.63sG\",\"size\":10}]}",
             MT_MANIFEST, f->a.config, f->a.layer_tar + 7);
    put_blob(f->src, text, strlen(text), bad);
    int rc = gpf_image_ensure(f->c, bad, fetch_copy, &x, NULL, rootfs, sizeof rootfs, &err);
    assert_int_equal(rc, GPF_EMALFORMED);
    assert_non_null(strstr(err.msg, "layers[0].digest"));
    assert_int_equal(x.calls, 1); /* the manifest only */
    assert_int_equal(gpf_image_present(f->c, bad, NULL, 0), 0);
    /* A manifest giving a stored blob another size: refused, and the stored blob stays. */
    char from[PATH_MAX], to[PATH_MAX], cmd[PATH_MAX * 3], wrong[80];
    snprintf(from, sizeof from, "%s/%s", f->src, f->a.layer_tar + 7);
    snprintf(to, sizeof to, "%s/blobs/sha256/%s", f->cache, f->a.layer_tar + 7);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    assert_int_equal(system(cmd), 0);
    struct stat st;
    assert_int_equal(stat(to, &st), 0);
    snprintf(text, sizeof text,
             "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":"
             "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":10},\"layers\":[{\"mediaType\":"
             "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":%lld}]}",
             MT_MANIFEST, f->a.config, f->a.layer_tar, (long long)st.st_size + 1);
    put_blob(f->src, text, strlen(text), wrong);
    x.calls = 0;
    gpf_error_clear(&err);
    rc = gpf_image_ensure(f->c, wrong, fetch_copy, &x, NULL, rootfs, sizeof rootfs, &err);
    assert_int_equal(rc, GPF_EMALFORMED);
    assert_non_null(strstr(err.msg, "another size"));
    assert_int_equal(x.calls, 1);
    assert_true(blob_stored(f, f->a.layer_tar));
}

static void test_leftover_tmp_removed(void **state)
{
    fixture *f = *state;
    if (!have_umoci)
        skip();
    fetch_ctx x = {.src = f->src};
    gpf_error err = {0};
    char rootfs[PATH_MAX], rel[128], buf[16], path[PATH_MAX + 32];
    /* What a crash in the middle of an unpack leaves behind. */
    snprintf(rel, sizeof rel, "unpack.%s.tmp/rootfs/junk", f->a.manifest + 7);
    gpf_test_tree_put(f->cache, rel, "half an image");
    assert_int_equal(gpf_image_present(f->c, f->a.manifest, NULL, 0), 0);
    assert_int_equal(gpf_image_ensure(f->c, f->a.manifest, fetch_copy, &x, NULL, rootfs, sizeof rootfs, &err), 0);
    assert_string_equal(gpf_test_tree_get(rootfs, "hello.txt", buf, sizeof buf), "hello\n");
    snprintf(path, sizeof path, "%s/junk", rootfs);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(count_prefix(f->cache, "unpack\\."), 0);
}

static void test_umoci_failure(void **state)
{
    fixture *f = *state;
    if (!have_umoci)
        skip();
    fetch_ctx x = {.src = f->src};
    gpf_error err = {0};
    char rootfs[PATH_MAX], manifest[80], layer[80], config[80];
    /* Bytes that match their digest but are no gzip stream: umoci fails, nothing remains. */
    static const char junk[] = "this is not a gzip stream";
    put_blob(f->src, junk, sizeof junk - 1, layer);
    const char *ids[] = {layer};
    make_config(f->src, ids, 1, config);
    const char *layers[] = {layer};
    const int gz[] = {1};
    make_manifest(f->src, config, layers, gz, 1, manifest);
    int rc = gpf_image_ensure(f->c, manifest, fetch_copy, &x, NULL, rootfs, sizeof rootfs, &err);
    assert_int_equal(rc, GPF_EIO);
    assert_non_null(strstr(err.msg, "umoci unpack failed"));
    assert_int_equal(gpf_image_present(f->c, manifest, NULL, 0), 0);
    assert_int_equal(count_prefix(f->cache, "unpack\\."), 0);
    char dir[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/rootfs", f->cache);
    assert_int_equal(count_prefix(dir, ""), 0);
}

static void test_gc(void **state)
{
    fixture *f = *state;
    if (!have_umoci)
        skip();
    fetch_ctx x = {.src = f->src};
    gpf_error err = {0};
    char rootfs[PATH_MAX], path[PATH_MAX + 32];
    assert_int_equal(gpf_image_ensure(f->c, f->a.manifest, fetch_copy, &x, NULL, rootfs, sizeof rootfs, &err), 0);
    assert_int_equal(gpf_image_ensure(f->c, f->b.manifest, fetch_copy, &x, NULL, rootfs, sizeof rootfs, &err), 0);
    /* While an ensure runs (it holds the cache's lock shared), gc does nothing. */
    snprintf(path, sizeof path, "%s/.lock", f->cache);
    int lfd = open(path, O_RDWR);
    assert_true(lfd >= 0);
    assert_int_equal(flock(lfd, LOCK_SH), 0);
    const char *keep[] = {f->a.manifest};
    assert_int_equal(gpf_image_gc(f->c, keep, 1, &err), 0);
    assert_int_equal(gpf_image_present(f->c, f->b.manifest, NULL, 0), 1);
    close(lfd);
    /* Keep a: b goes (rootfs, manifest, config, its own layer), a and the shared layer stay. */
    assert_int_equal(gpf_image_gc(f->c, keep, 1, &err), 1);
    assert_int_equal(gpf_image_present(f->c, f->a.manifest, rootfs, sizeof rootfs), 1);
    assert_int_equal(gpf_image_present(f->c, f->b.manifest, NULL, 0), 0);
    assert_true(blob_stored(f, f->a.manifest) && blob_stored(f, f->a.config));
    assert_true(blob_stored(f, f->a.layer_gz) && blob_stored(f, f->a.layer_tar));
    assert_false(blob_stored(f, f->b.manifest) || blob_stored(f, f->b.config) || blob_stored(f, f->b.layer_tar));
    snprintf(path, sizeof path, "%s/layout/index.json", f->cache);
    json_t *idx = json_load_file(path, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(idx, "manifests")), 1);
    json_decref(idx);
    assert_int_equal(count_prefix(f->cache, "trash\\."), 0);
    /* Nothing more to remove; a malformed keep entry is refused; keep nothing: a goes too. */
    assert_int_equal(gpf_image_gc(f->c, keep, 1, &err), 0);
    const char *badkeep[] = {"sha256:nope"};
    assert_int_equal(gpf_image_gc(f->c, badkeep, 1, &err), GPF_EINVAL);
    assert_int_equal(gpf_image_present(f->c, f->a.manifest, NULL, 0), 1);
    assert_int_equal(gpf_image_gc(f->c, NULL, 0, &err), 1);
    assert_int_equal(gpf_image_present(f->c, f->a.manifest, NULL, 0), 0);
    snprintf(path, sizeof path, "%s/blobs/sha256", f->cache);
    assert_int_equal(count_prefix(path, ""), 0);
    /* And it comes back when asked for again. */
    x.calls = 0;
    assert_int_equal(gpf_image_ensure(f->c, f->a.manifest, fetch_copy, &x, NULL, rootfs, sizeof rootfs, &err), 0);
    assert_int_equal(x.calls, 4);
}

typedef struct racer {
    fixture *f;
    fetch_ctx x;
    int rc;
    char rootfs[PATH_MAX];
} racer;

static void *race_ensure(void *arg)
{
    racer *r = arg;
    gpf_error err = {0};
    r->rc = gpf_image_ensure(r->f->c, r->f->a.manifest, fetch_copy, &r->x, NULL, r->rootfs, sizeof r->rootfs, &err);
    return NULL;
}

static void test_concurrent_ensure(void **state)
{
    fixture *f = *state;
    if (!have_umoci)
        skip();
    /* Four threads want the same image at once: each blob is fetched once, it is unpacked once,
     * all four get the same root filesystem. */
    racer r[4];
    pthread_t t[4];
    memset(r, 0, sizeof r);
    for (int i = 0; i < 4; i++) {
        r[i].f = f;
        r[i].x.src = f->src;
        assert_int_equal(pthread_create(&t[i], NULL, race_ensure, &r[i]), 0);
    }
    int calls = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].rc, 0);
        assert_string_equal(r[i].rootfs, r[0].rootfs);
        calls += r[i].x.calls;
    }
    assert_int_equal(calls, 4);
    assert_int_equal(count_prefix(f->cache, "unpack\\."), 0);
}

/* ---- the manifest parser alone ------------------------------------------------------- */

static int parse(const char *text, gpf_error *err)
{
    static gpf_image_manifest m;
    return gpf_image_manifest_parse(text, strlen(text), &m, err);
}

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define CFG "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:" D64 "\",\"size\":2}"
#define LAYER(mt, d, s) "{\"mediaType\":\"application/vnd.oci.image.layer.v1." mt "\",\"digest\":\"" d "\",\"size\":" s "}"

static void test_manifest_parse(void **state)
{
    (void)state;
    gpf_error err = {0};
    gpf_image_manifest *m = GPF_NEW(gpf_image_manifest);
    const char *ok = "{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST "\"," CFG ",\"layers\":["
        LAYER("tar+gzip", "sha256:" D64, "100") "," LAYER("tar", "sha256:" D64, "7") "]}";
    assert_int_equal(gpf_image_manifest_parse(ok, strlen(ok), m, &err), 0);
    assert_int_equal(m->nlayers, 2);
    assert_int_equal(m->layers[0].size, 100);
    assert_int_equal(m->total, 109);
    assert_string_equal(m->config.digest, "sha256:" D64);

    static const struct {
        const char *text, *why;
    } bad[] = {
        {"not json", "not JSON"},
        {"[]", "schemaVersion"},
        {"{\"schemaVersion\":1,\"mediaType\":\"" MT_MANIFEST "\"}", "schemaVersion"},
        {"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\"}", "mediaType"},
        {"{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST "\",\"layers\":[]}", "config"},
        {"{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST "\"," CFG ",\"layers\":[]}", "layers"},
        {"{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST "\"," CFG ",\"layers\":[" LAYER("tar", "sha256:" D64, "-1") "]}",
         "size"},
        {"{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST "\"," CFG ",\"layers\":[" LAYER("tar", "sha256:" D64, "1.5") "]}",
         "size"},
        {"{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST "\"," CFG ",\"layers\":[" LAYER("tar", "sha512:" D64, "1") "]}",
         "digest"},
        {"{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST "\"," CFG ",\"layers\":[" LAYER("tar", "sha256:" D64 "0", "1") "]}",
         "digest"},
        {"{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST "\"," CFG ",\"layers\":[" LAYER("tar+zstd", "sha256:" D64, "1") "]}",
         "mediaType"},
        {"{\"schemaVersion\":2,\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST "\"}", "not JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gpf_error_clear(&err);
        assert_int_equal(parse(bad[i].text, &err), GPF_EMALFORMED);
        if (!strstr(err.msg, bad[i].why))
            fail_msg("case %zu: message \"%s\" does not mention %s", i, err.msg, bad[i].why);
    }
    /* 129 layers: one too many. */
    gpf_buf b = {0};
    gpf_buf_puts(&b, "{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST "\"," CFG ",\"layers\":[");
    for (int i = 0; i < GPF_IMAGE_LAYERS_MAX + 1; i++)
        gpf_buf_printf(&b, "%s" LAYER("tar", "sha256:" D64, "1"), i ? "," : "");
    gpf_buf_puts(&b, "]}");
    assert_int_equal(parse(gpf_buf_cstr(&b), &err), GPF_EMALFORMED);
    gpf_buf_clear(&b);
    /* Past the size limit: refused before parsing. */
    assert_int_equal(gpf_image_manifest_parse(ok, (size_t)GPF_IMAGE_JSON_MAX + 1, m, &err), GPF_ETOOLARGE);
    assert_int_equal(gpf_image_digest_valid("sha256:" D64), 1);
    assert_int_equal(gpf_image_digest_valid("sha256:" D64 "\n"), 0);
    assert_int_equal(gpf_image_digest_valid(NULL), 0);
    gpf_free(m);
}

/* ---- the real default image (opt-in) --------------------------------------------------- */

static int fetch_layout(void *vctx, const char *digest, const char *path, gpf_error *err)
{
    char cmd[PATH_MAX * 3];
    snprintf(cmd, sizeof cmd, "cp '%s/blobs/sha256/%s' '%s'", (const char *)vctx, digest + 7, path);
    return system(cmd) == 0 ? 0 : gpf_error_set(err, GPF_EIO, "cp failed");
}

static int64_t unpack_started; /* gpf_mono_ms() at "unpacking" */

static void note_unpacking(void *ctx, const char *msg)
{
    (void)ctx;
    if (!strcmp(msg, "unpacking"))
        unpack_started = gpf_mono_ms();
}

static void test_default_image(void **state)
{
    (void)state;
    const char *layout = getenv("GPF_TEST_IMAGE");
    if (!layout || !layout[0] || !have_umoci) {
        print_message("GPF_TEST_IMAGE unset: not unpacking the default image\n");
        skip();
    }
    char idx[PATH_MAX], cache[512], rootfs[PATH_MAX], path[PATH_MAX + 64];
    gpf_error err = {0};
    gpf_image_cache *c = NULL;
    snprintf(idx, sizeof idx, "%s/index.json", layout);
    json_t *root = json_load_file(idx, 0, NULL);
    if (!root)
        fail_msg("GPF_TEST_IMAGE=%s: no readable index.json (build it: scripts/build-image.sh)", layout);
    const char *digest = NULL;
    json_t *e;
    size_t i;
    json_array_foreach(json_object_get(root, "manifests"), i, e)
    {
        const char *ref = json_string_value(json_object_get(json_object_get(e, "annotations"),
                                                            "org.opencontainers.image.ref.name"));
        if (ref && !strcmp(ref, "default"))
            digest = json_string_value(json_object_get(e, "digest"));
    }
    if (!digest)
        fail_msg("%s names no image \"default\"", idx);
    gpf_test_tree_new("gpf-img-default", cache, sizeof cache);
    assert_int_equal(gpf_image_cache_open(cache, &c, &err), 0);
    int64_t t0 = gpf_mono_ms();
    if (gpf_image_ensure(c, digest, fetch_layout, (void *)layout, note_unpacking, rootfs, sizeof rootfs, &err) != 0)
        fail_msg("%s", err.msg);
    int64_t t1 = gpf_mono_ms();
    assert_int_equal(gpf_image_ensure(c, digest, fetch_layout, (void *)layout, NULL, rootfs, sizeof rootfs, &err), 0);
    print_message("default image %.19s…: ensure %lld ms (fetch by cp and verify %lld ms, umoci unpack %lld ms), "
                  "second ensure %lld ms\n", digest, (long long)(t1 - t0), (long long)(unpack_started - t0),
                  (long long)(t1 - unpack_started), (long long)(gpf_mono_ms() - t1));
    snprintf(path, sizeof path, "%s/usr/sbin/sshd", rootfs);
    assert_int_equal(access(path, X_OK), 0);
    snprintf(path, sizeof path, "%s/etc/ssh", rootfs);
    assert_int_equal(count_prefix(path, "ssh_host_"), 0); /* every pod gets its own host key */
    gpf_image_cache_close(c);
    gpf_test_tree_rm(cache);
    json_decref(root);
}

int main(void)
{
    have_umoci = system("command -v umoci >/dev/null 2>&1") == 0;
    if (!have_umoci)
        print_message("umoci is not installed: the unpacking tests skip\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_parse),
        cmocka_unit_test_setup_teardown(test_unpack_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_blob, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_manifest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leftover_tmp_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_umoci_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_ensure, setup, teardown),
        cmocka_unit_test(test_default_image),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
