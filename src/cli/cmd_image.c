/* gpufleet image import | ls | show | rm: the OCI images pods run. */
#include "cli/cli_int.h"

#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"

const char gpf_cli_help_image[] =
    "usage: gpufleet image import SOURCE --name NAME [--json]\n"
    "       gpufleet image ls [--json]\n"
    "       gpufleet image show NAME [--json]\n"
    "       gpufleet image rm NAME\n"
    "\n"
    "import copies an OCI image into the control plane's image store under NAME (admin or\n"
    "operator); importing a name again replaces that image. SOURCE is read by the control\n"
    "plane: an OCI image layout directory (DIR, or DIR:REF to pick one of its images), an\n"
    "OCI archive (.tar), or a registry reference docker://REPO:TAG. Relative paths are made\n"
    "absolute here. The copy can take a while (skopeo runs on the control plane).\n"
    "A SKU names the image its pods run (`sku create --image NAME`; none: \"default\").\n"
    "rm refuses while a SKU uses the image.\n";

static void image_path(gpf_buf *b, const char *name)
{
    gpf_buf_puts(b, "/v1/images/");
    gpf_cli_escape(b, name);
}

/* 123456789 -> "117.7MiB" (one decimal), under 1 KiB in bytes. */
static void size_cell(long long bytes, char *out, size_t size)
{
    static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) {
        snprintf(out, size, "%lldB", bytes);
        return;
    }
    long long tenths = bytes * 10 / 1024;
    int u = 0;
    while (tenths >= 10240 && u < 3) {
        tenths /= 1024;
        u++;
    }
    snprintf(out, size, "%lld.%lld%s", tenths / 10, tenths % 10, unit[u]);
}

static void image_row(gpf_table *t, const json_t *im, void *arg)
{
    char digest[32], size[32], created[32];
    (void)arg;
    snprintf(digest, sizeof digest, "%.19s", gpf_cli_str(im, "digest"));
    size_cell(gpf_cli_int(im, "size_bytes"), size, sizeof size);
    gpf_cli_time(json_object_get(im, "created_at"), created, sizeof created);
    const char *row[] = {gpf_cli_str(im, "name"), digest, size, created, gpf_cli_str(im, "source")};
    gpf_table_add(t, row);
}

static void image_fields(const gpf_cli *c, const json_t *im, gpf_table *t)
{
    char v[32];
    (void)c;
    gpf_cli_kv_json(t, "name", im, "name");
    gpf_cli_kv_json(t, "digest", im, "digest");
    size_cell(gpf_cli_int(im, "size_bytes"), v, sizeof v);
    gpf_cli_kv(t, "size", v);
    gpf_cli_kv_json(t, "source", im, "source");
    gpf_cli_kv_time(t, "imported", im, "created_at");
}

/* SOURCE as the control plane needs it: docker:// as given, a path made absolute. */
static int absolute_source(gpf_cli *c, const char *src, gpf_buf *out)
{
    char cwd[PATH_MAX];
    if (strncmp(src, "docker://", 9) == 0 || src[0] == '/') {
        gpf_buf_puts(out, src);
        return 0;
    }
    if (!getcwd(cwd, sizeof cwd))
        return gpf_cli_usage(c, "cannot make '%s' absolute (no working directory)", src);
    gpf_buf_printf(out, "%s/%s", strcmp(cwd, "/") ? cwd : "", strncmp(src, "./", 2) ? src : src + 2);
    return 0;
}

static int image_import(gpf_cli *c)
{
    gpf_buf src = {0};
    json_t *body = NULL, *resp = NULL;
    const char *name = gpf_cli_opt(c, "name");
    int rc = gpf_cli_expect(c, "image import", 2, 1, 1, "name");
    if (rc != 0)
        goto out;
    if (!name) {
        rc = gpf_cli_usage(c, "'image import' needs --name NAME");
        goto out;
    }
    if ((rc = absolute_source(c, gpf_cli_pos(c, 2), &src)) != 0 || (rc = gpf_cli_connect(c)) != 0)
        goto out;
    body = json_pack("{s:s, s:s}", "name", name, "source", gpf_buf_cstr(&src));
    if (!body) {
        rc = gpf_cli_fail(GPF_EINVAL, "the name or source is not valid UTF-8");
        goto out;
    }
    if (isatty(2))
        fprintf(stderr, "importing %s as image %s (the control plane copies it; this can take a while)...\n",
                gpf_buf_cstr(&src), name);
    gpf_httpc_set_timeout_ms(c->http, 15L * 60 * 1000); /* the control plane allows an import 10 minutes */
    if ((rc = gpf_cli_call(c, "POST", "/v1/images", body, &resp)) != 0)
        goto out;
    if (c->json) {
        gpf_cli_print_json(resp);
    } else {
        char size[32];
        size_cell(gpf_cli_int(resp, "size_bytes"), size, sizeof size);
        if (json_is_true(json_object_get(resp, "replaced")))
            printf("replaced image %s: %s (was %s), %s\n", gpf_cli_str(resp, "name"), gpf_cli_str(resp, "digest"),
                   gpf_cli_str(resp, "previous_digest"), size);
        else
            printf("imported image %s: %s, %s\n", gpf_cli_str(resp, "name"), gpf_cli_str(resp, "digest"), size);
    }
out:
    json_decref(body);
    json_decref(resp);
    gpf_buf_clear(&src);
    return rc;
}

static int image_ls(gpf_cli *c)
{
    static const char *const hdr[] = {"NAME", "DIGEST", "SIZE", "IMPORTED", "SOURCE"};
    int rc = gpf_cli_expect(c, "image ls", 2, 0, 0, "limit");
    return rc ? rc : gpf_cli_list(c, "/v1/images", "images", 5, hdr, image_row, NULL);
}

/* image show NAME / image rm NAME. */
static int image_one(gpf_cli *c, int rm)
{
    gpf_buf path = {0};
    int rc = gpf_cli_expect(c, rm ? "image rm" : "image show", 2, 1, 1, "");
    if (rc == 0) {
        image_path(&path, gpf_cli_pos(c, 2));
        rc = rm ? gpf_cli_call(c, "DELETE", gpf_buf_cstr(&path), NULL, NULL)
                : gpf_cli_show(c, gpf_buf_cstr(&path), image_fields);
    }
    if (rc == 0 && rm)
        printf("deleted image %s\n", gpf_cli_pos(c, 2));
    gpf_buf_clear(&path);
    return rc;
}

int gpf_cli_cmd_image(gpf_cli *c)
{
    const char *verb = gpf_cli_pos(c, 1);
    if (!verb)
        return gpf_cli_usage(c, "'image' needs a verb: import, ls, show or rm");
    if (strcmp(verb, "import") == 0)
        return image_import(c);
    if (strcmp(verb, "ls") == 0 || strcmp(verb, "list") == 0)
        return image_ls(c);
    if (strcmp(verb, "show") == 0)
        return image_one(c, 0);
    if (strcmp(verb, "rm") == 0 || strcmp(verb, "delete") == 0)
        return image_one(c, 1);
    return gpf_cli_usage(c, "unknown verb 'image %s'", verb);
}
