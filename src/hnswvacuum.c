/*-------------------------------------------------------------------------
 *
 * hnswvacuum.c
 *	  ambulkdelete and amvacuumcleanup: remove dead heap TIDs, repair the
 *	  graph around elements that lost all of theirs, and free their space.
 *
 * Three passes over the index:
 *
 *	1. Remove the heap TIDs VACUUM reports dead.  An element left with none
 *	   is marked deleted: scans still walk through it but never return it.
 *	2. Repair: every live element is read, and each that links to a deleted
 *	   one on some layer gets that layer recomputed, by the selection
 *	   heuristic, from its live links plus the links of the deleted
 *	   neighbours (their "neighbours of neighbours").  If the entry point was
 *	   deleted, the highest live element becomes the entry point.  Then
 *	   every live element that layer 0 no longer connects to the entry
 *	   point is linked back in (2b), and each relinked element (one in four
 *	   beyond the first few thousand) that a search for its own vector
 *	   does not find is linked from where that search ended (2c); so is
 *	   each element 2b meets with fewer than HNSW_SPARSE_LINKS links on
 *	   layer 0 that its search does not find.
 *	3. Free: deleted elements and their neighbour tuples become free tuples,
 *	   which later inserts reuse.
 *
 * A vacuum that finds nothing to delete still walks layer 0 (passes 2b and
 * 2c) when the index has grown since the last walk.  Inserts can cut elements
 * off, too: linking a new element to a full neighbour prunes that
 * neighbour's list, and the link it drops may have been an element's only
 * way in.  At the default m = 16 that is rare (1 of 20,000 16-dimension
 * vectors inserted one by one), at m = 4 it is not (227 of 5,000).  A build
 * links back everything it cut off (hnswbuild.c); for rows inserted later,
 * this is when.  The metapage's walkedBlocks keeps the walk from repeating
 * on an index that has not grown: the vacuum of an unchanged table reads
 * nothing.
 *
 * Keeping the graph navigable.  On clustered data the elements inserted
 * first hold nearly all the links between clusters: later ones find their
 * whole neighbourhood inside their own cluster.  Deleting those first
 * elements (say the oldest half of a table, as a retention window does)
 * took the links between clusters with them, and a plain repair made no
 * new ones: the heuristic drops a far candidate as soon as a kept near one
 * is about as far from it.  Layer 0 fell apart into clusters, a search
 * whose greedy descent ended in the wrong cluster could not leave it, and
 * recall@10 fell from 0.98 to 0.78, at any ef_search.  Two things keep
 * those links:
 *	- a deleted element linked from another deleted one is replaced, as a
 *	  candidate, by its stand-in, its nearest live neighbour (FindStandIns),
 *	  so the long links between deleted elements survive as links between
 *	  their stand-ins;
 *	- pass 2b (ReconnectGraph) links back whatever is still cut off.
 * With them the same deletion left recall@10 at 0.97, and updating the
 * vectors of half the rows at 0.97 instead of 0.82-0.91 (t/022 checks the
 * deletion on other data).  Also keeping, ahead of the nearest candidates,
 * those that came through a deleted neighbour and that no kept link leads
 * to did better on that data (0.98) but far worse where most of the graph
 * was deleted at once (0.76 against 0.83-0.94 when one VACUUM followed
 * some 150,000 inserts, each with a delete of the oldest row): it crowded
 * out the near links.
 *
 * Connected is not yet findable, though.  Under steady churn (rows inserted
 * all the time, the oldest deleted, vacuum after vacuum) the links into a
 * cluster die with its oldest elements, and the repair, choosing among near
 * candidates, makes few new ones: searches for the cluster's elements end
 * in a neighbouring cluster.  Measured at 32 dimensions, 50 clusters:
 *	- one VACUUM after 4 turnovers of a 5,000-row table: recall@10
 *	  0.85-0.88 (0.99 after REINDEX);
 *	- a VACUUM after each 1,000-row turnover: 0.97-0.99;
 *	- 2 sessions inserting and deleting the oldest row for 60 s, VACUUM
 *	  every 3 s: 0.86-0.92, hardly better at ef_search 200, with 6-14 % of
 *	  the elements not found by a search for their own vector.
 * Pass 2c (FindabilityPass) searches for the relinked elements as queries
 * would and links those not found from where their search ended: recall
 * 0.99-1.00 in all three (t/022 runs the first two), for about 20 % more
 * vacuum time.
 *
 * Cost.  Passes 1 and 3 read every page once; pass 2b walks layer 0 once,
 * in graph order.  Pass 2 touches only elements adjacent to deleted ones:
 * for D deleted elements with up to 2m links each, it repairs at most
 * 2m * D lists, each from at most 2m + 2m * 2m candidate distances, so the
 * work grows linearly with the number of deleted rows (times m^2), never
 * with the square of the index size, and a vacuum after deleting most of a
 * table costs about as much as rebuilding that part.  Pass 2c adds one
 * insert's search per element it checks, at most a quarter of those pass 2
 * relinked beyond the first few thousand.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "hnsw.h"

/*
 * Pass 2c searches for every element pass 2 relinked when there are up to
 * this many, and for one in HNSW_FINDABLE_STEP beyond (FindabilityPass)
 */
#define HNSW_FINDABLE_ALL		4096
#define HNSW_FINDABLE_STEP		4

/* A growing array of element TIDs */
typedef struct TidList
{
	ItemPointerData *tids;
	int64		n;
	int64		size;
} TidList;

