/* Sampled bytes shown on a terminal: a model can draw any byte of its vocabulary, and raw
 * control bytes (ESC, NUL, ...) or broken UTF-8 would drive the terminal rather than show.
 * Bytes that are not printable text are written as \xHH: control bytes other than newline
 * and tab, DEL, the C1 controls (U+0080..U+009F), and bytes that are not part of valid UTF-8.
 * Backslashes are left as they are: this is for display, not a reversible encoding. */
#ifndef MGPT_TEXT_ESCAPE_H
#define MGPT_TEXT_ESCAPE_H
#include <stdio.h>

typedef struct text_out {
    FILE *f;
    int escape;              /* 0: bytes pass through unchanged */
    unsigned char pend[4];   /* an incomplete UTF-8 sequence */
    int n_pend, need;        /* bytes held, bytes the sequence needs in all */
} text_out;

void text_out_init(text_out *t, FILE *f, int escape);
/* One byte; a multi-byte UTF-8 character is written once it is complete and valid. */
void text_out_put(text_out *t, unsigned char b);
/* The end of a document: an incomplete sequence is written escaped. */
void text_out_end(text_out *t);
#endif
