/* mgpt-roofline: the machine, then for each backend its ceilings (measured with its own
 * probes, datasheet peaks beside them) and its kernels placed against them; a table on
 * standard output, JSON and SVG on request. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "roofline.h"

/* Datasheet peaks and the port count, from the table or from the measured ratio. The
 * lanes are those of the ISA the backend requires: its code is built for it alone. */
static void fill_theory(roof_backend_result *b, const roof_machine *m, uint32_t required)
{
    b->isa = roof_isa_of(required);
    b->uarch = roof_uarch_lookup(m->cpu.vendor, m->family, m->model, &b->isa);
    double per_pipe = b->isa.lanes * (b->isa.fma ? 2.0 : 1.0) * b->isa.dot;
    if (b->c.has_probes && b->c.peak[0].flops_per_cycle > 0)
        b->pipes_measured = b->c.peak[0].flops_per_cycle / per_pipe;
    if (!b->uarch.name && b->pipes_measured > 0) {
        double p = (double)(long)(b->pipes_measured + 0.5);
        b->uarch.pipes = p < 1 ? 1 : p;
        b->uarch.source = "measured ratio";
    }
    double fpc = roof_flops_per_cycle(&b->isa, b->uarch.pipes);
    for (int s = 0; s < 2; s++) {
        int cores = s == 0 ? 1 : (b->c.n_thread_sets > 1 ? b->c.peak[1].threads : 1);
        const roof_peak *pk = &b->c.peak[s < b->c.n_thread_sets ? s : 0];
        double ghz = 0.5 * (pk->clock.before_ghz + pk->clock.after_ghz);
        b->theory_nominal[s] = m->libcpuid_os_mhz > 0 ? cores * m->libcpuid_os_mhz * 1e-3 * fpc : 0;
        b->theory_measured[s] = cores * ghz * fpc;
    }
}

typedef struct pick {
    const char *forced;           /* the name its engine is opened with (the registry's) */
    char name[64];
    int skip;                     /* cannot run here: see reason */
    char reason[512];
} pick;

/* "this CPU lacks avx512f", with MGPT_CPU_DISABLE named when it masks one of them. */
static void lacks(const mgpt_registry *r, const mgpt_backend_entry *e, char *buf, size_t len)
{
    char need[256];
    mgpt_cpu_feature_names(e->missing, need, sizeof need);
    snprintf(buf, len, "this CPU lacks %s%s", need,
             (e->missing & r->cpu_masked) != 0 ? " (masked by MGPT_CPU_DISABLE)" : "");
}

/* The backends to measure, checked before anything is measured: a listing of the modules
 * (descriptors only, no plugin code), each then opened by its own engine. */
