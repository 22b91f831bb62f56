/* Catalog: parsing the embedded CSVs, derived MIG keys, real MIG geometry facts, lookups,
 * and rejection of malformed rows with file and line. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "catalog/catalog.h"
#include "helpers/catalog_fixture.h"

static int setup(void **state)
{
    gpf_error err = {0};
    gpf_catalog *c = gpf_test_catalog_load(&err);
    if (!c)
        print_error("catalog: %s\n", err.msg);
    *state = c;
    return c ? 0 : -1;
}

static int teardown(void **state)
{
    gpf_catalog_free(*state);
    return 0;
}

/* Greedy packing of n instances of profile p onto an empty GPU, following the catalog's
 * placements and max_instances: returns how many fit. used carries the slot bitmap. */
static int pack(const gpf_mig_profile *p, int n, uint32_t *used, int *count_same)
{
    int placed = 0;
    for (int k = 0; k < n; k++) {
        if (*count_same >= p->max_instances)
            break;
        int ok = 0;
        for (int j = 0; j < p->nplacements && !ok; j++) {
            uint32_t m = ((UINT32_C(1) << p->placements[j].size) - 1) << p->placements[j].start;
            if (!(*used & m)) {
                *used |= m;
                ok = 1;
            }
        }
        if (!ok)
            break;
        (*count_same)++;
        placed++;
    }
    return placed;
}

static void test_embedded_counts(void **state)
{
    const gpf_catalog *c = *state;
    assert_int_equal(gpf_catalog_model_count(c), 20);
    assert_int_equal(gpf_catalog_vgpu_count(c), 188);
    int nmig = 0;
    for (int i = 0; i < gpf_catalog_model_count(c); i++) {
        const gpf_gpu_model *m = gpf_catalog_model_at(c, i);
        /* models sharing a MIG key are counted once */
        int first = 1;
        for (int j = 0; j < i; j++)
            if (m->mig_key[0] && strcmp(gpf_catalog_model_at(c, j)->mig_key, m->mig_key) == 0)
                first = 0;
        if (first)
            nmig += gpf_catalog_mig_count(c, m->mig_key);
    }
    assert_int_equal(nmig, 79);
    assert_null(gpf_catalog_model_at(c, 20));
    assert_null(gpf_catalog_model_at(c, -1));
    assert_null(gpf_catalog_vgpu_at(c, 188));
}

static void test_mig_keys(void **state)
{
    const gpf_catalog *c = *state;
    static const struct {
        const char *key, *mig_key;
        int grid, compute;
    } want[] = {
        {"H100-80GB-SXM5", "H100-80GB", 8, 7},  {"H100-80GB-PCIe", "H100-80GB", 8, 7},
        {"A100-40GB-SXM4", "A100-40GB", 8, 7},  {"A100-40GB-PCIe", "A100-40GB", 8, 7},
        {"A100-80GB-PCIe", "A100-80GB", 8, 7},  {"A30-24GB", "A30-24GB", 4, 4},
        {"H100-NVL-94GB", "H100-NVL-94GB", 8, 7}, {"H200-SXM-141GB", "H200-SXM-141GB", 8, 7},
        {"RTX-PRO-6000-BSE", "RTX-PRO-6000-BSE", 12, 4}, {"L40S", "", 0, 0},
        {"A10", "", 0, 0},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const gpf_gpu_model *m = gpf_catalog_model(c, want[i].key);
        assert_non_null(m);
        assert_string_equal(m->mig_key, want[i].mig_key);
        assert_int_equal(m->mig_grid_units, want[i].grid);
        assert_int_equal(m->mig_compute_slices, want[i].compute);
    }
    /* every MIG-capable model gets a key and profiles */
    for (int i = 0; i < gpf_catalog_model_count(c); i++) {
        const gpf_gpu_model *m = gpf_catalog_model_at(c, i);
        if (!m->mig_capable) {
            assert_string_equal(m->mig_key, "");
            continue;
        }
        assert_true(m->mig_key[0] != '\0');
        assert_true(gpf_catalog_mig_count(c, m->mig_key) > 0);
        assert_true(m->mig_compute_slices > 0);
    }
    const gpf_gpu_model *h = gpf_catalog_model(c, "H100-80GB-SXM5");
    assert_int_equal(h->pci_device_ids[0], 0x233010DEu);
    assert_int_equal(h->memory_gb, 80);
    assert_int_equal(h->tdp_w, 700);
    assert_int_equal(h->mig_max_instances, 7);
    assert_true(h->vgpu_compute_supported);
    assert_int_equal(h->mmio_required_gb, 256);
    assert_string_equal(h->nvml_name, "NVIDIA H100 80GB HBM3");
    assert_false(gpf_catalog_model(c, "B200-180GB")->vgpu_compute_supported); /* "unknown (...)" */
    assert_int_equal(gpf_catalog_model(c, "L40S")->mmio_required_gb, 0);      /* empty = unknown */
    assert_null(gpf_catalog_model(c, "H100"));
    assert_null(gpf_catalog_model(c, NULL));
}

