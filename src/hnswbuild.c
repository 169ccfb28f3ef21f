/*-------------------------------------------------------------------------
 *
 * hnswbuild.c
 *	  ambuild and ambuildempty: build the graph in memory, then write it out
 *	  page by page.
 *
 * The build reads the heap once and inserts every vector into a graph held
 * in backend memory: nodes refer to each other by array index, the visited
 * set is an epoch-stamped array, and candidate heaps hold (distance, index)
 * pairs, so an insert does no buffer access and no allocation beyond the
 * node itself.  When the graph is complete it is laid out on pages in insert
 * order, each element next to its neighbour tuple, in two passes: the first
 * assigns every element and neighbour tuple its TID, the second writes the
 * pages with the links translated to TIDs.  Nothing is WAL-logged while
 * building; the whole index is logged once at the end.
 *
 * When the graph outgrows maintenance_work_mem, the build says so in a
 * NOTICE, writes out what it has, and inserts the remaining rows one by one
 * through the on-disk insert path (hnswinsert.c), still without WAL.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "hnsw.h"

/*
 * A node of the in-memory graph.  Nodes and their vectors live in chunked
 * arenas indexed by node number, so a node costs no pointer chase; layer-0
 * links sit inline, upper-layer links in a separate array.
 */
typedef struct BuildNode
{
	ItemPointerData heaptids[HNSW_HEAPTIDS];
	uint8		nheaptids;
	uint8		level;
	uint8		counts[HNSW_MAX_LEVEL + 1]; /* links used per layer */
	int32	   *upper;			/* level * m links of layers 1..level */
	ItemPointerData etid;		/* placement of the element tuple */
	ItemPointerData ntid;		/* placement of the neighbour tuple */
	int32		links0[FLEXIBLE_ARRAY_MEMBER];	/* 2 * m links of layer 0 */
} BuildNode;

/* Nodes (and vectors) per arena chunk */
#define NODES_PER_CHUNK		256

/* A candidate during an in-memory search */
typedef struct BuildPair
{
	double		distance;
	int32		id;
} BuildPair;

/* A binary heap of pairs */
typedef struct BuildHeap
{
	BuildPair  *items;
	int			count;
	int			capacity;
	bool		max;
} BuildHeap;

typedef struct HnswBuildState
{
	Relation	heap;
	Relation	index;
	IndexInfo  *indexInfo;
	HnswDistance dist;
	int			m;
	int			efc;
	int			dim;
	double		reltuples;
	double		indtuples;

	/* the in-memory graph */
	MemoryContext graphCtx;
	MemoryContext tmpCtx;
	char	  **nodeChunks;		/* NODES_PER_CHUNK nodes each */
	char	  **vecChunks;		/* NODES_PER_CHUNK vectors each */
	int			nchunks;
	int			capchunks;
	Size		nodeSize;
	Size		vecStride;
	int			nnodes;
	int			entry;
	int			entryLevel;
	uint32	   *marks;			/* visited stamps, one per node */
	int			capmarks;
	uint32		epoch;
	BuildHeap	cand;
	BuildHeap	res;
	BuildPair  *scratch;		/* sorted search results */
	int			capscratch;

	/* memory budget and the switch to on-disk inserts */
	Size		memLimit;
	bool		spilled;
} HnswBuildState;

/* ------------------------------------------------------------------------
 * Pair heaps
 * ------------------------------------------------------------------------
 */

/* Whether a sits above b in h */
static inline bool
PairAbove(const BuildHeap *h, const BuildPair *a, const BuildPair *b)
{
	return h->max ? a->distance > b->distance : a->distance < b->distance;
}

/* Set up an empty heap in the current context */
static void
PairHeapInit(BuildHeap *h, int capacity, bool max)
{
	h->capacity = Max(capacity, 16);
	h->items = palloc(sizeof(BuildPair) * h->capacity);
	h->count = 0;
	h->max = max;
}

