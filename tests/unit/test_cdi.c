/* CDI specs (agent/cdi.h): a hand-written spec modelled on what `nvidia-ctk cdi generate`
 * writes for one GPU (index 0) and its MIG device 0:1, in YAML and in JSON, giving identical
 * edits; merging two devices (spec-level edits once, nodes folded, the later env winning);
 * lookups by qualified and bare names; every refusal with its message; the limits, per
 * containerEdits and merged; YAML specifics (unquoted numbers, octal, aliases, alias bombs,
 * two documents); directories (missing, malformed files skipped with warnings, a FIFO, a
 * file too large, more than 64 files, a later directory winning); the fake spec generator
 * round-tripping through the parser. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/cdi.h"
#include "util/alloc.h"
#include "util/buf.h"

#define DRV "550.54.15"
#define LIB "/usr/lib/x86_64-linux-gnu/"
#define MIG_UUID "MIG-1b2c3d4e-5f60-5a7b-8c9d-0e1f2a3b4c5d"
#define GPU_UUID "GPU-4cf8db2d-06c0-7d70-1a51-e59b25b2c16c"

/* What nvidia-ctk (v1.16) generates for a host with one A100 (index 0) in MIG mode with one
 * GPU instance (0:1), shortened to the entries the tests look at. */
static const char *const nvidia_yaml =
    "---\n"
    "cdiVersion: 0.5.0\n"
    "containerEdits:\n"
    "  deviceNodes:\n"
    "  - path: /dev/nvidiactl\n"
    "  - path: /dev/nvidia-uvm\n"
    "  - path: /dev/nvidia-uvm-tools\n"
    "  env:\n"
    "  - NVIDIA_VISIBLE_DEVICES=void\n"
    "  hooks:\n"
    "  - args:\n"
    "    - nvidia-cdi-hook\n"
    "    - create-symlinks\n"
    "    - --link\n"
    "    - libcuda.so.1::" LIB "libcuda.so\n"
    "    env:\n"
    "    - NVIDIA_CTK_DEBUG=false\n"
    "    hookName: createContainer\n"
    "    path: /usr/bin/nvidia-cdi-hook\n"
    "  - args:\n"
    "    - nvidia-cdi-hook\n"
    "    - update-ldcache\n"
    "    - --folder\n"
    "    - " LIB "\n"
    "    hookName: createContainer\n"
    "    path: /usr/bin/nvidia-cdi-hook\n"
    "  mounts:\n"
    "  - containerPath: " LIB "libcuda.so." DRV "\n"
    "    hostPath: " LIB "libcuda.so." DRV "\n"
    "    options:\n"
    "    - ro\n"
    "    - nosuid\n"
    "    - nodev\n"
    "    - bind\n"
    "  - containerPath: " LIB "libnvidia-ml.so." DRV "\n"
    "    hostPath: " LIB "libnvidia-ml.so." DRV "\n"
    "    options: [ro, nosuid, nodev, bind]\n"
    "  - containerPath: /usr/bin/nvidia-smi\n"
    "    hostPath: /usr/bin/nvidia-smi\n"
    "    options:\n"
    "    - ro\n"
    "    - nosuid\n"
    "    - nodev\n"
    "    - bind\n"
    "devices:\n"
    "- containerEdits:\n"
    "    deviceNodes:\n"
    "    - path: /dev/nvidia0\n"
    "  name: \"0\"\n"
    "- containerEdits:\n"
    "    deviceNodes:\n"
    "    - path: /dev/nvidia0\n"
    "    - path: /dev/nvidia-caps/nvidia-cap21\n"
    "  name: \"0:1\"\n"
    "- containerEdits:\n"
    "    deviceNodes:\n"
    "    - path: /dev/nvidia0\n"
    "  name: " GPU_UUID "\n"
    "- containerEdits:\n"
    "    deviceNodes:\n"
    "    - path: /dev/nvidia0\n"
    "    - path: /dev/nvidia-caps/nvidia-cap21\n"
    "  name: " MIG_UUID "\n"
    "kind: nvidia.com/gpu\n";

#define OPTS "[\"ro\",\"nosuid\",\"nodev\",\"bind\"]"
static const char *const nvidia_json =
    "{\"cdiVersion\":\"0.5.0\",\"kind\":\"nvidia.com/gpu\",\n"
    " \"containerEdits\":{\n"
    "  \"deviceNodes\":[{\"path\":\"/dev/nvidiactl\"},{\"path\":\"/dev/nvidia-uvm\"},{\"path\":\"/dev/nvidia-uvm-tools\"}],\n"
    "  \"env\":[\"NVIDIA_VISIBLE_DEVICES=void\"],\n"
    "  \"hooks\":[{\"hookName\":\"createContainer\",\"path\":\"/usr/bin/nvidia-cdi-hook\",\n"
    "             \"args\":[\"nvidia-cdi-hook\",\"create-symlinks\",\"--link\",\"libcuda.so.1::" LIB "libcuda.so\"],\n"
    "             \"env\":[\"NVIDIA_CTK_DEBUG=false\"]},\n"
    "            {\"hookName\":\"createContainer\",\"path\":\"/usr/bin/nvidia-cdi-hook\",\n"
    "             \"args\":[\"nvidia-cdi-hook\",\"update-ldcache\",\"--folder\",\"" LIB "\"]}],\n"
    "  \"mounts\":[{\"hostPath\":\"" LIB "libcuda.so." DRV "\",\"containerPath\":\"" LIB "libcuda.so." DRV "\",\"options\":" OPTS "},\n"
    "             {\"hostPath\":\"" LIB "libnvidia-ml.so." DRV "\",\"containerPath\":\"" LIB "libnvidia-ml.so." DRV "\",\"options\":" OPTS "},\n"
    "             {\"hostPath\":\"/usr/bin/nvidia-smi\",\"containerPath\":\"/usr/bin/nvidia-smi\",\"options\":" OPTS "}]},\n"
    " \"devices\":[\n"
    "  {\"name\":\"0\",\"containerEdits\":{\"deviceNodes\":[{\"path\":\"/dev/nvidia0\"}]}},\n"
    "  {\"name\":\"0:1\",\"containerEdits\":{\"deviceNodes\":[{\"path\":\"/dev/nvidia0\"},{\"path\":\"/dev/nvidia-caps/nvidia-cap21\"}]}},\n"
    "  {\"name\":\"" GPU_UUID "\",\"containerEdits\":{\"deviceNodes\":[{\"path\":\"/dev/nvidia0\"}]}},\n"
    "  {\"name\":\"" MIG_UUID "\",\"containerEdits\":{\"deviceNodes\":[{\"path\":\"/dev/nvidia0\"},{\"path\":\"/dev/nvidia-caps/nvidia-cap21\"}]}}\n"
    " ]}\n";

static gpf_cdi_edits *new_edits(void) { return gpf_calloc(1, sizeof(gpf_cdi_edits)); }

