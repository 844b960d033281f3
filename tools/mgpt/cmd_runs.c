/* mgpt runs: the archive of training runs (run_archive.h) read back. `list` is a table of
 * every run, `show ID` everything about one, `compare ID ID...` their differences side by
 * side with an overlaid loss chart. An ID may be shortened to any unique prefix. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "run_archive.h"
#include "run_chart.h"
#include "run_metrics.h"

static const char C[] = "runs";

typedef struct runs_opts {
    const char *dir, *out;
} runs_opts;

enum { O_ARCHIVE_DIR = 256 };

static const struct option longopts[] = {
    {"archive-dir", required_argument, NULL, O_ARCHIVE_DIR},
    {"output", required_argument, NULL, 'o'},
    CLI_HELP_AND_VERSION,
};

static void help(void)
{
    printf("Usage: mgpt runs [OPTIONS] list\n"
           "       mgpt runs [OPTIONS] show ID\n"
           "       mgpt runs [OPTIONS] compare ID ID... [-o FILE.svg]\n"
           "The training runs mgpt train archived: a table of them, everything about one,\n"
           "or several side by side: the settings any of them differ in (one a run does\n"
           "not have shows as missing), then the results. An ID may be shortened to a\n"
           "unique prefix.\n"
           "\n"
           "      --archive-dir=DIR     the archive (default: MGPT_ARCHIVE_DIR, else\n"
           "                            $XDG_DATA_HOME/mgpt/runs, else\n"
           "                            ~/.local/share/mgpt/runs)\n"
           "  -o, --output=FILE         compare: write the overlaid loss curves as SVG\n"
           "  -h, --help                show this help and exit\n"
           "      --version             show the version and exit\n"
           "\n"
           "Figures: loss is the mean training loss of the last %d steps (best: the\n"
           "lowest such mean); val the last validation loss, best val the lowest; tok/s\n"
           "the tokens trained on divided by the time of the training steps.\n"
           "Exit status: 0 on success, 1 on a failure while working, 2 for a wrong\n"
           "option or an unknown run ID.\n",
           RUN_FINAL_WINDOW);
}

typedef struct run {
    char id[256], dir[4400];
    json_t *j;            /* run.json */
    run_metrics m;
    int have_m;
} run;

static void run_free(run *r)
{
    json_decref(r->j);
    if (r->have_m)
        run_metrics_free(&r->m);
}

/* The run folders of root (those holding run.json), sorted: their count, or -1. */
static int list_ids(const char *root, char ***ids)
{
    *ids = NULL;
    DIR *d = opendir(root);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char p[4400];
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s/run.json", root, e->d_name);
        if (stat(p, &st) != 0)
            continue;
        if (n == cap) {
            char **v = realloc(*ids, (size_t)(cap = cap ? 2 * cap : 32) * sizeof *v);
            if (!v)
                break;
            *ids = v;
        }
        (*ids)[n++] = strdup(e->d_name);
    }
    closedir(d);
    for (int i = 1; i < n; i++)   /* insertion sort: IDs sort by time */
        for (int k = i; k > 0 && strcmp((*ids)[k - 1], (*ids)[k]) > 0; k--) {
            char *s = (*ids)[k];
            (*ids)[k] = (*ids)[k - 1];
            (*ids)[k - 1] = s;
        }
    return n;
}

