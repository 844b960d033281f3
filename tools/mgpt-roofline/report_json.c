/* Everything the table shows, and the details behind it, as JSON (schema mgpt-roofline/1;
 * docs/mgpt-roofline.1 lists the fields). Numbers are in base units: flops, bytes, seconds,
 * GFLOP/s, GB/s (1e9 bytes per second), GHz. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include "config.h"
#include "roofline.h"

/* json_pack refuses NaN and infinities; a number that is not finite is written as 0 */
#define F(x) (isfinite(x) ? (double)(x) : 0.0)

static json_t *clock_json(const roof_clock *c)
{
    return json_pack("{s:f, s:f}", "before_ghz", F(c->before_ghz), "after_ghz", F(c->after_ghz));
}

static json_t *machine_json(const roof_run *run)
{
    const roof_machine *m = &run->machine;
    json_t *features = json_array();
    for (int b = 0; b < 32; b++) {
        if (!(m->cpu.features & (1u << b)))
            continue;
        char name[64];
        mgpt_cpu_feature_names(1u << b, name, sizeof name);
        if (name[0])
            json_array_append_new(features, json_string(name));
    }
    json_t *cpu = json_pack(
        "{s:s, s:s, s:i, s:i, s:i, s:s, s:o, s:{s:i, s:i, s:i, s:f}}",
        "vendor", m->cpu.vendor, "brand", m->cpu.brand, "family", m->family, "model", m->model,
        "stepping", m->cpu.stepping, "libcpuid_codename", m->codename, "features", features,
        "clock", "libcpuid_os_mhz", m->libcpuid_os_mhz, "libcpuid_tsc_mhz", m->libcpuid_tsc_mhz,
        "libcpuid_instruction_count_mhz", m->libcpuid_ic_mhz, "measured_ghz", F(m->measured_ghz));
    json_t *topo = json_pack(
        "{s:i, s:i, s:i, s:{s:{s:I, s:i}, s:{s:I, s:i}, s:{s:I, s:i}}}", "packages",
        m->topo.packages, "cores", m->cores, "pus", m->topo.pus, "caches", "l1d", "bytes",
        (json_int_t)m->topo.l1d, "count", m->topo.l1d_count, "l2", "bytes", (json_int_t)m->topo.l2,
        "count", m->topo.l2_count, "l3", "bytes", (json_int_t)m->topo.l3, "count",
        m->topo.l3_count);
    return json_pack("{s:o, s:o, s:i}", "cpu", cpu, "topology", topo, "busy_tasks",
                     m->busy_tasks);
}

/* Every stream's curve and plateaus, per thread count. */
static json_t *curves_json(const roof_ceilings *c)
{
    json_t *a = json_array();
    for (int s = 0; s < c->n_thread_sets; s++)
        for (int k = 0; k < ROOF_STREAMS; k++) {
            const roof_stream *st = &c->stream[s][k];
            json_t *pts = json_array(), *pls = json_array();
            for (int i = 0; i < st->curve.n; i++)
                json_array_append_new(pts, json_pack("{s:f, s:f, s:f, s:f}", "bytes_per_thread",
                                                     st->curve.bytes[i], "gbs", F(st->curve.gbs[i]),
                                                     "gbs_min", F(st->curve.gbs_min[i]),
                                                     "gbs_max", F(st->curve.gbs_max[i])));
            int level[ROOF_PLATEAUS_MAX];
            roof_plateau_levels(st->n_plateaus, level);
            for (int i = 0; i < st->n_plateaus; i++) {
                const roof_plateau *p = &st->plateau[i];
                json_array_append_new(pls, json_pack("{s:s, s:f, s:f, s:f, s:f}", "level",
                                                     roof_level_names[level[i]], "from_bytes",
                                                     p->lo_bytes, "to_bytes", p->hi_bytes,
                                                     "gbs", F(p->gbs), "spread", F(p->spread)));
            }
            json_array_append_new(a, json_pack("{s:i, s:s, s:s, s:o, s:o}", "threads",
                                               c->peak[s].threads, "stream",
                                               roof_stream_names[k], "isa",
                                               c->stream_isa[k] ? c->stream_isa[k] : "",
                                               "points", pts, "plateaus", pls));
        }
    return a;
}

