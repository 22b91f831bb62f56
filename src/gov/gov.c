/* Who may do what (gov.h): the permission rules, one place. */
#include "gov/gov.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"
#include "util/names.h"

GPF_NAMES(gpf_action_name, gpf_action_parse, gpf_action, "host_read", "sku_read", "image_read", "metrics_read",
          "user_create", "user_list", "user_read", "user_update", "user_set_role", "token_create", "token_list",
          "token_revoke", "user_disable", "user_delete", "sku_write",
          "image_write", "host_override", "host_rekey", "join_token_write", "join_token_list", "pod_launch",
          "pod_list", "pod_read", "pod_stop", "usage_list",
          "usage_read_all", "usage_read", "event_list", "event_read", "agent_report", "agent_pod_status",
          "image_blob_read")

_Static_assert(sizeof gpf_action_name_tab / sizeof gpf_action_name_tab[0] == GPF_ACT_COUNT,
               "one name per gpf_action");

/* Refuses with code and the formatted reason. */
__attribute__((format(printf, 4, 5))) static int deny(char *why, size_t why_size, int code, const char *fmt, ...)
{
    if (why && why_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_size, fmt, ap);
        va_end(ap);
    }
    return code;
}

static const char *str(const char *s)
{
    return s ? s : "";
}

static int is_user(const gpf_principal *who, gpf_role role)
{
    return !who->is_agent && who->role == role;
}

static int is_staff(const gpf_principal *who)
{
    return is_user(who, GPF_ROLE_ADMIN) || is_user(who, GPF_ROLE_OPERATOR);
}

/* The caller is the object's owner (a user, and the owner is named). */
static int owns(const gpf_principal *who, const gpf_gov_object *obj)
{
    return !who->is_agent && obj && str(obj->owner)[0] && strcmp(obj->owner, who->user) == 0;
}

static int user_only(const gpf_principal *who, char *why, size_t why_size)
{
    if (who->is_agent)
        return deny(why, why_size, GPF_EFORBIDDEN, "agent tokens cannot do this");
    return 0;
}

static int admin_only(const gpf_principal *who, char *why, size_t why_size)
{
    if (!is_user(who, GPF_ROLE_ADMIN))
        return deny(why, why_size, GPF_EFORBIDDEN, "only an admin can do this");
    return 0;
}

static int self_or_admin(const gpf_principal *who, const gpf_gov_object *obj, char *why, size_t why_size)
{
    int rc = user_only(who, why, why_size);
    if (rc != 0 || !obj || who->role == GPF_ROLE_ADMIN || strcmp(str(obj->id), who->user) == 0)
        return rc;
    if (!str(obj->id)[0]) /* everyone's (GPF_ACT_TOKEN_LIST of all users) */
        return deny(why, why_size, GPF_EFORBIDDEN, "only an admin can do this");
    return deny(why, why_size, GPF_EFORBIDDEN, "only an admin or %s can do this", str(obj->id));
}

static int staff_only(const gpf_principal *who, const char *what, char *why, size_t why_size)
{
    if (!is_staff(who))
        return deny(why, why_size, GPF_EFORBIDDEN, "only an admin or operator can %s", what);
    return 0;
}

static int agent_only(const gpf_principal *who, const char *what, char *why, size_t why_size)
{
    if (!who->is_agent)
        return deny(why, why_size, GPF_EFORBIDDEN, "only an agent token can %s", what);
    return 0;
}

/* A pod: staff see and stop every pod, other users their own. */
static int pod_visible(const gpf_principal *who, const gpf_gov_object *obj, char *why, size_t why_size)
{
    int rc = user_only(who, why, why_size);
    if (rc != 0 || !obj || is_staff(who) || owns(who, obj))
        return rc;
    return deny(why, why_size, GPF_EFORBIDDEN, "pod '%s' belongs to another user", str(obj->id));
}

static int usage_all(const gpf_principal *who, char *why, size_t why_size)
{
    int rc = user_only(who, why, why_size);
    if (rc != 0 || is_staff(who) || is_user(who, GPF_ROLE_FINANCE))
        return rc;
    return deny(why, why_size, GPF_EFORBIDDEN, "only an admin, operator or finance user can read every usage record");
}

static int usage_record(const gpf_principal *who, const gpf_gov_object *obj, char *why, size_t why_size)
{
    int rc = user_only(who, why, why_size);
    if (rc != 0 || !obj || is_staff(who) || is_user(who, GPF_ROLE_FINANCE) || owns(who, obj))
        return rc;
    return deny(why, why_size, GPF_EFORBIDDEN, "the usage record belongs to another user");
}

