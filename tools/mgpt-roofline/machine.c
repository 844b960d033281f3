/* What the numbers are measured on: the CPU as libcpuid and CPUID see it (brand, features,
 * the clocks libcpuid reports), the topology as hwloc sees it (cores, caches), the measured
 * core clock, and whether other work is competing for the cores. */
#include <cpuid.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <libcpuid/libcpuid.h>
#include "roofline.h"

/* procs_running of /proc/stat counts this process too. */
static int runnable_tasks(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    char line[256];
    int n = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "procs_running %d", &n) == 1)
            break;
    fclose(f);
    return n;
}

static size_t mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return (size_t)kb * 1024;
}

/* Family and model as Intel and AMD define the display values. */
static void display_family_model(int *family, int *model)
{
    unsigned a, b, c, d;
    *family = *model = -1;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return;
    int base_family = (a >> 8) & 0xF, base_model = (a >> 4) & 0xF;
    int ext_family = (a >> 20) & 0xFF, ext_model = (a >> 16) & 0xF;
    *family = base_family == 0xF ? base_family + ext_family : base_family;
    *model = base_family == 0x6 || base_family == 0xF ? (ext_model << 4) | base_model
                                                       : base_model;
}

int roof_machine_read(roof_machine *m)
{
    memset(m, 0, sizeof *m);
    char err[512];
    if (mgpt_cpu_detect(&m->cpu, err, sizeof err) == 0)
        m->cpu_ok = 1;
    else
        tool_warn(NULL, "%s", err);
    if (mgpt_topology_read(&m->topo, err, sizeof err) == 0)
        m->topo_ok = 1;
    else
        tool_warn(NULL, "%s; assuming 1 core and no cache sizes", err);
    m->cores = m->topo_ok && m->topo.n_core_pu > 0 ? m->topo.n_core_pu : 1;
    for (int i = 0; i < m->cores && i < ROOF_MAX_THREADS; i++)
        m->core_pu[i] = m->topo_ok && m->topo.n_core_pu > 0 ? m->topo.core_pu[i] : -1;

    display_family_model(&m->family, &m->model);
    m->libcpuid_os_mhz = m->libcpuid_tsc_mhz = m->libcpuid_ic_mhz = -1;
    if (cpuid_present()) {
        /* libcpuid may move the thread while it measures; put it back afterwards */
        cpu_set_t saved;
        int have_saved = sched_getaffinity(0, sizeof saved, &saved) == 0;
        struct cpu_id_t id;
        if (cpu_identify(NULL, &id) == 0)
            snprintf(m->codename, sizeof m->codename, "%s", id.cpu_codename);
        m->libcpuid_os_mhz = cpu_clock_by_os();
        m->libcpuid_tsc_mhz = cpu_clock_measure(100, 1);
        m->libcpuid_ic_mhz = cpu_clock_by_ic(25, 4);
        if (have_saved)
            sched_setaffinity(0, sizeof saved, &saved);
    }
    m->measured_ghz = roof_measure_clock_ghz(0.02);

    /* the median of a few samples, less this process */
    int s[5];
    for (int i = 0; i < 5; i++) {
        s[i] = runnable_tasks();
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    double d[5];
    for (int i = 0; i < 5; i++)
        d[i] = s[i];
    double med = roof_median(d, 5);
    m->busy_tasks = med >= 1 ? (int)med - 1 : -1;
    m->mem_available = mem_available();
    return 0;
}

void roof_machine_describe(const roof_machine *m, char *buf, size_t len)
{
    snprintf(buf, len, "%s (%d core%s)", m->cpu_ok && m->cpu.brand[0] ? m->cpu.brand : "unknown CPU",
             m->cores, m->cores == 1 ? "" : "s");
}
