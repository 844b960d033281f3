/* `mgpt-bench generate`: the speed of generation, per config and backend, on a model of
 * random weights (seeded as `run` seeds its models), three ways in one run:
 *   cached        N tokens through the key/value cache (model/decode.h) from an empty
 *                 cache, the window's slides past the block included; per --batch S, S
 *                 sequences of N tokens at once (one pass per token of all S, as
 *                 `mgpt sample` draws a batch of samples), per token = time / (S N);
 *   full forward  the method before the cache, as mgpt_sample runs it: one forward pass of
 *                 the inference model over the whole block (the window, cropped to its last
 *                 block_size tokens, then BOS padding) per token;
 *   training      one forward pass of a full block of the training model at batch 1,
 *                 divided by block_size: the cost of one training position's forward.
 * The tokens fed are a fixed pseudo-random sequence (no sampler that could stop early),
 * so every repeat does the same work. A full forward costs the same for every token (the
 * whole block is computed each time), so when it would take longer than --full-time per
 * repeat it runs fewer tokens and its time per token is over those. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench.h"
#include "data/rng.h"
#include "data/tokenizer.h"
#include "model/decode.h"
#include "model/model.h"

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

static const char *const CMD = "generate";
#define GEN_SCHEMA "mgpt-bench-generate/1"
#define GEN_SEED 42                     /* the weights, as run's BENCH_SEED */
#define GEN_STREAM_TOKENS 0x67656eull   /* "gen": the fed tokens, apart from init */
#define GEN_TRAIN_TIME 0.05             /* seconds of training forwards per repeat, at least */
#define GEN_MAX_FORWARDS 100000
#define GEN_MAX_BATCHES 8
#define GEN_MAX_BATCH 256

static const char *const default_configs[] = {"e128_L4_b64", "e128_L4_b1024", NULL};

static void usage(void)
{
    printf("Usage: mgpt-bench generate [OPTION]...\n"
           "Time generation on a model of random weights, per config and backend: tokens/s\n"
           "through the key/value cache, tokens/s of one full forward pass of the block per\n"
           "token (the method before the cache, as 'mgpt train' still samples), and the cost\n"
           "of one training position's forward (a block's forward at batch 1 / block_size).\n"
           "\n"
           "  -b, --backend=NAME[,NAME...]  these backends (default: $MGPT_BACKEND, else the\n"
           "                                best runnable one)\n"
           "  -a, --all-backends            every backend module found\n"
           "  -c, --config=NAME[,NAME...]   configs e{n_embd}_L{n_layer}_b{block}, n_head 4,\n"
           "                                batch 1 (default: e128_L4_b64,e128_L4_b1024)\n"
           "      --tokens=N       tokens generated per repeat (default 512: past a block of\n"
           "                       64, so the cache's window slides)\n"
           "      --repeats=N      timed runs; the figures are their medians (default 5)\n"
           "      --full-time=SEC  at most about SEC seconds per repeat for the full-forward\n"
           "                       method: fewer tokens when N would take longer (default 2)\n"
           "      --batch=S[,S...] sequences generated at once through the cache, 1..%d,\n"
           "                       a row of the table each (default 1,16: one sample, and\n"
           "                       a batch of samples as mgpt sample draws them)\n"
           "  -t, --threads=N      threads every backend runs on, 1..%d (default: one per\n"
           "                       physical core)\n"
           "      --json=FILE      write machine, settings and results as JSON\n"
           "  -q, --quiet          no progress on stderr\n"
           "  -h, --help           display this help and exit\n"
           "\n"
           "Columns: cached and full tokens/s; 'full N' the tokens the full-forward method\n"
           "ran per repeat (marked * when fewer than --tokens); speed-up = full ms/token over\n"
           "cached ms/token; train ms/pos = a training block's forward / block_size; ratio =\n"
           "cached ms/token over train ms/pos; with batch S, cached ms/token is a pass's\n"
           "time over its S tokens. A warm-up pass precedes the timed repeats.\n"
           "\n"
           "Exit status: 0 on success; 1 if a measurement failed or a file could not be\n"
           "written; 2 on a bad command line.\n",
           GEN_MAX_BATCH, MGPT_MAX_THREADS);
}

/* --- the command line ------------------------------------------------------------------ */

typedef struct gen_args {
    tool_names named, configs;
    int all, threads, tokens, repeats, quiet;
    int batch[GEN_MAX_BATCHES], n_batch;
    double full_time;
    const char *json_path;
} gen_args;

