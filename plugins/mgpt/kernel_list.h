/* The kernel slots of the mgpt backend ABI: the one list from which the kernel table
 * (mgpt_kernels), its slot ids and names, each slot's function type, the scalar fallback,
 * the FLOP and byte counts and the threading layer's split are derived. Included by
 * mgpt/backend.h; read that file for the conventions every kernel follows.
 *
 * One line per slot:
 *
 *   X(ID, field, reference, return type, (parameters), split, FLOPs, bytes)
 *
 *  - ID: the slot's index in the table (MGPT_K_*; the enum in backend.h is this column);
 *  - field: the member of mgpt_kernels, and the slot's name in listings;
 *  - reference: the scalar reference kernel (backends/scalar), linked into the engine, that
 *    stands in for a slot a backend leaves NULL or its table does not reach;
 *  - parameters: the whole prototype; every kernel takes the calling thread's context;
 *  - split: how the engine's threading layer divides a call over threads (MGPT_SPLIT_*,
 *    backend.h); MGPT_SPLIT_NONE runs it on the calling thread;
 *  - FLOPs, bytes: expressions of the call's sizes (B, T, N, C, OC, H, V, n as doubles,
 *    hd = C / H, pairs = B*H*T*(T+1)/2 causal (query, key) pairs) and of w, 1 when the
 *    call writes its gradient (its `write` bit is set) else 0. A multiply-add is 2 FLOPs,
 *    exp/sqrt/div 1; bytes count each operand once (ideal caching). Ranged slots count the
 *    whole call of [0, N) x [0, OC) (or [0, B*H)); the engine scales by the range.
 *
 * A new slot goes at the end, with MGPT_BACKEND_ABI_MINOR + 1: modules built before it keep
 * loading and get the reference kernel for it. Changing or removing a slot is a new
 * MGPT_BACKEND_ABI_MAJOR.
 */
#ifndef MGPT_KERNEL_LIST_H
#define MGPT_KERNEL_LIST_H

