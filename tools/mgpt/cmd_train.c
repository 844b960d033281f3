/* mgpt train: the seed's train.py as a command. Load documents, build (or take from the
 * checkpoint) the vocabulary, shuffle and split, open the backend, then step Adam over
 * batches of training documents, validating every --val-every steps, and finally save and
 * print samples. Every option is checked before any work starts. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"
#include "dataset.h"
#include "evaluate.h"
#include "optimizer.h"
#include "rng.h"
#include "sampler.h"

/* Defaults, shared by the parser and --help (the seed's train.py defaults). */
#define D_N_EMBD 16
#define D_N_LAYER 1
#define D_N_HEAD 4
#define D_BLOCK 8
#define D_BATCH 1
#define D_STEPS 500
#define D_LR 0.01
#define D_SEED 42
#define D_VAL_EVERY 100
#define D_SAMPLES 20
#define D_TEMP 0.5

#define MAX_EMBD MGPT_MAX_EMBD
#define MAX_LAYER MGPT_MAX_LAYER
#define MAX_BLOCK MGPT_MAX_BLOCK
#define MAX_BATCH 65536
#define MAX_STEPS 1000000000L

typedef struct train_opts {
    mgpt_config cfg;
    int set_embd, set_head, set_layer, set_block, set_seed;
    int batch, steps, warmup, val_every, patience, num_samples, log_every;
    double lr, clip, val_split, temperature;
    mgpt_lr_schedule schedule;
    uint64_t seed;
    cli_data_args data;
    const char *save, *resume;
} train_opts;

enum {
    O_EMBD = 256, O_LAYER, O_HEAD, O_BLOCK, O_BATCH, O_STEPS, O_LR, O_SCHED, O_WARMUP, O_CLIP,
    O_SEED, O_VSPLIT, O_VEVERY, O_PATIENCE, O_SAMPLES, O_TEMP, O_SAVE,
    O_RESUME, O_LOGEVERY
};

static const struct option longopts[] = {
    {"n-embd", required_argument, NULL, O_EMBD},
    {"n-layer", required_argument, NULL, O_LAYER},
    {"n-head", required_argument, NULL, O_HEAD},
    {"block-size", required_argument, NULL, O_BLOCK},
    {"batch-size", required_argument, NULL, O_BATCH},
    {"num-steps", required_argument, NULL, O_STEPS},
    {"learning-rate", required_argument, NULL, O_LR},
    {"lr-schedule", required_argument, NULL, O_SCHED},
    {"warmup-steps", required_argument, NULL, O_WARMUP},
    {"grad-clip", required_argument, NULL, O_CLIP},
    {"seed", required_argument, NULL, O_SEED},
    {"val-split", required_argument, NULL, O_VSPLIT},
    {"val-every", required_argument, NULL, O_VEVERY},
    {"early-stop-patience", required_argument, NULL, O_PATIENCE},
    {"num-samples", required_argument, NULL, O_SAMPLES},
    {"temperature", required_argument, NULL, O_TEMP},
    CLI_DATA_OPTIONS,
    {"save", required_argument, NULL, O_SAVE},
    {"resume", required_argument, NULL, O_RESUME},
    {"log-every", required_argument, NULL, O_LOGEVERY},
    CLI_HELP_AND_VERSION,
};

