/* The agent's use of CDI (agent/cdi.h): loading the host's specs once at start, the fake
 * backend's own spec, and the edits for one pod's GPUs. */
#ifndef GPF_AGENT_AGENT_CDI_H
#define GPF_AGENT_AGENT_CDI_H

#include <stddef.h>

#include "agent/cdi.h"
#include "agent/gpu_backend.h"

/* Loads the specs of the ':'-separated directories dirs (e.g. "/etc/cdi:/var/run/cdi"; ""
 * none). With the fake GPU backend, a spec for its GPUs comes first (lowest priority): the
 * agent writes it to state_dir/cdi/gpufleet-fake.json, each GPU's node the stand-in file
 * dev_root/dev/nvidia<minor> when there is one, and a stand-in driver library mounted at
 * /usr/lib/x86_64-linux-gnu/libcuda.so.1; so tests inject GPUs the way a real host does.
 * Skipped specs are logged. 0 and *out (free with gpf_cdi_free), or an error. */
int gpf_agent_cdi_open(const char *dirs, const gpf_host_facts *facts, int fake_backend, const char *dev_root,
                       const char *state_dir, gpf_cdi **out, gpf_error *err);

/* A stamp of the spec directories dirs (their modification times): when it changes, specs
 * were added, removed or replaced (nvidia-ctk writes through a rename) and the agent loads
 * them again before the next pod. 0 when none exists. */
long long gpf_agent_cdi_stamp(const char *dirs);

/* The edits for a pod's GPUs, looked up by the ids it sees (device_ids: "GPU-…,GPU-…" or
 * "MIG-…"), else by the GPUs' indexes (gpu_index[0..ngpus), not for MIG): a heap object
 * (gpf_free) or NULL when the specs have none of them, with note (size bytes) saying why. */
gpf_cdi_edits *gpf_agent_cdi_edits(const gpf_cdi *c, const char *device_ids, const int *gpu_index, int ngpus,
                                   int is_mig, char *note, size_t size);

#endif
