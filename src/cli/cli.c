/* CLI dispatch, common flags, configuration and error reporting. */
#include "cli/cli_int.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/alloc.h"
#include "util/secret.h"

struct command {
    const char *noun;
    int (*fn)(gpf_cli *c);
    const char *help;
};

static const struct command commands[] = {
    {"login", gpf_cli_cmd_login, gpf_cli_help_login},
    {"whoami", gpf_cli_cmd_whoami, gpf_cli_help_whoami},
    {"sku", gpf_cli_cmd_sku, gpf_cli_help_sku},
    {"pod", gpf_cli_cmd_pod, gpf_cli_help_pod},
    {"ssh", gpf_cli_cmd_ssh, gpf_cli_help_ssh},
    {"usage", gpf_cli_cmd_usage, gpf_cli_help_usage},
    {"host", gpf_cli_cmd_host, gpf_cli_help_host},
    {"gpu", gpf_cli_cmd_gpu, gpf_cli_help_gpu},
    {"events", gpf_cli_cmd_events, gpf_cli_help_events},
    {"user", gpf_cli_cmd_user, gpf_cli_help_user},
    {"token", gpf_cli_cmd_token, gpf_cli_help_token},
    {"image", gpf_cli_cmd_image, gpf_cli_help_image},
    {"join-token", gpf_cli_cmd_join_token, gpf_cli_help_join_token},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const char main_help[] =
    "usage: gpufleet <command> [<verb>] [options]\n"
    "\n"
    "Developer commands:\n"
    "  login --server URL --token TOKEN   verify the token, save it, upload an SSH key\n"
    "  whoami                             show the user behind the token\n"
    "  sku ls | show NAME                 the launchable offers\n"
    "  pod launch SKU                     launch a pod and wait until it runs\n"
    "  pod ls | show ID | stop ID         your pods\n"
    "  ssh POD [-- CMD...]                log in to a running pod\n"
    "  ssh-proxy HOST PORT                ssh ProxyCommand helper (see `gpufleet help ssh-proxy`)\n"
    "  usage [--pod ID]                   metered usage and cost\n"
    "\n"
    "Operator commands:\n"
    "  sku create ... | rm NAME           publish or withdraw an offer\n"    "  image import SRC --name N | ls | rm  the OCI images pods run\n"
    "  host ls, gpu ls                    the fleet\n"
    "  host show HOST                     preflight findings, drift, why it takes no pods\n"
    "  host override HOST --reason TEXT   let a host that failed its preflight take pods\n"
    "  host rekey HOST                    let a join token replace a registered host, once\n"
    "  join-token create [--expires-in 24h] [--uses N] | ls | revoke ID   admit new hosts\n"
    "  events [--host H] [--pod ID]       drift, dead and lost pods, lost hosts, overrides\n"
    "  user create NAME --role R | ls     accounts\n"
    "  user disable|enable|delete NAME    end (or restore) an account's access\n"
    "  token create [--name N] [--expires-in 30d] | ls | revoke ID   API tokens\n"
    "\n"
    "Daemons:\n"
    "  serve [--demo]                     run the control plane (see `gpufleet serve --help`)\n"
    "  agent                              run a host agent (see `gpufleet agent --help`)\n"
    "  sim --nodes F --pods F [--policy P] replay a trace through the placement engine\n"
    "  version                            print the version\n"
    "\n"
    "Common options:\n"
    "  --server URL   control plane URL (else $GPUFLEET_SERVER, else the config file)\n"
    "  --token T      API token (else --token-file F, else $GPUFLEET_TOKEN, else the config file)\n"
    "  --ca-file F    CA that signed an https server's certificate (else $GPUFLEET_CA_FILE,\n"
    "                 else the config file; none: the system's store)\n"
    "  --pin P        the server's public key must also be sha256//P (else $GPUFLEET_PIN)\n"
    "  --json         print the server's JSON instead of a table\n"
    "  --help         usage of a command\n"
    "\n"
    "Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 permission, 5 no capacity or\n"
    "conflict, 6 cannot reach the server. Reference: docs/cli.md.\n";

/* Every flag the CLI knows, with whether it takes a value; commands restrict the set. */
static const struct {
    const char *name;
    int arg;
} known_flags[] = {
    {"server", 1}, {"token", 1}, {"json", 0}, {"help", 0}, {"ssh-key", 1}, {"all", 0},
    {"no-wait", 0}, {"quiet", 0}, {"project", 1}, {"timeout-s", 1}, {"pod", 1}, {"identity", 1},
    {"role", 1}, {"user", 1}, {"file", 1}, {"name", 1}, {"kind", 1}, {"gpus", 1},
    {"mig-profile", 1}, {"share-milli", 1}, {"share-memory-mib", 1}, {"vgpu-type", 1},
    {"model", 1}, {"cpus", 1}, {"memory-mib", 1}, {"ttl-s", 1}, {"idle-timeout-s", 1},
    {"price-per-hour", 1}, {"description", 1}, {"env", 1}, {"license-feature", 1},
    {"reason", 1}, {"clear", 0}, {"host", 1}, {"limit", 1}, {"after", 1}, {"image", 1},
    {"min-isolation", 1}, {"ca-file", 1}, {"pin", 1}, {"expires-in", 1},
    {"uses", 1}, {"token-file", 1},
};

static const struct command *find_command(const char *noun)
{
    if (!noun)
        return NULL;
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].noun, noun) == 0)
            return &commands[i];
    return NULL;
}

