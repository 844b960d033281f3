/* mgpt-tune-thresholds: where an op starts to gain from the engine's threads.
 *
 * For every op and a ladder of model-like shapes it times the op on one thread (an engine
 * of 1 thread: what the threading layer runs below an op's threshold) and split over
 * THREADS threads (an engine of THREADS threads with MGPT_THREAD_SPLIT=always), both on
 * one backend, with the op's work in the unit of its threshold in core/engine/threads_split.c
 * (FLOPs, bytes or elements: mgpt_kernel_cost, the kernel list's formulas), in two cache
 * states that bound what training sees:
 *  - hot: the same call repeated, so each thread finds its share of the data in its own
 *    caches (as in a chain of ops split the same way);
 *  - cold: before every call the calling thread writes every input (untimed), and the
 *    timing covers the call and the calling thread reading every output: a worker pulls
 *    its share of the inputs from the calling core and the calling core pulls the outputs
 *    back (as for an op between two ops that run on one thread).
 * Each time is the fastest of 9 alternating batches of >= 2 ms (on a shared machine the
 * fastest batch is the one nothing else disturbed). Each crossover is the smallest work
 * from which the threads win at every larger shape of the ladder. Run it on a machine as
 * idle as possible:
 *
 *     make -C tools/tune mgpt-tune-thresholds
 *     tools/tune/mgpt-tune-thresholds [THREADS [OP|all [BACKEND]]]   (2 threads; all ops)
 *
 * (OP: that kernel slot alone, e.g. zero.) BACKEND: default avx512 if this CPU runs it,
 * else the best. Not built by default and not installed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "model/graph.h"
#include "measure.h"

enum { BATCHES = 9 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One op on one shape, run by an engine's compute. */
typedef struct bufs {
    float *a, *b, *c, *d, *e, *f;
    int *tok, *tgt;
} bufs;

typedef struct shape {
    int N, C, OC, B, T, H, V;
    size_t n;
} shape;

typedef void (*op_fn)(const mgpt_compute *k, bufs *x, const shape *s);

/* The backward ops accumulate (write bits 0): the mode with the most bytes moved. The
 * ranged kernels get their whole range; the threaded compute splits it. */

static void run_matmul_fwd(const mgpt_compute *k, bufs *x, const shape *s)
{
    k->k->matmul_forward(k->ctx, x->c, x->a, x->b, s->N, s->C, s->OC, 0, s->N, 0, s->OC);
}
static void run_matmul_dinp(const mgpt_compute *k, bufs *x, const shape *s)
{
    k->k->matmul_backward_dinp(k->ctx, x->d, x->c, x->b, s->N, s->C, s->OC, 0, s->N, 0, s->C,
                               0);
}
static void run_matmul_dw(const mgpt_compute *k, bufs *x, const shape *s)
{
    k->k->matmul_backward_dw(k->ctx, x->e, x->c, x->a, s->N, s->C, s->OC, 0, s->OC, 0, s->C, 0);
}
static void run_att_fwd(const mgpt_compute *k, bufs *x, const shape *s)
{
    k->k->attention_forward(k->ctx, x->c, x->d, x->a, s->B, s->T, s->C, s->H, 0, s->B * s->H);
}
static void run_att_bwd(const mgpt_compute *k, bufs *x, const shape *s)
{
    k->k->attention_backward(k->ctx, x->e, x->f, x->c, x->a, x->d, s->B, s->T, s->C, s->H, 0,
                             s->B * s->H, 0);
}
static void run_rms_fwd(const mgpt_compute *k, bufs *x, const shape *s)
{
    k->k->rmsnorm_forward(k->ctx, x->c, x->d, x->a, s->N, s->C);
}
static void run_rms_bwd(const mgpt_compute *k, bufs *x, const shape *s)
{
    k->k->rmsnorm_backward(k->ctx, x->e, x->b, x->a, x->d, s->N, s->C, 0);
}
static void run_ce_fwd(const mgpt_compute *k, bufs *x, const shape *s)
{
    k->k->crossentropy_forward(k->ctx, x->d, x->c, x->a, x->tgt, s->N, s->V);
}
static void run_ce_bwd(const mgpt_compute *k, bufs *x, const shape *s)
{
    k->k->crossentropy_backward(k->ctx, x->e, x->c, x->tgt, 0.01f, s->N, s->V, 0);
}
static void run_embed_fwd(const mgpt_compute *k, bufs *x, const shape *s)
{
    k->k->embed_forward(k->ctx, x->c, x->tok, x->a, x->b, s->N, s->T, s->C);
}
static void run_embed_bwd(const mgpt_compute *k, bufs *x, const shape *s)
{
    k->k->embed_backward(k->ctx, x->e, x->f, x->c, x->tok, s->N, s->T, s->C);
}
static void run_sqrelu_fwd(const mgpt_compute *k, bufs *x, const shape *s)
{
    k->k->sqrelu_forward(k->ctx, x->c, x->a, s->n);
}
static void run_sqrelu_bwd(const mgpt_compute *k, bufs *x, const shape *s)
{
    k->k->sqrelu_backward(k->ctx, x->e, x->b, x->a, s->n, 0);
}
static void run_add(const mgpt_compute *k, bufs *x, const shape *s)
{
    k->k->add_forward(k->ctx, x->c, x->a, x->b, s->n);
}
static void run_accumulate(const mgpt_compute *k, bufs *x, const shape *s)
{
    k->k->accumulate(k->ctx, x->e, x->a, s->n, 0);
}
static volatile double sink;
/* sumsq's kernel takes at most MGPT_SUMSQ_CHUNK floats: any n goes through the engine's
 * chunking, as the optimizer's does */
