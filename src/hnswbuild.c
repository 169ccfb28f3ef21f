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
 * node itself.  When the graph is complete, every node that layer 0 does
 * not connect to the entry point is linked back in (LinkUnreachable), and
 * the graph is laid out on pages in insert order, each element next to its
 * neighbour tuple, in two passes: the first assigns every element and
 * neighbour tuple its TID, the second writes the pages with the links
 * translated to TIDs.  Nothing is WAL-logged while
 * building; the whole index is logged once at the end.
 *
 * When the graph outgrows maintenance_work_mem, the build says so in a
 * NOTICE, writes out what it has, and inserts the remaining rows one by one
 * through the on-disk insert path (hnswinsert.c), still without WAL.
 *
 * Parallel build.  With max_parallel_maintenance_workers, the graph lives in
 * a dynamic shared memory segment sized from the table's estimated row count
 * (EstimateHeapRows; within maintenance_work_mem), and the leader and the
 * workers each scan a share of the heap and insert into it at once.  Nodes are addressed by
 * number, never by pointer, so every process can map the segment anywhere.
 * A node is complete before anything links to it; link lists change under
 * the node's spinlock, and searches read them without it, which is safe
 * because every slot below a list's count always holds a valid node number
 * (at worst a stale one).  Should the estimate be short and the segment
 * fill up, the rows that did not fit are inserted afterwards, on disk.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/parallel.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xloginsert.h"
#include "catalog/pg_am_d.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/bufmgr.h"
#include "storage/condition_variable.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/float.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
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
	uint8		format;			/* storage format, chosen at placement */
	slock_t		lock;			/* guards links and heap TIDs (parallel build) */
	uint32		upper;			/* start of level * m upper links in the arena */
	ItemPointerData etid;		/* placement of the element tuple */
	ItemPointerData ntid;		/* placement of the neighbour tuple */
	int32		links0[FLEXIBLE_ARRAY_MEMBER];	/* 2 * m links of layer 0 */
} BuildNode;

/* Nodes (and vectors) per arena chunk */
#define NODES_PER_CHUNK		256

/* Heap pages whose tuples EstimateHeapRows counts */
#define HNSW_ESTIMATE_SAMPLE_PAGES	64

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

/* Shared state of a parallel build; the parallel heap scan follows it */
typedef struct HnswShared
{
	/* set by the leader before the workers start */
	Oid			heaprelid;
	Oid			indexrelid;
	bool		isconcurrent;
	uint32		capacity;		/* nodes, a multiple of NODES_PER_CHUNK */
	uint32		upperCapacity;	/* int32 slots of upper-layer links */
	Size		vecsOffset;		/* from the start of the graph area */
	Size		upperOffset;

	/* changing */
	slock_t		mutex;			/* guards the fields below */
	int32		entry;
	int			entryLevel;
	int			nparticipantsdone;
	bool		full;			/* a row did not fit */
	double		reltuples;
	double		indtuples;
	ConditionVariable workersdonecv;
	pg_atomic_uint32 nnodes;
	pg_atomic_uint32 upperUsed;
} HnswShared;

#define PARALLEL_KEY_HNSW_SHARED	UINT64CONST(0xA000000000000001)
#define PARALLEL_KEY_HNSW_GRAPH		UINT64CONST(0xA000000000000002)
#define PARALLEL_KEY_QUERY_TEXT		UINT64CONST(0xA000000000000003)

#define ParallelTableScanFromHnswShared(shared) \
	((ParallelTableScanDesc) ((char *) (shared) + BUFFERALIGN(sizeof(HnswShared))))

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
	Size		prefetchLen;	/* longest vector this process stored */
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
	int32	   *upperBase;		/* arena of upper-layer links */
	uint32		upperUsed;		/* serial build: slots in use */
	uint32		upperCap;

	/* parallel build: the shared graph, NULL when serial */
	HnswShared *shared;
	bool		overflowed;		/* this participant skipped rows */
	bool		progress;		/* this process reports build progress */
	HnswVisited indexedTids;	/* heap TIDs in the graph, after an overflow */

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

/*
 * Vector of node number id: float4, or stored as bytes (HNSW_FORMAT_U8 or
 * HNSW_FORMAT_I8 in its unused field, as on disk) when all its values fit
 * one, a quarter of the memory traffic for every distance to it
 * (StoreNodeVector)
 */
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
	return layer == 0 ? node->links0 : bs->upperBase + node->upper + (layer - 1) * bs->m;
}

/*
 * Distance between two vectors while building: the traversal kernels,
 * since the build only needs the graph's shape, never an exact value; either
 * vector may be a node's, stored as bytes.
 */
static inline double
BuildDistance(HnswBuildState *bs, const Vector *a, const Vector *b)
{
	return HnswStoredDistance(&bs->dist, a, b);
}

/*
 * Copy a vector into node id's slot: as bytes if all its values fit a byte
 * format (the format the element will have on disk), else as it is.  Half
 * and bfloat16 vectors stay float4 here: the build compares nodes with each
 * other, and two such nodes would be widened for every distance, which
 * made a 10,000-row build of half vectors 5 % slower than reading float4.
 */
