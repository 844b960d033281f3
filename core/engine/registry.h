/* The backend registry: finds mgpt_<name>.so modules, checks each descriptor before any
 * plugin code runs, and selects one (Open MPI's component selection, ggml's scoring). */
#ifndef MGPT_REGISTRY_H
#define MGPT_REGISTRY_H
#include <stdio.h>
#include <stdint.h>
#include <mgpt/backend.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MGPT_BE_RUNNABLE,      /* loaded; this CPU has every required feature */
    MGPT_BE_NOT_RUNNABLE,  /* loaded; features missing (see `missing`) */
    MGPT_BE_REJECTED,      /* skipped: not a valid module (see `reason`), warned about */
    MGPT_BE_SHADOWED       /* valid, but another module of the same name is used: one of a
                            * higher priority, or of the same found earlier in the path */
} mgpt_be_status;

typedef struct mgpt_backend_entry {
    char path[4096];
    char name[64];
    void *handle;
    const mgpt_backend_desc *desc;  /* NULL when rejected */
    mgpt_be_status status;
    uint32_t missing;               /* required features this CPU lacks */
    int n_slots;                    /* slots of its table the engine reads: min(n_kernels,
                                     * MGPT_KERNEL_COUNT); the rest run the reference */
    char reason[512];               /* why rejected */
} mgpt_backend_entry;

typedef struct mgpt_registry {
    mgpt_backend_entry *entries;
    int n;
    uint32_t cpu_features;          /* as detected and masked */
    uint32_t cpu_masked;            /* bits removed by MGPT_CPU_DISABLE */
    char searched[8192];            /* the directories searched, ':' separated */
    FILE *warn;                     /* where every warning of the loader goes (NULL: none) */
    char check[512];                /* how the modules were checked: "in child processes
                                     * (helper; ...)" or "in this process (why)" */
} mgpt_registry;

/* Loads every module of the search path: `path` if non-NULL; else MGPT_PLUGIN_PATH, then
 * the system path: MGPT_PLUGIN_SYSTEM_PATH if set (even to ""), else the build tree's module
 * folders when this program runs from the build tree, else the installed plugin directory.
 * Each module is first loaded and checked in a child process (the helper mgpt-probe-module:
 * MGPT_PROBE_MODULE, MGPT_PROBE_TIMEOUT_MS); only those it accepts are loaded here. Rejected
 * modules are reported on `warn` (if non-NULL) with file and reason; the registry keeps
 * `warn` (r->warn) for its later warnings (mgpt_backend_open's), so it must stay open, or
 * r->warn be changed, while the registry is used. Returns the number of entries, or -1 with
 * err set (CPU feature mask invalid). */
int mgpt_registry_load(mgpt_registry *r, const char *path, FILE *warn, char *err, size_t errlen);
/* Loads one module file (mgpt_NAME.so) with the same checks, for mgpt-check-backend: 1
 * entry (valid or rejected, with its reason), or -1 with err set (a file name that is not
 * a module's, no such file, CPU feature mask invalid). */
int mgpt_registry_load_file(mgpt_registry *r, const char *file, FILE *warn, char *err,
                            size_t errlen);
void mgpt_registry_free(mgpt_registry *r);
/* "mgpt: warning: ..." on the registry's warn stream (none if NULL): its one channel. */
void mgpt_registry_warn(const mgpt_registry *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const mgpt_backend_entry *mgpt_registry_find(const mgpt_registry *r, const char *name);
/* "avx512, avx2, sse, scalar": the valid modules' names, in search order ("none"). */
void mgpt_registry_names(const mgpt_registry *r, char *buf, size_t len);

/* The best runnable fp32 entry (highest priority; the name breaks ties), or NULL. Reduced
 * precision backends are chosen only by name. */
const mgpt_backend_entry *mgpt_registry_best(const mgpt_registry *r);
/* The best runnable entry of a precision class (MGPT_PRECISION_*), or NULL. */
const mgpt_backend_entry *mgpt_registry_best_of(const mgpt_registry *r, uint32_t precision);
/* "fp32", "bf16" (NULL for an unknown class); and back (-1 for an unknown name). */
const char *mgpt_precision_name(uint32_t precision);
int mgpt_precision_parse(const char *name);

/* Chooses without running plugin code: `forced` (or MGPT_BACKEND if forced is NULL), else
 * the best runnable entry. 0 with *out set; else err says why and the return value is 2
 * for "unknown name / cannot run here" and 1 for "no usable module at all". */
int mgpt_registry_select(const mgpt_registry *r, const char *forced,
                         const mgpt_backend_entry **out, char *err, size_t errlen);

/* An active backend instance: the entry's kernels with every slot it leaves NULL (or its
 * table does not reach) filled with the scalar reference kernel linked into the engine,
 * and the instance its init returned. */
typedef struct mgpt_backend {
    const mgpt_backend_entry *entry;
    mgpt_kernels k;
    uint64_t native;               /* bit i set: slot i is the module's own kernel */
    void *instance;                /* init's *instance */
    mgpt_ctx ctx;                  /* {instance, thread 0}: single-threaded calls */
    int num_threads;               /* env->num_threads it was initialised for */
} mgpt_backend;

/* The scalar reference kernels (backends/scalar, linked into the engine): the list's
 * reference column as a table. */
extern const mgpt_kernels mgpt_reference_kernels;

/* Picks `forced` (or MGPT_BACKEND if forced is NULL, else the best), refuses one the CPU
 * cannot run, and calls its init (an automatic choice whose init fails is warned about on
 * r->warn, and the next best tried). 0 on success; else err says why, and the return value
 * is 2 for "cannot run here / unknown name" and 1 for other failures. Sets the calling
 * thread's SSE control register to flush denormals (FTZ | DAZ); threads created after
 * inherit it. Several instances of one entry may be open at once. */
int mgpt_backend_open(mgpt_registry *r, const char *forced, const mgpt_backend_env *env,
                      mgpt_backend *out, char *err, size_t errlen);
void mgpt_backend_close(mgpt_backend *b);

/* The kernel slots, in mgpt_kernels order (kernel_slots.c, from mgpt/kernel_list.h). */
int mgpt_kernel_count(void);
const char *mgpt_kernel_name(int i);
int mgpt_kernel_index(const char *name);   /* -1 if no slot has that name */
int mgpt_kernel_split(int i);              /* MGPT_SPLIT_* */
/* Slot i of a kernel table as a generic function pointer (NULL = not implemented). */
typedef void (*mgpt_any_fn)(void);
mgpt_any_fn mgpt_kernel_get(const mgpt_kernels *k, int i);
void mgpt_kernel_set(mgpt_kernels *k, int i, mgpt_any_fn f);
#ifdef __cplusplus
}
#endif
#endif
