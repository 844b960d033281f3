/* mgpt export: a checkpoint rewritten for another use. --weights-only drops the Adam state
 * (two thirds of a training checkpoint), keeping the parameters, the step, the seed and
 * every further metadata entry (the training settings, ...): sample and eval load the
 * result; train --resume refuses it, as there is no optimizer state to continue. */
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "data/bpe.h"

static const char C[] = "export";

enum { O_CKPT = 256, O_OUTPUT = 'o', O_WEIGHTS_ONLY = 257, O_FORCE };

static const struct option longopts[] = {
    {"checkpoint", required_argument, NULL, O_CKPT},
    {"output", required_argument, NULL, O_OUTPUT},
    {"weights-only", no_argument, NULL, O_WEIGHTS_ONLY},
    {"force", no_argument, NULL, O_FORCE},
    CLI_HELP_AND_VERSION,
};

static void help(void)
{
    printf("Usage: mgpt [GLOBAL OPTIONS] export --checkpoint=PATH --weights-only -o OUT\n"
           "Write a copy of a checkpoint for inference: the parameters and the metadata\n"
           "(step, seed, training settings), without the optimizer state, so about a third\n"
           "of the size. mgpt sample and eval load it; mgpt train --resume refuses it.\n"
           "\n"
           "      --checkpoint=PATH     the checkpoint to read (required)\n"
           "  -o, --output=OUT          the checkpoint to write (required); it may be PATH\n"
           "      --weights-only        leave out the Adam state (required: the only\n"
           "                            export so far)\n"
           "      --force               replace OUT even if it is not an mgpt checkpoint\n"
           "  -h, --help                show this help and exit\n"
           "      --version             show the version and exit\n"
           "\n"
           "Exit status: 0 on success, 1 on a failure while working, 2 for a wrong\n"
           "option or checkpoint.\n");
}

typedef struct export_opts {
    const char *ckpt, *output;
    int weights_only, force;
} export_opts;

static int take(int c, const char *arg, void *opts)
{
    export_opts *o = opts;
    switch (c) {
    case O_CKPT:
        o->ckpt = arg;
        break;
    case O_OUTPUT:
        o->output = arg;
        break;
    case O_WEIGHTS_ONLY:
        o->weights_only = 1;
        break;
    case O_FORCE:
        o->force = 1;
        break;
    }
    return CLI_OK;
}

static const cli_command command = {C, "o:", longopts, help, take};

static int parse(int argc, char **argv, export_opts *o, int *status)
{
    memset(o, 0, sizeof *o);
    if (!cli_command_options(&command, argc, argv, o, status))
        return 0;
    const char *missing = !o->ckpt         ? "which checkpoint? give --checkpoint=PATH"
                          : !o->output       ? "where to? give -o OUT (--output=OUT)"
                          : !o->weights_only ? "what to export? give --weights-only (the "
                                               "checkpoint without its optimizer state)"
                                             : NULL;
    if (missing) {
        tool_error(C, "%s", missing);
        tool_try_help(C);
        *status = CLI_USAGE;
    } else if (!*o->output) {
        tool_error(C, "--output '' is empty (expected a file path)");
        *status = CLI_USAGE;
    }
    return *status == CLI_OK;
}

/* The parameters into a one-document inference model, then out again with the metadata. */
static int export_weights(const export_opts *o, const cli_global *g)
{
    char err[1200];
    mgpt_checkpoint_meta meta, out_meta;
    struct stat st;
    if (!o->force && lstat(o->output, &st) == 0 &&
        (!S_ISREG(st.st_mode) ||
         mgpt_checkpoint_peek(o->output, &out_meta, err, sizeof err) != 0)) {
        tool_error(C, "--output '%s' exists and is not an mgpt checkpoint, so it is not replaced "
                   "(give --force to replace it)", o->output);
        return CLI_USAGE;
    }
    char **keys = NULL, **values = NULL;
    int n = 0;
    if (mgpt_checkpoint_extra_meta(o->ckpt, &keys, &values, &n, err, sizeof err) != 0) {
        tool_error(C, "%s", err);
        return CLI_USAGE;
    }
    cli_engine eng;
    memset(&eng, 0, sizeof eng);
    mgpt_model *m = NULL;
    int status = cli_engine_open(&eng, C, g);
    if (status == CLI_OK)
        status = cli_model_from_checkpoint(C, o->ckpt, 1, 0, 0, &eng.compute, &meta, &m);
    mgpt_bpe bpe = {0};
    if (status == CLI_OK) /* a BPE checkpoint's tokenizer goes with its vocabulary */
        status = cli_checkpoint_tokenizer(C, o->ckpt, &meta, &bpe);
    if (status == CLI_OK) {
        m->step = meta.step; /* an inference load leaves it 0; the file says how trained */
        if (mgpt_checkpoint_save_extra(o->output, m, &meta.vocab, meta.seed, 0,
                                       (const char *const *)keys, (const char *const *)values,
                                       n, err, sizeof err) != 0) {
            tool_error(C, "cannot write the checkpoint: %s", err);
            status = CLI_FAIL;
        } else {
            printf("exported %s (step %ld, without the optimizer state) to %s\n", o->ckpt,
                   meta.step, o->output);
        }
    }
    mgpt_model_free(m);
    cli_engine_close(&eng);
    mgpt_checkpoint_extra_free(keys, values, n);
    mgpt_bpe_free(&bpe);
    return status;
}

int cmd_export_parse(int argc, char **argv, int *status)
{
    export_opts o;
    return parse(argc, argv, &o, status);
}

int cmd_export(int argc, char **argv, const cli_global *g)
{
    export_opts o;
    int status;
    if (parse(argc, argv, &o, &status))
        status = export_weights(&o, g);
    return status;
}