int gpf_cli_is_command(const char *noun)
{
    return noun && (find_command(noun) != NULL || strcmp(noun, "help") == 0);
}

int gpf_cli_exit_code(int code)
{
    switch (code) {
    case GPF_OK: return GPF_EXIT_OK;
    case GPF_EINVAL:
    case GPF_EMALFORMED: return GPF_EXIT_USAGE;
    case GPF_ENOTFOUND: return GPF_EXIT_NOTFOUND;
    case GPF_EUNAUTH:
    case GPF_EFORBIDDEN: return GPF_EXIT_PERM;
    case GPF_ENOCAPACITY:
    case GPF_EEXIST:
    case GPF_ESTATE: return GPF_EXIT_CONFLICT;
    case GPF_EUNAVAIL: return GPF_EXIT_UNREACHABLE;
    default: return GPF_EXIT_ERROR;
    }
}

/* ---- errors ---- */

int gpf_cli_fail(int code, const char *fmt, ...)
{
    va_list ap;
    fputs("gpufleet: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return gpf_cli_exit_code(code);
}

int gpf_cli_fail_err(const gpf_error *err)
{
    int code = err && err->code ? err->code : GPF_EINTERNAL;
    return gpf_cli_fail(code, "%s", gpf_error_msg(err));
}

int gpf_cli_usage(const gpf_cli *c, const char *fmt, ...)
{
    va_list ap;
    const char *noun = gpf_cli_pos(c, 0);
    fputs("gpufleet: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (find_command(noun))
        fprintf(stderr, " (see 'gpufleet %s --help')\n", noun);
    else
        fputs(" (see 'gpufleet help')\n", stderr);
    return GPF_EXIT_USAGE;
}

/* ---- command line ---- */

const char *gpf_cli_pos(const gpf_cli *c, int i)
{
    return i >= 0 && i < c->npos ? c->pos[i] : NULL;
}

const char *gpf_cli_opt(const gpf_cli *c, const char *name)
{
    const char *v = NULL;
    for (int i = 0; i < c->nflags; i++)
        if (strcmp(c->flags[i].name, name) == 0)
            v = c->flags[i].value;
    return v;
}

int gpf_cli_has(const gpf_cli *c, const char *name)
{
    for (int i = 0; i < c->nflags; i++)
        if (strcmp(c->flags[i].name, name) == 0)
            return 1;
    return 0;
}

static int word_in(const char *word, const char *list)
{
    size_t n = strlen(word);
    const char *p = list;
    while (p && *p) {
        while (*p == ' ')
            p++;
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, word, n) == 0)
            return 1;
        p = e;
    }
    return 0;
}

int gpf_cli_expect(gpf_cli *c, const char *what, int skip, int min, int max, const char *allowed)
{
    int n = c->npos - skip;
    c->what = what;
    for (int i = 0; i < c->nflags; i++) {
        const char *f = c->flags[i].name;
        if (!word_in(f, "server token token-file ca-file pin json help") && !word_in(f, allowed ? allowed : ""))
            return gpf_cli_usage(c, "option '--%s' does not apply to '%s'", f, what);
    }
    if (n < min)
        return gpf_cli_usage(c, "'%s' needs more arguments", what);
    if (max >= 0 && n > max)
        return gpf_cli_usage(c, "unexpected argument '%s' for '%s'", c->pos[skip + max], what);
    return 0;
}

int gpf_cli_int_opt(gpf_cli *c, const char *name, long long min, long long max, long long *out,
                    int *given)
{
    const char *s = gpf_cli_opt(c, name);
    char *end = NULL;
    long long v;
    if (given)
        *given = s != NULL;
    if (!s)
        return 0;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return gpf_cli_usage(c, "--%s must be an integer in %lld..%lld (got '%s')", name, min, max, s);
    *out = v;
    return 0;
}

