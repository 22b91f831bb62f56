/* API handlers for the credential lifecycle: listing and revoking user tokens, deleting
 * users (creating tokens and disabling users are in handlers.c, with the rest of users). */
#include <string.h>

#include "api/api_int.h"
#include "api/page.h"
#include "util/alloc.h"

/* A list of tokens as it is answered, at one time (expired is relative to it). */
typedef struct token_list {
    gpf_token *t;
    int64_t now;
} token_list;

static const char *token_key(const void *ctx, size_t i)
{
    return ((const token_list *)ctx)->t[i].id;
}

static json_t *token_json(const void *ctx, size_t i)
{
    const token_list *l = ctx;
    return gpf_json_token(&l->t[i], l->now);
}

/* GET /v1/tokens[?user=NAME|?all=1][&limit=&cursor=]: the caller's own tokens; admins another
 * user's or everyone's; by id, paged. Never the secret or its hash. */
void h_tokens(api_req *q, api_resp *r)
{
    token_list l = {NULL, 0};
    size_t n = 0;
    long long all = 0;
    gpf_error err = {0};
    api_page pg;
    if (api_query_int(q, r, "all", 0, 1, 0, &all) != 0 || api_page_parse(q, r, "tokens", 0, &pg) != 0)
        return;
    if (gpf_engine_token_list(q->engine, &q->who, api_query(q, "user"), (int)all, &l.t, &n, &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    l.now = gpf_engine_now(q->engine);
    api_page_answer(r, &pg, "tokens", n, token_key, token_json, &l);
    gpf_free(l.t);
}

/* DELETE /v1/tokens/{id}: revoked at once; 204. Another user's token is 404 to a non-admin. */
void h_token_revoke(api_req *q, api_resp *r)
{
    gpf_error err = {0};
    if (api_name_param(q, r, "token") != 0)
        return;
    if (gpf_engine_token_revoke(q->engine, &q->who, q->params[0], &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    r->status = 204;
}

/* DELETE /v1/users/{name} (admin): tokens revoked, live pods stopped, records kept; 204. */
void h_user_delete(api_req *q, api_resp *r)
{
    gpf_error err = {0};
    if (api_name_param(q, r, "user") != 0)
        return;
    if (gpf_engine_user_delete(q->engine, &q->who, q->params[0], &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    r->status = 204;
}
