/* mgpt eval: the mean loss of a checkpoint over documents (deterministic, no sampling). */
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "data/bpe.h"
#include "data/dataset.h"
#include "model/evaluate.h"

#define D_BATCH 32

enum { O_CKPT = 256, O_BATCH, O_VSPLIT, O_SEED };

static const struct option longopts[] = {
    {"checkpoint", required_argument, NULL, O_CKPT},
    CLI_DATA_OPTIONS,
    {"batch-size", required_argument, NULL, O_BATCH},
    {"val-split", required_argument, NULL, O_VSPLIT},
    {"seed", required_argument, NULL, O_SEED},
    CLI_HELP_AND_VERSION,
};

static void help(void)
{
    printf("Usage: mgpt [GLOBAL OPTIONS] eval --checkpoint=PATH [OPTIONS]\n"
           "Print the mean cross-entropy loss of a trained model over every document\n"
           "(its first block_size positions), with the numbers of documents and\n"
           "positions. With no --data or --data-dir, uses the embedded names data set.\n"
           "A checkpoint trained with train --tokenizer encodes the documents with\n"
           "its BPE tokenizer (read from it): positions are then its tokens.\n"
           "\n"
           "      --checkpoint=PATH     the checkpoint to evaluate (required)\n"
           CLI_DATA_HELP
           "      --batch-size=N        documents per forward pass, 1..65536; the loss\n"
           "                            does not depend on it (default %d)\n"
           "      --val-split=F         only the validation documents that train\n"
           "                            --val-split F held out of the same data, in\n"
           "                            (0, 1) (default: every document)\n"
           "      --seed=N              shuffle seed for --val-split (default: the\n"
           "                            checkpoint's training seed)\n"
           "  -h, --help                show this help and exit\n"
           "      --version             show the version and exit\n"
           "\n"
           "Exit status: 0 on success, 1 on a failure while working, 2 for a wrong\n"
           "option, checkpoint or data file (or bytes outside the model's vocabulary).\n",
           D_BATCH);
}

static const char C[] = "eval";

typedef struct eval_opts {
    const char *ckpt;
    cli_data_args data;
    int batch, seed_set;
    double val_split;
    uint64_t seed;
} eval_opts;

static int take(int c, const char *arg, void *opts)
{
    eval_opts *o = opts;
    switch (c) {
    case O_CKPT:
        o->ckpt = arg;
        return CLI_OK;
    case CLI_OPT_DATA:
    case CLI_OPT_DATA_DIR:
        return cli_data_take(C, &o->data, c, arg);
    case O_BATCH:
        return cli_parse_int(C, "--batch-size", arg, 1, 65536, &o->batch);
    case O_VSPLIT:
        return cli_parse_float(C, "--val-split", arg, 0, 1, 1, 1, "a fraction in (0, 1)",
                               &o->val_split);
    case O_SEED:
        o->seed_set = 1;
        return cli_parse_u64(C, "--seed", arg, &o->seed);
    }
    return CLI_OK;
}

static const cli_command command = {C, "", longopts, help, take};

/* Everything after the command line: the checkpoint header and the data (checked before
 * a backend is opened), the documents to evaluate, the engine and the loss. */
