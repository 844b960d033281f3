/* Option parsing shared by every command: one option loop, values checked with their range,
 * and messages that say what was given and what would be accepted. */
#include <string.h>
#include "cli.h"

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