typedef struct VacuumState
{
	Relation	index;
	BufferAccessStrategy strategy;
	HnswDistance dist;
	HnswMetaPageData meta;
	HnswVisited deleted;		/* element TIDs marked deleted */
	uint64	   *standinKeys;	/* deleted element -> live stand-in (layer 0), */
	ItemPointerData *standins;	/* open addressing like HnswVisited, keyed */
	uint32		standinMask;	/* by the deleted element's TID */
	BlockNumber firstFree;		/* lowest page holding a free slot */
	ItemPointerData anyLive;	/* some live element, to search from */
	TidList		repaired;		/* elements pass 2 relinked, for pass 2c */
	TidList		sparse;			/* elements pass 2b found sparse, for 2c */
	int64		raced;			/* repairs redone after an insert's write */
	BlockNumber walked;			/* index size when pass 2b began, or 0 */
	MemoryContext tmpCtx;		/* reset per repaired element */
} VacuumState;

/*
 * Read a data page for vacuum, pinned and locked.  An all-zero page (left
 * by a crash after extending the index) has no tuples, so the callers' loops
 * over its items simply do nothing.
 */
static Buffer
VacuumReadPage(VacuumState *vs, BlockNumber blkno, int mode)
{
	Buffer		buf = ReadBufferExtended(vs->index, MAIN_FORKNUM, blkno, RBM_NORMAL,
										 vs->strategy);

	LockBuffer(buf, mode);
	(void) HnswCheckPage(vs->index, BufferGetPage(buf), blkno);
	return buf;
}

/* Whether an element TID was marked deleted by this vacuum */
static inline bool
IsDeleted(VacuumState *vs, ItemPointer tid)
{
	return HnswVisitedContains(&vs->deleted, tid);
}

/* Pass 1: drop dead heap TIDs; mark elements left with none as deleted */
static void
RemoveHeapTids(VacuumState *vs, IndexBulkDeleteResult *stats,
			   IndexBulkDeleteCallback callback, void *callback_state)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(vs->index);

	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		HnswEdit	edit;
		Page		wpage = NULL;

		vacuum_delay_point();
		buf = VacuumReadPage(vs, blkno, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);

		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			ItemId		itemid = PageGetItemId(page, off);
			HnswElementTuple etup = (HnswElementTuple) PageGetItem(page, itemid);
			ItemPointerData keep[HNSW_HEAPTIDS];
			int			nkeep = 0;
			int			nold = 0;
			ItemPointerData tid;

			if (ItemIdIsNormal(itemid) && etup->type == HNSW_FREE_TUPLE &&
				!BlockNumberIsValid(vs->firstFree))
				vs->firstFree = blkno;	/* freed by an interrupted vacuum */
			if (!ItemIdIsNormal(itemid) || etup->type != HNSW_ELEMENT_TUPLE)
				continue;
			ItemPointerSet(&tid, blkno, off);
			if (!etup->deleted && !ItemPointerIsValid(&vs->anyLive))
				vs->anyLive = tid;
			if (etup->deleted)
			{
				/* Left over from an interrupted vacuum: finish the job */
				HnswVisitedAdd(&vs->deleted, &tid);
				continue;
			}
			for (int i = 0; i < HNSW_HEAPTIDS && ItemPointerIsValid(&etup->heaptids[i]); i++)
			{
				nold++;
				if (!callback(&etup->heaptids[i], callback_state))
					keep[nkeep++] = etup->heaptids[i];
			}
			stats->num_index_tuples += nkeep;
			if (nkeep == nold)
				continue;

			stats->tuples_removed += nold - nkeep;
			if (wpage == NULL)
			{
				HnswEditStart(&edit, vs->index, false);
				wpage = HnswEditPage(&edit, buf, false);
			}
			etup = (HnswElementTuple) PageGetItem(wpage, PageGetItemId(wpage, off));
			for (int i = 0; i < HNSW_HEAPTIDS; i++)
			{
				if (i < nkeep)
					etup->heaptids[i] = keep[i];
				else
					ItemPointerSetInvalid(&etup->heaptids[i]);
			}
			if (nkeep == 0)
			{
				etup->deleted = 1;
				HnswVisitedAdd(&vs->deleted, &tid);
			}
		}
		if (wpage != NULL)
			HnswEditFinish(&edit);
		UnlockReleaseBuffer(buf);
	}
}

/* Slot of a key in the stand-in map: its own, or the empty one it would take */
static uint32
StandInSlot(VacuumState *vs, uint64 key)
{
	uint32		i = (uint32) ((key * UINT64CONST(0x9E3779B97F4A7C15)) >> 32) & vs->standinMask;

	while (vs->standinKeys[i] != 0 && vs->standinKeys[i] != key)
		i = (i + 1) & vs->standinMask;
	return i;
}

/* The live stand-in of a deleted element, or NULL if it has none */
static ItemPointer
StandIn(VacuumState *vs, ItemPointer tid)
{
	uint32		i;

	if (vs->standinKeys == NULL)
		return NULL;
	i = StandInSlot(vs, HnswTidKey(tid));
	return vs->standinKeys[i] != 0 ? &vs->standins[i] : NULL;
}

/*
 * Give each deleted element a stand-in: its nearest live neighbour on layer
 * 0, which the repair links to where the graph linked one deleted element to
 * another (see the file header).
 */
