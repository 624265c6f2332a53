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
 */
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <poll.h>

#include "container.h"
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

static __attribute__((noreturn)) void exec_child(ct_container *ct, const ct_exec_opts *o,
						 int sync_fd)
{
	ct_error err = { 0 };
	int fds[3], nullfd = -1;
	char go;

	reset_signals();
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (read(sync_fd, &go, 1) != 1)
		_exit(126);

	/* Keep the caller's stdio fds above 2 before we dup them into place. */
	for (int i = 0; i < 3; i++) {
		fds[i] = o->stdio[i];
		if (fds[i] >= 0 && fds[i] < 3) {
			fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
			if (fds[i] < 0) {
				ct_errno(&err, -errno, "cannot duplicate stdio");
				goto fail;
			}
		}
	}
	if (setns(ct->pidfd, CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET |
				     CLONE_NEWCGROUP) < 0) {
		/* A container started without some namespace: join them one by one. */
		static const int kinds[] = { CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWNET,
					     CLONE_NEWCGROUP, CLONE_NEWNS };
		for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
			if (setns(ct->pidfd, kinds[i]) < 0 && errno != EINVAL) {
				ct_errno(&err, -errno, "cannot join the namespaces of '%s'",
					 ct->name);
				goto fail;
			}
		}
	}
	if (chdir(o->cwd ? o->cwd : "/") < 0) {
		ct_errno(&err, -errno, "cannot change to directory '%s' in the container",
			 o->cwd ? o->cwd : "/");
		goto fail;
	}
	if (o->new_session && setsid() < 0) {
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
	if (o->new_session && isatty(0))
		ioctl(0, TIOCSCTTY, 0);
	if (o->gid && (setgroups(0, NULL) < 0 || setgid(o->gid) < 0)) {
		ct_errno(&err, -errno, "cannot set gid %u", (unsigned)o->gid);
		goto fail;
	}
	if (o->uid && setuid(o->uid) < 0) {
		ct_errno(&err, -errno, "cannot set uid %u", (unsigned)o->uid);
		goto fail;
	}
	if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		for (int fd = 3; fd < 65536; fd++)
			if (fd != sync_fd)
				close(fd);
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

CT_EXPORT int ct_container_exec(ct_container *ct, const ct_exec_opts *o, pid_t *ret_pid,
				int *ret_pidfd, ct_error *err)
{
	_cleanup_close_ int own_pidns = -EBADF, parent_fd = -EBADF, child_fd = -EBADF;
	_cleanup_close_ int pidfd = -EBADF;
	ct_error child_err = { 0 };
	int cgfd, r, sv[2];
	ssize_t n;
	pid_t pid;

	if (!o || !o->argv || !o->argv[0] || !o->argv[0][0])
		return ct_err(err, -EINVAL, "no command to execute");
	if (ct->reaped || ct_container_reap(ct, NULL) == 1)
		return ct_err(err, -ESRCH, "container '%s' is not running", ct->name);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return ct_errno(err, -errno, "socketpair");
	parent_fd = sv[0];
	child_fd = sv[1];

	own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (own_pidns < 0)
		return ct_errno(err, -errno, "cannot open our own PID namespace");
	if (setns(ct->pidfd, CLONE_NEWPID) < 0)
		return ct_errno(err, -errno, "cannot enter the PID namespace of '%s'", ct->name);

	cgfd = cgroup_dirfd(ct->cg);
	pid = ct_clone3(0, cgfd >= 0 ? cgfd : -1, &pidfd);
	if (pid < 0 && cgfd >= 0 && (errno == EINVAL || errno == ENOSYS)) {
		cgfd = -EBADF;
		pid = ct_clone3(0, -1, &pidfd);
	}
	if (pid == 0) {
		close(parent_fd);
		exec_child(ct, o, child_fd);
	}
	r = -errno;
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
	n = read(parent_fd, &child_err, sizeof(child_err));
	if (n == (ssize_t)sizeof(child_err)) {
		child_err.msg[sizeof(child_err.msg) - 1] = '\0';
		if (err)
			*err = child_err;
		r = child_err.code < 0 ? child_err.code : -EIO;
		goto fail;
	}
	if (n != 0) {
		r = ct_err(err, -EIO, "the exec'd process died before it started");
		goto fail;
	}
	if (ret_pid)
		*ret_pid = pid;
	if (ret_pidfd)
		*ret_pidfd = TAKE_FD(pidfd);
	return 0;

fail:
	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return r;
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
