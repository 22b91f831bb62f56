/* What the agent tells the control plane on each heartbeat (docs/api.md "Agent protocol"):
 * the pods it runs, the pods it saw die, how long each has been idle, and the hardware
 * truth of its registered GPUs (MIG devices and processes, with the pod each process
 * belongs to). Pure: the agent's loop gathers the facts, these functions shape them. */
#ifndef GPF_AGENT_REPORT_H
#define GPF_AGENT_REPORT_H

#include "agent/gpu_backend.h"
#include "model/agent.h"
#include "model/fleet.h"

/* The pod a host pid belongs to: 1 and id filled, or 0 when none. */
typedef int (*gpf_pod_of_pid_fn)(void *ctx, unsigned pid, char *id, size_t size);

/* The registered GPUs (reg) as fresh discovery (fx) sees them: one out[] entry per
 * registered GPU that discovery still reports (matched by UUID); a registered GPU that is
 * gone is left out, which is how the control plane learns of it. with_hw adds MIG
 * devices and processes (pod_of may be NULL). out: room for GPF_MAX_HOST_GPUS. Returns
 * the count. */
int gpf_report_gpus(const gpf_host_facts *fx, const gpf_host_rec *reg, int with_hw, gpf_pod_of_pid_fn pod_of,
                    void *ctx, gpf_hw_gpu *out);

/* Does any process in gpus[0..n) belong to pod id? */
int gpf_report_pod_on_gpu(const gpf_hw_gpu *gpus, int n, const char *id);

/* The preflight's verdict and its warn/fail findings, worst first, into the host record
 * that registration sends (at most GPF_MAX_HOST_FINDINGS; the rest are counted in the
 * last kept finding's detail). verdict: 0 pass, 1 warn, 2 fail (gpf_chk_level). */
struct gpf_chk_report;
void gpf_report_preflight(const struct gpf_chk_report *rep, gpf_host_rec *h);

#endif
