/* Test helper: small OCI image layouts made by hand (a gzip tar layer holding one file, an
 * image config, a manifest, index.json and oci-layout), for the image registry's tests. */
#ifndef GPF_TEST_OCI_FIXTURE_H
#define GPF_TEST_OCI_FIXTURE_H

#include <stdint.h>

/* What of_make_layout wrote. */
typedef struct of_image {
    char manifest[72];          /* "sha256:<hex>" of the manifest */
    char config[72];
    char layer[72];
    int64_t size_bytes;         /* config + layer */
} of_image;

/* Makes dir (and its parents) an OCI layout holding one image named ref (NULL: no ref
 * annotation) whose layer holds the file "hello.txt" with text. Fails the test on error. */
void of_make_layout(const char *dir, const char *ref, const char *text, of_image *out);
/* Adds another image to dir's layout (index.json gets a second manifest). */
void of_add_image(const char *dir, const char *ref, const char *text, of_image *out);
/* Writes n bytes of data as the blob they hash to into dir; digest receives its name. */
void of_put_blob(const char *dir, const void *data, size_t n, char digest[72]);
/* 1 when skopeo is installed (tests that copy images skip without it). */
int of_have_skopeo(void);

#endif
