/* What is wrong with a command line that getopt_long stopped at, said the GNU way and more
 * precisely than getopt's own messages (opterr = 0): which option needs a value or takes
 * none, what an abbreviation could mean, an operand where only options go. */
#include <stdio.h>
#include <string.h>
#include "mgpt_tools.h"

/* A long option word ("--name" or "--name=value") that getopt_long rejected. */
static void bad_long_option(const char *cmd, const char *text, const struct option *longopts,
                            int c, int ambiguous, const tool_global_option *globals)
{
    const char *name = text + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    int exact = -1, prefix = 0, last = -1;
    char matches[512] = "";
    for (int i = 0; longopts[i].name; i++) {
        if (strncmp(longopts[i].name, name, len) != 0)
            continue;
        if (strlen(longopts[i].name) == len)
            exact = i;
        prefix++;
        last = i;
        size_t used = strlen(matches);
        snprintf(matches + used, sizeof matches - used, "%s--%s", used ? ", " : "",
                 longopts[i].name);
    }
    if (exact < 0 && prefix == 1)
        exact = last; /* an unambiguous abbreviation */
    if (exact >= 0 && c == ':') {
        tool_error(cmd, "option '--%s' needs a value", longopts[exact].name);
        return;
    }
    if (exact >= 0 && eq && longopts[exact].has_arg == no_argument) {
        tool_error(cmd, "option '--%s' takes no value (given '%s')", longopts[exact].name, text);
        return;
    }
    if (exact < 0 && prefix > 1) {
        if (ambiguous == TOOL_AMBIGUOUS_LIST)
            tool_error(cmd, "option '--%.*s' is ambiguous: it could be %s", (int)len, name,
                       matches);
        else
            tool_error(cmd, "option '--%.*s' is ambiguous (%d options start so)", (int)len,
                       name, prefix);
        return;
    }
    /* only after a command can an option be in the wrong place */
    for (int i = 0; cmd && globals && globals[i].name; i++)
        if (strlen(globals[i].name) == len && strncmp(globals[i].name, name, len) == 0) {
            tool_error(cmd, "'--%s' is a global option: give it before the command, as in "
                       "'%s --%s%s %s ...'", globals[i].name, tool_program(), globals[i].name,
                       globals[i].value, cmd);
            return;
        }
    tool_error(cmd, "unknown option '%s'", text);
}

void tool_bad_option(const char *cmd, char **argv, const struct option *longopts, int c,
                     int ambiguous, const tool_global_option *globals)
{
    const char *text = optind > 0 ? argv[optind - 1] : NULL;
    if (text && strncmp(text, "--", 2) == 0 && text[2])
        bad_long_option(cmd, text, longopts, c, ambiguous, globals);
    else if (c == ':')
        tool_error(cmd, "option '-%c' needs a value", optopt);
    else if (optopt)
        tool_error(cmd, "unknown option '-%c'", optopt);
    else
        tool_error(cmd, "unknown option '%s'", text ? text : "?");
    tool_try_help(cmd);
}

int tool_no_operands(const char *cmd, int argc, char **argv, int first)
{
    if (first >= argc)
        return 0;
    tool_error(cmd, "unexpected argument '%s' (this command takes only options)", argv[first]);
    tool_try_help(cmd);
    return -1;
}
