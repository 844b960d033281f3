/* The kernel slots of mgpt/kernel_list.h as data: names, splits, the reference table, and
 * slot i of any table read or written by index. */
#include <string.h>
#include "engine/registry.h"

/* The scalar reference kernels are linked into the engine (backends/scalar's
 * libscalar_kernels.la): declared here by the list's types, gathered into one table. */
#define X_DECLARE(id, field, ref, ret, params, split, flops, bytes) mgpt_##field##_fn ref;
MGPT_KERNEL_LIST(X_DECLARE)
#undef X_DECLARE

#define X_REFERENCE(id, field, ref, ret, params, split, flops, bytes) .field = ref,
const mgpt_kernels mgpt_reference_kernels = {MGPT_KERNEL_LIST(X_REFERENCE)};
#undef X_REFERENCE

#define X_SLOT(id, field, ref, ret, params, split, flops, bytes) \
    [id] = {#field, offsetof(mgpt_kernels, field), split},
static const struct {
    const char *name;
    size_t offset;
    int split;
} slots[MGPT_KERNEL_COUNT] = {MGPT_KERNEL_LIST(X_SLOT)};
#undef X_SLOT

_Static_assert(MGPT_KERNEL_COUNT * sizeof(void (*)(void)) == sizeof(mgpt_kernels),
               "mgpt_kernels is one pointer per slot, no padding: slot i is pointer i");
_Static_assert(MGPT_KERNEL_COUNT <= 64, "mgpt_backend.native has a bit per slot");

int mgpt_kernel_count(void)
{
    return MGPT_KERNEL_COUNT;
}

const char *mgpt_kernel_name(int i)
{
    return i >= 0 && i < MGPT_KERNEL_COUNT ? slots[i].name : NULL;
}

int mgpt_kernel_index(const char *name)
{
    for (int i = 0; i < MGPT_KERNEL_COUNT; i++)
        if (strcmp(slots[i].name, name) == 0)
            return i;
    return -1;
}

int mgpt_kernel_split(int i)
{
    return i >= 0 && i < MGPT_KERNEL_COUNT ? slots[i].split : MGPT_SPLIT_NONE;
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
