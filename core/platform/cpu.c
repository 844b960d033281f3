/* CPU features: libcpuid's view, cross-checked with our own CPUID reads, and gated by what
 * the OS saves on a context switch (XCR0 via XGETBV; libcpuid 0.6.2 never reads it, and
 * decodes the AVX-512 bits only on Intel). MGPT_CPU_DISABLE then masks features. */
#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libcpuid/libcpuid.h>
#include <mgpt/backend.h>
#include "platform/cpu.h"

static const struct { const char *name; uint32_t bit; } feature_table[] = {
    {"sse2", MGPT_CPU_SSE2},         {"sse3", MGPT_CPU_SSE3},
    {"ssse3", MGPT_CPU_SSSE3},       {"sse4.1", MGPT_CPU_SSE41},
    {"sse4.2", MGPT_CPU_SSE42},      {"avx", MGPT_CPU_AVX},
    {"fma", MGPT_CPU_FMA},           {"avx2", MGPT_CPU_AVX2},
    {"avx512f", MGPT_CPU_AVX512F},   {"avx512bw", MGPT_CPU_AVX512BW},
    {"avx512vl", MGPT_CPU_AVX512VL}, {"avx512dq", MGPT_CPU_AVX512DQ},
    {"avx512_bf16", MGPT_CPU_AVX512_BF16}, {"avx512_fp16", MGPT_CPU_AVX512_FP16},
    {"avx_vnni", MGPT_CPU_AVX_VNNI}, {"amx_tile", MGPT_CPU_AMX_TILE},
    {"amx_bf16", MGPT_CPU_AMX_BF16},
};
#define N_FEATURES (sizeof feature_table / sizeof feature_table[0])

#define XCR0_SSE (1u << 1)
#define XCR0_AVX (1u << 2)
#define XCR0_AVX512 ((1u << 5) | (1u << 6) | (1u << 7)) /* opmask, ZMM_Hi256, Hi16_ZMM */
#define XCR0_AMX ((1u << 17) | (1u << 18))              /* XTILECFG, XTILEDATA */
#define AVX512_BITS (MGPT_CPU_AVX512F | MGPT_CPU_AVX512BW | MGPT_CPU_AVX512VL | \
                     MGPT_CPU_AVX512DQ | MGPT_CPU_AVX512_BF16 | MGPT_CPU_AVX512_FP16)

static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* Features the CPU reports through CPUID, read directly. */
static uint32_t cpuid_features(int *osxsave)
{
    unsigned a, b, c, d;
    uint32_t f = 0;
    *osxsave = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    if (d & (1u << 26)) f |= MGPT_CPU_SSE2;
    if (c & (1u << 0))  f |= MGPT_CPU_SSE3;
    if (c & (1u << 9))  f |= MGPT_CPU_SSSE3;
    if (c & (1u << 12)) f |= MGPT_CPU_FMA;
    if (c & (1u << 19)) f |= MGPT_CPU_SSE41;
    if (c & (1u << 20)) f |= MGPT_CPU_SSE42;
    if (c & (1u << 28)) f |= MGPT_CPU_AVX;
    *osxsave = (c >> 27) & 1;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        if (b & (1u << 5))  f |= MGPT_CPU_AVX2;
        if (b & (1u << 16)) f |= MGPT_CPU_AVX512F;
        if (b & (1u << 17)) f |= MGPT_CPU_AVX512DQ;
        if (b & (1u << 30)) f |= MGPT_CPU_AVX512BW;
        if (b & (1u << 31)) f |= MGPT_CPU_AVX512VL;
        if (d & (1u << 22)) f |= MGPT_CPU_AMX_BF16;
        if (d & (1u << 23)) f |= MGPT_CPU_AVX512_FP16;
        if (d & (1u << 24)) f |= MGPT_CPU_AMX_TILE;
        /* subleaf 1 exists when subleaf 0 says so in EAX */
        if (a >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) {
            if (a & (1u << 4)) f |= MGPT_CPU_AVX_VNNI;
            if (a & (1u << 5)) f |= MGPT_CPU_AVX512_BF16;
        }
    }
    return f;
}

static uint32_t libcpuid_features(const struct cpu_id_t *id)
{
    static const struct { int flag; uint32_t bit; } map[] = {
        {CPU_FEATURE_SSE2, MGPT_CPU_SSE2},         {CPU_FEATURE_PNI, MGPT_CPU_SSE3},
        {CPU_FEATURE_SSSE3, MGPT_CPU_SSSE3},       {CPU_FEATURE_SSE4_1, MGPT_CPU_SSE41},
        {CPU_FEATURE_SSE4_2, MGPT_CPU_SSE42},      {CPU_FEATURE_AVX, MGPT_CPU_AVX},
        {CPU_FEATURE_FMA3, MGPT_CPU_FMA},          {CPU_FEATURE_AVX2, MGPT_CPU_AVX2},
        {CPU_FEATURE_AVX512F, MGPT_CPU_AVX512F},   {CPU_FEATURE_AVX512BW, MGPT_CPU_AVX512BW},
        {CPU_FEATURE_AVX512VL, MGPT_CPU_AVX512VL}, {CPU_FEATURE_AVX512DQ, MGPT_CPU_AVX512DQ},
    };
    uint32_t f = 0;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (id->flags[map[i].flag])
            f |= map[i].bit;
    return f;
}

static mgpt_cpu_info hw;  /* hardware view, detected once */
static int hw_done;

