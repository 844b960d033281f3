/* mgpt train's archive of the run (layout in run_archive.h). Every write checks for
 * failure; the first one is reported as a warning and ends archiving for this run, so a
 * read-only folder or a full disk never stops training. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "data/bpe.h"
#include "format/data_hash.h"
#include "platform/cpu.h"
#include "platform/topology.h"
#include "run_archive.h"
#include "run_chart.h"
#include "run_metrics.h"
#include "train.h"

static const char C[] = "train";

/* metrics.csv reaches the disk at least this often (and at the end), so a killed run keeps
 * all but the last second of its rows without a write per step. */
#define FLUSH_SECONDS 1.0

static void give_up(run_archive *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void give_up(run_archive *a, const char *fmt, ...)
{
    if (a->failed)
        return;
    char msg[4400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tool_warn(C, "run archive: %s; training goes on without it", msg);
    a->failed = 1;
    if (a->csv)
        fclose(a->csv);
    if (a->samples)
        fclose(a->samples);
    a->csv = a->samples = NULL;
}

int run_archive_root(const char *opt, char *buf, size_t len)
{
    const char *env = getenv("MGPT_ARCHIVE_DIR"), *xdg = getenv("XDG_DATA_HOME"),
               *home = getenv("HOME");
    if (opt && *opt)
        snprintf(buf, len, "%s", opt);
    else if (env && *env)
        snprintf(buf, len, "%s", env);
    else if (xdg && *xdg)
        snprintf(buf, len, "%s/mgpt/runs", xdg);
    else if (home && *home)
        snprintf(buf, len, "%s/.local/share/mgpt/runs", home);
    else
        return -1;
    return 0;
}

/* mkdir -p path: 0, or -1 with errno set. */
static int make_dirs(const char *path)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST)
                return -1;
            *s = '/';
        }
    if (mkdir(p, 0777) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static void iso_time(char *buf, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The tokenizer into config c: "tokenizer" char or bpe and, for BPE, "tokenizer_xxh3" (the
 * XXH3-64 of its file's text, which has one spelling, so of the --tokenizer file's bytes)
 * and "tokenizer_file" (the --tokenizer path; none when the run took it from the checkpoint
 * it resumed). vocab_size is the config's. */
static void tokenizer_json(json_t *c, const train_opts *o, const trainer *t)
{
    json_object_set_new(c, "tokenizer", json_string(t->vocab.bpe ? "bpe" : "char"));
    if (!t->vocab.bpe)
        return;
    if (o->tokenizer)
        json_object_set_new(c, "tokenizer_file", json_string(o->tokenizer));
    char *text = mgpt_bpe_to_text(t->vocab.bpe);
    if (text) {
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx",
                 (unsigned long long)mgpt_data_hash(text, strlen(text)));
        json_object_set_new(c, "tokenizer_xxh3", json_string(hex));
        free(text);
    }
}

static json_t *config_json(const train_opts *o, const trainer *t)
{
    char data[600];
    cli_data_describe(&t->data, data, sizeof data);
    json_t *srcs = json_array();
    for (int i = 0; i < t->data.n_src; i++)
        json_array_append_new(srcs, json_string(t->data.src[i].name));
    json_t *c = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:s, s:i, s:f, s:I, s:f, s:i, "
                          "s:i, s:i, s:f, s:s, s:o, s:s?, s:s?, s:b}",
                          "n_embd", o->cfg.n_embd, "n_head", o->cfg.n_head, "n_layer",
                          o->cfg.n_layer, "block_size", o->cfg.block_size, "vocab_size",
                          o->cfg.vocab_size, "batch_size", o->batch, "num_steps", o->steps,
                          "learning_rate", o->lr, "lr_schedule",
                          o->schedule == MGPT_LR_COSINE ? "cosine" : "linear", "warmup_steps",
                          o->warmup, "grad_clip", o->clip, "seed", (json_int_t)o->seed,
                          "val_split", o->val_split, "val_every", o->val_every,
                          "early_stop_patience", o->patience, "num_samples", o->num_samples,
                          "temperature", o->temperature, "data", data, "data_files", srcs,
                          "save", o->save, "resume", o->resume, "stream", o->stream);
    if (c)
        tokenizer_json(c, o, t);
    return c;
}

