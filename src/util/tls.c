/* Certificates for the HTTPS API: see tls.h. OpenSSL's libcrypto (already a dependency
 * for SHA-256) makes the keys and certificates; nothing is shelled out to. */
#include "util/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/secret.h"

#define DAY_S 86400LL

/* One X.509v3 extension: its NID and its value in OpenSSL's configuration syntax. */
typedef struct ext {
    int nid;
    const char *value;
} ext;

static const ext ca_exts[] = {
    {NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
    {NID_key_usage, "critical,keyCertSign,cRLSign"},
    {NID_subject_key_identifier, "hash"},
    {0, NULL},
};

static const ext server_exts[] = {
    {NID_basic_constraints, "critical,CA:FALSE"},
    {NID_key_usage, "critical,digitalSignature"},
    {NID_ext_key_usage, "serverAuth"},
    {NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1"},
    {NID_subject_key_identifier, "hash"},
    {NID_authority_key_identifier, "keyid:always"},
    {0, NULL},
};

/* ---- files ------------------------------------------------------------------ */

/* Writes len bytes to path with mode, through a temporary file renamed over it (a reader
 * never sees half a key; a crash leaves the old file or the new one). */
static int write_atomic(const char *path, const char *data, size_t len, mode_t mode, gpf_error *err)
{
    char tmp[700];
    int rc = 0;
    size_t off = 0;
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return gpf_error_set(err, GPF_EIO, "cannot create %s: %s", tmp, strerror(errno));
    if (fchmod(fd, mode) != 0)
        rc = gpf_error_set(err, GPF_EIO, "cannot chmod %s: %s", tmp, strerror(errno));
    while (rc == 0 && off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = gpf_error_set(err, GPF_EIO, "cannot write %s: %s", tmp, strerror(errno));
        else
            off += (size_t)n;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = gpf_error_set(err, GPF_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (close(fd) != 0 && rc == 0)
        rc = gpf_error_set(err, GPF_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = gpf_error_set(err, GPF_EIO, "cannot rename %s: %s", tmp, strerror(errno));
    if (rc != 0)
        unlink(tmp);
    return rc;
}

/* Writes what a PEM writer put into a memory BIO to path (mode). Keys go through a BIO
 * of OpenSSL's secure heap, which is wiped when freed. */
static int write_bio(const char *path, BIO *b, mode_t mode, gpf_error *err)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    if (n <= 0 || !data)
        return gpf_error_set(err, GPF_EINTERNAL, "%s: nothing to write", path);
    return write_atomic(path, data, (size_t)n, mode, err);
}

static int write_key(const char *path, EVP_PKEY *key, gpf_error *err)
{
    BIO *b = BIO_new(BIO_s_secmem());
    int rc;
    if (!b || !PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL))
        rc = gpf_error_set(err, GPF_EINTERNAL, "%s: cannot encode the key", path);
    else
        rc = write_bio(path, b, 0600, err);
    BIO_free(b);
    return rc;
}

static int write_cert(const char *path, X509 *x, gpf_error *err)
{
    BIO *b = BIO_new(BIO_s_mem());
    int rc;
    if (!b || !PEM_write_bio_X509(b, x))
        rc = gpf_error_set(err, GPF_EINTERNAL, "%s: cannot encode the certificate", path);
    else
        rc = write_bio(path, b, 0644, err);
    BIO_free(b);
    return rc;
}

static X509 *read_cert(const char *path)
{
    BIO *b = BIO_new_file(path, "r");
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return x;
}

static EVP_PKEY *read_key(const char *path)
{
    BIO *b = BIO_new_file(path, "r");
    EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return k;
}

/* ---- making certificates ------------------------------------------------------ */

static int add_exts(X509 *x, X509 *issuer, const ext *exts)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    for (const ext *e = exts; e->nid; e++) {
        X509_EXTENSION *xe = X509V3_EXT_conf_nid(NULL, &ctx, e->nid, e->value);
        int ok = xe && X509_add_ext(x, xe, -1);
        X509_EXTENSION_free(xe);
        if (!ok)
            return -1;
    }
    return 0;
}

static int random_serial(X509 *x)
{
    BIGNUM *bn = BN_new();
    int ok = bn && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
             BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    return ok ? 0 : -1;
}

/* A certificate for key named cn, valid from an hour before now_s for days, signed by
 * issuer_key as issuer (NULL issuer: self-signed, issuer_key is key). NULL on failure. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, int64_t now_s,
                       int days, const ext *exts)
{
    X509 *x = X509_new();
    X509_NAME *name = x ? X509_get_subject_name(x) : NULL;
    int ok = x && name && X509_set_version(x, 2) && random_serial(x) == 0 &&
             ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(now_s - 3600)) &&
             ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(now_s + days * DAY_S)) && X509_set_pubkey(x, key) &&
             X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"gpufleet demo", -1, -1, 0) &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) &&
             X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) &&
             add_exts(x, issuer ? issuer : x, exts) == 0 && X509_sign(x, issuer_key, EVP_sha256()) > 0;
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* 1 when x is valid at now_s and still GPF_TLS_RENEW_DAYS later, and key is its key. */
static int fresh(X509 *x, EVP_PKEY *key, int64_t now_s)
{
    time_t now = (time_t)now_s, later = (time_t)(now_s + GPF_TLS_RENEW_DAYS * DAY_S);
    return x && key && X509_check_private_key(x, key) == 1 && X509_cmp_time(X509_get0_notBefore(x), &now) < 0 &&
           X509_cmp_time(X509_get0_notAfter(x), &later) > 0;
}

static int ca_usable(X509 *ca, EVP_PKEY *ca_key, int64_t now_s)
{
    return fresh(ca, ca_key, now_s) && X509_check_ca(ca) >= 1;
}

static int server_usable(X509 *srv, EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key, int64_t now_s)
{
    return fresh(srv, key, now_s) && X509_check_issued(ca, srv) == X509_V_OK && X509_verify(srv, ca_key) == 1 &&
           X509_check_host(srv, "localhost", 0, 0, NULL) == 1 && X509_check_ip_asc(srv, "127.0.0.1", 0) == 1;
}

/* Tightens a kept key file to 0600 (an earlier copy, or an operator's chmod). */
static int tighten(const char *path, gpf_error *err)
{
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077) && chmod(path, 0600) != 0)
        return gpf_error_set(err, GPF_EIO, "cannot chmod %s: %s", path, strerror(errno));
    return 0;
}

