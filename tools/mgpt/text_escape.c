/* Escaping of sampled bytes that are not printable text (text_escape.h). */
#include "text_escape.h"

void text_out_init(text_out *t, FILE *f, int escape)
{
    t->f = f;
    t->escape = escape;
    t->n_pend = t->need = 0;
}

static void put_escaped(FILE *f, unsigned char b)
{
    fprintf(f, "\\x%02X", b);
}

/* Length of the UTF-8 sequence a lead byte starts; 0 if it cannot start one. */
static int seq_len(unsigned char b)
{
    return b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
}

/* Whether b may be the second byte after lead (the first continuation byte carries the
 * rules against overlong forms, surrogates and code points above U+10FFFF). */
static int second_ok(unsigned char lead, unsigned char b)
{
    unsigned char lo = 0x80, hi = 0xBF;
    if (lead == 0xE0)
        lo = 0xA0;
    else if (lead == 0xED)
        hi = 0x9F;
    else if (lead == 0xF0)
        lo = 0x90;
    else if (lead == 0xF4)
        hi = 0x8F;
    return b >= lo && b <= hi;
}

static void flush_escaped(text_out *t)
{
    for (int i = 0; i < t->n_pend; i++)
        put_escaped(t->f, t->pend[i]);
    t->n_pend = t->need = 0;
}

void text_out_put(text_out *t, unsigned char b)
{
    if (!t->escape) {
        fputc(b, t->f);
        return;
    }
    if (t->n_pend > 0) {
        int ok = t->n_pend == 1 ? second_ok(t->pend[0], b) : (b & 0xC0) == 0x80;
        if (!ok) {
            flush_escaped(t); /* then b starts afresh below */
        } else {
            t->pend[t->n_pend++] = b;
            if (t->n_pend < t->need)
                return;
            /* U+0080..U+009F are C1 controls, which some terminals obey */
            if (t->need == 2 && t->pend[0] == 0xC2 && t->pend[1] <= 0x9F) {
                flush_escaped(t);
                return;
            }
            fwrite(t->pend, 1, (size_t)t->n_pend, t->f);
            t->n_pend = t->need = 0;
            return;
        }
    }
    if (b < 0x80) {
        if ((b < 0x20 && b != '\n' && b != '\t') || b == 0x7F)
            put_escaped(t->f, b);
        else
            fputc(b, t->f);
        return;
    }
    int n = seq_len(b);
    if (n == 0) {
        put_escaped(t->f, b);
        return;
    }
    t->pend[0] = b;
    t->n_pend = 1;
    t->need = n;
}

void text_out_end(text_out *t)
{
    if (t->escape)
        flush_escaped(t);
}
