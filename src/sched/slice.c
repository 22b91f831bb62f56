/* Names of the slice vocabulary (sched/slice.h). */
#include "sched/slice.h"

#include <string.h>

#include "util/names.h"

GPF_NAMES(gpf_slice_kind_name, gpf_slice_kind_parse, gpf_slice_kind, "whole", "mig", "vgpu", "share")
GPF_NAMES(gpf_isolation_name, gpf_isolation_parse, gpf_isolation, "hardware", "device", "soft")

gpf_isolation gpf_isolation_expected(gpf_isolation host_max, gpf_slice_kind k)
{
    gpf_isolation natural = k == GPF_SLICE_SHARE ? GPF_ISO_DEVICE : GPF_ISO_HARDWARE;
    return host_max > natural ? host_max : natural;
}

int gpf_name_valid(const char *s)
{
    size_t n = s ? strnlen(s, GPF_ID_MAX) : 0;
    if (n == 0 || n >= GPF_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return 0;
    }
    return 1;
}
