/* `mgpt-bench sweep`: how the cost of a training step grows with width (n_embd, at a fixed
 * context) and with context (block_size, at a fixed width), per backend: ms/step, GFLOP/s
 * and % of the backend's FMA peak (peak.c), as a table, JSON and a log-log chart. Flat
 * ms/step on the chart is overhead; a slope of 1 per doubling of T is linear work; the
 * context line bending to a slope of 2 is attention's T^2. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench.h"
#include "chart.h"

static const char *const CMD = "sweep";
#define SWEEP_SCHEMA "mgpt-bench-sweep/1"
#define MAX_SIZES 64

static void usage(void)
{
    printf("Usage: mgpt-bench sweep [OPTION]...\n"
           "Time training steps over a range of widths and of context lengths on each backend:\n"
           "ms/step, GFLOP/s and %% of the backend's measured FMA peak against size, as a\n"
           "table, JSON and a log-log chart with a line per backend and axis.\n"
           "\n"
           "      --n-embd=LIST      widths, at --at-block-size (default 16,32,...,256)\n"
           "      --block-size=LIST  context lengths, at --at-n-embd (default 8,16,...,128)\n"
           "                         LIST: N,N,... where 'A,B,...,Z' continues A,B (doubling\n"
           "                         when B = 2A, else by B-A) up to Z; widths: multiples of 4\n"
           "      --at-n-embd=C      the width of the context sweep (default 64)\n"
           "      --at-block-size=T  the context of the width sweep (default 16)\n"
           "      --n-layer=L        layers (default 1)\n"
           "      --batch=B          documents per step, synthetic, every position real\n"
           "                         work (default 8)\n"
           "  -b, --backend=NAME[,NAME...]  these backends (default: $MGPT_BACKEND, else the\n"
           "                                best runnable one)\n"
           "  -a, --all-backends            every backend module found\n"
           "  -t, --threads=N        threads every backend runs on (default: one per core)\n"
           "      --repeats=N        timed runs per point; ms/step is their median (default 3)\n"
           "      --min-time=SEC     seconds per timed run (default 0.1)\n"
           "      --json=FILE        write the points as JSON\n"
           "      --chart=FILE       draw ms/step against size, log-log (.svg or .png)\n"
           "  -q, --quiet            no progress on stderr\n"
           "  -h, --help             display this help and exit\n"
           "\n"
           "%% of peak: GFLOP/s over the backend's peak_flops probe (the FMA chains\n"
           "mgpt-roofline times) on one thread, times the threads.\n"
           "\n"
           "Exit status: 0 on success; 1 if a point could not be measured or a file written;\n"
           "2 on a bad command line.\n");
}

/* "16,32,...,256" -> 16 32 64 128 256. n, or -1 after a message. */
static int parse_sizes(const char *opt, const char *arg, int step, int *v)
{
    int n = 0, ellipsis = 0;
    for (const char *p = arg; p;) {
        char word[32];
        if (tool_list_next(&p, word, sizeof word) != TOOL_ENTRY_OK)
            goto bad;
        if (strcmp(word, "...") == 0) {
            if (n < 2 || ellipsis)
                goto bad;
            ellipsis = 1;
            continue;
        }
        int x;
        if (tool_parse_int(word, 1, 65536, &x) != TOOL_NUMBER_OK || x % step != 0)
            goto bad;
        if (ellipsis) {
            int a = v[n - 2], b = v[n - 1];
            if (b <= a)
                goto bad;
            for (long y = b == 2 * a ? 2L * b : 2L * b - a; y < x && n < MAX_SIZES - 1;
                 y = b == 2 * a ? 2 * y : y + (b - a))
                v[n++] = (int)y;
            ellipsis = 0;
        }
        if (n >= MAX_SIZES)
            goto bad;
        v[n++] = x;
    }
    if (ellipsis || n == 0)
        goto bad;
    return n;
bad:
    tool_error(CMD, "--%s '%s' is not a list of sizes from 1 to 65536%s (e.g. 16,32,...,256; "
               "at most %d)", opt, arg, step > 1 ? ", multiples of 4" : "", MAX_SIZES);
    return -1;
}