static void run_sumsq(const mgpt_compute *k, bufs *x, const shape *s)
{
    sink = mgpt_compute_sumsq(k, x->a, s->n);
}
static void run_zero(const mgpt_compute *k, bufs *x, const shape *s)
{
    k->k->zero(k->ctx, x->e, s->n);
}
static void run_adam(const mgpt_compute *k, bufs *x, const shape *s)
{
    mgpt_adam_args a = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.05f, 1.0f};
    k->k->adam_update(k->ctx, x->c, x->a, x->d, x->e, s->n, &a);
}

/* The buffers an op reads (in) and writes (out), with their lengths in floats. */
typedef struct span {
    float *p;
    size_t n;
} span;

typedef struct io {
    span in[6], out[3];
    int n_in, n_out;
} io;

static float dirty_sink;

/* The calling thread writes every input: each line is then in its cache, modified, and in
 * no other core's. */
static void write_inputs(const io *b)
{
    for (int i = 0; i < b->n_in; i++)
        for (size_t j = 0; j < b->in[i].n; j += 16) {
            volatile float *q = b->in[i].p + j;
            *q = *q;
        }
}

/* The calling thread reads every output, as the next op would. */
static void read_outputs(const io *b)
{
    float s = 0;
    for (int i = 0; i < b->n_out; i++)
        for (size_t j = 0; j < b->out[i].n; j += 16)
            s += ((volatile float *)b->out[i].p)[j];
    dirty_sink += s;
}

/* Seconds per call, the fastest of BATCHES batches, alternating with the other table;
 * cold: with the caches as described above. */
static void time_pair(op_fn f, const mgpt_compute *k1, const mgpt_compute *k2, bufs *x,
                      const shape *s, const io *b, int cold, double *t1, double *t2)
{
    long reps = 1;
    for (;;) {   /* calibrate on the single thread: a batch of >= 2 ms */
        double t0 = now();
        for (long r = 0; r < reps; r++)
            f(k1, x, s);
        if (now() - t0 >= 2e-3 || reps >= (1L << 24))
            break;
        reps *= 2;
    }
    *t1 = *t2 = INFINITY;
    for (int i = 0; i < BATCHES; i++)
        for (int w = 0; w < 2; w++) {
            const mgpt_compute *k = w ? k2 : k1;
            double total = 0;
            if (!cold) {
                double t0 = now();
                for (long r = 0; r < reps; r++)
                    f(k, x, s);
                total = now() - t0;
            } else {
                for (long r = 0; r < reps; r++) {
                    write_inputs(b);
                    double t0 = now();
                    f(k, x, s);
                    read_outputs(b);
                    total += now() - t0;
                }
            }
            double *t = w ? t2 : t1;
            if (total / reps < *t)
                *t = total / reps;
        }
}

