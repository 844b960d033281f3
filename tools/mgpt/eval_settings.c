/* mgpt eval's defaults from the checkpoint's training settings (eval_settings.h): the
 * data the run read, in line or stream mode, and the fraction it held out, so that eval
 * with only --checkpoint prints the validation loss training printed. */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "eval_settings.h"
#include "train_settings.h"

static int bad(const char *cmd, const char *path, const char *what)
{
    tool_error(cmd, "checkpoint '%s': its training settings (metadata \"%s\") %s", path,
               TRAIN_SETTINGS_KEY, what);
    return CLI_USAGE;
}

/* The run's data ([{"data": FILE}, {"data-dir": DIR}, ...]; [] = the embedded names)
 * into o->data. */
static int take_data(eval_opts *o, const char *cmd, const json_t *a)
{
    if (!json_is_array(a))
        return bad(cmd, o->ckpt, "have \"data\" that is not an array");
    size_t i;
    const json_t *e;
    json_array_foreach(a, i, e) {
        const char *key = json_is_object(e) && json_object_size(e) == 1
                              ? json_object_iter_key(json_object_iter((json_t *)e)) : NULL;
        const json_t *v = key ? json_object_get(e, key) : NULL;
        int is_dir = key && strcmp(key, "data-dir") == 0;
        if (!key || (!is_dir && strcmp(key, "data") != 0) || !json_is_string(v))
            return bad(cmd, o->ckpt, "have a \"data\" entry that is not {\"data\": FILE} or "
                                     "{\"data-dir\": DIR}");
        int status = cli_data_take(cmd, &o->data, is_dir ? CLI_OPT_DATA_DIR : CLI_OPT_DATA,
                                   json_string_value(v));
        if (status != CLI_OK)
            return status;
    }
    return CLI_OK;
}

int eval_settings_apply(eval_opts *o, const char *cmd)
{
    char err[1200];
    json_t *s;
    if (o->data.n > 0)
        return CLI_OK;
    if (train_settings_load(o->ckpt, &s, err, sizeof err) != 0) {
        tool_error(cmd, "%s", err);
        return CLI_USAGE;
    }
    if (!s) {
        tool_note(cmd, "checkpoint '%s' holds no training settings (written by an older "
                  "mgpt), so not the data of its run: evaluating on the embedded names data",
                  o->ckpt);
        return CLI_OK;
    }
    o->ck_settings = s; /* owns the data paths taken below */
    const json_t *data = json_object_get(s, "data"), *stream = json_object_get(s, "stream"),
                 *split = json_object_get(s, "val-split");
    if (!data)
        return bad(cmd, o->ckpt, "have no \"data\"");
    if (stream && !json_is_boolean(stream))
        return bad(cmd, o->ckpt, "have \"stream\" that is not true or false");
    if (split && (!json_is_number(split) || json_number_value(split) < 0 ||
                  json_number_value(split) >= 1))
        return bad(cmd, o->ckpt, "have \"val-split\" that is not a fraction in [0, 1)");
    int status = take_data(o, cmd, data);
    if (status != CLI_OK)
        return status;
    o->from = o->ckpt;
    if (o->stream < 0)
        o->stream = json_is_true(stream);
    if (!o->val_split_set && split) {
        o->val_split = json_number_value(split);
        o->val_split_set = 1;
    }
    return CLI_OK;
}

void eval_settings_free(eval_opts *o)
{
    json_decref(o->ck_settings);
    o->ck_settings = NULL;
}
