/* Running the module check helper: one child per module, a window of them at a time, each
 * read through a pipe until it ends or its time is up.
 *
 * A child is started with posix_spawn (glibc's is a vfork-style clone straight into exec:
 * safe in a multi-threaded program, unlike fork followed by dlopen). It gets a process group
 * of its own, so that a kill reaches anything its module started too; /dev/null as standard
 * input and output, so that a module cannot write into the program's output; and the
 * report pipe as file descriptor 3. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "engine/module_probe.h"

extern char **environ;

typedef struct {
    mgpt_probe_job *job;     /* NULL: a free place in the window */
    pid_t pid;
    int fd;                  /* the report pipe; -1 once it reached its end */
    long long deadline;      /* ms, CLOCK_MONOTONIC */
    char out[2048];          /* what the child reported */
    size_t used;
} child;

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int spawn_helper(const char *helper, const mgpt_probe_job *job, int timeout_ms,
                        int report_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, report_fd, 3);
    posix_spawnattr_init(&at);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    char ms[24];
    snprintf(ms, sizeof ms, "%d", timeout_ms);
    char *argv[] = {(char *)helper, (char *)job->path, (char *)job->name, ms, NULL};
    int rc = posix_spawn(pid, helper, &fa, &at, argv, environ);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

static void start(child *c, const char *helper, mgpt_probe_job *job, int timeout_ms)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        job->result = MGPT_PROBE_NOT_RUN;
        snprintf(job->reason, sizeof job->reason, "pipe: %s", strerror(errno));
        return;
    }
    int rc = spawn_helper(helper, job, timeout_ms, p[1], &c->pid);
    close(p[1]);
    if (rc != 0) {
        close(p[0]);
        job->result = MGPT_PROBE_NOT_RUN;
        snprintf(job->reason, sizeof job->reason, "cannot run %.300s: %s", helper, strerror(rc));
        return;
    }
    c->job = job;
    c->fd = p[0];
    c->deadline = now_ms() + timeout_ms;
}

/* The last line of the report that starts with `key` (its rest), or NULL. */
static const char *last_line(char *out, const char *key, char *buf, size_t len)
{
    const char *found = NULL;
    size_t kl = strlen(key);
    for (char *line = out; line && *line;) {
        char *nl = strchr(line, '\n');
        if (!nl)
            break; /* an unfinished line is not a report */
        if (strncmp(line, key, kl) == 0) {
            snprintf(buf, len, "%.*s", (int)(nl - line - kl), line + kl);
            found = buf;
        }
        line = nl + 1;
    }
    return found;
}

static void signal_text(int sig, char *buf, size_t len)
{
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev)
        snprintf(buf, len, "SIG%s, %s", abbrev, strsignal(sig));
    else
        snprintf(buf, len, "signal %d", sig);
}

/* The job's result from what its child reported and how it ended (status < 0: killed after
 * its time). */
static void finish(child *c, int status, int timeout_ms)
{
    mgpt_probe_job *j = c->job;
    char stage[256], verdict[512], sig[96];
    c->out[c->used] = '\0';
    if (!last_line(c->out, "stage ", stage, sizeof stage))
        snprintf(stage, sizeof stage, "starting");
    const char *ok = last_line(c->out, "ok ", verdict, sizeof verdict);
    const char *fail = ok ? NULL : last_line(c->out, "fail ", verdict, sizeof verdict);
    j->result = MGPT_PROBE_FAILED;
    if (status < 0) {
        snprintf(j->reason, sizeof j->reason, "its check did not finish within %g s, while %s: "
                 "killed (MGPT_PROBE_TIMEOUT_MS)", timeout_ms / 1000.0, stage);
    } else if (WIFSIGNALED(status)) {
        signal_text(WTERMSIG(status), sig, sizeof sig);
        snprintf(j->reason, sizeof j->reason, "crashed (%s) while %s", sig, stage);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        snprintf(j->reason, sizeof j->reason, "exited with status %d while %s",
                 WEXITSTATUS(status), stage);
    } else if (fail) {
        snprintf(j->reason, sizeof j->reason, "%s", fail);
    } else if (ok) {
        j->result = MGPT_PROBE_OK;
        j->priority = atoi(ok);
    } else {
        snprintf(j->reason, sizeof j->reason, "its check ended without a verdict while %s",
                 stage);
    }
    if (c->fd >= 0)
        close(c->fd);
    c->job = NULL;
}

