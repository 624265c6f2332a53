/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Starting, supervising and stopping a container.
 *
 * Start, in order:
 *   parent: cgroup (with limits)  ->  clone3(namespaces, CLONE_PIDFD[, CLONE_INTO_CGROUP])
 *   parent: attach the child to its cgroup (v1, or v2 without CLONE_INTO_CGROUP), send "go"
 *   child:  cgroup namespace (rooted in the cgroup it was just put in), private mounts,
 *           root (overlay or bind), /proc /sys /sys/fs/cgroup /dev, pivot_root, hostname,
 *           extra mounts, stdio, execve(init)
 *   parent: EOF on the sync socket = execve succeeded (the child's end is close-on-exec);
 *           a ct_error record = the child failed, with its precise message.
 * Every failure unwinds in reverse: the child is killed and reaped, the cgroup removed. The
 * child's mounts live in its own mount namespace, so they vanish with it.
 */
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "container.h"
#include "devices.h"
#include "idmap.h"
#include "net.h"
#include "security.h"
#include "util.h"

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* ---- small syscall wrappers ---- */

static int sys_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int sys_pidfd_send_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static int sys_pivot_root(const char *new_root, const char *put_old)
{
	return (int)syscall(SYS_pivot_root, new_root, put_old);
}

static unsigned long ns_clone_flags(unsigned ns)
{
	unsigned long f = 0;

	if (ns & CT_NS_MNT)
		f |= CLONE_NEWNS;
	if (ns & CT_NS_PID)
		f |= CLONE_NEWPID;
	if (ns & CT_NS_UTS)
		f |= CLONE_NEWUTS;
	if (ns & CT_NS_IPC)
		f |= CLONE_NEWIPC;
	if (ns & CT_NS_NET)
		f |= CLONE_NEWNET;
	/* CT_NS_CGROUP is not a clone flag: a cgroup namespace is rooted where its creator is,
	 * and at clone time that is still the caller's cgroup. The child unshares it once the
	 * parent has put it into the container's cgroup. */
	return f;
}

/* clone3() that behaves like fork(): returns 0 in the child. */
pid_t ct_clone3(uint64_t flags, int cgroup_fd, int *ret_pidfd)
{
	struct clone_args args = {
		.flags = flags | CLONE_PIDFD,
		.pidfd = (uint64_t)(uintptr_t)ret_pidfd,
		.exit_signal = SIGCHLD,
	};

	if (cgroup_fd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)cgroup_fd;
	}
	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

/* ---- the child ---- */

/* Everything the child needs, prepared by the parent so that the child does not allocate. */
struct child_ctx {
	const ct_spec *spec;
	int sync_fd;
	int console_fd;
	char console_path[PATH_MAX]; /* the console terminal's name, "" if none */
	char root[PATH_MAX];
	char overlay_opts[3 * PATH_MAX + 64];
	char lower[PATH_MAX];	/* the overlay's lower layer: the template or its shifted copy */
	bool userns;
	int root_fd;		/* in the child: the container's root directory */
	/* user namespace: what the child opens while it is still host root (the container's
	 * root may not be able to search the host directories that hold them) */
	int upper_fd, work_fd, lower_fd, target_fd;
	int src_fd[CT_MAX_MOUNTS]; /* bind mount sources, -EBADF for the others */
	char *envp[CT_MAX_ENV + 8];
	struct sec_profile sec;
};

static __attribute__((noreturn)) void child_fail(struct child_ctx *c, ct_error *err)
{
	/* The parent reads one record; if even this fails it sees a bare exit status. */
	if (write(c->sync_fd, err, sizeof(*err)) < 0) {
	}
	_exit(127);
}

#define CHILD_CHECK(c, err, expr, ...)                                                            \
	do {                                                                                      \
		if ((expr) < 0) {                                                                 \
			ct_errno(err, -errno, __VA_ARGS__);                                       \
			child_fail(c, err);                                                       \
		}                                                                                 \
	} while (0)

/* Same, for helpers that return -errno and fill err themselves. */
#define CHILD_TRY(c, err, expr)                                                                   \
	do {                                                                                      \
		if ((expr) < 0)                                                                   \
			child_fail(c, err);                                                       \
	} while (0)

static int sys_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
	struct open_how how = { .flags = flags, .resolve = resolve };

	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

#define IN_ROOT (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)

/* A mount target below the container's root, as an O_PATH fd: resolved with the root as "/"
 * (no symlink, "..", or magic link leads out), missing directories created on the way, and
 * the target itself never a symlink. Mounting on the fd (mount_fd) then cannot be redirected
 * by anything the container's files say, whatever they are changed to meanwhile. */
static int target_open(int root_fd, const char *rel, bool dir, ct_error *err)
{
	char prefix[PATH_MAX];
	struct stat st;
	size_t len = strlen(rel), i = 0;
	int fd;

	while (rel[0] == '/')
		rel++, len--;
	if (len == 0 || len >= sizeof(prefix))
		return ct_err(err, -EINVAL, "bad mount target '/%s'", rel);
	fd = sys_openat2(root_fd, rel, O_PATH | O_NOFOLLOW | O_CLOEXEC, IN_ROOT);
	if (fd < 0 && errno == ENOENT) {
		/* Create the missing components one at a time, each below a parent that was
		 * itself resolved inside the root. */
		while (i < len) {
			_cleanup_close_ int parent = -EBADF;
			const char *name;
			size_t end = i;
			int q;

			while (end < len && rel[end] != '/')
				end++;
			memcpy(prefix, rel, end);
			prefix[end] = '\0';
			q = sys_openat2(root_fd, prefix, O_PATH | O_NOFOLLOW | O_CLOEXEC, IN_ROOT);
			if (q >= 0) {
				close(q);
			} else if (errno == ENOENT) {
				name = prefix + i;
				if (i > 0) {
					prefix[i - 1] = '\0';
					parent = sys_openat2(root_fd, prefix,
							     O_PATH | O_DIRECTORY | O_CLOEXEC, IN_ROOT);
				} else {
					parent = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
				}
				if (parent < 0)
					return ct_errno(err, -errno, "cannot resolve mount target /%s",
							rel);
				if (end < len || dir)
					q = mkdirat(parent, name, 0755);
				else
					q = openat(parent, name,
						   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
						   0644);
				if (q < 0 && errno != EEXIST)
					return ct_errno(err, -errno, "cannot create mount target /%s",
							rel);
				if (q >= 0 && !(end < len || dir))
					close(q);
			} else {
				return ct_errno(err, -errno, "cannot resolve mount target /%s", rel);
			}
			i = end + 1;
		}
		fd = sys_openat2(root_fd, rel, O_PATH | O_NOFOLLOW | O_CLOEXEC, IN_ROOT);
	}
	if (fd < 0)
		return ct_errno(err, -errno, "cannot resolve mount target /%s", rel);
	if (fstat(fd, &st) < 0) {
		int r = -errno;

		close(fd);
		return ct_errno(err, r, "cannot look at mount target /%s", rel);
	}
	if (S_ISLNK(st.st_mode) || (dir && !S_ISDIR(st.st_mode)) || (!dir && S_ISDIR(st.st_mode))) {
		close(fd);
		return ct_err(err, S_ISLNK(st.st_mode) ? -ELOOP : dir ? -ENOTDIR : -EISDIR,
			      "mount target /%s is %s", rel,
			      S_ISLNK(st.st_mode) ? "a symlink"
			      : dir		  ? "not a directory"
						  : "a directory");
	}
	return fd;
}

/* mount(2) onto an fd (through its magic link: the mount lands on exactly that inode). */
static int mount_fd(const char *src, int fd, const char *fstype, unsigned long flags,
		    const char *data)
{
	char p[64];

	ct_snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	return mount(src, p, fstype, flags, data);
}

/* Resolves rel in the root and mounts there; fails the child on any error. */
static void child_mount(struct child_ctx *c, ct_error *err, const char *src, const char *rel,
			bool dir, const char *fstype, unsigned long flags, const char *data)
{
	_cleanup_close_ int fd = target_open(c->root_fd, rel, dir, err);

	if (fd < 0)
		child_fail(c, err);
	CHILD_CHECK(c, err, mount_fd(src, fd, fstype, flags, data), "cannot mount %s on %s",
		    src ? src : fstype, rel);
}

struct devnode {
	const char *name;
	unsigned major, minor;
};

static const struct devnode devnodes[] = {
	{ "null", 1, 3 }, { "zero", 1, 5 },    { "full", 1, 7 },
	{ "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

static void child_setup_dev(struct child_ctx *c, ct_error *err)
{
	_cleanup_close_ int dev = -EBADF;
	char q[PATH_MAX];
	int fd;
	static const char *const links[][2] = {
		{ "/proc/self/fd", "fd" },     { "/proc/self/fd/0", "stdin" },
		{ "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
		{ "pts/ptmx", "ptmx" },
	};

	child_mount(c, err, "tmpfs", "/dev", true, "tmpfs", MS_NOSUID | MS_NOEXEC | MS_STRICTATIME,
		    "mode=755,size=65536k");
	/* the fresh tmpfs, ours alone: plain *at() calls below it are safe */
	dev = sys_openat2(c->root_fd, "dev", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
			  IN_ROOT);
	CHILD_CHECK(c, err, dev, "cannot open /dev in the container");
	for (size_t i = 0; i < ARRAY_SIZE(devnodes); i++) {
		if (c->userns) {
			/* No mknod in a user namespace: the host's node, bound onto a file. */
			_cleanup_close_ int t = -EBADF;

			fd = openat(dev, devnodes[i].name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
				    0666);
			CHILD_CHECK(c, err, fd, "cannot create /dev/%s", devnodes[i].name);
			close(fd);
			t = openat(dev, devnodes[i].name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
			CHILD_CHECK(c, err, t, "cannot open /dev/%s", devnodes[i].name);
			ct_snprintf(q, sizeof(q), "/dev/%s", devnodes[i].name);
			CHILD_CHECK(c, err, mount_fd(q, t, NULL, MS_BIND, NULL),
				    "cannot bind the host's %s", q);
			continue;
		}
		CHILD_CHECK(c, err,
			    mknodat(dev, devnodes[i].name, S_IFCHR | 0666,
				    makedev(devnodes[i].major, devnodes[i].minor)),
			    "cannot create /dev/%s", devnodes[i].name);
		/* the umask must not narrow the mode */
		CHILD_CHECK(c, err, fchmodat(dev, devnodes[i].name, 0666, 0),
			    "cannot chmod /dev/%s", devnodes[i].name);
	}
	child_mount(c, err, "devpts", "/dev/pts", true, "devpts", MS_NOSUID | MS_NOEXEC,
		    "newinstance,ptmxmode=0666,mode=0620,gid=5");
	child_mount(c, err, "shm", "/dev/shm", true, "tmpfs", MS_NOSUID | MS_NODEV,
		    "mode=1777,size=65536k");
	CHILD_CHECK(c, err, mkdirat(dev, "mqueue", 0755), "cannot create /dev/mqueue");
	for (size_t i = 0; i < ARRAY_SIZE(links); i++)
		CHILD_CHECK(c, err, symlinkat(links[i][0], dev, links[i][1]), "cannot create /dev/%s",
			    links[i][1]);
	/* /dev/console: the console when it is a terminal, else /dev/null (systemd and getty
	 * open it; a regular log file must not be opened through it without O_APPEND). */
	fd = openat(dev, "console", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CHILD_CHECK(c, err, fd, "cannot create /dev/console");
	close(fd);
	{
		_cleanup_close_ int t = openat(dev, "console", O_PATH | O_NOFOLLOW | O_CLOEXEC);

		CHILD_CHECK(c, err, t, "cannot open /dev/console");
		if (c->console_fd >= 0 && isatty(c->console_fd)) {
			/* By its path, looked up in our copy of the caller's mounts: the fd's
			 * own mount belongs to the caller's mount namespace, and a bind from
			 * another namespace fails with EINVAL. */
			ct_snprintf(q, sizeof(q), "/proc/self/fd/%d", c->console_fd);
			if (!c->console_path[0] || mount_fd(c->console_path, t, NULL, MS_BIND, NULL) < 0)
				CHILD_CHECK(c, err, mount_fd(q, t, NULL, MS_BIND, NULL),
					    "cannot bind the console onto /dev/console");
		} else {
			_cleanup_close_ int null = openat(dev, "null", O_PATH | O_NOFOLLOW | O_CLOEXEC);

			CHILD_CHECK(c, err, null, "cannot open /dev/null in the container");
			ct_snprintf(q, sizeof(q), "/proc/self/fd/%d", null);
			CHILD_CHECK(c, err, mount_fd(q, t, NULL, MS_BIND, NULL),
				    "cannot bind /dev/null onto /dev/console");
		}
	}
}

/* The container's root as c->root_fd: the overlay (or the bind of a plain root), mounted on
 * c->root. */
static void child_mount_root(struct child_ctx *c, ct_error *err, int tree)
{
	const ct_spec *s = c->spec;

	if (c->userns && s->lower) {
		c->root_fd = idmap_child_overlay(tree >= 0 ? tree : c->lower_fd, tree >= 0,
						 c->upper_fd, c->work_fd, c->target_fd, err);
		if (c->root_fd < 0) {
			/* Tell the parent that idmapping is what failed: it retries with the
			 * shifted copy. */
			if (tree >= 0 && idmap_send_fd(c->sync_fd, 'I', -1) < 0) {
			}
			child_fail(c, err);
		}
		return;
	}
	if (c->userns) {
		/* A plain root in a user namespace: bind it onto itself as a detached copy of
		 * its mounts (recursive: the host's mounts are locked in our namespace). */
		int t = (int)syscall(SYS_open_tree, c->target_fd, "",
				     OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE |
					     AT_EMPTY_PATH);

		CHILD_CHECK(c, err, t, "cannot clone the root %s", c->root);
		CHILD_CHECK(c, err,
			    syscall(SYS_move_mount, t, "", c->target_fd, "",
				    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH),
			    "cannot bind the root %s onto itself", c->root);
		c->root_fd = t;
		return;
	}
	if (s->lower) {
		CHILD_CHECK(c, err, mount("overlay", c->root, "overlay", 0, c->overlay_opts),
			    "cannot mount the overlay root on %s", c->root);
	} else {
		CHILD_CHECK(c, err, mount(c->root, c->root, NULL, MS_BIND | MS_REC, NULL),
			    "cannot bind the root %s onto itself", c->root);
	}
	/* c->root is the host's path, its mount ours: a plain open reaches the new root */
	c->root_fd = open(c->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHILD_CHECK(c, err, c->root_fd, "cannot open the root %s", c->root);
}

static void child_setup_root(struct child_ctx *c, ct_error *err, int tree)
{
	const ct_spec *s = c->spec;
	unsigned long nosuid = MS_NOSUID | MS_NODEV | MS_NOEXEC;

	/* Nothing we mount may propagate back to the host. */
	CHILD_CHECK(c, err, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL),
		    "cannot make the mount tree private");
	child_mount_root(c, err, tree);

	child_mount(c, err, "proc", "/proc", true, "proc", nosuid, NULL);
	if (s->ns & CT_NS_NET) {
		child_mount(c, err, "sysfs", "/sys", true, "sysfs", nosuid | MS_RDONLY, NULL);
		/* The container's own cgroup2 subtree (its cgroup namespace root), read-write:
		 * systemd as init creates its scopes and slices there. On a v2 host that is
		 * <name>/payload, below the cgroup that holds the limits, so they stay out of
		 * reach; on a hybrid host it is <name> in the controller-less unified
		 * hierarchy, the limits are on the v1 controllers, which are not mounted. */
		if (s->ns & CT_NS_CGROUP) {
			enum ct_cgroup_mode mode = cgroup_mode();

			if (mode == CT_CGROUP_V2 || access("/sys/fs/cgroup/unified", F_OK) == 0) {
				_cleanup_close_ int fd =
					sys_openat2(c->root_fd, "sys/fs/cgroup",
						    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
						    IN_ROOT);

				if (fd >= 0 && mount_fd("cgroup2", fd, "cgroup2", nosuid, NULL) < 0) {
					ct_errno(err, -errno, "cannot mount cgroup2 on /sys/fs/cgroup");
					child_fail(c, err);
				}
			}
		}
	} else {
		/* sysfs of the host's network namespace would show the host's devices */
		child_mount(c, err, "/sys", "/sys", true, NULL, MS_BIND | MS_REC | MS_RDONLY, NULL);
	}
	child_setup_dev(c, err);
	child_mount(c, err, "mqueue", "/dev/mqueue", true, "mqueue", nosuid, NULL);
	/* Before the extra mounts: a mount the operator asked for wins over a mask. By the
	 * root as our cwd: its host path may not be searchable from a user namespace. */
	CHILD_CHECK(c, err, fchdir(c->root_fd), "cannot enter the root %s", c->root);
	if (sec_mask_paths(&c->sec, "/proc/self/cwd", err) < 0)
		child_fail(c, err);

	/* Extra mounts, targets relative to the new root. */
	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct ct_mount *m = &s->mounts[i];
		_cleanup_close_ int fd = -EBADF;
		char src[64];
		const char *source = m->source;
		bool dir = true;

		if (m->flags & MS_BIND) {
			struct stat st;

			if (c->src_fd[i] >= 0) {
				ct_snprintf(src, sizeof(src), "/proc/self/fd/%d", c->src_fd[i]);
				source = src;
			}
			CHILD_CHECK(c, err, stat(source, &st), "bind mount source %s", m->source);
			dir = S_ISDIR(st.st_mode);
		}
		fd = target_open(c->root_fd, m->target, dir, err);
		if (fd < 0)
			child_fail(c, err);
		CHILD_CHECK(c, err, mount_fd(source, fd, m->fstype, m->flags & ~MS_RDONLY, m->data),
			    "cannot mount %s on %s", m->source ? m->source : m->fstype, m->target);
		if ((m->flags & MS_BIND) && (m->flags & MS_RDONLY)) {
			/* the fd names the covered inode: reach the new mount by the path */
			_cleanup_close_ int top = target_open(c->root_fd, m->target, dir, err);

			struct statvfs sv;
			unsigned long keep = 0;

			if (top < 0)
				child_fail(c, err);
			/* A remount must repeat the flags it may not clear: in a user namespace
			 * the source's nosuid/nodev/noexec are locked, and omitting them is
			 * EPERM. */
			CHILD_CHECK(c, err, fstatvfs(top, &sv), "cannot stat the mount on %s",
				    m->target);
			keep |= sv.f_flag & ST_NOSUID ? MS_NOSUID : 0;
			keep |= sv.f_flag & ST_NODEV ? MS_NODEV : 0;
			keep |= sv.f_flag & ST_NOEXEC ? MS_NOEXEC : 0;
			keep |= sv.f_flag & ST_NOATIME ? MS_NOATIME : 0;
			keep |= sv.f_flag & ST_NODIRATIME ? MS_NODIRATIME : 0;
			keep |= sv.f_flag & ST_RELATIME ? MS_RELATIME : 0;
			CHILD_CHECK(c, err,
				    mount_fd(NULL, top, NULL,
					     MS_BIND | MS_REMOUNT | MS_RDONLY | keep, NULL),
				    "cannot make %s read-only", m->target);
		}
	}

	/* pivot_root(".", "."): stack the old root under the new one, then detach it. */
	CHILD_CHECK(c, err, fchdir(c->root_fd), "cannot enter the root %s", c->root);
	CHILD_CHECK(c, err, sys_pivot_root(".", "."), "pivot_root into %s failed", c->root);
	CHILD_CHECK(c, err, umount2(".", MNT_DETACH), "cannot detach the old root");
	CHILD_CHECK(c, err, chdir("/"), "cannot chdir to /");
}

/* execvpe() searches the caller's PATH; we want the container's, resolved in its root. */
static int exec_in_path(const char *file, char *const argv[], char *const envp[])
{
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	char buf[PATH_MAX];
	int saved = ENOENT;

	if (strchr(file, '/'))
		return execve(file, argv, envp);
	for (size_t i = 0; envp && envp[i]; i++)
		if (strncmp(envp[i], "PATH=", 5) == 0)
			path = envp[i] + 5;
	while (*path) {
		const char *end = strchr(path, ':');
		size_t len = end ? (size_t)(end - path) : strlen(path);

		if (len && len + strlen(file) + 2 < sizeof(buf)) {
			memcpy(buf, path, len);
			buf[len] = '/';
			strcpy(buf + len + 1, file);
			execve(buf, argv, envp);
			if (errno != ENOENT && errno != ENOTDIR)
				saved = errno;
		}
		path += len;
		if (*path == ':')
			path++;
	}
	errno = saved;
	return -1;
}

int ct_exec_in_path(const char *file, char *const argv[], char *const envp[])
{
	return exec_in_path(file, argv, envp);
}

/* In a user namespace, while the child still has the caller's (host root's) ids: opens what
 * lies in host directories the container's root may not search, then becomes root of the
 * namespace. Files it creates from here on belong to the container's ids. */
static void child_become_root(struct child_ctx *c, ct_error *err, int tree)
{
	const ct_spec *s = c->spec;

	c->target_fd = open(c->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHILD_CHECK(c, err, c->target_fd, "cannot open %s", c->root);
	if (s->lower) {
		c->upper_fd = open(s->upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
		CHILD_CHECK(c, err, c->upper_fd, "overlay upper directory %s", s->upper);
		c->work_fd = open(s->work, O_PATH | O_DIRECTORY | O_CLOEXEC);
		CHILD_CHECK(c, err, c->work_fd, "overlay work directory %s", s->work);
		if (tree < 0) {
			c->lower_fd = open(c->lower, O_PATH | O_DIRECTORY | O_CLOEXEC);
			CHILD_CHECK(c, err, c->lower_fd, "overlay lower directory %s", c->lower);
		}
	}
	for (size_t i = 0; i < s->n_mounts; i++) {
		if (!(s->mounts[i].flags & MS_BIND) || !s->mounts[i].source)
			continue;
		c->src_fd[i] = open(s->mounts[i].source, O_PATH | O_CLOEXEC);
		CHILD_CHECK(c, err, c->src_fd[i], "bind mount source %s", s->mounts[i].source);
	}
	/* Drop the host's supplementary groups too: they would still open host files. */
	CHILD_CHECK(c, err, child_setresgid(0, 0, 0),
		    "cannot become gid 0 in the user namespace");
	CHILD_CHECK(c, err, child_setgroups(0, NULL), "cannot drop the supplementary groups");
	CHILD_CHECK(c, err, child_setresuid(0, 0, 0),
		    "cannot become uid 0 in the user namespace");
	/* a change of credentials resets both */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_DUMPABLE, 0);
}

static __attribute__((noreturn)) void child_main(struct child_ctx *c)
{
	const ct_spec *s = c->spec;
	ct_error err = { 0 };
	int nullfd, tree = -EBADF;
	char go;

	/* Die with the parent until init is running: a parent that crashes mid-start must not
	 * leave a half-built container behind. Not dumpable until execve: nothing in the
	 * container may ptrace us or open our /proc/<pid>/exe (the caller's binary). */
	reset_signals();
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_DUMPABLE, 0);
	/* "go", with the idmapped template mount when there is one */
	if (idmap_recv_fd(c->sync_fd, &go, &tree) != 1 || go != 'g')
		_exit(126);
	if (c->userns)
		child_become_root(c, &err, tree);

	/* Now in the container's cgroup: root the namespace here, before /sys/fs/cgroup is
	 * mounted (a cgroup2 mount shows the subtree of the mounter's namespace root). */
	if (s->ns & CT_NS_CGROUP)
		CHILD_CHECK(c, &err, unshare(CLONE_NEWCGROUP), "cannot create the cgroup namespace");
	child_setup_root(c, &err, tree);

	if (s->ns & CT_NS_UTS) {
		const char *h = s->hostname[0] ? s->hostname : s->name;
		CHILD_CHECK(c, &err, sethostname(h, strlen(h)), "cannot set the hostname");
		/* The operator's hostname wins over the template's /etc/hostname, which systemd
		 * would otherwise apply at boot. Only an existing regular file is rewritten,
		 * inside the container's root (after pivot_root no path can lead out of it). */
		if (s->hostname[0]) {
			int fd = open("/etc/hostname", O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC |
							       O_NOCTTY | O_NONBLOCK);
			if (fd >= 0) {
				struct stat st;
				if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
				    write(fd, s->hostname, strlen(s->hostname)) >= 0 &&
				    write(fd, "\n", 1) >= 0) {
				}
				close(fd);
			}
		}
	}
	CHILD_CHECK(c, &err, setsid(), "setsid failed");

	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	CHILD_CHECK(c, &err, nullfd, "cannot open /dev/null in the container");
	/* A terminal console is a login console too (a getty or a shell on /dev/console reads
	 * it); a log file is not, so input then comes from /dev/null. */
	CHILD_CHECK(c, &err,
		    dup2(c->console_fd >= 0 && isatty(c->console_fd) ? c->console_fd : nullfd, 0),
		    "cannot set up stdin");
	CHILD_CHECK(c, &err, dup2(c->console_fd >= 0 ? c->console_fd : nullfd, 1),
		    "cannot set up stdout");
	CHILD_CHECK(c, &err, dup2(c->console_fd >= 0 ? c->console_fd : nullfd, 2),
		    "cannot set up stderr");
	/* Nothing of the parent's may reach the container: every fd above 2 is closed at
	 * execve (the sync socket among them, which tells the parent we made it). */
	if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		for (int fd = 3; fd < 65536; fd++)
			if (fd != c->sync_fd)
				close(fd);
	}
	prctl(PR_SET_PDEATHSIG, 0);
	if (sec_apply(&c->sec, &err) < 0)
		child_fail(c, &err);
	exec_in_path(s->init[0], s->init, c->envp);
	ct_errno(&err, -errno, "cannot execute init '%s' in the container", s->init[0]);
	child_fail(c, &err);
}

/* ---- the parent ---- */

static const char *const default_env[] = {
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"TERM=linux",
	"HOME=/root",
	"container=ct",
};

static void fill_envp(char **envp, char *const *spec_env)
{
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(default_env); i++) {
		const char *eq = strchr(default_env[i], '=');
		bool overridden = false;

		for (size_t j = 0; spec_env[j]; j++)
			if (strncmp(spec_env[j], default_env[i], (size_t)(eq - default_env[i]) + 1) ==
			    0)
				overridden = true;
		if (!overridden)
			envp[n++] = (char *)default_env[i];
	}
	for (size_t j = 0; spec_env[j]; j++)
		envp[n++] = spec_env[j];
	envp[n] = NULL;
}

/* The overlay's root directory takes its owner and mode from the upper layer, and a fresh
 * upper directory is whatever its creator made it (often 0700), which would lock every
 * non-root user inside out of "/". Until the container has written anything, the upper root
 * follows the template's root (its owner shifted into the container's range in a user
 * namespace: idmapped or copied, the lower root shows that way too). */
static int inherit_root_attrs(const ct_spec *s, ct_error *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct stat lst, ust;
	struct dirent *de;
	uid_t uid;
	gid_t gid;

	if (stat(s->lower, &lst) < 0)
		return ct_errno(err, -errno, "template directory %s", s->lower);
	uid = lst.st_uid;
	gid = lst.st_gid;
	if (s->ns & CT_NS_USER) {
		uid = s->userns_uid + (uid < s->userns_count ? uid : 0);
		gid = s->userns_gid + (gid < s->userns_count ? gid : 0);
	}
	d = opendir(s->upper);
	if (!d)
		return ct_errno(err, -errno, "overlay upper directory %s", s->upper);
	if (fstat(dirfd(d), &ust) < 0)
		return ct_errno(err, -errno, "overlay upper directory %s", s->upper);
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		/* In use: "/" is the container's own now. Unless it belongs to nobody in the
		 * container's user namespace (made by host root, or for another range): its
		 * root could not even enter it. */
		if (!(s->ns & CT_NS_USER) ||
		    (ust.st_uid >= s->userns_uid && ust.st_uid - s->userns_uid < s->userns_count))
			return 0;
		if (fchown(dirfd(d), uid, gid) < 0)
			return ct_errno(err, -errno, "cannot set the owner of %s", s->upper);
		return 0;
	}
	if ((ust.st_uid != uid || ust.st_gid != gid) && fchown(dirfd(d), uid, gid) < 0)
		return ct_errno(err, -errno, "cannot set the owner of %s", s->upper);
	if ((ust.st_mode & 07777) != (lst.st_mode & 07777) &&
	    fchmod(dirfd(d), lst.st_mode & 07777) < 0)
		return ct_errno(err, -errno, "cannot set the mode of %s", s->upper);
	return 0;
}

/* User namespace: the overlay, mounted from inside, works in the work directory as the
 * container's root. Leftovers of an earlier mount (by another owner) are removed: overlayfs
 * would have to clean them up itself and may not be allowed to. */
static int prepare_work_dir(const ct_spec *s, ct_error *err)
{
	static const char *const leftovers[] = { "work", "index" };
	char p[PATH_MAX];
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(leftovers); i++) {
		ct_snprintf(p, sizeof(p), "%s/%s", s->work, leftovers[i]);
		r = rm_rf(p);
		if (r < 0 && r != -ENOENT)
			return ct_errno(err, r, "cannot clean the overlay work directory %s", p);
	}
	if (chown(s->work, s->userns_uid, s->userns_gid) < 0)
		return ct_errno(err, -errno, "cannot give %s to the container's root", s->work);
	return 0;
}

