/* The OpenMP backend's internal interface.
 *
 * mgpt_openmp.so runs the SIMD kernels of ../simd on several threads. It links the kernel
 * libraries of every ISA this build has (libsimd_sse.la, libsimd_avx2.la,
 * libsimd_avx512.la: the same sources compiled per ISA, names prefixed sse_, avx2_,
 * avx512_); each is described by one openmp_isa table of function pointers (isa_*.c, data
 * only). init() picks the best table the CPU runs (env->cpu_features, which already
 * honours MGPT_CPU_DISABLE); the kernels of the descriptor (kernels.c, compiled with the
 * OpenMP flags but no ISA flags) split each op over independent ranges of its output and
 * call the chosen table's range functions, one range per thread.
 *
 * Determinism: every output element is computed by one call of the ISA's code on a range
 * that contains it, and the ISA's range functions compute an element identically whatever
 * the range (backends/simd/kernels.h), so results are the same bits for any number of
 * threads and any split, and the same as the ISA's own single-threaded module. */
#ifndef MGPT_OPENMP_H
#define MGPT_OPENMP_H
#include <stddef.h>
#include <stdint.h>
#include <mgpt/backend.h>

typedef struct openmp_isa {
    const char *name;            /* "avx512": the single-threaded module of the same kernels */
    const char *about;           /* "16 floats per vector" */
    uint32_t features;           /* the MGPT_CPU_* bits its code needs */
    int gemm_mr, gemm_nr;        /* its GEMM register tile, rows x columns: split granules
                                  * (efficiency only; any split gives the same results) */

    void (*embed_forward)(float *out, const int *tok, const float *wte, const float *wpe,
                          int N, int T, int C);
    void (*embed_backward_range)(float *dwte, float *dwpe, const float *dout, const int *tok,
                                 int N, int T, int C, int c0, int c1);
    void (*rmsnorm_forward)(float *out, float *rstd, const float *inp, int N, int C);
    void (*rmsnorm_backward)(float *dinp, const float *dout, const float *inp,
                             const float *rstd, int N, int C, unsigned write);
    /* the GEMM-based ranges take a per-thread workspace of gemm_work_floats() floats */
    size_t (*gemm_work_floats)(void);
    void (*matmul_forward_range)(float *out, const float *inp, const float *w, int C, int OC,
                                 int n0, int n1, int o0, int o1, float *work);
    void (*matmul_backward_dinp_range)(float *dinp, const float *dout, const float *w,
                                       int C, int OC, int n0, int n1, int c0, int c1,
                                       int accumulate, float *work);
    void (*matmul_backward_dw_range)(float *dw, const float *dout, const float *inp,
                                     int N, int C, int OC, int o0, int o1, int c0, int c1,
                                     int accumulate, float *work);
    void (*attention_forward_range)(float *out, float *att, const float *qkv,
                                    int T, int C, int H, int bh0, int bh1, float *work);
    void (*attention_backward_range)(float *dqkv, float *datt, const float *dout,
                                     const float *qkv, const float *att, int T, int C, int H,
                                     int bh0, int bh1, unsigned write, float *work);
    void (*sqrelu_forward)(float *out, const float *inp, size_t n);
    void (*sqrelu_backward)(float *dinp, const float *dout, const float *inp, size_t n,
                            unsigned write);
    void (*add_forward)(float *out, const float *a, const float *b, size_t n);
    void (*accumulate)(float *dst, const float *src, size_t n, unsigned write);
    void (*zero)(float *x, size_t n);
    void (*crossentropy_forward)(float *loss, float *probs, const float *logits,
                                 const int *targets, int N, int V);
    void (*crossentropy_backward)(float *dlogits, const float *probs, const int *targets,
                                  float dloss, int N, int V, unsigned write);
    double (*sumsq)(const float *x, size_t n);
    void (*adam_update)(float *param, const float *grad, float *m, float *v, size_t n,
                        const mgpt_adam_args *args);
    double (*peak_flops)(uint64_t iterations, float *sink);
    float (*stream_read)(const float *buf, size_t n, int passes);
} openmp_isa;

/* isa_*.c; the list, best first, NULL-terminated, holds those this build has (isa.c) */
extern const openmp_isa openmp_isa_sse, openmp_isa_avx2, openmp_isa_avx512;
extern const openmp_isa *const openmp_isas[];

/* When an op runs on more than one thread (MGPT_OPENMP_SPLIT). */
typedef enum {
    OPENMP_SPLIT_AUTO,     /* ops at or above their measured size (kernels.c) */
    OPENMP_SPLIT_ALWAYS,   /* every op that has two or more ranges (tests: tails of splits) */
    OPENMP_SPLIT_NEVER     /* none (measuring the thresholds) */
} openmp_split_mode;

typedef struct openmp_runtime {
    const openmp_isa *isa;  /* the kernels composed; SSE until init (required_features) */
    int threads;         /* threads for a parallel op; 0 until init: OpenMP's default */
    openmp_split_mode split;
    float **work;        /* GEMM workspace of each thread of the team; NULL until init,
                          * when the GEMM-based ops stay on the calling thread */
} openmp_runtime;

extern openmp_runtime openmp_rt;             /* runtime.c */
/* descriptor.c: what `mgpt backends` prints; init names the composed ISA in it */
#define OPENMP_DESCRIPTION \
    "OpenMP threads over the best SIMD kernels this CPU runs (avx512, avx2 or sse)"
extern char openmp_description[160];

/* runtime.c */
int openmp_backend_init(const mgpt_backend_env *env, char *err, size_t errlen);
void openmp_backend_shutdown(void);

/* kernels.c: the mgpt_kernels and mgpt_probes entry points */
void openmp_embed_forward(float *out, const int *tok, const float *wte, const float *wpe,
                       int N, int T, int C);
void openmp_embed_backward(float *dwte, float *dwpe, const float *dout, const int *tok,
                        int N, int T, int C);
void openmp_rmsnorm_forward(float *out, float *rstd, const float *inp, int N, int C);
void openmp_rmsnorm_backward(float *dinp, const float *dout, const float *inp,
                          const float *rstd, int N, int C, unsigned write);
void openmp_matmul_forward(float *out, const float *inp, const float *w, int N, int C, int OC);
void openmp_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp,
                         const float *w, int N, int C, int OC, unsigned write);
void openmp_attention_forward(float *out, float *att, const float *qkv,
                           int B, int T, int C, int H);
void openmp_attention_backward(float *dqkv, float *datt, const float *dout,
                            const float *qkv, const float *att, int B, int T, int C, int H,
                            unsigned write);
void openmp_sqrelu_forward(float *out, const float *inp, size_t n);
void openmp_sqrelu_backward(float *dinp, const float *dout, const float *inp, size_t n,
                            unsigned write);
void openmp_add_forward(float *out, const float *a, const float *b, size_t n);
void openmp_accumulate(float *dst, const float *src, size_t n, unsigned write);
void openmp_zero(float *x, size_t n);
void openmp_crossentropy_forward(float *loss, float *probs, const float *logits,
                              const int *targets, int N, int V);
void openmp_crossentropy_backward(float *dlogits, const float *probs, const int *targets,
                               float dloss, int N, int V, unsigned write);
double openmp_sumsq(const float *x, size_t n);
void openmp_adam_update(float *param, const float *grad, float *m, float *v, size_t n,
                     const mgpt_adam_args *args);
double openmp_peak_flops(uint64_t iterations, float *sink);
float openmp_stream_read(const float *buf, size_t n, int passes);
uint32_t openmp_isa_features(void);
#endif
