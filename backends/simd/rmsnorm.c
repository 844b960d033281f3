/* RMSNorm without a learned weight, vectorized over the channels. */
#include <math.h>
#include "simd/simd.h"

#define RMSNORM_EPS 1e-5f

/* flops 3*N*C, bytes 8*N*C */
void SIMD_FN(rmsnorm_forward)(const mgpt_ctx *ctx, float *out, float *rstd, const float *inp,
                              int N, int C)
{
    (void)ctx;
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *y = out + (size_t)n * C;
        float r = 1.0f / sqrtf(simd_dot(x, x, C) / C + RMSNORM_EPS);
        vec vr = v_set1(r);
        int c = 0;
        for (; c + SIMD_W <= C; c += SIMD_W)
            v_store(y + c, v_mul(v_load(x + c), vr));
        if (c < C)
            v_store_part(y + c, v_mul(v_load_part(x + c, C - c), vr), C - c);
        rstd[n] = r;
    }
}

/* dx += (add) or = r*dy - x * r^3 * mean(dy*x) for rows [0, N); add is a constant in each
 * call below, so the store loop never loads dx */
SIMD_ALWAYS_INLINE void rmsnorm_backward_body(float *dinp, const float *dout, const float *inp,
                                              const float *rstd, int N, int C, const int add)
{
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        const float *dy = dout + (size_t)n * C;
        float *dx = dinp + (size_t)n * C;
        float r = rstd[n];
        float k = r * r * r * simd_dot(dy, x, C) / C;
        vec vr = v_set1(r), vk = v_set1(k);
        int c = 0;
        for (; c + SIMD_W <= C; c += SIMD_W) {
            vec g = v_sub(v_mul(vr, v_load(dy + c)), v_mul(vk, v_load(x + c)));
            v_store(dx + c, add ? v_add(v_load(dx + c), g) : g);
        }
        if (c < C) {
            int t = C - c;
            vec g = v_sub(v_mul(vr, v_load_part(dy + c, t)), v_mul(vk, v_load_part(x + c, t)));
            v_store_part(dx + c, add ? v_add(v_load_part(dx + c, t), g) : g, t);
        }
    }
}

/* flops 6*N*C, bytes 16*N*C (writing dinp: flops 5*N*C, bytes 12*N*C) */
void SIMD_FN(rmsnorm_backward)(const mgpt_ctx *ctx, float *dinp, const float *dout,
                               const float *inp, const float *rstd, int N, int C,
                               unsigned write)
{
    (void)ctx;
    if (write & MGPT_WRITE_DINP)
        rmsnorm_backward_body(dinp, dout, inp, rstd, N, C, 0);
    else
        rmsnorm_backward_body(dinp, dout, inp, rstd, N, C, 1);
}
