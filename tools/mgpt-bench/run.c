/* `mgpt-bench run`: for each selected backend that this CPU can run, and each selected
 * config, one measurement (measure.c); then the table on stdout and the JSON and markdown
 * files. Progress goes to stderr. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench.h"
#include "model/model.h"
#include "platform/cpu.h"

static const char *const CMD = "run";

static void usage(void)
{
    printf("Usage: mgpt-bench run [OPTION]...\n"
           "Time training steps (batch fill, forward, backward, Adam, as 'mgpt train' does)\n"
           "of benchmark configs on one or more backends, and report ms/step, tokens/s and\n"
           "GFLOP/s. Backends this CPU cannot run are skipped, saying why.\n"
           "\n"
           "What to measure:\n"
           "  -b, --backend=NAME[,NAME...]  these backends (default: $MGPT_BACKEND, else the\n"
           "                                best runnable one)\n"
           "  -a, --all-backends            every backend module found\n"
           "  -c, --config=NAME[,NAME...]   configs e{n_embd}_L{n_layer}_b{block}[_B{docs}],\n"
           "                                n_head 4, e.g. e64_L2_b16 or e128_L4_b16_B32\n"
           "      --seed-configs            the seed's six configs (the default when no\n"
           "                                config is named): ");
    for (int i = 0; mgpt_seed_configs[i]; i++)
        printf("%s%s", i ? " " : "", mgpt_seed_configs[i]);
    printf("\n      --batched-configs         the batched throughput configs: ");
    for (int i = 0; mgpt_batched_configs[i]; i++)
        printf("%s%s", i ? " " : "", mgpt_batched_configs[i]);
    printf("\n"
           "\n"
           "How long:\n"
           "      --warmup=N       untimed steps before timing (default 3)\n"
           "      --repeats=N      timed runs; ms/step is their median (default 5)\n"
           "      --steps=N        steps per timed run (default: auto, calibrated so that a\n"
           "                       run takes about --min-time)\n"
           "      --min-time=SEC   seconds per timed run with automatic steps (default 0.25)\n"
           "  -t, --threads=N      threads every backend runs on, 1..%d (default: one per\n"
           "                       physical core)\n"
           "\n"
           "Output:\n"
           "      --json=FILE      write machine, settings and results as JSON (for compare)\n"
           "      --markdown=FILE  write a markdown report\n"
           "      --commit=ID      the code's commit in the JSON (default: 'git rev-parse\n"
           "                       --short HEAD' in the working folder, if any); chart's\n"
           "                       trend lines label each file with it\n"
           "  -q, --quiet          no progress on stderr\n"
           "  -h, --help           display this help and exit\n"
           "\n"
           "Configs without _B train one names document per step, as the seed's benchmarks\n"
           "did; _B configs train on synthetic documents longer than the block, so every\n"
           "position is real work. tokens/s counts unmasked targets; GFLOP/s counts every\n"
           "position's work (padding too) plus Adam, as mgpt train does (man mgpt-bench,\n"
           "FIGURES).\n",
           MGPT_MAX_THREADS);
}

/* --- choosing the backends ------------------------------------------------------------ */

