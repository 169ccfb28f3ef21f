/*-------------------------------------------------------------------------
 *
 * hnswreach.c
 *	  Which live elements a search can reach: a walk of the graph from the
 *	  entry point, the way searches go, through live elements only; and
 *	  whether a search for an element's own vector finds it.
 *
 * A search starts at the entry point on the top layer, follows links on
 * each layer and steps down a layer at the element it stopped at; it ends
 * on layer 0.  So an element is reachable when a path that only ever
 * steps down leads to it on layer 0, and an element with no such path can
 * never be returned, however large ef_search is.  The walk follows exactly
 * those paths: the elements reached on the top layer, then everything
 * they reach on the layer below, and so on down to layer 0.  (Layer 0
 * alone need not connect everything: upper layers can carry the only
 * links between two regions.)
 *
 * Two uses.  hnsw_index_check(reachable => true) reports the elements no
 * search reaches (hnswcheck.c).  Vacuum keeps a stronger property, that
 * layer 0 alone connects the entry point to every live element (a walk
 * from level 0), and links back whatever deletions cut off (hnswvacuum.c
 * explains how they do).
 *
 * Reachable is not yet findable: a greedy search for an element may end in
 * a neighbouring cluster although some path leads to it.  HnswSearchFinds
 * makes that search; vacuum's pass 2c links the elements it misses, and
 * hnsw_index_findability() counts them in a sample (hnswcheck.c).
 *
 * Layer 0's marks are a bitmap of one bit per line pointer a page can have
 * (about 0.6 % of the index's size); the upper layers, which hold about
 * one element in m, use visited sets.  Blocks added after the walk began
 * count as reached: they hold elements that concurrent inserts linked into
 * the graph.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/itup.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "hnsw.h"

/* Bytes of marks per block: one bit per possible line pointer */
#define REACH_BYTES_PER_BLOCK	((MaxIndexTuplesPerPage + 8) / 8)

/* Start with nothing marked, for an index of nblocks blocks */
void
HnswReachInit(HnswReach *r, BlockNumber nblocks)
{
	r->nblocks = nblocks;
	r->bits = MemoryContextAllocHuge(CurrentMemoryContext,
									 Max((Size) nblocks * REACH_BYTES_PER_BLOCK, 1));
	memset(r->bits, 0, Max((Size) nblocks * REACH_BYTES_PER_BLOCK, 1));
	r->queueSize = 1024;
	r->queue = palloc(sizeof(ItemPointerData) * r->queueSize);
}

/* Release the marks and the queue */
void
HnswReachFree(HnswReach *r)
{
	pfree(r->bits);
	pfree(r->queue);
}

/*
 * Whether a TID has been marked.  TIDs beyond the blocks the walk covers
 * count as marked (see the file header).
 */
bool
HnswReachTest(HnswReach *r, ItemPointer tid)
{
	BlockNumber blkno = ItemPointerGetBlockNumberNoCheck(tid);
	OffsetNumber off = ItemPointerGetOffsetNumberNoCheck(tid);

	if (blkno >= r->nblocks || off > MaxIndexTuplesPerPage)
		return true;
	return (r->bits[(Size) blkno * REACH_BYTES_PER_BLOCK + off / 8] & (1 << (off % 8))) != 0;
}

/* Mark a TID; false if it was marked already (or is out of range) */
static bool
ReachMark(HnswReach *r, ItemPointer tid)
{
	BlockNumber blkno = ItemPointerGetBlockNumberNoCheck(tid);
	OffsetNumber off = ItemPointerGetOffsetNumberNoCheck(tid);
	uint8	   *byte;

	if (blkno >= r->nblocks || off > MaxIndexTuplesPerPage)
		return false;
	byte = &r->bits[(Size) blkno * REACH_BYTES_PER_BLOCK + off / 8];
	if (*byte & (1 << (off % 8)))
		return false;
	*byte |= 1 << (off % 8);
	return true;
}

/*
 * Copy the links on `layer` of the element at tid into out (room for the
 * layer's slots), invalid slots included; -1 if tid holds no live element
 * of that level.  The neighbour tuple is read under the element's page
 * lock when it shares the page, as it nearly always does.
 */
int
HnswReadLiveLinks(Relation index, ItemPointer tid, int layer, int m, ItemPointerData *out)
{
	BlockNumber blkno = ItemPointerGetBlockNumber(tid);
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);
	int			start = HnswLayerStart(layer, m);
	int			slots = HnswLayerSlots(layer, m);
	ItemPointerData ntid;
	Buffer		buf;
	Page		page;
	int			n = -1;

	if (blkno == HNSW_METAPAGE_BLKNO)
		return -1;
	buf = HnswPinBlock(index, blkno);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (off >= FirstOffsetNumber && off <= PageGetMaxOffsetNumber(page))
	{
		ItemId		itemid = PageGetItemId(page, off);
		HnswElementTuple etup = (HnswElementTuple) PageGetItem(page, itemid);

		if (ItemIdIsNormal(itemid) && etup->type == HNSW_ELEMENT_TUPLE && !etup->deleted &&
			etup->level >= layer)
		{
			OffsetNumber noff = ItemPointerGetOffsetNumberNoCheck(&etup->neighbortid);

			ntid = etup->neighbortid;
			n = 0;
			if (ItemPointerGetBlockNumberNoCheck(&ntid) == blkno &&
				noff >= FirstOffsetNumber && noff <= PageGetMaxOffsetNumber(page))
			{
				ItemId		nid = PageGetItemId(page, noff);
				HnswNeighborTuple ntup = (HnswNeighborTuple) PageGetItem(page, nid);

				if (ItemIdIsNormal(nid) && ntup->type == HNSW_NEIGHBOR_TUPLE &&
					ntup->count >= start + slots)
				{
					memcpy(out, &ntup->tids[start], sizeof(ItemPointerData) * slots);
					n = slots;
				}
			}
			else
				n = -2;			/* on another page: read it below */
		}
	}
	UnlockReleaseBuffer(buf);
	if (n == -2)
		n = Max(HnswReadLayer(index, &ntid, layer, m, out), 0);
	return n;
}

