/*-------------------------------------------------------------------------
 *
 * hnswcodec.c
 *	  Lossless compact storage of the vectors in hnsw element tuples.
 *
 * Many vectors hold values that a narrower type represents exactly: pixel
 * and SIFT-style descriptors are small integers, and embeddings computed in
 * half precision or bfloat16 and then widened to float4 keep the narrow
 * type's bits.  The index stores each element in the narrowest of these
 * formats that holds every one of its values exactly.  The exact distances
 * widen it back to float4 (the widening kernels in distance*.c); the
 * traversal reads it in place (distance_narrow_template.h).  Because nothing
 * is rounded, every distance equals the one computed from the original
 * vector, bit for bit, and the index returns the same results as with
 * float4 storage; it only reads (and caches) fewer bytes.  (One exception,
 * in the traversal only: a query or an inserted vector whose values are
 * bytes meets byte elements in integer kernels, which sum exactly where
 * float4 sums may round in the last bit.)  Vectors with arbitrary float
 * values stay float4.  vectorpg._traversal_distances, at the end, shows
 * the traversal kernels on any pair, for the tests.
 *
 * The stored copy keeps the Vector header: varlena length (of the stored
 * bytes), dim, and the format in the field that is always 0 in a vector
 * value (so float4 storage is byte-identical to the value).  The format is
 * a function of the values alone, so equal vectors have equal encodings,
 * which the insert's duplicate detection relies on.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "funcapi.h"
#include "utils/builtins.h"
#include "hnsw.h"

/* Bytes per element of each format */
static int
FormatWidth(uint8 format)
{
	switch (format)
	{
		case HNSW_FORMAT_U8:
		case HNSW_FORMAT_I8:
			return 1;
		case HNSW_FORMAT_F16:
		case HNSW_FORMAT_BF16:
			return 2;
		default:
			return 4;
	}
}

/*
 * The binary16 bits of x when x is exactly a half value (finite, within
 * range, no bits below the half's precision), else -1.
 */
static int32
ExactHalf(float x)
{
	uint32		bits;
	uint32		sign;
	int			exp;
	uint32		mant;

	memcpy(&bits, &x, sizeof(bits));
	sign = (bits >> 16) & 0x8000;
	exp = (int) ((bits >> 23) & 0xFF) - 127;
	mant = bits & 0x7FFFFF;

	if ((bits & 0x7FFFFFFF) == 0)
		return (int32) sign;	/* +0 or -0 */
	if (exp == 128)
		return -1;				/* not finite */
	if (exp >= -14 && exp <= 15)
	{
		/* Normal half: 10 mantissa bits */
		if (mant & 0x1FFF)
			return -1;
		return (int32) (sign | ((uint32) (exp + 15) << 10) | (mant >> 13));
	}
	if (exp >= -24 && exp < -14)
	{
		/* Subnormal half: a multiple of 2^-24 below 2^-14 */
		uint32		full = mant | 0x800000;
		int			shift = 13 + (-14 - exp);

		if (full & ((1u << shift) - 1))
			return -1;
		return (int32) (sign | (full >> shift));
	}
	return -1;
}

/*
 * The formats that hold every element of v exactly, as bits 1 << format
 * (besides float4, which holds everything).  Also decides whether a query
 * meets byte elements in the integer kernels (HnswSetQueryBytes), so that
 * storage and traversal share one test.  Bytes need integral values
 * (and no -0, whose sign a byte cannot keep); half and bfloat16 need values
 * whose bits the narrow type has.  An integer of -128..255 has them in both
 * (8 significant bits at most), so such an element skips those tests: every
 * insert of a pixel vector makes this test twice, and testing each element
 * for a half as well was 5 % of a Fashion-MNIST insert's instructions.  The
 * integral test converts to int32 and back rather than calling rintf(),
 * which is a library call without SSE4.1.
 */
int
HnswFittingFormats(const Vector *v)
{
	bool		u8 = true,
				i8 = true,
				f16 = true,
				bf16 = true;

	for (int i = 0; i < v->dim && (u8 || i8 || f16 || bf16); i++)
	{
		float		x = v->x[i];
		uint32		bits;

		memcpy(&bits, &x, sizeof(bits));
		if ((u8 || i8) && x >= -128.0f && x <= 255.0f &&
			(float) (int32) x == x && bits != 0x80000000)
		{
			/* an integer of -128..255: a half and a bfloat16 too */
			u8 = u8 && x >= 0.0f;
			i8 = i8 && x <= 127.0f;
			continue;
		}
		u8 = i8 = false;
		if (f16 && ExactHalf(x) < 0)
			f16 = false;
		if (bf16 && (bits & 0xFFFF) != 0)
			bf16 = false;
	}
	return (u8 ? 1 << HNSW_FORMAT_U8 : 0) | (i8 ? 1 << HNSW_FORMAT_I8 : 0) |
		(f16 ? 1 << HNSW_FORMAT_F16 : 0) | (bf16 ? 1 << HNSW_FORMAT_BF16 : 0);
}

