/*-------------------------------------------------------------------------
 *
 * hnswcheck.c
 *	  hnsw_index_check(): walk an hnsw index and report structural
 *	  violations, in the spirit of amcheck's bt_index_check.
 *
 * It reports, one row each: pages that are not ours, a metapage with the
 * wrong magic number or version, tuples of unknown type, an element whose
 * neighbour tuple is missing or too small, a link that points at something
 * other than a live element, a link on a layer above the linked element's
 * level, an entry point that is missing or not at the highest level, a heap
 * TID that is not in the table, and, with heapallindexed, a visible row
 * whose vector is not in the index; and, with reachable, a live element
 * that no search can reach from the entry point (hnswreach.c).  That last
 * one is not corruption: a crash between writing an element and linking it
 * in leaves one, and the next VACUUM that removes anything links such
 * elements back in; but a search never returns it, so it is worth knowing.
 * An empty result means the index is sound.  The check takes the same lock
 * as a scan and changes nothing; run it on a table without concurrent
 * writes, since rows changing under it can be reported as missing.
 *
 * hnsw_index_findability() measures a quality rather than soundness: of a
 * sample of live elements, how many a search for their own vector misses.
 * A sound index can miss whole clusters (hnswvacuum.c, pass 2c).
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "hnsw.h"

typedef struct CheckState
{
	Relation	index;
	Relation	heap;
	Tuplestorestate *store;
	TupleDesc	desc;
	HnswVisited elements;		/* live element TIDs */
	HnswVisited heaptids;		/* heap TIDs in the index */
	ItemPointerData *live;		/* live element TIDs, in page order (reachable) */
	int64		nlive;
	int64		liveSize;
	int64		problems;
} CheckState;

/* Report one violation */
static void
Report(CheckState *cs, BlockNumber blkno, OffsetNumber offno, const char *fmt,...)
	pg_attribute_printf(4, 5);

static void
Report(CheckState *cs, BlockNumber blkno, OffsetNumber offno, const char *fmt,...)
{
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	StringInfoData buf;
	va_list		args;

	initStringInfo(&buf);
	for (;;)
	{
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&buf, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	values[0] = Int64GetDatum(blkno);
	values[1] = Int32GetDatum(offno);
	values[2] = CStringGetTextDatum(buf.data);
	if (!BlockNumberIsValid(blkno))
		nulls[0] = nulls[1] = true;
	tuplestore_putvalues(cs->store, cs->desc, values, nulls);
	cs->problems++;
}

/* Whether a page passes the checks a reader makes */
static bool
PageIsOurs(Page page)
{
	return !PageIsNew(page) &&
		PageGetSpecialSize(page) == MAXALIGN(sizeof(HnswPageOpaqueData)) &&
		HnswPageGetOpaque(page)->page_id == HNSW_PAGE_ID;
}

/* Read the element tuple at tid into etup (header only); false if none */
static bool
ReadElement(Relation index, ItemPointer tid, HnswElementTupleData *etup, bool *isFree)
{
	BlockNumber blkno = ItemPointerGetBlockNumber(tid);
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);
	Buffer		buf;
	Page		page;
	bool		found = false;

	*isFree = false;
	if (blkno == HNSW_METAPAGE_BLKNO || blkno >= RelationGetNumberOfBlocks(index))
		return false;
	buf = ReadBuffer(index, blkno);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (PageIsOurs(page) && off >= FirstOffsetNumber && off <= PageGetMaxOffsetNumber(page))
	{
		ItemId		itemid = PageGetItemId(page, off);
		HnswElementTuple e = (HnswElementTuple) PageGetItem(page, itemid);

		if (ItemIdIsNormal(itemid) && e->type == HNSW_ELEMENT_TUPLE)
		{
			memcpy(etup, e, offsetof(HnswElementTupleData, data));
			found = true;
		}
		else if (ItemIdIsNormal(itemid) && e->type == HNSW_FREE_TUPLE)
			*isFree = true;
	}
	UnlockReleaseBuffer(buf);
	return found;
}

/*
 * Whether a heap TID may legitimately be in the index: its line pointer
 * exists and is in use.  Dead and redirected line pointers count, since only
 * VACUUM, which cleans the index first, sets them unused.
 */