static void test_h100_geometry(void **state)
{
    const gpf_catalog *c = *state;
    assert_int_equal(gpf_catalog_mig_count(c, "H100-80GB"), 7);
    const gpf_mig_profile *g1 = gpf_catalog_mig_by_name(c, "H100-80GB", "1g.10gb");
    const gpf_mig_profile *g3 = gpf_catalog_mig_by_name(c, "H100-80GB", "3g.40gb");
    const gpf_mig_profile *g4 = gpf_catalog_mig_by_name(c, "H100-80GB", "4g.40gb");
    assert_non_null(g1);
    assert_non_null(g3);
    assert_non_null(g4);
    assert_int_equal(g1->gi_profile_id, 19);
    assert_int_equal(g1->memory_mib, 9984);
    assert_int_equal(g3->gi_profile_id, 9);
    assert_int_equal(g3->compute_slices, 3);
    assert_int_equal(g3->memory_slices, 4);

    /* seven 1g.10gb fit, never an eighth */
    uint32_t used = 0;
    int same = 0;
    assert_int_equal(pack(g1, 8, &used, &same), 7);
    assert_int_equal(used, 0x7Fu); /* slot 7 is never a 1g placement */

    /* one 4g.40gb, then at most one 3g.40gb beside it */
    used = 0;
    same = 0;
    assert_int_equal(pack(g4, 2, &used, &same), 1);
    same = 0;
    assert_int_equal(pack(g3, 2, &used, &same), 1);
    assert_int_equal(used, 0xFFu);

    /* 3g starts at 0 or 4, size 4 */
    assert_int_equal(g3->nplacements, 2);
    assert_int_equal(g3->placements[0].start, 0);
    assert_int_equal(g3->placements[0].size, 4);
    assert_int_equal(g3->placements[1].start, 4);
    assert_int_equal(g3->placements[1].size, 4);
    assert_int_equal(g4->nplacements, 1);
    assert_int_equal(g4->placements[0].start, 0);

    const gpf_mig_profile *me = gpf_catalog_mig_by_name(c, "H100-80GB", "1g.10gb+me");
    assert_int_equal(me->max_instances, 1);
    const gpf_mig_profile *g7 = gpf_catalog_mig_by_id(c, "H100-80GB", 0);
    assert_string_equal(g7->name, "7g.80gb");
    assert_int_equal(g7->placements[0].size, 8);
}

static void test_other_grids(void **state)
{
    const gpf_catalog *c = *state;
    const gpf_mig_profile *a = gpf_catalog_mig_by_name(c, "A30-24GB", "1g.6gb");
    assert_int_equal(a->grid_units, 4);
    assert_int_equal(a->max_instances, 4);
    assert_int_equal(gpf_catalog_mig_by_name(c, "A30-24GB", "4g.24gb")->placements[0].size, 4);

    const gpf_mig_profile *r = gpf_catalog_mig_by_name(c, "RTX-PRO-6000-BSE", "1g.24gb");
    assert_non_null(r);
    assert_int_equal(r->grid_units, 12);
    assert_int_equal(r->nplacements, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(r->placements[i].start, 3 * i);
        assert_int_equal(r->placements[i].size, 3);
    }
    const gpf_mig_profile *r2 = gpf_catalog_mig_by_name(c, "RTX-PRO-6000-BSE", "2g.48gb");
    assert_int_equal(r2->placements[1].start, 6);
    assert_int_equal(r2->placements[1].size, 6);
    assert_int_equal(gpf_catalog_mig_by_name(c, "RTX-PRO-6000-BSE", "1g.24gb+me.all")->max_instances, 1);

    /* enumeration covers exactly the model's profiles */
    int n = gpf_catalog_mig_count(c, "RTX-PRO-6000-BSE");
    assert_int_equal(n, 11);
    for (int i = 0; i < n; i++)
        assert_string_equal(gpf_catalog_mig_at(c, "RTX-PRO-6000-BSE", i)->mig_key, "RTX-PRO-6000-BSE");
    assert_null(gpf_catalog_mig_at(c, "RTX-PRO-6000-BSE", n));
    assert_int_equal(gpf_catalog_mig_count(c, ""), 0);
    assert_int_equal(gpf_catalog_mig_count(c, "L40S"), 0);
}

