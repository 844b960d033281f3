/* The internal interface of the attention sources of this folder, which split causal
 * attention per (document, head) between three paths (the same bits on each; see
 * attention.c): attention_small.c, in registers for the shortest heads; attention_tiles.c,
 * by register tiles over scratch; attention.c, the GEMM fallback, the choice of a path per
 * head and the entry points. The paths' functions are called once per head: each path keeps
 * its hot loops in its own file, where they are inlined and specialised. Like every name of
 * these libraries, theirs carry the ISA prefix (SIMD_FN, kernels.h). */
#ifndef MGPT_SIMD_ATTENTION_H
#define MGPT_SIMD_ATTENTION_H
#include "simd/simd.h"

/* A row of at most one vector, whole or partial (no masked access when it is whole) */
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

/* Row t of a causal T x T block of scores (its first t+1 written): att row t =
 * softmax(row[0..t] * scale) in place, zeros up to T. The GEMM paths' softmax (attention.c,
 * ../avx512bf16/attention_bf16.c). */
static inline void causal_softmax_row(float *row, int t, int T, float scale)
{
    /* rounding is monotonic, so max(s*scale) = max(s)*scale exactly */
    simd_softmax(row, row, t + 1, scale, simd_max(row, t + 1) * scale);
    for (int j = t + 1; j < T; j++)
        row[j] = 0.0f;
}

/* Row t of the softmax's backward, in place over datt's row dr (its first t+1 written):
 * dpre = att * (datt - dot(att, datt)) * scale up to t (ar: att's row t), zeros up to T.
 * The GEMM paths' (the tile path pads its rows to whole vectors instead). */
static inline void causal_dpre_row(float *dr, const float *ar, int t, int T, float scale)
{
    vec vs = v_set1(scale), dsum = v_set1(simd_dot(ar, dr, t + 1));
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

/* One head: its T x hd slices of q, k, v (rows C3 = 3C apart), of out and dy (rows C apart),
 * its T x T block of att (a); scale = 1/sqrt(hd). The backward adds to dq, dk, dv (add 1) or
 * stores them (add 0: a written slice is never loaded). */

/* attention_small.c: T <= SIMD_W and hd <= SIMD_W */
void SIMD_FN(attention_forward_small)(float *out, float *a, const float *q, const float *k,
                                      const float *v, ptrdiff_t C3, ptrdiff_t C, int T, int hd,
                                      float scale);
void SIMD_FN(attention_backward_small)(float *dq, float *dk, float *dv, const float *q,
                                       const float *k, const float *v, const float *dy,
                                       const float *a, ptrdiff_t C3, ptrdiff_t C, int T,
                                       int hd, float scale, int add);

/* The scratch of the tile path, (hd + rows) * Tp floats: `work` (the calling thread's GEMM
 * workspace), or NULL if it does not fit (then the head takes the GEMM path: T of about
 * 1000 and more). */
static inline float *tile_scratch(int T, int hd, int rows, float *work)
{
    size_t Tp = (size_t)(T + SIMD_W - 1) / SIMD_W * SIMD_W;
    if (((size_t)hd + rows) * Tp > SIMD_FN(gemm_work_floats)())
        return NULL;
    return work;
}

/* attention_tiles.c: kt (vt) is tile_scratch(T, hd, T) (backward: rows 2T) */
void SIMD_FN(attention_forward_tiles)(float *out, float *a, const float *q, const float *k,
                                      const float *v, ptrdiff_t C3, ptrdiff_t C, int T, int hd,
                                      float scale, float *kt);
void SIMD_FN(attention_backward_tiles)(float *dq, float *dk, float *dv, const float *q,
                                       const float *k, const float *v, const float *dy,
                                       const float *a, ptrdiff_t C3, ptrdiff_t C, int T,
                                       int hd, float scale, int add, float *vt);
/* attention_tiles.c's softmax and its backward over scores in rows of Tp = T rounded up to
 * whole vectors (s, d: T x Tp, written up to each row's diagonal vector), several rows side
 * by side; also the bf16 modules' tile path (../avx512bf16/attention_bf16.c):
 * causal_softmax: att row t (T wide) = softmax(s[t][0..t] * scale), zeros past t; s is
 * overwritten. causal_dpre: d[t] = dpre row t = att_t * (d_t - dot(att_t, d_t)) * scale up
 * to t, zeros up to Tp, and ap = att with rows padded to Tp. */
void SIMD_FN(causal_softmax)(float *att, float *s, int T, int Tp, float scale);
void SIMD_FN(causal_dpre)(float *d, float *ap, const float *att, int T, int Tp, float scale);
#endif
