/* JSON codecs of the HTTP API: encoders, strict decoders, round trips, fuzzing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/codec.h"
#include "util/alloc.h"
#include "util/jsonw.h"
#include "util/timeutil.h"

#define KEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIGUKT0oWUXJHrb4iTGyQZUNDNW7u2hh8PGpQf/oGR/p dev@laptop"

/* JSON from text written with ' for " (keeps the test bodies readable). */
static json_t *J(const char *text)
{
    char *t = gpf_strdup(text);
    json_error_t je;
    json_t *j = NULL;

    for (char *p = t; *p; p++)
        if (*p == '\'')
            *p = '"';
    j = json_loads(t, JSON_DECODE_ANY, &je);
    if (!j)
        fail_msg("bad test JSON: %s: %s", je.text, t);
    gpf_free(t);
    return j;
}

static const char *S(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    assert_non_null(v);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static long long I(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    assert_non_null(v);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("expected '%s' in '%s'", needle, hay);
}

/* ---- decoder wrappers for table tests ---- */

typedef int (*decode_fn)(const json_t *body, gpf_error *err);

static int dec_sku(const json_t *b, gpf_error *err)
{
    gpf_sku k;
    return gpf_decode_sku_create(b, &k, err);
}

static int dec_launch(const json_t *b, gpf_error *err)
{
    gpf_launch_req r;
    return gpf_decode_launch(b, &r, err);
}

static int dec_user(const json_t *b, gpf_error *err)
{
    gpf_user u;
    return gpf_decode_user_create(b, &u, err);
}

static int dec_host(const json_t *b, gpf_error *err)
{
    gpf_host_rec *h = GPF_NEW(gpf_host_rec);
    int rc = gpf_decode_agent_host(b, h, err);
    gpf_free(h);
    return rc;
}

static int dec_status(const json_t *b, gpf_error *err)
{
    gpf_agent_pod_status st;
    return gpf_decode_agent_pod_status(b, &st, err);
}

static int dec_heartbeat(const json_t *b, gpf_error *err)
{
    gpf_agent_pod_report r[2];
    gpf_hw_gpu *g = gpf_calloc(GPF_MAX_HOST_GPUS, sizeof *g);
    gpf_agent_report rep = {.pods = r, .gpus = g};
    int rc = gpf_decode_heartbeat(b, &rep, 2, err);
    gpf_free(g);
    return rc;
}

static int dec_pod(const json_t *b, gpf_error *err)
{
    gpf_pod *p = GPF_NEW(gpf_pod);
    int rc = gpf_decode_pod(b, p, err);
    gpf_free(p);
    return rc;
}

/* Decodes text with fn and expects code with msg containing want ("" = success). */
static void expect(decode_fn fn, const char *text, int code, const char *want)
{
    json_t *j = J(text);
    gpf_error err = {0, ""};
    int rc = fn(j, &err);

    if (rc != code)
        fail_msg("%s: rc %d, want %d (%s)", text, rc, code, err.msg);
    if (code) {
        assert_int_equal(err.code, code);
        assert_contains(err.msg, want);
    }
    json_decref(j);
}

/* Same, for bodies with a long string spliced in at "@" (the text keeps ' for "). */
static void expect_with(decode_fn fn, const char *tmpl, const char *fill, int code, const char *want)
{
    char buf[8192];
    const char *at = strchr(tmpl, '@');
    assert_non_null(at);
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - tmpl), tmpl, fill, at + 1);
    expect(fn, buf, code, want);
}

static char *repeat(char ch, size_t n)
{
    char *s = gpf_malloc(n + 1);
    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

/* ---- encoders ---- */

static void test_time(void **state)
{
    (void)state;
    json_t *j = gpf_json_time(0);
    assert_true(json_is_null(j));
    json_decref(j);
    j = gpf_json_time(1700000000123LL);
    assert_string_equal(json_string_value(j), "2023-11-14T22:13:20.123Z");
    json_decref(j);
    j = gpf_json_time(86400000LL * 366 + 5);
    assert_string_equal(json_string_value(j), "1971-01-02T00:00:00.005Z");
    json_decref(j);
    /* gpf_time_format (printf-free for the usual times) against printf, up to the year 9999 */
    uint64_t x = 1;
    for (int i = 0; i < 20000; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t ms = (int64_t)(x >> 20) % 253402300800000LL;
        char got[40], want[96];
        time_t s = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&s, &tm);
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
        gpf_time_format(ms, got, sizeof got);
        assert_string_equal(got, want);
    }
}

static void test_usage_cost(void **state)
{
    (void)state;
    gpf_usage u;
    json_t *j = NULL;

    memset(&u, 0, sizeof u);
    u.id = 7;
    gpf_strlcpy(u.pod_id, "pod-0000abcd", sizeof u.pod_id);
    u.slice_kind = GPF_SLICE_SHARE;
    u.isolation = GPF_ISO_SOFT;
    u.gpu_milli = 142;
    u.price_micro_per_hour = 2500000; /* 2.50 per hour */
    u.start_ms = 1700000000000LL;
    u.end_ms = u.start_ms + 90 * 60 * 1000;
    j = gpf_json_usage(&u, 0);
    assert_int_equal(I(j, "duration_ms"), 5400000);
    assert_int_equal(I(j, "cost_micro"), 3750000);
    assert_int_equal(I(j, "gpu_milli_seconds"), 142 * 5400);
    assert_string_equal(S(j, "slice_kind"), "share");
    assert_string_equal(S(j, "isolation"), "soft");
    assert_string_equal(S(j, "end_at"), "2023-11-14T23:43:20.000Z");
    json_decref(j);

    /* open record: counts to now */
    u.end_ms = 0;
    j = gpf_json_usage(&u, u.start_ms + 3600000);
    assert_true(json_is_null(json_object_get(j, "end_at")));
    assert_int_equal(I(j, "duration_ms"), 3600000);
    assert_int_equal(I(j, "gpu_milli_seconds"), 511200);
    assert_int_equal(I(j, "cost_micro"), 2500000);
    json_decref(j);

    /* rounded down */
    u.price_micro_per_hour = 1;
    j = gpf_json_usage(&u, u.start_ms + 3599999);
    assert_int_equal(I(j, "cost_micro"), 0);
    assert_int_equal(I(j, "gpu_milli_seconds"), 142 * 3599999LL / 1000);
    json_decref(j);

    /* ten years at the highest price: exact, no overflow */
    u.price_micro_per_hour = 1000000000000LL;
    u.gpu_milli = 8000;
    j = gpf_json_usage(&u, u.start_ms + 87600LL * 3600000 + 1800000);
    assert_int_equal(I(j, "cost_micro"), 1000000000000LL * 87600 + 500000000000LL);
    assert_int_equal(I(j, "gpu_milli_seconds"), 8000LL * (87600LL * 3600 + 1800));
    json_decref(j);

    /* a clock behind the start never gives negative figures */
    j = gpf_json_usage(&u, u.start_ms - 1000);
    assert_int_equal(I(j, "duration_ms"), 0);
    assert_int_equal(I(j, "cost_micro"), 0);
    json_decref(j);
}

static void test_slice_json(void **state)
{
    (void)state;
    gpf_slice_spec s;
    json_t *j = NULL;

    memset(&s, 0, sizeof s);
    s.kind = GPF_SLICE_WHOLE;
    s.gpu_count = 2;
    j = gpf_json_slice(&s);
    assert_int_equal(json_object_size(j), 2);
    assert_string_equal(S(j, "kind"), "whole");
    assert_int_equal(I(j, "gpu_count"), 2);
    json_decref(j);

    s.kind = GPF_SLICE_MIG;
    gpf_strlcpy(s.mig_profile, "1g.10gb", sizeof s.mig_profile);
    j = gpf_json_slice(&s);
    assert_int_equal(json_object_size(j), 2);
    assert_string_equal(S(j, "mig_profile"), "1g.10gb");
    json_decref(j);

    s.kind = GPF_SLICE_VGPU;
    gpf_strlcpy(s.vgpu_type, "L40S-12C", sizeof s.vgpu_type);
    j = gpf_json_slice(&s);
    assert_int_equal(json_object_size(j), 2);
    assert_string_equal(S(j, "vgpu_type"), "L40S-12C");
    json_decref(j);

    s.kind = GPF_SLICE_SHARE;
    s.share_milli = 250;
    s.share_memory_mib = 8192;
    j = gpf_json_slice(&s);
    assert_int_equal(json_object_size(j), 3);
    assert_int_equal(I(j, "share_milli"), 250);
    assert_int_equal(I(j, "share_memory_mib"), 8192);
    json_decref(j);
}

static void fill_pod(gpf_pod *p)
{
    memset(p, 0, sizeof *p);
    gpf_strlcpy(p->id, "pod-1a2b3c4d", sizeof p->id);
    gpf_strlcpy(p->owner, "alice", sizeof p->owner);
    gpf_strlcpy(p->project, "vision", sizeof p->project);
    gpf_strlcpy(p->sku, "h100-share", sizeof p->sku);
    p->slice.kind = GPF_SLICE_SHARE;
    p->slice.gpu_count = 1;
    p->slice.share_milli = 250;
    p->slice.share_memory_mib = 20480;
    p->isolation = GPF_ISO_DEVICE;
    p->state = GPF_POD_RUNNING;
    gpf_strlcpy(p->reason, "placed on h1 (binpack)", sizeof p->reason);
    p->placed = 1;
    gpf_strlcpy(p->placement.host_id, "h1", sizeof p->placement.host_id);
    p->placement.ngpus = 2;
    gpf_strlcpy(p->placement.gpu_uuids[0], "GPU-aaaa-0001", GPF_UUID_MAX);
    gpf_strlcpy(p->placement.gpu_uuids[1], "GPU-aaaa-0002", GPF_UUID_MAX);
    p->placement.gpu_index[0] = 3;
    p->placement.gpu_index[1] = 5;
    p->placement.mig_profile_id = -1;
    p->placement.share_milli = 250;
    p->placement.share_memory_mib = 20480;
    p->placement.cpus = 8;
    p->placement.memory_mib = 65536;
    p->placement.gpu_milli = 250;
    gpf_strlcpy(p->device_ids, "GPU-aaaa-0001,GPU-aaaa-0002", sizeof p->device_ids);
    gpf_strlcpy(p->ssh_host, "10.0.0.7", sizeof p->ssh_host);
    p->ssh_port = 22022;
    gpf_strlcpy(p->ssh_user, "dev", sizeof p->ssh_user);
    p->price_micro_per_hour = 2500000;
    p->created_ms = 1700000000123LL;
    p->started_ms = 1700000000456LL;
    p->stopped_ms = 0;
}

static void test_pod_json(void **state)
{
    (void)state;
    gpf_pod *p = GPF_NEW(gpf_pod);
    json_t *j = NULL, *ssh = NULL, *pl = NULL;

    fill_pod(p);
    j = gpf_json_pod(p);
    assert_string_equal(S(j, "id"), "pod-1a2b3c4d");
    assert_string_equal(S(j, "state"), "running");
    assert_string_equal(S(j, "isolation"), "device");
    assert_string_equal(S(j, "created_at"), "2023-11-14T22:13:20.123Z");
    assert_true(json_is_null(json_object_get(j, "stopped_at")));
    assert_null(json_object_get(j, "ssh_pubkey"));
    ssh = json_object_get(j, "ssh");
    assert_string_equal(S(ssh, "host"), "10.0.0.7");
    assert_int_equal(I(ssh, "port"), 22022);
    assert_string_equal(S(ssh, "user"), "dev");
    assert_string_equal(S(ssh, "command"), "ssh -p 22022 dev@10.0.0.7");
    pl = json_object_get(j, "placement");
    assert_string_equal(S(pl, "host_id"), "h1");
    assert_int_equal(json_array_size(json_object_get(pl, "gpu_uuids")), 2);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(pl, "gpu_indexes"), 1)), 5);
    assert_int_equal(I(pl, "gpu_milli"), 250);
    json_decref(j);

    p->placed = 0;
    p->ssh_port = 0;
    j = gpf_json_pod(p);
    assert_true(json_is_null(json_object_get(j, "placement")));
    assert_true(json_is_null(json_object_get(j, "ssh")));
    json_decref(j);
    gpf_free(p);
}

