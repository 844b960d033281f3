/* Causal multi-head self-attention over qkv[N, 3C] (q | k | v in each row). Both kernels
 * compute the (document, head) pairs bh in [bh0, bh1) only, b = bh / H, h = bh % H (the
 * threading layer splits the pairs, MGPT_SPLIT_HEADS); a pair's outputs are its own rows
 * of att/datt and its own hd-wide slices of out/dqkv, so a split changes no result. */
#include <math.h>
#include <string.h>
#include "scalar.h"

/* Per row t of a pair: 2*hd*(t+1) flops for the scores, ~5*(t+1) for the softmax,
 * 2*hd*(t+1) for the weighted sum: flops pairs*(4*hd + 5),
 * bytes 4*(3*N*C + B*H*T*T + N*C) for the whole call (pairs = B*H*T*(T+1)/2). */
void scalar_attention_forward(const mgpt_ctx *ctx, float *out, float *att, const float *qkv,
                              int B, int T, int C, int H, int bh0, int bh1)
{
    (void)ctx;
    (void)B;
    int hd = C / H;
    size_t C3 = 3 * (size_t)C;
    float scale = 1.0f / sqrtf((float)hd);
    for (int bh = bh0; bh < bh1; bh++) {
        int b = bh / H, h = bh % H;
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
}

/* Per row: datt_j = dout.v_j; dv_j += a_j dout; dpre_j = a_j (datt_j - sum_k a_k datt_k);
 * dq += scale * dpre_j k_j; dk_j += scale * dpre_j q.  flops pairs*(8*hd + 4),
 * bytes 4*(3*3*N*C + 2*B*H*T*T + N*C) for the whole call (dqkv read and written; 4*3*N*C
 * less when writing). Writing dqkv: each pair zeroes its own slices (the q, k and v
 * columns h*hd .. h*hd+hd-1 of its document's T rows) first, which gives the same sums;
 * their old contents are never read. */
void scalar_attention_backward(const mgpt_ctx *ctx, float *dqkv, float *datt,
                               const float *dout, const float *qkv, const float *att,
                               int B, int T, int C, int H, int bh0, int bh1, unsigned write)
{
    (void)ctx;
    (void)B;
    int hd = C / H;
    size_t C3 = 3 * (size_t)C;
    float scale = 1.0f / sqrtf((float)hd);
    for (int bh = bh0; bh < bh1; bh++) {
        int b = bh / H, h = bh % H;
        if (write & MGPT_WRITE_DINP)
            for (int t = 0; t < T; t++) {
                float *row = dqkv + (size_t)(b * T + t) * C3 + h * hd;
                memset(row, 0, (size_t)hd * sizeof *row);
                memset(row + C, 0, (size_t)hd * sizeof *row);
                memset(row + 2 * C, 0, (size_t)hd * sizeof *row);
            }
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
}
