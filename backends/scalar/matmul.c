/* The projections: out = inp @ w^T with w stored [OC, C] (row = output channel). */
#include "scalar.h"

/* flops 2*N*C*OC, bytes 4*(N*C + OC*C + N*OC) at best (perfect reuse) */
void scalar_matmul_forward(float *out, const float *inp, const float *w, int N, int C, int OC)
{
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        for (int o = 0; o < OC; o++) {
            const float *wr = w + (size_t)o * C;
            float s = 0.0f;
            for (int c = 0; c < C; c++)
                s += x[c] * wr[c];
            out[(size_t)n * OC + o] = s;
        }
    }
}

/* dinp += dout @ w; dw += dout^T @ inp.
 * flops 4*N*C*OC, bytes 4*(2*N*C + 2*OC*C + N*OC) at best */
void scalar_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp,
                            const float *w, int N, int C, int OC)
{
    for (int n = 0; n < N; n++) {
        float *dx = dinp + (size_t)n * C;
        const float *dy = dout + (size_t)n * OC;
        for (int o = 0; o < OC; o++) {
            const float *wr = w + (size_t)o * C;
            float d = dy[o];
            for (int c = 0; c < C; c++)
                dx[c] += d * wr[c];
        }
    }
    for (int o = 0; o < OC; o++) {
        float *dwr = dw + (size_t)o * C;
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C;
            float d = dout[(size_t)n * OC + o];
            for (int c = 0; c < C; c++)
                dwr[c] += d * x[c];
        }
    }
}
