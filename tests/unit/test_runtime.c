/* The process pod runtime with real processes: a real OpenSSH sshd per pod, reached
 * with the real ssh client and keys made by ssh-keygen, in the bubblewrap sandbox and
 * as a plain process; the pod's isolation (device nodes bound from a fixture /dev, CPU
 * pinning and NUMA memory policy, a real cgroup v2 or v1 where the machine has one, with
 * its memory limit enforced) and its activity (SSH sessions,
 * processes). Skipped (with the reason) when OpenSSH is not installed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/gpu_backend.h"
#include "agent/podinit.h"
#include "util/fileio.h"
#include "agent/runtime.h"
#include "agent/runtime_int.h"
#include "helpers/tree_fixture.h"
#include "util/alloc.h"
#include "util/timeutil.h"

#define SSHD "/usr/sbin/sshd"
#define BWRAP "/usr/bin/bwrap"

typedef struct suite {
    int ok;                       /* 0: skip everything (skip_why says why) */
    char skip_why[160];
    char dir[64];
    char key_a[128], key_b[128];
    char pub_a[GPF_PUBKEY_MAX];
    char user[64];
    int port_base;
    int nstate;
} suite;

static suite S;

/* ---- helpers -------------------------------------------------------- */

static int run_quiet(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int read_file(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
    return 0;
}

static void pod_id(char *out, size_t size, const char *tag)
{
    snprintf(out, size, "pod-%d-%s", (int)getpid(), tag);
}

/* The ssh command line that runs cmd in the pod. */
static void ssh_line(char *line, size_t size, const char *key, int port, const char *cmd)
{
    snprintf(line, size,
             "ssh -F /dev/null -i %s -p %d -o IdentitiesOnly=yes -o StrictHostKeyChecking=no "
             "-o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR -o ConnectTimeout=5 "
             "%s@127.0.0.1 '%s' 2>&1",
             key, port, S.user, cmd);
}

/* Runs a command in the pod over ssh; returns the exit status, output in out. */
static int ssh_run(const char *key, int port, const char *cmd, char *out, size_t size)
{
    char line[1024];
    ssh_line(line, sizeof line, key, port, cmd);
    FILE *p = popen(line, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Live processes whose environment carries GPUFLEET_POD_ID=<id> (and, when comm is
 * given, whose name is comm). Independent of the runtime's own scan. */
static int count_pod_procs(const char *id, const char *comm)
{
    char needle[128], path[64], buf[16384];
    int n = 0;
    snprintf(needle, sizeof needle, "GPUFLEET_POD_ID=%s", id);
    DIR *d = opendir("/proc");
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int pid = atoi(de->d_name);
        if (pid <= 0 || pid == getpid())
            continue;
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        if (read_file(path, buf, sizeof buf) != 0)
            continue;
        char *rp = strrchr(buf, ')');
        if (!rp || rp[2] == 'Z')
            continue;
        if (comm) {
            char c[64];
            snprintf(path, sizeof path, "/proc/%d/comm", pid);
            if (read_file(path, c, sizeof c) != 0)
                continue;
            c[strcspn(c, "\n")] = '\0';
            if (strcmp(c, comm) != 0)
                continue;
        }
        snprintf(path, sizeof path, "/proc/%d/environ", pid);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            continue;
        ssize_t len = read(fd, buf, sizeof buf - 1);
        close(fd);
        for (ssize_t off = 0; len > 0 && off < len;) {
            if (!strcmp(buf + off, needle)) {
                n++;
                break;
            }
            off += (ssize_t)strlen(buf + off) + 1;
        }
    }
    closedir(d);
    return n;
}

/* 1 while pid exists and is not a zombie. */
static int proc_alive(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    if (read_file(path, buf, sizeof buf) != 0)
        return 0;
    char *rp = strrchr(buf, ')');
    return rp && rp[2] != 'Z' && rp[2] != 'X';
}

static int port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    /* A port in the ephemeral range can "accept" a TCP self-connect (simultaneous open:
     * the kernel picked the target port as our local port); that is nobody listening. */
    struct sockaddr_in me;
    socklen_t len = sizeof me;
    if (ok && getsockname(fd, (struct sockaddr *)&me, &len) == 0 && me.sin_port == a.sin_port)
        ok = 0;
    close(fd);
    return ok;
}

static void state_dir(char *out, size_t size)
{
    snprintf(out, size, "%s/state%d", S.dir, ++S.nstate);
}

/* cg_root: a cgroup root (v2, or one holding v1 hierarchies), or "" for none. */
static gpf_runtime *open_rt_cg(const char *dir, const char *bwrap, int port_min, int port_max, const char *cg_root)
{
    gpf_runtime_config c;
    memset(&c, 0, sizeof c);
    c.cgroup_root = cg_root;
    c.state_dir = dir;
    c.listen_address = "127.0.0.1";
    c.port_min = port_min;
    c.port_max = port_max;
    c.sshd_path = SSHD;
    c.bwrap_path = bwrap;
    c.start_timeout_ms = 5000;
    gpf_runtime *rt = NULL;
    gpf_error err = {0};
    if (gpf_runtime_process_open(&c, &rt, &err) != 0)
        fail_msg("open process runtime: %s", gpf_error_msg(&err));
    assert_string_equal(rt->ops->name, "process");
    return rt;
}

static gpf_runtime *open_rt(const char *dir, const char *bwrap, int port_min, int port_max)
{
    return open_rt_cg(dir, bwrap, port_min, port_max, "");
}

/* A loopback port nothing listens on right now (the kernel picks it). */
static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static gpf_pod_spec make_spec(const char *id, const char *pub, const char *devices, const char *env)
{
    gpf_pod_spec s;
    memset(&s, 0, sizeof s);
    gpf_strlcpy(s.id, id, sizeof s.id);
    gpf_strlcpy(s.owner, "alice", sizeof s.owner);
    gpf_strlcpy(s.ssh_pubkey, pub, sizeof s.ssh_pubkey);
    gpf_strlcpy(s.device_ids, devices, sizeof s.device_ids);
    gpf_strlcpy(s.env, env, sizeof s.env);
    s.cpus = 2;
    s.memory_mib = 1024;
    return s;
}

static int64_t start_pod(gpf_runtime *rt, const gpf_pod_spec *s, gpf_pod_status *st)
{
    gpf_error err = {0};
    int64_t t0 = gpf_mono_us();
    int rc = gpf_runtime_start(rt, s, st, &err);
    int64_t us = gpf_mono_us() - t0;
    if (rc != 0)
        fail_msg("start %s: %s", s->id, gpf_error_msg(&err));
    assert_int_equal(st->running, 1);
    return us;
}

/* pid recorded in the pod's state file. */
static int pod_root_pid(const char *dir, const char *id)
{
    char path[512], buf[2048];
    snprintf(path, sizeof path, "%s/pods/%s/state", dir, id);
    if (read_file(path, buf, sizeof buf) != 0)
        return 0;
    char *p = strstr(buf, "pid=");
    return p ? atoi(p + 4) : 0;
}

static int has_pod_env(int pid, const char *id)
{
    char path[64], env[16384], needle[128];
    snprintf(path, sizeof path, "/proc/%d/environ", pid);
    snprintf(needle, sizeof needle, "GPUFLEET_POD_ID=%s", id);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t len = read(fd, env, sizeof env - 1);
    close(fd);
    if (len > 0)
        env[len] = '\0';
    for (ssize_t off = 0; len > 0 && off < len; off += (ssize_t)strlen(env + off) + 1)
        if (!strcmp(env + off, needle))
            return 1;
    return 0;
}

/* 1 when process pid has an open descriptor on file. */
static int holds_file(int pid, const char *file)
{
    char dirp[64], lp[384], link[512];
    int found = 0;
    snprintf(dirp, sizeof dirp, "/proc/%d/fd", pid);
    DIR *fds = opendir(dirp);
    struct dirent *fe;
    while (fds && (fe = readdir(fds)) != NULL) {
        snprintf(lp, sizeof lp, "%s/%s", dirp, fe->d_name);
        ssize_t l = readlink(lp, link, sizeof link - 1);
        if (l > 0) {
            link[l] = '\0';
            found |= !strcmp(link, file);
        }
    }
    if (fds)
        closedir(fds);
    return found;
}

/* Skips the calling test, saying why, when this machine lacks what every pod here needs
 * (OpenSSH, a passwd entry): each such test is then reported skipped, by name. */
static void need_suite(void)
{
    if (!S.ok) {
        print_message("skipped: %s\n", S.skip_why);
        skip();
    }
}

/* Checks the whole life of one pod: env, keys, kill on stop. */
static void pod_flow(const char *bwrap, int expect_bwrap)
{
    char dir[128], id[GPF_ID_MAX], out[4096], cmd[512];
    need_suite();
    state_dir(dir, sizeof dir);
    pod_id(id, sizeof id, expect_bwrap ? "bw" : "plain");
    gpf_runtime *rt = open_rt(dir, bwrap, S.port_base, S.port_base + 49);
    gpf_pod_spec s = make_spec(id, S.pub_a, "GPU-test-1", "FOO=bar baz;X=1");
    gpf_pod_status st;
    memset(&st, 0, sizeof st);

    /* A descriptor without close-on-exec must not leak into the pod. */
    char canary[256];
    snprintf(canary, sizeof canary, "%s/canary-%s", S.dir, id);
    int cfd = open(canary, O_CREAT | O_WRONLY, 0600);
    assert_true(cfd >= 0);

    int64_t us = start_pod(rt, &s, &st);
    close(cfd);
    printf("# start-to-ready (%s): %.1f ms\n", expect_bwrap ? "bubblewrap" : "plain process", (double)us / 1000.0);
    printf("# message: %s\n", st.message);
    assert_true(st.ssh_port >= S.port_base && st.ssh_port <= S.port_base + 49);
    assert_string_equal(st.ssh_user, S.user);
    /* No isolation plan: no device node, no pinning; no cgroup root configured. */
    assert_int_equal(st.isolation, GPF_ISO_SOFT); /* the process runtime is no security boundary */
    if (expect_bwrap) {
        assert_string_equal(st.message, "bwrap sandbox; dev none; cpus not pinned; no cgroup");
    } else {
        assert_int_equal(st.isolation, GPF_ISO_SOFT);
        assert_string_equal(st.message, "plain process, bubblewrap unavailable (disabled by configuration); devices "
                                        "not isolated; cpus not pinned; no cgroup");
    }

    /* The pod is detached: its own session, not our child. */
    int root = pod_root_pid(dir, id);
    assert_true(root > 1);
    char path[512], stat_buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", root);
    assert_int_equal(read_file(path, stat_buf, sizeof stat_buf), 0);
    int ppid = 0, pgrp = 0, sid = 0;
    char state = 0;
    assert_int_equal(sscanf(strrchr(stat_buf, ')') + 1, " %c %d %d %d", &state, &ppid, &pgrp, &sid), 4);
    assert_int_not_equal(ppid, getpid());
    assert_int_equal(sid, root);

    /* No pod process holds the canary: neither the pod's root (sshd rewrites its own
     * environment for its process title) nor anything carrying the pod's id. */
    assert_false(holds_file(root, canary));
    DIR *d = opendir("/proc");
    struct dirent *de;
    int scanned = 0;
    while ((de = readdir(d)) != NULL) {
        int pid = atoi(de->d_name);
        if (pid <= 0 || pid == getpid() || !has_pod_env(pid, id))
            continue;
        scanned++;
        if (holds_file(pid, canary))
            fail_msg("pod process %d inherited a descriptor of %s", pid, canary);
    }
    closedir(d);
    assert_true(scanned >= 1 || !expect_bwrap); /* a plain sshd hides its environment */

    /* Key A gets in, with the slice in the environment. */
    int rc = ssh_run(S.key_a, st.ssh_port,
                     "echo $CUDA_VISIBLE_DEVICES $GPUFLEET_POD_ID $NVIDIA_VISIBLE_DEVICES $X $FOO", out, sizeof out);
    char want[256];
    snprintf(want, sizeof want, "GPU-test-1 %s GPU-test-1 1 bar baz", id);
    if (rc != 0 || strcmp(out, want) != 0)
        fail_msg("ssh with key A: rc=%d out='%s' want '%s'", rc, out, want);
    /* Key B does not. */
    rc = ssh_run(S.key_b, st.ssh_port, "echo in", out, sizeof out);
    assert_int_not_equal(rc, 0);
    assert_null(strstr(out, "in\n"));

    /* The private home. */
    rc = ssh_run(S.key_a, st.ssh_port, "touch $HOME/marker && echo $HOME", out, sizeof out);
    assert_int_equal(rc, 0);
    snprintf(path, sizeof path, "%s/pods/%s/home/marker", dir, id);
    assert_int_equal(access(path, F_OK), 0);
    if (expect_bwrap) {
        /* Inside its own pid namespace: pid 1 is bubblewrap. */
        rc = ssh_run(S.key_a, st.ssh_port, "cat /proc/1/comm", out, sizeof out);
        assert_int_equal(rc, 0);
        assert_string_equal(out, "bwrap");
    }

    /* status, list, idempotent start */
    char ids[8][GPF_ID_MAX];
    assert_int_equal(rt->ops->list(rt, ids, 8), 1);
    assert_string_equal(ids[0], id);
    gpf_pod_status st2;
    memset(&st2, 0, sizeof st2);
    assert_int_equal(rt->ops->status(rt, id, &st2), 1);
    assert_int_equal(st2.ssh_port, st.ssh_port);
    gpf_error err = {0};
    assert_int_equal(gpf_runtime_start(rt, &s, &st2, &err), 0);
    assert_int_equal(st2.ssh_port, st.ssh_port);
    assert_int_equal(pod_root_pid(dir, id), root);

    /* A background process started over ssh dies with the pod. */
    snprintf(cmd, sizeof cmd, "nohup sleep 300 >/dev/null 2>&1 &");
    assert_int_equal(ssh_run(S.key_a, st.ssh_port, cmd, out, sizeof out), 0);
    for (int i = 0; i < 2000 && count_pod_procs(id, "sleep") == 0; i++)
        gpf_sleep_ms(5);
    assert_int_equal(count_pod_procs(id, "sleep"), 1);
    int64_t t0 = gpf_mono_us();
    assert_int_equal(rt->ops->stop(rt, id, &err), 0);
    printf("# stop (%s): %.1f ms\n", expect_bwrap ? "bubblewrap" : "plain process",
           (double)(gpf_mono_us() - t0) / 1000.0);
    assert_int_equal(count_pod_procs(id, NULL), 0);
    assert_false(port_accepts(st.ssh_port));
    snprintf(path, sizeof path, "%s/pods/%s", dir, id);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(rt->ops->status(rt, id, NULL), 0);
    assert_int_equal(rt->ops->list(rt, ids, 8), 0);
    assert_int_equal(rt->ops->stop(rt, id, &err), 0); /* again: fine */
    gpf_runtime_close(rt);
    unlink(canary);
}

/* ---- tests ---------------------------------------------------------- */

/* Skips the test unless OpenSSH is there and bubblewrap can make its namespaces. */
static void need_bwrap(void)
{
    need_suite();
    if (access(BWRAP, X_OK) != 0 ||
        run_quiet(BWRAP " --unshare-pid --bind / / --dev /dev --proc /proc true >/dev/null 2>&1") != 0) {
        printf("# bubblewrap cannot create namespaces here: sandbox mode not tested\n");
        skip();
    }
}

static void test_pod_bwrap(void **state)
{
    (void)state;
    need_bwrap();
    pod_flow(BWRAP, 1);
}

/* The highest CPU this process may run on (a pinned pod's CPU that differs from CPU 0
 * where the machine has two). */
static int last_cpu(void)
{
    cpu_set_t set;
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    int last = 0;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set))
            last = c;
    return last;
}

