/* Helpers shared by the libFuzzer targets (header only: each target is one file).
 *   fz_split    cuts an input at NUL bytes into NUL-terminated heap copies
 *   fz_scratch  a per-process directory in /dev/shm (else /tmp), removed at exit
 *   fz_put      writes (or, for NULL, removes) one file under it */
#ifndef GPF_FUZZ_UTIL_H
#define GPF_FUZZ_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"

#define FZ_MAX_PARTS 16

typedef struct fz_parts {
    int n;                         /* parts present (an input without NUL has 1) */
    char *part[FZ_MAX_PARTS];      /* heap copies, NUL-terminated; "" past n */
    size_t len[FZ_MAX_PARTS];
} fz_parts;

/* At most max parts: the last one keeps any further NUL bytes (its len says how long). */
static inline void fz_split(const uint8_t *data, size_t size, int max, fz_parts *out)
{
    size_t at = 0;
    memset(out, 0, sizeof *out);
    if (max > FZ_MAX_PARTS)
        max = FZ_MAX_PARTS;
    for (int i = 0; i < max; i++) {
        size_t end = at, len = 0;
        if (at <= size) {
            if (i == max - 1)
                end = size;
            while (end < size && data[end] != 0)
                end++;
            len = end - at;
            out->n = i + 1;
        }
        out->part[i] = gpf_malloc(len + 1);
        if (len)
            memcpy(out->part[i], data + at, len);
        out->part[i][len] = '\0';
        out->len[i] = len;
        at = end + 1;
    }
}

static inline void fz_parts_free(fz_parts *p)
{
    for (int i = 0; i < FZ_MAX_PARTS; i++)
        gpf_free(p->part[i]);
    memset(p, 0, sizeof *p);
}

static char fz_dir[256];

static inline int fz_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static inline void fz_cleanup(void)
{
    if (fz_dir[0])
        nftw(fz_dir, fz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The scratch directory (made on first use; name tells the targets apart). */
static inline const char *fz_scratch(const char *name)
{
    if (fz_dir[0])
        return fz_dir;
    struct stat st;
    const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(fz_dir, sizeof fz_dir, "%s/gpf-fuzz-%s-%d", base, name, (int)getpid());
    if (mkdir(fz_dir, 0700) != 0 && errno != EEXIST)
        abort();
    atexit(fz_cleanup);
    return fz_dir;
}

/* Writes len bytes to path (made 0600, parents must exist); text NULL removes path. */
static inline void fz_put(const char *path, const char *text, size_t len)
{
    if (!text) {
        unlink(path);
        return;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        abort();
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n <= 0)
            abort();
        done += (size_t)n;
    }
    close(fd);
}

#endif
