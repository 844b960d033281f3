/* Gradient norm and the Adam update. */
#include <math.h>
#include "simd/simd.h"

/* sum of x^2 over one chunk (n <= MGPT_SUMSQ_CHUNK) in double: each float widened, squared
 * exactly, summed in 4 double vectors. */
static double sumsq_chunk(const float *x, size_t n)
{
    vecd s0 = vd_zero(), s1 = vd_zero(), s2 = vd_zero(), s3 = vd_zero();
    size_t i = 0;
    for (; i + 2 * SIMD_W <= n; i += 2 * SIMD_W) {
        vec a = v_load(x + i), b = v_load(x + i + SIMD_W);
        s0 = vd_fma(vd_lo(a), vd_lo(a), s0);
        s1 = vd_fma(vd_hi(a), vd_hi(a), s1);
        s2 = vd_fma(vd_lo(b), vd_lo(b), s2);
        s3 = vd_fma(vd_hi(b), vd_hi(b), s3);
    }
    for (; i < n; i += SIMD_W) {
        vec a = n - i >= SIMD_W ? v_load(x + i) : v_load_part(x + i, (int)(n - i));
        s0 = vd_fma(vd_lo(a), vd_lo(a), s0);
        s1 = vd_fma(vd_hi(a), vd_hi(a), s1);
    }
    return vd_hsum(vd_add(vd_add(s0, s1), vd_add(s2, s3)));
}

/* The engine calls sumsq on one chunk of at most MGPT_SUMSQ_CHUNK floats and adds the
 * chunks' sums in order (MGPT_SPLIT_CHUNKS). A longer x is summed here the engine's way,
 * chunk by chunk, so its bits are those of the engine's sum on any number of threads.
 * flops 2*n, bytes 4*n */
double SIMD_FN(sumsq)(const mgpt_ctx *ctx, const float *x, size_t n)
{
    (void)ctx;
    double total = 0.0;
    for (size_t lo = 0; lo < n; lo += MGPT_SUMSQ_CHUNK)
        total += sumsq_chunk(x + lo, n - lo < MGPT_SUMSQ_CHUNK ? n - lo : MGPT_SUMSQ_CHUNK);
    return total;
}

/* Adam with the bias corrections folded into two constants, so that each element costs
 * one division and one square root instead of three divisions and a square root (the
 * divider is the bottleneck):
 *   lr * (m/bc1) / (sqrt(v/bc2) + eps) = (lr/bc1) * m / (sqrt(v) * (1/sqrt(bc2)) + eps)
 * A few ulps from the reference's order of operations; m and v are computed exactly as it
 * does. flops 15*n, bytes 28*n */
typedef struct adam_consts {
    vec gs, b1, one_b1, b2, one_b2, lr_bc1, rsqrt_bc2, eps;
} adam_consts;

static inline void adam_vec(float *param, const float *grad, float *m, float *v, int r,
                            const adam_consts *k)
{
    vec g, mv, vv, p;
    if (r == SIMD_W) {
        g = v_load(grad); mv = v_load(m); vv = v_load(v); p = v_load(param);
    } else {
        g = v_load_part(grad, r); mv = v_load_part(m, r);
        vv = v_load_part(v, r); p = v_load_part(param, r);
    }
    g = v_mul(g, k->gs);
    mv = v_add(v_mul(k->b1, mv), v_mul(k->one_b1, g));
    vv = v_add(v_mul(k->b2, vv), v_mul(v_mul(k->one_b2, g), g));
    vec den = v_add(v_mul(v_sqrt(vv), k->rsqrt_bc2), k->eps);
    p = v_sub(p, v_div(v_mul(k->lr_bc1, mv), den));
    if (r == SIMD_W) {
        v_store(m, mv); v_store(v, vv); v_store(param, p);
    } else {
        v_store_part(m, mv, r); v_store_part(v, vv, r); v_store_part(param, p, r);
    }
}

void SIMD_FN(adam_update)(const mgpt_ctx *ctx, float *param, const float *grad, float *m,
                          float *v, size_t n, const mgpt_adam_args *a)
{
    (void)ctx;
    adam_consts k = {
        v_set1(a->grad_scale), v_set1(a->beta1), v_set1(1.0f - a->beta1), v_set1(a->beta2),
        v_set1(1.0f - a->beta2), v_set1(a->lr / a->bc1), v_set1(1.0f / sqrtf(a->bc2)),
        v_set1(a->eps),
    };
    size_t i = 0;
    for (; i + SIMD_W <= n; i += SIMD_W)
        adam_vec(param + i, grad + i, m + i, v + i, SIMD_W, &k);
    if (i < n)
        adam_vec(param + i, grad + i, m + i, v + i, (int)(n - i), &k);
}
