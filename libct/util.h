/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal helpers shared by every libct module (and the daemon and tests, which link the
 * internal static library). Not part of the public API. */
#ifndef CT_UTIL_H
#define CT_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ct.h"

#define CT_EXPORT __attribute__((visibility("default")))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Credential changes for a child made with clone()/clone3(): glibc's setresuid() and friends
 * broadcast the change to every thread glibc believes the process has, and in a child of a
 * multithreaded caller those threads do not exist: the call would wait for them forever.
 * The raw syscalls change just the calling (and only) thread. */
static inline int child_setresuid(uid_t r, uid_t e, uid_t s)
{
	return (int)syscall(SYS_setresuid, r, e, s);
}
static inline int child_setresgid(gid_t r, gid_t e, gid_t s)
{
	return (int)syscall(SYS_setresgid, r, e, s);
}
static inline int child_setgroups(size_t n, const gid_t *list)
{
	return (int)syscall(SYS_setgroups, n, list);
}

/* FNV-1a, 64 bits: a stable hash (across runs and builds) for names derived from names. */
static inline uint64_t fnv1a64(const char *s)
{
	uint64_t h = 14695981039346656037ull;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

/* ---- cleanup helpers ---- */

static inline void freep(void *p)
{
	free(*(void **)p);
}
static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
	*fd = -EBADF;
}
static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
	*f = NULL;
}
static inline void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
	*d = NULL;
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)

#define TAKE_PTR(p)                                                                               \
	({                                                                                        \
		__typeof__(p) _p = (p);                                                           \
		(p) = NULL;                                                                       \
		_p;                                                                               \
	})
#define TAKE_FD(fd)                                                                               \
	({                                                                                        \
		int _fd = (fd);                                                                   \
		(fd) = -EBADF;                                                                    \
		_fd;                                                                              \
	})

/* ---- errors ---- */

/* Fills err (if not NULL) with code (a negative errno) and a formatted message; returns
 * code so that callers can write `return ct_err(err, -EINVAL, "...")`. Async-signal-safe
 * as long as the format uses only %s %d %u %ld %lu %lld %llu %x %c (it uses our own small
 * formatter, no malloc, no locale). */
int ct_err(ct_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Like ct_err, appending ": strerror(-code)". */
int ct_errno(ct_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Small async-signal-safe snprintf subset used by ct_err: %s %d %i %u %ld %lu %lld %llu %zu %x
 * %c %%. Always NUL-terminates; returns the length written. */
int ct_vsnprintf(char *buf, size_t len, const char *fmt, va_list ap);
int ct_snprintf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* strerror without locale or allocation, safe after clone. */
const char *ct_strerror(int errnum);

/* ---- files ---- */

/* Writes a whole string to path (O_WRONLY|O_CLOEXEC, no O_CREAT unless flags say so).
 * Returns 0 or -errno. */
int write_file(const char *path, const char *s);
int write_file_at(int dirfd, const char *path, const char *s);
/* Reads up to len-1 bytes and NUL-terminates; strips one trailing newline. */
int read_file(const char *path, char *buf, size_t len);
int read_file_at(int dirfd, const char *path, char *buf, size_t len);
int read_u64_at(int dirfd, const char *path, uint64_t *ret); /* "max" -> CT_UNLIMITED */
/* mkdir -p; mode for created components. */
int mkdir_p(const char *path, mode_t mode);
/* rm -rf of a directory tree without following symlinks or crossing mount points. */
int rm_rf(const char *path);

/* In a freshly cloned child: default dispositions for every signal and an empty signal
 * mask, so that nothing the caller blocked or caught (a daemon's signalfd set) reaches the
 * container. Async-signal-safe. */
void reset_signals(void);

/* ---- time ---- */
uint64_t now_ms(void);	/* CLOCK_MONOTONIC */
uint64_t now_ns(void);

#endif
