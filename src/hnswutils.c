/*-------------------------------------------------------------------------
 *
 * hnswutils.c
 *	  Algorithms and helpers shared by the hnsw build, insert, scan, vacuum
 *	  and check code: distances, pages and the metapage, the visited set and
 *	  candidate heaps, the layer search and neighbour selection on disk.
 *
 * The layer search is the textbook HNSW greedy best-first search (Malkov &
 * Yashunin, 2018), extended for iterative scans: every element it visits
 * but does not keep goes to a "discarded" heap, from which the next round
 * of an iterative scan resumes.  Each candidate records whether it sits in
 * the candidate heap, the result heap, or has been expanded, so that no
 * element is ever returned twice.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/itup.h"
#include "access/relscan.h"
#include "access/rmgr.h"
#include "access/xloginsert.h"
#include "utils/float.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/buf_internals.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/rel.h"
#include "hnsw.h"

/* ------------------------------------------------------------------------
 * Distances
 * ------------------------------------------------------------------------
 */

/*
 * Work out how the index computes distances.  Our own distance functions map
 * to kernels; anything else is called through fmgr.
 */
void
HnswInitDistance(Relation index, HnswDistance *dist)
{
	FmgrInfo   *proc = index_getprocinfo(index, 1, 1);
	PGFunction	fn = proc->fn_addr;

	dist->procinfo = proc;
	dist->collation = index->rd_indcollation[0];
	dist->bytesOf = NULL;
	dist->bytesForms = 0;
	dist->normprocinfo = OidIsValid(index_getprocid(index, 1, 2)) ?
		index_getprocinfo(index, 1, 2) : NULL;

	if (fn == l2_distance || fn == vector_l2_squared_distance)
		dist->metric = HNSW_METRIC_L2;
	else if (fn == vector_negative_inner_product)
		dist->metric = HNSW_METRIC_IP;
	else if (fn == cosine_distance)
		dist->metric = HNSW_METRIC_COSINE;
	else if (fn == l1_distance)
		dist->metric = HNSW_METRIC_L1;
	else
		dist->metric = HNSW_METRIC_OTHER;
}

/*
 * The distance the graph is built with: the search distance, except for
 * inner product.  Negative inner product is no distance between two stored
 * vectors (a long vector is "nearer" to everything than a vector is to
 * itself), so linking by it makes the longest vectors everyone's neighbours
 * and the neighbour heuristic prunes the rest: a build of 20,000
 * Fashion-MNIST images left 17,937 of them unreachable, and recall@10 stalled
 * below 0.7 at any ef_search.  Inner product therefore links by L2 between
 * the vectors inverted in the unit sphere (HNSW_METRIC_IP_LINK), and scans
 * search that graph by inner product (doc/hnsw.md, "Inner product links").
 * Build, insert, vacuum and the findability check use this; scans use
 * HnswInitDistance.
 */
void
HnswInitLinkDistance(Relation index, HnswDistance *dist)
{
	HnswInitDistance(index, dist);
	if (dist->metric == HNSW_METRIC_IP)
		dist->metric = HNSW_METRIC_IP_LINK;
}

/*
 * Squared L2 between a / |a|^2 and b / |b|^2 from a.b, |a|^2 and |b|^2
 * (both non-zero)
 */
static inline double
InverseL2FromParts(double ab, double aa, double bb)
{
	double		d = 1.0 / aa + 1.0 / bb - 2.0 * ab / (aa * bb);

	/* Rounding can take equal vectors a little below zero */
	return d > 0.0 ? d : 0.0;
}

/*
 * The link distance of inner product: squared L2 between a / |a|^2 and
 * b / |b|^2, from one pass over both vectors.  Inversion in the unit sphere
 * turns the order of inner products into one of distances (Zhou et al.,
 * "Möbius Transformation for Fast Inner Product Search on Graph", 2019):
 * the elements an inner-product search ends at, the long vectors of each
 * direction, become the ones near the origin's far side, and a graph of
 * L2 neighbours in that space links every element among its own.  For unit
 * vectors it is the squared L2 distance itself.  A zero vector has no
 * inverse; it is the farthest from every other vector.
 */
static double
InnerProductLinkDistance(const float *a, const float *b, int dim)
{
	double		ab,
				aa,
				bb;

	vector_kernels->cosine_parts(a, b, dim, &ab, &aa, &bb);
	if (aa == 0.0 || bb == 0.0)
		return aa == bb ? 0.0 : DBL_MAX;
	return InverseL2FromParts(ab, aa, bb);
}

/*
 * Internal distance between the query and a stored vector: what the ordering
 * operator computes, except that L2 stays squared (same order, no sqrt).
 */
double
HnswDistanceTo(const HnswDistance *dist, const Vector *query, const Vector *vec)
{
	switch (dist->metric)
	{
		case HNSW_METRIC_L2:
			return vector_kernels->l2_squared(query->x, vec->x, query->dim);
		case HNSW_METRIC_IP:
			return -vector_kernels->inner_product(query->x, vec->x, query->dim);
		case HNSW_METRIC_COSINE:
			return VectorCosineDistance(query->x, vec->x, query->dim);
		case HNSW_METRIC_L1:
			return vector_kernels->l1(query->x, vec->x, query->dim);
		case HNSW_METRIC_IP_LINK:
			return InnerProductLinkDistance(query->x, vec->x, query->dim);
		case HNSW_METRIC_OTHER:
			break;
	}
	return DatumGetFloat8(FunctionCall2Coll(dist->procinfo, dist->collation,
											PointerGetDatum(query),
											PointerGetDatum(vec)));
}

/*
 * Cosine distance, or the link distance of inner product, from the float4
 * sums a.b, |a|^2 and |b|^2 of a traversal kernel; false when a norm is zero
 * (or underflowed) or a sum overflowed, and the exact kernel must decide
 */
static inline bool
DistanceFromParts(const HnswDistance *dist, float ab, float aa, float bb, double *out)
{
	double		sim;

	if (!(aa > 0.0f && bb > 0.0f && isfinite(aa) && isfinite(bb) && isfinite(ab)))
		return false;
	if (dist->metric == HNSW_METRIC_IP_LINK)
	{
		*out = InverseL2FromParts(ab, aa, bb);
		return true;
	}
	sim = (double) ab / sqrt((double) aa * (double) bb);
	*out = 1.0 - Max(Min(sim, 1.0), -1.0);
	return true;
}

/*
 * Distance for finding the way through the graph: the fast float4 kernels
 * where the metric has them, else the exact distance.  Never returned to
 * the executor.
 */
double
HnswTraversalDistance(const HnswDistance *dist, const Vector *a, const Vector *b)
{
	float		d;

	switch (dist->metric)
	{
		case HNSW_METRIC_L2:
			d = vector_kernels->l2_squared_f32(a->x, b->x, a->dim);
			break;
		case HNSW_METRIC_IP:
			d = -vector_kernels->inner_product_f32(a->x, b->x, a->dim);
			break;
		case HNSW_METRIC_L1:
			d = vector_kernels->l1_f32(a->x, b->x, a->dim);
			break;
		case HNSW_METRIC_COSINE:
		case HNSW_METRIC_IP_LINK:
			{
				float		ab,
							aa,
							bb;
				double		out;

				vector_kernels->cosine_parts_f32(a->x, b->x, a->dim, &ab, &aa, &bb);
				if (DistanceFromParts(dist, ab, aa, bb, &out))
					return out;
				return HnswDistanceTo(dist, a, b);
			}
		default:
			return HnswDistanceTo(dist, a, b);
	}

	/* Huge elements overflow float4 sums: take the exact float8 value */
	if (unlikely(!isfinite(d)))
		return HnswDistanceTo(dist, a, b);
	return d;
}

