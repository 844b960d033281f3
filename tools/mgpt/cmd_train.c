/* mgpt train: the seed's train.py as a command. Load documents, build (or take from the
 * checkpoint) the vocabulary, shuffle and split, open the backend, then step Adam over
 * batches of training documents, validating every --val-every steps, and finally save and
 * print samples. Every option is checked before any work starts. */
#include <stdlib.h>
#include <string.h>
#include "run_archive.h"
#include "train_settings.h"

static const char C[] = "train";

/* The checks across options, which need no file. Resuming, those on training settings
 * wait for the checkpoint's (o->restored). */
static int check_options(const train_opts *o)
{
    if (o->save_every && !o->save) {
        tool_error(C, "--save-every %d needs --save PATH (the checkpoint it keeps current)",
                   o->save_every);
        return CLI_USAGE;
    }
    if (o->resume && !o->restored)
        return CLI_OK;
    if (train_check_micro(o) != CLI_OK)
        return CLI_USAGE;
    if (o->decay_steps && o->warmup >= o->decay_steps) {
        tool_error(C, "--warmup-steps %d must be less than --lr-decay-steps %d", o->warmup,
                   o->decay_steps);
        return CLI_USAGE;
    }
    if (!o->decay_steps && o->warmup >= o->steps) {
        tool_error(C, "--warmup-steps %d must be less than --num-steps %d", o->warmup, o->steps);
        return CLI_USAGE;
    }
    if (o->patience > 0 && o->val_split == 0) {
        tool_error(C, "--early-stop-patience %d needs a validation set: give --val-split, "
                   "for example --val-split 0.1", o->patience);
        return CLI_USAGE;
    }
    if (!o->resume && o->cfg.n_embd % o->cfg.n_head != 0) {
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
    return CLI_OK;
}

/* --stream: the documents as one stream, its tail held out for validation. */
static int make_stream(trainer *t)
{
    const train_opts *o = t->o;
    char err[1200];
    if (mgpt_stream_make(&t->stream, t->data.docs, &t->vocab, o->val_split, err,
                         sizeof err) != 0) {
        tool_error(C, "%s", err);
        return CLI_FAIL;
    }
    size_t n_val = t->stream.n - t->stream.n_train, T = (size_t)o->cfg.block_size;
    if (o->val_split > 0 && n_val < 2) {
        tool_error(C, "--val-split %g holds out %zu of the stream's %zu tokens (a validation "
                   "tail needs at least 2); give a larger fraction or more data", o->val_split,
                   n_val, t->stream.n);
        return CLI_USAGE;
    }
    if (t->stream.n_train < T + 1) {
        tool_error(C, "--stream: the training part of the stream has %zu tokens, fewer than "
                   "--block-size %zu + 1; give a smaller --block-size%s or more data",
                   t->stream.n_train, T, o->val_split > 0 ? " or --val-split" : "");
        return CLI_USAGE;
    }
    return CLI_OK;
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

    /* 1. everything the command line alone decides, then the files it names */
    if ((status = check_options(o)) != CLI_OK)
        return status;
    if (o->save && (status = train_check_save_path(o->save, o->force)) != CLI_OK)
        return status;
    if (o->resume) {
        if (mgpt_checkpoint_peek(o->resume, &meta, err, sizeof err) != 0) {
            tool_error(C, "--resume: %s", err);
            return CLI_USAGE;
        }
        if ((status = train_check_shape(o, &meta.cfg, o->resume)) != CLI_OK)
            return status;
        if (!meta.has_adam) {
            tool_error(C, "checkpoint '%s' has no optimizer state (adam.m.*, adam.v.*; mgpt "
                       "export --weights-only leaves it out), so training cannot resume from "
                       "it; resume from the checkpoint mgpt train --save wrote", o->resume);
            return CLI_USAGE;
        }
        if ((status = train_settings_restore(o, o->resume, meta.seed)) != CLI_OK ||
            (status = check_options(o)) != CLI_OK)
            return status;
        if (meta.step >= o->steps) {
            tool_error(C, "checkpoint '%s' has already taken %ld steps; give --num-steps greater "
                       "than %ld to train further", o->resume, meta.step, meta.step);
            return CLI_USAGE;
        }
        o->cfg = meta.cfg;
    }

    /* 2. the data, its vocabulary (a BPE tokenizer's, encoded once) and the split */
    if ((status = train_tokenizer(t, &meta)) != CLI_OK)
        return status;
    if ((status = cli_data_load(C, &o->data, &t->data)) != CLI_OK) {
        if (o->data_restored)
            tool_error(C, "(that is the data of the run of checkpoint '%s'; give --data or "
                       "--data-dir to train on other files)", o->resume);
        return status;
    }
    const mgpt_docs *docs = t->data.docs;
    if (t->vocab.bpe) {
        o->cfg.vocab_size = t->vocab.size;
        if ((status = cli_data_encode(C, &t->data, &t->vocab)) != CLI_OK)
            return status;
    } else if (o->resume) {
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
    if (o->stream)
        return make_stream(t);
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

/* The backend, the model (initialised, or loaded with its Adam state) and the buffers. */
static int build(trainer *t, const cli_global *g)
{
    train_opts *o = t->o;
    char err[1200];
    int status = o->resume ? CLI_OK
                           : cli_model_budget(C, &o->cfg, train_micro(o), o->cfg.block_size,
                                              MGPT_MODEL_TRAIN);
    if (status == CLI_OK)
        status = cli_engine_open(&t->eng, C, g);
    if (status != CLI_OK)
        return status;
    if (o->resume) {
        mgpt_checkpoint_meta meta;
        status = cli_model_from_checkpoint(C, o->resume, train_micro(o), 0, 1, &t->eng.compute, &meta,
                                           &t->m);
        if (status != CLI_OK)
            return status;
    } else {
        t->m = mgpt_model_create(&o->cfg, train_micro(o), &t->eng.compute, err, sizeof err);
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
    return train_step_plan(t);
}

int cmd_train_parse(int argc, char **argv, int *status)
{
    train_opts o;
    int go = train_parse(argc, argv, &o, status) && (*status = check_options(&o)) == CLI_OK;
    cli_data_args_free(&o.data);
    return go;
}

int cmd_train(int argc, char **argv, const cli_global *g)
{
    train_opts o;
    int status;
    comm cm;
    if ((status = comm_open(&cm, C)) != CLI_OK)
        return status;
    if (cm.rank > 0 && !freopen("/dev/null", "w", stdout)) /* rank 0 prints */
        tool_warn(C, "rank %d: cannot silence its output", cm.rank);
    tool_set_quiet(cm.rank > 0); /* and warns: errors come from every rank */
    trainer t;
    memset(&t, 0, sizeof t);
    t.o = &o;
    t.comm = &cm;
    int go = train_parse(argc, argv, &o, &status);
    if (go) {
        if (cm.rank > 0) { /* rank 0 archives and samples */
            o.no_archive = 1;
            o.num_samples = 0;
        }
        status = prepare(&t);
        if (status == CLI_OK)
            status = build(&t, g);
    }
    /* every rank goes on, with the same data and options, or none does */
    status = cm.ops->agree(&cm, status, go && status == CLI_OK ? train_digest(&t) : 0);
    run_archive archive;
    char root[4096];
    if (go && status == CLI_OK && !o.no_archive) {
        if (run_archive_root(o.archive_dir, root, sizeof root) != 0)
            tool_warn(C, "run archive: no folder for it (HOME, XDG_DATA_HOME and "
                      "MGPT_ARCHIVE_DIR are unset; give --archive-dir); training goes on");
        else if (run_archive_open(&archive, root, &t, g->argc, g->argv) == 0)
            t.archive = &archive;
    }
    if (go && status == CLI_OK) {
        train_print_header(&t);
        status = train_run(&t);
    }
    if (t.archive)
        run_archive_close(t.archive, status == CLI_OK ? "done" :
                          status == CLI_INTERRUPTED ? "interrupted" : "failed");
    train_step_free(&t);
    free(t.ids);
    free(t.scratch);
    mgpt_model_free(t.m);
    cli_engine_close(&t.eng);
    mgpt_split_free(&t.split);
    mgpt_stream_free(&t.stream);
    cli_data_free(&t.data);
    mgpt_bpe_free(&t.bpe);
    cli_data_args_free(&o.data);
    cm.ops->close(&cm);
    train_settings_free(&o);
    return status;
}
