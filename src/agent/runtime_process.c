/* The process pod runtime: every pod is reached over real OpenSSH on its own port,
 * accepting only the pod's public key, with the slice's device ids in the session
 * environment. The agent binds the port; the pod's root process is `gpufleet pod-init`
 * (agent/podinit.h), which holds that socket and runs `sshd -i` on each connection.
 * Starts are asynchronous (start_begin, start_poll), so many pods come up side by side.
 *
 * This file holds the runtime's lifecycle: the pod table and its state files, starting,
 * polling and stopping pods, the other ops, and opening. What a pod is given before its
 * root process starts (its sshd_config, the bubblewrap sandbox or a plain process, CPU
 * pinning, NUMA memory and cgroups, the status message), the validation of specs and the
 * host checks made at opening are in runtime_process_setup.c (runtime_process_int.h).
 *
 * Pods are detached from the agent (own session, not the agent's children), so they
 * survive an agent restart; their pid, port and message live in a state file under
 * state_dir/pods/<id>/ and a runtime opened later on the same state_dir re-adopts them.
 *
 * Layout under state_dir:
 *   ssh_host_ed25519_key(.pub)      one host key for every pod (generated once)
 *   pods/<id>/sshd_config           generated
 *   pods/<id>/authorized_keys       exactly the pod's key
 *   pods/<id>/home/                 the pod's home directory
 *   pods/<id>/sshd.log              pod-init's and sshd's log (-e)
 *   pods/<id>/state                 pid, start time, boot id, port, user, isolation, message,
 *                                   cgroup (absent in state files of older agents) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/podinit.h"
#include "agent/runtime.h"
#include "agent/runtime_int.h"
#include "agent/runtime_process_int.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/timeutil.h"

#define KILL_TIMEOUT_MS 3000

/* ---- pod table and state files -------------------------------------- */

#define POD(r, i) ((ppod *)(void *)GPF_RTPOD(&(r)->pods, i))

static int find_pod(const proc_rt *r, const char *id)
{
    return gpf_rtpods_find(&r->pods, id);
}

static ppod *add_pod(proc_rt *r, const char *id)
{
    return gpf_rtpods_add(&r->pods, id);
}

static int pod_alive(const ppod *p)
{
    return gpf_rtpod_alive(&p->b);
}

static int save_state(const proc_rt *r, const ppod *p, gpf_error *err)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    if (gpf_rtproc_path_join(path, sizeof path, r->pods_dir, p->b.id, "state") != 0)
        return gpf_error_set(err, GPF_EINVAL, "state path too long");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    gpf_buf b = {0};
    gpf_buf_printf(&b, "pid=%d\nstart=%llu\nboot_id=%s\nport=%d\nssh_user=%s\nisolation=%s\nmessage=%s\ncgroup=%s\n",
                   (int)p->b.pid, p->b.start, r->boot_id, p->b.st.ssh_port, p->b.st.ssh_user,
                   gpf_isolation_name(p->b.st.isolation), p->b.st.message, p->b.cgroup);
    int rc = gpf_rtproc_write_file(tmp, gpf_buf_cstr(&b), 0600, err);
    gpf_buf_clear(&b);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = gpf_error_set(err, GPF_EIO, "cannot rename %s", tmp);
    return rc;
}

/* Loads a pod's state file; a pod from another boot or with no readable state keeps
 * pid 0 (not running) so that stop can still clean it up. State files written before
 * pods had cgroups have no cgroup line: such a pod has none. */