/* Whether the narrow kernels serve a metric: all but an operator class's own */
static inline bool
NarrowKernelsServe(const HnswDistance *dist)
{
	return dist->metric == HNSW_METRIC_L2 || dist->metric == HNSW_METRIC_IP ||
		dist->metric == HNSW_METRIC_COSINE || dist->metric == HNSW_METRIC_IP_LINK ||
		dist->metric == HNSW_METRIC_L1;
}

/*
 * Let the byte kernels take the distances from query to elements stored as
 * bytes, when all its values are integers of a byte format: an insert of
 * pixel data or of int8-quantized embeddings, or a search with such a
 * query.  The fit test is the storage format's (hnswcodec.c; a -0 keeps a
 * query off the byte kernels, as it keeps a vector off byte storage), and
 * the byte image is exact, so the results are the float4 kernels' up to
 * their rounding.
 * Another query clears it; metrics the byte kernels do not serve never set
 * it.
 */
void
HnswSetQueryBytes(HnswDistance *dist, const Vector *query)
{
	dist->bytesOf = NULL;
	dist->bytesForms = 0;
	if (query->dim <= HNSW_MAX_DIM && NarrowKernelsServe(dist))
	{
		dist->bytesForms = HnswFittingFormats(query) &
			((1 << HNSW_FORMAT_U8) | (1 << HNSW_FORMAT_I8));
		if (dist->bytesForms == 0)
			return;
		/* each value's low eight bits: uint8 and int8 alike */
		for (int i = 0; i < query->dim; i++)
			dist->bytes[i] = (uint8) ((int) query->x[i] & 0xFF);
		dist->bytesOf = query;
	}
}

/*
 * HnswChooseFormat for v, without a second pass over its values when v is
 * the query HnswSetQueryBytes has just tested and a byte format fits it:
 * the byte formats come first, so the first of them that fits is the
 * narrowest.  Why: an insert tests its vector as a query, then for its
 * storage; on Fashion-MNIST's 784 pixels the second test was 2 % of the
 * insert's instructions.
 */
uint8
HnswChooseQueryFormat(const HnswDistance *dist, const Vector *v)
{
	StaticAssertStmt(HNSW_FORMAT_U8 == 1 && HNSW_FORMAT_I8 == 2,
					 "the byte formats must be the first after float4");
	if (v == dist->bytesOf)
		return (dist->bytesForms & (1 << HNSW_FORMAT_U8)) ? HNSW_FORMAT_U8 : HNSW_FORMAT_I8;
	return HnswChooseFormat(v);
}

/*
 * The traversal distance between two vectors of the same byte format (U8
 * or I8), in the integer kernels, under every metric NarrowKernelsServe;
 * false when a cosine norm is zero and the exact kernel must decide
 */
static bool
BytesDistance(const HnswDistance *dist, uint8 format, const void *a, const void *b, int dim,
			  double *out)
{
	const VectorByteKernels *k = &vector_kernels->bytes[HNSW_FORMAT_NARROW(format)];
	float		ab,
				aa,
				bb;

	Assert(HNSW_FORMAT_IS_BYTES(format));
	if (dist->metric == HNSW_METRIC_L2)
		*out = k->l2_squared(a, b, dim);
	else if (dist->metric == HNSW_METRIC_L1)
		*out = k->l1(a, b, dim);
	else if (dist->metric == HNSW_METRIC_IP)
		*out = -k->inner_product(a, b, dim);
	else
	{
		k->cosine_parts(a, b, dim, &ab, &aa, &bb);
		return DistanceFromParts(dist, ab, aa, bb, out);
	}
	return true;
}

/*
 * The traversal distance between a float4 vector and a vector stored in a
 * narrow format, read in place by the stored kernels (the distance from
 * parts is symmetric in the two norms, so either may be the first); false
 * for custom metrics, and for sums the exact kernel must decide
 */
static bool
FloatStoredDistance(const HnswDistance *dist, const float *a, uint8 format, const void *b,
					int dim, double *out)
{
	const VectorStoredKernels *k = &vector_kernels->stored[HNSW_FORMAT_NARROW(format)];
	float		d;
	float		ab,
				aa,
				bb;

	Assert(HNSW_FORMAT_IS_NARROW(format));
	if (dist->metric == HNSW_METRIC_L2)
		d = k->l2_squared(a, b, dim);
	else if (dist->metric == HNSW_METRIC_L1)
		d = k->l1(a, b, dim);
	else if (dist->metric == HNSW_METRIC_IP)
		d = -k->inner_product(a, b, dim);
	else if (dist->metric == HNSW_METRIC_COSINE || dist->metric == HNSW_METRIC_IP_LINK)
	{
		k->cosine_parts(a, b, dim, &ab, &aa, &bb);
		return DistanceFromParts(dist, ab, aa, bb, out);
	}
	else
		return false;
	if (unlikely(!isfinite(d)))
		return false;
	*out = d;
	return true;
}

/*
 * The traversal distance from the query straight to a stored vector, when
 * a kernel reads its format in place (every narrow format, under every
 * metric but an operator class's own), so that a scan need not widen every
 * vector it passes; false otherwise.
 */
static bool
StoredTraversalDistance(const HnswDistance *dist, const Vector *query, const Vector *stored,
						double *out)
{
	uint8		format = stored->unused;

	if (!HNSW_FORMAT_IS_NARROW(format))
		return false;
	if (query == dist->bytesOf && HNSW_FORMAT_IS_BYTES(format) &&
		(dist->bytesForms & (1 << format)))
		return BytesDistance(dist, format, dist->bytes, stored->x, query->dim, out);
	return FloatStoredDistance(dist, query->x, format, stored->x, query->dim, out);
}

/*
 * The traversal distance between two vectors each either float4 or stored
 * in a narrow format, as the in-memory build keeps them: two byte vectors
 * of one format meet in the integer kernels, and a float4 vector and a
 * narrow one in the stored kernels, as the index's searches do.  Two narrow
 * vectors of different formats widen the first; an operator class's own
 * distance widens both.
 */
double
HnswStoredDistance(const HnswDistance *dist, const Vector *a, const Vector *b)
{
	bool		anarrow = HNSW_FORMAT_IS_NARROW(a->unused);
	bool		bnarrow = HNSW_FORMAT_IS_NARROW(b->unused);
	HnswVectorBuf abuf;
	HnswVectorBuf bbuf;
	double		out;

	if (!anarrow && !bnarrow)
		return HnswTraversalDistance(dist, a, b);
	if (a->dim == b->dim && NarrowKernelsServe(dist))
	{
		if (anarrow && bnarrow && a->unused == b->unused && HNSW_FORMAT_IS_BYTES(a->unused))
		{
			if (BytesDistance(dist, a->unused, a->x, b->x, a->dim, &out))
				return out;
		}
		else
		{
			if (anarrow && bnarrow)
			{
				a = HnswStoredVector(a, &abuf);
				anarrow = false;
			}
			if (FloatStoredDistance(dist, (anarrow ? b : a)->x, (anarrow ? a : b)->unused,
									(anarrow ? a : b)->x, a->dim, &out))
				return out;
		}
	}
	if (HNSW_FORMAT_IS_NARROW(a->unused))
		a = HnswStoredVector(a, &abuf);
	if (bnarrow)
		b = HnswStoredVector(b, &bbuf);
	return HnswTraversalDistance(dist, a, b);
}

/* The ORDER BY operator's value for an internal distance */
double
HnswOrderByValue(const HnswDistance *dist, double internal)
{
	if (dist->metric == HNSW_METRIC_L2)
		return sqrt(internal);
	return internal;
}

