/* The gpufleet command-line client: `gpufleet <noun> <verb> [flags]`, git style.
 * Talks to the control plane over HTTP (docs/api.md); reference in docs/cli.md.
 * Only gpf_cli_main prints; the helpers below are pure and exposed for tests. */
#ifndef GPF_CLI_CLI_H
#define GPF_CLI_CLI_H

/* Key exchange `gpufleet ssh` asks for, in order of preference. OpenSSH 9's default,
 * the sntrup761 post-quantum hybrid, costs ~150 ms of CPU per connection on each end,
 * which dominated launch-to-first-command. NIST P-256 ECDH goes through OpenSSL's
 * optimised code, where Debian 12's OpenSSH computes curve25519 with its own portable
 * code: `ssh … true` into a pod takes ~12 ms less with it. curve25519 and the hybrid stay
 * allowed, and plain `ssh` keeps OpenSSH's own default. */
#define GPF_SSH_KEX "ecdh-sha2-nistp256,curve25519-sha256,curve25519-sha256@libssh.org,sntrup761x25519-sha512@openssh.com"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/ssh_proxy.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/httpc.h"

/* Exit codes (stable, documented in docs/cli.md). */
enum {
    GPF_EXIT_OK = 0,
    GPF_EXIT_ERROR = 1,
    GPF_EXIT_USAGE = 2,
    GPF_EXIT_NOTFOUND = 3,
    GPF_EXIT_PERM = 4,
    GPF_EXIT_CONFLICT = 5,
    GPF_EXIT_UNREACHABLE = 6,
};

/* argv[0] is the program name, argv[1] the noun. Prints results to stdout and errors
 * (one line, "gpufleet: <message>") to stderr; returns the process exit code.
 * `gpufleet ssh` replaces the process with ssh on success. */
int gpf_cli_main(int argc, char **argv);
/* 1 when noun is a CLI command (login, sku, pod, ssh, usage, host, gpu, whoami, user,
 * token, image, help), else 0. */
int gpf_cli_is_command(const char *noun);

/* Exit code for a GPF_E* code (0 → 0). */
int gpf_cli_exit_code(int code);

/* Parses a non-negative decimal amount ("2.50", "3", "0.000001") into micro-units with
 * integer arithmetic. At most 6 decimals, no sign, no spaces. 0 or GPF_EINVAL. */
int gpf_cli_parse_money(const char *s, int64_t *micro, gpf_error *err);
/* Formats micro-units as a decimal with at least 2 decimals, trailing zeros beyond
 * that trimmed: 2500000 → "2.50", 1234567 → "1.234567", -10000 → "-0.01". */
void gpf_cli_format_money(int64_t micro, char *out, size_t size);

/* Builds the ssh argv for a running pod (JSON per docs/api.md, with "ssh":{host,port,user}):
 * ssh_path -i IDENTITY -p PORT -o StrictHostKeyChecking=yes -o UserKnownHostsFile=KNOWN_HOSTS
 * -o LogLevel=ERROR -o KexAlgorithms=GPF_SSH_KEX [-o ProxyUseFdpass=yes
 * -o "ProxyCommand=PROXY_SELF ssh-proxy HOST PORT"] USER@HOST [cmd...].
 * "-i IDENTITY" is left out when identity is NULL or ""; without known_hosts (NULL or "": the
 * pod's host key is not known) StrictHostKeyChecking=no and UserKnownHostsFile=/dev/null;
 * the proxy options when proxy_self (the gpufleet binary) is NULL or "" or the host is not
 * a plain name or address.
 * *out is a NULL-terminated heap array of heap strings (free with gpf_cli_argv_free).
 * GPF_ESTATE when the pod is not running, GPF_EINVAL when its ssh endpoint is missing or
 * unsafe (a user or host starting with '-' or containing spaces). */
int gpf_cli_ssh_argv(const json_t *pod, const char *ssh_path, const char *identity, const char *known_hosts,
                     const char *proxy_self, int ncmd, char *const *cmd, char ***out, gpf_error *err);

/* Pods' host keys. The file: "known_hosts" in the directory of the config file
 * (gpf_cli_config_path). */
int gpf_cli_known_hosts_path(char *out, size_t size, gpf_error *err);
/* Puts the line "[HOST]:PORT TYPE BASE64" ("HOST TYPE BASE64" for port 22) for key (an
 * OpenSSH public key line; its comment is dropped) into the known_hosts file at path,
 * replacing every line for the same host and port and keeping the others. Creates the
 * file (mode 0600, through a temporary file renamed into place) and its directory (0700).
 * GPF_EINVAL for a host, port or key a known_hosts line cannot hold. */
int gpf_cli_known_hosts_put(const char *path, const char *host, int port, const char *key, gpf_error *err);
/* Remembers the host key of a pod (JSON per docs/api.md, "ssh":{host,port,host_key}) in the
 * known_hosts file: 1 and path (size bytes) set when it was written, 0 (path "") when the
 * pod has no host key, or a GPF_E* code. */
int gpf_cli_pod_known_host(const json_t *pod, char *path, size_t size, gpf_error *err);
void gpf_cli_argv_free(char **argv);

/* `gpufleet sim ...` (argv after "sim"): trace replay; returns the exit code. */
int gpf_cli_sim_main(int argc, char **argv);
/* `gpufleet check ...` (argv after "check"): the host preflight; exit 0 pass, 1 warn, 2 fail,
 * 3 when the checks could not run. */
int gpf_cli_check_main(int argc, char **argv);
/* `gpufleet discover ...` (argv after "discover"): what the GPU backend sees on this host. */
int gpf_cli_discover_main(int argc, char **argv);
/* argv holds HOST PORT (after "ssh-proxy"); returns the exit code. */
int gpf_cli_ssh_proxy_main(int argc, char **argv);

/* A text table: left-aligned columns, two spaces apart, header row first, no trailing
 * spaces. Widths count UTF-8 code points; control characters print as '?'. */
typedef struct gpf_table {
    int ncols;
    int nrows;      /* including the header */
    char **cells;   /* nrows * ncols heap strings, row-major */
} gpf_table;

/* headers: ncols strings (copied). */
void gpf_table_init(gpf_table *t, int ncols, const char *const *headers);
/* cells: ncols strings (copied; NULL prints as "-"). */
void gpf_table_add(gpf_table *t, const char *const *cells);
void gpf_table_render(const gpf_table *t, gpf_buf *out);
void gpf_table_clear(gpf_table *t);

/* Where the config file lives: $GPUFLEET_CONFIG, else $XDG_CONFIG_HOME/gpufleet/config.json,
 * else $HOME/.config/gpufleet/config.json. GPF_EINVAL when none can be found. */
int gpf_cli_config_path(char *out, size_t size, gpf_error *err);

#endif
