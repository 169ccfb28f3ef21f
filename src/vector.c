/*-------------------------------------------------------------------------
 *
 * vector.c
 *	  The vector type: text and binary I/O, typmod, casts, operators,
 *	  distance functions and aggregates.
 *
 * The SQL surface (names, operators, casts, the binary wire format) follows
 * pgvector so that applications written for it run unchanged.  Every input
 * path validates through the VectorCheck* helpers so that the same bad value
 * is rejected with the same message and SQLSTATE however it arrives.
 * Distances are computed by the kernels of distance.c.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <limits.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/varbit.h"
#include "vectorpg.h"

/* ------------------------------------------------------------------------
 * Validation shared by every input path
 * ------------------------------------------------------------------------
 */

/* Reject a dimension count outside the type's limits */
void
VectorCheckDim(int dim)
{
	if (dim < VECTOR_MIN_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector must have at least %d dimension", VECTOR_MIN_DIM)));
	if (dim > VECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector cannot have more than %d dimensions", VECTOR_MAX_DIM)));
}

/* Reject a value whose dimension count differs from the column's typmod */
void
VectorCheckExpectedDim(int32 typmod, int dim)
{
	if (typmod != -1 && typmod != dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", typmod, dim)));
}

/* Reject two operands of different dimension counts */
void
VectorCheckSameDims(const Vector *a, const Vector *b)
{
	if (a->dim != b->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vector dimensions %d and %d", a->dim, b->dim)));
}

/* Allocate a zeroed vector of dim dimensions */
Vector *
InitVector(int dim)
{
	Size		size = VECTOR_SIZE(dim);
	Vector	   *result = (Vector *) palloc0(size);

	SET_VARSIZE(result, size);
	result->dim = dim;
	return result;
}

/*
 * Error for an arithmetic result that left float4's range although its
 * operands were finite.
 */
static void
ReportOverflow(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("value out of range: overflow")));
}

/* Error for a nonzero product that rounded to zero */
static void
ReportUnderflow(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("value out of range: underflow")));
}

/* ------------------------------------------------------------------------
 * Text I/O and typmod
 * ------------------------------------------------------------------------
 */

/* Whitespace as the text form understands it (the same set as array_in) */
static inline bool
VectorIsSpace(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
		ch == '\v' || ch == '\f';
}

/* Error for text that does not follow the [x,y,...] form */
static void
ReportBadSyntax(const char *input, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type vector: \"%s\"", input),
			 detail ? errdetail("%s", detail) : 0));
}

/*
 * A plain decimal integer of at most 7 digits (optionally signed), followed
 * by something that cannot continue a number: its float4 value is exact,
 * so it needs no strtof.  Pixel and descriptor data are written this way,
 * and strtof is most of the cost of reading them.  Returns the end of the
 * token, or NULL to leave the token to strtof.
 */
