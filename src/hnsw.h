/*-------------------------------------------------------------------------
 *
 * hnsw.h
 *	  Module header of the hnsw index access method: limits, the on-disk
 *	  format, the in-memory search structures and the prototypes that the
 *	  hnsw*.c files share.
 *
 * On-disk format (version HNSW_VERSION)
 * -------------------------------------
 * Block 0 is the metapage (HnswMetaPageData).  Every other block is a data
 * page holding two kinds of tuples, each a plain item on a standard page:
 *
 *	- an element tuple per indexed vector: up to HNSW_HEAPTIDS heap TIDs
 *	  (identical vectors share one element), the element's level, a deleted
 *	  flag, the TID of its neighbour tuple, and the vector itself, stored
 *	  losslessly in the narrowest of float4, float2, bfloat16, int8 and
 *	  uint8 that holds its values exactly (hnswcodec.c; the format sits in
 *	  the Vector header's reserved field);
 *	- a neighbour tuple per element: (level + 2) * m slots of index TIDs,
 *	  2 * m for layer 0 and m for each layer above, unused slots invalid.
 *
 * The two tuples of an element are put on the same page whenever they fit,
 * so that expanding a node costs one buffer access.  Elements freed by
 * vacuum become HNSW_FREE tuples whose space a later insert reuses.  Every
 * page carries HnswPageOpaqueData with HNSW_PAGE_ID in its special space;
 * the metapage carries a magic number and the format version, checked on
 * every read.
 *
 * The search finds its way with fast float4 distances, but every value it
 * returns to the executor is computed exactly as the ordering operator
 * computes it (same float8 kernels, same vectors), and results are returned
 * in the order of those values; nothing needs a recheck.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef HNSW_H
#define HNSW_H

#include "postgres.h"

#include "access/amapi.h"
#include "access/generic_xlog.h"
#include "access/reloptions.h"
#include "lib/pairingheap.h"
#include "nodes/execnodes.h"
#include "storage/bufmgr.h"
#include "utils/relcache.h"
#include "vectorpg.h"

/* Tunables: min / default / max, shared by reloptions, GUCs and tests */
#define HNSW_MIN_M					2
#define HNSW_DEFAULT_M				16
#define HNSW_MAX_M					100
#define HNSW_MIN_EF_CONSTRUCTION	4
#define HNSW_DEFAULT_EF_CONSTRUCTION 64
#define HNSW_MAX_EF_CONSTRUCTION	1000
#define HNSW_MIN_EF_SEARCH			1
#define HNSW_DEFAULT_EF_SEARCH		40
#define HNSW_MAX_EF_SEARCH			1000

/* How wide a query searches layer 1 (HnswQueryLayerEf) */
#define HNSW_LAYER1_EF				4

/*
 * How wide a query searches `layer` for a width of ef on layer 0: 1 (the
 * greedy descent of the HNSW paper) above layer 1, up to HNSW_LAYER1_EF on
 * layer 1, whose results all enter layer 0.  Why: on clustered data the
 * greedy descent can end in a neighbouring cluster, and layer 0 seldom
 * leaves it; a few entries into layer 0 put one in the right cluster.  On
 * a 128-dimension Gaussian mixture that gave recall@10 0.987 at ef_search
 * 40 against 0.974, for 1 % more elements visited; on Fashion-MNIST, the
 * same recall for 4 % more (doc/hnsw.md, Scans).  Scans and the searches
 * that stand for them (HnswSearchFinds) share it.
 */
static inline int
HnswQueryLayerEf(int layer, int ef)
{
	return layer == 0 ? ef : layer == 1 ? Min(ef, HNSW_LAYER1_EF) : 1;
}

