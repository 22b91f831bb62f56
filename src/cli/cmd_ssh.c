/* gpufleet ssh POD [-- CMD...]: replaces the process with ssh into a running pod. */
#include "cli/cli_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/alloc.h"

const char gpf_cli_help_ssh[] =
    "usage: gpufleet ssh POD [--identity FILE] [-- CMD...]\n"
    "\n"
    "Opens an SSH session to a running pod (or runs CMD in it) with the identity saved by\n"
    "`gpufleet login`; --identity overrides it. The pod's host key, as its agent reported it,\n"
    "is written to known_hosts beside the config file and ssh checks it strictly; a pod\n"
    "without one (fake runtime, older agent) is reached without the check, with a warning.\n"
    "The connection is opened by `gpufleet ssh-proxy` with Nagle's algorithm off, which\n"
    "saves ssh's handshake about 40 ms per round trip.\n";

const char gpf_cli_help_ssh_proxy[] =
    "usage: gpufleet ssh-proxy HOST PORT\n"
    "\n"
    "For ssh's ProxyCommand with ProxyUseFdpass=yes: connects to HOST:PORT with TCP_NODELAY\n"
    "set and hands the connected socket to ssh on stdout, then exits. In ~/.ssh/config:\n"
    "  ProxyCommand gpufleet ssh-proxy %h %p\n"
    "  ProxyUseFdpass yes\n";

