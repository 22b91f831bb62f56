/* Decoders for user request bodies (SKUs, launches, users), the shared field helpers
 * (codec/codec_int.h) and the validators (SSH keys, times; names are checked with
 * gpf_name_valid, model/ids.h). Strict decoders reject unknown fields, wrong types,
 * missing required fields and bad values with GPF_EINVAL and a message naming the field;
 * the lenient ones (our own pod shapes, in codec_agent.c) ignore unknown fields but still
 * check every value they take. Nothing is ever silently truncated. */
#include "codec/codec.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "codec/codec_int.h"
#include "util/alloc.h"

int codec_bad(codec_ctx *c, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return gpf_error_set(c->err, GPF_EINVAL, "%s", msg);
}

int codec_not_object(codec_ctx *c, const char *what)
{
    return gpf_error_set(c->err, GPF_EMALFORMED, "%s must be a JSON object", what);
}

/* ---- character classes ---- */

static int is_alnum(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

static int is_lower_alpha(int ch)
{
    return ch >= 'a' && ch <= 'z';
}

static int is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

int codec_has_ctrl(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f)
            return 1;
    }
    return 0;
}

/* First char in first, the rest in rest (both C strings of allowed punctuation, plus
 * ASCII letters and digits), length 1..max. */
int codec_token_valid(const char *s, const char *first, const char *rest, size_t max)
{
    size_t n = 0;

    if (!s || !s[0])
        return 0;
    n = strlen(s);
    if (n > max)
        return 0;
    if (!is_alnum((unsigned char)s[0]) && !strchr(first, s[0]))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!is_alnum((unsigned char)s[i]) && !strchr(rest, s[i]))
            return 0;
    return 1;
}

int codec_model_key_valid(const char *s, size_t max)
{
    return codec_token_valid(s, "", "._+-", max);
}

/* p past [0-9]+ followed by the two characters of lit, or NULL when it does not start so. */
static const char *digits_then(const char *p, const char *lit)
{
    if (!is_digit((unsigned char)*p))
        return NULL;
    while (is_digit((unsigned char)*p))
        p++;
    return p[0] == lit[0] && p[1] == lit[1] ? p + 2 : NULL;
}

/* [0-9]+g\.[0-9]+gb([+-][a-z]+(\.[a-z]+)?)? */
static int mig_profile_valid(const char *s)
{
    const char *p = digits_then(s, "g.");
    if (!p || !(p = digits_then(p, "gb")))
        return 0;
    if (*p == '\0')
        return 1;
    /* catalog suffixes: "+me", "-me", "+gfx", "+me.all" */
    if (*p != '+' && *p != '-')
        return 0;
    p++;
    if (!is_lower_alpha((unsigned char)*p))
        return 0;
    while (is_lower_alpha((unsigned char)*p))
        p++;
    if (*p == '.') {
        p++;
        if (!is_lower_alpha((unsigned char)*p))
            return 0;
        while (is_lower_alpha((unsigned char)*p))
            p++;
    }
    return *p == '\0';
}

/* "" or K=V pairs separated by ';', K = [A-Za-z_][A-Za-z0-9_]*. */
int codec_env_valid(const char *s)
{
    const char *p = s;

    while (*p) {
        const char *end = strchr(p, ';'), *eq = NULL;
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0)
            return 0;
        eq = memchr(p, '=', n);
        if (!eq || eq == p || !(is_alnum((unsigned char)*p) || *p == '_') ||
            is_digit((unsigned char)*p))
            return 0;
        for (const char *k = p; k < eq; k++)
            if (!is_alnum((unsigned char)*k) && *k != '_')
                return 0;
        p += n;
        if (*p == ';') {
            p++;
            if (!*p)
                return 0;
        }
    }
    return 1;
}

static int base64_char(int ch)
{
    return is_alnum(ch) || ch == '+' || ch == '/';
}

