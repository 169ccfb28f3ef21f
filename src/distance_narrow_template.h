/*-------------------------------------------------------------------------
 *
 * distance_narrow_template.h
 *	  The traversal kernels over vectors stored in a narrow type (uint8,
 *	  int8, IEEE half or bfloat16), written once and instantiated for each
 *	  type in each instruction set.
 *
 * The index stores each vector in the narrowest type that holds all its
 * values exactly (hnswcodec.c).  These kernels read such a stored vector
 * directly instead of widening it into a float4 buffer first:
 *	- the stored kernels (names ending in F32), for every type: a float4
 *	  query against a stored vector, widened in registers and summed in
 *	  float4 (L2, inner product, L1, cosine's parts);
 *	- the byte kernels, for uint8 and int8 only: a query (or inserted
 *	  vector) that itself holds only values of that type against a stored
 *	  one.  Differences or products are taken in int16 and summed in pairs
 *	  into int32 (vpmaddwd), or absolute differences with vpsadbw, exactly:
 *	  a term is at most 255^2 = 65,025, so the sums hold for twice
 *	  VECTOR_MAX_DIM elements.  They are rounded once to float4, so every
 *	  kernel set returns the same bits.
 * Only the element type and the widening instructions differ between the
 * types, which is why all come from this one text.  The kernels take the
 * stored vector as void *, so that the kernel tables can be indexed by type
 * (VectorNarrowType).
 *
 * Like PostgreSQL's lib/sort_template.h, this file is included once per
 * instantiation, after defining:
 *	NK_ISA		NK_ISA_SCALAR (in distance.c), NK_ISA_AVX2 or NK_ISA_AVX512
 *				(in distance_simd.c, which defines their target attributes
 *				and helpers first)
 *	NK_TYPE		NK_U8, NK_I8, NK_F16 or NK_BF16: the element type, and the
 *				infix of the functions' names (U8, I8, F16, BF16)
 * It undefines both, and every macro of its own, at its end.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */

#define NK_ISA_SCALAR	0
#define NK_ISA_AVX2		1
#define NK_ISA_AVX512	2

#define NK_U8	0
#define NK_I8	1
#define NK_F16	2
#define NK_BF16	3

/*
 * Per type: the element type, the names' infix, whether the exact byte
 * kernels exist (NK_BYTES), one element to float4 (NK_FLOAT), and eight
 * (AVX2) or sixteen (AVX-512) elements at p to float4 lanes
 */
#if NK_TYPE == NK_U8 || NK_TYPE == NK_I8
#define NK_BYTES 1
#define NK_FLOAT(x) ((float) (x))
#if NK_TYPE == NK_U8
#define NK_T uint8
#define NK_SUFFIX U8
#define NK_AVX2_WIDEN16 _mm256_cvtepu8_epi16
#define NK_AVX2_WIDEN32 _mm256_cvtepu8_epi32
#define NK_AVX512_WIDEN16 _mm512_cvtepu8_epi16
#define NK_AVX512_WIDEN32 _mm512_cvtepu8_epi32
#define NK_FLIP 0				/* vpsadbw reads unsigned bytes as they are */
#else
#define NK_T int8
#define NK_SUFFIX I8
#define NK_AVX2_WIDEN16 _mm256_cvtepi8_epi16
#define NK_AVX2_WIDEN32 _mm256_cvtepi8_epi32
#define NK_AVX512_WIDEN16 _mm512_cvtepi8_epi16
#define NK_AVX512_WIDEN32 _mm512_cvtepi8_epi32
#define NK_FLIP ((char) 0x80)	/* x ^ 0x80 = x + 128: unsigned, same differences */
#endif
#define NK_AVX2_LOAD8(p) \
	_mm256_cvtepi32_ps(NK_AVX2_WIDEN32(_mm_loadl_epi64((const __m128i *) (p))))
#define NK_AVX512_LOAD16(p) \
	_mm512_cvtepi32_ps(NK_AVX512_WIDEN32(_mm_loadu_si128((const __m128i *) (p))))
