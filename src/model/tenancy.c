/* Names of the tenancy vocabulary (model/tenancy.h). */
#include "model/tenancy.h"

#include "util/names.h"

GPF_NAMES(gpf_role_name, gpf_role_parse, gpf_role, "admin", "operator", "member", "finance", "viewer")
