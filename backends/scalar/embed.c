/* Token + position embedding, the first op of the model. */
#include "scalar.h"

/* flops N*C (one add per element), bytes 12*N*C (two reads, one write) */
void scalar_embed_forward(const mgpt_ctx *ctx, float *out, const int *tok, const float *wte,
                          const float *wpe, int N, int T, int C)
{
    (void)ctx;
    for (int n = 0; n < N; n++) {
        const float *te = wte + (size_t)tok[n] * C;
        const float *pe = wpe + (size_t)(n % T) * C;
        float *o = out + (size_t)n * C;
        for (int c = 0; c < C; c++)
            o[c] = te[c] + pe[c];
    }
}

/* flops 2*N*C, bytes 20*N*C (read dout, read+write both gradient rows) */
void scalar_embed_backward(const mgpt_ctx *ctx, float *dwte, float *dwpe, const float *dout,
                           const int *tok, int N, int T, int C)
{
    (void)ctx;
    for (int n = 0; n < N; n++) {
        float *dte = dwte + (size_t)tok[n] * C;
        float *dpe = dwpe + (size_t)(n % T) * C;
        const float *d = dout + (size_t)n * C;
        for (int c = 0; c < C; c++) {
            dte[c] += d[c];
            dpe[c] += d[c];
        }
    }
}