static int add(gpf_cdi *c, const char *text, int yaml, gpf_error *err)
{
    return gpf_cdi_add_spec(c, text, strlen(text), yaml, yaml ? "t.yaml" : "t.json", err);
}

static int edits1(const gpf_cdi *c, const char *name, gpf_cdi_edits *e, gpf_error *err)
{
    const char *names[] = {name};
    return gpf_cdi_edits_for(c, NULL, names, 1, e, err);
}

/* A spec whose device "0" has the containerEdits ce (JSON text): add_spec's result. */
static int try_ce(const char *ce, gpf_error *err)
{
    gpf_buf b = {0};
    gpf_cdi *c = gpf_cdi_new();
    gpf_buf_printf(&b, "{\"cdiVersion\":\"0.6.0\",\"kind\":\"nvidia.com/gpu\",\"devices\":[{\"name\":\"0\","
                       "\"containerEdits\":%s}]}",
                   ce);
    int rc = gpf_cdi_add_spec(c, b.data, b.len, 0, "t.json", err);
    assert_int_equal(gpf_cdi_device_count(c), rc == 0 ? 1 : 0);
    gpf_cdi_free(c);
    gpf_buf_clear(&b);
    return rc;
}

static void expect_refused(const char *ce, int code, const char *msg)
{
    gpf_error err = {0};
    int rc = try_ce(ce, &err);
    if (rc != code || !strstr(err.msg, msg))
        fail_msg("containerEdits %s: got %d \"%s\", want %d \"%s\"", ce, rc, err.msg, code, msg);
}

static void expect_spec_refused(const char *text, int yaml, int code, const char *msg)
{
    gpf_error err = {0};
    gpf_cdi *c = gpf_cdi_new();
    int rc = add(c, text, yaml, &err);
    if (rc != code || !strstr(err.msg, msg))
        fail_msg("spec %.80s: got %d \"%s\", want %d \"%s\"", text, rc, err.msg, code, msg);
    assert_int_equal(gpf_cdi_device_count(c), 0);
    gpf_cdi_free(c);
}

/* ---- the nvidia-ctk spec ------------------------------------------------------------- */

static void test_nvidia_yaml(void **state)
{
    (void)state;
    gpf_error err = {0};
    gpf_cdi *c = gpf_cdi_new();
    gpf_cdi_edits *e = new_edits();
    char name[160];

    assert_int_equal(add(c, nvidia_yaml, 1, &err), 0);
    assert_int_equal(gpf_cdi_device_count(c), 4);
    assert_int_equal(gpf_cdi_device_name(c, 1, name, sizeof name), 0);
    assert_string_equal(name, "nvidia.com/gpu=0:1");
    assert_int_equal(gpf_cdi_device_name(c, 4, name, sizeof name), GPF_ENOTFOUND);
    assert_int_equal(gpf_cdi_device_name(c, 0, name, 8), GPF_EINVAL);

    assert_int_equal(edits1(c, "0", e, &err), 0);
    assert_int_equal(e->nnodes, 4);
    assert_string_equal(e->nodes[0].path, "/dev/nvidiactl");
    assert_string_equal(e->nodes[0].host_path, "/dev/nvidiactl");
    assert_int_equal(e->nodes[0].type, 0);
    assert_int_equal(e->nodes[0].has_numbers, 0);
    assert_string_equal(e->nodes[3].path, "/dev/nvidia0");
    assert_int_equal(e->nmounts, 3);
    assert_string_equal(e->mounts[0].host_path, LIB "libcuda.so." DRV);
    assert_string_equal(e->mounts[0].container_path, LIB "libcuda.so." DRV);
    assert_int_equal(e->mounts[0].readonly, 1);
    assert_string_equal(e->mounts[1].container_path, LIB "libnvidia-ml.so." DRV);
    assert_string_equal(e->mounts[2].container_path, "/usr/bin/nvidia-smi");
    assert_int_equal(e->nenv, 1);
    assert_string_equal(e->env[0], "NVIDIA_VISIBLE_DEVICES=void");
    assert_int_equal(e->nhooks, 2);
    assert_string_equal(e->hooks[0].hook_name, "createContainer");
    assert_string_equal(e->hooks[0].path, "/usr/bin/nvidia-cdi-hook");
    assert_int_equal(e->hooks[0].nargs, 4);
    assert_string_equal(e->hooks[0].args[1], "create-symlinks");
    assert_int_equal(e->hooks[0].nenv, 1);
    assert_string_equal(e->hooks[0].env[0], "NVIDIA_CTK_DEBUG=false");
    assert_int_equal(e->hooks[0].timeout, 0);
    assert_string_equal(e->hooks[1].args[1], "update-ldcache");
    assert_string_equal(e->hooks[1].args[3], LIB);

    /* the MIG device: its GPU's node and its capability */
    assert_int_equal(edits1(c, "0:1", e, &err), 0);
    assert_int_equal(e->nnodes, 5);
    assert_string_equal(e->nodes[3].path, "/dev/nvidia0");
    assert_string_equal(e->nodes[4].path, "/dev/nvidia-caps/nvidia-cap21");
    assert_int_equal(e->nhooks, 2);
    gpf_free(e);
    gpf_cdi_free(c);
}

static void test_json_equivalent(void **state)
{
    (void)state;
    gpf_error err = {0};
    gpf_cdi *cy = gpf_cdi_new(), *cj = gpf_cdi_new();
    gpf_cdi_edits *ey = new_edits(), *ej = new_edits();
    const char *names[] = {"0", "0:1", GPU_UUID, MIG_UUID};

    assert_int_equal(add(cy, nvidia_yaml, 1, &err), 0);
    assert_int_equal(add(cj, nvidia_json, 0, &err), 0);
    assert_int_equal(gpf_cdi_device_count(cj), gpf_cdi_device_count(cy));
    for (int i = 0; i < 4; i++) {
        assert_int_equal(edits1(cy, names[i], ey, &err), 0);
        assert_int_equal(edits1(cj, names[i], ej, &err), 0);
        assert_memory_equal(ey, ej, sizeof *ey);
    }
    assert_int_equal(gpf_cdi_edits_for(cy, NULL, names, 4, ey, &err), 0);
    assert_int_equal(gpf_cdi_edits_for(cj, NULL, names, 4, ej, &err), 0);
    assert_memory_equal(ey, ej, sizeof *ey);
    gpf_free(ey);
    gpf_free(ej);
    gpf_cdi_free(cy);
    gpf_cdi_free(cj);
}

/* ---- merging and lookups ------------------------------------------------------------- */

