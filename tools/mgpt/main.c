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
    {"export", cmd_export, "write a checkpoint without its optimizer state"},
    {"tokenizer", cmd_tokenizer, "learn a byte-level BPE tokenizer: tokenizer train"},
    {"runs", cmd_runs, "list, show and compare the archived training runs"},
    {"backends", cmd_backends, "list backend modules and the one that would be used"},
    {"info", cmd_info, "show the CPU, its topology and the plugin search path"},
    {NULL, NULL, NULL},
};

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
           MGPT_MAX_THREADS);
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

int main(int argc, char **argv)
{
    cli_global g;
    int status;
    tool_set_program("mgpt", 1);
    if (!cli_global_options(argc, argv, &g, help, &status))
        return status;
    g.argc = argc; /* a run archive records the whole command line */
    g.argv = argv;
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
    status = cmd->run(argc - optind, argv + optind, &g);
    if (fflush(stdout) != 0 && status == CLI_OK) {
        tool_error(cmd->name, "cannot write to standard output");
        status = CLI_FAIL;
    }
    return status;
}
