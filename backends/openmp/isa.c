/* The kernel libraries this build of the module links, best first (configure skips an ISA
 * the compiler cannot build; SSE is always there). Data only. */
#include <stddef.h>
#include "openmp.h"

const openmp_isa *const openmp_isas[] = {
#ifdef MGPT_OPENMP_HAVE_AVX512
    &openmp_isa_avx512,
#endif
#ifdef MGPT_OPENMP_HAVE_AVX2
    &openmp_isa_avx2,
#endif
    &openmp_isa_sse,
    NULL,
};