static void fill_host(gpf_host_rec *h)
{
    memset(h, 0, sizeof *h);
    gpf_strlcpy(h->id, "gpu-node-01", sizeof h->id);
    gpf_strlcpy(h->address, "10.0.0.7", sizeof h->address);
    gpf_strlcpy(h->deploy_mode, "passthrough", sizeof h->deploy_mode);
    gpf_strlcpy(h->backend, "fake", sizeof h->backend);
    gpf_strlcpy(h->runtime, "process", sizeof h->runtime);
    gpf_strlcpy(h->agent_version, "0.1.0-dev", sizeof h->agent_version);
    h->isolation_max = GPF_ISO_SOFT; /* what the process runtime gives when its agent does not say */
    h->cpus = 128;
    h->memory_mib = 1048576;
    h->numa_nodes = 2;
    h->ngpus = 2;
    for (int i = 0; i < 2; i++) {
        gpf_gpu_rec *g = &h->gpus[i];
        snprintf(g->uuid, sizeof g->uuid, "GPU-1234abcd-0000-0000-0000-00000000000%d", i);
        g->index = i;
        gpf_strlcpy(g->model, "H100-80GB-SXM5", sizeof g->model);
        gpf_strlcpy(g->name, "NVIDIA H100 80GB HBM3", sizeof g->name);
        snprintf(g->pci_bus_id, sizeof g->pci_bus_id, "00000000:%02X:00.0", 0x17 + i);
        g->numa_node = i;
        g->memory_mib = 81559;
        g->mig_enabled = i;
    }
}

static void test_host_json(void **state)
{
    (void)state;
    gpf_host_rec *h = GPF_NEW(gpf_host_rec);
    gpf_host_usage u;
    json_t *j = NULL, *g = NULL;

    fill_host(h);
    h->state = GPF_HOST_DRAINING;
    h->registered_ms = 1700000000123LL;
    memset(&u, 0, sizeof u);
    u.cpus_used = 16;
    u.memory_used_mib = 4096;
    u.gpu_allocated_milli[1] = 750;
    u.gpu_mig_used_slots[1] = 3;
    j = gpf_json_host(h, &u);
    assert_string_equal(S(j, "state"), "draining");
    assert_string_equal(S(j, "registered_at"), "2023-11-14T22:13:20.123Z");
    assert_true(json_is_null(json_object_get(j, "last_heartbeat_at")));
    assert_int_equal(I(j, "cpus_used"), 16);
    assert_int_equal(I(j, "memory_mib_used"), 4096);
    g = json_array_get(json_object_get(j, "gpus"), 1);
    assert_int_equal(I(g, "allocated_milli"), 750);
    assert_int_equal(I(g, "mig_used_slots"), 3);
    assert_true(json_is_true(json_object_get(g, "mig_enabled")));
    assert_string_equal(S(g, "pci_bus_id"), "00000000:18:00.0");
    json_decref(j);
    j = gpf_json_host(h, NULL);
    assert_int_equal(I(j, "cpus_used"), 0);
    json_decref(j);
    gpf_free(h);
}

/* Every field of the pod and host documents set, with text jansson must escape or refuse. */
static void fill_odd(gpf_pod *p, gpf_host_rec *h, gpf_host_usage *u)
{
    fill_pod(p);
    gpf_strlcpy(p->reason, "said \"no\"\\\n\ttab \x01 caf\xc3\xa9 bad \xff\xfe end", sizeof p->reason);
    gpf_strlcpy(p->image, "cuda-12 \xc3\xa9", sizeof p->image);
    gpf_strlcpy(p->image_digest, "sha256:abc/def", sizeof p->image_digest);
    gpf_strlcpy(p->ssh_host_key, KEY, sizeof p->ssh_host_key);
    p->isolation_layers = 0x5;
    p->host_unreachable = 1;
    gpf_strlcpy(p->placement.vgpu_type, "\x80", sizeof p->placement.vgpu_type);
    p->stopped_ms = -5;
    fill_host(h);
    h->state = GPF_HOST_UNREACHABLE;
    h->last_heartbeat_ms = 1700000000999LL;
    h->preflight = GPF_PREFLIGHT_WARN;
    h->preflight_ms = 1700000001000LL;
    h->nfindings = 2;
    for (int i = 0; i < 2; i++) {
        gpf_strlcpy(h->findings[i].check, i ? "iommu" : "driver\x7f", sizeof h->findings[i].check);
        h->findings[i].level = i ? GPF_PREFLIGHT_FAIL : GPF_PREFLIGHT_WARN;
        h->findings[i].gpu = i - 1;
        gpf_strlcpy(h->findings[i].detail, "a \"b\" \xc0\xaf", sizeof h->findings[i].detail);
        gpf_strlcpy(h->findings[i].fix, "", sizeof h->findings[i].fix);
    }
    h->override = 1;
    gpf_strlcpy(h->override_by, "root", sizeof h->override_by);
    gpf_strlcpy(h->override_reason, "trust me\r\n", sizeof h->override_reason);
    h->override_ms = 1700000002000LL;
    h->rekey_ms = 1700000003000LL;
    gpf_strlcpy(h->rekey_by, "bob", sizeof h->rekey_by);
    memset(u, 0, sizeof *u);
    u->cpus_used = 3;
    u->memory_used_mib = 7;
    u->gpu_allocated_milli[0] = 1000;
    u->schedulable = 0;
    gpf_strlcpy(u->unschedulable_reason, "drift \xe2\x82\xac", sizeof u->unschedulable_reason);
    u->ndrift = 1;
    gpf_strlcpy(u->drift[0].kind, "gpu_missing", sizeof u->drift[0].kind);
    gpf_strlcpy(u->drift[0].subject, "GPU-x", sizeof u->drift[0].subject);
    gpf_strlcpy(u->drift[0].detail, "gone", sizeof u->drift[0].detail);
    u->drift[0].since_ms = 1700000004000LL;
}

/* What the encoders made of fill_odd's records before they were written as text (jansson
 * trees dumped by json_dumps): the text form must not change a byte of the API's answers. */
static const char *const GOLD_POD =
        "{\"id\":\"pod-1a2b3c4d\",\"owner\":\"alice\",\"project\":\"vision\",\"sku\":\"h100-share\",\"sli"
        "ce\":{\"kind\":\"share\",\"share_milli\":250,\"share_memory_mib\":20480},\"isolation\":\"device\""
        ",\"isolation_layers\":[\"userns\",\"pidns\"],\"image\":{\"name\":\"cuda-12 \303\251\",\"digest\""
        ":\"sha256:abc/def\"},\"state\":\"running\",\"reachability\":\"unknown\",\"reason\":\"said \\\"no"
        "\\\"\\\\\\n\\ttab \\u0001 caf?? bad ?? end\",\"placement\":{\"host_id\":\"h1\",\"gpu_uuids\":[\""
        "GPU-aaaa-0001\",\"GPU-aaaa-0002\"],\"gpu_indexes\":[3,5],\"mig_profile_id\":-1,\"mig_start\":0,\""
        "mig_size\":0,\"share_milli\":250,\"share_memory_mib\":20480,\"vgpu_type\":\"?\",\"numa_node\":0,"
        "\"cpus\":8,\"memory_mib\":65536,\"gpu_milli\":250},\"device_ids\":\"GPU-aaaa-0001,GPU-aaaa-0002\""
        ",\"ssh\":{\"host\":\"10.0.0.7\",\"port\":22022,\"user\":\"dev\",\"command\":\"ssh -p 22022 dev@1"
        "0.0.0.7\",\"host_key\":\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIGUKT0oWUXJHrb4iTGyQZUNDNW7u2hh8PG"
        "pQf/oGR/p dev@laptop\",\"host_key_fingerprint\":\"SHA256:CUUmq5JRjS8DYG4BFEqhmakk9p5fjOxZbiuq9Kf"
        "lFZk\"},\"price_micro_per_hour\":2500000,\"created_at\":\"2023-11-14T22:13:20.123Z\",\"started_a"
        "t\":\"2023-11-14T22:13:20.456Z\",\"stopped_at\":null}";
static const char *const GOLD_HOST =
        "{\"id\":\"gpu-node-01\",\"address\":\"10.0.0.7\",\"deploy_mode\":\"passthrough\",\"backend\":\"f"
        "ake\",\"runtime\":\"process\",\"agent_version\":\"0.1.0-dev\",\"isolation_max\":\"soft\",\"max_p"
        "ods\":1024,\"cpus\":128,\"memory_mib\":1048576,\"numa_nodes\":2,\"state\":\"unreachable\",\"regi"
        "stered_at\":null,\"last_heartbeat_at\":\"2023-11-14T22:13:20.999Z\",\"gpus\":[{\"uuid\":\"GPU-12"
        "34abcd-0000-0000-0000-000000000000\",\"index\":0,\"model\":\"H100-80GB-SXM5\",\"name\":\"NVIDIA "
        "H100 80GB HBM3\",\"pci_bus_id\":\"00000000:17:00.0\",\"numa_node\":0,\"memory_mib\":81559,\"mig_"
        "enabled\":false,\"allocated_milli\":1000,\"mig_used_slots\":0},{\"uuid\":\"GPU-1234abcd-0000-000"
        "0-0000-000000000001\",\"index\":1,\"model\":\"H100-80GB-SXM5\",\"name\":\"NVIDIA H100 80GB HBM3\""
        ",\"pci_bus_id\":\"00000000:18:00.0\",\"numa_node\":1,\"memory_mib\":81559,\"mig_enabled\":true,\""
        "allocated_milli\":0,\"mig_used_slots\":0}],\"cpus_used\":3,\"memory_mib_used\":7,\"preflight\":{"
        "\"verdict\":\"warn\",\"findings\":[{\"check\":\"driver\177\",\"level\":\"warn\",\"gpu\":-1,\"det"
        "ail\":\"a \\\"b\\\" ??\",\"fix\":\"\"},{\"check\":\"iommu\",\"level\":\"fail\",\"gpu\":0,\"detai"
        "l\":\"a \\\"b\\\" ??\",\"fix\":\"\"}],\"checked_at\":\"2023-11-14T22:13:21.000Z\",\"override\":{"
        "\"by\":\"root\",\"reason\":\"trust me\\r\\n\",\"at\":\"2023-11-14T22:13:22.000Z\"}},\"rekey\":{\""
        "at\":\"2023-11-14T22:13:23.000Z\",\"by\":\"bob\"},\"schedulable\":false,\"unschedulable_reason\""
        ":\"drift \342\202\254\",\"drift\":[{\"kind\":\"gpu_missing\",\"subject\":\"GPU-x\",\"detail\":\""
        "gone\",\"since\":\"2023-11-14T22:13:24.000Z\"}]}";

/* The text of j (consumed) as json_dumps writes it, compared with want. */
static void dumps_is(json_t *j, const char *want)
{
    char *t = json_dumps(j, JSON_COMPACT);
    assert_string_equal(t, want);
    free(t);
    json_decref(j);
}

