/* The internal interface of the SIMD kernel libraries libsse_kernels.la,
 * libavx2_kernels.la and libavx512_kernels.la: the same shared sources of this folder,
 * compiled once per ISA. Every name carries its ISA prefix (sse_, avx2_, avx512_) chosen by
 * which of MGPT_SIMD_SSE, MGPT_SIMD_AVX2, MGPT_SIMD_AVX512 is defined, so SIMD_FN(gemm) is
 * avx2_gemm in the AVX2 library. Included with none of them defined (the OpenMP backend's
 * split kernels), it gives only the constants a threaded backend shares with the kernels.
 *
 * Plain C with no intrinsics: the descriptors include it while compiled WITHOUT ISA flags.
 *
 * Besides the mgpt_kernels entry points it declares the range-level building blocks that a
 * threaded backend calls from its parallel regions, one disjoint range per thread. They
 * compute exactly what the whole-op kernels compute on that range (the whole-op kernels are
 * these ranges over everything), so a split never changes a result: no reduction is ever
 * split across calls.
 */
#ifndef MGPT_SIMD_KERNELS_H
#define MGPT_SIMD_KERNELS_H
#include <stddef.h>
#include <stdint.h>
#include <mgpt/backend.h>

/* sumsq sums x in chunks of SIMD_SUMSQ_CHUNK floats (the last one shorter), then adds the
 * chunks' sums in chunk order, in double. The chunks depend on n alone, so a threaded
 * backend that sums chunks on several threads (each chunk with this sumsq) and adds them
 * in the same order gets the same bits as the single-threaded module. */
#define SIMD_SUMSQ_CHUNK ((size_t)1 << 16)

#if defined(MGPT_SIMD_AVX512)
#define SIMD_FN(name) avx512_##name
#elif defined(MGPT_SIMD_AVX2)
#define SIMD_FN(name) avx2_##name
#elif defined(MGPT_SIMD_SSE)
#define SIMD_FN(name) sse_##name
#endif

#ifdef SIMD_FN
/* ---- the mgpt_kernels entry points (semantics, FLOP and byte counts: mgpt/backend.h) */
void SIMD_FN(embed_forward)(float *out, const int *tok, const float *wte, const float *wpe,
                            int N, int T, int C);
void SIMD_FN(embed_backward)(float *dwte, float *dwpe, const float *dout, const int *tok,
                             int N, int T, int C);
void SIMD_FN(rmsnorm_forward)(float *out, float *rstd, const float *inp, int N, int C);
void SIMD_FN(rmsnorm_backward)(float *dinp, const float *dout, const float *inp,
                               const float *rstd, int N, int C, unsigned write);
void SIMD_FN(matmul_forward)(float *out, const float *inp, const float *w, int N, int C, int OC);
void SIMD_FN(matmul_backward)(float *dinp, float *dw, const float *dout, const float *inp,
                              const float *w, int N, int C, int OC, unsigned write);
void SIMD_FN(attention_forward)(float *out, float *att, const float *qkv,
                                int B, int T, int C, int H);
void SIMD_FN(attention_backward)(float *dqkv, float *datt, const float *dout,
                                 const float *qkv, const float *att, int B, int T, int C, int H,
                                 unsigned write);
void SIMD_FN(sqrelu_forward)(float *out, const float *inp, size_t n);
void SIMD_FN(sqrelu_backward)(float *dinp, const float *dout, const float *inp, size_t n,
                              unsigned write);
void SIMD_FN(add_forward)(float *out, const float *a, const float *b, size_t n);
void SIMD_FN(accumulate)(float *dst, const float *src, size_t n, unsigned write);
void SIMD_FN(zero)(float *x, size_t n);
void SIMD_FN(crossentropy_forward)(float *loss, float *probs, const float *logits,
                                   const int *targets, int N, int V);
void SIMD_FN(crossentropy_backward)(float *dlogits, const float *probs, const int *targets,
                                    float dloss, int N, int V, unsigned write);
