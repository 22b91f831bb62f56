/* Paging of list answers (page.h): the limit and cursor parameters, the cursor's encoding,
 * and picking a page of an in-memory list without copying it. */
#include "api/page.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/jsonw.h"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The 6-bit value of a base64url character, or -1. */
static int b64_value(char c)
{
    const char *p = c ? strchr(b64url, c) : NULL;
    return p ? (int)(p - b64url) : -1;
}

void api_cursor_encode(const char *kind, const char *key, char *out, size_t n)
{
    char raw[API_CURSOR_KEY_MAX + 64];
    int len = snprintf(raw, sizeof raw, "%s:%s", kind, key);
    size_t need = ((size_t)len * 4 + 2) / 3 + 1;
    if (len < 0 || (size_t)len >= sizeof raw || need > n) {
        if (n)
            out[0] = '\0';
        return;
    }
    size_t o = 0;
    for (int i = 0; i < len; i += 3) {
        unsigned v = (unsigned char)raw[i] << 16;
        int m = len - i; /* bytes in this group: 1, 2 or 3+ */
        if (m > 1)
            v |= (unsigned char)raw[i + 1] << 8;
        if (m > 2)
            v |= (unsigned char)raw[i + 2];
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        if (m > 1)
            out[o++] = b64url[(v >> 6) & 63];
        if (m > 2)
            out[o++] = b64url[v & 63];
    }
    out[o] = '\0';
}

/* Decodes base64url text s (no padding) into out (size n, NUL-terminated). -1 when s is
 * not base64url, is too long, or decodes to a NUL or a byte outside printable ASCII. */
static int cursor_decode(const char *s, char *out, size_t n)
{
    size_t len = strlen(s), o = 0;
    if (len == 0 || len % 4 == 1 || len / 4 * 3 + 3 > n)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        unsigned v = 0;
        size_t m = len - i < 4 ? len - i : 4;
        for (size_t j = 0; j < 4; j++) {
            int x = j < m ? b64_value(s[i + j]) : 0;
            if (x < 0)
                return -1;
            v = v << 6 | (unsigned)x;
        }
        char bytes[3] = {(char)(v >> 16), (char)(v >> 8), (char)v};
        for (size_t j = 0; j + 1 < m; j++)
            out[o++] = bytes[j];
    }
    out[o] = '\0';
    for (size_t i = 0; i < o; i++)
        if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e)
            return -1;
    return 0;
}

/* Answers 400 about the cursor. */
static int bad_cursor(api_resp *r)
{
    api_error(r, GPF_EINVAL, "query parameter cursor is not a cursor of this list (take next_cursor from its answer)");
    return -1;
}

int api_page_parse(api_req *q, api_resp *r, const char *kind, size_t max, api_page *pg)
{
    long long limit = 0;
    memset(pg, 0, sizeof *pg);
    if (api_query_int(q, r, "limit", 1, (long long)(max ? max : API_PAGE_MAX), API_PAGE_DEFAULT, &limit) != 0)
        return -1;
    pg->limit = (size_t)limit;
    const char *c = api_query(q, "cursor");
    if (!c)
        return 0;
    char raw[API_CURSOR_KEY_MAX + 64];
    size_t kl = strlen(kind);
    if (strlen(c) > (sizeof raw / 3) * 4 || cursor_decode(c, raw, sizeof raw) != 0 || strncmp(raw, kind, kl) != 0 ||
        raw[kl] != ':' || strlen(raw + kl + 1) > API_CURSOR_KEY_MAX)
        return bad_cursor(r);
    gpf_strlcpy(pg->key, raw + kl + 1, sizeof pg->key);
    pg->has_cursor = 1;
    return 0;
}

void api_page_next(json_t *obj, const char *kind, const char *key)
{
    char cur[(API_CURSOR_KEY_MAX + 64) * 4 / 3 + 8];
    api_cursor_encode(kind, key, cur, sizeof cur);
    json_object_set_new(obj, "next_cursor", json_string(cur));
}

void api_page_open(gpf_buf *b, const char *name)
{
    gpf_jsonw_open(b, '{');
    gpf_jsonw_key(b, name);
    gpf_jsonw_open(b, '[');
}