/* Splits argv[1..] into positionals, flags and the part after "--". */
static int parse_args(gpf_cli *c, int argc, char **argv)
{
    c->pos = gpf_calloc((size_t)argc + 1, sizeof *c->pos);
    c->flags = gpf_calloc((size_t)argc + 1, sizeof *c->flags);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            c->rest = argv + i + 1;
            c->nrest = argc - i - 1;
            break;
        }
        if (strcmp(a, "-h") == 0) {
            c->flags[c->nflags++] = (gpf_cli_flag){"help", NULL};
            continue;
        }
        if (a[0] != '-' || a[1] == '\0') {
            c->pos[c->npos++] = a;
            continue;
        }
        if (a[1] != '-')
            return gpf_cli_usage(c, "unknown option '%s'", a);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        size_t k;
        for (k = 0; k < sizeof known_flags / sizeof known_flags[0]; k++)
            if (strlen(known_flags[k].name) == nlen && strncmp(known_flags[k].name, name, nlen) == 0)
                break;
        if (k == sizeof known_flags / sizeof known_flags[0])
            return gpf_cli_usage(c, "unknown option '%s'", a);
        gpf_cli_flag *f = &c->flags[c->nflags++];
        f->name = known_flags[k].name;
        if (!known_flags[k].arg) {
            if (eq)
                return gpf_cli_usage(c, "option '--%s' takes no value", f->name);
            continue;
        }
        if (eq)
            f->value = eq + 1;
        else if (i + 1 < argc)
            f->value = argv[++i];
        else
            return gpf_cli_usage(c, "option '--%s' needs a value", f->name);
    }
    return 0;
}

/* ---- configuration ---- */

int gpf_cli_config_path(char *out, size_t size, gpf_error *err)
{
    const char *p = getenv("GPUFLEET_CONFIG");
    int n;
    if (p && *p)
        n = snprintf(out, size, "%s", p);
    else if ((p = getenv("XDG_CONFIG_HOME")) && *p)
        n = snprintf(out, size, "%s/gpufleet/config.json", p);
    else if ((p = getenv("HOME")) && *p)
        n = snprintf(out, size, "%s/.config/gpufleet/config.json", p);
    else
        return gpf_error_set(err, GPF_EINVAL, "cannot locate the config file: set GPUFLEET_CONFIG or HOME");
    if (n < 0 || (size_t)n >= size)
        return gpf_error_set(err, GPF_EINVAL, "config file path is too long");
    return 0;
}

static int load_config(gpf_cli *c)
{
    gpf_error err = {0};
    json_error_t jerr;
    struct stat st;

    if (gpf_cli_config_path(c->config_path, sizeof c->config_path, &err) != 0) {
        c->config_path[0] = '\0';
        return 0; /* no config is fine until one is needed */
    }
    if (stat(c->config_path, &st) != 0)
        return 0;
    if (st.st_size > 64 * 1024)
        return gpf_cli_fail(GPF_EINVAL, "%s: config file too large", c->config_path);
    c->config = json_load_file(c->config_path, 0, &jerr);
    if (!c->config || !json_is_object(c->config))
        return gpf_cli_fail(GPF_EINVAL, "%s: not a JSON object%s%s", c->config_path,
                            c->config ? "" : ": ", c->config ? "" : jerr.text);
    return 0;
}

const char *gpf_cli_config_get(const gpf_cli *c, const char *key)
{
    const char *v = json_string_value(json_object_get(c->config, key));
    return v && *v ? v : NULL;
}

const char *gpf_cli_identity(const gpf_cli *c)
{
    const char *v = gpf_cli_opt(c, "identity");
    return v && *v ? v : gpf_cli_config_get(c, "identity_file");
}

/* The flag's value, else the environment variable's; NULL when neither is set. */
static const char *flag_or_env(const gpf_cli *c, const char *flag, const char *env)
{
    const char *v = gpf_cli_opt(c, flag);
    if (v && *v)
        return v;
    v = getenv(env);
    return v && *v ? v : NULL;
}

static const char *resolve(const gpf_cli *c, const char *flag, const char *env, const char *key)
{
    const char *v = flag_or_env(c, flag, env);
    return v ? v : gpf_cli_config_get(c, key);
}

/* A token, CA file or pin: the flag, else the environment, else the config file's when the
 * config file's server is the one in use (what was saved for one server is not another's:
 * `--server https://elsewhere` must not carry the saved token there). */
static const char *resolve_saved(const gpf_cli *c, const char *flag, const char *env, const char *key)
{
    const char *v = flag_or_env(c, flag, env);
    const char *saved = gpf_cli_config_get(c, "server");
    if (v)
        return v;
    return saved && c->server && strcmp(saved, c->server) == 0 ? gpf_cli_config_get(c, key) : NULL;
}