/*
 * Detoast a value for indexing or searching and say whether the index can
 * hold it: a zero vector has no direction, so cosine (or any opclass with a
 * norm support function) skips it, as pgvector does.
 */
bool
HnswPrepareValue(const HnswDistance *dist, Datum value, Vector **out)
{
	Vector	   *vec = DatumGetVector(value);

	if (vec->dim > HNSW_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("vector cannot have more than %d dimensions for hnsw index",
						HNSW_MAX_DIM)));
	*out = vec;

	if (dist->normprocinfo != NULL)
	{
		double		norm = DatumGetFloat8(FunctionCall1Coll(dist->normprocinfo,
															dist->collation,
															PointerGetDatum(vec)));

		return norm > 0;
	}
	if (dist->metric == HNSW_METRIC_COSINE)
		return vector_kernels->norm_squared(vec->x, vec->dim) > 0;
	return true;
}

/*
 * An element's level, from the geometric distribution with mL = 1/ln(m),
 * capped so that its neighbour tuple fits on a page.  The uniform draw
 * behind it is a 64-bit hash of the vector's values and of the heap TID of
 * the row that brings it, rather than a random number.  Why: the same rows
 * inserted in the same order then build the same graph, in every session,
 * on every machine, so that a recall measured once is the recall of that
 * data and not of one draw (a test's recall under churn varied from 0.976
 * to 1.000 between draws), and an A/B count of instructions compares the
 * code, not two graphs (3 % apart between runs of one build).  The TID
 * keeps equal vectors apart: rows sharing one vector (zero vectors, say)
 * fill element after element, which would otherwise all take the level of
 * that vector, high for one vector in m.  Parallel builds and concurrent
 * inserts still link in whatever order their processes reach.  The hash
 * spreads like a random draw; only someone who chose rows for their hashes
 * could skew the levels, which costs the index speed, never results.
 */
int
HnswElementLevel(const Vector *value, ItemPointer heaptid, int m)
{
	double		ml = 1.0 / log(m);
	uint64		h = hash_bytes_extended((const unsigned char *) value->x,
										sizeof(float) * value->dim,
										HNSW_LEVEL_SEED ^ HnswTidKey(heaptid));

	/* the top 53 bits as a double in (0, 1]: never log(0) */
	double		r = (double) ((h >> 11) + 1) / (double) (UINT64CONST(1) << 53);
	int			level;
	int			cap = HNSW_MAX_LEVEL;

	level = (int) floor(-log(r) * ml);

	while (cap > 0 &&
		   HNSW_NEIGHBOR_TUPLE_SIZE(cap, m) >
		   BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(HnswPageOpaqueData)) -
		   sizeof(ItemIdData))
		cap--;
	return Min(level, cap);
}

/* ------------------------------------------------------------------------
 * Pages
 * ------------------------------------------------------------------------
 */

/* Format an empty page with our special space */
void
HnswInitPage(Page page, Size pageSize)
{
	HnswPageOpaque opaque;

	PageInit(page, pageSize, sizeof(HnswPageOpaqueData));
	opaque = HnswPageGetOpaque(page);
	opaque->nextblkno = InvalidBlockNumber;
	opaque->page_id = HNSW_PAGE_ID;
}

/*
 * Refuse a page that is not ours (a corrupt index or a different access
 * method).  An all-zero page is fine and returns false: a crash between
 * extending the index and logging the page leaves one behind, and it simply
 * holds nothing.
 */
bool
HnswCheckPage(Relation index, Page page, BlockNumber blkno)
{
	if (PageIsNew(page))
		return false;
	if (PageGetSpecialSize(page) != MAXALIGN(sizeof(HnswPageOpaqueData)) ||
		HnswPageGetOpaque(page)->page_id != HNSW_PAGE_ID)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" contains an invalid page at block %u",
						RelationGetRelationName(index), blkno),
				 errhint("Please REINDEX it.")));
	return true;
}

/*
 * How many valid links an element of a locked page has on layer 0, when its
 * neighbour tuple is on the same page (as the in-memory build and inserts
 * place it); HNSW_SPARSE_LINKS, as if it had enough, when the tuple is
 * elsewhere or not a neighbour tuple.  For HnswPageLiveElements.
 */
static int
CountLayer0Links(Page page, BlockNumber blkno, HnswElementTuple etup)
{
	OffsetNumber off = ItemPointerGetOffsetNumber(&etup->neighbortid);
	ItemId		itemid;
	HnswNeighborTuple ntup;
	int			slots;
	int			n = 0;

	if (ItemPointerGetBlockNumber(&etup->neighbortid) != blkno ||
		off < FirstOffsetNumber || off > PageGetMaxOffsetNumber(page))
		return HNSW_SPARSE_LINKS;
	itemid = PageGetItemId(page, off);
	ntup = (HnswNeighborTuple) PageGetItem(page, itemid);
	if (!ItemIdIsNormal(itemid) || ntup->type != HNSW_NEIGHBOR_TUPLE)
		return HNSW_SPARSE_LINKS;
	/* count is (level + 2) * m slots, the first 2m of them layer 0's */
	slots = 2 * (ntup->count / (etup->level + 2));
	if (ItemIdGetLength(itemid) < offsetof(HnswNeighborTupleData, tids) + sizeof(ItemPointerData) * slots)
		return HNSW_SPARSE_LINKS;
	for (int i = 0; i < slots; i++)
		if (ItemPointerIsValid(&ntup->tids[i]))
			n++;
	return n;
}

/*
 * The live elements of a data page, read under a share lock that is
 * released before returning, so that the caller can work on each without
 * holding it: *out gets a palloc'd array; returns its length.  Vacuum's
 * passes and hnsw_index_findability walk the index with it; `strategy` is
 * vacuum's ring buffer, or NULL.  With `sparse`, *sparse gets a parallel
 * array telling which elements have fewer than HNSW_SPARSE_LINKS links on
 * layer 0 (of those whose neighbour tuple is on the same page, as nearly
 * all are; the others count as not sparse).
 */
int
HnswPageLiveElements(Relation index, BufferAccessStrategy strategy, BlockNumber blkno,
					 ItemPointerData **out, bool **sparse)
{
	Buffer		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
	Page		page;
	OffsetNumber maxoff;
	ItemPointerData *live;
	int			nlive = 0;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	(void) HnswCheckPage(index, page, blkno);
	maxoff = PageGetMaxOffsetNumber(page);
	live = palloc(sizeof(ItemPointerData) * Max(maxoff, 1));
	if (sparse)
		*sparse = palloc(sizeof(bool) * Max(maxoff, 1));
	for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
	{
		ItemId		itemid = PageGetItemId(page, off);
		HnswElementTuple etup = (HnswElementTuple) PageGetItem(page, itemid);

		if (ItemIdIsNormal(itemid) && etup->type == HNSW_ELEMENT_TUPLE && !etup->deleted)
		{
			if (sparse)
				(*sparse)[nlive] = CountLayer0Links(page, blkno, etup) < HNSW_SPARSE_LINKS;
			/* ItemPointerSet is a macro that evaluates its argument twice */
			ItemPointerSet(&live[nlive], blkno, off);
			nlive++;
		}
	}
	UnlockReleaseBuffer(buf);
	*out = live;
	return nlive;
}

