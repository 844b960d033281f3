/* Softmax + cross-entropy over the vocabulary, with masked (target < 0) rows. */
#include <math.h>
#include "simd/simd.h"

/* flops ~5*N*V, bytes 8*N*V */
void SIMD_FN(crossentropy_forward)(float *loss, float *probs, const float *logits,
                                   const int *targets, int N, int V)
{
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * V;
        float *p = probs + (size_t)n * V;
        float maxv = simd_max(z, V);
        vec vmax = v_set1(maxv), vsum = v_zero();
        int i = 0;
        for (; i + SIMD_W <= V; i += SIMD_W) {
            vec e = v_exp(v_sub(v_load(z + i), vmax));
            v_store(p + i, e);
            vsum = v_add(vsum, e);
        }
        if (i < V) {
            v_store_part(p + i, v_exp(v_sub(v_load_part(z + i, V - i), vmax)), V - i);
            vsum = v_add(vsum, v_load_part(p + i, V - i));  /* only the real lanes */
        }
        float sum = v_hsum(vsum);
        vec inv = v_set1(1.0f / sum);
        for (i = 0; i + SIMD_W <= V; i += SIMD_W)
            v_store(p + i, v_mul(v_load(p + i), inv));
        if (i < V)
            v_store_part(p + i, v_mul(v_load_part(p + i, V - i), inv), V - i);
        /* -log softmax from the logits, not log(p): exact for tiny p */
        loss[n] = targets[n] < 0 ? 0.0f : logf(sum) - (z[targets[n]] - maxv);
    }
}

/* dz += dloss * (p - onehot(target)); flops 2*N*V, bytes 12*N*V */
void SIMD_FN(crossentropy_backward)(float *dlogits, const float *probs, const int *targets,
                                    float dloss, int N, int V)
{
    vec d = v_set1(dloss);
    for (int n = 0; n < N; n++) {
        int t = targets[n];
        if (t < 0)
            continue;
        const float *p = probs + (size_t)n * V;
        float *dz = dlogits + (size_t)n * V;
        float dz_t = dz[t];         /* the target's term, p - 1, is redone below */
        int i = 0;
        for (; i + SIMD_W <= V; i += SIMD_W)
            v_store(dz + i, v_add(v_load(dz + i), v_mul(d, v_load(p + i))));
        if (i < V)
            v_store_part(dz + i, v_add(v_load_part(dz + i, V - i),
                                       v_mul(d, v_load_part(p + i, V - i))), V - i);
        dz[t] = dz_t + dloss * (p[t] - 1.0f);
    }
}
