/* The OCI pod runtime: each pod an OCI container run by runc from its image (see
 * runtime.h; docs/security.md for the threat model). The agent binds the pod's SSH port in
 * the host's network namespace and hands the listening socket to the pod's root process
 * (the static pod-init, as descriptor 3 through runc's --preserve-fds), which runs the
 * image's `sshd -i` per connection; the pod itself lives in its own network namespace
 * (outbound through slirp4netns, host loopback refused), so it reaches neither the control
 * plane nor the agent nor other pods' ports on the host.
 *
 * This file holds the lifecycle: the pod table, the agent's state file per pod (validated
 * when read: it is the agent's, but a field out of range means a pod left alone rather
 * than a path acted on), starting with runc, polling, stopping, the other ops and opening.
 * What a pod is given before it starts is runtime_oci_setup.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/image_cache.h"
#include "agent/oci_fs.h"
#include "agent/oci_spec.h"
#include "agent/podinit.h"
#include "agent/runtime_oci_int.h"
#include "agent/runtime_process_int.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/timeutil.h"
#include "util/log.h"

#define KILL_TIMEOUT_MS 3000
#define RUNC_TIMEOUT_MS 10000
#define POD_INIT_NAME "gpufleet-pod-init"
#define POD_LOG "log.d/log" /* on the pod's own small tmpfs (gpf_ocifs_log_mount) */

/* ---- pod table ---------------------------------------------------------------------- */

#define POD(r, i) ((opod *)(void *)GPF_RTPOD(&(r)->pods, i))

static int find_pod(const oci_rt *r, const char *id)
{
    return gpf_rtpods_find(&r->pods, id);
}

static opod *add_pod(oci_rt *r, const char *id)
{
    opod *p = gpf_rtpods_add(&r->pods, id);
    p->slot = -1;
    return p;
}

static int pod_alive(const opod *p)
{
    return gpf_rtpod_alive(&p->b);
}

static int pod_dir(const oci_rt *r, const char *id, char *dir, size_t size)
{
    return gpf_rtproc_path_join(dir, size, r->pods_dir, id, NULL);
}

/* The lowest uid range no other known pod holds, or -1. */
static int free_slot(const oci_rt *r)
{
    for (int s = 0; s < r->max_pods; s++) {
        int used = 0;
        for (int i = 0; i < r->pods.n && !used; i++)
            used = POD(r, i)->slot == s;
        if (!used)
            return s;
    }
    return -1;
}

/* ---- state files ---------------------------------------------------------------------- */

static int save_state(const oci_rt *r, const opod *p, gpf_error *err)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    if (gpf_rtproc_path_join(path, sizeof path, r->pods_dir, p->b.id, "state") != 0)
        return gpf_error_set(err, GPF_EINVAL, "state path too long");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    gpf_buf b = {0};
    gpf_buf_printf(&b,
                   "pid=%d\nstart=%llu\nslirp=%d\nslirp_start=%llu\nslot=%d\nboot_id=%s\nport=%d\nssh_user=%s\n"
                   "isolation=%s\nlayers=%s\nhost_key=%s\nimage=%s\nmessage=%s\n",
                   (int)p->b.pid, p->b.start, (int)p->slirp, p->slirp_start, p->slot, r->boot_id, p->b.st.ssh_port,
                   p->b.st.ssh_user, gpf_isolation_name(p->b.st.isolation), p->b.st.layers, p->b.st.host_key, p->image,
                   p->b.st.message);
    unlink(tmp);
    int rc = gpf_rtproc_write_file(tmp, gpf_buf_cstr(&b), 0600, err);
    gpf_buf_clear(&b);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = gpf_error_set(err, GPF_EIO, "cannot rename %s", tmp);
    return rc;
}

static int layers_ok(const char *s)
{
    return gpf_rtproc_charset_ok(s, "_ ") && strlen(s) < 256;
}

/* Loads a pod's state file. Every field is checked; a file that fails a check leaves the
 * pod not running (pid 0), so that stop still cleans up its directory, and its cgroup is
 * always the one this runtime would make for that id, never a path read from the file. */
