/* The AVX2 + FMA kernels (libsimd_avx2.la) as an openmp_isa table: data only. The register
 * tile (4 rows x 3 vectors of 8) is GEMM_MR x GEMM_NV*SIMD_W of simd/vec_avx2.h. */
#define MGPT_SIMD_AVX2
#define ISA_TABLE openmp_isa_avx2
#define ISA_NAME "avx2"
#define ISA_ABOUT "8 floats per vector"
#define ISA_FEATURES (MGPT_CPU_SSE2 | MGPT_CPU_SSE3 | MGPT_CPU_SSSE3 | MGPT_CPU_SSE41 | \
                      MGPT_CPU_SSE42 | MGPT_CPU_AVX | MGPT_CPU_FMA | MGPT_CPU_AVX2)
#define ISA_MR 4
#define ISA_NR 24
#include "isa_table.h"