static void test_mig_match(void **state)
{
    const gpf_catalog *c = *state;
    const gpf_mig_profile *p = gpf_catalog_mig_match(c, "H100-80GB", 9, 3, 4);
    assert_non_null(p);
    assert_string_equal(p->name, "3g.40gb");
    assert_null(gpf_catalog_mig_match(c, "H100-80GB", 9, 3, 3)); /* the wrong go-nvml mock shape */
    assert_null(gpf_catalog_mig_match(c, "H100-80GB", 9, 4, 4));
    assert_null(gpf_catalog_mig_match(c, "H100-80GB", 99, 3, 4));
    /* the same name means different profiles on different models: match by id */
    assert_int_equal(gpf_catalog_mig_by_name(c, "A100-40GB", "1g.10gb")->gi_profile_id, 15);
    assert_int_equal(gpf_catalog_mig_by_name(c, "A100-80GB", "1g.10gb")->gi_profile_id, 19);
    p = gpf_catalog_mig_match(c, "A100-40GB", 15, 1, 2);
    assert_non_null(p);
    assert_string_equal(p->name, "1g.10gb");
    assert_null(gpf_catalog_mig_by_name(c, "H100-80GB", "3g.39gb"));
}

static void test_pci_and_matching(void **state)
{
    const gpf_catalog *c = *state;
    const gpf_gpu_model *m = gpf_catalog_model_by_pci(c, 0x233010DE);
    assert_non_null(m);
    assert_string_equal(m->key, "H100-80GB-SXM5");
    m = gpf_catalog_model_by_pci(c, 0x20B110DE); /* the second id of the A100 PCIe 40GB */
    assert_non_null(m);
    assert_string_equal(m->key, "A100-40GB-PCIe");
    assert_int_equal(m->npci_ids, 2);
    assert_string_equal(gpf_catalog_model_by_pci(c, 0x26B910DE)->key, "L40S");
    assert_null(gpf_catalog_model_by_pci(c, 0x12345678));

    const gpf_gpu_model *h = gpf_catalog_model(c, "H100-80GB-SXM5");
    assert_true(gpf_catalog_model_matches(h, "H100-80GB-SXM5"));
    assert_true(gpf_catalog_model_matches(h, "H100-80GB"));
    assert_false(gpf_catalog_model_matches(h, "H100-80GB-PCIe"));
    assert_false(gpf_catalog_model_matches(h, "H100"));
    assert_false(gpf_catalog_model_matches(h, ""));
    assert_false(gpf_catalog_model_matches(h, NULL));
    const gpf_gpu_model *l = gpf_catalog_model(c, "L40S");
    assert_true(gpf_catalog_model_matches(l, "L40S"));
    assert_false(gpf_catalog_model_matches(l, "L40"));
    assert_false(gpf_catalog_model_matches(NULL, "L40S"));
}

static void test_vgpu(void **state)
{
    const gpf_catalog *c = *state;
    const gpf_vgpu_type *t = gpf_catalog_vgpu(c, "L40S-12C");
    assert_non_null(t);
    assert_int_equal(t->max_per_gpu, 4);
    assert_int_equal(t->max_per_gpu_mixed, 4);
    assert_int_equal(t->framebuffer_mib, 12288);
    assert_false(t->mig_backed);
    assert_string_equal(t->gpu_model, "L40S");
    assert_string_equal(t->board, "NVIDIA L40S");
    t = gpf_catalog_vgpu(c, "H100XM-3-40C");
    assert_non_null(t);
    assert_true(t->mig_backed);
    assert_int_equal(t->max_per_gpu, 2);
    assert_int_equal(t->max_per_gpu_mixed, 0);
    assert_string_equal(t->mig_profile, "3g.40gb");
    assert_int_equal(t->mig_compute_slices, 3);
    assert_null(gpf_catalog_vgpu(c, "L40S-13C"));
}

/* ---- malformed input ------------------------------------------------------ */

