/* Images: OCI layouts (util/oci.h), the engine's image registry (imports through skopeo,
 * the default image at start, deletion while SKUs use an image, blobs for agents) and the
 * HTTP routes (who may download a blob, bad and unknown digests). Layouts are made by hand
 * (helpers/oci_fixture.h); the tests that copy images skip where skopeo is missing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "engine/engine.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/oci.h"
#include "util/secret.h"
#include "util/subproc.h"
#include "util/timeutil.h"

#include "helpers/engine_fixture.h"
#include "helpers/oci_fixture.h"

#define assert_contains(s, sub)                                                                \
    do {                                                                                       \
        if (!strstr((s), (sub)))                                                               \
            fail_msg("'%s' does not contain '%s'", (s), (sub));                                \
    } while (0)

/* ---- util/oci.h -------------------------------------------------------------------- */

static void test_digest_valid(void **state)
{
    (void)state;
    char good[80];
    snprintf(good, sizeof good, "sha256:%064d", 0);
    assert_true(gpf_oci_digest_valid(good));
    assert_true(gpf_oci_digest_valid("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
    assert_false(gpf_oci_digest_valid("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"));
    assert_false(gpf_oci_digest_valid("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"));
    assert_false(gpf_oci_digest_valid("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0"));
    assert_false(gpf_oci_digest_valid("sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
    assert_false(gpf_oci_digest_valid("sha256:../../../../etc/passwd"));
    assert_false(gpf_oci_digest_valid(""));
    assert_false(gpf_oci_digest_valid(NULL));
}

static void test_layout_find(void **state)
{
    ef_fixture *f = *state;
    char dir[200], path[512];
    of_image a, b;
    gpf_oci_manifest_info info;
    gpf_error err = {0};
    snprintf(dir, sizeof dir, "%s/src", f->dir);
    of_make_layout(dir, "v1", "one", &a);

    /* the only image, by its ref or without one */
    assert_int_equal(gpf_oci_layout_find(dir, "v1", &info, &err), 0);
    assert_string_equal(info.digest, a.manifest);
    assert_int_equal(info.size_bytes, a.size_bytes);
    assert_int_equal(info.nlayers, 1);
    memset(&info, 0, sizeof info);
    assert_int_equal(gpf_oci_layout_find(dir, NULL, &info, &err), 0);
    assert_string_equal(info.digest, a.manifest);
    assert_int_equal(gpf_oci_layout_find(dir, "v9", &info, &err), GPF_ENOTFOUND);
    assert_contains(err.msg, "names no image 'v9'");

    /* two images: a ref is needed */
    of_add_image(dir, "v2", "two", &b);
    assert_int_equal(gpf_oci_layout_find(dir, NULL, &info, &err), GPF_EINVAL);
    assert_contains(err.msg, "holds 2 manifests");
    assert_int_equal(gpf_oci_layout_find(dir, "v2", &info, &err), 0);
    assert_string_equal(info.digest, b.manifest);

    /* a missing layer blob, a manifest that does not match its digest */
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", dir, b.layer + 7);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(gpf_oci_layout_find(dir, "v2", &info, &err), GPF_EINVAL);
    assert_contains(err.msg, "not an OCI image: the layer 0 blob");
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", dir, a.manifest + 7);
    FILE *fp = fopen(path, "a");
    assert_non_null(fp);
    fputs(" ", fp);
    fclose(fp);
    assert_int_equal(gpf_oci_layout_find(dir, "v1", &info, &err), GPF_EINVAL);
    assert_contains(err.msg, "does not match its digest");

    /* not a layout at all */
    assert_int_equal(gpf_oci_layout_find(f->dir, NULL, &info, &err), GPF_EINVAL);
    assert_contains(err.msg, "no oci-layout file");
}

/* ---- util/subproc.h ------------------------------------------------------------------- */

static int always(void *ctx)
{
    return ++*(int *)ctx > 2;
}

static void test_subproc(void **state)
{
    (void)state;
    char out[64];
    int code = -1, calls = 0;
    gpf_error err = {0};
    char *echo[] = {"sh", "-c", "echo hi; echo there >&2; exit 3", NULL};
    assert_int_equal(gpf_subproc_run(echo, 5000, NULL, NULL, out, sizeof out, &code, &err), 0);
    assert_int_equal(code, 3);
    assert_string_equal(out, "hi\nthere\n");
    /* output beyond the buffer is cut, the program still finishes */
    char *many[] = {"sh", "-c", "yes 0123456789 | head -c 100000", NULL};
    assert_int_equal(gpf_subproc_run(many, 5000, NULL, NULL, out, 8, &code, &err), 0);
    assert_string_equal(out, "0123456");
    assert_int_equal(code, 0);
    /* a deadline kills it (and what it started), a cancel too */
    int64_t t0 = gpf_mono_ms();
    char *slow[] = {"sh", "-c", "sleep 30 & sleep 30", NULL};
    assert_int_equal(gpf_subproc_run(slow, 300, NULL, NULL, out, sizeof out, &code, &err), GPF_ETIMEOUT);
    assert_true(gpf_mono_ms() - t0 < 20000); /* killed at the deadline, not waited out (30 s) */
    assert_int_equal(gpf_subproc_run(slow, 0, always, &calls, out, sizeof out, &code, &err), GPF_EUNAVAIL);
    /* a program that leaves a child holding its output open does not hang the caller */
    t0 = gpf_mono_ms();
    char *bg[] = {"sh", "-c", "sleep 30 & echo started", NULL};
    assert_int_equal(gpf_subproc_run(bg, 60000, NULL, NULL, out, sizeof out, &code, &err), 0);
    assert_true(gpf_mono_ms() - t0 < 20000); /* not held until the child (30 s) or the deadline */
    char *none[] = {"gpufleet-no-such-program", NULL};
    assert_int_equal(gpf_subproc_run(none, 1000, NULL, NULL, out, sizeof out, &code, &err), GPF_ENOTFOUND);
    char *bad[] = {"/etc/passwd", NULL};
    assert_int_equal(gpf_subproc_run(bad, 1000, NULL, NULL, out, sizeof out, &code, &err), GPF_ENOTFOUND);
}

/* ---- the engine's registry -------------------------------------------------------- */

#define NEED_SKOPEO()                                                                          \
    do {                                                                                       \
        if (!of_have_skopeo()) {                                                               \
            print_message("skopeo is not installed: skipped\n");                              \
            skip();                                                                            \
        }                                                                                      \
    } while (0)

static void test_import_and_replace(void **state)
{
    ef_fixture *f = *state;
    NEED_SKOPEO();
    char dir[200], dir2[200], src[220];
    of_image a, b;
    gpf_image im, prev;
    gpf_error err = {0};
    snprintf(dir, sizeof dir, "%s/src-a", f->dir);
    snprintf(dir2, sizeof dir2, "%s/src-b", f->dir);
    of_make_layout(dir, "latest", "first", &a);
    of_make_layout(dir2, "v2", "second", &b);

    assert_int_equal(gpf_engine_image_import(f->e, &f->admin, "base", dir, &im, &prev, &err), 0);
    assert_string_equal(im.name, "base");
    assert_string_equal(im.digest, a.manifest); /* oci -> oci keeps the manifest's bytes */
    assert_int_equal(im.size_bytes, a.size_bytes);
    assert_string_equal(im.source, dir);
    assert_string_equal(prev.name, "");
    /* the store holds it as a layout of its own, under the image's name */
    gpf_oci_manifest_info info;
    assert_int_equal(gpf_oci_layout_find(f->images, "base", &info, &err), 0);
    assert_string_equal(info.digest, a.manifest);

    /* the same name again replaces it, and says what it was */
    snprintf(src, sizeof src, "%s:v2", dir2);
    f->now += 1000;
    assert_int_equal(gpf_engine_image_import(f->e, &f->admin, "base", src, &im, &prev, &err), 0);
    assert_string_equal(im.digest, b.manifest);
    assert_string_equal(prev.name, "base");
    assert_string_equal(prev.digest, a.manifest);
    gpf_image *list = NULL;
    size_t n = 0;
    assert_int_equal(gpf_engine_image_list(f->e, &list, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].digest, b.manifest);
    assert_int_equal(list[0].created_ms, f->now);
    gpf_free(list);
    /* the old image's blobs stay: pods launched with it may still fetch them */
    int fd = -1;
    int64_t size = 0;
    assert_int_equal(gpf_engine_image_blob_open(f->e, &f->agent, a.layer, &fd, &size, &err), 0);
    close(fd);

    /* a restart loads it back */
    ef_close(f);
    ef_open(f);
    assert_int_equal(gpf_engine_image_get(f->e, "base", &im, &err), 0);
    assert_string_equal(im.digest, b.manifest);
    assert_string_equal(im.source, src);
}

static void test_import_refusals(void **state)
{
    ef_fixture *f = *state;
    char dir[200], file[200], src[220];
    gpf_image im;
    gpf_error err = {0};
    of_image a;
    snprintf(dir, sizeof dir, "%s/src", f->dir);
    of_make_layout(dir, "latest", "x", &a);

    assert_int_equal(gpf_engine_image_import(f->e, &f->alice, "base", dir, &im, NULL, &err), GPF_EFORBIDDEN);
    assert_int_equal(gpf_engine_image_import(f->e, &f->admin, "Bad Name", dir, &im, NULL, &err), GPF_EINVAL);
    assert_int_equal(gpf_engine_image_import(f->e, &f->admin, "base", "relative/dir", &im, NULL, &err), GPF_EINVAL);
    assert_contains(err.msg, "absolute path");
    snprintf(src, sizeof src, "%s/nothing-here", f->dir);
    assert_int_equal(gpf_engine_image_import(f->e, &f->admin, "base", src, &im, NULL, &err), GPF_ENOTFOUND);
    assert_contains(err.msg, "not found on the control plane");
    /* a directory that is no layout */
    assert_int_equal(gpf_engine_image_import(f->e, &f->admin, "base", f->dir, &im, NULL, &err), GPF_EINVAL);
    assert_contains(err.msg, "not an OCI image");
    assert_contains(err.msg, "without an oci-layout file");

    /* skopeo missing: said how to get it */
    ef_close(f);
    f->skopeo = "/nonexistent/skopeo";
    ef_open(f);
    assert_int_equal(gpf_engine_image_import(f->e, &f->admin, "base", dir, &im, NULL, &err), GPF_ENOTSUP);
    assert_contains(err.msg, "apt-get install skopeo");
    ef_close(f);
    f->skopeo = NULL;
    ef_open(f);

    if (!of_have_skopeo())
        return;
    /* a file that is no OCI archive: skopeo's own words, one line */
    snprintf(file, sizeof file, "%s/not-an-image.tar", f->dir);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fputs("hello\n", fp);
    fclose(fp);
    assert_int_equal(gpf_engine_image_import(f->e, &f->admin, "base", file, &im, NULL, &err), GPF_EINVAL);
    assert_contains(err.msg, "not an OCI image");
    assert_null(strchr(err.msg, '\n'));
    /* a ref the layout lacks */
    snprintf(src, sizeof src, "%s:nope", dir);
    assert_int_equal(gpf_engine_image_import(f->e, &f->admin, "base", src, &im, NULL, &err), GPF_ENOTFOUND);
    assert_contains(err.msg, "no descriptor found for reference");
    gpf_image *list = NULL;
    size_t n = 9;
    assert_int_equal(gpf_engine_image_list(f->e, &list, &n, &err), 0);
    assert_int_equal(n, 0); /* nothing was recorded */
}

static void test_ensure_default(void **state)
{
    ef_fixture *f = *state;
    NEED_SKOPEO();
    char dir[200];
    of_image a, b;
    gpf_image im;
    gpf_error err = {0};
    int imported = -1;
    snprintf(dir, sizeof dir, "%s/default-abc", f->dir);
    /* a missing directory is only reported */
    assert_int_equal(gpf_engine_image_ensure(f->e, "default", dir, &imported, &im, &err), GPF_ENOTFOUND);
    assert_int_equal(imported, 0);
    of_make_layout(dir, "default", "v1", &a);
    assert_int_equal(gpf_engine_image_ensure(f->e, "default", dir, &imported, &im, &err), 0);
    assert_int_equal(imported, 1);
    assert_string_equal(im.digest, a.manifest);
    /* the same digest: nothing to do */
    assert_int_equal(gpf_engine_image_ensure(f->e, "default", dir, &imported, &im, &err), 0);
    assert_int_equal(imported, 0);
    /* a rebuilt image (another digest) is imported again */
    of_make_layout(dir, "default", "v2", &b);
    assert_int_equal(gpf_engine_image_ensure(f->e, "default", dir, &imported, &im, &err), 0);
    assert_int_equal(imported, 1);
    assert_string_equal(im.digest, b.manifest);
    /* a layout of several images: the one named "default" */
    of_image c, d;
    char dir2[200];
    snprintf(dir2, sizeof dir2, "%s/several", f->dir);
    of_make_layout(dir2, "other", "v3", &c);
    of_add_image(dir2, "default", "v4", &d);
    assert_int_equal(gpf_engine_image_ensure(f->e, "default", dir2, &imported, &im, &err), 0);
    assert_int_equal(imported, 1);
    assert_string_equal(im.digest, d.manifest);
}

static void test_delete_in_use(void **state)
{
    ef_fixture *f = *state;
    NEED_SKOPEO();
    of_image a;
    gpf_error err = {0};
    char dir[200];
    snprintf(dir, sizeof dir, "%s/src", f->dir);
    of_make_layout(dir, "latest", "cuda", &a);
    gpf_image im;
    assert_int_equal(gpf_engine_image_import(f->e, &f->admin, "cuda", dir, &im, NULL, &err), 0);
    assert_int_equal(gpf_engine_image_import(f->e, &f->admin, "default", dir, &im, NULL, &err), 0);
    gpf_sku k;
    assert_int_equal(gpf_engine_sku_get(f->e, "whole", &k, &err), 0);
    snprintf(k.image, sizeof k.image, "cuda");
    assert_int_equal(gpf_engine_sku_update(f->e, &f->admin, &k, NULL, &err), 0);

    assert_int_equal(gpf_engine_image_delete(f->e, &f->alice, "cuda", &err), GPF_EFORBIDDEN);
    assert_int_equal(gpf_engine_image_delete(f->e, &f->admin, "cuda", &err), GPF_EEXIST);
    assert_string_equal(err.msg, "image 'cuda' is used by SKU whole: change or delete it first");
    /* SKUs without an image run "default" (mig1g here) */
    assert_int_equal(gpf_engine_image_delete(f->e, &f->admin, "default", &err), GPF_EEXIST);
    assert_contains(err.msg, "SKU mig1g");
    assert_contains(err.msg, "runs \"default\"");
    assert_int_equal(gpf_engine_image_delete(f->e, &f->admin, "nope", &err), GPF_ENOTFOUND);

    assert_int_equal(gpf_engine_sku_delete(f->e, &f->admin, "whole", &err), 0);
    assert_int_equal(gpf_engine_image_delete(f->e, &f->admin, "cuda", &err), 0);
    assert_int_equal(gpf_engine_image_get(f->e, "cuda", &im, &err), GPF_ENOTFOUND);
    ef_close(f);
    ef_open(f);
    assert_int_equal(gpf_engine_image_get(f->e, "cuda", &im, &err), GPF_ENOTFOUND);
    assert_int_equal(gpf_engine_image_get(f->e, "default", &im, &err), 0);
}

static void test_blob_open(void **state)
{
    ef_fixture *f = *state;
    of_image a;
    gpf_error err = {0};
    int fd = -1;
    int64_t size = 0;
    char buf[64], bad[80];
    mkdir(f->images, 0700);
    of_make_layout(f->images, "x", "blob", &a);

    assert_int_equal(gpf_engine_image_blob_open(f->e, &f->agent, a.config, &fd, &size, &err), 0);
    assert_true(fd >= 0);
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", f->images, a.config + 7);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(size, st.st_size);
    ssize_t got = read(fd, buf, sizeof buf - 1);
    assert_true(got > 0);
    buf[got] = '\0';
    assert_non_null(strstr(buf, "\"architecture\""));
    close(fd);

    assert_int_equal(gpf_engine_image_blob_open(f->e, &f->alice, a.config, &fd, &size, &err), GPF_EFORBIDDEN);
    assert_int_equal(fd, -1);
    assert_int_equal(gpf_engine_image_blob_open(f->e, &f->admin, a.config, &fd, &size, &err), GPF_EFORBIDDEN);
    snprintf(bad, sizeof bad, "%s", a.config);
    bad[10] = 'G';
    assert_int_equal(gpf_engine_image_blob_open(f->e, &f->agent, bad, &fd, &size, &err), GPF_EMALFORMED);
    assert_int_equal(gpf_engine_image_blob_open(f->e, &f->agent, "sha256:../../db", &fd, &size, &err), GPF_EMALFORMED);
    snprintf(bad, sizeof bad, "sha256:%064d", 7);
    assert_int_equal(gpf_engine_image_blob_open(f->e, &f->agent, bad, &fd, &size, &err), GPF_ENOTFOUND);
}

/* ---- the HTTP routes ---------------------------------------------------------------- */

static size_t collect(char *p, size_t sz, size_t n, void *ud)
{
    gpf_buf_append(ud, p, sz * n);
    return sz * n;
}

/* METHOD url with a bearer token (NULL: none) and a JSON body (NULL: none): the status;
 * body and content type (size 128) are filled. */
static long http(const char *method, const char *url, const char *token, const char *json, gpf_buf *body,
                 char *ctype)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char auth[200];
    long status = 0;
    gpf_buf_reset(body);
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    if (json) {
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(ctype, 128, "%s", ct ? ct : "");
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    gpf_buf_cstr(body);
    return status;
}

static void test_blob_and_image_routes(void **state)
{
    ef_fixture *f = *state;
    gpf_api *api = NULL;
    gpf_api_config ac = {0};
    gpf_error err = {0};
    gpf_buf body = {0};
    char base[64], url[300], ctype[128], atok[96], utok[96], bad[80];
    of_image a;
    int hb = 0;
    mkdir(f->images, 0700);
    of_make_layout(f->images, "x", "routes", &a);
    /* tokens: an agent's (registering again) and alice's */
    gpf_host_rec h = ef_host_h100();
    assert_int_equal(gpf_engine_agent_register(f->e, ef_credential(f, h.id), &h, atok, sizeof atok, &hb, &err), 0);
    ef_keep_token(f, h.id, atok);
    assert_int_equal(gpf_engine_token_create(f->e, &f->admin, "alice", NULL, utok, sizeof utok, NULL, &err), 0);
    ac.engine = f->e;
    ac.bind_address = "127.0.0.1";
    assert_int_equal(gpf_api_start(&ac, &api, &err), 0);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", gpf_api_port(api));

    snprintf(url, sizeof url, "%s/v1/agent/blobs/%s", base, a.layer);
    assert_int_equal(http("GET", url, atok, NULL, &body, ctype), 200);
    assert_string_equal(ctype, "application/octet-stream");
    char path[512];
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", f->images, a.layer + 7);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(body.len, (size_t)st.st_size);
    char hex[65];
    gpf_sha256_hex_buf(body.data, body.len, hex);
    assert_string_equal(hex, a.layer + 7); /* the exact bytes */

    assert_int_equal(http("GET", url, utok, NULL, &body, ctype), 403);
    assert_contains(body.data, "\"forbidden\"");
    assert_int_equal(http("GET", url, NULL, NULL, &body, ctype), 401);
    snprintf(bad, sizeof bad, "%s", a.layer);
    bad[20] = 'X';
    snprintf(url, sizeof url, "%s/v1/agent/blobs/%s", base, bad);
    assert_int_equal(http("GET", url, atok, NULL, &body, ctype), 400);
    snprintf(url, sizeof url, "%s/v1/agent/blobs/sha256:%064d", base, 3);
    assert_int_equal(http("GET", url, atok, NULL, &body, ctype), 404);
    assert_contains(body.data, "\"not_found\"");

    /* the registry: any token lists, members may not import, deleting the unknown is 404 */
    snprintf(url, sizeof url, "%s/v1/images", base);
    assert_int_equal(http("GET", url, utok, NULL, &body, ctype), 200);
    assert_string_equal(body.data, "{\"images\":[]}\n");
    assert_int_equal(http("POST", url, utok, "{\"name\":\"x\",\"source\":\"/tmp\"}", &body, ctype), 403);
    assert_int_equal(http("POST", url, f->admin_tok, "{\"name\":\"x\"}", &body, ctype), 422);
    assert_contains(body.data, "source is required");
    assert_int_equal(http("POST", url, f->admin_tok, "{\"name\":\"x\",\"source\":\"/x\",\"tag\":1}", &body, ctype), 422);
    assert_contains(body.data, "unknown field 'tag'");
    snprintf(url, sizeof url, "%s/v1/images/nope", base);
    assert_int_equal(http("DELETE", url, f->admin_tok, NULL, &body, ctype), 404);

    if (of_have_skopeo()) {
        char src[200], json[400];
        of_image b;
        snprintf(src, sizeof src, "%s/src", f->dir);
        of_make_layout(src, "latest", "api", &b);
        snprintf(url, sizeof url, "%s/v1/images", base);
        snprintf(json, sizeof json, "{\"name\":\"api\",\"source\":\"%s\"}", src);
        assert_int_equal(http("POST", url, f->admin_tok, json, &body, ctype), 201);
        assert_contains(body.data, b.manifest);
        assert_contains(body.data, "\"replaced\":false");
        assert_int_equal(http("POST", url, f->admin_tok, json, &body, ctype), 200);
        assert_contains(body.data, "\"replaced\":true");
        snprintf(url, sizeof url, "%s/v1/images/api", base);
        assert_int_equal(http("GET", url, utok, NULL, &body, ctype), 200);
        assert_contains(body.data, "\"size_bytes\":");
        assert_int_equal(http("DELETE", url, utok, NULL, &body, ctype), 403);
        assert_int_equal(http("DELETE", url, f->admin_tok, NULL, &body, ctype), 204);
    }
    gpf_api_stop(api);
    gpf_buf_clear(&body);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digest_valid),
        cmocka_unit_test(test_subproc),
        cmocka_unit_test_setup_teardown(test_layout_find, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_import_and_replace, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_import_refusals, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_ensure_default, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_delete_in_use, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_blob_open, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_blob_and_image_routes, ef_setup, ef_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
