/* CDI specs (agent/cdi.h): spec files read with limits, YAML converted to a jansson tree,
 * one validator for both (edits_apply validates a containerEdits object while merging it
 * into a gpf_cdi_edits) and device lookups. Spec directories and the fake spec: cdi_load.c.
 *
 * A loaded spec keeps only its validated containerEdits subtrees (spec-level and per
 * device); gpf_cdi_edits_for runs edits_apply on them again, which then can fail only on
 * the limits of the merged result. */
#include "agent/cdi.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/alloc.h"

#define DEFAULT_KIND "nvidia.com/gpu"
#define YAML_MAX_NODES 200000
#define YAML_MAX_DEPTH 64
#define MAX_OPTIONS 32         /* options of one mount */
#define MAX_GIDS 32            /* additionalGIDs of one containerEdits */
#define WHERE_MAX 192
#define HOOK_TIMEOUT_MAX 3600

typedef struct cdi_device {
    char name[GPF_CDI_NAME_MAX];
    json_t *edits;              /* its containerEdits (validated, not empty) */
} cdi_device;

typedef struct cdi_spec {
    char kind[GPF_CDI_NAME_MAX];
    int yaml;                   /* came from YAML: an integer is accepted for a string */
    json_t *edits;              /* spec-level containerEdits, or NULL */
    int ndev;
    cdi_device *dev;
} cdi_spec;

struct gpf_cdi {
    int nspecs, cap;
    cdi_spec *specs;
};

/* What a parse reports its errors against. */
typedef struct pctx {
    const char *origin;
    int yaml;
    gpf_error *err;
} pctx;

static const char *const hook_names[] = {"prestart",       "createRuntime", "createContainer",
                                         "startContainer", "poststart",     "poststop"};

/* ---- small helpers ------------------------------------------------------------------- */

