/* One training step's gradient, as micro-batches over the ranks: the step's B documents
 * fill step_tokens and step_targets (train_loop.c), this rank runs its share of the
 * B / --micro-batch micro-batches (model/microbatch.h) and the collectives (comm.h) sum
 * every rank's in the fixed tree. One process with --micro-batch = --batch-size is one
 * micro-batch: the gradient and loss of one big batch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "format/data_hash.h"
#include "train.h"

static const char C[] = "train";

int train_micro(const train_opts *o)
{
    return o->micro ? o->micro : o->batch;
}

int train_check_micro(const train_opts *o)
{
    if (o->micro && (o->micro > o->batch || o->batch % o->micro != 0)) {
        char divs[256];
        size_t used = 0;
        for (int d = 1; d <= o->batch && used < sizeof divs - 16; d++)
            if (o->batch % d == 0)
                used += (size_t)snprintf(divs + used, sizeof divs - used, "%s%d",
                                         used ? ", " : "", d);
        tool_error(C, "--micro-batch %d does not divide --batch-size %d (a step is whole "
                   "micro-batches; with --batch-size %d, --micro-batch can be %s)", o->micro,
                   o->batch, o->batch, divs);
        return CLI_USAGE;
    }
    return CLI_OK;
}

int train_step_plan(trainer *t)
{
    size_t n = (size_t)t->o->batch * (size_t)t->m->T;
    t->step_tokens = malloc(n * sizeof *t->step_tokens);
    t->step_targets = malloc(n * sizeof *t->step_targets);
    if (!t->step_tokens || !t->step_targets) {
        tool_error(C, "out of memory for a batch of %d documents", t->o->batch);
        return CLI_FAIL;
    }
    /* clipping needs the global gradient norm: every rank gets the whole gradient */
    return t->comm->ops->plan(t->comm, &t->mb, t->m, t->o->batch / train_micro(t->o),
                              t->o->clip <= 0);
}

void train_step_free(trainer *t)
{
    free(t->step_tokens);
    free(t->step_targets);
    mgpt_microbatch_free(&t->mb);
}

float train_step_gradient(trainer *t)
{
    mgpt_microbatch_run(&t->mb, t->m, t->step_tokens, t->step_targets);
    double t0 = cli_now();
    t->comm->ops->reduce(t->comm, &t->mb, t->m);
    t->comm_step = cli_now() - t0;
    return mgpt_microbatch_loss(&t->mb);
}

void train_step_update(trainer *t, const mgpt_optim *opt)
{
    t->comm_step += t->comm->ops->update(t->comm, t->m, opt);
    if (t->steps_run++ > 0) {
        t->comm_seconds += t->comm_step;
        t->comm_steps++;
    }
}

void train_step_gather(trainer *t)
{
    t->comm->ops->gather_state(t->comm, t->m);
}

void train_print_comm(const trainer *t)
{
    if (t->comm->size > 1 && t->comm_steps > 0)
        printf("gradient exchange: %.3f ms/step on rank 0 from the run's second step (%s, %d "
               "ranks, %s; includes waiting for the slowest rank)\n",
               t->comm_seconds * 1e3 / (double)t->comm_steps, t->comm->ops->name,
               t->comm->size, t->o->clip > 0 ? "whole Adam on every rank for --grad-clip"
                                             : "Adam sharded");
}

/* h folded with the hash of n bytes at p. */
static uint64_t fold(uint64_t h, const void *p, size_t n)
{
    uint64_t pair[2] = {h, mgpt_data_hash(p, n)};
    return mgpt_data_hash(pair, sizeof pair);
}

uint64_t train_digest(const trainer *t)
{
    const train_opts *o = t->o;
    char s[512];
    int n = snprintf(s, sizeof s, "V%d C%d H%d L%d T%d B%d M%d steps%d warmup%d lr%.17g "
                     "sched%d clip%.17g seed%llu vsplit%.17g vevery%d patience%d stream%d "
                     "resume%d", o->cfg.vocab_size, o->cfg.n_embd, o->cfg.n_head,
                     o->cfg.n_layer, o->cfg.block_size, o->batch, train_micro(o), o->steps,
                     o->warmup, o->lr, (int)o->schedule, o->clip,
                     (unsigned long long)o->seed, o->val_split, o->val_every, o->patience,
                     o->stream, o->resume != NULL);
    uint64_t h = fold(0, s, (size_t)n);
    const mgpt_docs *d = t->data.docs;
    for (int i = 0; d && i < d->count; i++)
        h = fold(h, d->text[i], d->len[i]);
    if (t->m) /* the initial or resumed parameters */
        h = fold(h, t->m->param_mem, t->m->num_floats * sizeof *t->m->param_mem);
    return h;
}
