/* The threaded kernels: each slot's call split over disjoint parts of its output (rows,
 * whole documents, blocks of register tiles, (document, head) pairs, element ranges, sumsq
 * chunks), one part per thread of the team, each part computed by the backend's own kernel
 * with that thread's context. No two threads write the same element and no reduction is
 * divided, except sumsq's, whose chunks depend on the length alone; so every result is the
 * same bits on any number of threads, and as the backend alone.
 *
 * Small ops stay serial: an op runs on one thread when its work (FLOPs, or bytes for the
 * memory-bound ops: mgpt/kernel_list.h's counts) is below its threshold here, a property
 * of the shape alone, measured with tools/tune (docs/threads.md). MGPT_THREAD_SPLIT=always
 * or never overrides them (tests, measurements); the results are the same bits either way.
 * Measured on a 2-core Xeon with the AVX-512 kernels (the fastest, so the latest
 * crossovers), in two cache states that bound training's: "hot", the data in the caches
 * of the threads that use it (a chain of ops split alike), and "cold", inputs just written
 * by the calling thread. The ops that pass activations along split together, from MIN_ROWS
 * rows on, each at twice its hot crossover; element-wise ops at the geometric mean of the
 * two; Adam and sumsq (whose arrays are written by ops split otherwise) at the cold one;
 * add, accumulate and sumsq lower, measured inside a real step (tools/tune/stepops.c).
 *                                            crossover hot   cold     work counted */
#include <stddef.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "engine/threads.h"

#define MIN_ROWS               128         /* the ladder of configs: below, 2 threads lost */
#define MIN_FLOPS_MATMUL_FWD   (1 << 20)   /* 5.2e5  3.4e7  2*N*C*OC */
#define MIN_FLOPS_MATMUL_BWD   (1 << 20)   /* 5.2e5  3.4e7  4*N*C*OC (both products) */
#define MIN_FLOPS_ATT_FWD      (1 << 18)   /* 1.3e5  4.2e6  4*B*H*T*T*hd */
#define MIN_FLOPS_ATT_BWD      (1 << 20)   /* 5.2e5  1.7e7  8*B*H*T*T*hd */
#define MIN_BYTES_RMSNORM_FWD  (1 << 19)   /* 2.6e5  4.2e6  8*N*C */
#define MIN_BYTES_RMSNORM_BWD  (1 << 20)   /* 5.2e5  8.4e6  16*N*C */
#define MIN_BYTES_CE_FWD       (1 << 16)   /* 2.8e4  2.2e5  8*N*V (exp-bound) */
#define MIN_BYTES_CE_BWD       (1 << 19)   /* 1.7e5  1.3e6  12*N*V */
#define MIN_BYTES_EMBED_FWD    (1 << 20)   /* 3.9e5  none   12*N*C */
#define MIN_BYTES_SQRELU_FWD   (1 << 21)   /* 5.2e5  8.4e6  8*n */
#define MIN_BYTES_SQRELU_BWD   (1 << 21)   /* 7.9e5  3.1e6  12*n */
#define MIN_BYTES_ADD          (1 << 19)   /* 7.9e5  3.1e6  12*n (in the step) */
#define MIN_BYTES_ACCUMULATE   (1 << 19)   /* 7.9e5  1.3e7  12*n (in the step) */
#define MIN_ELEMENTS_ADAM      (1 << 19)   /* 1.6e4  2.6e5  n */
#define MIN_FLOATS_SUMSQ       (1 << 19)   /* 6.6e4  1.0e6  n (8 chunks; in the step) */
#define MIN_BYTES_ZERO         (1 << 18)   /* 6.6e4  4.2e6  4*n (hot: next to its user) */
/* embed_backward stays serial (MGPT_SPLIT_NONE): its channel halves share every row of
 * dwte and dwpe, and two threads were slower than one at every measured shape (0.3x to
 * 0.9x). A backward op that writes its gradient moves fewer bytes but is counted as
 * accumulating, as measured: the split then depends on the shape alone. */

#define ELEMENT_GRANULE 16   /* floats: one 64-byte line, so ranges never share one */
#define ROW_GRANULE 4        /* rows of the row-wise ops */
#define ROWS(N) (((long)(N) + ROW_GRANULE - 1) / ROW_GRANULE)   /* their units */