int gpf_ssh_pubkey_valid(const char *s)
{
    static const char *const types[] = {"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256",
                                        "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"};
    const char *sp = NULL, *b64 = NULL, *end = NULL;
    size_t n = 0, tlen = 0, blen = 0, pad = 0;
    int known = 0;

    if (!s)
        return 0;
    n = strnlen(s, GPF_PUBKEY_MAX);
    if (n == 0 || n >= GPF_PUBKEY_MAX || codec_has_ctrl(s, n))
        return 0;
    sp = strchr(s, ' ');
    if (!sp)
        return 0;
    tlen = (size_t)(sp - s);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strlen(types[i]) == tlen && memcmp(types[i], s, tlen) == 0)
            known = 1;
    if (!known && tlen > 3 && memcmp(s, "sk-", 3) == 0) {
        known = 1;
        for (size_t i = 3; i < tlen; i++)
            if (!is_alnum((unsigned char)s[i]) && !strchr("@._-", s[i]))
                known = 0;
    }
    if (!known)
        return 0;
    b64 = sp + 1;
    end = strchr(b64, ' ');
    blen = end ? (size_t)(end - b64) : strlen(b64);
    if (blen < 16 || blen % 4 != 0)
        return 0;
    while (pad < 2 && b64[blen - 1 - pad] == '=')
        pad++;
    for (size_t i = 0; i < blen - pad; i++)
        if (!base64_char((unsigned char)b64[i]))
            return 0;
    if (end && end[1] == '\0')
        return 0; /* a trailing space with no comment */
    return 1;
}

/* ---- field access ---- */

int codec_check_keys(codec_ctx *c, const json_t *obj, const char *const *allowed)
{
    const char *key = NULL;
    json_t *v = NULL;

    if (c->lenient)
        return 0;
    json_object_foreach((json_t *)obj, key, v)
    {
        int ok = 0;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(allowed[i], key) == 0)
                ok = 1;
        if (!ok)
            return codec_bad(c, "unknown field '%s%.64s'", c->pfx, key);
    }
    return 0;
}

/* *out = the value (NULL when absent); name receives the field's display name. */
static int lookup(codec_ctx *c, const json_t *obj, const char *key, int required,
                  const json_t **out, char *name, size_t namesz)
{
    const json_t *v = json_object_get(obj, key);

    snprintf(name, namesz, "%s%s", c->pfx, key);
    if (v && c->lenient && json_is_null(v))
        v = NULL;
    *out = v;
    if (!v && required)
        return codec_bad(c, "%s is required", name);
    return 0;
}

int codec_v_int(codec_ctx *c, const json_t *v, const char *name, long long min, long long max,
                int64_t *out)
{
    long long x = 0;

    if (!json_is_integer(v))
        return codec_bad(c, "%s must be an integer", name);
    x = json_integer_value(v);
    if (x < min || x > max) {
        if (max == LLONG_MAX)
            return codec_bad(c, "%s must be >= %lld", name, min);
        return codec_bad(c, "%s must be %lld..%lld", name, min, max);
    }
    *out = (int64_t)x;
    return 0;
}

