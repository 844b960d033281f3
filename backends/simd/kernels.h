/* The internal interface of the SIMD kernel libraries libsimd_sse.la, libsimd_avx2.la,
 * libsimd_avx512.la and libsimd_avx512bf16.la: the same shared sources of this folder,
 * compiled once per ISA. Every name carries its ISA prefix (sse_, avx2_, avx512_,
 * avx512bf16_) chosen by which of MGPT_SIMD_SSE, MGPT_SIMD_AVX2, MGPT_SIMD_AVX512,
 * MGPT_SIMD_AVX512BF16 is defined, so SIMD_FN(gemm) is avx2_gemm in the AVX2 library.
 * MGPT_SIMD_AVX512BF16 is the AVX-512 build again (vec_avx512.h) under its own prefix, so
 * that the bf16 module carries its own copy of the fp32 kernels and an instance of its own;
 * it sets SIMD_BF16, which adds the bf16 GEMM slots (backends/avx512bf16/slots_bf16.c).
 * MGPT_SIMD_AMX is that build once more (prefix amx_) whose bf16 GEMM slots run on AMX
 * tiles (backends/amx/matmul_amx.c); it sets SIMD_BF16 and SIMD_AMX.
 *
 * Plain C with no intrinsics: the descriptors include it while compiled WITHOUT ISA flags.
 *
 * The kernels are the ABI's slots (mgpt/kernel_list.h), declared with the list's types.
 * The engine's threading layer calls them concurrently on disjoint parts of their output:
 * a kernel computes each element the same way whatever part it falls in (no reduction is
 * split between calls), so a split never changes a result. The mutable state, one GEMM
 * workspace per thread, lives in the instance that init returns (simd.h, instance.c).
 */
#ifndef MGPT_SIMD_KERNELS_H
#define MGPT_SIMD_KERNELS_H
#include <stddef.h>
#include <stdint.h>
#include <mgpt/backend.h>

/* SIMD_FN(name), and the GEMM register tile, rows x columns: GEMM_MR x GEMM_NV*SIMD_W of
 * vec_<isa>.h (checked in matmul.c), here as plain numbers for the descriptors' tile_rows
 * and tile_cols, the multiples at which the threading layer cuts the TILES kernels. */
#if defined(MGPT_SIMD_AVX512)
#define SIMD_FN(name) avx512_##name
#define SIMD_TILE_ROWS 8
#define SIMD_TILE_COLS 48
#elif defined(MGPT_SIMD_AVX512BF16)
#define SIMD_FN(name) avx512bf16_##name
#define SIMD_TILE_ROWS 8
#define SIMD_TILE_COLS 48
#define SIMD_BF16 1
/* the bf16 GEMM's register tile, BF16_MR x BF16_NV*16 (checked in matmul_bf16.c) */
#define BF16_TILE_ROWS 8
#define BF16_TILE_COLS 48
#elif defined(MGPT_SIMD_AMX)
#define SIMD_FN(name) amx_##name
#define SIMD_TILE_ROWS 8
#define SIMD_TILE_COLS 48
#define SIMD_BF16 1
#define SIMD_AMX 1
/* the AMX GEMM's micro-kernel block, 2 x 2 tiles of 16 x 16 (checked in matmul_amx.c) */
#define BF16_TILE_ROWS 32
#define BF16_TILE_COLS 32
#elif defined(MGPT_SIMD_AVX2)
#define SIMD_FN(name) avx2_##name
#define SIMD_TILE_ROWS 4
#define SIMD_TILE_COLS 24
#elif defined(MGPT_SIMD_SSE)
#define SIMD_FN(name) sse_##name
#define SIMD_TILE_ROWS 4
#define SIMD_TILE_COLS 12
#endif

#ifdef SIMD_FN
/* ---- the mgpt_kernels slots (semantics, splits, FLOP and byte counts: mgpt/kernel_list.h)
 * matmul_forward, matmul_backward_dinp and matmul_backward_dw compute one block of their
 * output (TILES); attention_forward/backward the (document, head) pairs [bh0, bh1)
 * (HEADS); sumsq one chunk of at most MGPT_SUMSQ_CHUNK floats. */