static void files_in(const char *dir, gpf_tls_files *f)
{
    snprintf(f->ca_cert, sizeof f->ca_cert, "%s/ca.pem", dir);
    snprintf(f->ca_key, sizeof f->ca_key, "%s/ca-key.pem", dir);
    snprintf(f->server_cert, sizeof f->server_cert, "%s/server.pem", dir);
    snprintf(f->server_key, sizeof f->server_key, "%s/server-key.pem", dir);
}

/* Makes a key and a certificate for it (issuer NULL: the CA) and writes both, the key
 * first (a crash between the two leaves a pair that does not match: made again). */
static int make_pair(const char *key_path, const char *cert_path, const char *cn, X509 *issuer,
                     EVP_PKEY *issuer_key, int64_t now_s, int days, const ext *exts, EVP_PKEY **key_out,
                     X509 **cert_out, gpf_error *err)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = key ? make_cert(key, cn, issuer, issuer ? issuer_key : key, now_s, days, exts) : NULL;
    int rc = 0;
    if (!x)
        rc = gpf_error_set(err, GPF_EINTERNAL, "cannot make the %s certificate", cn);
    if (rc == 0)
        rc = write_key(key_path, key, err);
    if (rc == 0)
        rc = write_cert(cert_path, x, err);
    if (rc != 0) {
        X509_free(x);
        EVP_PKEY_free(key);
        return rc;
    }
    *key_out = key;
    *cert_out = x;
    return 0;
}