/* A user or host that ssh could mistake for an option, or that holds spaces. */
static int unsafe(const char *s)
{
    if (!*s || *s == '-')
        return 1;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* Reads and checks pod.ssh {host, port, user}. */
static int endpoint(const json_t *pod, const char **user, const char **host, long long *port,
                    gpf_error *err)
{
    const json_t *ssh = json_object_get(pod, "ssh");
    const json_t *p = json_object_get(ssh, "port");
    const char *id = gpf_cli_str(pod, "id");

    *user = gpf_cli_str(ssh, "user");
    *host = gpf_cli_str(ssh, "host");
    *port = 0;
    if (json_is_integer(p)) {
        *port = (long long)json_integer_value(p);
    } else if (json_is_string(p)) {
        char *end = NULL;
        *port = strtoll(json_string_value(p), &end, 10);
        if (!end || *end)
            *port = 0;
    }
    if (!json_is_object(ssh) || !**host || !**user)
        return gpf_error_set(err, GPF_EINVAL, "pod %s has no ssh endpoint yet", id);
    if (*port < 1 || *port > 65535 || unsafe(*user) || unsafe(*host))
        return gpf_error_set(err, GPF_EINVAL, "pod %s has an invalid ssh endpoint", id);
    return 0;
}

/* A host that can go into a shell command line unquoted: a name or an address. */
static int plain_host(const char *s)
{
    if (!*s || *s == '-')
        return 0;
    for (; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:", *s))
            return 0;
    return 1;
}

/* Appends s quoted for a POSIX shell when it needs quoting. */
static void shell_quote(gpf_buf *b, const char *s);

/* UserKnownHostsFile=PATH for ssh's -o: '%' doubled (ssh expands %-tokens there), and the
 * path in double quotes when it holds white space (ssh splits the value into files). */
static char *known_hosts_option(const char *path)
{
    gpf_buf opt = {0};
    int quote = strpbrk(path, " \t") != NULL;
    gpf_buf_puts(&opt, quote ? "UserKnownHostsFile=\"" : "UserKnownHostsFile=");
    for (const char *p = path; *p; p++) {
        if (*p == '%')
            gpf_buf_putc(&opt, '%');
        gpf_buf_putc(&opt, *p);
    }
    if (quote)
        gpf_buf_putc(&opt, '"');
    return gpf_buf_steal(&opt);
}

/* ProxyCommand=SELF ssh-proxy HOST PORT, with '%' doubled (ssh expands %-tokens there). */
static char *proxy_option(const char *self, const char *host, long long port)
{
    gpf_buf q = {0}, opt = {0};
    shell_quote(&q, self);
    gpf_buf_puts(&opt, "ProxyCommand=");
    for (const char *p = gpf_buf_cstr(&q); *p; p++) {
        if (*p == '%')
            gpf_buf_putc(&opt, '%');
        gpf_buf_putc(&opt, *p);
    }
    gpf_buf_printf(&opt, " ssh-proxy %s %lld", host, port);
    gpf_buf_clear(&q);
    return gpf_buf_steal(&opt);
}

int gpf_cli_ssh_argv(const json_t *pod, const char *ssh_path, const char *identity, const char *known_hosts,
                     const char *proxy_self, int ncmd, char *const *cmd, char ***out, gpf_error *err)
{
    int rc, n = 0;
    const char *user, *host, *state = gpf_cli_str(pod, "state");
    long long port;
    char **argv = NULL;
    char buf[64];
    gpf_buf dest = {0};

    *out = NULL;
    if (strcmp(state, "running") != 0) {
        rc = gpf_error_set(err, GPF_ESTATE, "pod %s is %s, not running", gpf_cli_str(pod, "id"),
                           *state ? state : "in an unknown state");
        goto out;
    }
    rc = endpoint(pod, &user, &host, &port, err);
    if (rc != 0)
        goto out;
    argv = gpf_calloc((size_t)(ncmd > 0 ? ncmd : 0) + 20, sizeof *argv);
    argv[n++] = gpf_strdup(ssh_path ? ssh_path : "ssh");
    if (identity && *identity) {
        argv[n++] = gpf_strdup("-i");
        argv[n++] = gpf_strdup(identity);
    }
    snprintf(buf, sizeof buf, "%lld", port);
    argv[n++] = gpf_strdup("-p");
    argv[n++] = gpf_strdup(buf);
    argv[n++] = gpf_strdup("-o");
    argv[n++] = gpf_strdup(known_hosts && *known_hosts ? "StrictHostKeyChecking=yes" : "StrictHostKeyChecking=no");
    argv[n++] = gpf_strdup("-o");
    argv[n++] = known_hosts_option(known_hosts && *known_hosts ? known_hosts : "/dev/null");
    argv[n++] = gpf_strdup("-o");
    argv[n++] = gpf_strdup("LogLevel=ERROR");
    argv[n++] = gpf_strdup("-o");
    argv[n++] = gpf_strdup("KexAlgorithms=" GPF_SSH_KEX);
    if (proxy_self && *proxy_self && plain_host(host)) {
        argv[n++] = gpf_strdup("-o");
        argv[n++] = gpf_strdup("ProxyUseFdpass=yes");
        argv[n++] = gpf_strdup("-o");
        argv[n++] = proxy_option(proxy_self, host, port);
    }
    gpf_buf_printf(&dest, "%s@%s", user, host);
    argv[n++] = gpf_buf_steal(&dest);
    for (int i = 0; i < ncmd; i++)
        argv[n++] = gpf_strdup(cmd[i]);
    argv[n] = NULL;
    *out = argv;
out:
    gpf_buf_clear(&dest);
    return rc;
}

void gpf_cli_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **p = argv; *p; p++)
        gpf_free(*p);
    gpf_free(argv);
}

static void shell_quote(gpf_buf *b, const char *s)
{
    int plain = *s != '\0';
    for (const char *p = s; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-~", *p))
            plain = 0;
    if (plain) {
        gpf_buf_puts(b, s);
        return;
    }
    gpf_buf_putc(b, '\'');
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            gpf_buf_puts(b, "'\\''");
        else
            gpf_buf_putc(b, *p);
    }
    gpf_buf_putc(b, '\'');
}

int gpf_cli_ssh_line(const json_t *pod, const char *identity, const char *known_hosts, gpf_buf *out)
{
    const char *user, *host;
    long long port;
    if (endpoint(pod, &user, &host, &port, NULL) != 0)
        return GPF_EINVAL;
    gpf_buf_puts(out, "ssh ");
    if (identity && *identity) {
        gpf_buf_puts(out, "-i ");
        shell_quote(out, identity);
        gpf_buf_putc(out, ' ');
    }
    if (known_hosts && *known_hosts) {
        gpf_buf_puts(out, "-o ");
        char *opt = known_hosts_option(known_hosts);
        shell_quote(out, opt);
        gpf_free(opt);
        gpf_buf_putc(out, ' ');
    }
    gpf_buf_printf(out, "-p %lld %s@%s", port, user, host);
    return 0;
}

