/* mgpt tokenizer train: learn a byte-level BPE tokenizer from documents and write its
 * file (core/data/bpe.h; the format in docs/model.md). */
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "data/bpe.h"
#include "data/dataset.h"

static const char C[] = "tokenizer train";

#define D_VOCAB 512

enum { O_VOCAB = 256, O_OUT };

typedef struct tok_opts {
    int vocab_size;
    const char *out;
    cli_data_args data;
} tok_opts;

static const struct option longopts[] = {
    {"vocab-size", required_argument, NULL, O_VOCAB},
    {"output", required_argument, NULL, 'o'},
    CLI_DATA_OPTIONS,
    CLI_HELP_AND_VERSION,
};

static void help(void)
{
    printf("Usage: mgpt [GLOBAL OPTIONS] tokenizer train --output=PATH [OPTIONS]\n"
           "Learn a byte-level BPE tokenizer from documents (one per line) and write it to\n"
           "PATH (format: docs/model.md). Ids: 0 BOS, 1..256 the bytes, then the\n"
           "merges: each the most frequent adjacent pair within a document, a tie going\n"
           "to the pair with the smaller ids. With no --data or --data-dir, learns from\n"
           "the embedded names data set.\n"
           "\n"
           "      --vocab-size=N        BOS + 256 bytes + merges, %d..%d (default %d);\n"
           "                            fewer merges when no pair occurs twice\n"
           "  -o, --output=PATH         the tokenizer file to write (required)\n"
           CLI_DATA_HELP
           "  -h, --help                show this help and exit\n"
           "      --version             show the version and exit\n"
           "\n"
           "Exit status: 0 on success, 1 on a failure while working, 2 for a wrong\n"
           "option, value or input file.\n",
           MGPT_BPE_FIRST_MERGE, MGPT_BPE_MAX_VOCAB, D_VOCAB);
}

static int take(int c, const char *arg, void *opts)
{
    tok_opts *o = opts;
    switch (c) {
    case O_VOCAB:
        return cli_parse_int(C, "--vocab-size", arg, MGPT_BPE_FIRST_MERGE, MGPT_BPE_MAX_VOCAB,
                             &o->vocab_size);
    case 'o':
        o->out = arg;
        return CLI_OK;
    case CLI_OPT_DATA:
    case CLI_OPT_DATA_DIR:
        return cli_data_take(C, &o->data, c, arg);
    }
    return CLI_OK;
}

static const cli_command command = {C, "o:", longopts, help, take};

/* Learns, writes and reports: the exit status. */
static int learn(const tok_opts *o)
{
    cli_data data;
    int status = cli_data_load(C, &o->data, &data);
    if (status != CLI_OK) {
        cli_data_free(&data);
        return status;
    }
    const mgpt_docs *d = data.docs;
    char err[4600];
    mgpt_bpe t;
    double t0 = cli_now();
    if (mgpt_bpe_train(&t, (const char *const *)d->text, d->len, d->count, o->vocab_size, err,
                       sizeof err) != 0) {
        tool_error(C, "%s", err);
        cli_data_free(&data);
        return CLI_FAIL;
    }
    double seconds = cli_now() - t0;
    /* bytes per token over the same documents */
    size_t tokens = 0, longest = 0;
    for (int i = 0; i < d->count; i++)
        longest = d->len[i] > longest ? d->len[i] : longest;
    int *ids = malloc((longest ? longest : 1) * sizeof *ids);
    if (!ids) {
        tool_error(C, "out of memory");
        status = CLI_FAIL;
    } else {
        for (int i = 0; i < d->count; i++)
            tokens += mgpt_bpe_encode(&t, d->text[i], d->len[i], ids);
        if (mgpt_bpe_save(&t, o->out, err, sizeof err) != 0) {
            tool_error(C, "%s", err);
            status = CLI_FAIL;
        } else {
            char desc[600];
            cli_data_describe(&data, desc, sizeof desc);
            printf("learned %d merges from %s (%d documents, %zu bytes) in %.2f s: "
                   "vocabulary %d, %.3f bytes per token\n", t.n_merges, desc, d->count,
                   data.bytes, seconds, t.vocab_size,
                   tokens ? (double)data.bytes / (double)tokens : 0.0);
            if (t.vocab_size < o->vocab_size)
                printf("(stopped at vocabulary %d of %d: no pair occurs twice)\n", t.vocab_size,
                       o->vocab_size);
            printf("wrote %s\n", o->out);
        }
    }
    free(ids);
    mgpt_bpe_free(&t);
    cli_data_free(&data);
    return status;
}

int cmd_tokenizer(int argc, char **argv, const cli_global *g)
{
    (void)g;
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        help();
        return CLI_OK;
    }
    if (argc < 2 || strcmp(argv[1], "train") != 0) {
        tool_error("tokenizer", "%s '%s' (expected: mgpt tokenizer train --vocab-size N "
                   "--data FILE -o PATH)", argc < 2 ? "no action given" : "unknown action",
                   argc < 2 ? "" : argv[1]);
        return CLI_USAGE;
    }
    tok_opts o;
    memset(&o, 0, sizeof o);
    o.vocab_size = D_VOCAB;
    int status;
    if (cli_command_options(&command, argc - 1, argv + 1, &o, &status)) {
        if (!o.out) {
            tool_error(C, "--output is required (the tokenizer file to write)");
            status = CLI_USAGE;
        } else
            status = learn(&o);
    }
    cli_data_args_free(&o.data);
    return status;
}
