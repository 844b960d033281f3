/* A template backend: copy this folder, rename "template" everywhere (sed -i
 * s/template/mine/g *.c Makefile), implement kernels.
 *
 * Build it outside the mgpt tree with the installed SDK (the Makefile beside this file):
 *     make          (cc -O2 -fPIC -shared $(pkg-config --cflags mgpt-backend) ...)
 *     make check    (mgpt-check-backend ./mgpt_mine.so: every slot against the reference)
 * then MGPT_PLUGIN_PATH=$PWD mgpt --backend=mine train.
 *
 * Rules of the ABI, version 4.0 (mgpt/backend.h; the slots, their prototypes, FLOP/byte
 * counts and splits are in mgpt/kernel_list.h):
 *  - the file is mgpt_<name>.so and exports exactly one symbol, mgpt_backend_<name>;
 *  - that descriptor is const plain data: the loader reads it before running any of your
 *    code; start it with MGPT_BACKEND_DESC_HEADER (the ABI major and minor you build for,
 *    the descriptor's size and your table's slot count);
 *  - compile the descriptor without ISA flags (-mavx2 …): put ISA code in other objects;
 *  - no constructors (__attribute__((constructor)), C++ static objects);
 *  - declare each kernel with its slot's type (mgpt_<slot>_fn, below) so the compiler
 *    checks it against the list; every kernel takes a `const mgpt_ctx *ctx` first;
 *  - no mutable globals: several instances of a backend can be open in one process. State
 *    (workspaces, tables chosen at init) goes in the instance that init returns; kernels
 *    find it in ctx->instance, and ctx->thread (0 <= it < env->num_threads) says which
 *    per-thread part of it to use. A stateless backend like this one needs no init;
 *  - the engine owns the threads: it may call a kernel concurrently on disjoint parts of
 *    its output (each slot's split); a split must never change a result;
 *  - any kernel left NULL falls back to the scalar reference kernel, and so does any slot
 *    past the end of your table (a module built for an older minor has fewer slots);
 *  - the engine refuses a module of another ABI major; a new minor only adds slots at the
 *    end of the list, so a module keeps loading across minors;
 *  - backward kernels accumulate (+=), except into a gradient whose MGPT_WRITE_* bit is
 *    set in their `write` argument: that one they store (=) without reading it first;
 *  - kernels never allocate, results are deterministic; precision MGPT_PRECISION_FP32
 *    means float32 arithmetic, the reference's order up to reassociation.
 * This template implements the element-wise kernels only, which is already a valid backend.
 */
#include <mgpt/backend.h>

static mgpt_sqrelu_forward_fn template_sqrelu_forward;
static mgpt_sqrelu_backward_fn template_sqrelu_backward;
static mgpt_add_forward_fn template_add_forward;
static mgpt_accumulate_fn template_accumulate;
static mgpt_zero_fn template_zero;

/* flops 2*n, bytes 8*n */
static void template_sqrelu_forward(const mgpt_ctx *ctx, float *out, const float *inp, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++) {
        float r = inp[i] > 0.0f ? inp[i] : 0.0f;
        out[i] = r * r;
    }
}

/* flops 4*n, bytes 16*n (writing dinp: flops 3*n, bytes 12*n) */
static void template_sqrelu_backward(const mgpt_ctx *ctx, float *dinp, const float *dout,
                                     const float *inp, size_t n, unsigned write)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++) {
        float g = inp[i] > 0.0f ? 2.0f * inp[i] * dout[i] : 0.0f;
        dinp[i] = write & MGPT_WRITE_DINP ? g : dinp[i] + g;
    }
}

/* flops n, bytes 12*n */
static void template_add_forward(const mgpt_ctx *ctx, float *out, const float *a,
                                 const float *b, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

/* flops n, bytes 12*n (a copy when writing dst: flops 0, bytes 8*n) */
static void template_accumulate(const mgpt_ctx *ctx, float *dst, const float *src, size_t n,
                                unsigned write)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        dst[i] = write & MGPT_WRITE_DINP ? src[i] : dst[i] + src[i];
}

/* flops 0, bytes 4*n */
static void template_zero(const mgpt_ctx *ctx, float *x, size_t n)
{
    (void)ctx;
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
    MGPT_BACKEND_DESC_HEADER,
    .name = "template",
    .description = "template backend: element-wise kernels only, the rest from scalar",
    .required_features = MGPT_CPU_SSE2,
    .priority = -10, /* below scalar: only used when forced with --backend=template */
    .precision = MGPT_PRECISION_FP32,
    .kernels = &kernels,
    .probes = NULL,
    .init = NULL,   /* stateless: no instance (ctx->instance is NULL) */
    .shutdown = NULL,
};
