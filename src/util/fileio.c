/* Small file helpers: see fileio.h. */
#include "util/fileio.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/buf.h"

int gpf_read_file(const char *path, size_t max, char **out, gpf_error *err)
{
    int rc = 0, fd = -1;
    struct stat st;
    gpf_buf b = {0};
    char chunk[4096];
    ssize_t n;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = gpf_error_set(err, errno == ENOENT ? GPF_ENOTFOUND : GPF_EIO, "%s: %s", path,
                           strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = gpf_error_set(err, GPF_EINVAL, "%s: not a regular file", path);
        goto out;
    }
    while ((n = read(fd, chunk, sizeof chunk)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = gpf_error_set(err, GPF_EIO, "%s: %s", path, strerror(errno));
            goto out;
        }
        if (b.len + (size_t)n > max) {
            rc = gpf_error_set(err, GPF_ETOOLARGE, "%s: larger than %zu bytes", path, max);
            goto out;
        }
        gpf_buf_append(&b, chunk, (size_t)n);
    }
    while (b.len > 0 && isspace((unsigned char)b.data[b.len - 1]))
        b.len--;
    gpf_buf_putc(&b, '\0');
    b.len--;
    *out = gpf_buf_steal(&b);
out:
    if (fd >= 0)
        close(fd);
    gpf_buf_clear(&b);
    return rc;
}

int gpf_read_file_raw(const char *path, size_t max, char **data, size_t *len, gpf_error *err)
{
    int rc = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    *data = NULL;
    *len = 0;
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = gpf_error_set(err, errno == ENOENT ? GPF_ENOTFOUND : GPF_EIO, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size < 0 || (uint64_t)st.st_size > max) {
        rc = gpf_error_set(err, GPF_EINVAL, "%s: not a regular file of at most %zu bytes", path, max);
        goto out;
    }
    buf = gpf_malloc((size_t)st.st_size + 1);
    for (ssize_t r; got < (size_t)st.st_size; got += (size_t)r) {
        r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) {
            r = 0;
            continue;
        }
        if (r <= 0) {
            rc = gpf_error_set(err, GPF_EIO, "%s: short read", path);
            goto out;
        }
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    buf = NULL;
out:
    gpf_free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

const char *gpf_self_exe(char *buf, size_t size, const char *fallback)
{
    ssize_t n = size > 1 ? readlink("/proc/self/exe", buf, size - 1) : -1;
    if (n <= 0)
        return fallback;
    buf[n] = '\0';
    return buf;
}

const char *gpf_ssh_helper_path(const char *exe, char *buf, size_t size)
{
    const char *slash = exe ? strrchr(exe, '/') : NULL;
    if (!slash)
        return exe;
    int n = snprintf(buf, size, "%.*s/%s", (int)(slash - exe), exe, GPF_SSH_HELPER);
    if (n < 0 || (size_t)n >= size || access(buf, X_OK) != 0)
        return exe;
    return buf;
}
