/*-------------------------------------------------------------------------
 *
 * distance_simd.c
 *	  AVX2+FMA and AVX-512 (F, BW, VL) distance kernels, and the CPU checks
 *	  that decide whether they may run.
 *
 * Each function is compiled for its instruction set with a target attribute,
 * so the rest of the extension stays portable x86-64 and the choice is made
 * at run time (distance.c).  Elements are widened to float8 before any
 * arithmetic, matching the scalar reference; only the summation order
 * differs, through independent accumulators.  Tails shorter than a register
 * are handled with masked loads (AVX-512) or the scalar loop (AVX2), never by
 * reading past the end of the arrays.
 *
 * Building with -DVECTORPG_NO_SIMD, or on a CPU family other than x86-64,
 * compiles none of this: both lookup functions then return NULL.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "vectorpg.h"

#if defined(__x86_64__) && !defined(VECTORPG_NO_SIMD) && defined(__GNUC__)
#define VECTORPG_X86_SIMD 1
#endif

#ifdef VECTORPG_X86_SIMD

#include <cpuid.h>
#include <immintrin.h>

#define AVX2_TARGET __attribute__((target("avx2,fma,f16c")))
#define AVX512_TARGET __attribute__((target("avx512f")))
#define AVX512BW_TARGET __attribute__((target("avx512f,avx512bw,avx512vl")))

/* XCR0 bits the OS must have enabled for each register file */
#define XCR0_YMM	0x06		/* SSE and AVX state */
#define XCR0_ZMM	0xE6		/* plus opmask and both halves of ZMM */

/* Read XCR0: which register state the OS saves on a context switch */
static uint64
ReadXcr0(void)
{
	uint32		eax,
				edx;

	__asm__ volatile ("xgetbv" : "=a" (eax), "=d" (edx) : "c" (0));
	return ((uint64) edx << 32) | eax;
}

/*
 * Whether this CPU and OS can run AVX2+FMA (want512 = false) or AVX-512F
 * with BW and VL (want512 = true; every AVX-512 CPU but the Xeon Phi has
 * them, and the Phi takes the AVX2 kernels).  The feature bits alone are not enough: the OS must also
 * save the wider registers, which OSXSAVE and XCR0 tell.
 */
static bool
CpuSupports(bool want512)
{
	unsigned int eax,
				ebx,
				ecx,
				edx;
	uint64		xcr0;

	if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
		return false;
	if (!(ecx & bit_OSXSAVE) || !(ecx & bit_AVX) || !(ecx & bit_FMA) || !(ecx & bit_F16C))
		return false;
	xcr0 = ReadXcr0();
	if ((xcr0 & XCR0_YMM) != XCR0_YMM)
		return false;
	if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
		return false;
	if (!(ebx & bit_AVX2))
		return false;
	if (!want512)
		return true;
	return (ebx & bit_AVX512F) != 0 && (ebx & bit_AVX512BW) != 0 &&
		(ebx & bit_AVX512VL) != 0 && (xcr0 & XCR0_ZMM) == XCR0_ZMM;
}

/*
 * Prefetch distance for streaming a vector from memory: a vector read once
 * per row of a scan comes from DRAM, and the hardware prefetcher starts too
 * late on a 3 kB stream to hide the latency.  Prefetching beyond the end of
 * an array is harmless (a prefetch never faults).
 */
#define PREFETCH_AHEAD 1024
#define PREFETCH_BOTH(a, b, i) \
	do { \
		_mm_prefetch((const char *) ((a) + (i)) + PREFETCH_AHEAD, _MM_HINT_T0); \
		_mm_prefetch((const char *) ((b) + (i)) + PREFETCH_AHEAD, _MM_HINT_T0); \
	} while (0)

/* ---------------------------- AVX2 + FMA ---------------------------- */

/* Sum the four lanes of an AVX register */
static inline AVX2_TARGET double
Avx2Sum(__m256d v)
{
	__m128d		lo = _mm256_castpd256_pd128(v);
	__m128d		hi = _mm256_extractf128_pd(v, 1);

	lo = _mm_add_pd(lo, hi);
	return _mm_cvtsd_f64(lo) + _mm_cvtsd_f64(_mm_unpackhi_pd(lo, lo));
}

/* Four floats at p, widened to float8 */
#define AVX2_LOAD(p) _mm256_cvtps_pd(_mm_loadu_ps(p))