static const char *const two_gpus =
    "{\"cdiVersion\":\"0.5.0\",\"kind\":\"nvidia.com/gpu\",\n"
    " \"containerEdits\":{\"env\":[\"A=top\",\"B=top\"],\"deviceNodes\":[{\"path\":\"/dev/nvidiactl\"}],\n"
    "   \"hooks\":[{\"hookName\":\"createContainer\",\"path\":\"/usr/bin/nvidia-cdi-hook\",\"args\":[\"x\"]}],\n"
    "   \"mounts\":[{\"hostPath\":\"/lib/a.so.1\",\"containerPath\":\"/lib/a.so\",\"options\":[\"ro\"]}]},\n"
    " \"devices\":[\n"
    "  {\"name\":\"0\",\"containerEdits\":{\"env\":[\"B=gpu0\"],\n"
    "     \"deviceNodes\":[{\"path\":\"/dev/nvidia0\",\"hostPath\":\"/dev/nvidia0\",\"type\":\"c\",\"major\":195,\"minor\":0,"
    "\"fileMode\":438,\"permissions\":\"rw\",\"uid\":0,\"gid\":0}],\n"
    "     \"hooks\":[{\"hookName\":\"createContainer\",\"path\":\"/usr/bin/nvidia-cdi-hook\",\"args\":[\"x\"]}]}},\n"
    "  {\"name\":\"1\",\"containerEdits\":{\"env\":[\"B=gpu1\",\"C=gpu1\"],\"deviceNodes\":[{\"path\":\"/dev/nvidia1\",\"type\":\"u\"},"
    "{\"path\":\"/dev/nvidiactl\",\"hostPath\":\"/dev/other-ctl\"}],\n"
    "     \"mounts\":[{\"hostPath\":\"/lib/b.so.1\",\"containerPath\":\"/lib/a.so\"}],\n"
    "     \"hooks\":[{\"hookName\":\"poststop\",\"path\":\"/bin/true\",\"timeout\":5}]}}]}\n";

static void test_merge_two_devices(void **state)
{
    (void)state;
    gpf_error err = {0};
    gpf_cdi *c = gpf_cdi_new();
    gpf_cdi_edits *e = new_edits();
    const char *names[] = {"nvidia.com/gpu=0", "1", "0"};

    assert_int_equal(add(c, two_gpus, 0, &err), 0);
    assert_int_equal(gpf_cdi_edits_for(c, "nvidia.com/gpu", names, 3, e, &err), 0);
    /* nodes: nvidiactl (top, then replaced in place by gpu1's), nvidia0, nvidia1 */
    assert_int_equal(e->nnodes, 3);
    assert_string_equal(e->nodes[0].path, "/dev/nvidiactl");
    assert_string_equal(e->nodes[0].host_path, "/dev/other-ctl");
    assert_string_equal(e->nodes[1].path, "/dev/nvidia0");
    assert_int_equal(e->nodes[1].type, 'c');
    assert_int_equal(e->nodes[1].has_numbers, 1);
    assert_int_equal(e->nodes[1].major, 195);
    assert_int_equal(e->nodes[1].minor, 0);
    assert_int_equal(e->nodes[1].file_mode, 0666);
    assert_string_equal(e->nodes[2].path, "/dev/nvidia1");
    assert_int_equal(e->nodes[2].type, 'c');
    /* env: A from the spec once, B: the later (gpu1) wins in B's place, then C */
    assert_int_equal(e->nenv, 3);
    assert_string_equal(e->env[0], "A=top");
    assert_string_equal(e->env[1], "B=gpu1");
    assert_string_equal(e->env[2], "C=gpu1");
    /* mounts: same containerPath folded, gpu1's (not read-only) wins */
    assert_int_equal(e->nmounts, 1);
    assert_string_equal(e->mounts[0].host_path, "/lib/b.so.1");
    assert_int_equal(e->mounts[0].readonly, 0);
    /* hooks: the identical one kept once, the poststop added */
    assert_int_equal(e->nhooks, 2);
    assert_string_equal(e->hooks[1].hook_name, "poststop");
    assert_int_equal(e->hooks[1].timeout, 5);

    /* one device: the spec-level edits and its own */
    assert_int_equal(edits1(c, "0", e, &err), 0);
    assert_int_equal(e->nnodes, 2);
    assert_string_equal(e->env[1], "B=gpu0");
    assert_int_equal(e->nmounts, 1);
    assert_int_equal(e->mounts[0].readonly, 1);
    /* none: empty edits */
    assert_int_equal(gpf_cdi_edits_for(c, NULL, NULL, 0, e, &err), 0);
    assert_int_equal(e->nnodes + e->nmounts + e->nenv + e->nhooks, 0);
    gpf_free(e);
    gpf_cdi_free(c);
}

static void test_lookup(void **state)
{
    (void)state;
    gpf_error err = {0};
    gpf_cdi *c = gpf_cdi_new();
    gpf_cdi_edits *e = new_edits();
    const char *fpga =
        "{\"cdiVersion\":\"0.5.0\",\"kind\":\"example.com/fpga\",\"devices\":[{\"name\":\"0\",\"containerEdits\":"
        "{\"deviceNodes\":[{\"path\":\"/dev/fpga0\"}]}}]}";
    /* a later spec of the same kind and name wins */
    const char *override =
        "{\"cdiVersion\":\"0.5.0\",\"kind\":\"nvidia.com/gpu\",\"devices\":[{\"name\":\"" GPU_UUID "\","
        "\"containerEdits\":{\"deviceNodes\":[{\"path\":\"/dev/nvidia7\"}]}}]}";

    assert_int_equal(add(c, nvidia_yaml, 1, &err), 0);
    assert_int_equal(add(c, fpga, 0, &err), 0);
    assert_int_equal(edits1(c, "nvidia.com/gpu=" GPU_UUID, e, &err), 0);
    assert_string_equal(e->nodes[e->nnodes - 1].path, "/dev/nvidia0");
    assert_int_equal(edits1(c, GPU_UUID, e, &err), 0);
    assert_int_equal(e->nnodes, 4);
    assert_int_equal(edits1(c, "nvidia.com/gpu=" MIG_UUID, e, &err), 0);
    assert_int_equal(e->nnodes, 5);
    assert_int_equal(edits1(c, "example.com/fpga=0", e, &err), 0);
    assert_int_equal(e->nnodes, 1);
    assert_string_equal(e->nodes[0].path, "/dev/fpga0");
    const char *bare[] = {"0"};
    assert_int_equal(gpf_cdi_edits_for(c, "example.com/fpga", bare, 1, e, &err), 0);
    assert_string_equal(e->nodes[0].path, "/dev/fpga0");
    /* both kinds at once: each spec's top-level edits once */
    const char *mixed[] = {"example.com/fpga=0", "nvidia.com/gpu=0"};
    assert_int_equal(gpf_cdi_edits_for(c, NULL, mixed, 2, e, &err), 0);
    assert_int_equal(e->nnodes, 5);
    assert_string_equal(e->nodes[0].path, "/dev/nvidiactl");
    assert_string_equal(e->nodes[3].path, "/dev/fpga0");
    assert_string_equal(e->nodes[4].path, "/dev/nvidia0");

    /* not found: named */
    const char *missing[] = {"0", "GPU-nope", "1"};
    assert_int_equal(gpf_cdi_edits_for(c, NULL, missing, 3, e, &err), GPF_ENOTFOUND);
    assert_non_null(strstr(err.msg, "GPU-nope"));
    assert_int_equal(edits1(c, "amd.com/gpu=0", e, &err), GPF_ENOTFOUND);
    assert_non_null(strstr(err.msg, "amd.com/gpu=0"));
    assert_int_equal(edits1(c, "=0", e, &err), GPF_ENOTFOUND);
    assert_int_equal(edits1(c, "nvidia.com/gpu=", e, &err), GPF_ENOTFOUND);
    assert_int_equal(edits1(NULL, "0", e, &err), GPF_ENOTFOUND);
    assert_int_equal(gpf_cdi_edits_for(c, NULL, NULL, 1, e, &err), GPF_EINVAL);

    assert_int_equal(add(c, override, 0, &err), 0);
    assert_int_equal(edits1(c, GPU_UUID, e, &err), 0);
    assert_int_equal(e->nnodes, 1);
    assert_string_equal(e->nodes[0].path, "/dev/nvidia7");
    gpf_free(e);
    gpf_cdi_free(c);
    gpf_cdi_free(NULL);
}

