/* Seeds a control-plane database with historical pods, for benchmarks of a large past:
 *   seed_store DB N [OWNERS]
 * writes N stopped pods (and their closed usage records) into the database DB (created
 * and migrated if new; the control plane must not be running on it), spread over OWNERS
 * owners (default 1: "seed"; else seed-0 .. seed-<OWNERS-1>, in blocks), created one
 * second apart from 2026-01-01. Prints what it wrote and how fast. Then start
 * `gpufleet serve --state-dir <dir of DB>` on it. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "store/store.h"
#include "store/store_seed.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s DB N [OWNERS]\n", argv[0]);
        return 2;
    }
    long long n = atoll(argv[2]);
    long long owners = argc > 3 ? atoll(argv[3]) : 1;
    if (n <= 0 || owners <= 0 || owners > n) {
        fprintf(stderr, "N must be > 0 and OWNERS in 1..N\n");
        return 2;
    }
    gpf_store *s = NULL;
    gpf_error err = {0};
    if (gpf_store_open(argv[1], &s, &err) != 0) {
        fprintf(stderr, "%s\n", gpf_error_msg(&err));
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = 0;
    long long per = n / owners;
    for (long long o = 0; o < owners && rc == 0; o++) {
        char owner[32];
        if (owners == 1)
            snprintf(owner, sizeof owner, "seed");
        else
            snprintf(owner, sizeof owner, "seed-%lld", o);
        gpf_store_seed spec = {0};
        spec.pods = (size_t)(o == owners - 1 ? n - per * o : per);
        spec.first = (size_t)(per * o);
        spec.owner = owner;
        spec.start_ms = 1767225600000LL; /* 2026-01-01T00:00:00Z */
        rc = gpf_store_seed_history(s, &spec, &err);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    gpf_store_close(s);
    if (rc != 0) {
        fprintf(stderr, "%s\n", gpf_error_msg(&err));
        return 1;
    }
    printf("seeded %lld stopped pods (and usage records) for %lld owner(s) in %.1f s (%.0f pods/s)\n", n, owners,
           secs, (double)n / secs);
    return 0;
}
