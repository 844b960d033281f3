/* The SSE4.2 backend's descriptor: data only, and the only object of mgpt_sse.so compiled
 * WITHOUT ISA flags, so the loader can read it on any x86 CPU and check required_features
 * before any sse instruction can run. The kernels, init and shutdown are in libsimd_sse.la
 * (the shared sources of ../simd built with -msse4.2). */
#include "simd/kernels.h"

static const mgpt_kernels kernels = {
    .embed_forward = sse_embed_forward,
    .embed_backward = sse_embed_backward,
    .rmsnorm_forward = sse_rmsnorm_forward,
    .rmsnorm_backward = sse_rmsnorm_backward,
    .matmul_forward = sse_matmul_forward,
    .matmul_backward_dinp = sse_matmul_backward_dinp,
    .matmul_backward_dw = sse_matmul_backward_dw,
    .attention_forward = sse_attention_forward,
    .attention_backward = sse_attention_backward,
    .sqrelu_forward = sse_sqrelu_forward,
    .sqrelu_backward = sse_sqrelu_backward,
    .add_forward = sse_add_forward,
    .accumulate = sse_accumulate,
    .crossentropy_forward = sse_crossentropy_forward,
    .crossentropy_backward = sse_crossentropy_backward,
    .sumsq = sse_sumsq,
    .adam_update = sse_adam_update,
    .zero = sse_zero,
};

static const mgpt_probes probes = {
    .peak_flops = sse_peak_flops,
    .stream_read = sse_stream_read,
};

const mgpt_backend_desc mgpt_backend_sse = {
    MGPT_BACKEND_DESC_HEADER,
    .name = "sse",
    .description = "SSE4.1/4.2 kernels, 4 floats per vector (no FMA)",
    .required_features = MGPT_CPU_SSE2 | MGPT_CPU_SSE3 | MGPT_CPU_SSSE3 | MGPT_CPU_SSE41 |
                         MGPT_CPU_SSE42,
    .priority = 10,
    .precision = MGPT_PRECISION_FP32,
    /* the GEMM register tile (4 rows x 3 vectors of 4: GEMM_MR x GEMM_NV*SIMD_W of
     * simd/vec_sse.h, checked in simd/matmul.c) */
    .tile_rows = SIMD_TILE_ROWS,
    .tile_cols = SIMD_TILE_COLS,
    .kernels = &kernels,
    .probes = &probes,
    .init = sse_init,  /* simd/instance.c: the per-thread GEMM workspaces */
    .shutdown = sse_shutdown,
};
