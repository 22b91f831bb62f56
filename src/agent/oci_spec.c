/* A pod's OCI runtime configuration (see oci_spec.h). */
#include "agent/oci_spec.h"

#include <string.h>

#define PUSH(arr, v) json_array_append_new((arr), (v))

static const char *const CAPS[] = {"CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FOWNER",           "CAP_FSETID",
                                   "CAP_KILL",   "CAP_SETGID",       "CAP_SETUID",           "CAP_SETPCAP",
                                   "CAP_NET_BIND_SERVICE",           "CAP_SYS_CHROOT",       "CAP_AUDIT_WRITE",
                                   "CAP_SETFCAP", NULL};

static const char *const MASKED[] = {"/proc/acpi",          "/proc/asound",      "/proc/kcore",       "/proc/keys",
                                     "/proc/latency_stats", "/proc/timer_list",  "/proc/timer_stats", "/proc/sched_debug",
                                     "/proc/scsi",          "/sys/firmware",     "/sys/devices/virtual/powercap", NULL};

static const char *const READONLY[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL};

/* The nodes every container has (runc makes them): null zero full random urandom tty,
 * ptmx and the pts; the device cgroup must allow them. */
static const struct {
    char type;
    int major, minor;
} STD_NODES[] = {{'c', 1, 3}, {'c', 1, 5}, {'c', 1, 7}, {'c', 1, 8}, {'c', 1, 9}, {'c', 5, 0}, {'c', 5, 2}, {'c', 136, -1}};

static json_t *strings(const char *const *v)
{
    json_t *a = json_array();
    for (int i = 0; v && v[i]; i++)
        PUSH(a, json_string(v[i]));
    return a;
}

static json_t *mount(const char *dst, const char *type, const char *src, const char *const *opts)
{
    return json_pack("{s:s, s:s, s:s, s:o}", "destination", dst, "type", type, "source", src, "options", strings(opts));
}

