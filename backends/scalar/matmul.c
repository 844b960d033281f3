/* The projections: out = inp @ w^T with w stored [OC, C] (row = output channel). */
#include <string.h>
#include "scalar.h"

/* flops 2*N*C*OC, bytes 4*(N*C + OC*C + N*OC) at best (perfect reuse).
 * Four output channels at a time: four independent sums hide the add latency that a
 * single running sum would wait on, with no change to any sum's order. */
void scalar_matmul_forward(float *out, const float *inp, const float *w, int N, int C, int OC)
{
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *y = out + (size_t)n * OC;
        int o = 0;
        for (; o + 4 <= OC; o += 4) {
            const float *w0 = w + (size_t)o * C, *w1 = w0 + C, *w2 = w1 + C, *w3 = w2 + C;
            float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
            for (int c = 0; c < C; c++) {
                s0 += x[c] * w0[c];
                s1 += x[c] * w1[c];
                s2 += x[c] * w2[c];
                s3 += x[c] * w3[c];
            }
            y[o] = s0;
            y[o + 1] = s1;
            y[o + 2] = s2;
            y[o + 3] = s3;
        }
        for (; o < OC; o++) {
            const float *wr = w + (size_t)o * C;
            float s = 0.0f;
            for (int c = 0; c < C; c++)
                s += x[c] * wr[c];
            y[o] = s;
        }
    }
}

/* dinp += dout @ w; dw += dout^T @ inp (or = for those in `write`: the reference just
 * zeroes them first, which gives the same sums).
 * flops 4*N*C*OC, bytes 4*(3*N*C + 3*OC*C + N*OC) at best (dinp, dw read and written) */
void scalar_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp,
                            const float *w, int N, int C, int OC, unsigned write)
{
    if (write & MGPT_WRITE_DINP)
        memset(dinp, 0, (size_t)N * C * sizeof *dinp);
    if (write & MGPT_WRITE_DW)
        memset(dw, 0, (size_t)OC * C * sizeof *dw);
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
