/* mgpt backend ABI, version 3.
 *
 * Version 2 added the `zero` slot at the end of mgpt_kernels; version 3 gave the backward
 * kernels that store a gradient a `write` argument (below). A module built for another
 * version has a different kernel table, so the loader refuses any module whose
 * abi_version is not this header's.
 *
 * A backend is a loadable module (a libtool -module) named mgpt_<name>.so that exports
 * exactly one symbol, a data-only descriptor:
 *
 *     const mgpt_backend_desc mgpt_backend_<name> = { MGPT_BACKEND_ABI_VERSION, ... };
 *
 * The loader reads the descriptor (no plugin code runs), checks the ABI version, the name
 * and the CPU features it requires, and only then calls init() or any kernel. So the
 * object that defines the descriptor must be compiled WITHOUT ISA flags and without LTO,
 * and a plugin must have no static constructors: nothing of the module may execute before
 * the feature check.
 *
 * Conventions for every kernel:
 *  - row-major float32; N = B * T rows (B documents of T positions), C = n_embd,
 *    OC = output channels, H = heads, V = vocabulary size;
 *  - *_backward kernels ACCUMULATE (+=) into gradient buffers, as in llm.c, so a tensor
 *    used twice needs no special case, except where their `write` argument says to
 *    store (=): the engine sets it for the first op of the backward walk that
 *    contributes to a gradient, so gradients are never zeroed and their old contents
 *    never read (which was up to 5% of a step). `write` is a set of MGPT_WRITE_* bits,
 *    one per gradient the kernel stores; a kernel must not read a gradient it writes
 *    (it may hold anything, NaN included). embed_backward scatters rows and always adds:
 *    the engine zeroes dwte and dwpe with the zero kernel;
 *  - kernels never allocate; scratch space is passed in;
 *  - a kernel pointer may be NULL: the engine then uses the scalar reference kernel.
 *  - results must not depend on anything but the inputs (deterministic).
 * The FLOP and byte counts of every kernel are in the comments and, as code, in
 * core/op_cost.c.
 */
#ifndef MGPT_BACKEND_H
#define MGPT_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MGPT_BACKEND_ABI_VERSION 3u

/* CPU features a backend may require (bit mask). The loader's own detection fills the
 * same bits, with OS support for the register state already folded in. */
enum {
    MGPT_CPU_SSE2     = 1u << 0,
    MGPT_CPU_SSE3     = 1u << 1,
    MGPT_CPU_SSSE3    = 1u << 2,
    MGPT_CPU_SSE41    = 1u << 3,
    MGPT_CPU_SSE42    = 1u << 4,
    MGPT_CPU_AVX      = 1u << 5,
    MGPT_CPU_FMA      = 1u << 6,
    MGPT_CPU_AVX2     = 1u << 7,
    MGPT_CPU_AVX512F  = 1u << 8,
    MGPT_CPU_AVX512BW = 1u << 9,
    MGPT_CPU_AVX512VL = 1u << 10,
    MGPT_CPU_AVX512DQ = 1u << 11
};

/* Descriptor flags. */
enum {
    MGPT_BACKEND_THREADED = 1u << 0  /* runs kernels on env->num_threads threads */
};

/* The `write` bits of the backward kernels: store the gradient (=) instead of adding (+=)
 * into it. MGPT_WRITE_DINP is the gradient of the op's (first) input: dinp, dqkv, dlogits,
 * accumulate's dst; MGPT_WRITE_DW is matmul_backward's dw. */
enum {
    MGPT_WRITE_DINP = 1u << 0,
    MGPT_WRITE_DW   = 1u << 1
};

/* Adam hyper-parameters for one update; bias corrections precomputed by the engine. */
typedef struct mgpt_adam_args {
    float lr;          /* learning rate for this step (schedule applied) */
    float beta1, beta2, eps;
    float bc1, bc2;    /* 1 - beta1^t, 1 - beta2^t with t = step + 1 */
    float grad_scale;  /* multiplies every gradient (global-norm clipping); 1 if none */
} mgpt_adam_args;

