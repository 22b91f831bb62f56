#include "engine_fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "catalog_fixture.h"
#include "store/store_fault.h"
#include "util/alloc.h"

const char *const EF_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOv3b1m8Qdx9xJtq0wzS2dGm1Gm0r2JtB8m1m0Q3aaaa alice";

static int64_t fake_clock(void *ctx)
{
    return ((ef_fixture *)ctx)->now;
}

int ef_engine_open(ef_fixture *f, gpf_error *err)
{
    gpf_engine_config c = {0};
    c.store = f->store;
    c.catalog = f->cat;
    c.clock = fake_clock;
    c.clock_ctx = f;
    c.images_dir = f->images;
    c.skopeo = f->skopeo;
    return gpf_engine_open(&c, &f->e, err);
}

void ef_open(ef_fixture *f)
{
    gpf_error err = {0};
    assert_int_equal(gpf_store_open(f->db, &f->store, &err), 0);
    /* as serve runs it (--store-sync group): commits wait on the durability barrier */
    assert_int_equal(gpf_store_set_sync(f->store, GPF_STORE_SYNC_GROUP, &err), 0);
    if (f->fault) {
        gpf_store *inner = f->store;
        assert_int_equal(gpf_store_fault_wrap(inner, &f->store, &err), 0);
    }
    assert_int_equal(ef_engine_open(f, &err), 0);
}

void ef_close(ef_fixture *f)
{
    gpf_engine_free(f->e);
    gpf_store_close(f->store);
    f->e = NULL;
    f->store = NULL;
}

gpf_host_rec ef_host_h100(void)
{
    gpf_host_rec h;
    memset(&h, 0, sizeof h);
    snprintf(h.id, sizeof h.id, "h1");
    snprintf(h.address, sizeof h.address, "10.0.0.1");
    snprintf(h.deploy_mode, sizeof h.deploy_mode, "baremetal");
    h.cpus = 32;
    h.memory_mib = 262144;
    h.numa_nodes = 2;
    h.ngpus = 2;
    for (int i = 0; i < 2; i++) {
        snprintf(h.gpus[i].uuid, sizeof h.gpus[i].uuid, "GPU-0000000%d", i);
        h.gpus[i].index = i;
        snprintf(h.gpus[i].model, sizeof h.gpus[i].model, "H100-80GB-SXM5");
        h.gpus[i].memory_mib = 81559;
        h.gpus[i].mig_enabled = i == 1;
    }
    return h;
}

gpf_host_rec ef_host_failing(void)
{
    gpf_host_rec h = ef_host_h100();
    h.preflight = GPF_PREFLIGHT_FAIL;
    h.nfindings = 2;
    snprintf(h.findings[0].check, sizeof h.findings[0].check, "pcie-link");
    h.findings[0].level = GPF_PREFLIGHT_FAIL;
    h.findings[0].gpu = 0;
    snprintf(h.findings[0].detail, sizeof h.findings[0].detail, "link x8, max x16");
    snprintf(h.findings[0].fix, sizeof h.findings[0].fix, "reseat the GPU");
    snprintf(h.findings[1].check, sizeof h.findings[1].check, "thermal");
    h.findings[1].level = GPF_PREFLIGHT_WARN;
    h.findings[1].gpu = 1;
    snprintf(h.findings[1].detail, sizeof h.findings[1].detail, "8 C below slowdown");
    return h;
}

const char *ef_credential(ef_fixture *f, const char *host_id)
{
    for (int i = 0; i < f->nhost_toks; i++)
        if (strcmp(f->host_ids[i], host_id) == 0)
            return f->host_toks[i];
    return f->join;
}

void ef_keep_token(ef_fixture *f, const char *host_id, const char *tok)
{
    int i = 0;
    while (i < f->nhost_toks && strcmp(f->host_ids[i], host_id) != 0)
        i++;
    assert_true(i < 8);
    if (i == f->nhost_toks)
        f->nhost_toks++;
    snprintf(f->host_ids[i], sizeof f->host_ids[i], "%s", host_id);
    snprintf(f->host_toks[i], sizeof f->host_toks[i], "%s", tok);
}

void ef_register(ef_fixture *f, const gpf_host_rec *h, gpf_principal *agent)
{
    gpf_error err = {0};
    char atok[96];
    int hb = 0;
    int rc = gpf_engine_agent_register(f->e, ef_credential(f, h->id), h, atok, sizeof atok, &hb, &err);
    if (rc != 0)
        fail_msg("registering %s: %d %s", h->id, rc, gpf_error_msg(&err));
    ef_keep_token(f, h->id, atok);
    assert_int_equal(gpf_engine_authenticate(f->e, atok, agent, &err), 0);
    assert_true(agent->is_agent);
}

void ef_make_sku(ef_fixture *f, const char *name, gpf_slice_kind kind, const char *mig, int count)
{
    gpf_sku k;
    memset(&k, 0, sizeof k);
    snprintf(k.name, sizeof k.name, "%s", name);
    k.slice.kind = kind;
    k.slice.gpu_count = count;
    snprintf(k.slice.mig_profile, sizeof k.slice.mig_profile, "%s", mig);
    k.nmodels = 1;
    snprintf(k.models[0], sizeof k.models[0], "%s", kind == GPF_SLICE_MIG ? "H100-80GB" : "H100-80GB-SXM5");
    k.cpus = 2;
    k.memory_mib = 1024;
    k.price_micro_per_hour = 3600000; /* 1000 micro per second */
    gpf_error err = {0};
    assert_int_equal(gpf_engine_sku_create(f->e, &f->admin, &k, NULL, &err), 0);
}

