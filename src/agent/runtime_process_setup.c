/* The process runtime's preparations (runtime_process.c runs the pods; see
 * runtime_process_int.h): checking what a pod spec and the SKU bring, the small file
 * helpers, and what a pod is given before its root process starts: its sshd_config, the
 * bubblewrap sandbox around it, its cgroups and the message that says what was done; then
 * the host checks made when the runtime opens (listen address, login user, host key,
 * `sshd -t`, the bubblewrap probe).
 *
 * With bubblewrap the pod runs in its own pid namespace with a private home directory
 * bound over the login user's home and a private /dev that holds, of the NVIDIA device
 * nodes, only those of the spec's isolation plan (isolation "hardware" for whole GPUs and
 * MIG, "device" for shares and vGPU); without it (no bwrap, or the kernel refuses the
 * namespaces) pod-init runs as a plain process, isolation is "soft" and the message says so.
 * Either way the pod's root process pins itself to the plan's CPUs, prefers its NUMA
 * node's memory and joins the pod's cgroups before exec: cgroup v2 (cpu.max, memory.max,
 * cpuset.cpus), or on a cgroup v1 host the memory, cpu and cpuset hierarchies
 * (memory.limit_in_bytes, cpu.cfs_quota_us, cpuset.cpus). The status message states what
 * was done: "bwrap sandbox; dev nvidia0,nvidiactl,nvidia-uvm; cpus 0-15 (numa 0), memory
 * numa 0 preferred; cgroup v2 cpu 4 mem 16384M cpuset". */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/runtime_process_int.h"
#include "model/fleet.h" /* gpf_sku_env_valid, gpf_sku_env_reserved */
#include "util/alloc.h"
#include "util/buf.h"
#include "util/subproc.h"
#include "util/fileio.h"

#define MSG_BWRAP "bwrap sandbox"
#define CG_UNAVAILABLE "no cgroup"

/* ---- validation ----------------------------------------------------- */

/* 1 when safe inside a double-quoted sshd_config token: printable, no quote, backslash or
 * '%'; else 0. */
int gpf_rtproc_cfg_text_ok(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"' || *s == '\\' || *s == '%')
            return 0;
    return 1;
}

/* 1 when every character of s is an ASCII letter, a digit or one of extra; else 0. */
int gpf_rtproc_charset_ok(const char *s, const char *extra)
{
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr(extra, c)))
            return 0;
    }
    return 1;
}

/* 1 when k is one OpenSSH public key line ("type base64 [comment]"); else 0. */
int gpf_rtproc_pubkey_ok(const char *k)
{
    size_t n = strnlen(k, GPF_PUBKEY_MAX);
    if (n == 0 || n >= GPF_PUBKEY_MAX)
        return 0;
    if (strncmp(k, "ssh-", 4) && strncmp(k, "ecdsa-", 6) && strncmp(k, "sk-", 3))
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)k[i] < 0x20 || k[i] == 0x7f)
            return 0;
    return strchr(k, ' ') != NULL; /* "type base64 [comment]" */
}

/* Appends the SKU's "K=V;K2=V2" to the SetEnv line after checking it against the one rule
 * the API keeps too (gpf_sku_env_valid); 0, or GPF_EINVAL saying which entry is refused. */
int gpf_rtproc_append_sku_env(gpf_buf *b, const char *env, gpf_error *err)
{
    char why[GPF_TEXT_MAX];
    if (!gpf_sku_env_valid(env, why, sizeof why))
        return gpf_error_set(err, GPF_EINVAL, "%s", why);
    for (const char *p = env; *p;) {
        size_t len = strcspn(p, ";");
        gpf_buf_printf(b, " \"%.*s\"", (int)len, p);
        p += len;
        if (*p == ';')
            p++;
    }
    return 0;
}

/* ---- small file helpers --------------------------------------------- */

