/* What the three programs (mgpt, mgpt-bench, mgpt-roofline) share: messages that start
 * with the program's name, strict parsing of option values, comma-separated lists of
 * names, the options both measuring programs take, and what to say about a word
 * getopt_long rejected. Each program words its own messages about a bad value; the parsers
 * only classify, so that the wording (which the tests and the man pages fix) stays the
 * program's. */
#ifndef MGPT_TOOLS_H
#define MGPT_TOOLS_H
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* --- message.c: "PROGRAM[ CMD]: [warning: ]text" on stderr ---------------------------- */

/* Called by main() before any message. flush_stdout: write out what stdout holds before
 * each message, so that the two streams keep their order on a terminal. */
void tool_set_program(const char *name, int flush_stdout);
const char *tool_program(void);
/* quiet 1: tool_warn and tool_note say nothing (errors still do). The ranks of an mpirun
 * job other than rank 0 run so: each would repeat rank 0's warnings. */
void tool_set_quiet(int quiet);
int tool_quiet(void);
/* cmd NULL: the program speaks for itself ("mgpt: ..."); kind is "" or "warning: ". */
void tool_vmessage(const char *cmd, const char *kind, const char *fmt, va_list ap);
void tool_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tool_warn(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "PROGRAM CMD: note: ...": something the user should know, not a problem */
void tool_note(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The GNU hint after a usage error: "Try 'PROGRAM[ CMD] --help' for more information." */
void tool_try_help(const char *cmd);

/* --- parse_number.c: option values, the whole text or nothing ------------------------- */

/* Why a value was refused; the caller says it in its own words. */
typedef enum tool_number_status {
    TOOL_NUMBER_OK = 0,
    TOOL_NUMBER_SYNTAX,      /* not a number, or text after it */
    TOOL_NUMBER_NOT_FINITE,  /* inf or nan, or too large to be finite */
    TOOL_NUMBER_RANGE        /* a number outside the accepted range */
} tool_number_status;

/* A decimal integer in min..max (strtol: leading blanks and a sign allowed). */
tool_number_status tool_parse_int(const char *arg, long min, long max, int *out);
/* A decimal integer in 0..UINT64_MAX: leading spaces allowed, no sign (strtoull would
 * take "-1" as UINT64_MAX). */
tool_number_status tool_parse_u64(const char *arg, uint64_t *out);
/* A finite number in lo..hi; lo_open / hi_open exclude that end. */
tool_number_status tool_parse_double(const char *arg, double lo, double hi, int lo_open,
                                     int hi_open, double *out);
/* Bytes in min..max: a number with an optional binary suffix k, M or G (either case),
 * optionally followed by B or iB: "512M", "2GiB", "1048576". */
tool_number_status tool_parse_size(const char *arg, double min, double max, size_t *out);

/* --- comma_list.c: NAME[,NAME...] option values ---------------------------------------- */

typedef enum tool_entry_status {
    TOOL_ENTRY_OK = 0,
    TOOL_ENTRY_EMPTY,     /* "", "a,,b", "a," */
    TOOL_ENTRY_TOO_LONG   /* does not fit the caller's buffer */
} tool_entry_status;

/* Copies the entry at *p (up to the next comma) into name and moves *p to the next entry,
 * or to NULL after the last one. On an error *p stays at the bad entry, for the message.
 * Loop while *p is not NULL, starting at the option's value. */
tool_entry_status tool_list_next(const char **p, char *name, size_t size);

/* --- name_list.c: backends and configs named on the command line ---------------------- */

/* Names in the order given, each copied (owned by the list) and kept once. */
typedef struct tool_names {
    char **v;
    int n, cap;
} tool_names;

/* Appends a copy of name unless it is there already; -1 if out of memory. */
int tool_names_add(tool_names *l, const char *name);
void tool_names_free(tool_names *l);

/* --- the options mgpt-bench run and mgpt-roofline share -------------------------------- */

/* Both measure backends on model configs, and a user moving between them finds these
 * options spelled alike: -b/--backend, -a/--all-backends, -c/--config, -t/--threads,
 * --repeats, --min-time, --json, -q/--quiet and -h/--help. Each program parses the values
 * itself (its own ranges and words); its own long-only options take values from
 * TOOL_OPT_OWN on. */
enum { TOOL_OPT_REPEATS = 256, TOOL_OPT_MIN_TIME, TOOL_OPT_OWN };
#define TOOL_MEASURE_OPTIONS \
    {"backend", required_argument, NULL, 'b'}, \
    {"all-backends", no_argument, NULL, 'a'}, \
    {"config", required_argument, NULL, 'c'}, \
    {"threads", required_argument, NULL, 't'}, \
    {"repeats", required_argument, NULL, TOOL_OPT_REPEATS}, \
    {"min-time", required_argument, NULL, TOOL_OPT_MIN_TIME}, \
    {"json", required_argument, NULL, 'j'}, \
    {"quiet", no_argument, NULL, 'q'}, \
    {"help", no_argument, NULL, 'h'}

/* --- figure_format.c: measured figures, three significant digits --------------------- */

/* v to three significant digits without an exponent: "106", "10.6", "0.00487", "1230";
 * "-" if v is not finite. */
void tool_fmt_sig3(char *buf, size_t len, double v);
/* A time to three significant digits in s, ms, us or ns, then per (NULL or "/step"):
 * "4.87 us/step", "12.3 ms", "2.43 s". */
void tool_fmt_seconds(char *buf, size_t len, double seconds, const char *per);
/* A count or rate to three significant digits with k, M, G or T: "812", "1.29M". */
void tool_fmt_rate(char *buf, size_t len, double v);

/* --- bad_arguments.c: what getopt_long rejected, and stray operands -------------------- */

/* An option of the program that a command does not take: it goes before the command,
 * as "--name" followed by value ("=N", or "" for a flag). */
typedef struct tool_global_option {
    const char *name, *value;
} tool_global_option;

/* How an ambiguous abbreviation is reported: with the options it could be, or their count. */
enum { TOOL_AMBIGUOUS_COUNT, TOOL_AMBIGUOUS_LIST };

/* Says what getopt_long (run with opterr = 0 and a leading ':' in its short options)
 * rejected when it returned c ('?' or ':'), then the --help hint. globals (ended by a NULL
 * name, or NULL) turn "unknown option" into where the option goes when a command has it. */
void tool_bad_option(const char *cmd, char **argv, const struct option *longopts, int c,
                     int ambiguous, const tool_global_option *globals);
/* 0 when no operand follows the options (argv[first] on); else -1 after saying so and the
 * --help hint. */
int tool_no_operands(const char *cmd, int argc, char **argv, int first);
#endif
