/* `gpufleet pod-init`: accepts a pod's SSH connections and runs sshd -i on each (see
 * podinit.h for why). Small on purpose: it runs in every pod for the pod's lifetime. */
#include "agent/podinit.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_MAX_CONNS 64

static volatile sig_atomic_t g_stop;

static void on_stop(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void on_child(int sig)
{
    (void)sig; /* only interrupts poll(): the loop reaps */
}

static int usage(const char *why)
{
    fprintf(stderr,
            "gpufleet pod-init: %s\n"
            "usage: gpufleet pod-init --fd N --sshd PATH --config FILE [--max-conns K]\n"
            "(started by the agent as a pod's root process; not for interactive use)\n",
            why);
    return 2;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* One connection: sshd in inetd mode on it. */
static pid_t serve_conn(int conn, const char *sshd, const char *config)
{
    int one = 1;
    setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* not TCP (a test's socket pair): harmless */
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    signal(SIGCHLD, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    if (dup2(conn, 0) < 0 || dup2(conn, 1) < 0)
        _exit(127);
    char *argv[] = {(char *)sshd, "-i", "-e", "-f", (char *)config, NULL};
    execv(sshd, argv);
    fprintf(stderr, "gpufleet pod-init: cannot run %s: %s\n", sshd, strerror(errno));
    _exit(127);
}

int gpf_pod_init_main(int argc, char **argv)
{
    int fd = -1, max = DEFAULT_MAX_CONNS;
    const char *sshd = NULL, *config = NULL;
    for (int i = 0; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--fd") && parse_int(v, 0, 1 << 20, &fd) == 0)
            i++;
        else if (!strcmp(argv[i], "--max-conns") && parse_int(v, 1, 100000, &max) == 0)
            i++;
        else if (!strcmp(argv[i], "--sshd") && v)
            sshd = argv[++i];
        else if (!strcmp(argv[i], "--config") && v)
            config = argv[++i];
        else
            return usage("bad or incomplete option");
    }
    if (fd < 0 || !sshd || sshd[0] != '/' || !config)
        return usage("--fd, --sshd (an absolute path) and --config are required");
    int listening = 0;
    socklen_t len = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) {
        fprintf(stderr, "gpufleet pod-init: descriptor %d is not a listening socket\n", fd);
        return 1;
    }
    /* Connections never see it; poll() says when one waits, accept() never blocks. */
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
        fprintf(stderr, "gpufleet pod-init: descriptor %d: %s\n", fd, strerror(errno));
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_child; /* no SA_RESTART: a child's end wakes poll() */
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* In a container this is the first process: sshd's privilege separation directory is
     * on the pod's fresh /run (as root elsewhere it exists already; not root: no matter). */
    if (mkdir("/run/sshd", 0755) != 0 && errno != EEXIST && errno != EACCES && errno != EROFS)
        fprintf(stderr, "gpufleet pod-init: /run/sshd: %s\n", strerror(errno));
    fprintf(stderr, GPF_PODINIT_READY " (at most %d at once)\n", max);
    int live = 0;
    while (!g_stop) {
        while (waitpid(-1, NULL, WNOHANG) > 0) /* in a container, orphans come here too */
            live = live > 0 ? live - 1 : 0;
        struct pollfd p = {fd, POLLIN, 0};
        /* At the limit, only a child's end (or the 1 s tick) lets the next one in. */
        int n = poll(live < max ? &p : NULL, live < max ? 1 : 0, 1000);
        if (n <= 0 || !(p.revents & POLLIN))
            continue;
        int conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                fprintf(stderr, "gpufleet pod-init: accept: %s\n", strerror(errno));
                poll(NULL, 0, 100);
            }
            continue; /* EAGAIN, EINTR, ECONNABORTED: nothing to do */
        }
        pid_t pid = serve_conn(conn, sshd, config);
        close(conn);
        if (pid > 0)
            live++;
        else
            fprintf(stderr, "gpufleet pod-init: fork: %s\n", strerror(errno));
    }
    return 0;
}
