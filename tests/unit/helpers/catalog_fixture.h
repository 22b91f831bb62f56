/* Test helper: the catalog embedded in the binary (the CSVs under data/catalog), so unit tests
 * need no file I/O. */
#ifndef GPF_TEST_CATALOG_FIXTURE_H
#define GPF_TEST_CATALOG_FIXTURE_H

#include "catalog/catalog.h"

/* Parses the embedded gpus.csv, mig_profiles.csv and vgpu_profiles.csv. Returns NULL (and
 * fills err) when they do not parse. Caller frees with gpf_catalog_free. */
gpf_catalog *gpf_test_catalog_load(gpf_error *err);

/* The embedded text of data/catalog/<name> ("gpus.csv"), or NULL. */
const char *gpf_test_catalog_text(const char *name);

#endif
