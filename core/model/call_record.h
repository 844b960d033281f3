/* Recording kernels: a kernel table, generated from the kernel list, whose kernels compute
 * nothing and report each call's slot and sizes to a callback. The engine's own walks run
 * on it tell which calls a node or a whole step makes (op_cost.c's node counts, the
 * roofline's kernel set), so no list of "which op calls which slot" is kept beside
 * graph.c. */
#ifndef MGPT_CALL_RECORD_H
#define MGPT_CALL_RECORD_H
#include "engine/compute.h"
#include "model/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*mgpt_call_fn)(void *arg, int slot, const mgpt_call_sizes *s);

typedef struct mgpt_call_recorder {
    mgpt_call_fn on_call;
    void *arg;
    mgpt_ctx ctx;          /* {this recorder, thread 0}: the recording kernels' context */
} mgpt_call_recorder;

/* Every slot reports its call (slot, sizes) to the recorder of its context, and returns 0
 * where it returns a value. */
extern const mgpt_kernels mgpt_recording_kernels;
/* Every slot does nothing at all (and returns 0). */
extern const mgpt_kernels mgpt_skipping_kernels;

/* A compute over mgpt_recording_kernels (or over `k`, a copy of it with slots replaced,
 * if not NULL) whose calls go to on_call(arg, ...). The recorder must outlive it. */
mgpt_compute mgpt_call_recorder_compute(mgpt_call_recorder *r, const mgpt_kernels *k,
                                        mgpt_call_fn on_call, void *arg);
#ifdef __cplusplus
}
#endif
#endif