/* Squared Euclidean distance, AVX2 */
static AVX2_TARGET double
Avx2L2Squared(const float *a, const float *b, int n)
{
	__m256d		s0 = _mm256_setzero_pd();
	__m256d		s1 = _mm256_setzero_pd();
	double		sum;
	int			i = 0;

	for (; i + 8 <= n; i += 8)
	{
		__m256d		d0 = _mm256_sub_pd(AVX2_LOAD(a + i), AVX2_LOAD(b + i));
		__m256d		d1 = _mm256_sub_pd(AVX2_LOAD(a + i + 4), AVX2_LOAD(b + i + 4));

		PREFETCH_BOTH(a, b, i);
		s0 = _mm256_fmadd_pd(d0, d0, s0);
		s1 = _mm256_fmadd_pd(d1, d1, s1);
	}
	for (; i + 4 <= n; i += 4)
	{
		__m256d		d0 = _mm256_sub_pd(AVX2_LOAD(a + i), AVX2_LOAD(b + i));

		s0 = _mm256_fmadd_pd(d0, d0, s0);
	}
	sum = Avx2Sum(_mm256_add_pd(s0, s1));
	for (; i < n; i++)
	{
		double		d = (double) a[i] - (double) b[i];

		sum += d * d;
	}
	return sum;
}

/* Inner product, AVX2 */
static AVX2_TARGET double
Avx2InnerProduct(const float *a, const float *b, int n)
{
	__m256d		s0 = _mm256_setzero_pd();
	__m256d		s1 = _mm256_setzero_pd();
	double		sum;
	int			i = 0;

	for (; i + 8 <= n; i += 8)
	{
		PREFETCH_BOTH(a, b, i);
		s0 = _mm256_fmadd_pd(AVX2_LOAD(a + i), AVX2_LOAD(b + i), s0);
		s1 = _mm256_fmadd_pd(AVX2_LOAD(a + i + 4), AVX2_LOAD(b + i + 4), s1);
	}
	for (; i + 4 <= n; i += 4)
		s0 = _mm256_fmadd_pd(AVX2_LOAD(a + i), AVX2_LOAD(b + i), s0);
	sum = Avx2Sum(_mm256_add_pd(s0, s1));
	for (; i < n; i++)
		sum += (double) a[i] * (double) b[i];
	return sum;
}

/* Manhattan distance, AVX2 */
static AVX2_TARGET double
Avx2L1(const float *a, const float *b, int n)
{
	const __m256d sign = _mm256_set1_pd(-0.0);
	__m256d		s0 = _mm256_setzero_pd();
	__m256d		s1 = _mm256_setzero_pd();
	double		sum;
	int			i = 0;

	for (; i + 8 <= n; i += 8)
	{
		__m256d		d0 = _mm256_sub_pd(AVX2_LOAD(a + i), AVX2_LOAD(b + i));
		__m256d		d1 = _mm256_sub_pd(AVX2_LOAD(a + i + 4), AVX2_LOAD(b + i + 4));

		PREFETCH_BOTH(a, b, i);
		s0 = _mm256_add_pd(s0, _mm256_andnot_pd(sign, d0));
		s1 = _mm256_add_pd(s1, _mm256_andnot_pd(sign, d1));
	}
	for (; i + 4 <= n; i += 4)
	{
		__m256d		d0 = _mm256_sub_pd(AVX2_LOAD(a + i), AVX2_LOAD(b + i));

		s0 = _mm256_add_pd(s0, _mm256_andnot_pd(sign, d0));
	}
	sum = Avx2Sum(_mm256_add_pd(s0, s1));
	for (; i < n; i++)
		sum += fabs((double) a[i] - (double) b[i]);
	return sum;
}

/* Dot product and squared norms in one pass, AVX2 */
static AVX2_TARGET void
Avx2CosineParts(const float *a, const float *b, int n,
				double *dot, double *norm_a, double *norm_b)
{
	__m256d		sd = _mm256_setzero_pd();
	__m256d		sa = _mm256_setzero_pd();
	__m256d		sb = _mm256_setzero_pd();
	double		d,
				na,
				nb;
	int			i = 0;

	for (; i + 4 <= n; i += 4)
	{
		__m256d		x = AVX2_LOAD(a + i);
		__m256d		y = AVX2_LOAD(b + i);

		PREFETCH_BOTH(a, b, i);
		sd = _mm256_fmadd_pd(x, y, sd);
		sa = _mm256_fmadd_pd(x, x, sa);
		sb = _mm256_fmadd_pd(y, y, sb);
	}
	d = Avx2Sum(sd);
	na = Avx2Sum(sa);
	nb = Avx2Sum(sb);
	for (; i < n; i++)
	{
		double		x = a[i];
		double		y = b[i];

		d += x * y;
		na += x * x;
		nb += y * y;
	}
	*dot = d;
	*norm_a = na;
	*norm_b = nb;
}

