/* The AMX backend's descriptor: data only, and the only object of mgpt_amx.so compiled
 * WITHOUT ISA flags, so the loader can read it on any x86 CPU and check required_features
 * (AMX-TILE and AMX-BF16 with the OS saving the tile state) before any tile instruction
 * can run. The kernels, init (which asks Linux for the tile state) and shutdown are in
 * libsimd_amx.la: the AVX-512 kernels of ../simd for every slot but the three GEMMs, which
 * are matmul_amx.c's (bf16 products on tiles, fp32 sums), and attention, the avx512bf16
 * module's (VDPBF16PS; long heads on the tiles). */
#include "simd/kernel_table.h"   /* kernels (the bf16 slots: SIMD_BF16_FN), probes */

const mgpt_backend_desc mgpt_backend_amx = {
    MGPT_BACKEND_DESC_HEADER,
    .name = "amx",
    .description = "AVX-512 kernels; the matmuls on AMX tiles, bf16 inputs with fp32 "
                   "accumulation (AMX-BF16 TDPBF16PS); attention's products in bf16 too",
    .required_features = MGPT_CPU_SSE2 | MGPT_CPU_SSE3 | MGPT_CPU_SSSE3 | MGPT_CPU_SSE41 |
                         MGPT_CPU_SSE42 | MGPT_CPU_AVX | MGPT_CPU_FMA | MGPT_CPU_AVX2 |
                         MGPT_CPU_AVX512F | MGPT_CPU_AVX512BW | MGPT_CPU_AVX512VL |
                         MGPT_CPU_AVX512DQ | MGPT_CPU_AVX512_BF16 | MGPT_CPU_AMX_TILE |
                         MGPT_CPU_AMX_BF16,
    /* above avx512bf16's 40: the first bf16 backend --precision=bf16 takes where it runs */
    .priority = 50,
    .precision = MGPT_PRECISION_BF16,
    /* the micro-kernel's block of C, 2 x 2 tiles of 16 x 16 (checked in matmul_amx.c) */
    .tile_rows = BF16_TILE_ROWS,
    .tile_cols = BF16_TILE_COLS,
    .kernels = &kernels,
    .probes = &probes,
    .init = amx_init,  /* simd/instance.c: the tile permission, the per-thread workspaces */
    .shutdown = amx_shutdown,
};