static int is_alpha(int c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alnum(int c) { return is_alpha(c) || is_digit(c); }

/* Control characters become '?': messages and warnings hold one line each. */
static void sanitize(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

/* Sets "origin: where: message" (where may be "") and returns code. */
static int fail(const pctx *p, int code, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(const pctx *p, int code, const char *where, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (where && where[0])
        gpf_error_set(p->err, code, "%s: %s: %s", p->origin, where, msg);
    else
        gpf_error_set(p->err, code, "%s: %s", p->origin, msg);
    if (p->err)
        sanitize(p->err->msg);
    return code;
}

/* Appends s to the string in w (size bytes), truncating. */
static void cat(char *w, size_t size, const char *s)
{
    size_t n = strnlen(w, size);
    if (n + 1 < size)
        gpf_strlcpy(w + n, s, size - n);
}

/* w = where + "." + key, with "[idx]" when idx >= 0 (truncated to size: a label). */
static void sub(char *w, size_t size, const char *where, const char *key, long idx)
{
    char num[24];
    gpf_strlcpy(w, where, size);
    if (where[0] && key[0])
        cat(w, size, ".");
    cat(w, size, key);
    if (idx >= 0) {
        snprintf(num, sizeof num, "[%ld]", idx);
        cat(w, size, num);
    }
}

/* The string v into dst (size bytes): 0, or a negative code after setting the error. */
static int str_of(const pctx *p, json_t *v, const char *where, char *dst, size_t size)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (memchr(s, '\0', n))
            return fail(p, GPF_EMALFORMED, where, "contains a NUL byte");
        if (n >= size)
            return fail(p, GPF_EMALFORMED, where, "longer than %zu bytes", size - 1);
        memcpy(dst, s, n);
        dst[n] = '\0';
        return 0;
    }
    if (p->yaml && json_is_integer(v)) {
        int k = snprintf(dst, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        if (k < 0 || (size_t)k >= size)
            return fail(p, GPF_EMALFORMED, where, "longer than %zu bytes", size - 1);
        return 0;
    }
    return fail(p, GPF_EMALFORMED, where, "not a string");
}

/* o[key] as a string: 1 when present, 0 when absent or null (an error when required),
 * negative on error. */
static int field_str(const pctx *p, json_t *o, const char *key, const char *where, int required, char *dst,
                     size_t size)
{
    char w[WHERE_MAX];
    json_t *v = json_object_get(o, key);
    sub(w, sizeof w, where, key, -1);
    if (!v || json_is_null(v)) {
        dst[0] = '\0';
        return required ? fail(p, GPF_EMALFORMED, w, "missing") : 0;
    }
    int rc = str_of(p, v, w, dst, size);
    return rc < 0 ? rc : 1;
}

/* o[key] as an integer in min..max: 1, 0 when absent or null, negative on error. */
static int field_int(const pctx *p, json_t *o, const char *key, const char *where, long long min, long long max,
                     int octal, long long *out)
{
    char w[WHERE_MAX];
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    sub(w, sizeof w, where, key, -1);
    if (!json_is_integer(v))
        return fail(p, GPF_EMALFORMED, w, "not an integer");
    *out = json_integer_value(v);
    if (*out < min || *out > max)
        return octal ? fail(p, GPF_EMALFORMED, w, "out of range 0%llo..0%llo (octal)", (unsigned long long)min,
                            (unsigned long long)max)
                     : fail(p, GPF_EMALFORMED, w, "out of range %lld..%lld", min, max);
    return 1;
}

/* o[key] as an array: 1 and *out, 0 when absent or null, negative on error. */
static int field_arr(const pctx *p, json_t *o, const char *key, const char *where, json_t **out)
{
    char w[WHERE_MAX];
    *out = json_object_get(o, key);
    if (!*out || json_is_null(*out))
        return 0;
    if (!json_is_array(*out)) {
        sub(w, sizeof w, where, key, -1);
        return fail(p, GPF_EMALFORMED, w, "not an array");
    }
    return 1;
}

/* Absolute, no newline, no ".." component; a container path (container != 0) is also not
 * "/" and not under /proc or /sys. */
static int check_path(const pctx *p, const char *where, const char *s, int container)
{
    int real = 0;
    if (s[0] != '/')
        return fail(p, GPF_EMALFORMED, where, "not an absolute path");
    if (strpbrk(s, "\n\r"))
        return fail(p, GPF_EMALFORMED, where, "contains a newline");
    for (const char *c = s; *c;) {
        while (*c == '/')
            c++;
        if (!*c)
            break;
        size_t n = strcspn(c, "/");
        if (n == 2 && c[0] == '.' && c[1] == '.')
            return fail(p, GPF_EMALFORMED, where, "has a \"..\" component");
        if (!(n == 1 && c[0] == '.')) {
            if (container && !real && ((n == 4 && memcmp(c, "proc", 4) == 0) || (n == 3 && memcmp(c, "sys", 3) == 0)))
                return fail(p, GPF_EMALFORMED, where, "under /%.*s: refused", (int)n, c);
            real = 1;
        }
        c += n;
    }
    if (container && !real)
        return fail(p, GPF_EMALFORMED, where, "is \"/\": refused");
    return 0;
}

/* "K=V" with K a variable name. */
static int env_ok(const char *s)
{
    size_t k = 0;
    if (!(is_alpha(s[0]) || s[0] == '_'))
        return 0;
    while (is_alnum(s[k]) || s[k] == '_')
        k++;
    return s[k] == '=';
}

/* first: a letter (or a digit when digit_first); then letters, digits and extra; ends alnum. */
static int name_ok(const char *s, size_t n, int digit_first, const char *extra)
{
    if (n == 0 || n >= GPF_CDI_NAME_MAX || !(is_alpha(s[0]) || (digit_first && is_digit(s[0]))))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!is_alnum(s[i]) && !(s[i] && strchr(extra, s[i])))
            return 0;
    return is_alnum(s[n - 1]);
}

static int device_name_ok(const char *s) { return name_ok(s, strlen(s), 1, "_.:-"); }

static int kind_ok(const char *s)
{
    const char *slash = strchr(s, '/');
    size_t n = strlen(s);
    if (!slash || n >= GPF_CDI_NAME_MAX)
        return 0;
    return name_ok(s, (size_t)(slash - s), 0, "_.-") && name_ok(slash + 1, n - (size_t)(slash - s) - 1, 0, "_-");
}

/* "major.minor.patch", each 1..6 digits. */
static int version_ok(const char *s)
{
    for (int part = 0; part < 3; part++) {
        int d = 0;
        while (is_digit(*s) && d < 7)
            s++, d++;
        if (d < 1 || d > 6 || *s != (part < 2 ? '.' : '\0'))
            return 0;
        s++;
    }
    return 1;
}

/* ---- one containerEdits: validate and merge ------------------------------------------ */

static int parse_node(const pctx *p, json_t *o, const char *where, gpf_cdi_node *n)
{
    char w[WHERE_MAX], t[8], perm[8];
    long long v = 0;
    int rc;

    memset(n, 0, sizeof *n);
    if (!json_is_object(o))
        return fail(p, GPF_EMALFORMED, where, "not an object");
    if ((rc = field_str(p, o, "path", where, 1, n->path, sizeof n->path)) < 0)
        return rc;
    sub(w, sizeof w, where, "path", -1);
    if ((rc = check_path(p, w, n->path, 1)) < 0)
        return rc;
    if ((rc = field_str(p, o, "hostPath", where, 0, n->host_path, sizeof n->host_path)) < 0)
        return rc;
    sub(w, sizeof w, where, "hostPath", -1);
    if (rc == 0)
        gpf_strlcpy(n->host_path, n->path, sizeof n->host_path);
    else if ((rc = check_path(p, w, n->host_path, 0)) < 0)
        return rc;
    if ((rc = field_str(p, o, "type", where, 0, t, sizeof t)) < 0)
        return rc;
    if (strcmp(t, "c") == 0 || strcmp(t, "u") == 0)
        n->type = 'c';
    else if (strcmp(t, "b") == 0)
        n->type = 'b';
    else if (t[0]) {
        sub(w, sizeof w, where, "type", -1);
        return fail(p, GPF_EMALFORMED, w, "must be c, u or b");
    }
    if ((rc = field_int(p, o, "major", where, 0, 4095, 0, &v)) < 0)
        return rc;
    if (rc)
        n->major = v, n->has_numbers = 1;
    if ((rc = field_int(p, o, "minor", where, 0, (1 << 20) - 1, 0, &v)) < 0)
        return rc;
    if (rc)
        n->minor = v, n->has_numbers = 1;
    if ((rc = field_int(p, o, "fileMode", where, 0, 07777, 1, &v)) < 0)
        return rc;
    n->file_mode = rc ? (unsigned)v : 0;
    if ((rc = field_str(p, o, "permissions", where, 0, perm, sizeof perm)) < 0)
        return rc;
    if (rc && (strspn(perm, "rwm") != strlen(perm) || !perm[0] || strlen(perm) > 3)) {
        sub(w, sizeof w, where, "permissions", -1);
        return fail(p, GPF_EMALFORMED, w, "must be made of r, w and m");
    }
    if ((rc = field_int(p, o, "uid", where, 0, 4294967294LL, 0, &v)) < 0 ||
        (rc = field_int(p, o, "gid", where, 0, 4294967294LL, 0, &v)) < 0)
        return rc;
    return 0;
}

static int parse_mount(const pctx *p, json_t *o, const char *where, gpf_cdi_mount *m)
{
    char w[WHERE_MAX], type[32], opt[64];
    json_t *arr = NULL, *v;
    size_t i;
    int rc;

    memset(m, 0, sizeof *m);
    if (!json_is_object(o))
        return fail(p, GPF_EMALFORMED, where, "not an object");
    if ((rc = field_str(p, o, "hostPath", where, 1, m->host_path, sizeof m->host_path)) < 0)
        return rc;
    sub(w, sizeof w, where, "hostPath", -1);
    if ((rc = check_path(p, w, m->host_path, 0)) < 0)
        return rc;
    if ((rc = field_str(p, o, "containerPath", where, 1, m->container_path, sizeof m->container_path)) < 0)
        return rc;
    sub(w, sizeof w, where, "containerPath", -1);
    if ((rc = check_path(p, w, m->container_path, 1)) < 0)
        return rc;
    if ((rc = field_str(p, o, "type", where, 0, type, sizeof type)) < 0)
        return rc;
    if ((rc = field_arr(p, o, "options", where, &arr)) < 0)
        return rc;
    if (rc && json_array_size(arr) > MAX_OPTIONS) {
        sub(w, sizeof w, where, "options", -1);
        return fail(p, GPF_EINVAL, w, "more than %d options", MAX_OPTIONS);
    }
    if (rc)
        json_array_foreach(arr, i, v) {
            sub(w, sizeof w, where, "options", (long)i);
            if ((rc = str_of(p, v, w, opt, sizeof opt)) < 0)
                return rc;
            if (strcmp(opt, "ro") == 0)
                m->readonly = 1;
        }
    return 0;
}

static int parse_hook(const pctx *p, json_t *o, const char *where, gpf_cdi_hook *h)
{
    char w[WHERE_MAX];
    json_t *arr = NULL, *v;
    long long t = 0;
    size_t i;
    int rc;

    memset(h, 0, sizeof *h);
    if (!json_is_object(o))
        return fail(p, GPF_EMALFORMED, where, "not an object");
    if ((rc = field_str(p, o, "hookName", where, 1, h->hook_name, sizeof h->hook_name)) < 0)
        return rc;
    int known = 0;
    for (size_t k = 0; k < sizeof hook_names / sizeof hook_names[0]; k++)
        known |= strcmp(h->hook_name, hook_names[k]) == 0;
    sub(w, sizeof w, where, "hookName", -1);
    if (!known)
        return fail(p, GPF_EMALFORMED, w,
                    "not one of prestart, createRuntime, createContainer, startContainer, poststart, poststop");
    if ((rc = field_str(p, o, "path", where, 1, h->path, sizeof h->path)) < 0)
        return rc;
    sub(w, sizeof w, where, "path", -1);
    if ((rc = check_path(p, w, h->path, 0)) < 0)
        return rc;
    if ((rc = field_arr(p, o, "args", where, &arr)) < 0)
        return rc;
    if (rc && json_array_size(arr) > GPF_CDI_MAX_ARGS) {
        sub(w, sizeof w, where, "args", -1);
        return fail(p, GPF_EINVAL, w, "more than %d args", GPF_CDI_MAX_ARGS);
    }
    if (rc)
        json_array_foreach(arr, i, v) {
            sub(w, sizeof w, where, "args", (long)i);
            if ((rc = str_of(p, v, w, h->args[i], sizeof h->args[i])) < 0)
                return rc;
            h->nargs++;
        }
    if ((rc = field_arr(p, o, "env", where, &arr)) < 0)
        return rc;
    if (rc && json_array_size(arr) > GPF_CDI_MAX_HOOK_ENV) {
        sub(w, sizeof w, where, "env", -1);
        return fail(p, GPF_EINVAL, w, "more than %d env entries", GPF_CDI_MAX_HOOK_ENV);
    }
    if (rc)
        json_array_foreach(arr, i, v) {
            sub(w, sizeof w, where, "env", (long)i);
            if ((rc = str_of(p, v, w, h->env[i], sizeof h->env[i])) < 0)
                return rc;
            if (!env_ok(h->env[i]))
                return fail(p, GPF_EMALFORMED, w, "not K=V with K a variable name");
            h->nenv++;
        }
    if ((rc = field_int(p, o, "timeout", where, 1, HOOK_TIMEOUT_MAX, 0, &t)) < 0)
        return rc;
    h->timeout = (int)t;
    return 0;
}

static int add_env(const pctx *p, gpf_cdi_edits *out, const char *e, const char *where)
{
    size_t klen = strcspn(e, "=") + 1;
    for (int j = 0; j < out->nenv; j++)
        if (strncmp(out->env[j], e, klen) == 0) {
            gpf_strlcpy(out->env[j], e, sizeof out->env[j]);
            return 0;
        }
    if (out->nenv == GPF_CDI_MAX_ENV)
        return fail(p, GPF_EINVAL, where, "more than %d env entries", GPF_CDI_MAX_ENV);
    gpf_strlcpy(out->env[out->nenv++], e, sizeof out->env[0]);
    return 0;
}

static int add_node(const pctx *p, gpf_cdi_edits *out, const gpf_cdi_node *n, const char *where)
{
    for (int j = 0; j < out->nnodes; j++)
        if (strcmp(out->nodes[j].path, n->path) == 0) {
            out->nodes[j] = *n;
            return 0;
        }
    if (out->nnodes == GPF_CDI_MAX_NODES)
        return fail(p, GPF_EINVAL, where, "more than %d device nodes", GPF_CDI_MAX_NODES);
    out->nodes[out->nnodes++] = *n;
    return 0;
}

static int add_mount(const pctx *p, gpf_cdi_edits *out, const gpf_cdi_mount *m, const char *where)
{
    for (int j = 0; j < out->nmounts; j++)
        if (strcmp(out->mounts[j].container_path, m->container_path) == 0) {
            out->mounts[j] = *m;
            return 0;
        }
    if (out->nmounts == GPF_CDI_MAX_MOUNTS)
        return fail(p, GPF_EINVAL, where, "more than %d mounts", GPF_CDI_MAX_MOUNTS);
    out->mounts[out->nmounts++] = *m;
    return 0;
}

static int add_hook(const pctx *p, gpf_cdi_edits *out, const gpf_cdi_hook *h, const char *where)
{
    for (int j = 0; j < out->nhooks; j++)
        if (memcmp(&out->hooks[j], h, sizeof *h) == 0) /* both zero-filled before parsing */
            return 0;
    if (out->nhooks == GPF_CDI_MAX_HOOKS)
        return fail(p, GPF_EINVAL, where, "more than %d hooks", GPF_CDI_MAX_HOOKS);
    out->hooks[out->nhooks++] = *h;
    return 0;
}

/* Validates the containerEdits object ce (NULL or null: nothing) and merges it into *out.
 * 0, GPF_EMALFORMED, or GPF_EINVAL past a limit. */
static int edits_apply(const pctx *p, json_t *ce, const char *where, gpf_cdi_edits *out)
{
    char w[WHERE_MAX], e[512];
    json_t *arr = NULL, *v;
    size_t i;
    long long gid = 0;
    int rc = 0;
    gpf_cdi_node node;
    gpf_cdi_mount mount;
    gpf_cdi_hook *hook = NULL;

    if (!ce || json_is_null(ce))
        goto out;
    if (!json_is_object(ce)) {
        rc = fail(p, GPF_EMALFORMED, where, "not an object");
        goto out;
    }
    if ((rc = field_arr(p, ce, "env", where, &arr)) < 0)
        goto out;
    if (rc)
        json_array_foreach(arr, i, v) {
            sub(w, sizeof w, where, "env", (long)i);
            if ((rc = str_of(p, v, w, e, sizeof e)) < 0)
                goto out;
            if (!env_ok(e)) {
                rc = fail(p, GPF_EMALFORMED, w, "not K=V with K a variable name");
                goto out;
            }
            sub(w, sizeof w, where, "env", -1);
            if ((rc = add_env(p, out, e, w)) < 0)
                goto out;
        }
    if ((rc = field_arr(p, ce, "deviceNodes", where, &arr)) < 0)
        goto out;
    if (rc)
        json_array_foreach(arr, i, v) {
            sub(w, sizeof w, where, "deviceNodes", (long)i);
            if ((rc = parse_node(p, v, w, &node)) < 0)
                goto out;
            sub(w, sizeof w, where, "deviceNodes", -1);
            if ((rc = add_node(p, out, &node, w)) < 0)
                goto out;
        }
    if ((rc = field_arr(p, ce, "mounts", where, &arr)) < 0)
        goto out;
    if (rc)
        json_array_foreach(arr, i, v) {
            sub(w, sizeof w, where, "mounts", (long)i);
            if ((rc = parse_mount(p, v, w, &mount)) < 0)
                goto out;
            sub(w, sizeof w, where, "mounts", -1);
            if ((rc = add_mount(p, out, &mount, w)) < 0)
                goto out;
        }
    if ((rc = field_arr(p, ce, "hooks", where, &arr)) < 0)
        goto out;
    if (rc) {
        hook = gpf_malloc(sizeof *hook);
        json_array_foreach(arr, i, v) {
            sub(w, sizeof w, where, "hooks", (long)i);
            if ((rc = parse_hook(p, v, w, hook)) < 0)
                goto out;
            sub(w, sizeof w, where, "hooks", -1);
            if ((rc = add_hook(p, out, hook, w)) < 0)
                goto out;
        }
    }
    if ((rc = field_arr(p, ce, "additionalGIDs", where, &arr)) < 0)
        goto out;
    sub(w, sizeof w, where, "additionalGIDs", -1);
    if (rc && json_array_size(arr) > MAX_GIDS) {
        rc = fail(p, GPF_EINVAL, w, "more than %d groups", MAX_GIDS);
        goto out;
    }
    if (rc)
        json_array_foreach(arr, i, v) {
            gid = json_is_integer(v) ? json_integer_value(v) : -1;
            if (gid < 0 || gid > 4294967294LL) {
                sub(w, sizeof w, where, "additionalGIDs", (long)i);
                rc = fail(p, GPF_EMALFORMED, w, "not a group id");
                goto out;
            }
        }
    rc = 0;
out:
    gpf_free(hook);
    return rc;
}

/* ---- YAML to JSON -------------------------------------------------------------------- */

typedef struct yconv {
    yaml_document_t *doc;
    long budget;                /* nodes left to convert (aliases expand) */
    const char *why;
} yconv;

/* A plain scalar that reads as null, a boolean or an integer (decimal, 0x hex, 0o or
 * leading-0 octal), else NULL (a string). s is NUL-terminated. */
static json_t *yaml_plain(const char *s, size_t len)
{
    static const char *const nulls[] = {"~", "null", "Null", "NULL"};
    static const char *const trues[] = {"true", "True", "TRUE"};
    static const char *const falses[] = {"false", "False", "FALSE"};
    const char *d = s;
    int neg = 0, base = 10;

    if (len == 0)
        return json_null();
    for (int i = 0; i < 4; i++)
        if (strcmp(s, nulls[i]) == 0)
            return json_null();
    for (int i = 0; i < 3; i++) {
        if (strcmp(s, trues[i]) == 0)
            return json_true();
        if (strcmp(s, falses[i]) == 0)
            return json_false();
    }
    if (*d == '+' || *d == '-')
        neg = *d++ == '-';
    if (d[0] == '0' && (d[1] == 'x' || d[1] == 'X'))
        base = 16, d += 2;
    else if (d[0] == '0' && d[1] == 'o')
        base = 8, d += 2;
    else if (d[0] == '0' && d[1] && strspn(d, "01234567") == strlen(d))
        base = 8, d += 1;
    const char *digits = base == 16 ? "0123456789abcdefABCDEF" : base == 8 ? "01234567" : "0123456789";
    if (!*d || strspn(d, digits) != strlen(d) || strlen(d) > 20)
        return NULL;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(d, &end, base);
    if (errno || *end || v > (unsigned long long)LLONG_MAX)
        return NULL;
    return json_integer(neg ? -(json_int_t)v : (json_int_t)v);
}

static json_t *yaml_node_json(yconv *y, yaml_node_t *n, int depth)
{
    json_t *r = NULL, *v = NULL;

    if (!n) {
        y->why = "a node is missing";
        goto fail;
    }
    if (depth > YAML_MAX_DEPTH) {
        y->why = "nested more than 64 levels";
        goto fail;
    }
    if (--y->budget < 0) {
        y->why = "more than 200000 nodes (aliases expanded)";
        goto fail;
    }
    if (n->type == YAML_SCALAR_NODE) {
        const char *s = (const char *)n->data.scalar.value;
        size_t len = n->data.scalar.length;
        if (memchr(s, '\0', len)) {
            y->why = "a scalar holds a NUL byte";
            goto fail;
        }
        if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && (r = yaml_plain(s, len)))
            return r;
        if (!(r = json_stringn(s, len)))
            y->why = "a scalar is not UTF-8";
        return r;
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        r = json_array();
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
            if (!(v = yaml_node_json(y, yaml_document_get_node(y->doc, *it), depth + 1)))
                goto fail;
            json_array_append_new(r, v);
        }
        return r;
    }
    if (n->type == YAML_MAPPING_NODE) {
        r = json_object();
        for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
            yaml_node_t *k = yaml_document_get_node(y->doc, pr->key);
            if (!k || k->type != YAML_SCALAR_NODE) {
                y->why = "a mapping key is not a scalar";
                goto fail;
            }
            const char *key = (const char *)k->data.scalar.value;
            if (memchr(key, '\0', k->data.scalar.length) || json_object_get(r, key)) {
                y->why = "a mapping key is repeated or holds a NUL byte";
                goto fail;
            }
            if (!(v = yaml_node_json(y, yaml_document_get_node(y->doc, pr->value), depth + 1)))
                goto fail;
            if (json_object_set_new(r, key, v) != 0) {
                y->why = "a mapping key is not UTF-8";
                goto fail;
            }
        }
        return r;
    }
    y->why = "an empty node";
