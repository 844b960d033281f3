/* The backends and configs a command line names: a repeat ("-b avx2 -b avx2") is measured
 * once, and each name is a copy so that the list outlives argv edits and buffers. */
#include <stdlib.h>
#include <string.h>
#include "mgpt_tools.h"

int tool_names_add(tool_names *l, const char *name)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->v[i], name) == 0)
            return 0;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 8;
        char **v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(name)))
        return -1;
    l->n++;
    return 0;
}

void tool_names_free(tool_names *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}
