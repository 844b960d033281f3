/* The checksum mgpt adds to a checkpoint (an extension outside readers may ignore): metadata
 * "data_xxh3" is a JSON object mapping each tensor's name to the XXH3-64 hash of its bytes,
 * as 16 lowercase hex digits, e.g. {"wte":"5f0d9c2e1a3b4c7d", ...}. Per tensor, so a
 * corrupted file is rejected naming the tensor. */
#ifndef MGPT_DATA_HASH_H
#define MGPT_DATA_HASH_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MGPT_DATA_HASH_KEY "data_xxh3"

uint64_t mgpt_data_hash(const void *data, size_t len);

/* The metadata value for n tensors (names[i], data[i] of len[i] bytes): a malloc'ed string,
 * or NULL when out of memory. */
char *mgpt_data_hash_encode(const char *const *names, const void *const *data,
                            const size_t *len, int n);

/* The hash recorded for name in a "data_xxh3" value. 0 and *out set; 1 if the value has no
 * entry for name; -1 if the value is not a JSON object of 16-hex-digit strings. */
int mgpt_data_hash_lookup(const char *value, const char *name, uint64_t *out);
#ifdef __cplusplus
}
#endif
#endif
