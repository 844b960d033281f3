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

/* n vectors in nch = ceil(n / max) near-equal chunks: the first `extra` have base + 1, the
 * others base (a 4-vector row as 2 + 2, not 3 + 1, whose 1-vector tile has too few
 * chains and a load per FMA) */
struct chunks {
    int nch, base, extra;
};
static inline struct chunks chunk_vectors(int n, int max)
{
    int nch = (n + max - 1) / max;
    return (struct chunks){ nch, n / nch, n % nch };
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
/* attention.c: heads too long for the tile path's scratch, by GEMM calls (gemm: the
 * module's SIMD_FN(gemm), or the bf16 modules' gemm_bf16; work: its workspace); the
 * scores are built in a (forward) and da (backward: the head's datt). */
typedef void (*simd_gemm_fn)(int M, int N, int K, const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                             const float *b, ptrdiff_t rsb, ptrdiff_t csb, float *c,
                             ptrdiff_t ldc, int accumulate, float *work);
void SIMD_FN(attention_forward_gemm)(float *out, float *a, const float *q, const float *k,
                                     const float *v, ptrdiff_t C3, ptrdiff_t C, int T, int hd,
                                     float scale, simd_gemm_fn gemm, float *work);
void SIMD_FN(attention_backward_gemm)(float *dq, float *dk, float *dv, float *da,
                                      const float *q, const float *k, const float *v,
                                      const float *dy, const float *a, ptrdiff_t C3,
                                      ptrdiff_t C, int T, int hd, float scale, int add,
                                      simd_gemm_fn gemm, float *work);

/* attention_tiles.c's softmax and its backward over scores in rows of Tp = T rounded up to
 * whole vectors (s, d: T x Tp, written up to each row's diagonal vector), several rows side
 * by side; also the bf16 modules' tile path (../avx512bf16/attention_bf16.c):
 * causal_softmax: att row t (T wide) = softmax(s[t][0..t] * scale), zeros past t; s is
 * overwritten. causal_dpre: d[t] = dpre row t = att_t * (d_t - dot(att_t, d_t)) * scale up
 * to t, zeros up to Tp, and ap = att with rows padded to Tp. */
void SIMD_FN(causal_softmax)(float *att, float *s, int T, int Tp, float scale);
void SIMD_FN(causal_dpre)(float *d, float *ap, const float *att, int T, int Tp, float scale);
#endif