static void help(void)
{
    printf("Usage: mgpt [GLOBAL OPTIONS] train [OPTIONS]\n"
           "Train a character-level GPT on documents (one per line), print samples.\n"
           "With no --data or --data-dir, trains on the embedded names data set.\n"
           "\n"
           "Model (taken from the checkpoint when resuming):\n"
           "      --n-embd=N            embedding width C, 1..%d (default %d)\n"
           "      --n-layer=N           transformer layers, 1..%d (default %d)\n"
           "      --n-head=N            attention heads, must divide --n-embd (default %d)\n"
           "      --block-size=N        context length T in tokens, 1..%d (default %d)\n"
           "\n"
           "Optimisation:\n"
           "      --batch-size=N        documents per step, 1..%d (default %d)\n"
           "      --num-steps=N         total optimizer steps, 1..%ld (default %d)\n"
           "      --learning-rate=F     peak Adam learning rate, (0, 10] (default %g)\n"
           "      --lr-schedule=NAME    decay to 0 after warmup: linear or cosine\n"
           "                            (default linear)\n"
           "      --warmup-steps=N      linear warmup steps, < --num-steps (default 0)\n"
           "      --grad-clip=F         clip the global gradient norm; 0 = off (default 0)\n"
           "      --seed=N              seeds init, shuffle and sampling (default %d; when\n"
           "                            resuming, the checkpoint's seed)\n"
           "\n"
           "Validation:\n"
           "      --val-split=F         hold out this fraction of the shuffled documents,\n"
           "                            in [0, 1); 0 = no validation (default 0)\n"
           "      --val-every=N         validate every N steps and at the end (default %d)\n"
           "      --early-stop-patience=N\n"
           "                            stop after N validations without a new best loss;\n"
           "                            0 = off; needs --val-split (default 0)\n"
           "\n"
           "Data and files:\n"
           CLI_DATA_HELP
           "      --save=PATH           write a checkpoint with the optimizer state at the\n"
           "                            end; with --val-split, at each new best validation\n"
           "                            loss instead, so PATH holds the best model\n"
           "                            (default: none)\n"
           "      --resume=PATH         continue from a checkpoint written by --save, up to\n"
           "                            --num-steps in total (default: none)\n"
           "\n"
           "Output:\n"
           "      --num-samples=N       samples printed at the end, 0..1000000 (default %d)\n"
           "      --temperature=F       sampling temperature, > 0 (default %g)\n"
           "      --log-every=N         a progress line every N steps when stdout is not a\n"
           "                            terminal; 0 = about 20 to 40 lines (default 0)\n"
           "  -h, --help                show this help and exit\n"
           "      --version             show the version and exit\n"
           "\n"
           "A progress line: step S/N | loss L | val V | lr R | X ms/step | Y tok/s\n"
           "(loss: mean training loss since the previous line; val: when validated).\n"
           "Exit status: 0 on success, 1 on a failure while working, 2 for a wrong\n"
           "option, value or input file, 130 when interrupted (after saving).\n",
           MAX_EMBD, D_N_EMBD, MAX_LAYER, D_N_LAYER, D_N_HEAD, MAX_BLOCK, D_BLOCK, MAX_BATCH,
           D_BATCH, MAX_STEPS, D_STEPS, D_LR, D_SEED, D_VAL_EVERY, D_SAMPLES, D_TEMP);
}

static const char C[] = "train";

static void defaults(train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->cfg.n_embd = D_N_EMBD;
    o->cfg.n_layer = D_N_LAYER;
    o->cfg.n_head = D_N_HEAD;
    o->cfg.block_size = D_BLOCK;
    o->batch = D_BATCH;
    o->steps = D_STEPS;
    o->lr = D_LR;
    o->schedule = MGPT_LR_LINEAR;
    o->seed = D_SEED;
    o->val_every = D_VAL_EVERY;
    o->num_samples = D_SAMPLES;
    o->temperature = D_TEMP;
}

