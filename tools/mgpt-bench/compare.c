/* `mgpt-bench compare BASE CURRENT`: matches the results of two JSON files by (backend,
 * config) and flags each whose median step time changed by more than the threshold:
 * slower is a regression (exit 1), faster an improvement. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "bench.h"

static const char *const CMD = "compare";

static void usage(void)
{
    printf("Usage: mgpt-bench compare [OPTION]... BASE.json CURRENT.json\n"
           "Compare two result files of 'mgpt-bench run --json': for each (backend, config)\n"
           "in both, the ratio of the median ms/step (current / base). A step slower by more\n"
           "than the threshold is a regression, faster by more an improvement.\n"
           "\n"
           "      --threshold=T    change that counts: a percent (5%%) or a fraction below 1\n"
           "                       (0.05); a bare number of 1 or more is refused as ambiguous\n"
           "                       (default 10%%)\n"
           "      --metric=M       the time compared: median (default) or min of the repeats;\n"
           "                       min is steadier on a machine shared with other work\n"
           "      --markdown=FILE  also write the comparison as a markdown report\n"
           "      --chart=FILE     also draw base and current as a chart (.svg or .png): a\n"
           "                       GFLOP/s line per (backend, config); the markdown report\n"
           "                       shows it (a link relative to the report's folder)\n"
           "  -h, --help           display this help and exit\n"
           "\n"
           "Exit status: 0 if no regression, 1 if any, 2 if a file cannot be read, is not\n"
           "valid JSON of 'mgpt-bench run', or the files have no (backend, config) in common.\n");
}

static bench_entry *find(bench_file *f, const char *backend, const char *config)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->e[i].backend, backend) == 0 && strcmp(f->e[i].config, config) == 0)
            return &f->e[i];
    return NULL;
}

static void print_table(const cmp_row *rows, int n, FILE *f)
{
    int wb = (int)strlen("backend"), wc = (int)strlen("config");
    for (int i = 0; i < n; i++) {
        int b = (int)strlen(rows[i].backend), c = (int)strlen(rows[i].config);
        wb = b > wb ? b : wb;
        wc = c > wc ? c : wc;
    }
    fprintf(f, "%-*s  %-*s  %12s  %15s  %7s  %8s  %s\n", wb, "backend", wc, "config",
            "base ms/step", "current ms/step", "ratio", "change", "status");
    for (int i = 0; i < n; i++) {
        const cmp_row *r = &rows[i];
        char b[32] = "-", c[32] = "-", ratio[32] = "-", ch[32] = "-";
        if (r->base_ms > 0)
            bench_fmt_ms(b, sizeof b, r->base_ms);
        if (r->cur_ms > 0)
            bench_fmt_ms(c, sizeof c, r->cur_ms);
        if (r->base_ms > 0 && r->cur_ms > 0) {
            snprintf(ratio, sizeof ratio, "%.3f", r->ratio);
            snprintf(ch, sizeof ch, "%+.1f%%", 100 * (r->ratio - 1));
        }
        fprintf(f, "%-*s  %-*s  %12s  %15s  %7s  %8s  %s\n", wb, r->backend, wc, r->config, b,
                c, ratio, ch, cmp_status_name(r->status));
    }
}

/* The command line of `compare`. */
typedef struct compare_args {
    double threshold;
    const char *md_path, *metric, *chart_path;
    const char *base_path, *cur_path;
} compare_args;

