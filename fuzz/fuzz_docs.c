/* libFuzzer target: the bytes as a data file (--data). Reads it as documents, builds the
 * vocabulary, encodes every document with it, splits and fills batches from them, as
 * `mgpt train` does before its first step. */
#include <stdlib.h>
#include <unistd.h>
#include "data/dataset.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], err[1200];
    fuzz_quiet();
    int fd = fuzz_file(data, size, path, sizeof path);
    if (fd < 0)
        return 0;
    mgpt_docs d;
    mgpt_docs_init(&d);
    if (mgpt_docs_add_file(&d, path, err, sizeof err) == 0 && d.count > 0) {
        mgpt_vocab v;
        mgpt_vocab_build(&v, &d);
        for (int i = 0; i < d.count; i++) {
            int *ids = malloc((d.len[i] + 2) * sizeof *ids);
            if (!ids || mgpt_vocab_encode(&v, d.text[i], d.len[i], ids) != 0)
                abort(); /* every byte of the data is in its own vocabulary */
            free(ids);
        }
        mgpt_split s;
        enum { B = 4, T = 8 };
        if (mgpt_split_make(&s, d.count, size, 0.25) == 0) {
            int tokens[B * T], targets[B * T], scratch[T + 2], ids[B];
            for (int b = 0; b < B; b++)
                ids[b] = b < s.count ? s.order[b] : -1;
            if (mgpt_batch_fill(&d, &v, ids, B, T, tokens, targets, scratch, err,
                                sizeof err) < 0)
                abort();
            for (int k = 0; k < B * T; k++)
                if (tokens[k] < 0 || tokens[k] >= v.size || targets[k] < -1 ||
                    targets[k] >= v.size)
                    abort();
            mgpt_split_free(&s);
        }
    }
    mgpt_docs_free(&d);
    close(fd);
    return 0;
}
