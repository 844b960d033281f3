/* mgpt-bench: what its files share. `run` times training steps of the benchmark configs on
 * each backend; `compare` flags regressions between two JSON files; `generate` times
 * generation. */
#ifndef MGPT_BENCH_H
#define MGPT_BENCH_H
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <jansson.h>
#include "model/mgpt_config.h"
#include "mgpt_tools.h"
#include "engine/engine.h"
#include "engine/registry.h"

/* Exit statuses, as the man page states them. */
enum {
    BENCH_OK = 0,
    BENCH_FAIL = 1,   /* run: nothing could be measured, a write failed; compare: a regression */
    BENCH_USAGE = 2   /* the command line or an input file is wrong */
};

/* The version of the JSON layout written by `run` and read by `compare`. */
#define BENCH_SCHEMA "mgpt-bench/1"

int cmd_run(int argc, char **argv);
int cmd_compare(int argc, char **argv);
/* Each command's command line alone, checked as the command checks it before it reads a
 * file or loads a backend, without running it (the fuzz targets call these): 1 when the
 * command would go on, else 0 with *status the exit status (BENCH_OK after --help). argv[0]
 * is the command's name, as for cmd_run and cmd_compare. */
int bench_run_parse(int argc, char **argv, int *status);
int bench_compare_parse(int argc, char **argv, int *status);
int cmd_chart(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
/* generate.c: tokens/s of generation, cached and by full forward passes. */
int cmd_generate(int argc, char **argv);
int bench_generate_parse(int argc, char **argv, int *status);

/* --- args.c: the words of mgpt-bench (messages themselves: mgpt_tools.h) -------------- */

/* A progress line on stderr, as it is (no program name added). */
void bench_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bench_print_version(void);
/* Reports what getopt_long rejected (opterr = 0) and returns BENCH_USAGE. */
int bench_bad_option(const char *cmd, char **argv, const struct option *longopts, int c);
/* An integer in min..max, or -1 after printing what was wrong. */
int bench_parse_int(const char *cmd, const char *opt, const char *arg, long min, long max,
                    int *out);
/* A finite number >= min, or -1 after printing what was wrong. */
int bench_parse_double(const char *cmd, const char *opt, const char *arg, double min,
                       int min_open, double *out);
/* Appends the comma-separated entries of arg (backends, configs), skipping repeats. -1
 * after printing what is wrong (an empty entry, out of memory). */
int bench_names_add_list(tool_names *l, const char *cmd, const char *opt, const char *arg);
/* What run and generate measure, checked before anything runs: --all-backends and
 * --backend exclude each other; no --config means the defaults (a NULL-ended list); each
 * config name parses and a training step of its model fits the memory budget (with
 * one_document, a config must name batch 1). BENCH_OK, or the exit status after a
 * message. */
int bench_check_selection(const char *cmd, int all, const tool_names *named,
                          tool_names *configs, const char *const *defaults, int one_document);

/* run.c: the backends to measure: named ones (each must exist), every module (-a, slowest
 * first), or the default one. BENCH_OK or the exit status, after a message. */
int bench_choose_backends(const char *cmd, const mgpt_registry *reg, int all,
                          const tool_names *named, tool_names *out);

/* --- measure.c: one (backend, config) measurement ------------------------------------ */

typedef struct bench_settings {
    int steps;          /* timed steps per repeat; 0 = calibrate to min_time */
    int warmup;         /* untimed steps before the first repeat */
    int repeats;
    double min_time;    /* seconds per repeat when steps are calibrated */
    int threads;        /* --threads; 0 = the engine's default (one per physical core) */
    int quiet;          /* no progress on stderr */
} bench_settings;

typedef struct bench_result {
    char backend[64];
    char config[64];
    mgpt_config cfg;
    int batch;                  /* documents per step (B) */
    size_t params;
    const char *data;           /* "names" (embedded, B = 1) or "synthetic" */
    int steps, warmup, repeats;
    int threads;                /* the engine ran the backend on (any backend: --threads) */
    double *repeat_ms;          /* [repeats] ms per step of each repeat */
    double ms_median, ms_min, ms_max;
    double tokens_per_step;     /* unmasked targets per timed step (mean) */
    double tokens_per_s;        /* tokens_per_step / median step time */
    double flops_forward, flops_backward, flops_optimizer;  /* per step, engine's counts */
    double flops_per_step, bytes_per_step;  /* mgpt_step_cost: what mgpt train counts too */
    double gflops;              /* flops_per_step / median step time */
    double final_loss;
} bench_result;

/* Builds the model of `config` on compute c (an engine's: the backend on its threads),
 * trains warmup + repeats x steps steps and fills r; r->threads is s->threads. 0, or -1
 * after printing why (out of memory, a bad config). */
int bench_measure(const char *backend, const mgpt_compute *c, const char *config,
                  const bench_settings *s, const char *progress, bench_result *r);
void bench_result_free(bench_result *r);

/* --- machine.c: what the numbers were measured on ------------------------------------ */

/* The machine as JSON: cpu (vendor, brand, features), topology (cores, caches), os. */
json_t *bench_machine_json(void);
/* "Intel(R) Xeon(R) ... (2 cores, 2 threads)" for reports. (The threads' count and
 * binding are the engine's: mgpt_engine_open.) */
void bench_machine_describe(char *buf, size_t len);

/* --- report_json.c -------------------------------------------------------------------- */

typedef struct bench_skip {
    char backend[64];
    char reason[512];
} bench_skip;

typedef struct bench_run {
    bench_result *results;
    int n, cap;
    bench_skip *skipped;
    int n_skipped, cap_skipped;
    bench_settings settings;
    char timestamp[32];         /* UTC, ISO 8601 */
    char commit[64];            /* the code measured; "" if unknown */
} bench_run;

/* Writes the run as JSON to f. 0, or -1 on a write error. */
int bench_write_json(const bench_run *run, FILE *f);

/* One entry of a JSON file, as `compare` reads it. */
typedef struct bench_entry {
    const char *backend, *config;  /* into the json_t that was read */
    double ms;                     /* the compared time: ms_per_step (median) or its min */
    double tokens_per_s, gflops;   /* 0 if absent */
    int matched;
} bench_entry;

typedef struct bench_file {
    json_t *root;
    bench_entry *e;
    int n;
    const char *cpu_brand;         /* "" if absent */
    int threads;                   /* requested (settings), 0 if absent */
    const char *commit, *timestamp; /* "" if absent */
} bench_file;

/* Reads and checks a file written by `run`, taking each result's time from `key`
 * ("ms_per_step" or "ms_per_step_min"). 0, or -1 after printing what is wrong. */
int bench_read_json(const char *cmd, const char *path, const char *key, bench_file *out);
void bench_file_free(bench_file *f);

/* "abc1234" for the JSON: --commit, else `git rev-parse --short HEAD` in the working
 * folder, else "". */
void bench_find_commit(const char *given, char *buf, size_t len);

/* --- report_markdown.c ---------------------------------------------------------------- */

/* "3.14" style times: 4 significant figures without exponents ("0.004873" too). */
void bench_fmt_ms(char *buf, size_t len, double ms);
/* 1234567 -> "1,234,567" */
void bench_fmt_count(char *buf, size_t len, double v);
/* A result's cells as the table of `run` and its markdown report both show them. */
typedef struct bench_cells {
    char params[32], ms[32], ms_min[32], ms_max[32], tokens_per_s[32];
    char gflops[32];            /* three significant digits (tool_fmt_sig3) */
    char vs_scalar[32];         /* "2.31x", or "-" without a scalar result for the config */
} bench_cells;
void bench_result_cells(const bench_run *run, const bench_result *r, bench_cells *c);
int bench_write_run_markdown(const bench_run *run, FILE *f);

typedef enum { CMP_SAME, CMP_REGRESSION, CMP_IMPROVED, CMP_ONLY_BASE, CMP_ONLY_CURRENT } cmp_status;
typedef struct cmp_row {
    const char *backend, *config;
    double base_ms, cur_ms;     /* 0 where the entry is missing */
    double ratio;               /* cur_ms / base_ms */
    cmp_status status;
} cmp_row;
const char *cmp_status_name(cmp_status s);
int bench_write_compare_markdown(const cmp_row *rows, int n, double threshold,
                                 const char *metric, const char *base, const char *cur,
                                 const char *chart, FILE *f);

/* --- chart.c: result files as a chart (tools/common/chart.h) --------------------------- */

/* One file: grouped bars (configs along x, a bar per backend). Several: a trend line per
 * (backend, config) over the files, labelled with each file's commit and date. ms: plot
 * ms/step instead of GFLOP/s. BENCH_OK, or BENCH_USAGE/BENCH_FAIL after a message. */
int bench_chart_files(const char *cmd, int n, const char *const *paths, int ms,
                      const char *out);

/* --- peak.c ----------------------------------------------------------------------------- */

/* GFLOP/s of the backend's peak_flops probe on one thread times eng->threads; 0 when the
 * backend has no probe. */
double bench_peak_gflops(const mgpt_engine *eng);

/* --- threshold.c ---------------------------------------------------------------------- */

/* compare's --threshold: "5%" (percent) or a fraction below 1 ("0.05"); a bare number >= 1
 * is refused as ambiguous. 0, or -1 after printing why. */
int bench_parse_threshold(const char *cmd, const char *arg, double *out);
#endif
