/* The command line: getopt_long, --help, --version, and what is wrong with a bad option. */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "roofline.h"

int roof_quiet;

void roof_progress(const char *fmt, ...)
{
    if (roof_quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    tool_vmessage(NULL, "", fmt, ap);
    va_end(ap);
}

static void usage(FILE *f)
{
    fputs(
"Usage: mgpt-roofline [OPTION]...\n"
"Measure this machine's compute and bandwidth ceilings with each backend's own probes\n"
"(peak FLOP chains; read, read+write, write and 2-reads+write streams over working\n"
"sets from 4 KiB to past the last cache, whose plateaus are the memory levels), show\n"
"the datasheet peaks beside them, and place every kernel of a model config against\n"
"them, each at the level its footprint (the bytes it touches) fits.\n"
"\n"
"Backends (default: the one mgpt would choose, or MGPT_BACKEND):\n"
"  -a, --all-backends     every backend this CPU can run\n"
"  -b, --backend=NAME     this backend (repeat or separate with commas)\n"
"\n"
"What to measure:\n"
"  -c, --config=NAME      model config whose kernels are placed, e{C}_L{layers}_b{T}[_B{docs}]\n"
"                         (default e64_L2_b16; repeat or separate with commas; 'seed' and\n"
"                         'batched' stand for the benchmark's config lists)\n"
"  -t, --threads=N        threads for the all-cores ceilings, one bound per physical core\n"
"                         (default: every physical core); given, every backend's kernels\n"
"                         also run on the engine's N threads: a kernel it splits is placed\n"
"                         against the all-cores ceilings, one kept on one thread (small\n"
"                         calls) against the 1-thread ones; without it, all on one\n"
"      --no-kernels       ceilings only\n"
"      --repeats=N        timed repeats per measurement, the fastest reported (default 7)\n"
"      --min-time=SECONDS length of one timed repeat (default 0.02)\n"
"      --dram-size=SIZE   where the bandwidth curves end, in all, e.g. 512M or 2G (default:\n"
"                         4 x L3 or 1 GiB, whichever is larger, at most half the free memory)\n"
"      --quick            rough numbers fast (3 repeats of 2 ms, 64 MiB DRAM set): for\n"
"                         tests and smoke runs, not for conclusions\n"
"\n"
"Output (a table on standard output; progress on standard error):\n"
"  -j, --json=FILE        also write everything as JSON ('-' for standard output)\n"
"  -s, --svg=FILE         also draw the roofline chart as SVG, with the bandwidth curves\n"
"  -q, --quiet            no progress messages\n"
"  -h, --help             show this help and exit\n"
"  -V, --version          show the version and exit\n"
"\n"
"Exit status: 0 success, 1 a measurement or a write failed, 2 bad usage (including a\n"
"backend this CPU cannot run).\n"
"Environment: MGPT_PLUGIN_PATH, MGPT_BACKEND, MGPT_CPU_DISABLE, MGPT_THREAD_SPLIT\n"
"(see mgpt(1)).\n",
        f);
}

static int parse_int(const char *opt, const char *arg, long lo, long hi, int *out)
{
    if (tool_parse_int(arg, lo, hi, out) == TOOL_NUMBER_OK)
        return 0;
    tool_error(NULL, "%s '%s': expected an integer from %ld to %ld", opt, arg, lo, hi);
    return -1;
}

/* A value parse_int does not cover: says what was expected, returns ROOF_USAGE. */
static int refuse(const char *opt, const char *arg, const char *expected)
{
    tool_error(NULL, "%s '%s': expected %s", opt, arg, expected);
    return ROOF_USAGE;
}

/* Comma-separated entries; each config name is checked here so that a typo costs nothing. */
static int add_list(tool_names *l, const char *opt, const char *arg, int configs)
{
    for (const char *p = arg; p;) {
        char name[128];
        tool_entry_status st = tool_list_next(&p, name, sizeof name);
        if (st != TOOL_ENTRY_OK) {
            tool_error(NULL, "%s '%s': %s", opt, arg,
                       st == TOOL_ENTRY_EMPTY ? "an empty name in the list" : "a name is too long");
            return -1;
        }
        if (configs && (strcmp(name, "seed") == 0 || strcmp(name, "batched") == 0)) {
            const char *const *list = name[0] == 's' ? mgpt_seed_configs : mgpt_batched_configs;
            for (int i = 0; list[i]; i++)
                if (tool_names_add(l, list[i]) != 0)
                    return -1;
            continue;
        }
        if (configs) {
            mgpt_config cfg = {0};
            int batch;
            char err[300];
            mgpt_model_plan plan;
            if (mgpt_config_parse_name(name, &cfg, &batch, err, sizeof err) != 0) {
                tool_error(NULL, "%s: %s", opt, err);
                return -1;
            }
            /* its model must fit: refused before any ceiling is measured */
            if (mgpt_model_plan_for(&cfg, batch, cfg.block_size, MGPT_MODEL_TRAIN, &plan, err,
                                    sizeof err) != 0 ||
                mgpt_model_budget(&plan, err, sizeof err) != 0) {
                tool_error(NULL, "%s %s: %s", opt, name, err);
                return -1;
            }
        }
        if (tool_names_add(l, name) != 0)
            return -1;
    }
    return 0;
}

enum { OPT_DRAM_SIZE = TOOL_OPT_OWN, OPT_NO_KERNELS, OPT_QUICK };

int roof_parse_options(int argc, char **argv, roof_options *o)
{
    static const struct option longopts[] = {
        TOOL_MEASURE_OPTIONS,
        {"svg", required_argument, NULL, 's'},
        {"dram-size", required_argument, NULL, OPT_DRAM_SIZE},
        {"no-kernels", no_argument, NULL, OPT_NO_KERNELS},
        {"quick", no_argument, NULL, OPT_QUICK},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->repeats = 7;
    o->min_time = 0.02;
    int repeats_set = 0, min_time_set = 0;
    opterr = 0;
    optind = 0; /* glibc: a full restart, even after a parse that stopped inside "-hq" */
    int c;
    while ((c = getopt_long(argc, argv, ":ab:c:t:j:s:qhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'a':
            o->all_backends = 1;
            break;
        case 'b':
            if (add_list(&o->backends, "--backend", optarg, 0) != 0)
                return ROOF_USAGE;
            break;
        case 'c':
            if (add_list(&o->configs, "--config", optarg, 1) != 0)
                return ROOF_USAGE;
            break;
        case 't':
            if (parse_int("--threads", optarg, 1, ROOF_MAX_THREADS, &o->threads) != 0)
                return ROOF_USAGE;
            break;
        case 'j':
            o->json_path = optarg;
            break;
        case 's':
            o->svg_path = optarg;
            break;
        case TOOL_OPT_REPEATS:
            if (parse_int("--repeats", optarg, 1, 1000, &o->repeats) != 0)
                return ROOF_USAGE;
            repeats_set = 1;
            break;
        case TOOL_OPT_MIN_TIME:
            if (tool_parse_double(optarg, 0, 60, 1, 0, &o->min_time) != TOOL_NUMBER_OK)
                return refuse("--min-time", optarg, "a number of seconds above 0 and at most 60");
            min_time_set = 1;
            break;
        case OPT_DRAM_SIZE:
            if (tool_parse_size(optarg, 1048576.0, 1024.0 * 1024 * 1024 * 1024,
                                &o->dram_bytes) != TOOL_NUMBER_OK)
                return refuse("--dram-size", optarg, "a size from 1M to 1024G, like 512M or 2G");
            o->dram_size_given = 1;
            break;
        case OPT_NO_KERNELS:
            o->no_kernels = 1;
            break;
        case OPT_QUICK:
            o->quick = 1;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return ROOF_EXIT_EARLY;
        case 'V':
            printf("mgpt-roofline (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
            return ROOF_EXIT_EARLY;
        case ':':
            if (strncmp(argv[optind - 1], "--", 2) == 0)
                tool_error(NULL, "option '%s' needs a value", argv[optind - 1]);
            else
                tool_error(NULL, "option '-%c' needs a value", optopt);
            tool_try_help(NULL);
            return ROOF_USAGE;
        default:
            if (optopt && optopt < 256)
                tool_error(NULL, "unknown option '-%c'", optopt);
            else
                tool_error(NULL, "unknown option '%s'", argv[optind - 1]);
            tool_try_help(NULL);
            return ROOF_USAGE;
        }
    }
    if (optind < argc) {
        tool_error(NULL, "unexpected argument '%s' (this program takes options only)",
                   argv[optind]);
        tool_try_help(NULL);
        return ROOF_USAGE;
    }
    if (o->all_backends && o->backends.n) {
        tool_error(NULL, "--all-backends and --backend exclude each other: give one of them");
        tool_try_help(NULL);
        return ROOF_USAGE;
    }
    if (o->json_path && o->svg_path && strcmp(o->json_path, o->svg_path) == 0 &&
        strcmp(o->json_path, "-") != 0) {
        tool_error(NULL, "--json and --svg name the same file '%s'", o->json_path);
        return ROOF_USAGE;
    }
    if (o->svg_path && strcmp(o->svg_path, "-") == 0 && o->json_path &&
        strcmp(o->json_path, "-") == 0) {
        tool_error(NULL, "--json and --svg cannot both write to standard output");
        return ROOF_USAGE;
    }
    if (o->quick) {
        if (!repeats_set)
            o->repeats = 3;
        if (!min_time_set)
            o->min_time = 0.002;
        if (!o->dram_bytes)
            o->dram_bytes = (size_t)64 << 20;
    }
    if (o->configs.n == 0 && tool_names_add(&o->configs, "e64_L2_b16") != 0)
        return ROOF_FAIL;
    roof_quiet = o->quiet;
    return 0;
}

void roof_options_free(roof_options *o)
{
    tool_names_free(&o->backends);
    tool_names_free(&o->configs);
}