static int choose_backends(const mgpt_registry *r, const roof_options *o, pick **out,
                           int *n_out)
{
    pick *p = calloc((size_t)r->n + (size_t)o->backends.n + 1, sizeof *p);
    int n = 0;
    if (!p)
        return ROOF_FAIL;
    if (o->all_backends) {
        for (int i = 0; i < r->n; i++) {
            const mgpt_backend_entry *e = &r->entries[i];
            if (!e->desc || e->status == MGPT_BE_SHADOWED || e->status == MGPT_BE_REJECTED)
                continue;
            snprintf(p[n].name, sizeof p[n].name, "%s", e->name);
            p[n].forced = e->name;
            if (e->status != MGPT_BE_RUNNABLE) {
                p[n].skip = 1;
                lacks(r, e, p[n].reason, sizeof p[n].reason);
            }
            n++;
        }
        /* a stable, readable order: scalar first, then by priority */
        for (int i = 1; i < n; i++)
            for (int j = i; j > 0; j--) {
                const mgpt_backend_entry *a = mgpt_registry_find(r, p[j - 1].name),
                                         *b = mgpt_registry_find(r, p[j].name);
                if (a && b && a->desc && b->desc && a->desc->priority > b->desc->priority) {
                    pick t = p[j - 1];
                    p[j - 1] = p[j];
                    p[j] = t;
                }
            }
    } else if (o->backends.n) {
        for (int i = 0; i < o->backends.n; i++) {
            const mgpt_backend_entry *e = mgpt_registry_find(r, o->backends.v[i]);
            if (!e || !e->desc) {
                char names[512] = "";
                size_t used = 0;
                for (int k = 0; k < r->n; k++)
                    if (r->entries[k].desc && r->entries[k].status != MGPT_BE_SHADOWED) {
                        int w = snprintf(names + used, sizeof names - used, "%s%s",
                                         used ? ", " : "", r->entries[k].name);
                        if (w < 0 || (size_t)w >= sizeof names - used)
                            break;
                        used += (size_t)w;
                    }
                tool_error(NULL, "--backend: unknown backend '%s' (available: %s)",
                           o->backends.v[i], used ? names : "none found");
                free(p);
                return ROOF_USAGE;
            }
            if (e->status != MGPT_BE_RUNNABLE) {
                char need[256];
                mgpt_cpu_feature_names(e->missing, need, sizeof need);
                tool_error(NULL, "--backend: backend '%s' cannot run on this CPU: needs %s%s",
                           o->backends.v[i], need, (e->missing & r->cpu_masked) != 0
                           ? " (masked by MGPT_CPU_DISABLE)" : "");
                free(p);
                return ROOF_USAGE;
            }
            p[n].forced = e->name;
            snprintf(p[n].name, sizeof p[n].name, "%s", e->name);
            n++;
        }
    } else {
        /* mgpt's own choice, as core makes it: MGPT_BACKEND (core reads it), else the best
         * runnable; made here so that nothing is measured before a bad MGPT_BACKEND is
         * refused */
        const mgpt_backend_entry *e;
        char why[1200];
        int rc = mgpt_registry_select(r, NULL, &e, why, sizeof why);
        if (rc == 2) {
            tool_error(NULL, "MGPT_BACKEND: %s", why);
            free(p);
            return ROOF_USAGE;
        }
        if (rc != 0) {
            tool_error(NULL, "no runnable backend found (searched %s)", r->searched);
            free(p);
            return ROOF_FAIL;
        }
        p[n].forced = e->name;
        snprintf(p[n].name, sizeof p[n].name, "%s", e->name);
        n++;
    }
    *out = p;
    *n_out = n;
    return 0;
}

/* One backend: its engine (the kernels' threads: --threads if given, else 1), the
 * ceilings of its probes, then its kernels placed against them. ROOF_OK, or ROOF_FAIL when
 * the backend failed (b->reason says why), or ROOF_USAGE when no engine can open at all
 * (a bad MGPT_THREAD_SPLIT). */