static void load_state(proc_rt *r, ppod *p)
{
    char path[PATH_MAX], buf[4096], boot[64] = "";
    if (gpf_rtproc_path_join(path, sizeof path, r->pods_dir, p->b.id, "state") != 0 ||
        gpf_rtproc_read_text(path, buf, sizeof buf) != 0)
        return;
    long long pid = 0;
    unsigned long long start = 0;
    int port = 0;
    gpf_pod_status st;
    memset(&st, 0, sizeof st);
    st.isolation = GPF_ISO_SOFT;
    for (char *rest = buf, *line; (line = strsep(&rest, "\n"));) {
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        const char *v = eq + 1;
        if (!strcmp(line, "pid"))
            pid = strtoll(v, NULL, 10);
        else if (!strcmp(line, "start"))
            start = strtoull(v, NULL, 10);
        else if (!strcmp(line, "boot_id"))
            gpf_strlcpy(boot, v, sizeof boot);
        else if (!strcmp(line, "port"))
            port = (int)strtol(v, NULL, 10);
        else if (!strcmp(line, "ssh_user"))
            gpf_strlcpy(st.ssh_user, v, sizeof st.ssh_user);
        else if (!strcmp(line, "isolation")) {
            int iso = gpf_isolation_parse(v);
            st.isolation = iso >= 0 ? (gpf_isolation)iso : GPF_ISO_SOFT;
        } else if (!strcmp(line, "message"))
            gpf_strlcpy(st.message, v, sizeof st.message);
        else if (!strcmp(line, "cgroup") && v[0] == '/') {
            /* Acted on at stop (its processes killed, the directories removed): only ever
             * the directories this runtime makes for this pod id. */
            char want[GPF_RTCG_DIRS_MAX];
            if (r->cg_root && gpf_rtcg_path(r->cg_root, r->cg_version, p->b.id, want, sizeof want) == 0 &&
                !strcmp(v, want))
                gpf_strlcpy(p->b.cgroup, v, sizeof p->b.cgroup);
        }
    }
    if (pid <= 1 || pid > INT_MAX || port < 1 || port > 65535 || strcmp(boot, r->boot_id) != 0)
        return;
    p->b.pid = (pid_t)pid;
    p->b.start = start;
    st.ssh_port = port;
    p->b.st = st;
}

static void adopt_pods(proc_rt *r)
{
    DIR *d = opendir(r->pods_dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!gpf_name_valid(de->d_name) || find_pod(r, de->d_name) >= 0)
            continue;
        load_state(r, add_pod(r, de->d_name));
    }
    closedir(d);
}

/* ---- starting a pod ------------------------------------------------- */

/* A socket listening on the next free port of the range (*port), or -1 when every port
 * is taken. The agent binds it, not sshd: the port is the pod's before it starts, so no
 * other process can take it in between. */
static int open_listener(proc_rt *r, int *port)
{
    return gpf_rtpods_listen(&r->pods, &r->bind_addr, r->addr_len, r->port_min, r->port_max, &r->next_port, port);
}

/* Where a pod's processes are (p may be NULL: only what carries its id). */
static gpf_rtsys_pod_ref pod_ref(const ppod *p, const char *id, const char *cgroup)
{
    gpf_rtsys_pod_ref ref = {p ? p->b.pid : 0, p ? p->b.start : 0, id, cgroup};
    return ref;
}

/* Leaves nothing of a pod that did not come up: no process, no cgroup, no directory, no
 * table entry (pi < 0: none yet). */
static void discard_pod(proc_rt *r, int pi, const char *id, const char *cgdir, const char *dir)
{
    if (pi >= 0) {
        gpf_rtsys_pod_ref ref = pod_ref(POD(r, pi), id, cgdir);
        gpf_rtsys_kill_pod(&ref, KILL_TIMEOUT_MS, NULL);
        gpf_rtpods_drop(&r->pods, pi);
    }
    if (cgdir[0])
        gpf_rtcg_remove(cgdir, KILL_TIMEOUT_MS, NULL);
    if (dir[0])
        gpf_rtsys_rm_rf(dir, NULL);
}

/* Sets the pod on its way: its files, a listening socket on a free port, and its root
 * process (bwrap around `gpufleet pod-init`, or pod-init alone) holding that socket. The
 * pod is then in the table, starting; check_start says when it accepts connections. On
 * an error nothing of it is left. */
