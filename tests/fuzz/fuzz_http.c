/* libFuzzer target: what the control plane parses before it knows who is asking. The
 * router, path-segment splitting and decoding, query strings (?wait=…&timeout_ms=…&all=1),
 * Authorization and Content-Length headers live in api/server.c behind libmicrohttpd and
 * are static there, so the input is sent as raw bytes (a request, or several) to a real
 * API server on a loopback port, backed by an engine on an in-memory store. Nobody holds
 * a token (the admin's and the join token are random), so only the unauthenticated paths
 * run: every answer must be an HTTP status line, and never a 500. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api.h"
#include "catalog/catalog.h"
#include "engine/engine.h"
#include "store/store.h"
#include "util/datafile.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gpf_api *api;
static int port;

static void start(void)
{
    gpf_error err = {0};
    gpf_catalog *cat = NULL;
    gpf_store *store = NULL;
    gpf_engine *engine = NULL;
    gpf_data_dir src = {NULL, GPF_CATALOG_BUILTIN};
    gpf_log_set_level(GPF_LOG_OFF);
    if (gpf_catalog_load(gpf_data_file_reader, &src, &cat, &err) != 0 || gpf_store_open(":memory:", &store, &err) != 0) {
        fprintf(stderr, "fuzz_http: %s\n", gpf_error_msg(&err));
        abort();
    }
    gpf_engine_config ec = {0};
    ec.store = store;
    ec.catalog = cat;
    if (gpf_engine_open(&ec, &engine, &err) != 0) {
        fprintf(stderr, "fuzz_http: %s\n", gpf_error_msg(&err));
        abort();
    }
    gpf_api_config ac = {0};
    ac.engine = engine;
    ac.bind_address = "127.0.0.1";
    ac.version = "fuzz";
    if (gpf_api_start(&ac, &api, &err) != 0) {
        fprintf(stderr, "fuzz_http: %s\n", gpf_error_msg(&err));
        abort();
    }
    port = gpf_api_port(api);
    /* the server, engine, store and catalog live until the process ends */
}

/* Sends the input, closes the sending side, reads the answer until the server closes. */
static void exchange(const uint8_t *data, size_t size, char *ans, size_t cap, size_t *len)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *len = 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0)
        abort();
    size_t done = 0;
    while (done < size) {
        ssize_t n = send(fd, data + done, size - done, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server may answer and close before reading everything */
        done += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 5000) <= 0) {
            fprintf(stderr, "fuzz_http: no answer within 5 s\n");
            abort();
        }
        char tmp[4096];
        ssize_t n = recv(fd, tmp, sizeof tmp, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t take = (size_t)n < cap - *len ? (size_t)n : cap - *len;
        memcpy(ans + *len, tmp, take);
        *len += take;
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char ans[1 << 16];
    size_t len = 0;
    if (!api)
        start();
    if (size > 16384)
        return 0;
    exchange(data, size, ans, sizeof ans - 1, &len);
    ans[len] = '\0';
    /* every answer on the connection: a status line, never a 500 */
    for (const char *p = ans; (p = strstr(p, "HTTP/1.")) != NULL; p += 7) {
        if (p[8] != ' ')
            continue;
        if (!strncmp(p + 9, "500", 3)) {
            fprintf(stderr, "fuzz_http: the server answered 500:\n%s\n", ans);
            abort();
        }
    }
    if (len && strncmp(ans, "HTTP/1.", 7) != 0) {
        fprintf(stderr, "fuzz_http: not an HTTP answer:\n%s\n", ans);
        abort();
    }
    return 0;
}
