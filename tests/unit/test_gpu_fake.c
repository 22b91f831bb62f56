/* Fake GPU backend: the demo fleet fixture (embedded copy of data/demo-fleet.json),
 * discovery, device ids (GPU and MIG), and strict fixture validation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/gpu_backend.h"
#include "catalog/catalog.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/embedded.h"

static const char *fleet_text(void)
{
    const gpf_embedded_file *f = gpf_embedded_find("data/demo-fleet.json");
    assert_non_null(f);
    return f->data;
}

static gpf_gpu_backend *open_host(const char *host)
{
    gpf_gpu_backend *b = NULL;
    gpf_error err = {0};
    int rc = gpf_gpu_fake_open_text(fleet_text(), host, &b, &err);
    if (rc != 0)
        fail_msg("open %s: %s", host, gpf_error_msg(&err));
    assert_non_null(b);
    assert_string_equal(b->ops->name, "fake");
    return b;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* "PFX-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */
static void assert_uuid_shape(const char *s, const char *prefix)
{
    size_t pl = strlen(prefix);
    assert_int_equal(strncmp(s, prefix, pl), 0);
    const char *u = s + pl;
    assert_int_equal(strlen(u), 36);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(u[i], '-');
        else
            assert_true(is_hex(u[i]));
    }
}

