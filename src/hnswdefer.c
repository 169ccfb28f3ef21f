/*-------------------------------------------------------------------------
 *
 * hnswdefer.c
 *	  Deferred inserts: the batch functions' statements hand their hnsw
 *	  inserts over, and the backend applies them at the end of each chunk
 *	  together with parallel workers.
 *
 * Why.  Inserting a vector into the graph (a search ef_construction wide,
 * then the links back) is nearly all the cost of a batch upsert or vector
 * update with an index, and the executor calls aminsert row by row in one
 * backend.  Concurrent inserts into one index scale, since they share the
 * graph under buffer locks: two sessions updating 784-dimension vectors
 * together did 6,400-8,200 rows/s where one did 3,300-4,300.  So the batch
 * functions (vectorpg._write in the install script) bracket each chunk's
 * statement with vectorpg._defer_index_inserts(relation, items) and
 * vectorpg._apply_index_inserts().  In between, hnswinsert only copies the
 * prepared vector and the heap TID into a list; the apply hands the list
 * to up to max_parallel_maintenance_workers workers, the backend taking
 * its share, each running the ordinary on-disk insert (hnswinsert.c).
 *
 * Safety.
 *	- Nobody misses an entry.  Other sessions cannot see the rows before
 *	  commit anyway, and a scan of the index in this backend applies the
 *	  index's deferred items before it starts (hnswbeginscan), as does a
 *	  commit or prepare of a transaction that never called the apply.
 *	- An abort of the (sub)transaction that began deferring discards the
 *	  list: its rows died with it.  An abort of a deeper subtransaction
 *	  keeps the list; the entries of its dead rows are harmless, as those
 *	  of any aborted insert are, and vacuum removes them.
 *	- A TID is checked before its entry is written.  A row can die before
 *	  the apply (a speculative insert that lost ON CONFLICT's race is killed
 *	  at once; a deeper subtransaction aborts), and a concurrent VACUUM may
 *	  then free its TID for another row: an entry written afterwards would
 *	  index the wrong row.  So the apply writes an entry only if the TID
 *	  still holds a normal tuple this transaction wrote, and of several
 *	  items with one TID only the last.
 *	- Workers write WAL as concurrent inserts do; PostgreSQL reports their
 *	  last record to the leader, whose commit flushes it.  An error in a
 *	  worker is raised in the backend and aborts the transaction.
 *
 * Deferring happens only for a heap table that is not temporary (workers
 * cannot read a backend's local buffers), or the partitions of such a
 * partitioned table, and outside parallel mode; otherwise hnswinsert
 * inserts at once, as always.  A list that reaches
 * maintenance_work_mem is inserted serially on the spot and started anew.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "portability/instr_time.h"
#include "storage/bufmgr.h"
#include "storage/shm_toc.h"
#include "utils/acl.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "hnsw.h"

/*
 * Items per participant below which another worker does not pay.  Starting
 * a worker (a new process, its catalog caches, a cold CPU cache) took
 * 25-120 ms on the 2-core machines we measure on, the time of 200-800
 * inserts at 784 dimensions.  A batch of fewer items than two
 * participants' worth is not deferred at all.
 */
#define HNSW_DEFER_ITEMS_PER_WORKER	1000
#define HNSW_DEFER_MIN_ITEMS		(2 * HNSW_DEFER_ITEMS_PER_WORKER)

/*
 * The most shared memory one round of the apply takes for its vectors.
 * Each round starts its workers anew, so a round should hold a whole chunk
 * where it can: 10,000 vectors of 784 dimensions are 31 MB.  With 8 MB
 * rounds such a chunk took four, and the workers' starts ate the gain.  A
 * container's /dev/shm is often only 64 MB, which 10,000 vectors of 2,000
 * dimensions (80 MB) would not fit in one piece.
 */
#define HNSW_DEFER_ROUND_BYTES		(32 * 1024 * 1024)

#define PARALLEL_KEY_HNSW_DEFERRED	UINT64CONST(0xA000000000000011)

