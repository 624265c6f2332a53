/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Running a process inside a running container.
 *
 * The process must end up a child of the caller (so that the caller can collect its exit
 * status) and inside the container's PID namespace. setns(CLONE_NEWPID) only affects the
 * children of the caller, so the caller itself enters the PID namespace "for children" for
 * the instant of the clone and steps back out afterwards; the child then joins the other
 * namespaces through init's pidfd, and its cgroup (clone3 CLONE_INTO_CGROUP on cgroup v2,
 * else attached by the parent before the child proceeds).
 *
 * With a pseudo-terminal (ct_container_exec_pty) the child allocates it itself, after joining
 * the mount namespace, from the container's own devpts instance: a terminal of the host's
 * devpts would not exist in there (`tty` would say "not a tty"). It hands the master to the
 * parent over the sync socket, one SEQPACKET message 'M' with SCM_RIGHTS, before it execs.
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <poll.h>

#include "container.h"
#include "security.h"
#include "util.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif


static const char *const exec_default_env[] = {
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"TERM=xterm",
	"HOME=/root",
	NULL,
};

/* In the child, inside the container's mount namespace: a new terminal from the container's
 * devpts, whose master goes to the parent. Makes the child a session leader with the peer as
 * its controlling terminal and returns the peer (an fd above 2), or -errno. */
static int exec_child_pty(const ct_exec_opts *o, int sync_fd, ct_error *err)
{
	int master, peer, unlock = 0, flags;
	unsigned int ptn;
	struct stat st;
	char byte = 'M';
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;

	/* The container owns /dev/ptmx (normally a symlink to pts/ptmx). O_NONBLOCK so that a
	 * FIFO planted there cannot block us, and with us the parent that waits for us; then
	 * make sure that what we got is a terminal master. */
	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (master < 0)
		return ct_errno(err, -errno, "cannot open /dev/ptmx in the container");
	if (fstat(master, &st) < 0 || !S_ISCHR(st.st_mode) || ioctl(master, TIOCGPTN, &ptn) < 0) {
		close(master);
		return ct_err(err, -ENOTTY, "/dev/ptmx in the container is not a terminal master");
	}
	flags = fcntl(master, F_GETFL);
	if (flags < 0 || fcntl(master, F_SETFL, flags & ~O_NONBLOCK) < 0 ||
	    ioctl(master, TIOCSPTLCK, &unlock) < 0) {
		int r = -errno;

		close(master);
		return ct_errno(err, r, "cannot unlock the new terminal");
	}
	/* By the master, not by a path in /dev/pts that the container could have replaced. */
	peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (peer >= 0 && peer < 3) {
		int moved = fcntl(peer, F_DUPFD_CLOEXEC, 3);

		close(peer);
		peer = moved;
	}
	if (peer < 0) {
		int r = -errno;

		close(master);
		return ct_errno(err, r, "cannot open the new terminal (TIOCGPTPEER)");
	}
	if (o->pty_rows && o->pty_cols) {
		struct winsize ws = { .ws_row = o->pty_rows, .ws_col = o->pty_cols };

		ioctl(master, TIOCSWINSZ, &ws);
	}
	if (o->uid)
		(void)!fchown(peer, o->uid, (gid_t)-1); /* as login does; devpts keeps the group */
	if (setsid() < 0 || ioctl(peer, TIOCSCTTY, 0) < 0) {
		int r = -errno;

		close(master);
		close(peer);
		return ct_errno(err, r, "cannot make the new terminal the controlling one");
	}
	memset(&u, 0, sizeof(u));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &master, sizeof(int));
	if (sendmsg(sync_fd, &msg, MSG_NOSIGNAL) != 1) {
		int r = -errno;

		close(master);
		close(peer);
		return ct_errno(err, r, "cannot pass the terminal to the caller");
	}
	/* Only the caller holds the master now: when it closes it, we are hung up. */
	close(master);
	return peer;
}