#define MGPT_KERNEL_LIST(X)                                                                    \
    /* out[n,:] = wte[tok[n],:] + wpe[n % T,:] (N is a multiple of T)                       */ \
    X(MGPT_K_EMBED_FORWARD, embed_forward, scalar_embed_forward, void,                         \
      (const mgpt_ctx *ctx, float *out, const int *tok, const float *wte, const float *wpe,    \
       int N, int T, int C),                                                                   \
      MGPT_SPLIT_DOCS, N * C, 12 * N * C)                                                      \
    /* dwte[tok[n],:] += dout[n,:]; dwpe[n % T,:] += dout[n,:] (always adds)                */ \
    X(MGPT_K_EMBED_BACKWARD, embed_backward, scalar_embed_backward, void,                      \
      (const mgpt_ctx *ctx, float *dwte, float *dwpe, const float *dout, const int *tok,       \
       int N, int T, int C),                                                                   \
      MGPT_SPLIT_NONE, 2 * N * C, 20 * N * C)                                                  \
    /* rstd[n] = 1/sqrt(mean(inp[n,:]^2) + 1e-5); out = inp * rstd                          */ \
    X(MGPT_K_RMSNORM_FORWARD, rmsnorm_forward, scalar_rmsnorm_forward, void,                   \
      (const mgpt_ctx *ctx, float *out, float *rstd, const float *inp, int N, int C),          \
      MGPT_SPLIT_ROWS, 3 * N * C, 8 * N * C)                                                   \
    /* dinp (+)= rstd*(dout - inp * rstd^2 * mean(dout*inp))        write: MGPT_WRITE_DINP  */ \
    X(MGPT_K_RMSNORM_BACKWARD, rmsnorm_backward, scalar_rmsnorm_backward, void,                \
      (const mgpt_ctx *ctx, float *dinp, const float *dout, const float *inp,                  \
       const float *rstd, int N, int C, unsigned write),                                       \
      MGPT_SPLIT_ROWS, (6 - w) * N * C, (16 - 4 * w) * N * C)                                  \
    /* out[n0:n1, o0:o1] = inp[n0:n1, :] @ w[o0:o1, :]^T of out[N,OC], inp[N,C], w[OC,C]    */ \
    X(MGPT_K_MATMUL_FORWARD, matmul_forward, scalar_matmul_forward, void,                      \
      (const mgpt_ctx *ctx, float *out, const float *inp, const float *w, int N, int C,        \
       int OC, int n0, int n1, int o0, int o1),                                                \
      MGPT_SPLIT_TILES, 2 * N * C * OC, 4 * (N * C + OC * C + N * OC))                         \
    /* dinp[n0:n1, c0:c1] (+)= dout[n0:n1, :] @ w[:, c0:c1]          write: MGPT_WRITE_DINP */ \
    X(MGPT_K_MATMUL_BACKWARD_DINP, matmul_backward_dinp, scalar_matmul_backward_dinp, void,    \
      (const mgpt_ctx *ctx, float *dinp, const float *dout, const float *w, int N, int C,      \
       int OC, int n0, int n1, int c0, int c1, unsigned write),                                \
      MGPT_SPLIT_TILES, 2 * N * C * OC, 4 * ((2 - w) * N * C + OC * C + N * OC))               \
    /* dw[o0:o1, c0:c1] (+)= dout[:, o0:o1]^T @ inp[:, c0:c1]          write: MGPT_WRITE_DW */ \
    X(MGPT_K_MATMUL_BACKWARD_DW, matmul_backward_dw, scalar_matmul_backward_dw, void,          \
      (const mgpt_ctx *ctx, float *dw, const float *dout, const float *inp, int N, int C,      \
       int OC, int o0, int o1, int c0, int c1, unsigned write),                                \
      MGPT_SPLIT_TILES, 2 * N * C * OC, 4 * ((2 - w) * OC * C + N * C + N * OC))               \
    /* (document, head) pairs [bh0, bh1) of causal attention over qkv[N,3C] (q | k | v);    */ \
    /* att[B,H,T,T] gets the softmax (0 above the diagonal), out[N,C] = concat_h(att_h v_h) */ \
    X(MGPT_K_ATTENTION_FORWARD, attention_forward, scalar_attention_forward, void,             \
      (const mgpt_ctx *ctx, float *out, float *att, const float *qkv, int B, int T, int C,     \
       int H, int bh0, int bh1),                                                               \
      MGPT_SPLIT_HEADS, pairs * (4 * hd + 5), 4 * (3 * N * C + B * H * T * T + N * C))         \
    /* dqkv (+)= ... of pairs [bh0, bh1); datt[B,H,T,T] scratch      write: MGPT_WRITE_DINP */ \
    X(MGPT_K_ATTENTION_BACKWARD, attention_backward, scalar_attention_backward, void,          \
      (const mgpt_ctx *ctx, float *dqkv, float *datt, const float *dout, const float *qkv,     \
       const float *att, int B, int T, int C, int H, int bh0, int bh1, unsigned write),        \
      MGPT_SPLIT_HEADS, pairs * (8 * hd + 4),                                                  \
      4 * ((3 - w) * 3 * N * C + 2 * B * H * T * T + N * C))                                   \
    /* out = max(inp, 0)^2                                                                  */ \
    X(MGPT_K_SQRELU_FORWARD, sqrelu_forward, scalar_sqrelu_forward, void,                      \
      (const mgpt_ctx *ctx, float *out, const float *inp, size_t n),                           \
      MGPT_SPLIT_ELEMENTS, 2 * n, 8 * n)                                                       \
    /* dinp (+)= dout * 2 * max(inp, 0)                              write: MGPT_WRITE_DINP */ \
    X(MGPT_K_SQRELU_BACKWARD, sqrelu_backward, scalar_sqrelu_backward, void,                   \
      (const mgpt_ctx *ctx, float *dinp, const float *dout, const float *inp, size_t n,        \
       unsigned write),                                                                        \
      MGPT_SPLIT_ELEMENTS, (4 - w) * n, (16 - 4 * w) * n)                                      \
    /* out = a + b                                                                          */ \
    X(MGPT_K_ADD_FORWARD, add_forward, scalar_add_forward, void,                               \
      (const mgpt_ctx *ctx, float *out, const float *a, const float *b, size_t n),             \
      MGPT_SPLIT_ELEMENTS, n, 12 * n)                                                          \
    /* dst (+)= src: the backward of add, once per operand           write: MGPT_WRITE_DINP */ \
    X(MGPT_K_ACCUMULATE, accumulate, scalar_accumulate, void,                                  \
      (const mgpt_ctx *ctx, float *dst, const float *src, size_t n, unsigned write),           \
      MGPT_SPLIT_ELEMENTS, (1 - w) * n, (12 - 4 * w) * n)                                      \
    /* probs = softmax(logits) per row; loss[n] = -log probs[n,targets[n]], 0 if masked (<0)*/ \
    X(MGPT_K_CROSSENTROPY_FORWARD, crossentropy_forward, scalar_crossentropy_forward, void,    \
      (const mgpt_ctx *ctx, float *loss, float *probs, const float *logits,                    \
       const int *targets, int N, int V),                                                      \
      MGPT_SPLIT_ROWS, 5 * N * V, 8 * N * V)                                                   \
    /* dlogits (+)= dloss*(probs - onehot(targets)); masked rows untouched (written 0)      */ \
    X(MGPT_K_CROSSENTROPY_BACKWARD, crossentropy_backward, scalar_crossentropy_backward,       \
      void,                                                                                    \
      (const mgpt_ctx *ctx, float *dlogits, const float *probs, const int *targets,            \
       float dloss, int N, int V, unsigned write),                                             \
      MGPT_SPLIT_ROWS, (3 - w) * N * V, (12 - 4 * w) * N * V)                                  \
    /* sum of x[i]^2 in double; n <= MGPT_SUMSQ_CHUNK (the engine adds chunks in order)     */ \
    X(MGPT_K_SUMSQ, sumsq, scalar_sumsq, double, (const mgpt_ctx *ctx, const float *x,         \
      size_t n),                                                                               \
      MGPT_SPLIT_CHUNKS, 2 * n, 4 * n)                                                         \
    /* g = grad*grad_scale; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;                     */ \
    /* param -= lr * (m/bc1) / (sqrt(v/bc2) + eps)                                          */ \
    X(MGPT_K_ADAM_UPDATE, adam_update, scalar_adam_update, void,                               \
      (const mgpt_ctx *ctx, float *param, const float *grad, float *m, float *v, size_t n,     \
       const mgpt_adam_args *args),                                                            \
      MGPT_SPLIT_ELEMENTS, 15 * n, 28 * n)                                                     \
    /* x[0..n) = 0, any alignment: the gradients no kernel writes first (dwte, dwpe)        */ \
    X(MGPT_K_ZERO, zero, scalar_zero, void, (const mgpt_ctx *ctx, float *x, size_t n),         \
      MGPT_SPLIT_ELEMENTS, 0 * n, 4 * n)                                                   \
    /* ABI 4.1. One new position (B = 1) of heads [bh0, bh1) against T cached positions:    */ \
    /* q[C] its query, kc/vc[T,C] the cached keys/values (row T-1 its own), att[H,T] gets   */ \
    /* the softmax, out[C] = concat_h(att_h vc_h): attention_forward's row T-1, for decode  */ \
    X(MGPT_K_ATTENTION_DECODE, attention_decode, scalar_attention_decode, void,               \
      (const mgpt_ctx *ctx, float *out, float *att, const float *q, const float *kc,          \
       const float *vc, int T, int C, int H, int bh0, int bh1),                                \
      MGPT_SPLIT_HEADS, T * (4 * C + 5 * H), 4 * (2 * T * C + 2 * C + H * T))

#endif /* MGPT_KERNEL_LIST_H */