static inline char *
ParseSmallInteger(char *p, float *value)
{
	bool		negative = false;
	int32		n = 0;
	int			digits = 0;

	if (*p == '-' || *p == '+')
	{
		negative = *p == '-';
		p++;
	}
	while (*p >= '0' && *p <= '9')
	{
		if (++digits > 7)
			return NULL;
		n = n * 10 + (*p - '0');
		p++;
	}
	if (digits == 0 || *p == '.' || *p == 'e' || *p == 'E' || *p == 'x' || *p == 'X' ||
		(*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
		return NULL;
	*value = negative ? -(float) n : (float) n;
	return p;
}

/* Powers of ten that a double holds exactly (10^22 is the last) */
static const double ExactPowersOfTen[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

/*
 * A decimal number in the usual form, [sign] digits [. digits] [e [sign]
 * digits], of at most 19 significant digits and a small exponent, as
 * clients print floats: its float4 value without strtof, which is most of
 * the cost of reading such text.
 *
 * Clinger's fast path, widened: the digits as a double (exact up to 15
 * digits, within half an ulp beyond), times or divided by an exact power of
 * ten, give a double within a little over 2 ulps of the number (exactly its
 * rounding for 15 digits or fewer).  Narrowing that to float4 gives the
 * number's correctly rounded float4, what strtof returns, unless the
 * double lies within 3 ulps of halfway between two float4s, where the
 * number could be on the other side of that midpoint.  Those, subnormal and out-of-range
 * results, and any other form (more digits, hexadecimal, "inf", a suffix)
 * return NULL and are left to strtof.  Otherwise returns the end of the
 * token.  vector_io checks it against float4in, which is strtof.
 */
static inline char *
ParseFastDecimal(char *p, float *value)
{
	bool		negative = false;
	uint64		mantissa = 0;
	int			significant = 0;
	int			digits = 0;
	int			exp10 = 0;
	double		d;
	uint64		bits;

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
	/* Doubles evaluated in wider registers would round differently */
	return NULL;
#endif
	if (*p == '-' || *p == '+')
	{
		negative = *p == '-';
		p++;
	}
	for (; *p >= '0' && *p <= '9'; p++, digits++)
	{
		if (mantissa != 0 || *p != '0')
		{
			if (++significant > 19)
				return NULL;
			mantissa = mantissa * 10 + (*p - '0');
		}
	}
	if (*p == '.')
	{
		for (p++; *p >= '0' && *p <= '9'; p++, digits++, exp10--)
		{
			if (mantissa != 0 || *p != '0')
			{
				if (++significant > 19)
					return NULL;
				mantissa = mantissa * 10 + (*p - '0');
			}
		}
	}
	if (digits == 0)
		return NULL;
	if (*p == 'e' || *p == 'E')
	{
		bool		expNegative = false;
		int			e = 0;
		int			edigits = 0;

		p++;
		if (*p == '-' || *p == '+')
		{
			expNegative = *p == '-';
			p++;
		}
		for (; *p >= '0' && *p <= '9'; p++)
		{
			if (++edigits > 3)
				return NULL;
			e = e * 10 + (*p - '0');
		}
		if (edigits == 0)
			return NULL;
		exp10 += expNegative ? -e : e;
	}
	/* Anything that could continue a number is strtof's business */
	if (*p == '.' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		(*p >= 'A' && *p <= 'Z'))
		return NULL;
	if (exp10 < -22 || exp10 > 22)
		return NULL;

	d = (double) mantissa;
	d = exp10 < 0 ? d / ExactPowersOfTen[-exp10] : d * ExactPowersOfTen[exp10];
	if (d != 0 && (d < FLT_MIN || d > FLT_MAX))
		return NULL;

	/*
	 * Near halfway between two float4s: the 29 fraction bits a float4 lacks
	 * are within 3 of 1 followed by zeros (the two roundings above put d
	 * within a little over 2 ulps of the number)
	 */
	memcpy(&bits, &d, sizeof(bits));
	bits &= (UINT64CONST(1) << 29) - 1;
	if (bits + 3 >= (UINT64CONST(1) << 28) && bits <= (UINT64CONST(1) << 28) + 3)
		return NULL;

	*value = (float) (negative ? -d : d);
	return p;
}

VECTORPG_FUNCTION(vector_in);

/*
 * Parse the text form: '[', elements separated by commas, ']', whitespace
 * allowed around every token.  Elements get the value strtof gives them, as
 * float4in does (rounding once, straight to float4): small integers and
 * short decimals by the fast paths above, which give the same value, the
 * rest by strtof itself.
 */
Datum
vector_in(PG_FUNCTION_ARGS)
{
	char	   *input = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	char	   *p = input;
	int			dim = 0;
	int			capacity = 64;
	float	   *values;
	Vector	   *result;

	while (VectorIsSpace(*p))
		p++;
	if (*p != '[')
		ReportBadSyntax(input, "Vector contents must start with \"[\".");
	p++;
	while (VectorIsSpace(*p))
		p++;
	if (*p == ']')
		VectorCheckDim(0);

	values = palloc(sizeof(float) * capacity);
	for (;;)
	{
		char	   *end;
		float		value;

		if (dim == VECTOR_MAX_DIM)
			VectorCheckDim(VECTOR_MAX_DIM + 1);

		/* strtof would skip leading whitespace itself; do it explicitly */
		while (VectorIsSpace(*p))
			p++;
		if (*p == '\0' || *p == ',' || *p == ']')
			ReportBadSyntax(input, *p == '\0' ? "Unexpected end of input." :
							"Every element must be a number.");

		end = ParseSmallInteger(p, &value);
		if (end == NULL)
			end = ParseFastDecimal(p, &value);
		if (end != NULL)
			goto parsed;

		errno = 0;
		value = strtof(p, &end);
		if (end == p)
			ReportBadSyntax(input, "Every element must be a number.");

		/* Underflow to a denormal is fine; to zero or to infinity is not */
		if (errno == ERANGE && (value == 0.0f || isinf(value)))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("\"%.*s\" is out of range for type vector",
							(int) (end - p), p)));
		VectorCheckElement(value);

parsed:
		if (dim == capacity)
		{
			capacity = Min(capacity * 2, VECTOR_MAX_DIM);
			values = repalloc(values, sizeof(float) * capacity);
		}
		values[dim++] = value;

		p = end;
		while (VectorIsSpace(*p))
			p++;
		if (*p == ',')
			p++;
		else if (*p == ']')
			break;
		else
			ReportBadSyntax(input, *p == '\0' ? "Unexpected end of input." :
							"Elements must be separated by \",\".");
	}

	/* Only whitespace may follow the closing bracket */
	p++;
	while (VectorIsSpace(*p))
		p++;
	if (*p != '\0')
		ReportBadSyntax(input, "Junk after closing right bracket.");

	VectorCheckExpectedDim(typmod, dim);

	result = InitVector(dim);
	memcpy(result->x, values, sizeof(float) * dim);
	pfree(values);
	PG_RETURN_VECTOR_P(result);
}

VECTORPG_FUNCTION(vector_out);

/*
 * Print the text form, each element as the shortest decimal that reads back
 * to the same float4.
 */
Datum
vector_out(PG_FUNCTION_ARGS)
{
	Vector	   *vector = PG_GETARG_VECTOR_P(0);
	int			dim = vector->dim;
	char	   *buf;
	char	   *p;

	/* Worst case: every element at full length, a comma each, brackets */
	buf = palloc(add_size(mul_size(dim, FLOAT_SHORTEST_DECIMAL_LEN), 3));
	p = buf;
	*p++ = '[';
	for (int i = 0; i < dim; i++)
	{
		if (i > 0)
			*p++ = ',';
		p += float_to_shortest_decimal_bufn(vector->x[i], p);
	}
	*p++ = ']';
	*p = '\0';

	PG_FREE_IF_COPY(vector, 0);
	PG_RETURN_CSTRING(buf);
}

VECTORPG_FUNCTION(vector_typmod_in);

/* Parse the n of vector(n) */
Datum
vector_typmod_in(PG_FUNCTION_ARGS)
{
	ArrayType  *ta = PG_GETARG_ARRAYTYPE_P(0);
	int32	   *tl;
	int			n;

	tl = ArrayGetIntegerTypmods(ta, &n);
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier"),
				 errdetail("Type vector takes exactly one modifier, the number of dimensions.")));
	if (*tl < VECTOR_MIN_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type vector must be at least %d", VECTOR_MIN_DIM)));
	if (*tl > VECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type vector cannot exceed %d", VECTOR_MAX_DIM)));
	PG_RETURN_INT32(*tl);
}

VECTORPG_FUNCTION(vector_typmod_out);

/* Print the (n) of vector(n) */
Datum
vector_typmod_out(PG_FUNCTION_ARGS)
{
	int32		typmod = PG_GETARG_INT32(0);

	if (typmod < 0)
		PG_RETURN_CSTRING(pstrdup(""));
	PG_RETURN_CSTRING(psprintf("(%d)", typmod));
}

/* ------------------------------------------------------------------------
 * Binary I/O: int16 dim, int16 unused (0), dim big-endian float4s
 * ------------------------------------------------------------------------
 */

/* Error for a binary payload that is not a well-formed vector */
static void
ReportBadBinary(const char *detail, int expected, int found)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid binary representation for type vector"),
			 errdetail(detail, expected, found)));
}

