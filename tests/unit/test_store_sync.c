/* Group commit (store.h, store_sync.c): the durability barrier gpf_store_sync_to.
 *   - concurrent committers (a mutex plays the engine lock): each returns from sync_to only
 *     after an fsync that began after its commit has finished, and they share fsyncs (fewer
 *     than commits);
 *   - FULL mode and a private database: nothing to wait for, no fsync of ours;
 *   - the WAL deleted (journal mode DELETE: checkpointed into the database) and created
 *     again (a new inode): the barrier syncs the database, then the new WAL, not the old one;
 *   - a failed fsync is never acknowledged: sync_to fails, and so does every later commit
 *     and sync, also once the disk is healthy again.
 * A test hook stands in front of each fsync: it counts them and records what they cover.
 * White box (store_int.h) only to switch the journal mode of the store's connection. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_int.h"
#include "util/alloc.h"

/* ---- fixtures ------------------------------------------------------------------------ */

typedef struct tmpdb {
    char dir[64];
    char db[128];
    char wal[136];
} tmpdb;

static void tmp_make(tmpdb *t)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/gpf-sync-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->db, sizeof t->db, "%s/state.db", t->dir);
    snprintf(t->wal, sizeof t->wal, "%s-wal", t->db);
}

static void tmp_remove(tmpdb *t)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    char path[160];
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(path, sizeof path, "%s%s", t->db, suffixes[i]);
        unlink(path);
    }
    rmdir(t->dir);
}

static gpf_store *open_group(const char *path)
{
    gpf_store *s = NULL;
    gpf_error err = {0};
    if (gpf_store_open(path, &s, &err) != 0)
        fail_msg("open %s: %s", path, gpf_error_msg(&err));
    assert_int_equal(gpf_store_set_sync(s, GPF_STORE_SYNC_GROUP, &err), 0);
    return s;
}

/* What the hook saw: fsyncs begun, and the last commit the finished ones cover. */
typedef struct seen {
    pthread_mutex_t mu;
    long fsyncs;
    uint64_t covered; /* set as the hook returns: the real fsync follows, so at the latest */
    int fail;         /* the hook reports a failed fsync */
    int slow;         /* the hook sleeps (ms) to let commits pile up behind an fsync */
} seen;

static int hook(void *arg, uint64_t target)
{
    seen *w = arg;
    if (w->slow)
        usleep((useconds_t)w->slow * 1000);
    pthread_mutex_lock(&w->mu);
    w->fsyncs++;
    if (!w->fail && target > w->covered)
        w->covered = target;
    int fail = w->fail;
    pthread_mutex_unlock(&w->mu);
    return fail;
}

static int put(gpf_store *s, int i, gpf_error *err)
{
    char key[32], val[32];
    snprintf(key, sizeof key, "k%d", i % 64);
    snprintf(val, sizeof val, "v%d", i);
    return gpf_store_setting_put(s, key, val, err);
}

/* ---- concurrent committers ----------------------------------------------------------- */

#define WRITERS 8
#define COMMITS 40

typedef struct shared {
    gpf_store *s;
    pthread_mutex_t *lock; /* the engine lock */
    seen *w;
    int id;
    int early;            /* a sync_to returned before a sync covering its commit finished */
} shared;

static void *writer(void *arg)
{
    shared *sh = arg;
    for (int i = 0; i < COMMITS; i++) {
        gpf_error err = {0};
        pthread_mutex_lock(sh->lock);
        int rc = put(sh->s, sh->id * COMMITS + i, &err);
        uint64_t seq = gpf_store_committed(sh->s);
        pthread_mutex_unlock(sh->lock);
        if (rc != 0 || gpf_store_sync_to(sh->s, seq, &err) != 0)
            return (void *)1;
        pthread_mutex_lock(&sh->w->mu);
        if (sh->w->covered < seq)
            sh->early = 1;
        pthread_mutex_unlock(&sh->w->mu);
    }
    return NULL;
}