#define HNSW_MIN_MAX_SCAN_TUPLES	1
#define HNSW_DEFAULT_MAX_SCAN_TUPLES 20000
#define HNSW_MAX_MAX_SCAN_TUPLES	INT_MAX
#define HNSW_MIN_FINDABILITY_SAMPLE	1
#define HNSW_DEFAULT_FINDABILITY_SAMPLE 1000
#define HNSW_MAX_FINDABILITY_SAMPLE	1000000
#define HNSW_MIN_SCAN_MEM_MULTIPLIER 1.0
#define HNSW_DEFAULT_SCAN_MEM_MULTIPLIER 1.0
#define HNSW_MAX_SCAN_MEM_MULTIPLIER 1000.0

/*
 * hnsw.debug_stale_peeks: every Nth element that entered a layer search's
 * results on an unlocked peek is taken, when read under its lock, as changed
 * since the peek (0: never).  Assertion-enabled builds only, like
 * PostgreSQL's debug_discard_caches: the race it stands for (vacuum
 * reusing the slot between the two reads) cannot be timed by a test.
 */
#define HNSW_MIN_DEBUG_STALE_PEEKS	0
#define HNSW_DEFAULT_DEBUG_STALE_PEEKS 0
#define HNSW_MAX_DEBUG_STALE_PEEKS	1000

/* Largest vector the index holds: an element tuple must fit on a page */
#define HNSW_MAX_DIM				2000

/*
 * Walks of the in-memory graph by which a build links back the nodes layer
 * 0 does not connect to the entry point (hnswbuild.c, LinkUnreachable):
 * one nearly always suffices; a forced link can cut off another node
 */
#define HNSW_BUILD_RELINK_ROUNDS	8

/*
 * An element with fewer links than this on layer 0 is searched for again:
 * by the build, which links it to what the search finds (hnswbuild.c,
 * RelinkSparseNodes), and by vacuum's walk, which links it from where the
 * search ended if the search did not find it (hnswvacuum.c, pass 2c)
 */
#define HNSW_SPARSE_LINKS			3

/* Identical vectors share an element, up to this many heap TIDs */
#define HNSW_HEAPTIDS				10

/*
 * A layer search prefetches this much of each neighbour's element tuple
 * (all of it for up to ~250 dimensions): more would evict what the search
 * is still using
 */
#define HNSW_PREFETCH_MAX_BYTES		1024

/*
 * ef of the search by which an UPDATE that kept the vector finds the
 * element to add its new heap TID to (hnswinsert.c)
 */
#define HNSW_UNCHANGED_EF			16

/* Most byte ranges of a page that one HnswLogRanges record names */
#define HNSW_MAX_LOG_RANGES			4

/* Levels are capped so that a neighbour tuple always fits on a page */
#define HNSW_MAX_LEVEL				16

/*
 * Seed of the hash an element's level is drawn from (HnswElementLevel).
 * Changing it changes every graph built afterwards, never an existing one.
 */
#define HNSW_LEVEL_SEED				UINT64CONST(0x7670676c6576656c)	/* "vpglevel" */

/* On-disk identification */
#define HNSW_MAGIC_NUMBER			0x56504748	/* "VPGH" */
#define HNSW_VERSION				2	/* 2: compact vector formats */
#define HNSW_PAGE_ID				0xFF91
#define HNSW_METAPAGE_BLKNO			0

/*
 * Heavyweight lock on this (nonexistent) page: inserts hold it shared,
 * anything that moves the entry point holds it exclusively.
 */
#define HNSW_UPDATE_LOCK			(MaxBlockNumber - 1)

/* Tuple types */
#define HNSW_ELEMENT_TUPLE			1
#define HNSW_NEIGHBOR_TUPLE			2
#define HNSW_FREE_TUPLE				3	/* an element freed by vacuum */
#define HNSW_FREE_NEIGHBOR_TUPLE	4	/* its neighbour tuple, freed with it */

/* Build phases reported in pg_stat_progress_create_index */
#define PROGRESS_HNSW_PHASE_LOAD		2
#define PROGRESS_HNSW_PHASE_WRITE		3

