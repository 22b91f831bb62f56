/* Container Device Interface (CDI) specs: how the agent learns, the way the NVIDIA Container
 * Toolkit does, which device nodes, driver libraries (bind mounts), environment and hooks a
 * pod needs for its GPUs or MIG devices. A host's spec is what `nvidia-ctk cdi generate`
 * writes to /etc/cdi/nvidia.yaml (or .json):
 *
 *   cdiVersion: 0.5.0
 *   kind: nvidia.com/gpu                    vendor/class: vendor [A-Za-z][A-Za-z0-9_.-]*,
 *                                           class [A-Za-z][A-Za-z0-9_-]*, each ending alnum
 *   containerEdits: {...}                   applied whenever any device of the spec is used
 *   devices:
 *   - name: "0"                             [A-Za-z0-9][A-Za-z0-9_.:-]*, ending alnum
 *     containerEdits: {...}                 must not be empty
 *
 *   containerEdits:
 *     env: ["K=V", ...]                     K is [A-Za-z_][A-Za-z0-9_]*
 *     deviceNodes: [{path, hostPath?, type? (c, u = c, b), major?, minor?, fileMode?,
 *                    permissions? (of "rwm"), uid?, gid?}]
 *     mounts: [{hostPath, containerPath, type?, options?: [...]}]
 *     hooks: [{hookName, path, args?: [...], env?: [...], timeout? (1..3600 s)}]
 *     additionalGIDs: [...]                 validated, not returned (no field below)
 *
 * Unknown keys (annotations, intelRdt, netDevices, ...) are ignored. Specs are JSON or YAML;
 * YAML is converted to the same JSON tree (libyaml; a plain scalar that reads as an integer,
 * true/false or null is one, so `name: 0` is accepted where a string is expected), then
 * one validator serves both. Every spec is treated as untrusted (the agent runs as root):
 *   - every path is absolute, at most the field's size, has no newline and no ".." component;
 *   - a node's path and a mount's containerPath are not "/" and not under /proc or /sys;
 *   - hookName is prestart, createRuntime, createContainer, startContainer, poststart or
 *     poststop; fileMode is 0..07777; major 0..4095 and minor 0..1048575 (Linux's limits);
 *   - one containerEdits holds at most the GPF_CDI_MAX_* entries below (after folding);
 *   - a YAML document expands (aliases included) to at most 200000 nodes, 64 levels deep.
 *
 * Not thread-safe per object: a gpf_cdi is built (load, add_spec) by one thread; after that
 * the const functions may run concurrently. */
#ifndef GPF_AGENT_CDI_H
#define GPF_AGENT_CDI_H

#include <stddef.h>

#include "util/buf.h"
#include "util/error.h"

#define GPF_CDI_MAX_NODES 32
#define GPF_CDI_MAX_MOUNTS 64
#define GPF_CDI_MAX_ENV 64
#define GPF_CDI_MAX_HOOKS 16
#define GPF_CDI_MAX_ARGS 16
#define GPF_CDI_MAX_HOOK_ENV 8
#define GPF_CDI_MAX_DEVICES 1024          /* devices in one spec */
#define GPF_CDI_FILE_MAX (1 << 20)        /* one spec file: at most 1 MiB */
#define GPF_CDI_DIR_FILES 64              /* spec files read per directory (sorted by name) */
#define GPF_CDI_NAME_MAX 128              /* a device name or a kind, NUL included */

/* The standard spec directories, lowest priority first (pass both to gpf_cdi_load). */
#define GPF_CDI_DIR_ETC "/etc/cdi"
#define GPF_CDI_DIR_RUN "/var/run/cdi"

typedef struct gpf_cdi_node {
    char path[256];              /* in the container */
    char host_path[512];         /* on the host (the spec's hostPath, else path) */
    char type;                   /* 'c' 'b' or 0 (unknown: stat the host) */
    long long major, minor;      /* valid when has_numbers */
    int has_numbers;             /* the spec gave major or minor (the other is then 0) */
    unsigned file_mode;          /* 0..07777; 0 when the spec gave none */
} gpf_cdi_node;

typedef struct gpf_cdi_mount {
    char host_path[512];
    char container_path[512];
    int readonly;                /* options hold "ro" */
} gpf_cdi_mount;

typedef struct gpf_cdi_hook {
    char hook_name[32];          /* prestart createRuntime createContainer startContainer poststart poststop */
    char path[512];              /* absolute */
    int nargs;                   /* args[0] is argv[0], as in OCI */
    char args[GPF_CDI_MAX_ARGS][256];
    int nenv;
    char env[GPF_CDI_MAX_HOOK_ENV][256]; /* "K=V" */
    int timeout;                 /* seconds; 0 none */
} gpf_cdi_hook;

