/* mgpt eval: the mean loss of a checkpoint over documents (deterministic, no sampling). */
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "data/bpe.h"
#include "data/dataset.h"
#include "data/stream.h"
#include "model/evaluate.h"
#include "eval_settings.h"

#define D_BATCH 32

enum { O_CKPT = 256, O_BATCH, O_VSPLIT, O_SEED, O_STREAM, O_NO_STREAM };

static const struct option longopts[] = {
    {"checkpoint", required_argument, NULL, O_CKPT},
    CLI_DATA_OPTIONS,
    {"batch-size", required_argument, NULL, O_BATCH},
    {"val-split", required_argument, NULL, O_VSPLIT},
    {"seed", required_argument, NULL, O_SEED},
    {"stream", no_argument, NULL, O_STREAM},
    {"no-stream", no_argument, NULL, O_NO_STREAM},
    CLI_HELP_AND_VERSION,
};

static void help(void)
{
    printf("Usage: mgpt [GLOBAL OPTIONS] eval --checkpoint=PATH [OPTIONS]\n"
           "Print the mean cross-entropy loss of a trained model over documents (each\n"
           "its first block_size positions) or over a stream's windows, with the numbers\n"
           "of documents and positions. With no --data or --data-dir, evaluates the\n"
           "validation split of the checkpoint's own run: the data files, --stream and\n"
           "--val-split it trained with (kept in the checkpoint), each unless given; so\n"
           "the loss is the last validation loss training printed for that model.\n"
           "A checkpoint trained with train --tokenizer encodes the documents with\n"
           "its BPE tokenizer (read from it): positions are then its tokens.\n"
           "\n"
           "      --checkpoint=PATH     the checkpoint to evaluate (required)\n"
           CLI_DATA_HELP
           "                            (default: the data of the checkpoint's run)\n"
           "      --stream              the documents as one stream, as train --stream:\n"
           "                            windows of block_size + 1 tokens over the tail\n"
           "                            --val-split holds out, or over the whole stream\n"
           "      --no-stream           one document per row, cut at the block (line mode)\n"
           "                            (default: the run's mode; line mode with --data)\n"
           "      --batch-size=N        documents (windows) per forward pass, 1..65536;\n"
           "                            the loss does not depend on it (default %d)\n"
           "      --val-split=F         only the validation part that train --val-split F\n"
           "                            held out of the same data, in (0, 1) (default:\n"
           "                            the run's with no --data, else every document)\n"
           "      --seed=N              shuffle seed of line mode's --val-split (default:\n"
           "                            the checkpoint's training seed)\n"
           "  -h, --help                show this help and exit\n"
           "      --version             show the version and exit\n"
           "\n"
           "Exit status: 0 on success, 1 on a failure while working, 2 for a wrong\n"
           "option, checkpoint or data file (a data file of the run that is missing, or\n"
           "bytes outside the model's vocabulary).\n",
           D_BATCH);
}

static const char C[] = "eval";

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
        o->val_split_set = 1;
        return cli_parse_float(C, "--val-split", arg, 0, 1, 1, 1, "a fraction in (0, 1)",
                               &o->val_split);
    case O_SEED:
        o->seed_set = 1;
        return cli_parse_u64(C, "--seed", arg, &o->seed);
    case O_STREAM:
    case O_NO_STREAM:
        o->stream = c == O_STREAM;
        return CLI_OK;
    }
    return CLI_OK;
}

static const cli_command command = {C, "", longopts, help, take};

/* Line mode: the documents to evaluate into *ids (*n of them): the validation documents
 * of o->val_split (split owns them), else every document (*ids malloc'ed). */