/* Values of hnsw.iterative_scan */
typedef enum HnswIterativeScan
{
	HNSW_ITERATIVE_SCAN_OFF,
	HNSW_ITERATIVE_SCAN_RELAXED,
	HNSW_ITERATIVE_SCAN_STRICT
} HnswIterativeScan;

/* GUCs (hnsw.c) */
extern int	hnsw_ef_search;
extern int	hnsw_iterative_scan;
extern int	hnsw_max_scan_tuples;
extern double hnsw_scan_mem_multiplier;
extern int	hnsw_debug_stale_peeks;

/* Reloptions as build_reloptions fills them */
typedef struct HnswOptions
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int			m;
	int			efConstruction;
} HnswOptions;

/* Metapage contents */
typedef struct HnswMetaPageData
{
	uint32		magicNumber;
	uint32		version;
	uint32		dimensions;
	uint16		m;
	uint16		efConstruction;
	BlockNumber entryBlkno;		/* entry point element, or InvalidBlockNumber */
	OffsetNumber entryOffno;
	int16		entryLevel;		/* -1 when the graph is empty */
	BlockNumber insertPage;		/* last data page, where appends go */
	BlockNumber freeHint;		/* first page that may hold a free slot */
	BlockNumber walkedBlocks;	/* index size when vacuum last walked layer 0
								 * (0: never); vacuum walks again once the
								 * index has grown past it */
	uint32		unused[3];		/* reserved for later versions, zero */
} HnswMetaPageData;

typedef HnswMetaPageData *HnswMetaPage;

/* Special space of every page */
typedef struct HnswPageOpaqueData
{
	BlockNumber nextblkno;		/* next data page, InvalidBlockNumber at the end */
	uint16		unused;
	uint16		page_id;		/* HNSW_PAGE_ID */
} HnswPageOpaqueData;

typedef HnswPageOpaqueData *HnswPageOpaque;

#define HnswPageGetOpaque(page)	((HnswPageOpaque) PageGetSpecialPointer(page))
#define HnswPageGetMeta(page)	((HnswMetaPage) PageGetContents(page))

/* An element tuple: one indexed vector */
typedef struct HnswElementTupleData
{
	uint8		type;			/* HNSW_ELEMENT_TUPLE or HNSW_FREE_TUPLE */
	uint8		level;
	uint8		deleted;		/* no live heap TIDs left; awaiting repair */
	uint8		unused;
	ItemPointerData heaptids[HNSW_HEAPTIDS];	/* unused ones invalid */
	ItemPointerData neighbortid;	/* this element's neighbour tuple */
	uint16		unused2;
	Vector		data;			/* the vector; must be last */
} HnswElementTupleData;

typedef HnswElementTupleData *HnswElementTuple;

/* A neighbour tuple: the element's links, layer 0 first */
typedef struct HnswNeighborTupleData
{
	uint8		type;			/* HNSW_NEIGHBOR_TUPLE */
	uint8		unused;
	uint16		count;			/* number of slots */
	ItemPointerData tids[FLEXIBLE_ARRAY_MEMBER];
} HnswNeighborTupleData;

typedef HnswNeighborTupleData *HnswNeighborTuple;

/* Largest element tuple of a dimension (float4 storage) */
#define HNSW_ELEMENT_TUPLE_SIZE(dim) \
	MAXALIGN(offsetof(HnswElementTupleData, data) + VECTOR_SIZE(dim))

/* Storage formats of the vector in an element tuple (hnswcodec.c) */
#define HNSW_FORMAT_F32		0
#define HNSW_FORMAT_U8		1
#define HNSW_FORMAT_I8		2
#define HNSW_FORMAT_F16		3
#define HNSW_FORMAT_BF16	4
#define HNSW_FORMAT_MAX		HNSW_FORMAT_BF16

/* Whether a format is one of the byte formats, which the byte kernels read */
#define HNSW_FORMAT_IS_BYTES(f) ((f) == HNSW_FORMAT_U8 || (f) == HNSW_FORMAT_I8)

