/* `gpufleet pod-init`: the root process of a pod started by the process runtime.
 *
 *   gpufleet pod-init --fd N --sshd PATH --config FILE [--max-conns K]
 *
 * Descriptor N is a TCP socket the agent bound and listens on (so the pod's port is the
 * pod's from before it starts, and connections queue from that moment). pod-init prints
 *   "gpufleet pod-init: accepting connections"
 * (the runtime's readiness mark: the sandbox is up and its root process runs) and, for
 * every connection, sets TCP_NODELAY on it and
 * runs `sshd -i -e -f FILE` on it (OpenSSH's inetd mode), at most K at once (default 64;
 * more wait in the listen queue). TCP_NODELAY is why: sshd turns Nagle's algorithm off only
 * once a session is interactive, so its handshake writes wait for the client's delayed ACK
 * (about 40 ms per connection on Linux) unless the socket had it from the start. The
 * runtime checked sshd and a configuration like the pods' once (`sshd -t`) when it opened.
 * stdout and stderr are the pod's log. SIGTERM or SIGINT end it; sessions keep running
 * until the pod is stopped. */
#ifndef GPF_AGENT_PODINIT_H
#define GPF_AGENT_PODINIT_H

#define GPF_PODINIT_READY "gpufleet pod-init: accepting connections"

/* argv after "pod-init"; returns the exit code. */
int gpf_pod_init_main(int argc, char **argv);

#endif
