/* The scalar reference kernels: the ground truth every other backend is tested against. */
#ifndef MGPT_SCALAR_H
#define MGPT_SCALAR_H
#include <mgpt/backend.h>

void scalar_embed_forward(float *out, const int *tok, const float *wte, const float *wpe,
                          int N, int T, int C);
void scalar_embed_backward(float *dwte, float *dwpe, const float *dout, const int *tok,
                           int N, int T, int C);
void scalar_rmsnorm_forward(float *out, float *rstd, const float *inp, int N, int C);
void scalar_rmsnorm_backward(float *dinp, const float *dout, const float *inp,
                             const float *rstd, int N, int C, unsigned write);
void scalar_matmul_forward(float *out, const float *inp, const float *w, int N, int C, int OC);
void scalar_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp,
                            const float *w, int N, int C, int OC, unsigned write);
void scalar_attention_forward(float *out, float *att, const float *qkv,
                              int B, int T, int C, int H);
void scalar_attention_backward(float *dqkv, float *datt, const float *dout,
                               const float *qkv, const float *att, int B, int T, int C, int H,
                               unsigned write);
void scalar_sqrelu_forward(float *out, const float *inp, size_t n);
void scalar_sqrelu_backward(float *dinp, const float *dout, const float *inp, size_t n,
                            unsigned write);
void scalar_add_forward(float *out, const float *a, const float *b, size_t n);
void scalar_accumulate(float *dst, const float *src, size_t n, unsigned write);
void scalar_crossentropy_forward(float *loss, float *probs, const float *logits,
                                 const int *targets, int N, int V);
void scalar_crossentropy_backward(float *dlogits, const float *probs, const int *targets,
                                  float dloss, int N, int V, unsigned write);
void scalar_zero(float *x, size_t n);
double scalar_sumsq(const float *x, size_t n);
void scalar_adam_update(float *param, const float *grad, float *m, float *v, size_t n,
                        const mgpt_adam_args *a);
double scalar_peak_flops(uint64_t iterations, float *sink);
float scalar_stream_read(const float *buf, size_t n, int passes);
#endif
