/*-------------------------------------------------------------------------
 *
 * hnswscan.c
 *	  Ordered scans of an hnsw index, including iterative scans.
 *
 * A scan runs the HNSW search (greedy descent to layer 1, then ef_search
 * wide on layer 0) and returns the results nearest first, every heap TID of
 * an element in turn, with the operator's exact distance as the ORDER BY
 * value.  Elements vacuum marked deleted are walked through but never
 * returned.
 *
 * With hnsw.iterative_scan on, a scan that runs out of results resumes the
 * search from the elements it visited but did not return (the discarded
 * heap), ef_search at a time, until it has visited hnsw.max_scan_tuples
 * elements or its memory reaches work_mem * hnsw.scan_mem_multiplier.  A
 * round returns only the results no farther than the nearest element still
 * waiting, so rows come out in nearly ascending order; strict_order also
 * drops any row that would come out of order, as pgvector does.  Behind a
 * very selective filter that is not rare (about one row in twelve at 1 %
 * in t/023), so relaxed_order gives the better recall there.  When a limit
 * stops the search, the elements it visited but has not returned are handed
 * out as a last batch, nearest first, as pgvector does.
 *
 * A NULL query, or a zero vector under cosine, has no distances to order by;
 * such a scan returns every indexed row in index order, which is a correct
 * answer since all the ORDER BY values are equal (NULL or NaN).
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relscan.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/float.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "hnsw.h"

typedef struct HnswScanOpaqueData
{
	HnswDistance dist;
	MemoryContext ctx;			/* everything of one search; reset by rescan */
	bool		started;
	bool		done;
	bool		unordered;		/* NULL or directionless query */
	Vector	   *query;
	HnswMetaPageData meta;

	/* search state */
	HnswVisited visited;
	HnswHeap	candidates;
	HnswHeap	results;
	HnswHeap	discarded;
	int64		tuplesSeen;
	double		lastDistance;

	/* the batch being returned */
	HnswCandidate **batch;
	int			nbatch;
	int			pos;
	int			heaptidPos;

	bool		drained;		/* the discarded heap was handed out at a limit */

	/* unordered mode: position in the index */
	BlockNumber blkno;
	OffsetNumber offno;
} HnswScanOpaqueData;

typedef HnswScanOpaqueData *HnswScanOpaque;

/* ambeginscan */
IndexScanDesc
hnswbeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	HnswScanOpaque so = palloc0(sizeof(HnswScanOpaqueData));

	/* This backend's rows that a batch has not indexed yet go in first */
	HnswApplyDeferredFor(index);
	HnswInitDistance(index, &so->dist);

	/* Small blocks, so that the memory measure follows actual use */
	so->ctx = AllocSetContextCreate(CurrentMemoryContext, "hnsw scan",
									ALLOCSET_DEFAULT_MINSIZE, ALLOCSET_DEFAULT_INITSIZE,
									256 * 1024);
	scan->opaque = so;
	scan->xs_orderbyvals = palloc0(sizeof(Datum) * Max(norderbys, 1));
	scan->xs_orderbynulls = palloc(sizeof(bool) * Max(norderbys, 1));
	return scan;
}

/* amrescan: take the new query; the search starts at the first gettuple */
void
hnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));

	MemoryContextReset(so->ctx);
	so->started = false;
	so->done = false;
	so->unordered = false;
	so->batch = NULL;
	so->nbatch = 0;
	so->pos = 0;
	so->heaptidPos = 0;
	so->tuplesSeen = 0;
	so->drained = false;
	so->lastDistance = -get_float8_infinity();
}

/*
 * Sort the results heap into a batch, nearest first by exact distance.
 * With holdBack, results farther than the nearest element still waiting in
 * the discarded heap go back there, for a later round.
 */
static void
DrainResults(IndexScanDesc scan, bool holdBack)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	int			n = so->results.count;
	HnswCandidate *limit = holdBack ? HnswHeapTop(&so->discarded) : NULL;
	int			keep;

	so->batch = palloc(sizeof(HnswCandidate *) * Max(n, 1));
	for (int i = n - 1; i >= 0; i--)
		so->batch[i] = HnswHeapPop(&so->results);

	/* Hold back results beyond the nearest waiting element */
	keep = n;
	if (limit != NULL)
	{
		for (int i = 0; i < n; i++)
		{
			if (so->batch[i]->distance > limit->distance)
			{
				for (int j = i; j < n; j++)
					HnswDiscard(&so->discarded, so->batch[j]);
				keep = i;
				break;
			}
		}
	}

	/* Exact distances for all that are returned, then their order */
	for (int i = 0; i < keep; i++)
	{
		HnswCandidate *c = so->batch[i];

		if (!(c->flags & HNSW_CAND_EXACT))
		{
			HnswCandidate fresh;

			if (HnswLoadCandidate(scan->indexRelation, &so->dist, so->query, &c->tid,
								  false, &fresh))
				c->exact = fresh.exact;
			else
				c->deleted = true;	/* freed meanwhile: do not return it */
			c->flags |= HNSW_CAND_EXACT;
		}
	}
	for (int i = 1; i < keep; i++)
	{
		HnswCandidate *c = so->batch[i];
		int			j = i - 1;

		while (j >= 0 && so->batch[j]->exact > c->exact)
		{
			so->batch[j + 1] = so->batch[j];
			j--;
		}
		so->batch[j + 1] = c;
	}
	so->nbatch = keep;
	so->pos = 0;
	so->heaptidPos = 0;
}

