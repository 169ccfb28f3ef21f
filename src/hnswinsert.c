/*-------------------------------------------------------------------------
 *
 * hnswinsert.c
 *	  aminsert, and inserting one vector into the graph on disk (also used
 *	  by a build that outgrew maintenance_work_mem).
 *
 * An insert searches the graph like a scan does (ef_construction wide, on
 * every layer up to the new element's level), then makes three kinds of
 * change, each atomic on its own pages and WAL-logged on its own:
 *
 *	1. the new element and its neighbour tuple are written to a page (a slot
 *	   freed by vacuum, the last page, or a new one);
 *	2. each chosen neighbour gets a link back, pruned with the selection
 *	   heuristic when its list is full;
 *	3. the metapage's entry point moves up if the new element is higher.
 *
 * The order matters for crash safety: nothing links to the element before
 * it exists, so recovery at any point leaves a valid graph, at worst one
 * whose newest element has fewer back links.  Concurrent inserts and scans
 * only ever see whole tuples (buffer locks), and a link that goes stale
 * (its element freed by vacuum) is skipped by every reader.
 *
 * Lock order: metapage before data pages, and never two data pages at once
 * except the last page and its new successors (one, or two when an element
 * and its neighbour tuple cannot share a page).
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "hnsw.h"

/* How many pages an insert looks through for a slot freed by vacuum */
#define HNSW_FREE_SLOT_PAGES	8

/*
 * Fill an element tuple, the vector in its most compact exact format, which
 * HnswSetQueryBytes may already have found for dist's query
 * (HnswChooseQueryFormat)
 */
static void
FormElementTuple(HnswElementTuple etup, const HnswDistance *dist, Vector *value, int level,
				 ItemPointer heaptid, ItemPointer neighbortid)
{
	etup->type = HNSW_ELEMENT_TUPLE;
	etup->level = level;
	etup->deleted = 0;
	etup->unused = 0;
	for (int i = 0; i < HNSW_HEAPTIDS; i++)
		ItemPointerSetInvalid(&etup->heaptids[i]);
	etup->heaptids[0] = *heaptid;
	etup->neighbortid = *neighbortid;
	etup->unused2 = 0;
	HnswEncodeVector(value, HnswChooseQueryFormat(dist, value), &etup->data);
}

/* Fill a neighbour tuple from per-layer lists */
static void
FormNeighborTuple(HnswNeighborTuple ntup, int level, int m,
				  HnswCandidate ***selected, int *nselected)
{
	ntup->type = HNSW_NEIGHBOR_TUPLE;
	ntup->unused = 0;
	ntup->count = HnswSlotCount(level, m);
	for (int i = 0; i < ntup->count; i++)
		ItemPointerSetInvalid(&ntup->tids[i]);
	for (int layer = 0; layer <= level; layer++)
	{
		int			start = HnswLayerStart(layer, m);

		for (int i = 0; i < nselected[layer]; i++)
			ntup->tids[start + i] = selected[layer][i]->tid;
	}
}

/*
 * Try to put the element into a slot that vacuum freed: a free element tuple
 * at least as large (vectors of one dimension differ in size only by their
 * storage format) whose neighbour tuple, on the same page, has room for the
 * new level.  Looks at a few pages from the metapage's hint.
 */
