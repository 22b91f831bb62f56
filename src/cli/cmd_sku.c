/* gpufleet sku ls | show | create | rm */
#include "cli/cli_int.h"

#include <string.h>

#include "util/alloc.h"

const char gpf_cli_help_sku[] =
    "usage: gpufleet sku ls [--json]\n"
    "       gpufleet sku show NAME [--json]\n"
    "       gpufleet sku create --name NAME [--kind whole|mig|share|vgpu] [slice options]\n"
    "                           [--model M]... [--cpus N] [--memory-mib N] [--ttl-s N]\n"
    "                           [--idle-timeout-s N] [--price-per-hour 2.50]\n"
    "                           [--description TEXT] [--env 'K=V;K2=V2'] [--license-feature F]\n"    "                           [--image NAME] [--min-isolation hardware|device|soft]\n"
    "       gpufleet sku create --file sku.json\n"
    "       gpufleet sku rm NAME\n"
    "\n"
    "slice options: whole: --gpus N (default 1); mig: --mig-profile 1g.10gb;\n"
    "share: --share-milli 250 [--share-memory-mib N]; vgpu: --vgpu-type A100-4C.\n"
    "--model takes catalog keys (H100-80GB-SXM5, or H100-80GB for any form factor); none = any.\n"
    "Prices are decimals in the billing currency per hour (at most 6 decimals).\n"
    "--image: an image of `gpufleet image ls` (none: the image named \"default\").\n"
    "--min-isolation: the weakest isolation its pods accept (default device): hosts whose\n"
    "runtime gives less (the process runtime gives soft) are not used for them.\n";

#define CREATE_FLAGS                                                                    \
    "file name kind gpus mig-profile share-milli share-memory-mib vgpu-type model cpus " \
    "memory-mib ttl-s idle-timeout-s price-per-hour description env license-feature image min-isolation"

static void sku_path(gpf_buf *b, const char *name)
{
    gpf_buf_puts(b, "/v1/skus/");
    gpf_cli_escape(b, name);
}

static void models_cell(const json_t *sku, char *out, size_t size)
{
    const json_t *m = json_object_get(sku, "gpu_models");
    if (!json_is_array(m) || json_array_size(m) == 0)
        snprintf(out, size, "any");
    else
        gpf_cli_scalar(m, out, size);
}

static void price_cell(const json_t *o, char *out, size_t size)
{
    gpf_cli_format_money(gpf_cli_int(o, "price_micro_per_hour"), out, size);
}

static void ttl_cell(long long s, char *out, size_t size)
{
    if (s <= 0)
        snprintf(out, size, "-");
    else
        gpf_cli_duration(s * 1000, out, size);
}

static void sku_row(gpf_table *t, const json_t *sku, void *arg)
{
    char slice[128], models[256], cpus[32], mem[32], price[48], ttl[32];
    (void)arg;
    gpf_cli_slice(json_object_get(sku, "slice"), slice, sizeof slice);
    models_cell(sku, models, sizeof models);
    snprintf(cpus, sizeof cpus, "%lld", gpf_cli_int(sku, "cpus"));
    gpf_cli_memory(gpf_cli_int(sku, "memory_mib"), mem, sizeof mem);
    price_cell(sku, price, sizeof price);
    ttl_cell(gpf_cli_int(sku, "ttl_s"), ttl, sizeof ttl);
    const char *row[] = {gpf_cli_str(sku, "name"), slice, models, cpus, mem, price, ttl,
                         gpf_cli_str(sku, "description")};
    gpf_table_add(t, row);
}

static int sku_ls(gpf_cli *c)
{
    static const char *const hdr[] = {"NAME", "SLICE", "MODELS", "CPUS", "MEMORY",
                                      "PRICE/H", "TTL", "DESCRIPTION"};
    int rc = gpf_cli_expect(c, "sku ls", 2, 0, 0, "limit");
    return rc ? rc : gpf_cli_list(c, "/v1/skus", "skus", 8, hdr, sku_row, NULL);
}

