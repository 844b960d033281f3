/* The test module mgpt_amxemu.so (built by make check, never installed): the AMX module's
 * sources compiled with MGPT_AMX_EMULATE, so its tiles are plain C (amx_tiles.h) and it
 * needs no more than AVX512-BF16 (its packing). tests/test_check_backend.cc runs it through
 * mgpt-check-backend: the AMX GEMM's packing, blocking, edges and thread splits checked on a
 * CPU without AMX, against the scalar reference within the bf16 class's tolerances. */
#include "simd/kernel_table.h"

const mgpt_backend_desc mgpt_backend_amxemu = {
    MGPT_BACKEND_DESC_HEADER,
    .name = "amxemu",
    .description = "the amx backend with its tiles emulated in C (a test module: slow)",
    .required_features = MGPT_CPU_SSE2 | MGPT_CPU_SSE3 | MGPT_CPU_SSSE3 | MGPT_CPU_SSE41 |
                         MGPT_CPU_SSE42 | MGPT_CPU_AVX | MGPT_CPU_FMA | MGPT_CPU_AVX2 |
                         MGPT_CPU_AVX512F | MGPT_CPU_AVX512BW | MGPT_CPU_AVX512VL |
                         MGPT_CPU_AVX512DQ | MGPT_CPU_AVX512_BF16,
    .priority = 1,
    .precision = MGPT_PRECISION_BF16,
    .tile_rows = BF16_TILE_ROWS,
    .tile_cols = BF16_TILE_COLS,
    .kernels = &kernels,
    .probes = &probes,
    .init = amx_init,
    .shutdown = amx_shutdown,
};
