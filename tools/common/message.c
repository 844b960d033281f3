/* Messages on stderr that name the program (and the command) first, as GNU tools do, so
 * that a message in a script's log says where it came from. */
#include <stdio.h>
#include "mgpt_tools.h"

static const char *program = "?";
static int flush_stdout;
static int quiet;

void tool_set_program(const char *name, int flush)
{
    program = name;
    flush_stdout = flush;
}

const char *tool_program(void)
{
    return program;
}

void tool_set_quiet(int q)
{
    quiet = q;
}

int tool_quiet(void)
{
    return quiet;
}

void tool_vmessage(const char *cmd, const char *kind, const char *fmt, va_list ap)
{
    if (flush_stdout)
        fflush(stdout);
    fprintf(stderr, "%s%s%s: %s", program, cmd ? " " : "", cmd ? cmd : "", kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void tool_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tool_vmessage(cmd, "", fmt, ap);
    va_end(ap);
}

void tool_warn(const char *cmd, const char *fmt, ...)
{
    if (quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    tool_vmessage(cmd, "warning: ", fmt, ap);
    va_end(ap);
}

void tool_note(const char *cmd, const char *fmt, ...)
{
    if (quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    tool_vmessage(cmd, "note: ", fmt, ap);
    va_end(ap);
}

void tool_try_help(const char *cmd)
{
    fprintf(stderr, "Try '%s%s%s --help' for more information.\n", program, cmd ? " " : "",
            cmd ? cmd : "");
}
