/* The one definition of a correct backend: every slot a module implements against the
 * scalar reference kernels linked into the engine, and the whole backend through the
 * engine (deterministic at any thread count, a training run that tracks scalar).
 * mgpt-check-backend prints these rows; tests/test_backend_ops.cc asserts them for every
 * backend in the tree.
 *
 * Each slot check calls the backend's kernel, through its instance's context, on random
 * inputs whose sizes hit every vector tail (1, 3, 7, 15, 17, 31, 33, 65, 100, 257 in each
 * dimension that varies), with every buffer it is handed ending exactly at an inaccessible
 * page (a tail that reads or writes one float too far faults), backward kernels in both
 * modes of each gradient they store (accumulating onto nonzero values; writing into NaN,
 * which they must not read), the ranged slots (matmul_*, attention_*) also on blocks of
 * their output (each block the bits of the whole call, nothing written outside it), and
 * every slot twice on the same inputs (the same bits, the second time as thread 1).
 *
 * Tolerances: eps = FLT_EPSILON. A sum of K products in any order, with or without FMA, is
 * within K*eps*mag of the reference, mag being the sum of the terms' magnitudes (computed
 * by running the reference on absolute values); each check states its chain length c and
 * allows c*eps*mag per element. A reduced-precision backend (MGPT_PRECISION_BF16) rounds
 * the inputs of the products of matmul_* and attention_* to bf16 (relative error
 * u = 2^-8 each): those slots get 2u (one product) to 6u (attention's backward) times
 * mag more; every other slot is held to fp32. */
#ifndef MGPT_CHECK_H
#define MGPT_CHECK_H
#include <stdint.h>
#include <stdio.h>
#include "engine/registry.h"

#define MGPT_CHECK_THREADS 3

typedef enum { MGPT_CHECK_PASS, MGPT_CHECK_FAIL, MGPT_CHECK_SKIP } mgpt_check_status;

/* One row of the report: a slot, or a whole-backend check ("threads", "training",
 * "probe peak_flops", "probe stream_read"). */
typedef struct mgpt_check_row {
    char name[48];
    int slot;                  /* slot index; -1 for a whole-backend check */
    int native;                /* the module's own kernel (else the reference stands in) */
    mgpt_check_status status;
    long cases;                /* calls compared */
    double worst;              /* largest |got - ref| / tolerance seen (<= 1 passes) */
    double gflops;             /* GFLOP/s on the slot's timing shape; 0 if not timed */
    char detail[1024];         /* the first failure, or why it was skipped */
} mgpt_check_row;

/* A backend instance under check, and the state of the row being filled. */
typedef struct mgpt_checker {
    mgpt_backend be;           /* opened for MGPT_CHECK_THREADS, as the engine opens it */
    const mgpt_kernels *k;     /* the instance's table (NULL slots filled with the reference) */
    const mgpt_kernels *ref;   /* mgpt_reference_kernels */
    mgpt_ctx tctx[2];          /* {instance, thread t} */
    mgpt_ctx rctx;             /* the reference takes no state */
    int tile_rows, tile_cols;  /* the descriptor's register tile (1 when 0) */
    double unit;               /* the products' input rounding: 0 (fp32) or 2^-8 (bf16) */
    uint64_t rng;
    mgpt_check_row *row;       /* the row being filled */
} mgpt_checker;

/* Opens backend `name` of registry r for checking (init for MGPT_CHECK_THREADS threads,
 * the most the threads check runs). 0 on success;
 * else err says why, 2 when the CPU cannot run it (or the name is unknown), 1 otherwise. */
int mgpt_check_open(mgpt_checker *c, mgpt_registry *r, const char *name, char *err,
                    size_t errlen);
void mgpt_check_close(mgpt_checker *c);

/* Checks slot i (accuracy, modes, tails, guard pages, split, determinism), filling row.
 * A slot the module leaves to the reference is skipped ("fallback"). */
void mgpt_check_slot(mgpt_checker *c, int slot, mgpt_check_row *row);
/* GFLOP/s of slot i of the instance on its timing shape (a step of e128_L4_b16_B32);
 * about `seconds` of timing. */
double mgpt_check_speed(mgpt_checker *c, int slot, double seconds);

/* The module's probes (peak_flops, stream_read): counts proportional to the work, sums
 * right. Two rows; SKIP when the module has no such probe. */
void mgpt_check_probes(mgpt_checker *c, mgpt_check_row rows[2]);

