/* Test helper: a small HTTP/1.1 server in a thread on 127.0.0.1:<free port> that answers
 * with canned responses chosen by method + path and records every request it reads.
 * One connection per request ("Connection: close"); unmatched requests get a 404 with a
 * not_found error body. All functions may be called while the server thread runs. */
#ifndef GPF_TEST_FAKE_HTTP_H
#define GPF_TEST_FAKE_HTTP_H

#include <stddef.h>

#define GPF_TEST_HTTP_ROUTES 16
#define GPF_TEST_HTTP_REQS 32 /* requests beyond this are answered but not recorded */

typedef struct gpf_test_route {
    const char *method, *path; /* exact (query included), or a prefix ending in '*' */
    int status;
    const char *body;          /* NULL: empty body; must stay valid until _stop returns */
    size_t body_len;           /* 0: strlen(body) */
    int delay_ms;              /* sleep before answering (cut short when the server stops) */
    int uses;                  /* answers this many requests, then is skipped; 0: forever */
} gpf_test_route;

typedef struct gpf_test_req {
    char method[16];
    char path[512];
    char auth[256];            /* Authorization header, "" when absent */
    char ctype[128];           /* Content-Type header, "" when absent */
    char *body;                /* "" when there was none */
} gpf_test_req;

typedef struct gpf_test_http gpf_test_http;

/* Starts the server (fails the test when it cannot). Stop with gpf_test_http_stop. */
gpf_test_http *gpf_test_http_start(void);
/* Stops the thread, then frees the server and its recorded requests. A route body may be
 * freed only after this returns: the thread can still be sending an answer that the
 * client under test has already given up on. */
void gpf_test_http_stop(gpf_test_http *f);
int gpf_test_http_port(const gpf_test_http *f);
/* Adds a route; the first matching route with uses left answers. */
void gpf_test_http_route(gpf_test_http *f, gpf_test_route r);
/* Number of requests recorded so far, and request i (0-based; fails the test when i is out
 * of range). A recorded request never changes afterwards. */
int gpf_test_http_nreqs(gpf_test_http *f);
const gpf_test_req *gpf_test_http_req(gpf_test_http *f, int i);

/* Binds a TCP socket to 127.0.0.1:0 (and listens when lst). Returns the fd, fills *port. */
int gpf_test_bind_local(int *port, int lst);

#endif
