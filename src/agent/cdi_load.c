/* CDI spec directories and the fake spec generator (agent/cdi.h), on top of
 * gpf_cdi_add_spec (cdi.c). */
#include "agent/cdi.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"

#define DIR_SCAN_MAX 4096      /* spec file names looked at per directory */
#define FAKE_MAX_GPUS 256
#define FAKE_KIND "nvidia.com/gpu"
#define FAKE_LIB_TARGET "/usr/lib/x86_64-linux-gnu/libcuda.so.1"

/* Control characters become '?': one warning per line. */
static void sanitize(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

/* ---- loading from directories -------------------------------------------------------- */

static void warn(gpf_buf *warnings, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(gpf_buf *warnings, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    if (!warnings)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    sanitize(line);
    gpf_buf_printf(warnings, "%s\n", line);
}

/* 0 JSON, 1 YAML, -1 not a spec file name. */
static int spec_ext(const char *name)
{
    size_t n = strlen(name);
    if (n > 5 && strcmp(name + n - 5, ".json") == 0)
        return 0;
    if ((n > 5 && strcmp(name + n - 5, ".yaml") == 0) || (n > 4 && strcmp(name + n - 4, ".yml") == 0))
        return 1;
    return -1;
}

/* A regular file of at most GPF_CDI_FILE_MAX bytes (a FIFO does not block the open). */
static int read_spec(const char *path, char **text, size_t *len, gpf_error *err)
{
    int rc = 0, fd = -1;
    struct stat st;
    gpf_buf b = {0};
    char chunk[8192];
    ssize_t n;

    *text = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = gpf_error_set(err, GPF_EIO, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > GPF_CDI_FILE_MAX) {
        rc = gpf_error_set(err, GPF_EIO, "%s: not a regular file of at most %d bytes", path, GPF_CDI_FILE_MAX);
        goto out;
    }
    while ((n = read(fd, chunk, sizeof chunk)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = gpf_error_set(err, GPF_EIO, "%s: %s", path, strerror(errno));
            goto out;
        }
        if (b.len + (size_t)n > GPF_CDI_FILE_MAX) {
            rc = gpf_error_set(err, GPF_EIO, "%s: larger than %d bytes", path, GPF_CDI_FILE_MAX);
            goto out;
        }
        gpf_buf_append(&b, chunk, (size_t)n);
    }
    *len = b.len;
    *text = gpf_buf_steal(&b);
out:
    if (fd >= 0)
        close(fd);
    gpf_buf_clear(&b);
    return rc;
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int load_dir(gpf_cdi *c, const char *dir, gpf_buf *warnings, gpf_error *err)
{
    int rc = 0, n = 0, over = 0;
    DIR *d = NULL;
    struct dirent *e;
    char **names = NULL, *text = NULL, path[PATH_MAX];
    size_t len = 0;
    gpf_error e2 = {0};

    if (!(d = opendir(dir))) {
        if (errno != ENOENT)
            rc = gpf_error_set(err, GPF_EIO, "cdi: %s: %s", dir, strerror(errno));
        goto out;
    }
    names = gpf_calloc(DIR_SCAN_MAX, sizeof *names);
    while ((e = readdir(d))) {
        if (spec_ext(e->d_name) < 0)
            continue;
        if (n == DIR_SCAN_MAX) {
            over = 1;
            break;
        }
        names[n++] = gpf_strdup(e->d_name);
    }
    qsort(names, (size_t)n, sizeof *names, cmp_names);
    if (over || n > GPF_CDI_DIR_FILES)
        warn(warnings, "%s: more than %d spec files: only the first %d by name are read", dir, GPF_CDI_DIR_FILES,
             GPF_CDI_DIR_FILES);
    for (int i = 0; i < n && i < GPF_CDI_DIR_FILES; i++) {
        int k = snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (k < 0 || (size_t)k >= sizeof path) {
            warn(warnings, "%s: a spec file name too long", dir);
            continue;
        }
        if (read_spec(path, &text, &len, &e2) != 0 ||
            gpf_cdi_add_spec(c, text, len, spec_ext(names[i]), path, &e2) != 0)
            warn(warnings, "%s (skipped)", gpf_error_msg(&e2));
        gpf_free(text);
        text = NULL;
    }
out:
    for (int i = 0; i < n; i++)
        gpf_free(names[i]);
    gpf_free(names);
    gpf_free(text);
    if (d)
        closedir(d);
    return rc;
}

int gpf_cdi_load(const char *const *dirs, int ndirs, gpf_cdi **out, gpf_buf *warnings, gpf_error *err)
{
    int rc = 0;
    gpf_cdi *c = gpf_cdi_new();

    *out = NULL;
    for (int i = 0; dirs && i < ndirs; i++)
        if (dirs[i] && (rc = load_dir(c, dirs[i], warnings, err)) != 0)
            goto out;
    *out = c;
    c = NULL;
out:
    gpf_cdi_free(c);
    return rc;
}

/* ---- the fake spec ------------------------------------------------------------------- */

static json_t *str_array(const char *const *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

int gpf_cdi_fake_spec(const char *const *uuids, const int *indexes, const char *const *host_nodes, int n,
                      const char *lib_path, gpf_buf *out, gpf_error *err)
{
    static const char *const opts[] = {"ro", "nosuid", "nodev", "bind"};
    static const char *const env[] = {"NVIDIA_CDI_FAKE=1"};
    int rc = 0;
    json_t *root = json_object(), *ce = json_object(), *devs = json_array();
    char *text = NULL, idx[24], node_path[48];
    gpf_cdi *check = NULL;
    gpf_error e2 = {0};

    if (n < 0 || n > FAKE_MAX_GPUS || (n > 0 && (!uuids || !indexes)) || !out) {
        rc = gpf_error_set(err, GPF_EINVAL, "cdi fake spec: bad arguments (n must be 0..%d)", FAKE_MAX_GPUS);
        goto out;
    }
    for (int i = 0; i < n; i++)
        if (indexes[i] < 0 || !uuids[i]) {
            rc = gpf_error_set(err, GPF_EINVAL, "cdi fake spec: GPU %d: no uuid or a negative index", i);
            goto out;
        }
    json_object_set_new(root, "cdiVersion", json_string("0.5.0"));
    json_object_set_new(root, "kind", json_string(FAKE_KIND));
    json_object_set_new(ce, "env", str_array(env, 1));
    if (lib_path) {
        json_t *m = json_object(), *mounts = json_array();
        json_object_set_new(m, "hostPath", json_string(lib_path));
        json_object_set_new(m, "containerPath", json_string(FAKE_LIB_TARGET));
        json_object_set_new(m, "options", str_array(opts, 4));
        json_array_append_new(mounts, m);
        json_object_set_new(ce, "mounts", mounts);
    }
    json_object_set_new(root, "containerEdits", ce);
    ce = NULL;
    for (int i = 0; i < n; i++) {
        snprintf(idx, sizeof idx, "%d", indexes[i]);
        snprintf(node_path, sizeof node_path, "/dev/nvidia%d", indexes[i]);
        for (int k = 0; k < 2; k++) {
            json_t *d = json_object(), *dce = json_object(), *nodes = json_array(), *node = json_object();
            json_object_set_new(node, "path", json_string(node_path));
            if (host_nodes && host_nodes[i])
                json_object_set_new(node, "hostPath", json_string(host_nodes[i]));
            json_array_append_new(nodes, node);
            json_object_set_new(dce, "deviceNodes", nodes);
            json_object_set_new(d, "name", json_string(k == 0 ? uuids[i] : idx));
            json_object_set_new(d, "containerEdits", dce);
            json_array_append_new(devs, d);
        }
    }
    json_object_set_new(root, "devices", devs);
    devs = NULL;
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    check = gpf_cdi_new();
    if (!text || gpf_cdi_add_spec(check, text, strlen(text), 0, "cdi fake spec", &e2) != 0) {
        rc = gpf_error_set(err, GPF_EINVAL, "%s", text ? gpf_error_msg(&e2) : "cdi fake spec: not encodable");
        goto out;
    }
    gpf_buf_puts(out, text);
out:
    free(text);
    json_decref(root);
    json_decref(ce);
    json_decref(devs);
    gpf_cdi_free(check);
    return rc;
}
