/* The "fault" store: a wrapper around another store that fails chosen write calls, in the
 * spirit of SQLite's test VFS. Tests use it to check that a failed write leaves memory and
 * the database as they were and reaches the caller as an error; a debug option may use it
 * too. Reads (setting_get, events_list, every *_load, schema_version), rollback and close
 * always pass through to the inner store, and so do committed and sync_to unless
 * gpf_store_fault_fail_sync made sync_to fail.
 *
 * Writes are these calls, each counting one however many rows it touches:
 *   begin, commit, setting_put, host_put, sku_put, sku_delete, image_put, image_delete,
 *   user_put, token_put, pod_put, usage_insert, usage_update, event_insert.
 * Every write call that reaches the wrapper is counted, failed or not (also one the inner
 * store then refuses). A write chosen to fail never reaches the inner store: it returns the
 * chosen code with "store: injected fault at write N (op)" in err, and nothing changes. A
 * failed commit first rolls the inner transaction back, so nothing of it lands; the
 * caller's rollback that follows then succeeds with nothing left to undo. A failed begin
 * opens no transaction. A failed write inside a transaction leaves that transaction open
 * (as a real failed statement does): the caller rolls back.
 * One thread at a time, like every store. */
#ifndef GPF_STORE_STORE_FAULT_H
#define GPF_STORE_STORE_FAULT_H

#include "store/store.h"

typedef enum gpf_store_fault_mode {
    GPF_STORE_FAULT_TRANSIENT,  /* only the chosen write fails; later ones pass */
    GPF_STORE_FAULT_PERSISTENT, /* the chosen write and every write after it fail */
} gpf_store_fault_mode;

/* Wraps inner in a fault store, *out (close with gpf_store_close), disarmed and with its
 * counters at 0. The wrapper owns inner from the call on: closing it closes inner, and
 * inner is closed at once when the call fails (GPF_EINVAL: inner or out NULL). */
int gpf_store_fault_wrap(gpf_store *inner, gpf_store **out, gpf_error *err);

/* The inner store (borrowed: owned by the wrapper, valid until it is closed), e.g. to check
 * what reached the database; NULL when s is not a fault store. */
gpf_store *gpf_store_fault_inner(gpf_store *s);

/* Arms the wrapper: the nth write call from now (n = 1: the very next one) fails with code
 * (0 means GPF_ESTORE; otherwise a negative GPF_E* code), and with PERSISTENT every later
 * write too. Replaces what was armed before; n = 0 disarms. Counters keep running.
 * GPF_EINVAL when s is not a fault store or n or code is out of range. */
int gpf_store_fault_arm(gpf_store *s, long n, gpf_store_fault_mode mode, int code);

/* Write calls seen since wrap or reset, failed ones included (-1: not a fault store). */
long gpf_store_fault_writes(gpf_store *s);
/* Of those, how many the wrapper failed (-1: not a fault store). */
long gpf_store_fault_failures(gpf_store *s);

/* on != 0: every gpf_store_sync_to from now on fails with GPF_ESTORE ("injected fsync
 * failure") without reaching the inner store; 0: they pass again. sync_to is not a counted
 * write (a barrier, called outside the engine lock), and reset leaves this as it is.
 * GPF_EINVAL when s is not a fault store. Safe from any thread. */
int gpf_store_fault_fail_sync(gpf_store *s, int on);

/* Disarms and sets both counters to 0 (a no-op on a store that is not a fault store). */
void gpf_store_fault_reset(gpf_store *s);

#endif
