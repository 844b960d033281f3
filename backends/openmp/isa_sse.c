/* The SSE4.2 kernels (libsimd_sse.la) as an openmp_isa table: data only. The register tile
 * (4 rows x 3 vectors of 4) is GEMM_MR x GEMM_NV*SIMD_W of simd/vec_sse.h. */
#define MGPT_SIMD_SSE
#define ISA_TABLE openmp_isa_sse
#define ISA_NAME "sse"
#define ISA_ABOUT "4 floats per vector"
#define ISA_FEATURES (MGPT_CPU_SSE2 | MGPT_CPU_SSE3 | MGPT_CPU_SSSE3 | MGPT_CPU_SSE41 | \
                      MGPT_CPU_SSE42)
#define ISA_MR 4
#define ISA_NR 12
#include "isa_table.h"
