/* The read+write stream of the bandwidth curve (likwid-bench's "update"): a[i] = a[i] *
 * 0.5 + 0.5 in place, one load and one store per element, 8 bytes. The backends' probes
 * only read (mgpt_probes.stream_read); a store stream is written here once per vector
 * width, each in the ISA of the backends that width belongs to (target attributes: this
 * file needs no ISA flags, and a width is only called on a CPU that runs its backend). The
 * buffer holds 1.0 everywhere, which the update keeps: no denormals, no overflow. */
#include <immintrin.h>
#include "roofline.h"

__attribute__((target("avx512f"))) static void update16(float *a, size_t n, int passes)
{
    const __m512 h = _mm512_set1_ps(0.5f);
    for (int p = 0; p < passes; p++) {
        size_t i = 0;
        for (; i + 64 <= n; i += 64)
            for (int u = 0; u < 64; u += 16)
                _mm512_store_ps(a + i + u, _mm512_add_ps(_mm512_mul_ps(_mm512_load_ps(a + i + u), h), h));
        for (; i < n; i++)
            a[i] = a[i] * 0.5f + 0.5f;
    }
}

__attribute__((target("avx"))) static void update8(float *a, size_t n, int passes)
{
    const __m256 h = _mm256_set1_ps(0.5f);
    for (int p = 0; p < passes; p++) {
        size_t i = 0;
        for (; i + 32 <= n; i += 32)
            for (int u = 0; u < 32; u += 8)
                _mm256_store_ps(a + i + u, _mm256_add_ps(_mm256_mul_ps(_mm256_load_ps(a + i + u), h), h));
        for (; i < n; i++)
            a[i] = a[i] * 0.5f + 0.5f;
    }
}

/* SSE: the sse backend's width, and the scalar backend's too, whose plain C the compiler
 * vectorises with the baseline's SSE2 */
static void update4(float *a, size_t n, int passes)
{
    const __m128 h = _mm_set1_ps(0.5f);
    for (int p = 0; p < passes; p++) {
        size_t i = 0;
        for (; i + 16 <= n; i += 16)
            for (int u = 0; u < 16; u += 4)
                _mm_store_ps(a + i + u, _mm_add_ps(_mm_mul_ps(_mm_load_ps(a + i + u), h), h));
        for (; i < n; i++)
            a[i] = a[i] * 0.5f + 0.5f;
    }
}

roof_update_fn roof_update_for(int lanes, const char **isa)
{
    if (lanes >= 16) {
        *isa = "avx512";
        return update16;
    }
    if (lanes >= 8) {
        *isa = "avx";
        return update8;
    }
    *isa = "sse2";
    return update4;
}