static inline int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static inline mgpt_team *team_of(const mgpt_ctx *ctx)
{
    return (mgpt_team *)ctx->instance;
}

/* In a dry run, notes the parts of a call and says to skip it. */
static inline int dry(mgpt_team *t, int p)
{
    if (!t->dry_run)
        return 0;
    if (p > t->max_parts)
        t->max_parts = p;
    return 1;
}

/* The context of the calling thread of the team. */
static inline const mgpt_ctx *my_ctx(const mgpt_team *t)
{
    return &t->ctx[thread_id()];
}

/* How many parts an op of `work` (in the unit of `threshold`) is split into: 1 below the
 * threshold, else the team, but not more than the `units` the op can be split into. */
static inline int parts(const mgpt_team *t, double work, double threshold, long units)
{
    if (t->threads <= 1 || units <= 1 || t->split == MGPT_SPLIT_NEVER)
        return 1;
    if (t->split == MGPT_SPLIT_AUTO && work < threshold)
        return 1;
    return units < t->threads ? (int)units : t->threads;
}

/* parts() for the ops that pass activations along: serial below MIN_ROWS rows too. */
static inline int row_parts(const mgpt_team *t, long rows, double work, double threshold,
                            long units)
{
    if (rows < MIN_ROWS && t->split == MGPT_SPLIT_AUTO)
        return 1;
    return parts(t, work, threshold, units);
}

/* Part i of p of [0, n), cut at multiples of `granule`: [*lo, *hi), possibly empty. */
static inline void part_range(long n, long granule, int p, int i, long *lo, long *hi)
{
    long units = (n + granule - 1) / granule;
    long a = units * i / p * granule, b = units * (i + 1) / p * granule;
    *lo = a < n ? a : n;
    *hi = b < n ? b : n;
}

/* CALL runs with [lo, hi) bound to part i of the `parts` parts of [0, n), cut at multiples
 * of `granule`, one part per thread, x bound to that thread's context; with one part, once
 * on [0, n) on the calling thread. A macro only because an OpenMP loop cannot be passed to
 * a function: CALL is the backend kernel's call on its part. */
#define FOR_PARTS(t, parts, n, granule, lo, hi, x, CALL)                                    \
    do {                                                                                    \
        const int np_ = (parts);                                                            \
        const long n_ = (long)(n), granule_ = (granule);                                    \
        if (dry((t), np_))                                                                  \
            break;                                                                          \
        if (np_ <= 1) {                                                                     \
            const long lo = 0, hi = n_;                                                     \
            const mgpt_ctx *x = &(t)->ctx[0];                                               \
            CALL;                                                                           \
            break;                                                                          \
        }                                                                                   \
        _Pragma("omp parallel for num_threads(np_) schedule(static, 1)")                    \
        for (int i_ = 0; i_ < np_; i_++) {                                                  \
            long lo, hi;                                                                    \
            const mgpt_ctx *x = my_ctx(t);                                                  \
            part_range(n_, granule_, np_, i_, &lo, &hi);                                    \
            if (lo < hi)                                                                    \
                CALL;                                                                       \
        }                                                                                   \
    } while (0)

/* A GEMM output of M x N split into pm x pn blocks, in whole register tiles. */
typedef struct grid {
    int pm, pn;
} grid;

/* The split of an M x N output into at most p blocks (pm * pn <= p) whose largest block
 * holds the fewest register tiles (gm x gn). On ties, rows first for the products whose
 * output is an activation (forward, dinp): a thread then works on the same rows as in the
 * ops before and after (they stay in its caches). dw's output is a gradient that no op of
 * the chain reads, so its ties go to the block with the fewest rows plus columns: the
 * operands each thread packs, once per call, are its rows of A and its columns of B, both
 * K long, and with rows first every thread packed all of B however wide (e256's fc_proj:
 * 1024 columns of inp against 128 rows of dout^T each, where columns first packs 512 and
 * 256: fc_proj's backward, dinp and dw, took 12% less at 2 threads on Zen 5 with the bf16
 * packing, the fp32 step the same). */
