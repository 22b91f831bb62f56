/* The engine: the one owner of the control plane's mutable state (fleet ledger, hosts,
 * SKUs, users, tokens, pods, usage, agent command queues).
 *
 * Concurrency: every public function takes the engine's single lock (e->mu) for its
 * whole duration, except the two long-poll waits, which release it while waiting on
 * the engine's condition variable. HTTP handler threads may call any function
 * concurrently. Results are returned as copies, so callers encode them outside the lock.
 *
 * Durability: a function that changes state writes the change to the store before it
 * returns success ("acknowledged = durable"), every write of one change (with the events
 * that record it) in one store transaction, and keeps the change in memory only when that
 * committed: when a write fails, the caller gets its error and the engine and the
 * database are as they were. On open, everything is loaded back and the ledger is rebuilt
 * from the placements of live pods (pods that no longer fit are failed, in one
 * transaction: when it fails, open fails).
 *
 * Errors: 0 or a negative GPF_E* code with err filled (message fit for the API). */
#ifndef GPF_ENGINE_ENGINE_H
#define GPF_ENGINE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "model/agent.h"
#include "model/fleet.h"
#include "model/metrics.h"
#include "model/tenancy.h"
#include "model/usage.h"
#include "model/views.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/error.h"

typedef struct gpf_engine gpf_engine;

/* The most read-only store handles an engine reads through (gpf_engine_config.readers). */
#define GPF_ENGINE_READERS 4

/* Wall clock in UTC ms; tests pass a fake. */
typedef int64_t (*gpf_clock_fn)(void *ctx);

typedef struct gpf_engine_config {
    gpf_store *store;             /* borrowed; must outlive the engine */
    /* borrowed, may be NULL: read-only handles on the same database (gpf_store_open_reader)
     * for list and get reads made outside the engine's lock, each used by one read at a time
     * (so up to GPF_ENGINE_READERS run in parallel); none = those read store under the lock */
    gpf_store *readers[GPF_ENGINE_READERS];
    const gpf_catalog *catalog;   /* borrowed; must outlive the engine */
    gpf_clock_fn clock;           /* NULL = gpf_now_ms */
    void *clock_ctx;
    int heartbeat_ms;             /* what agents are told; default 2000 */
    int lost_after_beats;         /* missed beats before a host is unreachable; default 5 */
    int64_t host_grace_ms;        /* an unreachable host is lost after this much more silence; default 600000 */
    int start_timeout_ms;         /* a pod still starting after this fails; default 120000 */
    const char *policy;           /* placement policy (gpf_sched_policy_names); NULL/"" = "gpufleet" */
    /* Images: the OCI image layout imported images are copied into (<state-dir>/images; made
     * on first import). NULL or "" = no image store: imports are refused, blobs not found. */
    const char *images_dir;
    const char *skopeo;           /* the program that copies images in; NULL/"" = "skopeo" from PATH */
    int import_timeout_ms;        /* one import's limit; default 600000 (10 min) */
} gpf_engine_config;

int gpf_engine_open(const gpf_engine_config *cfg, gpf_engine **out, gpf_error *err);
void gpf_engine_free(gpf_engine *e);

/* First start: when no user exists, creates user "admin" with a fresh token and
 * writes the secret to admin_token (size >= 64); when no join token exists, creates
 * one (or uses join_token_in when non-empty, e.g. from the configuration) and writes
 * it to join_token. Outputs are "" when nothing was created. Only hashes are stored. All of it
 * is one transaction: when a write fails nothing is created (outputs "") and the error is
 * returned. */
int gpf_engine_bootstrap(gpf_engine *e, const char *join_token_in, char *admin_token, size_t asz,
                         char *join_token, size_t jsz, gpf_error *err);

/* Bearer token -> principal. GPF_EUNAUTH when unknown or revoked ("unknown token"), expired
 * ("token expired"), or its user is disabled or deleted. A user token's last use is kept in
 * memory only (gpf_engine_token_use_flush writes it). */
int gpf_engine_authenticate(gpf_engine *e, const char *token, gpf_principal *out, gpf_error *err);

/* ---- users ---- */
int gpf_engine_user_create(gpf_engine *e, const gpf_principal *who, const gpf_user *u, gpf_user *out,
                           gpf_error *err);
