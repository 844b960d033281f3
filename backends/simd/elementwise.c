/* Element-wise ops: squared ReLU, residual add and its backward, and zeroing. Same
 * operations in the same order as the scalar reference, lane by lane. */
#include "simd/simd.h"

static inline vec sqrelu(vec x)
{
    vec r = v_max(x, v_zero());
    return v_mul(r, r);
}

/* flops 2*n, bytes 8*n */
void SIMD_FN(sqrelu_forward)(const mgpt_ctx *ctx, float *out, const float *inp, size_t n)
{
    (void)ctx;
    size_t i = 0;
    for (; i + SIMD_W <= n; i += SIMD_W)
        v_store(out + i, sqrelu(v_load(inp + i)));
    if (i < n)
        v_store_part(out + i, sqrelu(v_load_part(inp + i, (int)(n - i))), (int)(n - i));
}

/* (inp > 0) ? 2*inp*dout : 0 */
static inline vec sqrelu_grad(vec dy, vec x)
{
    vec g = v_mul(v_mul(v_set1(2.0f), x), dy);
    return v_and_mask(g, v_gt(x, v_zero()));
}

/* dinp += (add) or = the gradient; add is a constant in each call below, so the store
 * loop never loads dinp */
SIMD_ALWAYS_INLINE void sqrelu_backward_body(float *dinp, const float *dout, const float *inp,
                                             size_t n, const int add)
{
    size_t i = 0;
    for (; i + SIMD_W <= n; i += SIMD_W) {
        vec g = sqrelu_grad(v_load(dout + i), v_load(inp + i));
        v_store(dinp + i, add ? v_add(v_load(dinp + i), g) : g);
    }
    if (i < n) {
        int r = (int)(n - i);
        vec g = sqrelu_grad(v_load_part(dout + i, r), v_load_part(inp + i, r));
        v_store_part(dinp + i, add ? v_add(v_load_part(dinp + i, r), g) : g, r);
    }
}

/* flops 4*n, bytes 16*n (writing dinp: flops 3*n, bytes 12*n) */
void SIMD_FN(sqrelu_backward)(const mgpt_ctx *ctx, float *dinp, const float *dout,
                              const float *inp, size_t n, unsigned write)
{
    (void)ctx;
    if (write & MGPT_WRITE_DINP)
        sqrelu_backward_body(dinp, dout, inp, n, 0);
    else
        sqrelu_backward_body(dinp, dout, inp, n, 1);
}

/* flops n, bytes 12*n */
void SIMD_FN(add_forward)(const mgpt_ctx *ctx, float *out, const float *a, const float *b,
                          size_t n)
{
    (void)ctx;
    size_t i = 0;
    for (; i + SIMD_W <= n; i += SIMD_W)
        v_store(out + i, v_add(v_load(a + i), v_load(b + i)));
    if (i < n) {
        int r = (int)(n - i);
        v_store_part(out + i, v_add(v_load_part(a + i, r), v_load_part(b + i, r)), r);
    }
}

/* dst += (add) or = src */
SIMD_ALWAYS_INLINE void accumulate_body(float *dst, const float *src, size_t n, const int add)
{
    size_t i = 0;
    for (; i + SIMD_W <= n; i += SIMD_W)
        v_store(dst + i, add ? v_add(v_load(dst + i), v_load(src + i)) : v_load(src + i));
    if (i < n) {
        int r = (int)(n - i);
        vec s = v_load_part(src + i, r);
        v_store_part(dst + i, add ? v_add(v_load_part(dst + i, r), s) : s, r);
    }
}

/* dst += src: flops n, bytes 12*n; dst = src (writing): flops 0, bytes 8*n. The copy is
 * this loop rather than memcpy, whose large copies bypass the cache (non-temporal stores)
 * while the next kernel reads dst. */
void SIMD_FN(accumulate)(const mgpt_ctx *ctx, float *dst, const float *src, size_t n,
                         unsigned write)
{
    (void)ctx;
    if (write & MGPT_WRITE_DINP)
        accumulate_body(dst, src, n, 0);
    else
        accumulate_body(dst, src, n, 1);
}

/* x[0..n) = 0 (also crossentropy_backward's masked rows, when written). flops 0, bytes 4*n */
void SIMD_FN(zero)(const mgpt_ctx *ctx, float *x, size_t n)
{
    (void)ctx;
    size_t i = 0;
    for (; i + SIMD_W <= n; i += SIMD_W)
        v_store(x + i, v_zero());
    if (i < n)
        v_store_part(x + i, v_zero(), (int)(n - i));
}