/* Everything left in the candidate heap waits for the next round */
static void
DiscardCandidates(HnswScanOpaque so)
{
	HnswCandidate *c;

	while ((c = HnswHeapPop(&so->candidates)) != NULL)
		HnswDiscard(&so->discarded, c);
}

/*
 * The first round: descend from the entry point, greedily down to layer 2
 * and a few wide on layer 1 (HnswQueryLayerEf), and search layer 0 from
 * all that layer 1 found
 */
static void
FirstRound(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;
	HnswCandidate *entry = palloc(sizeof(HnswCandidate));
	ItemPointerData entrytid;
	bool		iterative = hnsw_iterative_scan != HNSW_ITERATIVE_SCAN_OFF;
	int			m = so->meta.m;

	ItemPointerSet(&entrytid, so->meta.entryBlkno, so->meta.entryOffno);
	if (!HnswLoadCandidate(index, &so->dist, so->query, &entrytid, false, entry))
		elog(ERROR, "hnsw index \"%s\" has no valid entry point", RelationGetRelationName(index));

	HnswHeapInit(&so->candidates, hnsw_ef_search * 2, false);
	HnswHeapInit(&so->results, hnsw_ef_search + 1, true);
	HnswHeapInit(&so->discarded, iterative ? hnsw_ef_search * 4 : 1, false);
	HnswHeapPush(&so->candidates, entry);
	HnswHeapPush(&so->results, entry);

	for (int layer = so->meta.entryLevel; layer >= 1; layer--)
	{
		HnswVisited v;

		HnswVisitedInit(&v, 64);
		for (int i = 0; i < so->results.count; i++)
			HnswVisitedAdd(&v, &so->results.items[i].c->tid);
		HnswSearchLayer(index, &so->dist, so->query, &so->candidates,
						HnswQueryLayerEf(layer, hnsw_ef_search), layer, m, false, false,
						false, &v, &so->results, NULL, NULL);
		so->candidates.count = 0;
		for (int i = 0; i < so->results.count; i++)
		{
			so->results.items[i].c->flags = 0;
			HnswHeapPush(&so->candidates, so->results.items[i].c);
		}
	}

	HnswVisitedInit(&so->visited, hnsw_ef_search * m * 4);
	for (int i = 0; i < so->results.count; i++)
		HnswVisitedAdd(&so->visited, &so->results.items[i].c->tid);
	so->tuplesSeen = so->results.count;
	HnswSearchLayer(index, &so->dist, so->query, &so->candidates, hnsw_ef_search, 0, m, false,
					true, false, &so->visited, &so->results, iterative ? &so->discarded : NULL,
					&so->tuplesSeen);
	if (iterative)
		DiscardCandidates(so);
	DrainResults(scan, iterative);
}

/*
 * A further round of an iterative scan, from the nearest waiting elements.
 * False when the scan has reached one of its limits or has nothing left.
 */
static bool
NextRound(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	double		memLimit = (double) work_mem * 1024.0 * hnsw_scan_mem_multiplier;

	if (so->discarded.count == 0 ||
		so->tuplesSeen >= hnsw_max_scan_tuples ||
		(double) MemoryContextMemAllocated(so->ctx, true) > memLimit)
		return false;

	so->candidates.count = 0;
	so->results.count = 0;
	while (so->results.count < hnsw_ef_search && so->discarded.count > 0)
	{
		HnswCandidate *c = HnswHeapPop(&so->discarded);

		c->flags &= ~HNSW_CAND_DISCARDED;
		if (!(c->flags & HNSW_CAND_EXPANDED))
			HnswHeapPush(&so->candidates, c);
		if (!(c->flags & HNSW_CAND_RETURNED))
			HnswHeapPush(&so->results, c);
	}
	HnswSearchLayer(scan->indexRelation, &so->dist, so->query, &so->candidates,
					hnsw_ef_search, 0, so->meta.m, false, true, false, &so->visited, &so->results,
					&so->discarded, &so->tuplesSeen);
	DiscardCandidates(so);
	DrainResults(scan, true);
	return true;
}

/*
 * At a scan limit, the elements visited but not yet returned become one last
 * batch, nearest first, as pgvector hands them out: the scan stops looking,
 * but what it has seen still counts.  False when there are none.
 */
static bool
DrainDiscarded(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	HnswCandidate *c;

	so->drained = true;
	so->results.count = 0;
	while ((c = HnswHeapPop(&so->discarded)) != NULL)
	{
		c->flags &= ~HNSW_CAND_DISCARDED;
		if (!(c->flags & HNSW_CAND_RETURNED))
			HnswHeapPush(&so->results, c);
	}
	DrainResults(scan, false);
	return so->nbatch > 0;
}

