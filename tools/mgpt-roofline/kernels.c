/* Each kernel of a backend alone, on the shapes a model config really gives it: the model
 * is built for the config, one forward and backward pass fills every activation, gradient
 * and saved tensor, and then, kernel by kernel, every call the training step makes to that
 * kernel (each node of the graph that uses it, each gradient the backward walk zeroes, or
 * the optimizer's call over the parameter arena) is run back to back: once untimed to warm
 * the caches, then --repeats times, each repeat long enough for --min-time. The median per
 * step is reported, with the engine's FLOP and byte counts for the same calls. A node runs
 * as the engine runs it (mgpt_node_forward, mgpt_node_backward): a backward kernel gets the
 * write bits of its node, so the first contributor to a gradient stores it, the others add
 * into it, and the counts are those of each mode; zero runs only on dwte and dwpe, the
 * gradients no kernel writes first. Inputs are synthetic: tokens and targets drawn
 * uniformly from the vocabulary, none masked, so every row does the counted work. */
#include <stdlib.h>
#include <string.h>
#include "model.h"
#include "dataset.h"
#include "roofline.h"

/* Longest a kernel's timed repeats may take in all before they are cut. */
#define KERNEL_BUDGET_SECONDS 4.0

typedef struct call {
    const mgpt_node *nd;
    int backward;
    const mgpt_tensor *zero;   /* non-NULL: a call of zero on this tensor's gradient */
} call;

typedef struct group {
    const mgpt_backend *be;
    mgpt_model *m;
    int slot;
    call *calls;
    int n_calls;
} group;

static volatile double kernel_sink;

/* Bytes of the larger of an add node's two accumulate calls, which differ when one stores
 * its operand's gradient and the other adds into its own: each call moves half of what the
 * node would with both operands in that call's mode. */
static double add_call_bytes(const mgpt_node *nd)
{
    double most = 0;
    for (unsigned j = 0; j < 2; j++) {
        mgpt_node one = *nd;
        one.write = nd->write & (1u << j) ? 3u : 0u;
        double b = mgpt_node_cost(&one, 1).bytes / 2;
        if (b > most)
            most = b;
    }
    return most;
}

static void run_group(const group *g)
{
    mgpt_model *m = g->m;
    const mgpt_kernels *k = &g->be->k;
    if (g->slot == roof_slot_sumsq()) {
        kernel_sink = k->sumsq(m->grad_mem, m->num_floats);
        return;
    }
    if (g->slot == roof_slot_adam()) {
        /* Adam's defaults at step 10; a small lr keeps the parameters where they are */
        mgpt_adam_args a = {.lr = 1e-6f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                            .bc1 = 0.6513f, .bc2 = 0.4013f, .grad_scale = 1.0f};
        k->adam_update(m->param_mem, m->grad_mem, m->m_mem, m->v_mem, m->num_floats, &a);
        return;
    }
    for (int i = 0; i < g->n_calls; i++) {
        if (g->calls[i].zero)
            k->zero(g->calls[i].zero->grad, g->calls[i].zero->numel);
        else if (g->calls[i].backward)
            mgpt_node_backward(g->calls[i].nd, &m->graph, k);
        else
            mgpt_node_forward(g->calls[i].nd, &m->graph, k);
    }
}

/* Median seconds per run of the group, over repeats of `inner` runs each. */
static void time_group(const group *g, const roof_timing *t, roof_kernel *out)
{
    double t0 = roof_now();
    run_group(g); /* warm-up */
    double once = roof_now() - t0;
    if (once < 1e-7)
        once = 1e-7;
    long inner = (long)(t->min_time / once) + 1;
    /* a kernel that takes seconds per step (large configs on the scalar backend) gets
     * fewer repeats, at least one after the warm-up; the JSON says how many */
    int repeats = t->repeats;
    double per_repeat = once * (double)inner;
    if (per_repeat * repeats > KERNEL_BUDGET_SECONDS) {
        repeats = (int)(KERNEL_BUDGET_SECONDS / per_repeat);
        if (repeats < 3)
            repeats = per_repeat * 3 <= 2 * KERNEL_BUDGET_SECONDS ? 3 : 1;
        if (repeats > t->repeats)
            repeats = t->repeats;
    }
    double *v = malloc((size_t)repeats * sizeof *v);
    if (!v) {
        out->seconds = out->seconds_min = out->seconds_max = once;
        out->repeats = 1;
        return;
    }
    for (int r = 0; r < repeats; r++) {
        double a = roof_now();
        for (long i = 0; i < inner; i++)
            run_group(g);
        v[r] = (roof_now() - a) / (double)inner;
    }
    roof_min_max(v, repeats, &out->seconds_min, &out->seconds_max);
    out->seconds = roof_median(v, repeats);
    out->repeats = repeats;
    free(v);
}

