/* Messages and option values shared by both commands: every message says what was given
 * and what would be accepted. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "bench.h"

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

static void vmessage(const char *cmd, const char *kind, const char *fmt, va_list ap)
{
    fflush(stdout); /* keep stdout and stderr in order on a terminal */
    fprintf(stderr, "mgpt-bench%s%s: %s", cmd ? " " : "", cmd ? cmd : "", kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void bench_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(cmd, "", fmt, ap);
    va_end(ap);
}

void bench_warn(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(cmd, "warning: ", fmt, ap);
    va_end(ap);
}

void bench_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
    va_end(ap);
}

void bench_try_help(const char *cmd)
{
    fprintf(stderr, "Try 'mgpt-bench%s%s --help' for more information.\n", cmd ? " " : "",
            cmd ? cmd : "");
}

void bench_print_version(void)
{
    printf("mgpt-bench (mgpt) %s (backend ABI version %u, JSON %s)\n", PACKAGE_VERSION,
           MGPT_BACKEND_ABI_VERSION, BENCH_SCHEMA);
}

int bench_bad_option(const char *cmd, char **argv, const struct option *longopts, int c)
{
    const char *text = optind > 0 ? argv[optind - 1] : NULL;
    if (text && strncmp(text, "--", 2) == 0 && text[2]) {
        const char *name = text + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        int exact = -1, prefix = 0, last = -1;
        for (int i = 0; longopts[i].name; i++) {
            if (strncmp(longopts[i].name, name, len) != 0)
                continue;
            if (strlen(longopts[i].name) == len)
                exact = i;
            prefix++;
            last = i;
        }
        if (exact < 0 && prefix == 1)
            exact = last;
        if (exact >= 0 && c == ':')
            bench_error(cmd, "option '--%s' needs a value", longopts[exact].name);
        else if (exact >= 0 && eq && longopts[exact].has_arg == no_argument)
            bench_error(cmd, "option '--%s' takes no value (given '%s')", longopts[exact].name,
                        text);
        else if (exact < 0 && prefix > 1)
            bench_error(cmd, "option '--%.*s' is ambiguous (%d options start so)", (int)len,
                        name, prefix);
        else
            bench_error(cmd, "unknown option '%s'", text);
    } else if (c == ':') {
        bench_error(cmd, "option '-%c' needs a value", optopt);
    } else if (optopt) {
        bench_error(cmd, "unknown option '-%c'", optopt);
    } else {
        bench_error(cmd, "unknown option '%s'", text ? text : "?");
    }
    bench_try_help(cmd);
    return BENCH_USAGE;
}

int bench_parse_int(const char *cmd, const char *opt, const char *arg, long min, long max,
                    int *out)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (end == arg || *end != '\0' || errno == ERANGE || v < min || v > max) {
        bench_error(cmd, "--%s '%s' is not an integer from %ld to %ld", opt, arg, min, max);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int bench_parse_double(const char *cmd, const char *opt, const char *arg, double min,
                       int min_open, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (end == arg || *end != '\0' || errno == ERANGE || !isfinite(v) ||
        (min_open ? v <= min : v < min)) {
        bench_error(cmd, "--%s '%s' is not a number %s %g", opt, arg, min_open ? ">" : ">=",
                    min);
        return -1;
    }
    *out = v;
    return 0;
}

int bench_names_add(bench_names *l, const char *name)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->v[i], name) == 0)
            return 0;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 8;
        char **v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(name)))
        return -1;
    l->n++;
    return 0;
}

int bench_names_add_list(bench_names *l, const char *cmd, const char *opt, const char *arg)
{
    const char *p = arg;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0) {
            bench_error(cmd, "--%s '%s' has an empty entry (expected NAME[,NAME...])", opt, arg);
            return -1;
        }
        char name[256];
        if (len >= sizeof name) {
            bench_error(cmd, "--%s: the name '%.40s...' is too long (at most %zu characters)",
                        opt, p, sizeof name - 1);
            return -1;
        }
        memcpy(name, p, len);
        name[len] = '\0';
        if (bench_names_add(l, name) != 0) {
            bench_error(cmd, "out of memory");
            return -1;
        }
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

void bench_names_free(bench_names *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}
