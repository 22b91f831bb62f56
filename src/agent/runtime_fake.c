/* The fake pod runtime: no processes at all. A started pod is simply remembered as
 * running (no SSH endpoint) until it is stopped; used for load tests and large
 * simulated fleets. Its activity is no process and no SSH session, unless a test set
 * sessions with gpf_runtime_fake_set_sessions. Used by one thread, like every runtime. */
#include <string.h>

#include "agent/runtime.h"
#include "util/alloc.h"

typedef struct fake_pod {
    char id[GPF_ID_MAX];
    gpf_pod_status st;
    int sessions;
} fake_pod;

typedef struct fake_rt {
    fake_pod *pods;
    int n, cap;
} fake_rt;

static int find(const fake_rt *f, const char *id)
{
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->pods[i].id, id))
            return i;
    return -1;
}

static int fake_begin(gpf_runtime *rt, const gpf_pod_spec *spec, gpf_error *err)
{
    if (!rt || !spec)
        return gpf_error_set(err, GPF_EINVAL, "start: no runtime or pod spec");
    if (!spec->id[0] || strnlen(spec->id, GPF_ID_MAX) >= GPF_ID_MAX)
        return gpf_error_set(err, GPF_EINVAL, "start: pod id is empty or too long");
    fake_rt *f = rt->priv;
    int i = find(f, spec->id);
    if (i < 0) {
        if (f->n == f->cap) {
            f->cap = f->cap ? f->cap * 2 : 16;
            f->pods = gpf_reallocarray(f->pods, (size_t)f->cap, sizeof *f->pods);
        }
        i = f->n++;
        fake_pod *p = &f->pods[i];
        memset(p, 0, sizeof *p);
        gpf_strlcpy(p->id, spec->id, sizeof p->id);
        p->st.running = 1;
        p->st.ssh_port = 0;
        p->st.isolation = GPF_ISO_SOFT;
        gpf_strlcpy(p->st.message, "fake runtime: no processes", sizeof p->st.message);
    }
    return 0;
}

/* A fake pod is ready the moment it is begun. */
static int fake_poll(gpf_runtime *rt, const char *pod_id, gpf_pod_status *st, gpf_error *err)
{
    if (!rt || !pod_id)
        return gpf_error_set(err, GPF_EINVAL, "start_poll: no runtime or pod id");
    fake_rt *f = rt->priv;
    int i = find(f, pod_id);
    if (i < 0)
        return gpf_error_set(err, GPF_ENOTFOUND, "pod %.63s is not starting", pod_id);
    if (st)
        *st = f->pods[i].st;
    return 1;
}

static int fake_stop(gpf_runtime *rt, const char *pod_id, gpf_error *err)
{
    if (!rt || !pod_id)
        return gpf_error_set(err, GPF_EINVAL, "stop: no runtime or pod id");
    fake_rt *f = rt->priv;
    int i = find(f, pod_id);
    if (i >= 0) {
        f->pods[i] = f->pods[f->n - 1];
        f->n--;
    }
    return 0;
}

static int fake_status(gpf_runtime *rt, const char *pod_id, gpf_pod_status *st)
{
    if (!rt || !pod_id)
        return 0;
    fake_rt *f = rt->priv;
    int i = find(f, pod_id);
    if (i < 0)
        return 0;
    if (st)
        *st = f->pods[i].st;
    return 1;
}

static int fake_list(gpf_runtime *rt, char (*ids)[GPF_ID_MAX], int max)
{
    if (!rt)
        return 0;
    fake_rt *f = rt->priv;
    int n = 0;
    for (int i = 0; i < f->n && n < max && ids; i++)
        gpf_strlcpy(ids[n++], f->pods[i].id, GPF_ID_MAX);
    return n;
}

static int fake_activity(gpf_runtime *rt, const char *pod_id, gpf_pod_activity *out)
{
    if (!rt || !pod_id)
        return GPF_ENOTFOUND;
    fake_rt *f = rt->priv;
    int i = find(f, pod_id);
    if (i < 0)
        return GPF_ENOTFOUND;
    if (out) {
        memset(out, 0, sizeof *out);
        out->ssh_sessions = f->pods[i].sessions;
    }
    return 0;
}

static void fake_close(gpf_runtime *rt)
{
    if (!rt)
        return;
    fake_rt *f = rt->priv;
    if (f)
        gpf_free(f->pods);
    gpf_free(f);
    gpf_free(rt);
}

static const gpf_runtime_ops FAKE_OPS = {
    .name = "fake",
    .start_begin = fake_begin,
    .start_poll = fake_poll,
    .stop = fake_stop,
    .status = fake_status,
    .list = fake_list,
    .activity = fake_activity,
    .close = fake_close,
};

int gpf_runtime_fake_set_sessions(gpf_runtime *rt, const char *pod_id, int sessions)
{
    if (!rt || rt->ops != &FAKE_OPS || !pod_id)
        return GPF_ENOTFOUND;
    fake_rt *f = rt->priv;
    int i = find(f, pod_id);
    if (i < 0)
        return GPF_ENOTFOUND;
    f->pods[i].sessions = sessions;
    return 0;
}

int gpf_runtime_fake_open(gpf_runtime **out, gpf_error *err)
{
    if (!out)
        return gpf_error_set(err, GPF_EINVAL, "gpf_runtime_fake_open: out is NULL");
    gpf_runtime *rt = GPF_NEW(gpf_runtime);
    rt->ops = &FAKE_OPS;
    rt->priv = GPF_NEW(fake_rt);
    *out = rt;
    return 0;
}
