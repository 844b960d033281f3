/* The steps of an atomic save (format/save_file.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "format/save_file.h"

/* The process umask. umask(2) can only be read by setting it, so this briefly sets it to 0:
 * harmless unless another thread creates a file at that instant. */
static mode_t current_umask(void)
{
    mode_t u = umask(0);
    umask(u);
    return u;
}

static int split_path(const char *path, char **dir, char **base)
{
    const char *slash = strrchr(path, '/');
    *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    *base = strdup(slash ? slash + 1 : path);
    return *dir && *base ? 0 : -1;
}

static char *join(const char *dir, const char *a, const char *b, const char *c)
{
    size_t len = strlen(dir) + strlen(a) + strlen(b) + strlen(c) + 2;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s/%s%s%s", dir, a, b, c);
    return p;
}

/* flock on ".NAME.lock" beside the target. The holder removes the file before releasing
 * it, so a process that opened the old file may lock a name that is gone: it checks that
 * the name still leads to what it locked, and tries again if not. Returns the fd and sets
 * *lock_path (malloc'ed), or -1 with err set. */
static int lock_in(const char *path, const char *dir, const char *base, char **lock_path,
                   char *err, size_t errlen)
{
    char *lock = join(dir, ".", base, ".lock");
    if (!lock) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    for (int attempt = 0; attempt < 8; attempt++) {
        int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            snprintf(err, errlen, "%s: cannot create the lock file '%s': %s", path, lock,
                     strerror(errno));
            break;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            snprintf(err, errlen, "%s: %s", path, e == EWOULDBLOCK ?
                     "another process is saving to this file now (it holds the lock file "
                     "beside it); not saved: wait for it to finish or save to another path" :
                     strerror(e));
            close(fd);
            break;
        }
        struct stat held, named;
        if (fstat(fd, &held) == 0 && stat(lock, &named) == 0 && held.st_dev == named.st_dev &&
            held.st_ino == named.st_ino) {
            *lock_path = lock;
            return fd;
        }
        close(fd);
    }
    if (!strstr(err, path))
        snprintf(err, errlen, "%s: the lock file '%s' keeps changing under us", path, lock);
    free(lock);
    return -1;
}

static void unlock(int fd, char *lock_path)
{
    if (fd >= 0) {
        unlink(lock_path);
        close(fd);
    }
    free(lock_path);
}

int mgpt_save_lock(const char *path, char **lock_path, char *err, size_t errlen)
{
    char *dir = NULL, *base = NULL;
    int fd = -1;
    err[0] = '\0';
    if (split_path(path, &dir, &base) != 0)
        snprintf(err, errlen, "%s: out of memory", path);
    else
        fd = lock_in(path, dir, base, lock_path, err, errlen);
    free(dir);
    free(base);
    return fd;
}

void mgpt_save_unlock(int fd, char *lock_path)
{
    unlock(fd, lock_path);
}

/* Temporaries of earlier saves to this path that were killed before renaming. Called with
 * the lock held, so no live writer owns any of them. */
static void remove_stale(const mgpt_save_file *s)
{
    DIR *dp = opendir(s->dir);
    if (!dp)
        return;
    char *prefix = join("", ".", s->base, ".tmp.");
    if (!prefix) {
        closedir(dp);
        return;
    }
    const char *pre = prefix + 1; /* join put a '/' first */
    struct dirent *de;
    while ((de = readdir(dp)))
        if (strncmp(de->d_name, pre, strlen(pre)) == 0 &&
            unlinkat(dirfd(dp), de->d_name, 0) == 0)
            fprintf(stderr, "note: %s: removed '%s/%s', the temporary file of an interrupted "
                    "save\n", s->path, s->dir, de->d_name);
    free(prefix);
    closedir(dp);
}