static bool
AddToFreeSlot(Relation index, HnswMetaPageData *meta, HnswElementTuple etup,
			  HnswNeighborTuple ntup, bool building, ItemPointer result)
{
	BlockNumber blkno = meta->freeHint;
	BlockNumber firstWithFree = InvalidBlockNumber;
	Size		esize = HnswElementTupleSize(VARSIZE(&etup->data));

	for (int n = 0; n < HNSW_FREE_SLOT_PAGES && BlockNumberIsValid(blkno); n++)
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;
		OffsetNumber maxoff;
		BlockNumber next;

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		if (!HnswCheckPage(index, page, blkno))
		{
			/* An empty page left by a crash: nothing to reuse, no next link */
			UnlockReleaseBuffer(buf);
			blkno = InvalidBlockNumber;
			break;
		}
		maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			ItemId		eid = PageGetItemId(page, off);
			HnswElementTuple old = (HnswElementTuple) PageGetItem(page, eid);
			ItemId		nid;
			HnswNeighborTuple oldn;
			HnswEdit	edit;
			Page		wpage;
			OffsetNumber noff;

			if (!ItemIdIsNormal(eid) || old->type != HNSW_FREE_TUPLE)
				continue;
			/* Free but perhaps too small for this level: keep it for others */
			if (!BlockNumberIsValid(firstWithFree))
				firstWithFree = blkno;
			if (ItemIdGetLength(eid) < esize ||
				ItemPointerGetBlockNumber(&old->neighbortid) != blkno)
				continue;
			noff = ItemPointerGetOffsetNumber(&old->neighbortid);
			if (noff < FirstOffsetNumber || noff > maxoff)
				continue;
			nid = PageGetItemId(page, noff);
			oldn = (HnswNeighborTuple) PageGetItem(page, nid);
			if (!ItemIdIsNormal(nid) || oldn->type != HNSW_FREE_NEIGHBOR_TUPLE ||
				ItemIdGetLength(nid) < HNSW_NEIGHBOR_TUPLE_SIZE(etup->level, meta->m))
				continue;

			/* Reuse both; the neighbour tuple keeps its (larger) size */
			HnswEditStart(&edit, index, building);
			wpage = HnswEditPage(&edit, buf, false);
			etup->neighbortid = old->neighbortid;
			memcpy(PageGetItem(wpage, PageGetItemId(wpage, off)), etup, esize);
			{
				HnswNeighborTuple dst = (HnswNeighborTuple) PageGetItem(wpage, PageGetItemId(wpage, noff));
				int			capacity = (ItemIdGetLength(nid) - offsetof(HnswNeighborTupleData, tids)) /
					sizeof(ItemPointerData);
				int			count = ntup->count;

				memcpy(dst, ntup, offsetof(HnswNeighborTupleData, tids) +
					   sizeof(ItemPointerData) * count);
				for (int i = count; i < capacity; i++)
					ItemPointerSetInvalid(&dst->tids[i]);
			}
			HnswEditFinish(&edit);
			UnlockReleaseBuffer(buf);
			ItemPointerSet(result, blkno, off);
			return true;
		}
		next = HnswPageGetOpaque(page)->nextblkno;
		UnlockReleaseBuffer(buf);
		blkno = next;
	}

	/*
	 * Remember where to look next time (a hint: races are harmless): the
	 * first page seen with any free slot, else past the pages looked at.
	 */
	if (BlockNumberIsValid(firstWithFree))
		blkno = firstWithFree;
	if (blkno != meta->freeHint)
	{
		Buffer		mbuf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
		HnswEdit	edit;
		Page		mpage;

		LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
		HnswEditStart(&edit, index, building);
		mpage = HnswEditPage(&edit, mbuf, false);
		HnswPageGetMeta(mpage)->freeHint = blkno;
		HnswEditFinish(&edit);
		UnlockReleaseBuffer(mbuf);
		meta->freeHint = blkno;
	}
	return false;
}

/*
 * Append the element and its neighbour tuple to the last page, exclusively
 * locked, if both fit.  The page is changed in place and the bytes that
 * changed (page header, two line pointers, the two tuples) are logged by
 * HnswLogRanges, not found by comparing page copies as generic WAL would.
 * The checks before the critical section leave PageAddItem no reason to
 * fail inside it.
 */