static int measure_backend(roof_run *run, const mgpt_registry *r, const pick *pk,
                           roof_backend_result *b)
{
    snprintf(b->name, sizeof b->name, "%s", pk->name);
    const mgpt_backend_entry *listed = mgpt_registry_find(r, pk->name);
    if (listed && listed->desc) {
        snprintf(b->description, sizeof b->description, "%s",
                 listed->desc->description ? listed->desc->description : "");
        b->isa = roof_isa_of(listed->desc->required_features);
    }
    if (pk->skip) {
        snprintf(b->reason, sizeof b->reason, "%s", pk->reason);
        return ROOF_OK;
    }
    /* any backend runs on the engine's threads: with --threads its kernels run on that
     * many, placed against the all-cores ceilings (measured on as many); without, on this
     * thread against the 1-thread ones */
    b->kernel_threads = run->opt.threads > 0 ? run->opt.threads : 1;
    mgpt_engine eng;
    memset(&eng, 0, sizeof eng);
    mgpt_engine_opts eo = {.backend = pk->forced, .threads = b->kernel_threads, .warn = NULL};
    char err[sizeof b->reason];
    /* The engine reads the topology within this thread's mask and binds its team to those
     * cores: opened from a thread bound to one core, it would see one core and run all its
     * threads on it (each parallel call then waited out a scheduler tick, ~8 ms). So it is
     * opened under the process' mask, and this thread goes back to the first core after. */
    if (run->have_process_mask)
        sched_setaffinity(0, sizeof run->process_mask, &run->process_mask);
    int erc = mgpt_engine_open(&eng, &eo, err, sizeof err);
    if (run->machine.core_pu[0] >= 0)
        mgpt_bind_thread_to_pu(run->machine.core_pu[0]);
    if (erc != MGPT_ENGINE_OK) {
        snprintf(b->reason, sizeof b->reason, "%s", err);
        tool_error(NULL, "backend %s: %s", pk->name, err);
        return erc == MGPT_ENGINE_USAGE ? ROOF_USAGE : ROOF_FAIL;
    }
    b->n_kernel_pus = eng.n_binding;   /* 0 for one thread: the engine binds none */
    memcpy(b->kernel_pus, eng.binding, (size_t)b->n_kernel_pus * sizeof *b->kernel_pus);
    const mgpt_backend_desc *d = eng.be.entry->desc;
    snprintf(b->description, sizeof b->description, "%s", d->description ? d->description : "");
    /* the storing streams in the width of its code (the scalar backend's: the SSE2 the
     * compiler vectorises it to, roof_isa_of) */
    roof_isa code = roof_isa_of(d->required_features);
    int rc = roof_measure_ceilings(d->probes, &run->machine, run->threads,
                                   &code, run->ws, &run->timing,
                                   pk->name, &b->c);
    if (rc == 0) {
        if (!b->c.has_probes)
            tool_warn(NULL, "backend %s has no roofline probes: its ceilings are not measured",
                      pk->name);
        /* the ISA of its code, probes and kernels alike: what it requires */
        fill_theory(b, &run->machine, d->required_features);
        for (int ci = 0; ci < run->opt.configs.n && !run->opt.no_kernels && rc == 0; ci++) {
            roof_kernel *ks;
            int nk;
            rc = roof_measure_kernels(&eng, run->opt.configs.v[ci], &run->timing, pk->name,
                                      &ks, &nk);
            if (rc != 0)
                break;
            roof_kernel *all = realloc(b->kernels, (size_t)(b->n_kernels + nk) * sizeof *all);
            if (!all) {
                free(ks);
                rc = -1;
                break;
            }
            b->kernels = all;
            for (int i = 0; i < nk; i++) {
                /* each kernel against the ceilings of the threads it ran on: those of one
                 * thread when the engine kept its calls on the calling thread */
                int ct = roof_ceiling_threads(&b->c, ks[i].threads);
                int set = ct > 1 ? 1 : 0;
                ks[i].ceiling_threads = ct;
                roof_place(&ks[i], b->c.peak[set].gflops, b->c.stream[set], ks[i].threads);
                b->kernels[b->n_kernels++] = ks[i];
            }
            free(ks);
        }
    }
    mgpt_engine_close(&eng);
    if (rc == 0) {
        b->measured = 1;
        return ROOF_OK;
    }
    if (!b->reason[0])
        snprintf(b->reason, sizeof b->reason, "measurement failed");
    return ROOF_FAIL;
}

static int write_outputs(const roof_run *run)
{
    int rc = ROOF_OK;
    int stdout_taken = (run->opt.json_path && strcmp(run->opt.json_path, "-") == 0) ||
                       (run->opt.svg_path && strcmp(run->opt.svg_path, "-") == 0);
    FILE *table = stdout_taken ? (run->opt.quiet ? NULL : stderr) : stdout;
    if (table && roof_write_table(run, table) != 0) {
        tool_error(NULL, "could not write the table: %s", "write error");
        rc = ROOF_FAIL;
    }
    if (run->opt.json_path && roof_write_json(run, run->opt.json_path) != 0)
        rc = ROOF_FAIL;
    if (run->opt.svg_path && roof_write_svg_file(run, run->opt.svg_path) != 0)
        rc = ROOF_FAIL;
    if (fflush(stdout) != 0) {
        tool_error(NULL, "could not write to standard output");
        rc = ROOF_FAIL;
    }
    return rc;
}

