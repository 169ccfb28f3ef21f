/*-------------------------------------------------------------------------
 *
 * vectorpg.h
 *	  Module header: everything that more than one source file of vectorpg
 *	  needs, and nothing else.
 *
 * What lives here:
 *	- the in-memory and on-disk layout of the vector type (Vector);
 *	- the type's limits, as the min/max pairs that the SQL functions, the
 *	  index and the tests share;
 *	- the validation helpers that every input path calls, so that a value
 *	  rejected through text input, binary input, an array cast or a typmod
 *	  coercion gets the same message and SQLSTATE;
 *	- the distance kernel table (implemented in distance.c and
 *	  distance_simd.c) and the version-compatibility macros.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef VECTORPG_H
#define VECTORPG_H

#include "postgres.h"

#include <math.h>

#include "fmgr.h"

/* Version-compatibility shims; keep them next to nothing but themselves */
#if PG_VERSION_NUM < 150000
#error "vectorpg requires PostgreSQL 15 or later"
#endif

#if PG_VERSION_NUM >= 160000
#define VECTORPG_FUNCTION(name) PG_FUNCTION_INFO_V1(name)
#else
#define VECTORPG_FUNCTION(name) PGDLLEXPORT PG_FUNCTION_INFO_V1(name)
#endif

/*
 * Dimension limits of the vector type.  VECTOR_MAX_DIM matches pgvector so
 * that every value a pgvector application can store is accepted here.
 */
#define VECTOR_MIN_DIM		1
#define VECTOR_MAX_DIM		16000

/*
 * A vector as stored and passed around.  The header is the varlena length
 * word, the number of dimensions and a reserved 16-bit field that is always
 * zero (it is part of the binary wire format too, where pgvector calls it
 * "unused"); the float4 elements follow.
 */
typedef struct Vector
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int16		dim;			/* number of dimensions */
	int16		unused;			/* reserved, always 0 */
	float		x[FLEXIBLE_ARRAY_MEMBER];
} Vector;

/* Size of a vector of dim dimensions, computed without overflow */
#define VECTOR_SIZE(dim)	add_size(offsetof(Vector, x), mul_size(sizeof(float), (dim)))

#define DatumGetVector(d)		((Vector *) PG_DETOAST_DATUM(d))
#define PG_GETARG_VECTOR_P(n)	DatumGetVector(PG_GETARG_DATUM(n))
#define PG_RETURN_VECTOR_P(v)	PG_RETURN_POINTER(v)

/* vector.c */
extern Datum l2_distance(PG_FUNCTION_ARGS);
extern Datum vector_l2_squared_distance(PG_FUNCTION_ARGS);
extern Datum vector_negative_inner_product(PG_FUNCTION_ARGS);
extern Datum cosine_distance(PG_FUNCTION_ARGS);
extern Datum l1_distance(PG_FUNCTION_ARGS);
extern Vector *InitVector(int dim);
extern void VectorCheckDim(int dim);
extern void VectorCheckExpectedDim(int32 typmod, int dim);
extern void VectorCheckSameDims(const Vector *a, const Vector *b);

/*
 * Reject NaN and infinite elements.  Inline because every element of every
 * input passes through here.
 */
static inline void
VectorCheckElement(float value)
{
	if (unlikely(isnan(value)))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN not allowed in vector")));
	if (unlikely(isinf(value)))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value not allowed in vector")));
}

/*
 * The narrow types the index may store a vector in besides float4, when
 * every value fits one exactly (hnswcodec.c; hnsw.h's formats 1-4 in this
 * order).  The byte types come first.
 */
typedef enum VectorNarrowType
{
	VECTOR_NARROW_U8,
	VECTOR_NARROW_I8,
	VECTOR_NARROW_F16,
	VECTOR_NARROW_BF16,
	VECTOR_NARROW_TYPES
} VectorNarrowType;

#define VECTOR_BYTE_TYPES	2	/* U8 and I8 */

/* Traversal kernels of a float4 query a against a stored narrow vector b */
typedef struct VectorStoredKernels
{
	float		(*l2_squared) (const float *a, const void *b, int n);
	float		(*inner_product) (const float *a, const void *b, int n);
	float		(*l1) (const float *a, const void *b, int n);
	void		(*cosine_parts) (const float *a, const void *b, int n,
								 float *dot, float *norm_a, float *norm_b);
} VectorStoredKernels;

/* Exact traversal kernels between two vectors of one byte type */
typedef struct VectorByteKernels
{
	float		(*l2_squared) (const void *a, const void *b, int n);
	float		(*inner_product) (const void *a, const void *b, int n);
	float		(*l1) (const void *a, const void *b, int n);
	void		(*cosine_parts) (const void *a, const void *b, int n,
								 float *dot, float *norm_a, float *norm_b);
} VectorByteKernels;

/*
 * Distance kernels.
 *
 * Each kernel reads two float4 arrays of n elements and accumulates in
 * float8: products and differences of float4 values are exact or nearly so
 * in float8, so sums that would overflow float4 stay finite, and the SIMD
 * and scalar versions (which differ only in summation order) agree to far
 * better than 1e-6 relative for sums of like-signed terms (L2, L1, norms).
 * Inner products whose terms cancel can still differ in the low bits that
 * float8 cannot hold, e.g. 1e20 + 1 - 1e20.  The table is filled by distance.c according to the
 * CPU and the vectorpg.kernel setting.
 */
