/* mgpt-bench: the command dispatch, --help and --version. */
#include <string.h>
#include "bench.h"

static void usage(void)
{
    printf("Usage: mgpt-bench COMMAND [OPTION]...\n"
           "Time MicroGPT training steps on each backend and flag performance regressions.\n"
           "\n"
           "Commands:\n"
           "  run       time training steps (forward, backward, Adam) of benchmark configs\n"
           "            on one, several or all backends; print a table, write JSON/markdown\n"
           "  compare   compare two JSON files of 'run' and flag regressions (exit 1)\n"
           "  chart     draw JSON files of 'run' as an SVG or PNG chart (bars, or trends)\n"
           "  sweep     time a grid of widths and context lengths per backend: ms/step,\n"
           "            GFLOP/s and %% of the FMA peak; table, JSON and a log-log chart\n"
           "  generate  time generation: tokens/s through the key/value cache and by a full\n"
           "            forward pass per token, against a training position's forward\n"
           "\n"
           "Options:\n"
           "  -h, --help     display this help and exit\n"
           "  -V, --version  output version information and exit\n"
           "\n"
           "Run 'mgpt-bench COMMAND --help' for the options of a command.\n"
           "\n"
           "Exit status: 0 on success; 1 if nothing could be measured, a file could not be\n"
           "written, or 'compare' found a regression; 2 on a bad command line or input file.\n"
           "\n"
           "Examples:\n"
           "  mgpt-bench run --all-backends --json base.json\n"
           "  mgpt-bench run --backend=avx2 --config e64_L2_b16 --steps 200\n"
           "  mgpt-bench compare base.json current.json --threshold 5%%\n"
           "  mgpt-bench chart base.json current.json -o trend.svg\n"
           "  mgpt-bench sweep --n-embd 16,64,256 --block-size 8,32,128 --chart sweep.svg\n"
           "  mgpt-bench generate --config e128_L4_b64,e128_L4_b1024 --json gen.json\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    tool_set_program("mgpt-bench", 1);
    opterr = 0;
    int c;
    /* '+': stop at the command; its options are its own */
    while ((c = getopt_long(argc, argv, "+:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage();
            return BENCH_OK;
        case 'V':
            bench_print_version();
            return BENCH_OK;
        default:
            return bench_bad_option(NULL, argv, longopts, c);
        }
    }
    if (optind >= argc) {
        tool_error(NULL, "missing command (expected 'run', 'compare', 'chart', 'sweep' or "
                   "'generate')");
        tool_try_help(NULL);
        return BENCH_USAGE;
    }
    const char *cmd = argv[optind];
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    optind = 0; /* glibc: reinitialise getopt for the command's own options */
    if (strcmp(cmd, "run") == 0)
        return cmd_run(sub_argc, sub_argv);
    if (strcmp(cmd, "compare") == 0)
        return cmd_compare(sub_argc, sub_argv);
    if (strcmp(cmd, "chart") == 0)
        return cmd_chart(sub_argc, sub_argv);
    if (strcmp(cmd, "sweep") == 0)
        return cmd_sweep(sub_argc, sub_argv);
    if (strcmp(cmd, "generate") == 0)
        return cmd_generate(sub_argc, sub_argv);
    tool_error(NULL, "unknown command '%s' (expected 'run', 'compare', 'chart', 'sweep' or "
               "'generate')", cmd);
    tool_try_help(NULL);
    return BENCH_USAGE;
}
