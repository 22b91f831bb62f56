/* Test helper: fixture file trees (see tree_fixture.h). */
#include "tree_fixture.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void join(char *out, size_t size, const char *root, const char *rel)
{
    if (snprintf(out, size, "%s/%s", root, rel[0] == '/' ? rel + 1 : rel) >= (int)size)
        abort();
}

void gpf_test_tree_new(const char *prefix, char *root, size_t size)
{
    if (snprintf(root, size, "/tmp/%s-XXXXXX", prefix) >= (int)size || !mkdtemp(root))
        abort();
}

void gpf_test_tree_mkdir(const char *root, const char *rel)
{
    char path[PATH_MAX];
    join(path, sizeof path, root, rel);
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            abort();
        *p = '/';
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        abort();
}

void gpf_test_tree_put(const char *root, const char *rel, const char *text)
{
    char path[PATH_MAX], dir[PATH_MAX];
    join(path, sizeof path, root, rel);
    snprintf(dir, sizeof dir, "%s", rel);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        gpf_test_tree_mkdir(root, dir);
    }
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        abort();
}

const char *gpf_test_tree_get(const char *root, const char *rel, char *buf, size_t size)
{
    char path[PATH_MAX];
    join(path, sizeof path, root, rel);
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return buf;
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

void gpf_test_tree_rm(const char *root)
{
    if (root && root[0])
        nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
