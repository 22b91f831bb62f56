/* The declarative configuration table: defaults < file < environment < flags. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/config.h"

typedef struct cfg {
    char name[16];
    long long port;
    int on;
    char token[32];
} cfg;

#define OPT(...) GPF_CFG_OPT(cfg, __VA_ARGS__)
static const gpf_cfg_opt opts[] = {
    OPT("name", GPF_CFG_STR, "alpha", 0, 0, name, "a name"),
    OPT("port", GPF_CFG_INT, "8470", 1, 65535, port, "a port"),
    OPT("on", GPF_CFG_BOOL, "false", 0, 0, on, "a switch"),
    OPT("join-token", GPF_CFG_STR, "", 0, 0, token, "a secret"),
    GPF_CFG_END,
};

static int load(cfg *c, int argc, char **argv, gpf_error *err)
{
    int dump = 0, help = 0;
    memset(c, 0, sizeof *c);
    return gpf_config_load(opts, c, argc, argv, &dump, &help, err);
}

static void test_defaults_and_flags(void **state)
{
    (void)state;
    cfg c;
    gpf_error err = {0};
    unsetenv("GPUFLEET_PORT");
    assert_int_equal(load(&c, 0, NULL, &err), 0);
    assert_string_equal(c.name, "alpha");
    assert_int_equal(c.port, 8470);
    assert_int_equal(c.on, 0);
    char *argv[] = {"--name", "beta", "--port=9000", "--on"};
    assert_int_equal(load(&c, 4, argv, &err), 0);
    assert_string_equal(c.name, "beta");
    assert_int_equal(c.port, 9000);
    assert_int_equal(c.on, 1);
    char *argv2[] = {"--on", "--no-on"};
    assert_int_equal(load(&c, 2, argv2, &err), 0);
    assert_int_equal(c.on, 0);
}

static void test_precedence_file_env_flag(void **state)
{
    (void)state;
    char path[] = "/tmp/gpf-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "# comment\nname = fromfile\nport = 1000\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    cfg c;
    gpf_error err = {0};
    setenv("GPUFLEET_PORT", "2000", 1);
    char *argv[] = {"--config", path};
    assert_int_equal(load(&c, 2, argv, &err), 0);
    assert_string_equal(c.name, "fromfile");
    assert_int_equal(c.port, 2000); /* environment beats the file */
    char *argv2[] = {"--config", path, "--port", "3000"};
    assert_int_equal(load(&c, 4, argv2, &err), 0);
    assert_int_equal(c.port, 3000); /* flags beat the environment */
    unsetenv("GPUFLEET_PORT");
    unlink(path);
}

static void test_errors(void **state)
{
    (void)state;
    cfg c;
    gpf_error err = {0};
    char *a1[] = {"--port", "70000"};
    assert_int_equal(load(&c, 2, a1, &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "1..65535"));
    char *a2[] = {"--nope"};
    assert_int_equal(load(&c, 1, a2, &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "--nope"));
    char *a3[] = {"--name", "waytoolongforsixteenbytes"};
    assert_int_equal(load(&c, 2, a3, &err), GPF_EINVAL);
    char *a4[] = {"--port"};
    assert_int_equal(load(&c, 1, a4, &err), GPF_EINVAL);
    char *a5[] = {"positional"};
    assert_int_equal(load(&c, 1, a5, &err), GPF_EINVAL);
    char *a6[] = {"--config", "/nonexistent/gpufleet.conf"};
    assert_int_equal(load(&c, 2, a6, &err), GPF_EIO);
}

/* A line longer than the reader's buffer is refused, never cut: its tail is no setting. */
static void test_long_line(void **state)
{
    (void)state;
    char path[] = "/tmp/gpf-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char text[1100];
    memset(text, 'x', 1021);
    memcpy(text, "# ", 2);
    snprintf(text + 1021, sizeof text - 1021, "port = 1234\n");
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    cfg c;
    gpf_error err = {0};
    unsetenv("GPUFLEET_PORT");
    char *argv[] = {"--config", path};
    assert_int_equal(load(&c, 2, argv, &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, ":1: line longer than"));
    unlink(path);
}

static void test_dump_hides_secrets(void **state)
{
    (void)state;
    cfg c;
    gpf_error err = {0};
    char *argv[] = {"--join-token", "gpfjoin_secret"};
    assert_int_equal(load(&c, 2, argv, &err), 0);
    gpf_buf b = {0};
    gpf_config_dump(opts, &c, &b);
    assert_null(strstr(gpf_buf_cstr(&b), "gpfjoin_secret"));
    assert_non_null(strstr(gpf_buf_cstr(&b), "port = 8470"));
    gpf_buf_clear(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_flags),
        cmocka_unit_test(test_precedence_file_env_flag),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_dump_hides_secrets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