int gpf_engine_user_get(gpf_engine *e, const gpf_principal *who, const char *name, gpf_user *out,
                        gpf_error *err);
/* *out heap array (gpf_free): every user but the deleted ones. admin only. */
int gpf_engine_user_list(gpf_engine *e, const gpf_principal *who, gpf_user **out, size_t *n, gpf_error *err);
/* Replaces what changed (GPF_USER_* bits, model/tenancy.h) with u's: the role (admin only),
 * the ssh key (admin or self), disabled (admin only; disabling stops the user's live pods,
 * as a stop would, and its tokens are refused until it is enabled again). One transaction
 * with an event per change (user_updated, user_disabled, user_enabled). GPF_ESTATE when it
 * would leave no enabled admin. */
int gpf_engine_user_update(gpf_engine *e, const gpf_principal *who, const gpf_user *u, unsigned changed,
                           gpf_user *out, gpf_error *err);
/* Deletes a user (admin only): revokes its tokens, stops its live pods and keeps the record
 * (deleted_ms set) so that its history stays and its name cannot be taken again. One
 * transaction with the events (user_deleted, token_revoked). GPF_ESTATE for the last admin. */
int gpf_engine_user_delete(gpf_engine *e, const gpf_principal *who, const char *name, gpf_error *err);

/* ---- tokens ---- */
/* New token for user (admin or self), named and with an expiry per spec (NULL: unnamed,
 * never expires). secret receives the token text (size >= 64); out (may be NULL) the
 * record. One transaction with its token_created event. */
int gpf_engine_token_create(gpf_engine *e, const gpf_principal *who, const char *user, const gpf_token_spec *spec,
                            char *secret, size_t ssz, gpf_token *out, gpf_error *err);
/* The live (unrevoked) user tokens of user (NULL or "": the caller's own; admin or self),
 * or with all every user's (admin). Heap array (gpf_free; in no set order), hash cleared.
 * Agent tokens are not listed. */
int gpf_engine_token_list(gpf_engine *e, const gpf_principal *who, const char *user, int all, gpf_token **out,
                          size_t *n, gpf_error *err);
/* Revokes a user token (admin, or its user: another user's token is GPF_ENOTFOUND, as an
 * unknown one): refused at once, and after a restart. One transaction with token_revoked. */
int gpf_engine_token_revoke(gpf_engine *e, const gpf_principal *who, const char *id, gpf_error *err);
/* Writes the last-used time of every token used since the previous write, in one
 * transaction, when force is set or GPF_TOKEN_USE_FLUSH_MS have passed since then (so a
 * token's last use is written at most once a minute, not on every request). A failure is
 * logged and counted (gpf_engine_tick_failures) and retried the next time. serve calls it
 * with each tick and with force at shutdown. */
void gpf_engine_token_use_flush(gpf_engine *e, int force);

/* ---- SKUs ---- */
int gpf_engine_sku_create(gpf_engine *e, const gpf_principal *who, const gpf_sku *k, gpf_sku *out,
                          gpf_error *err);
int gpf_engine_sku_get(gpf_engine *e, const char *name, gpf_sku *out, gpf_error *err);
int gpf_engine_sku_list(gpf_engine *e, gpf_sku **out, size_t *n, gpf_error *err);
/* Replaces an existing SKU (same name) with k after validation. */
int gpf_engine_sku_update(gpf_engine *e, const gpf_principal *who, const gpf_sku *k, gpf_sku *out,
                          gpf_error *err);
int gpf_engine_sku_delete(gpf_engine *e, const gpf_principal *who, const char *name, gpf_error *err);

/* ---- images ---- */
/* Copies source into the image store as image name (admin or operator) and records it.
 * source: an absolute path on the control plane to an OCI image layout directory (with an
 * oci-layout file; "DIR:REF" picks a ref name of it) or to an OCI archive (.tar), or a
 * "docker://..." registry reference. Runs `skopeo copy --quiet <transport:source>
 * oci:<images_dir>:<name>` without holding the engine's lock (imports run one at a time),
 * then checks the copied manifest (util/oci.h). An existing image of that name is replaced:
 * *previous gets it (previous->name "" when the name was new; previous may be NULL). out
 * may be NULL. Errors: EFORBIDDEN; EINVAL (bad name or source, not an OCI image); ENOTFOUND
 * (source missing); ENOTSUP (no image store, or skopeo is not installed); ETIMEOUT. */
