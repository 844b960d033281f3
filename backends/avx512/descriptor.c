/* The AVX-512 backend's descriptor: data only, and the only object of mgpt_avx512.so
 * compiled WITHOUT ISA flags, so the loader can read it on any x86 CPU and check
 * required_features before any avx512 instruction can run. The kernels, init and shutdown
 * are in libsimd_avx512.la (the shared sources of ../simd built with AVX-512 F/BW/VL/DQ
 * flags). */
#include "simd/kernel_table.h"   /* kernels, probes */

const mgpt_backend_desc mgpt_backend_avx512 = {
    MGPT_BACKEND_DESC_HEADER,
    .name = "avx512",
    .description = "AVX-512 F/BW/VL/DQ kernels, 16 floats per vector",
    .required_features = MGPT_CPU_SSE2 | MGPT_CPU_SSE3 | MGPT_CPU_SSSE3 | MGPT_CPU_SSE41 |
                         MGPT_CPU_SSE42 | MGPT_CPU_AVX | MGPT_CPU_FMA | MGPT_CPU_AVX2 |
                         MGPT_CPU_AVX512F | MGPT_CPU_AVX512BW | MGPT_CPU_AVX512VL |
                         MGPT_CPU_AVX512DQ,
    .priority = 30,
    .precision = MGPT_PRECISION_FP32,
    /* the GEMM register tile (8 rows x 3 vectors of 16: GEMM_MR x GEMM_NV*SIMD_W of
     * simd/vec_avx512.h, checked in simd/matmul.c) */
    .tile_rows = SIMD_TILE_ROWS,
    .tile_cols = SIMD_TILE_COLS,
    .kernels = &kernels,
    .probes = &probes,
    .init = avx512_init,  /* simd/instance.c: the per-thread GEMM workspaces */
    .shutdown = avx512_shutdown,
};
