/* gpufleet-ssh-helper: the two short-lived or long-lived small jobs of pod SSH without
 * gpufleet's libraries (libc only):
 *   gpufleet-ssh-helper pod-init --fd N --sshd PATH --config FILE   a pod's root process
 *   gpufleet-ssh-helper ssh-proxy HOST PORT                         ssh's ProxyCommand
 * Both are also verbs of gpufleet itself; the agent and `gpufleet ssh` use this binary
 * when it sits beside gpufleet (cli/ssh_proxy.h). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/podinit.h"
#include "cli/ssh_proxy.h"
#include "util/fileio.h"

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "pod-init"))
        return gpf_pod_init_main(argc - 2, argv + 2);
    if (argc == 4 && !strcmp(argv[1], "ssh-proxy")) {
        gpf_error err = {0};
        if (gpf_cli_ssh_proxy(argv[2], argv[3], STDOUT_FILENO, 10000, &err) == 0)
            return 0;
        fprintf(stderr, "gpufleet: %s\n", gpf_error_msg(&err));
        return 1;
    }
    fputs("usage: " GPF_SSH_HELPER " pod-init --fd N --sshd PATH --config FILE [--max-conns K]\n"
          "       " GPF_SSH_HELPER " ssh-proxy HOST PORT\n"
          "(used by gpufleet's agent and `gpufleet ssh`; see `gpufleet help ssh-proxy`)\n",
          stderr);
    return 2;
}
