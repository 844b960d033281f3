/* What mgpt train prints on stdout besides the progress lines: the header before the
 * first step, the speed of the run, and the samples at the end. */
#include <stdlib.h>
#include "data/rng.h"
#include "model/sampler.h"
#include "run_archive.h"
#include "train.h"

/* n with thousands separators: "40,212" */
static void grouped(size_t n, char *buf, size_t len)
{
    char digits[32];
    int nd = snprintf(digits, sizeof digits, "%zu", n), k = 0;
    for (int i = 0; i < nd && (size_t)k + 2 < len; i++) {
        if (i > 0 && (nd - i) % 3 == 0)
            buf[k++] = ',';
        buf[k++] = digits[i];
    }
    buf[k] = '\0';
}

/* What line mode leaves out: the bytes of each document beyond the block size. */
static void print_cut(const trainer *t)
{
    int cut;
    size_t beyond, total;
    mgpt_docs_cut(t->data.docs, t->o->cfg.block_size, &cut, &beyond, &total);
    if (cut == 0)
        return;
    char b[32], tot[32];
    grouped(beyond, b, sizeof b);
    grouped(total, tot, sizeof tot);
    printf("cut %d of %d documents at the block size: %s of %s %s (%.0f%%) not trained on; "
           "--stream trains on all of them\n", cut, t->data.docs->count, b, tot,
           t->data.docs->tok ? "tokens" : "bytes",
           100.0 * (double)beyond / (double)total);
}

void train_print_header(const trainer *t)
{
    const train_opts *o = t->o;
    char desc[600];
    int n_val = t->split.n_val, n_train = t->split.count - n_val;
    cli_data_describe(&t->data, desc, sizeof desc);
    if (t->vocab.bpe) {
        size_t ntok = 0;
        for (int i = 0; i < t->data.docs->count; i++)
            ntok += t->data.docs->ntok[i];
        printf("data: %s: %d documents, %zu bytes, %zu tokens (%.3f bytes per token), BPE "
               "vocabulary %d (BOS + 256 bytes + %d merges) from %s\n", desc,
               t->data.docs->count, t->data.bytes, ntok,
               ntok ? (double)t->data.bytes / (double)ntok : 0.0, t->vocab.size,
               t->vocab.size - 257, o->tokenizer ? o->tokenizer : o->resume);
    } else
        printf("data: %s: %d documents, %zu bytes, vocabulary %d (BOS + %d bytes)\n", desc,
               t->data.docs->count, t->data.bytes, t->vocab.size, t->vocab.size - 1);
    if (o->stream)
        printf("stream: %zu tokens (lines joined by BOS): %zu training, %zu validation (the "
               "tail), %d random windows of %d + 1 tokens a step (seed %llu)\n", t->stream.n,
               t->stream.n_train, t->stream.n - t->stream.n_train, o->batch,
               o->cfg.block_size, (unsigned long long)o->seed);
    else if (n_val > 0)
        printf("split: %d training, %d validation documents (seed %llu)\n", n_train, n_val,
               (unsigned long long)o->seed);
    if (!o->stream)
        print_cut(t);
    cli_config_describe(&o->cfg, desc, sizeof desc);
    printf("model: %s: %zu parameters\n", desc, t->m->num_floats);
    printf("train: steps %ld..%d, batch %d %s%s, lr %g %s", t->m->step + 1, o->steps,
           o->batch, o->stream ? "window" : "document", o->batch == 1 ? "" : "s", o->lr,
           o->schedule == MGPT_LR_COSINE ? "cosine" : "linear");
    if (o->warmup)
        printf(" after %d warmup steps", o->warmup);
    if (o->decay_steps)
        printf(", reaching 0 at step %d", o->decay_steps);
    if (o->clip > 0)
        printf(", grad clip %g", o->clip);
    cli_engine_describe(&t->eng, desc, sizeof desc);
    printf(", backend %s\n", desc);
    int micro = train_micro(o);
    if (micro < o->batch || t->comm->size > 1)
        printf("micro-batches: %d of %d %s%s a step, gradients summed in a fixed tree, on "
               "%d rank%s (%s)%s\n", o->batch / micro, micro,
               o->stream ? "window" : "document", micro == 1 ? "" : "s", t->comm->size,
               t->comm->size == 1 ? "" : "s", t->comm->ops->name,
               t->comm->size == 1 ? ""
               : o->clip > 0      ? ", the whole Adam on every rank (--grad-clip)"
                                  : ", Adam sharded over the ranks");
    if (o->resume)
        printf("resumed: %s at step %ld\n", o->resume, t->m->step);
    fflush(stdout);
}

/* The run's figures, defined as mgpt-bench defines them (docs/mgpt.1, FIGURES), and the
 * definitions once beneath them: tok/s counts the targets that carry a loss, GFLOP/s the
 * work the engine does, padding included, so the two differ on short documents. */
void train_print_speed(long steps, double seconds, double tokens, double flops_per_step)
{
    if (steps <= 0 || seconds <= 0)
        return;
    char total[32], step[32], tps[32], gflops[32], flops[48];
    tool_fmt_seconds(total, sizeof total, seconds, NULL);
    tool_fmt_seconds(step, sizeof step, seconds / (double)steps, "/step");
    tool_fmt_rate(tps, sizeof tps, tokens / seconds);
    tool_fmt_sig3(gflops, sizeof gflops, flops_per_step * (double)steps / seconds * 1e-9);
    grouped((size_t)(flops_per_step + 0.5), flops, sizeof flops);
    printf("trained %ld step%s in %s: %s, %s tok/s, %s GFLOP/s\n", steps, steps == 1 ? "" : "s",
           total, step, tps, gflops);
    printf("  (a step: batch fill, forward, backward, Adam = %s FLOPs, padded positions "
           "included; tok/s: unmasked targets; GFLOP/s: FLOPs of a step / step time)\n",
           flops);
}

void train_print_samples(trainer *t)
{
    train_opts *o = t->o;
    if (o->num_samples == 0)
        return;
    /* sample from a one-document model: same numbers whatever the batch size */
    mgpt_model *m = t->m, *one = NULL;
    if (m->B != 1) {
        char err[512];
        one = mgpt_model_create_for(&m->cfg, 1, m->cfg.block_size, MGPT_MODEL_INFER,
                                    &t->eng.compute, err, sizeof err);
        if (one) {
            mgpt_model_copy_params(one, m);
            m = one;
        }
    }
    mgpt_sample_opts so;
    mgpt_sample_defaults(&so, m);
    so.temperature = (float)o->temperature;
    mgpt_rng r;
    size_t cap = (size_t)m->T * mgpt_vocab_max_token_len(&t->vocab) + 1;
    char *buf = malloc(cap);
    if (!buf) {
        mgpt_model_free(one);
        return;
    }
    printf("--- %d sample%s (temperature %g, seed %llu) ---\n", o->num_samples,
           o->num_samples == 1 ? "" : "s", o->temperature, (unsigned long long)o->seed);
    int w = o->num_samples >= 100 ? (o->num_samples >= 1000 ? 7 : 3) : 2;
    for (int i = 0; i < o->num_samples; i++) {
        mgpt_rng_seed_sample(&r, o->seed, (uint64_t)i);   /* as mgpt sample draws sample i */
        mgpt_sample(m, &t->vocab, &r, &so, buf, cap, NULL, NULL);
        printf("sample %*d: %s\n", w, i + 1, buf);
        run_archive_sample(t->archive, buf);
    }
    free(buf);
    mgpt_model_free(one);
}