static inline void
StoreNodeVector(HnswBuildState *bs, int32 id, const Vector *value)
{
	Vector	   *slot = NodeVector(bs, id);
	int			format = HnswChooseFormat(value);

	if (HNSW_FORMAT_IS_BYTES(format))
		HnswEncodeVector(value, format, slot);
	else
		memcpy(slot, value, VARSIZE(value));
	bs->prefetchLen = Max(bs->prefetchLen, VARSIZE(slot));
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

	/* as long as the longest vector this process stored (bytes, usually) */
	for (Size off = 0; off < bs->prefetchLen; off += 64)
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
		int			ncount;

		if (res->count >= ef && c.distance > res->items[0].distance)
			break;
		node = GetNode(bs, c.id);
		links = NodeLinks(bs, node, layer);

		/* The unvisited neighbours, the first one's vector on its way */
		ncount = node->counts[layer];
		pg_read_barrier();
		for (int i = 0; i < ncount; i++)
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

/*
 * Link node `to` from node `from` on a layer, pruning `from`'s list with the
 * selection heuristic if it is full.  In a parallel build the list changes
 * under the node's spinlock; the distances for pruning are computed outside
 * it, and the result is written only if the list did not change meanwhile
 * (else the work is redone).
 */
static void
AddLinkInMemory(HnswBuildState *bs, int32 from, int32 to, int layer)
{
	BuildNode  *node = GetNode(bs, from);
	Vector	   *vec = NodeVector(bs, from);
	int32	   *links = NodeLinks(bs, node, layer);
	int			cap = HnswLayerSlots(layer, bs->m);
	bool		shared = bs->shared != NULL;

	for (;;)
	{
		BuildPair	pairs[2 * HNSW_MAX_M + 1];
		int32		seen[2 * HNSW_MAX_M];
		int32		kept[2 * HNSW_MAX_M];
		int			n;
		int			nkept;

		if (shared)
			SpinLockAcquire(&node->lock);
		if (node->counts[layer] < cap)
		{
			links[node->counts[layer]] = to;
			pg_write_barrier();
			node->counts[layer]++;
			if (shared)
				SpinLockRelease(&node->lock);
			return;
		}
		memcpy(seen, links, sizeof(int32) * cap);
		if (shared)
			SpinLockRelease(&node->lock);

		n = 0;
		for (int i = 0; i < cap; i++)
		{
			pairs[n].id = seen[i];
			pairs[n].distance = NodeDistance(bs, vec, seen[i]);
			n++;
		}
		pairs[n].id = to;
		pairs[n].distance = NodeDistance(bs, vec, to);
		n++;
		SortPairs(pairs, n);
		nkept = SelectInMemory(bs, pairs, n, cap, kept);

		if (shared)
			SpinLockAcquire(&node->lock);
		if (node->counts[layer] == cap && memcmp(seen, links, sizeof(int32) * cap) == 0)
		{
			/* Shrink the count first: readers never see a slot past it change */
			node->counts[layer] = Min(nkept, node->counts[layer]);
			pg_write_barrier();
			memcpy(links, kept, sizeof(int32) * nkept);
			pg_write_barrier();
			node->counts[layer] = nkept;
			if (shared)
				SpinLockRelease(&node->lock);
			return;
		}
		if (shared)
			SpinLockRelease(&node->lock);
	}
}

/* Claim room for n upper-layer links; false when the shared arena is full */
static bool
AllocUpper(HnswBuildState *bs, int n, uint32 *start)
{
	if (bs->shared)
	{
		uint32		s = pg_atomic_fetch_add_u32(&bs->shared->upperUsed, n);

		if ((uint64) s + n > bs->shared->upperCapacity)
			return false;
		*start = s;
		return true;
	}
	if ((uint64) bs->upperUsed + n > bs->upperCap)
	{
		uint32		newcap = Max(bs->upperCap * 2, bs->upperUsed + n);
		MemoryContext old = MemoryContextSwitchTo(bs->graphCtx);

		bs->upperBase = repalloc_huge(bs->upperBase, sizeof(int32) * newcap);
		MemoryContextSwitchTo(old);
		bs->upperCap = newcap;
	}
	*start = bs->upperUsed;
	bs->upperUsed += n;
	return true;
}

/* The entry point, read consistently */
static void
GetEntry(HnswBuildState *bs, int32 *entry, int *entryLevel)
{
	if (bs->shared)
	{
		SpinLockAcquire(&bs->shared->mutex);
		*entry = bs->shared->entry;
		*entryLevel = bs->shared->entryLevel;
		SpinLockRelease(&bs->shared->mutex);
	}
	else
	{
		*entry = bs->entry;
		*entryLevel = bs->entryLevel;
	}
}

/*
 * Make node `id` the entry point if it is higher than the current one (or
 * the graph is empty); returns the entry point that holds afterwards.
 */
static int32
OfferEntry(HnswBuildState *bs, int32 id, int level, int *entryLevel)
{
	int32		entry;

	if (bs->shared)
		SpinLockAcquire(&bs->shared->mutex);
	if (bs->shared)
	{
		if (bs->shared->entry < 0 || level > bs->shared->entryLevel)
		{
			bs->shared->entry = id;
			bs->shared->entryLevel = level;
		}
		entry = bs->shared->entry;
		*entryLevel = bs->shared->entryLevel;
		SpinLockRelease(&bs->shared->mutex);
		return entry;
	}
	if (bs->entry < 0 || level > bs->entryLevel)
	{
		bs->entry = id;
		bs->entryLevel = level;
	}
	*entryLevel = bs->entryLevel;
	return bs->entry;
}

static void GrowNodes(HnswBuildState *bs);

/* Claim the next node number; -1 when the shared graph is full */
static int32
AllocNode(HnswBuildState *bs)
{
	if (bs->shared)
	{
		uint32		id = pg_atomic_fetch_add_u32(&bs->shared->nnodes, 1);

		return id < bs->shared->capacity ? (int32) id : -1;
	}
	GrowNodes(bs);
	return bs->nnodes++;
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

/*
 * Insert a vector into the in-memory graph.  False when a parallel build's
 * shared graph has no room left for it.
 */
static bool
InsertInMemory(HnswBuildState *bs, Vector *value, ItemPointer heaptid)
{
	int			m = bs->m;
	int			level = HnswElementLevel(value, heaptid, m);
	int32		id = -1;
	BuildNode  *node = NULL;
	int32		selected[HNSW_MAX_LEVEL + 1][HNSW_MAX_M];
	int			nselected[HNSW_MAX_LEVEL + 1];
	int32		entry;
	int			entryLevel;
	int			top;

	memset(nselected, 0, sizeof(nselected));
	GetEntry(bs, &entry, &entryLevel);

	/*
	 * The node, complete before anything can link to it.  (If it turns out
	 * to duplicate an indexed vector it stays unlinked, with no heap TID,
	 * and is not written out.)
	 */
	id = AllocNode(bs);
	if (id < 0)
		return false;
	node = GetNode(bs, id);
	memset(node, 0, offsetof(BuildNode, links0));
	SpinLockInit(&node->lock);
	node->heaptids[0] = *heaptid;
	node->nheaptids = 1;
	node->level = level;
	if (level > 0 && !AllocUpper(bs, level * m, &node->upper))
	{
		node->nheaptids = 0;
		return false;
	}
	StoreNodeVector(bs, id, value);
	pg_write_barrier();
	/* from here on, the search's query is the stored form: bytes meet bytes */
	value = NodeVector(bs, id);

	/* The first node is the entry point, with no links yet */
	if (entry < 0)
	{
		entry = OfferEntry(bs, id, level, &entryLevel);
		if (entry == id)
			return true;
	}

	top = Min(level, entryLevel);
	bs->res.count = 0;
	PairPush(&bs->res, NodeDistance(bs, value, entry), entry);
	for (int layer = entryLevel; layer >= 0; layer--)
	{
		int			n = SearchLayerInMemory(bs, value, layer > level ? 1 : bs->efc, layer);

		/* An identical vector already indexed takes the heap TID */
		for (int i = 0; layer == 0 && i < n; i++)
		{
			int32		did = bs->scratch[i].id;
			BuildNode  *dup = GetNode(bs, did);
			bool		added = false;

			/* (equal vectors have equal stored forms) */
			if (did == id || dup->nheaptids >= HNSW_HEAPTIDS ||
				VARSIZE(NodeVector(bs, did)) != VARSIZE(value) ||
				memcmp(NodeVector(bs, did), value, VARSIZE(value)) != 0)
				continue;
			if (bs->shared)
				SpinLockAcquire(&dup->lock);
			if (dup->nheaptids < HNSW_HEAPTIDS)
			{
				dup->heaptids[dup->nheaptids++] = *heaptid;
				added = true;
			}
			if (bs->shared)
				SpinLockRelease(&dup->lock);
			if (added)
			{
				/* The node claimed above stays unlinked, with no heap TID */
				node->nheaptids = 0;
				return true;
			}
		}
		if (layer <= top)
		{
			int			k = 0;

			/* Never link a node to itself (a parallel peer may have found it) */
			for (int i = 0; i < n; i++)
				if (bs->scratch[i].id != id)
					bs->scratch[k++] = bs->scratch[i];
			nselected[layer] = SelectInMemory(bs, bs->scratch, k, m, selected[layer]);
		}
	}

	/* Its links, and the links back */
	for (int layer = 0; layer <= top; layer++)
	{
		memcpy(NodeLinks(bs, node, layer), selected[layer], sizeof(int32) * nselected[layer]);
		pg_write_barrier();
		node->counts[layer] = nselected[layer];
		for (int i = 0; i < nselected[layer]; i++)
			AddLinkInMemory(bs, selected[layer][i], id, layer);
	}

	if (level > entryLevel)
		OfferEntry(bs, id, level, &entryLevel);
	return true;
}

/* ------------------------------------------------------------------------
 * Reaching every node
 * ------------------------------------------------------------------------
 */

/* Mark every node layer 0 connects `start` to, breadth first */
static void
ReachFromNode(HnswBuildState *bs, int32 start, bool *reached, int32 *queue)
{
	int64		head = 0;
	int64		tail = 0;

	if (reached[start])
		return;
	reached[start] = true;
	queue[tail++] = start;
	while (head < tail)
	{
		BuildNode  *node = GetNode(bs, queue[head++]);

		for (int i = 0; i < node->counts[0]; i++)
		{
			int32		nb = node->links0[i];

			if (!reached[nb])
			{
				reached[nb] = true;
				queue[tail++] = nb;
			}
		}
	}
}

/* Whether node `from` links to node `to` on layer 0 */
static bool
HasLink0(HnswBuildState *bs, int32 from, int32 to)
{
	BuildNode  *node = GetNode(bs, from);

	for (int i = 0; i < node->counts[0]; i++)
		if (node->links0[i] == to)
			return true;
	return false;
}

/*
 * Replace the farthest of node c's layer-0 links whose target has another
 * link in (any link, when `anyway`) by a link to u; false if there is none
 */
static bool
ReplaceFarthestLink(HnswBuildState *bs, int32 c, int32 u, int32 *indegree, bool anyway)
{
	BuildNode  *node = GetNode(bs, c);
	Vector	   *vec = NodeVector(bs, c);
	int			far = -1;
	double		fardist = -1;

	for (int i = 0; i < node->counts[0]; i++)
	{
		double		d;

		if (!anyway && indegree[node->links0[i]] < 2)
			continue;
		d = NodeDistance(bs, vec, node->links0[i]);
		if (d > fardist)
		{
			far = i;
			fardist = d;
		}
	}
	if (far < 0)
		return false;
	indegree[node->links0[far]]--;
	node->links0[far] = u;
	indegree[u]++;
	return true;
}

/* Link node c to node u on layer 0 if c has a free slot and no such link */
static bool
AddFreeLink(HnswBuildState *bs, int32 c, int32 u, int32 *indegree)
{
	BuildNode  *node = GetNode(bs, c);

	if (node->counts[0] >= HnswLayerSlots(0, bs->m) || HasLink0(bs, c, u))
		return false;
	node->links0[node->counts[0]++] = u;
	indegree[u]++;
	return true;
}

/*
 * Search for node u's vector, from the entry point down to layer 0, and
 * put the reached nodes among the results (nearest first) into near, which
 * has room for ef_construction; returns their count.  The descent can end
 * in a region that layer 0 does not connect to the entry point; then a
 * layer-0 search from the entry point, which meets only reached nodes,
 * is made instead.
 */
static int
NearestReached(HnswBuildState *bs, int32 u, int32 entry, int entryLevel, const bool *reached,
			   int32 *near)
{
	Vector	   *value = NodeVector(bs, u);
	int			nnear = 0;

	for (int attempt = 0; attempt < 2 && nnear == 0; attempt++)
	{
		int			n = 0;

		bs->res.count = 0;
		PairPush(&bs->res, NodeDistance(bs, value, entry), entry);
		for (int layer = attempt == 0 ? entryLevel : 0; layer >= 0; layer--)
			n = SearchLayerInMemory(bs, value, layer > 0 ? 1 : bs->efc, layer);
		for (int i = 0; i < n && nnear < bs->efc; i++)
		{
			int32		c = bs->scratch[i].id;

			if (c != u && reached[c] && GetNode(bs, c)->nheaptids > 0)
				near[nnear++] = c;
		}
	}
	return nnear;
}

/*
 * Link node u, which layer 0 does not connect to the entry point, from the
 * nearest reached nodes (NearestReached): from each of the nearest m that
 * has a free slot; failing that, from the nearest with a free slot among
 * all the search found; failing that, in place of the farthest link of the
 * nearest one whose target has another link in; failing that (small m),
 * from any reached node with a free slot, the next after *freeCursor;
 * failing that, in place of the nearest one's farthest link (which can cut
 * that target off: the caller walks again).  The selection heuristic is
 * not asked, since its pruning would cut off others.  u in turn links to
 * the nearest.  False if the search met no reached node.  near is scratch
 * space for ef_construction node numbers.
 */
static bool
LinkNodeBack(HnswBuildState *bs, int32 u, int32 entry, int entryLevel, const bool *reached,
			 int32 *indegree, int32 *freeCursor, int32 *near)
{
	int			nnear = NearestReached(bs, u, entry, entryLevel, reached, near);
	bool		linked = false;

	if (nnear == 0)
		return false;

	for (int i = 0; i < Min(nnear, bs->m); i++)
		linked |= AddFreeLink(bs, near[i], u, indegree);
	for (int i = bs->m; i < nnear && !linked; i++)
		linked = AddFreeLink(bs, near[i], u, indegree);
	for (int i = 0; i < nnear && !linked; i++)
		linked = ReplaceFarthestLink(bs, near[i], u, indegree, false);
	/* Small m: any reached node with room, however far */
	for (; *freeCursor < bs->nnodes && !linked; (*freeCursor)++)
	{
		if (reached[*freeCursor] && *freeCursor != u && GetNode(bs, *freeCursor)->nheaptids > 0)
			linked = AddFreeLink(bs, *freeCursor, u, indegree);
	}
	if (!linked)
		ReplaceFarthestLink(bs, near[0], u, indegree, true);

	if (!HasLink0(bs, u, near[0]))
	{
		BuildNode  *node = GetNode(bs, u);

		if (node->counts[0] < HnswLayerSlots(0, bs->m))
			node->links0[node->counts[0]++] = near[0];
		else
			ReplaceFarthestLink(bs, u, near[0], indegree, false);
	}
	return true;
}

/*
 * Before the graph is written out, link back every node that layer 0 does
 * not connect to the entry point.  Why: an element no path reaches can
 * never be returned, at any ef_search and by any iterative scan, so a
 * filtered query can come back short although enough rows match.  Pruning
 * leaves such nodes behind whenever every list that held a node's last
 * link back chose others: rare on low-dimensional data, but 0.4 % of a
 * 64-dimension Gaussian's nodes under L2, 1 % of a 128-dimension one under
 * inner product's link distance, and 4 % at m = 4 on 16 dimensions
 * (doc/hnsw.md, "Every element reachable").  Each region
 * cut off costs one search from the entry point; a forced link can cut
 * off another node, so the walk is redone, a few times at most.
 */
static void
LinkUnreachable(HnswBuildState *bs)
{
	int32		entry;
	int			entryLevel;
	bool	   *reached;
	int32	   *queue;
	int32	   *indegree;
	int32	   *near;
	int32		freeCursor;
	int64		linked = 0;
	int64		missing = 0;

	GetEntry(bs, &entry, &entryLevel);
	if (entry < 0 || bs->nnodes < 2)
		return;
	reached = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(bool) * bs->nnodes);
	queue = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * bs->nnodes);
	indegree = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * bs->nnodes);
	near = palloc(sizeof(int32) * bs->efc);
	for (int round = 0;; round++)
	{
		memset(reached, 0, sizeof(bool) * bs->nnodes);
		ReachFromNode(bs, entry, reached, queue);
		missing = 0;
		memset(indegree, 0, sizeof(int32) * bs->nnodes);
		for (int32 id = 0; id < bs->nnodes; id++)
		{
			BuildNode  *node = GetNode(bs, id);

			for (int i = 0; i < node->counts[0]; i++)
				indegree[node->links0[i]]++;
			if (!reached[id] && node->nheaptids > 0)
				missing++;
		}
		if (missing == 0 || round == HNSW_BUILD_RELINK_ROUNDS)
			break;
		freeCursor = 0;
		for (int32 id = 0; id < bs->nnodes; id++)
		{
			if (reached[id] || GetNode(bs, id)->nheaptids == 0)
				continue;
			CHECK_FOR_INTERRUPTS();
			if (LinkNodeBack(bs, id, entry, entryLevel, reached, indegree, &freeCursor, near))
			{
				ReachFromNode(bs, id, reached, queue);
				linked++;
			}
		}
	}
	pfree(reached);
	pfree(queue);
	pfree(indegree);
	pfree(near);
	if (linked > 0)
		ereport(DEBUG1,
				(errmsg_internal("hnsw index \"%s\": linked %lld unreachable nodes back into the graph, %lld left",
								 RelationGetRelationName(bs->index), (long long) linked,
								 (long long) missing)));
}

