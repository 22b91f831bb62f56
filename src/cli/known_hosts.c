/* The pods' SSH host keys, kept in a known_hosts file beside the CLI's config so that
 * `gpufleet ssh` (and a pasted `ssh` command) can check who answers. */
#include "cli/cli_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/codec.h"
#include "util/alloc.h"

#define KNOWN_HOSTS_MAX (1024 * 1024)

int gpf_cli_known_hosts_path(char *out, size_t size, gpf_error *err)
{
    char cfg[4096];
    int rc = gpf_cli_config_path(cfg, sizeof cfg, err);
    if (rc != 0)
        return rc;
    char *slash = strrchr(cfg, '/');
    int n = slash ? snprintf(out, size, "%.*s/known_hosts", (int)(slash - cfg), cfg)
                  : snprintf(out, size, "known_hosts");
    if (n < 0 || (size_t)n >= size)
        return gpf_error_set(err, GPF_EINVAL, "known_hosts path is too long");
    return 0;
}

/* A host name or address that can stand in a known_hosts pattern as it is. */
static int host_ok(const char *h)
{
    if (!*h || *h == '-' || strlen(h) > 253)
        return 0;
    for (; *h; h++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:_-", *h))
            return 0;
    return 1;
}

/* The file's lines without those for pattern (a line's first field); *same = 1 when the
 * only one for pattern was exactly line. */
static int other_lines(const char *path, const char *pattern, const char *line, gpf_buf *keep, int *same,
                       gpf_error *err)
{
    FILE *f = fopen(path, "r");
    char buf[8192];
    size_t plen = strlen(pattern), total = 0;
    int matches = 0, equal = 0;
    *same = 0;
    if (!f)
        return errno == ENOENT ? 0 : gpf_error_set(err, GPF_EIO, "%s: %s", path, strerror(errno));
    while (fgets(buf, sizeof buf, f)) {
        size_t n = strlen(buf);
        total += n;
        if (total > KNOWN_HOSTS_MAX) {
            fclose(f);
            return gpf_error_set(err, GPF_ETOOLARGE, "%s: larger than %d bytes", path, KNOWN_HOSTS_MAX);
        }
        if (strncmp(buf, pattern, plen) == 0 && (buf[plen] == ' ' || buf[plen] == '\t')) {
            matches++;
            equal |= strcmp(buf, line) == 0;
            continue;
        }
        gpf_buf_append(keep, buf, n);
        if (n && buf[n - 1] != '\n')
            gpf_buf_putc(keep, '\n');
    }
    fclose(f);
    *same = matches == 1 && equal;
    return 0;
}

/* Writes text to path through a temporary file beside it (mode 0600), renamed into place. */
static int replace_file(const char *path, gpf_buf *text, gpf_error *err)
{
    gpf_buf tmp = {0};
    int rc = 0, fd = -1;
    gpf_buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
    fd = open(gpf_buf_cstr(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = gpf_error_set(err, GPF_EIO, "%s: %s", gpf_buf_cstr(&tmp), strerror(errno));
        goto out;
    }
    const char *p = gpf_buf_cstr(text);
    for (size_t left = text->len; left > 0;) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = gpf_error_set(err, GPF_EIO, "%s: %s", gpf_buf_cstr(&tmp), strerror(errno));
            goto out;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fchmod(fd, 0600) != 0 || fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        rc = gpf_error_set(err, GPF_EIO, "%s: %s", gpf_buf_cstr(&tmp), strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(gpf_buf_cstr(&tmp), path) != 0)
        rc = gpf_error_set(err, GPF_EIO, "%s: %s", path, strerror(errno));
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(gpf_buf_cstr(&tmp));
    gpf_buf_clear(&tmp);
    return rc;
}

int gpf_cli_known_hosts_put(const char *path, const char *host, int port, const char *key, gpf_error *err)
{
    gpf_buf line = {0}, text = {0}, lockp = {0};
    char pattern[300];
    int rc = 0, same = 0, lock = -1;
    if (!host_ok(host) || port < 1 || port > 65535)
        return gpf_error_set(err, GPF_EINVAL, "'%.64s' port %d is not a host and port known_hosts can hold", host, port);
    if (gpf_ssh_fingerprint(key, NULL, 0) != 0)
        return gpf_error_set(err, GPF_EINVAL, "the pod's host key is not an OpenSSH public key");
    /* ssh looks a host up as "host" on port 22, as "[host]:port" on any other */
    snprintf(pattern, sizeof pattern, port == 22 ? "%s" : "[%s]:%d", host, port);
    size_t tb = strcspn(key, " ") + 1;
    tb += strcspn(key + tb, " "); /* type and key, without the comment */
    gpf_buf_printf(&line, "%s %.*s\n", pattern, (int)tb, key);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            rc = gpf_error_set(err, GPF_EIO, "%s: %s", dir, strerror(errno));
            goto out;
        }
    }
    /* Read, change, replace under a lock: two `gpufleet ssh` at once must not lose a line. */
    gpf_buf_printf(&lockp, "%s.lock", path);
    lock = open(gpf_buf_cstr(&lockp), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lock < 0 || flock(lock, LOCK_EX) != 0) {
        rc = gpf_error_set(err, GPF_EIO, "%s: %s", gpf_buf_cstr(&lockp), strerror(errno));
        goto out;
    }
    if ((rc = other_lines(path, pattern, gpf_buf_cstr(&line), &text, &same, err)) != 0)
        goto out;
    struct stat st;
    if (same && stat(path, &st) == 0 && (st.st_mode & 0777) == 0600)
        goto out; /* already there, alone for its host and port */
    gpf_buf_append(&text, line.data, line.len);
    rc = replace_file(path, &text, err);
out:
    if (lock >= 0)
        close(lock); /* releases the lock */
    gpf_buf_clear(&lockp);
    gpf_buf_clear(&line);
    gpf_buf_clear(&text);
    return rc;
}

int gpf_cli_pod_known_host(const json_t *pod, char *path, size_t size, gpf_error *err)
{
    const json_t *ssh = json_object_get(pod, "ssh");
    const char *key = json_string_value(json_object_get(ssh, "host_key"));
    const json_t *port = json_object_get(ssh, "port");
    int rc = 0;
    if (size)
        path[0] = '\0';
    if (!key || !*key)
        return 0;
    if (!json_is_integer(port))
        return gpf_error_set(err, GPF_EINVAL, "pod %s has a host key but no ssh port", gpf_cli_str(pod, "id"));
    if ((rc = gpf_cli_known_hosts_path(path, size, err)) != 0 ||
        (rc = gpf_cli_known_hosts_put(path, gpf_cli_str(ssh, "host"), (int)json_integer_value(port), key, err)) != 0) {
        if (size)
            path[0] = '\0';
        return rc;
    }
    return 1;
}
