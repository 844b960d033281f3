/* Finding and checking backend modules (choosing and opening one: backend_open.c).
 *
 * Order of trust: every module file on the path is first loaded and checked in a child
 * process of its own (the helper mgpt-probe-module, module_probe.c), so that what a module
 * does when loaded (a crash, an exit, an illegal instruction, a hang) ends that process, not
 * the program. Only the modules the helper accepted are dlopened here, and their descriptors
 * checked again (module_check.c: every pointer tested before it is read) before any of
 * their code is called; a module built for a CPU we do not have is listed, never run. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "platform/cpu.h"
#include "engine/module_check.h"
#include "engine/module_probe.h"
#include "engine/registry.h"

#ifndef MGPT_PLUGIN_DIR
#define MGPT_PLUGIN_DIR "/usr/local/lib/mgpt"
#endif
#ifndef MGPT_PROBE_MODULE_PATH
#define MGPT_PROBE_MODULE_PATH "/usr/local/libexec/mgpt/mgpt-probe-module"
#endif
/* A module's check in its child process: load, read the descriptor, report. Milliseconds
 * normally; the timeout is for a module that hangs, generous for a loaded machine. */
#define DEFAULT_PROBE_TIMEOUT_MS 5000
static int add_entry(mgpt_registry *r, mgpt_backend_entry **out)
{
    mgpt_backend_entry *e = realloc(r->entries, (size_t)(r->n + 1) * sizeof *e);
    if (!e)
        return -1;
    r->entries = e;
    *out = &e[r->n++];
    memset(*out, 0, sizeof **out);
    return 0;
}

