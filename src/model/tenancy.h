/* Tenancy records: roles, users, their tokens, and the principal a request acts as. Stored
 * (users, tokens) or derived from a token (principal). Same conventions as model/fleet.h.
 * The name/parse functions are in model/tenancy.c. */
#ifndef GPF_MODEL_TENANCY_H
#define GPF_MODEL_TENANCY_H

#include <stdint.h>

#include "model/ids.h"

/* ---- users and tokens ------------------------------------------------- */

typedef enum { GPF_ROLE_ADMIN = 0, GPF_ROLE_OPERATOR, GPF_ROLE_MEMBER, GPF_ROLE_FINANCE, GPF_ROLE_VIEWER } gpf_role;
const char *gpf_role_name(gpf_role r);
int gpf_role_parse(const char *s);

typedef struct gpf_user {
    char name[GPF_ID_MAX];
    gpf_role role;
    char team[GPF_ID_MAX];      /* "" until governance lands */
    char ssh_pubkey[GPF_PUBKEY_MAX];
    int64_t created_ms;
} gpf_user;

typedef struct gpf_token {
    char id[GPF_ID_MAX];        /* public id, "tok-…" */
    char user[GPF_ID_MAX];      /* owner; "" for agent tokens */
    char host_id[GPF_ID_MAX];   /* agent tokens: the host; "" for user tokens */
    char hash[65];              /* SHA-256 hex of the secret; the secret is never stored */
    int64_t created_ms;
} gpf_token;

/* Who is calling: a user with a role, or an agent token for one host. */
typedef struct gpf_principal {
    int is_agent;                 /* 1: an agent token for host_id */
    char user[GPF_ID_MAX];
    gpf_role role;
    char host_id[GPF_ID_MAX];
} gpf_principal;

#endif
