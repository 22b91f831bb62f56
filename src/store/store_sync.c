/* Group commit for the sqlite store (store.h, "group commit"): the sync modes, the commit
 * sequence and the durability barrier.
 *
 * In GROUP mode the connection runs with synchronous=NORMAL: a commit appends its frames
 * to the WAL file and returns without an fsync, so it is in the OS page cache (it survives
 * kill -9 of the daemon, not power loss). gpf_store_sync_to then fsyncs (fdatasync) the WAL, on a
 * descriptor of its own, outside the caller's lock: one thread at a time, covering every
 * commit published (gpf_store_committed) before its fsync began; a caller whose commit came
 * later waits for the next fsync. So N concurrent requests share one fsync instead of N.
 *
 * Checkpoints need nothing from here: under NORMAL, SQLite itself "synchronizes the WAL
 * file before each checkpoint and the database file after each completed checkpoint" and
 * syncs the WAL header when it starts to reuse the file (https://www.sqlite.org/pragma.html
 * #pragma_synchronous). A reset WAL is the same file (its inode does not change), and
 * fsync covers the whole file. The WAL is created at the first write and deleted when the
 * last connection closes (after a checkpoint into the synced database): a missing WAL
 * means the database file holds everything (we fsync that instead), and a WAL whose inode
 * changed (or that has no link left) is opened again; the directory is fsynced the first
 * time a new WAL inode is, as SQLite would do for a file it created. */
#include "store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"

struct store_barrier {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int group;                 /* GPF_STORE_SYNC_GROUP */
    uint64_t hook_seq;         /* commits counted by the commit hook (the store's user thread) */
    _Atomic uint64_t committed; /* hook_seq as published by gpf_store_committed: commits done */
    atomic_int failed;         /* an fsync failed: sticky, commits refused */
    uint64_t synced;           /* mu: commits up to here are durable */
    int syncing;               /* mu: a thread is fsyncing */
    uint64_t fsyncs;           /* mu: fsyncs done, logged at close */
    /* only touched by the thread that fsyncs (syncing == 1) */
    int wal_fd;                /* -1: not open */
    int wal_new;               /* wal_fd is a WAL inode whose directory entry is not synced yet */
    dev_t wal_dev;
    ino_t wal_ino;
    char *wal_path;            /* "<db>-wal" */
    char *db_path;
    char *dir_path;
    gpf_store_sync_hook hook;
    void *hook_arg;
};

/* The commit hook: counts a commit; a non-zero return turns it into a rollback, which is
 * how a store whose fsync failed refuses every later write. */
static int on_commit(void *arg)
{
    store_barrier *b = arg;
    if (atomic_load(&b->failed))
        return 1;
    b->hook_seq++;
    return 0;
}

void store_barrier_init(store_sqlite *s, int in_memory)
{
    store_barrier *b = GPF_NEW(store_barrier);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cond, NULL);
    b->wal_fd = -1;
    const char *path = sqlite3_db_filename(s->db, "main"); /* absolute: a chdir does not move it */
    if (!in_memory && path && path[0]) {
        gpf_buf wal = {0};
        gpf_buf_printf(&wal, "%s-wal", path);
        b->wal_path = gpf_buf_steal(&wal);
        b->db_path = gpf_strdup(path);
        const char *slash = strrchr(path, '/');
        b->dir_path = slash ? gpf_strndup(path, slash == path ? 1 : (size_t)(slash - path)) : gpf_strdup(".");
    }
    s->barrier = b;
    sqlite3_commit_hook(s->db, on_commit, b);
}

void store_barrier_free(store_barrier *b)
{
    if (!b)
        return;
    if (b->group && b->wal_path)
        GPF_INFO("store", "event=store_closed sync=group commits=%llu fsyncs=%llu",
                 (unsigned long long)b->hook_seq, (unsigned long long)b->fsyncs);
    if (b->wal_fd >= 0)
        close(b->wal_fd);
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->mu);
    gpf_free(b->wal_path);
    gpf_free(b->db_path);
    gpf_free(b->dir_path);
    gpf_free(b);
}

/* The barrier of a sqlite store s, or NULL (not a sqlite store). */
static store_barrier *barrier_of(gpf_store *s)
{
    return s && s->ops->sync_to == sq_sync_to ? ((store_sqlite *)s->priv)->barrier : NULL;
}

int gpf_store_set_sync(gpf_store *s, gpf_store_sync mode, gpf_error *err)
{
    store_barrier *b = barrier_of(s);
    if (!b || (mode != GPF_STORE_SYNC_FULL && mode != GPF_STORE_SYNC_GROUP))
        return gpf_error_set(err, GPF_EINVAL, "store: set_sync needs a sqlite store and a mode");
    const char *sql = mode == GPF_STORE_SYNC_GROUP ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL";
    int rc = store_exec(s->priv, sql, "store: setting the sync mode", err);
    if (rc == 0)
        b->group = mode == GPF_STORE_SYNC_GROUP;
    return rc;
}