/* Whether a format is narrower than float4, and its VectorNarrowType */
#define HNSW_FORMAT_IS_NARROW(f) ((f) >= HNSW_FORMAT_U8 && (f) <= HNSW_FORMAT_MAX)
#define HNSW_FORMAT_NARROW(f) ((VectorNarrowType) ((f) - HNSW_FORMAT_U8))
StaticAssertDecl(HNSW_FORMAT_U8 - HNSW_FORMAT_U8 == VECTOR_NARROW_U8 &&
				 HNSW_FORMAT_I8 - HNSW_FORMAT_U8 == VECTOR_NARROW_I8 &&
				 HNSW_FORMAT_F16 - HNSW_FORMAT_U8 == VECTOR_NARROW_F16 &&
				 HNSW_FORMAT_BF16 - HNSW_FORMAT_U8 == VECTOR_NARROW_BF16,
				 "hnsw's narrow formats follow VectorNarrowType");

/* Room for a stored vector widened back to float4 */
typedef union HnswVectorBuf
{
	Vector		v;
	char		bytes[offsetof(Vector, x) + sizeof(float) * HNSW_MAX_DIM];
} HnswVectorBuf;
#define HNSW_NEIGHBOR_TUPLE_SIZE(level, m) \
	MAXALIGN(offsetof(HnswNeighborTupleData, tids) + \
			 sizeof(ItemPointerData) * HnswSlotCount(level, m))

/* Slots of layer `layer` start here in a neighbour tuple */
static inline int
HnswLayerStart(int layer, int m)
{
	return layer == 0 ? 0 : 2 * m + (layer - 1) * m;
}

/* Slots of one layer */
static inline int
HnswLayerSlots(int layer, int m)
{
	return layer == 0 ? 2 * m : m;
}

/* All slots of an element of the given level */
static inline int
HnswSlotCount(int level, int m)
{
	return (level + 2) * m;
}

/*
 * How distances are computed for an index.  Our own opclasses map to a
 * kernel directly; any other support function is called through fmgr.
 */
typedef enum HnswMetric
{
	HNSW_METRIC_L2,				/* squared internally, sqrt for ORDER BY */
	HNSW_METRIC_IP,				/* negative inner product */
	HNSW_METRIC_COSINE,
	HNSW_METRIC_L1,
	HNSW_METRIC_IP_LINK,		/* inner product's link distance (HnswInitLinkDistance) */
	HNSW_METRIC_OTHER			/* support function 1 through fmgr */
} HnswMetric;

/* Per-index distance state */
typedef struct HnswDistance
{
	HnswMetric	metric;
	FmgrInfo   *procinfo;		/* support function 1, for HNSW_METRIC_OTHER */
	FmgrInfo   *normprocinfo;	/* support function 2 (norm) or NULL */
	Oid			collation;

	/*
	 * The query as bytes, when HnswSetQueryBytes found every value of it to
	 * be one: distances from that query (bytesOf, and no other vector) to
	 * elements stored in a byte format it also fits (bytesForms, bits
	 * 1 << HNSW_FORMAT_U8 and/or 1 << HNSW_FORMAT_I8) are taken in integers,
	 * about twice as fast as widening them.  NULL otherwise.
	 */
	const Vector *bytesOf;
	int			bytesForms;
	uint8		bytes[HNSW_MAX_DIM];
} HnswDistance;

/* One node of an in-progress search: an element met on disk */
typedef struct HnswCandidate
{
	double		distance;		/* traversal distance (squared for L2) */
	double		exact;			/* exact distance, if HNSW_CAND_EXACT */
	ItemPointerData tid;		/* element tuple */
	ItemPointerData neighbortid;
	uint8		level;
	bool		deleted;
	uint8		nheaptids;
	ItemPointerData heaptids[HNSW_HEAPTIDS];
	uint8		flags;			/* HNSW_CAND_* search state */
	Vector	   *vec;			/* copy of the vector, when asked for */
	ItemPointerData *nbrs;		/* raw copy of its slots on nbrLayer (in vec's
								 * allocation), or NULL */
	int			nbrLayer;
} HnswCandidate;

