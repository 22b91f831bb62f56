/* What issue 14 adds around a pod's sandbox on the control plane: SKUs name an image and
 * the isolation they need; hosts say the isolation their runtime gives, and placement
 * refuses those that give less (saying which and why); a pod fixes its image at launch and
 * the start command carries it; agents report the pod's SSH host key (shown with the
 * fingerprint ssh-keygen prints) and its isolation layers. Codec, engine and store. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "engine/engine.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/fileio.h"

#include "helpers/engine_fixture.h"

#define assert_contains(s, sub)                                                                \
    do {                                                                                       \
        if (!strstr((s), (sub)))                                                               \
            fail_msg("'%s' does not contain '%s'", (s), (sub));                                \
    } while (0)

/* JSON from text with ' for " (fails the test when it does not parse). */
static json_t *J(const char *text)
{
    char *t = gpf_strdup(text);
    for (char *p = t; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_error_t je;
    json_t *j = json_loads(t, 0, &je);
    if (!j)
        fail_msg("bad test JSON: %s", je.text);
    gpf_free(t);
    return j;
}

static const char *const DIGEST_A = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char *const DIGEST_B = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/* An ed25519 host key line that ssh-keygen made, and what `ssh-keygen -lf` printed for it. */
static const char *const HOST_KEY =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICjfWZ3RJ6YtHerOPV1g1fvB5jmD93MJSqBDcPVubXAs root@pod";
static const char *const HOST_KEY_FP = "SHA256:vubjgdpGu5DX33whwJQmNH0qGlFeD/tas4uYn0qKBZg";

/* ---- fingerprints -------------------------------------------------------------------- */

/* gpf_ssh_fingerprint agrees with `ssh-keygen -lf` for keys of each type ssh-keygen makes. */
static void test_fingerprint_matches_ssh_keygen(void **state)
{
    (void)state;
    static const char *const types[][2] = {{"ed25519", ""}, {"rsa", "-b 2048"}, {"ecdsa", "-b 256"}};
    char dir[] = "/tmp/gpf-fp-XXXXXX";
    assert_non_null(mkdtemp(dir));
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        gpf_buf cmd = {0};
        char *pub = NULL, *printed = NULL, mine[64];
        gpf_buf_printf(&cmd, "ssh-keygen -q -t %s %s -N '' -C 'pod key' -f %s/k%zu && ssh-keygen -lf %s/k%zu.pub > %s/fp%zu",
                       types[i][0], types[i][1], dir, i, dir, i, dir, i);
        if (system(gpf_buf_cstr(&cmd)) != 0) {
            gpf_buf_clear(&cmd);
            skip(); /* no ssh-keygen */
        }
        gpf_buf_reset(&cmd);
        gpf_buf_printf(&cmd, "%s/k%zu.pub", dir, i);
        assert_int_equal(gpf_read_file(gpf_buf_cstr(&cmd), 16384, &pub, NULL), 0);
        gpf_buf_reset(&cmd);
        gpf_buf_printf(&cmd, "%s/fp%zu", dir, i);
        assert_int_equal(gpf_read_file(gpf_buf_cstr(&cmd), 16384, &printed, NULL), 0);
        /* "256 SHA256:… pod key (ED25519)" */
        char *fp = strchr(printed, ' ');
        assert_non_null(fp);
        fp++;
        fp[strcspn(fp, " ")] = '\0';
        assert_int_equal(gpf_ssh_fingerprint(pub, mine, sizeof mine), 0);
        assert_string_equal(mine, fp);
        gpf_free(pub);
        gpf_free(printed);
        gpf_buf_clear(&cmd);
    }
    gpf_buf cmd = {0};
    gpf_buf_printf(&cmd, "rm -rf %s", dir);
    assert_int_equal(system(gpf_buf_cstr(&cmd)), 0);
    gpf_buf_clear(&cmd);

    char out[64];
    assert_int_equal(gpf_ssh_fingerprint(HOST_KEY, out, sizeof out), 0);
    assert_string_equal(out, HOST_KEY_FP);
    /* a well-formed line whose blob says another type, not base64, no key at all */
    assert_int_equal(gpf_ssh_fingerprint("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAICjfWZ3RJ6YtHerOPV1g1fvB5jmD93MJSqBDcPVubXAs",
                                         out, sizeof out),
                     GPF_EINVAL);
    assert_int_equal(gpf_ssh_fingerprint("ssh-ed25519 AAAA!!!!AAAAAAAAAAAAAAAA", out, sizeof out), GPF_EINVAL);
    assert_int_equal(gpf_ssh_fingerprint("", out, sizeof out), GPF_EINVAL);
    assert_int_equal(gpf_ssh_fingerprint(NULL, NULL, 0), GPF_EINVAL);
}

