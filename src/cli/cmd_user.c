/* gpufleet user create | ls | disable | enable | delete, token create | ls | revoke */
#include "cli/cli_int.h"

#include <string.h>

#include "model/tenancy.h"
#include "util/alloc.h"

const char gpf_cli_help_user[] =
    "usage: gpufleet user create NAME --role admin|operator|member|finance|viewer\n"
    "                            [--ssh-key PUBKEYFILE] [--json]\n"
    "       gpufleet user ls [--json]\n"
    "       gpufleet user disable|enable NAME [--json]\n"
    "       gpufleet user delete NAME\n"
    "\nAdministers accounts (admin only). Give the new user a token with\n"
    "`gpufleet token create --user NAME`. Disabling refuses the user's tokens at once and\n"
    "stops its live pods (enable restores the tokens, not the pods). Deleting also revokes\n"
    "its tokens for good; its pods and usage stay on record and its name stays reserved.\n"
    "The last enabled admin can be neither disabled nor deleted.\n";

const char gpf_cli_help_token[] =
    "usage: gpufleet token create [--name NAME] [--expires-in 30d] [--user USER] [--json]\n"
    "       gpufleet token ls [--user USER | --all] [--json]\n"
    "       gpufleet token revoke ID\n"
    "\ncreate issues a new API token for yourself, or (admin) for USER, and prints its\n"
    "secret, shown only this once. --expires-in takes s, m, h, d or w (at most 3660d); without\n"
    "it the token does not expire. ls lists your tokens (admin: USER's, or --all everyone's)\n"
    "with when each was last used (kept to the minute). revoke ends a token at once.\n";

static int user_create(gpf_cli *c)
{
    int rc;
    json_t *body = NULL;
    const char *role = gpf_cli_opt(c, "role"), *keyfile = gpf_cli_opt(c, "ssh-key");
    char *key = NULL;
    gpf_error err = {0};

    rc = gpf_cli_expect(c, "user create", 2, 1, 1, "role ssh-key");
    if (rc != 0)
        goto out;
    if (!role) {
        rc = gpf_cli_usage(c, "'user create' needs --role");
        goto out;
    }
    body = json_pack("{s:s,s:s}", "name", gpf_cli_pos(c, 2), "role", role);
    if (keyfile) {
        if (gpf_read_file(keyfile, 16 * 1024, &key, &err) != 0) {
            rc = gpf_cli_fail_err(&err);
            goto out;
        }
        json_object_set_new(body, "ssh_pubkey", json_string(key));
    }
    rc = gpf_cli_send(c, "POST", "/v1/users", body, "created user %s (%s)", gpf_cli_pos(c, 2),
                      role);
out:
    json_decref(body);
    gpf_free(key);
    return rc;
}

/* "ssh-ed25519 AAAA... comment" → "ssh-ed25519 comment". */
static void key_cell(const char *key, char *out, size_t size)
{
    const char *sp = strchr(key, ' ');
    const char *comment = sp ? strchr(sp + 1, ' ') : NULL;
    if (!*key)
        snprintf(out, size, "-");
    else if (!sp)
        snprintf(out, size, "%.32s", key);
    else
        snprintf(out, size, "%.*s%s", (int)(sp - key), key, comment ? comment : "");
}

static void user_row(gpf_table *t, const json_t *u, void *arg)
{
    char key[160], created[32];
    (void)arg;
    key_cell(gpf_cli_str(u, "ssh_pubkey"), key, sizeof key);
    gpf_cli_time(json_object_get(u, "created_at"), created, sizeof created);
    const char *state = json_is_true(json_object_get(u, "disabled")) ? "disabled" : "active";
    const char *row[] = {gpf_cli_str(u, "name"), gpf_cli_str(u, "role"), state, key, created};
    gpf_table_add(t, row);
}

static int user_ls(gpf_cli *c)
{
    static const char *const hdr[] = {"NAME", "ROLE", "STATE", "SSH KEY", "CREATED"};
    int rc = gpf_cli_expect(c, "user ls", 2, 0, 0, "limit");
    return rc ? rc : gpf_cli_list(c, "/v1/users", "users", 5, hdr, user_row, NULL);
}

/* "/v1/<collection>/<id escaped>" into path. */
static void item_path(gpf_buf *path, const char *collection, const char *id)
{
    gpf_buf_printf(path, "/v1/%s/", collection);
    gpf_cli_escape(path, id);
}

/* user disable|enable NAME: PATCH {"disabled"}. */
static int user_set_disabled(gpf_cli *c, const char *verb, int disabled)
{
    gpf_buf path = {0};
    json_t *body = NULL;
    char what[32];
    snprintf(what, sizeof what, "user %s", verb);
    int rc = gpf_cli_expect(c, what, 2, 1, 1, "");
    if (rc != 0)
        return rc;
    const char *name = gpf_cli_pos(c, 2);
    item_path(&path, "users", name);
    body = json_pack("{s:b}", "disabled", disabled);
    rc = gpf_cli_send(c, "PATCH", gpf_buf_cstr(&path), body, "%s user %s%s", disabled ? "disabled" : "enabled",
                      name, disabled ? ": its tokens are refused and its live pods stopped" : "");
    json_decref(body);
    gpf_buf_clear(&path);
    return rc;
}

