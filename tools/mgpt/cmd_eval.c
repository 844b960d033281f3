/* mgpt eval: the mean loss of a checkpoint over documents (deterministic, no sampling). */
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "dataset.h"
#include "evaluate.h"

#define D_BATCH 32

enum { O_CKPT = 256, O_DATA, O_DATADIR, O_BATCH, O_VSPLIT, O_SEED, O_VERSION };

static const struct option longopts[] = {
    {"checkpoint", required_argument, NULL, O_CKPT},
    {"data", required_argument, NULL, O_DATA},
    {"data-dir", required_argument, NULL, O_DATADIR},
    {"batch-size", required_argument, NULL, O_BATCH},
    {"val-split", required_argument, NULL, O_VSPLIT},
    {"seed", required_argument, NULL, O_SEED},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, O_VERSION},
    {NULL, 0, NULL, 0},
};

static void help(void)
{
    printf("Usage: mgpt [GLOBAL OPTIONS] eval --checkpoint=PATH [OPTIONS]\n"
           "Print the mean cross-entropy loss of a trained model over every document\n"
           "(its first block_size positions), with the numbers of documents and\n"
           "positions. With no --data or --data-dir, uses the embedded names data set.\n"
           "\n"
           "      --checkpoint=PATH     the checkpoint to evaluate (required)\n"
           "      --data=FILE|GLOB      a text file or a glob(3) pattern (quote it);\n"
           "                            repeatable (default: the embedded names data)\n"
           "      --data-dir=DIR        every regular, non-hidden file of DIR, in name\n"
           "                            order; repeatable\n"
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

static const char *C = "eval";

int cmd_eval(int argc, char **argv, const cli_global *g)
{
    const char *ckpt = NULL;
    cli_data_args da = {0};
    int batch = D_BATCH, seed_set = 0, bad = 0, c;
    double val_split = 0;
    uint64_t seed = 0;

    optind = 0;
    opterr = 0;
    while (!bad && (c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case O_CKPT:
            ckpt = optarg;
            break;
        case O_DATA:
        case O_DATADIR:
            if (cli_data_args_add(&da, c == O_DATADIR, optarg) != 0) {
                cli_error(C, "out of memory");
                cli_data_args_free(&da);
                return CLI_FAIL;
            }
            break;
        case O_BATCH:
            bad = cli_parse_int(C, "--batch-size", optarg, 1, 65536, &batch);
            break;
        case O_VSPLIT:
            bad = cli_parse_float(C, "--val-split", optarg, 0, 1, 1, 1, "a fraction in (0, 1)",
                                  &val_split);
            break;
        case O_SEED:
            bad = cli_parse_u64(C, "--seed", optarg, &seed);
            seed_set = 1;
            break;
        case 'h':
            help();
            cli_data_args_free(&da);
            return CLI_OK;
        case O_VERSION:
            cli_print_version();
            cli_data_args_free(&da);
            return CLI_OK;
        default:
            cli_data_args_free(&da);
            return cli_bad_option(C, argv, longopts, c);
        }
    }
    int status = bad ? CLI_USAGE : cli_no_operands(C, argc, argv, optind);
    if (status == CLI_OK && !ckpt) {
        cli_error(C, "which model? give --checkpoint=PATH (a file written by mgpt train --save)");
        cli_try_help(C);
        status = CLI_USAGE;
    }
    if (status == CLI_OK && seed_set && val_split == 0) {
        cli_error(C, "--seed only chooses the --val-split documents; give --val-split too");
        status = CLI_USAGE;
    }
    if (status != CLI_OK) {
        cli_data_args_free(&da);
        return status;
    }

    /* the header and the data are checked before a backend is opened */
    mgpt_checkpoint_meta meta;
    char err[1200], desc[600];
    cli_data data = {0};
    mgpt_split split = {0};
    cli_engine eng;
    memset(&eng, 0, sizeof eng);
    mgpt_model *m = NULL;
    if (mgpt_checkpoint_peek(ckpt, &meta, err, sizeof err) != 0) {
        cli_error(C, "%s", err);
        status = CLI_USAGE;
    }
    if (status == CLI_OK)
        status = cli_data_load(C, &da, &data);
    if (status == CLI_OK)
        status = cli_data_check_vocab(C, &data, &meta.vocab, "the checkpoint's");
    int *ids = NULL, n = 0;
    if (status == CLI_OK) {
        int count = data.docs->count;
        if (val_split > 0) {
            if (mgpt_split_make(&split, count, seed_set ? seed : meta.seed, val_split) != 0) {
                cli_error(C, "out of memory");
                status = CLI_FAIL;
            } else if (split.n_val == 0) {
                cli_error(C, "--val-split %g holds out no document of %d; give a larger fraction",
                          val_split, count);
                status = CLI_USAGE;
            } else {
                ids = split.order;
                n = split.n_val;
            }
        } else {
            ids = malloc((size_t)count * sizeof *ids);
            if (!ids) {
                cli_error(C, "out of memory");
                status = CLI_FAIL;
            }
            for (int i = 0; ids && i < count; i++)
                ids[i] = i;
            n = count;
        }
    }
    if (status == CLI_OK)
        status = cli_engine_open(&eng, C, g);
    if (status == CLI_OK)
        status = cli_model_from_checkpoint(C, ckpt, batch, 0, &eng.be.k, &meta, &m);
    if (status == CLI_OK) {
        double loss;
        if (mgpt_evaluate(m, data.docs, &meta.vocab, ids, n, &loss, err, sizeof err) != 0) {
            cli_error(C, "%s", err);
            status = CLI_FAIL;
        } else {
            long positions = 0;
            for (int i = 0; i < n; i++)
                positions += cli_doc_positions(data.docs->len[ids[i]], meta.cfg.block_size);
            cli_config_describe(&meta.cfg, desc, sizeof desc);
            printf("checkpoint: %s (%s; step %ld)\n", ckpt, desc, meta.step);
            cli_data_describe(&data, desc, sizeof desc);
            if (val_split > 0)
                printf("data: %s: the %d validation documents of --val-split %g (seed %llu)\n",
                       desc, n, val_split, (unsigned long long)(seed_set ? seed : meta.seed));
            else
                printf("data: %s\n", desc);
            printf("documents: %d\n", n);
            printf("positions: %ld\n", positions);
            printf("loss: %.6f\n", loss);
        }
    }
    if (val_split == 0)
        free(ids);
    mgpt_split_free(&split);
    mgpt_model_free(m);
    cli_engine_close(&eng);
    cli_data_free(&data);
    cli_data_args_free(&da);
    return status;
}
