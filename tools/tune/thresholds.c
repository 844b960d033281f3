/* openmp-thresholds: where an op of the OpenMP backend starts to gain from threads.
 *
 * For every op and a ladder of model-like shapes it times the op on one thread (the
 * single-threaded module of the ISA the OpenMP backend composes: what the backend runs
 * below its threshold) and split over THREADS threads (the OpenMP backend with
 * MGPT_OPENMP_SPLIT=always), with the op's work (in the unit of its threshold in
 * kernels.c), in two cache states that bound what training sees:
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
 *     make -C backends/openmp openmp-thresholds && backends/openmp/openmp-thresholds [THREADS [OP]]
 *
 * (OP: that op alone, e.g. zero.)
 * Not built by default and not installed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "measure.h"

enum { BATCHES = 9 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One op on one shape, run by a kernel table. */
typedef struct bufs {
    float *a, *b, *c, *d, *e, *f;
    int *tok, *tgt;
} bufs;

typedef struct shape {
    int N, C, OC, B, T, H;
    size_t n;
} shape;

typedef void (*op_fn)(const mgpt_kernels *k, bufs *x, const shape *s);

/* The backward ops accumulate (write bits 0): the mode whose work kernels.c counts, and
 * the one with the most bytes moved. */

static void run_matmul_fwd(const mgpt_kernels *k, bufs *x, const shape *s)
{
    k->matmul_forward(x->c, x->a, x->b, s->N, s->C, s->OC);
}
static void run_matmul_bwd(const mgpt_kernels *k, bufs *x, const shape *s)
{
    k->matmul_backward(x->d, x->e, x->c, x->a, x->b, s->N, s->C, s->OC, 0);
}
static void run_att_fwd(const mgpt_kernels *k, bufs *x, const shape *s)
{
    k->attention_forward(x->c, x->d, x->a, s->B, s->T, s->C, s->H);
}
static void run_att_bwd(const mgpt_kernels *k, bufs *x, const shape *s)
{
    k->attention_backward(x->e, x->f, x->c, x->a, x->d, s->B, s->T, s->C, s->H, 0);
}
static void run_rms_fwd(const mgpt_kernels *k, bufs *x, const shape *s)
{
    k->rmsnorm_forward(x->c, x->d, x->a, s->N, s->C);
}
static void run_rms_bwd(const mgpt_kernels *k, bufs *x, const shape *s)
{
    k->rmsnorm_backward(x->e, x->b, x->a, x->d, s->N, s->C, 0);
}
static void run_ce_fwd(const mgpt_kernels *k, bufs *x, const shape *s)
{
    k->crossentropy_forward(x->d, x->c, x->a, x->tgt, s->N, s->C);
}
static void run_ce_bwd(const mgpt_kernels *k, bufs *x, const shape *s)
{
    k->crossentropy_backward(x->e, x->c, x->tgt, 0.01f, s->N, s->C, 0);
}
static void run_embed_fwd(const mgpt_kernels *k, bufs *x, const shape *s)
{
    k->embed_forward(x->c, x->tok, x->a, x->b, s->N, s->T, s->C);
}
static void run_embed_bwd(const mgpt_kernels *k, bufs *x, const shape *s)
{
    k->embed_backward(x->e, x->f, x->c, x->tok, s->N, s->T, s->C);
}
static void run_sqrelu_fwd(const mgpt_kernels *k, bufs *x, const shape *s)
{
    k->sqrelu_forward(x->c, x->a, s->n);
}
static void run_sqrelu_bwd(const mgpt_kernels *k, bufs *x, const shape *s)
{
    k->sqrelu_backward(x->e, x->b, x->a, s->n, 0);
}
static void run_add(const mgpt_kernels *k, bufs *x, const shape *s)
{
    k->add_forward(x->c, x->a, x->b, s->n);
}
static void run_accumulate(const mgpt_kernels *k, bufs *x, const shape *s)
{
    k->accumulate(x->e, x->a, s->n, 0);
}
static volatile double sink;
static void run_sumsq(const mgpt_kernels *k, bufs *x, const shape *s)
{
    sink = k->sumsq(x->a, s->n);
}
static void run_zero(const mgpt_kernels *k, bufs *x, const shape *s)
{
    k->zero(x->e, s->n);
}
static void run_adam(const mgpt_kernels *k, bufs *x, const shape *s)
{
    mgpt_adam_args a = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.05f, 1.0f};
    k->adam_update(x->c, x->a, x->d, x->e, s->n, &a);
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
static void time_pair(op_fn f, const mgpt_kernels *k1, const mgpt_kernels *k2, bufs *x,
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
            const mgpt_kernels *k = w ? k2 : k1;
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

typedef struct op_def {
    const char *name, *unit;
    op_fn f;
    int kind;   /* 0 matmul, 1 attention, 2 rows (N x C), 3 crossentropy, 4 embed, 5 elements */
    double per; /* work per unit of the shape (kernels.c's formula) */
} op_def;

static const op_def ops[] = {
    {"matmul_forward", "flop", run_matmul_fwd, 0, 2},
    {"matmul_backward", "flop", run_matmul_bwd, 0, 4},
    {"attention_forward", "flop", run_att_fwd, 1, 4},
    {"attention_backward", "flop", run_att_bwd, 1, 8},
    {"rmsnorm_forward", "byte", run_rms_fwd, 2, 8},
    {"rmsnorm_backward", "byte", run_rms_bwd, 2, 16},
    {"crossentropy_forward", "byte", run_ce_fwd, 3, 8},
    {"crossentropy_backward", "byte", run_ce_bwd, 3, 12},
    {"embed_forward", "byte", run_embed_fwd, 4, 12},
    {"embed_backward", "byte", run_embed_bwd, 4, 20},
    {"sqrelu_forward", "byte", run_sqrelu_fwd, 5, 8},
    {"sqrelu_backward", "byte", run_sqrelu_bwd, 5, 12},
    {"add_forward", "byte", run_add, 5, 12},
    {"accumulate", "byte", run_accumulate, 5, 12},
    {"adam_update", "element", run_adam, 5, 1},
    {"sumsq", "byte", run_sumsq, 5, 4},
    {"zero", "byte", run_zero, 5, 4},
};

/* The ladder of shapes of an op kind; returns how many, work of each in work[]. */
static int ladder(int kind, double per, shape *out, double *work)
{
    int n = 0;
    switch (kind) {
    case 0:
        for (int C = 16; C <= 256; C *= 2)
            for (int N = 8; N <= 1024; N *= 2)
                if ((double)N * C * C * 4 <= 3e8) {
                    out[n] = (shape){.N = N, .C = C, .OC = 4 * C};
                    work[n++] = per * N * C * 4.0 * C;
                }
        break;
    case 1:
        for (int T = 8; T <= 64; T *= 2)
            for (int hd = 4; hd <= 64; hd *= 2)
                for (int B = 1; B <= 16; B *= 4) {
                    out[n] = (shape){.B = B, .T = T, .H = 4, .C = 4 * hd};
                    work[n++] = per * B * 4.0 * T * T * hd;
                }
        break;
    case 2:
    case 4:
        for (int C = 16; C <= 768; C *= 4)
            for (int N = 8; N <= 2048; N *= 4) {
                out[n] = (shape){.N = N, .C = C, .T = 8, .B = N / 8};
                work[n++] = per * N * C;
            }
        break;
    case 3:
        for (int N = 8; N <= 8192; N *= 2) {
            out[n] = (shape){.N = N, .C = 27};
            work[n++] = per * N * 27.0;
        }
        break;
    default:
        for (size_t e = 256; e <= ((size_t)1 << 25); e *= 2) {
            out[n] = (shape){.n = e};
            work[n++] = per * (double)e;
        }
    }
    return n;
}

/* What op o (index in ops[]) reads and writes on shape s (run_* above name the roles). */
static io op_io(size_t o, bufs *x, const shape *s)
{
    io b = {0};
#define IN(buf, len) (b.in[b.n_in++] = (span){(buf), (size_t)(len)})
#define OUT(buf, len) (b.out[b.n_out++] = (span){(buf), (size_t)(len)})
    size_t N = (size_t)s->N, C = (size_t)s->C, OC = (size_t)s->OC;
    size_t BT = (size_t)s->B * s->T, att = (size_t)s->B * s->H * s->T * s->T;
    switch (o) {
    case 0: IN(x->a, N * C); IN(x->b, OC * C); OUT(x->c, N * OC); break;
    case 1: IN(x->c, N * OC); IN(x->a, N * C); IN(x->b, OC * C); IN(x->d, N * C);
            IN(x->e, OC * C); OUT(x->d, N * C); OUT(x->e, OC * C); break;
    case 2: IN(x->a, BT * 3 * C); OUT(x->c, BT * C); OUT(x->d, att); break;
    case 3: IN(x->e, BT * 3 * C); IN(x->c, BT * C); IN(x->a, BT * 3 * C); IN(x->d, att);
            OUT(x->e, BT * 3 * C); OUT(x->f, att); break;
    case 4: IN(x->a, N * C); OUT(x->c, N * C); OUT(x->d, N); break;
    case 5: IN(x->e, N * C); IN(x->b, N * C); IN(x->a, N * C); IN(x->d, N);
            OUT(x->e, N * C); break;
    case 6: IN(x->a, N * C); OUT(x->d, N); OUT(x->c, N * C); break;
    case 7: IN(x->e, N * C); IN(x->c, N * C); OUT(x->e, N * C); break;
    case 8: IN(x->a, 27 * C); IN(x->b, (size_t)s->T * C); OUT(x->c, N * C); break;
    case 9: IN(x->e, 27 * C); IN(x->f, (size_t)s->T * C); IN(x->c, N * C);
            OUT(x->e, 27 * C); OUT(x->f, (size_t)s->T * C); break;
    case 10: IN(x->a, s->n); OUT(x->c, s->n); break;
    case 11: IN(x->e, s->n); IN(x->b, s->n); IN(x->a, s->n); OUT(x->e, s->n); break;
    case 12: IN(x->a, s->n); IN(x->b, s->n); OUT(x->c, s->n); break;
    case 13: IN(x->e, s->n); IN(x->a, s->n); OUT(x->e, s->n); break;
    case 14: IN(x->c, s->n); IN(x->a, s->n); IN(x->d, s->n); IN(x->e, s->n);
             OUT(x->c, s->n); OUT(x->d, s->n); OUT(x->e, s->n); break;
    case 15: IN(x->a, s->n); break;
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
        fprintf(stderr, "openmp-thresholds: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = lo + (hi - lo) * (float)((i * 2654435761u) % 1000u) / 1000.0f;
    return p;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    const char *only = argc > 2 ? argv[2] : NULL;
    int known = !only;
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
        known |= only && strcmp(only, ops[o].name) == 0;
    if (!known) {
        fprintf(stderr, "openmp-thresholds: no op named '%s'\n", only);
        return 2;
    }
    mgpt_registry reg;
    mgpt_backend one, par;
    setenv("MGPT_OPENMP_SPLIT", "always", 1);
    const char *isa = measure_open("openmp-thresholds", &threads, &reg, &one, &par);
    if (!isa)
        return 1;
    printf("# %s on 1 thread vs %s on %d threads (%s); microseconds per call\n", isa,
           par.entry->name, threads, par.entry->desc->description);

    size_t big = (size_t)1 << 25;
    bufs x = {filled(big, -1, 1), filled(big, -1, 1), filled(big, 0, 1), filled(big, 0.1f, 1),
              filled(big, 0, 1), filled(big, 0, 1), malloc(8192 * sizeof(int)),
              malloc(8192 * sizeof(int))};
    for (int i = 0; i < 8192; i++) {
        x.tok[i] = i % 27;
        x.tgt[i] = (i * 7) % 27;
    }
    printf("%-22s %-24s %10s | %9s %9s %6s | %9s %9s %6s\n", "op", "shape", "work",
           "hot 1", "hot n", "gain", "cold 1", "cold n", "gain");
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        if (only && strcmp(only, ops[o].name) != 0)
            continue;
        shape s[256];
        double work[256], hot[256], cold[256];
        int n = ladder(ops[o].kind, ops[o].per, s, work);
        for (int i = 0; i < n; i++) {
            double h1, hn, c1, cn;
            io b = op_io(o, &x, &s[i]);
            time_pair(ops[o].f, &one.k, &par.k, &x, &s[i], &b, 0, &h1, &hn);
            time_pair(ops[o].f, &one.k, &par.k, &x, &s[i], &b, 1, &c1, &cn);
            hot[i] = h1 / hn;
            cold[i] = c1 / cn;
            char sh[64];
            switch (ops[o].kind) {
            case 0: snprintf(sh, sizeof sh, "N%d C%d OC%d", s[i].N, s[i].C, s[i].OC); break;
            case 1: snprintf(sh, sizeof sh, "B%d T%d H%d hd%d", s[i].B, s[i].T, s[i].H,
                             s[i].C / s[i].H); break;
            case 2: case 3: case 4: snprintf(sh, sizeof sh, "N%d C%d", s[i].N, s[i].C); break;
            default: snprintf(sh, sizeof sh, "n%zu", s[i].n);
            }
            printf("%-22s %-24s %10.4g | %9.2f %9.2f %6.2f | %9.2f %9.2f %6.2f\n", ops[o].name,
                   sh, work[i], h1 * 1e6, hn * 1e6, hot[i], c1 * 1e6, cn * 1e6, cold[i]);
            fflush(stdout);
        }
        printf("%-22s crossover: hot %.3g, cold %.3g %ss\n", ops[o].name,
               crossover(work, hot, n), crossover(work, cold, n), ops[o].unit);
    }
    mgpt_backend_close(&par);
    mgpt_backend_close(&one);
    mgpt_registry_free(&reg);
    return 0;
}
