#include "util/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

static const gpf_cfg_opt *find(const gpf_cfg_opt *opts, const char *name, size_t len)
{
    for (const gpf_cfg_opt *o = opts; o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

static int set(const gpf_cfg_opt *o, void *out, const char *val, const char *src, gpf_error *err)
{
    char *field = (char *)out + o->offset;
    switch (o->type) {
    case GPF_CFG_STR:
        if (strlen(val) >= o->size)
            return gpf_error_set(err, GPF_EINVAL, "%s: %s is longer than %zu characters", src, o->name, o->size - 1);
        gpf_strlcpy(field, val, o->size);
        return 0;
    case GPF_CFG_INT: {
        char *end = NULL;
        errno = 0;
        long long x = strtoll(val, &end, 10);
        if (errno || end == val || *end || x < o->min || x > o->max)
            return gpf_error_set(err, GPF_EINVAL, "%s: %s must be an integer in %lld..%lld (got '%s')", src, o->name,
                                 o->min, o->max, val);
        *(long long *)field = x;
        return 0;
    }
    case GPF_CFG_BOOL:
        if (!strcmp(val, "true") || !strcmp(val, "1") || !strcmp(val, "yes") || !strcmp(val, "on"))
            *(int *)field = 1;
        else if (!strcmp(val, "false") || !strcmp(val, "0") || !strcmp(val, "no") || !strcmp(val, "off"))
            *(int *)field = 0;
        else
            return gpf_error_set(err, GPF_EINVAL, "%s: %s must be true or false (got '%s')", src, o->name, val);
        return 0;
    }
    return GPF_EINTERNAL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int load_file(const gpf_cfg_opt *opts, void *out, const char *path, gpf_error *err)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return gpf_error_set(err, GPF_EIO, "cannot read config file %s: %s", path, strerror(errno));
    char line[1024];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        /* a longer line must not go on as the next one (its tail would be read as a setting) */
        if (!strchr(line, '\n') && !feof(f)) {
            int c = getc(f);
            if (c != EOF) {
                rc = gpf_error_set(err, GPF_EINVAL, "%s:%d: line longer than %zu characters", path, lineno,
                                   sizeof line - 2);
                break;
            }
        }
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = gpf_error_set(err, GPF_EINVAL, "%s:%d: expected 'name = value'", path, lineno);
            break;
        }
        *eq = '\0';
        char *name = trim(s), *val = trim(eq + 1);
        const gpf_cfg_opt *o = find(opts, name, strlen(name));
        if (!o) {
            rc = gpf_error_set(err, GPF_EINVAL, "%s:%d: unknown setting '%s'", path, lineno, name);
            break;
        }
        char src[300];
        snprintf(src, sizeof src, "%s:%d", path, lineno);
        rc = set(o, out, val, src, err);
    }
    fclose(f);
    return rc;
}

int gpf_config_load(const gpf_cfg_opt *opts, void *out, int argc, char **argv, int *dump, int *help,
                    gpf_error *err)
{
    int rc = 0;
    const char *config_file = NULL;
    *dump = 0;
    *help = 0;
    for (const gpf_cfg_opt *o = opts; o->name; o++)
        if ((rc = set(o, out, o->def, "default", err)) != 0)
            return rc;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            config_file = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            config_file = argv[i] + 9;
    }
    if (!config_file)
        config_file = getenv("GPUFLEET_CONFIG_FILE");
    if (config_file && (rc = load_file(opts, out, config_file, err)) != 0)
        return rc;
    for (const gpf_cfg_opt *o = opts; o->name; o++) {
        char env[128] = "GPUFLEET_";
        size_t n = strlen(env);
        for (const char *c = o->name; *c && n + 1 < sizeof env; c++)
            env[n++] = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
        env[n] = '\0';
        const char *v = getenv(env);
        if (v && (rc = set(o, out, v, env, err)) != 0)
            return rc;
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--dump-config")) {
            *dump = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *help = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0)
            return gpf_error_set(err, GPF_EINVAL, "unexpected argument '%s'", a);
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        if (len == 6 && !strncmp(name, "config", 6)) {
            if (!eq)
                i++;
            continue;
        }
        const gpf_cfg_opt *o = find(opts, name, len);
        const char *val = eq ? eq + 1 : NULL;
        if (!o && len > 3 && !strncmp(name, "no-", 3) && !eq) {
            o = find(opts, name + 3, len - 3);
            if (o && o->type == GPF_CFG_BOOL) {
                *(int *)((char *)out + o->offset) = 0;
                continue;
            }
            o = NULL;
        }
        if (!o)
            return gpf_error_set(err, GPF_EINVAL, "unknown option '--%.*s' (try --help)", (int)len, name);
        if (!val && o->type == GPF_CFG_BOOL)
            val = "true";
        if (!val) {
            if (i + 1 >= argc)
                return gpf_error_set(err, GPF_EINVAL, "option --%s needs a value", o->name);
            val = argv[++i];
        }
        if ((rc = set(o, out, val, "command line", err)) != 0)
            return rc;
    }
    return 0;
}

void gpf_config_dump(const gpf_cfg_opt *opts, const void *cfg, gpf_buf *out)
{
    for (const gpf_cfg_opt *o = opts; o->name; o++) {
        const char *field = (const char *)cfg + o->offset;
        gpf_buf_printf(out, "# %s\n", o->help);
        switch (o->type) {
        case GPF_CFG_STR:
            /* Secrets never go to a terminal or a file by way of a dump. */
            gpf_buf_printf(out, "%s = %s\n", o->name, strstr(o->name, "token") && field[0] ? "(set, hidden)" : field);
            break;
        case GPF_CFG_INT:
            gpf_buf_printf(out, "%s = %lld\n", o->name, *(const long long *)field);
            break;
        case GPF_CFG_BOOL:
            gpf_buf_printf(out, "%s = %s\n", o->name, *(const int *)field ? "true" : "false");
            break;
        }
    }
}

void gpf_config_usage(const gpf_cfg_opt *opts, gpf_buf *out)
{
    for (const gpf_cfg_opt *o = opts; o->name; o++) {
        const char *t = o->type == GPF_CFG_INT ? " N" : o->type == GPF_CFG_STR ? " VALUE" : "";
        gpf_buf_printf(out, "  --%s%s\n      %s (default: %s)\n", o->name, t, o->help, o->def[0] ? o->def : "\"\"");
    }
    gpf_buf_puts(out, "  --config FILE\n      read 'name = value' settings from FILE first\n"
                      "  --dump-config\n      print the effective configuration and exit\n");
}
