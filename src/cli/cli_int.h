/* Internal to src/cli: the parsed command line and helpers shared by the cmd_*.c files.
 * Command functions return the process exit code; they print through the helpers. */
#ifndef GPF_CLI_CLI_INT_H
#define GPF_CLI_CLI_INT_H

#include <stdint.h>

#include "cli/cli.h"
#include "util/fileio.h"

typedef struct gpf_cli_flag {
    const char *name;   /* without the leading "--" */
    const char *value;  /* NULL for boolean flags */
} gpf_cli_flag;

typedef struct gpf_cli {
    /* parsed command line; strings point into argv */
    int npos;
    const char **pos;       /* positionals: pos[0] is the noun, pos[1] usually the verb */
    int nflags;
    gpf_cli_flag *flags;
    int nrest;
    char **rest;            /* everything after "--" */
    const char *what;       /* "pod launch": names the command in messages */
    /* configuration */
    char config_path[4096];
    json_t *config;         /* the config file's object, or NULL */
    const char *server;     /* resolved: flag > environment > config */
    const char *token;
    char token_buf[256];    /* a token read from --token-file or (login) stdin; token points here */
    const char *ca_file;    /* resolved like server (the config file's only for its server); NULL = system store */
    const char *pin;        /* the same; NULL = none */
    int json;               /* --json */
    gpf_httpc *http;
} gpf_cli;

/* Commands (one file each), called with c->pos[0] == their noun. */
int gpf_cli_cmd_login(gpf_cli *c);
int gpf_cli_cmd_whoami(gpf_cli *c);
int gpf_cli_cmd_sku(gpf_cli *c);
int gpf_cli_cmd_pod(gpf_cli *c);
int gpf_cli_cmd_ssh(gpf_cli *c);
int gpf_cli_cmd_usage(gpf_cli *c);
int gpf_cli_cmd_host(gpf_cli *c);
int gpf_cli_cmd_gpu(gpf_cli *c);
int gpf_cli_cmd_events(gpf_cli *c);
int gpf_cli_cmd_user(gpf_cli *c);
int gpf_cli_cmd_token(gpf_cli *c);
int gpf_cli_cmd_image(gpf_cli *c);
int gpf_cli_cmd_join_token(gpf_cli *c);

/* Usage texts, printed by `gpufleet <noun> --help`. */
extern const char gpf_cli_help_login[];
extern const char gpf_cli_help_sku[];
extern const char gpf_cli_help_pod[];
extern const char gpf_cli_help_ssh[];
extern const char gpf_cli_help_ssh_proxy[];
extern const char gpf_cli_help_sim[];
extern const char gpf_cli_help_usage[];
extern const char gpf_cli_help_host[];
extern const char gpf_cli_help_gpu[];
extern const char gpf_cli_help_events[];
extern const char gpf_cli_help_user[];
extern const char gpf_cli_help_token[];
extern const char gpf_cli_help_whoami[];
extern const char gpf_cli_help_image[];
extern const char gpf_cli_help_join_token[];

/* Positional i, or NULL. */
const char *gpf_cli_pos(const gpf_cli *c, int i);
/* Value of the last --name (NULL when absent or boolean). */
const char *gpf_cli_opt(const gpf_cli *c, const char *name);
/* 1 when --name was given. */
int gpf_cli_has(const gpf_cli *c, const char *name);
/* Fails (exit 2) when a flag outside the space-separated `allowed` list (plus the common
 * server, token, json, help) was given, or the positional count is outside [min,max]
 * (counting from after the noun and verb: skip). Sets c->what. Returns 0 or an exit code. */
int gpf_cli_expect(gpf_cli *c, const char *what, int skip, int min, int max, const char *allowed);
/* Parses an integer flag value within [min,max]; prints a usage error when bad. */
int gpf_cli_int_opt(gpf_cli *c, const char *name, long long min, long long max, long long *out,
                    int *given);