static void load_state(oci_rt *r, opod *p)
{
    char path[PATH_MAX], buf[8192], boot[64] = "";
    if (gpf_rtproc_path_join(path, sizeof path, r->pods_dir, p->b.id, "state") != 0 ||
        gpf_rtproc_read_text(path, buf, sizeof buf) != 0)
        return;
    long long pid = 0, slirp = 0, slot = -1;
    unsigned long long start = 0, slirp_start = 0;
    int port = 0, bad = 0;
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
        else if (!strcmp(line, "slirp"))
            slirp = strtoll(v, NULL, 10);
        else if (!strcmp(line, "slirp_start"))
            slirp_start = strtoull(v, NULL, 10);
        else if (!strcmp(line, "slot"))
            slot = strtoll(v, NULL, 10);
        else if (!strcmp(line, "boot_id"))
            gpf_strlcpy(boot, v, sizeof boot);
        else if (!strcmp(line, "port"))
            port = (int)strtol(v, NULL, 10);
        else if (!strcmp(line, "ssh_user"))
            bad |= gpf_strlcpy(st.ssh_user, v, sizeof st.ssh_user) >= sizeof st.ssh_user ||
                   !gpf_rtproc_charset_ok(st.ssh_user, "._-");
        else if (!strcmp(line, "isolation")) {
            int iso = gpf_isolation_parse(v);
            st.isolation = iso >= 0 ? (gpf_isolation)iso : GPF_ISO_SOFT;
        } else if (!strcmp(line, "layers"))
            bad |= !layers_ok(v) || gpf_strlcpy(st.layers, v, sizeof st.layers) >= sizeof st.layers;
        else if (!strcmp(line, "host_key"))
            bad |= v[0] && (gpf_strlcpy(st.host_key, v, sizeof st.host_key) >= sizeof st.host_key ||
                            !gpf_rtproc_pubkey_ok(st.host_key));
        else if (!strcmp(line, "image")) {
            if (gpf_image_digest_valid(v)) /* its image stays in the cache while the pod does */
                gpf_strlcpy(p->image, v, sizeof p->image);
        } else if (!strcmp(line, "message"))
            bad |= gpf_strlcpy(st.message, v, sizeof st.message) >= sizeof st.message ||
                   !gpf_rtproc_cfg_text_ok(st.message);
    }
    if (slot >= 0 && slot < r->max_pods)
        p->slot = (int)slot; /* its files belong to that range: kept, so stop and restart find them */
    /* A port outside today's range is still the pod's (the range may have changed since it
     * started): only a port no socket can have is refused. */
    if (bad || pid <= 1 || pid > INT_MAX || slirp < 0 || slirp > INT_MAX || port < 1 || port > 65535 ||
        p->slot < 0 || strcmp(boot, r->boot_id) != 0)
        return;
    p->b.pid = (pid_t)pid;
    p->b.start = start;
    p->slirp = (pid_t)slirp;
    p->slirp_start = slirp_start;
    st.ssh_port = port;
    p->b.st = st;
    if (r->cg_root) {
        if (r->cg_version == 2)
            snprintf(p->b.cgroup, sizeof p->b.cgroup, "%s/gpufleet/pod-%s", r->cg_root, p->b.id);
        else
            snprintf(p->b.cgroup, sizeof p->b.cgroup, "%s/pids/gpufleet/pod-%s", r->cg_root, p->b.id);
    }
}

static void adopt_pods(oci_rt *r)
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

/* ---- stopping --------------------------------------------------------------------------- */

static gpf_rtsys_pod_ref pod_ref(const opod *p, const char *cgroup)
{
    /* No pod id: a pod's processes are found by its cgroup and its root process, never by
     * an environment variable, which anything in the pod can set. */
    gpf_rtsys_pod_ref ref = {p ? p->b.pid : 0, p ? p->b.start : 0, NULL, cgroup};
    return ref;
}

/* Ends everything of the pod that runs (container, slirp4netns) and unmounts its root;
 * keeps its files. */
static int halt_pod(oci_rt *r, const char *id, opod *p, gpf_error *err)
{
    char dir[PATH_MAX], cname[GPF_ID_MAX + 8], cg[GPF_RTCG_DIRS_MAX] = "";
    int rc = 0;
    if (pod_dir(r, id, dir, sizeof dir) != 0)
        return gpf_error_set(err, GPF_EINVAL, "pod directory path too long");
    snprintf(cname, sizeof cname, "gpf-%s", id);
    char *del[] = {"delete", "--force", cname, NULL};
    gpf_rtoci_runc(r, del, RUNC_TIMEOUT_MS, NULL); /* unknown to runc is fine */
    if (p && p->slirp > 1 && gpf_rtsys_alive(p->slirp, p->slirp_start))
        kill(p->slirp, SIGKILL);
    if (p && p->runc > 1 && gpf_rtsys_alive(p->runc, p->runc_start))
        kill(p->runc, SIGKILL);
    if (r->cg_root) {
        if (r->cg_version == 2)
            snprintf(cg, sizeof cg, "%s/gpufleet/pod-%s", r->cg_root, id);
        else
            snprintf(cg, sizeof cg, "%s/pids/gpufleet/pod-%s", r->cg_root, id);
    }
    gpf_rtsys_pod_ref ref = pod_ref(p, cg);
    if ((rc = gpf_rtsys_kill_pod(&ref, KILL_TIMEOUT_MS, err)) != 0)
        return rc;
    gpf_ocifs_umount(dir);
    if (p) {
        p->b.pid = p->slirp = p->runc = 0;
        p->b.starting = 0;
    }
    return 0;
}

