/* Causal multi-head self-attention over qkv[N, 3C] (q | k | v in each row): per document
 * and head, GEMMs (matmul.c) for the products and a vectorized softmax over positions. */
#include <math.h>
#include "simd/simd.h"

/* Short heads (T <= SIMD_W and hd <= SIMD_W: the small configs) stay in registers: one
 * transpose gives kt[i] = (k_0[i], ..., k_{T-1}[i]), so a row of scores is one vector,
 * sum_i q_t[i] kt[i], softmaxed in place and stored once; no masked store is reloaded
 * (see simd_softmax). The FMA chains and their order are those of the GEMM path. */

/* r[i] = column i of the T x hd block with rows p, p + ld, ...; zero past T and hd */
static inline void load_transposed(vec r[SIMD_W], const float *p, ptrdiff_t ld, int T, int hd)
{
#pragma GCC unroll 16
    for (int j = 0; j < SIMD_W; j++)
        r[j] = j >= T ? v_zero() : hd == SIMD_W ? v_load(p + j * ld) : v_load_part(p + j * ld, hd);
    v_transpose(r);
}

static inline vec load_row(const float *p, int n)   /* 0 < n <= SIMD_W */
{
    return n == SIMD_W ? v_load(p) : v_load_part(p, n);
}

static inline void store_row(float *p, vec v, int n)
{
    if (n == SIMD_W)
        v_store(p, v);
    else
        v_store_part(p, v, n);
}

/* sum_i x[i] cols[i], i < hd, as one FMA chain in order */
static inline vec combine(const float *x, const vec cols[SIMD_W], int hd)
{
    vec s = v_zero();
#pragma GCC unroll 16
    for (int i = 0; i < SIMD_W; i++)
        if (i < hd)
            s = v_fma(v_set1(x[i]), cols[i], s);
    return s;
}

static void attention_forward_small(float *out, float *a, const float *q, const float *k,
                                    const float *v, ptrdiff_t C3, ptrdiff_t C, int T, int hd,
                                    float scale)
{
    vec kt[SIMD_W];
    _Alignas(64) float arow[SIMD_W];
    load_transposed(kt, k, C3, T, hd);
    for (int t = 0; t < T; t++) {
        vec s = v_mul(combine(q + t * C3, kt, hd), v_set1(scale));
        vec e = v_keep_first(v_exp(v_sub(s, v_set1(v_hmax_first(s, t + 1)))), t + 1);
        e = v_mul(e, v_set1(1.0f / v_hsum(e)));     /* zero above the diagonal */
        store_row(a + t * T, e, T);
        v_store(arow, e);
        vec o = v_zero();
        for (int j = 0; j <= t; j++)
            o = v_fma(v_set1(arow[j]), load_row(v + j * C3, hd), o);
        store_row(out + t * C, o, hd);
    }
}

/* add: dq, dk, dv += (1) or = (0) their gradients; a written slice is never loaded */
static void attention_backward_small(float *dq, float *dk, float *dv, const float *q,
                                     const float *k, const float *v, const float *dy,
                                     const float *a, ptrdiff_t C3, ptrdiff_t C, int T, int hd,
                                     float scale, int add)
{
    vec vt[SIMD_W];
    _Alignas(64) float dpre[SIMD_W][SIMD_W];
    load_transposed(vt, v, C3, T, hd);
    for (int t = 0; t < T; t++) {
        vec da = combine(dy + t * C, vt, hd);      /* datt row t */
        vec at = load_row(a + t * T, T);
        float dsum = v_hsum(v_keep_first(v_mul(at, da), t + 1));
        v_store(dpre[t], v_keep_first(v_mul(v_mul(at, v_sub(da, v_set1(dsum))), v_set1(scale)),
                                      t + 1));
    }
    for (int t = 0; t < T; t++) {                   /* dq_t += sum_j dpre[t,j] k_j */
        vec acc = add ? load_row(dq + t * C3, hd) : v_zero();
        for (int j = 0; j <= t; j++)
            acc = v_fma(v_set1(dpre[t][j]), load_row(k + j * C3, hd), acc);
        store_row(dq + t * C3, acc, hd);
    }
    for (int j = 0; j < T; j++) {   /* dk_j += sum_t dpre[t,j] q_t; dv_j += sum_t att[t,j] dy_t */
        vec acck = add ? load_row(dk + j * C3, hd) : v_zero();
        vec accv = add ? load_row(dv + j * C3, hd) : v_zero();
        for (int t = j; t < T; t++) {
            acck = v_fma(v_set1(dpre[t][j]), load_row(q + t * C3, hd), acck);
            accv = v_fma(v_set1(a[t * T + j]), load_row(dy + t * C, hd), accv);
        }
        store_row(dk + j * C3, acck, hd);
        store_row(dv + j * C3, accv, hd);
    }
}

