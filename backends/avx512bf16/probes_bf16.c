/* The bf16 module's peak probe: VDPBF16PS throughput, the instruction its GEMM is made of
 * (stream_read is the AVX-512 one, ../simd/probes.c). */
#include "simd/simd.h"

/* Independent chains x += a.b (per 32-bit lane two bf16 products added to an fp32 sum):
 * 64 FLOPs per instruction (16 lanes x 2 products x multiply-add). Zen 5 and Sapphire
 * Rapids issue 2 per cycle with a latency of 5-6 cycles: 12 chains cover it; 16 leave slack
 * and 16 of the 32 zmm registers free. The sums grow by 2*2^-20 per step: finite for any
 * count the roofline runs (2^40 steps reach 2^21). */
#define BF16_PEAK_CHAINS 16

double SIMD_FN(peak_flops_bf16)(uint64_t iterations, float *sink)
{
    __m512 x[BF16_PEAK_CHAINS];
#pragma GCC unroll 32
    for (int i = 0; i < BF16_PEAK_CHAINS; i++)
        x[i] = _mm512_set1_ps(1.0f + 0.001f * i);
    /* 2^-10 in both halves of every pair (bf16 0x3A80) */
    const __m512bh a = (__m512bh)_mm512_set1_epi32(0x3A803A80);
    for (uint64_t it = 0; it < iterations; it++) {
#pragma GCC unroll 32
        for (int i = 0; i < BF16_PEAK_CHAINS; i++)
            x[i] = _mm512_dpbf16_ps(x[i], a, a);
    }
    __m512 s = _mm512_setzero_ps();
#pragma GCC unroll 32
    for (int i = 0; i < BF16_PEAK_CHAINS; i++)
        s = _mm512_add_ps(s, x[i]);
    *sink = _mm512_reduce_add_ps(s);
    return 64.0 * BF16_PEAK_CHAINS * (double)iterations;
}