static int launch(proc_rt *r, const gpf_pod_spec *spec, const char *setenv, gpf_error *err)
{
    char dir[PATH_MAX], home[PATH_MAX], cfg[PATH_MAX], keys[PATH_MAX], logp[PATH_MAX], ebuf[128];
    char env_id[GPF_ID_MAX + 32], cgdir[GPF_RTCG_DIRS_MAX] = "", cg_note[GPF_TEXT_MAX], cpu_note[GPF_TEXT_MAX];
    gpf_buf conf = {0}, line = {0};
    sandbox_paths *sp = GPF_NEW(sandbox_paths);
    int rc = 0, log_fd = -1, lfd = -1, pi = -1, port = 0;
    gpf_rtsys_spawn_opts so = {.cpus = NULL, .mem_node = -1, .ncgroup_fds = 0, .pass_fd = -1};
    if (gpf_rtproc_path_join(dir, sizeof dir, r->pods_dir, spec->id, NULL) ||
        gpf_rtproc_path_join(home, sizeof home, dir, "home", NULL) ||
        gpf_rtproc_path_join(cfg, sizeof cfg, dir, "sshd_config", NULL) ||
        gpf_rtproc_path_join(keys, sizeof keys, dir, "authorized_keys", NULL) ||
        gpf_rtproc_path_join(logp, sizeof logp, dir, "sshd.log", NULL)) {
        rc = gpf_error_set(err, GPF_EINVAL, "pod directory path too long");
        goto out;
    }
    if (gpf_rtproc_mkdir_ok(dir, 0700) != 0 || gpf_rtproc_mkdir_ok(home, 0700) != 0) {
        rc = gpf_error_set(err, GPF_EIO, "cannot create %s: %s", dir, strerror_r(errno, ebuf, sizeof ebuf));
        goto out;
    }
    gpf_buf_printf(&line, "%s\n", spec->ssh_pubkey);
    if ((rc = gpf_rtproc_write_file(keys, gpf_buf_cstr(&line), 0600, err)) != 0)
        goto out;
    if ((lfd = open_listener(r, &port)) < 0) {
        rc = gpf_error_set(err, GPF_ENOCAPACITY, "no free sshd port in %d-%d", r->port_min, r->port_max);
        goto out;
    }
    gpf_rtproc_write_config(r, spec->id, port, keys, home, setenv, r->bwrap != NULL, &conf);
    if ((rc = gpf_rtproc_write_file(cfg, gpf_buf_cstr(&conf), 0600, err)) != 0)
        goto out;
    log_fd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (log_fd < 0) {
        rc = gpf_error_set(err, GPF_EIO, "cannot create %s: %s", logp, strerror_r(errno, ebuf, sizeof ebuf));
        goto out;
    }

    off_t log_from = lseek(log_fd, 0, SEEK_END); /* earlier starts of this pod appended before */

    char *argv[48 + 3 * GPF_ISO_MAX_NODES];
    int a = r->bwrap ? gpf_rtproc_sandbox_argv(r, spec, home, cfg, keys, sp, argv) : 0;
    char fdarg[16];
    snprintf(fdarg, sizeof fdarg, "%d", GPF_RTSYS_PASS_FD);
    argv[a++] = r->bwrap ? sp->iinit : r->init;
    argv[a++] = "pod-init";
    argv[a++] = "--fd";
    argv[a++] = fdarg;
    argv[a++] = "--sshd";
    argv[a++] = r->sshd;
    argv[a++] = "--config";
    argv[a++] = r->bwrap ? sp->icfg : cfg;
    argv[a] = NULL;
    snprintf(env_id, sizeof env_id, "GPUFLEET_POD_ID=%s", spec->id);
    char *envp[] = {SSH_PATH, env_id, NULL};

    /* Pinned, on its node's memory and in its cgroups from before exec: everything the
     * pod starts inherits all three. */
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    for (int c = 0; spec->iso.pin && c < GPF_SYSFS_MAX_CPUS && c < CPU_SETSIZE; c++)
        if (spec->iso.cpu_mask[c / 64] >> (c % 64) & 1)
            CPU_SET(c, &cpus);
    gpf_rtproc_cgroup_setup(r, spec, cgdir, sizeof cgdir, &so, cg_note, sizeof cg_note);
    so.cpus = spec->iso.pin ? &cpus : NULL;
    so.mem_node = spec->iso.pin ? spec->iso.numa_node : -1;
    so.pass_fd = lfd;
    pid_t pid = 0;
    if ((rc = gpf_rtsys_spawn_detached(argv, envp, log_fd, &so, &pid, err)) != 0)
        goto out;
    if (so.cgroup_errno) { /* it runs outside: the cgroups are empty, they go */
        snprintf(cg_note, sizeof cg_note, "cgroup v%d failed (join: %s)", r->cg_version,
                 strerror_r(so.cgroup_errno, ebuf, sizeof ebuf));
        gpf_rtcg_remove(cgdir, 0, NULL);
        cgdir[0] = '\0';
    }
    gpf_rtproc_cpu_describe(spec, &so, cpu_note, sizeof cpu_note);
    ppod *p = add_pod(r, spec->id);
    pi = r->pods.n - 1;
    gpf_rtsys_proc pr;
    p->b.pid = pid;
    p->b.start = gpf_rtsys_proc_read(pid, &pr) == 0 ? pr.start : 0;
    p->b.st.ssh_port = port;
    gpf_strlcpy(p->b.st.ssh_user, r->user, sizeof p->b.st.ssh_user);
    gpf_strlcpy(p->b.cgroup, cgdir, sizeof p->b.cgroup);
    gpf_rtproc_describe(r, spec, cpu_note, cg_note, &p->b.st);
    p->b.starting = 1;
    p->log_from = log_from < 0 ? 0 : log_from;
    p->deadline = gpf_mono_ms() + r->timeout_ms;
    p->next_probe = gpf_mono_ms() + 1000;
    rc = save_state(r, p, err);
out:
    if (log_fd >= 0)
        close(log_fd);
    for (int i = 0; i < so.ncgroup_fds; i++)
        close(so.cgroup_fds[i]);
    if (lfd >= 0)
        close(lfd); /* the pod holds it now */
    if (rc != 0)
        discard_pod(r, pi, spec->id, cgdir, dir);
    gpf_buf_clear(&conf);
    gpf_buf_clear(&line);
    gpf_free(sp);
    return rc;
}

