/* The single-process collectives (comm.h): this process computes every micro-batch and
 * runs the whole Adam step; nothing is sharded. */
#include "cli.h"
#include "comm.h"

static int agree(comm *c, int status, uint64_t digest)
{
    (void)c;
    (void)digest;
    return status;
}

static int plan(comm *c, mgpt_microbatch *mb, const mgpt_model *m, int k, int shard)
{
    (void)c;
    (void)shard;
    char err[256];
    if (mgpt_microbatch_plan(mb, m, k, 0, k, err, sizeof err) != 0) {
        tool_error("train", "%s", err);
        return CLI_FAIL;
    }
    return CLI_OK;
}

static void reduce(comm *c, mgpt_microbatch *mb, mgpt_model *m)
{
    (void)c;
    mgpt_microbatch_finish_local(mb, m);
}

static double update(comm *c, mgpt_model *m, const mgpt_optim *o)
{
    (void)c;
    mgpt_adam_step(m, o);
    return 0.0;
}

static void gather_state(comm *c, mgpt_model *m)
{
    (void)c;
    (void)m;
}

static int any(comm *c, int flag)
{
    (void)c;
    return flag;
}

static void abort_job(comm *c, int status)
{
    (void)c;
    (void)status;
}

static void close_comm(comm *c)
{
    (void)c;
}

const comm_ops comm_single_ops = {"single process", agree, plan, reduce, update,
                                  gather_state, any, abort_job, close_comm};