static void test_golden_docs(void **state)
{
    (void)state;
    gpf_pod *p = GPF_NEW(gpf_pod);
    gpf_host_rec *h = GPF_NEW(gpf_host_rec);
    gpf_host_usage u;
    gpf_buf b = {0};
    fill_odd(p, h, &u);
    gpf_jsonw_pod(&b, p);
    assert_string_equal(gpf_buf_cstr(&b), GOLD_POD);
    gpf_buf_reset(&b);
    gpf_jsonw_host(&b, h, &u);
    assert_string_equal(gpf_buf_cstr(&b), GOLD_HOST);
    dumps_is(gpf_json_pod(p), GOLD_POD);
    dumps_is(gpf_json_host(h, &u), GOLD_HOST);
    gpf_strlcpy(h->rekey_by, "b\xffo", sizeof h->rekey_by); /* json_pack refused it: "rekey" was null */
    u.schedulable = 1;
    gpf_buf_reset(&b);
    gpf_jsonw_host(&b, h, &u);
    assert_non_null(strstr(gpf_buf_cstr(&b), ",\"rekey\":null,\"schedulable\":true,\"unschedulable_reason\":null,"));
    dumps_is(gpf_json_host(h, &u), gpf_buf_cstr(&b));
    gpf_buf_clear(&b);
    gpf_free(p);
    gpf_free(h);
}

/* gpf_jsonw_tree writes what json_dumps(JSON_COMPACT) writes: asserted for j. */
static void same_as_jansson(const json_t *j)
{
    gpf_buf b = {0};
    char *want = json_dumps(j, JSON_COMPACT);
    assert_non_null(want);
    assert_int_equal(gpf_jsonw_tree(&b, j), 0);
    assert_string_equal(gpf_buf_cstr(&b), want);
    free(want);
    gpf_buf_clear(&b);
}

/* A random document of depth at most depth (x: the generator's state). */
static json_t *random_doc(unsigned *x, int depth, int container)
{
    static const char *const bits[] = {"a", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f", "\x7f", " ",
                                       "\xc3\xa9", "\xe2\x80\xa8", "\xf0\x9f\x98\x80", "ab c", "\b\f\r"};
    *x = *x * 1103515245u + 12345u;
    unsigned r = (*x >> 8) % (container ? 2 : 8);
    if (depth <= 0 && (container || r < 2))
        return container ? json_object() : json_string("");
    if (r < 2) {
        json_t *c = r == 0 ? json_object() : json_array();
        int n = (int)((*x >> 4) % 5);
        for (int i = 0; i < n; i++) {
            json_t *v = random_doc(x, depth - 1, 0);
            if (r == 0) {
                char key[16];
                snprintf(key, sizeof key, "%s%d", bits[(*x >> 3) % 15], i);
                json_object_set_new(c, key, v);
            } else {
                json_array_append_new(c, v);
            }
        }
        return c;
    }
    if (r == 2)
        return json_integer((json_int_t)(*x % 2 ? -(long long)*x : (long long)*x * 977));
    if (r == 3)
        return *x % 3 == 0 ? json_true() : (*x % 3 == 1 ? json_false() : json_null());
    gpf_buf s = {0};
    for (unsigned i = 0; i < (*x >> 5) % 6; i++)
        gpf_buf_puts(&s, bits[(*x >> (i + 2)) % 15]);
    json_t *str = json_stringn(s.data ? s.data : "", s.len);
    gpf_buf_clear(&s);
    return str;
}

static void test_jsonw(void **state)
{
    (void)state;
    json_t *j = json_object();
    char all[128];
    for (int i = 0; i < 127; i++)
        all[i] = (char)(i + 1);
    json_object_set_new(j, "every ASCII byte", json_stringn(all, 127));
    json_object_set_new(j, "nul", json_stringn("a\0b", 3));
    json_object_set_new(j, "utf8", json_string("\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80"));
    json_object_set_new(j, "k\"\\\n\x02", json_integer(INT64_MIN));
    json_object_set_new(j, "max", json_integer(INT64_MAX));
    json_object_set_new(j, "zero", json_integer(0));
    json_object_set_new(j, "flags", json_pack("[b, b, n, {}, [], [{}]]", 1, 0));
    json_object_set_new(j, "", json_string(""));
    same_as_jansson(j);
    json_decref(j);
    j = json_array();
    same_as_jansson(j);
    json_decref(j);
    unsigned x = 7;
    for (int i = 0; i < 3000; i++) {
        j = random_doc(&x, 4, 1);
        same_as_jansson(j);
        json_decref(j);
    }
    /* what it leaves to jansson: a real, and a root that is neither object nor array */
    gpf_buf b = {0};
    j = json_pack("{s:[f]}", "r", 1.5);
    assert_int_equal(gpf_jsonw_tree(&b, j), -1);
    json_decref(j);
    j = json_string("x");
    assert_int_equal(gpf_jsonw_tree(&b, j), -1);
    assert_int_equal(gpf_jsonw_tree(&b, NULL), -1);
    json_decref(j);
    gpf_buf_clear(&b);
}

static void test_misc_json(void **state)
{
    (void)state;
    json_t *j = gpf_json_error(GPF_ENOTFOUND, "no pod pod-1");
    json_t *e = json_object_get(j, "error");
    gpf_user u;

    assert_string_equal(S(e, "code"), "not_found");
    assert_string_equal(S(e, "message"), "no pod pod-1");
    json_decref(j);
    j = gpf_json_error(GPF_EINVAL, NULL);
    assert_string_equal(S(json_object_get(j, "error"), "message"), "invalid argument");
    json_decref(j);

    memset(&u, 0, sizeof u);
    gpf_strlcpy(u.name, "bob", sizeof u.name);
    u.role = GPF_ROLE_FINANCE;
    gpf_strlcpy(u.ssh_pubkey, KEY, sizeof u.ssh_pubkey);
    j = gpf_json_user(&u);
    assert_string_equal(S(j, "role"), "finance");
    assert_string_equal(S(j, "ssh_pubkey"), KEY);
    assert_true(json_is_null(json_object_get(j, "created_at")));
    json_decref(j);

    /* invalid UTF-8 in a record never drops the key */
    gpf_strlcpy(u.name, "b\xff\xfe", sizeof u.name);
    j = gpf_json_user(&u);
    assert_string_equal(S(j, "name"), "b??");
    json_decref(j);
}

/* ---- validators ---- */

static void test_name_valid(void **state)
{
    (void)state;
    char *s63 = repeat('a', 63), *s64 = repeat('a', 64);

    assert_true(gpf_name_valid("a"));
    assert_true(gpf_name_valid("h100-1g.10gb_x"));
    assert_true(gpf_name_valid("0abc"));
    assert_true(gpf_name_valid(s63));
    assert_false(gpf_name_valid(s64));
    assert_false(gpf_name_valid(""));
    assert_false(gpf_name_valid(NULL));
    assert_false(gpf_name_valid("-a"));
    assert_false(gpf_name_valid(".a"));
    assert_false(gpf_name_valid("A"));
    assert_false(gpf_name_valid("a b"));
    assert_false(gpf_name_valid("a/b"));
    gpf_free(s63);
    gpf_free(s64);
}

