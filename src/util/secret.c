#include "util/secret.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "gpufleet/error.h"
#include "util/alloc.h"
#include "util/fileio.h"
#include "util/log.h"

int gpf_random_id(const char *prefix, int nhex, char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    size_t plen = strlen(prefix);
    if (nhex <= 0 || plen + (size_t)nhex + 1 > size)
        return GPF_EINVAL;
    unsigned char rnd[64];
    size_t nbytes = ((size_t)nhex + 1) / 2;
    if (nbytes > sizeof rnd)
        return GPF_EINVAL;
    size_t got = 0;
    while (got < nbytes) {
        ssize_t r = getrandom(rnd + got, nbytes - got, 0);
        if (r > 0)
            got += (size_t)r;
    }
    memcpy(out, prefix, plen);
    for (int i = 0; i < nhex; i++)
        out[plen + (size_t)i] = hex[(rnd[i / 2] >> ((i % 2) ? 0 : 4)) & 0xf];
    out[plen + (size_t)nhex] = '\0';
    return 0;
}

void gpf_sha256_hex(const char *s, char out[65])
{
    gpf_sha256_hex_buf(s, strlen(s), out);
}

void gpf_sha256_hex_buf(const void *data, size_t n, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data, n, md, &len, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < len && i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }
    out[64] = '\0';
}

int gpf_secret_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    size_t n = la < lb ? la : lb;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

int gpf_secret_file_read(const char *path, char *out, size_t size, int *group_readable, gpf_error *err)
{
    struct stat st;
    char *text = NULL;
    int rc = 0;
    if (size)
        out[0] = '\0';
    if (group_readable)
        *group_readable = 0;
    if (stat(path, &st) != 0)
        return gpf_error_set(err, errno == ENOENT ? GPF_ENOTFOUND : GPF_EIO, "%s: %s", path, strerror(errno));
    if (S_ISREG(st.st_mode) && (rc = gpf_secret_mode_check(path, st.st_mode, "a secret", group_readable, err)) != 0)
        return rc;
    if ((rc = gpf_read_file(path, 4096, &text, err)) != 0)
        return rc;
    const char *s = text;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t n = strlen(s);
    if (n == 0 || n >= size || strpbrk(s, " \t\r\n"))
        rc = gpf_error_set(err, GPF_EINVAL, "%s: %s", path,
                           n == 0 ? "empty" : n >= size ? "longer than a token" : "more than one word");
    else
        memcpy(out, s, n + 1);
    explicit_bzero(text, strlen(text));
    gpf_free(text);
    if (rc != 0 && group_readable)
        *group_readable = 0;
    return rc;
}

int gpf_secret_mode_check(const char *path, unsigned mode, const char *what, int *group_readable, gpf_error *err)
{
    if (group_readable)
        *group_readable = 0;
    if (mode & (S_IRWXO | S_IWGRP))
        return gpf_error_set(err, GPF_EFORBIDDEN, "%s: %s others may read or write (mode %03o): chmod 600 it", path,
                             what, mode & 0777);
    if (group_readable)
        *group_readable = (mode & S_IRGRP) != 0;
    return 0;
}

int gpf_secret_option(const char *flag, const char *value, const char *file, char *out, size_t size,
                      gpf_error *err)
{
    char env[64];
    int group = 0;
    if (!file || !file[0]) {
        gpf_strlcpy(out, value ? value : "", size);
        return 0;
    }
    if (value && value[0]) {
        size_t i = 0;
        for (; flag[i] && i + 1 < sizeof env; i++)
            env[i] = flag[i] == '-' ? '_' : (char)toupper((unsigned char)flag[i]);
        env[i] = '\0';
        return gpf_error_set(err, GPF_EINVAL, "give the %s once: --%s-file, or --%s / GPUFLEET_%s", flag, flag, flag,
                             env);
    }
    int rc = gpf_secret_file_read(file, out, size, &group, err);
    if (rc == 0 && group)
        GPF_WARN("config", "event=secret_group_readable path=%s msg=\"its group may read this secret\"", file);
    return rc;
}