/* The narrowest format that holds every element of v exactly */
uint8
HnswChooseFormat(const Vector *v)
{
	int			fits = HnswFittingFormats(v);

	for (uint8 format = HNSW_FORMAT_U8; format <= HNSW_FORMAT_MAX; format++)
	{
		if (fits & (1 << format))
			return format;
	}
	return HNSW_FORMAT_F32;
}

/* Size of the stored copy (its varlena length) of dim elements */
Size
HnswStoredVectorSize(int dim, uint8 format)
{
	return offsetof(Vector, x) + (Size) dim * FormatWidth(format);
}

/* Size of an element tuple holding a vector of this stored size */
Size
HnswElementTupleSize(Size storedSize)
{
	return MAXALIGN(offsetof(HnswElementTupleData, data) + storedSize);
}

/*
 * Write the stored copy of v in `format` (which HnswChooseFormat gave, so
 * that it is exact) to out, which has room for HnswStoredVectorSize.
 */
void
HnswEncodeVector(const Vector *v, uint8 format, Vector *out)
{
	char	   *dst = (char *) out->x;

	SET_VARSIZE(out, HnswStoredVectorSize(v->dim, format));
	out->dim = v->dim;
	out->unused = format;
	for (int i = 0; i < v->dim; i++)
	{
		float		x = v->x[i];

		switch (format)
		{
			case HNSW_FORMAT_U8:
				((uint8 *) dst)[i] = (uint8) x;
				break;
			case HNSW_FORMAT_I8:
				((int8 *) dst)[i] = (int8) x;
				break;
			case HNSW_FORMAT_F16:
				((uint16 *) dst)[i] = (uint16) ExactHalf(x);
				break;
			case HNSW_FORMAT_BF16:
				{
					uint32		bits;

					memcpy(&bits, &x, sizeof(bits));
					((uint16 *) dst)[i] = (uint16) (bits >> 16);
				}
				break;
			default:
				((float *) dst)[i] = x;
				break;
		}
	}
}

/*
 * The float4 vector of a stored copy: the stored copy itself when it is
 * float4, else its widening into `buf`.  Returns NULL for a copy whose
 * format or length is not one this version writes (a damaged tuple).
 */
const Vector *
HnswStoredVector(const Vector *stored, HnswVectorBuf *buf)
{
	uint8		format = (uint8) stored->unused;
	const char *src = (const char *) stored->x;
	Vector	   *out = &buf->v;

	if (stored->dim < 1 || stored->dim > HNSW_MAX_DIM || format > HNSW_FORMAT_MAX ||
		VARSIZE(stored) != HnswStoredVectorSize(stored->dim, format))
		return NULL;
	if (format == HNSW_FORMAT_F32)
		return stored;

	SET_VARSIZE(out, VECTOR_SIZE(stored->dim));
	out->dim = stored->dim;
	out->unused = 0;
	switch (format)
	{
		case HNSW_FORMAT_U8:
			vector_kernels->widen_u8(out->x, (const uint8 *) src, stored->dim);
			break;
		case HNSW_FORMAT_I8:
			vector_kernels->widen_i8(out->x, (const int8 *) src, stored->dim);
			break;
		case HNSW_FORMAT_F16:
			vector_kernels->widen_f16(out->x, (const uint16 *) src, stored->dim);
			break;
		case HNSW_FORMAT_BF16:
			vector_kernels->widen_bf16(out->x, (const uint16 *) src, stored->dim);
			break;
	}
	return out;
}

/* Name of a format, for hnsw_index_check and the docs */
const char *
HnswFormatName(uint8 format)
{
	switch (format)
	{
		case HNSW_FORMAT_F32:
			return "float4";
		case HNSW_FORMAT_U8:
			return "uint8";
		case HNSW_FORMAT_I8:
			return "int8";
		case HNSW_FORMAT_F16:
			return "float2";
		case HNSW_FORMAT_BF16:
			return "bfloat16";
	}
	return "unknown";
}

/* The name of a narrow format in vectorpg._traversal_distances's rows */
static const char *const narrow_names[HNSW_FORMAT_MAX + 1] = {NULL, "u8", "i8", "f16", "bf16"};