static json_t *worksets_json(const roof_run *run)
{
    json_t *a = json_array();
    for (int s = 0; s < 2; s++) {
        int threads = s == 0 ? 1 : run->threads;
        if (s == 1 && threads == 1)
            break;
        json_t *lv = json_object();
        for (int l = 0; l < ROOF_LEVELS; l++)
            if (run->ws[s].present[l])
                json_object_set_new(lv, roof_level_names[l],
                                    json_integer((json_int_t)(run->ws[s].total[l] / threads)));
        json_array_append_new(a, json_pack("{s:i, s:o}", "threads", threads,
                                           "bytes_per_thread", lv));
    }
    return a;
}

static json_t *backend_json(const roof_backend_result *b)
{
    json_t *o = json_pack("{s:s, s:s, s:b}", "name", b->name, "description", b->description,
                          "measured", b->measured);
    if (!b->measured) {
        json_object_set_new(o, "reason", json_string(b->reason));
        return o;
    }
    json_object_set_new(o, "isa", json_pack("{s:s, s:i, s:s}", "name", b->isa.name, "lanes",
                                            b->isa.lanes, "op", b->isa.dot >= 16 ? "bf16 tile"
                                            : b->isa.dot > 1 ? "bf16 dot"
                                            : b->isa.fma ? "fma" : "mul+add"));
    json_object_set_new(o, "has_probes", json_boolean(b->c.has_probes));
    json_object_set_new(o, "kernel_threads", json_integer(b->kernel_threads));
    {
        /* the processors the engine bound its threads to ([] when it left them to the OS
         * or the OpenMP runtime) */
        json_t *a = json_array();
        for (int i = 0; i < b->n_kernel_pus; i++)
            json_array_append_new(a, json_integer(b->kernel_pus[i]));
        json_object_set_new(o, "kernel_processors", a);
    }
    {
        /* how many kernels ran on how many threads, against which ceilings */
        roof_thread_group g[8];
        int n = roof_thread_groups(b, NULL, g, 8);
        json_t *a = json_array();
        for (int i = 0; i < n; i++)
            json_array_append_new(a, json_pack("{s:i, s:i, s:i}", "threads", g[i].threads,
                                               "ceiling_threads", g[i].ceiling_threads,
                                               "kernels", g[i].kernels));
        json_object_set_new(o, "kernel_placement", a);
        char note[512];
        roof_threads_note(b, NULL, note, sizeof note);
        json_object_set_new(o, "threads_note", json_string(note));
    }
    if (b->c.has_probes) {
        json_t *ports = json_pack("{s:f, s:s, s:f}", "used", F(b->uarch.pipes), "source",
                                  b->uarch.source, "measured_ratio", F(b->pipes_measured));
        json_object_set_new(ports, "uarch", b->uarch.name ? json_string(b->uarch.name) : json_null());
        json_object_set_new(ports, "unit", json_string(b->isa.fma ? "FMA ports"
                                                                  : "mul/add pipes"));
        json_object_set_new(o, "ports", ports);
        json_t *compute = json_array(), *bw = json_array();
        for (int s = 0; s < b->c.n_thread_sets; s++) {
            const roof_peak *p = &b->c.peak[s];
            json_array_append_new(
                compute,
                json_pack("{s:i, s:f, s:f, s:f, s:f, s:o, s:f, s:f}", "threads", p->threads,
                          "measured_gflops", F(p->gflops), "measured_gflops_min", F(p->gflops_min),
                          "measured_gflops_max", F(p->gflops_max), "flops_per_cycle",
                          F(p->flops_per_cycle), "clock", clock_json(&p->clock),
                          "theoretical_gflops_nominal_clock", F(b->theory_nominal[s]),
                          "theoretical_gflops_measured_clock", F(b->theory_measured[s])));
            for (int l = 0; l < ROOF_LEVELS; l++) {
                const roof_bw *w = &b->c.bw[s][l];
                if (!(w->gbs > 0))
                    continue;
                json_array_append_new(
                    bw, json_pack("{s:s, s:i, s:I, s:f, s:f, s:f, s:o}", "level",
                                  roof_level_names[l], "threads", w->threads, "bytes_per_thread",
                                  (json_int_t)w->bytes_per_thread, "gbs", F(w->gbs), "gbs_min",
                                  F(w->gbs_min), "gbs_max", F(w->gbs_max), "clock",
                                  clock_json(&w->clock)));
            }
        }
        json_object_set_new(o, "compute", compute);
        json_object_set_new(o, "bandwidth", bw);
        json_object_set_new(o, "curves", curves_json(&b->c));
    }
    json_t *ks = json_array();
    for (int i = 0; i < b->n_kernels; i++) {
        const roof_kernel *k = &b->kernels[i];
        json_t *kj = json_pack(
            "{s:s, s:s, s:b, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:i, s:f, s:f, s:f, s:s}",
            "config", k->config, "kernel", k->name, "native", k->native, "calls", k->calls,
            "flops", F(k->flops), "bytes", F(k->bytes), "max_call_bytes", F(k->max_call_bytes),
            "seconds", F(k->seconds), "seconds_min", F(k->seconds_min), "seconds_max",
            F(k->seconds_max), "repeats", k->repeats, "arithmetic_intensity", F(k->ai), "gflops",
            F(k->gflops), "gbs", F(k->gbs), "level", roof_level_names[k->level]);
        /* a kernel without FLOPs (zero) is placed against its level's bandwidth alone */
        int placed = k->ceiling_gflops > 0 || (k->flops == 0 && k->ceiling_gbs > 0);
        json_object_set_new(kj, "footprint_bytes", json_real(F(k->footprint)));
        json_object_set_new(kj, "threads", json_integer(k->threads));
        json_object_set_new(kj, "ceiling_threads", json_integer(k->ceiling_threads));
        json_object_set_new(kj, "stream", json_string(roof_stream_names[k->stream]));
        json_object_set_new(kj, "noise", json_real(F(k->noise)));
        json_object_set_new(kj, "bound", placed ? json_string(k->compute_bound ? "compute"
                                                                               : "memory")
                                                : json_null());
        json_object_set_new(kj, "ceiling_gflops",
                            k->ceiling_gflops > 0 ? json_real(F(k->ceiling_gflops)) : json_null());
        json_object_set_new(kj, "ceiling_gbs",
                            k->ceiling_gbs > 0 ? json_real(F(k->ceiling_gbs)) : json_null());
        json_object_set_new(kj, "percent_of_ceiling",
                            placed ? json_real(F(k->percent)) : json_null());
        json_array_append_new(ks, kj);
    }
    json_object_set_new(o, "kernels", ks);
    return o;
}

