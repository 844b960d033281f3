/* The GPT of the spec as a static graph, with every buffer planned and allocated once.
 *
 * The build runs twice: a counting pass sizes the arenas, then a second pass hands out
 * pointers into them. Parameters sit in the spec's order with no padding, so Adam and the
 * gradient norm each run as one kernel call over the whole arena, and a layer's wq, wk, wv
 * are adjacent: together they are the one [3C, C] weight of the fused q|k|v projection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/model.h"
#include "engine/threads.h"
#include "data/rng.h"
#include "platform/memory.h"

#define ALIGN_FLOATS 16 /* 64-byte alignment for activations */

typedef struct builder {
    mgpt_model *m;
    int counting;
    size_t param_used, act_used, act_grad_used;
    int n_tensors, n_nodes, n_params;
} builder;

static float *take(float *base, size_t *used, size_t n, int align)
{
    if (align)
        *used = (*used + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
    float *p = base ? base + *used : NULL;
    *used += n;
    return p;
}

static mgpt_tensor *new_tensor(builder *b, const char *name, int ndim, const int *shape)
{
    int i = b->n_tensors++;
    if (b->counting)
        return NULL;
    mgpt_tensor *t = &b->m->tensors[i];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->numel = 1;
    for (int d = 0; d < ndim; d++) {
        t->shape[d] = shape[d];
        t->numel *= (size_t)shape[d];
    }
    return t;
}

/* An activation; with_grad gives it a gradient buffer for the backward pass. */
static mgpt_tensor *activation(builder *b, const char *name, int ndim, const int *shape,
                               int with_grad)
{
    size_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= (size_t)shape[d];
    mgpt_model *m = b->m;
    mgpt_tensor *t = new_tensor(b, name, ndim, shape);
    float *data = take(b->counting ? NULL : m->act_mem, &b->act_used, n, 1);
    float *grad = with_grad && m->training
                      ? take(b->counting ? NULL : m->act_grad_mem, &b->act_grad_used, n, 1)
                            : NULL;
    if (t) {
        t->data = data;
        t->grad = grad;
    }
    return t;
}

static mgpt_tensor *act2(builder *b, const char *name, int rows, int cols, int with_grad)
{
    int shape[2] = {rows, cols};
    return activation(b, name, 2, shape, with_grad);
}

/* A parameter: registered in the model's table and given data, grad, m and v. */
static mgpt_tensor *parameter(builder *b, const char *name, int rows, int cols, int init_zero)
{
    mgpt_model *m = b->m;
    size_t n = (size_t)rows * cols;
    int i = b->n_params++;
    size_t off = b->param_used;
    b->param_used += n;
    int shape[2] = {rows, cols};
    mgpt_tensor *t = new_tensor(b, name, 2, shape);
    if (b->counting)
        return NULL;
    mgpt_param *p = &m->params[i];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->rows = rows;
    p->cols = cols;
    p->data = m->param_mem + off;
    p->grad = m->grad_mem ? m->grad_mem + off : NULL;
    p->m = m->m_mem ? m->m_mem + off : NULL;
    p->v = m->v_mem ? m->v_mem + off : NULL;
    p->init_zero = init_zero;
    t->data = p->data;
    t->grad = p->grad;
    return t;
}

/* A view of rows consecutive parameters (the fused qkv weight). */
static mgpt_tensor *param_view(builder *b, const char *name, const mgpt_tensor *first,
                               int rows, int cols)
{
    int shape[2] = {rows, cols};
    mgpt_tensor *t = new_tensor(b, name, 2, shape);
    if (t) {
        t->data = first->data;
        t->grad = first->grad;
    }
    return t;
}

static mgpt_node *node(builder *b, mgpt_op_kind op, mgpt_tensor *out, mgpt_tensor *in0,
                       mgpt_tensor *in1)
{
    int i = b->n_nodes++;
    if (b->counting)
        return NULL;
    mgpt_model *m = b->m;
    mgpt_node *nd = &m->graph.nodes[i];
    memset(nd, 0, sizeof *nd);
    nd->op = op;
    nd->out = out;
    nd->in[0] = in0;
    nd->in[1] = in1;
    nd->B = m->B;
    nd->T = m->T;
    nd->N = m->N;
    nd->C = m->cfg.n_embd;
    nd->H = m->cfg.n_head;
    nd->V = m->cfg.vocab_size;
    return nd;
}

static mgpt_tensor *rmsnorm(builder *b, const char *name, mgpt_tensor *x)
{
    char rname[MGPT_NAME_LEN];
    snprintf(rname, sizeof rname, "%s.rstd", name);
    mgpt_tensor *out = act2(b, name, b->m->N, b->m->cfg.n_embd, 1);
    int shape[1] = {b->m->N};
    mgpt_tensor *rstd = activation(b, rname, 1, shape, 0);
    mgpt_node *nd = node(b, MGPT_OP_RMSNORM, out, x, NULL);
    if (nd)
        nd->aux = rstd;
    return out;
}

static mgpt_tensor *matmul(builder *b, const char *name, mgpt_tensor *x, mgpt_tensor *w,
                           int C, int OC)
{
    mgpt_tensor *out = act2(b, name, b->m->N, OC, 1);
    mgpt_node *nd = node(b, MGPT_OP_MATMUL, out, x, w);
    if (nd) {
        nd->C = C;
        nd->OC = OC;
    }
    return out;
}

static mgpt_tensor *add(builder *b, const char *name, mgpt_tensor *x, mgpt_tensor *y)
{
    mgpt_tensor *out = act2(b, name, b->m->N, b->m->cfg.n_embd, 1);
    node(b, MGPT_OP_ADD, out, x, y);
    return out;
}

/* The network of the spec, op by op. */
static void build(builder *b)
{
    mgpt_model *m = b->m;
    int C = m->cfg.n_embd, V = m->cfg.vocab_size, H = m->cfg.n_head, T = m->T, B = m->B;
    int N = m->N;
    char name[MGPT_NAME_LEN];

    mgpt_tensor *wte = parameter(b, "wte", V, C, 0);
    mgpt_tensor *wpe = parameter(b, "wpe", m->cfg.block_size, C, 0);
    mgpt_tensor *lm_head = parameter(b, "lm_head", V, C, 0);

    mgpt_tensor *emb = act2(b, "embed", N, C, 1);
    node(b, MGPT_OP_EMBED, emb, wte, wpe);
    mgpt_tensor *x = rmsnorm(b, "embed.norm", emb);

    for (int l = 0; l < m->cfg.n_layer; l++) {
#define NAME(s) (snprintf(name, sizeof name, "layer%d." s, l), name)
        mgpt_tensor *wq = parameter(b, NAME("attn_wq"), C, C, 0);
        parameter(b, NAME("attn_wk"), C, C, 0);
        parameter(b, NAME("attn_wv"), C, C, 0);
        mgpt_tensor *wo = parameter(b, NAME("attn_wo"), C, C, 1);
        mgpt_tensor *fc1 = parameter(b, NAME("mlp_fc1"), 4 * C, C, 0);
        mgpt_tensor *fc2 = parameter(b, NAME("mlp_fc2"), C, 4 * C, 1);
        mgpt_tensor *wqkv = param_view(b, NAME("attn_wqkv"), wq, 3 * C, C);

        mgpt_tensor *r = x;
        mgpt_tensor *h = rmsnorm(b, NAME("ln1"), x);
        mgpt_tensor *qkv = matmul(b, NAME("qkv"), h, wqkv, C, 3 * C);
        mgpt_tensor *y = act2(b, NAME("attn"), N, C, 1);
        int ashape[4] = {B, H, T, T};
        mgpt_tensor *att = activation(b, NAME("attn.probs"), 4, ashape, 0);
        mgpt_tensor *datt = activation(b, NAME("attn.scratch"), 4, ashape, 0);
        mgpt_node *nd = node(b, MGPT_OP_ATTENTION, y, qkv, NULL);
        if (nd) {
            nd->aux = att;
            nd->scratch = datt;
        }
        mgpt_tensor *proj = matmul(b, NAME("attn_proj"), y, wo, C, C);
        x = add(b, NAME("res1"), proj, r);

        r = x;
        h = rmsnorm(b, NAME("ln2"), x);
        mgpt_tensor *f1 = matmul(b, NAME("fc1"), h, fc1, C, 4 * C);
        mgpt_tensor *act = act2(b, NAME("sqrelu"), N, 4 * C, 1);
        node(b, MGPT_OP_SQRELU, act, f1, NULL);
        mgpt_tensor *f2 = matmul(b, NAME("fc2"), act, fc2, 4 * C, C);
        x = add(b, NAME("res2"), f2, r);
#undef NAME
    }

    mgpt_tensor *logits = matmul(b, "logits", x, lm_head, C, V);
    mgpt_tensor *probs = act2(b, "probs", N, V, 0);
    int lshape[1] = {N};
    mgpt_tensor *losses = activation(b, "losses", 1, lshape, 0);
    mgpt_node *xent = node(b, MGPT_OP_XENT, losses, logits, NULL);
    if (xent)
        xent->aux = probs;
    m->logits = logits;
    m->probs = probs;
    m->losses = losses;
}

/* The first contributor to each gradient in the backward walk (the tensor's last reader in
 * forward order) stores it: its kernel gets the write bit (node->write), so no gradient is
 * zeroed and none is read before it is written (zeroing them wrote 347 MB a step at
 * e768_L4_b64_B16, 2.6% of it, and each first GEMM then read the zeroes back). Embed's scatter only adds, so dwte and dwpe are zeroed just before it
 * (zero_grad), in the caches of the kernel and on its threads. A gradient no node reads is
 * never touched and stays as allocated: zero (wq, wk and wv are read only through the
 * fused wqkv view, which covers them). 0, or -1 when out of memory. */
static int plan_first_contributors(mgpt_model *m)
{
    char *planned = calloc((size_t)m->n_tensors, 1);
    if (!planned)
        return -1;
    for (int i = m->graph.n_nodes - 1; i >= 0; i--) {
        mgpt_node *nd = &m->graph.nodes[i];
        for (int j = 0; j < 2; j++) {
            mgpt_tensor *t = nd->in[j];
            if (!t || !t->grad || planned[t - m->tensors])
                continue;
            planned[t - m->tensors] = 1;
            if (nd->op == MGPT_OP_EMBED)
                nd->zero_grad[j] = t;
            else
                nd->write |= 1u << j;
        }
    }
    free(planned);
    return 0;
}

/* An arena, not yet touched: every allocation is checked before any is zeroed (zeroing a
 * 22 GB gradient arena before seeing that a 155 GB one failed cost minutes and the OOM
 * killer). */
static float *arena(size_t n)
{
    size_t bytes = (n ? n : 1) * sizeof(float);
    bytes = (bytes + 63) / 64 * 64;
    return aligned_alloc(64, bytes);
}

static double arena_bytes(size_t n)
{
    return (double)(((n ? n : 1) * sizeof(float) + 63) / 64 * 64);
}

static void zero(float *p, size_t n)
{
    if (p)
        memset(p, 0, (size_t)arena_bytes(n));
}

/* Every kernel call of a training step, for mgpt_team_compute_for's dry run (which executes
 * none): the graph both ways, the gradient norm and Adam; inference runs the forward only. */
static void dry_step(const mgpt_compute *c, void *arg)
{
    mgpt_model *m = arg;
    mgpt_adam_args none = {0};
    mgpt_graph_forward(&m->graph, c);
    if (!m->training)
        return;
    mgpt_graph_backward(&m->graph, c);
    (void)mgpt_compute_sumsq(c, m->grad_mem, m->num_floats);
    c->k->adam_update(c->ctx, m->param_mem, m->grad_mem, m->m_mem, m->v_mem, m->num_floats,
                      &none);
}

static int check_shape(const mgpt_config *cfg, int B, int T, char *err, size_t errlen)
{
    if (mgpt_config_validate(cfg, err, errlen) != 0)
        return -1;
    if (B < 1 || B > 65536) {
        snprintf(err, errlen, "batch size %d is out of range (1..65536 documents)", B);
        return -1;
    }
    if (T < 1 || T > cfg->block_size) {
        snprintf(err, errlen, "%d positions is out of range (1..block_size %d)", T,
                 cfg->block_size);
        return -1;
    }
    if ((long long)B * T * 4 * cfg->n_embd > 0x7fffffffLL) {
        snprintf(err, errlen, "batch %d x block %d x 4*n_embd %d overflows the kernels' int sizes",
                 B, T, 4 * cfg->n_embd);
        return -1;
    }
    return 0;
}

/* The counting pass over a model's shape: fills the counts of m (cfg, B, T, training set). */
static void count(mgpt_model *m)
{
    builder b = {.m = m, .counting = 1};
    build(&b);
    m->n_tensors = b.n_tensors;
    m->graph.n_nodes = b.n_nodes;
    m->n_params = b.n_params;
    m->num_floats = b.param_used;
    m->act_floats = b.act_used;
    m->act_grad_floats = b.act_grad_used;
}

static void plan_of(const mgpt_model *m, mgpt_model_plan *p)
{
    double params = arena_bytes(m->num_floats);
    p->params = params;
    p->grads = m->training ? params : 0;
    p->adam = m->training ? 2 * params : 0;
    p->acts = arena_bytes(m->act_floats);
    p->act_grads = m->training ? arena_bytes(m->act_grad_floats) : 0;
    p->tables = (double)m->n_tensors * sizeof(mgpt_tensor) +
                (double)m->graph.n_nodes * sizeof(mgpt_node) +
                (double)m->n_params * sizeof(mgpt_param) + 2.0 * m->N * sizeof(int);
    p->total = p->params + p->grads + p->adam + p->acts + p->act_grads + p->tables;
}

int mgpt_model_plan_for(const mgpt_config *cfg, int B, int T, int training, mgpt_model_plan *p,
                        char *err, size_t errlen)
{
    if (check_shape(cfg, B, T, err, errlen) != 0)
        return -1;
    mgpt_model m = {.cfg = *cfg, .B = B, .T = T, .N = B * T, .training = training};
    count(&m);
    plan_of(&m, p);
    return 0;
}

int mgpt_model_budget(const mgpt_model_plan *p, char *err, size_t errlen)
{
    mgpt_memory_limit lim;
    mgpt_memory_limit_get(&lim);
    if (p->total <= lim.bytes)
        return 0;
    char t[32], a[32], g[32], ad[32], ac[32], ag[32], l[32];
    mgpt_memory_format(p->total, t, sizeof t);
    mgpt_memory_format(p->params, a, sizeof a);
    mgpt_memory_format(p->grads, g, sizeof g);
    mgpt_memory_format(p->adam, ad, sizeof ad);
    mgpt_memory_format(p->acts, ac, sizeof ac);
    mgpt_memory_format(p->act_grads, ag, sizeof ag);
    mgpt_memory_format(lim.bytes, l, sizeof l);
    if (p->grads > 0)
        snprintf(err, errlen, "needs %s (parameters %s, gradients %s, Adam state %s, "
                 "activations %s, activation gradients %s); %s %s", t, a, g, ad, ac, ag,
                 lim.what, l);
    else
        snprintf(err, errlen, "needs %s (parameters %s, activations %s); %s %s", t, a, ac,
                 lim.what, l);
    return -1;
}

mgpt_model *mgpt_model_create(const mgpt_config *cfg, int B, const mgpt_compute *c,
                              char *err, size_t errlen)
{
    return mgpt_model_create_for(cfg, B, cfg->block_size, MGPT_MODEL_TRAIN, c, err, errlen);
}

mgpt_model *mgpt_model_create_for(const mgpt_config *cfg, int B, int T, int training,
                                  const mgpt_compute *c, char *err, size_t errlen)
{
    if (check_shape(cfg, B, T, err, errlen) != 0)
        return NULL;
    mgpt_model *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->cfg = *cfg;
    m->B = B;
    m->T = T;
    m->N = B * T;
    m->training = training != 0;
    m->compute = *c;

    count(m);
    mgpt_model_plan plan;
    plan_of(m, &plan);
    if (mgpt_model_budget(&plan, err, errlen) != 0) {
        free(m);
        return NULL;
    }

    m->tensors = calloc((size_t)m->n_tensors, sizeof *m->tensors);
    m->graph.nodes = calloc((size_t)m->graph.n_nodes, sizeof *m->graph.nodes);
    m->params = calloc((size_t)m->n_params, sizeof *m->params);
    m->param_mem = arena(m->num_floats);
    m->act_mem = arena(m->act_floats);
    if (m->training) {
        m->grad_mem = arena(m->num_floats);
        m->m_mem = arena(m->num_floats);
        m->v_mem = arena(m->num_floats);
        m->act_grad_mem = arena(m->act_grad_floats);
    }
    m->tokens = calloc((size_t)m->N, sizeof *m->tokens);
    m->targets = calloc((size_t)m->N, sizeof *m->targets);
    if (!m->tensors || !m->graph.nodes || !m->params || !m->param_mem || !m->act_mem ||
        (m->training && (!m->grad_mem || !m->m_mem || !m->v_mem || !m->act_grad_mem)) ||
        !m->tokens || !m->targets) {
        snprintf(err, errlen, "out of memory for a model of %zu parameters and %zu activation floats",
                 m->num_floats, m->act_floats + m->act_grad_floats);
        mgpt_model_free(m);
        return NULL;
    }
    /* only now that every allocation succeeded */
    zero(m->param_mem, m->num_floats);
    zero(m->act_mem, m->act_floats);
    zero(m->grad_mem, m->num_floats);
    zero(m->m_mem, m->num_floats);
    zero(m->v_mem, m->num_floats);
    zero(m->act_grad_mem, m->act_grad_floats);
    for (int i = 0; i < m->N; i++)
        m->targets[i] = -1;

    builder b = {.m = m, .counting = 0};
    build(&b);
    if (plan_first_contributors(m) != 0) {
        snprintf(err, errlen, "out of memory");
        mgpt_model_free(m);
        return NULL;
    }
    m->graph.tokens = m->tokens;
    m->graph.targets = m->targets;
    if (c->team)
        m->compute = mgpt_team_compute_for(c->team, dry_step, m);
    return m;
}

void mgpt_model_free(mgpt_model *m)
{
    if (!m)
        return;
    free(m->tensors);
    free(m->graph.nodes);
    free(m->params);
    free(m->param_mem);
    free(m->grad_mem);
    free(m->m_mem);
    free(m->v_mem);
    free(m->act_mem);
    free(m->act_grad_mem);
    free(m->tokens);
    free(m->targets);
    free(m);
}

void mgpt_model_init(mgpt_model *m, uint64_t seed)
{
    /* Draws N(0, 0.02) for every element of every non-zero parameter, in the spec's
     * parameter order, row-major: one sequence, independent of backend and batch size. */
    mgpt_rng r;
    mgpt_rng_seed(&r, seed, MGPT_STREAM_INIT);
    for (int i = 0; i < m->n_params; i++) {
        mgpt_param *p = &m->params[i];
        size_t n = (size_t)p->rows * p->cols;
        for (size_t j = 0; j < n; j++)
            p->data[j] = p->init_zero ? 0.0f : (float)(0.02 * mgpt_rng_normal(&r));
    }
    if (m->m_mem)
        memset(m->m_mem, 0, m->num_floats * sizeof(float));
    if (m->v_mem)
        memset(m->v_mem, 0, m->num_floats * sizeof(float));
    m->step = 0;
}

mgpt_param *mgpt_model_param(mgpt_model *m, const char *name)
{
    for (int i = 0; i < m->n_params; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return &m->params[i];
    return NULL;
}

void mgpt_model_copy_params(mgpt_model *dst, const mgpt_model *src)
{
    memcpy(dst->param_mem, src->param_mem, src->num_floats * sizeof(float));
}

float mgpt_model_forward(mgpt_model *m)
{
    mgpt_graph_forward(&m->graph, &m->compute);
    if (m->graph.n_targets == 0)
        return 0.0f;
    double sum = 0.0;
    for (int n = 0; n < m->N; n++)
        if (m->targets[n] >= 0)
            sum += m->losses->data[n];
    return (float)(sum / m->graph.n_targets);
}

void mgpt_model_backward(mgpt_model *m)
{
    /* each gradient's first contributor stores it (plan_first_contributors) */
    mgpt_graph_backward(&m->graph, &m->compute);
}

const float *mgpt_model_logits(const mgpt_model *m, int b, int t)
{
    return m->logits->data + ((size_t)b * m->T + t) * m->cfg.vocab_size;
}