/* Set once idmapped overlay layers failed in this process: later starts go straight to the
 * shifted copy. */
static bool idmap_broken;

static int prepare_root(const ct_spec *s, struct child_ctx *c, bool force_copy, ct_error *err)
{
	int r;

	if (s->lower) {
		char *slash;
		size_t n;

		n = (size_t)ct_snprintf(c->root, sizeof(c->root), "%s", s->upper);
		while (n > 1 && c->root[n - 1] == '/')
			c->root[--n] = '\0';
		slash = strrchr(c->root, '/');
		if (!slash || slash == c->root)
			return ct_err(err, -EINVAL, "overlay upper %s has no parent directory",
				      s->upper);
		strcpy(slash, "/rootfs");
		if (mkdir(c->root, 0755) < 0 && errno != EEXIST)
			return ct_errno(err, -errno, "cannot create the mount point %s", c->root);
		ct_snprintf(c->lower, sizeof(c->lower), "%s", s->lower);
		ct_snprintf(c->overlay_opts, sizeof(c->overlay_opts),
			    "lowerdir=%s,upperdir=%s,workdir=%s", s->lower, s->upper, s->work);
		r = inherit_root_attrs(s, err);
		if (r < 0)
			return r;
		if (s->ns & CT_NS_USER) {
			r = prepare_work_dir(s, err);
			if (r < 0)
				return r;
			if (force_copy || idmap_broken || (s->userns_flags & CT_USERNS_SHIFTED_COPY)) {
				r = idmap_shifted_copy(s->lower, s->upper, s->userns_uid,
						       s->userns_gid, s->userns_count, c->lower,
						       sizeof(c->lower), err);
				if (r < 0)
					return r;
			}
		}
	} else {
		struct stat st;

		ct_snprintf(c->root, sizeof(c->root), "%s", s->rootfs);
		if (stat(c->root, &st) < 0)
			return ct_errno(err, -errno, "root directory %s", c->root);
		if (!S_ISDIR(st.st_mode))
			return ct_err(err, -ENOTDIR, "root %s is not a directory", c->root);
	}
	return 0;
}