typedef struct mgpt_kernels {
    /* out[n,:] = wte[tok[n],:] + wpe[n % T,:]                     flops N*C, bytes 12*N*C */
    void (*embed_forward)(float *out, const int *tok, const float *wte, const float *wpe,
                          int N, int T, int C);
    /* dwte[tok[n],:] += dout[n,:]; dwpe[n % T,:] += dout[n,:]      flops 2*N*C, bytes 20*N*C */
    void (*embed_backward)(float *dwte, float *dwpe, const float *dout, const int *tok,
                           int N, int T, int C);

    /* rstd[n] = 1/sqrt(mean(inp[n,:]^2) + 1e-5); out = inp * rstd  flops 3*N*C, bytes 8*N*C */
    void (*rmsnorm_forward)(float *out, float *rstd, const float *inp, int N, int C);
    /* dinp += rstd*(dout - inp * rstd^2 * mean(dout*inp))          flops 6*N*C, bytes 16*N*C
     * (writing dinp: flops 5*N*C, bytes 12*N*C) */
    void (*rmsnorm_backward)(float *dinp, const float *dout, const float *inp,
                             const float *rstd, int N, int C, unsigned write);

    /* out[N,OC] = inp[N,C] @ w[OC,C]^T       flops 2*N*C*OC, bytes 4*(N*C + OC*C + N*OC) */
    void (*matmul_forward)(float *out, const float *inp, const float *w,
                           int N, int C, int OC);
    /* dinp[N,C] += dout @ w ; dw[OC,C] += dout^T @ inp             flops 4*N*C*OC,
     * bytes 4*(3*N*C + 3*OC*C + N*OC) (dinp and dw are read and written; 4*N*C and
     * 4*OC*C less for each one written) */
    void (*matmul_backward)(float *dinp, float *dw, const float *dout, const float *inp,
                            const float *w, int N, int C, int OC, unsigned write);

    /* qkv[N,3C] holds q | k | v per row; head h uses channels h*hd..(h+1)*hd-1 of each.
     * att[B,H,T,T] receives the causal softmax (entries above the diagonal are 0);
     * out[N,C] = concat_h(att_h @ v_h).                            flops 2*B*H*T*T*hd*2 (approx.) */
    void (*attention_forward)(float *out, float *att, const float *qkv,
                              int B, int T, int C, int H);
    /* datt[B,H,T,T] is scratch (overwritten). dqkv += ...          flops ~ 2x forward */
    void (*attention_backward)(float *dqkv, float *datt, const float *dout,
                               const float *qkv, const float *att, int B, int T, int C, int H,
                               unsigned write);

    /* out = max(inp, 0)^2                                          flops 2*n, bytes 8*n */
    void (*sqrelu_forward)(float *out, const float *inp, size_t n);
    /* dinp += dout * 2 * max(inp, 0)       flops 4*n, bytes 16*n (writing: 3*n, 12*n) */
    void (*sqrelu_backward)(float *dinp, const float *dout, const float *inp, size_t n,
                            unsigned write);

    /* out = a + b                                                  flops n, bytes 12*n */
    void (*add_forward)(float *out, const float *a, const float *b, size_t n);
    /* dst += src (the backward of add, for each operand)          flops n, bytes 12*n;
     * dst = src when writing                                       flops 0, bytes 8*n */
    void (*accumulate)(float *dst, const float *src, size_t n, unsigned write);

    /* probs[n,:] = softmax(logits[n,:]); loss[n] = -log probs[n,targets[n]], or 0 when
     * targets[n] < 0 (masked).                                     flops ~5*N*V, bytes 8*N*V */
    void (*crossentropy_forward)(float *loss, float *probs, const float *logits,
                                 const int *targets, int N, int V);
    /* dlogits[n,:] += dloss * (probs[n,:] - onehot(targets[n])), rows with targets[n] < 0
     * untouched (written with 0 when writing).    flops 3*N*V, bytes 12*N*V (writing: 2*N*V,
     * 8*N*V) */
    void (*crossentropy_backward)(float *dlogits, const float *probs, const int *targets,
                                  float dloss, int N, int V, unsigned write);

    /* sum of x[i]^2, accumulated in double                         flops 2*n, bytes 4*n */
    double (*sumsq)(const float *x, size_t n);
    /* Adam: g = grad*grad_scale; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
     *       param -= lr * (m/bc1) / (sqrt(v/bc2) + eps)            flops 15*n, bytes 28*n */
    void (*adam_update)(float *param, const float *grad, float *m, float *v, size_t n,
                        const mgpt_adam_args *args);

    /* x[0..n) = 0: the engine zeroes with it the gradients that no kernel writes first
     * (dwte, dwpe). Any alignment of x.                            flops 0, bytes 4*n */
    void (*zero)(float *x, size_t n);
    /* New slots go here, at the end, with a new MGPT_BACKEND_ABI_VERSION. */
} mgpt_kernels;

/* Roofline probes, each in the backend's own ISA (optional; NULL if absent). The caller
 * times them; they return values only so that the compiler cannot drop the work. */
typedef struct mgpt_probes {
    /* Independent FMA (or mul+add) chains; returns the number of flops executed. */
    double (*peak_flops)(uint64_t iterations, float *sink);
    /* Streams through buf (n floats, 64-byte aligned) `passes` times, summing. */
    float (*stream_read)(const float *buf, size_t n, int passes);
    /* The MGPT_CPU_* bits of the instruction set the kernels and probes run with, after
     * init: a backend that picks its ISA at init (openmp) says which, so the roofline can
     * put the right datasheet peak beside the measured one. NULL: required_features. */
    uint32_t (*isa_features)(void);
} mgpt_probes;

/* What the engine tells a backend at init. */
typedef struct mgpt_backend_env {
    uint32_t abi_version;   /* MGPT_BACKEND_ABI_VERSION of the engine */
    int num_threads;        /* requested threads (>= 1) */
    const int *pu_binding;  /* OS processor index for thread i (may be NULL) */
    int n_binding;
    uint32_t cpu_features;  /* the detected (and user-masked) MGPT_CPU_* bits */
} mgpt_backend_env;

typedef struct mgpt_backend_desc {
    uint32_t abi_version;          /* MGPT_BACKEND_ABI_VERSION the plugin was built for */
    uint32_t desc_size;            /* sizeof(mgpt_backend_desc) at build time */
    const char *name;              /* must equal <name> in the file and symbol names */
    const char *description;       /* one line for `mgpt backends` */
    uint32_t required_features;    /* MGPT_CPU_* bits that must all be present */
    int priority;                  /* higher wins among runnable backends */
    uint32_t flags;                /* MGPT_BACKEND_* bits */
    const mgpt_kernels *kernels;
    const mgpt_probes *probes;     /* may be NULL */
    int (*init)(const mgpt_backend_env *env, char *err, size_t errlen); /* may be NULL; 0 = ok */
    void (*shutdown)(void);        /* may be NULL */
} mgpt_backend_desc;

#define MGPT_BACKEND_SYMBOL_PREFIX "mgpt_backend_"

#ifdef __cplusplus
}
#endif
#endif /* MGPT_BACKEND_H */
