/* What the OCI runtime gives a pod before runc starts it, and what it checks once the pod
 * runs (see runtime_oci_int.h). The pod's directory under state_dir/pods/<id>/:
 *   state              the agent's record of the pod (never visible to the pod)
 *   config.json        the OCI bundle's configuration; rootfs/ the merged root
 *   lower/ upper/ work/ the idmapped image, the pod's writable layer, overlay's work dir
 *   home/              /home/<login> in the pod: kept while the pod exists, across restarts
 *   ssh/               /etc/ssh/gpufleet in the pod, read-only: the pod's own host key,
 *                      authorized_keys (the owner's key) and sshd_config
 *   etc/               hostname, hosts, resolv.conf, bound read-only
 *   log.d/log          pod-init's and sshd's log, on a 1 MiB tmpfs of its own (the pod can
 *                      write it: read as hostile, and it cannot fill the host's disk)
 *   container.pid      written by runc */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/cdi.h"
#include "agent/oci_fs.h"
#include "agent/oci_spec.h"
#include "agent/runtime_oci_int.h"
#include "agent/runtime_process_int.h"
#include "model/fleet.h" /* gpf_sku_env_valid, gpf_sku_env_reserved */
#include "util/alloc.h"
#include "util/buf.h"
#include "util/subproc.h"
#include "util/sshkey.h"

#define INNER_SSH "/etc/ssh/gpufleet"
#define INNER_INIT "/.gpufleet/pod-init"

int gpf_rtoci_runc(const oci_rt *r, char *const *args, int timeout_ms, gpf_error *err)
{
    char *argv[24], out[512];
    int a = 0, code = 0, rc;
    argv[a++] = r->runc;
    argv[a++] = "--root";
    argv[a++] = r->runc_root;
    for (int i = 0; args[i] && a < 23; i++)
        argv[a++] = args[i];
    argv[a] = NULL;
    char *envp[] = {SSH_PATH, NULL};
    if ((rc = gpf_subproc_run_env(argv, envp, timeout_ms, NULL, NULL, out, sizeof out, &code, err)) != 0)
        return rc;
    if (code != 0) {
        out[strcspn(out, "\n")] = '\0';
        return gpf_error_set(err, GPF_EIO, "runc %s: %.300s", args[0], out[0] ? out : "failed");
    }
    return 0;
}

/* path owned by base + uid (a file the agent made for the pod). */
static int give(const char *path, uint32_t base, uint32_t uid)
{
    return lchown(path, base + uid, base + uid);
}

/* The pod's own host key in ssh/ (made once, in process: it stays the pod's across
 * restarts) and its public line into p->b.st.host_key. */
static int host_key(opod *p, const char *sshdir, uint32_t base, gpf_error *err)
{
    char key[PATH_MAX], pub[PATH_MAX], comment[GPF_ID_MAX + 16];
    gpf_buf priv = {0}, line = {0};
    int rc = 0;
    if (gpf_rtproc_path_join(key, sizeof key, sshdir, "ssh_host_ed25519_key", NULL) ||
        gpf_rtproc_path_join(pub, sizeof pub, sshdir, "ssh_host_ed25519_key.pub", NULL))
        return gpf_error_set(err, GPF_EINVAL, "pod directory path too long");
    if (access(key, R_OK) != 0 || access(pub, R_OK) != 0) {
        unlink(key);
        unlink(pub);
        snprintf(comment, sizeof comment, "gpufleet-%s", p->b.id);
        if ((rc = gpf_sshkey_ed25519(comment, &priv, &line, err)) != 0 ||
            (rc = gpf_rtproc_write_file(key, gpf_buf_cstr(&priv), 0600, err)) != 0 ||
            (rc = gpf_rtproc_write_file(pub, gpf_buf_cstr(&line), 0644, err)) != 0)
            goto out;
    }
    if (give(key, base, 0) != 0 || chmod(key, 0600) != 0 || give(pub, base, 0) != 0 ||
        gpf_rtproc_read_text(pub, p->b.st.host_key, sizeof p->b.st.host_key) != 0) {
        rc = gpf_error_set(err, GPF_EIO, "cannot install the pod's host key");
        goto out;
    }
    p->b.st.host_key[strcspn(p->b.st.host_key, "\n")] = '\0';
    if (!gpf_rtproc_pubkey_ok(p->b.st.host_key))
        rc = gpf_error_set(err, GPF_EIO, "the pod's host key is not a public key line");
out:
    if (priv.data)
        memset(priv.data, 0, priv.len);
    gpf_buf_clear(&priv);
    gpf_buf_clear(&line);
    return rc;
}