/*
 * Give the nodes left with fewer than HNSW_SPARSE_LINKS links on layer 0
 * whose region has filled since, the neighbours of a fresh search.  Why: a
 * node inserted while its region of the space was still empty links only to
 * the nearest node of another region (the heuristic prunes the rest, which
 * are all nearer to that one), and the nodes of its region inserted later
 * enter the region by other paths and need never meet it.  It ends with a
 * link or two, found only from the other region: a search in its own
 * region misses it, and an equal vector inserted later does not find it to
 * share its element, so a search for that vector returns one row of the
 * two.  Two separated clusters loaded one after the other left 10-20 of
 * the second one's first nodes so.  Searched now, they get the links a
 * later insert would have got, and links back from those neighbours; their
 * old links stay.
 *
 * Outliers look the same: the heuristic keeps one or two links of a node
 * far from all others, 8 % of Fashion-MNIST's images, and a search for
 * each of those (0.75-1.2 s of a 9-12 s serial build of 60,000, alone in
 * the leader after a parallel build) changes nothing, since nothing nearer
 * exists.  So the search starts 2m wide, and widens to ef_construction
 * and links only if it already found a node nearer than the node's nearest
 * link: its region has filled since.  (The greedy descent alone missed 2
 * of 20 such nodes, an m-wide start one now and then.)  Normal Gaussian
 * data has no sparse nodes (the fewest links on 128 dimensions were 3).
 * Before LinkUnreachable, which mends what the links back prune.
 */
