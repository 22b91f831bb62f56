/* The OCI runtime's pure parts and its filesystem work: the config.json a pod gets (user
 * namespace and its own uid range, every namespace, capabilities without NET_RAW, MKNOD or
 * SYS_ADMIN, the seccomp allowlist, masked /proc, the device cgroup), the passwd parsing,
 * and, as root on a kernel with idmapped mounts, the pod's root filesystem: the image's
 * owners mapped to the pod's range, the login user written inside, and a symlink planted
 * in the image (or by a pod) never followed onto the host. Real pods: test_runtime_oci. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/oci_fs.h"
#include "agent/oci_spec.h"
#include "agent/runtime_int.h"
#include "helpers/tree_fixture.h"
#include "util/alloc.h"
#include "util/fileio.h"
#include "util/sshkey.h"

static const char *const ARGS[] = {"/.gpufleet/pod-init", "--fd", "3", NULL};

static void base_input(gpf_oci_input *in)
{
    memset(in, 0, sizeof *in);
    in->hostname = "pod-1";
    in->args = ARGS;
    in->uid_base = 1073741824u;
    in->seccomp = 1;
    in->cgroups_path = "/gpufleet/pod-1";
    in->cpus = 2;
    in->memory_mib = 512;
    in->pids_max = 100;
}

static int has_string(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (!strcmp(json_string_value(v), s)) return 1;
    return 0;
}

static void test_config_namespaces_and_mapping(void **state)
{
    (void)state;
    gpf_oci_input in;
    base_input(&in);
    gpf_error err = {0};
    json_t *c = gpf_oci_config(&in, &err);
    assert_non_null(c);
    json_t *linux = json_object_get(c, "linux");
    json_t *ns = json_object_get(linux, "namespaces");
    static const char *const want[] = {"user", "network", "pid", "ipc", "uts", "mount", "cgroup"};
    for (size_t k = 0; k < 7; k++) {
        int found = 0;
        size_t i;
        json_t *v;
        json_array_foreach(ns, i, v) found |= !strcmp(json_string_value(json_object_get(v, "type")), want[k]);
        assert_true(found);
    }
    json_t *um = json_array_get(json_object_get(linux, "uidMappings"), 0);
    assert_int_equal(json_integer_value(json_object_get(um, "containerID")), 0);
    assert_int_equal(json_integer_value(json_object_get(um, "hostID")), 1073741824);
    assert_int_equal(json_integer_value(json_object_get(um, "size")), 65536);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(linux, "resources"), "pids"),
                                                        "limit")),
                     100);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(linux, "resources"),
                                                                         "memory"),
                                                         "limit")),
                     512LL * 1024 * 1024);
    assert_true(has_string(json_object_get(linux, "maskedPaths"), "/proc/kcore"));
    assert_true(has_string(json_object_get(linux, "readonlyPaths"), "/proc/sys"));
    assert_string_equal(json_string_value(json_object_get(linux, "cgroupsPath")), "/gpufleet/pod-1");
    json_decref(c);
}

static void test_config_capabilities(void **state)
{
    (void)state;
    gpf_oci_input in;
    base_input(&in);
    json_t *c = gpf_oci_config(&in, NULL);
    json_t *caps = json_object_get(json_object_get(json_object_get(c, "process"), "capabilities"), "bounding");
    assert_true(has_string(caps, "CAP_SETUID"));     /* sudo and sshd inside */
    assert_true(has_string(caps, "CAP_SYS_CHROOT")); /* sshd's privilege separation */
    static const char *const never[] = {"CAP_SYS_ADMIN", "CAP_NET_RAW", "CAP_MKNOD", "CAP_SYS_MODULE", "CAP_SYS_PTRACE",
                                        "CAP_NET_ADMIN", "CAP_SYS_RAWIO", "CAP_DAC_READ_SEARCH", "CAP_SYS_TIME"};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        assert_false(has_string(caps, never[i]));
    assert_int_equal(json_array_size(json_object_get(
                         json_object_get(json_object_get(c, "process"), "capabilities"), "ambient")),
                     0);
    assert_false(json_is_true(json_object_get(json_object_get(c, "process"), "noNewPrivileges")));
    json_decref(c);
    in.no_new_privs = 1;
    c = gpf_oci_config(&in, NULL);
    assert_true(json_is_true(json_object_get(json_object_get(c, "process"), "noNewPrivileges")));
    json_decref(c);
}

