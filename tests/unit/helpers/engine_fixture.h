/* Test helper: an engine on a real store (a file in a temp dir) with its image store beside
 * it, the embedded catalog and a fake clock; users admin, alice and bob (members); host "h1" with two H100s (GPU 1 in
 * MIG mode) registered by an agent; SKUs "whole" (one H100) and "mig1g" (1g.10gb).
 * Used with cmocka: ef_setup/ef_teardown are setup/teardown functions; ef_new/ef_free make
 * and free one directly, with options (EF_*). */
#ifndef GPF_TEST_ENGINE_FIXTURE_H
#define GPF_TEST_ENGINE_FIXTURE_H

#include <stdint.h>

#include "catalog/catalog.h"
#include "engine/engine.h"
#include "store/store.h"

/* ef_new's options. */
enum {
    EF_FAULT = 1,   /* the engine's store is a fault store (store_fault.h) around the database:
                     * f->store is the wrapper, disarmed; closing it closes the database */
    EF_MEMORY = 2,  /* the database is ":memory:" (gone with the store: no restart) */
    EF_BARE = 4,    /* the engine only: no bootstrap, users, host or SKUs */
};

typedef struct ef_fixture {
    char dir[64];
    char db[128];
    int fault;                  /* EF_FAULT: read by ef_open */
    char images[128];           /* the engine's image store: <dir>/images */
    const char *skopeo;         /* the engine's skopeo (NULL: from PATH); read by ef_open */
    int64_t now;
    gpf_catalog *cat;
    gpf_store *store;
    gpf_engine *e;
    char admin_tok[96];
    char join[96];
    gpf_principal admin, alice, bob, agent;
    int nhost_toks;             /* the agent tokens ef_keep_token kept, by host */
    char host_ids[8][64];
    char host_toks[8][96];
} ef_fixture;

extern const char *const EF_KEY;

int ef_setup(void **state);
int ef_teardown(void **state);
/* The fixture with options (EF_* or-ed; 0: what ef_setup makes); ef_free removes it all. */
ef_fixture *ef_new(int options);
void ef_free(ef_fixture *f);
/* Opens the engine on the fixture's database file (again, after ef_close: a restart). */
void ef_open(ef_fixture *f);
/* Opens the engine on f->store as it is (after gpf_engine_free: a restart on the same
 * store); the result code, f->e NULL when it failed. */
int ef_engine_open(ef_fixture *f, gpf_error *err);
void ef_close(ef_fixture *f);
/* The host the fixture registers. */
gpf_host_rec ef_host_h100(void);
/* The same host with a failing preflight: findings "pcie-link" (fail, GPU 0, with a fix)
 * and "thermal" (warn, GPU 1). */
gpf_host_rec ef_host_failing(void);
/* Registers h as its agent does when it (re)starts: with the agent token kept for h's id
 * (ef_keep_token), else with the join token; keeps the new token; agent receives its
 * principal. */
void ef_register(ef_fixture *f, const gpf_host_rec *h, gpf_principal *agent);
/* What the agent of host_id registers with: the token kept for it, else the join token. */
const char *ef_credential(ef_fixture *f, const char *host_id);
/* Keeps tok as host_id's agent token (what the agent writes to its state directory). */
void ef_keep_token(ef_fixture *f, const char *host_id, const char *tok);
void ef_make_sku(ef_fixture *f, const char *name, gpf_slice_kind kind, const char *mig, int count);
/* Creates a vGPU SKU of type (allowed model: model, "" = any) as admin; returns the result
 * code, err gets the message. */
int ef_make_vgpu_sku(ef_fixture *f, const char *name, const char *type, const char *model, gpf_error *err);
/* Launches sku as who; asserts the result code. */
void ef_launch(ef_fixture *f, const gpf_principal *who, const char *sku, gpf_pod *out, int expect);
/* The agent reports pod's state (ssh port 22001, user dev); asserts the result code. */
void ef_agent_says(ef_fixture *f, const char *pod, gpf_pod_state st, int expect);
/* The same without asserting (for threads other than the test's): the result code. */
int ef_agent_status(ef_fixture *f, const char *pod, gpf_pod_state st, gpf_error *err);
/* A pod as the engine has it now (admin's view). */
gpf_pod ef_pod(ef_fixture *f, const char *id);
/* A real API server on 127.0.0.1 (a free port, in *port) in front of f's engine; the caller
 * stops it (gpf_api_stop) before ef_free. */
struct gpf_api *ef_api_start(ef_fixture *f, int *port);

#endif
