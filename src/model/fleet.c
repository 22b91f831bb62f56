/* Names and small rules of the fleet's records (model/fleet.h). */
#include "model/fleet.h"

#include <string.h>

#include "util/names.h"

GPF_NAMES(gpf_host_state_name, gpf_host_state_parse, gpf_host_state, "ready", "lost", "draining")
GPF_NAMES(gpf_preflight_name, gpf_preflight_parse, gpf_preflight_verdict, "unknown", "pass", "warn", "fail")
GPF_NAMES(gpf_pod_state_name, gpf_pod_state_parse, gpf_pod_state, "pending", "starting", "running",
          "stopping", "stopped", "failed", "preempted", "expired", "lost")

int gpf_pod_state_is_final(gpf_pod_state s)
{
    return s == GPF_POD_STOPPED || s == GPF_POD_FAILED || s == GPF_POD_PREEMPTED ||
           s == GPF_POD_EXPIRED || s == GPF_POD_LOST;
}

gpf_isolation gpf_host_isolation_default(const char *runtime)
{
    if (runtime && (strcmp(runtime, "fake") == 0 || strcmp(runtime, "oci") == 0))
        return GPF_ISO_HARDWARE;
    return GPF_ISO_SOFT;
}

GPF_NAMES(gpf_isolation_layer_name, gpf_isolation_layer_parse, gpf_isolation_layer, "userns", "netns", "pidns",
          "ipcns", "utsns", "mountns", "cgroupns", "seccomp", "no_new_privs", "caps_dropped", "devices", "cgroups",
          "sys_ro", "proc_masked")

void gpf_isolation_layers_format(unsigned set, char *out, size_t size)
{
    size_t used = 0;
    if (size == 0)
        return;
    out[0] = '\0';
    for (int i = 0; i < GPF_LAYER_COUNT; i++) {
        if (!(set & (1u << i)))
            continue;
        int n = snprintf(out + used, size - used, "%s%s", used ? "," : "",
                         gpf_isolation_layer_name((gpf_isolation_layer)i));
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
}

int gpf_isolation_layers_parse(const char *s, unsigned *out)
{
    unsigned set = 0;
    char name[32];
    while (s && *s) {
        size_t n = strcspn(s, ",");
        if (n == 0 || n >= sizeof name)
            return -1;
        memcpy(name, s, n);
        name[n] = '\0';
        int l = gpf_isolation_layer_parse(name);
        if (l < 0 || (set & (1u << l)))
            return -1;
        set |= 1u << l;
        s += n;
        if (*s == ',' && *++s == '\0')
            return -1;
    }
    *out = set;
    return 0;
}