/* One (document b, head h), as two GEMMs over the head's T x hd slices of q, k, v (rows
 * 3C apart) and a causal softmax of each row of scores in between:
 *   att = Q K^T (all T x T; the upper triangle is then overwritten with 0)
 *   att[t, 0..t] = softmax(att[t, 0..t] / sqrt(hd))
 *   out = att V (the zeros above the diagonal add exact zeros)
 * Every element is the same FMA chain, in the same order, as a loop over j <= t would give.
 * flops 4*T*T*hd + ~10*T*T/2 (the triangle costs what the square does, at GEMM speed) */
static void attention_forward_bh(float *out, float *att, const float *qkv, int b, int h,
                                 int T, int C, int H, float *work)
{
    int hd = C / H;
    ptrdiff_t C3 = 3 * (ptrdiff_t)C;
    float scale = 1.0f / sqrtf((float)hd);
    const float *q = qkv + (size_t)b * T * C3 + h * hd, *k = q + C, *v = q + 2 * C;
    float *a = att + ((size_t)b * H + h) * T * T;
    if (T <= SIMD_W && hd <= SIMD_W) {
        attention_forward_small(out + (size_t)b * T * C + h * hd, a, q, k, v, C3, C, T, hd, scale);
        return;
    }
    SIMD_FN(gemm)(T, T, hd, q, C3, 1, k, 1, C3, a, T, 0, work);
    for (int t = 0; t < T; t++) {
        float *row = a + (size_t)t * T;
        /* rounding is monotonic, so max(s*scale) = max(s)*scale exactly */
        simd_softmax(row, row, t + 1, scale, simd_max(row, t + 1) * scale);
        for (int j = t + 1; j < T; j++)
            row[j] = 0.0f;
    }
    SIMD_FN(gemm)(T, hd, T, a, T, 1, v, C3, 1, out + (size_t)b * T * C + h * hd, C, 0, work);
}

/* One (b, h), with dpre = att * (datt - rowsum(att * datt)) / sqrt(hd) (the softmax's
 * backward), built in datt:
 *   datt = dY V^T;  dV += att^T dY;  dQ += dpre K;  dK += dpre^T Q
 * With add == 0 the three products are stored (=) instead: each is the only contribution
 * to its T x hd slice, so the GEMMs write it on their first k-block and never read it.
 * flops ~8*T*T*hd + ~6*T*T/2 */
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
    float *da = datt + ((size_t)b * H + h) * T * T;
    if (T <= SIMD_W && hd <= SIMD_W) {
        attention_backward_small(dq, dk, dv, q, k, v, dy, a, C3, C, T, hd, scale, add);
        return;
    }
    SIMD_FN(gemm)(T, T, hd, dy, C, 1, v, 1, C3, da, T, 0, work);
    SIMD_FN(gemm)(T, hd, T, a, 1, T, dy, C, 1, dv, C3, add, work);    /* A(j, t) = att[t, j] */
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
    SIMD_FN(gemm)(T, hd, T, da, T, 1, k, C3, 1, dq, C3, add, work);
    SIMD_FN(gemm)(T, hd, T, da, 1, T, q, C3, 1, dk, C3, add, work);   /* A(j, t) = dpre[t, j] */
}

void SIMD_FN(attention_forward_range)(float *out, float *att, const float *qkv,
                                      int T, int C, int H, int bh0, int bh1, float *work)
{
    for (int bh = bh0; bh < bh1; bh++)
        attention_forward_bh(out, att, qkv, bh / H, bh % H, T, C, H, work);
}

void SIMD_FN(attention_backward_range)(float *dqkv, float *datt, const float *dout,
                                       const float *qkv, const float *att, int T, int C, int H,
                                       int bh0, int bh1, unsigned write, float *work)
{
    int add = !(write & MGPT_WRITE_DINP);
    for (int bh = bh0; bh < bh1; bh++)
        attention_backward_bh(dqkv, datt, dout, qkv, att, bh / H, bh % H, T, C, H, add, work);
}

void SIMD_FN(attention_forward)(float *out, float *att, const float *qkv,
                                int B, int T, int C, int H)
{
    SIMD_FN(attention_forward_range)(out, att, qkv, T, C, H, 0, B * H, NULL);
}

void SIMD_FN(attention_backward)(float *dqkv, float *datt, const float *dout,
                                 const float *qkv, const float *att, int B, int T, int C, int H,
                                 unsigned write)
{
    SIMD_FN(attention_backward_range)(dqkv, datt, dout, qkv, att, T, C, H, 0, B * H, write,
                                      NULL);
}
