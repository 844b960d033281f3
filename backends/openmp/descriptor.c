/* The OpenMP backend's descriptor: data only, compiled without ISA flags and without the
 * OpenMP flags, so the loader can read it on any x86 CPU before the feature check. It needs
 * only what the SSE kernels need: init() then composes the best kernels the CPU runs
 * (avx512, avx2 or sse; see openmp.h), so masking avx512f (MGPT_CPU_DISABLE) makes it
 * run the avx2 ones. Until init() it runs the SSE ones. */
#include "openmp.h"

/* What `mgpt backends` prints; init() replaces it with the kernels it composed. */
char openmp_description[160] = OPENMP_DESCRIPTION;

static const mgpt_kernels kernels = {
    .embed_forward = openmp_embed_forward,
    .embed_backward = openmp_embed_backward,
    .rmsnorm_forward = openmp_rmsnorm_forward,
    .rmsnorm_backward = openmp_rmsnorm_backward,
    .matmul_forward = openmp_matmul_forward,
    .matmul_backward = openmp_matmul_backward,
    .attention_forward = openmp_attention_forward,
    .attention_backward = openmp_attention_backward,
    .sqrelu_forward = openmp_sqrelu_forward,
    .sqrelu_backward = openmp_sqrelu_backward,
    .add_forward = openmp_add_forward,
    .accumulate = openmp_accumulate,
    .crossentropy_forward = openmp_crossentropy_forward,
    .crossentropy_backward = openmp_crossentropy_backward,
    .sumsq = openmp_sumsq,
    .adam_update = openmp_adam_update,
    .zero = openmp_zero,
};

/* The probes of the composed ISA, single-threaded: mgpt-roofline runs them on its own
 * threads, one per core. */
static const mgpt_probes probes = {
    .peak_flops = openmp_peak_flops,
    .stream_read = openmp_stream_read,
    .isa_features = openmp_isa_features,
};

const mgpt_backend_desc mgpt_backend_openmp = {
    .abi_version = MGPT_BACKEND_ABI_VERSION,
    .desc_size = sizeof(mgpt_backend_desc),
    .name = "openmp",
    .description = openmp_description,
    .required_features = MGPT_CPU_SSE2 | MGPT_CPU_SSE3 | MGPT_CPU_SSSE3 | MGPT_CPU_SSE41 |
                         MGPT_CPU_SSE42,
    .priority = 40,
    .flags = MGPT_BACKEND_THREADED,
    .kernels = &kernels,
    .probes = &probes,
    .init = openmp_backend_init,
    .shutdown = openmp_backend_shutdown,
};