static bool
AppendToPage(Relation index, Buffer buf, BlockNumber blkno, HnswElementTuple etup, Size esize,
			 HnswNeighborTuple ntup, Size nsize, bool building, ItemPointer result)
{
	Page		page = BufferGetPage(buf);
	PageHeader	phdr = (PageHeader) page;
	uint16		oldLower;
	uint16		oldUpper;
	uint16		offsets[3];
	uint16		lengths[3];
	OffsetNumber eoff;
	OffsetNumber noff;

	if (!HnswCheckPage(index, page, blkno))
		return false;
	if (phdr->pd_lower < SizeOfPageHeaderData || phdr->pd_lower > phdr->pd_upper ||
		phdr->pd_upper > phdr->pd_special || phdr->pd_special > BLCKSZ)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" contains a corrupted page at block %u",
						RelationGetRelationName(index), blkno),
				 errhint("Please REINDEX it.")));
	if (PageGetFreeSpace(page) < esize + nsize + sizeof(ItemIdData) ||
		PageGetMaxOffsetNumber(page) + 2 > MaxOffsetNumber)
		return false;

	oldLower = phdr->pd_lower;
	oldUpper = phdr->pd_upper;
	eoff = OffsetNumberNext(PageGetMaxOffsetNumber(page));
	noff = OffsetNumberNext(eoff);
	ItemPointerSet(&etup->neighbortid, blkno, noff);

	START_CRIT_SECTION();
	if (PageAddItem(page, (Item) etup, esize, eoff, false, false) != eoff ||
		PageAddItem(page, (Item) ntup, nsize, noff, false, false) != noff)
		elog(PANIC, "failed to add index item to \"%s\"", RelationGetRelationName(index));
	offsets[0] = 0;
	lengths[0] = SizeOfPageHeaderData;
	offsets[1] = oldLower;
	lengths[1] = phdr->pd_lower - oldLower;
	offsets[2] = phdr->pd_upper;
	lengths[2] = oldUpper - phdr->pd_upper;
	HnswLogRanges(index, buf, 3, offsets, lengths, building);
	END_CRIT_SECTION();

	ItemPointerSet(result, blkno, eoff);
	return true;
}

/*
 * Write a new element and its neighbour tuple, returning the element's TID.
 * Appends to the last page, or extends the index by a page (two if the
 * tuples do not fit together, as for vectors near the dimension limit).
 */
static void
AddElement(Relation index, HnswMetaPageData *meta, HnswElementTuple etup,
		   HnswNeighborTuple ntup, bool building, ItemPointer result)
{
	Size		esize = HnswElementTupleSize(VARSIZE(&etup->data));
	Size		nsize = HNSW_NEIGHBOR_TUPLE_SIZE(etup->level, meta->m);
	Buffer		mbuf;
	Buffer		lbuf;
	Page		mpage;
	Page		lpage = NULL;
	HnswEdit	edit;
	BlockNumber last;
	OffsetNumber eoff;
	OffsetNumber noff;

	if (BlockNumberIsValid(meta->freeHint) &&
		AddToFreeSlot(index, meta, etup, ntup, building, result))
		return;

	/* The metapage lock serialises appends */
	mbuf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
	last = HnswPageGetMeta(BufferGetPage(mbuf))->insertPage;

	if (BlockNumberIsValid(last))
	{
		lbuf = ReadBuffer(index, last);
		LockBuffer(lbuf, BUFFER_LOCK_EXCLUSIVE);
		if (AppendToPage(index, lbuf, last, etup, esize, ntup, nsize, building, result))
		{
			UnlockReleaseBuffer(lbuf);
			UnlockReleaseBuffer(mbuf);
			return;
		}
	}
	else
		lbuf = InvalidBuffer;

	HnswEditStart(&edit, index, building);
	mpage = HnswEditPage(&edit, mbuf, false);
	if (BufferIsValid(lbuf))
		lpage = HnswEditPage(&edit, lbuf, false);

	/* Start a new page, linked from the last one */
	{
		Buffer		nbuf = HnswNewBuffer(index, MAIN_FORKNUM);
		BlockNumber nblkno = BufferGetBlockNumber(nbuf);
		Page		npage = HnswEditPage(&edit, nbuf, true);
		Buffer		xbuf = InvalidBuffer;
		Page		xpage = NULL;

		HnswInitPage(npage, BufferGetPageSize(nbuf));
		if (BufferIsValid(lbuf))
			HnswPageGetOpaque(lpage)->nextblkno = nblkno;

		if (PageGetFreeSpace(npage) >= esize + nsize + sizeof(ItemIdData))
		{
			ItemPointerSet(&etup->neighbortid, nblkno, FirstOffsetNumber + 1);
			eoff = PageAddItem(npage, (Item) etup, esize, InvalidOffsetNumber, false, false);
			noff = PageAddItem(npage, (Item) ntup, nsize, InvalidOffsetNumber, false, false);
			HnswPageGetMeta(mpage)->insertPage = nblkno;
		}
		else
		{
			/* Too big to share a page: the neighbour tuple gets its own */
			xbuf = HnswNewBuffer(index, MAIN_FORKNUM);
			xpage = HnswEditPage(&edit, xbuf, true);
			HnswInitPage(xpage, BufferGetPageSize(xbuf));
			HnswPageGetOpaque(npage)->nextblkno = BufferGetBlockNumber(xbuf);
			ItemPointerSet(&etup->neighbortid, BufferGetBlockNumber(xbuf), FirstOffsetNumber);
			eoff = PageAddItem(npage, (Item) etup, esize, InvalidOffsetNumber, false, false);
			noff = PageAddItem(xpage, (Item) ntup, nsize, InvalidOffsetNumber, false, false);
			HnswPageGetMeta(mpage)->insertPage = BufferGetBlockNumber(xbuf);
		}
		if (eoff == InvalidOffsetNumber || noff != ItemPointerGetOffsetNumber(&etup->neighbortid))
			elog(ERROR, "failed to add index item to \"%s\"", RelationGetRelationName(index));

		HnswEditFinish(&edit);
		if (BufferIsValid(xbuf))
			UnlockReleaseBuffer(xbuf);
		UnlockReleaseBuffer(nbuf);
		if (BufferIsValid(lbuf))
			UnlockReleaseBuffer(lbuf);
		UnlockReleaseBuffer(mbuf);
		ItemPointerSet(result, nblkno, eoff);
		meta->insertPage = nblkno;
	}
}