/* Halts the pod and removes its directory (writable layer, home, keys) and table entry. */
static int cleanup_pod(oci_rt *r, const char *id, gpf_error *err)
{
    char dir[PATH_MAX];
    int i = find_pod(r, id), rc;
    if ((rc = halt_pod(r, id, i >= 0 ? POD(r, i) : NULL, err)) != 0)
        return rc;
    if (pod_dir(r, id, dir, sizeof dir) != 0 || (rc = gpf_rtsys_rm_rf(dir, err)) != 0)
        return rc ? rc : gpf_error_set(err, GPF_EINVAL, "pod directory path too long");
    if (i >= 0)
        gpf_rtpods_drop(&r->pods, i);
    return 0;
}

/* ---- starting ------------------------------------------------------------------------- */

static int check_spec(const gpf_pod_spec *spec, gpf_error *err)
{
    if (!gpf_name_valid(spec->id))
        return gpf_error_set(err, GPF_EINVAL, "pod id '%.63s' is not a valid name", spec->id);
    if (!gpf_name_valid(spec->owner))
        return gpf_error_set(err, GPF_EINVAL, "pod %s: owner '%.63s' is not a valid user name", spec->id, spec->owner);
    if (!gpf_rtproc_pubkey_ok(spec->ssh_pubkey))
        return gpf_error_set(err, GPF_EINVAL, "pod %s: ssh_pubkey is not one OpenSSH public key line", spec->id);
    if (strnlen(spec->device_ids, GPF_TEXT_MAX) >= GPF_TEXT_MAX || !gpf_rtproc_charset_ok(spec->device_ids, "-,:/._"))
        return gpf_error_set(err, GPF_EINVAL, "pod %s: device ids have invalid characters", spec->id);
    if (strnlen(spec->env, GPF_TEXT_MAX) >= GPF_TEXT_MAX)
        return gpf_error_set(err, GPF_EINVAL, "pod %s: environment too long", spec->id);
    gpf_buf env = {0};
    int rc = gpf_rtproc_append_sku_env(&env, spec->env, err);
    gpf_buf_clear(&env);
    if (rc != 0)
        return rc;
    struct stat st;
    char sshd[sizeof spec->image_rootfs + 32];
    if (!spec->image_rootfs[0] || spec->image_rootfs[0] != '/')
        return gpf_error_set(err, GPF_EINVAL, "pod %s: no image (import one with `gpufleet image import` and name it "
                             "in the SKU)", spec->id);
    snprintf(sshd, sizeof sshd, "%s/usr/sbin/sshd", spec->image_rootfs);
    if (lstat(sshd, &st) != 0 || !S_ISREG(st.st_mode))
        return gpf_error_set(err, GPF_EINVAL, "pod %s: image %.80s has no /usr/sbin/sshd (pods are reached over "
                             "SSH: install openssh-server in the image)", spec->id, spec->image_digest);
    return 0;
}

/* runc is started from a sealed copy in memory, made once: runc itself would copy its
 * 9 MB binary into memory on every container start (its defence against a container
 * overwriting the runc binary), which a sealed copy makes unnecessary. When the file was
 * replaced (runc upgraded), the copy is made again; without one, runc runs from its path. */
static void refresh_runc(oci_rt *r)
{
    if (r->runc_fd > 0 && !gpf_rtsys_sealed_stale(r->runc, &r->runc_id))
        return;
    if (r->runc_fd > 0)
        close(r->runc_fd);
    gpf_error err = {0};
    int fd = gpf_rtsys_sealed_copy(r->runc, &r->runc_id, &err);
    r->runc_fd = fd > 0 ? fd : 0;
    if (fd < 0)
        GPF_WARN("agent", "event=runc_copy_failed msg=\"%s\" (runc runs from its path)", gpf_error_msg(&err));
}

/* Sets the pod on its way: its bundle, a listening socket, and `runc run --detach`
 * holding the socket as descriptor 3. The pod is then in the table, starting. On an error
 * nothing of it runs (its files stay for a restart or for stop to remove). */
