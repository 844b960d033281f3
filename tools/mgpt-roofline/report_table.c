/* The plain-text report: the machine, the compute and bandwidth ceilings of each backend
 * (measured, with the datasheet peaks beside them), and every kernel placed against them. */
#include <math.h>
#include <string.h>
#include "config.h"
#include "roofline.h"

void roof_fmt_si(char *buf, size_t len, double v)
{
    static const char *const unit[] = {"", "k", "M", "G", "T", "P"};
    int u = 0;
    while (fabs(v) >= 1000 && u < 5) {
        v /= 1000;
        u++;
    }
    snprintf(buf, len, fabs(v) >= 100 || v == 0 ? "%.0f%s" : fabs(v) >= 10 ? "%.1f%s" : "%.2f%s",
             v, unit[u]);
}

void roof_fmt_bytes(char *buf, size_t len, double bytes)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    if (bytes == floor(bytes))
        snprintf(buf, len, "%.0f %s", bytes, unit[u]);
    else
        snprintf(buf, len, bytes >= 100 ? "%.0f %s" : bytes >= 10 ? "%.1f %s" : "%.2f %s", bytes,
                 unit[u]);
}

/* 3 significant digits, no exponent for everyday magnitudes */
static void fmt3(char *buf, size_t len, double v)
{
    if (!(v > 0) && v == 0) {
        snprintf(buf, len, "0");
        return;
    }
    double a = fabs(v);
    if (a >= 100)
        snprintf(buf, len, "%.0f", v);
    else if (a >= 10)
        snprintf(buf, len, "%.1f", v);
    else if (a >= 1)
        snprintf(buf, len, "%.2f", v);
    else if (a >= 0.001)
        snprintf(buf, len, "%.3g", v);
    else
        snprintf(buf, len, "%.2e", v);
}

static void rule(FILE *f, int n)
{
    for (int i = 0; i < n; i++)
        fputc('-', f);
    fputc('\n', f);
}

static void machine(const roof_run *run, FILE *f)
{
    const roof_machine *m = &run->machine;
    fprintf(f, "CPU        %s\n", m->cpu_ok && m->cpu.brand[0] ? m->cpu.brand : "unknown");
    fprintf(f, "           %s, family %d model 0x%X stepping %d; libcpuid codename \"%s\"\n",
            m->cpu.vendor[0] ? m->cpu.vendor : "unknown vendor", m->family, (unsigned)m->model,
            m->cpu.stepping, m->codename[0] ? m->codename : "?");
    char feat[512];
    mgpt_cpu_feature_names(m->cpu.features, feat, sizeof feat);
    fprintf(f, "features   %s%s\n", feat[0] ? feat : "(none detected)",
            m->cpu.masked ? " (some masked by MGPT_CPU_DISABLE)" : "");
    fprintf(f, "clock      measured %.2f GHz (chain of dependent adds); libcpuid: OS %d MHz, "
               "TSC %d MHz, instruction count %d MHz\n",
            m->measured_ghz, m->libcpuid_os_mhz, m->libcpuid_tsc_mhz, m->libcpuid_ic_mhz);
    char l1[32], l2[32], l3[32];
    roof_fmt_bytes(l1, sizeof l1, (double)m->topo.l1d);
    roof_fmt_bytes(l2, sizeof l2, (double)m->topo.l2);
    roof_fmt_bytes(l3, sizeof l3, (double)m->topo.l3);
    fprintf(f, "topology   %d package%s, %d core%s, %d PU%s; L1d %s x%d, L2 %s x%d, L3 %s x%d (hwloc)\n",
            m->topo.packages, m->topo.packages == 1 ? "" : "s", m->cores,
            m->cores == 1 ? "" : "s", m->topo.pus, m->topo.pus == 1 ? "" : "s", l1,
            m->topo.l1d_count, l2, m->topo.l2_count, l3, m->topo.l3_count);
    fprintf(f, "working    per thread, 1 thread | %d threads:", run->threads);
    for (int l = 0; l < ROOF_LEVELS; l++) {
        if (!run->ws[0].present[l])
            continue;
        char a[32], b[32];
        roof_fmt_bytes(a, sizeof a, (double)run->ws[0].total[l]);
        roof_fmt_bytes(b, sizeof b, (double)run->ws[1].total[l] / run->threads);
        fprintf(f, "%s %s %s | %s", l ? "," : "", roof_level_names[l], a, b);
    }
    fprintf(f, "\n           DRAM: %s\n", run->ws[0].dram_note);
    fprintf(f, "timing     fastest of %d repeats of at least %g ms each, after an untimed warm-up; "
               "the clock is measured before and after each probe\n",
            run->timing.repeats, run->timing.min_time * 1e3);
    if (m->busy_tasks > 0)
        fprintf(f, "load       %d other task%s runnable at the start: numbers are low and noisy\n",
                m->busy_tasks, m->busy_tasks == 1 ? " was" : "s were");
}

