/* The FMA peak a sweep is measured against: the backend's own peak_flops probe (the one
 * mgpt-roofline times, plugins/mgpt/backend.h), run here on the calling thread, calibrated
 * to about 0.1 s, best of three, times the engine's threads. One thread times the count:
 * the probe touches no memory, so cores do not contend (mgpt-roofline measures all cores
 * at once and binds them; a sweep needs the scale, not the last percent). */
#include <time.h>
#include "bench.h"

static volatile float peak_sink;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double bench_peak_gflops(const mgpt_engine *eng)
{
    const mgpt_backend_desc *d = eng->be.entry ? eng->be.entry->desc : NULL;
    if (!d || !d->probes || !d->probes->peak_flops)
        return 0;
    uint64_t it = 1000;
    float s = 0;
    for (;;) { /* calibrate */
        double t0 = now();
        d->probes->peak_flops(it, &s);
        double dt = now() - t0;
        if (dt > 0.1 || it > (1ull << 40))
            break;
        it *= 4;
    }
    double best = 0;
    for (int r = 0; r < 3; r++) {
        double t0 = now();
        double flops = d->probes->peak_flops(it, &s);
        double dt = now() - t0;
        if (dt > 0 && flops / dt > best)
            best = flops / dt;
    }
    peak_sink = s;
    return best * 1e-9 * eng->threads;
}
