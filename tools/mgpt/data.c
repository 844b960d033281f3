/* The documents a command reads: --data FILE|GLOB and --data-dir DIR in command-line order,
 * or the embedded names data when neither is given. Each source keeps its range of
 * documents so that a message can name the file a bad byte came from. */
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "data/dataset.h"
#include "data/tokenizer.h"

static int args_add(cli_data_args *a, int is_dir, const char *arg)
{
    if (a->n == a->cap) {
        int cap = a->cap ? 2 * a->cap : 8;
        cli_data_arg *v = realloc(a->v, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n].is_dir = is_dir;
    a->v[a->n].arg = arg;
    a->n++;
    return 0;
}

int cli_data_take(const char *cmd, cli_data_args *a, int c, const char *arg)
{
    if (args_add(a, c == CLI_OPT_DATA_DIR, arg) != 0) {
        tool_error(cmd, "out of memory");
        return CLI_FAIL;
    }
    return CLI_OK;
}

void cli_data_args_free(cli_data_args *a)
{
    free(a->v);
    memset(a, 0, sizeof *a);
}

static int add_source(cli_data *d, const char *name, int first)
{
    cli_source *s = realloc(d->src, (size_t)(d->n_src + 1) * sizeof *s);
    if (!s)
        return -1;
    d->src = s;
    s[d->n_src].name = strdup(name);
    if (!s[d->n_src].name)
        return -1;
    s[d->n_src].first = first;
    s[d->n_src].count = d->docs->count - first;
    d->n_src++;
    return 0;
}

/* One data file. In a --data-dir folder (in_dir) a binary file is skipped with a note
 * (*skipped counts it): a folder of documents often holds an archive or an image too. */
static int load_file(const char *cmd, cli_data *d, const char *path, int in_dir, int *skipped)
{
    char err[4600];
    int first = d->docs->count;
    int rc = mgpt_docs_add_file(d->docs, path, err, sizeof err);
    if (rc == MGPT_DOCS_BINARY && in_dir) {
        tool_note(cmd, "skipping '%s': it looks binary (NUL bytes), not text", path);
        (*skipped)++;
        return CLI_OK;
    }
    if (rc != 0) {
        struct stat st;
        if (!in_dir && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            tool_error(cmd, "%s; to train on every file of a folder, give --data-dir '%s'",
                       err, path);
        else
            tool_error(cmd, "%s", err);
        return CLI_USAGE;
    }
    for (int i = first; i < d->docs->count; i++)
        d->bytes += d->docs->len[i];
    if (add_source(d, path, first) != 0) {
        tool_error(cmd, "out of memory");
        return CLI_FAIL;
    }
    return CLI_OK;
}

static int has_glob_chars(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

static int load_glob(const char *cmd, cli_data *d, const char *pattern)
{
    glob_t g;
    int rc = glob(pattern, 0, NULL, &g);
    if (rc == GLOB_NOMATCH) {
        tool_error(cmd, "--data '%s' matches no file (the pattern is expanded with glob(3); "
                   "quote it so that the shell leaves it to mgpt)", pattern);
        return CLI_USAGE;
    }
    if (rc != 0) {
        tool_error(cmd, "--data '%s': cannot expand the pattern (%s)", pattern,
                   rc == GLOB_NOSPACE ? "out of memory" : "read error");
        return CLI_FAIL;
    }
    int status = CLI_OK;
    for (size_t i = 0; i < g.gl_pathc && status == CLI_OK; i++)
        status = load_file(cmd, d, g.gl_pathv[i], 0, NULL);
    globfree(&g);
    return status;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of dir (not hidden, not recursive), in byte order of their names. */
static int load_dir(const char *cmd, cli_data *d, const char *dir)
{
    DIR *dp = opendir(dir);
    if (!dp) {
        tool_error(cmd, "--data-dir '%s': %s%s", dir, strerror(errno),
                   errno == ENOTDIR ? " (use --data for a file)" : "");
        return CLI_USAGE;
    }
    char **files = NULL;
    size_t n = 0, cap = 0;
    int status = CLI_OK;
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (de->d_name[0] == '.')
            continue;
        size_t len = strlen(dir) + strlen(de->d_name) + 2;
        char *path = malloc(len);
        if (!path) {
            status = CLI_FAIL;
            break;
        }
        snprintf(path, len, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", de->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **f = realloc(files, cap * sizeof *f);
            if (!f) {
                free(path);
                status = CLI_FAIL;
                break;
            }
            files = f;
        }
        files[n++] = path;
    }
    closedir(dp);
    if (status != CLI_OK)
        tool_error(cmd, "out of memory listing --data-dir '%s'", dir);
    else if (n == 0) {
        tool_error(cmd, "--data-dir '%s' holds no regular files (hidden files are skipped)", dir);
        status = CLI_USAGE;
    }
    if (status == CLI_OK)
        qsort(files, n, sizeof *files, cmp_str);
    int skipped = 0;
    for (size_t i = 0; i < n; i++) {
        if (status == CLI_OK)
            status = load_file(cmd, d, files[i], 1, &skipped);
        free(files[i]);
    }
    free(files);
    if (status == CLI_OK && n > 0 && skipped == (int)n) {
        tool_error(cmd, "--data-dir '%s' holds no text files (%d binary file%s skipped)", dir,
                   skipped, skipped == 1 ? "" : "s");
        status = CLI_USAGE;
    }
    return status;
}

int cli_data_load(const char *cmd, const cli_data_args *a, cli_data *d)
{
    memset(d, 0, sizeof *d);
    d->docs = malloc(sizeof *d->docs);
    if (!d->docs) {
        tool_error(cmd, "out of memory");
        return CLI_FAIL;
    }
    mgpt_docs_init(d->docs);
    if (a->n == 0) {
        char err[512];
        if (mgpt_docs_add_embedded(d->docs, err, sizeof err) != 0) {
            tool_error(cmd, "%s", err);
            return CLI_FAIL;
        }
        for (int i = 0; i < d->docs->count; i++)
            d->bytes += d->docs->len[i];
        if (add_source(d, "the embedded names data", 0) != 0) {
            tool_error(cmd, "out of memory");
            return CLI_FAIL;
        }
        return CLI_OK;
    }
    for (int i = 0; i < a->n; i++) {
        const char *arg = a->v[i].arg;
        int status;
        if (!*arg) {
            tool_error(cmd, "%s '' is empty (expected a %s)",
                       a->v[i].is_dir ? "--data-dir" : "--data",
                       a->v[i].is_dir ? "folder" : "file name or glob pattern");
            return CLI_USAGE;
        }
        if (a->v[i].is_dir)
            status = load_dir(cmd, d, arg);
        else if (has_glob_chars(arg)) {
            struct stat st;
            /* a file whose name has glob characters is taken as it is */
            status = stat(arg, &st) == 0 ? load_file(cmd, d, arg, 0, NULL) : load_glob(cmd, d, arg);
        } else
            status = load_file(cmd, d, arg, 0, NULL);
        if (status != CLI_OK)
            return status;
    }
    return CLI_OK;
}

void cli_data_free(cli_data *d)
{
    if (d->docs) {
        mgpt_docs_free(d->docs);
        free(d->docs);
    }
    for (int i = 0; i < d->n_src; i++)
        free(d->src[i].name);
    free(d->src);
    memset(d, 0, sizeof *d);
}

void cli_data_describe(const cli_data *d, char *buf, size_t len)
{
    if (d->n_src == 1)
        snprintf(buf, len, "%s", d->src[0].name);
    else
        snprintf(buf, len, "%d files", d->n_src);
}

/* "data file 'x.txt'" (or the embedded data) and the document's number in it. */
static void source_of(const cli_data *d, int doc, char *buf, size_t len, int *nth)
{
    for (int i = 0; i < d->n_src; i++)
        if (doc >= d->src[i].first && doc < d->src[i].first + d->src[i].count) {
            *nth = doc - d->src[i].first + 1;
            if (strcmp(d->src[i].name, "the embedded names data") == 0)
                snprintf(buf, len, "%s", d->src[i].name);
            else
                snprintf(buf, len, "data file '%s'", d->src[i].name);
            return;
        }
    *nth = doc + 1;
    snprintf(buf, len, "the data");
}

int cli_data_check_vocab(const char *cmd, const cli_data *d, const mgpt_vocab *v,
                         const char *vocab_what)
{
    const mgpt_docs *docs = d->docs;
    for (int i = 0; i < docs->count; i++)
        for (size_t j = 0; j < docs->len[i]; j++) {
            unsigned char c = (unsigned char)docs->text[i][j];
            if (v->id[c] >= 0)
                continue;
            int nth;
            char src[4200];
            source_of(d, i, src, sizeof src, &nth);
            char shown[8];
            if (c >= 0x20 && c < 0x7f)
                snprintf(shown, sizeof shown, " '%c'", c);
            else
                shown[0] = '\0';
            /* the vocabulary, printable bytes as themselves */
            char vocab[800];
            size_t used = 0;
            for (int id = 1; id < v->size && id < 257 && used + 6 < sizeof vocab; id++) {
                unsigned char b = v->byte[id];
                used += (size_t)snprintf(vocab + used, sizeof vocab - used,
                                         b > 0x20 && b < 0x7f ? "%c" : "\\x%02x", b);
            }
            tool_error(cmd, "%s, document %d (counting non-empty lines): byte 0x%02x%s is not in "
                       "%s vocabulary of %d bytes \"%s\"", src, nth, c, shown, vocab_what,
                       v->size - 1, vocab);
            return CLI_USAGE;
        }
    return CLI_OK;
}
