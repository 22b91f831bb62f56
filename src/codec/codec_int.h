/* Internals shared by the codec's decoder files (codec_decode.c, codec_agent.c);
 * not part of the API. All codec_get_* helpers leave *out untouched when an optional
 * field is absent, and return 0 or GPF_EINVAL with a message naming the field. */
#ifndef GPF_CODEC_CODEC_INT_H
#define GPF_CODEC_CODEC_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "model/fleet.h"
#include "util/error.h"

#define CODEC_MEM_MIB_MAX      16777216LL /* 16 TiB, per SKU / per GPU */
#define CODEC_HOST_MEM_MIB_MAX 1099511627776LL
#define CODEC_SECONDS_MAX      31536000LL      /* one year */
#define CODEC_PRICE_MAX        1000000000000LL /* 10^12 micro = one million per hour */
#define CODEC_NAME_RULE        "[a-z0-9][a-z0-9._-]{0,62}"

typedef struct codec_ctx {
    gpf_error *err;
    int lenient;     /* unknown fields ignored, null treated as absent */
    const char *pfx; /* prepended to field names in messages ("slice.") */
} codec_ctx;

#define CODEC_POD_STATES "pending|starting|running|stopping|stopped|failed|preempted|expired|lost"

/* Sets GPF_EINVAL with the formatted message; returns GPF_EINVAL. */
int codec_bad(codec_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets GPF_EMALFORMED "<what> must be a JSON object". */
int codec_not_object(codec_ctx *c, const char *what);

/* 1 when s[0..n) holds a byte < 0x20 or 0x7f. */
int codec_has_ctrl(const char *s, size_t n);
/* 1 when s is 1..max chars: first an ASCII letter/digit or one of `first`, the rest
 * letters/digits or one of `rest`. */
int codec_token_valid(const char *s, const char *first, const char *rest, size_t max);
/* Catalog-style key: [A-Za-z0-9][A-Za-z0-9._+-]*, at most max chars. */
int codec_model_key_valid(const char *s, size_t max);
/* "" or "K=V;K2=V2" with K = [A-Za-z_][A-Za-z0-9_]*. */
int codec_env_valid(const char *s);

/* Rejects a key not in the NULL-terminated allowed list (no-op when lenient). */
int codec_check_keys(codec_ctx *c, const json_t *obj, const char *const *allowed);
/* Value checks; name is the field's display name. */
int codec_v_int(codec_ctx *c, const json_t *v, const char *name, long long min, long long max,
                int64_t *out);
/* String that fits dst (dstsz includes the NUL) and holds no control characters. */
int codec_v_str(codec_ctx *c, const json_t *v, const char *name, char *dst, size_t dstsz);

/* Field getters (field name = c->pfx + key). */
int codec_get_int(codec_ctx *c, const json_t *obj, const char *key, int required, long long min,
                  long long max, int64_t *out);
int codec_get_int32(codec_ctx *c, const json_t *obj, const char *key, int required, int min,
                    int max, int *out);
int codec_get_str(codec_ctx *c, const json_t *obj, const char *key, int required, char *dst,
                  size_t dstsz);
int codec_get_bool(codec_ctx *c, const json_t *obj, const char *key, int *out);
/* A gpf_name_valid name into a GPF_ID_MAX buffer; "" accepted when allow_empty. */
int codec_get_name(codec_ctx *c, const json_t *obj, const char *key, int required, int allow_empty,
                   char *dst);
/* A string parsed by parse (-1 = unknown); choices is shown in the message. */
int codec_get_enum(codec_ctx *c, const json_t *obj, const char *key, int required,
                   int (*parse)(const char *), const char *choices, int *out);
/* RFC 3339 string or null (-> *out untouched) to UTC ms. */
int codec_get_time(codec_ctx *c, const json_t *obj, const char *key, int64_t *out);
/* A slice object; merge applies it onto *s (a changed kind starts a fresh slice).
 * Strict mode validates the result as a whole. */
int codec_decode_slice(codec_ctx *c, const json_t *v, gpf_slice_spec *s, int merge);
/* "isolation_layers": an array of at most GPF_MAX_ISOLATION_LAYERS distinct layer names
 * (gpf_isolation_layer_parse) -> a bit set. */
int codec_decode_layers(codec_ctx *c, const json_t *v, unsigned *out);
/* {"name","digest"}: name "" or a gpf_name_valid name, digest "" or a gpf_oci_digest_valid
 * one; both must fit (sizes include the NUL). */
int codec_decode_image_ref(codec_ctx *c, const json_t *v, char *name, size_t nsize, char *digest, size_t dsize);
/* Optional "ssh_pubkey": "" or a gpf_ssh_pubkey_valid line. */
int codec_get_pubkey(codec_ctx *c, const json_t *obj, char *dst, size_t dstsz);

#endif