static void
FindStandIns(VacuumState *vs)
{
	uint32		size = 64;
	Vector	   *probe = InitVector(vs->meta.dimensions);
	int			slots = HnswLayerSlots(0, vs->meta.m);
	ItemPointerData *links = palloc(sizeof(ItemPointerData) * slots);

	while (size < vs->deleted.count * 2)
		size <<= 1;
	vs->standinKeys = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint64) * size);
	memset(vs->standinKeys, 0, sizeof(uint64) * size);
	vs->standins = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(ItemPointerData) * size);
	vs->standinMask = size - 1;

	for (uint32 k = 0; k <= vs->deleted.mask; k++)
	{
		uint64		key = vs->deleted.keys[k];
		ItemPointerData tid;
		HnswCandidate d;
		HnswCandidate c;
		ItemPointerData best;
		double		bestDistance = 0;
		int			n;
		MemoryContext old;

		if (key == 0)
			continue;
		vacuum_delay_point();
		ItemPointerSet(&tid, (BlockNumber) (key >> 16), (OffsetNumber) (key & 0xFFFF));
		ItemPointerSetInvalid(&best);
		old = MemoryContextSwitchTo(vs->tmpCtx);
		if (HnswLoadCandidate(vs->index, &vs->dist, probe, &tid, true, &d))
		{
			n = HnswReadLayer(vs->index, &d.neighbortid, 0, vs->meta.m, links);
			for (int i = 0; i < n; i++)
			{
				if (!ItemPointerIsValid(&links[i]) || IsDeleted(vs, &links[i]) ||
					!HnswLoadCandidate(vs->index, &vs->dist, d.vec, &links[i], false, &c) ||
					c.deleted)
					continue;
				if (!ItemPointerIsValid(&best) || c.distance < bestDistance)
				{
					best = links[i];
					bestDistance = c.distance;
				}
			}
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(vs->tmpCtx);
		if (ItemPointerIsValid(&best))
		{
			uint32		i = StandInSlot(vs, key);

			vs->standinKeys[i] = key;
			vs->standins[i] = best;
		}
	}
	pfree(links);
}

/*
 * Collect the live candidates to relink one layer of an element: its live
 * links, and the links of its deleted neighbours, each live one or, on
 * layer 0, the stand-in of a deleted one (FindStandIns).  Returns the count.
 */
static int
GatherRepairCandidates(VacuumState *vs, HnswCandidate *self, int layer,
					   ItemPointerData *current, int slots, HnswCandidate **out)
{
	int			m = vs->meta.m;
	int			n = 0;
	HnswVisited seen;
	ItemPointerData *links = palloc(sizeof(ItemPointerData) * slots);

	HnswVisitedInit(&seen, slots * (slots + 1));
	HnswVisitedAdd(&seen, &self->tid);
	for (int i = 0; i < slots; i++)
	{
		ItemPointer tid = &current[i];

		if (!ItemPointerIsValid(tid) || !HnswVisitedAdd(&seen, tid))
			continue;
		if (IsDeleted(vs, tid))
		{
			HnswCandidate deleted;
			int			nlinks;

			/* Its links are candidates in its place */
			if (!HnswLoadCandidate(vs->index, &vs->dist, self->vec, tid, false, &deleted))
				continue;
			nlinks = HnswReadLayer(vs->index, &deleted.neighbortid, layer, m, links);
			for (int j = 0; j < nlinks; j++)
			{
				HnswCandidate *c;
				ItemPointer link = &links[j];

				if (!ItemPointerIsValid(link))
					continue;
				if (IsDeleted(vs, link) && (layer > 0 || (link = StandIn(vs, link)) == NULL))
					continue;
				if (!HnswVisitedAdd(&seen, link))
					continue;
				c = palloc(sizeof(HnswCandidate));
				if (HnswLoadCandidate(vs->index, &vs->dist, self->vec, link, true, c) &&
					!c->deleted && c->level >= layer)
					out[n++] = c;
			}
		}
		else
		{
			HnswCandidate *c = palloc(sizeof(HnswCandidate));

			if (HnswLoadCandidate(vs->index, &vs->dist, self->vec, tid, true, c) && !c->deleted)
				out[n++] = c;
		}
	}
	return n;
}

/*
 * Candidates for one layer of an element found by searching the graph, as
 * an insert would: from the entry point (or, for the entry point itself,
 * from another live element) down to the layer, ef_construction wide.  Used
 * when the neighbourhood left after deletions is too thin to repair from.
 * Appends to out (room for `room`), skipping TIDs already there; returns
 * the new count.
 */
static int
SearchRepairCandidates(VacuumState *vs, HnswCandidate *self, int layer,
					   HnswCandidate **out, int n, int room)
{
	int			m = vs->meta.m;
	int			ef = Max(vs->meta.efConstruction, HnswLayerSlots(layer, m));
	ItemPointerData start;
	HnswCandidate *entry = palloc(sizeof(HnswCandidate));
	HnswHeap	candidates;
	HnswHeap	results;

	ItemPointerSet(&start, vs->meta.entryBlkno, vs->meta.entryOffno);
	if (!BlockNumberIsValid(vs->meta.entryBlkno) || ItemPointerEquals(&start, &self->tid))
		start = vs->anyLive;
	if (!ItemPointerIsValid(&start) || ItemPointerEquals(&start, &self->tid) ||
		!HnswLoadCandidate(vs->index, &vs->dist, self->vec, &start, true, entry))
		return n;

	HnswHeapInit(&candidates, ef * 2, false);
	HnswHeapInit(&results, ef + 1, true);
	HnswHeapPush(&candidates, entry);
	HnswHeapPush(&results, entry);
	for (int l = entry->level; l >= layer; l--)
	{
		int			nsorted;
		HnswCandidate **sorted = HnswDescendLayer(vs->index, &vs->dist, self->vec, &candidates,
												  &results, l > layer ? 1 : ef, l, m, false,
												  l == layer ? ef * m * 2 : 64, &nsorted);

		if (l > layer)
			continue;

		/* Keep the live ones not yet among the candidates */
		for (int i = 0; i < nsorted && n < room; i++)
		{
			HnswCandidate *c = sorted[i];
			bool		known = c->deleted || IsDeleted(vs, &c->tid) ||
				ItemPointerEquals(&c->tid, &self->tid) || c->level < layer;

			for (int j = 0; j < n && !known; j++)
				known = ItemPointerEquals(&out[j]->tid, &c->tid);
			if (!known)
				out[n++] = c;
		}
	}
	return n;
}