/* Kills a pod's processes and removes its directory and table entry. */
static int cleanup_pod(proc_rt *r, const char *id, gpf_error *err)
{
    char dir[PATH_MAX], cg[GPF_RTCG_DIRS_MAX] = "";
    int i = find_pod(r, id), rc;
    if (gpf_rtproc_path_join(dir, sizeof dir, r->pods_dir, id, NULL) != 0)
        return gpf_error_set(err, GPF_EINVAL, "pod directory path too long");
    /* Its recorded cgroups; for a leftover the table does not know, where they would be
     * (removing a cgroup that is not there is fine). */
    if (i >= 0 && POD(r, i)->b.cgroup[0])
        gpf_strlcpy(cg, POD(r, i)->b.cgroup, sizeof cg);
    else if (!r->cg_root || gpf_rtcg_path(r->cg_root, r->cg_version, id, cg, sizeof cg) != 0)
        cg[0] = '\0';
    gpf_rtsys_pod_ref ref = pod_ref(i >= 0 ? POD(r, i) : NULL, id, cg);
    if ((rc = gpf_rtsys_kill_pod(&ref, KILL_TIMEOUT_MS, err)) != 0)
        return rc;
    if ((cg[0] && (rc = gpf_rtcg_remove(cg, KILL_TIMEOUT_MS, err)) != 0) || (rc = gpf_rtsys_rm_rf(dir, err)) != 0)
        return rc;
    if (i >= 0)
        gpf_rtpods_drop(&r->pods, i);
    return 0;
}

/* Where pod i's start stands: 1 ready, 0 not yet, or an error after which nothing of the
 * pod is left. Ready when pod-init says it accepts connections: it does once `sshd -t`
 * passed, and connections queue on the socket from before it ran. Should that line not
 * come (an older binary in the pod), an SSH banner probe every 250 ms after the first
 * second finds it ready too. */