static int write_owned(const char *dir, const char *name, const char *data, mode_t mode, uint32_t base, gpf_error *err)
{
    char path[PATH_MAX];
    int rc;
    if (gpf_rtproc_path_join(path, sizeof path, dir, name, NULL))
        return gpf_error_set(err, GPF_EINVAL, "pod directory path too long");
    unlink(path); /* written afresh on every start, never through what is there */
    if ((rc = gpf_rtproc_write_file(path, data, mode, err)) != 0)
        return rc;
    if (give(path, base, 0) != 0)
        return gpf_error_set(err, GPF_EIO, "cannot chown %s", path);
    return 0;
}

static int own_dir(const char *path, mode_t mode, uint32_t owner)
{
    struct stat st;
    if (mkdir(path, mode) != 0 && errno != EEXIST)
        return -1;
    if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return -1;
    return lchown(path, owner, owner) == 0 && chmod(path, mode) == 0 ? 0 : -1;
}

/* The CDI spec's environment, for the pod's sessions: each entry whose name the runtime
 * does not set itself and whose value sshd_config can hold. */
static void cdi_env(const gpf_pod_spec *spec, gpf_buf *env)
{
    for (int i = 0; spec->cdi && i < spec->cdi->nenv; i++) {
        const char *e = spec->cdi->env[i], *eq = strchr(e, '=');
        char name[GPF_TEXT_MAX] = "";
        if (eq && (size_t)(eq - e) < sizeof name) {
            memcpy(name, e, (size_t)(eq - e));
            name[eq - e] = '\0';
        }
        if (eq && !gpf_sku_env_reserved(name) && gpf_rtproc_cfg_text_ok(e))
            gpf_buf_printf(env, " \"%s\"", e);
    }
}

