/* Compact JSON text straight into a gpf_buf: the API's answers are written with this rather
 * than with jansson's json_dumps, which allocates per object (its loop check) and formats
 * every number with snprintf. The text is byte for byte what json_dumps(j, JSON_COMPACT)
 * writes for the same document: keys in the object's own order, no spaces, '"', '\\' and
 * control characters escaped as jansson escapes them (\b \f \n \r \t, else \u00XX with
 * upper-case hex), '/' and every other byte as it is. */
#ifndef GPF_UTIL_JSONW_H
#define GPF_UTIL_JSONW_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Appends the compact text of j (an object or an array, as json_dumps without
 * JSON_ENCODE_ANY takes) to b. Returns 0, or -1 when j is NULL, not an object or array, or
 * holds a real number (whose text is jansson's own; callers fall back to json_dumps); b
 * then holds a partial text the caller discards. */
int gpf_jsonw_tree(gpf_buf *b, const json_t *j);

/* Writing a document item by item. Each call that starts an item (a value, a key, an
 * opening bracket) first puts the ',' it needs: one unless b is empty or ends with '{', '['
 * or ':'. So a document is written as it reads: open '{', key, value, key, value, close. */
void gpf_jsonw_open(gpf_buf *b, char bracket);  /* '{' or '[' */
void gpf_jsonw_close(gpf_buf *b, char bracket); /* '}' or ']' */
void gpf_jsonw_key(gpf_buf *b, const char *key);
/* s (n bytes, valid UTF-8, as jansson's strings are) as a quoted JSON string. */
void gpf_jsonw_str(gpf_buf *b, const char *s, size_t n);
void gpf_jsonw_int(gpf_buf *b, int64_t v);
void gpf_jsonw_lit(gpf_buf *b, const char *literal); /* "null", "true", "false" */

#endif
