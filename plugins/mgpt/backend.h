/* mgpt backend ABI, version 4.1 (4.1 added attention_decode).
 *
 * A backend is a loadable module (a libtool -module) named mgpt_<name>.so that exports
 * exactly one symbol, a const, data-only descriptor:
 *
 *     const mgpt_backend_desc mgpt_backend_<name> = { MGPT_BACKEND_ABI_MAJOR, ... };
 *
 * The loader reads the descriptor (no plugin code runs), checks the ABI version, the name
 * and the CPU features it requires, and only then calls init() or any kernel. So the
 * object that defines the descriptor must be compiled WITHOUT ISA flags and without LTO,
 * and a plugin must have no static constructors: nothing of the module may execute before
 * the feature check.
 *
 * Versions. MGPT_BACKEND_ABI_MAJOR changes when a slot, a type or a rule below changes: the
 * loader refuses a module of another major. MGPT_BACKEND_ABI_MINOR grows when slots are
 * added at the end of the list (mgpt/kernel_list.h): the descriptor says how many slots its
 * table has (n_kernels), the engine reads no further, and the slots a module's table does
 * not reach run the scalar reference kernel; a module built for a newer minor loads too,
 * its slots past the engine's list unused. (The first 32 bits of the descriptor were
 * `abi_version` before 4.0: a version-3 module reads as major 3 here.)
 *
 * Instances and threads. init() returns an instance (any pointer; NULL is fine for a
 * stateless backend) and every kernel receives a context naming it and the calling
 * thread's index, 0 <= ctx->thread < env->num_threads. A backend keeps all mutable state
 * (workspaces, tables chosen at init) in its instance, one per thread where threads need
 * their own: two instances of one backend can run in one process, and the descriptor and
 * every global of the module stay const. The engine's threading layer (not the backend)
 * owns the threads: it calls a kernel on disjoint parts of its output, concurrently, one
 * part per thread, as each slot's split says (MGPT_SPLIT_*), or once on the whole.
 *
 * Conventions for every kernel:
 *  - row-major float32; N = B * T rows (B documents of T positions), C = n_embd,
 *    OC = output channels, H = heads, V = vocabulary size;
 *  - *_backward kernels ACCUMULATE (+=) into gradient buffers, as in llm.c, so a tensor
 *    used twice needs no special case, except where their `write` argument says to
 *    store (=): the engine sets it for the first op of the backward walk that contributes
 *    to a gradient, so gradients are never zeroed and their old contents never read.
 *    `write` is a set of MGPT_WRITE_* bits; a kernel must not read a gradient it writes
 *    (it may hold anything, NaN included). embed_backward scatters rows and always adds:
 *    the engine zeroes dwte and dwpe with the zero kernel;
 *  - a split never changes a result: each output element is computed the same way whatever
 *    part it falls in (no reduction is divided between calls), so results are the same bits
 *    on any number of threads; results depend on nothing but the inputs;
 *  - kernels never allocate; scratch space is passed in or lives in the instance;
 *  - the precision class (MGPT_PRECISION_*) says how far results may be from the scalar
 *    reference: fp32 kernels compute in float32 with float32 (or wider) accumulation;
 *  - a kernel pointer may be NULL: the engine then uses the scalar reference kernel.
 */
#ifndef MGPT_BACKEND_H
#define MGPT_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MGPT_BACKEND_ABI_MAJOR 4u
#define MGPT_BACKEND_ABI_MINOR 1u

/* CPU features a backend may require (bit mask). The loader's own detection fills the
 * same bits, with OS support for the register state already folded in (XCR0: SSE/AVX
 * state for AVX, opmask and ZMM state for AVX-512, tile config and data for AMX). AMX
 * also needs the process' permission (Linux arch_prctl(ARCH_REQ_XCOMP_PERM)): an AMX
 * backend asks for it in init and fails init, with the reason, if it is refused. */