static int take(int c, const char *arg, void *opts)
{
    train_opts *o = opts;
    switch (c) {
    case O_EMBD:
        o->set_embd = 1;
        return cli_parse_int(C, "--n-embd", arg, 1, MAX_EMBD, &o->cfg.n_embd);
    case O_LAYER:
        o->set_layer = 1;
        return cli_parse_int(C, "--n-layer", arg, 1, MAX_LAYER, &o->cfg.n_layer);
    case O_HEAD:
        o->set_head = 1;
        return cli_parse_int(C, "--n-head", arg, 1, MAX_EMBD, &o->cfg.n_head);
    case O_BLOCK:
        o->set_block = 1;
        return cli_parse_int(C, "--block-size", arg, 1, MAX_BLOCK, &o->cfg.block_size);
    case O_BATCH:
        return cli_parse_int(C, "--batch-size", arg, 1, MAX_BATCH, &o->batch);
    case O_STEPS:
        return cli_parse_int(C, "--num-steps", arg, 1, MAX_STEPS, &o->steps);
    case O_LR:
        return cli_parse_float(C, "--learning-rate", arg, 0, 10, 1, 0, "a number in (0, 10]",
                               &o->lr);
    case O_SCHED:
        if (strcmp(arg, "linear") == 0)
            o->schedule = MGPT_LR_LINEAR;
        else if (strcmp(arg, "cosine") == 0)
            o->schedule = MGPT_LR_COSINE;
        else {
            tool_error(C, "--lr-schedule '%s' is unknown (expected linear or cosine)", arg);
            return CLI_USAGE;
        }
        return CLI_OK;
    case O_WARMUP:
        return cli_parse_int(C, "--warmup-steps", arg, 0, MAX_STEPS, &o->warmup);
    case O_CLIP:
        return cli_parse_float(C, "--grad-clip", arg, 0, 1e30, 0, 0,
                               "0 (off) or a positive gradient norm", &o->clip);
    case O_SEED:
        o->set_seed = 1;
        return cli_parse_u64(C, "--seed", arg, &o->seed);
    case O_VSPLIT:
        return cli_parse_float(C, "--val-split", arg, 0, 1, 0, 1,
                               "a fraction in [0, 1); 0 = no validation", &o->val_split);
    case O_VEVERY:
        return cli_parse_int(C, "--val-every", arg, 1, MAX_STEPS, &o->val_every);
    case O_PATIENCE:
        return cli_parse_int(C, "--early-stop-patience", arg, 0, MAX_STEPS, &o->patience);
    case O_SAMPLES:
        return cli_parse_int(C, "--num-samples", arg, 0, 1000000, &o->num_samples);
    case O_TEMP:
        return cli_parse_float(C, "--temperature", arg, 0, 1e6, 1, 0, "a number > 0",
                               &o->temperature);
    case CLI_OPT_DATA:
    case CLI_OPT_DATA_DIR:
        return cli_data_take(C, &o->data, c, arg);
    case O_SAVE:
        o->save = arg;
        return CLI_OK;
    case O_RESUME:
        o->resume = arg;
        return CLI_OK;
    case O_LOGEVERY:
        return cli_parse_int(C, "--log-every", arg, 0, MAX_STEPS, &o->log_every);
    }
    return CLI_OK;
}

static const cli_command command = {C, "", longopts, help, take};

/* Checks that PATH can be written before training for minutes. */
static int check_save_path(const char *path)
{
    struct stat st;
    if (!*path) {
        tool_error(C, "--save '' is empty (expected a file path)");
        return CLI_USAGE;
    }
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        tool_error(C, "--save '%s' is a folder (expected a file path)", path);
        return CLI_USAGE;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        tool_error(C, "--save '%s': folder '%s' does not exist", path, dir);
        return CLI_USAGE;
    }
    if (access(dir, W_OK) != 0) {
        tool_error(C, "--save '%s': cannot write in folder '%s': %s", path, dir, strerror(errno));
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* Resuming keeps the checkpoint's shape: an explicit option must agree with it. */
static int check_shape(const train_opts *o, const mgpt_config *ck, const char *path)
{
    const struct { int set, given, have; const char *opt, *name; } f[] = {
        {o->set_embd, o->cfg.n_embd, ck->n_embd, "--n-embd", "n_embd"},
        {o->set_head, o->cfg.n_head, ck->n_head, "--n-head", "n_head"},
        {o->set_layer, o->cfg.n_layer, ck->n_layer, "--n-layer", "n_layer"},
        {o->set_block, o->cfg.block_size, ck->block_size, "--block-size", "block_size"},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].set && f[i].given != f[i].have) {
            tool_error(C, "%s %d differs from the %s %d of checkpoint '%s' (resuming keeps the "
                       "checkpoint's shape; drop %s or give %d)", f[i].opt, f[i].given, f[i].name,
                       f[i].have, path, f[i].opt, f[i].have);
            return CLI_USAGE;
        }
    return CLI_OK;
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
}

typedef struct trainer {
    train_opts *o;
    cli_data data;
    mgpt_vocab vocab;
    mgpt_split split;
    cli_engine eng;
    mgpt_model *m;
    int *ids, *scratch;
    double best_val;
    long best_step;
} trainer;

static int save(trainer *t, const char *why)
{
    char err[1200];
    if (mgpt_checkpoint_save(t->o->save, t->m, &t->vocab, t->o->seed, 1, err, sizeof err) != 0) {
        tool_error(C, "cannot save the checkpoint (%s): %s", why, err);
        return CLI_FAIL;
    }
    return CLI_OK;
}

