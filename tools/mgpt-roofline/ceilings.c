/* The ceilings, measured with each backend's own probes (plugins/mgpt/backend.h): peak_flops
 * (independent FMA or mul+add chains in the backend's ISA) and stream_read (a streaming sum
 * over a buffer), and the storing streams of its vector width (store_streams.c: read+write,
 * write, 2 reads+write), timed here on 1 thread and on every physical core at once, one thread
 * bound per core. Bandwidth is a curve: each stream at working sets per thread doubling from
 * 4 KiB (well inside any L1) to the DRAM size (roof_worksets_plan: well past the last cache),
 * whose plateaus (plateaus.c) are the memory levels and their ceilings. Each measurement is
 * calibrated to --min-time, repeated --repeats times after an untimed warm-up, and the
 * fastest repeat reported, as the Empirical Roofline Toolkit keeps its best trial: another
 * task can only slow a repeat, and a ceiling is what the code can reach. The core clock is measured on each thread just before and just
 * after each timed probe. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "roofline.h"

enum { PROBE_PEAK, PROBE_STREAM, PROBE_STORE };

typedef struct probe_job {
    const mgpt_probes *p;
    int kind;
    uint64_t iterations;        /* PROBE_PEAK */
    const float *buf;           /* PROBE_STREAM, PROBE_STORE: this thread's slice */
    roof_store_fn store;        /* PROBE_STORE */
    size_t n;
    int passes;
    int pu;                     /* OS processor to bind to, -1 none */
    int repeats;
    double clock_seconds;
    pthread_barrier_t *barrier;
    struct gate *gate;
    /* out, per repeat */
    double *start, *end, *ghz_before, *ghz_after;
    double work;                /* flops or bytes per call */
    int bind_failed;
} probe_job;

static volatile float probe_sink;

/* Threads wait here until all of them exist (go = 1) or one could not be created (go = -1):
 * no thread enters the barrier before its count is certain. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int go;
};

static int gate_wait(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    while (g->go == 0)
        pthread_cond_wait(&g->cv, &g->mu);
    int go = g->go;
    pthread_mutex_unlock(&g->mu);
    return go;
}

static void gate_open(struct gate *g, int go)
{
    pthread_mutex_lock(&g->mu);
    g->go = go;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static double run_once(probe_job *j)
{
    if (j->kind == PROBE_PEAK) {
        float s = 0;
        double flops = j->p->peak_flops(j->iterations, &s);
        probe_sink = s;
        return flops;
    }
    if (j->kind == PROBE_STORE)  /* the buffer is the tool's, writable; const only for
                                  * the read probe's sake */
        return j->store((float *)(uintptr_t)j->buf, j->n, j->passes);
    probe_sink = j->p->stream_read(j->buf, j->n, j->passes);
    return 4.0 * (double)j->n * j->passes;
}

static void *probe_thread(void *arg)
{
    probe_job *j = arg;
    if (gate_wait(j->gate) < 0)
        return NULL;
    if (j->pu >= 0 && mgpt_bind_thread_to_pu(j->pu) != 0)
        j->bind_failed = 1;
    j->work = run_once(j); /* warm-up: caches, clocks, page tables */
    for (int r = 0; r < j->repeats; r++) {
        j->ghz_before[r] = roof_measure_clock_ghz(j->clock_seconds);
        pthread_barrier_wait(j->barrier);
        j->start[r] = roof_now();
        run_once(j);
        j->end[r] = roof_now();
        j->ghz_after[r] = roof_measure_clock_ghz(j->clock_seconds);
        pthread_barrier_wait(j->barrier);
    }
    return NULL;
}

typedef struct probe_result {
    double rate, rate_min, rate_max;  /* work per second: fastest repeat, min, max */
    roof_clock clock;
} probe_result;

