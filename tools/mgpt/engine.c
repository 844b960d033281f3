/* The engine a command computes with. Opening it is core's one call, mgpt_engine_open
 * (the registry, the backend, its instance, the team of threads and FTZ/DAZ), so that mgpt,
 * mgpt-bench and mgpt-roofline choose and run backends alike; what stays here is what the
 * command line says about it: the message, the hint and the --verbose line. */
#include <string.h>
#include "cli.h"
#include "platform/cpu.h"
#include "platform/topology.h"

int cli_cpu_detect(const char *cmd, mgpt_cpu_info *cpu)
{
    char err[1200];
    if (mgpt_cpu_detect(cpu, err, sizeof err) != 0) {
        tool_error(cmd, "%s", err);
        return CLI_USAGE; /* MGPT_CPU_DISABLE names an unknown feature */
    }
    return CLI_OK;
}

int cli_registry_load(const char *cmd, mgpt_registry *reg, FILE *log)
{
    char err[1200];
    if (mgpt_registry_load(reg, NULL, log, err, sizeof err) < 0) {
        tool_error(cmd, "%s", err);
        return CLI_USAGE; /* MGPT_CPU_DISABLE names an unknown feature */
    }
    return CLI_OK;
}

/* The --verbose lines: which backend, from where, why it was chosen, and the threads. */
static void describe_choice(const cli_engine *e, const char *cmd, const cli_global *g)
{
    const mgpt_backend_entry *en = e->be.entry;
    int n = e->threads;
    char where[320] = "", pus[256] = "";
    if (e->placed_by)
        snprintf(where, sizeof where, ", placed by the OpenMP runtime (%s is set)",
                 e->placed_by);
    else if (e->n_binding) {
        cli_binding_text(e->binding, e->n_binding, pus, sizeof pus);
        snprintf(where, sizeof where, ", bound %s %s", n == 1 ? "to PU" :
                 "one per core to PUs", pus);
    } else if (n > 1)
        snprintf(where, sizeof where, ", placed by the OS (more threads than cores)");
    /* the engine knows a forced name, not that it came from our --backend */
    const char *why = g->backend && *g->backend ? "forced by --backend"
                    : e->why ? e->why : "chosen";
    fprintf(stderr, "mgpt %s: backend %s (%s, priority %d): %s; %d thread%s%s\n", cmd,
            en->name, en->path, en->desc->priority, why, n, n == 1 ? "" : "s", where);
    fprintf(stderr, "mgpt %s: %s: %s\n", cmd, en->name,
            en->desc->description ? en->desc->description : "");
}

int cli_engine_open(cli_engine *e, const char *cmd, const cli_global *g)
{
    memset(e, 0, sizeof *e);
    char err[1200];
    mgpt_engine_opts o = {
        .backend = g->backend,
        .precision = g->precision,
        .threads = g->threads,    /* 0: the engine's default, one per physical core */
        .plugin_path = NULL,      /* MGPT_PLUGIN_PATH, then the system path */
        /* rejected modules are worth a line on every command (once: not on quiet ranks) */
        .warn = tool_quiet() ? NULL : stderr,
    };
    int rc = mgpt_engine_open(e, &o, err, sizeof err);
    if (rc != MGPT_ENGINE_OK) {
        tool_error(cmd, "%s", err);
        if (rc == MGPT_ENGINE_USAGE && e->not_runnable)
            fprintf(stderr, "Run 'mgpt backends' to see which backends this CPU can run.\n");
        return rc == MGPT_ENGINE_USAGE ? CLI_USAGE : CLI_FAIL;
    }
    /* threads beyond the cores share them and wait on each other at every barrier: a
     * run several times slower than on the cores alone, worth a word */
    mgpt_topology t;
    if (g->threads > 1 && mgpt_topology_read(&t, err, sizeof err) == 0 && t.cores > 0 &&
        g->threads > t.cores)
        tool_warn(cmd, "--threads %d is more than the %d physical core%s this process may run "
                  "on: threads will share cores and the run will be slower than with "
                  "--threads %d", g->threads, t.cores, t.cores == 1 ? "" : "s", t.cores);
    if (g->verbose && !tool_quiet())
        describe_choice(e, cmd, g);
    return CLI_OK;
}

void cli_engine_close(cli_engine *e)
{
    /* after a failed open the engine has closed what it opened (its flags say what is
     * left), and a zeroed engine has nothing open */
    if (e->reg_loaded || e->be_open || e->team_open)
        mgpt_engine_close(e);
    memset(e, 0, sizeof *e);
}

/* The engine's: its threading layer runs every backend on them. */
int cli_engine_threads(const cli_engine *e)
{
    return e->be_open ? e->threads : 1;
}

void cli_binding_text(const int *pu, int n, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%d", i ? "," : "", pu[i]);
}

void cli_engine_describe(const cli_engine *e, char *buf, size_t len)
{
    int n = cli_engine_threads(e);
    snprintf(buf, len, "%s (%d thread%s)", e->be_open ? e->be.entry->name : "none", n,
             n == 1 ? "" : "s");
}