static int check_start(proc_rt *r, int i, gpf_error *err)
{
    ppod *p = POD(r, i);
    char logp[PATH_MAX], dir[PATH_MAX], cg[GPF_RTCG_DIRS_MAX], tail[160];
    if (gpf_rtproc_path_join(dir, sizeof dir, r->pods_dir, p->b.id, NULL) ||
        gpf_rtproc_path_join(logp, sizeof logp, dir, "sshd.log", NULL))
        return gpf_error_set(err, GPF_EINVAL, "pod directory path too long");
    int alive = pod_alive(p); /* a banner from a process that is not ours does not count */
    int ready = gpf_rtsys_file_has(logp, p->log_from, GPF_PODINIT_READY);
    if (!ready && alive && gpf_mono_ms() >= p->next_probe) {
        int64_t left = p->deadline - gpf_mono_ms();
        ready = gpf_rtsys_ssh_banner(&r->conn_addr, r->addr_len, p->b.st.ssh_port,
                                     left < 250 ? (int)(left > 0 ? left : 1) : 250);
        p->next_probe = gpf_mono_ms() + 250;
    }
    if (ready && alive) {
        p->b.starting = 0;
        p->b.st.running = 1;
        return 1;
    }
    if (alive && gpf_mono_ms() < p->deadline)
        return 0;
    gpf_rtsys_log_tail(logp, 3, tail, sizeof tail);
    int rc = gpf_error_set(err, GPF_EIO, "sshd of pod %s %s: %s", p->b.id, alive ? "did not answer in time" : "exited",
                           tail[0] ? tail : "(no log)");
    gpf_strlcpy(cg, p->b.cgroup, sizeof cg);
    char id[GPF_ID_MAX];
    gpf_strlcpy(id, p->b.id, sizeof id);
    discard_pod(r, i, id, cg, dir);
    return rc;
}

static int proc_begin(gpf_runtime *rt, const gpf_pod_spec *spec, gpf_error *err)
{
    gpf_buf env = {0};
    int rc = 0;
    if (!rt || !spec)
        return gpf_error_set(err, GPF_EINVAL, "start: no runtime or pod spec");
    proc_rt *r = rt->priv;
    if (!gpf_name_valid(spec->id)) {
        rc = gpf_error_set(err, GPF_EINVAL, "pod id '%.63s' is not a valid name", spec->id);
        goto out;
    }
    if (!gpf_rtproc_pubkey_ok(spec->ssh_pubkey)) {
        rc = gpf_error_set(err, GPF_EINVAL, "pod %s: ssh_pubkey is not one OpenSSH public key line", spec->id);
        goto out;
    }
    if (strnlen(spec->device_ids, GPF_TEXT_MAX) >= GPF_TEXT_MAX || !gpf_rtproc_charset_ok(spec->device_ids, "-,:/._")) {
        rc = gpf_error_set(err, GPF_EINVAL, "pod %s: device ids have invalid characters", spec->id);
        goto out;
    }
    if (strnlen(spec->env, GPF_TEXT_MAX) >= GPF_TEXT_MAX) {
        rc = gpf_error_set(err, GPF_EINVAL, "pod %s: environment too long", spec->id);
        goto out;
    }
    gpf_buf_printf(&env, " \"CUDA_VISIBLE_DEVICES=%s\" \"NVIDIA_VISIBLE_DEVICES=%s\" \"GPUFLEET_POD_ID=%s\"",
                   spec->device_ids, spec->device_ids[0] ? spec->device_ids : "void", spec->id);
    if ((rc = gpf_rtproc_append_sku_env(&env, spec->env, err)) != 0)
        goto out;

    int i = find_pod(r, spec->id);
    if (i >= 0 && pod_alive(POD(r, i)))
        goto out; /* running or on its way: start_poll answers */
    /* A dead or half-started leftover: clear it before starting afresh. */
    char dir[PATH_MAX];
    struct stat sb;
    if ((i >= 0 || (gpf_rtproc_path_join(dir, sizeof dir, r->pods_dir, spec->id, NULL) == 0 && lstat(dir, &sb) == 0)) &&
        (rc = cleanup_pod(r, spec->id, err)) != 0)
        goto out;
    rc = launch(r, spec, gpf_buf_cstr(&env), err);
out:
    gpf_buf_clear(&env);
    return rc;
}