/* sshd_config, authorized_keys, hostname, hosts, resolv.conf. */
static int pod_files(const oci_rt *r, opod *p, const gpf_pod_spec *spec, const char *sshdir, const char *etcdir,
                     uint32_t base, gpf_error *err)
{
    gpf_buf b = {0}, env = {0};
    int rc;
    gpf_buf_printf(&env, " \"CUDA_VISIBLE_DEVICES=%s\" \"NVIDIA_VISIBLE_DEVICES=%s\" \"GPUFLEET_POD_ID=%s\"",
                   spec->device_ids, spec->device_ids[0] ? spec->device_ids : "void", spec->id);
    if ((rc = gpf_rtproc_append_sku_env(&env, spec->env, err)) != 0)
        goto out;
    cdi_env(spec, &env);
    gpf_buf_printf(&b, "# gpufleet pod %s: written by the agent on every start (read-only in the pod)\n", p->b.id);
    gpf_buf_printf(&b, "HostKey " INNER_SSH "/ssh_host_ed25519_key\nAuthorizedKeysFile " INNER_SSH
                       "/authorized_keys\nAllowUsers %s\n",
                   p->b.st.ssh_user);
    gpf_buf_puts(&b, "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
                     "PermitRootLogin no\nUsePAM no\nPidFile none\nPrintMotd no\nPrintLastLog no\nX11Forwarding no\n"
                     "Subsystem sftp internal-sftp\n");
    gpf_buf_printf(&b, "SetEnv%s\n", gpf_buf_cstr(&env));
    if ((rc = write_owned(sshdir, "sshd_config", gpf_buf_cstr(&b), 0644, base, err)) != 0)
        goto out;
    gpf_buf_reset(&b);
    gpf_buf_printf(&b, "%s\n", spec->ssh_pubkey);
    if ((rc = write_owned(sshdir, "authorized_keys", gpf_buf_cstr(&b), 0644, base, err)) != 0)
        goto out;
    gpf_buf_reset(&b);
    gpf_buf_printf(&b, "%s\n", p->b.id);
    if ((rc = write_owned(etcdir, "hostname", gpf_buf_cstr(&b), 0644, base, err)) != 0)
        goto out;
    gpf_buf_reset(&b);
    gpf_buf_printf(&b, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t%s\n", p->b.id);
    if ((rc = write_owned(etcdir, "hosts", gpf_buf_cstr(&b), 0644, base, err)) != 0)
        goto out;
    /* slirp4netns answers DNS on 10.0.2.3; without outbound network there is none. */
    rc = write_owned(etcdir, "resolv.conf", r->slirp ? "nameserver 10.0.2.3\n" : "# no network\n", 0644, base, err);
out:
    gpf_buf_clear(&b);
    gpf_buf_clear(&env);
    return rc;
}

/* The pod's GPU nodes, bound from their host paths; a character or block device is also
 * allowed, by its numbers, in the device cgroup (a stand-in file of the fake backend's tree
 * needs no rule). */
static int add_devices(const gpf_pod_spec *spec, gpf_oci_input *in, char (*paths)[GPF_ISO_NAME_MAX + 8],
                       gpf_error *err)
{
    for (int i = 0; i < spec->iso.nnodes && i < GPF_ISO_MAX_NODES; i++) {
        struct stat st;
        snprintf(paths[i], GPF_ISO_NAME_MAX + 8, "/dev/%s", spec->iso.nodes[i].name);
        if (stat(spec->iso.nodes[i].host_path, &st) != 0)
            return gpf_error_set(err, GPF_EIO, "device node %s is gone", spec->iso.nodes[i].host_path);
        if (in->nmounts >= GPF_OCI_MAX_MOUNTS || in->ndevices >= GPF_OCI_MAX_DEVICES)
            return gpf_error_set(err, GPF_EINVAL, "too many device nodes for one pod");
        if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
            gpf_oci_device *d = &in->devices[in->ndevices++];
            d->path = paths[i];
            d->type = S_ISCHR(st.st_mode) ? 'c' : 'b';
            d->major = major(st.st_rdev);
            d->minor = minor(st.st_rdev);
            d->file_mode = 0666;
        } else if (!S_ISREG(st.st_mode)) {
            return gpf_error_set(err, GPF_EINVAL, "%s is neither a device node nor a stand-in file",
                                 spec->iso.nodes[i].host_path);
        }
        in->mounts[in->nmounts++] = (gpf_oci_mount){spec->iso.nodes[i].host_path, paths[i], 0, 1};
    }
    return 0;
}

/* Storage for the NULL-terminated argument and environment lists of CDI hooks. */
typedef struct hook_lists {
    const char *args[GPF_CDI_MAX_HOOKS][GPF_CDI_MAX_ARGS + 1];
    const char *env[GPF_CDI_MAX_HOOKS][GPF_CDI_MAX_HOOK_ENV + 1];
} hook_lists;

/* The pod's GPUs as the host's CDI spec injects them: its device nodes (bound from their
 * host paths and allowed by number in the device cgroup), driver mounts and hooks. */