/* For restore (checkpoint.c): the root as container_start would mount it, without a child. */
int container_root_prepare(const ct_spec *s, struct container_root *ret, ct_error *err)
{
	struct child_ctx *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return ct_err(err, -ENOMEM, "out of memory");
	r = prepare_root(s, c, false, err);
	if (r == 0) {
		memcpy(ret->root, c->root, sizeof(ret->root));
		memcpy(ret->lower, c->lower, sizeof(ret->lower));
		memcpy(ret->overlay_opts, c->overlay_opts, sizeof(ret->overlay_opts));
		ret->idmapped = (s->ns & CT_NS_USER) && s->lower && strcmp(c->lower, s->lower) == 0;
	}
	free(c);
	return r;
}

/* The container's cgroup with its limits, device allow-list and (user namespace) the part
 * delegated to its root: everything a start or a restore needs before a process joins it.
 * On failure nothing is left. */
int container_cgroup_setup(const ct_spec *s, cgroup_handle **ret, ct_error *err)
{
	cgroup_handle *cg = NULL;
	int r;

	r = cgroup_create(s->cgroup_parent, s->name, &s->limits, &cg, err);
	if (r < 0)
		return r;
	if (!(s->security & CT_SEC_NONE) && (r = dev_setup(cg, s->devices, s->n_devices, err)) < 0)
		goto fail;
	if (s->ns & CT_NS_USER) {
		r = cgroup_delegate(cg, s->userns_uid, s->userns_gid, err);
		if (r < 0)
			goto fail;
	}
	*ret = cg;
	return 0;
fail:
	cgroup_destroy(cg, NULL);
	cgroup_handle_free(cg);
	return r;
}

