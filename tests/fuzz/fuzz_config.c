/* libFuzzer target: the declarative configuration (util/config.c) with the real option
 * tables of `gpufleet serve` and `gpufleet agent`: a config file, GPUFLEET_* environment
 * variables and command-line flags, all from the input. The input is cut at NUL bytes:
 *   config file text \0 environment lines "NAME=VALUE" (GPUFLEET_ is prefixed) \0 flags,
 *   one per line.
 * A configuration that loads must dump (--dump-config) to a file that loads back to the
 * same dump, unless a value cannot be written as "name = value" (white space at its ends,
 * a newline) or a secret is hidden. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "api/serve.h"
#include "fuzz_util.h"
#include "util/buf.h"
#include "util/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern char **environ;

#define MAX_ENV 32
#define MAX_ARGS 32

static char file_path[300], dump_path[300];

/* Removes every GPUFLEET_* variable (so that runs do not depend on each other). */
static void clear_env(void)
{
    for (;;) {
        char name[256] = "";
        for (char **e = environ; e && *e; e++) {
            if (strncmp(*e, "GPUFLEET_", 9) == 0) {
                size_t n = strcspn(*e, "=");
                snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), *e);
                break;
            }
        }
        if (!name[0] || unsetenv(name) != 0)
            return;
    }
}

/* Values "name = value" cannot carry: white space at either end, a line break. */
static int dumpable(const gpf_cfg_opt *opts, const void *cfg)
{
    for (const gpf_cfg_opt *o = opts; o->name; o++) {
        if (o->type != GPF_CFG_STR)
            continue;
        const char *v = (const char *)cfg + o->offset;
        size_t n = strlen(v);
        if (strstr(o->name, "token") && n)
            return 0;
        if (n && (isspace((unsigned char)v[0]) || isspace((unsigned char)v[n - 1])))
            return 0;
        if (strpbrk(v, "\n\r"))
            return 0;
    }
    return 1;
}

static void load(const gpf_cfg_opt *opts, size_t cfg_size, int argc, char **argv)
{
    void *cfg = gpf_calloc(1, cfg_size), *back = gpf_calloc(1, cfg_size);
    gpf_error err = {0};
    gpf_buf dump = {0}, again = {0};
    int dumpf = 0, help = 0;
    setenv("GPUFLEET_CONFIG_FILE", file_path, 1);
    int rc = gpf_config_load(opts, cfg, argc, argv, &dumpf, &help, &err);
    if (rc != 0) {
        if (!gpf_error_msg(&err)[0]) /* a refusal says why */
            abort();
        goto out;
    }
    gpf_config_dump(opts, cfg, &dump);
    if (!dumpable(opts, cfg))
        goto out;
    /* the dump is a config file: alone, it gives the same configuration back */
    fz_put(dump_path, dump.data ? dump.data : "", dump.len);
    clear_env();
    setenv("GPUFLEET_CONFIG_FILE", dump_path, 1);
    gpf_error_clear(&err);
    if (gpf_config_load(opts, back, 0, NULL, &dumpf, &help, &err) != 0) {
        fprintf(stderr, "dump does not load back: %s\n%s", gpf_error_msg(&err), gpf_buf_cstr(&dump));
        abort();
    }
    gpf_config_dump(opts, back, &again);
    if (dump.len != again.len || memcmp(gpf_buf_cstr(&dump), gpf_buf_cstr(&again), dump.len) != 0) {
        fprintf(stderr, "dump changed on reload:\n%s---\n%s", gpf_buf_cstr(&dump), gpf_buf_cstr(&again));
        abort();
    }
out:
    gpf_error_clear(&err);
    gpf_buf_clear(&dump);
    gpf_buf_clear(&again);
    gpf_free(cfg);
    gpf_free(back);
}

/* Sets the environment lines of text as GPUFLEET_<NAME>; 0 when there are too many. */
static int set_env(char *text)
{
    int n = 0;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n'), *eq;
        if (nl)
            *nl = '\0';
        eq = strchr(line, '=');
        if (eq && eq != line) {
            char name[160];
            *eq = '\0';
            snprintf(name, sizeof name, "GPUFLEET_%s", line);
            if (++n > MAX_ENV)
                return 0;
            setenv(name, eq + 1, 1);
        }
        line = nl ? nl + 1 : NULL;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_parts in;
    char *argv[MAX_ARGS + 1];
    char config_arg[320];
    int argc = 0;
    if (!file_path[0]) {
        const char *dir = fz_scratch("config");
        snprintf(file_path, sizeof file_path, "%s/config", dir);
        snprintf(dump_path, sizeof dump_path, "%s/dump", dir);
    }
    if (size > 16384)
        return 0;
    fz_split(data, size, 3, &in);
    fz_put(file_path, in.part[0], in.len[0]);
    snprintf(config_arg, sizeof config_arg, "--config=%s", file_path);
    int skip = 0;
    for (char *tok = in.part[2]; tok && *tok && argc + 1 < MAX_ARGS;) {
        char *nl = strchr(tok, '\n');
        if (nl)
            *nl = '\0';
        /* --config names a file: only ours may be read (no /dev/stdin, no host files) */
        if (skip)
            skip = 0;
        else if (!strncmp(tok, "--config=", 9))
            argv[argc++] = config_arg;
        else if (!strcmp(tok, "--config"))
            argv[argc++] = tok, argv[argc++] = file_path, skip = 1;
        else
            argv[argc++] = tok;
        tok = nl ? nl + 1 : NULL;
    }
    argv[argc] = NULL;
    for (int t = 0; t < 2; t++) {
        clear_env();
        char *env = gpf_strdup(in.part[1]);
        int ok = set_env(env);
        gpf_free(env);
        if (!ok)
            break;
        if (t == 0)
            load(gpf_serve_options, sizeof(gpf_serve_config), argc, argv);
        else
            load(gpf_agent_options, sizeof(gpf_agent_config), argc, argv);
    }
    clear_env();
    fz_parts_free(&in);
    return 0;
}
