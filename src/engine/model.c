#include "engine/model.h"

#include <string.h>

static int parse(const char *const *names, int n, const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

#define NAMES(fn_name, fn_parse, type, ...)                                   \
    static const char *const fn_name##_tab[] = {__VA_ARGS__};                 \
    enum { fn_name##_n = sizeof fn_name##_tab / sizeof fn_name##_tab[0] };    \
    const char *fn_name(type v)                                               \
    {                                                                         \
        return ((int)v >= 0 && (int)v < fn_name##_n) ? fn_name##_tab[v] : "?"; \
    }                                                                         \
    int fn_parse(const char *s) { return parse(fn_name##_tab, fn_name##_n, s); }

NAMES(gpf_slice_kind_name, gpf_slice_kind_parse, gpf_slice_kind, "whole", "mig", "vgpu", "share")
NAMES(gpf_isolation_name, gpf_isolation_parse, gpf_isolation, "hardware", "device", "soft")
NAMES(gpf_host_state_name, gpf_host_state_parse, gpf_host_state, "ready", "lost", "draining")
NAMES(gpf_preflight_name, gpf_preflight_parse, gpf_preflight_verdict, "unknown", "pass", "warn", "fail")
NAMES(gpf_role_name, gpf_role_parse, gpf_role, "admin", "operator", "member", "finance", "viewer")
NAMES(gpf_pod_state_name, gpf_pod_state_parse, gpf_pod_state, "pending", "starting", "running",
      "stopping", "stopped", "failed", "preempted", "expired", "lost")

int gpf_pod_state_is_final(gpf_pod_state s)
{
    return s == GPF_POD_STOPPED || s == GPF_POD_FAILED || s == GPF_POD_PREEMPTED ||
           s == GPF_POD_EXPIRED || s == GPF_POD_LOST;
}
