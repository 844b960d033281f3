/* A test hook of mgpt train, for tests/test_train_mpi.cc: a rank killed mid-run. */
#ifndef MGPT_TRAIN_TEST_HOOK_H
#define MGPT_TRAIN_TEST_HOOK_H
#include "train.h"

/* Test hook, not a user option: with MGPT_TEST_DIE_AT_STEP=N in the environment, the rank
 * MGPT_TEST_DIE_RANK (default 0) raises SIGKILL once step N is done (after any checkpoint
 * of that step), as a rank killed by the OOM killer or a scheduler would die: no message,
 * no clean-up. Called after every step with the number of steps taken. */
void train_test_die(const trainer *t, long step);
#endif
