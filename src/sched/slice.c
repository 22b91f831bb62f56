/* Names of the slice vocabulary (sched/slice.h). */
#include "sched/slice.h"

#include "util/names.h"

GPF_NAMES(gpf_slice_kind_name, gpf_slice_kind_parse, gpf_slice_kind, "whole", "mig", "vgpu", "share")
GPF_NAMES(gpf_isolation_name, gpf_isolation_parse, gpf_isolation, "hardware", "device", "soft")