int main(int argc, char **argv)
{
    roof_run run;
    memset(&run, 0, sizeof run);
    tool_set_program("mgpt-roofline", 0);
    int rc = roof_parse_options(argc, argv, &run.opt);
    if (rc == ROOF_EXIT_EARLY)
        return ROOF_OK;
    if (rc != 0) {
        roof_options_free(&run.opt);
        return rc;
    }
    double t0 = roof_now();
    time_t now = time(NULL);
    strftime(run.timestamp, sizeof run.timestamp, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));

    mgpt_registry reg;
    char err[512];
    if (mgpt_registry_load(&reg, NULL, stderr, err, sizeof err) < 0) {
        tool_error(NULL, "%s", err);
        roof_options_free(&run.opt);
        return ROOF_USAGE;
    }
    pick *picks = NULL;
    int n_picks = 0;
    rc = choose_backends(&reg, &run.opt, &picks, &n_picks);
    if (rc != 0) {
        mgpt_registry_free(&reg);
        roof_options_free(&run.opt);
        return rc;
    }

    roof_progress("reading the machine (CPU, topology, clocks)");
    roof_machine_read(&run.machine);
    if (run.opt.threads > run.machine.cores) {
        tool_error(NULL, "--threads %d: this machine has %d physical core%s we may run on; "
                   "accepted: 1 to %d", run.opt.threads, run.machine.cores,
                   run.machine.cores == 1 ? "" : "s", run.machine.cores);
        free(picks);
        mgpt_registry_free(&reg);
        roof_options_free(&run.opt);
        return ROOF_USAGE;
    }
    run.threads = run.opt.threads ? run.opt.threads : run.machine.cores;
    if (run.machine.busy_tasks > 0)
        tool_warn(NULL, "%d other task%s %s runnable when this run started: the ceilings will "
                  "be low and noisy", run.machine.busy_tasks,
                  run.machine.busy_tasks == 1 ? "" : "s",
                  run.machine.busy_tasks == 1 ? "was" : "were");
    const char *dram_source = run.opt.dram_size_given ? "--dram-size" : "--quick";
    roof_worksets_plan(&run.machine, 1, run.opt.dram_bytes, dram_source, &run.ws[0]);
    roof_worksets_plan(&run.machine, run.threads, run.opt.dram_bytes, dram_source, &run.ws[1]);
    run.timing.repeats = run.opt.repeats;
    run.timing.min_time = run.opt.min_time;
    /* the main thread (calibration, kernels) runs on the first core */
    run.have_process_mask = sched_getaffinity(0, sizeof run.process_mask, &run.process_mask) == 0;
    if (run.machine.core_pu[0] >= 0)
        mgpt_bind_thread_to_pu(run.machine.core_pu[0]);

    run.be = calloc((size_t)n_picks, sizeof *run.be);
    run.n_be = n_picks;
    int failed = 0, measured = 0, usage = 0;
    for (int i = 0; i < n_picks && run.be && !usage; i++) {
        int st = measure_backend(&run, &reg, &picks[i], &run.be[i]);
        if (st == ROOF_USAGE)
            usage = 1; /* the same for every backend: stop here */
        else if (st != ROOF_OK)
            failed++;
        else if (run.be[i].measured)
            measured++;
    }
    roof_buffers_free();
    run.seconds = roof_now() - t0;
    roof_progress("measured in %.1f s", run.seconds);

    rc = usage ? ROOF_USAGE : run.be ? write_outputs(&run) : ROOF_FAIL;
    if (rc == ROOF_OK && (failed || !measured))
        rc = ROOF_FAIL;
    for (int i = 0; i < run.n_be && run.be; i++)
        free(run.be[i].kernels);
    free(run.be);
    free(picks);
    mgpt_registry_free(&reg);
    roof_options_free(&run.opt);
    return rc;
}
