/* The scalar backend's descriptor: data only, read by the loader before any code runs.
 * The kernels and probes live in libscalar_kernels.la, which the engine links too (its
 * fallback for slots other backends leave NULL). */
#include "scalar.h"

static const mgpt_kernels kernels = {
    .embed_forward = scalar_embed_forward,
    .embed_backward = scalar_embed_backward,
    .rmsnorm_forward = scalar_rmsnorm_forward,
    .rmsnorm_backward = scalar_rmsnorm_backward,
    .matmul_forward = scalar_matmul_forward,
    .matmul_backward_dinp = scalar_matmul_backward_dinp,
    .matmul_backward_dw = scalar_matmul_backward_dw,
    .attention_forward = scalar_attention_forward,
    .attention_backward = scalar_attention_backward,
    .sqrelu_forward = scalar_sqrelu_forward,
    .sqrelu_backward = scalar_sqrelu_backward,
    .add_forward = scalar_add_forward,
    .accumulate = scalar_accumulate,
    .crossentropy_forward = scalar_crossentropy_forward,
    .crossentropy_backward = scalar_crossentropy_backward,
    .sumsq = scalar_sumsq,
    .adam_update = scalar_adam_update,
    .zero = scalar_zero,
};

static const mgpt_probes probes = {
    .peak_flops = scalar_peak_flops,
    .stream_read = scalar_stream_read,
};

const mgpt_backend_desc mgpt_backend_scalar = {
    MGPT_BACKEND_DESC_HEADER,
    .name = "scalar",
    .description = "portable C reference kernels (no SIMD)",
    .required_features = 0,
    .priority = 0,
    .precision = MGPT_PRECISION_FP32,
    .tile_rows = 0,
    .tile_cols = 0,
    .kernels = &kernels,
    .probes = &probes,
    .init = NULL,
    .shutdown = NULL,
};