int gpf_engine_image_import(gpf_engine *e, const gpf_principal *who, const char *name, const char *source,
                            gpf_image *out, gpf_image *previous, gpf_error *err);
/* Start-up: imports the layout dir as image name unless an image of that name already has
 * the digest of dir's manifest (dir's only manifest, else the one named name). *imported:
 * 1 when it imported. ENOTFOUND when dir is not there. Runs as the control plane itself. */
int gpf_engine_image_ensure(gpf_engine *e, const char *name, const char *dir, int *imported, gpf_image *out,
                            gpf_error *err);
/* Every image (heap array, gpf_free), by name; any token. */
int gpf_engine_image_list(gpf_engine *e, gpf_image **out, size_t *n, gpf_error *err);
int gpf_engine_image_get(gpf_engine *e, const char *name, gpf_image *out, gpf_error *err);
/* Removes the record (admin or operator); its blobs stay on disk (pods may still fetch
 * them). EEXIST naming the SKUs that use it (image "" uses "default"). */
int gpf_engine_image_delete(gpf_engine *e, const gpf_principal *who, const char *name, gpf_error *err);
/* Opens the blob named digest in the image store for an agent to download: *fd (caller
 * closes) and *size. EFORBIDDEN for a user token, EMALFORMED for a digest that is not
 * "sha256:" + 64 lowercase hex digits, ENOTFOUND when the store has no such blob. */
int gpf_engine_image_blob_open(gpf_engine *e, const gpf_principal *who, const char *digest, int *fd, int64_t *size,
                               gpf_error *err);

/* ---- hosts ---- */
int gpf_engine_host_list(gpf_engine *e, gpf_host_rec **hosts, gpf_host_usage **usage, size_t *n,
                         gpf_error *err);
int gpf_engine_host_get(gpf_engine *e, const char *id, gpf_host_rec *out, gpf_host_usage *usage,
                        gpf_error *err);
/* Operator override of a failing preflight (admin or operator): on=1 lets the host take
 * pods despite a FAIL verdict (reason required, kept with the host); on=0 clears it. The
 * override lasts until cleared, across agent restarts. out may be NULL. */
int gpf_engine_host_override(gpf_engine *e, const gpf_principal *who, const char *id, int on, const char *reason,
                             gpf_host_rec *out, gpf_error *err);

/* ---- host identity: join tokens and re-keys (engine_join.c) ---- */
/* New join token (admin or operator): name "" or a valid name; expires_in_ms 0 = never,
 * else > 0; uses -1 = unlimited, else >= 1. secret receives the token text (size >= 64,
 * shown once: only its hash is kept); out (may be NULL) the record. One transaction with
 * its join_token_created event. EINVAL for a bad argument. */
int gpf_engine_join_token_create(gpf_engine *e, const gpf_principal *who, const char *name, int64_t expires_in_ms,
                                 int64_t uses, char *secret, size_t ssz, gpf_join_token *out, gpf_error *err);
/* Every join token, revoked and expired ones included (admin or operator): heap array
 * (gpf_free), by id, hashes cleared. */
int gpf_engine_join_token_list(gpf_engine *e, const gpf_principal *who, gpf_join_token **out, size_t *n,
                               gpf_error *err);
/* Revokes a join token (admin or operator): refused from now on. One transaction with its
 * join_token_revoked event; revoking a revoked one changes nothing (0). ENOTFOUND. out may
 * be NULL. */
int gpf_engine_join_token_revoke(gpf_engine *e, const gpf_principal *who, const char *id, gpf_join_token *out,
                                 gpf_error *err);
/* Re-keys a host (admin or operator): its agent tokens are revoked at once and the next
 * join-token registration of its id may replace it, once. One transaction with its
 * host_rekeyed event. ENOTFOUND. out may be NULL. */
int gpf_engine_host_rekey(gpf_engine *e, const gpf_principal *who, const char *id, gpf_host_rec *out,
                          gpf_error *err);

