/* The JSON file of a run (written by `run`, read by `compare`). Layout, schema
 * "mgpt-bench/1":
 *   { "schema", "mgpt_version", "backend_abi" (major), "backend_abi_minor", "timestamp",
 *     "commit" (--commit or the git commit of the working folder; absent if unknown),
 *     "machine": { "cpu": {...}, "topology": {...}, "os": {...}, "compiler" },
 *     "settings": { "steps" (null = calibrated), "warmup", "repeats", "min_time_s",
 *                   "threads" (requested, or the engine's default), "seed" },
 *     "results": [ { "backend", "config", shape, "ms_per_step" (median), ... } ],
 *     "skipped": [ { "backend", "reason" } ] }
 * `compare` needs only "schema" and, per result, "backend", "config" and "ms_per_step"
 * (or "ms_per_step_min" with --metric=min). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "bench.h"

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

/* jansson refuses NaN and infinities: those become null */
static json_t *real(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *result_json(const bench_result *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "backend", json_string(r->backend));
    json_object_set_new(o, "config", json_string(r->config));
    json_object_set_new(o, "n_embd", json_integer(r->cfg.n_embd));
    json_object_set_new(o, "n_head", json_integer(r->cfg.n_head));
    json_object_set_new(o, "n_layer", json_integer(r->cfg.n_layer));
    json_object_set_new(o, "block_size", json_integer(r->cfg.block_size));
    json_object_set_new(o, "vocab_size", json_integer(r->cfg.vocab_size));
    json_object_set_new(o, "batch", json_integer(r->batch));
    json_object_set_new(o, "params", json_integer((json_int_t)r->params));
    json_object_set_new(o, "data", json_string(r->data));
    json_object_set_new(o, "threads", json_integer(r->threads));
    json_object_set_new(o, "warmup", json_integer(r->warmup));
    json_object_set_new(o, "steps", json_integer(r->steps));
    json_object_set_new(o, "repeats", json_integer(r->repeats));
    json_object_set_new(o, "ms_per_step", real(r->ms_median));
    json_object_set_new(o, "ms_per_step_min", real(r->ms_min));
    json_object_set_new(o, "ms_per_step_max", real(r->ms_max));
    json_t *rep = json_array();
    for (int i = 0; i < r->repeats; i++)
        json_array_append_new(rep, real(r->repeat_ms[i]));
    json_object_set_new(o, "repeat_ms", rep);
    json_object_set_new(o, "tokens_per_step", real(r->tokens_per_step));
    json_object_set_new(o, "tokens_per_s", real(r->tokens_per_s));
    json_object_set_new(o, "flops_per_step",
                        real(r->flops_per_step));
    json_object_set_new(o, "flops_forward", real(r->flops_forward));
    json_object_set_new(o, "flops_backward", real(r->flops_backward));
    json_object_set_new(o, "flops_optimizer", real(r->flops_optimizer));
    json_object_set_new(o, "bytes_per_step", real(r->bytes_per_step));
    json_object_set_new(o, "gflops", real(r->gflops));
    json_object_set_new(o, "final_loss", real(r->final_loss));
    return o;
}

int bench_write_json(const bench_run *run, FILE *f)
{
    json_t *root = json_object();
    json_object_set_new(root, "schema", json_string(BENCH_SCHEMA));
    json_object_set_new(root, "mgpt_version", json_string(PACKAGE_VERSION));
    /* the ABI's major, as before 4.0 (an integer), and its minor beside it */
    json_object_set_new(root, "backend_abi", json_integer(MGPT_BACKEND_ABI_MAJOR));
    json_object_set_new(root, "backend_abi_minor", json_integer(MGPT_BACKEND_ABI_MINOR));
    json_object_set_new(root, "timestamp", json_string(run->timestamp));
    /* the code measured, for trend charts; absent when unknown */
    if (run->commit[0])
        json_object_set_new(root, "commit", json_string(run->commit));
    json_object_set_new(root, "machine", bench_machine_json());
    const bench_settings *s = &run->settings;
    json_object_set_new(root, "settings", json_pack("{s:o, s:i, s:i, s:f, s:i, s:i}",
        "steps", s->steps ? json_integer(s->steps) : json_null(), "warmup", s->warmup,
        "repeats", s->repeats, "min_time_s", s->min_time, "threads", s->threads, "seed", 42));
    json_t *results = json_array();
    for (int i = 0; i < run->n; i++)
        json_array_append_new(results, result_json(&run->results[i]));
    json_object_set_new(root, "results", results);
    json_t *skipped = json_array();
    for (int i = 0; i < run->n_skipped; i++)
        json_array_append_new(skipped, json_pack("{s:s, s:s}", "backend",
                                                 run->skipped[i].backend, "reason",
                                                 run->skipped[i].reason));
    json_object_set_new(root, "skipped", skipped);
    int rc = json_dumpf(root, f, JSON_INDENT(2)) == 0 && fputc('\n', f) != EOF ? 0 : -1;
    json_decref(root);
    return rc;
}

