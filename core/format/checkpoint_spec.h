/* The spec's checkpoint layout for a config (docs/model.md): the tensor names and shapes in
 * order, the Adam state's name prefixes and the reserved metadata keys, shared by the
 * reader (checkpoint.c) and the writer (checkpoint_write.c). Internal to core/format. */
#ifndef MGPT_CHECKPOINT_SPEC_H
#define MGPT_CHECKPOINT_SPEC_H
#include <stddef.h>
#include "model/mgpt_config.h"
#include "model/model.h"

#define CKPT_FORMAT "mgpt"

/* Tensor kinds: the parameter itself, Adam's first and second moments. */
enum { CKPT_PARAM, CKPT_M, CKPT_V, CKPT_KINDS };
extern const char *const ckpt_kind_prefix[CKPT_KINDS];   /* "", "adam.m.", "adam.v." */

/* The metadata keys the spec and mgpt reserve, in the order they are written (the
 * checksum last). */
enum { CKPT_N_SPEC = 10 };
extern const char *const ckpt_spec_keys[CKPT_N_SPEC];

/* The number of parameter tensors of c. */
int ckpt_spec_count(const mgpt_config *c);
/* Name, shape and the shape in words of the spec's i-th parameter. */
void ckpt_spec_param(const mgpt_config *c, int i, char *name, size_t len, int *rows,
                     int *cols, const char **dims);
/* Index of a parameter name in the spec's list for c, or -1. */
int ckpt_spec_index(const mgpt_config *c, const char *name);
/* The model's parameter table must be the spec's, in order (it is what is written). 0, or
 * -1 with err naming path. */
int ckpt_check_model_params(const char *path, const mgpt_model *m, char *err, size_t errlen);
#endif