fail:
    json_decref(r);
    return NULL;
}

/* The single document of a YAML stream as a JSON tree, or NULL after setting the error. */
static json_t *yaml_to_json(const pctx *p, const char *text, size_t len)
{
    yaml_parser_t parser;
    yaml_document_t doc, next;
    int have_doc = 0, have_next = 0;
    json_t *root = NULL;
    yconv y = {&doc, YAML_MAX_NODES, "?"};

    if (!yaml_parser_initialize(&parser)) {
        fail(p, GPF_EMALFORMED, "", "YAML: out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!(have_doc = yaml_parser_load(&parser, &doc)) || !(have_next = yaml_parser_load(&parser, &next))) {
        fail(p, GPF_EMALFORMED, "", "YAML line %zu column %zu: %s", (size_t)parser.problem_mark.line + 1,
             (size_t)parser.problem_mark.column + 1, parser.problem ? parser.problem : "parse error");
        goto out;
    }
    if (!yaml_document_get_root_node(&doc)) {
        fail(p, GPF_EMALFORMED, "", "empty YAML document");
        goto out;
    }
    if (yaml_document_get_root_node(&next)) {
        fail(p, GPF_EMALFORMED, "", "more than one YAML document");
        goto out;
    }
    if (!(root = yaml_node_json(&y, yaml_document_get_root_node(&doc), 0)))
        fail(p, GPF_EMALFORMED, "", "YAML: %s", y.why);
out:
    if (have_next)
        yaml_document_delete(&next);
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return root;
}

/* ---- specs --------------------------------------------------------------------------- */

static void spec_clear(cdi_spec *s)
{
    for (int i = 0; i < s->ndev; i++)
        json_decref(s->dev[i].edits);
    gpf_free(s->dev);
    json_decref(s->edits);
    memset(s, 0, sizeof *s);
}

gpf_cdi *gpf_cdi_new(void) { return GPF_NEW(gpf_cdi); }

void gpf_cdi_free(gpf_cdi *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->nspecs; i++)
        spec_clear(&c->specs[i]);
    gpf_free(c->specs);
    gpf_free(c);
}

