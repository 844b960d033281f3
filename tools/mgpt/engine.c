/* The engine a command computes with: the backend registry, the chosen backend, and the
 * worker threads (one per physical core by default, bound to the cores' first PUs). */
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "cpu.h"
#include "topology.h"

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

int cli_engine_open(cli_engine *e, const char *cmd, const cli_global *g)
{
    memset(e, 0, sizeof *e);
    char err[1200];

    mgpt_topology t;
    int have_topo = mgpt_topology_read(&t, err, sizeof err) == 0;
    int cores = have_topo ? (t.cores > 0 ? t.cores : t.pus) : 1;
    e->threads = g->threads > 0 ? g->threads : (cores > 0 ? cores : 1);
    /* one thread per core: bind thread i to core i's first PU; more threads than cores
     * are left to the OS scheduler */
    if (have_topo)
        e->n_binding = mgpt_thread_binding(&t, e->threads, e->binding,
                                           (int)(sizeof e->binding / sizeof e->binding[0]));

    int status = cli_registry_load(cmd, &e->reg, stderr);
    if (status != CLI_OK)
        return status;
    e->reg_loaded = 1;

    mgpt_backend_env env = {
        .abi_version = MGPT_BACKEND_ABI_VERSION,
        .num_threads = e->threads,
        .pu_binding = e->n_binding ? e->binding : NULL,
        .n_binding = e->n_binding,
        .cpu_features = e->reg.cpu_features,
    };
    int rc = mgpt_backend_open(&e->reg, g->backend, &env, &e->be, err, sizeof err);
    if (rc != 0) {
        tool_error(cmd, "%s", err);
        if (rc == 2 && !strstr(err, "unknown"))
            fprintf(stderr, "Run 'mgpt backends' to see which backends this CPU can run.\n");
        return rc == 2 ? CLI_USAGE : CLI_FAIL;
    }
    e->be_open = 1;
    if (g->verbose) {
        const mgpt_backend_entry *en = e->be.entry;
        const char *envb = getenv("MGPT_BACKEND");
        const char *why = g->backend && *g->backend ? "forced by --backend"
                        : envb && *envb ? "forced by MGPT_BACKEND"
                        : "the highest-priority runnable backend";
        int n = cli_engine_threads(e);
        char where[320] = "", pus[256] = "";
        const char *placed = cli_openmp_placement_variable();
        if ((en->desc->flags & MGPT_BACKEND_THREADED) && placed)
            snprintf(where, sizeof where, ", placed by the OpenMP runtime (%s is set)", placed);
        else if ((en->desc->flags & MGPT_BACKEND_THREADED) && e->n_binding) {
            cli_binding_text(e->binding, e->n_binding, pus, sizeof pus);
            snprintf(where, sizeof where, ", bound %s %s", n == 1 ? "to PU" :
                     "one per core to PUs", pus);
        }
        fprintf(stderr, "mgpt %s: backend %s (%s, priority %d): %s; %d thread%s%s\n", cmd,
                en->name, en->path, en->desc->priority, why, n, n == 1 ? "" : "s", where);
        fprintf(stderr, "mgpt %s: %s: %s\n", cmd, en->name,
                en->desc->description ? en->desc->description : "");
    }
    return CLI_OK;
}

void cli_engine_close(cli_engine *e)
{
    if (e->be_open)
        mgpt_backend_close(&e->be);
    if (e->reg_loaded)
        mgpt_registry_free(&e->reg);
    e->be_open = e->reg_loaded = 0;
}

/* The threads are the backend's: a single-threaded backend runs on one, whatever --threads. */
int cli_engine_threads(const cli_engine *e)
{
    return e->be_open && (e->be.entry->desc->flags & MGPT_BACKEND_THREADED) ? e->threads : 1;
}

const char *cli_openmp_placement_variable(void)
{
    static const char *const vars[] = {"OMP_PLACES", "OMP_PROC_BIND", "GOMP_CPU_AFFINITY",
                                       "KMP_AFFINITY"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return vars[i];
    }
    return NULL;
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