static void free_ids(char **ids, int n)
{
    for (int i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

static int load(const char *root, const char *id, run *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", id);
    snprintf(r->dir, sizeof r->dir, "%s/%s", root, id);
    char p[4500], err[1200];
    snprintf(p, sizeof p, "%s/run.json", r->dir);
    json_error_t je;
    if (!(r->j = json_load_file(p, 0, &je)) || !json_is_object(r->j)) {
        tool_error(C, "'%s' is not a run description: %s", p, r->j ? "not an object" : je.text);
        return CLI_FAIL;
    }
    r->have_m = run_metrics_read(r->dir, &r->m, err, sizeof err) == 0;
    return CLI_OK;
}

/* An ID or a unique prefix of one: CLI_OK with the run loaded, else CLI_USAGE. */
static int find(const char *root, const char *want, run *r)
{
    char **ids;
    memset(r, 0, sizeof *r);
    int n = list_ids(root, &ids), hit = -1, hits = 0;
    char names[600] = "";
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(ids[i], want) == 0) {
            hit = i, hits = 1;
            break;
        }
        if (strncmp(ids[i], want, strlen(want)) == 0) {
            hit = i;
            if (hits++ < 5 && used < sizeof names)
                used += (size_t)snprintf(names + used, sizeof names - used, "%s%s",
                                         used ? ", " : "", ids[i]);
        }
    }
    int status = CLI_USAGE;
    if (!*want || hits == 0)
        tool_error(C, "no run '%s' in the archive '%s' (see mgpt runs list)", want, root);
    else if (hits > 1)
        tool_error(C, "run ID '%s' is ambiguous: %d runs start with it (%s%s); give more of it",
                   want, hits, names, hits > 5 ? ", ..." : "");
    else
        status = load(root, ids[hit], r);
    free_ids(ids, n);
    return status;
}

static const char *str(json_t *j, const char *path1, const char *key)
{
    json_t *o = path1 ? json_object_get(j, path1) : j;
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static long num(json_t *j, const char *path1, const char *key)
{
    json_t *o = path1 ? json_object_get(j, path1) : j;
    return (long)json_integer_value(json_object_get(o, key));
}

static void config_text(const run *r, char *buf, size_t len)
{
    snprintf(buf, len, "C%ld L%ld H%ld T%ld B%ld", num(r->j, "config", "n_embd"),
             num(r->j, "config", "n_layer"), num(r->j, "config", "n_head"),
             num(r->j, "config", "block_size"), num(r->j, "config", "batch_size"));
}

static void fig(double v, const char *fmt, char *buf, size_t len)
{
    if (isnan(v))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, fmt, v);
}

static double tok_s(const run *r)
{
    return r->have_m && r->m.seconds > 0 ? r->m.tokens / r->m.seconds : NAN;
}

static int cmd_list(const char *root)
{
    char **ids;
    int n = list_ids(root, &ids);
    if (n < 0) {
        tool_error(C, "cannot read the archive '%s': %s", root, strerror(errno));
        return CLI_FAIL;
    }
    if (n == 0) {
        printf("no runs archived in %s\n", root);
        free(ids);
        return CLI_OK;
    }
    printf("%-18s  %-16s  %-20s  %11s  %7s  %7s  %8s  %-10s  %9s  %s\n", "ID", "date (UTC)",
           "config", "steps", "loss", "best", "best val", "backend", "tok/s", "status");
    for (int i = 0; i < n; i++) {
        run r;
        if (load(root, ids[i], &r) != CLI_OK) {
            run_free(&r);
            continue;
        }
        char date[32], cfg[80], steps[40], loss[24], best[24], bval[24], tps[24];
        snprintf(date, sizeof date, "%.16s", str(r.j, NULL, "started"));
        if (strlen(date) > 10)
            date[10] = ' ';
        config_text(&r, cfg, sizeof cfg);
        snprintf(steps, sizeof steps, "%ld/%ld", r.have_m ? r.m.last_step : 0,
                 num(r.j, "config", "num_steps"));
        fig(r.have_m ? r.m.final_loss : NAN, "%.4f", loss, sizeof loss);
        fig(r.have_m ? r.m.best_loss : NAN, "%.4f", best, sizeof best);
        fig(r.have_m ? r.m.best_val : NAN, "%.4f", bval, sizeof bval);
        fig(tok_s(&r), "%.0f", tps, sizeof tps);
        printf("%-18s  %-16s  %-20s  %11s  %7s  %7s  %8s  %-10s  %9s  %s\n", r.id, date, cfg,
               steps, loss, best, bval, str(r.j, "backend", "name"), tps,
               str(r.j, NULL, "status"));
        run_free(&r);
    }
    free_ids(ids, n);
    return CLI_OK;
}