/* ---- events ---- */
/* The newest events matching f (heap array, oldest first; gpf_free). Admins, operators
 * and viewers see every event; other users only those of their own pods. */
int gpf_engine_events_list(gpf_engine *e, const gpf_principal *who, const gpf_event_filter *f, gpf_event **out,
                           size_t *n, gpf_error *err);
/* gpf_engine_events_list, and for paging towards older events: *next_before gets the id to
 * pass as f->before_id for the next page, or 0 when the store has no older match (the
 * page, after visibility, may hold fewer than f->limit events, even none, and still have a
 * next). */
int gpf_engine_events_page(gpf_engine *e, const gpf_principal *who, const gpf_event_filter *f, gpf_event **out,
                           size_t *n, int64_t *next_before, gpf_error *err);

/* ---- pods ---- */
int gpf_engine_pod_launch(gpf_engine *e, const gpf_principal *who, const gpf_launch_req *req,
                          gpf_pod *out, gpf_error *err);
/* get, wait and stop: a pod the caller may not see (another user's, for a member) is
 * GPF_ENOTFOUND with the message of an unknown pod, "no pod '<id>'"; an agent token is
 * GPF_EFORBIDDEN. */
int gpf_engine_pod_get(gpf_engine *e, const gpf_principal *who, const char *id, gpf_pod *out,
                       gpf_error *err);
/* Like get, but first waits up to timeout_ms for the pod to be running or final. */
int gpf_engine_pod_wait(gpf_engine *e, const gpf_principal *who, const char *id, int timeout_ms,
                        gpf_pod *out, gpf_error *err);
/* include_final: 0 = live pods only. owner: NULL or a user filter (admin/operator). Every
 * match, ordered by (created_ms, id): gpf_engine_pod_page without a limit. */
int gpf_engine_pod_list(gpf_engine *e, const gpf_principal *who, int include_final, const char *owner,
                        gpf_pod **out, size_t *n, gpf_error *err);
/* One page of the pods who may see, as q asks (store.h): q->live answers from memory (only
 * the page is copied); otherwise from the store, read outside the engine's lock when the
 * engine has a reader. Ordered by (created_ms, id); at most q->limit (0 = all). *out heap
 * array (gpf_free); *more is 1 when pods after the last one answered match too. A caller who
 * may not read every pod gets only their own. */
int gpf_engine_pod_page(gpf_engine *e, const gpf_principal *who, const gpf_pod_query *q, gpf_pod **out, size_t *n,
                        int *more, gpf_error *err);
int gpf_engine_pod_stop(gpf_engine *e, const gpf_principal *who, const char *id, gpf_pod *out,
                        gpf_error *err);

/* ---- usage ---- */
/* pod_id: NULL or a filter. Members see their own records. Every match, by id:
 * gpf_engine_usage_page without a limit. */
int gpf_engine_usage_list(gpf_engine *e, const gpf_principal *who, const char *pod_id, gpf_usage **out,
                          size_t *n, gpf_error *err);
/* One page of usage records (open and closed) as q asks, read from the store (outside the
 * engine's lock when it has a reader), by id, at most q->limit (0 = all); *more as for
 * pods. Members see their own records only (q->owner is then theirs). */
int gpf_engine_usage_page(gpf_engine *e, const gpf_principal *who, const gpf_usage_query *q, gpf_usage **out,
                          size_t *n, int *more, gpf_error *err);
int64_t gpf_engine_now(gpf_engine *e);

/* ---- agents ---- */
/* Register (or re-register) a host. credential is a join token, which admits a host id that
 * does not exist yet or one an operator re-keyed (the re-key is used up), or the host's own
 * agent token (a restarting agent: the host keeps its operator override, and its record is
 * what the agent reports now). Refused: GPF_EUNAUTH (unknown token; a join token expired,
 * used up or revoked), GPF_EFORBIDDEN (another host's agent token), GPF_EEXIST (a join token
 * for a host that exists; the message says what to do), GPF_EINVAL (bad host record).
 * agent_token receives a new agent token secret (size >= 64); the host's older agent tokens
 * are revoked. One transaction: the host, the pods its new record no longer fits (failed),
 * its preflight event, the join token's use, the revocation, the new token and the event
 * (host_registered, or host_reregistered for its own token). */