static grid gemm_grid(long M, long N, int p, int gm, int gn, int fewest_packed)
{
    long um = (M + gm - 1) / gm, un = (N + gn - 1) / gn;
    grid best = {1, 1};
    long best_cost = um * un, best_packed = M + N;
    for (int q = p; q >= 2; q--)
        for (int pm = q; pm >= 1; pm--) {
            if (q % pm != 0 || pm > um || q / pm > un)
                continue;
            int pn = q / pm;
            long bm = (um + pm - 1) / pm, bn = (un + pn - 1) / pn;
            long cost = bm * bn, packed = bm * gm + bn * gn;
            if (cost < best_cost || (cost == best_cost && fewest_packed && packed < best_packed)) {
                best_cost = cost;
                best_packed = packed;
                best.pm = pm;
                best.pn = pn;
            }
        }
    return best;
}

/* ---- embedding ------------------------------------------------------------------- */

static void par_embed_forward(const mgpt_ctx *ctx, float *out, const int *tok, const float *wte,
                              const float *wpe, int N, int T, int C)
{
    mgpt_team *t = team_of(ctx);
    /* whole documents (T rows), so that row n of a part is at position n % T */
    int p = row_parts(t, N, 12.0 * N * C, MIN_BYTES_EMBED_FWD, T > 0 ? N / T : 1);
    FOR_PARTS(t, p, N, T, n0, n1, x,
              t->k->embed_forward(x, out + n0 * C, tok + n0, wte, wpe, (int)(n1 - n0), T, C));
}

static void par_embed_backward(const mgpt_ctx *ctx, float *dwte, float *dwpe, const float *dout,
                               const int *tok, int N, int T, int C)
{
    mgpt_team *t = team_of(ctx);
    if (dry(t, 1))
        return;
    t->k->embed_backward(&t->ctx[0], dwte, dwpe, dout, tok, N, T, C);
}

/* ---- row-wise ops ---------------------------------------------------------------- */

static void par_rmsnorm_forward(const mgpt_ctx *ctx, float *out, float *rstd, const float *inp,
                                int N, int C)
{
    mgpt_team *t = team_of(ctx);
    int p = row_parts(t, N, 8.0 * N * C, MIN_BYTES_RMSNORM_FWD, ROWS(N));
    FOR_PARTS(t, p, N, ROW_GRANULE, n0, n1, x,
              t->k->rmsnorm_forward(x, out + n0 * C, rstd + n0, inp + n0 * C, (int)(n1 - n0),
                                    C));
}

static void par_rmsnorm_backward(const mgpt_ctx *ctx, float *dinp, const float *dout,
                                 const float *inp, const float *rstd, int N, int C,
                                 unsigned write)
{
    mgpt_team *t = team_of(ctx);
    int p = row_parts(t, N, 16.0 * N * C, MIN_BYTES_RMSNORM_BWD, ROWS(N));
    FOR_PARTS(t, p, N, ROW_GRANULE, n0, n1, x,
              t->k->rmsnorm_backward(x, dinp + n0 * C, dout + n0 * C, inp + n0 * C, rstd + n0,
                                     (int)(n1 - n0), C, write));
}

static void par_crossentropy_forward(const mgpt_ctx *ctx, float *loss, float *probs,
                                     const float *logits, const int *targets, int N, int V)
{
    mgpt_team *t = team_of(ctx);
    int p = row_parts(t, N, 8.0 * N * V, MIN_BYTES_CE_FWD, ROWS(N));
    FOR_PARTS(t, p, N, ROW_GRANULE, n0, n1, x,
              t->k->crossentropy_forward(x, loss + n0, probs + n0 * V, logits + n0 * V,
                                         targets + n0, (int)(n1 - n0), V));
}

static void par_crossentropy_backward(const mgpt_ctx *ctx, float *dlogits, const float *probs,
                                      const int *targets, float dloss, int N, int V,
                                      unsigned write)
{
    mgpt_team *t = team_of(ctx);
    int p = row_parts(t, N, 12.0 * N * V, MIN_BYTES_CE_BWD, ROWS(N));
    FOR_PARTS(t, p, N, ROW_GRANULE, n0, n1, x,
              t->k->crossentropy_backward(x, dlogits + n0 * V, probs + n0 * V, targets + n0,
                                          dloss, (int)(n1 - n0), V, write));
}

/* ---- matmul: blocks of register tiles of the GEMM outputs --------------------------- */

/* A call of one of the three GEMM slots, and its split: block (i / g.pn, i % g.pn) of the
 * g.pm x g.pn grid over its output block [r0, r0 + M) x [c0, c0 + W) is part i. */
