/* The kernel slots of mgpt_kernels by name, to list what a backend implements natively. */
#include <stddef.h>
#include <string.h>
#include "registry.h"

#define SLOT(f) {#f, offsetof(mgpt_kernels, f)}
static const struct { const char *name; size_t offset; } slots[] = {
    SLOT(embed_forward),        SLOT(embed_backward),
    SLOT(rmsnorm_forward),      SLOT(rmsnorm_backward),
    SLOT(matmul_forward),       SLOT(matmul_backward),
    SLOT(attention_forward),    SLOT(attention_backward),
    SLOT(sqrelu_forward),       SLOT(sqrelu_backward),
    SLOT(add_forward),          SLOT(accumulate),
    SLOT(crossentropy_forward), SLOT(crossentropy_backward),
    SLOT(sumsq),                SLOT(adam_update),
    SLOT(zero),
};
_Static_assert(sizeof slots / sizeof slots[0] * sizeof(void (*)(void)) == sizeof(mgpt_kernels),
               "every slot of mgpt_kernels is listed");

int mgpt_kernel_count(void)
{
    return (int)(sizeof slots / sizeof slots[0]);
}

const char *mgpt_kernel_name(int i)
{
    return i >= 0 && i < mgpt_kernel_count() ? slots[i].name : NULL;
}

/* Function pointers all have one size on our targets, so a slot is read as mgpt_any_fn. */
mgpt_any_fn mgpt_kernel_get(const mgpt_kernels *k, int i)
{
    mgpt_any_fn f;
    memcpy(&f, (const char *)k + slots[i].offset, sizeof f);
    return f;
}

void mgpt_kernel_set(mgpt_kernels *k, int i, mgpt_any_fn f)
{
    memcpy((char *)k + slots[i].offset, &f, sizeof f);
}