int codec_v_str(codec_ctx *c, const json_t *v, const char *name, char *dst, size_t dstsz)
{
    const char *s = NULL;
    size_t n = 0;

    if (!json_is_string(v))
        return codec_bad(c, "%s must be a string", name);
    s = json_string_value(v);
    n = json_string_length(v);
    if (n >= dstsz)
        return codec_bad(c, "%s is too long (at most %zu bytes)", name, dstsz - 1);
    if (memchr(s, '\0', n) || codec_has_ctrl(s, n))
        return codec_bad(c, "%s must not contain control characters", name);
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

/* Absent optional fields leave *out untouched. */
int codec_get_int(codec_ctx *c, const json_t *obj, const char *key, int required, long long min,
                  long long max, int64_t *out)
{
    const json_t *v = NULL;
    char name[128];
    int rc = lookup(c, obj, key, required, &v, name, sizeof name);

    if (rc || !v)
        return rc;
    return codec_v_int(c, v, name, min, max, out);
}

int codec_get_int32(codec_ctx *c, const json_t *obj, const char *key, int required, int min,
                    int max, int *out)
{
    int64_t x = *out;
    int rc = codec_get_int(c, obj, key, required, min, max, &x);

    if (rc == 0)
        *out = (int)x;
    return rc;
}

int codec_get_str(codec_ctx *c, const json_t *obj, const char *key, int required, char *dst,
                  size_t dstsz)
{
    const json_t *v = NULL;
    char name[128];
    int rc = lookup(c, obj, key, required, &v, name, sizeof name);

    if (rc || !v)
        return rc;
    return codec_v_str(c, v, name, dst, dstsz);
}

int codec_get_bool(codec_ctx *c, const json_t *obj, const char *key, int *out)
{
    const json_t *v = NULL;
    char name[128];
    int rc = lookup(c, obj, key, 0, &v, name, sizeof name);

    if (rc || !v)
        return rc;
    if (!json_is_boolean(v))
        return codec_bad(c, "%s must be true or false", name);
    *out = json_is_true(v) ? 1 : 0;
    return 0;
}

/* A name field (GPF_ID_MAX buffer); "" allowed only when allow_empty. */
int codec_get_name(codec_ctx *c, const json_t *obj, const char *key, int required, int allow_empty,
                   char *dst)
{
    char tmp[GPF_ID_MAX] = "";
    int rc = codec_get_str(c, obj, key, required, tmp, sizeof tmp);

    if (rc || !json_object_get(obj, key) || json_is_null(json_object_get(obj, key)))
        return rc;
    if (!(allow_empty && !tmp[0]) && !gpf_name_valid(tmp))
        return codec_bad(c, "%s%s must match " CODEC_NAME_RULE, c->pfx, key);
    memcpy(dst, tmp, sizeof tmp);
    return 0;
}

int codec_get_enum(codec_ctx *c, const json_t *obj, const char *key, int required,
                   int (*parse)(const char *), const char *choices, int *out)
{
    char tmp[32] = "";
    const json_t *v = NULL;
    char name[128];
    int rc = lookup(c, obj, key, required, &v, name, sizeof name), x = -1;

    if (rc || !v)
        return rc;
    if (!json_is_string(v))
        return codec_bad(c, "%s must be a string", name);
    if (json_string_length(v) < sizeof tmp)
        gpf_strlcpy(tmp, json_string_value(v), sizeof tmp);
    x = parse(tmp);
    if (x < 0)
        return codec_bad(c, "%s must be one of %s", name, choices);
    *out = x;
    return 0;
}

/* days since 1970-01-01 for a proleptic Gregorian date */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era = 0, yoe = 0, doy = 0, doe = 0;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char *s, int n, int *out)
{
    int x = 0;

    for (int i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i]))
            return -1;
        x = x * 10 + (s[i] - '0');
    }
    *out = x;
    return 0;
}

/* RFC 3339: YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM) -> UTC ms. */
static int parse_time(const char *s, int64_t *out)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, ms = 0, oh = 0, om = 0, sign = 0;
    const char *p = s + 19;

    if (strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) ||
        s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
        return -1;
    if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return -1;
    if (*p == '.') {
        int scale = 100;
        p++;
        if (!is_digit((unsigned char)*p))
            return -1;
        for (; is_digit((unsigned char)*p); p++, scale /= 10)
            ms += (*p - '0') * scale;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        sign = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && !digits(p + 1, 2, &oh) &&
               p[3] == ':' && !digits(p + 4, 2, &om) && oh < 24 && om < 60) {
        sign = *p == '+' ? 1 : -1;
    } else {
        return -1;
    }
    if (sec == 60)
        sec = 59;
    *out = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + (int64_t)sec * 1000 + ms -
           (int64_t)sign * (oh * 60 + om) * 60000;
    return 0;
}

