/* Test helper: fixture file trees under a temporary directory (fake /dev, /proc, cgroup
 * roots). Failures abort the test (they are the test machine's fault, not the code's). */
#ifndef GPF_TEST_TREE_FIXTURE_H
#define GPF_TEST_TREE_FIXTURE_H

#include <stddef.h>

/* Makes a fresh directory /tmp/<prefix>-XXXXXX into root (size bytes). */
void gpf_test_tree_new(const char *prefix, char *root, size_t size);
/* Writes text to root/rel, making the directories on the way. */
void gpf_test_tree_put(const char *root, const char *rel, const char *text);
/* Makes the directory root/rel and its parents. */
void gpf_test_tree_mkdir(const char *root, const char *rel);
/* The text of root/rel (NUL-terminated, up to size - 1 bytes), "" when unreadable. */
const char *gpf_test_tree_get(const char *root, const char *rel, char *buf, size_t size);
/* Removes root and everything below it. */
void gpf_test_tree_rm(const char *root);

#endif