static int edits_empty(const gpf_cdi_edits *e) { return e->nnodes + e->nmounts + e->nenv + e->nhooks == 0; }

/* Validates the devices array of root into s->dev. */
static int parse_devices(const pctx *p, json_t *root, cdi_spec *s, gpf_cdi_edits *scratch)
{
    char w[WHERE_MAX], wn[WHERE_MAX];
    json_t *arr = NULL, *d;
    size_t i;
    int rc;

    if ((rc = field_arr(p, root, "devices", "", &arr)) <= 0)
        return rc < 0 ? rc : fail(p, GPF_EMALFORMED, "devices", "missing");
    if (json_array_size(arr) > GPF_CDI_MAX_DEVICES)
        return fail(p, GPF_EINVAL, "devices", "more than %d devices", GPF_CDI_MAX_DEVICES);
    s->dev = gpf_calloc(json_array_size(arr) + 1, sizeof *s->dev);
    json_array_foreach(arr, i, d) {
        cdi_device *dev = &s->dev[i];
        sub(w, sizeof w, "", "devices", (long)i);
        if (!json_is_object(d))
            return fail(p, GPF_EMALFORMED, w, "not an object");
        if ((rc = field_str(p, d, "name", w, 1, dev->name, sizeof dev->name)) < 0)
            return rc;
        if (!device_name_ok(dev->name))
            return fail(p, GPF_EMALFORMED, w, "name: not a device name ([A-Za-z0-9][A-Za-z0-9_.:-]*, ending alnum)");
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->dev[j].name, dev->name) == 0)
                return fail(p, GPF_EMALFORMED, w, "name %s: defined twice", dev->name);
        gpf_strlcpy(wn, w, sizeof wn);
        cat(wn, sizeof wn, " (");
        cat(wn, sizeof wn, dev->name);
        cat(wn, sizeof wn, ").containerEdits");
        json_t *ce = json_object_get(d, "containerEdits");
        memset(scratch, 0, sizeof *scratch);
        if ((rc = edits_apply(p, ce, wn, scratch)) < 0)
            return rc;
        if (edits_empty(scratch))
            return fail(p, GPF_EMALFORMED, wn, "missing or empty");
        dev->edits = json_incref(ce);
        s->ndev++;
    }
    return 0;
}