/* ---- refusals ------------------------------------------------------------------------ */

#define NODE(x) "{\"deviceNodes\":[" x "]}"
#define MOUNT(host, ctr) "{\"mounts\":[{\"hostPath\":\"" host "\",\"containerPath\":\"" ctr "\"}]}"
#define HOOK(x) "{\"hooks\":[" x "]}"

static void test_refusals(void **state)
{
    (void)state;
    expect_refused(NODE("{\"path\":\"dev/nvidia0\"}"), GPF_EMALFORMED, "deviceNodes[0].path: not an absolute path");
    expect_refused(NODE("{\"path\":\"/proc/driver/nvidia/gpus\"}"), GPF_EMALFORMED, "deviceNodes[0].path: under /proc");
    expect_refused(NODE("{\"path\":\"/sys/bus/pci\"}"), GPF_EMALFORMED, "path: under /sys");
    expect_refused(NODE("{\"path\":\"/\"}"), GPF_EMALFORMED, "is \"/\"");
    expect_refused(NODE("{\"path\":\"/dev/../etc/shadow\"}"), GPF_EMALFORMED, "has a \"..\" component");
    expect_refused(NODE("{\"path\":\"/dev/nvidia0\\nX\"}"), GPF_EMALFORMED, "contains a newline");
    expect_refused(NODE("{\"path\":\"/dev/nvidia0\",\"hostPath\":\"nvidia0\"}"), GPF_EMALFORMED,
                   "hostPath: not an absolute path");
    expect_refused(NODE("{\"path\":\"/dev/nvidia0\",\"hostPath\":\"/dev/../../x\"}"), GPF_EMALFORMED, "\"..\"");
    expect_refused(NODE("{\"path\":\"/dev/x\",\"type\":\"p\"}"), GPF_EMALFORMED, "type: must be c, u or b");
    expect_refused(NODE("{\"path\":\"/dev/x\",\"major\":-1}"), GPF_EMALFORMED, "major: out of range 0..4095");
    expect_refused(NODE("{\"path\":\"/dev/x\",\"minor\":1048576}"), GPF_EMALFORMED, "minor: out of range");
    expect_refused(NODE("{\"path\":\"/dev/x\",\"major\":\"195\"}"), GPF_EMALFORMED, "major: not an integer");
    expect_refused(NODE("{\"path\":\"/dev/x\",\"fileMode\":4096}"), GPF_EMALFORMED, "fileMode: out of range 00..07777");
    expect_refused(NODE("{\"path\":\"/dev/x\",\"fileMode\":-1}"), GPF_EMALFORMED, "fileMode: out of range");
    expect_refused(NODE("{\"path\":\"/dev/x\",\"permissions\":\"rwx\"}"), GPF_EMALFORMED, "permissions");
    expect_refused(NODE("{\"path\":\"/dev/x\",\"uid\":-5}"), GPF_EMALFORMED, "uid: out of range");
    expect_refused(NODE("{\"hostPath\":\"/dev/x\"}"), GPF_EMALFORMED, "deviceNodes[0].path: missing");
    expect_refused(NODE("\"/dev/x\""), GPF_EMALFORMED, "deviceNodes[0]: not an object");
    expect_refused(MOUNT("/usr/lib/libcuda.so", "/"), GPF_EMALFORMED, "mounts[0].containerPath: is \"/\"");
    expect_refused(MOUNT("/usr/lib/libcuda.so", "/proc"), GPF_EMALFORMED, "containerPath: under /proc");
    expect_refused(MOUNT("/usr/lib/libcuda.so", "/./proc/self"), GPF_EMALFORMED, "containerPath: under /proc");
    expect_refused(MOUNT("/usr/lib/libcuda.so", "//sys/fs/cgroup"), GPF_EMALFORMED, "containerPath: under /sys");
    expect_refused(MOUNT("/usr/lib/libcuda.so", "usr/lib/libcuda.so"), GPF_EMALFORMED, "not an absolute path");
    expect_refused(MOUNT("/usr/lib/../../etc", "/etc"), GPF_EMALFORMED, "mounts[0].hostPath: has a \"..\"");
    expect_refused(MOUNT("libcuda.so", "/usr/lib/libcuda.so"), GPF_EMALFORMED, "hostPath: not an absolute path");
    expect_refused("{\"mounts\":[{\"containerPath\":\"/x\"}]}", GPF_EMALFORMED, "mounts[0].hostPath: missing");
    expect_refused("{\"mounts\":[{\"hostPath\":\"/x\",\"containerPath\":\"/x\",\"options\":\"ro\"}]}",
                   GPF_EMALFORMED, "options: not an array");
    expect_refused("{\"mounts\":[{\"hostPath\":\"/x\",\"containerPath\":\"/x\",\"options\":[1]}]}",
                   GPF_EMALFORMED, "options[0]: not a string");
    expect_refused(HOOK("{\"hookName\":\"preStart\",\"path\":\"/bin/true\"}"), GPF_EMALFORMED,
                   "hooks[0].hookName: not one of prestart");
    expect_refused(HOOK("{\"hookName\":\"prestart\",\"path\":\"true\"}"), GPF_EMALFORMED,
                   "hooks[0].path: not an absolute path");
    expect_refused(HOOK("{\"hookName\":\"prestart\"}"), GPF_EMALFORMED, "hooks[0].path: missing");
    expect_refused(HOOK("{\"hookName\":\"prestart\",\"path\":\"/bin/true\",\"env\":[\"=x\"]}"), GPF_EMALFORMED,
                   "hooks[0].env[0]: not K=V");
    expect_refused(HOOK("{\"hookName\":\"prestart\",\"path\":\"/bin/true\",\"timeout\":0}"), GPF_EMALFORMED,
                   "timeout: out of range 1..3600");
    expect_refused("{\"env\":[\"NVIDIA VISIBLE=1\"]}", GPF_EMALFORMED, "env[0]: not K=V with K a variable name");
    expect_refused("{\"env\":[\"1A=1\"]}", GPF_EMALFORMED, "env[0]: not K=V");
    expect_refused("{\"env\":[\"NOVALUE\"]}", GPF_EMALFORMED, "env[0]: not K=V");
    expect_refused("{\"env\":\"A=1\"}", GPF_EMALFORMED, "env: not an array");
    expect_refused("{\"env\":[\"A=1\"],\"additionalGIDs\":[-1]}", GPF_EMALFORMED, "additionalGIDs[0]: not a group id");
    expect_refused("{}", GPF_EMALFORMED, "devices[0] (0).containerEdits: missing or empty");
    expect_refused("null", GPF_EMALFORMED, "containerEdits: missing or empty");
    expect_refused("[]", GPF_EMALFORMED, "containerEdits: not an object");

    char longpath[700];
    memset(longpath, 'a', sizeof longpath);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = '\0';
    gpf_buf b = {0};
    gpf_buf_printf(&b, "{\"mounts\":[{\"hostPath\":\"%s\",\"containerPath\":\"/x\"}]}", longpath);
    expect_refused(b.data, GPF_EMALFORMED, "hostPath: longer than 511 bytes");
    gpf_buf_clear(&b);

    /* accepted: c/b types, a permission string, unknown keys ignored, 0 uid */
    gpf_error err = {0};
    assert_int_equal(try_ce("{\"deviceNodes\":[{\"path\":\"/dev/sda\",\"type\":\"b\",\"major\":8,\"permissions\":\"rwm\"}],"
                            "\"intelRdt\":{\"closID\":\"x\"},\"additionalGIDs\":[44]}",
                            &err),
                     0);

    /* the spec itself */
#define SPEC(v, k, devs) "{\"cdiVersion\":" v ",\"kind\":" k ",\"devices\":" devs "}"
#define DEV0 "[{\"name\":\"0\",\"containerEdits\":{\"env\":[\"A=1\"]}}]"
    expect_spec_refused(SPEC("\"0.5.0\"", "\"nvidia.com\"", DEV0), 0, GPF_EMALFORMED, "kind: not vendor/class");
    expect_spec_refused(SPEC("\"0.5.0\"", "\"nvidia.com/gpu/x\"", DEV0), 0, GPF_EMALFORMED, "kind: not vendor/class");
    expect_spec_refused(SPEC("\"0.5.0\"", "\"1nvidia.com/gpu\"", DEV0), 0, GPF_EMALFORMED, "kind");
    expect_spec_refused(SPEC("\"0.5.0\"", "\"nvidia.com./gpu\"", DEV0), 0, GPF_EMALFORMED, "kind");
    expect_spec_refused(SPEC("\"0.5.0\"", "\"nvidia.com/g.pu\"", DEV0), 0, GPF_EMALFORMED, "kind");
    expect_spec_refused(SPEC("\"0.5.0\"", "\"nvidia.com/\"", DEV0), 0, GPF_EMALFORMED, "kind");
    expect_spec_refused(SPEC("\"0.5\"", "\"nvidia.com/gpu\"", DEV0), 0, GPF_EMALFORMED, "cdiVersion: not major.minor.patch");
    expect_spec_refused("{\"kind\":\"nvidia.com/gpu\",\"devices\":" DEV0 "}", 0, GPF_EMALFORMED, "cdiVersion: missing");
    expect_spec_refused("{\"cdiVersion\":\"0.5.0\",\"kind\":\"nvidia.com/gpu\"}", 0, GPF_EMALFORMED, "devices: missing");
    expect_spec_refused(SPEC("\"0.5.0\"", "\"nvidia.com/gpu\"", "[{\"name\":\"-0\",\"containerEdits\":{\"env\":[\"A=1\"]}}]"),
                        0, GPF_EMALFORMED, "devices[0]: name: not a device name");
    expect_spec_refused(SPEC("\"0.5.0\"", "\"nvidia.com/gpu\"", "[{\"name\":\"0:\",\"containerEdits\":{\"env\":[\"A=1\"]}}]"),
                        0, GPF_EMALFORMED, "not a device name");
    expect_spec_refused(SPEC("\"0.5.0\"", "\"nvidia.com/gpu\"", "[{\"name\":\"a b\",\"containerEdits\":{\"env\":[\"A=1\"]}}]"),
                        0, GPF_EMALFORMED, "not a device name");
    expect_spec_refused(SPEC("\"0.5.0\"", "\"nvidia.com/gpu\"", "[{\"name\":0,\"containerEdits\":{\"env\":[\"A=1\"]}}]"),
                        0, GPF_EMALFORMED, "devices[0].name: not a string");
    expect_spec_refused(SPEC("\"0.5.0\"", "\"nvidia.com/gpu\"",
                             "[{\"name\":\"0\",\"containerEdits\":{\"env\":[\"A=1\"]}},"
                             "{\"name\":\"0\",\"containerEdits\":{\"env\":[\"A=1\"]}}]"),
                        0, GPF_EMALFORMED, "devices[1]: name 0: defined twice");
    expect_spec_refused("[]", 0, GPF_EMALFORMED, "not an object");
    expect_spec_refused("{\"cdiVersion\":\"0.5.0\",", 0, GPF_EMALFORMED, "t.json: JSON line 1");
    expect_spec_refused("{\"a\":1,\"a\":2}", 0, GPF_EMALFORMED, "JSON");
    expect_spec_refused(SPEC("\"0.5.0\"", "\"nvidia.com/gpu\"",
                             "[{\"name\":\"0\",\"containerEdits\":{\"env\":[\"A=\\u0000\"]}}]"),
                        0, GPF_EMALFORMED, "JSON");
    expect_spec_refused("{\"cdiVersion\":\"0.5.0\",\"kind\":\"nvidia.com/gpu\",\"containerEdits\":"
                        "{\"mounts\":[{\"hostPath\":\"/x\",\"containerPath\":\"/sys\"}]},\"devices\":" DEV0 "}",
                        0, GPF_EMALFORMED, "t.json: containerEdits.mounts[0].containerPath: under /sys: refused");

    gpf_cdi *c = gpf_cdi_new();
    char big[16];
    assert_int_equal(gpf_cdi_add_spec(c, big, (size_t)GPF_CDI_FILE_MAX + 1, 0, "big", &err), GPF_EMALFORMED);
    assert_non_null(strstr(err.msg, "larger than"));
    gpf_cdi_free(c);
}