static void sku_fields(const gpf_cli *c, const json_t *sku, gpf_table *t)
{
    char v[256];
    (void)c;
    gpf_cli_kv_json(t, "name", sku, "name");
    gpf_cli_kv_json(t, "description", sku, "description");
    gpf_cli_slice(json_object_get(sku, "slice"), v, sizeof v);
    gpf_cli_kv(t, "slice", v);
    models_cell(sku, v, sizeof v);
    gpf_cli_kv(t, "models", v);
    gpf_cli_kv_json(t, "cpus", sku, "cpus");
    gpf_cli_memory(gpf_cli_int(sku, "memory_mib"), v, sizeof v);
    gpf_cli_kv(t, "memory", v);
    ttl_cell(gpf_cli_int(sku, "ttl_s"), v, sizeof v);
    gpf_cli_kv(t, "ttl", v);
    ttl_cell(gpf_cli_int(sku, "idle_timeout_s"), v, sizeof v);
    gpf_cli_kv(t, "idle timeout", v);
    price_cell(sku, v, sizeof v);
    gpf_cli_kv(t, "price/hour", v);
    gpf_cli_kv_json(t, "license feature", sku, "license_feature");
    gpf_cli_kv_json(t, "env", sku, "env");
    const char *image = gpf_cli_str(sku, "image");
    gpf_cli_kv(t, "image", *image ? image : "default");
    gpf_cli_kv_json(t, "min isolation", sku, "min_isolation");
    gpf_cli_kv_time(t, "created", sku, "created_at");
    gpf_cli_kv_time(t, "updated", sku, "updated_at");
}

static int sku_show(gpf_cli *c)
{
    gpf_buf path = {0};
    int rc = gpf_cli_expect(c, "sku show", 2, 1, 1, "");
    if (rc == 0) {
        sku_path(&path, gpf_cli_pos(c, 2));
        rc = gpf_cli_show(c, gpf_buf_cstr(&path), sku_fields);
    }
    gpf_buf_clear(&path);
    return rc;
}

/* Copies an integer flag into obj[key] when given. */
static int int_field(gpf_cli *c, json_t *obj, const char *flag, const char *key, long long min,
                     long long max)
{
    long long v = 0;
    int given = 0;
    int rc = gpf_cli_int_opt(c, flag, min, max, &v, &given);
    if (rc == 0 && given)
        json_object_set_new(obj, key, json_integer(v));
    return rc;
}

static void str_field(gpf_cli *c, json_t *obj, const char *flag, const char *key)
{
    const char *v = gpf_cli_opt(c, flag);
    if (v)
        json_object_set_new(obj, key, json_string(v));
}

/* Builds the create body from flags into *out. Returns 0 or an exit code. */
static int body_from_flags(gpf_cli *c, json_t **out)
{
    int rc = 0;
    json_t *b = json_object(), *slice = json_object(), *models = json_array();
    const char *kind = gpf_cli_opt(c, "kind");
    const char *name = gpf_cli_opt(c, "name");
    const char *price = gpf_cli_opt(c, "price-per-hour");
    static const struct {
        const char *kind, *flags;
    } slice_flags[] = {{"whole", "gpus"},
                       {"mig", "mig-profile"},
                       {"share", "share-milli share-memory-mib"},
                       {"vgpu", "vgpu-type"}};
    static const char *const all_slice_flags[] = {"gpus", "mig-profile", "share-milli",
                                                  "share-memory-mib", "vgpu-type"};
    size_t k;

    *out = NULL;
    if (!name) {
        rc = gpf_cli_usage(c, "'sku create' needs --name (or --file)");
        goto out;
    }
    kind = kind ? kind : "whole";
    for (k = 0; k < sizeof slice_flags / sizeof slice_flags[0]; k++)
        if (strcmp(slice_flags[k].kind, kind) == 0)
            break;
    if (k == sizeof slice_flags / sizeof slice_flags[0]) {
        rc = gpf_cli_usage(c, "--kind must be whole, mig, share or vgpu (got '%s')", kind);
        goto out;
    }
    for (size_t i = 0; i < sizeof all_slice_flags / sizeof all_slice_flags[0]; i++) {
        const char *f = all_slice_flags[i];
        if (gpf_cli_has(c, f) && !strstr(slice_flags[k].flags, f)) {
            rc = gpf_cli_usage(c, "--%s does not apply to a %s slice", f, kind);
            goto out;
        }
    }
    json_object_set_new(b, "name", json_string(name));
    str_field(c, b, "description", "description");
    json_object_set_new(slice, "kind", json_string(kind));
    if ((rc = int_field(c, slice, "gpus", "gpu_count", 1, 64)) != 0 ||
        (rc = int_field(c, slice, "share-milli", "share_milli", 1, 1000)) != 0 ||
        (rc = int_field(c, slice, "share-memory-mib", "share_memory_mib", 0, 1LL << 30)) != 0)
        goto out;
    str_field(c, slice, "mig-profile", "mig_profile");
    str_field(c, slice, "vgpu-type", "vgpu_type");
    if ((strcmp(kind, "mig") == 0 && !gpf_cli_has(c, "mig-profile")) ||
        (strcmp(kind, "share") == 0 && !gpf_cli_has(c, "share-milli")) ||
        (strcmp(kind, "vgpu") == 0 && !gpf_cli_has(c, "vgpu-type"))) {
        rc = gpf_cli_usage(c, "a %s slice needs --%s", kind,
                           kind[0] == 'm' ? "mig-profile" : kind[0] == 's' ? "share-milli" : "vgpu-type");
        goto out;
    }
    json_object_set(b, "slice", slice);
    for (int i = 0; i < c->nflags; i++)
        if (strcmp(c->flags[i].name, "model") == 0)
            json_array_append_new(models, json_string(c->flags[i].value));
    if (json_array_size(models) > 0)
        json_object_set(b, "gpu_models", models);
    if ((rc = int_field(c, b, "cpus", "cpus", 0, 1 << 20)) != 0 ||
        (rc = int_field(c, b, "memory-mib", "memory_mib", 0, 1LL << 40)) != 0 ||
        (rc = int_field(c, b, "ttl-s", "ttl_s", 0, 1LL << 40)) != 0 ||
        (rc = int_field(c, b, "idle-timeout-s", "idle_timeout_s", 0, 1LL << 40)) != 0)
        goto out;
    if (price) {
        int64_t micro = 0;
        gpf_error err = {0};
        if (gpf_cli_parse_money(price, &micro, &err) != 0) {
            rc = gpf_cli_usage(c, "--price-per-hour: %s", gpf_error_msg(&err));
            goto out;
        }
        json_object_set_new(b, "price_micro_per_hour", json_integer(micro));
    }
    str_field(c, b, "license-feature", "license_feature");
    str_field(c, b, "env", "env");
    str_field(c, b, "image", "image");
    str_field(c, b, "min-isolation", "min_isolation");
    *out = b;
    b = NULL;
out:
    json_decref(b);
    json_decref(slice);
    json_decref(models);
    return rc;
}

