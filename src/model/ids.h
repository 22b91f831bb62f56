/* Ids, names and the fixed sizes every record is built with. The lowest header of the
 * model: the scheduler's slices, the records and the agent (which sizes its buffers with
 * these and needs nothing else of the model) include it. gpf_name_valid is in model/ids.c. */
#ifndef GPF_MODEL_IDS_H
#define GPF_MODEL_IDS_H

#define GPF_ID_MAX 64        /* ids and names: [a-z0-9][a-z0-9._-]{0,62} */
#define GPF_UUID_MAX 96      /* "GPU-…" or "MIG-…" */
#define GPF_TEXT_MAX 256
#define GPF_PUBKEY_MAX 2048  /* one OpenSSH public key line */
#define GPF_DIGEST_MAX 72    /* "sha256:" + 64 lowercase hex digits + NUL */
#define GPF_SOURCE_MAX 1024  /* where an image was imported from (a path or docker:// reference) */
#define GPF_MAX_HOST_GPUS 16
#define GPF_MAX_POD_GPUS 8
#define GPF_MAX_SKU_MODELS 8

/* 1 when s is an id or name: [a-z0-9][a-z0-9._-]{0,62} (fits GPF_ID_MAX); 0 otherwise,
 * NULL included. */
int gpf_name_valid(const char *s);

#endif
