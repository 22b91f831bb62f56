/* Image handlers: the registry (import, list, show, delete) and the blob download agents
 * use (docs/api.md, "Images"). */
#include <string.h>
#include <unistd.h>

#include "api/api_int.h"
#include "api/page.h"
#include "util/alloc.h"

static const char *image_key(const void *ctx, size_t i)
{
    return ((const gpf_image *)ctx)[i].name;
}

static json_t *image_json(const void *ctx, size_t i)
{
    return gpf_json_image(&((const gpf_image *)ctx)[i]);
}

/* GET /v1/images?limit=&cursor=: by name. */
void h_images(api_req *q, api_resp *r)
{
    gpf_image *ims = NULL;
    size_t n = 0;
    gpf_error err = {0};
    api_page pg;
    if (api_page_parse(q, r, "images", 0, &pg) != 0)
        return;
    if (gpf_engine_image_list(q->engine, &ims, &n, &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    api_page_answer(r, &pg, "images", n, image_key, image_json, ims);
    gpf_free(ims);
}

/* POST /v1/images {"name","source"}: 201 with the image, or 200 when it replaced one
 * ("replaced": true, "previous_digest"). Blocks while skopeo copies the image. */
void h_image_import(api_req *q, api_resp *r)
{
    char name[GPF_ID_MAX] = "", source[GPF_SOURCE_MAX] = "";
    gpf_image *im = GPF_NEW(gpf_image), *prev = GPF_NEW(gpf_image);
    gpf_error err = {0};
    if (api_need_body(q, r) != 0)
        goto out;
    if (gpf_decode_image_import(q->body, name, source, sizeof source, &err) != 0 ||
        gpf_engine_image_import(q->engine, &q->who, name, source, im, prev, &err) != 0) {
        api_error_from(r, &err);
        goto out;
    }
    json_t *o = gpf_json_image(im);
    json_object_set_new(o, "replaced", json_boolean(prev->name[0]));
    json_object_set_new(o, "previous_digest", prev->name[0] ? json_string(prev->digest) : json_null());
    api_json(r, prev->name[0] ? 200 : 201, o);
out:
    gpf_free(im);
    gpf_free(prev);
}

void h_image(api_req *q, api_resp *r)
{
    gpf_image im;
    gpf_error err = {0};
    if (api_name_param(q, r, "image") != 0)
        return;
    if (gpf_engine_image_get(q->engine, q->params[0], &im, &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    api_json(r, 200, gpf_json_image(&im));
}

void h_image_delete(api_req *q, api_resp *r)
{
    gpf_error err = {0};
    if (api_name_param(q, r, "image") != 0)
        return;
    if (gpf_engine_image_delete(q->engine, &q->who, q->params[0], &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    r->status = 204;
}

/* GET /v1/agent/blobs/sha256:<hex>: the blob's bytes, streamed from the file. */
void h_agent_blob(api_req *q, api_resp *r)
{
    gpf_error err = {0};
    int fd = -1;
    int64_t size = 0;
    if (gpf_engine_image_blob_open(q->engine, &q->who, q->params[0], &fd, &size, &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    r->status = 200;
    r->has_file = 1;
    r->file_fd = fd;
    r->file_size = (uint64_t)size;
    r->content_type = "application/octet-stream";
}
