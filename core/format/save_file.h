/* Replacing a file safely: the steps of an atomic save, apart from what is written.
 *   begin   refuses a folder or a read-only target, takes the lock (flock on ".NAME.lock"
 *           beside it, removed on release: a second process saving to the same path at
 *           the same time is refused, not raced),
 *           removes temporaries an interrupted save left (".NAME.tmp.*"; under the lock no
 *           live writer owns one), and opens an unnamed temporary (O_TMPFILE) in the folder,
 *           or a named ".NAME.tmp.XXXXXX" where the filesystem has no O_TMPFILE;
 *   commit  fsync, gives the temporary a name (linkat) only now that it is complete, renames
 *           it over the target, fsyncs the folder, releases the lock;
 *   abort   drops the temporary and the lock; the target is left as it was.
 * The new file keeps the mode of the file it replaces (a 0600 checkpoint stays 0600). */
#ifndef MGPT_SAVE_FILE_H
#define MGPT_SAVE_FILE_H
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mgpt_save_file {
    const char *path;
    int fd;          /* the temporary, to write */
    int lock_fd;
    char *lock_path;
    char *dir, *base;
    char *named;     /* the temporary's name once it has one (fallback or after linkat) */
    mode_t mode;
} mgpt_save_file;

int mgpt_save_begin(mgpt_save_file *s, const char *path, char *err, size_t errlen);
int mgpt_save_commit(mgpt_save_file *s, char *err, size_t errlen); /* releases s either way */
void mgpt_save_abort(mgpt_save_file *s);

/* Takes the lock of path as begin does, until mgpt_save_unlock; -1 with err set when
 * another process (or another mgpt_save_lock) holds it. */
int mgpt_save_lock(const char *path, char **lock_path, char *err, size_t errlen);
void mgpt_save_unlock(int fd, char *lock_path);
#ifdef __cplusplus
}
#endif
#endif