static __attribute__((noreturn)) void exec_child(ct_container *ct, const ct_exec_opts *o,
						 bool pty, const struct sec_profile *sec,
						 int sync_fd)
{
	ct_error err = { 0 };
	int fds[3] = { -1, -1, -1 }, nullfd = -1, peer = -1;
	char go;

	reset_signals();
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Until execve: nothing in the container may ptrace us or open our /proc/<pid>/exe
	 * (the caller's binary) or our fds. */
	prctl(PR_SET_DUMPABLE, 0);
	if (read(sync_fd, &go, 1) != 1)
		_exit(126);

	/* Keep the caller's stdio fds above 2 before we dup them into place. */
	for (int i = 0; i < 3 && !pty; i++) {
		fds[i] = o->stdio[i];
		if (fds[i] >= 0 && fds[i] < 3) {
			fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
			if (fds[i] < 0) {
				ct_errno(&err, -errno, "cannot duplicate stdio");
				goto fail;
			}
		}
	}
	/* The user namespace first (setns by pidfd does that when given several): the others
	 * belong to it, and we need its capabilities to join them. */
	if (setns(ct->pidfd, (ct->userns ? CLONE_NEWUSER : 0) | CLONE_NEWNS | CLONE_NEWUTS |
				     CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP) < 0) {
		/* A container started without some namespace: join them one by one. */
		static const int kinds[] = { CLONE_NEWUSER, CLONE_NEWUTS, CLONE_NEWIPC,
					     CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWNS };
		for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
			if (kinds[i] == CLONE_NEWUSER && !ct->userns)
				continue;
			if (setns(ct->pidfd, kinds[i]) < 0 && errno != EINVAL) {
				ct_errno(&err, -errno, "cannot join the namespaces of '%s'",
					 ct->name);
				goto fail;
			}
		}
	}
	if (ct->userns) {
		/* Still the caller's ids, which mean nothing in there: become the namespace's
		 * root (the host ids of the container's root), without the host's groups. */
		if (child_setresgid(0, 0, 0) < 0 || child_setgroups(0, NULL) < 0 ||
		    child_setresuid(0, 0, 0) < 0) {
			ct_errno(&err, -errno, "cannot become root of the user namespace of '%s'",
				 ct->name);
			goto fail;
		}
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* a change of credentials resets both */
		prctl(PR_SET_DUMPABLE, 0);
	}
	{
		/* The working directory, resolved inside the container's root: no symlink or
		 * /proc magic link (a leaked fd of ours, CVE-2024-21626) may lead out of it. */
		const char *cwd = o->cwd ? o->cwd : "/";
		struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
					.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
		int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), dir = -1;

		if (root >= 0)
			dir = (int)syscall(SYS_openat2, root, cwd, &how, sizeof(how));
		if (dir < 0 || fchdir(dir) < 0) {
			ct_errno(&err, -errno, "cannot change to directory '%s' in the container",
				 cwd);
			goto fail;
		}
		close(dir);
		close(root);
	}
	if (pty) {
		peer = exec_child_pty(o, sync_fd, &err);
		if (peer < 0)
			goto fail;
		fds[0] = fds[1] = fds[2] = peer;
	} else if (o->new_session && setsid() < 0) {
		ct_errno(&err, -errno, "setsid failed");
		goto fail;
	}
	for (int i = 0; i < 3; i++) {
		int src = fds[i];

		if (src < 0) {
			if (nullfd < 0)
				nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
			src = nullfd;
		}
		if (src < 0 || dup2(src, i) < 0) {
			ct_errno(&err, -errno, "cannot set up stdio");
			goto fail;
		}
	}
	if (!pty && o->new_session && isatty(0))
		ioctl(0, TIOCSCTTY, 0);
	/* While still root: loading the filter without no_new_privs needs CAP_SYS_ADMIN. */
	if (sec_apply(sec, &err) < 0)
		goto fail;
	if (child_setgroups(0, NULL) < 0 || (o->gid && child_setresgid(o->gid, o->gid, o->gid) < 0)) {
		ct_errno(&err, -errno, "cannot set gid %u", (unsigned)o->gid);
		goto fail;
	}
	if (o->uid && child_setresuid(o->uid, o->uid, o->uid) < 0) {
		ct_errno(&err, -errno, "cannot set uid %u", (unsigned)o->uid);
		goto fail;
	}
	if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		for (int fd = 3; fd < 65536; fd++)
			if (fd != sync_fd)
				close(fd);
	}
	{
		/* Last check before the container's program runs: our cwd is inside its root
		 * (getcwd fails with ENOENT for one outside it, "(unreachable)"). */
		char buf[PATH_MAX];

		if (!getcwd(buf, sizeof(buf)) || buf[0] != '/') {
			ct_err(&err, -EPERM, "the working directory is outside the container");
			goto fail;
		}
	}
	prctl(PR_SET_PDEATHSIG, 0);
	ct_exec_in_path(o->argv[0], (char *const *)o->argv,
			(char *const *)(o->env ? o->env : exec_default_env));
	ct_errno(&err, errno == ENOENT ? -ENOENT : -errno, "cannot execute '%s' in '%s'",
		 o->argv[0], ct->name);
