/* Non-blocking open of a file to read, refusing what is not a regular file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "platform/file_open.h"

static const char *kind_of(mode_t m)
{
    return S_ISDIR(m) ? "a folder" : S_ISFIFO(m) ? "a FIFO (named pipe)" :
           S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device" :
           S_ISSOCK(m) ? "a socket" : "not a regular file";
}

int mgpt_open_regular(const char *path, const char *what, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "%s '%s': cannot open: %s", what, path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s '%s': cannot stat: %s", what, path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s '%s' is %s; expected a regular file", what, path,
                 kind_of(st.st_mode));
        close(fd);
        return -1;
    }
    /* Regular files never block, but later reads should see ordinary semantics. */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        snprintf(err, errlen, "%s '%s': cannot clear O_NONBLOCK: %s", what, path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}
