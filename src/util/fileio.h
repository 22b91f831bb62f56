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

/* Reads a regular file of at most max bytes as it is (no trimming: for content that is
 * hashed) into a heap buffer (gpf_free) of *len bytes plus a NUL. GPF_ENOTFOUND when it does
 * not exist, GPF_EINVAL when it is not a regular file or is larger, GPF_EIO otherwise. */
int gpf_read_file_raw(const char *path, size_t max, char **data, size_t *len, gpf_error *err);
/* This program's own path (/proc/self/exe) in buf, or fallback when it cannot be read. */
const char *gpf_self_exe(char *buf, size_t size, const char *fallback);

/* The helper binary beside gpufleet (src/ssh_helper.c): `pod-init` (a pod's root process)
 * and `ssh-proxy` without gpufleet's libraries, so each starts in about 1 ms of CPU
 * instead of about 7 (gpufleet loads 37 shared libraries). */
#define GPF_SSH_HELPER "gpufleet-ssh-helper"

/* GPF_SSH_HELPER in the directory of exe (a program's path) when it is there and
 * executable, else exe: the program to run `pod-init` and `ssh-proxy` with. */
const char *gpf_ssh_helper_path(const char *exe, char *buf, size_t size);

#endif
