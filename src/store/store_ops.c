/* The public store functions: each checks that there is a store and hands its arguments
 * to the backend's op of the same name (store.h). Knows no backend. */
#include "store/store.h"

#include <stddef.h>

/* Calls op of s's backend with the arguments after op; GPF_EINVAL (in err) without a store. */
#define DISPATCH(s, err, op, ...) \
    ((s) ? (s)->ops->op((s), __VA_ARGS__) : gpf_error_set((err), GPF_EINVAL, "store: no store"))

void gpf_store_close(gpf_store *s)
{
    if (s)
        s->ops->close(s);
}

int gpf_store_schema_version(gpf_store *s)
{
    return s ? s->ops->schema_version(s) : GPF_EINVAL;
}

uint64_t gpf_store_committed(gpf_store *s)
{
    return s ? s->ops->committed(s) : 0;
}

int gpf_store_sync_to(gpf_store *s, uint64_t seq, gpf_error *err)
{
    return DISPATCH(s, err, sync_to, seq, err);
}

int gpf_store_rollback(gpf_store *s)
{
    return s ? s->ops->rollback(s) : GPF_EINVAL;
}

/* Defines gpf_store_<op>(params) (declared in store.h) as a call of the backend's op
 * with the arguments after params. */
#define OP(op, params, ...) \
    int gpf_store_##op params \
    { \
        return DISPATCH(s, err, op, __VA_ARGS__); \
    }

OP(begin, (gpf_store *s, gpf_error *err), err)
OP(commit, (gpf_store *s, gpf_error *err), err)
OP(setting_get, (gpf_store *s, const char *key, char *val, size_t size, gpf_error *err), key, val, size, err)
OP(setting_put, (gpf_store *s, const char *key, const char *val, gpf_error *err), key, val, err)
OP(host_put, (gpf_store *s, const gpf_host_rec *h, gpf_error *err), h, err)
OP(sku_put, (gpf_store *s, const gpf_sku *k, gpf_error *err), k, err)
OP(sku_delete, (gpf_store *s, const char *name, gpf_error *err), name, err)
OP(image_put, (gpf_store *s, const gpf_image *im, gpf_error *err), im, err)
OP(image_delete, (gpf_store *s, const char *name, gpf_error *err), name, err)
OP(user_put, (gpf_store *s, const gpf_user *u, gpf_error *err), u, err)
OP(token_put, (gpf_store *s, const gpf_token *t, gpf_error *err), t, err)
OP(tokens_delete_for_host, (gpf_store *s, const char *host_id, gpf_error *err), host_id, err)
OP(join_token_put, (gpf_store *s, const gpf_join_token *t, gpf_error *err), t, err)
OP(pod_put, (gpf_store *s, const gpf_pod *p, gpf_error *err), p, err)
OP(usage_insert, (gpf_store *s, gpf_usage *u, gpf_error *err), u, err)
OP(usage_update, (gpf_store *s, const gpf_usage *u, gpf_error *err), u, err)
OP(event_insert, (gpf_store *s, gpf_event *ev, gpf_error *err), ev, err)
OP(events_list, (gpf_store *s, const gpf_event_filter *f, gpf_event **out, size_t *n, gpf_error *err), f, out, n, err)
OP(hosts_load, (gpf_store *s, gpf_host_rec **out, size_t *n, gpf_error *err), out, n, err)
OP(skus_load, (gpf_store *s, gpf_sku **out, size_t *n, gpf_error *err), out, n, err)
OP(images_load, (gpf_store *s, gpf_image **out, size_t *n, gpf_error *err), out, n, err)
OP(users_load, (gpf_store *s, gpf_user **out, size_t *n, gpf_error *err), out, n, err)
OP(tokens_load, (gpf_store *s, gpf_token **out, size_t *n, gpf_error *err), out, n, err)
OP(join_tokens_load, (gpf_store *s, gpf_join_token **out, size_t *n, gpf_error *err), out, n, err)
OP(pods_load, (gpf_store *s, gpf_pod **out, size_t *n, gpf_error *err), out, n, err)
OP(usage_load, (gpf_store *s, gpf_usage **out, size_t *n, gpf_error *err), out, n, err)
OP(pod_get, (gpf_store *s, const char *id, gpf_pod *out, gpf_error *err), id, out, err)
OP(pods_query, (gpf_store *s, const gpf_pod_query *q, gpf_pod **out, size_t *n, gpf_error *err), q, out, n, err)
OP(usage_query, (gpf_store *s, const gpf_usage_query *q, gpf_usage **out, size_t *n, gpf_error *err), q, out, n, err)
OP(history_counts, (gpf_store *s, gpf_store_counts *out, gpf_error *err), out, err)
