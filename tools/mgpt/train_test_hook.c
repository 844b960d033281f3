/* The test hook of train_test_hook.h. */
#include <signal.h>
#include <stdlib.h>
#include "train_test_hook.h"

void train_test_die(const trainer *t, long step)
{
    const char *at = getenv("MGPT_TEST_DIE_AT_STEP");
    if (!at || atol(at) != step)
        return;
    const char *rank = getenv("MGPT_TEST_DIE_RANK");
    if ((rank ? atoi(rank) : 0) == t->comm->rank)
        raise(SIGKILL);
}