/* A plan for GPU 0 of a host whose /dev is the fixture tree at root (nvidia0, nvidia1,
 * nvidiactl; no nvidia-uvm), pinned to CPU cpu as NUMA node 0. */
static void make_plan(gpf_pod_spec *s, const char *root, gpf_slice_kind kind, int cpu)
{
    gpf_host_facts *f = GPF_NEW(gpf_host_facts);
    gpf_sysfs_host *sys = GPF_NEW(gpf_sysfs_host);
    for (int g = 0; g < 2; g++) {
        gpf_gpu_live_unknown(&f->live[g]);
        f->host.gpus[g].index = g;
        f->live[g].minor = g;
    }
    f->host.ngpus = 2;
    sys->numa_nodes = 1;
    sys->numa_cpus[0] = 1;
    sys->numa_mask[0][cpu / 64] = 1ULL << (cpu % 64);
    gpf_placement pl;
    memset(&pl, 0, sizeof pl);
    pl.ngpus = 1;
    pl.mig_profile_id = -1;
    gpf_iso_input in = {f, sys, NULL, &pl, kind, NULL, root};
    gpf_error err = {0};
    if (gpf_iso_plan_make(&in, &s->iso, &err) != 0)
        fail_msg("plan: %s", gpf_error_msg(&err));
    gpf_free(f);
    gpf_free(sys);
}