static void test_pubkey_valid(void **state)
{
    (void)state;
    char big[GPF_PUBKEY_MAX + 16];
    size_t n = 0;

    assert_true(gpf_ssh_pubkey_valid(KEY));
    assert_true(gpf_ssh_pubkey_valid(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIGUKT0oWUXJHrb4iTGyQZUNDNW7u2hh8PGpQf/oGR/p"));
    assert_true(gpf_ssh_pubkey_valid("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAA== me with spaces"));
    assert_true(gpf_ssh_pubkey_valid("ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY= x"));
    assert_true(gpf_ssh_pubkey_valid("sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t"));
    assert_false(gpf_ssh_pubkey_valid(NULL));
    assert_false(gpf_ssh_pubkey_valid(""));
    assert_false(gpf_ssh_pubkey_valid("ssh-ed25519"));
    assert_false(gpf_ssh_pubkey_valid("ssh-dss AAAAB3NzaC1kc3MAAACBAP8= x"));
    assert_false(gpf_ssh_pubkey_valid("ssh-ed25519 AAAA x"));                         /* too short */
    assert_false(gpf_ssh_pubkey_valid("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI!GU x")); /* bad char */
    assert_false(gpf_ssh_pubkey_valid("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5A x"));        /* not %4 */
    assert_false(gpf_ssh_pubkey_valid("ssh-ed25519 AAAAC3Nza=C1lZDI1NTE5AAA x"));     /* '=' inside */
    assert_false(gpf_ssh_pubkey_valid(KEY "\n"));
    assert_false(gpf_ssh_pubkey_valid("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIGUKT0o\nssh-rsa AAAA"));
    assert_false(gpf_ssh_pubkey_valid(" " KEY));
    assert_false(gpf_ssh_pubkey_valid("ssh-ed25519  AAAAC3NzaC1lZDI1NTE5AAAAIIGUKT0o"));
    assert_false(gpf_ssh_pubkey_valid("sk- AAAAC3NzaC1lZDI1NTE5AAAAIIGUKT0o"));
    n = (size_t)snprintf(big, sizeof big, "ssh-rsa ");
    memset(big + n, 'A', sizeof big - n - 1);
    big[sizeof big - 1] = '\0';
    big[GPF_PUBKEY_MAX - 1] = '\0'; /* 2047 chars: base64 part 2039, not a multiple of 4 */
    assert_false(gpf_ssh_pubkey_valid(big));
    big[GPF_PUBKEY_MAX - 4] = '\0'; /* base64 part 2036 = 4*509 */
    assert_true(gpf_ssh_pubkey_valid(big));
    big[GPF_PUBKEY_MAX - 4] = 'A';
    big[GPF_PUBKEY_MAX - 1] = 'A';
    big[GPF_PUBKEY_MAX] = '\0'; /* 2048 chars: over the limit */
    assert_false(gpf_ssh_pubkey_valid(big));
}

/* ---- SKUs ---- */

static void test_sku_create_ok(void **state)
{
    (void)state;
    json_t *j = J("{'name':'h100-1g','description':'One MIG slice','slice':{'kind':'mig',"
                  "'mig_profile':'1g.10gb+me'},'gpu_models':['H100-80GB','A100-80GB-SXM4'],"
                  "'cpus':4,'memory_mib':32768,'ttl_s':86400,'idle_timeout_s':3600,"
                  "'price_micro_per_hour':750000,'license_feature':'nvaie','env':'A=1;B_2=x y'}");
    gpf_sku k;
    gpf_error err = {0, ""};

    assert_int_equal(gpf_decode_sku_create(j, &k, &err), 0);
    assert_string_equal(k.name, "h100-1g");
    assert_string_equal(k.description, "One MIG slice");
    assert_int_equal(k.slice.kind, GPF_SLICE_MIG);
    assert_string_equal(k.slice.mig_profile, "1g.10gb+me");
    assert_int_equal(k.slice.gpu_count, 1);
    assert_int_equal(k.nmodels, 2);
    assert_string_equal(k.models[1], "A100-80GB-SXM4");
    assert_int_equal(k.cpus, 4);
    assert_int_equal(k.memory_mib, 32768);
    assert_int_equal(k.ttl_s, 86400);
    assert_int_equal(k.idle_timeout_s, 3600);
    assert_int_equal(k.price_micro_per_hour, 750000);
    assert_string_equal(k.license_feature, "nvaie");
    assert_string_equal(k.env, "A=1;B_2=x y");
    assert_int_equal(k.created_ms, 0);
    json_decref(j);

    /* minimal: whole defaults to one GPU, everything else empty */
    j = J("{'name':'w','slice':{'kind':'whole'}}");
    assert_int_equal(gpf_decode_sku_create(j, &k, &err), 0);
    assert_int_equal(k.slice.kind, GPF_SLICE_WHOLE);
    assert_int_equal(k.slice.gpu_count, 1);
    assert_int_equal(k.nmodels, 0);
    assert_string_equal(k.env, "");
    json_decref(j);

    expect(dec_sku, "{'name':'s','slice':{'kind':'share','share_milli':1000}}", 0, "");
    expect(dec_sku, "{'name':'s','slice':{'kind':'share','share_milli':1,'share_memory_mib':0}}", 0, "");
    expect(dec_sku, "{'name':'v','slice':{'kind':'vgpu','vgpu_type':'L40S-12C'}}", 0, "");
    expect(dec_sku, "{'name':'m','slice':{'kind':'mig','mig_profile':'7g.80gb'}}", 0, "");
    /* every suffix the catalog uses */
    expect(dec_sku, "{'name':'m','slice':{'kind':'mig','mig_profile':'1g.24gb-me'}}", 0, "");
    expect(dec_sku, "{'name':'m','slice':{'kind':'mig','mig_profile':'1g.24gb+gfx'}}", 0, "");
    expect(dec_sku, "{'name':'m','slice':{'kind':'mig','mig_profile':'2g.48gb+me.all'}}", 0, "");
    expect(dec_sku,
           "{'name':'w','slice':{'kind':'whole','gpu_count':8},'cpus':1024,"
           "'memory_mib':16777216,'ttl_s':31536000,'price_micro_per_hour':1000000000000}",
           0, "");
}

static void test_sku_create_errors(void **state)
{
    (void)state;
    const int E = GPF_EINVAL;

    expect(dec_sku, "[]", GPF_EMALFORMED, "object");
    expect(dec_sku, "'text'", GPF_EMALFORMED, "object");
    expect(dec_sku, "{'slice':{'kind':'whole'}}", E, "name is required");
    expect(dec_sku, "{'name':'Bad','slice':{'kind':'whole'}}", E, "name must match");
    expect(dec_sku, "{'name':5,'slice':{'kind':'whole'}}", E, "name must be a string");
    expect(dec_sku, "{'name':'a','nmae':'b','slice':{'kind':'whole'}}", E, "unknown field 'nmae'");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'created_at':null}", E,
           "unknown field 'created_at'");
    expect(dec_sku, "{'name':'a'}", E, "slice is required");
    expect(dec_sku, "{'name':'a','slice':'whole'}", E, "slice must be an object");
    expect(dec_sku, "{'name':'a','slice':{}}", E, "slice.kind is required");
    expect(dec_sku, "{'name':'a','slice':{'kind':'half'}}", E, "slice.kind must be one of");
    expect(dec_sku, "{'name':'a','slice':{'kind':3}}", E, "slice.kind must be a string");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole','count':1}}", E, "unknown field 'slice.count'");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole','mig_profile':'1g.10gb'}}", E,
           "slice.mig_profile does not apply to kind whole");
    expect(dec_sku, "{'name':'a','slice':{'kind':'mig','mig_profile':'1g.10gb','gpu_count':1}}", E,
           "slice.gpu_count does not apply to kind mig");
    expect(dec_sku, "{'name':'a','slice':{'kind':'share','share_milli':5,'vgpu_type':'x'}}", E,
           "slice.vgpu_type does not apply to kind share");
    expect(dec_sku, "{'name':'a','slice':{'kind':'vgpu','vgpu_type':'x','share_memory_mib':1}}", E,
           "slice.share_memory_mib does not apply to kind vgpu");
    expect(dec_sku, "{'name':'a','slice':{'kind':'mig'}}", E, "slice.mig_profile is required for kind mig");
    expect(dec_sku, "{'name':'a','slice':{'kind':'mig','mig_profile':''}}", E,
           "slice.mig_profile is required");
    expect(dec_sku, "{'name':'a','slice':{'kind':'mig','mig_profile':'1g10gb'}}", E,
           "slice.mig_profile must look like");
    expect(dec_sku, "{'name':'a','slice':{'kind':'mig','mig_profile':'1g.10gb+'}}", E,
           "slice.mig_profile must look like");
    expect(dec_sku, "{'name':'a','slice':{'kind':'mig','mig_profile':'g.10gb'}}", E,
           "slice.mig_profile must look like");
    expect(dec_sku, "{'name':'a','slice':{'kind':'mig','mig_profile':'1g.10GB'}}", E,
           "slice.mig_profile must look like");
    expect(dec_sku, "{'name':'a','slice':{'kind':'mig','mig_profile':'1g.10gb+me.'}}", E,
           "slice.mig_profile must look like");
    expect(dec_sku, "{'name':'a','slice':{'kind':'mig','mig_profile':'1g.10gbme'}}", E,
           "slice.mig_profile must look like");
    expect(dec_sku, "{'name':'a','slice':{'kind':'mig','mig_profile':'1g.10gb+me+me'}}", E,
           "slice.mig_profile must look like");
    expect(dec_sku, "{'name':'a','slice':{'kind':'mig','mig_profile':'1g.100000000000000000000000000000gb'}}",
           E, "slice.mig_profile is too long");
    expect(dec_sku, "{'name':'a','slice':{'kind':'share'}}", E, "slice.share_milli is required");
    expect(dec_sku, "{'name':'a','slice':{'kind':'share','share_milli':0}}", E,
           "slice.share_milli must be 1..1000");
    expect(dec_sku, "{'name':'a','slice':{'kind':'share','share_milli':1001}}", E,
           "slice.share_milli must be 1..1000");
    expect(dec_sku, "{'name':'a','slice':{'kind':'share','share_milli':'5'}}", E,
           "slice.share_milli must be an integer");
    expect(dec_sku, "{'name':'a','slice':{'kind':'share','share_milli':2.5}}", E,
           "slice.share_milli must be an integer");
    expect(dec_sku, "{'name':'a','slice':{'kind':'share','share_milli':5,'share_memory_mib':-1}}", E,
           "slice.share_memory_mib must be 0..");
    expect(dec_sku, "{'name':'a','slice':{'kind':'vgpu'}}", E, "slice.vgpu_type is required for kind vgpu");
    expect(dec_sku, "{'name':'a','slice':{'kind':'vgpu','vgpu_type':'L40S 12C'}}", E,
           "slice.vgpu_type must look like");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole','gpu_count':9}}", E, "slice.gpu_count must be 1..8");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole','gpu_count':0}}", E, "slice.gpu_count must be 1..8");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole','gpu_count':99999999999999999}}", E,
           "slice.gpu_count must be 1..8");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'cpus':-1}", E, "cpus must be 0..1024");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'cpus':1025}", E, "cpus must be 0..1024");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'cpus':'4'}", E, "cpus must be an integer");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'cpus':true}", E, "cpus must be an integer");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'cpus':null}", E, "cpus must be an integer");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'memory_mib':16777217}", E,
           "memory_mib must be 0..16777216");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'ttl_s':31536001}", E, "ttl_s must be 0..31536000");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'idle_timeout_s':-5}", E, "idle_timeout_s must be");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'price_micro_per_hour':1000000000001}", E,
           "price_micro_per_hour must be 0..1000000000000");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'gpu_models':'H100'}", E,
           "gpu_models must be an array");
    expect(dec_sku,
           "{'name':'a','slice':{'kind':'whole'},'gpu_models':['a','b','c','d','e','f','g','h','i']}", E,
           "gpu_models has more than 8 entries");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'gpu_models':[1]}", E,
           "gpu_models[0] must be a string");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'gpu_models':['A100','H100 80GB']}", E,
           "gpu_models[1] is not a valid model key");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'gpu_models':['-x']}", E,
           "gpu_models[0] is not a valid model key");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'gpu_models':['']}", E,
           "gpu_models[0] is not a valid model key");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'gpu_models':['A100','A100']}", E,
           "gpu_models[1] repeats 'A100'");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'description':'a\\nb'}", E,
           "description must not contain control characters");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'description':'a\\u007fb'}", E,
           "description must not contain control characters");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'env':'A=1;B'}", E, "env must be K=V");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'env':'A=1;'}", E, "env must be K=V");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'env':'1A=2'}", E, "env must be K=V");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'env':'=2'}", E, "env must be K=V");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'env':'A-B=2'}", E, "env must be K=V");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'env':'A=\\t'}", E,
           "env must not contain control characters");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'license_feature':'Bad Feature'}", E,
           "license_feature must match");
    expect(dec_sku, "{'name':'a','slice':{'kind':'whole'},'license_feature':''}", 0, "");
}

static void test_sku_too_long(void **state)
{
    (void)state;
    char *s255 = repeat('d', 255), *s256 = repeat('d', 256), *s63 = repeat('n', 63), *s64 = repeat('n', 64),
         *m64 = repeat('M', 64), *m63 = repeat('M', 63);
    char env[300];

    expect_with(dec_sku, "{'name':'a','slice':{'kind':'whole'},'description':'@'}", s255, 0, "");
    expect_with(dec_sku, "{'name':'a','slice':{'kind':'whole'},'description':'@'}", s256, GPF_EINVAL,
                "description is too long (at most 255 bytes)");
    expect_with(dec_sku, "{'name':'@','slice':{'kind':'whole'}}", s63, 0, "");
    expect_with(dec_sku, "{'name':'@','slice':{'kind':'whole'}}", s64, GPF_EINVAL, "name is too long");
    expect_with(dec_sku, "{'name':'a','slice':{'kind':'whole'},'gpu_models':['@']}", m63, 0, "");
    expect_with(dec_sku, "{'name':'a','slice':{'kind':'whole'},'gpu_models':['@']}", m64, GPF_EINVAL,
                "gpu_models[0] is too long");
    expect_with(dec_sku, "{'name':'a','slice':{'kind':'whole'},'license_feature':'@'}", s64, GPF_EINVAL,
                "license_feature is too long");
    snprintf(env, sizeof env, "K=%s", s256 + 3); /* 255 bytes */
    expect_with(dec_sku, "{'name':'a','slice':{'kind':'whole'},'env':'@'}", env, 0, "");
    snprintf(env, sizeof env, "K=%s", s256 + 2); /* 256 bytes */
    expect_with(dec_sku, "{'name':'a','slice':{'kind':'whole'},'env':'@'}", env, GPF_EINVAL,
                "env is too long");
    expect_with(dec_sku, "{'name':'a','slice':{'kind':'vgpu','vgpu_type':'@'}}", s63 + 32, 0, "");
    expect_with(dec_sku, "{'name':'a','slice':{'kind':'vgpu','vgpu_type':'@'}}", s63 + 31, GPF_EINVAL,
                "slice.vgpu_type is too long (at most 31 bytes)");
    gpf_free(s255);
    gpf_free(s256);
    gpf_free(s63);
    gpf_free(s64);
    gpf_free(m64);
    gpf_free(m63);
}

static gpf_sku share_sku(void)
{
    gpf_sku k;
    json_t *j = J("{'name':'sh','description':'quarter','slice':{'kind':'share','share_milli':250,"
                  "'share_memory_mib':10240},'gpu_models':['L40S'],'cpus':4,'memory_mib':16384,"
                  "'price_micro_per_hour':500000}");
    assert_int_equal(gpf_decode_sku_create(j, &k, NULL), 0);
    json_decref(j);
    k.created_ms = 1700000000000LL;
    k.updated_ms = 1700000001000LL;
    return k;
}

