/* One measurement: the model of a benchmark config on one backend, trained step after
 * step exactly as `mgpt train` does (mgpt_batch_fill, forward, backward, Adam), timed with
 * CLOCK_MONOTONIC around whole repeats. Everything is allocated before the first timed
 * step; the timed loop allocates nothing.
 *
 * Data. Configs without _B (the seed's, one document per step) train on the embedded
 * names, shuffled with seed 42, as the seed did: most names are shorter than the block,
 * so part of each row is padding and tokens/s counts only the unmasked targets. Batched
 * configs (_B) train on synthetic documents of T+1 to 2T random lowercase letters, so
 * every position of every row is real work (spec: "Configs named in benchmarks").
 *
 * FLOPs of a step: the engine's count of a training step, mgpt_step_cost (core/model/
 * op_cost.c), the one mgpt train's report divides by its step time: the forward and
 * backward graph plus 17 per parameter for the optimizer (the global-norm sumsq, 2, and
 * the Adam update, 15). Padded positions are counted: the engine computes them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench.h"
#include "data/dataset.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "data/rng.h"

#define BENCH_SEED 42
#define BENCH_STREAM_DOCS 0x62656e6368ull /* "bench": apart from init, shuffle and sample */
#define MAX_STEPS 10000000

typedef struct workload {
    mgpt_docs docs;
    mgpt_vocab vocab;
    int *order;        /* documents in training order */
    int count;
    const char *data;  /* "names" or "synthetic" */
} workload;

static void workload_free(workload *w)
{
    mgpt_docs_free(&w->docs);
    free(w->order);
    memset(w, 0, sizeof *w);
}

/* Synthetic: max(64, 4B) documents of T+1..2T random lowercase letters (seeded). */
static int synthetic_docs(workload *w, int T, int B, char *err, size_t errlen)
{
    static const char letters[] = "abcdefghijklmnopqrstuvwxyz";
    int n = 4 * B > 64 ? 4 * B : 64;
    size_t cap = (size_t)n * (2 * (size_t)T + 1);
    char *text = malloc(cap);
    if (!text) {
        snprintf(err, errlen, "out of memory for %d synthetic documents", n);
        return -1;
    }
    mgpt_rng r;
    mgpt_rng_seed(&r, BENCH_SEED, BENCH_STREAM_DOCS);
    size_t used = 0;
    for (int d = 0; d < n; d++) {
        int len = T + 1 + (int)mgpt_rng_below(&r, (uint64_t)T);
        for (int i = 0; i < len; i++)
            text[used++] = letters[mgpt_rng_below(&r, 26)];
        text[used++] = '\n';
    }
    int rc = mgpt_docs_add_text(&w->docs, text, used, "the synthetic documents", err, errlen);
    free(text);
    if (rc != 0)
        return -1;
    if (mgpt_vocab_from_bytes(&w->vocab, (const unsigned char *)letters, 26) != 0) {
        snprintf(err, errlen, "cannot build the a..z vocabulary");
        return -1;
    }
    w->order = malloc((size_t)w->docs.count * sizeof *w->order);
    if (!w->order) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < w->docs.count; i++)
        w->order[i] = i;
    w->count = w->docs.count;
    w->data = "synthetic";
    return 0;
}

