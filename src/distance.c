/*-------------------------------------------------------------------------
 *
 * distance.c
 *	  Scalar reference kernels, CPU feature detection and the run-time choice
 *	  of distance kernels (the vectorpg.kernel setting).
 *
 * The scalar kernels are the reference: plain sequential loops accumulating
 * in float8, compiled without any fast-math flag, so that their summation
 * order is exactly the loop order.  The SIMD kernels in distance_simd.c must
 * agree with them (TAP test t/010_kernels.pl).
 *
 * Numeric edge cases, shared by every kernel:
 *	- all sums are taken in float8, so a distance between float4 vectors is
 *	  finite even when it exceeds FLT_MAX (e.g. '[3e38]' <-> '[-3e38]');
 *	- cosine distance with a zero vector is NaN, as in pgvector: the angle is
 *	  undefined.  Similarity is clamped to [-1, 1] so rounding never yields a
 *	  distance outside [0, 2].
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "vectorpg.h"

const VectorKernels *vector_kernels = NULL;

static int	kernel_choice = VECTOR_KERNEL_AUTO;

/* Read by the vectorpg_inline_storage event trigger (sql/vectorpg.sql) */
static bool inline_storage = true;

static const struct config_enum_entry kernel_options[] = {
	{"auto", VECTOR_KERNEL_AUTO, false},
	{"scalar", VECTOR_KERNEL_SCALAR, false},
	{"avx2", VECTOR_KERNEL_AVX2, false},
	{"avx512", VECTOR_KERNEL_AVX512, false},
	{NULL, 0, false}
};

/* Squared Euclidean distance, sequential reference */
static double
ScalarL2Squared(const float *a, const float *b, int n)
{
	double		sum = 0.0;

	for (int i = 0; i < n; i++)
	{
		double		d = (double) a[i] - (double) b[i];

		sum += d * d;
	}
	return sum;
}

/* Inner product, sequential reference */
static double
ScalarInnerProduct(const float *a, const float *b, int n)
{
	double		sum = 0.0;

	for (int i = 0; i < n; i++)
		sum += (double) a[i] * (double) b[i];
	return sum;
}

/* Manhattan distance, sequential reference */
static double
ScalarL1(const float *a, const float *b, int n)
{
	double		sum = 0.0;

	for (int i = 0; i < n; i++)
		sum += fabs((double) a[i] - (double) b[i]);
	return sum;
}