/* One insert handed over by hnswinsert */
typedef struct DeferredItem
{
	Oid			indexrelid;
	ItemPointerData tid;
	int			seq;			/* order of arrival, to keep a TID's last */
	Vector	   *value;
} DeferredItem;

/*
 * Partitions of a partitioned table being deferred for, as hnswinsert met
 * them: whether each may be deferred (a heap, not temporary)
 */
#define HNSW_DEFER_MAX_PARTITIONS	64

typedef struct DeferPartition
{
	Oid			relid;
	bool		eligible;
} DeferPartition;

/* What this backend is deferring, if anything */
typedef struct DeferState
{
	Oid			heaprelid;		/* InvalidOid: not deferring */
	bool		partitioned;	/* heaprelid is a partitioned table */
	int			nestLevel;		/* the subtransaction that owns the list */
	MemoryContext cxt;
	DeferredItem *items;
	int			nitems;
	int			capacity;
	Size		bytes;
	DeferPartition partitions[HNSW_DEFER_MAX_PARTITIONS];
	int			npartitions;
} DeferState;

static DeferState defer;

/*
 * The items of one index in shared memory: a header, then nitems TIDs,
 * then nitems vectors of `stride` bytes each.
 */
typedef struct DeferredShared
{
	Oid			indexrelid;
	int			nitems;
	Size		stride;
	Size		vectorsOffset;
	pg_atomic_uint32 next;		/* the next item a participant claims */
} DeferredShared;

#define DeferredSharedTids(s) \
	((ItemPointerData *) ((char *) (s) + MAXALIGN(sizeof(DeferredShared))))
#define DeferredSharedVector(s, i) \
	((Vector *) ((char *) (s) + (s)->vectorsOffset + (Size) (i) * (s)->stride))

PGDLLEXPORT void HnswParallelInsertMain(dsm_segment *seg, shm_toc *toc);
static int	ApplyDeferred(Oid onlyIndex, bool parallel);

/* Forget the list and stop deferring */
static void
DeferReset(void)
{
	if (defer.cxt != NULL)
		MemoryContextDelete(defer.cxt);
	memset(&defer, 0, sizeof(defer));
}

/* Empty the list, and keep deferring */
static void
DeferClearList(void)
{
	MemoryContextReset(defer.cxt);
	defer.items = NULL;
	defer.nitems = 0;
	defer.capacity = 0;
	defer.bytes = 0;
}

/* Can a table be deferred for: a heap, not temporary */
static bool
HeapEligible(Relation heap)
{
	return heap->rd_tableam == GetHeapamTableAmRoutine() &&
		heap->rd_rel->relpersistence != RELPERSISTENCE_TEMP;
}

/*
 * Is `heap` the table being deferred for, or, when that is partitioned, an
 * eligible partition of it?  A partition's answer is looked up once and
 * kept; past HNSW_DEFER_MAX_PARTITIONS partitions, the others insert at
 * once.
 */
static bool
DeferredHeap(Relation heap)
{
	Oid			relid = RelationGetRelid(heap);
	DeferPartition *p;

	if (relid == defer.heaprelid)
		return !defer.partitioned;
	if (!defer.partitioned || !heap->rd_rel->relispartition)
		return false;
	for (int i = 0; i < defer.npartitions; i++)
	{
		if (defer.partitions[i].relid == relid)
			return defer.partitions[i].eligible;
	}
	if (defer.npartitions == HNSW_DEFER_MAX_PARTITIONS)
		return false;
	p = &defer.partitions[defer.npartitions++];
	p->relid = relid;
	p->eligible = HeapEligible(heap) &&
		list_member_oid(get_partition_ancestors(relid), defer.heaprelid);
	return p->eligible;
}

/*
 * hnswinsert's question: take this insert for later?  True if the item was
 * listed; false means insert now.
 */
