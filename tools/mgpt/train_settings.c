/* The training settings a checkpoint keeps (metadata "train"), written on every save and
 * read back by --resume. Keys are the long option names, so a stored setting goes back in
 * through the option's own parser and range check. */
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "train_settings.h"

static const char C[] = "train";

enum kind { S_INT, S_REAL, S_SCHED, S_FLAG };

/* What is kept: the options that change the numbers of the run, besides the shape (the
 * checkpoint's config) and the seed (its "seed"). Output options are left out. */
static const struct setting {
    const char *opt;
    enum kind kind;
    size_t off;
} settings[] = {
    {"batch-size", S_INT, offsetof(train_opts, batch)},
    {"num-steps", S_INT, offsetof(train_opts, steps)},
    {"learning-rate", S_REAL, offsetof(train_opts, lr)},
    {"lr-schedule", S_SCHED, offsetof(train_opts, schedule)},
    {"warmup-steps", S_INT, offsetof(train_opts, warmup)},
    {"lr-decay-steps", S_INT, offsetof(train_opts, decay_steps)},
    {"grad-clip", S_REAL, offsetof(train_opts, clip)},
    {"val-split", S_REAL, offsetof(train_opts, val_split)},
    {"val-every", S_INT, offsetof(train_opts, val_every)},
    {"early-stop-patience", S_INT, offsetof(train_opts, patience)},
    {"stream", S_FLAG, offsetof(train_opts, stream)},
};
#define N_SETTINGS (sizeof settings / sizeof settings[0])
#define DATA_KEY "data"
#define VAL_KEY "validation" /* early stopping's counters, not an option */


/* One setting's value in o; NULL when it is not kept (--lr-decay-steps 0: --num-steps). */
static json_t *value_of(const train_opts *o, const struct setting *s)
{
    const char *at = (const char *)o + s->off;
    switch (s->kind) {
    case S_INT: {
        int v = *(const int *)at;
        return v == 0 && strcmp(s->opt, "lr-decay-steps") == 0 ? NULL : json_integer(v);
    }
    case S_REAL:
        return json_real(*(const double *)at);
    case S_SCHED:
        return json_string(*(const mgpt_lr_schedule *)at == MGPT_LR_COSINE ? "cosine"
                                                                           : "linear");
    case S_FLAG:
        return json_boolean(*(const int *)at);
    }
    return NULL;
}

/* [{"data": FILE}, {"data-dir": DIR}, ...] in command-line order; [] = the embedded data. */
static json_t *data_of(const train_opts *o)
{
    json_t *a = json_array();
    for (int i = 0; a && i < o->data.n; i++)
        if (json_array_append_new(a, json_pack("{ss}", o->data.v[i].is_dir ? "data-dir" : "data",
                                               o->data.v[i].arg)) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *settings_of(const train_opts *o)
{
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    for (size_t i = 0; i < N_SETTINGS; i++) {
        json_t *v = value_of(o, &settings[i]);
        if (v && json_object_set_new(obj, settings[i].opt, v) != 0) {
            json_decref(obj);
            return NULL;
        }
    }
    if (json_object_set_new(obj, DATA_KEY, data_of(o)) != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

char *train_settings_json(const train_opts *o, const train_validation *v)
{
    json_t *obj = settings_of(o);
    if (obj && v && v->best_step >= 0 &&
        json_object_set_new(obj, VAL_KEY, json_pack("{s:f, s:I, s:i}", "best-loss", v->best,
                                                    "best-step", (json_int_t)v->best_step,
                                                    "since-best", v->since_best)) != 0) {
        json_decref(obj);
        obj = NULL;
    }
    char *s = obj ? json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17))
                  : NULL;
    json_decref(obj);
    return s;
}

/* A scalar as the option's argument (exact for reals), or for a message (%g); -1 if it
 * is not a scalar. */
static int render(const json_t *v, int exact, char *buf, size_t len)
{
    if (json_is_integer(v))
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, len, exact ? "%.17g" : "%g", json_real_value(v));
    else if (json_is_string(v))
        snprintf(buf, len, "%s", json_string_value(v));
    else
        return -1;
    return 0;
}

/* "--data a.txt --data-dir docs" or "the embedded names data", for a note. */
static void describe_data(const json_t *a, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    if (json_array_size(a) == 0)
        snprintf(buf, len, "the embedded names data");
    size_t i;
    const json_t *e;
    json_array_foreach(a, i, e) {
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)e, key, v) {
            if (used < len)
                used += (size_t)snprintf(buf + used, len - used, "%s--%s %s", i ? " " : "",
                                         key, json_is_string(v) ? json_string_value(v) : "?");
        }
    }
}