/* What RepairLayer did with one layer of an element */
typedef enum RepairOutcome
{
	REPAIR_UNTOUCHED,			/* no link to a deleted element */
	REPAIR_DONE,				/* relinked */
	REPAIR_RACED,				/* an insert changed the list meanwhile: again */
	REPAIR_GONE					/* the neighbour tuple is not what it was */
} RepairOutcome;

/*
 * Recompute one layer of a live element if it links to deleted elements.
 *
 * The list is written only if it still holds what was read (HnswWriteLayer),
 * and an insert may have given the element a back link in between.  An
 * insert's lost write costs a link; this one's would leave the links to
 * deleted elements in place, and pass 3 would free what they point at.  So
 * a lost race is reported, and the caller repairs the layer again from what
 * it holds now (t/023 (f) found such a dangling link once its rows had
 * distinct vectors).
 */
static RepairOutcome
RepairLayer(VacuumState *vs, HnswCandidate *self, int layer)
{
	int			m = vs->meta.m;
	int			slots = HnswLayerSlots(layer, m);
	ItemPointerData *current = palloc(sizeof(ItemPointerData) * slots);
	ItemPointerData *updated = palloc(sizeof(ItemPointerData) * slots);
	int			room = slots * (slots + 1) + Max(vs->meta.efConstruction, slots) + 1;
	HnswCandidate **cands = palloc(sizeof(HnswCandidate *) * room);
	HnswCandidate **selected = palloc(sizeof(HnswCandidate *) * slots);
	bool		touched = false;
	int			before = 0;
	int			ncands;
	int			nselected;

	if (HnswReadLayer(vs->index, &self->neighbortid, layer, m, current) != slots)
		return REPAIR_GONE;
	for (int i = 0; i < slots; i++)
	{
		if (!ItemPointerIsValid(&current[i]))
			continue;
		before++;
		touched |= IsDeleted(vs, &current[i]);
	}
	if (!touched)
		return REPAIR_UNTOUCHED;

	ncands = GatherRepairCandidates(vs, self, layer, current, slots, cands);

	/* Too few left nearby: look for neighbours the way an insert does */
	if (ncands < slots / 2)
		ncands = SearchRepairCandidates(vs, self, layer, cands, ncands, room);

	HnswSortCandidates(cands, ncands);
	nselected = HnswSelectNeighbors(&vs->dist, cands, ncands, slots, selected);

	/*
	 * The heuristic alone leaves repaired lists sparser than built ones (its
	 * picks among a neighbourhood thinned by deletions): top the list up
	 * with the nearest remaining candidates to the number of links it had,
	 * so repeated vacuums do not wear the graph down.
	 */
	for (int i = 0; i < ncands && nselected < Min(before, slots); i++)
	{
		bool		taken = cands[i]->deleted;

		for (int j = 0; j < nselected && !taken; j++)
			taken = selected[j] == cands[i];
		if (!taken)
			selected[nselected++] = cands[i];
	}
	for (int i = 0; i < slots; i++)
	{
		if (i < nselected)
			updated[i] = selected[i]->tid;
		else
			ItemPointerSetInvalid(&updated[i]);
	}
	if (!HnswWriteLayer(vs->index, &self->neighbortid, layer, m, current, updated, false))
		return REPAIR_RACED;

	/* New neighbours link back, so the element stays reachable */
	for (int i = 0; i < nselected; i++)
	{
		bool		old = false;

		for (int j = 0; j < slots && !old; j++)
			old = ItemPointerEquals(&current[j], &selected[i]->tid);
		if (!old)
			HnswAddBackLink(vs->index, &vs->dist, selected[i], layer, m, &self->tid,
							self->vec, false);
	}
	return REPAIR_DONE;
}

/*
 * Recompute the layers of one live element that link to deleted elements.
 * True if it had any.
 */
static bool
RepairElement(VacuumState *vs, ItemPointer tid)
{
	HnswCandidate self;
	Vector	   *probe = InitVector(vs->meta.dimensions);
	bool		repaired = false;

	/* Load its vector (the distance to the zero probe is not used) */
	if (!HnswLoadCandidate(vs->index, &vs->dist, probe, tid, true, &self) || self.deleted)
		return false;

	for (int layer = 0; layer <= self.level; layer++)
	{
		RepairOutcome outcome;

		while ((outcome = RepairLayer(vs, &self, layer)) == REPAIR_RACED)
		{
			CHECK_FOR_INTERRUPTS();
			vs->raced++;
		}
		if (outcome == REPAIR_GONE)
			return repaired;
		repaired |= outcome == REPAIR_DONE;
	}
	return repaired;
}

/*
 * If the entry point was deleted, make the highest live element the entry
 * point (or empty the graph).  Runs with inserts locked out, so the scan for
 * the highest element sees every element.
 */
