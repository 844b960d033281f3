/* mgpt info: the machine as mgpt sees it: CPU (libcpuid and CPUID), topology (hwloc) and
 * where backend modules are looked for. */
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "platform/cpu.h"
#include "engine/threads.h"
#include "platform/topology.h"
#include "rank_report.h"

static const struct option longopts[] = {
    CLI_HELP_AND_VERSION,
};

static void help(void)
{
    printf("Usage: mgpt [GLOBAL OPTIONS] info [OPTIONS]\n"
           "Show the CPU (vendor, brand, family and model, features, clock), the topology\n"
           "(packages, cores, hardware threads, cache sizes and counts), the engine's\n"
           "threading layer (OpenMP or not, MGPT_THREAD_SPLIT, the default and --threads\n"
           "thread counts, the processors the threads are bound to) and the backend plugin\n"
           "search path. Under mpirun, rank 0 prints every rank's report in rank order,\n"
           "each under a heading with its host, cores, CPU binding and backend.\n"
           "\n"
           "  -h, --help                show this help and exit\n"
           "      --version             show the version and exit\n"
           "\n"
           "Exit status: 0 on success, 1 when the CPU or topology cannot be read, 2 for a\n"
           "wrong option or MGPT_CPU_DISABLE value.\n");
}

static const char C[] = "info";

/* --help and --version only */
static const cli_command command = {C, "", longopts, help, NULL};

