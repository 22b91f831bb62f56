/* gpufleet host ls / gpu ls: the fleet as the control plane sees it. */
#include "cli/cli_int.h"

#include <string.h>

const char gpf_cli_help_host[] =
    "usage: gpufleet host ls [--json]\n"
    "\nLists the GPU hosts: address, deployment mode, GPU backend, state, GPUs, CPUs and\n"
    "memory in use, and the last heartbeat.\n";

const char gpf_cli_help_gpu[] =
    "usage: gpufleet gpu ls [--json]\n"
    "\nLists every GPU of the fleet with its host, model, memory, MIG mode and how much of\n"
    "it is allocated (in GPU-equivalents).\n";

static int need_ls(gpf_cli *c, const char *noun, const char *what)
{
    const char *verb = gpf_cli_pos(c, 1);
    if (!verb)
        return gpf_cli_usage(c, "'%s' needs a verb: ls", noun);
    if (strcmp(verb, "ls") != 0 && strcmp(verb, "list") != 0)
        return gpf_cli_usage(c, "unknown verb '%s %s'", noun, verb);
    return gpf_cli_expect(c, what, 2, 0, 0, "");
}

static void host_row(gpf_table *t, const json_t *h, void *arg)
{
    char gpus[16], cpus[48], used[32], total[32], mem[80], beat[32];
    (void)arg;
    snprintf(gpus, sizeof gpus, "%zu", json_array_size(json_object_get(h, "gpus")));
    snprintf(cpus, sizeof cpus, "%lld/%lld", gpf_cli_int(h, "cpus_used"), gpf_cli_int(h, "cpus"));
    gpf_cli_memory(gpf_cli_int(h, "memory_mib_used"), used, sizeof used);
    gpf_cli_memory(gpf_cli_int(h, "memory_mib"), total, sizeof total);
    snprintf(mem, sizeof mem, "%s/%s", used, total);
    gpf_cli_time(json_object_get(h, "last_heartbeat_at"), beat, sizeof beat);
    const char *row[] = {gpf_cli_str(h, "id"), gpf_cli_str(h, "address"),
                         gpf_cli_str(h, "deploy_mode"), gpf_cli_str(h, "backend"),
                         gpf_cli_str(h, "state"), gpus, cpus, mem, beat};
    gpf_table_add(t, row);
}

int gpf_cli_cmd_host(gpf_cli *c)
{
    static const char *const hdr[] = {"ID", "ADDRESS", "MODE", "BACKEND", "STATE", "GPUS",
                                      "CPUS", "MEMORY", "HEARTBEAT"};
    int rc = need_ls(c, "host", "host ls");
    return rc ? rc : gpf_cli_list(c, "/v1/hosts", "hosts", 9, hdr, host_row, NULL);
}

static void gpu_row(gpf_table *t, const json_t *g, void *arg)
{
    char idx[16], mem[32], mig[48], alloc[32];
    long long milli = gpf_cli_int(g, "allocated_milli");
    (void)arg;
    snprintf(idx, sizeof idx, "%lld", gpf_cli_int(g, "index"));
    gpf_cli_memory(gpf_cli_int(g, "memory_mib"), mem, sizeof mem);
    if (json_is_true(json_object_get(g, "mig_enabled")))
        snprintf(mig, sizeof mig, "on (%lld slots used)", gpf_cli_int(g, "mig_used_slots"));
    else
        snprintf(mig, sizeof mig, "off");
    snprintf(alloc, sizeof alloc, "%lld.%03lld", milli / 1000, milli % 1000);
    const char *row[] = {gpf_cli_str(g, "host_id"), idx, gpf_cli_str(g, "model"), mem, mig,
                         alloc, gpf_cli_str(g, "pci_bus_id"), gpf_cli_str(g, "uuid")};
    gpf_table_add(t, row);
}

int gpf_cli_cmd_gpu(gpf_cli *c)
{
    static const char *const hdr[] = {"HOST", "INDEX", "MODEL", "MEMORY", "MIG", "ALLOCATED",
                                      "PCI", "UUID"};
    int rc = need_ls(c, "gpu", "gpu ls");
    return rc ? rc : gpf_cli_list(c, "/v1/gpus", "gpus", 8, hdr, gpu_row, NULL);
}