/* Search state of a candidate */
#define HNSW_CAND_EXPANDED		0x01	/* its neighbours were visited */
#define HNSW_CAND_DISCARDED		0x02	/* sits in the discarded heap */
#define HNSW_CAND_RETURNED		0x04	/* handed to the executor */
#define HNSW_CAND_EXACT			0x08	/* exact is set */
#define HNSW_CAND_PEEKED		0x10	/* only distance and tid set: read when expanded */

/*
 * Visited set: open addressing over element TIDs, sized up as it fills.
 */
typedef struct HnswVisited
{
	uint64	   *keys;			/* 0 = empty */
	uint32		mask;
	uint32		count;
} HnswVisited;

/*
 * Marks of a walk of the graph from the entry point (hnswreach.c): one bit
 * per line pointer of the first nblocks blocks for layer 0, and the walk's
 * queue.
 */
typedef struct HnswReach
{
	BlockNumber nblocks;
	uint8	   *bits;
	ItemPointerData *queue;
	Size		queueSize;
} HnswReach;

/*
 * An entry of a candidate heap: the ordering key sits next to the pointer,
 * so that sifting compares without reaching into each candidate, often a
 * cache miss (measured: 3-4 % of an insert).  The key is the distance,
 * negated in a max-heap, so both kinds sift the same way.
 */
typedef struct HnswHeapItem
{
	double		key;
	HnswCandidate *c;
} HnswHeapItem;

/* A binary heap of candidates, min- or max-ordered on distance */
typedef struct HnswHeap
{
	HnswHeapItem *items;
	int			count;
	int			capacity;
	bool		max;			/* true: largest distance on top */
} HnswHeap;

/*
 * A change to up to four pages: WAL-logged as one generic record after the
 * build, written directly (and logged wholesale at its end) during it.
 */
typedef struct HnswEdit
{
	GenericXLogState *state;	/* NULL while building */
	int			nbuffers;
	Buffer		buffers[MAX_GENERIC_XLOG_PAGES];
} HnswEdit;

/* hnsw.c */
extern void HnswInit(void);
extern int	HnswGetM(Relation index);
extern int	HnswGetEfConstruction(Relation index);
extern IndexBuildResult *hnswbuild(Relation heap, Relation index, struct IndexInfo *indexInfo);
extern void hnswbuildempty(Relation index);
extern bool hnswinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
					   Relation heap, IndexUniqueCheck checkUnique, bool indexUnchanged,
					   struct IndexInfo *indexInfo);
extern IndexBulkDeleteResult *hnswbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
											 IndexBulkDeleteCallback callback, void *callback_state);
extern IndexBulkDeleteResult *hnswvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats);
extern IndexScanDesc hnswbeginscan(Relation index, int nkeys, int norderbys);
extern void hnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);
extern bool hnswgettuple(IndexScanDesc scan, ScanDirection dir);
extern void hnswendscan(IndexScanDesc scan);

/* hnswcodec.c */
extern int	HnswFittingFormats(const Vector *v);
extern uint8 HnswChooseFormat(const Vector *v);
extern Size HnswStoredVectorSize(int dim, uint8 format);
extern Size HnswElementTupleSize(Size storedSize);
extern void HnswEncodeVector(const Vector *v, uint8 format, Vector *out);
extern const Vector *HnswStoredVector(const Vector *stored, HnswVectorBuf *buf);
extern const char *HnswFormatName(uint8 format);

