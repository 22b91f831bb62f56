/* Names of the slice vocabulary (model/slice.h). */
#include "model/slice.h"

#include <string.h>

#include "util/names.h"

GPF_NAMES(gpf_slice_kind_name, gpf_slice_kind_parse, gpf_slice_kind, "whole", "mig", "vgpu", "share")
GPF_NAMES(gpf_isolation_name, gpf_isolation_parse, gpf_isolation, "hardware", "device", "soft")

gpf_isolation gpf_isolation_expected(gpf_isolation host_max, gpf_slice_kind k)
{
    gpf_isolation natural = k == GPF_SLICE_SHARE ? GPF_ISO_DEVICE : GPF_ISO_HARDWARE;
    return host_max > natural ? host_max : natural;
}
