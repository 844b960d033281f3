/* RMSNorm without a learned weight: y = x / sqrt(mean(x^2) + eps). */
#include <math.h>
#include "scalar.h"

#define RMSNORM_EPS 1e-5f

/* flops 3*N*C (square+add, scale), bytes 8*N*C */
void scalar_rmsnorm_forward(const mgpt_ctx *ctx, float *out, float *rstd, const float *inp,
                            int N, int C)
{
    (void)ctx;
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *y = out + (size_t)n * C;
        float ss = 0.0f;
        for (int c = 0; c < C; c++)
            ss += x[c] * x[c];
        float r = 1.0f / sqrtf(ss / C + RMSNORM_EPS);
        for (int c = 0; c < C; c++)
            y[c] = x[c] * r;
        rstd[n] = r;
    }
}

/* With y = x*r and r = (mean(x^2)+eps)^-1/2:
 *   dx = r*dy - x * r^3 * mean(dy*x)
 * flops 6*N*C, bytes 16*N*C (writing: flops 5*N*C, bytes 12*N*C) */
void scalar_rmsnorm_backward(const mgpt_ctx *ctx, float *dinp, const float *dout,
                             const float *inp, const float *rstd, int N, int C, unsigned write)
{
    (void)ctx;
    int add = !(write & MGPT_WRITE_DINP);
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        const float *dy = dout + (size_t)n * C;
        float *dx = dinp + (size_t)n * C;
        float r = rstd[n];
        float dot = 0.0f;
        for (int c = 0; c < C; c++)
            dot += dy[c] * x[c];
        float k = r * r * r * dot / C;
        for (int c = 0; c < C; c++)
            dx[c] = add ? dx[c] + (r * dy[c] - k * x[c]) : r * dy[c] - k * x[c];
    }
}
