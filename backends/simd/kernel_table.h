/* The kernel table and probes of a SIMD module, every slot with its ISA's prefix
 * (SIMD_FN: avx512_matmul_forward in the AVX-512 module). Included by each module's
 * descriptor.c, after it defines MGPT_SIMD_<ISA>: data only, compiled without ISA flags.
 * One place for the four modules: a slot the SIMD sources implement is added here.
 * The bf16 modules (SIMD_BF16) are the AVX-512 table with their own GEMM and attention
 * slots (bf16 products) and peak probe: SIMD_BF16_FN and SIMD_PEAK_FN pick them. */
#include "simd/kernels.h"

#ifdef SIMD_BF16
#define SIMD_BF16_FN(name) SIMD_FN(name##_bf16)
#define SIMD_PEAK_FN(name) SIMD_FN(name##_bf16)
#else
#define SIMD_BF16_FN(name) SIMD_FN(name)
#define SIMD_PEAK_FN(name) SIMD_FN(name)
#endif

static const mgpt_kernels kernels = {
    .embed_forward = SIMD_FN(embed_forward),
    .embed_backward = SIMD_FN(embed_backward),
    .rmsnorm_forward = SIMD_FN(rmsnorm_forward),
    .rmsnorm_backward = SIMD_FN(rmsnorm_backward),
    .matmul_forward = SIMD_BF16_FN(matmul_forward),
    .matmul_backward_dinp = SIMD_BF16_FN(matmul_backward_dinp),
    .matmul_backward_dw = SIMD_BF16_FN(matmul_backward_dw),
    .attention_forward = SIMD_BF16_FN(attention_forward),
    .attention_backward = SIMD_BF16_FN(attention_backward),
    .sqrelu_forward = SIMD_FN(sqrelu_forward),
    .sqrelu_backward = SIMD_FN(sqrelu_backward),
    .add_forward = SIMD_FN(add_forward),
    .accumulate = SIMD_FN(accumulate),
    .crossentropy_forward = SIMD_FN(crossentropy_forward),
    .crossentropy_backward = SIMD_FN(crossentropy_backward),
    .sumsq = SIMD_FN(sumsq),
    .adam_update = SIMD_FN(adam_update),
    .zero = SIMD_FN(zero),
    .attention_decode = SIMD_FN(attention_decode),
};

static const mgpt_probes probes = {
    .peak_flops = SIMD_PEAK_FN(peak_flops),
    .stream_read = SIMD_FN(stream_read),
};