/* Squared norm, AVX2 */
static AVX2_TARGET double
Avx2NormSquared(const float *a, int n)
{
	return Avx2InnerProduct(a, a, n);
}

/* Sum the eight lanes of a float AVX register */
static inline AVX2_TARGET float
Avx2SumPs(__m256 v)
{
	__m128		lo = _mm256_castps256_ps128(v);
	__m128		hi = _mm256_extractf128_ps(v, 1);

	lo = _mm_add_ps(lo, hi);
	lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
	lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
	return _mm_cvtss_f32(lo);
}

/* Squared Euclidean distance in float4, AVX2 */
static AVX2_TARGET float
Avx2L2SquaredF32(const float *a, const float *b, int n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		__m256		d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));

		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));

		s0 = _mm256_fmadd_ps(d0, d0, s0);
	}
	sum = Avx2SumPs(_mm256_add_ps(s0, s1));
	for (; i < n; i++)
	{
		float		d = a[i] - b[i];

		sum += d * d;
	}
	return sum;
}

/* Inner product in float4, AVX2 */
static AVX2_TARGET float
Avx2InnerProductF32(const float *a, const float *b, int n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
	sum = Avx2SumPs(_mm256_add_ps(s0, s1));
	for (; i < n; i++)
		sum += a[i] * b[i];
	return sum;
}

/* Manhattan distance in float4, AVX2 */
static AVX2_TARGET float
Avx2L1F32(const float *a, const float *b, int n)
{
	const __m256 sign = _mm256_set1_ps(-0.0f);
	__m256		s0 = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i + 8 <= n; i += 8)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));

		s0 = _mm256_add_ps(s0, _mm256_andnot_ps(sign, d0));
	}
	sum = Avx2SumPs(s0);
	for (; i < n; i++)
		sum += fabsf(a[i] - b[i]);
	return sum;
}

/* Dot product and squared norms in float4, AVX2 */
static AVX2_TARGET void
Avx2CosinePartsF32(const float *a, const float *b, int n,
				   float *dot, float *norm_a, float *norm_b)
{
	__m256		d0 = _mm256_setzero_ps();
	__m256		d1 = _mm256_setzero_ps();
	__m256		a0 = _mm256_setzero_ps();
	__m256		a1 = _mm256_setzero_ps();
	__m256		b0 = _mm256_setzero_ps();
	__m256		b1 = _mm256_setzero_ps();
	float		d,
				na,
				nb;
	int			i = 0;

	/* Two chains per sum hide the FMA latency */
	for (; i + 16 <= n; i += 16)
	{
		__m256		x0 = _mm256_loadu_ps(a + i);
		__m256		y0 = _mm256_loadu_ps(b + i);
		__m256		x1 = _mm256_loadu_ps(a + i + 8);
		__m256		y1 = _mm256_loadu_ps(b + i + 8);

		d0 = _mm256_fmadd_ps(x0, y0, d0);
		a0 = _mm256_fmadd_ps(x0, x0, a0);
		b0 = _mm256_fmadd_ps(y0, y0, b0);
		d1 = _mm256_fmadd_ps(x1, y1, d1);
		a1 = _mm256_fmadd_ps(x1, x1, a1);
		b1 = _mm256_fmadd_ps(y1, y1, b1);
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		x0 = _mm256_loadu_ps(a + i);
		__m256		y0 = _mm256_loadu_ps(b + i);

		d0 = _mm256_fmadd_ps(x0, y0, d0);
		a0 = _mm256_fmadd_ps(x0, x0, a0);
		b0 = _mm256_fmadd_ps(y0, y0, b0);
	}
	d = Avx2SumPs(_mm256_add_ps(d0, d1));
	na = Avx2SumPs(_mm256_add_ps(a0, a1));
	nb = Avx2SumPs(_mm256_add_ps(b0, b1));
	for (; i < n; i++)
	{
		d += a[i] * b[i];
		na += a[i] * a[i];
		nb += b[i] * b[i];
	}
	*dot = d;
	*norm_a = na;
	*norm_b = nb;
}

