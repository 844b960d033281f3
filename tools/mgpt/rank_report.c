/* Running mgpt info and mgpt backends per rank (rank_report.h). A rank's output is
 * captured by pointing its stdout and stderr (the descriptors, so that every printf and
 * message is caught) at temporary files while the command runs. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include "platform/topology.h"
#include "rank_report.h"

#ifdef HAVE_MPI
/* A descriptor pointed at a temporary file, and the one it replaced. */
typedef struct capture {
    int fd, saved;
    FILE *f;
} capture;

static int capture_begin(capture *cap, int fd)
{
    fflush(fd == 1 ? stdout : stderr);
    cap->fd = fd;
    cap->f = tmpfile();
    cap->saved = cap->f ? dup(fd) : -1;
    if (cap->saved < 0 || dup2(fileno(cap->f), fd) < 0) {
        if (cap->saved >= 0)
            close(cap->saved);
        if (cap->f)
            fclose(cap->f);
        cap->f = NULL;
        return -1;
    }
    return 0;
}

/* Puts the descriptor back and returns what was written to it (malloc'ed, NUL-ended). */
static char *capture_end(capture *cap, size_t *len)
{
    *len = 0;
    if (!cap->f)
        return strdup("");
    fflush(cap->fd == 1 ? stdout : stderr);
    dup2(cap->saved, cap->fd);
    close(cap->saved);
    /* written through the descriptor, which shares its offset with cap->f's */
    long size = fseek(cap->f, 0, SEEK_END) == 0 ? ftell(cap->f) : -1;
    char *text = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (text) {
        rewind(cap->f);
        *len = fread(text, 1, (size_t)size, cap->f);
        text[*len] = '\0';
    }
    fclose(cap->f);
    return text ? text : strdup("");
}

/* "rank 1 of 2 (host)", then the rank's cores, binding and backend. */
static char *heading(const comm *c, const rank_facts *f, size_t *len)
{
    char host[256], err[1200], bound[1300], cores[64];
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "unknown host");
    host[sizeof host - 1] = '\0';
    mgpt_topology t;
    if (mgpt_topology_read(&t, err, sizeof err) == 0)
        snprintf(cores, sizeof cores, "%d", t.cores > 0 ? t.cores : t.pus);
    else
        snprintf(cores, sizeof cores, "unknown");
    if (mgpt_process_binding(bound, sizeof bound, err, sizeof err) != 0)
        snprintf(bound, sizeof bound, "unknown: %s", err);
    char *text = NULL;
    FILE *m = open_memstream(&text, len);
    if (!m)
        return NULL;
    fprintf(m, "rank %d of %d (%s)\n", c->rank, c->size, host);
    fprintf(m, "  %-17s %s (this rank may run on, as hwloc sees it)\n", "cores", cores);
    fprintf(m, "  %-17s %s\n", "bound to", bound);
    fprintf(m, "  %-17s %s\n", "backend", f->backend[0] ? f->backend : "not chosen");
    fclose(m);
    return text;
}

/* Rank 0 prints every rank's report in rank order: stdout's under its heading, then the
 * rank's messages on stderr under the same heading. The worst exit status. */
static int print_all(const rank_text *all, int n)
{
    int worst = CLI_OK;
    for (int r = 0; r < n; r++) {
        /* the heading is the first line of the rank's stdout */
        const char *out = all[r].out, *nl = strchr(out, '\n');
        fwrite(out, 1, all[r].out_len, stdout);
        if (all[r].err_len) {
            fflush(stdout);
            fprintf(stderr, "%.*s (its messages)\n", nl ? (int)(nl - out) : 0, out);
            fwrite(all[r].err, 1, all[r].err_len, stderr);
            fflush(stderr);
        }
        if (all[r].status > worst)
            worst = all[r].status;
    }
    return worst;
}
#endif

void rank_backend(const mgpt_registry *reg, const cli_global *g, rank_facts *f)
{
    const char *forced = g->backend && *g->backend ? g->backend : NULL;
    const mgpt_backend_entry *e;
    char why[400];
    if (mgpt_registry_select(reg, forced, &e, why, sizeof why) != 0)
        snprintf(f->backend, sizeof f->backend, "none: %s", why);
    else
        snprintf(f->backend, sizeof f->backend, "%s%s", e->name,
                 forced ? " (forced by --backend)" : e != mgpt_registry_best(reg) ?
                 " (forced by MGPT_BACKEND)" : "");
}

int rank_report_run(const char *cmd, rank_command run, int argc, char **argv,
                    const cli_global *g)
{
#ifdef HAVE_MPI
    if (!comm_mpi_launched())
        return run(argc, argv, g, NULL);
    comm c;
    int status = comm_open(&c, cmd);
    if (status != CLI_OK)
        return status;
    rank_facts f;
    memset(&f, 0, sizeof f);
    capture out, err;
    int captured = capture_begin(&out, 1) == 0;
    if (captured && capture_begin(&err, 2) != 0) {
        size_t ignored;
        free(capture_end(&out, &ignored));
        captured = 0;
    }
    if (!captured)
        tool_warn(cmd, "rank %d: cannot capture its output; it is printed as it comes",
                  c.rank);
    status = run(argc, argv, g, &f);
    size_t head_len = 0, body_len = 0, err_len = 0;
    char *head = heading(&c, &f, &head_len);
    char *body = captured ? capture_end(&out, &body_len) : strdup("");
    char *errs = captured ? capture_end(&err, &err_len) : strdup("");
    char *text = head && body ? malloc(head_len + body_len + 1) : NULL;
    /* a rank short of memory still takes part in the gather, with nothing to say */
    rank_text mine = {status, "", "", 0, 0};
    if (text && errs) {
        memcpy(text, head, head_len);
        memcpy(text + head_len, body, body_len + 1);
        mine = (rank_text){status, text, errs, head_len + body_len, err_len};
    }
    rank_text *all;
    int gathered = rank_gather(&c, &mine, &all);
    if (c.rank == 0 && all) {
        status = print_all(all, c.size);
        rank_texts_free(all, c.size);
    }
    if ((gathered != CLI_OK || !text || !errs) && status == CLI_OK)
        status = CLI_FAIL;
    free(head);
    free(body);
    free(errs);
    free(text);
    c.ops->close(&c);
    return status;
#else
    (void)cmd;
    return run(argc, argv, g, NULL);
#endif
}
