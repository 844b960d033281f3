/* Token + position embedding, vectorized over the channels. */
#include "simd/simd.h"

/* flops N*C, bytes 12*N*C */
void SIMD_FN(embed_forward)(const mgpt_ctx *ctx, float *out, const int *tok, const float *wte,
                            const float *wpe, int N, int T, int C)
{
    (void)ctx;
    for (int n = 0; n < N; n++) {
        const float *te = wte + (size_t)tok[n] * C;
        const float *pe = wpe + (size_t)(n % T) * C;
        float *o = out + (size_t)n * C;
        int c = 0;
        for (; c + SIMD_W <= C; c += SIMD_W)
            v_store(o + c, v_add(v_load(te + c), v_load(pe + c)));
        if (c < C)
            v_store_part(o + c, v_add(v_load_part(te + c, C - c), v_load_part(pe + c, C - c)),
                         C - c);
    }
}

/* embed_backward on channels [c0, c1) (rows of dwte repeat with the tokens, so a split
 * would be over channels, not positions; the slot is not split: MGPT_SPLIT_NONE) */
static void embed_backward_range(float *dwte, float *dwpe, const float *dout, const int *tok,
                                 int N, int T, int C, int c0, int c1)
{
    for (int n = 0; n < N; n++) {
        float *dte = dwte + (size_t)tok[n] * C;
        float *dpe = dwpe + (size_t)(n % T) * C;
        const float *d = dout + (size_t)n * C;
        int c = c0;
        for (; c + SIMD_W <= c1; c += SIMD_W) {
            vec dv = v_load(d + c);
            v_store(dte + c, v_add(v_load(dte + c), dv));
            v_store(dpe + c, v_add(v_load(dpe + c), dv));
        }
        if (c < c1) {
            int r = c1 - c;
            vec dv = v_load_part(d + c, r);
            v_store_part(dte + c, v_add(v_load_part(dte + c, r), dv), r);
            v_store_part(dpe + c, v_add(v_load_part(dpe + c, r), dv), r);
        }
    }
}

/* flops 2*N*C, bytes 20*N*C */
void SIMD_FN(embed_backward)(const mgpt_ctx *ctx, float *dwte, float *dwpe, const float *dout,
                             const int *tok, int N, int T, int C)
{
    (void)ctx;
    embed_backward_range(dwte, dwpe, dout, tok, N, T, C, 0, C);
}
