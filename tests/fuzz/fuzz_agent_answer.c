/* libFuzzer target: what an agent reads from the control plane, walked the way
 * agent/agent.c walks it. The input is one JSON answer of GET /v1/agent/commands,
 *   {"seq", "commands":[{"type":"start_pod"|"stop_pod", "pod":{…}}]}, or a bare pod.
 * (The register answer's two fields are read inline in agent.c's do_register.)
 * Every start_pod's pod goes through gpf_decode_agent_pod (fields, ssh key, env) and
 * gpf_decode_agent_pod_image; a stop_pod's pod id must be a valid name. A pod that
 * decodes must encode (gpf_json_agent_pod) to a shape that decodes to the same encoding
 * again, and what was decoded must fit its buffers. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "model/ids.h"
#include "util/alloc.h"
#include "util/oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_COMMANDS 64

static void start_pod(const json_t *jpod)
{
    gpf_error err = {0};
    gpf_pod *p = GPF_NEW(gpf_pod), *q = GPF_NEW(gpf_pod);
    char *key = gpf_calloc(1, GPF_PUBKEY_MAX), *key2 = gpf_calloc(1, GPF_PUBKEY_MAX);
    char env[GPF_TEXT_MAX], env2[GPF_TEXT_MAX], name[GPF_ID_MAX], digest[GPF_DIGEST_MAX];
    if (gpf_decode_agent_pod(jpod, p, key, GPF_PUBKEY_MAX, env, sizeof env, &err) == 0) {
        if (strnlen(p->id, sizeof p->id) == sizeof p->id || strnlen(key, GPF_PUBKEY_MAX) == GPF_PUBKEY_MAX ||
            strnlen(env, sizeof env) == sizeof env || p->placement.ngpus < 0 ||
            p->placement.ngpus > GPF_MAX_POD_GPUS)
            abort();
        gpf_name_valid(p->id); /* the agent's own check before it acts */
        json_t *once = gpf_json_agent_pod(p, key, env);
        gpf_error_clear(&err);
        if (gpf_decode_agent_pod(once, q, key2, GPF_PUBKEY_MAX, env2, sizeof env2, &err) != 0) {
            fprintf(stderr, "our own pod encoding does not decode: %s\n", gpf_error_msg(&err));
            abort();
        }
        json_t *twice = gpf_json_agent_pod(q, key2, env2);
        if (!json_equal(once, twice)) {
            char *a = json_dumps(once, JSON_SORT_KEYS), *b = json_dumps(twice, JSON_SORT_KEYS);
            fprintf(stderr, "pod encoding is not stable:\n%s\n%s\n", a, b);
            abort();
        }
        json_decref(once);
        json_decref(twice);
    }
    gpf_error_clear(&err);
    if (gpf_decode_agent_pod_image(jpod, name, sizeof name, digest, sizeof digest, &err) == 0) {
        if (strnlen(name, sizeof name) == sizeof name || strnlen(digest, sizeof digest) == sizeof digest)
            abort();
        if ((digest[0] && !gpf_oci_digest_valid(digest)) || (name[0] && !gpf_name_valid(name)))
            abort();
    }
    gpf_error_clear(&err);
    gpf_free(key);
    gpf_free(key2);
    gpf_free(p);
    gpf_free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *resp = json_loadb((const char *)data, size, 0, &jerr);
    if (!resp)
        return 0;
    /* commands answer */
    const json_t *cmds = json_object_get(resp, "commands");
    for (size_t i = 0; i < json_array_size(cmds) && i < MAX_COMMANDS; i++) {
        const json_t *c = json_array_get(cmds, i);
        const char *type = json_string_value(json_object_get(c, "type"));
        const json_t *jpod = json_object_get(c, "pod");
        if (type && !strcmp(type, "stop_pod")) {
            const char *id = json_string_value(json_object_get(jpod, "id"));
            if (id)
                gpf_name_valid(id);
        } else if (type && !strcmp(type, "start_pod")) {
            start_pod(jpod);
        }
    }
    /* a bare pod too (what fetch_more and the seed corpus of api_body hold) */
    if (!cmds)
        start_pod(resp);
    json_decref(resp);
    return 0;
}
