/* Engine: the image registry. Imports copy an image into the control plane's OCI image
 * layout with skopeo (outside the engine's lock, one at a time under import_mu), check
 * the copied manifest, and record the image; agents download its blobs by digest. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine_int.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/oci.h"
#include "util/subproc.h"

/* A ref name after "DIR:" — what skopeo's oci: transport accepts, kept simple. */
static int ref_ok(const char *s)
{
    if (!*s || strlen(s) > 128)
        return 0;
    for (; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *s))
            return 0;
    return 1;
}

/* source -> skopeo's "transport:reference" (see gpf_engine_image_import). */
static int resolve_source(const char *source, char *ref, size_t size, gpf_error *err)
{
    struct stat st;
    size_t n = strnlen(source, GPF_SOURCE_MAX);
    if (n == 0 || n >= GPF_SOURCE_MAX)
        return gpf_error_set(err, GPF_EINVAL, "source must be 1..%d characters", GPF_SOURCE_MAX - 1);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)source[i] <= 0x20 || source[i] == 0x7f)
            return gpf_error_set(err, GPF_EINVAL, "source must not contain spaces or control characters");
    if (strncmp(source, "docker://", 9) == 0) {
        if (n == 9)
            return gpf_error_set(err, GPF_EINVAL, "source docker:// names no image");
        snprintf(ref, size, "%s", source);
        return 0;
    }
    if (source[0] != '/')
        return gpf_error_set(err, GPF_EINVAL, "source must be an absolute path on the control plane or a "
                             "docker://... reference (gpufleet image import makes relative paths absolute)");
    const char *colon = strrchr(source, ':');
    if (stat(source, &st) == 0) {
        if (colon)
            return gpf_error_set(err, GPF_EINVAL, "source %s: paths with ':' are not supported (DIR:REF names a ref)",
                                 source);
        if (S_ISDIR(st.st_mode) && !gpf_oci_is_layout(source))
            return gpf_error_set(err, GPF_EINVAL, "not an OCI image: %s is a directory without an oci-layout file",
                                 source);
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
            return gpf_error_set(err, GPF_EINVAL, "source %s is neither an OCI layout directory nor an OCI archive",
                                 source);
        snprintf(ref, size, "%s:%s", S_ISDIR(st.st_mode) ? "oci" : "oci-archive", source);
        return 0;
    }
    if (colon && ref_ok(colon + 1)) {
        char dir[GPF_SOURCE_MAX];
        snprintf(dir, sizeof dir, "%.*s", (int)(colon - source), source);
        if (!strchr(dir, ':') && stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (!gpf_oci_is_layout(dir))
                return gpf_error_set(err, GPF_EINVAL, "not an OCI image: %s is a directory without an oci-layout file",
                                     dir);
            snprintf(ref, size, "oci:%s", source);
            return 0;
        }
    }
    return gpf_error_set(err, GPF_ENOTFOUND, "source %s not found on the control plane", source);
}

static int cancelled(void *ctx)
{
    return atomic_load(&((gpf_engine *)ctx)->cancel_imports);
}

/* The last non-empty line of a program's output, trimmed to fit a message; of a logrus
 * line (time="…" level=fatal msg="…") only the message. */
