/* The archive of training runs: one folder per `mgpt train` run, written as it goes
 * (run_archive.c), read back by `mgpt runs` (cmd_runs.c), with loss charts (run_chart.c).
 *
 * A run folder ROOT/ID (ID = UTC date-time and a short counter, e.g. 20261204-135132-00):
 *   run.json      the configuration, the command line, the machine and the backend
 *   metrics.csv   step,loss,val_loss,lr,ms_per_step,tok_per_s: one row per step
 *   samples.txt   the samples printed at the end
 *   checkpoint.safetensors  the --save checkpoint (a hard link, else a copy)
 *   loss.svg      the loss curve
 * Archiving never stops training: the first failure is reported once, then ignored. */
#ifndef MGPT_RUN_ARCHIVE_H
#define MGPT_RUN_ARCHIVE_H
#include <stddef.h>
#include <stdio.h>

struct trainer;

typedef struct run_archive {
    char dir[4096];       /* ROOT/ID */
    char id[64];
    FILE *csv, *samples;
    int failed;           /* a write failed and was reported: write nothing more */
    double last_flush;    /* cli_now() of the last flush of metrics.csv */
} run_archive;

/* The archive's root: opt (--archive-dir) if given, else MGPT_ARCHIVE_DIR, else
 * $XDG_DATA_HOME/mgpt/runs, else $HOME/.local/share/mgpt/runs. 0, or -1 when none can be
 * named (no HOME). */
int run_archive_root(const char *opt, char *buf, size_t len);

/* Creates the run's folder under root (and root itself) and writes run.json: 0, or -1
 * after one warning (training goes on without an archive). argv: the whole command line. */
int run_archive_open(run_archive *a, const char *root, const struct trainer *t, int argc,
                     char **argv);
/* One training step (step 1-based; val < 0: not validated at this step). */
void run_archive_step(run_archive *a, long step, double loss, double val, double lr,
                      double tokens, double seconds);
/* One sample printed at the end. */
void run_archive_sample(run_archive *a, const char *text);
/* Files the checkpoint at path into the run (a hard link if it can, else a copy). */
void run_archive_checkpoint(run_archive *a, const char *path);
/* Closes the files, writes the loss chart and the end status ("done", "interrupted",
 * "failed") into run.json. a may be unopened (then nothing). */
void run_archive_close(run_archive *a, const char *status);
#endif