typedef struct sweep_point {
    const char *backend;  /* into the backends list */
    const char *axis;     /* "n_embd" or "block_size" */
    int n_embd, block_size;
    double ms, gflops, percent_of_peak, tokens_per_s, flops;
} sweep_point;

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static int write_json(const char *path, const sweep_point *pt, int n, const tool_names *be,
                      const double *peaks, int L, int B, int at_c, int at_t, int threads)
{
    json_t *root = json_object();
    char stamp[32], commit[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    bench_find_commit(NULL, commit, sizeof commit);
    json_object_set_new(root, "schema", json_string(SWEEP_SCHEMA));
    json_object_set_new(root, "timestamp", json_string(stamp));
    if (commit[0])
        json_object_set_new(root, "commit", json_string(commit));
    json_object_set_new(root, "machine", bench_machine_json());
    json_object_set_new(root, "settings", json_pack("{s:i, s:i, s:i, s:i, s:i, s:i}",
        "n_layer", L, "n_head", 4, "batch", B, "at_n_embd", at_c, "at_block_size", at_t,
        "threads", threads));
    json_t *pk = json_object();
    for (int i = 0; i < be->n; i++)
        json_object_set_new(pk, be->v[i], peaks[i] > 0 ? json_real(peaks[i]) : json_null());
    json_object_set_new(root, "peak_gflops", pk);
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:i, s:i, s:o, s:o, s:o, s:o, s:o}",
            "backend", pt[i].backend, "axis", pt[i].axis, "n_embd", pt[i].n_embd,
            "block_size", pt[i].block_size, "ms_per_step", num(pt[i].ms),
            "gflops", num(pt[i].gflops), "percent_of_peak",
            pt[i].percent_of_peak > 0 ? num(pt[i].percent_of_peak) : json_null(),
            "tokens_per_s", num(pt[i].tokens_per_s), "flops_per_step", num(pt[i].flops)));
    json_object_set_new(root, "points", a);
    int rc = json_dump_file(root, path, JSON_INDENT(2));
    json_decref(root);
    if (rc != 0)
        tool_error(CMD, "cannot write '%s': %s", path, strerror(errno));
    return rc;
}

static int draw(const char *path, const sweep_point *pt, int n, const tool_names *be,
                int at_c, int at_t)
{
    char title[160], err[512];
    snprintf(title, sizeof title, "mgpt-bench sweep: ms/step (width at T=%d, context at "
             "C=%d)", at_t, at_c);
    chart *c = chart_new(title, "n_embd (width lines) or block size (context lines)",
                         "ms/step");
    int rc = c ? 0 : -1;
    if (c)
        chart_set_log(c, 1, 1);
    double *x = calloc((size_t)n + 1, sizeof *x), *y = calloc((size_t)n + 1, sizeof *y);
    for (int b = 0; rc == 0 && b < be->n; b++)
        for (int axis = 0; rc == 0 && axis < 2; axis++) {
            const char *an = axis ? "block_size" : "n_embd";
            int m = 0;
            for (int i = 0; x && y && i < n; i++)
                if (pt[i].backend == be->v[b] && strcmp(pt[i].axis, an) == 0) {
                    x[m] = axis ? pt[i].block_size : pt[i].n_embd;
                    y[m++] = pt[i].ms;
                }
            char name[96];
            snprintf(name, sizeof name, "%s %s", be->v[b], axis ? "context" : "width");
            if (!x || !y)
                rc = -1;
            else if (m > 0)
                rc = chart_add_line(c, name, m, x, y);
        }
    free(x), free(y);
    if (rc != 0) {
        tool_error(CMD, "out of memory");
    } else if (chart_write(c, path, err, sizeof err) != 0) {
        tool_error(CMD, "%s", err);
        rc = -1;
    }
    chart_free(c);
    return rc;
}