static const char *GPUS_HDR = "gpu_model,pci_device_ids,memory_gb,mig_capable,mig_max_instances,mig_grid_units\n";
static const char *MIG_HDR =
    "gpu_model,profile,gi_profile_id,compute_slices,memory_slices,grid_units,max_instances,memory_mib,placements\n";

static int parse_gpus(const char *body, gpf_error *err)
{
    char text[2048];
    snprintf(text, sizeof text, "%s%s", GPUS_HDR, body);
    gpf_catalog *c = NULL;
    int rc = gpf_catalog_parse(text, NULL, NULL, &c, err);
    if (rc == 0)
        assert_non_null(c);
    else
        assert_null(c);
    gpf_catalog_free(c);
    return rc;
}

static int parse_mig(const char *body, gpf_error *err)
{
    char text[2048];
    snprintf(text, sizeof text, "%s%s", MIG_HDR, body);
    gpf_catalog *c = NULL;
    int rc = gpf_catalog_parse(NULL, text, NULL, &c, err);
    gpf_catalog_free(c);
    return rc;
}

static void expect_bad_gpus(const char *body, const char *where)
{
    gpf_error err = {0};
    assert_int_equal(parse_gpus(body, &err), GPF_EINVAL);
    if (!strstr(err.msg, where))
        fail_msg("message '%s' lacks '%s'", err.msg, where);
}

static void expect_bad_mig(const char *body, const char *where)
{
    gpf_error err = {0};
    assert_int_equal(parse_mig(body, &err), GPF_EINVAL);
    if (!strstr(err.msg, where))
        fail_msg("message '%s' lacks '%s'", err.msg, where);
}

static void test_malformed(void **state)
{
    (void)state;
    gpf_error err = {0};
    assert_int_equal(parse_gpus("X-1,0x000110DE,8,no,,\nX-2,0x000210DE,16,yes,7,8\n", &err), 0);
    expect_bad_gpus("X-1,0x000110DE,8,no,,\nX-2,0x000210DE,16,yes,7\n", "gpus.csv line 3: 5 fields");
    expect_bad_gpus("X-1,0x000110DE,8,no,,,\n", "gpus.csv line 2: 7 fields");
    expect_bad_gpus("X-1,0x000110DE,eight,no,,\n", "gpus.csv line 2: memory_gb");
    expect_bad_gpus("X-1,0x000110DE,8,maybe,,\n", "gpus.csv line 2: mig_capable");
    expect_bad_gpus("X-1,0xZZ,8,no,,\n", "gpus.csv line 2: pci_device_ids");
    expect_bad_gpus("X-1,0x000110DE,8,no,,\n\nX-1,0x000210DE,8,no,,\n", "gpus.csv line 4: gpu_model 'X-1' listed twice");
    expect_bad_gpus("X-1,0x000110DE,8,no,,\nX-2,0x000110DE,8,no,,\n", "gpus.csv line 3: pci id");
    expect_bad_gpus(",0x000110DE,8,no,,\n", "gpus.csv line 2: gpu_model is empty");
    expect_bad_gpus("X-1,0x000110DE,8,no,,\n\"X-2\",0x000210DE,8,no,,\n", "gpus.csv line 3: quoted");
    expect_bad_gpus("X-1,0x000110DE,8,yes,0,8\n", "gpus.csv line 2: mig_capable is yes");
    expect_bad_gpus("X-1,0x000110DE,99999999999999999999,no,,\n", "gpus.csv line 2: memory_gb");

    assert_int_equal(parse_mig("Z-1,1g.1gb,19,1,1,8,7,100,0:1;1:1\n", &err), 0);
    expect_bad_mig("Z-1,1g.1gb,19,1,1,8,7,100,0:1;7:2\n", "mig_profiles.csv line 2: placements");
    expect_bad_mig("Z-1,1g.1gb,19,1,1,8,7,100,0:1;8:1\n", "mig_profiles.csv line 2: placements");
    expect_bad_mig("Z-1,1g.1gb,19,1,1,8,7,100,0-1\n", "mig_profiles.csv line 2: placements");
    expect_bad_mig("Z-1,1g.1gb,19,1,1,8,7,100,\n", "mig_profiles.csv line 2: placements");
    expect_bad_mig("Z-1,1g.1gb,x19,1,1,8,7,100,0:1\n", "mig_profiles.csv line 2: gi_profile_id");
    expect_bad_mig("Z-1,1g.1gb,19,1,1,33,7,100,0:1\n", "mig_profiles.csv line 2: grid_units");
    expect_bad_mig("Z-1,1g.1gb,19,1,1,8,7,100,0:1\nZ-1,1g.2gb,19,1,2,8,4,200,0:2\n",
                   "mig_profiles.csv line 3: gi_profile_id 19 listed twice");
    expect_bad_mig("Z-1,1g.1gb,19,1,1,8,7,100,0:1\nZ-1,2g.2gb,14,2,2,4,3,200,0:2\n", "line 3: grid_units 4 differs");

    /* a missing header column */
    gpf_catalog *c = NULL;
    assert_int_equal(gpf_catalog_parse("gpu_model,memory_gb,mig_capable\nX,8,no\n", NULL, NULL, &c, &err),
                     GPF_EINVAL);
    assert_non_null(strstr(err.msg, "gpus.csv line 1: header lacks the column 'pci_device_ids'"));
    assert_null(c);
    assert_int_equal(gpf_catalog_parse(NULL, NULL, "gpu_model,vgpu_type,mode,framebuffer_mb,max_per_gpu\n"
                                                   "L40S,L40S-12C,shared,12288,4\n",
                                       &c, &err),
                     GPF_EINVAL);
    assert_non_null(strstr(err.msg, "vgpu_profiles.csv line 2: mode"));
    assert_int_equal(gpf_catalog_parse(NULL, NULL, NULL, NULL, &err), GPF_EINVAL);
}