/* The sandbox holds only the plan's device nodes, the pod runs on the plan's CPUs, and
 * the status says so; a cgroup root that cannot take the pod is reported, not fatal. */
static void test_pod_isolation(void **state)
{
    (void)state;
    char dir[128], id[GPF_ID_MAX], id2[GPF_ID_MAX], out[1024], want[PATH_MAX + 128], dev[PATH_MAX], cg[PATH_MAX];
    need_bwrap();
    gpf_test_tree_new("gpf-rt-dev", dev, sizeof dev);
    gpf_test_tree_put(dev, "dev/nvidia0", "gpu0\n");
    gpf_test_tree_put(dev, "dev/nvidia1", "gpu1\n");
    gpf_test_tree_put(dev, "dev/nvidiactl", "ctl\n");
    gpf_test_tree_new("gpf-rt-cg", cg, sizeof cg); /* looks like cgroup v2, but is plain files */
    gpf_test_tree_put(cg, "cgroup.controllers", "cpu memory\n");
    gpf_test_tree_put(cg, "cgroup.subtree_control", "");
    state_dir(dir, sizeof dir);
    pod_id(id, sizeof id, "iso");
    pod_id(id2, sizeof id2, "iso2");
    int cpu = last_cpu();
    gpf_runtime *rt = open_rt_cg(dir, BWRAP, S.port_base, S.port_base + 49, cg);
    gpf_pod_spec *s = GPF_NEW(gpf_pod_spec);
    *s = make_spec(id, S.pub_a, "GPU-test-1", "");
    make_plan(s, dev, GPF_SLICE_WHOLE, cpu);
    gpf_pod_status st;
    memset(&st, 0, sizeof st);
    start_pod(rt, s, &st);
    printf("# message: %s\n", st.message);
    assert_int_equal(st.isolation, GPF_ISO_SOFT); /* host root: not a boundary, whatever its devices */
    snprintf(want, sizeof want,
             "bwrap sandbox; dev nvidia0,nvidiactl; missing nvidia-uvm,nvidia-uvm-tools; cpus %d (numa 0), memory "
             "numa 0 preferred; cgroup v2 failed (cgroup.procs: No such file or directory)",
             cpu);
    assert_string_equal(st.message, want);
    snprintf(want, sizeof want, "%s/gpufleet/pod-%s", cg, id);
    assert_int_not_equal(access(want, F_OK), 0); /* the failed cgroup is not left behind */

    /* Inside: the GPU's node and nvidiactl, not the other GPU's; only the plan's CPU. */
    assert_int_equal(ssh_run(S.key_a, st.ssh_port, "cat /dev/nvidia0 /dev/nvidiactl", out, sizeof out), 0);
    assert_string_equal(out, "gpu0\nctl");
    assert_int_equal(ssh_run(S.key_a, st.ssh_port, "ls /dev | grep nvidia | tr \"\\n\" \" \"", out, sizeof out), 0);
    assert_string_equal(out, "nvidia0 nvidiactl ");
    assert_int_equal(ssh_run(S.key_a, st.ssh_port, "grep Cpus_allowed_list /proc/self/status", out, sizeof out), 0);
    snprintf(want, sizeof want, "Cpus_allowed_list:\t%d", cpu);
    assert_string_equal(out, want);
    /* Memory: preferred from the GPU's node (the task policy numa_maps shows). */
    assert_int_equal(ssh_run(S.key_a, st.ssh_port, "head -1 /proc/self/numa_maps | cut -d\" \" -f2", out, sizeof out),
                     0);
    assert_string_equal(out, "prefer:0");
    if (geteuid() == 0) /* root in the sandbox cannot make the nodes it was not given */
        assert_int_not_equal(ssh_run(S.key_a, st.ssh_port, "mknod $HOME/nv1 c 195 1", out, sizeof out), 0);

    /* A share of a GPU: only its device nodes; isolation still "soft". */
    gpf_pod_spec *s2 = GPF_NEW(gpf_pod_spec);
    *s2 = make_spec(id2, S.pub_a, "GPU-test-1", "");
    make_plan(s2, dev, GPF_SLICE_SHARE, cpu);
    start_pod(rt, s2, &st);
    assert_int_equal(st.isolation, GPF_ISO_SOFT);
    gpf_error err = {0};
    assert_int_equal(rt->ops->stop(rt, id, &err), 0);
    assert_int_equal(rt->ops->stop(rt, id2, &err), 0);
    gpf_runtime_close(rt);
    gpf_free(s);
    gpf_free(s2);
    gpf_test_tree_rm(dev);
    gpf_test_tree_rm(cg);
}

static void test_pod_plain(void **state)
{
    (void)state;
    pod_flow("", 0);
}