json_t *roof_run_json(const roof_run *run)
{
    json_t *configs = json_array();
    for (int i = 0; i < run->opt.configs.n; i++)
        json_array_append_new(configs, json_string(run->opt.configs.v[i]));
    json_t *settings = json_pack("{s:i, s:i, s:f, s:o, s:b, s:b, s:s}", "threads", run->threads,
                                 "repeats", run->timing.repeats, "min_time_s",
                                 run->timing.min_time, "configs", configs, "kernels",
                                 !run->opt.no_kernels, "quick", run->opt.quick, "dram_note",
                                 run->ws[0].dram_note);
    json_object_set_new(settings, "working_sets", worksets_json(run));
    json_t *bes = json_array();
    for (int i = 0; i < run->n_be; i++)
        json_array_append_new(bes, backend_json(&run->be[i]));
    json_t *root = json_pack("{s:s, s:s, s:s, s:f, s:o, s:o, s:o}", "schema", ROOF_SCHEMA,
                             "version", PACKAGE_VERSION, "timestamp", run->timestamp,
                             "seconds", F(run->seconds), "settings", settings, "machine",
                             machine_json(run), "backends", bes);
    return root;
}

int roof_write_json(const roof_run *run, const char *path)
{
    json_t *root = roof_run_json(run);
    if (!root) {
        tool_error(NULL, "could not build the JSON report (out of memory)");
        return -1;
    }
    int to_stdout = strcmp(path, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(path, "w");
    if (!f) {
        tool_error(NULL, "--json %s: cannot open for writing: %s", path, strerror(errno));
        json_decref(root);
        return -1;
    }
    int rc = json_dumpf(root, f, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    if (rc == 0 && fputc('\n', f) == EOF)
        rc = -1;
    if (!to_stdout && fclose(f) != 0)
        rc = -1;
    if (rc != 0)
        tool_error(NULL, "--json %s: write failed", path);
    json_decref(root);
    return rc;
}
