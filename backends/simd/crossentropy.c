/* Softmax + cross-entropy over the vocabulary, with masked (target < 0) rows. */
#include <math.h>
#include "simd/simd.h"

/* flops ~5*N*V, bytes 8*N*V */
void SIMD_FN(crossentropy_forward)(const mgpt_ctx *ctx, float *loss, float *probs,
                                   const float *logits, const int *targets, int N, int V)
{
    (void)ctx;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * V;
        float *p = probs + (size_t)n * V;
        float maxv = simd_max(z, V);
        float sum = simd_softmax(p, z, V, 1.0f, maxv);
        /* -log softmax from the logits, not log(p): exact for tiny p */
        loss[n] = targets[n] < 0 ? 0.0f : logf(sum) - (z[targets[n]] - maxv);
    }
}

/* dz += (add) or = dloss * (p - onehot(target)) for rows [0, N); add is a constant in
 * each call below, so the store loops never load dz */
SIMD_ALWAYS_INLINE void crossentropy_backward_body(const mgpt_ctx *ctx, float *dlogits,
                                                   const float *probs, const int *targets,
                                                   float dloss, int N, int V, const int add)
{
    vec d = v_set1(dloss);
    for (int n = 0; n < N; n++) {
        int t = targets[n];
        float *dz = dlogits + (size_t)n * V;
        if (t < 0) {                /* masked: no gradient, so a written row is 0 */
            if (!add)
                SIMD_FN(zero)(ctx, dz, (size_t)V);
            continue;
        }
        const float *p = probs + (size_t)n * V;
        float dz_t = add ? dz[t] : 0.0f;    /* the target's term, p - 1, is redone below */
        int i = 0;
        for (; i + SIMD_W <= V; i += SIMD_W) {
            vec g = v_mul(d, v_load(p + i));
            v_store(dz + i, add ? v_add(v_load(dz + i), g) : g);
        }
        if (i < V) {
            vec g = v_mul(d, v_load_part(p + i, V - i));
            v_store_part(dz + i, add ? v_add(v_load_part(dz + i, V - i), g) : g, V - i);
        }
        dz[t] = dz_t + dloss * (p[t] - 1.0f);
    }
}

/* flops 3*N*V, bytes 12*N*V (writing dlogits: flops 2*N*V, bytes 8*N*V) */
void SIMD_FN(crossentropy_backward)(const mgpt_ctx *ctx, float *dlogits, const float *probs,
                                    const int *targets, float dloss, int N, int V,
                                    unsigned write)
{
    if (write & MGPT_WRITE_DINP)
        crossentropy_backward_body(ctx, dlogits, probs, targets, dloss, N, V, 0);
    else
        crossentropy_backward_body(ctx, dlogits, probs, targets, dloss, N, V, 1);
}
