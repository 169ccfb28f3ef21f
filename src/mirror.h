/*
 * mirror.h: what the mirroring files share (src/mirror.c, the SQL-callable
 * functions, the capture trigger and the worker launcher; and
 * src/mirror_worker.c, the background worker that backfills and drains).
 *
 * Design (doc/mirror.md): a statement-level trigger with transition tables
 * writes the ids a statement changed into vectorpg.mirror_outbox, in the
 * writer's transaction.  One dynamic background worker per database holds a
 * session advisory lock (the tag below) while it runs; whoever wants a worker
 * (the trigger, the mirror functions, the status view) tries that lock and
 * registers a worker when it is free.  The worker reads the changed rows'
 * current state and sends it with RemoteWriteMany (remote.h), removing an id
 * from the outbox only in the transaction that follows the remote's
 * acknowledgment.
 *
 * Tunables are MIN/DEFAULT/MAX triples used by the SQL functions (through
 * vectorpg.mirror_limits()), the worker and the tests.
 */
#ifndef VECTORPG_MIRROR_H
#define VECTORPG_MIRROR_H

#include "postgres.h"

/* Rows per worker transaction: one outbox batch or one backfill chunk */
#define MIRROR_MIN_BATCH_SIZE			1
#define MIRROR_DEFAULT_BATCH_SIZE		1000
#define MIRROR_MAX_BATCH_SIZE			10000

/* Permanent errors (dead letters, rejected attempts) before parking */
#define MIRROR_MIN_MAX_ERRORS			1
#define MIRROR_DEFAULT_MAX_ERRORS		10
#define MIRROR_MAX_MAX_ERRORS			1000000

/*
 * Backoff after a failed attempt: a random wait in [d/2, d] where
 * d = min(cap, MIRROR_BACKOFF_BASE_MS * 2^(failures - 1))
 */
#define MIRROR_BACKOFF_BASE_MS			250
#define MIRROR_MIN_BACKOFF_CAP_MS		100
#define MIRROR_DEFAULT_BACKOFF_CAP_MS	60000
#define MIRROR_MAX_BACKOFF_CAP_MS		3600000

/* Setting vectorpg.mirror_naptime_ms: the worker's poll interval when idle */
#define MIRROR_MIN_NAPTIME_MS			10
#define MIRROR_DEFAULT_NAPTIME_MS		100
#define MIRROR_MAX_NAPTIME_MS			60000

/*
 * A worker with no running mirror in its database waits this long for one
 * and then exits (the next change or mirror call starts a new one).
 */
#define MIRROR_IDLE_EXIT_MS				10000

/* Delay before the postmaster restarts a worker that failed */
#define MIRROR_RESTART_SECONDS			5

/* A backend launches at most one worker per this interval */
#define MIRROR_LAUNCH_INTERVAL_MS		1000

/* The recent rate (rows/s in the status view) is measured over windows of */
#define MIRROR_RATE_WINDOW_MS			5000

/* Dead-letter payload summaries and error texts are cut to this many bytes */
#define MIRROR_MAX_TEXT_BYTES			1024

/*
 * The worker's advisory lock: (database, key1, key2), shown in pg_locks as
 * locktype advisory, classid key1, objid key2, objsubid 2.
 */
#define MIRROR_LOCK_KEY1				0x76706d72	/* "vpmr" */
#define MIRROR_LOCK_KEY2				1

extern int	mirror_naptime_ms;

/* mirror.c */
extern void MirrorInit(void);
extern bool MirrorWorkerRunning(void);
extern bool MirrorLaunchWorker(bool report);
extern int	MirrorWorkerPid(void);

/* mirror_worker.c */
extern PGDLLEXPORT void vectorpg_mirror_worker_main(Datum arg);

#endif							/* VECTORPG_MIRROR_H */
