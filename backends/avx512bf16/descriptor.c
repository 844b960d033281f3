/* The bf16 backend's descriptor: data only, and the only object of mgpt_avx512bf16.so
 * compiled WITHOUT ISA flags, so the loader can read it on any x86 CPU and check
 * required_features before any AVX-512 instruction can run. The kernels, init and shutdown
 * are in libsimd_avx512bf16.la: the AVX-512 kernels of ../simd for every slot but the three
 * GEMMs and attention, which are matmul_bf16.c's and attention_bf16.c's (bf16 products,
 * fp32 sums). */
#include "simd/kernel_table.h"   /* kernels (the bf16 slots: SIMD_BF16_FN), probes */

const mgpt_backend_desc mgpt_backend_avx512bf16 = {
    MGPT_BACKEND_DESC_HEADER,
    .name = "avx512bf16",
    .description = "AVX-512 kernels; the matmuls and attention's products take bf16 inputs "
                   "with fp32 accumulation (AVX512-BF16 VDPBF16PS)",
    .required_features = MGPT_CPU_SSE2 | MGPT_CPU_SSE3 | MGPT_CPU_SSSE3 | MGPT_CPU_SSE41 |
                         MGPT_CPU_SSE42 | MGPT_CPU_AVX | MGPT_CPU_FMA | MGPT_CPU_AVX2 |
                         MGPT_CPU_AVX512F | MGPT_CPU_AVX512BW | MGPT_CPU_AVX512VL |
                         MGPT_CPU_AVX512DQ | MGPT_CPU_AVX512_BF16,
    /* above avx512's 30, though automatic selection never picks a reduced precision: it
     * runs when asked for by name (or, later, by precision) */
    .priority = 40,
    .precision = MGPT_PRECISION_BF16,
    /* the bf16 GEMM's register tile (8 rows x 3 vectors of 16 fp32 sums, checked in
     * matmul_bf16.c); the fp32 attention GEMM happens to have the same */
    .tile_rows = BF16_TILE_ROWS,
    .tile_cols = BF16_TILE_COLS,
    .kernels = &kernels,
    .probes = &probes,
    .init = avx512bf16_init,  /* simd/instance.c: the per-thread GEMM workspaces */
    .shutdown = avx512bf16_shutdown,
};