/* hnswutils.c */
extern void HnswInitDistance(Relation index, HnswDistance *dist);
extern void HnswSetQueryBytes(HnswDistance *dist, const Vector *query);
extern double HnswStoredDistance(const HnswDistance *dist, const Vector *a, const Vector *b);
extern void HnswInitLinkDistance(Relation index, HnswDistance *dist);
extern double HnswDistanceTo(const HnswDistance *dist, const Vector *query, const Vector *vec);
extern double HnswTraversalDistance(const HnswDistance *dist, const Vector *a, const Vector *b);
extern Buffer HnswPinBlock(Relation index, BlockNumber blkno);
extern double HnswOrderByValue(const HnswDistance *dist, double internal);
extern bool HnswPrepareValue(const HnswDistance *dist, Datum value, Vector **out);
extern int	HnswElementLevel(const Vector *value, ItemPointer heaptid, int m);
extern uint8 HnswChooseQueryFormat(const HnswDistance *dist, const Vector *v);
extern void HnswInitPage(Page page, Size pageSize);
extern bool HnswCheckPage(Relation index, Page page, BlockNumber blkno);
extern int	HnswPageLiveElements(Relation index, BufferAccessStrategy strategy,
								 BlockNumber blkno, ItemPointerData **out, bool **sparse);
extern void HnswReadMeta(Relation index, HnswMetaPageData *meta);
extern Buffer HnswNewBuffer(Relation index, ForkNumber forkNum);
extern void HnswVisitedInit(HnswVisited *v, int expected);
extern void HnswVisitedGrow(HnswVisited *v);
extern bool HnswVisitedContains(HnswVisited *v, ItemPointer tid);
extern void HnswHeapInit(HnswHeap *h, int capacity, bool max);
extern void HnswHeapGrow(HnswHeap *h);
extern void HnswDiscard(HnswHeap *discarded, HnswCandidate *c);

/*
 * The visited set's and the candidate heaps' operations run for every
 * element a search meets, a thousand times an insert: inline here, their
 * rare growth out of line (hnswutils.c).  As calls, their prologues and
 * epilogues were a third of the visited set's instructions.
 */

/*
 * A TID as one number: the key of the visited set and of vacuum's stand-in
 * map (never 0 for a valid TID), and part of the level hash's seed
 */
static inline uint64
HnswTidKey(ItemPointer tid)
{
	return ((uint64) ItemPointerGetBlockNumberNoCheck(tid) << 16) |
		ItemPointerGetOffsetNumberNoCheck(tid);
}

/* The slot a key's probe starts at */
static inline uint32
HnswVisitedSlot(const HnswVisited *v, uint64 key)
{
	return (uint32) ((key * UINT64CONST(0x9E3779B97F4A7C15)) >> 32) & v->mask;
}

/* Add a TID; false if it was already there */
static inline bool
HnswVisitedAdd(HnswVisited *v, ItemPointer tid)
{
	uint64		key = HnswTidKey(tid);
	uint32		i;

	if (unlikely((v->count + 1) * 2 > v->mask + 1))
		HnswVisitedGrow(v);
	for (i = HnswVisitedSlot(v, key);; i = (i + 1) & v->mask)
	{
		if (v->keys[i] == key)
			return false;
		if (v->keys[i] == 0)
		{
			v->keys[i] = key;
			v->count++;
			return true;
		}
	}
}

/*
 * Add a candidate.  Keys compare with <, which a NaN distance never
 * satisfies either way, as the plain distances did.
 */
static inline void
HnswHeapPush(HnswHeap *h, HnswCandidate *c)
{
	HnswHeapItem item;
	int			i;

	if (unlikely(h->count == h->capacity))
		HnswHeapGrow(h);
	item.key = h->max ? -c->distance : c->distance;
	item.c = c;
	i = h->count++;
	while (i > 0)
	{
		int			parent = (i - 1) / 2;

		if (!(item.key < h->items[parent].key))
			break;
		h->items[i] = h->items[parent];
		i = parent;
	}
	h->items[i] = item;
}