/* `<what> ID`: DELETE /v1/<collection>/ID, then "<done> ID<tail>" (what: "user delete"). */
static int delete_item(gpf_cli *c, const char *what, const char *collection, const char *done, const char *tail)
{
    gpf_buf path = {0};
    int rc = gpf_cli_expect(c, what, 2, 1, 1, "");
    if (rc != 0)
        return rc;
    item_path(&path, collection, gpf_cli_pos(c, 2));
    rc = gpf_cli_call(c, "DELETE", gpf_buf_cstr(&path), NULL, NULL);
    if (rc == 0)
        printf("%s %s%s\n", done, gpf_cli_pos(c, 2), tail);
    gpf_buf_clear(&path);
    return rc;
}

int gpf_cli_cmd_user(gpf_cli *c)
{
    const char *verb = gpf_cli_pos(c, 1);
    if (!verb)
        return gpf_cli_usage(c, "'user' needs a verb: create, ls, disable, enable or delete");
    if (strcmp(verb, "create") == 0)
        return user_create(c);
    if (strcmp(verb, "ls") == 0 || strcmp(verb, "list") == 0)
        return user_ls(c);
    if (strcmp(verb, "disable") == 0 || strcmp(verb, "enable") == 0)
        return user_set_disabled(c, verb, strcmp(verb, "disable") == 0);
    if (strcmp(verb, "delete") == 0 || strcmp(verb, "rm") == 0)
        return delete_item(c, "user delete", "users", "deleted user",
                           ": its tokens are revoked and its live pods stopped");
    return gpf_cli_usage(c, "unknown verb 'user %s'", verb);
}

static int token_create(gpf_cli *c)
{
    char *user = NULL;
    json_t *who = NULL, *resp = NULL, *body = NULL;
    gpf_buf path = {0};
    int rc = gpf_cli_expect(c, "token create", 2, 0, 0, "user name expires-in");
    if (rc != 0 || !(body = gpf_cli_secret_body(c, GPF_TOKEN_EXPIRES_MAX_S, &rc)))
        goto out;
    if (gpf_cli_opt(c, "user")) {
        user = gpf_strdup(gpf_cli_opt(c, "user"));
    } else {
        /* ask the server: the config's user may not be the token's */
        rc = gpf_cli_call(c, "GET", "/v1/whoami", NULL, &who);
        if (rc != 0)
            goto out;
        user = gpf_strdup(gpf_cli_str(who, "user"));
    }
    item_path(&path, "users", user);
    gpf_buf_puts(&path, "/tokens");
    rc = gpf_cli_call(c, "POST", gpf_buf_cstr(&path), body, &resp);
    if (rc != 0)
        goto out;
    gpf_cli_print_secret(c, resp, "token");
out:
    gpf_free(user);
    json_decref(who);
    json_decref(resp);
    json_decref(body);
    gpf_buf_clear(&path);
    return rc;
}

static void token_row(gpf_table *t, const json_t *k, void *arg)
{
    char created[32], used[32], expires[48];
    (void)arg;
    gpf_cli_time(json_object_get(k, "created_at"), created, sizeof created);
    gpf_cli_time(json_object_get(k, "last_used_at"), used, sizeof used);
    gpf_cli_time(json_object_get(k, "expires_at"), expires, sizeof expires);
    if (json_is_true(json_object_get(k, "expired")))
        gpf_strlcpy(expires + strlen(expires), " (expired)", sizeof expires - strlen(expires));
    const char *name = gpf_cli_str(k, "name");
    const char *row[] = {gpf_cli_str(k, "id"), name[0] ? name : "-", gpf_cli_str(k, "user"), created, used, expires};
    gpf_table_add(t, row);
}

static int token_ls(gpf_cli *c)
{
    static const char *const hdr[] = {"ID", "NAME", "USER", "CREATED", "LAST USED", "EXPIRES"};
    gpf_buf path = {0};
    int rc = gpf_cli_expect(c, "token ls", 2, 0, 0, "user all limit");
    if (rc != 0)
        return rc;
    gpf_buf_puts(&path, "/v1/tokens");
    if (gpf_cli_has(c, "all")) {
        gpf_buf_puts(&path, "?all=1");
    } else if (gpf_cli_opt(c, "user")) {
        gpf_buf_puts(&path, "?user=");
        gpf_cli_escape(&path, gpf_cli_opt(c, "user"));
    }
    rc = gpf_cli_list(c, gpf_buf_cstr(&path), "tokens", 6, hdr, token_row, NULL);
    gpf_buf_clear(&path);
    return rc;
}

int gpf_cli_cmd_token(gpf_cli *c)
{
    const char *verb = gpf_cli_pos(c, 1);
    if (!verb)
        return gpf_cli_usage(c, "'token' needs a verb: create, ls or revoke");
    if (strcmp(verb, "create") == 0)
        return token_create(c);
    if (strcmp(verb, "ls") == 0 || strcmp(verb, "list") == 0)
        return token_ls(c);
    if (strcmp(verb, "revoke") == 0 || strcmp(verb, "rm") == 0)
        return delete_item(c, "token revoke", "tokens", "revoked token", "");
    return gpf_cli_usage(c, "unknown verb 'token %s'", verb);
}