static void
RepairEntryPoint(VacuumState *vs)
{
	ItemPointerData entry;
	ItemPointerData best;
	int			bestLevel = -1;
	BlockNumber nblocks;
	Buffer		mbuf;
	HnswEdit	edit;
	HnswMetaPage meta;

	LockPage(vs->index, HNSW_UPDATE_LOCK, ExclusiveLock);
	HnswReadMeta(vs->index, &vs->meta);
	ItemPointerSet(&entry, vs->meta.entryBlkno, vs->meta.entryOffno);
	if (!BlockNumberIsValid(vs->meta.entryBlkno) || !IsDeleted(vs, &entry))
	{
		UnlockPage(vs->index, HNSW_UPDATE_LOCK, ExclusiveLock);
		return;
	}

	ItemPointerSetInvalid(&best);
	nblocks = RelationGetNumberOfBlocks(vs->index);
	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf = VacuumReadPage(vs, blkno, BUFFER_LOCK_SHARE);
		Page		page = BufferGetPage(buf);

		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			ItemId		itemid = PageGetItemId(page, off);
			HnswElementTuple etup = (HnswElementTuple) PageGetItem(page, itemid);

			if (ItemIdIsNormal(itemid) && etup->type == HNSW_ELEMENT_TUPLE &&
				!etup->deleted && etup->level > bestLevel)
			{
				bestLevel = etup->level;
				ItemPointerSet(&best, blkno, off);
			}
		}
		UnlockReleaseBuffer(buf);
	}

	mbuf = ReadBuffer(vs->index, HNSW_METAPAGE_BLKNO);
	LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
	HnswEditStart(&edit, vs->index, false);
	meta = HnswPageGetMeta(HnswEditPage(&edit, mbuf, false));
	if (ItemPointerIsValid(&best))
	{
		meta->entryBlkno = ItemPointerGetBlockNumber(&best);
		meta->entryOffno = ItemPointerGetOffsetNumber(&best);
		meta->entryLevel = bestLevel;
	}
	else
	{
		meta->entryBlkno = InvalidBlockNumber;
		meta->entryOffno = InvalidOffsetNumber;
		meta->entryLevel = -1;
	}
	HnswEditFinish(&edit);
	UnlockReleaseBuffer(mbuf);
	UnlockPage(vs->index, HNSW_UPDATE_LOCK, ExclusiveLock);
}

/* Append a TID to a list (in the current memory context) */
static void
TidListAdd(TidList *l, ItemPointer tid)
{
	if (l->n == l->size)
	{
		l->size = Max(l->size * 2, 1024);
		l->tids = l->tids == NULL ?
			MemoryContextAllocHuge(CurrentMemoryContext, sizeof(ItemPointerData) * l->size) :
			repalloc_huge(l->tids, sizeof(ItemPointerData) * l->size);
	}
	l->tids[l->n++] = *tid;
}

/* Pass 2: relink around deleted elements */
static void
RepairGraph(VacuumState *vs)
{
	/*
	 * Wait for the inserts in flight.  One that read an element before pass
	 * 1 marked it deleted may still link its new element to it; once every
	 * such insert has finished, the pass below sees and repairs those links,
	 * and inserts that start later read the mark and never choose a deleted
	 * element.  Without this wait a link written behind the repair pass
	 * outlived pass 3 and pointed at a freed (later reused) slot, which
	 * hnsw_index_check reported after a load raced autovacuum (t/030).
	 */
	LockPage(vs->index, HNSW_UPDATE_LOCK, ExclusiveLock);
	UnlockPage(vs->index, HNSW_UPDATE_LOCK, ExclusiveLock);

	RepairEntryPoint(vs);
	FindStandIns(vs);

	/* Pages inserts add meanwhile are repaired too: the bound is re-read */
	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1;
		 blkno < RelationGetNumberOfBlocks(vs->index); blkno++)
	{
		ItemPointerData *live;
		int			nlive;

		vacuum_delay_point();
		nlive = HnswPageLiveElements(vs->index, vs->strategy, blkno, &live, NULL);

		/* Each element is repaired without holding this page's lock */
		for (int i = 0; i < nlive; i++)
		{
			MemoryContext old = MemoryContextSwitchTo(vs->tmpCtx);

			CHECK_FOR_INTERRUPTS();
			if (RepairElement(vs, &live[i]))
			{
				MemoryContextSwitchTo(old);
				TidListAdd(&vs->repaired, &live[i]);
			}
			MemoryContextSwitchTo(old);
			MemoryContextReset(vs->tmpCtx);
		}
		pfree(live);
	}
}

/*
 * Give `n` a link on layer 0 to the element at newtid without taking any
 * element's way in: into a free slot, or else in place of a redundant
 * link, one to an element that another live neighbour of n links to as
 * well.  That element stays reachable through the other neighbour, which n
 * still reaches; of several, the farthest from n is replaced.  A back link
 * otherwise goes through the selection heuristic, which drops whichever
 * link spreads worst, and that may be some element's only way in: linking
 * back the elements inserts had cut off (227 of 5,000 at m = 4), pass 2b
 * cut off 15 others.  False if n had no room of either kind, or its list
 * changed meanwhile.
 */
static bool
LinkKeepingPaths(VacuumState *vs, HnswCandidate *n, ItemPointer newtid)
{
	int			m = vs->meta.m;
	int			slots = HnswLayerSlots(0, m);
	ItemPointerData *current = palloc(sizeof(ItemPointerData) * slots);
	ItemPointerData *updated = palloc(sizeof(ItemPointerData) * slots);
	ItemPointerData *theirs = palloc(sizeof(ItemPointerData) * slots);
	bool	   *redundant;
	int			slot = -1;
	double		farthest = -1;

	if (HnswReadLayer(vs->index, &n->neighbortid, 0, m, current) != slots)
		return false;
	for (int i = 0; i < slots; i++)
	{
		if (ItemPointerEquals(&current[i], newtid))
			return true;		/* linked already */
		if (!ItemPointerIsValid(&current[i]) && slot < 0)
			slot = i;
	}
	if (slot < 0)
	{
		/* Which of n's links another of its live neighbours has too */
		redundant = palloc0(sizeof(bool) * slots);
		for (int w = 0; w < slots; w++)
		{
			int			ntheirs;

			if (!ItemPointerIsValid(&current[w]) || IsDeleted(vs, &current[w]))
				continue;
			ntheirs = HnswReadLiveLinks(vs->index, &current[w], 0, m, theirs);
			for (int t = 0; t < ntheirs; t++)
			{
				for (int v = 0; v < slots; v++)
				{
					if (v != w && ItemPointerIsValid(&theirs[t]) &&
						ItemPointerEquals(&theirs[t], &current[v]))
						redundant[v] = true;
				}
			}
		}
		for (int v = 0; v < slots; v++)
		{
			HnswCandidate c;

			if (redundant[v] &&
				HnswLoadCandidate(vs->index, &vs->dist, n->vec, &current[v], false, &c) &&
				c.distance > farthest)
			{
				farthest = c.distance;
				slot = v;
			}
		}
		if (slot < 0)
			return false;
	}

	memcpy(updated, current, sizeof(ItemPointerData) * slots);
	updated[slot] = *newtid;
	return HnswWriteLayer(vs->index, &n->neighbortid, 0, m, current, updated, false);
}

