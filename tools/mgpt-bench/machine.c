/* What the numbers were measured on: the CPU (libcpuid and our own feature check), its
 * topology (hwloc) and the OS. (The threads and their placement are the engine's.) */
#include <string.h>
#include <sys/utsname.h>
#include "bench.h"
#include "platform/cpu.h"
#include "platform/topology.h"

/* "sse2 avx2 fma" -> ["sse2", "avx2", "fma"] */
static json_t *feature_list(uint32_t mask)
{
    char names[512];
    mgpt_cpu_feature_names(mask, names, sizeof names);
    json_t *a = json_array();
    char *save = NULL;
    for (char *w = strtok_r(names, " ", &save); w; w = strtok_r(NULL, " ", &save))
        json_array_append_new(a, json_string(w));
    return a;
}

json_t *bench_machine_json(void)
{
    json_t *m = json_object();
    char err[256];

    mgpt_cpu_info cpu;
    if (mgpt_cpu_detect(&cpu, err, sizeof err) == 0) {
        json_object_set_new(m, "cpu", json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:o, s:o}",
            "vendor", cpu.vendor, "brand", cpu.brand, "family", cpu.family, "model", cpu.model,
            "stepping", cpu.stepping, "cores", cpu.cores, "logical_cpus", cpu.logical_cpus,
            "clock_mhz", cpu.clock_mhz, "features", feature_list(cpu.features),
            "masked_features", feature_list(cpu.masked)));
    }

    mgpt_topology t;
    if (mgpt_topology_read(&t, err, sizeof err) == 0) {
        json_object_set_new(m, "topology", json_pack("{s:i, s:i, s:i, s:I, s:i, s:I, s:i, s:I, s:i}",
            "packages", t.packages, "cores", t.cores, "pus", t.pus,
            "l1d_bytes", (json_int_t)t.l1d, "l1d_count", t.l1d_count,
            "l2_bytes", (json_int_t)t.l2, "l2_count", t.l2_count,
            "l3_bytes", (json_int_t)t.l3, "l3_count", t.l3_count));
    }

    struct utsname u;
    if (uname(&u) == 0)
        json_object_set_new(m, "os", json_pack("{s:s, s:s, s:s}", "sysname", u.sysname,
                                               "release", u.release, "machine", u.machine));
    /* the compiler of this tool; the backends may have been built by another */
#if defined(__clang__)
    json_object_set_new(m, "compiler", json_string("clang " __clang_version__));
#elif defined(__GNUC__)
    json_object_set_new(m, "compiler", json_string("gcc " __VERSION__));
#endif
    return m;
}

void bench_machine_describe(char *buf, size_t len)
{
    char err[256];
    mgpt_cpu_info cpu;
    mgpt_topology t;
    const char *brand = mgpt_cpu_detect(&cpu, err, sizeof err) == 0 ? cpu.brand : "unknown CPU";
    if (mgpt_topology_read(&t, err, sizeof err) == 0)
        snprintf(buf, len, "%s (%d core%s, %d hardware thread%s)", brand, t.cores,
                 t.cores == 1 ? "" : "s", t.pus, t.pus == 1 ? "" : "s");
    else
        snprintf(buf, len, "%s", brand);
}

void bench_find_commit(const char *given, char *buf, size_t len)
{
    buf[0] = '\0';
    if (given) {
        snprintf(buf, len, "%s", given);
        return;
    }
    /* the usual case: run from the source tree that was built */
    FILE *p = popen("git rev-parse --short HEAD 2>/dev/null", "r");
    if (!p)
        return;
    if (!fgets(buf, (int)len, p))
        buf[0] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    if (pclose(p) != 0)
        buf[0] = '\0';
}