static bool
HeapTidPresent(Relation heap, ItemPointer tid)
{
	BlockNumber blkno = ItemPointerGetBlockNumber(tid);
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);
	Buffer		buf;
	Page		page;
	bool		present = false;

	if (blkno >= RelationGetNumberOfBlocks(heap))
		return false;
	buf = ReadBuffer(heap, blkno);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (!PageIsNew(page) && off >= FirstOffsetNumber && off <= PageGetMaxOffsetNumber(page))
		present = ItemIdIsUsed(PageGetItemId(page, off));
	UnlockReleaseBuffer(buf);
	return present;
}

/* Check one element: its neighbour tuple, its links and its heap TIDs */
static void
CheckElement(CheckState *cs, HnswMetaPageData *meta, BlockNumber blkno, OffsetNumber off,
			 HnswElementTuple etup)
{
	Relation	index = cs->index;
	ItemPointerData ntid = etup->neighbortid;
	Buffer		buf;
	Page		page;
	int			m = meta->m;
	int			count = -1;
	ItemPointerData *tids = palloc(sizeof(ItemPointerData) * HnswSlotCount(etup->level, m));

	if (etup->data.dim != (int) meta->dimensions)
		Report(cs, blkno, off, "element has %d dimensions, index has %u",
			   etup->data.dim, meta->dimensions);
	else
	{
		HnswVectorBuf vbuf;

		if (HnswStoredVector(&etup->data, &vbuf) == NULL)
			Report(cs, blkno, off, "element's vector has storage format %d and %u bytes, which do not match",
				   etup->data.unused, (uint32) VARSIZE(&etup->data));
	}

	/* Its neighbour tuple */
	if (!ItemPointerIsValid(&ntid) || ItemPointerGetBlockNumber(&ntid) == HNSW_METAPAGE_BLKNO ||
		ItemPointerGetBlockNumber(&ntid) >= RelationGetNumberOfBlocks(index))
		Report(cs, blkno, off, "element's neighbour tuple (%u,%u) does not exist",
			   ItemPointerGetBlockNumberNoCheck(&ntid), ItemPointerGetOffsetNumberNoCheck(&ntid));
	else
	{
		buf = ReadBuffer(index, ItemPointerGetBlockNumber(&ntid));
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (PageIsOurs(page) && ItemPointerGetOffsetNumber(&ntid) <= PageGetMaxOffsetNumber(page))
		{
			ItemId		itemid = PageGetItemId(page, ItemPointerGetOffsetNumber(&ntid));
			HnswNeighborTuple ntup = (HnswNeighborTuple) PageGetItem(page, itemid);

			if (ItemIdIsNormal(itemid) && ntup->type == HNSW_NEIGHBOR_TUPLE &&
				ntup->count >= HnswSlotCount(etup->level, m))
			{
				count = HnswSlotCount(etup->level, m);
				memcpy(tids, ntup->tids, sizeof(ItemPointerData) * count);
			}
		}
		UnlockReleaseBuffer(buf);
		if (count < 0)
			Report(cs, blkno, off, "element's neighbour tuple (%u,%u) is missing or too small for level %d",
				   ItemPointerGetBlockNumber(&ntid), ItemPointerGetOffsetNumber(&ntid), etup->level);
	}

	/* Its links; a deleted element is unreachable, its links no longer matter */
	for (int layer = 0; count >= 0 && !etup->deleted && layer <= etup->level; layer++)
	{
		int			start = HnswLayerStart(layer, m);

		for (int i = 0; i < HnswLayerSlots(layer, m); i++)
		{
			ItemPointer t = &tids[start + i];
			HnswElementTupleData other;
			bool		isFree;

			if (!ItemPointerIsValid(t))
				continue;
			if (!ReadElement(index, t, &other, &isFree))
				Report(cs, blkno, off, "link on layer %d points at (%u,%u), which is %s",
					   layer, ItemPointerGetBlockNumber(t), ItemPointerGetOffsetNumber(t),
					   isFree ? "a freed element" : "not an element");
			else if (other.level < layer)
				Report(cs, blkno, off, "link on layer %d points at (%u,%u), whose level is %d",
					   layer, ItemPointerGetBlockNumber(t), ItemPointerGetOffsetNumber(t),
					   other.level);
		}
	}

	/* Its heap TIDs */
	for (int i = 0; i < HNSW_HEAPTIDS && ItemPointerIsValid(&etup->heaptids[i]); i++)
	{
		ItemPointer h = &etup->heaptids[i];

		HnswVisitedAdd(&cs->heaptids, h);
		if (!HeapTidPresent(cs->heap, h))
			Report(cs, blkno, off, "heap TID (%u,%u) is not in table \"%s\"",
				   ItemPointerGetBlockNumber(h), ItemPointerGetOffsetNumber(h),
				   RelationGetRelationName(cs->heap));
	}
	pfree(tids);
}