/* Bytes to float4, AVX2 */
static AVX2_TARGET void
Avx2WidenU8(float *out, const uint8 *in, int n)
{
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(out + i, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *) (in + i)))));
	VectorWidenU8(out + i, in + i, n - i);
}

/* Signed bytes to float4, AVX2 */
static AVX2_TARGET void
Avx2WidenI8(float *out, const int8 *in, int n)
{
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(out + i, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *) (in + i)))));
	VectorWidenI8(out + i, in + i, n - i);
}

/* Half precision to float4, F16C */
static AVX2_TARGET void
Avx2WidenF16(float *out, const uint16 *in, int n)
{
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (in + i))));
	VectorWidenF16(out + i, in + i, n - i);
}

/* bfloat16 to float4, AVX2 */
static AVX2_TARGET void
Avx2WidenBF16(float *out, const uint16 *in, int n)
{
	int			i = 0;

	for (; i + 8 <= n; i += 8)
	{
		__m256i		w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *) (in + i)));

		_mm256_storeu_ps(out + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
	}
	VectorWidenBF16(out + i, in + i, n - i);
}

/* Sum the eight int32 lanes of an AVX register */
static inline AVX2_TARGET int32
Avx2SumEpi32(__m256i v)
{
	__m128i		x = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));

	x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4E));
	x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0xB1));
	return _mm_cvtsi128_si32(x);
}

/* The traversal kernels over narrow stored types (distance_narrow_template.h) */
#define NK_ISA NK_ISA_AVX2
#define NK_TYPE NK_U8
#include "distance_narrow_template.h"
#define NK_ISA NK_ISA_AVX2
#define NK_TYPE NK_I8
#include "distance_narrow_template.h"
#define NK_ISA NK_ISA_AVX2
#define NK_TYPE NK_F16
#include "distance_narrow_template.h"
#define NK_ISA NK_ISA_AVX2
#define NK_TYPE NK_BF16
#include "distance_narrow_template.h"

static const VectorKernels avx2_kernels = {
	"avx2",
	Avx2L2Squared,
	Avx2InnerProduct,
	Avx2L1,
	Avx2CosineParts,
	Avx2NormSquared,
	Avx2L2SquaredF32,
	Avx2InnerProductF32,
	Avx2L1F32,
	Avx2CosinePartsF32,
	Avx2WidenU8,
	Avx2WidenI8,
	Avx2WidenF16,
	Avx2WidenBF16,
	VECTOR_NARROW_KERNELS(Avx2)
};

/* ------------------------------ AVX-512F ----------------------------- */

/* Eight floats at p widened to float8; MASKED reads only the first r */
#define AVX512_LOAD(p) _mm512_cvtps_pd(_mm256_loadu_ps(p))
#define AVX512_LOAD_MASKED(p, m) \
	_mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_maskz_loadu_ps((m), (p))))

/* Mask with the low r of 8 lanes set */
#define TAIL_MASK(r) ((__mmask16) ((1u << (r)) - 1))

/* Squared Euclidean distance, AVX-512 */
static AVX512_TARGET double
Avx512L2Squared(const float *a, const float *b, int n)
{
	__m512d		s0 = _mm512_setzero_pd();
	__m512d		s1 = _mm512_setzero_pd();
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		__m512d		d0 = _mm512_sub_pd(AVX512_LOAD(a + i), AVX512_LOAD(b + i));
		__m512d		d1 = _mm512_sub_pd(AVX512_LOAD(a + i + 8), AVX512_LOAD(b + i + 8));

		PREFETCH_BOTH(a, b, i);
		s0 = _mm512_fmadd_pd(d0, d0, s0);
		s1 = _mm512_fmadd_pd(d1, d1, s1);
	}
	for (; i + 8 <= n; i += 8)
	{
		__m512d		d0 = _mm512_sub_pd(AVX512_LOAD(a + i), AVX512_LOAD(b + i));

		s0 = _mm512_fmadd_pd(d0, d0, s0);
	}
	if (i < n)
	{
		__mmask16	m = TAIL_MASK(n - i);
		__m512d		d0 = _mm512_sub_pd(AVX512_LOAD_MASKED(a + i, m),
									   AVX512_LOAD_MASKED(b + i, m));

		s1 = _mm512_fmadd_pd(d0, d0, s1);
	}
	return _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
}