VECTORPG_FUNCTION(vector_recv);

/*
 * Read the binary form.  The payload length is checked up front, so that a
 * truncated or oversized payload is a data error (22P03) rather than a
 * protocol violation raised halfway through reading.
 */
Datum
vector_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			remaining = buf->len - buf->cursor;
	int16		dim;
	int16		unused;
	Vector	   *result;

	if (remaining < 4)
		ReportBadBinary("Expected at least %d bytes of header, found %d.", 4, remaining);
	dim = (int16) pq_getmsgint(buf, sizeof(int16));
	unused = (int16) pq_getmsgint(buf, sizeof(int16));

	VectorCheckDim(dim);
	VectorCheckExpectedDim(typmod, dim);
	if (unused != 0)
		ReportBadBinary("Expected reserved field %d, found %d.", 0, unused);

	remaining = buf->len - buf->cursor;
	if (remaining != (int) sizeof(float) * dim)
		ReportBadBinary("Expected %d bytes of elements, found %d.",
						(int) sizeof(float) * dim, remaining);

	/*
	 * The elements in one pass over the payload, byte-swapped in a loop the
	 * compiler vectorizes (pq_getmsgfloat4 per element was 4 % of a
	 * 784-dimension batch from a binary client), collecting whether any
	 * exponent is all ones; only then is each element checked, for the
	 * error's message.
	 */
	result = InitVector(dim);
	{
		const char *p = pq_getmsgbytes(buf, (int) sizeof(float) * dim);
		uint32		special = 0;

		for (int i = 0; i < dim; i++)
		{
			uint32		w;

			memcpy(&w, p + sizeof(uint32) * i, sizeof(uint32));
			w = pg_ntoh32(w);
			special |= (uint32) ((w & 0x7F800000) == 0x7F800000);
			memcpy(&result->x[i], &w, sizeof(uint32));
		}
		for (int i = 0; special && i < dim; i++)
			VectorCheckElement(result->x[i]);
	}
	PG_RETURN_VECTOR_P(result);
}

