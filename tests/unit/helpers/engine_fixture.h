/* Test helper: an engine on a real store (a file in a temp dir) with its image store beside
 * it, the embedded catalog and a fake clock; users admin, alice and bob (members); host "h1" with two H100s (GPU 1 in
 * MIG mode) registered by an agent; SKUs "whole" (one H100) and "mig1g" (1g.10gb).
 * Used with cmocka: ef_setup/ef_teardown are setup/teardown functions. */
#ifndef GPF_TEST_ENGINE_FIXTURE_H
#define GPF_TEST_ENGINE_FIXTURE_H

#include <stdint.h>

#include "catalog/catalog.h"
#include "engine/engine.h"
#include "store/store.h"

typedef struct ef_fixture {
    char dir[64];
    char db[128];
    char images[128];           /* the engine's image store: <dir>/images */
    const char *skopeo;         /* the engine's skopeo (NULL: from PATH); read by ef_open */
    int64_t now;
    gpf_catalog *cat;
    gpf_store *store;
    gpf_engine *e;
    char admin_tok[96];
    char join[96];
    gpf_principal admin, alice, bob, agent;
} ef_fixture;

extern const char *const EF_KEY;

int ef_setup(void **state);
int ef_teardown(void **state);
/* Opens the engine on the fixture's database file (again, after ef_close: a restart). */
void ef_open(ef_fixture *f);
void ef_close(ef_fixture *f);
/* The host the fixture registers. */
gpf_host_rec ef_host_h100(void);
/* Registers h with the join token (an agent (re)start); agent receives its principal. */
void ef_register(ef_fixture *f, const gpf_host_rec *h, gpf_principal *agent);
void ef_make_sku(ef_fixture *f, const char *name, gpf_slice_kind kind, const char *mig, int count);
/* Creates a vGPU SKU of type (allowed model: model, "" = any) as admin; returns the result
 * code, err gets the message. */
int ef_make_vgpu_sku(ef_fixture *f, const char *name, const char *type, const char *model, gpf_error *err);
/* Launches sku as who; asserts the result code. */
void ef_launch(ef_fixture *f, const gpf_principal *who, const char *sku, gpf_pod *out, int expect);
/* The agent reports pod's state (ssh port 22001, user dev); asserts the result code. */
void ef_agent_says(ef_fixture *f, const char *pod, gpf_pod_state st, int expect);
/* A pod as the engine has it now (admin's view). */
gpf_pod ef_pod(ef_fixture *f, const char *id);

#endif
