/* The AMX module's peak probe: TDPBF16PS throughput, the instruction its GEMM is made of
 * (stream_read is the AVX-512 one, ../simd/probes.c). */
#include "simd/simd.h"
#include "amx/amx_tiles.h"

/* Six independent accumulator tiles (tmm0-5) += A (tmm6) . B (tmm7): 16 x 16 x 32 products,
 * 16,384 FLOPs an instruction. Sapphire Rapids issues one every 16 cycles with a latency of
 * about 52 (Intel's optimization manual): four chains cover it, six leave slack. Every bf16
 * is 2^-10 (0x3A80) and the sums start at 1: they grow by 32 x 2^-20 an instruction,
 * finite for any count the roofline runs. */
#define AMX_PEAK_CHAINS 6

double SIMD_FN(peak_flops_bf16)(uint64_t iterations, float *sink)
{
    _Alignas(64) uint16_t ab[AMX_ROWS * AMX_COLSB / 2];
    _Alignas(64) float c[AMX_ROWS * AMX_COLSB / 4];
    for (size_t i = 0; i < sizeof ab / sizeof ab[0]; i++)
        ab[i] = 0x3A80;
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        c[i] = 1.0f;
    amx_regs r;
    amx_tilecfg cfg;
    amx_cfg_all_full(&cfg);
    tile_config(&r, &cfg);
    tile_load(&r, 0, c, 64);
    tile_load(&r, 1, c, 64);
    tile_load(&r, 2, c, 64);
    tile_load(&r, 3, c, 64);
    tile_load(&r, 4, c, 64);
    tile_load(&r, 5, c, 64);
    tile_load(&r, 6, ab, 64);
    tile_load(&r, 7, ab, 64);
    for (uint64_t it = 0; it < iterations; it++) {
        tile_dpbf16ps(&r, 0, 6, 7);
        tile_dpbf16ps(&r, 1, 6, 7);
        tile_dpbf16ps(&r, 2, 6, 7);
        tile_dpbf16ps(&r, 3, 6, 7);
        tile_dpbf16ps(&r, 4, 6, 7);
        tile_dpbf16ps(&r, 5, 6, 7);
    }
    float s = 0.0f;
    _Alignas(64) float out[AMX_ROWS * AMX_COLSB / 4];
#define AMX_PEAK_SUM(t)                                                                    \
    tile_store(&r, t, out, 64);                                                             \
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)                                \
        s += out[i];
    AMX_PEAK_SUM(0) AMX_PEAK_SUM(1) AMX_PEAK_SUM(2) AMX_PEAK_SUM(3) AMX_PEAK_SUM(4)
    AMX_PEAK_SUM(5)
#undef AMX_PEAK_SUM
    tile_release(&r);
    *sink = s;
    return 16384.0 * AMX_PEAK_CHAINS * (double)iterations;
}
