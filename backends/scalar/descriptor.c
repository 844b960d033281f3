/* The scalar backend's descriptor: data only, read by the loader before any code runs.
 * The kernels and probes live in libscalar_kernels.la, which the engine links too (its
 * fallback for slots other backends leave NULL). */
#include "scalar.h"

/* every slot: the reference column of mgpt/kernel_list.h (a new slot's scalar kernel is
 * the list's entry and its definition, nothing here) */
#define SCALAR_SLOT(id, field, ref, ret, params, split, flops, bytes) .field = ref,
static const mgpt_kernels kernels = {MGPT_KERNEL_LIST(SCALAR_SLOT)};
#undef SCALAR_SLOT

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