typedef struct gemm_call {
    int slot;              /* MGPT_K_MATMUL_FORWARD, _BACKWARD_DINP or _BACKWARD_DW */
    float *out;            /* out, dinp or dw */
    const float *a, *b;    /* forward: inp, w; dinp: dout, w; dw: dout, inp */
    int N, C, OC;
    unsigned write;
    int r0, c0;
    long M, W;
    grid g;
} gemm_call;

/* The call on [r0, r1) x [c0, c1) of its output, split by each slot's rule: serial below
 * MIN_ROWS rows of activations (dinp's and the forward's own rows; dw sums over all N
 * rows) and below its FLOP threshold (the backward's, counted over both products, halved
 * for each), else in the fewest register tiles per thread. */
static gemm_call gemm_plan(const mgpt_team *t, int slot, float *out, const float *a,
                           const float *b, int N, int C, int OC, unsigned write, int r0,
                           int r1, int c0, int c1)
{
    gemm_call g = {slot, out, a, b, N, C, OC, write, r0, c0, r1 - r0, c1 - c0, {1, 1}};
    int mr = t->tile_rows, nr = t->tile_cols;
    long tiles = ((g.M + mr - 1) / mr) * ((g.W + nr - 1) / nr);
    int p;
    if (slot == MGPT_K_MATMUL_FORWARD)
        p = row_parts(t, g.M, 2.0 * g.M * C * g.W, MIN_FLOPS_MATMUL_FWD, tiles);
    else if (slot == MGPT_K_MATMUL_BACKWARD_DINP)
        p = row_parts(t, g.M, 2.0 * g.M * g.W * OC, MIN_FLOPS_MATMUL_BWD / 2, tiles);
    else
        p = row_parts(t, N, 2.0 * N * g.W * g.M, MIN_FLOPS_MATMUL_BWD / 2, tiles);
    g.g = gemm_grid(g.M, g.W, p, mr, nr, slot == MGPT_K_MATMUL_BACKWARD_DW);
    return g;
}

static inline int gemm_parts(const gemm_call *g)
{
    return g->g.pm * g->g.pn;
}

/* Part i of the call, on the thread whose context is x. */
static void gemm_part(const mgpt_team *t, const mgpt_ctx *x, const gemm_call *g, int i)
{
    long r0, r1, q0, q1;
    part_range(g->M, t->tile_rows, g->g.pm, i / g->g.pn, &r0, &r1);
    part_range(g->W, t->tile_cols, g->g.pn, i % g->g.pn, &q0, &q1);
    if (r0 >= r1 || q0 >= q1)
        return;
    int a0 = g->r0 + (int)r0, a1 = g->r0 + (int)r1, b0 = g->c0 + (int)q0, b1 = g->c0 + (int)q1;
    if (g->slot == MGPT_K_MATMUL_FORWARD)
        t->k->matmul_forward(x, g->out, g->a, g->b, g->N, g->C, g->OC, a0, a1, b0, b1);
    else if (g->slot == MGPT_K_MATMUL_BACKWARD_DINP)
        t->k->matmul_backward_dinp(x, g->out, g->a, g->b, g->N, g->C, g->OC, a0, a1, b0, b1,
                                   g->write);
    else
        t->k->matmul_backward_dw(x, g->out, g->a, g->b, g->N, g->C, g->OC, a0, a1, b0, b1,
                                 g->write);
}

/* The call's parts, one per thread (or its one part on the calling thread). */
static void gemm_run(mgpt_team *t, const gemm_call *g)
{
    int p = gemm_parts(g);
    if (dry(t, p))
        return;
    if (p <= 1) {
        gemm_part(t, &t->ctx[0], g, 0);
        return;
    }
#pragma omp parallel for num_threads(p) schedule(static, 1)
    for (int i = 0; i < p; i++)
        gemm_part(t, my_ctx(t), g, i);
}

static void par_matmul_forward(const mgpt_ctx *ctx, float *out, const float *inp,
                               const float *w, int N, int C, int OC, int n0, int n1, int o0,
                               int o1)
{
    mgpt_team *t = team_of(ctx);
    gemm_call g = gemm_plan(t, MGPT_K_MATMUL_FORWARD, out, inp, w, N, C, OC, 0, n0, n1, o0, o1);
    gemm_run(t, &g);
}

