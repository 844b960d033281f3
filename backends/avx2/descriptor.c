/* The AVX2 + FMA backend's descriptor: data only, and the only object of mgpt_avx2.so
 * compiled WITHOUT ISA flags, so the loader can read it on any x86 CPU and check
 * required_features before any avx2 instruction can run. The kernels, init and shutdown are
 * in libsimd_avx2.la (the shared sources of ../simd built with -mavx2 -mfma). */
#include "simd/kernel_table.h"   /* kernels, probes */

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
