/* One new position against cached keys and values (generation with a key/value cache),
 * heads [bh0, bh1) (MGPT_SPLIT_HEADS, B = 1). Per head: the scores are dot products along
 * hd, the softmax is simd_softmax, and the weighted sum of the cached values runs along hd
 * in vectors, one FMA chain per vector of hd in order of position (deterministic). */
#include <math.h>
#include "simd/simd.h"

void SIMD_FN(attention_decode)(const mgpt_ctx *ctx, float *out, float *att, const float *q,
                               const float *kc, const float *vc, int T, int C, int H, int bh0,
                               int bh1)
{
    (void)ctx;
    int hd = C / H;
    float scale = 1.0f / sqrtf((float)hd);
    for (int h = bh0; h < bh1; h++) {
        const float *qh = q + h * hd;
        float *a = att + (size_t)h * T;
        for (int j = 0; j < T; j++)
            a[j] = simd_dot(qh, kc + (size_t)j * C + h * hd, hd);
        /* scale > 0: the max of the scaled scores is the scaled max */
        simd_softmax(a, a, T, scale, simd_max(a, T) * scale);
        float *o = out + h * hd;
        for (int i = 0; i < hd; i += SIMD_W) {
            int w = hd - i < SIMD_W ? hd - i : SIMD_W;
            const float *v = vc + h * hd + i;
            vec s = v_zero();
            if (w == SIMD_W)
                for (int j = 0; j < T; j++)
                    s = v_fma(v_set1(a[j]), v_load(v + (size_t)j * C), s);
            else
                for (int j = 0; j < T; j++)
                    s = v_fma(v_set1(a[j]), v_load_part(v + (size_t)j * C, w), s);
            if (w == SIMD_W)
                v_store(o + i, s);
            else
                v_store_part(o + i, s, w);
        }
    }
}
