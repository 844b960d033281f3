/* One openmp_isa table: the functions of one SIMD kernel library. Included by isa_sse.c,
 * isa_avx2.c and isa_avx512.c after each defines MGPT_SIMD_<ISA> (which picks the name
 * prefix in simd/kernels.h) and ISA_TABLE, ISA_NAME, ISA_ABOUT, ISA_FEATURES, ISA_MR and
 * ISA_NR. Data only: these objects are compiled without ISA flags. */
#include "simd/kernels.h"
#include "openmp.h"

const openmp_isa ISA_TABLE = {
    .name = ISA_NAME,
    .about = ISA_ABOUT,
    .features = ISA_FEATURES,
    .gemm_mr = ISA_MR,
    .gemm_nr = ISA_NR,
    .embed_forward = SIMD_FN(embed_forward),
    .embed_backward_range = SIMD_FN(embed_backward_range),
    .rmsnorm_forward = SIMD_FN(rmsnorm_forward),
    .rmsnorm_backward = SIMD_FN(rmsnorm_backward),
    .gemm_work_floats = SIMD_FN(gemm_work_floats),
    .matmul_forward_range = SIMD_FN(matmul_forward_range),
    .matmul_backward_dinp_range = SIMD_FN(matmul_backward_dinp_range),
    .matmul_backward_dw_range = SIMD_FN(matmul_backward_dw_range),
    .attention_forward_range = SIMD_FN(attention_forward_range),
    .attention_backward_range = SIMD_FN(attention_backward_range),
    .sqrelu_forward = SIMD_FN(sqrelu_forward),
    .sqrelu_backward = SIMD_FN(sqrelu_backward),
    .add_forward = SIMD_FN(add_forward),
    .accumulate = SIMD_FN(accumulate),
    .zero = SIMD_FN(zero),
    .crossentropy_forward = SIMD_FN(crossentropy_forward),
    .crossentropy_backward = SIMD_FN(crossentropy_backward),
    .sumsq = SIMD_FN(sumsq),
    .adam_update = SIMD_FN(adam_update),
    .peak_flops = SIMD_FN(peak_flops),
    .stream_read = SIMD_FN(stream_read),
};
