/* Choosing a backend among the registry's modules and opening an instance of it. Only the
 * descriptor (data) is read until the chosen module's init runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xmmintrin.h>
#include "platform/cpu.h"
#include "engine/registry.h"

/* Automatic selection considers only fp32 backends: reduced precision is asked for. */
static int runnable_of(const mgpt_backend_entry *e, uint32_t precision)
{
    return e->status == MGPT_BE_RUNNABLE && e->desc->precision == precision;
}

static int automatic(const mgpt_backend_entry *e)
{
    return runnable_of(e, MGPT_PRECISION_FP32);
}

/* Candidates in selection order: by priority (higher first), then name. */
static int better(const mgpt_backend_entry *a, const mgpt_backend_entry *b)
{
    if (a->desc->priority != b->desc->priority)
        return a->desc->priority > b->desc->priority;
    return strcmp(a->name, b->name) < 0;
}

static int cmp_better(const void *a, const void *b)
{
    const mgpt_backend_entry *x = *(const mgpt_backend_entry *const *)a;
    const mgpt_backend_entry *y = *(const mgpt_backend_entry *const *)b;
    return better(x, y) ? -1 : better(y, x) ? 1 : 0;
}

const mgpt_backend_entry *mgpt_registry_best_of(const mgpt_registry *r, uint32_t precision)
{
    const mgpt_backend_entry *best = NULL;
    for (int i = 0; i < r->n; i++) {
        const mgpt_backend_entry *e = &r->entries[i];
        if (runnable_of(e, precision) && (!best || better(e, best)))
            best = e;
    }
    return best;
}

const mgpt_backend_entry *mgpt_registry_best(const mgpt_registry *r)
{
    return mgpt_registry_best_of(r, MGPT_PRECISION_FP32);
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
        int rc = e->desc->init(env, &out->instance, why, sizeof why - 1);
        why[sizeof why - 1] = '\0'; /* an init may fill it without terminating it */
        if (rc != 0) {
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


/* Flush denormals to zero (FTZ) and read them as zero (DAZ) in the calling thread, as
 * deep-learning runtimes do: Adam's second moments of rarely-used rows decay geometrically
 * into the denormal range, where each operation costs ~100 cycles (measured: 40% of a
 * step on e64_L1_b8). Results stay deterministic; they differ only below 1.2e-38. */
static void flush_denormals(void)
{
    _mm_setcsr(_mm_getcsr() | 0x8040); /* FTZ (bit 15) | DAZ (bit 6) */
}

const char *mgpt_precision_name(uint32_t precision)
{
    return precision == MGPT_PRECISION_FP32 ? "fp32"
           : precision == MGPT_PRECISION_BF16 ? "bf16" : NULL;
}

int mgpt_precision_parse(const char *name)
{
    if (strcmp(name, "fp32") == 0)
        return MGPT_PRECISION_FP32;
    if (strcmp(name, "bf16") == 0)
        return MGPT_PRECISION_BF16;
    return -1;
}

int mgpt_registry_select(const mgpt_registry *r, const char *forced,
                         const mgpt_backend_entry **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *from = ""; /* where the name came from, for the messages */
    if (!forced || !*forced) {
        forced = getenv("MGPT_BACKEND");
        from = " given by MGPT_BACKEND";
    }
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
            snprintf(err, errlen, "unknown backend '%s'%s (available: %s)", forced, from, names);
            return 2;
        }
        if (e->status != MGPT_BE_RUNNABLE) {
            char need[256];
            mgpt_cpu_feature_names(e->missing, need, sizeof need);
            snprintf(err, errlen, "backend '%s'%s cannot run on this CPU: needs %s%s", forced, from,
                     need,
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
    /* select reads MGPT_BACKEND itself, to say so in its messages */
    const mgpt_backend_entry *e;
    int rc = mgpt_registry_select(r, forced, &e, err, errlen);
    if (rc != 0)
        return rc;
    if (!forced || !*forced)
        forced = getenv("MGPT_BACKEND");
    if (forced && *forced)
        return try_open(e, env, out, err, errlen) == 0 ? 0 : 1;
    /* automatic: the runnable candidates best first; one whose init fails is skipped
     * with a warning */
    const mgpt_backend_entry **cand = malloc((size_t)(r->n + 1) * sizeof *cand);
    if (!cand) {
        snprintf(err, errlen, "out of memory");
        return 1;
    }
    int nc = 0;
    for (int i = 0; i < r->n; i++)
        if (automatic(&r->entries[i]))
            cand[nc++] = &r->entries[i];
    qsort(cand, (size_t)nc, sizeof *cand, cmp_better);
    for (int i = 0; i < nc; i++) {
        if (try_open(cand[i], env, out, err, errlen) == 0) {
            free(cand);
            return 0;
        }
        mgpt_registry_warn(r, "skipping %s", err);
    }
    free(cand);
    snprintf(err, errlen, "no backend in %s can run on this CPU", r->searched);
    return 1;
}

void mgpt_backend_close(mgpt_backend *b)
{
    if (b->entry && b->entry->desc && b->entry->desc->shutdown)
        b->entry->desc->shutdown(b->instance);
    memset(b, 0, sizeof *b);
}
