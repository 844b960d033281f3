/* Finding, checking and choosing backend modules.
 *
 * Order of trust: the loader reads a module's descriptor (data) and checks its ABI version,
 * size, name and required CPU features before calling any of its code, so a module built
 * for a CPU we do not have is listed, never run. */
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xmmintrin.h>
#include "platform/cpu.h"
#include "engine/registry.h"

#ifndef MGPT_PLUGIN_DIR
#define MGPT_PLUGIN_DIR "/usr/local/lib/mgpt"
#endif

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

static void reject(mgpt_backend_entry *e, FILE *warn, const char *fmt, const char *a,
                   unsigned x, unsigned y)
{
    char msg[400];
    snprintf(msg, sizeof msg, fmt, a, x, y);
    snprintf(e->reason, sizeof e->reason, "%s", msg);
    e->status = MGPT_BE_REJECTED;
    e->desc = NULL;
    if (e->handle) {
        dlclose(e->handle);
        e->handle = NULL;
    }
    if (warn)
        fprintf(warn, "mgpt: warning: skipping backend module %s: %s\n", e->path, msg);
}

static void load_module(mgpt_registry *r, const char *dir, const char *file, const char *name,
                        FILE *warn)
{
    for (int i = 0; i < r->n; i++) {
        if (strcmp(r->entries[i].name, name) == 0) {
            mgpt_backend_entry *e;
            if (add_entry(r, &e) != 0)
                return;
            snprintf(e->path, sizeof e->path, "%s/%s", dir, file);
            snprintf(e->name, sizeof e->name, "%s", name);
            e->status = MGPT_BE_SHADOWED;
            snprintf(e->reason, sizeof e->reason, "shadowed by %.400s, found earlier in the path",
                     r->entries[i].path);
            return;
        }
    }
    mgpt_backend_entry *e;
    if (add_entry(r, &e) != 0)
        return;
    snprintf(e->path, sizeof e->path, "%s/%s", dir, file);
    snprintf(e->name, sizeof e->name, "%s", name);

    e->handle = dlopen(e->path, RTLD_NOW | RTLD_LOCAL);
    if (!e->handle) {
        reject(e, warn, "dlopen failed: %s", dlerror(), 0, 0);
        return;
    }
    char sym[128];
    snprintf(sym, sizeof sym, MGPT_BACKEND_SYMBOL_PREFIX "%s", name);
    dlerror();
    const mgpt_backend_desc *d = dlsym(e->handle, sym);
    if (!d) {
        reject(e, warn, "no entry symbol %s (a module mgpt_NAME.so must export mgpt_backend_NAME)",
               sym, 0, 0);
        return;
    }
    /* the first 32 bits have always held the version: a v1-v3 module's abi_version reads
     * as its major here */
    if (d->abi_major != MGPT_BACKEND_ABI_MAJOR) {
        reject(e, warn, "%sbuilt for ABI major version %u, but this mgpt speaks %u.x", "",
               d->abi_major, MGPT_BACKEND_ABI_MAJOR);
        return;
    }
    if (d->desc_size < sizeof(mgpt_backend_desc)) {
        reject(e, warn, "%sdescriptor is %u bytes, expected at least %u", "", d->desc_size,
               (unsigned)sizeof(mgpt_backend_desc));
        return;
    }
    if (!d->name || strcmp(d->name, name) != 0) {
        reject(e, warn, "descriptor names itself '%s', not the file's name", d->name ? d->name : "(null)",
               0, 0);
        return;
    }
    if (!d->kernels || d->n_kernels == 0) {
        reject(e, warn, "%sdescriptor has no kernel table", "", 0, 0);
        return;
    }
    if (d->precision != MGPT_PRECISION_FP32 && d->precision != MGPT_PRECISION_BF16) {
        reject(e, warn, "%sunknown precision class %u", "", d->precision, 0);
        return;
    }
    /* an older minor's table is shorter: its missing slots run the reference; a newer
     * minor's slots past ours are not read */
    e->n_slots = d->n_kernels < MGPT_KERNEL_COUNT ? (int)d->n_kernels : MGPT_KERNEL_COUNT;
    e->desc = d;
    e->missing = d->required_features & ~r->cpu_features;
    e->status = e->missing ? MGPT_BE_NOT_RUNNABLE : MGPT_BE_RUNNABLE;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Scans one folder, modules in name order so that the result never depends on readdir. */
static void scan_dir(mgpt_registry *r, const char *dir, FILE *warn)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return;
    char *files[256];
    int nf = 0;
    struct dirent *de;
    char name[64];
    while ((de = readdir(dp)) && nf < 256)
        if (module_name(de->d_name, name, sizeof name))
            files[nf++] = strdup(de->d_name);
    closedir(dp);
    qsort(files, (size_t)nf, sizeof files[0], cmp_str);
    for (int i = 0; i < nf; i++) {
        if (files[i] && module_name(files[i], name, sizeof name))
            load_module(r, dir, files[i], name, warn);
        free(files[i]);
    }
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

int mgpt_registry_load(mgpt_registry *r, const char *path, FILE *warn, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    mgpt_cpu_info cpu;
    if (mgpt_cpu_detect(&cpu, err, errlen) != 0)
        return -1;
    r->cpu_features = cpu.features;
    r->cpu_masked = cpu.masked & cpu.hw_features;
    search_path(r->searched, sizeof r->searched, path);

    char dirs[sizeof r->searched];
    snprintf(dirs, sizeof dirs, "%s", r->searched);
    char seen[32][PATH_MAX];
    int nseen = 0;
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        char real[PATH_MAX];
        if (!realpath(d, real))
            continue;
        int dup = 0;
        for (int i = 0; i < nseen; i++)
            dup |= strcmp(seen[i], real) == 0;
        if (dup)
            continue;
        if (nseen < 32)
            snprintf(seen[nseen++], PATH_MAX, "%s", real);
        scan_dir(r, d, warn);
    }
    return r->n;
}

