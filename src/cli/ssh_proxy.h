/* `ssh-proxy HOST PORT`, libc only (gpufleet-ssh-helper carries it too). */
#ifndef GPF_CLI_SSH_PROXY_H
#define GPF_CLI_SSH_PROXY_H

#include "util/error.h"

/* `ssh-proxy HOST PORT` (ssh's ProxyCommand with ProxyUseFdpass): connects to HOST:PORT
 * within timeout_ms, turns Nagle's algorithm off, and passes the socket over the unix
 * socket out_fd with SCM_RIGHTS. 0, GPF_EUNAVAIL (resolve/connect) or GPF_EIO. */
int gpf_cli_ssh_proxy(const char *host, const char *port, int out_fd, int timeout_ms, gpf_error *err);

#endif
