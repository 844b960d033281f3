/* Roofline probes in plain scalar code, compiled as the kernels are (the compiler vectorises
 * both with SSE2, 4 fp32 lanes, separate mul and add): the ceilings describe the code that
 * runs (mgpt-roofline labels this backend's ISA "sse2-auto", tools/mgpt-roofline/isa.c). */
#include "scalar.h"

/* 56 chains, written as one array the compiler's SLP vectoriser packs into 14 SSE2 vectors
 * (mulps, addps), as it packs the kernels' loops: the probe then runs the code the kernels
 * run, 4 lanes wide, not scalar mulss/addss that the vectorised kernels beat up to 4x.
 * 14 vectors plus the two constants fill the 16 xmm registers; 14 independent mul+add
 * chains outnumber latency x pipes on any core in isa.c's table (at most 7 in flight). */
#define CHAINS 56

/* 2 flops (one mul, one add) per chain per iteration */
double scalar_peak_flops(uint64_t iterations, float *sink)
{
    float x[CHAINS];
    for (int i = 0; i < CHAINS; i++)
        x[i] = 1.0f + 0.001f * i;
    const float a = 0.999999f, b = 1e-7f;
    /* unrolled fully, before vectorisation, so that x[] lives in registers: otherwise every
     * step is a store-to-load round trip and the probe measures memory latency, not the
     * multiply and add units */
    for (uint64_t it = 0; it < iterations; it++) {
#pragma GCC unroll 56
        for (int i = 0; i < CHAINS; i++)
            x[i] = x[i] * a + b;
    }
    float s = 0.0f;
    for (int i = 0; i < CHAINS; i++)
        s += x[i];
    *sink = s;
    return 2.0 * CHAINS * (double)iterations;
}

/* reads 4*n bytes per pass */
float scalar_stream_read(const float *buf, size_t n, int passes)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int p = 0; p < passes; p++) {
        size_t i = 0;
        for (; i + 4 <= n; i += 4) {
            s0 += buf[i];
            s1 += buf[i + 1];
            s2 += buf[i + 2];
            s3 += buf[i + 3];
        }
        for (; i < n; i++)
            s0 += buf[i];
    }
    return s0 + s1 + s2 + s3;
}