/* Add a pair */
static void
PairPush(BuildHeap *h, double distance, int32 id)
{
	BuildPair	p = {distance, id};
	int			i;

	if (h->count == h->capacity)
	{
		h->capacity *= 2;
		h->items = repalloc(h->items, sizeof(BuildPair) * h->capacity);
	}
	i = h->count++;
	while (i > 0)
	{
		int			parent = (i - 1) / 2;

		if (!PairAbove(h, &p, &h->items[parent]))
			break;
		h->items[i] = h->items[parent];
		i = parent;
	}
	h->items[i] = p;
}

/* Remove the top pair */
static BuildPair
PairPop(BuildHeap *h)
{
	BuildPair	top = h->items[0];
	BuildPair	last = h->items[--h->count];
	int			i = 0;

	for (;;)
	{
		int			child = 2 * i + 1;

		if (child >= h->count)
			break;
		if (child + 1 < h->count && PairAbove(h, &h->items[child + 1], &h->items[child]))
			child++;
		if (!PairAbove(h, &h->items[child], &last))
			break;
		h->items[i] = h->items[child];
		i = child;
	}
	if (h->count > 0)
		h->items[i] = last;
	return top;
}

/* ------------------------------------------------------------------------
 * The in-memory graph
 * ------------------------------------------------------------------------
 */

/* Node number id */
static inline BuildNode *
GetNode(HnswBuildState *bs, int32 id)
{
	return (BuildNode *) (bs->nodeChunks[id / NODES_PER_CHUNK] +
						  (id % NODES_PER_CHUNK) * bs->nodeSize);
}

/* Vector of node number id */
static inline Vector *
NodeVector(HnswBuildState *bs, int32 id)
{
	return (Vector *) (bs->vecChunks[id / NODES_PER_CHUNK] +
					   (id % NODES_PER_CHUNK) * bs->vecStride);
}

/* The links of a node on a layer */
static inline int32 *
NodeLinks(HnswBuildState *bs, BuildNode *node, int layer)
{
	return layer == 0 ? node->links0 : node->upper + (layer - 1) * bs->m;
}

/*
 * Distance between two vectors while building: the fast float4 kernels,
 * since the build only needs the graph's shape, never an exact value.
 */
static inline double
BuildDistance(HnswBuildState *bs, const Vector *a, const Vector *b)
{
	return HnswTraversalDistance(&bs->dist, a, b);
}

/* Distance between a vector and a node's */
static inline double
NodeDistance(HnswBuildState *bs, const Vector *q, int32 id)
{
	return BuildDistance(bs, q, NodeVector(bs, id));
}

/* Ask the CPU to start loading a node's vector */
static inline void
PrefetchVector(HnswBuildState *bs, int32 id)
{
	const char *p = (const char *) NodeVector(bs, id);

	for (Size off = 0; off < bs->vecStride; off += 64)
		__builtin_prefetch(p + off);
}

/* Start a new visited epoch */
static void
NextEpoch(HnswBuildState *bs)
{
	if (++bs->epoch == 0)
	{
		memset(bs->marks, 0, sizeof(uint32) * bs->capmarks);
		bs->epoch = 1;
	}
}

/*
 * Search one layer from the pairs in bs->res (which also seed the candidate
 * heap) keeping the ef best; leaves them in bs->scratch, nearest first, and
 * returns their count.
 */
static int
SearchLayerInMemory(HnswBuildState *bs, const Vector *q, int ef, int layer)
{
	BuildHeap  *cand = &bs->cand;
	BuildHeap  *res = &bs->res;
	int			n;

	NextEpoch(bs);
	cand->count = 0;
	for (int i = 0; i < res->count; i++)
	{
		bs->marks[res->items[i].id] = bs->epoch;
		PairPush(cand, res->items[i].distance, res->items[i].id);
	}

	while (cand->count > 0)
	{
		BuildPair	c = PairPop(cand);
		BuildNode  *node;
		int32	   *links;
		int32		fresh[2 * HNSW_MAX_M];
		int			nfresh = 0;

		if (res->count >= ef && c.distance > res->items[0].distance)
			break;
		node = GetNode(bs, c.id);
		links = NodeLinks(bs, node, layer);

		/* The unvisited neighbours, the first one's vector on its way */
		for (int i = 0; i < node->counts[layer]; i++)
		{
			int32		nb = links[i];

			if (bs->marks[nb] == bs->epoch)
				continue;
			bs->marks[nb] = bs->epoch;
			fresh[nfresh++] = nb;
		}
		if (nfresh > 0)
			PrefetchVector(bs, fresh[0]);

		for (int i = 0; i < nfresh; i++)
		{
			int32		nb = fresh[i];
			double		d;

			if (i + 1 < nfresh)
				PrefetchVector(bs, fresh[i + 1]);
			d = NodeDistance(bs, q, nb);
			if (res->count < ef || d < res->items[0].distance)
			{
				PairPush(cand, d, nb);
				PairPush(res, d, nb);
				if (res->count > ef)
					PairPop(res);
			}
		}
	}

	/* Drain the results, nearest first */
	n = res->count;
	if (n > bs->capscratch)
	{
		bs->capscratch = n * 2;
		bs->scratch = repalloc(bs->scratch, sizeof(BuildPair) * bs->capscratch);
	}
	for (int i = n - 1; i >= 0; i--)
		bs->scratch[i] = PairPop(res);
	for (int i = 0; i < n; i++)
		PairPush(res, bs->scratch[i].distance, bs->scratch[i].id);
	return n;
}

