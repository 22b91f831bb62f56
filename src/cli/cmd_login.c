/* gpufleet login / whoami: verify a token, save the config, upload an SSH key. */
#include "cli/cli_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/alloc.h"

const char gpf_cli_help_login[] =
    "usage: gpufleet login --server URL --token TOKEN [--ca-file CA.pem] [--pin sha256//...]\n"
    "                      [--ssh-key PUBKEYFILE]\n"
    "\n"
    "The token: --token-file F (refused when others may read it), else --token, else\n"
    "$GPUFLEET_TOKEN, else standard input when that is not a terminal\n"
    "(`pass show gpufleet | gpufleet login --server URL`). --token puts it on the command\n"
    "line, where ps shows it: prefer the others.\n"
    "\n"
    "Checks the token with the control plane, stores server, token, CA file and pin (an https\n"
    "server's certificate is verified against them), user and SSH identity in\n"
    "the config file ($GPUFLEET_CONFIG, else $XDG_CONFIG_HOME/gpufleet/config.json, else\n"
    "~/.config/gpufleet/config.json; mode 0600) and uploads your SSH public key so that pods\n"
    "accept it. Without --ssh-key an ed25519 key is generated next to the config file.\n";

const char gpf_cli_help_whoami[] =
    "usage: gpufleet whoami [--json]\n"
    "\nShows the user and role behind the token, and the server.\n";

#define MAX_PUBKEY (16 * 1024)

/* mkdir -p for the directory part of path, mode 0700 for what it creates. */
static int make_parent_dirs(const char *path, gpf_error *err)
{
    int rc = 0;
    char *d = gpf_strdup(path);
    char *slash = strrchr(d, '/');
    if (!slash || slash == d)
        goto out;
    *slash = '\0';
    for (char *p = d + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(d, 0700) != 0 && errno != EEXIST) {
                rc = gpf_error_set(err, GPF_EIO, "cannot create %s: %s", d, strerror(errno));
                goto out;
            }
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
out:
    gpf_free(d);
    return rc;
}

