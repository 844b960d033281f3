/* The reports of mgpt info and mgpt backends to rank 0 (rank_report.h), built with MPI:
 * the lengths by MPI_Gather, then the bytes by MPI_Gatherv. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <mpi.h>
#include "config.h"
#include "rank_report.h"

void rank_texts_free(rank_text *all, int n)
{
    if (!all)
        return;
    for (int r = 0; r < n; r++) {
        free(all[r].out);
        free(all[r].err);
    }
    free(all);
}

int rank_gather(const comm *c, const rank_text *mine, rank_text **all)
{
    *all = NULL;
    /* MPI counts and displacements are ints: a report is cut to its share of INT_MAX
     * (never reached by a listing of a few KiB) */
    size_t cap = (size_t)INT_MAX / (size_t)c->size;
    size_t out_len = mine->out_len < cap ? mine->out_len : cap;
    size_t err_len = mine->err_len < cap - out_len ? mine->err_len : cap - out_len;
    int head[3] = {mine->status, (int)out_len, (int)err_len};
    char *send = malloc(out_len + err_len + 1);
    int *heads = c->rank == 0 ? malloc((size_t)c->size * sizeof head) : NULL;
    int *count = c->rank == 0 ? malloc((size_t)c->size * sizeof(int)) : NULL;
    int *off = c->rank == 0 ? malloc((size_t)c->size * sizeof(int)) : NULL;
    int ok = send && (c->rank != 0 || (heads && count && off));
    /* every rank takes part in both collectives, or the job would hang: one that is out of
     * memory sends nothing */
    if (!ok)
        head[1] = head[2] = 0;
    else {
        memcpy(send, mine->out, out_len);
        memcpy(send + out_len, mine->err, err_len);
    }
    MPI_Gather(head, 3, MPI_INT, heads, 3, MPI_INT, 0, MPI_COMM_WORLD);
    char *bytes = NULL;
    if (c->rank == 0 && ok) {
        int total = 0;
        for (int r = 0; r < c->size; r++) {
            count[r] = heads[3 * r + 1] + heads[3 * r + 2];
            off[r] = total;
            total += count[r];
        }
        if (!(bytes = malloc((size_t)total + 1)))
            ok = 0;
    }
    if (c->rank == 0 && !ok && count) /* receive nothing: the texts are lost, not the job */
        memset(count, 0, (size_t)c->size * sizeof(int));
    MPI_Gatherv(send, head[1] + head[2], MPI_CHAR, bytes, count, off, MPI_CHAR, 0,
                MPI_COMM_WORLD);
    int status = CLI_OK;
    if (c->rank == 0) {
        rank_text *t = ok ? calloc((size_t)c->size, sizeof *t) : NULL;
        for (int r = 0; t && r < c->size; r++) {
            t[r].status = heads[3 * r];
            t[r].out_len = (size_t)heads[3 * r + 1];
            t[r].err_len = (size_t)heads[3 * r + 2];
            t[r].out = malloc(t[r].out_len + 1);
            t[r].err = malloc(t[r].err_len + 1);
            if (!t[r].out || !t[r].err) {
                rank_texts_free(t, c->size);
                t = NULL;
                break;
            }
            memcpy(t[r].out, bytes + off[r], t[r].out_len);
            memcpy(t[r].err, bytes + off[r] + t[r].out_len, t[r].err_len);
            t[r].out[t[r].out_len] = t[r].err[t[r].err_len] = '\0';
        }
        if (!t) {
            tool_error(NULL, "rank 0: out of memory for the %d ranks' reports", c->size);
            status = CLI_FAIL;
        }
        *all = t;
    }
    free(bytes);
    free(off);
    free(count);
    free(heads);
    free(send);
    return status;
}
