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
#endif