VECTORPG_FUNCTION(vector_send);

/* Write the binary form, the same bytes pgvector sends */
Datum
vector_send(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, vec->dim);
	pq_sendint16(&buf, vec->unused);
	/* the elements byte-swapped in one vectorizable loop, as vector_recv */
	enlargeStringInfo(&buf, (int) sizeof(float) * vec->dim);
	for (int i = 0; i < vec->dim; i++)
	{
		uint32		w;

		memcpy(&w, &vec->x[i], sizeof(uint32));
		w = pg_hton32(w);
		memcpy(buf.data + buf.len + sizeof(uint32) * i, &w, sizeof(uint32));
	}
	buf.len += (int) sizeof(float) * vec->dim;
	buf.data[buf.len] = '\0';
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ------------------------------------------------------------------------
 * Casts
 * ------------------------------------------------------------------------
 */

VECTORPG_FUNCTION(vector_coerce);

/* Apply a vector(n) typmod: vector(vector, integer, boolean) */
Datum
vector_coerce(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	int32		typmod = PG_GETARG_INT32(1);

	VectorCheckExpectedDim(typmod, vec->dim);
	PG_RETURN_VECTOR_P(vec);
}

/* Convert one array element of the given type to float4, checking range */
static float
ArrayElementToFloat(Datum d, Oid elemtype)
{
	switch (elemtype)
	{
		case INT4OID:
			return (float) DatumGetInt32(d);
		case FLOAT4OID:
			return DatumGetFloat4(d);
		case FLOAT8OID:
			{
				double		v = DatumGetFloat8(d);
				float		f = (float) v;

				if (unlikely(isinf(f)) && !isinf(v))
					float_overflow_error();
				if (unlikely(f == 0.0f) && v != 0.0)
					float_underflow_error();
				return f;
			}
		case NUMERICOID:
			return DatumGetFloat4(DirectFunctionCall1(numeric_float4, d));
	}
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("unsupported array element type %s for cast to vector",
					format_type_be(elemtype))));
	return 0.0f;				/* keep compiler quiet */
}

