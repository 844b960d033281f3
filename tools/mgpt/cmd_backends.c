/* mgpt backends: every module the registry found, what each needs, whether this CPU can
 * run it (or why it was skipped), and which one a command would use and why. No kernel of a
 * module runs here: the listing reads only descriptors (data), of modules the loader first
 * loaded and checked in child processes. */
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "platform/cpu.h"
#include "engine/threads.h"
#include "rank_report.h"

static const struct option longopts[] = {
    {"verbose", no_argument, NULL, 'v'},
    CLI_HELP_AND_VERSION,
};

static void help(void)
{
    printf("Usage: mgpt [GLOBAL OPTIONS] backends [OPTIONS]\n"
           "List the backend modules found on the plugin search path: name, file, ABI\n"
           "version, precision (fp32 or bf16), priority, required CPU features and whether\n"
           "this CPU can run them, then the one that train, sample and eval would use, and\n"
           "why. Also shows the backend ABI version, the CPU features detected and those\n"
           "masked by MGPT_CPU_DISABLE. Any backend runs on the engine's --threads threads.\n"
           "Under mpirun, rank 0 prints every rank's listing in rank order, each under a\n"
           "heading with its host, cores, CPU binding and backend.\n"
           "\n"
           "  -v, --verbose             also list the kernel slots each backend implements\n"
           "                            itself; the others run the scalar reference kernel\n"
           "  -h, --help                show this help and exit\n"
           "      --version             show the version and exit\n"
           "\n"
           "Exit status: 0 when a backend can be used; 1 when none is found or none\n"
           "can run; 2 when the forced backend (--backend, MGPT_BACKEND) is unknown or\n"
           "cannot run here.\n");
}

static const char C[] = "backends";

/* -v: the only option; opts is the verbose flag. */
static int take(int c, const char *arg, void *opts)
{
    (void)c;
    (void)arg;
    *(int *)opts = 1;
    return CLI_OK;
}

static const cli_command command = {C, "v", longopts, help, take};

static const char *status_name(const mgpt_backend_entry *e)
{
    switch (e->status) {
    case MGPT_BE_RUNNABLE: return "runnable";
    case MGPT_BE_NOT_RUNNABLE: return "not runnable";
    case MGPT_BE_REJECTED: return "rejected";
    case MGPT_BE_SHADOWED: return "shadowed";
    }
    return "?";
}

static const char *precision_name(uint32_t p)
{
    switch (p) {
    case MGPT_PRECISION_FP32: return "fp32";
    case MGPT_PRECISION_BF16: return "bf16 (chosen only by name)";
    }
    return "unknown";
}

/* Whether slot i of a module is its own kernel: inside the part of its table the engine
 * reads (n_slots: a module built for an older minor has a shorter table, which must not be
 * read past) and not NULL. */
static int slot_native(const mgpt_backend_entry *e, int i)
{
    return i < e->n_slots && mgpt_kernel_get(e->desc->kernels, i) != NULL;
}

/* The kernel slots a module fills (native 1) or leaves to the scalar reference (0),
 * wrapped under a label. */
static void print_kernels(const char *label, const mgpt_backend_entry *e, int native)
{
    int count = 0;
    for (int i = 0; i < mgpt_kernel_count(); i++)
        count += slot_native(e, i) == native;
    if (count == 0 && !native)
        return; /* nothing runs the reference */
    int col = printf("    %-10s", label), any = 0;
    for (int i = 0; i < mgpt_kernel_count(); i++) {
        if (slot_native(e, i) != native)
            continue;
        const char *name = mgpt_kernel_name(i);
        if (any && col + 1 + (int)strlen(name) > 88)
            col = printf("\n    %-10s", "") - 1;
        col += printf(" %s", name);
        any = 1;
    }
    printf("%s\n", any ? "" : " none");
}

/* What the engine makes of a module's table when it was built for another minor: a shorter
 * table (older) has its missing slots run the reference, a longer one (newer) has the
 * slots past the engine's list unused. */
static void print_table_reach(const mgpt_backend_entry *e)
{
    const mgpt_backend_desc *d = e->desc;
    int count = mgpt_kernel_count();
    unsigned major = d->abi_major, minor = d->abi_minor;
    if (e->n_slots < count) {
        printf("    %-10s built for ABI %u.%u with %d slot%s; the rest run the reference\n",
               "table:", major, minor, e->n_slots, e->n_slots == 1 ? "" : "s");
        return;
    }
    long extra = (long)d->n_kernels - count;
    if (minor <= MGPT_BACKEND_ABI_MINOR && extra <= 0)
        return;
    if (minor > MGPT_BACKEND_ABI_MINOR)
        printf("    %-10s built for ABI %u.%u, newer than this engine's %u.%u", "table:", major,
               minor, MGPT_BACKEND_ABI_MAJOR, MGPT_BACKEND_ABI_MINOR);
    else
        printf("    %-10s built for ABI %u.%u with %u slots", "table:", major, minor,
               (unsigned)d->n_kernels);
    if (extra > 0)
        printf(": %ld slot%s past the engine's %d %s unused", extra, extra == 1 ? "" : "s",
               count, extra == 1 ? "is" : "are");
    putchar('\n');
}

