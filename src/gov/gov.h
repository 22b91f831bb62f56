/* Governance, part one: who may do what. One pure function answers "may this principal do
 * this action to this object?" with allow, or deny and the reason the API shows. It holds
 * every permission rule the control plane applies (the engine's checks, and the routes any
 * authenticated caller may use); quota admission, fair share, preemption victims and explain
 * join this module as the governance issue lands.
 *
 * Pure: no I/O, no clock, no globals; the caller looks the object up and passes what the
 * rule needs (its id, owner, host).
 *
 * The refusal texts are the engine's former messages, word for word, so that the API's JSON
 * stayed the same when the engine moved its inline checks here.
 *
 * Engine call sites (each keeps its order of checks; eng_can in engine_auth.c turns a
 * refusal into gpf_error_set(err, rc, "%s", why), filters pass why NULL):
 *   engine_auth.c gpf_engine_token_create         GPF_ACT_TOKEN_CREATE   {.id = user}
 *   engine_tokens.c gpf_engine_token_list         GPF_ACT_TOKEN_LIST     {.id = user, "" for all}
 *   engine_tokens.c gpf_engine_token_revoke       GPF_ACT_TOKEN_REVOKE   {.id = the token's user}; a
 *     refusal is answered as an unknown token (GPF_ENOTFOUND, "no token '…'")
 *   engine_users.c gpf_engine_user_update         with GPF_USER_DISABLED, GPF_ACT_USER_DISABLE
 *   engine_users.c gpf_engine_user_delete         GPF_ACT_USER_DELETE
 *   engine_users.c gpf_engine_user_create         GPF_ACT_USER_CREATE
 *   engine_users.c gpf_engine_user_list           GPF_ACT_USER_LIST
 *   engine_users.c gpf_engine_user_get            GPF_ACT_USER_READ      {.id = name}
 *   engine_users.c gpf_engine_user_update         GPF_ACT_USER_UPDATE    {.id = u->name}, then,
 *                                                 with role_changed, GPF_ACT_USER_SET_ROLE
 *   engine_skus.c gpf_engine_sku_create, _update, _delete   GPF_ACT_SKU_WRITE
 *   engine_usage.c gpf_engine_usage_list          GPF_ACT_USAGE_LIST, then per record
 *     GPF_ACT_USAGE_READ {.owner = u->owner} (a filter)
 *   engine_pods.c gpf_engine_pod_launch           GPF_ACT_POD_LAUNCH
 *   engine_pods.c find_visible (gpf_engine_pod_get, _wait, _stop): GPF_ACT_POD_READ
 *     (GPF_ACT_POD_STOP for gpf_engine_pod_stop) with NULL before eng_pod (an agent token is
 *     refused before "no pod"), then with {.id = id, .owner = p->owner}; a refusal of that
 *     second call is answered as an unknown pod (GPF_ENOTFOUND, "no pod '…'"), not with why,
 *     so that a pod's existence does not leak
 *   engine_pods.c gpf_engine_pod_list             GPF_ACT_POD_LIST, then per pod GPF_ACT_POD_READ
 *   engine_images.c gpf_engine_image_import, _delete   GPF_ACT_IMAGE_WRITE
 *   engine_images.c gpf_engine_image_blob_open    GPF_ACT_IMAGE_BLOB_READ
 *   engine_reconcile.c gpf_engine_host_override   GPF_ACT_HOST_OVERRIDE
 *   engine_join.c gpf_engine_host_rekey           GPF_ACT_HOST_REKEY
 *   engine_join.c gpf_engine_join_token_create, _revoke   GPF_ACT_JOIN_TOKEN_WRITE
 *   engine_join.c gpf_engine_join_token_list      GPF_ACT_JOIN_TOKEN_LIST
 *   engine_reconcile.c gpf_engine_events_list     GPF_ACT_EVENT_LIST, then per event
 *     GPF_ACT_EVENT_READ {.owner = owner of the event's pod; "" when none or unknown}
 *   engine_agent.c require_agent (gpf_engine_agent_heartbeat, _commands, _pod_status):
 *     GPF_ACT_AGENT_REPORT (the "host '…' is not registered" lookup stays in the engine)
 *   engine_agent.c gpf_engine_agent_pod_status, after mark_seen: GPF_ACT_AGENT_POD_STATUS
 *     {.id = pod_id, .host_id = p ? p->placement.host_id : NULL}; a refusal still counts
 *     bad_agent_reports_total.
 * The reads any authenticated caller may make (GPF_ACT_HOST_READ, _SKU_READ, _IMAGE_READ,
 * _METRICS_READ) are allowed by the API's routing today (AUTH_ANY) and by no engine check;
 * they are here so that the table is complete and a later restriction has one home. */
#ifndef GPF_GOV_GOV_H
#define GPF_GOV_GOV_H

#include <stddef.h>

#include "model/tenancy.h"

