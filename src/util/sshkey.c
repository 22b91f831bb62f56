/* Ed25519 host keys in OpenSSH's formats (see sshkey.h). The private key file is, after
 * "openssh-key-v1\0", the SSH wire encoding of: cipher "none", KDF "none", empty KDF
 * options, one key, its public key blob, and the private section (two equal check words,
 * key type, public key, private key as seed || public, comment, padding 1 2 3 … to a
 * multiple of 8), base64 in lines of 70 between the BEGIN/END markers. */
#include "util/sshkey.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#define KEY_TYPE "ssh-ed25519"

static void put_u32(gpf_buf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                          (unsigned char)v};
    gpf_buf_append(b, x, 4);
}

static void put_string(gpf_buf *b, const void *data, size_t n)
{
    put_u32(b, (uint32_t)n);
    gpf_buf_append(b, data, n);
}

/* Base64 of data into out, with a newline every `wrap` characters (0: one line). */
static void put_base64(gpf_buf *out, const unsigned char *data, size_t n, int wrap)
{
    for (size_t off = 0; off < n;) {
        size_t chunk = wrap ? (size_t)wrap / 4 * 3 : n - off;
        if (chunk > n - off)
            chunk = n - off;
        unsigned char line[4 * 64 + 8];
        unsigned char *big = chunk > 3 * 64 ? OPENSSL_malloc(4 * ((chunk + 2) / 3) + 1) : NULL;
        unsigned char *dst = big ? big : line;
        int len = EVP_EncodeBlock(dst, data + off, (int)chunk);
        gpf_buf_append(out, dst, (size_t)len);
        if (wrap)
            gpf_buf_putc(out, '\n');
        OPENSSL_free(big);
        off += chunk;
    }
}

int gpf_sshkey_ed25519(const char *comment, gpf_buf *priv, gpf_buf *pub, gpf_error *err)
{
    unsigned char seed[32], pk[32];
    size_t slen = sizeof seed, plen = sizeof pk;
    uint32_t check = 0;
    gpf_buf blob = {0}, body = {0}, sec = {0};
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *key = NULL;
    int rc = 0;
    size_t clen = comment ? strlen(comment) : 0;
    for (size_t i = 0; i < clen; i++)
        if ((unsigned char)comment[i] < 0x20 || comment[i] == 0x7f)
            return gpf_error_set(err, GPF_EINVAL, "key comment has a control character");
    if (clen >= 200)
        return gpf_error_set(err, GPF_EINVAL, "key comment too long");
    if (!(ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL)) || EVP_PKEY_keygen_init(ctx) <= 0 ||
        EVP_PKEY_keygen(ctx, &key) <= 0 || EVP_PKEY_get_raw_private_key(key, seed, &slen) <= 0 ||
        EVP_PKEY_get_raw_public_key(key, pk, &plen) <= 0 || slen != 32 || plen != 32 ||
        getrandom(&check, sizeof check, 0) != (ssize_t)sizeof check) {
        rc = gpf_error_set(err, GPF_EINTERNAL, "cannot make an Ed25519 key");
        goto out;
    }
    put_string(&blob, KEY_TYPE, strlen(KEY_TYPE));
    put_string(&blob, pk, sizeof pk);

    put_u32(&sec, check);
    put_u32(&sec, check);
    put_string(&sec, KEY_TYPE, strlen(KEY_TYPE));
    put_string(&sec, pk, sizeof pk);
    put_u32(&sec, 64);
    gpf_buf_append(&sec, seed, sizeof seed);
    gpf_buf_append(&sec, pk, sizeof pk);
    put_string(&sec, comment ? comment : "", clen);
    for (unsigned char pad = 1; sec.len % 8; pad++)
        gpf_buf_append(&sec, &pad, 1);

    gpf_buf_append(&body, "openssh-key-v1", sizeof "openssh-key-v1"); /* with its NUL */
    put_string(&body, "none", 4);
    put_string(&body, "none", 4);
    put_string(&body, "", 0);
    put_u32(&body, 1);
    put_string(&body, blob.data, blob.len);
    put_string(&body, sec.data, sec.len);

    gpf_buf_puts(priv, "-----BEGIN OPENSSH PRIVATE KEY-----\n");
    put_base64(priv, (const unsigned char *)body.data, body.len, 70);
    gpf_buf_puts(priv, "-----END OPENSSH PRIVATE KEY-----\n");
    gpf_buf_puts(pub, KEY_TYPE " ");
    put_base64(pub, (const unsigned char *)blob.data, blob.len, 0);
    gpf_buf_printf(pub, "%s%s\n", clen ? " " : "", comment ? comment : "");
out:
    OPENSSL_cleanse(seed, sizeof seed);
    if (sec.data)
        OPENSSL_cleanse(sec.data, sec.len);
    if (body.data)
        OPENSSL_cleanse(body.data, body.len);
    gpf_buf_clear(&blob);
    gpf_buf_clear(&body);
    gpf_buf_clear(&sec);
    EVP_PKEY_free(key);
    EVP_PKEY_CTX_free(ctx);
    return rc;
}
