/* The OpenMP backend's kernels: each op split over independent ranges of its output (rows,
 * column blocks, (document, head) pairs, channels, element ranges), one range per thread,
 * each range computed by the composed ISA's range function (openmp.h). No two threads
 * write the same element and no reduction is split across threads, except sumsq's, whose
 * chunks (the SIMD sumsq's own) do not depend on the thread count; so every result is the
 * same bits on any number of threads, and as the ISA's single-threaded module.
 *
 * Small ops stay serial: an op runs on one thread when its work (FLOP, or bytes for the
 * memory-bound ops; the counts of mgpt/backend.h) is below its threshold here, a property
 * of the shape alone, measured with thresholds.c (below; docs/architecture.md).
 * MGPT_OPENMP_SPLIT=always or never overrides them (tests, measurements); the results are
 * the same bits either way. */
#include <omp.h>
#include "openmp.h"
#include "simd/kernels.h"   /* SIMD_SUMSQ_CHUNK */

/* Serial below these. openmp-thresholds measures, for each op on a ladder of shapes, where 2
 * threads start to beat 1 in two cache states that bound training's: "hot", the data in
 * the caches of the threads that use it (a chain of ops split alike: rows stay on their
 * thread from op to op), and "cold", the inputs just written and the outputs next read by
 * the calling thread (an op between two serial ones: its worker pulls its share across
 * cores and pushes it back). In training, an op split between serial neighbours lost even
 * where the cold measurement had it break even, and ops split in a chain gained as the hot
 * one said; so the ops that pass activations along (matmul, attention, rmsnorm,
 * crossentropy, embed_forward) split together, from MIN_ROWS rows (N = B*T) on, and each
 * when its work is at least twice its hot crossover. The element-wise ops take the
 * geometric mean of the two crossovers; Adam and sumsq, whose arrays (all parameters, all
 * gradients) are written and read by ops split otherwise, the cold one. Rounded up to a
 * power of two. Then, op by op inside a real step (openmp-stepops, stepops.c), a serial
 * element-wise op between split neighbours pulled half its operands across cores: add,
 * accumulate and sumsq split from 2^19 (1.0-1.3x serial, 1.6-1.9x split at e128_L4_b16_B32)
 * and zero, which runs just before the kernel that accumulates into the gradient it
 * clears, split alike, from 4x its hot crossover. Measured on this project's 2-core Xeon
 * with the AVX-512 kernels (the fastest ISA, so the latest crossovers). Units: FLOP for the
 * GEMM ops, bytes moved for the memory-bound ones, elements for Adam and sumsq
 * (mgpt/backend.h's counts). A backward op that writes its gradient (the `write` bits)
 * moves fewer bytes, but is counted as accumulating, as it was measured: the split then
 * depends on the shape alone, and a chain of ops stays split alike.
 *                                            crossover hot   cold     work counted */
#define MIN_ROWS               128         /* the ladder of configs: below, 2 threads lost */
#define MIN_FLOPS_MATMUL_FWD   (1 << 20)   /* 5.2e5  3.4e7  2*N*C*OC */
#define MIN_FLOPS_MATMUL_BWD   (1 << 20)   /* 5.2e5  3.4e7  4*N*C*OC */
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
/* embed_backward stays serial: its channel halves share every row of dwte and dwpe, and
 * two threads were slower than one at every measured shape (0.3x to 0.9x; the cores'
 * prefetchers stream into each other's half). It is 2*N*C flop, a few microseconds. */

#define ELEMENT_GRANULE 16   /* floats: one 64-byte line, so ranges never share one */
#define ROW_GRANULE 4        /* rows of the row-wise ops */
#define ROWS(N) (((long)(N) + ROW_GRANULE - 1) / ROW_GRANULE)   /* their units */

/* Threads an op may use: the team set at init, or OpenMP's default before init. */
static inline int team(void)
{
    return openmp_rt.threads > 0 ? openmp_rt.threads : omp_get_max_threads();
}

/* How many parts an op of `work` (in the unit of `threshold`) is split into: 1 below the
 * threshold, else the team, but not more than the `units` the op can be split into. */
