/* mgpt backends: every module the registry found, what each needs, whether this CPU can
 * run it, and which one a command would use and why. Nothing of a module runs here: the
 * listing reads only descriptors (data). */
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "cpu.h"

static const struct option longopts[] = {
    {"verbose", no_argument, NULL, 'v'},
    CLI_HELP_AND_VERSION,
};

static void help(void)
{
    printf("Usage: mgpt [GLOBAL OPTIONS] backends [OPTIONS]\n"
           "List the backend modules found on the plugin search path: name, file, priority,\n"
           "required CPU features and whether this CPU can run them, then the one that\n"
           "train, sample and eval would use, and why. Also shows the CPU features detected\n"
           "and those masked by MGPT_CPU_DISABLE.\n"
           "\n"
           "  -v, --verbose             also list the kernels each backend implements\n"
           "                            itself (the others come from the scalar backend)\n"
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

/* The kernel slots a module fills (native 1) or leaves to the scalar backend (0), wrapped. */
static void print_kernels(const char *label, const mgpt_kernels *k, int native)
{
    int count = 0;
    for (int i = 0; i < mgpt_kernel_count(); i++)
        count += (mgpt_kernel_get(k, i) != NULL) == native;
    if (count == 0 && !native)
        return; /* nothing comes from scalar */
    int col = printf("    %-10s", label), any = 0;
    for (int i = 0; i < mgpt_kernel_count(); i++) {
        if ((mgpt_kernel_get(k, i) != NULL) != native)
            continue;
        const char *name = mgpt_kernel_name(i);
        if (any && col + 1 + (int)strlen(name) > 88)
            col = printf("\n    %-10s", "") - 1;
        col += printf(" %s", name);
        any = 1;
    }
    printf("%s\n", any ? "" : " none");
}

static void print_entry(const mgpt_backend_entry *e, int verbose)
{
    char need[256];
    printf("  %s\n", e->name);
    printf("    file:      %s\n", e->path);
    if (e->desc) {
        printf("    about:     %s\n", e->desc->description ? e->desc->description : "");
        printf("    priority:  %d\n", e->desc->priority);
        mgpt_cpu_feature_names(e->desc->required_features, need, sizeof need);
        printf("    requires:  %s\n", need[0] ? need : "nothing");
        printf("    threads:   %s\n", e->desc->flags & MGPT_BACKEND_THREADED ? "yes (--threads)" : "no");
    }
    printf("    status:    %s", status_name(e));
    if (e->status == MGPT_BE_NOT_RUNNABLE) {
        mgpt_cpu_feature_names(e->missing, need, sizeof need);
        printf(": needs %s", need);
    } else if (e->status == MGPT_BE_REJECTED || e->status == MGPT_BE_SHADOWED)
        printf(": %s", e->reason);
    putchar('\n');
    if (verbose && e->desc) {
        print_kernels("kernels:", e->desc->kernels, 1);
        print_kernels("from scalar:", e->desc->kernels, 0);
    }
}

int cmd_backends(int argc, char **argv, const cli_global *g)
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

    mgpt_cpu_feature_names(cpu.hw_features, names, sizeof names);
    printf("CPU features: %s\n", names[0] ? names : "none");
    mgpt_cpu_feature_names(cpu.masked, names, sizeof names);
    printf("masked by MGPT_CPU_DISABLE: %s\n", names[0] ? names : "none");
    printf("search path: %s\n", reg.searched[0] ? reg.searched : "(empty)");
    printf("modules:%s\n", reg.n ? "" : " none");
    for (int i = 0; i < reg.n; i++)
        print_entry(&reg.entries[i], verbose);

    const char *env = getenv("MGPT_BACKEND");
    const char *forced = g->backend && *g->backend ? g->backend : env && *env ? env : NULL;
    const char *by = g->backend && *g->backend ? "--backend" : "MGPT_BACKEND";
    const mgpt_backend_entry *e;
    char why[1200];
    int rc = mgpt_registry_select(&reg, forced, &e, why, sizeof why);
    if (rc != 0) {
        printf("selected: none\n");
        tool_error(C, "%s%s%s", why, rc == 2 && forced ? " given by " : "",
                   rc == 2 && forced ? by : "");
        status = rc == 2 ? CLI_USAGE : CLI_FAIL;
    } else if (forced) {
        printf("selected: %s (forced by %s)\n", e->name, by);
    } else {
        printf("selected: %s (the highest-priority runnable backend, priority %d)\n",
               e->name, e->desc->priority);
    }
    mgpt_registry_free(&reg);
    return status;
}
