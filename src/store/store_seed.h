/* History for tests and benchmarks: writes many final pods, each with its closed usage
 * record, through the store's ordinary ops (any backend), so that a control plane can be
 * started on a store that holds a large past (bench/seed_store.c, tests/unit/test_history.c).
 * Not used by the control plane itself. */
#ifndef GPF_STORE_SEED_H
#define GPF_STORE_SEED_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct gpf_store_seed {
    size_t pods;            /* how many final pods to write */
    const char *id_prefix;  /* pod ids are <prefix><8 digits from first>; NULL = "seed-" */
    size_t first;           /* the number of the first pod (a second call continues a first) */
    const char *owner;      /* their owner; NULL = "seed" */
    const char *host_id;    /* the host they ran on; NULL = "seed-host" */
    const char *sku;        /* NULL = "seed-sku" */
    int64_t start_ms;       /* pod i is created at start_ms + i * 1000, runs 600 s, stops */
    size_t batch;           /* pods per transaction; 0 = 5000 */
} gpf_store_seed;

/* Writes spec->pods stopped pods (whole-GPU slice, one GPU, price 1.000000 an hour) and their
 * closed usage records, in transactions of spec->batch. 0, or the first store error (the
 * transaction it happened in is rolled back; earlier ones stay). */
int gpf_store_seed_history(gpf_store *s, const gpf_store_seed *spec, gpf_error *err);

#endif
