/* Each kernel of a backend alone, on the shapes a model config really gives it: the model
 * is built for the config on the engine's compute (the backend on its threads), one forward
 * and backward pass fills every activation, gradient and saved tensor, and then, slot by
 * slot of the kernel list, every call the training step makes to that slot
 * (roof_step_calls: each node that calls it, each gradient the backward walk zeroes, the
 * optimizer's calls) is run back to back: once untimed to warm the caches, then --repeats
 * times, each repeat long enough for --min-time. The fastest repeat's time per step is
 * reported (as for the ceilings: another task can only slow a repeat), with the
 * engine's FLOP and byte counts for the same calls. A call runs as the engine makes it
 * (mgpt_node_forward, mgpt_node_backward, mgpt_adam_step) on a compute where every other
 * slot does nothing: a backward kernel gets the write bits of its node, so the first
 * contributor to a gradient stores it, the others add into it, and the counts are those
 * of each mode. Inputs are synthetic: tokens and targets drawn uniformly from the
 * vocabulary, none masked, so every row does the counted work. attention_decode, which
 * only generation calls, is timed over one document of those tokens decoded through the
 * block with the key/value cache (ROOF_SITE_DECODE), and reported per such block. The
 * threads a slot runs on are the engine's split of its calls (group_threads). */
#include <stdlib.h>
#include <string.h>
#include "data/dataset.h"
#include "engine/threads.h"
#include "model/decode.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "roofline.h"

/* Longest a kernel's timed repeats may take in all before they are cut. */
#define KERNEL_BUDGET_SECONDS 4.0

/* One slot's calls: the sites that make them (each once, in step order), run on a
 * compute where only that slot does anything. */
typedef struct group {
    mgpt_model *m;
    mgpt_compute c;
    const mgpt_optim *optim;
    const roof_call **sites;
    int n_sites;
    mgpt_decoder *dec;        /* for ROOF_SITE_DECODE: m's parameters, run on c */
} group;

static void run_group(const group *g)
{
    mgpt_model *m = g->m;
    for (int i = 0; i < g->n_sites; i++) {
        const roof_call *s = g->sites[i];
        switch (s->site) {
        case ROOF_SITE_FORWARD:
            mgpt_node_forward(&m->graph.nodes[s->node], &m->graph, &g->c);
            break;
        case ROOF_SITE_BACKWARD:
            mgpt_node_backward(&m->graph.nodes[s->node], &m->graph, &g->c);
            break;
        case ROOF_SITE_ZERO:
            g->c.k->zero(g->c.ctx, s->x, s->n);
            break;
        case ROOF_SITE_OPTIMIZER: {
            /* the optimizer runs on the model's compute: this one, for the call */
            mgpt_compute keep = m->compute;
            m->compute = g->c;
            mgpt_adam_step(m, g->optim);
            m->compute = keep;
            break;
        }
        case ROOF_SITE_DECODE:
            g->dec->compute = g->c;
            roof_decode_block(g->dec, m);
            break;
        }
    }
}

/* Seconds per run of the group: the fastest of repeats of `inner` runs each. */
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
    out->seconds = out->seconds_min;
    out->repeats = repeats;
    free(v);
}

/* The threads a group's calls run on: the most parts the engine's team splits any of them
 * into (a dry run of the team, which notes the parts and runs nothing); 1 without a team.
 * Below its split size a call stays on the calling thread, whatever --threads says. */
static int group_threads(const group *g, mgpt_team *team)
{
    if (!team)
        return 1;
    team->dry_run = 1;
    team->max_parts = 1;
    run_group(g);
    team->dry_run = 0;
    return team->max_parts;
}

/* Whether two calls are made by one site (a node's backward calling accumulate twice, the
 * optimizer's sumsq chunk by chunk): the site then runs once for both. */
static int same_site(const roof_call *a, const roof_call *b)
{
    return a->site == b->site && a->node == b->node && a->x == b->x;
}

int roof_measure_kernels(const mgpt_engine *e, const char *config, const roof_timing *t,
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
    mgpt_model *m = mgpt_model_create(&cfg, B, &e->compute, err, sizeof err);
    if (!m) {
        tool_error(NULL, "config %s: %s", config, err);
        return -1;
    }
    mgpt_model_init(m, 42);
    mgpt_batch_random(m->tokens, m->targets, m->N, cfg.vocab_size, 42);
    /* one real step: activations, saved tensors, gradients and the target count */
    mgpt_model_forward(m);
    mgpt_model_backward(m);

    roof_call *calls = NULL;
    int n_calls = roof_step_calls(m, &calls);
    int nslots = mgpt_kernel_count();
    roof_kernel *ks = calloc((size_t)nslots, sizeof *ks);
    const roof_call **sites = calloc((size_t)(n_calls > 0 ? n_calls : 1), sizeof *sites);
    if (n_calls < 0 || !ks || !sites) {
        free(calls), free(ks), free(sites);
        mgpt_model_free(m);
        tool_error(NULL, "out of memory");
        return -1;
    }
    /* Adam's defaults at a constant, small rate: the parameters stay where they are */
    mgpt_optim optim;
    mgpt_optim_defaults(&optim);
    optim.lr = 1e-6f;
    optim.total_steps = 1 << 30;
    long step = m->step;
    int n = 0;
    mgpt_decoder *dec = mgpt_decoder_create(m, &e->compute, err, sizeof err);
    if (!dec) {
        free(calls), free(ks), free(sites);
        mgpt_model_free(m);
        tool_error(NULL, "config %s: %s", config, err);
        return -1;
    }
    for (int slot = 0; slot < nslots; slot++) {
        mgpt_kernels table;
        group g = {m, roof_compute_only(&e->compute, slot, &table), &optim, sites, 0, dec};
        roof_kernel *k = &ks[n];
        memset(k, 0, sizeof *k);
        const roof_call *last = NULL;
        for (int i = 0; i < n_calls; i++) {
            const roof_call *c = &calls[i];
            if (c->slot != slot)
                continue;
            k->flops += c->cost.flops;
            k->bytes += c->cost.bytes;
            k->calls++;
            if (c->cost.bytes > k->max_call_bytes)
                k->max_call_bytes = c->cost.bytes;
            if (c->footprint > k->footprint)
                k->footprint = c->footprint;
            if (!last || !same_site(last, c))
                sites[g.n_sites++] = c;
            last = c;
        }
        if (k->calls == 0)
            continue; /* a slot this step does not call */
        snprintf(k->config, sizeof k->config, "%s", config);
        k->slot = slot;
        k->name = mgpt_kernel_name(slot);
        k->native = (int)((e->be.native >> slot) & 1u);
        k->writes_only = slot == MGPT_K_ZERO; /* the one slot that loads nothing */
        roof_progress("%s: %s on %s (%d call%s per step)", label, k->name, config, k->calls,
                      k->calls == 1 ? "" : "s");
        k->threads = group_threads(&g, e->compute.team);
        time_group(&g, t, k);
        n++;
    }
    m->step = step;
    mgpt_decoder_free(dec);
    free(sites);
    free(calls);
    mgpt_model_free(m);
    *out = ks;
    *n_out = n;
    return 0;
}
