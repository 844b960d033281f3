/* Adam over the whole parameter arena, the learning-rate schedule, global-norm clipping. */
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
    const mgpt_compute *c = &m->compute;
    float norm = (float)sqrt(mgpt_compute_sumsq(c, m->grad_mem, m->num_floats));
    long t = m->step + 1;
    mgpt_adam_args a = {
        .lr = mgpt_lr_at(o, m->step),
        .beta1 = o->beta1,
        .beta2 = o->beta2,
        .eps = o->eps,
        .bc1 = (float)(1.0 - pow(o->beta1, (double)t)),
        .bc2 = (float)(1.0 - pow(o->beta2, (double)t)),
        .grad_scale = 1.0f,
    };
    if (o->grad_clip > 0 && norm > o->grad_clip)
        a.grad_scale = o->grad_clip / norm;
    c->k->adam_update(c->ctx, m->param_mem, m->grad_mem, m->m_mem, m->v_mem, m->num_floats,
                      &a);
    m->step++;
    return norm;
}