#elif NK_TYPE == NK_F16
#define NK_BYTES 0
#define NK_T uint16
#define NK_SUFFIX F16
#define NK_FLOAT(x) VectorHalfToFloat(x)
#define NK_AVX2_LOAD8(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (p)))
#define NK_AVX512_LOAD16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *) (p)))
#elif NK_TYPE == NK_BF16
#define NK_BYTES 0
#define NK_T uint16
#define NK_SUFFIX BF16
#define NK_FLOAT(x) VectorBFloatToFloat(x)
#define NK_AVX2_LOAD8(p) _mm256_castsi256_ps(_mm256_slli_epi32( \
	_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *) (p))), 16))
#define NK_AVX512_LOAD16(p) _mm512_castsi512_ps(_mm512_slli_epi32( \
	_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *) (p))), 16))
#else
#error "distance_narrow_template.h: NK_TYPE must be NK_U8, NK_I8, NK_F16 or NK_BF16"
#endif

/* stem ## U8|I8|F16|BF16 ## tail, after expanding NK_SUFFIX */
#define NK_CAT3_(a, b, c) a##b##c
#define NK_CAT3(a, b, c) NK_CAT3_(a, b, c)
#define NK_NAME(stem, tail) NK_CAT3(stem, NK_SUFFIX, tail)

#if NK_ISA == NK_ISA_SCALAR

/* Squared Euclidean distance to a stored vector in float4, for traversal */
static float
NK_NAME(ScalarL2Squared, F32)(const float *a, const void *bv, int n)
{
	const NK_T *b = bv;
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
	{
		float		d = a[i] - NK_FLOAT(b[i]);

		sum += d * d;
	}
	return sum;
}

/* Inner product with a stored vector in float4, for traversal */
static float
NK_NAME(ScalarInnerProduct, F32)(const float *a, const void *bv, int n)
{
	const NK_T *b = bv;
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
		sum += a[i] * NK_FLOAT(b[i]);
	return sum;
}

/* Manhattan distance to a stored vector in float4, for traversal */
static float
NK_NAME(ScalarL1, F32)(const float *a, const void *bv, int n)
{
	const NK_T *b = bv;
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
		sum += fabsf(a[i] - NK_FLOAT(b[i]));
	return sum;
}

/* Dot product and squared norms with a stored vector in float4, for traversal */
static void
NK_NAME(ScalarCosineParts, F32)(const float *a, const void *bv, int n,
								float *dot, float *norm_a, float *norm_b)
{
	const NK_T *b = bv;
	float		d = 0.0f;
	float		na = 0.0f;
	float		nb = 0.0f;

	for (int i = 0; i < n; i++)
	{
		float		y = NK_FLOAT(b[i]);

		d += a[i] * y;
		na += a[i] * a[i];
		nb += y * y;
	}
	*dot = d;
	*norm_a = na;
	*norm_b = nb;
}

#if NK_BYTES

/* Squared Euclidean distance between two byte vectors, exact, for traversal */
static float
NK_NAME(ScalarL2Squared, )(const void *av, const void *bv, int n)
{
	const NK_T *a = av;
	const NK_T *b = bv;
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
NK_NAME(ScalarInnerProduct, )(const void *av, const void *bv, int n)
{
	const NK_T *a = av;
	const NK_T *b = bv;
	int32		sum = 0;

	for (int i = 0; i < n; i++)
		sum += (int32) a[i] * (int32) b[i];
	return (float) sum;
}

/* Manhattan distance between two byte vectors, exact, for traversal */
static float
NK_NAME(ScalarL1, )(const void *av, const void *bv, int n)
{
	const NK_T *a = av;
	const NK_T *b = bv;
	int32		sum = 0;

	for (int i = 0; i < n; i++)
		sum += abs((int32) a[i] - (int32) b[i]);
	return (float) sum;
}

/* Dot product and squared norms of two byte vectors, exact, for traversal */
static void
NK_NAME(ScalarCosineParts, )(const void *av, const void *bv, int n,
							 float *dot, float *norm_a, float *norm_b)
{
	const NK_T *a = av;
	const NK_T *b = bv;
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

#endif							/* NK_BYTES */

#elif NK_ISA == NK_ISA_AVX2

/* Squared Euclidean distance to a stored vector in float4, AVX2 */
static AVX2_TARGET float
NK_NAME(Avx2L2Squared, F32)(const float *a, const void *bv, int n)
{
	const NK_T *b = bv;
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), NK_AVX2_LOAD8(b + i));
		__m256		d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), NK_AVX2_LOAD8(b + i + 8));

		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
	}
	sum = Avx2SumPs(_mm256_add_ps(s0, s1));
	for (; i < n; i++)
	{
		float		d = a[i] - NK_FLOAT(b[i]);

		sum += d * d;
	}
	return sum;
}