/* The smallest work from which speed[] >= 1 at every larger work. */
static double crossover(const double *work, const double *speed, int n)
{
    double cross = INFINITY;
    for (int i = 0; i < n; i++) {
        int all = 1;
        for (int j = 0; j < n; j++)
            if (work[j] >= work[i] && speed[j] < 1.0)
                all = 0;
        if (all && work[i] < cross)
            cross = work[i];
    }
    return cross;
}

/* The unit of an op's threshold: what its work is counted in. */
enum { FLOP, BYTE, ELEMENT };
static const char *const unit_names[] = {"flop", "byte", "element"};

typedef struct op_def {
    int slot;   /* MGPT_K_*: its name is the slot's */
    int unit;
    op_fn f;
    int kind;   /* 0 matmul, 1 attention, 2 rows (N x C), 3 crossentropy, 4 embed, 5 elements */
} op_def;

static const op_def ops[] = {
    {MGPT_K_MATMUL_FORWARD, FLOP, run_matmul_fwd, 0},
    {MGPT_K_MATMUL_BACKWARD_DINP, FLOP, run_matmul_dinp, 0},
    {MGPT_K_MATMUL_BACKWARD_DW, FLOP, run_matmul_dw, 0},
    {MGPT_K_ATTENTION_FORWARD, FLOP, run_att_fwd, 1},
    {MGPT_K_ATTENTION_BACKWARD, FLOP, run_att_bwd, 1},
    {MGPT_K_RMSNORM_FORWARD, BYTE, run_rms_fwd, 2},
    {MGPT_K_RMSNORM_BACKWARD, BYTE, run_rms_bwd, 2},
    {MGPT_K_CROSSENTROPY_FORWARD, BYTE, run_ce_fwd, 3},
    {MGPT_K_CROSSENTROPY_BACKWARD, BYTE, run_ce_bwd, 3},
    {MGPT_K_EMBED_FORWARD, BYTE, run_embed_fwd, 4},
    {MGPT_K_EMBED_BACKWARD, BYTE, run_embed_bwd, 4},
    {MGPT_K_SQRELU_FORWARD, BYTE, run_sqrelu_fwd, 5},
    {MGPT_K_SQRELU_BACKWARD, BYTE, run_sqrelu_bwd, 5},
    {MGPT_K_ADD_FORWARD, BYTE, run_add, 5},
    {MGPT_K_ACCUMULATE, BYTE, run_accumulate, 5},
    {MGPT_K_ADAM_UPDATE, ELEMENT, run_adam, 5},
    {MGPT_K_SUMSQ, BYTE, run_sumsq, 5},
    {MGPT_K_ZERO, BYTE, run_zero, 5},
};

/* An op's work on a shape, in its unit: the kernel list's counts (mgpt_kernel_cost) of
 * the call, in the accumulating mode the run_* functions use. */
static double op_work(const op_def *op, const shape *s)
{
    if (op->unit == ELEMENT)
        return (double)s->n;
    mgpt_call_sizes z = {s->B, s->T, s->N, s->C, s->OC, s->H, s->V, (double)s->n, 0};
    mgpt_cost c = mgpt_kernel_cost(op->slot, &z);
    return op->unit == FLOP ? c.flops : c.bytes;
}

/* The ladder of shapes of an op kind; returns how many, work of each in work[]. */
static int ladder(const op_def *op, shape *out, double *work)
{
    int n = 0;
    switch (op->kind) {
    case 0:
        for (int C = 16; C <= 256; C *= 2)
            for (int N = 8; N <= 1024; N *= 2)
                if ((double)N * C * C * 4 <= 3e8)
                    out[n++] = (shape){.N = N, .C = C, .OC = 4 * C};
        break;
    case 1:
        for (int T = 8; T <= 64; T *= 2)
            for (int hd = 4; hd <= 64; hd *= 2)
                for (int B = 1; B <= 16; B *= 4)
                    out[n++] = (shape){.B = B, .T = T, .N = B * T, .H = 4, .C = 4 * hd};
        break;
    case 2:
    case 4:
        for (int C = 16; C <= 768; C *= 4)
            for (int N = 8; N <= 2048; N *= 4)
                out[n++] = (shape){.N = N, .C = C, .T = 8, .B = N / 8};
        break;
    case 3:
        for (int N = 8; N <= 8192; N *= 2)
            out[n++] = (shape){.N = N, .V = 27};
        break;
    default:
        for (size_t e = 256; e <= ((size_t)1 << 25); e *= 2)
            out[n++] = (shape){.n = e};
    }
    for (int i = 0; i < n; i++)
        work[i] = op_work(op, &out[i]);
    return n;
}

