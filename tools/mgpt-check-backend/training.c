/* The whole backend at work: short training runs on the names data, through the model
 * and the engine's threading layer, compared with the scalar reference and with
 * themselves at other thread counts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "data/dataset.h"
#include "data/tokenizer.h"
#include "engine/threads.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "check.h"

/* A run's record: each step's loss and gradient norm, then the final parameters and
 * Adam moments. */
typedef struct run {
    float *loss, *norm, *state;
    size_t n_state;
    int steps;
} run;

static void run_free(run *r)
{
    free(r->loss);
    free(r->norm);
    free(r->state);
    memset(r, 0, sizeof *r);
}

/* `steps` steps of config `name` through compute k; step s trains on documents
 * (s*B + b) * 37 mod count, Adam with clipping at 1 (so that sumsq's result reaches the
 * parameters) and a linear decay. 0, or -1 with err. */
static int train(const mgpt_compute *k, const char *name, int steps, run *out, char *err,
                 size_t errlen)
{
    memset(out, 0, sizeof *out);
    mgpt_docs docs;
    mgpt_docs_init(&docs);
    mgpt_vocab vocab;
    mgpt_model *m = NULL;
    int *ids = NULL, *scratch = NULL, rc = -1, B = 0;
    mgpt_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (mgpt_docs_add_embedded(&docs, err, errlen) != 0)
        goto done;
    mgpt_vocab_build(&vocab, &docs);
    cfg.vocab_size = vocab.size;
    if (mgpt_config_parse_name(name, &cfg, &B, err, errlen) != 0)
        goto done;
    if (!(m = mgpt_model_create(&cfg, B, k, err, errlen)))
        goto done;
    mgpt_model_init(m, 7);
    mgpt_optim o;
    mgpt_optim_defaults(&o);
    o.total_steps = steps;
    o.grad_clip = 1.0f;
    ids = malloc((size_t)B * sizeof *ids);
    scratch = malloc(((size_t)m->T + 2) * sizeof *scratch);
    out->loss = malloc((size_t)steps * sizeof(float));
    out->norm = malloc((size_t)steps * sizeof(float));
    out->n_state = 3 * m->num_floats;
    out->state = malloc(out->n_state * sizeof(float));
    if (!ids || !scratch || !out->loss || !out->norm || !out->state) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    for (int s = 0; s < steps; s++) {
        for (int b = 0; b < B; b++)
            ids[b] = (int)(((long)s * B + b) * 37 % docs.count);
        if (mgpt_batch_fill(&docs, &vocab, ids, B, m->T, m->tokens, m->targets, scratch, err,
                            errlen) <= 0)
            goto done;
        out->loss[s] = mgpt_model_forward(m);
        mgpt_model_backward(m);
        out->norm[s] = mgpt_adam_step(m, &o);
        out->steps = s + 1;
    }
    memcpy(out->state, m->param_mem, m->num_floats * sizeof(float));
    memcpy(out->state + m->num_floats, m->m_mem, m->num_floats * sizeof(float));
    memcpy(out->state + 2 * m->num_floats, m->v_mem, m->num_floats * sizeof(float));
    rc = 0;
done:
    if (rc != 0)
        run_free(out);
    free(ids);
    free(scratch);
    mgpt_model_free(m);
    mgpt_docs_free(&docs);
    return rc;
}

static void row_start(mgpt_checker *c, mgpt_check_row *row, const char *name)
{
    memset(row, 0, sizeof *row);
    snprintf(row->name, sizeof row->name, "%s", name);
    row->slot = -1;
    row->native = 1;
    row->status = MGPT_CHECK_PASS;
    c->row = row;
}

/* The first difference between two runs, or 0 if they are the same bits. */
static int compare_runs(mgpt_checker *c, const run *a, const run *b, const char *what)
{
    for (int s = 0; s < a->steps; s++) {
        if (memcmp(&a->loss[s], &b->loss[s], sizeof(float)) != 0)
            return mgpt_check_fail(c, "%s: step %d: loss %.9g vs %.9g", what, s + 1, a->loss[s],
                                   b->loss[s]);
        if (memcmp(&a->norm[s], &b->norm[s], sizeof(float)) != 0)
            return mgpt_check_fail(c, "%s: step %d: gradient norm %.9g vs %.9g", what, s + 1,
                                   a->norm[s], b->norm[s]);
    }
    for (size_t i = 0; i < a->n_state; i++)
        if (memcmp(&a->state[i], &b->state[i], sizeof(float)) != 0)
            return mgpt_check_fail(c, "%s: the final parameters or Adam moments differ first at "
                                   "float %zu of %zu: %.9g vs %.9g",
                                   what, i, a->n_state, a->state[i], b->state[i]);
    return 0;
}