/* "mgpt_<name>.so" -> name; 0 if the file is not a module file. */
static int module_name(const char *file, char *name, size_t len)
{
    size_t n = strlen(file);
    if (n <= 8 || strncmp(file, "mgpt_", 5) != 0 || strcmp(file + n - 3, ".so") != 0)
        return 0;
    size_t nl = n - 8;
    if (nl >= len)
        return 0;
    for (size_t i = 0; i < nl; i++) {
        char c = file[5 + i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    memcpy(name, file + 5, nl);
    name[nl] = '\0';
    return 1;
}

static void add_module(mgpt_registry *r, const char *dir, const char *file, const char *name)
{
    mgpt_backend_entry *e;
    if (add_entry(r, &e) != 0)
        return;
    snprintf(e->path, sizeof e->path, "%s/%s", dir, file);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->status = MGPT_BE_REJECTED; /* until its checks pass */
    snprintf(e->reason, sizeof e->reason, "not checked");
}

/* Marks e rejected with the reason (warned about later, in path order). */
static void reject(mgpt_backend_entry *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
    e->status = MGPT_BE_REJECTED;
    e->desc = NULL;
    if (e->handle) {
        dlclose(e->handle);
        e->handle = NULL;
    }
}

void mgpt_registry_warn(const mgpt_registry *r, const char *fmt, ...)
{
    if (!r->warn)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(r->warn, "mgpt: warning: ");
    vfprintf(r->warn, fmt, ap);
    fputc('\n', r->warn);
    va_end(ap);
    fflush(r->warn);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds one folder's module files, in name order so that the result never depends on
 * readdir. */
static void scan_dir(mgpt_registry *r, const char *dir)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return;
    char **files = NULL, name[64];
    size_t nf = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (!module_name(de->d_name, name, sizeof name))
            continue;
        if (nf == cap) {
            char **more = realloc(files, (cap ? cap * 2 : 64) * sizeof *files);
            if (!more)
                break;
            files = more;
            cap = cap ? cap * 2 : 64;
        }
        if ((files[nf] = strdup(de->d_name)))
            nf++;
    }
    closedir(dp);
    if (nf)
        qsort(files, nf, sizeof files[0], cmp_str);
    for (size_t i = 0; i < nf; i++) {
        if (module_name(files[i], name, sizeof name))
            add_module(r, dir, files[i], name);
        free(files[i]);
    }
    free(files);
}

static const char *file_type(mode_t m)
{
    return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket"
         : S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device" : "not a file";
}

/* What can be known of a module without loading it: a regular file (symbolic links
 * followed; a FIFO would block dlopen forever) that starts with the ELF header of a shared
 * object of this program's class. 0, else -1 with e rejected. */
static int check_file(mgpt_backend_entry *e)
{
    struct stat st;
    if (stat(e->path, &st) != 0) {
        reject(e, "cannot read it: %s", strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        reject(e, "not a regular file (%s)", file_type(st.st_mode));
        return -1;
    }
    /* O_NONBLOCK: if it was swapped for a FIFO since, opening must not wait for a writer */
    int fd = open(e->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        reject(e, "cannot read it: %s", strerror(errno));
        return -1;
    }
    unsigned char h[18];
    ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, h, sizeof h) : -1;
    close(fd);
    const unsigned char elf_class = sizeof(void *) == 8 ? 2 : 1; /* ELFCLASS64 : 32 */
    if (n < (ssize_t)sizeof h || memcmp(h, "\177ELF", 4) != 0) {
        reject(e, "not an ELF shared object (%s)", n == 0 ? "an empty file" : "no ELF header");
        return -1;
    }
    if (h[4] != elf_class) {
        reject(e, "an ELF file of the other class (%d-bit)", h[4] == 2 ? 64 : 32);
        return -1;
    }
    unsigned type = h[5] == 1 ? (unsigned)(h[16] | h[17] << 8) : (unsigned)(h[16] << 8 | h[17]);
    if (type != 3) { /* ET_DYN */
        reject(e, "an ELF file, but not a shared object (type %u)", type);
        return -1;
    }
    return 0;
}

static int running_from_build_tree(void)
{
#ifdef MGPT_BUILD_DIR
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return 0;
    exe[n] = '\0';
    char build[PATH_MAX];
    if (!realpath(MGPT_BUILD_DIR, build))
        return 0;
    size_t bl = strlen(build);
    return strncmp(exe, build, bl) == 0 && exe[bl] == '/';
#else
    return 0;
#endif
}

static void search_path(char *buf, size_t len, const char *path)
{
    if (path) {
        snprintf(buf, len, "%s", path);
        return;
    }
    const char *user = getenv("MGPT_PLUGIN_PATH");
    const char *sys = getenv("MGPT_PLUGIN_SYSTEM_PATH");
    if (!sys) {
#ifdef MGPT_BUILD_PLUGIN_PATH
        sys = running_from_build_tree() ? MGPT_BUILD_PLUGIN_PATH : MGPT_PLUGIN_DIR;
#else
        sys = MGPT_PLUGIN_DIR;
#endif
    }
    snprintf(buf, len, "%s%s%s", user && *user ? user : "", user && *user && *sys ? ":" : "", sys);
}

/* The check helper to run: MGPT_PROBE_MODULE if set ("": none), else the build tree's when
 * this program runs from the build tree, else the installed one. NULL (with why) when there
 * is none to run; why is "" when none was asked for. */
static const char *probe_helper(char *buf, size_t len, char *why, size_t wlen)
{
    const char *env = getenv("MGPT_PROBE_MODULE");
    why[0] = '\0';
    if (env && !*env)
        return NULL;
    if (env)
        snprintf(buf, len, "%s", env);
#ifdef MGPT_BUILD_PROBE_MODULE
    else if (running_from_build_tree())
        snprintf(buf, len, "%s", MGPT_BUILD_PROBE_MODULE);
#endif
    else
        snprintf(buf, len, "%s", MGPT_PROBE_MODULE_PATH);
    if (access(buf, X_OK) != 0) {
        snprintf(why, wlen, "cannot run the module check helper %.300s (%s)", buf,
                 strerror(errno));
        return NULL;
    }
    return buf;
}

static int probe_timeout_ms(const mgpt_registry *r)
{
    const char *s = getenv("MGPT_PROBE_TIMEOUT_MS");
    if (!s || !*s)
        return DEFAULT_PROBE_TIMEOUT_MS;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v <= 0 || v > 3600000) {
        mgpt_registry_warn(r, "MGPT_PROBE_TIMEOUT_MS='%s' is not a number of milliseconds from 1 to "
             "3600000; using %d", s, DEFAULT_PROBE_TIMEOUT_MS);
        return DEFAULT_PROBE_TIMEOUT_MS;
    }
    return (int)v;
}

/* Children at once: one per processor (they spend their time in exec and the dynamic
 * loader), a few at least, not a crowd. */
static int probe_parallel(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 2 ? 2 : n > 8 ? 8 : (int)n;
}

/* dlopens e here and checks its descriptor; 0, else -1 with e rejected. */
static int load_here(mgpt_backend_entry *e)
{
    e->handle = dlopen(e->path, RTLD_NOW | RTLD_LOCAL);
    if (!e->handle) {
        reject(e, "dlopen failed: %s", dlerror());
        return -1;
    }
    char why[sizeof e->reason];
    e->desc = mgpt_module_check(e->handle, e->name, why, sizeof why);
    if (!e->desc) {
        reject(e, "%s", why);
        return -1;
    }
    return 0;
}

