/* The AVX-512 kernels (libsimd_avx512.la) as an openmp_isa table: data only. The register
 * tile (8 rows x 3 vectors of 16) is GEMM_MR x GEMM_NV*SIMD_W of simd/vec_avx512.h. */
#define MGPT_SIMD_AVX512
#define ISA_TABLE openmp_isa_avx512
#define ISA_NAME "avx512"
#define ISA_ABOUT "16 floats per vector"
#define ISA_FEATURES (MGPT_CPU_SSE2 | MGPT_CPU_SSE3 | MGPT_CPU_SSSE3 | MGPT_CPU_SSE41 | \
                      MGPT_CPU_SSE42 | MGPT_CPU_AVX | MGPT_CPU_FMA | MGPT_CPU_AVX2 | \
                      MGPT_CPU_AVX512F | MGPT_CPU_AVX512BW | MGPT_CPU_AVX512VL |      \
                      MGPT_CPU_AVX512DQ)
#define ISA_MR 8
#define ISA_NR 48
#include "isa_table.h"