static inline int parts(double work, double threshold, long units)
{
    int t = team();
    if (t <= 1 || units <= 1 || openmp_rt.split == OPENMP_SPLIT_NEVER)
        return 1;
    if (openmp_rt.split == OPENMP_SPLIT_AUTO && work < threshold)
        return 1;
    return units < t ? (int)units : t;
}

/* parts() for the ops that pass activations along: serial below MIN_ROWS rows too. */
static inline int row_parts(long rows, double work, double threshold, long units)
{
    if (rows < MIN_ROWS && openmp_rt.split == OPENMP_SPLIT_AUTO)
        return 1;
    return parts(work, threshold, units);
}

/* Part i of p of [0, n), cut at multiples of `granule`: [*lo, *hi), possibly empty. */
static inline void part_range(long n, long granule, int p, int i, long *lo, long *hi)
{
    long units = (n + granule - 1) / granule;
    long a = units * i / p * granule, b = units * (i + 1) / p * granule;
    *lo = a < n ? a : n;
    *hi = b < n ? b : n;
}

/* The split of every op but the GEMMs and sumsq: CALL runs with [lo, hi) bound to part i
 * of the `parts` parts of [0, n), cut at multiples of `granule`, one part per thread; with
 * one part, once on [0, n) on the calling thread (the ISA's whole-op call). A macro only
 * because an OpenMP loop cannot be passed to a function: CALL is the op's own range call. */
