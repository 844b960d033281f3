/* The three projection slots of the bf16 modules: each hands one block of its product's
 * output to the module's bf16 GEMM, SIMD_FN(gemm_bf16) (VDPBF16PS register tiles in
 * avx512bf16, matmul_bf16.c; TDPBF16PS tiles in amx, ../amx/matmul_amx.c), on the calling
 * thread's workspace. The sizes are the whole call's, the block [n0,n1) x [o0,o1) (or
 * [c0,c1)) of the output. The FLOP and byte counts are the kernel list's (fp32 operands:
 * the bf16 copies live in the packing buffers only). */
#include "simd/simd.h"

/* out[n0:n1, o0:o1] = bf16(inp[n0:n1, :]) @ bf16(w[o0:o1, :])^T; B(k, j) = w[j*C + k].
 * flops 2*N*C*OC, bytes 4*(N*C + OC*C + N*OC) for the whole call */
void SIMD_FN(matmul_forward_bf16)(const mgpt_ctx *ctx, float *out, const float *inp,
                                  const float *w, int N, int C, int OC, int n0, int n1, int o0,
                                  int o1)
{
    (void)N;
    SIMD_FN(gemm_bf16)(n1 - n0, o1 - o0, C, inp + (size_t)n0 * C, C, 1, w + (size_t)o0 * C, 1,
                       C, out + (size_t)n0 * OC + o0, OC, 0, simd_work(ctx));
}

/* dinp[n0:n1, c0:c1] += (or =, MGPT_WRITE_DINP: stored, never loaded) bf16(dout[n0:n1, :])
 * @ bf16(w[:, c0:c1]). flops 2*N*C*OC, bytes 4*(2*N*C + OC*C + N*OC), 4*N*C less writing
 * dinp */
void SIMD_FN(matmul_backward_dinp_bf16)(const mgpt_ctx *ctx, float *dinp, const float *dout,
                                        const float *w, int N, int C, int OC, int n0, int n1,
                                        int c0, int c1, unsigned write)
{
    (void)N;
    SIMD_FN(gemm_bf16)(n1 - n0, c1 - c0, OC, dout + (size_t)n0 * OC, OC, 1, w + c0, C, 1,
                       dinp + (size_t)n0 * C + c0, C, !(write & MGPT_WRITE_DINP),
                       simd_work(ctx));
}

/* dw[o0:o1, c0:c1] += (or =, MGPT_WRITE_DW) bf16(dout[:, o0:o1])^T @ bf16(inp[:, c0:c1]);
 * A(i, k) = dout[k*OC + i]: column-major. flops 2*N*C*OC, bytes 4*(2*OC*C + N*C + N*OC),
 * 4*OC*C less writing dw */
void SIMD_FN(matmul_backward_dw_bf16)(const mgpt_ctx *ctx, float *dw, const float *dout,
                                      const float *inp, int N, int C, int OC, int o0, int o1,
                                      int c0, int c1, unsigned write)
{
    SIMD_FN(gemm_bf16)(o1 - o0, c1 - c0, N, dout + o0, 1, OC, inp + c0, C, 1,
                       dw + (size_t)o0 * C + c0, C, !(write & MGPT_WRITE_DW), simd_work(ctx));
}
