/* What this CPU (and its OS) can run: libcpuid for the features, our own XGETBV for the
 * register state the OS saves, and MGPT_CPU_DISABLE to mask features by hand. */
#ifndef MGPT_CPU_H
#define MGPT_CPU_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mgpt_cpu_info {
    char vendor[32];
    char brand[64];
    int family, model, stepping;
    int cores, logical_cpus;     /* as libcpuid reports them */
    int clock_mhz;               /* libcpuid's OS/TSC reading (nominal), -1 if unknown */
    uint32_t hw_features;        /* MGPT_CPU_* bits the CPU and the OS support */
    uint32_t masked;             /* bits removed by MGPT_CPU_DISABLE */
    uint32_t features;           /* hw_features & ~masked: what backends may use */
    uint64_t xcr0;               /* 0 if the OS has not enabled XSAVE */
    int libcpuid_ok;             /* 0 if libcpuid failed (features from CPUID only) */
} mgpt_cpu_info;

/* Detects once and caches; MGPT_CPU_DISABLE is read at the first call. Returns 0, or -1
 * with err set when MGPT_CPU_DISABLE names an unknown feature. */
int mgpt_cpu_detect(mgpt_cpu_info *out, char *err, size_t errlen);

/* "sse4.2 avx2 fma" style names of the bits in mask, space separated; bits without a name
 * as "unknown feature bits 0x80000000". */
void mgpt_cpu_feature_names(uint32_t mask, char *buf, size_t len);
/* One feature name ("avx512f") to its bit; 0 if unknown. */
uint32_t mgpt_cpu_feature_bit(const char *name);
/* Parses a comma/space separated list; -1 with err naming the unknown entry. */
int mgpt_cpu_parse_features(const char *list, uint32_t *mask, char *err, size_t errlen);
#ifdef __cplusplus
}
#endif
#endif
