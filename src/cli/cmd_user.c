/* gpufleet user create | ls, token create */
#include "cli/cli_int.h"

#include <string.h>
#include <unistd.h>

#include "util/alloc.h"

const char gpf_cli_help_user[] =
    "usage: gpufleet user create NAME --role admin|operator|member|finance|viewer\n"
    "                            [--ssh-key PUBKEYFILE] [--json]\n"
    "       gpufleet user ls [--json]\n"
    "\nAdministers accounts (admin only). Give the new user a token with\n"
    "`gpufleet token create --user NAME`.\n";

const char gpf_cli_help_token[] =
    "usage: gpufleet token create [--user NAME] [--json]\n"
    "\nIssues a new API token for yourself, or (admin) for NAME, and prints its secret.\n"
    "The secret is shown only this once.\n";

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
    const char *row[] = {gpf_cli_str(u, "name"), gpf_cli_str(u, "role"), key, created};
    gpf_table_add(t, row);
}

static int user_ls(gpf_cli *c)
{
    static const char *const hdr[] = {"NAME", "ROLE", "SSH KEY", "CREATED"};
    int rc = gpf_cli_expect(c, "user ls", 2, 0, 0, "");
    return rc ? rc : gpf_cli_list(c, "/v1/users", "users", 4, hdr, user_row, NULL);
}

int gpf_cli_cmd_user(gpf_cli *c)
{
    const char *verb = gpf_cli_pos(c, 1);
    if (!verb)
        return gpf_cli_usage(c, "'user' needs a verb: create or ls");
    if (strcmp(verb, "create") == 0)
        return user_create(c);
    if (strcmp(verb, "ls") == 0 || strcmp(verb, "list") == 0)
        return user_ls(c);
    return gpf_cli_usage(c, "unknown verb 'user %s'", verb);
}

int gpf_cli_cmd_token(gpf_cli *c)
{
    int rc;
    const char *verb = gpf_cli_pos(c, 1);
    char *user = NULL;
    json_t *who = NULL, *resp = NULL;
    gpf_buf path = {0};

    if (!verb)
        return gpf_cli_usage(c, "'token' needs a verb: create");
    if (strcmp(verb, "create") != 0)
        return gpf_cli_usage(c, "unknown verb 'token %s'", verb);
    rc = gpf_cli_expect(c, "token create", 2, 0, 0, "user");
    if (rc != 0)
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
    gpf_buf_puts(&path, "/v1/users/");
    gpf_cli_escape(&path, user);
    gpf_buf_puts(&path, "/tokens");
    rc = gpf_cli_call(c, "POST", gpf_buf_cstr(&path), NULL, &resp);
    if (rc != 0)
        goto out;
    if (c->json) {
        gpf_cli_print_json(resp);
    } else {
        printf("%s\n", gpf_cli_str(resp, "token"));
        if (isatty(2))
            fprintf(stderr, "token for %s; this secret is not shown again\n", user);
    }
out:
    gpf_free(user);
    json_decref(who);
    json_decref(resp);
    gpf_buf_clear(&path);
    return rc;
}