/*
 * The neighbour selection heuristic over pairs sorted nearest first (see
 * HnswSelectNeighbors); writes up to keep ids to out and returns the count.
 */
static int
SelectInMemory(HnswBuildState *bs, BuildPair *sorted, int n, int keep, int32 *out)
{
	int			nout = 0;

	for (int i = 0; i < n && nout < keep; i++)
	{
		Vector	   *v = NodeVector(bs, sorted[i].id);
		bool		good = true;

		for (int j = 0; j < nout; j++)
		{
			if (NodeDistance(bs, v, out[j]) < sorted[i].distance)
			{
				good = false;
				break;
			}
		}
		if (good)
			out[nout++] = sorted[i].id;
	}
	return nout;
}

/* Sort pairs nearest first (insertion sort: lists are at most 2m + 1) */
static void
SortPairs(BuildPair *p, int n)
{
	for (int i = 1; i < n; i++)
	{
		BuildPair	x = p[i];
		int			j = i - 1;

		while (j >= 0 && p[j].distance > x.distance)
		{
			p[j + 1] = p[j];
			j--;
		}
		p[j + 1] = x;
	}
}

/* Link node `to` from node `from` on a layer, pruning `from` if it is full */
static void
AddLinkInMemory(HnswBuildState *bs, int32 from, int32 to, int layer)
{
	BuildNode  *node = GetNode(bs, from);
	Vector	   *vec = NodeVector(bs, from);
	int32	   *links = NodeLinks(bs, node, layer);
	int			cap = HnswLayerSlots(layer, bs->m);
	BuildPair	pairs[2 * HNSW_MAX_M + 1];
	int32		kept[2 * HNSW_MAX_M];
	int			n;

	if (node->counts[layer] < cap)
	{
		links[node->counts[layer]++] = to;
		return;
	}

	n = 0;
	for (int i = 0; i < cap; i++)
	{
		pairs[n].id = links[i];
		pairs[n].distance = NodeDistance(bs, vec, pairs[n].id);
		n++;
	}
	pairs[n].id = to;
	pairs[n].distance = NodeDistance(bs, vec, to);
	n++;
	SortPairs(pairs, n);
	node->counts[layer] = SelectInMemory(bs, pairs, n, cap, kept);
	memcpy(links, kept, sizeof(int32) * node->counts[layer]);
}