static void test_readopt(void **state)
{
    (void)state;
    char dir[128], id[GPF_ID_MAX], out[1024];
    need_suite();
    state_dir(dir, sizeof dir);
    pod_id(id, sizeof id, "re");
    gpf_runtime *rt = open_rt(dir, BWRAP, S.port_base, S.port_base + 49);
    gpf_pod_spec s = make_spec(id, S.pub_a, "MIG-1,MIG-2", "");
    gpf_pod_status st;
    memset(&st, 0, sizeof st);
    start_pod(rt, &s, &st);
    gpf_runtime_close(rt); /* the agent goes away; the pod stays */
    assert_int_equal(ssh_run(S.key_a, st.ssh_port, "echo $CUDA_VISIBLE_DEVICES", out, sizeof out), 0);
    assert_string_equal(out, "MIG-1,MIG-2");
    /* As an agent from before pods had cgroups wrote it: no cgroup line. */
    char path[512], text[4096];
    snprintf(path, sizeof path, "%s/pods/%s/state", dir, id);
    assert_int_equal(read_file(path, text, sizeof text), 0);
    char *cgl = strstr(text, "cgroup=");
    assert_non_null(cgl);
    *cgl = '\0';
    FILE *sf = fopen(path, "w");
    assert_non_null(sf);
    fputs(text, sf);
    fclose(sf);

    rt = open_rt(dir, BWRAP, S.port_base, S.port_base + 49);
    char ids[8][GPF_ID_MAX];
    assert_int_equal(rt->ops->list(rt, ids, 8), 1);
    assert_string_equal(ids[0], id);
    gpf_pod_status st2;
    memset(&st2, 0, sizeof st2);
    assert_int_equal(rt->ops->status(rt, id, &st2), 1);
    assert_int_equal(st2.running, 1);
    assert_int_equal(st2.ssh_port, st.ssh_port);
    assert_string_equal(st2.ssh_user, st.ssh_user);
    assert_string_equal(st2.message, st.message);
    /* A new pod on the re-opened runtime does not take the adopted pod's port. */
    char id2[GPF_ID_MAX];
    pod_id(id2, sizeof id2, "re2");
    gpf_pod_spec s2 = make_spec(id2, S.pub_a, "", "");
    gpf_pod_status st3;
    memset(&st3, 0, sizeof st3);
    start_pod(rt, &s2, &st3);
    assert_int_not_equal(st3.ssh_port, st.ssh_port);
    assert_int_equal(ssh_run(S.key_a, st3.ssh_port, "echo \"[$CUDA_VISIBLE_DEVICES] $NVIDIA_VISIBLE_DEVICES\"", out,
                             sizeof out),
                     0);
    assert_string_equal(out, "[] void");

    gpf_error err = {0};
    assert_int_equal(rt->ops->stop(rt, id, &err), 0);
    assert_int_equal(count_pod_procs(id, NULL), 0);
    assert_false(port_accepts(st.ssh_port));
    assert_int_equal(rt->ops->list(rt, ids, 8), 1);
    assert_int_equal(rt->ops->stop(rt, id2, &err), 0);
    assert_int_equal(count_pod_procs(id2, NULL), 0);
    gpf_runtime_close(rt);

    /* A pod that died while no runtime watched is seen as not running. */
    rt = open_rt(dir, "", S.port_base, S.port_base + 49);
    start_pod(rt, &s, &st);
    int root = pod_root_pid(dir, id);
    gpf_runtime_close(rt);
    assert_true(root > 1);
    kill(-root, SIGKILL);
    for (int i = 0; i < 2000 && proc_alive(root); i++)
        gpf_sleep_ms(5);
    assert_false(proc_alive(root));
    rt = open_rt(dir, "", S.port_base, S.port_base + 49);
    assert_int_equal(rt->ops->status(rt, id, NULL), 0);
    assert_int_equal(rt->ops->list(rt, ids, 8), 0);
    start_pod(rt, &s, &st); /* starting it again works */
    assert_int_equal(rt->ops->stop(rt, id, &err), 0);
    gpf_runtime_close(rt);
}

/* Waits until the pod has `want` SSH sessions (the count seen last). */
static int wait_sessions(gpf_runtime *rt, const char *id, int want, gpf_pod_activity *act)
{
    for (int i = 0; i < 2000; i++) {
        assert_int_equal(rt->ops->activity(rt, id, act), 0);
        if (act->ssh_sessions == want)
            break;
        gpf_sleep_ms(5);
    }
    return act->ssh_sessions;
}

static int has_pid(const gpf_pod_activity *act, int pid)
{
    for (int i = 0; i < act->npids; i++)
        if ((int)act->pids[i] == pid)
            return 1;
    return 0;
}

