/* libFuzzer target: what the CLI reads from the control plane's answers (src/cli). The
 * input is one JSON answer: a pod (GET /v1/pods/ID, the launch answer) or a list
 * ({"pods"|"skus"|"hosts"|"gpus"|"usage"|"users"|"images"|"events": [...]}).
 *  - each listed object's fields become table cells through the cell helpers the list
 *    and show commands use (gpf_cli_scalar, _time, _slice, _duration, _memory,
 *    gpf_cli_format_money); the rendered table must hold no control character but the
 *    line ends, one line per row (a server cannot write escape sequences to a terminal);
 *  - the pod's ssh endpoint through gpf_cli_ssh_argv (the destination and port can never
 *    be read by ssh as an option) and gpf_cli_ssh_line (one line);
 *  - its host key through gpf_cli_pod_known_host into a known_hosts file in a scratch
 *    directory, reset before each input: a written file holds whole lines only, one more
 *    than before at most (no line can be injected). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "fuzz_util.h"
#include "util/fileio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ITEMS 32
#define MAX_COLS 12

static const char KNOWN[] = "[10.0.0.7]:2201 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOv3b1m8Qdx9xJtq0wzS2dGm1Gm0r2JtB8m1m0Q3aaaa\n"
                            "pod.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOv3b1m8Qdx9xJtq0wzS2dGm1Gm0r2JtB8m1m0Q3bbbb\n";
static char known_path[300];

static void no_control(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] < 0x20 && s[i] != '\n') || s[i] == 0x7f)
            abort();
}

/* One row of up to MAX_COLS cells from an object's fields, as the list commands make them. */
static void item_row(gpf_table *t, const json_t *item)
{
    char cells[MAX_COLS][256];
    const char *row[MAX_COLS];
    const char *key;
    const json_t *v;
    int n = 0;
    for (int i = 0; i < MAX_COLS; i++)
        row[i] = NULL;
    json_object_foreach((json_t *)item, key, v) {
        if (n == MAX_COLS)
            break;
        char *c = cells[n];
        if (!strcmp(key, "slice"))
            gpf_cli_slice(v, c, sizeof cells[n]);
        else if (strstr(key, "_at"))
            gpf_cli_time(v, c, sizeof cells[n]);
        else if (strstr(key, "_ms") && json_is_integer(v))
            gpf_cli_duration((long long)json_integer_value(v), c, sizeof cells[n]);
        else if (strstr(key, "mib") && json_is_integer(v))
            gpf_cli_memory((long long)json_integer_value(v), c, sizeof cells[n]);
        else if (strstr(key, "micro") && json_is_integer(v))
            gpf_cli_format_money((int64_t)json_integer_value(v), c, sizeof cells[n]);
        else
            gpf_cli_scalar(v, c, sizeof cells[n]);
        row[n++] = c;
    }
    gpf_table_add(t, row);
}

static void table(const json_t *list)
{
    static const char *const hdr[MAX_COLS] = {"ID", "OWNER", "PROJECT", "SKU", "SLICE", "STATE",
                                              "HOST", "CREATED", "REASON", "A", "B", "C"};
    gpf_table t;
    gpf_buf out = {0};
    int rows = 1;
    gpf_table_init(&t, MAX_COLS, hdr);
    for (size_t i = 0; i < json_array_size(list) && i < MAX_ITEMS; i++)
        if (json_is_object(json_array_get(list, i))) {
            item_row(&t, json_array_get(list, i));
            rows++;
        }
    gpf_table_render(&t, &out);
    no_control(gpf_buf_cstr(&out), out.len);
    int lines = 0;
    for (size_t i = 0; i < out.len; i++)
        lines += out.data[i] == '\n';
    if (lines != rows)
        abort();
    gpf_buf_clear(&out);
    gpf_table_clear(&t);
}

static void ssh(const json_t *pod)
{
    static char *const cmd[] = {"nvidia-smi", "-L"};
    gpf_error err = {0};
    char **argv = NULL;
    for (int v = 0; v < 2; v++) {
        int rc = v == 0 ? gpf_cli_ssh_argv(pod, "/usr/bin/ssh", "/home/a/.ssh/id_ed25519", known_path,
                                           "/usr/bin/gpufleet", 2, cmd, &argv, &err)
                        : gpf_cli_ssh_argv(pod, NULL, NULL, NULL, NULL, 0, NULL, &argv, &err);
        if (rc == 0) {
            int n = 0, ncmd = v == 0 ? 2 : 0;
            while (argv[n])
                n++;
            const char *dest = argv[n - ncmd - 1];
            if (dest[0] == '-' || strchr(dest, '@') == NULL)
                abort();
            for (const char *c = dest; *c; c++)
                if ((unsigned char)*c <= 0x20 || *c == 0x7f)
                    abort();
            for (int i = 0; i + 1 < n - ncmd; i++)
                if (!strcmp(argv[i], "-p") && (argv[i + 1][0] < '1' || argv[i + 1][0] > '9' ||
                                               atol(argv[i + 1]) > 65535))
                    abort();
        } else if (argv != NULL) {
            abort();
        }
        gpf_cli_argv_free(argv);
        argv = NULL;
        gpf_error_clear(&err);
    }
    gpf_buf line = {0};
    if (gpf_cli_ssh_line(pod, "/home/a/.ssh/id_ed25519", known_path, &line) == 0 &&
        memchr(gpf_buf_cstr(&line), '\n', line.len))
        abort();
    gpf_buf_clear(&line);
}

static void known_host(const json_t *pod)
{
    char path[4096], *text = NULL;
    gpf_error err = {0};
    fz_put(known_path, KNOWN, sizeof KNOWN - 1);
    int rc = gpf_cli_pod_known_host(pod, path, sizeof path, &err);
    if (rc == 1) {
        size_t lines = 0, len = 0;
        if (strcmp(path, known_path) != 0 || gpf_read_file_raw(known_path, 1 << 20, &text, &len, &err) != 0)
            abort();
        for (size_t i = 0; i < len; i++)
            lines += text[i] == '\n';
        if (len == 0 || text[len - 1] != '\n' || lines > 3 || memchr(text, '\0', len))
            abort();
        gpf_free(text);
    }
    gpf_error_clear(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!known_path[0]) {
        const char *dir = fz_scratch("cli");
        char config[300];
        snprintf(config, sizeof config, "%s/config.json", dir);
        snprintf(known_path, sizeof known_path, "%s/known_hosts", dir);
        setenv("GPUFLEET_CONFIG", config, 1); /* known_hosts sits next to it */
    }
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data, size, 0, &jerr);
    if (!json_is_object(j)) {
        json_decref(j);
        return 0;
    }
    static const char *const lists[] = {"pods", "skus", "hosts", "gpus", "usage", "users", "images", "events"};
    int listed = 0;
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        const json_t *l = json_object_get(j, lists[i]);
        if (json_is_array(l)) {
            table(l);
            listed = 1;
        }
    }
    if (!listed) {
        json_t *one = json_array();
        json_array_append(one, j);
        table(one);
        json_decref(one);
        ssh(j);
        known_host(j);
    }
    json_decref(j);
    return 0;
}
