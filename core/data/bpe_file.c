/* The BPE tokenizer as text: a file of its own (mgpt tokenizer train -o) and the value of
 * the checkpoint metadata key "tokenizer". Version 1:
 *   mgpt-bpe 1
 *   vocab_size N
 *   LEFT RIGHT        (N - 257 lines: merge r makes id 257 + r)
 * Every line ends with \n; anything else is refused with the line it is on. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "data/bpe.h"

#define MAGIC "mgpt-bpe"
#define VERSION 1

char *mgpt_bpe_to_text(const mgpt_bpe *t)
{
    size_t cap = 64 + (size_t)t->n_merges * 14, w = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    w += (size_t)snprintf(s + w, cap - w, "%s %d\nvocab_size %d\n", MAGIC, VERSION,
                          t->vocab_size);
    for (int r = 0; r < t->n_merges; r++)
        w += (size_t)snprintf(s + w, cap - w, "%d %d\n", t->merge[r][0], t->merge[r][1]);
    return s;
}

/* The next line of text (without its \n) into line; -1 at the end, -2 if unterminated. */
static int next_line(const char *text, size_t len, size_t *pos, char *line, size_t cap)
{
    if (*pos >= len)
        return -1;
    const char *nl = memchr(text + *pos, '\n', len - *pos);
    if (!nl)
        return -2;
    size_t l = (size_t)(nl - (text + *pos));
    if (l >= cap)
        l = cap - 1; /* too long to be valid: parsing it fails */
    memcpy(line, text + *pos, l);
    line[l] = '\0';
    *pos = (size_t)(nl - text) + 1;
    return 0;
}

int mgpt_bpe_from_text(mgpt_bpe *t, const char *text, size_t len, const char *what, char *err,
                       size_t errlen)
{
    memset(t, 0, sizeof *t);
    char line[64], extra;
    size_t pos = 0;
    int version, V;
    if (next_line(text, len, &pos, line, sizeof line) != 0 ||
        strncmp(line, MAGIC " ", sizeof MAGIC) != 0) {
        snprintf(err, errlen, "%s is not an mgpt tokenizer (its first line is not \"%s %d\")",
                 what, MAGIC, VERSION);
        return -1;
    }
    if (sscanf(line + sizeof MAGIC, "%d%c", &version, &extra) != 1 || version != VERSION) {
        snprintf(err, errlen, "%s: tokenizer format \"%s\" is not supported (this mgpt reads "
                 "\"%s %d\")", what, line, MAGIC, VERSION);
        return -1;
    }
    if (next_line(text, len, &pos, line, sizeof line) != 0 ||
        sscanf(line, "vocab_size %d%c", &V, &extra) != 1 || V < MGPT_BPE_FIRST_MERGE ||
        V > MGPT_BPE_MAX_VOCAB) {
        snprintf(err, errlen, "%s, line 2: expected \"vocab_size N\" with N in %d..%d", what,
                 MGPT_BPE_FIRST_MERGE, MGPT_BPE_MAX_VOCAB);
        return -1;
    }
    int n = V - MGPT_BPE_FIRST_MERGE;
    int (*merges)[2] = malloc((size_t)(n ? n : 1) * sizeof *merges);
    if (!merges) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int r = 0; r < n; r++) {
        int rc = next_line(text, len, &pos, line, sizeof line);
        if (rc != 0 || sscanf(line, "%d %d%c", &merges[r][0], &merges[r][1], &extra) != 2) {
            snprintf(err, errlen, "%s, line %d: %s (expected merge %d of %d as \"LEFT RIGHT\")",
                     what, r + 3, rc == -1 ? "the file ends" : rc == -2 ?
                     "the line has no newline" : "not two ids", r + 1, n);
            free(merges);
            return -1;
        }
    }
    if (pos != len) {
        snprintf(err, errlen, "%s, line %d: text after the %d merges that vocab_size %d gives",
                 what, n + 3, n, V);
        free(merges);
        return -1;
    }
    char why[256];
    int rc = mgpt_bpe_from_merges(t, (const int (*)[2])merges, n, why, sizeof why);
    if (rc != 0)
        snprintf(err, errlen, "%s: %s", what, why);
    free(merges);
    return rc;
}

int mgpt_bpe_save(const mgpt_bpe *t, const char *path, char *err, size_t errlen)
{
    char *s = mgpt_bpe_to_text(t);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    FILE *f = fopen(path, "wb");
    int ok = f && fputs(s, f) >= 0;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok)
        snprintf(err, errlen, "cannot write tokenizer '%s': %s", path, strerror(errno));
    free(s);
    return ok ? 0 : -1;
}

int mgpt_bpe_load(mgpt_bpe *t, const char *path, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "cannot read tokenizer '%s': %s", path,
                 f ? "not a regular file" : strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    char *buf = malloc(size ? size : 1);
    size_t got = buf ? fread(buf, 1, size, f) : 0;
    fclose(f);
    if (!buf || got != size) {
        snprintf(err, errlen, "cannot read tokenizer '%s'", path);
        free(buf);
        return -1;
    }
    char what[4200];
    snprintf(what, sizeof what, "tokenizer '%s'", path);
    int rc = mgpt_bpe_from_text(t, buf, size, what, err, errlen);
    free(buf);
    return rc;
}