fail:
	if (write(sync_fd, &err, sizeof(err)) < 0) {
	}
	_exit(127);
}

/* Parent side of the sync socket after the go: the child sends the pty master (if it has
 * one), then either its error or nothing (the socket closes on exec). Returns 0 when the child
 * exec'd, with the master in *ret_master if pty; -errno with err filled otherwise. */
static int exec_wait_child(int parent_fd, bool pty, int *ret_master, ct_error *err)
{
	_cleanup_close_ int master = -EBADF;
	ct_error child_err;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;

	for (;;) {
		struct iovec iov = { .iov_base = &child_err, .iov_len = sizeof(child_err) };
		struct msghdr msg = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = u.buf,
			.msg_controllen = sizeof(u.buf),
		};
		int fd = -EBADF;
		ssize_t n;

		n = recvmsg(parent_fd, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); n >= 0 && cm;
		     cm = CMSG_NXTHDR(&msg, cm)) {
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
			    cm->cmsg_len == CMSG_LEN(sizeof(int)) && fd < 0)
				memcpy(&fd, CMSG_DATA(cm), sizeof(int));
		}
		if (n == (ssize_t)sizeof(child_err)) {
			if (fd >= 0)
				close(fd);
			child_err.msg[sizeof(child_err.msg) - 1] = '\0';
			if (err)
				*err = child_err;
			return child_err.code < 0 ? child_err.code : -EIO;
		}
		if (n == 1 && pty && fd >= 0 && master < 0 && *(char *)&child_err == 'M' &&
		    !(msg.msg_flags & MSG_CTRUNC)) {
			master = fd;
			continue;
		}
		if (fd >= 0)
			close(fd);
		if (n != 0)
			return ct_err(err, -EIO, "the exec'd process died before it started");
		break;
	}
	if (pty && master < 0)
		return ct_err(err, -EIO, "the exec'd process did not pass its terminal");
	if (pty)
		*ret_master = TAKE_FD(master);
	return 0;
}

