/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OOM notification for one container, as one pollable fd, so that a daemon learns of OOM
 * kills from the kernel instead of polling every container's counters.
 *
 * v1: an eventfd registered for memory.oom_control through cgroup.event_control; the kernel
 *     signals it when the memory cgroup hits OOM (and when the cgroup is removed).
 * v2: an inotify watch (IN_MODIFY) on memory.events; the kernel "modifies" the file whenever
 *     one of its counters (low, high, max, oom, oom_kill) changes.
 * Either way the fd only says "look again": the count itself comes from ct_container_stats. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "cgroup.h"
#include "container.h"
#include "util.h"

#define CG_V2_ROOT "/sys/fs/cgroup"

/* v1: the mount point of the hierarchy that has the memory controller. */
static int memory_mount(char *buf, size_t len)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - "), *save = NULL, *tok, *mp, *fstype, *opts;
		int field = 0;

		if (!sep)
			continue;
		*sep = '\0';
		/* id parent maj:min root mountpoint ... */
		mp = NULL;
		for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
			if (++field == 5) {
				mp = tok;
				break;
			}
		save = NULL;
		fstype = strtok_r(sep + 3, " ", &save);
		if (!mp || !fstype || strcmp(fstype, "cgroup") != 0)
			continue;
		if (!strtok_r(NULL, " ", &save)) /* source */
			continue;
		opts = strtok_r(NULL, " \n", &save);
		if (!opts)
			continue;
		save = NULL;
		for (tok = strtok_r(opts, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			if (strcmp(tok, "memory") == 0) {
				/* Mount points with spaces are octal-escaped; ours never are. */
				if (strlen(mp) >= len)
					return -ENAMETOOLONG;
				strcpy(buf, mp);
				return 0;
			}
	}
	return -ENOENT;
}

static int oom_fd_v1(cgroup_handle *cg, ct_error *err)
{
	char mnt[PATH_MAX], dir[PATH_MAX + 256], ctl[64];
	_cleanup_close_ int dfd = -EBADF, efd = -EBADF, ofd = -EBADF, cfd = -EBADF;
	int r, n;

	r = memory_mount(mnt, sizeof(mnt));
	if (r < 0)
		return ct_errno(err, r, "cannot find the memory cgroup hierarchy");
	if (snprintf(dir, sizeof(dir), "%s%s", mnt, cgroup_path(cg)) >= (int)sizeof(dir))
		return ct_err(err, -ENAMETOOLONG, "cgroup path too long");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return ct_errno(err, -errno, "cannot open %s", dir);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0)
		return ct_errno(err, -errno, "eventfd");
	ofd = openat(dfd, "memory.oom_control", O_RDONLY | O_CLOEXEC);
	if (ofd < 0)
		return ct_errno(err, -errno, "cannot open memory.oom_control of %s", dir);
	cfd = openat(dfd, "cgroup.event_control", O_WRONLY | O_CLOEXEC);
	if (cfd < 0)
		return ct_errno(err, -errno, "cannot open cgroup.event_control of %s", dir);
	n = snprintf(ctl, sizeof(ctl), "%d %d", efd, ofd);
	if (write(cfd, ctl, (size_t)n) != n)
		return ct_errno(err, -errno, "cannot register for OOM events of %s", dir);
	/* The kernel holds its own references: ofd and cfd may go. */
	return TAKE_FD(efd);
}

static int oom_fd_v2(cgroup_handle *cg, ct_error *err)
{
	char path[PATH_MAX];
	_cleanup_close_ int fd = -EBADF;

	if (snprintf(path, sizeof(path), "%s%s/memory.events", CG_V2_ROOT, cgroup_path(cg)) >=
	    (int)sizeof(path))
		return ct_err(err, -ENAMETOOLONG, "cgroup path too long");
	fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (fd < 0)
		return ct_errno(err, -errno, "inotify");
	if (inotify_add_watch(fd, path, IN_MODIFY | IN_DONT_FOLLOW) < 0)
		return ct_errno(err, -errno, "cannot watch %s", path);
	return TAKE_FD(fd);
}

CT_EXPORT int ct_container_oom_fd(ct_container *ct, ct_error *err)
{
	if (!ct || !ct->cg)
		return ct_err(err, -EINVAL, "no container");
	switch (cgroup_mode()) {
	case CT_CGROUP_V1:
		return oom_fd_v1(ct->cg, err);
	case CT_CGROUP_V2:
		return oom_fd_v2(ct->cg, err);
	default:
		return ct_err(err, -EOPNOTSUPP, "no cgroups on this host");
	}
}