/* Entries first .. n-1 checked, in child processes when the helper can run, else here;
 * accepted[i] set and prio[i] its priority for those that pass. */
static void check_modules(mgpt_registry *r, int first, char *accepted, int *prio)
{
    char helper_buf[PATH_MAX], why[PATH_MAX + 64];
    const char *helper = probe_helper(helper_buf, sizeof helper_buf, why, sizeof why);
    int timeout = probe_timeout_ms(r), parallel = probe_parallel();
    mgpt_probe_job *jobs = helper ? calloc((size_t)(r->n - first) + 1, sizeof *jobs) : NULL;
    int *entry_of = helper ? calloc((size_t)(r->n - first) + 1, sizeof *entry_of) : NULL;
    int nj = 0;
    if (helper && (!jobs || !entry_of)) {
        free(jobs);
        jobs = NULL;
        snprintf(why, sizeof why, "out of memory for the module checks");
    }
    for (int i = first; i < r->n; i++) {
        mgpt_backend_entry *e = &r->entries[i];
        if (check_file(e) != 0)
            continue;
        if (jobs) {
            entry_of[nj] = i;
            jobs[nj].path = e->path;
            jobs[nj++].name = e->name;
        } else {
            accepted[i - first] = 2; /* to check here */
        }
    }
    if (jobs && nj)
        mgpt_probe_modules(helper, jobs, nj, timeout, parallel);
    for (int k = 0; k < nj; k++) {
        int i = entry_of[k];
        mgpt_backend_entry *e = &r->entries[i];
        if (jobs[k].result == MGPT_PROBE_OK) {
            accepted[i - first] = 1;
            prio[i - first] = jobs[k].priority;
        } else if (jobs[k].result == MGPT_PROBE_FAILED) {
            reject(e, "%s", jobs[k].reason);
        } else {
            if (!why[0])
                snprintf(why, sizeof why, "%s", jobs[k].reason);
            accepted[i - first] = 2;
        }
    }
    if (helper && !why[0])
        snprintf(r->check, sizeof r->check, "in child processes (%.300s; %d at a time, each "
                 "given %d ms)", helper, parallel, timeout);
    else
        snprintf(r->check, sizeof r->check, "in this process (%.400s)",
                 why[0] ? why : "MGPT_PROBE_MODULE is empty");
    if (why[0])
        mgpt_registry_warn(r, "%s: checking backend modules in this process, where a module that crashes "
             "or hangs when loaded takes the program with it", why);
    free(jobs);
    free(entry_of);
    for (int i = first; i < r->n; i++)
        if (accepted[i - first] == 2) {
            accepted[i - first] = load_here(&r->entries[i]) == 0;
            if (accepted[i - first])
                prio[i - first] = r->entries[i].desc->priority;
        }
}

/* Of the accepted modules of one name, the one of the highest priority is used, the
 * earlier in the path on a tie; the others are listed as shadowed by it. */
static void shadow_duplicates(mgpt_registry *r, int first, char *accepted, const int *prio)
{
    for (int i = first; i < r->n; i++) {
        if (!accepted[i - first])
            continue;
        int best = i;
        for (int j = first; j < r->n; j++)
            if (j != i && accepted[j - first] &&
                strcmp(r->entries[j].name, r->entries[i].name) == 0 &&
                (prio[j - first] > prio[best - first] ||
                 (prio[j - first] == prio[best - first] && j < best)))
                best = j;
        if (best == i)
            continue;
        mgpt_backend_entry *e = &r->entries[i];
        if (e->handle)
            dlclose(e->handle);
        e->handle = NULL;
        e->desc = NULL;
        e->status = MGPT_BE_SHADOWED;
        if (prio[best - first] > prio[i - first])
            snprintf(e->reason, sizeof e->reason, "shadowed by %.400s, of a higher priority "
                     "(%d, this one %d)", r->entries[best].path, prio[best - first],
                     prio[i - first]);
        else
            snprintf(e->reason, sizeof e->reason, "shadowed by %.400s, of the same priority "
                     "(%d), found earlier in the path", r->entries[best].path, prio[i - first]);
    }
    for (int i = first; i < r->n; i++)
        if (r->entries[i].status == MGPT_BE_SHADOWED)
            accepted[i - first] = 0;
}

/* Checks entries first .. n-1, decides between modules of one name, loads the chosen ones
 * here and warns about the rejected ones. */
