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
    int disabled;               /* 1: its tokens are refused until it is enabled again */
    int64_t deleted_ms;         /* 0, or when it was deleted: the record (and its name) stays
                                 * for the history that names it; its tokens are revoked */
} gpf_user;

typedef struct gpf_token {
    char id[GPF_ID_MAX];        /* public id, "tok-…" */
    char user[GPF_ID_MAX];      /* owner; "" for agent tokens */
    char host_id[GPF_ID_MAX];   /* agent tokens: the host; "" for user tokens */
    char hash[65];              /* SHA-256 hex of the secret; the secret is never stored */
    int64_t created_ms;
    char name[GPF_ID_MAX];      /* what its owner calls it ("" = unnamed) */
    int64_t expires_ms;         /* refused from then on; 0 = never expires */
    int64_t last_used_ms;       /* last authentication (0 = never); the engine keeps it in
                                 * memory and writes it at most once a minute */
    int64_t revoked_ms;         /* 0, or when it was revoked: refused for good */
} gpf_token;

/* What gpf_engine_user_update changes (bits). */
enum { GPF_USER_ROLE = 1, GPF_USER_KEY = 2, GPF_USER_DISABLED = 4 };

/* A new token's name and lifetime. */
typedef struct gpf_token_spec {
    const char *name;           /* NULL or "": unnamed; else a name (gpf_name_valid) */
    int64_t expires_in_s;       /* 0: never expires; else 1..GPF_TOKEN_EXPIRES_MAX_S */
} gpf_token_spec;
#define GPF_TOKEN_EXPIRES_MAX_S (3660LL * 86400) /* about ten years */
/* How often a token's last use is written at most (the engine keeps it in memory). */
#define GPF_TOKEN_USE_FLUSH_MS 60000

/* Who is calling: a user with a role, or an agent token for one host. */
typedef struct gpf_principal {
    int is_agent;                 /* 1: an agent token for host_id */
    char user[GPF_ID_MAX];
    gpf_role role;
    char host_id[GPF_ID_MAX];
} gpf_principal;

/* ---- join tokens: what admits a new host ------------------------------- */

/* A join token (stored; the secret is shown once at creation and never stored). The
 * serve's configured or generated token is the one named "initial" (id "join-initial"). */
typedef struct gpf_join_token {
    char id[GPF_ID_MAX];        /* "join-…" */
    char name[GPF_ID_MAX];      /* what the operator calls it */
    char hash[65];              /* SHA-256 hex of the secret */
    char created_by[GPF_ID_MAX]; /* the user who made it ("serve" for the initial one) */
    int64_t created_ms;
    int64_t expires_ms;         /* refused from then on; 0 = never */
    int64_t uses_left;          /* registrations it still admits; -1 = unlimited */
    int64_t uses;               /* registrations it admitted */
    int64_t last_used_ms;       /* 0 = never */
    int64_t revoked_ms;         /* 0, or when it was revoked: refused for good */
} gpf_join_token;

#endif
