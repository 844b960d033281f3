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

/* 32 partial sums, which the SLP vectoriser packs into 8 independent SSE2 accumulators (as
 * it packs the peak probe's chains): 8 adds in flight cover add latency x load ports on any
 * core in isa.c's table, so the probe measures bandwidth. One sum, or the 4 it once had
 * (one xmm register), made it a chain of dependent adds, one 16-byte load per add latency:
 * a flat ~27 GB/s at every working set on a Zen 5, which the vectorised kernels beat 2x.
 * Reads 4*n bytes per pass. */
#define READ_SUMS 32

float scalar_stream_read(const float *buf, size_t n, int passes)
{
    float s[READ_SUMS], tail = 0.0f; /* the tail apart: s[] stays in registers */
    for (int k = 0; k < READ_SUMS; k++)
        s[k] = 0.0f;
    for (int p = 0; p < passes; p++) {
        size_t i = 0;
        for (; i + READ_SUMS <= n; i += READ_SUMS) {
#pragma GCC unroll 32
            for (int k = 0; k < READ_SUMS; k++)
                s[k] += buf[i + k];
        }
        for (; i < n; i++)
            tail += buf[i];
    }
    float t = tail;
    for (int k = 0; k < READ_SUMS; k++)
        t += s[k];
    return t;
}