mgpt_embed_forward_fn SIMD_FN(embed_forward);
mgpt_embed_backward_fn SIMD_FN(embed_backward);
mgpt_rmsnorm_forward_fn SIMD_FN(rmsnorm_forward);
mgpt_rmsnorm_backward_fn SIMD_FN(rmsnorm_backward);
mgpt_matmul_forward_fn SIMD_FN(matmul_forward);
mgpt_matmul_backward_dinp_fn SIMD_FN(matmul_backward_dinp);
mgpt_matmul_backward_dw_fn SIMD_FN(matmul_backward_dw);
mgpt_attention_forward_fn SIMD_FN(attention_forward);
mgpt_attention_backward_fn SIMD_FN(attention_backward);
mgpt_attention_decode_fn SIMD_FN(attention_decode);
mgpt_sqrelu_forward_fn SIMD_FN(sqrelu_forward);
mgpt_sqrelu_backward_fn SIMD_FN(sqrelu_backward);
mgpt_add_forward_fn SIMD_FN(add_forward);
mgpt_accumulate_fn SIMD_FN(accumulate);
mgpt_crossentropy_forward_fn SIMD_FN(crossentropy_forward);
mgpt_crossentropy_backward_fn SIMD_FN(crossentropy_backward);
mgpt_sumsq_fn SIMD_FN(sumsq);
mgpt_adam_update_fn SIMD_FN(adam_update);
mgpt_zero_fn SIMD_FN(zero);

/* ---- the instance (instance.c): env->num_threads GEMM workspaces; 0, or -1 with err */
int SIMD_FN(init)(const mgpt_backend_env *env, void **instance, char *err, size_t errlen);
void SIMD_FN(shutdown)(void *instance);

/* ---- the roofline probes (mgpt_probes) */
double SIMD_FN(peak_flops)(uint64_t iterations, float *sink);
float SIMD_FN(stream_read)(const float *buf, size_t n, int passes);

/* ---- the GEMM every projection (and long heads' attention) is made of
 *
 * C[M,N] = A[M,K] B[K,N] (accumulate = 0: C is stored, never loaded, so it may hold
 * anything) or C += A B (accumulate = 1), with A(i,k) = a[i*rsa + k*csa], B(k,j) = b[k*rsb
 * + j*csb] and C(i,j) = c[i*ldc + j]. Fast layouts: A with csa == 1 or rsa == 1, B with
 * csb == 1 or rsb == 1; any other stride works, more slowly. Each C(i,j) is one FMA chain
 * over k in order 0..K-1, whatever M, N and the blocking: results do not depend on how a
 * caller splits the rows or columns of C, nor on accumulate when C holds zeros (the chain
 * then starts from +0 either way).
 *
 * work: the packing buffers, gemm_work_floats() floats, 64-byte aligned, the calling
 * thread's own (the instance's work[ctx->thread]). */
size_t SIMD_FN(gemm_work_floats)(void);
void SIMD_FN(gemm)(int M, int N, int K, const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                   const float *b, ptrdiff_t rsb, ptrdiff_t csb, float *c, ptrdiff_t ldc,
                   int accumulate, float *work);

#ifdef SIMD_BF16
/* ---- the bf16 module's GEMM slots (backends/avx512bf16/slots_bf16.c): the same products
 * as matmul_forward, matmul_backward_dinp and matmul_backward_dw, their inputs rounded to
 * bf16 (nearest even) and the products summed in fp32 by VDPBF16PS; and the peak probe of
 * that instruction (probes_bf16.c). Their packing buffers are the calling thread's
 * workspace too (instance.c sizes it for both GEMMs: one kernel runs at a time per thread). */
mgpt_matmul_forward_fn SIMD_FN(matmul_forward_bf16);
mgpt_matmul_backward_dinp_fn SIMD_FN(matmul_backward_dinp_bf16);
mgpt_matmul_backward_dw_fn SIMD_FN(matmul_backward_dw_bf16);
size_t SIMD_FN(gemm_bf16_work_floats)(void);
/* The module's bf16 GEMM behind those slots (../avx512bf16/slots_bf16.c): SIMD_FN(gemm)'s
 * contract, every input rounded to bf16 and the sums in fp32 (VDPBF16PS register tiles in
 * matmul_bf16.c; TDPBF16PS tiles in ../amx/matmul_amx.c); work: gemm_bf16_work_floats(). */
void SIMD_FN(gemm_bf16)(int M, int N, int K, const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                        const float *b, ptrdiff_t rsb, ptrdiff_t csb, float *c, ptrdiff_t ldc,
                        int accumulate, float *work);
double SIMD_FN(peak_flops_bf16)(uint64_t iterations, float *sink);
/* The attention slots with bf16 products (../avx512bf16/attention_bf16.c, on gemm_bf16) */
mgpt_attention_forward_fn SIMD_FN(attention_forward_bf16);
mgpt_attention_backward_fn SIMD_FN(attention_backward_bf16);
#endif
#ifdef SIMD_AMX
/* the AMX module (backends/amx): the bf16 slots above on tiles (matmul_amx.c, TDPBF16PS),
 * and the process' permission to use them, asked for by init (permission.c) */
int SIMD_FN(amx_permission)(char *err, size_t errlen);
#endif
#endif /* SIMD_FN */
#endif