static void compute_table(const roof_run *run, FILE *f)
{
    fprintf(f, "\nCompute ceilings, fp32 GFLOP/s: measured with each backend's peak_flops probe; "
               "datasheet = cores x clock x lanes x FMA ports x 2\n"
               "(x mul/add pipes for mul+add code), at libcpuid's nominal clock and at the "
               "measured clock\n");
    fprintf(f, "%-8s %-17s %5s %-22s %-12s | %9s %11s %9s %9s | %9s %9s %9s\n", "backend", "ISA",
            "lanes", "ports: table/measured", "clock GHz", "1 core", "flop/cycle", "@nominal",
            "@clock", "all cores", "@nominal", "@clock");
    rule(f, 143);
    for (int i = 0; i < run->n_be; i++) {
        const roof_backend_result *b = &run->be[i];
        if (!b->measured) {
            fprintf(f, "%-8s skipped: %s\n", b->name, b->reason);
            continue;
        }
        if (!b->c.has_probes) {
            fprintf(f, "%-8s no probes in this backend: not measured\n", b->name);
            continue;
        }
        char isa[32], ports[40], clk[24];
        snprintf(isa, sizeof isa, "%s %s", b->isa.name,
                 b->isa.dot >= 16 ? "tile" : b->isa.dot > 1 ? "dot" : b->isa.fma ? "FMA" : "mul+add");
        if (strcmp(b->uarch.source, "table") == 0 && b->uarch.name)
            snprintf(ports, sizeof ports, "%g / %.2f", b->uarch.pipes, b->pipes_measured);
        else
            snprintf(ports, sizeof ports, "- / %.2f (used)", b->pipes_measured);
        snprintf(clk, sizeof clk, "%.2f>%.2f", b->c.peak[0].clock.before_ghz,
                 b->c.peak[0].clock.after_ghz);
        const roof_peak *all = &b->c.peak[b->c.n_thread_sets > 1 ? 1 : 0];
        fprintf(f, "%-8s %-17s %5d %-22s %-12s | %9.1f %11.2f %9.1f %9.1f | %9.1f %9.1f %9.1f\n",
                b->name, isa, b->isa.lanes, ports, clk, b->c.peak[0].gflops,
                b->c.peak[0].flops_per_cycle, b->theory_nominal[0], b->theory_measured[0],
                all->gflops, b->theory_nominal[1], b->theory_measured[1]);
    }
    const char *uname = NULL;
    for (int i = 0; i < run->n_be && !uname; i++)
        if (run->be[i].measured && run->be[i].uarch.name)
            uname = run->be[i].uarch.name;
    fprintf(f, "ports: FMA ports per core (mul/add pipes for mul+add code) from the table%s%s%s "
               "and from the measured flop/cycle; all cores = %d thread%s, one bound per core\n",
            uname ? " (" : "", uname ? uname : "", uname ? ")" : "", run->threads,
            run->threads == 1 ? "" : "s");
}

static void plateau_cell(FILE *f, const roof_plateau *p)
{
    char lo[32], hi[32];
    roof_fmt_bytes(lo, sizeof lo, p->lo_bytes);
    roof_fmt_bytes(hi, sizeof hi, p->hi_bytes);
    fprintf(f, "  %.1f (%s-%s, +-%.0f%%)", p->gbs, lo, hi, 50 * p->spread);
}

static void bandwidth_table(const roof_run *run, FILE *f)
{
    fprintf(f, "\nBandwidth, GB/s: each stream at working sets per thread doubling from 4 KiB "
               "to the DRAM size; its plateaus are the levels\n"
               "(runs of sizes within %.0f%% of their median; median GB/s, sizes, +- half the "
               "spread of their repeats). read: the backend's\n"
               "stream_read probe (independent sums); in its vector width: read+write, an "
               "in-place update; write, memset; 2 reads+write,\n"
               "a[i] = b[i] * c[i]; 3 reads+2 writes, a[i] *= c[i], b[i] *= c[i]. GB/s count the bytes moved (read + written); sizes "
               "the bytes touched. Fastest level first.\n", 100 * ROOF_PLATEAU_TOL);
    for (int i = 0; i < run->n_be; i++) {
        const roof_backend_result *b = &run->be[i];
        if (!b->measured || !b->c.has_probes)
            continue;
        for (int s = 0; s < b->c.n_thread_sets; s++)
            for (int k = 0; k < ROOF_STREAMS; k++) {
                const roof_stream *st = &b->c.stream[s][k];
                fprintf(f, "%-10s %d thread%s %-10s", b->name, b->c.peak[s].threads,
                        b->c.peak[s].threads == 1 ? " " : "s", roof_stream_names[k]);
                for (int p = 0; p < st->n_plateaus; p++)
                    plateau_cell(f, &st->plateau[p]);
                if (!st->n_plateaus)
                    fputs("  -", f);
                fputc('\n', f);
            }
    }
}

