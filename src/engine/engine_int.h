/* Engine internals shared by engine*.c. Not for other modules. */
#ifndef GPF_ENGINE_INT_H
#define GPF_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine/engine.h"
#include "sched/sched.h"

#define MAX_ORPHANS 64

typedef struct host_entry {
    gpf_host_rec rec;
    int64_t seq;                 /* command sequence: bumped when a command is added */
    int64_t last_seen_ms;        /* for loss detection (reset to "now" at start-up) */
    int64_t last_report_ms;      /* when the last heartbeat (the agent's report) arrived */
    int norphans;                /* pods the agent runs that we do not want: stop them */
    char orphans[MAX_ORPHANS][GPF_ID_MAX];
    int ndrift;                  /* open drift between the ledger and the last report */
    gpf_drift drift[GPF_MAX_HOST_DRIFT];
    int gpus_missing;            /* registered GPUs the agent no longer sees */
} host_entry;

/* A growable array of fixed-size elements. */
typedef struct vec {
    void *items;
    size_t n;
    size_t cap;
} vec;

struct gpf_engine {
    pthread_mutex_t mu;
    pthread_cond_t cond;         /* broadcast on any pod change or new command */
    gpf_store *store;
    const gpf_catalog *cat;
    gpf_clock_fn clock;
    void *clock_ctx;
    int heartbeat_ms;
    int lost_after_beats;
    int start_timeout_ms;
    int64_t seq_next;            /* next command sequence number */
    int closing;

    gpf_sched_fleet fleet;       /* the ledger */
    gpf_sched_policy *policy;    /* places whole-GPU and share pods (MIG and vGPU: geometry ranking) */
    int launches_since_tasks;    /* launches since the policy's task distribution was last set */
    vec hosts;                   /* host_entry */
    vec skus;                    /* gpf_sku */
    vec users;                   /* gpf_user */
    vec tokens;                  /* gpf_token */
    vec pods;                    /* gpf_pod */
    vec usage;                   /* gpf_usage */
    vec images;                  /* gpf_image */

    /* image imports: one at a time (import_mu, taken before mu), outside the engine's lock */
    pthread_mutex_t import_mu;
    atomic_int cancel_imports;   /* set at shutdown: a running skopeo is killed */
    char images_dir[1024];
    char skopeo[256];
    int import_timeout_ms;

    /* counters (Prometheus) */
    uint64_t launches_total;
    uint64_t launch_rejected_total;
    uint64_t pods_started_total;
    uint64_t pods_failed_total;
    uint64_t agent_registrations_total;
    uint64_t bad_agent_reports_total;
    uint64_t events_total;
};

void *vec_push(vec *v, size_t elem);      /* zeroed new element */
void vec_remove(vec *v, size_t elem, size_t i);
void vec_free(vec *v);
#define VEC_AT(v, type, i) (&((type *)(v)->items)[i])

int64_t eng_now(gpf_engine *e);
host_entry *eng_host(gpf_engine *e, const char *id);
gpf_user *eng_user(gpf_engine *e, const char *name);
gpf_sku *eng_sku(gpf_engine *e, const char *name);
gpf_pod *eng_pod(gpf_engine *e, const char *id);
gpf_image *eng_image(gpf_engine *e, const char *name);
/* The image a SKU's pods run: its image, else "default". */
const char *eng_sku_image_name(const gpf_sku *k);
gpf_usage *eng_open_usage(gpf_engine *e, const char *pod_id);
/* Rebuilds the ledger entry of one host from its record and the live pods on it. */
int eng_ledger_rebuild_host(gpf_engine *e, host_entry *h, gpf_error *err);
void eng_bump(gpf_engine *e, host_entry *h);
/* Gives the policy the task distribution it packs against: one task per whole-GPU or share
 * SKU, weighted by its live pods (plus one, so a new SKU counts). */
void eng_policy_tasks(gpf_engine *e);
int eng_is_staff(const gpf_principal *who); /* admin or operator */

/* ---- engine_reconcile.c ---- */
/* 1 when new pods may be placed on h; else 0 with why (size n) saying what stops it. */
int eng_host_schedulable(const host_entry *h, char *why, size_t n);
/* Copies eng_host_schedulable into the ledger's host. */
void eng_sync_schedulable(gpf_engine *e, host_entry *h);
/* Appends an event to the log (a failed write is logged, not returned). */
void eng_event(gpf_engine *e, const char *kind, const char *severity, const char *host_id, const char *pod_id,
               const char *subject, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* Compares a heartbeat with the ledger: finishes dead pods, records drift as events. */
int eng_reconcile(gpf_engine *e, host_entry *h, const gpf_agent_report *r, gpf_error *err);
/* The host stopped sending heartbeats: it is lost, and so are its pods. */
void eng_host_lost(gpf_engine *e, host_entry *h, int64_t now);
/* Registration: what the preflight said, as an event. */
void eng_preflight_event(gpf_engine *e, const host_entry *h);
/* Writes a pod and (when u is non-NULL) its usage record in one transaction: inserts u
 * (assigning u->id) when insert is 1, else updates it. */
int eng_store_pod_usage(gpf_engine *e, const gpf_pod *p, gpf_usage *u, int insert, gpf_error *err);
/* Moves a pod to a final state: frees its slice, closes its usage record, durably. */
int eng_pod_finish(gpf_engine *e, gpf_pod *p, gpf_pod_state state, int64_t at_ms, const char *reason,
                   gpf_error *err);

#endif