VECTORPG_FUNCTION(array_to_vector);

/* Cast integer[], real[], double precision[] or numeric[] to vector */
Datum
array_to_vector(PG_FUNCTION_ARGS)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	Oid			elemtype = ARR_ELEMTYPE(array);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	Vector	   *result;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be 1-D")));
	if (ARR_HASNULL(array) && array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("array must not contain nulls")));

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign,
					  &elems, &nulls, &nelems);

	VectorCheckDim(nelems);
	VectorCheckExpectedDim(typmod, nelems);

	result = InitVector(nelems);
	for (int i = 0; i < nelems; i++)
	{
		result->x[i] = ArrayElementToFloat(elems[i], elemtype);
		VectorCheckElement(result->x[i]);
	}

	/* The element Datums point into the array, so only the arrays go */
	pfree(elems);
	pfree(nulls);
	PG_RETURN_VECTOR_P(result);
}

VECTORPG_FUNCTION(vector_to_float4);

/* Cast vector to real[] */
Datum
vector_to_float4(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	Datum	   *datums = palloc(sizeof(Datum) * vec->dim);
	ArrayType  *result;

	for (int i = 0; i < vec->dim; i++)
		datums[i] = Float4GetDatum(vec->x[i]);
	result = construct_array(datums, vec->dim, FLOAT4OID, sizeof(float4),
							 true, TYPALIGN_INT);
	pfree(datums);
	PG_RETURN_ARRAYTYPE_P(result);
}

/* ------------------------------------------------------------------------
 * Distances
 * ------------------------------------------------------------------------
 */

VECTORPG_FUNCTION(l2_distance);

/* Euclidean distance: the <-> operator */
Datum
l2_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	VectorCheckSameDims(a, b);
	PG_RETURN_FLOAT8(sqrt(vector_kernels->l2_squared(a->x, b->x, a->dim)));
}

VECTORPG_FUNCTION(vector_l2_squared_distance);

/* Squared Euclidean distance: orders like <-> without the square root */
Datum
vector_l2_squared_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	VectorCheckSameDims(a, b);
	PG_RETURN_FLOAT8(vector_kernels->l2_squared(a->x, b->x, a->dim));
}

VECTORPG_FUNCTION(inner_product);

/* Inner (dot) product */
Datum
inner_product(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	VectorCheckSameDims(a, b);
	PG_RETURN_FLOAT8(vector_kernels->inner_product(a->x, b->x, a->dim));
}

VECTORPG_FUNCTION(vector_negative_inner_product);

/* Negative inner product: the <#> operator, smaller means more similar */
Datum
vector_negative_inner_product(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	VectorCheckSameDims(a, b);
	PG_RETURN_FLOAT8(-vector_kernels->inner_product(a->x, b->x, a->dim));
}

VECTORPG_FUNCTION(cosine_distance);

/* Cosine distance, 1 - cos(angle): the <=> operator; NaN for a zero vector */
Datum
cosine_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	VectorCheckSameDims(a, b);
	PG_RETURN_FLOAT8(VectorCosineDistance(a->x, b->x, a->dim));
}