/* ---- codec ------------------------------------------------------------------------------ */

static void test_status_report_fields(void **state)
{
    (void)state;
    gpf_agent_pod_status st;
    gpf_error err = {0};
    gpf_buf b = {0};
    gpf_buf_printf(&b, "{'state':'running','ssh_port':22001,'ssh_host_key':'%s',"
                       "'isolation_layers':['userns','netns','seccomp','no_new_privs','proc_masked']}", HOST_KEY);
    json_t *j = J(gpf_buf_cstr(&b));
    assert_int_equal(gpf_decode_agent_pod_status(j, &st, &err), 0);
    assert_string_equal(st.ssh_host_key, HOST_KEY);
    assert_true(st.has_isolation_layers);
    assert_int_equal(st.isolation_layers, (1u << GPF_LAYER_USERNS) | (1u << GPF_LAYER_NETNS) |
                                              (1u << GPF_LAYER_SECCOMP) | (1u << GPF_LAYER_NO_NEW_PRIVS) |
                                              (1u << GPF_LAYER_PROC_MASKED));
    json_decref(j);

    /* absent: nothing reported */
    j = J("{'state':'running'}");
    assert_int_equal(gpf_decode_agent_pod_status(j, &st, &err), 0);
    assert_string_equal(st.ssh_host_key, "");
    assert_false(st.has_isolation_layers);
    json_decref(j);

    static const struct {
        const char *body, *msg;
    } bad[] = {
        {"{'state':'running','isolation_layers':['userns','selinux']}", "isolation_layers[1] must be one of"},
        {"{'state':'running','isolation_layers':['netns','netns']}", "isolation_layers[1] repeats netns"},
        {"{'state':'running','isolation_layers':'userns'}", "isolation_layers must be an array"},
        {"{'state':'running','isolation_layers':[1]}", "isolation_layers[0] must be one of"},
        {"{'state':'running','isolation_layers':['userns','netns','pidns','ipcns','utsns','mountns','cgroupns',"
         "'seccomp','no_new_privs','caps_dropped','devices','cgroups','sys_ro','proc_masked','userns','netns',"
         "'pidns']}",
         "at most 16"},
        {"{'state':'running','ssh_host_key':'ssh-ed25519 AAAA'}", "ssh_host_key is not an OpenSSH public key"},
        {"{'state':'running','ssh_host_key':'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICjfWZ3RJ6YtHerOPV1g1fvB5jmD93MJSqBDcPVubXAs\\nx'}",
         "ssh_host_key"},
        {"{'state':'running','ssh_host_key':7}", "ssh_host_key must be a string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = J(bad[i].body);
        assert_int_equal(gpf_decode_agent_pod_status(j, &st, &err), GPF_EINVAL);
        assert_contains(err.msg, bad[i].msg);
        json_decref(j);
    }
    gpf_buf_clear(&b);
}

static void test_host_isolation_max(void **state)
{
    (void)state;
    gpf_host_rec *h = GPF_NEW(gpf_host_rec);
    gpf_error err = {0};
    static const struct {
        const char *body;
        gpf_isolation want;
        int given;
    } ok[] = {
        {"{'host':{'id':'a','cpus':1,'memory_mib':1,'runtime':'process'}}", GPF_ISO_SOFT, 0},
        {"{'host':{'id':'a','cpus':1,'memory_mib':1,'runtime':'fake'}}", GPF_ISO_HARDWARE, 0},
        {"{'host':{'id':'a','cpus':1,'memory_mib':1,'runtime':'oci'}}", GPF_ISO_HARDWARE, 0},
        {"{'host':{'id':'a','cpus':1,'memory_mib':1}}", GPF_ISO_SOFT, 0},
        {"{'host':{'id':'a','cpus':1,'memory_mib':1,'runtime':'oci'},'isolation_max':'device'}", GPF_ISO_DEVICE, 1},
        {"{'host':{'id':'a','cpus':1,'memory_mib':1,'runtime':'process'},'isolation_max':'hardware'}", GPF_ISO_HARDWARE, 1},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        json_t *j = J(ok[i].body);
        assert_int_equal(gpf_decode_agent_host(j, h, &err), 0);
        assert_int_equal(h->isolation_max, ok[i].want);
        assert_int_equal(h->isolation_max_given, ok[i].given);
        json_decref(j);
        /* the agent's encoder sends it only when the agent stated it; the API shows it */
        j = gpf_json_agent_host(h);
        assert_int_equal(json_object_get(j, "isolation_max") != NULL, ok[i].given);
        assert_null(json_object_get(json_object_get(j, "host"), "isolation_max"));
        json_decref(j);
        j = gpf_json_host(h, NULL);
        assert_string_equal(json_string_value(json_object_get(j, "isolation_max")), gpf_isolation_name(ok[i].want));
        json_decref(j);
    }
    json_t *j = J("{'host':{'id':'a','cpus':1,'memory_mib':1},'isolation_max':'total'}");
    assert_int_equal(gpf_decode_agent_host(j, h, &err), GPF_EINVAL);
    assert_string_equal(err.msg, "isolation_max must be one of hardware|device|soft");
    json_decref(j);
    j = J("{'host':{'id':'a','cpus':1,'memory_mib':1,'isolation_max':'soft'}}");
    assert_int_equal(gpf_decode_agent_host(j, h, &err), GPF_EINVAL);
    assert_contains(err.msg, "unknown field 'host.isolation_max'");
    json_decref(j);
    gpf_free(h);
}

static void test_sku_fields_codec(void **state)
{
    (void)state;
    gpf_sku *k = GPF_NEW(gpf_sku);
    gpf_error err = {0};
    json_t *j = J("{'name':'s','slice':{'kind':'whole'}}");
    assert_int_equal(gpf_decode_sku_create(j, k, &err), 0);
    assert_int_equal(k->min_isolation, GPF_ISO_DEVICE); /* the API's default */
    assert_string_equal(k->image, "");
    json_decref(j);
    j = gpf_json_sku(k);
    assert_string_equal(json_string_value(json_object_get(j, "image")), "");
    assert_string_equal(json_string_value(json_object_get(j, "min_isolation")), "device");
    json_decref(j);

    j = J("{'name':'s','slice':{'kind':'whole'},'image':'cuda-12','min_isolation':'hardware'}");
    assert_int_equal(gpf_decode_sku_create(j, k, &err), 0);
    assert_string_equal(k->image, "cuda-12");
    assert_int_equal(k->min_isolation, GPF_ISO_HARDWARE);
    json_decref(j);
    j = J("{'min_isolation':'soft','image':''}");
    assert_int_equal(gpf_decode_sku_patch(j, k, &err), 0);
    assert_int_equal(k->min_isolation, GPF_ISO_SOFT);
    assert_string_equal(k->image, "");
    json_decref(j);

    j = J("{'name':'s','slice':{'kind':'whole'},'image':'Not/A Name'}");
    assert_int_equal(gpf_decode_sku_create(j, k, &err), GPF_EINVAL);
    assert_contains(err.msg, "image must match");
    json_decref(j);
    j = J("{'name':'s','slice':{'kind':'whole'},'min_isolation':'strong'}");
    assert_int_equal(gpf_decode_sku_create(j, k, &err), GPF_EINVAL);
    assert_contains(err.msg, "min_isolation must be one of hardware|device|soft");
    json_decref(j);
    gpf_free(k);
}

static void test_layer_names(void **state)
{
    (void)state;
    char text[256];
    unsigned set = 0;
    gpf_isolation_layers_format(0, text, sizeof text);
    assert_string_equal(text, "");
    unsigned all = (1u << GPF_LAYER_COUNT) - 1;
    gpf_isolation_layers_format(all, text, sizeof text);
    assert_string_equal(text, "userns,netns,pidns,ipcns,utsns,mountns,cgroupns,seccomp,no_new_privs,caps_dropped,"
                              "devices,cgroups,sys_ro,proc_masked");
    assert_int_equal(gpf_isolation_layers_parse(text, &set), 0);
    assert_int_equal(set, all);
    assert_int_equal(gpf_isolation_layers_parse("", &set), 0);
    assert_int_equal(set, 0);
    assert_int_equal(gpf_isolation_layers_parse("userns,userns", &set), -1);
    assert_int_equal(gpf_isolation_layers_parse("userns,", &set), -1);
    assert_int_equal(gpf_isolation_layers_parse("apparmor", &set), -1);
}

/* ---- engine: SKUs, placement, launch, status ------------------------------------------ */

static void make_sku(ef_fixture *f, const char *name, gpf_slice_kind kind, gpf_isolation min, const char *image,
                     int expect, gpf_error *err)
{
    gpf_sku k;
    memset(&k, 0, sizeof k);
    snprintf(k.name, sizeof k.name, "%s", name);
    k.slice.kind = kind;
    k.slice.gpu_count = 1;
    k.slice.share_milli = kind == GPF_SLICE_SHARE ? 250 : 0;
    snprintf(k.slice.mig_profile, sizeof k.slice.mig_profile, "%s", kind == GPF_SLICE_MIG ? "1g.10gb" : "");
    k.cpus = 1;
    k.memory_mib = 1024;
    k.min_isolation = min;
    snprintf(k.image, sizeof k.image, "%s", image);
    assert_int_equal(gpf_engine_sku_create(f->e, &f->admin, &k, NULL, err), expect);
}

/* The fixture's host registers again saying its runtime gives at most iso. */
static void host_gives(ef_fixture *f, gpf_isolation iso)
{
    gpf_host_rec h = ef_host_h100();
    h.isolation_max = iso;
    ef_register(f, &h, &f->agent);
}

static void test_sku_validation(void **state)
{
    ef_fixture *f = *state;
    gpf_error err = {0};
    make_sku(f, "share-hw", GPF_SLICE_SHARE, GPF_ISO_HARDWARE, "", GPF_EINVAL, &err);
    assert_string_equal(err.msg, "min_isolation: a share slice gets at most device isolation, not hardware");
    make_sku(f, "share-dev", GPF_SLICE_SHARE, GPF_ISO_DEVICE, "", 0, &err);
    make_sku(f, "bad-iso", GPF_SLICE_WHOLE, (gpf_isolation)7, "", GPF_EINVAL, &err);
    make_sku(f, "cuda", GPF_SLICE_WHOLE, GPF_ISO_SOFT, "cuda", GPF_EINVAL, &err);
    assert_string_equal(err.msg, "image: no image named 'cuda'; no image is imported yet (gpufleet image import)");

    /* with images in the store (written there directly: this test copies nothing) */
    gpf_image im;
    memset(&im, 0, sizeof im);
    snprintf(im.name, sizeof im.name, "base");
    snprintf(im.digest, sizeof im.digest, "%s", DIGEST_A);
    assert_int_equal(gpf_store_image_put(f->store, &im, &err), 0);
    snprintf(im.name, sizeof im.name, "default");
    assert_int_equal(gpf_store_image_put(f->store, &im, &err), 0);
    ef_close(f);
    ef_open(f);
    make_sku(f, "cuda", GPF_SLICE_WHOLE, GPF_ISO_SOFT, "cuda", GPF_EINVAL, &err);
    assert_string_equal(err.msg, "image: no image named 'cuda'; the images are: base, default");
    make_sku(f, "cuda", GPF_SLICE_WHOLE, GPF_ISO_SOFT, "base", 0, &err);
    /* an update is checked the same way */
    gpf_sku k;
    assert_int_equal(gpf_engine_sku_get(f->e, "cuda", &k, &err), 0);
    snprintf(k.image, sizeof k.image, "gone");
    assert_int_equal(gpf_engine_sku_update(f->e, &f->admin, &k, NULL, &err), GPF_EINVAL);
    assert_int_equal(gpf_engine_sku_get(f->e, "cuda", &k, &err), 0);
    assert_string_equal(k.image, "base");
    assert_int_equal(k.min_isolation, GPF_ISO_SOFT);
}

static void test_placement_refuses_weak_isolation(void **state)
{
    ef_fixture *f = *state;
    gpf_error err = {0};
    gpf_pod p;
    gpf_launch_req req;
    memset(&req, 0, sizeof req);
    host_gives(f, GPF_ISO_SOFT);
    make_sku(f, "l-share", GPF_SLICE_SHARE, GPF_ISO_DEVICE, "", 0, &err);
    make_sku(f, "l-soft", GPF_SLICE_SHARE, GPF_ISO_SOFT, "", 0, &err);

    /* a whole GPU needing hardware (scored policy) and a MIG slice (geometry ranking) */
    snprintf(req.sku, sizeof req.sku, "whole");
    assert_int_equal(gpf_engine_pod_launch(f->e, &f->alice, &req, &p, &err), GPF_ENOCAPACITY);
    assert_string_equal(err.msg, "no capacity for 1 whole GPU of H100-80GB-SXM5: of 1 host, 1 with too weak an "
                                 "isolation (host h1: runtime gives soft isolation, SKU needs hardware)");
    snprintf(req.sku, sizeof req.sku, "mig1g");
    assert_int_equal(gpf_engine_pod_launch(f->e, &f->alice, &req, &p, &err), GPF_ENOCAPACITY);
    assert_contains(err.msg, "host h1: runtime gives soft isolation, SKU needs hardware");
    snprintf(req.sku, sizeof req.sku, "l-share");
    assert_int_equal(gpf_engine_pod_launch(f->e, &f->alice, &req, &p, &err), GPF_ENOCAPACITY);
    assert_contains(err.msg, "host h1: runtime gives soft isolation, SKU needs device");
    /* a SKU that accepts soft isolation lands there, and the pod says what to expect */
    snprintf(req.sku, sizeof req.sku, "l-soft");
    assert_int_equal(gpf_engine_pod_launch(f->e, &f->alice, &req, &p, &err), 0);
    assert_int_equal(p.isolation, GPF_ISO_SOFT);

    /* the same host with a runtime that gives device isolation: shares fit, whole GPUs not */
    host_gives(f, GPF_ISO_DEVICE);
    snprintf(req.sku, sizeof req.sku, "l-share");
    assert_int_equal(gpf_engine_pod_launch(f->e, &f->alice, &req, &p, &err), 0);
    assert_int_equal(p.isolation, GPF_ISO_DEVICE);
    snprintf(req.sku, sizeof req.sku, "whole");
    assert_int_equal(gpf_engine_pod_launch(f->e, &f->alice, &req, &p, &err), GPF_ENOCAPACITY);
    assert_contains(err.msg, "host h1: runtime gives device isolation, SKU needs hardware");

    /* hardware: a MIG slice fits (GPU 0 holds the shares) and expects hardware isolation */
    host_gives(f, GPF_ISO_HARDWARE);
    snprintf(req.sku, sizeof req.sku, "mig1g");
    assert_int_equal(gpf_engine_pod_launch(f->e, &f->alice, &req, &p, &err), 0);
    assert_int_equal(p.isolation, GPF_ISO_HARDWARE);
    /* the host's capability is kept across a restart */
    host_gives(f, GPF_ISO_SOFT);
    ef_close(f);
    ef_open(f);
    gpf_host_rec h;
    assert_int_equal(gpf_engine_host_get(f->e, "h1", &h, NULL, &err), 0);
    assert_int_equal(h.isolation_max, GPF_ISO_SOFT);
    assert_int_equal(gpf_engine_pod_launch(f->e, &f->alice, &req, &p, &err), GPF_ENOCAPACITY);
    assert_contains(err.msg, "runtime gives soft isolation");
}

/* The start_pod command the agent gets for pod, and the image it reads from it. */
static void command_image(ef_fixture *f, const char *pod, char *name, char *digest)
{
    gpf_agent_cmd *cmds = NULL;
    size_t n = 0;
    int64_t seq = 0;
    gpf_error err = {0};
    assert_int_equal(gpf_engine_agent_commands(f->e, &f->agent, 0, 0, &cmds, &n, &seq, &err), 0);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(cmds[i].pod.id, pod) != 0)
            continue;
        json_t *j = gpf_json_agent_pod(&cmds[i].pod, cmds[i].ssh_pubkey, cmds[i].env);
        assert_int_equal(gpf_decode_agent_pod_image(j, name, GPF_ID_MAX, digest, GPF_DIGEST_MAX, &err), 0);
        json_decref(j);
        gpf_free(cmds);
        return;
    }
    fail_msg("no command for %s", pod);
}

