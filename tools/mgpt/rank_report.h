/* mgpt info and mgpt backends under mpirun: every rank runs the command with its output
 * captured, then rank 0 prints each rank's, in rank order, under a heading that names the
 * rank, its host, its cores, what it is bound to and the backend it would use, so that n
 * ranks' reports do not interleave. Without mpirun the command runs as it always has. */
#ifndef MGPT_RANK_REPORT_H
#define MGPT_RANK_REPORT_H
#include "cli.h"
#include "comm.h"

/* What the command found that the heading shows: the backend a command would use, or why
 * none ("" when the command stopped before choosing). */
typedef struct rank_facts {
    char backend[512];
} rank_facts;

/* A command's body: what cmd_info and cmd_backends would be; f is NULL without mpirun. */
typedef int (*rank_command)(int argc, char **argv, const cli_global *g, rank_facts *f);

/* The backend a command would use, chosen as mgpt backends shows it (--backend, else
 * MGPT_BACKEND, else the best), into f: "avx512", or "none: why". */
void rank_backend(const mgpt_registry *reg, const cli_global *g, rank_facts *f);

/* Runs the command: as is without mpirun, else per rank as above. Its exit status (under
 * mpirun, on rank 0: the worst of all ranks). */
int rank_report_run(const char *cmd, rank_command run, int argc, char **argv,
                    const cli_global *g);

#ifdef HAVE_MPI
/* One rank's report: its exit status, then what it wrote to stdout and to stderr. */
typedef struct rank_text {
    int status;
    char *out, *err;
    size_t out_len, err_len;
} rank_text;

/* rank_gather_mpi.c: every rank's report to rank 0, which gets all (size of them,
 * malloc'ed; free with rank_texts_free) and returns CLI_OK; the others get NULL. CLI_FAIL
 * after the message when rank 0 is out of memory or a report exceeds an MPI count. */
int rank_gather(const comm *c, const rank_text *mine, rank_text **all);
void rank_texts_free(rank_text *all, int n);
#endif
#endif