/* Large enough that every op has several parts on 3 threads, small enough for seconds. */
#define THREADS_CONFIG "e32_L2_b16_B6"
#define TRAINING_CONFIG "e32_L2_b16_B8"

void mgpt_check_threads(mgpt_checker *c, int steps, mgpt_check_row *row)
{
    row_start(c, row, "threads");
    if (!mgpt_threads_available()) {
        row->status = MGPT_CHECK_SKIP;
        snprintf(row->detail, sizeof row->detail, "this build has no threads (no OpenMP)");
        c->row = NULL;
        return;
    }
    run runs[MGPT_CHECK_THREADS];
    memset(runs, 0, sizeof runs);
    char err[512] = "";
    for (int t = 1; t <= MGPT_CHECK_THREADS && row->status == MGPT_CHECK_PASS; t++) {
        mgpt_team team;
        if (mgpt_team_init(&team, &c->be, t, MGPT_SPLIT_ALWAYS, NULL, 0, err, sizeof err) != 0) {
            mgpt_check_fail(c, "a team of %d threads: %s", t, err);
            break;
        }
        mgpt_compute k = mgpt_team_compute(&team);
        if (train(&k, THREADS_CONFIG, steps, &runs[t - 1], err, sizeof err) != 0)
            mgpt_check_fail(c, "training on %d threads: %s", t, err);
        mgpt_team_free(&team);
        row->cases++;
        if (t > 1 && row->status == MGPT_CHECK_PASS) {
            char what[96];
            snprintf(what, sizeof what, THREADS_CONFIG ", %d steps, 1 vs %d threads (every op "
                     "split)", steps, t);
            compare_runs(c, &runs[0], &runs[t - 1], what);
        }
    }
    for (int t = 0; t < MGPT_CHECK_THREADS; t++)
        run_free(&runs[t]);
    c->row = NULL;
}

void mgpt_check_training(mgpt_checker *c, int steps, mgpt_check_row *row)
{
    row_start(c, row, "training");
    mgpt_compute mine = {c->k, &c->tctx[0], NULL};
    mgpt_compute ref = {c->ref, &c->rctx, NULL};
    run a, r;
    char err[512] = "";
    if (train(&mine, TRAINING_CONFIG, steps, &a, err, sizeof err) != 0) {
        mgpt_check_fail(c, "training with the backend: %s", err);
        c->row = NULL;
        return;
    }
    if (train(&ref, TRAINING_CONFIG, steps, &r, err, sizeof err) != 0) {
        mgpt_check_fail(c, "training with the scalar reference: %s", err);
        run_free(&a);
        c->row = NULL;
        return;
    }
    /* chaos grows the differences step by step; over a short run fp32 reassociation stays
     * far below 1e-3, bf16 rounding of the products below 3e-2 */
    double rel = c->unit > 0 ? 3e-2 : 1e-3;
    for (int s = 0; s < steps; s++) {
        double d = fabs((double)a.loss[s] - r.loss[s]), tol = rel * fabs((double)r.loss[s]);
        double ratio = d == 0 ? 0 : d / tol;
        row->cases++;
        if (ratio > row->worst || isnan(ratio))
            row->worst = isnan(ratio) ? INFINITY : ratio;
        if (!(d <= tol)) {
            mgpt_check_fail(c, TRAINING_CONFIG ": step %d: loss %.6g, scalar %.6g (relative "
                            "tolerance %g)", s + 1, a.loss[s], r.loss[s], rel);
            break;
        }
    }
    if (row->status == MGPT_CHECK_PASS && !(a.loss[steps - 1] < a.loss[0]))
        mgpt_check_fail(c, TRAINING_CONFIG ": the loss did not fall in %d steps (%.6g to %.6g)",
                        steps, a.loss[0], a.loss[steps - 1]);
    if (row->status == MGPT_CHECK_PASS)
        snprintf(row->detail, sizeof row->detail, TRAINING_CONFIG ": loss %.4f -> %.4f in %d "
                 "steps (scalar %.4f -> %.4f)", a.loss[0], a.loss[steps - 1], steps, r.loss[0],
                 r.loss[steps - 1]);
    run_free(&a);
    run_free(&r);
    c->row = NULL;
}