/* What a running container's handle takes from its spec (start and restore alike). */
void container_init_from_spec(ct_container *ct, const ct_spec *s)
{
	ct->stop_signal = s->stop_signal;
	ct_container_set_security(ct, s, NULL); /* cannot fail: the spec was validated */
	ct->has_net = s->has_net;
	ct->net = s->net;
	ct->userns = s->ns & CT_NS_USER;
}

ct_container *container_new(const char *name)
{
	ct_container *ct = calloc(1, sizeof(*ct));

	if (!ct)
		return NULL;
	strcpy(ct->name, name);
	ct->pidfd = -EBADF;
	ct->lazy_pidfd = -EBADF;
	ct->stop_signal = SIGTERM;
	return ct;
}

CT_EXPORT void ct_container_free(ct_container *ct)
{
	if (!ct)
		return;
	if (ct->pidfd >= 0)
		close(ct->pidfd);
	if (ct->lazy_pid > 0) {
		/* a post-copy still running: it cannot finish without this handle's caller */
		kill(ct->lazy_pid, SIGKILL);
		ct_container_lazy_wait(ct, -1, NULL);
	}
	cgroup_handle_free(ct->cg);
	free(ct);
}

/* -EXDEV: the idmapped template did not work out; the caller retries with the shifted copy. */
static int container_start(const ct_spec *s, bool force_copy, ct_container **ret, ct_error *err)
{
	struct child_ctx c = { .spec = s, .sync_fd = -EBADF, .console_fd = s->console_fd };
	_cleanup_close_ int parent_fd = -EBADF, child_fd = -EBADF, pidfd = -EBADF, tree = -EBADF;
	bool userns = s->ns & CT_NS_USER, idmapped = false, idmap_failed = false;
	cgroup_handle *cg = NULL;
	ct_error child_err = { 0 };
	ct_container *ct = NULL;
	uint64_t flags = ns_clone_flags(s->ns);
	int cgfd = -EBADF, r, status;
	ssize_t n;
	pid_t pid;
	int sv[2];

	c.root_fd = c.upper_fd = c.work_fd = c.lower_fd = c.target_fd = -EBADF;
	for (size_t i = 0; i < ARRAY_SIZE(c.src_fd); i++)
		c.src_fd[i] = -EBADF;
	c.userns = userns;
	r = ct_spec_validate(s, err);
	if (r < 0)
		return r;
	r = prepare_root(s, &c, force_copy, err);
	if (r < 0)
		return r;
	/* idmapped unless prepare_root made the shifted copy */
	idmapped = userns && s->lower && strcmp(c.lower, s->lower) == 0;
	fill_envp(c.envp, s->env);
	if (s->console_fd >= 0 && isatty(s->console_fd) &&
	    ttyname_r(s->console_fd, c.console_path, sizeof(c.console_path)) != 0)
		c.console_path[0] = '\0';
	/* The console terminal is the container's: its root must be able to open it. */
	if (userns && s->console_fd >= 0 && isatty(s->console_fd) &&
	    fchown(s->console_fd, s->userns_uid, s->userns_gid) < 0) {
	}
	if (userns)
		flags |= CLONE_NEWUSER; /* all other namespaces then belong to it */

	r = sec_prepare(s->security, s->seccomp, s->n_seccomp, &c.sec, err);
	if (r < 0)
		return r;
	r = container_cgroup_setup(s, &cg, err);
	if (r < 0) {
		sec_release(&c.sec);
		return r;
	}

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		r = ct_errno(err, -errno, "socketpair");
		goto fail_cgroup;
	}
	parent_fd = sv[0];
	child_fd = sv[1];
	c.sync_fd = child_fd;

	cgfd = cgroup_dirfd(cg);
	pid = ct_clone3(flags, cgfd >= 0 ? cgfd : -1, &pidfd);
	if (pid < 0 && cgfd >= 0 && (errno == EINVAL || errno == ENOSYS)) {
		cgfd = -EBADF; /* no CLONE_INTO_CGROUP after all: attach below */
		pid = ct_clone3(flags, -1, &pidfd);
	}
	if (pid < 0) {
		r = ct_errno(err, -errno, "cannot create the container's namespaces (clone3)");
		goto fail_cgroup;
	}
	if (pid == 0) {
		close(parent_fd);
		child_main(&c);
	}
	close(TAKE_FD(child_fd));
	sec_release(&c.sec);

	if (cgfd < 0) {
		r = cgroup_attach(cg, pid, err);
		if (r < 0)
			goto fail_child;
	}
	if (userns) {
		r = idmap_write_maps(pid, s->userns_uid, s->userns_gid, s->userns_count, err);
		if (r < 0)
			goto fail_child;
	}
	if (idmapped) {
		char path[64];
		_cleanup_close_ int nsfd = -EBADF;

		ct_snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
		nsfd = open(path, O_RDONLY | O_CLOEXEC);
		if (nsfd < 0) {
			r = ct_errno(err, -errno, "cannot open %s", path);
			goto fail_child;
		}
		tree = idmap_open_tree(s->lower, nsfd, err);
		if (tree < 0) {
			r = tree;
			idmap_failed = true;
			goto fail_child;
		}
	}
	if (s->has_net) {
		r = net_start(s->name, &s->net, pid, false, err);
		if (r < 0)
			goto fail_child;
	}
	r = idmap_send_fd(parent_fd, 'g', tree);
	if (r < 0) {
		ct_errno(err, r, "cannot signal the container's init");
		goto fail_child;
	}
	closep(&tree);
	n = read(parent_fd, &child_err, sizeof(child_err));
	if (n == 1 && *(char *)&child_err == 'I') {
		idmap_failed = true;
		n = read(parent_fd, &child_err, sizeof(child_err));
	}
	if (n == (ssize_t)sizeof(child_err)) {
		child_err.msg[sizeof(child_err.msg) - 1] = '\0';
		if (err)
			*err = child_err;
		r = child_err.code < 0 ? child_err.code : -EIO;
		goto fail_child;
	}
	if (n != 0) {
		/* The child died without a report (killed, or crashed). */
		r = ct_err(err, -EIO, "container init exited before it started");
		goto fail_child;
	}

	ct = container_new(s->name);
	if (!ct) {
		r = ct_err(err, -ENOMEM, "out of memory");
		goto fail_child;
	}
	ct->pid = pid;
	ct->pidfd = TAKE_FD(pidfd);
	ct->is_child = true;
	container_init_from_spec(ct, s);
	ct->cg = cg;
	if (userns && s->lower)
		strcpy(ct->idmap_method, idmapped ? "idmapped" : "shifted-copy");
	*ret = ct;
	return 0;