bool
HnswDeferInsert(Relation index, Relation heap, Vector *value, ItemPointer heaptid)
{
	DeferredItem *item;
	Size		size;

	if (!OidIsValid(defer.heaprelid) || heap == NULL || IsInParallelMode() ||
		!DeferredHeap(heap))
		return false;
	size = VECTOR_SIZE(value->dim);
	if (defer.bytes + size + sizeof(DeferredItem) > (Size) maintenance_work_mem * 1024)
	{
		/*
		 * The list is as large as it may grow: insert it now, serially
		 * (parallel mode cannot start inside the running statement), and
		 * list on.  Inserting this one row at once instead, with the list
		 * left for later, could let a row of the list whose TID a VACUUM
		 * freed and this row took be indexed with the wrong vector, which
		 * the last-of-each-TID rule catches only within one list.
		 */
		if (defer.nitems == 0)
			return false;
		ApplyDeferred(InvalidOid, false);
		DeferClearList();
	}

	if (defer.nitems == defer.capacity)
	{
		int			capacity = Max(64, defer.capacity * 2);

		if (defer.items == NULL)
			defer.items = MemoryContextAlloc(defer.cxt, sizeof(DeferredItem) * capacity);
		else
			defer.items = repalloc(defer.items, sizeof(DeferredItem) * capacity);
		defer.capacity = capacity;
	}
	item = &defer.items[defer.nitems];
	item->indexrelid = RelationGetRelid(index);
	item->tid = *heaptid;
	item->seq = defer.nitems;
	item->value = MemoryContextAlloc(defer.cxt, size);
	memcpy(item->value, value, size);
	SET_VARSIZE(item->value, size);
	defer.nitems++;
	defer.bytes += size + sizeof(DeferredItem);
	return true;
}

/* Order items by index, then TID, then arrival */
static int
CompareItems(const void *a, const void *b)
{
	const DeferredItem *x = a;
	const DeferredItem *y = b;
	int			c;

	if (x->indexrelid != y->indexrelid)
		return x->indexrelid < y->indexrelid ? -1 : 1;
	c = ItemPointerCompare((ItemPointer) &x->tid, (ItemPointer) &y->tid);
	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : (x->seq > y->seq ? 1 : 0);
}

/*
 * Does the heap TID still hold a tuple this transaction wrote?  `buf`
 * carries a pinned heap buffer from call to call (items come in TID
 * order), released by the caller.
 */
static bool
TupleIsOurs(Relation heap, BlockNumber nblocks, ItemPointer tid, Buffer *buf)
{
	BlockNumber blkno = ItemPointerGetBlockNumber(tid);
	OffsetNumber offnum = ItemPointerGetOffsetNumber(tid);
	Page		page;
	bool		ours = false;

	if (blkno >= nblocks)
		return false;
	if (!BufferIsValid(*buf) || BufferGetBlockNumber(*buf) != blkno)
	{
		if (BufferIsValid(*buf))
			ReleaseBuffer(*buf);
		*buf = ReadBuffer(heap, blkno);
	}
	LockBuffer(*buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(*buf);
	if (offnum >= FirstOffsetNumber && offnum <= PageGetMaxOffsetNumber(page))
	{
		ItemId		itemid = PageGetItemId(page, offnum);

		if (ItemIdIsNormal(itemid))
		{
			HeapTupleHeader htup = (HeapTupleHeader) PageGetItem(page, itemid);

			ours = !HeapTupleHeaderXminInvalid(htup) &&
				TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetRawXmin(htup));
		}
	}
	LockBuffer(*buf, BUFFER_LOCK_UNLOCK);
	return ours;
}

/*
 * Insert the claimed items one by one until none are left: the loop of
 * the backend and of every worker.  Returns how many this process took.
 */
static int
InsertClaimed(Relation index, DeferredShared *shared)
{
	HnswDistance dist;
	MemoryContext cxt;
	MemoryContext old;
	ItemPointerData *tids = DeferredSharedTids(shared);
	int			done = 0;

	HnswInitLinkDistance(index, &dist);
	cxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw deferred insert",
								256 * 1024, 256 * 1024, 1024 * 1024);
	for (;;)
	{
		uint32		i = pg_atomic_fetch_add_u32(&shared->next, 1);

		if (i >= (uint32) shared->nitems)
			break;
		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(cxt);
		HnswInsertOnDisk(index, &dist, DeferredSharedVector(shared, i), &tids[i], false);
		MemoryContextSwitchTo(old);
		MemoryContextReset(cxt);
		done++;
	}
	MemoryContextDelete(cxt);
	return done;
}

