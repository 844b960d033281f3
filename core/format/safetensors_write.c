/* The safetensors container, writing: the header, then an atomic replace (a temporary
 * file beside the target, fsync, rename, fsync of the folder), so that a failure never
 * leaves a half-written file where a good one was. Messages name the file first.
 * The temporary is unnamed (O_TMPFILE) until it is complete, so kill -9 cannot orphan it;
 * save_file.c holds the lock, the mode and the naming of the temporary. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include "format/safetensors.h"
#include "format/save_file.h"

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len > (1u << 30) ? (1u << 30) : len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* The header JSON for the tensors and metadata; NULL with err set. */
static char *build_header(const char *path, const mgpt_st_out *t, int n,
                          const char *const *meta_keys, const char *const *meta_values,
                          int n_meta, uint64_t *sizes, char *err, size_t errlen)
{
    json_t *root = json_object();
    json_t *meta = n_meta > 0 ? json_object() : NULL;
    if (!root || (n_meta > 0 && !meta))
        goto oom;
    if (meta) {
        for (int i = 0; i < n_meta; i++)
            if (json_object_set_new(meta, meta_keys[i], json_string(meta_values[i])) != 0)
                goto oom;
        if (json_object_set_new(root, "__metadata__", meta) != 0) {
            meta = NULL;
            goto oom;
        }
        meta = NULL;
    }
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        size_t esize = mgpt_st_dtype_size(t[i].dtype);
        if (esize == 0 || t[i].ndim < 0 || t[i].ndim > MGPT_ST_MAX_DIMS ||
            strcmp(t[i].name, "__metadata__") == 0 || json_object_get(root, t[i].name)) {
            snprintf(err, errlen, "%s: cannot write tensor '%s' (dtype \"%s\", %d dims): unknown "
                     "dtype, too many dims, reserved or duplicate name", path, t[i].name,
                     t[i].dtype, t[i].ndim);
            json_decref(root);
            return NULL;
        }
        uint64_t numel = 1;
        json_t *shape = json_array();
        if (!shape)
            goto oom;
        for (int d = 0; d < t[i].ndim; d++) {
            numel *= (uint64_t)t[i].shape[d];
            json_array_append_new(shape, json_integer(t[i].shape[d]));
        }
        sizes[i] = numel * esize;
        json_t *e = json_pack("{s:s, s:o, s:[I,I]}", "dtype", t[i].dtype, "shape", shape,
                              "data_offsets", (json_int_t)at, (json_int_t)(at + sizes[i]));
        if (!e || json_object_set_new(root, t[i].name, e) != 0)
            goto oom;
        at += sizes[i];
    }
    char *s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(root);
    if (!s)
        snprintf(err, errlen, "%s: out of memory for the safetensors header", path);
    return s;
oom:
    json_decref(meta);
    json_decref(root);
    snprintf(err, errlen, "%s: out of memory for the safetensors header", path);
    return NULL;
}

int mgpt_st_write(const char *path, const mgpt_st_out *t, int n,
                  const char *const *meta_keys, const char *const *meta_values, int n_meta,
                  char *err, size_t errlen)
{
    uint64_t *sizes = calloc((size_t)(n > 0 ? n : 1), sizeof *sizes);
    if (!sizes) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    char *header = build_header(path, t, n, meta_keys, meta_values, n_meta, sizes, err, errlen);
    if (!header) {
        free(sizes);
        return -1;
    }
    mgpt_save_file sf;
    int rc = -1;
    if (mgpt_save_begin(&sf, path, err, errlen) != 0)
        goto out;
    size_t hlen = strlen(header), padded = (hlen + 7) / 8 * 8;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    char spaces[8] = "        ";
    int ok = write_all(sf.fd, len8, 8) == 0 && write_all(sf.fd, header, hlen) == 0 &&
             write_all(sf.fd, spaces, padded - hlen) == 0;
    for (int i = 0; ok && i < n; i++)
        ok = write_all(sf.fd, t[i].data, (size_t)sizes[i]) == 0;
    if (!ok) {
        snprintf(err, errlen, "%s: cannot write the temporary file: %s", path, strerror(errno));
        mgpt_save_abort(&sf);
        goto out;
    }
    rc = mgpt_save_commit(&sf, err, errlen);
out:
    free(header);
    free(sizes);
    return rc;
}
