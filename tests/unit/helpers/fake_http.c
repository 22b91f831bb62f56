/* Test helper: the fake HTTP server (see fake_http.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fake_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct gpf_test_http {
    int lfd, port;
    pthread_t th;
    atomic_int stop;
    pthread_mutex_t mu; /* guards routes, nroutes, reqs, nreqs */
    gpf_test_route routes[GPF_TEST_HTTP_ROUTES];
    int nroutes;
    gpf_test_req reqs[GPF_TEST_HTTP_REQS];
    int nreqs;
};

static void header_value(const char *head, const char *name, char *out, size_t size)
{
    size_t n = strlen(name);
    out[0] = '\0';
    for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1, *e = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            snprintf(out, size, "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
            return;
        }
    }
}

/* Exact match, or a prefix match when the route ends with '*'. */
static int route_match(const char *route, const char *path)
{
    size_t n = strlen(route);
    if (n && route[n - 1] == '*')
        return strncmp(route, path, n - 1) == 0;
    return strcmp(route, path) == 0;
}

/* Records r (taking ownership of r->body) and copies the route that answers it into *out.
 * Returns 0 when no route matches. */
static int record_and_route(gpf_test_http *f, const gpf_test_req *r, gpf_test_route *out)
{
    int found = 0;
    pthread_mutex_lock(&f->mu);
    if (f->nreqs < GPF_TEST_HTTP_REQS)
        f->reqs[f->nreqs++] = *r;
    else
        free(r->body);
    for (int i = 0; i < f->nroutes && !found; i++) {
        gpf_test_route *rt = &f->routes[i];
        if (strcmp(rt->method, r->method) == 0 && route_match(rt->path, r->path) &&
            rt->uses >= 0) {
            *out = *rt;
            found = 1;
            if (rt->uses > 0 && --rt->uses == 0)
                rt->uses = -1;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return found;
}

static void serve_one(gpf_test_http *f, int fd)
{
    char head[65536], cl[32], out[512];
    size_t len = 0, blen, have;
    char *end = NULL;
    gpf_test_req r;
    gpf_test_route rt = {0};
    static const char notfound[] = "{\"error\":{\"code\":\"not_found\",\"message\":\"no route\"}}";

    memset(&r, 0, sizeof r);
    while (len < sizeof head - 1 && !end) {
        ssize_t n = recv(fd, head + len, sizeof head - 1 - len, 0);
        if (n <= 0)
            return;
        len += (size_t)n;
        head[len] = '\0';
        end = strstr(head, "\r\n\r\n");
    }
    if (!end)
        return;
    sscanf(head, "%15s %511s", r.method, r.path);
    header_value(head, "Authorization", r.auth, sizeof r.auth);
    header_value(head, "Content-Type", r.ctype, sizeof r.ctype);
    header_value(head, "Content-Length", cl, sizeof cl);
    blen = (size_t)strtoul(cl, NULL, 10);
    r.body = calloc(1, blen + 1);
    have = len - (size_t)(end + 4 - head);
    memcpy(r.body, end + 4, have < blen ? have : blen);
    while (have < blen) {
        ssize_t n = recv(fd, r.body + have, blen - have, 0);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    if (!record_and_route(f, &r, &rt)) {
        rt.status = 404;
        rt.body = notfound;
    }
    size_t rlen = rt.body_len ? rt.body_len : rt.body ? strlen(rt.body) : 0;
    /* the delay in short steps, so that stopping the server does not wait it out */
    for (int waited = 0; waited < rt.delay_ms && !atomic_load(&f->stop); waited += 10)
        usleep(10 * 1000);
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n", rt.status, rlen);
    send(fd, out, (size_t)n, MSG_NOSIGNAL);
    for (size_t off = 0; off < rlen;) {
        ssize_t k = send(fd, rt.body + off, rlen - off, MSG_NOSIGNAL);
        if (k <= 0)
            break;
        off += (size_t)k;
    }
}

static void *server_main(void *arg)
{
    gpf_test_http *f = arg;
    while (!atomic_load(&f->stop)) {
        struct pollfd p = {.fd = f->lfd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        serve_one(f, fd);
        close(fd);
    }
    return NULL;
}

int gpf_test_bind_local(int *port, int lst)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    if (lst)
        assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

gpf_test_http *gpf_test_http_start(void)
{
    gpf_test_http *f = calloc(1, sizeof *f);
    assert_non_null(f);
    pthread_mutex_init(&f->mu, NULL);
    f->lfd = gpf_test_bind_local(&f->port, 1);
    assert_int_equal(pthread_create(&f->th, NULL, server_main, f), 0);
    return f;
}

int gpf_test_http_port(const gpf_test_http *f)
{
    return f->port;
}

void gpf_test_http_route(gpf_test_http *f, gpf_test_route r)
{
    pthread_mutex_lock(&f->mu);
    assert_true(f->nroutes < GPF_TEST_HTTP_ROUTES);
    f->routes[f->nroutes++] = r;
    pthread_mutex_unlock(&f->mu);
}

/* Taking the lock orders the caller's reads after the server thread's write. */
const gpf_test_req *gpf_test_http_req(gpf_test_http *f, int i)
{
    pthread_mutex_lock(&f->mu);
    assert_true(i < f->nreqs);
    const gpf_test_req *r = &f->reqs[i];
    pthread_mutex_unlock(&f->mu);
    return r;
}

int gpf_test_http_nreqs(gpf_test_http *f)
{
    pthread_mutex_lock(&f->mu);
    int n = f->nreqs;
    pthread_mutex_unlock(&f->mu);
    return n;
}

void gpf_test_http_stop(gpf_test_http *f)
{
    if (!f)
        return;
    atomic_store(&f->stop, 1);
    pthread_join(f->th, NULL);
    close(f->lfd);
    for (int i = 0; i < f->nreqs; i++)
        free(f->reqs[i].body);
    pthread_mutex_destroy(&f->mu);
    free(f);
}