/* Idle detection: the pod's processes, and its SSH sessions as they open and close. */
static void activity_flow(const char *bwrap)
{
    char dir[128], id[GPF_ID_MAX], line[1024];
    state_dir(dir, sizeof dir);
    pod_id(id, sizeof id, bwrap[0] ? "actbw" : "act");
    gpf_runtime *rt = open_rt(dir, bwrap, S.port_base, S.port_base + 49);
    gpf_pod_spec s = make_spec(id, S.pub_a, "", "");
    gpf_pod_status st;
    start_pod(rt, &s, &st);
    gpf_pod_activity *act = GPF_NEW(gpf_pod_activity);
    assert_int_equal(wait_sessions(rt, id, 0, act), 0);
    int root = pod_root_pid(dir, id);
    assert_true(has_pid(act, root));
    int idle_pids = act->npids;

    /* A session open: one, with its processes; closed (the client goes): none. */
    ssh_line(line, sizeof line, S.key_a, st.ssh_port, "sleep 30");
    pid_t client = fork();
    if (client == 0) {
        char cmd[1100];
        snprintf(cmd, sizeof cmd, "exec %s", line);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    assert_int_equal(wait_sessions(rt, id, 1, act), 1);
    assert_true(act->npids > idle_pids);
    int running = 0; /* the session's command runs: still one session */
    for (int k = 0; k < 2000 && !running; k++, gpf_sleep_ms(5)) {
        assert_int_equal(rt->ops->activity(rt, id, act), 0);
        for (int i = 0; i < act->npids && !running; i++) {
            gpf_rtsys_proc pr;
            running = gpf_rtsys_proc_read((pid_t)act->pids[i], &pr) == 0 && !strcmp(pr.comm, "sleep");
        }
    }
    assert_true(running);
    assert_int_equal(act->ssh_sessions, 1);
    kill(client, SIGTERM);
    waitpid(client, NULL, 0);
    if (wait_sessions(rt, id, 0, act) != 0)
        fail_msg("the closed session still counts: %d", act->ssh_sessions);
    assert_true(has_pid(act, root));

    /* A process that left the pod's process tree is still the pod's: it carries its id. */
    assert_int_equal(ssh_run(S.key_a, st.ssh_port, "setsid sleep 31 </dev/null >/dev/null 2>&1 &", line, sizeof line),
                     0);
    int found = 0;
    for (int k = 0; k < 2000 && !found; k++, gpf_sleep_ms(5)) {
        assert_int_equal(rt->ops->activity(rt, id, act), 0);
        for (int i = 0; i < act->npids && !found; i++) {
            char path[64], cmd[256];
            snprintf(path, sizeof path, "/proc/%u/cmdline", act->pids[i]);
            found = read_file(path, cmd, sizeof cmd) == 0 && !strcmp(cmd, "sleep") && !strcmp(cmd + 6, "31");
        }
    }
    assert_true(found);

    gpf_error err = {0};
    assert_int_equal(rt->ops->stop(rt, id, &err), 0);
    assert_int_equal(rt->ops->activity(rt, id, act), GPF_ENOTFOUND);
    assert_int_equal(rt->ops->activity(rt, "no-such-pod", act), GPF_ENOTFOUND);
    gpf_free(act);
    gpf_runtime_close(rt);
}

static void test_activity(void **state)
{
    (void)state;
    need_suite();
    activity_flow("");
    need_bwrap();
    activity_flow(BWRAP);
}

/* A writable cgroup v2 mount of this machine into out, or 0 when there is none. */
static int find_cgroup2(char *out, size_t size)
{
    char line[1024];
    int found = 0;
    FILE *f = fopen("/proc/self/mountinfo", "r");
    while (f && !found && fgets(line, sizeof line, f)) {
        char mnt[512];
        /* "id parent major:minor root mountpoint options … - cgroup2 source …" */
        if (strstr(line, " - cgroup2 ") && sscanf(line, "%*s %*s %*s %*s %511s", mnt) == 1) {
            snprintf(out, size, "%s", mnt);
            int version = 0;
            found = gpf_rtcg_probe(out, &version, NULL) == 0 && version == 2;
        }
    }
    if (f)
        fclose(f);
    return found;
}

/* A real cgroup v2: the pod and what it starts are in it, with its limits where the
 * hierarchy has the controllers; a process that left the pod's process tree and
 * environment still dies with the pod; the cgroup goes with it. */
static void test_cgroup_real(void **state)
{
    (void)state;
    char mnt[512], dir[128], id[GPF_ID_MAX], out[1024], cgdir[700], buf[256];
    need_suite();
    if (geteuid() != 0 || !find_cgroup2(mnt, sizeof mnt)) {
        printf("# no writable cgroup v2 here: real cgroup not tested\n");
        skip();
    }
    state_dir(dir, sizeof dir);
    pod_id(id, sizeof id, "cg");
    gpf_runtime *rt = open_rt_cg(dir, "", S.port_base, S.port_base + 49, mnt);
    gpf_pod_spec s = make_spec(id, S.pub_a, "", ""); /* 2 CPUs, 1024 MiB */
    gpf_pod_status st;
    start_pod(rt, &s, &st);
    printf("# cgroup v2 at %s: %s\n", mnt, st.message);
    snprintf(cgdir, sizeof cgdir, "%s/gpufleet/pod-%s", mnt, id);
    /* The limits the message claims are the ones set (which the hierarchy allows: a
     * hybrid host's cgroup v2 has no cpu or memory controller). */
    assert_non_null(strstr(st.message, "; cgroup v2"));
    if (strstr(st.message, " cpu 2"))
        assert_string_equal(gpf_test_tree_get(cgdir, "cpu.max", buf, sizeof buf), "200000 100000\n");
    else
        assert_non_null(strstr(st.message, "(no cpu"));
    if (strstr(st.message, " mem 1024M"))
        assert_string_equal(gpf_test_tree_get(cgdir, "memory.max", buf, sizeof buf), "1073741824\n");
    else
        assert_non_null(strstr(st.message, "memory limit)"));
    pid_t members[64];
    int n = gpf_rtcg_pids(cgdir, members, 64), root = pod_root_pid(dir, id), seen = 0;
    for (int i = 0; i < n; i++)
        seen |= members[i] == root;
    assert_true(seen);

    /* Leaves the process tree (new session, reparented) and drops GPUFLEET_POD_ID. */
    assert_int_equal(
        ssh_run(S.key_a, st.ssh_port, "env -i setsid sleep 300 </dev/null >/dev/null 2>&1 &", out, sizeof out), 0);
    int escaped = 0;
    for (int k = 0; k < 2000 && !escaped; k++) {
        n = gpf_rtcg_pids(cgdir, members, 64);
        for (int i = 0; i < n && !escaped; i++) {
            gpf_rtsys_proc pr;
            if (gpf_rtsys_proc_read(members[i], &pr) == 0 && !strcmp(pr.comm, "sleep"))
                escaped = members[i];
        }
        gpf_sleep_ms(5);
    }
    assert_true(escaped > 0);
    gpf_error err = {0};
    assert_int_equal(rt->ops->stop(rt, id, &err), 0);
    assert_false(proc_alive(escaped));
    assert_int_not_equal(access(cgdir, F_OK), 0);
    gpf_runtime_close(rt);
    snprintf(cgdir, sizeof cgdir, "%s/gpufleet", mnt);
    rmdir(cgdir); /* fine to fail: another pod may use it */
}

/* 1 when the file dir/name lists pid on a line of its own. */
static int lists_pid(const char *dir, const char *name, int pid)
{
    char path[700], buf[4096], want[32];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(want, sizeof want, "\n%d\n", pid);
    size_t n = 1;
    buf[0] = '\n';
    FILE *f = fopen(path, "r");
    if (f) {
        n += fread(buf + 1, 1, sizeof buf - 2, f);
        fclose(f);
    }
    buf[n] = '\0';
    return strstr(buf, want) != NULL;
}

/* Real cgroup v1 hierarchies (a hybrid or v1 host's /sys/fs/cgroup, as root): the pod
 * is in its memory and cpu cgroups with the limits the message claims, and the kernel
 * enforces the memory limit: a process in the pod that touches more than it is killed,
 * one that stays under runs. The cgroups go with the pod. */
static void test_cgroup_v1_real(void **state)
{
    (void)state;
    char dir[128], id[GPF_ID_MAX], out[1024], dirs[3][256], buf[64], dev[PATH_MAX], want[256];
    int version = 0;
    need_suite();
    if (geteuid() != 0 || gpf_rtcg_probe("/sys/fs/cgroup", &version, NULL) != 0 || version != 1 ||
        access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) != 0 ||
        access("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", F_OK) != 0) {
        printf("# no writable cgroup v1 memory and cpu hierarchies here: real cgroup v1 not tested\n");
        skip();
    }
    state_dir(dir, sizeof dir);
    pod_id(id, sizeof id, "cg1");
    gpf_runtime *rt = open_rt_cg(dir, "", S.port_base, S.port_base + 49, "/sys/fs/cgroup");
    gpf_pod_spec *s = GPF_NEW(gpf_pod_spec);
    *s = make_spec(id, S.pub_a, "", "");
    s->cpus = 1;
    s->memory_mib = 64;
    int cpu = last_cpu(), cpuset = access("/sys/fs/cgroup/cpuset/cpuset.cpus", F_OK) == 0;
    gpf_test_tree_new("gpf-rt-dev1", dev, sizeof dev);
    gpf_test_tree_put(dev, "dev/nvidia0", "gpu0\n");
    make_plan(s, dev, GPF_SLICE_WHOLE, cpu); /* pinned to one CPU */
    gpf_pod_status st;
    start_pod(rt, s, &st);
    printf("# cgroup v1: %s\n", st.message);
    snprintf(want, sizeof want, "cpus %d (numa 0), memory numa 0 preferred; cgroup v1 cpu 1 mem 64M%s", cpu,
             cpuset ? " cpuset" : "");
    assert_non_null(strstr(st.message, want));
    snprintf(dirs[0], sizeof dirs[0], "/sys/fs/cgroup/memory/gpufleet/pod-%s", id);
    snprintf(dirs[1], sizeof dirs[1], "/sys/fs/cgroup/cpu/gpufleet/pod-%s", id);
    snprintf(dirs[2], sizeof dirs[2], "/sys/fs/cgroup/cpuset/gpufleet/pod-%s", id);
    assert_string_equal(gpf_test_tree_get(dirs[0], "memory.limit_in_bytes", buf, sizeof buf), "67108864\n");
    assert_string_equal(gpf_test_tree_get(dirs[1], "cpu.cfs_quota_us", buf, sizeof buf), "100000\n");
    assert_string_equal(gpf_test_tree_get(dirs[1], "cpu.cfs_period_us", buf, sizeof buf), "100000\n");
    int root = pod_root_pid(dir, id);
    assert_true(lists_pid(dirs[0], "cgroup.procs", root));
    assert_true(lists_pid(dirs[1], "cgroup.procs", root));
    if (cpuset) {
        /* The pod cannot widen its pinning: asking for every CPU still gives it its one. */
        snprintf(want, sizeof want, "%d\n", cpu);
        assert_string_equal(gpf_test_tree_get(dirs[2], "cpuset.cpus", buf, sizeof buf), want);
        assert_true(lists_pid(dirs[2], "cgroup.procs", root));
        assert_int_equal(ssh_run(S.key_a, st.ssh_port, "taskset -c 0-1023 grep Cpus_allowed_list /proc/self/status",
                                 out, sizeof out),
                         0);
        snprintf(want, sizeof want, "Cpus_allowed_list:\t%d", cpu);
        assert_string_equal(out, want);
    } else {
        printf("# no cgroup v1 cpuset hierarchy here: cpuset not tested\n");
    }

    /* Under the limit it runs; over it the kernel kills it (SIGKILL: 128 + 9), and the
     * pod goes on. dd fills a buffer of bs bytes, so it touches that much memory. */
    assert_int_equal(ssh_run(S.key_a, st.ssh_port, "dd if=/dev/zero of=/dev/null bs=16M count=1 2>/dev/null; echo rc=$?",
                             out, sizeof out),
                     0);
    assert_string_equal(out, "rc=0");
    printf("# pod memory peak with the 16 MiB dd: %lld KiB of 65536\n",
           atoll(gpf_test_tree_get(dirs[0], "memory.max_usage_in_bytes", buf, sizeof buf)) / 1024);
    assert_int_equal(ssh_run(S.key_a, st.ssh_port, "dd if=/dev/zero of=/dev/null bs=256M count=1 2>/dev/null; echo rc=$?",
                             out, sizeof out),
                     0);
    assert_non_null(strstr(out, "rc=137")); /* after the shell's "Killed" line */
    assert_int_not_equal(strcmp(gpf_test_tree_get(dirs[0], "memory.failcnt", buf, sizeof buf), "0\n"), 0);
    assert_int_equal(ssh_run(S.key_a, st.ssh_port, "echo alive", out, sizeof out), 0);
    assert_string_equal(out, "alive");

    gpf_error err = {0};
    assert_int_equal(rt->ops->stop(rt, id, &err), 0);
    assert_int_not_equal(access(dirs[0], F_OK), 0);
    assert_int_not_equal(access(dirs[1], F_OK), 0);
    assert_int_not_equal(access(dirs[2], F_OK), 0);
    gpf_runtime_close(rt);
    gpf_free(s);
    gpf_test_tree_rm(dev);
    rmdir("/sys/fs/cgroup/memory/gpufleet"); /* fine to fail: another pod may use them */
    rmdir("/sys/fs/cgroup/cpu/gpufleet");
    rmdir("/sys/fs/cgroup/cpuset/gpufleet");
}