static void test_sku_patch(void **state)
{
    (void)state;
    gpf_sku k = share_sku(), before = k;
    gpf_error err = {0, ""};
    json_t *j = NULL;

    j = J("{'cpus':8,'description':'more cpus'}");
    assert_int_equal(gpf_decode_sku_patch(j, &k, &err), 0);
    assert_int_equal(k.cpus, 8);
    assert_string_equal(k.description, "more cpus");
    assert_string_equal(k.name, "sh");
    assert_int_equal(k.slice.share_milli, 250);
    assert_int_equal(k.memory_mib, 16384);
    assert_int_equal(k.created_ms, before.created_ms);
    json_decref(j);

    /* partial slice patch merges into the same kind */
    j = J("{'slice':{'share_milli':500}}");
    assert_int_equal(gpf_decode_sku_patch(j, &k, &err), 0);
    assert_int_equal(k.slice.kind, GPF_SLICE_SHARE);
    assert_int_equal(k.slice.share_milli, 500);
    assert_int_equal(k.slice.share_memory_mib, 10240);
    json_decref(j);

    /* a field of another kind is rejected */
    before = k;
    j = J("{'slice':{'gpu_count':2}}");
    assert_int_equal(gpf_decode_sku_patch(j, &k, &err), GPF_EINVAL);
    assert_contains(err.msg, "slice.gpu_count does not apply to kind share");
    assert_memory_equal(&k, &before, sizeof k);
    json_decref(j);

    /* changing kind starts a fresh slice, validated as a whole */
    j = J("{'slice':{'kind':'mig'}}");
    assert_int_equal(gpf_decode_sku_patch(j, &k, &err), GPF_EINVAL);
    assert_contains(err.msg, "slice.mig_profile is required for kind mig");
    assert_memory_equal(&k, &before, sizeof k);
    json_decref(j);

    j = J("{'slice':{'kind':'whole','gpu_count':2},'gpu_models':[]}");
    assert_int_equal(gpf_decode_sku_patch(j, &k, &err), 0);
    assert_int_equal(k.slice.kind, GPF_SLICE_WHOLE);
    assert_int_equal(k.slice.gpu_count, 2);
    assert_int_equal(k.slice.share_milli, 0);
    assert_int_equal(k.slice.share_memory_mib, 0);
    assert_int_equal(k.nmodels, 0);
    json_decref(j);

    /* a later error leaves earlier fields of the same patch unapplied */
    before = k;
    j = J("{'cpus':16,'ttl_s':-1}");
    assert_int_equal(gpf_decode_sku_patch(j, &k, &err), GPF_EINVAL);
    assert_contains(err.msg, "ttl_s must be 0..31536000");
    assert_memory_equal(&k, &before, sizeof k);
    json_decref(j);

    expect(dec_sku, "{}", GPF_EINVAL, "name is required");
    j = J("{'name':'sh'}");
    assert_int_equal(gpf_decode_sku_patch(j, &k, &err), GPF_EINVAL);
    assert_contains(err.msg, "name cannot be changed");
    json_decref(j);
    j = J("{'price':1}");
    assert_int_equal(gpf_decode_sku_patch(j, &k, &err), GPF_EINVAL);
    assert_contains(err.msg, "unknown field 'price'");
    json_decref(j);
    j = J("[1]");
    assert_int_equal(gpf_decode_sku_patch(j, &k, &err), GPF_EMALFORMED);
    json_decref(j);
    j = J("{}");
    assert_int_equal(gpf_decode_sku_patch(j, &k, &err), 0);
    assert_memory_equal(&k, &before, sizeof k);
    json_decref(j);
}

/* Encoding a SKU and posting it back (without the response-only times) gives it back. */
static void test_sku_roundtrip(void **state)
{
    (void)state;
    const char *bodies[] = {
        "{'name':'a','slice':{'kind':'whole','gpu_count':4},'gpu_models':['H100-80GB-SXM5'],"
        "'cpus':32,'memory_mib':262144,'ttl_s':7200,'idle_timeout_s':600,"
        "'price_micro_per_hour':9000000,'license_feature':'vws','env':'X=1;Y=2',"
        "'description':'four H100s'}",
        "{'name':'b','slice':{'kind':'mig','mig_profile':'3g.40gb'}}",
        "{'name':'c','slice':{'kind':'vgpu','vgpu_type':'L40S-12C'}}",
        "{'name':'d','slice':{'kind':'share','share_milli':125,'share_memory_mib':4096}}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        json_t *in = J(bodies[i]), *out = NULL, *again = NULL;
        gpf_sku k, k2;
        assert_int_equal(gpf_decode_sku_create(in, &k, NULL), 0);
        k.created_ms = 1700000000000LL;
        out = gpf_json_sku(&k);
        assert_string_equal(S(out, "created_at"), "2023-11-14T22:13:20.000Z");
        assert_true(json_is_null(json_object_get(out, "updated_at")));
        json_object_del(out, "created_at");
        json_object_del(out, "updated_at");
        assert_int_equal(gpf_decode_sku_create(out, &k2, NULL), 0);
        k2.created_ms = k.created_ms;
        assert_memory_equal(&k, &k2, sizeof k);
        again = gpf_json_sku(&k2);
        json_object_del(again, "created_at");
        json_object_del(again, "updated_at");
        assert_true(json_equal(out, again));
        json_decref(in);
        json_decref(out);
        json_decref(again);
    }
}

/* ---- launches and users ---- */

static void test_launch(void **state)
{
    (void)state;
    gpf_launch_req r;
    json_t *j = J("{'sku':'h100-1g','project':'vision','ssh_pubkey':'" KEY "'}");

    assert_int_equal(gpf_decode_launch(j, &r, NULL), 0);
    assert_string_equal(r.sku, "h100-1g");
    assert_string_equal(r.project, "vision");
    assert_string_equal(r.ssh_pubkey, KEY);
    json_decref(j);
    j = J("{'sku':'x'}");
    assert_int_equal(gpf_decode_launch(j, &r, NULL), 0);
    assert_string_equal(r.project, "");
    assert_string_equal(r.ssh_pubkey, "");
    json_decref(j);

    expect(dec_launch, "{}", GPF_EINVAL, "sku is required");
    expect(dec_launch, "null", GPF_EMALFORMED, "body must be a JSON object");
    expect(dec_launch, "{'sku':'x','gpus':1}", GPF_EINVAL, "unknown field 'gpus'");
    expect(dec_launch, "{'sku':'X Y'}", GPF_EINVAL, "sku must match");
    expect(dec_launch, "{'sku':'x','project':'P'}", GPF_EINVAL, "project must match");
    expect(dec_launch, "{'sku':'x','ssh_pubkey':'hello'}", GPF_EINVAL,
           "ssh_pubkey is not an OpenSSH public key");
    expect(dec_launch, "{'sku':'x','ssh_pubkey':'" KEY "\\n'}", GPF_EINVAL,
           "ssh_pubkey must not contain control characters");
    expect(dec_launch, "{'sku':'x','ssh_pubkey':42}", GPF_EINVAL, "ssh_pubkey must be a string");
}

static void test_users(void **state)
{
    (void)state;
    gpf_user u;
    gpf_error err = {0, ""};
    unsigned changed = 0;
    json_t *j = J("{'name':'bob','role':'operator','ssh_pubkey':'" KEY "'}");

    assert_int_equal(gpf_decode_user_create(j, &u, &err), 0);
    assert_string_equal(u.name, "bob");
    assert_int_equal(u.role, GPF_ROLE_OPERATOR);
    assert_string_equal(u.ssh_pubkey, KEY);
    json_decref(j);

    expect(dec_user, "{'name':'bob'}", GPF_EINVAL, "role is required");
    expect(dec_user, "{'name':'bob','role':'root'}", GPF_EINVAL,
           "role must be one of admin|operator|member|finance|viewer");
    expect(dec_user, "{'role':'viewer'}", GPF_EINVAL, "name is required");
    expect(dec_user, "{'name':'bob','role':'viewer','team':'x'}", GPF_EINVAL, "unknown field 'team'");
    expect(dec_user, "{'name':'bob','role':'viewer','ssh_pubkey':'ssh-rsa x'}", GPF_EINVAL, "ssh_pubkey");

    j = J("{'role':'viewer'}");
    assert_int_equal(gpf_decode_user_patch(j, &u, &changed, &err), 0);
    assert_int_equal(u.role, GPF_ROLE_VIEWER);
    assert_int_equal(changed, GPF_USER_ROLE);
    assert_string_equal(u.ssh_pubkey, KEY);
    json_decref(j);

    j = J("{'ssh_pubkey':''}");
    assert_int_equal(gpf_decode_user_patch(j, &u, &changed, &err), 0);
    assert_int_equal(changed, GPF_USER_KEY);
    assert_string_equal(u.ssh_pubkey, "");
    json_decref(j);

    j = J("{'disabled':true}");
    assert_int_equal(gpf_decode_user_patch(j, &u, &changed, &err), 0);
    assert_int_equal(changed, GPF_USER_DISABLED);
    assert_int_equal(u.disabled, 1);
    json_decref(j);

    j = J("{'disabled':'yes'}");
    assert_int_equal(gpf_decode_user_patch(j, &u, &changed, &err), GPF_EINVAL);
    assert_contains(err.msg, "disabled must be true or false");
    json_decref(j);

    j = J("{'name':'eve'}");
    assert_int_equal(gpf_decode_user_patch(j, &u, &changed, &err), GPF_EINVAL);
    assert_contains(err.msg, "unknown field 'name'");
    assert_string_equal(u.name, "bob");
    json_decref(j);

    j = J("{'role':'admin','ssh_pubkey':'bad'}");
    assert_int_equal(gpf_decode_user_patch(j, &u, &changed, &err), GPF_EINVAL);
    assert_int_equal(u.role, GPF_ROLE_VIEWER); /* nothing applied */
    json_decref(j);
}

static void test_token_create_body(void **state)
{
    char name[GPF_ID_MAX] = "x";
    int64_t life = -1;
    gpf_error err = {0};
    json_t *j = NULL;
    (void)state;

    assert_int_equal(gpf_decode_token_create(NULL, name, &life, &err), 0); /* no body: neither */
    assert_string_equal(name, "");
    assert_int_equal(life, 0);

    j = J("{'name':'laptop','expires_in_s':86400}");
    assert_int_equal(gpf_decode_token_create(j, name, &life, &err), 0);
    assert_string_equal(name, "laptop");
    assert_int_equal(life, 86400);
    json_decref(j);

    j = J("{'expires_in_s':-1}");
    assert_int_equal(gpf_decode_token_create(j, name, &life, &err), GPF_EINVAL);
    assert_contains(err.msg, "expires_in_s");
    json_decref(j);
    j = J("{'expires_in_s':999999999999}");
    assert_int_equal(gpf_decode_token_create(j, name, &life, &err), GPF_EINVAL);
    json_decref(j);
    j = J("{'name':'Bad Name'}");
    assert_int_equal(gpf_decode_token_create(j, name, &life, &err), GPF_EINVAL);
    json_decref(j);
    j = J("{'secret':'x'}");
    assert_int_equal(gpf_decode_token_create(j, name, &life, &err), GPF_EINVAL);
    assert_contains(err.msg, "unknown field 'secret'");
    json_decref(j);
    j = J("[1]");
    assert_int_equal(gpf_decode_token_create(j, name, &life, &err), GPF_EMALFORMED);
    json_decref(j);
}