static int launch(oci_rt *r, const gpf_pod_spec *spec, int slot, gpf_error *err)
{
    char dir[PATH_MAX], logp[PATH_MAX], pidf[PATH_MAX], cname[GPF_ID_MAX + 8], ebuf[128];
    int rc = 0, log_fd = -1, lfd = -1, port = 0;
    opod *p = NULL;
    if (pod_dir(r, spec->id, dir, sizeof dir) || gpf_rtproc_path_join(logp, sizeof logp, dir, POD_LOG, NULL) ||
        gpf_rtproc_path_join(pidf, sizeof pidf, dir, "container.pid", NULL))
        return gpf_error_set(err, GPF_EINVAL, "pod directory path too long");
    if (gpf_rtproc_mkdir_ok(dir, 0711) != 0 || chmod(dir, 0711) != 0)
        return gpf_error_set(err, GPF_EIO, "cannot create %s: %s", dir, strerror_r(errno, ebuf, sizeof ebuf));
    int pi = find_pod(r, spec->id);
    p = pi >= 0 ? POD(r, pi) : add_pod(r, spec->id);
    p->slot = slot;
    p->slice_kind = spec->iso.kind;
    gpf_strlcpy(p->image, spec->image_digest, sizeof p->image);
    memset(&p->b.st, 0, sizeof p->b.st);
    if ((lfd = gpf_rtpods_listen(&r->pods, &r->bind_addr, r->addr_len, r->port_min, r->port_max, &r->next_port,
                                 &port)) < 0) {
        rc = gpf_error_set(err, GPF_ENOCAPACITY, "no free sshd port in %d-%d", r->port_min, r->port_max);
        goto out;
    }
    p->b.st.ssh_port = port;
    if ((rc = gpf_rtoci_prepare(r, p, spec, dir, port, err)) != 0)
        goto out;
    unlink(pidf);
    if ((rc = gpf_ocifs_log_mount(dir, err)) != 0)
        goto out;
    log_fd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (log_fd < 0) {
        rc = gpf_error_set(err, GPF_EIO, "cannot create %s: %s", logp, strerror_r(errno, ebuf, sizeof ebuf));
        goto out;
    }
    off_t log_from = lseek(log_fd, 0, SEEK_END);
    snprintf(cname, sizeof cname, "gpf-%s", spec->id);
    char *argv[] = {r->runc, "--root", r->runc_root, "run", "--detach", "--preserve-fds", "1", "--bundle", dir,
                    "--pid-file", pidf, cname, NULL};
    char *envp[] = {SSH_PATH, NULL};
    refresh_runc(r);
    gpf_rtsys_spawn_opts so = {.cpus = NULL, .mem_node = -1, .ncgroup_fds = 0, .pass_fd = lfd, .pass_fd_at = 3,
                               .exec_fd = r->runc_fd};
    pid_t pid = 0;
    if ((rc = gpf_rtsys_spawn_detached(argv, envp, log_fd, &so, &pid, err)) != 0)
        goto out;
    gpf_rtsys_proc pr;
    p->runc = pid;
    p->runc_start = gpf_rtsys_proc_read(pid, &pr) == 0 ? pr.start : 0;
    p->b.starting = 1;
    p->log_from = log_from < 0 ? 0 : log_from;
    p->deadline = gpf_mono_ms() + r->timeout_ms;
    gpf_buf msg = {0};
    gpf_buf_printf(&msg, "oci sandbox (runc), image %.19s, uids %u+65536; %s", spec->image_digest,
                   r->uid_base + (uint32_t)slot * GPF_OCI_UID_RANGE, p->devnote);
    gpf_strlcpy(p->b.st.message, gpf_buf_cstr(&msg), sizeof p->b.st.message); /* cut to what the API keeps */
    gpf_buf_clear(&msg);
    rc = save_state(r, p, err);
out:
    if (log_fd >= 0)
        close(log_fd);
    if (lfd >= 0)
        close(lfd); /* runc handed it to the pod */
    if (rc != 0 && p) {
        char id[GPF_ID_MAX];
        gpf_strlcpy(id, spec->id, sizeof id);
        halt_pod(r, id, p, NULL);
        int i = find_pod(r, id);
        if (i >= 0)
            POD(r, i)->b.starting = 0;
    }
    return rc;
}

/* The container's pid from runc's pid file (runc writes it, in the pod's directory that
 * the pod cannot reach; checked anyway): > 1, or 0 while there is none. */
static pid_t read_pid_file(const oci_rt *r, const char *id)
{
    char path[PATH_MAX], buf[32];
    if (gpf_rtproc_path_join(path, sizeof path, r->pods_dir, id, "container.pid") != 0 ||
        gpf_rtproc_read_text(path, buf, sizeof buf) != 0)
        return 0;
    char *end = NULL;
    long v = strtol(buf, &end, 10);
    return end != buf && v > 1 && v < INT_MAX ? (pid_t)v : 0;
}