static void test_seccomp_profile(void **state)
{
    (void)state;
    json_t *s = gpf_oci_seccomp();
    assert_string_equal(json_string_value(json_object_get(s, "defaultAction")), "SCMP_ACT_ERRNO");
    json_t *allow = json_object_get(json_array_get(json_object_get(s, "syscalls"), 0), "names");
    assert_int_equal((int)json_array_size(allow), gpf_oci_seccomp_allowed());
    assert_true(gpf_oci_seccomp_allowed() > 250);
    assert_true(has_string(allow, "read"));
    assert_true(has_string(allow, "execve"));
    static const char *const denied[] = {"mount",   "umount2",    "pivot_root", "unshare",        "setns",
                                         "init_module", "finit_module", "delete_module", "kexec_load", "bpf",
                                         "perf_event_open", "add_key", "keyctl", "open_by_handle_at", "reboot",
                                         "swapon",  "clock_settime", "userfaultfd", "io_uring_setup", "syslog",
                                         "clone",   "clone3",     "fsopen",     "move_mount",     "iopl"};
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++)
        assert_false(has_string(allow, denied[i]));
    /* clone only without namespace flags; clone3 ENOSYS so the C library falls back. */
    json_t *cl = json_array_get(json_object_get(s, "syscalls"), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(cl, "names"), 0)), "clone");
    json_t *arg = json_array_get(json_object_get(cl, "args"), 0);
    assert_string_equal(json_string_value(json_object_get(arg, "op")), "SCMP_CMP_MASKED_EQ");
    assert_int_equal(json_integer_value(json_object_get(arg, "value")) & 0x10000000, 0x10000000); /* CLONE_NEWUSER */
    assert_int_equal(json_integer_value(json_object_get(arg, "valueTwo")), 0);
    json_decref(s);
}

static void test_config_devices_and_refusals(void **state)
{
    (void)state;
    gpf_oci_input in;
    base_input(&in);
    in.ndevices = 1;
    in.devices[0] = (gpf_oci_device){"/dev/nvidia0", 'c', 195, 0, 0666};
    json_t *c = gpf_oci_config(&in, NULL);
    json_t *linux = json_object_get(c, "linux");
    assert_int_equal(json_array_size(json_object_get(linux, "devices")), 0); /* bound, never made */
    /* device cgroup: deny all first, then the standard nodes and exactly this one */
    json_t *rules = json_object_get(json_object_get(linux, "resources"), "devices");
    json_t *first = json_array_get(rules, 0);
    assert_false(json_is_true(json_object_get(first, "allow")));
    json_t *last = json_array_get(rules, json_array_size(rules) - 1);
    assert_int_equal(json_integer_value(json_object_get(last, "major")), 195);
    assert_int_equal(json_integer_value(json_object_get(last, "minor")), 0);
    json_decref(c);

    gpf_error err = {0};
    in.devices[0].path = "/etc/passwd"; /* a "device" outside /dev */
    assert_null(gpf_oci_config(&in, &err));
    assert_int_equal(err.code, GPF_EINVAL);
    in.ndevices = 0;
    in.uid_base = 0; /* host root is never a pod's range */
    assert_null(gpf_oci_config(&in, &err));
    base_input(&in);
    in.nmounts = 1;
    in.mounts[0] = (gpf_oci_mount){"relative/path", "/x", 1, 0};
    assert_null(gpf_oci_config(&in, &err));
}

static void test_passwd_parsing(void **state)
{
    (void)state;
    const char *pw = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/:/usr/sbin/nologin\nbob:x:1000:1000::/home/bob:/bin/sh\n"
                     "carol:x:1001:1001::/home/c:/bin/sh";
    size_t n = strlen(pw);
    assert_int_equal(gpf_ocifs_passwd_uid(pw, n, "bob"), 1000);
    assert_int_equal(gpf_ocifs_passwd_uid(pw, n, "carol"), 1001);
    assert_int_equal(gpf_ocifs_passwd_uid(pw, n, "daemon"), 1);
    assert_int_equal(gpf_ocifs_passwd_uid(pw, n, "bo"), -1);
    assert_int_equal(gpf_ocifs_passwd_uid(pw, n, "alice"), -1);
    assert_int_equal(gpf_ocifs_passwd_free_uid(pw, n), 1002);
    assert_int_equal(gpf_ocifs_passwd_uid("x:x:notanumber:0::/:/bin/sh\n", 28, "x"), -1);
    assert_int_equal(gpf_ocifs_passwd_free_uid("", 0), 1000);
}

