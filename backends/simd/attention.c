/* Causal multi-head self-attention over qkv[N, 3C] (q | k | v in each row), vectorized
 * over the head dimension hd (dot products, axpys) and over positions (softmax). */
#include <math.h>
#include "simd/simd.h"

/* In place: a[0..n) = softmax(a[0..n)) */
static void softmax_inplace(float *a, int n)
{
    vec vmax = v_set1(simd_max(a, n)), sum = v_zero();
    int j = 0;
    for (; j + SIMD_W <= n; j += SIMD_W) {
        vec e = v_exp(v_sub(v_load(a + j), vmax));
        v_store(a + j, e);
        sum = v_add(sum, e);
    }
    if (j < n) {
        v_store_part(a + j, v_exp(v_sub(v_load_part(a + j, n - j), vmax)), n - j);
        sum = v_add(sum, v_load_part(a + j, n - j));  /* only the n - j real lanes */
    }
    vec inv = v_set1(1.0f / v_hsum(sum));
    for (j = 0; j + SIMD_W <= n; j += SIMD_W)
        v_store(a + j, v_mul(v_load(a + j), inv));
    if (j < n)
        v_store_part(a + j, v_mul(v_load_part(a + j, n - j), inv), n - j);
}

/* One (document b, head h): att[t, j] = softmax_j<=t(q_t . k_j / sqrt(hd)); out_t = sum_j att[t,j] v_j.
 * flops per t: 2*hd*(t+1) scores, ~10*(t+1) softmax, 2*hd*(t+1) weighted sum */
static void attention_forward_bh(float *out, float *att, const float *qkv, int b, int h,
                                 int T, int C, int H)
{
    int hd = C / H;
    size_t C3 = 3 * (size_t)C;
    float scale = 1.0f / sqrtf((float)hd);
    const float *qkv_b = qkv + (size_t)b * T * C3;
    for (int t = 0; t < T; t++) {
        const float *q = qkv_b + t * C3 + h * hd;
        float *a = att + (((size_t)b * H + h) * T + t) * T;
        for (int j = 0; j <= t; j++)
            a[j] = simd_dot(q, qkv_b + j * C3 + C + h * hd, hd) * scale;
        softmax_inplace(a, t + 1);
        for (int j = t + 1; j < T; j++)
            a[j] = 0.0f;
        /* out_t = sum_j a[j] v_j, one vector of the head dimension at a time */
        float *o = out + ((size_t)b * T + t) * C + h * hd;
        const float *v = qkv_b + 2 * C + h * hd;
        int i = 0;
        for (; i + SIMD_W <= hd; i += SIMD_W) {
            vec acc = v_zero();
            for (int j = 0; j <= t; j++)
                acc = v_fma(v_set1(a[j]), v_load(v + j * C3 + i), acc);
            v_store(o + i, acc);
        }
        if (i < hd) {
            vec acc = v_zero();
            for (int j = 0; j <= t; j++)
                acc = v_fma(v_set1(a[j]), v_load_part(v + j * C3 + i, hd - i), acc);
            v_store_part(o + i, acc, hd - i);
        }
    }
}

/* One (b, h): datt_j = dout_t . v_j; dv_j += a_j dout_t; dpre_j = a_j (datt_j - sum_k a_k datt_k);
 * dq_t += scale * dpre_j k_j; dk_j += scale * dpre_j q_t.  flops about twice the forward */
static void attention_backward_bh(float *dqkv, float *datt, const float *dout, const float *qkv,
                                  const float *att, int b, int h, int T, int C, int H)
{
    int hd = C / H;
    size_t C3 = 3 * (size_t)C;
    float scale = 1.0f / sqrtf((float)hd);
    const float *qkv_b = qkv + (size_t)b * T * C3;
    float *dqkv_b = dqkv + (size_t)b * T * C3;
    for (int t = 0; t < T; t++) {
        const float *a = att + (((size_t)b * H + h) * T + t) * T;
        float *da = datt + (((size_t)b * H + h) * T + t) * T;
        const float *dy = dout + ((size_t)b * T + t) * C + h * hd;
        const float *q = qkv_b + t * C3 + h * hd;
        float *dq = dqkv_b + t * C3 + h * hd;
        float dsum = 0.0f;
        for (int j = 0; j <= t; j++) {
            da[j] = simd_dot(dy, qkv_b + j * C3 + 2 * C + h * hd, hd);
            simd_axpy(dqkv_b + j * C3 + 2 * C + h * hd, a[j], dy, hd);
            dsum += a[j] * da[j];
        }
        for (int j = 0; j <= t; j++) {
            float dpre = a[j] * (da[j] - dsum) * scale;
            simd_axpy(dq, dpre, qkv_b + j * C3 + C + h * hd, hd);
            simd_axpy(dqkv_b + j * C3 + C + h * hd, dpre, q, hd);
        }
    }
}

void SIMD_FN(attention_forward_range)(float *out, float *att, const float *qkv,
                                      int T, int C, int H, int bh0, int bh1)
{
    for (int bh = bh0; bh < bh1; bh++)
        attention_forward_bh(out, att, qkv, bh / H, bh % H, T, C, H);
}

void SIMD_FN(attention_backward_range)(float *dqkv, float *datt, const float *dout,
                                       const float *qkv, const float *att, int T, int C, int H,
                                       int bh0, int bh1)
{
    for (int bh = bh0; bh < bh1; bh++)
        attention_backward_bh(dqkv, datt, dout, qkv, att, bh / H, bh % H, T, C, H);
}

void SIMD_FN(attention_forward)(float *out, float *att, const float *qkv,
                                int B, int T, int C, int H)
{
    SIMD_FN(attention_forward_range)(out, att, qkv, T, C, H, 0, B * H);
}

void SIMD_FN(attention_backward)(float *dqkv, float *datt, const float *dout,
                                 const float *qkv, const float *att, int B, int T, int C, int H)
{
    SIMD_FN(attention_backward_range)(dqkv, datt, dout, qkv, att, T, C, H, 0, B * H);
}