/* Append a TID to the walk's queue, growing it (or reusing its front) */
static void
QueuePush(HnswReach *r, Size *head, Size *tail, ItemPointer tid)
{
	if (*head > 0 && *tail == r->queueSize)
	{
		memmove(r->queue, r->queue + *head, sizeof(ItemPointerData) * (*tail - *head));
		*tail -= *head;
		*head = 0;
	}
	if (*tail == r->queueSize)
	{
		r->queueSize *= 2;
		r->queue = repalloc_huge(r->queue, sizeof(ItemPointerData) * r->queueSize);
	}
	r->queue[(*tail)++] = *tid;
}

/*
 * Mark every element a search reaches on layer 0 from `start` entered on
 * layer `level` (see the file header); elements marked before are not
 * walked again on layer 0.  Returns how many live elements this call
 * marked on layer 0.
 */
int64
HnswReachFrom(Relation index, HnswReach *r, ItemPointer start, int level, int m)
{
	ItemPointerData *links = palloc(sizeof(ItemPointerData) * HnswLayerSlots(0, m));
	ItemPointerData *seeds = palloc(sizeof(ItemPointerData));
	int64		nseeds = 1;
	Size		head = 0;
	Size		tail = 0;
	int64		reached = 0;

	seeds[0] = *start;

	/* The upper layers, top down: each layer's walk starts from all above */
	for (int layer = level; layer >= 1; layer--)
	{
		HnswVisited seen;
		int64		size = nseeds;

		HnswVisitedInit(&seen, nseeds * 2);
		head = tail = 0;
		for (int64 i = 0; i < nseeds; i++)
		{
			if (HnswVisitedAdd(&seen, &seeds[i]))
				QueuePush(r, &head, &tail, &seeds[i]);
		}
		nseeds = 0;
		while (head < tail)
		{
			ItemPointerData tid = r->queue[head++];
			int			n;

			CHECK_FOR_INTERRUPTS();
			n = HnswReadLiveLinks(index, &tid, layer, m, links);
			if (n < 0)
				continue;
			if (nseeds == size)
			{
				size *= 2;
				seeds = repalloc_huge(seeds, sizeof(ItemPointerData) * size);
			}
			seeds[nseeds++] = tid;
			for (int i = 0; i < n; i++)
			{
				if (ItemPointerIsValid(&links[i]) && HnswVisitedAdd(&seen, &links[i]))
					QueuePush(r, &head, &tail, &links[i]);
			}
		}
		pfree(seen.keys);
	}

	/* Layer 0, from every element reached above */
	head = tail = 0;
	for (int64 i = 0; i < nseeds; i++)
	{
		if (ReachMark(r, &seeds[i]))
			QueuePush(r, &head, &tail, &seeds[i]);
	}
	while (head < tail)
	{
		ItemPointerData tid = r->queue[head++];
		int			n;

		CHECK_FOR_INTERRUPTS();
		n = HnswReadLiveLinks(index, &tid, 0, m, links);
		if (n < 0)
			continue;
		reached++;
		for (int i = 0; i < n; i++)
		{
			if (ItemPointerIsValid(&links[i]) && ReachMark(r, &links[i]))
				QueuePush(r, &head, &tail, &links[i]);
		}
	}
	pfree(links);
	pfree(seeds);
	return reached;
}

/*
 * Search for an element's own vector as a query does: down from the entry
 * point, each layer as wide as a scan of width `ef` searches it
 * (HnswQueryLayerEf).  Sets *sorted and *n to the layer-0 results, nearest
 * first, and returns whether the element is among them.  `self` must carry
 * its vector.  Vacuum's pass 2c links an element it does not find from
 * those results; the index's findability check only counts
 * (hnsw_index_findability).  An element that is itself the entry point
 * counts as found.
 */
bool
HnswSearchFinds(Relation index, const HnswDistance *dist, const HnswMetaPageData *meta,
				int ef, HnswCandidate *self, HnswCandidate ***sorted, int *n)
{
	ItemPointerData entrytid;
	HnswCandidate *entry = palloc(sizeof(HnswCandidate));
	HnswHeap	candidates;
	HnswHeap	results;

	*sorted = NULL;
	*n = 0;
	if (!BlockNumberIsValid(meta->entryBlkno))
		return false;
	ItemPointerSet(&entrytid, meta->entryBlkno, meta->entryOffno);
	if (ItemPointerEquals(&entrytid, &self->tid))
		return true;
	if (!HnswLoadCandidate(index, dist, self->vec, &entrytid, true, entry))
		return false;
	HnswHeapInit(&candidates, ef * 2, false);
	HnswHeapInit(&results, ef + 1, true);
	HnswHeapPush(&candidates, entry);
	HnswHeapPush(&results, entry);
	for (int layer = entry->level; layer >= 0; layer--)
		*sorted = HnswDescendLayer(index, dist, self->vec, &candidates, &results,
								   HnswQueryLayerEf(layer, ef), layer, meta->m, false,
								   layer > 0 ? 64 : ef * 8, n);
	for (int i = 0; i < *n; i++)
	{
		if (ItemPointerEquals(&(*sorted)[i]->tid, &self->tid))
			return true;
	}
	return false;
}