/* Prints "gpufleet: <message>" to stderr; returns the exit code for code. */
int gpf_cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int gpf_cli_fail_err(const gpf_error *err);
/* Usage error: prints the message with a help hint; returns GPF_EXIT_USAGE. */
int gpf_cli_usage(const gpf_cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Resolves server and token and creates c->http. Returns 0 or an exit code (printed). */
int gpf_cli_connect(gpf_cli *c);
/* One request; prints the error and returns its exit code on failure, else 0.
 * *resp may be NULL (pass resp NULL to drop the body). */
int gpf_cli_call(gpf_cli *c, const char *method, const char *path, json_t *body, json_t **resp);

/* The common command shapes; each returns 0 or an exit code (errors printed).
 * gpf_cli_list: GET path; with --json prints the answer, else a table with the ncols headers
 * and one row per element of the answer's array at key, added by row(t, element, arg). */
typedef void (*gpf_cli_row_fn)(gpf_table *t, const json_t *item, void *arg);
int gpf_cli_list(gpf_cli *c, const char *path, const char *key, int ncols,
                 const char *const *headers, gpf_cli_row_fn row, void *arg);
/* gpf_cli_show: GET path; with --json prints the answer, else the key/value listing that
 * fields(c, answer, t) fills with gpf_cli_kv / gpf_cli_kv_json. */
typedef void (*gpf_cli_fields_fn)(const gpf_cli *c, const json_t *obj, gpf_table *t);
int gpf_cli_show(gpf_cli *c, const char *path, gpf_cli_fields_fn fields);
/* gpf_cli_send: one request (body may be NULL); with --json prints the answer, else the
 * printf-style message and a newline. */
int gpf_cli_send(gpf_cli *c, const char *method, const char *path, json_t *body,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The body of a request that makes a secret (a token): {"name"?, "expires_in_s"?} from
 * --name and --expires-in (gpf_cli_parse_duration, at most max_s); the caller adds its own
 * fields. NULL with *rc the exit code (usage printed) on a bad --expires-in. */
json_t *gpf_cli_secret_body(gpf_cli *c, long long max_s, int *rc);
/* Prints a new secret: with --json the whole answer, else its "token" alone on stdout and, when
 * stderr is a terminal, "<what> <id>; this secret is not shown again" there. */
void gpf_cli_print_secret(const gpf_cli *c, const json_t *resp, const char *what);

/* Appends s to b percent-encoded as one path segment (or query value). */
void gpf_cli_escape(gpf_buf *b, const char *s);
/* Writes a JSON value as a table cell: strings as-is, integers, yes/no, "-" for null or
 * absent, arrays joined with ",". */
void gpf_cli_scalar(const json_t *v, char *out, size_t size);
/* The string at key, or "" */
const char *gpf_cli_str(const json_t *o, const char *key);
/* The integer at key, or 0 */
long long gpf_cli_int(const json_t *o, const char *key);
/* RFC 3339 "2026-11-21T16:49:00.000Z" → "2026-11-21 16:49:00"; "-" for null. */
void gpf_cli_time(const json_t *v, char *out, size_t size);
/* 3723000 → "1h02m03s". */
void gpf_cli_duration(long long ms, char *out, size_t size);
/* "45s", "90m", "12h", "30d", "2w" (a bare number: seconds) → seconds, 1..max; GPF_EINVAL
 * (err says what is accepted) otherwise. */
int gpf_cli_parse_duration(const char *s, long long max, int64_t *seconds, gpf_error *err);
/* A slice object as "whole x2", "mig 1g.10gb", "share 25%", "vgpu A100-4C". */
void gpf_cli_slice(const json_t *slice, char *out, size_t size);

/* 32768 → "32GiB", 1536 → "1536MiB". */
void gpf_cli_memory(long long mib, char *out, size_t size);

/* Output: pretty JSON (key order as received) / a rendered table, to stdout. */
void gpf_cli_print_json(const json_t *j);
void gpf_cli_print_table(const gpf_table *t);
/* Key/value listings ("show" commands) as a two-column table without a header row:
 * the first pair initialises t (zero it first), later pairs are added. */
void gpf_cli_kv(gpf_table *t, const char *key, const char *value);
/* Adds key with the scalar at o[field]. */
void gpf_cli_kv_json(gpf_table *t, const char *key, const json_t *o, const char *field);
/* Adds key with the time at o[field] (see gpf_cli_time). */
void gpf_cli_kv_time(gpf_table *t, const char *key, const json_t *o, const char *field);

/* Appends "ssh [-i IDENTITY] [-o UserKnownHostsFile=KNOWN_HOSTS] -p PORT USER@HOST" for the
 * pod's endpoint (shell-quoted when needed; known_hosts NULL or "": left out). GPF_EINVAL
 * (nothing appended) when the pod has no usable endpoint. */
int gpf_cli_ssh_line(const json_t *pod, const char *identity, const char *known_hosts, gpf_buf *out);

/* The identity file for ssh: --identity, else the config's identity_file, else NULL. */
const char *gpf_cli_identity(const gpf_cli *c);
/* The config's value for key, or NULL. */
const char *gpf_cli_config_get(const gpf_cli *c, const char *key);

#endif