/* What the op of `slot` reads and writes on shape s (run_* above name the roles). */
static io op_io(int slot, bufs *x, const shape *s)
{
    io b = {0};
#define IN(buf, len) (b.in[b.n_in++] = (span){(buf), (size_t)(len)})
#define OUT(buf, len) (b.out[b.n_out++] = (span){(buf), (size_t)(len)})
    size_t N = (size_t)s->N, C = (size_t)s->C, OC = (size_t)s->OC, V = (size_t)s->V;
    size_t BT = (size_t)s->B * s->T, att = (size_t)s->B * s->H * s->T * s->T;
    switch (slot) {
    case MGPT_K_MATMUL_FORWARD: IN(x->a, N * C); IN(x->b, OC * C); OUT(x->c, N * OC); break;
    case MGPT_K_MATMUL_BACKWARD_DINP: IN(x->c, N * OC); IN(x->b, OC * C); IN(x->d, N * C);
            OUT(x->d, N * C); break;
    case MGPT_K_MATMUL_BACKWARD_DW: IN(x->c, N * OC); IN(x->a, N * C); IN(x->e, OC * C);
            OUT(x->e, OC * C); break;
    case MGPT_K_ATTENTION_FORWARD: IN(x->a, BT * 3 * C); OUT(x->c, BT * C); OUT(x->d, att);
            break;
    case MGPT_K_ATTENTION_BACKWARD: IN(x->e, BT * 3 * C); IN(x->c, BT * C);
            IN(x->a, BT * 3 * C); IN(x->d, att); OUT(x->e, BT * 3 * C); OUT(x->f, att); break;
    case MGPT_K_RMSNORM_FORWARD: IN(x->a, N * C); OUT(x->c, N * C); OUT(x->d, N); break;
    case MGPT_K_RMSNORM_BACKWARD: IN(x->e, N * C); IN(x->b, N * C); IN(x->a, N * C);
            IN(x->d, N); OUT(x->e, N * C); break;
    case MGPT_K_CROSSENTROPY_FORWARD: IN(x->a, N * V); OUT(x->d, N); OUT(x->c, N * V); break;
    case MGPT_K_CROSSENTROPY_BACKWARD: IN(x->e, N * V); IN(x->c, N * V); OUT(x->e, N * V);
            break;
    case MGPT_K_EMBED_FORWARD: IN(x->a, 27 * C); IN(x->b, (size_t)s->T * C); OUT(x->c, N * C);
            break;
    case MGPT_K_EMBED_BACKWARD: IN(x->e, 27 * C); IN(x->f, (size_t)s->T * C); IN(x->c, N * C);
            OUT(x->e, 27 * C); OUT(x->f, (size_t)s->T * C); break;
    case MGPT_K_SQRELU_FORWARD: IN(x->a, s->n); OUT(x->c, s->n); break;
    case MGPT_K_SQRELU_BACKWARD: IN(x->e, s->n); IN(x->b, s->n); IN(x->a, s->n);
            OUT(x->e, s->n); break;
    case MGPT_K_ADD_FORWARD: IN(x->a, s->n); IN(x->b, s->n); OUT(x->c, s->n); break;
    case MGPT_K_ACCUMULATE: IN(x->e, s->n); IN(x->a, s->n); OUT(x->e, s->n); break;
    case MGPT_K_ADAM_UPDATE: IN(x->c, s->n); IN(x->a, s->n); IN(x->d, s->n); IN(x->e, s->n);
             OUT(x->c, s->n); OUT(x->d, s->n); OUT(x->e, s->n); break;
    case MGPT_K_SUMSQ: IN(x->a, s->n); break;
    /* zero: the gradient it clears was last written by the calling thread */
    default: IN(x->e, s->n); OUT(x->e, s->n); break;
    }
#undef IN
#undef OUT
    return b;
}