static int proc_poll(gpf_runtime *rt, const char *pod_id, gpf_pod_status *st, gpf_error *err)
{
    if (!rt || !pod_id)
        return gpf_error_set(err, GPF_EINVAL, "start_poll: no runtime or pod id");
    proc_rt *r = rt->priv;
    int i = find_pod(r, pod_id), rc;
    if (i < 0)
        return gpf_error_set(err, GPF_ENOTFOUND, "pod %.63s is not starting", pod_id);
    if (POD(r, i)->b.starting) {
        if ((rc = check_start(r, i, err)) <= 0)
            return rc;
        i = find_pod(r, pod_id);
    } else if (!pod_alive(POD(r, i))) {
        return gpf_error_set(err, GPF_EIO, "pod %s exited", pod_id);
    }
    if (st) {
        *st = POD(r, i)->b.st;
        st->running = 1;
    }
    return 1;
}

/* ---- the other ops -------------------------------------------------- */

static int proc_stop(gpf_runtime *rt, const char *pod_id, gpf_error *err)
{
    if (!rt || !pod_id)
        return gpf_error_set(err, GPF_EINVAL, "stop: no runtime or pod id");
    if (!gpf_name_valid(pod_id))
        return gpf_error_set(err, GPF_EINVAL, "pod id '%.63s' is not a valid name", pod_id);
    return cleanup_pod(rt->priv, pod_id, err);
}

static int proc_status(gpf_runtime *rt, const char *pod_id, gpf_pod_status *st)
{
    return rt && pod_id ? gpf_rtpods_status(&((proc_rt *)rt->priv)->pods, pod_id, st) : 0;
}

static int proc_list(gpf_runtime *rt, char (*ids)[GPF_ID_MAX], int max)
{
    return rt && ids ? gpf_rtpods_list(&((proc_rt *)rt->priv)->pods, ids, max) : 0;
}

static int proc_activity(gpf_runtime *rt, const char *pod_id, gpf_pod_activity *out)
{
    if (!rt || !pod_id)
        return GPF_ENOTFOUND;
    proc_rt *r = rt->priv;
    return gpf_rtpods_activity(&r->pods, pod_id, 1, &r->snap, &r->snap_ms, out);
}

static void free_priv(proc_rt *r)
{
    if (!r)
        return;
    gpf_free(r->pods_dir);
    gpf_free(r->host_key);
    gpf_free(r->listen);
    gpf_free(r->sshd);
    gpf_free(r->init);
    gpf_free(r->bwrap);
    gpf_free(r->cg_root);
    gpf_rtsys_snap_free(r->snap);
    gpf_rtpods_clear(&r->pods);
    gpf_free(r);
}

static void proc_close(gpf_runtime *rt)
{
    if (!rt)
        return;
    free_priv(rt->priv);
    gpf_free(rt);
}

static const gpf_runtime_ops PROCESS_OPS = {
    .name = "process",
    .start_begin = proc_begin,
    .start_poll = proc_poll,
    .stop = proc_stop,
    .status = proc_status,
    .list = proc_list,
    .activity = proc_activity,
    .close = proc_close,
};

/* ---- opening -------------------------------------------------------- */