static void last_line(const char *out, char *line, size_t size)
{
    const char *end = out + strlen(out);
    while (end > out && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
        end--;
    const char *start = end;
    while (start > out && start[-1] != '\n')
        start--;
    const char *msg = strstr(start, "msg=\"");
    if (msg && msg < end && end[-1] == '"') {
        start = msg + 5;
        end--;
    }
    size_t n = 0;
    for (const char *p = start; p < end && n + 1 < size; p++) {
        if (*p == '\\' && p + 1 < end && p[1] == '"')
            continue; /* \" -> " */
        line[n++] = (unsigned char)*p < 0x20 ? ' ' : *p;
    }
    line[n] = '\0';
}

/* Runs skopeo copy of src into the store as name. Caller holds import_mu. */
static int copy_in(gpf_engine *e, const char *src, const char *name, gpf_error *err)
{
    char exe[1024], dest[1200], out[4096], line[160];
    int code = 0;
    if (gpf_subproc_which(e->skopeo, exe, sizeof exe, NULL) != 0)
        return gpf_error_set(err, GPF_ENOTSUP, "the control plane cannot import images: %s is not installed "
                             "(apt-get install skopeo)", e->skopeo);
    if (strchr(e->images_dir, ':'))
        return gpf_error_set(err, GPF_ENOTSUP, "the image store %s has a ':' in its path, which skopeo's oci: "
                             "transport cannot name", e->images_dir);
    if (mkdir(e->images_dir, 0700) != 0 && errno != EEXIST)
        return gpf_error_set(err, GPF_EIO, "cannot create the image store %s: %s", e->images_dir, strerror(errno));
    snprintf(dest, sizeof dest, "oci:%s:%s", e->images_dir, name);
    char *argv[] = {exe, "copy", "--quiet", (char *)src, dest, NULL};
    int rc = gpf_subproc_run(argv, e->import_timeout_ms, cancelled, e, out, sizeof out, &code, err);
    if (rc != 0)
        return rc == GPF_ETIMEOUT ? gpf_error_set(err, rc, "importing %s took longer than %d s", src,
                                                  e->import_timeout_ms / 1000)
                                  : rc;
    if (code == 0)
        return 0;
    last_line(out, line, sizeof line);
    GPF_WARN("engine", "event=image_copy_failed src=%s exit=%d out=\"%s\"", src, code, line);
    if (strstr(out, "no such file") || strstr(out, "not found") || strstr(out, "manifest unknown") ||
        strstr(out, "no descriptor found"))
        return gpf_error_set(err, GPF_ENOTFOUND, "source %s not found: %s", src, line);
    return gpf_error_set(err, GPF_EINVAL, "not an OCI image: %s (skopeo: %s)", src, line);
}

/* Records im (replacing an image of its name into *previous). Caller holds import_mu. */
static int record(gpf_engine *e, const gpf_image *im, gpf_image *previous, gpf_error *err)
{
    pthread_mutex_lock(&e->mu);
    gpf_image *cur = eng_image(e, im->name);
    if (previous) {
        memset(previous, 0, sizeof *previous);
        if (cur)
            *previous = *cur;
    }
    int rc = gpf_store_image_put(e->store, im, err);
    if (rc == 0) {
        if (!cur)
            cur = vec_push(&e->images, sizeof *im);
        *cur = *im;
    }
    return eng_unlock_sync(e, rc, err);
}

/* Copies src (a skopeo reference) in as name, checks it and records it (source: what the
 * caller named). */
static int import_ref(gpf_engine *e, const char *name, const char *src, const char *source, gpf_image *out,
                      gpf_image *previous, gpf_error *err)
{
    int rc = 0;
    gpf_oci_manifest_info info;
    gpf_image im;
    memset(&im, 0, sizeof im);
    pthread_mutex_lock(&e->import_mu);
    if ((rc = copy_in(e, src, name, err)) != 0)
        goto out;
    if ((rc = gpf_oci_layout_find(e->images_dir, name, &info, err)) != 0) {
        if (rc == GPF_ENOTFOUND)
            rc = gpf_error_set(err, GPF_EINVAL, "not an OCI image: skopeo copied %s but the store has no manifest "
                               "named %s", source, name);
        goto out;
    }
    gpf_strlcpy(im.name, name, sizeof im.name);
    gpf_strlcpy(im.digest, info.digest, sizeof im.digest);
    im.size_bytes = info.size_bytes;
    gpf_strlcpy(im.source, source, sizeof im.source);
    im.created_ms = eng_now(e);
    if ((rc = record(e, &im, previous, err)) != 0)
        goto out;
    GPF_INFO("engine", "event=image_imported image=%s digest=%s size_bytes=%lld layers=%d source=%s", im.name,
             im.digest, (long long)im.size_bytes, info.nlayers, source);
    if (out)
        *out = im;
out:
    pthread_mutex_unlock(&e->import_mu);
    return rc;
}

int gpf_engine_image_import(gpf_engine *e, const gpf_principal *who, const char *name, const char *source,
                            gpf_image *out, gpf_image *previous, gpf_error *err)
{
    char src[GPF_SOURCE_MAX + 16];
    int rc = eng_can(who, GPF_ACT_IMAGE_WRITE, NULL, err);
    if (rc != 0)
        return rc;
    if (!gpf_name_valid(name))
        return gpf_error_set(err, GPF_EINVAL, "name must match [a-z0-9][a-z0-9._-]{0,62}");
    if (!e->images_dir[0])
        return gpf_error_set(err, GPF_ENOTSUP, "this control plane has no image store (no state directory)");
    if ((rc = resolve_source(source, src, sizeof src, err)) != 0)
        return rc;
    GPF_INFO("engine", "event=image_import image=%s src=%s by=%s", name, src, who->user);
    return import_ref(e, name, src, source, out, previous, err);
}

int gpf_engine_image_ensure(gpf_engine *e, const char *name, const char *dir, int *imported, gpf_image *out,
                            gpf_error *err)
{
    gpf_oci_manifest_info info;
    gpf_image cur;
    char src[GPF_SOURCE_MAX + 16];
    struct stat st;
    int rc = 0;
    *imported = 0;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return gpf_error_set(err, GPF_ENOTFOUND, "%s is not a directory", dir);
    if (!e->images_dir[0])
        return gpf_error_set(err, GPF_ENOTSUP, "this control plane has no image store (no state directory)");
    /* the layout's only image, else the one named name (then copied as DIR:name) */
    int by_name = gpf_oci_layout_find(dir, NULL, &info, NULL) != 0;
    if (by_name && (rc = gpf_oci_layout_find(dir, name, &info, err)) != 0)
        return rc;
    if (gpf_engine_image_get(e, name, &cur, NULL) == 0 && strcmp(cur.digest, info.digest) == 0) {
        if (out)
            *out = cur;
        return 0;
    }
    char source[GPF_SOURCE_MAX];
    if (snprintf(source, sizeof source, by_name ? "%s:%s" : "%s", dir, name) >= (int)sizeof source)
        return gpf_error_set(err, GPF_EINVAL, "%s: path too long", dir);
    if ((rc = resolve_source(source, src, sizeof src, err)) != 0)
        return rc;
    if ((rc = import_ref(e, name, src, source, out, NULL, err)) == 0)
        *imported = 1;
    return rc;
}

int gpf_engine_image_list(gpf_engine *e, gpf_image **out, size_t *n, gpf_error *err)
{
    (void)err;
    pthread_mutex_lock(&e->mu);
    *n = e->images.n;
    *out = e->images.n ? gpf_reallocarray(NULL, e->images.n, sizeof(gpf_image)) : NULL;
    if (e->images.n)
        memcpy(*out, e->images.items, e->images.n * sizeof(gpf_image));
    pthread_mutex_unlock(&e->mu);
    return 0;
}

int gpf_engine_image_get(gpf_engine *e, const char *name, gpf_image *out, gpf_error *err)
{
    int rc = 0;
    pthread_mutex_lock(&e->mu);
    gpf_image *im = eng_image(e, name);
    if (im)
        *out = *im;
    else
        rc = gpf_error_set(err, GPF_ENOTFOUND, "no image '%s' (gpufleet image ls lists them)", name);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

int gpf_engine_image_delete(gpf_engine *e, const gpf_principal *who, const char *name, gpf_error *err)
{
    char users[160] = "";
    size_t used = 0;
    int nusers = 0, rc = eng_can(who, GPF_ACT_IMAGE_WRITE, NULL, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    gpf_image *im = eng_image(e, name);
    if (!im) {
        rc = gpf_error_set(err, GPF_ENOTFOUND, "no image '%s'", name);
        goto out;
    }
    for (size_t i = 0; i < e->skus.n; i++) {
        const gpf_sku *k = VEC_AT(&e->skus, gpf_sku, i);
        if (strcmp(eng_sku_image_name(k), name) != 0)
            continue;
        if (used + 1 < sizeof users) {
            int w = snprintf(users + used, sizeof users - used, "%s%s", nusers ? ", " : "", k->name);
            used += w > 0 ? (size_t)w : 0;
        }
        nusers++;
    }
    if (nusers) {
        rc = gpf_error_set(err, GPF_EEXIST, "image '%s' is used by SKU%s %s%s: change or delete %s first", name,
                           nusers == 1 ? "" : "s", users,
                           strcmp(name, "default") == 0 ? " (a SKU without an image runs \"default\")" : "",
                           nusers == 1 ? "it" : "them");
        goto out;
    }
    if ((rc = gpf_store_image_delete(e->store, name, err)) != 0)
        goto out;
    vec_remove(&e->images, sizeof(gpf_image), (size_t)(im - (gpf_image *)e->images.items));
    GPF_INFO("engine", "event=image_deleted image=%s by=%s", name, who->user);
out:
    return eng_unlock_sync(e, rc, err);
}

int gpf_engine_image_blob_open(gpf_engine *e, const gpf_principal *who, const char *digest, int *fd, int64_t *size,
                               gpf_error *err)
{
    char path[1200];
    struct stat st;
    *fd = -1;
    int rc = eng_can(who, GPF_ACT_IMAGE_BLOB_READ, NULL, err);
    if (rc != 0)
        return rc;
    if (!gpf_oci_digest_valid(digest))
        return gpf_error_set(err, GPF_EMALFORMED, "a blob digest is sha256: and 64 lowercase hex digits");
    if (!e->images_dir[0] || gpf_oci_blob_path(e->images_dir, digest, path, sizeof path) != 0)
        return gpf_error_set(err, GPF_ENOTFOUND, "no blob %s", digest);
    int f = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (f < 0)
        return gpf_error_set(err, errno == ENOENT ? GPF_ENOTFOUND : GPF_EIO, "no blob %s%s%s", digest,
                             errno == ENOENT ? "" : ": ", errno == ENOENT ? "" : strerror(errno));
    if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(f);
        return gpf_error_set(err, GPF_ENOTFOUND, "no blob %s", digest);
    }
    *fd = f;
    *size = (int64_t)st.st_size;
    return 0;
}
