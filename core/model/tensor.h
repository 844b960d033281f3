/* A tensor: a named, shaped view into one of the engine's arenas, with its gradient. */
#ifndef MGPT_TENSOR_H
#define MGPT_TENSOR_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MGPT_MAX_DIMS 4
#define MGPT_NAME_LEN 48

typedef struct mgpt_tensor {
    char name[MGPT_NAME_LEN];
    int ndim;
    int shape[MGPT_MAX_DIMS];
    size_t numel;
    float *data;   /* into the parameter or activation arena */
    float *grad;   /* into the matching gradient arena; NULL if no gradient is kept */
} mgpt_tensor;

#ifdef __cplusplus
}
#endif
#endif