/*
 * Replace one layer of a neighbour tuple with `tids` (slots entries), but
 * only if it still holds `expected`: a concurrent change wins, since losing
 * one back link costs a little recall and nothing else.  Only the run of
 * slots that differ is written, and logged by HnswLogRanges.  Returns false
 * if the layer no longer held `expected` (a vacuum's repair then starts
 * over, RepairLayer).
 */
bool
HnswWriteLayer(Relation index, ItemPointer ntid, int layer, int m,
		   ItemPointerData *expected, ItemPointerData *tids, bool building)
{
	Buffer		buf = HnswPinBlock(index, ItemPointerGetBlockNumber(ntid));
	OffsetNumber off = ItemPointerGetOffsetNumber(ntid);
	int			start = HnswLayerStart(layer, m);
	int			slots = HnswLayerSlots(layer, m);
	Page		page;
	bool		held = false;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(buf);
	if (off >= FirstOffsetNumber && off <= PageGetMaxOffsetNumber(page))
	{
		ItemId		itemid = PageGetItemId(page, off);
		HnswNeighborTuple ntup = (HnswNeighborTuple) PageGetItem(page, itemid);

		if (ItemIdIsNormal(itemid) && ntup->type == HNSW_NEIGHBOR_TUPLE &&
			start + slots <= ntup->count &&
			memcmp(&ntup->tids[start], expected, sizeof(ItemPointerData) * slots) == 0)
		{
			int			lo = 0;
			int			hi = slots;
			uint16		offset;
			uint16		length;

			held = true;

			/* Only the slots that change are written and logged */
			while (lo < hi && ItemPointerEquals(&expected[lo], &tids[lo]))
				lo++;
			while (hi > lo && ItemPointerEquals(&expected[hi - 1], &tids[hi - 1]))
				hi--;
			if (lo < hi)
			{
				offset = (char *) &ntup->tids[start + lo] - (char *) page;
				length = sizeof(ItemPointerData) * (hi - lo);
				START_CRIT_SECTION();
				memcpy(&ntup->tids[start + lo], &tids[lo], length);
				HnswLogRanges(index, buf, 1, &offset, &length, building);
				END_CRIT_SECTION();
			}
		}
	}
	UnlockReleaseBuffer(buf);
	return held;
}

/* Sort candidates nearest first (lists are short: insertion sort) */
void
HnswSortCandidates(HnswCandidate **cands, int n)
{
	for (int i = 1; i < n; i++)
	{
		HnswCandidate *c = cands[i];
		int			j = i - 1;

		while (j >= 0 && cands[j]->distance > c->distance)
		{
			cands[j + 1] = cands[j];
			j--;
		}
		cands[j + 1] = c;
	}
}

