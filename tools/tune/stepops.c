/* mgpt-tune-stepops: where a training step's time goes, op by op, on one thread and on the
 * engine's threads, in the step's own cache state (the per-op thresholds of
 * core/engine/threads_split.c are measured on ops alone: see thresholds.c; this shows what they
 * give in the chain of a real step).
 *
 * One model of CONFIG, synthetic tokens and targets; the step is the engine's (forward
 * walk, backward walk with its zeroing, the gradient norm, Adam), each node, zeroing,
 * sumsq and adam_update timed alone. Blocks of STEPS steps alternate between one backend
 * on one thread and the same backend on THREADS threads (two engines; the split mode is
 * MGPT_THREAD_SPLIT's, auto by default), on the same model, so that a slow phase of a
 * shared machine hits both alike; every figure is the median over the blocks.
 *
 *     make -C tools/tune mgpt-tune-stepops
 *     tools/tune/mgpt-tune-stepops [CONFIG [THREADS [BACKEND]]]  (e128_L4_b16_B32, 2 threads)
 *
 * BACKEND: default avx512 if this CPU runs it, else the best. Not built by default and not
 * installed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "model/model.h"
#include "measure.h"
#include "data/dataset.h"

enum { BLOCKS = 21, STEPS = 5, WARMUP_BLOCKS = 2, MAX_ROWS = 64 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Seconds per row of the table (an op, direction and shape), per block and side. */
typedef struct row {
    char name[64];
    double t[2][BLOCKS];
} row;

static row rows[MAX_ROWS];
static int n_rows;

static double *cell(const char *name, int side, int block)
{
    for (int i = 0; i < n_rows; i++)
        if (strcmp(rows[i].name, name) == 0)
            return &rows[i].t[side][block];
    if (n_rows == MAX_ROWS) {
        fprintf(stderr, "mgpt-tune-stepops: more than %d kinds of op\n", MAX_ROWS);
        exit(1);
    }
    snprintf(rows[n_rows].name, sizeof rows[n_rows].name, "%s", name);
    return &rows[n_rows++].t[side][block];
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void node_name(char *buf, size_t len, const mgpt_node *nd, int backward)
{
    if (nd->op == MGPT_OP_MATMUL)
        snprintf(buf, len, "%s matmul %dx%d", backward ? "B" : "F", nd->C, nd->OC);
    else
        snprintf(buf, len, "%s %s", backward ? "B" : "F", mgpt_op_name(nd->op));
}

static volatile double sink;   /* keeps the gradient norm's work from being dropped */

/* One training step on compute k, each piece added to its row's cell of `block`
 * (block < 0: untimed). */
static void step(mgpt_model *m, const mgpt_compute *k, int side, int block)
{
    char name[64];
    double t;
    for (int i = 0; i < m->graph.n_nodes; i++) {
        const mgpt_node *nd = &m->graph.nodes[i];
        t = now();
        mgpt_node_forward(nd, &m->graph, k);
        node_name(name, sizeof name, nd, 0);
        if (block >= 0)
            *cell(name, side, block) += now() - t;
    }
    for (int i = m->graph.n_nodes - 1; i >= 0; i--) {   /* mgpt_graph_backward, timed */
        const mgpt_node *nd = &m->graph.nodes[i];
        t = now();
        for (int j = 0; j < 2; j++)
            if (nd->zero_grad[j])
                k->k->zero(k->ctx, nd->zero_grad[j]->grad, nd->zero_grad[j]->numel);
        if (block >= 0)
            *cell("zero (gradients)", side, block) += now() - t;
        t = now();
        mgpt_node_backward(nd, &m->graph, k);
        node_name(name, sizeof name, nd, 1);
        if (block >= 0)
            *cell(name, side, block) += now() - t;
    }
    t = now();
    sink += mgpt_compute_sumsq(k, m->grad_mem, m->num_floats);   /* as mgpt_adam_step */
    if (block >= 0)
        *cell("sumsq", side, block) += now() - t;
    /* Adam at step 10 with a learning rate that leaves the parameters where they are */
    mgpt_adam_args a = {1e-7f, 0.9f, 0.95f, 1e-8f, 0.6513f, 0.4013f, 1.0f};
    t = now();
    k->k->adam_update(k->ctx, m->param_mem, m->grad_mem, m->m_mem, m->v_mem, m->num_floats, &a);
    if (block >= 0)
        *cell("adam_update", side, block) += now() - t;
}

int main(int argc, char **argv)
{
    const char *config = argc > 1 ? argv[1] : "e128_L4_b16_B32";
    int threads = argc > 2 ? atoi(argv[2]) : 0;
    const char *backend = argc > 3 ? argv[3] : NULL;
    char err[1200];
    mgpt_config cfg = {0};
    int B;
    if (mgpt_config_parse_name(config, &cfg, &B, err, sizeof err) != 0) {
        fprintf(stderr, "mgpt-tune-stepops: %s\n", err);
        return 2;
    }
    mgpt_engine one, par;
    const char *be = measure_open("mgpt-tune-stepops", backend, &threads, NULL, &one, &par);
    if (!be)
        return 1;
    /* one model for both sides: each step is given its compute */
    mgpt_model *m = mgpt_model_create(&cfg, B, &par.compute, err, sizeof err);
    if (!m) {
        fprintf(stderr, "mgpt-tune-stepops: %s\n", err);
        measure_close(&one, &par);
        return 1;
    }
    mgpt_model_init(m, 42);
    mgpt_batch_random(m->tokens, m->targets, m->N, cfg.vocab_size, 42);
    m->graph.n_targets = m->N;   /* what mgpt_graph_forward counts: none masked */

    const mgpt_compute *k[2] = {&one.compute, &par.compute};
    double step_time[2][BLOCKS];
    for (int b = -WARMUP_BLOCKS; b < BLOCKS; b++)
        for (int side = 0; side < 2; side++) {
            double t = now();
            for (int s = 0; s < STEPS; s++)
                step(m, k[side], side, b);
            if (b >= 0)
                step_time[side][b] = (now() - t) / STEPS;
        }

    printf("# %s: %s on 1 thread vs on %d threads (%s); us per step, median of %d blocks "
           "of %d steps\n", config, be, threads, par.be.entry->desc->description, BLOCKS,
           STEPS);
    printf("%-24s %10s %10s %6s\n", "op", "1 thread", "threads", "gain");
    double sum[2] = {0, 0};
    for (int i = 0; i < n_rows; i++) {
        double t1 = median(rows[i].t[0], BLOCKS) / STEPS * 1e6;
        double tn = median(rows[i].t[1], BLOCKS) / STEPS * 1e6;
        sum[0] += t1;
        sum[1] += tn;
        printf("%-24s %10.1f %10.1f %6.2f\n", rows[i].name, t1, tn, t1 / tn);
    }
    printf("%-24s %10.1f %10.1f %6.2f\n", "sum of the above", sum[0], sum[1], sum[0] / sum[1]);
    double s1 = median(step_time[0], BLOCKS) * 1e6, sn = median(step_time[1], BLOCKS) * 1e6;
    printf("%-24s %10.1f %10.1f %6.2f\n", "step (median)", s1, sn, s1 / sn);

    mgpt_model_free(m);
    measure_close(&one, &par);
    return 0;
}
