#include "util/secret.h"

#include <openssl/evp.h>
#include <string.h>
#include <sys/random.h>

#include "gpufleet/error.h"

int gpf_random_id(const char *prefix, int nhex, char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    size_t plen = strlen(prefix);
    if (nhex <= 0 || plen + (size_t)nhex + 1 > size)
        return GPF_EINVAL;
    unsigned char rnd[64];
    size_t nbytes = ((size_t)nhex + 1) / 2;
    if (nbytes > sizeof rnd)
        return GPF_EINVAL;
    size_t got = 0;
    while (got < nbytes) {
        ssize_t r = getrandom(rnd + got, nbytes - got, 0);
        if (r > 0)
            got += (size_t)r;
    }
    memcpy(out, prefix, plen);
    for (int i = 0; i < nhex; i++)
        out[plen + (size_t)i] = hex[(rnd[i / 2] >> ((i % 2) ? 0 : 4)) & 0xf];
    out[plen + (size_t)nhex] = '\0';
    return 0;
}

void gpf_sha256_hex(const char *s, char out[65])
{
    gpf_sha256_hex_buf(s, strlen(s), out);
}

void gpf_sha256_hex_buf(const void *data, size_t n, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data, n, md, &len, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < len && i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }
    out[64] = '\0';
}

int gpf_secret_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    size_t n = la < lb ? la : lb;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}
