/* Engine: usage records as users and finance see them. */
#include <string.h>

#include "engine/engine_int.h"
#include "util/alloc.h"

int gpf_engine_usage_list(gpf_engine *e, const gpf_principal *who, const char *pod_id, gpf_usage **out,
                          size_t *n, gpf_error *err)
{
    int rc = eng_can(who, GPF_ACT_USAGE_LIST, NULL, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    *n = 0;
    *out = e->usage.n ? gpf_reallocarray(NULL, e->usage.n, sizeof(gpf_usage)) : NULL;
    for (size_t i = 0; i < e->usage.n; i++) {
        gpf_usage *u = VEC_AT(&e->usage, gpf_usage, i);
        if (gpf_gov_can(who, GPF_ACT_USAGE_READ, &(gpf_gov_object){.owner = u->owner}, NULL, 0) != 0)
            continue;
        if (pod_id && strcmp(u->pod_id, pod_id) != 0)
            continue;
        (*out)[(*n)++] = *u;
    }
    pthread_mutex_unlock(&e->mu);
    return 0;
}