/* Make room for node number bs->nnodes: a new chunk when needed */
static void
GrowNodes(HnswBuildState *bs)
{
	MemoryContext old;

	if (bs->nnodes < bs->nchunks * NODES_PER_CHUNK)
		return;
	old = MemoryContextSwitchTo(bs->graphCtx);
	if (bs->nchunks == bs->capchunks)
	{
		bs->capchunks *= 2;
		bs->nodeChunks = repalloc(bs->nodeChunks, sizeof(char *) * bs->capchunks);
		bs->vecChunks = repalloc(bs->vecChunks, sizeof(char *) * bs->capchunks);
	}
	bs->nodeChunks[bs->nchunks] = MemoryContextAllocHuge(bs->graphCtx,
														 bs->nodeSize * NODES_PER_CHUNK);
	bs->vecChunks[bs->nchunks] = MemoryContextAllocHuge(bs->graphCtx,
														bs->vecStride * NODES_PER_CHUNK + 64);
	/* Vectors start on a cache line */
	bs->vecChunks[bs->nchunks] = (char *) TYPEALIGN(64, bs->vecChunks[bs->nchunks]);
	bs->nchunks++;
	if (bs->capmarks < bs->nchunks * NODES_PER_CHUNK)
	{
		int			newcap = Max(bs->capmarks * 2, bs->nchunks * NODES_PER_CHUNK);

		bs->marks = repalloc_huge(bs->marks, sizeof(uint32) * newcap);
		memset(bs->marks + bs->capmarks, 0, sizeof(uint32) * (newcap - bs->capmarks));
		bs->capmarks = newcap;
	}
	MemoryContextSwitchTo(old);
}

/* Insert a vector into the in-memory graph */
static void
InsertInMemory(HnswBuildState *bs, Vector *value, ItemPointer heaptid)
{
	int			m = bs->m;
	int			level = HnswRandomLevel(m);
	int32		id;
	BuildNode  *node;
	int32		selected[HNSW_MAX_LEVEL + 1][HNSW_MAX_M];
	int			nselected[HNSW_MAX_LEVEL + 1];
	int			top = Min(level, bs->entryLevel);
	MemoryContext old;

	memset(nselected, 0, sizeof(nselected));
	if (bs->entry >= 0)
	{
		bs->res.count = 0;
		PairPush(&bs->res, NodeDistance(bs, value, bs->entry), bs->entry);
		for (int layer = bs->entryLevel; layer >= 0; layer--)
		{
			int			n = SearchLayerInMemory(bs, value, layer > level ? 1 : bs->efc, layer);

			/* An identical vector already indexed takes the heap TID */
			for (int i = 0; layer == 0 && i < n; i++)
			{
				BuildNode  *dup = GetNode(bs, bs->scratch[i].id);

				if (dup->nheaptids < HNSW_HEAPTIDS &&
					memcmp(NodeVector(bs, bs->scratch[i].id)->x, value->x,
						   sizeof(float) * value->dim) == 0)
				{
					dup->heaptids[dup->nheaptids++] = *heaptid;
					return;
				}
			}
			if (layer <= top)
				nselected[layer] = SelectInMemory(bs, bs->scratch, n, m, selected[layer]);
		}
	}

	/* The node itself */
	GrowNodes(bs);
	id = bs->nnodes++;
	node = GetNode(bs, id);
	memset(node, 0, bs->nodeSize);
	node->heaptids[0] = *heaptid;
	node->nheaptids = 1;
	node->level = level;
	if (level > 0)
	{
		old = MemoryContextSwitchTo(bs->graphCtx);
		node->upper = palloc(sizeof(int32) * level * m);
		MemoryContextSwitchTo(old);
	}
	memcpy(NodeVector(bs, id), value, VARSIZE(value));

	/* Its links, and the links back */
	for (int layer = 0; layer <= top; layer++)
	{
		node->counts[layer] = nselected[layer];
		memcpy(NodeLinks(bs, node, layer), selected[layer], sizeof(int32) * nselected[layer]);
		for (int i = 0; i < nselected[layer]; i++)
			AddLinkInMemory(bs, selected[layer][i], id, layer);
	}

	if (level > bs->entryLevel)
	{
		bs->entry = id;
		bs->entryLevel = level;
	}
}

/* ------------------------------------------------------------------------
 * Writing the graph out
 * ------------------------------------------------------------------------
 */

/* Room left on a simulated page, tracked as PageAddItem would */
typedef struct PageCursor
{
	BlockNumber blkno;
	OffsetNumber nextoff;
	Size		freespace;
} PageCursor;

/* Move the cursor to a fresh page */
static void
CursorNewPage(PageCursor *pc)
{
	pc->blkno++;
	pc->nextoff = FirstOffsetNumber;
	pc->freespace = BLCKSZ - MAXALIGN(SizeOfPageHeaderData) -
		MAXALIGN(sizeof(HnswPageOpaqueData));
}