/* Kills a child and its process group; reaps it unless it will not die (a process stuck
 * in the kernel stays a zombie rather than hang the program). */
static void kill_child(child *c)
{
    kill(-c->pid, SIGKILL);
    kill(c->pid, SIGKILL);
    for (int i = 0; i < 1000; i++) {
        pid_t w = waitpid(c->pid, NULL, WNOHANG);
        if (w != 0)
            return;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
}

/* Reads what a child has written; at the end of its pipe, closes it. */
static void drain(child *c)
{
    char buf[512];
    ssize_t r = read(c->fd, buf, sizeof buf);
    if (r < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (r <= 0) {
        close(c->fd);
        c->fd = -1;
        return;
    }
    size_t room = sizeof c->out - 1 - c->used;
    size_t n = (size_t)r < room ? (size_t)r : room;
    memcpy(c->out + c->used, buf, n);
    c->used += n;
}

/* One round: waits for output (at most until the nearest deadline), reads it, and finishes
 * the children that ended or ran out of time. Returns how many finished. */
static int step(child *run, int parallel, struct pollfd *pfd, int *slot, int timeout_ms)
{
    long long t = now_ms(), wait = LLONG_MAX;
    int np = 0;
    for (int i = 0; i < parallel; i++) {
        if (!run[i].job)
            continue;
        long long left = run[i].deadline - t;
        if (run[i].fd >= 0) {
            pfd[np].fd = run[i].fd;
            pfd[np].events = POLLIN;
            pfd[np].revents = 0;
            slot[np++] = i;
        } else if (left > 2) {
            left = 2; /* its pipe is closed: look for its exit soon */
        }
        if (left < wait)
            wait = left;
    }
    if (wait < 0)
        wait = 0;
    if (poll(pfd, (nfds_t)np, (int)(wait > INT_MAX ? INT_MAX : wait)) > 0)
        for (int k = 0; k < np; k++)
            if (pfd[k].revents)
                drain(&run[slot[k]]);
    int done = 0;
    t = now_ms();
    for (int i = 0; i < parallel; i++) {
        child *c = &run[i];
        if (!c->job)
            continue;
        int status = 0;
        pid_t w = c->fd < 0 ? waitpid(c->pid, &status, WNOHANG) : 0;
        if (w == c->pid || (w < 0 && errno == ECHILD)) {
            finish(c, w < 0 ? 0 : status, timeout_ms);
            done++;
        } else if (t >= c->deadline) {
            kill_child(c);
            finish(c, -1, timeout_ms);
            done++;
        }
    }
    return done;
}

void mgpt_probe_modules(const char *helper, mgpt_probe_job *jobs, int n, int timeout_ms,
                        int parallel)
{
    if (parallel < 1)
        parallel = 1;
    if (parallel > n)
        parallel = n > 0 ? n : 1;
    child *run = calloc((size_t)parallel, sizeof *run);
    struct pollfd *pfd = calloc((size_t)parallel, sizeof *pfd);
    int *slot = calloc((size_t)parallel, sizeof *slot);
    if (!run || !pfd || !slot) {
        for (int i = 0; i < n; i++) {
            jobs[i].result = MGPT_PROBE_NOT_RUN;
            snprintf(jobs[i].reason, sizeof jobs[i].reason, "out of memory");
        }
        n = 0;
    }
    int next = 0, active = 0;
    while (next < n || active > 0) {
        for (int i = 0; i < parallel && next < n; i++) {
            if (run[i].job)
                continue;
            start(&run[i], helper, &jobs[next++], timeout_ms);
            active += run[i].job != NULL;
        }
        if (active > 0)
            active -= step(run, parallel, pfd, slot, timeout_ms);
    }
    free(run);
    free(pfd);
    free(slot);
}