static void par_matmul_backward_dinp(const mgpt_ctx *ctx, float *dinp, const float *dout,
                                     const float *w, int N, int C, int OC, int n0, int n1,
                                     int c0, int c1, unsigned write)
{
    mgpt_team *t = team_of(ctx);
    gemm_call g = gemm_plan(t, MGPT_K_MATMUL_BACKWARD_DINP, dinp, dout, w, N, C, OC, write, n0,
                            n1, c0, c1);
    gemm_run(t, &g);
}

static void par_matmul_backward_dw(const mgpt_ctx *ctx, float *dw, const float *dout,
                                   const float *inp, int N, int C, int OC, int o0, int o1,
                                   int c0, int c1, unsigned write)
{
    mgpt_team *t = team_of(ctx);
    gemm_call g = gemm_plan(t, MGPT_K_MATMUL_BACKWARD_DW, dw, dout, inp, N, C, OC, write, o0,
                            o1, c0, c1);
    gemm_run(t, &g);
}

/* Both products of matmul's backward in one parallel region: tasks 0..pi-1 are parts of
 * dinp, pi..pi+pw-1 parts of dw, thread t taking part t of each (with pi == pw == p).
 * One fork and one join instead of two, and a thread that finishes its dinp part early
 * starts its dw part at once: measured 3-7% faster on the backward matmuls of
 * e128_L4_b16_B32 at 2 threads than the two slots' own regions, one after the other. */
static void team_matmul_backward(mgpt_team *t, float *dinp, float *dw, const float *dout,
                                 const float *inp, const float *w, int N, int C, int OC,
                                 unsigned write)
{
    gemm_call gi = gemm_plan(t, MGPT_K_MATMUL_BACKWARD_DINP, dinp, dout, w, N, C, OC,
                             write & MGPT_WRITE_DINP, 0, N, 0, C);
    gemm_call gw = gemm_plan(t, MGPT_K_MATMUL_BACKWARD_DW, dw, dout, inp, N, C, OC,
                             write & MGPT_WRITE_DW, 0, OC, 0, C);
    int pi = gemm_parts(&gi), pw = gemm_parts(&gw), p = pi > pw ? pi : pw;
    if (dry(t, p))
        return;
    if (p <= 1) {
        gemm_part(t, &t->ctx[0], &gi, 0);
        gemm_part(t, &t->ctx[0], &gw, 0);
        return;
    }
#pragma omp parallel for num_threads(p) schedule(static, 1)
    for (int i = 0; i < pi + pw; i++) {
        if (i < pi)
            gemm_part(t, my_ctx(t), &gi, i);
        else
            gemm_part(t, my_ctx(t), &gw, i - pi);
    }
}

void mgpt_compute_matmul_backward(const mgpt_compute *c, float *dinp, float *dw,
                                  const float *dout, const float *inp, const float *w, int N,
                                  int C, int OC, unsigned write)
{
    if (c->team) {
        team_matmul_backward(c->team, dinp, dw, dout, inp, w, N, C, OC, write);
        return;
    }
    c->k->matmul_backward_dinp(c->ctx, dinp, dout, w, N, C, OC, 0, N, 0, C,
                               write & MGPT_WRITE_DINP);
    c->k->matmul_backward_dw(c->ctx, dw, dout, inp, N, C, OC, 0, OC, 0, C,
                             write & MGPT_WRITE_DW);
}

/* ---- attention: (document, head) pairs ---------------------------------------------- */

static void par_attention_forward(const mgpt_ctx *ctx, float *out, float *att, const float *qkv,
                                  int B, int T, int C, int H, int bh0, int bh1)
{
    mgpt_team *t = team_of(ctx);
    long pairs = bh1 - bh0;
    int p = row_parts(t, (long)B * T, 4.0 * pairs * T * T * (double)(C / (H > 0 ? H : 1)),
                      MIN_FLOPS_ATT_FWD, pairs);
    FOR_PARTS(t, p, pairs, 1, b0, b1, x,
              t->k->attention_forward(x, out, att, qkv, B, T, C, H, bh0 + (int)b0,
                                      bh0 + (int)b1));
}