/* Claim space for a tuple on the cursor's page (the caller checked room) */
static void
CursorTake(PageCursor *pc, Size size, ItemPointer tid)
{
	ItemPointerSet(tid, pc->blkno, pc->nextoff);
	pc->nextoff++;
	pc->freespace -= MAXALIGN(size) + sizeof(ItemIdData);
}

/* Whether a tuple of this size fits on the cursor's page */
static inline bool
CursorFits(PageCursor *pc, Size size)
{
	return pc->freespace >= MAXALIGN(size) + sizeof(ItemIdData);
}

/* Give every element and neighbour tuple its TID, in insert order */
static BlockNumber
PlaceTuples(HnswBuildState *bs)
{
	PageCursor	pc = {HNSW_METAPAGE_BLKNO, FirstOffsetNumber, 0};
	Size		esize = HNSW_ELEMENT_TUPLE_SIZE(bs->dim);

	CursorNewPage(&pc);
	for (int i = 0; i < bs->nnodes; i++)
	{
		BuildNode  *node = GetNode(bs, i);
		Size		nsize = HNSW_NEIGHBOR_TUPLE_SIZE(node->level, bs->m);

		if (!CursorFits(&pc, esize + sizeof(ItemIdData) + nsize) &&
			!(CursorFits(&pc, esize) && esize + nsize + 2 * sizeof(ItemIdData) >
			  BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(HnswPageOpaqueData))))
			CursorNewPage(&pc);
		CursorTake(&pc, esize, &node->etid);
		if (!CursorFits(&pc, nsize))
			CursorNewPage(&pc);
		CursorTake(&pc, nsize, &node->ntid);
	}
	return pc.blkno;
}

/* Add a tuple to a page at the offset placement chose */
static void
PutTuple(Relation index, Page page, Item item, Size size, ItemPointer tid)
{
	if (PageAddItem(page, item, size, InvalidOffsetNumber, false, false) !=
		ItemPointerGetOffsetNumber(tid))
		elog(ERROR, "failed to add index item to \"%s\"", RelationGetRelationName(index));
}

/* Write the in-memory graph to data pages and point the metapage at it */
static void
WriteGraph(HnswBuildState *bs, ForkNumber forkNum)
{
	Relation	index = bs->index;
	Size		esize = HNSW_ELEMENT_TUPLE_SIZE(bs->dim);
	HnswElementTuple etup = palloc0(esize);
	HnswNeighborTuple ntup = palloc0(HNSW_NEIGHBOR_TUPLE_SIZE(HNSW_MAX_LEVEL, bs->m));
	BlockNumber lastblk;
	Buffer		buf = InvalidBuffer;
	Page		page = NULL;
	Buffer		mbuf;
	HnswMetaPage meta;

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_WRITE);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, bs->nnodes);
	lastblk = PlaceTuples(bs);

	for (int i = 0; i < bs->nnodes; i++)
	{
		BuildNode  *node = GetNode(bs, i);
		Vector	   *vec = NodeVector(bs, i);
		Size		nsize = HNSW_NEIGHBOR_TUPLE_SIZE(node->level, bs->m);

		CHECK_FOR_INTERRUPTS();

		/* Element tuple */
		etup->type = HNSW_ELEMENT_TUPLE;
		etup->level = node->level;
		etup->deleted = 0;
		for (int j = 0; j < HNSW_HEAPTIDS; j++)
		{
			if (j < node->nheaptids)
				etup->heaptids[j] = node->heaptids[j];
			else
				ItemPointerSetInvalid(&etup->heaptids[j]);
		}
		etup->neighbortid = node->ntid;
		memcpy(&etup->data, vec, VARSIZE(vec));

		/* Neighbour tuple, links as TIDs */
		ntup->type = HNSW_NEIGHBOR_TUPLE;
		ntup->count = HnswSlotCount(node->level, bs->m);
		for (int j = 0; j < ntup->count; j++)
			ItemPointerSetInvalid(&ntup->tids[j]);
		for (int layer = 0; layer <= node->level; layer++)
		{
			int			start = HnswLayerStart(layer, bs->m);
			int32	   *links = NodeLinks(bs, node, layer);

			for (int j = 0; j < node->counts[layer]; j++)
				ntup->tids[start + j] = GetNode(bs, links[j])->etid;
		}

		for (int part = 0; part < 2; part++)
		{
			ItemPointer tid = part == 0 ? &node->etid : &node->ntid;

			if (!BufferIsValid(buf) || BufferGetBlockNumber(buf) != ItemPointerGetBlockNumber(tid))
			{
				Buffer		next = HnswNewBuffer(index, forkNum);

				if (BufferGetBlockNumber(next) != ItemPointerGetBlockNumber(tid))
					elog(ERROR, "unexpected block %u while writing hnsw index \"%s\"",
						 BufferGetBlockNumber(next), RelationGetRelationName(index));
				if (BufferIsValid(buf))
				{
					HnswPageGetOpaque(page)->nextblkno = BufferGetBlockNumber(next);
					MarkBufferDirty(buf);
					UnlockReleaseBuffer(buf);
				}
				buf = next;
				page = BufferGetPage(buf);
				HnswInitPage(page, BufferGetPageSize(buf));
			}
			if (part == 0)
				PutTuple(index, page, (Item) etup, esize, tid);
			else
				PutTuple(index, page, (Item) ntup, nsize, tid);
		}

		if ((i + 1) % 1000 == 0)
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, i + 1);
	}
	if (BufferIsValid(buf))
	{
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, bs->nnodes);

	/* The metapage */
	mbuf = ReadBufferExtended(index, forkNum, HNSW_METAPAGE_BLKNO, RBM_NORMAL, NULL);
	LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
	meta = HnswPageGetMeta(BufferGetPage(mbuf));
	if (bs->entry >= 0)
	{
		meta->entryBlkno = ItemPointerGetBlockNumber(&GetNode(bs, bs->entry)->etid);
		meta->entryOffno = ItemPointerGetOffsetNumber(&GetNode(bs, bs->entry)->etid);
		meta->entryLevel = bs->entryLevel;
		meta->insertPage = lastblk;
	}
	MarkBufferDirty(mbuf);
	UnlockReleaseBuffer(mbuf);
}

