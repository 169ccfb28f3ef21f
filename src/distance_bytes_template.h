/*-------------------------------------------------------------------------
 *
 * distance_bytes_template.h
 *	  The traversal kernels over byte vectors, written once and instantiated
 *	  for uint8 and int8 elements in each instruction set.
 *
 * The index stores a vector whose values are all integers 0..255 as uint8,
 * and one whose values are all -128..127 as int8 (hnswcodec.c).  These
 * kernels read such a stored vector directly instead of widening it into a
 * buffer first:
 *	- ..._F32 kernels: a float4 query against a stored byte vector, widened
 *	  in registers and summed in float4 (L2, inner product, cosine, L1);
 *	- the integer kernels: a query (or inserted vector) that itself holds
 *	  only such values against a stored one.  Differences or products are
 *	  taken in int16 and summed in pairs into int32 (vpmaddwd), exactly: a
 *	  term is at most 255^2 = 65,025, so the sums hold for twice
 *	  VECTOR_MAX_DIM elements.  They are rounded once to float4, so every
 *	  kernel set returns the same bits.
 * Only the element type and the widening instruction differ between uint8
 * and int8, which is why both come from this one text.
 *
 * Like PostgreSQL's lib/sort_template.h, this file is included once per
 * instantiation, after defining:
 *	BK_ISA		BK_ISA_SCALAR (in distance.c), BK_ISA_AVX2 or BK_ISA_AVX512
 *				(in distance_simd.c, which defines their target attributes
 *				and helpers first)
 *	BK_SIGNED	0: uint8 elements, functions named ...U8...;
 *				1: int8 elements, functions named ...I8...
 * It undefines both, and every macro of its own, at its end.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */

#define BK_ISA_SCALAR	0
#define BK_ISA_AVX2		1
#define BK_ISA_AVX512	2

#if BK_SIGNED
#define BK_T int8
#define BK_SUFFIX I8
#define BK_AVX2_WIDEN16 _mm256_cvtepi8_epi16
#define BK_AVX2_WIDEN32 _mm256_cvtepi8_epi32
#define BK_AVX512_WIDEN16 _mm512_cvtepi8_epi16
#define BK_AVX512_WIDEN32 _mm512_cvtepi8_epi32
#else
#define BK_T uint8
#define BK_SUFFIX U8
#define BK_AVX2_WIDEN16 _mm256_cvtepu8_epi16
#define BK_AVX2_WIDEN32 _mm256_cvtepu8_epi32
#define BK_AVX512_WIDEN16 _mm512_cvtepu8_epi16
#define BK_AVX512_WIDEN32 _mm512_cvtepu8_epi32
#endif

/* stem ## U8|I8 ## tail, after expanding BK_SUFFIX */
#define BK_CAT3_(a, b, c) a##b##c
#define BK_CAT3(a, b, c) BK_CAT3_(a, b, c)
#define BK_NAME(stem, tail) BK_CAT3(stem, BK_SUFFIX, tail)

#if BK_ISA == BK_ISA_SCALAR

/* Squared Euclidean distance to a byte vector in float4, for traversal */
static float
BK_NAME(ScalarL2Squared, F32)(const float *a, const BK_T *b, int n)
{
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
	{
		float		d = a[i] - (float) b[i];

		sum += d * d;
	}
	return sum;
}

/* Inner product with a byte vector in float4, for traversal */
static float
BK_NAME(ScalarInnerProduct, F32)(const float *a, const BK_T *b, int n)
{
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
		sum += a[i] * (float) b[i];
	return sum;
}

/* Dot product and squared norms with a byte vector in float4, for traversal */
static void
BK_NAME(ScalarCosineParts, F32)(const float *a, const BK_T *b, int n,
					   float *dot, float *norm_a, float *norm_b)
{
	float		d = 0.0f;
	float		na = 0.0f;
	float		nb = 0.0f;

	for (int i = 0; i < n; i++)
	{
		float		y = (float) b[i];

		d += a[i] * y;
		na += a[i] * a[i];
		nb += y * y;
	}
	*dot = d;
	*norm_a = na;
	*norm_b = nb;
}