/* Whole-backend checks, training on the embedded names data through the model.
 * threads: `steps` steps bitwise the same (losses, gradient norms, parameters, Adam
 * moments) on teams of 1, 2 and 3 threads, every op split wherever it has two parts
 * (MGPT_THREAD_SPLIT=always). training: over `steps` steps the loss of each step is within
 * a relative 1e-3 (fp32) or 3e-2 (bf16) of the scalar reference's, and falls. */
void mgpt_check_threads(mgpt_checker *c, int steps, mgpt_check_row *row);
void mgpt_check_training(mgpt_checker *c, int steps, mgpt_check_row *row);

/* The report: one row per line (slot, kind, worst error / tolerance, cases, result,
 * GFLOP/s), or JSON (an object with the module, backend, CPU and the rows). */
void mgpt_check_print_table(FILE *f, const mgpt_check_row *rows, int n);
/* The same a row at a time, as the checks finish. */
void mgpt_check_print_header(FILE *f);
void mgpt_check_print_row(FILE *f, const mgpt_check_row *r);
int mgpt_check_write_json(FILE *f, const char *module, const char *backend, const char *cpu,
                          const mgpt_check_row *rows, int n);

/* --- for the slot checks (check_*.c) ------------------------------------------------- */

/* Buffers of one case: each ends at a PROT_NONE page; all freed by mgpt_check_pool_free. */
typedef struct mgpt_check_pool {
    struct { void *base; size_t len; } m[32];
    int n;
} mgpt_check_pool;
float *mgpt_check_floats(mgpt_check_pool *p, size_t n);           /* uninitialised */
float *mgpt_check_copy(mgpt_check_pool *p, const float *src, size_t n);
float *mgpt_check_fill(mgpt_check_pool *p, size_t n, float value); /* NaN for "written" */
int *mgpt_check_ints(mgpt_check_pool *p, size_t n);
double *mgpt_check_doubles(mgpt_check_pool *p, size_t n);
float *mgpt_check_random(mgpt_checker *c, mgpt_check_pool *p, size_t n, float lo, float hi);
float *mgpt_check_abs(mgpt_check_pool *p, const float *x, size_t n);
void mgpt_check_pool_free(mgpt_check_pool *p);
/* Whether addr lies in the guard page of a live buffer (a fault there is an access past
 * the buffer's end). */
int mgpt_check_in_guard(const void *addr);
uint32_t mgpt_check_rand(mgpt_checker *c);

/* Compares got with ref within tol[i] (NaN fails), recording the worst ratio on the row;
 * 0 if all pass, else fails the row with `where` and the first bad elements and returns
 * -1. tol = c*eps*mag[i] + floor. */
int mgpt_check_near(mgpt_checker *c, const char *what, const float *got, const float *ref,
                    const double *tol, size_t n, const char *where);
double *mgpt_check_tol(mgpt_check_pool *p, const float *mag, size_t n, double chain,
                       double floor);
/* Bitwise equality (determinism); -1 and a failed row otherwise. */
int mgpt_check_same(mgpt_checker *c, const char *what, const float *a, const float *b,
                    size_t n, const char *where);
/* Fails the row with a formatted message (the first failure wins); returns -1. */
int mgpt_check_fail(mgpt_checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The sizes a vector tail can get wrong (10) and element counts (0, those, 1000, 4099). */
extern const int mgpt_check_sizes[10];
int mgpt_check_counts(size_t *out, int max);
const char *mgpt_check_mode(unsigned write);   /* "accumulating", "writing dinp", ... */

/* One family of slots each (check_<family>.c); 0 or -1 (row failed). */
int mgpt_check_embed(mgpt_checker *c, int slot);
int mgpt_check_rmsnorm(mgpt_checker *c, int slot);
int mgpt_check_matmul(mgpt_checker *c, int slot);
int mgpt_check_attention(mgpt_checker *c, int slot);
int mgpt_check_attention_decode(mgpt_checker *c, int slot);   /* and its split */
int mgpt_check_elementwise(mgpt_checker *c, int slot);
int mgpt_check_crossentropy(mgpt_checker *c, int slot);
int mgpt_check_optimizer(mgpt_checker *c, int slot);
/* The split rule of the ranged slots (check_split.c). */
int mgpt_check_matmul_split(mgpt_checker *c, int slot);
int mgpt_check_attention_split(mgpt_checker *c, int slot);
#endif