static json_t *std_mounts(void)
{
    static const char *const proc[] = {"nosuid", "noexec", "nodev", NULL};
    static const char *const dev[] = {"nosuid", "strictatime", "mode=755", "size=65536k", NULL};
    static const char *const pts[] = {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5", NULL};
    static const char *const shm[] = {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k", NULL};
    static const char *const mq[] = {"nosuid", "noexec", "nodev", NULL};
    static const char *const sys[] = {"nosuid", "noexec", "nodev", "ro", NULL};
    static const char *const cg[] = {"nosuid", "noexec", "nodev", "relatime", "ro", NULL};
    static const char *const run[] = {"nosuid", "nodev", "mode=755", "size=65536k", NULL};
    json_t *m = json_array();
    PUSH(m, mount("/proc", "proc", "proc", proc));
    PUSH(m, mount("/dev", "tmpfs", "tmpfs", dev));
    PUSH(m, mount("/dev/pts", "devpts", "devpts", pts));
    PUSH(m, mount("/dev/shm", "tmpfs", "shm", shm));
    PUSH(m, mount("/dev/mqueue", "mqueue", "mqueue", mq));
    PUSH(m, mount("/sys", "sysfs", "sysfs", sys));
    PUSH(m, mount("/sys/fs/cgroup", "cgroup", "cgroup", cg));
    PUSH(m, mount("/run", "tmpfs", "tmpfs", run));
    return m;
}

static json_t *resources(const gpf_oci_input *in)
{
    json_t *r = json_object(), *devs = json_array();
    PUSH(devs, json_pack("{s:b, s:s}", "allow", 0, "access", "rwm"));
    for (size_t i = 0; i < sizeof STD_NODES / sizeof STD_NODES[0]; i++) {
        json_t *d = json_pack("{s:b, s:s, s:I, s:s}", "allow", 1, "type", STD_NODES[i].type == 'c' ? "c" : "b", "major",
                              (json_int_t)STD_NODES[i].major, "access", "rwm");
        if (STD_NODES[i].minor >= 0)
            json_object_set_new(d, "minor", json_integer(STD_NODES[i].minor));
        PUSH(devs, d);
    }
    for (int i = 0; i < in->ndevices; i++)
        PUSH(devs, json_pack("{s:b, s:s, s:I, s:I, s:s}", "allow", 1, "type", in->devices[i].type == 'b' ? "b" : "c",
                             "major", (json_int_t)in->devices[i].major, "minor", (json_int_t)in->devices[i].minor,
                             "access", "rwm"));
    json_object_set_new(r, "devices", devs);
    if (in->memory_mib > 0)
        json_object_set_new(r, "memory", json_pack("{s:I}", "limit", (json_int_t)(in->memory_mib * 1024 * 1024)));
    json_t *cpu = json_object();
    if (in->cpus > 0) {
        json_object_set_new(cpu, "quota", json_integer((json_int_t)in->cpus * 100000));
        json_object_set_new(cpu, "period", json_integer(100000));
    }
    if (in->cpuset && in->cpuset[0])
        json_object_set_new(cpu, "cpus", json_string(in->cpuset));
    if (in->mems && in->mems[0])
        json_object_set_new(cpu, "mems", json_string(in->mems));
    if (json_object_size(cpu))
        json_object_set_new(r, "cpu", cpu);
    else
        json_decref(cpu);
    if (in->pids_max > 0)
        json_object_set_new(r, "pids", json_pack("{s:I}", "limit", (json_int_t)in->pids_max));
    return r;
}

static int abs_path(const char *p)
{
    return p && p[0] == '/' && !strstr(p, "/../") && strlen(p) < 4096;
}

json_t *gpf_oci_config(const gpf_oci_input *in, gpf_error *err)
{
    if (!in || !in->args || !in->args[0] || !abs_path(in->args[0]) || !in->hostname)
        return gpf_error_set(err, GPF_EINVAL, "oci config: no root process"), NULL;
    if (in->nmounts < 0 || in->nmounts > GPF_OCI_MAX_MOUNTS || in->ndevices < 0 || in->ndevices > GPF_OCI_MAX_DEVICES ||
        in->nhooks < 0 || in->nhooks > GPF_OCI_MAX_HOOKS)
        return gpf_error_set(err, GPF_EINVAL, "oci config: too many mounts or devices"), NULL;
    if (in->uid_base == 0 || in->uid_base > UINT32_MAX - GPF_OCI_UID_RANGE)
        return gpf_error_set(err, GPF_EINVAL, "oci config: uid base %u is not an unprivileged range", in->uid_base),
               NULL;
    for (int i = 0; i < in->nmounts; i++)
        if (!abs_path(in->mounts[i].source) || !abs_path(in->mounts[i].destination))
            return gpf_error_set(err, GPF_EINVAL, "oci config: mount paths must be absolute"), NULL;
    for (int i = 0; i < in->ndevices; i++)
        if (!abs_path(in->devices[i].path) || strncmp(in->devices[i].path, "/dev/", 5) ||
            (in->devices[i].type != 'c' && in->devices[i].type != 'b') || in->devices[i].major < 0 ||
            in->devices[i].minor < 0)
            return gpf_error_set(err, GPF_EINVAL, "oci config: bad device node %.60s",
                                 in->devices[i].path ? in->devices[i].path : "(null)"),
                   NULL;

    json_t *caps = strings(CAPS);
    json_t *process = json_pack(
        "{s:b, s:{s:i, s:i}, s:o, s:o, s:s, s:{s:O, s:O, s:O, s:[], s:[]}, s:b, s:i}",
        "terminal", 0, "user", "uid", 0, "gid", 0, "args", strings((const char *const *)in->args), "env",
        strings(in->env), "cwd", "/", "capabilities", "bounding", caps, "effective", caps, "permitted", caps,
        "inheritable", "ambient", "noNewPrivileges", in->no_new_privs ? 1 : 0, "oomScoreAdj", 500);
    json_decref(caps);

    json_t *mounts = std_mounts();
    for (int i = 0; i < in->nmounts; i++) {
        static const char *const ro[] = {"rbind", "ro", "nosuid", "nodev", NULL};
        static const char *const rw[] = {"rbind", "rw", "nosuid", "nodev", NULL};
        static const char *const dev[] = {"rbind", "rw", "nosuid", "noexec", NULL};
        PUSH(mounts, mount(in->mounts[i].destination, "bind", in->mounts[i].source,
                           in->mounts[i].device ? dev : in->mounts[i].readonly ? ro : rw));
    }

    json_t *ns = json_array();
    static const char *const NS[] = {"user", "network", "pid", "ipc", "uts", "mount", "cgroup", NULL};
    for (int i = 0; NS[i]; i++)
        PUSH(ns, json_pack("{s:s}", "type", NS[i]));

    json_t *map = json_pack("[{s:i, s:I, s:i}]", "containerID", 0, "hostID", (json_int_t)in->uid_base, "size",
                            GPF_OCI_UID_RANGE);
    json_t *linux = json_pack("{s:O, s:o, s:o, s:o, s:o, s:o, s:o}", "uidMappings", map, "gidMappings", map,
                              "namespaces", ns, "devices", json_array(), "resources", resources(in), "maskedPaths",
                              strings(MASKED), "readonlyPaths", strings(READONLY));
    json_decref(map);
    if (in->cgroups_path && in->cgroups_path[0])
        json_object_set_new(linux, "cgroupsPath", json_string(in->cgroups_path));
    if (in->seccomp)
        json_object_set_new(linux, "seccomp", gpf_oci_seccomp());
    json_t *hooks = json_object();
    static const char *const STAGES[] = {"prestart",       "createRuntime", "createContainer",
                                         "startContainer", "poststart",     "poststop", NULL};
    for (int i = 0; i < in->nhooks && i < GPF_OCI_MAX_HOOKS; i++) {
        const gpf_oci_hook *k = &in->hooks[i];
        int known = 0;
        for (int s = 0; STAGES[s]; s++)
            known |= k->stage && !strcmp(k->stage, STAGES[s]);
        if (!known || !abs_path(k->path))
            continue; /* gpf_oci_config's callers pass validated hooks; never a bad one */
        json_t *h = json_pack("{s:s}", "path", k->path);
        if (k->args && k->args[0])
            json_object_set_new(h, "args", strings(k->args));
        if (k->env && k->env[0])
            json_object_set_new(h, "env", strings(k->env));
        if (k->timeout > 0)
            json_object_set_new(h, "timeout", json_integer(k->timeout));
        json_t *arr = json_object_get(hooks, k->stage);
        if (!arr)
            json_object_set_new(hooks, k->stage, arr = json_array());
        PUSH(arr, h);
    }

    json_t *doc = json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o}", "ociVersion", "1.0.2", "process", process,
                            "root", "path", "rootfs", "readonly", 0, "hostname", in->hostname, "mounts", mounts,
                            "linux", linux);
    if (json_object_size(hooks))
        json_object_set_new(doc, "hooks", hooks);
    else
        json_decref(hooks);
    return doc;
}
