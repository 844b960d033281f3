/* mgpt eval's command line and its defaults from the checkpoint: with no --data or
 * --data-dir, eval measures the run's own validation split, so the data files, --stream
 * and --val-split come from the training settings the checkpoint keeps (metadata "train",
 * train_settings.h) unless given. */
#ifndef MGPT_EVAL_SETTINGS_H
#define MGPT_EVAL_SETTINGS_H
#include "cli.h"

typedef struct eval_opts {
    const char *ckpt;
    cli_data_args data;
    int batch, seed_set;
    int stream;         /* 1 --stream, 0 --no-stream, -1 neither given */
    int val_split_set;  /* --val-split given (or taken from the run) */
    double val_split;   /* 0: every document (or the whole stream) */
    uint64_t seed;
    const char *from;   /* the checkpoint whose run's data is used, else NULL */
    void *ck_settings;  /* its parsed settings (JSON): own the data paths taken */
} eval_opts;

/* When o names no data: the data, --stream and --val-split of the checkpoint's run, each
 * one the command line did not give. A checkpoint without settings (an older mgpt) keeps
 * the embedded names data, with a note. CLI_OK, or the exit status after saying what is
 * wrong. */
int eval_settings_apply(eval_opts *o, const char *cmd);

/* Frees what eval_settings_apply kept. */
void eval_settings_free(eval_opts *o);
#endif