int gpf_store_set_sync_hook(gpf_store *s, gpf_store_sync_hook hook, void *arg)
{
    store_barrier *b = barrier_of(s);
    if (!b)
        return GPF_EINVAL;
    b->hook = hook;
    b->hook_arg = arg;
    return 0;
}

uint64_t sq_committed(gpf_store *store)
{
    store_barrier *b = ((store_sqlite *)store->priv)->barrier;
    if (!b)
        return 0;
    atomic_store(&b->committed, b->hook_seq);
    return b->hook_seq;
}

/* fsync(fd) (data: fdatasync, which also flushes the size, as SQLite syncs its WAL),
 * retried on EINTR; 0 or errno. */
static int fsync_fd(int fd, int data)
{
    while ((data ? fdatasync(fd) : fsync(fd)) != 0)
        if (errno != EINTR)
            return errno;
    return 0;
}

/* fsync of the file at path through a descriptor opened for it; 0 or errno. */
static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int e = fsync_fd(fd, 0);
    close(fd);
    return e;
}

/* Makes wal_fd the descriptor of the WAL file that is at wal_path now; 0, ENOENT when
 * there is none, or errno. */
static int wal_open(store_barrier *b)
{
    struct stat now, had;
    if (stat(b->wal_path, &now) != 0)
        return errno;
    if (b->wal_fd >= 0 && fstat(b->wal_fd, &had) == 0 && had.st_nlink > 0 && had.st_dev == now.st_dev &&
        had.st_ino == now.st_ino)
        return 0;
    if (b->wal_fd >= 0)
        close(b->wal_fd);
    b->wal_fd = open(b->wal_path, O_RDONLY | O_CLOEXEC);
    if (b->wal_fd < 0)
        return errno;
    if (fstat(b->wal_fd, &had) != 0) {
        int e = errno;
        close(b->wal_fd);
        b->wal_fd = -1;
        return e;
    }
    b->wal_dev = had.st_dev;
    b->wal_ino = had.st_ino;
    b->wal_new = 1;
    return 0;
}

/* One fsync making everything committed so far durable; 0 or errno. */
static int sync_once(store_barrier *b, uint64_t target)
{
    if (b->hook && b->hook(b->hook_arg, target) != 0)
        return EIO;
    int e = wal_open(b);
    if (e == ENOENT) /* no WAL: checkpointed into the database file, synced by SQLite; once more is cheap */
        return fsync_path(b->db_path, O_RDONLY);
    if (e != 0)
        return e;
    if ((e = fsync_fd(b->wal_fd, 1)) != 0)
        return e;
    if (b->wal_new && (e = fsync_path(b->dir_path, O_RDONLY | O_DIRECTORY)) == 0)
        b->wal_new = 0;
    return e;
}

/* Waits (b->mu held) until seq is synced, the store failed, or no thread is fsyncing:
 * 1 when the caller must fsync itself, 0 when done, GPF_ESTORE when failed. */
static int wait_turn(store_barrier *b, uint64_t seq)
{
    for (;;) {
        if (atomic_load(&b->failed))
            return GPF_ESTORE;
        if (b->synced >= seq)
            return 0;
        if (!b->syncing)
            return 1;
        pthread_cond_wait(&b->cond, &b->mu);
    }
}

int sq_sync_to(gpf_store *store, uint64_t seq, gpf_error *err)
{
    store_barrier *b = ((store_sqlite *)store->priv)->barrier;
    if (!b || !b->group || !b->wal_path)
        return 0; /* FULL: synced in the commit; a private database: nothing to sync */
    pthread_mutex_lock(&b->mu);
    int rc;
    while ((rc = wait_turn(b, seq)) == 1) {
        b->syncing = 1;
        uint64_t target = atomic_load(&b->committed); /* >= seq: the caller published it */
        pthread_mutex_unlock(&b->mu);
        int e = sync_once(b, target);
        pthread_mutex_lock(&b->mu);
        b->syncing = 0;
        if (e != 0) {
            atomic_store(&b->failed, 1);
            GPF_ERROR("store", "event=fsync_failed path=%s errno=%d msg=\"%s\" action=refusing_writes_until_restart",
                      b->wal_path, e, strerror(e));
        } else {
            b->fsyncs++;
            if (target > b->synced)
                b->synced = target;
        }
        pthread_cond_broadcast(&b->cond);
    }
    pthread_mutex_unlock(&b->mu);
    if (rc != 0)
        return gpf_error_set(err, GPF_ESTORE,
                             "store: the database could not be synced to disk (fsync failed): writes are refused "
                             "until the control plane restarts");
    return 0;
}
