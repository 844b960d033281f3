/* The streams of the bandwidth curve that store (likwid-bench's update, store and a
 * two-input kernel): the backends' probes only read (mgpt_probes.stream_read). Each is
 * written once per vector width, in the ISA of the backends that width belongs to (target
 * attributes: this file needs no ISA flags, and a width is only called on a CPU that runs
 * its backend):
 *  - read+write: a[i] = a[i] * 0.5 + 0.5 in place, a load and a store, 8 bytes an element;
 *  - write: libc's memset, stores alone, 4 bytes an element (what every backend's zero
 *    runs, below);
 *  - 2 reads+write: a[i] = b[i] * c[i], the slice cut in three, two loads and one store, 12
 *    bytes (add_forward's and accumulate's pattern);
 *  - 3 reads+2 writes: a[i] *= c[i] and b[i] *= c[i], the slice cut in three, three loads
 *    and two stores, 20 bytes (embed_backward's pattern: a core with more load and store
 *    ports than the other streams keep busy moves more bytes a cycle this way).
 * Every element is independent of the others: no chain of dependent operations, so the
 * streams measure the loads and stores, not an instruction's latency; the loops are
 * unrolled (GCC at -O2 keeps a 4-store inner loop rolled: one store and a branch a cycle).
 * The buffer holds 1.0 everywhere, which the vector streams keep (1 * 0.5 + 0.5, 1 * 1): no denormals, no
 * overflow; the libc streams (below) leave zeros or copies, which the others keep finite
 * too. Each returns the bytes it moved. */
#include <string.h>
#include "roofline.h"

/* the third of n floats the 2-reads+write stream gives each array: a multiple of 16 floats
 * (64 bytes), so every array stays aligned */
static size_t third(size_t n)
{
    return n / 3 / 16 * 16;
}

/* One width's three streams, written once in GCC's vector extension: only the width and
 * the target differ between the widths (the target attribute picks the instructions; W = 4
 * is the baseline's SSE2). may_alias: the vectors are read from and stored to float arrays. */
#define STORE_STREAMS(W, TARGET)                                                          \
    typedef float vec##W __attribute__((vector_size(4 * (W)), may_alias));               \
    TARGET static double update##W(float *a, size_t n, int passes)                       \
    {                                                                                     \
        for (int p = 0; p < passes; p++) {                                                \
            size_t i = 0;                                                                 \
            for (; i + 4 * (W) <= n; i += 4 * (W))                                        \
                _Pragma("GCC unroll 4") for (int u = 0; u < 4 * (W); u += (W))            \
                {                                                                         \
                    vec##W *v = (vec##W *)(a + i + u);                                    \
                    *v = *v * 0.5f + 0.5f;                                                \
                }                                                                         \
            for (; i < n; i++)                                                            \
                a[i] = a[i] * 0.5f + 0.5f;                                                \
        }                                                                                 \
        return 8.0 * (double)n * passes;                                                  \
    }                                                                                     \
    TARGET static double mul##W(float *a, size_t n, int passes)                          \
    {                                                                                     \
        size_t m = third(n);                                                              \
        const float *b = a + m, *c = a + 2 * m;                                           \
        for (int p = 0; p < passes; p++)                                                  \
            _Pragma("GCC unroll 4") for (size_t i = 0; i < m; i += (W))                   \
                *(vec##W *)(a + i) = *(const vec##W *)(b + i) * *(const vec##W *)(c + i); \
        return 12.0 * (double)m * passes;                                                 \
    }                                                                                     \
    TARGET static double accum##W(float *a, size_t n, int passes)                        \
    {                                                                                     \
        size_t m = third(n);                                                              \
        float *b = a + m;                                                                 \
        const float *c = a + 2 * m;                                                       \
        for (int p = 0; p < passes; p++)                                                  \
            _Pragma("GCC unroll 4") for (size_t i = 0; i < m; i += (W))                   \
            {                                                                             \
                vec##W cv = *(const vec##W *)(c + i);                                     \
                *(vec##W *)(a + i) *= cv;                                                 \
                *(vec##W *)(b + i) *= cv;                                                 \
            }                                                                             \
        return 20.0 * (double)m * passes;                                                 \
    }

STORE_STREAMS(16, __attribute__((target("avx512f"))))
STORE_STREAMS(8, __attribute__((target("avx"))))
/* SSE: the sse backend's width, and the scalar backend's too, whose plain C the compiler
 * vectorises with the baseline's SSE2 */
STORE_STREAMS(4, )

/* Every backend's zero is memset: the scalar one calls it, and GCC turns the SIMD
 * backends' loops of zero stores into a call to it (objdump shows the call). It is libc's
 * code, in whatever width libc picks for this CPU, not the backend's. The write stream is
 * that memset, so that the zero kernel's ceiling describes the code that runs. The empty
 * asm, which may read any memory, keeps the compiler from dropping the stores, without a
 * load that would wait for them (which slowed the 4 KiB point by a fifth). */
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

static double write_libc(float *a, size_t n, int passes)
{
    for (int p = 0; p < passes; p++) {
        memset(a, 0, n * sizeof *a);
        KEEP(a);
    }
    return 4.0 * (double)n * passes;
}

/* The scalar backend's read+write stream, likewise, is libc's memcpy, which its writing
 * accumulate calls (the SIMD backends copy with their own loads and stores):
 * the second half of the slice copied onto the first, a load and a store an element
 * copied, 8 bytes. */
static double update_libc(float *a, size_t n, int passes)
{
    size_t h = n / 2;
    for (int p = 0; p < passes; p++) {
        memcpy(a, a + h, h * sizeof *a);
        KEEP(a);
    }
    return 8.0 * (double)h * passes;
}

void roof_streams_for(const roof_isa *isa, roof_store_fn fn[ROOF_STREAMS],
                      const char *name[ROOF_STREAMS])
{
    fn[ROOF_READ] = NULL; /* the backend's own probe */
    name[ROOF_READ] = "backend probe";
    const char *w;
    if (isa->lanes >= 16) {
        w = "avx512";
        fn[ROOF_UPDATE] = update16, fn[ROOF_READ2_WRITE] = mul16, fn[ROOF_READ3_WRITE2] = accum16;
    } else if (isa->lanes >= 8) {
        w = "avx";
        fn[ROOF_UPDATE] = update8, fn[ROOF_READ2_WRITE] = mul8, fn[ROOF_READ3_WRITE2] = accum8;
    } else {
        w = "sse2";
        fn[ROOF_UPDATE] = update4, fn[ROOF_READ2_WRITE] = mul4, fn[ROOF_READ3_WRITE2] = accum4;
    }
    name[ROOF_UPDATE] = name[ROOF_READ2_WRITE] = name[ROOF_READ3_WRITE2] = w;
    /* every backend's zero */
    name[ROOF_WRITE] = "libc memset";
    fn[ROOF_WRITE] = write_libc;
    /* no required feature: the scalar backend, whose copying is libc's too */
    if (roof_isa_is_plain_c(isa)) {
        name[ROOF_UPDATE] = "libc memcpy";
        fn[ROOF_UPDATE] = update_libc;
    }
}