/* Large (about 230 KiB): allocate it on the heap. */
typedef struct gpf_cdi_edits {
    int nnodes;
    gpf_cdi_node nodes[GPF_CDI_MAX_NODES];
    int nmounts;
    gpf_cdi_mount mounts[GPF_CDI_MAX_MOUNTS];
    int nenv;
    char env[GPF_CDI_MAX_ENV][512];  /* "K=V" */
    int nhooks;
    gpf_cdi_hook hooks[GPF_CDI_MAX_HOOKS];
} gpf_cdi_edits;

typedef struct gpf_cdi gpf_cdi; /* the specs found on a host */

/* Loads every *.json, *.yaml and *.yml spec in the directories dirs[0..ndirs) (at most
 * GPF_CDI_DIR_FILES per directory, in name order; at most GPF_CDI_FILE_MAX bytes each;
 * regular files only, symlinks followed). A missing directory is fine: no spec. A spec that
 * cannot be read, is too large or is malformed is skipped and named in *warnings (one line
 * each, "path: why"; a gpf_buf the caller owns, appended to, may be NULL). Where two specs
 * define the same kind and device name, the one loaded later (a later directory, a later
 * file name) wins. 0 and *out (free with gpf_cdi_free; possibly with no device), or
 * GPF_EIO when a directory exists but cannot be listed (*out NULL). */
int gpf_cdi_load(const char *const *dirs, int ndirs, gpf_cdi **out, gpf_buf *warnings, gpf_error *err);

/* Parses one spec text (len bytes, need not be NUL-terminated; JSON when is_yaml is 0)
 * into c (for tests and the fuzz target; the spec is added to c, after the ones already
 * there). origin names it in messages (may be NULL). 0, or GPF_EMALFORMED saying what is
 * wrong ("origin: devices[1] (0:1): mounts[2].containerPath: under /proc"), or GPF_EINVAL
 * when one containerEdits exceeds a GPF_CDI_MAX_* limit (naming which); c is then
 * unchanged. */
int gpf_cdi_add_spec(gpf_cdi *c, const char *text, size_t len, int is_yaml, const char *origin, gpf_error *err);

gpf_cdi *gpf_cdi_new(void); /* empty; never NULL (aborts on out-of-memory) */
void gpf_cdi_free(gpf_cdi *c); /* accepts NULL */

/* The number of devices over all specs (a device listed by two specs counts twice). */
int gpf_cdi_device_count(const gpf_cdi *c);

/* The fully qualified name ("nvidia.com/gpu=0") of device i (0..count-1, in load order)
 * into buf. 0, or GPF_ENOTFOUND when i is out of range, GPF_EINVAL when buf is too small. */
int gpf_cdi_device_name(const gpf_cdi *c, int i, char *buf, size_t size);

/* The edits for the devices named (fully qualified "nvidia.com/gpu=GPU-…" or bare names
 * "GPU-…", "0", "0:1" looked up in `kind`, NULL meaning "nvidia.com/gpu"), merged into
 * *out (overwritten): the spec-level containerEdits of every spec that supplied one of
 * them (once each, in the order of first use), then each device's (a name given twice is
 * used once), with duplicate nodes (same path), mounts (same containerPath) and env (same
 * key) folded, the later winning in the earlier's place; identical hooks are kept once.
 * 0 and *out; GPF_ENOTFOUND naming the first name no spec has (or a malformed name);
 * GPF_EINVAL when the edits exceed the limits (naming which); *out is then unspecified. */
int gpf_cdi_edits_for(const gpf_cdi *c, const char *kind, const char *const *names, int nnames,
                      gpf_cdi_edits *out, gpf_error *err);

/* A fake host's spec (tests, the fake GPU backend) appended to *out as JSON: kind
 * nvidia.com/gpu; per GPU i in 0..n, two devices with the same edits, named uuids[i] and
 * the decimal indexes[i], each with deviceNodes [{path "/dev/nvidia<index>", hostPath
 * host_nodes[i]}] (host_nodes, or an entry of it, may be NULL: no hostPath); top-level
 * containerEdits with env "NVIDIA_CDI_FAKE=1" and, when lib_path is non-NULL, a mount of
 * lib_path at /usr/lib/x86_64-linux-gnu/libcuda.so.1 with options ro, nosuid, nodev, bind.
 * The result passes gpf_cdi_add_spec. 0, or GPF_EINVAL (n outside 0..256, a name or path
 * that the parser would refuse, two devices of one name) with *out unchanged. */
int gpf_cdi_fake_spec(const char *const *uuids, const int *indexes, const char *const *host_nodes, int n,
                      const char *lib_path, gpf_buf *out, gpf_error *err);

#endif
