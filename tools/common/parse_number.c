/* Option values taken whole: "12x", "" or "1e999" are refused rather than read as 12, 0
 * or infinity, and the status says which way a value is wrong. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include "mgpt_tools.h"

tool_number_status tool_parse_int(const char *arg, long min, long max, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (end == arg || *end)
        return TOOL_NUMBER_SYNTAX;
    if (errno == ERANGE || v < min || v > max)
        return TOOL_NUMBER_RANGE;
    *out = (int)v;
    return TOOL_NUMBER_OK;
}

tool_number_status tool_parse_u64(const char *arg, uint64_t *out)
{
    const char *p = arg;
    while (*p == ' ')
        p++;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 10);
    if (end == p || *end || *p == '-' || *p == '+')
        return TOOL_NUMBER_SYNTAX;
    if (errno == ERANGE)
        return TOOL_NUMBER_RANGE;
    *out = (uint64_t)v;
    return TOOL_NUMBER_OK;
}

tool_number_status tool_parse_double(const char *arg, double lo, double hi, int lo_open,
                                     int hi_open, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (end == arg || *end)
        return TOOL_NUMBER_SYNTAX;
    if (!isfinite(v))
        return TOOL_NUMBER_NOT_FINITE;
    if (errno == ERANGE || v < lo || v > hi || (lo_open && v == lo) || (hi_open && v == hi))
        return TOOL_NUMBER_RANGE;
    *out = v;
    return TOOL_NUMBER_OK;
}

/* The multiplier of a size suffix, 0 for an unknown one. */
static double size_unit(char c)
{
    switch (c) {
    case 'k': case 'K': return 1024.0;
    case 'm': case 'M': return 1024.0 * 1024;
    case 'g': case 'G': return 1024.0 * 1024 * 1024;
    default: return 0;
    }
}

tool_number_status tool_parse_size(const char *arg, double min, double max, size_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    double mult = 1;
    if (end != arg && *end) {
        mult = size_unit(*end);
        end++;
        if (*end == 'i' && end[1] == 'B')
            end += 2;
        else if (*end == 'B')
            end++;
    }
    if (end == arg || *end || mult == 0)
        return TOOL_NUMBER_SYNTAX;
    double bytes = v * mult;
    if (!isfinite(bytes))
        return TOOL_NUMBER_NOT_FINITE;
    if (errno == ERANGE || bytes < min || bytes > max)
        return TOOL_NUMBER_RANGE;
    *out = (size_t)bytes;
    return TOOL_NUMBER_OK;
}
