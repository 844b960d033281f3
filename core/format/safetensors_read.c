/* The safetensors container, reading: header parsing and checking, tensor reads.
 * Messages name the file first ("path: what is wrong; what was expected"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include "format/safetensors.h"

/* Tensor bytes go to and from disk as they lie in memory. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "safetensors data are little-endian; mgpt supports little-endian hosts only");

static const struct { const char *name; size_t size; } dtypes[] = {
    {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
    {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},
    {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1}, {"BOOL", 1},
};

size_t mgpt_st_dtype_size(const char *dtype)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(dtypes[i].name, dtype) == 0)
            return dtypes[i].size;
    return 0;
}

void mgpt_st_free(mgpt_st_file *st)
{
    if (!st)
        return;
    free(st->tensors);
    free(st->meta_keys);
    free(st->meta_values);
    json_decref((json_t *)st->json_);
    memset(st, 0, sizeof *st);
}

/* pread all of len bytes at off; 0, or -1 (errno set, or 0 on end of file). */
static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
    char *p = buf;
    while (len > 0) {
        ssize_t r = pread(fd, p, len, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = 0;
            return -1;
        }
        p += r;
        len -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* A JSON integer >= 0, as uint64. */
static int get_count(const json_t *j, uint64_t *out)
{
    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(j);
    return 0;
}

/* Checks one tensor entry of the header and fills t. */
static int parse_entry(const char *path, const char *name, json_t *e, mgpt_st_tensor *t,
                       char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->name = name;
    if (!json_is_object(e)) {
        snprintf(err, errlen, "%s: header entry '%s' is not an object; expected "
                 "{\"dtype\": ..., \"shape\": [...], \"data_offsets\": [begin, end]}", path, name);
        return -1;
    }
    json_t *dtype = json_object_get(e, "dtype");
    json_t *shape = json_object_get(e, "shape");
    json_t *offs = json_object_get(e, "data_offsets");
    if (!json_is_string(dtype)) {
        snprintf(err, errlen, "%s: tensor '%s' has %s \"dtype\"; expected a string such as \"F32\"",
                 path, name, dtype ? "a non-string" : "no");
        return -1;
    }
    t->dtype = json_string_value(dtype);
    size_t esize = mgpt_st_dtype_size(t->dtype);
    if (esize == 0) {
        snprintf(err, errlen, "%s: tensor '%s' has unknown dtype \"%s\"; expected one of "
                 "F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U64, U32, U16, U8, BOOL",
                 path, name, t->dtype);
        return -1;
    }
    if (!json_is_array(shape) || json_array_size(shape) > MGPT_ST_MAX_DIMS) {
        snprintf(err, errlen, "%s: tensor '%s' has %s \"shape\"; expected an array of at most %d "
                 "non-negative integers", path, name,
                 !shape ? "no" : json_is_array(shape) ? "a too long" : "a non-array", MGPT_ST_MAX_DIMS);
        return -1;
    }
    t->ndim = (int)json_array_size(shape);
    t->numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        uint64_t n;
        if (get_count(json_array_get(shape, (size_t)d), &n) != 0 || n > INT64_MAX) {
            snprintf(err, errlen, "%s: tensor '%s' has shape entry %d that is not a non-negative "
                     "integer", path, name, d);
            return -1;
        }
        t->shape[d] = (int64_t)n;
        if (__builtin_mul_overflow(t->numel, n, &t->numel)) {
            snprintf(err, errlen, "%s: tensor '%s' has a shape whose element count overflows "
                     "64 bits", path, name);
            return -1;
        }
    }
    if (!json_is_array(offs) || json_array_size(offs) != 2 ||
        get_count(json_array_get(offs, 0), &t->begin) != 0 ||
        get_count(json_array_get(offs, 1), &t->end) != 0 || t->end < t->begin) {
        snprintf(err, errlen, "%s: tensor '%s' has %s \"data_offsets\"; expected [begin, end] "
                 "with 0 <= begin <= end", path, name, offs ? "invalid" : "no");
        return -1;
    }
    uint64_t bytes;
    if (__builtin_mul_overflow(t->numel, (uint64_t)esize, &bytes) || bytes != t->end - t->begin) {
        snprintf(err, errlen, "%s: tensor '%s' has data_offsets [%llu, %llu] (%llu bytes), but its "
                 "shape and dtype %s need %llu elements x %zu bytes", path, name,
                 (unsigned long long)t->begin, (unsigned long long)t->end,
                 (unsigned long long)(t->end - t->begin), t->dtype,
                 (unsigned long long)t->numel, esize);
        return -1;
    }
    return 0;
}