int gpf_cdi_add_spec(gpf_cdi *c, const char *text, size_t len, int is_yaml, const char *origin, gpf_error *err)
{
    int rc = 0;
    json_t *root = NULL, *ce = NULL;
    gpf_cdi_edits *scratch = NULL;
    cdi_spec s = {0};
    char ver[32];
    pctx p = {origin ? origin : "cdi spec", is_yaml != 0, err};
    json_error_t jerr;

    if (!c || (!text && len)) {
        rc = fail(&p, GPF_EINVAL, "", "no spec object or text");
        goto out;
    }
    if (len > GPF_CDI_FILE_MAX) {
        rc = fail(&p, GPF_EMALFORMED, "", "larger than %d bytes", GPF_CDI_FILE_MAX);
        goto out;
    }
    if (is_yaml)
        root = yaml_to_json(&p, text ? text : "", len);
    else if (!(root = json_loadb(text ? text : "", len, JSON_REJECT_DUPLICATES, &jerr)))
        fail(&p, GPF_EMALFORMED, "", "JSON line %d: %s", jerr.line, jerr.text);
    if (!root) {
        rc = GPF_EMALFORMED;
        goto out;
    }
    if (!json_is_object(root)) {
        rc = fail(&p, GPF_EMALFORMED, "", "not an object");
        goto out;
    }
    s.yaml = p.yaml;
    if ((rc = field_str(&p, root, "cdiVersion", "", 1, ver, sizeof ver)) < 0)
        goto out;
    if (!version_ok(ver)) {
        rc = fail(&p, GPF_EMALFORMED, "cdiVersion", "not major.minor.patch");
        goto out;
    }
    if ((rc = field_str(&p, root, "kind", "", 1, s.kind, sizeof s.kind)) < 0)
        goto out;
    if (!kind_ok(s.kind)) {
        rc = fail(&p, GPF_EMALFORMED, "kind", "not vendor/class (like nvidia.com/gpu)");
        goto out;
    }
    scratch = gpf_malloc(sizeof *scratch);
    memset(scratch, 0, sizeof *scratch);
    ce = json_object_get(root, "containerEdits");
    if ((rc = edits_apply(&p, ce, "containerEdits", scratch)) < 0 || (rc = parse_devices(&p, root, &s, scratch)) < 0)
        goto out;
    if (ce && !json_is_null(ce))
        s.edits = json_incref(ce);
    if (c->nspecs == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 4;
        c->specs = gpf_reallocarray(c->specs, (size_t)c->cap, sizeof *c->specs);
    }
    c->specs[c->nspecs++] = s;
    memset(&s, 0, sizeof s);
    rc = 0;
out:
    spec_clear(&s);
    json_decref(root);
    gpf_free(scratch);
    return rc;
}