static int workload_make(workload *w, int T, int B, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    mgpt_docs_init(&w->docs);
    if (B > 1)
        return synthetic_docs(w, T, B, err, errlen);
    if (mgpt_docs_add_embedded(&w->docs, err, errlen) != 0)
        return -1;
    mgpt_vocab_build(&w->vocab, &w->docs);
    mgpt_split split;
    if (mgpt_split_make(&split, w->docs.count, BENCH_SEED, 0.0) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    w->order = split.order;
    w->count = split.count;
    w->data = "names";
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The training loop's state: everything a step touches, allocated beforehand. */
typedef struct trainer {
    mgpt_model *m;
    mgpt_optim optim;
    const workload *w;
    int *ids;          /* [B] documents of the step */
    int *scratch;      /* [T + 2] encoded document */
    long next;         /* next position in w->order */
    float loss;
    char err[256];
} trainer;

/* n training steps; adds the unmasked targets to *tokens. 0, or -1 with t->err set. */
static int train_steps(trainer *t, long n, double *tokens)
{
    mgpt_model *m = t->m;
    const workload *w = t->w;
    for (long s = 0; s < n; s++) {
        for (int b = 0; b < m->B; b++)
            t->ids[b] = w->order[(t->next + b) % w->count];
        t->next = (t->next + m->B) % w->count;
        int u = mgpt_batch_fill(&w->docs, &w->vocab, t->ids, m->B, m->T, m->tokens,
                                m->targets, t->scratch, t->err, sizeof t->err);
        if (u < 0)
            return -1;
        t->loss = mgpt_model_forward(m);
        mgpt_model_backward(m);
        mgpt_adam_step(m, &t->optim);
        *tokens += u;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n, double *tmp)
{
    memcpy(tmp, v, (size_t)n * sizeof *v);
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_double);
    return n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
}

/* Steps per repeat for about min_time seconds: doubling runs until one lasts long enough
 * to time (they also warm the caches further). */
static int calibrate(trainer *t, double min_time, int *steps)
{
    double enough = min_time / 4 < 0.05 ? min_time / 4 : 0.05, tokens = 0;
    for (long k = 1;; k *= 2) {
        double t0 = now();
        if (train_steps(t, k, &tokens) != 0)
            return -1;
        double dt = now() - t0;
        if (dt >= enough || k >= MAX_STEPS) {
            double per_step = dt / (double)k;
            double want = per_step > 0 ? ceil(min_time / per_step) : MAX_STEPS;
            *steps = want < 1 ? 1 : want > MAX_STEPS ? MAX_STEPS : (int)want;
            return 0;
        }
    }
}

int bench_measure(const char *backend, const mgpt_compute *c, const char *config,
                  const bench_settings *s, const char *progress, bench_result *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->backend, sizeof r->backend, "%s", backend);
    snprintf(r->config, sizeof r->config, "%s", config);
    char err[512];
    mgpt_config cfg = {.vocab_size = 27};
    int B = 1;
    if (mgpt_config_parse_name(config, &cfg, &B, err, sizeof err) != 0) {
        tool_error("run", "%s", err);
        return -1;
    }

    workload w;
    trainer t = {0};
    double *tmp = NULL;
    int rc = -1;
    if (workload_make(&w, cfg.block_size, B, err, sizeof err) != 0) {
        tool_error("run", "%s: %s", config, err);
        goto done;
    }
    cfg.vocab_size = w.vocab.size;
    t.m = mgpt_model_create(&cfg, B, c, err, sizeof err);
    if (!t.m) {
        tool_error("run", "%s on %s: %s", config, backend, err);
        goto done;
    }
    mgpt_model_init(t.m, BENCH_SEED);
    mgpt_optim_defaults(&t.optim);
    t.optim.total_steps = 1 << 30; /* a constant rate: the work of a step never changes */
    t.w = &w;
    t.ids = malloc((size_t)B * sizeof *t.ids);
    t.scratch = malloc(((size_t)cfg.block_size + 2) * sizeof *t.scratch);
    r->repeat_ms = malloc((size_t)s->repeats * sizeof *r->repeat_ms);
    tmp = malloc((size_t)s->repeats * sizeof *tmp);
    if (!t.ids || !t.scratch || !r->repeat_ms || !tmp) {
        tool_error("run", "%s on %s: out of memory", config, backend);
        goto done;
    }

    r->cfg = cfg;
    r->batch = B;
    r->params = t.m->num_floats;
    r->data = w.data;
    r->warmup = s->warmup;
    r->repeats = s->repeats;
    r->threads = s->threads;
    /* the step's count, and its parts for the JSON */
    mgpt_cost step = mgpt_step_cost(&t.m->graph, (size_t)r->params);
    r->flops_forward = mgpt_graph_cost(&t.m->graph, 0).flops;
    r->flops_backward = mgpt_graph_cost(&t.m->graph, 1).flops;
    r->flops_optimizer = mgpt_optimizer_cost((size_t)r->params).flops;
    r->flops_per_step = step.flops;
    r->bytes_per_step = step.bytes;

    double tokens = 0;
    if (train_steps(&t, s->warmup, &tokens) != 0)
        goto train_failed;
    int steps = s->steps;
    if (steps == 0 && calibrate(&t, s->min_time, &steps) != 0)
        goto train_failed;
    r->steps = steps;
    if (!s->quiet && progress)
        bench_note("mgpt-bench: %s: %d repeat%s of %d step%s", progress, s->repeats,
                   s->repeats == 1 ? "" : "s", steps, steps == 1 ? "" : "s");

    tokens = 0;
    for (int i = 0; i < s->repeats; i++) {
        double t0 = now();
        if (train_steps(&t, steps, &tokens) != 0)
            goto train_failed;
        double dt = now() - t0;
        r->repeat_ms[i] = 1e3 * dt / steps;
        if (!s->quiet && progress && dt > 2.0 && s->repeats > 1) {
            char ms[32];
            bench_fmt_ms(ms, sizeof ms, r->repeat_ms[i]);
            bench_note("mgpt-bench: %s: repeat %d/%d: %s ms/step", progress, i + 1,
                       s->repeats, ms);
        }
    }
    r->ms_median = median(r->repeat_ms, s->repeats, tmp);
    r->ms_min = tmp[0];
    r->ms_max = tmp[s->repeats - 1];
    r->tokens_per_step = tokens / ((double)steps * s->repeats);
    r->tokens_per_s = r->tokens_per_step / (r->ms_median * 1e-3);
    r->gflops = r->flops_per_step / (r->ms_median * 1e-3) * 1e-9;
    r->final_loss = t.loss;
    if (!isfinite(t.loss))
        tool_warn("run", "%s on %s: the loss is %g after %ld steps: the backend computes "
                  "wrong numbers (timings kept)", config, backend, t.loss, t.m->step);
    rc = 0;
    goto done;

train_failed:
    tool_error("run", "%s on %s: %s", config, backend, t.err);
done:
    if (rc != 0) {
        free(r->repeat_ms);
        r->repeat_ms = NULL;
    }
    free(tmp);
    free(t.ids);
    free(t.scratch);
    if (t.m)
        mgpt_model_free(t.m);
    workload_free(&w);
    return rc;
}

void bench_result_free(bench_result *r)
{
    free(r->repeat_ms);
    r->repeat_ms = NULL;
}
