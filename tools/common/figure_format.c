/* Measured figures as every tool prints them: three significant digits, whatever the
 * size, so that 4.87 and 4.12 microseconds a step do not both print as 0.005 ms. A time
 * or a rate gets an SI prefix that keeps its number between 1 and 999. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "mgpt_tools.h"

/* v rounded to three significant digits (through decimal text: exact, as printed) */
static double round3(double v)
{
    char b[32];
    snprintf(b, sizeof b, "%.2e", v);
    return strtod(b, NULL);
}

/* the decimals that show three significant digits of v (already rounded) */
static int decimals3(double v)
{
    if (v == 0)
        return 0;
    int e = (int)floor(log10(fabs(v)) + 1e-9);
    return e >= 2 ? 0 : 2 - e;
}

void tool_fmt_sig3(char *buf, size_t len, double v)
{
    if (!isfinite(v)) {
        snprintf(buf, len, "-");
        return;
    }
    v = round3(v);
    snprintf(buf, len, "%.*f", decimals3(v), v);
}

/* v scaled by 1000^k, k in lo..hi, to a number of 1 to 999 where the range allows;
 * *k set. The number is rounded to three digits before and after scaling, so that 999.7
 * becomes 1.00k, not 1000. */
static double scaled3(double v, int lo, int hi, int *k)
{
    double r = round3(v);
    int e = r > 0 ? (int)floor(log10(r) / 3 + 1e-9) : 0;
    *k = e < lo ? lo : e > hi ? hi : e;
    return round3(r / pow(1000.0, *k));
}

void tool_fmt_seconds(char *buf, size_t len, double seconds, const char *per)
{
    static const char *const prefix[] = {"n", "u", "m", ""};
    if (!isfinite(seconds) || seconds < 0) {
        snprintf(buf, len, "-");
        return;
    }
    int k;
    double m = scaled3(seconds, -3, 0, &k);
    snprintf(buf, len, "%.*f %ss%s", decimals3(m), m, prefix[k + 3], per ? per : "");
}

void tool_fmt_rate(char *buf, size_t len, double v)
{
    static const char *const prefix[] = {"", "k", "M", "G", "T"};
    if (!isfinite(v) || v < 0) {
        snprintf(buf, len, "-");
        return;
    }
    int k;
    double m = scaled3(v, 0, 4, &k);
    snprintf(buf, len, "%.*f%s", decimals3(m), m, prefix[k]);
}