int gpf_tls_demo_ensure(const char *dir, int64_t now_s, gpf_tls_files *files, int *made, gpf_error *err)
{
    gpf_tls_files f;
    int rc = 0, did = 0;
    files_in(dir, &f);
    /* searchable, not listable: ca.pem is read by path (a CLI of another user), the keys are 0600 */
    if (mkdir(dir, 0711) != 0 && errno != EEXIST)
        return gpf_error_set(err, GPF_EIO, "cannot create %s: %s", dir, strerror(errno));
    X509 *ca = read_cert(f.ca_cert), *srv = read_cert(f.server_cert);
    EVP_PKEY *ca_key = read_key(f.ca_key), *srv_key = read_key(f.server_key);
    if (!ca_usable(ca, ca_key, now_s)) {
        X509_free(ca);
        EVP_PKEY_free(ca_key);
        ca = NULL;
        ca_key = NULL;
        rc = make_pair(f.ca_key, f.ca_cert, "gpufleet demo CA", NULL, NULL, now_s, GPF_TLS_CA_DAYS, ca_exts, &ca_key,
                       &ca, err);
        did |= GPF_TLS_MADE_CA;
    } else {
        rc = tighten(f.ca_key, err);
    }
    if (rc == 0 && (did || !server_usable(srv, srv_key, ca, ca_key, now_s))) {
        X509_free(srv);
        EVP_PKEY_free(srv_key);
        srv = NULL;
        srv_key = NULL;
        rc = make_pair(f.server_key, f.server_cert, "localhost", ca, ca_key, now_s, GPF_TLS_SERVER_DAYS, server_exts,
                       &srv_key, &srv, err);
        did |= GPF_TLS_MADE_SERVER;
    } else if (rc == 0) {
        rc = tighten(f.server_key, err);
    }
    X509_free(ca);
    X509_free(srv);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(srv_key);
    if (rc == 0 && files)
        *files = f;
    if (made)
        *made = rc == 0 ? did : 0;
    return rc;
}

/* ---- pins and key files ----------------------------------------------------------- */

/* x's pin into out (53 bytes or more); 0 or -1. */
static int pin_of(X509 *x, char *out, size_t size)
{
    unsigned char *der = NULL, md[32], b64[48];
    int n = x && size >= 53 ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der) : -1;
    int ok = n > 0 && EVP_Digest(der, (size_t)n, md, NULL, EVP_sha256(), NULL) &&
             EVP_EncodeBlock(b64, md, (int)sizeof md) == 44;
    if (ok)
        snprintf(out, size, "sha256//%s", (const char *)b64);
    OPENSSL_free(der);
    return ok ? 0 : -1;
}

int gpf_tls_pin(const char *cert_path, char *out, size_t size, gpf_error *err)
{
    if (size < 53)
        return gpf_error_set(err, GPF_EINVAL, "pin buffer too small");
    if (access(cert_path, R_OK) != 0)
        return gpf_error_set(err, errno == ENOENT ? GPF_ENOTFOUND : GPF_EIO, "%s: %s", cert_path, strerror(errno));
    X509 *x = read_cert(cert_path);
    int rc = pin_of(x, out, size) == 0 ? 0 : gpf_error_set(err, GPF_EINVAL, "%s: not a PEM certificate", cert_path);
    X509_free(x);
    return rc;
}

int gpf_tls_check_pair(const char *cert_pem, const char *key_pem, int64_t *not_after_s, char *pin, size_t pin_size,
                       gpf_error *err)
{
    BIO *cb = BIO_new_mem_buf(cert_pem, -1), *kb = BIO_new_mem_buf(key_pem, -1);
    X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    struct tm tm;
    int rc = 0;
    if (!x)
        rc = gpf_error_set(err, GPF_EINVAL, "the certificate is not a PEM certificate");
    else if (!k)
        rc = gpf_error_set(err, GPF_EINVAL, "the key is not a PEM private key (without a passphrase)");
    else if (X509_check_private_key(x, k) != 1)
        rc = gpf_error_set(err, GPF_EINVAL, "the key is not the certificate's key");
    else if (pin && pin_of(x, pin, pin_size) != 0)
        rc = gpf_error_set(err, GPF_EINTERNAL, "cannot compute the certificate's pin");
    else if (not_after_s && ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
        rc = gpf_error_set(err, GPF_EINVAL, "the certificate's end date cannot be read");
    else if (not_after_s)
        *not_after_s = (int64_t)timegm(&tm);
    X509_free(x);
    EVP_PKEY_free(k);
    BIO_free(cb);
    BIO_free(kb);
    return rc;
}

int gpf_tls_key_mode_check(const char *key_path, int *group_readable, gpf_error *err)
{
    struct stat st;
    if (group_readable)
        *group_readable = 0;
    if (stat(key_path, &st) != 0)
        return gpf_error_set(err, errno == ENOENT ? GPF_ENOTFOUND : GPF_EIO, "%s: %s", key_path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return gpf_error_set(err, GPF_EINVAL, "%s: not a regular file", key_path);
    return gpf_secret_mode_check(key_path, st.st_mode, "a private key", group_readable, err);
}
