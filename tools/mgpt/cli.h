/* The mgpt program: what its files share. Every command is a function that takes its own
 * argv (argv[0] is the command's name) and returns the process exit status. */
#ifndef MGPT_CLI_H
#define MGPT_CLI_H
#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "format/checkpoint.h"
#include "platform/cpu.h"
#include "mgpt_tools.h"
#include "engine/engine.h"
#include "model/model.h"
#include "engine/registry.h"

/* Exit statuses, as the man page states them. */
enum {
    CLI_OK = 0,
    CLI_FAIL = 1,   /* a failure while working: no plugins, out of memory, write error */
    CLI_USAGE = 2,  /* the command line or its inputs are wrong: fix them and run again */
    CLI_INTERRUPTED = 130
};

/* Global options (before the command). */
typedef struct cli_global {
    const char *backend;  /* --backend=NAME, or NULL (then MGPT_BACKEND, then the best) */
    int threads;          /* --threads=N; 0 = default (one per physical core) */
    int verbose;          /* --verbose */
    const char *precision; /* --precision=CLASS (fp32, bf16), or NULL: not asked for */
    int argc;             /* the whole command line, as a run archive records it */
    char **argv;
} cli_global;

int cmd_train(int argc, char **argv, const cli_global *g);
int cmd_sample(int argc, char **argv, const cli_global *g);
int cmd_runs(int argc, char **argv, const cli_global *g);
int cmd_eval(int argc, char **argv, const cli_global *g);
int cmd_export(int argc, char **argv, const cli_global *g);
int cmd_tokenizer(int argc, char **argv, const cli_global *g);
int cmd_backends(int argc, char **argv, const cli_global *g);
int cmd_info(int argc, char **argv, const cli_global *g);

/* Each command's command line alone, checked as the command checks it before it reads a
 * file or opens a backend, without running it (the fuzz targets call these): 1 when the
 * command would go on, else 0 with *status the exit status (CLI_OK after --help). */
int cmd_train_parse(int argc, char **argv, int *status);
int cmd_sample_parse(int argc, char **argv, int *status);
int cmd_eval_parse(int argc, char **argv, int *status);
int cmd_export_parse(int argc, char **argv, int *status);
int cmd_backends_parse(int argc, char **argv, int *status);
int cmd_info_parse(int argc, char **argv, int *status);

/* --- options.c: the option loop and values ----------------------------------------- */
/* (Messages: tool_error, tool_warn and tool_try_help of mgpt_tools.h, cmd being the
 * command's name or NULL.) */

void cli_print_version(void);

/* The global options before the command into g: 1 when a command follows (at argv[optind]),
 * else 0 with *status the exit status (CLI_OK after --help, which help() prints, and
 * --version). */
int cli_global_options(int argc, char **argv, cli_global *g, void (*help)(void), int *status);

/* What getopt_long returns for --version, which every command takes (long only). */
#define CLI_OPT_VERSION 255
/* The end of every command's long options: --help, --version and the terminator. */
#define CLI_HELP_AND_VERSION \
    {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, CLI_OPT_VERSION}, \
    {NULL, 0, NULL, 0}

/* A command's command line. */
typedef struct cli_command {
    const char *name;               /* "train": its messages start "mgpt train: " */
    const char *shortopts;          /* short options besides -h ("v"), getopt style */
    const struct option *longopts;  /* ended by CLI_HELP_AND_VERSION */
    void (*help)(void);
    /* One of its options (c as getopt_long returned it, arg its value or NULL) into opts:
     * CLI_OK, or the exit status after saying what is wrong. NULL when the command has
     * no options but --help and --version. */
    int (*take)(int c, const char *arg, void *opts);
} cli_command;

/* The option loop every command runs: each option to cmd->take, --help and --version
 * answered, a message for a rejected option, no operands. 1 when the command goes on;
 * else 0 with *status the exit status (CLI_OK after --help and --version). */
int cli_command_options(const cli_command *cmd, int argc, char **argv, void *opts,
                        int *status);