static void detect_hardware(void)
{
    memset(&hw, 0, sizeof hw);
    hw.clock_mhz = -1;
    int osxsave;
    uint32_t f = cpuid_features(&osxsave);
    struct cpu_id_t id;
    /* cpu_identify, not cpu_identify_all: the latter leaves the thread pinned (0.6.2) */
    if (cpuid_present() && cpu_identify(NULL, &id) == 0) {
        hw.libcpuid_ok = 1;
        snprintf(hw.vendor, sizeof hw.vendor, "%s", id.vendor_str);
        /* libcpuid keeps the brand string's padding ("... Processor             ") */
        const char *b = id.brand_str;
        while (*b == ' ')
            b++;
        snprintf(hw.brand, sizeof hw.brand, "%s", b);
        for (size_t n = strlen(hw.brand); n > 0 && hw.brand[n - 1] == ' '; n--)
            hw.brand[n - 1] = '\0';
        hw.family = id.ext_family; /* the displayed family and model (Intel SDM) */
        hw.model = id.ext_model;
        hw.stepping = id.stepping;
        hw.cores = id.num_cores;
        hw.logical_cpus = id.num_logical_cpus;
        hw.clock_mhz = cpu_clock_by_os();
        /* union: libcpuid reads 0 for AVX-512 on AMD; our CPUID read fills that in */
        f |= libcpuid_features(&id);
    }
    /* The OS must save the registers: without XSAVE enabled only SSE state is safe. */
    hw.xcr0 = osxsave ? read_xcr0() : 0;
    if ((hw.xcr0 & (XCR0_SSE | XCR0_AVX)) != (XCR0_SSE | XCR0_AVX))
        f &= ~(uint32_t)(MGPT_CPU_AVX | MGPT_CPU_FMA | MGPT_CPU_AVX2 | MGPT_CPU_AVX_VNNI);
    if ((hw.xcr0 & (XCR0_SSE | XCR0_AVX | XCR0_AVX512)) != (XCR0_SSE | XCR0_AVX | XCR0_AVX512))
        f &= ~(uint32_t)AVX512_BITS;
    /* AMX also needs the process' permission (arch_prctl ARCH_REQ_XCOMP_PERM): an AMX
     * backend asks for it in init, and a refusal fails its init with the reason */
    if ((hw.xcr0 & XCR0_AMX) != XCR0_AMX)
        f &= ~(uint32_t)(MGPT_CPU_AMX_TILE | MGPT_CPU_AMX_BF16);
    hw.hw_features = f;
    hw_done = 1;
}

uint32_t mgpt_cpu_feature_bit(const char *name)
{
    for (size_t i = 0; i < N_FEATURES; i++)
        if (strcmp(name, feature_table[i].name) == 0)
            return feature_table[i].bit;
    /* common spellings */
    if (strcmp(name, "sse41") == 0 || strcmp(name, "sse4_1") == 0)
        return MGPT_CPU_SSE41;
    if (strcmp(name, "sse42") == 0 || strcmp(name, "sse4_2") == 0)
        return MGPT_CPU_SSE42;
    if (strcmp(name, "fma3") == 0)
        return MGPT_CPU_FMA;
    if (strcmp(name, "avx512bf16") == 0)   /* /proc/cpuinfo says avx512_bf16 */
        return MGPT_CPU_AVX512_BF16;
    if (strcmp(name, "avx512fp16") == 0)
        return MGPT_CPU_AVX512_FP16;
    if (strcmp(name, "avxvnni") == 0)
        return MGPT_CPU_AVX_VNNI;
    return 0;
}

static uint32_t known_features(void)
{
    uint32_t known = 0;
    for (size_t i = 0; i < N_FEATURES; i++)
        known |= feature_table[i].bit;
    return known;
}

int mgpt_cpu_parse_features(const char *list, uint32_t *mask, char *err, size_t errlen)
{
    *mask = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok;
         tok = strtok_r(NULL, ", ", &save)) {
        uint32_t bit = mgpt_cpu_feature_bit(tok);
        if (!bit) {
            char names[256];
            mgpt_cpu_feature_names(known_features(), names, sizeof names);
            snprintf(err, errlen, "unknown CPU feature '%s' (known: %s)", tok, names);
            return -1;
        }
        *mask |= bit;
    }
    return 0;
}

void mgpt_cpu_feature_names(uint32_t mask, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_FEATURES; i++) {
        if (!(mask & feature_table[i].bit))
            continue;
        int n = snprintf(buf + used, len - used, "%s%s", used ? " " : "", feature_table[i].name);
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
    }
    /* bits no name stands for (a module built against a newer feature list): named as
     * bits, so that "needs" is never followed by nothing */
    uint32_t unknown = mask & ~known_features();
    if (unknown && used < len)
        snprintf(buf + used, len - used, "%sunknown feature bits 0x%x", used ? " " : "",
                 (unsigned)unknown);
}

int mgpt_cpu_detect(mgpt_cpu_info *out, char *err, size_t errlen)
{
    if (!hw_done)
        detect_hardware();
    *out = hw;
    const char *mask = getenv("MGPT_CPU_DISABLE");
    if (mask && *mask) {
        char e[400];
        if (mgpt_cpu_parse_features(mask, &out->masked, e, sizeof e) != 0) {
            snprintf(err, errlen, "MGPT_CPU_DISABLE: %s", e);
            return -1;
        }
    }
    out->features = out->hw_features & ~out->masked;
    return 0;
}
