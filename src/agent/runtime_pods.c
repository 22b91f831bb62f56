/* A runtime's pod table and the ops that only read it (see runtime_int.h): shared by the
 * process and oci runtimes, whose pod records start with a gpf_rtpod. */
#include <string.h>

#include "agent/runtime_int.h"
#include "util/alloc.h"
#include "util/timeutil.h"

#define SNAP_MAX_AGE_MS 100 /* how long one walk of /proc answers activity questions */

int gpf_rtpods_find(const gpf_rtpods *t, const char *id)
{
    for (int i = 0; i < t->n; i++)
        if (!strcmp(GPF_RTPOD(t, i)->id, id))
            return i;
    return -1;
}

void *gpf_rtpods_add(gpf_rtpods *t, const char *id)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->v = gpf_reallocarray(t->v, (size_t)t->cap, t->size);
    }
    gpf_rtpod *p = GPF_RTPOD(t, t->n++);
    memset(p, 0, t->size);
    gpf_strlcpy(p->id, id, sizeof p->id);
    return p;
}

void gpf_rtpods_drop(gpf_rtpods *t, int i)
{
    if (i < t->n - 1)
        memcpy(GPF_RTPOD(t, i), GPF_RTPOD(t, t->n - 1), t->size);
    t->n--;
}

void gpf_rtpods_clear(gpf_rtpods *t)
{
    gpf_free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}

int gpf_rtpod_alive(const gpf_rtpod *p)
{
    return p->pid > 1 && gpf_rtsys_alive(p->pid, p->start);
}

static int port_taken(const gpf_rtpods *t, int port)
{
    for (int i = 0; i < t->n; i++) {
        const gpf_rtpod *p = GPF_RTPOD(t, i);
        if (p->st.ssh_port == port && (p->starting || gpf_rtpod_alive(p)))
            return 1;
    }
    return 0;
}

int gpf_rtpods_listen(const gpf_rtpods *t, const struct sockaddr_storage *addr, socklen_t len, int pmin, int pmax,
                      int *next, int *port)
{
    int span = pmax - pmin + 1;
    for (int k = 0; k < span; k++) {
        int p = pmin + (*next - pmin + k) % span, fd;
        if (port_taken(t, p) || (fd = gpf_rtsys_listen(addr, len, p)) < 0)
            continue;
        *next = p + 1 > pmax ? pmin : p + 1;
        *port = p;
        return fd;
    }
    return -1;
}

/* The running (not starting) pod called id, or NULL. */
static const gpf_rtpod *running(const gpf_rtpods *t, const char *id)
{
    int i = id ? gpf_rtpods_find(t, id) : -1;
    const gpf_rtpod *p = i >= 0 ? GPF_RTPOD(t, i) : NULL;
    return p && !p->starting && gpf_rtpod_alive(p) ? p : NULL;
}

int gpf_rtpods_status(const gpf_rtpods *t, const char *id, gpf_pod_status *st)
{
    const gpf_rtpod *p = running(t, id);
    if (p && st) {
        *st = p->st;
        st->running = 1;
    }
    return p != NULL;
}

int gpf_rtpods_list(const gpf_rtpods *t, char (*ids)[GPF_ID_MAX], int max)
{
    int n = 0;
    for (int i = 0; i < t->n && n < max; i++) {
        const gpf_rtpod *p = GPF_RTPOD(t, i);
        if (!p->starting && gpf_rtpod_alive(p))
            gpf_strlcpy(ids[n++], p->id, GPF_ID_MAX);
    }
    return n;
}

int gpf_rtpods_activity(const gpf_rtpods *t, const char *id, int by_env, gpf_rtsys_snap **snap, int64_t *snap_ms,
                        gpf_pod_activity *out)
{
    const gpf_rtpod *p = running(t, id);
    if (!p)
        return GPF_ENOTFOUND;
    if (out) {
        /* A heartbeat asks about every pod at once: one walk of /proc answers them all. */
        int64_t now = gpf_mono_ms();
        if (!*snap || now - *snap_ms > SNAP_MAX_AGE_MS) {
            gpf_rtsys_snap_free(*snap);
            *snap = gpf_rtsys_snap_take();
            *snap_ms = now;
        }
        gpf_rtsys_pod_ref ref = {p->pid, p->start, by_env ? p->id : NULL, p->cgroup};
        memset(out, 0, sizeof *out);
        gpf_rtsys_pod_activity(*snap, &ref, out->pids, GPF_POD_MAX_PIDS, &out->npids, &out->ssh_sessions);
    }
    return 0;
}