/* Reports what getopt_long rejected (it returned '?' or ':', opterr = 0) and returns
 * CLI_USAGE. */
int cli_bad_option(const char *cmd, char **argv, const struct option *longopts, int c);

/* Value parsers: CLI_OK, or CLI_USAGE after "mgpt CMD: --OPT 'ARG' ... (expected ...)". */
int cli_parse_int(const char *cmd, const char *opt, const char *arg, long min, long max,
                  int *out);
int cli_parse_u64(const char *cmd, const char *opt, const char *arg, uint64_t *out);
/* A finite number in the interval lo..hi; lo_open/hi_open make that end exclusive.
 * `accepted` describes the interval for the message ("a number > 0"). */
int cli_parse_float(const char *cmd, const char *opt, const char *arg, double lo, double hi,
                    int lo_open, int hi_open, const char *accepted, double *out);

/* --- data.c: the documents named by --data and --data-dir --------------------------- */

typedef struct cli_data_arg {
    int is_dir;       /* --data-dir DIR, else --data FILE|GLOB */
    const char *arg;
} cli_data_arg;

typedef struct cli_data_args {
    cli_data_arg *v;
    int n, cap;
} cli_data_args;

struct mgpt_docs;
struct mgpt_vocab;

typedef struct cli_source {
    char *name;       /* the file's path, or "the embedded names data" */
    int first, count; /* its documents in the docs */
} cli_source;

typedef struct cli_data {
    struct mgpt_docs *docs;
    cli_source *src;
    int n_src;
    size_t bytes;
} cli_data;

/* --data and --data-dir, which train and eval take alike: their long options (values
 * below the commands' own), their lines of --help, and the option added to the list
 * (CLI_OK, or CLI_FAIL after saying out of memory). */
enum { CLI_OPT_DATA = 250, CLI_OPT_DATA_DIR };
#define CLI_DATA_OPTIONS \
    {"data", required_argument, NULL, CLI_OPT_DATA}, \
    {"data-dir", required_argument, NULL, CLI_OPT_DATA_DIR}
#define CLI_DATA_HELP \
    "      --data=FILE|GLOB      a text file or a glob(3) pattern (quote it);\n" \
    "                            repeatable (default: the embedded names data)\n" \
    "      --data-dir=DIR        every regular, non-hidden file of DIR, in name\n" \
    "                            order; repeatable\n"
int cli_data_take(const char *cmd, cli_data_args *a, int c, const char *arg);
void cli_data_args_free(cli_data_args *a);
/* Loads every source in command-line order, or the embedded names data when there is
 * none. CLI_OK, or the exit status after printing what is wrong. */
int cli_data_load(const char *cmd, const cli_data_args *a, cli_data *d);
void cli_data_free(cli_data *d);
/* "the embedded names data", "data.txt", or "3 files" */
void cli_data_describe(const cli_data *d, char *buf, size_t len);
/* CLI_OK if every byte of the data is in v; else CLI_USAGE after naming the file, the
 * document and the byte. `vocab_what` names where v came from ("the checkpoint's"). */
int cli_data_check_vocab(const char *cmd, const cli_data *d, const struct mgpt_vocab *v,
                         const char *vocab_what);

/* --- engine.c: the engine every command computes with ------------------------------- */

/* The registry, the backend, its threads and the compute a model runs with: one
 * mgpt_engine (core/engine/engine.h), opened by cli_engine_open with the global options. */
typedef mgpt_engine cli_engine;

/* The CPU as detected, with what MGPT_CPU_DISABLE masks: CLI_OK, or CLI_USAGE after the
 * message (MGPT_CPU_DISABLE names an unknown feature). */
int cli_cpu_detect(const char *cmd, mgpt_cpu_info *cpu);
/* The backend modules on the plugin search path (log: where to note rejected modules, or
 * NULL): CLI_OK, or CLI_USAGE after the message. For listings only: commands that compute
 * open an engine. */