/* Outbound network for the pod's namespace: slirp4netns, host loopback refused. */
static void start_slirp(oci_rt *r, opod *p, const char *logp)
{
    char spid[16];
    if (!r->slirp)
        return;
    snprintf(spid, sizeof spid, "%d", (int)p->b.pid);
    char *argv[] = {r->slirp, "--configure", "--mtu=65520", "--disable-host-loopback", "--enable-sandbox",
                    "--enable-seccomp", spid, "tap0", NULL};
    char *envp[] = {SSH_PATH, NULL};
    int fd = open(logp, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    pid_t pid = 0;
    gpf_rtsys_proc pr;
    if (fd >= 0 && gpf_rtsys_spawn_detached(argv, envp, fd, NULL, &pid, NULL) == 0) {
        p->slirp = pid;
        p->slirp_start = gpf_rtsys_proc_read(pid, &pr) == 0 ? pr.start : 0;
    }
    if (fd >= 0)
        close(fd);
}

#define CHECK_EVERY_MS 25

/* Where pod i's start stands: 1 ready, 0 not yet, or an error after which nothing of it runs. */
static int check_start(oci_rt *r, int i, gpf_error *err)
{
    opod *p = POD(r, i);
    char logp[PATH_MAX], tail[200], id[GPF_ID_MAX];
    if (gpf_rtproc_path_join(logp, sizeof logp, r->pods_dir, p->b.id, POD_LOG) != 0)
        return gpf_error_set(err, GPF_EINVAL, "pod directory path too long");
    if (p->b.pid == 0) {
        pid_t pid = read_pid_file(r, p->b.id);
        gpf_rtsys_proc pr;
        if (pid > 0 && gpf_rtsys_proc_read(pid, &pr) == 0) {
            p->b.pid = pid;
            p->b.start = pr.start;
            start_slirp(r, p, logp);
            save_state(r, p, NULL);
        }
    }
    /* Polled every few milliseconds for each pod on its way: the log (on tmpfs) first; the
     * processes, read from /proc, only every CHECK_EVERY_MS until it is ready. */
    int ready = p->b.pid > 0 && gpf_rtsys_file_has(logp, p->log_from, GPF_PODINIT_READY);
    int64_t now = gpf_mono_ms();
    if (!ready && now < p->next_check)
        return 0;
    p->next_check = now + CHECK_EVERY_MS;
    int alive = pod_alive(p);
    int runc_running = p->runc > 1 && gpf_rtsys_alive(p->runc, p->runc_start);
    if (alive && ready) {
        p->b.starting = 0;
        p->runc = 0;
        p->b.st.running = 1;
        gpf_rtoci_verify(r, p);
        save_state(r, p, NULL);
        return 1;
    }
    if ((alive || runc_running || p->b.pid == 0) && gpf_mono_ms() < p->deadline && (alive || runc_running))
        return 0;
    gpf_rtsys_log_tail(logp, 3, tail, sizeof tail);
    int rc = gpf_error_set(err, GPF_EIO, "pod %s %s: %s", p->b.id,
                           alive ? "did not accept connections in time" : "exited while starting",
                           tail[0] ? tail : "(no log)");
    gpf_strlcpy(id, p->b.id, sizeof id);
    halt_pod(r, id, p, NULL);
    return rc;
}

static int oci_begin(gpf_runtime *rt, const gpf_pod_spec *spec, gpf_error *err)
{
    if (!rt || !spec)
        return gpf_error_set(err, GPF_EINVAL, "start: no runtime or pod spec");
    oci_rt *r = rt->priv;
    int rc = check_spec(spec, err);
    if (rc != 0)
        return rc;
    int i = find_pod(r, spec->id);
    if (i >= 0 && (POD(r, i)->b.starting || pod_alive(POD(r, i))))
        return 0; /* running or on its way: start_poll answers */
    /* A pod that ran here before (its directory and state remain): halt what is left and
     * start it again on its own files: the same uid range, writable layer, home and key. */
    char dir[PATH_MAX];
    struct stat sb;
    if (i < 0 && pod_dir(r, spec->id, dir, sizeof dir) == 0 && lstat(dir, &sb) == 0) {
        load_state(r, add_pod(r, spec->id));
        i = find_pod(r, spec->id);
    }
    if (i >= 0 && (rc = halt_pod(r, spec->id, POD(r, i), err)) != 0)
        return rc;
    int slot = i >= 0 && POD(r, i)->slot >= 0 ? POD(r, i)->slot : free_slot(r);
    if (slot < 0)
        return gpf_error_set(err, GPF_ENOCAPACITY, "no free uid range: %d pods on this host already", r->max_pods);
    return launch(r, spec, slot, err);
}

static int oci_poll(gpf_runtime *rt, const char *pod_id, gpf_pod_status *st, gpf_error *err)
{
    if (!rt || !pod_id)
        return gpf_error_set(err, GPF_EINVAL, "start_poll: no runtime or pod id");
    oci_rt *r = rt->priv;
    int i = find_pod(r, pod_id), rc;
    if (i < 0 || (!POD(r, i)->b.starting && !pod_alive(POD(r, i))))
        return i < 0 ? gpf_error_set(err, GPF_ENOTFOUND, "pod %.63s is not starting", pod_id)
                     : gpf_error_set(err, GPF_EIO, "pod %s exited", pod_id);
    if (POD(r, i)->b.starting && (rc = check_start(r, i, err)) <= 0)
        return rc;
    if (st) {
        *st = POD(r, i)->b.st;
        st->running = 1;
    }
    return 1;
}

static int oci_stop(gpf_runtime *rt, const char *pod_id, gpf_error *err)
{
    if (!rt || !pod_id)
        return gpf_error_set(err, GPF_EINVAL, "stop: no runtime or pod id");
    if (!gpf_name_valid(pod_id))
        return gpf_error_set(err, GPF_EINVAL, "pod id '%.63s' is not a valid name", pod_id);
    return cleanup_pod(rt->priv, pod_id, err);
}

static int oci_status(gpf_runtime *rt, const char *pod_id, gpf_pod_status *st)
{
    return rt && pod_id ? gpf_rtpods_status(&((oci_rt *)rt->priv)->pods, pod_id, st) : 0;
}

/* The agent asks on every heartbeat: a pod that died by itself (its pid namespace's init
 * exited) leaves its slirp4netns behind, holding the namespace; it goes now. */
static int oci_list(gpf_runtime *rt, char (*ids)[GPF_ID_MAX], int max)
{
    if (!rt || !ids)
        return 0;
    oci_rt *r = rt->priv;
    for (int i = 0; i < r->pods.n; i++) {
        opod *p = POD(r, i);
        if (p->b.starting || pod_alive(p) || p->slirp <= 1)
            continue;
        if (gpf_rtsys_alive(p->slirp, p->slirp_start))
            kill(p->slirp, SIGKILL);
        p->slirp = 0;
        save_state(r, p, NULL);
    }
    return gpf_rtpods_list(&r->pods, ids, max);
}

/* A pod's processes are its cgroup's and its root process's descendants, never found by an
 * environment variable, which anything in the pod can set. */
static int oci_activity(gpf_runtime *rt, const char *pod_id, gpf_pod_activity *out)
{
    if (!rt || !pod_id)
        return GPF_ENOTFOUND;
    oci_rt *r = rt->priv;
    return gpf_rtpods_activity(&r->pods, pod_id, 0, &r->snap, &r->snap_ms, out);
}

static int oci_images(gpf_runtime *rt, char (*digests)[80], int max)
{
    if (!rt || !digests)
        return 0;
    oci_rt *r = rt->priv;
    int n = 0;
    for (int i = 0; i < r->pods.n && n < max; i++) {
        const char *d = POD(r, i)->image;
        int seen = !d[0];
        for (int k = 0; k < n && !seen; k++)
            seen = !strcmp(digests[k], d);
        if (!seen)
            gpf_strlcpy(digests[n++], d, 80);
    }
    return n;
}

static void free_priv(oci_rt *r)
{
    if (!r)
        return;
    gpf_free(r->pods_dir);
    gpf_free(r->runc_root);
    if (r->runc_fd > 0)
        close(r->runc_fd);
    gpf_free(r->runc);
    gpf_free(r->slirp);
    gpf_free(r->init);
    gpf_free(r->cg_root);
    gpf_rtsys_snap_free(r->snap);
    gpf_rtpods_clear(&r->pods);
    gpf_free(r);
}

static void oci_close(gpf_runtime *rt)
{
    if (!rt)
        return;
    free_priv(rt->priv);
    gpf_free(rt);
}

static const gpf_runtime_ops OCI_OPS = {
    .name = "oci",
    .start_begin = oci_begin,
    .start_poll = oci_poll,
    .stop = oci_stop,
    .status = oci_status,
    .list = oci_list,
    .activity = oci_activity,
    .images = oci_images,
    .close = oci_close,
};

/* ---- opening --------------------------------------------------------------------------- */

static int exe_ok(const char *path)
{
    return path && path[0] == '/' && access(path, X_OK) == 0;
}

/* 0 when every directory from / down to dir lets other users through (x for others):
 * runc mounts a pod's files as the pod's own root, an unprivileged host uid. */
static int searchable(const char *dir, gpf_error *err)
{
    char p[PATH_MAX];
    gpf_strlcpy(p, dir, sizeof p);
    for (char *slash = p + strlen(p); slash && slash > p; slash = strrchr(p, '/')) {
        struct stat st;
        if (stat(p, &st) != 0 || !(st.st_mode & S_IXOTH))
            return gpf_error_set(err, GPF_EUNAVAIL, "oci runtime: %s is not searchable by other users (mode %04o): "
                                 "pods, which run as unprivileged uids, cannot reach their files; chmod o+x it or "
                                 "choose another --state-dir", p, (unsigned)(st.st_mode & 07777));
        *slash = '\0';
    }
    return 0;
}

/* Copies the static pod-init to dst (0755, replaced by rename) unless dst has its bytes. */
static int install_init(const char *src, const char *dst, gpf_error *err)
{
    char *a = NULL, *b = NULL, tmp[PATH_MAX + 8];
    size_t na = 0, nb = 0;
    int rc = 0, fd = -1;
    if (gpf_read_file_raw(src, 64 << 20, &a, &na, err) != 0)
        return gpf_error_set(err, GPF_EUNAVAIL, "oci runtime: cannot read pod init %.120s", src);
    if (gpf_read_file_raw(dst, 64 << 20, &b, &nb, NULL) == 0 && na == nb && !memcmp(a, b, na))
        goto out;
    snprintf(tmp, sizeof tmp, "%s.tmp", dst);
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0755);
    int ok = fd >= 0 && write(fd, a, na) == (ssize_t)na && fchmod(fd, 0755) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    if (!ok || rename(tmp, dst) != 0) {
        rc = gpf_error_set(err, GPF_EIO, "oci runtime: cannot install %s", dst);
        unlink(tmp);
    }
out:
    gpf_free(a);
    gpf_free(b);
    return rc;
}