static int by_priority(const void *a, const void *b)
{
    const mgpt_backend_entry *x = *(const mgpt_backend_entry *const *)a;
    const mgpt_backend_entry *y = *(const mgpt_backend_entry *const *)b;
    if (x->desc->priority != y->desc->priority)
        return x->desc->priority < y->desc->priority ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Fills out with the backends to measure: named ones (each must exist), every module
 * (slowest first, by priority), or the default one (MGPT_BACKEND, else the best). The
 * registry here is a listing (descriptors only), so that a misspelt name fails before
 * anything is measured; each backend is then opened by its own engine. BENCH_OK or the
 * exit status. */
int bench_choose_backends(const char *cmd, const mgpt_registry *reg, int all,
                          const tool_names *named, tool_names *out)
{
    char avail[512];
    mgpt_registry_names(reg, avail, sizeof avail);
    if (all) {
        const mgpt_backend_entry *v[256];
        int n = 0;
        for (int i = 0; i < reg->n && n < 256; i++)
            if (reg->entries[i].desc)
                v[n++] = &reg->entries[i];
        if (n == 0) {
            tool_error(cmd, "no usable backend modules (mgpt_NAME.so) found in %s; set "
                       "MGPT_PLUGIN_PATH to the folder that holds them",
                       reg->searched[0] ? reg->searched : "(empty search path)");
            return BENCH_FAIL;
        }
        qsort(v, (size_t)n, sizeof v[0], by_priority);
        for (int i = 0; i < n; i++)
            if (tool_names_add(out, v[i]->name) != 0)
                return BENCH_FAIL;
        return BENCH_OK;
    }
    if (named->n == 0) {
        /* core's choice, as mgpt makes it: MGPT_BACKEND (core reads it), else the best */
        const mgpt_backend_entry *e;
        char why[1200];
        int rc = mgpt_registry_select(reg, NULL, &e, why, sizeof why);
        if (rc == 2) {
            tool_error(cmd, "%s", why);
            return BENCH_USAGE;
        }
        if (rc != 0) {
            tool_error(cmd, "no backend in %s can run on this CPU (modules found: %s)",
                       reg->searched[0] ? reg->searched : "(empty search path)", avail);
            return BENCH_FAIL;
        }
        return tool_names_add(out, e->name) != 0 ? BENCH_FAIL : BENCH_OK;
    }
    for (int i = 0; i < named->n; i++) {
        if (!mgpt_registry_find(reg, named->v[i])) {
            tool_error(cmd, "unknown backend '%s' (available: %s)", named->v[i], avail);
            return BENCH_USAGE;
        }
        if (tool_names_add(out, named->v[i]) != 0)
            return BENCH_FAIL;
    }
    return BENCH_OK;
}

/* "this CPU lacks avx512f", "MGPT_CPU_DISABLE masks avx2", or both. */
static void not_runnable_reason(const mgpt_registry *reg, uint32_t missing, char *buf,
                                size_t len)
{
    char lacks[160], masked[160];
    uint32_t by_user = missing & reg->cpu_masked, by_cpu = missing & ~reg->cpu_masked;
    mgpt_cpu_feature_names(by_cpu, lacks, sizeof lacks);
    mgpt_cpu_feature_names(by_user, masked, sizeof masked);
    if (by_cpu && by_user)
        snprintf(buf, len, "this CPU lacks %s, and MGPT_CPU_DISABLE masks %s", lacks, masked);
    else if (by_user)
        snprintf(buf, len, "MGPT_CPU_DISABLE masks %s, which it needs", masked);
    else
        snprintf(buf, len, "this CPU lacks %s", lacks);
}

/* --- the run's bookkeeping ------------------------------------------------------------ */

static int add_result(bench_run *run, const bench_result *r)
{
    if (run->n == run->cap) {
        int cap = run->cap ? 2 * run->cap : 16;
        bench_result *v = realloc(run->results, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        run->results = v;
        run->cap = cap;
    }
    run->results[run->n++] = *r;
    return 0;
}

static void add_skip(bench_run *run, const char *backend, const char *reason)
{
    tool_warn(CMD, "skipping backend %s: %s", backend, reason);
    if (run->n_skipped == run->cap_skipped) {
        int cap = run->cap_skipped ? 2 * run->cap_skipped : 8;
        bench_skip *v = realloc(run->skipped, (size_t)cap * sizeof *v);
        if (!v)
            return;
        run->skipped = v;
        run->cap_skipped = cap;
    }
    bench_skip *s = &run->skipped[run->n_skipped++];
    snprintf(s->backend, sizeof s->backend, "%s", backend);
    snprintf(s->reason, sizeof s->reason, "%s", reason);
}

static void run_free(bench_run *run)
{
    for (int i = 0; i < run->n; i++)
        bench_result_free(&run->results[i]);
    free(run->results);
    free(run->skipped);
    memset(run, 0, sizeof *run);
}

/* --- the table ------------------------------------------------------------------------ */

static void print_table(const bench_run *run, FILE *f)
{
    int wb = (int)strlen("backend"), wc = (int)strlen("config");
    for (int i = 0; i < run->n; i++) {
        int b = (int)strlen(run->results[i].backend), c = (int)strlen(run->results[i].config);
        wb = b > wb ? b : wb;
        wc = c > wc ? c : wc;
    }
    fprintf(f, "%-*s  %-*s  %11s  %3s  %3s  %7s  %8s  %9s  %9s  %9s  %12s  %8s  %9s\n", wb,
            "backend", wc, "config", "params", "B", "T", "threads", "steps", "ms/step", "min",
            "max", "tokens/s", "GFLOP/s", "vs scalar");
    for (int i = 0; i < run->n; i++) {
        const bench_result *r = &run->results[i];
        bench_cells c;
        bench_result_cells(run, r, &c);
        fprintf(f, "%-*s  %-*s  %11s  %3d  %3d  %7d  %8d  %9s  %9s  %9s  %12s  %8s  %9s\n",
                wb, r->backend, wc, r->config, c.params, r->batch, r->cfg.block_size,
                r->threads, r->steps, c.ms, c.ms_min, c.ms_max, c.tokens_per_s, c.gflops,
                c.vs_scalar);
    }
    fflush(f);
}

/* Opens an output file before the (long) run, so that a bad path fails at once. */
static FILE *open_output(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        tool_error(CMD, "cannot write '%s': %s", path, strerror(errno));
    return f;
}

static int close_output(FILE *f, const char *path, int write_rc)
{
    int rc = write_rc;
    if (fclose(f) != 0)
        rc = -1;
    if (rc != 0)
        tool_error(CMD, "writing '%s' failed: %s", path, strerror(errno));
    return rc;
}

/* The command line of `run`. */
typedef struct run_args {
    bench_settings s;
    tool_names named, configs;      /* --backend names; the configs (default: the seed's) */
    const char *json_path, *md_path, *commit;
    int all;
} run_args;

static void run_args_free(run_args *a)
{
    tool_names_free(&a->named);
    tool_names_free(&a->configs);
}

/* The command line into a, every config name checked: 1 to run, else 0 with *rc the exit
 * status. a is to be freed either way. */
static int run_parse(int argc, char **argv, run_args *a, int *rc)
{
    enum { OPT_SEED = TOOL_OPT_OWN, OPT_BATCHED, OPT_STEPS, OPT_WARMUP, OPT_MARKDOWN,
           OPT_COMMIT };
    static const struct option longopts[] = {
        TOOL_MEASURE_OPTIONS,
        {"seed-configs", no_argument, NULL, OPT_SEED},
        {"batched-configs", no_argument, NULL, OPT_BATCHED},
        {"steps", required_argument, NULL, OPT_STEPS},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"markdown", required_argument, NULL, OPT_MARKDOWN},
        {"commit", required_argument, NULL, OPT_COMMIT},
        {NULL, 0, NULL, 0},
    };
    *a = (run_args){.s = {.steps = 0, .warmup = 3, .repeats = 5, .min_time = 0.25, .threads = 0}};
    bench_settings *s = &a->s;
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
        case OPT_SEED:
        case OPT_BATCHED:
            for (const char *const *p = c == OPT_SEED ? mgpt_seed_configs : mgpt_batched_configs;
                 *p; p++)
                if (tool_names_add(&a->configs, *p) != 0)
                    goto oom;
            break;
        case OPT_STEPS:
            if (strcmp(optarg, "auto") == 0)
                s->steps = 0;
            else if (bench_parse_int(CMD, "steps", optarg, 1, 10000000, &s->steps) != 0)
                return 0;
            break;
        case OPT_WARMUP:
            if (bench_parse_int(CMD, "warmup", optarg, 0, 1000000, &s->warmup) != 0)
                return 0;
            break;
        case TOOL_OPT_REPEATS:
            if (bench_parse_int(CMD, "repeats", optarg, 1, 1000, &s->repeats) != 0)
                return 0;
            break;
        case TOOL_OPT_MIN_TIME:
            if (bench_parse_double(CMD, "min-time", optarg, 0, 1, &s->min_time) != 0)
                return 0;
            break;
        case 't':
            if (bench_parse_int(CMD, "threads", optarg, 1, MGPT_MAX_THREADS, &s->threads) != 0)
                return 0;
            break;
        case 'j': /* --json (no -j here) */
            a->json_path = optarg;
            break;
        case OPT_MARKDOWN:
            a->md_path = optarg;
            break;
        case OPT_COMMIT:
            a->commit = optarg;
            break;
        case 'q':
            s->quiet = 1;
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
    *rc = bench_check_selection(CMD, a->all, &a->named, &a->configs, mgpt_seed_configs, 0);
    return *rc == BENCH_OK;
oom:
    tool_error(CMD, "out of memory");
    *rc = BENCH_FAIL;
    return 0;
}

int bench_run_parse(int argc, char **argv, int *status)
{
    run_args a;
    int go = run_parse(argc, argv, &a, status);
    run_args_free(&a);
    return go;
}

int cmd_run(int argc, char **argv)
{
    run_args a;
    tool_names backends = {0};
    int rc, all;
    FILE *json_f = NULL, *md_f = NULL;
    mgpt_registry reg;
    int reg_loaded = 0;
    bench_run run = {0};
    if (!run_parse(argc, argv, &a, &rc)) {
        run_args_free(&a);
        return rc;
    }
    bench_settings s = a.s;
    tool_names named = a.named, configs = a.configs;
    const char *json_path = a.json_path, *md_path = a.md_path;
    all = a.all;
    rc = BENCH_USAGE;
    char err[1200];
    /* the listing: names checked up front, rejected modules reported once (the engines
     * below load the registry again, quietly) */
    if (mgpt_registry_load(&reg, NULL, stderr, err, sizeof err) < 0) {
        tool_error(CMD, "%s", err); /* MGPT_CPU_DISABLE names an unknown feature */
        goto out;
    }
    reg_loaded = 1;
    rc = bench_choose_backends(CMD, &reg, all, &named, &backends);
    if (rc != BENCH_OK)
        goto out;
    rc = BENCH_USAGE;
    if ((json_path && !(json_f = open_output(json_path))) ||
        (md_path && !(md_f = open_output(md_path))))
        goto out;

    run.settings = s;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(run.timestamp, sizeof run.timestamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    bench_find_commit(a.commit, run.commit, sizeof run.commit);

    int failures = 0, done = 0, total = backends.n * configs.n, noted = 0;
    for (int b = 0; b < backends.n; b++) {
        const char *name = backends.v[b];
        const mgpt_backend_entry *e = mgpt_registry_find(&reg, name);
        if (e && e->status == MGPT_BE_NOT_RUNNABLE) {
            char why[512];
            not_runnable_reason(&reg, e->missing, why, sizeof why);
            add_skip(&run, name, why);
            done += configs.n;
            continue;
        }
        /* any backend runs on --threads threads: the engine's threading layer */
        mgpt_engine eng;
        memset(&eng, 0, sizeof eng);
        mgpt_engine_opts eo = {.backend = name, .threads = s.threads, .warn = NULL};
        int erc = mgpt_engine_open(&eng, &eo, err, sizeof err);
        if (erc == MGPT_ENGINE_USAGE && e && e->status == MGPT_BE_RUNNABLE) {
            /* not the backend's fault (--threads, MGPT_THREAD_SPLIT): none would run */
            tool_error(CMD, "%s", err);
            goto out;
        }
        if (erc != MGPT_ENGINE_OK) {
            add_skip(&run, name, err);
            done += configs.n;
            continue;
        }
        /* the default thread count is the engine's (one per physical core, 1 without
         * OpenMP): the settings record the count the first engine chose */
        if (!noted) {
            if (s.threads == 0)
                run.settings.threads = eng.threads;
            if (!s.quiet) {
                char machine[256];
                int n = run.settings.threads;
                bench_machine_describe(machine, sizeof machine);
                bench_note("mgpt-bench: %s; %d thread%s; %d backend%s x %d config%s", machine,
                           n, n == 1 ? "" : "s", backends.n, backends.n == 1 ? "" : "s",
                           configs.n, configs.n == 1 ? "" : "s");
            }
            noted = 1;
        }
        bench_settings bs = s;
        bs.threads = eng.threads;
        for (int i = 0; i < configs.n; i++) {
            char label[200];
            snprintf(label, sizeof label, "[%d/%d] %s %s", ++done, total, name, configs.v[i]);
            bench_result r;
            if (bench_measure(name, &eng.compute, configs.v[i], &bs, label, &r) != 0) {
                failures++;
                continue;
            }
            if (add_result(&run, &r) != 0) {
                bench_result_free(&r);
                mgpt_engine_close(&eng);
                goto oom;
            }
            if (!s.quiet) {
                char med[32], gf[32];
                bench_fmt_ms(med, sizeof med, r.ms_median);
                tool_fmt_sig3(gf, sizeof gf, r.gflops);
                bench_note("mgpt-bench: %s: %s ms/step, %s GFLOP/s", label, med, gf);
            }
        }
        mgpt_engine_close(&eng);
    }

    if (run.n > 0)
        print_table(&run, stdout);
    rc = BENCH_OK;
    if (json_f) {
        int w = close_output(json_f, json_path, bench_write_json(&run, json_f));
        json_f = NULL;
        if (w != 0)
            rc = BENCH_FAIL;
    }
    if (md_f) {
        int w = close_output(md_f, md_path, bench_write_run_markdown(&run, md_f));
        md_f = NULL;
        if (w != 0)
            rc = BENCH_FAIL;
    }
    if (run.n == 0) {
        tool_error(CMD, "nothing was measured (%d backend%s skipped)", run.n_skipped,
                   run.n_skipped == 1 ? "" : "s");
        rc = BENCH_FAIL;
    } else if (failures) {
        tool_error(CMD, "%d of %d measurements failed (see above)", failures, total);
        rc = BENCH_FAIL;
    }
    goto out;

oom:
    tool_error(CMD, "out of memory");
    rc = BENCH_FAIL;
out:
    if (json_f)
        fclose(json_f);
    if (md_f)
        fclose(md_f);
    run_free(&run);
    if (reg_loaded)
        mgpt_registry_free(&reg);
    tool_names_free(&named);
    tool_names_free(&configs);
    tool_names_free(&backends);
    return rc;
}