/* Heap scan callback of the heapallindexed check */
static void
HeapAllIndexedCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
					   bool tupleIsAlive, void *state)
{
	CheckState *cs = (CheckState *) state;
	HnswDistance dist;
	Vector	   *value;

	if (isnull[0] || !tupleIsAlive)
		return;
	HnswInitDistance(index, &dist);
	if (!HnswPrepareValue(&dist, values[0], &value))
		return;
	if (!HnswVisitedContains(&cs->heaptids, tid))
		Report(cs, InvalidBlockNumber, InvalidOffsetNumber,
			   "row (%u,%u) of table \"%s\" is not in the index",
			   ItemPointerGetBlockNumber(tid), ItemPointerGetOffsetNumber(tid),
			   RelationGetRelationName(cs->heap));
}

VECTORPG_FUNCTION(hnsw_index_check);

/*
 * SQL: hnsw_index_check(index regclass, heapallindexed boolean, reachable
 * boolean) returns (blkno, offno, problem) rows, none for a sound index.
 */
Datum
hnsw_index_check(PG_FUNCTION_ARGS)
{
	Oid			indexoid = PG_GETARG_OID(0);
	bool		heapallindexed = PG_GETARG_BOOL(1);
	bool		reachable = PG_GETARG_BOOL(2);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	CheckState	cs;
	Oid			heapoid;
	HnswMetaPageData meta;
	Buffer		mbuf;
	Page		mpage;
	BlockNumber nblocks;
	int			maxLevel = -1;
	ItemPointerData entry;

	InitMaterializedSRF(fcinfo, 0);
	memset(&cs, 0, sizeof(cs));
	cs.store = rsinfo->setResult;
	cs.desc = rsinfo->setDesc;

	heapoid = IndexGetRelation(indexoid, true);
	if (!OidIsValid(heapoid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an index", get_rel_name(indexoid) ? get_rel_name(indexoid) : "?")));
	cs.heap = table_open(heapoid, AccessShareLock);
	cs.index = index_open(indexoid, AccessShareLock);
	if (cs.index->rd_indam->ambuild != hnswbuild)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an hnsw index", RelationGetRelationName(cs.index))));

	/* Metapage */
	mbuf = ReadBuffer(cs.index, HNSW_METAPAGE_BLKNO);
	LockBuffer(mbuf, BUFFER_LOCK_SHARE);
	mpage = BufferGetPage(mbuf);
	if (!PageIsOurs(mpage) || HnswPageGetMeta(mpage)->magicNumber != HNSW_MAGIC_NUMBER ||
		HnswPageGetMeta(mpage)->version != HNSW_VERSION)
	{
		UnlockReleaseBuffer(mbuf);
		Report(&cs, HNSW_METAPAGE_BLKNO, InvalidOffsetNumber,
			   "metapage has the wrong page id, magic number or version");
		index_close(cs.index, AccessShareLock);
		table_close(cs.heap, AccessShareLock);
		return (Datum) 0;
	}
	memcpy(&meta, HnswPageGetMeta(mpage), sizeof(meta));
	UnlockReleaseBuffer(mbuf);

	HnswVisitedInit(&cs.elements, 1024);
	HnswVisitedInit(&cs.heaptids, 1024);
	cs.liveSize = 1024;
	cs.live = palloc(sizeof(ItemPointerData) * cs.liveSize);

	/* Every page, every tuple */
	nblocks = RelationGetNumberOfBlocks(cs.index);
	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf = ReadBuffer(cs.index, blkno);
		Page		page;
		OffsetNumber maxoff;
		char	   *copy;

		CHECK_FOR_INTERRUPTS();
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (PageIsNew(page))
		{
			/* Left by a crash after extending the index: empty, harmless */
			UnlockReleaseBuffer(buf);
			continue;
		}
		if (!PageIsOurs(page))
		{
			UnlockReleaseBuffer(buf);
			Report(&cs, blkno, InvalidOffsetNumber, "page is not an hnsw data page");
			continue;
		}
		/* Work on a copy so that other pages can be read meanwhile */
		copy = palloc(BLCKSZ);
		memcpy(copy, page, BLCKSZ);
		UnlockReleaseBuffer(buf);
		page = (Page) copy;

		maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			ItemId		itemid = PageGetItemId(page, off);
			HnswElementTuple etup = (HnswElementTuple) PageGetItem(page, itemid);

			if (!ItemIdIsNormal(itemid))
				continue;
			if (etup->type == HNSW_ELEMENT_TUPLE)
			{
				ItemPointerData tid;

				ItemPointerSet(&tid, blkno, off);
				HnswVisitedAdd(&cs.elements, &tid);
				if (reachable && !etup->deleted)
				{
					if (cs.nlive == cs.liveSize)
					{
						cs.liveSize *= 2;
						cs.live = repalloc_huge(cs.live, sizeof(ItemPointerData) * cs.liveSize);
					}
					cs.live[cs.nlive++] = tid;
				}
				if (!etup->deleted && etup->level > maxLevel)
					maxLevel = etup->level;
				if (ItemIdGetLength(itemid) < offsetof(HnswElementTupleData, data) + offsetof(Vector, x) ||
					ItemIdGetLength(itemid) < offsetof(HnswElementTupleData, data) + VARSIZE(&etup->data))
					Report(&cs, blkno, off, "element tuple of %u bytes is shorter than its vector",
						   ItemIdGetLength(itemid));
				else
					CheckElement(&cs, &meta, blkno, off, etup);
			}
			else if (etup->type != HNSW_NEIGHBOR_TUPLE && etup->type != HNSW_FREE_TUPLE &&
					 etup->type != HNSW_FREE_NEIGHBOR_TUPLE)
				Report(&cs, blkno, off, "tuple has unknown type %d", etup->type);
		}
		pfree(copy);
	}

	/* The entry point */
	ItemPointerSet(&entry, meta.entryBlkno, meta.entryOffno);
	if (BlockNumberIsValid(meta.entryBlkno))
	{
		HnswElementTupleData e;
		bool		isFree;

		if (!ReadElement(cs.index, &entry, &e, &isFree))
			Report(&cs, HNSW_METAPAGE_BLKNO, InvalidOffsetNumber,
				   "entry point (%u,%u) is not an element", meta.entryBlkno, meta.entryOffno);
		else if (e.level != meta.entryLevel)
			Report(&cs, HNSW_METAPAGE_BLKNO, InvalidOffsetNumber,
				   "entry point has level %d, metapage says %d", e.level, meta.entryLevel);
		if (maxLevel > meta.entryLevel)
			Report(&cs, HNSW_METAPAGE_BLKNO, InvalidOffsetNumber,
				   "entry point level %d is below the highest element level %d",
				   meta.entryLevel, maxLevel);
	}
	else if (cs.elements.count > 0 && maxLevel >= 0)
		Report(&cs, HNSW_METAPAGE_BLKNO, InvalidOffsetNumber,
			   "index has live elements but no entry point");

	/* Every live element reachable by a search (hnswreach.c) */
	if (reachable && BlockNumberIsValid(meta.entryBlkno))
	{
		HnswReach	reach;

		HnswReachInit(&reach, nblocks);
		HnswReachFrom(cs.index, &reach, &entry, meta.entryLevel, meta.m);
		for (int64 i = 0; i < cs.nlive; i++)
		{
			if (!HnswReachTest(&reach, &cs.live[i]))
				Report(&cs, ItemPointerGetBlockNumber(&cs.live[i]),
					   ItemPointerGetOffsetNumber(&cs.live[i]),
					   "element is not reachable from the entry point");
		}
		HnswReachFree(&reach);
	}

	/* Every visible row indexed */
	if (heapallindexed)
	{
		IndexInfo  *indexInfo = BuildIndexInfo(cs.index);

		table_index_build_scan(cs.heap, cs.index, indexInfo, true, false,
							   HeapAllIndexedCallback, &cs, NULL);
	}

	index_close(cs.index, AccessShareLock);
	table_close(cs.heap, AccessShareLock);
	return (Datum) 0;
}