static int exec_start(ct_container *ct, const ct_exec_opts *o, bool pty, pid_t *ret_pid,
		      int *ret_pidfd, int *ret_pty_master, ct_error *err)
{
	_cleanup_close_ int own_pidns = -EBADF, parent_fd = -EBADF, child_fd = -EBADF;
	_cleanup_close_ int pidfd = -EBADF, master = -EBADF;
	struct sec_profile sec;
	int cgfd, r, sv[2];
	pid_t pid;

	if (!o || !o->argv || !o->argv[0] || !o->argv[0][0])
		return ct_err(err, -EINVAL, "no command to execute");
	if (pty && !ret_pty_master)
		return ct_err(err, -EINVAL, "a terminal needs somewhere to return its master");
	if (ct->reaped || ct_container_reap(ct, NULL) == 1)
		return ct_err(err, -ESRCH, "container '%s' is not running", ct->name);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return ct_errno(err, -errno, "socketpair");
	parent_fd = sv[0];
	child_fd = sv[1];

	own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (own_pidns < 0)
		return ct_errno(err, -errno, "cannot open our own PID namespace");
	/* Built here: the child must not allocate. */
	r = sec_prepare(ct->security, ct->seccomp, ct->n_seccomp, &sec, err);
	if (r < 0)
		return r;
	if (setns(ct->pidfd, CLONE_NEWPID) < 0) {
		sec_release(&sec);
		return ct_errno(err, -errno, "cannot enter the PID namespace of '%s'", ct->name);
	}

	cgfd = cgroup_dirfd(ct->cg);
	pid = ct_clone3(0, cgfd >= 0 ? cgfd : -1, &pidfd);
	if (pid < 0 && cgfd >= 0 && errno == EBUSY) {
		/* systemd inside enabled controllers in payload since cgroup_dirfd() looked:
		 * payload is no leaf any more. Go to the exec leaf. */
		cgfd = cgroup_exec_leaf_fd(ct->cg);
		pid = ct_clone3(0, cgfd >= 0 ? cgfd : -1, &pidfd);
	}
	if (pid < 0 && cgfd >= 0 && (errno == EINVAL || errno == ENOSYS)) {
		cgfd = -EBADF;
		pid = ct_clone3(0, -1, &pidfd);
	}
	if (pid == 0) {
		close(parent_fd);
		exec_child(ct, o, pty, &sec, child_fd);
	}
	r = -errno;
	sec_release(&sec);
	/* Step back out at once, whatever happened: later children must be born at home. */
	if (setns(own_pidns, CLONE_NEWPID) < 0) {
		/* Cannot happen for our own namespace; if it did, every later fork would land in
		 * the container. Refuse to go on in that state. */
		abort();
	}
	if (pid < 0)
		return ct_errno(err, r, "cannot create a process in '%s'", ct->name);
	close(TAKE_FD(child_fd));

	if (cgfd < 0) {
		r = cgroup_attach(ct->cg, pid, err);
		if (r < 0)
			goto fail;
	}
	if (write(parent_fd, "g", 1) != 1) {
		r = ct_errno(err, -errno, "cannot release the exec'd process");
		goto fail;
	}
	r = exec_wait_child(parent_fd, pty, &master, err);
	if (r < 0)
		goto fail;
	if (ret_pid)
		*ret_pid = pid;
	if (ret_pidfd)
		*ret_pidfd = TAKE_FD(pidfd);
	if (pty)
		*ret_pty_master = TAKE_FD(master);
	return 0;

fail:
	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return r;
}

CT_EXPORT int ct_container_exec(ct_container *ct, const ct_exec_opts *o, pid_t *ret_pid,
				int *ret_pidfd, ct_error *err)
{
	return exec_start(ct, o, false, ret_pid, ret_pidfd, NULL, err);
}

CT_EXPORT int ct_container_exec_pty(ct_container *ct, const ct_exec_opts *o, pid_t *ret_pid,
				    int *ret_pidfd, int *ret_pty_master, ct_error *err)
{
	return exec_start(ct, o, true, ret_pid, ret_pidfd, ret_pty_master, err);
}

CT_EXPORT int ct_container_exec_wait(ct_container *ct, const ct_exec_opts *o, ct_error *err)
{
	siginfo_t si = { 0 };
	int pidfd = -EBADF, r;
	pid_t pid;

	r = ct_container_exec(ct, o, &pid, &pidfd, err);
	if (r < 0)
		return r;
	while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0) {
		if (errno != EINTR) {
			r = ct_errno(err, -errno, "waitid");
			close(pidfd);
			return r;
		}
	}
	close(pidfd);
	if (si.si_code == CLD_EXITED)
		return si.si_status;
	return 128 + si.si_status;
}
