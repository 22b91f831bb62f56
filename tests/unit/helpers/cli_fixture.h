/* Test helper: runs whole CLI commands (gpf_cli_main) against the fake HTTP server
 * (fake_http.h) with stdout and stderr captured into files of a temp directory whose
 * cfg/config.json is GPUFLEET_CONFIG. Used with cmocka: cf_setup/cf_teardown are setup and
 * teardown functions; the globals are valid between them. */
#ifndef GPF_TEST_CLI_FIXTURE_H
#define GPF_TEST_CLI_FIXTURE_H

#include "fake_http.h"

extern gpf_test_http *cf_srv;
extern char cf_tmpdir[64], cf_url[64], cf_cfgpath[128];

/* What a command did: its exit code and its output (heap; cf_run_free). */
struct cf_run {
    int rc;
    char *out, *err;
};

/* Runs `gpufleet ARGS...` (NULL-terminated). */
struct cf_run cf_run_cli(const char *first, ...);
void cf_run_free(struct cf_run *r);
/* 1 when s is one line "gpufleet: ...\n". */
int cf_one_line(const char *s);
void cf_write_file(const char *path, const char *text);
/* Writes the config file: server = the fake server, token, user alice, identity_file. */
void cf_write_config(const char *token, const char *identity);
/* The whole file at path (heap, free()); fails the test when it cannot be read. */
char *cf_slurp(const char *path);

int cf_setup(void **state);
int cf_teardown(void **state);

#define CF_ROUTE(m, p, st, b)                                                                 \
    gpf_test_http_route(cf_srv, (gpf_test_route){.method = (m), .path = (p), .status = (st), .body = (b)})

#endif