static void test_by_name_and_crlf(void **state)
{
    (void)state;
    /* columns in another order, CRLF line ends, blank lines and surrounding spaces */
    const char *gpus = "mig_grid_units,mig_capable,extra,memory_gb,pci_device_ids,gpu_model,mig_max_instances\r\n"
                       "\r\n"
                       "8,yes,whatever,80, 0x233010DE ,Z-80GB-SXM,7\r\n"
                       ",no,,48,0x26B910DE,Q,0\r\n";
    const char *mig = "placements,gpu_model,profile,gi_profile_id,compute_slices,memory_slices,grid_units,max_instances\n"
                      "0:1;1:1;2:1;3:1;4:1;5:1;6:1,Z-80GB,1g.10gb,19,1,1,8,7\n"
                      "0:4;4:4,Z-80GB,3g.40gb,9,3,4,8,2\n"
                      "0:8,Z-80GB,7g.80gb,0,7,8,8,1\n"
                      "0:8,Z-80,7g.80gb,0,7,8,8,1\n";
    gpf_catalog *c = NULL;
    gpf_error err = {0};
    assert_int_equal(gpf_catalog_parse(gpus, mig, NULL, &c, &err), 0);
    const gpf_gpu_model *m = gpf_catalog_model(c, "Z-80GB-SXM");
    assert_non_null(m);
    assert_string_equal(m->mig_key, "Z-80GB"); /* the longest matching key wins over "Z-80" */
    assert_int_equal(m->mig_compute_slices, 7);
    assert_int_equal(m->memory_gb, 80);
    assert_int_equal(m->pci_device_ids[0], 0x233010DEu);
    assert_string_equal(gpf_catalog_model(c, "Q")->mig_key, "");
    assert_int_equal(gpf_catalog_mig_by_id(c, "Z-80GB", 9)->placements[1].start, 4);
    gpf_catalog_free(c);

    /* a model's grid must agree with its profiles */
    c = NULL;
    const char *gpus2 = "gpu_model,pci_device_ids,memory_gb,mig_capable,mig_max_instances,mig_grid_units\n"
                        "Z-80GB,0x000110DE,80,yes,7,12\n";
    assert_int_equal(gpf_catalog_parse(gpus2, mig, NULL, &c, &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "gpus.csv line 2: mig_grid_units 12"));

    /* nothing at all is an empty catalog */
    assert_int_equal(gpf_catalog_parse(NULL, "", NULL, &c, &err), 0);
    assert_int_equal(gpf_catalog_model_count(c), 0);
    assert_null(gpf_catalog_model(c, "Z-80GB"));
    gpf_catalog_free(c);
    gpf_catalog_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedded_counts), cmocka_unit_test(test_mig_keys),
        cmocka_unit_test(test_h100_geometry),   cmocka_unit_test(test_other_grids),
        cmocka_unit_test(test_mig_match),       cmocka_unit_test(test_pci_and_matching),
        cmocka_unit_test(test_vgpu),            cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_by_name_and_crlf),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
