/* JSON <-> domain records: the HTTP API's bodies and the agent's messages to and from the
 * control plane (shapes in docs/api.md). Its own module so that the API (src/api) and the
 * agent (src/agent), which depend on it, need nothing of each other.
 * Encoders return a new jansson reference (caller json_decref's).
 * Decoders are strict: wrong types, missing required fields, unknown fields and bad
 * values give GPF_EINVAL with a message naming the field ("slice.share_milli must be
 * 1..1000"); a body that is not an object gives GPF_EMALFORMED. */
#ifndef GPF_CODEC_CODEC_H
#define GPF_CODEC_CODEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "model/agent.h"
#include "model/fleet.h"
#include "model/tenancy.h"
#include "model/usage.h"
#include "model/views.h"
#include "util/buf.h"
#include "util/error.h"


json_t *gpf_json_time(int64_t ms);             /* RFC 3339 string, or null when 0 */
json_t *gpf_json_gpu(const gpf_gpu_rec *g, int allocated_milli, int mig_used_slots);
json_t *gpf_json_host(const gpf_host_rec *h, const gpf_host_usage *u); /* u may be NULL */
json_t *gpf_json_slice(const gpf_slice_spec *s);
json_t *gpf_json_sku(const gpf_sku *k);
json_t *gpf_json_pod(const gpf_pod *p);         /* includes "ssh" with the ready-to-paste command */
/* The documents of gpf_json_slice, _pod, _gpu and _host written as compact JSON text into b
 * (util/jsonw.h: as an array item or after a key), byte for byte what json_dumps makes of
 * the tree; the tree forms are parsed from this text, so both come from one encoder. */
void gpf_jsonw_slice(gpf_buf *b, const gpf_slice_spec *s);
void gpf_jsonw_pod(gpf_buf *b, const gpf_pod *p);
void gpf_jsonw_gpu(gpf_buf *b, const gpf_gpu_rec *g, int allocated_milli, int mig_used_slots);
void gpf_jsonw_host(gpf_buf *b, const gpf_host_rec *h, const gpf_host_usage *u); /* u may be NULL */
json_t *gpf_json_usage(const gpf_usage *u, int64_t now_ms); /* open records count to now_ms */
json_t *gpf_json_user(const gpf_user *u);       /* with "disabled" */
/* {"id","name","user","created_at","last_used_at","expires_at","expired"} (times null when 0;
 * expired: expires_at has passed at now_ms); never the hash. */
json_t *gpf_json_token(const gpf_token *t, int64_t now_ms);
json_t *gpf_json_event(const gpf_event *ev);
/* {"id","name","created_by","created_at","expires_at","uses_left" (null: unlimited),"uses",
 * "last_used_at","revoked_at","state"} (times null when 0; state at now_ms: active, expired,
 * used_up or revoked); never the hash (codec_join.c). */
json_t *gpf_json_join_token(const gpf_join_token *t, int64_t now_ms);
json_t *gpf_json_error(int code, const char *message); /* {"error":{"code","message"}} */
json_t *gpf_json_image(const gpf_image *im); /* {"name","digest","size_bytes","source","created_at"} */

/* Names are checked with gpf_name_valid (model/ids.h). */

/* POST /v1/skus body -> sku (timestamps left 0). Validates the slice per kind. */
int gpf_decode_sku_create(const json_t *body, gpf_sku *out, gpf_error *err);
/* PATCH /v1/skus/{name}: applies the fields present onto *sku ("name" not allowed). */
int gpf_decode_sku_patch(const json_t *body, gpf_sku *sku, gpf_error *err);

int gpf_decode_launch(const json_t *body, gpf_launch_req *out, gpf_error *err);

/* POST /v1/hosts/{id}/override {"reason"} (required, non-empty; size includes the NUL). */
int gpf_decode_override(const json_t *body, char *reason, size_t size, gpf_error *err);

/* POST /v1/users {"name","role","ssh_pubkey"?} */
int gpf_decode_user_create(const json_t *body, gpf_user *out, gpf_error *err);
/* PATCH /v1/users/{name} {"ssh_pubkey"?, "role"?, "disabled"?}: applied onto *u; *changed
 * (may be NULL) gets the GPF_USER_* bits of the fields present. */
int gpf_decode_user_patch(const json_t *body, gpf_user *u, unsigned *changed, gpf_error *err);
/* POST /v1/users/{name}/tokens {"name"?, "expires_in_s"?} (body may be NULL: neither): name
 * into a GPF_ID_MAX buffer ("" = unnamed), expires_in_s 0 (never) .. GPF_TOKEN_EXPIRES_MAX_S. */