/* Inner product, AVX-512 */
static AVX512_TARGET double
Avx512InnerProduct(const float *a, const float *b, int n)
{
	__m512d		s0 = _mm512_setzero_pd();
	__m512d		s1 = _mm512_setzero_pd();
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		PREFETCH_BOTH(a, b, i);
		s0 = _mm512_fmadd_pd(AVX512_LOAD(a + i), AVX512_LOAD(b + i), s0);
		s1 = _mm512_fmadd_pd(AVX512_LOAD(a + i + 8), AVX512_LOAD(b + i + 8), s1);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm512_fmadd_pd(AVX512_LOAD(a + i), AVX512_LOAD(b + i), s0);
	if (i < n)
	{
		__mmask16	m = TAIL_MASK(n - i);

		s1 = _mm512_fmadd_pd(AVX512_LOAD_MASKED(a + i, m),
							 AVX512_LOAD_MASKED(b + i, m), s1);
	}
	return _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
}

/* Manhattan distance, AVX-512 */
static AVX512_TARGET double
Avx512L1(const float *a, const float *b, int n)
{
	__m512d		s0 = _mm512_setzero_pd();
	__m512d		s1 = _mm512_setzero_pd();
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		__m512d		d0 = _mm512_sub_pd(AVX512_LOAD(a + i), AVX512_LOAD(b + i));
		__m512d		d1 = _mm512_sub_pd(AVX512_LOAD(a + i + 8), AVX512_LOAD(b + i + 8));

		PREFETCH_BOTH(a, b, i);
		s0 = _mm512_add_pd(s0, _mm512_abs_pd(d0));
		s1 = _mm512_add_pd(s1, _mm512_abs_pd(d1));
	}
	for (; i + 8 <= n; i += 8)
	{
		__m512d		d0 = _mm512_sub_pd(AVX512_LOAD(a + i), AVX512_LOAD(b + i));

		s0 = _mm512_add_pd(s0, _mm512_abs_pd(d0));
	}
	if (i < n)
	{
		__mmask16	m = TAIL_MASK(n - i);
		__m512d		d0 = _mm512_sub_pd(AVX512_LOAD_MASKED(a + i, m),
									   AVX512_LOAD_MASKED(b + i, m));

		s1 = _mm512_add_pd(s1, _mm512_abs_pd(d0));
	}
	return _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
}

/* Dot product and squared norms in one pass, AVX-512 */
static AVX512_TARGET void
Avx512CosineParts(const float *a, const float *b, int n,
				  double *dot, double *norm_a, double *norm_b)
{
	__m512d		sd = _mm512_setzero_pd();
	__m512d		sa = _mm512_setzero_pd();
	__m512d		sb = _mm512_setzero_pd();
	int			i = 0;

	for (; i + 8 <= n; i += 8)
	{
		__m512d		x = AVX512_LOAD(a + i);
		__m512d		y = AVX512_LOAD(b + i);

		PREFETCH_BOTH(a, b, i);
		sd = _mm512_fmadd_pd(x, y, sd);
		sa = _mm512_fmadd_pd(x, x, sa);
		sb = _mm512_fmadd_pd(y, y, sb);
	}
	if (i < n)
	{
		__mmask16	m = TAIL_MASK(n - i);
		__m512d		x = AVX512_LOAD_MASKED(a + i, m);
		__m512d		y = AVX512_LOAD_MASKED(b + i, m);

		sd = _mm512_fmadd_pd(x, y, sd);
		sa = _mm512_fmadd_pd(x, x, sa);
		sb = _mm512_fmadd_pd(y, y, sb);
	}
	*dot = _mm512_reduce_add_pd(sd);
	*norm_a = _mm512_reduce_add_pd(sa);
	*norm_b = _mm512_reduce_add_pd(sb);
}

/* Squared norm, AVX-512 */
static AVX512_TARGET double
Avx512NormSquared(const float *a, int n)
{
	return Avx512InnerProduct(a, a, n);
}

