/* A pod's root filesystem for the OCI runtime, and the files the agent writes into it.
 *
 * The image's unpacked root filesystem (shared by every pod of that image on the host,
 * owned by host uids as unpacked) is mounted for each pod as an *idmapped* mount whose
 * owners read as the pod's own uid range (uid u of the image -> host base + u), read-only,
 * and that is the lower layer of an overlay whose upper layer is the pod's own writable
 * layer. So the image is unpacked once per host and shared, yet inside each pod its files
 * belong to the pod's root and nobody else's. Needs Linux >= 5.19 (idmapped mounts as
 * overlay layers) and a filesystem under the image cache that supports idmapped mounts
 * (ext4, xfs, btrfs; tmpfs from 6.3).
 *
 * Everything under the merged root is the pod's to change, so the agent opens paths in it
 * only with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV): a symlink
 * the pod (or the image) planted resolves inside the pod's root, never on the host. */
#ifndef GPF_AGENT_OCI_FS_H
#define GPF_AGENT_OCI_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"

/* Mounts pod_dir/rootfs: the overlay of pod_dir/upper over an idmapped, read-only view of
 * image_rootfs (at pod_dir/lower) mapping uid/gid 0..65535 to base.. (pod_dir/upper and
 * pod_dir/work are created, owned by base, when missing; an existing upper layer is kept:
 * that is the pod's writable layer across restarts). Whatever of an earlier mount is still
 * there is unmounted first. 0, or GPF_EIO / GPF_EUNAVAIL (the kernel or filesystem cannot
 * idmap) saying what failed; on failure nothing stays mounted. */
int gpf_ocifs_mount(const char *image_rootfs, const char *pod_dir, uint32_t base, gpf_error *err);

/* The pod's log (pod-init's and sshd's stdout and stderr, which the pod can write without
 * end) lives on a tmpfs of its own at pod_dir/log.d, GPF_OCIFS_LOG_SIZE large: a pod that
 * floods it fills that, not the host's disk. Mounted afresh (what was there is unmounted).
 * 0, or GPF_EIO. */
#define GPF_OCIFS_LOG_SIZE "1m"
int gpf_ocifs_log_mount(const char *pod_dir, gpf_error *err);

/* Unmounts pod_dir/rootfs, pod_dir/lower and pod_dir/log.d (lazily: a process still holding
 * a file there cannot keep the mount). Not mounted is fine. */
void gpf_ocifs_umount(const char *pod_dir);

/* 0 when this kernel and the filesystem of dir can idmap a mount (a probe on dir itself),
 * else GPF_EUNAVAIL saying why. */
int gpf_ocifs_probe(const char *dir, gpf_error *err);

/* The login user inside the pod's root filesystem (rootfs: the merged overlay). Makes sure
 * /etc/passwd, /etc/group and /etc/shadow have user `owner` (an existing entry with uid >=
 * 1000 is kept; otherwise the first free uid from 1000), with home /home/<login> and shell
 * /bin/bash (or /bin/sh when the image has no bash), a locked password ("*": keys only),
 * and /etc/sudoers.d/gpufleet giving it passwordless sudo. A name the image already uses for
 * a system account (uid < 1000, e.g. "root" or "daemon") logs in as "u-<owner>" instead.
 * Files are written as the pod's root owns them (host uid base) and replaced by rename.
 * login (size >= 64) gets the user name, *uid its uid inside. 0, or GPF_EIO / GPF_EINVAL
 * (a file too large or malformed, no room for a uid). */
int gpf_ocifs_setup_user(const char *rootfs, const char *owner, uint32_t base, char *login, size_t lsize,
                         uint32_t *uid, gpf_error *err);

/* Writes data into the file at rel (an absolute path inside the pod, e.g. "/etc/hostname")
 * under rootfs without following anything out of it, owned by base + uid inside, with
 * mode; the directory must exist. 0, or GPF_EIO. */
int gpf_ocifs_write(const char *rootfs, const char *rel, const char *data, mode_t mode, uint32_t base, uint32_t uid,
                    gpf_error *err);

/* Parsing helper, exposed for tests and the fuzz target: the uid of user `name` in a
 * passwd text (-1 when absent), and the first free uid >= 1000 below 60000 (-1 none). */
long gpf_ocifs_passwd_uid(const char *passwd, size_t len, const char *name);
long gpf_ocifs_passwd_free_uid(const char *passwd, size_t len);

#endif
