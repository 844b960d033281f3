/* Documents: one per line of the input text. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "platform/file_open.h"
#include "data/dataset.h"

void mgpt_docs_init(mgpt_docs *d)
{
    memset(d, 0, sizeof *d);
}

void mgpt_docs_free(mgpt_docs *d)
{
    for (int i = 0; i < d->count; i++)
        free(d->text[i]);
    for (int i = 0; d->tok && i < d->count; i++)
        free(d->tok[i]);
    free(d->tok);
    free(d->ntok);
    free(d->text);
    free(d->len);
    mgpt_docs_init(d);
}

static int docs_push(mgpt_docs *d, const char *s, size_t n)
{
    if (d->count == d->cap) {
        int cap = d->cap ? 2 * d->cap : 1024;
        char **t = realloc(d->text, cap * sizeof *t);
        if (!t)
            return -1;
        d->text = t;
        size_t *l = realloc(d->len, cap * sizeof *l);
        if (!l)
            return -1;
        d->len = l;
        d->cap = cap;
    }
    char *copy = malloc(n + 1);
    if (!copy)
        return -1;
    memcpy(copy, s, n);
    copy[n] = '\0';
    d->text[d->count] = copy;
    d->len[d->count] = n;
    d->count++;
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

int mgpt_docs_add_text(mgpt_docs *d, const char *text, size_t n, const char *what,
                       char *err, size_t errlen)
{
    if (memchr(text, '\0', n)) {
        snprintf(err, errlen, "%s looks binary (it contains NUL bytes); expected text, one document per line", what);
        return MGPT_DOCS_BINARY;
    }
    int before = d->count;
    size_t start = 0;
    while (start < n) {
        const char *nl = memchr(text + start, '\n', n - start);
        size_t end = nl ? (size_t)(nl - text) : n;
        size_t e = end;
        while (e > start && is_space(text[e - 1]))
            e--;
        if (e > start && docs_push(d, text + start, e - start) != 0) {
            snprintf(err, errlen, "out of memory reading %s", what);
            return -1;
        }
        start = end + 1;
    }
    if (d->count == before) {
        snprintf(err, errlen, "%s has no documents (no non-empty lines)", what);
        return -1;
    }
    return 0;
}

int mgpt_docs_add_file(mgpt_docs *d, const char *path, char *err, size_t errlen)
{
    int fd = mgpt_open_regular(path, "data file", err, errlen);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read data file '%s': %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        snprintf(err, errlen, "cannot stat data file '%s': %s", path, strerror(errno));
        fclose(f);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    char *buf = malloc(size ? size : 1);
    if (!buf) {
        snprintf(err, errlen, "out of memory reading '%s' (%zu bytes)", path, size);
        fclose(f);
        return -1;
    }
    size_t got = fread(buf, 1, size, f);
    fclose(f);
    if (got != size) {
        snprintf(err, errlen, "short read on data file '%s' (%zu of %zu bytes)", path, got, size);
        free(buf);
        return -1;
    }
    char what[4200];
    snprintf(what, sizeof what, "data file '%s'", path);
    int rc = mgpt_docs_add_text(d, buf, size, what, err, errlen);
    free(buf);
    return rc;
}

int mgpt_docs_add_embedded(mgpt_docs *d, char *err, size_t errlen)
{
    return mgpt_docs_add_text(d, mgpt_names_txt, mgpt_names_txt_len,
                              "the embedded names data", err, errlen);
}

void mgpt_docs_cut(const mgpt_docs *d, int T, int *cut, size_t *bytes_beyond,
                   size_t *bytes_total)
{
    *cut = 0;
    *bytes_beyond = *bytes_total = 0;
    for (int i = 0; i < d->count; i++) {
        size_t n = mgpt_docs_ntok(d, i);
        *bytes_total += n;
        if (n > (size_t)T) {
            (*cut)++;
            *bytes_beyond += n - (size_t)T;
        }
    }
}