/* Copy the metapage, checking magic number and version */
void
HnswReadMeta(Relation index, HnswMetaPageData *meta)
{
	Buffer		buf = HnswPinBlock(index, HNSW_METAPAGE_BLKNO);
	Page		page;
	HnswMetaPage m;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (!HnswCheckPage(index, page, HNSW_METAPAGE_BLKNO))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has an empty metapage", RelationGetRelationName(index)),
				 errhint("Please REINDEX it.")));
	m = HnswPageGetMeta(page);
	if (m->magicNumber != HNSW_MAGIC_NUMBER)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is not an hnsw index",
						RelationGetRelationName(index))));
	if (m->version != HNSW_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has on-disk format version %u, expected %u",
						RelationGetRelationName(index), m->version, HNSW_VERSION),
				 errhint("Please REINDEX it.")));
	memcpy(meta, m, sizeof(HnswMetaPageData));
	UnlockReleaseBuffer(buf);
}

/*
 * Extend the relation by one page and return it pinned and exclusively
 * locked, not yet initialised.
 */
Buffer
HnswNewBuffer(Relation index, ForkNumber forkNum)
{
	Buffer		buf;
	bool		needLock = !RELATION_IS_LOCAL(index);

	if (needLock)
		LockRelationForExtension(index, ExclusiveLock);
	buf = ReadBufferExtended(index, forkNum, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	if (needLock)
		UnlockRelationForExtension(index, ExclusiveLock);
	return buf;
}

/* Begin a change to a few pages */
void
HnswEditStart(HnswEdit *edit, Relation index, bool building)
{
	edit->state = building ? NULL : GenericXLogStart(index);
	edit->nbuffers = 0;
}

/*
 * The page of a locked buffer to modify within the change; a new page is
 * logged as a full image.
 */
Page
HnswEditPage(HnswEdit *edit, Buffer buf, bool isNew)
{
	Assert(edit->nbuffers < MAX_GENERIC_XLOG_PAGES);
	edit->buffers[edit->nbuffers++] = buf;
	if (edit->state == NULL)
		return BufferGetPage(buf);
	return GenericXLogRegisterBuffer(edit->state, buf,
									 isNew ? GENERIC_XLOG_FULL_IMAGE : 0);
}

/* Apply the change: one WAL record, or just dirty pages while building */
void
HnswEditFinish(HnswEdit *edit)
{
	if (edit->state != NULL)
		GenericXLogFinish(edit->state);
	else
	{
		for (int i = 0; i < edit->nbuffers; i++)
			MarkBufferDirty(edit->buffers[i]);
	}
	edit->state = NULL;
	edit->nbuffers = 0;
}

/* Drop a change that turned out to be unnecessary */
void
HnswEditAbort(HnswEdit *edit)
{
	if (edit->state != NULL)
		GenericXLogAbort(edit->state);
	edit->state = NULL;
	edit->nbuffers = 0;
}

/*
 * Log byte ranges of one page that the caller has just changed in place
 * (holding the buffer exclusively locked, inside a critical section), and
 * mark the buffer dirty.
 *
 * The record is a generic xlog record (RM_GENERIC_ID) in the format that
 * generic_redo replays on any server, extension loaded or not: per page, a
 * list of fragments, each an offset, a length and the new bytes.  What the
 * caller changed, it names: GenericXLogFinish instead copies the page twice
 * and compares it with its original byte by byte to find the few changed
 * bytes, which for a back link (a handful of TIDs) was a fifth of an
 * insert.  The ranges must lie outside the hole between pd_lower and
 * pd_upper, which replay zeroes (our pages keep it zero, as generic WAL
 * does).  A full-page image is taken after a checkpoint as for any record.
 * Nothing is logged while building (the build logs every page at its end)
 * or for an index that needs no WAL.
 */
void
HnswLogRanges(Relation index, Buffer buf, int nranges, const uint16 *offsets,
			  const uint16 *lengths, bool building)
{
	Page		page = BufferGetPage(buf);
	uint16		headers[HNSW_MAX_LOG_RANGES][2];
	XLogRecPtr	lsn;

	Assert(CritSectionCount > 0);
	Assert(nranges >= 1 && nranges <= HNSW_MAX_LOG_RANGES);
	MarkBufferDirty(buf);
	if (building || !RelationNeedsWAL(index))
		return;

	XLogBeginInsert();
	XLogRegisterBuffer(0, buf, REGBUF_STANDARD);
	for (int i = 0; i < nranges; i++)
	{
		Assert(offsets[i] + lengths[i] <= ((PageHeader) page)->pd_lower ||
			   offsets[i] >= ((PageHeader) page)->pd_upper);
		Assert(offsets[i] + lengths[i] <= BLCKSZ);
		headers[i][0] = offsets[i];
		headers[i][1] = lengths[i];
		XLogRegisterBufData(0, (char *) headers[i], sizeof(headers[i]));
		XLogRegisterBufData(0, (char *) page + offsets[i], lengths[i]);
	}
	/* (PageSetLSN evaluates its argument twice) */
	lsn = XLogInsert(RM_GENERIC_ID, 0);
	PageSetLSN(page, lsn);
}

/*
 * The backend's memory of which shared buffer last held each index block,
 * kept in rd_amcache (one chunk in rd_indexcxt, dropped with the relcache
 * entry).  ReadRecentBuffer checks and pins such a buffer without the
 * buffer-mapping lookup, which otherwise dominates the cost of a search.
 *
 * It also remembers how many elements the index's recent layer-0 descents
 * visited (DescentVisitedNote), which depends on the data far more than on
 * the parameters.
 */
typedef struct HnswBufferCache
{
	BlockNumber size;
	uint32		visitedHint;	/* recent layer-0 descents' visits, decaying */
	Buffer		buffers[FLEXIBLE_ARRAY_MEMBER];
} HnswBufferCache;

/* Largest index (in blocks) whose buffers are remembered: 4 MB of memory */
#define HNSW_BUFFER_CACHE_MAX	(1024 * 1024)

/* Pin an index block, the fast way when its buffer is remembered */
Buffer
HnswPinBlock(Relation index, BlockNumber blkno)
{
	HnswBufferCache *cache = (HnswBufferCache *) index->rd_amcache;
	Buffer		buf;

	if (cache != NULL && blkno < cache->size && BufferIsValid(cache->buffers[blkno]) &&
		ReadRecentBuffer(index->rd_node, MAIN_FORKNUM, blkno, cache->buffers[blkno]))
		return cache->buffers[blkno];

	buf = ReadBuffer(index, blkno);
	if (blkno >= HNSW_BUFFER_CACHE_MAX)
		return buf;
	if (cache == NULL || blkno >= cache->size)
	{
		BlockNumber size = Max(blkno + 1, RelationGetNumberOfBlocks(index));
		HnswBufferCache *grown;

		size = Min(Max(size, cache ? cache->size * 2 : 64), HNSW_BUFFER_CACHE_MAX);
		grown = MemoryContextAllocZero(index->rd_indexcxt,
									   offsetof(HnswBufferCache, buffers) + sizeof(Buffer) * size);
		grown->size = size;
		if (cache != NULL)
		{
			grown->visitedHint = cache->visitedHint;
			memcpy(grown->buffers, cache->buffers, sizeof(Buffer) * cache->size);
			pfree(cache);
		}
		index->rd_amcache = cache = grown;
	}
	cache->buffers[blkno] = buf;
	return buf;
}

/*
 * The buffer an index block was last read into here, without pinning it, or
 * InvalidBuffer when it never was.  By now the buffer may hold another page,
 * or be in the middle of being replaced: its page is good for aiming
 * prefetches, and for a peek only after PeekBufferHolds.
 */
static inline Buffer
PeekBuffer(Relation index, BlockNumber blkno)
{
	HnswBufferCache *cache = (HnswBufferCache *) index->rd_amcache;

	if (cache == NULL || blkno >= cache->size)
		return InvalidBuffer;
	return cache->buffers[blkno];
}

/*
 * The descriptor of a buffer, shared or local, to aim a prefetch at it or to
 * read its tag unlocked (PeekBufferHolds).
 */
static inline BufferDesc *
PeekDescriptor(Buffer buf)
{
	return BufferIsLocal(buf) ? GetLocalBufferDescriptor(-buf - 1) : GetBufferDescriptor(buf - 1);
}

/*
 * Whether a buffer holds a valid copy of an index block right now, read
 * without its header lock: a buffer the backend remembers may have been
 * given to another page since (all the time with a small shared_buffers),
 * and a peek must not take that page's elements for this block's.  The
 * answer can only be wrong in a race with the buffer's replacement, which
 * is why a peek checks it before and after reading.
 */
static inline bool
PeekBufferHolds(Relation index, Buffer buf, BlockNumber blkno)
{
	BufferDesc *desc = PeekDescriptor(buf);
	uint32		state = pg_atomic_read_u32(&desc->state);
	BufferTag	tag;

	if ((state & (BM_TAG_VALID | BM_VALID | BM_IO_IN_PROGRESS)) != (BM_TAG_VALID | BM_VALID))
		return false;
	pg_read_barrier();
	tag = desc->tag;
	pg_compiler_barrier();
#if PG_VERSION_NUM >= 160000
	return BufTagMatchesRelFileLocator(&tag, &index->rd_locator) &&
		BufTagGetForkNum(&tag) == MAIN_FORKNUM && tag.blockNum == blkno;
#else
	return RelFileNodeEquals(tag.rnode, index->rd_node) &&
		tag.forkNum == MAIN_FORKNUM && tag.blockNum == blkno;
#endif
}

/* ------------------------------------------------------------------------
 * Visited set and candidate heaps
 * ------------------------------------------------------------------------
 */

/* Start an empty visited set with room for about `expected` elements */
void
HnswVisitedInit(HnswVisited *v, int expected)
{
	uint32		size = 64;

	while (size < (uint32) expected * 2)
		size <<= 1;
	v->keys = palloc0(sizeof(uint64) * size);
	v->mask = size - 1;
	v->count = 0;
}

/*
 * Double the visited set's slots and insert its keys again: HnswVisitedAdd
 * keeps it at most half full, where a probe is short.
 */
void
HnswVisitedGrow(HnswVisited *v)
{
	uint64	   *old = v->keys;
	uint32		oldsize = v->mask + 1;

	v->keys = palloc0(sizeof(uint64) * oldsize * 2);
	v->mask = oldsize * 2 - 1;
	for (uint32 i = 0; i < oldsize; i++)
	{
		uint32		slot;

		if (old[i] == 0)
			continue;
		slot = HnswVisitedSlot(v, old[i]);
		while (v->keys[slot] != 0)
			slot = (slot + 1) & v->mask;
		v->keys[slot] = old[i];
	}
	pfree(old);
}

/* Whether a TID is in the set */
bool
HnswVisitedContains(HnswVisited *v, ItemPointer tid)
{
	uint64		key = HnswTidKey(tid);

	for (uint32 i = HnswVisitedSlot(v, key);; i = (i + 1) & v->mask)
	{
		if (v->keys[i] == key)
			return true;
		if (v->keys[i] == 0)
			return false;
	}
}

/* Start an empty heap */
void
HnswHeapInit(HnswHeap *h, int capacity, bool max)
{
	h->capacity = Max(capacity, 16);
	h->items = palloc(sizeof(HnswHeapItem) * h->capacity);
	h->count = 0;
	h->max = max;
}

/* Double a heap's room: HnswHeapPush calls it when the heap is full */
void
HnswHeapGrow(HnswHeap *h)
{
	h->capacity *= 2;
	h->items = repalloc(h->items, sizeof(HnswHeapItem) * h->capacity);
}

/* Push onto the discarded heap unless already there */
void
HnswDiscard(HnswHeap *discarded, HnswCandidate *c)
{
	if (c->flags & HNSW_CAND_DISCARDED)
		return;
	c->flags |= HNSW_CAND_DISCARDED;
	HnswHeapPush(discarded, c);
}

/* ------------------------------------------------------------------------
 * Reading the graph
 * ------------------------------------------------------------------------
 */

/*
 * Read the element at offset `off` of a locked page into out, with its
 * traversal distance to the query; the exact distance too with wantExact or
 * when the traversal distance is below exactBelow; with wantVector a float4
 * copy of the vector, unless the traversal distance is above copyBelow (a
 * NaN distance, as to vacuum's zero probe under cosine, always gets its
 * copy).  An insert's search passes the distance an element needs to enter
 * its results, so that only those elements (a few hundred of the thousands
 * it visits) are widened and copied.  An element copied so also gets a raw
 * copy of its slots on layer nbrLayer (unless -1) when its neighbour tuple
 * is on the same page, as it nearly always is: expanding it later then needs
 * no second visit to the page (the links are as current as when it was
 * read, which is all a search ever has).  False when the slot holds no
 * element (freed by vacuum, or a stale link).
 */
static bool
ReadCandidate(Page page, OffsetNumber off, BlockNumber blkno, const HnswDistance *dist,
			  const Vector *query, bool wantExact, double exactBelow, bool wantVector,
			  double copyBelow, int nbrLayer, int m, HnswCandidate *out)
{
	ItemId		itemid;
	HnswElementTuple etup;
	HnswVectorBuf buf;
	const Vector *vec;
	bool		direct;
	bool		copy;

	if (off < FirstOffsetNumber || off > PageGetMaxOffsetNumber(page))
		return false;
	itemid = PageGetItemId(page, off);
	etup = (HnswElementTuple) PageGetItem(page, itemid);
	if (!ItemIdIsNormal(itemid) || etup->type != HNSW_ELEMENT_TUPLE ||
		etup->data.dim != query->dim)
		return false;

	/*
	 * The narrow kernels take the traversal distance without widening the
	 * vector; a scan passing by needs nothing more.  The widened vector is
	 * made only for an exact distance or a copy, and the traversal distance
	 * is not taken twice.
	 */
	direct = HNSW_FORMAT_IS_NARROW(etup->data.unused) &&
		VARSIZE(&etup->data) == HnswStoredVectorSize(etup->data.dim, etup->data.unused) &&
		StoredTraversalDistance(dist, query, &etup->data, &out->distance);
	copy = direct && wantVector && !(out->distance > copyBelow);
	if (direct && !wantExact && !copy && !(out->distance < exactBelow))
		vec = NULL;
	else
	{
		vec = HnswStoredVector(&etup->data, &buf);
		if (vec == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("hnsw element (%u,%u) has an invalid vector format", blkno, off)));
		if (!direct)
		{
			out->distance = HnswTraversalDistance(dist, query, vec);
			copy = wantVector && !(out->distance > copyBelow);
		}
	}

	ItemPointerSet(&out->tid, blkno, off);
	out->neighbortid = etup->neighbortid;
	out->level = etup->level;
	out->deleted = etup->deleted != 0;
	out->nheaptids = 0;
	for (int i = 0; i < HNSW_HEAPTIDS; i++)
	{
		if (!ItemPointerIsValid(&etup->heaptids[i]))
			break;
		out->heaptids[out->nheaptids++] = etup->heaptids[i];
	}
	out->flags = 0;
	if (vec != NULL && (wantExact || out->distance < exactBelow))
	{
		out->exact = HnswDistanceTo(dist, query, vec);
		out->flags |= HNSW_CAND_EXACT;
	}
	out->vec = NULL;
	out->nbrs = NULL;
	if (copy)
	{
		int			slots = HnswLayerSlots(nbrLayer, m);
		Size		vsize = MAXALIGN(VARSIZE(vec));
		OffsetNumber noff = ItemPointerGetOffsetNumberNoCheck(&etup->neighbortid);
		HnswNeighborTuple ntup = NULL;

		if (nbrLayer >= 0 && nbrLayer <= etup->level &&
			ItemPointerGetBlockNumberNoCheck(&etup->neighbortid) == blkno &&
			noff >= FirstOffsetNumber && noff <= PageGetMaxOffsetNumber(page) &&
			ItemIdIsNormal(PageGetItemId(page, noff)))
		{
			ntup = (HnswNeighborTuple) PageGetItem(page, PageGetItemId(page, noff));
			if (ntup->type != HNSW_NEIGHBOR_TUPLE ||
				HnswLayerStart(nbrLayer, m) + slots > ntup->count)
				ntup = NULL;
		}

		/* One allocation for the vector and, if any, the slots */
		out->vec = palloc(vsize + (ntup ? sizeof(ItemPointerData) * slots : 0));
		memcpy(out->vec, vec, VARSIZE(vec));
		if (ntup)
		{
			out->nbrs = (ItemPointerData *) ((char *) out->vec + vsize);
			memcpy(out->nbrs, &ntup->tids[HnswLayerStart(nbrLayer, m)],
				   sizeof(ItemPointerData) * slots);
			out->nbrLayer = nbrLayer;
		}
	}
	return true;
}

