/* Agent protocol handlers (docs/api.md, "Agent protocol"). */
#include <string.h>

#include "api/api_int.h"
#include "util/alloc.h"

#define MAX_REPORTED_PODS GPF_AGENT_MAX_PODS

void h_agent_register(api_req *q, api_resp *r)
{
    gpf_host_rec *h = GPF_NEW(gpf_host_rec);
    gpf_error err = {0};
    char token[96];
    int hb = 0;
    if (!q->body) {
        api_error(r, GPF_EMALFORMED, "this request needs a JSON object body");
        goto out;
    }
    if (gpf_decode_agent_host(q->body, h, &err) != 0 ||
        gpf_engine_agent_register(q->engine, q->bearer, h, token, sizeof token, &hb, &err) != 0) {
        api_error_from(r, &err);
        goto out;
    }
    api_json(r, 200, json_pack("{s:s, s:s, s:i}", "host_id", h->id, "agent_token", token, "heartbeat_ms", hb));
out:
    gpf_free(h);
}

void h_agent_heartbeat(api_req *q, api_resp *r)
{
    gpf_agent_report rep = {0};
    gpf_error err = {0};
    rep.pods = gpf_calloc(MAX_REPORTED_PODS, sizeof *rep.pods);
    rep.gpus = gpf_calloc(GPF_MAX_HOST_GPUS, sizeof *rep.gpus);
    json_t *empty = q->body ? NULL : json_object();
    if (gpf_decode_heartbeat(q->body ? q->body : empty, &rep, MAX_REPORTED_PODS, &err) != 0 ||
        gpf_engine_agent_heartbeat(q->engine, &q->who, &rep, &err) != 0)
        api_error_from(r, &err);
    else
        api_json(r, 200, json_pack("{s:b}", "ok", 1));
    json_decref(empty);
    gpf_free(rep.pods);
    gpf_free(rep.gpus);
}

void h_agent_commands(api_req *q, api_resp *r)
{
    long long after = 0, wait_ms = 0;
    gpf_agent_cmd *cmds = NULL;
    size_t n = 0;
    int64_t seq = 0;
    gpf_error err = {0};
    if (api_query_int(q, r, "after", 0, INT64_MAX, 0, &after) != 0 ||
        api_query_int(q, r, "wait_ms", 0, 30000, 0, &wait_ms) != 0)
        return;
    if (gpf_engine_agent_commands(q->engine, &q->who, after, (int)wait_ms, &cmds, &n, &seq, &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_object();
        json_object_set_new(c, "seq", json_integer(seq));
        json_object_set_new(c, "type", json_string(cmds[i].type == GPF_CMD_START_POD ? "start_pod" : "stop_pod"));
        json_object_set_new(c, "pod", gpf_json_agent_pod(&cmds[i].pod, cmds[i].ssh_pubkey, cmds[i].env));
        json_array_append_new(arr, c);
    }
    api_json(r, 200, json_pack("{s:I, s:o}", "seq", (json_int_t)seq, "commands", arr));
    gpf_free(cmds);
}

void h_agent_pod_status(api_req *q, api_resp *r)
{
    gpf_agent_pod_status st;
    gpf_error err = {0};
    if (!q->body) {
        api_error(r, GPF_EMALFORMED, "this request needs a JSON object body");
        return;
    }
    if (!gpf_name_valid(q->params[0])) {
        api_error(r, GPF_ENOTFOUND, "no such pod");
        return;
    }
    if (gpf_decode_agent_pod_status(q->body, &st, &err) != 0 ||
        gpf_engine_agent_pod_status(q->engine, &q->who, q->params[0], &st, &err) != 0) {
        api_error_from(r, &err);
        return;
    }
    api_json(r, 200, json_pack("{s:b}", "ok", 1));
}

/* One report's answer: {"pod_id","ok":true} or {"pod_id","ok":false,"status","error":{…}}. */
static json_t *status_result(const char *pod_id, const gpf_error *res)
{
    if (!res->code)
        return json_pack("{s:s, s:b}", "pod_id", pod_id, "ok", 1);
    json_t *o = gpf_json_error(res->code, gpf_error_msg(res));
    json_object_set_new(o, "pod_id", json_string(pod_id));
    json_object_set_new(o, "ok", json_false());
    json_object_set_new(o, "status", json_integer(gpf_err_http(res->code)));
    return o;
}

void h_agent_pod_status_batch(api_req *q, api_resp *r)
{
    /* room for the reports sent (a report is ~3 KB: not the most a batch may hold each time) */
    size_t room = json_array_size(json_object_get(q->body, "reports"));
    room = room < 1 ? 1 : room > GPF_AGENT_STATUS_BATCH_MAX ? GPF_AGENT_STATUS_BATCH_MAX : room;
    gpf_agent_status_item *items = gpf_calloc(room, sizeof *items);
    gpf_error *res = gpf_calloc(room, sizeof *res);
    gpf_error err = {0};
    size_t n = 0, refused = 0;
    if (!q->body) {
        api_error(r, GPF_EMALFORMED, "this request needs a JSON object body");
        goto out;
    }
    if (gpf_decode_agent_status_batch(q->body, items, room, &n, &err) != 0 ||
        gpf_engine_agent_pod_status_batch(q->engine, &q->who, items, n, res, &err) != 0) {
        api_error_from(r, &err);
        goto out;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        refused += res[i].code != 0;
        json_array_append_new(arr, status_result(items[i].pod_id, &res[i]));
    }
    api_json(r, 200, json_pack("{s:o, s:I, s:I}", "results", arr, "taken", (json_int_t)(n - refused), "refused",
                               (json_int_t)refused));
out:
    gpf_free(items);
    gpf_free(res);
}