/* A host key made in process is one OpenSSH reads: ssh-keygen derives the same public key
 * from the private file and prints the fingerprint of the public line. */
static void test_sshkey_openssh_reads_it(void **state)
{
    (void)state;
    gpf_buf priv = {0}, pub = {0};
    gpf_error err = {0};
    assert_int_equal(gpf_sshkey_ed25519("gpufleet-pod-1", &priv, &pub, &err), 0);
    assert_non_null(strstr(gpf_buf_cstr(&priv), "-----BEGIN OPENSSH PRIVATE KEY-----\n"));
    assert_int_equal(strncmp(gpf_buf_cstr(&pub), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI", 37), 0);
    char dir[] = "/tmp/gpf-test-sshkey.XXXXXX", path[64], cmd[256], out[512] = "";
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/key", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(gpf_buf_cstr(&priv), f);
    fclose(f);
    chmod(path, 0600);
    snprintf(cmd, sizeof cmd, "ssh-keygen -y -f %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    pclose(p);
    out[n] = '\0';
    /* "ssh-ed25519 BASE64 comment": the type and key are the public line's */
    size_t cmp = strcspn(gpf_buf_cstr(&pub) + 12, " ") + 12;
    assert_int_equal(strncmp(out, gpf_buf_cstr(&pub), cmp), 0);
    assert_null(gpf_sshkey_ed25519("bad\ncomment", &priv, &pub, &err) == 0 ? "accepted" : NULL);
    gpf_buf_clear(&priv);
    gpf_buf_clear(&pub);
    gpf_rtsys_rm_rf(dir, NULL);
}

/* ---- as root: the pod's root filesystem ---------------------------------------------- */

static char tmp[256];

static int fs_ok(void)
{
    gpf_error err = {0};
    return geteuid() == 0 && gpf_ocifs_probe(tmp, &err) == 0;
}

static void put(const char *rel, const char *text, mode_t mode)
{
    gpf_test_tree_put(tmp, rel, text);
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", tmp, rel);
    chmod(p, mode);
}

static char *slurp(const char *path)
{
    char *t = NULL;
    return gpf_read_file(path, 1 << 20, &t, NULL) == 0 ? t : NULL;
}

static void test_rootfs_idmapped_and_user(void **state)
{
    (void)state;
    if (!fs_ok()) {
        fprintf(stderr, "SKIP: needs root and idmapped mounts\n");
        skip();
    }
    put("img/etc/passwd", "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/:/usr/sbin/nologin\n", 0644);
    put("img/etc/group", "root:x:0:\nshadow:x:42:\n", 0644);
    put("img/etc/shadow", "root:*:19000:0:99999:7:::\n", 0640);
    put("img/etc/sudoers.d/README", "x\n", 0440);
    put("img/bin/bash", "#!fake\n", 0755);
    put("host/secret", "host secret\n", 0600);
    char img[300], pod[300], rootfs[320], p[PATH_MAX], login[72];
    snprintf(img, sizeof img, "%s/img", tmp);
    snprintf(pod, sizeof pod, "%s/pod", tmp);
    snprintf(rootfs, sizeof rootfs, "%s/rootfs", pod);
    mkdir(pod, 0711);
    /* an image that points /etc/motd at a host file, absolutely */
    snprintf(p, sizeof p, "%s/etc/motd", img);
    char target[PATH_MAX];
    snprintf(target, sizeof target, "%s/host/secret", tmp);
    assert_int_equal(symlink(target, p), 0);

    uint32_t base = 1073741824u + 7 * 65536u, uid = 0;
    gpf_error err = {0};
    assert_int_equal(gpf_ocifs_mount(img, pod, base, &err), 0);
    struct stat st;
    snprintf(p, sizeof p, "%s/etc/passwd", rootfs);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_uid, base); /* uid 0 of the image reads as the pod's root */
    snprintf(p, sizeof p, "%s/etc/passwd", img);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_uid, 0); /* the shared image itself is untouched */

    assert_int_equal(gpf_ocifs_setup_user(rootfs, "alice", base, login, sizeof login, &uid, &err), 0);
    assert_string_equal(login, "alice");
    assert_int_equal(uid, 1000);
    snprintf(p, sizeof p, "%s/etc/passwd", rootfs);
    char *t = slurp(p);
    assert_non_null(strstr(t, "\nalice:x:1000:1000:alice:/home/alice:/bin/bash"));
    gpf_free(t);
    snprintf(p, sizeof p, "%s/etc/sudoers.d/gpufleet", rootfs);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_uid, base);
    assert_int_equal(st.st_mode & 07777, 0440);
    snprintf(p, sizeof p, "%s/etc/shadow", rootfs);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_gid, base + 42);
    /* again: nothing added twice */
    assert_int_equal(gpf_ocifs_setup_user(rootfs, "alice", base, login, sizeof login, &uid, &err), 0);
    snprintf(p, sizeof p, "%s/etc/passwd", rootfs);
    t = slurp(p);
    assert_ptr_equal(strstr(t, "\nalice:"), strrchr(t, '\n')); /* one entry, the last line */
    gpf_free(t);
    /* a system account's name logs in under another name */
    assert_int_equal(gpf_ocifs_setup_user(rootfs, "daemon", base, login, sizeof login, &uid, &err), 0);
    assert_string_equal(login, "u-daemon");
    assert_int_equal(uid, 1001);

    /* Writing through the image's absolute symlink stays inside the pod's root. */
    assert_int_equal(gpf_ocifs_write(rootfs, "/etc/motd", "pwned\n", 0644, base, 0, &err) == 0 ||
                         err.code == GPF_EIO,
                     1);
    snprintf(p, sizeof p, "%s/host/secret", tmp);
    t = slurp(p);
    assert_string_equal(t, "host secret");
    gpf_free(t);
    /* A pod that replaces /etc/passwd by a symlink to the host's file gains nothing. */
    snprintf(p, sizeof p, "%s/etc/passwd", rootfs);
    unlink(p);
    assert_int_equal(symlink(target, p), 0);
    gpf_ocifs_setup_user(rootfs, "erin", base, login, sizeof login, &uid, &err);
    snprintf(p, sizeof p, "%s/host/secret", tmp);
    t = slurp(p);
    assert_string_equal(t, "host secret");
    gpf_free(t);

    /* A pod (or image) whose /etc/sudoers.d points at a host directory: the sudoers file
     * the agent writes lands inside the pod's root (or nowhere), never on the host. */
    snprintf(p, sizeof p, "%s/etc/passwd", rootfs);
    unlink(p);
    assert_int_equal(gpf_ocifs_write(rootfs, "/etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0644, base, 0, &err), 0);
    snprintf(p, sizeof p, "%s/etc/sudoers.d", rootfs);
    assert_int_equal(gpf_rtsys_rm_rf(p, NULL), 0);
    snprintf(target, sizeof target, "%s/host", tmp);
    assert_int_equal(symlink(target, p), 0);
    gpf_ocifs_setup_user(rootfs, "frank", base, login, sizeof login, &uid, &err);
    snprintf(p, sizeof p, "%s/host/gpufleet", tmp);
    assert_int_equal(access(p, F_OK), -1);

    gpf_ocifs_umount(pod);
    assert_int_equal(gpf_rtsys_rm_rf(pod, NULL), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmp, sizeof tmp, "/var/tmp/gpf-test-oci.XXXXXX");
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/pod", tmp);
    gpf_ocifs_umount(p);
    return gpf_rtsys_rm_rf(tmp, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_namespaces_and_mapping),
        cmocka_unit_test(test_config_capabilities),
        cmocka_unit_test(test_seccomp_profile),
        cmocka_unit_test(test_config_devices_and_refusals),
        cmocka_unit_test(test_passwd_parsing),
        cmocka_unit_test(test_sshkey_openssh_reads_it),
        cmocka_unit_test(test_rootfs_idmapped_and_user),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
