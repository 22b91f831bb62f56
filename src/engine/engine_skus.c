/* Engine: SKUs, checked against the catalog and the images. */
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"

/* A SKU of a MIG-backed vGPU type: some model the SKU allows runs the type and has its GI
 * profile (the scheduler places it as a MIG instance of that profile). */
static int mig_vgpu_check(gpf_engine *e, const gpf_sku *k, const gpf_vgpu_type *t, gpf_error *err)
{
    int runs = 0;
    for (int m = 0; m < gpf_catalog_model_count(e->cat); m++) {
        const gpf_gpu_model *gm = gpf_catalog_model_at(e->cat, m);
        int allowed = k->nmodels == 0;
        for (int i = 0; i < k->nmodels && !allowed; i++)
            allowed = gpf_catalog_model_matches(gm, k->models[i]);
        if (!allowed || !gpf_catalog_model_matches(gm, t->gpu_model))
            continue;
        runs = 1;
        if (gm->mig_key[0] && gpf_catalog_mig_by_name(e->cat, gm->mig_key, t->mig_profile))
            return 0;
    }
    if (!runs)
        return gpf_error_set(err, GPF_EINVAL, "slice.vgpu_type: '%s' runs on %s, which gpu_models does not allow",
                             t->name, t->gpu_model);
    return gpf_error_set(err, GPF_EINVAL, "slice.vgpu_type: MIG-backed type '%s' is MIG profile '%s', which the catalog lacks for %s",
                         t->name, t->mig_profile, t->gpu_model);
}

/* Checks a SKU against the catalog: its models exist and its MIG profile exists on them. */
static int sku_check(gpf_engine *e, const gpf_sku *k, gpf_error *err)
{
    int mig_ok = 0;
    for (int i = 0; i < k->nmodels; i++) {
        int known = 0;
        for (int m = 0; m < gpf_catalog_model_count(e->cat); m++) {
            const gpf_gpu_model *gm = gpf_catalog_model_at(e->cat, m);
            if (!gpf_catalog_model_matches(gm, k->models[i]))
                continue;
            known = 1;
            if (k->slice.kind == GPF_SLICE_MIG && gm->mig_key[0] &&
                gpf_catalog_mig_by_name(e->cat, gm->mig_key, k->slice.mig_profile))
                mig_ok = 1;
        }
        if (!known)
            return gpf_error_set(err, GPF_EINVAL, "gpu_models: unknown GPU model '%s' (see data/catalog/gpus.csv)",
                                 k->models[i]);
    }
    if (k->slice.kind == GPF_SLICE_MIG) {
        if (k->nmodels == 0) {
            for (int m = 0; m < gpf_catalog_model_count(e->cat) && !mig_ok; m++) {
                const gpf_gpu_model *gm = gpf_catalog_model_at(e->cat, m);
                if (gm->mig_key[0] && gpf_catalog_mig_by_name(e->cat, gm->mig_key, k->slice.mig_profile))
                    mig_ok = 1;
            }
        }
        if (!mig_ok)
            return gpf_error_set(err, GPF_EINVAL, "slice.mig_profile: no allowed GPU model has MIG profile '%s'",
                                 k->slice.mig_profile);
    }
    char why[GPF_TEXT_MAX];
    if (!gpf_sku_env_valid(k->env, why, sizeof why)) /* what an agent would refuse to run */
        return gpf_error_set(err, GPF_EINVAL, "env: %s", why);
    if ((int)k->min_isolation < GPF_ISO_HARDWARE || k->min_isolation > GPF_ISO_SOFT)
        return gpf_error_set(err, GPF_EINVAL, "min_isolation must be hardware, device or soft");
    if (gpf_isolation_expected(GPF_ISO_HARDWARE, k->slice.kind) > k->min_isolation)
        return gpf_error_set(err, GPF_EINVAL, "min_isolation: a %s slice gets at most %s isolation, not %s",
                             gpf_slice_kind_name(k->slice.kind),
                             gpf_isolation_name(gpf_isolation_expected(GPF_ISO_HARDWARE, k->slice.kind)),
                             gpf_isolation_name(k->min_isolation));
    if (k->image[0] && !eng_image(e, k->image)) {
        char names[160] = "";
        size_t used = 0;
        for (size_t i = 0; i < e->images.n && used + 1 < sizeof names; i++) {
            int w = snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                             VEC_AT(&e->images, gpf_image, i)->name);
            used += w > 0 ? (size_t)w : 0;
        }
        if (!e->images.n)
            return gpf_error_set(err, GPF_EINVAL, "image: no image named '%s'; no image is imported yet "
                                 "(gpufleet image import)", k->image);
        return gpf_error_set(err, GPF_EINVAL, "image: no image named '%s'; the images are: %s", k->image, names);
    }
    if (k->slice.kind == GPF_SLICE_VGPU) {
        const gpf_vgpu_type *t = gpf_catalog_vgpu(e->cat, k->slice.vgpu_type);
        if (!t)
            return gpf_error_set(err, GPF_EINVAL, "slice.vgpu_type: unknown vGPU type '%s'", k->slice.vgpu_type);
        if (t->mig_backed)
            return mig_vgpu_check(e, k, t, err);
    }
    return 0;
}

