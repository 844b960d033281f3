/* mgpt train, in four files: cmd_train.c (the command: the checks across options, the
 * data and its split, the backend and the model), train_options.c (its command line),
 * train_loop.c (the steps, validations, checkpoints and ^C) and train_report.c (what it
 * prints). This header is what they share. */
#ifndef MGPT_TRAIN_H
#define MGPT_TRAIN_H
#include "cli.h"
#include "data/bpe.h"
#include "data/dataset.h"
#include "data/stream.h"
#include "model/microbatch.h"
#include "model/optimizer.h"
#include "comm.h"

/* Early stopping's counters. Every checkpoint keeps them (train_settings.h), so that a
 * resumed run stops at the step the uninterrupted one would. */
typedef struct train_validation {
    double best;      /* the best validation loss so far (INFINITY: none yet) */
    long best_step;   /* its step, -1 before the first validation */
    int since_best;   /* validations since then without a new best */
} train_validation;

/* The command line, every value checked against its range. */
typedef struct train_opts {
    mgpt_config cfg;      /* the shape to build: as given, else the default */
    mgpt_config given;    /* the shape options given, 0 where not (resuming checks these) */
    int set_seed;
    int stream;           /* --stream: one token stream, random windows */
    int batch, steps, warmup, val_every, patience, num_samples, log_every;
    int micro;            /* --micro-batch, 0 if not given (train_micro: the batch) */
    int decay_steps;  /* --lr-decay-steps: the schedule's length; 0 = --num-steps */
    int save_every;   /* --save-every: save every N steps too; 0 = off */
    double lr, clip, val_split, temperature;
    mgpt_lr_schedule schedule;
    uint64_t seed;
    cli_data_args data;
    const char *save, *resume;
    const char *tokenizer; /* --tokenizer FILE (BPE), or NULL */
    int force;        /* --force: --save may replace what is not an mgpt checkpoint */
    unsigned long given_opts; /* bit i: option i of the command line was given */
    int restored;     /* resuming: the checkpoint's settings have been applied */
    int data_restored; /* ... and o->data came from them */
    void *ck_settings; /* their parsed JSON (train_settings.c): owns restored --data paths */
    int has_resumed_val;          /* ... and early stopping's counters, to go on from */
    train_validation resumed_val;
    const char *archive_dir; /* --archive-dir, or NULL */
    int no_archive;          /* --no-archive */
} train_opts;

/* A training run: the options and what was built from them. */
struct run_archive;

typedef struct trainer {
    train_opts *o;
    cli_data data;
    mgpt_vocab vocab;
    mgpt_bpe bpe;          /* the BPE tokenizer vocab points to, if any */
    mgpt_split split;
    mgpt_stream stream;    /* with --stream, instead of split */
    cli_engine eng;
    mgpt_model *m;
    int *ids, *scratch;
    train_validation val;  /* early stopping's counters */
    struct run_archive *archive; /* the run's archive (run_archive.h), or NULL */
    comm *comm;            /* the collectives (one process, or the ranks of mpirun) */
    mgpt_microbatch mb;    /* the step's micro-batches on this rank (the model has M) */
    int *step_tokens, *step_targets; /* [B*T] the step's documents, all micro-batches */
    double comm_step;      /* this step's seconds in the exchange (with MPI: waiting too) */
    double comm_seconds;   /* the exchange's seconds over the run's steps from its second on */
    long comm_steps;       /* the steps in comm_seconds */
    long steps_run;        /* the steps of this run so far */
} trainer;

/* --- train_options.c --------------------------------------------------------------- */

/* The command line into o (defaults for what it does not give): 1 to train, else 0 with
 * *status the exit status (CLI_OK after --help or --version). o->data is to be freed
 * either way. */
int train_parse(int argc, char **argv, train_opts *o, int *status);
/* Whether the long option NAME ("batch-size") was given on the command line. */
int train_option_given(const train_opts *o, const char *name);
/* Sets the long option NAME from ARG (NULL for an option without a value) as if given (its
 * range checked, not marked given): CLI_OK, or the exit status after saying what is wrong. */
int train_option_set(train_opts *o, const char *name, const char *arg);
/* Checks that PATH can be written before training for minutes, and that what it would
 * replace is an mgpt checkpoint unless force: CLI_OK or CLI_USAGE. */
int train_check_save_path(const char *path, int force);
/* Resuming keeps the checkpoint's shape: an explicit option must agree with it (ck, read
 * from path). CLI_OK or CLI_USAGE. */
int train_check_shape(const train_opts *o, const mgpt_config *ck, const char *path);

/* --- tokenizer_use.c --------------------------------------------------------------- */

/* --tokenizer, or the tokenizer of the checkpoint resumed (then into meta->vocab too): into
 * t->bpe and t->vocab. A --tokenizer that differs from the checkpoint's is refused.
 * CLI_OK or CLI_USAGE. */
struct mgpt_checkpoint_meta;
int train_tokenizer(trainer *t, struct mgpt_checkpoint_meta *meta);

/* --- train_loop.c ------------------------------------------------------------------ */

/* The steps up to --num-steps (or an early stop, or ^C), the validations and checkpoints,
 * then the samples: the command's exit status. */
int train_run(trainer *t);

/* --- train_step.c ------------------------------------------------------------------ */

/* Documents per micro-batch: --micro-batch, else the whole batch (read when used, after a
 * resumed run's settings are in). */
int train_micro(const train_opts *o);
/* --micro-batch against --batch-size: CLI_OK or CLI_USAGE. */
int train_check_micro(const train_opts *o);
/* The step's buffers and this rank's micro-batches: CLI_OK or the exit status. */
int train_step_plan(trainer *t);
void train_step_free(trainer *t);
/* The step's gradient from t->step_tokens and step_targets into the model's gradients,
 * over every rank: the step's mean loss (the same on every rank). */
float train_step_gradient(trainer *t);
/* The Adam step over every rank (sharded under mpirun unless --grad-clip: comm.h);
 * advances t->m->step and counts the step's exchange time. */
void train_step_update(trainer *t, const mgpt_optim *opt);
/* Every rank's share of the Adam state to rank 0, before it saves (on every rank). */
void train_step_gather(trainer *t);
/* "gradient exchange: X ms/step" under mpirun, for the steps of this run from its second
 * on (the first also connects the ranks). */
void train_print_comm(const trainer *t);
/* A digest of the data and the options that decide the run: every rank must agree. */
uint64_t train_digest(const trainer *t);

/* --- train_report.c ---------------------------------------------------------------- */

/* The data, split, model, schedule and backend, before the first step. */
void train_print_header(const trainer *t);
/* "trained N steps in S s: ..." for the steps of this run (nothing if none was timed). */
void train_print_speed(long steps, double seconds, double tokens, double flops_per_step);
/* --num-samples documents from the trained model. */
void train_print_samples(trainer *t);
#endif
