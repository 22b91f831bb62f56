/* OCI image layouts: see oci.h. */
#include "util/oci.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/fileio.h"
#include "util/secret.h"

int gpf_oci_digest_valid(const char *d)
{
    if (!d || strncmp(d, "sha256:", 7) != 0)
        return 0;
    for (int i = 0; i < 64; i++) {
        char c = d[7 + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return d[71] == '\0';
}

int gpf_oci_is_layout(const char *dir)
{
    char path[4096];
    struct stat st;
    int n = snprintf(path, sizeof path, "%s/oci-layout", dir ? dir : "");
    return n > 0 && (size_t)n < sizeof path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int gpf_oci_blob_path(const char *dir, const char *digest, char *out, size_t size)
{
    if (!gpf_oci_digest_valid(digest))
        return GPF_EINVAL;
    int n = snprintf(out, size, "%s/blobs/sha256/%s", dir, digest + 7);
    return n > 0 && (size_t)n < size ? 0 : GPF_EINVAL;
}

/* A descriptor {"mediaType","digest","size"}: digest well-formed, size >= 0 (-1 when absent
 * and optional). what names it in messages. */
static int descriptor(const json_t *d, const char *what, int size_required, const char **digest, int64_t *size,
                      gpf_error *err)
{
    const json_t *dg = json_object_get(d, "digest"), *sz = json_object_get(d, "size");
    if (!json_is_object(d))
        return gpf_error_set(err, GPF_EINVAL, "not an OCI image: %s is not a descriptor object", what);
    if (!gpf_oci_digest_valid(json_string_value(dg)))
        return gpf_error_set(err, GPF_EINVAL, "not an OCI image: %s has no sha256 digest of 64 lowercase hex digits",
                             what);
    if ((sz || size_required) && (!json_is_integer(sz) || json_integer_value(sz) < 0))
        return gpf_error_set(err, GPF_EINVAL, "not an OCI image: %s has no valid size", what);
    *digest = json_string_value(dg);
    *size = sz ? (int64_t)json_integer_value(sz) : -1;
    return 0;
}

/* The blob of digest is in the layout as a regular file of size bytes. */
static int blob_present(const char *dir, const char *digest, int64_t size, const char *what, gpf_error *err)
{
    char path[4096];
    struct stat st;
    if (gpf_oci_blob_path(dir, digest, path, sizeof path) != 0)
        return gpf_error_set(err, GPF_EINVAL, "not an OCI image: %s: bad digest or path too long", what);
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return gpf_error_set(err, GPF_EINVAL, "not an OCI image: the %s blob %.19s... is missing from %s", what, digest,
                             dir);
    if ((int64_t)st.st_size != size)
        return gpf_error_set(err, GPF_EINVAL, "not an OCI image: the %s blob %.19s... has %lld bytes, its descriptor %lld",
                             what, digest, (long long)st.st_size, (long long)size);
    return 0;
}

/* The manifest descriptor of index for ref (see gpf_oci_layout_find). */
static int pick(const json_t *index, const char *ref, const char *dir, const json_t **out, gpf_error *err)
{
    const json_t *ms = json_object_get(index, "manifests"), *m = NULL;
    size_t i;
    *out = NULL;
    if (!json_is_array(ms))
        return gpf_error_set(err, GPF_EINVAL, "not an OCI image: %s/index.json has no manifests array", dir);
    if (!ref || !*ref) {
        if (json_array_size(ms) != 1)
            return gpf_error_set(err, GPF_EINVAL, "%s/index.json holds %zu manifests: name one as DIR:REF", dir,
                                 json_array_size(ms));
        *out = json_array_get(ms, 0);
        return 0;
    }
    json_array_foreach(ms, i, m)
    {
        const char *name = json_string_value(json_object_get(json_object_get(m, "annotations"), GPF_OCI_REF_NAME));
        if (name && strcmp(name, ref) == 0) {
            *out = m; /* the first, as skopeo's oci: transport takes it */
            break;
        }
    }
    if (!*out)
        return gpf_error_set(err, GPF_ENOTFOUND, "%s/index.json names no image '%s'", dir, ref);
    return 0;
}

/* The config and the layers of a parsed manifest: sizes summed into info. */
static int check_blobs(const char *dir, const json_t *man, gpf_oci_manifest_info *info, gpf_error *err)
{
    const char *dg = NULL;
    int64_t sz = 0, total = 0;
    int rc = descriptor(json_object_get(man, "config"), "the manifest's config", 1, &dg, &sz, err);
    if (rc || (rc = blob_present(dir, dg, sz, "config", err)))
        return rc;
    total = sz;
    const json_t *layers = json_object_get(man, "layers"), *l = NULL;
    if (!json_is_array(layers) || json_array_size(layers) == 0 || json_array_size(layers) > GPF_OCI_MAX_LAYERS)
        return gpf_error_set(err, GPF_EINVAL, "not an OCI image: the manifest must list 1..%d layers",
                             GPF_OCI_MAX_LAYERS);
    size_t i;
    json_array_foreach(layers, i, l)
    {
        char what[48];
        snprintf(what, sizeof what, "layer %zu", i);
        if ((rc = descriptor(l, what, 1, &dg, &sz, err)) || (rc = blob_present(dir, dg, sz, what, err)))
            return rc;
        if (__builtin_add_overflow(total, sz, &total))
            return gpf_error_set(err, GPF_EINVAL, "not an OCI image: the blob sizes overflow");
    }
    info->size_bytes = total;
    info->nlayers = (int)json_array_size(layers);
    return 0;
}

int gpf_oci_layout_find(const char *dir, const char *ref, gpf_oci_manifest_info *out, gpf_error *err)
{
    int rc = 0;
    char path[4096], hex[65];
    char *text = NULL;
    size_t len = 0;
    json_t *index = NULL, *man = NULL;
    json_error_t jerr;
    const json_t *desc = NULL;
    const char *mdigest = NULL;
    int64_t msize = -1;
    gpf_oci_manifest_info info;

    memset(&info, 0, sizeof info);
    if (!gpf_oci_is_layout(dir)) {
        rc = gpf_error_set(err, GPF_EINVAL, "not an OCI image: %s has no oci-layout file", dir);
        goto out;
    }
    snprintf(path, sizeof path, "%s/index.json", dir);
    if ((rc = gpf_read_file_raw(path, GPF_OCI_MAX_JSON, &text, &len, err)) != 0)
        goto out;
    if (!(index = json_loadb(text, len, 0, &jerr)) || !json_is_object(index)) {
        rc = gpf_error_set(err, GPF_EINVAL, "not an OCI image: %s is not a JSON object", path);
        goto out;
    }
    if ((rc = pick(index, ref, dir, &desc, err)) != 0)
        goto out;
    const char *mt = json_string_value(json_object_get(desc, "mediaType"));
    if (mt && strcmp(mt, GPF_OCI_MANIFEST_TYPE) != 0) {
        rc = gpf_error_set(err, GPF_EINVAL, "not an OCI image: %s names a %s, not an OCI image manifest%s", ref && *ref ? ref : "it",
                           mt, strcmp(mt, GPF_OCI_INDEX_TYPE) == 0 ? " (an index of several platforms)" : "");
        goto out;
    }
    if ((rc = descriptor(desc, "the manifest descriptor", 0, &mdigest, &msize, err)) != 0)
        goto out;
    gpf_strlcpy(info.digest, mdigest, sizeof info.digest);
    gpf_free(text);
    text = NULL;
    gpf_oci_blob_path(dir, info.digest, path, sizeof path);
    if ((rc = gpf_read_file_raw(path, GPF_OCI_MAX_JSON, &text, &len, err)) != 0) {
        if (rc == GPF_ENOTFOUND)
            rc = gpf_error_set(err, GPF_EINVAL, "not an OCI image: the manifest blob %.19s... is missing", info.digest);
        goto out;
    }
    gpf_sha256_hex_buf(text, len, hex);
    if (strcmp(hex, info.digest + 7) != 0 || (msize >= 0 && (size_t)msize != len)) {
        rc = gpf_error_set(err, GPF_EINVAL, "not an OCI image: the manifest blob does not match its digest %.19s... or size",
                           info.digest);
        goto out;
    }
    if (!(man = json_loadb(text, len, 0, &jerr)) || !json_is_object(man)) {
        rc = gpf_error_set(err, GPF_EINVAL, "not an OCI image: the manifest is not a JSON object");
        goto out;
    }
    mt = json_string_value(json_object_get(man, "mediaType"));
    if (json_integer_value(json_object_get(man, "schemaVersion")) != 2 || (mt && strcmp(mt, GPF_OCI_MANIFEST_TYPE) != 0) ||
        (!mt && !json_object_get(desc, "mediaType"))) {
        rc = gpf_error_set(err, GPF_EINVAL, "not an OCI image: the manifest is not schemaVersion 2 of type %s",
                           GPF_OCI_MANIFEST_TYPE);
        goto out;
    }
    if ((rc = check_blobs(dir, man, &info, err)) != 0)
        goto out;
    *out = info;
out:
    gpf_free(text);
    json_decref(index);
    json_decref(man);
    return rc;
}
