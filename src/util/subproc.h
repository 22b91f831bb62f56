/* Running a helper program (skopeo, runc, umoci, ssh-keygen, a script) to completion: its
 * own process group, stdin /dev/null, no descriptor of the caller's but those, stdout and
 * stderr captured, a deadline and a way to cancel it. The control plane and the agent both
 * use it. (Pods themselves, which outlive the agent, are started by
 * gpf_rtsys_spawn_detached, src/agent/runtime_int.h.) */
#ifndef GPF_UTIL_SUBPROC_H
#define GPF_UTIL_SUBPROC_H

#include <stddef.h>

#include "util/error.h"

/* Asked every ~100 ms while the program runs: non-zero kills it (GPF_EUNAVAIL). */
typedef int (*gpf_subproc_cancel_fn)(void *ctx);

/* Runs argv (argv[0] absolute, or searched in PATH; the caller's environment) and waits
 * for it. out receives stdout and stderr interleaved, NUL-terminated, truncated to size
 * (the beginning is kept; may be NULL). timeout_ms > 0 bounds the run: past it the whole
 * process group is killed (SIGKILL) and GPF_ETIMEOUT returned. Returns 0 and sets
 * *exit_code (the exit status, or 128 + signal when it died of one), or GPF_ENOTFOUND when
 * argv[0] cannot be found or run, GPF_EIO when it could not be started. */
int gpf_subproc_run(char *const argv[], int timeout_ms, gpf_subproc_cancel_fn cancel, void *cancel_ctx, char *out,
                    size_t size, int *exit_code, gpf_error *err);

/* The same with envp as the program's environment (NULL: the caller's). */
int gpf_subproc_run_env(char *const argv[], char *const envp[], int timeout_ms, gpf_subproc_cancel_fn cancel,
                        void *cancel_ctx, char *out, size_t size, int *exit_code, gpf_error *err);

/* The absolute path of program: itself when it contains a '/', else the first executable
 * file of that name in $PATH (default "/usr/local/bin:/usr/bin:/bin"). GPF_ENOTFOUND when
 * there is none. */
int gpf_subproc_which(const char *program, char *out, size_t size, gpf_error *err);

#endif
