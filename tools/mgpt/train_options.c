/* mgpt train's command line: the options, --help, their defaults and ranges, and two
 * checks made before any work: that --save can be written, and that the shape options
 * agree with the checkpoint being resumed. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "train.h"

static const char C[] = "train";

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

enum {
    O_EMBD = 256, O_LAYER, O_HEAD, O_BLOCK, O_BATCH, O_STEPS, O_LR, O_SCHED, O_WARMUP, O_CLIP,
    O_SEED, O_VSPLIT, O_VEVERY, O_PATIENCE, O_SAMPLES, O_TEMP, O_SAVE, O_RESUME, O_LOGEVERY,
    O_FORCE, O_STREAM, O_ARCHIVE_DIR, O_NO_ARCHIVE, O_DECAY, O_SAVE_EVERY, O_MICRO,
    O_TOKENIZER
};

static const struct option longopts[] = {
    {"n-embd", required_argument, NULL, O_EMBD},
    {"n-layer", required_argument, NULL, O_LAYER},
    {"n-head", required_argument, NULL, O_HEAD},
    {"block-size", required_argument, NULL, O_BLOCK},
    {"batch-size", required_argument, NULL, O_BATCH},
    {"micro-batch", required_argument, NULL, O_MICRO},
    {"num-steps", required_argument, NULL, O_STEPS},
    {"learning-rate", required_argument, NULL, O_LR},
    {"lr-schedule", required_argument, NULL, O_SCHED},
    {"warmup-steps", required_argument, NULL, O_WARMUP},
    {"lr-decay-steps", required_argument, NULL, O_DECAY},
    {"grad-clip", required_argument, NULL, O_CLIP},
    {"seed", required_argument, NULL, O_SEED},
    {"val-split", required_argument, NULL, O_VSPLIT},
    {"val-every", required_argument, NULL, O_VEVERY},
    {"early-stop-patience", required_argument, NULL, O_PATIENCE},
    {"num-samples", required_argument, NULL, O_SAMPLES},
    {"temperature", required_argument, NULL, O_TEMP},
    CLI_DATA_OPTIONS,
    {"save", required_argument, NULL, O_SAVE},
    {"save-every", required_argument, NULL, O_SAVE_EVERY},
    {"force", no_argument, NULL, O_FORCE},
    {"resume", required_argument, NULL, O_RESUME},
    {"log-every", required_argument, NULL, O_LOGEVERY},
    {"stream", no_argument, NULL, O_STREAM},
    {"tokenizer", required_argument, NULL, O_TOKENIZER},
    {"archive-dir", required_argument, NULL, O_ARCHIVE_DIR},
    {"no-archive", no_argument, NULL, O_NO_ARCHIVE},
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
           "      --micro-batch=M       gradient accumulation: run each step as\n"
           "                            --batch-size / M micro-batches of M documents,\n"
           "                            their gradients summed in a fixed tree, then one\n"
           "                            Adam step; M must divide --batch-size. Under\n"
           "                            mpirun the ranks share the micro-batches, with\n"
           "                            the same result (default: --batch-size)\n"
           "      --num-steps=N         total optimizer steps, 1..%ld (default %d)\n"
           "      --learning-rate=F     peak Adam learning rate, (0, 10] (default %g)\n"
           "      --lr-schedule=NAME    decay to 0 after warmup: linear or cosine\n"
           "                            (default linear)\n"
           "      --warmup-steps=N      linear warmup steps, < --num-steps (default 0)\n"
           "      --lr-decay-steps=N    the schedule reaches 0 at step N, then stays there;\n"
           "                            to train in parts, give the whole run's length\n"
           "                            (default: --num-steps)\n"
           "      --grad-clip=F         clip the global gradient norm; 0 = off (default 0)\n"
           "      --seed=N              seeds init, shuffle and sampling (default %d; when\n"
           "                            resuming, the checkpoint's seed)\n"
           "\n"
           "Validation:\n"
           "      --val-split=F         hold out this fraction of the shuffled documents\n"
           "                            (with --stream: the tail of the stream), in [0, 1);\n"
           "                            0 = no validation (default 0)\n"
           "      --val-every=N         validate every N steps and at the end (default %d)\n"
           "      --early-stop-patience=N\n"
           "                            stop after N validations without a new best loss;\n"
           "                            0 = off; needs --val-split (default 0)\n"
           "\n"
           "Data and files:\n"
           CLI_DATA_HELP
           "      --stream              train on the documents as one stream of tokens\n"
           "                            (lines joined by BOS, in file order): each step\n"
           "                            takes --batch-size random windows of\n"
           "                            --block-size + 1 tokens, so no byte is cut off\n"
           "                            (default: one document per row, cut at the block)\n"
           "      --tokenizer=FILE      a BPE tokenizer from mgpt tokenizer train: tokens\n"
           "                            are its ids, and the checkpoint stores it, so\n"
           "                            sample, eval and --resume use it unasked (default:\n"
           "                            the char tokenizer, one token per byte)\n"
           "      --save=PATH           write a checkpoint with the optimizer state at the\n"
           "                            end; with --val-split, at each new best validation\n"
           "                            loss instead, so PATH holds the best model\n"
           "                            (default: none)\n"
           "      --save-every=N        also save PATH every N steps (the latest model,\n"
           "                            with --val-split too), so a run that is killed\n"
           "                            can resume; needs --save (default: off)\n"
           "      --force               let --save replace a file that is not an mgpt\n"
           "                            checkpoint, or a symbolic link (the link itself)\n"
           "      --resume=PATH         continue from a checkpoint written by --save, up to\n"
           "                            --num-steps in total; each setting of its run not\n"
           "                            given again (batch size, steps, learning rate and\n"
           "                            schedule, validation, --stream, data) is kept, a\n"
           "                            changed one is noted on stderr (default: none)\n"
           "      --archive-dir=DIR     archive the run in a new folder of DIR (default:\n"
           "                            MGPT_ARCHIVE_DIR, else $XDG_DATA_HOME/mgpt/runs,\n"
           "                            else ~/.local/share/mgpt/runs); see mgpt runs\n"
           "      --no-archive          do not archive this run\n"
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

static void defaults(train_opts *o)
{
    memset(o, 0, sizeof *o);
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
        return cli_parse_int(C, "--n-embd", arg, 1, MAX_EMBD, &o->given.n_embd);
    case O_LAYER:
        return cli_parse_int(C, "--n-layer", arg, 1, MAX_LAYER, &o->given.n_layer);
    case O_HEAD:
        return cli_parse_int(C, "--n-head", arg, 1, MAX_EMBD, &o->given.n_head);
    case O_BLOCK:
        return cli_parse_int(C, "--block-size", arg, 1, MAX_BLOCK, &o->given.block_size);
    case O_BATCH:
        return cli_parse_int(C, "--batch-size", arg, 1, MAX_BATCH, &o->batch);
    case O_MICRO:
        return cli_parse_int(C, "--micro-batch", arg, 1, MAX_BATCH, &o->micro);
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
    case O_DECAY:
        return cli_parse_int(C, "--lr-decay-steps", arg, 1, MAX_STEPS, &o->decay_steps);
    case O_SAVE_EVERY:
        return cli_parse_int(C, "--save-every", arg, 1, MAX_STEPS, &o->save_every);
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
    case O_FORCE:
        o->force = 1;
        return CLI_OK;
    case O_RESUME:
        o->resume = arg;
        return CLI_OK;
    case O_STREAM:
        o->stream = 1;
        return CLI_OK;
    case O_TOKENIZER:
        o->tokenizer = arg;
        return CLI_OK;
    case O_ARCHIVE_DIR:
        if (!*arg) {
            tool_error(C, "--archive-dir '' is empty (expected a folder)");
            return CLI_USAGE;
        }
        o->archive_dir = arg;
        return CLI_OK;
    case O_NO_ARCHIVE:
        o->no_archive = 1;
        return CLI_OK;
    case O_LOGEVERY:
        return cli_parse_int(C, "--log-every", arg, 0, MAX_STEPS, &o->log_every);
    }
    return CLI_OK;
}

/* take, remembering which options the command line gave (resuming keeps the others). */
static int take_given(int c, const char *arg, void *opts)
{
    train_opts *o = opts;
    for (int i = 0; longopts[i].name; i++)
        if (longopts[i].val == c && i < (int)(8 * sizeof o->given_opts))
            o->given_opts |= 1UL << i;
    return take(c, arg, opts);
}

