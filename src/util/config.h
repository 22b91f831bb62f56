/* Declarative configuration: one table (name, type, default, bounds, help) drives
 * the config file, the environment, command-line flags and --dump-config.
 * Precedence: defaults < config file (--config FILE) < environment
 * (GPUFLEET_<NAME>, dashes as underscores) < flags (--name VALUE, --name=VALUE,
 * and for booleans --name / --no-name). The result is a plain struct the caller
 * treats as immutable afterwards. */
#ifndef GPF_UTIL_CONFIG_H
#define GPF_UTIL_CONFIG_H

#include <stddef.h> /* offsetof, for GPF_CFG_OPT */

#include "util/buf.h"
#include "util/error.h"

typedef enum { GPF_CFG_STR, GPF_CFG_INT, GPF_CFG_BOOL } gpf_cfg_type;

typedef struct gpf_cfg_opt {
    const char *name;     /* "state-dir" */
    gpf_cfg_type type;
    const char *def;      /* default as text */
    long long min, max;   /* ints only */
    size_t offset;        /* offsetof(struct, field): char[size] / long long / int */
    size_t size;          /* strings: buffer size */
    const char *help;
} gpf_cfg_opt;

#define GPF_CFG_END {NULL, GPF_CFG_STR, NULL, 0, 0, 0, 0, NULL}
/* One table row for field f of struct type T. */
#define GPF_CFG_OPT(T, name, type, def, lo, hi, f, help) \
    {name, type, def, lo, hi, offsetof(T, f), sizeof(((T *)0)->f), help}

/* Fills out from the table. argv[0..argc) are the flags after the verb; positional
 * arguments are rejected. Sets *dump when --dump-config was given, *help for --help. */
int gpf_config_load(const gpf_cfg_opt *opts, void *out, int argc, char **argv, int *dump, int *help,
                    gpf_error *err);
/* "name = value" lines, one per option (a valid config file). */
void gpf_config_dump(const gpf_cfg_opt *opts, const void *cfg, gpf_buf *out);
/* Flag reference for --help. */
void gpf_config_usage(const gpf_cfg_opt *opts, gpf_buf *out);

#endif