void api_page_close(api_resp *r, gpf_buf *b, int more, const char *kind, const char *last_key)
{
    gpf_jsonw_close(b, ']');
    if (more && last_key) {
        char cur[(API_CURSOR_KEY_MAX + 64) * 4 / 3 + 8];
        api_cursor_encode(kind, last_key, cur, sizeof cur);
        gpf_jsonw_key(b, "next_cursor");
        gpf_jsonw_str(b, cur, strlen(cur));
    }
    gpf_jsonw_close(b, '}');
    api_json_text(r, 200, b);
}

void api_page_reply(api_resp *r, const char *name, json_t *arr, int more, const char *kind, const char *last_key)
{
    json_t *o = json_object();
    json_object_set_new(o, name, arr);
    if (more && last_key)
        api_page_next(o, kind, last_key);
    api_json(r, 200, o);
}

/* A decimal int64 at s (digits only, optional '-'), ending at end; -1 when not. */
static int parse_i64(const char *s, const char *end, int64_t *v)
{
    char *e = NULL;
    if (s == end || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
        return -1;
    errno = 0;
    long long x = strtoll(s, &e, 10);
    if (errno || e != end)
        return -1;
    *v = x;
    return 0;
}

int api_page_key_int(api_resp *r, const api_page *pg, int64_t *a)
{
    if (parse_i64(pg->key, pg->key + strlen(pg->key), a) != 0)
        return bad_cursor(r);
    return 0;
}

int api_page_key_int_id(api_resp *r, const api_page *pg, int64_t *a, char *id, size_t idsz)
{
    const char *colon = strchr(pg->key, ':');
    if (!colon || parse_i64(pg->key, colon, a) != 0 || !gpf_name_valid(colon + 1) || strlen(colon + 1) >= idsz)
        return bad_cursor(r);
    gpf_strlcpy(id, colon + 1, idsz);
    return 0;
}

/* qsort context: items' keys (qsort has none of its own). */
typedef struct pick_sort {
    api_page_key_fn key;
    const void *ctx;
} pick_sort;

static _Thread_local const pick_sort *sorting;

static int by_key(const void *a, const void *b)
{
    return strcmp(sorting->key(sorting->ctx, *(const size_t *)a), sorting->key(sorting->ctx, *(const size_t *)b));
}

size_t *api_page_pick(size_t n, api_page_key_fn key, const void *ctx, const api_page *pg, size_t *k, int *more)
{
    size_t *idx = n ? gpf_calloc(n, sizeof *idx) : NULL;
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (!pg->has_cursor || strcmp(key(ctx, i), pg->key) > 0)
            idx[c++] = i;
    pick_sort ps = {key, ctx};
    sorting = &ps;
    if (c > 1)
        qsort(idx, c, sizeof *idx, by_key);
    sorting = NULL;
    *k = c > pg->limit ? pg->limit : c;
    *more = c > *k;
    if (*k == 0) {
        gpf_free(idx);
        return NULL;
    }
    return idx;
}

void api_page_write(api_resp *r, const api_page *pg, const char *name, size_t n, api_page_key_fn key,
                    api_page_write_fn write, const void *ctx)
{
    size_t k = 0;
    int more = 0;
    size_t *idx = api_page_pick(n, key, ctx, pg, &k, &more);
    gpf_buf b = {0};
    api_page_open(&b, name);
    for (size_t i = 0; i < k; i++)
        write(&b, ctx, idx[i]);
    api_page_close(r, &b, more, name, k ? key(ctx, idx[k - 1]) : NULL);
    gpf_free(idx);
}

/* api_page_answer's list as api_page_write takes it: items encoded as trees, then written. */
typedef struct tree_list {
    api_page_key_fn key;
    api_page_json_fn enc;
    const void *ctx;
} tree_list;

static const char *tree_key(const void *ctx, size_t i)
{
    const tree_list *t = ctx;
    return t->key(t->ctx, i);
}

static void tree_item(gpf_buf *b, const void *ctx, size_t i)
{
    const tree_list *t = ctx;
    json_t *j = t->enc(t->ctx, i);
    size_t at = b->len;
    if (gpf_jsonw_tree(b, j) != 0) { /* jansson's own text for what jsonw leaves to it */
        char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        b->len = at;
        gpf_jsonw_lit(b, text ? text : "null");
        free(text);
    }
    json_decref(j);
}

void api_page_answer(api_resp *r, const api_page *pg, const char *name, size_t n, api_page_key_fn key,
                     api_page_json_fn enc, const void *ctx)
{
    tree_list t = {key, enc, ctx};
    api_page_write(r, pg, name, n, tree_key, tree_item, &t);
}