static int add_cdi(const gpf_cdi_edits *e, gpf_oci_input *in, hook_lists *hl, gpf_buf *missing, gpf_error *err)
{
    for (int i = 0; i < e->nnodes; i++) {
        const gpf_cdi_node *n = &e->nodes[i];
        struct stat st;
        if (stat(n->host_path, &st) != 0) { /* said in the pod's message, as the plan's missing nodes are */
            gpf_buf_printf(missing, "%s%s", missing->len ? "," : "", n->path);
            continue;
        }
        if (in->nmounts >= GPF_OCI_MAX_MOUNTS || in->ndevices >= GPF_OCI_MAX_DEVICES)
            return gpf_error_set(err, GPF_EINVAL, "too many CDI device nodes for one pod");
        if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
            gpf_oci_device *d = &in->devices[in->ndevices++];
            d->path = n->path;
            d->type = S_ISBLK(st.st_mode) ? 'b' : 'c';
            d->major = n->has_numbers ? n->major : (long long)major(st.st_rdev);
            d->minor = n->has_numbers ? n->minor : (long long)minor(st.st_rdev);
            d->file_mode = n->file_mode ? n->file_mode : 0666;
        } else if (!S_ISREG(st.st_mode)) {
            return gpf_error_set(err, GPF_EINVAL, "CDI device node %s is neither a device nor a stand-in file",
                                 n->host_path);
        }
        in->mounts[in->nmounts++] = (gpf_oci_mount){n->host_path, n->path, 0, 1};
    }
    for (int i = 0; i < e->nmounts; i++) {
        if (in->nmounts >= GPF_OCI_MAX_MOUNTS)
            return gpf_error_set(err, GPF_EINVAL, "too many CDI mounts for one pod");
        in->mounts[in->nmounts++] = (gpf_oci_mount){e->mounts[i].host_path, e->mounts[i].container_path,
                                                    e->mounts[i].readonly, 0};
    }
    for (int i = 0; i < e->nhooks && i < GPF_OCI_MAX_HOOKS; i++) {
        const gpf_cdi_hook *k = &e->hooks[i];
        for (int a = 0; a < k->nargs && a < GPF_CDI_MAX_ARGS; a++)
            hl->args[i][a] = k->args[a];
        hl->args[i][k->nargs < GPF_CDI_MAX_ARGS ? k->nargs : GPF_CDI_MAX_ARGS] = NULL;
        for (int v = 0; v < k->nenv && v < GPF_CDI_MAX_HOOK_ENV; v++)
            hl->env[i][v] = k->env[v];
        hl->env[i][k->nenv < GPF_CDI_MAX_HOOK_ENV ? k->nenv : GPF_CDI_MAX_HOOK_ENV] = NULL;
        in->hooks[in->nhooks++] = (gpf_oci_hook){k->hook_name, k->path, hl->args[i], hl->env[i], k->timeout};
    }
    return 0;
}

