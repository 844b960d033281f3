/* Adam over the parameter arena (or one range of it), the learning-rate schedule, global-norm clipping. */
#include <math.h>
#include "model/optimizer.h"

void mgpt_optim_defaults(mgpt_optim *o)
{
    o->lr = 1e-2f;
    o->schedule = MGPT_LR_LINEAR;
    o->warmup_steps = 0;
    o->total_steps = 500;
    o->grad_clip = 0.0f;
    o->beta1 = 0.9f;
    o->beta2 = 0.95f;
    o->eps = 1e-8f;
}

/* Warmup: lr*(step+1)/warmup. Then decay to 0 at total_steps over the remaining steps:
 * linear lr*(1-p) (the seed's lr*(1 - step/num_steps) when warmup = 0), or cosine
 * lr*(1+cos(pi p))/2, with p = (step - warmup) / (total - warmup). */
float mgpt_lr_at(const mgpt_optim *o, long step)
{
    if (o->warmup_steps > 0 && step < o->warmup_steps)
        return o->lr * (float)(step + 1) / (float)o->warmup_steps;
    double span = (double)(o->total_steps - o->warmup_steps);
    double p = span > 0 ? (double)(step - o->warmup_steps) / span : 1.0;
    if (p < 0)
        p = 0;
    if (p > 1)
        p = 1;
    if (o->schedule == MGPT_LR_COSINE)
        return (float)(o->lr * 0.5 * (1.0 + cos(M_PI * p)));
    return (float)(o->lr * (1.0 - p));
}

float mgpt_adam_step(mgpt_model *m, const mgpt_optim *o)
{
    float norm = (float)sqrt(mgpt_compute_sumsq(&m->compute, m->grad_mem, m->num_floats));
    float scale = 1.0f;
    if (o->grad_clip > 0 && norm > o->grad_clip)
        scale = o->grad_clip / norm;
    mgpt_adam_step_range(m, o, scale, 0, m->num_floats);
    return norm;
}

/* Adam is elementwise (each kernel's tail runs the same arithmetic as its full vectors), so
 * the ranges of a cut arena update to the bits of one whole-arena call. */
void mgpt_adam_step_range(mgpt_model *m, const mgpt_optim *o, float grad_scale, size_t lo,
                          size_t hi)
{
    const mgpt_compute *c = &m->compute;
    long t = m->step + 1;
    mgpt_adam_args a = {
        .lr = mgpt_lr_at(o, m->step),
        .beta1 = o->beta1,
        .beta2 = o->beta2,
        .eps = o->eps,
        .bc1 = (float)(1.0 - pow(o->beta1, (double)t)),
        .bc2 = (float)(1.0 - pow(o->beta2, (double)t)),
        .grad_scale = grad_scale,
    };
    if (hi > lo)
        c->k->adam_update(c->ctx, m->param_mem + lo, m->grad_mem + lo, m->m_mem + lo,
                          m->v_mem + lo, hi - lo, &a);
    m->step++;
}
