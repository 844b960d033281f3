/* The AVX2 + FMA backend's descriptor: data only, and the only object of mgpt_avx2.so
 * compiled WITHOUT ISA flags, so the loader can read it on any x86 CPU and check
 * required_features before any avx2 instruction can run. The kernels, init and shutdown are
 * in libsimd_avx2.la (the shared sources of ../simd built with -mavx2 -mfma). */
#include "simd/kernels.h"

static const mgpt_kernels kernels = {
    .embed_forward = avx2_embed_forward,
    .embed_backward = avx2_embed_backward,
    .rmsnorm_forward = avx2_rmsnorm_forward,
    .rmsnorm_backward = avx2_rmsnorm_backward,
    .matmul_forward = avx2_matmul_forward,
    .matmul_backward_dinp = avx2_matmul_backward_dinp,
    .matmul_backward_dw = avx2_matmul_backward_dw,
    .attention_forward = avx2_attention_forward,
    .attention_backward = avx2_attention_backward,
    .sqrelu_forward = avx2_sqrelu_forward,
    .sqrelu_backward = avx2_sqrelu_backward,
    .add_forward = avx2_add_forward,
    .accumulate = avx2_accumulate,
    .crossentropy_forward = avx2_crossentropy_forward,
    .crossentropy_backward = avx2_crossentropy_backward,
    .sumsq = avx2_sumsq,
    .adam_update = avx2_adam_update,
    .zero = avx2_zero,
};

static const mgpt_probes probes = {
    .peak_flops = avx2_peak_flops,
    .stream_read = avx2_stream_read,
};

const mgpt_backend_desc mgpt_backend_avx2 = {
    MGPT_BACKEND_DESC_HEADER,
    .name = "avx2",
    .description = "AVX2 + FMA kernels, 8 floats per vector",
    .required_features = MGPT_CPU_SSE2 | MGPT_CPU_SSE3 | MGPT_CPU_SSSE3 | MGPT_CPU_SSE41 |
                         MGPT_CPU_SSE42 | MGPT_CPU_AVX | MGPT_CPU_FMA | MGPT_CPU_AVX2,
    .priority = 20,
    .precision = MGPT_PRECISION_FP32,
    /* the GEMM register tile (4 rows x 3 vectors of 8: GEMM_MR x GEMM_NV*SIMD_W of
     * simd/vec_avx2.h, checked in simd/matmul.c) */
    .tile_rows = SIMD_TILE_ROWS,
    .tile_cols = SIMD_TILE_COLS,
    .kernels = &kernels,
    .probes = &probes,
    .init = avx2_init,  /* simd/instance.c: the per-thread GEMM workspaces */
    .shutdown = avx2_shutdown,
};