/* A JSON value as short text (strings unquoted). */
static void value_text(json_t *v, char *buf, size_t len)
{
    if (json_is_string(v))
        snprintf(buf, len, "%s", json_string_value(v));
    else if (!v || json_is_null(v))
        snprintf(buf, len, "-");
    else if (json_is_real(v))
        snprintf(buf, len, "%g", json_real_value(v));
    else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(buf, len, "%s", s ? s : "?");
        free(s);
    }
}

static void print_object(const char *title, json_t *o)
{
    const char *k;
    json_t *v;
    char buf[2000];
    printf("%s\n", title);
    json_object_foreach(o, k, v) {
        if (json_is_object(v)) {
            json_t *sv;
            const char *sk;
            json_object_foreach(v, sk, sv) {
                char name[200];
                snprintf(name, sizeof name, "%s.%s", k, sk);
                value_text(sv, buf, sizeof buf);
                printf("  %-22s %s\n", name, buf);
            }
            continue;
        }
        value_text(v, buf, sizeof buf);
        printf("  %-22s %s\n", k, buf);
    }
}

static void print_file(const run *r, const char *name, const char *what)
{
    char p[4500];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", r->dir, name);
    if (stat(p, &st) == 0)
        printf("  %-22s %s (%s)\n", name, p, what);
}

static int cmd_show(const char *root, const char *id)
{
    run r;
    int status = find(root, id, &r);
    if (status != CLI_OK) {
        run_free(&r);
        return status;
    }
    char buf[2000];
    printf("run %s\n", r.id);
    printf("  %-22s %s\n", "folder", r.dir);
    printf("  %-22s %s\n", "status", str(r.j, NULL, "status"));
    printf("  %-22s %s\n", "started", str(r.j, NULL, "started"));
    printf("  %-22s %s\n", "ended", *str(r.j, NULL, "ended") ? str(r.j, NULL, "ended") : "-");
    printf("  %-22s", "command");
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(r.j, "command"), i, a)
        printf(" %s", json_string_value(a) ? json_string_value(a) : "?");
    printf("\n  %-22s %ld\n", "parameters", num(r.j, NULL, "parameters"));
    print_object("configuration", json_object_get(r.j, "config"));
    print_object("machine", json_object_get(r.j, "machine"));
    print_object("backend", json_object_get(r.j, "backend"));
    printf("results\n");
    if (r.have_m) {
        printf("  %-22s %ld of %ld (%ld rows in metrics.csv)\n", "steps", r.m.last_step,
               num(r.j, "config", "num_steps"), r.m.n);
        fig(r.m.final_loss, "%.4f", buf, sizeof buf);
        printf("  %-22s %s (mean of the last %d steps)\n", "final loss", buf, RUN_FINAL_WINDOW);
        fig(r.m.best_loss, "%.4f", buf, sizeof buf);
        printf("  %-22s %s\n", "best loss", buf);
        fig(r.m.last_val, "%.4f", buf, sizeof buf);
        printf("  %-22s %s\n", "final val loss", buf);
        fig(r.m.best_val, "%.4f", buf, sizeof buf);
        printf("  %-22s %s", "best val loss", buf);
        if (r.m.best_val_step >= 0)
            printf(" (step %ld)", r.m.best_val_step);
        tool_fmt_seconds(buf, sizeof buf, r.m.seconds, NULL);
        printf("\n  %-22s %s\n", "training time", buf);
        tool_fmt_sig3(buf, sizeof buf, r.m.n ? 1e3 * r.m.seconds / (double)r.m.n : NAN);
        printf("  %-22s %s\n", "ms/step", buf);
        fig(tok_s(&r), "%.0f", buf, sizeof buf);
        printf("  %-22s %s\n", "tok/s", buf);
    } else
        printf("  no readable metrics.csv\n");
    printf("files\n");
    print_file(&r, "run.json", "configuration, command, machine, backend");
    print_file(&r, "metrics.csv", "step,loss,val_loss,lr,ms_per_step,tok_per_s");
    print_file(&r, "samples.txt", "the samples printed at the end");
    json_t *ck = json_object_get(r.j, "checkpoint");
    if (ck) {
        snprintf(buf, sizeof buf, "%s of %s", str(ck, NULL, "stored_as"), str(ck, NULL, "from"));
        print_file(&r, "checkpoint.safetensors", buf);
    }
    print_file(&r, "loss.svg", "the loss curve");
    char p[4500];
    snprintf(p, sizeof p, "%s/samples.txt", r.dir);
    FILE *f = fopen(p, "r");
    if (f) {
        printf("samples\n");
        while (fgets(buf, sizeof buf, f))
            printf("  %s", buf);
        fclose(f);
    }
    run_free(&r);
    return CLI_OK;
}