/* The API token: --token, --token-file F (mode 0600), GPUFLEET_TOKEN, the config file's
 * (only for the server it was saved with). */
static int resolve_token(gpf_cli *c)
{
    gpf_error err = {0};
    int group = 0;
    const char *file = gpf_cli_opt(c, "token-file");
    if (!file) {
        c->token = resolve_saved(c, "token", "GPUFLEET_TOKEN", "token");
        return 0;
    }
    if (gpf_cli_opt(c, "token"))
        return gpf_cli_usage(c, "give --token or --token-file, not both");
    if (gpf_secret_file_read(file, c->token_buf, sizeof c->token_buf, &group, &err) != 0)
        return gpf_cli_fail_err(&err);
    if (group)
        fprintf(stderr, "gpufleet: warning: %s: its group may read this token\n", file);
    c->token = c->token_buf;
    return 0;
}

int gpf_cli_connect(gpf_cli *c)
{
    gpf_error err = {0};
    if (c->http)
        return 0;
    c->server = resolve(c, "server", "GPUFLEET_SERVER", "server");
    int trc = c->token ? 0 : resolve_token(c);
    if (trc != 0)
        return trc;
    c->ca_file = resolve_saved(c, "ca-file", "GPUFLEET_CA_FILE", "ca_file");
    c->pin = resolve_saved(c, "pin", "GPUFLEET_PIN", "pin");
    if (!c->server)
        return gpf_cli_fail(GPF_EINVAL, "no server configured: run 'gpufleet login --server URL "
                                        "--token TOKEN' or set GPUFLEET_SERVER");
    if (!c->token)
        return gpf_cli_fail(GPF_EUNAUTH, "not logged in: run 'gpufleet login --server URL "
                                         "--token TOKEN' or set GPUFLEET_TOKEN");
    gpf_httpc_tls tls = {c->ca_file, c->pin};
    if (gpf_httpc_new(c->server, c->token, &c->http, &err) != 0 || gpf_httpc_set_tls(c->http, &tls, &err) != 0)
        return gpf_cli_fail_err(&err);
    return 0;
}

int gpf_cli_call(gpf_cli *c, const char *method, const char *path, json_t *body, json_t **resp)
{
    gpf_error err = {0};
    json_t *r = NULL;
    int rc = gpf_cli_connect(c);
    if (resp)
        *resp = NULL;
    if (rc != 0)
        return rc;
    if (gpf_httpc_request(c->http, method, path, body, NULL, &r, &err) != 0)
        return gpf_cli_fail_err(&err);
    if (resp)
        *resp = r;
    else
        json_decref(r);
    return 0;
}

/* ---- entry point ---- */

static int print_help(const char *noun)
{
    const struct command *cmd = find_command(noun);
    if (noun && (strcmp(noun, "ssh-proxy") == 0 || strcmp(noun, "sim") == 0)) { /* main() runs them: no server */
        fputs(strcmp(noun, "sim") == 0 ? gpf_cli_help_sim : gpf_cli_help_ssh_proxy, stdout);
        return 0;
    }
    if (noun && !cmd)
        return gpf_cli_fail(GPF_EINVAL, "unknown command '%s' (see 'gpufleet help')", noun);
    fputs(cmd ? cmd->help : main_help, stdout);
    return 0;
}

int gpf_cli_main(int argc, char **argv)
{
    int rc;
    gpf_cli c;
    const struct command *cmd;

    memset(&c, 0, sizeof c);
    rc = parse_args(&c, argc, argv);
    if (rc != 0)
        goto out;
    c.json = gpf_cli_has(&c, "json");
    if (c.npos == 0 && !gpf_cli_has(&c, "help")) {
        fputs(main_help, stderr);
        rc = GPF_EXIT_USAGE;
        goto out;
    }
    if (c.npos == 0 || strcmp(c.pos[0], "help") == 0) {
        rc = print_help(gpf_cli_pos(&c, 1));
        goto out;
    }
    cmd = find_command(c.pos[0]);
    if (!cmd) {
        rc = gpf_cli_usage(&c, "unknown command '%s'", c.pos[0]);
        goto out;
    }
    if (gpf_cli_has(&c, "help")) {
        rc = print_help(cmd->noun);
        goto out;
    }
    rc = load_config(&c);
    if (rc != 0)
        goto out;
    rc = cmd->fn(&c);
out:
    fflush(stdout);
    fflush(stderr);
    gpf_httpc_free(c.http);
    json_decref(c.config);
    gpf_free(c.pos);
    gpf_free(c.flags);
    return rc;
}
