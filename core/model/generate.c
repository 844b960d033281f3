/* BOS, the prompt, then one draw per step from the decoder's logits, for one sample or a
 * batch of them (generate.h). */
#include <stdlib.h>
#include <string.h>
#include "model/generate.h"

/* n samples into out + i * cap; emit (may be NULL) receives every byte as it comes (the
 * callers give it for n == 1 only). */
static int run(mgpt_decoder *d, const mgpt_vocab *v, mgpt_rng *rng, const mgpt_sample_opts *o,
               const int *prompt, int n_prompt, int max_new, int n, char *out, size_t cap,
               int *lens, mgpt_sample_emit emit, void *user)
{
    int V = d->V;
    double *p = malloc((size_t)V * sizeof *p);
    int *idx = malloc((size_t)V * sizeof *idx), *first = malloc(((size_t)n_prompt + 1) * sizeof *first);
    int *seq = malloc((size_t)n * sizeof *seq), *tok = malloc((size_t)n * sizeof *tok);
    int *row = malloc((size_t)n * sizeof *row);
    unsigned char *live = malloc((size_t)n);
    int rc = -1;
    if (!p || !idx || !first || !seq || !tok || !row || !live)
        goto done;
    /* BOS and the prompt once, in sequence 0; every other sample starts from a copy */
    mgpt_decoder_reset(d);
    first[0] = MGPT_BOS;
    if (n_prompt > 0)
        memcpy(first + 1, prompt, (size_t)n_prompt * sizeof *prompt);
    const float *logits = mgpt_decoder_feed(d, 0, first, n_prompt + 1);
    for (int i = 0; i < n; i++) {
        mgpt_decoder_copy(d, i, 0);
        lens[i] = 0;
        row[i] = 0;
        live[i] = cap > 1;
    }
    for (int t = 0; t < max_new; t++) {
        int m = 0;
        for (int i = 0; i < n; i++) {
            if (!live[i])
                continue;
            char *s = out + (size_t)i * cap;
            int id = mgpt_sample_draw(logits + (size_t)row[i] * V, V, o, &rng[i], p, idx);
            live[i] = 0;
            if (id == MGPT_BOS && !o->bos_is_newline)
                continue;
            if (id == MGPT_BOS) { /* a line ends; the stream goes on */
                s[lens[i]++] = '\n';
                if (emit)
                    emit('\n', user);
            } else if (mgpt_sample_put(v, id, s, cap, &lens[i], emit, user) != 0) {
                continue;
            }
            /* the last token drawn needs no step: nothing follows it */
            if (t + 1 < max_new && (size_t)lens[i] + 1 < cap) {
                live[i] = 1;
                seq[m] = i;
                tok[m] = id;
                row[i] = m++;
            }
        }
        if (m == 0)
            break;
        logits = mgpt_decoder_step_batch(d, seq, tok, m);
    }
    for (int i = 0; i < n; i++)
        out[(size_t)i * cap + (size_t)lens[i]] = '\0';
    rc = 0;
done:
    free(p);
    free(idx);
    free(first);
    free(seq);
    free(tok);
    free(row);
    free(live);
    return rc;
}

int mgpt_generate(mgpt_decoder *d, const mgpt_vocab *v, mgpt_rng *rng,
                  const mgpt_sample_opts *o, const int *prompt, int n_prompt, int max_new,
                  char *out, size_t cap, mgpt_sample_emit emit, void *user)
{
    int len = 0;
    return run(d, v, rng, o, prompt, n_prompt, max_new, 1, out, cap, &len, emit, user) ? -1
                                                                                      : len;
}

int mgpt_generate_batch(mgpt_decoder *d, const mgpt_vocab *v, mgpt_rng *rng,
                        const mgpt_sample_opts *o, const int *prompt, int n_prompt, int max_new,
                        int n, char *out, size_t cap, int *lens)
{
    return run(d, v, rng, o, prompt, n_prompt, max_new, n, out, cap, lens, NULL, NULL);
}
