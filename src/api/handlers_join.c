/* Host identity handlers: join tokens and re-keys (docs/api.md, "Host identity"). */
#include <string.h>

#include "api/api_int.h"
#include "util/alloc.h"

/* POST /v1/join-tokens {"name"?, "expires_in_s"?, "uses"?}: 201 with the record and, this
 * once, its secret ("token"). */
void h_join_token_create(api_req *q, api_resp *r)
{
    char secret[96], name[GPF_ID_MAX];
    int64_t expires_in_s = 0, uses = -1;
    gpf_join_token t;
    gpf_error err = {0};
    if (gpf_decode_join_token_create(q->body, name, &expires_in_s, &uses, &err) != 0 ||
        gpf_engine_join_token_create(q->engine, &q->who, name, expires_in_s * 1000, uses, secret, sizeof secret, &t,
                                     &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    json_t *j = gpf_json_join_token(&t, gpf_engine_now(q->engine));
    json_object_set_new(j, "token", json_string(secret));
    api_json(r, 201, j);
    explicit_bzero(secret, sizeof secret);
}

/* GET /v1/join-tokens: every join token (unpaged: an installation has few), no secrets. */
void h_join_tokens(api_req *q, api_resp *r)
{
    gpf_join_token *t = NULL;
    size_t n = 0;
    gpf_error err = {0};
    if (gpf_engine_join_token_list(q->engine, &q->who, &t, &n, &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    int64_t now = gpf_engine_now(q->engine);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, gpf_json_join_token(&t[i], now));
    gpf_free(t);
    api_json(r, 200, json_pack("{s:o}", "join_tokens", arr));
}

/* DELETE /v1/join-tokens/{id}: revoked (200 with the record). */
void h_join_token_revoke(api_req *q, api_resp *r)
{
    gpf_join_token t;
    gpf_error err = {0};
    if (api_name_param(q, r, "join token") != 0)
        return;
    if (gpf_engine_join_token_revoke(q->engine, &q->who, q->params[0], &t, &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    api_json(r, 200, gpf_json_join_token(&t, gpf_engine_now(q->engine)));
}

/* POST /v1/hosts/{id}/rekey: the host's agent tokens revoked, its next join-token
 * registration allowed to replace it (200 with the host). */
void h_host_rekey(api_req *q, api_resp *r)
{
    gpf_host_rec *h = GPF_NEW(gpf_host_rec);
    gpf_error err = {0};
    if (api_name_param(q, r, "host") == 0) {
        if (gpf_engine_host_rekey(q->engine, &q->who, q->params[0], h, &err) != 0)
            api_error_from(r, &err);
        else
            api_json(r, 200, gpf_json_host(h, NULL));
    }
    gpf_free(h);
}