fail_child:
	sys_pidfd_send_signal(pidfd, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	cgroup_kill_all(cg, 2000, NULL);
	if (s->has_net)
		ct_net_cleanup(s->name, &s->net, NULL);
fail_cgroup:
	sec_release(&c.sec);
	cgroup_destroy(cg, NULL);
	cgroup_handle_free(cg);
	return idmap_failed ? -EXDEV : r;
}

CT_EXPORT int ct_container_start(const ct_spec *s, ct_container **ret, ct_error *err)
{
	int r = container_start(s, false, ret, err);

	if (r == -EXDEV) {
		/* Idmapped overlay layers do not work here (kernel or filesystem): the shifted
		 * copy, from now on. */
		idmap_broken = true;
		r = container_start(s, true, ret, err);
	}
	return r;
}

CT_EXPORT int ct_container_open(const char *name, const char *cgroup_parent, pid_t pid,
				ct_container **ret, ct_error *err)
{
	cgroup_handle *cg = NULL;
	ct_container *ct;
	int r, pidfd;

	r = ct_name_validate(name, err);
	if (r < 0)
		return r;
	if (pid <= 1)
		return ct_err(err, -EINVAL, "invalid init pid %d", (int)pid);
	r = cgroup_open(cgroup_parent ? cgroup_parent : "ct", name, &cg, err);
	if (r < 0)
		return r;
	/* Take the pidfd first, then check membership: if the pid was reused after we opened
	 * the pidfd, the pidfd refers to the dead process and the check below fails. */
	pidfd = sys_pidfd_open(pid);
	if (pidfd < 0) {
		r = ct_errno(err, -errno, "container '%s': init %d is gone", name, (int)pid);
		cgroup_handle_free(cg);
		return r;
	}
	if (!cgroup_contains(cg, pid)) {
		close(pidfd);
		cgroup_handle_free(cg);
		return ct_err(err, -ESRCH,
			      "container '%s': pid %d is not in the container's cgroup", name,
			      (int)pid);
	}
	ct = container_new(name);
	if (!ct) {
		close(pidfd);
		cgroup_handle_free(cg);
		return ct_err(err, -ENOMEM, "out of memory");
	}
	ct->pid = pid;
	ct->pidfd = pidfd;
	ct->cg = cg;
	{
		/* Its own user namespace? Then exec must join that one too. */
		struct stat a, b;
		char path[64];

		ct_snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
		if (stat(path, &a) == 0 && stat("/proc/self/ns/user", &b) == 0)
			ct->userns = a.st_ino != b.st_ino || a.st_dev != b.st_dev;
	}
	{
		/* We may still be its parent (a library user that reopens its own child). */
		char buf[512], path[64];
		ct_snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		if (read_file(path, buf, sizeof(buf)) > 0) {
			char *rp = strrchr(buf, ')');
			int ppid = 0;
			if (rp && sscanf(rp + 2, "%*c %d", &ppid) == 1)
				ct->is_child = ppid == getpid();
		}
	}
	*ret = ct;
	return 0;
}