static const cli_command command = {C, "", longopts, help, take_given};

_Static_assert(sizeof longopts / sizeof longopts[0] <= 8 * sizeof(unsigned long),
               "train_opts.given_opts has a bit per option");

static int option_index(const char *name)
{
    for (int i = 0; longopts[i].name; i++)
        if (strcmp(longopts[i].name, name) == 0)
            return i;
    return -1;
}

int train_option_given(const train_opts *o, const char *name)
{
    int i = option_index(name);
    return i >= 0 && (o->given_opts >> i & 1);
}

int train_option_set(train_opts *o, const char *name, const char *arg)
{
    int i = option_index(name);
    if (i < 0 || (longopts[i].has_arg == required_argument) != (arg != NULL)) {
        tool_error(C, "'%s' is not an option that takes %s", name, arg ? "a value" : "no value");
        return CLI_USAGE;
    }
    return take(longopts[i].val, arg, o);
}

int train_parse(int argc, char **argv, train_opts *o, int *status)
{
    defaults(o);
    if (!cli_command_options(&command, argc, argv, o, status))
        return 0;
    const mgpt_config *g = &o->given;
    o->cfg.n_embd = g->n_embd ? g->n_embd : D_N_EMBD;
    o->cfg.n_layer = g->n_layer ? g->n_layer : D_N_LAYER;
    o->cfg.n_head = g->n_head ? g->n_head : D_N_HEAD;
    o->cfg.block_size = g->block_size ? g->block_size : D_BLOCK;
    return 1;
}

