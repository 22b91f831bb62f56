#include "engine/model.h"

#include <string.h>

#include "util/names.h"

GPF_NAMES(gpf_host_state_name, gpf_host_state_parse, gpf_host_state, "ready", "lost", "draining")
GPF_NAMES(gpf_preflight_name, gpf_preflight_parse, gpf_preflight_verdict, "unknown", "pass", "warn", "fail")
GPF_NAMES(gpf_role_name, gpf_role_parse, gpf_role, "admin", "operator", "member", "finance", "viewer")
GPF_NAMES(gpf_pod_state_name, gpf_pod_state_parse, gpf_pod_state, "pending", "starting", "running",
          "stopping", "stopped", "failed", "preempted", "expired", "lost")

int gpf_pod_state_is_final(gpf_pod_state s)
{
    return s == GPF_POD_STOPPED || s == GPF_POD_FAILED || s == GPF_POD_PREEMPTED ||
           s == GPF_POD_EXPIRED || s == GPF_POD_LOST;
}