static void kernel_table(const roof_run *run, FILE *f)
{
    int any = 0;
    for (int i = 0; i < run->n_be; i++)
        any |= run->be[i].n_kernels > 0;
    if (!any)
        return;
    fprintf(f, "\nKernels, per training step: FLOPs and bytes are the engine's counts "
               "(core/model/op_cost.c); time is the fastest repeat's per step; the ceiling is\n"
               "min(peak, AI x bandwidth), the bandwidth that of the plateau serving the "
               "footprint (bytes touched) of the kernel's largest\n"
               "call per thread on the fastest stream (zero, which only stores: the write "
               "stream); GB/s are its bytes moved over its time; with the\n"
               "backend's 1-thread ceilings for a kernel that ran on\n"
               "1 thread, its all-cores ones for a kernel the engine split over more (calls "
               "below the split size stay on 1 thread, even with\n"
               "--threads; each block's heading counts them) (for a kernel without FLOPs, "
               "that bandwidth); noise = the spread of its "
               "time and of that plateau; * = scalar reference kernel;\n"
               "attention_decode (generation only): per document decoded through the block "
               "with the key/value cache\n");
    for (int i = 0; i < run->n_be; i++) {
        const roof_backend_result *b = &run->be[i];
        const char *cfg = "";
        for (int k = 0; k < b->n_kernels; k++) {
            const roof_kernel *kr = &b->kernels[k];
            if (strcmp(cfg, kr->config) != 0) {
                cfg = kr->config;
                char note[512];
                roof_threads_note(b, cfg, note, sizeof note);
                fprintf(f, "\n%s on %s (%s)\n", b->name, cfg, note);
                fprintf(f, "%-23s %5s %7s %9s %9s %9s %7s %10s %8s %8s %5s %-13s %-7s %10s %6s "
                           "%6s\n",
                        "kernel", "calls", "threads", "FLOP", "bytes", "footprint", "AI",
                        "time us", "GFLOP/s", "GB/s", "level", "stream", "bound", "ceiling",
                        "%", "noise%");
                rule(f, 157);
            }
            char name[40], fl[16], by[16], fp[16], ai[16], us[16], gf[16], gb[16], ce[24],
                pc[16];
            snprintf(name, sizeof name, "%s%s", kr->name, kr->native ? "" : " *");
            roof_fmt_si(fl, sizeof fl, kr->flops);
            roof_fmt_si(by, sizeof by, kr->bytes);
            roof_fmt_bytes(fp, sizeof fp, kr->footprint);
            fmt3(ai, sizeof ai, kr->ai);
            fmt3(us, sizeof us, kr->seconds * 1e6);
            fmt3(gf, sizeof gf, kr->gflops);
            fmt3(gb, sizeof gb, kr->gbs);
            int placed = kr->ceiling_gflops > 0 || (kr->flops == 0 && kr->ceiling_gbs > 0);
            if (kr->ceiling_gflops > 0)
                fmt3(ce, sizeof ce, kr->ceiling_gflops);
            else if (placed) {   /* a bandwidth, so named */
                char bw[16];
                fmt3(bw, sizeof bw, kr->ceiling_gbs);
                snprintf(ce, sizeof ce, "%s GB/s", bw);
            } else
                snprintf(ce, sizeof ce, "-");
            if (placed)
                snprintf(pc, sizeof pc, "%.1f", kr->percent);
            else
                snprintf(pc, sizeof pc, "-");
            fprintf(f, "%-23s %5d %7d %9s %9s %9s %7s %10s %8s %8s %5s %-13s %-7s %10s %6s "
                       "%6.1f\n",
                    name, kr->calls, kr->threads, fl, by, fp, ai, us, gf, gb,
                    roof_level_names[kr->level], roof_stream_names[kr->stream],
                    placed ? (kr->compute_bound ? "compute" : "memory") : "-", ce, pc,
                    100 * kr->noise);
        }
    }
}

int roof_write_table(const roof_run *run, FILE *f)
{
    fprintf(f, "mgpt-roofline %s, %s, %.1f s\n\n", PACKAGE_VERSION, run->timestamp, run->seconds);
    machine(run, f);
    compute_table(run, f);
    bandwidth_table(run, f);
    kernel_table(run, f);
    return ferror(f) ? -1 : 0;
}