static int bad(const char *path, const char *what)
{
    tool_error(C, "checkpoint '%s': its training settings (metadata \"%s\") %s", path,
               TRAIN_SETTINGS_KEY, what);
    return CLI_USAGE;
}

/* An option without a value (--stream): true sets it unless given; there is no option
 * to turn it off, so a run that used it resumes with it. */
static int restore_flag(train_opts *o, const char *key, const json_t *v, const char *path)
{
    if (!json_is_boolean(v)) {
        char what[200];
        snprintf(what, sizeof what, "have \"%s\" that is not true or false", key);
        return bad(path, what);
    }
    if (train_option_given(o, key)) {
        if (!json_is_true(v))
            tool_note(C, "--%s given; the checkpoint's run did not use it", key);
        return CLI_OK;
    }
    return json_is_true(v) ? train_option_set(o, key, NULL) : CLI_OK;
}

static int restore_data(train_opts *o, const json_t *stored, const char *path)
{
    if (!json_is_array(stored))
        return bad(path, "have \"data\" that is not an array");
    size_t i;
    const json_t *e;
    json_array_foreach(stored, i, e) {
        const char *key = json_is_object(e) && json_object_size(e) == 1
                              ? json_object_iter_key(json_object_iter((json_t *)e)) : NULL;
        const json_t *v = key ? json_object_get(e, key) : NULL;
        if (!key || (strcmp(key, "data") != 0 && strcmp(key, "data-dir") != 0) ||
            !json_is_string(v))
            return bad(path, "have a \"data\" entry that is not {\"data\": FILE} or "
                             "{\"data-dir\": DIR}");
    }
    if (o->data.n > 0) {
        json_t *given = data_of(o);
        if (!given) {
            tool_error(C, "out of memory");
            return CLI_FAIL;
        }
        if (!json_equal(given, (json_t *)stored)) {
            char g[1000], s[1000];
            describe_data(given, g, sizeof g);
            describe_data(stored, s, sizeof s);
            tool_note(C, "%s given; the checkpoint's run used %s", g, s);
        }
        json_decref(given);
        return CLI_OK;
    }
    json_array_foreach(stored, i, e) {
        const char *key = json_object_iter_key(json_object_iter((json_t *)e));
        int status = train_option_set(o, key, json_string_value(json_object_get(e, key)));
        if (status != CLI_OK)
            return status;
    }
    o->data_restored = o->data.n > 0;
    return CLI_OK;
}

/* Early stopping's counters, when the resumed run validates on the same set as the run
 * that wrote them: the same --val-split, --stream and data. */
static int restore_validation(train_opts *o, const json_t *stored, const char *path)
{
    const json_t *v = json_object_get(stored, VAL_KEY);
    if (!v)
        return CLI_OK;
    const json_t *best = json_object_get(v, "best-loss"), *step = json_object_get(v, "best-step"),
                 *since = json_object_get(v, "since-best");
    if (!json_is_number(best) || !json_is_integer(step) || json_integer_value(step) < 0 ||
        !json_is_integer(since) || json_integer_value(since) < 0 ||
        json_integer_value(since) > INT_MAX)
        return bad(path, "have \"validation\" that is not {\"best-loss\": LOSS, "
                         "\"best-step\": STEP, \"since-best\": N}");
    json_t *current = settings_of(o);
    if (!current) {
        tool_error(C, "out of memory");
        return CLI_FAIL;
    }
    static const char *const same[] = {"val-split", "stream", DATA_KEY};
    int differs = 0;
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        const json_t *had = json_object_get(stored, same[i]);
        differs |= had && !json_equal((json_t *)had, json_object_get(current, same[i]));
    }
    json_decref(current);
    if (differs) {
        tool_note(C, "the validation set differs from the run of checkpoint '%s', so its best "
                  "validation loss %g (step %" JSON_INTEGER_FORMAT ") is not carried over: "
                  "early stopping counts afresh", path, json_number_value(best),
                  json_integer_value(step));
        return CLI_OK;
    }
    o->has_resumed_val = 1;
    o->resumed_val.best = json_number_value(best);
    o->resumed_val.best_step = (long)json_integer_value(step);
    o->resumed_val.since_best = (int)json_integer_value(since);
    return CLI_OK;
}