/* Squared Euclidean distance in float4, AVX-512 */
static AVX512_TARGET float
Avx512L2SquaredF32(const float *a, const float *b, int n)
{
	__m512		s0 = _mm512_setzero_ps();
	__m512		s1 = _mm512_setzero_ps();
	__m512		s2 = _mm512_setzero_ps();
	__m512		s3 = _mm512_setzero_ps();
	int			i = 0;

	/* Four independent chains hide the FMA latency */
	for (; i + 64 <= n; i += 64)
	{
		__m512		d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
		__m512		d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
		__m512		d2 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
		__m512		d3 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));

		s0 = _mm512_fmadd_ps(d0, d0, s0);
		s1 = _mm512_fmadd_ps(d1, d1, s1);
		s2 = _mm512_fmadd_ps(d2, d2, s2);
		s3 = _mm512_fmadd_ps(d3, d3, s3);
	}
	s0 = _mm512_add_ps(s0, s2);
	s1 = _mm512_add_ps(s1, s3);
	for (; i + 32 <= n; i += 32)
	{
		__m512		d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
		__m512		d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));

		s0 = _mm512_fmadd_ps(d0, d0, s0);
		s1 = _mm512_fmadd_ps(d1, d1, s1);
	}
	for (; i + 16 <= n; i += 16)
	{
		__m512		d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));

		s0 = _mm512_fmadd_ps(d0, d0, s0);
	}
	if (i < n)
	{
		__mmask16	m = (__mmask16) ((1u << (n - i)) - 1);
		__m512		d0 = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i),
									   _mm512_maskz_loadu_ps(m, b + i));

		s1 = _mm512_fmadd_ps(d0, d0, s1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

/* Inner product in float4, AVX-512 */
static AVX512_TARGET float
Avx512InnerProductF32(const float *a, const float *b, int n)
{
	__m512		s0 = _mm512_setzero_ps();
	__m512		s1 = _mm512_setzero_ps();
	int			i = 0;

	for (; i + 32 <= n; i += 32)
	{
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
		s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
	}
	for (; i + 16 <= n; i += 16)
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
	if (i < n)
	{
		__mmask16	m = (__mmask16) ((1u << (n - i)) - 1);

		s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i),
							 _mm512_maskz_loadu_ps(m, b + i), s1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

/* Manhattan distance in float4, AVX-512 */
static AVX512_TARGET float
Avx512L1F32(const float *a, const float *b, int n)
{
	__m512		s0 = _mm512_setzero_ps();
	int			i = 0;

	for (; i + 16 <= n; i += 16)
		s0 = _mm512_add_ps(s0, _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(a + i),
															_mm512_loadu_ps(b + i))));
	if (i < n)
	{
		__mmask16	m = (__mmask16) ((1u << (n - i)) - 1);

		s0 = _mm512_add_ps(s0, _mm512_abs_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i),
															_mm512_maskz_loadu_ps(m, b + i))));
	}
	return _mm512_reduce_add_ps(s0);
}

/* Dot product and squared norms in float4, AVX-512 */
static AVX512_TARGET void
Avx512CosinePartsF32(const float *a, const float *b, int n,
					 float *dot, float *norm_a, float *norm_b)
{
	__m512		d0 = _mm512_setzero_ps();
	__m512		d1 = _mm512_setzero_ps();
	__m512		a0 = _mm512_setzero_ps();
	__m512		a1 = _mm512_setzero_ps();
	__m512		b0 = _mm512_setzero_ps();
	__m512		b1 = _mm512_setzero_ps();
	int			i = 0;

	/* Two chains per sum hide the FMA latency */
	for (; i + 32 <= n; i += 32)
	{
		__m512		x0 = _mm512_loadu_ps(a + i);
		__m512		y0 = _mm512_loadu_ps(b + i);
		__m512		x1 = _mm512_loadu_ps(a + i + 16);
		__m512		y1 = _mm512_loadu_ps(b + i + 16);

		d0 = _mm512_fmadd_ps(x0, y0, d0);
		a0 = _mm512_fmadd_ps(x0, x0, a0);
		b0 = _mm512_fmadd_ps(y0, y0, b0);
		d1 = _mm512_fmadd_ps(x1, y1, d1);
		a1 = _mm512_fmadd_ps(x1, x1, a1);
		b1 = _mm512_fmadd_ps(y1, y1, b1);
	}
	for (; i + 16 <= n; i += 16)
	{
		__m512		x0 = _mm512_loadu_ps(a + i);
		__m512		y0 = _mm512_loadu_ps(b + i);

		d0 = _mm512_fmadd_ps(x0, y0, d0);
		a0 = _mm512_fmadd_ps(x0, x0, a0);
		b0 = _mm512_fmadd_ps(y0, y0, b0);
	}
	if (i < n)
	{
		__mmask16	m = (__mmask16) ((1u << (n - i)) - 1);
		__m512		x0 = _mm512_maskz_loadu_ps(m, a + i);
		__m512		y0 = _mm512_maskz_loadu_ps(m, b + i);

		d1 = _mm512_fmadd_ps(x0, y0, d1);
		a1 = _mm512_fmadd_ps(x0, x0, a1);
		b1 = _mm512_fmadd_ps(y0, y0, b1);
	}
	*dot = _mm512_reduce_add_ps(_mm512_add_ps(d0, d1));
	*norm_a = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
	*norm_b = _mm512_reduce_add_ps(_mm512_add_ps(b0, b1));
}