static void test_launch_fixes_image(void **state)
{
    ef_fixture *f = *state;
    gpf_error err = {0};
    gpf_pod p, q;
    char name[GPF_ID_MAX], digest[GPF_DIGEST_MAX];

    /* no default image yet: "default" without a digest (the agent decides) */
    ef_launch(f, &f->alice, "mig1g", &p, 0);
    assert_string_equal(p.image, "default");
    assert_string_equal(p.image_digest, "");
    command_image(f, p.id, name, digest);
    assert_string_equal(name, "default");
    assert_string_equal(digest, "");

    /* images appear (in the store, then a restart), and SKUs name them */
    gpf_image im;
    memset(&im, 0, sizeof im);
    snprintf(im.name, sizeof im.name, "default");
    snprintf(im.digest, sizeof im.digest, "%s", DIGEST_A);
    assert_int_equal(gpf_store_image_put(f->store, &im, &err), 0);
    snprintf(im.name, sizeof im.name, "cuda");
    snprintf(im.digest, sizeof im.digest, "%s", DIGEST_B);
    assert_int_equal(gpf_store_image_put(f->store, &im, &err), 0);
    ef_close(f);
    ef_open(f);
    gpf_sku k;
    assert_int_equal(gpf_engine_sku_get(f->e, "whole", &k, &err), 0);
    snprintf(k.image, sizeof k.image, "cuda");
    assert_int_equal(gpf_engine_sku_update(f->e, &f->admin, &k, NULL, &err), 0);
    ef_launch(f, &f->alice, "whole", &q, 0);
    assert_string_equal(q.image, "cuda");
    assert_string_equal(q.image_digest, DIGEST_B);
    command_image(f, q.id, name, digest);
    assert_string_equal(name, "cuda");
    assert_string_equal(digest, DIGEST_B);
    ef_launch(f, &f->alice, "mig1g", &q, 0);
    assert_string_equal(q.image_digest, DIGEST_A);

    /* the image is fixed in the pod: a later import does not change it, a restart keeps it */
    snprintf(im.digest, sizeof im.digest, "%s", DIGEST_A);
    assert_int_equal(gpf_store_image_put(f->store, &im, &err), 0);
    ef_close(f);
    ef_open(f);
    assert_string_equal(ef_pod(f, q.id).image_digest, DIGEST_A);
    p = ef_pod(f, p.id);
    assert_string_equal(p.image, "default");
    assert_string_equal(p.image_digest, "");
    json_t *j = gpf_json_pod(&p);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "image"), "name")), "default");
    json_decref(j);

    /* a SKU whose image went away (only the store could do that) is refused at launch */
    snprintf(k.image, sizeof k.image, "gone");
    assert_int_equal(gpf_store_sku_put(f->store, &k, &err), 0);
    ef_close(f);
    ef_open(f);
    gpf_launch_req req;
    memset(&req, 0, sizeof req);
    snprintf(req.sku, sizeof req.sku, "whole");
    assert_int_equal(gpf_engine_pod_launch(f->e, &f->alice, &req, &q, &err), GPF_EINVAL);
    assert_string_equal(err.msg, "no image named gone: import one with gpufleet image import");

    /* an older control plane's pod has no image: the agent gets "" and "" */
    j = J("{'id':'pod-1','state':'starting'}");
    assert_int_equal(gpf_decode_agent_pod_image(j, name, sizeof name, digest, sizeof digest, &err), 0);
    assert_string_equal(name, "");
    assert_string_equal(digest, "");
    json_decref(j);
    j = J("{'id':'pod-1','state':'starting','image':{'name':'x','digest':'sha256:XYZ'}}");
    assert_int_equal(gpf_decode_agent_pod_image(j, name, sizeof name, digest, sizeof digest, &err), GPF_EINVAL);
    json_decref(j);
}

