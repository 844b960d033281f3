/* Gradient norm and the Adam update. */
#include <math.h>
#include "scalar.h"

/* n <= MGPT_SUMSQ_CHUNK (the engine adds the chunks' sums in order).
 * flops 2*n, bytes 4*n */
double scalar_sumsq(const mgpt_ctx *ctx, const float *x, size_t n)
{
    (void)ctx;
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return s;
}

/* flops 15*n, bytes 28*n (read param, grad, m, v; write param, m, v) */
void scalar_adam_update(const mgpt_ctx *ctx, float *param, const float *grad, float *m,
                        float *v, size_t n, const mgpt_adam_args *a)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] * a->grad_scale;
        m[i] = a->beta1 * m[i] + (1.0f - a->beta1) * g;
        v[i] = a->beta2 * v[i] + (1.0f - a->beta2) * g * g;
        float mhat = m[i] / a->bc1;
        float vhat = v[i] / a->bc2;
        param[i] -= a->lr * mhat / (sqrtf(vhat) + a->eps);
    }
}