static int sku_create(gpf_cli *c)
{
    int rc;
    json_t *body = NULL, *resp = NULL;
    const char *file = gpf_cli_opt(c, "file");

    rc = gpf_cli_expect(c, "sku create", 2, 0, 0, CREATE_FLAGS);
    if (rc != 0)
        goto out;
    if (file) {
        char *text = NULL;
        gpf_error err = {0};
        json_error_t jerr;
        for (int i = 0; i < c->nflags; i++)
            if (!strstr("file server token json help", c->flags[i].name)) {
                rc = gpf_cli_usage(c, "--file cannot be combined with --%s", c->flags[i].name);
                goto out;
            }
        if (gpf_read_file(file, 64 * 1024, &text, &err) != 0) {
            rc = gpf_cli_fail_err(&err);
            goto out;
        }
        body = json_loads(text, 0, &jerr);
        gpf_free(text);
        if (!json_is_object(body)) {
            rc = gpf_cli_fail(GPF_EINVAL, "%s: not a JSON object%s%s", file, body ? "" : ": ",
                              body ? "" : jerr.text);
            goto out;
        }
    } else if ((rc = body_from_flags(c, &body)) != 0) {
        goto out;
    }
    rc = gpf_cli_call(c, "POST", "/v1/skus", body, &resp);
    if (rc != 0)
        goto out;
    if (c->json)
        gpf_cli_print_json(resp);
    else
        printf("created sku %s\n", gpf_cli_str(resp ? resp : body, "name"));
out:
    json_decref(body);
    json_decref(resp);
    return rc;
}

static int sku_rm(gpf_cli *c)
{
    int rc;
    gpf_buf path = {0};

    rc = gpf_cli_expect(c, "sku rm", 2, 1, 1, "");
    if (rc != 0)
        goto out;
    sku_path(&path, gpf_cli_pos(c, 2));
    rc = gpf_cli_call(c, "DELETE", gpf_buf_cstr(&path), NULL, NULL);
    if (rc == 0)
        printf("deleted sku %s\n", gpf_cli_pos(c, 2));
out:
    gpf_buf_clear(&path);
    return rc;
}

int gpf_cli_cmd_sku(gpf_cli *c)
{
    const char *verb = gpf_cli_pos(c, 1);
    if (!verb)
        return gpf_cli_usage(c, "'sku' needs a verb: ls, show, create or rm");
    if (strcmp(verb, "ls") == 0 || strcmp(verb, "list") == 0)
        return sku_ls(c);
    if (strcmp(verb, "show") == 0)
        return sku_show(c);
    if (strcmp(verb, "create") == 0)
        return sku_create(c);
    if (strcmp(verb, "rm") == 0 || strcmp(verb, "delete") == 0)
        return sku_rm(c);
    return gpf_cli_usage(c, "unknown verb 'sku %s'", verb);
}
