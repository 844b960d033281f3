/* A template backend: copy this file, rename "template" everywhere, implement kernels.
 *
 * Build it outside the mgpt tree with the installed SDK (see Makefile beside this file):
 *     cc -O2 -fPIC -shared $(pkg-config --cflags mgpt-backend) -o mgpt_mine.so mgpt_mine.c
 * then put mgpt_mine.so in a folder on MGPT_PLUGIN_PATH and run `mgpt backends --verbose`.
 *
 * Rules of the ABI (plugins/mgpt/backend.h):
 *  - the file is mgpt_<name>.so and exports exactly one symbol, mgpt_backend_<name>;
 *  - that descriptor is plain data: the loader reads it before running any of your code;
 *  - compile the descriptor without ISA flags (-mavx2 …): put ISA code in other objects;
 *  - no constructors (__attribute__((constructor)), C++ static objects);
 *  - any kernel left NULL falls back to the scalar reference kernel;
 *  - backward kernels accumulate (+=), except into a gradient whose MGPT_WRITE_* bit is
 *    set in their `write` argument: that one they store (=) without reading it first;
 *  - kernels never allocate, results are deterministic.
 * This template implements the element-wise kernels only, which is already a valid backend.
 */
#include <mgpt/backend.h>

/* flops 2*n, bytes 8*n */
static void template_sqrelu_forward(float *out, const float *inp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float r = inp[i] > 0.0f ? inp[i] : 0.0f;
        out[i] = r * r;
    }
}

/* flops 4*n, bytes 16*n (12*n when writing dinp) */
static void template_sqrelu_backward(float *dinp, const float *dout, const float *inp, size_t n,
                                     unsigned write)
{
    for (size_t i = 0; i < n; i++) {
        float g = inp[i] > 0.0f ? 2.0f * inp[i] * dout[i] : 0.0f;
        dinp[i] = write & MGPT_WRITE_DINP ? g : dinp[i] + g;
    }
}

/* flops n, bytes 12*n */
static void template_add_forward(float *out, const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

/* flops n, bytes 12*n (a copy when writing dst: bytes 8*n) */
static void template_accumulate(float *dst, const float *src, size_t n, unsigned write)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = write & MGPT_WRITE_DINP ? src[i] : dst[i] + src[i];
}

/* flops 0, bytes 4*n */
static void template_zero(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = 0.0f;
}

static const mgpt_kernels kernels = {
    .sqrelu_forward = template_sqrelu_forward,
    .sqrelu_backward = template_sqrelu_backward,
    .add_forward = template_add_forward,
    .accumulate = template_accumulate,
    .zero = template_zero,
    /* every other slot NULL: the scalar reference runs those ops */
};

const mgpt_backend_desc mgpt_backend_template = {
    .abi_version = MGPT_BACKEND_ABI_VERSION,
    .desc_size = sizeof(mgpt_backend_desc),
    .name = "template",
    .description = "template backend: element-wise kernels only, the rest from scalar",
    .required_features = MGPT_CPU_SSE2,
    .priority = -10, /* below scalar: only used when forced with --backend=template */
    .kernels = &kernels,
    .probes = NULL,
    .init = NULL,
    .shutdown = NULL,
};