enum {
    MGPT_CPU_SSE2        = 1u << 0,
    MGPT_CPU_SSE3        = 1u << 1,
    MGPT_CPU_SSSE3       = 1u << 2,
    MGPT_CPU_SSE41       = 1u << 3,
    MGPT_CPU_SSE42       = 1u << 4,
    MGPT_CPU_AVX         = 1u << 5,
    MGPT_CPU_FMA         = 1u << 6,
    MGPT_CPU_AVX2        = 1u << 7,
    MGPT_CPU_AVX512F     = 1u << 8,
    MGPT_CPU_AVX512BW    = 1u << 9,
    MGPT_CPU_AVX512VL    = 1u << 10,
    MGPT_CPU_AVX512DQ    = 1u << 11,
    MGPT_CPU_AVX512_BF16 = 1u << 12,   /* VDPBF16PS, VCVTNE2PS2BF16 */
    MGPT_CPU_AVX512_FP16 = 1u << 13,
    MGPT_CPU_AVX_VNNI    = 1u << 14,
    MGPT_CPU_AMX_TILE    = 1u << 15,
    MGPT_CPU_AMX_BF16    = 1u << 16
};

/* How far a backend's results may be from the scalar reference. Automatic selection only
 * picks MGPT_PRECISION_FP32 backends; a reduced-precision one runs when forced or when the
 * user asks for its precision. */
enum {
    MGPT_PRECISION_FP32 = 0,   /* float32 arithmetic: reference order up to reassociation */
    MGPT_PRECISION_BF16 = 1    /* bf16 inputs to products, float32 accumulation */
};

/* The `write` bits of the backward kernels: store the gradient (=) instead of adding (+=)
 * into it. MGPT_WRITE_DINP is the gradient of the op's (first) input: dinp, dqkv, dlogits,
 * accumulate's dst; MGPT_WRITE_DW is matmul_backward_dw's dw. */
enum {
    MGPT_WRITE_DINP = 1u << 0,
    MGPT_WRITE_DW   = 1u << 1
};

/* How the threading layer divides a call (the split column of the kernel list).
 *  NONE      on the calling thread, whole;
 *  DOCS      rows in whole documents: pointers offset to row n0, N = n1 - n0 (T rows each);
 *  ROWS      rows: pointers offset to row n0, N = n1 - n0;
 *  ELEMENTS  elements: pointers offset to i0, n = i1 - i0 (ranges of whole 64-byte lines);
 *  TILES     blocks of the output given by the kernel's range arguments (the sizes stay
 *            those of the whole call);
 *  HEADS     ranges of (document, head) pairs given by bh0, bh1;
 *  CHUNKS    sumsq: chunks of MGPT_SUMSQ_CHUNK floats, their sums added in chunk order. */
enum {
    MGPT_SPLIT_NONE, MGPT_SPLIT_DOCS, MGPT_SPLIT_ROWS, MGPT_SPLIT_ELEMENTS, MGPT_SPLIT_TILES,
    MGPT_SPLIT_HEADS, MGPT_SPLIT_CHUNKS
};

/* sumsq is called on at most this many floats; the engine sums longer arrays chunk by
 * chunk (the chunks depend on the length alone) and adds the chunks' sums in order. */
#define MGPT_SUMSQ_CHUNK ((size_t)1 << 16)

/* Adam hyper-parameters for one update; bias corrections precomputed by the engine. */
typedef struct mgpt_adam_args {
    float lr;          /* learning rate for this step (schedule applied) */
    float beta1, beta2, eps;
    float bc1, bc2;    /* 1 - beta1^t, 1 - beta2^t with t = step + 1 */
    float grad_scale;  /* multiplies every gradient (global-norm clipping); 1 if none */
} mgpt_adam_args;

/* What every kernel receives: the instance init returned and the calling thread. */
typedef struct mgpt_ctx {
    void *instance;   /* init's *instance (NULL when the descriptor has no init) */
    int thread;       /* 0 .. env->num_threads - 1: which per-thread scratch to use */
} mgpt_ctx;

#include <mgpt/kernel_list.h>

/* The slot ids: MGPT_K_EMBED_FORWARD = 0, ... in the list's order; MGPT_KERNEL_COUNT is
 * this header's number of slots. */