/* Dot product and squared norms in one pass, sequential reference */
static void
ScalarCosineParts(const float *a, const float *b, int n,
				  double *dot, double *norm_a, double *norm_b)
{
	double		d = 0.0,
				na = 0.0,
				nb = 0.0;

	for (int i = 0; i < n; i++)
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

/* Squared Euclidean norm, sequential reference */
static double
ScalarNormSquared(const float *a, int n)
{
	double		sum = 0.0;

	for (int i = 0; i < n; i++)
		sum += (double) a[i] * (double) a[i];
	return sum;
}

/* Squared Euclidean distance in float4, for graph traversal */
static float
ScalarL2SquaredF32(const float *a, const float *b, int n)
{
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
	{
		float		d = a[i] - b[i];

		sum += d * d;
	}
	return sum;
}

/* Inner product in float4, for graph traversal */
static float
ScalarInnerProductF32(const float *a, const float *b, int n)
{
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
		sum += a[i] * b[i];
	return sum;
}

/* Manhattan distance in float4, for graph traversal */
static float
ScalarL1F32(const float *a, const float *b, int n)
{
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
		sum += fabsf(a[i] - b[i]);
	return sum;
}

/* Dot product and squared norms in float4, for graph traversal */
static void
ScalarCosinePartsF32(const float *a, const float *b, int n,
					 float *dot, float *norm_a, float *norm_b)
{
	float		d = 0.0f;
	float		na = 0.0f;
	float		nb = 0.0f;

	for (int i = 0; i < n; i++)
	{
		d += a[i] * b[i];
		na += a[i] * a[i];
		nb += b[i] * b[i];
	}
	*dot = d;
	*norm_a = na;
	*norm_b = nb;
}

/* Bytes to float4 */
void
VectorWidenU8(float *out, const uint8 *in, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = (float) in[i];
}

/* Signed bytes to float4 */
void
VectorWidenI8(float *out, const int8 *in, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = (float) in[i];
}

/*
 * One IEEE binary16 value to float4, by moving its fields: exact for every
 * half value (the index stores no NaN or infinity, but they convert too).
 */
float
VectorHalfToFloat(uint16 h)
{
	uint32		sign = (uint32) (h & 0x8000) << 16;
	uint32		exp = (h >> 10) & 0x1F;
	uint32		mant = h & 0x3FF;
	uint32		bits;
	float		f;

	if (exp == 0x1F)
		bits = sign | 0x7F800000 | (mant << 13);
	else if (exp != 0)
		bits = sign | ((exp + 112) << 23) | (mant << 13);
	else if (mant == 0)
		bits = sign;
	else
	{
		/* Subnormal half: a normal float4 */
		exp = 113;
		while ((mant & 0x400) == 0)
		{
			mant <<= 1;
			exp--;
		}
		bits = sign | (exp << 23) | ((mant & 0x3FF) << 13);
	}
	memcpy(&f, &bits, sizeof(f));
	return f;
}

/* Half precision to float4 */
void
VectorWidenF16(float *out, const uint16 *in, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = VectorHalfToFloat(in[i]);
}

/* bfloat16 to float4: the upper half of the float4's bits */
void
VectorWidenBF16(float *out, const uint16 *in, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = VectorBFloatToFloat(in[i]);
}

/* The traversal kernels over narrow stored types (distance_narrow_template.h) */
#define NK_ISA NK_ISA_SCALAR
#define NK_TYPE NK_U8
#include "distance_narrow_template.h"
#define NK_ISA NK_ISA_SCALAR
#define NK_TYPE NK_I8
#include "distance_narrow_template.h"
#define NK_ISA NK_ISA_SCALAR
#define NK_TYPE NK_F16
#include "distance_narrow_template.h"
#define NK_ISA NK_ISA_SCALAR
#define NK_TYPE NK_BF16
#include "distance_narrow_template.h"

static const VectorKernels scalar_kernels = {
	"scalar",
	ScalarL2Squared,
	ScalarInnerProduct,
	ScalarL1,
	ScalarCosineParts,
	ScalarNormSquared,
	ScalarL2SquaredF32,
	ScalarInnerProductF32,
	ScalarL1F32,
	ScalarCosinePartsF32,
	VectorWidenU8,
	VectorWidenI8,
	VectorWidenF16,
	VectorWidenBF16,
	VECTOR_NARROW_KERNELS(Scalar)
};

/*
 * Cosine distance from the kernel's parts.  Shared by the SQL function and
 * the index so that both treat zero vectors and rounding the same way.
 */
double
VectorCosineDistance(const float *a, const float *b, int n)
{
	double		dot,
				norm_a,
				norm_b,
				similarity;

	vector_kernels->cosine_parts(a, b, n, &dot, &norm_a, &norm_b);

	/* The angle with a zero vector is undefined */
	if (norm_a == 0.0 || norm_b == 0.0)
		return get_float8_nan();

	similarity = dot / sqrt(norm_a * norm_b);

	/* Keep rounding from leaving the valid range */
	if (similarity > 1.0)
		similarity = 1.0;
	else if (similarity < -1.0)
		similarity = -1.0;

	return 1.0 - similarity;
}

/*
 * Kernels for a choice, or NULL when the build or this CPU cannot run them.
 * AUTO takes the widest set available.
 */
const VectorKernels *
DistanceKernelsFor(VectorKernelChoice choice)
{
	const VectorKernels *k;

	switch (choice)
	{
		case VECTOR_KERNEL_SCALAR:
			return &scalar_kernels;
		case VECTOR_KERNEL_AVX2:
			return DistanceAvx2Kernels();
		case VECTOR_KERNEL_AVX512:
			return DistanceAvx512Kernels();
		case VECTOR_KERNEL_AUTO:
			if ((k = DistanceAvx512Kernels()) != NULL)
				return k;
			if ((k = DistanceAvx2Kernels()) != NULL)
				return k;
			return &scalar_kernels;
	}
	return NULL;
}

/* Refuse a kernel choice this machine cannot run, before it takes effect */
static bool
CheckKernelChoice(int *newval, void **extra, GucSource source)
{
	if (DistanceKernelsFor((VectorKernelChoice) *newval) == NULL)
	{
		GUC_check_errdetail("This CPU or build does not support the \"%s\" kernels.",
							kernel_options[*newval].name);
		GUC_check_errhint("Use \"auto\" to take the best kernels available.");
		return false;
	}
	return true;
}

/* Switch the kernel table when vectorpg.kernel changes */
static void
AssignKernelChoice(int newval, void *extra)
{
	vector_kernels = DistanceKernelsFor((VectorKernelChoice) newval);
}

/*
 * Pick kernels for this CPU and register vectorpg.kernel, which lets tests
 * and benchmarks force a particular set (notably the scalar reference).
 */
void
DistanceInit(void)
{
	vector_kernels = DistanceKernelsFor(VECTOR_KERNEL_AUTO);

	DefineCustomEnumVariable("vectorpg.kernel",
							 "Selects the distance kernels: auto, scalar, avx2 or avx512.",
							 "\"auto\" uses the widest SIMD instructions this CPU supports; "
							 "\"scalar\" forces the portable reference loops.",
							 &kernel_choice,
							 VECTOR_KERNEL_AUTO,
							 kernel_options,
							 PGC_USERSET,
							 0,
							 CheckKernelChoice,
							 AssignKernelChoice,
							 NULL);

	/* Registered here so that the setting is known once the library loads */
	DefineCustomBoolVariable("vectorpg.inline_storage",
							 "Gives vector(n) columns of new tables STORAGE plain when they fit in a heap page.",
							 "Off leaves the type's default, STORAGE main, which may compress vectors.",
							 &inline_storage,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
}

VECTORPG_FUNCTION(vectorpg_kernel);

/* SQL: name of the kernels in use, e.g. 'avx512' */
Datum
vectorpg_kernel(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(vector_kernels->name));
}
