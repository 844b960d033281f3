/* Option parsing shared by every command: values checked with their range, and messages
 * that say what was given and what would be accepted. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

static void vmessage(const char *cmd, const char *kind, const char *fmt, va_list ap)
{
    fflush(stdout); /* keep stdout and stderr in order on a terminal */
    fprintf(stderr, "mgpt%s%s: %s", cmd ? " " : "", cmd ? cmd : "", kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(cmd, "", fmt, ap);
    va_end(ap);
}

void cli_warn(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(cmd, "warning: ", fmt, ap);
    va_end(ap);
}

void cli_try_help(const char *cmd)
{
    fprintf(stderr, "Try 'mgpt%s%s --help' for more information.\n", cmd ? " " : "",
            cmd ? cmd : "");
}

void cli_print_version(void)
{
    printf("mgpt %s (backend ABI version %u)\n", PACKAGE_VERSION, MGPT_BACKEND_ABI_VERSION);
}

/* The global options, to say where they go when given after a command. */
static const char *const global_opts[] = {"backend", "threads", "verbose", NULL};
static const char *const global_vals[] = {"=NAME", "=N", "", NULL};

int cli_bad_option(const char *cmd, char **argv, const struct option *longopts, int c)
{
    const char *text = optind > 0 ? argv[optind - 1] : NULL;
    if (text && strncmp(text, "--", 2) == 0 && text[2]) {
        const char *name = text + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        int exact = -1, prefix = 0;
        char matches[512] = "";
        for (int i = 0; longopts[i].name; i++) {
            if (strncmp(longopts[i].name, name, len) != 0)
                continue;
            if (strlen(longopts[i].name) == len)
                exact = i;
            prefix++;
            size_t used = strlen(matches);
            snprintf(matches + used, sizeof matches - used, "%s--%s", used ? ", " : "",
                     longopts[i].name);
        }
        if (exact < 0 && prefix == 1) {
            for (int i = 0; longopts[i].name; i++)
                if (strncmp(longopts[i].name, name, len) == 0)
                    exact = i;
        }
        if (exact >= 0 && c == ':')
            cli_error(cmd, "option '--%s' needs a value", longopts[exact].name);
        else if (exact >= 0 && eq && longopts[exact].has_arg == no_argument)
            cli_error(cmd, "option '--%s' takes no value (given '%s')", longopts[exact].name, text);
        else if (exact < 0 && prefix > 1)
            cli_error(cmd, "option '--%.*s' is ambiguous: it could be %s", (int)len, name, matches);
        else {
            int global = -1;
            for (int i = 0; cmd && global_opts[i]; i++)
                if (strlen(global_opts[i]) == len && strncmp(global_opts[i], name, len) == 0)
                    global = i;
            if (global >= 0)
                cli_error(cmd, "'--%s' is a global option: give it before the command, as in "
                          "'mgpt --%s%s %s ...'", global_opts[global], global_opts[global],
                          global_vals[global], cmd);
            else
                cli_error(cmd, "unknown option '%s'", text);
        }
    } else if (c == ':') {
        cli_error(cmd, "option '-%c' needs a value", optopt);
    } else if (optopt) {
        cli_error(cmd, "unknown option '-%c'", optopt);
    } else {
        cli_error(cmd, "unknown option '%s'", text ? text : "?");
    }
    cli_try_help(cmd);
    return CLI_USAGE;
}

int cli_no_operands(const char *cmd, int argc, char **argv, int optind_)
{
    if (optind_ >= argc)
        return CLI_OK;
    cli_error(cmd, "unexpected argument '%s' (this command takes only options)", argv[optind_]);
    cli_try_help(cmd);
    return CLI_USAGE;
}

int cli_parse_int(const char *cmd, const char *opt, const char *arg, long min, long max,
                  int *out)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (end == arg || *end || !*arg) {
        cli_error(cmd, "%s '%s' is not an integer (expected %ld..%ld)", opt, arg, min, max);
        return -1;
    }
    if (errno == ERANGE || v < min || v > max) {
        cli_error(cmd, "%s %s is out of range (expected %ld..%ld)", opt, arg, min, max);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cli_parse_u64(const char *cmd, const char *opt, const char *arg, uint64_t *out)
{
    const char *p = arg;
    while (*p == ' ')
        p++;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 10);
    if (end == p || *end || *p == '-' || *p == '+') {
        cli_error(cmd, "%s '%s' is not a non-negative integer (expected 0..%llu)", opt, arg,
                  (unsigned long long)UINT64_MAX);
        return -1;
    }
    if (errno == ERANGE) {
        cli_error(cmd, "%s %s is out of range (expected 0..%llu)", opt, arg,
                  (unsigned long long)UINT64_MAX);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

int cli_parse_float(const char *cmd, const char *opt, const char *arg, double lo, double hi,
                    int lo_open, int hi_open, const char *accepted, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (end == arg || *end || !*arg) {
        cli_error(cmd, "%s '%s' is not a number (expected %s)", opt, arg, accepted);
        return -1;
    }
    if (!isfinite(v)) {
        cli_error(cmd, "%s %s is not a finite number (expected %s)", opt, arg, accepted);
        return -1;
    }
    if (errno == ERANGE || v < lo || v > hi || (lo_open && v == lo) ||
        (hi_open && v == hi)) {
        cli_error(cmd, "%s %s is out of range (expected %s)", opt, arg, accepted);
        return -1;
    }
    *out = v;
    return 0;
}
