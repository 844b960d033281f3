/* The kernel calls of a training step and their FLOP and byte counts, derived rather than
 * restated: the engine's own walks (mgpt_node_forward, mgpt_node_backward,
 * mgpt_graph_backward's zeroing, mgpt_adam_step) run once on a table of kernels that only
 * record their sizes, so that which slots a node calls, how often and with which write
 * bits is whatever core/graph.c does; each call's counts are mgpt_kernel_cost (the
 * formulas of mgpt/kernel_list.h), the numbers mgpt-bench divides by time.
 *
 * The recording kernels and the do-nothing kernels (roof_compute_only) are generated from
 * the kernel list, one per slot, so a new slot needs nothing here. */
#include <stdlib.h>
#include <string.h>
#include "model.h"
#include "optimizer.h"
#include "roofline.h"

/* --- the recorder ------------------------------------------------------------------- */

typedef struct recorder {
    roof_call *v;
    int n, cap;
    int failed;               /* out of memory */
    roof_call site;           /* where the walk is: site, node (slot and sizes unset) */
    int zero_only;            /* the backward walk: keep its zeroing alone (the nodes' own
                               * calls are recorded node by node, with their sites) */
} recorder;

static recorder *rec;

static void record(int slot, const mgpt_call_sizes *s, float *x, size_t n)
{
    if (!rec || rec->failed || (rec->zero_only && slot != MGPT_K_ZERO))
        return;
    if (rec->n == rec->cap) {
        int cap = rec->cap ? 2 * rec->cap : 64;
        roof_call *v = realloc(rec->v, (size_t)cap * sizeof *v);
        if (!v) {
            rec->failed = 1;
            return;
        }
        rec->v = v;
        rec->cap = cap;
    }
    roof_call *c = &rec->v[rec->n++];
    *c = rec->site;
    if (rec->zero_only) {
        c->site = ROOF_SITE_ZERO;
        c->node = -1;
    }
    c->slot = slot;
    c->x = x;
    c->n = n;
    c->sizes = *s;
    c->cost = mgpt_kernel_cost(slot, s);
}

/* The sizes a slot's parameters do not name. Each recording kernel below is written once
 * for every slot, with the slot's own parameter list (the list's column), and reads the
 * sizes by the names the list's formulas use (B, T, N, C, OC, H, V, n, and `write` for the
 * formulas' w): a parameter of that name shadows these file-scope zeros, a size the slot
 * does not take reads 0, as mgpt_call_sizes says for unused sizes. */
static const int B = 0, T = 0, N = 0, C = 0, OC = 0, H = 0, V = 0;
static const size_t n = 0;
static const unsigned write = 0;

static void record_sizes(int slot, double b, double t, double rows, double c, double oc,
                         double h, double v, double elements, unsigned wbits)
{
    /* attention's formulas count bytes with N, which its calls give as B documents of T
     * positions */
    mgpt_call_sizes s = {b, t, rows > 0 ? rows : b * t, c, oc, h, v, elements, wbits != 0};
    record(slot, &s, NULL, 0);
}

/* A kernel's return: nothing for void, 0 for sumsq's double (a recorded or skipped sum
 * counts as 0). The list's return types are single tokens. */
#define ROOF_RETURN_void
#define ROOF_RETURN_double return 0;

/* The kernels take every argument of their slot and use only the sizes. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#define X_RECORD(id, field, ref, ret, params, split, flops, bytes)                          \
    static ret record_##field params                                                       \
    {                                                                                      \
        record_sizes(id, B, T, N, C, OC, H, V, (double)n, write);                          \
        ROOF_RETURN_##ret                                                                  \
    }
MGPT_KERNEL_LIST(X_RECORD)
#undef X_RECORD

#define X_SKIP(id, field, ref, ret, params, split, flops, bytes)                            \
    static ret skip_##field params { ROOF_RETURN_##ret }
MGPT_KERNEL_LIST(X_SKIP)
#undef X_SKIP
#pragma GCC diagnostic pop

/* zero is the one call the backward walk makes outside a node: to run it again alone,
 * its recording keeps what it clears. */
static void record_zero_call(const mgpt_ctx *ctx, float *x, size_t count)
{
    (void)ctx;
    mgpt_call_sizes s = {0};
    s.n = (double)count;
    record(MGPT_K_ZERO, &s, x, count);
}

#define X_FIELD(id, field, ref, ret, params, split, flops, bytes) .field = record_##field,
static const mgpt_kernels recording = {MGPT_KERNEL_LIST(X_FIELD)};
#undef X_FIELD
#define X_FIELD(id, field, ref, ret, params, split, flops, bytes) .field = skip_##field,
static const mgpt_kernels skipping = {MGPT_KERNEL_LIST(X_FIELD)};
#undef X_FIELD

int roof_step_calls(mgpt_model *m, roof_call **out)
{
    *out = NULL;
    recorder r = {0};
    mgpt_kernels k = recording;
    k.zero = record_zero_call;
    mgpt_ctx ctx = {NULL, 0};
    /* no team: the calls are recorded as the graph makes them, whole, and mgpt_compute_sumsq
     * makes its chunks' calls through k */
    mgpt_compute c = {&k, &ctx, NULL};
    mgpt_graph *g = &m->graph;
    rec = &r;
    for (int i = 0; i < g->n_nodes; i++) {
        r.site = (roof_call){.site = ROOF_SITE_FORWARD, .node = i};
        mgpt_node_forward(&g->nodes[i], g, &c);
    }
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        r.site = (roof_call){.site = ROOF_SITE_BACKWARD, .node = i};
        mgpt_node_backward(&g->nodes[i], g, &c);
    }
    r.zero_only = 1;
    mgpt_graph_backward(g, &c);
    r.zero_only = 0;
    /* the optimizer step, on the recording kernels (the model's compute swapped for it);
     * its step count is put back: nothing of the model changes */
    r.site = (roof_call){.site = ROOF_SITE_OPTIMIZER, .node = -1};
    mgpt_optim o;
    mgpt_optim_defaults(&o);
    mgpt_compute keep = m->compute;
    long step = m->step;
    m->compute = c;
    mgpt_adam_step(m, &o);
    m->compute = keep;
    m->step = step;
    rec = NULL;
    if (r.failed) {
        free(r.v);
        return -1;
    }
    *out = r.v;
    return r.n;
}

mgpt_compute roof_compute_only(const mgpt_compute *c, int slot, mgpt_kernels *table)
{
    *table = skipping;
    mgpt_kernel_set(table, slot, mgpt_kernel_get(c->k, slot));
    /* With a team, mgpt_compute_sumsq runs its chunks on the team's own kernels, not on
     * the table: only sumsq's compute keeps the team; for any other slot the gradient
     * norm's chunks must go to the table's sumsq, which does nothing. (The threaded
     * kernels find their team through the context, which stays.) */
    mgpt_compute only = {table, c->ctx, slot == MGPT_K_SUMSQ ? c->team : NULL};
    return only;
}