int train_settings_load(const char *path, json_t **settings, char *err, size_t errlen)
{
    char *text;
    *settings = NULL;
    if (mgpt_checkpoint_meta_value(path, TRAIN_SETTINGS_KEY, &text, err, errlen) != 0)
        return -1;
    if (!text)
        return 0;
    json_t *s = json_loads(text, 0, NULL);
    free(text);
    if (!json_is_object(s)) {
        snprintf(err, errlen, "checkpoint '%s': its training settings (metadata \"%s\") are "
                 "not %s", path, TRAIN_SETTINGS_KEY, s ? "a JSON object" : "valid JSON");
        json_decref(s);
        return -1;
    }
    *settings = s;
    return 0;
}

int train_settings_restore(train_opts *o, const char *path, uint64_t ck_seed)
{
    char err[1200];
    o->restored = 1;
    if (!o->set_seed)
        o->seed = ck_seed;
    else if (o->seed != ck_seed)
        tool_note(C, "--seed %llu given; the checkpoint's run used %llu", (unsigned long long)o->seed,
             (unsigned long long)ck_seed);
    json_t *stored;
    if (train_settings_load(path, &stored, err, sizeof err) != 0) {
        tool_error(C, "--resume: %s", err);
        return CLI_USAGE;
    }
    if (!stored) {
        tool_note(C, "checkpoint '%s' holds no training settings (written by an older mgpt): options "
             "not given take their defaults, not the values of its run", path);
        return CLI_OK;
    }
    o->ck_settings = stored; /* owns the --data strings restored below */

    json_t *current = settings_of(o);
    if (!current) {
        tool_error(C, "out of memory");
        return CLI_FAIL;
    }
    int status = CLI_OK;
    const char *key;
    json_t *v;
    json_object_foreach(stored, key, v) {
        if (strcmp(key, DATA_KEY) == 0) {
            status = restore_data(o, v, path);
        } else if (strcmp(key, VAL_KEY) == 0) {
            continue; /* once every setting is in: restore_validation */
        } else {
            size_t i = 0;
            while (i < N_SETTINGS && strcmp(settings[i].opt, key) != 0)
                i++;
            char have[64], used[64];
            if (i == N_SETTINGS) {
                tool_note(C, "checkpoint '%s' holds training setting \"%s\", unknown to this mgpt; "
                     "it is ignored", path, key);
                continue;
            }
            if (settings[i].kind == S_FLAG) {
                status = restore_flag(o, key, v, path);
            } else if (render(v, 1, used, sizeof used) != 0) {
                char what[200];
                snprintf(what, sizeof what, "have \"%s\" that is not a number or a name", key);
                status = bad(path, what);
            } else if (train_option_given(o, key)) {
                json_t *given = json_object_get(current, key);
                if (!given || !json_equal(given, v)) {
                    if (given)
                        render(given, 0, have, sizeof have);
                    else
                        snprintf(have, sizeof have, "0");
                    render(v, 0, used, sizeof used);
                    tool_note(C, "--%s %s given; the checkpoint's run used %s", key, have, used);
                }
            } else if ((status = train_option_set(o, key, used)) != CLI_OK) {
                tool_error(C, "checkpoint '%s' holds training setting --%s %s, which this mgpt "
                           "does not accept", path, key, used);
            }
        }
        if (status != CLI_OK)
            break;
    }
    json_decref(current);
    if (status == CLI_OK)
        status = restore_validation(o, stored, path);
    return status;
}

void train_settings_free(train_opts *o)
{
    json_decref(o->ck_settings);
    o->ck_settings = NULL;
}

int train_settings_flag(const char *path, const char *opt)
{
    char err[1200];
    json_t *stored;
    if (train_settings_load(path, &stored, err, sizeof err) != 0 || !stored)
        return 0;
    int on = json_is_true(json_object_get(stored, opt));
    json_decref(stored);
    return on;
}
