/* Messages and option values shared by both commands: every message says what was given
 * and what would be accepted. */
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include "bench.h"
#include "model/model.h"

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

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

void bench_print_version(void)
{
    printf("mgpt-bench (mgpt) %s (backend ABI version %u.%u, JSON %s)\n", PACKAGE_VERSION,
           MGPT_BACKEND_ABI_MAJOR, MGPT_BACKEND_ABI_MINOR, BENCH_SCHEMA);
}

int bench_bad_option(const char *cmd, char **argv, const struct option *longopts, int c)
{
    tool_bad_option(cmd, argv, longopts, c, TOOL_AMBIGUOUS_COUNT, NULL);
    return BENCH_USAGE;
}

int bench_parse_int(const char *cmd, const char *opt, const char *arg, long min, long max,
                    int *out)
{
    if (tool_parse_int(arg, min, max, out) == TOOL_NUMBER_OK)
        return 0;
    tool_error(cmd, "--%s '%s' is not an integer from %ld to %ld", opt, arg, min, max);
    return -1;
}

int bench_parse_double(const char *cmd, const char *opt, const char *arg, double min,
                       int min_open, double *out)
{
    if (tool_parse_double(arg, min, HUGE_VAL, min_open, 0, out) == TOOL_NUMBER_OK)
        return 0;
    tool_error(cmd, "--%s '%s' is not a number %s %g", opt, arg, min_open ? ">" : ">=", min);
    return -1;
}

int bench_names_add_list(tool_names *l, const char *cmd, const char *opt, const char *arg)
{
    for (const char *p = arg; p;) {
        char name[256];
        switch (tool_list_next(&p, name, sizeof name)) {
        case TOOL_ENTRY_EMPTY:
            tool_error(cmd, "--%s '%s' has an empty entry (expected NAME[,NAME...])", opt, arg);
            return -1;
        case TOOL_ENTRY_TOO_LONG:
            tool_error(cmd, "--%s: the name '%.40s...' is too long (at most %zu characters)",
                       opt, p, sizeof name - 1);
            return -1;
        case TOOL_ENTRY_OK:
            break;
        }
        if (tool_names_add(l, name) != 0) {
            tool_error(cmd, "out of memory");
            return -1;
        }
    }
    return 0;
}

int bench_check_selection(const char *cmd, int all, const tool_names *named,
                          tool_names *configs, const char *const *defaults, int one_document)
{
    if (all && named->n) {
        tool_error(cmd, "--all-backends and --backend exclude each other (give one)");
        tool_try_help(cmd);
        return BENCH_USAGE;
    }
    if (configs->n == 0)
        for (const char *const *p = defaults; *p; p++)
            if (tool_names_add(configs, *p) != 0) {
                tool_error(cmd, "out of memory");
                return BENCH_FAIL;
            }
    for (int i = 0; i < configs->n; i++) {
        mgpt_config cfg = {.vocab_size = 27};
        int B;
        char err[512];
        mgpt_model_plan plan;
        if (mgpt_config_parse_name(configs->v[i], &cfg, &B, err, sizeof err) != 0) {
            tool_error(cmd, "%s", err);
            return BENCH_USAGE;
        }
        if (one_document && B != 1) {
            tool_error(cmd, "config %s: generation runs one document (drop _B%d)",
                       configs->v[i], B);
            return BENCH_USAGE;
        }
        /* a training step of it must fit (with one document, the training model of a
         * block is the largest of generation's three): refused before anything runs */
        if (mgpt_model_plan_for(&cfg, B, cfg.block_size, MGPT_MODEL_TRAIN, &plan, err,
                                sizeof err) != 0 ||
            mgpt_model_budget(&plan, err, sizeof err) != 0) {
            tool_error(cmd, "config %s: %s", configs->v[i], err);
            return BENCH_USAGE;
        }
    }
    return BENCH_OK;
}