CT_EXPORT const char *ct_container_idmap_method(const ct_container *ct)
{
	return ct->idmap_method;
}

CT_EXPORT const char *ct_container_name(const ct_container *ct)
{
	return ct->name;
}

CT_EXPORT pid_t ct_container_pid(const ct_container *ct)
{
	return ct->pid;
}

CT_EXPORT int ct_container_pidfd(const ct_container *ct)
{
	return ct->pidfd;
}

CT_EXPORT int ct_container_stop_signal(const ct_container *ct)
{
	return ct->stop_signal;
}

CT_EXPORT int ct_container_kill(ct_container *ct, int sig, ct_error *err)
{
	if (ct->reaped)
		return ct_err(err, -ESRCH, "container '%s' is not running", ct->name);
	if (sys_pidfd_send_signal(ct->pidfd, sig) < 0)
		return ct_errno(err, -errno, "cannot signal init of '%s'", ct->name);
	return 0;
}

CT_EXPORT int ct_container_kill_all(ct_container *ct, ct_error *err)
{
	return cgroup_kill_all(ct->cg, 5000, err);
}

CT_EXPORT int ct_container_reap(ct_container *ct, int *ret_status)
{
	siginfo_t si = { 0 };
	struct pollfd pfd = { .fd = ct->pidfd, .events = POLLIN };

	if (ct->reaped)
		return 1;
	if (ct->is_child &&
	    waitid((idtype_t)P_PIDFD, (id_t)ct->pidfd, &si, WEXITED | WNOHANG | WNOWAIT) < 0 &&
	    errno == ECHILD)
		ct->is_child = false; /* a forked copy of the handle (a helper process) */
	if (!ct->is_child) {
		/* Not ours to wait for: a readable pidfd means it has exited. */
		if (poll(&pfd, 1, 0) == 1) {
			ct->reaped = true;
			if (ret_status)
				*ret_status = -1;
			return 1;
		}
		return 0;
	}
	if (waitid((idtype_t)P_PIDFD, (id_t)ct->pidfd, &si, WEXITED | WNOHANG) < 0)
		return -errno;
	if (si.si_pid == 0)
		return 0;
	ct->reaped = true;
	if (ret_status)
		*ret_status = si.si_code == CLD_EXITED ? W_EXITCODE(si.si_status, 0)
						       : si.si_status & 0x7f;
	return 1;
}