static json_t *machine_json(void)
{
    mgpt_cpu_info cpu;
    char err[1200], names[256];
    json_t *m = json_object();
    if (mgpt_cpu_detect(&cpu, err, sizeof err) == 0) {
        mgpt_cpu_feature_names(cpu.features, names, sizeof names);
        json_object_set_new(m, "cpu_vendor", json_string(cpu.vendor));
        json_object_set_new(m, "cpu_brand", json_string(cpu.brand[0] ? cpu.brand : "unknown"));
        json_object_set_new(m, "cpu_family", json_integer(cpu.family));
        json_object_set_new(m, "cpu_model", json_integer(cpu.model));
        json_object_set_new(m, "cpu_features", json_string(names));
        if (cpu.libcpuid_ok) {
            json_object_set_new(m, "cores", json_integer(cpu.cores));
            json_object_set_new(m, "logical_cpus", json_integer(cpu.logical_cpus));
        }
    }
    mgpt_topology tp;
    if (mgpt_topology_read(&tp, err, sizeof err) == 0)
        json_object_set_new(m, "hwloc",
                            json_pack("{s:i, s:i, s:i, s:I, s:I, s:I}", "packages", tp.packages,
                                      "cores", tp.cores, "pus", tp.pus,
                                      "l1d_bytes", (json_int_t)tp.l1d,
                                      "l2_bytes", (json_int_t)tp.l2,
                                      "l3_bytes", (json_int_t)tp.l3));
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) == 0)
        json_object_set_new(m, "hostname", json_string(host));
    return m;
}

static int write_json(run_archive *a, json_t *j)
{
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/run.json", a->dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (json_dump_file(j, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0 || rename(tmp, path) != 0) {
        give_up(a, "cannot write '%s'", path);
        unlink(tmp);
        return -1;
    }
    return 0;
}

static json_t *read_json(run_archive *a)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/run.json", a->dir);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        give_up(a, "cannot read back '%s': %s", path, je.text);
    return j;
}

/* ROOT/ID made atomically: mkdir fails with EEXIST when another run took the name, then
 * the next counter is tried. */
static int make_run_dir(run_archive *a, const char *root)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    for (int n = 0; n < 1000; n++) {
        snprintf(a->id, sizeof a->id, "%s-%02d", stamp, n);
        snprintf(a->dir, sizeof a->dir, "%s/%s", root, a->id);
        if (mkdir(a->dir, 0777) == 0)
            return 0;
        if (errno != EEXIST)
            return -1;
    }
    errno = EEXIST;
    return -1;
}

int run_archive_open(run_archive *a, const char *root, const trainer *t, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    if (make_dirs(root) != 0 || make_run_dir(a, root) != 0) {
        give_up(a, "cannot create a run folder in '%s': %s", root, strerror(errno));
        return -1;
    }
    char when[32], be[256];
    iso_time(when, sizeof when);
    cli_engine_describe(&t->eng, be, sizeof be);
    json_t *cmd = json_array();
    for (int i = 0; i < argc; i++)
        json_array_append_new(cmd, json_string(argv[i]));
    json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:{s:s, s:i, s:s, s:s}, s:I, s:I}",
                          "id", a->id, "started", when, "status", "running", "command", cmd,
                          "config", config_json(t->o, t), "machine", machine_json(), "backend",
                          "name", t->eng.be_open ? t->eng.be.entry->name : "none",
                          "threads", cli_engine_threads(&t->eng), "chosen", t->eng.why ? t->eng.why : "",
                          "described", be, "parameters", (json_int_t)t->m->num_floats,
                          "first_step", (json_int_t)t->m->step + 1);
    int bad = !j || write_json(a, j) != 0;
    json_decref(j);
    if (bad) {
        if (!j)
            give_up(a, "cannot describe the run in JSON");
        return -1;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.csv", a->dir);
    a->csv = fopen(path, "w");
    if (!a->csv || fprintf(a->csv, "step,loss,val_loss,lr,ms_per_step,tok_per_s\n") < 0 ||
        fflush(a->csv) != 0) {
        give_up(a, "cannot write '%s': %s", path, strerror(errno));
        return -1;
    }
    a->last_flush = cli_now();
    return 0;
}