static void par_attention_backward(const mgpt_ctx *ctx, float *dqkv, float *datt,
                                   const float *dout, const float *qkv, const float *att,
                                   int B, int T, int C, int H, int bh0, int bh1, unsigned write)
{
    mgpt_team *t = team_of(ctx);
    long pairs = bh1 - bh0;
    int p = row_parts(t, (long)B * T, 8.0 * pairs * T * T * (double)(C / (H > 0 ? H : 1)),
                      MIN_FLOPS_ATT_BWD, pairs);
    FOR_PARTS(t, p, pairs, 1, b0, b1, x,
              t->k->attention_backward(x, dqkv, datt, dout, qkv, att, B, T, C, H, bh0 + (int)b0,
                                       bh0 + (int)b1, write));
}

/* One decode position: its heads split over the team when the cache is long (the work
 * is attention_forward's per row, so its threshold; no MIN_ROWS: there is one row). */
static void par_attention_decode(const mgpt_ctx *ctx, float *out, float *att, const float *q,
                                 const float *kc, const float *vc, int T, int C, int H,
                                 int bh0, int bh1)
{
    mgpt_team *t = team_of(ctx);
    long heads = bh1 - bh0;
    int p = parts(t, 4.0 * T * C * (double)heads / (H > 0 ? H : 1), MIN_FLOPS_ATT_FWD, heads);
    FOR_PARTS(t, p, heads, 1, h0, h1, x,
              t->k->attention_decode(x, out, att, q, kc, vc, T, C, H, bh0 + (int)h0,
                                     bh0 + (int)h1));
}

/* ---- element-wise ops: ranges of whole cache lines ---------------------------------- */

static inline int element_parts(const mgpt_team *t, size_t n, double bytes_per_element,
                                double threshold)
{
    return parts(t, bytes_per_element * (double)n, threshold,
                 (long)((n + ELEMENT_GRANULE - 1) / ELEMENT_GRANULE));
}

static void par_sqrelu_forward(const mgpt_ctx *ctx, float *out, const float *inp, size_t n)
{
    mgpt_team *t = team_of(ctx);
    int p = element_parts(t, n, 8.0, MIN_BYTES_SQRELU_FWD);
    FOR_PARTS(t, p, n, ELEMENT_GRANULE, lo, hi, x,
              t->k->sqrelu_forward(x, out + lo, inp + lo, (size_t)(hi - lo)));
}

static void par_sqrelu_backward(const mgpt_ctx *ctx, float *dinp, const float *dout,
                                const float *inp, size_t n, unsigned write)
{
    mgpt_team *t = team_of(ctx);
    int p = element_parts(t, n, 12.0, MIN_BYTES_SQRELU_BWD);
    FOR_PARTS(t, p, n, ELEMENT_GRANULE, lo, hi, x,
              t->k->sqrelu_backward(x, dinp + lo, dout + lo, inp + lo, (size_t)(hi - lo),
                                    write));
}

static void par_add_forward(const mgpt_ctx *ctx, float *out, const float *a, const float *b,
                            size_t n)
{
    mgpt_team *t = team_of(ctx);
    int p = element_parts(t, n, 12.0, MIN_BYTES_ADD);
    FOR_PARTS(t, p, n, ELEMENT_GRANULE, lo, hi, x,
              t->k->add_forward(x, out + lo, a + lo, b + lo, (size_t)(hi - lo)));
}

static void par_accumulate(const mgpt_ctx *ctx, float *dst, const float *src, size_t n,
                           unsigned write)
{
    mgpt_team *t = team_of(ctx);
    int p = element_parts(t, n, 12.0, MIN_BYTES_ACCUMULATE);
    FOR_PARTS(t, p, n, ELEMENT_GRANULE, lo, hi, x,
              t->k->accumulate(x, dst + lo, src + lo, (size_t)(hi - lo), write));
}

static void par_zero(const mgpt_ctx *ctx, float *xs, size_t n)
{
    mgpt_team *t = team_of(ctx);
    int p = element_parts(t, n, 4.0, MIN_BYTES_ZERO);
    FOR_PARTS(t, p, n, ELEMENT_GRANULE, lo, hi, x, t->k->zero(x, xs + lo, (size_t)(hi - lo)));
}

static void par_adam_update(const mgpt_ctx *ctx, float *param, const float *grad, float *m,
                            float *v, size_t n, const mgpt_adam_args *args)
{
    mgpt_team *t = team_of(ctx);
    int p = element_parts(t, n, 1.0, MIN_ELEMENTS_ADAM);
    FOR_PARTS(t, p, n, ELEMENT_GRANULE, lo, hi, x,
              t->k->adam_update(x, param + lo, grad + lo, m + lo, v + lo, (size_t)(hi - lo),
                                args));
}

