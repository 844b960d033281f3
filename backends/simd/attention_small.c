/* Causal attention of the shortest heads (T <= SIMD_W and hd <= SIMD_W: the small configs;
 * see short_head in attention.c) in registers: one transpose gives kt[i] = (k_0[i], ...,
 * k_{T-1}[i]), so a row of scores is one vector, sum_i q_t[i] kt[i], softmaxed in place and
 * stored once; no masked store is reloaded (see simd_softmax). The FMA chains and their
 * order are those of the GEMM path. */
#include "simd/attention.h"

/* r[i] = column i of the T x hd block with rows p, p + ld, ...; zero past T and hd */
static inline void load_transposed(vec r[SIMD_W], const float *p, ptrdiff_t ld, int T, int hd)
{
#pragma GCC unroll 16
    for (int j = 0; j < SIMD_W; j++)
        r[j] = j >= T ? v_zero() : hd == SIMD_W ? v_load(p + j * ld) : v_load_part(p + j * ld, hd);
    v_transpose(r);
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

void SIMD_FN(attention_forward_small)(float *out, float *a, const float *q, const float *k,
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
void SIMD_FN(attention_backward_small)(float *dq, float *dk, float *dv, const float *q,
                                       const float *k, const float *v, const float *dy,
                                       const float *a, ptrdiff_t C3, ptrdiff_t C, int T,
                                       int hd, float scale, int add)
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