/* One row of vectorpg._traversal_distances */
static void
TraversalRow(ReturnSetInfo *rsinfo, const char *kernel, const char *fn, const char *type,
			 float value)
{
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	char		name[NAMEDATALEN];

	snprintf(name, sizeof(name), fn, type);
	values[0] = CStringGetTextDatum(kernel);
	values[1] = CStringGetTextDatum(name);
	values[2] = Float4GetDatum(value);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * The rows of one kernel family: "%s" in each name becomes the type's
 * name, with _f32 for the float4-against-stored kernels
 */
static void
FamilyRows(ReturnSetInfo *rsinfo, const char *kernel, const char *type, float l2, float ip,
		   float l1, float dot, float na, float nb)
{
	TraversalRow(rsinfo, kernel, "l2_squared_%s", type, l2);
	TraversalRow(rsinfo, kernel, "inner_product_%s", type, ip);
	TraversalRow(rsinfo, kernel, "l1_%s", type, l1);
	TraversalRow(rsinfo, kernel, "cosine_parts_%s dot", type, dot);
	TraversalRow(rsinfo, kernel, "cosine_parts_%s norm_a", type, na);
	TraversalRow(rsinfo, kernel, "cosine_parts_%s norm_b", type, nb);
}

VECTORPG_FUNCTION(vectorpg_traversal_distances);

/*
 * SQL vectorpg._traversal_distances(a, b): what every traversal kernel of
 * every kernel set this CPU runs gives for a and b.  The index uses these
 * kernels internally and never shows their values, so without this only
 * recall could reveal a wrong one; the tests compare the sets with each
 * other and the byte kernels with the exact distance.  Rows: the float4
 * kernels (_f32); for each narrow format b fits, the kernels against b
 * stored in it (_u8_f32, _i8_f32, _f16_f32, _bf16_f32); and for each byte
 * format both fit, the integer kernels (_u8, _i8).
 */
Datum
vectorpg_traversal_distances(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	Vector	   *astored = palloc(VECTOR_SIZE(Max(a->dim, 1)));
	Vector	   *bstored = palloc(VECTOR_SIZE(Max(b->dim, 1)));
	int			afits;
	int			bfits;
	int			n = a->dim;

	VectorCheckSameDims(a, b);
	afits = HnswFittingFormats(a);
	bfits = HnswFittingFormats(b);
	InitMaterializedSRF(fcinfo, 0);

	for (int choice = VECTOR_KERNEL_SCALAR; choice <= VECTOR_KERNEL_AVX512; choice++)
	{
		const VectorKernels *k = DistanceKernelsFor((VectorKernelChoice) choice);
		float		dot,
					na,
					nb;

		if (k == NULL)
			continue;
		k->cosine_parts_f32(a->x, b->x, n, &dot, &na, &nb);
		FamilyRows(rsinfo, k->name, "f32", k->l2_squared_f32(a->x, b->x, n),
				   k->inner_product_f32(a->x, b->x, n), k->l1_f32(a->x, b->x, n), dot, na, nb);
		for (uint8 format = HNSW_FORMAT_U8; format <= HNSW_FORMAT_MAX; format++)
		{
			const VectorStoredKernels *sk = &k->stored[HNSW_FORMAT_NARROW(format)];
			char		type[16];

			if (!(bfits & (1 << format)))
				continue;
			HnswEncodeVector(b, format, bstored);
			sk->cosine_parts(a->x, bstored->x, n, &dot, &na, &nb);
			snprintf(type, sizeof(type), "%s_f32", narrow_names[format]);
			FamilyRows(rsinfo, k->name, type, sk->l2_squared(a->x, bstored->x, n),
					   sk->inner_product(a->x, bstored->x, n), sk->l1(a->x, bstored->x, n),
					   dot, na, nb);
			if (HNSW_FORMAT_IS_BYTES(format) && (afits & (1 << format)))
			{
				const VectorByteKernels *bk = &k->bytes[HNSW_FORMAT_NARROW(format)];

				HnswEncodeVector(a, format, astored);
				bk->cosine_parts(astored->x, bstored->x, n, &dot, &na, &nb);
				FamilyRows(rsinfo, k->name, narrow_names[format],
						   bk->l2_squared(astored->x, bstored->x, n),
						   bk->inner_product(astored->x, bstored->x, n),
						   bk->l1(astored->x, bstored->x, n), dot, na, nb);
			}
		}
	}
	return (Datum) 0;
}