/* Entry point of a worker applying deferred inserts */
void
HnswParallelInsertMain(dsm_segment *seg, shm_toc *toc)
{
	DeferredShared *shared = shm_toc_lookup(toc, PARALLEL_KEY_HNSW_DEFERRED, false);
	Relation	index = index_open(shared->indexrelid, RowExclusiveLock);

	InsertClaimed(index, shared);
	index_close(index, RowExclusiveLock);
}

/*
 * The cores this machine has online.  Inserts are CPU and memory bound: a
 * leader and two workers on 2 cores took 156 ms for what a leader and one
 * worker did in 113 ms, so the workers are capped at one fewer than this.
 */
static int
OnlineCpus(void)
{
#ifdef _SC_NPROCESSORS_ONLN
	long		n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n > 0)
		return (int) Min(n, 1024);
#endif
	return 2;
}

/*
 * Insert one round of an index's items, all of its dimension, with workers
 * when there are enough items and parallelism is allowed.
 */
static void
ApplyRound(Relation index, DeferredItem **items, int n, bool parallel)
{
	int			nworkers = 0;
	Size		stride = MAXALIGN(VECTOR_SIZE(items[0]->value->dim));
	Size		vectorsOffset;
	Size		size;
	ParallelContext *pcxt = NULL;
	DeferredShared *shared;
	instr_time	start;
	instr_time	elapsed;
	int			mine;

	vectorsOffset = MAXALIGN(MAXALIGN(sizeof(DeferredShared)) + sizeof(ItemPointerData) * n);
	size = vectorsOffset + stride * n;

	if (parallel && IsUnderPostmaster && !IsInParallelMode() &&
		index->rd_rel->relpersistence != RELPERSISTENCE_TEMP)
		nworkers = Min(Min(max_parallel_maintenance_workers, OnlineCpus() - 1),
					   n / HNSW_DEFER_ITEMS_PER_WORKER - 1);

	if (nworkers > 0)
	{
		EnterParallelMode();
		pcxt = CreateParallelContext("vectorpg", "HnswParallelInsertMain", nworkers);
		shm_toc_estimate_chunk(&pcxt->estimator, size);
		shm_toc_estimate_keys(&pcxt->estimator, 1);
		InitializeParallelDSM(pcxt);
		if (pcxt->seg == NULL)
		{
			DestroyParallelContext(pcxt);
			ExitParallelMode();
			pcxt = NULL;
		}
	}
	shared = pcxt ? shm_toc_allocate(pcxt->toc, size) : palloc(size);
	shared->indexrelid = RelationGetRelid(index);
	shared->nitems = n;
	shared->stride = stride;
	shared->vectorsOffset = vectorsOffset;
	pg_atomic_init_u32(&shared->next, 0);
	for (int i = 0; i < n; i++)
	{
		DeferredSharedTids(shared)[i] = items[i]->tid;
		memcpy(DeferredSharedVector(shared, i), items[i]->value, VARSIZE(items[i]->value));
	}

	if (pcxt == NULL)
	{
		InsertClaimed(index, shared);
		pfree(shared);
		return;
	}
	shm_toc_insert(pcxt->toc, PARALLEL_KEY_HNSW_DEFERRED, shared);
	INSTR_TIME_SET_CURRENT(start);
	LaunchParallelWorkers(pcxt);
	mine = InsertClaimed(index, shared);
	WaitForParallelWorkersToFinish(pcxt);
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	ereport(DEBUG1,
			(errmsg_internal("hnsw: %d deferred inserts into \"%s\" with %d parallel workers in %.1f ms, %d of them by the backend",
							 n, RelationGetRelationName(index), pcxt->nworkers_launched,
							 INSTR_TIME_GET_MILLISEC(elapsed), mine)));
	DestroyParallelContext(pcxt);
	ExitParallelMode();
}

/*
 * Insert one index's items, all of its dimension, in rounds whose shared
 * memory stays under HNSW_DEFER_ROUND_BYTES.
 */
