/* The training display. On a terminal: a bar redrawn in place (\r) at most ten times a
 * second, with lasting lines for the first step, each validation and the last step.
 * Otherwise (a pipe, a file): plain lines for the first step, every log_every steps, each
 * validation and the last step, so that a log stays short and diffable.
 *
 * A line: step S/N | loss L | val V | lr R | X ms/step | Y tok/s
 * where loss is the mean training loss of the steps since the previous line, val appears
 * at the steps that ran a validation, and the timing columns come last (everything before
 * them is deterministic for a given seed). ms/step has three significant digits; tok/s
 * counts the unmasked targets, as the summary does (train_report.c). */
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The smallest of 1, 2, 5, 10, 20, 50, ... that gives at most 40 lines. */
static int auto_log_every(long steps)
{
    long target = (steps + 39) / 40;
    for (long base = 1;; base *= 10)
        for (int i = 0; i < 3; i++) {
            static const int mult[3] = {1, 2, 5};
            long v = base * mult[i];
            if (v >= target || v > 1000000000L / 10)
                return (int)v;
        }
}

void cli_progress_init(cli_progress *p, FILE *out, long first, long last, int log_every,
                       int has_val)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->tty = isatty(fileno(out));
    p->first = first;
    p->last = last;
    p->log_every = log_every > 0 ? log_every : auto_log_every(last - first + 1);
    p->has_val = has_val;
    char buf[32];
    p->step_width = snprintf(buf, sizeof buf, "%ld", last);
}

static int term_columns(FILE *out)
{
    struct winsize ws;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

static void clear_bar(cli_progress *p)
{
    if (p->bar_shown) {
        fputs("\r\033[K", p->out);
        p->bar_shown = 0;
    }
}

static void timing(const cli_progress *p, char *buf, size_t len)
{
    double ms = p->loss_n ? 1e3 * p->seconds / p->loss_n : 0.0;
    double tps = p->seconds > 0 ? p->tokens / p->seconds : 0.0;
    char m[32];
    tool_fmt_sig3(m, sizeof m, ms); /* three digits: 0.00487, not 0.005 */
    snprintf(buf, len, "%s ms/step | %.0f tok/s", m, tps);
}

static void print_line(cli_progress *p, long step, double val, double lr)
{
    char t[96];
    timing(p, t, sizeof t);
    clear_bar(p);
    fprintf(p->out, "step %*ld/%ld | loss %.4f", p->step_width, step, p->last,
            p->loss_n ? p->loss_sum / p->loss_n : 0.0);
    if (val >= 0)
        fprintf(p->out, " | val %.4f", val);
    fprintf(p->out, " | lr %.3e | %s\n", lr, t);
    fflush(p->out);
    p->loss_sum = 0;
    p->loss_n = 0;
    p->tokens = p->seconds = 0;
}

static void draw_bar(cli_progress *p, long step, double lr)
{
    long n = p->last - p->first + 1, done = step - p->first + 1;
    double ms = p->loss_n ? 1e3 * p->seconds / p->loss_n : 0.0;
    double tps = p->seconds > 0 ? p->tokens / p->seconds : 0.0;
    long eta = p->run_seconds > 0 ? (long)(p->run_seconds / (double)done * (double)(n - done) + 0.5) : 0;
    char head[64], text[2][160], m[32];
    tool_fmt_sig3(m, sizeof m, ms);
    snprintf(head, sizeof head, "step %*ld/%ld ", p->step_width, step, p->last);
    /* the full text, and a shorter one for a narrow terminal */
    snprintf(text[0], sizeof text[0], " %3.0f%% loss %.4f lr %.2e %s ms/step %.0f tok/s eta %ld:%02ld",
             100.0 * (double)done / (double)n, p->loss_n ? p->loss_sum / p->loss_n : 0.0, lr, m,
             tps, eta / 60, eta % 60);
    snprintf(text[1], sizeof text[1], " %3.0f%% loss %.4f eta %ld:%02ld",
             100.0 * (double)done / (double)n, p->loss_n ? p->loss_sum / p->loss_n : 0.0,
             eta / 60, eta % 60);
    int cols = term_columns(p->out) - 1;
    const char *t = text[0];
    int room = cols - (int)strlen(head) - (int)strlen(t) - 2;
    if (room < 10) {
        t = text[1];
        room = cols - (int)strlen(head) - (int)strlen(t) - 2;
    }
    int width = room > 30 ? 30 : room;
    fprintf(p->out, "\r\033[K%s", head);
    if (width >= 5) {
        int filled = (int)((double)width * (double)done / (double)n);
        fputc('[', p->out);
        for (int i = 0; i < width; i++)
            fputc(i < filled ? '#' : '.', p->out);
        fputc(']', p->out);
    }
    fputs(t, p->out);
    fflush(p->out);
    p->bar_shown = 1;
}

void cli_progress_step(cli_progress *p, long step, double loss, double val, double lr,
                       double tokens, double seconds)
{
    p->loss_sum += loss;
    p->loss_n++;
    p->tokens += tokens;
    p->seconds += seconds;
    p->run_tokens += tokens;
    p->run_seconds += seconds;
    int lasting = step == p->first || step == p->last || val >= 0;
    if (!p->tty)
        lasting |= step % p->log_every == 0;
    if (lasting) {
        print_line(p, step, val, lr);
        return;
    }
    if (p->tty) {
        double now = cli_now();
        if (now - p->last_draw >= 0.1) {
            draw_bar(p, step, lr);
            p->last_draw = now;
        }
    }
}

void cli_progress_note(cli_progress *p, const char *fmt, ...)
{
    clear_bar(p);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(p->out, fmt, ap);
    va_end(ap);
    fputc('\n', p->out);
    fflush(p->out);
}

void cli_progress_flush(cli_progress *p, long step, double lr)
{
    if (p->loss_n > 0)
        print_line(p, step, -1, lr);
}

void cli_progress_end(cli_progress *p)
{
    clear_bar(p);
    fflush(p->out);
}
