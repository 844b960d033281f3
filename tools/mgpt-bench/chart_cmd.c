/* `mgpt-bench chart RESULT.json... -o FILE`: result files of `run` as an SVG or PNG chart
 * (report_chart.c). */
#include <string.h>
#include "bench.h"

static const char *const CMD = "chart";

static void usage(void)
{
    printf("Usage: mgpt-bench chart [OPTION]... RESULT.json... -o FILE\n"
           "Draw result files of 'mgpt-bench run --json' as a chart. One file: grouped bars,\n"
           "a bar per backend for each config. Several files (oldest first): a trend line per\n"
           "(backend, config) over them, each labelled with its file's commit and date.\n"
           "\n"
           "  -o, --output=FILE   the chart: FILE.svg (SVG) or FILE.png (PNG)\n"
           "      --metric=M      gflops (default: GFLOP/s, higher is better) or ms (the\n"
           "                      median ms/step, lower is better)\n"
           "  -h, --help          display this help and exit\n"
           "\n"
           "Exit status: 0 on success; 1 if the chart could not be written; 2 on a bad\n"
           "command line or input file.\n");
}

int cmd_chart(int argc, char **argv)
{
    enum { OPT_METRIC = 256 };
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"metric", required_argument, NULL, OPT_METRIC},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    int ms = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case OPT_METRIC:
            if (strcmp(optarg, "gflops") != 0 && strcmp(optarg, "ms") != 0) {
                tool_error(CMD, "--metric '%s' is not gflops or ms", optarg);
                tool_try_help(CMD);
                return BENCH_USAGE;
            }
            ms = strcmp(optarg, "ms") == 0;
            break;
        case 'h':
            usage();
            return BENCH_OK;
        default:
            return bench_bad_option(CMD, argv, longopts, c);
        }
    }
    if (!out) {
        tool_error(CMD, "missing --output FILE (.svg or .png)");
        tool_try_help(CMD);
        return BENCH_USAGE;
    }
    if (optind >= argc) {
        tool_error(CMD, "expected one or more RESULT.json files");
        tool_try_help(CMD);
        return BENCH_USAGE;
    }
    return bench_chart_files(CMD, argc - optind, (const char *const *)argv + optind, ms, out);
}