static void
ApplyToIndex(Relation index, DeferredItem **items, int n, bool parallel)
{
	Size		itemBytes;
	int			perRound;

	if (n == 0)
		return;
	itemBytes = MAXALIGN(VECTOR_SIZE(items[0]->value->dim)) + sizeof(ItemPointerData);
	perRound = (int) Max(HNSW_DEFER_ROUND_BYTES / itemBytes, 1);
	for (int start = 0; start < n; start += perRound)
		ApplyRound(index, &items[start], Min(perRound, n - start), parallel);
}

/*
 * Apply the deferred items: those of one index (onlyIndex), or all.  Of
 * the items applied, only those whose TID still holds this transaction's
 * tuple are inserted, each TID once.  Returns how many were inserted.
 */
static int
ApplyDeferred(Oid onlyIndex, bool parallel)
{
	MemoryContext cxt;
	MemoryContext old;
	DeferredItem *items;
	DeferredItem **keep;
	int			n = 0;
	int			nkeep = 0;
	int			rest = 0;
	Relation	heap;
	BlockNumber nblocks;
	Buffer		buf = InvalidBuffer;

	if (defer.nitems == 0)
		return 0;

	/* Take the items to apply out of the list first: an error drops them */
	cxt = defer.cxt;
	items = defer.items;
	for (int i = 0; i < defer.nitems; i++)
	{
		if (!OidIsValid(onlyIndex) || items[i].indexrelid == onlyIndex)
			n++;
	}
	if (n == 0)
		return 0;
	old = MemoryContextSwitchTo(cxt);
	if (n < defer.nitems)
	{
		DeferredItem *mine = palloc(sizeof(DeferredItem) * n);
		int			j = 0;

		for (int i = 0; i < defer.nitems; i++)
		{
			if (items[i].indexrelid == onlyIndex)
				mine[j++] = items[i];
			else
				items[rest++] = items[i];
		}
		defer.nitems = rest;
		items = mine;
	}
	else
	{
		defer.items = NULL;
		defer.nitems = 0;
		defer.capacity = 0;
	}

	/*
	 * Of each index's items, those whose TID still holds a row this
	 * transaction wrote, in the index's own table (a partition's, when the
	 * deferred table is partitioned)
	 */
	qsort(items, n, sizeof(DeferredItem), CompareItems);
	keep = palloc(sizeof(DeferredItem *) * n);
	for (int start = 0; start < n;)
	{
		int			end = start;

		while (end < n && items[end].indexrelid == items[start].indexrelid)
			end++;
		heap = table_open(IndexGetRelation(items[start].indexrelid, false), RowExclusiveLock);
		nblocks = RelationGetNumberOfBlocks(heap);
		for (int i = start; i < end; i++)
		{
			bool		last = i + 1 == end || !ItemPointerEquals(&items[i + 1].tid, &items[i].tid);

			if (last && TupleIsOurs(heap, nblocks, &items[i].tid, &buf))
				keep[nkeep++] = &items[i];
		}
		if (BufferIsValid(buf))
			ReleaseBuffer(buf);
		buf = InvalidBuffer;
		table_close(heap, RowExclusiveLock);
		start = end;
	}
	MemoryContextSwitchTo(old);

	/* Index by index; within one, a vector of another dimension first */
	for (int start = 0; start < nkeep;)
	{
		int			end = start;
		Relation	index;
		HnswMetaPageData meta;
		int			same = start;

		while (end < nkeep && keep[end]->indexrelid == keep[start]->indexrelid)
			end++;
		index = index_open(keep[start]->indexrelid, RowExclusiveLock);
		HnswReadMeta(index, &meta);
		for (int i = start; i < end; i++)
		{
			if (keep[i]->value->dim != (int) meta.dimensions)
			{
				DeferredItem *t = keep[same];

				keep[same++] = keep[i];
				keep[i] = t;
			}
		}
		for (int i = start; i < same; i++)
			ApplyToIndex(index, &keep[i], 1, false);
		ApplyToIndex(index, &keep[same], end - same, parallel);
		index_close(index, RowExclusiveLock);
		start = end;
	}

	if (items != defer.items)
		pfree(items);
	pfree(keep);
	return nkeep;
}