/* Squared Euclidean distance between two byte vectors, exact, for traversal */
static float
BK_NAME(ScalarL2Squared, )(const BK_T *a, const BK_T *b, int n)
{
	int32		sum = 0;

	for (int i = 0; i < n; i++)
	{
		int32		d = (int32) a[i] - (int32) b[i];

		sum += d * d;
	}
	return (float) sum;
}

/* Inner product of two byte vectors, exact, for traversal */
static float
BK_NAME(ScalarInnerProduct, )(const BK_T *a, const BK_T *b, int n)
{
	int32		sum = 0;

	for (int i = 0; i < n; i++)
		sum += (int32) a[i] * (int32) b[i];
	return (float) sum;
}

/* Dot product and squared norms of two byte vectors, exact, for traversal */
static void
BK_NAME(ScalarCosineParts, )(const BK_T *a, const BK_T *b, int n,
					float *dot, float *norm_a, float *norm_b)
{
	int32		d = 0;
	int32		na = 0;
	int32		nb = 0;

	for (int i = 0; i < n; i++)
	{
		d += (int32) a[i] * (int32) b[i];
		na += (int32) a[i] * (int32) a[i];
		nb += (int32) b[i] * (int32) b[i];
	}
	*dot = (float) d;
	*norm_a = (float) na;
	*norm_b = (float) nb;
}

/* Manhattan distance to a byte vector in float4, for traversal */
static float
BK_NAME(ScalarL1, F32)(const float *a, const BK_T *b, int n)
{
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
		sum += fabsf(a[i] - (float) b[i]);
	return sum;
}

/* Manhattan distance between two byte vectors, exact, for traversal */
static float
BK_NAME(ScalarL1, )(const BK_T *a, const BK_T *b, int n)
{
	int32		sum = 0;

	for (int i = 0; i < n; i++)
		sum += abs((int32) a[i] - (int32) b[i]);
	return (float) sum;
}

#elif BK_ISA == BK_ISA_AVX2

/* Squared Euclidean distance to a byte vector in float4, AVX2 */
static AVX2_TARGET float
BK_NAME(Avx2L2Squared, F32)(const float *a, const BK_T *b, int n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	int			i = 0;
	float		tail[8];

	for (; i + 16 <= n; i += 16)
	{
		__m256		b0 = _mm256_cvtepi32_ps(BK_AVX2_WIDEN32(_mm_loadl_epi64((const __m128i *) (b + i))));
		__m256		b1 = _mm256_cvtepi32_ps(BK_AVX2_WIDEN32(_mm_loadl_epi64((const __m128i *) (b + i + 8))));
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), b0);
		__m256		d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), b1);

		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
	}
	_mm256_storeu_ps(tail, _mm256_add_ps(s0, s1));
	{
		float		sum = tail[0] + tail[1] + tail[2] + tail[3] + tail[4] + tail[5] + tail[6] + tail[7];

		for (; i < n; i++)
		{
			float		d = a[i] - (float) b[i];

			sum += d * d;
		}
		return sum;
	}
}

/* Inner product with a byte vector in float4, AVX2 */
static AVX2_TARGET float
BK_NAME(Avx2InnerProduct, F32)(const float *a, const BK_T *b, int n)
{
	__m256		s0 = _mm256_setzero_ps();
	int			i = 0;
	float		tail[8];
	float		sum;

	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i),
							 _mm256_cvtepi32_ps(BK_AVX2_WIDEN32(_mm_loadl_epi64((const __m128i *) (b + i)))),
							 s0);
	_mm256_storeu_ps(tail, s0);
	sum = tail[0] + tail[1] + tail[2] + tail[3] + tail[4] + tail[5] + tail[6] + tail[7];
	for (; i < n; i++)
		sum += a[i] * (float) b[i];
	return sum;
}