static void print_entry(const mgpt_backend_entry *e, int verbose)
{
    char need[256];
    printf("  %s\n", e->name);
    printf("    file:      %s\n", e->path);
    if (e->desc) {
        printf("    about:     %s\n", e->desc->description ? e->desc->description : "");
        printf("    abi:       %u.%u\n", (unsigned)e->desc->abi_major,
               (unsigned)e->desc->abi_minor);
        printf("    precision: %s\n", precision_name(e->desc->precision));
        printf("    priority:  %d\n", e->desc->priority);
        mgpt_cpu_feature_names(e->desc->required_features, need, sizeof need);
        printf("    requires:  %s\n", need[0] ? need : "nothing");
    }
    printf("    status:    %s", status_name(e));
    if (e->status == MGPT_BE_NOT_RUNNABLE) {
        mgpt_cpu_feature_names(e->missing, need, sizeof need);
        printf(": needs %s", need);
    } else if (e->status == MGPT_BE_REJECTED || e->status == MGPT_BE_SHADOWED)
        printf(": %s", e->reason);
    putchar('\n');
    if (verbose && e->desc && e->desc->kernels) {
        print_kernels("kernels:", e, 1);
        print_kernels("reference:", e, 0);
        print_table_reach(e);
    }
}

int cmd_backends_parse(int argc, char **argv, int *status)
{
    int verbose = 0;
    return cli_command_options(&command, argc, argv, &verbose, status);
}

/* The listing; f (under mpirun) is given the backend chosen. */
static int backends(int argc, char **argv, const cli_global *g, rank_facts *f)
{
    int verbose = g->verbose, status;
    if (!cli_command_options(&command, argc, argv, &verbose, &status))
        return status;

    char names[256];
    mgpt_cpu_info cpu;
    mgpt_registry reg;
    if ((status = cli_cpu_detect(C, &cpu)) != CLI_OK ||
        (status = cli_registry_load(C, &reg, NULL)) != CLI_OK)
        return status;

    printf("backend ABI: %u.%u (%d kernel slots)\n", MGPT_BACKEND_ABI_MAJOR,
           MGPT_BACKEND_ABI_MINOR, mgpt_kernel_count());
    mgpt_cpu_feature_names(cpu.hw_features, names, sizeof names);
    printf("CPU features: %s\n", names[0] ? names : "none");
    mgpt_cpu_feature_names(cpu.masked, names, sizeof names);
    printf("masked by MGPT_CPU_DISABLE: %s\n", names[0] ? names : "none");
    printf("search path: %s\n", reg.searched[0] ? reg.searched : "(empty)");
    if (reg.check[0])
        printf("modules checked: %s\n", reg.check);
    /* threads are the engine's, not a backend's: say so once, for every module */
    printf("threads: the engine runs any backend on --threads threads (%s)\n",
           mgpt_threads_available() ? "OpenMP" : "this build has no OpenMP: 1 thread");
    printf("modules:%s\n", reg.n ? "" : " none");
    for (int i = 0; i < reg.n; i++)
        print_entry(&reg.entries[i], verbose);

    /* core's selection, as every command makes it: --backend, else MGPT_BACKEND (core
     * reads it), else the best. A choice other than the best was forced by MGPT_BACKEND;
     * without --backend, a refusal can only be of MGPT_BACKEND's name. */
    const char *forced = g->backend && *g->backend ? g->backend : NULL;
    const mgpt_backend_entry *e;
    char why[1200];
    int rc = mgpt_registry_select(&reg, forced, &e, why, sizeof why);
    const char *by = forced ? "--backend" : "MGPT_BACKEND";
    if (rc != 0) {
        printf("selected: none\n");
        /* core names MGPT_BACKEND itself when the name came from there */
        tool_error(C, "%s%s", why, rc == 2 && forced ? " given by --backend" : "");
        status = rc == 2 ? CLI_USAGE : CLI_FAIL;
    } else if (forced || e != mgpt_registry_best(&reg)) {
        printf("selected: %s (forced by %s)\n", e->name, by);
    } else {
        printf("selected: %s (the highest-priority runnable backend, priority %d)\n",
               e->name, e->desc->priority);
    }
    if (f)
        rank_backend(&reg, g, f);
    mgpt_registry_free(&reg);
    return status;
}

int cmd_backends(int argc, char **argv, const cli_global *g)
{
    return rank_report_run(C, backends, argc, argv, g);
}