static void gen_args_free(gen_args *a)
{
    tool_names_free(&a->named);
    tool_names_free(&a->configs);
}

/* --batch's list into a->batch: 1..GEN_MAX_BATCHES sizes, each 1..GEN_MAX_BATCH. */
static int parse_batches(const char *arg, gen_args *a)
{
    char buf[256], *save = NULL;
    snprintf(buf, sizeof buf, "%s", arg);
    a->n_batch = 0;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (a->n_batch == GEN_MAX_BATCHES) {
            tool_error(CMD, "--batch: at most %d sizes", GEN_MAX_BATCHES);
            tool_try_help(CMD);
            return -1;
        }
        if (bench_parse_int(CMD, "batch", t, 1, GEN_MAX_BATCH, &a->batch[a->n_batch]) != 0)
            return -1;
        a->n_batch++;
    }
    if (a->n_batch == 0) {
        tool_error(CMD, "--batch: give one size or more, 1..%d", GEN_MAX_BATCH);
        tool_try_help(CMD);
        return -1;
    }
    return 0;
}

/* 1 to run, else 0 with *rc the exit status; a is to be freed either way. */
static int gen_parse(int argc, char **argv, gen_args *a, int *rc)
{
    enum { OPT_TOKENS = TOOL_OPT_OWN, OPT_FULL_TIME, OPT_BATCH };
    static const struct option longopts[] = {
        {"backend", required_argument, NULL, 'b'},
        {"all-backends", no_argument, NULL, 'a'},
        {"config", required_argument, NULL, 'c'},
        {"threads", required_argument, NULL, 't'},
        {"repeats", required_argument, NULL, TOOL_OPT_REPEATS},
        {"tokens", required_argument, NULL, OPT_TOKENS},
        {"full-time", required_argument, NULL, OPT_FULL_TIME},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"json", required_argument, NULL, 'j'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *a = (gen_args){.tokens = 512, .repeats = 5, .full_time = 2.0, .batch = {1, 16},
                    .n_batch = 2};
    int c;
    *rc = BENCH_USAGE;
    optind = 0; /* glibc: a full restart of getopt */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":b:ac:t:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (bench_names_add_list(&a->named, CMD, "backend", optarg) != 0)
                return 0;
            break;
        case 'a':
            a->all = 1;
            break;
        case 'c':
            if (bench_names_add_list(&a->configs, CMD, "config", optarg) != 0)
                return 0;
            break;
        case 't':
            if (bench_parse_int(CMD, "threads", optarg, 1, MGPT_MAX_THREADS, &a->threads) != 0)
                return 0;
            break;
        case TOOL_OPT_REPEATS:
            if (bench_parse_int(CMD, "repeats", optarg, 1, 1000, &a->repeats) != 0)
                return 0;
            break;
        case OPT_TOKENS:
            if (bench_parse_int(CMD, "tokens", optarg, 1, 1000000, &a->tokens) != 0)
                return 0;
            break;
        case OPT_FULL_TIME:
            if (bench_parse_double(CMD, "full-time", optarg, 0, 1, &a->full_time) != 0)
                return 0;
            break;
        case OPT_BATCH:
            if (parse_batches(optarg, a) != 0)
                return 0;
            break;
        case 'j':
            a->json_path = optarg;
            break;
        case 'q':
            a->quiet = 1;
            break;
        case 'h':
            usage();
            *rc = BENCH_OK;
            return 0;
        default:
            *rc = bench_bad_option(CMD, argv, longopts, c);
            return 0;
        }
    }
    if (tool_no_operands(CMD, argc, argv, optind) != 0)
        return 0;
    *rc = bench_check_selection(CMD, a->all, &a->named, &a->configs, default_configs, 1);
    return *rc == BENCH_OK;
}

int bench_generate_parse(int argc, char **argv, int *status)
{
    gen_args a;
    int go = gen_parse(argc, argv, &a, status);
    gen_args_free(&a);
    return go;
}

/* --- one measurement ------------------------------------------------------------------- */