double SIMD_FN(sumsq)(const float *x, size_t n);
void SIMD_FN(adam_update)(float *param, const float *grad, float *m, float *v, size_t n,
                          const mgpt_adam_args *args);

/* ---- the roofline probes (mgpt_probes) */
double SIMD_FN(peak_flops)(uint64_t iterations, float *sink);
float SIMD_FN(stream_read)(const float *buf, size_t n, int passes);

/* ---- range-level building blocks
 *
 * The GEMM every projection is made of: C[M,N] = A[M,K] B[K,N] (accumulate = 0: C is
 * stored, never loaded, so it may hold anything) or C += A B (accumulate = 1), with
 * A(i,k) = a[i*rsa + k*csa], B(k,j) = b[k*rsb + j*csb] and C(i,j) = c[i*ldc + j]. Fast
 * layouts: A with csa == 1 or rsa == 1, B with csb == 1 or rsb == 1; any other stride
 * works, more slowly. Each C(i,j) is one FMA chain over k in order 0..K-1, whatever M, N
 * and the blocking: results do not depend on how a caller splits the rows or columns of
 * C, nor on accumulate when C holds zeros (the chain then starts from +0 either way).
 *
 * work: the packing buffers, gemm_work_floats() floats, 64-byte aligned, one per thread
 * that runs a GEMM at the same time (a threaded backend allocates them at init); NULL
 * means the library's own static one, for single-threaded callers. Every range function
 * below that multiplies matrices takes one. */
size_t SIMD_FN(gemm_work_floats)(void);
/* The library's own workspace (what work == NULL stands for), for range functions that
 * use theirs as scratch between GEMM calls: single-threaded callers only. */
float *SIMD_FN(own_work)(void);
void SIMD_FN(gemm)(int M, int N, int K, const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                   const float *b, ptrdiff_t rsb, ptrdiff_t csb, float *c, ptrdiff_t ldc,
                   int accumulate, float *work);

/* The three products of matmul_forward/backward on a block [r0,r1) x [c0,c1) of their
 * output: out[n0:n1, o0:o1]; dinp[n0:n1, c0:c1] += ...; dw[o0:o1, c0:c1] += ..., or = ...
 * when accumulate is 0 (the gradient's old contents are then never read: gemm's
 * `accumulate`). */
void SIMD_FN(matmul_forward_range)(float *out, const float *inp, const float *w, int C, int OC,
                                   int n0, int n1, int o0, int o1, float *work);
void SIMD_FN(matmul_backward_dinp_range)(float *dinp, const float *dout, const float *w,
                                         int C, int OC, int n0, int n1, int c0, int c1,
                                         int accumulate, float *work);
void SIMD_FN(matmul_backward_dw_range)(float *dw, const float *dout, const float *inp,
                                       int N, int C, int OC, int o0, int o1, int c0, int c1,
                                       int accumulate, float *work);

/* Attention on the (document, head) pairs bh in [bh0, bh1), b = bh / H, h = bh % H. Pairs
 * touch disjoint parts of out, att, datt and dqkv; with MGPT_WRITE_DINP in `write`, each
 * pair stores (=) its own slices of dqkv, which together cover it (C = H * hd). */
void SIMD_FN(attention_forward_range)(float *out, float *att, const float *qkv,
                                      int T, int C, int H, int bh0, int bh1, float *work);
void SIMD_FN(attention_backward_range)(float *dqkv, float *datt, const float *dout,
                                       const float *qkv, const float *att, int T, int C, int H,
                                       int bh0, int bh1, unsigned write, float *work);

/* embed_backward on channels [c0, c1) only: rows of dwte repeat with the tokens, so
 * threads split channels, not positions. */
void SIMD_FN(embed_backward_range)(float *dwte, float *dwpe, const float *dout, const int *tok,
                                   int N, int T, int C, int c0, int c1);

/* Row-wise ops (rmsnorm, crossentropy) take row ranges through offset pointers and a
 * smaller N; element-wise ops, zero and adam through offset pointers and a smaller n;
 * sumsq single chunks (SIMD_SUMSQ_CHUNK). */
#endif /* SIMD_FN */
#endif