int mgpt_save_begin(mgpt_save_file *s, const char *path, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    s->fd = s->lock_fd = -1;
    if (split_path(path, &s->dir, &s->base) != 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    s->mode = 0666 & ~current_umask();
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "%s: is a folder; expected a file path", path);
            goto fail;
        }
        if (S_ISREG(st.st_mode)) {
            /* Root may write anything, so the mode bits, not access(2), say read-only. */
            if ((st.st_mode & 0222) == 0) {
                snprintf(err, errlen, "%s: is read-only (mode %04o); it is not replaced (make "
                         "it writable with chmod u+w, or save to another path)", path,
                         (unsigned)(st.st_mode & 07777));
                goto fail;
            }
            s->mode = st.st_mode & 07777;
        }
    }
    err[0] = '\0';
    if ((s->lock_fd = lock_in(path, s->dir, s->base, &s->lock_path, err, errlen)) < 0)
        goto fail;
    remove_stale(s);
    s->fd = open(s->dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, s->mode);
    if (s->fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        /* No O_TMPFILE here: a named temporary, which a later save removes if we are killed. */
        if (!(s->named = join(s->dir, ".", s->base, ".tmp.XXXXXX"))) {
            snprintf(err, errlen, "%s: out of memory", path);
            goto fail;
        }
        s->fd = mkstemp(s->named);
        if (s->fd < 0) {
            free(s->named);
            s->named = NULL;
        }
    }
    if (s->fd < 0) {
        snprintf(err, errlen, "%s: cannot create a temporary file in '%s': %s", path, s->dir,
                 strerror(errno));
        goto fail;
    }
    if (fchmod(s->fd, s->mode) != 0) {
        snprintf(err, errlen, "%s: cannot set the mode of the temporary file: %s", path,
                 strerror(errno));
        goto fail;
    }
    return 0;
fail:
    mgpt_save_abort(s);
    return -1;
}

void mgpt_save_abort(mgpt_save_file *s)
{
    if (s->fd >= 0)
        close(s->fd);
    if (s->named)
        unlink(s->named);
    unlock(s->lock_fd, s->lock_path);
    free(s->named);
    free(s->dir);
    free(s->base);
    memset(s, 0, sizeof *s);
    s->fd = s->lock_fd = -1;
}

/* Names the unnamed temporary, now complete, as ".NAME.tmp.<pid>.<n>". */
static int link_tmpfile(mgpt_save_file *s)
{
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", s->fd);
    for (int i = 0; i < 100; i++) {
        char tail[48];
        snprintf(tail, sizeof tail, ".tmp.%ld.%d", (long)getpid(), i);
        char *named = join(s->dir, ".", s->base, tail);
        if (!named)
            return -1;
        if (linkat(AT_FDCWD, proc, AT_FDCWD, named, AT_SYMLINK_FOLLOW) == 0) {
            s->named = named;
            return 0;
        }
        int e = errno;
        free(named);
        if (e != EEXIST) {
            errno = e;
            return -1;
        }
    }
    errno = EEXIST;
    return -1;
}

int mgpt_save_commit(mgpt_save_file *s, char *err, size_t errlen)
{
    const char *path = s->path;
    int rc = -1;
    if (fsync(s->fd) != 0) {
        snprintf(err, errlen, "%s: cannot write the temporary file: %s", path, strerror(errno));
        goto out;
    }
    if (!s->named && link_tmpfile(s) != 0) {
        snprintf(err, errlen, "%s: cannot give the temporary file a name in '%s': %s", path,
                 s->dir, strerror(errno));
        goto out;
    }
    int fd = s->fd;
    s->fd = -1;
    if (close(fd) != 0) {
        snprintf(err, errlen, "%s: cannot write the temporary file: %s", path, strerror(errno));
        goto out;
    }
    if (rename(s->named, path) != 0) {
        snprintf(err, errlen, "%s: cannot rename temporary file '%s' over it: %s", path,
                 s->named, strerror(errno));
        goto out;
    }
    free(s->named);
    s->named = NULL;
    /* Make the rename itself durable; the file is complete either way, so a failure here
     * is not an error. */
    int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    rc = 0;
out:
    mgpt_save_abort(s);
    return rc;
}