static int sku_write(gpf_engine *e, const gpf_principal *who, const gpf_sku *k, int create, gpf_sku *out,
                     gpf_error *err)
{
    int rc = eng_can(who, GPF_ACT_SKU_WRITE, NULL, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    gpf_sku *cur = eng_sku(e, k->name);
    if (create && cur) {
        rc = gpf_error_set(err, GPF_EEXIST, "SKU '%s' already exists", k->name);
        goto out;
    }
    if (!create && !cur) {
        rc = gpf_error_set(err, GPF_ENOTFOUND, "no SKU '%s'", k->name);
        goto out;
    }
    if ((rc = sku_check(e, k, err)) != 0)
        goto out;
    gpf_sku nk = *k;
    nk.updated_ms = eng_now(e);
    nk.created_ms = cur ? cur->created_ms : nk.updated_ms;
    rc = gpf_store_sku_put(e->store, &nk, err);
    if (rc != 0)
        goto out;
    if (!cur)
        cur = vec_push(&e->skus, sizeof nk);
    *cur = nk;
    eng_policy_tasks(e);
    if (out)
        *out = nk;
out:
    return eng_unlock_sync(e, rc, err);
}

int gpf_engine_sku_create(gpf_engine *e, const gpf_principal *who, const gpf_sku *k, gpf_sku *out,
                          gpf_error *err)
{
    return sku_write(e, who, k, 1, out, err);
}

int gpf_engine_sku_update(gpf_engine *e, const gpf_principal *who, const gpf_sku *k, gpf_sku *out,
                          gpf_error *err)
{
    return sku_write(e, who, k, 0, out, err);
}

int gpf_engine_sku_get(gpf_engine *e, const char *name, gpf_sku *out, gpf_error *err)
{
    int rc = 0;
    pthread_mutex_lock(&e->mu);
    gpf_sku *k = eng_sku(e, name);
    if (k)
        *out = *k;
    else
        rc = gpf_error_set(err, GPF_ENOTFOUND, "no SKU '%s'", name);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

int gpf_engine_sku_list(gpf_engine *e, gpf_sku **out, size_t *n, gpf_error *err)
{
    (void)err;
    pthread_mutex_lock(&e->mu);
    *out = vec_copy(&e->skus, sizeof(gpf_sku), n);
    pthread_mutex_unlock(&e->mu);
    return 0;
}

int gpf_engine_sku_delete(gpf_engine *e, const gpf_principal *who, const char *name, gpf_error *err)
{
    int rc = eng_can(who, GPF_ACT_SKU_WRITE, NULL, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&e->mu);
    gpf_sku *k = eng_sku(e, name);
    if (!k) {
        rc = gpf_error_set(err, GPF_ENOTFOUND, "no SKU '%s'", name);
        goto out;
    }
    rc = gpf_store_sku_delete(e->store, name, err);
    if (rc == 0) {
        vec_remove(&e->skus, sizeof(gpf_sku), (size_t)(k - (gpf_sku *)e->skus.items));
        eng_policy_tasks(e);
    }
out:
    return eng_unlock_sync(e, rc, err);
}
