/* One new position against cached keys and values (generation with a key/value cache):
 * the same arithmetic, in the same order, as scalar_attention_forward's row t = T - 1, so
 * a cached decode gives the full forward's bits. Heads [bh0, bh1) only (MGPT_SPLIT_HEADS,
 * B = 1): a head writes its own row of att and its own hd-wide slice of out. */
#include <math.h>
#include "scalar.h"

/* Per head: 2*hd*T flops for the scores, ~5*T for the softmax, 2*hd*T for the weighted
 * sum: T*(4*C + 5*H) for all heads; bytes 4*(2*T*C + 2*C + H*T). */
void scalar_attention_decode(const mgpt_ctx *ctx, float *out, float *att, const float *q,
                             const float *kc, const float *vc, int T, int C, int H, int bh0,
                             int bh1)
{
    (void)ctx;
    int hd = C / H;
    float scale = 1.0f / sqrtf((float)hd);
    for (int h = bh0; h < bh1; h++) {
        const float *qh = q + h * hd;
        float *a = att + (size_t)h * T;
        float maxv = -INFINITY;
        for (int j = 0; j < T; j++) {
            const float *k = kc + (size_t)j * C + h * hd;
            float s = 0.0f;
            for (int i = 0; i < hd; i++)
                s += qh[i] * k[i];
            s *= scale;
            a[j] = s;
            if (s > maxv)
                maxv = s;
        }
        float sum = 0.0f;
        for (int j = 0; j < T; j++) {
            a[j] = expf(a[j] - maxv);
            sum += a[j];
        }
        float inv = 1.0f / sum;
        for (int j = 0; j < T; j++)
            a[j] *= inv;
        float *o = out + h * hd;
        for (int i = 0; i < hd; i++)
            o[i] = 0.0f;
        for (int j = 0; j < T; j++) {
            const float *v = vc + (size_t)j * C + h * hd;
            for (int i = 0; i < hd; i++)
                o[i] += a[j] * v[i];
        }
    }
}