int cli_registry_load(const char *cmd, mgpt_registry *reg, FILE *log);
/* Opens the engine: the forced (--backend, MGPT_BACKEND) or best backend on --threads
 * threads (default one per physical core). CLI_OK, or the exit status after printing why
 * not. e is zeroed first, so cli_engine_close may follow either way. */
int cli_engine_open(cli_engine *e, const char *cmd, const cli_global *g);
void cli_engine_close(cli_engine *e);
/* The threads the engine runs every kernel on (any backend). */
int cli_engine_threads(const cli_engine *e);
/* "0,2,4": the processors of a thread binding */
void cli_binding_text(const int *pu, int n, char *buf, size_t len);
/* "avx512 (4 threads)" */
void cli_engine_describe(const cli_engine *e, char *buf, size_t len);

/* --- model_file.c: a model from a checkpoint ----------------------------------------- */

/* CLI_OK if a model of cfg with B documents of T positions (training, or inference only)
 * fits in this machine's memory and limits; else CLI_USAGE after "needs X GiB (...); this
 * machine has Y GiB". Commands call it before allocating anything large. */
int cli_model_budget(const char *cmd, const mgpt_config *cfg, int B, int T, int training);
/* Peeks at path (meta filled), checks the memory budget, creates a model with B documents
 * of T positions (0: block_size) per batch on compute c (the engine's) and loads the
 * parameters; with want_adam a training model with its Adam state, else an inference-only
 * one. CLI_OK, or the exit status after printing what is wrong. */
int cli_model_from_checkpoint(const char *cmd, const char *path, int B, int T, int want_adam,
                              const mgpt_compute *c, mgpt_checkpoint_meta *meta,
                              mgpt_model **out);
/* --- tokenizer_use.c: the BPE tokenizer of a checkpoint ------------------------------- */

struct mgpt_bpe;
struct mgpt_checkpoint_meta;
/* A checkpoint with metadata "tokenizer": reads it into bpe and makes meta->vocab use it
 * (bpe is zeroed otherwise; free it with mgpt_bpe_free). CLI_OK or CLI_USAGE. */
int cli_checkpoint_tokenizer(const char *cmd, const char *ckpt,
                             struct mgpt_checkpoint_meta *meta, struct mgpt_bpe *bpe);
/* With a BPE vocabulary, encodes the documents once (mgpt_docs_encode). */
int cli_data_encode(const char *cmd, cli_data *d, const struct mgpt_vocab *v);

/* "n_embd 16, n_head 4, n_layer 1, block_size 8, vocab 27" */
void cli_config_describe(const mgpt_config *c, char *buf, size_t len);
/* Positions a document of len bytes trains on with block size T: min(T, len + 1). */
long cli_doc_positions(size_t len, int T);

/* --- progress.c: the training display ------------------------------------------------ */

typedef struct cli_progress {
    FILE *out;
    int tty;               /* redraw a bar with \r, else print plain lines */
    long first, last;      /* steps of this run, 1-based: first..last */
    int log_every;         /* plain line every this many steps */
    int step_width;
    int has_val;
    /* since the last printed line */
    double loss_sum;
    int loss_n;
    double tokens, seconds;
    /* the whole run */
    double run_seconds, run_tokens;
    double last_draw;      /* monotonic seconds of the last bar redraw */
    int bar_shown;
} cli_progress;

double cli_now(void); /* monotonic seconds */
/* log_every 0 = about 20 to 40 lines per run. */
void cli_progress_init(cli_progress *p, FILE *out, long first, long last, int log_every,
                       int has_val);
/* One step done (step is 1-based: the number of steps taken). val < 0: no validation at
 * this step. */
void cli_progress_step(cli_progress *p, long step, double loss, double val, double lr,
                       double tokens, double seconds);
/* A message line that must not be mixed into the bar. */
void cli_progress_note(cli_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A line for the steps not shown yet (when training stops between lines). */
void cli_progress_flush(cli_progress *p, long step, double lr);
void cli_progress_end(cli_progress *p);
#endif