/* Dot product and squared norms with a byte vector in float4, AVX2 */
static AVX2_TARGET void
BK_NAME(Avx2CosineParts, F32)(const float *a, const BK_T *b, int n,
					 float *dot, float *norm_a, float *norm_b)
{
	__m256		sd = _mm256_setzero_ps();
	__m256		sa = _mm256_setzero_ps();
	__m256		sb = _mm256_setzero_ps();
	float		d,
				na,
				nb;
	int			i = 0;

	for (; i + 8 <= n; i += 8)
	{
		__m256		x = _mm256_loadu_ps(a + i);
		__m256		y = _mm256_cvtepi32_ps(BK_AVX2_WIDEN32(_mm_loadl_epi64((const __m128i *) (b + i))));

		sd = _mm256_fmadd_ps(x, y, sd);
		sa = _mm256_fmadd_ps(x, x, sa);
		sb = _mm256_fmadd_ps(y, y, sb);
	}
	d = Avx2SumPs(sd);
	na = Avx2SumPs(sa);
	nb = Avx2SumPs(sb);
	for (; i < n; i++)
	{
		float		y = (float) b[i];

		d += a[i] * y;
		na += a[i] * a[i];
		nb += y * y;
	}
	*dot = d;
	*norm_a = na;
	*norm_b = nb;
}

/* Sixteen bytes at p, widened to int16 */
#define AVX2_BYTES16(p) BK_AVX2_WIDEN16(_mm_loadu_si128((const __m128i *) (p)))

/*
 * Squared Euclidean distance between two byte vectors, AVX2: differences in
 * int16, squared and summed in pairs into int32 (vpmaddwd), exactly
 */
static AVX2_TARGET float
BK_NAME(Avx2L2Squared, )(const BK_T *a, const BK_T *b, int n)
{
	__m256i		s0 = _mm256_setzero_si256();
	__m256i		s1 = _mm256_setzero_si256();
	int32		sum;
	int			i = 0;

	for (; i + 32 <= n; i += 32)
	{
		__m256i		d0 = _mm256_sub_epi16(AVX2_BYTES16(a + i), AVX2_BYTES16(b + i));
		__m256i		d1 = _mm256_sub_epi16(AVX2_BYTES16(a + i + 16), AVX2_BYTES16(b + i + 16));

		s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(d0, d0));
		s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(d1, d1));
	}
	sum = Avx2SumEpi32(_mm256_add_epi32(s0, s1));
	for (; i < n; i++)
	{
		int32		d = (int32) a[i] - (int32) b[i];

		sum += d * d;
	}
	return (float) sum;
}

/* Inner product of two byte vectors, AVX2, exactly */
static AVX2_TARGET float
BK_NAME(Avx2InnerProduct, )(const BK_T *a, const BK_T *b, int n)
{
	__m256i		s0 = _mm256_setzero_si256();
	int32		sum;
	int			i = 0;

	for (; i + 16 <= n; i += 16)
		s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(AVX2_BYTES16(a + i), AVX2_BYTES16(b + i)));
	sum = Avx2SumEpi32(s0);
	for (; i < n; i++)
		sum += (int32) a[i] * (int32) b[i];
	return (float) sum;
}

/* Dot product and squared norms of two byte vectors, AVX2, exactly */
static AVX2_TARGET void
BK_NAME(Avx2CosineParts, )(const BK_T *a, const BK_T *b, int n,
				  float *dot, float *norm_a, float *norm_b)
{
	__m256i		sd = _mm256_setzero_si256();
	__m256i		sa = _mm256_setzero_si256();
	__m256i		sb = _mm256_setzero_si256();
	int32		d,
				na,
				nb;
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		__m256i		x = AVX2_BYTES16(a + i);
		__m256i		y = AVX2_BYTES16(b + i);

		sd = _mm256_add_epi32(sd, _mm256_madd_epi16(x, y));
		sa = _mm256_add_epi32(sa, _mm256_madd_epi16(x, x));
		sb = _mm256_add_epi32(sb, _mm256_madd_epi16(y, y));
	}
	d = Avx2SumEpi32(sd);
	na = Avx2SumEpi32(sa);
	nb = Avx2SumEpi32(sb);
	for (; i < n; i++)
	{
		d += (int32) a[i] * (int32) b[i];
		na += (int32) a[i] * (int32) a[i];
		nb += (int32) b[i] * (int32) b[i];
	}
	*dot = (float) d;
	*norm_a = (float) na;
	*norm_b = (float) nb;
}