static float *filled(size_t n, float lo, float hi)
{
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "mgpt-tune-thresholds: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = lo + (hi - lo) * (float)((i * 2654435761u) % 1000u) / 1000.0f;
    return p;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    const char *only = argc > 2 && strcmp(argv[2], "all") != 0 ? argv[2] : NULL;
    const char *backend = argc > 3 ? argv[3] : NULL;
    int known = !only;
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
        known |= only && strcmp(only, mgpt_kernel_name(ops[o].slot)) == 0;
    if (!known) {
        fprintf(stderr, "mgpt-tune-thresholds: no op named '%s'\n", only);
        return 2;
    }
    mgpt_engine one, par;
    const char *be = measure_open("mgpt-tune-thresholds", backend, &threads, "always", &one,
                                  &par);
    if (!be)
        return 1;
    printf("# %s on 1 thread vs on %d threads (MGPT_THREAD_SPLIT=always; %s); microseconds "
           "per call\n", be, threads, par.be.entry->desc->description);

    size_t big = (size_t)1 << 25;
    bufs x = {filled(big, -1, 1), filled(big, -1, 1), filled(big, 0, 1), filled(big, 0.1f, 1),
              filled(big, 0, 1), filled(big, 0, 1), malloc(8192 * sizeof(int)),
              malloc(8192 * sizeof(int))};
    if (!x.tok || !x.tgt) {
        fprintf(stderr, "mgpt-tune-thresholds: out of memory\n");
        return 1;
    }
    for (int i = 0; i < 8192; i++) {
        x.tok[i] = i % 27;
        x.tgt[i] = (i * 7) % 27;
    }
    printf("%-22s %-24s %10s | %9s %9s %6s | %9s %9s %6s\n", "op", "shape", "work",
           "hot 1", "hot n", "gain", "cold 1", "cold n", "gain");
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        const char *name = mgpt_kernel_name(ops[o].slot);
        if (only && strcmp(only, name) != 0)
            continue;
        shape s[256];
        double work[256], hot[256], cold[256];
        int n = ladder(&ops[o], s, work);
        for (int i = 0; i < n; i++) {
            double h1, hn, c1, cn;
            io b = op_io(ops[o].slot, &x, &s[i]);
            time_pair(ops[o].f, &one.compute, &par.compute, &x, &s[i], &b, 0, &h1, &hn);
            time_pair(ops[o].f, &one.compute, &par.compute, &x, &s[i], &b, 1, &c1, &cn);
            hot[i] = h1 / hn;
            cold[i] = c1 / cn;
            char sh[64];
            switch (ops[o].kind) {
            case 0: snprintf(sh, sizeof sh, "N%d C%d OC%d", s[i].N, s[i].C, s[i].OC); break;
            case 1: snprintf(sh, sizeof sh, "B%d T%d H%d hd%d", s[i].B, s[i].T, s[i].H,
                             s[i].C / s[i].H); break;
            case 3: snprintf(sh, sizeof sh, "N%d V%d", s[i].N, s[i].V); break;
            case 2: case 4: snprintf(sh, sizeof sh, "N%d C%d", s[i].N, s[i].C); break;
            default: snprintf(sh, sizeof sh, "n%zu", s[i].n);
            }
            printf("%-22s %-24s %10.4g | %9.2f %9.2f %6.2f | %9.2f %9.2f %6.2f\n", name,
                   sh, work[i], h1 * 1e6, hn * 1e6, hot[i], c1 * 1e6, cn * 1e6, cold[i]);
            fflush(stdout);
        }
        printf("%-22s crossover: hot %.3g, cold %.3g %ss\n", name, crossover(work, hot, n),
               crossover(work, cold, n), unit_names[ops[o].unit]);
    }
    measure_close(&one, &par);
    return 0;
}
