/* The GPT of the spec as a static graph: parameters, activations and gradients planned and
 * allocated once for (B documents, T = block_size positions); nothing is allocated after. */
#ifndef MGPT_MODEL_H
#define MGPT_MODEL_H
#include <stdint.h>
#include <mgpt/backend.h>
#include "model/mgpt_config.h"
#include "engine/compute.h"
#include "model/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mgpt_param {
    char name[MGPT_NAME_LEN];   /* the spec's (and the checkpoint's) tensor name */
    int rows, cols;
    float *data, *grad, *m, *v; /* into the model's four parameter-sized arenas */
    int init_zero;              /* attn_wo and mlp_fc2 start at 0 */
} mgpt_param;

typedef struct mgpt_model {
    mgpt_config cfg;
    int B, T, N;                 /* documents per batch, positions, rows = B*T */
    int training;                /* 0: inference only, no gradient or Adam arenas */
    mgpt_compute compute;        /* the kernels every op runs (a copy of the caller's) */

    mgpt_param *params;          /* in the spec's order */
    int n_params;
    size_t num_floats;           /* total parameter count */
    float *param_mem, *grad_mem, *m_mem, *v_mem;
    long step;                   /* optimizer steps taken (Adam's t = step + 1) */

    mgpt_tensor *tensors;        /* every tensor of the graph */
    int n_tensors;
    float *act_mem, *act_grad_mem;
    size_t act_floats, act_grad_floats;
    mgpt_graph graph;

    int *tokens, *targets;       /* [N] inputs of the graph, filled by the caller */
    mgpt_tensor *logits, *probs, *losses;
} mgpt_model;

/* What a model will allocate, in bytes per arena, from the counting pass alone. */
typedef struct mgpt_model_plan {
    double params, grads, adam, acts, act_grads, tables; /* tables: graph, tokens, targets */
    double total;
} mgpt_model_plan;

/* A model is made for training (parameters, gradients, Adam state, activations and their
 * gradients) or for inference only (parameters and activations: no backward, no step). */
enum { MGPT_MODEL_TRAIN = 1, MGPT_MODEL_INFER = 0 };

/* The plan of a model of cfg with B documents of T positions (1..block_size). 0, or -1
 * with err set (bad config or sizes). */
int mgpt_model_plan_for(const mgpt_config *cfg, int B, int T, int training, mgpt_model_plan *p,
                        char *err, size_t errlen);
/* 0 if the plan fits in what this process may allocate (platform/memory.h); else -1 with
 * "needs 155.2 GiB (parameters ..., gradients ..., ...); this machine has 23.4 GiB". */
int mgpt_model_budget(const mgpt_model_plan *p, char *err, size_t errlen);

/* NULL on failure with err set (bad config, over the memory budget, out of memory). A
 * training model of T = block_size. */
mgpt_model *mgpt_model_create(const mgpt_config *cfg, int B, const mgpt_compute *c,
                              char *err, size_t errlen);
/* Any T in 1..block_size, for training or inference (training 0: grad_mem, m_mem, v_mem
 * and act_grad_mem are NULL and the model must not run backward or a step). */
mgpt_model *mgpt_model_create_for(const mgpt_config *cfg, int B, int T, int training,
                                  const mgpt_compute *c, char *err, size_t errlen);
void mgpt_model_free(mgpt_model *m);
/* The spec's initialisation from seed (stream MGPT_STREAM_INIT); zeroes Adam state. */
void mgpt_model_init(mgpt_model *m, uint64_t seed);
mgpt_param *mgpt_model_param(mgpt_model *m, const char *name);
/* Copies parameters (not Adam state) between two models of one config, any batch sizes. */
void mgpt_model_copy_params(mgpt_model *dst, const mgpt_model *src);

/* Forward over m->tokens/m->targets; returns the mean loss over unmasked targets
 * (0 if there are none). */
float mgpt_model_forward(mgpt_model *m);
/* Backpropagates the mean loss of the last forward into every gradient (each zeroed just
 * before its first use: the step's gradients, none left from an earlier one). */
void mgpt_model_backward(mgpt_model *m);
/* Logits of document b at position t ([V] floats), valid after a forward. */
const float *mgpt_model_logits(const mgpt_model *m, int b, int t);
#ifdef __cplusplus
}
#endif
#endif
