/* mgpt-probe-module: loads one backend module and checks its descriptor, in a process of its
 * own. The loader runs it for every module before dlopening any in the program itself (as
 * audio plugin hosts scan plugins), so that whatever a module does when it is loaded (a
 * constructor that crashes, runs an instruction this CPU lacks, calls exit or never returns)
 * ends this short-lived process and becomes a reason in `mgpt backends`.
 *
 *   mgpt-probe-module FILE NAME TIMEOUT_MS
 *
 * The report goes to file descriptor 3, one line each: "stage WHAT" before each step (so
 * the loader can say where a process it saw die or killed was), then "ok PRIORITY" or
 * "fail REASON". Exit status 0 after a report, 2 for a wrong command line. Not for users. */
#include <dlfcn.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>
#include "engine/module_check.h"

#define REPORT_FD 3

static void report(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    for (int i = 0; i < n; i++)
        if (line[i] == '\n')
            line[i] = ' ';
    line[n++] = '\n';
    ssize_t w = write(REPORT_FD, line, (size_t)n);
    (void)w;
}

/* A fault goes back to its default action, so that the loader sees the process killed by
 * the signal itself (a sanitizer build would otherwise turn it into an exit status). */
static void die_of(int sig)
{
    signal(sig, SIG_DFL);
    raise(sig);
}

/* exit() called by a module's constructor: skip the other exit handlers (a leak checker's
 * among them) so the status the loader sees is the module's. */
static void exited(int status, void *arg)
{
    (void)arg;
    _exit(status);
}

/* This process exists to die instead of the program: no core files, gone with its parent,
 * and gone after its time even if the parent's kill never comes. */
static void contain(int timeout_ms)
{
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    alarm((unsigned)(timeout_ms / 1000 + 2));
    const int faults[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE};
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = die_of;
        sa.sa_flags = SA_NODEFER;
        sigaction(faults[i], &sa, NULL);
    }
    on_exit(exited, NULL);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: mgpt-probe-module FILE NAME TIMEOUT_MS (run by the mgpt "
                "loader, reports on file descriptor 3)\n");
        return 2;
    }
    contain(atoi(argv[3]));
    report("stage loading it (dlopen; its constructors run)");
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        report("fail dlopen failed: %s", dlerror());
        _exit(0);
    }
    report("stage checking its descriptor");
    char reason[512];
    const mgpt_backend_desc *d = mgpt_module_check(h, argv[2], reason, sizeof reason);
    if (d)
        report("ok %d", d->priority);
    else
        report("fail %s", reason);
    _exit(0); /* no destructors: the module's could hang or crash too */
}
