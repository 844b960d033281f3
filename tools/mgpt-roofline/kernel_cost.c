/* The kernel calls of a training step and their FLOP and byte counts, derived rather than
 * restated: the engine's own walks (mgpt_node_forward, mgpt_node_backward,
 * mgpt_graph_backward's zeroing, mgpt_adam_step) run once on a table of kernels that only
 * record their sizes, so that which slots a node calls, how often and with which write
 * bits is whatever core/model/graph.c does; each call's counts are mgpt_kernel_cost (the
 * formulas of mgpt/kernel_list.h), the numbers mgpt-bench divides by time.
 *
 * The recording kernels and the do-nothing kernels (roof_compute_only) are core's
 * (call_record.h), generated from the kernel list: a new slot needs nothing here. */
#include <stdlib.h>
#include <string.h>
#include "model/call_record.h"
#include "model/decode.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "roofline.h"

/* --- the recorder ------------------------------------------------------------------- */

typedef struct recorder {
    roof_call *v;
    int n, cap;
    int failed;               /* out of memory */
    roof_call site;           /* where the walk is: site, node (slot and sizes unset) */
    int zero_only;            /* the backward walk: keep its zeroing alone (the nodes' own
                               * calls are recorded node by node, with their sites) */
    int only_slot;            /* >= 0: keep this slot's calls alone (decoding) */
} recorder;

static void record(recorder *rec, int slot, const mgpt_call_sizes *s, float *x, size_t n)
{
    if (rec->failed || (rec->zero_only && slot != MGPT_K_ZERO) ||
        (rec->only_slot >= 0 && slot != rec->only_slot))
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
    c->footprint = roof_footprint(slot, s);
}

double roof_footprint(int slot, const mgpt_call_sizes *s)
{
    const double B = s->B, T = s->T, N = s->N, C = s->C, OC = s->OC, H = s->H, V = s->V,
                 n = s->n;
    /* each array once, by the names of the kernel list's prototypes (4 bytes an element) */
    switch (slot) {
    case MGPT_K_EMBED_FORWARD:   /* out, wte rows (one per token, at most V), tok, wpe */
    case MGPT_K_EMBED_BACKWARD:  /* dout, dwte rows, tok, dwpe */
        return 4 * (N * C + (V > 0 && V < N ? V : N) * C + N + T * C);
    case MGPT_K_RMSNORM_FORWARD: /* out, inp, rstd */
        return 4 * (2 * N * C + N);
    case MGPT_K_RMSNORM_BACKWARD: /* dinp, dout, inp, rstd */
        return 4 * (3 * N * C + N);
    case MGPT_K_MATMUL_FORWARD:
    case MGPT_K_MATMUL_BACKWARD_DINP:
    case MGPT_K_MATMUL_BACKWARD_DW:  /* the activation, the weights, the output's side */
        return 4 * (N * C + OC * C + N * OC);
    case MGPT_K_ATTENTION_FORWARD:   /* qkv, att, out */
        return 4 * (4 * N * C + B * H * T * T);
    case MGPT_K_ATTENTION_BACKWARD:  /* dqkv, qkv, datt, att, dout */
        return 4 * (7 * N * C + 2 * B * H * T * T);
    case MGPT_K_SQRELU_FORWARD:
        return 8 * n;
    case MGPT_K_SQRELU_BACKWARD:     /* dinp, dout, inp */
    case MGPT_K_ADD_FORWARD:         /* out, a, b */
        return 12 * n;
    case MGPT_K_ACCUMULATE:          /* dst, src */
        return 8 * n;
    case MGPT_K_CROSSENTROPY_FORWARD: /* logits, probs, loss, targets */
        return 4 * (2 * N * V + 2 * N);
    case MGPT_K_CROSSENTROPY_BACKWARD: /* dlogits, probs, targets */
        return 4 * (2 * N * V + N);
    case MGPT_K_SUMSQ:
    case MGPT_K_ZERO:
        return 4 * n;
    case MGPT_K_ADAM_UPDATE:         /* param, grad, m, v */
        return 16 * n;
    case MGPT_K_ATTENTION_DECODE:    /* kc, vc, q, out, att */
        return 4 * (2 * T * C + 2 * C + H * T);
    default:
        return mgpt_kernel_cost(slot, s).bytes;
    }
}

/* core's recording kernels (call_record.h) report every call here */
static void on_call(void *arg, int slot, const mgpt_call_sizes *s)
{
    record(arg, slot, s, NULL, 0);
}

/* zero is the one call the backward walk makes outside a node: to run it again alone,
 * its recording keeps what it clears. */
static void record_zero_call(const mgpt_ctx *ctx, float *x, size_t count)
{
    const mgpt_call_recorder *r = ctx->instance;
    mgpt_call_sizes s = {0};
    s.n = (double)count;
    record(r->arg, MGPT_K_ZERO, &s, x, count);
}

int roof_step_calls(mgpt_model *m, roof_call **out)
{
    *out = NULL;
    recorder r = {0};
    r.only_slot = -1;
    mgpt_kernels k = mgpt_recording_kernels;
    k.zero = record_zero_call;
    /* no team: the calls are recorded as the graph makes them, whole, and mgpt_compute_sumsq
     * makes its chunks' calls through k */
    mgpt_call_recorder cr;
    mgpt_compute c = mgpt_call_recorder_compute(&cr, &k, on_call, &r);
    mgpt_graph *g = &m->graph;
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
    /* generation's attention against the cache: a document decoded through the block */
    char err[256];
    mgpt_decoder *d = mgpt_decoder_create(m, &c, err, sizeof err);
    if (!d)
        r.failed = 1;
    r.site = (roof_call){.site = ROOF_SITE_DECODE, .node = -1};
    r.only_slot = MGPT_K_ATTENTION_DECODE;
    roof_decode_block(d, m);
    mgpt_decoder_free(d);
    if (r.failed) {
        free(r.v);
        return -1;
    }
    /* the embeddings' rows: at most the vocabulary's, which their sizes do not carry */
    for (int i = 0; i < r.n; i++)
        if (r.v[i].slot == MGPT_K_EMBED_FORWARD || r.v[i].slot == MGPT_K_EMBED_BACKWARD) {
            mgpt_call_sizes s = r.v[i].sizes;
            s.V = m->cfg.vocab_size;
            r.v[i].footprint = roof_footprint(r.v[i].slot, &s);
        }
    *out = r.v;
    return r.n;
}

void roof_decode_block(mgpt_decoder *d, const mgpt_model *m)
{
    if (!d)
        return;
    mgpt_decoder_reset(d);
    for (int pos = 0; pos < m->T; pos++)
        mgpt_decoder_step(d, m->tokens[pos]);
}

mgpt_compute roof_compute_only(const mgpt_compute *c, int slot, mgpt_kernels *table)
{
    *table = mgpt_skipping_kernels;
    mgpt_kernel_set(table, slot, mgpt_kernel_get(c->k, slot));
    /* With a team, mgpt_compute_sumsq runs its chunks on the team's own kernels, not on
     * the table: only sumsq's compute keeps the team; for any other slot the gradient
     * norm's chunks must go to the table's sumsq, which does nothing. (The threaded
     * kernels find their team through the context, which stays.) */
    mgpt_compute only = {table, c->ctx, slot == MGPT_K_SUMSQ ? c->team : NULL};
    return only;
}
