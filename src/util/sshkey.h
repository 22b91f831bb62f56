/* SSH host keys made in process: an Ed25519 key pair (OpenSSL) written in OpenSSH's own
 * formats, so that the agent gives each pod a key of its own without running ssh-keygen
 * (a process per pod on the launch path). The private key is OpenSSH's "openssh-key-v1"
 * container, unencrypted (it is a host key: sshd reads it unattended), the public key the
 * usual "ssh-ed25519 BASE64 COMMENT" line. */
#ifndef GPF_UTIL_SSHKEY_H
#define GPF_UTIL_SSHKEY_H

#include "util/buf.h"
#include "util/error.h"

/* A new key pair: priv gets the private key file's text, pub the public key line (with
 * "\n"); comment (printable, no newline, < 200 bytes) goes into both. 0, or GPF_EINVAL (a
 * bad comment) / GPF_EINTERNAL (the crypto library failed). The caller clears priv. */
int gpf_sshkey_ed25519(const char *comment, gpf_buf *priv, gpf_buf *pub, gpf_error *err);

#endif
