/* Causal multi-head self-attention over qkv[N, 3C] (q | k | v in each row), per document
 * and head: in registers for the shortest heads (attention_small.c), by register tiles over
 * scratch in `work` for the others (attention_tiles.c), by GEMM calls (matmul.c) for heads
 * too long for that scratch (here). All three give the same bits: each element is one FMA
 * chain, in the same order, and the softmax is simd_softmax's arithmetic. This file holds
 * the GEMM path, the choice of a path per head and the entry points. */
#include <math.h>
#include "simd/attention.h"

/* Heads too long for the tile path's scratch, as two GEMMs over the head's T x hd slices
 * of q, k, v (rows 3C apart) and a causal softmax of each row of scores in between:
 *   att = Q K^T (all T x T; the upper triangle is then overwritten with 0)
 *   att[t, 0..t] = softmax(att[t, 0..t] / sqrt(hd))
 *   out = att V (the zeros above the diagonal add exact zeros)
 * Every element is the same FMA chain, in the same order, as a loop over j <= t would give.
 * flops 4*T*T*hd + ~10*T*T/2 (the triangle costs what the square does, at GEMM speed) */
void SIMD_FN(attention_forward_gemm)(float *out, float *a, const float *q, const float *k,
                                     const float *v, ptrdiff_t C3, ptrdiff_t C, int T, int hd,
                                     float scale, simd_gemm_fn gemm, float *work)
{
    gemm(T, T, hd, q, C3, 1, k, 1, C3, a, T, 0, work);
    for (int t = 0; t < T; t++) {
        float *row = a + (size_t)t * T;
        /* rounding is monotonic, so max(s*scale) = max(s)*scale exactly */
        simd_softmax(row, row, t + 1, scale, simd_max(row, t + 1) * scale);
        for (int j = t + 1; j < T; j++)
            row[j] = 0.0f;
    }
    gemm(T, hd, T, a, T, 1, v, C3, 1, out, C, 0, work);
}

/* The backward of attention_forward_gemm, with dpre = att * (datt - rowsum(att * datt)) /
 * sqrt(hd) (the softmax's backward) built in da (the head's datt):
 *   datt = dY V^T;  dV += att^T dY;  dQ += dpre K;  dK += dpre^T Q
 * With add == 0 the three products are stored (=) instead: each is the only contribution
 * to its T x hd slice, so the GEMMs write it on their first k-block and never read it.
 * flops ~8*T*T*hd + ~6*T*T/2 */
void SIMD_FN(attention_backward_gemm)(float *dq, float *dk, float *dv, float *da,
                                      const float *q, const float *k, const float *v,
                                      const float *dy, const float *a, ptrdiff_t C3,
                                      ptrdiff_t C, int T, int hd, float scale, int add,
                                      simd_gemm_fn gemm, float *work)
{
    gemm(T, T, hd, dy, C, 1, v, 1, C3, da, T, 0, work);
    gemm(T, hd, T, a, 1, T, dy, C, 1, dv, C3, add, work);    /* A(j, t) = att[t, j] */
    vec vs = v_set1(scale);
    for (int t = 0; t < T; t++) {
        const float *ar = a + (size_t)t * T;
        float *dr = da + (size_t)t * T;
        vec dsum = v_set1(simd_dot(ar, dr, t + 1));
        int j = 0;
        for (; j + SIMD_W <= t + 1; j += SIMD_W)
            v_store(dr + j, v_mul(v_mul(v_load(ar + j), v_sub(v_load(dr + j), dsum)), vs));
        if (j < t + 1) {
            int r = t + 1 - j;
            vec g = v_mul(v_load_part(ar + j, r), v_sub(v_load_part(dr + j, r), dsum));
            v_store_part(dr + j, v_mul(g, vs), r);
        }
        for (j = t + 1; j < T; j++)
            dr[j] = 0.0f;
    }
    gemm(T, hd, T, da, T, 1, k, C3, 1, dq, C3, add, work);
    gemm(T, hd, T, da, 1, T, q, C3, 1, dk, C3, add, work);   /* A(j, t) = dpre[t, j] */
}

/* The registers' path while a head fits in a vector both ways and T*T*hd is below 16^3:
 * measured 1.2-2.7x faster than the tiles at 4..8 x 4..8 (forward and backward), about
 * even at 12..16 x 8..16, slower at 16 x 16 x 16 (AVX-512: the tiles 1.4x forward, 1.1x
 * backward), where the register path's rows are one long chain after another. */