/* A token's JSON never holds its hash. */
static void test_token_json(void **state)
{
    gpf_token t;
    (void)state;
    memset(&t, 0, sizeof t);
    snprintf(t.id, sizeof t.id, "tok-1");
    snprintf(t.user, sizeof t.user, "alice");
    snprintf(t.hash, sizeof t.hash, "%064d", 7);
    t.created_ms = 1000;
    t.expires_ms = 5000;
    json_t *j = gpf_json_token(&t, 5000);
    char *s = json_dumps(j, JSON_COMPACT);
    assert_null(strstr(s, "0000007"));
    assert_null(json_object_get(j, "hash"));
    assert_true(json_is_true(json_object_get(j, "expired")));
    assert_true(json_is_null(json_object_get(j, "last_used_at")));
    free(s);
    json_decref(j);
}

/* ---- agent protocol ---- */

static void test_agent_host_roundtrip(void **state)
{
    (void)state;
    gpf_host_rec *h = GPF_NEW(gpf_host_rec), *h2 = GPF_NEW(gpf_host_rec);
    gpf_error err = {0, ""};
    json_t *j = NULL;

    fill_host(h);
    j = gpf_json_agent_host(h);
    assert_int_equal(gpf_decode_agent_host(j, h2, &err), 0);
    assert_memory_equal(h, h2, sizeof *h);
    json_decref(j);

    /* a GPU-less host, defaults for the optional fields */
    j = J("{'host':{'id':'cpu-1','cpus':4,'memory_mib':8192}}");
    assert_int_equal(gpf_decode_agent_host(j, h2, &err), 0);
    assert_string_equal(h2->deploy_mode, "baremetal");
    assert_int_equal(h2->numa_nodes, 1);
    assert_int_equal(h2->ngpus, 0);
    json_decref(j);

    /* the full sixteen GPUs */
    h->ngpus = GPF_MAX_HOST_GPUS;
    for (int i = 0; i < GPF_MAX_HOST_GPUS; i++) {
        h->gpus[i] = h->gpus[i % 2];
        h->gpus[i].index = i;
        memset(h->gpus[i].uuid, 0, GPF_UUID_MAX);
        snprintf(h->gpus[i].uuid, GPF_UUID_MAX, "GPU-%d", i);
    }
    j = gpf_json_agent_host(h);
    assert_int_equal(gpf_decode_agent_host(j, h2, &err), 0);
    assert_memory_equal(h, h2, sizeof *h);
    /* one more is too many */
    json_array_append_new(
        json_object_get(json_object_get(j, "host"), "gpus"),
        json_deep_copy(json_array_get(json_object_get(json_object_get(j, "host"), "gpus"), 0)));
    assert_int_equal(gpf_decode_agent_host(j, h2, &err), GPF_EINVAL);
    assert_contains(err.msg, "host.gpus has more than 16 entries");
    json_decref(j);
    gpf_free(h);
    gpf_free(h2);
}

#define H0 "{'host':{'id':'h1','cpus':8,'memory_mib':1024"
#define G0 ",'gpus':[{'uuid':'GPU-1','index':0,'memory_mib':1000"

static void test_agent_host_errors(void **state)
{
    (void)state;
    const int E = GPF_EINVAL;
    char *u95 = repeat('u', 95), *u96 = repeat('u', 96), *a256 = repeat('a', 256);

    expect(dec_host, "[]", GPF_EMALFORMED, "object");
    expect(dec_host, "{}", E, "host is required");
    expect(dec_host, "{'host':[]}", E, "host must be an object");
    expect(dec_host, "{'hots':{}}", E, "unknown field 'hots'");
    expect(dec_host, H0 "}}", 0, "");
    expect(dec_host, "{'host':{'cpus':8,'memory_mib':1024}}", E, "host.id is required");
    expect(dec_host, "{'host':{'id':'Bad_ID','cpus':8,'memory_mib':1024}}", E, "host.id must match");
    expect(dec_host, H0 ",'deploy_mode':'vm'}}", E,
           "host.deploy_mode must be one of baremetal|passthrough|vgpu|cloud");
    expect(dec_host, H0 ",'deploy_mode':'cloud'}}", 0, "");
    expect(dec_host, "{'host':{'id':'h1','cpus':0,'memory_mib':1024}}", E, "host.cpus must be 1..");
    expect(dec_host, "{'host':{'id':'h1','memory_mib':1024}}", E, "host.cpus is required");
    expect(dec_host, "{'host':{'id':'h1','cpus':8}}", E, "host.memory_mib is required");
    expect(dec_host, "{'host':{'id':'h1','cpus':8,'memory_mib':0}}", E, "host.memory_mib must be 1..");
    expect(dec_host, H0 ",'numa_nodes':0}}", E, "host.numa_nodes must be 1..");
    expect(dec_host, H0 ",'state':'ready'}}", E, "unknown field 'host.state'");
    expect(dec_host, H0 ",'address':'a b'}}", E, "host.address must be a host name or IP address");
    expect(dec_host, H0 ",'address':'h; rm -rf /'}}", E, "host.address");
    expect(dec_host, H0 ",'address':'fe80::1%eth0'}}", 0, "");
    expect(dec_host, H0 ",'address':'gpu-01.example.com'}}", 0, "");
    expect(dec_host, H0 ",'backend':'NVML'}}", E, "host.backend must match");
    expect(dec_host, H0 ",'agent_version':'1.0 beta'}}", E, "host.agent_version");
    expect(dec_host, H0 ",'gpus':{}}}", E, "host.gpus must be an array");
    expect(dec_host, H0 ",'gpus':[1]}}", E, "host.gpus[0] must be an object");
    expect(dec_host, H0 G0 "}]}}", 0, "");
    expect(dec_host, H0 ",'gpus':[{'index':0,'memory_mib':1000}]}}", E, "host.gpus[0].uuid is required");
    expect(dec_host, H0 ",'gpus':[{'uuid':'','index':0,'memory_mib':1000}]}}", E,
           "host.gpus[0].uuid must be");
    expect(dec_host, H0 ",'gpus':[{'uuid':'GPU_1','index':0,'memory_mib':1000}]}}", E,
           "host.gpus[0].uuid must be");
    /* index defaults to the position; a clash with an explicit one is still caught */
    expect(dec_host, H0 ",'gpus':[{'uuid':'GPU-1','memory_mib':1},{'uuid':'GPU-2','memory_mib':1}]}}", 0, "");
    expect(dec_host, H0 ",'gpus':[{'uuid':'GPU-1','memory_mib':1,'index':1},{'uuid':'GPU-2','memory_mib':1}]}}",
           E, "host.gpus[1].index 1 is used twice");
    expect(dec_host, H0 ",'gpus':[{'uuid':'GPU-1','index':16,'memory_mib':1000}]}}", E,
           "host.gpus[0].index must be 0..15");
    expect(dec_host, H0 ",'gpus':[{'uuid':'GPU-1','index':0}]}}", E, "host.gpus[0].memory_mib is required");
    expect(dec_host, H0 ",'gpus':[{'uuid':'GPU-1','index':0,'memory_mib':0}]}}", E,
           "host.gpus[0].memory_mib must be 1..");
    expect(dec_host, H0 G0 ",'numa_node':-2}]}}", E, "host.gpus[0].numa_node must be -1..63");
    expect(dec_host, H0 G0 ",'numa_node':64}]}}", E, "host.gpus[0].numa_node must be -1..63");
    expect(dec_host, H0 G0 ",'mig_enabled':1}]}}", E, "host.gpus[0].mig_enabled must be true or false");
    expect(dec_host, H0 G0 ",'allocated_milli':0}]}}", E, "unknown field 'host.gpus[0].allocated_milli'");
    expect(dec_host, H0 G0 ",'model':'H100 80GB'}]}}", E, "host.gpus[0].model is not a valid model key");
    expect(dec_host, H0 G0 ",'pci_bus_id':'0000:17:00.0/x'}]}}", E, "host.gpus[0].pci_bus_id");
    expect(dec_host, H0 G0 ",'name':'NVIDIA\\u0001'}]}}", E, "host.gpus[0].name must not contain control");
    expect(dec_host, H0 G0 "},{'uuid':'GPU-2','index':0,'memory_mib':1}]}}", E,
           "host.gpus[1].index 0 is used twice");
    expect(dec_host, H0 G0 "},{'uuid':'GPU-1','index':1,'memory_mib':1}]}}", E,
           "host.gpus[1].uuid is used twice");
    expect_with(dec_host, H0 ",'gpus':[{'uuid':'@','index':0,'memory_mib':1}]}}", u95, 0, "");
    expect_with(dec_host, H0 ",'gpus':[{'uuid':'@','index':0,'memory_mib':1}]}}", u96, E,
                "host.gpus[0].uuid is too long");
    expect_with(dec_host, H0 ",'address':'@'}}", a256, E, "host.address is too long");
    gpf_free(u95);
    gpf_free(u96);
    gpf_free(a256);
}

