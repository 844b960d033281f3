/* Causal multi-head self-attention over qkv[N, 3C] (q | k | v in each row). */
#include <math.h>
#include <string.h>
#include "scalar.h"

/* flops per (b,h,t): 2*hd*(t+1) for scores, ~4*(t+1) softmax, 2*hd*(t+1) weighted sum */
void scalar_attention_forward(float *out, float *att, const float *qkv,
                              int B, int T, int C, int H)
{
    int hd = C / H;
    size_t C3 = 3 * (size_t)C;
    float scale = 1.0f / sqrtf((float)hd);
    for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++)
    for (int t = 0; t < T; t++) {
        const float *q = qkv + (size_t)(b * T + t) * C3 + h * hd;
        float *a = att + (((size_t)b * H + h) * T + t) * T;
        float maxv = -INFINITY;
        for (int j = 0; j <= t; j++) {
            const float *k = qkv + (size_t)(b * T + j) * C3 + C + h * hd;
            float s = 0.0f;
            for (int i = 0; i < hd; i++)
                s += q[i] * k[i];
            s *= scale;
            a[j] = s;
            if (s > maxv)
                maxv = s;
        }
        float sum = 0.0f;
        for (int j = 0; j <= t; j++) {
            a[j] = expf(a[j] - maxv);
            sum += a[j];
        }
        float inv = 1.0f / sum;
        for (int j = 0; j <= t; j++)
            a[j] *= inv;
        for (int j = t + 1; j < T; j++)
            a[j] = 0.0f;
        float *o = out + (size_t)(b * T + t) * C + h * hd;
        for (int i = 0; i < hd; i++)
            o[i] = 0.0f;
        for (int j = 0; j <= t; j++) {
            const float *v = qkv + (size_t)(b * T + j) * C3 + 2 * C + h * hd;
            for (int i = 0; i < hd; i++)
                o[i] += a[j] * v[i];
        }
    }
}

/* Per row: datt_j = dout.v_j; dv_j += a_j dout; dpre_j = a_j (datt_j - sum_k a_k datt_k);
 * dq += scale * dpre_j k_j; dk_j += scale * dpre_j q.  flops about twice the forward.
 * Writing dqkv: the reference zeroes it first, which gives the same sums. */
void scalar_attention_backward(float *dqkv, float *datt, const float *dout,
                               const float *qkv, const float *att, int B, int T, int C, int H,
                               unsigned write)
{
    int hd = C / H;
    size_t C3 = 3 * (size_t)C;
    if (write & MGPT_WRITE_DINP)
        memset(dqkv, 0, (size_t)B * T * C3 * sizeof *dqkv);
    float scale = 1.0f / sqrtf((float)hd);
    for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++)
    for (int t = 0; t < T; t++) {
        const float *a = att + (((size_t)b * H + h) * T + t) * T;
        float *da = datt + (((size_t)b * H + h) * T + t) * T;
        const float *dy = dout + (size_t)(b * T + t) * C + h * hd;
        const float *q = qkv + (size_t)(b * T + t) * C3 + h * hd;
        float *dq = dqkv + (size_t)(b * T + t) * C3 + h * hd;
        float dsum = 0.0f;
        for (int j = 0; j <= t; j++) {
            const float *v = qkv + (size_t)(b * T + j) * C3 + 2 * C + h * hd;
            float *dv = dqkv + (size_t)(b * T + j) * C3 + 2 * C + h * hd;
            float s = 0.0f;
            for (int i = 0; i < hd; i++) {
                s += dy[i] * v[i];
                dv[i] += a[j] * dy[i];
            }
            da[j] = s;
            dsum += a[j] * s;
        }
        for (int j = 0; j <= t; j++) {
            const float *k = qkv + (size_t)(b * T + j) * C3 + C + h * hd;
            float *dk = dqkv + (size_t)(b * T + j) * C3 + C + h * hd;
            float dpre = a[j] * (da[j] - dsum) * scale;
            for (int i = 0; i < hd; i++) {
                dq[i] += dpre * k[i];
                dk[i] += dpre * q[i];
            }
        }
    }
}