static void write_script(const char *path, const char *body)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(body, f);
    fclose(f);
    chmod(path, 0755);
}

static void test_errors(void **state)
{
    (void)state;
    char dir[128], id[GPF_ID_MAX], path[512];
    need_suite();
    state_dir(dir, sizeof dir);
    pod_id(id, sizeof id, "err");
    gpf_runtime *rt = open_rt(dir, BWRAP, S.port_base, S.port_base + 49);
    gpf_pod_status st;
    gpf_error err = {0};
    struct {
        const char *id, *pub, *dev, *env, *want;
    } bad[] = {
        {"../x", S.pub_a, "", "", "not a valid name"},
        {"", S.pub_a, "", "", "not a valid name"},
        {id, "not a key", "", "", "ssh_pubkey"},
        {id, "ssh-ed25519 AAAA\nssh-ed25519 BBBB", "", "", "ssh_pubkey"},
        {id, S.pub_a, "GPU-1\"", "", "device ids"},
        {id, S.pub_a, "GPU 1", "", "device ids"},
        {id, S.pub_a, "", "CUDA_VISIBLE_DEVICES=0", "set by the runtime"},
        {id, S.pub_a, "", "A=\"x\"", "quote"},
        {id, S.pub_a, "", "NOEQUALS", "KEY=VALUE"},
        {id, S.pub_a, "", "1A=2", "valid name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gpf_pod_spec s = make_spec(bad[i].id, bad[i].pub, bad[i].dev, bad[i].env);
        assert_int_equal(gpf_runtime_start(rt, &s, &st, &err), GPF_EINVAL);
        if (!strstr(err.msg, bad[i].want))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, bad[i].want);
    }
    snprintf(path, sizeof path, "%s/pods/%s", dir, id);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(rt->ops->stop(rt, "../etc", &err), GPF_EINVAL);
    assert_int_equal(rt->ops->stop(rt, "no-such-pod", &err), 0);

    /* Only one port: a second pod finds none. The port is one nothing else holds now, so
     * other programs on the machine cannot make this case flaky. */
    gpf_runtime_close(rt);
    int only = free_port();
    rt = open_rt(dir, "", only, only);
    gpf_pod_spec s = make_spec(id, S.pub_a, "", "");
    start_pod(rt, &s, &st);
    assert_int_equal(st.ssh_port, only);
    char id2[GPF_ID_MAX];
    pod_id(id2, sizeof id2, "err2");
    gpf_pod_spec s2 = make_spec(id2, S.pub_a, "", "");
    assert_int_equal(gpf_runtime_start(rt, &s2, &st, &err), GPF_ENOCAPACITY);
    assert_int_equal(rt->ops->stop(rt, id, &err), 0);
    gpf_runtime_close(rt);

    /* An sshd that refuses its configuration: the runtime does not open, and says why. */
    char fake[256];
    snprintf(fake, sizeof fake, "%s/fake-sshd-exit", S.dir);
    write_script(fake, "#!/bin/sh\necho starting >&2\necho fake sshd refuses to start >&2\nexit 1\n");
    gpf_runtime_config c;
    memset(&c, 0, sizeof c);
    c.state_dir = dir;
    c.port_min = S.port_base;
    c.port_max = S.port_base + 49;
    c.sshd_path = fake;
    c.bwrap_path = BWRAP;
    c.start_timeout_ms = 300;
    assert_int_equal(gpf_runtime_process_open(&c, &rt, &err), GPF_EUNAVAIL);
    if (!strstr(err.msg, "fake sshd refuses to start") || !strstr(err.msg, "sshd -t"))
        fail_msg("message: %s", err.msg);
    /* One that never answers: given up after the timeout. */
    snprintf(fake, sizeof fake, "%s/fake-sshd-hang", S.dir);
    write_script(fake, "#!/bin/sh\necho hanging >&2\nexec sleep 30\n");
    int64_t t0 = gpf_mono_ms();
    assert_int_not_equal(gpf_runtime_process_open(&c, &rt, &err), 0);
    assert_true(gpf_mono_ms() - t0 < 20000); /* given up, not waited out: it hangs 30 s */
    c.sshd_path = SSHD;

    /* A pod whose root process exits at once: the error carries its last words; nothing
     * is left. */
    snprintf(fake, sizeof fake, "%s/fake-init-exit", S.dir);
    write_script(fake, "#!/bin/sh\necho starting >&2\necho fake init refuses to start >&2\nexit 1\n");
    c.init_path = fake;
    assert_int_equal(gpf_runtime_process_open(&c, &rt, &err), 0);
    assert_int_equal(gpf_runtime_start(rt, &s, &st, &err), GPF_EIO);
    if (!strstr(err.msg, "fake init refuses to start") || !strstr(err.msg, "exited"))
        fail_msg("message: %s", err.msg);
    assert_int_not_equal(access(path, F_OK), 0);
    char ids[4][GPF_ID_MAX];
    assert_int_equal(rt->ops->list(rt, ids, 4), 0);
    gpf_runtime_close(rt);

    /* One that never says it accepts connections: killed after the timeout. */
    snprintf(fake, sizeof fake, "%s/fake-init-hang", S.dir);
    write_script(fake, "#!/bin/sh\necho hanging >&2\nexec sleep 30\n");
    c.bwrap_path = "";
    assert_int_equal(gpf_runtime_process_open(&c, &rt, &err), 0);
    t0 = gpf_mono_ms();
    assert_int_equal(gpf_runtime_start(rt, &s, &st, &err), GPF_EIO);
    assert_true(gpf_mono_ms() - t0 < 20000); /* killed, not waited out: it hangs 30 s */
    if (!strstr(err.msg, "did not answer in time") || !strstr(err.msg, "hanging"))
        fail_msg("message: %s", err.msg);
    assert_int_equal(count_pod_procs(id, NULL), 0);
    assert_int_not_equal(access(path, F_OK), 0);
    gpf_runtime_close(rt);
    c.init_path = NULL;

    /* Bad configurations. */
    c.sshd_path = "/nonexistent/sshd";
    assert_int_equal(gpf_runtime_process_open(&c, &rt, &err), GPF_EUNAVAIL);
    assert_non_null(strstr(err.msg, "/nonexistent/sshd"));
    c.sshd_path = SSHD;
    c.init_path = "/nonexistent/gpufleet";
    assert_int_equal(gpf_runtime_process_open(&c, &rt, &err), GPF_EUNAVAIL);
    assert_non_null(strstr(err.msg, "/nonexistent/gpufleet"));
    c.init_path = NULL;
    c.port_min = 5000;
    c.port_max = 4000;
    assert_int_equal(gpf_runtime_process_open(&c, &rt, &err), GPF_EINVAL);
    c.port_min = 4000;
    c.port_max = 5000;
    c.state_dir = "";
    assert_int_equal(gpf_runtime_process_open(&c, &rt, &err), GPF_EINVAL);
    c.state_dir = dir;
    c.listen_address = "127.0.0.1\nPermitRootLogin yes";
    assert_int_equal(gpf_runtime_process_open(&c, &rt, &err), GPF_EINVAL);
    /* bubblewrap missing: falls back and says why */
    c.listen_address = NULL;
    c.bwrap_path = "/nonexistent/bwrap";
    assert_int_equal(gpf_runtime_process_open(&c, &rt, &err), 0);
    gpf_runtime_close(rt);
    gpf_runtime_close(NULL);
}

/* Runs this program's `pod-init` with args (NULL-terminated) and fd 4 = fd4 (-1: none);
 * returns its exit status, stderr in out. */
