/*
 * malloc_tuning.c: vectorpg.malloc_keep, how much freed memory a backend
 * keeps for its next batch instead of giving it back to the kernel.
 *
 * A batch of large vectors passes through several buffers of megabytes:
 * the query text of a client that inlines its arrays (2.2 MB for 1,000
 * vectors of 784 dimensions), the parser's copies of that literal, the
 * array it becomes, the rows formed for the table, a search's hits.
 * PostgreSQL hands such blocks straight to malloc and back.  glibc serves
 * blocks above its mmap threshold with fresh mappings and gives freed
 * memory at the top of its heap back to the kernel above its trim
 * threshold, so the next batch faults all those pages in again.  glibc
 * raises both thresholds by itself, but only when it frees a mapped block
 * larger than the current one: a backend whose earlier work left them low
 * stays there, and every later batch pays.  In the benchmark, a session
 * that had first run 128-dimension batches then faulted in about 3,650
 * pages (14 MB) on every 784-dimension upsert, 100 ms a call against 55 in
 * a fresh session, and batch searches there ran at 200 ms a call for their
 * first five calls against 130 (doc/benchmarks.md, tenth session).
 *
 * The setting fixes the thresholds with mallopt(): blocks below half of it
 * (at most glibc's limit of 32 MB) come from the heap, and up to the
 * setting's worth of freed memory stays with the process.
 *
 *	-1 (auto, the default): nothing changes until the session's first batch
 *	   call with at least VECTORPG_AUTO_MALLOC_KEEP_BATCH kB of vectors
 *	   (vectorpg._batch_memory, called by the batch writes and searches);
 *	   that call applies VECTORPG_AUTO_MALLOC_KEEP, thresholds glibc's own
 *	   adjustment can reach by itself (it goes up to 32 MB / 64 MB).  A
 *	   larger batch raises it to VECTORPG_AUTO_MALLOC_KEEP_FACTOR times its
 *	   vectors, up to VECTORPG_AUTO_MALLOC_KEEP_MAX, and it never comes back
 *	   down in the session: a call of 10,000 vectors of 784 dimensions (31
 *	   MB) makes several copies of them (the planner's constants, the rows),
 *	   each faulted in afresh under 32 MB kept.  Text-client upserts of such
 *	   calls ran at 5,700-8,500 rows/s without an index with 32 MB kept, and
 *	   at 11,500-17,000 with 240 MB (128 MB was not enough).
 *	   Sessions that never send such a batch keep glibc's behaviour.  Coming
 *	   back to -1 from another value (RESET, a rolled-back SET) gives what
 *	   auto would have: its value after a large batch, glibc's before one.
 *	0: malloc is left as glibc (and its MALLOC_* environment) set it.
 *	>0: applied when the library loads and whenever it is SET.
 *
 * Only superusers set it (PGC_SUSET): memory a backend keeps is memory no
 * other process gets.  Builds on other C libraries accept it and do
 * nothing.
 */
#include "postgres.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "fmgr.h"
#include "utils/guc.h"
#include "vectorpg.h"

/* glibc's initial mmap and trim thresholds (bytes) */
#define GLIBC_DEFAULT_THRESHOLD		(128 * 1024)

static int	malloc_keep = VECTORPG_DEFAULT_MALLOC_KEEP;

/* The value this process's malloc was last given (kB; 0: untouched) */
static int	malloc_keep_applied = 0;

/* Whether this session has sent a batch as large as auto waits for */
static bool large_batch_seen = false;

/* What auto applies once such a batch was seen: grows with the largest (kB) */
static int	auto_keep = VECTORPG_AUTO_MALLOC_KEEP;

/*
 * Give glibc the thresholds of a value (kB; 0 restores glibc's initial
 * thresholds, though not their automatic adjustment, which any mallopt()
 * of them ends for the process).  Shared by the assign hook and auto.
 */
static void
ApplyMallocKeep(int kb)
{
	if (kb == malloc_keep_applied)
		return;
#ifdef __GLIBC__
	if (kb > 0)
	{
		mallopt(M_MMAP_THRESHOLD, Min(kb / 2, VECTORPG_MAX_MMAP_THRESHOLD) * 1024);
		mallopt(M_TRIM_THRESHOLD, kb * 1024);
	}
	else
	{
		mallopt(M_MMAP_THRESHOLD, GLIBC_DEFAULT_THRESHOLD);
		mallopt(M_TRIM_THRESHOLD, GLIBC_DEFAULT_THRESHOLD);
	}
#endif
	malloc_keep_applied = kb;
}

/*
 * Assign hook: an explicit value takes effect at once.  Auto (-1), which
 * is also what RESET and a rolled-back SET come back to, stands for the
 * session's history: auto's value once a large batch has been seen, else
 * glibc's own thresholds (restored if an explicit value had changed them).
 */
static void
AssignMallocKeep(int newval, void *extra)
{
	if (newval >= 0)
		ApplyMallocKeep(newval);
	else
		ApplyMallocKeep(large_batch_seen ? auto_keep : 0);
}

/* Register vectorpg.malloc_keep; called from _PG_init */
void
MallocTuningInit(void)
{
	DefineCustomIntVariable("vectorpg.malloc_keep",
							"Sets how much freed memory a backend keeps for reuse instead of returning it to the kernel.",
							"Blocks below half of it come from malloc's heap rather than fresh mappings. "
							"-1 applies 32MB at a session's first batch call of at least 1MB of vectors, "
							"and 8 times a larger batch's vectors, up to 256MB; "
							"0 leaves glibc's own settings.",
							&malloc_keep,
							VECTORPG_DEFAULT_MALLOC_KEEP,
							VECTORPG_MIN_MALLOC_KEEP,
							VECTORPG_MAX_MALLOC_KEEP,
							PGC_SUSET,
							GUC_UNIT_KB,
							NULL,
							AssignMallocKeep,
							NULL);
}

/*
 * vectorpg._batch_memory(bytes bigint): the batch functions report the
 * size of their vectors here before the work, so that auto can apply the
 * thresholds in the sessions that move megabytes per call, and only there.
 */
PG_FUNCTION_INFO_V1(vectorpg_batch_memory);
Datum
vectorpg_batch_memory(PG_FUNCTION_ARGS)
{
	int64		bytes = PG_GETARG_INT64(0);

	if (bytes >= (int64) VECTORPG_AUTO_MALLOC_KEEP_BATCH * 1024)
	{
		int64		want = bytes / 1024 * VECTORPG_AUTO_MALLOC_KEEP_FACTOR;

		large_batch_seen = true;
		auto_keep = (int) Max(auto_keep, Min(want, VECTORPG_AUTO_MALLOC_KEEP_MAX));
		if (malloc_keep == -1)
			ApplyMallocKeep(auto_keep);
	}
	PG_RETURN_VOID();
}

/*
 * vectorpg._malloc_keep_applied(): what this backend's malloc was last
 * given (kB; 0: untouched or glibc's initial thresholds), since auto's
 * effect shows in no setting.  For tests and for a person wondering.
 */
PG_FUNCTION_INFO_V1(vectorpg_malloc_keep_applied);
Datum
vectorpg_malloc_keep_applied(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(malloc_keep_applied);
}