static void print_samples(trainer *t)
{
    train_opts *o = t->o;
    if (o->num_samples == 0)
        return;
    /* sample from a one-document model: same numbers whatever the batch size */
    mgpt_model *m = t->m, *one = NULL;
    if (m->B != 1) {
        char err[512];
        one = mgpt_model_create(&m->cfg, 1, &t->eng.be.k, err, sizeof err);
        if (one) {
            mgpt_model_copy_params(one, m);
            m = one;
        }
    }
    mgpt_sample_opts so;
    mgpt_sample_defaults(&so, m);
    so.temperature = (float)o->temperature;
    mgpt_rng r;
    mgpt_rng_seed(&r, o->seed, MGPT_STREAM_SAMPLE);
    char *buf = malloc((size_t)m->T + 1);
    if (!buf) {
        mgpt_model_free(one);
        return;
    }
    printf("--- %d sample%s (temperature %g, seed %llu) ---\n", o->num_samples,
           o->num_samples == 1 ? "" : "s", o->temperature, (unsigned long long)o->seed);
    int w = o->num_samples >= 100 ? (o->num_samples >= 1000 ? 7 : 3) : 2;
    for (int i = 0; i < o->num_samples; i++) {
        mgpt_sample(m, &t->vocab, &r, &so, buf, (size_t)m->T + 1, NULL, NULL);
        printf("sample %*d: %s\n", w, i + 1, buf);
    }
    free(buf);
    mgpt_model_free(one);
}

/* Everything before the backend: the options' cross-checks, the checkpoint header when
 * resuming, the data, its vocabulary and the split. */
static int prepare(trainer *t)
{
    train_opts *o = t->o;
    char err[1200];
    int status;
    mgpt_checkpoint_meta meta;
    memset(&meta, 0, sizeof meta);

    /* 1. everything the command line alone decides */
    if (o->warmup >= o->steps) {
        tool_error(C, "--warmup-steps %d must be less than --num-steps %d", o->warmup, o->steps);
        return CLI_USAGE;
    }
    if (o->patience > 0 && o->val_split == 0) {
        tool_error(C, "--early-stop-patience %d needs a validation set: give --val-split, "
                   "for example --val-split 0.1", o->patience);
        return CLI_USAGE;
    }
    if (o->save && (status = check_save_path(o->save)) != CLI_OK)
        return status;
    if (o->resume) {
        if (mgpt_checkpoint_peek(o->resume, &meta, err, sizeof err) != 0) {
            tool_error(C, "--resume: %s", err);
            return CLI_USAGE;
        }
        if ((status = check_shape(o, &meta.cfg, o->resume)) != CLI_OK)
            return status;
        if (meta.step >= o->steps) {
            tool_error(C, "checkpoint '%s' has already taken %ld steps; give --num-steps greater "
                       "than %ld to train further", o->resume, meta.step, meta.step);
            return CLI_USAGE;
        }
        o->cfg = meta.cfg;
        if (!o->set_seed)
            o->seed = meta.seed;
    } else if (o->cfg.n_embd % o->cfg.n_head != 0) {
        char divs[256];
        size_t used = 0;
        for (int d = 1; d <= o->cfg.n_embd && used < sizeof divs - 16; d++)
            if (o->cfg.n_embd % d == 0)
                used += (size_t)snprintf(divs + used, sizeof divs - used, "%s%d", used ? ", " : "", d);
        tool_error(C, "--n-embd %d is not divisible by --n-head %d (each head gets n_embd / n_head "
                   "channels; with --n-embd %d, --n-head can be %s)", o->cfg.n_embd, o->cfg.n_head,
                   o->cfg.n_embd, divs);
        return CLI_USAGE;
    }

    /* 2. the data, its vocabulary and the split */
    if ((status = cli_data_load(C, &o->data, &t->data)) != CLI_OK)
        return status;
    const mgpt_docs *docs = t->data.docs;
    if (o->resume) {
        t->vocab = meta.vocab;
        if ((status = cli_data_check_vocab(C, &t->data, &t->vocab, "the checkpoint's")) != CLI_OK)
            return status;
    } else {
        mgpt_vocab_build(&t->vocab, docs);
        o->cfg.vocab_size = t->vocab.size;
    }
    if (mgpt_config_validate(&o->cfg, err, sizeof err) != 0) {
        tool_error(C, "%s", err);
        return CLI_USAGE;
    }
    if (mgpt_split_make(&t->split, docs->count, o->seed, o->val_split) != 0) {
        tool_error(C, "out of memory");
        return CLI_FAIL;
    }
    int n_val = t->split.n_val, n_train = docs->count - n_val;
    if (o->val_split > 0 && n_val == 0) {
        tool_error(C, "--val-split %g holds out no document of %d (round(%g * %d) = 0); give a "
                   "larger fraction or more data", o->val_split, docs->count, o->val_split,
                   docs->count);
        return CLI_USAGE;
    }
    if (n_train == 0) {
        tool_error(C, "--val-split %g leaves no training document of %d; give a smaller fraction",
                   o->val_split, docs->count);
        return CLI_USAGE;
    }

    return CLI_OK;
}