static int run_init(int fd4, char *out, size_t size, ...)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = '\0';
    char *argv[16] = {self, "pod-init"};
    int a = 2;
    va_list ap;
    va_start(ap, size);
    for (char *s; a < 15 && (s = va_arg(ap, char *)) != NULL;)
        argv[a++] = s;
    va_end(ap);
    argv[a] = NULL;
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 2);
        if (fd4 >= 0)
            dup2(fd4, 4);
        execv(self, argv);
        _exit(127);
    }
    close(pfd[1]);
    ssize_t got = read(pfd[0], out, size - 1);
    out[got > 0 ? got : 0] = '\0';
    close(pfd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Several pods on their way at once: each on its own port (one the agent could not bind
 * is skipped), none running until its init accepts connections, each reached over ssh
 * once ready; a pod stopped while starting leaves nothing; pod-init refuses bad use. */
static void test_parallel_starts(void **state)
{
    (void)state;
    need_suite();
    char dir[128], out[512];
    char ids[4][GPF_ID_MAX];
    gpf_error err = {0};
    state_dir(dir, sizeof dir);
    /* Something else listens on the range's first port (a port the kernel picked, with
     * three free ones after it, so other tests on this machine do not get in the way). */
    int busy = -1, base = 0;
    for (int tries = 0; tries < 50 && busy < 0; tries++) {
        struct sockaddr_in a;
        socklen_t len = sizeof a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        busy = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_int_equal(bind(busy, (struct sockaddr *)&a, sizeof a), 0);
        assert_int_equal(listen(busy, 4), 0);
        assert_int_equal(getsockname(busy, (struct sockaddr *)&a, &len), 0);
        base = ntohs(a.sin_port);
        int fd = -1;
        for (int k = 1; k <= 3 && base + k <= 65535; k++) {
            struct sockaddr_storage ss;
            memcpy(&ss, &a, sizeof a);
            if ((fd = gpf_rtsys_listen(&ss, sizeof a, base + k)) < 0)
                break;
            close(fd);
        }
        if (fd < 0 || base + 3 > 65535) {
            close(busy);
            busy = -1;
        }
    }
    assert_true(busy >= 0);
    gpf_runtime *rt = open_rt(dir, "", base, base + 3);
    gpf_pod_spec s[3];
    for (int i = 0; i < 3; i++) {
        char tag[16];
        snprintf(tag, sizeof tag, "par%d", i);
        pod_id(ids[i], sizeof ids[i], tag);
        s[i] = make_spec(ids[i], S.pub_a, "", "");
        assert_int_equal(rt->ops->start_begin(rt, &s[i], &err), 0);
        assert_int_equal(rt->ops->start_begin(rt, &s[i], &err), 0); /* again: still one */
    }
    /* The range is full: its three free ports are the three pods'. */
    char extra_id[GPF_ID_MAX];
    pod_id(extra_id, sizeof extra_id, "par3");
    gpf_pod_spec extra = make_spec(extra_id, S.pub_a, "", "");
    assert_int_equal(rt->ops->start_begin(rt, &extra, &err), GPF_ENOCAPACITY);
    gpf_pod_status st[3];
    int ready[3] = {0, 0, 0}, left = 3;
    for (int k = 0; k < 5000 && left > 0; k++) {
        for (int i = 0; i < 3; i++) {
            if (ready[i])
                continue;
            if (k == 0) { /* not running before it is ready */
                gpf_pod_activity act;
                assert_int_equal(rt->ops->status(rt, ids[i], NULL), 0);
                assert_int_equal(rt->ops->activity(rt, ids[i], &act), GPF_ENOTFOUND);
            }
            int rc = rt->ops->start_poll(rt, ids[i], &st[i], &err);
            if (rc < 0)
                fail_msg("start %s: %s", ids[i], gpf_error_msg(&err));
            if (rc == 1) {
                ready[i] = 1;
                left--;
            }
        }
        gpf_sleep_ms(2);
    }
    assert_int_equal(left, 0);
    for (int i = 0; i < 3; i++) {
        assert_true(st[i].ssh_port > base && st[i].ssh_port <= base + 3);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(st[i].ssh_port, st[j].ssh_port);
        assert_int_equal(ssh_run(S.key_a, st[i].ssh_port, "echo $GPUFLEET_POD_ID", out, sizeof out), 0);
        assert_string_equal(out, ids[i]);
        assert_int_equal(rt->ops->status(rt, ids[i], NULL), 1);
        assert_int_equal(rt->ops->start_poll(rt, ids[i], NULL, &err), 1); /* ready stays ready */
    }
    char listed[8][GPF_ID_MAX];
    assert_int_equal(rt->ops->list(rt, listed, 8), 3);
    /* Stopped while on its way: nothing left, and its start is over. */
    assert_int_equal(rt->ops->stop(rt, ids[2], &err), 0);
    assert_int_equal(rt->ops->start_begin(rt, &extra, &err), 0);
    assert_int_equal(rt->ops->stop(rt, extra_id, &err), 0);
    assert_int_equal(rt->ops->start_poll(rt, extra_id, NULL, &err), GPF_ENOTFOUND);
    assert_int_equal(count_pod_procs(extra_id, NULL), 0);
    char path[256];
    snprintf(path, sizeof path, "%s/pods/%s", dir, extra_id);
    assert_int_not_equal(access(path, F_OK), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(rt->ops->stop(rt, ids[i], &err), 0);
    gpf_runtime_close(rt);
    close(busy);

    /* pod-init on its own: a usage error, and a descriptor that is not a listening socket. */
    assert_int_equal(run_init(-1, out, sizeof out, "--fd", (char *)NULL), 2);
    assert_non_null(strstr(out, "usage: gpufleet pod-init"));
    assert_int_equal(run_init(-1, out, sizeof out, "--fd", "4", "--sshd", "sshd", "--config", "/x", (char *)NULL), 2);
    int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(run_init(sock, out, sizeof out, "--fd", "4", "--sshd", SSHD, "--config", "/x", (char *)NULL), 1);
    assert_non_null(strstr(out, "not a listening socket"));
    close(sock);
}

/* The small helper binary (gpufleet-ssh-helper, built beside the tests' directory) as the
 * pods' init: a pod reached over ssh through it; and its usage. */
static void test_helper_binary(void **state)
{
    (void)state;
    need_suite();
    char self[4096], helper[4200], dir[128], id[GPF_ID_MAX], out[512];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = '\0';
    *strrchr(self, '/') = '\0'; /* BUILD/tests */
    snprintf(helper, sizeof helper, "%s/../" GPF_SSH_HELPER, self);
    assert_int_equal(access(helper, X_OK), 0); /* `make test` builds it first */
    state_dir(dir, sizeof dir);
    gpf_runtime_config c;
    memset(&c, 0, sizeof c);
    c.state_dir = dir;
    c.listen_address = "127.0.0.1";
    c.port_min = S.port_base + 40;
    c.port_max = S.port_base + 49;
    c.sshd_path = SSHD;
    c.bwrap_path = "";
    c.cgroup_root = "";
    c.init_path = helper;
    gpf_runtime *rt = NULL;
    gpf_error err = {0};
    assert_int_equal(gpf_runtime_process_open(&c, &rt, &err), 0);
    pod_id(id, sizeof id, "helper");
    gpf_pod_spec s = make_spec(id, S.pub_a, "", "");
    gpf_pod_status st;
    start_pod(rt, &s, &st);
    assert_int_equal(ssh_run(S.key_a, st.ssh_port, "echo $GPUFLEET_POD_ID", out, sizeof out), 0);
    assert_string_equal(out, id);
    int root = pod_root_pid(dir, id);
    char comm[64];
    snprintf(out, sizeof out, "/proc/%d/comm", root);
    assert_int_equal(read_file(out, comm, sizeof comm), 0);
    assert_non_null(strstr(comm, "gpufleet-ssh"));
    assert_int_equal(rt->ops->stop(rt, id, &err), 0);
    gpf_runtime_close(rt);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "%s bogus 2>/dev/null", helper);
    assert_int_equal(run_quiet(cmd), 2);
}

/* ---- suite ---------------------------------------------------------- */

static int suite_setup(void **state)
{
    (void)state;
    memset(&S, 0, sizeof S);
    if (access(SSHD, X_OK) != 0 || run_quiet("command -v ssh >/dev/null && command -v ssh-keygen >/dev/null") != 0) {
        snprintf(S.skip_why, sizeof S.skip_why, "OpenSSH (%s, ssh, ssh-keygen) is not installed", SSHD);
        return 0;
    }
    struct passwd *pw = getpwuid(geteuid());
    if (!pw) {
        snprintf(S.skip_why, sizeof S.skip_why, "no passwd entry for uid %u", (unsigned)geteuid());
        return 0;
    }
    snprintf(S.user, sizeof S.user, "%s", pw->pw_name);
    snprintf(S.dir, sizeof S.dir, "/tmp/gpf-rt-XXXXXX");
    if (!mkdtemp(S.dir))
        return -1;
    char cmd[512];
    snprintf(S.key_a, sizeof S.key_a, "%s/key_a", S.dir);
    snprintf(S.key_b, sizeof S.key_b, "%s/key_b", S.dir);
    snprintf(cmd, sizeof cmd, "ssh-keygen -q -t ed25519 -N '' -f %s && ssh-keygen -q -t ed25519 -N '' -f %s", S.key_a,
             S.key_b);
    if (run_quiet(cmd) != 0)
        return -1;
    snprintf(cmd, sizeof cmd, "%s.pub", S.key_a);
    if (read_file(cmd, S.pub_a, sizeof S.pub_a) != 0)
        return -1;
    S.pub_a[strcspn(S.pub_a, "\n")] = '\0';
    srand((unsigned)(getpid() ^ time(NULL)));
    S.port_base = 39000 + (rand() % 19) * 50;
    S.ok = 1;
    return 0;
}

/* Kills whatever a failed test left running and removes the temp dir. */
static int suite_teardown(void **state)
{
    (void)state;
    if (!S.dir[0])
        return 0;
    char prefix[64], path[64], buf[16384];
    snprintf(prefix, sizeof prefix, "GPUFLEET_POD_ID=pod-%d-", (int)getpid());
    DIR *d = opendir("/proc");
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        int pid = atoi(de->d_name);
        snprintf(path, sizeof path, "/proc/%d/environ", pid);
        int fd = pid > 1 && pid != getpid() ? open(path, O_RDONLY) : -1;
        if (fd < 0)
            continue;
        ssize_t len = read(fd, buf, sizeof buf - 1);
        close(fd);
        for (ssize_t off = 0; len > 0 && off < len; off += (ssize_t)strlen(buf + off) + 1)
            if (!strncmp(buf + off, prefix, strlen(prefix)))
                kill(pid, SIGKILL);
    }
    if (d)
        closedir(d);
    /* Plain sshd rewrites its environment: find those through the state files. */
    for (int i = 1; i <= S.nstate; i++) {
        char pods[128];
        snprintf(pods, sizeof pods, "%s/state%d/pods", S.dir, i);
        DIR *pd = opendir(pods);
        while (pd && (de = readdir(pd)) != NULL) {
            char sdir[128];
            snprintf(sdir, sizeof sdir, "%s/state%d", S.dir, i);
            int pid = de->d_name[0] != '.' ? pod_root_pid(sdir, de->d_name) : 0;
            if (pid > 1) {
                kill(-pid, SIGKILL);
                kill(pid, SIGKILL);
            }
        }
        if (pd)
            closedir(pd);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", S.dir);
    run_quiet(cmd);
    return 0;
}

/* The sealed copy a runtime starts a program from (runc): the same bytes, sealed against
 * every change, started through the descriptor, and known stale once the file is replaced. */
static void test_sealed_copy(void **state)
{
    (void)state;
    char dir[] = "/tmp/gpf-sealed-XXXXXX", prog[64], out[64], text[64] = "", cmp[8192], orig[8192];
    assert_non_null(mkdtemp(dir));
    snprintf(prog, sizeof prog, "%s/prog", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    gpf_error err = {0};
    gpf_rtsys_file_id id;
    assert_int_equal(gpf_rtsys_sealed_copy(prog, &id, &err), -1); /* missing: an error, no descriptor */
    assert_int_equal(err.code, GPF_EIO);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "cp /bin/echo %s", prog);
    assert_int_equal(system(cmd), 0);
    int fd = gpf_rtsys_sealed_copy(prog, &id, &err);
    assert_true(fd > 2);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    int seals = fcntl(fd, F_GET_SEALS);
    assert_int_equal(seals, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
    assert_int_equal(pwrite(fd, "x", 1, 0), -1); /* nothing can change it */
    assert_int_equal(errno, EPERM);
    assert_int_equal(ftruncate(fd, 1), -1);
    assert_int_not_equal(fcntl(fd, F_ADD_SEALS, 0), 0);
    int pf = open(prog, O_RDONLY);
    ssize_t a = pread(pf, orig, sizeof orig, 0), b = pread(fd, cmp, sizeof cmp, 0);
    close(pf);
    assert_true(a > 0);
    assert_int_equal(a, b);
    assert_memory_equal(orig, cmp, (size_t)a);
    assert_int_equal(gpf_rtsys_sealed_stale(prog, &id), 0);

    /* Started through the descriptor: argv[0] only names it (it is not a program here). */
    int ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(ofd >= 0);
    char *argv[] = {"/nonexistent/echo-from-memfd", "sealed", "copy", NULL};
    char *envp[] = {NULL};
    gpf_rtsys_spawn_opts so = {.cpus = NULL, .mem_node = -1, .ncgroup_fds = 0, .pass_fd = -1, .exec_fd = fd};
    pid_t pid = 0;
    int src = gpf_rtsys_spawn_detached(argv, envp, ofd, &so, &pid, &err);
    if (src != 0)
        print_message("spawn: %s\n", gpf_error_msg(&err));
    assert_int_equal(src, 0);
    close(ofd);
    for (int i = 0; i < 3000 && !strchr(text, '\n'); i++) {
        int tf = open(out, O_RDONLY | O_CLOEXEC);
        ssize_t got = tf >= 0 ? read(tf, text, sizeof text - 1) : -1;
        text[got > 0 ? got : 0] = '\0';
        if (tf >= 0)
            close(tf);
        usleep(10000);
    }
    assert_string_equal(text, "sealed copy\n");
    /* Without exec_fd, the same argv[0] is what runs, and it does not exist. */
    so.exec_fd = 0;
    ofd = open(out, O_WRONLY | O_CLOEXEC);
    assert_int_not_equal(gpf_rtsys_spawn_detached(argv, envp, ofd, &so, &pid, &err), 0);
    close(ofd);

    /* The file replaced (an upgrade): the copy is stale; so it is once the file is gone. */
    snprintf(cmd, sizeof cmd, "cp /bin/true %s.new && mv %s.new %s", prog, prog, prog);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(gpf_rtsys_sealed_stale(prog, &id), 1);
    unlink(prog);
    assert_int_equal(gpf_rtsys_sealed_stale(prog, &id), 1);
    close(fd);
    unlink(out);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    /* The runtime starts every pod's init as this program (/proc/self/exe) `pod-init`. */
    if (argc >= 2 && !strcmp(argv[1], "pod-init"))
        return gpf_pod_init_main(argc - 2, argv + 2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sealed_copy),
        cmocka_unit_test(test_pod_bwrap),
        cmocka_unit_test(test_pod_plain),
        cmocka_unit_test(test_readopt),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_parallel_starts),
        cmocka_unit_test(test_helper_binary),
        cmocka_unit_test(test_pod_isolation),
        cmocka_unit_test(test_activity),
        cmocka_unit_test(test_cgroup_real),
        cmocka_unit_test(test_cgroup_v1_real),
    };
    return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