/* ---- limits -------------------------------------------------------------------------- */

static void test_limits(void **state)
{
    (void)state;
    gpf_buf b = {0};
    gpf_error err = {0};

    struct {
        const char *key, *item, *msg;
        int max;
    } cases[] = {
        {"env", "\"E%d=1\"", "env: more than 64 env entries", GPF_CDI_MAX_ENV},
        {"deviceNodes", "{\"path\":\"/dev/n%d\"}", "deviceNodes: more than 32 device nodes", GPF_CDI_MAX_NODES},
        {"mounts", "{\"hostPath\":\"/h\",\"containerPath\":\"/c%d\"}", "mounts: more than 64 mounts", GPF_CDI_MAX_MOUNTS},
        {"hooks", "{\"hookName\":\"prestart\",\"path\":\"/bin/h%d\"}", "hooks: more than 16 hooks", GPF_CDI_MAX_HOOKS},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        for (int extra = 0; extra < 2; extra++) {
            gpf_buf_reset(&b);
            gpf_buf_printf(&b, "{\"%s\":[", cases[k].key);
            for (int i = 0; i < cases[k].max + extra; i++) {
                if (i)
                    gpf_buf_putc(&b, ',');
                gpf_buf_printf(&b, cases[k].item, i);
            }
            gpf_buf_puts(&b, "]}");
            int rc = try_ce(gpf_buf_cstr(&b), &err);
            if (extra) {
                assert_int_equal(rc, GPF_EINVAL);
                if (!strstr(err.msg, cases[k].msg))
                    fail_msg("%s: \"%s\"", cases[k].key, err.msg);
            } else
                assert_int_equal(rc, 0);
        }
    }
    /* folded duplicates do not count */
    gpf_buf_reset(&b);
    gpf_buf_puts(&b, "{\"env\":[");
    for (int i = 0; i < 200; i++)
        gpf_buf_printf(&b, "%s\"SAME=%d\"", i ? "," : "", i);
    gpf_buf_puts(&b, "]}");
    assert_int_equal(try_ce(gpf_buf_cstr(&b), &err), 0);

    /* per entry: args, hook env, mount options */
    gpf_buf_reset(&b);
    gpf_buf_puts(&b, "{\"hooks\":[{\"hookName\":\"prestart\",\"path\":\"/bin/h\",\"args\":[");
    for (int i = 0; i < GPF_CDI_MAX_ARGS + 1; i++)
        gpf_buf_printf(&b, "%s\"a%d\"", i ? "," : "", i);
    gpf_buf_puts(&b, "]}]}");
    assert_int_equal(try_ce(gpf_buf_cstr(&b), &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "hooks[0].args: more than 16 args"));
    gpf_buf_reset(&b);
    gpf_buf_puts(&b, "{\"hooks\":[{\"hookName\":\"prestart\",\"path\":\"/bin/h\",\"env\":[");
    for (int i = 0; i < GPF_CDI_MAX_HOOK_ENV + 1; i++)
        gpf_buf_printf(&b, "%s\"E%d=1\"", i ? "," : "", i);
    gpf_buf_puts(&b, "]}]}");
    assert_int_equal(try_ce(gpf_buf_cstr(&b), &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "hooks[0].env: more than 8 env entries"));
    gpf_buf_reset(&b);
    gpf_buf_puts(&b, "{\"mounts\":[{\"hostPath\":\"/h\",\"containerPath\":\"/c\",\"options\":[");
    for (int i = 0; i < 33; i++)
        gpf_buf_printf(&b, "%s\"o%d\"", i ? "," : "", i);
    gpf_buf_puts(&b, "]}]}");
    assert_int_equal(try_ce(gpf_buf_cstr(&b), &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "options: more than 32 options"));

    /* merged: two devices of 40 mounts each fit alone, not together */
    gpf_cdi *c = gpf_cdi_new();
    gpf_cdi_edits *e = new_edits();
    gpf_buf_reset(&b);
    gpf_buf_puts(&b, "{\"cdiVersion\":\"0.5.0\",\"kind\":\"nvidia.com/gpu\",\"devices\":[");
    for (int d = 0; d < 2; d++) {
        gpf_buf_printf(&b, "%s{\"name\":\"%d\",\"containerEdits\":{\"mounts\":[", d ? "," : "", d);
        for (int i = 0; i < 40; i++)
            gpf_buf_printf(&b, "%s{\"hostPath\":\"/h\",\"containerPath\":\"/d%d/m%d\"}", i ? "," : "", d, i);
        gpf_buf_puts(&b, "]}}");
    }
    gpf_buf_puts(&b, "]}");
    assert_int_equal(add(c, gpf_buf_cstr(&b), 0, &err), 0);
    assert_int_equal(edits1(c, "1", e, &err), 0);
    assert_int_equal(e->nmounts, 40);
    const char *both[] = {"0", "1"};
    assert_int_equal(gpf_cdi_edits_for(c, NULL, both, 2, e, &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "nvidia.com/gpu=1.mounts: more than 64 mounts"));
    gpf_free(e);
    gpf_cdi_free(c);

    /* devices per spec */
    gpf_buf_reset(&b);
    gpf_buf_puts(&b, "{\"cdiVersion\":\"0.5.0\",\"kind\":\"nvidia.com/gpu\",\"devices\":[");
    for (int d = 0; d <= GPF_CDI_MAX_DEVICES; d++)
        gpf_buf_printf(&b, "%s{\"name\":\"%d\",\"containerEdits\":{\"env\":[\"A=1\"]}}", d ? "," : "", d);
    gpf_buf_puts(&b, "]}");
    c = gpf_cdi_new();
    assert_int_equal(add(c, gpf_buf_cstr(&b), 0, &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "devices: more than 1024 devices"));
    gpf_cdi_free(c);
    gpf_buf_clear(&b);
}

