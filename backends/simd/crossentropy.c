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
        float sum = simd_softmax(p, z, V, 1.0f, maxv);
        /* -log softmax from the logits, not log(p): exact for tiny p */
        loss[n] = targets[n] < 0 ? 0.0f : logf(sum) - (z[targets[n]] - maxv);
    }
}

/* dz += dloss * (p - onehot(target)); flops 3*N*V, bytes 12*N*V */
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
