/* compare's --threshold. A bare "5" once meant 500%: a threshold is now either a percent
 * with its sign ("5%") or a fraction below 1 ("0.05"); a bare number of 1 or more could
 * mean either, so it is refused rather than guessed. */
#include <math.h>
#include <string.h>
#include "bench.h"

int bench_parse_threshold(const char *cmd, const char *arg, double *out)
{
    size_t n = strlen(arg);
    char num[64];
    int percent = n > 0 && arg[n - 1] == '%';
    if (percent && n - 1 < sizeof num) {
        memcpy(num, arg, n - 1);
        num[n - 1] = '\0';
    } else if (!percent && n < sizeof num) {
        memcpy(num, arg, n + 1);
    } else {
        tool_error(cmd, "--threshold '%.40s...' is too long", arg);
        return -1;
    }
    double v;
    if (tool_parse_double(num, 0, HUGE_VAL, 0, 0, &v) != TOOL_NUMBER_OK) {
        tool_error(cmd, "--threshold '%s' is not a percent such as 5%% or a fraction such as "
                   "0.05", arg);
        return -1;
    }
    if (percent) {
        *out = v / 100;
        return 0;
    }
    if (v >= 1) {
        tool_error(cmd, "--threshold '%s' is ambiguous: write %s%% for %g percent, or a "
                   "fraction below 1 (%g%% is %g)", arg, arg, v, v, v / 100);
        return -1;
    }
    *out = v;
    return 0;
}