int codec_get_time(codec_ctx *c, const json_t *obj, const char *key, int64_t *out)
{
    char tmp[64] = "";
    int rc = codec_get_str(c, obj, key, 0, tmp, sizeof tmp);

    if (rc || !json_object_get(obj, key) || json_is_null(json_object_get(obj, key)))
        return rc;
    if (parse_time(tmp, out))
        return codec_bad(c, "%s%s must be an RFC 3339 time", c->pfx, key);
    return 0;
}

/* ---- slices and SKUs ---- */

static const char *const slice_keys[] = {
    "kind", "gpu_count", "mig_profile", "vgpu_type", "share_milli", "share_memory_mib", NULL};

static int slice_field_kind(const char *key)
{
    if (strcmp(key, "gpu_count") == 0)
        return GPF_SLICE_WHOLE;
    if (strcmp(key, "mig_profile") == 0)
        return GPF_SLICE_MIG;
    if (strcmp(key, "vgpu_type") == 0)
        return GPF_SLICE_VGPU;
    if (strcmp(key, "share_milli") == 0 || strcmp(key, "share_memory_mib") == 0)
        return GPF_SLICE_SHARE;
    return -1;
}

static int validate_slice(codec_ctx *c, const gpf_slice_spec *s)
{
    switch (s->kind) {
    case GPF_SLICE_WHOLE:
        if (s->gpu_count < 1 || s->gpu_count > GPF_MAX_POD_GPUS)
            return codec_bad(c, "slice.gpu_count must be 1..%d", GPF_MAX_POD_GPUS);
        break;
    case GPF_SLICE_MIG:
        if (!s->mig_profile[0])
            return codec_bad(c, "slice.mig_profile is required for kind mig");
        if (!mig_profile_valid(s->mig_profile))
            return codec_bad(c, "slice.mig_profile must look like 1g.10gb or 1g.10gb+me");
        break;
    case GPF_SLICE_VGPU:
        if (!s->vgpu_type[0])
            return codec_bad(c, "slice.vgpu_type is required for kind vgpu");
        if (!codec_model_key_valid(s->vgpu_type, sizeof s->vgpu_type - 1))
            return codec_bad(c, "slice.vgpu_type must look like L40S-12C");
        break;
    case GPF_SLICE_SHARE:
        if (s->share_milli == 0)
            return codec_bad(c, "slice.share_milli is required for kind share");
        if (s->share_milli < 1 || s->share_milli > 1000)
            return codec_bad(c, "slice.share_milli must be 1..1000");
        if (s->share_memory_mib < 0 || s->share_memory_mib > CODEC_MEM_MIB_MAX)
            return codec_bad(c, "slice.share_memory_mib must be 0..%lld", CODEC_MEM_MIB_MAX);
        break;
    default:
        return codec_bad(c, "slice.kind must be one of whole|mig|vgpu|share");
    }
    return 0;
}

/* Clears the fields that do not apply to the kind. */
static void normalize_slice(gpf_slice_spec *s)
{
    if (s->kind != GPF_SLICE_WHOLE)
        s->gpu_count = 1;
    if (s->kind != GPF_SLICE_MIG)
        memset(s->mig_profile, 0, sizeof s->mig_profile);
    if (s->kind != GPF_SLICE_VGPU)
        memset(s->vgpu_type, 0, sizeof s->vgpu_type);
    if (s->kind != GPF_SLICE_SHARE) {
        s->share_milli = 0;
        s->share_memory_mib = 0;
    }
}