/* a/b/c into out (b, c may be NULL: left out); 0, or -1 when it does not fit. */
int gpf_rtproc_path_join(char *out, size_t size, const char *a, const char *b, const char *c)
{
    int n = snprintf(out, size, "%s%s%s%s%s", a, b ? "/" : "", b ? b : "", c ? "/" : "", c ? c : "");
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Creates or truncates path (not through a symlink) and writes data; 0, or GPF_EIO. */
int gpf_rtproc_write_file(const char *path, const char *data, mode_t mode, gpf_error *err)
{
    char ebuf[128];
    int rc = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return gpf_error_set(err, GPF_EIO, "cannot create %s: %s", path, strerror_r(errno, ebuf, sizeof ebuf));
    size_t len = strlen(data), off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = gpf_error_set(err, GPF_EIO, "cannot write %s: %s", path, strerror_r(errno, ebuf, sizeof ebuf));
            break;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0 && rc == 0)
        rc = gpf_error_set(err, GPF_EIO, "cannot write %s", path);
    return rc;
}

/* A small text file (not through a symlink) into buf, NUL-terminated; 0, or -1 when unreadable. */
int gpf_rtproc_read_text(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    size_t len = 0;
    while (len + 1 < size) {
        ssize_t r = read(fd, buf + len, size - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    return 0;
}

/* Makes the directory unless it exists; 0, or -1 with errno set. */
int gpf_rtproc_mkdir_ok(const char *path, mode_t mode)
{
    return mkdir(path, mode) == 0 || errno == EEXIST ? 0 : -1;
}

/* ---- a pod's sshd config, sandbox, cgroups and message -------------- */

/* Where sshd finds its files: inside the sandbox they are bound read-only into a
 * private tmpfs (the login home is replaced, and the state dir may live under it). */
static const char *inner_dir(const proc_rt *r)
{
    if (!r->bwrap)
        return NULL;
    return r->is_root ? "/run/sshd/gpufleet" : "/run/gpufleet";
}

/* A pod's sshd_config into b; with inside, the paths sshd sees in the sandbox. Cannot fail. */
void gpf_rtproc_write_config(const proc_rt *r, const char *id, int port, const char *keys_path,
                             const char *home_path, const char *setenv, int inside, gpf_buf *b)
{
    const char *inner = inside ? inner_dir(r) : NULL;
    gpf_buf_printf(b, "# gpufleet pod %s: generated by the agent, rewritten on every start\n", id);
    gpf_buf_printf(b, "# connections: %s port %d, accepted by the pod's init, which runs sshd -i on each\n", r->listen,
                   port);
    if (inner)
        gpf_buf_printf(b, "HostKey \"%s/ssh_host_ed25519_key\"\nAuthorizedKeysFile \"%s/authorized_keys\"\n", inner,
                       inner);
    else
        gpf_buf_printf(b, "HostKey \"%s\"\nAuthorizedKeysFile \"%s\"\n", r->host_key, keys_path);
    gpf_buf_printf(b, "AllowUsers %s\n", r->user);
    gpf_buf_puts(b, "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
                    "PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPidFile none\nPrintMotd no\n"
                    "X11Forwarding no\nSubsystem sftp internal-sftp\n");
    gpf_buf_printf(b, "SetEnv%s", setenv);
    if (!inner)
        gpf_buf_printf(b, " \"HOME=%s\"", home_path);
    gpf_buf_puts(b, "\n");
}

static int home_bindable(const proc_rt *r)
{
    struct stat st;
    return r->home[0] == '/' && r->home[1] != '\0' && stat(r->home, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The bubblewrap part of a pod's command line into argv; returns the count (it cannot
 * fail). A pid namespace; a private /dev with, of the NVIDIA nodes, only the plan's; the
 * private home; sshd's files read-only in a private tmpfs. Run as root, the sandbox has
 * no CAP_MKNOD and no CAP_SYS_ADMIN, so that nobody inside makes or mounts the device
 * nodes it was not given. */
int gpf_rtproc_sandbox_argv(const proc_rt *r, const gpf_pod_spec *spec, const char *home, const char *cfg,
                            const char *keys, sandbox_paths *sp, char **argv)
{
    const char *inner = inner_dir(r);
    int a = 0;
    snprintf(sp->icfg, sizeof sp->icfg, "%s/sshd_config", inner);
    snprintf(sp->ikeys, sizeof sp->ikeys, "%s/authorized_keys", inner);
    snprintf(sp->ihost, sizeof sp->ihost, "%s/ssh_host_ed25519_key", inner);
    snprintf(sp->iinit, sizeof sp->iinit, "%s/" GPF_SSH_HELPER, inner); /* or gpufleet: the same verb */
    argv[a++] = r->bwrap;
    argv[a++] = "--unshare-pid";
    argv[a++] = "--bind";
    argv[a++] = "/";
    argv[a++] = "/";
    argv[a++] = "--dev";
    argv[a++] = "/dev";
    for (int i = 0; i < spec->iso.nnodes && i < GPF_ISO_MAX_NODES; i++) {
        snprintf(sp->dev[i], sizeof sp->dev[i], "/dev/%s", spec->iso.nodes[i].name);
        argv[a++] = "--dev-bind";
        argv[a++] = (char *)spec->iso.nodes[i].host_path;
        argv[a++] = sp->dev[i];
    }
    argv[a++] = "--proc";
    argv[a++] = "/proc";
    argv[a++] = "--tmpfs";
    argv[a++] = r->is_root ? "/run/sshd" : "/run";
    if (home_bindable(r)) {
        argv[a++] = "--bind";
        argv[a++] = (char *)home;
        argv[a++] = (char *)r->home;
    }
    argv[a++] = "--ro-bind";
    argv[a++] = (char *)cfg;
    argv[a++] = sp->icfg;
    argv[a++] = "--ro-bind";
    argv[a++] = (char *)keys;
    argv[a++] = sp->ikeys;
    argv[a++] = "--ro-bind";
    argv[a++] = r->host_key;
    argv[a++] = sp->ihost;
    argv[a++] = "--ro-bind"; /* where it lives may be hidden in there (a home, /run) */
    argv[a++] = r->init;
    argv[a++] = sp->iinit;
    if (r->is_root) {
        argv[a++] = "--cap-drop";
        argv[a++] = "CAP_MKNOD";
        argv[a++] = "--cap-drop";
        argv[a++] = "CAP_SYS_ADMIN";
    }
    return a;
}

/* The pod's cgroups, made and limited, with their cgroup.procs open in so for the pod's
 * root process to join; or, in note, why there are none (the pod runs anyway: no error). */
void gpf_rtproc_cgroup_setup(const proc_rt *r, const gpf_pod_spec *spec, char *dirs, size_t dsize,
                             gpf_rtsys_spawn_opts *so, char *note, size_t nsize)
{
    gpf_error e = {0};
    char ebuf[128];
    so->ncgroup_fds = 0;
    dirs[0] = '\0';
    if (!r->cg_root) {
        gpf_strlcpy(note, CG_UNAVAILABLE, nsize);
        return;
    }
    char cpuset[4096] = ""; /* holds any list of GPF_SYSFS_MAX_CPUS CPUs whole */
    if (spec->iso.pin)
        gpf_iso_cpulist(spec->iso.cpu_mask, GPF_SYSFS_MAX_CPUS, cpuset, sizeof cpuset);
    if (gpf_rtcg_create(r->cg_root, r->cg_version, spec->id, spec->cpus, spec->memory_mib, cpuset, dirs, dsize, note,
                        nsize, &e) != 0) {
        snprintf(note, nsize, "cgroup v%d failed (%.100s)", r->cg_version, gpf_error_msg(&e));
        return;
    }
    int n = gpf_rtcg_open_procs(dirs, so->cgroup_fds);
    if (n < 0) {
        snprintf(note, nsize, "cgroup v%d failed (cgroup.procs: %s)", r->cg_version,
                 strerror_r(errno, ebuf, sizeof ebuf));
        gpf_rtcg_remove(dirs, 0, NULL);
        dirs[0] = '\0';
        return;
    }
    so->ncgroup_fds = n;
}

/* Where the pod runs, as done: "cpus 0-15 (numa 0), memory numa 0 preferred", or why not
 * (cannot fail). */
void gpf_rtproc_cpu_describe(const gpf_pod_spec *spec, const gpf_rtsys_spawn_opts *so, char *note, size_t size)
{
    char ebuf[128];
    if (so->cpus_errno) {
        snprintf(note, size, "cpus not pinned (%s)", strerror_r(so->cpus_errno, ebuf, sizeof ebuf));
        return;
    }
    const char *cpus = spec->iso.cpu_note[0] ? spec->iso.cpu_note : "cpus not pinned";
    if (so->mem_node < 0)
        gpf_strlcpy(note, cpus, size);
    else if (so->mem_errno)
        snprintf(note, size, "%s, memory policy not set (%s)", cpus, strerror_r(so->mem_errno, ebuf, sizeof ebuf));
    else
        snprintf(note, size, "%s, memory numa %d preferred", cpus, so->mem_node);
}

/* What the pod got into st: isolation and the message that says what was done (cannot fail). */
void gpf_rtproc_describe(const proc_rt *r, const gpf_pod_spec *spec, const char *cpus, const char *cgroup,
                         gpf_pod_status *st)
{
    char dev[GPF_TEXT_MAX];
    gpf_buf b = {0};
    if (r->bwrap)
        gpf_iso_dev_summary(&spec->iso, dev, sizeof dev);
    else
        gpf_strlcpy(dev, "devices not isolated", sizeof dev);
    gpf_buf_printf(&b, "%s; %s; %s; %s", r->mode_msg, dev, cpus, cgroup);
    gpf_strlcpy(st->message, gpf_buf_cstr(&b), sizeof st->message);
    gpf_buf_clear(&b);
    /* Not a security boundary: the pod is host root with the host's files (bwrap binds /),
     * whatever the slice. Pods strangers share a host with run in the oci runtime. */
    (void)spec;
    st->isolation = GPF_ISO_SOFT;
}

/* ---- host checks at opening ----------------------------------------- */

/* listen resolved into the bind and readiness-check addresses; 0, or GPF_EINVAL. */
int gpf_rtproc_resolve(const char *listen, struct sockaddr_storage *bind, struct sockaddr_storage *conn,
                       socklen_t *len, gpf_error *err)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int e = getaddrinfo(listen, "22", &hints, &res);
    if (e != 0 || !res || res->ai_addrlen > sizeof *bind) {
        if (res)
            freeaddrinfo(res);
        return gpf_error_set(err, GPF_EINVAL, "cannot resolve listen address '%s': %s", listen,
                             e ? gai_strerror(e) : "no address");
    }
    memcpy(bind, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    /* Readiness is checked over loopback when sshd listens on every address. */
    *conn = *bind;
    if (conn->ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)conn;
        if (in->sin_addr.s_addr == htonl(INADDR_ANY))
            in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (conn->ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)conn;
        if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
            in6->sin6_addr = in6addr_loopback;
    }
    return 0;
}

/* The user pods log in as (this process's) and its home into r; 0, or GPF_EUNAVAIL. */
int gpf_rtproc_login_user(proc_rt *r, gpf_error *err)
{
    struct passwd pw, *res = NULL;
    char buf[16384];
    uid_t uid = geteuid();
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) != 0 || !res)
        return gpf_error_set(err, GPF_EUNAVAIL, "uid %u has no passwd entry: sshd cannot log anyone in", (unsigned)uid);
    if (strlen(pw.pw_name) >= sizeof r->user || !gpf_rtproc_charset_ok(pw.pw_name, "._-") ||
        !gpf_rtproc_cfg_text_ok(pw.pw_dir) || strlen(pw.pw_dir) >= sizeof r->home)
        return gpf_error_set(err, GPF_EUNAVAIL, "login user '%.40s' or its home cannot be used in sshd_config",
                             pw.pw_name);
    gpf_strlcpy(r->user, pw.pw_name, sizeof r->user);
    gpf_strlcpy(r->home, pw.pw_dir, sizeof r->home);
    r->is_root = uid == 0;
    return 0;
}

