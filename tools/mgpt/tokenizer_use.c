/* The BPE tokenizer in the commands: train takes it from --tokenizer (or the checkpoint it
 * resumes), sample and eval from the checkpoint's metadata "tokenizer", and every command
 * encodes its documents once (docs/model.md, "BPE checkpoints"). */
#include <string.h>
#include "data/bpe.h"
#include "train.h"

int cli_checkpoint_tokenizer(const char *cmd, const char *ckpt, mgpt_checkpoint_meta *meta,
                             mgpt_bpe *bpe)
{
    char err[1200];
    int found;
    memset(bpe, 0, sizeof *bpe);
    if (!meta->has_tokenizer)
        return CLI_OK;
    if (mgpt_checkpoint_tokenizer(ckpt, bpe, &found, err, sizeof err) != 0) {
        tool_error(cmd, "%s", err);
        return CLI_USAGE;
    }
    mgpt_vocab_from_bpe(&meta->vocab, bpe);
    return CLI_OK;
}

int cli_data_encode(const char *cmd, cli_data *d, const mgpt_vocab *v)
{
    char err[300];
    if (!v->bpe)
        return CLI_OK;
    if (mgpt_docs_encode(d->docs, v->bpe, err, sizeof err) != 0) {
        tool_error(cmd, "%s", err);
        return CLI_FAIL;
    }
    return CLI_OK;
}

/* Two tokenizers are the same when their merges are. */
static int same_merges(const mgpt_bpe *a, const mgpt_bpe *b)
{
    return a->n_merges == b->n_merges &&
           (a->n_merges == 0 || memcmp(a->merge, b->merge, (size_t)a->n_merges * sizeof *a->merge) == 0);
}

int train_tokenizer(trainer *t, mgpt_checkpoint_meta *meta)
{
    static const char C[] = "train";
    const train_opts *o = t->o;
    char err[1200];
    int status;
    if (o->resume && (status = cli_checkpoint_tokenizer(C, o->resume, meta, &t->bpe)) != CLI_OK)
        return status;
    if (o->tokenizer) {
        mgpt_bpe given;
        if (mgpt_bpe_load(&given, o->tokenizer, err, sizeof err) != 0) {
            tool_error(C, "--tokenizer: %s", err);
            return CLI_USAGE;
        }
        if (o->resume && (!meta->has_tokenizer || !same_merges(&given, &t->bpe))) {
            tool_error(C, "--tokenizer '%s' (vocabulary %d) is not the tokenizer of checkpoint "
                       "'%s' (%s %d); a model keeps the tokenizer it was trained with: resume "
                       "without --tokenizer", o->tokenizer, given.vocab_size, o->resume,
                       meta->has_tokenizer ? "BPE, vocabulary" : "char, vocabulary",
                       meta->cfg.vocab_size);
            mgpt_bpe_free(&given);
            return CLI_USAGE;
        }
        mgpt_bpe_free(&t->bpe);
        t->bpe = given;
    }
    if (o->tokenizer || (o->resume && meta->has_tokenizer)) {
        mgpt_vocab_from_bpe(&t->vocab, &t->bpe);
        if (o->resume)
            meta->vocab = t->vocab;
    }
    return CLI_OK;
}
