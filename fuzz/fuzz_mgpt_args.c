/* libFuzzer target: the bytes as mgpt's command line (arguments separated by NUL bytes).
 * Parses it as mgpt does before any work: the global options, the command's name, then
 * the command's own options and the checks across them (cmd_*_parse), without running
 * the command. */
#include <getopt.h>
#include <string.h>
#include "cli.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
    const char *name;
    int (*parse)(int argc, char **argv, int *status);
} commands[] = {
    {"train", cmd_train_parse}, {"sample", cmd_sample_parse}, {"eval", cmd_eval_parse},
    {"export", cmd_export_parse}, {"backends", cmd_backends_parse}, {"info", cmd_info_parse},
};

static void help(void)
{
    puts("mgpt --help");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int argc, status;
    fuzz_quiet();
    tool_set_program("mgpt", 0);
    char **argv = fuzz_argv("mgpt", data, size, &argc);
    cli_global g;
    if (cli_global_options(argc, argv, &g, help, &status) && optind < argc) {
        const char *name = argv[optind];
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
            if (strcmp(name, commands[i].name) == 0) {
                int go = commands[i].parse(argc - optind, argv + optind, &status);
                if (go && status != CLI_OK)
                    __builtin_trap(); /* going on after an error */
                if (status != CLI_OK && status != CLI_USAGE && status != CLI_FAIL)
                    __builtin_trap(); /* an exit status the man page does not name */
            }
    }
    fuzz_argv_free(argv);
    return 0;
}