int gpf_cdi_device_count(const gpf_cdi *c)
{
    int n = 0;
    for (int i = 0; c && i < c->nspecs; i++)
        n += c->specs[i].ndev;
    return n;
}

int gpf_cdi_device_name(const gpf_cdi *c, int i, char *buf, size_t size)
{
    for (int s = 0; c && i >= 0 && s < c->nspecs; s++) {
        if (i < c->specs[s].ndev) {
            int k = snprintf(buf, size, "%s=%s", c->specs[s].kind, c->specs[s].dev[i].name);
            return k < 0 || (size_t)k >= size ? GPF_EINVAL : 0;
        }
        i -= c->specs[s].ndev;
    }
    return GPF_ENOTFOUND;
}

/* The spec and device named (qualified, or bare in kind): 0, or -1. The latest spec wins. */
static int lookup(const gpf_cdi *c, const char *kind, const char *name, int *si, int *di)
{
    char k[GPF_CDI_NAME_MAX];
    const char *eq = strchr(name, '=');
    if (eq) {
        if ((size_t)(eq - name) >= sizeof k)
            return -1;
        memcpy(k, name, (size_t)(eq - name));
        k[eq - name] = '\0';
        name = eq + 1;
    } else
        gpf_strlcpy(k, kind ? kind : DEFAULT_KIND, sizeof k);
    for (int s = c ? c->nspecs - 1 : -1; s >= 0; s--) {
        if (strcmp(c->specs[s].kind, k) != 0)
            continue;
        for (int d = 0; d < c->specs[s].ndev; d++)
            if (strcmp(c->specs[s].dev[d].name, name) == 0) {
                *si = s, *di = d;
                return 0;
            }
    }
    return -1;
}