/*
 * The traversal distance to the element at `off` of a page seen through
 * PeekBuffer, without a pin or a lock, so that a layer search can pass by an
 * element that cannot enter its results without pinning and locking its
 * buffer (at 128 dimensions that bookkeeping cost more than the distance).
 *
 * The caller checks the buffer's tag before and after (PeekBufferHolds),
 * so that the page is this block's unless the buffer was replaced in that
 * window.  Whatever the buffer holds (the page changed by a concurrent
 * writer, or in that race another page), every read stays within the page:
 * the line pointer and the tuple header are read once, and the vector is
 * read only within the item's length.  A vector torn by a concurrent write
 * gives a wrong distance, never a crash, and a wrong distance can only make
 * the search pass by an element it would have kept (in a race with that
 * element's slot being rewritten, and at the cost of recall alone): every
 * element the search keeps is read again under its buffer's share lock.
 * False when the slot does not look like an element of the query's
 * dimension stored as float4 or uint8, or the distance is not a number;
 * the caller then reads the element the usual way.
 */
static bool
PeekDistance(Page page, OffsetNumber off, const HnswDistance *dist, const Vector *query,
			 double *out)
{
	PageHeader	phdr = (PageHeader) page;
	ItemIdData	itemid;
	unsigned	itemoff;
	unsigned	itemlen;
	HnswElementTupleData header;
	const HnswElementTupleData *etup;
	uint8		format;
	double		d;

	if (off < FirstOffsetNumber || off > MaxIndexTuplesPerPage ||
		SizeOfPageHeaderData + sizeof(ItemIdData) * off > phdr->pd_lower)
		return false;
	itemid = *PageGetItemId(page, off);
	pg_compiler_barrier();		/* the checks below use this copy, not the page */
	itemoff = ItemIdGetOffset(&itemid);
	itemlen = ItemIdGetLength(&itemid);
	if (!ItemIdIsNormal(&itemid) || itemoff < SizeOfPageHeaderData || itemoff + itemlen > BLCKSZ ||
		itemlen < offsetof(HnswElementTupleData, data) + offsetof(Vector, x))
		return false;
	etup = (const HnswElementTupleData *) ((const char *) page + itemoff);
	memcpy(&header, etup, offsetof(HnswElementTupleData, data) + offsetof(Vector, x));
	pg_compiler_barrier();
	format = header.data.unused;
	if (header.type != HNSW_ELEMENT_TUPLE || header.data.dim != query->dim ||
		format > HNSW_FORMAT_MAX ||
		VARSIZE(&header.data) != HnswStoredVectorSize(query->dim, format) ||
		offsetof(HnswElementTupleData, data) + VARSIZE(&header.data) > itemlen)
		return false;

	/*
	 * The same distance functions as ReadCandidate, so that a peek and a
	 * locked read of the same bytes agree exactly; both take the query's
	 * dimension, never the page's
	 */
	if (HNSW_FORMAT_IS_NARROW(format))
		return StoredTraversalDistance(dist, query, &etup->data, out);
	d = HnswTraversalDistance(dist, query, &etup->data);
	if (unlikely(isnan(d)))
		return false;
	*out = d;
	return true;
}