static void test_heartbeat(void **state)
{
    (void)state;
    gpf_agent_pod_report r[3];
    gpf_hw_gpu *g = gpf_calloc(GPF_MAX_HOST_GPUS, sizeof *g);
    gpf_agent_report rep = {.pods = r, .gpus = g};
    gpf_error err = {0, ""};
    json_t *j = J("{'pods':[{'id':'pod-1','state':'running','idle_s':42},"
                  "{'id':'pod-2','state':'failed','at_ms':1700000000123,'message':'exited\\n(137)'}]}");

    assert_int_equal(gpf_decode_heartbeat(j, &rep, 3, &err), 0);
    assert_int_equal(rep.npods, 2);
    assert_false(rep.has_gpus); /* no "gpus": the report says nothing about them */
    assert_int_equal(r[0].idle_s, 42);
    assert_string_equal(r[1].id, "pod-2");
    assert_int_equal(r[1].state, GPF_POD_FAILED);
    assert_int_equal(r[1].at_ms, 1700000000123LL);
    assert_string_equal(r[1].message, "exited (137)"); /* control characters become spaces */
    assert_int_equal(r[1].idle_s, -1);
    assert_int_equal(gpf_decode_heartbeat(j, &rep, 1, &err), GPF_EINVAL);
    assert_contains(err.msg, "pods has more than 1 entries");
    json_decref(j);

    j = J("{}");
    assert_int_equal(gpf_decode_heartbeat(j, &rep, 0, &err), 0);
    assert_int_equal(rep.npods, 0);
    json_decref(j);

    /* GPUs: bare UUIDs (seen), or objects with MIG devices and processes */
    j = J("{'gpus':['GPU-a',{'uuid':'GPU-b','mig_enabled':true,"
          "'mig':[{'uuid':'MIG-1','gi_id':1,'ci_id':0,'profile_id':19,'start':0,'size':1}],"
          "'processes':[{'pid':77,'used_mib':512,'gi_id':1,'ci_id':0,'pod_id':'pod-1'},{'pid':78}]}]}");
    assert_int_equal(gpf_decode_heartbeat(j, &rep, 3, &err), 0);
    assert_true(rep.has_gpus);
    assert_int_equal(rep.ngpus, 2);
    assert_false(g[0].has_hw);
    assert_string_equal(g[0].uuid, "GPU-a");
    assert_true(g[1].has_hw);
    assert_true(g[1].mig_enabled);
    assert_int_equal(g[1].nmig, 1);
    assert_int_equal(g[1].mig[0].profile_id, 19);
    assert_int_equal(g[1].mig[0].size, 1);
    assert_int_equal(g[1].nprocs, 2);
    assert_string_equal(g[1].procs[0].pod_id, "pod-1");
    assert_int_equal(g[1].procs[1].pid, 78);
    assert_int_equal(g[1].procs[1].used_mib, -1);
    assert_string_equal(g[1].procs[1].pod_id, "");
    /* and it round-trips through the agent's encoder */
    json_t *back = gpf_json_heartbeat(&rep);
    gpf_agent_pod_report r2[3];
    gpf_hw_gpu *g2 = gpf_calloc(GPF_MAX_HOST_GPUS, sizeof *g2);
    gpf_agent_report rep2 = {.pods = r2, .gpus = g2};
    assert_int_equal(gpf_decode_heartbeat(back, &rep2, 3, &err), 0);
    assert_int_equal(rep2.ngpus, 2);
    assert_memory_equal(g, g2, sizeof *g * 2);
    json_decref(back);
    json_decref(j);
    gpf_free(g2);

    /* an empty "gpus" list is a report too: the agent sees no GPU */
    j = J("{'gpus':[]}");
    assert_int_equal(gpf_decode_heartbeat(j, &rep, 3, &err), 0);
    assert_true(rep.has_gpus);
    assert_int_equal(rep.ngpus, 0);
    json_decref(j);
    gpf_free(g);

    expect(dec_heartbeat, "{'pods':[{'id':'pod-1','state':'zombie'}]}", GPF_EINVAL,
           "pods[0].state must be one of running|failed");
    expect(dec_heartbeat, "{'pods':[{'id':'pod-1','state':'stopped'}]}", GPF_EINVAL,
           "pods[0].state must be running or failed");
    expect(dec_heartbeat, "{'pods':[{'id':'pod-1','state':'running','x':1}]}", GPF_EINVAL,
           "unknown field 'pods[0].x'");
    expect(dec_heartbeat, "{'pods':[{'state':'running'}]}", GPF_EINVAL, "pods[0].id is required");
    expect(dec_heartbeat, "{'pods':[{'id':'../etc','state':'running'}]}", GPF_EINVAL,
           "pods[0].id must match");
    expect(dec_heartbeat, "{'pods':{}}", GPF_EINVAL, "pods must be an array");
    expect(dec_heartbeat, "{'pods':[[]]}", GPF_EINVAL, "pods[0] must be an object");
    expect(dec_heartbeat, "{'pod':[]}", GPF_EINVAL, "unknown field 'pod'");
    expect(dec_heartbeat, "{'gpus':[7]}", GPF_EINVAL, "gpus[0] must be a GPU UUID string or an object");
    expect(dec_heartbeat, "{'gpus':['GPU a']}", GPF_EINVAL, "gpus[0] must be a GPU UUID");
    expect(dec_heartbeat, "{'gpus':['GPU-a','GPU-a']}", GPF_EINVAL, "gpus[1] repeats GPU GPU-a");
    expect(dec_heartbeat, "{'gpus':[{'uuid':'GPU-a','processes':[{'pid':0}]}]}", GPF_EINVAL,
           "gpus[0].processes[0].pid must be 1..");
    expect(dec_heartbeat, "{'gpus':[{'uuid':'GPU-a','mig':[{'size':99}]}]}", GPF_EINVAL, "gpus[0].mig[0].size must be -1..64");
    expect(dec_heartbeat, "{'gpus':[{'mig':[]}]}", GPF_EINVAL, "gpus[0].uuid is required");
    expect(dec_heartbeat, "7", GPF_EMALFORMED, "object");
}

static int dec_override(const json_t *b, gpf_error *err)
{
    char reason[16];
    return gpf_decode_override(b, reason, sizeof reason, err);
}

static void test_override(void **state)
{
    (void)state;
    char reason[GPF_TEXT_MAX];
    gpf_error err = {0, ""};
    json_t *j = J("{'reason':'x8 is fine'}");
    assert_int_equal(gpf_decode_override(j, reason, sizeof reason, &err), 0);
    assert_string_equal(reason, "x8 is fine");
    json_decref(j);
    expect(dec_override, "{}", GPF_EINVAL, "reason is required");
    expect(dec_override, "{'reason':''}", GPF_EINVAL, "reason must say why");
    expect(dec_override, "{'reason':'a','by':'me'}", GPF_EINVAL, "unknown field 'by'");
    expect(dec_override, "{'reason':'this is far too long'}", GPF_EINVAL, "reason is too long");
    expect(dec_override, "[]", GPF_EMALFORMED, "object");
}

static void test_agent_pod_status(void **state)
{
    (void)state;
    gpf_agent_pod_status st;
    json_t *j = J("{'state':'running','message':'bubblewrap unavailable: plain process',"
                  "'ssh_port':22022,'ssh_user':'dev','device_ids':'GPU-1,GPU-2','isolation':'soft'}");

    assert_int_equal(gpf_decode_agent_pod_status(j, &st, NULL), 0);
    assert_int_equal(st.state, GPF_POD_RUNNING);
    assert_string_equal(st.message, "bubblewrap unavailable: plain process");
    assert_int_equal(st.ssh_port, 22022);
    assert_string_equal(st.ssh_user, "dev");
    assert_string_equal(st.device_ids, "GPU-1,GPU-2");
    assert_int_equal(st.isolation, GPF_ISO_SOFT);
    assert_int_equal(st.has_isolation, 1);
    json_decref(j);

    j = J("{'state':'failed'}");
    assert_int_equal(gpf_decode_agent_pod_status(j, &st, NULL), 0);
    assert_int_equal(st.state, GPF_POD_FAILED);
    assert_int_equal(st.has_isolation, 0);
    json_decref(j);

    j = J("{'state':'failed','message':'sshd:\\nbad\\tconfig'}");
    assert_int_equal(gpf_decode_agent_pod_status(j, &st, NULL), 0);
    assert_string_equal(st.message, "sshd: bad config");
    json_decref(j);

    expect(dec_status, "{}", GPF_EINVAL, "state is required");
    expect(dec_status, "{'state':'failed','message':7}", GPF_EINVAL, "message must be a string");
    {
        char *m256 = repeat('m', 256);
        expect_with(dec_status, "{'state':'failed','message':'@'}", m256 + 1, 0, "");
        expect_with(dec_status, "{'state':'failed','message':'@'}", m256, GPF_EINVAL,
                    "message is too long (at most 255 bytes)");
        gpf_free(m256);
    }
    expect(dec_status, "{'state':'pending'}", GPF_EINVAL, "state must be one of running|failed|stopped");
    expect(dec_status, "{'state':'bogus'}", GPF_EINVAL, "state must be one of running|failed|stopped");
    expect(dec_status, "{'state':'running','ssh_port':70000}", GPF_EINVAL, "ssh_port must be 0..65535");
    expect(dec_status, "{'state':'running','ssh_user':'a b'}", GPF_EINVAL, "ssh_user must be a user name");
    expect(dec_status, "{'state':'running','isolation':'none'}", GPF_EINVAL,
           "isolation must be one of hardware|device|soft");
    expect(dec_status, "{'state':'running','pid':1}", GPF_EINVAL, "unknown field 'pid'");
    expect(dec_status, "[]", GPF_EMALFORMED, "object");
}

static void assert_pod_equal(const gpf_pod *a, const gpf_pod *b)
{
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->owner, b->owner);
    assert_string_equal(a->project, b->project);
    assert_string_equal(a->sku, b->sku);
    assert_memory_equal(&a->slice, &b->slice, sizeof a->slice);
    assert_int_equal(a->isolation, b->isolation);
    assert_int_equal(a->state, b->state);
    assert_string_equal(a->reason, b->reason);
    assert_int_equal(a->placed, b->placed);
    if (a->placed)
        assert_memory_equal(&a->placement, &b->placement, sizeof a->placement);
    assert_string_equal(a->device_ids, b->device_ids);
    assert_int_equal(a->ssh_port, b->ssh_port);
    if (a->ssh_port) {
        assert_string_equal(a->ssh_host, b->ssh_host);
        assert_string_equal(a->ssh_user, b->ssh_user);
    }
    assert_int_equal(a->price_micro_per_hour, b->price_micro_per_hour);
    assert_int_equal(a->created_ms, b->created_ms);
    assert_int_equal(a->started_ms, b->started_ms);
    assert_int_equal(a->stopped_ms, b->stopped_ms);
}