VECTORPG_FUNCTION(l1_distance);

/* Manhattan distance: the <+> operator */
Datum
l1_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	VectorCheckSameDims(a, b);
	PG_RETURN_FLOAT8(vector_kernels->l1(a->x, b->x, a->dim));
}

/* ------------------------------------------------------------------------
 * Other functions
 * ------------------------------------------------------------------------
 */

VECTORPG_FUNCTION(vector_dims);

/* Number of dimensions */
Datum
vector_dims(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);

	PG_RETURN_INT32(a->dim);
}

VECTORPG_FUNCTION(vector_norm);

/* Euclidean norm */
Datum
vector_norm(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);

	PG_RETURN_FLOAT8(sqrt(vector_kernels->norm_squared(a->x, a->dim)));
}

VECTORPG_FUNCTION(l2_normalize);

/* Scale to unit length; a zero vector stays zero */
Datum
l2_normalize(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *result = InitVector(a->dim);
	double		norm = sqrt(vector_kernels->norm_squared(a->x, a->dim));

	if (norm > 0.0)
	{
		for (int i = 0; i < a->dim; i++)
			result->x[i] = (float) ((double) a->x[i] / norm);
	}
	PG_RETURN_VECTOR_P(result);
}

VECTORPG_FUNCTION(binary_quantize);

/* One bit per dimension: set where the element is positive */
Datum
binary_quantize(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	VarBit	   *result = palloc0(VARBITTOTALLEN(a->dim));
	unsigned char *bits = VARBITS(result);

	SET_VARSIZE(result, VARBITTOTALLEN(a->dim));
	VARBITLEN(result) = a->dim;
	for (int i = 0; i < a->dim; i++)
	{
		if (a->x[i] > 0)
			bits[i / 8] |= (unsigned char) (0x80 >> (i % 8));
	}
	PG_RETURN_VARBIT_P(result);
}

VECTORPG_FUNCTION(subvector);

/*
 * Elements start .. start + count - 1 (1-based), clipped to the vector like
 * substring() clips a string.
 */
Datum
subvector(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	int64		start = PG_GETARG_INT32(1);
	int64		count = PG_GETARG_INT32(2);
	int64		end = start + count;
	Vector	   *result;

	if (start < 1)
		start = 1;
	if (end > (int64) a->dim + 1)
		end = (int64) a->dim + 1;
	if (count < 1 || end - start < VECTOR_MIN_DIM)
		VectorCheckDim(0);

	result = InitVector((int) (end - start));
	memcpy(result->x, a->x + (start - 1), sizeof(float) * result->dim);
	PG_RETURN_VECTOR_P(result);
}

/* ------------------------------------------------------------------------
 * Arithmetic
 * ------------------------------------------------------------------------
 */

/* Which elementwise operation VectorArith applies */
typedef enum VectorArithOp
{
	VECTOR_ADD,
	VECTOR_SUB,
	VECTOR_MUL
} VectorArithOp;

/*
 * Elementwise arithmetic with the overflow and underflow checks float4
 * arithmetic has in PostgreSQL.
 */
static Vector *
VectorArith(Vector *a, Vector *b, VectorArithOp op)
{
	Vector	   *result;

	VectorCheckSameDims(a, b);
	result = InitVector(a->dim);

	for (int i = 0; i < a->dim; i++)
	{
		float		x = a->x[i];
		float		y = b->x[i];
		float		r;

		switch (op)
		{
			case VECTOR_ADD:
				r = x + y;
				break;
			case VECTOR_SUB:
				r = x - y;
				break;
			default:
				r = x * y;
				if (unlikely(r == 0.0f) && x != 0.0f && y != 0.0f)
					ReportUnderflow();
				break;
		}
		if (unlikely(isinf(r)))
			ReportOverflow();
		result->x[i] = r;
	}
	return result;
}

VECTORPG_FUNCTION(vector_add);

