/* Test helper: see cli_fixture.h. */
#include "cli_fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/alloc.h"

gpf_test_http *cf_srv;
char cf_tmpdir[64], cf_url[64], cf_cfgpath[128];

char *cf_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *s = calloc(1, 1 << 20);
    assert_non_null(f);
    size_t n = fread(s, 1, (1 << 20) - 1, f);
    s[n] = '\0';
    fclose(f);
    return s;
}

void cf_run_free(struct cf_run *r)
{
    free(r->out);
    free(r->err);
}

struct cf_run cf_run_cli(const char *first, ...)
{
    struct cf_run r = {0};
    char *argv[40];
    int argc = 0;
    char po[160], pe[160];
    va_list ap;

    argv[argc++] = gpf_strdup("gpufleet");
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        assert_true(argc < 39);
        argv[argc++] = gpf_strdup(a);
    }
    va_end(ap);
    argv[argc] = NULL;
    snprintf(po, sizeof po, "%s/stdout", cf_tmpdir);
    snprintf(pe, sizeof pe, "%s/stderr", cf_tmpdir);
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600), fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(so >= 0 && se >= 0 && fo >= 0 && fe >= 0);
    dup2(fo, 1);
    dup2(fe, 2);
    close(fo);
    close(fe);
    r.rc = gpf_cli_main(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    for (int i = 0; i < argc; i++)
        gpf_free(argv[i]);
    r.out = cf_slurp(po);
    r.err = cf_slurp(pe);
    return r;
}

int cf_one_line(const char *s)
{
    const char *nl = strchr(s, '\n');
    return nl && nl[1] == '\0' && strncmp(s, "gpufleet: ", 10) == 0;
}

void cf_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

void cf_write_config(const char *token, const char *identity)
{
    char text[512], dir[160];
    snprintf(dir, sizeof dir, "%s/cfg", cf_tmpdir);
    mkdir(dir, 0700);
    snprintf(text, sizeof text,
             "{\"server\":\"%s\",\"token\":\"%s\",\"user\":\"alice\",\"identity_file\":\"%s\"}\n",
             cf_url, token, identity);
    cf_write_file(cf_cfgpath, text);
}

int cf_setup(void **state)
{
    (void)state;
    snprintf(cf_tmpdir, sizeof cf_tmpdir, "/tmp/gpf-cli-XXXXXX");
    assert_non_null(mkdtemp(cf_tmpdir));
    snprintf(cf_cfgpath, sizeof cf_cfgpath, "%s/cfg/config.json", cf_tmpdir);
    setenv("GPUFLEET_CONFIG", cf_cfgpath, 1);
    unsetenv("GPUFLEET_SERVER");
    unsetenv("GPUFLEET_TOKEN");
    cf_srv = gpf_test_http_start();
    snprintf(cf_url, sizeof cf_url, "http://127.0.0.1:%d", gpf_test_http_port(cf_srv));
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int cf_teardown(void **state)
{
    (void)state;
    gpf_test_http_stop(cf_srv);
    cf_srv = NULL;
    nftw(cf_tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}