/* /usr/bin/ssh, else the first ssh on PATH; NULL when none. Caller frees. */
static char *find_ssh(void)
{
    const char *path = getenv("PATH");
    char *copy, *rest, *dir, *found = NULL;
    if (access("/usr/bin/ssh", X_OK) == 0)
        return gpf_strdup("/usr/bin/ssh");
    if (!path)
        return NULL;
    copy = rest = gpf_strdup(path);
    while (!found && (dir = strsep(&rest, ":"))) {
        if (!dir[0]) /* an empty entry is not searched (it would mean the current directory) */
            continue;
        gpf_buf b = {0};
        gpf_buf_printf(&b, "%s/ssh", dir);
        if (access(gpf_buf_cstr(&b), X_OK) == 0)
            found = gpf_buf_steal(&b);
        gpf_buf_clear(&b);
    }
    gpf_free(copy);
    return found;
}

int gpf_cli_ssh_proxy_main(int argc, char **argv)
{
    gpf_error err = {0};
    if (argc != 2 || !*argv[0] || !*argv[1]) {
        fputs(gpf_cli_help_ssh_proxy, stderr);
        return GPF_EXIT_USAGE;
    }
    if (gpf_cli_ssh_proxy(argv[0], argv[1], STDOUT_FILENO, 10000, &err) != 0)
        return gpf_cli_fail_err(&err);
    return 0;
}

int gpf_cli_cmd_ssh(gpf_cli *c)
{
    int rc, ncmd = 0;
    json_t *pod = NULL;
    char **cmd = NULL, **argv = NULL, *ssh = NULL;
    gpf_buf path = {0};
    gpf_error err = {0};

    rc = gpf_cli_expect(c, "ssh", 1, 1, -1, "identity");
    if (rc != 0)
        goto out;
    gpf_buf_puts(&path, "/v1/pods/");
    gpf_cli_escape(&path, gpf_cli_pos(c, 1));
    rc = gpf_cli_call(c, "GET", gpf_buf_cstr(&path), NULL, &pod);
    if (rc != 0)
        goto out;
    cmd = gpf_calloc((size_t)(c->npos + c->nrest) + 1, sizeof *cmd);
    for (int i = 2; i < c->npos; i++)
        cmd[ncmd++] = (char *)c->pos[i];
    for (int i = 0; i < c->nrest; i++)
        cmd[ncmd++] = c->rest[i];
    ssh = find_ssh();
    if (!ssh) {
        rc = gpf_cli_fail(GPF_ENOTFOUND, "ssh not found: install openssh-client");
        goto out;
    }
    char self[PATH_MAX], helper[PATH_MAX]; /* the proxy: gpufleet-ssh-helper beside us, else gpufleet */
    const char *proxy = gpf_ssh_helper_path(gpf_self_exe(self, sizeof self, NULL), helper, sizeof helper);
    char known[PATH_MAX];
    int have_key = strcmp(gpf_cli_str(pod, "state"), "running") == 0 ? gpf_cli_pod_known_host(pod, known, sizeof known, &err)
                                                                      : 0;
    if (have_key < 0) {
        rc = gpf_cli_fail(err.code, "cannot record the host key of pod %s: %s", gpf_cli_str(pod, "id"),
                          gpf_error_msg(&err));
        goto out;
    }
    if (have_key == 0 && strcmp(gpf_cli_str(pod, "state"), "running") == 0)
        fprintf(stderr, "gpufleet: warning: pod %s reported no SSH host key (fake runtime or older agent): "
                        "its identity is not checked\n", gpf_cli_str(pod, "id"));
    if (gpf_cli_ssh_argv(pod, ssh, gpf_cli_identity(c), have_key ? known : NULL, proxy, ncmd, cmd, &argv, &err) != 0) {
        rc = gpf_cli_fail_err(&err);
        goto out;
    }
    fflush(stdout);
    fflush(stderr);
    execv(ssh, argv);
    rc = gpf_cli_fail(GPF_EIO, "cannot run %s: %s", ssh, strerror(errno));
out:
    json_decref(pod);
    gpf_free(cmd);
    gpf_free(ssh);
    gpf_cli_argv_free(argv);
    gpf_buf_clear(&path);
    return rc;
}