/* Inner product with a stored vector in float4, AVX2 */
static AVX2_TARGET float
NK_NAME(Avx2InnerProduct, F32)(const float *a, const void *bv, int n)
{
	const NK_T *b = bv;
	__m256		s0 = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), NK_AVX2_LOAD8(b + i), s0);
	sum = Avx2SumPs(s0);
	for (; i < n; i++)
		sum += a[i] * NK_FLOAT(b[i]);
	return sum;
}

/* Manhattan distance to a stored vector in float4, AVX2 */
static AVX2_TARGET float
NK_NAME(Avx2L1, F32)(const float *a, const void *bv, int n)
{
	const NK_T *b = bv;
	const __m256 sign = _mm256_set1_ps(-0.0f);
	__m256		s0 = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		s0 = _mm256_add_ps(s0, _mm256_andnot_ps(sign, _mm256_sub_ps(_mm256_loadu_ps(a + i),
																		NK_AVX2_LOAD8(b + i))));
	sum = Avx2SumPs(s0);
	for (; i < n; i++)
		sum += fabsf(a[i] - NK_FLOAT(b[i]));
	return sum;
}

/* Dot product and squared norms with a stored vector in float4, AVX2 */
static AVX2_TARGET void
NK_NAME(Avx2CosineParts, F32)(const float *a, const void *bv, int n,
							  float *dot, float *norm_a, float *norm_b)
{
	const NK_T *b = bv;
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
		__m256		y = NK_AVX2_LOAD8(b + i);

		sd = _mm256_fmadd_ps(x, y, sd);
		sa = _mm256_fmadd_ps(x, x, sa);
		sb = _mm256_fmadd_ps(y, y, sb);
	}
	d = Avx2SumPs(sd);
	na = Avx2SumPs(sa);
	nb = Avx2SumPs(sb);
	for (; i < n; i++)
	{
		float		y = NK_FLOAT(b[i]);

		d += a[i] * y;
		na += a[i] * a[i];
		nb += y * y;
	}
	*dot = d;
	*norm_a = na;
	*norm_b = nb;
}

#if NK_BYTES

/* Sixteen bytes at p, widened to int16 */
#define AVX2_BYTES16(p) NK_AVX2_WIDEN16(_mm_loadu_si128((const __m128i *) (p)))

/*
 * Squared Euclidean distance between two byte vectors, AVX2: differences in
 * int16, squared and summed in pairs into int32 (vpmaddwd), exactly
 */