int gpf_rtoci_prepare(oci_rt *r, opod *p, const gpf_pod_spec *spec, const char *dir, int port, gpf_error *err)
{
    char sshdir[PATH_MAX], etcdir[PATH_MAX], home[PATH_MAX], rootfs[PATH_MAX], cfgp[PATH_MAX], ebuf[128];
    char inner_home[OCI_LOGIN_MAX + 8], cg_path[GPF_ID_MAX + 16], cpuset[4096] = "", mems[16] = "", host[GPF_ID_MAX];
    char etcsrc[3][PATH_MAX], devpaths[GPF_ISO_MAX_NODES][GPF_ISO_NAME_MAX + 8], env_id[GPF_ID_MAX + 32];
    char fdarg[8] = "3";
    gpf_oci_input *in = GPF_NEW(gpf_oci_input);
    hook_lists *hl = GPF_NEW(hook_lists);
    gpf_buf missing = {0};
    json_t *cfg = NULL;
    uint32_t uid = 0, base = r->uid_base + (uint32_t)p->slot * GPF_OCI_UID_RANGE;
    int rc = 0;
    (void)port;
    if (gpf_rtproc_path_join(sshdir, sizeof sshdir, dir, "ssh", NULL) ||
        gpf_rtproc_path_join(etcdir, sizeof etcdir, dir, "etc", NULL) ||
        gpf_rtproc_path_join(home, sizeof home, dir, "home", NULL) ||
        gpf_rtproc_path_join(rootfs, sizeof rootfs, dir, "rootfs", NULL) ||
        gpf_rtproc_path_join(cfgp, sizeof cfgp, dir, "config.json", NULL)) {
        rc = gpf_error_set(err, GPF_EINVAL, "pod directory path too long");
        goto out;
    }
    if (own_dir(sshdir, 0755, base) != 0 || own_dir(etcdir, 0755, base) != 0) {
        rc = gpf_error_set(err, GPF_EIO, "cannot create the pod's files under %s: %s", dir,
                           strerror_r(errno, ebuf, sizeof ebuf));
        goto out;
    }
    if ((rc = gpf_ocifs_mount(spec->image_rootfs, dir, base, err)) != 0 ||
        (rc = gpf_ocifs_setup_user(rootfs, spec->owner, base, p->b.st.ssh_user, sizeof p->b.st.ssh_user, &uid, err)) != 0 ||
        (rc = host_key(p, sshdir, base, err)) != 0 || (rc = pod_files(r, p, spec, sshdir, etcdir, base, err)) != 0)
        goto out;
    if (own_dir(home, 0750, base + uid) != 0) {
        rc = gpf_error_set(err, GPF_EIO, "cannot create the pod's home %s: %s", home, strerror_r(errno, ebuf, sizeof ebuf));
        goto out;
    }

    snprintf(inner_home, sizeof inner_home, "/home/%s", p->b.st.ssh_user);
    in->mounts[in->nmounts++] = (gpf_oci_mount){home, inner_home, 0, 0};
    in->mounts[in->nmounts++] = (gpf_oci_mount){sshdir, INNER_SSH, 1, 0};
    in->mounts[in->nmounts++] = (gpf_oci_mount){r->init, INNER_INIT, 1, 0};
    static const char *const etc_names[] = {"hostname", "hosts", "resolv.conf"};
    static const char *const etc_inner[] = {"/etc/hostname", "/etc/hosts", "/etc/resolv.conf"};
    for (int i = 0; i < 3; i++) {
        gpf_rtproc_path_join(etcsrc[i], sizeof etcsrc[i], etcdir, etc_names[i], NULL);
        in->mounts[in->nmounts++] = (gpf_oci_mount){etcsrc[i], etc_inner[i], 1, 0};
    }
    if ((rc = spec->cdi ? add_cdi(spec->cdi, in, hl, &missing, err) : add_devices(spec, in, devpaths, err)) != 0)
        goto out;
    if (spec->cdi)
        snprintf(p->devnote, sizeof p->devnote, "devices per CDI (%d nodes, %d mounts, %d hooks)%s%.120s",
                 in->ndevices, spec->cdi->nmounts, in->nhooks, missing.len ? "; missing " : "",
                 missing.len ? gpf_buf_cstr(&missing) : "");
    else
        gpf_iso_dev_summary(&spec->iso, p->devnote, sizeof p->devnote);

    snprintf(env_id, sizeof env_id, "GPUFLEET_POD_ID=%s", spec->id);
    const char *args[] = {INNER_INIT, "--fd", fdarg, "--sshd", "/usr/sbin/sshd", "--config", INNER_SSH "/sshd_config",
                          NULL};
    const char *env[] = {SSH_PATH, env_id, NULL};
    gpf_strlcpy(host, p->b.id, sizeof host);
    in->hostname = host;
    in->args = args;
    in->env = env;
    in->uid_base = base;
    in->no_new_privs = r->no_new_privs;
    in->seccomp = 1;
    in->pids_max = r->pids_max;
    if (r->cg_root) {
        snprintf(cg_path, sizeof cg_path, "/gpufleet/pod-%s", p->b.id);
        in->cgroups_path = cg_path;
        in->cpus = spec->cpus;
        in->memory_mib = spec->memory_mib;
        if (spec->iso.pin) {
            gpf_iso_cpulist(spec->iso.cpu_mask, GPF_SYSFS_MAX_CPUS, cpuset, sizeof cpuset);
            if (spec->iso.numa_node >= 0)
                snprintf(mems, sizeof mems, "%d", spec->iso.numa_node);
        }
        in->cpuset = cpuset;
        in->mems = mems;
        /* Where its processes are listed: the pids hierarchy on v1, the pod's own on v2. */
        if (r->cg_version == 2)
            snprintf(p->b.cgroup, sizeof p->b.cgroup, "%s/gpufleet/pod-%s", r->cg_root, p->b.id);
        else
            snprintf(p->b.cgroup, sizeof p->b.cgroup, "%s/pids/gpufleet/pod-%s", r->cg_root, p->b.id);
    }
    if (!(cfg = gpf_oci_config(in, err))) {
        rc = err ? err->code : GPF_EINVAL;
        goto out;
    }
    char *text = json_dumps(cfg, JSON_COMPACT);
    rc = text ? gpf_rtproc_write_file(cfgp, text, 0600, err) : gpf_error_set(err, GPF_EIO, "cannot encode config.json");
    free(text);
out:
    json_decref(cfg);
    gpf_free(in);
    gpf_free(hl);
    gpf_buf_clear(&missing);
    return rc;
}

