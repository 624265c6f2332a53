/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Filesystem helpers: durable atomic writes, mkdir -p, and a recursive remover that stays
 * on one filesystem and never follows a symlink (container upper dirs are written by the
 * container, so they may hold anything). */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <ftw.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ctd.h"

int fs_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int fs_write_atomic(int dirfd, const char *name, const char *data, size_t len, mode_t mode)
{
	char tmp[NAME_MAX + 1];
	_cleanup_close_ int fd = -EBADF;
	int r;

	if (snprintf(tmp, sizeof(tmp), ".%s.tmp", name) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	r = write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && close(TAKE_FD(fd)) < 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	if (fsync(dirfd) < 0)
		return -errno;
	return 0;
}

int fs_unlink_durable(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) < 0) {
		if (errno == ENOENT)
			return 0;
		return -errno;
	}
	if (fsync(dirfd) < 0)
		return -errno;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	int r;

	/* FTW_DP: a directory after its contents; FTW_D should not happen with FTW_DEPTH. */
	if (type == FTW_DP || type == FTW_D || type == FTW_DNR)
		r = rmdir(path);
	else
		r = unlink(path);
	if (r < 0 && errno != ENOENT) {
		log_warn("cannot remove %s: %m", path);
		/* Keep going: remove what we can, report at the end via the top-level rmdir. */
	}
	return 0;
}

int fs_rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? -errno : 0;
	/* FTW_MOUNT: a mount point inside (there should be none: container mounts live in the
	 * container's namespace) is not entered, so its rmdir fails and we report that. */
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return -errno;
	if (lstat(path, &st) == 0)
		return -ENOTEMPTY;
	return 0;
}

static int64_t du_total;

static int du_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (type == FTW_F && S_ISREG(st->st_mode))
		du_total += (int64_t)st->st_blocks * 512;
	return 0;
}

int64_t fs_du(const char *path)
{
	du_total = 0;
	if (nftw(path, du_one, 32, FTW_PHYS | FTW_MOUNT) < 0)
		return -errno;
	return du_total;
}

void fs_now_iso(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

bool fs_exists(const char *path)
{
	struct stat st;

	/* one that cannot be checked counts as there: nothing gets overwritten by mistake */
	return lstat(path, &st) == 0 || errno != ENOENT;
}

/* ---- running tools (cp, tar, criu) ---- */

const char *fs_tool_find(const char *name)
{
	static char buf[PATH_MAX];
	static const char *const dirs[] = {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
					   "/usr/bin", "/sbin", "/bin"};

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(buf, sizeof(buf), "%s/%s", dirs[i], name);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

/* Spawns argv[0] (a name, looked up) with fds 0 and 1 from in/out (-1: /dev/null), extra as
 * fd 3 (-1: none) and stderr into a memfd (*ret_err). The child gets default signals. */
int fs_tool_spawn(char *const argv[], int in, int out, int extra, pid_t *ret_pid,
		      int *ret_err)
{
	char *const envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			      "LC_ALL=C", NULL};
	const char *exe = fs_tool_find(argv[0]);
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	int errfd, r;

	if (!exe)
		return -ENOENT;
	errfd = memfd_create("ctd-tool-stderr", MFD_CLOEXEC);
	if (errfd < 0)
		return -errno;
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGPIPE);
	posix_spawnattr_init(&attr);
	/* ctd blocks its quit signals for a signalfd: the tool must not inherit that. */
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawn_file_actions_init(&fa);
	if (in >= 0)
		posix_spawn_file_actions_adddup2(&fa, in, 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (out >= 0)
		posix_spawn_file_actions_adddup2(&fa, out, 1);
	else
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, errfd, 2);
	if (extra >= 0)
		posix_spawn_file_actions_adddup2(&fa, extra, 3);
	r = posix_spawn(ret_pid, exe, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r != 0) {
		close(errfd);
		return -r;
	}
	*ret_err = errfd;
	return 0;
}

/* Waits for pid; 0 when it exited with a status in ok_mask (bit n: status n), else -EIO
 * with its first line of stderr in msg. Closes errfd. */
int fs_tool_wait(pid_t pid, int errfd, unsigned ok_mask, const char *what, char *msg,
		     size_t len)
{
	int status = 0;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			close(errfd);
			snprintf(msg, len, "%s: waitpid: %m", what);
			return -errno;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) < 32 &&
	    (ok_mask & (1u << WEXITSTATUS(status)))) {
		close(errfd);
		return 0;
	}
	{
		char out[400];
		ssize_t n = pread(errfd, out, sizeof(out) - 1, 0);

		close(errfd);
		out[n > 0 ? n : 0] = '\0';
		out[strcspn(out, "\n")] = '\0';
		if (out[0])
			snprintf(msg, len, "%s: %s", what, out);
		else if (WIFEXITED(status))
			snprintf(msg, len, "%s exited with status %d", what, WEXITSTATUS(status));
		else
			snprintf(msg, len, "%s killed by signal %d", what, WTERMSIG(status));
	}
	return -EIO;
}

int fs_tool_run(char *const argv[], int in, int out, unsigned ok_mask, char *msg, size_t len)
{
	pid_t pid;
	int errfd, r;

	r = fs_tool_spawn(argv, in, out, -1, &pid, &errfd);
	if (r < 0) {
		snprintf(msg, len, "cannot run %s: %s", argv[0], strerror(-r));
		return r;
	}
	return fs_tool_wait(pid, errfd, ok_mask, argv[0], msg, len);
}
