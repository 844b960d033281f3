/* The SSE4.2 backend's descriptor: data only, and the only object of mgpt_sse.so compiled
 * WITHOUT ISA flags, so the loader can read it on any x86 CPU and check required_features
 * before any sse instruction can run. The kernels, init and shutdown are in libsimd_sse.la
 * (the shared sources of ../simd built with -msse4.2). */
#include "simd/kernel_table.h"   /* kernels, probes */

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
