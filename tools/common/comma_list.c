/* NAME[,NAME...] option values (--backend, --config), entry by entry, so that each program
 * can check or expand an entry as it comes and name the one that is wrong. */
#include <string.h>
#include "mgpt_tools.h"

tool_entry_status tool_list_next(const char **p, char *name, size_t size)
{
    const char *comma = strchr(*p, ',');
    size_t len = comma ? (size_t)(comma - *p) : strlen(*p);
    if (len == 0)
        return TOOL_ENTRY_EMPTY;
    if (len >= size)
        return TOOL_ENTRY_TOO_LONG;
    memcpy(name, *p, len);
    name[len] = '\0';
    *p = comma ? comma + 1 : NULL;
    return TOOL_ENTRY_OK;
}