static inline int short_head(int T, int hd)
{
    return T <= SIMD_W && hd <= SIMD_W && T * T * hd < 16 * 16 * 16;
}

/* One (document b, head h): its T x hd slices of q, k, v (rows 3C apart), of out and dout
 * (rows C apart), its T x T block of att (and datt) */
static void attention_forward_bh(float *out, float *att, const float *qkv, int b, int h,
                                 int T, int C, int H, float *work)
{
    int hd = C / H;
    ptrdiff_t C3 = 3 * (ptrdiff_t)C;
    float scale = 1.0f / sqrtf((float)hd);
    const float *q = qkv + (size_t)b * T * C3 + h * hd, *k = q + C, *v = q + 2 * C;
    float *o = out + (size_t)b * T * C + h * hd, *a = att + ((size_t)b * H + h) * T * T;
    float *scratch = tile_scratch(T, hd, T, work);
    if (short_head(T, hd))
        SIMD_FN(attention_forward_small)(o, a, q, k, v, C3, C, T, hd, scale);
    else if (scratch)
        SIMD_FN(attention_forward_tiles)(o, a, q, k, v, C3, C, T, hd, scale, scratch);
    else
        SIMD_FN(attention_forward_gemm)(o, a, q, k, v, C3, C, T, hd, scale, SIMD_FN(gemm),
                                        work);
}

static void attention_backward_bh(float *dqkv, float *datt, const float *dout, const float *qkv,
                                  const float *att, int b, int h, int T, int C, int H, int add,
                                  float *work)
{
    int hd = C / H;
    ptrdiff_t C3 = 3 * (ptrdiff_t)C;
    float scale = 1.0f / sqrtf((float)hd);
    const float *q = qkv + (size_t)b * T * C3 + h * hd, *k = q + C, *v = q + 2 * C;
    float *dq = dqkv + (size_t)b * T * C3 + h * hd, *dk = dq + C, *dv = dq + 2 * C;
    const float *dy = dout + (size_t)b * T * C + h * hd;
    const float *a = att + ((size_t)b * H + h) * T * T;
    float *scratch = tile_scratch(T, hd, 2 * T, work);
    if (short_head(T, hd))
        SIMD_FN(attention_backward_small)(dq, dk, dv, q, k, v, dy, a, C3, C, T, hd, scale, add);
    else if (scratch)
        SIMD_FN(attention_backward_tiles)(dq, dk, dv, q, k, v, dy, a, C3, C, T, hd, scale, add,
                                          scratch);
    else
        SIMD_FN(attention_backward_gemm)(dq, dk, dv, datt + ((size_t)b * H + h) * T * T, q, k,
                                         v, dy, a, C3, C, T, hd, scale, add, SIMD_FN(gemm),
                                         work);
}

/* The slots: the (document, head) pairs bh in [bh0, bh1), b = bh / H, h = bh % H, on the
 * calling thread's workspace. Pairs touch disjoint parts of out, att, datt and dqkv; with
 * MGPT_WRITE_DINP in `write`, each pair stores (=) its own slices of dqkv, which together
 * cover it (C = H * hd).
 * forward: flops pairs*(4*hd + 5), bytes 4*(3*N*C + B*H*T*T + N*C) for the whole call
 * (pairs = B*H*T*(T+1)/2 causal (query, key) pairs, hd = C/H) */
void SIMD_FN(attention_forward)(const mgpt_ctx *ctx, float *out, float *att, const float *qkv,
                                int B, int T, int C, int H, int bh0, int bh1)
{
    (void)B;
    float *work = simd_work(ctx);
    for (int bh = bh0; bh < bh1; bh++)
        attention_forward_bh(out, att, qkv, bh / H, bh % H, T, C, H, work);
}

/* flops pairs*(8*hd + 4), bytes 4*(3*3*N*C + 2*B*H*T*T + N*C), 4*3*N*C less writing dqkv */
void SIMD_FN(attention_backward)(const mgpt_ctx *ctx, float *dqkv, float *datt,
                                 const float *dout, const float *qkv, const float *att, int B,
                                 int T, int C, int H, int bh0, int bh1, unsigned write)
{
    (void)B;
    float *work = simd_work(ctx);
    int add = !(write & MGPT_WRITE_DINP);
    for (int bh = bh0; bh < bh1; bh++)
        attention_backward_bh(dqkv, datt, dout, qkv, att, bh / H, bh % H, T, C, H, add, work);
}