static void load_entries(mgpt_registry *r, int first)
{
    int n = r->n - first;
    char *accepted = calloc((size_t)n + 1, 1);
    int *prio = calloc((size_t)n + 1, sizeof *prio);
    if (!accepted || !prio) {
        for (int i = first; i < r->n; i++)
            reject(&r->entries[i], "out of memory");
        n = 0;
    }
    if (n > 0) {
        check_modules(r, first, accepted, prio);
        shadow_duplicates(r, first, accepted, prio);
    }
    for (int i = first; i < first + n; i++) {
        mgpt_backend_entry *e = &r->entries[i];
        if (!accepted[i - first] || (!e->handle && load_here(e) != 0))
            continue;
        const mgpt_backend_desc *d = e->desc;
        e->reason[0] = '\0';
        /* an older minor's table is shorter: its missing slots run the reference; a newer
         * minor's slots past ours are not read */
        e->n_slots = d->n_kernels < MGPT_KERNEL_COUNT ? (int)d->n_kernels : MGPT_KERNEL_COUNT;
        e->missing = d->required_features & ~r->cpu_features;
        e->status = e->missing ? MGPT_BE_NOT_RUNNABLE : MGPT_BE_RUNNABLE;
    }
    for (int i = first; i < r->n; i++)
        if (r->entries[i].status == MGPT_BE_REJECTED)
            mgpt_registry_warn(r, "skipping backend module %s: %s", r->entries[i].path, r->entries[i].reason);
    free(accepted);
    free(prio);
}

static int registry_start(mgpt_registry *r, FILE *warn_to, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    mgpt_cpu_info cpu;
    if (mgpt_cpu_detect(&cpu, err, errlen) != 0)
        return -1;
    r->cpu_features = cpu.features;
    r->cpu_masked = cpu.masked & cpu.hw_features;
    r->warn = warn_to;
    return 0;
}

/* Whether real is in the list; adds it if not. */
static int seen_before(char ***seen, int *n, const char *real)
{
    for (int i = 0; i < *n; i++)
        if (strcmp((*seen)[i], real) == 0)
            return 1;
    char **more = realloc(*seen, (size_t)(*n + 1) * sizeof **seen);
    if (more) {
        *seen = more;
        if ((more[*n] = strdup(real)))
            (*n)++;
    }
    return 0;
}

int mgpt_registry_load(mgpt_registry *r, const char *path, FILE *warn_to, char *err,
                       size_t errlen)
{
    if (registry_start(r, warn_to, err, errlen) != 0)
        return -1;
    search_path(r->searched, sizeof r->searched, path);

    char dirs[sizeof r->searched];
    snprintf(dirs, sizeof dirs, "%s", r->searched);
    char **seen = NULL;
    int nseen = 0;
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        char real[PATH_MAX];
        if (realpath(d, real) && !seen_before(&seen, &nseen, real))
            scan_dir(r, d);
    }
    for (int i = 0; i < nseen; i++)
        free(seen[i]);
    free(seen);
    load_entries(r, 0);
    return r->n;
}

int mgpt_registry_load_file(mgpt_registry *r, const char *file, FILE *warn_to, char *err,
                            size_t errlen)
{
    if (registry_start(r, warn_to, err, errlen) != 0)
        return -1;
    snprintf(r->searched, sizeof r->searched, "%s", file);
    const char *slash = strrchr(file, '/');
    const char *base = slash ? slash + 1 : file;
    char dir[PATH_MAX], name[64];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - file) : 1, slash ? file : ".");
    if (slash == file)
        snprintf(dir, sizeof dir, "/");
    if (!module_name(base, name, sizeof name)) {
        snprintf(err, errlen, "%s: a backend module's file name is mgpt_NAME.so (NAME of "
                 "lowercase letters, digits and '_'), the name its descriptor carries", file);
        return -1;
    }
    if (access(file, F_OK) != 0) {
        snprintf(err, errlen, "%s: no such file", file);
        return -1;
    }
    add_module(r, dir, base, name);
    load_entries(r, 0);
    return r->n;
}

void mgpt_registry_free(mgpt_registry *r)
{
    for (int i = 0; i < r->n; i++)
        if (r->entries[i].handle)
            dlclose(r->entries[i].handle);
    free(r->entries);
    memset(r, 0, sizeof *r);
}

const mgpt_backend_entry *mgpt_registry_find(const mgpt_registry *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (r->entries[i].desc && strcmp(r->entries[i].name, name) == 0)
            return &r->entries[i];
    return NULL;
}

void mgpt_registry_names(const mgpt_registry *r, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < r->n && used < len; i++)
        if (r->entries[i].desc)
            used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
                                     r->entries[i].name);
    if (!used)
        snprintf(buf, len, "none");
}
