/* Store: exact round-trips of every record type, upserts, deletes, usage ids, settings,
 * transactions, migrations (reopen, newer schema refused, failed migration rolled
 * back) and durability across SIGKILL. Each test uses ":memory:" or a fresh temp dir. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h> /* to write a database as an older gpufleet left it */

#include "store/store.h"
#include "util/alloc.h"

/* ---- fixtures ------------------------------------------------------------------ */

typedef struct tmpdir {
    char dir[64];
    char db[128];
} tmpdir;

static void tmp_make(tmpdir *t)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/gpf-store-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->db, sizeof t->db, "%s/state.db", t->dir);
}

static void tmp_remove(tmpdir *t)
{
    DIR *d = opendir(t->dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[400];
        snprintf(path, sizeof path, "%s/%s", t->dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    assert_int_equal(rmdir(t->dir), 0);
}

static gpf_store *open_mem(void)
{
    gpf_store *s = NULL;
    gpf_error err = {0};
    int rc = gpf_store_open(":memory:", &s, &err);
    if (rc != 0)
        fail_msg("open: %s", err.msg);
    return s;
}

static int latest_version(void)
{
    size_t n = 0;
    const gpf_store_migration *m = gpf_store_migrations(&n);
    assert_true(n > 0);
    return m[n - 1].version;
}

/* The built-in migrations followed by one extra (heap; caller frees). */
static gpf_store_migration *with_extra(const char *name, const char *sql, size_t *n)
{
    size_t nb = 0;
    const gpf_store_migration *b = gpf_store_migrations(&nb);
    gpf_store_migration *list = gpf_calloc(nb + 1, sizeof *list);
    memcpy(list, b, nb * sizeof *list);
    list[nb].version = b[nb - 1].version + 1;
    list[nb].name = name;
    list[nb].sql = sql;
    *n = nb + 1;
    return list;
}

/* Replaces a char-array field, zeroing its tail so records still compare with memcmp. */
#define SETS(field, str)                                                       \
    do {                                                                       \
        memset((field), 0, sizeof(field));                                     \
        snprintf((field), sizeof(field), "%s", (str));                         \
    } while (0)

/* Records are zeroed first, so unused array slots and string tails compare equal. */
static void fill_host(gpf_host_rec *h, const char *id, int ngpus)
{
    memset(h, 0, sizeof *h);
    snprintf(h->id, sizeof h->id, "%s", id);
    snprintf(h->address, sizeof h->address, "10.1.2.3");
    snprintf(h->deploy_mode, sizeof h->deploy_mode, "passthrough");
    snprintf(h->backend, sizeof h->backend, "nvml");
    snprintf(h->runtime, sizeof h->runtime, "process");
    snprintf(h->agent_version, sizeof h->agent_version, "1.2.3");
    h->cpus = 96;
    h->memory_mib = 1048576;
    h->numa_nodes = 2;
    h->state = GPF_HOST_DRAINING;
    h->registered_ms = 1700000000123;
    h->last_heartbeat_ms = 1700000099999;
    h->isolation_max = GPF_ISO_DEVICE;
    h->ngpus = ngpus;
    for (int i = 0; i < ngpus; i++) {
        gpf_gpu_rec *g = &h->gpus[i];
        snprintf(g->uuid, sizeof g->uuid, "GPU-%s-%02d", id, i);
        g->index = ngpus - 1 - i; /* deliberately not the list position */
        snprintf(g->model, sizeof g->model, "H100-80GB-SXM5");
        snprintf(g->name, sizeof g->name, "NVIDIA H100 80GB HBM3 #%d", i);
        snprintf(g->pci_bus_id, sizeof g->pci_bus_id, "00000000:%02X:00.0", 0x10 + i);
        g->numa_node = i % 2 ? 1 : -1;
        g->memory_mib = 81559 + i;
        g->mig_enabled = i % 2;
    }
}

static void fill_sku(gpf_sku *k, const char *name, int nmodels)
{
    memset(k, 0, sizeof *k);
    snprintf(k->name, sizeof k->name, "%s", name);
    snprintf(k->description, sizeof k->description, "MIG slice; it's \"quoted\" and has ; semicolons");
    k->slice.kind = GPF_SLICE_SHARE;
    k->slice.gpu_count = 3;
    snprintf(k->slice.mig_profile, sizeof k->slice.mig_profile, "1g.10gb");
    snprintf(k->slice.vgpu_type, sizeof k->slice.vgpu_type, "L40S-12C");
    k->slice.share_milli = 250;
    k->slice.share_memory_mib = 20480;
    k->nmodels = nmodels;
    for (int i = 0; i < nmodels; i++)
        snprintf(k->models[i], sizeof k->models[i], "model;%d", nmodels - i);
    k->cpus = 8;
    k->memory_mib = 65536;
    k->ttl_s = 86400;
    k->idle_timeout_s = 3600;
    k->price_micro_per_hour = 1234567890123LL;
    snprintf(k->license_feature, sizeof k->license_feature, "vws");
    snprintf(k->env, sizeof k->env, "A=1;B=two");
    k->created_ms = 1700000000001;
    k->updated_ms = 1700000000002;
    snprintf(k->image, sizeof k->image, "cuda-12.4");
    k->min_isolation = GPF_ISO_DEVICE;
}

static void fill_user(gpf_user *u, const char *name)
{
    memset(u, 0, sizeof *u);
    snprintf(u->name, sizeof u->name, "%s", name);
    u->role = GPF_ROLE_FINANCE;
    snprintf(u->team, sizeof u->team, "vision");
    snprintf(u->ssh_pubkey, sizeof u->ssh_pubkey, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample %s@laptop", name);
    u->created_ms = 1700000000555;
}

static void fill_token(gpf_token *t, const char *id)
{
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", id);
    snprintf(t->user, sizeof t->user, "alice");
    snprintf(t->host_id, sizeof t->host_id, "gpu-node-7");
    for (int i = 0; i < 64; i++)
        t->hash[i] = "0123456789abcdef"[(i * 7) % 16];
    t->created_ms = 1700000000777;
}

static void fill_pod(gpf_pod *p, const char *id, int64_t created_ms, int ngpus)
{
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", id);
    snprintf(p->owner, sizeof p->owner, "alice");
    snprintf(p->project, sizeof p->project, "llm-train");
    snprintf(p->sku, sizeof p->sku, "h100-mig-1g");
    p->slice.kind = GPF_SLICE_MIG;
    p->slice.gpu_count = 2;
    snprintf(p->slice.mig_profile, sizeof p->slice.mig_profile, "1g.10gb");
    snprintf(p->slice.vgpu_type, sizeof p->slice.vgpu_type, "A100-4C");
    p->slice.share_milli = 125;
    p->slice.share_memory_mib = 4096;
    p->isolation = GPF_ISO_DEVICE;
    p->state = GPF_POD_RUNNING;
    snprintf(p->reason, sizeof p->reason, "started on gpu-node-7");
    p->placed = 1;
    gpf_placement *pl = &p->placement;
    snprintf(pl->host_id, sizeof pl->host_id, "gpu-node-7");
    pl->ngpus = ngpus;
    for (int i = 0; i < ngpus; i++) {
        snprintf(pl->gpu_uuids[i], sizeof pl->gpu_uuids[i], "GPU-%s-%d", id, i);
        pl->gpu_index[i] = 7 - i;
    }
    pl->mig_profile_id = 19;
    pl->mig_start = 4;
    pl->mig_size = 2;
    pl->share_milli = 333;
    pl->share_memory_mib = 12345;
    pl->cpus = 6;
    pl->memory_mib = 49152;
    pl->gpu_milli = 142;
    snprintf(p->device_ids, sizeof p->device_ids, "MIG-abc,MIG-def");
    snprintf(p->ssh_host, sizeof p->ssh_host, "gpu-node-7.example.net");
    p->ssh_port = 40022;
    snprintf(p->ssh_user, sizeof p->ssh_user, "dev");
    p->price_micro_per_hour = 2500000;
    p->created_ms = created_ms;
    p->started_ms = created_ms + 800;
    p->stopped_ms = created_ms + 90000;
    memset(p->ssh_pubkey, 'k', 1500);
    snprintf(p->image, sizeof p->image, "default");
    snprintf(p->image_digest, sizeof p->image_digest, "sha256:%064d", 42);
    memset(p->ssh_host_key, 'h', 700);
    p->isolation_layers = (1u << GPF_LAYER_USERNS) | (1u << GPF_LAYER_CGROUPS) | (1u << GPF_LAYER_PROC_MASKED);
}

static void fill_usage(gpf_usage *u, const char *pod_id, int64_t start_ms)
{
    memset(u, 0, sizeof *u);
    snprintf(u->pod_id, sizeof u->pod_id, "%s", pod_id);
    snprintf(u->owner, sizeof u->owner, "bob");
    snprintf(u->project, sizeof u->project, "search");
    snprintf(u->sku, sizeof u->sku, "l40s-vgpu-12c");
    snprintf(u->host_id, sizeof u->host_id, "gpu-node-3");
    u->slice_kind = GPF_SLICE_VGPU;
    u->isolation = GPF_ISO_SOFT;
    u->gpu_milli = 250;
    u->price_micro_per_hour = 1750000;
    u->start_ms = start_ms;
    u->end_ms = 0;
}

/* ---- round-trips ---------------------------------------------------------------- */

static void test_open_memory_version(void **state)
{
    (void)state;
    gpf_store *s = open_mem();
    assert_int_equal(gpf_store_schema_version(s), latest_version());
    gpf_store_close(s);
    gpf_store_close(NULL);

    /* "" is a private temporary database: usable, though it cannot use WAL. */
    gpf_error err = {0};
    assert_int_equal(gpf_store_open("", &s, &err), 0);
    assert_int_equal(gpf_store_setting_put(s, "a", "b", &err), 0);
    assert_int_equal(gpf_store_schema_version(s), latest_version());
    gpf_store_close(s);
}

static void test_empty_loads(void **state)
{
    (void)state;
    gpf_store *s = open_mem();
    gpf_host_rec *h = (void *)1;
    gpf_sku *k = (void *)1;
    gpf_user *u = (void *)1;
    gpf_token *t = (void *)1;
    gpf_pod *p = (void *)1;
    gpf_usage *us = (void *)1;
    size_t n = 99;
    assert_int_equal(gpf_store_hosts_load(s, &h, &n, NULL), 0);
    assert_null(h);
    assert_int_equal(n, 0);
    n = 99;
    assert_int_equal(gpf_store_skus_load(s, &k, &n, NULL), 0);
    assert_null(k);
    assert_int_equal(n, 0);
    assert_int_equal(gpf_store_users_load(s, &u, &n, NULL), 0);
    assert_null(u);
    assert_int_equal(gpf_store_tokens_load(s, &t, &n, NULL), 0);
    assert_null(t);
    assert_int_equal(gpf_store_pods_load(s, &p, &n, NULL), 0);
    assert_null(p);
    assert_int_equal(gpf_store_usage_load(s, &us, &n, NULL), 0);
    assert_null(us);
    assert_int_equal(n, 0);
    gpf_store_close(s);
}

static void test_host_roundtrip_and_upsert(void **state)
{
    (void)state;
    gpf_store *s = open_mem();
    gpf_error err = {0};
    gpf_host_rec a, b;
    fill_host(&a, "node-b", GPF_MAX_HOST_GPUS);
    fill_host(&b, "node-a", 3);
    assert_int_equal(gpf_store_host_put(s, &a, &err), 0);
    assert_int_equal(gpf_store_host_put(s, &b, &err), 0);

    gpf_host_rec *arr = NULL;
    size_t n = 0;
    assert_int_equal(gpf_store_hosts_load(s, &arr, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(&arr[0], &b, sizeof b); /* ordered by id */
    assert_memory_equal(&arr[1], &a, sizeof a);
    gpf_free(arr);

    /* Upsert: every field changes, and the GPU list shrinks. */
    gpf_host_rec a2;
    fill_host(&a2, "node-b", 1);
    SETS(a2.address, "gpu-node-b.internal");
    a2.state = GPF_HOST_LOST;
    a2.cpus = 48;
    a2.last_heartbeat_ms = 1800000000000;
    SETS(a2.gpus[0].uuid, "GPU-replaced");
    assert_int_equal(gpf_store_host_put(s, &a2, &err), 0);
    assert_int_equal(gpf_store_hosts_load(s, &arr, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(&arr[0], &b, sizeof b);
    assert_memory_equal(&arr[1], &a2, sizeof a2);
    gpf_free(arr);
    gpf_store_close(s);
}

static void test_sku_roundtrip_upsert_delete(void **state)
{
    (void)state;
    gpf_store *s = open_mem();
    gpf_error err = {0};
    gpf_sku k1, k2;
    fill_sku(&k1, "mig-small", GPF_MAX_SKU_MODELS);
    fill_sku(&k2, "a-whole", 2);
    k2.slice.kind = GPF_SLICE_WHOLE;
    assert_int_equal(gpf_store_sku_put(s, &k1, &err), 0);
    assert_int_equal(gpf_store_sku_put(s, &k2, &err), 0);

    gpf_sku *arr = NULL;
    size_t n = 0;
    assert_int_equal(gpf_store_skus_load(s, &arr, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(&arr[0], &k2, sizeof k2);
    assert_memory_equal(&arr[1], &k1, sizeof k1);
    gpf_free(arr);

    gpf_sku k1b;
    fill_sku(&k1b, "mig-small", 1);
    SETS(k1b.description, "changed");
    k1b.price_micro_per_hour = 1;
    k1b.slice.kind = GPF_SLICE_VGPU;
    assert_int_equal(gpf_store_sku_put(s, &k1b, &err), 0);

    assert_int_equal(gpf_store_sku_delete(s, "a-whole", &err), 0);
    assert_int_equal(gpf_store_sku_delete(s, "a-whole", &err), GPF_ENOTFOUND);
    assert_int_equal(err.code, GPF_ENOTFOUND);

    assert_int_equal(gpf_store_skus_load(s, &arr, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(&arr[0], &k1b, sizeof k1b);
    gpf_free(arr);

    /* A deleted SKU's models go with it: re-creating it starts with none. */
    gpf_sku k2b;
    fill_sku(&k2b, "a-whole", 0);
    assert_int_equal(gpf_store_sku_put(s, &k2b, &err), 0);
    assert_int_equal(gpf_store_skus_load(s, &arr, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(arr[0].nmodels, 0);
    assert_memory_equal(&arr[0], &k2b, sizeof k2b);
    gpf_free(arr);
    gpf_store_close(s);
}

static void test_user_and_token_roundtrip(void **state)
{
    (void)state;
    gpf_store *s = open_mem();
    gpf_error err = {0};
    gpf_user u1, u2;
    fill_user(&u1, "zed");
    fill_user(&u2, "alice");
    u2.role = GPF_ROLE_VIEWER;
    memset(u2.ssh_pubkey, 'x', sizeof u2.ssh_pubkey - 1); /* longest key that fits */
    assert_int_equal(gpf_store_user_put(s, &u1, &err), 0);
    assert_int_equal(gpf_store_user_put(s, &u2, &err), 0);
    u1.role = GPF_ROLE_OPERATOR;
    SETS(u1.team, "infra");
    assert_int_equal(gpf_store_user_put(s, &u1, &err), 0);

    gpf_user *ua = NULL;
    size_t n = 0;
    assert_int_equal(gpf_store_users_load(s, &ua, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(&ua[0], &u2, sizeof u2);
    assert_memory_equal(&ua[1], &u1, sizeof u1);
    gpf_free(ua);

    gpf_token t1, t2;
    fill_token(&t1, "tok-b");
    fill_token(&t2, "tok-a");
    SETS(t2.user, ""); /* an agent token */
    assert_int_equal(gpf_store_token_put(s, &t1, &err), 0);
    assert_int_equal(gpf_store_token_put(s, &t2, &err), 0);
    t1.hash[0] = 'f';
    t1.created_ms = 42;
    assert_int_equal(gpf_store_token_put(s, &t1, &err), 0);
    gpf_token *ta = NULL;
    assert_int_equal(gpf_store_tokens_load(s, &ta, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(&ta[0], &t2, sizeof t2);
    assert_memory_equal(&ta[1], &t1, sizeof t1);
    gpf_free(ta);
    gpf_store_close(s);
}

static void test_pod_roundtrip_order_upsert(void **state)
{
    (void)state;
    gpf_store *s = open_mem();
    gpf_error err = {0};
    gpf_pod p[4];
    fill_pod(&p[0], "pod-000000cc", 3000, GPF_MAX_POD_GPUS);
    fill_pod(&p[1], "pod-000000aa", 1000, 1);
    fill_pod(&p[2], "pod-000000ff", 1000, 2); /* same time as aa: id breaks the tie */
    fill_pod(&p[3], "pod-00000011", 2000, 0);
    p[3].placed = 0;
    p[3].state = GPF_POD_PENDING;
    p[3].isolation = GPF_ISO_SOFT;
    for (int i = 0; i < 4; i++)
        assert_int_equal(gpf_store_pod_put(s, &p[i], &err), 0);

    gpf_pod *arr = NULL;
    size_t n = 0;
    assert_int_equal(gpf_store_pods_load(s, &arr, &n, &err), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(&arr[0], &p[1], sizeof p[1]);
    assert_memory_equal(&arr[1], &p[2], sizeof p[2]);
    assert_memory_equal(&arr[2], &p[3], sizeof p[3]);
    assert_memory_equal(&arr[3], &p[0], sizeof p[0]);
    gpf_free(arr);

    /* Upsert: the pod stops and loses its placement GPUs. */
    p[0].state = GPF_POD_PREEMPTED;
    p[0].placed = 0;
    p[0].placement.ngpus = 0;
    memset(p[0].placement.gpu_uuids, 0, sizeof p[0].placement.gpu_uuids);
    memset(p[0].placement.gpu_index, 0, sizeof p[0].placement.gpu_index);
    SETS(p[0].reason, "preempted by a higher-priority pod");
    assert_int_equal(gpf_store_pod_put(s, &p[0], &err), 0);
    assert_int_equal(gpf_store_pods_load(s, &arr, &n, &err), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(&arr[3], &p[0], sizeof p[0]);
    assert_memory_equal(&arr[0], &p[1], sizeof p[1]);
    gpf_free(arr);
    gpf_store_close(s);
}

static void test_usage_ids_and_update(void **state)
{
    (void)state;
    gpf_store *s = open_mem();
    gpf_error err = {0};
    gpf_usage u[3];
    int64_t last = 0;
    for (int i = 0; i < 3; i++) {
        fill_usage(&u[i], i == 1 ? "pod-2" : "pod-1", 1000 + i);
        u[i].id = 777; /* ignored: the store assigns ids */
        assert_int_equal(gpf_store_usage_insert(s, &u[i], &err), 0);
        assert_true(u[i].id > last);
        last = u[i].id;
    }
    u[1].end_ms = 99999;
    u[1].price_micro_per_hour = 3;
    assert_int_equal(gpf_store_usage_update(s, &u[1], &err), 0);

    gpf_usage missing = u[0];
    missing.id = last + 100;
    assert_int_equal(gpf_store_usage_update(s, &missing, &err), GPF_ENOTFOUND);

    gpf_usage *arr = NULL;
    size_t n = 0;
    assert_int_equal(gpf_store_usage_load(s, &arr, &n, &err), 0);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++)
        assert_memory_equal(&arr[i], &u[i], sizeof u[i]);
    assert_int_equal(arr[1].end_ms, 99999);
    assert_int_equal(arr[0].end_ms, 0);
    gpf_free(arr);
    gpf_store_close(s);
}

static void test_settings(void **state)
{
    (void)state;
    gpf_store *s = open_mem();
    gpf_error err = {0};
    char v[32];
    assert_int_equal(gpf_store_setting_get(s, "join_token_hash", v, sizeof v, &err), GPF_ENOTFOUND);
    assert_int_equal(err.code, GPF_ENOTFOUND);
    assert_int_equal(gpf_store_setting_put(s, "join_token_hash", "abc", &err), 0);
    assert_int_equal(gpf_store_setting_get(s, "join_token_hash", v, sizeof v, &err), 0);
    assert_string_equal(v, "abc");
    assert_int_equal(gpf_store_setting_put(s, "join_token_hash", "", &err), 0);
    assert_int_equal(gpf_store_setting_get(s, "join_token_hash", v, sizeof v, &err), 0);
    assert_string_equal(v, "");
    assert_int_equal(gpf_store_setting_put(s, "k", "0123456789", &err), 0);
    char small[10];
    assert_int_equal(gpf_store_setting_get(s, "k", small, sizeof small, &err), GPF_ETOOLARGE);
    assert_int_equal(gpf_store_setting_get(s, "k", v, sizeof v, &err), 0);
    assert_string_equal(v, "0123456789");
    gpf_store_close(s);
}

/* ---- validation and errors --------------------------------------------------------- */

static void test_rejects_bad_records(void **state)
{
    (void)state;
    gpf_store *s = open_mem();
    gpf_error err = {0};
    gpf_pod p;
    fill_pod(&p, "pod-bad", 1, 1);
    p.state = (gpf_pod_state)42;
    assert_int_equal(gpf_store_pod_put(s, &p, &err), GPF_EINVAL);
    fill_pod(&p, "pod-bad", 1, 1);
    p.placement.ngpus = GPF_MAX_POD_GPUS + 1;
    assert_int_equal(gpf_store_pod_put(s, &p, &err), GPF_EINVAL);
    fill_pod(&p, "pod-bad", 1, 1);
    memset(p.reason, 'r', sizeof p.reason); /* not NUL-terminated */
    assert_int_equal(gpf_store_pod_put(s, &p, &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "reason"));

    gpf_host_rec h;
    fill_host(&h, "h", 1);
    h.ngpus = -1;
    assert_int_equal(gpf_store_host_put(s, &h, &err), GPF_EINVAL);
    gpf_sku k;
    fill_sku(&k, "k", 1);
    k.nmodels = GPF_MAX_SKU_MODELS + 1;
    assert_int_equal(gpf_store_sku_put(s, &k, &err), GPF_EINVAL);
    gpf_user u;
    fill_user(&u, "u");
    u.role = (gpf_role)-1;
    assert_int_equal(gpf_store_user_put(s, &u, &err), GPF_EINVAL);
    assert_int_equal(gpf_store_host_put(s, NULL, &err), GPF_EINVAL);
    assert_int_equal(gpf_store_hosts_load(NULL, NULL, NULL, &err), GPF_EINVAL);

    gpf_pod *arr = NULL;
    size_t n = 0;
    assert_int_equal(gpf_store_pods_load(s, &arr, &n, &err), 0);
    assert_int_equal(n, 0); /* nothing half-written */
    gpf_store_close(s);
}

static void test_open_bad_path(void **state)
{
    (void)state;
    gpf_store *s = (gpf_store *)1;
    gpf_error err = {0};
    assert_int_equal(gpf_store_open("/nonexistent-dir/x/state.db", &s, &err), GPF_ESTORE);
    assert_null(s);
    assert_true(strlen(err.msg) > 0);
}

/* ---- transactions --------------------------------------------------------------- */

static void test_transaction_rollback_and_commit(void **state)
{
    (void)state;
    gpf_store *s = open_mem();
    gpf_error err = {0};
    gpf_pod p;
    gpf_usage u;
    fill_pod(&p, "pod-tx", 5, 2);
    fill_usage(&u, "pod-tx", 5);

    assert_int_equal(gpf_store_begin(s, &err), 0);
    assert_int_equal(gpf_store_begin(s, &err), GPF_ESTATE); /* no nesting */
    assert_int_equal(gpf_store_usage_insert(s, &u, &err), 0);
    assert_int_equal(gpf_store_pod_put(s, &p, &err), 0);
    assert_int_equal(gpf_store_setting_put(s, "x", "y", &err), 0);
    assert_int_equal(gpf_store_rollback(s), 0);

    gpf_pod *pa = NULL;
    gpf_usage *ua = NULL;
    size_t n = 0;
    char v[8];
    assert_int_equal(gpf_store_pods_load(s, &pa, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(gpf_store_usage_load(s, &ua, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(gpf_store_setting_get(s, "x", v, sizeof v, &err), GPF_ENOTFOUND);
    assert_int_equal(gpf_store_commit(s, &err), GPF_ESTATE); /* nothing open */
    assert_int_equal(gpf_store_rollback(s), 0);

    assert_int_equal(gpf_store_begin(s, &err), 0);
    assert_int_equal(gpf_store_usage_insert(s, &u, &err), 0);
    assert_int_equal(gpf_store_pod_put(s, &p, &err), 0);
    assert_int_equal(gpf_store_commit(s, &err), 0);
    assert_int_equal(gpf_store_pods_load(s, &pa, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(&pa[0], &p, sizeof p);
    gpf_free(pa);
    gpf_store_close(s);
}

/* A failing multi-row write is undone as a whole, alone or inside a transaction. */
static void test_failed_write_is_atomic(void **state)
{
    (void)state;
    gpf_store *s = NULL;
    gpf_error err = {0};
    size_t nl = 0;
    gpf_store_migration *list = with_extra(
        "refuse a gpu",
        "CREATE TRIGGER refuse_bad_gpu BEFORE INSERT ON pod_gpus WHEN NEW.uuid LIKE '%-bad-%'"
        " BEGIN SELECT RAISE(ABORT, 'bad gpu refused'); END",
        &nl);
    assert_int_equal(gpf_store_open_with(":memory:", list, nl, &s, &err), 0);
    gpf_free(list);

    gpf_pod good, bad;
    fill_pod(&good, "pod-good", 1, 2);
    fill_pod(&bad, "pod-bad", 2, 3);
    snprintf(bad.placement.gpu_uuids[2], sizeof bad.placement.gpu_uuids[2], "GPU-bad-2");
    assert_int_equal(gpf_store_pod_put(s, &bad, &err), GPF_ESTORE);
    assert_non_null(strstr(err.msg, "bad gpu refused"));

    assert_int_equal(gpf_store_begin(s, &err), 0);
    assert_int_equal(gpf_store_pod_put(s, &good, &err), 0);
    assert_int_equal(gpf_store_pod_put(s, &bad, &err), GPF_ESTORE);
    assert_int_equal(gpf_store_commit(s, &err), 0);

    gpf_pod *arr = NULL;
    size_t n = 0;
    assert_int_equal(gpf_store_pods_load(s, &arr, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(&arr[0], &good, sizeof good);
    gpf_free(arr);
    gpf_store_close(s);
}

/* ---- migrations and files ---------------------------------------------------------- */

static void test_reopen_keeps_data_and_wal(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    gpf_error err = {0};
    gpf_store *s = NULL;
    gpf_host_rec h;
    gpf_pod p;
    fill_host(&h, "node-1", 4);
    fill_pod(&p, "pod-file", 10, 1);
    assert_int_equal(gpf_store_open(t.db, &s, &err), 0);
    assert_int_equal(gpf_store_host_put(s, &h, &err), 0);
    assert_int_equal(gpf_store_pod_put(s, &p, &err), 0);
    assert_int_equal(gpf_store_setting_put(s, "join_token_hash", "feed", &err), 0);
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", t.db);
    struct stat sb;
    assert_int_equal(stat(wal, &sb), 0); /* WAL journal in use */
    gpf_store_close(s);

    assert_int_equal(gpf_store_open(t.db, &s, &err), 0);
    assert_int_equal(gpf_store_schema_version(s), latest_version());
    gpf_host_rec *ha = NULL;
    gpf_pod *pa = NULL;
    size_t n = 0;
    assert_int_equal(gpf_store_hosts_load(s, &ha, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(&ha[0], &h, sizeof h);
    assert_int_equal(gpf_store_pods_load(s, &pa, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(&pa[0], &p, sizeof p);
    char v[16];
    assert_int_equal(gpf_store_setting_get(s, "join_token_hash", v, sizeof v, &err), 0);
    assert_string_equal(v, "feed");
    gpf_free(ha);
    gpf_free(pa);
    gpf_store_close(s);
    tmp_remove(&t);
}

/* A later binary's migration is applied once on top of existing data; the older
 * binary then refuses the newer database. */
static void test_new_migration_then_newer_refused(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    gpf_error err = {0};
    gpf_store *s = NULL;
    gpf_pod p;
    fill_pod(&p, "pod-keep", 10, 2);
    assert_int_equal(gpf_store_open(t.db, &s, &err), 0);
    assert_int_equal(gpf_store_pod_put(s, &p, &err), 0);
    gpf_store_close(s);

    size_t nl = 0;
    gpf_store_migration *list =
        with_extra("pod notes", "CREATE TABLE pod_notes (pod_id TEXT PRIMARY KEY, note TEXT NOT NULL) STRICT", &nl);
    for (int round = 0; round < 2; round++) { /* the second open applies nothing */
        assert_int_equal(gpf_store_open_with(t.db, list, nl, &s, &err), 0);
        assert_int_equal(gpf_store_schema_version(s), latest_version() + 1);
        gpf_pod *pa = NULL;
        size_t n = 0;
        assert_int_equal(gpf_store_pods_load(s, &pa, &n, &err), 0);
        assert_int_equal(n, 1);
        assert_memory_equal(&pa[0], &p, sizeof p);
        gpf_free(pa);
        gpf_store_close(s);
    }
    gpf_free(list);

    s = (gpf_store *)1;
    assert_int_equal(gpf_store_open(t.db, &s, &err), GPF_ESTORE);
    assert_null(s);
    assert_non_null(strstr(err.msg, "newer"));
    tmp_remove(&t);
}

static void test_failed_migration_rolls_back(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    gpf_error err = {0};
    gpf_store *s = NULL;
    size_t nl = 0;
    gpf_store_migration *bad = with_extra(
        "half", "CREATE TABLE half_done (x INTEGER); INSERT INTO no_such_table VALUES (1)", &nl);
    assert_int_equal(gpf_store_open_with(t.db, bad, nl, &s, &err), GPF_ESTORE);
    assert_null(s);
    assert_non_null(strstr(err.msg, "no_such_table"));
    gpf_free(bad);

    /* The built-in migrations before it were kept; the failed one left nothing. */
    assert_int_equal(gpf_store_open(t.db, &s, &err), 0);
    assert_int_equal(gpf_store_schema_version(s), latest_version());
    gpf_store_close(s);
    gpf_store_migration *good = with_extra("half", "CREATE TABLE half_done (x INTEGER)", &nl);
    assert_int_equal(gpf_store_open_with(t.db, good, nl, &s, &err), 0);
    assert_int_equal(gpf_store_schema_version(s), latest_version() + 1);
    gpf_store_close(s);
    gpf_free(good);

    gpf_store_migration unordered[2] = {{2, "b", "SELECT 1"}, {1, "a", "SELECT 1"}};
    assert_int_equal(gpf_store_open_with(":memory:", unordered, 2, &s, &err), GPF_EINVAL);
    tmp_remove(&t);
}

/* Enums are stored by name, readable in the sqlite3 shell: a migration copies them
 * into settings where the public interface can see them. */
static void test_enums_stored_by_name(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    gpf_error err = {0};
    gpf_store *s = NULL;
    gpf_pod p;
    gpf_user u;
    fill_pod(&p, "pod-names", 1, 1);
    fill_user(&u, "carol");
    assert_int_equal(gpf_store_open(t.db, &s, &err), 0);
    assert_int_equal(gpf_store_pod_put(s, &p, &err), 0);
    assert_int_equal(gpf_store_user_put(s, &u, &err), 0);
    gpf_store_close(s);

    size_t nl = 0;
    gpf_store_migration *list = with_extra(
        "probe",
        "INSERT INTO settings (key, value) SELECT 'probe', state || ',' || isolation || ',' || slice_kind"
        " FROM pods; INSERT INTO settings (key, value) SELECT 'role', role FROM users",
        &nl);
    assert_int_equal(gpf_store_open_with(t.db, list, nl, &s, &err), 0);
    gpf_free(list);
    char v[64];
    assert_int_equal(gpf_store_setting_get(s, "probe", v, sizeof v, &err), 0);
    assert_string_equal(v, "running,device,mig");
    assert_int_equal(gpf_store_setting_get(s, "role", v, sizeof v, &err), 0);
    assert_string_equal(v, "finance");
    gpf_store_close(s);
    tmp_remove(&t);
}

static void test_image_roundtrip(void **state)
{
    (void)state;
    gpf_store *s = open_mem();
    gpf_error err = {0};
    gpf_image a, b, *arr = NULL;
    size_t n = 0;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    snprintf(a.name, sizeof a.name, "default");
    snprintf(a.digest, sizeof a.digest, "sha256:%064d", 1);
    a.size_bytes = 123456789012LL;
    snprintf(a.source, sizeof a.source, "/var/cache/gpufleet/images/default-0123abcd");
    a.created_ms = 1700000000999;
    b = a;
    SETS(b.name, "cuda");
    SETS(b.source, "docker://nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04");
    assert_int_equal(gpf_store_image_put(s, &a, &err), 0);
    assert_int_equal(gpf_store_image_put(s, &b, &err), 0);
    snprintf(a.digest, sizeof a.digest, "sha256:%064d", 2); /* re-imported: replaced */
    assert_int_equal(gpf_store_image_put(s, &a, &err), 0);
    assert_int_equal(gpf_store_images_load(s, &arr, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(&arr[0], &b, sizeof b);
    assert_memory_equal(&arr[1], &a, sizeof a);
    gpf_free(arr);
    assert_int_equal(gpf_store_image_delete(s, "cuda", &err), 0);
    assert_int_equal(gpf_store_image_delete(s, "cuda", &err), GPF_ENOTFOUND);
    assert_int_equal(gpf_store_images_load(s, &arr, &n, &err), 0);
    assert_int_equal(n, 1);
    gpf_free(arr);
    gpf_store_close(s);
}

/* A database from before images (schema 4) opens: its SKUs need "soft" isolation and run
 * the default image, its hosts give what their runtime gives by default, its pods have no
 * image, host key or layers. */
static void test_migration_from_schema_4(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    gpf_error err = {0};
    gpf_store *s = NULL;
    size_t nb = 0;
    const gpf_store_migration *builtin = gpf_store_migrations(&nb);
    assert_true(nb >= 5 && builtin[3].version == 4);
    assert_int_equal(gpf_store_open_with(t.db, builtin, 4, &s, &err), 0);
    assert_int_equal(gpf_store_schema_version(s), 4);
    gpf_store_close(s);

    sqlite3 *db = NULL;
    char *msg = NULL;
    assert_int_equal(sqlite3_open(t.db, &db), SQLITE_OK);
    int rc = sqlite3_exec(
        db,
        "INSERT INTO skus VALUES ('old-share','','share',1,'','',250,0,2,1024,0,0,1000,'','',1,2);"
        "INSERT INTO hosts (id, address, deploy_mode, backend, runtime, agent_version, cpus, memory_mib,"
        " numa_nodes, state, registered_ms, last_heartbeat_ms) VALUES"
        " ('h-proc','10.0.0.1','baremetal','fake','process','0.1',8,1024,1,'ready',1,1),"
        " ('h-fake','10.0.0.2','baremetal','fake','fake','0.1',8,1024,1,'ready',1,1);"
        "INSERT INTO pods VALUES ('pod-old','alice','p','old-share','share',1,'','',250,0,'soft','running','',"
        " 1,'h-proc',-1,0,0,250,0,2,1024,250,'','10.0.0.1',22001,'dev',1000,5,6,0,'ssh-ed25519 AAAA','',-1);",
        NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("writing schema-4 rows: %s", msg);
    sqlite3_close(db);

    assert_int_equal(gpf_store_open(t.db, &s, &err), 0);
    assert_int_equal(gpf_store_schema_version(s), latest_version());
    gpf_sku *skus = NULL;
    gpf_host_rec *hosts = NULL;
    gpf_pod *pods = NULL;
    gpf_image *images = NULL;
    size_t n = 0;
    assert_int_equal(gpf_store_skus_load(s, &skus, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(skus[0].min_isolation, GPF_ISO_SOFT);
    assert_string_equal(skus[0].image, "");
    assert_int_equal(skus[0].slice.share_milli, 250);
    assert_int_equal(gpf_store_hosts_load(s, &hosts, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(hosts[0].id, "h-fake");
    assert_int_equal(hosts[0].isolation_max, GPF_ISO_HARDWARE);
    assert_string_equal(hosts[1].id, "h-proc");
    assert_int_equal(hosts[1].isolation_max, GPF_ISO_SOFT);
    assert_int_equal(gpf_store_pods_load(s, &pods, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(pods[0].image, "");
    assert_string_equal(pods[0].image_digest, "");
    assert_string_equal(pods[0].ssh_host_key, "");
    assert_int_equal(pods[0].isolation_layers, 0);
    assert_int_equal(pods[0].ssh_port, 22001);
    assert_int_equal(gpf_store_images_load(s, &images, &n, &err), 0);
    assert_int_equal(n, 0);
    /* and the new columns take new values */
    skus[0].min_isolation = GPF_ISO_DEVICE;
    snprintf(skus[0].image, sizeof skus[0].image, "cuda");
    assert_int_equal(gpf_store_sku_put(s, &skus[0], &err), 0);
    gpf_free(skus);
    assert_int_equal(gpf_store_skus_load(s, &skus, &n, &err), 0);
    assert_int_equal(skus[0].min_isolation, GPF_ISO_DEVICE);
    assert_string_equal(skus[0].image, "cuda");
    gpf_free(skus);
    gpf_free(hosts);
    gpf_free(pods);
    gpf_store_close(s);
    tmp_remove(&t);
}

/* ---- durability ---------------------------------------------------------------------- */

/* The child acknowledges a write and dies at once (SIGKILL, or _exit without closing). */
static void child_writes(const char *db, int grouped, int use_kill)
{
    gpf_store *s = NULL;
    gpf_pod p;
    gpf_usage u;
    fill_pod(&p, grouped ? "pod-grouped" : "pod-alone", 77, 3);
    fill_usage(&u, p.id, 77);
    if (gpf_store_open(db, &s, NULL) != 0)
        _exit(3);
    if (grouped) {
        if (gpf_store_begin(s, NULL) != 0 || gpf_store_usage_insert(s, &u, NULL) != 0 ||
            gpf_store_pod_put(s, &p, NULL) != 0 || gpf_store_commit(s, NULL) != 0)
            _exit(4);
    } else if (gpf_store_pod_put(s, &p, NULL) != 0) {
        _exit(4);
    }
    if (use_kill)
        kill(getpid(), SIGKILL);
    _exit(0);
}

static void test_durable_across_sigkill(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    for (int round = 0; round < 2; round++) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            child_writes(t.db, round, round == 0);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (round == 0) {
            assert_true(WIFSIGNALED(status));
            assert_int_equal(WTERMSIG(status), SIGKILL);
        } else {
            assert_true(WIFEXITED(status));
            assert_int_equal(WEXITSTATUS(status), 0);
        }
    }

    gpf_store *s = NULL;
    gpf_error err = {0};
    assert_int_equal(gpf_store_open(t.db, &s, &err), 0);
    gpf_pod *pa = NULL;
    gpf_usage *ua = NULL;
    size_t n = 0, nu = 0;
    assert_int_equal(gpf_store_pods_load(s, &pa, &n, &err), 0);
    assert_int_equal(n, 2);
    gpf_pod want;
    fill_pod(&want, "pod-alone", 77, 3);
    assert_memory_equal(&pa[0], &want, sizeof want);
    fill_pod(&want, "pod-grouped", 77, 3);
    assert_memory_equal(&pa[1], &want, sizeof want);
    assert_int_equal(gpf_store_usage_load(s, &ua, &nu, &err), 0);
    assert_int_equal(nu, 1);
    assert_string_equal(ua[0].pod_id, "pod-grouped");
    gpf_free(pa);
    gpf_free(ua);
    gpf_store_close(s);
    tmp_remove(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_memory_version),
        cmocka_unit_test(test_empty_loads),
        cmocka_unit_test(test_host_roundtrip_and_upsert),
        cmocka_unit_test(test_sku_roundtrip_upsert_delete),
        cmocka_unit_test(test_user_and_token_roundtrip),
        cmocka_unit_test(test_pod_roundtrip_order_upsert),
        cmocka_unit_test(test_usage_ids_and_update),
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_rejects_bad_records),
        cmocka_unit_test(test_open_bad_path),
        cmocka_unit_test(test_transaction_rollback_and_commit),
        cmocka_unit_test(test_failed_write_is_atomic),
        cmocka_unit_test(test_reopen_keeps_data_and_wal),
        cmocka_unit_test(test_new_migration_then_newer_refused),
        cmocka_unit_test(test_failed_migration_rolls_back),
        cmocka_unit_test(test_image_roundtrip),
        cmocka_unit_test(test_migration_from_schema_4),
        cmocka_unit_test(test_enums_stored_by_name),
        cmocka_unit_test(test_durable_across_sigkill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