static int parse_metadata(const char *path, json_t *meta, mgpt_st_file *st, char *err,
                          size_t errlen)
{
    if (!json_is_object(meta)) {
        snprintf(err, errlen, "%s: \"__metadata__\" is not an object; expected a map of strings "
                 "to strings", path);
        return -1;
    }
    size_t n = json_object_size(meta);
    st->meta_keys = calloc(n ? n : 1, sizeof *st->meta_keys);
    st->meta_values = calloc(n ? n : 1, sizeof *st->meta_values);
    if (!st->meta_keys || !st->meta_values) {
        snprintf(err, errlen, "%s: out of memory for %zu metadata entries", path, n);
        return -1;
    }
    const char *key;
    json_t *val;
    json_object_foreach(meta, key, val) {
        if (!json_is_string(val)) {
            snprintf(err, errlen, "%s: metadata \"%s\" is not a string; safetensors metadata "
                     "maps strings to strings", path, key);
            return -1;
        }
        st->meta_keys[st->n_meta] = key;
        st->meta_values[st->n_meta] = json_string_value(val);
        st->n_meta++;
    }
    return 0;
}

static int by_begin(const void *a, const void *b)
{
    const mgpt_st_tensor *x = *(const mgpt_st_tensor *const *)a;
    const mgpt_st_tensor *y = *(const mgpt_st_tensor *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* The tensors must tile [0, data_len) exactly, as the reference reader requires. */
static int check_tiling(const char *path, const mgpt_st_file *st, char *err, size_t errlen)
{
    int n = st->n_tensors;
    const mgpt_st_tensor **order = malloc((size_t)(n ? n : 1) * sizeof *order);
    if (!order) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    for (int i = 0; i < n; i++)
        order[i] = &st->tensors[i];
    qsort(order, (size_t)n, sizeof *order, by_begin);
    int rc = 0;
    uint64_t at = 0;
    const mgpt_st_tensor *prev = NULL;
    for (int i = 0; i < n && rc == 0; i++) {
        const mgpt_st_tensor *t = order[i];
        if (t->end > st->data_len) {
            snprintf(err, errlen, "%s: tensor '%s' has data_offsets [%llu, %llu] beyond the "
                     "%llu bytes of data after the header (file truncated?)", path, t->name,
                     (unsigned long long)t->begin, (unsigned long long)t->end,
                     (unsigned long long)st->data_len);
            rc = -1;
        } else if (t->begin < at) {
            snprintf(err, errlen, "%s: tensor '%s' data_offsets [%llu, %llu] overlap those of "
                     "'%s' (ending at %llu)", path, t->name, (unsigned long long)t->begin,
                     (unsigned long long)t->end, prev->name, (unsigned long long)at);
            rc = -1;
        } else if (t->begin > at) {
            snprintf(err, errlen, "%s: bytes %llu..%llu of the data belong to no tensor (before "
                     "'%s'); safetensors data must be tiled without holes", path,
                     (unsigned long long)at, (unsigned long long)t->begin, t->name);
            rc = -1;
        }
        at = t->end;
        prev = t;
    }
    if (rc == 0 && at != st->data_len) {
        snprintf(err, errlen, "%s: the tensors cover %llu bytes of data but the file holds %llu "
                 "after the header (trailing bytes)", path, (unsigned long long)at,
                 (unsigned long long)st->data_len);
        rc = -1;
    }
    free(order);
    return rc;
}

int mgpt_st_read_header(int fd, const char *path, mgpt_st_file *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        return -1;
    }
    st->file_size = (uint64_t)sb.st_size;
    if (st->file_size < 8) {
        snprintf(err, errlen, "%s: file is %llu bytes, too short for safetensors (an 8-byte "
                 "header length comes first)", path, (unsigned long long)st->file_size);
        return -1;
    }
    unsigned char len8[8];
    if (pread_all(fd, len8, 8, 0) != 0) {
        snprintf(err, errlen, "%s: cannot read the header length: %s", path,
                 errno ? strerror(errno) : "unexpected end of file");
        return -1;
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | len8[i];
    if (n < 2 || n > MGPT_ST_MAX_HEADER) {
        snprintf(err, errlen, "%s: header length %llu is absurd (expected 2..%u bytes of JSON; "
                 "not a safetensors file?)", path, (unsigned long long)n, MGPT_ST_MAX_HEADER);
        return -1;
    }
    if (n > st->file_size - 8) {
        snprintf(err, errlen, "%s: header length %llu runs past the end of the file (%llu bytes "
                 "after the length field; file truncated?)", path, (unsigned long long)n,
                 (unsigned long long)(st->file_size - 8));
        return -1;
    }
    st->header_len = n;
    st->data_start = 8 + n;
    st->data_len = st->file_size - st->data_start;

    char *buf = malloc((size_t)n + 1);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory for a %llu-byte header", path,
                 (unsigned long long)n);
        return -1;
    }
    if (pread_all(fd, buf, (size_t)n, 8) != 0) {
        snprintf(err, errlen, "%s: cannot read the %llu-byte header: %s", path,
                 (unsigned long long)n, errno ? strerror(errno) : "unexpected end of file");
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    if (buf[0] != '{') {
        snprintf(err, errlen, "%s: header does not start with '{' (byte 0x%02x); expected a JSON "
                 "object (not a safetensors file?)", path, (unsigned char)buf[0]);
        free(buf);
        return -1;
    }
    json_error_t jerr;
    json_t *root = json_loadb(buf, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    free(buf);
    if (!root) {
        snprintf(err, errlen, "%s: header is not valid JSON (at byte %d of %llu: %s)", path,
                 jerr.position, (unsigned long long)n, jerr.text);
        return -1;
    }
    st->json_ = root;
    if (!json_is_object(root)) {
        snprintf(err, errlen, "%s: header is JSON but not an object; expected {\"name\": {...}, "
                 "\"__metadata__\": {...}}", path);
        goto fail;
    }
    size_t count = json_object_size(root);
    st->tensors = calloc(count ? count : 1, sizeof *st->tensors);
    if (!st->tensors) {
        snprintf(err, errlen, "%s: out of memory for %zu header entries", path, count);
        goto fail;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) {
            if (parse_metadata(path, val, st, err, errlen) != 0)
                goto fail;
            continue;
        }
        if (parse_entry(path, key, val, &st->tensors[st->n_tensors], err, errlen) != 0)
            goto fail;
        st->n_tensors++;
    }
    if (check_tiling(path, st, err, errlen) != 0)
        goto fail;
    return 0;
fail:
    mgpt_st_free(st);
    return -1;
}

const mgpt_st_tensor *mgpt_st_find(const mgpt_st_file *st, const char *name)
{
    for (int i = 0; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i].name, name) == 0)
            return &st->tensors[i];
    return NULL;
}

const char *mgpt_st_meta(const mgpt_st_file *st, const char *key)
{
    for (int i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta_keys[i], key) == 0)
            return st->meta_values[i];
    return NULL;
}

int mgpt_st_read_data(int fd, const char *path, const mgpt_st_file *st,
                      const mgpt_st_tensor *t, void *dst, char *err, size_t errlen)
{
    if (pread_all(fd, dst, (size_t)(t->end - t->begin), st->data_start + t->begin) != 0) {
        snprintf(err, errlen, "%s: cannot read the %llu bytes of tensor '%s': %s", path,
                 (unsigned long long)(t->end - t->begin), t->name,
                 errno ? strerror(errno) : "unexpected end of file (did it shrink?)");
        return -1;
    }
    return 0;
}