/* What the save at the end will meet, checked before any work: the folder takes a new file
 * (created and removed here: permission bits say nothing about /proc or a read-only mount),
 * and an existing file at path is an mgpt checkpoint unless --force. */
int train_check_save_path(const char *path, int force)
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
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.mgpt-save-check.%ld", dir, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        tool_error(C, "--save '%s': cannot create a file in folder '%s': %s", path, dir,
                   strerror(errno));
        return CLI_USAGE;
    }
    close(fd);
    unlink(probe);
    if (lstat(path, &st) != 0 || force)
        return CLI_OK;
    if (S_ISLNK(st.st_mode)) {
        tool_error(C, "--save '%s' is a symbolic link; saving would replace the link, not its "
                   "target (give --force to replace the link, or save to another path)", path);
        return CLI_USAGE;
    }
    if (S_ISREG(st.st_mode) && (st.st_mode & 0222) == 0) {
        tool_error(C, "--save '%s' is read-only (mode %04o), so it would not be replaced (make "
                   "it writable with chmod u+w, or save to another path)", path,
                   (unsigned)(st.st_mode & 07777));
        return CLI_USAGE;
    }
    mgpt_checkpoint_meta meta;
    char err[1200];
    if (mgpt_checkpoint_peek(path, &meta, err, sizeof err) != 0) {
        tool_error(C, "--save '%s' exists and is not an mgpt checkpoint, so it is not replaced "
                   "(give --force to replace it): %s", path, err);
        return CLI_USAGE;
    }
    return CLI_OK;
}

int train_check_shape(const train_opts *o, const mgpt_config *ck, const char *path)
{
    const struct { int given, have; const char *opt, *name; } f[] = {
        {o->given.n_embd, ck->n_embd, "--n-embd", "n_embd"},
        {o->given.n_head, ck->n_head, "--n-head", "n_head"},
        {o->given.n_layer, ck->n_layer, "--n-layer", "n_layer"},
        {o->given.block_size, ck->block_size, "--block-size", "block_size"},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].given && f[i].given != f[i].have) {
            tool_error(C, "%s %d differs from the %s %d of checkpoint '%s' (resuming keeps the "
                       "checkpoint's shape; drop %s or give %d)", f[i].opt, f[i].given, f[i].name,
                       f[i].have, path, f[i].opt, f[i].have);
            return CLI_USAGE;
        }
    return CLI_OK;
}