#define FOR_PARTS(parts, n, granule, lo, hi, CALL)                                          \
    do {                                                                                    \
        const int np_ = (parts);                                                            \
        const long n_ = (long)(n), granule_ = (granule);                                    \
        if (np_ <= 1) {                                                                     \
            const long lo = 0, hi = n_;                                                     \
            CALL;                                                                           \
            break;                                                                          \
        }                                                                                   \
        _Pragma("omp parallel for num_threads(np_) schedule(static, 1)")                    \
        for (int i_ = 0; i_ < np_; i_++) {                                                  \
            long lo, hi;                                                                    \
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
 * holds the fewest register tiles (gm x gn); rows first on ties: a thread then works on the
 * same rows of the activations as in the ops before and after (they stay in its caches),
 * and row blocks measured as fast as column blocks (each packs all of B, a few percent of
 * a block's time, where column blocks read all of A). */
static grid gemm_grid(int M, int N, int p, int gm, int gn)
{
    long um = (M + gm - 1) / gm, un = (N + gn - 1) / gn;
    grid best = {1, 1};
    long best_cost = um * un;
    for (int q = p; q >= 2; q--)
        for (int pm = q; pm >= 1; pm--) {
            if (q % pm != 0 || pm > um || q / pm > un)
                continue;
            int pn = q / pm;
            long cost = (um + pm - 1) / pm * ((un + pn - 1) / pn);
            if (cost < best_cost) {
                best_cost = cost;
                best.pm = pm;
                best.pn = pn;
            }
        }
    return best;
}

/* ---- embedding ------------------------------------------------------------------- */

void openmp_embed_forward(float *out, const int *tok, const float *wte, const float *wpe,
                          int N, int T, int C)
{
    const openmp_isa *isa = openmp_rt.isa;
    /* whole documents (T rows), so that row n of a part is at position n % T */
    int p = row_parts(N, 12.0 * N * C, MIN_BYTES_EMBED_FWD, T > 0 ? N / T : 1);
    FOR_PARTS(p, N, T, n0, n1,
              isa->embed_forward(out + n0 * C, tok + n0, wte, wpe, (int)(n1 - n0), T, C));
}

void openmp_embed_backward(float *dwte, float *dwpe, const float *dout, const int *tok,
                           int N, int T, int C)
{
    /* serial (see above); a split would be over channels, whatever the thread count */
    openmp_rt.isa->embed_backward_range(dwte, dwpe, dout, tok, N, T, C, 0, C);
}

/* ---- row-wise ops ---------------------------------------------------------------- */

void openmp_rmsnorm_forward(float *out, float *rstd, const float *inp, int N, int C)
{
    const openmp_isa *isa = openmp_rt.isa;
    int p = row_parts(N, 8.0 * N * C, MIN_BYTES_RMSNORM_FWD, ROWS(N));
    FOR_PARTS(p, N, ROW_GRANULE, n0, n1,
              isa->rmsnorm_forward(out + n0 * C, rstd + n0, inp + n0 * C, (int)(n1 - n0), C));
}

void openmp_rmsnorm_backward(float *dinp, const float *dout, const float *inp,
                             const float *rstd, int N, int C, unsigned write)
{
    const openmp_isa *isa = openmp_rt.isa;
    int p = row_parts(N, 16.0 * N * C, MIN_BYTES_RMSNORM_BWD, ROWS(N));
    FOR_PARTS(p, N, ROW_GRANULE, n0, n1,
              isa->rmsnorm_backward(dinp + n0 * C, dout + n0 * C, inp + n0 * C, rstd + n0,
                                    (int)(n1 - n0), C, write));
}

void openmp_crossentropy_forward(float *loss, float *probs, const float *logits,
                                 const int *targets, int N, int V)
{
    const openmp_isa *isa = openmp_rt.isa;
    int p = row_parts(N, 8.0 * N * V, MIN_BYTES_CE_FWD, ROWS(N));
    FOR_PARTS(p, N, ROW_GRANULE, n0, n1,
              isa->crossentropy_forward(loss + n0, probs + n0 * V, logits + n0 * V,
                                        targets + n0, (int)(n1 - n0), V));
}

void openmp_crossentropy_backward(float *dlogits, const float *probs, const int *targets,
                                  float dloss, int N, int V, unsigned write)
{
    const openmp_isa *isa = openmp_rt.isa;
    int p = row_parts(N, 12.0 * N * V, MIN_BYTES_CE_BWD, ROWS(N));
    FOR_PARTS(p, N, ROW_GRANULE, n0, n1,
              isa->crossentropy_backward(dlogits + n0 * V, probs + n0 * V, targets + n0, dloss,
                                         (int)(n1 - n0), V, write));
}

/* ---- matmul: blocks of the GEMM outputs -------------------------------------------- */

/* The calling thread's GEMM workspace (thread 0 in a serial op). Before init there are
 * none: gemm_parts() keeps those ops serial, on the ISA library's own workspace (NULL). */
static inline float *thread_work(void)
{
    return openmp_rt.work ? openmp_rt.work[omp_get_thread_num()] : NULL;
}

/* row_parts() for the GEMM-based ops, which need a workspace per thread. */
static inline int gemm_parts(long rows, double work, double threshold, long units)
{
    return openmp_rt.work ? row_parts(rows, work, threshold, units) : 1;
}

void openmp_matmul_forward(float *out, const float *inp, const float *w, int N, int C, int OC)
{
    const openmp_isa *isa = openmp_rt.isa;
    int mr = isa->gemm_mr, nr = isa->gemm_nr;
    long tiles = (long)((N + mr - 1) / mr) * ((OC + nr - 1) / nr);
    int p = gemm_parts(N, 2.0 * N * C * OC, MIN_FLOPS_MATMUL_FWD, tiles);
    grid g = gemm_grid(N, OC, p, mr, nr);
    p = g.pm * g.pn;
    if (p <= 1) {
        isa->matmul_forward_range(out, inp, w, C, OC, 0, N, 0, OC, thread_work());
        return;
    }
#pragma omp parallel for num_threads(p) schedule(static, 1)
    for (int i = 0; i < p; i++) {
        long n0, n1, o0, o1;
        part_range(N, mr, g.pm, i / g.pn, &n0, &n1);
        part_range(OC, nr, g.pn, i % g.pn, &o0, &o1);
        if (n0 < n1 && o0 < o1)
            isa->matmul_forward_range(out, inp, w, C, OC, (int)n0, (int)n1, (int)o0, (int)o1,
                                      thread_work());
    }
}

void openmp_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp,
                            const float *w, int N, int C, int OC, unsigned write)
{
    const openmp_isa *isa = openmp_rt.isa;
    int mr = isa->gemm_mr, nr = isa->gemm_nr;
    /* every block of a written gradient is stored by the block's one GEMM */
    int acc_dinp = !(write & MGPT_WRITE_DINP), acc_dw = !(write & MGPT_WRITE_DW);
    /* dinp[N, C] (sums over OC) and dw[OC, C] (sums over N), each split over its output */
    long tiles = (long)((N + mr - 1) / mr) * ((C + nr - 1) / nr);
    int p = gemm_parts(N, 4.0 * N * C * OC, MIN_FLOPS_MATMUL_BWD, tiles);
    grid gi = gemm_grid(N, C, p, mr, nr), gw = gemm_grid(OC, C, p, mr, nr);
    int pi = gi.pm * gi.pn, pw = gw.pm * gw.pn;
    if (p <= 1 || (pi <= 1 && pw <= 1)) {
        isa->matmul_backward_dinp_range(dinp, dout, w, C, OC, 0, N, 0, C, acc_dinp,
                                        thread_work());
        isa->matmul_backward_dw_range(dw, dout, inp, N, C, OC, 0, OC, 0, C, acc_dw,
                                      thread_work());
        return;
    }
    /* tasks 0..pi-1: blocks of dinp; pi..pi+pw-1: blocks of dw. With pi == pw == p, thread
     * t takes one of each. */
#pragma omp parallel for num_threads(p) schedule(static, 1)
    for (int i = 0; i < pi + pw; i++) {
        long r0, r1, c0, c1;
        if (i < pi) {
            part_range(N, mr, gi.pm, i / gi.pn, &r0, &r1);
            part_range(C, nr, gi.pn, i % gi.pn, &c0, &c1);
            if (r0 < r1 && c0 < c1)
                isa->matmul_backward_dinp_range(dinp, dout, w, C, OC, (int)r0, (int)r1, (int)c0,
                                                (int)c1, acc_dinp, thread_work());
        } else {
            int j = i - pi;
            part_range(OC, mr, gw.pm, j / gw.pn, &r0, &r1);
            part_range(C, nr, gw.pn, j % gw.pn, &c0, &c1);
            if (r0 < r1 && c0 < c1)
                isa->matmul_backward_dw_range(dw, dout, inp, N, C, OC, (int)r0, (int)r1,
                                              (int)c0, (int)c1, acc_dw, thread_work());
        }
    }
}

/* ---- attention: (document, head) pairs ---------------------------------------------- */

void openmp_attention_forward(float *out, float *att, const float *qkv,
                              int B, int T, int C, int H)
{
    const openmp_isa *isa = openmp_rt.isa;
    int BH = B * H;
    int p = gemm_parts((long)B * T, 4.0 * BH * T * T * (double)(C / (H > 0 ? H : 1)),
                       MIN_FLOPS_ATT_FWD, BH);
    FOR_PARTS(p, BH, 1, b0, b1,
              isa->attention_forward_range(out, att, qkv, T, C, H, (int)b0, (int)b1,
                                           thread_work()));
}

void openmp_attention_backward(float *dqkv, float *datt, const float *dout,
                               const float *qkv, const float *att, int B, int T, int C, int H,
                               unsigned write)
{
    const openmp_isa *isa = openmp_rt.isa;
    int BH = B * H;
    int p = gemm_parts((long)B * T, 8.0 * BH * T * T * (double)(C / (H > 0 ? H : 1)),
                       MIN_FLOPS_ATT_BWD, BH);
    FOR_PARTS(p, BH, 1, b0, b1,
              isa->attention_backward_range(dqkv, datt, dout, qkv, att, T, C, H, (int)b0,
                                            (int)b1, write, thread_work()));
}

/* ---- element-wise ops: ranges of whole cache lines ---------------------------------- */

static inline int element_parts(size_t n, double bytes_per_element, double threshold)
{
    return parts(bytes_per_element * (double)n, threshold,
                 (long)((n + ELEMENT_GRANULE - 1) / ELEMENT_GRANULE));
}

void openmp_sqrelu_forward(float *out, const float *inp, size_t n)
{
    const openmp_isa *isa = openmp_rt.isa;
    int p = element_parts(n, 8.0, MIN_BYTES_SQRELU_FWD);
    FOR_PARTS(p, n, ELEMENT_GRANULE, lo, hi,
              isa->sqrelu_forward(out + lo, inp + lo, (size_t)(hi - lo)));
}

void openmp_sqrelu_backward(float *dinp, const float *dout, const float *inp, size_t n,
                            unsigned write)
{
    const openmp_isa *isa = openmp_rt.isa;
    int p = element_parts(n, 12.0, MIN_BYTES_SQRELU_BWD);
    FOR_PARTS(p, n, ELEMENT_GRANULE, lo, hi,
              isa->sqrelu_backward(dinp + lo, dout + lo, inp + lo, (size_t)(hi - lo), write));
}

void openmp_add_forward(float *out, const float *a, const float *b, size_t n)
{
    const openmp_isa *isa = openmp_rt.isa;
    int p = element_parts(n, 12.0, MIN_BYTES_ADD);
    FOR_PARTS(p, n, ELEMENT_GRANULE, lo, hi,
              isa->add_forward(out + lo, a + lo, b + lo, (size_t)(hi - lo)));
}

void openmp_accumulate(float *dst, const float *src, size_t n, unsigned write)
{
    const openmp_isa *isa = openmp_rt.isa;
    int p = element_parts(n, 12.0, MIN_BYTES_ACCUMULATE);
    FOR_PARTS(p, n, ELEMENT_GRANULE, lo, hi,
              isa->accumulate(dst + lo, src + lo, (size_t)(hi - lo), write));
}

void openmp_zero(float *x, size_t n)
{
    const openmp_isa *isa = openmp_rt.isa;
    int p = element_parts(n, 4.0, MIN_BYTES_ZERO);
    FOR_PARTS(p, n, ELEMENT_GRANULE, lo, hi, isa->zero(x + lo, (size_t)(hi - lo)));
}

/* ---- optimizer ------------------------------------------------------------------------ */

/* The ISA's sumsq's own chunks (SIMD_SUMSQ_CHUNK floats, the last one shorter), each summed
 * by the ISA's sumsq on some thread, then the partial sums added in chunk order on this one:
 * what the ISA's sumsq does on one thread, so the same bits on any number of threads. */
static inline double chunk_sumsq(const openmp_isa *isa, const float *x, size_t n, long c)
{
    size_t lo = (size_t)c * SIMD_SUMSQ_CHUNK;
    return isa->sumsq(x + lo, n - lo < SIMD_SUMSQ_CHUNK ? n - lo : SIMD_SUMSQ_CHUNK);
}

double openmp_sumsq(const float *x, size_t n)
{
    const openmp_isa *isa = openmp_rt.isa;
    if (n <= SIMD_SUMSQ_CHUNK)
        return isa->sumsq(x, n);
    long chunks = (long)((n + SIMD_SUMSQ_CHUNK - 1) / SIMD_SUMSQ_CHUNK);
    enum { MAX_PARTIALS = 4096 };
    double partial[MAX_PARTIALS];
    double total = 0.0;
    /* groups of MAX_PARTIALS chunks (2^28 floats) keep the partials on the stack */
    for (long g0 = 0; g0 < chunks; g0 += MAX_PARTIALS) {
        long g1 = g0 + MAX_PARTIALS < chunks ? g0 + MAX_PARTIALS : chunks;
        int p = parts((double)n, MIN_FLOATS_SUMSQ, g1 - g0);
        if (p <= 1) {
            for (long c = g0; c < g1; c++)
                partial[c - g0] = chunk_sumsq(isa, x, n, c);
        } else {
#pragma omp parallel for num_threads(p) schedule(static)
            for (long c = g0; c < g1; c++)
                partial[c - g0] = chunk_sumsq(isa, x, n, c);
        }
        for (long c = g0; c < g1; c++)
            total += partial[c - g0];
    }
    return total;
}

void openmp_adam_update(float *param, const float *grad, float *m, float *v, size_t n,
                        const mgpt_adam_args *args)
{
    const openmp_isa *isa = openmp_rt.isa;
    int p = element_parts(n, 1.0, MIN_ELEMENTS_ADAM);
    FOR_PARTS(p, n, ELEMENT_GRANULE, lo, hi,
              isa->adam_update(param + lo, grad + lo, m + lo, v + lo, (size_t)(hi - lo), args));
}

/* ---- probes: the composed ISA's, on the calling thread ------------------------------- */

double openmp_peak_flops(uint64_t iterations, float *sink)
{
    return openmp_rt.isa->peak_flops(iterations, sink);
}

/* the composed ISA's features: SSE until init */
uint32_t openmp_isa_features(void)
{
    return openmp_rt.isa->features;
}

float openmp_stream_read(const float *buf, size_t n, int passes)
{
    return openmp_rt.isa->stream_read(buf, n, passes);
}
