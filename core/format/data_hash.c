/* XXH3-64 checksums of checkpoint tensors, and their metadata encoding. XXH3 is fast
 * (several GB/s a core), so hashing on every save and load costs little beside the I/O. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <xxhash.h>
#include "format/data_hash.h"

uint64_t mgpt_data_hash(const void *data, size_t len)
{
    return (uint64_t)XXH3_64bits(data, len);
}

char *mgpt_data_hash_encode(const char *const *names, const void *const *data,
                            const size_t *len, int n)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (int i = 0; i < n; i++) {
        char hex[17];
        snprintf(hex, sizeof hex, "%016" PRIx64, mgpt_data_hash(data[i], len[i]));
        if (json_object_set_new(o, names[i], json_string(hex)) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(o);
    return s;
}

int mgpt_data_hash_lookup(const char *value, const char *name, uint64_t *out)
{
    json_t *o = json_loads(value, JSON_REJECT_DUPLICATES, NULL);
    int rc = -1;
    if (!json_is_object(o))
        goto done;
    json_t *e = json_object_get(o, name);
    if (!e) {
        rc = 1;
        goto done;
    }
    const char *s = json_string_value(e);
    if (!s || strlen(s) != 16 || strspn(s, "0123456789abcdef") != 16)
        goto done;
    *out = strtoull(s, NULL, 16);
    rc = 0;
done:
    json_decref(o);
    return rc;
}
