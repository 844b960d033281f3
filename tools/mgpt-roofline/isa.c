/* The datasheet side: vector lanes of each backend's ISA, and a small table of FMA ports per
 * core (and of mul/add pipes, for the SSE and scalar probes, which use no FMA) by CPU
 * family and model. The theoretical peak is cores x clock x lanes x FMA ports x 2.
 *
 * Sources: Intel 64 and IA-32 Architectures Optimization Reference Manual (port tables of
 * Haswell, Skylake, Sunny Cove, Golden Cove); Agner Fog's microarchitecture guide; AMD
 * Software Optimization Guides for families 17h and 19h. Where a product line differs by
 * SKU (Skylake-SP Silver/Bronze and some Gold 5xxx have one 512-bit FMA unit), the table
 * gives the common case and the measured ratio shown beside it settles it. */
#include <string.h>
#include "roofline.h"

roof_isa roof_isa_of(uint32_t f)
{
    /* an AMX module's probe is TDPBF16PS: 16 x 16 x 32 products in 16 cycles on Sapphire
     * Rapids, 1,024 flops a cycle, written as the 16 lanes of its 2 512-bit FMA ports x 2 x
     * a "dot" of 16 (the table's ports stay the FMA ports; the measured peak settles it) */
    if ((f & MGPT_CPU_AMX_TILE) && (f & MGPT_CPU_AMX_BF16))
        return (roof_isa){"amx_bf16", 16, 1, 16};
    /* a bf16 module's probe is VDPBF16PS on the FMA ports: 2 products per fp32 lane */
    if ((f & MGPT_CPU_AVX512F) && (f & MGPT_CPU_AVX512_BF16))
        return (roof_isa){"avx512_bf16", 16, 1, 2};
    if (f & MGPT_CPU_AVX512F)
        return (roof_isa){"avx512", 16, 1, 1};
    if ((f & MGPT_CPU_AVX2) && (f & MGPT_CPU_FMA))
        return (roof_isa){"avx2+fma", 8, 1, 1};
    if (f & MGPT_CPU_AVX)
        return (roof_isa){"avx", 8, 0, 1};
    if (f & (MGPT_CPU_SSE2 | MGPT_CPU_SSE3 | MGPT_CPU_SSSE3 | MGPT_CPU_SSE41 | MGPT_CPU_SSE42))
        return (roof_isa){"sse", 4, 0, 1};
#if defined(__x86_64__)
    /* no feature required: the scalar backend's plain C, which the compiler vectorises with
     * SSE2 (x86-64's baseline) in its kernels and its probe alike
     * (backends/scalar/Makefile.am): 4 lanes, separate mul and add */
    return (roof_isa){"sse2-auto", 4, 0, 1};
#else
    return (roof_isa){"scalar", 1, 0, 1};
#endif
}

int roof_isa_is_plain_c(const roof_isa *isa)
{
    return strcmp(isa->name, "sse2-auto") == 0 || strcmp(isa->name, "scalar") == 0;
}

typedef struct uarch_row {
    const char *vendor;        /* "GenuineIntel" / "AuthenticAMD" */
    int family;
    int model_lo, model_hi;    /* inclusive */
    const char *name;
    double fma512, fma256;     /* FMA ports for 512- and 256-bit vectors (0: no such ISA) */
    double muladd;             /* mul or add operations per cycle, scalar/128-bit, no FMA */
} uarch_row;

