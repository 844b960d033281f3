/* The Open MPI collectives (comm.h), built with --with-mpi.
 *
 * The gradient exchange, in a fixed order: the parameters are cut into size chunks (each
 * starting on a cache line); rank q gathers chunk q of every tree node of every rank
 * (point to point, each node's owner known to all from comm_share and the tree) and sums
 * them in the tree (mgpt_tree_reduce). Sharded, rank q then runs Adam on chunk q alone
 * and every chunk's parameters are gathered to every rank (MPI_Allgatherv, which moves
 * bytes and adds nothing); unsharded (--grad-clip), the gradient chunks are gathered
 * instead and every rank runs the whole Adam. Each float crosses the network twice, as in
 * a ring all-reduce: about 2 (size - 1) / size x 4 bytes per parameter and rank, plus one
 * chunk per extra node when a rank holds more than one. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mpi.h>
#include "config.h"
#include "cli.h"
#include "comm.h"

static const char C[] = "train";

typedef struct mpi_impl {
    int k, n_global;            /* micro-batches; tree nodes over all ranks */
    int shard;                  /* Adam on our chunk only (comm.h) */
    mgpt_tree_node *global;     /* [n_global] every rank's nodes, in order (sum: our chunk) */
    int *owner;                 /* [n_global] the rank that sums each */
    int *chunk_count, *chunk_off; /* [size] the parameter chunks (floats) */
    int *loss_count, *loss_off; /* [size] each rank's micro-batches */
    float *recv;                /* [n_global x the largest chunk] */
    MPI_Request *req;
    int n_req;
} mpi_impl;

int comm_mpi_launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") != NULL || getenv("PMIX_RANK") != NULL;
}

static void free_impl(mpi_impl *p)
{
    if (!p)
        return;
    free(p->global);
    free(p->owner);
    free(p->chunk_count);
    free(p->chunk_off);
    free(p->loss_count);
    free(p->loss_off);
    free(p->recv);
    free(p->req);
    free(p);
}

static int agree(comm *c, int status, uint64_t digest)
{
    uint64_t mine[2] = {(uint64_t)status, digest};
    uint64_t *all = malloc((size_t)c->size * 2 * sizeof *all);
    if (!all) {
        tool_error(C, "out of memory");
        MPI_Abort(MPI_COMM_WORLD, CLI_FAIL);
    }
    MPI_Allgather(mine, 2, MPI_UINT64_T, all, 2, MPI_UINT64_T, MPI_COMM_WORLD);
    int worst = CLI_OK;
    for (int r = 0; r < c->size; r++) {
        int s = (int)all[2 * r];
        if (s != CLI_OK) {
            if (c->rank == 0 && r != 0)
                tool_error(C, "rank %d of %d failed (exit status %d, its message above); the "
                           "job ends", r, c->size, s);
            if (worst == CLI_OK || s > worst)
                worst = s;
        }
    }
    if (worst == CLI_OK)
        for (int r = 1; r < c->size; r++)
            if (all[2 * r + 1] != all[1]) {
                if (c->rank == 0)
                    tool_error(C, "rank %d of %d has other data or options than rank 0 "
                               "(digest %016llx, rank 0: %016llx); every rank must be given "
                               "the same command line and the same data", r, c->size,
                               (unsigned long long)all[2 * r + 1],
                               (unsigned long long)all[1]);
                worst = CLI_USAGE;
            }
    free(all);
    return worst;
}

/* Where chunk q of size starts in n floats (q = size: n): on a 16-float (64-byte) line. */
static size_t chunk_start(size_t n, int size, int q)
{
    if (q >= size)
        return n;
    return (size_t)((unsigned long long)q * n / (unsigned)size) & ~(size_t)15;
}

static int plan(comm *c, mgpt_microbatch *mb, const mgpt_model *m, int k, int shard)
{
    char err[256];
    if (c->size > k) {
        if (c->rank == 0)
            tool_error(C, "mpirun -np %d: more ranks than the %d micro-batch%s of a step "
                       "(--batch-size / --micro-batch); give at most %d rank%s or a smaller "
                       "--micro-batch", c->size, k, k == 1 ? "" : "es", k, k == 1 ? "" : "s");
        return CLI_USAGE;
    }
    if (m->num_floats > INT_MAX) {
        if (c->rank == 0)
            tool_error(C, "mpirun: the model's %zu parameters exceed the %d floats one MPI "
                       "message can carry", m->num_floats, INT_MAX);
        return CLI_USAGE;
    }
    int lo, hi;
    comm_share(k, c->size, c->rank, &lo, &hi);
    if (mgpt_microbatch_plan(mb, m, k, lo, hi, err, sizeof err) != 0) {
        tool_error(C, "rank %d: %s", c->rank, err);
        return CLI_FAIL;
    }
    mpi_impl *p = calloc(1, sizeof *p);
    int cap = mgpt_tree_cover_cap(k);
    if (!p)
        goto oom;
    c->impl = p;
    p->k = k;
    p->shard = shard;
    p->global = malloc((size_t)c->size * (size_t)cap * sizeof *p->global);
    p->owner = malloc((size_t)c->size * (size_t)cap * sizeof *p->owner);
    p->chunk_count = malloc((size_t)c->size * sizeof(int));
    p->chunk_off = malloc((size_t)c->size * sizeof(int));
    p->loss_count = malloc((size_t)c->size * sizeof(int));
    p->loss_off = malloc((size_t)c->size * sizeof(int));
    if (!p->global || !p->owner || !p->chunk_count || !p->chunk_off || !p->loss_count ||
        !p->loss_off)
        goto oom;
    int biggest = 0;
    for (int q = 0; q < c->size; q++) {
        int qlo, qhi;
        comm_share(k, c->size, q, &qlo, &qhi);
        p->loss_off[q] = qlo;
        p->loss_count[q] = qhi - qlo;
        int n = mgpt_tree_cover(k, qlo, qhi, p->global + p->n_global, cap);
        for (int i = 0; i < n; i++)
            p->owner[p->n_global + i] = q;
        p->n_global += n;
        size_t a = chunk_start(mb->floats, c->size, q);
        size_t b = chunk_start(mb->floats, c->size, q + 1);
        p->chunk_off[q] = (int)a;
        p->chunk_count[q] = (int)(b - a);
        if ((int)(b - a) > biggest)
            biggest = (int)(b - a);
    }
    p->recv = malloc((size_t)p->n_global * (size_t)biggest * sizeof *p->recv);
    p->req = malloc(((size_t)p->n_global * (size_t)c->size + (size_t)p->n_global) *
                    sizeof *p->req);
    if (!p->recv || !p->req)
        goto oom;
    /* touched now, so that the first step does not pay the page faults */
    memset(p->recv, 0, (size_t)p->n_global * (size_t)biggest * sizeof *p->recv);
    for (int g = 0; g < p->n_global; g++)
        p->global[g].sum = p->recv + (size_t)g * (size_t)biggest;
    return CLI_OK;
oom:
    tool_error(C, "rank %d: out of memory for the gradient exchange buffers", c->rank);
    return CLI_FAIL;
}

