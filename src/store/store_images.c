/* The image registry: one row per image name (gpf_image). */
#include "store/store_int.h"

static void bind_image(store_binder *b, const void *rec)
{
    const gpf_image *im = rec;
    BIND_STR(b, im, name);
    BIND_STR(b, im, digest);
    store_bind_int(b, im->size_bytes);
    BIND_STR(b, im, source);
    store_bind_int(b, im->created_ms);
}

static void read_image(store_reader *r, void *rec)
{
    gpf_image *im = rec;
    READ_STR(r, im, name);
    READ_STR(r, im, digest);
    im->size_bytes = store_read_i64(r);
    READ_STR(r, im, source);
    im->created_ms = store_read_i64(r);
}

static const store_table images_table = {
    .name = "images",
    .elem = sizeof(gpf_image),
    .put_what = "store: image_put",
    .put_slot = SLOT_IMAGE_PUT,
    .put_sql = "INSERT INTO images (name, digest, size_bytes, source, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)"
               " ON CONFLICT (name) DO UPDATE SET digest = excluded.digest, size_bytes = excluded.size_bytes,"
               " source = excluded.source, created_ms = excluded.created_ms",
    .bind = bind_image,
    .load_slot = SLOT_IMAGES_LOAD,
    .load_sql = "SELECT name, digest, size_bytes, source, created_ms FROM images ORDER BY name",
    .read = read_image,
};

int sq_image_put(gpf_store *store, const gpf_image *im, gpf_error *err)
{
    store_sqlite *s = store->priv;
    if (!im)
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to image_put");
    return store_put(s, &images_table, im, NULL, err);
}

int sq_image_delete(gpf_store *store, const char *name, gpf_error *err)
{
    store_sqlite *s = store->priv;
    return store_delete_key(s, SLOT_IMAGE_DELETE, "DELETE FROM images WHERE name = ?1", "image", name, err);
}

int sq_images_load(gpf_store *store, gpf_image **out, size_t *n, gpf_error *err)
{
    store_sqlite *s = store->priv;
    void *arr = NULL;
    if (!out || !n)
        return gpf_error_set(err, GPF_EINVAL, "store: bad arguments to images_load");
    int rc = store_load(s, &images_table, NULL, &arr, n, err);
    *out = arr;
    return rc;
}