/*
 * Unordered mode: the next heap TID in index order.  Used when the query has
 * no direction, where every order is the right one.
 */
static bool
NextUnordered(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);

	while (so->blkno < nblocks)
	{
		Buffer		buf = ReadBuffer(index, so->blkno);
		Page		page;
		bool		found = false;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		while (so->offno <= PageGetMaxOffsetNumber(page))
		{
			ItemId		itemid = PageGetItemId(page, so->offno);
			HnswElementTuple etup = (HnswElementTuple) PageGetItem(page, itemid);

			if (ItemIdIsNormal(itemid) && etup->type == HNSW_ELEMENT_TUPLE && !etup->deleted &&
				so->heaptidPos < HNSW_HEAPTIDS &&
				ItemPointerIsValid(&etup->heaptids[so->heaptidPos]))
			{
				scan->xs_heaptid = etup->heaptids[so->heaptidPos++];
				found = true;
				break;
			}
			so->offno++;
			so->heaptidPos = 0;
		}
		UnlockReleaseBuffer(buf);
		if (found)
			return true;
		so->blkno++;
		so->offno = FirstOffsetNumber;
		CHECK_FOR_INTERRUPTS();
	}
	return false;
}

/* Set up the search at the first gettuple after a rescan */
static void
StartScan(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	MemoryContext old = MemoryContextSwitchTo(so->ctx);
	Datum		arg = scan->orderByData[0].sk_argument;

	so->started = true;
	HnswReadMeta(scan->indexRelation, &so->meta);
	if (!BlockNumberIsValid(so->meta.entryBlkno))
	{
		so->done = true;
		MemoryContextSwitchTo(old);
		return;
	}

	if (scan->orderByData[0].sk_flags & SK_ISNULL)
		so->unordered = true;
	else
	{
		so->query = DatumGetVector(arg);
		if (so->query->dim != (int) so->meta.dimensions)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("different vector dimensions %u and %d",
							so->meta.dimensions, so->query->dim)));
		if (!HnswPrepareValue(&so->dist, PointerGetDatum(so->query), &so->query))
			so->unordered = true;
	}
	so->dist.bytesOf = NULL;
	if (!so->unordered)
		HnswSetQueryBytes(&so->dist, so->query);

	if (so->unordered)
	{
		so->blkno = HNSW_METAPAGE_BLKNO + 1;
		so->offno = FirstOffsetNumber;
		so->heaptidPos = 0;
	}
	else
		FirstRound(scan);
	MemoryContextSwitchTo(old);
}

/* amgettuple: the next heap TID, nearest first */
bool
hnswgettuple(IndexScanDesc scan, ScanDirection dir)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	bool		strict = hnsw_iterative_scan == HNSW_ITERATIVE_SCAN_STRICT;

	if (scan->numberOfOrderBys == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot scan hnsw index without order"),
				 errhint("Use ORDER BY with a distance operator of the index's operator class.")));

	if (!so->started)
		StartScan(scan);
	if (so->done)
		return false;

	scan->xs_recheck = false;
	scan->xs_recheckorderby = false;

	if (so->unordered)
	{
		if (!NextUnordered(scan))
			return false;
		if (scan->orderByData[0].sk_flags & SK_ISNULL)
		{
			scan->xs_orderbyvals[0] = (Datum) 0;
			scan->xs_orderbynulls[0] = true;
		}
		else
		{
			scan->xs_orderbyvals[0] = Float8GetDatum(get_float8_nan());
			scan->xs_orderbynulls[0] = false;
		}
		return true;
	}

	for (;;)
	{
		while (so->pos < so->nbatch)
		{
			HnswCandidate *c = so->batch[so->pos];

			/* At an element's first TID, decide whether it is returned at all */
			if (so->heaptidPos == 0 &&
				(c->deleted || (c->flags & HNSW_CAND_RETURNED) ||
				 (strict && c->exact < so->lastDistance)))
			{
				so->pos++;
				continue;
			}
			if (so->heaptidPos >= c->nheaptids)
			{
				so->pos++;
				so->heaptidPos = 0;
				continue;
			}

			c->flags |= HNSW_CAND_RETURNED;
			scan->xs_heaptid = c->heaptids[so->heaptidPos++];
			scan->xs_orderbyvals[0] = Float8GetDatum(HnswOrderByValue(&so->dist, c->exact));
			scan->xs_orderbynulls[0] = false;
			so->lastDistance = c->exact;
			return true;
		}

		if (hnsw_iterative_scan == HNSW_ITERATIVE_SCAN_OFF)
			return false;

		CHECK_FOR_INTERRUPTS();
		{
			MemoryContext old = MemoryContextSwitchTo(so->ctx);
			bool		more = !so->drained && NextRound(scan);

			/* A limit ended the search: hand out what it had seen */
			if (!more && !so->drained)
				more = DrainDiscarded(scan);
			MemoryContextSwitchTo(old);
			if (!more)
				return false;
		}
	}
}

/* amendscan */
void
hnswendscan(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	MemoryContextDelete(so->ctx);
	pfree(so);
	scan->opaque = NULL;
}
