/* Images and what pods report of their sandbox: the image object, the import request, a
 * pod's image reference (for agents), isolation layers, and SSH host key fingerprints. */
#include "codec/codec.h"

#include <openssl/evp.h>
#include <string.h>

#include "codec/codec_int.h"
#include "util/alloc.h"
#include "util/oci.h"

int gpf_ssh_fingerprint(const char *key, char *out, size_t size)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    unsigned char *blob = NULL;
    char b64[64];
    int rc = GPF_EINVAL;
    if (!gpf_ssh_pubkey_valid(key))
        goto out;
    const char *type = key, *data = strchr(key, ' ') + 1;
    size_t tlen = (size_t)(data - 1 - type), dlen = strcspn(data, " ");
    blob = gpf_malloc(dlen / 4 * 3 + 1);
    int n = EVP_DecodeBlock(blob, (const unsigned char *)data, (int)dlen);
    if (n < 0)
        goto out;
    for (size_t i = dlen; i > 0 && data[i - 1] == '='; i--)
        n--; /* EVP_DecodeBlock counts the padding as zero bytes */
    /* the key blob starts with its type as an SSH string: uint32 length, then the name */
    if (n < 4 || (((size_t)blob[0] << 24) | ((size_t)blob[1] << 16) | ((size_t)blob[2] << 8) | blob[3]) != tlen ||
        (size_t)n < 4 + tlen || memcmp(blob + 4, type, tlen) != 0)
        goto out;
    if (out && size) {
        EVP_Digest(blob, (size_t)n, md, &mdlen, EVP_sha256(), NULL);
        int e = EVP_EncodeBlock((unsigned char *)b64, md, (int)mdlen);
        while (e > 0 && b64[e - 1] == '=')
            e--;
        b64[e > 0 ? e : 0] = '\0';
        snprintf(out, size, "SHA256:%s", b64);
    }
    rc = 0;
out:
    gpf_free(blob);
    return rc;
}

int codec_decode_layers(codec_ctx *c, const json_t *v, unsigned *out)
{
    unsigned set = 0;
    size_t i;
    const json_t *e;
    if (!json_is_array(v) || json_array_size(v) > GPF_MAX_ISOLATION_LAYERS)
        return codec_bad(c, "%sisolation_layers must be an array of at most %d names", c->pfx,
                         GPF_MAX_ISOLATION_LAYERS);
    json_array_foreach(v, i, e)
    {
        int l = json_is_string(e) ? gpf_isolation_layer_parse(json_string_value(e)) : -1;
        if (l < 0)
            return codec_bad(c, "%sisolation_layers[%zu] must be one of userns|netns|pidns|ipcns|utsns|mountns|"
                             "cgroupns|seccomp|no_new_privs|caps_dropped|devices|cgroups|sys_ro|proc_masked",
                             c->pfx, i);
        if (set & (1u << l))
            return codec_bad(c, "%sisolation_layers[%zu] repeats %s", c->pfx, i, json_string_value(e));
        set |= 1u << l;
    }
    *out = set;
    return 0;
}

int codec_decode_image_ref(codec_ctx *c, const json_t *v, char *name, size_t nsize, char *digest, size_t dsize)
{
    char n[GPF_ID_MAX] = "", d[GPF_DIGEST_MAX] = "";
    const char *pfx = c->pfx;
    int rc = 0;
    if (!json_is_object(v))
        return codec_bad(c, "%simage must be an object or null", pfx);
    c->pfx = "image.";
    if ((rc = codec_get_name(c, v, "name", 0, 1, n)) || (rc = codec_get_str(c, v, "digest", 0, d, sizeof d)))
        goto out;
    if (d[0] && !gpf_oci_digest_valid(d)) {
        rc = codec_bad(c, "image.digest must be \"\" or sha256: and 64 lowercase hex digits");
        goto out;
    }
    if (strlen(n) >= nsize || strlen(d) >= dsize) {
        rc = codec_bad(c, "image does not fit its buffer");
        goto out;
    }
    gpf_strlcpy(name, n, nsize);
    gpf_strlcpy(digest, d, dsize);
out:
    c->pfx = pfx;
    return rc;
}

int gpf_decode_agent_pod_image(const json_t *pod, char *name, size_t nsize, char *digest, size_t dsize, gpf_error *err)
{
    codec_ctx c = {err, 1, ""};
    if (!name || !digest || nsize == 0 || dsize == 0)
        return gpf_error_set(err, GPF_EINVAL, "no buffers for the image");
    name[0] = digest[0] = '\0';
    if (!json_is_object(pod))
        return codec_not_object(&c, "pod");
    const json_t *v = json_object_get(pod, "image");
    if (!v || json_is_null(v))
        return 0;
    return codec_decode_image_ref(&c, v, name, nsize, digest, dsize);
}

int gpf_decode_image_import(const json_t *body, char *name, char *source, size_t ssize, gpf_error *err)
{
    static const char *const keys[] = {"name", "source", NULL};
    codec_ctx c = {err, 0, ""};
    int rc = 0;
    if (!json_is_object(body))
        return codec_not_object(&c, "body");
    if ((rc = codec_check_keys(&c, body, keys)) || (rc = codec_get_name(&c, body, "name", 1, 0, name)) ||
        (rc = codec_get_str(&c, body, "source", 1, source, ssize)))
        return rc;
    if (!source[0])
        return codec_bad(&c, "source must name a path on the control plane or a docker://... reference");
    return 0;
}