static void test_concurrent_committers_share_fsyncs(void **state)
{
    (void)state;
    tmpdb t;
    tmp_make(&t);
    gpf_store *s = open_group(t.db);
    seen w = {.slow = 2};
    pthread_mutex_init(&w.mu, NULL);
    assert_int_equal(gpf_store_set_sync_hook(s, hook, &w), 0);
    pthread_mutex_t lock;
    pthread_mutex_init(&lock, NULL);
    shared sh[WRITERS];
    pthread_t th[WRITERS];
    uint64_t before = gpf_store_committed(s);
    for (int i = 0; i < WRITERS; i++) {
        sh[i] = (shared){.s = s, .lock = &lock, .w = &w, .id = i};
        pthread_create(&th[i], NULL, writer, &sh[i]);
    }
    for (int i = 0; i < WRITERS; i++) {
        void *ret = NULL;
        pthread_join(th[i], &ret);
        assert_null(ret);
        assert_int_equal(sh[i].early, 0);
    }
    uint64_t commits = gpf_store_committed(s) - before;
    assert_int_equal(commits, WRITERS * COMMITS);
    print_message("%llu commits, %ld fsyncs\n", (unsigned long long)commits, w.fsyncs);
    assert_true(w.fsyncs >= 1);
    assert_true((uint64_t)w.fsyncs < commits);
    assert_true(w.covered >= gpf_store_committed(s));
    gpf_store_close(s);
    pthread_mutex_destroy(&lock);
    pthread_mutex_destroy(&w.mu);
    tmp_remove(&t);
}

/* ---- nothing to wait for ------------------------------------------------------------ */

static void test_full_and_private_need_no_fsync(void **state)
{
    (void)state;
    tmpdb t;
    tmp_make(&t);
    gpf_error err = {0};
    gpf_store *s = NULL;
    seen w = {0};
    pthread_mutex_init(&w.mu, NULL);
    assert_int_equal(gpf_store_open(t.db, &s, &err), 0); /* FULL: the default */
    assert_int_equal(gpf_store_set_sync_hook(s, hook, &w), 0);
    assert_int_equal(put(s, 1, &err), 0);
    assert_int_equal(gpf_store_sync_to(s, gpf_store_committed(s), &err), 0);
    assert_int_equal(w.fsyncs, 0);
    gpf_store_close(s);
    s = open_group(":memory:");
    assert_int_equal(gpf_store_set_sync_hook(s, hook, &w), 0);
    assert_int_equal(put(s, 1, &err), 0);
    assert_int_equal(gpf_store_sync_to(s, gpf_store_committed(s), &err), 0);
    assert_int_equal(w.fsyncs, 0);
    gpf_store_close(s);
    /* an already synced sequence costs no fsync either */
    s = open_group(t.db);
    assert_int_equal(gpf_store_set_sync_hook(s, hook, &w), 0);
    assert_int_equal(put(s, 2, &err), 0);
    uint64_t seq = gpf_store_committed(s);
    assert_int_equal(gpf_store_sync_to(s, seq, &err), 0);
    assert_int_equal(gpf_store_sync_to(s, seq, &err), 0);
    assert_int_equal(w.fsyncs, 1);
    assert_int_equal(gpf_store_set_sync(NULL, GPF_STORE_SYNC_GROUP, &err), GPF_EINVAL);
    gpf_store_close(s);
    pthread_mutex_destroy(&w.mu);
    tmp_remove(&t);
}

/* ---- the WAL goes and comes back --------------------------------------------------- */

/* Descriptors of this process open on a file named like path that was deleted. */
static int deleted_fds(const char *path)
{
    char want[200], link[300], target[300];
    snprintf(want, sizeof want, "%s (deleted)", path);
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        snprintf(link, sizeof link, "/proc/self/fd/%s", de->d_name);
        ssize_t len = readlink(link, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        n += strcmp(target, want) == 0;
    }
    closedir(d);
    return n;
}

static void journal_mode(gpf_store *s, const char *mode)
{
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA journal_mode=%s", mode);
    assert_int_equal(sqlite3_exec(((store_sqlite *)s->priv)->db, sql, NULL, NULL, NULL), SQLITE_OK);
}