/* merge: apply onto *s (a kind change starts from a fresh slice of the new kind). */
int codec_decode_slice(codec_ctx *c, const json_t *v, gpf_slice_spec *s, int merge)
{
    const char *saved = c->pfx, *key = NULL;
    json_t *fv = NULL;
    gpf_slice_spec t;
    int rc = 0, kind = merge ? (int)s->kind : -1;

    if (!json_is_object(v))
        return codec_bad(c, "%sslice must be an object", saved);
    c->pfx = "slice.";
    if ((rc = codec_check_keys(c, v, slice_keys)))
        goto out;
    if ((rc = codec_get_enum(c, v, "kind", !merge, gpf_slice_kind_parse, "whole|mig|vgpu|share",
                             &kind)))
        goto out;
    if (merge && kind == (int)s->kind) {
        t = *s;
    } else {
        memset(&t, 0, sizeof t);
        t.kind = (gpf_slice_kind)kind;
        t.gpu_count = 1;
    }
    if (!c->lenient) {
        json_object_foreach((json_t *)v, key, fv)
        {
            int fk = slice_field_kind(key);
            if (fk >= 0 && fk != kind) {
                rc = codec_bad(c, "slice.%s does not apply to kind %s", key,
                               gpf_slice_kind_name((gpf_slice_kind)kind));
                goto out;
            }
        }
    }
    if ((rc = codec_get_int32(c, v, "gpu_count", 0, 1, GPF_MAX_POD_GPUS, &t.gpu_count)) ||
        (rc = codec_get_str(c, v, "mig_profile", 0, t.mig_profile, sizeof t.mig_profile)) ||
        (rc = codec_get_str(c, v, "vgpu_type", 0, t.vgpu_type, sizeof t.vgpu_type)) ||
        (rc = codec_get_int32(c, v, "share_milli", 0, 1, 1000, &t.share_milli)) ||
        (rc =
             codec_get_int(c, v, "share_memory_mib", 0, 0, CODEC_MEM_MIB_MAX, &t.share_memory_mib)))
        goto out;
    if (!c->lenient && (rc = validate_slice(c, &t)))
        goto out;
    normalize_slice(&t);
    *s = t;
out:
    c->pfx = saved;
    return rc;
}

static int decode_models(codec_ctx *c, const json_t *v, gpf_sku *k)
{
    size_t n = 0;

    if (!json_is_array(v))
        return codec_bad(c, "gpu_models must be an array");
    n = json_array_size(v);
    if (n > GPF_MAX_SKU_MODELS)
        return codec_bad(c, "gpu_models has more than %d entries", GPF_MAX_SKU_MODELS);
    memset(k->models, 0, sizeof k->models);
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "gpu_models[%zu]", i);
        int rc = codec_v_str(c, json_array_get(v, i), name, k->models[i], sizeof k->models[i]);
        if (rc)
            return rc;
        if (!codec_model_key_valid(k->models[i], GPF_ID_MAX - 1))
            return codec_bad(c, "%s is not a valid model key", name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(k->models[i], k->models[j]) == 0)
                return codec_bad(c, "%s repeats '%s'", name, k->models[i]);
    }
    k->nmodels = (int)n;
    return 0;
}

static const char *const sku_keys[] = {
    "name",       "description", "slice",          "gpu_models",           "cpus",
    "memory_mib", "ttl_s",       "idle_timeout_s", "price_micro_per_hour", "license_feature",
    "env",        "image",       "min_isolation",  NULL};

