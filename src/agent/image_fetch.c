/* Image fetches in a thread of their own (see image_fetch.h). */
#include "agent/image_fetch.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/httpc.h"
#include "util/log.h"

/* A blob larger than this is refused (the default image's layer is ~60 MB). */
#define IMAGE_BLOB_MAX (16LL << 30)
#define BLOB_TIMEOUT_MS (30L * 60 * 1000)

struct gpf_image_fetch {
    gpf_image_cache *cache;
    char server[512];
    char token[256];
    char ca_file[512];
    char pin[256];
    char digest[80];
    char rootfs[PATH_MAX];
    gpf_error err;
    int rc;
    gpf_httpc *http;
    atomic_int done;
    pthread_t th;
};

/* gpf_blob_fetch_fn: one blob into path. */
static int fetch_blob(void *ctx, const char *digest, const char *path, gpf_error *err)
{
    gpf_image_fetch *f = ctx;
    char url[160];
    snprintf(url, sizeof url, "/v1/agent/blobs/%.80s", digest);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return gpf_error_set(err, GPF_EIO, "cannot create %s", path);
    int rc = gpf_httpc_download(f->http, url, fd, IMAGE_BLOB_MAX, BLOB_TIMEOUT_MS, NULL, err);
    if (close(fd) != 0 && rc == 0)
        rc = gpf_error_set(err, GPF_EIO, "cannot write %s", path);
    return rc;
}

static void progress(void *ctx, const char *msg)
{
    const gpf_image_fetch *f = ctx;
    GPF_INFO("agent", "event=image digest=%.19s msg=\"%s\"", f->digest, msg);
}

static void *run(void *arg)
{
    gpf_image_fetch *f = arg;
    gpf_httpc_tls tls = {f->ca_file, f->pin};
    f->rc = gpf_httpc_new(f->server, f->token, &f->http, &f->err);
    if (f->rc == 0)
        f->rc = gpf_httpc_set_tls(f->http, &tls, &f->err);
    if (f->rc == 0)
        f->rc = gpf_image_ensure(f->cache, f->digest, fetch_blob, f, progress, f->rootfs, sizeof f->rootfs, &f->err);
    gpf_httpc_free(f->http);
    f->http = NULL;
    atomic_store(&f->done, 1);
    return NULL;
}

int gpf_image_fetch_start(gpf_image_cache *c, const char *server, const char *token, const gpf_httpc_tls *tls,
                          const char *digest, gpf_image_fetch **out, gpf_error *err)
{
    const char *ca = tls && tls->ca_file ? tls->ca_file : "", *pin = tls && tls->pin ? tls->pin : "";
    *out = NULL;
    if (!c || !server || !digest || !gpf_image_digest_valid(digest) || strlen(server) >= 512 ||
        (token && strlen(token) >= 256) || strlen(ca) >= 512 || strlen(pin) >= 256)
        return gpf_error_set(err, GPF_EINVAL, "image fetch: bad cache, server, token, CA file, pin or digest");
    gpf_image_fetch *f = GPF_NEW(gpf_image_fetch);
    f->cache = c;
    gpf_strlcpy(f->server, server, sizeof f->server);
    gpf_strlcpy(f->token, token ? token : "", sizeof f->token);
    gpf_strlcpy(f->ca_file, ca, sizeof f->ca_file);
    gpf_strlcpy(f->pin, pin, sizeof f->pin);
    gpf_strlcpy(f->digest, digest, sizeof f->digest);
    atomic_init(&f->done, 0);
    if (pthread_create(&f->th, NULL, run, f) != 0) {
        gpf_free(f);
        return gpf_error_set(err, GPF_EIO, "image fetch: cannot start a thread");
    }
    *out = f;
    return 0;
}

int gpf_image_fetch_done(gpf_image_fetch *f)
{
    return f && atomic_load(&f->done);
}

const char *gpf_image_fetch_digest(const gpf_image_fetch *f)
{
    return f ? f->digest : "";
}

int gpf_image_fetch_finish(gpf_image_fetch *f, char *rootfs, size_t size, gpf_error *err)
{
    if (!f)
        return gpf_error_set(err, GPF_EINVAL, "image fetch: none");
    pthread_join(f->th, NULL);
    int rc = f->rc;
    if (rc == 0 && rootfs && size)
        gpf_strlcpy(rootfs, f->rootfs, size);
    else
        gpf_error_set(err, rc, "image %.19s: %s", f->digest, gpf_error_msg(&f->err));
    memset(f->token, 0, sizeof f->token);
    gpf_free(f);
    return rc;
}