int roof_measure_kernels(const mgpt_backend *be, const char *config, const roof_timing *t,
                         const char *label, roof_kernel **out, int *n_out)
{
    *out = NULL;
    *n_out = 0;
    mgpt_config cfg = {0};
    int B;
    char err[512];
    if (mgpt_config_parse_name(config, &cfg, &B, err, sizeof err) != 0) {
        tool_error(NULL, "%s", err);
        return -1;
    }
    mgpt_model *m = mgpt_model_create(&cfg, B, &be->k, err, sizeof err);
    if (!m) {
        tool_error(NULL, "config %s: %s", config, err);
        return -1;
    }
    mgpt_model_init(m, 42);
    mgpt_batch_random(m->tokens, m->targets, m->N, cfg.vocab_size, 42);
    /* one real step: activations, saved tensors, gradients and the target count */
    mgpt_model_forward(m);
    mgpt_model_backward(m);

    int nslots = mgpt_kernel_count();
    roof_kernel *ks = calloc((size_t)nslots, sizeof *ks);
    /* at most one call per node and direction, or two zeroings per node */
    call *calls = calloc(2 * (size_t)m->graph.n_nodes + 1, sizeof *calls);
    if (!ks || !calls) {
        free(ks), free(calls);
        mgpt_model_free(m);
        tool_error(NULL, "out of memory");
        return -1;
    }
    int n = 0;
    for (int slot = 0; slot < nslots; slot++) {
        group g = {be, m, slot, calls, 0};
        roof_kernel *k = &ks[n];
        memset(k, 0, sizeof *k);
        if (slot == roof_slot_sumsq() || slot == roof_slot_adam()) {
            mgpt_cost c = roof_optimizer_cost(slot, m->num_floats);
            k->flops = c.flops;
            k->bytes = k->max_call_bytes = c.bytes;
            k->calls = 1;
        } else if (slot == roof_slot_zero()) {
            for (int i = 0; i < m->graph.n_nodes; i++)
                for (int j = 0; j < 2; j++) {
                    const mgpt_tensor *t = m->graph.nodes[i].zero_grad[j];
                    if (!t)
                        continue;
                    calls[g.n_calls++] = (call){NULL, 0, t};
                    mgpt_cost c = mgpt_zero_cost(t->numel);
                    k->bytes += c.bytes;
                    k->calls++;
                    if (c.bytes > k->max_call_bytes)
                        k->max_call_bytes = c.bytes;
                }
            if (g.n_calls == 0)
                continue;
        } else {
            for (int i = 0; i < m->graph.n_nodes; i++)
                for (int bw = 0; bw < 2; bw++) {
                    const mgpt_node *nd = &m->graph.nodes[i];
                    if (roof_kernel_slot(nd->op, bw) != slot)
                        continue;
                    calls[g.n_calls++] = (call){nd, bw, NULL};
                    mgpt_cost c = mgpt_node_cost(nd, bw);
                    k->flops += c.flops;
                    k->bytes += c.bytes;
                    /* the two accumulate calls of an add node share its count */
                    int two = nd->op == MGPT_OP_ADD && bw;
                    double call_bytes = two ? add_call_bytes(nd) : c.bytes;
                    k->calls += two ? 2 : 1;
                    if (call_bytes > k->max_call_bytes)
                        k->max_call_bytes = call_bytes;
                }
            if (g.n_calls == 0)
                continue;
        }
        snprintf(k->config, sizeof k->config, "%s", config);
        k->slot = slot;
        k->name = mgpt_kernel_name(slot);
        k->native = (be->native >> slot) & 1u;
        roof_progress("%s: %s on %s (%d call%s per step)", label, k->name, config, k->calls,
                      k->calls == 1 ? "" : "s");
        time_group(&g, t, k);
        n++;
    }
    free(calls);
    mgpt_model_free(m);
    *out = ks;
    *n_out = n;
    return 0;
}
