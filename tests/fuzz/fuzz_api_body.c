/* libFuzzer target: an HTTP request body as the API receives it, through every
 * strict decoder (SKU create/patch, launch, users, image import, agent
 * register/heartbeat/status/status batch), and our own pod shapes as agents and clients read them. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return 0;
    gpf_error err = {0};
    static gpf_sku sku;
    static gpf_launch_req launch;
    static gpf_user user;
    static gpf_host_rec host;
    static gpf_agent_pod_report reports[64];
    static gpf_agent_pod_status st;
    static gpf_pod pod;
    static char key[GPF_PUBKEY_MAX], env[GPF_TEXT_MAX];
    unsigned changed;
    char tname[GPF_ID_MAX];
    int64_t life;
    if (gpf_decode_sku_create(j, &sku, &err) == 0) {
        json_t *back = gpf_json_sku(&sku); /* what was accepted must encode */
        json_decref(back);
        gpf_decode_sku_patch(j, &sku, &err);
    }
    gpf_decode_launch(j, &launch, &err);
    char reason[GPF_TEXT_MAX];
    gpf_decode_override(j, reason, sizeof reason, &err);
    gpf_decode_user_create(j, &user, &err);
    gpf_decode_user_patch(j, &user, &changed, &err);
    gpf_decode_token_create(j, tname, &life, &err);
    int64_t uses;
    gpf_decode_join_token_create(j, tname, &life, &uses, &err);
    if (gpf_decode_agent_host(j, &host, &err) == 0) {
        json_t *back = gpf_json_agent_host(&host);
        json_decref(back);
    }
    static gpf_hw_gpu gpus[GPF_MAX_HOST_GPUS];
    gpf_agent_report rep = {.pods = reports, .gpus = gpus};
    if (gpf_decode_heartbeat(j, &rep, 64, &err) == 0) {
        json_t *back = gpf_json_heartbeat(&rep);
        json_decref(back);
    }
    if (gpf_decode_agent_pod_status(j, &st, &err) == 0) {
        memcpy(pod.ssh_host_key, st.ssh_host_key, sizeof pod.ssh_host_key);
        pod.isolation_layers = st.isolation_layers;
        pod.ssh_port = 22; /* so that "ssh" (with the key's fingerprint) is encoded */
        json_t *back = gpf_json_pod(&pod);
        json_decref(back);
    }
    static gpf_agent_status_item batch[8];
    size_t nbatch = 0;
    if (gpf_decode_agent_status_batch(j, batch, 8, &nbatch, &err) == 0 && nbatch > 8)
        __builtin_trap(); /* never more than the room it was given */
    char name[GPF_ID_MAX], source[GPF_SOURCE_MAX], digest[GPF_DIGEST_MAX];
    gpf_decode_image_import(j, name, source, sizeof source, &err);
    gpf_decode_agent_pod_image(j, name, sizeof name, digest, sizeof digest, &err);
    if (gpf_decode_agent_pod(j, &pod, key, sizeof key, env, sizeof env, &err) == 0) {
        json_t *back = gpf_json_pod(&pod);
        json_decref(back);
    }
    gpf_decode_pod(j, &pod, &err);
    json_decref(j);
    return 0;
}
