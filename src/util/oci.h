/* OCI image layouts (image-spec v1: a directory with an `oci-layout` file, `index.json`
 * and blobs/sha256/<hex>): digests, finding a manifest by its ref name, and checking it.
 * Reads files only; never writes. Used by the control plane's image registry; the agent's
 * image cache may use it too. All functions return 0 or a negative GPF_E* code with err
 * filled; messages name the file at fault. */
#ifndef GPF_UTIL_OCI_H
#define GPF_UTIL_OCI_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define GPF_OCI_MANIFEST_TYPE "application/vnd.oci.image.manifest.v1+json"
#define GPF_OCI_INDEX_TYPE "application/vnd.oci.image.index.v1+json"
#define GPF_OCI_REF_NAME "org.opencontainers.image.ref.name"
#define GPF_OCI_MAX_LAYERS 256
#define GPF_OCI_MAX_JSON (4 * 1024 * 1024) /* index.json and manifests are read whole up to this */

/* 1 when d is "sha256:" followed by exactly 64 lowercase hex digits (what a blob is
 * named by), else 0 (NULL included). */
int gpf_oci_digest_valid(const char *d);

/* 1 when dir holds a regular file named oci-layout (an OCI image layout), else 0. */
int gpf_oci_is_layout(const char *dir);

/* dir/blobs/sha256/<hex> for a valid digest into out; GPF_EINVAL for a bad digest or a
 * path that does not fit. */
int gpf_oci_blob_path(const char *dir, const char *digest, char *out, size_t size);

/* What a layout's manifest says. */
typedef struct gpf_oci_manifest_info {
    char digest[72];            /* of the manifest: "sha256:<hex>" */
    int64_t size_bytes;         /* config + layer blobs, as their descriptors say */
    int nlayers;
} gpf_oci_manifest_info;

/* Finds in dir's index.json the image manifest whose "org.opencontainers.image.ref.name"
 * annotation is ref (ref NULL or "": the layout's only manifest; the first when a name
 * repeats, as skopeo takes it), then checks it: the manifest blob is there, its SHA-256 is its digest,
 * it is JSON with schemaVersion 2 and the OCI manifest media type, its config and its
 * 1..GPF_OCI_MAX_LAYERS layers have well-formed digests and their blobs are present with
 * the sizes the descriptors give. GPF_ENOTFOUND when index.json or the ref is missing,
 * GPF_EINVAL ("not an OCI image: ...") for anything malformed or missing. */
int gpf_oci_layout_find(const char *dir, const char *ref, gpf_oci_manifest_info *out, gpf_error *err);

#endif