/* Elementwise sum: the + operator, and the transition of sum(vector) */
Datum
vector_add(PG_FUNCTION_ARGS)
{
	PG_RETURN_VECTOR_P(VectorArith(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1),
								   VECTOR_ADD));
}

VECTORPG_FUNCTION(vector_sub);

/* Elementwise difference: the - operator */
Datum
vector_sub(PG_FUNCTION_ARGS)
{
	PG_RETURN_VECTOR_P(VectorArith(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1),
								   VECTOR_SUB));
}

VECTORPG_FUNCTION(vector_mul);

/* Elementwise product: the * operator */
Datum
vector_mul(PG_FUNCTION_ARGS)
{
	PG_RETURN_VECTOR_P(VectorArith(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1),
								   VECTOR_MUL));
}

VECTORPG_FUNCTION(vector_concat);

/* Concatenation: the || operator */
Datum
vector_concat(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	Vector	   *result;

	VectorCheckDim((int) a->dim + (int) b->dim);
	result = InitVector(a->dim + b->dim);
	memcpy(result->x, a->x, sizeof(float) * a->dim);
	memcpy(result->x + a->dim, b->x, sizeof(float) * b->dim);
	PG_RETURN_VECTOR_P(result);
}

/* ------------------------------------------------------------------------
 * Comparison (btree opclass)
 * ------------------------------------------------------------------------
 */

/*
 * Order elementwise, then shorter before longer on a common prefix.  -0 and
 * +0 compare equal, as they do for float4.
 */
static int
VectorCompare(const Vector *a, const Vector *b)
{
	int			common = Min(a->dim, b->dim);

	for (int i = 0; i < common; i++)
	{
		if (a->x[i] < b->x[i])
			return -1;
		if (a->x[i] > b->x[i])
			return 1;
	}
	if (a->dim < b->dim)
		return -1;
	if (a->dim > b->dim)
		return 1;
	return 0;
}

/* Compare the two arguments of a comparison function */
#define COMPARE_ARGS() VectorCompare(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1))

VECTORPG_FUNCTION(vector_cmp);

/* btree support function 1 */
Datum
vector_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(COMPARE_ARGS());
}

VECTORPG_FUNCTION(vector_lt);

/* The < operator */
Datum
vector_lt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(COMPARE_ARGS() < 0);
}

VECTORPG_FUNCTION(vector_le);

/* The <= operator */
Datum
vector_le(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(COMPARE_ARGS() <= 0);
}

VECTORPG_FUNCTION(vector_eq);

/* The = operator */
Datum
vector_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(COMPARE_ARGS() == 0);
}

VECTORPG_FUNCTION(vector_ne);

/* The <> operator */
Datum
vector_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(COMPARE_ARGS() != 0);
}

VECTORPG_FUNCTION(vector_ge);

/* The >= operator */
Datum
vector_ge(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(COMPARE_ARGS() >= 0);
}

VECTORPG_FUNCTION(vector_gt);

/* The > operator */
Datum
vector_gt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(COMPARE_ARGS() > 0);
}

/* ------------------------------------------------------------------------
 * Aggregates
 *
 * avg(vector) keeps a float8[] state: element 0 is the row count, elements
 * 1..dim the running sums.  The initial state is '{0}', so the first row
 * sizes the array.  Sums are kept in float8, so they cannot overflow.
 * ------------------------------------------------------------------------
 */

/* Check a state array's shape and return its elements */
static double *
AccumStateValues(ArrayType *state, int *nvalues)
{
	if (ARR_NDIM(state) != 1 || ARR_ELEMTYPE(state) != FLOAT8OID ||
		ARR_HASNULL(state) || ARR_DIMS(state)[0] < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("invalid state for vector aggregate"),
				 errdetail("The state must be a one-dimensional float8 array without nulls.")));
	*nvalues = ARR_DIMS(state)[0];
	/* A non-empty state holds a count and at least one sum */
	if (*nvalues < 2 && ((double *) ARR_DATA_PTR(state))[0] != 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("invalid state for vector aggregate"),
				 errdetail("The state must be a one-dimensional float8 array without nulls.")));
	return (double *) ARR_DATA_PTR(state);
}

