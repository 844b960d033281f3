/* BOS, the prompt, then one draw per step from the decoder's logits (generate.h). */
#include <stdlib.h>
#include "model/generate.h"

int mgpt_generate(mgpt_decoder *d, const mgpt_vocab *v, mgpt_rng *rng,
                  const mgpt_sample_opts *o, const int *prompt, int n_prompt, int max_new,
                  char *out, size_t cap, mgpt_sample_emit emit, void *user)
{
    double *p = malloc((size_t)d->V * sizeof *p);
    int *idx = malloc((size_t)d->V * sizeof *idx);
    if (!p || !idx) {
        free(p);
        free(idx);
        return -1;
    }
    mgpt_decoder_reset(d);
    const float *logits = mgpt_decoder_step(d, MGPT_BOS);
    for (int i = 0; i < n_prompt; i++)
        logits = mgpt_decoder_step(d, prompt[i]);
    int len = 0;
    for (int t = 0; t < max_new && (size_t)len + 1 < cap; t++) {
        int id = mgpt_sample_draw(logits, d->V, o, rng, p, idx);
        if (id == MGPT_BOS && !o->bos_is_newline)
            break;
        if (id == MGPT_BOS) { /* a line ends; the stream goes on */
            out[len++] = '\n';
            if (emit)
                emit('\n', user);
        } else if (mgpt_sample_put(v, id, out, cap, &len, emit, user) != 0) {
            break;
        }
        /* the last token drawn needs no step: nothing follows it */
        if (t + 1 < max_new && (size_t)len + 1 < cap)
            logits = mgpt_decoder_step(d, id);
    }
    out[len] = '\0';
    free(p);
    free(idx);
    return len;
}
