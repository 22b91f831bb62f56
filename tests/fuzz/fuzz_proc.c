/* libFuzzer target: what the agent reads from a pod's world, which the pod controls —
 * /proc/PID/stat (the command name is the pod's to choose), /proc/PID/environ (read in
 * small chunks, so that entries straddle reads), /proc/PID/cmdline titles, and the
 * /etc/passwd of a pod's root filesystem. The input is split at the first NUL: stat text
 * before it; the rest is the environ, the cmdline and the passwd text. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent/oci_fs.h"
#include "agent/runtime_int.h"
#include "util/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = gpf_malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    gpf_rtsys_proc p;
    memset(&p, 0, sizeof p);
    gpf_rtsys_stat_parse(text, &p);
    size_t first = strnlen(text, size);
    const char *rest = first < size ? text + first + 1 : text + size;
    size_t rlen = first < size ? size - first - 1 : 0;

    int fd = memfd_create("environ", MFD_CLOEXEC);
    if (fd >= 0) {
        if (rlen == 0 || write(fd, rest, rlen) == (ssize_t)rlen) {
            char out[64], buf[48];
            lseek(fd, 0, SEEK_SET);
            gpf_rtsys_environ_pod_fd(fd, out, sizeof out, buf, sizeof buf);
        }
        close(fd);
    }
    char *cmd = gpf_malloc(rlen + 1);
    memcpy(cmd, rest, rlen);
    cmd[rlen] = '\0';
    gpf_rtsys_cmdline_session(cmd, (ssize_t)rlen);
    gpf_free(cmd);
    gpf_ocifs_passwd_uid(rest, rlen, "alice");
    gpf_ocifs_passwd_free_uid(rest, rlen);
    gpf_free(text);
    return 0;
}
