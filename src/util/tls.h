/* Certificates for the HTTPS API (OpenSSL's libcrypto): the demo's own certificate
 * authority and server certificate, the public-key pin of a certificate (what
 * `--pin` takes), and the permission check of a private key file. */
#ifndef GPF_UTIL_TLS_H
#define GPF_UTIL_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* The files gpf_tls_demo_ensure keeps in its directory. */
typedef struct gpf_tls_files {
    char ca_cert[640];      /* DIR/ca.pem: what clients verify the server against (0644) */
    char ca_key[640];       /* DIR/ca-key.pem: signs the next server certificate (0600) */
    char server_cert[640];  /* DIR/server.pem (0644) */
    char server_key[640];   /* DIR/server-key.pem (0600) */
} gpf_tls_files;

/* Days a demo certificate is valid, and how close to its end it is made again. */
#define GPF_TLS_CA_DAYS 3650
#define GPF_TLS_SERVER_DAYS 397
#define GPF_TLS_RENEW_DAYS 30

/* What gpf_tls_demo_ensure did (*made, may be NULL): bits of these. */
#define GPF_TLS_MADE_CA 1
#define GPF_TLS_MADE_SERVER 2

/* Makes sure dir (created 0700 when missing) holds a certificate authority (EC P-256,
 * CN "gpufleet demo CA") and a server certificate it signed for localhost, 127.0.0.1 and
 * ::1, both valid at now_s (Unix seconds) for GPF_TLS_RENEW_DAYS more: files that already
 * are so are kept (a CA that clients already trust stays); a server certificate that is
 * not (missing, expiring, not the CA's, not its key's) is made again, and so is the CA
 * when it is not. Keys are written 0600 (an existing key's mode is tightened). Fills
 * *files (may be NULL). 0, or GPF_EIO / GPF_EINTERNAL with a message. */
int gpf_tls_demo_ensure(const char *dir, int64_t now_s, gpf_tls_files *files, int *made, gpf_error *err);

/* The pin of the PEM certificate (the first one) in cert_path: "sha256//" and the base64
 * SHA-256 of its DER SubjectPublicKeyInfo, as curl's CURLOPT_PINNEDPUBLICKEY and
 * `--pin` take it. out needs 53 bytes. 0, GPF_ENOTFOUND, or GPF_EINVAL (not a certificate). */
int gpf_tls_pin(const char *cert_path, char *out, size_t size, gpf_error *err);

/* Checks a server's PEM certificate (chain: the first is the server's) and PEM private key
 * before they are served: both parse and the key is the certificate's. Fills *not_after_s
 * (may be NULL) with when the certificate ends (Unix seconds) and pin (may be NULL; 53
 * bytes) with its pin. 0, or GPF_EINVAL saying what is wrong. */
int gpf_tls_check_pair(const char *cert_pem, const char *key_pem, int64_t *not_after_s, char *pin, size_t pin_size,
                       gpf_error *err);

/* Whether key_path may serve as a private key: GPF_EFORBIDDEN when others (not owner or
 * group) may read or write it, GPF_ENOTFOUND / GPF_EINVAL (not a regular file) as they
 * come; 0 otherwise, with *group_readable (may be NULL) 1 when its group may read it
 * (Debian's ssl-cert convention: allowed, worth a warning). */
int gpf_tls_key_mode_check(const char *key_path, int *group_readable, gpf_error *err);

#endif
