/* The connecting half of pod SSH (`ssh-proxy`): connect with TCP_NODELAY and hand the
 * socket to ssh (ProxyUseFdpass). Needs nothing but libc, so the small
 * gpufleet-ssh-helper carries it as well as gpufleet. */
#include "cli/ssh_proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Connects to one address within timeout_ms; the socket or -1 with errno set. */
static int connect_one(const struct addrinfo *ai, int timeout_ms)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int soerr = 0, r;
        socklen_t sl = sizeof soerr;
        if (errno != EINPROGRESS)
            goto fail;
        do
            r = poll(&p, 1, timeout_ms);
        while (r < 0 && errno == EINTR);
        if (r == 0)
            errno = ETIMEDOUT;
        if (r != 1)
            goto fail;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
            goto fail;
        if (soerr != 0) {
            errno = soerr;
            goto fail;
        }
    }
    return fd;
fail:;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

int gpf_cli_ssh_proxy(const char *host, const char *port, int out_fd, int timeout_ms, gpf_error *err)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res = NULL;
    int fd = -1, e = 0, one = 1, rc;
    char ebuf[128];
    if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
        return gpf_error_set(err, GPF_EUNAVAIL, "cannot resolve %s port %s: %s", host, port, gai_strerror(rc));
    for (const struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = connect_one(ai, timeout_ms);
        e = errno;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return gpf_error_set(err, GPF_EUNAVAIL, "cannot connect to %s port %s: %s", host, port,
                             strerror_r(e, ebuf, sizeof ebuf));
    /* The point of the proxy: ssh turns Nagle off only once a session is open, so every
     * handshake step that writes twice waits for a delayed ACK (~40 ms each on Linux). */
    rc = 0;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
        rc = gpf_error_set(err, GPF_EIO, "cannot set socket options: %s", strerror_r(errno, ebuf, sizeof ebuf));
        goto out;
    }
    char byte = 0, ctl[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
    memset(ctl, 0, sizeof ctl);
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    ssize_t w;
    do
        w = sendmsg(out_fd, &msg, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w != 1)
        rc = gpf_error_set(err, GPF_EIO, "cannot pass the connection to ssh (is stdout the ProxyUseFdpass socket?): %s",
                           strerror_r(errno, ebuf, sizeof ebuf));
out:
    close(fd);
    return rc;
}
