/* Element-wise ops: squared ReLU, residual add and its backward, and zeroing. */
#include <string.h>
#include "scalar.h"

/* flops 2*n, bytes 8*n */
void scalar_sqrelu_forward(const mgpt_ctx *ctx, float *out, const float *inp, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++) {
        float r = inp[i] > 0.0f ? inp[i] : 0.0f;
        out[i] = r * r;
    }
}

/* flops 4*n, bytes 16*n (writing: flops 3*n, bytes 12*n) */
void scalar_sqrelu_backward(const mgpt_ctx *ctx, float *dinp, const float *dout,
                            const float *inp, size_t n, unsigned write)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++) {
        float g = inp[i] > 0.0f ? 2.0f * inp[i] * dout[i] : 0.0f;
        dinp[i] = write & MGPT_WRITE_DINP ? g : dinp[i] + g;
    }
}

/* flops n, bytes 12*n */
void scalar_add_forward(const mgpt_ctx *ctx, float *out, const float *a, const float *b,
                        size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

/* flops n, bytes 12*n; writing: a copy, flops 0, bytes 8*n */
void scalar_accumulate(const mgpt_ctx *ctx, float *dst, const float *src, size_t n,
                       unsigned write)
{
    (void)ctx;
    if (write & MGPT_WRITE_DINP) {
        memcpy(dst, src, n * sizeof *dst);
        return;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] += src[i];
}

/* All-zero bytes are +0.0f in IEEE 754. flops 0, bytes 4*n */
void scalar_zero(const mgpt_ctx *ctx, float *x, size_t n)
{
    (void)ctx;
    memset(x, 0, n * sizeof *x);
}
