/* Files embedded into the binary at build time (scripts/embed-files.sh): the portal
 * (everything under web/), the catalog CSVs (the CSVs under data/catalog/) and the demo fleet
 * (data/demo-fleet.json), so an installed binary needs no data directory. */
#ifndef GPF_UTIL_EMBEDDED_H
#define GPF_UTIL_EMBEDDED_H

#include <stddef.h>

typedef struct gpf_embedded_file {
    const char *path;            /* repository-relative: "web/index.html" */
    const char *data;            /* static, NUL-terminated */
    size_t size;                 /* bytes, without the terminator */
} gpf_embedded_file;

/* Terminated by an entry whose path is NULL. */
extern const gpf_embedded_file gpf_embedded_files[];

/* The file at a repository-relative path, or NULL. */
const gpf_embedded_file *gpf_embedded_find(const char *path);

#endif