/* Manhattan distance to a byte vector in float4, AVX2 */
static AVX2_TARGET float
BK_NAME(Avx2L1, F32)(const float *a, const BK_T *b, int n)
{
	const __m256 sign = _mm256_set1_ps(-0.0f);
	__m256		s0 = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i + 8 <= n; i += 8)
	{
		__m256		y = _mm256_cvtepi32_ps(BK_AVX2_WIDEN32(_mm_loadl_epi64((const __m128i *) (b + i))));

		s0 = _mm256_add_ps(s0, _mm256_andnot_ps(sign, _mm256_sub_ps(_mm256_loadu_ps(a + i), y)));
	}
	sum = Avx2SumPs(s0);
	for (; i < n; i++)
		sum += fabsf(a[i] - (float) b[i]);
	return sum;
}

/*
 * Manhattan distance between two byte vectors, AVX2, exactly: vpsadbw sums
 * the absolute differences of unsigned bytes in groups of eight; signed
 * bytes are first flipped to unsigned ones by their top bit (x ^ 0x80 = x +
 * 128), which keeps every difference
 */
static AVX2_TARGET float
BK_NAME(Avx2L1, )(const BK_T *a, const BK_T *b, int n)
{
	const __m256i flip = _mm256_set1_epi8(BK_SIGNED ? (char) 0x80 : 0);
	__m256i		s0 = _mm256_setzero_si256();
	int32		sum;
	int			i = 0;

	for (; i + 32 <= n; i += 32)
		s0 = _mm256_add_epi64(s0, _mm256_sad_epu8(
			_mm256_xor_si256(_mm256_loadu_si256((const __m256i *) (a + i)), flip),
			_mm256_xor_si256(_mm256_loadu_si256((const __m256i *) (b + i)), flip)));
	sum = (int32) (_mm256_extract_epi64(s0, 0) + _mm256_extract_epi64(s0, 1) +
				   _mm256_extract_epi64(s0, 2) + _mm256_extract_epi64(s0, 3));
	for (; i < n; i++)
		sum += abs((int32) a[i] - (int32) b[i]);
	return (float) sum;
}

#undef AVX2_BYTES16

#elif BK_ISA == BK_ISA_AVX512

/* Squared Euclidean distance to a byte vector in float4, AVX-512 */
static AVX512_TARGET float
BK_NAME(Avx512L2Squared, F32)(const float *a, const BK_T *b, int n)
{
	__m512		s0 = _mm512_setzero_ps();
	__m512		s1 = _mm512_setzero_ps();
	int			i = 0;

	for (; i + 32 <= n; i += 32)
	{
		__m512		b0 = _mm512_cvtepi32_ps(BK_AVX512_WIDEN32(_mm_loadu_si128((const __m128i *) (b + i))));
		__m512		b1 = _mm512_cvtepi32_ps(BK_AVX512_WIDEN32(_mm_loadu_si128((const __m128i *) (b + i + 16))));
		__m512		d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), b0);
		__m512		d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), b1);

		s0 = _mm512_fmadd_ps(d0, d0, s0);
		s1 = _mm512_fmadd_ps(d1, d1, s1);
	}
	for (; i < n; i += 16)
	{
		/* The last bytes through a zeroed copy: masked byte loads need BW */
		BK_T		tb[16] = {0};
		int			k = Min(16, n - i);
		__mmask16	m = k == 16 ? (__mmask16) 0xFFFF : (__mmask16) ((1u << k) - 1);
		__m512		b0;
		__m512		d0;

		memcpy(tb, b + i, k);
		b0 = _mm512_cvtepi32_ps(BK_AVX512_WIDEN32(_mm_loadu_si128((const __m128i *) tb)));
		d0 = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), b0);
		s0 = _mm512_fmadd_ps(d0, d0, s0);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

