/* The shared SIMD layer: every kernel source of this folder includes this header, which
 * picks the vector mapping of the ISA being built (vec_sse.h, vec_avx2.h, vec_avx512.h:
 * a vector type `vec` of SIMD_W floats and v_* operations) and adds the helpers written
 * once on top of it. Only the per-ISA headers contain intrinsics (ggml's simd-mappings). */
#ifndef MGPT_SIMD_H
#define MGPT_SIMD_H
#include "simd/kernels.h"

#if defined(MGPT_SIMD_AVX512) || defined(MGPT_SIMD_AVX512BF16) || defined(MGPT_SIMD_AMX)
#include "simd/vec_avx512.h"
#elif defined(MGPT_SIMD_AVX2)
#include "simd/vec_avx2.h"
#elif defined(MGPT_SIMD_SSE)
#include "simd/vec_sse.h"
#else
#error "define one of MGPT_SIMD_SSE, MGPT_SIMD_AVX2, MGPT_SIMD_AVX512, MGPT_SIMD_AVX512BF16, MGPT_SIMD_AMX"
#endif

#define SIMD_ALWAYS_INLINE static inline __attribute__((always_inline))

/* What init returns (instance.c): all the mutable state of the module, since its globals
 * are const (two instances may run in one process). The kernels that multiply matrices
 * (matmul, attention: GEMM packing buffers, the tile path's scratch) use the calling
 * thread's workspace, work[ctx->thread], gemm_work_floats() floats, 64-byte aligned. */
typedef struct simd_instance {
    int threads;        /* env->num_threads at init: 0 <= ctx->thread < threads */
    float *work[];      /* one workspace per thread */
} simd_instance;

static inline float *simd_work(const mgpt_ctx *ctx)
{
    return ((const simd_instance *)ctx->instance)->work[ctx->thread];
}

/* sum a[i]*b[i], i < n, with 4 independent accumulators (fixed order: deterministic) */
static inline float simd_dot(const float *a, const float *b, int n)
{
    vec s0 = v_zero(), s1 = v_zero(), s2 = v_zero(), s3 = v_zero();
    int i = 0;
    for (; i + 4 * SIMD_W <= n; i += 4 * SIMD_W) {
        s0 = v_fma(v_load(a + i), v_load(b + i), s0);
        s1 = v_fma(v_load(a + i + SIMD_W), v_load(b + i + SIMD_W), s1);
        s2 = v_fma(v_load(a + i + 2 * SIMD_W), v_load(b + i + 2 * SIMD_W), s2);
        s3 = v_fma(v_load(a + i + 3 * SIMD_W), v_load(b + i + 3 * SIMD_W), s3);
    }
    for (; i + SIMD_W <= n; i += SIMD_W)
        s0 = v_fma(v_load(a + i), v_load(b + i), s0);
    if (i < n)
        s1 = v_fma(v_load_part(a + i, n - i), v_load_part(b + i, n - i), s1);
    return v_hsum(v_add(v_add(s0, s1), v_add(s2, s3)));
}

/* max x[i], i < n (n >= 1) */
static inline float simd_max(const float *x, int n)
{
    int i = 0;
    float m = x[0];
    if (n >= SIMD_W) {
        vec vm = v_load(x);
        for (i = SIMD_W; i + SIMD_W <= n; i += SIMD_W)
            vm = v_max(vm, v_load(x + i));
        m = v_hmax(vm);
    }
    for (; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}

/* e^x in the Cephes expf way: x = n ln2 + r with |r| <= ln2/2 (ln2 split in two so that
 * n*C1 is exact), e^r by a degree-7 polynomial, then scaled by 2^n. Relative error at most
 * 1.2e-7 (measured over every float in [-87, 0]); below -87.3 it returns 0 (e^x < 1.2e-38
 * there, the smallest normal float). Meant for softmax, where x <= 0. */
static inline vec v_exp(vec x)
{
    vmask normal = v_gt(x, v_set1(-87.3f));
    x = v_min(v_max(x, v_set1(-87.3f)), v_set1(88.0f));
    vec n = v_round(v_mul(x, v_set1(1.44269504088896341f)));
    x = v_fma(n, v_set1(-0.693359375f), x);
    x = v_fma(n, v_set1(2.12194440e-4f), x);
    vec y = v_set1(1.9875691500e-4f);
    y = v_fma(y, x, v_set1(1.3981999507e-3f));
    y = v_fma(y, x, v_set1(8.3334519073e-3f));
    y = v_fma(y, x, v_set1(4.1665795894e-2f));
    y = v_fma(y, x, v_set1(1.6666665459e-1f));
    y = v_fma(y, x, v_set1(5.0000001201e-1f));
    y = v_fma(y, v_mul(x, x), v_add(x, v_set1(1.0f)));
    return v_and_mask(v_ldexp(y, n), normal);
}
/* out[0..n) = exp(in[0..n)*scale - maxv), then divided by their sum, which is returned
 * (maxv: the max of in[]*scale; in == out is allowed). The partial last vector stays in a
 * register from exp to store: a masked store does not forward to a later load, and
 * short rows (attention at small T) would stall on it at every pass. */
static inline float simd_softmax(float *out, const float *in, int n, float scale, float maxv)
{
    vec vs = v_set1(scale), vmax = v_set1(maxv), sum = v_zero(), tail = v_zero();
    int nf = n / SIMD_W * SIMD_W, r = n - nf;
    for (int j = 0; j < nf; j += SIMD_W) {
        vec e = v_exp(v_sub(v_mul(v_load(in + j), vs), vmax));
        v_store(out + j, e);
        sum = v_add(sum, e);
    }
    if (r) {
        tail = v_keep_first(v_exp(v_sub(v_mul(v_load_part(in + nf, r), vs), vmax)), r);
        sum = v_add(sum, tail);
    }
    float total = v_hsum(sum);
    vec inv = v_set1(1.0f / total);
    for (int j = 0; j < nf; j += SIMD_W)
        v_store(out + j, v_mul(v_load(out + j), inv));
    if (r)
        v_store_part(out + nf, v_mul(tail, inv), r);
    return total;
}

#endif