int gpf_runtime_oci_open(const gpf_runtime_config *cfg, gpf_runtime **out, gpf_error *err)
{
    oci_rt *r = NULL;
    char ebuf[128], path[PATH_MAX], real[PATH_MAX], self[PATH_MAX];
    int rc = 0;
    if (!out)
        return gpf_error_set(err, GPF_EINVAL, "gpf_runtime_oci_open: out is NULL");
    *out = NULL;
    if (!cfg || !cfg->state_dir || !cfg->state_dir[0])
        return gpf_error_set(err, GPF_EINVAL, "oci runtime: no state directory");
    if (geteuid() != 0)
        return gpf_error_set(err, GPF_EUNAVAIL, "oci runtime: the agent must run as root (it maps each pod's user "
                             "namespace to a uid range of its own); use --runtime process (no sandbox) or fake");
    r = GPF_NEW(oci_rt);
    r->pods.size = sizeof(opod);
    const char *runc = cfg->runc_path && cfg->runc_path[0] ? cfg->runc_path : "/usr/sbin/runc";
    const char *slirp = cfg->slirp_path ? cfg->slirp_path : "/usr/bin/slirp4netns";
    const char *listen = cfg->listen_address && cfg->listen_address[0] ? cfg->listen_address : "127.0.0.1";
    r->port_min = cfg->port_min;
    r->port_max = cfg->port_max;
    r->next_port = cfg->port_min;
    r->timeout_ms = cfg->start_timeout_ms > 10000 ? cfg->start_timeout_ms : 10000;
    r->max_pods = cfg->max_pods > 0 ? cfg->max_pods : 1024;
    r->pids_max = cfg->pids_max > 0 ? cfg->pids_max : 4096;
    r->no_new_privs = cfg->no_new_privs;
    long long base = cfg->uid_base > 0 ? cfg->uid_base : 1073741824LL;
    if (base < 65536 || base + (long long)r->max_pods * GPF_OCI_UID_RANGE > 4294967294LL) {
        rc = gpf_error_set(err, GPF_EINVAL, "oci runtime: uid base %lld with %d pods leaves the 32-bit uid space",
                           base, r->max_pods);
        goto out;
    }
    r->uid_base = (uint32_t)base;
    if (r->port_min < 1 || r->port_max > 65535 || r->port_min > r->port_max) {
        rc = gpf_error_set(err, GPF_EINVAL, "oci runtime: bad sshd port range %d-%d", cfg->port_min, cfg->port_max);
        goto out;
    }
    if (!gpf_rtproc_charset_ok(listen, ".:-_") || strlen(listen) >= sizeof r->listen) {
        rc = gpf_error_set(err, GPF_EINVAL, "oci runtime: bad listen address '%.60s'", listen);
        goto out;
    }
    gpf_strlcpy(r->listen, listen, sizeof r->listen);
    if ((rc = gpf_rtproc_resolve(r->listen, &r->bind_addr, &r->conn_addr, &r->addr_len, err)) != 0)
        goto out;
    if (!exe_ok(runc)) {
        rc = gpf_error_set(err, GPF_EUNAVAIL, "oci runtime: no runc at %.120s (apt-get install runc)", runc);
        goto out;
    }
    r->runc = gpf_strdup(runc);
    if (slirp[0]) {
        if (!exe_ok(slirp)) {
            rc = gpf_error_set(err, GPF_EUNAVAIL, "oci runtime: no slirp4netns at %.120s (apt-get install "
                               "slirp4netns, or --slirp4netns \"\" for pods without outbound network)", slirp);
            goto out;
        }
        r->slirp = gpf_strdup(slirp);
    }
    const char *init = cfg->pod_init_path;
    if (!init || !init[0]) {
        const char *exe = gpf_self_exe(self, sizeof self, "");
        const char *slash = strrchr(exe, '/');
        snprintf(path, sizeof path, "%.*s/" POD_INIT_NAME, slash ? (int)(slash - exe) : 1, slash ? exe : ".");
        init = path;
    }
    if (!exe_ok(init)) {
        rc = gpf_error_set(err, GPF_EUNAVAIL, "oci runtime: no pod init at %.120s (make builds " POD_INIT_NAME
                           ", a static program, beside gpufleet)", init);
        goto out;
    }
    char init_src[PATH_MAX];
    gpf_strlcpy(init_src, init, sizeof init_src);
    if (gpf_rtproc_mkdir_ok(cfg->state_dir, 0711) != 0 || !realpath(cfg->state_dir, real)) {
        rc = gpf_error_set(err, GPF_EIO, "cannot use state directory %s: %s", cfg->state_dir,
                           strerror_r(errno, ebuf, sizeof ebuf));
        goto out;
    }
    /* The pods' uid ranges must be able to walk down to their bundles: 0711, nothing listable. */
    chmod(real, 0711);
    if (strlen(real) > PATH_MAX - 256 || strchr(real, ',') || strchr(real, ':') ||
        gpf_rtproc_path_join(path, sizeof path, real, "pods", NULL) != 0) {
        rc = gpf_error_set(err, GPF_EINVAL, "state directory %.120s: path too long or has ',' or ':'", real);
        goto out;
    }
    r->pods_dir = gpf_strdup(path);
    if (gpf_rtproc_mkdir_ok(r->pods_dir, 0711) != 0 || chmod(r->pods_dir, 0711) != 0) {
        rc = gpf_error_set(err, GPF_EIO, "cannot create %s: %s", r->pods_dir, strerror_r(errno, ebuf, sizeof ebuf));
        goto out;
    }
    if ((rc = searchable(r->pods_dir, err)) != 0 || (rc = gpf_ocifs_probe(r->pods_dir, err)) != 0)
        goto out;
    if (gpf_rtproc_mkdir_ok("/run/gpufleet", 0700) != 0 || gpf_rtproc_mkdir_ok("/run/gpufleet/runc", 0700) != 0) {
        rc = gpf_error_set(err, GPF_EIO, "cannot create /run/gpufleet/runc: %s", strerror_r(errno, ebuf, sizeof ebuf));
        goto out;
    }
    r->runc_root = gpf_strdup("/run/gpufleet/runc");
    /* The pods bind pod-init from the state directory, which they can reach (a build tree
     * under a home directory may not be). */
    if (gpf_rtproc_path_join(path, sizeof path, real, POD_INIT_NAME, NULL) != 0 ||
        (rc = install_init(init_src, path, err)) != 0)
        goto out;
    r->init = gpf_strdup(path);
    const char *cg_root = cfg->cgroup_root ? cfg->cgroup_root : "/sys/fs/cgroup";
    if (cg_root[0] && gpf_rtcg_probe(cg_root, &r->cg_version, NULL) == 0)
        r->cg_root = gpf_strdup(cg_root);
    if (gpf_rtproc_read_text("/proc/sys/kernel/random/boot_id", r->boot_id, sizeof r->boot_id) == 0)
        r->boot_id[strcspn(r->boot_id, "\n")] = '\0';
    adopt_pods(r);
    gpf_runtime *rt = GPF_NEW(gpf_runtime);
    rt->ops = &OCI_OPS;
    rt->priv = r;
    rt->max_pods = r->max_pods;
    r = NULL;
    *out = rt;
out:
    free_priv(r);
    return rc;
}