static AVX2_TARGET float
NK_NAME(Avx2L2Squared, )(const void *av, const void *bv, int n)
{
	const NK_T *a = av;
	const NK_T *b = bv;
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
NK_NAME(Avx2InnerProduct, )(const void *av, const void *bv, int n)
{
	const NK_T *a = av;
	const NK_T *b = bv;
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

/*
 * Manhattan distance between two byte vectors, AVX2, exactly: vpsadbw sums
 * the absolute differences of unsigned bytes in groups of eight; int8
 * bytes are first flipped to unsigned ones by their top bit (NK_FLIP)
 */
static AVX2_TARGET float
NK_NAME(Avx2L1, )(const void *av, const void *bv, int n)
{
	const NK_T *a = av;
	const NK_T *b = bv;
	const __m256i flip = _mm256_set1_epi8(NK_FLIP);
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

/* Dot product and squared norms of two byte vectors, AVX2, exactly */
static AVX2_TARGET void
NK_NAME(Avx2CosineParts, )(const void *av, const void *bv, int n,
						   float *dot, float *norm_a, float *norm_b)
{
	const NK_T *a = av;
	const NK_T *b = bv;
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

#undef AVX2_BYTES16

#endif							/* NK_BYTES */

#elif NK_ISA == NK_ISA_AVX512

/*
 * The last k (< 16) elements at p, widened to float4 lanes, the rest zero:
 * through a zeroed copy, so that no kernel reads past the vector
 */
static inline AVX512_TARGET __m512
NK_NAME(Avx512Tail, F32)(const NK_T *p, int k)
{
	NK_T		t[16] = {0};

	memcpy(t, p, sizeof(NK_T) * k);
	return NK_AVX512_LOAD16(t);
}

#define AVX512_TAIL(p, k) NK_NAME(Avx512Tail, F32)((p), (k))
#define TAIL_MASK16(k) ((__mmask16) ((1u << (k)) - 1))

/* Squared Euclidean distance to a stored vector in float4, AVX-512 */
static AVX512_TARGET float
NK_NAME(Avx512L2Squared, F32)(const float *a, const void *bv, int n)
{
	const NK_T *b = bv;
	__m512		s0 = _mm512_setzero_ps();
	__m512		s1 = _mm512_setzero_ps();
	int			i = 0;

	for (; i + 32 <= n; i += 32)
	{
		__m512		d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), NK_AVX512_LOAD16(b + i));
		__m512		d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), NK_AVX512_LOAD16(b + i + 16));

		s0 = _mm512_fmadd_ps(d0, d0, s0);
		s1 = _mm512_fmadd_ps(d1, d1, s1);
	}
	for (; i < n; i += 16)
	{
		int			k = Min(16, n - i);
		__m512		y = k == 16 ? NK_AVX512_LOAD16(b + i) : AVX512_TAIL(b + i, k);
		__m512		d0 = _mm512_sub_ps(_mm512_maskz_loadu_ps(k == 16 ? 0xFFFF : TAIL_MASK16(k), a + i), y);

		s0 = _mm512_fmadd_ps(d0, d0, s0);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

/* Inner product with a stored vector in float4, AVX-512 */
static AVX512_TARGET float
NK_NAME(Avx512InnerProduct, F32)(const float *a, const void *bv, int n)
{
	const NK_T *b = bv;
	__m512		s0 = _mm512_setzero_ps();
	int			i = 0;

	for (; i + 16 <= n; i += 16)
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), NK_AVX512_LOAD16(b + i), s0);
	if (i < n)
		s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(TAIL_MASK16(n - i), a + i),
							 AVX512_TAIL(b + i, n - i), s0);
	return _mm512_reduce_add_ps(s0);
}

/* Manhattan distance to a stored vector in float4, AVX-512 */
static AVX512_TARGET float
NK_NAME(Avx512L1, F32)(const float *a, const void *bv, int n)
{
	const NK_T *b = bv;
	__m512		s0 = _mm512_setzero_ps();
	int			i = 0;

	for (; i + 16 <= n; i += 16)
		s0 = _mm512_add_ps(s0, _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(a + i),
														   NK_AVX512_LOAD16(b + i))));
	if (i < n)
		s0 = _mm512_add_ps(s0, _mm512_abs_ps(_mm512_sub_ps(
			_mm512_maskz_loadu_ps(TAIL_MASK16(n - i), a + i), AVX512_TAIL(b + i, n - i))));
	return _mm512_reduce_add_ps(s0);
}