/*
 * Give neighbour `n` a link back to the new element on `layer`: into a free
 * slot if there is one, else by re-running the selection heuristic over its
 * current links plus the new element.
 */
void
HnswAddBackLink(Relation index, const HnswDistance *dist, HnswCandidate *n, int layer, int m,
			ItemPointer newtid, Vector *newvec, bool building)
{
	int			slots = HnswLayerSlots(layer, m);
	ItemPointerData *current = palloc(sizeof(ItemPointerData) * slots);
	ItemPointerData *updated = palloc(sizeof(ItemPointerData) * slots);
	HnswCandidate **cands;
	HnswCandidate **selected;
	int			ncands = 0;
	int			nselected;
	int			free = -1;

	if (HnswReadLayer(index, &n->neighbortid, layer, m, current) != slots)
		return;
	for (int i = 0; i < slots; i++)
	{
		if (ItemPointerEquals(&current[i], newtid))
			return;				/* already linked */
		if (!ItemPointerIsValid(&current[i]) && free < 0)
			free = i;
	}

	memcpy(updated, current, sizeof(ItemPointerData) * slots);
	if (free >= 0)
	{
		updated[free] = *newtid;
		HnswWriteLayer(index, &n->neighbortid, layer, m, current, updated, building);
		return;
	}

	/* Full: keep the best spread of the current links and the new one */
	cands = palloc(sizeof(HnswCandidate *) * (slots + 1));
	selected = palloc(sizeof(HnswCandidate *) * slots);
	for (int i = 0; i < slots; i++)
	{
		HnswCandidate *c = palloc(sizeof(HnswCandidate));

		if (HnswLoadCandidate(index, dist, n->vec, &current[i], true, c))
			cands[ncands++] = c;
	}
	{
		HnswCandidate *c = palloc0(sizeof(HnswCandidate));

		c->tid = *newtid;
		c->vec = newvec;
		c->distance = HnswTraversalDistance(dist, n->vec, newvec);
		cands[ncands++] = c;
	}
	HnswSortCandidates(cands, ncands);
	nselected = HnswSelectNeighbors(dist, cands, ncands, slots, selected);
	for (int i = 0; i < slots; i++)
	{
		if (i < nselected)
			updated[i] = selected[i]->tid;
		else
			ItemPointerSetInvalid(&updated[i]);
	}
	HnswWriteLayer(index, &n->neighbortid, layer, m, current, updated, building);

	/* An insert prunes up to m lists of 2 * m: give the copies back */
	for (int i = 0; i < ncands; i++)
	{
		if (cands[i]->vec != NULL && cands[i]->vec != newvec)
			pfree(cands[i]->vec);
		pfree(cands[i]);
	}
	pfree(cands);
	pfree(selected);
	pfree(current);
	pfree(updated);
}

/*
 * If an identical, live vector is already indexed with room for another heap
 * TID, add the TID to it and return true.  `stored` is the value's stored
 * copy, which equals the element's byte for byte when the vectors are equal.
 */
static bool
AddToDuplicate(Relation index, HnswCandidate *c, Vector *value, const Vector *stored,
			   ItemPointer heaptid, bool building)
{
	Buffer		buf;
	Page		page;
	OffsetNumber off = ItemPointerGetOffsetNumber(&c->tid);
	bool		done = false;

	if (c->nheaptids >= HNSW_HEAPTIDS || c->deleted || c->vec == NULL ||
		VARSIZE(c->vec) != VARSIZE(value) ||
		memcmp(c->vec->x, value->x, sizeof(float) * value->dim) != 0)
		return false;

	buf = HnswPinBlock(index, ItemPointerGetBlockNumber(&c->tid));
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(buf);
	if (off <= PageGetMaxOffsetNumber(page))
	{
		ItemId		itemid = PageGetItemId(page, off);
		HnswElementTuple etup = (HnswElementTuple) PageGetItem(page, itemid);

		if (ItemIdIsNormal(itemid) && etup->type == HNSW_ELEMENT_TUPLE && !etup->deleted &&
			VARSIZE(&etup->data) == VARSIZE(stored) &&
			memcmp(&etup->data, stored, VARSIZE(stored)) == 0)
		{
			for (int i = 0; i < HNSW_HEAPTIDS; i++)
			{
				if (!ItemPointerIsValid(&etup->heaptids[i]))
				{
					uint16		offset = (char *) &etup->heaptids[i] - (char *) page;
					uint16		length = sizeof(ItemPointerData);

					START_CRIT_SECTION();
					etup->heaptids[i] = *heaptid;
					HnswLogRanges(index, buf, 1, &offset, &length, building);
					END_CRIT_SECTION();
					done = true;
					break;
				}
			}
		}
	}
	UnlockReleaseBuffer(buf);
	return done;
}