static const uarch_row table[] = {
    /* Intel: FMA on ports 0 and 1; Golden Cove adds fast FP adders on ports 1 and 5 */
    {"GenuineIntel", 6, 0x3C, 0x3C, "Haswell", 0, 2, 2},
    {"GenuineIntel", 6, 0x3F, 0x3F, "Haswell-E", 0, 2, 2},
    {"GenuineIntel", 6, 0x45, 0x46, "Haswell", 0, 2, 2},
    {"GenuineIntel", 6, 0x3D, 0x3D, "Broadwell", 0, 2, 2},
    {"GenuineIntel", 6, 0x47, 0x47, "Broadwell", 0, 2, 2},
    {"GenuineIntel", 6, 0x4F, 0x4F, "Broadwell-E", 0, 2, 2},
    {"GenuineIntel", 6, 0x56, 0x56, "Broadwell-DE", 0, 2, 2},
    {"GenuineIntel", 6, 0x4E, 0x4E, "Skylake", 0, 2, 2},
    {"GenuineIntel", 6, 0x5E, 0x5E, "Skylake", 0, 2, 2},
    {"GenuineIntel", 6, 0x8E, 0x8E, "Kaby/Coffee/Whiskey Lake", 0, 2, 2},
    {"GenuineIntel", 6, 0x9E, 0x9E, "Kaby/Coffee Lake", 0, 2, 2},
    {"GenuineIntel", 6, 0xA5, 0xA6, "Comet Lake", 0, 2, 2},
    {"GenuineIntel", 6, 0x55, 0x55, "Skylake-SP/Cascade Lake (Gold 6xxx, Platinum)", 2, 2, 2},
    {"GenuineIntel", 6, 0x6A, 0x6A, "Ice Lake-SP", 2, 2, 2},
    {"GenuineIntel", 6, 0x6C, 0x6C, "Ice Lake-D", 2, 2, 2},
    {"GenuineIntel", 6, 0x7D, 0x7E, "Ice Lake (client)", 1, 2, 2},
    {"GenuineIntel", 6, 0x8C, 0x8D, "Tiger Lake", 1, 2, 2},
    {"GenuineIntel", 6, 0xA7, 0xA7, "Rocket Lake", 1, 2, 2},
    {"GenuineIntel", 6, 0x97, 0x97, "Alder Lake (P-core)", 0, 2, 3},
    {"GenuineIntel", 6, 0x9A, 0x9A, "Alder Lake (P-core)", 0, 2, 3},
    {"GenuineIntel", 6, 0xB7, 0xB7, "Raptor Lake (P-core)", 0, 2, 3},
    {"GenuineIntel", 6, 0xBA, 0xBA, "Raptor Lake (P-core)", 0, 2, 3},
    {"GenuineIntel", 6, 0xBF, 0xBF, "Raptor Lake (P-core)", 0, 2, 3},
    {"GenuineIntel", 6, 0x8F, 0x8F, "Sapphire Rapids (Golden Cove)", 2, 2, 3},
    {"GenuineIntel", 6, 0xCF, 0xCF, "Emerald Rapids (Raptor Cove)", 2, 2, 3},
    {"GenuineIntel", 6, 0xAD, 0xAE, "Granite Rapids (Redwood Cove)", 2, 2, 3},
    /* AMD: two FMA/mul pipes and two add pipes; Zen 1 splits 256-bit ops in two halves,
     * Zen 4 runs 512-bit ops on its 256-bit pipes */
    {"AuthenticAMD", 0x17, 0x00, 0x2F, "Zen/Zen+", 0, 1, 4},
    {"AuthenticAMD", 0x17, 0x30, 0xFF, "Zen 2", 0, 2, 4},
    {"AuthenticAMD", 0x19, 0x00, 0x0F, "Zen 3", 0, 2, 4},
    {"AuthenticAMD", 0x19, 0x10, 0x1F, "Zen 4", 1, 2, 4},
    {"AuthenticAMD", 0x19, 0x20, 0x5F, "Zen 3", 0, 2, 4},
    {"AuthenticAMD", 0x19, 0x60, 0xAF, "Zen 4", 1, 2, 4},
};

roof_uarch roof_uarch_lookup(const char *vendor, int family, int model, const roof_isa *isa)
{
    roof_uarch u = {NULL, 0, "table"};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const uarch_row *r = &table[i];
        if (strcmp(vendor, r->vendor) != 0 || family != r->family || model < r->model_lo ||
            model > r->model_hi)
            continue;
        double p = !isa->fma ? r->muladd : isa->lanes >= 16 ? r->fma512 : r->fma256;
        if (p > 0) {
            u.name = r->name;
            u.pipes = p;
        }
        break;
    }
    return u;
}

double roof_flops_per_cycle(const roof_isa *isa, double pipes)
{
    /* an FMA port does 2 flops per lane per cycle (4 with VDPBF16PS); a mul or add pipe 1 */
    return isa->lanes * pipes * (isa->fma ? 2.0 : 1.0) * isa->dot;
}