/* Create block 0 of a fork: the metapage of an empty index */
static void
CreateMetaPage(Relation index, ForkNumber forkNum, int dim, int m, int efc)
{
	Buffer		buf = HnswNewBuffer(index, forkNum);
	Page		page = BufferGetPage(buf);
	HnswMetaPage meta;

	Assert(BufferGetBlockNumber(buf) == HNSW_METAPAGE_BLKNO);
	HnswInitPage(page, BufferGetPageSize(buf));
	meta = HnswPageGetMeta(page);
	MemSet(meta, 0, sizeof(HnswMetaPageData));
	meta->magicNumber = HNSW_MAGIC_NUMBER;
	meta->version = HNSW_VERSION;
	meta->dimensions = dim;
	meta->m = m;
	meta->efConstruction = efc;
	meta->entryBlkno = InvalidBlockNumber;
	meta->entryOffno = InvalidOffsetNumber;
	meta->entryLevel = -1;
	meta->insertPage = InvalidBlockNumber;
	meta->freeHint = InvalidBlockNumber;
	((PageHeader) page)->pd_lower = ((char *) meta + sizeof(HnswMetaPageData)) - (char *) page;
	MarkBufferDirty(buf);
	if (forkNum == INIT_FORKNUM)
		log_newpage_buffer(buf, true);
	UnlockReleaseBuffer(buf);
}

/* ------------------------------------------------------------------------
 * ambuild
 * ------------------------------------------------------------------------
 */

/* Dimensions and options of the index being built, checked */
static void
CheckBuildParameters(Relation index, int *dim, int *m, int *efc)
{
	*dim = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;
	*m = HnswGetM(index);
	*efc = HnswGetEfConstruction(index);

	if (*dim < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column does not have dimensions"),
				 errhint("Index a vector(n) column, or an expression cast to vector(n).")));
	if (*dim > HNSW_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("column cannot have more than %d dimensions for hnsw index",
						HNSW_MAX_DIM)));
	if (*efc < 2 * *m)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ef_construction must be greater than or equal to 2 * m")));
}

