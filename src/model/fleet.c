/* Names and small rules of the fleet's records (model/fleet.h). */
#include "model/fleet.h"

#include <stdio.h>
#include <string.h>

#include "util/names.h"

GPF_NAMES(gpf_host_state_name, gpf_host_state_parse, gpf_host_state, "ready", "lost", "draining",
          "unreachable")
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

int gpf_host_pods_max(const gpf_host_rec *h)
{
    if (!h || h->max_pods <= 0 || h->max_pods > GPF_AGENT_MAX_PODS)
        return GPF_AGENT_MAX_PODS;
    return h->max_pods;
}

static const char *const ENV_RESERVED[] = {"CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "GPUFLEET_POD_ID", "HOME",
                                           "PATH", "USER", "LOGNAME", "SHELL", NULL};

int gpf_sku_env_reserved(const char *name)
{
    for (int i = 0; name && ENV_RESERVED[i]; i++)
        if (strcmp(name, ENV_RESERVED[i]) == 0)
            return 1;
    return 0;
}

static int env_name_char(char c, int first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

static int env_value_char(char c)
{
    return !((unsigned char)c < 0x20 || c == 0x7f || c == '"' || c == '\\' || c == '%');
}

static int env_bad(char *why, size_t n, const char *fmt, const char *entry, size_t len)
{
    if (why && n > 0)
        snprintf(why, n, fmt, (int)(len > 60 ? 60 : len), entry);
    return 0;
}

int gpf_sku_env_valid(const char *env, char *why, size_t n)
{
    if (why && n > 0)
        why[0] = '\0';
    if (!env)
        return 1;
    if (strnlen(env, GPF_TEXT_MAX) >= GPF_TEXT_MAX)
        return env_bad(why, n, "environment is longer than the limit%.*s", "", 0);
    for (const char *p = env; *p;) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (len == 0 || (end && end[1] == '\0'))
            return env_bad(why, n, "environment has an empty entry%.*s", "", 0);
        if (!eq || eq == p)
            return env_bad(why, n, "environment entry '%.*s' is not KEY=VALUE", p, len);
        for (const char *k = p; k < eq; k++)
            if (!env_name_char(*k, k == p))
                return env_bad(why, n, "environment name '%.*s' is not a valid name", p, (size_t)(eq - p));
        char name[GPF_TEXT_MAX];
        memcpy(name, p, (size_t)(eq - p));
        name[eq - p] = '\0';
        if (gpf_sku_env_reserved(name))
            return env_bad(why, n, "environment name %.*s is set by the runtime", p, (size_t)(eq - p));
        for (const char *v = eq + 1; v < p + len; v++)
            if (!env_value_char(*v))
                return env_bad(why, n, "environment value of %.*s has a quote, backslash, '%%' or control character", p,
                               (size_t)(eq - p));
        p += len;
        if (*p == ';')
            p++;
    }
    return 1;
}