/*
 * Read the element at tid and its distances to the query (exact as well
 * when wantExact).  False when the TID no longer holds an element.
 */
bool
HnswLoadCandidate(Relation index, const HnswDistance *dist, const Vector *query,
				  ItemPointer tid, bool wantVector, HnswCandidate *out)
{
	BlockNumber blkno = ItemPointerGetBlockNumber(tid);
	Buffer		buf;
	bool		found;

	if (blkno == HNSW_METAPAGE_BLKNO)
		return false;
	buf = HnswPinBlock(index, blkno);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	found = ReadCandidate(BufferGetPage(buf), ItemPointerGetOffsetNumber(tid), blkno,
						  dist, query, true, 0.0, wantVector, get_float8_infinity(), -1, 0, out);
	UnlockReleaseBuffer(buf);
	return found;
}

/*
 * Read the TIDs in one layer of a neighbour tuple into out (room for the
 * layer's slots); returns the slot count, or -1 if the tuple is gone.
 */
int
HnswReadLayer(Relation index, ItemPointer ntid, int layer, int m, ItemPointerData *out)
{
	Buffer		buf = HnswPinBlock(index, ItemPointerGetBlockNumber(ntid));
	Page		page;
	OffsetNumber off = ItemPointerGetOffsetNumber(ntid);
	int			n = -1;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (off >= FirstOffsetNumber && off <= PageGetMaxOffsetNumber(page))
	{
		ItemId		itemid = PageGetItemId(page, off);
		HnswNeighborTuple ntup = (HnswNeighborTuple) PageGetItem(page, itemid);
		int			start = HnswLayerStart(layer, m);
		int			slots = HnswLayerSlots(layer, m);

		if (ItemIdIsNormal(itemid) && ntup->type == HNSW_NEIGHBOR_TUPLE &&
			start + slots <= ntup->count)
		{
			for (int i = 0; i < slots; i++)
				out[i] = ntup->tids[start + i];
			n = slots;
		}
	}
	UnlockReleaseBuffer(buf);
	return n;
}

/*
 * Copy the valid neighbour TIDs of one layer of an element into out, which
 * has room for 2 * m; return how many there are.  Slots copied with the
 * element are used as they are; otherwise the neighbour tuple is read.
 */
int
HnswLoadNeighbors(Relation index, HnswCandidate *c, int layer, int m,
				  ItemPointerData *out)
{
	int			n = 0;
	int			slots;

	if (c->nbrs != NULL && c->nbrLayer == layer)
	{
		/* Copied with the element (ReadCandidate) */
		slots = HnswLayerSlots(layer, m);
		for (int i = 0; i < slots; i++)
		{
			if (ItemPointerIsValid(&c->nbrs[i]))
				out[n++] = c->nbrs[i];
		}
		return n;
	}
	if (layer > c->level || !ItemPointerIsValid(&c->neighbortid) ||
		ItemPointerGetBlockNumber(&c->neighbortid) == HNSW_METAPAGE_BLKNO)
		return 0;
	slots = HnswReadLayer(index, &c->neighbortid, layer, m, out);
	for (int i = 0; i < slots; i++)
	{
		if (ItemPointerIsValid(&out[i]))
			out[n++] = out[i];
	}
	return n;
}