/*
 * hnswbeginscan's call: a scan must see what this backend inserted, so an
 * index's deferred items are inserted before a scan of it starts.
 */
void
HnswApplyDeferredFor(Relation index)
{
	if (defer.nitems > 0)
		ApplyDeferred(RelationGetRelid(index), false);
}

/* Transaction end: apply what a commit would otherwise lose, or forget */
static void
DeferXactCallback(XactEvent event, void *arg)
{
	if (!OidIsValid(defer.heaprelid))
		return;
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			ApplyDeferred(InvalidOid, false);
			DeferReset();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			DeferReset();
			break;
		default:
			break;
	}
}

/*
 * Subtransaction end: the list dies with the subtransaction that owns it,
 * and passes to the parent when that subtransaction commits.
 */
static void
DeferSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
					 SubTransactionId parentSubid, void *arg)
{
	if (!OidIsValid(defer.heaprelid))
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB &&
		GetCurrentTransactionNestLevel() <= defer.nestLevel)
		DeferReset();
	else if (event == SUBXACT_EVENT_COMMIT_SUB &&
			 GetCurrentTransactionNestLevel() == defer.nestLevel)
		defer.nestLevel--;
}

/* Register the transaction callbacks, once per backend */
void
HnswDeferInit(void)
{
	RegisterXactCallback(DeferXactCallback, NULL);
	RegisterSubXactCallback(DeferSubXactCallback, NULL);
}

VECTORPG_FUNCTION(vectorpg_defer_index_inserts);

/*
 * vectorpg._defer_index_inserts(relation, items): from now until the
 * apply, the hnsw inserts of rows written to this table are listed, not
 * done.  A list left from before is applied first.  `items` is how many
 * rows the caller is about to write.  Does nothing, so that the inserts
 * happen as always, when deferring would gain nothing: for fewer than
 * HNSW_DEFER_MIN_ITEMS items, without a second core, or with
 * max_parallel_maintenance_workers at 0; nor for a table that is temporary
 * or not a heap, or that the user may neither insert into nor update (the
 * lock below is not for them to take).  A partitioned table defers the
 * inserts into its partitions' indexes (DeferredHeap).
 */
Datum
vectorpg_defer_index_inserts(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	int32		nitems = PG_GETARG_INT32(1);
	Relation	heap;
	bool		eligible;
	bool		partitioned;

	if (OidIsValid(defer.heaprelid))
	{
		ApplyDeferred(InvalidOid, true);
		DeferReset();
	}
	if (nitems < HNSW_DEFER_MIN_ITEMS || max_parallel_maintenance_workers == 0 ||
		OnlineCpus() < 2 || IsInParallelMode() ||
		pg_class_aclcheck(relid, GetUserId(), ACL_INSERT | ACL_UPDATE) != ACLCHECK_OK)
		PG_RETURN_VOID();

	heap = table_open(relid, RowExclusiveLock);
	partitioned = heap->rd_rel->relkind == RELKIND_PARTITIONED_TABLE;
	eligible = partitioned ? heap->rd_rel->relpersistence != RELPERSISTENCE_TEMP : HeapEligible(heap);
	table_close(heap, NoLock);
	if (!eligible)
		PG_RETURN_VOID();

	defer.heaprelid = relid;
	defer.partitioned = partitioned;
	defer.nestLevel = GetCurrentTransactionNestLevel();
	defer.cxt = AllocSetContextCreate(TopMemoryContext, "hnsw deferred inserts",
									  ALLOCSET_DEFAULT_SIZES);
	PG_RETURN_VOID();
}

VECTORPG_FUNCTION(vectorpg_apply_index_inserts);

/*
 * vectorpg._apply_index_inserts(): insert what was deferred, with parallel
 * workers, and stop deferring.  Returns the number of entries written.
 */
Datum
vectorpg_apply_index_inserts(PG_FUNCTION_ARGS)
{
	int			n = 0;

	if (OidIsValid(defer.heaprelid))
	{
		n = ApplyDeferred(InvalidOid, true);
		DeferReset();
	}
	PG_RETURN_INT32(n);
}