/*
 * Give an element links from the nearest live elements of a search's
 * results (nearest first): each of the nearest m links to it if it has
 * room (LinkKeepingPaths), and if none has, the first beyond them that
 * does.  The element in turn gets links to the nearest outLinks of them
 * that it has room for, so that a search that lands in its region can
 * leave it: pass 2c links elements that are reachable, and pruning their
 * own lists by the heuristic cut others off (1 of 3,334 in t/024).  One
 * such link does for an element that was relinked; a sparse one gets m.
 */
static void
LinkFromNearest(VacuumState *vs, HnswCandidate *self, HnswCandidate **sorted, int nsorted,
				int outLinks)
{
	int			m = vs->meta.m;
	int			linked = 0;
	int			out = 0;

	for (int i = 0; i < nsorted && (linked < m || out < outLinks) &&
		 (i < Max(m, outLinks) || linked == 0); i++)
	{
		HnswCandidate *c = sorted[i];

		if (c->deleted || IsDeleted(vs, &c->tid) || ItemPointerEquals(&c->tid, &self->tid))
			continue;
		if (out < outLinks)
			out = LinkKeepingPaths(vs, self, &c->tid) ? out + 1 : outLinks;
		if (linked < m && LinkKeepingPaths(vs, c, &self->tid))
			linked++;
	}
}

/*
 * Link one live element that layer 0 no longer connects to the entry point
 * back to it: a layer-0 search from the entry point, which only ever meets
 * elements connected to it, finds the nearest of those to the element, and
 * they link to it (LinkFromNearest).  Returns false if tid no longer holds
 * a live element.
 */
static bool
ReconnectElement(VacuumState *vs, ItemPointer tid, ItemPointer entrytid)
{
	int			m = vs->meta.m;
	int			ef = Max(vs->meta.efConstruction, HnswLayerSlots(0, m));
	HnswCandidate self;
	HnswCandidate *entry = palloc(sizeof(HnswCandidate));
	Vector	   *probe = InitVector(vs->meta.dimensions);
	HnswHeap	candidates;
	HnswHeap	results;
	HnswCandidate **sorted;
	int			nsorted;

	if (!HnswLoadCandidate(vs->index, &vs->dist, probe, tid, true, &self) || self.deleted)
		return false;
	if (!HnswLoadCandidate(vs->index, &vs->dist, self.vec, entrytid, true, entry))
		return true;
	HnswHeapInit(&candidates, ef * 2, false);
	HnswHeapInit(&results, ef + 1, true);
	HnswHeapPush(&candidates, entry);
	HnswHeapPush(&results, entry);
	sorted = HnswDescendLayer(vs->index, &vs->dist, self.vec, &candidates, &results, ef, 0, m,
							  false, ef * m * 2, &nsorted);
	LinkFromNearest(vs, &self, sorted, nsorted, 1);
	return true;
}

/*
 * Pass 2b: walk layer 0 from the entry point (hnswreach.c) and link each
 * live element the walk did not reach back in, with whatever it is cut off
 * with: the walk from it then marks that whole region, so a region costs
 * one search, not one per element.  The repair above keeps the links
 * between regions in nearly all cases (see the file header); this catches
 * the rest, and elements a crash left without back links.
 */
static void
ReconnectGraph(VacuumState *vs)
{
	HnswReach	reach;
	ItemPointerData entry;
	BlockNumber nblocks;
	int64		reconnected = 0;

	HnswReadMeta(vs->index, &vs->meta);
	if (!BlockNumberIsValid(vs->meta.entryBlkno))
		return;
	nblocks = RelationGetNumberOfBlocks(vs->index);
	HnswReachInit(&reach, nblocks);
	vs->walked = nblocks;
	ItemPointerSet(&entry, vs->meta.entryBlkno, vs->meta.entryOffno);
	HnswReachFrom(vs->index, &reach, &entry, 0, vs->meta.m);

	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		ItemPointerData *live;
		bool	   *sparse;
		int			nlive;

		vacuum_delay_point();
		nlive = HnswPageLiveElements(vs->index, vs->strategy, blkno, &live, &sparse);
		for (int i = 0; i < nlive; i++)
		{
			MemoryContext old;
			bool		found;

			/* With a link or two, maybe found only through another region */
			if (sparse[i])
				TidListAdd(&vs->sparse, &live[i]);
			/* Reached from the entry point, or in a region linked back already */
			if (HnswReachTest(&reach, &live[i]))
				continue;
			CHECK_FOR_INTERRUPTS();
			old = MemoryContextSwitchTo(vs->tmpCtx);
			found = ReconnectElement(vs, &live[i], &entry);
			MemoryContextSwitchTo(old);
			MemoryContextReset(vs->tmpCtx);
			if (!found)
				continue;
			HnswReachFrom(vs->index, &reach, &live[i], 0, vs->meta.m);
			reconnected++;
		}
		pfree(live);
		pfree(sparse);
	}
	HnswReachFree(&reach);
	ereport(DEBUG1,
			(errmsg_internal("hnsw index \"%s\": walked layer 0 of %u blocks, linked %lld cut-off regions back into the graph, found %lld elements with fewer than %d links",
							 RelationGetRelationName(vs->index), nblocks, (long long) reconnected,
							 (long long) vs->sparse.n, HNSW_SPARSE_LINKS)));
}