/* Runs jobs[0..n-1] at once, one thread each. */
static int run_threads(probe_job *jobs, int n, int repeats, probe_result *out, char *err,
                       size_t errlen)
{
    pthread_barrier_t barrier;
    struct gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    double *buf = calloc((size_t)n * repeats * 4, sizeof *buf);
    pthread_t *tid = calloc((size_t)n, sizeof *tid);
    if (!buf || !tid || pthread_barrier_init(&barrier, NULL, (unsigned)n) != 0) {
        free(buf), free(tid);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int started = 0, rc = 0;
    for (int i = 0; i < n; i++) {
        jobs[i].barrier = &barrier;
        jobs[i].gate = &gate;
        jobs[i].repeats = repeats;
        jobs[i].start = buf + (size_t)(4 * i) * repeats;
        jobs[i].end = jobs[i].start + repeats;
        jobs[i].ghz_before = jobs[i].start + 2 * repeats;
        jobs[i].ghz_after = jobs[i].start + 3 * repeats;
    }
    for (; started < n; started++)
        if (pthread_create(&tid[started], NULL, probe_thread, &jobs[started]) != 0)
            break;
    gate_open(&gate, started == n ? 1 : -1);
    for (int i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    pthread_barrier_destroy(&barrier);
    if (started < n) {
        snprintf(err, errlen, "could not start thread %d of %d", started + 1, n);
        free(buf), free(tid);
        return -1;
    }

    double *rate = calloc((size_t)repeats, sizeof *rate);
    double *before = calloc((size_t)repeats, sizeof *before);
    double *after = calloc((size_t)repeats, sizeof *after);
    if (!rate || !before || !after) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    } else {
        for (int r = 0; r < repeats; r++) {
            /* all work over the span from the first start to the last end */
            double work = 0, first = jobs[0].start[r], last = jobs[0].end[r];
            before[r] = after[r] = 0;
            for (int i = 0; i < n; i++) {
                work += jobs[i].work;
                if (jobs[i].start[r] < first)
                    first = jobs[i].start[r];
                if (jobs[i].end[r] > last)
                    last = jobs[i].end[r];
                before[r] += jobs[i].ghz_before[r] / n;
                after[r] += jobs[i].ghz_after[r] / n;
            }
            rate[r] = last > first ? work / (last - first) : 0;
        }
        roof_min_max(rate, repeats, &out->rate_min, &out->rate_max);
        out->rate = out->rate_max;   /* the fastest repeat: the least interrupted */
        out->clock.before_ghz = roof_median(before, repeats);
        out->clock.after_ghz = roof_median(after, repeats);
    }
    for (int i = 0; i < n; i++)
        if (jobs[i].bind_failed) {
            tool_warn(NULL, "could not bind a thread to processor %d; the numbers may mix cores",
                      jobs[i].pu);
            break;
        }
    free(rate), free(before), free(after);
    free(buf), free(tid);
    return rc;
}

/* --- the buffer: one for every curve, sliced per thread, kept across backends ---------- */

static float *curve_buf;
static size_t curve_bytes;

static const float *curve_buffer(size_t bytes)
{
    if (curve_bytes >= bytes)
        return curve_buf;
    free(curve_buf);
    curve_buf = aligned_alloc(4096, bytes);
    curve_bytes = curve_buf ? bytes : 0;
    if (curve_buf) {
        size_t n = bytes / sizeof(float);
        for (size_t i = 0; i < n; i++)
            curve_buf[i] = 1.0f;
    }
    return curve_buf;
}

void roof_buffers_free(void)
{
    free(curve_buf);
    curve_buf = NULL;
    curve_bytes = 0;
}

/* --- calibration: enough work for one call to last about min_time ---------------------- */

static double time_once(probe_job *j)
{
    double t0 = roof_now();
    run_once(j);
    return roof_now() - t0;
}

static void calibrate(probe_job *j, double min_time)
{
    if (j->kind == PROBE_PEAK)
        j->iterations = 1000;
    else
        j->passes = 1;
    for (int step = 0; step < 40; step++) {
        double t = time_once(j);
        if (t >= min_time * 0.8)
            return;
        double grow = t > 0 ? min_time / t * 1.1 : 100;
        if (grow > 100)
            grow = 100;
        if (grow < 1.5)
            grow = 1.5;
        if (j->kind == PROBE_PEAK)
            j->iterations = (uint64_t)((double)j->iterations * grow);
        else {
            double p = j->passes * grow;
            j->passes = p > 1e9 ? 1000000000 : (int)p;
        }
    }
}

/* --- the two measurements --------------------------------------------------------------- */

static int measure(const mgpt_probes *p, int kind, roof_store_fn store, const roof_machine *m,
                   int threads, const float *buf, size_t bytes_per_thread, const roof_timing *t,
                   probe_result *res, char *err, size_t errlen)
{
    probe_job *jobs = calloc((size_t)threads, sizeof *jobs);
    if (!jobs) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    double clock_seconds = t->min_time / 10 < 0.001 ? 0.001 : t->min_time / 10;
    for (int i = 0; i < threads; i++) {
        jobs[i].p = p;
        jobs[i].kind = kind;
        jobs[i].pu = i < m->cores ? m->core_pu[i] : -1;
        jobs[i].clock_seconds = clock_seconds;
        jobs[i].store = store;
        if (kind != PROBE_PEAK) {
            jobs[i].buf = buf + (size_t)i * (bytes_per_thread / sizeof(float));
            jobs[i].n = bytes_per_thread / sizeof(float);
        }
    }
    /* calibrate on the first core, then give every thread the same work */
    probe_job cal = jobs[0];
    if (cal.pu >= 0)
        mgpt_bind_thread_to_pu(cal.pu);
    calibrate(&cal, t->min_time);
    for (int i = 0; i < threads; i++) {
        jobs[i].iterations = cal.iterations;
        jobs[i].passes = cal.passes;
    }
    int rc = run_threads(jobs, threads, t->repeats, res, err, errlen);
    if (rc == 0 && kind == PROBE_PEAK && !(jobs[0].work > 0)) {
        snprintf(err, errlen, "its peak_flops probe returned %g flops for %llu iterations "
                 "(expected a positive count)", jobs[0].work,
                 (unsigned long long)jobs[0].iterations);
        rc = -1;
    }
    free(jobs);
    return rc;
}

/* One stream's curve on n threads: sizes per thread doubling from 4 KiB to `top`. */
static int measure_curve(const mgpt_probes *p, int kind, roof_store_fn store,
                         const roof_machine *m, int n, const float *buf, size_t top,
                         const roof_timing *t, roof_stream *st, char *err, size_t errlen)
{
    roof_curve *c = &st->curve;
    memset(st, 0, sizeof *st);
    for (size_t per = 4096; per <= top && c->n < ROOF_CURVE_MAX; per *= 2) {
        probe_result r;
        if (measure(p, kind, store, m, n, buf, per, t, &r, err, errlen) != 0)
            return -1;
        c->bytes[c->n] = (double)per;
        c->gbs[c->n] = r.rate * 1e-9;
        c->gbs_min[c->n] = r.rate_min * 1e-9;
        c->gbs_max[c->n] = r.rate_max * 1e-9;
        c->n++;
    }
    st->n_plateaus = roof_find_plateaus(c, ROOF_PLATEAU_TOL, st->plateau, ROOF_PLATEAUS_MAX);
    return 0;
}

int roof_measure_ceilings(const mgpt_probes *p, const roof_machine *m, int threads,
                          const roof_isa *isa,
                          const roof_worksets ws[2], const roof_timing *t, const char *label,
                          roof_ceilings *out)
{
    memset(out, 0, sizeof *out);
    if (!p || !p->peak_flops || !p->stream_read)
        return 0;
    out->has_probes = 1;
    out->n_thread_sets = threads > 1 ? 2 : 1;
    roof_store_fn store[ROOF_STREAMS];
    roof_streams_for(isa, store, out->stream_isa);
    char err[512];
    for (int s = 0; s < out->n_thread_sets; s++) {
        int n = s == 0 ? 1 : threads;
        roof_progress("%s: peak FLOP probe, %d thread%s", label, n, n == 1 ? "" : "s");
        probe_result r;
        if (measure(p, PROBE_PEAK, NULL, m, n, NULL, 0, t, &r, err, sizeof err) != 0) {
            tool_error(NULL, "backend %s: %s", label, err);
            return -1;
        }
        roof_peak *pk = &out->peak[s];
        pk->threads = n;
        pk->gflops = r.rate * 1e-9;
        pk->gflops_min = r.rate_min * 1e-9;
        pk->gflops_max = r.rate_max * 1e-9;
        pk->clock = r.clock;
        double ghz = 0.5 * (pk->clock.before_ghz + pk->clock.after_ghz);
        pk->flops_per_cycle = ghz > 0 ? pk->gflops / n / ghz : 0;

        size_t need = ws[0].total[ROOF_DRAM];
        if (out->n_thread_sets > 1 && ws[1].total[ROOF_DRAM] > need)
            need = ws[1].total[ROOF_DRAM];
        const float *buf = curve_buffer(need);
        if (!buf) {
            char need_s[32];
            roof_fmt_bytes(need_s, sizeof need_s, (double)need);
            tool_warn(NULL, "no memory for the bandwidth curve's buffer (%s); bandwidth not "
                      "measured", need_s);
            continue;
        }
        size_t top = ws[s].total[ROOF_DRAM] / (size_t)n;
        for (int k = 0; k < ROOF_STREAMS; k++) {
            char sz[32];
            roof_fmt_bytes(sz, sizeof sz, (double)top);
            roof_progress("%s: %s stream, 4 KiB to %s per thread, %d thread%s", label,
                          roof_stream_names[k], sz, n, n == 1 ? "" : "s");
            if (measure_curve(p, k == ROOF_READ ? PROBE_STREAM : PROBE_STORE, store[k], m, n,
                              buf, top, t, &out->stream[s][k], err, sizeof err) != 0) {
                tool_error(NULL, "backend %s: %s", label, err);
                return -1;
            }
        }
        /* the table's levels: the read stream's plateaus, named in order */
        const roof_stream *rd = &out->stream[s][ROOF_READ];
        int level[ROOF_PLATEAUS_MAX];
        roof_plateau_levels(rd->n_plateaus, level);
        for (int i = 0; i < rd->n_plateaus; i++) {
            roof_bw *b = &out->bw[s][level[i]];
            if (b->threads)
                continue;   /* a fifth plateau: L3 keeps the first */
            const roof_plateau *pl = &rd->plateau[i];
            b->threads = n;
            b->bytes_per_thread = (size_t)sqrt(pl->lo_bytes * pl->hi_bytes);
            b->gbs = pl->gbs;
            b->gbs_min = pl->gbs_lo;
            b->gbs_max = pl->gbs_hi;
        }
    }
    return 0;
}
