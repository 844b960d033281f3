/* mgpt train's loop: Adam steps over batches of training documents, a validation every
 * --val-every steps (checkpointing each new best with --save, stopping early after
 * --early-stop-patience validations without one), then the final checkpoint and the
 * samples. ^C ends the run after the current step, saved. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "model/evaluate.h"
#include "run_archive.h"
#include "train_settings.h"
#include "train_test_hook.h"

static const char C[] = "train";

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
}

/* The checkpoint with its Adam state and the run's settings (train_settings.h). */
static int save(trainer *t, const char *why)
{
    char err[1200];
    train_step_gather(t); /* the Adam state is sharded over the ranks */
    if (t->comm->rank != 0) /* rank 0 writes the checkpoint */
        return CLI_OK;
    const char *key = TRAIN_SETTINGS_KEY;
    char *settings = train_settings_json(t->o, &t->val);
    if (!settings) {
        tool_error(C, "cannot save the checkpoint (%s): out of memory", why);
        return CLI_FAIL;
    }
    const char *value = settings;
    int rc = mgpt_checkpoint_save_extra(t->o->save, t->m, &t->vocab, t->o->seed, 1, &key,
                                        &value, 1, err, sizeof err);
    free(settings);
    if (rc != 0) {
        tool_error(C, "cannot save the checkpoint (%s): %s", why, err);
        t->comm->ops->abort(t->comm, CLI_FAIL); /* the other ranks would wait for it */
        return CLI_FAIL;
    }
    return CLI_OK;
}

/* Whether to stop before the next step: ^C here, or on any rank (every rank stops at the
 * same step). */
static int stop_now(trainer *t)
{
    if (t->comm->ops->any(t->comm, interrupted != 0) && !interrupted)
        interrupted = SIGTERM;
    return interrupted != 0;
}

/* The steps, the validations, the checkpoint and the samples. */
static int loop(trainer *t)
{
    train_opts *o = t->o;
    mgpt_model *m = t->m;
    const int *order = t->split.order;
    int n_val = t->split.n_val, n_train = t->split.count - n_val;
    if (o->stream)
        n_val = t->stream.n > t->stream.n_train; /* a validation tail or none */
    int B = o->batch, T = m->T;
    char err[1200];
    int status = CLI_OK;

    mgpt_optim opt;
    mgpt_optim_defaults(&opt);
    opt.lr = (float)o->lr;
    opt.schedule = o->schedule;
    opt.warmup_steps = o->warmup;
    opt.total_steps = o->decay_steps ? o->decay_steps : o->steps;
    opt.grad_clip = (float)o->clip;

    /* the model's graph is one micro-batch's; a step runs batch / micro of them */
    double flops_step = mgpt_step_cost(&m->graph, m->num_floats).flops +
                        (mgpt_graph_cost(&m->graph, 0).flops + mgpt_graph_cost(&m->graph, 1).flops) *
                            (o->batch / train_micro(o) - 1);
    cli_progress p;
    cli_progress_init(&p, stdout, m->step + 1, o->steps, o->log_every, n_val > 0);
    /* a resumed run goes on counting from the checkpoint's counters */
    t->val = o->has_resumed_val ? o->resumed_val
                                : (train_validation){.best = INFINITY, .best_step = -1};
    int stopped_early = 0, saved_best = 0;
    long first = m->step;

    while (m->step < o->steps && !stop_now(t)) {
        long s = m->step;
        double t0 = cli_now();
        int tokens = B * T;
        if (o->stream)
            mgpt_stream_batch(&t->stream, o->seed, s, B, T, t->step_tokens, t->step_targets);
        else {
            for (int b = 0; b < B; b++)
                t->ids[b] = order[n_val + (int)(((long long)s * B + b) % n_train)];
            tokens = mgpt_batch_fill(t->data.docs, &t->vocab, t->ids, B, T, t->step_tokens,
                                     t->step_targets, t->scratch, err, sizeof err);
        }
        if (tokens < 0) {
            tool_error(C, "%s", err);
            return CLI_FAIL;
        }
        float lr = mgpt_lr_at(&opt, s);
        float loss = train_step_gradient(t);
        if (!isfinite(loss)) {
            char kept[4200] = "nothing was saved";
            if (o->save && saved_best)
                snprintf(kept, sizeof kept, "%s keeps the model of step %ld", o->save,
                         t->val.best_step);
            cli_progress_end(&p);
            tool_error(C, "the training loss became %f at step %ld; try a lower --learning-rate "
                       "(now %g) or --grad-clip 1 (%s)", (double)loss, s + 1, o->lr, kept);
            return CLI_FAIL;
        }
        train_step_update(t, &opt);
        double dt = cli_now() - t0;

        double val = -1;
        long done = m->step;
        if (n_val > 0 && (done % o->val_every == 0 || done == o->steps)) {
            if (o->stream)
                mgpt_evaluate_stream(m, &t->stream, &val);
            else if (mgpt_evaluate(m, t->data.docs, &t->vocab, order, n_val, &val, err,
                                   sizeof err) != 0) {
                tool_error(C, "validation failed: %s", err);
                return CLI_FAIL;
            }
            if (val < t->val.best) {
                t->val.best = val;
                t->val.best_step = done;
                t->val.since_best = 0;
                if (o->save && !o->save_every) {
                    if ((status = save(t, "new best validation loss")) != CLI_OK)
                        return status;
                    saved_best = 1;
                }
            } else if (++t->val.since_best >= o->patience && o->patience > 0) {
                stopped_early = 1;
            }
        }
        /* the end of the run saves below */
        if (o->save_every && done % o->save_every == 0 && done < o->steps &&
            (status = save(t, "--save-every")) != CLI_OK)
            return status;
        train_test_die(t, done);
        cli_progress_step(&p, done, loss, val, lr, tokens, dt);
        run_archive_step(t->archive, done, loss, val, lr, tokens, dt);
        if (stopped_early) {
            cli_progress_note(&p, "early stop at step %ld: the validation loss has not improved "
                              "for %d validation%s (best %.4f at step %ld)", done,
                              t->val.since_best, t->val.since_best == 1 ? "" : "s",
                              t->val.best, t->val.best_step);
            break;
        }
    }
    if (interrupted)
        cli_progress_flush(&p, m->step, mgpt_lr_at(&opt, m->step - 1));
    cli_progress_end(&p);

    long ran = m->step - first;
    if (interrupted)
        printf("interrupted after step %ld\n", m->step);
    train_print_speed(ran, p.run_seconds, p.run_tokens, flops_step);
    train_print_comm(t);
    if (o->save) {
        /* with validation, PATH already holds the best model; without (or with
         * --save-every, or when no validation of a resumed run beat the checkpoint's best),
         * the last one */
        if (n_val == 0 || !saved_best || o->save_every) {
            if ((status = save(t, "end of training")) != CLI_OK)
                return status;
            printf("saved %s (step %ld)\n", o->save, m->step);
        } else
            printf("saved %s (step %ld, best validation loss %.4f)\n", o->save,
                   t->val.best_step, t->val.best);
        run_archive_checkpoint(t->archive, o->save);
    }
    if (interrupted)
        return CLI_INTERRUPTED;
    train_print_samples(t);
    return CLI_OK;
}

int train_run(trainer *t)
{
    /* ^C stops after the current step and saves; a second ^C ends at once */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int status = loop(t);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    return status;
}
