/* The settings of a training run that are not the model's shape (batch size, learning
 * rate and schedule, steps, validation, data), kept in every checkpoint train saves as
 * metadata "train": a JSON object keyed by long option name, so that --resume continues
 * the run as it was configured. */
#ifndef MGPT_TRAIN_SETTINGS_H
#define MGPT_TRAIN_SETTINGS_H
#include <stddef.h>
#include <jansson.h>
#include "train.h"

#define TRAIN_SETTINGS_KEY "train"

/* o's settings as compact JSON with sorted keys (the same settings give the same bytes),
 * with early stopping's counters v under "validation" once a validation ran (v NULL: none):
 * malloc'ed, NULL when out of memory. */
char *train_settings_json(const train_opts *o, const train_validation *v);

/* Resuming from path, whose seed is ck_seed: the seed and each stored setting whose option
 * the command line did not give go into o (ranges checked again); one that was given and
 * differs gets a note on stderr. A checkpoint without settings (an older mgpt) gets a note
 * and keeps the defaults. Early stopping's counters go to o->resumed_val when the
 * validation set is the run's (the same --val-split, --stream and data). Sets o->restored.
 * CLI_OK, or the exit status after saying what is wrong. */
int train_settings_restore(train_opts *o, const char *path, uint64_t ck_seed);

/* 1 if the checkpoint at path stores flag setting opt (e.g. "stream") as true; 0 when it
 * is false, absent, or the checkpoint keeps no settings. */
int train_settings_flag(const char *path, const char *opt);

/* The stored settings of the checkpoint at path into *settings (a JSON object; NULL when
 * the checkpoint keeps none: written by an older mgpt). 0, or -1 with err saying why (the
 * metadata cannot be read, or is not a JSON object). */
int train_settings_load(const char *path, json_t **settings, char *err, size_t errlen);

/* Frees what train_settings_restore kept (o->ck_settings). */
void train_settings_free(train_opts *o);
#endif
