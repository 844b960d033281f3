/* mgpt: train, sample and evaluate small character-level GPTs on the CPU.
 *
 *     mgpt [--backend=NAME] [--threads=N] [--verbose] COMMAND [options]
 *
 * The global options come before the command; each command parses the rest itself. */
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "engine/threads.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv, const cli_global *g);
    const char *summary;
} command;

static const command commands[] = {
    {"train", cmd_train, "train a model on text documents, save it, print samples"},
    {"sample", cmd_sample, "generate documents from a checkpoint"},
    {"eval", cmd_eval, "mean loss of a checkpoint over documents"},
    {"runs", cmd_runs, "list, show and compare the archived training runs"},
    {"backends", cmd_backends, "list backend modules and the one that would be used"},
    {"info", cmd_info, "show the CPU, its topology and the plugin search path"},
    {NULL, NULL, NULL},
};

/* The engine's limit (core/engine/threads.h): a larger --threads is refused here, with the range. */
#define MAX_THREADS MGPT_MAX_THREADS

static void help(void)
{
    printf("Usage: mgpt [GLOBAL OPTIONS] COMMAND [OPTIONS]\n"
           "Train, sample and evaluate small character-level GPT models on the CPU.\n"
           "\n"
           "Global options (before the command):\n"
           "      --backend=NAME        use this backend module (default: MGPT_BACKEND if\n"
           "                            set, else the best one this CPU can run)\n"
           "      --threads=N           threads for any backend, 1..%d (default: one per\n"
           "                            physical core)\n"
           "      --precision=CLASS     fp32 (default) or bf16: the best backend of that\n"
           "                            class this CPU runs; bf16 rounds the inputs of the\n"
           "                            matmuls to bf16 and keeps everything else fp32\n"
           "      --verbose             say which backend was chosen and why\n"
           "  -h, --help                show this help and exit\n"
           "  -V, --version             show the version and exit\n"
           "\n"
           "Commands:\n",
           MAX_THREADS);
    for (const command *c = commands; c->name; c++)
        printf("  %-10s %s\n", c->name, c->summary);
    printf("  %-10s %s\n", "help", "show the help of a command (mgpt help COMMAND)");
    printf("\n"
           "Run 'mgpt COMMAND --help' for the options of a command.\n"
           "Environment: MGPT_BACKEND, MGPT_PLUGIN_PATH, MGPT_CPU_DISABLE,\n"
           "MGPT_THREAD_SPLIT (see mgpt(1)).\n"
           "Exit status: 0 on success, 1 on a failure while working, 2 for a wrong command,\n"
           "option, value or input file.\n");
}

static const command *find(const char *name)
{
    for (const command *c = commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static void list_commands(char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (const command *c = commands; c->name && used < len; c++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", c->name);
}

enum { O_BACKEND = 256, O_THREADS, O_VERBOSE, O_PRECISION };

static const struct option longopts[] = {
    {"backend", required_argument, NULL, O_BACKEND},
    {"threads", required_argument, NULL, O_THREADS},
    {"precision", required_argument, NULL, O_PRECISION},
    {"verbose", no_argument, NULL, O_VERBOSE},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

int main(int argc, char **argv)
{
    cli_global g = {NULL, 0, 0, NULL, argc, argv};
    int c;
    tool_set_program("mgpt", 1);
    opterr = 0;
    /* '+': stop at the command, whose options are its own */
    while ((c = getopt_long(argc, argv, "+:hV", longopts, NULL)) != -1) {
        switch (c) {
        case O_BACKEND:
            if (!*optarg) {
                tool_error(NULL, "--backend '' is empty (expected a backend name; see "
                           "'mgpt backends')");
                return CLI_USAGE;
            }
            g.backend = optarg;
            break;
        case O_THREADS:
            if (cli_parse_int(NULL, "--threads", optarg, 1, MAX_THREADS, &g.threads) != 0)
                return CLI_USAGE;
            break;
        case O_PRECISION: {
            if (mgpt_precision_parse(optarg) < 0) {
                tool_error(NULL, "--precision '%s' is not a precision class (accepted: fp32, "
                           "bf16)", optarg);
                tool_try_help(NULL);
                return CLI_USAGE;
            }
            g.precision = optarg;
            break;
        }
        case O_VERBOSE:
            g.verbose = 1;
            break;
        case 'h':
            help();
            return CLI_OK;
        case 'V':
            cli_print_version();
            return CLI_OK;
        default:
            return cli_bad_option(NULL, argv, longopts, c);
        }
    }
    char names[256];
    list_commands(names, sizeof names);
    if (optind >= argc) {
        tool_error(NULL, "no command given (expected one of: %s)", names);
        tool_try_help(NULL);
        return CLI_USAGE;
    }
    const char *name = argv[optind];
    if (strcmp(name, "help") == 0) {
        if (optind + 1 >= argc) {
            help();
            return CLI_OK;
        }
        const command *cmd = find(argv[optind + 1]);
        if (!cmd) {
            tool_error(NULL, "help: unknown command '%s' (expected one of: %s)", argv[optind + 1],
                       names);
            return CLI_USAGE;
        }
        char *args[] = {(char *)cmd->name, "--help", NULL};
        return cmd->run(2, args, &g);
    }
    const command *cmd = find(name);
    if (!cmd) {
        tool_error(NULL, "unknown command '%s' (expected one of: %s)", name, names);
        tool_try_help(NULL);
        return CLI_USAGE;
    }
    int status = cmd->run(argc - optind, argv + optind, &g);
    if (fflush(stdout) != 0 && status == CLI_OK) {
        tool_error(cmd->name, "cannot write to standard output");
        status = CLI_FAIL;
    }
    return status;
}
