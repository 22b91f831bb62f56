#include "agent/report.h"

#include <stdio.h>
#include <string.h>

#include "agent/preflight.h"
#include "util/alloc.h"

static int find_uuid(const gpf_host_facts *fx, const char *uuid)
{
    for (int g = 0; g < fx->host.ngpus; g++)
        if (strcmp(fx->host.gpus[g].uuid, uuid) == 0)
            return g;
    return -1;
}

static void copy_hw(const gpf_host_facts *fx, int g, gpf_pod_of_pid_fn pod_of, void *ctx, gpf_hw_gpu *o)
{
    const gpf_gpu_live *lv = &fx->live[g];
    o->has_hw = 1;
    o->mig_enabled = fx->host.gpus[g].mig_enabled;
    for (int m = 0; m < lv->nmig && o->nmig < GPF_HW_MAX_MIG; m++) {
        gpf_hw_mig *d = &o->mig[o->nmig++];
        gpf_strlcpy(d->uuid, lv->mig[m].uuid, sizeof d->uuid);
        d->gi_id = lv->mig[m].gi_id;
        d->ci_id = lv->mig[m].ci_id;
        d->profile_id = lv->mig[m].gi_profile_id;
        d->start = lv->mig[m].start;
        d->size = lv->mig[m].size;
    }
    for (int k = 0; k < lv->nprocs && o->nprocs < GPF_HW_MAX_PROCS; k++) {
        gpf_hw_proc *p = &o->procs[o->nprocs++];
        p->pid = lv->procs[k].pid;
        p->used_mib = lv->procs[k].used_mib;
        p->gi_id = lv->procs[k].gi_id;
        p->ci_id = lv->procs[k].ci_id;
        if (!pod_of || !pod_of(ctx, p->pid, p->pod_id, sizeof p->pod_id))
            p->pod_id[0] = '\0';
    }
}

int gpf_report_gpus(const gpf_host_facts *fx, const gpf_host_rec *reg, int with_hw, gpf_pod_of_pid_fn pod_of,
                    void *ctx, gpf_hw_gpu *out)
{
    int n = 0;
    for (int r = 0; r < reg->ngpus && n < GPF_MAX_HOST_GPUS; r++) {
        int g = find_uuid(fx, reg->gpus[r].uuid);
        if (g < 0)
            continue;
        gpf_hw_gpu *o = &out[n++];
        memset(o, 0, sizeof *o);
        gpf_strlcpy(o->uuid, reg->gpus[r].uuid, sizeof o->uuid);
        if (with_hw)
            copy_hw(fx, g, pod_of, ctx, o);
    }
    return n;
}

int gpf_report_pod_on_gpu(const gpf_hw_gpu *gpus, int n, const char *id)
{
    for (int g = 0; g < n; g++)
        for (int k = 0; k < gpus[g].nprocs; k++)
            if (strcmp(gpus[g].procs[k].pod_id, id) == 0)
                return 1;
    return 0;
}

void gpf_report_preflight(const gpf_chk_report *rep, gpf_host_rec *h)
{
    static const gpf_preflight_verdict verdicts[] = {GPF_PREFLIGHT_PASS, GPF_PREFLIGHT_WARN, GPF_PREFLIGHT_FAIL};
    h->preflight = rep->verdict >= GPF_CHK_PASS && rep->verdict <= GPF_CHK_FAIL ? verdicts[rep->verdict]
                                                                                 : GPF_PREFLIGHT_UNKNOWN;
    h->nfindings = 0;
    int left = 0;
    for (int pass = GPF_CHK_FAIL; pass >= GPF_CHK_WARN; pass--)
        for (int i = 0; i < rep->n; i++) {
            const gpf_chk_finding *f = &rep->f[i];
            if ((int)f->level != pass)
                continue;
            if (h->nfindings == GPF_MAX_HOST_FINDINGS) {
                left++;
                continue;
            }
            gpf_host_finding *o = &h->findings[h->nfindings++];
            memset(o, 0, sizeof *o);
            gpf_strlcpy(o->check, f->check, sizeof o->check);
            o->level = verdicts[f->level];
            o->gpu = f->gpu;
            gpf_strlcpy(o->detail, f->detail, sizeof o->detail);
            gpf_strlcpy(o->fix, f->fix, sizeof o->fix);
        }
    if (left) {
        gpf_host_finding *o = &h->findings[GPF_MAX_HOST_FINDINGS - 1];
        char more[48];
        snprintf(more, sizeof more, " (+%d more: run gpufleet check)", left);
        size_t room = sizeof o->detail - strlen(more) - 1;
        if (strlen(o->detail) > room)
            o->detail[room] = '\0';
        memcpy(o->detail + strlen(o->detail), more, strlen(more) + 1);
    }
}
