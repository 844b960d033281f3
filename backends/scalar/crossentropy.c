/* Softmax + cross-entropy over the vocabulary, with masked (target < 0) rows. */
#include <math.h>
#include <string.h>
#include "scalar.h"

/* flops ~5*N*V (max, sub+exp, sum, scale), bytes 8*N*V */
void scalar_crossentropy_forward(const mgpt_ctx *ctx, float *loss, float *probs,
                                 const float *logits, const int *targets, int N, int V)
{
    (void)ctx;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * V;
        float *p = probs + (size_t)n * V;
        float maxv = z[0];
        for (int i = 1; i < V; i++)
            if (z[i] > maxv)
                maxv = z[i];
        float sum = 0.0f;
        for (int i = 0; i < V; i++) {
            p[i] = expf(z[i] - maxv);
            sum += p[i];
        }
        float inv = 1.0f / sum;
        for (int i = 0; i < V; i++)
            p[i] *= inv;
        /* -log softmax computed from the logits, not log(p): exact for tiny p */
        loss[n] = targets[n] < 0 ? 0.0f : logf(sum) - (z[targets[n]] - maxv);
    }
}

/* flops 3*N*V, bytes 12*N*V (writing: flops 2*N*V, bytes 8*N*V) */
void scalar_crossentropy_backward(const mgpt_ctx *ctx, float *dlogits, const float *probs,
                                  const int *targets, float dloss, int N, int V,
                                  unsigned write)
{
    (void)ctx;
    int add = !(write & MGPT_WRITE_DINP);
    for (int n = 0; n < N; n++) {
        const float *p = probs + (size_t)n * V;
        float *dz = dlogits + (size_t)n * V;
        if (targets[n] < 0) {       /* masked: no gradient, but a written row is zeros */
            if (!add)
                memset(dz, 0, (size_t)V * sizeof *dz);
            continue;
        }
        for (int i = 0; i < V; i++) {
            float d = dloss * (p[i] - (i == targets[n] ? 1.0f : 0.0f));
            dz[i] = add ? dz[i] + d : d;
        }
    }
}
