/* gpufleet join-token create | ls | revoke: the tokens that admit new hosts. */
#include "cli/cli_int.h"

#include <stdio.h>
#include <string.h>

const char gpf_cli_help_join_token[] =
    "usage: gpufleet join-token create [--name N] [--expires-in 24h] [--uses N] [--json]\n"
    "       gpufleet join-token ls [--json]\n"
    "       gpufleet join-token revoke ID\n"
    "\nJoin tokens admit new hosts (admin or operator). create prints the secret once, on stdout\n"
    "(give it to the agent with --join-token-file F or GPUFLEET_JOIN_TOKEN, never on its command\n"
    "line); --expires-in (s, m, h, d or w) and --uses limit it, else it lasts until revoked.\n"
    "A join token only admits a host id that is not registered yet, or one re-keyed with\n"
    "`gpufleet host rekey HOST`; a registered host's agent comes back with its own agent token.\n"
    "ls shows every join token and its state (active, expired, used_up, revoked), never a\n"
    "secret; revoke refuses it from now on.\n";

/* Ten years: the longest a join token may live. */
#define JOIN_EXPIRES_MAX_S (3650LL * 24 * 3600)

/* The body of a create: {"name"?, "expires_in_s"?, "uses"?}; NULL with *rc set on a bad flag. */
static json_t *create_body(gpf_cli *c, int *rc)
{
    long long uses = 0;
    int has_uses = 0;
    if ((*rc = gpf_cli_int_opt(c, "uses", 1, 1000000000LL, &uses, &has_uses)) != 0)
        return NULL;
    json_t *body = gpf_cli_secret_body(c, JOIN_EXPIRES_MAX_S, rc);
    if (body && has_uses)
        json_object_set_new(body, "uses", json_integer(uses));
    return body;
}

static int join_create(gpf_cli *c)
{
    json_t *resp = NULL, *body = NULL;
    int rc = gpf_cli_expect(c, "join-token create", 2, 0, 0, "name expires-in uses");
    if (rc != 0 || !(body = create_body(c, &rc)))
        goto out;
    if ((rc = gpf_cli_call(c, "POST", "/v1/join-tokens", body, &resp)) == 0)
        gpf_cli_print_secret(c, resp, "join token");
out:
    json_decref(resp);
    json_decref(body);
    return rc;
}

static void join_row(gpf_table *t, const json_t *k, void *arg)
{
    char created[32], used[32], expires[32], uses[48];
    (void)arg;
    gpf_cli_time(json_object_get(k, "created_at"), created, sizeof created);
    gpf_cli_time(json_object_get(k, "last_used_at"), used, sizeof used);
    gpf_cli_time(json_object_get(k, "expires_at"), expires, sizeof expires);
    if (json_is_null(json_object_get(k, "uses_left")))
        snprintf(uses, sizeof uses, "%lld (unlimited)", gpf_cli_int(k, "uses"));
    else
        snprintf(uses, sizeof uses, "%lld (%lld left)", gpf_cli_int(k, "uses"), gpf_cli_int(k, "uses_left"));
    const char *name = gpf_cli_str(k, "name");
    const char *row[] = {gpf_cli_str(k, "id"), name[0] ? name : "-", gpf_cli_str(k, "state"),
                         gpf_cli_str(k, "created_by"), created, expires, uses, used};
    gpf_table_add(t, row);
}

static int join_revoke(gpf_cli *c)
{
    gpf_buf path = {0};
    int rc = gpf_cli_expect(c, "join-token revoke", 2, 1, 1, "");
    if (rc != 0)
        return rc;
    gpf_buf_puts(&path, "/v1/join-tokens/");
    gpf_cli_escape(&path, gpf_cli_pos(c, 2));
    rc = gpf_cli_send(c, "DELETE", gpf_buf_cstr(&path), NULL, "revoked join token %s", gpf_cli_pos(c, 2));
    gpf_buf_clear(&path);
    return rc;
}

int gpf_cli_cmd_join_token(gpf_cli *c)
{
    static const char *const hdr[] = {"ID", "NAME", "STATE", "BY", "CREATED", "EXPIRES", "USES", "LAST USED"};
    const char *verb = gpf_cli_pos(c, 1);
    int rc = 0;
    if (!verb)
        return gpf_cli_usage(c, "'join-token' needs a verb: create, ls or revoke");
    if (strcmp(verb, "create") == 0)
        return join_create(c);
    if (strcmp(verb, "revoke") == 0 || strcmp(verb, "rm") == 0)
        return join_revoke(c);
    if (strcmp(verb, "ls") != 0 && strcmp(verb, "list") != 0)
        return gpf_cli_usage(c, "unknown verb 'join-token %s' (create, ls, revoke)", verb);
    if ((rc = gpf_cli_expect(c, "join-token ls", 2, 0, 0, "")) != 0)
        return rc;
    return gpf_cli_list(c, "/v1/join-tokens", "join_tokens", 8, hdr, join_row, NULL);
}
