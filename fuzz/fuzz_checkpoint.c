/* libFuzzer target: the bytes as a checkpoint file. Runs the safetensors reader (header,
 * then every tensor's data) and the checkpoint's validation (mgpt_checkpoint_peek: names,
 * shapes, dtypes, metadata, vocabulary), and one metadata value as `train --resume` reads
 * its settings. Any crash, leak or sanitizer report is a bug; a rejection is not. */
#include <stdlib.h>
#include <unistd.h>
#include "format/checkpoint.h"
#include "format/safetensors.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Tensor data read per input at most: the header may promise more than a run should read. */
#define DATA_LIMIT (1u << 20)

static void read_tensors(int fd, const char *path)
{
    mgpt_st_file st;
    char err[1200];
    if (mgpt_st_read_header(fd, path, &st, err, sizeof err) != 0)
        return;
    for (int i = 0; i < st.n_tensors; i++) {
        const mgpt_st_tensor *t = &st.tensors[i];
        if (t != mgpt_st_find(&st, t->name))
            abort(); /* the reader promised unique names */
        uint64_t n = t->end - t->begin;
        if (n > DATA_LIMIT)
            continue;
        void *buf = malloc(n ? n : 1);
        if (buf && mgpt_st_read_data(fd, path, &st, t, buf, err, sizeof err) != 0 &&
            t->end <= st.data_len)
            abort(); /* in-range data of a regular file must read */
        free(buf);
    }
    for (int i = 0; i < st.n_meta; i++)
        (void)mgpt_st_meta(&st, st.meta_keys[i]);
    mgpt_st_free(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], err[1200];
    fuzz_quiet();
    int fd = fuzz_file(data, size, path, sizeof path);
    if (fd < 0)
        return 0;
    read_tensors(fd, path);
    mgpt_checkpoint_meta meta;
    if (mgpt_checkpoint_peek(path, &meta, err, sizeof err) == 0) {
        char *value = NULL;
        if (mgpt_checkpoint_meta_value(path, "lr_schedule", &value, err, sizeof err) != 0)
            abort(); /* a file peek accepted is a valid checkpoint */
        free(value);
    }
    close(fd);
    return 0;
}
