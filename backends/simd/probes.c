/* Roofline probes in this ISA: peak FMA (mul+add for SSE) throughput and streaming read
 * bandwidth. */
#include "simd/simd.h"

/* PEAK_CHAINS independent chains x = x*a + b, enough to cover latency x ports (vec_<isa>.h).
 * 2*SIMD_W flops per chain per iteration. */
double SIMD_FN(peak_flops)(uint64_t iterations, float *sink)
{
    vec x[PEAK_CHAINS];
#pragma GCC unroll 32
    for (int i = 0; i < PEAK_CHAINS; i++)
        x[i] = v_set1(1.0f + 0.001f * i);
    const vec a = v_set1(0.999999f), b = v_set1(1e-7f);
    for (uint64_t it = 0; it < iterations; it++) {
#pragma GCC unroll 32
        for (int i = 0; i < PEAK_CHAINS; i++)
            x[i] = v_fma(x[i], a, b);
    }
    vec s = v_zero();
#pragma GCC unroll 32
    for (int i = 0; i < PEAK_CHAINS; i++)
        s = v_add(s, x[i]);
    *sink = v_hsum(s);
    return 2.0 * SIMD_W * PEAK_CHAINS * (double)iterations;
}

/* Sums buf[0..n) `passes` times with 8 vector accumulators (2 loads per cycle x 4 cycles of
 * add latency). Reads 4*n bytes per pass. */
float SIMD_FN(stream_read)(const float *buf, size_t n, int passes)
{
    vec s[8];
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++)
        s[k] = v_zero();
    for (int p = 0; p < passes; p++) {
        size_t i = 0;
        for (; i + 8 * SIMD_W <= n; i += 8 * SIMD_W) {
#pragma GCC unroll 8
            for (int k = 0; k < 8; k++)
                s[k] = v_add(s[k], v_load(buf + i + k * SIMD_W));
        }
        for (; i + SIMD_W <= n; i += SIMD_W)
            s[0] = v_add(s[0], v_load(buf + i));
        if (i < n)
            s[1] = v_add(s[1], v_load_part(buf + i, (int)(n - i)));
    }
#pragma GCC unroll 8
    for (int k = 1; k < 8; k++)
        s[0] = v_add(s[0], s[k]);
    return v_hsum(s[0]);
}