VECTORPG_FUNCTION(hnsw_index_findability);

/*
 * SQL: hnsw_index_findability(index regclass, sample integer) returns one
 * row (live, searched, not_found): how many live elements the index holds,
 * and of an evenly spread sample of them, how many a search for their own
 * vector, as wide as the session's queries (hnsw.ef_search), does not find
 * (HnswSearchFinds).  Why: an index can be sound and every element
 * reachable, yet whole clusters missed by searches (see hnswvacuum.c, pass
 * 2c); this measures it without knowing the queries.  A fresh build misses
 * a fraction of a percent.
 */
Datum
hnsw_index_findability(PG_FUNCTION_ARGS)
{
	Oid			indexoid = PG_GETARG_OID(0);
	int32		sample = PG_GETARG_INT32(1);
	TupleDesc	desc;
	Relation	index;
	HnswMetaPageData meta;
	HnswDistance dist;
	BlockNumber nblocks;
	ItemPointerData *live;
	int64		nlive = 0;
	int64		size = 1024;
	int64		searched = 0;
	int64		missed = 0;
	MemoryContext tmp;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	if (sample < HNSW_MIN_FINDABILITY_SAMPLE || sample > HNSW_MAX_FINDABILITY_SAMPLE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sample must be between %d and %d, not %d",
						HNSW_MIN_FINDABILITY_SAMPLE, HNSW_MAX_FINDABILITY_SAMPLE, sample)));
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (!OidIsValid(IndexGetRelation(indexoid, true)))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an index", get_rel_name(indexoid) ? get_rel_name(indexoid) : "?")));
	index = index_open(indexoid, AccessShareLock);
	if (index->rd_indam->ambuild != hnswbuild)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an hnsw index", RelationGetRelationName(index))));
	HnswReadMeta(index, &meta);
	HnswInitLinkDistance(index, &dist);

	/* The live elements, in page order */
	live = palloc(sizeof(ItemPointerData) * size);
	nblocks = RelationGetNumberOfBlocks(index);
	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		ItemPointerData *page;
		int			n;

		CHECK_FOR_INTERRUPTS();
		n = HnswPageLiveElements(index, NULL, blkno, &page, NULL);
		while (nlive + n > size)
		{
			size *= 2;
			live = repalloc_huge(live, sizeof(ItemPointerData) * size);
		}
		memcpy(&live[nlive], page, sizeof(ItemPointerData) * n);
		nlive += n;
		pfree(page);
	}

	/* An evenly spread sample of them, each searched for */
	tmp = AllocSetContextCreate(CurrentMemoryContext, "hnsw findability", ALLOCSET_DEFAULT_SIZES);
	for (int64 k = 0; k < Min(sample, nlive); k++)
	{
		ItemPointer tid = &live[k * nlive / Min(sample, nlive)];
		MemoryContext old = MemoryContextSwitchTo(tmp);
		Vector	   *probe = InitVector(meta.dimensions);
		HnswCandidate self;
		HnswCandidate **sorted;
		int			nsorted;

		CHECK_FOR_INTERRUPTS();
		if (HnswLoadCandidate(index, &dist, probe, tid, true, &self) && !self.deleted)
		{
			searched++;
			if (!HnswSearchFinds(index, &dist, &meta, hnsw_ef_search, &self, &sorted, &nsorted))
				missed++;
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(tmp);
	}
	MemoryContextDelete(tmp);
	index_close(index, AccessShareLock);

	values[0] = Int64GetDatum(nlive);
	values[1] = Int64GetDatum(searched);
	values[2] = Int64GetDatum(missed);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