typedef struct VectorKernels
{
	const char *name;			/* "scalar", "avx2" or "avx512" */
	double		(*l2_squared) (const float *a, const float *b, int n);
	double		(*inner_product) (const float *a, const float *b, int n);
	double		(*l1) (const float *a, const float *b, int n);
	/* dot product and both squared norms in one pass, for cosine */
	void		(*cosine_parts) (const float *a, const float *b, int n,
								 double *dot, double *norm_a, double *norm_b);
	double		(*norm_squared) (const float *a, int n);

	/*
	 * Traversal kernels: float4 accumulation, about twice as fast.  The
	 * index uses them to find its way through the graph; every value it
	 * returns to the executor is recomputed with the exact kernels above.
	 */
	float		(*l2_squared_f32) (const float *a, const float *b, int n);
	float		(*inner_product_f32) (const float *a, const float *b, int n);
	float		(*l1_f32) (const float *a, const float *b, int n);
	/* dot product and both squared norms, for cosine and inner product */
	void		(*cosine_parts_f32) (const float *a, const float *b, int n,
									 float *dot, float *norm_a, float *norm_b);

	/*
	 * Widening kernels: expand n narrow elements to float4, exactly.  The
	 * index keeps vectors whose values all fit a narrower type losslessly
	 * in that type (see hnswcodec.c) and widens them to compute distances.
	 */
	void		(*widen_u8) (float *out, const uint8 *in, int n);
	void		(*widen_i8) (float *out, const int8 *in, int n);
	void		(*widen_f16) (float *out, const uint16 *in, int n);
	void		(*widen_bf16) (float *out, const uint16 *in, int n);

	/*
	 * Traversal kernels against a vector stored in a narrow type, read in
	 * place (distance_narrow_template.h), indexed by VectorNarrowType: a
	 * float4 query against any of them, and for the byte types, two
	 * vectors of that type, exactly (the sums in int32, rounded once)
	 */
	VectorStoredKernels stored[VECTOR_NARROW_TYPES];
	VectorByteKernels bytes[VECTOR_BYTE_TYPES];
} VectorKernels;

/* Scalar widening kernels, also the tails of the SIMD ones (distance.c) */
extern void VectorWidenU8(float *out, const uint8 *in, int n);
extern void VectorWidenI8(float *out, const int8 *in, int n);
extern void VectorWidenF16(float *out, const uint16 *in, int n);
extern void VectorWidenBF16(float *out, const uint16 *in, int n);
extern float VectorHalfToFloat(uint16 h);

/* One bfloat16 value to float4: the upper half of its bits */
static inline float
VectorBFloatToFloat(uint16 h)
{
	uint32		bits = (uint32) h << 16;
	float		f;

	memcpy(&f, &bits, sizeof(float));
	return f;
}

/*
 * The stored[] and bytes[] initializers of a kernel set whose narrow kernels
 * (distance_narrow_template.h) carry the name prefix P (Scalar, Avx2,
 * Avx512), in VectorNarrowType order
 */
#define VECTOR_NARROW_KERNELS(P) \
	{ \
		{P##L2SquaredU8F32, P##InnerProductU8F32, P##L1U8F32, P##CosinePartsU8F32}, \
		{P##L2SquaredI8F32, P##InnerProductI8F32, P##L1I8F32, P##CosinePartsI8F32}, \
		{P##L2SquaredF16F32, P##InnerProductF16F32, P##L1F16F32, P##CosinePartsF16F32}, \
		{P##L2SquaredBF16F32, P##InnerProductBF16F32, P##L1BF16F32, P##CosinePartsBF16F32} \
	}, \
	{ \
		{P##L2SquaredU8, P##InnerProductU8, P##L1U8, P##CosinePartsU8}, \
		{P##L2SquaredI8, P##InnerProductI8, P##L1I8, P##CosinePartsI8} \
	}

/* The kernels in use; never NULL after _PG_init */
extern const VectorKernels *vector_kernels;

/* Choices for vectorpg.kernel */
typedef enum VectorKernelChoice
{
	VECTOR_KERNEL_AUTO,
	VECTOR_KERNEL_SCALAR,
	VECTOR_KERNEL_AVX2,
	VECTOR_KERNEL_AVX512
} VectorKernelChoice;

/* distance.c */
extern void DistanceInit(void);
extern const VectorKernels *DistanceKernelsFor(VectorKernelChoice choice);
extern double VectorCosineDistance(const float *a, const float *b, int n);


/* distance_simd.c: NULL where the build or the CPU lacks the instructions */
extern const VectorKernels *DistanceAvx2Kernels(void);
extern const VectorKernels *DistanceAvx512Kernels(void);

/*
 * malloc_tuning.c: vectorpg.malloc_keep (kB), the freed memory a backend
 * keeps for reuse (glibc's trim threshold; the mmap threshold is half of
 * it, at most glibc's limit).  -1, the default, is "auto": a session's
 * first batch call carrying at least VECTORPG_AUTO_MALLOC_KEEP_BATCH kB of
 * vectors applies VECTORPG_AUTO_MALLOC_KEEP, or VECTORPG_AUTO_MALLOC_KEEP_FACTOR
 * times the largest batch's vectors so far, up to
 * VECTORPG_AUTO_MALLOC_KEEP_MAX; 0 leaves malloc alone.
 */
#define VECTORPG_MIN_MALLOC_KEEP		(-1)
#define VECTORPG_DEFAULT_MALLOC_KEEP	(-1)
#define VECTORPG_MAX_MALLOC_KEEP		(1024 * 1024)
#define VECTORPG_MAX_MMAP_THRESHOLD		(32 * 1024)
#define VECTORPG_AUTO_MALLOC_KEEP		(32 * 1024)
#define VECTORPG_AUTO_MALLOC_KEEP_BATCH	1024
#define VECTORPG_AUTO_MALLOC_KEEP_FACTOR	8
#define VECTORPG_AUTO_MALLOC_KEEP_MAX	(256 * 1024)
extern void MallocTuningInit(void);

#endif							/* VECTORPG_H */