/* ---- what is in force ---------------------------------------------------------------- */

static int same_ns(pid_t pid, const char *ns)
{
    char a[64], b[64], la[64] = "", lb[64] = "";
    snprintf(a, sizeof a, "/proc/%d/ns/%s", (int)pid, ns);
    snprintf(b, sizeof b, "/proc/self/ns/%s", ns);
    ssize_t na = readlink(a, la, sizeof la - 1), nb = readlink(b, lb, sizeof lb - 1);
    if (na <= 0 || nb <= 0)
        return -1;
    la[na] = lb[nb] = '\0';
    return strcmp(la, lb) == 0;
}

/* The hex value after "key:\t" in a /proc/PID/status text, or -1 when absent. */
static long long status_field(const char *text, const char *key, int base)
{
    const char *p = strstr(text, key);
    if (!p)
        return -1;
    p += strlen(key);
    while (*p == ' ' || *p == '\t')
        p++;
    char *end = NULL;
    long long v = strtoll(p, &end, base);
    return end == p ? -1 : v;
}

void gpf_rtoci_verify(const oci_rt *r, opod *p)
{
    static const char *const NS[][2] = {{"user", "userns"}, {"net", "netns"},  {"pid", "pidns"},
                                        {"ipc", "ipcns"},   {"uts", "utsns"},  {"mnt", "mountns"},
                                        {"cgroup", "cgroupns"}};
    char path[64], status[8192];
    gpf_buf b = {0};
    for (size_t i = 0; i < sizeof NS / sizeof NS[0]; i++)
        if (same_ns(p->b.pid, NS[i][0]) == 0)
            gpf_buf_printf(&b, "%s%s", b.len ? " " : "", NS[i][1]);
    snprintf(path, sizeof path, "/proc/%d/status", (int)p->b.pid);
    if (gpf_rtsys_read_small(path, status, sizeof status) > 0) {
        if (status_field(status, "\nSeccomp:", 10) == 2)
            gpf_buf_puts(&b, " seccomp");
        if (status_field(status, "\nNoNewPrivs:", 10) == 1)
            gpf_buf_puts(&b, " no_new_privs");
        long long bnd = status_field(status, "\nCapBnd:", 16);
        /* CAP_SYS_ADMIN 21, CAP_NET_RAW 13, CAP_MKNOD 27, CAP_SYS_MODULE 16, CAP_SYS_PTRACE 19 */
        if (bnd >= 0 && !(bnd & ((1LL << 21) | (1LL << 13) | (1LL << 27) | (1LL << 16) | (1LL << 19))))
            gpf_buf_puts(&b, " caps_dropped");
    }
    gpf_buf_puts(&b, " devices sys_ro proc_masked");
    /* The cgroup is in force when the pod's root process is listed in it. */
    pid_t pids[64];
    int n = p->b.cgroup[0] ? gpf_rtcg_pids(p->b.cgroup, pids, 64) : 0, in_cg = 0;
    for (int i = 0; i < n && !in_cg; i++)
        in_cg = pids[i] == p->b.pid;
    if (in_cg)
        gpf_buf_puts(&b, " cgroups");
    gpf_strlcpy(p->b.st.layers, gpf_buf_cstr(&b), sizeof p->b.st.layers);
    gpf_buf_clear(&b);
    /* The boundary is only what it claims when the user namespace and seccomp are there. */
    int sandboxed = strstr(p->b.st.layers, "userns") && strstr(p->b.st.layers, "netns") && strstr(p->b.st.layers, "seccomp");
    if (!sandboxed)
        p->b.st.isolation = GPF_ISO_SOFT;
    else if (p->slice_kind == GPF_SLICE_SHARE || p->slice_kind == GPF_SLICE_VGPU)
        p->b.st.isolation = GPF_ISO_DEVICE;
    else
        p->b.st.isolation = GPF_ISO_HARDWARE;
    (void)r;
}