static void test_wal_deleted_and_recreated(void **state)
{
    (void)state;
    tmpdb t;
    tmp_make(&t);
    gpf_error err = {0};
    gpf_store *s = open_group(t.db);
    seen w = {0};
    pthread_mutex_init(&w.mu, NULL);
    assert_int_equal(gpf_store_set_sync_hook(s, hook, &w), 0);
    struct stat st0, st1;
    assert_int_equal(put(s, 1, &err), 0);
    assert_int_equal(gpf_store_sync_to(s, gpf_store_committed(s), &err), 0); /* opens the WAL */
    assert_int_equal(stat(t.wal, &st0), 0);
    journal_mode(s, "DELETE"); /* checkpoints and deletes the WAL */
    assert_int_not_equal(stat(t.wal, &st1), 0);
    assert_int_equal(put(s, 2, &err), 0);
    assert_int_equal(gpf_store_sync_to(s, gpf_store_committed(s), &err), 0); /* no WAL: the db file */
    journal_mode(s, "WAL");
    assert_int_equal(put(s, 3, &err), 0);
    assert_int_equal(stat(t.wal, &st1), 0); /* a new WAL */
    assert_int_equal(gpf_store_sync_to(s, gpf_store_committed(s), &err), 0);
    assert_int_equal(w.fsyncs, 3);
    /* the barrier let go of the deleted WAL: what it synced last is the file there now */
    assert_int_equal(deleted_fds(t.wal), 0);
    assert_true(st0.st_ino != st1.st_ino);
    gpf_store_close(s);
    pthread_mutex_destroy(&w.mu);
    tmp_remove(&t);
}

/* ---- a failed fsync ---------------------------------------------------------------- */

static void test_failed_fsync_never_acknowledged(void **state)
{
    (void)state;
    tmpdb t;
    tmp_make(&t);
    gpf_error err = {0};
    gpf_store *s = open_group(t.db);
    seen w = {.fail = 1};
    pthread_mutex_init(&w.mu, NULL);
    assert_int_equal(gpf_store_set_sync_hook(s, hook, &w), 0);
    assert_int_equal(put(s, 1, &err), 0);
    uint64_t seq = gpf_store_committed(s);
    assert_int_equal(gpf_store_sync_to(s, seq, &err), GPF_ESTORE);
    assert_non_null(strstr(gpf_error_msg(&err), "fsync failed"));
    w.fail = 0; /* the disk is back: what was written since the failure is still not trusted */
    gpf_error_clear(&err);
    assert_int_equal(gpf_store_sync_to(s, seq, &err), GPF_ESTORE);
    assert_int_equal(gpf_store_sync_to(s, 0, &err), GPF_ESTORE);
    assert_int_equal(put(s, 2, &err), GPF_ESTORE); /* every later commit is refused */
    assert_int_equal(gpf_store_begin(s, &err), 0);
    assert_int_equal(put(s, 3, &err), 0);
    assert_int_not_equal(gpf_store_commit(s, &err), 0);
    gpf_store_rollback(s);
    assert_int_equal(gpf_store_committed(s), seq);
    assert_int_equal(w.fsyncs, 1);
    gpf_store_close(s);
    /* opened again: the store works (what is in the database is what SQLite recovers) */
    s = open_group(t.db);
    char val[32];
    assert_int_equal(gpf_store_setting_get(s, "k1", val, sizeof val, &err), 0);
    assert_int_equal(gpf_store_setting_get(s, "k2", val, sizeof val, &err), GPF_ENOTFOUND);
    assert_int_equal(put(s, 4, &err), 0);
    assert_int_equal(gpf_store_sync_to(s, gpf_store_committed(s), &err), 0);
    gpf_store_close(s);
    pthread_mutex_destroy(&w.mu);
    tmp_remove(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_committers_share_fsyncs),
        cmocka_unit_test(test_full_and_private_need_no_fsync),
        cmocka_unit_test(test_wal_deleted_and_recreated),
        cmocka_unit_test(test_failed_fsync_never_acknowledged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
