/* Paging of list answers, shared by every list endpoint.
 *
 * A list takes ?limit=N (1..its maximum, default API_PAGE_DEFAULT) and ?cursor=C, and keeps
 * its object form ({"pods":[...]}), adding "next_cursor" when more items follow. A cursor
 * is opaque to clients: base64url (no padding) of "<kind>:<key>", where kind names the list
 * (a cursor of another list is refused) and key is the last item's sort key, printable
 * ASCII. A walk from no cursor to no next_cursor visits every item that existed throughout
 * exactly once, in the list's order, also when items are added or removed between pages.
 * A cursor that does not decode, is of another kind or holds a bad key is a 400 (EINVAL),
 * never anything else: its key reaches a query only as a bound value. */
#ifndef GPF_API_PAGE_H
#define GPF_API_PAGE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api_int.h"

#define API_PAGE_DEFAULT 100
#define API_PAGE_MAX 1000
#define API_CURSOR_KEY_MAX 200 /* bytes of a decoded key */

typedef struct api_page {
    size_t limit;
    int has_cursor;                /* 0: the first page */
    char key[API_CURSOR_KEY_MAX + 1]; /* the cursor's key ("" without one) */
} api_page;

/* Reads ?limit (1..max; max 0 = API_PAGE_MAX) and ?cursor (of kind) into *pg. -1 (answered
 * 400 in r) when either is bad; 0 otherwise. */
int api_page_parse(api_req *q, api_resp *r, const char *kind, size_t max, api_page *pg);

/* Sets "next_cursor" in obj to the cursor of kind for key. */
void api_page_next(json_t *obj, const char *kind, const char *key);

/* The cursor text of kind for key (base64url of "kind:key") into out (size n); "" when it
 * does not fit. For clients and tests. */
void api_cursor_encode(const char *kind, const char *key, char *out, size_t n);

/* Keys made of numbers: "<a>" or "<a>:<id>" (id a valid name, gpf_name_valid). Each returns
 * 0, or -1 (answered 400 in r) when the key is not of that form. */
int api_page_key_int(api_resp *r, const api_page *pg, int64_t *a);
int api_page_key_int_id(api_resp *r, const api_page *pg, int64_t *a, char *id, size_t idsz);

/* A page of an in-memory list: of items 0..n-1, with sort keys key(ctx, i) (distinct, compared
 * with strcmp), those after pg's cursor, in key order, at most pg->limit. Returns the heap
 * array of their indexes (gpf_free; NULL when none) with its length in *k, and sets *more
 * when further items follow. Copies nothing. */
typedef const char *(*api_page_key_fn)(const void *ctx, size_t i);
size_t *api_page_pick(size_t n, api_page_key_fn key, const void *ctx, const api_page *pg, size_t *k, int *more);

/* Answers a page of an in-memory list of n items (api_page_pick by key, items encoded by
 * enc(ctx, i)) as {"<name>": [...]}, with next_cursor (kind name) when more follow. */
typedef json_t *(*api_page_json_fn)(const void *ctx, size_t i);
void api_page_answer(api_resp *r, const api_page *pg, const char *name, size_t n, api_page_key_fn key,
                     api_page_json_fn enc, const void *ctx);

/* The same answer written as text (util/jsonw.h): api_page_open starts it in b (empty), the
 * caller writes the items, api_page_close ends it and answers it (b consumed). */
void api_page_open(gpf_buf *b, const char *name);
void api_page_close(api_resp *r, gpf_buf *b, int more, const char *kind, const char *last_key);

/* api_page_answer with items written as text (util/jsonw.h) by write(b, ctx, i). */
typedef void (*api_page_write_fn)(gpf_buf *b, const void *ctx, size_t i);
void api_page_write(api_resp *r, const api_page *pg, const char *name, size_t n, api_page_key_fn key,
                    api_page_write_fn write, const void *ctx);

/* The answer {"<name>": arr} (arr stolen), with next_cursor of kind for last_key when more. */
void api_page_reply(api_resp *r, const char *name, json_t *arr, int more, const char *kind, const char *last_key);

#endif