/* Move the entry point to the new element if it is higher than the current */
static void
UpdateEntryPoint(Relation index, ItemPointer tid, int level, bool building)
{
	Buffer		mbuf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	HnswMetaPage meta;

	LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
	meta = HnswPageGetMeta(BufferGetPage(mbuf));
	if (level > meta->entryLevel || !BlockNumberIsValid(meta->entryBlkno))
	{
		HnswEdit	edit;
		Page		wpage;

		HnswEditStart(&edit, index, building);
		wpage = HnswEditPage(&edit, mbuf, false);
		meta = HnswPageGetMeta(wpage);
		meta->entryBlkno = ItemPointerGetBlockNumber(tid);
		meta->entryOffno = ItemPointerGetOffsetNumber(tid);
		meta->entryLevel = level;
		HnswEditFinish(&edit);
	}
	UnlockReleaseBuffer(mbuf);
}

/*
 * Insert one vector into the graph on disk.  `building` skips WAL: the
 * build logs every page at its end.
 */
void
HnswInsertOnDisk(Relation index, HnswDistance *dist, Vector *value,
				 ItemPointer heaptid, bool building)
{
	HnswMetaPageData meta;
	int			m;
	int			efc;
	int			level;
	int			top;
	HnswCandidate **selected[HNSW_MAX_LEVEL + 1];
	int			nselected[HNSW_MAX_LEVEL + 1];
	HnswElementTuple etup;
	HnswNeighborTuple ntup;
	ItemPointerData newtid;
	HnswHeap	candidates;
	HnswHeap	results;
	HnswCandidate *entry;
	ItemPointerData entrytid;

	LOCKMODE	lockmode = ShareLock;

	HnswSetQueryBytes(dist, value);

	/*
	 * Inserts run concurrently under a share lock; one that may move the
	 * entry point (a higher level, or the first element) runs alone.
	 */
	LockPage(index, HNSW_UPDATE_LOCK, lockmode);
	HnswReadMeta(index, &meta);
	m = meta.m;
	level = HnswElementLevel(value, heaptid, m);
	if (level > meta.entryLevel)
	{
		UnlockPage(index, HNSW_UPDATE_LOCK, lockmode);
		lockmode = ExclusiveLock;
		LockPage(index, HNSW_UPDATE_LOCK, lockmode);
		HnswReadMeta(index, &meta);
	}
	if (meta.dimensions != (uint32) value->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %u dimensions, not %d", meta.dimensions, value->dim)));
	efc = meta.efConstruction;
	top = Min(level, meta.entryLevel);

	etup = palloc0(HNSW_ELEMENT_TUPLE_SIZE(value->dim));
	ntup = palloc0(HNSW_NEIGHBOR_TUPLE_SIZE(level, m));
	{
		ItemPointerData none;

		ItemPointerSetInvalid(&none);
		FormElementTuple(etup, dist, value, level, heaptid, &none);
	}
	for (int l = 0; l <= level; l++)
		nselected[l] = 0;

	if (BlockNumberIsValid(meta.entryBlkno))
	{
		HnswHeapInit(&candidates, efc * 2, false);
		HnswHeapInit(&results, efc + 1, true);

		entry = palloc(sizeof(HnswCandidate));
		ItemPointerSet(&entrytid, meta.entryBlkno, meta.entryOffno);
		if (!HnswLoadCandidate(index, dist, value, &entrytid, true, entry))
			elog(ERROR, "hnsw index \"%s\" has no valid entry point",
				 RelationGetRelationName(index));
		HnswHeapPush(&candidates, entry);
		HnswHeapPush(&results, entry);

		for (int layer = meta.entryLevel; layer >= 0; layer--)
		{
			int			ef = layer > level ? 1 : efc;
			HnswCandidate **sorted;
			int			nsorted;

			/*
			 * Each layer is searched afresh from the seeds above it.  The
			 * visited set starts small (about 5 * ef_construction elements
			 * are visited on layer 0 of Fashion-MNIST: 330 at the defaults),
			 * or at what the index's recent descents visited, and grows if
			 * needed; sized for m * ef_construction, its zeroing cost more
			 * than the search's own use of it.
			 */
			sorted = HnswDescendLayer(index, dist, value, &candidates, &results, ef, layer, m,
									  false, layer == 0 ? efc * 8 : 64, &nsorted);

			for (int i = 0; layer == 0 && i < nsorted; i++)
			{
				if (AddToDuplicate(index, sorted[i], value, &etup->data, heaptid, building))
				{
					UnlockPage(index, HNSW_UPDATE_LOCK, lockmode);
					return;
				}
			}

			if (layer <= top)
			{
				selected[layer] = palloc(sizeof(HnswCandidate *) * m);
				nselected[layer] = HnswSelectNeighbors(dist, sorted, nsorted, m,
													   selected[layer]);
			}
		}
	}

	/* 1: the element itself */
	FormNeighborTuple(ntup, level, m, selected, nselected);
	AddElement(index, &meta, etup, ntup, building, &newtid);

	/* 2: links back to it */
	for (int layer = 0; layer <= top; layer++)
	{
		for (int i = 0; i < nselected[layer]; i++)
			HnswAddBackLink(index, dist, selected[layer][i], layer, m, &newtid, value, building);
	}

	/* 3: the entry point */
	if (level > meta.entryLevel || !BlockNumberIsValid(meta.entryBlkno))
		UpdateEntryPoint(index, &newtid, level, building);
	UnlockPage(index, HNSW_UPDATE_LOCK, lockmode);
}

/*
 * For an UPDATE that left the indexed vector unchanged (a new heap version,
 * say, because other columns changed): find the element that already holds
 * this vector with a narrow search, and add the new heap TID to it.  True
 * if that worked; false sends the caller to a full insert.
 *
 * The old version's element is almost always there (vacuum has not removed
 * its TID yet), and a search for a vector that is in the graph finds it
 * with a small ef, so most such updates cost a fraction of an insert: no
 * back links, no neighbour pages written.  The search stops once it reaches
 * an element holding the vector (untilQuery), about half the work of
 * letting it settle; only if that element cannot take the TID (it has no
 * free slot, say, after many updates without a vacuum) is the full narrow
 * search made, which may find a duplicate that can.
 */
static bool
InsertUnchanged(Relation index, HnswDistance *dist, Vector *value, ItemPointer heaptid)
{
	HnswMetaPageData meta;
	HnswHeap	candidates;
	HnswHeap	results;
	HnswCandidate *entry;
	ItemPointerData entrytid;
	HnswElementTuple etup;
	bool		done = false;
	bool		matched = false;

	HnswSetQueryBytes(dist, value);
	LockPage(index, HNSW_UPDATE_LOCK, ShareLock);
	HnswReadMeta(index, &meta);
	if (!BlockNumberIsValid(meta.entryBlkno) || meta.dimensions != (uint32) value->dim)
	{
		UnlockPage(index, HNSW_UPDATE_LOCK, ShareLock);
		return false;
	}

	/* The stored form, which an identical element matches byte for byte */
	etup = palloc0(HNSW_ELEMENT_TUPLE_SIZE(value->dim));
	HnswEncodeVector(value, HnswChooseQueryFormat(dist, value), &etup->data);

	HnswHeapInit(&candidates, HNSW_UNCHANGED_EF * 2, false);
	HnswHeapInit(&results, HNSW_UNCHANGED_EF + 1, true);
	ItemPointerSet(&entrytid, meta.entryBlkno, meta.entryOffno);
	for (int attempt = 0; attempt < 2 && !done && !(attempt > 0 && !matched); attempt++)
	{
		bool		untilQuery = attempt == 0;

		candidates.count = 0;
		results.count = 0;
		entry = palloc(sizeof(HnswCandidate));
		if (!HnswLoadCandidate(index, dist, value, &entrytid, true, entry))
			break;
		HnswHeapPush(&candidates, entry);
		HnswHeapPush(&results, entry);
		for (int layer = meta.entryLevel; layer >= 0 && !done; layer--)
		{
			int			nsorted;
			HnswCandidate **sorted;

			sorted = HnswDescendLayer(index, dist, value, &candidates, &results,
									  layer > 0 ? 1 : HNSW_UNCHANGED_EF, layer, meta.m, untilQuery,
									  layer == 0 ? HNSW_UNCHANGED_EF * 8 : 64, &nsorted);
			for (int i = 0; layer == 0 && i < nsorted && !done; i++)
			{
				done = AddToDuplicate(index, sorted[i], value, &etup->data, heaptid, false);
				matched |= sorted[i]->vec != NULL && !sorted[i]->deleted &&
					VARSIZE(sorted[i]->vec) == VARSIZE(value) &&
					memcmp(sorted[i]->vec->x, value->x, sizeof(float) * value->dim) == 0;
			}
		}
	}
	UnlockPage(index, HNSW_UPDATE_LOCK, ShareLock);
	return done;
}

/*
 * Memory of one insert, kept for the backend's life and reset after each
 * row.  A fresh context per row grew block by block to 0.5-1 MB at 128
 * dimensions (the search's candidate copies, the prunes of full neighbour
 * lists), so every row paid malloc and free of growing blocks and the page
 * faults of fresh ones.  The first block, which a reset keeps, now holds
 * much of an insert, and the rest comes in few, large blocks.
 */
static MemoryContext InsertCxt = NULL;
static bool InsertCxtBusy = false;

#define HNSW_INSERT_CXT_BLOCK	(256 * 1024)

/*
 * aminsert: index one new heap tuple, or list it for a batch's parallel
 * apply (hnswdefer.c).  Work happens in InsertCxt so
 * nothing accumulates across the rows of a statement; an insert nested in
 * another (through an opclass's SQL support function, say) gets a context
 * of its own instead.
 */
bool
hnswinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
		   Relation heap, IndexUniqueCheck checkUnique, bool indexUnchanged,
		   IndexInfo *indexInfo)
{
	MemoryContext tmp;
	MemoryContext old;
	HnswDistance dist;
	Vector	   *value;
	bool		nested = InsertCxtBusy;

	if (isnull[0])
		return false;

	if (nested)
		tmp = AllocSetContextCreate(CurrentMemoryContext, "hnsw nested insert",
									ALLOCSET_DEFAULT_SIZES);
	else
	{
		if (InsertCxt == NULL)
			InsertCxt = AllocSetContextCreate(TopMemoryContext, "hnsw insert",
											  HNSW_INSERT_CXT_BLOCK, HNSW_INSERT_CXT_BLOCK,
											  4 * HNSW_INSERT_CXT_BLOCK);
		tmp = InsertCxt;
		InsertCxtBusy = true;
	}
	old = MemoryContextSwitchTo(tmp);
	PG_TRY();
	{
		HnswInitLinkDistance(index, &dist);
		if (!HnswPrepareValue(&dist, values[0], &value))
			 /* nothing to index */ ;
		else if (indexUnchanged && InsertUnchanged(index, &dist, value, heap_tid))
			 /* the element of the old version took the new TID */ ;
		else if (!HnswDeferInsert(index, heap, value, heap_tid))
			HnswInsertOnDisk(index, &dist, value, heap_tid, false);
	}
	PG_FINALLY();
	{
		MemoryContextSwitchTo(old);
		if (nested)
			MemoryContextDelete(tmp);
		else
		{
			MemoryContextReset(tmp);
			InsertCxtBusy = false;
		}
	}
	PG_END_TRY();
	return false;
}