#define MGPT_X_ID(id, field, ref, ret, params, split, flops, bytes) id,
enum { MGPT_KERNEL_LIST(MGPT_X_ID) MGPT_KERNEL_COUNT };
#undef MGPT_X_ID

/* The type of slot `field` is mgpt_<field>_fn, e.g. a backend declares
 *     mgpt_matmul_forward_fn mine_matmul_forward;
 * and its definition is then checked against the list. */
#define MGPT_X_TYPE(id, field, ref, ret, params, split, flops, bytes) \
    typedef ret mgpt_##field##_fn params;
MGPT_KERNEL_LIST(MGPT_X_TYPE)
#undef MGPT_X_TYPE

/* The kernel table: one pointer per slot, in the list's order. */
typedef struct mgpt_kernels {
#define MGPT_X_FIELD(id, field, ref, ret, params, split, flops, bytes) mgpt_##field##_fn *field;
    MGPT_KERNEL_LIST(MGPT_X_FIELD)
#undef MGPT_X_FIELD
} mgpt_kernels;

/* Roofline probes, each in the backend's own ISA (optional; NULL if absent). Stateless:
 * the roofline runs them on its own threads, without init. They return values only so
 * that the compiler cannot drop the work. */
typedef struct mgpt_probes {
    /* Independent FMA (or mul+add) chains; returns the number of flops executed. */
    double (*peak_flops)(uint64_t iterations, float *sink);
    /* Streams through buf (n floats, 64-byte aligned) `passes` times, summing into
     * independent partial sums (several accumulators: one sum is a chain of dependent adds,
     * which measures add latency, not bandwidth). */
    float (*stream_read)(const float *buf, size_t n, int passes);
} mgpt_probes;

/* What the engine tells a backend at init. */
typedef struct mgpt_backend_env {
    uint32_t abi_major, abi_minor;  /* the engine's */
    int num_threads;        /* threads that may call kernels at once (ctx->thread < it) */
    uint32_t cpu_features;  /* the detected (and user-masked) MGPT_CPU_* bits */
} mgpt_backend_env;

typedef struct mgpt_backend_desc {
    uint16_t abi_major;            /* MGPT_BACKEND_ABI_MAJOR the plugin was built for */
    uint16_t abi_minor;            /* MGPT_BACKEND_ABI_MINOR the plugin was built for */
    uint32_t desc_size;            /* sizeof(mgpt_backend_desc) at build time */
    const char *name;              /* must equal <name> in the file and symbol names */
    const char *description;       /* one line for `mgpt backends` */
    uint32_t required_features;    /* MGPT_CPU_* bits that must all be present */
    int priority;                  /* higher wins among runnable backends */
    uint32_t precision;            /* MGPT_PRECISION_* */
    uint32_t n_kernels;            /* slots in *kernels: MGPT_KERNEL_COUNT at build time */
    /* The register tile of its TILES kernels, rows x columns: the threading layer cuts
     * their splits at these multiples (efficiency only: any cut gives the same results);
     * 0 for 1. */
    uint16_t tile_rows, tile_cols;
    const mgpt_kernels *kernels;
    const mgpt_probes *probes;     /* may be NULL */
    /* may be NULL; 0 = ok, *instance set (NULL allowed); else err says why */
    int (*init)(const mgpt_backend_env *env, void **instance, char *err, size_t errlen);
    void (*shutdown)(void *instance);  /* may be NULL */
} mgpt_backend_desc;

/* Fills the version and size fields of a descriptor. */
#define MGPT_BACKEND_DESC_HEADER                                                            \
    .abi_major = MGPT_BACKEND_ABI_MAJOR, .abi_minor = MGPT_BACKEND_ABI_MINOR,               \
    .desc_size = sizeof(mgpt_backend_desc), .n_kernels = MGPT_KERNEL_COUNT

#define MGPT_BACKEND_SYMBOL_PREFIX "mgpt_backend_"

#ifdef __cplusplus
}
#endif
#endif /* MGPT_BACKEND_H */
