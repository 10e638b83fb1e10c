#ifndef LIFEBOAT_CLINUX_SHIM_H
#define LIFEBOAT_CLINUX_SHIM_H
/* Linux system calls that glibc declares only under _GNU_SOURCE, which Swift's Glibc module does not see.
 * Imported only by the Repository module. */
#define _GNU_SOURCE
#include <unistd.h>

/* Flushes every dirty page and inode of the file system holding fd: one call instead of an fsync per file. */
static inline int lb_syncfs(int fd) { return syncfs(fd); }
#endif