/* Events: staff and viewers see them all; members and finance those of their own pods. */
static int event_record(const gpf_principal *who, const gpf_gov_object *obj, char *why, size_t why_size)
{
    int rc = user_only(who, why, why_size);
    if (rc != 0 || !obj || is_staff(who) || is_user(who, GPF_ROLE_VIEWER) || owns(who, obj))
        return rc;
    return deny(why, why_size, GPF_EFORBIDDEN, "the event is not about a pod of yours");
}

static int pod_launch(const gpf_principal *who, char *why, size_t why_size)
{
    if (is_staff(who) || is_user(who, GPF_ROLE_MEMBER))
        return 0;
    return deny(why, why_size, GPF_EFORBIDDEN, "role %s cannot launch pods", gpf_role_name(who->role));
}

/* An agent reports only on pods placed on its own host; any other pod is "not placed" there. */
static int agent_pod(const gpf_principal *who, const gpf_gov_object *obj, char *why, size_t why_size)
{
    int rc = agent_only(who, "do this", why, why_size);
    if (rc != 0 || !obj || (obj->host_id && strcmp(obj->host_id, who->host_id) == 0))
        return rc;
    return deny(why, why_size, GPF_ENOTFOUND, "pod '%s' is not placed on host %s", str(obj->id), who->host_id);
}

int gpf_gov_can(const gpf_principal *who, gpf_action action, const gpf_gov_object *obj, char *why,
                size_t why_size)
{
    if (why && why_size)
        why[0] = '\0';
    if (!who)
        return deny(why, why_size, GPF_EFORBIDDEN, "no principal");
    switch (action) {
    case GPF_ACT_HOST_READ:
    case GPF_ACT_SKU_READ:
    case GPF_ACT_IMAGE_READ:
    case GPF_ACT_METRICS_READ:
        return 0;
    case GPF_ACT_USER_CREATE:
    case GPF_ACT_USER_LIST:
    case GPF_ACT_USER_SET_ROLE:
    case GPF_ACT_USER_DISABLE:
    case GPF_ACT_USER_DELETE:
        return admin_only(who, why, why_size);
    case GPF_ACT_USER_READ:
    case GPF_ACT_USER_UPDATE:
    case GPF_ACT_TOKEN_CREATE:
    case GPF_ACT_TOKEN_LIST:
    case GPF_ACT_TOKEN_REVOKE:
        return self_or_admin(who, obj, why, why_size);
    case GPF_ACT_SKU_WRITE:
        return staff_only(who, "manage SKUs", why, why_size);
    case GPF_ACT_IMAGE_WRITE:
        return staff_only(who, "manage images", why, why_size);
    case GPF_ACT_HOST_OVERRIDE:
        return staff_only(who, "override a host's preflight", why, why_size);
    case GPF_ACT_HOST_REKEY:
        return staff_only(who, "re-key a host", why, why_size);
    case GPF_ACT_JOIN_TOKEN_WRITE:
    case GPF_ACT_JOIN_TOKEN_LIST:
        return staff_only(who, "manage join tokens", why, why_size);
    case GPF_ACT_POD_LAUNCH:
        return pod_launch(who, why, why_size);
    case GPF_ACT_POD_LIST:
    case GPF_ACT_USAGE_LIST:
    case GPF_ACT_EVENT_LIST:
        return user_only(who, why, why_size);
    case GPF_ACT_POD_READ:
    case GPF_ACT_POD_STOP:
        return pod_visible(who, obj, why, why_size);
    case GPF_ACT_USAGE_READ_ALL:
        return usage_all(who, why, why_size);
    case GPF_ACT_USAGE_READ:
        return usage_record(who, obj, why, why_size);
    case GPF_ACT_EVENT_READ:
        return event_record(who, obj, why, why_size);
    case GPF_ACT_AGENT_REPORT:
        return agent_only(who, "do this", why, why_size);
    case GPF_ACT_AGENT_POD_STATUS:
        return agent_pod(who, obj, why, why_size);
    case GPF_ACT_IMAGE_BLOB_READ:
        return agent_only(who, "download image blobs", why, why_size);
    case GPF_ACT_COUNT:
        break;
    }
    return deny(why, why_size, GPF_EFORBIDDEN, "unknown action %d", (int)action);
}