static int evaluate(const eval_opts *o, const cli_global *g)
{
    int status = CLI_OK;
    mgpt_checkpoint_meta meta;
    char err[1200], desc[600];
    cli_data data = {0};
    mgpt_split split = {0};
    cli_engine eng;
    memset(&eng, 0, sizeof eng);
    mgpt_model *m = NULL;
    mgpt_bpe bpe = {0};
    if (mgpt_checkpoint_peek(o->ckpt, &meta, err, sizeof err) != 0) {
        tool_error(C, "%s", err);
        status = CLI_USAGE;
    }
    if (status == CLI_OK)
        status = cli_checkpoint_tokenizer(C, o->ckpt, &meta, &bpe);
    if (status == CLI_OK)
        status = cli_data_load(C, &o->data, &data);
    if (status == CLI_OK)
        status = cli_data_check_vocab(C, &data, &meta.vocab, "the checkpoint's");
    if (status == CLI_OK)
        status = cli_data_encode(C, &data, &meta.vocab);
    int *ids = NULL, n = 0;
    if (status == CLI_OK) {
        int count = data.docs->count;
        if (o->val_split > 0) {
            uint64_t seed = o->seed_set ? o->seed : meta.seed;
            if (mgpt_split_make(&split, count, seed, o->val_split) != 0) {
                tool_error(C, "out of memory");
                status = CLI_FAIL;
            } else if (split.n_val == 0) {
                tool_error(C, "--val-split %g holds out no document of %d; give a larger fraction",
                           o->val_split, count);
                status = CLI_USAGE;
            } else {
                ids = split.order;
                n = split.n_val;
            }
        } else {
            ids = malloc((size_t)count * sizeof *ids);
            if (!ids) {
                tool_error(C, "out of memory");
                status = CLI_FAIL;
            }
            for (int i = 0; ids && i < count; i++)
                ids[i] = i;
            n = count;
        }
    }
    /* Padded only to the longest document evaluated, not to block_size: causal attention
     * makes a position's loss independent of the padding after it, and 32 names on a
     * block_size 4096 model then need kilobytes of activations, not gigabytes. */
    int T = status == CLI_OK ? mgpt_evaluate_positions(data.docs, ids, n, meta.cfg.block_size)
                             : 1;
    int B = o->batch < n ? o->batch : (n > 0 ? n : 1);
    if (status == CLI_OK)
        status = cli_model_budget(C, &meta.cfg, B, T, MGPT_MODEL_INFER);
    if (status == CLI_OK)
        status = cli_engine_open(&eng, C, g);
    if (status == CLI_OK)
        status = cli_model_from_checkpoint(C, o->ckpt, B, T, 0, &eng.compute, &meta, &m);
    if (status == CLI_OK && meta.has_tokenizer) /* the header was read again */
        mgpt_vocab_from_bpe(&meta.vocab, &bpe);
    if (status == CLI_OK) {
        double loss;
        if (mgpt_evaluate(m, data.docs, &meta.vocab, ids, n, &loss, err, sizeof err) != 0) {
            tool_error(C, "%s", err);
            status = CLI_FAIL;
        } else {
            long positions = 0;
            for (int i = 0; i < n; i++)
                positions += cli_doc_positions(mgpt_docs_ntok(data.docs, ids[i]),
                                               meta.cfg.block_size);
            cli_config_describe(&meta.cfg, desc, sizeof desc);
            printf("checkpoint: %s (%s; step %ld)\n", o->ckpt, desc, meta.step);
            cli_data_describe(&data, desc, sizeof desc);
            if (o->val_split > 0)
                printf("data: %s: the %d validation documents of --val-split %g (seed %llu)\n",
                       desc, n, o->val_split,
                       (unsigned long long)(o->seed_set ? o->seed : meta.seed));
            else
                printf("data: %s\n", desc);
            printf("documents: %d\n", n);
            printf("positions: %ld\n", positions);
            printf("loss: %.6f\n", loss);
        }
    }
    if (o->val_split == 0)
        free(ids);
    mgpt_split_free(&split);
    mgpt_model_free(m);
    cli_engine_close(&eng);
    cli_data_free(&data);
    mgpt_bpe_free(&bpe);
    return status;
}

/* The command line into o: 1 to go on, else 0 with *status the exit status. o->data is
 * to be freed either way. */
static int parse(int argc, char **argv, eval_opts *o, int *status)
{
    *o = (eval_opts){.batch = D_BATCH};
    if (!cli_command_options(&command, argc, argv, o, status))
        return 0;
    if (!o->ckpt) {
        tool_error(C, "which model? give --checkpoint=PATH (a file written by mgpt train "
                   "--save)");
        tool_try_help(C);
        *status = CLI_USAGE;
    } else if (o->seed_set && o->val_split == 0) {
        tool_error(C, "--seed only chooses the --val-split documents; give --val-split too");
        *status = CLI_USAGE;
    }
    return *status == CLI_OK;
}

int cmd_eval_parse(int argc, char **argv, int *status)
{
    eval_opts o;
    int go = parse(argc, argv, &o, status);
    cli_data_args_free(&o.data);
    return go;
}

int cmd_eval(int argc, char **argv, const cli_global *g)
{
    eval_opts o;
    int status;
    if (parse(argc, argv, &o, &status))
        status = evaluate(&o, g);
    cli_data_args_free(&o.data);
    return status;
}