int gpf_runtime_process_open(const gpf_runtime_config *cfg, gpf_runtime **out, gpf_error *err)
{
    proc_rt *r = NULL;
    char ebuf[128], path[PATH_MAX], real[PATH_MAX];
    int rc = 0;
    if (!out)
        return gpf_error_set(err, GPF_EINVAL, "gpf_runtime_process_open: out is NULL");
    *out = NULL;
    if (!cfg || !cfg->state_dir || !cfg->state_dir[0])
        return gpf_error_set(err, GPF_EINVAL, "process runtime: no state directory");
    r = GPF_NEW(proc_rt);
    r->pods.size = sizeof(ppod);
    const char *listen = cfg->listen_address && cfg->listen_address[0] ? cfg->listen_address : "127.0.0.1";
    const char *sshd = cfg->sshd_path && cfg->sshd_path[0] ? cfg->sshd_path : "/usr/sbin/sshd";
    const char *bwrap = cfg->bwrap_path ? cfg->bwrap_path : "/usr/bin/bwrap";
    r->port_min = cfg->port_min;
    r->port_max = cfg->port_max;
    r->next_port = cfg->port_min;
    r->timeout_ms = cfg->start_timeout_ms > 0 ? cfg->start_timeout_ms : 5000;
    if (r->port_min < 1 || r->port_max > 65535 || r->port_min > r->port_max) {
        rc = gpf_error_set(err, GPF_EINVAL, "process runtime: bad sshd port range %d-%d", cfg->port_min, cfg->port_max);
        goto out;
    }
    if (!gpf_rtproc_charset_ok(listen, ".:-_")) {
        rc = gpf_error_set(err, GPF_EINVAL, "process runtime: bad listen address '%.60s'", listen);
        goto out;
    }
    r->listen = gpf_strdup(listen);
    if ((rc = gpf_rtproc_resolve(r->listen, &r->bind_addr, &r->conn_addr, &r->addr_len, err)) != 0)
        goto out;
    if (sshd[0] != '/' || access(sshd, X_OK) != 0) {
        rc = gpf_error_set(err, GPF_EUNAVAIL,
                           "process runtime: no sshd at %.120s (install openssh-server, or use the fake runtime)", sshd);
        goto out;
    }
    r->sshd = gpf_strdup(sshd);
    char helper[PATH_MAX];
    const char *init = cfg->init_path && cfg->init_path[0]
                           ? cfg->init_path
                           : gpf_ssh_helper_path(gpf_self_exe(path, sizeof path, ""), helper, sizeof helper);
    if (init[0] != '/' || access(init, X_OK) != 0 || !gpf_rtproc_cfg_text_ok(init)) {
        rc = gpf_error_set(err, GPF_EUNAVAIL, "process runtime: cannot run pods' init '%.120s' (the gpufleet binary)",
                           init);
        goto out;
    }
    r->init = gpf_strdup(init);
    if ((rc = gpf_rtproc_login_user(r, err)) != 0)
        goto out;
    if (gpf_rtproc_mkdir_ok(cfg->state_dir, 0700) != 0 || !realpath(cfg->state_dir, real)) {
        rc = gpf_error_set(err, GPF_EIO, "cannot use state directory %s: %s", cfg->state_dir,
                           strerror_r(errno, ebuf, sizeof ebuf));
        goto out;
    }
    if (!gpf_rtproc_cfg_text_ok(real) || gpf_rtproc_path_join(path, sizeof path, real, "pods", NULL) != 0 ||
        strlen(real) > PATH_MAX - 256) {
        rc = gpf_error_set(err, GPF_EINVAL, "state directory %.120s: path too long or has a quote, backslash or '%%'",
                           real);
        goto out;
    }
    r->pods_dir = gpf_strdup(path);
    if (gpf_rtproc_mkdir_ok(r->pods_dir, 0700) != 0) {
        rc = gpf_error_set(err, GPF_EIO, "cannot create %s: %s", r->pods_dir, strerror_r(errno, ebuf, sizeof ebuf));
        goto out;
    }
    gpf_rtproc_path_join(path, sizeof path, real, "ssh_host_ed25519_key", NULL);
    r->host_key = gpf_strdup(path);
    if ((rc = gpf_rtproc_ensure_host_key(r, real, err)) != 0)
        goto out;
    /* sshd running as root needs its privilege separation directory. */
    if (r->is_root && gpf_rtproc_mkdir_ok("/run/sshd", 0755) != 0) {
        rc = gpf_error_set(err, GPF_EIO, "cannot create /run/sshd: %s", strerror_r(errno, ebuf, sizeof ebuf));
        goto out;
    }
    if ((rc = gpf_rtproc_check_sshd(r, real, err)) != 0)
        goto out;
    gpf_rtproc_probe_bwrap(r, bwrap);
    const char *cg_root = cfg->cgroup_root ? cfg->cgroup_root : "/sys/fs/cgroup";
    if (gpf_rtcg_probe(cg_root, &r->cg_version, NULL) == 0)
        r->cg_root = gpf_strdup(cg_root);
    if (gpf_rtproc_read_text("/proc/sys/kernel/random/boot_id", r->boot_id, sizeof r->boot_id) == 0)
        r->boot_id[strcspn(r->boot_id, "\n")] = '\0';
    adopt_pods(r);
    gpf_runtime *rt = GPF_NEW(gpf_runtime);
    rt->ops = &PROCESS_OPS;
    rt->priv = r;
    rt->max_pods = r->port_max - r->port_min + 1; /* one sshd port each */
    r = NULL;
    *out = rt;
out:
    free_priv(r);
    return rc;
}
