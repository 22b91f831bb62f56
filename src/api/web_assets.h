/* The portal's files, embedded at build time by scripts/embed-web.sh. */
#ifndef GPF_API_WEB_ASSETS_H
#define GPF_API_WEB_ASSETS_H

#include <stddef.h>

typedef struct gpf_web_asset {
    const char *path;            /* "/index.html" */
    const unsigned char *data;   /* static, NUL-terminated copy */
    size_t size;                 /* bytes, without the terminator */
} gpf_web_asset;

/* Terminated by an entry whose path is NULL. */
extern const gpf_web_asset gpf_web_assets[];

#endif