/* One row of the side-by-side table. */
static void row(const char *name, char cells[][64], int n)
{
    printf("  %-22s", name);
    for (int i = 0; i < n; i++)
        printf("  %-20s", cells[i]);
    printf("\n");
}

/* The row of setting obj.key when the runs differ in it (a run without it shows
 * "missing"): 1 if printed, 0 if every run has the same value. */
static int setting_row(const char *obj, const char *key, const char *name, run *r, int n,
                       char cells[][64])
{
    json_t *first = json_object_get(json_object_get(r[0].j, obj), key);
    int eq = 1;
    for (int i = 1; i < n; i++) {
        json_t *v = json_object_get(json_object_get(r[i].j, obj), key);
        eq &= (!first && !v) || (first && v && json_equal(first, v));
    }
    if (eq)
        return 0;
    for (int i = 0; i < n; i++) {
        json_t *v = json_object_get(json_object_get(r[i].j, obj), key);
        if (v)
            value_text(v, cells[i], 64);
        else
            snprintf(cells[i], 64, "missing");
    }
    row(name, cells, n);
    return 1;
}

static int cmd_compare(const char *root, char **want, int n, const char *out)
{
    run *r = calloc((size_t)n, sizeof *r);
    char (*cells)[64] = calloc((size_t)n, sizeof *cells);
    int status = r && cells ? CLI_OK : CLI_FAIL;
    for (int i = 0; status == CLI_OK && i < n; i++)
        status = find(root, want[i], &r[i]);
    if (status != CLI_OK)
        goto done;

    for (int i = 0; i < n; i++)
        snprintf(cells[i], 64, "%s", r[i].id);
    row("run", cells, n);
    /* the settings that differ: config (every key of any run's), then backend and CPU */
    const struct { const char *obj, *key; } extra[] = {
        {"backend", "name"}, {"backend", "threads"}, {"machine", "cpu_brand"}};
    int differ = 0, same = 0;
    printf("configuration differences\n");
    json_t *keys = json_object(); /* the union, in order of first appearance */
    for (int i = 0; keys && i < n; i++) {
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(r[i].j, "config"), k, v)
            json_object_set(keys, k, json_null());
    }
    if (!keys) {
        tool_error(C, "out of memory");
        status = CLI_FAIL;
        goto done;
    }
    const char *k;
    json_t *unused;
    json_object_foreach(keys, k, unused) {
        if (setting_row("config", k, k, r, n, cells))
            differ++;
        else
            same++;
    }
    for (size_t e = 0; e < sizeof extra / sizeof extra[0]; e++) {
        char name[80];
        snprintf(name, sizeof name, "%s.%s", extra[e].obj, extra[e].key);
        if (setting_row(extra[e].obj, extra[e].key, name, r, n, cells))
            differ++;
        else
            same++;
    }
    json_decref(keys);
    if (!differ)
        printf("  none\n");
    printf("  (%d other settings equal)\n", same);

    printf("results\n");
    for (int i = 0; i < n; i++)
        snprintf(cells[i], 64, "%ld", r[i].have_m ? r[i].m.last_step : 0);
    row("steps", cells, n);
    for (int i = 0; i < n; i++)
        fig(r[i].have_m ? r[i].m.final_loss : NAN, "%.4f", cells[i], 64);
    row("final loss", cells, n);
    for (int i = 0; i < n; i++)
        fig(r[i].have_m ? r[i].m.best_loss : NAN, "%.4f", cells[i], 64);
    row("best loss", cells, n);
    for (int i = 0; i < n; i++)
        fig(r[i].have_m ? r[i].m.last_val : NAN, "%.4f", cells[i], 64);
    row("final val loss", cells, n);
    for (int i = 0; i < n; i++)
        fig(r[i].have_m ? r[i].m.best_val : NAN, "%.4f", cells[i], 64);
    row("best val loss", cells, n);
    for (int i = 0; i < n; i++)
        tool_fmt_sig3(cells[i], 64,
                      r[i].have_m && r[i].m.n ? 1e3 * r[i].m.seconds / (double)r[i].m.n : NAN);
    row("ms/step", cells, n);
    for (int i = 0; i < n; i++)
        fig(tok_s(&r[i]), "%.0f", cells[i], 64);
    row("tok/s", cells, n);

    if (out) {
        run_series *s = calloc((size_t)n, sizeof *s);
        run_metrics empty;
        memset(&empty, 0, sizeof empty);
        char err[1200];
        for (int i = 0; s && i < n; i++)
            s[i].name = r[i].id, s[i].m = r[i].have_m ? &r[i].m : &empty;
        if (!s || run_chart_loss(out, "training runs compared", s, n, err, sizeof err) != 0) {
            tool_error(C, "%s", s ? err : "out of memory");
            status = CLI_FAIL;
        } else
            printf("chart: %s\n", out);
        free(s);
    }
