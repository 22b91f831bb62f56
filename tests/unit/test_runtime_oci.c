/* The OCI runtime trusts nothing it reads back: a pod state file with a field out of range
 * (a user name sshd_config could not hold, a uid range slot beyond the runtime's, a port
 * no socket can have, pid 1) is not adopted, so a stop acts on nothing that file names; the
 * same file with every field in range is adopted (the control: the checks are what makes
 * the difference). Needs root, runc, slirp4netns and idmapped mounts (the runtime's
 * opening checks them); skips, saying why, elsewhere. Real pods: the integration suite. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/runtime.h"
#include "agent/runtime_int.h"
#include "util/alloc.h"
#include "util/fileio.h"

static char dir[64];
static gpf_runtime_config cfg;
static char boot[64];

static int open_rt(gpf_runtime **rt, gpf_error *err)
{
    return gpf_runtime_oci_open(&cfg, rt, err);
}

static pid_t sleeper(unsigned long long *start)
{
    pid_t pid = fork();
    if (pid == 0) {
        execlp("sleep", "sleep", "30", (char *)NULL);
        _exit(127);
    }
    gpf_rtsys_proc pr;
    for (int i = 0; i < 100 && gpf_rtsys_proc_read(pid, &pr) != 0; i++)
        usleep(1000);
    *start = pr.start;
    return pid;
}

static void forge(const char *id, pid_t pid, unsigned long long start, int slot, int port, const char *user)
{
    char path[256], text[1024];
    snprintf(path, sizeof path, "%s/pods/%s", dir, id);
    mkdir(path, 0711);
    snprintf(path, sizeof path, "%s/pods/%s/state", dir, id);
    snprintf(text, sizeof text,
             "pid=%d\nstart=%llu\nslirp=0\nslirp_start=0\nslot=%d\nboot_id=%s\nport=%d\nssh_user=%s\n"
             "isolation=hardware\nlayers=userns netns\nhost_key=\nmessage=forged\n",
             (int)pid, start, slot, boot, port, user);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int alive(pid_t pid)
{
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid)
        return 0;
    return kill(pid, 0) == 0;
}

static void test_forged_state_is_not_adopted(void **state)
{
    (void)state;
    gpf_runtime *rt = NULL;
    gpf_error err = {0};
    if (open_rt(&rt, &err) != 0) {
        fprintf(stderr, "SKIP: the oci runtime cannot open here: %s\n", gpf_error_msg(&err));
        skip();
    }
    gpf_runtime_close(rt);
    unsigned long long start = 0;
    pid_t victim = sleeper(&start);
    static const struct {
        const char *id, *user;
        int slot, port;
    } bad[] = {
        {"pod-baduser", "x\"; Match all", 0, 23500},  /* a user name sshd_config cannot hold */
        {"pod-badslot", "alice", 999999, 23500},      /* beyond the runtime's uid ranges */
        {"pod-badport", "alice", 0, 70000},           /* no port at all */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        forge(bad[i].id, victim, start, bad[i].slot, bad[i].port, bad[i].user);
    forge("pod-init1", 1, 1, 0, 23500, "alice"); /* pid 1 is never a pod */
    assert_int_equal(open_rt(&rt, &err), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(rt->ops->status(rt, bad[i].id, NULL), 0);
        assert_int_equal(rt->ops->stop(rt, bad[i].id, &err), 0);
        assert_true(alive(victim)); /* nothing the forged file named was touched */
    }
    assert_int_equal(rt->ops->status(rt, "pod-init1", NULL), 0);
    assert_int_equal(rt->ops->stop(rt, "pod-init1", &err), 0);
    gpf_runtime_close(rt);

    /* The control: the same file with every field in range is adopted, and stop ends it. */
    forge("pod-good", victim, start, 3, 23500, "alice");
    assert_int_equal(open_rt(&rt, &err), 0);
    assert_int_equal(rt->ops->status(rt, "pod-good", NULL), 1);
    assert_int_equal(rt->ops->stop(rt, "pod-good", &err), 0);
    for (int i = 0; i < 2000 && alive(victim); i++) /* 10 s at most */
        usleep(5000);
    assert_false(alive(victim));
    gpf_runtime_close(rt);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/var/tmp/gpf-test-rtoci.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    chmod(dir, 0711);
    memset(&cfg, 0, sizeof cfg);
    cfg.state_dir = dir;
    cfg.listen_address = "127.0.0.1";
    cfg.port_min = 23500;
    cfg.port_max = 23599;
    cfg.cgroup_root = ""; /* no cgroups: nothing of the host's touched */
    char self[PATH_MAX], init[PATH_MAX + 32];
    const char *exe = gpf_self_exe(self, sizeof self, "");
    const char *slash = strrchr(exe, '/');
    /* build/tests/test_runtime_oci -> build/gpufleet-pod-init */
    snprintf(init, sizeof init, "%.*s/../gpufleet-pod-init", slash ? (int)(slash - exe) : 1, slash ? exe : ".");
    static char init_path[PATH_MAX + 32];
    gpf_strlcpy(init_path, init, sizeof init_path);
    cfg.pod_init_path = init_path;
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f) {
        if (!fgets(boot, sizeof boot, f))
            boot[0] = '\0';
        fclose(f);
    }
    boot[strcspn(boot, "\n")] = '\0';
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return gpf_rtsys_rm_rf(dir, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forged_state_is_not_adopted),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