/* Build a new state array from count and sums */
static ArrayType *
MakeAccumState(const double *values, int nvalues)
{
	Datum	   *datums = palloc(sizeof(Datum) * nvalues);
	ArrayType  *result;

	for (int i = 0; i < nvalues; i++)
		datums[i] = Float8GetDatum(values[i]);
	result = construct_array(datums, nvalues, FLOAT8OID, sizeof(float8),
							 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	pfree(datums);
	return result;
}

/* Error for an aggregate input whose dimensions differ from earlier rows */
static void
ReportAccumDims(int expected, int found)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("expected %d dimensions, not %d", expected, found)));
}

VECTORPG_FUNCTION(vector_accum);

/*
 * Transition function of avg(vector).  Inside an aggregate the state is
 * ours, so it is updated in place once it has its final size.
 */
Datum
vector_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	Vector	   *vec = PG_GETARG_VECTOR_P(1);
	int			nvalues;
	double	   *values = AccumStateValues(state, &nvalues);

	if (values[0] == 0.0)
	{
		/* First row: size the state */
		double	   *fresh = palloc(sizeof(double) * (vec->dim + 1));
		ArrayType  *result;

		fresh[0] = 1.0;
		for (int i = 0; i < vec->dim; i++)
			fresh[i + 1] = vec->x[i];
		result = MakeAccumState(fresh, vec->dim + 1);
		pfree(fresh);
		PG_RETURN_ARRAYTYPE_P(result);
	}

	if (nvalues - 1 != vec->dim)
		ReportAccumDims(nvalues - 1, vec->dim);

	if (!AggCheckCallContext(fcinfo, NULL))
	{
		/* Called directly: never modify the caller's array */
		state = DatumGetArrayTypePCopy(PG_GETARG_DATUM(0));
		values = (double *) ARR_DATA_PTR(state);
	}
	values[0] += 1.0;
	for (int i = 0; i < vec->dim; i++)
		values[i + 1] += vec->x[i];
	PG_RETURN_ARRAYTYPE_P(state);
}

VECTORPG_FUNCTION(vector_combine);

/* Combine function of avg(vector), for parallel aggregation */
Datum
vector_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *s1 = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *s2 = PG_GETARG_ARRAYTYPE_P(1);
	int			n1,
				n2;
	double	   *v1 = AccumStateValues(s1, &n1);
	double	   *v2 = AccumStateValues(s2, &n2);
	double	   *sum;
	ArrayType  *result;

	if (v2[0] == 0.0)
		PG_RETURN_ARRAYTYPE_P(MakeAccumState(v1, n1));
	if (v1[0] == 0.0)
		PG_RETURN_ARRAYTYPE_P(MakeAccumState(v2, n2));
	if (n1 != n2)
		ReportAccumDims(n1 - 1, n2 - 1);

	sum = palloc(sizeof(double) * n1);
	for (int i = 0; i < n1; i++)
		sum[i] = v1[i] + v2[i];
	result = MakeAccumState(sum, n1);
	pfree(sum);
	PG_RETURN_ARRAYTYPE_P(result);
}

VECTORPG_FUNCTION(vector_avg);

/* Final function of avg(vector): NULL over no rows */
Datum
vector_avg(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	int			nvalues;
	double	   *values = AccumStateValues(state, &nvalues);
	Vector	   *result;

	if (values[0] == 0.0)
		PG_RETURN_NULL();

	result = InitVector(nvalues - 1);
	for (int i = 1; i < nvalues; i++)
	{
		result->x[i - 1] = (float) (values[i] / values[0]);
		VectorCheckElement(result->x[i - 1]);
	}
	PG_RETURN_VECTOR_P(result);
}