static void test_host_ids(void **state)
{
    (void)state;
    char **ids = NULL;
    int n = 0;
    gpf_error err = {0};
    assert_int_equal(gpf_gpu_fake_host_ids(fleet_text(), &ids, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(ids[0], "gpu-h100-a");
    assert_string_equal(ids[1], "gpu-a100-b");
    assert_string_equal(ids[2], "gpu-l40s-c");
    for (int i = 0; i < n; i++)
        gpf_free(ids[i]);
    gpf_free(ids);
}

static void test_discover_h100(void **state)
{
    (void)state;
    gpf_gpu_backend *b = open_host("gpu-h100-a");
    gpf_host_facts f;
    gpf_error err = {0};
    memset(&f, 0x5a, sizeof f);
    assert_int_equal(b->ops->discover(b, &f, &err), 0);
    assert_string_equal(f.host.id, "gpu-h100-a");
    assert_string_equal(f.host.backend, "fake");
    assert_string_equal(f.host.deploy_mode, "baremetal");
    assert_string_equal(f.driver_version, "");
    assert_int_equal(f.host.cpus, 64);
    assert_int_equal(f.host.memory_mib, 524288);
    assert_int_equal(f.host.numa_nodes, 2);
    assert_int_equal(f.host.ngpus, 8);
    for (int i = 0; i < 8; i++) {
        const gpf_gpu_rec *g = &f.host.gpus[i];
        assert_int_equal(g->index, i);
        assert_string_equal(g->model, "H100-80GB-SXM5");
        assert_string_equal(g->name, "NVIDIA H100 80GB HBM3");
        assert_int_equal(g->memory_mib, 81559);
        assert_int_equal(g->numa_node, i < 4 ? 0 : 1);
        assert_int_equal(g->mig_enabled, i >= 6);
        assert_int_equal(f.live[i].minor, i); /* /dev/nvidia<index> */
        assert_uuid_shape(g->uuid, "GPU-");
        for (int j = 0; j < i; j++) {
            assert_string_not_equal(g->uuid, f.host.gpus[j].uuid);
            assert_string_not_equal(g->pci_bus_id, f.host.gpus[j].pci_bus_id);
        }
    }
    assert_string_equal(f.host.gpus[0].pci_bus_id, "00000000:18:00.0");
    for (int i = 8; i < GPF_MAX_HOST_GPUS; i++)
        assert_int_equal(f.live[i].minor, -1);
    gpf_gpu_backend_close(b);
}

/* Every GPU in the fixture names a model the catalog knows, with matching memory. */
static void test_fixture_matches_catalog(void **state)
{
    (void)state;
    const gpf_embedded_file *g = gpf_embedded_find("data/catalog/gpus.csv");
    assert_non_null(g);
    gpf_catalog *cat = NULL;
    gpf_error err = {0};
    assert_int_equal(gpf_catalog_parse(g->data, NULL, NULL, &cat, &err), 0);
    const char *hosts[] = {"gpu-h100-a", "gpu-a100-b", "gpu-l40s-c"};
    const int ngpus[] = {8, 4, 2};
    const int64_t mem[] = {81559, 81920, 46068};
    for (int h = 0; h < 3; h++) {
        gpf_gpu_backend *b = open_host(hosts[h]);
        gpf_host_facts f;
        assert_int_equal(b->ops->discover(b, &f, &err), 0);
        assert_int_equal(f.host.ngpus, ngpus[h]);
        for (int i = 0; i < f.host.ngpus; i++) {
            const gpf_gpu_model *m = gpf_catalog_model(cat, f.host.gpus[i].model);
            if (!m)
                fail_msg("host %s gpu %d: model %s not in the catalog", hosts[h], i, f.host.gpus[i].model);
            assert_int_equal(f.host.gpus[i].memory_mib, mem[h]);
            assert_string_equal(f.host.gpus[i].name, m->nvml_name);
            if (f.host.gpus[i].mig_enabled)
                assert_true(m->mig_capable);
        }
        gpf_gpu_backend_close(b);
    }
    gpf_catalog_free(cat);
}

static gpf_placement placement(const char *host, int idx, const char *uuid)
{
    gpf_placement p;
    memset(&p, 0, sizeof p);
    gpf_strlcpy(p.host_id, host, sizeof p.host_id);
    p.ngpus = 1;
    p.gpu_index[0] = idx;
    if (uuid)
        gpf_strlcpy(p.gpu_uuids[0], uuid, sizeof p.gpu_uuids[0]);
    p.mig_profile_id = -1;
    return p;
}

static void test_device_id_whole(void **state)
{
    (void)state;
    gpf_gpu_backend *b = open_host("gpu-a100-b");
    gpf_host_facts f;
    gpf_error err = {0};
    char id[GPF_UUID_MAX];
    assert_int_equal(b->ops->discover(b, &f, &err), 0);
    /* by index */
    gpf_placement p = placement("gpu-a100-b", 2, NULL);
    assert_int_equal(b->ops->device_id(b, &p, 0, id, sizeof id, &err), 0);
    assert_string_equal(id, f.host.gpus[2].uuid);
    /* by uuid (wins over the index) */
    p = placement("gpu-a100-b", 0, f.host.gpus[3].uuid);
    assert_int_equal(b->ops->device_id(b, &p, 0, id, sizeof id, &err), 0);
    assert_string_equal(id, f.host.gpus[3].uuid);
    /* two GPUs */
    p = placement("gpu-a100-b", 0, NULL);
    p.ngpus = 2;
    p.gpu_index[1] = 1;
    assert_int_equal(b->ops->device_id(b, &p, 1, id, sizeof id, &err), 0);
    assert_string_equal(id, f.host.gpus[1].uuid);
    /* errors */
    assert_int_equal(b->ops->device_id(b, &p, 2, id, sizeof id, &err), GPF_EINVAL);
    p = placement("gpu-a100-b", 4, NULL);
    assert_int_equal(b->ops->device_id(b, &p, 0, id, sizeof id, &err), GPF_ENOTFOUND);
    p = placement("gpu-a100-b", 0, "GPU-00000000-0000-0000-0000-000000000000");
    assert_int_equal(b->ops->device_id(b, &p, 0, id, sizeof id, &err), GPF_ENOTFOUND);
    p = placement("gpu-h100-a", 0, NULL);
    assert_int_equal(b->ops->device_id(b, &p, 0, id, sizeof id, &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "gpu-h100-a"));
    p = placement("gpu-a100-b", 0, NULL);
    assert_int_equal(b->ops->device_id(b, &p, 0, id, 8, &err), GPF_EINVAL);
    assert_string_equal(id, "");
    /* MIG on a GPU that is not in MIG mode */
    p.mig_profile_id = 19;
    assert_int_equal(b->ops->device_id(b, &p, 0, id, sizeof id, &err), GPF_ESTATE);
    gpf_gpu_backend_close(b);
}

static void mig_id(gpf_gpu_backend *b, int gpu, int profile, int start, char *out)
{
    gpf_placement p = placement("gpu-h100-a", gpu, NULL);
    gpf_error err = {0};
    p.mig_profile_id = profile;
    p.mig_start = start;
    p.mig_size = 1;
    if (b->ops->device_id(b, &p, 0, out, GPF_UUID_MAX, &err) != 0)
        fail_msg("mig device id: %s", gpf_error_msg(&err));
}

static void test_device_id_mig(void **state)
{
    (void)state;
    gpf_gpu_backend *b1 = open_host("gpu-h100-a");
    gpf_gpu_backend *b2 = open_host("gpu-h100-a");
    char a[GPF_UUID_MAX], a2[GPF_UUID_MAX], c[GPF_UUID_MAX], d[GPF_UUID_MAX], e[GPF_UUID_MAX];
    mig_id(b1, 6, 19, 0, a);
    mig_id(b2, 6, 19, 0, a2); /* another backend, same inputs */
    mig_id(b1, 6, 19, 1, c);  /* other start */
    mig_id(b1, 6, 15, 0, d);  /* other profile */
    mig_id(b1, 7, 19, 0, e);  /* other GPU */
    assert_uuid_shape(a, "MIG-");
    assert_string_equal(a, a2);
    assert_string_not_equal(a, c);
    assert_string_not_equal(a, d);
    assert_string_not_equal(a, e);
    assert_string_not_equal(c, d);
    /* A MIG device id never equals its GPU's uuid after the prefix. */
    gpf_host_facts f;
    gpf_error err = {0};
    assert_int_equal(b1->ops->discover(b1, &f, &err), 0);
    assert_string_not_equal(a + 4, f.host.gpus[6].uuid + 4);
    /* negative start is refused */
    gpf_placement p = placement("gpu-h100-a", 6, NULL);
    p.mig_profile_id = 19;
    p.mig_start = -1;
    char out[GPF_UUID_MAX];
    assert_int_equal(b1->ops->device_id(b1, &p, 0, out, sizeof out, &err), GPF_EINVAL);
    gpf_gpu_backend_close(b1);
    gpf_gpu_backend_close(b2);
}

/* ---- fixture errors ------------------------------------------------- */

static const char *GPU_OK = "{\"model\":\"L40S\",\"name\":\"NVIDIA L40S\",\"uuid\":\"GPU-1\",\"pci_bus_id\":\"00000000:41:00.0\","
                            "\"numa_node\":0,\"memory_mib\":46068,\"mig_enabled\":false}";

static int open_err(const char *text, const char *host, gpf_error *err)
{
    gpf_gpu_backend *b = NULL;
    int rc = gpf_gpu_fake_open_text(text, host, &b, err);
    assert_true(rc != 0);
    assert_null(b);
    return rc;
}

static char *host_json(const char *fields, const char *gpus)
{
    gpf_buf b = {0};
    gpf_buf_printf(&b, "{\"hosts\":[{%s\"gpus\":[%s]}]}", fields, gpus);
    return gpf_buf_steal(&b);
}

static void test_fixture_errors(void **state)
{
    (void)state;
    gpf_error err = {0};
    const char *full = "\"id\":\"h1\",\"cpus\":8,\"memory_mib\":1024,\"numa_nodes\":1,\"deploy_mode\":\"baremetal\",";

    /* good baseline */
    char *ok = host_json(full, GPU_OK);
    gpf_gpu_backend *b = NULL;
    assert_int_equal(gpf_gpu_fake_open_text(ok, "h1", &b, &err), 0);
    gpf_gpu_backend_close(b);

    assert_int_equal(open_err(ok, "h2", &err), GPF_ENOTFOUND);
    assert_non_null(strstr(err.msg, "h2"));
    gpf_free(ok);

    assert_int_equal(open_err("{\"hosts\": [", "h1", &err), GPF_EMALFORMED);
    assert_int_equal(open_err("", "h1", &err), GPF_EMALFORMED);
    assert_int_equal(open_err("[]", "h1", &err), GPF_EINVAL);
    assert_int_equal(open_err("{\"hosts\":{}}", "h1", &err), GPF_EINVAL);
    assert_int_equal(open_err("{\"hosts\":[],\"extra\":1}", "h1", &err), GPF_EINVAL);
    assert_int_equal(open_err(NULL, "h1", &err), GPF_EINVAL);

    /* missing host field names field and host */
    char *t = host_json("\"id\":\"h1\",\"memory_mib\":1024,\"numa_nodes\":1,\"deploy_mode\":\"baremetal\",", GPU_OK);
    assert_int_equal(open_err(t, "h1", &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "'cpus'"));
    assert_non_null(strstr(err.msg, "h1"));
    gpf_free(t);

    /* ill-typed */
    t = host_json("\"id\":\"h1\",\"cpus\":\"8\",\"memory_mib\":1024,\"numa_nodes\":1,\"deploy_mode\":\"baremetal\",",
                  GPU_OK);
    assert_int_equal(open_err(t, "h1", &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "'cpus'"));
    gpf_free(t);
    t = host_json("\"id\":\"h1\",\"cpus\":8.5,\"memory_mib\":1024,\"numa_nodes\":1,\"deploy_mode\":\"baremetal\",", GPU_OK);
    assert_int_equal(open_err(t, "h1", &err), GPF_EINVAL);
    gpf_free(t);
    t = host_json("\"id\":\"h1\",\"cpus\":8,\"memory_mib\":1024,\"numa_nodes\":1,\"deploy_mode\":\"mainframe\",", GPU_OK);
    assert_int_equal(open_err(t, "h1", &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "deploy_mode"));
    gpf_free(t);
    t = host_json("\"id\":\"H 1\",\"cpus\":8,\"memory_mib\":1024,\"numa_nodes\":1,\"deploy_mode\":\"baremetal\",", GPU_OK);
    assert_int_equal(open_err(t, "H 1", &err), GPF_EINVAL);
    gpf_free(t);
    t = host_json("\"id\":\"h1\",\"cpus\":8,\"memory_mib\":1024,\"numa_nodes\":1,\"deploy_mode\":\"baremetal\",\"x\":1,",
                  GPU_OK);
    assert_int_equal(open_err(t, "h1", &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "'x'"));
    gpf_free(t);

    /* GPU fields: missing, wrong type, bad uuid, numa out of range, duplicates */
    const char *bad_gpus[] = {
        "{\"name\":\"n\",\"uuid\":\"GPU-1\",\"pci_bus_id\":\"0:1.0\",\"numa_node\":0,\"memory_mib\":1,\"mig_enabled\":false}",
        "{\"model\":\"L40S\",\"name\":\"n\",\"uuid\":\"GPU-1\",\"pci_bus_id\":\"0:1.0\",\"numa_node\":0,\"memory_mib\":1,"
        "\"mig_enabled\":0}",
        "{\"model\":\"L40S\",\"name\":\"n\",\"uuid\":\"XYZ-1\",\"pci_bus_id\":\"0:1.0\",\"numa_node\":0,\"memory_mib\":1,"
        "\"mig_enabled\":false}",
        "{\"model\":\"L40S\",\"name\":\"n\",\"uuid\":\"GPU-1\",\"pci_bus_id\":\"0:1.0\",\"numa_node\":1,\"memory_mib\":1,"
        "\"mig_enabled\":false}",
        "{\"model\":\"L40S\",\"name\":\"n\",\"uuid\":\"GPU-1\",\"pci_bus_id\":\"0:1.0\",\"numa_node\":0,\"memory_mib\":0,"
        "\"mig_enabled\":false}",
    };
    const char *want[] = {"'model'", "'mig_enabled'", "'uuid'", "'numa_node'", "'memory_mib'"};
    for (size_t i = 0; i < sizeof bad_gpus / sizeof bad_gpus[0]; i++) {
        t = host_json(full, bad_gpus[i]);
        assert_int_equal(open_err(t, "h1", &err), GPF_EINVAL);
        if (!strstr(err.msg, want[i]) || !strstr(err.msg, "h1"))
            fail_msg("case %zu: message '%s' lacks %s", i, err.msg, want[i]);
        gpf_free(t);
    }
    gpf_buf two = {0};
    gpf_buf_printf(&two, "%s,%s", GPU_OK, GPU_OK);
    t = host_json(full, gpf_buf_cstr(&two));
    assert_int_equal(open_err(t, "h1", &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "same uuid"));
    gpf_free(t);
    gpf_buf_clear(&two);

    /* a broken host elsewhere in the fixture fails the whole fixture */
    t = gpf_strdup("{\"hosts\":[{\"id\":\"a\",\"cpus\":1,\"memory_mib\":1,\"numa_nodes\":1,\"deploy_mode\":\"cloud\","
                   "\"gpus\":[]},{\"id\":\"b\"}]}");
    assert_int_equal(open_err(t, "a", &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "'b'"));
    char **ids = NULL;
    int n = 0;
    assert_int_equal(gpf_gpu_fake_host_ids(t, &ids, &n, &err), GPF_EINVAL);
    assert_null(ids);
    gpf_free(t);

    /* duplicate host ids, duplicate JSON keys */
    t = gpf_strdup("{\"hosts\":[{\"id\":\"a\",\"cpus\":1,\"memory_mib\":1,\"numa_nodes\":1,\"deploy_mode\":\"cloud\","
                   "\"gpus\":[]},{\"id\":\"a\",\"cpus\":1,\"memory_mib\":1,\"numa_nodes\":1,\"deploy_mode\":\"cloud\","
                   "\"gpus\":[]}]}");
    assert_int_equal(open_err(t, "a", &err), GPF_EINVAL);
    gpf_free(t);
    assert_int_equal(open_err("{\"hosts\":[],\"hosts\":[]}", "a", &err), GPF_EMALFORMED);
}

static void test_fixture_limits(void **state)
{
    (void)state;
    gpf_error err = {0};
    const char *full = "\"id\":\"h1\",\"cpus\":8,\"memory_mib\":1024,\"numa_nodes\":1,\"deploy_mode\":\"baremetal\",";
    /* GPF_MAX_HOST_GPUS GPUs are fine, one more is not */
    for (int extra = 0; extra <= 1; extra++) {
        gpf_buf g = {0};
        for (int i = 0; i < GPF_MAX_HOST_GPUS + extra; i++)
            gpf_buf_printf(&g,
                           "%s{\"model\":\"L40S\",\"name\":\"n\",\"uuid\":\"GPU-%d\",\"pci_bus_id\":\"0:%x:0.0\","
                           "\"numa_node\":0,\"memory_mib\":1,\"mig_enabled\":false}",
                           i ? "," : "", i, i);
        char *t = host_json(full, gpf_buf_cstr(&g));
        gpf_gpu_backend *b = NULL;
        int rc = gpf_gpu_fake_open_text(t, "h1", &b, &err);
        if (extra) {
            assert_int_equal(rc, GPF_EINVAL);
            assert_non_null(strstr(err.msg, "gpus"));
        } else {
            assert_int_equal(rc, 0);
            gpf_host_facts f;
            assert_int_equal(b->ops->discover(b, &f, &err), 0);
            assert_int_equal(f.host.ngpus, GPF_MAX_HOST_GPUS);
            assert_int_equal(f.host.gpus[GPF_MAX_HOST_GPUS - 1].index, GPF_MAX_HOST_GPUS - 1);
        }
        gpf_gpu_backend_close(b);
        gpf_free(t);
        gpf_buf_clear(&g);
    }
    /* more than 1 MiB of text */
    size_t big = 1024 * 1024 + 16;
    char *t = gpf_malloc(big + 1);
    memset(t, ' ', big);
    memcpy(t, "{\"hosts\":[]}", 12);
    t[big] = '\0';
    assert_int_equal(open_err(t, "h1", &err), GPF_ETOOLARGE);
    gpf_free(t);
}

static void test_open_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/gpf-fake-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/fleet.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(fleet_text(), f);
    fclose(f);
    gpf_gpu_backend *b = NULL;
    gpf_error err = {0};
    assert_int_equal(gpf_gpu_fake_open(path, "gpu-l40s-c", &b, &err), 0);
    gpf_host_facts facts;
    assert_int_equal(b->ops->discover(b, &facts, &err), 0);
    assert_int_equal(facts.host.ngpus, 2);
    assert_string_equal(facts.host.gpus[1].model, "L40S");
    gpf_gpu_backend_close(b);
    b = NULL;
    char missing[160];
    snprintf(missing, sizeof missing, "%s/nope.json", dir);
    assert_int_equal(gpf_gpu_fake_open(missing, "gpu-l40s-c", &b, &err), GPF_ENOTFOUND);
    assert_null(b);
    assert_int_equal(gpf_gpu_fake_open(dir, "gpu-l40s-c", &b, &err), GPF_EINVAL); /* a directory */
    unlink(path);
    rmdir(dir);
    gpf_gpu_backend_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_ids),
        cmocka_unit_test(test_discover_h100),
        cmocka_unit_test(test_fixture_matches_catalog),
        cmocka_unit_test(test_device_id_whole),
        cmocka_unit_test(test_device_id_mig),
        cmocka_unit_test(test_fixture_errors),
        cmocka_unit_test(test_fixture_limits),
        cmocka_unit_test(test_open_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