static void test_status_keeps_host_key_and_layers(void **state)
{
    ef_fixture *f = *state;
    gpf_error err = {0};
    gpf_pod p;
    ef_launch(f, &f->alice, "mig1g", &p, 0);
    gpf_agent_pod_status st;
    memset(&st, 0, sizeof st);
    st.state = GPF_POD_RUNNING;
    st.ssh_port = 22001;
    snprintf(st.ssh_user, sizeof st.ssh_user, "dev");
    snprintf(st.ssh_host_key, sizeof st.ssh_host_key, "%s", HOST_KEY);
    st.isolation_layers = (1u << GPF_LAYER_USERNS) | (1u << GPF_LAYER_SECCOMP);
    st.has_isolation_layers = 1;
    st.isolation = GPF_ISO_HARDWARE;
    st.has_isolation = 1;
    assert_int_equal(gpf_engine_agent_pod_status(f->e, &f->agent, p.id, &st, &err), 0);
    ef_close(f);
    ef_open(f);
    p = ef_pod(f, p.id);
    assert_string_equal(p.ssh_host_key, HOST_KEY);
    assert_int_equal(p.isolation_layers, st.isolation_layers);

    char fp[64];
    assert_int_equal(gpf_ssh_fingerprint(HOST_KEY, fp, sizeof fp), 0);
    json_t *j = gpf_json_pod(&p), *ssh = json_object_get(j, "ssh");
    assert_string_equal(json_string_value(json_object_get(ssh, "host_key")), HOST_KEY);
    assert_string_equal(json_string_value(json_object_get(ssh, "host_key_fingerprint")), fp);
    json_t *layers = json_object_get(j, "isolation_layers");
    assert_int_equal(json_array_size(layers), 2);
    assert_string_equal(json_string_value(json_array_get(layers, 0)), "userns");
    assert_string_equal(json_string_value(json_array_get(layers, 1)), "seccomp");
    /* clients read it back */
    gpf_pod back;
    assert_int_equal(gpf_decode_pod(j, &back, &err), 0);
    assert_string_equal(back.ssh_host_key, HOST_KEY);
    assert_int_equal(back.isolation_layers, st.isolation_layers);
    json_decref(j);

    /* without a key (fake runtime, older agent): null, and no layers */
    memset(back.ssh_host_key, 0, sizeof back.ssh_host_key);
    back.isolation_layers = 0;
    j = gpf_json_pod(&back);
    ssh = json_object_get(j, "ssh");
    assert_true(json_is_null(json_object_get(ssh, "host_key")));
    assert_true(json_is_null(json_object_get(ssh, "host_key_fingerprint")));
    assert_int_equal(json_array_size(json_object_get(j, "isolation_layers")), 0);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprint_matches_ssh_keygen),
        cmocka_unit_test(test_status_report_fields),
        cmocka_unit_test(test_host_isolation_max),
        cmocka_unit_test(test_sku_fields_codec),
        cmocka_unit_test(test_layer_names),
        cmocka_unit_test_setup_teardown(test_sku_validation, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_placement_refuses_weak_isolation, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_launch_fixes_image, ef_setup, ef_teardown),
        cmocka_unit_test_setup_teardown(test_status_keeps_host_key_and_layers, ef_setup, ef_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