/*
 * hnsw.debug_stale_peeks: whether this element read under its lock after a
 * peek is to be taken as changed since (every Nth; builds with assertions
 * only, where the setting can be non-zero)
 */
static inline bool
DebugStalePeek(void)
{
#ifdef USE_ASSERT_CHECKING
	static uint32 peeked_reads = 0;

	if (hnsw_debug_stale_peeks > 0)
		return ++peeked_reads % hnsw_debug_stale_peeks == 0;
#endif
	return false;
}

/*
 * Search one layer from the candidates already in `candidates` (a min-heap)
 * and `results` (a max-heap holding the best `ef` found so far).
 *
 * The neighbours of an expanded element are handled as a batch: first the
 * line pointers and then the tuples of all of them are prefetched, through
 * the pages their buffers last held (rd_amcache) and without pinning, then
 * each is pinned, read under its share lock and released in turn, so that
 * the memory latency of one overlaps the work on the others.  Only one
 * buffer is pinned at a time: pinning a whole batch of up to 2 * m buffers
 * overflows the backend's small array of pin counts into its hash table,
 * which cost a tenth of an insert.  Distances steering the search are the
 * fast traversal ones; with wantExact, an element entering the results also
 * gets its exact distance while its vector is still in cache; with
 * wantVectors, an element entering the results gets a float4 copy of its
 * vector (the others, most of those visited, are not copied).
 *
 * When `discarded` is given, every visited element that the results do not
 * keep is pushed there, so an iterative scan can resume from them; otherwise
 * such elements are simply dropped.  An element already expanded is not
 * expanded again, so a resumed search never repeats work.  `tuples_seen`,
 * when given, counts the elements whose distance was taken.
 *
 * With untilQuery (and wantVectors), the search stops as soon as the nearest
 * candidate is an element holding the query itself: an update that left the
 * vector unchanged looks for its element only (InsertUnchanged), and the
 * expansions that would confirm the rest of the neighbourhood, most of a
 * search, are of no use to it.
 */
void
HnswSearchLayer(Relation index, const HnswDistance *dist, const Vector *query,
				HnswHeap *candidates, int ef, int layer, int m, bool wantVectors,
				bool wantExact, bool untilQuery, HnswVisited *visited, HnswHeap *results,
				HnswHeap *discarded, int64 *tuples_seen)
{
	ItemPointerData *neighbors = palloc(sizeof(ItemPointerData) * 2 * m);
	Page	   *pages = palloc(sizeof(Page) * 2 * m);
	Buffer	   *bufs = palloc(sizeof(Buffer) * 2 * m);
	HnswCandidate *spare = NULL;
	int			prefetchBytes = Min(HNSW_ELEMENT_TUPLE_SIZE(query->dim), HNSW_PREFETCH_MAX_BYTES);
	int			nbrStart = offsetof(HnswNeighborTupleData, tids) +
		sizeof(ItemPointerData) * HnswLayerStart(layer, m);
	int			nbrBytes = sizeof(ItemPointerData) * HnswLayerSlots(layer, m);
	double		inf = get_float8_infinity();

	/*
	 * Passing elements by on a peek: not when every visited element must be
	 * kept (an iterative scan resumes from them), nor for an operator
	 * class's own distance function
	 */
	bool		peek = discarded == NULL && dist->metric != HNSW_METRIC_OTHER;

	while (candidates->count > 0)
	{
		HnswCandidate *c = HnswHeapPop(candidates);
		HnswCandidate *worst = HnswHeapTop(results);
		int			n;
		int			nfresh = 0;

		if (results->count >= ef && worst != NULL && c->distance > worst->distance)
		{
			/* Nothing closer can be reached: stop, keeping c for later */
			HnswHeapPush(candidates, c);
			break;
		}
		if (c->flags & HNSW_CAND_EXPANDED)
			continue;
		c->flags |= HNSW_CAND_EXPANDED;

		/* No buffer is pinned or locked here: a cancel is safe */
		CHECK_FOR_INTERRUPTS();

		/*
		 * An element that entered on a peek is read now, under its buffer's
		 * lock, as it would have been when visited: every element expanded,
		 * and so every final result, is one read under the lock.  One that
		 * changed since the peek (a race with vacuum and slot reuse) is
		 * dropped: never expanded, returned or linked to.
		 */
		if (c->flags & HNSW_CAND_PEEKED)
		{
			double		peeked = c->distance;
			Buffer		buf = HnswPinBlock(index, ItemPointerGetBlockNumber(&c->tid));
			bool		found;

			LockBuffer(buf, BUFFER_LOCK_SHARE);
			found = ReadCandidate(BufferGetPage(buf), ItemPointerGetOffsetNumber(&c->tid),
								  ItemPointerGetBlockNumber(&c->tid), dist, query, false,
								  wantExact ? inf : -inf, wantVectors, inf, layer, m, c);
			UnlockReleaseBuffer(buf);
			c->flags |= HNSW_CAND_EXPANDED;
			if (!found || c->distance != peeked || DebugStalePeek())
			{
				c->distance = peeked;
				c->deleted = true;
				c->nheaptids = 0;
				continue;
			}
		}

		/* The query's own element, nearest of all: it stays in the results */
		if (untilQuery && c->vec != NULL && !c->deleted && VARSIZE(c->vec) == VARSIZE(query) &&
			memcmp(c->vec->x, query->x, sizeof(float) * query->dim) == 0)
			break;

		/* The unvisited neighbours, their line pointers on their way */
		n = HnswLoadNeighbors(index, c, layer, m, neighbors);
		for (int i = 0; i < n; i++)
		{
			if (!HnswVisitedAdd(visited, &neighbors[i]) ||
				ItemPointerGetBlockNumber(&neighbors[i]) == HNSW_METAPAGE_BLKNO)
				continue;
			neighbors[nfresh] = neighbors[i];
			bufs[nfresh] = PeekBuffer(index, ItemPointerGetBlockNumber(&neighbors[i]));
			pages[nfresh] = BufferIsValid(bufs[nfresh]) ? BufferGetPage(bufs[nfresh]) : NULL;
			if (pages[nfresh] != NULL)
			{
				__builtin_prefetch(PageGetItemId(pages[nfresh],
												 ItemPointerGetOffsetNumber(&neighbors[i])));
				if (peek)
					__builtin_prefetch(PeekDescriptor(bufs[nfresh]));
			}
			nfresh++;
		}

		/*
		 * Then their tuples.  An unpinned, unlocked peek, only to aim the
		 * prefetch: whatever it reads is bounded to the page and never used
		 * otherwise.
		 */
		for (int i = 0; i < nfresh; i++)
		{
			Page		page = pages[i];
			OffsetNumber off = ItemPointerGetOffsetNumber(&neighbors[i]);
			unsigned	itemoff;
			char	   *item;
			char	   *end;

			if (page == NULL || off > MaxIndexTuplesPerPage || off > PageGetMaxOffsetNumber(page))
				continue;
			itemoff = ItemIdGetOffset(PageGetItemId(page, off));
			if (itemoff >= BLCKSZ)
				continue;
			item = (char *) page + itemoff;
			end = Min(item + prefetchBytes, (char *) page + BLCKSZ);
			for (; item < end; item += 64)
				__builtin_prefetch(item);

			/*
			 * And, when elements entering the results are copied with their
			 * links (inserts), this layer's slots of the neighbour tuple,
			 * which an insert appends right after its element (AppendToPage).
			 * Only a guess, as above; a wrong one costs a wasted prefetch.
			 * Scans copy nothing, and do without.
			 */
			if (wantVectors && off < PageGetMaxOffsetNumber(page))
			{
				itemoff = ItemIdGetOffset(PageGetItemId(page, off + 1));
				if (itemoff >= BLCKSZ)
					continue;
				item = (char *) page + itemoff + nbrStart;
				end = Min(item + nbrBytes, (char *) page + BLCKSZ);
				for (; item < end; item += 64)
					__builtin_prefetch(item);
			}
		}

		for (int i = 0; i < nfresh; i++)
		{
			HnswCandidate *e;
			bool		found;
			double		exactBelow;
			double		copyBelow;
			double		peeked;
			Buffer		buf;

			worst = HnswHeapTop(results);
			if (spare == NULL)
				spare = palloc(sizeof(HnswCandidate));
			e = spare;

			/*
			 * The distance from a peek.  Most neighbours are farther than
			 * every result and are passed by without pinning their buffers;
			 * one that enters the results does so on its peeked distance and
			 * is read under the lock only if it is expanded (about half of
			 * them are pushed out of the results before that).
			 */
			if (peek && pages[i] != NULL &&
				PeekBufferHolds(index, bufs[i], ItemPointerGetBlockNumber(&neighbors[i])) &&
				PeekDistance(pages[i], ItemPointerGetOffsetNumber(&neighbors[i]), dist, query,
							 &peeked) &&
				PeekBufferHolds(index, bufs[i], ItemPointerGetBlockNumber(&neighbors[i])))
			{
				if (tuples_seen)
					(*tuples_seen)++;
				if (results->count >= ef && !(peeked < worst->distance))
					continue;
				e->distance = peeked;
				e->tid = neighbors[i];
				ItemPointerSetInvalid(&e->neighbortid);
				e->level = 0;
				e->deleted = false;
				e->nheaptids = 0;
				e->flags = HNSW_CAND_PEEKED;
				e->vec = NULL;
				e->nbrs = NULL;
				spare = NULL;
				HnswHeapPush(candidates, e);
				HnswHeapPush(results, e);
				if (results->count > ef)
					(void) HnswHeapPop(results);	/* no discarded heap when peeking */
				continue;
			}

			/*
			 * An element entering the results gets its exact distance (and
			 * its vector) now, while its vector is at hand
			 */
			exactBelow = !wantExact ? -inf : results->count < ef ? inf : worst->distance;
			copyBelow = results->count < ef ? inf : worst->distance;
			buf = HnswPinBlock(index, ItemPointerGetBlockNumber(&neighbors[i]));
			LockBuffer(buf, BUFFER_LOCK_SHARE);
			found = ReadCandidate(BufferGetPage(buf), ItemPointerGetOffsetNumber(&neighbors[i]),
								  ItemPointerGetBlockNumber(&neighbors[i]), dist, query,
								  false, exactBelow, wantVectors, copyBelow, layer, m, e);
			UnlockReleaseBuffer(buf);
			if (!found)
				continue;
			spare = NULL;
			if (tuples_seen)
				(*tuples_seen)++;

			if (results->count < ef || e->distance < worst->distance)
			{
				Assert(!wantVectors || e->vec != NULL);
				HnswHeapPush(candidates, e);
				HnswHeapPush(results, e);
				if (results->count > ef)
				{
					HnswCandidate *evicted = HnswHeapPop(results);

					if (discarded)
						HnswDiscard(discarded, evicted);
				}
			}
			else if (discarded)
				HnswDiscard(discarded, e);
			else if (e->vec != NULL)
			{
				/* A tie copied for nothing: reuse the candidate */
				pfree(e->vec);
				spare = e;
			}
			else
				spare = e;
		}
	}
	pfree(neighbors);
	pfree(pages);
	pfree(bufs);
}

