/* The projections: out = inp @ w^T with w stored [OC, C] (row = output channel), and its
 * two gradients. All three are range kernels: each call computes one block of its output
 * (the threading layer splits the output into blocks, MGPT_SPLIT_TILES); every element is
 * the same sum, in the same order, whatever block it falls in. */
#include <string.h>
#include "scalar.h"

/* out[n0:n1, o0:o1] = inp[n0:n1, :] @ w[o0:o1, :]^T.
 * flops 2*N*C*OC, bytes 4*(N*C + OC*C + N*OC) at best (perfect reuse) for the whole call.
 * Four output channels at a time: four independent sums hide the add latency that a
 * single running sum would wait on, with no change to any sum's order (c = 0, 1, ...). */
void scalar_matmul_forward(const mgpt_ctx *ctx, float *out, const float *inp, const float *w,
                           int N, int C, int OC, int n0, int n1, int o0, int o1)
{
    (void)ctx;
    (void)N;
    for (int n = n0; n < n1; n++) {
        const float *x = inp + (size_t)n * C;
        float *y = out + (size_t)n * OC;
        int o = o0;
        for (; o + 4 <= o1; o += 4) {
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
        for (; o < o1; o++) {
            const float *wr = w + (size_t)o * C;
            float s = 0.0f;
            for (int c = 0; c < C; c++)
                s += x[c] * wr[c];
            y[o] = s;
        }
    }
}

/* dinp[n0:n1, c0:c1] += dout[n0:n1, :] @ w[:, c0:c1], each element summed over o = 0, 1,
 * ... onto its old value; with MGPT_WRITE_DINP the block is stored instead: the reference
 * zeroes it first (its old contents are never read), which gives the same sums.
 * flops 2*N*C*OC, bytes 4*(2*N*C + OC*C + N*OC) at best (dinp read and written; 4*N*C
 * less when writing) for the whole call. */
void scalar_matmul_backward_dinp(const mgpt_ctx *ctx, float *dinp, const float *dout,
                                 const float *w, int N, int C, int OC, int n0, int n1,
                                 int c0, int c1, unsigned write)
{
    (void)ctx;
    (void)N;
    if (c1 <= c0)
        return;
    for (int n = n0; n < n1; n++) {
        float *dx = dinp + (size_t)n * C;
        const float *dy = dout + (size_t)n * OC;
        if (write & MGPT_WRITE_DINP)
            memset(dx + c0, 0, (size_t)(c1 - c0) * sizeof *dx);
        for (int o = 0; o < OC; o++) {
            const float *wr = w + (size_t)o * C;
            float d = dy[o];
            for (int c = c0; c < c1; c++)
                dx[c] += d * wr[c];
        }
    }
}

/* dw[o0:o1, c0:c1] += dout[:, o0:o1]^T @ inp[:, c0:c1], each element summed over n = 0, 1,
 * ... onto its old value; with MGPT_WRITE_DW the block is stored instead (zeroed first,
 * never read before).
 * flops 2*N*C*OC, bytes 4*(2*OC*C + N*C + N*OC) at best (dw read and written; 4*OC*C
 * less when writing) for the whole call. */
void scalar_matmul_backward_dw(const mgpt_ctx *ctx, float *dw, const float *dout,
                               const float *inp, int N, int C, int OC, int o0, int o1,
                               int c0, int c1, unsigned write)
{
    (void)ctx;
    if (c1 <= c0)
        return;
    for (int o = o0; o < o1; o++) {
        float *dwr = dw + (size_t)o * C;
        if (write & MGPT_WRITE_DW)
            memset(dwr + c0, 0, (size_t)(c1 - c0) * sizeof *dwr);
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C;
            float d = dout[(size_t)n * OC + o];
            for (int c = c0; c < c1; c++)
                dwr[c] += d * x[c];
        }
    }
}