/* Dot product and squared norms with a stored vector in float4, AVX-512 */
static AVX512_TARGET void
NK_NAME(Avx512CosineParts, F32)(const float *a, const void *bv, int n,
								float *dot, float *norm_a, float *norm_b)
{
	const NK_T *b = bv;
	__m512		sd = _mm512_setzero_ps();
	__m512		sa = _mm512_setzero_ps();
	__m512		sb = _mm512_setzero_ps();

	for (int i = 0; i < n; i += 16)
	{
		int			k = Min(16, n - i);
		__m512		x = _mm512_maskz_loadu_ps(k == 16 ? 0xFFFF : TAIL_MASK16(k), a + i);
		__m512		y = k == 16 ? NK_AVX512_LOAD16(b + i) : AVX512_TAIL(b + i, k);

		sd = _mm512_fmadd_ps(x, y, sd);
		sa = _mm512_fmadd_ps(x, x, sa);
		sb = _mm512_fmadd_ps(y, y, sb);
	}
	*dot = _mm512_reduce_add_ps(sd);
	*norm_a = _mm512_reduce_add_ps(sa);
	*norm_b = _mm512_reduce_add_ps(sb);
}

#undef AVX512_TAIL
#undef TAIL_MASK16

#if NK_BYTES

/*
 * Thirty-two bytes at p (only the first k when k < 32, the rest zero),
 * widened to int16
 */
static inline AVX512BW_TARGET __m512i
NK_NAME(Avx512Load, Bytes32)(const NK_T *p, int k)
{
	__mmask32	m = k >= 32 ? ~(__mmask32) 0 : (((__mmask32) 1 << k) - 1);

	return NK_AVX512_WIDEN16(_mm256_maskz_loadu_epi8(m, p));
}

#define AVX512_BYTES32(p, k) NK_NAME(Avx512Load, Bytes32)((p), (k))

/*
 * Squared Euclidean distance between two byte vectors, AVX-512BW:
 * differences in int16, squared and summed in pairs into int32 (vpmaddwd),
 * exactly.  The tail is a masked load, which is why these need BW.
 */
static AVX512BW_TARGET float
NK_NAME(Avx512L2Squared, )(const void *av, const void *bv, int n)
{
	const NK_T *a = av;
	const NK_T *b = bv;
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
NK_NAME(Avx512InnerProduct, )(const void *av, const void *bv, int n)
{
	const NK_T *a = av;
	const NK_T *b = bv;
	__m512i		s0 = _mm512_setzero_si512();

	for (int i = 0; i < n; i += 32)
		s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(AVX512_BYTES32(a + i, n - i),
													 AVX512_BYTES32(b + i, n - i)));
	return (float) _mm512_reduce_add_epi32(s0);
}

/*
 * Manhattan distance between two byte vectors, AVX-512BW, exactly
 * (vpsadbw, as the AVX2 kernel; masked-off bytes are zero in both, and
 * flipped alike, so they add nothing)
 */
static AVX512BW_TARGET float
NK_NAME(Avx512L1, )(const void *av, const void *bv, int n)
{
	const NK_T *a = av;
	const NK_T *b = bv;
	const __m512i flip = _mm512_set1_epi8(NK_FLIP);
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

/* Dot product and squared norms of two byte vectors, AVX-512BW, exactly */
static AVX512BW_TARGET void
NK_NAME(Avx512CosineParts, )(const void *av, const void *bv, int n,
							 float *dot, float *norm_a, float *norm_b)
{
	const NK_T *a = av;
	const NK_T *b = bv;
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

#undef AVX512_BYTES32

#endif							/* NK_BYTES */

#else
#error "distance_narrow_template.h: NK_ISA must be NK_ISA_SCALAR, NK_ISA_AVX2 or NK_ISA_AVX512"
#endif

#undef NK_ISA_SCALAR
#undef NK_ISA_AVX2
#undef NK_ISA_AVX512
#undef NK_U8
#undef NK_I8
#undef NK_F16
#undef NK_BF16
#undef NK_BYTES
#undef NK_FLOAT
#undef NK_T
#undef NK_SUFFIX
#undef NK_AVX2_WIDEN16
#undef NK_AVX2_WIDEN32
#undef NK_AVX512_WIDEN16
#undef NK_AVX512_WIDEN32
#undef NK_FLIP
#undef NK_AVX2_LOAD8
#undef NK_AVX512_LOAD16
#undef NK_CAT3_
#undef NK_CAT3
#undef NK_NAME
#undef NK_ISA
#undef NK_TYPE