/* ---- YAML specifics ------------------------------------------------------------------ */

static void test_yaml(void **state)
{
    (void)state;
    gpf_error err = {0};
    gpf_cdi *c = gpf_cdi_new();
    gpf_cdi_edits *e = new_edits();

    /* unquoted numeric name, octal fileMode, anchors and aliases, flow style */
    const char *y = "cdiVersion: 0.6.0\n"
                    "kind: nvidia.com/gpu\n"
                    "x-opts: &opts [ro, nosuid, nodev, bind]\n"
                    "devices:\n"
                    "- name: 0\n"
                    "  containerEdits:\n"
                    "    deviceNodes:\n"
                    "    - {path: /dev/nvidia0, type: c, major: 195, minor: 0, fileMode: 0666}\n"
                    "    mounts:\n"
                    "    - {hostPath: /usr/lib/libcuda.so.1, containerPath: /usr/lib/libcuda.so.1, options: *opts}\n"
                    "    env: [\"FOO=bar: baz\", 'QUOTED=1']\n"
                    "    hooks:\n"
                    "    - hookName: prestart\n"
                    "      path: /usr/bin/hook\n"
                    "      timeout: 0x1e\n"
                    "      args: [hook, 12]\n";
    assert_int_equal(add(c, y, 1, &err), 0);
    assert_int_equal(edits1(c, "0", e, &err), 0);
    assert_int_equal(e->nodes[0].file_mode, 0666);
    assert_int_equal(e->nodes[0].major, 195);
    assert_int_equal(e->mounts[0].readonly, 1);
    assert_string_equal(e->env[0], "FOO=bar: baz");
    assert_string_equal(e->env[1], "QUOTED=1");
    assert_int_equal(e->hooks[0].timeout, 30);
    assert_string_equal(e->hooks[0].args[1], "12");

    /* a JSON integer is not a string */
    expect_spec_refused("{\"cdiVersion\":\"0.5.0\",\"kind\":\"nvidia.com/gpu\",\"devices\":[{\"name\":\"0\","
                        "\"containerEdits\":{\"hooks\":[{\"hookName\":\"prestart\",\"path\":\"/h\",\"args\":[12]}]}}]}",
                        0, GPF_EMALFORMED, "args[0]: not a string");
    /* the same checks as JSON */
    expect_spec_refused("cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices:\n- name: \"0\"\n  containerEdits:\n"
                        "    mounts:\n    - {hostPath: /x, containerPath: /proc/sys}\n",
                        1, GPF_EMALFORMED, "t.yaml: devices[0] (0).containerEdits.mounts[0].containerPath: under /proc");
    expect_spec_refused("cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices:\n- name: \"0\"\n  containerEdits:\n"
                        "    env: [\"A=\\0\"]\n",
                        1, GPF_EMALFORMED, "NUL");
    expect_spec_refused("cdiVersion: 0.5\nkind: nvidia.com/gpu\ndevices: []\n", 1, GPF_EMALFORMED, "cdiVersion");
    expect_spec_refused("a: [1, 2\n", 1, GPF_EMALFORMED, "t.yaml: YAML line");
    expect_spec_refused("cdiVersion: 0.5.0\ncdiVersion: 0.6.0\n", 1, GPF_EMALFORMED, "repeated");
    expect_spec_refused("", 1, GPF_EMALFORMED, "empty YAML document");
    expect_spec_refused("# nothing\n", 1, GPF_EMALFORMED, "empty YAML document");
    expect_spec_refused("--- {a: 1}\n--- {b: 2}\n", 1, GPF_EMALFORMED, "more than one YAML document");
    expect_spec_refused("- 1\n- 2\n", 1, GPF_EMALFORMED, "not an object");
    expect_spec_refused("? [a]\n: 1\n", 1, GPF_EMALFORMED, "key is not a scalar");
    expect_spec_refused("a: *nope\n", 1, GPF_EMALFORMED, "YAML line");
    /* an alias bomb and deep nesting */
    gpf_buf b = {0};
    gpf_buf_puts(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 9; i++)
        gpf_buf_printf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i - 1,
                       i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
    expect_spec_refused(gpf_buf_cstr(&b), 1, GPF_EMALFORMED, "more than 200000 nodes");
    gpf_buf_reset(&b);
    for (int i = 0; i < 100; i++)
        gpf_buf_putc(&b, '[');
    for (int i = 0; i < 100; i++)
        gpf_buf_putc(&b, ']');
    expect_spec_refused(gpf_buf_cstr(&b), 1, GPF_EMALFORMED, "nested more than 64 levels");
    /* a recursive alias */
    expect_spec_refused("a: &x [*x]\n", 1, GPF_EMALFORMED, "");
    gpf_buf_clear(&b);
    gpf_free(e);
    gpf_cdi_free(c);
}