static void reduce(comm *c, mgpt_microbatch *mb, mgpt_model *m)
{
    mpi_impl *p = c->impl;
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, mb->loss_sum, p->loss_count,
                   p->loss_off, MPI_DOUBLE, MPI_COMM_WORLD);
    /* chunk q of every node to rank q; node g's tag is g */
    int n = 0, mine = 0;
    for (int g = 0; g < p->n_global; g++) {
        MPI_Irecv(p->global[g].sum, p->chunk_count[c->rank], MPI_FLOAT, p->owner[g], g,
                  MPI_COMM_WORLD, &p->req[n++]);
        if (p->owner[g] != c->rank)
            continue;
        const float *sum = mb->nodes[mine++].sum;
        for (int q = 0; q < c->size; q++)
            MPI_Isend(sum + p->chunk_off[q], p->chunk_count[q], MPI_FLOAT, q, g,
                      MPI_COMM_WORLD, &p->req[n++]);
    }
    MPI_Waitall(n, p->req, MPI_STATUSES_IGNORE);
    const float *chunk = mgpt_tree_reduce(0, p->k, p->global, p->n_global,
                                          (size_t)p->chunk_count[c->rank]);
    memcpy(m->grad_mem + p->chunk_off[c->rank], chunk,
           (size_t)p->chunk_count[c->rank] * sizeof *chunk);
    if (!p->shard)
        MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, m->grad_mem, p->chunk_count,
                       p->chunk_off, MPI_FLOAT, MPI_COMM_WORLD);
}

static double update(comm *c, mgpt_model *m, const mgpt_optim *o)
{
    mpi_impl *p = c->impl;
    if (!p->shard) {
        mgpt_adam_step(m, o);
        return 0.0;
    }
    size_t lo = (size_t)p->chunk_off[c->rank];
    mgpt_adam_step_range(m, o, 1.0f, lo, lo + (size_t)p->chunk_count[c->rank]);
    double t0 = MPI_Wtime();
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, m->param_mem, p->chunk_count,
                   p->chunk_off, MPI_FLOAT, MPI_COMM_WORLD);
    return MPI_Wtime() - t0;
}

static void gather_state(comm *c, mgpt_model *m)
{
    mpi_impl *p = c->impl;
    if (!p->shard)
        return;
    float *moment[2] = {m->m_mem, m->v_mem};
    for (int i = 0; i < 2; i++)
        if (c->rank == 0)
            MPI_Gatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, moment[i], p->chunk_count,
                        p->chunk_off, MPI_FLOAT, 0, MPI_COMM_WORLD);
        else
            MPI_Gatherv(moment[i] + p->chunk_off[c->rank], p->chunk_count[c->rank], MPI_FLOAT,
                        NULL, NULL, NULL, MPI_FLOAT, 0, MPI_COMM_WORLD);
}

static int any(comm *c, int flag)
{
    (void)c;
    int out = 0;
    MPI_Allreduce(&flag, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return out;
}

static void abort_job(comm *c, int status)
{
    if (c->size > 1) {
        tool_error(C, "rank %d of %d failed alone; ending the job (exit status %d)", c->rank,
                   c->size, status);
        MPI_Abort(MPI_COMM_WORLD, status);
    }
}

static void close_comm(comm *c)
{
    free_impl(c->impl);
    c->impl = NULL;
    MPI_Finalize();
}

const comm_ops comm_mpi_ops = {"Open MPI", agree, plan, reduce, update, gather_state, any,
                               abort_job, close_comm};

int comm_mpi_open(comm *c, const char *tool)
{
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS) {
        tool_error(tool, "MPI_Init failed: mpirun started this process but MPI could not "
                   "be initialised");
        return CLI_FAIL;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    c->ops = &comm_mpi_ops;
    return CLI_OK;
}