/* Inner product with a byte vector in float4, AVX-512 */
static AVX512_TARGET float
BK_NAME(Avx512InnerProduct, F32)(const float *a, const BK_T *b, int n)
{
	__m512		s0 = _mm512_setzero_ps();
	int			i = 0;

	for (; i + 16 <= n; i += 16)
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i),
							 _mm512_cvtepi32_ps(BK_AVX512_WIDEN32(_mm_loadu_si128((const __m128i *) (b + i)))),
							 s0);
	if (i < n)
	{
		BK_T		tb[16] = {0};
		__mmask16	m = (__mmask16) ((1u << (n - i)) - 1);

		memcpy(tb, b + i, n - i);
		s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i),
							 _mm512_cvtepi32_ps(BK_AVX512_WIDEN32(_mm_loadu_si128((const __m128i *) tb))),
							 s0);
	}
	return _mm512_reduce_add_ps(s0);
}

/* Dot product and squared norms with a byte vector in float4, AVX-512 */
static AVX512_TARGET void
BK_NAME(Avx512CosineParts, F32)(const float *a, const BK_T *b, int n,
					   float *dot, float *norm_a, float *norm_b)
{
	__m512		sd = _mm512_setzero_ps();
	__m512		sa = _mm512_setzero_ps();
	__m512		sb = _mm512_setzero_ps();
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		__m512		x = _mm512_loadu_ps(a + i);
		__m512		y = _mm512_cvtepi32_ps(BK_AVX512_WIDEN32(_mm_loadu_si128((const __m128i *) (b + i))));

		sd = _mm512_fmadd_ps(x, y, sd);
		sa = _mm512_fmadd_ps(x, x, sa);
		sb = _mm512_fmadd_ps(y, y, sb);
	}
	if (i < n)
	{
		BK_T		tb[16] = {0};
		__mmask16	m = (__mmask16) ((1u << (n - i)) - 1);
		__m512		x;
		__m512		y;

		memcpy(tb, b + i, n - i);
		x = _mm512_maskz_loadu_ps(m, a + i);
		y = _mm512_cvtepi32_ps(BK_AVX512_WIDEN32(_mm_loadu_si128((const __m128i *) tb)));
		sd = _mm512_fmadd_ps(x, y, sd);
		sa = _mm512_fmadd_ps(x, x, sa);
		sb = _mm512_fmadd_ps(y, y, sb);
	}
	*dot = _mm512_reduce_add_ps(sd);
	*norm_a = _mm512_reduce_add_ps(sa);
	*norm_b = _mm512_reduce_add_ps(sb);
}

/*
 * Thirty-two bytes at p (only the first k when k < 32, the rest zero),
 * widened to int16
 */
static inline AVX512BW_TARGET __m512i
BK_NAME(Avx512Load, Bytes32)(const BK_T *p, int k)
{
	__mmask32	m = k >= 32 ? ~(__mmask32) 0 : (((__mmask32) 1 << k) - 1);

	return BK_AVX512_WIDEN16(_mm256_maskz_loadu_epi8(m, p));
}

#define AVX512_BYTES32(p, k) BK_NAME(Avx512Load, Bytes32)((p), (k))

/*
 * Squared Euclidean distance between two byte vectors, AVX-512BW:
 * differences in int16, squared and summed in pairs into int32 (vpmaddwd),
 * exactly.  The tail is a masked load, which is why these need BW.
 */
static AVX512BW_TARGET float
BK_NAME(Avx512L2Squared, )(const BK_T *a, const BK_T *b, int n)
{
	__m512i		s0 = _mm512_setzero_si512();
	__m512i		s1 = _mm512_setzero_si512();
	int			i = 0;

	for (; i + 64 <= n; i += 64)
	{
		__m512i		d0 = _mm512_sub_epi16(AVX512_BYTES32(a + i, 32), AVX512_BYTES32(b + i, 32));
		__m512i		d1 = _mm512_sub_epi16(AVX512_BYTES32(a + i + 32, 32), AVX512_BYTES32(b + i + 32, 32));

		s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(d0, d0));
		s1 = _mm512_add_epi32(s1, _mm512_madd_epi16(d1, d1));
	}
	for (; i < n; i += 32)
	{
		__m512i		d0 = _mm512_sub_epi16(AVX512_BYTES32(a + i, n - i), AVX512_BYTES32(b + i, n - i));

		s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(d0, d0));
	}
	return (float) _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
}