/* ---- directories --------------------------------------------------------------------- */

static char tmp[PATH_MAX];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int setup_tmp(void **state)
{
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/gpf-test-cdi.XXXXXX");
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
    (void)state;
    chmod(tmp, 0700);
    return nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void put(const char *rel, const char *text)
{
    char path[PATH_MAX + 64], dir[PATH_MAX + 64];
    assert_true(snprintf(path, sizeof path, "%s/%s", tmp, rel) < (int)sizeof path);
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    mkdir(dir, 0755);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_load_dirs(void **state)
{
    (void)state;
    char etc[PATH_MAX + 16], run[PATH_MAX + 16], missing[PATH_MAX + 16], path[PATH_MAX + 64];
    gpf_buf warn = {0};
    gpf_error err = {0};
    gpf_cdi *c = NULL;
    gpf_cdi_edits *e = new_edits();

    snprintf(etc, sizeof etc, "%s/etc", tmp);
    snprintf(run, sizeof run, "%s/run", tmp);
    snprintf(missing, sizeof missing, "%s/nope", tmp);
    put("etc/nvidia.yaml", nvidia_yaml);
    put("etc/broken.json", "{\"cdiVersion\":");
    put("etc/refused.yml", "cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices:\n- name: x\n  containerEdits:\n"
                           "    mounts: [{hostPath: /etc, containerPath: /}]\n");
    put("etc/README.txt", "not a spec");
    snprintf(path, sizeof path, "%s/fifo.json", etc);
    assert_int_equal(mkfifo(path, 0600), 0);
    gpf_buf big = {0};
    gpf_buf_puts(&big, "{\"pad\":\"");
    while (big.len <= GPF_CDI_FILE_MAX)
        gpf_buf_puts(&big, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    gpf_buf_puts(&big, "\"}");
    put("etc/big.json", gpf_buf_cstr(&big));
    gpf_buf_clear(&big);
    /* /var/run/cdi overrides /etc/cdi */
    put("run/override.json", "{\"cdiVersion\":\"0.5.0\",\"kind\":\"nvidia.com/gpu\",\"devices\":[{\"name\":\"0\","
                             "\"containerEdits\":{\"deviceNodes\":[{\"path\":\"/dev/nvidia0\",\"hostPath\":\"/dev/alt0\"}]}}]}");

    const char *dirs[] = {missing, etc, run};
    assert_int_equal(gpf_cdi_load(dirs, 3, &c, &warn, &err), 0);
    assert_non_null(c);
    assert_int_equal(gpf_cdi_device_count(c), 5);
    const char *w = gpf_buf_cstr(&warn);
    assert_non_null(strstr(w, "/etc/broken.json: JSON line"));
    assert_non_null(strstr(w, "/etc/refused.yml: devices[0] (x).containerEdits.mounts[0].containerPath: is \"/\""));
    assert_non_null(strstr(w, "/etc/fifo.json: not a regular file"));
    assert_non_null(strstr(w, "/etc/big.json: not a regular file of at most 1048576 bytes"));
    assert_null(strstr(w, "README"));
    assert_null(strstr(w, "nvidia.yaml"));
    int lines = 0;
    for (const char *p = w; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 4);
    assert_int_equal(edits1(c, "0", e, &err), 0);
    assert_int_equal(e->nnodes, 1);
    assert_string_equal(e->nodes[0].host_path, "/dev/alt0");
    assert_int_equal(edits1(c, "0:1", e, &err), 0);
    assert_int_equal(e->nnodes, 5);
    gpf_cdi_free(c);

    /* nothing at all; NULL warnings */
    const char *none[] = {missing};
    assert_int_equal(gpf_cdi_load(none, 1, &c, NULL, &err), 0);
    assert_int_equal(gpf_cdi_device_count(c), 0);
    gpf_cdi_free(c);
    assert_int_equal(gpf_cdi_load(NULL, 0, &c, NULL, &err), 0);
    gpf_cdi_free(c);

    /* a directory that is a file */
    snprintf(path, sizeof path, "%s/README.txt", etc);
    const char *notdir[] = {path};
    assert_int_equal(gpf_cdi_load(notdir, 1, &c, &warn, &err), GPF_EIO);
    assert_null(c);
    assert_non_null(strstr(err.msg, "README.txt"));

    /* more than 64 spec files: the first 64 by name */
    for (int i = 0; i < 70; i++) {
        char rel[64], text[256];
        snprintf(rel, sizeof rel, "many/s%02d.json", i);
        snprintf(text, sizeof text,
                 "{\"cdiVersion\":\"0.5.0\",\"kind\":\"nvidia.com/gpu\",\"devices\":[{\"name\":\"d%02d\","
                 "\"containerEdits\":{\"env\":[\"A=1\"]}}]}",
                 i);
        put(rel, text);
    }
    char many[PATH_MAX + 16];
    snprintf(many, sizeof many, "%s/many", tmp);
    const char *md[] = {many};
    gpf_buf_reset(&warn);
    assert_int_equal(gpf_cdi_load(md, 1, &c, &warn, &err), 0);
    assert_int_equal(gpf_cdi_device_count(c), 64);
    assert_non_null(strstr(gpf_buf_cstr(&warn), "more than 64 spec files"));
    assert_int_equal(edits1(c, "d63", e, &err), 0);
    assert_int_equal(edits1(c, "d64", e, &err), GPF_ENOTFOUND);
    gpf_cdi_free(c);

    gpf_buf_clear(&warn);
    gpf_free(e);
}

/* ---- the fake spec ------------------------------------------------------------------- */

static void test_fake_spec(void **state)
{
    (void)state;
    const char *uuids[] = {"GPU-00000000-0000-0000-0000-000000000000", "GPU-11111111-1111-1111-1111-111111111111"};
    const int idx[] = {0, 3};
    const char *nodes[] = {"/tmp/fakehost/dev/nvidia0", "/tmp/fakehost/dev/nvidia3"};
    gpf_buf b = {0};
    gpf_error err = {0};
    gpf_cdi *c = gpf_cdi_new();
    gpf_cdi_edits *e = new_edits(), *e2 = new_edits();

    assert_int_equal(gpf_cdi_fake_spec(uuids, idx, nodes, 2, "/opt/fake/libcuda.so", &b, &err), 0);
    assert_int_equal(gpf_cdi_add_spec(c, b.data, b.len, 0, "fake", &err), 0);
    assert_int_equal(gpf_cdi_device_count(c), 4);
    assert_int_equal(edits1(c, "3", e, &err), 0);
    assert_int_equal(edits1(c, "nvidia.com/gpu=GPU-11111111-1111-1111-1111-111111111111", e2, &err), 0);
    assert_memory_equal(e, e2, sizeof *e);
    assert_int_equal(e->nnodes, 1);
    assert_string_equal(e->nodes[0].path, "/dev/nvidia3");
    assert_string_equal(e->nodes[0].host_path, "/tmp/fakehost/dev/nvidia3");
    assert_int_equal(e->nenv, 1);
    assert_string_equal(e->env[0], "NVIDIA_CDI_FAKE=1");
    assert_int_equal(e->nmounts, 1);
    assert_string_equal(e->mounts[0].host_path, "/opt/fake/libcuda.so");
    assert_string_equal(e->mounts[0].container_path, "/usr/lib/x86_64-linux-gnu/libcuda.so.1");
    assert_int_equal(e->mounts[0].readonly, 1);
    const char *both[] = {"0", "3"};
    assert_int_equal(gpf_cdi_edits_for(c, NULL, both, 2, e, &err), 0);
    assert_int_equal(e->nnodes, 2);
    assert_int_equal(e->nmounts, 1);
    gpf_cdi_free(c);

    /* no library, no host nodes */
    gpf_buf_reset(&b);
    c = gpf_cdi_new();
    assert_int_equal(gpf_cdi_fake_spec(uuids, idx, NULL, 1, NULL, &b, &err), 0);
    assert_int_equal(gpf_cdi_add_spec(c, b.data, b.len, 0, "fake", &err), 0);
    assert_int_equal(edits1(c, uuids[0], e, &err), 0);
    assert_int_equal(e->nmounts, 0);
    assert_string_equal(e->nodes[0].host_path, "/dev/nvidia0");
    gpf_cdi_free(c);

    /* refused, *out unchanged */
    gpf_buf_reset(&b);
    const char *bad_uuid[] = {"GPU 0"};
    assert_int_equal(gpf_cdi_fake_spec(bad_uuid, idx, NULL, 1, NULL, &b, &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "not a device name"));
    const char *rel_node[] = {"dev/nvidia0"};
    assert_int_equal(gpf_cdi_fake_spec(uuids, idx, rel_node, 1, NULL, &b, &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "hostPath: not an absolute path"));
    assert_int_equal(gpf_cdi_fake_spec(uuids, idx, NULL, 1, "lib.so", &b, &err), GPF_EINVAL);
    const char *dup[] = {"3"};
    assert_int_equal(gpf_cdi_fake_spec(dup, idx + 1, NULL, 1, NULL, &b, &err), GPF_EINVAL);
    assert_non_null(strstr(err.msg, "defined twice"));
    const int neg[] = {-1};
    assert_int_equal(gpf_cdi_fake_spec(uuids, neg, NULL, 1, NULL, &b, &err), GPF_EINVAL);
    assert_int_equal(gpf_cdi_fake_spec(uuids, idx, NULL, 300, NULL, &b, &err), GPF_EINVAL);
    assert_int_equal(b.len, 0);

    gpf_buf_clear(&b);
    gpf_free(e);
    gpf_free(e2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nvidia_yaml),
        cmocka_unit_test(test_json_equivalent),
        cmocka_unit_test(test_merge_two_devices),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_yaml),
        cmocka_unit_test_setup_teardown(test_load_dirs, setup_tmp, teardown_tmp),
        cmocka_unit_test(test_fake_spec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
