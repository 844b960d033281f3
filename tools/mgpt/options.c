/* Option parsing shared by every command: one option loop, values checked with their range,
 * and messages that say what was given and what would be accepted. */
#include <string.h>
#include "cli.h"
#include "engine/threads.h"

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

void cli_print_version(void)
{
    printf("mgpt %s (backend ABI version %u.%u)\n", PACKAGE_VERSION, MGPT_BACKEND_ABI_MAJOR,
           MGPT_BACKEND_ABI_MINOR);
}

/* The global options, to say where they go when given after a command. */
static const tool_global_option global_opts[] = {
    {"backend", "=NAME"}, {"threads", "=N"}, {"precision", "=CLASS"}, {"verbose", ""},
    {NULL, NULL},
};

int cli_bad_option(const char *cmd, char **argv, const struct option *longopts, int c)
{
    tool_bad_option(cmd, argv, longopts, c, TOOL_AMBIGUOUS_LIST, global_opts);
    return CLI_USAGE;
}

enum { O_BACKEND = 256, O_THREADS, O_VERBOSE, O_PRECISION };

static const struct option global_longopts[] = {
    {"backend", required_argument, NULL, O_BACKEND},
    {"threads", required_argument, NULL, O_THREADS},
    {"precision", required_argument, NULL, O_PRECISION},
    {"verbose", no_argument, NULL, O_VERBOSE},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

int cli_global_options(int argc, char **argv, cli_global *g, void (*help)(void), int *status)
{
    int c;
    memset(g, 0, sizeof *g);
    *status = CLI_OK;
    optind = 0; /* glibc: a full restart, even after a parse that stopped inside "-hV" */
    opterr = 0;
    /* '+': stop at the command, whose options are its own */
    while ((c = getopt_long(argc, argv, "+:hV", global_longopts, NULL)) != -1) {
        switch (c) {
        case O_BACKEND:
            if (!*optarg) {
                tool_error(NULL, "--backend '' is empty (expected a backend name; see "
                           "'mgpt backends')");
                *status = CLI_USAGE;
                return 0;
            }
            g->backend = optarg;
            break;
        case O_THREADS:
            if (cli_parse_int(NULL, "--threads", optarg, 1, MGPT_MAX_THREADS, &g->threads) != 0) {
                *status = CLI_USAGE;
                return 0;
            }
            break;
        case O_PRECISION:
            if (mgpt_precision_parse(optarg) < 0) {
                tool_error(NULL, "--precision '%s' is not a precision class (accepted: fp32, "
                           "bf16)", optarg);
                tool_try_help(NULL);
                *status = CLI_USAGE;
                return 0;
            }
            g->precision = optarg;
            break;
        case O_VERBOSE:
            g->verbose = 1;
            break;
        case 'h':
            help();
            return 0;
        case 'V':
            cli_print_version();
            return 0;
        default:
            *status = cli_bad_option(NULL, argv, global_longopts, c);
            return 0;
        }
    }
    return 1;
}

int cli_command_options(const cli_command *cmd, int argc, char **argv, void *opts,
                        int *status)
{
    char shortopts[32];
    snprintf(shortopts, sizeof shortopts, ":h%s", cmd->shortopts);
    optind = 0;
    opterr = 0;
    *status = CLI_OK;
    int c;
    while (*status == CLI_OK && (c = getopt_long(argc, argv, shortopts, cmd->longopts,
                                                 NULL)) != -1) {
        switch (c) {
        case 'h':
            cmd->help();
            return 0;
        case CLI_OPT_VERSION:
            cli_print_version();
            return 0;
        case '?':
        case ':':
            *status = cli_bad_option(cmd->name, argv, cmd->longopts, c);
            break;
        default: /* one of the command's own: getopt_long returns no other value */
            *status = cmd->take(c, optarg, opts);
        }
    }
    if (*status == CLI_OK && tool_no_operands(cmd->name, argc, argv, optind) != 0)
        *status = CLI_USAGE;
    return *status == CLI_OK;
}

int cli_parse_int(const char *cmd, const char *opt, const char *arg, long min, long max,
                  int *out)
{
    switch (tool_parse_int(arg, min, max, out)) {
    case TOOL_NUMBER_OK:
        return CLI_OK;
    case TOOL_NUMBER_SYNTAX:
        tool_error(cmd, "%s '%s' is not an integer (expected %ld..%ld)", opt, arg, min, max);
        return CLI_USAGE;
    default:
        tool_error(cmd, "%s %s is out of range (expected %ld..%ld)", opt, arg, min, max);
        return CLI_USAGE;
    }
}

int cli_parse_u64(const char *cmd, const char *opt, const char *arg, uint64_t *out)
{
    switch (tool_parse_u64(arg, out)) {
    case TOOL_NUMBER_OK:
        return CLI_OK;
    case TOOL_NUMBER_SYNTAX:
        tool_error(cmd, "%s '%s' is not a non-negative integer (expected 0..%llu)", opt, arg,
                   (unsigned long long)UINT64_MAX);
        return CLI_USAGE;
    default:
        tool_error(cmd, "%s %s is out of range (expected 0..%llu)", opt, arg,
                   (unsigned long long)UINT64_MAX);
        return CLI_USAGE;
    }
}

int cli_parse_float(const char *cmd, const char *opt, const char *arg, double lo, double hi,
                    int lo_open, int hi_open, const char *accepted, double *out)
{
    switch (tool_parse_double(arg, lo, hi, lo_open, hi_open, out)) {
    case TOOL_NUMBER_OK:
        return CLI_OK;
    case TOOL_NUMBER_SYNTAX:
        tool_error(cmd, "%s '%s' is not a number (expected %s)", opt, arg, accepted);
        return CLI_USAGE;
    case TOOL_NUMBER_NOT_FINITE:
        tool_error(cmd, "%s %s is not a finite number (expected %s)", opt, arg, accepted);
        return CLI_USAGE;
    default:
        tool_error(cmd, "%s %s is out of range (expected %s)", opt, arg, accepted);
        return CLI_USAGE;
    }
}
