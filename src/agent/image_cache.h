/* The agent's image cache: OCI images, content-addressed by their manifest digest, fetched
 * blob by blob and unpacked once per host and image into a root filesystem that pods
 * share read-only.
 *
 * On disk, under the cache's directory (one agent per directory):
 *   blobs/sha256/<hex>     every blob kept, each verified (SHA-256 and size) before it is kept
 *   layout/                an OCI image layout over blobs/ (blobs is a symlink to ../blobs)
 *                          whose index.json names each manifest by its hex digest: what
 *                          `umoci unpack` (Debian's umoci) reads
 *   rootfs/<hex>           an unpacked image's root filesystem; present = complete, since it
 *                          appears by one rename from unpack.<hex>.tmp/rootfs
 *   locks/<hex>, .lock     flock(2) files: one ensure per image at a time; gc excludes ensure
 *
 * Thread-safe: the functions may be called from several threads (and processes) on one
 * directory; they serialise through the lock files. */
#ifndef GPF_AGENT_IMAGE_CACHE_H
#define GPF_AGENT_IMAGE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define GPF_IMAGE_DIGEST_MAX 72            /* "sha256:" + 64 hex + NUL */
#define GPF_IMAGE_MEDIA_MAX 128
#define GPF_IMAGE_LAYERS_MAX 128
#define GPF_IMAGE_JSON_MAX (4 << 20)        /* manifest, config and index.json: at most 4 MiB */
#define GPF_IMAGE_BLOB_MAX (64LL << 30)     /* one layer: at most 64 GiB */

/* One content descriptor of a manifest. */
typedef struct gpf_image_desc {
    char media_type[GPF_IMAGE_MEDIA_MAX];
    char digest[GPF_IMAGE_DIGEST_MAX];      /* "sha256:<64 lowercase hex>" */
    int64_t size;                           /* bytes, >= 1 */
} gpf_image_desc;

/* What the cache needs of an OCI image manifest. */
typedef struct gpf_image_manifest {
    gpf_image_desc config;                  /* application/vnd.oci.image.config.v1+json */
    gpf_image_desc layers[GPF_IMAGE_LAYERS_MAX]; /* ...layer.v1.tar or ...layer.v1.tar+gzip */
    int nlayers;                            /* 1..GPF_IMAGE_LAYERS_MAX */
    int64_t total;                          /* config and layer sizes summed */
} gpf_image_manifest;

/* Parses and validates an OCI image manifest (untrusted: len <= GPF_IMAGE_JSON_MAX, need not
 * be NUL-terminated): schemaVersion 2, mediaType application/vnd.oci.image.manifest.v1+json,
 * a config descriptor of the OCI config media type, 1..128 layers of an uncompressed or
 * gzip layer media type, every digest "sha256:" + 64 lowercase hex, every size 1..the
 * limits above. 0 and fills *out, else GPF_EMALFORMED (GPF_ETOOLARGE past the size limit)
 * saying what is wrong; *out is then unspecified. */
int gpf_image_manifest_parse(const char *json, size_t len, gpf_image_manifest *out, gpf_error *err);

/* 1 when s is "sha256:" followed by exactly 64 lowercase hex digits, else 0. */
int gpf_image_digest_valid(const char *s);

typedef struct gpf_image_cache gpf_image_cache;

/* Opens (creating it 0711, with its parents) the cache in dir, e.g. <agent state dir>/images.
 * 0 and *out (free with gpf_image_cache_close), else GPF_EINVAL (dir not absolute or too
 * long) or GPF_EIO (cannot create it). When not root, unpacks run `umoci unpack --rootless`
 * (files are then owned by the agent's user). */
int gpf_image_cache_open(const char *dir, gpf_image_cache **out, gpf_error *err);
void gpf_image_cache_close(gpf_image_cache *c); /* accepts NULL */

/* Fetches one blob (by digest "sha256:<hex>") into the file at path (the caller verifies).
 * path exists, empty, in the cache's blob directory: write it from the start (O_TRUNC).
 * 0, else a negative GPF_E* code (passed on by gpf_image_ensure). */
typedef int (*gpf_blob_fetch_fn)(void *ctx, const char *digest, const char *path, gpf_error *err);

/* Makes sure the image whose manifest digest is `digest` is unpacked: 0 and rootfs = the
 * absolute path of its root filesystem directory (owned by host root, as unpacked; pods
 * must use it read-only). Fetches each missing blob with fetch (ctx passed through),
 * verifying SHA-256 and size against the manifest's descriptor (the manifest itself:
 * against digest, at most GPF_IMAGE_JSON_MAX) before keeping it; validates the manifest
 * (gpf_image_manifest_parse) and that the config is a JSON object with one diff_id per
 * layer; updates layout/index.json; runs `umoci unpack` into unpack.<hex>.tmp (a leftover
 * one from a crash is removed first) and renames its rootfs to rootfs/<hex>. An image
 * already unpacked returns at once without calling fetch. progress (may be NULL) gets
 * short messages ("fetching 3 blobs, 84 MB", "unpacking"), same ctx.
 * Errors: GPF_EINVAL (malformed digest, rootfs too small), GPF_EMALFORMED (a blob that does
 * not match its digest or size, which is deleted; a bad manifest or config), the fetch
 * function's code, GPF_EIO (disk, or umoci failed: its output in the message), GPF_ETIMEOUT
 * (umoci ran past 15 minutes). On failure nothing half-made remains under rootfs/. */
int gpf_image_ensure(gpf_image_cache *c, const char *digest, gpf_blob_fetch_fn fetch, void *ctx,
                     void (*progress)(void *ctx, const char *msg), char *rootfs, size_t size, gpf_error *err);

/* 1 when unpacked (and rootfs filled when non-NULL and size suffices), else 0 (also for a
 * malformed digest). */
int gpf_image_present(gpf_image_cache *c, const char *digest, char *rootfs, size_t size);

/* Removes unpacked images and blobs whose manifest digest is not in keep[] (n entries; the
 * digests of every live or starting pod): a removed image's rootfs is first renamed away,
 * then deleted. Blobs kept: the kept manifests and what they reference. Also clears
 * leftovers of crashed unpacks and fetches. Returns how many images (unpacked or with a
 * manifest blob) were removed; 0 without touching anything while a gpf_image_ensure is in
 * progress on this directory (try later); GPF_EINVAL for a malformed digest in keep;
 * GPF_EIO when something could not be removed. */
int gpf_image_gc(gpf_image_cache *c, const char *const *keep, int n, gpf_error *err);

#endif