/* Per heap tuple: insert into the graph in memory, or on disk after a spill */
static void
BuildCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
			  bool tupleIsAlive, void *state)
{
	HnswBuildState *bs = (HnswBuildState *) state;
	MemoryContext old;
	Vector	   *value;

	if (isnull[0])
		return;

	old = MemoryContextSwitchTo(bs->tmpCtx);
	if (HnswPrepareValue(&bs->dist, values[0], &value))
	{
		VectorCheckExpectedDim(bs->dim, value->dim);
		if (!bs->spilled &&
			MemoryContextMemAllocated(bs->graphCtx, true) > bs->memLimit)
		{
			ereport(NOTICE,
					(errmsg("hnsw graph no longer fits into maintenance_work_mem after %.0f tuples",
							bs->indtuples),
					 errdetail("Building will take significantly more time."),
					 errhint("Increase maintenance_work_mem to speed up builds.")));
			WriteGraph(bs, MAIN_FORKNUM);
			MemoryContextDelete(bs->graphCtx);
			bs->graphCtx = NULL;
			bs->spilled = true;
			pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_LOAD);
		}
		if (bs->spilled)
			HnswInsertOnDisk(index, &bs->dist, value, tid, true);
		else
			InsertInMemory(bs, value, tid);
		bs->indtuples++;
		if ((int64) bs->indtuples % 1000 == 0)
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->indtuples);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpCtx);
}

/* ambuild: build a new hnsw index over the existing rows */
IndexBuildResult *
hnswbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	HnswBuildState bs;
	MemoryContext old;

	MemSet(&bs, 0, sizeof(bs));
	bs.heap = heap;
	bs.index = index;
	bs.indexInfo = indexInfo;
	CheckBuildParameters(index, &bs.dim, &bs.m, &bs.efc);
	HnswInitDistance(index, &bs.dist);
	bs.memLimit = (Size) maintenance_work_mem * 1024;
	bs.entry = -1;
	bs.entryLevel = -1;

	bs.graphCtx = AllocSetContextCreate(CurrentMemoryContext, "hnsw build graph",
										ALLOCSET_DEFAULT_SIZES);
	bs.tmpCtx = AllocSetContextCreate(CurrentMemoryContext, "hnsw build temporary context",
									  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(bs.graphCtx);
	bs.nodeSize = MAXALIGN(offsetof(BuildNode, links0) + sizeof(int32) * 2 * bs.m);
	bs.vecStride = TYPEALIGN(64, VECTOR_SIZE(bs.dim));
	bs.capchunks = 64;
	bs.nodeChunks = palloc(sizeof(char *) * bs.capchunks);
	bs.vecChunks = palloc(sizeof(char *) * bs.capchunks);
	bs.capmarks = NODES_PER_CHUNK;
	bs.marks = palloc0(sizeof(uint32) * bs.capmarks);
	PairHeapInit(&bs.cand, bs.efc * 4, false);
	PairHeapInit(&bs.res, bs.efc + 2, true);
	bs.capscratch = bs.efc + 2;
	bs.scratch = palloc(sizeof(BuildPair) * bs.capscratch);
	MemoryContextSwitchTo(old);

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));
	CreateMetaPage(index, MAIN_FORKNUM, bs.dim, bs.m, bs.efc);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_LOAD);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL,
								 (int64) Max(heap->rd_rel->reltuples, 0));
	bs.reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
										  BuildCallback, &bs, NULL);

	if (!bs.spilled)
		WriteGraph(&bs, MAIN_FORKNUM);

	/* Log the whole index once, now that it is complete */
	if (RelationNeedsWAL(index))
		log_newpage_range(index, MAIN_FORKNUM, 0, RelationGetNumberOfBlocks(index), true);

	if (bs.graphCtx)
		MemoryContextDelete(bs.graphCtx);
	MemoryContextDelete(bs.tmpCtx);

	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = bs.reltuples;
	result->index_tuples = bs.indtuples;
	return result;
}

/* ambuildempty: the init fork of an unlogged index, an empty metapage */
void
hnswbuildempty(Relation index)
{
	int			dim,
				m,
				efc;

	CheckBuildParameters(index, &dim, &m, &efc);
	CreateMetaPage(index, INIT_FORKNUM, dim, m, efc);
}
