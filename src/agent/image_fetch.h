/* Bringing an image to this host without stopping the agent: a thread that downloads the
 * image's missing blobs from the control plane (GET /v1/agent/blobs/<digest>, with the
 * agent's token, on a connection of its own) and unpacks it into the image cache
 * (image_cache.h), while the agent's loop keeps heartbeating and polling its pods. One
 * fetch at a time per agent is enough: a pod waiting for an image another fetch is
 * bringing waits for that one. */
#ifndef GPF_AGENT_IMAGE_FETCH_H
#define GPF_AGENT_IMAGE_FETCH_H

#include <stddef.h>

#include "agent/image_cache.h"
#include "util/error.h"
#include "util/httpc.h"

typedef struct gpf_image_fetch gpf_image_fetch;

/* Starts fetching digest ("sha256:<64 hex>") into cache c; server, token and tls (how the
 * server is verified, may be NULL) are copied (the token is never logged). c must outlive
 * the fetch. 0 and *out, or GPF_EINVAL / GPF_EIO (no thread). */
int gpf_image_fetch_start(gpf_image_cache *c, const char *server, const char *token, const gpf_httpc_tls *tls,
                          const char *digest, gpf_image_fetch **out, gpf_error *err);
/* 1 when the fetch has finished (gpf_image_fetch_finish will not wait), else 0. */
int gpf_image_fetch_done(gpf_image_fetch *f);
/* The digest being fetched (owned by f). */
const char *gpf_image_fetch_digest(const gpf_image_fetch *f);
/* Waits for the fetch, frees it, and returns its result: 0 and rootfs (the unpacked root
 * filesystem), or its error. Accepts NULL (GPF_EINVAL). */
int gpf_image_fetch_finish(gpf_image_fetch *f, char *rootfs, size_t size, gpf_error *err);

#endif
