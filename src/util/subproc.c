/* gpf_subproc_run: see subproc.h. */
#include "util/subproc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/timeutil.h"

extern char **environ;

int gpf_subproc_which(const char *program, char *out, size_t size, gpf_error *err)
{
    struct stat st;
    if (!program || !*program)
        return gpf_error_set(err, GPF_EINVAL, "no program named");
    if (strchr(program, '/')) {
        if (stat(program, &st) != 0 || !S_ISREG(st.st_mode) || access(program, X_OK) != 0)
            return gpf_error_set(err, GPF_ENOTFOUND, "%s: not an executable file", program);
        if (gpf_strlcpy(out, program, size) < size)
            return 0;
        return gpf_error_set(err, GPF_EINVAL, "%s: path too long", program);
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, ":");
        int w = snprintf(out, size, "%.*s/%s", (int)n, n ? p : ".", program);
        if (w > 0 && (size_t)w < size && stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
            return 0;
        p += n;
        if (*p == ':')
            p++;
    }
    if (size)
        out[0] = '\0';
    return gpf_error_set(err, GPF_ENOTFOUND, "%s not found in PATH", program);
}

/* Reads what is there into out[*len..size-1) (the rest is drained); 0 at end of file. */
static ssize_t drain(int fd, char *out, size_t size, size_t *len)
{
    char chunk[4096];
    ssize_t r = read(fd, chunk, sizeof chunk);
    if (r > 0 && out && size > *len + 1) {
        size_t take = (size_t)r < size - 1 - *len ? (size_t)r : size - 1 - *len;
        memcpy(out + *len, chunk, take);
        *len += take;
        out[*len] = '\0';
    }
    return r;
}

int gpf_subproc_run(char *const argv[], int timeout_ms, gpf_subproc_cancel_fn cancel, void *cancel_ctx, char *out,
                    size_t size, int *exit_code, gpf_error *err)
{
    return gpf_subproc_run_env(argv, NULL, timeout_ms, cancel, cancel_ctx, out, size, exit_code, err);
}

int gpf_subproc_run_env(char *const argv[], char *const envp[], int timeout_ms, gpf_subproc_cancel_fn cancel,
                        void *cancel_ctx, char *out, size_t size, int *exit_code, gpf_error *err)
{
    int rc = 0, pipefd[2] = {-1, -1}, status = 0, open_pipe = 1, reaped = 0, idle = 0;
    pid_t pid = -1;
    size_t len = 0;
    char exe[1024];
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;

    if (out && size)
        out[0] = '\0';
    if (!argv || !argv[0]) {
        rc = gpf_error_set(err, GPF_EINVAL, "no program to run");
        goto out;
    }
    if ((rc = gpf_subproc_which(argv[0], exe, sizeof exe, err)) != 0)
        goto out;
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        rc = gpf_error_set(err, GPF_EIO, "pipe: %s", strerror(errno));
        goto out;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* descriptors other code left inheritable */
#endif
    posix_spawnattr_init(&at);
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setpgroup(&at, 0); /* its own group: a timeout kills what it started too */
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    int e = posix_spawn(&pid, exe, &fa, &at, argv, envp ? envp : environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(pipefd[1]);
    pipefd[1] = -1;
    if (e != 0) {
        pid = -1;
        rc = gpf_error_set(err, GPF_EIO, "cannot run %s: %s", exe, strerror(e));
        goto out;
    }
    int64_t deadline = timeout_ms > 0 ? gpf_mono_ms() + timeout_ms : 0;
    while (!reaped) {
        if (deadline && gpf_mono_ms() >= deadline) {
            rc = gpf_error_set(err, GPF_ETIMEOUT, "%s did not finish within %d s", argv[0], (timeout_ms + 999) / 1000);
            break;
        }
        if (cancel && cancel(cancel_ctx)) {
            rc = gpf_error_set(err, GPF_EUNAVAIL, "%s was stopped (shutting down)", argv[0]);
            break;
        }
        if (open_pipe) {
            struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
            if (poll(&p, 1, 100) > 0) {
                ssize_t r = drain(pipefd[0], out, size, &len);
                if (r == 0 || (r < 0 && errno != EINTR))
                    open_pipe = 0; /* end of output: only the exit is left to wait for */
            }
        } else {
            gpf_sleep_ms(idle < 5 ? 1 : 20); /* output ended: the exit follows at once, as a rule */
            idle++;
        }
        if (waitpid(pid, &status, WNOHANG) == pid)
            reaped = 1;
    }
    if (!reaped) {
        kill(-pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    /* what is left in the pipe; a process it started may hold the pipe open: never block */
    for (struct pollfd p = {.fd = pipefd[0], .events = POLLIN}; open_pipe && poll(&p, 1, 0) > 0;)
        open_pipe = drain(pipefd[0], out, size, &len) > 0;
    if (rc == 0 && exit_code)
        *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
out:
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    return rc;
}