/* Generates the pods' host key r->host_key unless there is one; 0, or GPF_EIO (or gpf_subproc_run_env's error). */
int gpf_rtproc_ensure_host_key(proc_rt *r, const char *state_dir, gpf_error *err)
{
    char tmp[PATH_MAX + 32], tmp_pub[PATH_MAX + 40], pub[PATH_MAX + 8], out[512];
    int status = 0, rc;
    if (access(r->host_key, R_OK) == 0)
        return 0;
    snprintf(tmp, sizeof tmp, "%s/.host_key.%d", state_dir, (int)getpid());
    snprintf(tmp_pub, sizeof tmp_pub, "%s.pub", tmp);
    snprintf(pub, sizeof pub, "%s.pub", r->host_key);
    unlink(tmp);
    unlink(tmp_pub);
    char *argv[] = {"ssh-keygen", "-t", "ed25519", "-N", "", "-q", "-C", "gpufleet-pod-host", "-f", tmp, NULL};
    char *envp[] = {SSH_PATH, NULL};
    if ((rc = gpf_subproc_run_env(argv, envp, 10000, NULL, NULL, out, sizeof out, &status, err)) != 0)
        return rc;
    if (status != 0) {
        unlink(tmp);
        unlink(tmp_pub);
        return gpf_error_set(err, GPF_EIO, "ssh-keygen failed: %.160s", out);
    }
    if (rename(tmp_pub, pub) != 0 || rename(tmp, r->host_key) != 0) {
        unlink(tmp);
        unlink(tmp_pub);
        return gpf_error_set(err, GPF_EIO, "cannot install the pod host key %s", r->host_key);
    }
    return 0;
}