static int run_keygen(const char *keyfile, const char *user, gpf_error *err)
{
    char comment[256];
    int status = 0;
    pid_t pid;

    snprintf(comment, sizeof comment, "gpufleet-%s", user);
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0)
        return gpf_error_set(err, GPF_EIO, "fork: %s", strerror(errno));
    if (pid == 0) {
        char *argv[] = {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment,
                        "-f", (char *)keyfile, NULL};
        int fd = open("/dev/null", O_RDONLY);
        if (fd >= 0)
            dup2(fd, 0);
        execvp(argv[0], argv);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return gpf_error_set(err, GPF_EIO, "waitpid: %s", strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return gpf_error_set(err, GPF_ENOTFOUND,
                             "ssh-keygen not found: install openssh-client or pass --ssh-key");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return gpf_error_set(err, GPF_EIO, "ssh-keygen failed for %s", keyfile);
    return 0;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Picks (and if needed creates) the key pair; fills *identity (private key path) and
 * *pubkey (public key text). */
static int pick_key(const char *config_path, const char *opt, const char *user, char **identity,
                    char **pubkey, gpf_error *err)
{
    int rc = 0;
    char abs[PATH_MAX];
    gpf_buf pub = {0};

    *identity = NULL;
    *pubkey = NULL;
    if (opt) {
        if (!has_suffix(opt, ".pub"))
            gpf_buf_printf(&pub, "%s.pub", opt); /* a private key path: its .pub beside it */
        else
            gpf_buf_puts(&pub, opt);
        if (!realpath(gpf_buf_cstr(&pub), abs)) {
            rc = gpf_error_set(err, GPF_ENOTFOUND, "%s: %s", gpf_buf_cstr(&pub), strerror(errno));
            goto out;
        }
        *identity = gpf_strndup(abs, strlen(abs) - 4);
    } else {
        const char *slash = strrchr(config_path, '/');
        gpf_buf dir = {0};
        gpf_buf_append(&dir, config_path, slash ? (size_t)(slash - config_path) : 1);
        if (!slash)
            dir.data[0] = '.';
        gpf_buf_puts(&dir, "/id_ed25519");
        *identity = gpf_buf_steal(&dir);
        if (access(*identity, F_OK) != 0 && (rc = run_keygen(*identity, user, err)) != 0)
            goto out;
        gpf_buf_printf(&pub, "%s.pub", *identity);
    }
    rc = gpf_read_file(gpf_buf_cstr(&pub), MAX_PUBKEY, pubkey, err);
    if (rc == 0 && (!**pubkey || strchr(*pubkey, '\n')))
        rc = gpf_error_set(err, GPF_EINVAL, "%s: not a single-line SSH public key",
                           gpf_buf_cstr(&pub));
out:
    if (rc != 0) {
        gpf_free(*identity);
        gpf_free(*pubkey);
        *identity = NULL;
        *pubkey = NULL;
    }
    gpf_buf_clear(&pub);
    return rc;
}

/* Writes the config object atomically with mode 0600. */
static int write_config(const char *path, const json_t *cfg, gpf_error *err)
{
    int rc = 0, fd = -1;
    char *text = NULL;
    gpf_buf tmp = {0};
    size_t len, off = 0;

    rc = make_parent_dirs(path, err);
    if (rc != 0)
        goto out;
    gpf_buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
    fd = open(gpf_buf_cstr(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || fchmod(fd, 0600) != 0) {
        rc = gpf_error_set(err, GPF_EIO, "cannot write %s: %s", gpf_buf_cstr(&tmp), strerror(errno));
        goto out;
    }
    text = json_dumps(cfg, JSON_INDENT(2));
    len = text ? strlen(text) : 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = gpf_error_set(err, GPF_EIO, "cannot write %s: %s", gpf_buf_cstr(&tmp), strerror(errno));
            goto out;
        }
        off += (size_t)n;
    }
    if (write(fd, "\n", 1) != 1 || fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        rc = gpf_error_set(err, GPF_EIO, "cannot write %s: %s", gpf_buf_cstr(&tmp), strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(gpf_buf_cstr(&tmp), path) != 0)
        rc = gpf_error_set(err, GPF_EIO, "cannot rename to %s: %s", path, strerror(errno));
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0 && tmp.len)
        unlink(gpf_buf_cstr(&tmp));
    free(text);
    gpf_buf_clear(&tmp);
    return rc;
}

/* Keeps what verified the server: the CA file (as an absolute path, so that the config works
 * from any directory) and the pin; a login without them drops the old ones. */
static int save_tls(const gpf_cli *c, json_t *cfg)
{
    char abs[PATH_MAX];
    json_object_del(cfg, "ca_file");
    json_object_del(cfg, "pin");
    if (c->ca_file && !realpath(c->ca_file, abs))
        return gpf_cli_fail(GPF_ENOTFOUND, "%s: %s", c->ca_file, strerror(errno));
    if (c->ca_file)
        json_object_set_new(cfg, "ca_file", json_string(abs));
    if (c->pin)
        json_object_set_new(cfg, "pin", json_string(c->pin));
    return 0;
}

/* login without --token, --token-file or GPUFLEET_TOKEN: the token is the first line of
 * standard input when that is not a terminal (a pipe from a secret store). */
static int token_from_stdin(gpf_cli *c)
{
    const char *env = getenv("GPUFLEET_TOKEN");
    if (gpf_cli_opt(c, "token") || gpf_cli_opt(c, "token-file") || (env && *env) || isatty(0))
        return 0;
    if (!fgets(c->token_buf, sizeof c->token_buf, stdin))
        return gpf_cli_fail(GPF_EINVAL, "no token on standard input");
    c->token_buf[strcspn(c->token_buf, "\r\n")] = '\0';
    if (!c->token_buf[0])
        return gpf_cli_fail(GPF_EINVAL, "no token on standard input");
    c->token = c->token_buf;
    return 0;
}

int gpf_cli_cmd_login(gpf_cli *c)
{
    int rc;
    gpf_error err = {0};
    json_t *who = NULL, *body = NULL, *cfg = NULL;
    char *identity = NULL, *pubkey = NULL;
    const char *user, *role;
    gpf_buf path = {0};

    rc = gpf_cli_expect(c, "login", 1, 0, 0, "ssh-key");
    if (rc == 0)
        rc = token_from_stdin(c);
    if (rc != 0)
        goto out;
    if (!c->config_path[0]) {
        rc = gpf_cli_fail(GPF_EINVAL, "cannot locate the config file: set GPUFLEET_CONFIG or HOME");
        goto out;
    }
    rc = gpf_cli_call(c, "GET", "/v1/whoami", NULL, &who);
    if (rc != 0)
        goto out;
    user = gpf_cli_str(who, "user");
    role = gpf_cli_str(who, "role");
    if (!*user) {
        rc = gpf_cli_fail(GPF_EMALFORMED, "the server's /v1/whoami answer has no user");
        goto out;
    }
    if (make_parent_dirs(c->config_path, &err) != 0 ||
        pick_key(c->config_path, gpf_cli_opt(c, "ssh-key"), user, &identity, &pubkey, &err) != 0) {
        rc = gpf_cli_fail_err(&err);
        goto out;
    }
    body = json_pack("{s:s}", "ssh_pubkey", pubkey);
    gpf_buf_puts(&path, "/v1/users/");
    gpf_cli_escape(&path, user);
    rc = gpf_cli_call(c, "PATCH", gpf_buf_cstr(&path), body, NULL);
    if (rc != 0)
        goto out;
    cfg = c->config ? json_deep_copy(c->config) : json_object();
    json_object_set_new(cfg, "server", json_string(c->server));
    json_object_set_new(cfg, "token", json_string(c->token));
    json_object_set_new(cfg, "user", json_string(user));
    json_object_set_new(cfg, "identity_file", json_string(identity));
    if ((rc = save_tls(c, cfg)) != 0)
        goto out;
    if (write_config(c->config_path, cfg, &err) != 0) {
        rc = gpf_cli_fail_err(&err);
        goto out;
    }
    printf("logged in to %s as %s (%s)\n", c->server, user, role);
out:
    json_decref(who);
    json_decref(body);
    json_decref(cfg);
    gpf_free(identity);
    gpf_free(pubkey);
    gpf_buf_clear(&path);
    return rc;
}

static void whoami_fields(const gpf_cli *c, const json_t *who, gpf_table *t)
{
    gpf_cli_kv_json(t, "user", who, "user");
    gpf_cli_kv_json(t, "role", who, "role");
    gpf_cli_kv(t, "server", c->server);
}

int gpf_cli_cmd_whoami(gpf_cli *c)
{
    int rc = gpf_cli_expect(c, "whoami", 1, 0, 0, "");
    return rc ? rc : gpf_cli_show(c, "/v1/whoami", whoami_fields);
}