/* Inner product of two byte vectors, AVX-512BW, exactly */
static AVX512BW_TARGET float
BK_NAME(Avx512InnerProduct, )(const BK_T *a, const BK_T *b, int n)
{
	__m512i		s0 = _mm512_setzero_si512();

	for (int i = 0; i < n; i += 32)
		s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(AVX512_BYTES32(a + i, n - i),
													 AVX512_BYTES32(b + i, n - i)));
	return (float) _mm512_reduce_add_epi32(s0);
}

/* Dot product and squared norms of two byte vectors, AVX-512BW, exactly */
static AVX512BW_TARGET void
BK_NAME(Avx512CosineParts, )(const BK_T *a, const BK_T *b, int n,
					float *dot, float *norm_a, float *norm_b)
{
	__m512i		sd = _mm512_setzero_si512();
	__m512i		sa = _mm512_setzero_si512();
	__m512i		sb = _mm512_setzero_si512();

	for (int i = 0; i < n; i += 32)
	{
		__m512i		x = AVX512_BYTES32(a + i, n - i);
		__m512i		y = AVX512_BYTES32(b + i, n - i);

		sd = _mm512_add_epi32(sd, _mm512_madd_epi16(x, y));
		sa = _mm512_add_epi32(sa, _mm512_madd_epi16(x, x));
		sb = _mm512_add_epi32(sb, _mm512_madd_epi16(y, y));
	}
	*dot = (float) _mm512_reduce_add_epi32(sd);
	*norm_a = (float) _mm512_reduce_add_epi32(sa);
	*norm_b = (float) _mm512_reduce_add_epi32(sb);
}

/* Manhattan distance to a byte vector in float4, AVX-512 */
static AVX512BW_TARGET float
BK_NAME(Avx512L1, F32)(const float *a, const BK_T *b, int n)
{
	__m512		s0 = _mm512_setzero_ps();

	for (int i = 0; i < n; i += 16)
	{
		int			k = Min(16, n - i);
		__mmask16	m = k == 16 ? (__mmask16) 0xFFFF : (__mmask16) ((1u << k) - 1);
		__m512		y = _mm512_cvtepi32_ps(BK_AVX512_WIDEN32(_mm_maskz_loadu_epi8(m, b + i)));

		s0 = _mm512_add_ps(s0, _mm512_abs_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), y)));
	}
	return _mm512_reduce_add_ps(s0);
}

/*
 * Manhattan distance between two byte vectors, AVX-512BW, exactly
 * (vpsadbw, as the AVX2 kernel; masked-off bytes are zero in both, and
 * flipped alike, so they add nothing)
 */
static AVX512BW_TARGET float
BK_NAME(Avx512L1, )(const BK_T *a, const BK_T *b, int n)
{
	const __m512i flip = _mm512_set1_epi8(BK_SIGNED ? (char) 0x80 : 0);
	__m512i		s0 = _mm512_setzero_si512();

	for (int i = 0; i < n; i += 64)
	{
		__mmask64	m = n - i >= 64 ? ~(__mmask64) 0 : (((__mmask64) 1 << (n - i)) - 1);

		s0 = _mm512_add_epi64(s0, _mm512_sad_epu8(
			_mm512_xor_si512(_mm512_maskz_loadu_epi8(m, a + i), flip),
			_mm512_xor_si512(_mm512_maskz_loadu_epi8(m, b + i), flip)));
	}
	return (float) _mm512_reduce_add_epi64(s0);
}

#undef AVX512_BYTES32

#else
#error "distance_bytes_template.h: BK_ISA must be BK_ISA_SCALAR, BK_ISA_AVX2 or BK_ISA_AVX512"
#endif

#undef BK_ISA_SCALAR
#undef BK_ISA_AVX2
#undef BK_ISA_AVX512
#undef BK_T
#undef BK_SUFFIX
#undef BK_AVX2_WIDEN16
#undef BK_AVX2_WIDEN32
#undef BK_AVX512_WIDEN16
#undef BK_AVX512_WIDEN32
#undef BK_CAT3_
#undef BK_CAT3
#undef BK_NAME
#undef BK_ISA
#undef BK_SIGNED
