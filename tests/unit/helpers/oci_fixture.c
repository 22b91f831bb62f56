/* Test helper: see oci_fixture.h. */
#include "oci_fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/secret.h"

static void write_all(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

void of_put_blob(const char *dir, const void *data, size_t n, char digest[72])
{
    char hex[65], path[1024];
    gpf_sha256_hex_buf(data, n, hex);
    snprintf(digest, 72, "sha256:%s", hex);
    snprintf(path, sizeof path, "%s/blobs", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/blobs/sha256", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", dir, hex);
    write_all(path, data, n);
}

static char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *data = gpf_calloc(1, 1 << 20);
    *n = fread(data, 1, 1 << 20, f);
    fclose(f);
    return data;
}

/* The bytes of a gzip tar holding hello.txt = text (tar, then gzip -n); diff_id gets the
 * digest of the uncompressed tar, as an image config lists it. */
static char *layer_bytes(const char *dir, const char *text, size_t *n, char diff_id[72])
{
    gpf_buf cmd = {0}, tar = {0};
    char hex[65];
    size_t ntar = 0;
    gpf_buf_printf(&tar, "%s.layer.tar", dir);
    gpf_buf_printf(&cmd, "mkdir -p '%s.src' && printf '%%s' '%s' > '%s.src/hello.txt' && "
                   "tar --mtime=@0 --owner=0 --group=0 -C '%s.src' -cf '%s' hello.txt",
                   dir, text, dir, dir, gpf_buf_cstr(&tar));
    assert_int_equal(system(gpf_buf_cstr(&cmd)), 0);
    char *plain = read_all(gpf_buf_cstr(&tar), &ntar);
    gpf_sha256_hex_buf(plain, ntar, hex);
    snprintf(diff_id, 72, "sha256:%s", hex);
    gpf_free(plain);
    gpf_buf_reset(&cmd);
    gpf_buf_printf(&cmd, "gzip -n -f '%s'", gpf_buf_cstr(&tar));
    assert_int_equal(system(gpf_buf_cstr(&cmd)), 0);
    gpf_buf_puts(&tar, ".gz");
    char *data = read_all(gpf_buf_cstr(&tar), n);
    gpf_buf_reset(&cmd);
    gpf_buf_printf(&cmd, "rm -rf '%s.src' '%s'", dir, gpf_buf_cstr(&tar));
    assert_int_equal(system(gpf_buf_cstr(&cmd)), 0);
    gpf_buf_clear(&cmd);
    gpf_buf_clear(&tar);
    return data;
}

/* Writes the image's blobs; entry gets its index.json entry. */
static void make_image(const char *dir, const char *ref, const char *text, of_image *out, gpf_buf *entry)
{
    size_t nlayer = 0;
    char diff_id[72];
    char *layer = layer_bytes(dir, text, &nlayer, diff_id);
    gpf_buf config = {0}, man = {0};
    memset(out, 0, sizeof *out);
    of_put_blob(dir, layer, nlayer, out->layer);
    gpf_buf_printf(&config,
                   "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/bin/sh\"]},"
                   "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
                   diff_id);
    of_put_blob(dir, config.data, config.len, out->config);
    gpf_buf_printf(&man,
                   "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                   "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
                   "\"size\":%zu},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
                   "\"digest\":\"%s\",\"size\":%zu}]}",
                   out->config, config.len, out->layer, nlayer);
    of_put_blob(dir, man.data, man.len, out->manifest);
    out->size_bytes = (int64_t)(config.len + nlayer);
    gpf_buf_printf(entry, "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu",
                   out->manifest, man.len);
    if (ref)
        gpf_buf_printf(entry, ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"%s\"}", ref);
    gpf_buf_putc(entry, '}');
    gpf_free(layer);
    gpf_buf_clear(&config);
    gpf_buf_clear(&man);
}

static void write_index(const char *dir, const char *entries)
{
    char path[1024];
    gpf_buf idx = {0};
    gpf_buf_printf(&idx, "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
                         "\"manifests\":[%s]}", entries);
    snprintf(path, sizeof path, "%s/index.json", dir);
    write_all(path, idx.data, idx.len);
    gpf_buf_clear(&idx);
}

void of_make_layout(const char *dir, const char *ref, const char *text, of_image *out)
{
    char path[1024];
    gpf_buf entry = {0}, cmd = {0};
    gpf_buf_printf(&cmd, "mkdir -p '%s'", dir);
    assert_int_equal(system(gpf_buf_cstr(&cmd)), 0);
    gpf_buf_clear(&cmd);
    snprintf(path, sizeof path, "%s/oci-layout", dir);
    write_all(path, "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
    make_image(dir, ref, text, out, &entry);
    write_index(dir, gpf_buf_cstr(&entry));
    gpf_buf_clear(&entry);
}

void of_add_image(const char *dir, const char *ref, const char *text, of_image *out)
{
    char path[1024], *old = NULL;
    gpf_buf entry = {0};
    snprintf(path, sizeof path, "%s/index.json", dir);
    assert_int_equal(gpf_read_file(path, 1 << 20, &old, NULL), 0);
    const char *start = strchr(old, '[');
    const char *end = strrchr(old, ']');
    assert_true(start && end && end > start);
    gpf_buf_append(&entry, start + 1, (size_t)(end - start - 1));
    gpf_buf_putc(&entry, ',');
    make_image(dir, ref, text, out, &entry);
    write_index(dir, gpf_buf_cstr(&entry));
    gpf_buf_clear(&entry);
    gpf_free(old);
}

int of_have_skopeo(void)
{
    return system("command -v skopeo >/dev/null 2>&1") == 0;
}
