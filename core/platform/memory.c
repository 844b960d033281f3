/* The memory limit of this process (see memory.h). */
#include <stdio.h>
#include <unistd.h>
#include <sys/resource.h>
#include "platform/memory.h"

/* Bytes of address space this process has mapped now (libraries, stacks, heap): they count
 * against RLIMIT_AS too. 0 when /proc is not there. */
static double mapped_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%lu", &pages) != 1)
        pages = 0;
    fclose(f);
    return (double)pages * (double)sysconf(_SC_PAGESIZE);
}

void mgpt_memory_limit_get(mgpt_memory_limit *l)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    l->bytes = pages > 0 && page > 0 ? (double)pages * (double)page : 1e300;
    l->what = "this machine has";
    struct rlimit r;
    if (getrlimit(RLIMIT_AS, &r) == 0 && r.rlim_cur != RLIM_INFINITY) {
        double left = (double)r.rlim_cur - mapped_bytes();
        if (left < 0)
            left = 0;
        if (left < l->bytes) {
            l->bytes = left;
            l->what = "the address-space limit (RLIMIT_AS, ulimit -v) leaves";
        }
    }
    if (getrlimit(RLIMIT_DATA, &r) == 0 && r.rlim_cur != RLIM_INFINITY &&
        (double)r.rlim_cur < l->bytes) {
        l->bytes = (double)r.rlim_cur;
        l->what = "the data-size limit (RLIMIT_DATA, ulimit -d) allows";
    }
}

void mgpt_memory_format(double bytes, char *buf, size_t len)
{
    static const char *const unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    while (bytes >= 1024 && u < 5) {
        bytes /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%.0f bytes", bytes);
    else
        snprintf(buf, len, "%.1f %s", bytes, unit[u]);
}