int mgpt_registry_load_file(mgpt_registry *r, const char *file, FILE *warn, char *err,
                            size_t errlen)
{
    memset(r, 0, sizeof *r);
    mgpt_cpu_info cpu;
    if (mgpt_cpu_detect(&cpu, err, errlen) != 0)
        return -1;
    r->cpu_features = cpu.features;
    r->cpu_masked = cpu.masked & cpu.hw_features;
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
    load_module(r, dir, base, name, warn);
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

/* Automatic selection considers only fp32 backends: reduced precision is asked for. */
static int automatic(const mgpt_backend_entry *e)
{
    return e->status == MGPT_BE_RUNNABLE && e->desc->precision == MGPT_PRECISION_FP32;
}

/* Candidates in selection order: by priority (higher first), then name. */
static int better(const mgpt_backend_entry *a, const mgpt_backend_entry *b)
{
    if (a->desc->priority != b->desc->priority)
        return a->desc->priority > b->desc->priority;
    return strcmp(a->name, b->name) < 0;
}

const mgpt_backend_entry *mgpt_registry_best(const mgpt_registry *r)
{
    const mgpt_backend_entry *best = NULL;
    for (int i = 0; i < r->n; i++) {
        const mgpt_backend_entry *e = &r->entries[i];
        if (automatic(e) && (!best || better(e, best)))
            best = e;
    }
    return best;
}

/* Fills the kernel table of b from e: the slots its table reaches and implements, the
 * rest from the reference kernels linked into the engine. */
static void fill_kernels(const mgpt_backend_entry *e, mgpt_backend *b)
{
    b->entry = e;
    b->k = mgpt_reference_kernels;
    b->native = 0;
    for (int i = 0; i < e->n_slots; i++) {
        mgpt_any_fn f = mgpt_kernel_get(e->desc->kernels, i);
        if (f) {
            mgpt_kernel_set(&b->k, i, f);
            b->native |= (uint64_t)1 << i;
        }
    }
}

static int try_open(const mgpt_backend_entry *e, const mgpt_backend_env *env, mgpt_backend *out,
                    char *err, size_t errlen)
{
    fill_kernels(e, out);
    out->instance = NULL;
    out->num_threads = env->num_threads;
    if (e->desc->init) {
        char why[300] = "";
        if (e->desc->init(env, &out->instance, why, sizeof why) != 0) {
            snprintf(err, errlen, "backend '%s' (%s) failed to initialise: %s", e->name, e->path,
                     why[0] ? why : "no reason given");
            out->instance = NULL;
            return -1;
        }
    }
    out->ctx.instance = out->instance;
    out->ctx.thread = 0;
    return 0;
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

/* Flush denormals to zero (FTZ) and read them as zero (DAZ) in the calling thread, as
 * deep-learning runtimes do: Adam's second moments of rarely-used rows decay geometrically
 * into the denormal range, where each operation costs ~100 cycles (measured: 40% of a
 * step on e64_L1_b8). Results stay deterministic; they differ only below 1.2e-38. */
static void flush_denormals(void)
{
    _mm_setcsr(_mm_getcsr() | 0x8040); /* FTZ (bit 15) | DAZ (bit 6) */
}

int mgpt_registry_select(const mgpt_registry *r, const char *forced,
                         const mgpt_backend_entry **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!forced || !*forced)
        forced = getenv("MGPT_BACKEND");
    int any = 0;
    for (int i = 0; i < r->n; i++)
        any |= r->entries[i].desc != NULL;
    if (!any) {
        snprintf(err, errlen, "no usable backend modules (mgpt_NAME.so) found in %s; set "
                 "MGPT_PLUGIN_PATH to the folder that holds them",
                 r->searched[0] ? r->searched : "(empty search path)");
        return 1;
    }
    if (forced && *forced) {
        const mgpt_backend_entry *e = mgpt_registry_find(r, forced);
        if (!e) {
            char names[512];
            mgpt_registry_names(r, names, sizeof names);
            snprintf(err, errlen, "unknown backend '%s' (available: %s)", forced, names);
            return 2;
        }
        if (e->status != MGPT_BE_RUNNABLE) {
            char need[256];
            mgpt_cpu_feature_names(e->missing, need, sizeof need);
            snprintf(err, errlen, "backend '%s' cannot run on this CPU: needs %s%s", forced, need,
                     (e->missing & r->cpu_masked) ? " (masked by MGPT_CPU_DISABLE)" : "");
            return 2;
        }
        *out = e;
        return 0;
    }
    *out = mgpt_registry_best(r);
    if (!*out) {
        snprintf(err, errlen, "no backend in %s can run on this CPU", r->searched);
        return 1;
    }
    return 0;
}

int mgpt_backend_open(mgpt_registry *r, const char *forced, const mgpt_backend_env *env,
                      mgpt_backend *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    flush_denormals();
    if (!forced || !*forced)
        forced = getenv("MGPT_BACKEND");
    const mgpt_backend_entry *e;
    int rc = mgpt_registry_select(r, forced, &e, err, errlen);
    if (rc != 0)
        return rc;
    if (forced && *forced)
        return try_open(e, env, out, err, errlen) == 0 ? 0 : 1;
    /* automatic: best runnable first; one whose init fails is skipped with a warning */
    int tried[256] = {0};
    for (;;) {
        if (try_open(e, env, out, err, errlen) == 0)
            return 0;
        fprintf(stderr, "mgpt: warning: skipping %s\n", err);
        tried[e - r->entries] = 1;
        e = NULL;
        for (int i = 0; i < r->n && i < 256; i++) {
            const mgpt_backend_entry *c = &r->entries[i];
            if (!tried[i] && automatic(c) && (!e || better(c, e)))
                e = c;
        }
        if (!e) {
            snprintf(err, errlen, "no backend in %s can run on this CPU", r->searched);
            return 1;
        }
    }
}

void mgpt_backend_close(mgpt_backend *b)
{
    if (b->entry && b->entry->desc && b->entry->desc->shutdown)
        b->entry->desc->shutdown(b->instance);
    memset(b, 0, sizeof *b);
}