/* Bytes to float4, AVX-512 */
static AVX512_TARGET void
Avx512WidenU8(float *out, const uint8 *in, int n)
{
	int			i = 0;

	for (; i + 16 <= n; i += 16)
		_mm512_storeu_ps(out + i, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *) (in + i)))));
	VectorWidenU8(out + i, in + i, n - i);
}

/* Signed bytes to float4, AVX-512 */
static AVX512_TARGET void
Avx512WidenI8(float *out, const int8 *in, int n)
{
	int			i = 0;

	for (; i + 16 <= n; i += 16)
		_mm512_storeu_ps(out + i, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *) (in + i)))));
	VectorWidenI8(out + i, in + i, n - i);
}

/* Half precision to float4, AVX-512 */
static AVX512_TARGET void
Avx512WidenF16(float *out, const uint16 *in, int n)
{
	int			i = 0;

	for (; i + 16 <= n; i += 16)
		_mm512_storeu_ps(out + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *) (in + i))));
	VectorWidenF16(out + i, in + i, n - i);
}

/* bfloat16 to float4, AVX-512 */
static AVX512_TARGET void
Avx512WidenBF16(float *out, const uint16 *in, int n)
{
	int			i = 0;

	for (; i + 16 <= n; i += 16)
	{
		__m512i		w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *) (in + i)));

		_mm512_storeu_ps(out + i, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
	}
	VectorWidenBF16(out + i, in + i, n - i);
}

/* The traversal kernels over narrow stored types (distance_narrow_template.h) */
#define NK_ISA NK_ISA_AVX512
#define NK_TYPE NK_U8
#include "distance_narrow_template.h"
#define NK_ISA NK_ISA_AVX512
#define NK_TYPE NK_I8
#include "distance_narrow_template.h"
#define NK_ISA NK_ISA_AVX512
#define NK_TYPE NK_F16
#include "distance_narrow_template.h"
#define NK_ISA NK_ISA_AVX512
#define NK_TYPE NK_BF16
#include "distance_narrow_template.h"

static const VectorKernels avx512_kernels = {
	"avx512",
	Avx512L2Squared,
	Avx512InnerProduct,
	Avx512L1,
	Avx512CosineParts,
	Avx512NormSquared,
	Avx512L2SquaredF32,
	Avx512InnerProductF32,
	Avx512L1F32,
	Avx512CosinePartsF32,
	Avx512WidenU8,
	Avx512WidenI8,
	Avx512WidenF16,
	Avx512WidenBF16,
	VECTOR_NARROW_KERNELS(Avx512)
};

/* AVX2 kernels if this CPU runs them, else NULL */
const VectorKernels *
DistanceAvx2Kernels(void)
{
	static int	supported = -1;

	if (supported < 0)
		supported = CpuSupports(false) ? 1 : 0;
	return supported ? &avx2_kernels : NULL;
}

/* AVX-512 kernels if this CPU runs them, else NULL */
const VectorKernels *
DistanceAvx512Kernels(void)
{
	static int	supported = -1;

	if (supported < 0)
		supported = CpuSupports(true) ? 1 : 0;
	return supported ? &avx512_kernels : NULL;
}

#else							/* !VECTORPG_X86_SIMD */

/* No SIMD kernels in this build */
const VectorKernels *
DistanceAvx2Kernels(void)
{
	return NULL;
}

/* No SIMD kernels in this build */
const VectorKernels *
DistanceAvx512Kernels(void)
{
	return NULL;
}

#endif							/* VECTORPG_X86_SIMD */
