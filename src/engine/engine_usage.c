/* Engine: usage records as users and finance see them, read from the store (memory holds
 * only the open ones, for metering). */
#include <string.h>

#include "engine/engine_int.h"
#include "util/alloc.h"

int gpf_engine_usage_page(gpf_engine *e, const gpf_principal *who, const gpf_usage_query *q, gpf_usage **out,
                          size_t *n, int *more, gpf_error *err)
{
    *out = NULL;
    *n = 0;
    *more = 0;
    int rc = eng_can(who, GPF_ACT_USAGE_LIST, NULL, err);
    if (rc != 0)
        return rc;
    gpf_usage_query sq = *q;
    if (!eng_page_owner(who, gpf_gov_can(who, GPF_ACT_USAGE_READ_ALL, NULL, NULL, 0) == 0, q->owner, &sq.owner))
        return 0; /* another user's records: none visible */
    if (sq.limit)
        sq.limit++; /* one more says whether there is a next page */
    /* every record, open or closed, is in the store as committed: it is the one source */
    int slot = -1;
    gpf_store *s = eng_read_begin(e, &slot);
    rc = gpf_store_usage_query(s, &sq, out, n, err);
    eng_read_end(e, slot);
    if (rc != 0)
        return rc;
    *more = eng_page_more(n, q->limit);
    size_t k = 0;
    for (size_t i = 0; i < *n; i++)
        if (gpf_gov_can(who, GPF_ACT_USAGE_READ, &(gpf_gov_object){.owner = (*out)[i].owner}, NULL, 0) == 0)
            (*out)[k++] = (*out)[i];
    *n = k;
    return 0;
}

int gpf_engine_usage_list(gpf_engine *e, const gpf_principal *who, const char *pod_id, gpf_usage **out,
                          size_t *n, gpf_error *err)
{
    int more = 0;
    gpf_usage_query q = {.pod_id = pod_id};
    return gpf_engine_usage_page(e, who, &q, out, n, &more, err);
}