static double number_or_zero(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : 0;
}

int bench_read_json(const char *cmd, const char *path, const char *key, bench_file *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) {
        tool_error(cmd, "cannot read '%s': %s", path, strerror(errno));
        return -1;
    }
    json_error_t je;
    out->root = json_loadf(f, 0, &je);
    fclose(f);
    if (!out->root) {
        tool_error(cmd, "'%s' is not valid JSON: line %d, column %d: %s", path, je.line,
                   je.column, je.text);
        return -1;
    }
    json_t *schema = json_object_get(out->root, "schema");
    if (!json_is_object(out->root) || !json_is_string(schema)) {
        tool_error(cmd, "'%s' is not a file of 'mgpt-bench run --json' (it has no \"schema\": "
                   "\"%s\")", path, BENCH_SCHEMA);
        goto bad;
    }
    if (strcmp(json_string_value(schema), BENCH_SCHEMA) != 0) {
        tool_error(cmd, "'%s' has schema \"%s\"; this mgpt-bench reads \"%s\"", path,
                   json_string_value(schema), BENCH_SCHEMA);
        goto bad;
    }
    json_t *results = json_object_get(out->root, "results");
    if (!json_is_array(results)) {
        tool_error(cmd, "'%s' has no \"results\" array", path);
        goto bad;
    }
    out->n = (int)json_array_size(results);
    out->e = calloc(out->n > 0 ? (size_t)out->n : 1, sizeof *out->e);
    if (!out->e) {
        tool_error(cmd, "out of memory reading '%s'", path);
        goto bad;
    }
    for (int i = 0; i < out->n; i++) {
        json_t *o = json_array_get(results, (size_t)i);
        json_t *be = json_object_get(o, "backend"), *cf = json_object_get(o, "config");
        json_t *ms = json_object_get(o, key);
        if (!json_is_object(o) || !json_is_string(be) || !json_is_string(cf)) {
            tool_error(cmd, "'%s': results[%d] needs the strings \"backend\" and \"config\"",
                       path, i);
            goto bad;
        }
        bench_entry *e = &out->e[i];
        e->backend = json_string_value(be);
        e->config = json_string_value(cf);
        if (!json_is_number(ms) || !(json_number_value(ms) > 0) ||
            !isfinite(json_number_value(ms))) {
            tool_error(cmd, "'%s': results[%d] (%s, %s) needs a number \"%s\" > 0", path, i,
                       e->backend, e->config, key);
            goto bad;
        }
        e->ms = json_number_value(ms);
        e->tokens_per_s = number_or_zero(o, "tokens_per_s");
        e->gflops = number_or_zero(o, "gflops");
        for (int j = 0; j < i; j++)
            if (strcmp(out->e[j].backend, e->backend) == 0 &&
                strcmp(out->e[j].config, e->config) == 0) {
                tool_error(cmd, "'%s': results[%d] and results[%d] are both (%s, %s): each "
                           "(backend, config) may appear once", path, j, i, e->backend,
                           e->config);
                goto bad;
            }
    }
    json_t *brand = json_object_get(json_object_get(json_object_get(out->root, "machine"),
                                                    "cpu"), "brand");
    out->cpu_brand = json_is_string(brand) ? json_string_value(brand) : "";
    out->threads = (int)number_or_zero(json_object_get(out->root, "settings"), "threads");
    json_t *commit = json_object_get(out->root, "commit");
    json_t *stamp = json_object_get(out->root, "timestamp");
    out->commit = json_is_string(commit) ? json_string_value(commit) : "";
    out->timestamp = json_is_string(stamp) ? json_string_value(stamp) : "";
    return 0;
bad:
    bench_file_free(out);
    return -1;
}

void bench_file_free(bench_file *f)
{
    free(f->e);
    json_decref(f->root);
    memset(f, 0, sizeof *f);
}