static void test_pod_roundtrip(void **state)
{
    (void)state;
    gpf_pod *p = GPF_NEW(gpf_pod), *q = GPF_NEW(gpf_pod);
    gpf_error err = {0, ""};
    char key[GPF_PUBKEY_MAX], env[GPF_TEXT_MAX], small[7];
    json_t *j = NULL;

    fill_pod(p);
    p->stopped_ms = 1700000999999LL;
    j = gpf_json_pod(p);
    assert_int_equal(gpf_decode_pod(j, q, &err), 0);
    assert_pod_equal(p, q);
    json_decref(j);

    /* other slice kinds, not placed, no ssh */
    p->slice.kind = GPF_SLICE_MIG;
    p->slice.share_milli = 0;
    p->slice.share_memory_mib = 0;
    gpf_strlcpy(p->slice.mig_profile, "2g.20gb", sizeof p->slice.mig_profile);
    p->placed = 0;
    memset(&p->placement, 0, sizeof p->placement);
    p->ssh_port = 0;
    p->state = GPF_POD_PENDING;
    j = gpf_json_pod(p);
    assert_int_equal(gpf_decode_pod(j, q, &err), 0);
    assert_pod_equal(p, q);
    json_decref(j);

    /* the agent's command shape carries the key and environment */
    fill_pod(p);
    j = gpf_json_agent_pod(p, KEY, "A=1;B=2");
    assert_string_equal(S(j, "ssh_pubkey"), KEY);
    assert_int_equal(gpf_decode_agent_pod(j, q, key, sizeof key, env, sizeof env, &err), 0);
    assert_pod_equal(p, q);
    assert_string_equal(key, KEY);
    assert_string_equal(q->ssh_pubkey, KEY);
    assert_string_equal(env, "A=1;B=2");
    /* a caller buffer too small is an error, never a truncation */
    assert_int_equal(gpf_decode_agent_pod(j, q, key, sizeof key, small, sizeof small, &err), GPF_EINVAL);
    assert_contains(err.msg, "env");
    json_decref(j);

    /* a MIG-backed vGPU: the type and its MIG instance travel to clients and to the agent */
    fill_pod(p);
    memset(&p->slice, 0, sizeof p->slice);
    p->slice.kind = GPF_SLICE_VGPU;
    p->slice.gpu_count = 1;
    gpf_strlcpy(p->slice.vgpu_type, "A100D-3-40C", sizeof p->slice.vgpu_type);
    p->isolation = GPF_ISO_HARDWARE;
    p->placement.ngpus = 1;
    memset(p->placement.gpu_uuids[1], 0, GPF_UUID_MAX);
    p->placement.gpu_index[1] = 0;
    p->placement.share_milli = 0;
    p->placement.share_memory_mib = 0;
    p->placement.mig_profile_id = 9;
    p->placement.mig_start = 4;
    p->placement.mig_size = 4;
    gpf_strlcpy(p->placement.vgpu_type, "A100D-3-40C", sizeof p->placement.vgpu_type);
    p->placement.gpu_milli = 428;
    j = gpf_json_pod(p);
    json_t *sl = json_object_get(j, "slice"), *pj = json_object_get(j, "placement");
    assert_string_equal(S(sl, "kind"), "vgpu");
    assert_string_equal(S(sl, "vgpu_type"), "A100D-3-40C");
    assert_string_equal(S(pj, "vgpu_type"), "A100D-3-40C");
    assert_int_equal(I(pj, "mig_profile_id"), 9);
    assert_int_equal(I(pj, "mig_start"), 4);
    assert_int_equal(I(pj, "mig_size"), 4);
    assert_int_equal(I(pj, "gpu_milli"), 428);
    assert_string_equal(S(j, "isolation"), "hardware");
    assert_int_equal(gpf_decode_pod(j, q, &err), 0);
    assert_pod_equal(p, q);
    json_decref(j);
    j = gpf_json_agent_pod(p, KEY, "");
    assert_int_equal(gpf_decode_agent_pod(j, q, key, sizeof key, env, sizeof env, &err), 0);
    assert_pod_equal(p, q);
    assert_int_equal(q->placement.mig_size, 4);
    assert_string_equal(q->placement.vgpu_type, "A100D-3-40C");
    json_decref(j);
    fill_pod(p);

    /* lenient about unknown fields, strict about values */
    j = gpf_json_pod(p);
    json_object_set_new(j, "future_field", json_string("x"));
    assert_int_equal(gpf_decode_pod(j, q, &err), 0);
    json_object_set_new(j, "created_at", json_string("2023-11-14T23:13:20.123+01:00"));
    assert_int_equal(gpf_decode_pod(j, q, &err), 0);
    assert_int_equal(q->created_ms, 1700000000123LL);
    json_object_set_new(j, "created_at", json_string("2023-11-14T22:13:20Z"));
    assert_int_equal(gpf_decode_pod(j, q, &err), 0);
    assert_int_equal(q->created_ms, 1700000000000LL);
    json_decref(j);

    expect(dec_pod, "{'id':'pod-1','state':'running','created_at':'2023-13-01T00:00:00Z'}", GPF_EINVAL,
           "created_at must be an RFC 3339 time");
    expect(dec_pod, "{'id':'pod-1','state':'running','created_at':'2023-02-29T00:00:00Z'}", GPF_EINVAL,
           "created_at must be an RFC 3339 time");
    expect(dec_pod, "{'id':'pod-1','state':'running','started_at':'yesterday'}", GPF_EINVAL,
           "started_at must be an RFC 3339 time");
    expect(dec_pod, "{'id':'pod-1','state':'running','started_at':null,'placement':null,'ssh':null}", 0, "");
    expect(dec_pod, "{'id':5,'state':'running'}", GPF_EINVAL, "id must be a string");
    expect(dec_pod, "{'id':'../x','state':'running'}", GPF_EINVAL, "id must match");
    expect(dec_pod, "{'id':'pod-1'}", GPF_EINVAL, "state is required");
    expect(dec_pod,
           "{'id':'pod-1','state':'running','placement':{'host_id':'h','gpu_uuids':['a'],"
           "'gpu_indexes':[]}}",
           GPF_EINVAL, "placement.gpu_indexes must have as many");
    expect(dec_pod,
           "{'id':'pod-1','state':'running','placement':{'host_id':'h','gpu_uuids':"
           "['a','b','c','d','e','f','g','h','i'],'gpu_indexes':[0,1,2,3,4,5,6,7,8]}}",
           GPF_EINVAL, "placement.gpu_uuids has more than 8");
    expect(dec_pod, "{'id':'pod-1','state':'running','ssh':{'port':'22'}}", GPF_EINVAL,
           "ssh.port must be an integer");
    expect(dec_pod, "{'id':'pod-1','state':'running','slice':{'kind':'share','share_milli':2000}}",
           GPF_EINVAL, "slice.share_milli must be 1..1000");
    expect(dec_pod, "\"pod\"", GPF_EMALFORMED, "pod must be a JSON object");
    gpf_free(p);
    gpf_free(q);
}

/* ---- fuzz-style robustness ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return x;
}

/* Byte-level damage to the JSON text: most results no longer parse. */
static size_t mutate_text(char *buf, size_t len, size_t cap)
{
    static const char *const tokens[] = {"\"",
                                         "{",
                                         "}",
                                         "[",
                                         "]",
                                         ",",
                                         ":",
                                         "0",
                                         "-1",
                                         "null",
                                         "true",
                                         "1e400",
                                         "99999999999999999999",
                                         "\"kind\"",
                                         "\"mig\"",
                                         "\"share\"",
                                         "\"\\u0000\"",
                                         "\"\\n\"",
                                         "1001",
                                         "\"gpu_models\"",
                                         "\"slice\"",
                                         "2.5",
                                         "\"\xff\""};
    int muts = 1 + (int)(rnd() % 4);

    for (int m = 0; m < muts; m++) {
        size_t pos = len ? (size_t)(rnd() % len) : 0, n = 0;
        const char *t = NULL;
        switch (rnd() % 5) {
        case 0: /* replace a byte */
            if (len)
                buf[pos] = (char)(1 + rnd() % 255);
            break;
        case 1: /* delete a span */
            n = len - pos < 8 ? len - pos : 1 + (size_t)(rnd() % 8);
            memmove(buf + pos, buf + pos + n, len - pos - n + 1);
            len -= n;
            break;
        case 2: /* insert a token */
            t = tokens[rnd() % (sizeof tokens / sizeof tokens[0])];
            n = strlen(t);
            if (len + n < cap) {
                memmove(buf + pos + n, buf + pos, len - pos + 1);
                memcpy(buf + pos, t, n);
                len += n;
            }
            break;
        case 3: /* duplicate a span */
            n = 1 + (size_t)(rnd() % 32);
            if (pos + n > len)
                n = len - pos;
            if (len + n < cap) {
                memmove(buf + pos + n, buf + pos, len - pos + 1);
                len += n;
            }
            break;
        default: /* truncate */
            len = pos;
            break;
        }
        buf[len] = '\0';
    }
    return len;
}

/* Structural damage: keys removed, added or given values of the wrong type or range. */
static void mutate_tree(json_t *root)
{
    static const char *const keys[] = {"name",
                                       "description",
                                       "slice",
                                       "gpu_models",
                                       "cpus",
                                       "memory_mib",
                                       "ttl_s",
                                       "idle_timeout_s",
                                       "price_micro_per_hour",
                                       "license_feature",
                                       "env",
                                       "kind",
                                       "gpu_count",
                                       "mig_profile",
                                       "vgpu_type",
                                       "share_milli",
                                       "share_memory_mib",
                                       "bogus",
                                       ""};
    static const char *const values[] = {
        "0",
        "1",
        "-1",
        "1000",
        "1001",
        "8",
        "9",
        "1024",
        "9223372036854775807",
        "-9223372036854775808",
        "2.5",
        "null",
        "true",
        "false",
        "[]",
        "{}",
        "\"\"",
        "\"x\"",
        "\"whole\"",
        "\"mig\"",
        "\"vgpu\"",
        "\"share\"",
        "\"1g.10gb\"",
        "\"1g.10gb+me\"",
        "\"L40S-12C\"",
        "\"A=1;B=2\"",
        "\"A=\"",
        "[\"H100\"]",
        "[\"H100\",\"H100\"]",
        "[1]",
        "{\"kind\":\"share\",\"share_milli\":500}",
        "{\"kind\":\"whole\",\"gpu_count\":2}",
        "\"\\u0001\"",
        "\"bad name\"",
        "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\""};
    int muts = 1 + (int)(rnd() % 3);

    for (int m = 0; m < muts; m++) {
        json_t *obj = root, *slice = json_object_get(root, "slice");
        const char *key = keys[rnd() % (sizeof keys / sizeof keys[0])];
        if (json_is_object(slice) && rnd() % 2)
            obj = slice;
        if (rnd() % 4 == 0) {
            json_object_del(obj, key);
        } else {
            const char *v = values[rnd() % (sizeof values / sizeof values[0])];
            json_object_set_new(obj, key, json_loads(v, JSON_DECODE_ANY, NULL));
        }
    }
}

static void test_fuzz_sku(void **state)
{
    (void)state;
    const char *seed = "{\"name\":\"h100-1g\",\"description\":\"One MIG slice\",\"slice\":{\"kind\":"
                       "\"mig\",\"mig_profile\":\"1g.10gb\"},\"gpu_models\":[\"H100-80GB\"],\"cpus\":4,"
                       "\"memory_mib\":32768,\"ttl_s\":86400,\"idle_timeout_s\":3600,"
                       "\"price_micro_per_hour\":750000,\"license_feature\":\"\",\"env\":\"A=1\"}";
    size_t seedlen = strlen(seed);
    gpf_sku base = share_sku();
    int ok = 0, parsed = 0;

    for (int iter = 0; iter < 10000; iter++) {
        char buf[1024];
        size_t len = seedlen;
        json_t *j = NULL;
        gpf_sku k, p = base;
        gpf_error err = {0, ""};
        int rc = 0;

        memcpy(buf, seed, seedlen + 1);
        if (iter % 2 == 0) {
            len = mutate_text(buf, len, sizeof buf - 1);
            j = json_loadb(buf, len, JSON_DECODE_ANY, NULL);
        } else {
            j = json_loads(seed, 0, NULL);
            mutate_tree(j);
        }
        if (!j)
            continue;
        parsed++;
        rc = gpf_decode_sku_create(j, &k, &err);
        if (rc == 0) {
            json_t *out = gpf_json_sku(&k);
            gpf_sku k2;
            ok++;
            assert_true(gpf_name_valid(k.name));
            assert_true(k.nmodels >= 0 && k.nmodels <= GPF_MAX_SKU_MODELS);
            assert_true(memchr(k.description, '\0', sizeof k.description) != NULL);
            json_object_del(out, "created_at");
            json_object_del(out, "updated_at");
            assert_int_equal(gpf_decode_sku_create(out, &k2, NULL), 0);
            assert_memory_equal(&k, &k2, sizeof k);
            json_decref(out);
        } else {
            assert_true(rc == GPF_EINVAL || rc == GPF_EMALFORMED);
            assert_int_equal(err.code, rc);
            assert_true(err.msg[0] != '\0');
        }
        if (json_is_object(j))
            json_object_del(j, "name");
        rc = gpf_decode_sku_patch(j, &p, &err);
        if (rc != 0)
            assert_memory_equal(&p, &base, sizeof p);
        /* the other decoders see the same garbage */
        dec_host(j, NULL);
        dec_pod(j, NULL);
        dec_launch(j, NULL);
        json_decref(j);
    }
    print_message("fuzz: %d parsed, %d decoded\n", parsed, ok);
    /* the mutations must exercise both outcomes */
    assert_true(parsed > 5000);
    assert_true(ok > 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_usage_cost),
        cmocka_unit_test(test_slice_json),
        cmocka_unit_test(test_pod_json),
        cmocka_unit_test(test_host_json),
        cmocka_unit_test(test_misc_json),
        cmocka_unit_test(test_jsonw),
        cmocka_unit_test(test_golden_docs),
        cmocka_unit_test(test_name_valid),
        cmocka_unit_test(test_pubkey_valid),
        cmocka_unit_test(test_sku_create_ok),
        cmocka_unit_test(test_sku_create_errors),
        cmocka_unit_test(test_sku_too_long),
        cmocka_unit_test(test_sku_patch),
        cmocka_unit_test(test_sku_roundtrip),
        cmocka_unit_test(test_launch),
        cmocka_unit_test(test_users),
        cmocka_unit_test(test_token_create_body),
        cmocka_unit_test(test_token_json),
        cmocka_unit_test(test_agent_host_roundtrip),
        cmocka_unit_test(test_agent_host_errors),
        cmocka_unit_test(test_heartbeat),
        cmocka_unit_test(test_override),
        cmocka_unit_test(test_agent_pod_status),
        cmocka_unit_test(test_pod_roundtrip),
        cmocka_unit_test(test_fuzz_sku),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
