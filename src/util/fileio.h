/* Small file helpers shared by the CLI, the daemons and the benchmarks. */
#ifndef GPF_UTIL_FILEIO_H
#define GPF_UTIL_FILEIO_H

#include <stddef.h>

#include "util/error.h"

/* Reads a regular file of at most max bytes into a NUL-terminated heap string (free with
 * gpf_free), trailing white space removed. GPF_ENOTFOUND when it does not exist, GPF_EINVAL
 * when it is not a regular file, GPF_ETOOLARGE past max, GPF_EIO otherwise; messages start
 * with the path. */
int gpf_read_file(const char *path, size_t max, char **out, gpf_error *err);

/* This program's own path (/proc/self/exe) in buf, or fallback when it cannot be read. */
const char *gpf_self_exe(char *buf, size_t size, const char *fallback);

#endif