/*
 * How wide pass 2c searches layer 0: as a query does at the default
 * hnsw.ef_search, or at ef_construction if that is narrower.  Why: an
 * element that a search at ef_construction (64) finds, one at ef_search 40
 * may miss.  Searching at ef_construction, the churn of t/022 (a VACUUM
 * after each of 20 turnovers) still left whole clusters that queries at
 * ef_search 40 missed in a tail of runs: recall@10 0.976-1.000, mean
 * 0.998, over 40 runs; searching as those queries do, 0.996-1.000, mean
 * 0.9995, for the same vacuum time.  Vacuum runs in autovacuum as often as
 * not, where the session's setting is not the queries', hence the default.
 */
static int
FindableEf(const HnswMetaPageData *meta)
{
	return Min(meta->efConstruction, HNSW_DEFAULT_EF_SEARCH);
}

/*
 * If a search for an element's own vector, made as a query's is
 * (HnswSearchFinds, FindableEf wide), does not find the element, link it
 * from the nearest elements that search did reach (LinkFromNearest).  A
 * sparse element (fewer than HNSW_SPARSE_LINKS links on layer 0) is linked
 * so even when found, and gets up to m links of its own: found at the
 * default ef_search is not yet found at a smaller one, and its next vacuum
 * would search for it again.  Returns true if it linked.
 */
static bool
MakeFindable(VacuumState *vs, ItemPointer tid, bool sparse)
{
	HnswCandidate self;
	Vector	   *probe = InitVector(vs->meta.dimensions);
	HnswCandidate **sorted;
	int			nsorted;

	if (!HnswLoadCandidate(vs->index, &vs->dist, probe, tid, true, &self) || self.deleted)
		return false;
	if ((HnswSearchFinds(vs->index, &vs->dist, &vs->meta, FindableEf(&vs->meta),
						  &self, &sorted, &nsorted) && !sparse) ||
		nsorted == 0)
		return false;
	LinkFromNearest(vs, &self, sorted, nsorted, sparse ? vs->meta.m : 1);
	return true;
}

/* One element of pass 2c (MakeFindable), in the per-element memory context */
static bool
FindabilityStep(VacuumState *vs, ItemPointer tid, bool sparse)
{
	MemoryContext old;
	bool		linked;

	vacuum_delay_point();
	CHECK_FOR_INTERRUPTS();
	old = MemoryContextSwitchTo(vs->tmpCtx);
	linked = MakeFindable(vs, tid, sparse);
	MemoryContextSwitchTo(old);
	MemoryContextReset(vs->tmpCtx);
	return linked;
}

/*
 * Pass 2c: search for the elements pass 2 relinked as queries would, and
 * link each that its own search does not find from where that search
 * ended; and link the sparse elements pass 2b found from where their
 * search ended, found or not.
 *
 * Why: under steady churn (rows inserted all the time, the oldest deleted,
 * vacuum after vacuum) every element stays connected, yet whole clusters
 * stop being found: the long links into them belonged to elements long
 * deleted, and the repair, choosing among near candidates, makes few new
 * ones.  A search then ends in a neighbouring cluster at any ef_search.
 * The search for an element of such a cluster ends just where queries for
 * it end, and linking the element from there restores the way in for the
 * whole cluster.  So one element in HNSW_FINDABLE_STEP is searched for
 * (all of them up to HNSW_FINDABLE_ALL): a cluster cut off is found through
 * any of its elements.
 *
 * Sparse elements are the first ones inserted into a region of the space
 * that was empty until then: they link only to the nearest element of
 * another region, and the region's later elements, entering it by other
 * paths, need never meet them.  Searches in their own region miss them,
 * and an equal vector inserted later, not finding one, takes an element
 * of its own that searches then return instead (the build mends its own,
 * hnswbuild.c, RelinkSparseNodes).  There are few (20 of 1,550 in a second
 * cluster inserted after a first), so each is searched for.
 */
static void
FindabilityPass(VacuumState *vs)
{
	int64		linked = 0;
	int64		sparseLinked = 0;
	int64		step = vs->repaired.n <= HNSW_FINDABLE_ALL ? 1 : HNSW_FINDABLE_STEP;

	HnswReadMeta(vs->index, &vs->meta);
	if (!BlockNumberIsValid(vs->meta.entryBlkno))
		return;
	for (int64 i = 0; i < vs->repaired.n; i += step)
		linked += FindabilityStep(vs, &vs->repaired.tids[i], false) ? 1 : 0;
	for (int64 i = 0; i < vs->sparse.n; i++)
		sparseLinked += FindabilityStep(vs, &vs->sparse.tids[i], true) ? 1 : 0;
	if (linked > 0 || sparseLinked > 0)
		ereport(DEBUG1,
				(errmsg_internal("hnsw index \"%s\": %lld of %lld relinked elements searched for were not found, and were linked from where the search ended; so were %lld of %lld sparse elements",
								 RelationGetRelationName(vs->index), (long long) linked,
								 (long long) ((vs->repaired.n + step - 1) / step),
								 (long long) sparseLinked, (long long) vs->sparse.n)));
}

