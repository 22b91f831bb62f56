/* Join tokens as JSON: the create request and the record (never its hash). */
#include "codec/codec.h"

#include <string.h>

#include "codec/codec_int.h"

/* Ten years: the longest a join token may live. */
#define JOIN_EXPIRES_MAX_S (3650LL * 24 * 3600)

int gpf_decode_join_token_create(const json_t *body, char *name, int64_t *expires_in_s, int64_t *uses, gpf_error *err)
{
    static const char *const keys[] = {"name", "expires_in_s", "uses", NULL};
    codec_ctx c = {err, 0, ""};
    char n[GPF_ID_MAX] = "";
    int64_t life = 0, u = -1;
    int rc = 0;
    if (body && !json_is_object(body))
        return codec_not_object(&c, "body");
    if (body && ((rc = codec_check_keys(&c, body, keys)) || (rc = codec_get_name(&c, body, "name", 0, 1, n)) ||
                 (rc = codec_get_int(&c, body, "expires_in_s", 0, 0, JOIN_EXPIRES_MAX_S, &life)) ||
                 (rc = codec_get_int(&c, body, "uses", 0, 1, 1000000000LL, &u))))
        return rc;
    memcpy(name, n, sizeof n);
    *expires_in_s = life;
    *uses = u;
    return 0;
}

json_t *gpf_json_join_token(const gpf_join_token *t, int64_t now_ms)
{
    if (!t)
        return json_null();
    json_t *o = json_object();
    json_object_set_new(o, "id", json_stringn(t->id, strnlen(t->id, sizeof t->id)));
    json_object_set_new(o, "name", json_stringn(t->name, strnlen(t->name, sizeof t->name)));
    json_object_set_new(o, "created_by", json_stringn(t->created_by, strnlen(t->created_by, sizeof t->created_by)));
    json_object_set_new(o, "created_at", gpf_json_time(t->created_ms));
    json_object_set_new(o, "expires_at", gpf_json_time(t->expires_ms));
    json_object_set_new(o, "uses_left", t->uses_left < 0 ? json_null() : json_integer(t->uses_left));
    json_object_set_new(o, "uses", json_integer(t->uses));
    json_object_set_new(o, "last_used_at", gpf_json_time(t->last_used_ms));
    json_object_set_new(o, "revoked_at", gpf_json_time(t->revoked_ms));
    const char *state = t->revoked_ms                             ? "revoked"
                        : t->expires_ms && now_ms >= t->expires_ms ? "expired"
                        : t->uses_left == 0                        ? "used_up"
                                                                   : "active";
    json_object_set_new(o, "state", json_string(state));
    return o;
}