typedef struct gen_result {
    char backend[64], config[64];
    mgpt_config cfg;
    size_t params;
    int threads;
    int batch;                  /* sequences generated at once through the cache */
    int tokens;                 /* generated through the cache per repeat and sequence */
    int full_tokens;            /* run by the full-forward method per repeat (<= tokens) */
    int train_forwards;         /* training forwards per repeat */
    long cached_positions;      /* positions the cache encoded for them, slides included */
    double cached_ms, full_ms, train_ms;  /* medians: per token (of a pass's batch of
                                           * tokens), per token, per block */
    double cached_min, cached_max, full_min, full_max;
    double train_ms_per_position;
    double flops_full_forward;  /* the engine's count of one block's inference forward */
    double flops_train_position; /* a training block's forward / block_size */
} gen_result;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v and returns its median. */
static double median_sorted(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The positions the decoder encodes for n tokens from an empty cache of T: one each, and
 * T/2 again at every slide of the window (decode.h). */
static long cached_positions(int n, int T)
{
    long p = 0;
    for (int i = 0, len = 0; i < n; i++, len++, p++)
        if (len == T) {
            len = T / 2;
            p += len;
        }
    return p;
}

/* S sequences of n tokens (seq + s * n) through the cache from empty, one pass per token
 * of all S; the last logits' first value (to check). */
static float run_cached(mgpt_decoder *d, const int *seq, int n, int S, int *ids, int *tok)
{
    const float *logits = NULL;
    mgpt_decoder_reset(d);
    for (int s = 0; s < S; s++)
        ids[s] = s;
    for (int i = 0; i < n; i++) {
        for (int s = 0; s < S; s++)
            tok[s] = seq[(size_t)s * n + i];
        logits = mgpt_decoder_step_batch(d, ids, tok, S);
    }
    return logits[0];
}

/* Token i of seq by the full forward pass, as mgpt_sample does it: the window (the last
 * block_size tokens up to i) from position 0, BOS after it, the whole block computed. */
static float run_full(mgpt_model *m, const int *seq, int n)
{
    float v = 0;
    for (int i = 0; i < n; i++) {
        int from = i + 1 > m->T ? i + 1 - m->T : 0, w = i + 1 - from;
        for (int t = 0; t < m->T; t++) {
            m->tokens[t] = t < w ? seq[from + t] : MGPT_BOS;
            m->targets[t] = -1;
        }
        mgpt_model_forward(m);
        v = mgpt_model_logits(m, 0, w - 1)[0];
    }
    return v;
}

/* k forward passes of the training model (its tokens and targets set beforehand). */
static float run_train(mgpt_model *m, int k)
{
    float loss = 0;
    for (int i = 0; i < k; i++)
        loss = mgpt_model_forward(m);
    return loss;
}

/* How many runs of a thing that took dt seconds fill `budget` seconds: 1..max. */
static int fill(double budget, double dt, int max)
{
    double want = dt > 0 ? floor(budget / dt) : max;
    return want < 1 ? 1 : want > max ? max : (int)want;
}

/* One config on one backend: a result per --batch size into r[0 .. a->n_batch), the
 * full-forward and training figures the same in each. */
static int measure(const char *backend, const mgpt_compute *c, const char *config,
                   const gen_args *a, int threads, const char *progress, gen_result *r)
{
    char err[512];
    mgpt_config cfg = {.vocab_size = 27};
    int B, rc = -1, N = a->tokens, R = a->repeats, NB = a->n_batch, S = 1;
    if (mgpt_config_parse_name(config, &cfg, &B, err, sizeof err) != 0) {
        tool_error(CMD, "%s", err);
        return -1;
    }
    for (int j = 0; j < NB; j++)
        S = a->batch[j] > S ? a->batch[j] : S;
    int T = cfg.block_size, V = cfg.vocab_size;
    mgpt_model *train = mgpt_model_create(&cfg, 1, c, err, sizeof err), *infer = NULL;
    mgpt_decoder *d = NULL;
    if (train)
        infer = mgpt_model_create_for(&cfg, 1, T, MGPT_MODEL_INFER, c, err, sizeof err);
    if (infer)
        d = mgpt_decoder_create_batch(infer, c, S, err, sizeof err);
    int *seq = malloc((size_t)S * N * sizeof *seq), *ids = malloc((size_t)S * sizeof *ids);
    int *tok = malloc((size_t)S * sizeof *tok);
    double *cached = malloc((size_t)NB * R * sizeof *cached);
    double *full = malloc((size_t)R * sizeof *full), *tr = malloc((size_t)R * sizeof *tr);
    if (!d || !seq || !ids || !tok || !cached || !full || !tr) {
        tool_error(CMD, "%s on %s: %s", config, backend, d ? "out of memory" : err);
        goto done;
    }
    mgpt_model_init(train, GEN_SEED);
    mgpt_model_copy_params(infer, train);
    /* per sequence: BOS, then pseudo-random tokens that are not BOS */
    mgpt_rng rng;
    mgpt_rng_seed(&rng, GEN_SEED, GEN_STREAM_TOKENS);
    for (int s = 0; s < S; s++) {
        seq[(size_t)s * N] = MGPT_BOS;
        for (int i = 1; i < N; i++)
            seq[(size_t)s * N + i] = 1 + (int)mgpt_rng_below(&rng, (uint64_t)(V - 1));
    }
    /* the training block: the sequence's first T tokens (repeated if shorter), each
     * position's target the next one, all unmasked */
    for (int t = 0; t < T; t++) {
        train->tokens[t] = seq[t % N];
        train->targets[t] = seq[(t + 1) % N];
    }
    gen_result r0;
    memset(&r0, 0, sizeof r0);
    snprintf(r0.backend, sizeof r0.backend, "%s", backend);
    snprintf(r0.config, sizeof r0.config, "%s", config);
    r0.cfg = cfg;
    r0.params = train->num_floats;
    r0.threads = threads;
    r0.tokens = N;
    r0.cached_positions = cached_positions(N, T);
    r0.flops_full_forward = mgpt_graph_cost(&infer->graph, 0).flops;
    r0.flops_train_position = mgpt_graph_cost(&train->graph, 0).flops / T;

    /* warm-up: a cached pass of the largest batch; two full forwards and two training
     * forwards, the second of each timed to size the repeats */
    float check = run_cached(d, seq, N, S, ids, tok);
    run_full(infer, seq, 1);
    double t0 = now();
    check += run_full(infer, seq, 1);
    r0.full_tokens = fill(a->full_time, now() - t0, N);
    run_train(train, 1);
    t0 = now();
    check += run_train(train, 1);
    r0.train_forwards = fill(GEN_TRAIN_TIME, now() - t0, GEN_MAX_FORWARDS);
    if (!a->quiet && progress) {
        char sizes[GEN_MAX_BATCHES * 5] = "";
        for (int j = 0, at = 0; j < NB; j++)
            at += snprintf(sizes + at, sizeof sizes - (size_t)at, "%s%d", j ? "," : "",
                           a->batch[j]);
        bench_note("mgpt-bench: %s: %d repeat%s of %d tokens cached (batch %s), %d full "
                   "forward%s, %d training forward%s", progress, R, R == 1 ? "" : "s", N,
                   sizes, r0.full_tokens, r0.full_tokens == 1 ? "" : "s", r0.train_forwards,
                   r0.train_forwards == 1 ? "" : "s");
    }

    for (int i = 0; i < R; i++) {
        for (int j = 0; j < NB; j++) {
            t0 = now();
            check += run_cached(d, seq, N, a->batch[j], ids, tok);
            cached[(size_t)j * R + i] = 1e3 * (now() - t0) / ((double)N * a->batch[j]);
        }
        t0 = now();
        check += run_full(infer, seq, r0.full_tokens);
        full[i] = 1e3 * (now() - t0) / r0.full_tokens;
        t0 = now();
        check += run_train(train, r0.train_forwards);
        tr[i] = 1e3 * (now() - t0) / r0.train_forwards;
    }
    r0.full_ms = median_sorted(full, R);
    r0.full_min = full[0], r0.full_max = full[R - 1];
    r0.train_ms = median_sorted(tr, R);
    r0.train_ms_per_position = r0.train_ms / T;
    for (int j = 0; j < NB; j++) {
        double *v = cached + (size_t)j * R;
        r[j] = r0;
        r[j].batch = a->batch[j];
        r[j].cached_ms = median_sorted(v, R);
        r[j].cached_min = v[0], r[j].cached_max = v[R - 1];
    }
    if (!isfinite(check))
        tool_warn(CMD, "%s on %s: the logits or the loss are not finite: the backend computes "
                  "wrong numbers (timings kept)", config, backend);
    rc = 0;
done:
    free(seq);
    free(ids);
    free(tok);
    free(cached);
    free(full);
    free(tr);
    mgpt_decoder_free(d);
    if (infer)
        mgpt_model_free(infer);
    if (train)
        mgpt_model_free(train);
    return rc;
}

/* --- the table and the JSON ------------------------------------------------------------- */

static void print_table(const gen_result *v, int n, int tokens)
{
    int wb = (int)strlen("backend"), wc = (int)strlen("config"), fewer = 0;
    for (int i = 0; i < n; i++) {
        int b = (int)strlen(v[i].backend), c = (int)strlen(v[i].config);
        wb = b > wb ? b : wb;
        wc = c > wc ? c : wc;
    }
    printf("%-*s  %-*s  %7s  %5s  %6s  %12s  %12s  %7s  %9s  %13s  %13s  %7s\n", wb, "backend",
           wc, "config", "threads", "batch", "tokens", "cached tok/s", "full tok/s", "full N", "speed-up",
           "cached ms/tok", "train ms/pos", "ratio");
    for (int i = 0; i < n; i++) {
        const gen_result *r = &v[i];
        char ct[32], ft[32], su[32], cm[32], tm[32], ra[32], fn[32];
        tool_fmt_sig3(ct, sizeof ct, 1e3 / r->cached_ms);
        tool_fmt_sig3(ft, sizeof ft, 1e3 / r->full_ms);
        snprintf(su, sizeof su, "%.1fx", r->full_ms / r->cached_ms);
        bench_fmt_ms(cm, sizeof cm, r->cached_ms);
        bench_fmt_ms(tm, sizeof tm, r->train_ms_per_position);
        snprintf(ra, sizeof ra, "%.2f", r->cached_ms / r->train_ms_per_position);
        snprintf(fn, sizeof fn, "%d%s", r->full_tokens, r->full_tokens < tokens ? "*" : "");
        fewer |= r->full_tokens < tokens;
        printf("%-*s  %-*s  %7d  %5d  %6d  %12s  %12s  %7s  %9s  %13s  %13s  %7s\n", wb,
               r->backend, wc, r->config, r->threads, r->batch, r->tokens, ct, ft, fn, su, cm,
               tm, ra);
    }
    if (fewer)
        printf("* the full-forward method ran fewer tokens than --tokens within --full-time; "
               "its figures are per token over those (each costs a whole block)\n");
    fflush(stdout);
}

static json_t *real(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static int write_json(FILE *f, const gen_result *v, int n, const gen_args *a, int threads)
{
    json_t *root = json_object();
    char stamp[32], commit[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    bench_find_commit(NULL, commit, sizeof commit);
    json_object_set_new(root, "schema", json_string(GEN_SCHEMA));
    json_object_set_new(root, "mgpt_version", json_string(PACKAGE_VERSION));
    json_object_set_new(root, "timestamp", json_string(stamp));
    if (commit[0])
        json_object_set_new(root, "commit", json_string(commit));
    json_object_set_new(root, "machine", bench_machine_json());
    json_t *batches = json_array();
    for (int j = 0; j < a->n_batch; j++)
        json_array_append_new(batches, json_integer(a->batch[j]));
    json_object_set_new(root, "settings", json_pack("{s:i, s:i, s:i, s:f, s:i, s:o}", "tokens",
        a->tokens, "repeats", a->repeats, "threads", threads, "full_time", a->full_time,
        "seed", GEN_SEED, "batch", batches));
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        const gen_result *r = &v[i];
        json_t *o = json_object();
        json_object_set_new(o, "backend", json_string(r->backend));
        json_object_set_new(o, "config", json_string(r->config));
        json_object_set_new(o, "n_embd", json_integer(r->cfg.n_embd));
        json_object_set_new(o, "n_layer", json_integer(r->cfg.n_layer));
        json_object_set_new(o, "n_head", json_integer(r->cfg.n_head));
        json_object_set_new(o, "block_size", json_integer(r->cfg.block_size));
        json_object_set_new(o, "vocab_size", json_integer(r->cfg.vocab_size));
        json_object_set_new(o, "params", json_integer((json_int_t)r->params));
        json_object_set_new(o, "threads", json_integer(r->threads));
        json_object_set_new(o, "batch", json_integer(r->batch));
        json_object_set_new(o, "tokens", json_integer(r->tokens));
        json_object_set_new(o, "full_tokens", json_integer(r->full_tokens));
        json_object_set_new(o, "train_forwards", json_integer(r->train_forwards));
        json_object_set_new(o, "cached_positions", json_integer(r->cached_positions));
        json_object_set_new(o, "cached_tokens_per_s", real(1e3 / r->cached_ms));
        json_object_set_new(o, "cached_ms_per_token", real(r->cached_ms));
        json_object_set_new(o, "cached_ms_per_token_min", real(r->cached_min));
        json_object_set_new(o, "cached_ms_per_token_max", real(r->cached_max));
        json_object_set_new(o, "full_tokens_per_s", real(1e3 / r->full_ms));
        json_object_set_new(o, "full_ms_per_token", real(r->full_ms));
        json_object_set_new(o, "full_ms_per_token_min", real(r->full_min));
        json_object_set_new(o, "full_ms_per_token_max", real(r->full_max));
        json_object_set_new(o, "speedup", real(r->full_ms / r->cached_ms));
        json_object_set_new(o, "train_forward_ms", real(r->train_ms));
        json_object_set_new(o, "train_ms_per_position", real(r->train_ms_per_position));
        json_object_set_new(o, "cached_vs_train_position",
                            real(r->cached_ms / r->train_ms_per_position));
        json_object_set_new(o, "flops_full_forward", real(r->flops_full_forward));
        json_object_set_new(o, "flops_train_position", real(r->flops_train_position));
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "results", arr);
    int rc = json_dumpf(root, f, JSON_INDENT(2)) == 0 && fputc('\n', f) != EOF ? 0 : -1;
    json_decref(root);
    return rc;
}

/* --- the command ------------------------------------------------------------------------ */

int cmd_generate(int argc, char **argv)
{
    gen_args a;
    tool_names backends = {0};
    mgpt_registry reg;
    int reg_loaded = 0, rc, n = 0, failures = 0;
    gen_result *res = NULL;
    FILE *json_f = NULL;
    if (!gen_parse(argc, argv, &a, &rc))
        goto out;
    rc = BENCH_USAGE;
    char err[1200];
    if (mgpt_registry_load(&reg, NULL, stderr, err, sizeof err) < 0) {
        tool_error(CMD, "%s", err);
        goto out;
    }
    reg_loaded = 1;
    if ((rc = bench_choose_backends(CMD, &reg, a.all, &a.named, &backends)) != BENCH_OK)
        goto out;
    /* a bad path fails before the measurements, not after them */
    if (a.json_path && !(json_f = fopen(a.json_path, "w"))) {
        tool_error(CMD, "cannot write '%s': %s", a.json_path, strerror(errno));
        rc = BENCH_USAGE;
        goto out;
    }
    int total = backends.n * a.configs.n, done = 0, threads = a.threads;
    res = calloc((size_t)total * a.n_batch + 1, sizeof *res);
    if (!res) {
        tool_error(CMD, "out of memory");
        rc = BENCH_FAIL;
        goto out;
    }
    for (int b = 0; b < backends.n; b++) {
        mgpt_engine eng;
        memset(&eng, 0, sizeof eng);
        mgpt_engine_opts eo = {.backend = backends.v[b], .threads = a.threads};
        if (mgpt_engine_open(&eng, &eo, err, sizeof err) != MGPT_ENGINE_OK) {
            tool_warn(CMD, "skipping backend %s: %s", backends.v[b], err);
            done += a.configs.n;
            continue;
        }
        threads = eng.threads;
        for (int i = 0; i < a.configs.n; i++) {
            char label[200];
            snprintf(label, sizeof label, "[%d/%d] %s %s", ++done, total, backends.v[b],
                     a.configs.v[i]);
            if (measure(backends.v[b], &eng.compute, a.configs.v[i], &a, eng.threads, label,
                        &res[n]) != 0) {
                failures++;
                continue;
            }
            n += a.n_batch;
        }
        mgpt_engine_close(&eng);
    }
    if (n > 0)
        print_table(res, n, a.tokens);
    rc = BENCH_OK;
    if (json_f) {
        int w = write_json(json_f, res, n, &a, threads);
        if (fclose(json_f) != 0)
            w = -1;
        json_f = NULL;
        if (w != 0) {
            tool_error(CMD, "writing '%s' failed: %s", a.json_path, strerror(errno));
            rc = BENCH_FAIL;
        }
    }
    if (n == 0) {
        tool_error(CMD, "nothing was measured");
        rc = BENCH_FAIL;
    } else if (failures) {
        tool_error(CMD, "%d of %d measurements failed (see above)", failures, total);
        rc = BENCH_FAIL;
    }
out:
    if (json_f)
        fclose(json_f);
    free(res);
    if (reg_loaded)
        mgpt_registry_free(&reg);
    tool_names_free(&backends);
    gen_args_free(&a);
    return rc;
}
