/* libFuzzer target: the CDI spec parser (agent/cdi.h), YAML (first input byte odd) or JSON
 * (even), the rest being the spec. A spec is written by the host's admin but parsed by the
 * agent, which runs as root: every accepted spec's edits, one device at a time and all
 * together, must keep the parser's promises (limits, absolute paths, no /proc or /sys in
 * the container, K=V env, known hook names). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cdi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int cstr_ok(const char *s, size_t size) { return memchr(s, '\0', size) != NULL; }

static int path_ok(const char *s, size_t size, int container)
{
    if (!cstr_ok(s, size) || s[0] != '/' || strchr(s, '\n') || strstr(s, "/../") ||
        (strlen(s) >= 3 && strcmp(s + strlen(s) - 3, "/..") == 0))
        return 0;
    if (container) {
        const char *p = s;
        while (*p == '/' || (p[0] == '.' && p[1] == '/'))
            p++;
        if (!*p || (strncmp(p, "proc", 4) == 0 && (p[4] == '/' || !p[4])))
            return 0;
        if (strncmp(p, "sys", 3) == 0 && (p[3] == '/' || !p[3]))
            return 0;
    }
    return 1;
}

static int env_ok(const char *s, size_t size)
{
    return cstr_ok(s, size) && s[0] && s[0] != '=' && strchr(s, '=') != NULL;
}

static void check(const gpf_cdi_edits *e)
{
    static const char *const hooks[] = {"prestart",       "createRuntime", "createContainer",
                                        "startContainer", "poststart",     "poststop"};
    if (e->nnodes < 0 || e->nnodes > GPF_CDI_MAX_NODES || e->nmounts < 0 || e->nmounts > GPF_CDI_MAX_MOUNTS ||
        e->nenv < 0 || e->nenv > GPF_CDI_MAX_ENV || e->nhooks < 0 || e->nhooks > GPF_CDI_MAX_HOOKS)
        abort();
    for (int i = 0; i < e->nnodes; i++) {
        const gpf_cdi_node *n = &e->nodes[i];
        if (!path_ok(n->path, sizeof n->path, 1) || !path_ok(n->host_path, sizeof n->host_path, 0) ||
            (n->type != 0 && n->type != 'c' && n->type != 'b') || n->major < 0 || n->major > 4095 ||
            n->minor < 0 || n->minor >= (1 << 20) || n->file_mode > 07777)
            abort();
        for (int j = 0; j < i; j++)
            if (strcmp(e->nodes[j].path, n->path) == 0)
                abort();
    }
    for (int i = 0; i < e->nmounts; i++) {
        const gpf_cdi_mount *m = &e->mounts[i];
        if (!path_ok(m->container_path, sizeof m->container_path, 1) ||
            !path_ok(m->host_path, sizeof m->host_path, 0) || (m->readonly != 0 && m->readonly != 1))
            abort();
    }
    for (int i = 0; i < e->nenv; i++)
        if (!env_ok(e->env[i], sizeof e->env[i]))
            abort();
    for (int i = 0; i < e->nhooks; i++) {
        const gpf_cdi_hook *h = &e->hooks[i];
        int known = 0;
        for (int k = 0; k < 6; k++)
            known |= cstr_ok(h->hook_name, sizeof h->hook_name) && strcmp(h->hook_name, hooks[k]) == 0;
        if (!known || !path_ok(h->path, sizeof h->path, 0) || h->nargs < 0 || h->nargs > GPF_CDI_MAX_ARGS ||
            h->nenv < 0 || h->nenv > 8 || h->timeout < 0 || h->timeout > 3600)
            abort();
        for (int a = 0; a < h->nargs; a++)
            if (!cstr_ok(h->args[a], sizeof h->args[a]))
                abort();
        for (int v = 0; v < h->nenv; v++)
            if (!env_ok(h->env[v], sizeof h->env[v]))
                abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gpf_cdi_edits e;
    static char names[8][300];
    const char *list[8];
    gpf_error err = {0};
    if (size < 1)
        return 0;
    gpf_cdi *c = gpf_cdi_new();
    int rc = gpf_cdi_add_spec(c, (const char *)data + 1, size - 1, data[0] & 1, "fuzz", &err);
    if (rc != 0) {
        if ((rc != GPF_EMALFORMED && rc != GPF_EINVAL) || gpf_cdi_device_count(c) != 0 || !err.msg[0] ||
            strchr(err.msg, '\n'))
            abort();
        goto out;
    }
    int n = gpf_cdi_device_count(c);
    if (n < 1 || n > GPF_CDI_MAX_DEVICES)
        abort();
    for (int i = 0; i < n; i++) {
        char name[300];
        if (gpf_cdi_device_name(c, i, name, sizeof name) != 0)
            abort();
        const char *one[] = {name};
        /* one device alone fits (add_spec checked it with its spec's edits separately) */
        rc = gpf_cdi_edits_for(c, NULL, one, 1, &e, &err);
        if (rc == 0)
            check(&e);
        else if (rc != GPF_EINVAL)
            abort();
        if (i < 8) {
            memcpy(names[i], name, sizeof name);
            list[i] = names[i];
        }
    }
    rc = gpf_cdi_edits_for(c, NULL, list, n < 8 ? n : 8, &e, &err);
    if (rc == 0)
        check(&e);
    else if (rc != GPF_EINVAL)
        abort();
out:
    gpf_cdi_free(c);
    return 0;
}