int ef_make_vgpu_sku(ef_fixture *f, const char *name, const char *type, const char *model, gpf_error *err)
{
    gpf_sku k;
    memset(&k, 0, sizeof k);
    snprintf(k.name, sizeof k.name, "%s", name);
    k.slice.kind = GPF_SLICE_VGPU;
    k.slice.gpu_count = 1;
    snprintf(k.slice.vgpu_type, sizeof k.slice.vgpu_type, "%s", type);
    k.nmodels = model[0] ? 1 : 0;
    snprintf(k.models[0], sizeof k.models[0], "%s", model);
    k.cpus = 2;
    k.memory_mib = 1024;
    k.price_micro_per_hour = 3600000;
    return gpf_engine_sku_create(f->e, &f->admin, &k, NULL, err);
}

ef_fixture *ef_new(int options)
{
    ef_fixture *f = GPF_NEW(ef_fixture);
    snprintf(f->dir, sizeof f->dir, "/tmp/gpf-engine-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    if (options & EF_MEMORY)
        snprintf(f->db, sizeof f->db, ":memory:");
    else
        snprintf(f->db, sizeof f->db, "%s/db", f->dir);
    snprintf(f->images, sizeof f->images, "%s/images", f->dir);
    f->fault = (options & EF_FAULT) != 0;
    f->now = 1700000000000;
    gpf_error err = {0};
    f->cat = gpf_test_catalog_load(&err);
    assert_non_null(f->cat);
    ef_open(f);
    if (options & EF_BARE)
        return f;
    assert_int_equal(gpf_engine_bootstrap(f->e, "", f->admin_tok, sizeof f->admin_tok, f->join, sizeof f->join, &err), 0);
    assert_true(strncmp(f->admin_tok, "gpf_", 4) == 0);
    assert_int_equal(gpf_engine_authenticate(f->e, f->admin_tok, &f->admin, &err), 0);
    assert_int_equal(f->admin.role, GPF_ROLE_ADMIN);

    gpf_user u;
    memset(&u, 0, sizeof u);
    const char *names[2] = {"alice", "bob"};
    gpf_principal *ps[2] = {&f->alice, &f->bob};
    for (int i = 0; i < 2; i++) {
        snprintf(u.name, sizeof u.name, "%s", names[i]);
        u.role = GPF_ROLE_MEMBER;
        snprintf(u.ssh_pubkey, sizeof u.ssh_pubkey, "%s", EF_KEY);
        assert_int_equal(gpf_engine_user_create(f->e, &f->admin, &u, NULL, &err), 0);
        char tok[96];
        assert_int_equal(gpf_engine_token_create(f->e, &f->admin, names[i], NULL, tok, sizeof tok, NULL, &err), 0);
        assert_int_equal(gpf_engine_authenticate(f->e, tok, ps[i], &err), 0);
    }
    gpf_host_rec h = ef_host_h100();
    ef_register(f, &h, &f->agent);
    ef_make_sku(f, "whole", GPF_SLICE_WHOLE, "", 1);
    ef_make_sku(f, "mig1g", GPF_SLICE_MIG, "1g.10gb", 1);
    return f;
}

int ef_setup(void **state)
{
    *state = ef_new(0);
    return 0;
}

void ef_free(ef_fixture *f)
{
    ef_close(f);
    gpf_catalog_free(f->cat);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    gpf_free(f);
}

int ef_teardown(void **state)
{
    ef_free(*state);
    return 0;
}

void ef_launch(ef_fixture *f, const gpf_principal *who, const char *sku, gpf_pod *out, int expect)
{
    gpf_launch_req req;
    memset(&req, 0, sizeof req);
    snprintf(req.sku, sizeof req.sku, "%s", sku);
    gpf_error err = {0};
    assert_int_equal(gpf_engine_pod_launch(f->e, who, &req, out, &err), expect);
}

int ef_agent_status(ef_fixture *f, const char *pod, gpf_pod_state st, gpf_error *err)
{
    gpf_agent_pod_status s;
    memset(&s, 0, sizeof s);
    s.state = st;
    s.ssh_port = 22001;
    snprintf(s.ssh_user, sizeof s.ssh_user, "dev");
    return gpf_engine_agent_pod_status(f->e, &f->agent, pod, &s, err);
}

void ef_agent_says(ef_fixture *f, const char *pod, gpf_pod_state st, int expect)
{
    gpf_error err = {0};
    assert_int_equal(ef_agent_status(f, pod, st, &err), expect);
}

gpf_pod ef_pod(ef_fixture *f, const char *id)
{
    gpf_pod p;
    gpf_error err = {0};
    assert_int_equal(gpf_engine_pod_get(f->e, &f->admin, id, &p, &err), 0);
    return p;
}

gpf_api *ef_api_start(ef_fixture *f, int *port)
{
    gpf_api *api = NULL;
    gpf_api_config ac = {0};
    gpf_error err = {0};
    ac.engine = f->e;
    ac.bind_address = "127.0.0.1";
    assert_int_equal(gpf_api_start(&ac, &api, &err), 0);
    *port = gpf_api_port(api);
    return api;
}