/* Pass 3: turn deleted elements and their neighbour tuples into free tuples */
static void
FreeDeleted(VacuumState *vs)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(vs->index);

	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		HnswEdit	edit;
		Page		wpage = NULL;

		vacuum_delay_point();
		buf = VacuumReadPage(vs, blkno, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			ItemId		itemid = PageGetItemId(page, off);
			HnswElementTuple etup = (HnswElementTuple) PageGetItem(page, itemid);
			ItemPointerData tid;
			ItemPointerData ntid;

			if (!ItemIdIsNormal(itemid) || etup->type != HNSW_ELEMENT_TUPLE || !etup->deleted)
				continue;
			ItemPointerSet(&tid, blkno, off);
			if (!IsDeleted(vs, &tid))
				continue;
			ntid = etup->neighbortid;

			if (wpage == NULL)
			{
				HnswEditStart(&edit, vs->index, false);
				wpage = HnswEditPage(&edit, buf, false);
			}
			etup = (HnswElementTuple) PageGetItem(wpage, PageGetItemId(wpage, off));
			etup->type = HNSW_FREE_TUPLE;

			/* The neighbour tuple is reused with it only if on this page */
			if (ItemPointerGetBlockNumber(&ntid) == blkno &&
				ItemPointerGetOffsetNumber(&ntid) <= PageGetMaxOffsetNumber(wpage))
			{
				ItemId		nid = PageGetItemId(wpage, ItemPointerGetOffsetNumber(&ntid));
				HnswNeighborTuple ntup = (HnswNeighborTuple) PageGetItem(wpage, nid);

				if (ItemIdIsNormal(nid) && ntup->type == HNSW_NEIGHBOR_TUPLE)
				{
					ntup->type = HNSW_FREE_NEIGHBOR_TUPLE;
					for (int i = 0; i < ntup->count; i++)
						ItemPointerSetInvalid(&ntup->tids[i]);
				}
			}
			if (!BlockNumberIsValid(vs->firstFree) || blkno < vs->firstFree)
				vs->firstFree = blkno;
		}
		if (wpage != NULL)
			HnswEditFinish(&edit);
		UnlockReleaseBuffer(buf);
	}
}

/*
 * Write what this vacuum learned into the metapage, in one edit: the
 * free-slot hint lowered to the first page known to have a free slot (pass
 * 3, or one an interrupted vacuum left), and the index's size at pass 2b's
 * walk, so that a vacuum with nothing to delete walks again only once the
 * index has grown
 */
static void
UpdateMetaHints(VacuumState *vs)
{
	Buffer		mbuf;
	HnswEdit	edit;
	HnswMetaPage meta;
	bool		changed = false;

	if (!BlockNumberIsValid(vs->firstFree) && vs->walked == 0)
		return;
	mbuf = ReadBuffer(vs->index, HNSW_METAPAGE_BLKNO);
	LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
	HnswEditStart(&edit, vs->index, false);
	meta = HnswPageGetMeta(HnswEditPage(&edit, mbuf, false));
	if (BlockNumberIsValid(vs->firstFree) &&
		(!BlockNumberIsValid(meta->freeHint) || vs->firstFree < meta->freeHint))
	{
		meta->freeHint = vs->firstFree;
		changed = true;
	}
	if (vs->walked != 0 && meta->walkedBlocks != vs->walked)
	{
		meta->walkedBlocks = vs->walked;
		changed = true;
	}
	if (changed)
		HnswEditFinish(&edit);
	else
		HnswEditAbort(&edit);
	UnlockReleaseBuffer(mbuf);
}

/*
 * Set up the state of one vacuum of the index, in the caller's memory
 * context; the caller deletes tmpCtx when done.
 */
static void
VacuumStateInit(VacuumState *vs, IndexVacuumInfo *info)
{
	vs->index = info->index;
	vs->strategy = info->strategy;
	HnswInitLinkDistance(info->index, &vs->dist);
	HnswReadMeta(info->index, &vs->meta);
	HnswVisitedInit(&vs->deleted, 1024);
	vs->standinKeys = NULL;
	vs->standins = NULL;
	vs->firstFree = InvalidBlockNumber;
	ItemPointerSetInvalid(&vs->anyLive);
	memset(&vs->repaired, 0, sizeof(TidList));
	memset(&vs->sparse, 0, sizeof(TidList));
	vs->raced = 0;
	vs->walked = 0;
	vs->tmpCtx = AllocSetContextCreate(CurrentMemoryContext, "hnsw vacuum temporary context",
									   ALLOCSET_DEFAULT_SIZES);
}

/*
 * A vacuum with nothing to delete: pass 2b, and 2c for the sparse elements
 * 2b found, if the index has grown since it was last walked (inserts may
 * have cut elements off; see the file header)
 */
static void
ReconnectIfGrown(VacuumState *vs)
{
	if (RelationGetNumberOfBlocks(vs->index) > vs->meta.walkedBlocks)
	{
		ReconnectGraph(vs);
		FindabilityPass(vs);
	}
}

/* ambulkdelete: the three passes (see the file header) */
IndexBulkDeleteResult *
hnswbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
			   IndexBulkDeleteCallback callback, void *callback_state)
{
	VacuumState vs;

	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));

	VacuumStateInit(&vs, info);
	stats->num_index_tuples = 0;
	RemoveHeapTids(&vs, stats, callback, callback_state);
	if (vs.deleted.count > 0)
	{
		RepairGraph(&vs);
		ReconnectGraph(&vs);
		FindabilityPass(&vs);
		FreeDeleted(&vs);
		if (vs.raced > 0)
			ereport(DEBUG1,
					(errmsg_internal("hnsw index \"%s\": redid %lld repairs that raced an insert",
									 RelationGetRelationName(vs.index), (long long) vs.raced)));
	}
	else
		ReconnectIfGrown(&vs);
	UpdateMetaHints(&vs);

	MemoryContextDelete(vs.tmpCtx);
	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	return stats;
}

/*
 * amvacuumcleanup: report sizes.  bulkdelete did the work if it ran;
 * otherwise (no dead rows) the walk for elements inserts cut off is made
 * here.
 */
IndexBulkDeleteResult *
hnswvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	if (info->analyze_only)
		return stats;
	if (stats == NULL)
	{
		VacuumState vs;

		VacuumStateInit(&vs, info);
		ReconnectIfGrown(&vs);
		UpdateMetaHints(&vs);
		MemoryContextDelete(vs.tmpCtx);

		stats = palloc0(sizeof(IndexBulkDeleteResult));
		stats->num_index_tuples = info->num_heap_tuples;
		stats->estimated_count = true;
	}
	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	return stats;
}
