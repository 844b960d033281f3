/* The buffers of one check case. Each ends exactly at an inaccessible page, so that a
 * kernel reading or writing one element past its end faults instead of passing (and the
 * checker reports the fault: checker.c).
 *
 * A check makes tens of thousands of buffers; unmapping each one costs a TLB shootdown
 * (measured: 55% of a check's time), so freed mappings are kept and reused by size. The
 * checker runs on one thread: the cache and the list of live guard pages are plain
 * statics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "check.h"

enum { CACHE = 64, LIVE = 256 };
static struct { char *base; size_t len; } cache[CACHE];
static int n_cache;
static char *live_guard[LIVE];   /* the guard page of every mapped buffer */

static void note_guard(char *guard, int add)
{
    for (int i = 0; i < LIVE; i++)
        if (live_guard[i] == (add ? NULL : guard)) {
            live_guard[i] = add ? guard : NULL;
            return;
        }
}

int mgpt_check_in_guard(const void *addr)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; i < LIVE; i++)
        if (live_guard[i] && (const char *)addr >= live_guard[i] &&
            (const char *)addr < live_guard[i] + page)
            return 1;
    return 0;
}

static char *map(size_t len, size_t page)
{
    for (int i = 0; i < n_cache; i++)
        if (cache[i].len == len) {
            char *base = cache[i].base;
            cache[i] = cache[--n_cache];
            return base;
        }
    char *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED || mprotect(base + len - page, page, PROT_NONE) != 0) {
        fprintf(stderr, "mgpt-check-backend: out of memory (%zu bytes)\n", len);
        exit(1);
    }
    return base;
}

static void unmap(char *base, size_t len)
{
    if (n_cache < CACHE) {
        cache[n_cache].base = base;
        cache[n_cache].len = len;
        n_cache++;
    } else {
        munmap(base, len);
    }
}

static void *guarded(mgpt_check_pool *p, size_t bytes)
{
    if (p->n == (int)(sizeof p->m / sizeof p->m[0])) {
        fprintf(stderr, "mgpt-check-backend: internal error: more than %d buffers in a case\n",
                p->n);
        abort();
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data = (bytes + page - 1) / page * page;
    size_t len = data + page;
    char *base = map(len, page);
    p->m[p->n].base = base;
    p->m[p->n].len = len;
    p->n++;
    note_guard(base + data, 1);
    return base + data - bytes;  /* element-aligned: bytes is a multiple of the element */
}

float *mgpt_check_floats(mgpt_check_pool *p, size_t n)
{
    return guarded(p, n * sizeof(float));
}

float *mgpt_check_copy(mgpt_check_pool *p, const float *src, size_t n)
{
    float *x = mgpt_check_floats(p, n);
    if (n)
        memcpy(x, src, n * sizeof *x);
    return x;
}

float *mgpt_check_fill(mgpt_check_pool *p, size_t n, float value)
{
    float *x = mgpt_check_floats(p, n);
    for (size_t i = 0; i < n; i++)
        x[i] = value;
    return x;
}

int *mgpt_check_ints(mgpt_check_pool *p, size_t n)
{
    return guarded(p, n * sizeof(int));
}

double *mgpt_check_doubles(mgpt_check_pool *p, size_t n)
{
    return guarded(p, n * sizeof(double));
}

float *mgpt_check_abs(mgpt_check_pool *p, const float *x, size_t n)
{
    float *a = mgpt_check_floats(p, n);
    for (size_t i = 0; i < n; i++)
        a[i] = fabsf(x[i]);
    return a;
}

float *mgpt_check_random(mgpt_checker *c, mgpt_check_pool *p, size_t n, float lo, float hi)
{
    float *x = mgpt_check_floats(p, n);
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)(mgpt_check_rand(c) >> 8) * (1.0f / 16777216.0f);
    return x;
}

void mgpt_check_pool_free(mgpt_check_pool *p)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; i < p->n; i++) {
        note_guard((char *)p->m[i].base + p->m[i].len - page, 0);
        unmap(p->m[i].base, p->m[i].len);
    }
    p->n = 0;
}
