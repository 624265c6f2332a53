/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal: the spec and container structures shared by spec.c, container.c and exec.c. */
#ifndef CT_CONTAINER_H
#define CT_CONTAINER_H

#include <limits.h>
#include <stdbool.h>

#include "cgroup.h"
#include "ct.h"

#define CT_MAX_ARGS 256
#define CT_MAX_ENV 256
#define CT_MAX_MOUNTS 64

struct ct_mount {
	char *source, *target, *fstype, *data;
	unsigned long flags;
};

struct ct_spec {
	char name[CT_NAME_MAX + 1];
	char hostname[CT_HOSTNAME_MAX + 1];
	char *rootfs;			/* plain root, or NULL */
	char *lower, *upper, *work;	/* overlay root, or NULL */
	char *init[CT_MAX_ARGS + 1];	/* NULL-terminated */
	char *env[CT_MAX_ENV + 1];	/* NULL-terminated */
	struct ct_mount mounts[CT_MAX_MOUNTS];
	size_t n_mounts;
	unsigned ns;
	ct_limits limits;
	char cgroup_parent[PATH_MAX];
	int stop_signal;
	int console_fd;
	unsigned security;		/* CT_SEC_* */
};

struct ct_container {
	char name[CT_NAME_MAX + 1];
	pid_t pid;
	int pidfd;
	bool is_child;		/* init is our child: we may wait for it */
	bool reaped;
	int stop_signal;
	unsigned security;	/* CT_SEC_* of exec'd processes (the default when opened) */
	cgroup_handle *cg;
};

/* clone3() that behaves like fork() (0 in the child), with CLONE_PIDFD, and with
 * CLONE_INTO_CGROUP when cgroup_fd >= 0. */
pid_t ct_clone3(uint64_t flags, int cgroup_fd, int *ret_pidfd);
/* execve() with a PATH search in envp's PATH (the container's, not ours). */
int ct_exec_in_path(const char *file, char *const argv[], char *const envp[]);

#endif