static int decode_sku(codec_ctx *c, const json_t *body, gpf_sku *k, int creating)
{
    const json_t *v = NULL;
    int rc = 0;

    if (!json_is_object(body))
        return codec_not_object(c, "body");
    if ((rc = codec_check_keys(c, body, sku_keys)))
        return rc;
    if (creating) {
        if ((rc = codec_get_name(c, body, "name", 1, 0, k->name)))
            return rc;
    } else if (json_object_get(body, "name")) {
        return codec_bad(c, "name cannot be changed");
    }
    v = json_object_get(body, "slice");
    if (!v && creating)
        return codec_bad(c, "slice is required");
    if (v && (rc = codec_decode_slice(c, v, &k->slice, !creating)))
        return rc;
    v = json_object_get(body, "gpu_models");
    if (v && (rc = decode_models(c, v, k)))
        return rc;
    if ((rc = codec_get_str(c, body, "description", 0, k->description, sizeof k->description)) ||
        (rc = codec_get_int32(c, body, "cpus", 0, 0, 1024, &k->cpus)) ||
        (rc = codec_get_int(c, body, "memory_mib", 0, 0, CODEC_MEM_MIB_MAX, &k->memory_mib)) ||
        (rc = codec_get_int(c, body, "ttl_s", 0, 0, CODEC_SECONDS_MAX, &k->ttl_s)) ||
        (rc = codec_get_int(c, body, "idle_timeout_s", 0, 0, CODEC_SECONDS_MAX,
                            &k->idle_timeout_s)) ||
        (rc = codec_get_int(c, body, "price_micro_per_hour", 0, 0, CODEC_PRICE_MAX,
                            &k->price_micro_per_hour)) ||
        (rc = codec_get_name(c, body, "license_feature", 0, 1, k->license_feature)) ||
        (rc = codec_get_str(c, body, "env", 0, k->env, sizeof k->env)) ||
        (rc = codec_get_name(c, body, "image", 0, 1, k->image)))
        return rc;
    int iso = (int)k->min_isolation;
    if ((rc = codec_get_enum(c, body, "min_isolation", 0, gpf_isolation_parse, "hardware|device|soft", &iso)))
        return rc;
    k->min_isolation = (gpf_isolation)iso;
    char why[GPF_TEXT_MAX];
    if (!gpf_sku_env_valid(k->env, why, sizeof why)) /* the agent's own rule (model/fleet.h) */
        return codec_bad(c, "env must be K=V pairs separated by ';' (K = [A-Za-z_][A-Za-z0-9_]*): %s", why);
    return 0;
}

int gpf_decode_sku_create(const json_t *body, gpf_sku *out, gpf_error *err)
{
    codec_ctx c = {err, 0, ""};
    gpf_sku *t = GPF_NEW(gpf_sku);
    int rc = 0;

    t->slice.gpu_count = 1;
    t->min_isolation = GPF_ISO_DEVICE;
    rc = decode_sku(&c, body, t, 1);
    if (rc == 0)
        *out = *t;
    gpf_free(t);
    return rc;
}

int gpf_decode_sku_patch(const json_t *body, gpf_sku *sku, gpf_error *err)
{
    codec_ctx c = {err, 0, ""};
    gpf_sku *t = GPF_NEW(gpf_sku);
    int rc = 0;

    *t = *sku;
    rc = decode_sku(&c, body, t, 0);
    if (rc == 0)
        *sku = *t;
    gpf_free(t);
    return rc;
}

/* ---- launches and users ---- */

int codec_get_pubkey(codec_ctx *c, const json_t *obj, char *dst, size_t dstsz)
{
    int rc = codec_get_str(c, obj, "ssh_pubkey", 0, dst, dstsz);

    if (rc == 0 && dst[0] && !gpf_ssh_pubkey_valid(dst))
        return codec_bad(
            c, "%sssh_pubkey is not an OpenSSH public key line (\"ssh-ed25519 AAAA… comment\")",
            c->pfx);
    return rc;
}

int gpf_decode_launch(const json_t *body, gpf_launch_req *out, gpf_error *err)
{
    static const char *const keys[] = {"sku", "project", "ssh_pubkey", NULL};
    codec_ctx c = {err, 0, ""};
    gpf_launch_req *t = GPF_NEW(gpf_launch_req);
    int rc = 0;

    if (!json_is_object(body)) {
        rc = codec_not_object(&c, "body");
        goto out;
    }
    if ((rc = codec_check_keys(&c, body, keys)) ||
        (rc = codec_get_name(&c, body, "sku", 1, 0, t->sku)) ||
        (rc = codec_get_name(&c, body, "project", 0, 1, t->project)) ||
        (rc = codec_get_pubkey(&c, body, t->ssh_pubkey, sizeof t->ssh_pubkey)))
        goto out;
    *out = *t;
out:
    gpf_free(t);
    return rc;
}