/* sshd and a configuration like the pods' pass `sshd -t` (pods start without running sshd:
 * their init runs it per connection, so this is where a broken sshd shows); 0, or the
 * error (GPF_EUNAVAIL when sshd refuses it). */
int gpf_rtproc_check_sshd(proc_rt *r, const char *state_dir, gpf_error *err)
{
    char cfg[PATH_MAX], keys[PATH_MAX], out[512];
    gpf_buf b = {0};
    int status = 0, rc;
    if (gpf_rtproc_path_join(cfg, sizeof cfg, state_dir, "sshd_check_config", NULL) ||
        gpf_rtproc_path_join(keys, sizeof keys, state_dir, "sshd_check_keys", NULL))
        return gpf_error_set(err, GPF_EINVAL, "state directory path too long");
    gpf_rtproc_write_config(r, "check", r->port_min, keys, r->home[0] ? r->home : "/", " \"GPUFLEET_POD_ID=check\"",
                            0, &b);
    rc = gpf_rtproc_write_file(cfg, gpf_buf_cstr(&b), 0600, err);
    gpf_buf_clear(&b);
    if (rc != 0)
        return rc;
    char *argv[] = {r->sshd, "-t", "-f", cfg, NULL};
    char *envp[] = {SSH_PATH, NULL};
    if ((rc = gpf_subproc_run_env(argv, envp, r->timeout_ms, NULL, NULL, out, sizeof out, &status, err)) != 0)
        rc = gpf_error_set(err, rc, "%s -t: %s", r->sshd, gpf_error_msg(err));
    else if (status != 0)
        rc = gpf_error_set(err, GPF_EUNAVAIL, "%s refuses a pod's configuration (sshd -t): %.300s", r->sshd,
                           out[0] ? out : "no output");
    unlink(cfg);
    return rc;
}

