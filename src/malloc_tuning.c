/*
 * malloc_tuning.c: vectorpg.malloc_keep, how much freed memory a backend
 * keeps for its next batch instead of giving it back to the kernel.
 *
 * A batch of large vectors passes through several buffers of megabytes:
 * the query text of a client that inlines its arrays (2.2 MB for 1,000
 * vectors of 784 dimensions), the parser's copies of that literal, the
 * array it becomes, the rows formed for the table.  PostgreSQL hands such
 * blocks straight to malloc and back.  glibc serves them with fresh mmap()s
 * (above 128 kB, a threshold it raises only as it sees such blocks freed)
 * and returns freed memory at the top of its heap to the kernel, so the
 * next batch faults in all those pages again.  With the setting, blocks
 * below half of it (at most glibc's limit of 32 MB) come from the heap, and
 * up to the setting's worth of freed memory stays with the process.
 * doc/benchmarks.md has the runs: 784-dimension upserts from a text client
 * at 2x the rows per second with 64 MB, binary clients no faster, and
 * thresholds of 8 MB slower than glibc's defaults.
 *
 * Off (0) by default: it changes how the whole backend allocates, and what
 * it gains depends on the workload, so it is for the role or database of
 * the batch writers (ALTER ROLE/DATABASE ... SET), measured there.  Only
 * superusers set it (PGC_SUSET): memory a backend keeps is memory no other
 * process gets.  Builds on other C libraries accept it and do nothing.
 */
#include "postgres.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "utils/guc.h"
#include "vectorpg.h"

/* glibc's initial mmap and trim thresholds (bytes) */
#define GLIBC_DEFAULT_THRESHOLD		(128 * 1024)

static int	malloc_keep = VECTORPG_DEFAULT_MALLOC_KEEP;

/* The value this process's malloc was last given (kB; 0: untouched) */
static int	malloc_keep_applied = 0;

/*
 * Give glibc the thresholds of a new value.  Back to 0 after another value
 * restores glibc's initial thresholds, though not their automatic
 * adjustment, which any mallopt() of them ends for the process.
 */
static void
AssignMallocKeep(int newval, void *extra)
{
	if (newval == malloc_keep_applied)
		return;
#ifdef __GLIBC__
	if (newval > 0)
	{
		mallopt(M_MMAP_THRESHOLD, Min(newval / 2, VECTORPG_MAX_MMAP_THRESHOLD) * 1024);
		mallopt(M_TRIM_THRESHOLD, newval * 1024);
	}
	else
	{
		mallopt(M_MMAP_THRESHOLD, GLIBC_DEFAULT_THRESHOLD);
		mallopt(M_TRIM_THRESHOLD, GLIBC_DEFAULT_THRESHOLD);
	}
#endif
	malloc_keep_applied = newval;
}

/* Register vectorpg.malloc_keep; called from _PG_init */
void
MallocTuningInit(void)
{
	DefineCustomIntVariable("vectorpg.malloc_keep",
							"Sets how much freed memory a backend keeps for reuse instead of returning it to the kernel.",
							"Blocks below half of it come from malloc's heap rather than fresh mappings. 0 leaves glibc's own settings.",
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