/* Remove and return the top candidate, or NULL */
static inline HnswCandidate *
HnswHeapPop(HnswHeap *h)
{
	HnswCandidate *top;
	HnswHeapItem last;
	int			i = 0;

	if (h->count == 0)
		return NULL;
	top = h->items[0].c;
	last = h->items[--h->count];
	for (;;)
	{
		int			child = 2 * i + 1;

		if (child >= h->count)
			break;
		if (child + 1 < h->count && h->items[child + 1].key < h->items[child].key)
			child++;
		if (!(h->items[child].key < last.key))
			break;
		h->items[i] = h->items[child];
		i = child;
	}
	if (h->count > 0)
		h->items[i] = last;
	return top;
}

static inline HnswCandidate *
HnswHeapTop(HnswHeap *h)
{
	return h->count > 0 ? h->items[0].c : NULL;
}

extern void HnswEditStart(HnswEdit *edit, Relation index, bool building);
extern Page HnswEditPage(HnswEdit *edit, Buffer buf, bool isNew);
extern void HnswEditFinish(HnswEdit *edit);
extern void HnswEditAbort(HnswEdit *edit);
extern void HnswLogRanges(Relation index, Buffer buf, int nranges, const uint16 *offsets,
						  const uint16 *lengths, bool building);
extern bool HnswLoadCandidate(Relation index, const HnswDistance *dist, const Vector *query,
							  ItemPointer tid, bool wantVector, HnswCandidate *out);
extern int	HnswReadLayer(Relation index, ItemPointer ntid, int layer, int m,
						  ItemPointerData *out);
extern int	HnswLoadNeighbors(Relation index, HnswCandidate *c, int layer, int m,
							  ItemPointerData *out);
extern void HnswSearchLayer(Relation index, const HnswDistance *dist, const Vector *query,
							HnswHeap *candidates, int ef, int layer, int m, bool wantVectors,
							bool wantExact, bool untilQuery, HnswVisited *visited, HnswHeap *results,
							HnswHeap *discarded, int64 *tuples_seen);
extern HnswCandidate **HnswDescendLayer(Relation index, const HnswDistance *dist,
										const Vector *query, HnswHeap *candidates,
										HnswHeap *results, int ef, int layer, int m,
										bool untilQuery, int expected, int *n);
extern int	HnswSelectNeighbors(const HnswDistance *dist, HnswCandidate **candidates,
								int ncandidates, int keep, HnswCandidate **selected);

/* hnswreach.c */
extern void HnswReachInit(HnswReach *r, BlockNumber nblocks);
extern void HnswReachFree(HnswReach *r);
extern bool HnswReachTest(HnswReach *r, ItemPointer tid);
extern int	HnswReadLiveLinks(Relation index, ItemPointer tid, int layer, int m,
							  ItemPointerData *out);
extern int64 HnswReachFrom(Relation index, HnswReach *r, ItemPointer start, int level, int m);
extern bool HnswSearchFinds(Relation index, const HnswDistance *dist,
							const HnswMetaPageData *meta, int ef,
							HnswCandidate *self, HnswCandidate ***sorted, int *n);

/* hnswinsert.c */
extern bool HnswWriteLayer(Relation index, ItemPointer ntid, int layer, int m,
						   ItemPointerData *expected, ItemPointerData *tids, bool building);
extern void HnswSortCandidates(HnswCandidate **cands, int n);
extern void HnswAddBackLink(Relation index, const HnswDistance *dist, HnswCandidate *n, int layer,
							int m, ItemPointer newtid, Vector *newvec, bool building);
extern void HnswInsertOnDisk(Relation index, HnswDistance *dist, Vector *value,
							 ItemPointer heaptid, bool building);

/* hnswdefer.c */
extern void HnswDeferInit(void);
extern bool HnswDeferInsert(Relation index, Relation heap, Vector *value, ItemPointer heaptid);
extern void HnswApplyDeferredFor(Relation index);

/* hnswbuild.c: index tuples per page estimate for the cost model */
extern double HnswTuplesPerPage(int dim, int m);

#endif							/* HNSW_H */