typedef enum {
    /* reads any authenticated principal may make, agents included */
    GPF_ACT_HOST_READ = 0,      /* hosts, GPUs, one host */
    GPF_ACT_SKU_READ,
    GPF_ACT_IMAGE_READ,
    GPF_ACT_METRICS_READ,
    /* users and tokens */
    GPF_ACT_USER_CREATE,        /* admin */
    GPF_ACT_USER_LIST,          /* admin */
    GPF_ACT_USER_READ,          /* admin, or the user itself (object id = the user's name) */
    GPF_ACT_USER_UPDATE,        /* admin, or the user itself (its SSH key) */
    GPF_ACT_USER_SET_ROLE,      /* admin */
    GPF_ACT_TOKEN_CREATE,       /* admin, or the user itself (object id = the token's user) */
    GPF_ACT_TOKEN_LIST,         /* admin, or the user itself (object id = the tokens' user; "" = everyone's) */
    GPF_ACT_TOKEN_REVOKE,       /* admin, or the token's user (object id = the token's user) */
    GPF_ACT_USER_DISABLE,       /* admin: disable or enable a user */
    GPF_ACT_USER_DELETE,        /* admin */
    /* the catalog of offers, images and hosts: staff (admin, operator) */
    GPF_ACT_SKU_WRITE,          /* create, update, delete */
    GPF_ACT_IMAGE_WRITE,        /* import, delete */
    GPF_ACT_HOST_OVERRIDE,      /* set or clear a preflight override */
    GPF_ACT_HOST_REKEY,         /* let the next join-token registration replace a host */
    GPF_ACT_JOIN_TOKEN_WRITE,   /* create, revoke join tokens */
    GPF_ACT_JOIN_TOKEN_LIST,    /* list join tokens (never their secrets) */
    /* pods */
    GPF_ACT_POD_LAUNCH,         /* admin, operator, member */
    GPF_ACT_POD_LIST,           /* any user (the list holds what GPF_ACT_POD_READ allows) */
    GPF_ACT_POD_READ,           /* staff any pod; others their own */
    GPF_ACT_POD_STOP,           /* as GPF_ACT_POD_READ */
    /* usage and events */
    GPF_ACT_USAGE_LIST,         /* any user (the list holds what GPF_ACT_USAGE_READ allows) */
    GPF_ACT_USAGE_READ_ALL,     /* staff and finance read every record */
    GPF_ACT_USAGE_READ,         /* one record: GPF_ACT_USAGE_READ_ALL, or the record's owner */
    GPF_ACT_EVENT_LIST,         /* any user */
    GPF_ACT_EVENT_READ,         /* staff and viewers any event; members and finance those of their pods */
    /* agents */
    GPF_ACT_AGENT_REPORT,       /* heartbeat, command long-poll: an agent token */
    GPF_ACT_AGENT_POD_STATUS,   /* a pod's status: an agent token, for a pod placed on its own host */
    GPF_ACT_IMAGE_BLOB_READ,    /* download an image blob: an agent token */
    GPF_ACT_COUNT
} gpf_action;

/* "host_read", "sku_read", ... (the enum's names, lower case, without GPF_ACT_); "?" out of
 * range. And back: -1 when unknown. */
const char *gpf_action_name(gpf_action a);
int gpf_action_parse(const char *s);

/* What an action is done to; every field may be NULL (read as ""). Which fields a rule
 * reads is stated at each action above:
 *   id       the pod's id (pod actions, GPF_ACT_AGENT_POD_STATUS), the user's name (user and
 *            token actions); used in the refusal text
 *   owner    the user who owns the pod, the usage record, or the event's pod
 *   host_id  GPF_ACT_AGENT_POD_STATUS: the host the pod is placed on (NULL: no such pod) */
typedef struct gpf_gov_object {
    const char *id;
    const char *owner;
    const char *host_id;
} gpf_gov_object;

/* May who do action to obj? Returns 0 (allowed; why set to ""), or the error code a refusal
 * answers with and the reason in why (truncated to why_size; why may be NULL):
 *   GPF_EFORBIDDEN  the rule refuses ("only an admin can do this", "pod 'pod-1' belongs to
 *                   another user", ...)
 *   GPF_ENOTFOUND   GPF_ACT_AGENT_POD_STATUS for a pod not placed on the agent's host: the
 *                   agent is told there is no such pod there, as it always was
 * obj NULL asks before the object is known: only the rules that do not read it apply (the
 * engine asks so before a lookup, so that an agent token is refused before "no pod ...").
 * A NULL who or an unknown action is refused (GPF_EFORBIDDEN). Agent tokens are told apart
 * by who->is_agent alone; their role field is never read except in the launch refusal's
 * text, which names who->role as the engine's does. */
int gpf_gov_can(const gpf_principal *who, gpf_action action, const gpf_gov_object *obj, char *why,
                size_t why_size);

#endif