/* The steps, the validations, the checkpoint and the samples. */
static int train_loop(trainer *t)
{
    train_opts *o = t->o;
    mgpt_model *m = t->m;
    const int *order = t->split.order;
    int n_val = t->split.n_val, n_train = t->split.count - n_val;
    int B = m->B, T = m->T;
    char err[1200];
    int status = CLI_OK;

    mgpt_optim opt;
    mgpt_optim_defaults(&opt);
    opt.lr = (float)o->lr;
    opt.schedule = o->schedule;
    opt.warmup_steps = o->warmup;
    opt.total_steps = o->steps;
    opt.grad_clip = (float)o->clip;

    double flops_step = mgpt_graph_cost(&m->graph, 0).flops + mgpt_graph_cost(&m->graph, 1).flops;
    cli_progress p;
    cli_progress_init(&p, stdout, m->step + 1, o->steps, o->log_every, n_val > 0);
    t->best_val = INFINITY;
    t->best_step = -1;
    int bad_vals = 0, stopped_early = 0;
    long first = m->step;

    while (m->step < o->steps && !interrupted) {
        long s = m->step;
        double t0 = cli_now();
        for (int b = 0; b < B; b++)
            t->ids[b] = order[n_val + (int)(((long long)s * B + b) % n_train)];
        int tokens = mgpt_batch_fill(t->data.docs, &t->vocab, t->ids, B, T, m->tokens,
                                     m->targets, t->scratch, err, sizeof err);
        if (tokens < 0) {
            tool_error(C, "%s", err);
            return CLI_FAIL;
        }
        float lr = mgpt_lr_at(&opt, s);
        float loss = mgpt_model_forward(m);
        if (!isfinite(loss)) {
            char kept[4200] = "nothing was saved";
            if (o->save && t->best_step >= 0)
                snprintf(kept, sizeof kept, "%s keeps the model of step %ld", o->save,
                         t->best_step);
            cli_progress_end(&p);
            tool_error(C, "the training loss became %f at step %ld; try a lower --learning-rate "
                       "(now %g) or --grad-clip 1 (%s)", (double)loss, s + 1, o->lr, kept);
            return CLI_FAIL;
        }
        mgpt_model_backward(m);
        mgpt_adam_step(m, &opt);
        double dt = cli_now() - t0;

        double val = -1;
        long done = m->step;
        if (n_val > 0 && (done % o->val_every == 0 || done == o->steps)) {
            if (mgpt_evaluate(m, t->data.docs, &t->vocab, order, n_val, &val, err,
                              sizeof err) != 0) {
                tool_error(C, "validation failed: %s", err);
                return CLI_FAIL;
            }
            if (val < t->best_val) {
                t->best_val = val;
                t->best_step = done;
                bad_vals = 0;
                if (o->save && (status = save(t, "new best validation loss")) != CLI_OK)
                    return status;
            } else if (o->patience > 0 && ++bad_vals >= o->patience) {
                stopped_early = 1;
            }
        }
        cli_progress_step(&p, done, loss, val, lr, tokens, dt);
        if (stopped_early) {
            cli_progress_note(&p, "early stop at step %ld: the validation loss has not improved "
                              "for %d validation%s (best %.4f at step %ld)", done, o->patience,
                              o->patience == 1 ? "" : "s", t->best_val, t->best_step);
            break;
        }
    }
    if (interrupted)
        cli_progress_flush(&p, m->step, mgpt_lr_at(&opt, m->step - 1));
    cli_progress_end(&p);

    long ran = m->step - first;
    if (interrupted)
        printf("interrupted after step %ld\n", m->step);
    if (ran > 0 && p.run_seconds > 0)
        printf("trained %ld step%s in %.2f s: %.3f ms/step, %.0f tok/s, %.2f GFLOP/s "
               "(forward + backward)\n", ran, ran == 1 ? "" : "s", p.run_seconds,
               1e3 * p.run_seconds / (double)ran, p.run_tokens / p.run_seconds,
               flops_step * (double)ran / p.run_seconds * 1e-9);
    if (o->save) {
        /* with validation, PATH already holds the best model; without, the last one */
        if (n_val == 0 || t->best_step < 0) {
            if ((status = save(t, "end of training")) != CLI_OK)
                return status;
            printf("saved %s (step %ld)\n", o->save, m->step);
        } else
            printf("saved %s (step %ld, best validation loss %.4f)\n", o->save, t->best_step,
                   t->best_val);
    }
    if (interrupted)
        return CLI_INTERRUPTED;
    print_samples(t);
    return CLI_OK;
}