int gpf_cdi_edits_for(const gpf_cdi *c, const char *kind, const char *const *names, int nnames,
                      gpf_cdi_edits *out, gpf_error *err)
{
    int rc = 0, *spec_of = NULL, *dev_of = NULL;
    char w[WHERE_MAX];
    pctx p = {"cdi", 0, err};

    if (!out || nnames < 0 || (nnames > 0 && !names)) {
        rc = fail(&p, GPF_EINVAL, "", "no devices or no result to fill");
        goto out;
    }
    memset(out, 0, sizeof *out);
    if (nnames == 0)
        goto out;
    spec_of = gpf_calloc((size_t)nnames, sizeof *spec_of);
    dev_of = gpf_calloc((size_t)nnames, sizeof *dev_of);
    for (int i = 0; i < nnames; i++)
        if (!names[i] || lookup(c, kind, names[i], &spec_of[i], &dev_of[i]) != 0) {
            rc = fail(&p, GPF_ENOTFOUND, "", "no spec has device %.160s", names[i] ? names[i] : "(null)");
            goto out;
        }
    for (int i = 0; i < nnames; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= spec_of[j] == spec_of[i];
        const cdi_spec *s = &c->specs[spec_of[i]];
        p.yaml = s->yaml;
        gpf_strlcpy(w, s->kind, sizeof w);
        cat(w, sizeof w, " containerEdits");
        if (!seen && (rc = edits_apply(&p, s->edits, w, out)) < 0)
            goto out;
    }
    for (int i = 0; i < nnames; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= spec_of[j] == spec_of[i] && dev_of[j] == dev_of[i];
        const cdi_spec *s = &c->specs[spec_of[i]];
        p.yaml = s->yaml;
        gpf_strlcpy(w, s->kind, sizeof w);
        cat(w, sizeof w, "=");
        cat(w, sizeof w, s->dev[dev_of[i]].name);
        if (!seen && (rc = edits_apply(&p, s->dev[dev_of[i]].edits, w, out)) < 0)
            goto out;
    }
out:
    gpf_free(spec_of);
    gpf_free(dev_of);
    return rc;
}
