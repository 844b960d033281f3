/* Checkpoints as safetensors (spec: little-endian F32, row-major, the spec's tensor names,
 * config and vocabulary in __metadata__). Adam state rides along as adam.m.<name> and
 * adam.v.<name>, and the step count as metadata "step"; metadata "data_xxh3" (reserved, an
 * mgpt extension, format/data_hash.h) holds each tensor's checksum. Writes go to a temporary file in
 * the same folder, then rename(2): a crash never leaves a half-written checkpoint. */
#ifndef MGPT_CHECKPOINT_H
#define MGPT_CHECKPOINT_H
#include <stddef.h>
#include <stdint.h>
#include "model/mgpt_config.h"
#include "model/model.h"
#include "data/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mgpt_checkpoint_meta {
    mgpt_config cfg;
    mgpt_vocab vocab;
    long step;        /* optimizer steps taken; 0 if absent */
    uint64_t seed;    /* training seed; 0 if absent */
    int has_adam;     /* adam.m.* and adam.v.* present for every parameter */
    int has_checksum; /* metadata "data_xxh3" present: load verifies each tensor against it */
    int has_tokenizer; /* metadata "tokenizer" present (BPE): mgpt_checkpoint_tokenizer reads
                        * it; until then vocab.bpe is NULL */
} mgpt_checkpoint_meta;

/* The metadata key of a BPE checkpoint's merges (mgpt_bpe_to_text's text). */
#define MGPT_CKPT_TOKENIZER_KEY "tokenizer"

/* Saves parameters (and Adam state if with_adam); a vocabulary with a BPE tokenizer also
 * writes metadata "tokenizer" (then reserved). 0, or -1 with err set; on failure the
 * file at path is left as it was. */
int mgpt_checkpoint_save(const char *path, const mgpt_model *m, const mgpt_vocab *v,
                         uint64_t seed, int with_adam, char *err, size_t errlen);

/* As mgpt_checkpoint_save, with up to MGPT_CKPT_MAX_EXTRA further metadata pairs (the
 * training settings, ...). A key the spec reserves (format, n_embd, ..., seed), "tokenizer"
 * (written from v's BPE tokenizer, if any) or a repeated key is an error. */
#define MGPT_CKPT_MAX_EXTRA 16
int mgpt_checkpoint_save_extra(const char *path, const mgpt_model *m, const mgpt_vocab *v,
                               uint64_t seed, int with_adam, const char *const *extra_keys,
                               const char *const *extra_values, int n_extra, char *err,
                               size_t errlen);

/* One metadata value of a valid checkpoint: *value is a malloc'ed copy, or NULL when the
 * key is absent. 0, or -1 with err set (the file is not a valid checkpoint). */
int mgpt_checkpoint_meta_value(const char *path, const char *key, char **value, char *err,
                               size_t errlen);

/* The BPE tokenizer of a checkpoint into t (*found = 1; free it with mgpt_bpe_free), or
 * *found = 0 for a char checkpoint. 0, or -1 with err set. */
struct mgpt_bpe;
int mgpt_checkpoint_tokenizer(const char *path, struct mgpt_bpe *t, int *found, char *err,
                              size_t errlen);

/* The metadata pairs of a valid checkpoint that are not the spec's (those
 * mgpt_checkpoint_save_extra added), in the file's order: *n malloc'ed keys and values,
 * freed with mgpt_checkpoint_extra_free. 0, or -1 with err set (not a valid checkpoint, or
 * more than MGPT_CKPT_MAX_EXTRA of them). */
int mgpt_checkpoint_extra_meta(const char *path, char ***keys, char ***values, int *n,
                               char *err, size_t errlen);
void mgpt_checkpoint_extra_free(char **keys, char **values, int n);

/* Reads and validates the header only (names, shapes, dtypes, offsets against the file
 * size, metadata). 0, or -1 with err saying what is wrong. */
int mgpt_checkpoint_peek(const char *path, mgpt_checkpoint_meta *meta, char *err, size_t errlen);

/* Loads parameters into m (whose config must equal the file's), and Adam state and step
 * when want_adam (error if the file has none). Each tensor read is checked against the
 * "data_xxh3" checksum when the file has one, and must hold finite values. 0, or -1 with err set; m is unchanged on
 * failure. */
int mgpt_checkpoint_load(const char *path, mgpt_model *m, int want_adam, char *err, size_t errlen);
#ifdef __cplusplus
}
#endif
#endif
