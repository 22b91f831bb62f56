/* The agent's use of CDI (see agent_cdi.h). */
#include "agent/agent_cdi.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"

#define MAX_DIRS 8

/* Writes data to path (replaced through a temporary file). 0 or -1. */
static int put_file(const char *path, const char *data, size_t len)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "we");
    if (!f)
        return -1;
    int ok = fwrite(data, 1, len, f) == len;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* The fake backend's spec into dir/gpufleet-fake.json (and its stand-in library). */
static int fake_spec(const gpf_host_facts *f, const char *dev_root, const char *dir, gpf_error *err)
{
    const char *uuids[GPF_MAX_HOST_GPUS], *nodes[GPF_MAX_HOST_GPUS];
    char paths[GPF_MAX_HOST_GPUS][PATH_MAX / 4], lib[PATH_MAX], spec[PATH_MAX];
    int idx[GPF_MAX_HOST_GPUS], n = 0, rc = 0;
    gpf_buf out = {0};
    size_t rl = dev_root ? strlen(dev_root) : 0;
    while (rl > 0 && dev_root[rl - 1] == '/')
        rl--;
    for (int g = 0; g < f->host.ngpus && g < GPF_MAX_HOST_GPUS; g++) {
        struct stat st;
        uuids[n] = f->host.gpus[g].uuid;
        idx[n] = f->host.gpus[g].index;
        snprintf(paths[n], sizeof paths[n], "%.*s/dev/nvidia%d", (int)rl, rl ? dev_root : "",
                 f->live[g].minor >= 0 ? f->live[g].minor : f->host.gpus[g].index);
        nodes[n] = stat(paths[n], &st) == 0 ? paths[n] : NULL;
        n++;
    }
    snprintf(lib, sizeof lib, "%s/libcuda.so.gpufleet-fake", dir);
    snprintf(spec, sizeof spec, "%s/gpufleet-fake.json", dir);
    static const char LIB[] = "gpufleet fake CUDA driver library: a stand-in, not a driver\n";
    if (put_file(lib, LIB, sizeof LIB - 1) != 0)
        return gpf_error_set(err, GPF_EIO, "cannot write %s", lib);
    if ((rc = gpf_cdi_fake_spec(uuids, idx, nodes, n, lib, &out, err)) == 0 &&
        put_file(spec, out.data ? out.data : "", out.len) != 0)
        rc = gpf_error_set(err, GPF_EIO, "cannot write %s", spec);
    gpf_buf_clear(&out);
    return rc;
}

int gpf_agent_cdi_open(const char *dirs, const gpf_host_facts *facts, int fake_backend, const char *dev_root,
                       const char *state_dir, gpf_cdi **out, gpf_error *err)
{
    char list[MAX_DIRS][PATH_MAX / 2], fake_dir[PATH_MAX / 2];
    const char *d[MAX_DIRS + 1];
    int n = 0, rc = 0;
    gpf_buf warn = {0};
    *out = NULL;
    if (fake_backend) {
        snprintf(fake_dir, sizeof fake_dir, "%s/cdi", state_dir);
        if (mkdir(fake_dir, 0755) != 0 && errno != EEXIST)
            return gpf_error_set(err, GPF_EIO, "cannot create %s", fake_dir);
        if ((rc = fake_spec(facts, dev_root, fake_dir, err)) != 0)
            return rc;
        d[n++] = fake_dir;
    }
    for (const char *p = dirs ? dirs : ""; *p && n < MAX_DIRS;) {
        size_t len = strcspn(p, ":");
        if (len > 0 && len < sizeof list[0]) {
            snprintf(list[n], sizeof list[n], "%.*s", (int)len, p);
            d[n] = list[n];
            n++;
        }
        p += len + (p[len] == ':');
    }
    if ((rc = gpf_cdi_load(d, n, out, &warn, err)) != 0)
        goto out;
    if (warn.len)
        GPF_WARN("agent", "event=cdi_spec_skipped msg=\"%.400s\"", gpf_buf_cstr(&warn));
    GPF_INFO("agent", "event=cdi devices=%d dirs=%d%s", gpf_cdi_device_count(*out), n,
             fake_backend ? " fake_spec=yes" : "");
out:
    gpf_buf_clear(&warn);
    return rc;
}

long long gpf_agent_cdi_stamp(const char *dirs)
{
    long long stamp = 0;
    char d[PATH_MAX / 2];
    for (const char *p = dirs ? dirs : ""; *p;) {
        size_t len = strcspn(p, ":");
        struct stat st;
        if (len > 0 && len < sizeof d) {
            snprintf(d, sizeof d, "%.*s", (int)len, p);
            if (stat(d, &st) == 0)
                stamp = stamp * 31 + (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        }
        p += len + (p[len] == ':');
    }
    return stamp;
}

gpf_cdi_edits *gpf_agent_cdi_edits(const gpf_cdi *c, const char *device_ids, const int *gpu_index, int ngpus,
                                   int is_mig, char *note, size_t size)
{
    char names[16][GPF_CDI_NAME_MAX];
    const char *ptrs[16];
    int n = 0;
    gpf_error err = {0};
    gpf_cdi_edits *e = GPF_NEW(gpf_cdi_edits);
    note[0] = '\0';
    if (!c || gpf_cdi_device_count(c) == 0 || !device_ids || !device_ids[0])
        goto none;
    for (const char *p = device_ids; *p && n < 16;) {
        size_t len = strcspn(p, ",");
        if (len > 0 && len < GPF_CDI_NAME_MAX) {
            snprintf(names[n], sizeof names[n], "%.*s", (int)len, p);
            ptrs[n] = names[n];
            n++;
        }
        p += len + (p[len] == ',');
    }
    if (n > 0 && gpf_cdi_edits_for(c, "nvidia.com/gpu", ptrs, n, e, &err) == 0)
        return e;
    if (!is_mig && ngpus > 0 && ngpus <= 16) { /* nvidia-ctk's default names: the GPU's index */
        for (int i = 0; i < ngpus; i++) {
            snprintf(names[i], sizeof names[i], "%d", gpu_index[i]);
            ptrs[i] = names[i];
        }
        gpf_error e2 = {0};
        if (gpf_cdi_edits_for(c, "nvidia.com/gpu", ptrs, ngpus, e, &e2) == 0)
            return e;
    }
    snprintf(note, size, "cdi: %.200s", gpf_error_msg(&err));
none:
    gpf_free(e);
    return NULL;
}