static void
RelinkSparseNodes(HnswBuildState *bs)
{
	int32		entry;
	int			entryLevel;
	int64		sparse = 0;
	int64		relinked = 0;

	GetEntry(bs, &entry, &entryLevel);
	if (entry < 0 || bs->nnodes <= bs->m)
		return;
	for (int32 u = 0; u < bs->nnodes; u++)
	{
		BuildNode  *node = GetNode(bs, u);
		Vector	   *value = NodeVector(bs, u);
		int32		selected[HNSW_MAX_M];
		double		nearestLink = get_float8_infinity();
		int			n = 0;
		int			k = 0;
		int			nselected;

		if (node->nheaptids == 0 || u == entry || node->counts[0] >= HNSW_SPARSE_LINKS)
			continue;
		CHECK_FOR_INTERRUPTS();
		sparse++;
		for (int i = 0; i < node->counts[0]; i++)
			nearestLink = Min(nearestLink, NodeDistance(bs, value, node->links0[i]));
		bs->res.count = 0;
		PairPush(&bs->res, NodeDistance(bs, value, entry), entry);
		for (int layer = entryLevel; layer >= 0; layer--)
			n = SearchLayerInMemory(bs, value, layer > 0 ? 1 : Min(bs->efc, HnswLayerSlots(0, bs->m)), layer);
		for (k = 0; k < n && bs->scratch[k].id == u; k++)
			;
		if (k == n || !(bs->scratch[k].distance < nearestLink))
			continue;
		/* the same search, ef_construction wide (seeded with its results) */
		n = SearchLayerInMemory(bs, value, bs->efc, 0);
		k = 0;
		for (int i = 0; i < n; i++)
			if (bs->scratch[i].id != u && GetNode(bs, bs->scratch[i].id)->nheaptids > 0)
				bs->scratch[k++] = bs->scratch[i];
		nselected = SelectInMemory(bs, bs->scratch, k, bs->m, selected);
		for (int i = 0; i < nselected; i++)
		{
			if (!HasLink0(bs, u, selected[i]))
				AddLinkInMemory(bs, u, selected[i], 0);
			if (!HasLink0(bs, selected[i], u))
				AddLinkInMemory(bs, selected[i], u, 0);
		}
		relinked++;
	}
	if (sparse > 0)
		ereport(DEBUG1,
				(errmsg_internal("hnsw index \"%s\": %lld nodes with fewer than %d links, %lld of them in a region that filled since and searched again",
								 RelationGetRelationName(bs->index), (long long) sparse,
								 HNSW_SPARSE_LINKS, (long long) relinked)));
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

/*
 * Give every element and neighbour tuple its TID, in insert order, and each
 * element its storage format (which sets its size)
 */
static BlockNumber
PlaceTuples(HnswBuildState *bs)
{
	PageCursor	pc = {HNSW_METAPAGE_BLKNO, FirstOffsetNumber, 0};

	CursorNewPage(&pc);
	for (int i = 0; i < bs->nnodes; i++)
	{
		BuildNode  *node = GetNode(bs, i);
		Size		nsize = HNSW_NEIGHBOR_TUPLE_SIZE(node->level, bs->m);
		Size		esize;

		/* A node that turned out to be a duplicate is not written */
		if (node->nheaptids == 0)
			continue;
		node->format = HNSW_FORMAT_IS_NARROW(NodeVector(bs, i)->unused) ? NodeVector(bs, i)->unused :
			HnswChooseFormat(NodeVector(bs, i));
		esize = HnswElementTupleSize(HnswStoredVectorSize(bs->dim, node->format));
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
	HnswElementTuple etup = palloc0(HNSW_ELEMENT_TUPLE_SIZE(bs->dim));
	HnswNeighborTuple ntup = palloc0(HNSW_NEIGHBOR_TUPLE_SIZE(HNSW_MAX_LEVEL, bs->m));
	BlockNumber lastblk;
	Buffer		buf = InvalidBuffer;
	Page		page = NULL;
	Buffer		mbuf;
	HnswMetaPage meta;
	int32		entry;
	int			entryLevel;

	RelinkSparseNodes(bs);
	LinkUnreachable(bs);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_WRITE);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, bs->nnodes);
	lastblk = PlaceTuples(bs);

	for (int i = 0; i < bs->nnodes; i++)
	{
		BuildNode  *node = GetNode(bs, i);
		Vector	   *vec = NodeVector(bs, i);
		Size		nsize = HNSW_NEIGHBOR_TUPLE_SIZE(node->level, bs->m);
		Size		esize;

		CHECK_FOR_INTERRUPTS();
		if (node->nheaptids == 0)
			continue;

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
		if (HNSW_FORMAT_IS_NARROW(vec->unused))
			memcpy(&etup->data, vec, VARSIZE(vec));	/* in its stored form already */
		else
			HnswEncodeVector(vec, node->format, &etup->data);
		esize = HnswElementTupleSize(VARSIZE(&etup->data));

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
	GetEntry(bs, &entry, &entryLevel);
	if (entry >= 0)
	{
		meta->entryBlkno = ItemPointerGetBlockNumber(&GetNode(bs, entry)->etid);
		meta->entryOffno = ItemPointerGetOffsetNumber(&GetNode(bs, entry)->etid);
		meta->entryLevel = entryLevel;
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

/*
 * Per heap tuple: insert into the graph in memory, or on disk after a spill.
 * In a parallel build there is no spill: a row that does not fit in the
 * shared graph is left for the leader to insert afterwards.
 */
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
		if (bs->shared == NULL && !bs->spilled &&
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
		else if (!bs->overflowed && !InsertInMemory(bs, value, tid))
			bs->overflowed = true;
		if (!bs->overflowed)
			bs->indtuples++;
		if ((int64) bs->indtuples % 1000 == 0 && bs->progress)
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE,
										 bs->shared ? (int64) pg_atomic_read_u32(&bs->shared->nnodes) :
										 (int64) bs->indtuples);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpCtx);
}

/* Set up what every build needs, serial or parallel, in the caller's memory */
static void
InitBuildState(HnswBuildState *bs, Relation heap, Relation index, IndexInfo *indexInfo)
{
	MemSet(bs, 0, sizeof(*bs));
	bs->heap = heap;
	bs->index = index;
	bs->indexInfo = indexInfo;
	CheckBuildParameters(index, &bs->dim, &bs->m, &bs->efc);
	HnswInitLinkDistance(index, &bs->dist);
	bs->memLimit = (Size) maintenance_work_mem * 1024;
	bs->entry = -1;
	bs->entryLevel = -1;
	bs->nodeSize = MAXALIGN(offsetof(BuildNode, links0) + sizeof(int32) * 2 * bs->m);
	bs->vecStride = TYPEALIGN(64, VECTOR_SIZE(bs->dim));
	bs->tmpCtx = AllocSetContextCreate(CurrentMemoryContext, "hnsw build temporary context",
									   ALLOCSET_DEFAULT_SIZES);
	PairHeapInit(&bs->cand, bs->efc * 4, false);
	PairHeapInit(&bs->res, bs->efc + 2, true);
	bs->capscratch = bs->efc + 2;
	bs->scratch = palloc(sizeof(BuildPair) * bs->capscratch);
}

/* A serial build's graph: chunks allocated as it grows */
static void
InitLocalGraph(HnswBuildState *bs)
{
	MemoryContext old;

	bs->graphCtx = AllocSetContextCreate(CurrentMemoryContext, "hnsw build graph",
										 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(bs->graphCtx);
	bs->capchunks = 64;
	bs->nodeChunks = palloc(sizeof(char *) * bs->capchunks);
	bs->vecChunks = palloc(sizeof(char *) * bs->capchunks);
	bs->capmarks = NODES_PER_CHUNK;
	bs->marks = palloc0(sizeof(uint32) * bs->capmarks);
	bs->upperCap = 1024;
	bs->upperBase = palloc(sizeof(int32) * bs->upperCap);
	MemoryContextSwitchTo(old);
}

/* Point a participant's graph accessors into the shared graph area */
static void
AttachSharedGraph(HnswBuildState *bs, HnswShared *shared, char *graph)
{
	bs->shared = shared;
	bs->nchunks = shared->capacity / NODES_PER_CHUNK;
	bs->capchunks = bs->nchunks;
	bs->nodeChunks = palloc(sizeof(char *) * bs->nchunks);
	bs->vecChunks = palloc(sizeof(char *) * bs->nchunks);
	for (int i = 0; i < bs->nchunks; i++)
	{
		bs->nodeChunks[i] = graph + (Size) i * NODES_PER_CHUNK * bs->nodeSize;
		bs->vecChunks[i] = graph + shared->vecsOffset + (Size) i * NODES_PER_CHUNK * bs->vecStride;
	}
	bs->upperBase = (int32 *) (graph + shared->upperOffset);
	bs->capmarks = shared->capacity;
	bs->marks = palloc_extended(sizeof(uint32) * bs->capmarks, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
}

/* Scan this participant's share of the heap into the shared graph */
static void
ParallelScanAndInsert(HnswBuildState *bs, bool progress)
{
	HnswShared *shared = bs->shared;
	IndexInfo  *indexInfo = BuildIndexInfo(bs->index);
	TableScanDesc scan;
	double		reltuples;

	indexInfo->ii_Concurrent = shared->isconcurrent;
	bs->progress = progress;
	scan = table_beginscan_parallel(bs->heap, ParallelTableScanFromHnswShared(shared));
	reltuples = table_index_build_scan(bs->heap, bs->index, indexInfo, true, progress,
									   BuildCallback, bs, scan);

	SpinLockAcquire(&shared->mutex);
	shared->nparticipantsdone++;
	shared->reltuples += reltuples;
	shared->indtuples += bs->indtuples;
	if (bs->overflowed)
		shared->full = true;
	SpinLockRelease(&shared->mutex);
	ConditionVariableSignal(&shared->workersdonecv);
}

/* Entry point of a parallel build worker */
PGDLLEXPORT void HnswParallelBuildMain(dsm_segment *seg, shm_toc *toc);

void
HnswParallelBuildMain(dsm_segment *seg, shm_toc *toc)
{
	HnswShared *shared = shm_toc_lookup(toc, PARALLEL_KEY_HNSW_SHARED, false);
	char	   *graph = shm_toc_lookup(toc, PARALLEL_KEY_HNSW_GRAPH, false);
	char	   *query = shm_toc_lookup(toc, PARALLEL_KEY_QUERY_TEXT, true);
	LOCKMODE	heapLockmode = shared->isconcurrent ? ShareUpdateExclusiveLock : ShareLock;
	LOCKMODE	indexLockmode = shared->isconcurrent ? RowExclusiveLock : AccessExclusiveLock;
	Relation	heap;
	Relation	index;
	HnswBuildState bs;

	debug_query_string = query;
	pgstat_report_activity(STATE_RUNNING, debug_query_string);

	heap = table_open(shared->heaprelid, heapLockmode);
	index = index_open(shared->indexrelid, indexLockmode);
	InitBuildState(&bs, heap, index, NULL);
	AttachSharedGraph(&bs, shared, graph);
	ParallelScanAndInsert(&bs, false);

	index_close(index, indexLockmode);
	table_close(heap, heapLockmode);
}

/* Heap scan callback after an overflow: insert on disk what is not indexed */
static void
OverflowCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
				 bool tupleIsAlive, void *state)
{
	HnswBuildState *bs = (HnswBuildState *) state;
	MemoryContext old;
	Vector	   *value;

	if (isnull[0] || HnswVisitedContains(&bs->indexedTids, tid))
		return;
	old = MemoryContextSwitchTo(bs->tmpCtx);
	if (HnswPrepareValue(&bs->dist, values[0], &value))
	{
		HnswInsertOnDisk(index, &bs->dist, value, tid, true);
		bs->indtuples++;
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpCtx);
}

/*
 * How many rows the heap holds now, to size the shared graph.  The row
 * count of the last VACUUM or ANALYZE is scaled to the table's current size,
 * as the planner does, so that rows added since count.  A table that has
 * none (loaded by COPY and indexed at once, the usual way) has the normal
 * line pointers of up to HNSW_ESTIMATE_SAMPLE_PAGES pages spread over it
 * counted instead.  Estimating from the vector's declared size, as the
 * build once did for it, took a table of Fashion-MNIST images, whose
 * vectors PostgreSQL compresses to a third, for a table of a third of its
 * rows: the shared graph filled after 17,664 of 60,000 rows and the rest
 * were inserted on disk, 9.3-10 s against 6.4-7.4 s.  Dead tuples count as
 * rows, which errs on the side of room.  Other table access methods get the
 * declared size when they have no statistics.
 */
static double
EstimateHeapRows(Relation heap, int dim)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(heap);
	BlockNumber nsample = Min(nblocks, HNSW_ESTIMATE_SAMPLE_PAGES);
	double		counted = 0;

	if (nblocks == 0)
		return 0;
	if (heap->rd_rel->reltuples >= 0 && heap->rd_rel->relpages > 0)
		return heap->rd_rel->reltuples / heap->rd_rel->relpages * nblocks;
	if (heap->rd_rel->relam != HEAP_TABLE_AM_OID)
		return (double) nblocks * (BLCKSZ / (MAXALIGN(VECTOR_SIZE(dim)) + 32));

	for (BlockNumber i = 0; i < nsample; i++)
	{
		/* evenly spread, the first and the last page included */
		BlockNumber blkno = nsample == 1 ? 0 :
			(BlockNumber) ((uint64) i * (nblocks - 1) / (nsample - 1));
		Buffer		buf = ReadBufferExtended(heap, MAIN_FORKNUM, blkno, RBM_NORMAL, NULL);
		Page		page;
		OffsetNumber maxoff;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		maxoff = PageIsNew(page) ? InvalidOffsetNumber : PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
			if (ItemIdIsNormal(PageGetItemId(page, off)))
				counted++;
		UnlockReleaseBuffer(buf);
	}
	return counted / nsample * nblocks;
}

/*
 * Build with workers, the graph in shared memory.  False, having done
 * nothing, when the shared graph would not fit in maintenance_work_mem or
 * no shared memory segment could be had; the caller then builds serially.
 */
static bool
BuildParallel(HnswBuildState *bs, int nworkers)
{
	Relation	heap = bs->heap;
	double		estimate;
	uint32		capacity;
	uint32		upperCapacity;
	Size		vecsOffset;
	Size		upperOffset;
	Size		graphSize;
	Size		sharedSize;
	Snapshot	snapshot;
	ParallelContext *pcxt;
	HnswShared *shared;
	char	   *graph;
	char	   *query = NULL;
	int			nparticipants;

	/* Room for the estimated rows with some margin */
	estimate = EstimateHeapRows(heap, bs->dim);
	estimate = estimate * 1.1 + NODES_PER_CHUNK;
	if (estimate > (double) (PG_INT32_MAX / 2))
		return false;
	capacity = TYPEALIGN(NODES_PER_CHUNK, (uint32) estimate);
	upperCapacity = capacity * 2 + 1024;
	vecsOffset = TYPEALIGN(64, (Size) capacity * bs->nodeSize);
	upperOffset = vecsOffset + (Size) capacity * bs->vecStride;
	graphSize = upperOffset + (Size) upperCapacity * sizeof(int32);
	if (graphSize > bs->memLimit)
	{
		elog(DEBUG1, "hnsw graph of %zu bytes does not fit in maintenance_work_mem: building serially",
			 graphSize);
		return false;
	}

	snapshot = bs->indexInfo->ii_Concurrent ? RegisterSnapshot(GetTransactionSnapshot()) :
		SnapshotAny;

	EnterParallelMode();
	pcxt = CreateParallelContext("vectorpg", "HnswParallelBuildMain", nworkers);
	sharedSize = BUFFERALIGN(sizeof(HnswShared)) + table_parallelscan_estimate(heap, snapshot);
	shm_toc_estimate_chunk(&pcxt->estimator, sharedSize);
	shm_toc_estimate_chunk(&pcxt->estimator, graphSize);
	if (debug_query_string)
		shm_toc_estimate_chunk(&pcxt->estimator, strlen(debug_query_string) + 1);
	shm_toc_estimate_keys(&pcxt->estimator, 3);
	InitializeParallelDSM(pcxt);
	if (pcxt->seg == NULL)
	{
		if (IsMVCCSnapshot(snapshot))
			UnregisterSnapshot(snapshot);
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		return false;
	}

	shared = shm_toc_allocate(pcxt->toc, sharedSize);
	MemSet(shared, 0, sizeof(HnswShared));
	shared->heaprelid = RelationGetRelid(heap);
	shared->indexrelid = RelationGetRelid(bs->index);
	shared->isconcurrent = bs->indexInfo->ii_Concurrent;
	shared->capacity = capacity;
	shared->upperCapacity = upperCapacity;
	shared->vecsOffset = vecsOffset;
	shared->upperOffset = upperOffset;
	SpinLockInit(&shared->mutex);
	shared->entry = -1;
	shared->entryLevel = -1;
	ConditionVariableInit(&shared->workersdonecv);
	pg_atomic_init_u32(&shared->nnodes, 0);
	pg_atomic_init_u32(&shared->upperUsed, 0);
	table_parallelscan_initialize(heap, ParallelTableScanFromHnswShared(shared), snapshot);
	graph = shm_toc_allocate(pcxt->toc, graphSize);
	shm_toc_insert(pcxt->toc, PARALLEL_KEY_HNSW_SHARED, shared);
	shm_toc_insert(pcxt->toc, PARALLEL_KEY_HNSW_GRAPH, graph);
	if (debug_query_string)
	{
		query = shm_toc_allocate(pcxt->toc, strlen(debug_query_string) + 1);
		strcpy(query, debug_query_string);
		shm_toc_insert(pcxt->toc, PARALLEL_KEY_QUERY_TEXT, query);
	}

	LaunchParallelWorkers(pcxt);
	nparticipants = pcxt->nworkers_launched + 1;
	ereport(DEBUG1,
			(errmsg_internal("using %d parallel workers", pcxt->nworkers_launched)));

	/* The leader takes its share too */
	AttachSharedGraph(bs, shared, graph);
	ParallelScanAndInsert(bs, true);

	for (;;)
	{
		bool		done;

		SpinLockAcquire(&shared->mutex);
		done = shared->nparticipantsdone == nparticipants;
		SpinLockRelease(&shared->mutex);
		if (done)
			break;
		ConditionVariableSleep(&shared->workersdonecv, WAIT_EVENT_PARALLEL_CREATE_INDEX_SCAN);
	}
	ConditionVariableCancelSleep();
	WaitForParallelWorkersToFinish(pcxt);

	bs->reltuples = shared->reltuples;
	bs->indtuples = shared->indtuples;
	bs->nnodes = Min(pg_atomic_read_u32(&shared->nnodes), capacity);
	WriteGraph(bs, MAIN_FORKNUM);

	/*
	 * Rows that did not fit: insert them on disk now.  The segment was sized
	 * within maintenance_work_mem, so it is the row estimate that fell short:
	 * statistics taken when the rows were wider than now, say, or a table
	 * whose pages differ from the sampled ones.
	 */
	if (shared->full)
	{
		ereport(NOTICE,
				(errmsg("hnsw graph in shared memory is full after %.0f tuples", bs->indtuples),
				 errdetail("It was sized for %u rows from the table's estimated row count; the remaining rows are inserted one at a time, which takes significantly more time.",
						   capacity),
				 errhint("Run ANALYZE on the table before building the index, so that its row count is known.")));
		HnswVisitedInit(&bs->indexedTids, bs->nnodes * 2);
		for (int i = 0; i < bs->nnodes; i++)
		{
			BuildNode  *node = GetNode(bs, i);

			for (int j = 0; j < node->nheaptids; j++)
				HnswVisitedAdd(&bs->indexedTids, &node->heaptids[j]);
		}
		bs->indtuples = 0;
		for (int i = 0; i < bs->nnodes; i++)
			bs->indtuples += GetNode(bs, i)->nheaptids;
		bs->shared = NULL;
		bs->reltuples = table_index_build_scan(heap, bs->index, bs->indexInfo, true, true,
											   OverflowCallback, bs, NULL);
	}

	if (IsMVCCSnapshot(snapshot))
		UnregisterSnapshot(snapshot);
	DestroyParallelContext(pcxt);
	ExitParallelMode();
	return true;
}

/* ambuild: build a new hnsw index over the existing rows */
IndexBuildResult *
hnswbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	HnswBuildState bs;
	int			nworkers = 0;

	InitBuildState(&bs, heap, index, indexInfo);
	bs.progress = true;
	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));
	CreateMetaPage(index, MAIN_FORKNUM, bs.dim, bs.m, bs.efc);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_LOAD);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL,
								 (int64) Max(heap->rd_rel->reltuples, 0));

	nworkers = plan_create_index_workers(RelationGetRelid(heap), RelationGetRelid(index));

	if (nworkers == 0 || !BuildParallel(&bs, nworkers))
	{
		InitLocalGraph(&bs);
		bs.reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
											  BuildCallback, &bs, NULL);
		if (!bs.spilled)
			WriteGraph(&bs, MAIN_FORKNUM);
	}

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