int gpf_decode_token_create(const json_t *body, char *name, int64_t *expires_in_s, gpf_error *err);
/* POST /v1/join-tokens {"name"?, "expires_in_s"?, "uses"?} (body may be NULL: none): name
 * into a GPF_ID_MAX buffer ("" = unnamed), expires_in_s 0 (never) .. ten years, uses -1
 * (absent: unlimited) or 1 .. 10^9. */
int gpf_decode_join_token_create(const json_t *body, char *name, int64_t *expires_in_s, int64_t *uses,
                                 gpf_error *err);
/* An OpenSSH public key line: "<type> <base64> [comment]", type in ssh-ed25519,
 * ssh-rsa, ecdsa-sha2-nistp256/384/521, sk-*; one line, no control characters. */
int gpf_ssh_pubkey_valid(const char *s);
/* The fingerprint `ssh-keygen -lf` prints for an OpenSSH public key line: "SHA256:" and
 * the unpadded base64 of the SHA-256 of the key blob, into out (size >= 52; out may be
 * NULL to only check). GPF_EINVAL when key is not a valid line or its blob does not decode
 * or does not start with its type. */
int gpf_ssh_fingerprint(const char *key, char *out, size_t size);

/* POST /v1/images {"name","source"} (both required): name into a GPF_ID_MAX buffer, source
 * (ssize includes the NUL). Where the source is and what it holds the engine checks. */
int gpf_decode_image_import(const json_t *body, char *name, char *source, size_t ssize, gpf_error *err);

/* Agent register {"host":{…,"gpus":[…]},"isolation_max"?} -> host record (state/time
 * fields left 0); without "isolation_max", gpf_host_isolation_default(host.runtime); without
 * "host.max_pods" (1..1048576), max_pods 0 (gpf_host_pods_max). */
int gpf_decode_agent_host(const json_t *body, gpf_host_rec *out, gpf_error *err);
/* Agent heartbeat {"pods":[{"id","state","at_ms"?,"message"?,"idle_s"?}], "gpus":[…]?}
 * (docs/api.md). out->pods must have room for max_pods entries (more -> GPF_EINVAL) and
 * out->gpus for GPF_MAX_HOST_GPUS; the counts and has_gpus are set. A "gpus" entry is a
 * UUID string or an object with "uuid", "mig" and "processes" (then has_hw). */
int gpf_decode_heartbeat(const json_t *body, gpf_agent_report *out, int max_pods, gpf_error *err);
/* Agent pod status {"state":"running|failed|stopped","message","ssh_port","ssh_user",
 * "device_ids","isolation","ssh_host_key","isolation_layers"} (only "state" required).
 * ssh_host_key: the pod sshd's public key line (gpf_ssh_fingerprint must accept it);
 * isolation_layers: distinct names of gpf_isolation_layer, at most 16. */
int gpf_decode_agent_pod_status(const json_t *body, gpf_agent_pod_status *out, gpf_error *err);
/* Agent pod status batch {"reports":[{"pod_id", …the fields above…}, …]}: at most max
 * reports (more -> GPF_ETOOLARGE), into out (room for max), in order; *n gets how many.
 * Any bad report refuses the whole body (GPF_EINVAL naming reports[i]; *n then counts the
 * good ones before it). */
int gpf_decode_agent_status_batch(const json_t *body, gpf_agent_status_item *out, size_t max, size_t *n,
                                  gpf_error *err);

/* Agent side: the inverse shapes. */
json_t *gpf_json_agent_host(const gpf_host_rec *h); /* {"host":{…}} for register ("isolation_max" when given) */
json_t *gpf_json_heartbeat(const gpf_agent_report *r); /* inverse of gpf_decode_heartbeat */
/* The pod part of a start_pod command: pod fields + "ssh_pubkey" + "env". */
json_t *gpf_json_agent_pod(const gpf_pod *p, const char *ssh_pubkey, const char *env);
/* Inverse of gpf_json_agent_pod (lenient about extra fields: it is our own shape). */
int gpf_decode_agent_pod(const json_t *obj, gpf_pod *out, char *ssh_pubkey, size_t keysz,
                         char *env, size_t envsz, gpf_error *err);
/* The image a start_pod command's pod runs: its "image" {"name","digest"} into name and
 * digest (sizes include the NUL; GPF_ID_MAX and GPF_DIGEST_MAX fit). Both "" when the pod
 * has no "image" (an older control plane); digest "" when the control plane has no such
 * image (the agent decides what to run). GPF_EINVAL for a bad name or digest. */
int gpf_decode_agent_pod_image(const json_t *pod, char *name, size_t nsize, char *digest, size_t dsize,
                               gpf_error *err);
/* Inverse of gpf_json_pod for clients (lenient). */
int gpf_decode_pod(const json_t *obj, gpf_pod *out, gpf_error *err);

#endif
