/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <signal.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "config.h"
#include "util.h"

/* ---- an async-signal-safe formatter (the child after clone reports through ct_error) ---- */

static void put_c(char *buf, size_t len, size_t *pos, char c)
{
	if (*pos + 1 < len)
		buf[*pos] = c;
	(*pos)++;
}

static void put_s(char *buf, size_t len, size_t *pos, const char *s)
{
	if (!s)
		s = "(null)";
	while (*s)
		put_c(buf, len, pos, *s++);
}

static void put_u(char *buf, size_t len, size_t *pos, unsigned long long v, unsigned base)
{
	char tmp[24];
	int n = 0;

	do {
		unsigned d = v % base;
		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	while (n)
		put_c(buf, len, pos, tmp[--n]);
}

int ct_vsnprintf(char *buf, size_t len, const char *fmt, va_list ap)
{
	size_t pos = 0;

	for (const char *p = fmt; *p; p++) {
		int lng = 0, sz = 0;

		if (*p != '%') {
			put_c(buf, len, &pos, *p);
			continue;
		}
		p++;
		while (*p == 'l') {
			lng++;
			p++;
		}
		if (*p == 'z') {
			sz = 1;
			p++;
		}
		switch (*p) {
		case 's':
			put_s(buf, len, &pos, va_arg(ap, const char *));
			break;
		case 'c':
			put_c(buf, len, &pos, (char)va_arg(ap, int));
			break;
		case 'd':
		case 'i': {
			long long v = sz ? (long long)va_arg(ap, ssize_t)
				     : lng >= 2 ? va_arg(ap, long long)
				     : lng == 1 ? va_arg(ap, long)
						: va_arg(ap, int);
			if (v < 0) {
				put_c(buf, len, &pos, '-');
				put_u(buf, len, &pos, (unsigned long long)(-(v + 1)) + 1, 10);
			} else {
				put_u(buf, len, &pos, (unsigned long long)v, 10);
			}
			break;
		}
		case 'u':
		case 'x': {
			unsigned long long v = sz ? va_arg(ap, size_t)
					      : lng >= 2 ? va_arg(ap, unsigned long long)
					      : lng == 1 ? va_arg(ap, unsigned long)
							 : va_arg(ap, unsigned);
			put_u(buf, len, &pos, v, *p == 'x' ? 16 : 10);
			break;
		}
		case '%':
			put_c(buf, len, &pos, '%');
			break;
		case '\0':
			p--;
			break;
		default:
			put_c(buf, len, &pos, '%');
			put_c(buf, len, &pos, *p);
			break;
		}
	}
	if (len)
		buf[pos < len ? pos : len - 1] = '\0';
	return (int)pos;
}

int ct_snprintf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = ct_vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return r;
}

/* strerror() may allocate or take the locale lock; after clone() we need neither. The
 * common codes get their own text, the rest a number. */
const char *ct_strerror(int errnum)
{
	switch (errnum < 0 ? -errnum : errnum) {
	case EPERM: return "Operation not permitted";
	case ENOENT: return "No such file or directory";
	case ESRCH: return "No such process";
	case EINTR: return "Interrupted system call";
	case EIO: return "Input/output error";
	case E2BIG: return "Argument list too long";
	case ENOEXEC: return "Exec format error";
	case EBADF: return "Bad file descriptor";
	case ECHILD: return "No child processes";
	case EAGAIN: return "Resource temporarily unavailable";
	case ENOMEM: return "Cannot allocate memory";
	case EACCES: return "Permission denied";
	case EFAULT: return "Bad address";
	case EBUSY: return "Device or resource busy";
	case EEXIST: return "File exists";
	case EXDEV: return "Invalid cross-device link";
	case ENODEV: return "No such device";
	case ENOTDIR: return "Not a directory";
	case EISDIR: return "Is a directory";
	case EINVAL: return "Invalid argument";
	case EMFILE: return "Too many open files";
	case ENOSPC: return "No space left on device";
	case EROFS: return "Read-only file system";
	case ENAMETOOLONG: return "File name too long";
	case ENOSYS: return "Function not implemented";
	case ENOTEMPTY: return "Directory not empty";
	case ELOOP: return "Too many levels of symbolic links";
	case EOPNOTSUPP: return "Operation not supported";
	case ETIMEDOUT: return "Connection timed out";
	case ECANCELED: return "Operation canceled";
	case ERANGE: return "Numerical result out of range";
	case EPROTO: return "Protocol error";
	default: {
		/* Not thread-safe, but only reached for rare codes in messages. */
		static char buf[32];
		ct_snprintf(buf, sizeof(buf), "error %d", errnum < 0 ? -errnum : errnum);
		return buf;
	}
	}
}

int ct_err(ct_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->code = code;
		va_start(ap, fmt);
		ct_vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

int ct_errno(ct_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		size_t n;

		err->code = code;
		va_start(ap, fmt);
		n = (size_t)ct_vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		if (n < sizeof(err->msg))
			ct_snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", ct_strerror(code));
	}
	return code;
}

/* ---- files ---- */

int write_file_at(int dirfd, const char *path, const char *s)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	size_t len = strlen(s);

	if (fd < 0)
		return -errno;
	while (len) {
		ssize_t n = write(fd, s, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

int write_file(const char *path, const char *s)
{
	return write_file_at(AT_FDCWD, path, s);
}

int read_file_at(int dirfd, const char *path, char *buf, size_t len)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	size_t pos = 0;

	if (fd < 0)
		return -errno;
	if (len == 0)
		return -EINVAL;
	while (pos < len - 1) {
		ssize_t n = read(fd, buf + pos, len - 1 - pos);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		pos += (size_t)n;
	}
	buf[pos] = '\0';
	if (pos && buf[pos - 1] == '\n')
		buf[--pos] = '\0';
	return (int)pos;
}

int read_file(const char *path, char *buf, size_t len)
{
	return read_file_at(AT_FDCWD, path, buf, len);
}

int read_u64_at(int dirfd, const char *path, uint64_t *ret)
{
	char buf[64], *end;
	unsigned long long v;
	int r = read_file_at(dirfd, path, buf, sizeof(buf));

	if (r < 0)
		return r;
	if (strcmp(buf, "max") == 0) {
		*ret = CT_UNLIMITED;
		return 0;
	}
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n' && *end != ' '))
		return -EINVAL;
	*ret = v;
	return 0;
}

int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (type == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int rm_rf(const char *path)
{
	/* FTW_PHYS: never follow symlinks; FTW_MOUNT: never cross into a mount (a bind mount
	 * left behind must not cost us the host's files). */
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return errno == ENOENT ? 0 : -errno;
	return 0;
}

void reset_signals(void)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };
	sigset_t all;

	for (int sig = 1; sig < _NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		sigaction(sig, &sa, NULL); /* fails harmlessly for the libc-reserved ones */
	}
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t now_ms(void)
{
	return now_ns() / 1000000ull;
}

CT_EXPORT const char *ct_version(void)
{
	return CT_VERSION;
}