/* ---- sumsq: chunks ------------------------------------------------------------------- */

/* One chunk (n <= MGPT_SUMSQ_CHUNK), as the ABI has the kernel called. */
static double par_sumsq(const mgpt_ctx *ctx, const float *xs, size_t n)
{
    mgpt_team *t = team_of(ctx);
    if (dry(t, 1))
        return 0.0;
    return t->k->sumsq(&t->ctx[0], xs, n);
}

static inline double chunk_sumsq(const mgpt_kernels *k, const mgpt_ctx *x, const float *xs,
                                 size_t n, long c)
{
    size_t lo = (size_t)c * MGPT_SUMSQ_CHUNK;
    return k->sumsq(x, xs + lo, n - lo < MGPT_SUMSQ_CHUNK ? n - lo : MGPT_SUMSQ_CHUNK);
}

double mgpt_compute_sumsq(const mgpt_compute *c, const float *xs, size_t n)
{
    if (n <= MGPT_SUMSQ_CHUNK)
        return c->k->sumsq(c->ctx, xs, n);
    mgpt_team *t = c->team;
    /* the backend's own kernels and context: chunks go straight to them */
    const mgpt_kernels *k = t ? t->k : c->k;
    long chunks = (long)((n + MGPT_SUMSQ_CHUNK - 1) / MGPT_SUMSQ_CHUNK);
    enum { MAX_PARTIALS = 4096 };
    double partial[MAX_PARTIALS];
    double total = 0.0;
    /* groups of MAX_PARTIALS chunks (2^28 floats) keep the partials on the stack */
    for (long g0 = 0; g0 < chunks; g0 += MAX_PARTIALS) {
        long g1 = g0 + MAX_PARTIALS < chunks ? g0 + MAX_PARTIALS : chunks;
        int p = t ? parts(t, (double)n, MIN_FLOATS_SUMSQ, g1 - g0) : 1;
        if (t && dry(t, p))
            return 0.0;
        if (p <= 1) {
            const mgpt_ctx *x = t ? &t->ctx[0] : c->ctx;
            for (long ch = g0; ch < g1; ch++)
                partial[ch - g0] = chunk_sumsq(k, x, xs, n, ch);
        } else {
#pragma omp parallel for num_threads(p) schedule(static)
            for (long ch = g0; ch < g1; ch++)
                partial[ch - g0] = chunk_sumsq(k, my_ctx(t), xs, n, ch);
        }
        for (long ch = g0; ch < g1; ch++)
            total += partial[ch - g0];
    }
    return total;
}

const mgpt_kernels mgpt_threaded_kernels = {
    .embed_forward = par_embed_forward,
    .embed_backward = par_embed_backward,
    .rmsnorm_forward = par_rmsnorm_forward,
    .rmsnorm_backward = par_rmsnorm_backward,
    .matmul_forward = par_matmul_forward,
    .matmul_backward_dinp = par_matmul_backward_dinp,
    .matmul_backward_dw = par_matmul_backward_dw,
    .attention_forward = par_attention_forward,
    .attention_backward = par_attention_backward,
    .sqrelu_forward = par_sqrelu_forward,
    .sqrelu_backward = par_sqrelu_backward,
    .add_forward = par_add_forward,
    .accumulate = par_accumulate,
    .crossentropy_forward = par_crossentropy_forward,
    .crossentropy_backward = par_crossentropy_backward,
    .sumsq = par_sumsq,
    .adam_update = par_adam_update,
    .zero = par_zero,
    .attention_decode = par_attention_decode,
};

mgpt_compute mgpt_team_compute_for(mgpt_team *t, void (*run)(const mgpt_compute *c, void *arg),
                                   void *arg)
{
    mgpt_compute c = mgpt_team_compute(t);
    if (!c.team)
        return c;
    t->dry_run = 1;
    t->max_parts = 1;
    run(&c, arg);
    t->dry_run = 0;
    if (t->max_parts > 1)
        return c;
    c.k = t->k;
    c.ctx = &t->ctx[0];
    c.team = NULL;
    return c;
}