static int pick_documents(const eval_opts *o, uint64_t seed, int count, mgpt_split *split,
                          int **ids, int *n)
{
    if (o->val_split > 0) {
        if (mgpt_split_make(split, count, seed, o->val_split) != 0) {
            tool_error(C, "out of memory");
            return CLI_FAIL;
        }
        if (split->n_val == 0) {
            tool_error(C, "--val-split %g holds out no document of %d; give a larger fraction",
                       o->val_split, count);
            return CLI_USAGE;
        }
        *ids = split->order;
        *n = split->n_val;
        return CLI_OK;
    }
    *ids = malloc((size_t)count * sizeof **ids);
    if (!*ids) {
        tool_error(C, "out of memory");
        return CLI_FAIL;
    }
    for (int i = 0; i < count; i++)
        (*ids)[i] = i;
    *n = count;
    return CLI_OK;
}

/* Stream mode: the stream of the documents, its validation tail that of o->val_split, or
 * (0) the whole stream. */
static int make_stream(const eval_opts *o, const cli_data *data, const mgpt_vocab *v,
                       mgpt_stream *st)
{
    char err[1200];
    if (mgpt_stream_make(st, data->docs, v, o->val_split, err, sizeof err) != 0) {
        tool_error(C, "%s", err);
        return CLI_FAIL;
    }
    if (o->val_split == 0)
        st->n_train = 0; /* every window of the stream is evaluated */
    if (st->n - st->n_train < 2) {
        tool_error(C, "--stream: %s %zu token%s (a target needs at least 2); give %s",
                   o->val_split > 0 ? "the --val-split tail has" : "the stream has",
                   st->n - st->n_train, st->n - st->n_train == 1 ? "" : "s",
                   o->val_split > 0 ? "a larger --val-split or more data" : "more data");
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* The "data:" line: where the data came from and which part of it was evaluated. */
static void print_data(const eval_opts *o, const cli_data *data, uint64_t seed, int n,
                       const mgpt_stream *st)
{
    char desc[600];
    cli_data_describe(data, desc, sizeof desc);
    printf("data: %s", desc);
    if (o->from)
        printf(" (the data of the checkpoint's run)");
    if (st && o->val_split > 0)
        printf(": the validation tail of --stream --val-split %g (%zu of %zu tokens)",
               o->val_split, st->n - st->n_train, st->n);
    else if (st)
        printf(": the whole --stream stream (%zu tokens)", st->n);
    else if (o->val_split > 0)
        printf(": the %d validation documents of --val-split %g (seed %llu)", n, o->val_split,
               (unsigned long long)seed);
    printf("\n");
}

/* Everything after the command line: the checkpoint header and the data (checked before
 * a backend is opened), the documents or stream windows to evaluate, the engine and the
 * loss. */
static int evaluate(const eval_opts *o, const cli_global *g)
{
    int status = CLI_OK;
    mgpt_checkpoint_meta meta;
    char err[1200], desc[600];
    cli_data data = {0};
    mgpt_split split = {0};
    mgpt_stream st = {0};
    cli_engine eng;
    memset(&eng, 0, sizeof eng);
    mgpt_model *m = NULL;
    mgpt_bpe bpe = {0};
    int stream = o->stream > 0;
    if (mgpt_checkpoint_peek(o->ckpt, &meta, err, sizeof err) != 0) {
        tool_error(C, "%s", err);
        status = CLI_USAGE;
    }
    uint64_t seed = o->seed_set ? o->seed : meta.seed;
    if (status == CLI_OK)
        status = cli_checkpoint_tokenizer(C, o->ckpt, &meta, &bpe);
    if (status == CLI_OK && (status = cli_data_load(C, &o->data, &data)) != CLI_OK && o->from)
        tool_error(C, "(that is the data of the run of checkpoint '%s'; give --data or "
                   "--data-dir to evaluate on other files)", o->from);
    if (status == CLI_OK)
        status = cli_data_check_vocab(C, &data, &meta.vocab, "the checkpoint's");
    if (status == CLI_OK)
        status = cli_data_encode(C, &data, &meta.vocab);
    int *ids = NULL, n = 0, T = 1, B = 1;
    if (status == CLI_OK && stream) {
        status = make_stream(o, &data, &meta.vocab, &st);
        T = meta.cfg.block_size;
        if (status == CLI_OK) {
            long windows = mgpt_stream_val_batches(&st, 1, T);
            B = o->batch < windows ? o->batch : (int)windows;
        }
    } else if (status == CLI_OK) {
        status = pick_documents(o, seed, data.docs->count, &split, &ids, &n);
        /* Padded only to the longest document evaluated, not to block_size: causal
         * attention makes a position's loss independent of the padding after it, and 32
         * names on a block_size 4096 model then need kilobytes of activations, not
         * gigabytes. */
        if (status == CLI_OK)
            T = mgpt_evaluate_positions(data.docs, ids, n, meta.cfg.block_size);
        B = o->batch < n ? o->batch : (n > 0 ? n : 1);
    }
    if (status == CLI_OK)
        status = cli_model_budget(C, &meta.cfg, B, T, MGPT_MODEL_INFER);
    if (status == CLI_OK)
        status = cli_engine_open(&eng, C, g);
    if (status == CLI_OK)
        status = cli_model_from_checkpoint(C, o->ckpt, B, T, 0, &eng.compute, &meta, &m);
    if (status == CLI_OK && meta.has_tokenizer) /* the header was read again */
        mgpt_vocab_from_bpe(&meta.vocab, &bpe);
    double loss = 0;
    long positions = 0;
    if (status == CLI_OK && stream) {
        mgpt_evaluate_stream(m, &st, &loss);
        positions = (long)(st.n - st.n_train) - 1; /* every tail token but the first */
    } else if (status == CLI_OK) {
        if (mgpt_evaluate(m, data.docs, &meta.vocab, ids, n, &loss, err, sizeof err) != 0) {
            tool_error(C, "%s", err);
            status = CLI_FAIL;
        }
        for (int i = 0; i < n; i++)
            positions += cli_doc_positions(mgpt_docs_ntok(data.docs, ids[i]),
                                           meta.cfg.block_size);
    }
    if (status == CLI_OK) {
        cli_config_describe(&meta.cfg, desc, sizeof desc);
        printf("checkpoint: %s (%s; step %ld)\n", o->ckpt, desc, meta.step);
        print_data(o, &data, seed, n, stream ? &st : NULL);
        if (!stream)
            printf("documents: %d\n", n);
        printf("positions: %ld\n", positions);
        printf("loss: %.6f\n", loss);
    }
    if (!split.order)
        free(ids);
    mgpt_split_free(&split);
    mgpt_stream_free(&st);
    mgpt_model_free(m);
    cli_engine_close(&eng);
    cli_data_free(&data);
    mgpt_bpe_free(&bpe);
    return status;
}

/* The cross-checks of --seed: on the command line alone, or (settled) once the run's
 * settings are in. */
static int check_seed(const eval_opts *o, int settled)
{
    if (!o->seed_set)
        return CLI_OK;
    if (o->stream > 0) {
        tool_error(C, "--seed chooses line mode's --val-split documents; a --stream tail does "
                   "not depend on it (drop --seed, or give --no-stream)");
        return CLI_USAGE;
    }
    if (o->val_split == 0 && (settled || o->data.n > 0)) {
        tool_error(C, "--seed only chooses the --val-split documents; give --val-split too");
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* The command line into o: 1 to go on, else 0 with *status the exit status. o->data is
 * to be freed either way. */
static int parse(int argc, char **argv, eval_opts *o, int *status)
{
    *o = (eval_opts){.batch = D_BATCH, .stream = -1};
    if (!cli_command_options(&command, argc, argv, o, status))
        return 0;
    if (!o->ckpt) {
        tool_error(C, "which model? give --checkpoint=PATH (a file written by mgpt train "
                   "--save)");
        tool_try_help(C);
        *status = CLI_USAGE;
    } else
        *status = check_seed(o, 0);
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
    if (parse(argc, argv, &o, &status) && (status = eval_settings_apply(&o, C)) == CLI_OK &&
        (status = check_seed(&o, 1)) == CLI_OK)
        status = evaluate(&o, g);
    cli_data_args_free(&o.data);
    eval_settings_free(&o);
    return status;
}
