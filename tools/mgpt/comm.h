/* The collectives mgpt train calls, behind one small interface: a single-process
 * implementation (comm_single.c) and, when built with MPI, an Open MPI one (comm_mpi.c),
 * chosen at run time: MPI when the program was started by mpirun, else single. The engine
 * (core/) knows nothing of it.
 *
 * Data parallelism: a step's k micro-batches are shared out in contiguous ranges, rank r
 * computing [r k / size, (r+1) k / size). Each rank sums the tree nodes inside its range
 * (model/microbatch.h); the step's gradient is the tree's root sum over everyone's nodes,
 * combined in the fixed tree and never by MPI_SUM, so the gradient, the Adam step and the
 * checkpoint are bitwise the same on any number of ranks.
 *
 * Sharded Adam: the parameters are cut into size chunks; rank q ends the exchange with
 * chunk q of the step's gradient, runs Adam on that chunk alone, and the updated
 * parameters of every chunk go to every rank. The Adam moments outside a rank's chunk are
 * stale until gather_state brings them to rank 0 for a checkpoint. */
#ifndef MGPT_COMM_H
#define MGPT_COMM_H
#include <stdint.h>
#include "model/microbatch.h"
#include "model/optimizer.h"

typedef struct comm comm;

typedef struct comm_ops {
    const char *name;
    /* The worst status of all ranks (each rank's own, and CLI_USAGE on every rank if the
     * digests differ); rank 0 says which rank failed or differs. */
    int (*agree)(comm *c, int status, uint64_t digest);
    /* This rank's share of k micro-batches planned on model m (mb), and the exchange's
     * buffers, touched. shard: 1 for sharded Adam, 0 for the whole gradient and the whole
     * Adam on every rank (--grad-clip needs the global norm). CLI_OK, or CLI_USAGE /
     * CLI_FAIL with the message printed. */
    int (*plan)(comm *c, mgpt_microbatch *mb, const mgpt_model *m, int k, int shard);
    /* After mgpt_microbatch_run: every micro-batch's loss_sum on every rank, and the tree's
     * root sum in m's gradients (sharded: in this rank's chunk of them). */
    void (*reduce)(comm *c, mgpt_microbatch *mb, mgpt_model *m);
    /* The Adam step from what reduce left (sharded: on this rank's chunk, then every
     * chunk's parameters to every rank); advances m->step. The seconds spent exchanging. */
    double (*update)(comm *c, mgpt_model *m, const mgpt_optim *o);
    /* Rank 0's m->m_mem and v_mem made whole (each rank's chunk of them), on every rank
     * before rank 0 writes a checkpoint; nothing unless sharded. */
    void (*gather_state)(comm *c, mgpt_model *m);
    /* 1 on every rank if flag is set on any (an interrupt seen by one rank). */
    int (*any)(comm *c, int flag);
    /* A rank that fails alone mid-run ends the job with status (after its message). */
    void (*abort)(comm *c, int status);
    void (*close)(comm *c);
} comm_ops;

struct comm {
    const comm_ops *ops;
    int rank, size;
    void *impl;          /* the implementation's buffers */
};

/* Opens the MPI implementation under mpirun (when built with it), else the single one.
 * CLI_OK, or CLI_FAIL with the message printed. */
int comm_open(comm *c, const char *tool);
/* The range of micro-batches of rank r of size when a step has k. */
void comm_share(int k, int size, int r, int *lo, int *hi);

extern const comm_ops comm_single_ops;
#ifdef HAVE_MPI
extern const comm_ops comm_mpi_ops;
/* 1 if this process was started by mpirun (its environment says so). */
int comm_mpi_launched(void);
/* MPI_Init and this rank's place; CLI_OK or CLI_FAIL. */
int comm_mpi_open(comm *c, const char *tool);
#endif
#endif