CT_EXPORT int ct_container_stop(ct_container *ct, int timeout_ms, ct_error *err)
{
	uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	int r;

	if (ct_container_reap(ct, NULL) == 0) {
		if (timeout_ms > 0 && ct_container_kill(ct, ct->stop_signal, NULL) == 0) {
			while (ct_container_reap(ct, NULL) == 0) {
				struct pollfd pfd = { .fd = ct->pidfd, .events = POLLIN };
				uint64_t now = now_ms();

				if (now >= deadline)
					break;
				poll(&pfd, 1, (int)(deadline - now));
			}
		}
	}
	/* Whatever is left (init ignoring the signal, daemons that escaped init's tree). */
	r = cgroup_kill_all(ct->cg, 5000, err);
	if (r < 0)
		return r;
	while (ct_container_reap(ct, NULL) == 0) {
		struct pollfd pfd = { .fd = ct->pidfd, .events = POLLIN };
		if (poll(&pfd, 1, 5000) == 0)
			return ct_err(err, -ETIMEDOUT, "init of '%s' did not exit", ct->name);
	}
	return 0;
}

CT_EXPORT int ct_container_cleanup(ct_container *ct, ct_error *err)
{
	int r = 0, q;

	/* Both, whatever the first one says; the first error is the one reported. */
	if (ct->has_net)
		r = ct_net_cleanup(ct->name, &ct->net, err);
	q = cgroup_destroy(ct->cg, r < 0 ? NULL : err);
	return r < 0 ? r : q;
}

CT_EXPORT int ct_container_purge(const char *name, const char *cgroup_parent, ct_error *err)
{
	cgroup_handle *cg = NULL;
	int r;

	r = ct_name_validate(name, err);
	if (r < 0)
		return r;
	r = cgroup_open(cgroup_parent ? cgroup_parent : "ct", name, &cg, err);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = cgroup_kill_all(cg, 5000, err);
	if (r >= 0)
		r = cgroup_destroy(cg, err);
	cgroup_handle_free(cg);
	return r;
}

CT_EXPORT int ct_container_set_limits(ct_container *ct, const ct_limits *lim, unsigned flags,
				      int shrink_timeout_ms, ct_error *err)
{
	int r = ct_limits_validate(lim, err);

	if (r < 0)
		return r;
	return cgroup_set_limits(ct->cg, lim, flags, shrink_timeout_ms, err);
}

CT_EXPORT int ct_container_get_limits(ct_container *ct, ct_limits *ret, ct_error *err)
{
	return cgroup_get_limits(ct->cg, ret, err);
}

CT_EXPORT int ct_container_stats(ct_container *ct, ct_stats *ret, ct_error *err)
{
	return cgroup_stats(ct->cg, ret, err);
}