/* The backend, the model (initialised, or loaded with its Adam state) and the buffers. */
static int build(trainer *t, const cli_global *g)
{
    train_opts *o = t->o;
    char err[1200];
    int status = cli_engine_open(&t->eng, C, g);
    if (status != CLI_OK)
        return status;
    if (o->resume) {
        mgpt_checkpoint_meta meta;
        status = cli_model_from_checkpoint(C, o->resume, o->batch, 1, &t->eng.be.k, &meta, &t->m);
        if (status != CLI_OK)
            return status;
    } else {
        t->m = mgpt_model_create(&o->cfg, o->batch, &t->eng.be.k, err, sizeof err);
        if (!t->m) {
            tool_error(C, "cannot create the model: %s", err);
            return CLI_FAIL;
        }
        mgpt_model_init(t->m, o->seed);
    }
    t->ids = malloc((size_t)o->batch * sizeof *t->ids);
    t->scratch = malloc(((size_t)o->cfg.block_size + 2) * sizeof *t->scratch);
    if (!t->ids || !t->scratch) {
        tool_error(C, "out of memory");
        return CLI_FAIL;
    }
    return CLI_OK;
}

static void print_header(const trainer *t)
{
    const train_opts *o = t->o;
    char desc[600];
    int n_val = t->split.n_val, n_train = t->split.count - n_val;
    cli_data_describe(&t->data, desc, sizeof desc);
    printf("data: %s: %d documents, %zu bytes, vocabulary %d (BOS + %d bytes)\n", desc,
           t->split.count, t->data.bytes, t->vocab.size, t->vocab.size - 1);
    if (n_val > 0)
        printf("split: %d training, %d validation documents (seed %llu)\n", n_train, n_val,
               (unsigned long long)o->seed);
    cli_config_describe(&o->cfg, desc, sizeof desc);
    printf("model: %s: %zu parameters\n", desc, t->m->num_floats);
    printf("train: steps %ld..%d, batch %d document%s, lr %g %s", t->m->step + 1, o->steps,
           o->batch, o->batch == 1 ? "" : "s", o->lr,
           o->schedule == MGPT_LR_COSINE ? "cosine" : "linear");
    if (o->warmup)
        printf(" after %d warmup steps", o->warmup);
    if (o->clip > 0)
        printf(", grad clip %g", o->clip);
    cli_engine_describe(&t->eng, desc, sizeof desc);
    printf(", backend %s\n", desc);
    if (o->resume)
        printf("resumed: %s at step %ld\n", o->resume, t->m->step);
    fflush(stdout);
}

int cmd_train(int argc, char **argv, const cli_global *g)
{
    train_opts o;
    int status;
    defaults(&o);
    if (!cli_command_options(&command, argc, argv, &o, &status)) {
        cli_data_args_free(&o.data);
        return status;
    }
    trainer t;
    memset(&t, 0, sizeof t);
    t.o = &o;
    status = prepare(&t);
    if (status == CLI_OK)
        status = build(&t, g);
    if (status == CLI_OK) {
        print_header(&t);
        /* ^C stops after the current step and saves; a second ^C ends at once */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESETHAND;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        status = train_loop(&t);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
    }
    free(t.ids);
    free(t.scratch);
    mgpt_model_free(t.m);
    cli_engine_close(&t.eng);
    mgpt_split_free(&t.split);
    cli_data_free(&t.data);
    cli_data_args_free(&o.data);
    return status;
}