int gpf_decode_override(const json_t *body, char *reason, size_t size, gpf_error *err)
{
    static const char *const keys[] = {"reason", NULL};
    codec_ctx c = {err, 0, ""};
    int rc = 0;

    if (!json_is_object(body))
        return codec_not_object(&c, "body");
    if ((rc = codec_check_keys(&c, body, keys)) || (rc = codec_get_str(&c, body, "reason", 1, reason, size)))
        return rc;
    if (!reason[0])
        return codec_bad(&c, "reason must say why the host may take pods despite its preflight");
    return 0;
}

#define ROLES "admin|operator|member|finance|viewer"

int gpf_decode_user_create(const json_t *body, gpf_user *out, gpf_error *err)
{
    static const char *const keys[] = {"name", "role", "ssh_pubkey", NULL};
    codec_ctx c = {err, 0, ""};
    gpf_user *t = GPF_NEW(gpf_user);
    int rc = 0, role = 0;

    if (!json_is_object(body)) {
        rc = codec_not_object(&c, "body");
        goto out;
    }
    if ((rc = codec_check_keys(&c, body, keys)) ||
        (rc = codec_get_name(&c, body, "name", 1, 0, t->name)) ||
        (rc = codec_get_enum(&c, body, "role", 1, gpf_role_parse, ROLES, &role)) ||
        (rc = codec_get_pubkey(&c, body, t->ssh_pubkey, sizeof t->ssh_pubkey)))
        goto out;
    t->role = (gpf_role)role;
    *out = *t;
out:
    gpf_free(t);
    return rc;
}

int gpf_decode_user_patch(const json_t *body, gpf_user *u, unsigned *changed, gpf_error *err)
{
    static const char *const keys[] = {"ssh_pubkey", "role", "disabled", NULL};
    codec_ctx c = {err, 0, ""};
    gpf_user *t = GPF_NEW(gpf_user);
    int rc = 0, role = 0;

    if (!json_is_object(body)) {
        rc = codec_not_object(&c, "body");
        goto out;
    }
    *t = *u;
    role = (int)t->role;
    if ((rc = codec_check_keys(&c, body, keys)) ||
        (rc = codec_get_enum(&c, body, "role", 0, gpf_role_parse, ROLES, &role)) ||
        (rc = codec_get_pubkey(&c, body, t->ssh_pubkey, sizeof t->ssh_pubkey)) ||
        (rc = codec_get_bool(&c, body, "disabled", &t->disabled)))
        goto out;
    t->role = (gpf_role)role;
    *u = *t;
    if (changed)
        *changed = (json_object_get(body, "role") ? GPF_USER_ROLE : 0u) |
                   (json_object_get(body, "ssh_pubkey") ? GPF_USER_KEY : 0u) |
                   (json_object_get(body, "disabled") ? GPF_USER_DISABLED : 0u);
out:
    gpf_free(t);
    return rc;
}

int gpf_decode_token_create(const json_t *body, char *name, int64_t *expires_in_s, gpf_error *err)
{
    static const char *const keys[] = {"name", "expires_in_s", NULL};
    codec_ctx c = {err, 0, ""};
    char n[GPF_ID_MAX] = "";
    int64_t life = 0;
    int rc = 0;

    if (body && !json_is_object(body))
        return codec_not_object(&c, "body");
    if (body && ((rc = codec_check_keys(&c, body, keys)) || (rc = codec_get_name(&c, body, "name", 0, 1, n)) ||
                 (rc = codec_get_int(&c, body, "expires_in_s", 0, 0, GPF_TOKEN_EXPIRES_MAX_S, &life))))
        return rc;
    memcpy(name, n, sizeof n);
    *expires_in_s = life;
    return 0;
}