/*
 * Remember how many elements a layer-0 descent (an insert, a repair by
 * vacuum) of this index visited, so that the next one sizes its visited set
 * to fit from the start.  What a descent visits depends on the data: at
 * ef_construction 64, about 360 elements on Fashion-MNIST and 150-630 on
 * the benchmark's 128-dimension Gaussian mixture, but about 1,500 on 128
 * dimensions of Gaussian noise with hardly any cluster structure.  There a
 * set sized for the first grew twice in every insert, and growing it
 * (rehashing every key) was a third of the set's cost.  The hint follows
 * the largest recent count and decays by a sixteenth per descent, so that
 * one wide search (vacuum's repairs use a larger ef) does not size every
 * later set.  Scans size their set from ef_search and gained nothing
 * measurable from a hint.
 */
static void
DescentVisitedNote(Relation index, uint32 count)
{
	HnswBufferCache *cache = (HnswBufferCache *) index->rd_amcache;

	if (cache != NULL)
		cache->visitedHint = Max(count, cache->visitedHint - cache->visitedHint / 16);
}

/* The size a layer-0 descent's visited set should start at, or 0 */
static int
DescentVisitedHint(Relation index)
{
	HnswBufferCache *cache = (HnswBufferCache *) index->rd_amcache;

	return cache == NULL ? 0 : (int) Min(cache->visitedHint, (uint32) (INT_MAX / 4));
}

/*
 * One layer of a descent through the graph, as inserts and vacuum's repair
 * do it: a fresh visited set seeded with the current results, the layer
 * search (with untilQuery, until the query's own element), then the results
 * drained nearest first into a new array, which
 * also reseeds both heaps for the layer below.  Returns the array and sets
 * *n to its length.
 */
HnswCandidate **
HnswDescendLayer(Relation index, const HnswDistance *dist, const Vector *query,
				 HnswHeap *candidates, HnswHeap *results, int ef, int layer, int m,
				 bool untilQuery, int expected, int *n)
{
	HnswVisited visited;
	HnswCandidate **sorted;

	if (layer == 0)
		expected = Max(expected, DescentVisitedHint(index));
	HnswVisitedInit(&visited, expected);
	for (int i = 0; i < results->count; i++)
		HnswVisitedAdd(&visited, &results->items[i].c->tid);
	HnswSearchLayer(index, dist, query, candidates, ef, layer, m, true, false, untilQuery,
					&visited, results, NULL, NULL);
	if (layer == 0)
		DescentVisitedNote(index, visited.count);

	*n = results->count;
	sorted = palloc(sizeof(HnswCandidate *) * Max(*n, 1));
	for (int i = *n - 1; i >= 0; i--)
		sorted[i] = HnswHeapPop(results);
	candidates->count = 0;
	for (int i = 0; i < *n; i++)
	{
		sorted[i]->flags = 0;
		HnswHeapPush(candidates, sorted[i]);
		HnswHeapPush(results, sorted[i]);
	}
	return sorted;
}

/*
 * The neighbour selection heuristic of the HNSW paper: walk the candidates
 * from nearest to farthest and keep one only if it is closer to the base
 * element than to every candidate kept so far, which spreads the links in
 * different directions.  `candidates` must be sorted nearest first and carry
 * their vectors; returns how many were selected (at most `keep`).
 */
int
HnswSelectNeighbors(const HnswDistance *dist, HnswCandidate **candidates,
					int ncandidates, int keep, HnswCandidate **selected)
{
	int			nselected = 0;

	for (int i = 0; i < ncandidates && nselected < keep; i++)
	{
		HnswCandidate *e = candidates[i];
		bool		good = true;

		if (e->deleted)
			continue;
		for (int j = 0; j < nselected; j++)
		{
			if (HnswTraversalDistance(dist, e->vec, selected[j]->vec) < e->distance)
			{
				good = false;
				break;
			}
		}
		if (good)
			selected[nselected++] = e;
	}
	return nselected;
}
