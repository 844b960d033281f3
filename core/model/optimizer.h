/* Adam with the spec's schedule (warmup, then linear or cosine decay to 0) and clipping. */
#ifndef MGPT_OPTIMIZER_H
#define MGPT_OPTIMIZER_H
#include "model/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { MGPT_LR_LINEAR, MGPT_LR_COSINE } mgpt_lr_schedule;

typedef struct mgpt_optim {
    float lr;                 /* peak learning rate (default 1e-2) */
    mgpt_lr_schedule schedule;
    int warmup_steps;         /* 0 = none */
    int total_steps;          /* the decay reaches 0 here */
    float grad_clip;          /* global-norm clip; <= 0 = none */
    float beta1, beta2, eps;  /* 0.9, 0.95, 1e-8 */
} mgpt_optim;

void mgpt_optim_defaults(mgpt_optim *o);
float mgpt_lr_at(const mgpt_optim *o, long step);
/* One Adam update of every parameter from its gradient; advances m->step.
 * Returns the global gradient norm before clipping. */
float mgpt_adam_step(mgpt_model *m, const mgpt_optim *o);
/* Adam on parameters [lo, hi) of the arena only (param_mem, grad_mem, m_mem, v_mem), each
 * gradient times grad_scale (1, or the clip's factor from the global norm, which a range
 * cannot know); advances m->step. mgpt_adam_step is this over [0, num_floats), and the
 * ranges of any cut give its bits: data-parallel ranks each update their own range. */
void mgpt_adam_step_range(mgpt_model *m, const mgpt_optim *o, float grad_scale, size_t lo,
                          size_t hi);
#ifdef __cplusplus
}
#endif
#endif