/* The command line into a: 1 to compare, else 0 with *rc the exit status. */
static int compare_parse(int argc, char **argv, compare_args *a, int *rc)
{
    enum { OPT_THRESHOLD = 256, OPT_MARKDOWN, OPT_METRIC, OPT_CHART };
    static const struct option longopts[] = {
        {"threshold", required_argument, NULL, OPT_THRESHOLD},
        {"markdown", required_argument, NULL, OPT_MARKDOWN},
        {"metric", required_argument, NULL, OPT_METRIC},
        {"chart", required_argument, NULL, OPT_CHART},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *a = (compare_args){.threshold = 0.10, .metric = "median"};
    int c;
    *rc = BENCH_USAGE;
    optind = 0; /* glibc: a full restart of getopt */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_THRESHOLD:
            if (bench_parse_threshold(CMD, optarg, &a->threshold) != 0) {
                tool_try_help(CMD);
                return 0;
            }
            break;
        case OPT_MARKDOWN:
            a->md_path = optarg;
            break;
        case OPT_CHART:
            a->chart_path = optarg;
            break;
        case OPT_METRIC:
            if (strcmp(optarg, "median") != 0 && strcmp(optarg, "min") != 0) {
                tool_error(CMD, "--metric '%s' is not median or min", optarg);
                tool_try_help(CMD);
                return 0;
            }
            a->metric = optarg;
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
    if (argc - optind != 2) {
        if (argc - optind < 2)
            tool_error(CMD, "expected two files, BASE.json and CURRENT.json (given %d)",
                       argc - optind);
        else
            tool_error(CMD, "expected two files, BASE.json and CURRENT.json; '%s' is one "
                       "too many", argv[optind + 2]);
        tool_try_help(CMD);
        return 0;
    }
    a->base_path = argv[optind];
    a->cur_path = argv[optind + 1];
    *rc = BENCH_OK;
    return 1;
}

int bench_compare_parse(int argc, char **argv, int *status)
{
    compare_args a;
    return compare_parse(argc, argv, &a, status);
}

int cmd_compare(int argc, char **argv)
{
    compare_args a;
    int rc;
    if (!compare_parse(argc, argv, &a, &rc))
        return rc;
    double threshold = a.threshold;
    const char *md_path = a.md_path, *metric = a.metric, *chart_path = a.chart_path;
    const char *base_path = a.base_path, *cur_path = a.cur_path;
    const char *key = strcmp(metric, "min") == 0 ? "ms_per_step_min" : "ms_per_step";
    bench_file base, cur;
    if (bench_read_json(CMD, base_path, key, &base) != 0)
        return BENCH_USAGE;
    if (bench_read_json(CMD, cur_path, key, &cur) != 0) {
        bench_file_free(&base);
        return BENCH_USAGE;
    }

    rc = BENCH_USAGE;
    cmp_row *rows = calloc((size_t)(base.n + cur.n) + 1, sizeof *rows);
    if (!rows) {
        tool_error(CMD, "out of memory");
        rc = BENCH_FAIL;
        goto out;
    }
    int n = 0, matched = 0, regressions = 0, improved = 0;
    for (int i = 0; i < base.n; i++) {
        bench_entry *b = &base.e[i], *k = find(&cur, b->backend, b->config);
        cmp_row *r = &rows[n++];
        r->backend = b->backend;
        r->config = b->config;
        r->base_ms = b->ms;
        if (!k) {
            r->status = CMP_ONLY_BASE;
            continue;
        }
        k->matched = 1;
        matched++;
        r->cur_ms = k->ms;
        r->ratio = k->ms / b->ms;
        if (r->ratio > 1 + threshold)
            r->status = CMP_REGRESSION, regressions++;
        else if (r->ratio < 1 - threshold)
            r->status = CMP_IMPROVED, improved++;
        else
            r->status = CMP_SAME;
    }
    for (int i = 0; i < cur.n; i++)
        if (!cur.e[i].matched)
            rows[n++] = (cmp_row){.backend = cur.e[i].backend, .config = cur.e[i].config,
                                  .cur_ms = cur.e[i].ms, .status = CMP_ONLY_CURRENT};
    if (matched == 0) {
        tool_error(CMD, "'%s' and '%s' have no (backend, config) in common: nothing to compare",
                   base_path, cur_path);
        goto out;
    }
    if (base.cpu_brand[0] && cur.cpu_brand[0] && strcmp(base.cpu_brand, cur.cpu_brand) != 0)
        tool_warn(CMD, "the files come from different CPUs ('%s' and '%s'): the ratios compare "
                  "machines as well as code", base.cpu_brand, cur.cpu_brand);
    if (base.threads && cur.threads && base.threads != cur.threads)
        tool_warn(CMD, "the files ran with different --threads (%d and %d)", base.threads,
                  cur.threads);

    print_table(rows, n, stdout);
    printf("\n%d compared (%s ms/step): %d regression%s, %d improvement%s (threshold %g%%)\n",
           matched, metric, regressions, regressions == 1 ? "" : "s", improved,
           improved == 1 ? "" : "s", 100 * threshold);
    fflush(stdout);
    rc = regressions ? BENCH_FAIL : BENCH_OK;
    if (chart_path) {
        const char *paths[2] = {base_path, cur_path};
        int crc = bench_chart_files(CMD, 2, paths, 0, chart_path);
        if (crc != BENCH_OK) {
            rc = crc;
            chart_path = NULL; /* not linked from the report */
        }
    }
    if (md_path) {
        FILE *f = fopen(md_path, "w");
        int w = f ? bench_write_compare_markdown(rows, n, threshold, metric, base_path, cur_path,
                                                  chart_path, f) : -1;
        if (f && fclose(f) != 0)
            w = -1;
        if (w != 0) {
            tool_error(CMD, "cannot write '%s': %s", md_path, strerror(errno));
            if (rc == BENCH_OK)
                rc = BENCH_FAIL;
        }
    }
    if (regressions)
        tool_error(CMD, "%d of %d compared (backend, config) pairs %s more than %g%% slower "
                   "than in '%s'", regressions, matched, regressions == 1 ? "is" : "are",
                   100 * threshold, base_path);
out:
    free(rows);
    bench_file_free(&base);
    bench_file_free(&cur);
    return rc;
}
