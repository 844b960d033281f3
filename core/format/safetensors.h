/* The safetensors container, independent of what the tensors mean (checkpoint.c maps
 * mgpt's model onto it). Layout (https://github.com/huggingface/safetensors):
 *
 *     u64 little-endian N | N bytes of JSON header, space-padded | data
 *
 * The header is one object: every key but "__metadata__" names a tensor,
 *     {"dtype": "F32", "shape": [r, c], "data_offsets": [begin, end]}
 * with offsets relative to the start of the data; "__metadata__" is a map of strings to
 * strings. As the reference reader demands, the tensors tile the data exactly: no
 * overlaps, no holes, nothing after the last one. Data are little-endian, row-major. */
#ifndef MGPT_SAFETENSORS_H
#define MGPT_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MGPT_ST_MAX_DIMS 8
#define MGPT_ST_MAX_HEADER (100u << 20) /* the reference reader's limit, 100 MB */

typedef struct mgpt_st_tensor {
    const char *name;               /* owned by the mgpt_st_file */
    const char *dtype;              /* "F32", "F16", ... */
    int ndim;
    int64_t shape[MGPT_ST_MAX_DIMS];
    uint64_t numel;
    uint64_t begin, end;            /* byte offsets relative to the data start */
} mgpt_st_tensor;

typedef struct mgpt_st_file {
    mgpt_st_tensor *tensors;        /* in header order */
    int n_tensors;
    const char **meta_keys, **meta_values; /* __metadata__, owned by the mgpt_st_file */
    int n_meta;
    uint64_t file_size, header_len, data_start, data_len;
    void *json_;                    /* the parsed header (private) */
} mgpt_st_file;

/* Bytes per element of a safetensors dtype name; 0 if unknown. */
size_t mgpt_st_dtype_size(const char *dtype);

/* Reads and checks the header of the open file fd (path only names it in messages):
 * sizes, JSON, each entry's dtype/shape/offsets, the exact tiling of the data and the
 * metadata's string values. 0, or -1 with err set and st zeroed. */
int mgpt_st_read_header(int fd, const char *path, mgpt_st_file *st, char *err, size_t errlen);
void mgpt_st_free(mgpt_st_file *st);
const mgpt_st_tensor *mgpt_st_find(const mgpt_st_file *st, const char *name);
const char *mgpt_st_meta(const mgpt_st_file *st, const char *key); /* NULL if absent */
/* Reads a tensor's bytes (t->end - t->begin of them) into dst. 0, or -1 with err set. */
int mgpt_st_read_data(int fd, const char *path, const mgpt_st_file *st,
                      const mgpt_st_tensor *t, void *dst, char *err, size_t errlen);

/* A tensor to write: data holds numel * dtype size bytes, little-endian. */
typedef struct mgpt_st_out {
    const char *name;
    const char *dtype;
    int ndim;
    int64_t shape[MGPT_ST_MAX_DIMS];
    const void *data;
} mgpt_st_out;

/* Writes the tensors (in this order) and the metadata pairs to path atomically: a temporary
 * file in the same folder, fsync, rename(2), fsync of the folder. 0, or -1 with err set,
 * the temporary removed and the file at path left as it was. */
int mgpt_st_write(const char *path, const mgpt_st_out *t, int n,
                  const char *const *meta_keys, const char *const *meta_values, int n_meta,
                  char *err, size_t errlen);
#ifdef __cplusplus
}
#endif
#endif