void run_archive_step(run_archive *a, long step, double loss, double val, double lr,
                      double tokens, double seconds)
{
    if (!a || a->failed || !a->csv)
        return;
    char v[32] = "";
    if (val >= 0)
        snprintf(v, sizeof v, "%.6f", val);
    int bad = fprintf(a->csv, "%ld,%.6f,%s,%.6g,%.6f,%.1f\n", step, loss, v, lr, 1e3 * seconds,
                      seconds > 0 ? tokens / seconds : 0.0) < 0;
    double now = cli_now();
    if (!bad && (val >= 0 || now - a->last_flush >= FLUSH_SECONDS)) {
        bad = fflush(a->csv) != 0;
        a->last_flush = now;
    }
    if (bad)
        give_up(a, "cannot write '%s/metrics.csv': %s", a->dir, strerror(errno));
}

void run_archive_sample(run_archive *a, const char *text)
{
    if (!a || a->failed)
        return;
    char path[4200];
    snprintf(path, sizeof path, "%s/samples.txt", a->dir);
    if (!a->samples && !(a->samples = fopen(path, "w"))) {
        give_up(a, "cannot write '%s': %s", path, strerror(errno));
        return;
    }
    if (fprintf(a->samples, "%s\n", text) < 0)
        give_up(a, "cannot write '%s': %s", path, strerror(errno));
}

/* src copied to dst: 0, or -1 with errno set. */
static int copy_file(const char *src, const char *dst)
{
    FILE *in = fopen(src, "rb");
    if (!in)
        return -1;
    FILE *out = fopen(dst, "wb");
    if (!out) {
        int e = errno;
        fclose(in);
        errno = e;
        return -1;
    }
    char buf[1 << 16];
    size_t n;
    int bad = 0;
    while (!bad && (n = fread(buf, 1, sizeof buf, in)) > 0)
        bad = fwrite(buf, 1, n, out) != n;
    bad |= ferror(in);
    int e = errno;
    fclose(in);
    bad |= fclose(out) != 0;
    if (bad) {
        unlink(dst);
        errno = e ? e : EIO;
        return -1;
    }
    return 0;
}

void run_archive_checkpoint(run_archive *a, const char *path)
{
    if (!a || a->failed)
        return;
    char dst[4200];
    snprintf(dst, sizeof dst, "%s/checkpoint.safetensors", a->dir);
    unlink(dst);
    const char *how = "hard link";
    if (link(path, dst) != 0) {
        how = "copy";
        if (copy_file(path, dst) != 0) {
            give_up(a, "cannot copy the checkpoint '%s' to '%s': %s", path, dst, strerror(errno));
            return;
        }
    }
    json_t *j = read_json(a);
    if (!j)
        return;
    char abs[4096];
    json_object_set_new(j, "checkpoint",
                        json_pack("{s:s, s:s, s:s}", "file", "checkpoint.safetensors", "from",
                                  realpath(path, abs) ? abs : path, "stored_as", how));
    write_json(a, j);
    json_decref(j);
}

void run_archive_close(run_archive *a, const char *status)
{
    if (!a || a->failed || !a->dir[0])
        return;
    if (a->csv) {
        int bad = fclose(a->csv) != 0;
        a->csv = NULL;
        if (bad) {
            give_up(a, "cannot write '%s/metrics.csv': %s", a->dir, strerror(errno));
            return;
        }
    }
    if (a->samples) {
        int bad = fclose(a->samples) != 0;
        a->samples = NULL;
        if (bad) {
            give_up(a, "cannot write '%s/samples.txt': %s", a->dir, strerror(errno));
            return;
        }
    }
    char err[1200];
    run_metrics mt;
    if (run_metrics_read(a->dir, &mt, err, sizeof err) != 0) {
        give_up(a, "%s", err);
        return;
    }
    char chart[4200];
    snprintf(chart, sizeof chart, "%s/loss.svg", a->dir);
    run_series s = {a->id, &mt};
    if (mt.n > 0 && run_chart_loss(chart, "training run", &s, 1, err, sizeof err) != 0)
        give_up(a, "%s", err);
    run_metrics_free(&mt);
    json_t *j = read_json(a);
    if (!j)
        return;
    char when[32];
    iso_time(when, sizeof when);
    json_object_set_new(j, "status", json_string(status));
    json_object_set_new(j, "ended", json_string(when));
    write_json(a, j);
    json_decref(j);
}