static void size_text(size_t bytes, char *buf, size_t len)
{
    if (bytes == 0)
        snprintf(buf, len, "none");
    else if (bytes % (1024 * 1024) == 0)
        snprintf(buf, len, "%zu MiB", bytes / (1024 * 1024));
    else if (bytes >= 1024 * 1024)
        snprintf(buf, len, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
    else if (bytes % 1024 == 0)
        snprintf(buf, len, "%zu KiB", bytes / 1024);
    else
        snprintf(buf, len, "%zu bytes", bytes);
}

static void cache_line(const char *name, size_t size, int count)
{
    char s[64];
    size_text(size, s, sizeof s);
    if (size)
        printf("  %-17s %s x %d\n", name, s, count);
    else
        printf("  %-17s none\n", name);
}

/* Where the engine's threads go (mgpt_engine_binding, what mgpt_engine_open does): thread i
 * on core i's first PU, unless the user gave the OpenMP runtime a placement. */
static void binding_lines(const mgpt_topology *t, int threads)
{
    const char *var = mgpt_thread_placement_variable();
    if (var && threads > 1) {
        printf("  %-17s %s=%s is set: the OpenMP runtime places the threads\n", "binding",
               var, getenv(var));
        return;
    }
    int pu[MGPT_MAX_THREADS];
    int n = mgpt_engine_binding(t, threads, pu, MGPT_MAX_THREADS);
    if (n == 0 && threads == 1) {
        printf("  %-17s none: one thread, where the OS runs it\n", "binding");
        return;
    }
    if (n == 0) {
        printf("  %-17s none: %d threads on %d cores, placed by the OS\n", "binding", threads,
               t->n_core_pu);
        return;
    }
    char list[4096];
    cli_binding_text(pu, n, list, sizeof list);
    if (n == 1)
        printf("  %-17s thread 0 on PU %s (OS processor index)\n", "binding", list);
    else
        printf("  %-17s threads 0..%d on PUs %s (one per core; OS processor indices)\n",
               "binding", n - 1, list);
}

/* The engine's threading layer: whether this build has it (OpenMP), how ops are split
 * (MGPT_THREAD_SPLIT), how many threads a command would run every backend on, and where
 * they go (t NULL: the topology is unknown, so is the default). */
static void threads_lines(const mgpt_topology *t, int given)
{
    int avail = mgpt_threads_available();
    printf("Threads (the engine's threading layer: any backend runs on them)\n");
    printf("  %-17s %s\n", "OpenMP", avail ? "yes" : "no: every command runs on 1 thread");
    char split[256];
    mgpt_split_mode mode;
    if (mgpt_split_mode_from_env(&mode, split, sizeof split) != 0)
        printf("  %-17s %s\n", "split", split);
    else
        printf("  %-17s %s%s\n", "split", mode == MGPT_SPLIT_ALWAYS ? "always"
               : mode == MGPT_SPLIT_NEVER ? "never" : "auto (ops from their measured size on)",
               getenv("MGPT_THREAD_SPLIT") ? " (MGPT_THREAD_SPLIT)" : "");
    int cores = !t ? 1 : t->cores > 0 ? t->cores : (t->pus > 0 ? t->pus : 1);
    if (!avail)
        printf("  %-17s 1 (no OpenMP)\n", "default");
    else if (t)
        printf("  %-17s %d (one per physical core)\n", "default", cores);
    else
        printf("  %-17s unknown (one per physical core; the topology is unknown)\n",
               "default");
    if (given > 0)
        printf("  %-17s %d (--threads)%s\n", "threads", given,
               given > 1 && !avail ? ": more than this build runs" : "");
    if (t)
        binding_lines(t, given > 0 ? given : avail ? cores : 1);
}

int cmd_info_parse(int argc, char **argv, int *status)
{
    return cli_command_options(&command, argc, argv, NULL, status);
}

/* The report; f (under mpirun) is given the backend a command would use. */
static int info(int argc, char **argv, const cli_global *g, rank_facts *f)
{
    int status;
    if (!cli_command_options(&command, argc, argv, NULL, &status))
        return status;

    char err[1200], names[256];
    mgpt_cpu_info cpu;
    if ((status = cli_cpu_detect(C, &cpu)) != CLI_OK)
        return status;
    printf("CPU\n");
    printf("  %-17s %s\n", "vendor", cpu.vendor[0] ? cpu.vendor : "unknown");
    printf("  %-17s %s\n", "brand", cpu.brand[0] ? cpu.brand : "unknown");
    printf("  %-17s family %d, model %d, stepping %d\n", "model", cpu.family, cpu.model,
           cpu.stepping);
    if (cpu.libcpuid_ok)
        printf("  %-17s %d cores, %d logical CPUs (per package, as libcpuid reports)\n", "cores",
               cpu.cores, cpu.logical_cpus);
    else
        printf("  %-17s unknown (libcpuid failed; features come from CPUID alone)\n", "cores");
    if (cpu.clock_mhz > 0)
        printf("  %-17s %d MHz (nominal, as the OS reports it)\n", "clock", cpu.clock_mhz);
    else
        printf("  %-17s unknown\n", "clock");
    mgpt_cpu_feature_names(cpu.hw_features, names, sizeof names);
    printf("  %-17s %s\n", "features", names[0] ? names : "none");
    mgpt_cpu_feature_names(cpu.masked, names, sizeof names);
    printf("  %-17s %s\n", "masked", names[0] ? names : "none (MGPT_CPU_DISABLE is not set)");
    mgpt_cpu_feature_names(cpu.features, names, sizeof names);
    printf("  %-17s %s\n", "usable", names[0] ? names : "none");
    printf("  %-17s 0x%llx (register state the OS saves)\n", "xcr0",
           (unsigned long long)cpu.xcr0);

    mgpt_topology t;
    int have_topo = 0;
    printf("Topology (hwloc, CPUs this process may use)\n");
    if (mgpt_topology_read(&t, err, sizeof err) != 0) {
        printf("  unknown: %s\n", err);
        status = CLI_FAIL;
    } else {
        printf("  %-17s %d\n", "packages", t.packages);
        printf("  %-17s %d\n", "cores", t.cores);
        printf("  %-17s %d\n", "PUs", t.pus);
        cache_line("L1d", t.l1d, t.l1d_count);
        cache_line("L2", t.l2, t.l2_count);
        cache_line("L3", t.l3, t.l3_count);
        have_topo = 1;
    }
    threads_lines(have_topo ? &t : NULL, g->threads);

    mgpt_registry reg;
    printf("Plugins\n");
    int loaded = cli_registry_load(C, &reg, NULL);
    if (loaded != CLI_OK)
        return loaded;
    printf("  %-17s %s\n", "search path", reg.searched[0] ? reg.searched : "(empty)");
    if (reg.check[0])
        printf("  %-17s %s\n", "modules checked", reg.check);
    const char *env = getenv("MGPT_PLUGIN_PATH");
    printf("  %-17s %s\n", "MGPT_PLUGIN_PATH", env ? env : "(not set)");
    printf("  %-17s", "modules");
    int any = 0;
    for (int i = 0; i < reg.n; i++)
        if (reg.entries[i].desc) {
            printf(" %s%s", reg.entries[i].name,
                   reg.entries[i].status == MGPT_BE_RUNNABLE ? "" : " (not runnable)");
            any = 1;
        }
    printf("%s\n", any ? "  (details: mgpt backends)" : " none");
    if (f)
        rank_backend(&reg, g, f);
    mgpt_registry_free(&reg);
    return status;
}

int cmd_info(int argc, char **argv, const cli_global *g)
{
    return rank_report_run(C, info, argc, argv, g);
}