done:
    for (int i = 0; r && i < n; i++)
        run_free(&r[i]);
    free(r);
    free(cells);
    return status;
}

int cmd_runs(int argc, char **argv, const cli_global *g)
{
    (void)g;
    runs_opts o = {NULL, NULL};
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help();
            return CLI_OK;
        case CLI_OPT_VERSION:
            cli_print_version();
            return CLI_OK;
        case O_ARCHIVE_DIR:
        case 'o':
            if (!*optarg) {
                tool_error(C, "%s '' is empty (expected a %s)", c == 'o' ? "--output" :
                           "--archive-dir", c == 'o' ? "file" : "folder");
                return CLI_USAGE;
            }
            *(c == 'o' ? &o.out : &o.dir) = optarg;
            break;
        default:
            return cli_bad_option(C, argv, longopts, c);
        }
    }
    char root[4096];
    if (run_archive_root(o.dir, root, sizeof root) != 0) {
        tool_error(C, "no archive folder: HOME, XDG_DATA_HOME and MGPT_ARCHIVE_DIR are unset "
                   "(give --archive-dir)");
        return CLI_USAGE;
    }
    const char *sub = optind < argc ? argv[optind] : NULL;
    int nargs = argc - optind - 1;
    if (!sub) {
        tool_error(C, "no subcommand given (expected list, show or compare)");
        tool_try_help(C);
        return CLI_USAGE;
    }
    if (o.out && strcmp(sub, "compare") != 0) {
        tool_error(C, "--output is for compare only");
        return CLI_USAGE;
    }
    if (strcmp(sub, "list") == 0 && nargs == 0)
        return cmd_list(root);
    if (strcmp(sub, "show") == 0 && nargs == 1)
        return cmd_show(root, argv[optind + 1]);
    if (strcmp(sub, "compare") == 0 && nargs >= 2)
        return cmd_compare(root, argv + optind + 1, nargs, o.out);
    if (strcmp(sub, "list") == 0 || strcmp(sub, "show") == 0 || strcmp(sub, "compare") == 0)
        tool_error(C, "%s takes %s (given %d)", sub, strcmp(sub, "list") == 0 ? "no run ID" :
                   strcmp(sub, "show") == 0 ? "one run ID" : "two or more run IDs", nargs);
    else
        tool_error(C, "unknown subcommand '%s' (expected list, show or compare)", sub);
    tool_try_help(C);
    return CLI_USAGE;
}
