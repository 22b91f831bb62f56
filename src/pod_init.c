/* gpufleet-pod-init: the root process of every pod of the OCI runtime (agent/podinit.h),
 * linked statically so that it runs in any image, whatever C library the image has (or
 * none). The agent binds it read-only into the pod at /.gpufleet/pod-init. */
#include "agent/podinit.h"

int main(int argc, char **argv)
{
    return gpf_pod_init_main(argc - 1, argv + 1);
}