/* Decides between the bubblewrap sandbox and plain processes with one quick probe that
 * uses the same namespaces and mounts a pod does: sets r->bwrap, or says in r->mode_msg
 * why pods run plain (no error). */
void gpf_rtproc_probe_bwrap(proc_rt *r, const char *bwrap)
{
    char reason[160] = "", out[512];
    if (!bwrap || !bwrap[0]) {
        gpf_strlcpy(reason, "disabled by configuration", sizeof reason);
    } else if (bwrap[0] != '/' || access(bwrap, X_OK) != 0) {
        snprintf(reason, sizeof reason, "no executable at %.120s", bwrap);
    } else {
        char *argv[] = {(char *)bwrap, "--unshare-pid", "--bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                        "--tmpfs", r->is_root ? "/run/sshd" : "/run", "true", NULL};
        char *envp[] = {SSH_PATH, NULL};
        int status = 0;
        gpf_error e = {0};
        if (gpf_subproc_run_env(argv, envp, 5000, NULL, NULL, out, sizeof out, &status, &e) != 0) {
            snprintf(reason, sizeof reason, "%.150s", gpf_error_msg(&e));
        } else if (status != 0) {
            char *nl = strchr(out, '\n');
            if (nl)
                *nl = '\0';
            snprintf(reason, sizeof reason, "%.150s", out[0] ? out : "probe failed");
        } else {
            r->bwrap = gpf_strdup(bwrap);
            gpf_strlcpy(r->mode_msg, MSG_BWRAP, sizeof r->mode_msg);
            return;
        }
    }
    snprintf(r->mode_msg, sizeof r->mode_msg, "plain process, bubblewrap unavailable (%.60s)", reason);
}