int cmd_sweep(int argc, char **argv)
{
    enum { OPT_EMBD = TOOL_OPT_OWN, OPT_BLOCK, OPT_AT_EMBD, OPT_AT_BLOCK, OPT_LAYER, OPT_BATCH,
           OPT_CHART };
    static const struct option longopts[] = {
        TOOL_MEASURE_OPTIONS,
        {"n-embd", required_argument, NULL, OPT_EMBD},
        {"block-size", required_argument, NULL, OPT_BLOCK},
        {"at-n-embd", required_argument, NULL, OPT_AT_EMBD},
        {"at-block-size", required_argument, NULL, OPT_AT_BLOCK},
        {"n-layer", required_argument, NULL, OPT_LAYER},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"chart", required_argument, NULL, OPT_CHART},
        {NULL, 0, NULL, 0},
    };
    int embd[MAX_SIZES] = {16, 32, 64, 128, 256}, blocks[MAX_SIZES] = {8, 16, 32, 64, 128};
    int n_embd = 5, n_block = 5, at_c = 64, at_t = 16, L = 1, B = 8, all = 0, c;
    bench_settings s = {.steps = 0, .warmup = 2, .repeats = 3, .min_time = 0.1};
    const char *json_path = NULL, *chart_path = NULL;
    tool_names named = {0}, backends = {0};
    mgpt_registry reg;
    int reg_loaded = 0, rc = BENCH_USAGE, n = 0;
    sweep_point *pt = NULL;
    double *peaks = NULL;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":b:at:qh", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_EMBD:
            if ((n_embd = parse_sizes("n-embd", optarg, 4, embd)) < 0)
                goto out;
            break;
        case OPT_BLOCK:
            if ((n_block = parse_sizes("block-size", optarg, 1, blocks)) < 0)
                goto out;
            break;
        case OPT_AT_EMBD:
            if (bench_parse_int(CMD, "at-n-embd", optarg, 4, 65536, &at_c) != 0)
                goto out;
            if (at_c % 4) {
                tool_error(CMD, "--at-n-embd %d is not a multiple of 4 (n_head)", at_c);
                goto out;
            }
            break;
        case OPT_AT_BLOCK:
            if (bench_parse_int(CMD, "at-block-size", optarg, 1, 65536, &at_t) != 0)
                goto out;
            break;
        case OPT_LAYER:
            if (bench_parse_int(CMD, "n-layer", optarg, 1, 64, &L) != 0)
                goto out;
            break;
        case OPT_BATCH:
            if (bench_parse_int(CMD, "batch", optarg, 1, 4096, &B) != 0)
                goto out;
            break;
        case 'b':
            if (bench_names_add_list(&named, CMD, "backend", optarg) != 0)
                goto out;
            break;
        case 'a':
            all = 1;
            break;
        case 't':
            if (bench_parse_int(CMD, "threads", optarg, 1, MGPT_MAX_THREADS, &s.threads) != 0)
                goto out;
            break;
        case TOOL_OPT_REPEATS:
            if (bench_parse_int(CMD, "repeats", optarg, 1, 1000, &s.repeats) != 0)
                goto out;
            break;
        case TOOL_OPT_MIN_TIME:
            if (bench_parse_double(CMD, "min-time", optarg, 0, 1, &s.min_time) != 0)
                goto out;
            break;
        case 'j':
            json_path = optarg;
            break;
        case OPT_CHART:
            chart_path = optarg;
            break;
        case 'q':
            s.quiet = 1;
            break;
        case 'h':
            usage();
            rc = BENCH_OK;
            goto out;
        default:
            rc = bench_bad_option(CMD, argv, longopts, c);
            goto out;
        }
    }
    if (tool_no_operands(CMD, argc, argv, optind) != 0)
        goto out;
    if (all && named.n) {
        tool_error(CMD, "--all-backends and --backend exclude each other (give one)");
        goto out;
    }
    char err[1200];
    if (mgpt_registry_load(&reg, NULL, stderr, err, sizeof err) < 0) {
        tool_error(CMD, "%s", err);
        goto out;
    }
    reg_loaded = 1;
    if ((rc = bench_choose_backends(CMD, &reg, all, &named, &backends)) != BENCH_OK)
        goto out;
    int per = n_embd + n_block;
    pt = calloc((size_t)(backends.n * per) + 1, sizeof *pt);
    peaks = calloc((size_t)backends.n + 1, sizeof *peaks);
    if (!pt || !peaks) {
        tool_error(CMD, "out of memory");
        rc = BENCH_FAIL;
        goto out;
    }
    int failures = 0, threads = s.threads;
    for (int b = 0; b < backends.n; b++) {
        mgpt_engine eng;
        memset(&eng, 0, sizeof eng);
        mgpt_engine_opts eo = {.backend = backends.v[b], .threads = s.threads};
        if (mgpt_engine_open(&eng, &eo, err, sizeof err) != MGPT_ENGINE_OK) {
            tool_warn(CMD, "skipping backend %s: %s", backends.v[b], err);
            continue;
        }
        threads = eng.threads;
        peaks[b] = bench_peak_gflops(&eng);
        bench_settings bs = s;
        bs.threads = eng.threads;
        for (int i = 0; i < per; i++) {
            sweep_point *p = &pt[n];
            p->backend = backends.v[b];
            p->axis = i < n_embd ? "n_embd" : "block_size";
            p->n_embd = i < n_embd ? embd[i] : at_c;
            p->block_size = i < n_embd ? at_t : blocks[i - n_embd];
            char config[64], label[128];
            snprintf(config, sizeof config, "e%d_L%d_b%d_B%d", p->n_embd, L, p->block_size, B);
            snprintf(label, sizeof label, "[%s %d/%d] %s", p->backend, i + 1, per, config);
            bench_result r;
            if (bench_measure(p->backend, &eng.compute, config, &bs, label, &r) != 0) {
                failures++;
                continue;
            }
            p->ms = r.ms_median;
            p->gflops = r.gflops;
            p->tokens_per_s = r.tokens_per_s;
            p->flops = r.flops_per_step;
            p->percent_of_peak = peaks[b] > 0 ? 100 * r.gflops / peaks[b] : 0;
            bench_result_free(&r);
            n++;
        }
        mgpt_engine_close(&eng);
    }
    printf("%-12s  %-10s  %6s  %5s  %10s  %9s  %8s\n", "backend", "axis", "n_embd", "T",
           "ms/step", "GFLOP/s", "% peak");
    for (int i = 0; i < n; i++) {
        char ms[32], pc[32] = "-", gf[32];
        bench_fmt_ms(ms, sizeof ms, pt[i].ms);
        tool_fmt_sig3(gf, sizeof gf, pt[i].gflops);
        if (pt[i].percent_of_peak > 0)
            snprintf(pc, sizeof pc, "%.1f", pt[i].percent_of_peak);
        printf("%-12s  %-10s  %6d  %5d  %10s  %9s  %8s\n", pt[i].backend, pt[i].axis,
               pt[i].n_embd, pt[i].block_size, ms, gf, pc);
    }
    for (int b = 0; b < backends.n; b++)
        if (peaks[b] > 0)
            printf("peak %s: %.1f GFLOP/s (%d thread%s)\n", backends.v[b], peaks[b], threads,
                   threads == 1 ? "" : "s");
    fflush(stdout);
    rc = n > 0 && failures == 0 ? BENCH_OK : BENCH_FAIL;
    if (n == 0)
        tool_error(CMD, "nothing was measured");
    if (json_path && write_json(json_path, pt, n, &backends, peaks, L, B, at_c, at_t,
                                threads) != 0)
        rc = BENCH_FAIL;
    if (chart_path && n > 0 && draw(chart_path, pt, n, &backends, at_c, at_t) != 0)
        rc = BENCH_FAIL;
out:
    free(pt);
    free(peaks);
    if (reg_loaded)
        mgpt_registry_free(&reg);
    tool_names_free(&named);
    tool_names_free(&backends);
    return rc;
}