int gpf_engine_agent_register(gpf_engine *e, const char *credential, const gpf_host_rec *h,
                              char *agent_token, size_t tsz, int *heartbeat_ms, gpf_error *err);
/* The agent's report (r may be NULL: a bare sign of life). Pods it runs that the engine
 * has as final or unknown are queued for stopping; pods it saw die (state failed) are
 * failed at that moment, and a running pod it no longer lists (running since before the
 * previous report) is failed at the previous report. With has_gpus, a reported GPU that
 * is not registered -> EINVAL; a registered one not reported, MIG devices and processes
 * that do not match the ledger, and idle pods are recorded as drift (events, host get).
 * One transaction with the host's return from lost and the events: when a write fails the
 * agent gets the error, nothing changes, and its next report is reconciled afresh. */
int gpf_engine_agent_heartbeat(gpf_engine *e, const gpf_principal *who, const gpf_agent_report *r,
                               gpf_error *err);

typedef enum { GPF_CMD_START_POD = 0, GPF_CMD_STOP_POD } gpf_cmd_type;
typedef struct gpf_agent_cmd {
    gpf_cmd_type type;
    gpf_pod pod;
    char ssh_pubkey[GPF_PUBKEY_MAX];
    char env[GPF_TEXT_MAX];
} gpf_agent_cmd;
/* Long poll: waits up to wait_ms until the host's command sequence passes `after`,
 * then returns every outstanding command (heap array, gpf_free) and the sequence. A poll
 * is a sign of life: a lost host is back (written first; its store error is returned). */
int gpf_engine_agent_commands(gpf_engine *e, const gpf_principal *who, int64_t after, int wait_ms,
                              gpf_agent_cmd **out, size_t *n, int64_t *seq, gpf_error *err);
/* The agent's word on one of its pods: running (usage opens), failed or stopped (final,
 * slice freed, usage closed); also a sign of life, as a poll is. One transaction. A pod
 * not placed on the host: GPF_ENOTFOUND; another state: GPF_EINVAL. */
int gpf_engine_agent_pod_status(gpf_engine *e, const gpf_principal *who, const char *pod_id,
                                const gpf_agent_pod_status *st, gpf_error *err);
/* A batch of the agent's pod reports (items[0..n), n <= GPF_AGENT_STATUS_BATCH_MAX), applied
 * in order, each by the rules above, in ONE transaction under one hold of the lock (a sign
 * of life as well). Returns 0 when it committed: results[i] (room for n) is cleared for a
 * report taken and holds the refusal of one refused (GPF_ENOTFOUND for a pod not placed on
 * the host, counted in bad_agent_reports_total; GPF_EINVAL); a refusal never affects the
 * other reports. Else the error (an unknown host, a store failure) and nothing of the
 * batch is applied: memory and store are as they were, results undefined. */
int gpf_engine_agent_pod_status_batch(gpf_engine *e, const gpf_principal *who, const gpf_agent_status_item *items,
                                      size_t n, gpf_error *results, gpf_error *err);

/* Periodic housekeeping: marks hosts unreachable after missed heartbeats (no new pods; their
 * pods stay, metered, reachability "unknown") and lost after host_grace_ms more (their pods
 * become lost, usage closed at the last report that saw them), and fails pods their agent
 * did not start within start_timeout_ms (freeing their slices). Each host's change and each
 * timeout is one transaction; one that fails is logged and counted (gpf_engine_tick_failures),
 * leaves the engine as it was, and is retried by the next tick. */
void gpf_engine_tick(gpf_engine *e);
/* How many of gpf_engine_tick's transactions have failed since open. */
uint64_t gpf_engine_tick_failures(gpf_engine *e);
/* Wakes every long poll (shutdown). */
void gpf_engine_wake_all(gpf_engine *e);

/* The engine's gauges and counters, copied into *m under the lock with no formatting (the
 * API renders them, api/metrics.h). *m is overwritten, not freed first; m->hosts is owned
 * by the caller (gpf_metrics_clear). */
void gpf_engine_metrics(gpf_engine *e, gpf_metrics *m);

#endif
